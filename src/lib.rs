//! aimoviez: a self-hosted, single-binary appliance for a community that
//! makes a film together, one 8-second clip at a time. See ARCHITECTURE.md
//! for the code map and its invariants.

pub mod adminsock;
pub mod app;
pub mod auth;
pub mod backup_s3;
pub mod backup_schedule;
pub mod captcha;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod http;
pub mod indexer;
pub mod leaderboard;
pub mod live;
pub mod media;
pub mod metrics;
pub mod objstore;
pub mod password;
pub mod ratelimit;
pub mod readmodel;
pub mod scheduler;
pub mod search;
pub mod service;
pub mod sessions;
pub mod store;
pub mod telemetry;
pub mod unread;
pub mod views;
pub mod watchdog;
