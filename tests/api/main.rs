//! The integration suite: one binary, the real server, real HTTP.

mod accounts;
mod admin_console;
mod browser;
mod comments;
mod creators;
mod creators_extra;
mod engine;
mod helpers;
mod live;
mod media;
mod pages;
mod tournament;
mod votes;
mod watch;
