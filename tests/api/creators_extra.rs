//! More of the creator pipeline: duplicate uploads stored once, unfinished
//! uploads cleaned at start, the upload rate limit, and a rebuilt search
//! index answering like the live one.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::helpers::{SHORT_MP4, SHORT_WEBM, SpawnOptions, TestApp, assert_error, spawn_app, spawn_with};

const PASSWORD: &str = "correct horse battery";

/// `.mp4` files under `dir`, recursively.
fn mp4_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| {
                    let path = entry.path();
                    if path.is_dir() {
                        mp4_files(&path)
                    } else {
                        usize::from(path.extension().is_some_and(|ext| ext == "mp4"))
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Entries directly in `dir` (0 when it does not exist).
fn entries_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|entries| entries.count()).unwrap_or(0)
}

/// The fixture with a trailing MP4 `free` box of `8 + extra` bytes: still a
/// valid video, with bytes (and so a content address) of its own.
fn unique_mp4(extra: usize) -> Vec<u8> {
    let mut bytes = SHORT_MP4.to_vec();
    bytes.extend_from_slice(&u32::try_from(8 + extra).expect("box size").to_be_bytes());
    bytes.extend_from_slice(b"free");
    bytes.resize(bytes.len() + extra, 0);
    bytes
}

fn form(bytes: Vec<u8>, title: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("title", title.to_owned())
        .text("description", "made in a test".to_owned())
        .text("genre", "sci-fi".to_owned())
        .part("file", reqwest::multipart::Part::bytes(bytes).file_name("clip.mp4"))
}

async fn post_upload(app: &TestApp, client: &reqwest::Client, bytes: Vec<u8>, title: &str) -> reqwest::Response {
    client.post(app.url("/api/upload")).multipart(form(bytes, title)).send().await.expect("upload")
}

/// Uploads owned bytes, expecting 201; returns the clip id.
async fn upload_ok(app: &TestApp, client: &reqwest::Client, bytes: Vec<u8>, title: &str) -> u64 {
    let response = post_upload(app, client, bytes, title).await;
    assert_eq!(response.status(), 201, "upload {title}");
    let body: Value = response.json().await.expect("json");
    body["clipId"].as_u64().expect("clipId")
}

/// The signed-in user's clips as `id → clip`.
async fn my_clips(app: &TestApp, client: &reqwest::Client) -> BTreeMap<u64, Value> {
    let mine: Value = client.get(app.url("/api/profile/clips")).send().await.expect("mine").json().await.expect("json");
    mine["clips"]
        .as_array()
        .expect("clips")
        .iter()
        .map(|clip| (clip["id"].as_u64().expect("id"), clip.clone()))
        .collect()
}

/// Clip ids of a search, in result order.
async fn search_ids(app: &TestApp, query: &str) -> Vec<u64> {
    let found = app.get_json(&format!("/api/search?{query}")).await;
    found["clips"].as_array().expect("clips").iter().map(|clip| clip["id"].as_u64().expect("id")).collect()
}

#[tokio::test]
async fn the_same_bytes_uploaded_by_two_users_are_stored_once() {
    let app = spawn_app().await;
    let media = app.data_dir().join("media");
    let bytes = unique_mp4(17);
    let alice = app.signed_in("dup_alice").await;
    let bob = app.signed_in("dup_bob").await;
    let before = mp4_files(&media);

    let first = upload_ok(&app, &alice, bytes.clone(), "First copy").await;
    assert_eq!(mp4_files(&media), before + 1, "the first upload stores the video");
    let second = upload_ok(&app, &bob, bytes, "Second copy").await;
    assert_ne!(first, second, "two clips");
    assert_eq!(mp4_files(&media), before + 1, "the second upload of the same bytes stores no new video");

    let alice_clips = my_clips(&app, &alice).await;
    let bob_clips = my_clips(&app, &bob).await;
    assert_eq!(alice_clips.keys().copied().collect::<Vec<_>>(), vec![first]);
    assert_eq!(bob_clips.keys().copied().collect::<Vec<_>>(), vec![second]);
    let (alice_video, bob_video) = (&alice_clips[&first]["videoUrl"], &bob_clips[&second]["videoUrl"]);
    assert!(alice_video.as_str().is_some_and(|url| url.ends_with(".mp4")), "{alice_video}");
    assert_eq!(alice_video, bob_video, "both clips point at the one stored file");
    assert_eq!(entries_in(&media.join(".incoming")), 0, "the duplicate's temp file is gone");

    // The shared file is served (to a creator of a clip using it: both are
    // still pending, so it is not public yet).
    let video = alice.get(app.url(alice_video.as_str().expect("url"))).send().await.expect("media");
    assert_eq!(video.status(), 200);
    assert_eq!(video.bytes().await.expect("body").len(), SHORT_MP4.len() + 8 + 17);
}

#[tokio::test]
async fn unfinished_uploads_are_removed_at_start() {
    let mut app = spawn_app().await;
    let media = app.data_dir().join("media");
    let videos_before = mp4_files(&media);
    app.stop().await;

    let incoming = media.join(".incoming");
    std::fs::create_dir_all(incoming.join("stray-dir")).expect("dir");
    std::fs::write(incoming.join("upload-abc123.part"), vec![0u8; 4096]).expect("write");
    std::fs::write(incoming.join("upload-def456.part"), b"half a video").expect("write");
    std::fs::write(incoming.join("poster-x.jpg"), b"").expect("write");
    std::fs::write(incoming.join("stray-dir").join("junk.mp4"), b"junk").expect("write");
    assert_eq!(entries_in(&incoming), 4);

    let app = app.restart().await;
    assert!(incoming.is_dir() || !incoming.exists());
    assert_eq!(entries_in(&incoming), 0, ".incoming is empty after start");
    assert_eq!(mp4_files(&media), videos_before, "stored videos are kept");

    // Uploads still work afterwards and leave nothing in .incoming.
    let creator = app.signed_in("after_restart").await;
    upload_ok(&app, &creator, unique_mp4(3), "After restart").await;
    assert_eq!(entries_in(&incoming), 0);
}

#[tokio::test]
async fn uploads_over_the_rate_limit_are_refused_and_leave_nothing() {
    let app = spawn_with(SpawnOptions { rate_limits: true, ..Default::default() }).await;
    let media = app.data_dir().join("media");
    let creator = app.signed_in("busy_maker").await;
    // The upload class allows 5 per minute per client, with a burst of 5.
    for n in 1..=5 {
        upload_ok(&app, &creator, unique_mp4(n), &format!("Allowed {n}")).await;
    }
    let videos = mp4_files(&media);
    assert_eq!(my_clips(&app, &creator).await.len(), 5);

    let refused = post_upload(&app, &creator, unique_mp4(6), "One too many").await;
    let retry_after = refused
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|secs| secs >= 1), "Retry-After: {retry_after:?}");
    assert_error(refused, 429, "rate_limited").await;

    assert_eq!(mp4_files(&media), videos, "no file for the refused upload");
    assert_eq!(entries_in(&media.join(".incoming")), 0, "no temp file either");
    let clips = my_clips(&app, &creator).await;
    assert_eq!(clips.len(), 5, "no record for the refused upload");
    assert!(clips.values().all(|clip| clip["title"] != "One too many"));
}

#[tokio::test]
async fn a_rebuilt_search_index_answers_like_the_live_one() {
    let app = spawn_app().await;
    let creator = app.signed_in("index_maker").await;
    let mp4 = app.upload(&creator, SHORT_MP4, "Harbour lights at dawn").await;
    let webm = app.upload(&creator, SHORT_WEBM, "Harbour storm").await;
    let pending = app.upload(&creator, SHORT_MP4, "Harbour secret").await;
    app.create_admin("index_boss", PASSWORD).await;
    let admin = app.log_in("index_boss", PASSWORD).await;
    for clip in [mp4, webm] {
        let approved = admin.post(app.url(&format!("/api/admin/clips/{clip}/approve"))).send().await.expect("approve");
        assert_eq!(approved.status(), 200, "approve {clip}");
    }
    app.eventually(5, "both approved clips to be searchable", || async {
        let ids = search_ids(&app, "q=harbour").await;
        ids.contains(&mp4) && ids.contains(&webm)
    })
    .await;

    let queries = [
        "q=harbour",
        "q=harbur",
        "q=harb",
        "q=lights",
        "q=harbour%20storm",
        "q=index_maker",
        "q=index_maker&genre=sci-fi",
        "q=harbour&genre=drama",
        "genre=sci-fi&limit=100",
        "limit=100",
    ];
    // Text queries may order near-equal scores differently once deleted
    // documents are merged away, so they are compared as sets; browsing
    // (no words) is ordered by upload time and compared in order.
    let normalize = |query: &str, mut ids: Vec<u64>| {
        if query.contains("q=") {
            ids.sort_unstable();
        }
        ids
    };
    let mut live = Vec::new();
    for query in queries {
        live.push(normalize(query, search_ids(&app, query).await));
    }
    assert!(live[0].contains(&mp4) && live[0].contains(&webm) && !live[0].contains(&pending), "{:?}", live[0]);
    assert!(live[9].len() > 2, "browsing lists the demo clips too: {:?}", live[9]);

    let mut app = app;
    app.stop().await;
    let search_dir = app.data_dir().join("search");
    assert!(search_dir.is_dir(), "the live index was on disk");
    std::fs::remove_dir_all(&search_dir).expect("remove index");
    let app = app.restart().await;
    assert!(search_dir.is_dir(), "start-up recreated the index");

    app.eventually(10, "the rebuilt index to find the approved clips", || async {
        let ids = search_ids(&app, "q=harbour").await;
        ids.contains(&mp4) && ids.contains(&webm)
    })
    .await;
    for (query, before) in queries.iter().zip(&live) {
        let after = normalize(query, search_ids(&app, query).await);
        assert_eq!(&after, before, "same clips for {query} after the rebuild");
    }
}
