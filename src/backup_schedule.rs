//! Scheduled backups with retention (`[backup]` in the config).
//!
//! Every `backup.every_hours` the app takes the same online backup as
//! `aimoviez backup` (a consistent database snapshot from one read
//! transaction, media hard-linked or copied, the secret, the manifest last)
//! into `<backup.dir>/aimoviez-<UTC timestamp>/`, on the blocking pool so no
//! async worker waits on disk. After a backup completes, directories of this
//! naming pattern beyond the newest `backup.keep` finished ones are deleted,
//! as are unfinished ones left by a crash (no manifest). Nothing else in the
//! backup directory is touched: manual backups and pre-migration copies stay.
//!
//! When `backup.dir` is an `s3://bucket/prefix` URL, the backup is staged in
//! the data dir, uploaded to `prefix/aimoviez-<UTC>/` (see `backup_s3`) and
//! the staged copy removed; the same retention rule then applies to the
//! prefixes under `prefix/` named like ours. The upload runs on a runtime of
//! its own on the blocking thread, never on the request workers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;

use crate::backup_s3;
use crate::config::{BackupTarget, MediaStore, S3Config, S3Url};
use crate::service::Services;
use crate::store::backup::{self, MANIFEST_FILE, backup_name, is_backup_name};

/// Deletes scheduled backups beyond the newest `keep` finished ones, and
/// unfinished ones (no manifest). Only directories named like ours are
/// considered. Returns the deleted paths, oldest first.
pub fn prune(root: &Path, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let mut ours: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        if is_backup_name(&name) && entry.file_type()?.is_dir() {
            ours.push((name, entry.path()));
        }
    }
    // The timestamp sorts as text; newest first.
    ours.sort_by(|a, b| b.0.cmp(&a.0));
    let mut kept = 0;
    let mut removed = Vec::new();
    for (_, path) in ours {
        let finished = path.join(MANIFEST_FILE).is_file();
        if finished && kept < keep {
            kept += 1;
            continue;
        }
        std::fs::remove_dir_all(&path)?;
        removed.push(path);
    }
    removed.reverse();
    Ok(removed)
}

/// Takes one scheduled backup into `root` and prunes old ones. Blocking.
pub fn take_and_prune(
    store: &crate::store::Store,
    data_dir: &Path,
    root: &Path,
    keep: usize,
    now: OffsetDateTime,
) -> Result<(PathBuf, Vec<PathBuf>), String> {
    std::fs::create_dir_all(root).map_err(|error| format!("cannot create {}: {error}", root.display()))?;
    let dest = root.join(backup_name(now));
    // Claim the name first: an existing directory of that name (a clock
    // stepped back, a copy made by hand) is never written into or removed.
    std::fs::create_dir(&dest).map_err(|error| format!("cannot create {}: {error}", dest.display()))?;
    if let Err(error) = backup::backup_data_dir(store, data_dir, &dest, |_| {}) {
        // A partial copy is useless; remove it so it is not mistaken for a backup.
        let _ = std::fs::remove_dir_all(&dest);
        return Err(error.to_string());
    }
    let removed = prune(root, keep).map_err(|error| format!("backup taken but pruning failed: {error}"))?;
    Ok((dest, removed))
}

/// Takes one scheduled backup to `target` (bucket and prefix; endpoint and
/// credentials from `s3`) and prunes old ones there. Blocking: it runs its
/// own single-threaded runtime. Returns the backup's URL and the pruned names.
pub fn take_and_prune_s3(
    store: &crate::store::Store,
    data_dir: &Path,
    s3: &S3Config,
    media_in_bucket: bool,
    target: &S3Url,
    keep: usize,
    now: OffsetDateTime,
) -> Result<(String, Vec<String>), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start a runtime for the upload: {error}"))?;
    runtime.block_on(async {
        let objects = crate::objstore::connect_to(s3, &target.bucket).map_err(|error| error.to_string())?;
        backup_s3::check_reachable(objects.as_ref(), target).await.map_err(|error| error.to_string())?;
        let remote_media = match media_in_bucket {
            true => {
                let media = crate::objstore::connect(s3).map_err(|error| error.to_string())?;
                Some(backup_s3::list_media(media.as_ref()).await.map_err(|error| error.to_string())?)
            }
            false => None,
        };
        let name = backup_name(now);
        let staged = backup_s3::staging_dir(data_dir, &name);
        // A staging copy left by a crash is stale: start afresh.
        backup_s3::remove_staging(data_dir, &name);
        let uploaded = match backup::backup_data_dir(store, data_dir, &staged, |_| {}) {
            Ok(summary) => backup_s3::upload(objects.as_ref(), &staged, &summary, target, &name, remote_media, |_| {})
                .await
                .map_err(|error| error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        backup_s3::remove_staging(data_dir, &name);
        let report = uploaded?;
        let removed = backup_s3::prune(objects.as_ref(), target, keep)
            .await
            .map_err(|error| format!("backup taken but pruning failed: {error}"))?;
        Ok((report.url.to_string(), removed))
    })
}

/// The scheduled-backup task: does nothing when `backup.every_hours` is 0.
pub async fn run(state: Services) {
    let hours = state.config.backup.every_hours;
    if hours == 0 {
        return;
    }
    let period = Duration::from_secs(hours * 3600);
    let target = state.config.backup_target();
    let shown = match &target {
        BackupTarget::Dir(root) => root.display().to_string(),
        BackupTarget::S3(url) => url.to_string(),
    };
    tracing::info!(every_hours = hours, keep = state.config.backup.keep, dir = %shown, "scheduled backups on");
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (store, data_dir, target, keep) =
            (state.store.clone(), state.config.data_dir.clone(), target.clone(), state.config.backup.keep);
        let s3 = state.config.media.s3.clone();
        let media_in_bucket = state.config.media.store == MediaStore::S3;
        let started = std::time::Instant::now();
        let outcome = tokio::task::spawn_blocking(move || {
            let now = OffsetDateTime::now_utc();
            match &target {
                BackupTarget::Dir(root) => take_and_prune(&store, &data_dir, root, keep, now)
                    .map(|(dest, removed)| (dest.display().to_string(), removed.len())),
                BackupTarget::S3(url) => take_and_prune_s3(&store, &data_dir, &s3, media_in_bucket, url, keep, now)
                    .map(|(dest, removed)| (dest, removed.len())),
            }
        })
        .await;
        match outcome {
            Ok(Ok((dest, removed))) => {
                state.metrics.scheduled_backup("ok");
                tracing::info!(
                    path = %dest,
                    duration_ms = started.elapsed().as_millis() as u64,
                    pruned = removed,
                    "scheduled backup taken"
                );
            }
            Ok(Err(error)) => {
                state.metrics.scheduled_backup("failed");
                tracing::error!(error = %error, "scheduled backup failed");
            }
            Err(join) => {
                state.metrics.scheduled_backup("failed");
                tracing::error!(error = %join, "scheduled backup task failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(root: &Path, name: &str, finished: bool) {
        std::fs::create_dir_all(root.join(name)).expect("dir");
        if finished {
            std::fs::write(root.join(name).join(MANIFEST_FILE), "done").expect("manifest");
        }
    }

    fn names(root: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root)
            .expect("read")
            .filter_map(|entry| entry.ok()?.file_name().to_str().map(str::to_owned))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn names_sort_by_time_and_only_ours_match() {
        let when = OffsetDateTime::from_unix_timestamp(1_767_323_045).expect("time"); // 2026-01-02 03:04:05 UTC
        assert_eq!(backup_name(when), "aimoviez-20260102T030405Z");
        assert!(is_backup_name("aimoviez-20260102T030405Z"));
        for other in ["aimoviez-2026", "aimoviez-20260102T030405", "pre-migration-v1-20260102T030405Z.redb", "mine"] {
            assert!(!is_backup_name(other), "{other}");
        }
        let earlier = backup_name(OffsetDateTime::from_unix_timestamp(1_767_000_000).expect("time"));
        assert!(earlier < backup_name(when));
    }

    #[test]
    fn retention_keeps_the_newest_finished_and_nothing_foreign_is_touched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for day in 1..=5 {
            make(root, &format!("aimoviez-2026010{day}T000000Z"), true);
        }
        make(root, "aimoviez-20260103T120000Z", false); // a crash mid-backup
        make(root, "aimoviez-manual", true);
        make(root, "nightly-copy", true);
        std::fs::write(root.join("pre-migration-v1-20260101T000000Z.redb"), "db").expect("file");
        std::fs::write(root.join("aimoviez-20250101T000000Z"), "a file, not a backup dir").expect("file");

        let removed = prune(root, 2).expect("prune");
        let removed: Vec<String> = removed.iter().filter_map(|p| p.file_name()?.to_str().map(str::to_owned)).collect();
        assert_eq!(
            removed,
            [
                "aimoviez-20260101T000000Z",
                "aimoviez-20260102T000000Z",
                "aimoviez-20260103T000000Z",
                "aimoviez-20260103T120000Z"
            ]
        );
        assert_eq!(
            names(root),
            [
                "aimoviez-20250101T000000Z",
                "aimoviez-20260104T000000Z",
                "aimoviez-20260105T000000Z",
                "aimoviez-manual",
                "nightly-copy",
                "pre-migration-v1-20260101T000000Z.redb"
            ]
        );
        assert!(prune(root, 2).expect("again").is_empty(), "pruning is idempotent");
    }

    #[test]
    fn a_scheduled_backup_is_a_full_backup_and_old_ones_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("media/ab")).expect("media");
        std::fs::write(data.join("media/ab/ab01.mp4"), b"video").expect("file");
        let store = crate::store::Store::open(&data.join(backup::DATABASE_FILE), 4 * 1024 * 1024).expect("store");
        let root = data.join("backups");
        let start = OffsetDateTime::from_unix_timestamp(1_767_323_045).expect("time");
        let mut taken = Vec::new();
        for hour in 0..3 {
            let (dest, _) =
                take_and_prune(&store, &data, &root, 2, start + time::Duration::hours(hour)).expect("backup");
            taken.push(dest);
        }
        assert!(!taken[0].exists(), "the oldest beyond keep=2 was deleted");
        for dest in &taken[1..] {
            assert!(dest.join(MANIFEST_FILE).is_file(), "{}", dest.display());
            assert!(dest.join(backup::DATABASE_FILE).is_file());
            assert_eq!(std::fs::read(dest.join("media/ab/ab01.mp4")).expect("media"), b"video");
        }
    }
}
