//! The HTTP edges (issue #14): answers the handlers never see, query
//! strings with extra parameters, invisible text, the daily budget's wait.

use std::sync::Arc;
use std::time::Duration;

use aimoviez::app::ClockOverride;
use aimoviez::domain::clock::Timestamp;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{SpawnOptions, assert_error, build_unserved, spawn_app, spawn_with};

#[tokio::test]
async fn api_errors_no_handler_made_use_the_json_shape() {
    let app = spawn_app().await;
    let client = &app.client;
    let wrong_method = client.put(app.url("/api/vote")).send().await.expect("put");
    let allow = wrong_method.headers().get("allow").expect("Allow on a 405").to_str().expect("allow").to_owned();
    assert!(allow.contains("POST") && allow.contains("GET"), "{allow}");
    let body = assert_error(wrong_method, 405, "method_not_allowed").await;
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_error(client.get(app.url("/api/auth/login")).send().await.expect("get"), 405, "method_not_allowed").await;
    assert_error(client.get(app.url("/api/admin/seasons/%FF")).send().await.expect("get"), 405, "method_not_allowed")
        .await;
    for path in ["/api/clips/%FF", "/api/users/%FF", "/api/users/%C3%28/followers", "/api/leaderboard/%FF"] {
        let response = client.get(app.url(path)).send().await.expect("get");
        let status = response.status().as_u16();
        assert!(status == 400 || status == 404, "{path}: {status}");
        let content_type = response.headers()["content-type"].to_str().expect("type").to_owned();
        assert!(content_type.starts_with("application/json"), "{path}: {content_type}");
        let body: Value = response.json().await.expect("json");
        assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string(), "{path}: {body}");
    }
    for path in ["/api", "/api/"] {
        assert_error(client.get(app.url(path)).send().await.expect("get"), 404, "not_found").await;
    }
    // Pages keep their HTML answers.
    let page = client.put(app.url("/story")).send().await.expect("put");
    assert_eq!(page.status(), 405);
    assert!(!page.headers().get("content-type").is_some_and(|t| t.to_str().unwrap_or("").contains("json")));
}

#[tokio::test]
async fn a_stalled_body_is_a_json_503() {
    let app = spawn_with(SpawnOptions {
        env: vec![("AIMOVIEZ_REQUEST_TIMEOUT_SECS".into(), "1".into())],
        ..SpawnOptions::default()
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(app.address).await.expect("connect");
    let head = format!(
        "POST /api/vote HTTP/1.1\r\nHost: {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"clipId\"",
        app.address
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server answers a stalled body");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("content-type: application/json"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
}

#[tokio::test]
async fn unknown_query_parameters_on_reads_are_ignored() {
    let app = spawn_app().await;
    let member = app.signed_in("cachebuster").await;
    for path in [
        "/api/vote?_=1700000000",
        "/api/search?q=demo&_=1",
        "/api/leaderboard/clips?_=1",
        "/api/notifications?_=1",
        "/api/profile/clips?_=1",
        "/api/users/cachebuster/followers?_=1",
        "/leaderboard?_=1",
        "/notifications?_=1",
    ] {
        let response = member.get(app.url(path)).send().await.expect("get");
        assert_eq!(response.status(), 200, "{path}");
    }
    // Bodies still refuse fields they do not know.
    let response = member
        .post(app.url("/api/vote"))
        .json(&json!({"clipId": app.clip_ids().await[0], "extra": 1}))
        .send()
        .await
        .expect("vote");
    assert_error(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn a_spent_daily_budget_says_when_voting_opens_again() {
    // One hour into a UTC day: the budget comes back in 23 hours.
    let day_start = 20_000_i64 * 86_400_000;
    let now = day_start + 3_600_000;
    let app = spawn_with(SpawnOptions {
        env: vec![("AIMOVIEZ_VOTES_DAILY_BUDGET".into(), "1".into())],
        clock: Some(ClockOverride(Arc::new(move || Timestamp::from_millis(now)))),
        ..SpawnOptions::default()
    })
    .await;
    let ids = app.clip_ids().await;
    assert_eq!(app.vote(ids[0]).await.status(), 200);
    let refused = app.vote(ids[1]).await;
    assert_eq!(
        refused.headers().get("retry-after").map(|v| v.to_str().expect("text").to_owned()).as_deref(),
        Some("82800")
    );
    assert_error(refused, 429, "daily_limit_reached").await;
}

#[tokio::test]
async fn invisible_text_is_not_a_comment() {
    let app = spawn_app().await;
    let member = app.signed_in("ghostwriter").await;
    let clip = app.clip_ids().await[0];
    for body in ["\u{200b}\u{200b}", "\u{202e}\u{202e}", "\u{2066}\u{2069}", "\u{feff}"] {
        let response = member
            .post(app.url("/api/comments"))
            .json(&json!({"clipId": clip, "body": body}))
            .send()
            .await
            .expect("post");
        assert_error(response, 400, "invalid_request").await;
    }
    let response = member
        .post(app.url("/api/comments"))
        .json(&json!({"clipId": clip, "body": "\u{200b} hi \u{202e}"}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 201);
    let comment: Value = response.json().await.expect("json");
    assert_eq!(comment["body"], "hi", "{comment}");
}

/// Reads until the server closes the connection, or gives up after `limit`.
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> Option<String> {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut seen)).await;
    read.ok().map(|_| String::from_utf8_lossy(&seen).into_owned())
}

#[tokio::test]
async fn half_sent_heads_and_idle_connections_are_cut_off() {
    let app = spawn_with(SpawnOptions {
        env: vec![("AIMOVIEZ_HEADER_READ_TIMEOUT_SECS".into(), "1".into())],
        ..SpawnOptions::default()
    })
    .await;
    let mut half = tokio::net::TcpStream::connect(app.address).await.expect("connect");
    half.write_all(format!("GET /api/health HTTP/1.1\r\nHost: {}\r\nX-a: ", app.address).as_bytes())
        .await
        .expect("write");
    assert!(closed_within(&mut half, Duration::from_secs(6)).await.is_some(), "a half-sent head is held");

    let mut idle = tokio::net::TcpStream::connect(app.address).await.expect("connect");
    idle.write_all(format!("GET /api/health HTTP/1.1\r\nHost: {}\r\n\r\n", app.address).as_bytes())
        .await
        .expect("write");
    let answer = closed_within(&mut idle, Duration::from_secs(6)).await.expect("an idle keep-alive connection is held");
    assert!(answer.starts_with("HTTP/1.1 200"), "answered first: {answer}");

    // A head larger than max_header_bytes (64 KiB) is refused, not buffered.
    let mut large = tokio::net::TcpStream::connect(app.address).await.expect("connect");
    let filler = "a".repeat(100 * 1024);
    let head = format!("GET /api/health HTTP/1.1\r\nHost: {}\r\nX-a: {filler}\r\n\r\n", app.address);
    let _ = large.write_all(head.as_bytes()).await;
    let answer = closed_within(&mut large, Duration::from_secs(6)).await.expect("a huge head is closed");
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 431"), "{answer}");
}

#[tokio::test]
async fn connections_per_address_are_capped_except_live_streams() {
    let app = spawn_with(SpawnOptions {
        env: vec![
            ("AIMOVIEZ_MAX_CONNECTIONS_PER_IP".into(), "2".into()),
            // Loopback is trusted (and so uncapped) by default.
            ("AIMOVIEZ_TRUSTED_PROXIES".into(), "[]".into()),
        ],
        ..SpawnOptions::default()
    })
    .await;
    let request = format!("GET /api/health HTTP/1.1\r\nHost: {}\r\n\r\n", app.address);
    let open = || async {
        let mut stream = tokio::net::TcpStream::connect(app.address).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut buffer = vec![0; 4096];
        let read =
            tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await.expect("an answer or EOF");
        let answered = read.is_ok_and(|n| n > 0 && buffer.starts_with(b"HTTP/1.1 200"));
        (stream, answered)
    };
    let (first, answered) = open().await;
    assert!(answered);
    let (second, answered) = open().await;
    assert!(answered);
    let (_third, answered) = open().await;
    assert!(!answered, "a third connection from one address is closed");
    drop(second);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A live stream does not count: with it open, one more plain connection fits.
    let mut live = tokio::net::TcpStream::connect(app.address).await.expect("connect");
    live.write_all(format!("GET /api/live HTTP/1.1\r\nHost: {}\r\n\r\n", app.address).as_bytes()).await.expect("write");
    let mut buffer = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), live.read(&mut buffer)).await.expect("live").expect("read");
    assert!(buffer[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buffer[..n]));
    let (_fourth, answered) = open().await;
    assert!(answered, "the live stream gave its place back");
    let (_fifth, answered) = open().await;
    assert!(!answered, "the cap still holds");
    drop(first);
}

/// A burst of connections larger than tokio's default listen backlog
/// (1,024), all made before the server accepts any, is served whole: the
/// kernel's queue holds them (issue #16: the 10,000-connection bench lost
/// 2,000 connections to a full queue).
#[tokio::test]
async fn a_burst_of_connections_waits_in_the_listen_queue() {
    const BURST: usize = 2_000;
    let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0);
    if somaxconn < BURST {
        eprintln!("skipped: net.core.somaxconn is {somaxconn}, below the burst of {BURST}");
        return;
    }
    let wanted = (BURST + 1024) as u64;
    if rlimit::increase_nofile_limit(wanted).unwrap_or(0) < wanted {
        eprintln!("skipped: cannot open {wanted} files");
        return;
    }
    let built = build_unserved(SpawnOptions::default()).await;
    let mut streams = Vec::with_capacity(BURST);
    for index in 0..BURST {
        let connected = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(built.address))
            .await
            .unwrap_or_else(|_| panic!("connection {index}: the handshake waits for a place in the listen queue"));
        streams.push(connected.expect("connect"));
    }
    let app = built.serve();
    let request = format!("GET /api/health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", app.address);
    let answers: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            let request = request.clone();
            tokio::spawn(async move {
                stream.write_all(request.as_bytes()).await?;
                let mut answer = Vec::new();
                stream.read_to_end(&mut answer).await?;
                Ok::<_, std::io::Error>(answer)
            })
        })
        .collect();
    for (index, answer) in answers.into_iter().enumerate() {
        let answer = tokio::time::timeout(Duration::from_secs(30), answer)
            .await
            .expect("answered in time")
            .expect("task")
            .unwrap_or_else(|error| panic!("connection {index}: {error}"));
        assert!(answer.starts_with(b"HTTP/1.1 200"), "connection {index}: {}", String::from_utf8_lossy(&answer));
    }
}
