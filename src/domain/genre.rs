//! Genres: a season's genre and the community's vote on the next one. The
//! configured list is the only source of valid genres; text becomes a
//! [`Genre`] once, at the edge.

use std::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_genres_parse() {
        let allowed = vec!["drama".to_owned(), "sci-fi".to_owned()];
        assert_eq!(Genre::parse(" Sci-Fi ", &allowed).map(|g| g.into_string()), Ok("sci-fi".to_owned()));
        let refused = Genre::parse("polka", &allowed).expect_err("unknown");
        assert_eq!(refused.to_string(), "the genre must be one of: drama, sci-fi");
    }
}
