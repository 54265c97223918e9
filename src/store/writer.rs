//! The single writer: one thread owns every write transaction.
//!
//! Handlers send commands over a bounded channel with a oneshot reply. The
//! thread takes whatever is queued (up to `batch_max`), applies the commands
//! in arrival order inside ONE write transaction — the authoritative rule
//! checks run here, so concurrent requests cannot race — commits with
//! `Durability::Immediate`, and only then answers each command and tells the
//! read model what changed. Per-(slot, clip) counters and per-(voter, day)
//! budgets are aggregated in memory during the batch and written once at its
//! end, so a clip receiving 5,000 votes in one batch costs one counter write.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Instant;

use redb::{Database, Durability, ReadableTable, Table, WriteTransaction};
use tokio::sync::oneshot;

use super::records::{self, ClipRecord, LedgerRecord, SeasonRecord, SlotRecord, UserRecord, VoteRecord};
use super::tables::*;
use super::{ClipCounter, Store, StoreError};
use crate::domain::clock::{Timestamp, UtcDay};
use crate::domain::ids::{ClipId, SeasonId, SlotPosition, UserId, VoteId, VoterKey};
use crate::domain::ledger::{LedgerVote, VoterLedger};
use crate::domain::model::{Clip, Season, Slot, User, Vote, VoteState};
use crate::domain::tournament::{ClipStatus, SeasonStatus, SlotStatus};
use crate::domain::vote::{self, CastFacts, OpenSlot, SpecialsUsed, TargetClip, VoteRefusal, VoteType, VotingFlags};

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A rule refused it; nothing was written.
    #[error(transparent)]
    Refused(#[from] VoteRefusal),
    /// The queue is full, the writer stopped, or the batch failed to commit
    /// (nothing of it was stored); the client may retry.
    #[error("the writer is busy or stopped")]
    Unavailable,
}

/// The result of a cast or revoke, as committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoteOutcome {
    /// The clip voted on.
    pub clip: ClipId,
    /// The kind of the vote cast or revoked.
    pub vote_type: VoteType,
    /// The clip's counts in the slot after this command.
    pub counter: ClipCounter,
    /// The voter's spending today after this command.
    pub spent_today: u32,
    /// The voter's specials in this slot after this command.
    pub specials_used: SpecialsUsed,
}

/// A clip to create when seeding a demo season.
#[derive(Debug, Clone)]
pub struct SeedClip {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Genre.
    pub genre: String,
    /// Index into [`DemoSeed::creators`].
    pub creator: usize,
    /// Video path under the media root.
    pub video_path: String,
    /// Poster path under the media root.
    pub poster_path: String,
    /// Duration.
    pub duration_ms: u32,
}

/// An active season with approved clips in its first slot.
#[derive(Debug, Clone)]
pub struct DemoSeed {
    /// Season title.
    pub title: String,
    /// Season genre.
    pub genre: String,
    /// Season description.
    pub description: String,
    /// Number of slots.
    pub total_slots: u32,
    /// Voting window per slot.
    pub slot_duration_secs: u64,
    /// Usernames of the demo creators.
    pub creators: Vec<String>,
    /// Clips for slot 1.
    pub clips: Vec<SeedClip>,
}

/// What a committed batch changed, for the read model.
#[derive(Debug, Clone)]
pub enum CommittedEvent {
    /// A clip's counts in a slot changed.
    Counter {
        /// The clip.
        clip: ClipId,
        /// Its slot.
        position: SlotPosition,
        /// Its new counts.
        counter: ClipCounter,
    },
    /// Seasons, slots or clips changed shape; reload the snapshot.
    StructureChanged,
    /// A feature flag changed.
    FlagChanged {
        /// The flag.
        key: String,
        /// Its new value.
        enabled: bool,
    },
}

/// Receives every committed batch's events, on the writer thread, after commit.
pub type CommitListener = Box<dyn Fn(&[CommittedEvent]) + Send>;

type Reply<T> = oneshot::Sender<Result<T, WriteError>>;

enum Command {
    Cast { voter: VoterKey, clip: ClipId, vote_type: VoteType, reply: Reply<VoteOutcome> },
    Revoke { voter: VoterKey, clip: ClipId, reply: Reply<VoteOutcome> },
    SeedDemo { seed: Box<DemoSeed>, reply: Reply<bool> },
    SetFlag { key: String, enabled: bool, reply: Reply<()> },
    Shutdown,
}

/// Settings of the writer thread.
#[derive(Clone)]
pub struct WriterSettings {
    /// Most commands applied in one transaction.
    pub batch_max: usize,
    /// Commands that may wait; beyond this callers get `Unavailable`.
    pub queue_capacity: usize,
    /// Daily vote budget in weight units.
    pub daily_budget: u32,
    /// The clock; tests move it.
    pub clock: Arc<dyn Fn() -> Timestamp + Send + Sync>,
}

/// Counters describing the writer's work, for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Transactions committed.
    pub batches: AtomicU64,
    /// Commands applied.
    pub commands: AtomicU64,
    /// Sum of commit durations in microseconds.
    pub commit_micros: AtomicU64,
    /// Largest batch so far.
    pub max_batch: AtomicU64,
}

/// Sends commands to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct WriterHandle {
    sender: SyncSender<Command>,
    stats: Arc<WriterStats>,
}

/// Owns the writer thread; `stop` drains the queue and joins it.
pub struct WriterThread {
    sender: SyncSender<Command>,
    join: Option<JoinHandle<()>>,
}

impl WriterThread {
    /// Asks the writer to finish what is queued, commit, and exit; waits for it.
    pub fn stop(mut self) {
        // A full queue still drains: the blocking send waits for room.
        let _ = self.sender.send(Command::Shutdown);
        if let Some(join) = self.join.take()
            && join.join().is_err()
        {
            tracing::error!("writer thread panicked during shutdown");
        }
    }
}

/// Starts the writer thread on an open store.
pub fn start(
    store: &Store,
    settings: WriterSettings,
    listener: CommitListener,
) -> std::io::Result<(WriterHandle, WriterThread)> {
    let (sender, receiver) = sync_channel(settings.queue_capacity);
    let stats = Arc::new(WriterStats::default());
    let worker = Worker { db: store.db.clone(), settings, listener, stats: stats.clone() };
    let join = std::thread::Builder::new().name("aimoviez-writer".into()).spawn(move || worker.run(receiver))?;
    Ok((WriterHandle { sender: sender.clone(), stats }, WriterThread { sender, join: Some(join) }))
}

impl WriterHandle {
    async fn submit<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, WriteError> {
        let (reply, answer) = oneshot::channel();
        match self.sender.try_send(make(reply)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => return Err(WriteError::Unavailable),
        }
        answer.await.unwrap_or(Err(WriteError::Unavailable))
    }

    /// Casts a vote; answers after it is durable.
    pub async fn cast_vote(
        &self,
        voter: VoterKey,
        clip: ClipId,
        vote_type: VoteType,
    ) -> Result<VoteOutcome, WriteError> {
        self.submit(|reply| Command::Cast { voter, clip, vote_type, reply }).await
    }

    /// Revokes the voter's latest vote on a clip; answers after it is durable.
    pub async fn revoke_vote(&self, voter: VoterKey, clip: ClipId) -> Result<VoteOutcome, WriteError> {
        self.submit(|reply| Command::Revoke { voter, clip, reply }).await
    }

    /// Seeds the demo season once; `Ok(false)` when it was already seeded or
    /// another season is active.
    pub async fn seed_demo(&self, seed: DemoSeed) -> Result<bool, WriteError> {
        self.submit(|reply| Command::SeedDemo { seed: Box::new(seed), reply }).await
    }

    /// Stores a feature flag.
    pub async fn set_flag(&self, key: String, enabled: bool) -> Result<(), WriteError> {
        self.submit(|reply| Command::SetFlag { key, enabled, reply }).await
    }

    /// The writer's work so far.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }
}

struct Worker {
    db: Arc<Database>,
    settings: WriterSettings,
    listener: CommitListener,
    stats: Arc<WriterStats>,
}

/// A command's reply waiting for the commit.
enum PendingReply {
    Vote(Reply<VoteOutcome>, Result<VoteOutcome, VoteRefusal>),
    Seed(Reply<bool>, bool),
    Flag(Reply<()>),
}

impl Worker {
    fn run(self, receiver: Receiver<Command>) {
        let mut stopping = false;
        while !stopping {
            let Ok(first) = receiver.recv() else { break };
            let mut commands = vec![first];
            while commands.len() < self.settings.batch_max {
                match receiver.try_recv() {
                    Ok(command) => commands.push(command),
                    Err(_) => break,
                }
            }
            if commands.iter().any(|c| matches!(c, Command::Shutdown)) {
                stopping = true;
                // Commands queued behind the shutdown marker are still
                // answered: everything already accepted gets committed.
                while let Ok(command) = receiver.try_recv() {
                    commands.push(command);
                }
            }
            self.run_batch(commands);
        }
        tracing::info!("writer stopped");
    }

    fn run_batch(&self, commands: Vec<Command>) {
        let count = commands.iter().filter(|c| !matches!(c, Command::Shutdown)).count() as u64;
        if count == 0 {
            return;
        }
        let now = (self.settings.clock)();
        let mut pending = Vec::with_capacity(commands.len());
        let mut events = Vec::new();
        let started = Instant::now();
        let result = self.apply_and_commit(commands, now, &mut pending, &mut events);
        let commit_micros = started.elapsed().as_micros() as u64;
        match result {
            Ok(()) => {
                self.stats.batches.fetch_add(1, Ordering::Relaxed);
                self.stats.commands.fetch_add(count, Ordering::Relaxed);
                self.stats.commit_micros.fetch_add(commit_micros, Ordering::Relaxed);
                self.stats.max_batch.fetch_max(count, Ordering::Relaxed);
                // The read model learns of the batch before any client does,
                // so a client that got "yes" sees its vote on the next read.
                (self.listener)(&events);
                for reply in pending {
                    match reply {
                        PendingReply::Vote(tx, outcome) => {
                            let _ = tx.send(outcome.map_err(WriteError::Refused));
                        }
                        PendingReply::Seed(tx, seeded) => {
                            let _ = tx.send(Ok(seeded));
                        }
                        PendingReply::Flag(tx) => {
                            let _ = tx.send(Ok(()));
                        }
                    }
                }
            }
            Err(error) => {
                // Dropping the pending replies answers every caller of this
                // batch with `Unavailable`: none of its commands was stored.
                tracing::error!(error = %error, batch.size = count, "write batch failed; nothing of it was stored");
                drop(pending);
            }
        }
    }

    fn apply_and_commit(
        &self,
        commands: Vec<Command>,
        now: Timestamp,
        pending: &mut Vec<PendingReply>,
        events: &mut Vec<CommittedEvent>,
    ) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.set_quick_repair(true);
        {
            let mut batch = Batch::open(&txn, now, self.settings.daily_budget)?;
            for command in commands {
                // A storage error abandons the whole batch; the replies
                // dropped with it tell each caller `Unavailable`.
                match command {
                    Command::Cast { voter, clip, vote_type, reply } => {
                        pending.push(PendingReply::Vote(reply, batch.cast(&voter, clip, vote_type)?));
                    }
                    Command::Revoke { voter, clip, reply } => {
                        pending.push(PendingReply::Vote(reply, batch.revoke(&voter, clip)?));
                    }
                    Command::SeedDemo { seed, reply } => {
                        pending.push(PendingReply::Seed(reply, batch.seed_demo(&seed)?));
                    }
                    Command::SetFlag { key, enabled, reply } => {
                        batch.set_flag(&key, enabled)?;
                        pending.push(PendingReply::Flag(reply));
                    }
                    Command::Shutdown => {}
                }
            }
            batch.flush(events)?;
        }
        txn.commit()?;
        Ok(())
    }
}

/// The tables and in-memory aggregates of one write transaction.
struct Batch<'txn> {
    now: Timestamp,
    today: UtcDay,
    daily_budget: u32,
    flags: VotingFlags,
    meta: Table<'txn, &'static str, u64>,
    seasons: Table<'txn, u64, &'static [u8]>,
    slots: Table<'txn, (u64, u32), &'static [u8]>,
    clips: Table<'txn, u64, &'static [u8]>,
    membership: Table<'txn, (u64, u32, u64), ()>,
    counters: Table<'txn, (u64, u32, u64), (u64, u64)>,
    users: Table<'txn, u64, &'static [u8]>,
    usernames: Table<'txn, &'static str, u64>,
    votes: Table<'txn, u64, &'static [u8]>,
    ledgers: Table<'txn, &'static str, &'static [u8]>,
    flag_table: Table<'txn, &'static str, bool>,
    /// The open slot as read in this batch (`None` inside = no open slot).
    open_slot: Option<Option<OpenSlot>>,
    /// Clip targets read in this batch.
    clip_targets: HashMap<ClipId, Option<TargetClip>>,
    /// Counters touched in this batch, written once at the end.
    counter_cache: HashMap<(u64, u32, u64), ClipCounter>,
    /// Ledgers touched in this batch, written once at the end.
    ledger_cache: HashMap<VoterKey, VoterLedger>,
    next_vote_id: Option<u64>,
    structure_changed: bool,
    flag_events: Vec<CommittedEvent>,
}

impl<'txn> Batch<'txn> {
    fn open(txn: &'txn WriteTransaction, now: Timestamp, daily_budget: u32) -> Result<Self, StoreError> {
        let flag_table = txn.open_table(FLAG_TO_ENABLED)?;
        let flags = read_flags(&flag_table)?;
        Ok(Batch {
            now,
            today: now.utc_day(),
            daily_budget,
            flags,
            meta: txn.open_table(META)?,
            seasons: txn.open_table(SEASON_ID_TO_SEASON)?,
            slots: txn.open_table(SLOT_TO_SLOT)?,
            clips: txn.open_table(CLIP_ID_TO_CLIP)?,
            membership: txn.open_table(SLOT_CLIP_TO_MEMBERSHIP)?,
            counters: txn.open_table(SLOT_CLIP_TO_COUNTER)?,
            users: txn.open_table(USER_ID_TO_USER)?,
            usernames: txn.open_table(USERNAME_TO_USER_ID)?,
            votes: txn.open_table(VOTE_ID_TO_VOTE)?,
            ledgers: txn.open_table(VOTER_TO_LEDGER)?,
            flag_table,
            open_slot: None,
            clip_targets: HashMap::new(),
            counter_cache: HashMap::new(),
            ledger_cache: HashMap::new(),
            next_vote_id: None,
            structure_changed: false,
            flag_events: Vec::new(),
        })
    }

    fn open_slot(&mut self) -> Result<Option<OpenSlot>, StoreError> {
        if let Some(cached) = self.open_slot {
            return Ok(cached);
        }
        let found = self.read_open_slot()?;
        self.open_slot = Some(found);
        Ok(found)
    }

    fn read_open_slot(&self) -> Result<Option<OpenSlot>, StoreError> {
        let Some(season) = self.meta.get(meta_keys::ACTIVE_SEASON)?.map(|v| v.value()).and_then(SeasonId::new) else {
            return Ok(None);
        };
        for entry in self.slots.range((season.get(), 0)..=(season.get(), u32::MAX))? {
            let (_, bytes) = entry?;
            let slot = records::slot_from_bytes(bytes.value())?;
            if matches!(slot.status, SlotStatus::Voting | SlotStatus::WaitingForClips) {
                return Ok(Some(OpenSlot {
                    season,
                    position: slot.position,
                    status: slot.status,
                    voting_ends_at: slot.voting_ends_at,
                }));
            }
        }
        Ok(None)
    }

    fn clip_target(&mut self, clip: ClipId) -> Result<Option<TargetClip>, StoreError> {
        if let Some(cached) = self.clip_targets.get(&clip) {
            return Ok(*cached);
        }
        let target = match self.clips.get(clip.get())? {
            Some(bytes) => {
                let clip = records::clip_from_bytes(bytes.value())?;
                Some(TargetClip { season: clip.season, position: clip.slot_position, status: clip.status })
            }
            None => None,
        };
        self.clip_targets.insert(clip, target);
        Ok(target)
    }

    fn counter(&mut self, key: (u64, u32, u64)) -> Result<&mut ClipCounter, StoreError> {
        if !self.counter_cache.contains_key(&key) {
            let (vote_count, weighted_score) = self.counters.get(key)?.map(|v| v.value()).unwrap_or((0, 0));
            self.counter_cache.insert(key, ClipCounter { vote_count, weighted_score });
        }
        Ok(self.counter_cache.entry(key).or_default())
    }

    fn ledger(&mut self, voter: &VoterKey) -> Result<&mut VoterLedger, StoreError> {
        if !self.ledger_cache.contains_key(voter) {
            let stored = match self.ledgers.get(voter.as_str())? {
                Some(bytes) => records::ledger_from_bytes(bytes.value())?,
                None => VoterLedger::default(),
            };
            self.ledger_cache.insert(voter.clone(), stored);
        }
        Ok(self.ledger_cache.entry(voter.clone()).or_default())
    }

    fn take_vote_id(&mut self) -> Result<VoteId, StoreError> {
        let next = match self.next_vote_id {
            Some(next) => next,
            None => self.meta.get(meta_keys::NEXT_VOTE_ID)?.map(|v| v.value()).unwrap_or(1),
        };
        self.next_vote_id = Some(next + 1);
        VoteId::new(next).ok_or(StoreError::Corrupt { what: "meta", reason: "vote id counter is zero".into() })
    }

    fn cast(
        &mut self,
        voter: &VoterKey,
        clip: ClipId,
        vote_type: VoteType,
    ) -> Result<Result<VoteOutcome, VoteRefusal>, StoreError> {
        let slot = self.open_slot()?;
        let target = self.clip_target(clip)?;
        let (today, now, daily_budget, flags) = (self.today, self.now, self.daily_budget, self.flags);
        let ledger = self.ledger(voter)?;
        let (existing, specials_used) = match slot {
            Some(slot) => {
                (ledger.votes_on(slot.season, slot.position, clip), ledger.specials_in(slot.season, slot.position))
            }
            None => (0, SpecialsUsed::default()),
        };
        let facts = CastFacts {
            slot,
            clip: target,
            vote_type,
            voter_is_user: voter.is_user(),
            existing_votes_on_clip: existing,
            specials_used,
            spent_today: ledger.spent_on(today),
            daily_budget,
            flags,
            now,
        };
        let decision = match vote::decide_cast(&facts) {
            Ok(decision) => decision,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let id = self.take_vote_id()?;
        let record = Vote {
            id,
            voter: voter.clone(),
            season: decision.season,
            position: decision.position,
            clip,
            vote_type,
            weight: decision.weight,
            day: decision.day,
            cast_at: now,
            state: VoteState::Counted,
        };
        self.votes.insert(id.get(), records::encode(&VoteRecord::from(&record)).as_slice())?;
        let ledger = self.ledger(voter)?;
        ledger.record(
            decision.season,
            decision.position,
            decision.day,
            decision.weight,
            LedgerVote { clip, vote: id, vote_type },
        );
        let (spent_today, specials_used) =
            (ledger.spent_on(today), ledger.specials_in(decision.season, decision.position));
        let counter = self.counter((decision.season.get(), decision.position.get(), clip.get()))?;
        counter.vote_count += 1;
        counter.weighted_score += u64::from(decision.weight);
        let counter = *counter;
        Ok(Ok(VoteOutcome { clip, vote_type, counter, spent_today, specials_used }))
    }

    fn revoke(&mut self, voter: &VoterKey, clip: ClipId) -> Result<Result<VoteOutcome, VoteRefusal>, StoreError> {
        let Some(target) = self.clip_target(clip)? else {
            return Ok(Err(VoteRefusal::ClipNotFound));
        };
        let Some(slot) = self.open_slot()? else {
            return Ok(Err(VoteRefusal::SlotClosed));
        };
        if target.season != slot.season || target.position != slot.position {
            return Ok(Err(VoteRefusal::NotVotable));
        }
        let window_open = slot.status == SlotStatus::Voting && slot.voting_ends_at.is_some_and(|ends| self.now < ends);
        if !window_open {
            return Ok(Err(VoteRefusal::SlotClosed));
        }
        let Some(latest) = self.ledger(voter)?.take_latest(slot.season, slot.position, clip) else {
            return Ok(Err(VoteRefusal::NoVoteToRevoke));
        };
        let vote_id = latest.vote.get();
        let Some(bytes) = self.votes.get(vote_id)?.map(|b| b.value().to_vec()) else {
            return Err(StoreError::Corrupt {
                what: "vote",
                reason: format!("ledger points at missing vote {vote_id}"),
            });
        };
        let mut stored = records::vote_from_bytes(&bytes)?;
        let refunded = vote::revoke_refunds(stored.day, self.now);
        stored.state = VoteState::Revoked { refunded };
        self.votes.insert(vote_id, records::encode(&VoteRecord::from(&stored)).as_slice())?;
        let today = self.today;
        let ledger = self.ledger(voter)?;
        if refunded {
            ledger.refund(stored.day, stored.weight);
        }
        let (spent_today, specials_used) = (ledger.spent_on(today), ledger.specials_in(slot.season, slot.position));
        let counter = self.counter((slot.season.get(), slot.position.get(), clip.get()))?;
        counter.vote_count = counter.vote_count.saturating_sub(1);
        counter.weighted_score = counter.weighted_score.saturating_sub(u64::from(stored.weight));
        let counter = *counter;
        Ok(Ok(VoteOutcome { clip, vote_type: stored.vote_type, counter, spent_today, specials_used }))
    }

    fn next_id(&mut self, key: &'static str) -> Result<u64, StoreError> {
        let next = self.meta.get(key)?.map(|v| v.value()).unwrap_or(1);
        self.meta.insert(key, next + 1)?;
        Ok(next)
    }

    fn seed_demo(&mut self, seed: &DemoSeed) -> Result<bool, StoreError> {
        if self.meta.get(meta_keys::DEMO_SEEDED)?.is_some() {
            return Ok(false);
        }
        if self.meta.get(meta_keys::ACTIVE_SEASON)?.map(|v| v.value()).unwrap_or(0) != 0 {
            tracing::info!("a season is already active; demo season not seeded");
            return Ok(false);
        }
        let mut creators = Vec::with_capacity(seed.creators.len());
        for username in &seed.creators {
            let existing = self.usernames.get(username.as_str())?.map(|v| v.value());
            let id = match existing {
                Some(id) => id,
                None => {
                    let id = self.next_id(meta_keys::NEXT_USER_ID)?;
                    let user = User {
                        id: UserId::new(id)
                            .ok_or(StoreError::Corrupt { what: "meta", reason: "zero user id".into() })?,
                        username: username.clone(),
                        created_at: self.now,
                    };
                    self.users.insert(id, records::encode(&UserRecord::from(&user)).as_slice())?;
                    self.usernames.insert(username.as_str(), id)?;
                    id
                }
            };
            creators.push((UserId::new(id), username.clone()));
        }
        let season_id = SeasonId::new(self.next_id(meta_keys::NEXT_SEASON_ID)?)
            .ok_or(StoreError::Corrupt { what: "meta", reason: "zero season id".into() })?;
        let season = Season {
            id: season_id,
            title: seed.title.clone(),
            genre: seed.genre.clone(),
            description: seed.description.clone(),
            status: SeasonStatus::Active,
            total_slots: seed.total_slots,
            slot_duration_secs: seed.slot_duration_secs,
            created_at: self.now,
        };
        self.seasons.insert(season_id.get(), records::encode(&SeasonRecord::from(&season)).as_slice())?;
        for position in 1..=seed.total_slots {
            let Some(position) = SlotPosition::new(position) else { continue };
            let first = position == SlotPosition::FIRST;
            let slot = Slot {
                season: season_id,
                position,
                status: if first { SlotStatus::Voting } else { SlotStatus::Upcoming },
                voting_started_at: first.then_some(self.now),
                voting_ends_at: first.then(|| self.now.plus_secs(seed.slot_duration_secs)),
                winner: None,
            };
            self.slots
                .insert((season_id.get(), position.get()), records::encode(&SlotRecord::from(&slot)).as_slice())?;
        }
        for (index, seed_clip) in seed.clips.iter().enumerate() {
            let Some((Some(creator), username)) = creators.get(seed_clip.creator).cloned() else { continue };
            let clip_id = ClipId::new(self.next_id(meta_keys::NEXT_CLIP_ID)?)
                .ok_or(StoreError::Corrupt { what: "meta", reason: "zero clip id".into() })?;
            let clip = Clip {
                id: clip_id,
                season: season_id,
                slot_position: SlotPosition::FIRST,
                title: seed_clip.title.clone(),
                description: seed_clip.description.clone(),
                genre: seed_clip.genre.clone(),
                creator,
                creator_username: username,
                video_path: seed_clip.video_path.clone(),
                poster_path: seed_clip.poster_path.clone(),
                duration_ms: seed_clip.duration_ms,
                status: ClipStatus::Active,
                // Spaced a second apart so "earlier upload wins a tie" is meaningful.
                created_at: Timestamp::from_millis(self.now.millis() + index as i64 * 1000),
            };
            self.clips.insert(clip_id.get(), records::encode(&ClipRecord::from(&clip)).as_slice())?;
            let key = (season_id.get(), SlotPosition::FIRST.get(), clip_id.get());
            self.membership.insert(key, ())?;
            self.counters.insert(key, (0, 0))?;
        }
        self.meta.insert(meta_keys::ACTIVE_SEASON, season_id.get())?;
        self.meta.insert(meta_keys::DEMO_SEEDED, 1)?;
        self.open_slot = None;
        self.clip_targets.clear();
        self.structure_changed = true;
        Ok(true)
    }

    fn set_flag(&mut self, key: &str, enabled: bool) -> Result<(), StoreError> {
        self.flag_table.insert(key, enabled)?;
        self.flags = apply_flag(self.flags, key, enabled);
        self.flag_events.push(CommittedEvent::FlagChanged { key: key.to_owned(), enabled });
        Ok(())
    }

    /// Writes the batch's aggregated counters and budgets, once each.
    fn flush(&mut self, events: &mut Vec<CommittedEvent>) -> Result<(), StoreError> {
        if let Some(next) = self.next_vote_id {
            self.meta.insert(meta_keys::NEXT_VOTE_ID, next)?;
        }
        for (key, counter) in &self.counter_cache {
            self.counters.insert(*key, (counter.vote_count, counter.weighted_score))?;
            if let (Some(clip), Some(position)) = (ClipId::new(key.2), SlotPosition::new(key.1)) {
                events.push(CommittedEvent::Counter { clip, position, counter: *counter });
            }
        }
        for (voter, ledger) in &self.ledger_cache {
            self.ledgers.insert(voter.as_str(), records::encode(&LedgerRecord::from(ledger)).as_slice())?;
        }
        events.append(&mut self.flag_events);
        if self.structure_changed {
            events.push(CommittedEvent::StructureChanged);
        }
        Ok(())
    }
}

fn apply_flag(flags: VotingFlags, key: &str, enabled: bool) -> VotingFlags {
    match key {
        "multi_vote_mode" => VotingFlags { multi_vote_mode: enabled, ..flags },
        "special_votes" => VotingFlags { special_votes: enabled, ..flags },
        "require_auth_voting" => VotingFlags { require_auth_voting: enabled, ..flags },
        _ => flags,
    }
}

fn read_flags(table: &impl ReadableTable<&'static str, bool>) -> Result<VotingFlags, StoreError> {
    let mut flags = VotingFlags::default();
    for entry in table.iter()? {
        let (key, enabled) = entry?;
        flags = apply_flag(flags, key.value(), enabled.value());
    }
    Ok(flags)
}
