//! Acknowledged means durable for every kind of write, not only votes
//! (`tests/crash.rs`): the real binary is killed with SIGKILL while uploads,
//! a burst of comments, admin advances and an online backup are all under
//! way, restarted on the same data, twice. Every upload, comment and advance
//! that got a 2xx must be there; nothing half-done may be visible: no clip
//! without its media files, no media file that no clip uses is served, a
//! backup directory is complete (it restores and checks clean) or refused
//! as unfinished; and `aimoviez check` finds 0 mismatches.
//!
//! The kill comes once each kind of write has been acknowledged a few times
//! and a backup is in progress — a condition, not a fixed sleep, so a loaded
//! machine only makes the test slower.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{Value, json};

mod common;
use common::{BINARY, Serve, cli, start, text, unique_clip};

const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Acknowledged writes of each kind a cycle waits for before its kill.
const UPLOADS_BEFORE_KILL: u64 = 3;
const COMMENTS_BEFORE_KILL: u64 = 40;
const BACKUPS_BEFORE_KILL: u64 = 1;
/// A hang guard, not a timing assertion: the test waits on conditions and
/// gives up only after this long.
const PATIENCE: Duration = Duration::from_secs(300);

/// What the load saw acknowledged, and what it sent without hearing back.
#[derive(Default)]
struct Acknowledged {
    /// Clip ids of acknowledged uploads.
    uploads: Vec<u64>,
    /// Acknowledged comments: id → (clip, body).
    comments: BTreeMap<u64, (u64, String)>,
    /// Slots an acknowledged advance locked: position → winner.
    locked: BTreeMap<u64, u64>,
    /// Backup directories the CLI reported complete.
    backups: Vec<PathBuf>,
    /// Backup directories a backup was writing at the kill (no answer).
    unanswered_backups: Vec<PathBuf>,
    /// Answers no write should get (kind, status, body).
    unexpected: Vec<(&'static str, u16, String)>,
}

/// The answer's JSON when it is a 2xx; `None` for no answer (the kill),
/// anything else is recorded as unexpected.
async fn answer(
    acked: &Mutex<Acknowledged>,
    kind: &'static str,
    sent: reqwest::Result<reqwest::Response>,
) -> Option<Value> {
    let response = sent.ok()?;
    let status = response.status().as_u16();
    let body = response.text().await.ok()?;
    if (200..300).contains(&status) {
        return Some(serde_json::from_str(&body).unwrap_or(Value::Null));
    }
    acked.lock().unexpected.push((kind, status, body.chars().take(300).collect()));
    None
}

fn create_admin(data: &Path) {
    let mut child = Command::new(BINARY)
        .args(["admin", "create", "--username", "crash_admin", "--password-stdin", "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("admin create runs");
    use std::io::Write as _;
    child.stdin.take().expect("stdin").write_all(format!("{ADMIN_PASSWORD}\n").as_bytes()).expect("password");
    let output = child.wait_with_output().expect("admin create ends");
    assert!(output.status.success(), "{}", text(&output));
}

/// A client signed in over the API (registering the account when asked).
async fn signed_in(base: &str, route: &str, username: &str, password: &str) -> reqwest::Client {
    let client =
        reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(60)).build().expect("client");
    let response = client
        .post(format!("{base}/api/auth/{route}"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("sign in");
    assert!(response.status().is_success(), "{route} {username}: {}", response.status());
    client
}

/// The media files under `media` (names such as `ab/ab….mp4`), after
/// checking each is whole (its name is the BLAKE3 hash of its bytes).
fn media_files(media: &Path) -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    for shard in std::fs::read_dir(media).expect("media dir").flatten() {
        let shard_name = shard.file_name().to_string_lossy().into_owned();
        if shard_name == ".incoming" {
            continue;
        }
        for file in std::fs::read_dir(shard.path()).expect("shard").flatten() {
            let path = file.path();
            let bytes = std::fs::read(&path).expect("read media");
            let stem = path.file_stem().expect("stem").to_string_lossy().into_owned();
            assert_eq!(blake3::hash(&bytes).to_hex().as_str(), stem, "{} is not whole", path.display());
            files.insert(format!("{shard_name}/{}", file.file_name().to_string_lossy()));
        }
    }
    files
}

/// Every comment on `clip` (all pages, replies are not used here): id → body.
async fn comments_on(client: &reqwest::Client, base: &str, clip: u64) -> BTreeMap<u64, String> {
    let mut found = BTreeMap::new();
    let mut offset = 0;
    loop {
        let page: Value = client
            .get(format!("{base}/api/comments?clipId={clip}&limit=100&offset={offset}"))
            .send()
            .await
            .expect("comments")
            .json()
            .await
            .expect("json");
        let comments = page["comments"].as_array().expect("comments");
        for comment in comments {
            found.insert(comment["id"].as_u64().expect("id"), comment["body"].as_str().expect("body").to_owned());
        }
        if page["hasMore"] != true {
            return found;
        }
        offset += comments.len();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_write_survives_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).expect("backups dir");
    create_admin(&data);
    // Rate limits and the pending-upload cap off (the load comes from one
    // address and one uploader), no ffmpeg.
    let env = ["VOTE", "UPLOAD", "COMMENT", "AUTH", "API", "READ", "ADMIN"]
        .map(|class| (format!("AIMOVIEZ_RATE_LIMITS_{class}"), "0".to_owned()))
        .into_iter()
        .chain([
            ("AIMOVIEZ_MEDIA_FFMPEG".to_owned(), "off".to_owned()),
            ("AIMOVIEZ_MEDIA_MAX_PENDING_UPLOADS".to_owned(), "10000".to_owned()),
        ])
        .collect::<Vec<_>>();
    let serve = || Serve { demo: true, env: env.clone(), ..Serve::default() };
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let media_at_start = {
        let server = start(&data, serve(), &client).await;
        drop(server);
        media_files(&data.join("media"))
    };

    for cycle in 0..2u32 {
        let mut server = start(&data, serve(), &client).await;
        let base = server.base.clone();
        let uploader =
            signed_in(&base, if cycle == 0 { "register" } else { "login" }, "crash_uploader", ADMIN_PASSWORD).await;
        let admin = signed_in(&base, "login", "crash_admin", ADMIN_PASSWORD).await;
        let feed: Value =
            client.get(format!("{base}/api/vote?limit=20")).send().await.expect("feed").json().await.expect("json");
        let clips: Vec<u64> =
            feed["clips"].as_array().expect("clips").iter().filter_map(|c| c["id"].as_u64()).collect();
        assert!(!clips.is_empty(), "the open slot has clips");

        let stop = Arc::new(AtomicBool::new(false));
        let counts: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
        let (uploads, comments, advances, backups_done) = (0, 1, 2, 3);
        let backing_up = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        {
            let (uploader, base, stop, counts, acked) =
                (uploader.clone(), base.clone(), stop.clone(), counts.clone(), acked.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let form = reqwest::multipart::Form::new()
                        .text("title", format!("crash {cycle}.{n}"))
                        .text("genre", "drama")
                        .part("file", reqwest::multipart::Part::bytes(unique_clip()).file_name("clip.mp4"));
                    let sent = uploader.post(format!("{base}/api/upload")).multipart(form).send().await;
                    let Some(body) = answer(&acked, "upload", sent).await else { return };
                    acked.lock().uploads.push(body["clipId"].as_u64().expect("clipId"));
                    counts[uploads].fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        for writer in 0..2u32 {
            let (uploader, base, stop, counts, acked, clips) =
                (uploader.clone(), base.clone(), stop.clone(), counts.clone(), acked.clone(), clips.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let clip = clips[n % clips.len()];
                    let body = format!("comment {cycle}.{writer}.{n}");
                    let sent = uploader
                        .post(format!("{base}/api/comments"))
                        .json(&json!({ "clipId": clip, "body": body }))
                        .send()
                        .await;
                    let Some(comment) = answer(&acked, "comment", sent).await else { return };
                    acked.lock().comments.insert(comment["id"].as_u64().expect("id"), (clip, body));
                    counts[comments].fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        {
            let (admin, base, stop, counts, acked) =
                (admin.clone(), base.clone(), stop.clone(), counts.clone(), acked.clone());
            tasks.push(tokio::spawn(async move {
                // A few advances spread over the load, each after some comments.
                while !stop.load(Ordering::Relaxed) && counts[advances].load(Ordering::Relaxed) < 3 {
                    let sent = admin.post(format!("{base}/api/admin/slots/advance")).send().await;
                    let Some(outcome) = answer(&acked, "advance", sent).await else { return };
                    if outcome["result"] == "locked" {
                        let position = outcome["slotPosition"].as_u64().expect("slotPosition");
                        acked.lock().locked.insert(position, outcome["winnerClipId"].as_u64().expect("winner"));
                    }
                    counts[advances].fetch_add(1, Ordering::Relaxed);
                    let wait_for = counts[comments].load(Ordering::Relaxed) + 10;
                    while !stop.load(Ordering::Relaxed) && counts[comments].load(Ordering::Relaxed) < wait_for {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }));
        }
        {
            let (data, backups, stop, counts, acked, backing_up) =
                (data.clone(), backups.clone(), stop.clone(), counts.clone(), acked.clone(), backing_up.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let dest = backups.join(format!("cycle{cycle}-{n}"));
                    backing_up.store(true, Ordering::Release);
                    let output =
                        cli([OsStr::new("backup"), dest.as_os_str(), OsStr::new("--data"), data.as_os_str()]).await;
                    if output.status.success() {
                        backing_up.store(false, Ordering::Release);
                        acked.lock().backups.push(dest);
                        counts[backups_done].fetch_add(1, Ordering::Relaxed);
                    } else {
                        // Killed under it: the server cannot answer any more.
                        acked.lock().unanswered_backups.push(dest);
                        return;
                    }
                }
            }));
        }

        // Kill once every kind of write has been acknowledged and a backup
        // is being written.
        let gave_up = Instant::now() + PATIENCE;
        loop {
            let seen = counts.each_ref().map(|count| count.load(Ordering::Relaxed));
            let ready = seen[uploads] >= UPLOADS_BEFORE_KILL
                && seen[comments] >= COMMENTS_BEFORE_KILL
                && seen[advances] >= 1
                && seen[backups_done] >= BACKUPS_BEFORE_KILL
                && backing_up.load(Ordering::Acquire);
            if ready {
                break;
            }
            let unexpected = acked.lock().unexpected.clone();
            assert!(unexpected.is_empty(), "cycle {cycle}: unexpected answers: {unexpected:?}");
            assert!(
                Instant::now() < gave_up,
                "cycle {cycle}: not every kind of write was acknowledged (uploads, comments, advances, backups): {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server.child.kill().expect("SIGKILL");
        server.child.wait().expect("reaped");
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.expect("load task");
        }
        drop(server);
        let unexpected = acked.lock().unexpected.clone();
        assert!(unexpected.is_empty(), "cycle {cycle}: answers other than success: {unexpected:?}");

        // Restarted on the same data: everything acknowledged is there.
        let server = start(&data, serve(), &client).await;
        let base = server.base.clone();
        let uploader = signed_in(&base, "login", "crash_uploader", ADMIN_PASSWORD).await;
        let admin = signed_in(&base, "login", "crash_admin", ADMIN_PASSWORD).await;
        let acked_now = std::mem::take(&mut *acked.lock());
        let mine: Value = uploader
            .get(format!("{base}/api/profile/clips?limit=100"))
            .send()
            .await
            .expect("my clips")
            .json()
            .await
            .expect("json");
        assert_eq!(mine["hasMore"], false, "more than 100 uploads: page through them");
        let files = media_files(&data.join("media"));
        let mut used = BTreeSet::new();
        let mut listed = BTreeSet::new();
        for clip in mine["clips"].as_array().expect("clips") {
            listed.insert(clip["id"].as_u64().expect("id"));
            for key in ["videoUrl", "posterUrl"] {
                let name = clip[key].as_str().expect(key).trim_start_matches("/media/").to_owned();
                assert!(files.contains(&name), "clip {} has no {key} file {name} after the kill", clip["id"]);
                used.insert(name);
            }
        }
        for clip in &acked_now.uploads {
            assert!(listed.contains(clip), "cycle {cycle}: acknowledged upload {clip} lost");
        }
        // A video stored just before the kill, whose clip was never recorded,
        // is served to nobody (not even an admin) and counted nowhere.
        let orphans: Vec<&String> =
            files.iter().filter(|f| !used.contains(*f) && !media_at_start.contains(*f)).collect();
        for orphan in &orphans {
            let status = admin.get(format!("{base}/media/{orphan}")).send().await.expect("media").status();
            assert_eq!(status, 404, "cycle {cycle}: {orphan} is used by no clip but served");
        }
        let comment_count = acked_now.comments.len();
        let mut by_clip: BTreeMap<u64, Vec<(u64, String)>> = BTreeMap::new();
        for (id, (clip, body)) in acked_now.comments {
            by_clip.entry(clip).or_default().push((id, body));
        }
        for (clip, acknowledged) in by_clip {
            let stored = comments_on(&client, &base, clip).await;
            for (id, body) in acknowledged {
                assert_eq!(stored.get(&id), Some(&body), "cycle {cycle}: acknowledged comment {id} on clip {clip}");
            }
        }
        let story: Value =
            client.get(format!("{base}/api/story")).send().await.expect("story").json().await.expect("json");
        for (position, winner) in &acked_now.locked {
            let slot = story["slots"]
                .as_array()
                .expect("slots")
                .iter()
                .find(|slot| slot["position"].as_u64() == Some(*position))
                .unwrap_or_else(|| panic!("slot {position} missing: {story}"));
            assert_eq!(slot["status"], "locked", "cycle {cycle}: acknowledged advance of slot {position}: {slot}");
            assert_eq!(slot["winner"]["id"].as_u64(), Some(*winner), "slot {position}: {slot}");
        }
        // A backup the CLI reported is complete; the one the kill cut off
        // is complete or refused as unfinished, never half-restorable.
        for backup in &acked_now.backups {
            assert!(backup.join("BACKUP.txt").is_file(), "reported backup {} has no manifest", backup.display());
        }
        let mut cut_off = Vec::new();
        for backup in &acked_now.unanswered_backups {
            let restored = dir.path().join(format!("restored-{cycle}"));
            let output =
                cli([OsStr::new("restore"), backup.as_os_str(), OsStr::new("--data"), restored.as_os_str()]).await;
            if backup.join("BACKUP.txt").is_file() {
                assert!(output.status.success(), "a complete backup restores and checks clean: {}", text(&output));
                cut_off.push("complete, restored");
            } else if backup.exists() {
                assert!(!output.status.success(), "an unfinished backup is refused: {}", text(&output));
                cut_off.push("unfinished, refused");
            } else {
                assert!(!output.status.success(), "a missing backup is refused: {}", text(&output));
                cut_off.push("never started");
            }
        }
        eprintln!(
            "cycle {cycle}: {} uploads, {} comments, {} locked slots, {} backups acknowledged; backup at the kill: \
             {cut_off:?}; {} unused media file(s) left, served to nobody",
            acked_now.uploads.len(),
            comment_count,
            acked_now.locked.len(),
            acked_now.backups.len(),
            orphans.len()
        );
        drop(server);
    }
    let output = cli([OsStr::new("check"), OsStr::new("--data"), data.as_os_str()]).await;
    assert!(output.status.success() && text(&output).contains(" 0 mismatches"), "check: {}", text(&output));
}
