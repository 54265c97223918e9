//! `GET /metrics`: Prometheus text for operators, answered only to clients on
//! this machine (loopback after the trusted-proxy walk), never to the internet.
//! For now it carries the writer's figures; request histograms come with the
//! operations work.

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;
use crate::auth;

/// The `/metrics` route.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

async fn render(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let client = auth::client_ip(peer.ip(), forwarded, &state.config.trusted_proxies);
    if !client.is_loopback() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let stats = state.writer.stats();
    let mut text = String::new();
    let mut counter = |name: &str, help: &str, kind: &str, value: f64| {
        let _ = write!(text, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n");
    };
    counter(
        "aimoviez_writer_batches_total",
        "Write transactions committed.",
        "counter",
        stats.batches.load(Ordering::Relaxed) as f64,
    );
    counter(
        "aimoviez_writer_commands_total",
        "Commands applied by the writer.",
        "counter",
        stats.commands.load(Ordering::Relaxed) as f64,
    );
    counter(
        "aimoviez_writer_commit_seconds_sum",
        "Time spent applying and committing batches.",
        "counter",
        stats.commit_micros.load(Ordering::Relaxed) as f64 / 1e6,
    );
    counter(
        "aimoviez_writer_max_batch",
        "Largest batch committed so far.",
        "gauge",
        stats.max_batch.load(Ordering::Relaxed) as f64,
    );
    let mut response = text.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    response
}
