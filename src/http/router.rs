//! Every route, grouped by audience, with the middleware each group gets
//! named beside it.
//!
//! A route's rate-limit class is part of its definition: each group below
//! is wrapped by [`router`]'s `group` with the [`Limit`] its requests count
//! against, so no table of path prefixes decides it. Within one audience,
//! the routes of a path can sit in different groups by method (`GET /login`
//! reads, `POST /login` signs in); axum merges them into one route.
//!
//! The stack, from the outside in:
//!
//! - every request: request id (set, then echoed), security headers,
//!   request metrics (`/metrics` counts media too), and under `/api/` the
//!   JSON error shape for answers no handler made (405, the timeout's 503,
//!   path rejections);
//! - all but media: the request log;
//! - pages, the API, the admin area and `/metrics`: gzip or brotli by
//!   `Accept-Encoding` for bodies over 1 KiB ([`compression`]; not SSE,
//!   images, or what is already encoded, such as the precompressed static
//!   assets), the request timeout and the JSON/form body limit; uploads
//!   instead get a video-sized body limit and body read deadlines, with no
//!   overall timeout;
//! - per group, one `guard` layer: rate limit (its class) → cross-site
//!   refusal → session renewal (uploads: no renewal);
//! - the shared reads (story, films, leaderboards, clips, profiles, genres
//!   and their JSON), innermost: the shared-cache headers and 304s of
//!   `public_cache`.
//!
//! Media is only ever GET/HEAD with no body, is the bulk of the traffic and
//! is covered by a reverse proxy's access log: it gets none of the
//! per-request machinery, and is never compressed (video is compressed
//! already, and a compressed body breaks byte ranges).
//!
//! Each group gets its whole stack in one `Router::layer` (see [`router`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{any, delete, get, post, put};
use tower::ServiceBuilder;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::timeout::{RequestBodyDeadlineLayer, RequestBodyTimeoutLayer, TimeoutLayer};

use crate::http::api::{admin as admin_api, auth, captcha, clips, comments, health, leaderboard, openapi};
use crate::http::api::{profile, story, tally, tournament, unknown_route, vote};
use crate::http::middleware::guard::{self, GroupGuard};
use crate::http::middleware::rate_limit::{Limit, RateLimitLayerState};
use crate::http::middleware::{api_errors, headers, metrics, public_cache, request_id, trace};
use crate::http::pages::admin::{self as console, audit, dashboard, feature_flags, flagged, reports, seasons, users};
use crate::http::pages::{account_pages, arena, assets, clip_page, creator_pages, film_pages};
use crate::http::pages::{leaderboard_page, not_found_fallback, profile_pages, story_page};
use crate::http::state::AppState;
use crate::http::{media, metrics as metrics_route};
use crate::ratelimit::RouteClass::{Admin, Api, Auth, Comment, Read, Upload, Vote};

/// Every route with its middleware, ready to serve.
pub fn router(state: AppState) -> Router {
    let config = &state.services.config;
    let timeout = Duration::from_secs(config.request_timeout_secs);
    // Outermost first, each stack built once and cloned into the groups (so
    // they share one request-id sequence), and applied to a group in one
    // `Router::layer`: every `Router::layer` is one more boxed service per
    // route, cloned with everything it wraps and polled on every request, so
    // layering the router at several depths cost a request boxed clones
    // that grew with the square of the depth (issue #16).
    let every_request = ServiceBuilder::new()
        .layer(request_id::request_ids())
        .layer(headers::security_headers(&config.media.base_url))
        .layer(from_fn::<_, (Request,)>(api_errors::json_errors))
        .layer(from_fn_with_state::<_, _, (State<AppState>, Request)>(state.clone(), metrics::track));
    let logged = every_request.clone().layer(trace::request_log());
    let text_answers = logged
        .clone()
        .layer(compression())
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout))
        .layer(DefaultBodyLimit::max(config.json_body_limit_bytes));
    let upload_stack = logged
        .layer(from_fn_with_state(group_guard(&state, Some(Limit::Class(Upload)), false), guard::guard))
        .layer(RequestBodyDeadlineLayer::new(Duration::from_secs(600)))
        .layer(RequestBodyTimeoutLayer::new(Duration::from_secs(30)))
        .layer(DefaultBodyLimit::max(upload_body_limit(&state)));
    let group = |routes: Router<AppState>, limit: Option<Limit>, caching: Caching| {
        let guard = from_fn_with_state(group_guard(&state, limit, true), guard::guard);
        match caching {
            Caching::Private => routes.layer(text_answers.clone().layer(guard)),
            Caching::Shared => routes.layer(
                text_answers.clone().layer(guard).layer(from_fn_with_state(state.clone(), public_cache::anonymous)),
            ),
        }
    };
    Router::new()
        .merge(public_pages(&group))
        .merge(api(&group))
        .merge(admin(&group))
        .merge(group(metrics_endpoint(), None, Caching::Private))
        .merge(uploads().layer(upload_stack))
        .merge(media_files().layer(every_request))
        .with_state(state)
}

/// Whether a group's anonymous answers may be shared by caches.
#[derive(Clone, Copy)]
enum Caching {
    /// Per visitor (the default).
    Private,
    /// The same for every anonymous visitor (`public_cache`).
    Shared,
}

/// Wraps a group of routes in its whole stack: the rate limit it counts
/// against, and whether caches may share its anonymous answers.
trait Group: Fn(Router<AppState>, Option<Limit>, Caching) -> Router<AppState> {}

impl<F: Fn(Router<AppState>, Option<Limit>, Caching) -> Router<AppState>> Group for F {}

/// The HTML pages anyone may open, and their form posts.
fn public_pages(group: &impl Group) -> Router<AppState> {
    let reads = Router::new()
        .route("/", get(arena::arena))
        .route("/login", get(account_pages::login_page))
        .route("/signup", get(account_pages::signup_page))
        .route("/settings", get(account_pages::settings_page))
        .route("/upload", get(creator_pages::upload_page))
        .route("/profile", get(creator_pages::profile_page))
        .route("/search", get(creator_pages::search_page))
        .route("/notifications", get(profile_pages::notifications_page))
        .route("/notifications/{id}", get(profile_pages::open_notification));
    // What every anonymous visitor sees alike (`public_cache`). Not the
    // arena: it is the visitor's own feed.
    let shared_reads = Router::new()
        .route("/story", get(story_page::story))
        .route("/leaderboard", get(leaderboard_page::leaderboard_page))
        .route("/watch", get(film_pages::watch_page))
        .route("/watch/{season}", get(film_pages::film_page))
        .route("/genres", get(film_pages::genres_page))
        .route("/clip/{id}", get(clip_page::clip_page))
        .route("/u/{name}", get(profile_pages::user_page));
    let votes = Router::new().route("/vote", post(arena::vote_form)).route("/vote/undo", post(arena::undo_form));
    let sign_in = Router::new()
        .route("/login", post(account_pages::login_form))
        .route("/signup", post(account_pages::signup_form))
        .route("/settings/password", post(account_pages::password_form));
    let comment_forms = Router::new()
        .route("/clip/{id}/comments", post(clip_page::comment_form))
        .route("/clip/{id}/like", post(clip_page::like_form))
        .route("/clip/{id}/delete", post(clip_page::delete_form));
    let other_forms = Router::new()
        .route("/logout", post(account_pages::logout_form))
        .route("/settings/delete", post(account_pages::delete_form))
        .route("/genres", post(film_pages::genre_form))
        .route("/clip/{id}/report", post(clip_page::report_form))
        .route("/u/{name}/follow", post(profile_pages::follow_form))
        .route("/notifications/read", post(profile_pages::mark_read_form));
    let static_files = Router::new()
        .route("/static/{name}", get(assets::serve_asset))
        .route("/favicon.ico", get(assets::favicon))
        .route("/robots.txt", get(assets::robots));
    Router::new()
        .merge(group(reads, Some(Limit::Class(Read)), Caching::Private))
        .merge(group(shared_reads, Some(Limit::Class(Read)), Caching::Shared))
        .merge(group(votes, Some(Limit::Class(Vote)), Caching::Private))
        .merge(group(sign_in, Some(Limit::Class(Auth)), Caching::Private))
        .merge(group(comment_forms, Some(Limit::Class(Comment)), Caching::Private))
        .merge(group(other_forms, Some(Limit::Class(Api)), Caching::Private))
        .merge(group(static_files, None, Caching::Private))
        .merge(group(not_found_fallback(), Some(Limit::ReadOrApi), Caching::Private))
}

/// The JSON API under `/api/` (its admin routes are in [`admin`]).
fn api(group: &impl Group) -> Router<AppState> {
    let reads = Router::new()
        .route("/api/vote", get(vote::get_feed))
        .route("/api/features", get(story::get_features))
        .route("/api/tally/{season}/{position}", get(tally::get_tally))
        .route("/api/tally/{season}/{position}/proof/{voteId}", get(tally::get_proof))
        .route("/api/me", get(auth::me))
        .route("/api/account/export", get(auth::export))
        .route("/api/captcha/challenge", get(captcha::challenge))
        .route("/api/genre-vote", get(tournament::genre_votes))
        .route("/api/profile/clips", get(clips::my_clips))
        .route("/api/search", get(clips::search_clips))
        .route("/api/live", get(clips::live))
        .route("/api/openapi.json", get(openapi::openapi_json))
        .route("/api/me/profile", get(profile::my_profile))
        .route("/api/profile/stats", get(profile::my_profile))
        .route("/api/profile/history", get(profile::my_history))
        .route("/api/users/{name}", get(profile::public_profile))
        .route("/api/users/{name}/{list}", get(profile::follow_list))
        .route("/api/notifications", get(profile::list_notifications))
        .route("/api/notifications/unread-count", get(profile::unread_count));
    // What every anonymous client gets alike (`public_cache`). Not the feed
    // (`GET /api/vote`): it is per voter.
    let shared_reads = Router::new()
        .route("/api/story", get(story::get_story))
        .route("/api/seasons/active", get(story::get_story))
        .route("/api/clips/{id}", get(story::get_clip))
        .route("/api/leaderboard/{board}", get(leaderboard::get_leaderboard))
        .route("/api/comments", get(comments::list_comments));
    let votes = Router::new().route("/api/vote", post(vote::cast_vote).delete(vote::revoke_vote));
    let accounts = Router::new()
        .route("/api/auth/register", post(auth::register))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/account/password", post(auth::change_password))
        .route("/api/auth/{*rest}", any(unknown_route));
    let comment_writes = Router::new()
        .route("/api/comments", post(comments::post_comment))
        .route("/api/comments/{id}", delete(comments::delete_comment))
        .route("/api/comments/{id}/like", post(comments::like_comment).delete(comments::unlike_comment));
    let writes = Router::new()
        .route("/api/account/delete", post(auth::delete_account))
        .route("/api/captcha/verify", post(captcha::verify))
        .route("/api/vote/view", post(vote::record_view))
        .route("/api/genre-vote", post(tournament::vote_genre))
        .route("/api/reports", post(comments::file_report))
        .route("/api/users/{name}/follow", post(profile::follow).delete(profile::unfollow))
        .route("/api/notifications/read", post(profile::mark_read));
    let health = Router::new().route("/api/health", get(health::health));
    // `/api` and `/api/` fall to the page fallback; `api_errors` makes its 404 JSON.
    let unknown = Router::new().route("/api/{*rest}", any(unknown_route));
    Router::new()
        .merge(group(reads, Some(Limit::Class(Read)), Caching::Private))
        .merge(group(shared_reads, Some(Limit::Class(Read)), Caching::Shared))
        .merge(group(votes, Some(Limit::Class(Vote)), Caching::Private))
        .merge(group(accounts, Some(Limit::Class(Auth)), Caching::Private))
        .merge(group(comment_writes, Some(Limit::Class(Comment)), Caching::Private))
        .merge(group(writes, Some(Limit::Class(Api)), Caching::Private))
        .merge(group(health, None, Caching::Private))
        .merge(group(unknown, Some(Limit::ReadOrApi), Caching::Private))
}

/// The admin API and the admin console: one class for both.
fn admin(group: &impl Group) -> Router<AppState> {
    let routes = Router::new()
        .route("/api/admin/users", get(admin_api::list_users))
        .route("/api/admin/users/{id}/{action}", post(admin_api::user_action))
        .route("/api/admin/flagged-votes", get(admin_api::flagged_votes))
        .route("/api/admin/flagged-votes/void", post(admin_api::void_votes))
        .route("/api/admin/feature-flags", get(admin_api::list_flags))
        .route("/api/admin/feature-flags/{key}", put(admin_api::set_flag))
        .route("/api/admin/audit-logs", get(admin_api::audit_logs))
        .route("/api/admin/reports", get(comments::list_reports))
        .route("/api/admin/reports/{id}/resolve", post(comments::resolve_report))
        .route("/api/admin/clips", get(tournament::list_clips))
        .route("/api/admin/clips/bulk", post(tournament::bulk_clips))
        .route("/api/admin/clips/{id}/approve", post(tournament::approve_clip))
        .route("/api/admin/clips/{id}/reject", post(tournament::reject_clip))
        .route("/api/admin/seasons", get(tournament::list_seasons).post(tournament::create_season))
        .route("/api/admin/seasons/{id}", delete(tournament::delete_season))
        .route("/api/admin/seasons/{id}/{action}", post(tournament::season_action))
        .route("/api/admin/slots/advance", post(tournament::advance_now))
        .route("/api/admin/slots/{position}/assign-winner", post(tournament::assign_winner))
        .route("/api/admin/slots/{position}/{action}", post(tournament::slot_action))
        .route("/api/admin/{*rest}", any(unknown_route))
        .route("/admin", get(dashboard::dashboard))
        .route("/admin/clips", get(console::clips::clips_page))
        .route("/admin/clips/bulk", post(console::clips::bulk_clips))
        .route("/admin/clips/{id}/{action}", post(console::clips::clip_action))
        .route("/admin/seasons", get(seasons::seasons_page).post(seasons::create_season))
        .route("/admin/seasons/{id}/{action}", post(seasons::season_action))
        .route("/admin/slots/advance", post(seasons::advance_now))
        .route("/admin/slots/{position}/{action}", post(seasons::slot_action))
        .route("/admin/flags", get(feature_flags::flags_page))
        .route("/admin/flags/{key}", post(feature_flags::set_flag))
        .route("/admin/users", get(users::users_page))
        .route("/admin/users/{id}/{action}", post(users::user_action))
        .route("/admin/audit", get(audit::audit_page))
        .route("/admin/flagged", get(flagged::flagged_page))
        .route("/admin/flagged/void", post(flagged::void_votes))
        .route("/admin/reports", get(reports::reports_page))
        .route("/admin/reports/{id}/resolve", post(reports::resolve_report))
        .route("/admin/{*rest}", any(console::unknown_page));
    group(routes, Some(Limit::Class(Admin)), Caching::Private)
}

/// `GET /metrics`: for operators (loopback or token); never rate-limited.
fn metrics_endpoint() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics_route::render))
}

/// Uploads (the API's and the no-JavaScript form's). Their stack, in
/// [`router`], has a body limit sized for videos instead of JSON, the
/// cross-site check and the upload class, no session renewal, and no
/// request timeout, since a large upload on a slow phone takes a while: a
/// stalled upload is dropped after 30 s without data, a slow one after 10
/// minutes.
fn uploads() -> Router<AppState> {
    Router::new().route("/api/upload", post(clips::upload_clip)).route("/upload", post(creator_pages::upload_form))
}

/// The largest upload body: the video limit, and room for the form's other
/// fields.
fn upload_body_limit(state: &AppState) -> usize {
    let max_mb = state.services.config.media.max_upload_mb;
    usize::try_from(max_mb * 1024 * 1024 + 256 * 1024).unwrap_or(usize::MAX)
}

/// Clip and poster files: GET/HEAD only, immutable, never limited.
fn media_files() -> Router<AppState> {
    Router::new().route("/media/{*path}", get(media::serve_media))
}

/// Dynamic compression of text answers (issue #16): brotli or gzip, the
/// client's choice by `Accept-Encoding`, with `Vary: Accept-Encoding` on
/// every answer it could compress.
///
/// - Level 4 for both: brotli 4 is about as fast as gzip 6 and smaller; the
///   best levels (brotli 11) cost tens of milliseconds per page, fine for
///   the static assets compressed once at build time, not per request.
/// - Only bodies over 1 KiB: below that the saving is a few hundred bytes,
///   inside one TCP segment either way.
/// - Never `text/event-stream` (the live updates must reach the client
///   event by event, not when a compressor's buffer fills), images (already
///   compressed), nor a body that already has a `Content-Encoding`.
/// - Media is not under this layer at all (see [`router`]).
///
/// The shared-cache `ETag`s of `public_cache` are weak, so one tag can
/// stand for the identity and the compressed forms alike.
fn compression() -> CompressionLayer<impl Predicate> {
    let predicate =
        SizeAbove::new(1024).and(NotForContentType::SSE).and(NotForContentType::IMAGES).and(NotForContentType::GRPC);
    CompressionLayer::new().no_deflate().no_zstd().quality(CompressionLevel::Precise(4)).compress_when(predicate)
}

/// A group's guard: its rate limit (when it has one), then the cross-site
/// refusal, then session renewal (when `renews_sessions`).
fn group_guard(state: &AppState, limit: Option<Limit>, renews_sessions: bool) -> GroupGuard {
    GroupGuard { app: state.clone(), limit: limit.map(|limit| rate_limits(state, limit)), renews_sessions }
}

fn rate_limits(state: &AppState, limit: Limit) -> RateLimitLayerState {
    RateLimitLayerState {
        limiter: state.rate_limiter.clone(),
        trusted_proxies: Arc::new(state.services.config.trusted_proxies.clone()),
        limit,
    }
}
