//! Storage: the only module that names redb types. Owns the table layout,
//! record encoding, the schema version, the single writer thread and the read
//! helpers. Handlers never see a table or a transaction.

pub mod backup;
mod check;
mod comments;
mod head_runs;
mod leaderboard;
mod legacy;
mod migrations;
pub mod records;
pub mod social;
pub mod tables;
mod tallies;
pub mod tally;
pub mod vote_layout;
pub mod writer;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use redb::{Database, ReadableDatabase, ReadableTable};

use crate::domain::clock::{Timestamp, UtcDay};
use crate::domain::ids::{ClipId, SeasonId, SlotPosition, UserId, VoterKey};
use crate::domain::ledger::SlotLedger;
use crate::domain::model::{AuditEntry, Clip, Season, Session, Slot, User, Vote};
use crate::domain::tournament::ClipStatus;
use crate::domain::vote::SpecialsUsed;
use head_runs::HeadRuns;
use tables::*;

pub use check::CheckReport;
pub use comments::{CommentPage, CommentThread, CommentView, MAX_REPLIES_SHOWN, ReportSubject};
pub use leaderboard::{EntryName, LeaderboardSnapshot};

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u64 = 5;

/// Errors from the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb failed (I/O, full disk, corruption it detected).
    #[error("database error: {0}")]
    Database(#[from] redb::Error),
    /// A stored record failed validation.
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt {
        /// Which kind of record.
        what: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The file was written by a newer build.
    #[error(
        "the database schema is version {found} but this build understands up to {SCHEMA_VERSION}; \
         run a newer aimoviez or restore a backup made by this version"
    )]
    NewerSchema {
        /// Version found in the file.
        found: u64,
    },
    /// The database is closed while the writer reopens it after an I/O
    /// error, and opening it again has not succeeded yet.
    #[error("the database is being reopened after a storage failure")]
    Reopening,
}

impl StoreError {
    /// Whether this is the storage failing (an I/O error such as a full disk,
    /// or redb refusing work after one) rather than a problem with the data.
    /// Such an error lasts until the database is reopened.
    pub fn is_storage_failure(&self) -> bool {
        match self {
            StoreError::Database(error) => {
                matches!(error, redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseClosed)
            }
            StoreError::Reopening => true,
            StoreError::Corrupt { .. } | StoreError::NewerSchema { .. } => false,
        }
    }
}

macro_rules! from_redb {
    ($($source:ty),+) => {
        $(impl From<$source> for StoreError {
            fn from(error: $source) -> Self {
                StoreError::Database(error.into())
            }
        })+
    };
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// Writes [`PROBE_BYTES`] to a file in `dir`, syncs and removes it: whether
/// the file system takes a batch's worth of writes again.
fn probe_directory(dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let path = dir.join(".aimoviez-storage-probe");
    let written = std::fs::File::create(&path).and_then(|mut file| {
        file.write_all(&vec![0u8; PROBE_BYTES])?;
        file.sync_all()
    });
    let removed = std::fs::remove_file(&path);
    written.and(removed)
}

/// Counts of one clip in one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClipCounter {
    /// Votes that count.
    pub vote_count: u64,
    /// Sum of their weights.
    pub weighted_score: u64,
}

/// A clip with its counts in the slot it competes in.
#[derive(Debug, Clone)]
pub struct CountedClip {
    /// The clip.
    pub clip: Clip,
    /// Its counts in its current slot.
    pub counter: ClipCounter,
    /// Its views.
    pub view_count: u64,
}

/// Everything the in-memory read model holds, as read at start-up or after a
/// structural change. Its size depends on the active season's slot count and
/// the open slot's clips, never on the number of votes.
#[derive(Debug, Clone, Default)]
pub struct ActiveSnapshot {
    /// The active season.
    pub season: Option<Season>,
    /// Its slots in order.
    pub slots: Vec<Slot>,
    /// Clips competing in the open slot.
    pub open_clips: Vec<CountedClip>,
    /// Winners of locked slots, by position.
    pub winners: BTreeMap<u32, CountedClip>,
    /// Stored feature flags.
    pub flags: HashMap<String, bool>,
    /// Published tallies of locked slots, by position.
    pub tallies: BTreeMap<u32, crate::domain::tally::FrozenTally>,
}

/// Votes per genre, and one voter's choice.
pub type GenreTallies = (Vec<(String, u64)>, Option<String>);

/// A between-seasons genre vote that a season's finish closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedGenreRound {
    /// The round's number (the first is 1).
    pub round: u64,
    /// The season whose finish closed it.
    pub closed_by: Option<SeasonId>,
    /// When.
    pub closed_at: Timestamp,
    /// Votes per genre that has any, by genre name.
    pub tallies: Vec<(String, u64)>,
}

/// The open genre round: `meta_keys::GENRE_ROUND`, 1 before any finish.
fn open_genre_round(meta: &impl ReadableTable<&'static str, u64>) -> Result<u64, StoreError> {
    Ok(meta.get(meta_keys::GENRE_ROUND)?.map(|v| v.value()).unwrap_or(1).max(1))
}

/// One round's tallies: the rows `(round, *)`.
fn round_tallies(
    counts: &impl ReadableTable<(u64, &'static str), u64>,
    round: u64,
) -> Result<Vec<(String, u64)>, StoreError> {
    let mut tallies = Vec::new();
    for entry in counts.range((round, "")..(round + 1, ""))? {
        let (key, count) = entry?;
        if count.value() > 0 {
            tallies.push((key.value().1.to_owned(), count.value()));
        }
    }
    Ok(tallies)
}

/// A season with each slot and its locked winner, in order.
pub type SeasonFilm = (Season, Vec<(Slot, Option<Clip>)>);

/// One voter's standing in one slot, for the feed and `remainingVotes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VoterSlotState {
    /// Clips this voter has a counted vote on in this slot.
    pub voted_clips: Vec<ClipId>,
    /// Special votes spent in this slot.
    pub specials_used: SpecialsUsed,
    /// Budget units spent today.
    pub spent_today: u32,
}

/// What [`Store::probe_writable`] writes: about what a large batch needs.
const PROBE_BYTES: usize = 1 << 20;

/// Opens the database file (again).
pub(crate) type Opener = Box<dyn Fn() -> Result<Database, redb::DatabaseError> + Send + Sync>;
/// Checks that the storage under the file takes writes (see [`Store::probe_writable`]).
pub(crate) type Prober = Box<dyn Fn() -> std::io::Result<()> + Send + Sync>;

/// The open database, which the writer may swap for a freshly opened one.
///
/// After an I/O error (a full disk, a failed fsync) redb refuses every later
/// transaction with `PreviousIo` until the `Database` is dropped and opened
/// again. So readers do not keep a `Database` of their own: each read
/// transaction starts from whatever handle is current, and
/// [`Store::reopen`] replaces it.
struct DatabaseSlot {
    /// `None` only while a reopen has closed the old handle and has not
    /// managed to open a new one.
    current: RwLock<Option<Arc<Database>>>,
    open: Opener,
    probe: Prober,
}

/// Handle to the open database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<DatabaseSlot>,
    /// Ledger heads not yet folded into `VOTER_TO_LEDGER` (see `head_runs`).
    heads: Arc<HeadRuns>,
    /// Read transactions begun, so tests and metrics can see which requests
    /// touch storage (an authenticated request must not).
    reads: Arc<AtomicU64>,
}

impl Store {
    /// Opens (or creates) the database file, repairs it quickly after a
    /// crash, and brings the schema up to date. An older file is first
    /// copied to `backups/pre-migration-v<N>-<timestamp>.redb` beside it.
    pub fn open(path: &Path, cache_size_bytes: usize) -> Result<Store, StoreError> {
        let file = path.to_owned();
        let open: Opener = Box::new(move || Database::builder().set_cache_size(cache_size_bytes).create(&file));
        let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
        let probe: Prober = Box::new(move || probe_directory(&dir));
        Store::open_with(open, probe, |db| {
            let Some(found) = migrations::upgrade_needed(&db)? else { return Ok(Some(db)) };
            // Closed first, so the copy is a clean file the previous build opens as is.
            db.close()?;
            let copy = migrations::backup_before_upgrade(path, found)?;
            tracing::warn!(
                path = %copy.display(),
                from = found,
                to = SCHEMA_VERSION,
                "copied the database before migrating it; restore by putting that file back with the previous build"
            );
            Ok(None)
        })
    }

    /// Opens the database with `open` (which the writer calls again to
    /// reopen it after an I/O error). `before_migrations` looks at the first
    /// handle and may close it (returning `None`) to be opened once more.
    pub(crate) fn open_with(
        open: Opener,
        probe: Prober,
        before_migrations: impl FnOnce(Database) -> Result<Option<Database>, StoreError>,
    ) -> Result<Store, StoreError> {
        let db = match before_migrations(open()?)? {
            Some(db) => db,
            None => open()?,
        };
        migrations::run(&db)?;
        let heads = Arc::new(HeadRuns::load(&db)?);
        let slot = DatabaseSlot { current: RwLock::new(Some(Arc::new(db))), open, probe };
        Ok(Store { db: Arc::new(slot), heads, reads: Arc::new(AtomicU64::new(0)) })
    }

    /// The current database handle.
    fn database(&self) -> Result<Arc<Database>, StoreError> {
        self.db.current.read().clone().ok_or(StoreError::Reopening)
    }

    fn read(&self) -> Result<redb::ReadTransaction, StoreError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(self.database()?.begin_read()?)
    }

    /// Checks that the file system under the database takes writes again
    /// (see [`probe_directory`]). The writer calls this before reopening after
    /// a storage failure, so that readers keep the old handle (and what its
    /// cache holds) while the disk is still full.
    pub(crate) fn probe_writable(&self) -> std::io::Result<()> {
        (self.db.probe)()
    }

    /// How many batches the writer has committed (see
    /// `meta_keys::COMMITTED_BATCHES`).
    pub(crate) fn committed_batches(&self) -> Result<u64, StoreError> {
        let txn = self.read()?;
        let meta = txn.open_table(META)?;
        Ok(meta.get(meta_keys::COMMITTED_BATCHES)?.map(|v| v.value()).unwrap_or(0))
    }

    /// Closes the database and opens its file again, so that work refused
    /// with `PreviousIo` after an I/O error can go on. Readers that start
    /// afterwards use the new handle; read transactions still running on the
    /// old one fail with `DatabaseClosed` (callers answer 503 and the client
    /// retries). Only the writer thread calls this, between batches, so no
    /// write transaction is open. If the file cannot be opened, the store
    /// stays closed (every read answers [`StoreError::Reopening`]) until a
    /// later call succeeds.
    pub(crate) fn reopen(&self) -> Result<(), StoreError> {
        let mut current = self.db.current.write();
        if let Some(mut old) = current.take() {
            // Readers clone the handle under the read lock and drop their
            // clone as soon as their transaction began, so with the write
            // lock held the count falls to one within microseconds.
            let deadline = Instant::now() + Duration::from_secs(5);
            let old = loop {
                match Arc::try_unwrap(old) {
                    Ok(db) => break db,
                    Err(shared) if Instant::now() < deadline => {
                        old = shared;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(shared) => {
                        *current = Some(shared);
                        return Err(StoreError::Reopening);
                    }
                }
            };
            // An error here is the same failure again (redb repairs the file
            // on the next open); closing still releases the file lock.
            if let Err(error) = old.close() {
                tracing::debug!(error = %error, "closing the failed database reported an error");
            }
        }
        let db = (self.db.open)()?;
        // The batch whose commit reported the error may have reached the
        // disk with its heads: what is held follows the file, not memory.
        self.heads.reload(&db)?;
        *current = Some(Arc::new(db));
        Ok(())
    }

    /// The ledger heads the writer has not folded into their table yet.
    fn head_runs(&self) -> &HeadRuns {
        &self.heads
    }

    /// Read transactions begun so far.
    pub fn read_count(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Every stored session with its user, for the in-memory registry at start.
    pub fn sessions_with_users(&self) -> Result<Vec<([u8; 32], Session, User)>, StoreError> {
        let txn = self.read()?;
        let sessions = txn.open_table(SESSION_HASH_TO_SESSION)?;
        let users = txn.open_table(USER_ID_TO_USER)?;
        let mut found = Vec::new();
        for entry in sessions.iter()? {
            let (hash, bytes) = entry?;
            let Ok(hash) = <[u8; 32]>::try_from(hash.value()) else { continue };
            let session = records::session_from_bytes(bytes.value())?;
            if let Some(user) = users.get(session.user.get())? {
                found.push((hash, session, records::user_from_bytes(user.value())?));
            }
        }
        Ok(found)
    }

    /// A user by id.
    pub fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let txn = self.read()?;
        let users = txn.open_table(USER_ID_TO_USER)?;
        users.get(id.get())?.map(|bytes| records::user_from_bytes(bytes.value())).transpose()
    }

    /// A user by (normalised) username.
    pub fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        let txn = self.read()?;
        let names = txn.open_table(USERNAME_TO_USER_ID)?;
        let Some(id) = names.get(username)?.map(|v| v.value()) else { return Ok(None) };
        let users = txn.open_table(USER_ID_TO_USER)?;
        users.get(id)?.map(|bytes| records::user_from_bytes(bytes.value())).transpose()
    }

    /// Users whose name starts with `prefix`, in name order, one page.
    pub fn users_by_prefix(&self, prefix: &str, limit: usize, offset: usize) -> Result<Vec<User>, StoreError> {
        let txn = self.read()?;
        let names = txn.open_table(USERNAME_TO_USER_ID)?;
        let users = txn.open_table(USER_ID_TO_USER)?;
        let mut page = Vec::new();
        for entry in names.range(prefix..)?.skip(offset) {
            let (name, id) = entry?;
            if !name.value().starts_with(prefix) || page.len() >= limit {
                break;
            }
            if let Some(bytes) = users.get(id.value())? {
                page.push(records::user_from_bytes(bytes.value())?);
            }
        }
        Ok(page)
    }

    /// Every vote a signed-in user cast, oldest first (for their export).
    pub fn votes_of_user(&self, user: UserId) -> Result<Vec<Vote>, StoreError> {
        let txn = self.read()?;
        let index = txn.open_table(USER_VOTE_TO_MEMBERSHIP)?;
        let votes = VoteReader::open(&txn)?;
        let mut found = Vec::new();
        for entry in index.range((user.get(), 0)..=(user.get(), u64::MAX))? {
            let (key, _) = entry?;
            if let Some(vote) = votes.by_id(key.value().1)? {
                found.push(vote);
            }
        }
        Ok(found)
    }

    /// Clips with a status, newest first, one page.
    pub fn clips_by_status(
        &self,
        status: ClipStatus,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<CountedClip>, bool), StoreError> {
        let txn = self.read()?;
        let index = txn.open_table(CLIP_STATUS_TO_MEMBERSHIP)?;
        let clips = txn.open_table(CLIP_ID_TO_CLIP)?;
        let counters = txn.open_table(SLOT_CLIP_TO_COUNTER)?;
        let tag = status.tag();
        let mut iter = index.range((tag, 0)..=(tag, u64::MAX))?.rev().skip(offset);
        let mut page = Vec::new();
        for entry in iter.by_ref().take(limit) {
            let (key, _) = entry?;
            if let Some(counted) = counted_clip(&clips, &counters, key.value().1)? {
                page.push(counted);
            }
        }
        Ok((page, iter.next().is_some()))
    }

    /// The clip change sequence (see `meta_keys::CLIP_CHANGE_SEQUENCE`).
    pub fn clip_change_sequence(&self) -> Result<u64, StoreError> {
        let txn = self.read()?;
        let meta = txn.open_table(META)?;
        Ok(meta.get(meta_keys::CLIP_CHANGE_SEQUENCE)?.map(|v| v.value()).unwrap_or(0))
    }

    /// Every approved (active or locked) clip, for rebuilding the search index.
    /// Reads all of them: used at start after a crash and by `reindex` only.
    pub fn approved_clips(&self, mut each: impl FnMut(Clip)) -> Result<u64, StoreError> {
        let txn = self.read()?;
        let index = txn.open_table(CLIP_STATUS_TO_MEMBERSHIP)?;
        let clips = txn.open_table(CLIP_ID_TO_CLIP)?;
        let mut count = 0;
        for status in [ClipStatus::Active, ClipStatus::Locked] {
            for entry in index.range((status.tag(), 0)..=(status.tag(), u64::MAX))? {
                let (key, _) = entry?;
                if let Some(bytes) = clips.get(key.value().1)? {
                    each(records::clip_from_bytes(bytes.value())?);
                    count += 1;
                }
            }
        }
        Ok(count)
    }

    /// Every clip that is not rejected (pending, active, locked), for the
    /// media access map at start. Reads all of them: start-up only.
    pub fn unrejected_clips(&self, mut each: impl FnMut(Clip)) -> Result<u64, StoreError> {
        let txn = self.read()?;
        let index = txn.open_table(CLIP_STATUS_TO_MEMBERSHIP)?;
        let clips = txn.open_table(CLIP_ID_TO_CLIP)?;
        let mut count = 0;
        for status in [ClipStatus::Pending, ClipStatus::Active, ClipStatus::Locked] {
            for entry in index.range((status.tag(), 0)..=(status.tag(), u64::MAX))? {
                let (key, _) = entry?;
                if let Some(bytes) = clips.get(key.value().1)? {
                    each(records::clip_from_bytes(bytes.value())?);
                    count += 1;
                }
            }
        }
        Ok(count)
    }

    /// A creator's clips, newest first, one page.
    pub fn clips_of_user(
        &self,
        user: UserId,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<CountedClip>, bool), StoreError> {
        let txn = self.read()?;
        let index = txn.open_table(USER_CLIP_TO_MEMBERSHIP)?;
        let clips = txn.open_table(CLIP_ID_TO_CLIP)?;
        let counters = txn.open_table(SLOT_CLIP_TO_COUNTER)?;
        let mut iter = index.range((user.get(), 0)..=(user.get(), u64::MAX))?.rev().skip(offset);
        let mut page = Vec::new();
        for entry in iter.by_ref().take(limit) {
            let (key, _) = entry?;
            if let Some(counted) = counted_clip(&clips, &counters, key.value().1)? {
                page.push(counted);
            }
        }
        Ok((page, iter.next().is_some()))
    }

    /// Every season, newest first (a community makes a handful a year).
    pub fn seasons(&self) -> Result<Vec<Season>, StoreError> {
        let txn = self.read()?;
        let seasons = txn.open_table(SEASON_ID_TO_SEASON)?;
        let mut all = Vec::new();
        for entry in seasons.iter()?.rev() {
            let (_, bytes) = entry?;
            all.push(records::season_from_bytes(bytes.value())?);
        }
        Ok(all)
    }

    /// A season's slots with their winners (for the film player).
    pub fn season_film(&self, season: SeasonId) -> Result<Option<SeasonFilm>, StoreError> {
        let txn = self.read()?;
        let seasons = txn.open_table(SEASON_ID_TO_SEASON)?;
        let Some(bytes) = seasons.get(season.get())? else { return Ok(None) };
        let found = records::season_from_bytes(bytes.value())?;
        let slots = txn.open_table(SLOT_TO_SLOT)?;
        let clips = txn.open_table(CLIP_ID_TO_CLIP)?;
        let mut film = Vec::new();
        for entry in slots.range((season.get(), 0)..=(season.get(), u32::MAX))? {
            let (_, bytes) = entry?;
            let slot = records::slot_from_bytes(bytes.value())?;
            let winner = match slot.winner {
                Some(id) => clips.get(id.get())?.map(|b| records::clip_from_bytes(b.value())).transpose()?,
                None => None,
            };
            film.push((slot, winner));
        }
        Ok(Some((found, film)))
    }

    /// The open genre round's tallies and one voter's choice in it: one
    /// range of at most as many rows as there are genres, and one key.
    pub fn genre_tallies(&self, voter: &str) -> Result<GenreTallies, StoreError> {
        let txn = self.read()?;
        let round = open_genre_round(&txn.open_table(META)?)?;
        let tallies = round_tallies(&txn.open_table(GENRE_ROUND_GENRE_TO_COUNT)?, round)?;
        let mine = txn.open_table(GENRE_ROUND_VOTER_TO_GENRE)?.get((round, voter))?.map(|v| v.value().to_owned());
        Ok((tallies, mine))
    }

    /// The closed genre rounds, newest first, at most `limit`, each with its
    /// tallies.
    pub fn closed_genre_rounds(&self, limit: usize) -> Result<Vec<ClosedGenreRound>, StoreError> {
        let txn = self.read()?;
        let closings = txn.open_table(GENRE_ROUND_TO_CLOSING)?;
        let counts = txn.open_table(GENRE_ROUND_GENRE_TO_COUNT)?;
        let mut rounds = Vec::new();
        for entry in closings.iter()?.rev().take(limit) {
            let (round, closing) = entry?;
            let (round, (season, closed_at)) = (round.value(), closing.value());
            rounds.push(ClosedGenreRound {
                round,
                closed_by: SeasonId::new(season),
                closed_at: Timestamp::from_millis(closed_at),
                tallies: round_tallies(&counts, round)?,
            });
        }
        Ok(rounds)
    }

    /// Flagged votes awaiting review, newest first, one page.
    pub fn flagged_votes(&self, limit: usize, offset: usize) -> Result<(Vec<Vote>, bool), StoreError> {
        let txn = self.read()?;
        let flagged = txn.open_table(FLAGGED_VOTE_TO_MEMBERSHIP)?;
        let votes = VoteReader::open(&txn)?;
        let mut page = Vec::new();
        let mut iter = flagged.iter()?.rev().skip(offset);
        for entry in iter.by_ref().take(limit) {
            let (id, _) = entry?;
            if let Some(vote) = votes.by_id(id.value())? {
                page.push(vote);
            }
        }
        Ok((page, iter.next().is_some()))
    }

    /// Calls `visit` with the votes cast in a slot, in vote-id order, from
    /// vote id `from` on, until it returns `false`: one range read of the
    /// slot's part of `SLOT_VOTE_TO_VOTE`, whatever state the votes are in.
    pub fn visit_slot_votes(
        &self,
        season: SeasonId,
        position: SlotPosition,
        from: u64,
        mut visit: impl FnMut(Vote) -> bool,
    ) -> Result<(), StoreError> {
        let txn = self.read()?;
        let votes = txn.open_table(SLOT_VOTE_TO_VOTE)?;
        for entry in votes.range((season.get(), position.get(), from)..=(season.get(), position.get(), u64::MAX))? {
            let (key, bytes) = entry?;
            if !visit(vote_layout::decode_vote(key.value(), bytes.value())?) {
                break;
            }
        }
        Ok(())
    }

    /// Audit entries, newest first, one page.
    pub fn audit_log(&self, limit: usize, offset: usize) -> Result<(Vec<AuditEntry>, bool), StoreError> {
        let txn = self.read()?;
        let audit = txn.open_table(AUDIT_ID_TO_ENTRY)?;
        let mut page = Vec::new();
        let mut iter = audit.iter()?.rev().skip(offset);
        for entry in iter.by_ref().take(limit) {
            let (_, bytes) = entry?;
            page.push(records::audit_from_bytes(bytes.value())?);
        }
        Ok((page, iter.next().is_some()))
    }

    /// Reads what the read model needs: the active season, its slots, the
    /// open slot's clips with counts, the winners and the flags.
    pub fn active_snapshot(&self) -> Result<ActiveSnapshot, StoreError> {
        let txn = self.read()?;
        let meta = txn.open_table(META)?;
        let mut snapshot = ActiveSnapshot::default();
        let flags = txn.open_table(FLAG_TO_ENABLED)?;
        for entry in flags.iter()? {
            let (key, enabled) = entry?;
            snapshot.flags.insert(key.value().to_owned(), enabled.value());
        }
        let Some(season_id) = meta.get(meta_keys::ACTIVE_SEASON)?.map(|v| v.value()).and_then(SeasonId::new) else {
            return Ok(snapshot);
        };
        let seasons = txn.open_table(SEASON_ID_TO_SEASON)?;
        let Some(season) = seasons.get(season_id.get())? else {
            return Ok(snapshot);
        };
        snapshot.season = Some(records::season_from_bytes(season.value())?);
        let slots = txn.open_table(SLOT_TO_SLOT)?;
        for entry in slots.range((season_id.get(), 0)..=(season_id.get(), u32::MAX))? {
            let (_, bytes) = entry?;
            snapshot.slots.push(records::slot_from_bytes(bytes.value())?);
        }
        for head in tally::tally_heads_in(&txn.open_table(SLOT_TO_TALLY_HEAD)?, season_id)? {
            snapshot.tallies.insert(head.position.get(), head);
        }
        let clips = txn.open_table(CLIP_ID_TO_CLIP)?;
        let counters = txn.open_table(SLOT_CLIP_TO_COUNTER)?;
        let views = txn.open_table(CLIP_ID_TO_VIEWS)?;
        let membership = txn.open_table(SLOT_CLIP_TO_MEMBERSHIP)?;
        let load = |clip_id: u64, position: u32| -> Result<Option<CountedClip>, StoreError> {
            let Some(bytes) = clips.get(clip_id)? else { return Ok(None) };
            let clip = records::clip_from_bytes(bytes.value())?;
            let (vote_count, weighted_score) =
                counters.get((season_id.get(), position, clip_id))?.map(|v| v.value()).unwrap_or((0, 0));
            let view_count = views.get(clip_id)?.map(|v| v.value()).unwrap_or(0);
            Ok(Some(CountedClip { clip, counter: ClipCounter { vote_count, weighted_score }, view_count }))
        };
        for slot in &snapshot.slots {
            if let Some(winner) = slot.winner
                && let Some(counted) = load(winner.get(), slot.position.get())?
            {
                snapshot.winners.insert(slot.position.get(), counted);
            }
        }
        let open = snapshot.slots.iter().find(|slot| {
            matches!(
                slot.status,
                crate::domain::tournament::SlotStatus::Voting | crate::domain::tournament::SlotStatus::WaitingForClips
            )
        });
        if let Some(open) = open {
            let position = open.position.get();
            let range = (season_id.get(), position, 0)..=(season_id.get(), position, u64::MAX);
            for entry in membership.range(range)? {
                let (key, _) = entry?;
                let (_, _, clip_id) = key.value();
                if let Some(counted) = load(clip_id, position)?
                    && counted.clip.status == crate::domain::tournament::ClipStatus::Active
                {
                    snapshot.open_clips.push(counted);
                }
            }
        }
        Ok(snapshot)
    }

    /// This voter's votes, specials and spending in one slot and day: their
    /// ledger head, and their facts apart when the slot is not the head's.
    pub fn voter_slot_state(
        &self,
        voter: &VoterKey,
        season: SeasonId,
        position: SlotPosition,
        today: UtcDay,
    ) -> Result<VoterSlotState, StoreError> {
        let key = vote_layout::voter_bytes(voter);
        // What is held first, then the transaction: see `head_runs`.
        let (held, applied_through) = self.heads.held_for_reader(&key)?;
        let txn = self.read()?;
        let head = head_runs::newest_head(&txn, &key, held, applied_through)?.unwrap_or_default();
        let slot = (season.get(), position.get());
        let ledger = if head.slot == Some(slot) {
            head.current
        } else {
            match txn.open_table(SLOT_VOTER_TO_LEDGER)?.get((slot.0, slot.1, &key))? {
                Some(bytes) => vote_layout::decode_slot_ledger(bytes.value())?,
                None => SlotLedger::default(),
            }
        };
        Ok(VoterSlotState {
            voted_clips: ledger.voted_clips(),
            specials_used: ledger.specials,
            spent_today: head.budget.spent_on(today),
        })
    }

    /// One clip with its counts in its current slot.
    pub fn clip(&self, id: ClipId) -> Result<Option<CountedClip>, StoreError> {
        let txn = self.read()?;
        let clips = txn.open_table(CLIP_ID_TO_CLIP)?;
        let Some(bytes) = clips.get(id.get())? else { return Ok(None) };
        let clip = records::clip_from_bytes(bytes.value())?;
        let counters = txn.open_table(SLOT_CLIP_TO_COUNTER)?;
        let (vote_count, weighted_score) =
            counters.get((clip.season.get(), clip.slot_position.get(), id.get()))?.map(|v| v.value()).unwrap_or((0, 0));
        let views = txn.open_table(CLIP_ID_TO_VIEWS)?;
        let view_count = views.get(id.get())?.map(|v| v.value()).unwrap_or(0);
        Ok(Some(CountedClip { clip, counter: ClipCounter { vote_count, weighted_score }, view_count }))
    }
}

/// The run of `VOTE_RUN_TO_SLOT` a vote id falls in: (its first id, the
/// slot). `None` when no vote was ever cast.
pub(crate) fn slot_of_vote(
    runs: &impl ReadableTable<u64, (u64, u32)>,
    id: u64,
) -> Result<Option<(u64, vote_layout::SlotKey)>, StoreError> {
    match runs.range(..=id)?.next_back() {
        Some(entry) => {
            let (first, slot) = entry?;
            Ok(Some((first.value(), slot.value())))
        }
        None => Ok(None),
    }
}

/// Finds votes by id inside one read transaction: the run gives the slot,
/// the slot and id give the key.
struct VoteReader {
    runs: redb::ReadOnlyTable<u64, (u64, u32)>,
    votes: redb::ReadOnlyTable<(u64, u32, u64), &'static vote_layout::VoteBytes>,
}

impl VoteReader {
    fn open(txn: &redb::ReadTransaction) -> Result<Self, StoreError> {
        Ok(VoteReader { runs: txn.open_table(VOTE_RUN_TO_SLOT)?, votes: txn.open_table(SLOT_VOTE_TO_VOTE)? })
    }

    fn by_id(&self, id: u64) -> Result<Option<Vote>, StoreError> {
        let Some((_, slot)) = slot_of_vote(&self.runs, id)? else { return Ok(None) };
        let key = (slot.0, slot.1, id);
        self.votes.get(key)?.map(|bytes| vote_layout::decode_vote(key, bytes.value())).transpose()
    }
}

/// A clip with its counts in its current slot (views are not read here).
fn counted_clip(
    clips: &impl ReadableTable<u64, &'static [u8]>,
    counters: &impl ReadableTable<(u64, u32, u64), (u64, u64)>,
    id: u64,
) -> Result<Option<CountedClip>, StoreError> {
    let Some(bytes) = clips.get(id)? else { return Ok(None) };
    let clip = records::clip_from_bytes(bytes.value())?;
    let (vote_count, weighted_score) = counters
        .get((clip.season.get(), clip.slot_position.get(), clip.id.get()))?
        .map(|v| v.value())
        .unwrap_or((0, 0));
    Ok(Some(CountedClip { clip, counter: ClipCounter { vote_count, weighted_score }, view_count: 0 }))
}
