//! Every route, grouped by audience, with the middleware each group gets
//! named beside it.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use tower_http::timeout::{RequestBodyDeadlineLayer, RequestBodyTimeoutLayer, TimeoutLayer};

use crate::http::middleware::rate_limit::RateLimitLayerState;
use crate::http::middleware::{cross_site, headers, metrics, rate_limit, request_id, session, trace};
use crate::http::state::AppState;
use crate::http::{api, media, pages};

/// Upload routes: a body limit sized for videos instead of JSON, and the
/// same cross-site check and rate limits; no request timeout, since a large
/// upload on a slow phone takes a while (its own read deadline bounds it).
fn uploads(state: &AppState) -> Router<AppState> {
    let limit =
        usize::try_from(state.services.config.media.max_upload_mb * 1024 * 1024 + 256 * 1024).unwrap_or(usize::MAX);
    Router::new()
        .route("/api/upload", axum::routing::post(api::clips::upload_clip))
        .merge(pages::upload_router())
        .layer(from_fn_with_state(state.clone(), cross_site::reject_cross_site))
        .layer(from_fn_with_state(limits(state), rate_limit::enforce))
        .layer(DefaultBodyLimit::max(limit))
        // A stalled upload is dropped after 30 s without data, a slow one after 10 minutes.
        .layer(RequestBodyTimeoutLayer::new(Duration::from_secs(30)))
        .layer(RequestBodyDeadlineLayer::new(Duration::from_secs(600)))
}

fn limits(state: &AppState) -> RateLimitLayerState {
    RateLimitLayerState {
        limiter: state.rate_limiter.clone(),
        trusted_proxies: Arc::new(state.services.config.trusted_proxies.clone()),
    }
}

/// Every route, grouped by audience, with the middleware stack.
pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.services.config.request_timeout_secs);
    let body_limit = state.services.config.json_body_limit_bytes;
    let requests = Router::new()
        .merge(pages::router())
        .merge(api::router())
        .route("/metrics", axum::routing::get(crate::http::metrics::render))
        .layer(from_fn_with_state(state.clone(), session::renew))
        .layer(from_fn_with_state(state.clone(), cross_site::reject_cross_site))
        .layer(from_fn_with_state(limits(&state), rate_limit::enforce))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout))
        .merge(uploads(&state));
    // One log line per request (method, route, status, latency, request id).
    // Media and static assets are left out: they are the bulk of the traffic
    // and a reverse proxy's access log covers them.
    //
    // Media is only ever GET/HEAD with no body: it is merged after the
    // per-request machinery (CSRF check, body limit, request timeout), which
    // it does not need, and keeps the headers below.
    let served = trace::request_log(requests)
        .route("/media/{*path}", axum::routing::get(media::serve_media))
        // Counts every request (media too) under its route template.
        .layer(from_fn_with_state(state.clone(), metrics::track));
    request_id::request_ids(headers::security_headers(served)).with_state(state)
}
