//! Rate-limit enforcement: counts each request against its client's bucket
//! in the [`RateLimiter`] for the [`RouteClass`] of its route group and
//! answers 429 when the bucket is empty. Which class a route counts against
//! is part of its definition in `http::router` ([`Limit`]), never worked
//! out again from the path.
//!
//! # Headers
//!
//! Limited responses carry `X-RateLimit-Limit` (requests per minute),
//! `X-RateLimit-Remaining` (requests that could be made right now) and
//! `X-RateLimit-Reset` (seconds until the bucket is full again; rounded up,
//! so it may overstate by up to one refill interval, `60 / limit` seconds).
//! A refusal is 429 `rate_limited` with `Retry-After` (whole seconds, at
//! least 1). Classes with limit 0 get no headers, and neither does an answer
//! shared caches may keep (`Cache-Control: public`): a CDN would show one
//! client's counts to everyone it serves the answer to. The request still
//! counts.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};

use crate::ratelimit::{RateDecision, RateLimiter, RouteClass};
use crate::service::ServiceError;

/// Which class a group of routes counts against. The router puts every
/// route in a group with its limit; a route with no limit (health, metrics,
/// media, static files) is in a group without this layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Every request of the group counts against this class.
    Class(RouteClass),
    /// Reads (GET, HEAD) count as [`RouteClass::Read`], anything else as
    /// [`RouteClass::Api`]: for what answers paths no route names.
    ReadOrApi,
}

impl Limit {
    /// The class a request with this method counts against.
    pub fn class(self, method: &Method) -> RouteClass {
        match self {
            Limit::Class(class) => class,
            Limit::ReadOrApi if *method == Method::GET || *method == Method::HEAD => RouteClass::Read,
            Limit::ReadOrApi => RouteClass::Api,
        }
    }
}

/// What [`admit`] needs, independent of the app state:
/// the limiter, whom to believe about client addresses, and the group's
/// limit.
#[derive(Debug, Clone)]
pub struct RateLimitLayerState {
    /// The shared limiter.
    pub limiter: Arc<RateLimiter>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// What the group's requests count against.
    pub limit: Limit,
}

/// What the rate limit says about one request.
#[derive(Debug)]
pub enum Admission {
    /// Its class has no limit, or its peer is unknown: it passes untouched.
    Unlimited,
    /// It was counted and may run; its answer gets these counts
    /// ([`stamp`]).
    Allowed(RateDecision),
    /// Its bucket is empty: this is the 429 to send instead of running it.
    Refused(Response),
}

/// Counts the request against its client's bucket of the group's class.
/// Requests without a known peer address pass untouched.
pub fn admit(state: &RateLimitLayerState, request: &Request) -> Admission {
    let class = state.limit.class(request.method());
    let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() else {
        return Admission::Unlimited;
    };
    let forwarded_for = forwarded_for(request.headers());
    let ip = crate::auth::client_ip(peer.ip(), forwarded_for.as_deref(), &state.trusted_proxies);
    let decision = state.limiter.check(class, crate::auth::client_prefix(ip));
    if decision.limit == 0 {
        return Admission::Unlimited;
    }
    if decision.allowed {
        return Admission::Allowed(decision);
    }
    tracing::debug!(class = class.as_str(), path = %request.uri().path(), "rate limited");
    let retry_after = decision.retry_after_secs.unwrap_or(1);
    let mut response =
        ServiceError::rate_limited(retry_after, format!("too many requests; try again in {retry_after} s"))
            .into_response();
    insert_headers(response.headers_mut(), &decision);
    Admission::Refused(response)
}

/// Adds the `X-RateLimit-*` counts to an admitted request's answer, unless
/// shared caches may keep it: they would hand this client's counts to
/// everyone they serve the answer to.
pub fn stamp(response: &mut Response, decision: &RateDecision) {
    if !is_shared(response.headers()) {
        insert_headers(response.headers_mut(), decision);
    }
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

/// Whether the answer may be kept by shared caches (`Cache-Control: public`).
fn is_shared(headers: &HeaderMap) -> bool {
    crate::http::lists_token(headers, header::CACHE_CONTROL, "public")
}

fn insert_headers(headers: &mut HeaderMap, decision: &RateDecision) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(decision.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(decision.reset_secs));
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::middleware::Next;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    use super::*;
    use crate::ratelimit::RateLimitConfig;

    #[test]
    fn the_catch_all_limit_splits_reads_from_writes() {
        assert_eq!(Limit::Class(RouteClass::Comment).class(&Method::GET), RouteClass::Comment);
        assert_eq!(Limit::ReadOrApi.class(&Method::GET), RouteClass::Read);
        assert_eq!(Limit::ReadOrApi.class(&Method::HEAD), RouteClass::Read);
        assert_eq!(Limit::ReadOrApi.class(&Method::POST), RouteClass::Api);
        assert_eq!(Limit::ReadOrApi.class(&Method::DELETE), RouteClass::Api);
    }

    /// The rate-limit part of `guard::guard`, alone.
    async fn enforce(State(state): State<RateLimitLayerState>, request: Request, next: Next) -> Response {
        match admit(&state, &request) {
            Admission::Unlimited => next.run(request).await,
            Admission::Refused(response) => response,
            Admission::Allowed(decision) => {
                let mut response = next.run(request).await;
                stamp(&mut response, &decision);
                response
            }
        }
    }

    fn app(config: RateLimitConfig, trusted: Vec<ipnet::IpNet>) -> Router {
        let state = RateLimitLayerState {
            limiter: Arc::new(RateLimiter::new(&config)),
            trusted_proxies: Arc::new(trusted),
            limit: Limit::Class(RouteClass::Vote),
        };
        // As in the real router, only the limited group gets the layer.
        Router::new()
            .route("/api/vote", post(|| async { "voted" }))
            .layer(axum::middleware::from_fn_with_state(state, enforce))
            .route("/api/health", get(|| async { "ok" }))
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
    async fn a_shared_answer_counts_but_carries_no_client_counts() {
        let state = RateLimitLayerState {
            limiter: Arc::new(RateLimiter::new(&RateLimitConfig { read: 1, ..RateLimitConfig::default() })),
            trusted_proxies: Arc::new(Vec::new()),
            limit: Limit::Class(RouteClass::Read),
        };
        let app = Router::new()
            .route("/story", get(|| async { ([(header::CACHE_CONTROL, "max-age=5, Public")], "the story") }))
            .layer(axum::middleware::from_fn_with_state(state, enforce));
        let peer = Some("198.51.100.9:5000");
        let shared = app.clone().oneshot(request(Method::GET, "/story", peer, None)).await.expect("infallible");
        assert_eq!(shared.status(), StatusCode::OK);
        for name in ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"] {
            assert_eq!(header(&shared, name), None, "{name} on a shared answer");
        }
        // It was counted all the same: the next one is refused, with the headers.
        let refused = app.oneshot(request(Method::GET, "/story", peer, None)).await.expect("infallible");
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&refused, "x-ratelimit-limit"), Some("1"));
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
