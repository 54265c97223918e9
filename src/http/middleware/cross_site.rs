//! Cross-site request refusal for every state-changing request.
//!
//! Browsers say where a request comes from (`Sec-Fetch-Site`, `Origin`);
//! when they do, it must be this site, or the request is refused with 403
//! `csrf_failed` before any handler runs, so it changes nothing. Clients that
//! send neither header (curl, mobile apps) are not browsers riding on a
//! victim's cookies and pass. Signed-in form posts also carry the session's
//! form token, checked by the page handlers.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::error::csrf_failed;
use crate::http::state::AppState;

/// Middleware: refuses cross-site non-safe requests.
pub async fn reject_cross_site(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !is_same_site(request.headers(), state.services.config.public_url.as_deref()) {
        tracing::info!(method = %request.method(), path = %request.uri().path(), "cross-site request refused");
        return csrf_failed().into_response();
    }
    next.run(request).await
}

/// Whether the browser's own headers place the request on this site.
pub fn is_same_site(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    if public_url.is_some_and(|url| url.trim_end_matches('/') == origin) {
        return true;
    }
    let origin_host = origin.split_once("://").map(|(_, host)| host);
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    matches!((origin_host, host), (Some(origin_host), Some(host)) if origin_host == host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn judges_by_fetch_metadata_then_origin() {
        assert!(is_same_site(&headers(&[]), None));
        assert!(is_same_site(&headers(&[("sec-fetch-site", "same-origin")]), None));
        assert!(!is_same_site(&headers(&[("sec-fetch-site", "cross-site")]), None));
        assert!(!is_same_site(&headers(&[("sec-fetch-site", "same-site")]), None));
        assert!(is_same_site(&headers(&[("origin", "http://a.test:8080"), ("host", "a.test:8080")]), None));
        assert!(!is_same_site(&headers(&[("origin", "http://evil.test"), ("host", "a.test")]), None));
        assert!(!is_same_site(&headers(&[("origin", "null"), ("host", "a.test")]), None));
        assert!(is_same_site(
            &headers(&[("origin", "https://film.example"), ("host", "127.0.0.1:8080")]),
            Some("https://film.example/")
        ));
    }
}
