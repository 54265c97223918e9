//! Who gets which media file, and what an upload must be (issue #14):
//! unapproved media is private, refused or rejected files leave the disk,
//! shared bytes stay while a clip uses them, the HTML form is signed,
//! pending uploads are capped, and stored MP4s are faststart with honest
//! durations and no payload riding along.

use std::path::{Path, PathBuf};

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, SHORT_MP4, SHORT_WEBM, SpawnOptions, TestApp, assert_error, form_token, spawn_app, spawn_with,
    upload_form,
};

const TWENTY_SECONDS_MP4: &[u8] = include_bytes!("../../data/demo/test-twenty-seconds.mp4");
const MOOV_AT_END_MP4: &[u8] = include_bytes!("../../data/demo/test-moov-at-end.mp4");

/// The video and poster URLs of `clip` in `client`'s own clip list.
async fn urls_of(app: &TestApp, client: &reqwest::Client, clip: u64) -> (String, String) {
    let mine: Value = client.get(app.url("/api/profile/clips")).send().await.expect("mine").json().await.expect("json");
    let entry = mine["clips"].as_array().expect("clips").iter().find(|c| c["id"] == clip).expect("listed").clone();
    (
        entry["videoUrl"].as_str().expect("videoUrl").to_owned(),
        entry["posterUrl"].as_str().expect("posterUrl").to_owned(),
    )
}

/// The file behind a `/media/...` URL.
fn file_of(app: &TestApp, url: &str) -> PathBuf {
    app.data_dir().join("media").join(url.strip_prefix("/media/").expect("a media url"))
}

async fn status_and_cache(client: &reqwest::Client, url: String) -> (u16, String) {
    let response = client.get(url).send().await.expect("media");
    let cache = response
        .headers()
        .get("cache-control")
        .map(|value| value.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), cache)
}

async fn wait_gone(app: &TestApp, path: &Path) {
    app.eventually(5, &format!("{} to be removed", path.display()), || async { !path.exists() }).await;
}

#[tokio::test]
async fn pending_media_goes_to_its_creator_and_admins_only_until_approval() {
    let app = spawn_app().await;
    let creator = app.signed_in("maker").await;
    let stranger = app.signed_in("stranger").await;
    let admin = app.admin().await;
    let clip = app.upload(&creator, SHORT_MP4, "Harbour lights").await;
    let (video, poster) = urls_of(&app, &creator, clip).await;

    for url in [&video, &poster] {
        assert_eq!(status_and_cache(&app.client, app.url(url)).await, (404, "private, no-store".into()), "anonymous");
        assert_eq!(status_and_cache(&stranger, app.url(url)).await.0, 404, "another account");
        assert_eq!(status_and_cache(&creator, app.url(url)).await, (200, "private, no-store".into()), "its creator");
        assert_eq!(status_and_cache(&admin, app.url(url)).await, (200, "private, no-store".into()), "an admin");
    }
    app.moderate(&admin, clip, "approve").await;
    for url in [&video, &poster] {
        let (status, cache) = status_and_cache(&app.client, app.url(url)).await;
        assert_eq!(status, 200, "approved media is public");
        assert!(cache.contains("public") && cache.contains("immutable"), "{cache}");
    }
    // Rejected after approval: refused to everyone and removed from disk.
    let path = file_of(&app, &video);
    assert!(path.exists());
    app.moderate(&admin, clip, "reject").await;
    assert_eq!(status_and_cache(&app.client, app.url(&video)).await.0, 404);
    assert_eq!(status_and_cache(&admin, app.url(&video)).await.0, 404);
    wait_gone(&app, &path).await;
    wait_gone(&app, &file_of(&app, &poster)).await;
}

#[tokio::test]
async fn a_rejected_clips_file_stays_while_another_clip_uses_the_same_bytes() {
    let app = spawn_app().await;
    let first = app.signed_in("first_maker").await;
    let second = app.signed_in("second_maker").await;
    let admin = app.admin().await;
    let one = app.upload(&first, SHORT_WEBM, "Static bloom").await;
    let two = app.upload(&second, SHORT_WEBM, "Static bloom again").await;
    let (video, _) = urls_of(&app, &first, one).await;
    assert_eq!(urls_of(&app, &second, two).await.0, video, "the same bytes have one content address");
    // The other creator's pending clip uses the file: each creator sees it.
    assert_eq!(status_and_cache(&second, app.url(&video)).await.0, 200);
    app.moderate(&admin, one, "reject").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(file_of(&app, &video).exists(), "the second clip still uses the bytes");
    assert_eq!(status_and_cache(&second, app.url(&video)).await.0, 200);
    assert_eq!(status_and_cache(&first, app.url(&video)).await.0, 404, "the rejected clip's creator no longer gets it");
    app.moderate(&admin, two, "reject").await;
    wait_gone(&app, &file_of(&app, &video)).await;
}

#[tokio::test]
async fn deleting_an_account_removes_its_media_unless_another_clip_uses_it() {
    let app = spawn_app().await;
    let leaving = app.signed_in("leaving").await;
    let staying = app.signed_in("staying").await;
    let own = app.upload(&leaving, SHORT_MP4, "Mine alone").await;
    let shared = app.upload(&leaving, SHORT_WEBM, "Shared bytes").await;
    let kept = app.upload(&staying, SHORT_WEBM, "Same bytes, other account").await;
    let (own_video, own_poster) = urls_of(&app, &leaving, own).await;
    let (shared_video, _) = urls_of(&app, &leaving, shared).await;
    let (kept_video, kept_poster) = urls_of(&app, &staying, kept).await;
    assert_eq!(kept_video, shared_video);

    let deleted = leaving
        .post(app.url("/api/account/delete"))
        .json(&json!({"confirm": "delete my account", "password": "correct horse battery"}))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 200);
    wait_gone(&app, &file_of(&app, &own_video)).await;
    if own_poster == kept_poster {
        // Without ffmpeg every clip shows the one placeholder poster, which
        // the staying account's clip still uses.
        assert!(file_of(&app, &own_poster).exists(), "another account's clip uses the placeholder poster");
    } else {
        wait_gone(&app, &file_of(&app, &own_poster)).await;
    }
    assert_eq!(status_and_cache(&app.client, app.url(&own_video)).await.0, 404);
    assert!(file_of(&app, &shared_video).exists(), "another account's clip uses the same bytes");
    assert_eq!(status_and_cache(&staying, app.url(&shared_video)).await.0, 200);
}

#[tokio::test]
async fn the_html_upload_form_needs_the_sessions_form_token() {
    let app = spawn_app().await;
    let creator = app.signed_in("form_maker").await;
    let page = creator.get(app.url("/upload")).send().await.expect("page").text().await.expect("html");
    let token = form_token(&page);
    let form = |token: Option<&str>| {
        let form = Form::new();
        let form = match token {
            Some(token) => form.text("csrf", token.to_owned()),
            None => form,
        };
        form.text("title", "Signed")
            .text("description", "")
            .text("genre", "sci-fi")
            .part("file", Part::bytes(SHORT_MP4).file_name("clip.mp4"))
    };
    let media = app.data_dir().join("media");
    let before = count_files(&media);
    for forged in [None, Some("0123456789abcdef0123456789abcdef")] {
        let response = creator.post(app.url("/upload")).multipart(form(forged)).send().await.expect("post");
        assert_eq!(response.status(), 403, "token {forged:?}");
    }
    assert_eq!(count_files(&media), before, "a forged form stores nothing");
    let signed = creator.post(app.url("/upload")).multipart(form(Some(&token))).send().await.expect("post");
    assert!(signed.status().is_success(), "{}", signed.status());
    let mine: Value =
        creator.get(app.url("/api/profile/clips")).send().await.expect("mine").json().await.expect("json");
    assert_eq!(mine["clips"].as_array().map(Vec::len), Some(1));
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| if entry.path().is_dir() { count_files(&entry.path()) } else { 1 })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn pending_uploads_are_capped_per_account() {
    let app = spawn_with(SpawnOptions {
        env: vec![("AIMOVIEZ_MEDIA_MAX_PENDING_UPLOADS".into(), "2".into())],
        ..SpawnOptions::default()
    })
    .await;
    let creator = app.signed_in("prolific").await;
    let first = app.upload(&creator, SHORT_MP4, "One").await;
    app.upload(&creator, SHORT_WEBM, "Two").await;
    let third =
        creator.post(app.url("/api/upload")).multipart(upload_form(SHORT_MP4, "c.mp4", "Three", "sci-fi")).send();
    let body = assert_error(third.await.expect("upload"), 429, "too_many_pending_uploads").await;
    assert!(body["error"]["message"].as_str().expect("message").contains('2'), "{body}");
    // Another account is not affected; a reviewed clip frees a place.
    let other = app.signed_in("other_maker").await;
    app.upload(&other, SHORT_MP4, "Elsewhere").await;
    app.moderate(&app.admin().await, first, "approve").await;
    app.upload(&creator, SHORT_MP4, "Three at last").await;
}

#[tokio::test]
async fn an_upload_refused_after_its_file_was_stored_leaves_nothing() {
    let app = spawn_app().await;
    app.signed_in("late_maker").await;
    let creator = app.log_in("late_maker", PASSWORD).await;
    let me: Value = creator.get(app.url("/api/me")).send().await.expect("me").json().await.expect("json");
    let user = aimoviez::domain::ids::UserId::new(me["user"]["id"].as_u64().expect("id")).expect("user id");
    let media = app.data_dir().join("media");
    let before = count_files(&media);

    // The upload starts while the season is open, then the season finishes
    // before the writer records the clip.
    let services = app.services();
    let mut draft = aimoviez::service::uploads::begin(services, user).expect("season open");
    for (name, value) in [("title", "Too late"), ("description", ""), ("genre", "sci-fi")] {
        let mut text = draft.text(draft.part(name).expect("part"));
        text.push(value.as_bytes()).expect("text");
        draft.set_text(text).expect("valid");
    }
    let mut file = draft.file().await.expect("incoming");
    file.push(SHORT_MP4).await.expect("chunk");
    draft.set_file(file.finish().await.expect("received"));
    let admin = app.admin().await;
    let finished = admin.post(app.url("/api/admin/seasons/1/finish")).send().await.expect("finish");
    assert_eq!(finished.status(), 200);

    let refused = aimoviez::service::uploads::finish(services, user, "late_maker", draft).await;
    assert!(refused.is_err(), "no season takes the clip");
    assert_eq!(count_files(&media), before, "neither the video nor its poster stayed");
}

/// Top-level MP4 box types in order.
fn top_level_boxes(bytes: &[u8]) -> Vec<String> {
    let mut boxes = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        boxes.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        assert!(size >= 8, "a box of {size} bytes at {at}");
        at += size;
    }
    boxes
}

#[tokio::test]
async fn an_mp4_with_moov_at_the_end_is_stored_faststart() {
    let app = spawn_app().await;
    let boxes = top_level_boxes(MOOV_AT_END_MP4);
    let position = |boxes: &[String], kind: &str| boxes.iter().position(|b| b == kind).expect(kind);
    assert!(position(&boxes, "moov") > position(&boxes, "mdat"), "the fixture has moov last: {boxes:?}");
    let creator = app.signed_in("phone_user").await;
    let clip = app.upload(&creator, MOOV_AT_END_MP4, "From a phone").await;
    let (video, _) = urls_of(&app, &creator, clip).await;
    let stored = creator.get(app.url(&video)).send().await.expect("media").bytes().await.expect("bytes");
    let boxes = top_level_boxes(&stored);
    assert!(position(&boxes, "moov") < position(&boxes, "mdat"), "stored faststart: {boxes:?}");
}

/// Divides every mvhd/tkhd/mdhd/elst duration in `bytes` by `by`, as a
/// tampered file would.
fn divide_header_durations(bytes: &mut [u8], by: u64) {
    fn walk(bytes: &mut [u8], from: usize, to: usize, by: u64) {
        let mut at = from;
        while at + 8 <= to {
            let size = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4")) as usize;
            let kind: [u8; 4] = bytes[at + 4..at + 8].try_into().expect("4");
            let payload = at + 8;
            let version_1 = bytes[payload] == 1;
            let divide = |bytes: &mut [u8], offset: usize, long: bool| {
                if long {
                    let value = u64::from_be_bytes(bytes[offset..offset + 8].try_into().expect("8"));
                    bytes[offset..offset + 8].copy_from_slice(&(value / by).to_be_bytes());
                } else {
                    let value = u64::from(u32::from_be_bytes(bytes[offset..offset + 4].try_into().expect("4")));
                    bytes[offset..offset + 4].copy_from_slice(&((value / by) as u32).to_be_bytes());
                }
            };
            match &kind {
                b"moov" | b"trak" | b"mdia" | b"edts" => walk(bytes, payload, at + size, by),
                // version/flags, creation and modification times, then the
                // timescale (mvhd, mdhd) or the track id and reserved (tkhd).
                b"mvhd" | b"mdhd" => divide(bytes, payload + if version_1 { 24 } else { 16 }, version_1),
                b"tkhd" => divide(bytes, payload + if version_1 { 28 } else { 20 }, version_1),
                b"elst" => {
                    let count = u32::from_be_bytes(bytes[payload + 4..payload + 8].try_into().expect("4")) as usize;
                    let entry = if version_1 { 20 } else { 12 };
                    for index in 0..count {
                        divide(bytes, payload + 8 + index * entry, version_1);
                    }
                }
                _ => {}
            }
            at += size;
        }
    }
    let len = bytes.len();
    walk(bytes, 0, len, by);
}

#[tokio::test]
async fn headers_claiming_a_sixth_of_the_duration_are_refused() {
    let app = spawn_app().await;
    let creator = app.signed_in("trickster").await;
    let mut bytes = TWENTY_SECONDS_MP4.to_vec();
    divide_header_durations(&mut bytes, 6);
    let form = Form::new()
        .text("title", "Short, honestly")
        .text("description", "")
        .text("genre", "sci-fi")
        .part("file", Part::bytes(bytes).file_name("clip.mp4"));
    let response = creator.post(app.url("/api/upload")).multipart(form).send().await.expect("upload");
    let body = assert_error(response, 400, "invalid_request").await;
    assert!(body["error"]["message"].as_str().expect("message").contains("20.0"), "{body}");
}

#[tokio::test]
async fn payload_riding_behind_a_short_clip_is_refused() {
    let app = spawn_app().await;
    let creator = app.signed_in("smuggler").await;
    let media = app.data_dir().join("media");
    let before = count_files(&media);
    // A 2 s clip followed by a 20 MiB `free` box, and by 20 MiB of bare bytes.
    let mut with_box = SHORT_MP4.to_vec();
    with_box.extend_from_slice(&((20u32 << 20) + 8).to_be_bytes());
    with_box.extend_from_slice(b"free");
    with_box.resize(with_box.len() + (20 << 20), 0x5a);
    let mut trailing = SHORT_MP4.to_vec();
    trailing.resize(trailing.len() + (20 << 20), 0x5a);
    for (bytes, why) in [(with_box, "not audio or video"), (trailing, "malformed")] {
        let form = Form::new()
            .text("title", "Cargo")
            .text("description", "")
            .text("genre", "sci-fi")
            .part("file", Part::bytes(bytes).file_name("clip.mp4"));
        let response = creator.post(app.url("/api/upload")).multipart(form).send().await.expect("upload");
        let body = assert_error(response, 400, "invalid_request").await;
        assert!(body["error"]["message"].as_str().expect("message").contains(why), "{body}");
    }
    assert_eq!(count_files(&media), before, "nothing of the refused files stayed");
}
