//! Server-rendered HTML pages (askama). Every core flow works without
//! JavaScript; `static/app.js` only makes it feel faster. Pages call the
//! same service functions as the JSON API, never an API handler.
//!
//! Form posts of signed-in users carry a per-session token (a keyed hash of
//! the session, checked by `http::extract::SignedForm`), on top of the
//! cross-site check every state-changing request gets; anonymous forms rely
//! on that check alone.

mod account_pages;
mod admin;
mod arena;
pub mod assets;
mod clip_page;
mod creator_pages;
mod film_pages;
mod leaderboard_page;
mod profile_pages;

use axum::Router;
use axum::routing::{get, post};

use crate::http::extract::{Caller, form_token};
use crate::http::state::AppState;
use crate::service::{ServiceError, notifications};

/// Page routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(arena::arena))
        .route("/vote", post(arena::vote_form))
        .route("/story", get(arena::story))
        .route("/login", get(account_pages::login_page).post(account_pages::login_form))
        .route("/signup", get(account_pages::signup_page).post(account_pages::signup_form))
        .route("/logout", post(account_pages::logout_form))
        .route("/settings", get(account_pages::settings_page))
        .route("/upload", get(creator_pages::upload_page))
        .route("/profile", get(creator_pages::profile_page))
        .route("/search", get(creator_pages::search_page))
        .route("/leaderboard", get(leaderboard_page::leaderboard_page))
        .route("/watch", get(film_pages::watch_page))
        .route("/watch/{season}", get(film_pages::film_page))
        .route("/genres", get(film_pages::genres_page).post(film_pages::genre_form))
        .route("/settings/delete", post(account_pages::delete_form))
        .route("/static/{name}", get(assets::serve_asset))
        .merge(admin::router())
        .merge(clip_page::router())
        .merge(profile_pages::router())
        .fallback(arena::not_found)
}

/// Page routes that receive uploads (mounted with the upload body limit).
pub fn upload_router() -> Router<AppState> {
    creator_pages::upload_router()
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
