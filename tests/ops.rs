//! Operations against the real binary: `--log-json` writes one parseable
//! JSON object per line, with method, route, status, latency and request id
//! on every request line and no password anywhere; and `aimoviez check`
//! migrates a schema-1 data dir (copying it first) and finds it clean.

use std::fs::File;
use std::process::Command;

use serde_json::{Value, json};

mod common;
use common::{BINARY, Serve, start};

async fn first_clips(client: &reqwest::Client, base: &str) -> Vec<u64> {
    let feed: Value =
        client.get(format!("{base}/api/vote?limit=10")).send().await.expect("feed").json().await.expect("json");
    feed["clips"].as_array().expect("clips").iter().filter_map(|clip| clip["id"].as_u64()).collect()
}

#[tokio::test]
async fn json_log_lines_parse_carry_the_request_fields_and_never_a_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("server.log");
    let log = Some(File::create(&log_path).expect("log"));
    let client = reqwest::Client::new();
    let mut server = start(
        &dir.path().join("data"),
        Serve { demo: true, args: vec!["--log-json"], log, ..Serve::default() },
        &client,
    )
    .await;
    let client = reqwest::Client::builder().cookie_store(true).build().expect("client");
    let base = server.base.clone();
    let password = "Sekrit-Passw0rd-never-in-logs";
    let wrong_password = "Wr0ng-Passw0rd-never-in-logs";
    let register = client
        .post(format!("{base}/api/auth/register"))
        .json(&json!({ "username": "log_tester", "password": password }))
        .send()
        .await
        .expect("register");
    assert_eq!(register.status(), 201);
    let wrong = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({ "username": "log_tester", "password": wrong_password }))
        .send()
        .await
        .expect("login");
    assert_eq!(wrong.status(), 401);
    let login = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({ "username": "log_tester", "password": password }))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let form = client
        .post(format!("{base}/login"))
        .form(&[("username", "log_tester"), ("password", wrong_password)])
        .send()
        .await
        .expect("form login");
    assert!(form.status().is_client_error() || form.status().is_success(), "{}", form.status());
    let clip = first_clips(&client, &base).await[0];
    let vote = client.post(format!("{base}/api/vote")).json(&json!({ "clipId": clip })).send().await.expect("vote");
    assert_eq!(vote.status(), 200);
    assert_eq!(client.get(format!("{base}/api/clips/{clip}")).send().await.expect("clip").status(), 200);
    assert!(server.terminate().success());

    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(!log.contains(password), "the password was logged:\n{log}");
    assert!(!log.contains(wrong_password), "a failed sign-in's password was logged:\n{log}");
    let mut requests = Vec::new();
    for line in log.lines().filter(|line| !line.trim().is_empty()) {
        let entry: Value = serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        assert!(entry["timestamp"].is_string() && entry["level"].is_string(), "{line}");
        assert!(entry["fields"]["message"].is_string(), "{line}");
        if entry["fields"]["message"] == "request handled" {
            let span = &entry["span"];
            for field in ["method", "route", "request_id"] {
                assert!(span[field].as_str().is_some_and(|v| !v.is_empty()), "{field} missing: {line}");
            }
            assert!(entry["fields"]["status"].is_u64(), "{line}");
            assert!(entry["fields"]["latency_ms"].is_number(), "{line}");
            requests.push(entry);
        }
    }
    let seen = |method: &str, route: &str, status: u64| {
        requests.iter().any(|entry| {
            entry["span"]["method"] == method && entry["span"]["route"] == route && entry["fields"]["status"] == status
        })
    };
    assert!(seen("POST", "/api/auth/login", 401), "{log}");
    assert!(seen("POST", "/api/auth/login", 200), "{log}");
    assert!(seen("POST", "/api/vote", 200), "{log}");
    assert!(seen("GET", "/api/clips/{id}", 200), "the route template, not the raw path: {log}");
    let ids: std::collections::HashSet<&str> =
        requests.iter().filter_map(|entry| entry["span"]["request_id"].as_str()).collect();
    assert_eq!(ids.len(), requests.len(), "each request has its own id");
}

/// The tables schema 2 added for profiles, follows and notifications.
const SCHEMA_2_SOCIAL_TABLES: [&str; 6] = [
    "user_id_to_stats",
    "follower_followee_to_membership",
    "followee_follower_to_membership",
    "user_notification_to_notification",
    "broadcast_id_to_notification",
    "follow_notified_to_membership",
];

#[tokio::test]
async fn check_migrates_a_version_1_data_dir_after_copying_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    // The schema-2 fixture (see tests/migration.rs) taken back to schema 1:
    // no tally, profile, follow or notification tables, version marker 1.
    std::fs::write(data.join("aimoviez.redb"), include_bytes!("fixtures/schema-2.redb")).expect("fixture");
    {
        let db = redb::Database::create(data.join("aimoviez.redb")).expect("open raw");
        let txn = db.begin_write().expect("write");
        let voters: redb::TableDefinition<&str, (u64, u64)> = redb::TableDefinition::new("voter_to_tally");
        let creators: redb::TableDefinition<u64, (u64, u64)> = redb::TableDefinition::new("creator_to_tally");
        assert!(txn.delete_table(voters).expect("delete"));
        assert!(txn.delete_table(creators).expect("delete"));
        for table in SCHEMA_2_SOCIAL_TABLES {
            txn.delete_table(redb::TableDefinition::<u64, u64>::new(table)).expect("delete");
        }
        let meta: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
        txn.open_table(meta).expect("meta").insert("schema_version", 1).expect("version");
        txn.commit().expect("commit");
    }

    let copies = || -> Vec<String> {
        std::fs::read_dir(data.join("backups"))
            .map(|entries| entries.filter_map(|e| e.ok()?.file_name().to_str().map(str::to_owned)).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert!(copies().is_empty());
    let output =
        Command::new(BINARY).args(["check", "--data"]).arg(&data).env("RUST_LOG", "info").output().expect("check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("checked 20 votes") && stdout.contains(" 0 mismatches"), "{stdout}");
    let made = copies();
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(made[0].starts_with("pre-migration-v1-") && made[0].ends_with(".redb"), "{made:?}");
    assert!(stderr.contains(&made[0]), "the log says where the copy is: {stderr}");

    let again = Command::new(BINARY).args(["check", "--data"]).arg(&data).output().expect("check");
    assert!(again.status.success());
    assert_eq!(copies().len(), 1, "a current file is not copied again");
}
