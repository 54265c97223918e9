//! `[media] base_url` (issue #17): with it set, every URL of a public clip's
//! video and poster — JSON, pages, the film player, live events — points at
//! `{base_url}/media/{name}`, the content security policy allows that
//! origin, pending clips keep origin URLs, and the origin's `/media/` keeps
//! serving the files (it is what the CDN pulls from).

use serde_json::Value;

use crate::helpers::{SHORT_MP4, SpawnOptions, TestApp, spawn_with};

const CDN: &str = "https://cdn.example.net/zone";

async fn app_with_a_cdn() -> TestApp {
    spawn_with(SpawnOptions {
        env: vec![("AIMOVIEZ_MEDIA_BASE_URL".to_owned(), format!("{CDN}/"))],
        ..SpawnOptions::default()
    })
    .await
}

fn assert_on_cdn(url: &Value, what: &str) -> String {
    let url = url.as_str().unwrap_or_else(|| panic!("{what}: {url}"));
    assert!(url.starts_with(&format!("{CDN}/media/")), "{what}: {url}");
    url.to_owned()
}

#[tokio::test]
async fn public_media_urls_point_at_the_base_url_and_the_origin_still_serves_them() {
    let app = app_with_a_cdn().await;
    let clip = app.clip_ids().await[0];

    let json = app.get_json(&format!("/api/clips/{clip}")).await;
    let video = assert_on_cdn(&json["videoUrl"], "/api/clips videoUrl");
    let poster = assert_on_cdn(&json["posterUrl"], "/api/clips posterUrl");
    for feed_clip in app.feed().await["clips"].as_array().expect("clips") {
        assert_on_cdn(&feed_clip["videoUrl"], "feed videoUrl");
        assert_on_cdn(&feed_clip["posterUrl"], "feed posterUrl");
    }
    let search = app.get_json("/api/search?q=").await;
    for found in search["clips"].as_array().expect("clips") {
        assert_on_cdn(&found["videoUrl"], "search videoUrl");
    }

    // Pages: the arena, the clip page and the story page load media from the CDN only.
    for page in ["/".to_owned(), format!("/clip/{clip}"), "/story".to_owned()] {
        let response = app.get(&page).await;
        let policy = response.headers()["content-security-policy"].to_str().expect("csp").to_owned();
        assert!(policy.contains("media-src 'self' blob: https://cdn.example.net;"), "{page}: {policy}");
        assert!(policy.contains("img-src 'self' data: https://cdn.example.net;"), "{page}: {policy}");
        let html = response.text().await.expect("html");
        assert!(page == "/story" || html.contains(&format!("{CDN}/media/")), "{page}: no CDN URL");
        assert!(!html.contains("\"/media/"), "{page}: an origin media URL left in the page");
    }
    let clip_page = app.get(&format!("/clip/{clip}")).await.text().await.expect("html");
    assert!(clip_page.contains(&format!("src=\"{video}\"")), "the clip page's <video src>");
    assert!(clip_page.contains(&poster), "the clip page's poster");

    // The origin keeps serving what the CDN pulls.
    let origin_path = video.strip_prefix(CDN).expect("path under the base URL");
    let file = app.get(origin_path).await;
    assert_eq!(file.status(), 200);
    assert!(!file.bytes().await.expect("bytes").is_empty());
}

#[tokio::test]
async fn a_pending_clip_keeps_origin_urls_because_a_cdn_cannot_fetch_it() {
    let app = app_with_a_cdn().await;
    let creator = app.signed_in("uploader").await;
    let pending = app.upload(&creator, SHORT_MP4, "Not yet approved").await;
    let mine = creator.get(app.url("/api/profile/clips")).send().await.expect("own clips");
    let mine: Value = mine.json().await.expect("json");
    let clip =
        mine["clips"].as_array().expect("clips").iter().find(|c| c["id"] == pending).expect("the upload").clone();
    let video = clip["videoUrl"].as_str().expect("videoUrl");
    assert!(video.starts_with("/media/"), "{video}");
    assert!(clip["posterUrl"].as_str().expect("posterUrl").starts_with("/media/"));
    // Anonymous (a CDN's pull) gets nothing; the creator gets the file from the origin.
    assert_eq!(app.get(video).await.status(), 404);
    assert_eq!(creator.get(app.url(video)).send().await.expect("own file").status(), 200);
}

#[tokio::test]
async fn without_a_base_url_media_stays_on_the_origin() {
    let app = spawn_with(SpawnOptions::default()).await;
    let clip = app.clip_ids().await[0];
    let json = app.get_json(&format!("/api/clips/{clip}")).await;
    assert!(json["videoUrl"].as_str().expect("videoUrl").starts_with("/media/"));
    let page = app.get(&format!("/clip/{clip}")).await;
    let policy = page.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(policy.contains("media-src 'self' blob:;"), "{policy}");
}

/// Sharing tags need absolute URLs: with `public_url` set and media on a CDN,
/// the clip page's and the film page's `og:image`/`og:video` are the CDN's
/// URLs as they are, and the page's own URL is under `public_url`.
#[tokio::test]
async fn sharing_tags_carry_cdn_urls_whole_on_clip_and_film_pages() {
    let app = spawn_with(SpawnOptions {
        demo: Some(aimoviez::demo::DemoOptions { total_slots: 2, slot_duration_secs: 1 }),
        env: vec![
            ("AIMOVIEZ_MEDIA_BASE_URL".to_owned(), CDN.to_owned()),
            ("AIMOVIEZ_PUBLIC_URL".to_owned(), "https://film.example.org".to_owned()),
        ],
        ..SpawnOptions::default()
    })
    .await;
    app.eventually(10, "the two-slot film to finish", || async {
        app.get_json("/api/story").await["season"].is_null()
    })
    .await;
    let pages = [("/clip/1", "https://film.example.org/clip/1"), ("/watch/1", "https://film.example.org/watch/1")];
    for (page, own_url) in pages {
        let html = app.get(page).await.text().await.expect("html");
        assert!(html.contains(&format!("<meta property=\"og:url\" content=\"{own_url}\">")), "{page}: {html}");
        for tag in ["property=\"og:image\"", "property=\"og:video\"", "name=\"twitter:image\""] {
            let whole = format!("<meta {tag} content=\"{CDN}/media/");
            assert!(html.contains(&whole), "{page}: {tag} is not the CDN's URL whole: {html}");
        }
        assert!(html.contains("<meta property=\"og:title\""), "{page}");
        assert!(!html.contains("https://film.example.orghttps://"), "{page}: an origin glued to a CDN URL");
    }
}
