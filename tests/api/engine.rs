//! The vote engine under concurrency: the writer applies commands one at a
//! time inside each batch, so races resolve exactly, never twice.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{SpawnOptions, TestApp, spawn_with};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

async fn total_votes(app: &TestApp) -> u64 {
    let mut total = 0;
    for clip in app.clip_ids().await {
        total += app.vote_count(clip).await;
    }
    total
}

#[tokio::test]
async fn fifty_identical_votes_at_once_count_once() {
    let app = spawn_with(SpawnOptions::default()).await;
    let clip = app.clip_ids().await[0];
    let responses = join_all((0..50).map(|_| app.vote_as(clip, Some("198.51.100.77"), "standard"))).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 49, "{statuses:?}");
    assert_eq!(app.vote_count(clip).await, 1);
}

#[tokio::test]
async fn racing_votes_stop_exactly_at_the_budget() {
    let app =
        spawn_with(SpawnOptions { env: env(&[("AIMOVIEZ_VOTES_DAILY_BUDGET", "7")]), ..SpawnOptions::default() }).await;
    app.set_flag("multi_vote_mode", true).await;
    let ids = app.clip_ids().await;
    let responses = join_all((0..60).map(|n| app.vote_as(ids[n % ids.len()], Some("198.51.100.78"), "standard"))).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 7, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 53, "{statuses:?}");
    assert_eq!(total_votes(&app).await, 7);
}

#[tokio::test]
async fn votes_racing_the_slot_closing_are_counted_or_refused_never_both() {
    // One slot: when its window closes the season finishes, so every later
    // vote is refused rather than landing in a next slot.
    let options = SpawnOptions {
        demo: Some(aimoviez::demo::DemoOptions { total_slots: 1, slot_duration_secs: 2 }),
        ..SpawnOptions::default()
    };
    let app = spawn_with(options).await;
    let ids = app.clip_ids().await;
    let deadline = Instant::now() + Duration::from_millis(3000);
    let workers = (0..16).map(|worker| {
        let app = &app;
        let ids = &ids;
        async move {
            let (mut accepted, mut closed, mut n) = (0u64, 0u64, 0u32);
            while Instant::now() < deadline {
                n += 1;
                let voter = format!("10.{worker}.{}.{}", n / 250, n % 250);
                let response = app.vote_as(ids[(n as usize) % ids.len()], Some(&voter), "standard").await;
                match response.status().as_u16() {
                    200 => accepted += 1,
                    422 => {
                        let body: serde_json::Value = response.json().await.expect("json");
                        let code = body["error"]["code"].as_str().unwrap_or_default().to_owned();
                        assert!(code == "slot_closed" || code == "not_votable", "{body}");
                        closed += 1;
                    }
                    other => panic!("unexpected status {other}"),
                }
            }
            (accepted, closed)
        }
    });
    let results = join_all(workers).await;
    let accepted: u64 = results.iter().map(|r| r.0).sum();
    let closed: u64 = results.iter().map(|r| r.1).sum();
    assert!(accepted > 0 && closed > 0, "accepted {accepted}, closed {closed}");
    let mut counted = 0;
    for clip in &ids {
        counted += app.vote_count(*clip).await;
    }
    assert_eq!(counted, accepted, "every acknowledged vote counted, no refused one");
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after_and_loses_nothing() {
    let app = spawn_with(SpawnOptions {
        env: env(&[("AIMOVIEZ_WRITER_QUEUE_CAPACITY", "1"), ("AIMOVIEZ_WRITER_BATCH_MAX", "1")]),
        ..SpawnOptions::default()
    })
    .await;
    let ids = app.clip_ids().await;
    let voters: Vec<String> = (0..300).map(|n| format!("10.9.{}.{}", n / 250, n % 250)).collect();
    let responses =
        join_all(voters.iter().enumerate().map(|(n, voter)| app.vote_as(ids[n % 4], Some(voter), "standard"))).await;
    let mut accepted = 0;
    let mut unavailable = 0;
    for response in responses {
        match response.status().as_u16() {
            200 => accepted += 1,
            503 => {
                assert_eq!(response.headers()["retry-after"], "1");
                let body: serde_json::Value = response.json().await.expect("json");
                assert_eq!(body["error"]["code"], "unavailable");
                unavailable += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(unavailable > 0, "a queue of one must overflow under 300 concurrent votes");
    assert_eq!(total_votes(&app).await, accepted);
    assert_eq!(accepted + unavailable, 300, "{}", json!({"accepted": accepted}));
}

#[tokio::test]
async fn metrics_show_writer_batches_to_local_clients_only() {
    let app = spawn_with(SpawnOptions::default()).await;
    let clip = app.clip_ids().await[0];
    assert_eq!(app.vote(clip).await.status(), 200);
    let text = app.get("/metrics").await.text().await.expect("text");
    let commands = text
        .lines()
        .find_map(|line| line.strip_prefix("aimoviez_writer_commands_total "))
        .and_then(|value| value.parse::<f64>().ok())
        .expect("commands metric");
    assert!(commands >= 2.0, "seed and vote: {text}");
    let remote = app.client.get(app.url("/metrics")).header("x-forwarded-for", "203.0.113.1").send().await;
    assert_eq!(remote.expect("request").status(), 404);
}
