//! The integration suite: one binary, the real server, real HTTP.

mod accounts;
mod admin_console;
mod browser;
mod caching;
mod comments;
mod compression;
mod creators;
mod creators_extra;
mod edges;
mod engine;
mod genres;
mod hardening;
mod helpers;
mod leaderboard;
mod live;
mod media;
mod media_base_url;
mod media_rules;
mod media_s3;
#[path = "../common/moto.rs"]
mod moto;
mod nginx;
mod openapi;
mod ops;
mod pages;
mod profiles;
mod slot_rules;
mod tally;
mod tournament;
mod votes;
mod watch;
