//! A full disk and a read-only data directory, with the real binary.
//!
//! The full-disk test mounts a 24 MiB tmpfs as the data directory (root
//! only: it skips with a message otherwise, and fails when `CI` or
//! `REQUIRE_ROOT_TESTS` is set, as in `.ci/run`), fills it while votes and
//! uploads arrive, and checks what the issue asks: writes that cannot be
//! stored get 503 `unavailable` with `Retry-After` in the error shape (never
//! a 500, a panic or a dropped connection), reads go on, `/api/health` says
//! degraded, nothing half-written is left, and once space is freed the
//! same process takes writes again; after a restart every acknowledged vote
//! and upload is there and `aimoviez check` finds 0 mismatches.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{Value, json};

mod common;
use common::{BINARY, Serve, cli, start, text, unique_clip};

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Whether a test that needs root may run; panics when CI requires it.
fn root_or_skip(test: &str) -> bool {
    if is_root() {
        return true;
    }
    // In CI a skipped test would hide a broken full-disk path: fail instead.
    for required in ["CI", "REQUIRE_ROOT_TESTS"] {
        assert!(std::env::var_os(required).is_none(), "{test} needs root (it mounts a tmpfs) and {required} is set");
    }
    eprintln!("skipping {test}: it mounts a small tmpfs and needs root");
    false
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, size_mib: u64) -> Mount {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m,mode=0755"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(status.success(), "mount a {size_mib} MiB tmpfs on {}", dir.display());
        Mount(dir.to_owned())
    }

    fn remount_read_only(&self) {
        let status = Command::new("mount").args(["-o", "remount,ro"]).arg(&self.0).status().expect("mount runs");
        assert!(status.success(), "remount {} read-only", self.0.display());
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Bytes free on the file system holding `path`.
fn free_bytes(path: &Path) -> u64 {
    let out = Command::new("df").args(["--output=avail", "-B1"]).arg(path).output().expect("df runs");
    String::from_utf8_lossy(&out.stdout).lines().last().and_then(|line| line.trim().parse().ok()).expect("df output")
}

/// What the load saw.
#[derive(Default)]
struct Seen {
    /// Acknowledged votes per clip.
    votes: HashMap<u64, u64>,
    /// Acknowledged uploads (clip ids).
    uploads: Vec<u64>,
    /// Writes refused with 503 `unavailable` and `Retry-After`, by kind.
    storage_refusals: HashMap<&'static str, u64>,
    /// Anything else: (kind, status, body).
    unexpected: Vec<(&'static str, u16, String)>,
}

impl Seen {
    /// What the load saw so far, for messages: counts and every unexpected answer.
    fn summary(&self) -> String {
        format!(
            "{} votes and {} uploads acknowledged, refused with 503: {:?}, unexpected answers: {:?}",
            self.votes.values().sum::<u64>(),
            self.uploads.len(),
            self.storage_refusals,
            self.unexpected
        )
    }
}

async fn record(seen: &Mutex<Seen>, kind: &'static str, response: reqwest::Result<reqwest::Response>) -> Option<Value> {
    let response = match response {
        Ok(response) => response,
        Err(error) => {
            seen.lock().unexpected.push((kind, 0, error.to_string()));
            return None;
        }
    };
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    let body = response.text().await.unwrap_or_default();
    let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Some(json);
    }
    let mut seen = seen.lock();
    if status == 503 && json["error"]["code"] == "unavailable" && json["error"]["message"].is_string() && retry_after {
        *seen.storage_refusals.entry(kind).or_default() += 1;
    } else {
        seen.unexpected.push((kind, status, body.chars().take(300).collect()));
    }
    None
}

fn vote_request(client: &reqwest::Client, base: &str, voter: &str, clip: u64) -> reqwest::RequestBuilder {
    client.post(format!("{base}/api/vote")).header("x-forwarded-for", voter).json(&json!({ "clipId": clip }))
}

fn upload_request(client: &reqwest::Client, base: &str, title: &str) -> reqwest::RequestBuilder {
    let form = reqwest::multipart::Form::new()
        .text("title", title.to_owned())
        .text("genre", "drama")
        .part("file", reqwest::multipart::Part::bytes(unique_clip()).file_name("clip.mp4"));
    client.post(format!("{base}/api/upload")).multipart(form)
}

async fn health(client: &reqwest::Client, base: &str) -> (u16, Value) {
    let response = client.get(format!("{base}/api/health")).send().await.expect("health answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("health is JSON"))
}

/// The media files under `media` (relative names such as `ab/ab….mp4`),
/// after checking that each is whole: its name is the BLAKE3 hash of its
/// bytes, and `.incoming/` holds no temp file.
fn media_files(media: &Path) -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    for shard in std::fs::read_dir(media).expect("media dir").flatten() {
        let name = shard.file_name().to_string_lossy().into_owned();
        if name == ".incoming" {
            let left: Vec<_> = std::fs::read_dir(shard.path()).expect("incoming").flatten().collect();
            assert!(left.is_empty(), "temp files left in .incoming: {left:?}");
            continue;
        }
        for file in std::fs::read_dir(shard.path()).expect("shard").flatten() {
            let path = file.path();
            let bytes = std::fs::read(&path).expect("read media");
            let stem = path.file_stem().expect("stem").to_string_lossy().into_owned();
            assert_eq!(blake3::hash(&bytes).to_hex().as_str(), stem, "{} is not whole", path.display());
            files.insert(format!("{name}/{}", file.file_name().to_string_lossy()));
        }
    }
    files
}

/// The uploader's clips: id → (video, poster) as media names.
async fn my_clips(uploader: &reqwest::Client, base: &str) -> HashMap<u64, (String, String)> {
    let mine: Value = uploader
        .get(format!("{base}/api/profile/clips?limit=100"))
        .send()
        .await
        .expect("my clips")
        .json()
        .await
        .expect("json");
    assert_eq!(mine["hasMore"], false, "more than 100 uploads: page through them");
    let name = |clip: &Value, key: &str| clip[key].as_str().expect(key).trim_start_matches("/media/").to_owned();
    mine["clips"]
        .as_array()
        .expect("clips")
        .iter()
        .map(|clip| (clip["id"].as_u64().expect("id"), (name(clip, "videoUrl"), name(clip, "posterUrl"))))
        .collect()
}

/// A hang guard, not a timing assertion: long enough for a loaded CI
/// machine; the test waits on conditions and only gives up here.
const PATIENCE: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_with_503_and_the_server_recovers_without_a_restart() {
    if !root_or_skip("full-disk test") {
        return;
    }
    let outside = tempfile::tempdir().expect("temp dir");
    let mount_point = outside.path().join("small");
    std::fs::create_dir(&mount_point).expect("mount point");
    let _mount = Mount::tmpfs(&mount_point, 24);
    let data = mount_point.join("data");
    let log_path = outside.path().join("server.log");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
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
    let serve = || Serve {
        demo: true,
        log: Some(std::fs::File::options().create(true).append(true).open(&log_path).expect("log file")),
        env: env.clone(),
        ..Serve::default()
    };
    let mut server = start(&data, serve(), &client).await;
    let base = server.base.clone();
    let uploader = reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(60)).build().expect("c");
    let response = uploader
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"username": "filler", "password": "correct horse battery"}))
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), 201);
    let feed: Value =
        client.get(format!("{base}/api/vote?limit=20")).send().await.expect("feed").json().await.expect("json");
    let clips: Vec<u64> = feed["clips"].as_array().expect("clips").iter().filter_map(|c| c["id"].as_u64()).collect();
    assert!(!clips.is_empty());
    let media_before = media_files(&data.join("media"));

    // Leave 2 MiB free: a few seconds of votes and uploads fill it.
    let ballast = mount_point.join("ballast");
    let fill = free_bytes(&mount_point).saturating_sub(2 << 20);
    std::fs::write(&ballast, vec![0u8; fill as usize]).expect("ballast");

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for worker in 0..2u64 {
        let (client, base, seen, stop, clips) =
            (client.clone(), base.clone(), seen.clone(), stop.clone(), clips.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let clip = clips[(n as usize) % clips.len()];
                // A new voter (a valid address) for every vote: no budget
                // or duplicate refusal.
                let voter = format!("198.{}.{}.{}", 18 + worker, (n / 250) % 250, n % 250 + 1);
                let sent = vote_request(&client, &base, &voter, clip).send().await;
                if record(&seen, "vote", sent).await.is_some() {
                    *seen.lock().votes.entry(clip).or_default() += 1;
                }
            }
        }));
    }
    {
        let (uploader, base, seen, stop) = (uploader.clone(), base.clone(), seen.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let sent = upload_request(&uploader, &base, &format!("filler {n}")).send().await;
                if let Some(body) = record(&seen, "upload", sent).await {
                    seen.lock().uploads.push(body["clipId"].as_u64().expect("clipId"));
                }
            }
        }));
    }

    // Until both kinds of write have been refused for lack of space and
    // health has said so, while the load goes on.
    let gave_up = Instant::now() + PATIENCE;
    let mut degraded = None;
    loop {
        let refused = {
            let seen = seen.lock();
            ["vote", "upload"].iter().all(|kind| seen.storage_refusals.get(kind).copied().unwrap_or(0) > 0)
        };
        if refused && degraded.is_none() {
            let (status, body) = health(&client, &base).await;
            if status == 503 {
                degraded = Some(body);
            }
        }
        if refused && degraded.is_some() {
            break;
        }
        let summary = seen.lock().summary();
        assert!(Instant::now() < gave_up, "the disk never filled (free: {} B); {summary}", free_bytes(&mount_point));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = degraded.expect("health while the disk is full");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["storage"], "failing", "{body}");
    // Reads go on: the feed and a clip come from memory and the old handle.
    for path in ["/api/vote".to_owned(), format!("/api/clips/{}", clips[0]), "/".to_owned()] {
        let response = client.get(format!("{base}{path}")).send().await.expect("read");
        assert_eq!(response.status(), 200, "GET {path} while the disk is full");
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("load task");
    }
    let summary = seen.lock().summary();
    eprintln!("full disk, while filling: {summary}");
    assert!(seen.lock().unexpected.is_empty(), "answers other than success or 503 unavailable: {summary}");

    // Space comes back; the same process takes writes again.
    std::fs::remove_file(&ballast).expect("remove ballast");
    let mut n = 0;
    loop {
        n += 1;
        let voter = format!("10.77.{}.{}", (n / 250) % 250, n % 250 + 1);
        let response = vote_request(&client, &base, &voter, clips[0]).send().await.expect("vote");
        let status = response.status();
        if status == 200 {
            *seen.lock().votes.entry(clips[0]).or_default() += 1;
            break;
        }
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, 503, "a vote while storage recovers: {body}");
        assert!(Instant::now() < gave_up + PATIENCE, "writes did not come back after space was freed: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (status, body) = health(&client, &base).await;
    assert_eq!((status, &body["status"], &body["storage"]), (200, &json!("ok"), &json!("ok")), "{body}");
    let response = upload_request(&uploader, &base, "after the storm").send().await.expect("upload");
    assert_eq!(response.status(), 201, "an upload after recovery");
    let clip: Value = response.json().await.expect("json");
    seen.lock().uploads.push(clip["clipId"].as_u64().expect("clipId"));

    // Nothing half-done: every acknowledged upload is a clip with both its
    // files whole on disk, and no file is left that nothing uses (a refused
    // upload takes its video with it).
    let uploaded = my_clips(&uploader, &base).await;
    let files = media_files(&data.join("media"));
    for (clip, (video, poster)) in &uploaded {
        assert!(files.contains(video) && files.contains(poster), "clip {clip} lacks its media: {video}, {poster}");
    }
    let used: BTreeSet<&String> = uploaded.values().flat_map(|(video, poster)| [video, poster]).collect();
    let orphans: Vec<&String> = files.iter().filter(|f| !media_before.contains(*f) && !used.contains(f)).collect();
    assert!(orphans.is_empty(), "media files no clip uses: {orphans:?}");

    let exit = server.terminate();
    assert!(exit.success(), "graceful stop after recovery: {exit:?}");
    let log = std::fs::read_to_string(&log_path).expect("server log");
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    // Logged once per failure, not once per refused batch: a full disk must
    // not also fill the log.
    let storage_errors = log.lines().filter(|line| line.contains("storage failed")).count();
    let recoveries = log.lines().filter(|line| line.contains("storage recovered")).count();
    assert!(storage_errors >= 1 && recoveries >= 1, "{storage_errors} failures, {recoveries} recoveries logged");
    assert!(storage_errors <= recoveries + 1, "{storage_errors} failures logged for {recoveries} recoveries");

    let output = cli(["check", "--data"].iter().map(|s| s.to_string()).chain([data.display().to_string()])).await;
    assert!(output.status.success() && text(&output).contains(" 0 mismatches"), "check: {}", text(&output));

    // After a restart every acknowledged write is there.
    let server = start(&data, serve(), &client).await;
    let base = server.base.clone();
    let seen = std::mem::take(&mut *seen.lock());
    for (clip, acknowledged) in &seen.votes {
        let counted = client
            .get(format!("{base}/api/clips/{clip}"))
            .send()
            .await
            .expect("clip")
            .json::<Value>()
            .await
            .expect("json")["voteCount"]
            .as_u64()
            .expect("voteCount");
        assert!(counted >= *acknowledged, "clip {clip}: {counted} counted, {acknowledged} acknowledged");
    }
    let listed = my_clips(&uploader, &base).await;
    for clip in &seen.uploads {
        assert!(listed.contains_key(clip), "acknowledged upload {clip} is missing after restart");
    }
    media_files(&data.join("media"));
    drop(server);
    eprintln!(
        "full disk: {} votes and {} uploads acknowledged; refused with 503: {:?}",
        seen.votes.values().sum::<u64>(),
        seen.uploads.len(),
        seen.storage_refusals
    );
}

#[tokio::test]
async fn a_read_only_data_dir_stops_the_start_with_a_clear_message() {
    let outside = tempfile::tempdir().expect("temp dir");
    let data = outside.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let root = is_root();
    let _mount = root.then(|| Mount::tmpfs(&data, 8));
    // A data dir that was in use: database, secret, media.
    let created = tokio::task::spawn_blocking({
        let data = data.clone();
        move || {
            let mut child = Command::new(BINARY)
                .args(["admin", "create", "--username", "ro_admin", "--password-stdin", "--data"])
                .arg(&data)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("admin create runs");
            use std::io::Write as _;
            child.stdin.take().expect("stdin").write_all(b"correct horse battery\n").expect("password");
            child.wait_with_output().expect("admin create ends")
        }
    })
    .await
    .expect("join");
    assert!(created.status.success(), "{}", text(&created));
    if let Some(mount) = &_mount {
        mount.remount_read_only();
    } else {
        make_read_only(&data);
    }
    let output = tokio::task::spawn_blocking({
        let data = data.clone();
        move || Command::new(BINARY).args(["serve", "--listen", "127.0.0.1:0", "--data"]).arg(&data).output()
    })
    .await
    .expect("join")
    .expect("serve runs");
    let message = text(&output);
    assert!(!output.status.success(), "a read-only data dir must stop the start: {message}");
    assert!(message.contains(&data.display().to_string()) && message.contains("not writable"), "{message}");
    let cause = if root { "Read-only file system" } else { "Permission denied" };
    assert!(message.contains(cause), "{message}");
    if !root {
        restore_writable(&data);
    }
}

fn make_read_only(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for entry in walk(dir) {
        let mode = if entry.is_dir() { 0o555 } else { 0o444 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
}

fn restore_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for entry in walk(dir) {
        let _ = std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o755));
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = vec![dir.to_owned()];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.path().is_dir() {
                found.extend(walk(&entry.path()));
            } else {
                found.push(entry.path());
            }
        }
    }
    found.reverse();
    found
}
