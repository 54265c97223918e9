//! Static CSS and JS compiled into the binary, served under names that carry
//! a hash of their content, so they can be cached forever and a new build
//! never meets a stale copy.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::response::IMMUTABLE;
use crate::http::state::AppState;

struct Asset {
    url: String,
    content_type: &'static str,
    body: &'static [u8],
}

impl Asset {
    fn new(stem: &str, extension: &str, content_type: &'static str, body: &'static [u8]) -> Self {
        let hash = blake3::hash(body).to_hex();
        Asset { url: format!("/static/{stem}.{}.{extension}", &hash[..12]), content_type, body }
    }
}

/// The compiled-in assets.
pub struct Assets {
    css: Asset,
    js: Asset,
    captcha_js: Asset,
    live_js: Asset,
    tally_js: Asset,
}

impl Default for Assets {
    fn default() -> Self {
        Self::new()
    }
}

impl Assets {
    /// Hashes the compiled-in files once, at start.
    pub fn new() -> Self {
        Assets {
            css: Asset::new("app", "css", "text/css; charset=utf-8", include_bytes!("../../../static/app.css")),
            js: Asset::new("app", "js", "text/javascript; charset=utf-8", include_bytes!("../../../static/app.js")),
            captcha_js: Asset::new(
                "captcha",
                "js",
                "text/javascript; charset=utf-8",
                include_bytes!("../../../static/captcha.js"),
            ),
            live_js: Asset::new(
                "live",
                "js",
                "text/javascript; charset=utf-8",
                include_bytes!("../../../static/live.js"),
            ),
            tally_js: Asset::new(
                "tally",
                "js",
                "text/javascript; charset=utf-8",
                include_bytes!("../../../static/tally.js"),
            ),
        }
    }

    /// URL of the stylesheet.
    pub fn css_url(&self) -> &str {
        &self.css.url
    }

    /// URL of the script.
    pub fn js_url(&self) -> &str {
        &self.js.url
    }

    /// URL of the captcha solver.
    pub fn captcha_js_url(&self) -> &str {
        &self.captcha_js.url
    }

    /// URL of the live-update script (arena and story pages).
    pub fn live_js_url(&self) -> &str {
        &self.live_js.url
    }

    /// URL of the receipt check against published tallies (story page).
    pub fn tally_js_url(&self) -> &str {
        &self.tally_js.url
    }
}

/// `GET /static/{name}`.
pub async fn serve_asset(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let requested = format!("/static/{name}");
    let asset =
        [&state.assets.css, &state.assets.js, &state.assets.captcha_js, &state.assets.live_js, &state.assets.tally_js]
            .into_iter()
            .find(|asset| asset.url == requested);
    match asset {
        Some(asset) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)), (header::CACHE_CONTROL, IMMUTABLE)],
            asset.body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
