//! Schema version check and migrations, run once at open inside one write
//! transaction, so an upgrade either completes or leaves the file untouched.
//! Before an older file is migrated, `Store::open` copies it aside (see
//! [`backup_before_upgrade`]), so the previous build can still open the copy.
//!
//! History:
//! - 1: the first released layout.
//! - 2: all-time tallies `VOTER_TO_TALLY` and `CREATOR_TO_TALLY`, backfilled
//!   from the votes; profiles, follows and notifications, with each user's
//!   stats (clips, approvals, wins, voting streak) backfilled from the clips
//!   and votes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use redb::{Database, Key, ReadableDatabase, ReadableTable, TableDefinition, Value, WriteTransaction};

use super::tables::*;
use super::{SCHEMA_VERSION, StoreError, records};

/// Folder (beside the database file) of the copies taken before a migration.
pub const PRE_MIGRATION_DIR: &str = "backups";

/// The schema version of an existing file when it is older than this build
/// (`None` for a new file or a current one); a newer one is refused.
pub fn upgrade_needed(db: &Database) -> Result<Option<u64>, StoreError> {
    let txn = db.begin_read()?;
    let meta = match txn.open_table(META) {
        Ok(meta) => meta,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    match meta.get(meta_keys::SCHEMA_VERSION)?.map(|v| v.value()) {
        Some(version) if version > SCHEMA_VERSION => Err(StoreError::NewerSchema { found: version }),
        Some(version) if version < SCHEMA_VERSION => Ok(Some(version)),
        _ => Ok(None),
    }
}

/// Copies the (closed) database file to
/// `<its dir>/backups/pre-migration-v<found>-<UTC timestamp>.redb`, fsynced,
/// and returns the copy's path.
pub fn backup_before_upgrade(db_path: &Path, found: u64) -> Result<PathBuf, StoreError> {
    let dir = db_path.parent().unwrap_or_else(|| Path::new(".")).join(PRE_MIGRATION_DIR);
    let io = |error: std::io::Error| StoreError::Database(redb::Error::Io(error));
    std::fs::create_dir_all(&dir).map_err(io)?;
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let stamp = time::OffsetDateTime::now_utc().format(format).unwrap_or_default();
    let mut copy = dir.join(format!("pre-migration-v{found}-{stamp}.redb"));
    let mut attempt = 1;
    while copy.exists() {
        attempt += 1;
        copy = dir.join(format!("pre-migration-v{found}-{stamp}-{attempt}.redb"));
    }
    super::backup::copy_durably(db_path, &copy).map_err(io)?;
    Ok(copy)
}

/// Creates every table on a new file, refuses files from a newer build, and
/// migrates older ones step by step, all in one write transaction.
pub fn run(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    let found = txn.open_table(META)?.get(meta_keys::SCHEMA_VERSION)?.map(|v| v.value());
    match found {
        Some(version) if version > SCHEMA_VERSION => return Err(StoreError::NewerSchema { found: version }),
        Some(version) if version == SCHEMA_VERSION => {}
        Some(older) => {
            tracing::info!(from = older, to = SCHEMA_VERSION, "migrating database schema");
            for version in older..SCHEMA_VERSION {
                migrate_from(&txn, version)?;
            }
            txn.open_table(META)?.insert(meta_keys::SCHEMA_VERSION, SCHEMA_VERSION)?;
        }
        None => {
            tracing::info!(version = SCHEMA_VERSION, "initialising new database");
            txn.open_table(META)?.insert(meta_keys::SCHEMA_VERSION, SCHEMA_VERSION)?;
        }
    }
    // Opening every table once makes them exist, so readers never meet a
    // missing table on a fresh file. The list is the one backup copies, so a
    // registered table is both created here and backed up.
    visit_every_table(&mut TableCreator(&txn))?;
    txn.commit()?;
    Ok(())
}

/// Creates each registered table that the file lacks.
struct TableCreator<'a>(&'a WriteTransaction);

impl TableVisitor for TableCreator<'_> {
    type Error = StoreError;

    fn visit<K: Key + 'static, V: Value + 'static>(
        &mut self,
        table: TableDefinition<'static, K, V>,
    ) -> Result<(), StoreError> {
        self.0.open_table(table)?;
        Ok(())
    }
}

/// One step: from `version` to `version + 1`.
fn migrate_from(txn: &WriteTransaction, version: u64) -> Result<(), StoreError> {
    match version {
        1 => {
            backfill_tallies(txn)?;
            backfill_user_stats(txn)
        }
        _ => Ok(()),
    }
}

/// 1 → 2: the all-time voter and creator tallies, recounted from the votes
/// (counted votes only; the creator from the clip record), replacing any
/// tally rows a development build may have written. The same recount as
/// `Store::check`, so a migrated file checks clean.
fn backfill_tallies(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut recount = super::tallies::TallyRecount::default();
    let mut votes_read = 0u64;
    {
        let votes = txn.open_table(VOTE_ID_TO_VOTE)?;
        let clips = txn.open_table(CLIP_ID_TO_CLIP)?;
        for entry in votes.iter()? {
            let (_, bytes) = entry?;
            recount.add(&records::vote_from_bytes(bytes.value())?, &clips)?;
            votes_read += 1;
        }
    }
    txn.delete_table(VOTER_TO_TALLY)?;
    txn.delete_table(CREATOR_TO_TALLY)?;
    {
        let mut table = txn.open_table(VOTER_TO_TALLY)?;
        for (voter, tally) in &recount.voters {
            table.insert(voter.as_str(), *tally)?;
        }
        let mut table = txn.open_table(CREATOR_TO_TALLY)?;
        for (creator, tally) in &recount.creators {
            table.insert(*creator, *tally)?;
        }
    }
    tracing::info!(
        votes = votes_read,
        voters = recount.voters.len(),
        creators = recount.creators.len(),
        "backfilled all-time tallies"
    );
    Ok(())
}

/// 1 → 2: each user's profile stats from their clips (uploaded, approved —
/// active or locked — and wins) and the UTC days of their counted votes (the
/// streak). Follows and notifications did not exist before version 2.
fn backfill_user_stats(txn: &WriteTransaction) -> Result<(), StoreError> {
    use super::records::encode_stats;
    use super::social::UserStats;
    use crate::domain::tournament::ClipStatus;
    let mut stats: HashMap<u64, UserStats> = HashMap::new();
    {
        let clips = txn.open_table(CLIP_ID_TO_CLIP)?;
        for entry in clips.iter()? {
            let (_, bytes) = entry?;
            let clip = records::clip_from_bytes(bytes.value())?;
            let user = stats.entry(clip.creator.get()).or_default();
            user.clips_uploaded += 1;
            user.approved_clips += u64::from(matches!(clip.status, ClipStatus::Active | ClipStatus::Locked));
            user.wins += u64::from(clip.status == ClipStatus::Locked);
        }
        // Vote ids increase with time, so days arrive in order per voter.
        let votes = txn.open_table(VOTE_ID_TO_VOTE)?;
        for entry in votes.iter()? {
            let (_, bytes) = entry?;
            let vote = records::vote_from_bytes(bytes.value())?;
            // As live: every vote cast made the day count for the streak;
            // revokes and voids never take a day back.
            if let Some(user) = vote.voter.user_id() {
                let user = stats.entry(user.get()).or_default();
                user.streak = user.streak.record_vote(vote.day);
                if vote.counts() {
                    match user.votes_day {
                        Some(day) if day == vote.day => user.votes_on_day += 1,
                        _ => (user.votes_day, user.votes_on_day) = (Some(vote.day), 1),
                    }
                }
            }
        }
    }
    let users = txn.open_table(USER_ID_TO_USER)?;
    let mut table = txn.open_table(USER_ID_TO_STATS)?;
    let mut written = 0usize;
    for (user, user_stats) in &stats {
        if users.get(*user)?.is_some() {
            table.insert(*user, encode_stats(user_stats).as_slice())?;
            written += 1;
        }
    }
    tracing::info!(users = written, "backfilled profile stats");
    Ok(())
}
