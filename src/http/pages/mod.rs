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
pub mod format;
pub mod leaderboard_page;
pub mod profile_pages;
pub mod story_page;
pub mod vote_controls;

use axum::Router;

use crate::http::extract::{Caller, form_token};
use crate::http::state::AppState;
use crate::media::urls::MediaUrls;
use crate::service::{ServiceError, notifications};

/// Where pages point `<video src>` and posters (`[media] base_url`).
pub(crate) fn media_urls(state: &AppState) -> MediaUrls<'_> {
    MediaUrls::new(&state.services.config.media.base_url)
}

/// The answer to every path no route matches: the HTML not-found page. A
/// router of its own, so `http::router` can give it its middleware.
pub fn not_found_fallback() -> Router<AppState> {
    Router::new().fallback(arena::not_found)
}

/// What every page's frame needs: asset URLs, who is signed in, and where
/// the page sits in the navigation.
///
/// For an anonymous visitor nothing here depends on who they are (no name,
/// no form token, no badge), so an anonymous page may be shared by a cache.
pub struct Chrome {
    /// Stylesheet URL.
    pub css_url: String,
    /// Script URL.
    pub js_url: String,
    /// Captcha solver URL.
    pub captcha_js_url: String,
    /// Live-update script URL (loaded by the arena and story pages).
    pub live_js_url: String,
    /// The SVG icon (favicon).
    pub icon_url: String,
    /// The 180 px PNG icon (iOS home screen).
    pub touch_icon_url: String,
    /// The web app manifest.
    pub manifest_url: String,
    /// The site's public origin (`public_url`), or "" when not configured:
    /// sharing tags need absolute URLs where one is known.
    pub site_url: String,
    /// The signed-in user's name.
    pub username: Option<String>,
    /// Whether they are an admin.
    pub is_admin: bool,
    /// The form token for this session (empty when signed out).
    pub csrf: String,
    /// Unread notifications of the signed-in user (from memory).
    pub unread: u64,
    /// The bottom-bar tab this page belongs to (`vote`, `story`, `upload`,
    /// `top`, `me`, or "" for none).
    pub tab: &'static str,
    /// This page's path and query, where "Sign in" brings the person back to.
    pub here: String,
}

impl Chrome {
    /// `url` as sharing tags need it: a media URL already absolute (under
    /// `[media] base_url`) stays as it is, a path gets the site's origin.
    pub fn absolute(&self, url: &str) -> String {
        if url.starts_with("https://") || url.starts_with("http://") {
            url.to_owned()
        } else {
            format!("{}{url}", self.site_url)
        }
    }

    /// The frame for this caller.
    pub fn new(state: &AppState, caller: &Caller) -> Chrome {
        let assets = &state.assets;
        Chrome {
            css_url: assets.css_url().to_owned(),
            js_url: assets.js_url().to_owned(),
            captcha_js_url: assets.captcha_js_url().to_owned(),
            live_js_url: assets.live_js_url().to_owned(),
            icon_url: assets.icon_url().to_owned(),
            touch_icon_url: assets.touch_icon_url().to_owned(),
            manifest_url: assets.manifest_url().to_owned(),
            site_url: state.services.config.public_url.as_deref().unwrap_or("").trim_end_matches('/').to_owned(),
            username: caller.user.as_ref().map(|u| u.username.clone()),
            is_admin: caller.user.as_ref().is_some_and(|u| u.is_admin),
            csrf: form_token(state, caller).unwrap_or_default(),
            unread: caller.user.as_ref().map(|u| notifications::unread_count(&state.services, u.user)).unwrap_or(0),
            tab: tab_of(caller.path(), caller.user.as_ref().map(|u| u.username.as_str())),
            here: caller.path().to_owned(),
        }
    }

    /// The sign-in link, carrying this page as `next` when it is one worth
    /// returning to.
    pub fn login_href(&self) -> String {
        self.account_href("/login")
    }

    /// The sign-up link, with `next` like [`Chrome::login_href`].
    pub fn signup_href(&self) -> String {
        self.account_href("/signup")
    }

    fn account_href(&self, page: &str) -> String {
        match format::local_path(&self.here).filter(|here| *here != "/") {
            Some(here) => format!("{page}?next={}", format::url_component(here)),
            None => page.to_owned(),
        }
    }

    /// `aria-current` for the tab named `tab`, if it is this page's.
    pub fn current(&self, tab: &str) -> &'static str {
        if self.tab == tab { r#" aria-current="page""# } else { "" }
    }
}

/// The bottom-bar tab a path belongs to. Someone else's profile is no tab:
/// marking "Me" there (as it once did) told a visitor they were on their own.
fn tab_of(path_and_query: &str, me: Option<&str>) -> &'static str {
    let path = path_and_query.split(['?', '#']).next().unwrap_or("/");
    let mut segments = path.trim_start_matches('/').split('/');
    match segments.next().unwrap_or("") {
        "" | "clip" => "vote",
        "story" | "watch" | "genres" => "story",
        "upload" => "upload",
        "leaderboard" | "search" => "top",
        "u" if me.is_some_and(|me| segments.next().is_some_and(|name| name.eq_ignore_ascii_case(me))) => "me",
        "profile" | "notifications" | "settings" | "login" | "signup" | "admin" => "me",
        _ => "",
    }
}

/// Renders a page. Pages carry the signed-in user's name and form token, so
/// none may be stored by a shared cache, unless the route is one of the
/// shared reads whose anonymous answer is the same for everyone
/// (`middleware::public_cache` then makes it public).
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

#[cfg(test)]
mod tests {
    use super::tab_of;

    #[test]
    fn the_me_tab_is_marked_on_my_pages_only() {
        assert_eq!(tab_of("/u/ana?x=1", Some("ana")), "me");
        assert_eq!(tab_of("/u/Ana", Some("ana")), "me");
        assert_eq!(tab_of("/u/bob", Some("ana")), "");
        assert_eq!(tab_of("/u/bob", None), "");
        assert_eq!(tab_of("/notifications", Some("ana")), "me");
        assert_eq!(tab_of("/clip/3#comments", None), "vote");
        assert_eq!(tab_of("/watch/1", None), "story");
    }
}
