//! Acknowledged means durable: the real binary is killed with SIGKILL while
//! many voters vote, restarted on the same data, and every vote that got a
//! 2xx must be there, no refused vote may be, and `aimoviez check` must find
//! every counter equal to a recount. Several cycles on the same data.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{BINARY, Serve, start, voted_clips};

/// Votes acknowledged in a cycle before its SIGKILL.
const ACKNOWLEDGED_BEFORE_KILL: u64 = 150;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Acknowledged,
    Refused,
    Unknown,
}

async fn total_votes(client: &reqwest::Client, base: &str) -> u64 {
    let feed: Value =
        client.get(format!("{base}/api/vote?limit=20")).send().await.expect("feed").json().await.expect("json");
    feed["clips"].as_array().expect("clips").iter().filter_map(|c| c["voteCount"].as_u64()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_votes_survive_sigkill() {
    let data = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::builder().user_agent("crash-test").build().expect("client");
    let mut counted_before = 0u64;
    for cycle in 0..3u32 {
        let server = start(data.path(), Serve::demo(), &client).await;
        let base = server.base.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = (0..48u32)
            .map(|worker| {
                let (client, base, stop, acked) = (client.clone(), base.clone(), stop.clone(), acked.clone());
                tokio::spawn(async move {
                    let mut log = Vec::new();
                    let mut n = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let voter = format!("10.{cycle}.{worker}.{n}");
                        let clip = u64::from((worker + n) % 4 + 1);
                        // Every fifth voter also repeats the vote, which must be refused.
                        let repeats = if n.is_multiple_of(5) { 2 } else { 1 };
                        for _ in 0..repeats {
                            let sent = client
                                .post(format!("{base}/api/vote"))
                                .header("x-forwarded-for", &voter)
                                .json(&json!({ "clipId": clip }))
                                .timeout(Duration::from_secs(5))
                                .send()
                                .await;
                            let outcome = match sent {
                                Ok(response) if response.status().is_success() => Outcome::Acknowledged,
                                Ok(response) if response.status() == 409 => Outcome::Refused,
                                Ok(response) if response.status() == 503 => Outcome::Unknown,
                                Ok(response) => panic!("unexpected status {}", response.status()),
                                Err(_) => Outcome::Unknown,
                            };
                            if outcome == Outcome::Acknowledged {
                                acked.fetch_add(1, Ordering::Relaxed);
                            }
                            log.push((voter.clone(), clip, outcome));
                            if outcome == Outcome::Unknown {
                                return log;
                            }
                        }
                    }
                    log
                })
            })
            .collect();
        // Kill once enough votes are acknowledged (however slow a loaded
        // machine makes that), then a little later each cycle, so the kills
        // land at different points of the writer's batches.
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.load(Ordering::Relaxed) < ACKNOWLEDGED_BEFORE_KILL && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(100 * u64::from(cycle))).await;
        let mut server = server;
        server.child.kill().expect("SIGKILL");
        server.child.wait().expect("reaped");
        stop.store(true, Ordering::Relaxed);
        let mut log = Vec::new();
        for worker in workers {
            log.extend(worker.await.expect("worker"));
        }
        drop(server);

        let server = start(data.path(), Serve::demo(), &client).await;
        let acknowledged = log.iter().filter(|e| e.2 == Outcome::Acknowledged).count() as u64;
        let unknown = log.iter().filter(|e| e.2 == Outcome::Unknown).count() as u64;
        assert!(
            acknowledged >= ACKNOWLEDGED_BEFORE_KILL,
            "cycle {cycle}: only {acknowledged} votes acknowledged in 60 s before the kill"
        );
        for (voter, clip, outcome) in &log {
            let voted = voted_clips(&client, &server.base, voter).await;
            match outcome {
                Outcome::Acknowledged => assert!(voted.contains(clip), "acknowledged vote lost: {voter} → {clip}"),
                // A refused repeat leaves exactly the first vote; nothing else is present.
                Outcome::Refused => assert_eq!(voted, vec![*clip], "refused vote stored: {voter}"),
                Outcome::Unknown => assert!(voted.len() <= 1),
            }
        }
        let total = total_votes(&client, &server.base).await;
        let new_votes = total - counted_before;
        assert!(
            new_votes >= acknowledged && new_votes <= acknowledged + unknown,
            "cycle {cycle}: {new_votes} new votes counted, {acknowledged} acknowledged, {unknown} unknown"
        );
        counted_before = total;
        eprintln!("cycle {cycle}: {acknowledged} acknowledged, {unknown} in flight at the kill, {new_votes} counted");
        // Kill again without load, then check the file offline.
        drop(server);
    }
    let check = Command::new(BINARY).args(["check", "--data"]).arg(data.path()).output().expect("check runs");
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "check failed: {stdout}{}", String::from_utf8_lossy(&check.stderr));
    assert!(stdout.contains("0 mismatches"), "{stdout}");
}

#[test]
fn check_exits_non_zero_on_a_tampered_counter() {
    let data = tempfile::tempdir().expect("tempdir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder().user_agent("check-test").build().expect("client");
        let server = start(data.path(), Serve::demo(), &client).await;
        let response = client.post(format!("{}/api/vote", server.base)).json(&json!({"clipId": 1})).send().await;
        assert_eq!(response.expect("vote").status(), 200);
        drop(server);
    });
    let clean = Command::new(BINARY).args(["check", "--data"]).arg(data.path()).output().expect("check runs");
    assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stdout));
    {
        let db = redb::Database::open(data.path().join("aimoviez.redb")).expect("open");
        let txn = db.begin_write().expect("txn");
        {
            let mut counters = txn.open_table(aimoviez::store::tables::SLOT_CLIP_TO_COUNTER).expect("table");
            counters.insert((1, 1, 1), (5, 5)).expect("tamper");
        }
        txn.commit().expect("commit");
    }
    let tampered = Command::new(BINARY).args(["check", "--data"]).arg(data.path()).output().expect("check runs");
    let stdout = String::from_utf8_lossy(&tampered.stdout);
    assert_eq!(tampered.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("mismatch: slot 1:1 clip 1"), "{stdout}");
}

#[tokio::test]
async fn sigterm_drains_and_exits_zero() {
    let data = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::builder().user_agent("sigterm-test").build().expect("client");
    let mut server = start(data.path(), Serve::demo(), &client).await;
    let response = client.post(format!("{}/api/vote", server.base)).json(&json!({"clipId": 2})).send().await;
    assert_eq!(response.expect("vote").status(), 200);
    let exit = server.terminate();
    assert_eq!(exit.code(), Some(0), "graceful shutdown exits 0");
    let server = start(data.path(), Serve::demo(), &client).await;
    assert_eq!(total_votes(&client, &server.base).await, 1);
}
