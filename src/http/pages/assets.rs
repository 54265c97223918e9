//! Static files compiled into the binary (CSS, JS, icons) and the web app
//! manifest built from them at start, served under names that carry a hash
//! of their content, so they can be cached forever and a new build never
//! meets a stale copy. `/favicon.ico` and `/robots.txt` keep their fixed
//! names, as clients ask for them by name.
//!
//! The text assets (CSS, JS, SVG, the manifest) are kept in three forms:
//! identity, brotli and gzip, chosen per request by `Accept-Encoding` with
//! `Vary: Accept-Encoding`, so serving one does no compression work (issue
//! #16). The files of `static/` are compressed by `build.rs` at build time
//! at the best settings; the manifest, written here at start-up from the
//! icons' hashed URLs, is compressed once here (≈600 bytes: well under a
//! millisecond). The router's dynamic compression layer leaves these
//! answers alone: it never re-encodes a body that has a `Content-Encoding`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::response::{IMMUTABLE, PUBLIC_SHORT};
use crate::http::state::AppState;

struct Asset {
    url: String,
    content_type: &'static str,
    body: Bytes,
    /// The same body brotli- and gzip-encoded; `None` for images, which
    /// are compressed already, and where encoding would not make it smaller.
    brotli: Option<Bytes>,
    gzip: Option<Bytes>,
}

impl Asset {
    fn new(stem: &str, extension: &str, content_type: &'static str, body: Bytes) -> Self {
        let hash = blake3::hash(&body).to_hex();
        let url = format!("/static/{stem}.{}.{extension}", &hash[..12]);
        Asset { url, content_type, body, brotli: None, gzip: None }
    }

    /// An asset with its encoded forms (made by `build.rs` or [`brotli`]
    /// and [`gzip`]); an encoded form no smaller than the body is dropped.
    fn encoded(mut self, brotli: Bytes, gzip: Bytes) -> Self {
        let smaller = |encoded: Bytes| (encoded.len() < self.body.len()).then_some(encoded);
        (self.brotli, self.gzip) = (smaller(brotli), smaller(gzip));
        self
    }

    /// An asset with its forms compressed now (the manifest, at start-up).
    fn encoded_now(self) -> Self {
        let (brotli, gzip) = (brotli(&self.body), gzip(&self.body));
        self.encoded(brotli, gzip)
    }

    /// The body for a request's `Accept-Encoding`, and its coding: the
    /// acceptable form with the higher `q`, brotli on a tie (it is smaller).
    fn negotiate(&self, headers: &HeaderMap) -> (Option<&'static str>, Bytes) {
        let (brotli_q, gzip_q) = (quality(headers, "br"), quality(headers, "gzip"));
        let brotli = self.brotli.as_ref().filter(|_| brotli_q > 0.0);
        let gzip = self.gzip.as_ref().filter(|_| gzip_q > 0.0);
        match (brotli, gzip) {
            (Some(_), Some(gzip)) if gzip_q > brotli_q => (Some("gzip"), gzip.clone()),
            (Some(brotli), _) => (Some("br"), brotli.clone()),
            (None, Some(gzip)) => (Some("gzip"), gzip.clone()),
            (None, None) => (None, self.body.clone()),
        }
    }

    /// Whether the asset has encoded forms (and so varies by encoding).
    fn varies(&self) -> bool {
        self.brotli.is_some() || self.gzip.is_some()
    }
}

/// A file of `static/` with its `.br` and `.gz` forms from `build.rs`.
macro_rules! text_asset {
    ($stem:literal, $extension:literal, $content_type:expr) => {
        Asset::new(
            $stem,
            $extension,
            $content_type,
            Bytes::from_static(include_bytes!(concat!("../../../static/", $stem, ".", $extension))),
        )
        .encoded(
            Bytes::from_static(include_bytes!(concat!(env!("OUT_DIR"), "/", $stem, ".", $extension, ".br"))),
            Bytes::from_static(include_bytes!(concat!(env!("OUT_DIR"), "/", $stem, ".", $extension, ".gz"))),
        )
    };
}

/// The `q` of `coding` in `Accept-Encoding` (`x-gzip` counts as `gzip`), 0
/// when it is neither named nor covered by `*`.
fn quality(headers: &HeaderMap, coding: &str) -> f32 {
    let mut named = None;
    let mut any = None;
    let entries = headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|value| value.to_str().ok());
    for entry in entries.flat_map(|value| value.split(',')) {
        let mut parts = entry.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default().to_ascii_lowercase();
        let q = parts
            .find_map(|param| param.strip_prefix("q=").or_else(|| param.strip_prefix("Q=")))
            .map_or(1.0, |q| q.parse::<f32>().unwrap_or(0.0));
        if name == coding || (coding == "gzip" && name == "x-gzip") {
            named = Some(named.map_or(q, |seen: f32| seen.max(q)));
        } else if name == "*" {
            any = Some(q);
        }
    }
    named.or(any).unwrap_or(0.0)
}

/// Best-quality brotli of a body made at start-up.
fn brotli(body: &[u8]) -> Bytes {
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
    let mut out = Vec::new();
    match brotli::BrotliCompress(&mut &body[..], &mut out, &params) {
        Ok(_) => Bytes::from(out),
        // Writing into memory does not fail; if it did, the identity body
        // is served (an empty form is never smaller than a body).
        Err(_) => Bytes::from(body.to_vec()),
    }
}

/// Best-level gzip of a body made at start-up.
fn gzip(body: &[u8]) -> Bytes {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    match encoder.write_all(body).and_then(|()| encoder.finish()) {
        Ok(out) => Bytes::from(out),
        Err(_) => Bytes::from(body.to_vec()),
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
        let manifest_body = manifest_json(&icon_192.url, &icon_512.url);
        let manifest = Asset::new("manifest", "webmanifest", "application/manifest+json", Bytes::from(manifest_body))
            .encoded_now();
        Assets {
            css: text_asset!("app", "css", "text/css; charset=utf-8"),
            js: text_asset!("app", "js", JS),
            captcha_js: text_asset!("captcha", "js", JS),
            live_js: text_asset!("live", "js", JS),
            icon: text_asset!("icon", "svg", "image/svg+xml"),
            tally_js: text_asset!("tally", "js", JS),
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

/// `GET /static/{name}`: the form `Accept-Encoding` asks for, precompressed.
pub async fn serve_asset(State(state): State<AppState>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let requested = format!("/static/{name}");
    let Some(asset) = state.assets.all().into_iter().find(|asset| asset.url == requested) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (coding, body) = asset.negotiate(&headers);
    let mut response = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)), (header::CACHE_CONTROL, IMMUTABLE)],
        body,
    )
        .into_response();
    if let Some(coding) = coding {
        response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    if asset.varies() {
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    response
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

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn encodings_are_chosen_by_quality_and_refusals_are_kept() {
        let assets = Assets::new();
        let css = &assets.css;
        assert!(css.brotli.is_some() && css.gzip.is_some(), "build.rs compressed app.css");
        let coding = |value| css.negotiate(&accept(value)).0;
        assert_eq!(coding("gzip, deflate, br, zstd"), Some("br"));
        assert_eq!(coding("gzip"), Some("gzip"));
        assert_eq!(coding("x-gzip"), Some("gzip"));
        assert_eq!(coding("br;q=0.5, gzip;q=0.8"), Some("gzip"));
        assert_eq!(coding("br;q=0, *"), Some("gzip"));
        assert_eq!(coding("br;q=0, gzip;q=0"), None);
        assert_eq!(coding("identity"), None);
        assert_eq!(coding("deflate"), None);
        assert_eq!(css.negotiate(&HeaderMap::new()), (None, css.body.clone()));
        assert!(assets.manifest.brotli.is_some(), "the manifest is compressed at start-up");
        assert!(assets.icon_192.brotli.is_none() && !assets.icon_192.varies(), "PNGs are left alone");
    }

    #[test]
    fn encoded_forms_decode_to_the_body() {
        use std::io::Read;
        for asset in Assets::new().all() {
            if let Some(encoded) = &asset.brotli {
                let mut decoded = Vec::new();
                brotli::Decompressor::new(&encoded[..], 4096).read_to_end(&mut decoded).unwrap_or_default();
                assert_eq!(decoded, asset.body, "{}", asset.url);
            }
            if let Some(encoded) = &asset.gzip {
                let mut decoded = Vec::new();
                flate2::read::GzDecoder::new(&encoded[..]).read_to_end(&mut decoded).unwrap_or_default();
                assert_eq!(decoded, asset.body, "{}", asset.url);
            }
        }
    }
}
