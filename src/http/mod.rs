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

use axum::http::{HeaderMap, HeaderName, header};

/// Whether any `name` header of `headers` lists `token` in its
/// comma-separated value (case-insensitive), as `Connection: close` or
/// `Cache-Control: public` do.
pub fn lists_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value.to_str().is_ok_and(|list| list.split(',').any(|item| item.trim().eq_ignore_ascii_case(token)))
    })
}

/// What `If-None-Match` says of an answer tagged `etag` (RFC 9110 §13.1.2):
/// `None` when the request has no such header; otherwise whether it lists,
/// on any of its field lines, `*` or a tag equal to `etag` by the weak
/// comparison (`W/` ignored on both sides). The media files, the shared
/// pages and the published tallies all decide 304 with it.
pub fn if_none_match(headers: &HeaderMap, etag: &str) -> Option<bool> {
    let etag = etag.trim_start_matches("W/");
    let mut lines = headers.get_all(header::IF_NONE_MATCH).iter().peekable();
    lines.peek()?;
    let matches =
        |candidate: &str| candidate == "*" || (!etag.is_empty() && candidate.trim_start_matches("W/") == etag);
    Some(lines.filter_map(|line| line.to_str().ok()).any(|list| list.split(',').map(str::trim).any(matches)))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn if_none_match_compares_weakly_over_every_line() {
        let mut headers = HeaderMap::new();
        assert_eq!(if_none_match(&headers, "\"a\""), None);
        headers.append(header::IF_NONE_MATCH, HeaderValue::from_static("\"x\", W/\"y\""));
        assert_eq!(if_none_match(&headers, "\"a\""), Some(false));
        assert_eq!(if_none_match(&headers, "\"y\""), Some(true), "W/ on the request's side");
        assert_eq!(if_none_match(&headers, "W/\"x\""), Some(true), "W/ on ours");
        headers.append(header::IF_NONE_MATCH, HeaderValue::from_static("\"a\""));
        assert_eq!(if_none_match(&headers, "\"a\""), Some(true), "a second field line counts");
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static(" , "));
        assert_eq!(if_none_match(&headers, ""), Some(false), "an empty tag matches nothing");
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert_eq!(if_none_match(&headers, "\"b\""), Some(true));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_bytes(b"\"\xff\"").expect("opaque bytes"));
        assert_eq!(if_none_match(&headers, "\"a\""), Some(false), "present but unreadable: no match");
    }
}
