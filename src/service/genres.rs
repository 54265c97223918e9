//! The community's vote on the next season's genre (open only between
//! seasons; the writer refuses it while a season runs), and the tallies
//! admins see when they create the next season.

use crate::domain::genre::{Genre, UnknownGenre};
use crate::domain::ids::VoterKey;
use crate::service::{ServiceError, Services};

/// The genre vote as one voter sees it.
#[derive(Debug, Clone)]
pub struct Ballot {
    /// Whether voting is open (no season is running).
    pub open: bool,
    /// The configured genres.
    pub genres: Vec<String>,
    /// Votes per genre that has any, in the store's order.
    pub tallies: Vec<(String, u64)>,
    /// This voter's genre, if they voted.
    pub mine: Option<String>,
}

impl Ballot {
    /// Votes cast over all genres.
    pub fn total(&self) -> u64 {
        self.tallies.iter().map(|(_, votes)| votes).sum()
    }

    /// Votes for `genre`.
    pub fn votes_for(&self, genre: &str) -> u64 {
        self.tallies.iter().find(|(name, _)| name == genre).map(|(_, votes)| *votes).unwrap_or(0)
    }
}

/// `genre`'s share of `total` votes in whole percent, rounded half up.
pub fn whole_percent(votes: u64, total: u64) -> u64 {
    (votes * 100 + total / 2).checked_div(total).unwrap_or(0)
}

/// Parses a genre name against the configured list.
pub fn parse(services: &Services, raw: &str) -> Result<Genre, ServiceError> {
    Genre::parse(raw, &services.config.genres).map_err(|error: UnknownGenre| ServiceError::invalid(error.to_string()))
}

/// The ballot for `voter`.
pub async fn ballot(services: &Services, voter: &VoterKey) -> Result<Ballot, ServiceError> {
    let voter = voter.clone();
    let (tallies, mine) = services.read(move |store| store.genre_tallies(voter.as_str())).await?;
    let open = services.read_model.read(|model| model.season.is_none());
    Ok(Ballot { open, genres: services.config.genres.clone(), tallies, mine })
}

/// The tallies alone (what admins see).
pub async fn tallies(services: &Services) -> Result<Vec<(String, u64)>, ServiceError> {
    Ok(services.read(|store| store.genre_tallies("")).await?.0)
}

/// Casts or changes `voter`'s genre vote.
pub async fn vote(services: &Services, voter: &VoterKey, genre: Genre) -> Result<(), ServiceError> {
    Ok(services.writer.vote_genre(voter.as_str().to_owned(), genre.into_string()).await?)
}
