//! The creator pipeline over HTTP: uploads, moderation, search, profiles.

use serde_json::{Value, json};

use crate::helpers::{LONG_MP4, SHORT_MP4, SHORT_WEBM, assert_error, spawn_app, upload_form};

const PASSWORD: &str = "correct horse battery";

fn media_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.filter_map(Result::ok).map(|e| if e.path().is_dir() { media_files(&e.path()) } else { 1 }).sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn mp4_and_webm_uploads_become_pending_then_searchable_after_approval() {
    let app = spawn_app().await;
    let creator = app.signed_in("maker").await;
    let mp4 = app.upload(&creator, SHORT_MP4, "Harbour lights").await;
    let webm = app.upload(&creator, SHORT_WEBM, "Static bloom").await;
    let mine: Value =
        creator.get(app.url("/api/profile/clips")).send().await.expect("mine").json().await.expect("json");
    let statuses: Vec<&str> =
        mine["clips"].as_array().expect("clips").iter().filter_map(|c| c["creatorStatus"].as_str()).collect();
    assert_eq!(statuses, vec!["pending", "pending"]);
    assert_error(app.get(&format!("/api/clips/{mp4}")).await, 404, "not_found").await;

    // Pending clips are never indexed: still absent after an index commit.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let pending_search: Value = app.get_json("/api/search?q=harbour").await;
    assert_eq!(pending_search["clips"].as_array().map(Vec::len), Some(0), "pending clips are not searchable");

    // The test voter is shown the four demo clips before the approval.
    assert_eq!(app.clip_ids().await.len(), 4);
    app.create_admin("boss", PASSWORD).await;
    let admin = app.log_in("boss", PASSWORD).await;
    let queue: Value =
        admin.get(app.url("/api/admin/clips?status=pending")).send().await.expect("queue").json().await.expect("json");
    assert_eq!(queue["clips"].as_array().map(Vec::len), Some(2));
    let approved = admin.post(app.url(&format!("/api/admin/clips/{mp4}/approve"))).send().await.expect("approve");
    assert_eq!(approved.status(), 200);
    let rejected = admin
        .post(app.url(&format!("/api/admin/clips/{webm}/reject")))
        .json(&json!({"reason": "too blurry"}))
        .send()
        .await
        .expect("reject");
    assert_eq!(rejected.status(), 200);
    // Having seen the four demo clips, the voter gets the fresh, unseen clip
    // first in the very next feed request.
    let next: Value = app.get_json("/api/vote?limit=1").await;
    assert_eq!(next["clips"][0]["id"], mp4, "{next}");
    assert!(app.clip_ids().await.contains(&mp4), "approved clip joins the open slot");

    app.eventually(5, "the approved clip to be searchable", || async {
        let found: Value = app.get_json("/api/search?q=harbour").await;
        found["clips"].as_array().is_some_and(|clips| clips.iter().any(|c| c["id"] == mp4))
    })
    .await;
    let typo: Value = app.get_json("/api/search?q=harbur").await;
    assert!(typo["clips"].as_array().is_some_and(|clips| clips.iter().any(|c| c["id"] == mp4)), "typo-tolerant");
    let prefix: Value = app.get_json("/api/search?q=harb").await;
    assert!(prefix["clips"].as_array().is_some_and(|clips| clips.iter().any(|c| c["id"] == mp4)), "prefix");
    let by_creator: Value = app.get_json("/api/search?q=maker&genre=sci-fi").await;
    assert!(by_creator["clips"].as_array().is_some_and(|clips| clips.iter().any(|c| c["id"] == mp4)));
    let rejected_hidden: Value = app.get_json("/api/search?q=bloom").await;
    assert_eq!(rejected_hidden["clips"].as_array().map(Vec::len), Some(0));
    assert_error(app.get("/api/search?limit=101").await, 400, "invalid_request").await;

    let mine: Value =
        creator.get(app.url("/api/profile/clips")).send().await.expect("mine").json().await.expect("json");
    let clips = mine["clips"].as_array().expect("clips");
    let webm_entry = clips.iter().find(|c| c["id"] == webm).expect("webm listed");
    assert_eq!(webm_entry["creatorStatus"], "rejected");
    assert_eq!(webm_entry["rejectionReason"], "too blurry");
    assert_eq!(clips.iter().find(|c| c["id"] == mp4).expect("mp4")["creatorStatus"], "live");

    // Rejecting an approved clip removes it from search too.
    let reject_live = admin
        .post(app.url(&format!("/api/admin/clips/{mp4}/reject")))
        .json(&json!({"reason": "rights"}))
        .send()
        .await
        .expect("reject");
    assert_eq!(reject_live.status(), 200);
    app.eventually(5, "the rejected clip to leave search", || async {
        let found: Value = app.get_json("/api/search?q=harbour").await;
        found["clips"].as_array().is_some_and(Vec::is_empty)
    })
    .await;
}

#[tokio::test]
async fn refused_uploads_leave_nothing_behind() {
    let app = spawn_app().await;
    let media = app.data_dir().join("media");
    let before = media_files(&media);
    let anonymous = app
        .client
        .post(app.url("/api/upload"))
        .multipart(upload_form(SHORT_MP4, "a.mp4", "Anon", "sci-fi"))
        .send()
        .await;
    assert_error(anonymous.expect("upload"), 401, "auth_required").await;
    let creator = app.signed_in("uploader").await;
    let cases: Vec<(reqwest::multipart::Form, u16, &str)> = vec![
        (
            upload_form(b"<html><script>alert(1)</script></html>", "evil.mp4", "Evil", "sci-fi"),
            415,
            "unsupported_media_type",
        ),
        (upload_form(LONG_MP4, "long.mp4", "Too long", "sci-fi"), 400, "invalid_request"),
        (upload_form(SHORT_MP4, "ok.mp4", "Bad genre", "polka"), 400, "invalid_request"),
        (upload_form(SHORT_MP4, "ok.mp4", "", "sci-fi"), 400, "invalid_request"),
        (upload_form(&SHORT_MP4[..300], "cut.mp4", "Truncated", "sci-fi"), 400, "invalid_request"),
    ];
    for (form, status, code) in cases {
        let response = creator.post(app.url("/api/upload")).multipart(form).send().await.expect("upload");
        assert_error(response, status, code).await;
    }
    let not_multipart = creator.post(app.url("/api/upload")).json(&json!({"title": "x"})).send().await.expect("upload");
    assert_error(not_multipart, 415, "unsupported_media_type").await;
    assert_eq!(media_files(&media), before, "no file was left by a refused upload");
    let mine: Value =
        creator.get(app.url("/api/profile/clips")).send().await.expect("mine").json().await.expect("json");
    assert_eq!(mine["clips"].as_array().map(Vec::len), Some(0), "no record either");
}

#[tokio::test]
async fn an_upload_over_the_cap_is_refused_while_streaming() {
    let app = crate::helpers::spawn_with(crate::helpers::SpawnOptions {
        env: vec![("AIMOVIEZ_MEDIA_MAX_UPLOAD_MB".into(), "1".into())],
        ..crate::helpers::SpawnOptions::default()
    })
    .await;
    let creator = app.signed_in("big_uploader").await;
    // A 3 MiB body sent as a stream: the server must answer 413 without
    // taking it all, and keep nothing.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..48).map(|_| Ok(vec![0u8; 64 * 1024])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let part = reqwest::multipart::Part::stream(body).file_name("huge.mp4");
    let form = reqwest::multipart::Form::new().text("title", "Huge").text("genre", "sci-fi").part("file", part);
    let response = creator.post(app.url("/api/upload")).multipart(form).send().await;
    match response {
        Ok(response) => {
            assert_error(response, 413, "payload_too_large").await;
        }
        // The server may close the connection before the client finished sending.
        Err(error) => assert!(error.is_request() || error.is_body(), "{error}"),
    };
    let incoming = app.data_dir().join("media").join(".incoming");
    assert_eq!(media_files(&incoming), 0, "the temp file is gone");
}

#[tokio::test]
async fn uploads_need_an_open_season() {
    let app = crate::helpers::spawn_with(crate::helpers::SpawnOptions { demo: None, ..Default::default() }).await;
    let creator = app.signed_in("early_bird").await;
    let response =
        creator.post(app.url("/api/upload")).multipart(upload_form(SHORT_MP4, "a.mp4", "Early", "sci-fi")).send().await;
    assert_error(response.expect("upload"), 409, "conflict").await;
    // The page says so and offers no form to fill in vain (issue #13).
    let page = creator.get(app.url("/upload")).send().await.expect("page").text().await.expect("html");
    assert!(page.contains("uploads open with the next season"), "{page}");
    assert!(page.contains(r#"<fieldset class="stack" disabled aria-describedby="upload-closed">"#), "{page}");
}

#[tokio::test]
async fn a_public_profile_lists_the_approved_clips_and_my_profile_links_mine() {
    let app = spawn_app().await;
    let creator = app.signed_in("gridmaker").await;
    let approved = app.upload(&creator, SHORT_MP4, "Tide pools").await;
    let pending = app.upload(&creator, SHORT_WEBM, "Not yet seen").await;
    let html = app.get("/u/gridmaker").await.text().await.expect("html");
    assert!(html.contains("No approved clips yet."), "pending clips are not public: {html}");
    assert!(!html.contains("Tide pools") && !html.contains("Not yet seen"));

    app.create_admin("gridboss", PASSWORD).await;
    let admin = app.log_in("gridboss", PASSWORD).await;
    let response = admin.post(app.url(&format!("/api/admin/clips/{approved}/approve"))).send().await.expect("approve");
    assert_eq!(response.status(), 200);
    let html = app.get("/u/gridmaker").await.text().await.expect("html");
    assert!(html.contains(&format!("<a href=\"/clip/{approved}\">")), "the approved clip is linked: {html}");
    assert!(html.contains("Tide pools") && html.contains("0 votes"));
    assert!(!html.contains("Not yet seen"), "the pending one is still not listed");

    let mine = creator.get(app.url("/profile")).send().await.expect("profile").text().await.expect("html");
    assert!(mine.contains(&format!("<a href=\"/clip/{approved}\">")), "my approved clip is linked: {mine}");
    assert!(!mine.contains(&format!("/clip/{pending}\"")), "a pending clip has no public page to link");
    assert!(mine.contains("Not yet seen"), "but it is listed for me");
}
