//! Live updates over Server-Sent Events: snapshots, `Last-Event-ID`
//! resumption, approvals, top clips and hostile resume ids.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{SHORT_MP4, TestApp, spawn_app};

const PASSWORD: &str = "correct horse battery";

/// One SSE frame.
#[derive(Debug)]
struct Frame {
    id: Option<u64>,
    event: String,
    data: Value,
}

/// An open `/api/live` stream and the text read but not yet parsed.
struct Live {
    response: reqwest::Response,
    buffer: String,
}

impl Live {
    /// Opens `/api/live`, with `Last-Event-ID` if given.
    async fn open(app: &TestApp, last_event_id: Option<reqwest::header::HeaderValue>) -> Live {
        let mut request = app.browser().get(app.url("/api/live"));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.expect("connect");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Live { response, buffer: String::new() }
    }

    /// The next frame that is not a comment, within 10 s.
    async fn next(&mut self) -> Frame {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let text: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| text.lines().find_map(|line| line.strip_prefix(name)).map(str::to_owned);
                let Some(event) = field("event: ") else { continue };
                let data = field("data: ").expect("data line");
                return Frame {
                    id: field("id: ").map(|id| id.parse().expect("numeric id")),
                    event,
                    data: serde_json::from_str(&data).expect("JSON data"),
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(left, self.response.chunk())
                .await
                .expect("an event within 10 s")
                .expect("chunk")
                .expect("stream open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next frame named `event` whose data satisfies `wanted`.
    async fn next_matching(&mut self, event: &str, wanted: impl Fn(&Value) -> bool) -> Frame {
        loop {
            let frame = self.next().await;
            if frame.event == event && wanted(&frame.data) {
                return frame;
            }
        }
    }
}

/// The counts of `clip` in a `counts` or `snapshot` payload.
fn votes_of(data: &Value, clip: u64) -> Option<u64> {
    data["clips"].as_array()?.iter().find(|entry| entry["id"] == clip)?["voteCount"].as_u64()
}

#[tokio::test]
async fn a_fresh_client_gets_a_snapshot_first() {
    let app = spawn_app().await;
    let clips = app.clip_ids().await;
    let mut live = Live::open(&app, None).await;
    let first = live.next().await;
    assert_eq!(first.event, "snapshot", "{first:?}");
    assert!(first.id.is_some(), "a snapshot carries the id to resume from");
    assert_eq!(first.data["slot"]["position"], 1);
    assert_eq!(first.data["slot"]["status"], "voting");
    for clip in &clips {
        assert_eq!(votes_of(&first.data, *clip), Some(0), "clip {clip} in {}", first.data);
    }
    assert!(first.data["top"].as_array().is_some_and(|top| !top.is_empty() && top.len() <= 5));
}

#[tokio::test]
async fn a_client_resuming_with_last_event_id_gets_the_event_it_missed() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];
    let mut first = Live::open(&app, None).await;
    let snapshot = first.next().await;
    let seen = snapshot.id.expect("snapshot id");
    drop(first);

    // Another client watches, so we know when the counts went out.
    let mut watcher = Live::open(&app, None).await;
    assert_eq!(app.vote(clip).await.status(), 200);
    let sent = watcher.next_matching("counts", |data| votes_of(data, clip) == Some(1)).await;

    let mut resumed = Live::open(&app, Some(seen.to_string().parse().expect("header"))).await;
    let missed = resumed.next().await;
    assert_eq!(missed.event, "counts", "no snapshot when the missed events are still kept: {missed:?}");
    assert_eq!(missed.id, Some(seen + 1));
    assert_eq!(missed.id, sent.id);
    assert_eq!(votes_of(&missed.data, clip), Some(1));
}

#[tokio::test]
async fn hostile_last_event_ids_get_a_snapshot() {
    let app = spawn_app().await;
    let hostile: Vec<reqwest::header::HeaderValue> = vec![
        "garbage".parse().expect("header"),
        "-1".parse().expect("header"),
        "1".parse().expect("header"),
        "99999999999999999999999999999".parse().expect("header"),
        u64::MAX.to_string().parse().expect("header"),
        reqwest::header::HeaderValue::from_bytes(b"\xff\xfe12").expect("obs-text header"),
        "1e3; DROP TABLE".parse().expect("header"),
    ];
    for value in hostile {
        let shown = format!("{value:?}");
        let mut live = Live::open(&app, Some(value)).await;
        let first = live.next().await;
        assert_eq!(first.event, "snapshot", "{shown}: {first:?}");
    }
    assert_eq!(app.get("/api/health").await.status(), 200);
}

#[tokio::test]
async fn an_approved_clip_is_announced_live() {
    let app = spawn_app().await;
    let creator = app.signed_in("maker").await;
    let upload = app.upload(&creator, SHORT_MP4, "Fresh scene").await;
    let mut live = Live::open(&app, None).await;
    assert_eq!(live.next().await.event, "snapshot");
    app.create_admin("boss", PASSWORD).await;
    let admin = app.log_in("boss", PASSWORD).await;
    let approved = admin.post(app.url(&format!("/api/admin/clips/{upload}/approve"))).send().await.expect("approve");
    assert_eq!(approved.status(), 200);
    let frame = live.next_matching("clip", |data| data["change"] == "approved").await;
    assert_eq!(frame.data["id"], upload);
    assert_eq!(frame.data["title"], "Fresh scene");
    assert_eq!(frame.data["creator"], "maker");
    assert_eq!(frame.data["position"], 1);
    // A fresh client's snapshot now lists it.
    let mut fresh = Live::open(&app, None).await;
    let snapshot = fresh.next().await;
    assert_eq!(votes_of(&snapshot.data, upload), Some(0), "{}", snapshot.data);
}

#[tokio::test]
async fn votes_move_the_live_top_clips() {
    let app = spawn_app().await;
    let clips = app.clip_ids().await;
    let favourite = *clips.last().expect("clips");
    let mut live = Live::open(&app, None).await;
    assert_eq!(live.next().await.event, "snapshot");
    assert_eq!(app.vote(favourite).await.status(), 200);
    let top = live.next_matching("top", |data| data["clips"][0]["id"] == favourite).await;
    assert_eq!(top.data["position"], 1);
    assert_eq!(top.data["clips"][0]["voteCount"], 1);
    assert!(top.data["clips"][0]["title"].is_string());
    assert!(top.data["clips"].as_array().is_some_and(|list| list.len() <= 5));
}

#[tokio::test]
async fn an_advance_sends_slot_locked_with_its_winner_then_opened() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];
    assert_eq!(app.vote(clip).await.status(), 200);
    let mut live = Live::open(&app, None).await;
    assert_eq!(live.next().await.event, "snapshot");
    app.create_admin("boss", PASSWORD).await;
    let admin = app.log_in("boss", PASSWORD).await;
    assert_eq!(admin.post(app.url("/api/admin/slots/advance")).send().await.expect("advance").status(), 200);
    let locked = live.next_matching("slot", |data| data["change"] == "locked").await;
    assert_eq!(locked.data["position"], 1);
    assert_eq!(locked.data["winnerId"], clip);
    let opened = live.next_matching("slot", |data| data["position"] == 2).await;
    assert!(["opened", "waiting"].contains(&opened.data["change"].as_str().unwrap_or("")), "{:?}", opened);
    assert!(opened.id > locked.id);
}

#[tokio::test]
async fn shutdown_ends_live_streams_instead_of_waiting_for_them() {
    let mut app = spawn_app().await;
    let mut live = Live::open(&app, None).await;
    assert_eq!(live.next().await.event, "snapshot");
    let stopped = tokio::time::timeout(Duration::from_secs(10), app.stop()).await;
    assert!(stopped.is_ok(), "graceful shutdown waited for a live client");
    let end = tokio::time::timeout(Duration::from_secs(5), live.response.chunk()).await.expect("stream ended");
    assert!(!matches!(end, Ok(Some(_))), "stream still sending after shutdown");
}

#[tokio::test]
async fn the_arena_and_story_pages_load_the_live_script_with_its_polling_fallback() {
    let app = spawn_app().await;
    for page in ["/", "/story"] {
        let html = app.get(page).await.text().await.expect("html");
        assert!(html.contains("data-live-top"), "{page} has a place for the live top clips");
        let start = html.find("/static/live.").expect("live script on the page");
        let end = start + html[start..].find('"').expect("closing quote");
        let script = app.get(&html[start..end]).await;
        assert_eq!(script.status(), 200, "{page}");
        let script = script.text().await.expect("js");
        assert!(script.contains(r#"new EventSource("/api/live")"#));
        assert!(script.contains("setInterval(poll, 12000)"), "polling fallback");
    }
}
