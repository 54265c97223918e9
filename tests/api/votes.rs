//! Voting over HTTP: the feed, casting, revoking and every refusal.

use serde_json::{Value, json};

use crate::helpers::{SpawnOptions, assert_error, header_of, spawn_app, spawn_with};

#[tokio::test]
async fn health_is_ok() {
    let app = spawn_app().await;
    let body = app.get_json("/api/health").await;
    assert_eq!(body["status"], "ok");
    assert!(body["version"].is_string());
}

#[tokio::test]
async fn the_feed_has_the_documented_shape() {
    let app = spawn_app().await;
    let feed = app.feed().await;
    let clips = feed["clips"].as_array().expect("clips");
    assert!(clips.len() >= 4, "{feed}");
    for key in [
        "id",
        "title",
        "description",
        "genre",
        "creator",
        "videoUrl",
        "posterUrl",
        "durationMs",
        "status",
        "slotPosition",
        "voteCount",
        "weightedScore",
        "viewCount",
        "createdAt",
    ] {
        assert!(clips[0].get(key).is_some(), "clip lacks {key}: {}", clips[0]);
    }
    assert_eq!(clips[0]["status"], "active");
    assert!(clips[0]["creator"]["username"].is_string());
    assert_eq!(feed["totalVotesToday"], 0);
    assert_eq!(feed["remainingVotes"], json!({"standard": 200, "super": 1, "mega": 1}));
    assert_eq!(feed["votedClipIds"], json!([]));
    assert_eq!(feed["currentSlot"], 1);
    assert_eq!(feed["totalSlots"], 75);
    assert_eq!(feed["totalClipsInSlot"], 4);
    assert_eq!(feed["hasMoreClips"], false);
    assert!(feed["votingEndsAt"].as_str().is_some_and(|t| t.ends_with('Z')));

    let two = app.get_json("/api/vote?limit=2").await;
    assert_eq!(two["clips"].as_array().map(Vec::len), Some(2));
    assert_eq!(two["hasMoreClips"], true);
    let ids = app.clip_ids().await;
    let excluded = app.get_json(&format!("/api/vote?excludeIds={},{}", ids[0], ids[1])).await;
    let shown: Vec<u64> =
        excluded["clips"].as_array().expect("clips").iter().filter_map(|c| c["id"].as_u64()).collect();
    assert!(!shown.contains(&ids[0]) && !shown.contains(&ids[1]) && shown.len() == 2, "{shown:?}");
}

#[tokio::test]
async fn feed_parameters_are_checked() {
    let app = spawn_app().await;
    for query in ["limit=0", "limit=21", "limit=abc", "limit=-1", "excludeIds=1,x", "excludeIds=0"] {
        assert_error(app.get(&format!("/api/vote?{query}")).await, 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn a_vote_counts_once_and_a_revoke_takes_it_back() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];

    let response = app.vote(clip).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["success"], true);
    assert_eq!(body["clipId"], clip);
    assert_eq!(body["voteType"], "standard");
    assert_eq!(body["voteCount"], 1);
    assert_eq!(body["newScore"], 1);
    assert_eq!(body["totalVotesToday"], 1);
    assert_eq!(body["remainingVotes"]["standard"], 199);
    assert_eq!(app.vote_count(clip).await, 1);

    assert_error(app.vote(clip).await, 409, "already_voted").await;
    assert_eq!(app.vote_count(clip).await, 1);
    let feed = app.feed().await;
    assert_eq!(feed["votedClipIds"], json!([clip]));

    let revoked = app.revoke(clip).await;
    assert_eq!(revoked.status(), 200);
    let body: Value = revoked.json().await.expect("json");
    assert_eq!(body["voteCount"], 0);
    assert_eq!(body["totalVotesToday"], 0);
    assert_eq!(app.vote_count(clip).await, 0);
    assert_error(app.revoke(clip).await, 404, "not_found").await;

    // After a revoke the voter may vote again.
    assert_eq!(app.vote(clip).await.status(), 200);
}

#[tokio::test]
async fn another_voter_is_counted_separately() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];
    assert_eq!(app.vote_as(clip, Some("198.51.100.1"), "standard").await.status(), 200);
    assert_eq!(app.vote_as(clip, Some("198.51.100.2"), "standard").await.status(), 200);
    assert_error(app.vote_as(clip, Some("198.51.100.2"), "standard").await, 409, "already_voted").await;
    assert_eq!(app.vote_count(clip).await, 2);
}

#[tokio::test]
async fn special_votes_weigh_more_and_are_once_per_slot() {
    let app = spawn_app().await;
    let ids = app.clip_ids().await;
    let response = app.vote_as(ids[0], None, "super").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!((body["voteCount"].as_u64(), body["newScore"].as_u64()), (Some(1), Some(3)));
    assert_eq!(body["remainingVotes"], json!({"standard": 197, "super": 0, "mega": 1}));
    assert_error(app.vote_as(ids[1], None, "super").await, 422, "special_vote_used").await;
    let mega: Value = app.vote_as(ids[1], None, "mega").await.json().await.expect("json");
    assert_eq!(mega["newScore"], 10);
    assert_eq!(mega["totalVotesToday"], 13);
    assert_error(app.vote_as(ids[2], None, "ultra").await, 400, "invalid_request").await;
}

#[tokio::test]
async fn unknown_and_closed_targets_are_refused() {
    let app = spawn_app().await;
    assert_error(app.vote(999_999).await, 404, "not_found").await;
    assert_error(app.revoke(999_999).await, 404, "not_found").await;
    assert_error(app.get("/api/clips/999999").await, 404, "not_found").await;
    assert_error(app.get("/api/clips/abc").await, 404, "not_found").await;
    assert_error(app.get("/api/nope").await, 404, "not_found").await;
}

#[tokio::test]
async fn a_clip_outside_the_voting_slot_is_not_votable() {
    // A one-second window: the scheduler locks a winner into slot 1 and the
    // others move on to slot 2. The winner is no longer votable.
    let options = SpawnOptions {
        demo: Some(aimoviez::demo::DemoOptions { total_slots: 3, slot_duration_secs: 1 }),
        ..SpawnOptions::default()
    };
    let app = spawn_with(options).await;
    let ids = app.clip_ids().await;
    let winner = ids[0];
    assert_eq!(app.vote(winner).await.status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let story = app.get_json("/api/story").await;
        if story["slots"][0]["status"] == "locked" {
            assert_eq!(story["slots"][0]["winner"]["id"], winner);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "slot 1 never advanced: {story}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_error(app.vote_as(winner, Some("198.51.100.60"), "standard").await, 422, "not_votable").await;
    assert_eq!(app.vote_count(winner).await, 1);
}

#[tokio::test]
async fn malformed_and_wrongly_typed_bodies_change_nothing() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];
    let bodies = [
        "{",
        "not json",
        "[]",
        "{}",
        r#"{"clipId": true}"#,
        r#"{"clipId": -1}"#,
        r#"{"clipId": 0}"#,
        r#"{"clipId": 1.5}"#,
        r#"{"clipId": "abc"}"#,
        r#"{"clipId": 1, "voteType": 3}"#,
        r#"{"clipId": 1, "extra": 1}"#,
    ];
    for body in bodies {
        let response = app
            .client
            .post(app.url("/api/vote"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_error(response, 400, "invalid_request").await;
    }
    let wrong_type = app.client.post(app.url("/api/vote")).body(format!(r#"{{"clipId": {clip}}}"#)).send().await;
    assert_error(wrong_type.expect("request"), 415, "unsupported_media_type").await;
    let huge = format!(r#"{{"clipId": {clip}, "pad": "{}"}}"#, "x".repeat(200_000));
    let response = app
        .client
        .post(app.url("/api/vote"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("request");
    assert_error(response, 413, "payload_too_large").await;
    assert_eq!(app.vote_count(clip).await, 0);
    assert_eq!(app.feed().await["totalVotesToday"], 0);
}

#[tokio::test]
async fn cross_site_votes_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];
    let response = app
        .client
        .post(app.url("/api/vote"))
        .header("origin", "https://evil.example")
        .json(&json!({ "clipId": clip }))
        .send()
        .await
        .expect("request");
    assert_error(response, 403, "csrf_failed").await;
    let response = app
        .client
        .post(app.url("/vote"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("clip_id", clip.to_string())])
        .send()
        .await
        .expect("request");
    assert_error(response, 403, "csrf_failed").await;
    assert_eq!(app.vote_count(clip).await, 0);
    let same_origin = app
        .client
        .post(app.url("/api/vote"))
        .header("origin", format!("http://{}", app.address))
        .json(&json!({ "clipId": clip }))
        .send()
        .await
        .expect("request");
    assert_eq!(same_origin.status(), 200);
}

/// One guard layer runs the rate limit before the cross-site check (issue
/// #16 folded the three layers into one): a refused cross-site vote still
/// spends from the client's vote bucket and says so, and a rate-limited
/// request never reaches the cross-site check or the handler.
#[tokio::test]
async fn a_refused_cross_site_vote_still_counts_against_the_vote_limit() {
    let app = spawn_with(SpawnOptions { rate_limits: true, ..SpawnOptions::default() }).await;
    let clip = app.clip_ids().await[0];
    let remaining = |response: &reqwest::Response| header_of(response, "x-ratelimit-remaining");
    let cross_site = || {
        app.client.post(app.url("/api/vote")).header("origin", "https://evil.example").json(&json!({ "clipId": clip }))
    };
    let refused = cross_site().send().await.expect("request");
    assert_eq!(refused.headers()["x-ratelimit-limit"], "30");
    assert_eq!(remaining(&refused).as_deref(), Some("29"));
    assert_error(refused, 403, "csrf_failed").await;
    let voted = app.client.post(app.url("/api/vote")).json(&json!({ "clipId": clip })).send().await.expect("request");
    assert_eq!(voted.status(), 200);
    assert_eq!(remaining(&voted).as_deref(), Some("28"));
    // 28 more empty the bucket; a slow machine may see a token come back
    // (one per 2 s), hence the spare tries.
    let mut limited = None;
    for _ in 0..40 {
        let response = cross_site().send().await.expect("request");
        if response.status() == 429 {
            limited = Some(response);
            break;
        }
        assert_eq!(response.status(), 403);
    }
    let limited = limited.expect("the vote bucket empties");
    assert_eq!(remaining(&limited).as_deref(), Some("0"));
    assert!(limited.headers().contains_key("retry-after"));
    assert_error(limited, 429, "rate_limited").await;
    assert_eq!(app.vote_count(clip).await, 1);
}

#[tokio::test]
async fn the_201st_unit_of_a_day_is_refused() {
    let app = spawn_with(SpawnOptions {
        env: vec![("AIMOVIEZ_VOTES_DAILY_BUDGET".into(), "200".into())],
        ..SpawnOptions::default()
    })
    .await;
    let ids = app.clip_ids().await;
    // Multi-vote mode lets one voter spend the whole budget on four clips.
    app.set_flag("multi_vote_mode", true).await;
    let mut accepted = 0;
    for n in 0..200 {
        let response = app.vote(ids[n % ids.len()]).await;
        assert_eq!(response.status(), 200, "vote {n}");
        accepted += 1;
    }
    assert_eq!(accepted, 200);
    let body = assert_error(app.vote(ids[0]).await, 429, "daily_limit_reached").await;
    assert!(body["error"]["message"].is_string());
    let feed = app.feed().await;
    assert_eq!(feed["totalVotesToday"], 200);
    assert_eq!(feed["remainingVotes"], json!({"standard": 0, "super": 0, "mega": 0}));
    let total: u64 = futures_total(&app, &ids).await;
    assert_eq!(total, 200);
}

async fn futures_total(app: &crate::helpers::TestApp, ids: &[u64]) -> u64 {
    let mut total = 0;
    for id in ids {
        total += app.vote_count(*id).await;
    }
    total
}

#[tokio::test]
async fn votes_survive_a_restart() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];
    assert_eq!(app.vote(clip).await.status(), 200);
    assert_eq!(app.vote_as(clip, Some("203.0.113.5"), "mega").await.status(), 200);
    let app = app.restart().await;
    assert_eq!(app.vote_count(clip).await, 2);
    let clip_json = app.get_json(&format!("/api/clips/{clip}")).await;
    assert_eq!(clip_json["weightedScore"], 11);
    assert_error(app.vote(clip).await, 409, "already_voted").await;
    assert_eq!(app.feed().await["totalVotesToday"], 1);
}

#[tokio::test]
async fn demo_seeding_happens_once() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];
    assert_eq!(app.vote(clip).await.status(), 200);
    let app = app.restart_with_demo().await;
    let story = app.get_json("/api/story").await;
    assert_eq!(story["season"]["title"], "The Signal");
    assert_eq!(story["slots"].as_array().map(Vec::len), Some(75));
    assert_eq!(app.clip_ids().await.len(), 4);
    assert_eq!(app.vote_count(clip).await, 1);
    let media_files = walk_files(&app.data_dir().join("media"));
    assert_eq!(media_files, 8, "4 clips and 4 posters, each stored once");
}

fn walk_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| if entry.path().is_dir() { walk_files(&entry.path()) } else { 1 })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn features_list_every_flag() {
    let app = spawn_app().await;
    let features = app.get_json("/api/features").await;
    assert_eq!(
        features["flags"],
        json!({"multi_vote_mode": false, "special_votes": true, "require_auth_voting": false, "require_captcha_voting": false})
    );
}

#[tokio::test]
async fn anonymous_votes_are_refused_when_auth_is_required() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];
    app.set_flag("require_auth_voting", true).await;
    assert_eq!(app.get_json("/api/features").await["flags"]["require_auth_voting"], true);
    assert_error(app.vote(clip).await, 401, "auth_required").await;
    app.set_flag("require_auth_voting", false).await;
    assert_eq!(app.vote(clip).await.status(), 200);
}

#[tokio::test]
async fn special_votes_are_refused_when_the_flag_is_off() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];
    app.set_flag("special_votes", false).await;
    assert_error(app.vote_as(clip, None, "mega").await, 422, "special_vote_used").await;
    assert_eq!(app.feed().await["remainingVotes"], json!({"standard": 200, "super": 0, "mega": 0}));
}
