//! Server-rendered HTML pages (askama). Every core flow works without
//! JavaScript; `static/app.js` only makes it feel faster. Pages call the
//! same service functions as the JSON API, never an API handler.
//!
//! Form posts of signed-in users carry a per-session token (a keyed hash of
//! the session, checked by `http::extract::SignedForm`), on top of the
//! cross-site check every state-changing request gets; anonymous forms rely
//! on that check alone.

pub mod account_pages;
pub mod admin;
pub mod arena;
pub mod assets;
pub mod clip_page;
pub mod creator_pages;
pub mod film_pages;
pub mod leaderboard_page;
pub mod profile_pages;

use axum::Router;

use crate::http::extract::{Caller, form_token};
use crate::http::state::AppState;
use crate::service::{ServiceError, notifications};

/// The answer to every path no route matches: the HTML not-found page. A
/// router of its own, so `http::router` can give it its middleware.
pub fn not_found_fallback() -> Router<AppState> {
    Router::new().fallback(arena::not_found)
}

/// What every page's frame needs: asset URLs and who is signed in.
pub struct Chrome {
    /// Stylesheet URL.
    pub css_url: String,
    /// Script URL.
    pub js_url: String,
    /// Captcha solver URL.
    pub captcha_js_url: String,
    /// Live-update script URL (loaded by the arena and story pages).
    pub live_js_url: String,
    /// The signed-in user's name.
    pub username: Option<String>,
    /// Whether they are an admin.
    pub is_admin: bool,
    /// The form token for this session (empty when signed out).
    pub csrf: String,
    /// Unread notifications of the signed-in user (from memory).
    pub unread: u64,
}

impl Chrome {
    /// The frame for this caller.
    pub fn new(state: &AppState, caller: &Caller) -> Chrome {
        Chrome {
            css_url: state.assets.css_url().to_owned(),
            js_url: state.assets.js_url().to_owned(),
            captcha_js_url: state.assets.captcha_js_url().to_owned(),
            live_js_url: state.assets.live_js_url().to_owned(),
            username: caller.user.as_ref().map(|u| u.username.clone()),
            is_admin: caller.user.as_ref().is_some_and(|u| u.is_admin),
            csrf: form_token(state, caller).unwrap_or_default(),
            unread: caller.user.as_ref().map(|u| notifications::unread_count(&state.services, u.user)).unwrap_or(0),
        }
    }
}

/// Renders a page. Pages carry the signed-in user's name and form token, so
/// none may be stored by a shared cache.
pub fn render(template: &impl askama::Template, status: axum::http::StatusCode) -> axum::response::Response {
    use axum::response::IntoResponse;
    match template.render() {
        Ok(html) => {
            let mut response = (status, axum::response::Html(html)).into_response();
            response.headers_mut().insert(axum::http::header::CACHE_CONTROL, crate::http::response::PRIVATE);
            response
        }
        Err(error) => ServiceError::internal(error).into_response(),
    }
}

/// A message as a sentence: capitalised, ended with a stop.
pub(crate) fn sentence(text: &str) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return "Something went wrong.".to_owned(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}
