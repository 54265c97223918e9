//! Backups off the box (issue #17) against a real S3-compatible server (moto,
//! started by `common::moto`): `aimoviez backup s3://…` through the running
//! server, `aimoviez restore s3://…` into an empty dir (which checks clean and
//! serves the same clips), media reused from the previous backup, an
//! unfinished backup refused, bad URLs and unknown buckets refused with
//! nothing written, and scheduled backups to S3 pruned by name.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};

mod common;
use common::moto::Moto;
use common::{BINARY, Serve, start, text, voted_clips};

use aimoviez::backup_s3::{self, S3_MANIFEST};
use aimoviez::config::S3Url;
use aimoviez::objstore::{self, ObjectPath, ObjectStore, ObjectStoreExt};

/// Runs the CLI with the moto settings in its environment.
async fn cli_s3<I, S>(moto: &Moto, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let env = moto.env();
    tokio::task::spawn_blocking(move || {
        Command::new(BINARY).args(&args).envs(env).env("RUST_LOG", "warn").output().expect("the CLI runs")
    })
    .await
    .expect("join")
}

/// Every object key in the bucket, sorted.
async fn keys(objects: &dyn ObjectStore) -> Vec<String> {
    let mut listing = objects.list(None);
    let mut keys = Vec::new();
    while let Some(meta) = listing.next().await {
        keys.push(meta.expect("list").location.to_string());
    }
    keys.sort();
    keys
}

/// The `s3://…` URL of the backup a `backup` command reports.
fn uploaded_url(output: &str) -> String {
    let line = output.lines().find(|line| line.starts_with("uploaded to s3://")).unwrap_or_else(|| panic!("{output}"));
    line.trim_start_matches("uploaded to ").split(": ").next().expect("url").to_owned()
}

/// Media files reused from the previous backup, as a `backup` command reports.
fn reused(output: &str) -> u64 {
    let line = output.lines().find(|line| line.starts_with("uploaded to s3://")).unwrap_or_else(|| panic!("{output}"));
    let before = line.split(" media files copied").next().expect("count");
    before.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{line}"))
}

/// The open slot's clips: their ids and video URLs, by id (the feed's
/// order is per voter).
async fn clips(client: &reqwest::Client, base: &str) -> Vec<(u64, String)> {
    let feed: Value =
        client.get(format!("{base}/api/vote?limit=20")).send().await.expect("feed").json().await.expect("json");
    let mut clips: Vec<(u64, String)> = feed["clips"]
        .as_array()
        .expect("clips")
        .iter()
        .map(|clip| (clip["id"].as_u64().expect("id"), clip["videoUrl"].as_str().expect("url").to_owned()))
        .collect();
    clips.sort();
    clips
}

fn assert_nothing_staged(data: &Path) {
    assert!(!data.join(".backup-staging").exists(), "the staged copy is removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_to_s3_restores_checks_clean_and_serves_the_same_clips() {
    let Some(moto) = Moto::start("film-backups") else { return };
    let objects = objstore::connect(&moto.s3_config()).expect("client");
    let data = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::builder().user_agent("s3-backup-test").build().expect("client");
    let server = start(data.path(), Serve::demo(), &client).await;
    let mut votes = Vec::new();
    for n in 0..30u64 {
        let voter = format!("10.201.0.{}", n + 1);
        let clip = n % 4 + 1;
        let response = client
            .post(format!("{}/api/vote", server.base))
            .header("x-forwarded-for", &voter)
            .json(&json!({ "clipId": clip }))
            .send()
            .await
            .expect("vote");
        assert_eq!(response.status(), 200);
        votes.push((voter, clip));
    }
    let served = clips(&client, &server.base).await;

    let first = cli_s3(
        &moto,
        [OsStr::new("backup"), OsStr::new("s3://film-backups/nightly/"), OsStr::new("--data"), data.path().as_os_str()],
    )
    .await;
    let output = text(&first);
    assert!(first.status.success(), "backup failed: {output}");
    assert!(output.contains("through the running server"), "{output}");
    assert_eq!(reused(&output), 0, "nothing to reuse the first time");
    let first_url = uploaded_url(&output);
    assert!(first_url.starts_with("s3://film-backups/nightly/aimoviez-"), "{first_url}");
    assert_nothing_staged(data.path());

    // Names have one-second resolution.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = cli_s3(
        &moto,
        [OsStr::new("backup"), OsStr::new("s3://film-backups/nightly"), OsStr::new("--data"), data.path().as_os_str()],
    )
    .await;
    let output = text(&second);
    assert!(second.status.success(), "second backup failed: {output}");
    let second_url = uploaded_url(&output);
    assert!(reused(&output) > 0, "media come from the first backup: {output}");
    assert_nothing_staged(data.path());
    let source = S3Url::parse(&second_url).expect("url");
    let manifest: Value = serde_json::from_slice(
        &objects
            .get(&ObjectPath::from(format!("{}/{S3_MANIFEST}", source.prefix)))
            .await
            .expect("manifest")
            .bytes()
            .await
            .expect("bytes"),
    )
    .expect("json");
    assert_eq!(manifest["media_store"], "disk");
    let media: Vec<&Value> = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|f| f["path"].as_str().is_some_and(|p| p.starts_with("media/")))
        .collect();
    assert!(media.len() >= served.len(), "every clip's file is in the backup: {manifest}");
    for file in &media {
        let path = file["path"].as_str().expect("path");
        let local = std::fs::read(data.path().join(path)).expect("the data dir has it");
        assert_eq!(file["blake3"].as_str(), Some(blake3::hash(&local).to_hex().as_str()), "{path}");
    }
    drop(server);

    let restored_root = tempfile::tempdir().expect("tempdir");
    let restored = restored_root.path().join("data");
    let restore =
        cli_s3(&moto, [OsStr::new("restore"), OsStr::new(&second_url), OsStr::new("--data"), restored.as_os_str()])
            .await;
    let output = text(&restore);
    assert!(restore.status.success(), "restore failed: {output}");
    assert!(output.contains("checked 30 votes"), "{output}");
    assert!(output.contains("0 mismatches"), "{output}");

    let server = start(&restored, Serve::default(), &client).await;
    for (voter, clip) in &votes {
        assert!(voted_clips(&client, &server.base, voter).await.contains(clip), "{voter} → {clip} missing");
    }
    assert_eq!(clips(&client, &server.base).await, served, "the restored server shows the same clips");
    for (_, url) in &served {
        let response = client.get(format!("{}{url}", server.base)).send().await.expect("media");
        assert_eq!(response.status(), 200, "{url}");
        let name = url.trim_start_matches("/media/");
        let original = std::fs::read(data.path().join("media").join(name)).expect("original file");
        assert_eq!(response.bytes().await.expect("body").as_ref(), original.as_slice(), "{url} is the same file");
    }
    drop(server);

    // An upload cut short before its manifest is refused, and nothing is written.
    let first_source = S3Url::parse(&first_url).expect("url");
    objects.delete(&ObjectPath::from(format!("{}/{S3_MANIFEST}", first_source.prefix))).await.expect("delete");
    let target = restored_root.path().join("unfinished");
    let refused =
        cli_s3(&moto, [OsStr::new("restore"), OsStr::new(&first_url), OsStr::new("--data"), target.as_os_str()]).await;
    assert!(!refused.status.success(), "an unfinished backup must be refused");
    assert!(text(&refused).contains("unfinished backup"), "{}", text(&refused));
    assert!(!target.exists(), "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_and_unknown_buckets_are_refused_and_nothing_is_written() {
    let Some(moto) = Moto::start("film-backups") else { return };
    let objects = objstore::connect(&moto.s3_config()).expect("client");
    let data = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::builder().user_agent("s3-bad-input-test").build().expect("client");
    drop(start(data.path(), Serve::demo(), &client).await);
    let restored = data.path().join("restored");

    for (args, expected) in [
        (vec!["backup", "s3:/film-backups/nightly"], "not an s3:// URL"),
        (vec!["backup", "s3://Film_Backups/nightly"], "not a bucket name"),
        (vec!["backup", "s3://film-backups/a//b"], "empty"),
        (vec!["backup", "s3://no-such-bucket/nightly"], "no-such-bucket"),
        (vec!["restore", "s3://film-backups"], "names a bucket, not a backup"),
        (vec!["restore", "s3://no-such-bucket/nightly/aimoviez-20260102T030405Z"], "no-such-bucket"),
        (vec!["restore", "s3://film-backups/nightly/aimoviez-20260102T030405Z"], "no backup at"),
    ] {
        let mut command: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        command.push(OsStr::new("--data"));
        command.push(if args[0] == "backup" { data.path().as_os_str() } else { restored.as_os_str() });
        let output = cli_s3(&moto, &command).await;
        let shown = text(&output);
        assert!(!output.status.success(), "{args:?} must fail: {shown}");
        assert!(shown.contains("error:") && shown.contains(expected), "{args:?}: {shown}");
        assert!(!shown.contains("panicked"), "{args:?}: {shown}");
        assert_nothing_staged(data.path());
        assert!(!restored.exists(), "{args:?} wrote the restore target");
    }
    assert!(keys(objects.as_ref()).await.is_empty(), "nothing was uploaded");
    assert!(!data.path().join("s3:").exists(), "a malformed URL is not taken for a directory");
}

#[test]
fn scheduled_backups_to_s3_keep_the_newest_and_touch_nothing_else() {
    let Some(moto) = Moto::start("film-backups") else { return };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let objects = objstore::connect(&moto.s3_config()).expect("client");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("media/ab")).expect("media");
    std::fs::write(data.join("media/ab/ab01.mp4"), b"video").expect("file");
    let store = aimoviez::store::Store::open(&data.join("aimoviez.redb"), 4 * 1024 * 1024).expect("store");
    let target = S3Url::parse("s3://film-backups/scheduled").expect("url");
    runtime.block_on(async {
        // A backup cut short by a crash, a copy made by hand, and something else.
        for key in
            ["scheduled/aimoviez-20200101T000000Z/aimoviez.redb", "scheduled/manual/BACKUP.json", "other/keep.txt"]
        {
            objects.put(&ObjectPath::from(key), b"x".to_vec().into()).await.expect("put");
        }
    });

    let start = time::OffsetDateTime::from_unix_timestamp(1_767_323_045).expect("time"); // 2026-01-02 03:04:05 UTC
    let mut taken = Vec::new();
    for hour in 0..3 {
        let now = start + time::Duration::hours(hour);
        let (url, removed) =
            aimoviez::backup_schedule::take_and_prune_s3(&store, &data, &moto.s3_config(), false, &target, 2, now)
                .unwrap_or_else(|error| panic!("scheduled backup: {error}\n{}", moto.log()));
        assert_nothing_staged(&data);
        if hour == 0 {
            assert_eq!(removed, ["aimoviez-20200101T000000Z"], "the unfinished one goes");
        }
        taken.push(url);
    }
    assert_eq!(taken[0], "s3://film-backups/scheduled/aimoviez-20260102T030405Z");
    runtime.block_on(async {
        let backups = backup_s3::list_backups(objects.as_ref(), &target).await.expect("list");
        let names: Vec<&str> = backups.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["aimoviez-20260102T050405Z", "aimoviez-20260102T040405Z"], "keep = 2, newest first");
        assert!(backups.iter().all(|(_, manifest)| manifest.is_some()), "both finished");
        let all = keys(objects.as_ref()).await;
        assert!(all.contains(&"scheduled/manual/BACKUP.json".to_owned()), "{all:?}");
        assert!(all.contains(&"other/keep.txt".to_owned()), "{all:?}");
        assert!(!all.iter().any(|key| key.contains("aimoviez-20260102T030405Z")), "the oldest is gone: {all:?}");
        let restored = dir.path().join("restored");
        let (_, summary) =
            backup_s3::download(objects.as_ref(), &target.child("aimoviez-20260102T050405Z"), &restored, |_| {})
                .await
                .expect("the newest restores");
        assert_eq!(summary.media.files, 1);
        assert_eq!(std::fs::read(restored.join("media/ab/ab01.mp4")).expect("media"), b"video");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_media_in_a_bucket_the_backup_lists_them_instead_of_copying() {
    let Some(moto) = Moto::start("film-backups") else { return };
    let objects = objstore::connect(&moto.s3_config()).expect("client");
    let data = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::builder().user_agent("s3-media-backup-test").build().expect("client");
    drop(start(data.path(), Serve::demo(), &client).await);
    // The demo's files, as a media bucket would hold them.
    let mut names = Vec::new();
    for shard in std::fs::read_dir(data.path().join("media")).expect("media").flatten() {
        for file in std::fs::read_dir(shard.path()).expect("shard").flatten() {
            let name = format!("{}/{}", shard.file_name().to_string_lossy(), file.file_name().to_string_lossy());
            if name.starts_with('.') || name.contains("/.") {
                continue;
            }
            let bytes = std::fs::read(file.path()).expect("file");
            objects.put(&ObjectPath::from(format!("media/{name}")), bytes.into()).await.expect("put");
            names.push(format!("media/{name}"));
        }
    }
    names.sort();
    assert!(!names.is_empty());
    std::fs::remove_dir_all(data.path().join("media")).expect("no local media");

    let mut env = moto.env();
    env.push(("AIMOVIEZ_MEDIA_STORE".to_owned(), "s3".to_owned()));
    let run = |args: Vec<std::ffi::OsString>, env: Vec<(String, String)>| {
        tokio::task::spawn_blocking(move || {
            Command::new(BINARY).args(&args).envs(env).env("RUST_LOG", "warn").output().expect("the CLI runs")
        })
    };
    let backup = run(
        vec!["backup".into(), "s3://film-backups/nightly".into(), "--data".into(), data.path().into()],
        env.clone(),
    )
    .await
    .expect("join");
    let output = text(&backup);
    assert!(backup.status.success(), "backup failed: {output}");
    let url = S3Url::parse(&uploaded_url(&output)).expect("url");
    let manifest = backup_s3::list_backups(objects.as_ref(), &S3Url::parse("s3://film-backups/nightly").expect("url"))
        .await
        .expect("list")
        .remove(0)
        .1
        .expect("finished");
    assert_eq!(manifest.media_store, "s3");
    let listed: Vec<&str> = manifest.remote_media.iter().map(|entry| entry.path.as_str()).collect();
    assert_eq!(listed, names.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(manifest.files.iter().all(|file| !file.path.starts_with("media/")), "no media copied");

    let restored = data.path().join("restored");
    let restore = run(vec!["restore".into(), url.to_string().into(), "--data".into(), restored.clone().into()], env)
        .await
        .expect("join");
    let output = text(&restore);
    assert!(restore.status.success(), "restore failed: {output}");
    assert!(output.contains(&format!("media: {} objects in the bucket", names.len())), "{output}");
    assert!(output.contains("0 missing") && output.contains("0 mismatches"), "{output}");
}
