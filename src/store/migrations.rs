//! Schema version check and migrations, run once at open inside one write
//! transaction, so an upgrade either completes or leaves the file untouched.
//! Before an older file is migrated, `Store::open` copies it aside (see
//! [`backup_before_upgrade`]), so the previous build can still open the copy.
//!
//! History:
//! - 1: the first released layout.
//! - 2: all-time tallies `voter_to_tally` and `CREATOR_TO_TALLY`; profiles,
//!   follows and notifications, with each user's stats (clips, approvals,
//!   wins, voting streak) backfilled from the clips and votes.
//! - 3: the compact vote layout (issue #16) and ledgers per (voter, slot)
//!   (issue #14): votes move from `vote_id_to_vote` (rkyv, by id) plus
//!   `slot_vote_to_membership` to `SLOT_VOTE_TO_VOTE` (fixed bytes, keyed by
//!   slot and id) with `VOTE_RUN_TO_SLOT`; every voter's ledger is rebuilt
//!   from the votes, for every slot they voted in; the all-time tallies keep
//!   signed-in voters only (`USER_ID_TO_VOTE_TALLY`) and are recounted with
//!   the creators'; the per-day leaderboard scores are recounted for the
//!   window the boards restore. The tables of schema 2 are dropped.
//! - 4: the genre vote in rounds (issue #14): each season's finish closes
//!   the open round and opens the next, empty. Schema 3's one never-reset
//!   vote becomes round 1, the open round; its tables are dropped.
//! - 5: ledger heads by way of runs (issue #16): a batch appends the heads
//!   it changed to `LEDGER_RUN_TO_HEADS` and folds them into
//!   `VOTER_TO_LEDGER` later (`head_runs`). Nothing to rewrite; the table
//!   is created empty.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use redb::{Database, Key, ReadableDatabase, ReadableTable, TableDefinition, Value, WriteTransaction};

use super::tables::*;
use super::tallies::TallyRecount;
use super::vote_layout::{self, LedgerHead, SlotKey, VoterBytes};
use super::{SCHEMA_VERSION, StoreError, legacy, records};
use crate::domain::clock::{Timestamp, UtcDay};
use crate::domain::leaderboard::restore_window_start;
use crate::domain::ledger::{DayBudget, LedgerVote, SlotLedger};
use crate::domain::model::VoteState;
use crate::domain::vote::VoteType;

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
            let today = Timestamp::now().utc_day();
            for version in older..SCHEMA_VERSION {
                migrate_from(&txn, version, today)?;
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
fn migrate_from(txn: &WriteTransaction, version: u64, today: UtcDay) -> Result<(), StoreError> {
    match version {
        // The tallies schema 2 added are recounted by the step to 3.
        1 => backfill_user_stats(txn),
        2 => compact_votes(txn, today),
        3 => genre_vote_into_rounds(txn),
        // Schema 5 adds `LEDGER_RUN_TO_HEADS`, created empty with the other
        // tables: every head of a schema-4 file is already at its key. The
        // version still moves so that a schema-4 build refuses a file whose
        // newest heads it would not read.
        _ => Ok(()),
    }
}

/// 3 → 4: schema 3's genre votes and tallies become round 1 (the open
/// round: `meta_keys::GENRE_ROUND` stays unset until a season finishes).
fn genre_vote_into_rounds(txn: &WriteTransaction) -> Result<(), StoreError> {
    {
        let old_votes = txn.open_table(legacy::GENRE_VOTER_TO_GENRE)?;
        let old_counts = txn.open_table(legacy::GENRE_TO_COUNT)?;
        let mut votes = txn.open_table(GENRE_ROUND_VOTER_TO_GENRE)?;
        let mut counts = txn.open_table(GENRE_ROUND_GENRE_TO_COUNT)?;
        for entry in old_votes.iter()? {
            let (voter, genre) = entry?;
            votes.insert((1, voter.value()), genre.value())?;
        }
        for entry in old_counts.iter()? {
            let (genre, count) = entry?;
            counts.insert((1, genre.value()), count.value())?;
        }
    }
    txn.delete_table(legacy::GENRE_VOTER_TO_GENRE)?;
    txn.delete_table(legacy::GENRE_TO_COUNT)?;
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
        let votes = txn.open_table(legacy::VOTE_ID_TO_VOTE)?;
        for entry in votes.iter()? {
            let (_, bytes) = entry?;
            let vote = legacy::vote_from_bytes(bytes.value())?;
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

/// One voter's ledger as the step to 3 rebuilds it from their votes.
#[derive(Default)]
struct RebuiltLedger {
    budget: DayBudget,
    /// The slot of their latest vote: the head's.
    head: Option<SlotKey>,
    slots: HashMap<SlotKey, SlotLedger>,
}

/// 2 → 3: every vote rewritten in the compact layout under its slot, the
/// runs of `VOTE_RUN_TO_SLOT`, every ledger rebuilt per (voter, slot), the
/// tallies and day scores recounted; then schema 2's vote tables dropped.
/// The same rules as the writer and `check`, so a migrated file checks clean.
fn compact_votes(txn: &WriteTransaction, today: UtcDay) -> Result<(), StoreError> {
    let days_from = restore_window_start(today).number();
    let mut tallies = TallyRecount::from_day(days_from);
    let mut ledgers: HashMap<VoterBytes, RebuiltLedger> = HashMap::new();
    let mut votes_moved = 0u64;
    {
        let old = txn.open_table(legacy::VOTE_ID_TO_VOTE)?;
        let clips = txn.open_table(CLIP_ID_TO_CLIP)?;
        let mut votes = txn.open_table(SLOT_VOTE_TO_VOTE)?;
        let mut runs = txn.open_table(VOTE_RUN_TO_SLOT)?;
        let mut last_slot: Option<SlotKey> = None;
        // Vote ids increase in cast order, so each voter's votes arrive oldest first.
        for entry in old.iter()? {
            let (_, bytes) = entry?;
            let vote = legacy::vote_from_bytes(bytes.value())?;
            let slot = (vote.season.get(), vote.position.get());
            votes.insert(vote_layout::vote_key(&vote), &vote_layout::encode_vote(&vote)?)?;
            if last_slot != Some(slot) {
                runs.insert(vote.id.get(), slot)?;
                last_slot = Some(slot);
            }
            tallies.add(&vote, &clips)?;
            let ledger = ledgers.entry(vote_layout::voter_bytes(&vote.voter)).or_default();
            ledger.head = Some(slot);
            if ledger.budget.day.is_none_or(|day| vote.day > day) {
                ledger.budget = DayBudget { day: Some(vote.day), spent: 0 };
            }
            if vote.spends_budget() && ledger.budget.day == Some(vote.day) {
                ledger.budget.spent += vote.weight;
            }
            let facts = ledger.slots.entry(slot).or_default();
            if vote.counts() {
                facts.record(LedgerVote { clip: vote.clip, vote: vote.id, vote_type: vote.vote_type });
            } else if vote.state == VoteState::Voided && vote.vote_type != VoteType::Standard {
                facts.specials = facts.specials.with(vote.vote_type, true);
            }
            votes_moved += 1;
        }
    }
    txn.delete_table(legacy::VOTE_ID_TO_VOTE)?;
    txn.delete_table(legacy::VOTER_TO_LEDGER)?;
    txn.delete_table(legacy::SLOT_VOTE_TO_MEMBERSHIP)?;
    txn.delete_table(legacy::VOTER_TO_TALLY)?;
    {
        let mut heads = txn.open_table(VOTER_TO_LEDGER)?;
        let mut apart = txn.open_table(SLOT_VOTER_TO_LEDGER)?;
        for (voter, mut ledger) in ledgers {
            let current = ledger.head.and_then(|slot| ledger.slots.remove(&slot)).unwrap_or_default();
            let head = LedgerHead { budget: ledger.budget, slot: ledger.head, current };
            heads.insert(&voter, vote_layout::encode_head(&head).as_slice())?;
            for (slot, facts) in ledger.slots.iter().filter(|(_, facts)| !facts.is_empty()) {
                apart.insert((slot.0, slot.1, &voter), vote_layout::encode_slot_ledger(facts).as_slice())?;
            }
        }
    }
    txn.delete_table(CREATOR_TO_TALLY)?;
    {
        let mut users = txn.open_table(USER_ID_TO_VOTE_TALLY)?;
        for (user, tally) in &tallies.users {
            users.insert(*user, *tally)?;
        }
        let mut creators = txn.open_table(CREATOR_TO_TALLY)?;
        for (creator, tally) in &tallies.creators {
            creators.insert(*creator, *tally)?;
        }
        let mut days = txn.open_table(DAY_ENTRY_TO_SCORE)?;
        for (key, score) in &tallies.days {
            days.insert(*key, *score)?;
        }
        txn.open_table(META)?.insert(meta_keys::DAY_SCORES_KEPT_FROM, u64::from(days_from))?;
    }
    tracing::info!(votes = votes_moved, "moved votes to the compact layout and rebuilt every ledger per slot");
    Ok(())
}

#[cfg(test)]
mod tests {
    use redb::{Database, ReadableDatabase, TableHandle};

    use super::*;
    use crate::store::Store;

    #[test]
    fn schema_3_genre_votes_become_the_open_round_1() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("aimoviez.redb");
        {
            // A schema-3 file as that build wrote it: every table, then its genre vote.
            let db = Database::create(&path).expect("create");
            run(&db).expect("current tables");
            let txn = db.begin_write().expect("write");
            txn.delete_table(GENRE_ROUND_VOTER_TO_GENRE).expect("drop");
            txn.delete_table(GENRE_ROUND_GENRE_TO_COUNT).expect("drop");
            txn.delete_table(GENRE_ROUND_TO_CLOSING).expect("drop");
            txn.open_table(META).expect("meta").insert(meta_keys::SCHEMA_VERSION, 3).expect("version");
            {
                let mut votes = txn.open_table(legacy::GENRE_VOTER_TO_GENRE).expect("votes");
                votes.insert("d:aa", "drama").expect("insert");
                votes.insert("u:7", "drama").expect("insert");
                votes.insert("u:8", "horror").expect("insert");
                let mut counts = txn.open_table(legacy::GENRE_TO_COUNT).expect("counts");
                counts.insert("drama", 2).expect("insert");
                counts.insert("horror", 1).expect("insert");
            }
            txn.commit().expect("commit");
        }
        let store = Store::open(&path, 1 << 20).expect("migrates");
        let (tallies, mine) = store.genre_tallies("u:8").expect("tallies");
        assert_eq!(tallies, vec![("drama".to_owned(), 2), ("horror".to_owned(), 1)]);
        assert_eq!(mine.as_deref(), Some("horror"));
        assert!(store.closed_genre_rounds(10).expect("rounds").is_empty(), "round 1 is still open");
        drop(store);
        let db = Database::open(&path).expect("open");
        let txn = db.begin_read().expect("read");
        let names: Vec<String> = txn.list_tables().expect("tables").map(|t| t.name().to_owned()).collect();
        assert!(!names.iter().any(|name| name == "genre_voter_to_genre" || name == "genre_to_count"), "{names:?}");
    }
}
