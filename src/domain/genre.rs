//! Genres: a season's genre and the community's vote on the next one. The
//! configured list is the only source of valid genres; text becomes a
//! [`Genre`] once, at the edge.

use std::fmt;

/// The genres of a fresh install: the common film genres. The config's
/// `genres` key replaces the whole list; every place that offers or checks a
/// genre (upload form and API, season creation, the genre vote) reads that
/// one configured list.
pub const DEFAULT_GENRES: &[&str] = &[
    "action",
    "adventure",
    "animation",
    "comedy",
    "documentary",
    "drama",
    "fantasy",
    "horror",
    "musical",
    "mystery",
    "romance",
    "sci-fi",
    "thriller",
    "western",
];

/// [`DEFAULT_GENRES`], owned.
pub fn default_genres() -> Vec<String> {
    DEFAULT_GENRES.iter().map(|genre| (*genre).to_owned()).collect()
}

/// One of the configured genres, lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Genre(String);

/// Text that names no configured genre.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the genre must be one of: {}", allowed.join(", "))]
pub struct UnknownGenre {
    /// The configured genres.
    pub allowed: Vec<String>,
}

impl Genre {
    /// `raw`, trimmed and lowercased, if it is one of `allowed`.
    pub fn parse(raw: &str, allowed: &[String]) -> Result<Genre, UnknownGenre> {
        let genre = raw.trim().to_ascii_lowercase();
        if allowed.contains(&genre) { Ok(Genre(genre)) } else { Err(UnknownGenre { allowed: allowed.to_vec() }) }
    }

    /// The genre's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Genre {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The winner of a genre round: the genre with the most votes; a tie goes
/// to the name first in alphabetical order, so the stored tallies alone
/// decide it. `None` when nobody voted.
pub fn round_winner(tallies: &[(String, u64)]) -> Option<&str> {
    tallies
        .iter()
        .filter(|(_, votes)| *votes > 0)
        .min_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)))
        .map(|(genre, _)| genre.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_list_has_the_common_film_genres_once_each() {
        for common in ["action", "comedy", "drama", "horror", "sci-fi", "thriller", "romance", "animation"] {
            assert!(DEFAULT_GENRES.contains(&common), "{common}");
        }
        let mut sorted = DEFAULT_GENRES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, DEFAULT_GENRES, "sorted, no duplicates");
        assert!(DEFAULT_GENRES.iter().all(|genre| *genre == genre.to_ascii_lowercase()));
    }

    #[test]
    fn a_round_is_won_by_most_votes_then_by_name() {
        let tallies = |pairs: &[(&str, u64)]| pairs.iter().map(|(g, n)| ((*g).to_owned(), *n)).collect::<Vec<_>>();
        assert_eq!(round_winner(&tallies(&[("comedy", 2), ("drama", 5), ("horror", 1)])), Some("drama"));
        assert_eq!(round_winner(&tallies(&[("western", 3), ("action", 3)])), Some("action"));
        assert_eq!(round_winner(&tallies(&[("drama", 0)])), None);
        assert_eq!(round_winner(&[]), None);
    }

    #[test]
    fn only_configured_genres_parse() {
        let allowed = vec!["drama".to_owned(), "sci-fi".to_owned()];
        assert_eq!(Genre::parse(" Sci-Fi ", &allowed).map(|g| g.into_string()), Ok("sci-fi".to_owned()));
        let refused = Genre::parse("polka", &allowed).expect_err("unknown");
        assert_eq!(refused.to_string(), "the genre must be one of: drama, sci-fi");
    }
}
