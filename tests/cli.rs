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
