//! The integration suite: one binary, the real server, real HTTP.

mod accounts;
mod browser;
mod engine;
mod helpers;
mod media;
mod pages;
mod votes;
