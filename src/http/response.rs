//! Cache policies, each named once: personal or mutating answers (and
//! every error) are `private, no-store`; public answers that are the same
//! for everyone may be kept briefly by a proxy or CDN (`public, max-age=5`),
//! so read bursts are absorbed, and pages and JSON that every anonymous
//! visitor sees alike also get an `ETag` and `stale-while-revalidate`;
//! content-addressed files and assets never change (`immutable`); the API
//! description lasts the build; `/metrics` is `no-store` and live streams
//! `no-cache`.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// Personal or mutating: never stored by any cache.
pub const PRIVATE: HeaderValue = HeaderValue::from_static("private, no-store");
/// Public and the same for everyone: a shared cache may keep it briefly.
pub const PUBLIC_SHORT: HeaderValue = HeaderValue::from_static("public, max-age=5");
/// What every anonymous visitor sees alike: a shared cache may keep it a
/// few seconds and serve it stale while it revalidates by `ETag` (see
/// `middleware::public_cache`).
pub const PUBLIC_ANONYMOUS: HeaderValue = HeaderValue::from_static("public, max-age=5, stale-while-revalidate=30");
/// A name that never changes meaning (a content hash is in it).
pub const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// The same for the life of this build (the API description): kept a
/// few minutes.
pub const PUBLIC_BUILD: HeaderValue = HeaderValue::from_static("public, max-age=300");
/// Operators' figures: never kept, but not personal either.
pub const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
/// A live stream: a proxy must pass it through, never answer from a copy.
pub const STREAM: HeaderValue = HeaderValue::from_static("no-cache");

/// `body` as a personal answer.
pub fn private(body: impl IntoResponse) -> Response {
    with_cache(body, PRIVATE)
}

/// `body` as a public answer a proxy may keep for a few seconds.
pub fn public_short(body: impl IntoResponse) -> Response {
    with_cache(body, PUBLIC_SHORT)
}

/// `body` with the `Cache-Control` value `policy`.
pub fn with_cache(body: impl IntoResponse, policy: HeaderValue) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, policy);
    response
}
