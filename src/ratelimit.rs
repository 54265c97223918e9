//! In-process rate limits per client and route class.
//!
//! Every request is put in a [`RouteClass`] by [`classify`] (method and
//! path); health checks, metrics, media and static files are never limited.
//! Each class has its own GCRA limiter (governor, keyed by client) allowing
//! `n` requests per minute with a burst of `n`. The client is the address
//! [`crate::auth::client_ip`] finds (the socket peer, or the first untrusted
//! hop of `X-Forwarded-For` behind a trusted proxy), reduced by
//! [`crate::auth::client_prefix`] to the whole IPv4 address or the IPv6 /64.
//! A limit of 0 turns a class's limiting off.
//!
//! # Bounded memory
//!
//! Each client that makes a request costs one entry in its class's map. An
//! entry is dropped by [`RateLimiter::prune`] (called from a timer) once its
//! bucket has refilled, i.e. once it is indistinguishable from a fresh one.
//! A client spraying source addresses can still create entries faster than
//! they expire, so each class is capped at `max_tracked_clients` entries:
//!
//! - a client already tracked always keeps its own bucket;
//! - a new client arriving at a full class first triggers an inline prune of
//!   that class (at most once a second per class, since a prune walks the
//!   whole map);
//! - if the class is still full, the new client is counted against one
//!   shared **overflow bucket** of the class (same quota), and no entry is
//!   created for it.
//!
//! So under a spraying attack, new addresses together get one client's worth
//! of requests (the attack cannot escape the limit by rotating addresses),
//! clients seen before the attack are unaffected, and each class holds at most
//! `max_tracked_clients + 1` entries (plus, transiently, one per request
//! racing on another thread between the size check and the insert).
//! [`RateLimiter::tracked_clients`] counts entries over all classes, so the
//! whole limiter holds at most `7 × (max_tracked_clients + 1)` of them.
//!
//! # Headers
//!
//! Limited responses carry `X-RateLimit-Limit` (requests per minute),
//! `X-RateLimit-Remaining` (requests that could be made right now) and
//! `X-RateLimit-Reset` (seconds until the bucket is full again; rounded up,
//! so it may overstate by up to one refill interval, `60 / limit` seconds).
//! A refusal is 429 `rate_limited` with `Retry-After` (whole seconds, at
//! least 1). Classes with limit 0 get no headers.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::Quota;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use serde::Deserialize;
use serde_json::json;

/// What kind of work a request asks for; each kind has its own limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    /// Casting or revoking a vote.
    Vote,
    /// Uploading a clip.
    Upload,
    /// Posting or deleting a comment.
    Comment,
    /// Any other state-changing API call.
    Api,
    /// Reading pages and API resources.
    Read,
    /// Sign-in, sign-up and other account endpoints.
    Auth,
    /// The admin area and admin API.
    Admin,
}

impl RouteClass {
    /// Every class, in a fixed order (the index of [`RouteClass::index`]).
    pub const ALL: [RouteClass; 7] = [
        RouteClass::Vote,
        RouteClass::Upload,
        RouteClass::Comment,
        RouteClass::Api,
        RouteClass::Read,
        RouteClass::Auth,
        RouteClass::Admin,
    ];

    /// The class's name, for logs, metrics and config.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteClass::Vote => "vote",
            RouteClass::Upload => "upload",
            RouteClass::Comment => "comment",
            RouteClass::Api => "api",
            RouteClass::Read => "read",
            RouteClass::Auth => "auth",
            RouteClass::Admin => "admin",
        }
    }

    fn index(self) -> usize {
        match self {
            RouteClass::Vote => 0,
            RouteClass::Upload => 1,
            RouteClass::Comment => 2,
            RouteClass::Api => 3,
            RouteClass::Read => 4,
            RouteClass::Auth => 5,
            RouteClass::Admin => 6,
        }
    }
}

impl fmt::Display for RouteClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Requests per minute per client for each class (burst = the same number).
/// 0 means no limit for that class.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Casting or revoking votes.
    pub vote: u32,
    /// Clip uploads.
    pub upload: u32,
    /// Comment posts and deletions.
    pub comment: u32,
    /// Other state-changing API calls.
    pub api: u32,
    /// Page and API reads.
    pub read: u32,
    /// Sign-in and sign-up.
    pub auth: u32,
    /// Admin area.
    pub admin: u32,
    /// Most clients tracked per class; beyond it new clients share one
    /// overflow bucket (see the module docs). 0 is treated as 1.
    pub max_tracked_clients: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            vote: 30,
            upload: 5,
            comment: 15,
            api: 60,
            read: 120,
            auth: 5,
            admin: 50,
            max_tracked_clients: 100_000,
        }
    }
}

impl RateLimitConfig {
    /// The per-minute limit of one class (0 = unlimited).
    pub fn limit(&self, class: RouteClass) -> u32 {
        match class {
            RouteClass::Vote => self.vote,
            RouteClass::Upload => self.upload,
            RouteClass::Comment => self.comment,
            RouteClass::Api => self.api,
            RouteClass::Read => self.read,
            RouteClass::Auth => self.auth,
            RouteClass::Admin => self.admin,
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Requests per minute for this class; 0 when the class is unlimited.
    pub limit: u32,
    /// Requests the client could make right now (0 when refused).
    pub remaining: u32,
    /// Seconds until the bucket is full again (rounded up; approximate).
    pub reset_secs: u64,
    /// For a refusal, whole seconds until a request can succeed (≥ 1).
    pub retry_after_secs: Option<u64>,
}

/// The key of one bucket: a client, or the class's shared overflow bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum BucketKey {
    Client(IpAddr),
    Overflow,
}

type BucketMap = DashMapStateStore<BucketKey>;

/// governor's DashMap store behind an `Arc`, so the limiter and this module
/// both see it (governor does not expose its store; the cap needs
/// `contains_key` and `len`).
#[derive(Debug, Clone, Default)]
struct SharedStore(Arc<BucketMap>);

impl StateStore for SharedStore {
    type Key = BucketKey;

    fn measure_and_replace<T, F, E>(&self, key: &Self::Key, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.0.measure_and_replace(key, f)
    }
}

impl ShrinkableKeyedStateStore<BucketKey> for SharedStore {
    fn retain_recent(&self, drop_below: Nanos) {
        <BucketMap as ShrinkableKeyedStateStore<BucketKey>>::retain_recent(&self.0, drop_below);
    }

    fn shrink_to_fit(&self) {
        self.0.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

type Governor = governor::RateLimiter<BucketKey, SharedStore, DefaultClock, StateInformationMiddleware>;

/// How long a class waits between inline prunes triggered by a full map.
const INLINE_PRUNE_INTERVAL_MS: u64 = 1_000;

/// One class's limiter.
struct ClassLimiter {
    limit: NonZeroU32,
    /// Time for one request's worth of capacity to come back (60 s / limit).
    interval: Duration,
    governor: Governor,
    buckets: Arc<BucketMap>,
    /// Milliseconds since `RateLimiter::epoch` of the last inline prune
    /// (`u64::MAX` = never).
    last_inline_prune_ms: AtomicU64,
}

impl ClassLimiter {
    fn new(limit: NonZeroU32) -> Self {
        let quota = Quota::per_minute(limit);
        let store = SharedStore::default();
        let buckets = Arc::clone(&store.0);
        let governor = Governor::new(quota, store, DefaultClock::default());
        ClassLimiter {
            limit,
            interval: quota.replenish_interval(),
            governor,
            buckets,
            last_inline_prune_ms: AtomicU64::new(u64::MAX),
        }
    }

    /// Time for `cells` requests' worth of capacity to come back.
    fn refill_time(&self, cells: u32) -> Duration {
        self.interval.checked_mul(cells).unwrap_or(Duration::from_secs(60))
    }
}

/// Rate limits for every class, keyed by client, with bounded memory.
pub struct RateLimiter {
    classes: [Option<ClassLimiter>; 7],
    max_tracked_clients: usize,
    epoch: Instant,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("RateLimiter");
        for class in RouteClass::ALL {
            let limit = self.class(class).map_or(0, |c| c.limit.get());
            out.field(class.as_str(), &limit);
        }
        out.field("max_tracked_clients", &self.max_tracked_clients).finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// Builds the limiters from config; a class with limit 0 gets none.
    pub fn new(config: &RateLimitConfig) -> Self {
        let classes = RouteClass::ALL.map(|class| NonZeroU32::new(config.limit(class)).map(ClassLimiter::new));
        RateLimiter { classes, max_tracked_clients: config.max_tracked_clients.max(1), epoch: Instant::now() }
    }

    fn class(&self, class: RouteClass) -> Option<&ClassLimiter> {
        self.classes[class.index()].as_ref()
    }

    /// Counts one request of `class` from `client` and says whether it may
    /// proceed. `client` is already the client identity (IPv4 address or
    /// IPv6 /64 prefix, see [`crate::auth::client_prefix`]).
    pub fn check(&self, class: RouteClass, client: IpAddr) -> RateDecision {
        let Some(limiter) = self.class(class) else {
            return RateDecision { allowed: true, limit: 0, remaining: 0, reset_secs: 0, retry_after_secs: None };
        };
        let key = self.bucket_for(limiter, BucketKey::Client(client));
        let limit = limiter.limit.get();
        match limiter.governor.check_key(&key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity().min(limit);
                RateDecision {
                    allowed: true,
                    limit,
                    remaining,
                    reset_secs: ceil_secs(limiter.refill_time(limit - remaining)),
                    retry_after_secs: None,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(limiter.governor.clock().now());
                RateDecision {
                    allowed: false,
                    limit,
                    remaining: 0,
                    reset_secs: ceil_secs(wait + limiter.refill_time(limit - 1)),
                    retry_after_secs: Some(ceil_secs(wait).max(1)),
                }
            }
        }
    }

    /// The bucket a request is counted against: the client's own if it is
    /// tracked or there is room for it, else the class's overflow bucket.
    fn bucket_for(&self, limiter: &ClassLimiter, key: BucketKey) -> BucketKey {
        if limiter.buckets.contains_key(&key) || limiter.buckets.len() < self.max_tracked_clients {
            return key;
        }
        self.prune_inline(limiter);
        if limiter.buckets.len() < self.max_tracked_clients {
            key
        } else {
            tracing::debug!("rate limiter full; counting a new client against the overflow bucket");
            BucketKey::Overflow
        }
    }

    /// Prunes one class, unless it was pruned inline less than a second ago.
    fn prune_inline(&self, limiter: &ClassLimiter) {
        let now_ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        let last = limiter.last_inline_prune_ms.load(Ordering::Relaxed);
        let due = last == u64::MAX || now_ms.saturating_sub(last) >= INLINE_PRUNE_INTERVAL_MS;
        // Only the thread that wins the swap walks the map.
        if due
            && limiter.last_inline_prune_ms.compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            limiter.governor.retain_recent();
        }
    }

    /// Drops the buckets that have refilled (indistinguishable from fresh
    /// ones) and returns spare memory; call from a timer every ~30 s. Also
    /// run, per class and at most once a second, by [`RateLimiter::check`]
    /// when a class is full.
    pub fn prune(&self) {
        for limiter in self.classes.iter().flatten() {
            limiter.governor.retain_recent();
            limiter.governor.shrink_to_fit();
        }
    }

    /// Buckets currently held over all classes (overflow buckets included).
    pub fn tracked_clients(&self) -> usize {
        self.classes.iter().flatten().map(|limiter| limiter.buckets.len()).sum()
    }
}

/// Whole seconds, rounded up.
fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Which class a request belongs to, from method and path; `None` for
/// requests that are never limited (health, metrics, media, static files).
///
/// - POST/DELETE `/api/vote`, POST `/vote` → Vote
/// - POST `/api/upload`, POST `/upload` → Upload
/// - POST/DELETE under `/api/comments` → Comment
/// - anything under `/api/auth`, POST `/login`, POST `/signup` → Auth
/// - anything under `/api/admin` or `/admin` → Admin
/// - other GET/HEAD under `/api` → Read, other methods there → Api
/// - GET/HEAD `/api/health`, `/metrics`, `/media/…`, `/static/…` → None
/// - other pages: GET/HEAD → Read, other methods (form posts) → Api
///
/// "Under" a prefix means the prefix itself or anything below it.
pub fn classify(method: &Method, path: &str) -> Option<RouteClass> {
    let read_only = *method == Method::GET || *method == Method::HEAD;
    let post = *method == Method::POST;
    let post_or_delete = post || *method == Method::DELETE;
    if read_only && (path == "/api/health" || path == "/metrics" || under(path, "/media") || under(path, "/static")) {
        return None;
    }
    let class = if under(path, "/api/admin") || under(path, "/admin") {
        RouteClass::Admin
    } else if under(path, "/api/auth") || (post && (under(path, "/login") || under(path, "/signup"))) {
        RouteClass::Auth
    } else if (post_or_delete && under(path, "/api/vote")) || (post && under(path, "/vote")) {
        RouteClass::Vote
    } else if post && (under(path, "/api/upload") || under(path, "/upload")) {
        RouteClass::Upload
    } else if post_or_delete && under(path, "/api/comments") {
        RouteClass::Comment
    } else if read_only {
        RouteClass::Read
    } else {
        RouteClass::Api
    };
    Some(class)
}

/// What the [`enforce`] middleware needs, independent of the app state.
#[derive(Debug, Clone)]
pub struct RateLimitLayerState {
    /// The shared limiter.
    pub limiter: Arc<RateLimiter>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
}

/// Middleware: classifies the request, counts it against its client's
/// bucket, and either runs it (adding `X-RateLimit-*` headers) or answers
/// 429 `rate_limited` with `Retry-After`. Unclassified requests, and requests
/// without a known peer address, pass untouched.
pub async fn enforce(State(state): State<RateLimitLayerState>, request: Request, next: Next) -> Response {
    let Some(class) = classify(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() else {
        return next.run(request).await;
    };
    let forwarded_for = forwarded_for(request.headers());
    let ip = crate::auth::client_ip(peer.ip(), forwarded_for.as_deref(), &state.trusted_proxies);
    let decision = state.limiter.check(class, crate::auth::client_prefix(ip));
    if decision.limit == 0 {
        return next.run(request).await;
    }
    if decision.allowed {
        let mut response = next.run(request).await;
        insert_headers(response.headers_mut(), &decision);
        return response;
    }
    tracing::debug!(class = class.as_str(), path = %request.uri().path(), "rate limited");
    let retry_after = decision.retry_after_secs.unwrap_or(1);
    let body = json!({
        "error": {
            "code": "rate_limited",
            "message": format!("too many requests; try again in {retry_after} s"),
        }
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    insert_headers(headers, &decision);
    response
}

/// All `X-Forwarded-For` lines as one list (several lines mean the same as
/// one comma-joined line). A line that is not text becomes an unparseable
/// hop, which stops `client_ip`'s walk there.
fn forwarded_for(headers: &HeaderMap) -> Option<String> {
    let mut lines = headers.get_all("x-forwarded-for").iter().peekable();
    lines.peek()?;
    let joined: Vec<&str> = lines.map(|line| line.to_str().unwrap_or("invalid")).collect();
    Some(joined.join(","))
}

fn insert_headers(headers: &mut HeaderMap, decision: &RateDecision) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(decision.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(decision.reset_secs));
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use axum::Router;
    use axum::body::Body;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    use super::*;
    use crate::auth::client_prefix;

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    #[test]
    fn classification_table() {
        use RouteClass::*;
        let cases: &[(Method, &str, Option<RouteClass>)] = &[
            (Method::POST, "/api/vote", Some(Vote)),
            (Method::DELETE, "/api/vote", Some(Vote)),
            (Method::GET, "/api/vote", Some(Read)),
            (Method::POST, "/vote", Some(Vote)),
            (Method::GET, "/vote", Some(Read)),
            (Method::POST, "/api/upload", Some(Upload)),
            (Method::POST, "/upload", Some(Upload)),
            (Method::GET, "/upload", Some(Read)),
            (Method::POST, "/api/comments", Some(Comment)),
            (Method::DELETE, "/api/comments/42", Some(Comment)),
            (Method::GET, "/api/comments/42", Some(Read)),
            (Method::PATCH, "/api/commentsx", Some(Api)),
            (Method::GET, "/api/auth/session", Some(Auth)),
            (Method::POST, "/api/auth/login", Some(Auth)),
            (Method::POST, "/login", Some(Auth)),
            (Method::POST, "/signup", Some(Auth)),
            (Method::GET, "/login", Some(Read)),
            (Method::GET, "/api/admin/clips", Some(Admin)),
            (Method::POST, "/api/admin/ban", Some(Admin)),
            (Method::GET, "/admin", Some(Admin)),
            (Method::POST, "/admin/settings", Some(Admin)),
            (Method::GET, "/administrator", Some(Read)),
            (Method::PUT, "/api/features", Some(Api)),
            (Method::POST, "/api/anything", Some(Api)),
            (Method::GET, "/api/story", Some(Read)),
            (Method::HEAD, "/api/clips/1", Some(Read)),
            (Method::GET, "/api/health", None),
            (Method::HEAD, "/api/health", None),
            (Method::GET, "/metrics", None),
            (Method::GET, "/media/clips/a.webm", None),
            (Method::HEAD, "/media/x", None),
            (Method::GET, "/static/app.css", None),
            (Method::GET, "/staticky", Some(Read)),
            (Method::GET, "/", Some(Read)),
            (Method::GET, "/story", Some(Read)),
            (Method::POST, "/story", Some(Api)),
            (Method::POST, "/api/vote/extra", Some(Vote)),
            (Method::POST, "/api/voter", Some(Api)),
        ];
        for (method, path, expected) in cases {
            assert_eq!(classify(method, path), *expected, "{method} {path}");
        }
    }

    #[test]
    fn class_names_are_distinct() {
        let names: std::collections::HashSet<_> = RouteClass::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), 7);
        for (i, class) in RouteClass::ALL.iter().enumerate() {
            assert_eq!(class.index(), i);
        }
    }

    #[test]
    fn config_defaults_and_parsing() {
        let config = RateLimitConfig::default();
        assert_eq!(
            [config.vote, config.upload, config.comment, config.api, config.read, config.auth, config.admin],
            [30, 5, 15, 60, 120, 5, 50]
        );
        assert_eq!(config.max_tracked_clients, 100_000);
        let parsed: RateLimitConfig = toml::from_str("vote = 10\nread = 0").expect("parse");
        assert_eq!((parsed.vote, parsed.read, parsed.upload), (10, 0, 5));
        assert!(toml::from_str::<RateLimitConfig>("votes = 10").is_err());
    }

    #[test]
    fn thirty_first_vote_is_refused_while_another_client_is_allowed() {
        let limiter = RateLimiter::new(&RateLimitConfig::default());
        let a = v4(0x0a00_0001);
        let b = v4(0x0a00_0002);
        for i in 0..30 {
            let decision = limiter.check(RouteClass::Vote, a);
            assert!(decision.allowed, "vote {} refused", i + 1);
            assert_eq!(decision.limit, 30);
            assert_eq!(decision.remaining, 29 - i);
            assert!(decision.reset_secs <= 60);
            assert_eq!(decision.retry_after_secs, None);
        }
        let refused = limiter.check(RouteClass::Vote, a);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        // One vote comes back every 2 s.
        let retry = refused.retry_after_secs.expect("retry after");
        assert!((1..=2).contains(&retry), "retry after {retry}");
        assert!((58..=60).contains(&refused.reset_secs), "reset {}", refused.reset_secs);
        assert!(limiter.check(RouteClass::Vote, b).allowed);
        // Other classes have their own buckets.
        assert!(limiter.check(RouteClass::Read, a).allowed);
    }

    #[test]
    fn ipv6_clients_in_one_slash_64_share_a_bucket() {
        let config = RateLimitConfig { vote: 2, ..RateLimitConfig::default() };
        let limiter = RateLimiter::new(&config);
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let same_net: IpAddr = "2001:db8:1:2:ffff:eeee:dddd:cccc".parse().expect("ip");
        let other_net: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert!(limiter.check(RouteClass::Vote, client_prefix(one)).allowed);
        assert!(limiter.check(RouteClass::Vote, client_prefix(same_net)).allowed);
        assert!(!limiter.check(RouteClass::Vote, client_prefix(one)).allowed);
        assert!(!limiter.check(RouteClass::Vote, client_prefix(same_net)).allowed);
        assert!(limiter.check(RouteClass::Vote, client_prefix(other_net)).allowed);
        assert_eq!(limiter.tracked_clients(), 2);
    }

    #[test]
    fn address_spraying_keeps_memory_bounded() {
        let cap = 1_000;
        let config = RateLimitConfig { max_tracked_clients: cap, ..RateLimitConfig::default() };
        let limiter = RateLimiter::new(&config);
        let veteran = v4(0xc0a8_0001);
        assert!(limiter.check(RouteClass::Vote, veteran).allowed);

        let mut allowed = 0;
        for n in 0..(10 * cap as u32) {
            if limiter.check(RouteClass::Vote, v4(0x0b00_0000 + n)).allowed {
                allowed += 1;
            }
            if n % 100 == 0 {
                assert!(limiter.tracked_clients() <= cap + 1);
            }
        }
        // The documented bound: the cap plus the one overflow bucket.
        assert_eq!(limiter.tracked_clients(), cap + 1);
        // Sprayed addresses beyond the cap shared one 30/min bucket.
        assert!(allowed <= (cap - 1) + 30 + 1, "allowed {allowed}");
        assert!(!limiter.check(RouteClass::Vote, v4(0x0c00_0000)).allowed);
        // A client tracked before the attack keeps its own bucket.
        let decision = limiter.check(RouteClass::Vote, veteran);
        assert!(decision.allowed);
        assert!(decision.remaining >= 28);
    }

    #[test]
    fn prune_drops_refilled_buckets() {
        // 60 000/min: one request's capacity returns every millisecond.
        let config = RateLimitConfig { read: 60_000, max_tracked_clients: 1_000, ..RateLimitConfig::default() };
        let limiter = RateLimiter::new(&config);
        for n in 0..500 {
            assert!(limiter.check(RouteClass::Read, v4(n)).allowed);
        }
        assert_eq!(limiter.tracked_clients(), 500);
        std::thread::sleep(Duration::from_millis(20));
        limiter.prune();
        assert_eq!(limiter.tracked_clients(), 0);
    }

    #[test]
    fn full_class_prunes_before_overflowing() {
        let config = RateLimitConfig { read: 60_000, max_tracked_clients: 100, ..RateLimitConfig::default() };
        let limiter = RateLimiter::new(&config);
        for n in 0..100 {
            assert!(limiter.check(RouteClass::Read, v4(n)).allowed);
        }
        std::thread::sleep(Duration::from_millis(20));
        // The class is full of refilled buckets: a new client prunes them and
        // gets its own bucket rather than the overflow one.
        assert!(limiter.check(RouteClass::Read, v4(1_000)).allowed);
        assert_eq!(limiter.tracked_clients(), 1);
    }

    #[test]
    fn zero_limit_never_refuses() {
        let config = RateLimitConfig { vote: 0, max_tracked_clients: 10, ..RateLimitConfig::default() };
        let limiter = RateLimiter::new(&config);
        for n in 0..1_000 {
            let decision = limiter.check(RouteClass::Vote, v4(n % 3));
            assert!(decision.allowed);
            assert_eq!(decision.limit, 0);
        }
        assert_eq!(limiter.tracked_clients(), 0);
    }

    fn app(config: RateLimitConfig, trusted: Vec<ipnet::IpNet>) -> Router {
        let state =
            RateLimitLayerState { limiter: Arc::new(RateLimiter::new(&config)), trusted_proxies: Arc::new(trusted) };
        Router::new()
            .route("/api/vote", post(|| async { "voted" }))
            .route("/api/health", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(state, enforce))
    }

    fn request(method: Method, path: &str, peer: Option<&str>, forwarded_for: Option<&str>) -> Request {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(xff) = forwarded_for {
            builder = builder.header("x-forwarded-for", xff);
        }
        let mut request = builder.body(Body::empty()).expect("request");
        if let Some(peer) = peer {
            let addr: SocketAddr = peer.parse().expect("socket addr");
            request.extensions_mut().insert(ConnectInfo(addr));
        }
        request
    }

    fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
        response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[tokio::test]
    async fn middleware_adds_headers_and_refuses_with_429() {
        let app = app(RateLimitConfig { vote: 2, ..RateLimitConfig::default() }, Vec::new());
        let peer = Some("198.51.100.7:5000");

        let first = app.clone().oneshot(request(Method::POST, "/api/vote", peer, None)).await.expect("infallible");
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(header(&first, "x-ratelimit-limit"), Some("2"));
        assert_eq!(header(&first, "x-ratelimit-remaining"), Some("1"));
        assert_eq!(header(&first, "x-ratelimit-reset"), Some("30"));
        assert_eq!(header(&first, "retry-after"), None);

        let second = app.clone().oneshot(request(Method::POST, "/api/vote", peer, None)).await.expect("infallible");
        assert_eq!(second.status(), StatusCode::OK);
        assert_eq!(header(&second, "x-ratelimit-remaining"), Some("0"));

        let third = app.clone().oneshot(request(Method::POST, "/api/vote", peer, None)).await.expect("infallible");
        assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = header(&third, "retry-after").expect("retry-after").parse().expect("number");
        assert!((1..=30).contains(&retry), "retry after {retry}");
        assert_eq!(header(&third, "x-ratelimit-limit"), Some("2"));
        assert_eq!(header(&third, "x-ratelimit-remaining"), Some("0"));
        assert!(header(&third, "x-ratelimit-reset").is_some());
        assert_eq!(header(&third, "cache-control"), Some("private, no-store"));
        let body = axum::body::to_bytes(third.into_body(), 64 * 1024).await.expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["error"]["code"], "rate_limited");
        assert!(body["error"]["message"].is_string());

        // Another client is unaffected.
        let other = app
            .clone()
            .oneshot(request(Method::POST, "/api/vote", Some("198.51.100.8:5000"), None))
            .await
            .expect("infallible");
        assert_eq!(other.status(), StatusCode::OK);

        // Never-limited routes pass untouched.
        let health = app.clone().oneshot(request(Method::GET, "/api/health", peer, None)).await.expect("infallible");
        assert_eq!(health.status(), StatusCode::OK);
        assert_eq!(header(&health, "x-ratelimit-limit"), None);

        // Without a known peer the request passes untouched.
        let unknown = app.oneshot(request(Method::POST, "/api/vote", None, None)).await.expect("infallible");
        assert_eq!(unknown.status(), StatusCode::OK);
        assert_eq!(header(&unknown, "x-ratelimit-limit"), None);
    }

    #[tokio::test]
    async fn middleware_believes_forwarded_for_only_from_trusted_proxies() {
        let trusted = vec!["127.0.0.0/8".parse().expect("net")];
        let app = app(RateLimitConfig { vote: 1, ..RateLimitConfig::default() }, trusted);
        let via_proxy = |client: &'static str| request(Method::POST, "/api/vote", Some("127.0.0.1:1"), Some(client));

        let status = |response: Response| response.status();
        assert_eq!(status(app.clone().oneshot(via_proxy("203.0.113.1")).await.expect("ok")), StatusCode::OK);
        // A different client behind the same proxy has its own bucket…
        assert_eq!(status(app.clone().oneshot(via_proxy("203.0.113.2")).await.expect("ok")), StatusCode::OK);
        // …and a forged leftmost entry does not buy a fresh one.
        assert_eq!(
            status(app.clone().oneshot(via_proxy("10.9.9.9, 203.0.113.1")).await.expect("ok")),
            StatusCode::TOO_MANY_REQUESTS
        );
        // An untrusted peer's header is ignored.
        let direct = |xff: &'static str| request(Method::POST, "/api/vote", Some("192.0.2.5:1"), Some(xff));
        assert_eq!(status(app.clone().oneshot(direct("203.0.113.50")).await.expect("ok")), StatusCode::OK);
        assert_eq!(
            status(app.clone().oneshot(direct("203.0.113.51")).await.expect("ok")),
            StatusCode::TOO_MANY_REQUESTS
        );
        // IPv6 peers in one /64 share a bucket.
        let v6 = |peer: &'static str| request(Method::POST, "/api/vote", Some(peer), None);
        assert_eq!(status(app.clone().oneshot(v6("[2001:db8::1]:1")).await.expect("ok")), StatusCode::OK);
        assert_eq!(status(app.oneshot(v6("[2001:db8::2]:1")).await.expect("ok")), StatusCode::TOO_MANY_REQUESTS);
    }
}
