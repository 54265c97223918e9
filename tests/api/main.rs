//! The integration suite: one binary, the real server, real HTTP.

mod browser;
mod helpers;
mod media;
mod pages;
mod votes;
