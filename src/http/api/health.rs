//! `GET /api/health`: liveness for load balancers, systemd watchdogs and
//! uptime checks. Cheap by design: it reads the writer's in-memory figures
//! and touches no storage. 200 `ok` while the writer runs and its last
//! batch committed; 503 `degraded` when the writer thread has stopped or
//! storage refuses writes.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::clock::unix_millis_now;
use crate::service::Services;
use crate::store::writer::WriterStats;

/// Body of `GET /api/health`.
#[derive(Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: &'static str,
    /// The running build.
    pub version: &'static str,
    /// `ok`, or `failing` when the last write batch failed to commit.
    pub storage: &'static str,
    /// The single writer.
    pub writer: WriterHealth,
}

/// The writer's part of the health answer.
#[derive(Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WriterHealth {
    /// Whether the writer thread is alive.
    pub running: bool,
    /// Commands waiting for it.
    pub queue_depth: u64,
    /// Milliseconds since its last commit; `null` before the first.
    pub last_commit_ms_ago: Option<u64>,
    /// Batches that failed to commit since start.
    pub failed_batches: u64,
}

/// The health answer for these writer figures at `now_unix_ms`.
pub fn assess(stats: &WriterStats, now_unix_ms: u64) -> (StatusCode, Health) {
    let running = stats.running.load(Ordering::Acquire);
    let storage_ok = !stats.last_batch_failed.load(Ordering::Relaxed);
    let last_commit = stats.last_commit_unix_ms.load(Ordering::Relaxed);
    let healthy = running && storage_ok;
    let health = Health {
        status: if healthy { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        storage: if storage_ok { "ok" } else { "failing" },
        writer: WriterHealth {
            running,
            queue_depth: stats.queued.load(Ordering::Relaxed),
            last_commit_ms_ago: (last_commit > 0).then(|| now_unix_ms.saturating_sub(last_commit)),
            failed_batches: stats.failed_batches.load(Ordering::Relaxed),
        },
    };
    (if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, health)
}

/// `GET /api/health`.
#[utoipa::path(get, path = "/api/health", tag = "meta",
    responses(
        (status = 200, description = "Storage and the writer are working", body = Health),
        (status = 503, description = "`degraded`: the writer stopped or the last batch failed", body = Health),
    ))]
pub async fn health(State(services): State<Services>) -> Response {
    let (status, body) = assess(services.writer.stats(), unix_millis_now());
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::clock::Timestamp;
    use crate::store::Store;
    use crate::store::writer::{self, WriterSettings};

    #[test]
    fn a_stopped_writer_or_failing_storage_is_degraded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db.redb"), 4 * 1024 * 1024).expect("store");
        let settings =
            WriterSettings { batch_max: 8, queue_capacity: 8, daily_budget: 200, clock: Arc::new(Timestamp::now) };
        let (handle, thread) = writer::start(&store, settings, Box::new(|_| {})).expect("writer");
        let (status, body) = assess(handle.stats(), unix_millis_now());
        assert_eq!(status, StatusCode::OK);
        assert_eq!((body.status, body.storage, body.writer.running), ("ok", "ok", true));
        assert_eq!(body.writer.last_commit_ms_ago, None, "nothing committed yet");

        handle.stats().last_commit_unix_ms.store(1_000, Ordering::Relaxed);
        handle.stats().last_batch_failed.store(true, Ordering::Relaxed);
        let (status, body) = assess(handle.stats(), 4_000);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!((body.status, body.storage), ("degraded", "failing"));
        assert_eq!(body.writer.last_commit_ms_ago, Some(3_000));
        handle.stats().last_batch_failed.store(false, Ordering::Relaxed);

        thread.stop();
        let (status, body) = assess(handle.stats(), unix_millis_now());
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "the real writer thread has ended");
        assert_eq!((body.status, body.storage, body.writer.running), ("degraded", "ok", false));
        let json = serde_json::to_value(&body).expect("json");
        assert_eq!(json["writer"]["running"], false);
        assert!(json["writer"]["queueDepth"].is_u64(), "{json}");
    }
}
