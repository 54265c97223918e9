//! The community's vote on the next season's genre, in rounds: votes go to
//! the open round, only between seasons (the writer refuses them while a
//! season runs); each season's finish closes the round and opens the next,
//! empty. The open round's winner is the genre offered by default when an
//! admin creates the next season; closed rounds stay visible to admins.

use crate::domain::genre::{self, Genre, UnknownGenre};
use crate::domain::ids::VoterKey;
use crate::service::{ServiceError, Services};
use crate::store::ClosedGenreRound;

/// Most closed rounds the admin console and API list (newest first).
pub const CLOSED_ROUNDS_SHOWN: usize = 10;

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

/// The open round's tallies alone (what admins see).
pub async fn tallies(services: &Services) -> Result<Vec<(String, u64)>, ServiceError> {
    Ok(services.read(|store| store.genre_tallies("")).await?.0)
}

/// The genre a new season gets when the admin names none: the open round's
/// winner among the configured genres (a genre dropped from the config
/// since does not count). `None` when nobody voted for a configured genre.
pub fn next_season_default(services: &Services, open_round: &[(String, u64)]) -> Option<Genre> {
    let configured: Vec<(String, u64)> =
        open_round.iter().filter(|(name, _)| services.config.genres.contains(name)).cloned().collect();
    genre::round_winner(&configured).and_then(|winner| Genre::parse(winner, &services.config.genres).ok())
}

/// The newest closed rounds with their tallies, at most [`CLOSED_ROUNDS_SHOWN`].
pub async fn closed_rounds(services: &Services) -> Result<Vec<ClosedGenreRound>, ServiceError> {
    services.read(|store| store.closed_genre_rounds(CLOSED_ROUNDS_SHOWN)).await
}

/// Casts or changes `voter`'s genre vote.
pub async fn vote(services: &Services, voter: &VoterKey, genre: Genre) -> Result<(), ServiceError> {
    Ok(services.writer.vote_genre(voter.as_str().to_owned(), genre.into_string()).await?)
}
