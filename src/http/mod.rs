//! Everything HTTP: the only module that names axum, hyper, tower,
//! tower-http or askama. Handlers parse a request (with the extractors of
//! `extract`), call a `service` function and render its answer as JSON
//! (`api`) or HTML (`pages`); `error` is the one mapping from a service
//! error to a status and body. `router` lists every route with the
//! middleware its audience gets; `serve` accepts connections and speaks
//! HTTP/1.1 on them under the connection limits.

pub mod api;
pub mod error;
pub mod extract;
pub mod live;
pub mod media;
pub mod metrics;
pub mod middleware;
pub mod pages;
pub mod paging;
pub mod response;
pub mod router;
pub mod serve;
pub mod state;
pub mod upload;

use axum::http::{HeaderMap, HeaderName};

/// Whether any `name` header of `headers` lists `token` in its
/// comma-separated value (case-insensitive), as `Connection: close` or
/// `Cache-Control: public` do.
pub fn lists_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value.to_str().is_ok_and(|list| list.split(',').any(|item| item.trim().eq_ignore_ascii_case(token)))
    })
}
