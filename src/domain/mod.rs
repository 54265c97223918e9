//! Pure rules of the tournament, and the plain types they and the rest of the
//! server share (ids, the clock, entities such as comments, histograms): no
//! HTTP, no storage types. Rules take facts and return decisions, so they are
//! tested here without a server.

pub mod account;
pub mod advance;
pub mod clock;
pub mod comment;
pub mod feed;
pub mod flags;
pub mod fraud;
pub mod genre;
pub mod histogram;
pub mod ids;
pub mod leaderboard;
pub mod ledger;
pub mod model;
pub mod moderation;
pub mod profile;
pub mod tally;
pub mod text;
pub mod tournament;
pub mod vote;
