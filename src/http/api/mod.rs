//! The JSON API under `/api/`: handlers that parse the request, call a
//! service and shape the JSON. Every error leaves as a `ServiceError`,
//! answered by `http::error`.

pub mod admin;
pub mod auth;
pub mod captcha;
pub mod clips;
pub mod comments;
pub mod dto;
pub mod health;
pub mod leaderboard;
pub mod openapi;
pub mod profile;
pub mod story;
pub mod tally;
pub mod tournament;
pub mod vote;

use crate::service::ServiceError;

/// Any `/api/` path no route matches: a JSON 404 (never the HTML page).
pub async fn unknown_route() -> ServiceError {
    ServiceError::not_found("no such API route")
}
