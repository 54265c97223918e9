//! The figures behind `GET /metrics` (served by `http::metrics`), in
//! Prometheus text (format 0.0.4) for operators.
//!
//! What it shows: requests and their latency per route *template* (axum's
//! `MatchedPath`, never the raw path, so label values are bounded; requests
//! matching no route are `unmatched`), votes accepted and refused by reason,
//! the writer (batch size and commit time histograms, queue depth, whether it
//! runs), live SSE clients, view-count flushes, scheduled backups and how far
//! the search index lags the committed clips.
//!
//! Crate: `prometheus-client` (the Prometheus organisation's own Rust client).
//! Its registry is an ordinary value, not a process-global recorder as in the
//! `metrics` crate, so two apps in one test process keep separate figures;
//! it has no default features and a small dependency tree. Request counters
//! live in its families; figures other parts already keep (writer stats,
//! live clients, index position) are read at scrape time instead of being
//! mirrored.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::domain::histogram::HistogramSnapshot;
use crate::domain::vote::VoteRefusal;
use crate::live::LiveHub;
use crate::search::SearchIndex;
use crate::store::Store;
use crate::store::writer::{CommittedEvent, WriteError, WriterStats};

/// Prefix of every metric name.
const PREFIX: &str = "aimoviez";

/// Request latency buckets, seconds.
const REQUEST_SECONDS_BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// Labels of a request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: Arc<str>,
    method: &'static str,
    status: u16,
}

/// Labels of a request latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: Arc<str>,
    method: &'static str,
}

/// A bounded label value: why something was refused or how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The figures this process counts itself. Built once per app, shared by
/// the request middleware, the voting service and the background tasks.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: LatencyFamily,
    votes_accepted: Counter,
    votes_refused: Family<ReasonLabels, Counter>,
    view_flushes: Counter,
    views_flushed: Counter,
    view_flush_failures: Counter,
    scheduled_backups: Family<ReasonLabels, Counter>,
    /// Every route template seen, shared by the labels that name it, so a
    /// request's labels cost no allocation. Bounded: a template is a
    /// route's pattern (`/api/clips/{id}`), never a request's path.
    route_names: RwLock<HashSet<Arc<str>>>,
    /// The latest clip change sequence committed to storage (the search
    /// index's target).
    clip_sequence_committed: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics(..)")
    }
}

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_SECONDS_BUCKETS)
}

impl Metrics {
    /// Empty figures; `clip_sequence` is the clip change sequence committed
    /// when the app starts.
    pub fn new(clip_sequence: u64) -> Metrics {
        let mut registry = Registry::with_prefix(PREFIX);
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds: LatencyFamily = Family::new_with_constructor(request_histogram);
        let votes_accepted = Counter::default();
        let votes_refused = Family::<ReasonLabels, Counter>::default();
        let view_flushes = Counter::default();
        let views_flushed = Counter::default();
        let view_flush_failures = Counter::default();
        let scheduled_backups = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request (until the response head), by route template and method",
            request_seconds.clone(),
        );
        registry.register("votes_accepted", "Votes cast and stored", votes_accepted.clone());
        registry.register("votes_refused", "Votes refused, by reason", votes_refused.clone());
        registry.register("view_flushes", "Pending view counts written to storage", view_flushes.clone());
        registry.register("views_flushed", "Views written by those flushes", views_flushed.clone());
        registry.register("view_flush_failures", "View flushes the writer refused", view_flush_failures.clone());
        registry.register("scheduled_backups", "Scheduled backups, by outcome", scheduled_backups.clone());
        Metrics {
            registry,
            requests,
            request_seconds,
            votes_accepted,
            votes_refused,
            view_flushes,
            views_flushed,
            view_flush_failures,
            scheduled_backups,
            route_names: RwLock::default(),
            clip_sequence_committed: AtomicU64::new(clip_sequence),
        }
    }

    /// Counts one answered request under its route template.
    pub fn observe_request(&self, route: &str, method: &'static str, status: u16, elapsed: Duration) {
        let route = self.route_name(route);
        self.request_seconds
            .get_or_create(&RouteLabels { route: route.clone(), method })
            .observe(elapsed.as_secs_f64());
        self.requests.get_or_create(&RequestLabels { route, method, status }).inc();
    }

    /// The shared name of a route template.
    fn route_name(&self, route: &str) -> Arc<str> {
        if let Some(name) = self.route_names.read().unwrap_or_else(PoisonError::into_inner).get(route) {
            return name.clone();
        }
        let mut names = self.route_names.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(name) = names.get(route) {
            return name.clone();
        }
        let name: Arc<str> = Arc::from(route);
        names.insert(name.clone());
        name
    }

    /// Counts the outcome of a cast: accepted, or refused with a reason.
    pub fn vote_cast(&self, refusal: Option<&'static str>) {
        match refusal {
            None => {
                self.votes_accepted.inc();
            }
            Some(reason) => {
                self.votes_refused.get_or_create(&ReasonLabels { reason }).inc();
            }
        }
    }

    /// Counts a view flush of `views` views; `ok` is whether the writer took it.
    pub fn view_flush(&self, views: u64, ok: bool) {
        if ok {
            self.view_flushes.inc();
            self.views_flushed.inc_by(views);
        } else {
            self.view_flush_failures.inc();
        }
    }

    /// Counts a scheduled backup (`ok`, `failed`).
    pub fn scheduled_backup(&self, outcome: &'static str) {
        self.scheduled_backups.get_or_create(&ReasonLabels { reason: outcome }).inc();
    }

    /// Notes the clip change sequence of a committed batch (called on the
    /// writer thread, after commit).
    pub fn observe_committed(&self, events: &[CommittedEvent]) {
        for event in events {
            if let CommittedEvent::ClipsChanged { sequence, .. } = event {
                self.clip_sequence_committed.fetch_max(*sequence, Ordering::Relaxed);
            }
        }
    }

    /// The latest committed clip change sequence.
    pub fn clip_sequence_committed(&self) -> u64 {
        self.clip_sequence_committed.load(Ordering::Relaxed)
    }
}

/// The reason label of a refused cast. A fixed set, so the label stays bounded.
pub fn refusal_reason(error: &WriteError) -> &'static str {
    match error {
        WriteError::Refused(refusal) => match refusal {
            VoteRefusal::AuthRequired => "auth_required",
            VoteRefusal::ClipNotFound => "clip_not_found",
            VoteRefusal::NotVotable => "not_votable",
            VoteRefusal::SlotClosed => "slot_closed",
            VoteRefusal::AlreadyVoted => "already_voted",
            VoteRefusal::SpecialVoteUsed => "special_vote_used",
            VoteRefusal::DailyLimitReached => "daily_limit_reached",
            VoteRefusal::NoVoteToRevoke => "no_vote_to_revoke",
        },
        WriteError::Unavailable => "unavailable",
        WriteError::Account(_) | WriteError::Tournament(_) | WriteError::Comment(_) | WriteError::Social(_) => "other",
    }
}

/// What `/metrics` reads at scrape time rather than counting itself.
pub struct ScrapeSources<'a> {
    /// The writer's lock-free figures.
    pub writer: &'a WriterStats,
    /// Live clients and events.
    pub live: &'a LiveHub,
    /// How far the search index got.
    pub search: &'a SearchIndex,
    /// Read transactions begun.
    pub store: &'a Store,
}

impl Metrics {
    /// The whole exposition in Prometheus text: the counted figures, then
    /// those read now from `sources`.
    pub fn exposition(&self, sources: &ScrapeSources<'_>) -> Result<String, std::fmt::Error> {
        let mut text = String::with_capacity(16 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.read_now(sources))?;
        Ok(text)
    }

    /// A registry of the figures other parts keep, read at this moment.
    fn read_now(&self, sources: &ScrapeSources<'_>) -> Registry {
        let mut registry = Registry::with_prefix(PREFIX);
        let stats = sources.writer;
        let load = |value: &AtomicU64| value.load(Ordering::Relaxed);
        registry.register("writer_batches", "Write transactions committed", ConstCounter::new(load(&stats.batches)));
        registry.register(
            "writer_commands",
            "Commands applied by the writer",
            ConstCounter::new(load(&stats.commands)),
        );
        registry.register(
            "writer_failed_batches",
            "Write batches that failed to commit (nothing of them was stored)",
            ConstCounter::new(load(&stats.failed_batches)),
        );
        registry.register(
            "writer_batch_size",
            "Commands per committed write transaction",
            ExportedHistogram::from_snapshot(&stats.batch_sizes.snapshot(), 1.0),
        );
        registry.register(
            "writer_commit_seconds",
            "Time to apply and commit one write transaction",
            ExportedHistogram::from_snapshot(&stats.commit_latency_micros.snapshot(), 1e6),
        );
        registry.register(
            "writer_max_batch",
            "Largest batch committed so far",
            ConstGauge::new(load(&stats.max_batch)),
        );
        registry.register(
            "writer_queue_depth",
            "Commands waiting for the writer",
            ConstGauge::new(load(&stats.queued)),
        );
        registry.register(
            "writer_running",
            "1 while the writer thread runs",
            ConstGauge::new(i64::from(stats.running.load(Ordering::Acquire))),
        );
        registry.register(
            "writer_last_commit_timestamp_seconds",
            "Unix time of the last successful commit (0 before the first)",
            ConstGauge::new(load(&stats.last_commit_unix_ms) as f64 / 1000.0),
        );
        registry.register(
            "live_clients",
            "Connected Server-Sent Events clients",
            ConstGauge::new(sources.live.clients() as u64),
        );
        registry.register("live_events", "Live events published", ConstCounter::new(sources.live.events_sent()));
        let committed = self.clip_sequence_committed();
        let indexed = sources.search.committed_position();
        registry.register(
            "search_committed_sequence",
            "Clip change sequence committed to storage",
            ConstGauge::new(committed),
        );
        registry.register(
            "search_indexed_sequence",
            "Clip change sequence the search index has committed",
            ConstGauge::new(indexed),
        );
        registry.register(
            "search_index_lag",
            "Clip change batches committed to storage but not yet searchable",
            ConstGauge::new(committed.saturating_sub(indexed)),
        );
        registry.register(
            "store_read_transactions",
            "Storage read transactions begun",
            ConstCounter::new(sources.store.read_count()),
        );
        registry
    }
}

/// A histogram read from an [`crate::domain::histogram::AtomicHistogram`],
/// its whole numbers divided into the exported unit (microseconds by 1e6
/// into seconds). Divided, not multiplied by the inverse: 25,000 × 1e-6 is
/// 0.024999999999999998 in binary floating point, and a bucket labelled
/// `le="0.024999999999999998"` is what a dashboard would have shown.
#[derive(Debug)]
struct ExportedHistogram {
    sum: f64,
    count: u64,
    buckets: Vec<(f64, u64)>,
}

impl ExportedHistogram {
    fn from_snapshot(snapshot: &HistogramSnapshot, divisor: f64) -> Self {
        ExportedHistogram {
            sum: snapshot.sum as f64 / divisor,
            count: snapshot.count,
            buckets: snapshot
                .buckets
                .iter()
                .map(|(bound, count)| (bound.map(|bound| bound as f64 / divisor).unwrap_or(f64::INFINITY), *count))
                .collect(),
        }
    }
}

impl EncodeMetric for ExportedHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(self.sum, self.count, &self.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_reasons_are_a_fixed_set() {
        assert_eq!(refusal_reason(&WriteError::Refused(VoteRefusal::AlreadyVoted)), "already_voted");
        assert_eq!(refusal_reason(&WriteError::Unavailable), "unavailable");
    }
}
