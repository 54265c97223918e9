//! Shared caching for what every anonymous visitor sees alike (issue #17):
//! the story, the films, the leaderboards, clip and profile pages and their
//! JSON. A CDN or a caching proxy in front may keep such an answer for a few
//! seconds and revalidate it with `If-None-Match`.
//!
//! - Anonymous `GET`/`HEAD` (no session cookie): a weak `ETag`, `Cache-Control:
//!   public, max-age=5, stale-while-revalidate=30`, `Vary: Cookie,
//!   Accept-Encoding`; an `If-None-Match` naming the current tag is answered
//!   304 before the handler runs.
//! - A request carrying the session cookie gets `private, no-store` (pages
//!   show the user's name and form token) and never a shared-cache header
//!   nor a 304 from a shared tag.
//!
//! The tag costs no storage read: it is made of a number drawn at start (so
//! a restart, perhaps with a new build, never reuses a tag), the count of
//! committed batches whose events every in-memory reader has applied
//! (`AppContext::applied_batches`: any stored change moves it) and the
//! current minute (pages show times such as a slot's countdown). The count
//! is read before the handler runs and moves only after the readers have
//! the batch, so a tag is never newer than the body sent with it: at worst
//! a cache revalidates once more than it needed to. Answers that set a
//! cookie or are not 200 keep the handler's own headers.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::response::{PRIVATE, PUBLIC_ANONYMOUS};
use crate::http::state::AppState;
use crate::sessions::SESSION_COOKIE;

/// `Vary` of every answer this layer touches.
const VARY: HeaderValue = HeaderValue::from_static("Cookie, Accept-Encoding");

/// Middleware for routes whose anonymous answer is the same for everyone.
pub async fn anonymous(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let readable = matches!(*request.method(), Method::GET | Method::HEAD);
    if has_session_cookie(request.headers()) {
        let mut response = next.run(request).await;
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, PRIVATE);
        headers.insert(header::VARY, VARY);
        return response;
    }
    if !readable {
        return next.run(request).await;
    }
    let tag = current_tag(&state);
    if if_none_match(request.headers(), &tag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        shared(response.headers_mut(), &tag);
        return response;
    }
    let mut response = next.run(request).await;
    if response.status() == StatusCode::OK && !response.headers().contains_key(header::SET_COOKIE) {
        shared(response.headers_mut(), &tag);
    }
    response
}

/// The headers of a shareable answer.
fn shared(headers: &mut HeaderMap, tag: &HeaderValue) {
    headers.insert(header::ETAG, tag.clone());
    headers.insert(header::CACHE_CONTROL, PUBLIC_ANONYMOUS);
    headers.insert(header::VARY, VARY);
}

/// The tag of what anonymous visitors are shown now.
fn current_tag(state: &AppState) -> HeaderValue {
    let batches = state.applied_batches.load(std::sync::atomic::Ordering::Acquire);
    let minute = crate::domain::clock::unix_millis_now() / 60_000;
    let tag = format!("W/\"{:x}-{batches:x}-{minute:x}\"", state.etag_epoch);
    HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("W/\"0\""))
}

/// Whether `If-None-Match` names `tag` (weak comparison) or is `*`.
fn if_none_match(headers: &HeaderMap, tag: &HeaderValue) -> bool {
    crate::http::if_none_match(headers, tag.to_str().unwrap_or_default()) == Some(true)
}

/// Whether the request carries a session cookie with a value (live or not:
/// a stale one is rare and only costs a private answer). An empty one is
/// what signing out leaves behind; a proxy's `$cookie_aimoviez_session`
/// test treats it as absent too, so both sides agree on who is anonymous.
fn has_session_cookie(headers: &HeaderMap) -> bool {
    headers.get_all(header::COOKIE).iter().filter_map(|value| value.to_str().ok()).any(|value| {
        value.split(';').any(|pair| {
            pair.trim().split_once('=').is_some_and(|(name, token)| name == SESSION_COOKIE && !token.is_empty())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_match_weakly_and_cookies_are_found_by_name() {
        let tag = HeaderValue::from_static("W/\"a-1-2\"");
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"x\", \"a-1-2\""));
        assert!(if_none_match(&headers, &tag));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("W/\"a-1-3\""));
        assert!(!if_none_match(&headers, &tag));
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; aimoviez_session=abc"));
        assert!(has_session_cookie(&headers));
        headers.insert(header::COOKIE, HeaderValue::from_static("not_aimoviez_session=abc"));
        assert!(!has_session_cookie(&headers));
        headers.insert(header::COOKIE, HeaderValue::from_static("aimoviez_session="));
        assert!(!has_session_cookie(&headers), "signed out");
    }
}
