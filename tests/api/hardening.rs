//! Regression tests for what the hardening work (issue #18) found: by the
//! parser fuzzing (`tests/fuzz.rs`), by Schemathesis
//! (`scripts/schemathesis.sh`) and by the full-disk and kill tests. Each
//! test names the finding it pins.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app};

/// A JSON array where the body should be an object: serde reads a struct
/// from the sequence form too, so `[3, "super"]` was a vote for clip 3 and
/// `["name", "password"]` signed in. Every JSON body is refused unless it is
/// one object, and nothing changes.
#[tokio::test]
async fn a_json_array_is_not_an_object() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];
    let before = app.vote_count(clip).await;
    let post = |path: &str, body: &str| {
        app.client.post(app.url(path)).header("content-type", "application/json").body(body.to_owned()).send()
    };
    for body in [format!("[{clip},\"standard\"]"), format!("  [{clip}]"), "null".to_owned(), "3".to_owned()] {
        let response = post("/api/vote", &body).await.expect("vote");
        let error = assert_error(response, 400, "invalid_request").await;
        assert_eq!(error["error"]["message"], "the body must be a JSON object", "{body}");
    }
    assert_eq!(app.vote_count(clip).await, before, "no vote was counted");

    let _account = app.signed_in("array_user").await;
    let response = post("/api/auth/login", r#"["array_user","correct horse battery"]"#).await.expect("login");
    assert!(response.headers().get("set-cookie").is_none(), "no session for an array body");
    assert_error(response, 400, "invalid_request").await;

    // An empty body still advances nothing without a session, and an array
    // is refused by the raw-body parser of the admin advance too.
    let admin = app.browser();
    app.create_admin("array_admin", "correct horse battery").await;
    let response = admin
        .post(app.url("/api/auth/login"))
        .json(&json!({"username": "array_admin", "password": "correct horse battery"}))
        .send()
        .await
        .expect("admin login");
    assert_eq!(response.status(), 200);
    let response = admin
        .post(app.url("/api/admin/slots/advance"))
        .header("content-type", "application/json")
        .body("[1]")
        .send()
        .await
        .expect("advance");
    assert_error(response, 400, "invalid_request").await;
}

/// serde's refusals quoted the client's input in full (twice for an
/// unknown field: a 60 KB field name gave a 120 KB error) and named Rust
/// types ("expected struct CastRequest"). Refusals now quote at most 40
/// characters of any input and name no type.
#[tokio::test]
async fn refusals_quote_little_of_the_input_and_no_rust_type() {
    let app = spawn_app().await;
    let long_field = "x".repeat(60_000);
    let body = format!("{{\"clipId\":3,\"{long_field}\":1}}");
    let response = app
        .client
        .post(app.url("/api/vote"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("vote");
    let error = assert_error(response, 400, "invalid_request").await;
    let message = error["error"]["message"].as_str().expect("message");
    assert!(message.len() < 300, "a {}-byte message", message.len());
    assert!(message.contains("unknown field"), "{message}");

    let response = app
        .client
        .post(app.url("/api/vote"))
        .header("content-type", "application/json")
        .body(r#"{"clipId":{"a":1}}"#)
        .send()
        .await
        .expect("vote");
    let error = assert_error(response, 400, "invalid_request").await;
    let message = error["error"]["message"].as_str().expect("message");
    assert!(!message.contains("struct") && !message.contains("::"), "{message}");

    let long_param = "y".repeat(3000);
    let response = app.get(&format!("/api/leaderboard/clips?period={long_param}")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: Value = response.json().await.expect("json");
    let message = error["error"]["message"].as_str().expect("message");
    assert!(message.len() < 300, "a {}-byte message: {message}", message.len());
}

/// A body with invalid UTF-8 inside the value of an unknown field the
/// handler ignores was accepted (the 10M-case fuzz run, json case 1656808):
/// serde_json checks only the strings it keeps. Every JSON body must now be
/// UTF-8 as a whole, and nothing is filed.
#[tokio::test]
async fn invalid_utf8_in_an_ignored_field_is_refused() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];
    let ann = app.signed_in("utf8_reporter").await;
    let mut body =
        format!("{{\"targetType\":\"clip\",\"targetId\":{clip},\"reason\":\"spam\",\"detnnnails\":\"link farm")
            .into_bytes();
    body.extend_from_slice(b"\xc3\xc3\"}");
    let response = ann
        .post(app.url("/api/reports"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("report");
    let error = assert_error(response, 400, "invalid_request").await;
    let message = error["error"]["message"].as_str().expect("message");
    assert!(message.starts_with("the body is not valid UTF-8"), "{message}");

    app.create_admin("utf8_admin", "correct horse battery").await;
    let admin = app.log_in("utf8_admin", "correct horse battery").await;
    let queue: Value = admin.get(app.url("/api/admin/reports")).send().await.expect("list").json().await.expect("json");
    assert_eq!(queue["reports"].as_array().map(Vec::len), Some(0), "nothing was filed: {queue}");
}
