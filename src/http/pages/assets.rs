//! Static files compiled into the binary (CSS, JS, icons) and the web app
//! manifest built from them at start, served under names that carry a hash
//! of their content, so they can be cached forever and a new build never
//! meets a stale copy. `/favicon.ico` and `/robots.txt` keep their fixed
//! names, as clients ask for them by name.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::response::{IMMUTABLE, PUBLIC_SHORT};
use crate::http::state::AppState;

struct Asset {
    url: String,
    content_type: &'static str,
    body: Bytes,
}

impl Asset {
    fn new(stem: &str, extension: &str, content_type: &'static str, body: Bytes) -> Self {
        let hash = blake3::hash(&body).to_hex();
        Asset { url: format!("/static/{stem}.{}.{extension}", &hash[..12]), content_type, body }
    }
}

const JS: &str = "text/javascript; charset=utf-8";
const PNG: &str = "image/png";

/// The compiled-in assets.
pub struct Assets {
    css: Asset,
    js: Asset,
    captcha_js: Asset,
    live_js: Asset,
    tally_js: Asset,
    icon: Asset,
    touch_icon: Asset,
    icon_192: Asset,
    icon_512: Asset,
    manifest: Asset,
}

impl Default for Assets {
    fn default() -> Self {
        Self::new()
    }
}

impl Assets {
    /// Hashes the compiled-in files once, at start, and writes the manifest
    /// that names the icons by their hashed URLs.
    pub fn new() -> Self {
        let icon_192 =
            Asset::new("icon-192", "png", PNG, Bytes::from_static(include_bytes!("../../../static/icon-192.png")));
        let icon_512 =
            Asset::new("icon-512", "png", PNG, Bytes::from_static(include_bytes!("../../../static/icon-512.png")));
        let manifest = Asset::new(
            "manifest",
            "webmanifest",
            "application/manifest+json",
            Bytes::from(manifest_json(&icon_192.url, &icon_512.url)),
        );
        Assets {
            css: Asset::new(
                "app",
                "css",
                "text/css; charset=utf-8",
                Bytes::from_static(include_bytes!("../../../static/app.css")),
            ),
            js: Asset::new("app", "js", JS, Bytes::from_static(include_bytes!("../../../static/app.js"))),
            captcha_js: Asset::new(
                "captcha",
                "js",
                JS,
                Bytes::from_static(include_bytes!("../../../static/captcha.js")),
            ),
            live_js: Asset::new("live", "js", JS, Bytes::from_static(include_bytes!("../../../static/live.js"))),
            icon: Asset::new(
                "icon",
                "svg",
                "image/svg+xml",
                Bytes::from_static(include_bytes!("../../../static/icon.svg")),
            ),
            tally_js: Asset::new("tally", "js", JS, Bytes::from_static(include_bytes!("../../../static/tally.js"))),
            touch_icon: Asset::new(
                "icon-180",
                "png",
                PNG,
                Bytes::from_static(include_bytes!("../../../static/icon-180.png")),
            ),
            icon_192,
            icon_512,
            manifest,
        }
    }

    fn all(&self) -> [&Asset; 10] {
        [
            &self.css,
            &self.js,
            &self.captcha_js,
            &self.live_js,
            &self.tally_js,
            &self.icon,
            &self.touch_icon,
            &self.icon_192,
            &self.icon_512,
            &self.manifest,
        ]
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
    /// URL of the SVG icon.
    pub fn icon_url(&self) -> &str {
        &self.icon.url
    }

    /// URL of the 180 px icon for iOS home screens.
    pub fn touch_icon_url(&self) -> &str {
        &self.touch_icon.url
    }

    /// URL of the web app manifest.
    pub fn manifest_url(&self) -> &str {
        &self.manifest.url
    }
}

/// The web app manifest: enough for browsers to offer "install" (a name,
/// a start URL, standalone display and 192/512 px icons).
fn manifest_json(icon_192: &str, icon_512: &str) -> String {
    serde_json::json!({
        "name": "aimoviez",
        "short_name": "aimoviez",
        "description": "Vote on short clips, scene by scene, and watch the film your votes make.",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#0e0f13",
        "theme_color": "#0e0f13",
        "icons": [
            { "src": icon_192, "sizes": "192x192", "type": "image/png", "purpose": "any" },
            { "src": icon_512, "sizes": "512x512", "type": "image/png", "purpose": "any" },
            { "src": icon_512, "sizes": "512x512", "type": "image/png", "purpose": "maskable" },
        ],
    })
    .to_string()
}

/// `GET /static/{name}`.
pub async fn serve_asset(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let requested = format!("/static/{name}");
    match state.assets.all().into_iter().find(|asset| asset.url == requested) {
        Some(asset) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)), (header::CACHE_CONTROL, IMMUTABLE)],
            asset.body.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /favicon.ico`: the 192 px icon, for clients that ask by that name.
pub async fn favicon(State(state): State<AppState>) -> Response {
    let icon = &state.assets.icon_192;
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(icon.content_type)), (header::CACHE_CONTROL, PUBLIC_DAY)],
        icon.body.clone(),
    )
        .into_response()
}

/// A fixed-name file that may change with a release: a day in caches.
const PUBLIC_DAY: HeaderValue = HeaderValue::from_static("public, max-age=86400");

/// `GET /robots.txt`: everything public may be indexed; the admin console,
/// the API and personal pages may not.
pub async fn robots() -> Response {
    const ROBOTS: &str = "User-agent: *\nAllow: /\nDisallow: /admin\nDisallow: /api/\nDisallow: /settings\nDisallow: /notifications\nDisallow: /profile\n";
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8")),
            (header::CACHE_CONTROL, PUBLIC_SHORT),
        ],
        ROBOTS,
    )
        .into_response()
}
