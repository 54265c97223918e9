//! Compression of text answers (issue #16): pages and JSON in brotli or
//! gzip as `Accept-Encoding` asks and identity when it does not; the live
//! stream and media never compressed; static assets precompressed, the same
//! bytes every time. The client decodes nothing itself (reqwest is built
//! without its decoders), so these are the bytes on the wire.

use std::io::Read;

use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, RANGE, VARY};
use reqwest::{Response, StatusCode};

use crate::helpers::{TestApp, spawn_app};

fn brotli_decode(bytes: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    brotli::Decompressor::new(bytes, 4096).read_to_end(&mut decoded).expect("valid brotli");
    decoded
}

fn gzip_decode(bytes: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut decoded).expect("valid gzip");
    decoded
}

async fn get_encoded(app: &TestApp, path: &str, accept: Option<&str>) -> Response {
    let mut request = app.client.get(app.url(path));
    if let Some(accept) = accept {
        request = request.header(ACCEPT_ENCODING, accept);
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK, "{path} ({accept:?})");
    response
}

fn encoding(response: &Response) -> Option<&str> {
    response.headers().get(CONTENT_ENCODING).map(|value| value.to_str().expect("ascii"))
}

fn varies_by_encoding(response: &Response) -> bool {
    response
        .headers()
        .get_all(VARY)
        .iter()
        .any(|value| value.to_str().expect("ascii").to_ascii_lowercase().contains("accept-encoding"))
}

/// The identity body of `path`, then its brotli and gzip forms decoded:
/// for answers that do not change between three requests, all equal.
async fn three_forms(app: &TestApp, path: &str) -> [Vec<u8>; 3] {
    let identity = get_encoded(app, path, None).await;
    assert_eq!(encoding(&identity), None, "{path}: identity unless asked");
    assert!(varies_by_encoding(&identity), "{path}: Vary: Accept-Encoding on the identity form too");
    let identity = identity.bytes().await.expect("body").to_vec();
    assert!(identity.len() > 1024, "{path}: large enough to be worth compressing");

    let brotli = get_encoded(app, path, Some("gzip, deflate, br, zstd")).await;
    assert_eq!(encoding(&brotli), Some("br"), "{path}: brotli preferred");
    assert!(varies_by_encoding(&brotli), "{path}");
    let brotli = brotli.bytes().await.expect("body");
    assert!(brotli.len() < identity.len(), "{path}: smaller compressed");

    let gzip = get_encoded(app, path, Some("gzip")).await;
    assert_eq!(encoding(&gzip), Some("gzip"), "{path}");
    let gzip = gzip.bytes().await.expect("body");
    [identity, brotli_decode(&brotli), gzip_decode(&gzip)]
}

#[tokio::test]
async fn pages_and_json_are_compressed_as_asked_and_decode_to_the_identity_body() {
    let app = spawn_app().await;
    // The same for every anonymous visitor within the minute: the three
    // forms must decode to the very same bytes.
    for path in ["/story", "/api/story", "/api/openapi.json"] {
        let [identity, brotli, gzip] = three_forms(&app, path).await;
        assert_eq!(brotli, identity, "{path}: brotli decodes to the identity body");
        assert_eq!(gzip, identity, "{path}: gzip decodes to the identity body");
    }
    // The arena is the visitor's own page (a fresh form token each time):
    // compressed too, and decodes to a whole page.
    let [identity, brotli, gzip] = three_forms(&app, "/").await;
    for page in [identity, brotli, gzip] {
        let page = String::from_utf8(page).expect("UTF-8 HTML");
        assert!(page.trim_end().ends_with("</html>"), "a whole page");
    }
}

#[tokio::test]
async fn small_answers_and_refused_codings_stay_identity() {
    let app = spawn_app().await;
    let health = get_encoded(&app, "/api/health", Some("br, gzip")).await;
    assert_eq!(encoding(&health), None, "a tiny body is not worth compressing");
    let refused = get_encoded(&app, "/api/openapi.json", Some("br;q=0, gzip;q=0")).await;
    assert_eq!(encoding(&refused), None, "q=0 refuses a coding");
    let unknown = get_encoded(&app, "/api/openapi.json", Some("deflate")).await;
    assert_eq!(encoding(&unknown), None, "only br and gzip are offered");
    serde_json::from_slice::<serde_json::Value>(&unknown.bytes().await.expect("body")).expect("plain JSON");
}

#[tokio::test]
async fn the_live_stream_is_never_compressed_and_still_delivers_events() {
    let app = spawn_app().await;
    let mut response =
        app.client.get(app.url("/api/live")).header(ACCEPT_ENCODING, "br, gzip").send().await.expect("connect");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/event-stream");
    assert_eq!(encoding(&response), None, "SSE must flush event by event");
    let mut text = String::new();
    while !text.contains("event: ") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), response.chunk())
            .await
            .expect("an event within 10 s")
            .expect("chunk")
            .expect("stream open");
        text.push_str(std::str::from_utf8(&chunk).expect("plain UTF-8 text, not a compressed stream"));
    }
}

#[tokio::test]
async fn media_is_never_compressed_whole_or_in_ranges() {
    let app = spawn_app().await;
    let url = app.feed().await["clips"][0]["videoUrl"].as_str().expect("videoUrl").to_owned();
    let bytes = std::fs::read(app.data_dir().join("media").join(url.trim_start_matches("/media/"))).expect("file");
    let range = app
        .client
        .get(app.url(&url))
        .header(ACCEPT_ENCODING, "br, gzip")
        .header(RANGE, "bytes=0-1999")
        .send()
        .await
        .expect("range");
    assert_eq!(range.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(encoding(&range), None);
    assert_eq!(range.bytes().await.expect("body").as_ref(), &bytes[..2000]);
    let whole = get_encoded(&app, &url, Some("br, gzip")).await;
    assert_eq!(encoding(&whole), None);
    assert_eq!(whole.bytes().await.expect("body").as_ref(), bytes.as_slice());
}

/// The hashed URL of an asset named in the arena page, e.g. `/static/app.`.
async fn asset_url(app: &TestApp, prefix: &str, extension: &str) -> String {
    let page = app.get("/").await.text().await.expect("page");
    let url = page.split('"').find(|quoted| quoted.starts_with(prefix) && quoted.ends_with(extension));
    url.unwrap_or_else(|| panic!("{prefix}…{extension} in the page")).to_owned()
}

#[tokio::test]
async fn static_assets_are_precompressed_the_same_bytes_every_time() {
    let app = spawn_app().await;
    let css = asset_url(&app, "/static/app.", ".css").await;
    let js = asset_url(&app, "/static/app.", ".js").await;
    let manifest = asset_url(&app, "/static/manifest.", ".webmanifest").await;
    let files: [(&str, &[u8]); 2] =
        [(&css, include_bytes!("../../static/app.css")), (&js, include_bytes!("../../static/app.js"))];
    for (url, file) in files {
        let identity = get_encoded(&app, url, None).await;
        assert_eq!(encoding(&identity), None, "{url}");
        assert!(varies_by_encoding(&identity), "{url}");
        assert_eq!(identity.bytes().await.expect("body").as_ref(), file, "{url}: the file itself");
        let mut brotli_forms = Vec::new();
        for _ in 0..2 {
            let brotli = get_encoded(&app, url, Some("br, gzip")).await;
            assert_eq!(encoding(&brotli), Some("br"), "{url}");
            assert!(varies_by_encoding(&brotli), "{url}");
            brotli_forms.push(brotli.bytes().await.expect("body"));
        }
        assert_eq!(brotli_forms[0], brotli_forms[1], "{url}: one precompressed body, not compressed per request");
        assert_eq!(brotli_decode(&brotli_forms[0]), file, "{url}");
        let gzip = get_encoded(&app, url, Some("gzip")).await;
        assert_eq!(encoding(&gzip), Some("gzip"), "{url}");
        assert_eq!(gzip_decode(&gzip.bytes().await.expect("body")), file, "{url}");
    }
    let compressed = get_encoded(&app, &manifest, Some("br")).await;
    assert_eq!(encoding(&compressed), Some("br"), "the manifest too");
    let decoded = brotli_decode(&compressed.bytes().await.expect("body"));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&decoded).expect("JSON")["name"], "aimoviez");
}

/// Found by Schemathesis in CI: a locked slot's tally export is a stream
/// that ends once; compressed, the encoder polled it again after its end and
/// the server panicked mid-answer. Each encoding now comes back whole.
#[tokio::test]
async fn a_streamed_tally_export_is_compressed_whole() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];
    for voter in 1..=12 {
        assert_eq!(app.vote_as(clip, Some(&format!("203.0.113.{voter}")), "standard").await.status(), 200);
    }
    app.create_admin("boss", "correct horse battery").await;
    let admin = app.log_in("boss", "correct horse battery").await;
    assert_eq!(admin.post(app.url("/api/admin/slots/advance")).send().await.expect("advance").status(), 200);
    let season = app.get_json("/api/story").await["season"]["id"].as_u64().expect("season id");
    let path = format!("/api/tally/{season}/1");

    let identity = get_encoded(&app, &path, None).await.bytes().await.expect("identity body").to_vec();
    assert_eq!(String::from_utf8_lossy(&identity).lines().count(), 12, "one line per vote");
    let brotli = get_encoded(&app, &path, Some("br")).await;
    assert_eq!(encoding(&brotli), Some("br"));
    assert_eq!(brotli_decode(&brotli.bytes().await.expect("whole brotli body")), identity);
    let gzip = get_encoded(&app, &path, Some("gzip")).await;
    assert_eq!(encoding(&gzip), Some("gzip"));
    assert_eq!(gzip_decode(&gzip.bytes().await.expect("whole gzip body")), identity);
}
