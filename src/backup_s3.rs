//! Backups off the box (issue #17): `aimoviez backup s3://bucket/prefix`,
//! `aimoviez restore s3://bucket/prefix/<name>`, and scheduled backups whose
//! `[backup] dir` is an `s3://` URL.
//!
//! A backup is first staged in the data dir exactly as `backup DIR` makes one
//! (a database snapshot from ONE read transaction, media hard-linked, the
//! secret, `BACKUP.txt`), by the running server through its admin socket or
//! here when none runs; it is then uploaded under `prefix/aimoviez-<UTC>/`
//! with the same relative names, each file hashed (blake3) as it is sent, and
//! the staged copy is removed. `BACKUP.json`, the manifest naming every object
//! with its size and hash, is uploaded LAST: a prefix without it is an
//! unfinished backup, which restore refuses and retention deletes.
//!
//! Media files are content-addressed and never rewritten, so one that the
//! newest finished backup under the same prefix already holds (same name,
//! same size) is copied inside the bucket instead of sent again. With
//! `[media] store = "s3"` the files already live in a bucket: the manifest
//! then lists their names, sizes and hashes, and no file is copied.
//!
//! Restore downloads into a new or empty data dir, checks each file's size
//! and hash against the manifest before renaming it into place, and removes
//! everything it wrote when anything fails.
//!
//! The functions here do blocking file I/O between awaits: they run on a
//! runtime of their own (the CLI's, or one on the scheduled task's blocking
//! thread), never on the server's request workers.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use serde::{Deserialize, Serialize};

use crate::config::S3Url;
use crate::media::MediaName;
use crate::store::backup::{
    BackupError, BackupSummary, DATABASE_FILE, MANIFEST_FILE, MEDIA_DIR, RestoreSummary, SECRET_FILE, TableRows,
    ensure_absent_or_empty, is_backup_name,
};

/// The manifest of an `s3://` backup, uploaded last.
pub const S3_MANIFEST: &str = "BACKUP.json";
/// The manifest format this build writes and reads.
const MANIFEST_FORMAT: u32 = 1;
/// Where backups are staged before upload, inside the data dir (a hardened
/// service may write nowhere else; hard links to media need the same file
/// system). A dot-name, so nothing that walks the data dir mistakes it.
const STAGING_DIR: &str = ".backup-staging";
/// Files up to this size go in one request; larger ones in parts this big
/// (S3 wants parts of at least 5 MiB).
const PART_BYTES: usize = 8 * 1024 * 1024;
/// Parts in flight at once per multipart upload (bounds memory).
const PARTS_IN_FLIGHT: usize = 2;

/// The prefix of `url` as an object path.
fn prefix_path(url: &S3Url) -> ObjectPath {
    ObjectPath::from(url.prefix.as_str())
}

/// The object `relative` (`media/ab/ab….mp4`) under `url`.
fn object_path(url: &S3Url, relative: &str) -> ObjectPath {
    ObjectPath::from(url.child(relative).prefix.as_str())
}

/// One object of a backup (or, with S3 media, one media object it names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative name: `aimoviez.redb`, `secret.key`, `media/ab/ab….mp4`.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// blake3 of the bytes, hex.
    pub blake3: String,
}

/// `BACKUP.json`: what the backup holds, uploaded last.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`] of the build that wrote it.
    pub format: u32,
    /// The backup's name (`aimoviez-<UTC>`).
    pub name: String,
    /// When the database snapshot was taken (RFC 3339, UTC).
    pub created: String,
    /// The build that took it.
    pub aimoviez_version: String,
    /// The schema version of the snapshot.
    pub schema_version: u64,
    /// Rows per table in the snapshot.
    pub tables: Vec<TableRows>,
    /// `disk` (media files are in `files`) or `s3` (listed in `remote_media`).
    pub media_store: String,
    /// Every object of the backup except this manifest.
    pub files: Vec<FileEntry>,
    /// With S3 media: the media objects the snapshot can name, in the media bucket.
    #[serde(default)]
    pub remote_media: Vec<FileEntry>,
}

/// The outcome of [`upload`].
#[derive(Debug, Clone)]
pub struct UploadReport {
    /// Where the backup is.
    pub url: S3Url,
    /// The manifest written.
    pub manifest: Manifest,
    /// Files sent.
    pub uploaded: u64,
    /// Bytes sent.
    pub uploaded_bytes: u64,
    /// Media files copied inside the bucket from the previous backup.
    pub reused: u64,
}

/// Why a backup to, or a restore from, S3 did not complete.
#[derive(Debug, thiserror::Error)]
pub enum S3BackupError {
    /// The request itself is refused (malformed URL, unfinished backup, …).
    #[error("{0}")]
    Refused(String),
    /// Staging or restoring files failed.
    #[error(transparent)]
    Local(#[from] BackupError),
    /// The object store failed.
    #[error("{context}: {source}")]
    Remote {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: object_store::Error,
    },
    /// A local file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: io::Error,
    },
}

fn remote(context: impl Into<String>) -> impl FnOnce(object_store::Error) -> S3BackupError {
    let context = context.into();
    move |source| S3BackupError::Remote { context, source }
}

fn local(context: impl Into<String>) -> impl FnOnce(io::Error) -> S3BackupError {
    let context = context.into();
    move |source| S3BackupError::Io { context, source }
}

/// Checks that `target` can be listed (the bucket exists and the
/// credentials may read it) before anything is staged or written.
pub async fn check_reachable(objects: &dyn ObjectStore, target: &S3Url) -> Result<(), S3BackupError> {
    objects
        .list_with_delimiter(Some(&prefix_path(target)))
        .await
        .map(drop)
        .map_err(remote(format!("cannot list {target} (does the bucket exist, and may these credentials read it?)")))
}

/// The staging directory for a backup named `name`.
pub fn staging_dir(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join(STAGING_DIR).join(name)
}

/// Removes a staged backup (and the staging folder once empty).
pub fn remove_staging(data_dir: &Path, name: &str) {
    let _ = fs::remove_dir_all(staging_dir(data_dir, name));
    let _ = fs::remove_dir(data_dir.join(STAGING_DIR));
}

/// Whether any object exists under `url` (as a folder).
async fn has_objects(objects: &dyn ObjectStore, url: &S3Url) -> Result<bool, S3BackupError> {
    let path = prefix_path(url);
    let mut listing = objects.list(Some(&path));
    match listing.next().await {
        None => Ok(false),
        Some(Ok(_)) => Ok(true),
        Some(Err(error)) => Err(remote(format!("cannot list {url}"))(error)),
    }
}

/// Reads and parses `url/BACKUP.json`; `None` when it does not exist.
async fn read_manifest(objects: &dyn ObjectStore, url: &S3Url) -> Result<Option<Manifest>, S3BackupError> {
    let location = object_path(url, S3_MANIFEST);
    let bytes = match objects.get(&location).await {
        Ok(result) => result.bytes().await.map_err(remote(format!("cannot read {url}/{S3_MANIFEST}")))?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(error) => return Err(remote(format!("cannot read {url}/{S3_MANIFEST}"))(error)),
    };
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|error| S3BackupError::Refused(format!("{url}/{S3_MANIFEST} is not a backup manifest: {error}")))?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(S3BackupError::Refused(format!(
            "{url}/{S3_MANIFEST} has format {}; this build reads format {MANIFEST_FORMAT}",
            manifest.format
        )));
    }
    Ok(Some(manifest))
}

/// The backups under `target` named like ours, newest first, with their
/// manifest when finished.
pub async fn list_backups(
    objects: &dyn ObjectStore,
    target: &S3Url,
) -> Result<Vec<(String, Option<Manifest>)>, S3BackupError> {
    let listing = objects
        .list_with_delimiter(Some(&prefix_path(target)))
        .await
        .map_err(remote(format!("cannot list {target}")))?;
    let mut names: Vec<String> = listing
        .common_prefixes
        .iter()
        .filter_map(|prefix| prefix.filename().map(str::to_owned))
        .filter(|name| is_backup_name(name))
        .collect();
    names.sort_by(|a, b| b.cmp(a));
    let mut backups = Vec::with_capacity(names.len());
    for name in names {
        let manifest = read_manifest(objects, &target.child(&name)).await?;
        backups.push((name, manifest));
    }
    Ok(backups)
}

/// Uploads the backup staged in `staged` (made by `backup_data_dir`, whose
/// outcome is `summary`) to `target/name/`, the manifest last. `remote_media`
/// lists the media objects when media live in a bucket (`[media] store =
/// "s3"`); empty otherwise. Refuses a `name` that already holds objects.
pub async fn upload(
    objects: &dyn ObjectStore,
    staged: &Path,
    summary: &BackupSummary,
    target: &S3Url,
    name: &str,
    remote_media: Option<Vec<FileEntry>>,
    mut progress: impl FnMut(String),
) -> Result<UploadReport, S3BackupError> {
    let url = target.child(name);
    if has_objects(objects, &url).await? {
        return Err(S3BackupError::Refused(format!("{url} already holds objects; nothing was written")));
    }
    // Media the newest finished backup holds are copied inside the bucket.
    let previous =
        list_backups(objects, target).await?.into_iter().find_map(|(name, manifest)| Some((name, manifest?)));
    let reusable: BTreeMap<String, (String, FileEntry)> = previous
        .map(|(name, manifest)| {
            manifest
                .files
                .into_iter()
                .filter(|file| file.path.starts_with("media/"))
                .map(|file| (file.path.clone(), (name.clone(), file)))
                .collect()
        })
        .unwrap_or_default();

    let mut report = UploadReport {
        url: url.clone(),
        manifest: manifest_for(summary, name, &remote_media),
        uploaded: 0,
        uploaded_bytes: 0,
        reused: 0,
    };
    for relative in staged_files(staged)? {
        let source = staged.join(&relative);
        let location = object_path(&url, &relative);
        let bytes = fs::metadata(&source).map_err(local(format!("cannot inspect {}", source.display())))?.len();
        if let Some((previous, entry)) = reusable.get(&relative).filter(|(_, entry)| entry.bytes == bytes) {
            let from = object_path(&target.child(previous), &relative);
            objects.copy(&from, &location).await.map_err(remote(format!("cannot copy {from} to {location}")))?;
            report.manifest.files.push(entry.clone());
            report.reused += 1;
        } else {
            let entry = put_file(objects, &source, &location, &relative).await?;
            report.uploaded += 1;
            report.uploaded_bytes += entry.bytes;
            report.manifest.files.push(entry);
        }
        let done = report.uploaded + report.reused;
        if done.is_multiple_of(50) {
            progress(format!("uploaded {} files, {} copied in the bucket", report.uploaded, report.reused));
        }
    }
    let manifest = serde_json::to_vec_pretty(&report.manifest)
        .map_err(|error| S3BackupError::Refused(format!("cannot encode the manifest: {error}")))?;
    let location = object_path(&url, S3_MANIFEST);
    objects.put(&location, PutPayload::from(manifest)).await.map_err(remote(format!("cannot write {location}")))?;
    progress(format!("uploaded {} files, {} copied in the bucket, manifest written", report.uploaded, report.reused));
    Ok(report)
}

/// The media objects of a media bucket (`[media] store = "s3"`): every key
/// ending in a content-addressed media name (`ab/ab….mp4`), with its size
/// and the hash its name carries. Keys inside a backup (a segment named
/// `aimoviez-<UTC>`) are not media, even in the same bucket.
pub async fn list_media(objects: &dyn ObjectStore) -> Result<Vec<FileEntry>, S3BackupError> {
    let mut listing = objects.list(None);
    let mut media = Vec::new();
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(remote("cannot list the media bucket"))?;
        let key = meta.location.to_string();
        let parts: Vec<&str> = key.split('/').collect();
        if parts.len() < 2 || parts.iter().any(|part| is_backup_name(part)) {
            continue;
        }
        let name = parts[parts.len() - 2..].join("/");
        if let Some(name) = MediaName::parse(&name) {
            media.push(FileEntry { path: key, bytes: meta.size, blake3: name.hash().to_owned() });
        }
    }
    media.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(media)
}

/// The media objects `manifest` names that `objects` (the media bucket) lacks.
pub async fn missing_media(objects: &dyn ObjectStore, manifest: &Manifest) -> Result<Vec<String>, S3BackupError> {
    let present: std::collections::BTreeSet<String> =
        list_media(objects).await?.into_iter().map(|entry| entry.path).collect();
    Ok(manifest.remote_media.iter().filter(|entry| !present.contains(&entry.path)).map(|e| e.path.clone()).collect())
}

/// The manifest's header, before any file is listed.
fn manifest_for(summary: &BackupSummary, name: &str, remote_media: &Option<Vec<FileEntry>>) -> Manifest {
    Manifest {
        format: MANIFEST_FORMAT,
        name: name.to_owned(),
        created: summary.created.clone(),
        aimoviez_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version: summary.database.schema_version,
        tables: summary.database.tables.clone(),
        media_store: if remote_media.is_some() { "s3" } else { "disk" }.to_owned(),
        files: Vec::new(),
        remote_media: remote_media.clone().unwrap_or_default(),
    }
}

/// Relative names of every regular file under `root`, `/`-separated,
/// skipping dot-names (temp files), sorted: the database and secret first.
fn staged_files(root: &Path) -> Result<Vec<String>, S3BackupError> {
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let dir = root.join(&relative);
        for entry in fs::read_dir(&dir).map_err(local(format!("cannot read {}", dir.display())))? {
            let entry = entry.map_err(local(format!("cannot read {}", dir.display())))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
            if name.starts_with('.') {
                continue;
            }
            let child = relative.join(&name);
            let kind = entry.file_type().map_err(local(format!("cannot inspect {}", dir.display())))?;
            if kind.is_dir() {
                pending.push(child);
            } else if kind.is_file() {
                let parts: Vec<String> =
                    child.components().map(|part| part.as_os_str().to_string_lossy().into_owned()).collect();
                files.push(parts.join("/"));
            }
        }
    }
    files.sort_by_key(|path| (path.starts_with("media/"), path.clone()));
    Ok(files)
}

/// Sends one file, hashing it on the way: in one request up to
/// [`PART_BYTES`], in parts above.
async fn put_file(
    objects: &dyn ObjectStore,
    source: &Path,
    location: &ObjectPath,
    relative: &str,
) -> Result<FileEntry, S3BackupError> {
    let mut file = File::open(source).map_err(local(format!("cannot open {}", source.display())))?;
    let length = file.metadata().map_err(local(format!("cannot inspect {}", source.display())))?.len();
    let mut hasher = blake3::Hasher::new();
    if length <= PART_BYTES as u64 {
        let mut bytes = Vec::with_capacity(length as usize);
        file.read_to_end(&mut bytes).map_err(local(format!("cannot read {}", source.display())))?;
        hasher.update(&bytes);
        let entry = FileEntry {
            path: relative.to_owned(),
            bytes: bytes.len() as u64,
            blake3: hasher.finalize().to_hex().to_string(),
        };
        objects.put(location, PutPayload::from(bytes)).await.map_err(remote(format!("cannot upload {location}")))?;
        return Ok(entry);
    }
    let upload = objects.put_multipart(location).await.map_err(remote(format!("cannot start uploading {location}")))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let mut buffer = vec![0u8; PART_BYTES];
    let mut total = 0u64;
    loop {
        let read = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                let _ = writer.abort().await;
                return Err(local(format!("cannot read {}", source.display()))(error));
            }
        };
        hasher.update(&buffer[..read]);
        total += read as u64;
        if let Err(error) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
            return Err(remote(format!("cannot upload {location}"))(error));
        }
        writer.write(&buffer[..read]);
    }
    writer.finish().await.map_err(remote(format!("cannot finish uploading {location}")))?;
    Ok(FileEntry { path: relative.to_owned(), bytes: total, blake3: hasher.finalize().to_hex().to_string() })
}

/// Deletes backups under `target` beyond the newest `keep` finished ones,
/// and unfinished ones (no manifest). Only prefixes named like ours
/// (`aimoviez-<UTC>`) are considered. Returns the deleted names, oldest first.
pub async fn prune(objects: &dyn ObjectStore, target: &S3Url, keep: usize) -> Result<Vec<String>, S3BackupError> {
    let mut kept = 0;
    let mut removed = Vec::new();
    for (name, manifest) in list_backups(objects, target).await? {
        if manifest.is_some() && kept < keep {
            kept += 1;
            continue;
        }
        delete_all(objects, &target.child(&name)).await?;
        removed.push(name);
    }
    removed.reverse();
    Ok(removed)
}

/// Deletes every object under `url` (as a folder): the manifest first, so
/// a deletion cut short leaves an unfinished backup, never a broken one
/// that looks finished.
async fn delete_all(objects: &dyn ObjectStore, url: &S3Url) -> Result<(), S3BackupError> {
    match objects.delete(&object_path(url, S3_MANIFEST)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(error) => return Err(remote(format!("cannot delete {url}/{S3_MANIFEST}"))(error)),
    }
    let path = prefix_path(url);
    let mut listing = objects.list(Some(&path));
    let mut locations = Vec::new();
    while let Some(meta) = listing.next().await {
        locations.push(meta.map_err(remote(format!("cannot list {url}")))?.location);
    }
    drop(listing);
    for location in locations {
        match objects.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(remote(format!("cannot delete {location}"))(error)),
        }
    }
    Ok(())
}

/// Whether a manifest path may be written into a data dir: the database,
/// the secret, or a media file; no `..`, no absolute path.
fn restorable(path: &str) -> bool {
    let safe = !path.is_empty()
        && path.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && !part.starts_with('.')
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    safe && (path == DATABASE_FILE || path == SECRET_FILE || path.starts_with(&format!("{MEDIA_DIR}/")))
}

/// Restores the backup at `source` (`s3://bucket/prefix/aimoviez-<UTC>`)
/// into `data_dir` (absent or empty): every file of the manifest except
/// `BACKUP.txt` is downloaded beside its final name, its size and blake3
/// checked, fsynced and renamed into place. On any failure everything
/// written is removed. The caller then opens the store and runs `check`.
pub async fn download(
    objects: &dyn ObjectStore,
    source: &S3Url,
    data_dir: &Path,
    mut progress: impl FnMut(String),
) -> Result<(Manifest, RestoreSummary), S3BackupError> {
    let Some(manifest) = read_manifest(objects, source).await? else {
        let what = if has_objects(objects, source).await? {
            format!("{source} is an unfinished backup (no {S3_MANIFEST}); take a new one")
        } else {
            format!("there is no backup at {source}")
        };
        return Err(S3BackupError::Refused(what));
    };
    if !manifest.files.iter().any(|file| file.path == DATABASE_FILE) {
        return Err(S3BackupError::Refused(format!("{source} is not a backup: its manifest has no {DATABASE_FILE}")));
    }
    if let Some(bad) = manifest.files.iter().find(|file| file.path != MANIFEST_FILE && !restorable(&file.path)) {
        return Err(S3BackupError::Refused(format!(
            "{source}: the manifest names `{}`, which restore never writes",
            bad.path
        )));
    }
    ensure_absent_or_empty(data_dir, "restore target", "restore only into a new or empty directory")?;
    let created = !data_dir.exists();
    fs::create_dir_all(data_dir).map_err(local(format!("cannot create {}", data_dir.display())))?;
    let result = download_files(objects, source, &manifest, data_dir, &mut progress).await;
    match result {
        Ok(summary) => Ok((manifest, summary)),
        Err(error) => {
            // Leave the target as it was: absent, or empty.
            if created {
                let _ = fs::remove_dir_all(data_dir);
            } else if let Ok(entries) = fs::read_dir(data_dir) {
                for entry in entries.flatten() {
                    let path = entry.path();
                    let _ = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
                }
            }
            Err(error)
        }
    }
}

async fn download_files(
    objects: &dyn ObjectStore,
    source: &S3Url,
    manifest: &Manifest,
    data_dir: &Path,
    progress: &mut impl FnMut(String),
) -> Result<RestoreSummary, S3BackupError> {
    let mut summary = RestoreSummary { database_bytes: 0, media: Default::default(), secret_key: false };
    let mut directories = vec![data_dir.to_owned()];
    for file in manifest.files.iter().filter(|file| file.path != MANIFEST_FILE) {
        let target = data_dir.join(&file.path);
        if let Some(parent) = target.parent()
            && !directories.iter().any(|dir| dir == parent)
        {
            fs::create_dir_all(parent).map_err(local(format!("cannot create {}", parent.display())))?;
            directories.push(parent.to_owned());
        }
        fetch_verified(objects, &object_path(source, &file.path), file, &target).await?;
        if file.path == DATABASE_FILE {
            summary.database_bytes = file.bytes;
        } else if file.path == SECRET_FILE {
            summary.secret_key = true;
        } else {
            summary.media.files += 1;
            summary.media.copied += 1;
            summary.media.bytes += file.bytes;
            if summary.media.files.is_multiple_of(50) {
                progress(format!("media: {} files", summary.media.files));
            }
        }
    }
    for dir in directories.iter().rev() {
        File::open(dir).and_then(|dir| dir.sync_all()).map_err(local(format!("cannot sync {}", dir.display())))?;
    }
    progress(format!("downloaded {} media files", summary.media.files));
    Ok(summary)
}

/// Downloads one object beside `target`, checks its size and hash, fsyncs
/// it and renames it into place (mode 0600 for the secret).
async fn fetch_verified(
    objects: &dyn ObjectStore,
    location: &ObjectPath,
    expected: &FileEntry,
    target: &Path,
) -> Result<(), S3BackupError> {
    let file_name = target.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = target.with_file_name(format!(".{file_name}.partial"));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, if expected.path == SECRET_FILE { 0o600 } else { 0o644 });
    let mut out = options.open(&partial).map_err(local(format!("cannot create {}", partial.display())))?;
    let outcome = async {
        let mut stream =
            objects.get(location).await.map_err(remote(format!("cannot download {location}")))?.into_stream();
        let mut hasher = blake3::Hasher::new();
        let mut bytes = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(remote(format!("cannot download {location}")))?;
            hasher.update(&chunk);
            bytes += chunk.len() as u64;
            out.write_all(&chunk).map_err(local(format!("cannot write {}", partial.display())))?;
        }
        let hash = hasher.finalize().to_hex().to_string();
        if bytes != expected.bytes || hash != expected.blake3 {
            return Err(S3BackupError::Refused(format!(
                "{location} does not match the manifest ({bytes} bytes, blake3 {hash}; expected {} bytes, blake3 {}): \
                 the backup is damaged",
                expected.bytes, expected.blake3
            )));
        }
        out.sync_all().map_err(local(format!("cannot sync {}", partial.display())))?;
        fs::rename(&partial, target).map_err(local(format!("cannot rename {}", partial.display())))
    }
    .await;
    if outcome.is_err() {
        let _ = fs::remove_file(&partial);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_data_dir_files_are_restorable() {
        for good in ["aimoviez.redb", "secret.key", "media/ab/ab01.mp4"] {
            assert!(restorable(good), "{good}");
        }
        for bad in
            ["../etc/passwd", "media/../../x", "/abs", "media/.incoming/x", "other.txt", "media//x", "admin.sock"]
        {
            assert!(!restorable(bad), "{bad}");
        }
    }

    use object_store::memory::InMemory;

    use crate::store::Store;
    use crate::store::backup::backup_data_dir;

    /// A data dir with a database, two media files (one above one part) and
    /// a secret, staged as `backup DIR` makes it.
    fn staged(dir: &Path) -> (PathBuf, BackupSummary) {
        let data = dir.join("data");
        fs::create_dir_all(data.join("media/ab")).expect("media");
        fs::write(data.join("media/ab/ab01.mp4"), b"video").expect("media file");
        fs::write(data.join("media/ab/ab02.mp4"), vec![7u8; PART_BYTES + 1000]).expect("large media file");
        fs::write(data.join(SECRET_FILE), [3u8; 32]).expect("secret");
        let store = Store::open(&data.join(DATABASE_FILE), 4 * 1024 * 1024).expect("store");
        let stage = staging_dir(&data, "aimoviez-20260102T030405Z");
        let summary = backup_data_dir(&store, &data, &stage, |_| {}).expect("stage");
        (data, summary)
    }

    #[tokio::test]
    async fn a_backup_round_trips_reuses_media_and_is_pruned_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (data, summary) = staged(dir.path());
        let stage = staging_dir(&data, "aimoviez-20260102T030405Z");
        let objects = InMemory::new();
        let target = S3Url::parse("s3://bkt/nightly").expect("url");
        check_reachable(&objects, &target).await.expect("reachable");

        let first = upload(&objects, &stage, &summary, &target, "aimoviez-20260102T030405Z", None, |_| {})
            .await
            .expect("upload");
        assert_eq!((first.uploaded, first.reused), (5, 0), "database, secret, BACKUP.txt and two media files");
        let again = upload(&objects, &stage, &summary, &target, "aimoviez-20260102T030405Z", None, |_| {}).await;
        assert!(matches!(again, Err(S3BackupError::Refused(message)) if message.contains("already holds")));
        let second = upload(&objects, &stage, &summary, &target, "aimoviez-20260102T040405Z", None, |_| {})
            .await
            .expect("second upload");
        assert_eq!((second.uploaded, second.reused), (3, 2), "media come from the first backup");
        remove_staging(&data, "aimoviez-20260102T030405Z");
        assert!(!data.join(STAGING_DIR).exists());

        let restored = dir.path().join("restored");
        let (manifest, restore) = download(&objects, &second.url, &restored, |_| {}).await.expect("restore");
        assert_eq!(manifest.name, "aimoviez-20260102T040405Z");
        assert_eq!((restore.media.files, restore.secret_key), (2, true));
        assert_eq!(fs::read(restored.join("media/ab/ab01.mp4")).expect("media"), b"video");
        assert_eq!(fs::read(restored.join("media/ab/ab02.mp4")).expect("media").len(), PART_BYTES + 1000);
        assert!(!restored.join(MANIFEST_FILE).exists(), "BACKUP.txt is not data");
        let reopened = Store::open(&restored.join(DATABASE_FILE), 4 * 1024 * 1024).expect("open restored");
        assert!(reopened.check(|_, _| {}).expect("check").mismatches.is_empty());
        let twice = download(&objects, &second.url, &restored, |_| {}).await;
        assert!(matches!(twice, Err(S3BackupError::Local(BackupError::Refused(m))) if m.contains("not empty")));

        // A third, unfinished (cut short before its manifest), and a foreign prefix.
        objects
            .put(&object_path(&target.child("aimoviez-20260102T050405Z"), DATABASE_FILE), PutPayload::from_static(b"x"))
            .await
            .expect("put");
        objects
            .put(&object_path(&target.child("mine"), "keep.txt"), PutPayload::from_static(b"mine"))
            .await
            .expect("put");
        let refused =
            download(&objects, &target.child("aimoviez-20260102T050405Z"), &dir.path().join("r2"), |_| {}).await;
        assert!(
            matches!(refused, Err(S3BackupError::Refused(m)) if m.contains("unfinished")),
            "an unfinished backup is refused"
        );
        assert!(!dir.path().join("r2").exists(), "nothing written");
        let missing =
            download(&objects, &target.child("aimoviez-20990102T050405Z"), &dir.path().join("r3"), |_| {}).await;
        assert!(matches!(missing, Err(S3BackupError::Refused(m)) if m.contains("no backup")));

        let removed = prune(&objects, &target, 1).await.expect("prune");
        assert_eq!(removed, ["aimoviez-20260102T030405Z", "aimoviez-20260102T050405Z"]);
        let names: Vec<String> =
            list_backups(&objects, &target).await.expect("list").into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["aimoviez-20260102T040405Z"]);
        assert!(has_objects(&objects, &target.child("mine")).await.expect("list"), "foreign prefixes stay");
        assert!(prune(&objects, &target, 1).await.expect("again").is_empty());
        // The kept backup still restores whole: its media were copies, not references.
        let (_, restore) = download(&objects, &second.url, &dir.path().join("r4"), |_| {}).await.expect("restore");
        assert_eq!(restore.media.files, 2);
    }

    #[tokio::test]
    async fn a_damaged_object_fails_the_restore_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (data, summary) = staged(dir.path());
        let objects = InMemory::new();
        let target = S3Url::parse("s3://bkt").expect("url");
        let name = "aimoviez-20260102T030405Z";
        let report =
            upload(&objects, &staging_dir(&data, name), &summary, &target, name, None, |_| {}).await.expect("upload");
        objects
            .put(&object_path(&report.url, "media/ab/ab01.mp4"), PutPayload::from_static(b"vidEo"))
            .await
            .expect("damage");
        let empty = dir.path().join("empty");
        fs::create_dir(&empty).expect("mkdir");
        let error = download(&objects, &report.url, &empty, |_| {}).await.expect_err("damaged");
        assert!(error.to_string().contains("does not match the manifest"), "{error}");
        assert_eq!(fs::read_dir(&empty).expect("read").count(), 0, "the target is left empty");
    }

    #[tokio::test]
    async fn media_in_a_bucket_are_listed_by_name_and_backups_are_not_media() {
        let objects = InMemory::new();
        let hash = blake3::hash(b"clip").to_hex().to_string();
        let name = format!("{}/{hash}.mp4", &hash[..2]);
        for key in [
            format!("media/{name}"),
            format!("backups/aimoviez-20260102T030405Z/media/{name}"),
            "media/notes.txt".to_owned(),
        ] {
            objects.put(&ObjectPath::from(key.as_str()), PutPayload::from_static(b"clip")).await.expect("put");
        }
        let media = list_media(&objects).await.expect("list");
        assert_eq!(media, [FileEntry { path: format!("media/{name}"), bytes: 4, blake3: hash }]);
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            name: "aimoviez-20260102T030405Z".into(),
            created: String::new(),
            aimoviez_version: String::new(),
            schema_version: 0,
            tables: Vec::new(),
            media_store: "s3".into(),
            files: Vec::new(),
            remote_media: vec![
                media[0].clone(),
                FileEntry { path: "media/gone".into(), bytes: 1, blake3: "00".into() },
            ],
        };
        assert_eq!(missing_media(&objects, &manifest).await.expect("missing"), ["media/gone"]);
    }
}
