//! `aimoviez media migrate --to s3|disk` (issue #17): moves every media file
//! between the data dir's `media/` and the bucket of `[media.s3]`, one file
//! at a time, streamed (never a whole file in memory).
//!
//! A file's name is the blake3 hash of its bytes, so the copy is checked
//! against the name itself: the source copy is removed only after the
//! destination copy has been read back and hashes to its name. That also
//! makes a run resumable: a destination copy that already hashes right is
//! kept (counted as "already there") and only its source is removed, and an
//! interrupted run leaves every file in at least one place. Only names in
//! the media grammar are moved; anything else in the bucket (a backup
//! prefix, say) or on disk (`.incoming/`, temp files) is left alone.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::MediaName;
use crate::objstore::{self, ObjectPath, ObjectStore, ObjectStoreExt};

/// Where the files go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// From `media/` into the bucket.
    Bucket,
    /// From the bucket into `media/`.
    Disk,
}

/// How far a migration is, after each file.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Files handled so far (moved, already there or failed).
    pub done: u64,
    /// Files to handle.
    pub total: u64,
    /// Bytes of the files handled so far.
    pub bytes: u64,
    /// Bytes of all files to handle.
    pub total_bytes: u64,
}

/// What a migration did.
#[derive(Debug, Default)]
pub struct MigrateReport {
    /// Files copied, verified and removed from the source.
    pub moved: u64,
    /// Files whose destination copy already had the right hash (an earlier,
    /// interrupted run): only the source copy was removed.
    pub already_there: u64,
    /// Bytes of every file handled.
    pub bytes: u64,
    /// Files left where they were, with why.
    pub failed: Vec<(String, String)>,
}

/// Moves every media file to `target`, calling `progress` after each one.
/// Errors listing the source stop the run; a failure on one file is
/// recorded in the report and the run goes on.
pub async fn migrate(
    root: &Path,
    store: &Arc<dyn ObjectStore>,
    target: Target,
    mut progress: impl FnMut(&Progress),
) -> std::io::Result<MigrateReport> {
    let files = match target {
        Target::Bucket => local_files(root)?,
        Target::Disk => bucket_files(store).await?,
    };
    let mut state =
        Progress { done: 0, total: files.len() as u64, bytes: 0, total_bytes: files.iter().map(|(_, len)| len).sum() };
    progress(&state);
    let mut report = MigrateReport::default();
    for (name, len) in files {
        let moved = match target {
            Target::Bucket => to_bucket(root, store, &name).await,
            Target::Disk => to_disk(root, store, &name).await,
        };
        match moved {
            Ok(Moved::Copied) => report.moved += 1,
            Ok(Moved::AlreadyThere) => report.already_there += 1,
            Err(error) => report.failed.push((name.relative_path(), error.to_string())),
        }
        state.done += 1;
        state.bytes += len;
        report.bytes += len;
        progress(&state);
    }
    if target == Target::Bucket {
        remove_empty_shards(root);
    }
    Ok(report)
}

enum Moved {
    Copied,
    AlreadyThere,
}

/// The media files under `root` (`<2 hex>/<hash>.<ext>`) with their sizes.
fn local_files(root: &Path) -> std::io::Result<Vec<(MediaName, u64)>> {
    let mut files = Vec::new();
    let shards = match std::fs::read_dir(root) {
        Ok(shards) => shards,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(error) => return Err(error),
    };
    for shard in shards {
        let shard = shard?;
        if !shard.file_type()?.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(shard.path())? {
            let file = file?;
            let relative = format!("{}/{}", shard.file_name().to_string_lossy(), file.file_name().to_string_lossy());
            if let Some(name) = MediaName::parse(&relative)
                && file.file_type()?.is_file()
            {
                files.push((name, file.metadata()?.len()));
            }
        }
    }
    files.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    Ok(files)
}

/// The media objects of the bucket with their sizes.
async fn bucket_files(store: &Arc<dyn ObjectStore>) -> std::io::Result<Vec<(MediaName, u64)>> {
    let mut files = Vec::new();
    let mut listing = store.list(None);
    while let Some(meta) = listing.next().await {
        let meta = meta?;
        if let Some(name) = MediaName::parse(meta.location.as_ref()) {
            files.push((name, meta.size));
        }
    }
    files.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    Ok(files)
}

/// A copy whose bytes are not the ones its name promises.
fn mismatch(found: &blake3::Hash, place: &str) -> std::io::Error {
    std::io::Error::other(format!("the copy {place} hashes to {}, not to its name", found.to_hex()))
}

/// The blake3 hash of an object, read as a stream; `None` when missing.
async fn object_hash(store: &Arc<dyn ObjectStore>, path: &ObjectPath) -> std::io::Result<Option<blake3::Hash>> {
    let mut stream = match store.get(path).await {
        Ok(found) => found.into_stream(),
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let mut hasher = blake3::Hasher::new();
    while let Some(chunk) = stream.next().await {
        hasher.update(&chunk?);
    }
    Ok(Some(hasher.finalize()))
}

/// The blake3 hash of a local file (on the blocking pool); `None` when missing.
async fn file_hash(path: PathBuf) -> std::io::Result<Option<blake3::Hash>> {
    tokio::task::spawn_blocking(move || {
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let mut hasher = blake3::Hasher::new();
        hasher.update_reader(file)?;
        Ok(Some(hasher.finalize()))
    })
    .await
    .unwrap_or_else(|join| Err(std::io::Error::other(join)))
}

fn expected(name: &MediaName) -> std::io::Result<blake3::Hash> {
    blake3::Hash::from_hex(name.hash()).map_err(std::io::Error::other)
}

async fn to_bucket(root: &Path, store: &Arc<dyn ObjectStore>, name: &MediaName) -> std::io::Result<Moved> {
    let want = expected(name)?;
    let local = root.join(name.as_str());
    let path = ObjectPath::from(name.as_str());
    let outcome = if object_hash(store, &path).await? == Some(want) {
        Moved::AlreadyThere
    } else {
        // A damaged local copy must not replace anything: check it first.
        match file_hash(local.clone()).await? {
            Some(found) if found == want => {}
            Some(found) => return Err(mismatch(&found, "on disk")),
            None => return Err(std::io::Error::new(std::io::ErrorKind::NotFound, "the file went away")),
        }
        objstore::put_local_file(store, path.clone(), &local).await?;
        // Read back: only a copy the bucket really holds lets the local one go.
        match object_hash(store, &path).await? {
            Some(found) if found == want => {}
            Some(found) => return Err(mismatch(&found, "in the bucket")),
            None => return Err(std::io::Error::other("the bucket does not list the object just written")),
        }
        Moved::Copied
    };
    match tokio::fs::remove_file(&local).await {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(outcome),
    }
}

async fn to_disk(root: &Path, store: &Arc<dyn ObjectStore>, name: &MediaName) -> std::io::Result<Moved> {
    let want = expected(name)?;
    let local = root.join(name.as_str());
    let path = ObjectPath::from(name.as_str());
    let outcome = if file_hash(local.clone()).await? == Some(want) {
        Moved::AlreadyThere
    } else {
        download(store, &path, &local, want).await?;
        Moved::Copied
    };
    match store.delete(&path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(outcome),
        Err(error) => Err(error.into()),
    }
}

/// Streams an object into a temp file beside `local`, hashing as it goes;
/// a copy that hashes to `want` is fsynced and renamed into place (replacing
/// a damaged file there), anything else is dropped.
async fn download(
    store: &Arc<dyn ObjectStore>,
    path: &ObjectPath,
    local: &Path,
    want: blake3::Hash,
) -> std::io::Result<()> {
    let shard = local.parent().map(Path::to_owned).unwrap_or_default();
    tokio::fs::create_dir_all(&shard).await?;
    let temp = tempfile::NamedTempFile::new_in(&shard)?;
    let (file, temp_path) = temp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut stream = store.get(path).await?.into_stream();
    let mut hasher = blake3::Hasher::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    file.sync_all().await?;
    drop(file);
    let found = hasher.finalize();
    if found != want {
        return Err(mismatch(&found, "in the bucket"));
    }
    let local = local.to_owned();
    tokio::task::spawn_blocking(move || {
        temp_path.persist(&local).map_err(|error| error.error)?;
        std::fs::File::open(&shard)?.sync_all()
    })
    .await
    .unwrap_or_else(|join| Err(std::io::Error::other(join)))
}

/// Removes shard directories left empty by a move into the bucket.
fn remove_empty_shards(root: &Path) {
    let Ok(shards) = std::fs::read_dir(root) else { return };
    for shard in shards.flatten() {
        let name = shard.file_name();
        let is_shard = name.len() == 2 && name.to_string_lossy().bytes().all(|b| b.is_ascii_hexdigit());
        if is_shard {
            // Fails (and keeps the directory) when something is still in it.
            let _ = std::fs::remove_dir(shard.path());
        }
    }
}

/// One progress line, for a terminal (`\r`-rewritten) or a log.
pub fn progress_line(target: Target, progress: &Progress) -> String {
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let to = match target {
        Target::Bucket => "s3",
        Target::Disk => "disk",
    };
    format!(
        "migrating media to {to}: {}/{} files, {:.1}/{:.1} MiB",
        progress.done,
        progress.total,
        mib(progress.bytes),
        mib(progress.total_bytes)
    )
}
