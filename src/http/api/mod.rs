//! The JSON API under `/api/`: handlers that parse the request, call a
//! service and shape the JSON. Every error leaves as a `ServiceError`,
//! answered by `http::error`.

mod admin;
mod auth;
mod captcha;
pub mod clips;
pub mod comments;
pub mod dto;
pub mod health;
pub mod leaderboard;
pub mod openapi;
pub mod profile;
mod story;
mod tournament;
pub mod vote;

use axum::Router;
use axum::routing::{get, post, put};

use crate::http::state::AppState;
use crate::service::ServiceError;

/// Routes under `/api/`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(health::health))
        .route("/api/vote", get(vote::get_feed).post(vote::cast_vote).delete(vote::revoke_vote))
        .route("/api/story", get(story::get_story))
        .route("/api/seasons/active", get(story::get_story))
        .route("/api/clips/{id}", get(story::get_clip))
        .route("/api/features", get(story::get_features))
        .route("/api/leaderboard/{board}", get(leaderboard::get_leaderboard))
        .route("/api/auth/register", post(auth::register))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/me", get(auth::me))
        .route("/api/account/export", get(auth::export))
        .route("/api/account/delete", post(auth::delete_account))
        .route("/api/captcha/challenge", get(captcha::challenge))
        .route("/api/captcha/verify", post(captcha::verify))
        .route("/api/admin/users", get(admin::list_users))
        .route("/api/admin/users/{id}/{action}", post(admin::user_action))
        .route("/api/admin/flagged-votes", get(admin::flagged_votes))
        .route("/api/admin/flagged-votes/void", post(admin::void_votes))
        .route("/api/admin/feature-flags", get(admin::list_flags))
        .route("/api/admin/feature-flags/{key}", put(admin::set_flag))
        .route("/api/admin/audit-logs", get(admin::audit_logs))
        .route("/api/admin/clips", get(tournament::list_clips))
        .route("/api/admin/clips/bulk", post(tournament::bulk_clips))
        .route("/api/admin/clips/{id}/approve", post(tournament::approve_clip))
        .route("/api/admin/clips/{id}/reject", post(tournament::reject_clip))
        .route("/api/admin/seasons", get(tournament::list_seasons).post(tournament::create_season))
        .route("/api/admin/seasons/{id}", axum::routing::delete(tournament::delete_season))
        .route("/api/admin/seasons/{id}/{action}", post(tournament::season_action))
        .route("/api/admin/slots/advance", post(tournament::advance_now))
        .route("/api/admin/slots/{position}/assign-winner", post(tournament::assign_winner))
        .route("/api/admin/slots/{position}/{action}", post(tournament::slot_action))
        .route("/api/genre-vote", get(tournament::genre_votes).post(tournament::vote_genre))
        .route("/api/profile/clips", get(clips::my_clips))
        .route("/api/search", get(clips::search_clips))
        .route("/api/live", get(clips::live))
        .route("/api/comments", get(comments::list_comments).post(comments::post_comment))
        .route("/api/comments/{id}", axum::routing::delete(comments::delete_comment))
        .route("/api/comments/{id}/like", post(comments::like_comment).delete(comments::unlike_comment))
        .route("/api/reports", post(comments::file_report))
        .route("/api/admin/reports", get(comments::list_reports))
        .route("/api/openapi.json", get(openapi::openapi_json))
        .route("/api/me/profile", get(profile::my_profile))
        .route("/api/profile/stats", get(profile::my_profile))
        .route("/api/profile/history", get(profile::my_history))
        .route("/api/users/{name}", get(profile::public_profile))
        .route("/api/users/{name}/follow", post(profile::follow).delete(profile::unfollow))
        .route("/api/users/{name}/{list}", get(profile::follow_list))
        .route("/api/notifications", get(profile::list_notifications))
        .route("/api/notifications/read", post(profile::mark_read))
        .route("/api/notifications/unread-count", get(profile::unread_count))
        .route("/api/{*rest}", axum::routing::any(unknown_route))
}

async fn unknown_route() -> ServiceError {
    ServiceError::not_found("no such API route")
}
