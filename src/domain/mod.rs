//! Pure rules of the tournament: no HTTP, no storage types. Rules take facts
//! and return decisions, so they are tested here without a server.

pub mod account;
pub mod advance;
pub mod clock;
pub mod feed;
pub mod flags;
pub mod fraud;
pub mod ids;
pub mod leaderboard;
pub mod ledger;
pub mod model;
pub mod profile;
pub mod tally;
pub mod tournament;
pub mod vote;
