//! `aimoviez backup` and `aimoviez restore` against the real binary: a backup
//! taken through the running server while many voters vote holds every vote
//! acknowledged before it started, restores into an empty dir, checks clean,
//! and serves; an offline backup works too; non-empty targets are refused.

use std::ffi::OsStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{Serve, cli, start, text, voted_clips};

async fn cast(client: &reqwest::Client, base: &str, voter: &str, clip: u64) -> Result<u16, reqwest::Error> {
    let response = client
        .post(format!("{base}/api/vote"))
        .header("x-forwarded-for", voter)
        .json(&json!({ "clipId": clip }))
        .timeout(Duration::from_secs(10))
        .send()
        .await?;
    Ok(response.status().as_u16())
}

/// The open slot's clips: (total votes, video URLs).
async fn clips(client: &reqwest::Client, base: &str) -> (u64, Vec<String>) {
    let feed: Value =
        client.get(format!("{base}/api/vote?limit=20")).send().await.expect("feed").json().await.expect("json");
    let clips = feed["clips"].as_array().expect("clips");
    let total = clips.iter().filter_map(|c| c["voteCount"].as_u64()).sum();
    let urls = clips.iter().filter_map(|c| c["videoUrl"].as_str().map(str::to_owned)).collect();
    (total, urls)
}

async fn assert_media_served(client: &reqwest::Client, base: &str) {
    let (_, urls) = clips(client, base).await;
    assert!(!urls.is_empty(), "the restored server shows clips");
    for url in urls {
        let response = client.get(format!("{base}{url}")).send().await.expect("media");
        assert_eq!(response.status(), 200, "{url} is served from the restored media");
        assert!(!response.bytes().await.expect("body").is_empty());
    }
}

/// One vote's fate, as the voter saw it.
struct Cast {
    voter: String,
    clip: u64,
    /// HTTP status, or `None` when the request failed without one.
    status: Option<u16>,
    /// The answer arrived before the backup command was started.
    before_backup: bool,
    /// The answer arrived while the backup command ran.
    during_backup: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_voting_restores_every_acknowledged_vote() {
    let data = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::builder().user_agent("backup-test").build().expect("client");
    let server = start(data.path(), Serve::demo(), &client).await;

    let stop = Arc::new(AtomicBool::new(false));
    let backup_started = Arc::new(AtomicBool::new(false));
    let backup_running = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..32u32)
        .map(|worker| {
            let (client, base) = (client.clone(), server.base.clone());
            let (stop, started, running) = (stop.clone(), backup_started.clone(), backup_running.clone());
            tokio::spawn(async move {
                let mut log = Vec::new();
                let mut n = 0u32;
                while !stop.load(Ordering::SeqCst) {
                    let voter = format!("10.{}.{}.{}", worker + 1, n / 250, n % 250 + 1);
                    let clip = u64::from((worker + n) % 4 + 1);
                    n += 1;
                    let status = cast(&client, &base, &voter, clip).await.ok();
                    // Read after the answer arrived: `false` means it arrived
                    // before the backup command was even started.
                    let before_backup = !started.load(Ordering::SeqCst);
                    let during_backup = running.load(Ordering::SeqCst);
                    log.push(Cast { voter, clip, status, before_backup, during_backup });
                }
                log
            })
        })
        .collect();

    // Let the load build a database worth copying.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let occupied = tempfile::tempdir().expect("tempdir");
    std::fs::write(occupied.path().join("keep.txt"), b"mine").expect("write");
    let refused =
        cli([OsStr::new("backup"), occupied.path().as_os_str(), OsStr::new("--data"), data.path().as_os_str()]).await;
    assert!(!refused.status.success(), "backup into a non-empty dir must be refused");
    assert!(text(&refused).contains("not empty"), "{}", text(&refused));
    assert_eq!(std::fs::read(occupied.path().join("keep.txt")).expect("kept"), b"mine");

    let backups = tempfile::tempdir().expect("tempdir");
    let dest = backups.path().join("backup-1");
    backup_started.store(true, Ordering::SeqCst);
    backup_running.store(true, Ordering::SeqCst);
    let backup_began = Instant::now();
    let backup = cli([OsStr::new("backup"), dest.as_os_str(), OsStr::new("--data"), data.path().as_os_str()]).await;
    let backup_took = backup_began.elapsed();
    backup_running.store(false, Ordering::SeqCst);
    // Votes keep coming after the backup too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let mut log = Vec::new();
    for worker in workers {
        log.extend(worker.await.expect("worker"));
    }
    drop(server);

    let output = text(&backup);
    assert!(backup.status.success(), "backup failed: {output}");
    assert!(output.contains("through the running server"), "{output}");
    assert!(dest.join("BACKUP.txt").is_file() && dest.join("aimoviez.redb").is_file());
    assert!(dest.join("secret.key").is_file());

    let failed_during: Vec<_> =
        log.iter().filter(|c| c.during_backup && c.status.is_none_or(|s| s >= 500)).map(|c| &c.voter).collect();
    assert!(failed_during.is_empty(), "votes failed during the backup: {failed_during:?}");
    let acknowledged_before: Vec<&Cast> = log.iter().filter(|c| c.before_backup && c.status == Some(200)).collect();
    let acknowledged_during = log.iter().filter(|c| c.during_backup && c.status == Some(200)).count();
    let acknowledged = log.iter().filter(|c| c.status == Some(200)).count();
    eprintln!(
        "{} votes acknowledged before the backup, {acknowledged_during} while it ran ({backup_took:?}), {acknowledged} in all",
        acknowledged_before.len()
    );
    assert!(acknowledged_before.len() > 100, "only {} votes before the backup", acknowledged_before.len());
    assert!(acknowledged_during > 0, "the writer kept committing while the backup ran");

    let restored_root = tempfile::tempdir().expect("tempdir");
    let restored = restored_root.path().join("data");
    let restore = cli([OsStr::new("restore"), dest.as_os_str(), OsStr::new("--data"), restored.as_os_str()]).await;
    let output = text(&restore);
    assert!(restore.status.success(), "restore failed: {output}");
    assert!(output.contains("0 mismatches"), "{output}");

    let server = start(&restored, Serve::default(), &client).await;
    let step = acknowledged_before.len().div_ceil(300).max(1);
    let mut sampled = 0;
    for cast in acknowledged_before.iter().step_by(step) {
        let voted = voted_clips(&client, &server.base, &cast.voter).await;
        assert!(
            voted.contains(&cast.clip),
            "vote acknowledged before the backup is missing: {} → {}",
            cast.voter,
            cast.clip
        );
        sampled += 1;
    }
    assert!(sampled >= 100, "sampled {sampled} voters");
    let (total, _) = clips(&client, &server.base).await;
    assert!(
        total >= acknowledged_before.len() as u64 && total <= log.len() as u64,
        "restored {total} votes; {} acknowledged before the backup, {acknowledged} in all",
        acknowledged_before.len()
    );
    assert_media_served(&client, &server.base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_backup_restores_and_non_empty_targets_are_refused() {
    let data = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::builder().user_agent("offline-backup-test").build().expect("client");
    let server = start(data.path(), Serve::demo(), &client).await;
    let mut votes = Vec::new();
    for n in 0..40u64 {
        let voter = format!("10.200.0.{}", n + 1);
        let clip = n % 4 + 1;
        assert_eq!(cast(&client, &server.base, &voter, clip).await.expect("vote"), 200);
        votes.push((voter, clip));
    }
    // SIGKILL: the socket file stays behind, nobody listens on it.
    drop(server);

    let backups = tempfile::tempdir().expect("tempdir");
    let occupied = backups.path().join("occupied");
    std::fs::create_dir(&occupied).expect("mkdir");
    std::fs::write(occupied.join("keep.txt"), b"mine").expect("write");
    let refused =
        cli([OsStr::new("backup"), occupied.as_os_str(), OsStr::new("--data"), data.path().as_os_str()]).await;
    assert!(!refused.status.success(), "backup into a non-empty dir must be refused");
    assert!(text(&refused).contains("not empty"), "{}", text(&refused));

    let dest = backups.path().join("offline");
    let backup = cli([OsStr::new("backup"), dest.as_os_str(), OsStr::new("--data"), data.path().as_os_str()]).await;
    let output = text(&backup);
    assert!(backup.status.success(), "offline backup failed: {output}");
    assert!(output.contains("offline"), "{output}");
    let manifest = std::fs::read_to_string(dest.join("BACKUP.txt")).expect("manifest");
    let schema = format!("schema version: {}", aimoviez::store::SCHEMA_VERSION);
    assert!(manifest.contains(&schema), "{manifest}");
    assert!(manifest.contains("slot_vote_to_vote 40"), "{manifest}");

    let refused = cli([OsStr::new("restore"), dest.as_os_str(), OsStr::new("--data"), occupied.as_os_str()]).await;
    assert!(!refused.status.success(), "restore into a non-empty dir must be refused");
    assert!(text(&refused).contains("not empty"), "{}", text(&refused));
    assert_eq!(std::fs::read_dir(&occupied).expect("read").count(), 1, "the refused target is untouched");
    let refused = cli([OsStr::new("restore"), dest.as_os_str(), OsStr::new("--data"), data.path().as_os_str()]).await;
    assert!(!refused.status.success(), "restore over a live data dir must be refused");

    let restored = backups.path().join("restored");
    let restore = cli([OsStr::new("restore"), dest.as_os_str(), OsStr::new("--data"), restored.as_os_str()]).await;
    let output = text(&restore);
    assert!(restore.status.success(), "restore failed: {output}");
    assert!(output.contains("checked 40 votes"), "{output}");
    assert!(output.contains("0 mismatches"), "{output}");

    let server = start(&restored, Serve::default(), &client).await;
    for (voter, clip) in &votes {
        assert!(voted_clips(&client, &server.base, voter).await.contains(clip), "{voter} → {clip} missing");
    }
    assert_eq!(clips(&client, &server.base).await.0, 40);
    assert_media_served(&client, &server.base).await;
}
