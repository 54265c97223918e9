//! In-process rate limits per client and route class.
//!
//! Every limited route belongs to a [`RouteClass`], named with the route in
//! `http::router` and enforced by `http::middleware::rate_limit`;
//! health checks, metrics, media and static files are never limited.
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

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::Quota;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use serde::Deserialize;

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

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::auth::client_prefix;

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
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
}
