//! Backup and restore of a data dir.
//!
//! The database is copied table by table inside ONE read transaction, so the
//! copy is a consistent snapshot while the writer keeps committing (copying
//! the file while it is written is unsafe; savepoints are for rollback). The
//! copy is a fresh redb file committed with `Durability::Immediate`.
//!
//! Media files are content-addressed and never rewritten, so copying them
//! after the snapshot is safe: every file the snapshot can name already
//! exists. They are hard-linked when the destination is on the same file
//! system, copied (and fsynced) otherwise. `secret.key` is copied with mode
//! 0600 (voter keys and sessions depend on it). The search index is not
//! backed up: it is rebuilt from the database at start.
//!
//! A backup directory holds `aimoviez.redb`, `media/`, `secret.key` and
//! `BACKUP.txt`, written last: a directory without it is an unfinished backup
//! and `restore` refuses it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use redb::{Database, Durability, Key, MultimapTableHandle, ReadTransaction, TableDefinition, TableHandle, Value};
use serde::{Deserialize, Serialize};

use super::tables::*;
use super::{Store, StoreError};

/// The database file's name, in a data dir and in a backup.
pub const DATABASE_FILE: &str = "aimoviez.redb";
/// The media folder's name, in a data dir and in a backup.
pub const MEDIA_DIR: &str = "media";
/// The server secret's file name, in a data dir and in a backup.
pub const SECRET_FILE: &str = "secret.key";
/// The manifest, written last into a backup.
pub const MANIFEST_FILE: &str = "BACKUP.txt";

/// Name prefix of scheduled backups (directories, or `s3://` prefixes).
const BACKUP_NAME_PREFIX: &str = "aimoviez-";

/// The name of a backup taken at `when`: `aimoviez-20260102T030405Z`. Names
/// sort by time as text.
pub fn backup_name(when: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let stamp = when.to_offset(time::UtcOffset::UTC).format(format).unwrap_or_else(|_| "00000000T000000Z".to_owned());
    format!("{BACKUP_NAME_PREFIX}{stamp}")
}

/// Whether `name` is one of [`backup_name`]'s: `aimoviez-` +
/// `YYYYMMDDTHHMMSSZ`. Retention only ever deletes backups named so.
pub fn is_backup_name(name: &str) -> bool {
    let Some(stamp) = name.strip_prefix(BACKUP_NAME_PREFIX) else { return false };
    let bytes = stamp.as_bytes();
    bytes.len() == 16
        && bytes[..8].iter().all(u8::is_ascii_digit)
        && bytes[8] == b'T'
        && bytes[9..15].iter().all(u8::is_ascii_digit)
        && bytes[15] == b'Z'
}

/// Rows inserted into the destination per (non-durable) write transaction,
/// so a large table never builds one huge transaction in memory.
const ROWS_PER_CHUNK: u64 = 50_000;
/// How often a long table reports progress.
const PROGRESS_EVERY_ROWS: u64 = 10_000;
/// How often the media copy reports progress.
const PROGRESS_EVERY_FILES: u64 = 200;

/// Work done so far, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum BackupProgress<'a> {
    /// Rows copied from a table so far; `done` once the table is complete.
    Table {
        /// The table.
        name: &'a str,
        /// Rows copied.
        rows: u64,
        /// Whether the table is complete.
        done: bool,
    },
    /// Media files placed so far.
    Media {
        /// Files placed (linked, copied or already present).
        files: u64,
    },
}

impl std::fmt::Display for BackupProgress<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackupProgress::Table { name, rows, done: false } => write!(f, "copying {name}: {rows} rows"),
            BackupProgress::Table { name, rows, done: true } => write!(f, "copied {name}: {rows} rows"),
            BackupProgress::Media { files } => write!(f, "media: {files} files"),
        }
    }
}

/// Rows copied from one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRows {
    /// The table's name.
    pub table: String,
    /// Rows copied.
    pub rows: u64,
}

/// The outcome of [`Store::backup_to`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BackupReport {
    /// The schema version recorded in the snapshot.
    pub schema_version: u64,
    /// Rows copied, per table, in copy order.
    pub tables: Vec<TableRows>,
}

impl BackupReport {
    /// Rows copied from all tables.
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// Media files placed in a destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaReport {
    /// Files in the source.
    pub files: u64,
    /// Hard-linked (same file system).
    pub linked: u64,
    /// Copied and fsynced.
    pub copied: u64,
    /// Already present in the destination (content addresses never change).
    pub already_present: u64,
    /// Bytes of all files.
    pub bytes: u64,
}

/// The outcome of [`backup_data_dir`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupSummary {
    /// The backup directory.
    pub dest: PathBuf,
    /// When the snapshot was taken (RFC 3339, UTC).
    pub created: String,
    /// The database copy.
    pub database: BackupReport,
    /// The media copy.
    pub media: MediaReport,
    /// Whether `secret.key` was copied (absent only in a data dir never served).
    pub secret_key: bool,
}

/// The outcome of [`restore_data_dir`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoreSummary {
    /// Bytes of the database file.
    pub database_bytes: u64,
    /// The media copy.
    pub media: MediaReport,
    /// Whether `secret.key` was restored.
    pub secret_key: bool,
}

/// Why a backup or restore did not complete.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Reading the snapshot or writing the copy failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: io::Error,
    },
    /// The request itself is refused (destination not empty, not a backup, …).
    #[error("{0}")]
    Refused(String),
}

fn io_context(context: impl Into<String>) -> impl FnOnce(io::Error) -> BackupError {
    let context = context.into();
    move |source| BackupError::Io { context, source }
}

impl Store {
    /// Copies every table into a new redb file at `dest_db` from ONE read
    /// transaction: a consistent snapshot, taken while the writer keeps
    /// committing. Refuses a `dest_db` that exists. The copy is durable
    /// (`Durability::Immediate`) when this returns.
    pub fn backup_to(
        &self,
        dest_db: &Path,
        mut progress: impl FnMut(BackupProgress<'_>),
    ) -> Result<BackupReport, StoreError> {
        // The snapshot is taken first: everything below reads this one view.
        let source = self.read()?;
        let known = table_names();
        if let Some(unknown) = source.list_tables()?.map(|t| t.name().to_owned()).find(|name| !known.contains(name)) {
            return Err(StoreError::Corrupt {
                what: "database layout",
                reason: format!("table `{unknown}` is not in the backup's table list; this build cannot back it up"),
            });
        }
        if let Some(unknown) = source.list_multimap_tables()?.next() {
            return Err(StoreError::Corrupt {
                what: "database layout",
                reason: format!("multimap table `{}` is unknown to backup", unknown.name()),
            });
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(dest_db)
            .map_err(|error| StoreError::Database(redb::Error::Io(error)))?;
        let backend = redb::backends::FileBackend::new(file)?;
        let dest = Database::builder().set_cache_size(16 * 1024 * 1024).create_with_backend(backend)?;
        let mut report = BackupReport::default();
        {
            let meta = source.open_table(META)?;
            report.schema_version = meta.get(meta_keys::SCHEMA_VERSION)?.map(|v| v.value()).unwrap_or(0);
        }
        visit_every_table(&mut TableCopier {
            source: &source,
            dest: &dest,
            progress: &mut progress,
            report: &mut report,
        })?;
        // The chunks were committed without fsync; this commit makes them all durable.
        let mut last = dest.begin_write()?;
        last.set_durability(Durability::Immediate)?;
        last.commit()?;
        drop(source);
        Ok(report)
    }
}

/// Copies each registered table from the snapshot and records its rows.
struct TableCopier<'a, P> {
    source: &'a ReadTransaction,
    dest: &'a Database,
    progress: &'a mut P,
    report: &'a mut BackupReport,
}

impl<P: FnMut(BackupProgress<'_>)> TableVisitor for TableCopier<'_, P> {
    type Error = StoreError;

    fn visit<K: Key + 'static, V: Value + 'static>(
        &mut self,
        table: TableDefinition<'static, K, V>,
    ) -> Result<(), StoreError> {
        let rows = copy_table(self.source, self.dest, table, self.progress)?;
        self.report.tables.push(TableRows { table: table.name().to_owned(), rows });
        Ok(())
    }
}

/// Copies one table from the snapshot into the destination, in chunks of
/// non-durable write transactions (the caller commits durably at the end).
fn copy_table<K: Key + 'static, V: Value + 'static>(
    source: &ReadTransaction,
    dest: &Database,
    definition: TableDefinition<K, V>,
    progress: &mut impl FnMut(BackupProgress<'_>),
) -> Result<u64, StoreError> {
    let name = definition.name().to_owned();
    let table = source.open_table(definition)?;
    let mut entries = redb::ReadableTable::iter(&table)?;
    let mut rows = 0u64;
    let mut finished = false;
    while !finished {
        let mut txn = dest.begin_write()?;
        txn.set_durability(Durability::None)?;
        {
            // Opening creates the table, so even an empty table exists in the copy.
            let mut out = txn.open_table(definition)?;
            let mut in_chunk = 0u64;
            loop {
                let Some(entry) = entries.next() else {
                    finished = true;
                    break;
                };
                let (key, value) = entry?;
                out.insert(key.value(), value.value())?;
                rows += 1;
                in_chunk += 1;
                if rows.is_multiple_of(PROGRESS_EVERY_ROWS) {
                    progress(BackupProgress::Table { name: &name, rows, done: false });
                }
                if in_chunk == ROWS_PER_CHUNK {
                    break;
                }
            }
        }
        txn.commit()?;
    }
    progress(BackupProgress::Table { name: &name, rows, done: true });
    Ok(rows)
}

/// Takes a full backup of `data_dir` into `dest` (absent or an empty
/// directory): the database snapshot, then media, `secret.key`, and the
/// manifest last. `store` is the open database of `data_dir`.
pub fn backup_data_dir(
    store: &Store,
    data_dir: &Path,
    dest: &Path,
    mut progress: impl FnMut(BackupProgress<'_>),
) -> Result<BackupSummary, BackupError> {
    ensure_absent_or_empty(dest, "backup destination", "back up into a new or empty directory")?;
    let created_dir = !dest.exists();
    fs::create_dir_all(dest).map_err(io_context(format!("cannot create {}", dest.display())))?;
    if created_dir {
        set_private_dir(dest)?;
    }
    // Inside the media folder the copy would walk into itself. (Elsewhere in
    // the data dir is allowed: a hardened service may write nowhere else.)
    let media_dir = data_dir.join(MEDIA_DIR);
    if let (Ok(media_real), Ok(dest_real)) = (fs::canonicalize(&media_dir), fs::canonicalize(dest))
        && dest_real.starts_with(&media_real)
    {
        if created_dir {
            let _ = fs::remove_dir(dest);
        }
        return Err(BackupError::Refused(format!(
            "{} is inside the media folder {}; back up somewhere else",
            dest.display(),
            media_dir.display()
        )));
    }
    let created = now_rfc3339();
    let database = store.backup_to(&dest.join(DATABASE_FILE), &mut progress)?;
    let media = copy_tree(&data_dir.join(MEDIA_DIR), &dest.join(MEDIA_DIR), true, &mut progress)?;
    let secret_key = copy_secret(&data_dir.join(SECRET_FILE), &dest.join(SECRET_FILE))?;
    let summary = BackupSummary { dest: dest.to_owned(), created, database, media, secret_key };
    write_durably(&dest.join(MANIFEST_FILE), manifest(&summary).as_bytes())?;
    sync_dir(dest)?;
    Ok(summary)
}

/// Copies a backup's files into `data_dir`, which must be absent or empty.
/// Media is copied, never linked, so the backup stays independent of the
/// restored data. The caller then opens the store (which checks the schema
/// version) and runs `check`.
pub fn restore_data_dir(
    src: &Path,
    data_dir: &Path,
    mut progress: impl FnMut(BackupProgress<'_>),
) -> Result<RestoreSummary, BackupError> {
    if !src.join(DATABASE_FILE).is_file() {
        return Err(BackupError::Refused(format!("{} is not a backup: it has no {DATABASE_FILE}", src.display())));
    }
    if !src.join(MANIFEST_FILE).is_file() {
        return Err(BackupError::Refused(format!(
            "{} is an unfinished backup (no {MANIFEST_FILE}); take a new one",
            src.display()
        )));
    }
    ensure_absent_or_empty(data_dir, "restore target", "restore only into a new or empty directory")?;
    fs::create_dir_all(data_dir).map_err(io_context(format!("cannot create {}", data_dir.display())))?;
    let database_bytes = copy_durably(&src.join(DATABASE_FILE), &data_dir.join(DATABASE_FILE))
        .map_err(io_context(format!("cannot copy {}", src.join(DATABASE_FILE).display())))?;
    let media = copy_tree(&src.join(MEDIA_DIR), &data_dir.join(MEDIA_DIR), false, &mut progress)?;
    let secret_key = copy_secret(&src.join(SECRET_FILE), &data_dir.join(SECRET_FILE))?;
    sync_dir(data_dir)?;
    Ok(RestoreSummary { database_bytes, media, secret_key })
}

/// Refuses a path that exists and is not an empty directory.
pub fn ensure_absent_or_empty(path: &Path, what: &str, advice: &str) -> Result<(), BackupError> {
    match fs::metadata(path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(io_context(format!("cannot inspect {}", path.display()))(error)),
        Ok(metadata) if !metadata.is_dir() => {
            Err(BackupError::Refused(format!("the {what} {} exists and is not a directory; {advice}", path.display())))
        }
        Ok(_) => {
            let mut entries = fs::read_dir(path).map_err(io_context(format!("cannot read {}", path.display())))?;
            if entries.next().is_some() {
                Err(BackupError::Refused(format!("the {what} {} is not empty; {advice}", path.display())))
            } else {
                Ok(())
            }
        }
    }
}

/// The manifest text: what a person restoring needs to know at a glance.
fn manifest(summary: &BackupSummary) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    let _ = writeln!(text, "aimoviez backup");
    let _ = writeln!(text, "created: {}", summary.created);
    let _ = writeln!(text, "aimoviez version: {}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(text, "schema version: {}", summary.database.schema_version);
    let _ = writeln!(text, "database: {DATABASE_FILE} ({} rows)", summary.database.total_rows());
    let _ = writeln!(text, "rows per table:");
    for table in &summary.database.tables {
        let _ = writeln!(text, "  {} {}", table.table, table.rows);
    }
    let media = &summary.media;
    let _ = writeln!(
        text,
        "media: {} files, {} bytes ({} linked, {} copied)",
        media.files, media.bytes, media.linked, media.copied
    );
    let _ = writeln!(text, "secret.key: {}", if summary.secret_key { "included" } else { "absent in the source" });
    let _ = writeln!(text, "search index: not included (rebuilt from the database at start)");
    let _ = writeln!(text, "restore with: aimoviez restore <this directory> --data <new empty directory>");
    text
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Copies every regular file under `src_root` that `dst_root` lacks, skipping
/// dot-names (`.incoming/`, temp files beside a file being stored). With
/// `link`, files are hard-linked until the first link fails (another file
/// system), then copied. Every touched directory is fsynced.
fn copy_tree(
    src_root: &Path,
    dst_root: &Path,
    link: bool,
    progress: &mut impl FnMut(BackupProgress<'_>),
) -> Result<MediaReport, BackupError> {
    let mut report = MediaReport::default();
    fs::create_dir_all(dst_root).map_err(io_context(format!("cannot create {}", dst_root.display())))?;
    let mut try_link = link;
    let mut pending = vec![PathBuf::new()];
    let mut touched = vec![dst_root.to_owned()];
    while let Some(relative) = pending.pop() {
        let dir = src_root.join(&relative);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound && relative.as_os_str().is_empty() => break,
            Err(error) => return Err(io_context(format!("cannot read {}", dir.display()))(error)),
        };
        for entry in entries {
            let entry = entry.map_err(io_context(format!("cannot read {}", dir.display())))?;
            let name = entry.file_name();
            if name.as_encoded_bytes().starts_with(b".") {
                continue;
            }
            let file_type = entry.file_type().map_err(io_context(format!("cannot inspect {}", dir.display())))?;
            let child = relative.join(&name);
            let target = dst_root.join(&child);
            if file_type.is_dir() {
                fs::create_dir_all(&target).map_err(io_context(format!("cannot create {}", target.display())))?;
                touched.push(target);
                pending.push(child);
                continue;
            }
            if !file_type.is_file() {
                continue; // Symlinks and special files are not media.
            }
            let source = entry.path();
            report.files += 1;
            report.bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
            if fs::symlink_metadata(&target).is_ok() {
                report.already_present += 1;
            } else {
                let mut linked = false;
                if try_link {
                    match fs::hard_link(&source, &target) {
                        Ok(()) => linked = true,
                        // Another file system (or links not allowed): copy from now on.
                        Err(_) => try_link = false,
                    }
                }
                if linked {
                    report.linked += 1;
                } else {
                    copy_durably(&source, &target).map_err(io_context(format!("cannot copy {}", source.display())))?;
                    report.copied += 1;
                }
            }
            if report.files.is_multiple_of(PROGRESS_EVERY_FILES) {
                progress(BackupProgress::Media { files: report.files });
            }
        }
    }
    for dir in touched.iter().rev() {
        sync_dir(dir)?;
    }
    progress(BackupProgress::Media { files: report.files });
    Ok(report)
}

/// Copies a file beside its final name, fsyncs it and renames it into place,
/// so a crash never leaves a half-written file under the final name.
pub(crate) fn copy_durably(source: &Path, target: &Path) -> io::Result<u64> {
    let file_name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = target.with_file_name(format!(".{file_name}.partial"));
    let copied = (|| {
        let bytes = fs::copy(source, &partial)?;
        File::open(&partial)?.sync_all()?;
        fs::rename(&partial, target)?;
        Ok(bytes)
    })();
    if copied.is_err() {
        let _ = fs::remove_file(&partial);
    }
    copied
}

/// Copies the server secret with mode 0600; `false` when the source has none.
fn copy_secret(source: &Path, target: &Path) -> Result<bool, BackupError> {
    let bytes = match fs::read(source) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(io_context(format!("cannot read {}", source.display()))(error)),
    };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let write = || -> io::Result<()> {
        let mut file = options.open(target)?;
        file.write_all(&bytes)?;
        file.sync_all()
    };
    write().map_err(io_context(format!("cannot write {}", target.display())))?;
    Ok(true)
}

/// Writes a small file through a temp name, fsynced, then renamed.
fn write_durably(target: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let partial = target.with_extension("partial");
    let write = || -> io::Result<()> {
        let mut file = File::create(&partial)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&partial, target)
    };
    write().map_err(io_context(format!("cannot write {}", target.display())))
}

fn set_private_dir(dir: &Path) -> Result<(), BackupError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(io_context(format!("cannot restrict {}", dir.display())))?;
    }
    Ok(())
}

/// Makes a directory's entries (new names, renames, links) durable.
fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_context(format!("cannot sync {}", dir.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use redb::{ReadableDatabase, ReadableTableMetadata};

    use super::*;

    fn open_store(dir: &Path) -> Store {
        Store::open(&dir.join(DATABASE_FILE), 4 * 1024 * 1024).expect("open store")
    }

    #[test]
    fn a_fresh_store_backs_up_every_table_and_refuses_an_existing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open_store(dir.path());
        let dest = dir.path().join("copy.redb");
        let report = store.backup_to(&dest, |_| {}).expect("backup");
        assert_eq!(report.schema_version, super::super::SCHEMA_VERSION);
        let copied: Vec<String> = report.tables.iter().map(|rows| rows.table.clone()).collect();
        assert_eq!(copied, table_names(), "backup copies every registered table, in registry order");
        let copy = Database::open(&dest).expect("open copy");
        let txn = copy.begin_read().expect("read");
        let present: BTreeSet<String> = txn.list_tables().expect("list").map(|t| t.name().to_owned()).collect();
        let all: BTreeSet<String> = table_names().into_iter().collect();
        assert_eq!(present, all, "every table exists in the copy, even when empty");
        drop(txn);
        drop(copy);
        let again = store.backup_to(&dest, |_| {});
        assert!(again.is_err(), "an existing destination file is refused");
    }

    #[test]
    fn rows_of_every_key_and_value_shape_are_copied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open_store(dir.path());
        {
            let txn = store.database().expect("database").begin_write().expect("write");
            {
                txn.open_table(CLIP_ID_TO_VIEWS).expect("views").insert(7, 42).expect("insert");
                let mut counters = txn.open_table(SLOT_CLIP_TO_COUNTER).expect("counters");
                for clip in 0..25_000u64 {
                    counters.insert((1, 2, clip), (clip, clip * 2)).expect("insert");
                }
                txn.open_table(VOTER_TO_LEDGER).expect("ledgers").insert(&[7u8; 17], &[1u8, 2, 3][..]).expect("insert");
                txn.open_table(SLOT_VOTE_TO_VOTE).expect("votes").insert((1, 2, 3), &[9u8; 39]).expect("insert");
                txn.open_table(USER_SESSION_TO_MEMBERSHIP)
                    .expect("sessions")
                    .insert((9, &[4u8, 5][..]), ())
                    .expect("insert");
                txn.open_table(GENRE_ROUND_VOTER_TO_GENRE).expect("genres").insert((2, "v"), "drama").expect("insert");
                txn.open_table(FLAG_TO_ENABLED).expect("flags").insert("x", true).expect("insert");
            }
            txn.commit().expect("commit");
        }
        let dest = dir.path().join("copy.redb");
        let mut progress_calls = 0;
        let report = store.backup_to(&dest, |_| progress_calls += 1).expect("backup");
        assert!(progress_calls > table_names().len(), "long tables report progress while copying");
        let rows = |name: &str| report.tables.iter().find(|t| t.table == name).map(|t| t.rows);
        assert_eq!(rows("slot_clip_to_counter"), Some(25_000));
        assert_eq!(rows("clip_id_to_views"), Some(1));
        let copy = Database::open(&dest).expect("open copy");
        let txn = copy.begin_read().expect("read");
        let counters = txn.open_table(SLOT_CLIP_TO_COUNTER).expect("counters");
        assert_eq!(counters.len().expect("len"), 25_000);
        assert_eq!(counters.get((1, 2, 24_999)).expect("get").map(|v| v.value()), Some((24_999, 49_998)));
        let ledgers = txn.open_table(VOTER_TO_LEDGER).expect("ledgers");
        assert_eq!(ledgers.get(&[7u8; 17]).expect("get").map(|v| v.value().to_vec()), Some(vec![1, 2, 3]));
        let votes = txn.open_table(SLOT_VOTE_TO_VOTE).expect("votes");
        assert_eq!(votes.get((1, 2, 3)).expect("get").map(|v| *v.value()), Some([9u8; 39]));
        let sessions = txn.open_table(USER_SESSION_TO_MEMBERSHIP).expect("sessions");
        assert!(sessions.get((9, &[4u8, 5][..])).expect("get").is_some());
        let genres = txn.open_table(GENRE_ROUND_VOTER_TO_GENRE).expect("genres");
        assert_eq!(genres.get((2, "v")).expect("get").map(|v| v.value().to_owned()), Some("drama".to_owned()));
        let flags = txn.open_table(FLAG_TO_ENABLED).expect("flags");
        assert_eq!(flags.get("x").expect("get").map(|v| v.value()), Some(true));
    }

    #[test]
    fn a_table_unknown_to_backup_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open_store(dir.path());
        {
            let txn = store.database().expect("database").begin_write().expect("write");
            let stray: TableDefinition<u64, u64> = TableDefinition::new("stray_table");
            txn.open_table(stray).expect("stray");
            txn.commit().expect("commit");
        }
        let error = store.backup_to(&dir.path().join("copy.redb"), |_| {}).expect_err("refused");
        assert!(error.to_string().contains("stray_table"), "{error}");
        let checked = store.check(|_, _| {}).expect("check");
        assert!(
            checked.mismatches.iter().any(|mismatch| mismatch.contains("stray_table")),
            "check reports a table the registry lacks: {:?}",
            checked.mismatches
        );
    }

    #[test]
    fn backup_and_restore_a_data_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        fs::create_dir_all(data.join("media/ab")).expect("media dir");
        fs::create_dir_all(data.join("media/.incoming")).expect("incoming");
        fs::write(data.join("media/ab/ab01.mp4"), b"video").expect("media file");
        fs::write(data.join("media/ab/.tmp123"), b"half").expect("temp file");
        fs::write(data.join("media/.incoming/upload"), b"partial").expect("incoming file");
        fs::write(data.join(SECRET_FILE), [7u8; 32]).expect("secret");
        let store = open_store(&data);

        let inside = backup_data_dir(&store, &data, &data.join("media/backup"), |_| {});
        assert!(matches!(inside, Err(BackupError::Refused(_))), "a backup inside the media folder is refused");
        assert!(!data.join("media/backup").exists());

        let dest = dir.path().join("backup");
        let summary = backup_data_dir(&store, &data, &dest, |_| {}).expect("backup");
        assert_eq!(summary.media.files, 1);
        assert!(summary.secret_key);
        assert!(dest.join("media/ab/ab01.mp4").is_file());
        assert!(!dest.join("media/ab/.tmp123").exists());
        assert!(!dest.join("media/.incoming").exists());
        let manifest = fs::read_to_string(dest.join(MANIFEST_FILE)).expect("manifest");
        assert!(manifest.contains(&format!("schema version: {}", super::super::SCHEMA_VERSION)), "{manifest}");
        assert!(manifest.contains("  meta "), "{manifest}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dest.join(SECRET_FILE)).expect("secret").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = backup_data_dir(&store, &data, &dest, |_| {});
        assert!(matches!(again, Err(BackupError::Refused(_))), "a non-empty destination is refused");

        let restored = dir.path().join("restored");
        let summary = restore_data_dir(&dest, &restored, |_| {}).expect("restore");
        assert_eq!(summary.media.copied, 1);
        assert_eq!(fs::read(restored.join("media/ab/ab01.mp4")).expect("restored media"), b"video");
        assert_eq!(fs::read(restored.join(SECRET_FILE)).expect("restored secret"), vec![7u8; 32]);
        let refused = restore_data_dir(&dest, &restored, |_| {});
        assert!(matches!(refused, Err(BackupError::Refused(message)) if message.contains("not empty")));
        let reopened = open_store(&restored);
        assert!(reopened.check(|_, _| {}).expect("check").mismatches.is_empty());

        fs::remove_file(dest.join(MANIFEST_FILE)).expect("remove manifest");
        let unfinished = restore_data_dir(&dest, &dir.path().join("other"), |_| {});
        assert!(matches!(unfinished, Err(BackupError::Refused(message)) if message.contains("unfinished")));
    }
}
