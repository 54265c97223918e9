//! The request log: one line per request with method, route template,
//! status, latency and request id.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::{Request, Response};
use tower_http::trace::TraceLayer;

/// Logs every request of `router` once it is answered.
pub fn request_log<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<Body>| {
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map(|path| path.as_str().to_owned())
                .unwrap_or_else(|| "unmatched".to_owned());
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
            tracing::info_span!("request", method = %request.method(), route = %route, request_id = %id)
        })
        .on_request(())
        .on_response(|response: &Response<Body>, latency: Duration, _span: &tracing::Span| {
            tracing::info!(
                status = response.status().as_u16(),
                latency_ms = latency.as_secs_f64() * 1000.0,
                "request handled"
            );
        })
        .on_failure(());
    router.layer(trace)
}
