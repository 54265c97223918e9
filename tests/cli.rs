//! The `aimoviez admin` commands against the real binary, with the server
//! running (through its admin socket) and stopped (opening the data dir).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::json;

mod common;
use common::{BINARY, Serve, start};

fn admin(data: &Path, args: &[&str], password: &str) -> std::process::Output {
    let mut child = Command::new(BINARY)
        .arg("admin")
        .args(args)
        .args(["--password-stdin", "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn admin");
    child.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes()).expect("write");
    child.wait_with_output().expect("admin runs")
}

async fn login_status(base: &str, username: &str, password: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login")
        .status()
        .as_u16()
}

#[tokio::test]
async fn admin_create_works_with_the_server_stopped_and_running() {
    let data = tempfile::tempdir().expect("tempdir");
    let stopped = admin(data.path(), &["create", "--username", "First_Admin"], "first admin password");
    assert!(stopped.status.success(), "{}", String::from_utf8_lossy(&stopped.stderr));

    let server = start(data.path(), Serve::default(), &reqwest::Client::new()).await;
    assert_eq!(login_status(&server.base, "first_admin", "first admin password").await, 200);
    let running = admin(data.path(), &["create", "--username", "second"], "second admin password");
    assert!(running.status.success(), "{}", String::from_utf8_lossy(&running.stderr));
    assert!(String::from_utf8_lossy(&running.stdout).contains("through the running server"));
    assert_eq!(login_status(&server.base, "second", "second admin password").await, 200);

    let reset = admin(data.path(), &["reset-password", "--username", "second"], "a brand new password");
    assert!(reset.status.success(), "{}", String::from_utf8_lossy(&reset.stderr));
    assert_eq!(login_status(&server.base, "second", "second admin password").await, 401);
    assert_eq!(login_status(&server.base, "second", "a brand new password").await, 200);

    let short = admin(data.path(), &["create", "--username", "third"], "short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8"));
    let missing = admin(data.path(), &["reset-password", "--username", "nobody"], "long enough password");
    assert!(!missing.status.success());
}

/// A client that registered `username` and holds its session cookie.
async fn registered(base: &str, username: &str) -> reqwest::Client {
    let client = reqwest::Client::builder().cookie_store(true).build().expect("client");
    let response = client
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"username": username, "password": "the squatter's password"}))
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), 201);
    client
}

async fn me_status(client: &reqwest::Client, base: &str) -> u16 {
    client.get(format!("{base}/api/me")).send().await.expect("me").status().as_u16()
}

#[tokio::test]
async fn admin_create_on_an_existing_account_promotes_it_and_signs_it_out() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut server = start(data.path(), Serve::default(), &reqwest::Client::new()).await;
    let squatter = registered(&server.base, "squatter").await;
    let offline_one = registered(&server.base, "offline_one").await;
    assert_eq!(me_status(&squatter, &server.base).await, 200);

    // Not a terminal (stdin is a pipe): it proceeds and says what it did.
    let promoted = admin(data.path(), &["create", "--username", "Squatter"], "the operator's password");
    assert!(promoted.status.success(), "{}", String::from_utf8_lossy(&promoted.stderr));
    let said = String::from_utf8_lossy(&promoted.stdout);
    assert!(said.contains("promoted") && said.contains("squatter"), "{said}");
    assert!(said.contains("through the running server"), "{said}");
    assert_eq!(me_status(&squatter, &server.base).await, 401, "the session from before the promotion is gone");
    assert_eq!(login_status(&server.base, "squatter", "the squatter's password").await, 401);
    assert_eq!(login_status(&server.base, "squatter", "the operator's password").await, 200);

    let created = admin(data.path(), &["create", "--username", "brand_new"], "another long password");
    assert!(String::from_utf8_lossy(&created.stdout).contains("created"), "{created:?}");

    // With the server stopped the CLI opens the data dir; the next start
    // loads no session of the promoted account.
    server.terminate();
    let offline = admin(data.path(), &["create", "--username", "offline_one", "--yes"], "offline admin password");
    assert!(offline.status.success(), "{}", String::from_utf8_lossy(&offline.stderr));
    let said = String::from_utf8_lossy(&offline.stdout);
    assert!(said.contains("promoted") && !said.contains("through the running server"), "{said}");
    let server = start(data.path(), Serve::default(), &reqwest::Client::new()).await;
    assert_eq!(me_status(&offline_one, &server.base).await, 401);
    assert_eq!(login_status(&server.base, "offline_one", "offline admin password").await, 200);
}

#[tokio::test]
async fn reindex_rebuilds_the_search_index_offline() {
    let data = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::new();
    let mut server = start(data.path(), Serve::demo(), &client).await;
    let running = Command::new(BINARY).args(["reindex", "--data"]).arg(data.path()).output().expect("reindex");
    assert!(!running.status.success(), "reindex refuses while the server holds the data");
    server.child.kill().expect("kill");
    server.child.wait().expect("wait");
    drop(server);
    let offline = Command::new(BINARY).args(["reindex", "--data"]).arg(data.path()).output().expect("reindex");
    let stdout = String::from_utf8_lossy(&offline.stdout);
    assert!(offline.status.success(), "{stdout}{}", String::from_utf8_lossy(&offline.stderr));
    assert!(stdout.contains("reindexed 4 approved clips"), "{stdout}");
    let server = start(data.path(), Serve::default(), &client).await;
    let found: serde_json::Value =
        reqwest::get(format!("{}/api/search?q=signal", server.base)).await.expect("search").json().await.expect("json");
    assert!(found["clips"].as_array().is_some_and(|clips| !clips.is_empty()), "{found}");
}
