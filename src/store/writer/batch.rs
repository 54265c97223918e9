//! One write transaction's worth of state: the open tables, the per-batch
//! caches that make a hot clip cost one counter write, and the events the
//! read model learns after commit.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use redb::{ReadableTable, Table, WriteTransaction};

use super::super::head_runs::{HeadRuns, HeadsUpdate};
use super::super::records::{self, AuditRecord, ClipRecord, SeasonRecord, SlotRecord};
use super::super::tables::*;
use super::super::vote_layout::{SlotKey, VoteBytes, VoterBytes};
use super::super::{ClipCounter, StoreError};
use super::ledgers::CachedLedger;
use crate::domain::clock::{Timestamp, UtcDay};
use crate::domain::fraud::FraudTracker;
use crate::domain::ids::{ClipId, SeasonId, SlotPosition, UserId, VoteId, VoterKey};
use crate::domain::leaderboard::restore_window_start;
use crate::domain::model::{AuditEntry, Clip, Season, Slot};
use crate::domain::tournament::{ClipStatus, SlotStatus};
use crate::domain::vote::{OpenSlot, TargetClip, VotingFlags};

/// What a committed batch changed, for the in-memory models.
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
    /// A session was created or renewed.
    SessionStored {
        /// blake3 of the cookie token.
        token_hash: [u8; 32],
        /// Whose.
        user: UserId,
        /// Their username.
        username: String,
        /// Whether they are an admin.
        is_admin: bool,
        /// When it expires.
        expires_at: Timestamp,
    },
    /// Sessions were revoked (sign-out, ban, deletion).
    SessionsRevoked {
        /// Their token hashes.
        token_hashes: Vec<[u8; 32]>,
    },
    /// Clips were created or changed status (for the search index).
    ClipsChanged {
        /// The clips as committed.
        clips: Vec<Clip>,
        /// The clip change sequence number after this batch.
        sequence: u64,
    },
    /// View counts were added (clip, new total).
    ViewsChanged {
        /// New totals.
        totals: Vec<(ClipId, u64)>,
    },
    /// A vote started or stopped counting (cast, or revoked/voided), for
    /// the leaderboards and profiles. Emitted per vote, in commit order.
    VoteTallied(VoteTally),
    /// A user's unread notification state changed (see `store::social`).
    NotificationsChanged {
        /// Whose.
        user: UserId,
        /// Unread personal notifications.
        unread: u64,
        /// Broadcasts at or below this id are read.
        broadcast_marker: u64,
    },
    /// A notification for everyone was stored (a new voting round).
    Broadcast {
        /// Its id.
        id: u64,
    },
    /// A user's name or role changed; cached sessions follow.
    UserChanged {
        /// Who.
        user: UserId,
        /// Whether they are an admin now.
        is_admin: bool,
    },
}

/// One vote entering (+1) or leaving (-1) the counts.
#[derive(Debug, Clone)]
pub struct VoteTally {
    /// The UTC day the vote was cast on (the day a revoke takes it back from).
    pub day: UtcDay,
    /// The clip voted on.
    pub clip: ClipId,
    /// The clip's creator.
    pub creator: UserId,
    /// Who voted.
    pub voter: VoterKey,
    /// Score points the vote carries.
    pub weight: u32,
    /// +1 when it starts counting, -1 when revoked or voided.
    pub delta: i8,
}

/// The tables and in-memory aggregates of one write transaction.
pub struct Batch<'txn> {
    /// The transaction, for jobs whose tables the batch does not hold open
    /// (open them per job; a table cannot be opened twice at once).
    pub(super) txn: &'txn WriteTransaction,
    pub(super) now: Timestamp,
    pub(super) today: UtcDay,
    pub(super) daily_budget: u32,
    pub(super) flags: VotingFlags,
    pub(super) meta: Table<'txn, &'static str, u64>,
    pub(super) seasons: Table<'txn, u64, &'static [u8]>,
    pub(super) slots: Table<'txn, (u64, u32), &'static [u8]>,
    pub(super) clips: Table<'txn, u64, &'static [u8]>,
    pub(super) membership: Table<'txn, (u64, u32, u64), ()>,
    pub(super) counters: Table<'txn, (u64, u32, u64), (u64, u64)>,
    pub(super) users: Table<'txn, u64, &'static [u8]>,
    pub(super) usernames: Table<'txn, &'static str, u64>,
    pub(super) votes: Table<'txn, (u64, u32, u64), &'static VoteBytes>,
    pub(super) ledgers: Table<'txn, &'static VoterBytes, &'static [u8]>,
    pub(super) sessions: Table<'txn, &'static [u8], &'static [u8]>,
    pub(super) user_sessions: Table<'txn, (u64, &'static [u8]), ()>,
    pub(super) user_votes: Table<'txn, (u64, u64), ()>,
    pub(super) flagged: Table<'txn, u64, ()>,
    pub(super) audit: Table<'txn, u64, &'static [u8]>,
    pub(super) flag_table: Table<'txn, &'static str, bool>,
    pub(super) clip_statuses: Table<'txn, (u8, u64), ()>,
    pub(super) genre_votes: Table<'txn, (u64, &'static str), &'static str>,
    pub(super) genre_counts: Table<'txn, (u64, &'static str), u64>,
    pub(super) views: Table<'txn, u64, u64>,
    pub(super) user_clips: Table<'txn, (u64, u64), ()>,
    /// Recent voting activity, kept across batches by the writer thread.
    pub(super) fraud: Arc<Mutex<FraudTracker>>,
    /// The open slot as read in this batch (`Some(None)` = read, none open).
    open_slot: Option<Option<OpenSlot>>,
    /// Clip targets read in this batch.
    clip_targets: HashMap<ClipId, Option<TargetClip>>,
    /// Counters touched in this batch, written once at the end.
    counter_cache: HashMap<(u64, u32, u64), ClipCounter>,
    /// Ledgers touched in this batch, written once at the end.
    pub(super) ledger_cache: HashMap<VoterBytes, CachedLedger>,
    /// Ledger heads not folded into `ledgers` yet.
    pub(super) heads: &'txn HeadRuns,
    /// This batch's heads, for memory once it committed.
    pub(super) heads_update: Option<HeadsUpdate>,
    next_vote_id: Option<u64>,
    /// The last run of `VOTE_RUN_TO_SLOT` (`Some(None)` = read, none yet).
    pub(super) last_run: Option<Option<(u64, SlotKey)>>,
    structure_changed: bool,
    /// Clips written in this batch, for the search index.
    changed_clips: Vec<Clip>,
    pub(super) events: Vec<CommittedEvent>,
}

impl<'txn> Batch<'txn> {
    pub(super) fn open(
        txn: &'txn WriteTransaction,
        heads: &'txn HeadRuns,
        now: Timestamp,
        daily_budget: u32,
        fraud: Arc<Mutex<FraudTracker>>,
    ) -> Result<Self, StoreError> {
        let flag_table = txn.open_table(FLAG_TO_ENABLED)?;
        let flags = read_flags(&flag_table)?;
        Ok(Batch {
            txn,
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
            votes: txn.open_table(SLOT_VOTE_TO_VOTE)?,
            ledgers: txn.open_table(VOTER_TO_LEDGER)?,
            sessions: txn.open_table(SESSION_HASH_TO_SESSION)?,
            user_sessions: txn.open_table(USER_SESSION_TO_MEMBERSHIP)?,
            user_votes: txn.open_table(USER_VOTE_TO_MEMBERSHIP)?,
            flagged: txn.open_table(FLAGGED_VOTE_TO_MEMBERSHIP)?,
            audit: txn.open_table(AUDIT_ID_TO_ENTRY)?,
            flag_table,
            clip_statuses: txn.open_table(CLIP_STATUS_TO_MEMBERSHIP)?,
            genre_votes: txn.open_table(GENRE_ROUND_VOTER_TO_GENRE)?,
            genre_counts: txn.open_table(GENRE_ROUND_GENRE_TO_COUNT)?,
            views: txn.open_table(CLIP_ID_TO_VIEWS)?,
            user_clips: txn.open_table(USER_CLIP_TO_MEMBERSHIP)?,
            fraud,
            open_slot: None,
            clip_targets: HashMap::new(),
            counter_cache: HashMap::new(),
            ledger_cache: HashMap::new(),
            heads,
            heads_update: None,
            next_vote_id: None,
            last_run: None,
            structure_changed: false,
            changed_clips: Vec::new(),
            events: Vec::new(),
        })
    }

    /// The slot that is voting or waiting for clips, read once per batch.
    pub(super) fn open_slot(&mut self) -> Result<Option<OpenSlot>, StoreError> {
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

    /// A clip's season, slot and status, read once per batch.
    pub(super) fn clip_target(&mut self, clip: ClipId) -> Result<Option<TargetClip>, StoreError> {
        if let Some(cached) = self.clip_targets.get(&clip) {
            return Ok(*cached);
        }
        let target = match self.clips.get(clip.get())? {
            Some(bytes) => {
                let clip = records::clip_from_bytes(bytes.value())?;
                Some(TargetClip {
                    season: clip.season,
                    position: clip.slot_position,
                    status: clip.status,
                    creator: clip.creator,
                })
            }
            None => None,
        };
        self.clip_targets.insert(clip, target);
        Ok(target)
    }

    /// Reads a clip.
    pub(super) fn clip(&self, id: ClipId) -> Result<Option<Clip>, StoreError> {
        self.clips.get(id.get())?.map(|bytes| records::clip_from_bytes(bytes.value())).transpose()
    }

    /// Writes a clip and keeps the by-status index in step.
    pub(super) fn put_clip(&mut self, clip: &Clip, previous: Option<ClipStatus>) -> Result<(), StoreError> {
        if let Some(previous) = previous
            && previous != clip.status
        {
            self.clip_statuses.remove((previous.tag(), clip.id.get()))?;
        }
        self.clip_statuses.insert((clip.status.tag(), clip.id.get()), ())?;
        self.clips.insert(clip.id.get(), records::encode(&ClipRecord::from(clip)).as_slice())?;
        if previous != Some(clip.status) {
            self.clip_status_changed(clip, previous)?;
        }
        self.user_clips.insert((clip.creator.get(), clip.id.get()), ())?;
        self.clip_targets.remove(&clip.id);
        self.changed_clips.retain(|changed| changed.id != clip.id);
        self.changed_clips.push(clip.clone());
        Ok(())
    }

    /// Reads a slot.
    pub(super) fn slot(&self, season: SeasonId, position: SlotPosition) -> Result<Option<Slot>, StoreError> {
        self.slots.get((season.get(), position.get()))?.map(|bytes| records::slot_from_bytes(bytes.value())).transpose()
    }

    /// Writes a slot.
    pub(super) fn put_slot(&mut self, slot: &Slot) -> Result<(), StoreError> {
        self.slots
            .insert((slot.season.get(), slot.position.get()), records::encode(&SlotRecord::from(slot)).as_slice())?;
        self.open_slot = None;
        if slot.status == SlotStatus::Voting && slot.voting_started_at == Some(self.now) {
            self.round_opened(slot)?;
        }
        Ok(())
    }

    /// Reads a season.
    pub(super) fn season(&self, id: SeasonId) -> Result<Option<Season>, StoreError> {
        self.seasons.get(id.get())?.map(|bytes| records::season_from_bytes(bytes.value())).transpose()
    }

    /// Writes a season.
    pub(super) fn put_season(&mut self, season: &Season) -> Result<(), StoreError> {
        self.seasons.insert(season.id.get(), records::encode(&SeasonRecord::from(season)).as_slice())?;
        Ok(())
    }

    /// The active season's id.
    pub(super) fn active_season(&self) -> Result<Option<SeasonId>, StoreError> {
        Ok(self.meta.get(meta_keys::ACTIVE_SEASON)?.map(|v| v.value()).and_then(SeasonId::new))
    }

    /// Forgets cached slots and clips after a structural change.
    pub(super) fn structure_changed(&mut self) {
        self.open_slot = None;
        self.clip_targets.clear();
        self.structure_changed = true;
    }

    /// A (slot, clip) counter, cached for the batch.
    pub(super) fn counter(&mut self, key: (u64, u32, u64)) -> Result<&mut ClipCounter, StoreError> {
        if !self.counter_cache.contains_key(&key) {
            let (vote_count, weighted_score) = self.counters.get(key)?.map(|v| v.value()).unwrap_or((0, 0));
            self.counter_cache.insert(key, ClipCounter { vote_count, weighted_score });
        }
        Ok(self.counter_cache.entry(key).or_default())
    }

    /// The next vote id; the counter is written once at flush.
    pub(super) fn take_vote_id(&mut self) -> Result<VoteId, StoreError> {
        let next = match self.next_vote_id {
            Some(next) => next,
            None => self.meta.get(meta_keys::NEXT_VOTE_ID)?.map(|v| v.value()).unwrap_or(1),
        };
        self.next_vote_id = Some(next + 1);
        VoteId::new(next).ok_or(StoreError::Corrupt { what: "meta", reason: "vote id counter is zero".into() })
    }

    /// The next id of a kind kept in `META`.
    pub(super) fn next_id(&mut self, key: &'static str) -> Result<u64, StoreError> {
        let next = self.meta.get(key)?.map(|v| v.value()).unwrap_or(1);
        self.meta.insert(key, next + 1)?;
        Ok(next)
    }

    /// Appends an audit entry in the same transaction as the action.
    pub(super) fn audit(
        &mut self,
        actor: Option<UserId>,
        action: &str,
        resource: String,
        details: String,
    ) -> Result<(), StoreError> {
        let id = self.next_id(meta_keys::NEXT_AUDIT_ID)?;
        let entry = AuditEntry { id, at: self.now, actor, action: action.to_owned(), resource, details };
        self.audit.insert(id, records::encode(&AuditRecord::from(&entry)).as_slice())?;
        Ok(())
    }

    /// Stores a feature flag.
    pub(super) fn set_flag(&mut self, key: &str, enabled: bool) -> Result<(), StoreError> {
        self.flag_table.insert(key, enabled)?;
        self.flags = apply_flag(self.flags, key, enabled);
        self.events.push(CommittedEvent::FlagChanged { key: key.to_owned(), enabled });
        Ok(())
    }

    /// Stores the writer's count of committed batches, this one included.
    pub(super) fn record_sequence(&mut self, committed_batches: u64) -> Result<(), StoreError> {
        self.meta.insert(meta_keys::COMMITTED_BATCHES, committed_batches)?;
        Ok(())
    }

    /// Writes the batch's aggregated counters and ledgers, once each.
    pub(super) fn flush(&mut self, events: &mut Vec<CommittedEvent>) -> Result<(), StoreError> {
        if let Some(next) = self.next_vote_id {
            self.meta.insert(meta_keys::NEXT_VOTE_ID, next)?;
        }
        for (key, counter) in &self.counter_cache {
            self.counters.insert(*key, (counter.vote_count, counter.weighted_score))?;
            if let (Some(clip), Some(position)) = (ClipId::new(key.2), SlotPosition::new(key.1)) {
                events.push(CommittedEvent::Counter { clip, position, counter: *counter });
            }
        }
        self.flush_ledgers()?;
        self.flush_tallies()?;
        self.flush_profiles()?;
        if !self.changed_clips.is_empty() {
            let sequence = self.meta.get(meta_keys::CLIP_CHANGE_SEQUENCE)?.map(|v| v.value()).unwrap_or(0) + 1;
            self.meta.insert(meta_keys::CLIP_CHANGE_SEQUENCE, sequence)?;
            events.push(CommittedEvent::ClipsChanged { clips: std::mem::take(&mut self.changed_clips), sequence });
        }
        events.append(&mut self.events);
        if self.structure_changed {
            events.push(CommittedEvent::StructureChanged);
        }
        Ok(())
    }
}

impl Batch<'_> {
    /// Adds this batch's tallied votes to the all-time totals of signed-in
    /// voters and of creators, and to each (day, board, id) score the
    /// leaderboards restore from: one read-modify-write per voter, creator,
    /// clip and day, however many votes a hot clip received in the batch.
    fn flush_tallies(&mut self) -> Result<(), StoreError> {
        let mut by_user: HashMap<u64, (i64, i64)> = HashMap::new();
        let mut by_creator: HashMap<u64, (i64, i64)> = HashMap::new();
        let mut by_day: HashMap<(u32, u8, u64), i64> = HashMap::new();
        for event in &self.events {
            if let CommittedEvent::VoteTallied(tally) = event {
                let (delta, weight) = (i64::from(tally.delta), i64::from(tally.delta) * i64::from(tally.weight));
                let creator = by_creator.entry(tally.creator.get()).or_default();
                *creator = (creator.0 + delta, creator.1 + weight);
                let day = tally.day.number();
                *by_day.entry((day, day_boards::CLIPS, tally.clip.get())).or_default() += weight;
                *by_day.entry((day, day_boards::CREATORS, tally.creator.get())).or_default() += weight;
                if let Some(user) = tally.voter.user_id() {
                    let voter = by_user.entry(user.get()).or_default();
                    *voter = (voter.0 + delta, voter.1 + weight);
                    *by_day.entry((day, day_boards::VOTERS, user.get())).or_default() += delta;
                }
            }
        }
        if by_creator.is_empty() {
            return Ok(());
        }
        let mut voters = self.txn.open_table(USER_ID_TO_VOTE_TALLY)?;
        for (user, delta) in by_user {
            let stored = voters.get(user)?.map(|v| v.value()).unwrap_or((0, 0));
            voters.insert(user, apply_tally(stored, delta))?;
        }
        let mut creators = self.txn.open_table(CREATOR_TO_TALLY)?;
        for (creator, delta) in by_creator {
            let stored = creators.get(creator)?.map(|v| v.value()).unwrap_or((0, 0));
            creators.insert(creator, apply_tally(stored, delta))?;
        }
        let kept_from = self.day_scores_kept_from()?;
        let mut scores = self.txn.open_table(DAY_ENTRY_TO_SCORE)?;
        for (key, delta) in by_day {
            // A revoke of a vote from before the kept window changes no day
            // the leaderboards restore.
            if key.0 < kept_from || delta == 0 {
                continue;
            }
            let stored = scores.get(key)?.map(|v| v.value()).unwrap_or(0);
            match stored.saturating_add_signed(delta) {
                0 => scores.remove(key)?,
                score => scores.insert(key, score)?,
            };
        }
        Ok(())
    }

    /// The first day `DAY_ENTRY_TO_SCORE` keeps. On the first batch of a
    /// day that moved the leaderboards' restore window, drops the days
    /// before it (a range removal, once a day).
    fn day_scores_kept_from(&mut self) -> Result<u32, StoreError> {
        let window = restore_window_start(self.today).number();
        let kept_from = self.meta.get(meta_keys::DAY_SCORES_KEPT_FROM)?.map(|v| v.value()).unwrap_or(0);
        if u64::from(window) <= kept_from {
            return Ok(u32::try_from(kept_from).unwrap_or(u32::MAX));
        }
        let mut scores = self.txn.open_table(DAY_ENTRY_TO_SCORE)?;
        scores.retain_in((0, 0, 0)..(window, 0, 0), |_, _| false)?;
        self.meta.insert(meta_keys::DAY_SCORES_KEPT_FROM, u64::from(window))?;
        Ok(window)
    }
}

fn apply_tally(stored: (u64, u64), delta: (i64, i64)) -> (u64, u64) {
    (stored.0.saturating_add_signed(delta.0), stored.1.saturating_add_signed(delta.1))
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
