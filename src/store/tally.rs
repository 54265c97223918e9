//! Frozen slot tallies (issue #15): what the locking transaction writes, and
//! the reads that serve them. The layout follows `domain::tally`'s plan:
//!
//! - `SLOT_TO_TALLY_HEAD`: one head per locked slot (root, size, the secret
//!   salt, the last chunk, the published rules and winner);
//! - `SLOT_FIRST_VOTE_TO_TALLY_CHUNK`: one row per 64 consecutive lines,
//!   keyed by the chunk's first vote id, with the counted bits frozen at the
//!   lock (a vote voided later keeps its published `counted`);
//! - `SLOT_TREE_NODE_TO_TALLY_HASH`: the hash of every perfect aligned subtree
//!   of 64 lines or more.
//!
//! Lines are never stored: they are regenerated from the vote records (whose
//! id, voter, clip, type, weight and cast time never change), the frozen
//! counted bit and the salt, and every regenerated chunk is hashed and
//! compared with its frozen hash before any byte of it leaves: a vote record
//! that changed under a frozen tally is an error, never other bytes.
//!
//! The votes of a slot are read through [`for_each_slot_vote`] only, in
//! vote-id order, so a change of the vote layout touches one function here.

use std::collections::HashSet;

use redb::{ReadOnlyTable, ReadableTable, WriteTransaction};

use super::records::{self, TallyHeadRecord};
use super::tables::*;
use super::vote_layout::{self, TallyVote, VoteBytes};
use super::{Store, StoreError};
use crate::domain::clock::Timestamp;
use crate::domain::ids::{ClipId, SeasonId, SlotPosition, VoteId};
use crate::domain::model::VoteState;
use crate::domain::tally::merkle::{self, FrozenTree, PathError};
use crate::domain::tally::{
    CHUNK_LEVEL, CHUNK_LINES, ChunkLines, ChunkedSubtrees, FrozenTally, LineError, MerkleHash, Pseudonym, RootBuilder,
    SlotSalt, TallyLine, TallyProof, TallyRules, counted_bit,
};
use crate::domain::tournament::SlotStatus;

fn corrupt(reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { what: "frozen tally", reason: reason.into() }
}

/// Calls `each` with the slot's votes in increasing id order, starting at
/// vote id `from`, until it returns `false`. Reads one range and decodes
/// each vote without allocating (a freeze reads a million).
pub(crate) fn for_each_slot_vote(
    votes: &impl ReadableTable<(u64, u32, u64), &'static VoteBytes>,
    (season, position): (SeasonId, SlotPosition),
    from: u64,
    mut each: impl FnMut(&TallyVote) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let range = (season.get(), position.get(), from)..=(season.get(), position.get(), u64::MAX);
    for entry in votes.range(range)? {
        let (key, bytes) = entry?;
        if !each(&vote_layout::decode_tally_vote(key.value().2, bytes.value())?)? {
            break;
        }
    }
    Ok(())
}

/// The published line of a stored vote under the slot's salt and the
/// `counted` bit frozen at the lock (what `domain::tally::line_of_vote`
/// makes of a decoded [`Vote`](crate::domain::model::Vote)).
fn line_of(vote: &TallyVote, salt: &SlotSalt, counted: bool) -> Result<TallyLine, LineError> {
    TallyLine::new(
        vote.id,
        Pseudonym::of_text(salt, vote.voter.as_str()),
        vote.clip,
        vote.vote_type,
        vote.weight,
        vote.cast_at,
        counted,
    )
}

/// What the locking transaction knows when it freezes a slot.
#[derive(Debug, Clone)]
pub(crate) struct FreezeRequest {
    /// The slot.
    pub slot: (SeasonId, SlotPosition),
    /// The clips whose counted votes count toward the result: the winner
    /// and the active clips that competed. A vote on a clip withdrawn before
    /// the lock (rejected, its creator's account deleted) is published as
    /// not counted.
    pub competing: HashSet<ClipId>,
    /// The winner.
    pub winner: ClipId,
    /// Whether an admin chose it.
    pub winner_assigned: bool,
    /// The rules the slot ran under.
    pub rules: TallyRules,
    /// Now.
    pub locked_at: Timestamp,
    /// A fresh random salt for the slot's pseudonyms.
    pub salt: SlotSalt,
}

/// Freezes a slot's tally in the caller's write transaction: one pass over
/// its votes in id order, hashing each line once, writing a chunk row per
/// 64 lines and a node row per perfect subtree of 64 lines or more. The
/// lines of each batch of [`FREEZE_BATCH`] votes are made and hashed
/// together, on several threads when the batch is large ([`leaves_of`]):
/// this is most of the cost of locking a slot of a million votes (#15).
pub(crate) fn freeze(
    txn: &WriteTransaction,
    votes: &impl ReadableTable<(u64, u32, u64), &'static VoteBytes>,
    request: &FreezeRequest,
) -> Result<FrozenTally, StoreError> {
    let (season, position) = request.slot;
    let (s, p) = (season.get(), position.get());
    let mut heads = txn.open_table(SLOT_TO_TALLY_HEAD)?;
    let mut chunks = txn.open_table(SLOT_FIRST_VOTE_TO_TALLY_CHUNK)?;
    let mut nodes = txn.open_table(SLOT_TREE_NODE_TO_TALLY_HASH)?;
    // A re-lock after an unlock starts from nothing (the unlock removed the
    // old rows; this guards a file where it did not).
    remove_rows(&mut heads, &mut chunks, &mut nodes, s, p)?;
    let mut builder = RootBuilder::new();
    // The open chunk's leaves: a full one is a stored level-6 node, the
    // last (partial) one is hashed into the head.
    let mut chunk: Vec<MerkleHash> = Vec::with_capacity(CHUNK_LINES as usize);
    let (mut mask, mut first_vote, mut counted_votes) = (0u64, 0u64, 0u64);
    let (mut last_first_vote, mut last_hash) = (0u64, merkle::empty_root());
    let mut completed = Vec::with_capacity(8);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_HASHING_THREADS);
    let mut pending: Vec<(TallyVote, bool)> = Vec::with_capacity(FREEZE_BATCH);
    // The lines of a batch are made and hashed apart (in parallel), then
    // their leaves go into the tree, the node rows and the chunk rows in
    // vote order, here.
    let mut flush = |pending: &mut Vec<(TallyVote, bool)>| -> Result<(), StoreError> {
        let leaves = leaves_of(pending, &request.salt, workers)?;
        for ((vote, counted), leaf) in pending.iter().zip(leaves) {
            if chunk.is_empty() {
                first_vote = vote.id.get();
            }
            if *counted {
                mask |= 1 << chunk.len();
                counted_votes += 1;
            }
            chunk.push(leaf);
            builder.push_reporting(leaf, |subtree| {
                if subtree.level >= CHUNK_LEVEL {
                    completed.push(subtree);
                }
            });
            for subtree in completed.drain(..) {
                let level = u8::try_from(subtree.level).map_err(|_| corrupt("tree too tall"))?;
                nodes.insert((s, p, level, subtree.index), subtree.hash.as_bytes())?;
                if subtree.level == CHUNK_LEVEL {
                    last_hash = subtree.hash;
                }
            }
            if chunk.len() as u64 == CHUNK_LINES {
                let index = (builder.size() - 1) / CHUNK_LINES;
                chunks.insert((s, p, first_vote), (index, mask))?;
                last_first_vote = first_vote;
                chunk.clear();
                mask = 0;
            }
        }
        pending.clear();
        Ok(())
    };
    for_each_slot_vote(votes, request.slot, 0, |vote| {
        let counted = vote.state == VoteState::Counted && request.competing.contains(&vote.clip);
        pending.push((*vote, counted));
        if pending.len() == FREEZE_BATCH {
            flush(&mut pending)?;
        }
        Ok(true)
    })?;
    flush(&mut pending)?;
    if !chunk.is_empty() {
        let index = builder.size() / CHUNK_LINES;
        chunks.insert((s, p, first_vote), (index, mask))?;
        last_first_vote = first_vote;
        last_hash = merkle::root_of(&chunk);
    }
    let record = TallyHeadRecord {
        root: *builder.root().as_bytes(),
        tree_size: builder.size(),
        counted_votes,
        salt: *request.salt.as_bytes(),
        last_chunk_first_vote: last_first_vote,
        last_chunk_hash: *last_hash.as_bytes(),
        daily_budget: request.rules.daily_budget,
        multi_vote_mode: request.rules.multi_vote_mode,
        winner: request.winner.get(),
        winner_assigned: request.winner_assigned,
        locked_at: request.locked_at.millis(),
    };
    heads.insert((s, p), records::encode(&record).as_slice())?;
    frozen_of(season, position, &record)
}

/// Votes a freeze reads before making and hashing their lines together.
const FREEZE_BATCH: usize = 16_384;

/// Fewest lines worth a thread of their own (a small slot is hashed on
/// the writer's thread alone).
const MIN_LINES_PER_THREAD: usize = 2_048;

/// Most threads hashing one freeze's lines.
const MAX_HASHING_THREADS: usize = 4;

/// The leaf hash of each vote's line, in order. A slot's freeze is mostly
/// this (a keyed BLAKE3 pseudonym and a SHA-256 per line, each line
/// independent of the others), so a large batch is split over up to
/// `workers` threads, the writer's own among them; if a thread cannot be
/// started its share is hashed on the writer's.
fn leaves_of(batch: &[(TallyVote, bool)], salt: &SlotSalt, workers: usize) -> Result<Vec<MerkleHash>, StoreError> {
    let per_thread = batch.len().div_ceil(workers.max(1)).max(MIN_LINES_PER_THREAD);
    let mut parts = batch.chunks(per_thread);
    let Some(own) = parts.next() else { return Ok(Vec::new()) };
    let hashed = std::thread::scope(|scope| {
        let others: Vec<_> = parts
            .map(|part| {
                let thread = std::thread::Builder::new()
                    .name("tally-hash".to_owned())
                    .spawn_scoped(scope, move || hash_lines(part, salt))
                    .ok();
                (part, thread)
            })
            .collect();
        let mut leaves = hash_lines(own, salt);
        for (part, thread) in others {
            let part = match thread {
                Some(thread) => thread.join().unwrap_or_else(|_| Err("a hashing thread panicked".to_owned())),
                None => hash_lines(part, salt),
            };
            leaves = match (leaves, part) {
                (Ok(mut leaves), Ok(part)) => {
                    leaves.extend(part);
                    Ok(leaves)
                }
                (Err(error), _) | (_, Err(error)) => Err(error),
            };
        }
        leaves
    });
    hashed.map_err(corrupt)
}

/// Each vote's line written into one reused buffer and hashed as a leaf.
fn hash_lines(votes: &[(TallyVote, bool)], salt: &SlotSalt) -> Result<Vec<MerkleHash>, String> {
    let mut line = Vec::with_capacity(256);
    let mut leaves = Vec::with_capacity(votes.len());
    for (vote, counted) in votes {
        line.clear();
        line_of(vote, salt, *counted).map_err(|error| format!("vote {}: {error}", vote.id))?.write_to(&mut line);
        leaves.push(merkle::leaf_hash(&line));
    }
    Ok(leaves)
}

/// Removes a slot's frozen tally (an unlock) and returns what it had
/// published, for the audit log.
pub(crate) fn drop_frozen(
    txn: &WriteTransaction,
    season: SeasonId,
    position: SlotPosition,
) -> Result<Option<FrozenTally>, StoreError> {
    let (s, p) = (season.get(), position.get());
    let mut heads = txn.open_table(SLOT_TO_TALLY_HEAD)?;
    let previous = match heads.get((s, p))? {
        Some(bytes) => Some(frozen_of(season, position, &records::tally_head_from_bytes(bytes.value())?)?),
        None => None,
    };
    let mut chunks = txn.open_table(SLOT_FIRST_VOTE_TO_TALLY_CHUNK)?;
    let mut nodes = txn.open_table(SLOT_TREE_NODE_TO_TALLY_HASH)?;
    remove_rows(&mut heads, &mut chunks, &mut nodes, s, p)?;
    Ok(previous)
}

fn remove_rows(
    heads: &mut redb::Table<(u64, u32), &'static [u8]>,
    chunks: &mut redb::Table<(u64, u32, u64), (u64, u64)>,
    nodes: &mut redb::Table<(u64, u32, u8, u64), &'static [u8; 32]>,
    s: u64,
    p: u32,
) -> Result<(), StoreError> {
    heads.remove((s, p))?;
    chunks.retain_in((s, p, 0)..=(s, p, u64::MAX), |_, _| false)?;
    nodes.retain_in((s, p, 0, 0)..=(s, p, u8::MAX, u64::MAX), |_, _| false)?;
    Ok(())
}

fn frozen_of(season: SeasonId, position: SlotPosition, record: &TallyHeadRecord) -> Result<FrozenTally, StoreError> {
    Ok(FrozenTally {
        season,
        position,
        root: MerkleHash::from_bytes(record.root),
        tree_size: record.tree_size,
        counted_votes: record.counted_votes,
        rules: TallyRules { daily_budget: record.daily_budget, multi_vote_mode: record.multi_vote_mode },
        winner: ClipId::new(record.winner).ok_or_else(|| corrupt("zero winner"))?,
        winner_assigned: record.winner_assigned,
        locked_at: Timestamp::from_millis(record.locked_at),
    })
}

/// What a proof look-up found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofLookup {
    /// The slot has no frozen tally (not locked, or locked before tallies
    /// were published).
    NotFrozen,
    /// The vote is not in this slot's tally.
    NoSuchVote,
    /// The proof.
    Found(TallyProof),
}

/// Why an export stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The slot has no frozen tally.
    #[error("the slot has no frozen tally")]
    NotFrozen,
    /// The slot was unlocked (and perhaps locked again) since its root was read.
    #[error("the slot's tally changed while it was being read")]
    Changed,
    /// Storage failed, or a regenerated chunk did not match its frozen hash.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One slot's frozen tables in a read transaction.
struct FrozenSlot<C, N, V> {
    slot: (SeasonId, SlotPosition),
    head: TallyHeadRecord,
    salt: SlotSalt,
    chunks: C,
    nodes: N,
    votes: V,
}

impl<C, N, V> FrozenSlot<C, N, V>
where
    C: ReadableTable<(u64, u32, u64), (u64, u64)>,
    N: ReadableTable<(u64, u32, u8, u64), &'static [u8; 32]>,
    V: ReadableTable<(u64, u32, u64), &'static VoteBytes>,
{
    fn keys(&self) -> (u64, u32) {
        (self.slot.0.get(), self.slot.1.get())
    }

    /// Lines in chunk `index`.
    fn chunk_len(&self, index: u64) -> u64 {
        self.head.tree_size.saturating_sub(index * CHUNK_LINES).min(CHUNK_LINES)
    }

    /// The frozen hash of chunk `index`.
    fn chunk_hash(&self, index: u64) -> Result<MerkleHash, StoreError> {
        if self.chunk_len(index) < CHUNK_LINES {
            return Ok(MerkleHash::from_bytes(self.head.last_chunk_hash));
        }
        self.node(CHUNK_LEVEL, index)
    }

    fn node(&self, level: u32, index: u64) -> Result<MerkleHash, StoreError> {
        let (s, p) = self.keys();
        let level_key = u8::try_from(level).map_err(|_| corrupt("no such level"))?;
        let hash = self.nodes.get((s, p, level_key, index))?.ok_or_else(|| corrupt(format!("node {level}/{index}")))?;
        Ok(MerkleHash::from_bytes(*hash.value()))
    }

    /// Regenerates chunk `index` (starting at vote `first`, with the frozen
    /// `mask`) into `out` and checks it against its frozen hash.
    fn regenerate(&self, index: u64, first: u64, mask: u64, out: &mut ChunkLines) -> Result<(), StoreError> {
        out.clear();
        let len = self.chunk_len(index) as usize;
        for_each_slot_vote(&self.votes, self.slot, first, |vote| {
            let line = line_of(vote, &self.salt, counted_bit(mask, out.len()))
                .map_err(|error| corrupt(format!("vote {}: {error}", vote.id)))?;
            out.push(&line);
            Ok(out.len() < len)
        })?;
        if out.len() != len {
            return Err(corrupt(format!("chunk {index} regenerates {} of its {len} lines", out.len())));
        }
        let expected = self.chunk_hash(index)?;
        if out.hash() != expected {
            return Err(corrupt(format!("chunk {index} no longer matches its frozen hash: a vote record changed")));
        }
        Ok(())
    }

    /// The chunk row holding `vote`: (first vote id, chunk index, mask).
    fn chunk_of(&self, vote: u64) -> Result<Option<(u64, u64, u64)>, StoreError> {
        let (s, p) = self.keys();
        let found = self.chunks.range((s, p, 0)..=(s, p, vote))?.next_back().transpose()?;
        Ok(found.map(|(key, value)| {
            let (index, mask) = value.value();
            (key.value().2, index, mask)
        }))
    }
}

/// A frozen slot read in one read transaction (its tables keep it open).
type ReadSlot = FrozenSlot<
    ReadOnlyTable<(u64, u32, u64), (u64, u64)>,
    ReadOnlyTable<(u64, u32, u8, u64), &'static [u8; 32]>,
    ReadOnlyTable<(u64, u32, u64), &'static VoteBytes>,
>;

/// Answers the Merkle layer for a proof: stored nodes, and the leaves of
/// the vote's own chunk and of the last chunk.
struct ProofSource<'a, C, N, V> {
    slot: &'a FrozenSlot<C, N, V>,
    own: (u64, Vec<MerkleHash>),
}

impl<C, N, V> FrozenTree for ProofSource<'_, C, N, V>
where
    C: ReadableTable<(u64, u32, u64), (u64, u64)>,
    N: ReadableTable<(u64, u32, u8, u64), &'static [u8; 32]>,
    V: ReadableTable<(u64, u32, u64), &'static VoteBytes>,
{
    type Error = StoreError;

    fn stored_subtree(&mut self, level: u32, index: u64) -> Result<MerkleHash, StoreError> {
        self.slot.node(level, index)
    }

    fn chunk_leaves(&mut self, chunk: u64) -> Result<Vec<MerkleHash>, StoreError> {
        if chunk == self.own.0 {
            return Ok(self.own.1.clone());
        }
        let first = self.slot.head.last_chunk_first_vote;
        let (_, index, mask) = self.slot.chunk_of(first)?.ok_or_else(|| corrupt("the last chunk's row is missing"))?;
        if index != chunk {
            return Err(corrupt(format!("a proof asked for chunk {chunk}, neither its own nor the last")));
        }
        let mut lines = ChunkLines::new();
        self.slot.regenerate(index, first, mask, &mut lines)?;
        Ok(lines.leaves)
    }
}

impl Store {
    /// A slot's status, `None` when there is no such slot (to tell "not
    /// locked yet" from "no such slot" when a tally is asked for).
    pub fn slot_status(&self, season: SeasonId, position: SlotPosition) -> Result<Option<SlotStatus>, StoreError> {
        let txn = self.read()?;
        let slots = txn.open_table(SLOT_TO_SLOT)?;
        let Some(bytes) = slots.get((season.get(), position.get()))? else { return Ok(None) };
        Ok(Some(records::slot_from_bytes(bytes.value())?.status))
    }

    /// A slot's published tally head, if it is locked with one.
    pub fn tally_head(&self, season: SeasonId, position: SlotPosition) -> Result<Option<FrozenTally>, StoreError> {
        let txn = self.read()?;
        let heads = txn.open_table(SLOT_TO_TALLY_HEAD)?;
        let Some(bytes) = heads.get((season.get(), position.get()))? else { return Ok(None) };
        Ok(Some(frozen_of(season, position, &records::tally_head_from_bytes(bytes.value())?)?))
    }

    /// Every published tally head of a season, in slot order (one per locked
    /// slot: a handful of small rows).
    pub fn tally_heads(&self, season: SeasonId) -> Result<Vec<FrozenTally>, StoreError> {
        let txn = self.read()?;
        let heads = txn.open_table(SLOT_TO_TALLY_HEAD)?;
        tally_heads_in(&heads, season)
    }

    fn frozen_slot(&self, season: SeasonId, position: SlotPosition) -> Result<Option<ReadSlot>, StoreError> {
        let txn = self.read()?;
        let heads = txn.open_table(SLOT_TO_TALLY_HEAD)?;
        let Some(bytes) = heads.get((season.get(), position.get()))? else { return Ok(None) };
        let head = records::tally_head_from_bytes(bytes.value())?;
        Ok(Some(FrozenSlot {
            slot: (season, position),
            salt: SlotSalt::from_bytes(head.salt),
            head,
            chunks: txn.open_table(SLOT_FIRST_VOTE_TO_TALLY_CHUNK)?,
            nodes: txn.open_table(SLOT_TREE_NODE_TO_TALLY_HASH)?,
            votes: txn.open_table(SLOT_VOTE_TO_VOTE)?,
        }))
    }

    /// Streams a frozen tally's lines to `sink`, one checked chunk (64
    /// lines) at a time, as long as its root is still `expected_root`;
    /// `sink` returns `false` to stop (the reader went away). Holds one
    /// chunk in memory.
    pub fn tally_export(
        &self,
        season: SeasonId,
        position: SlotPosition,
        expected_root: &MerkleHash,
        mut sink: impl FnMut(&[u8]) -> bool,
    ) -> Result<(), ExportError> {
        let Some(slot) = self.frozen_slot(season, position)? else { return Err(ExportError::NotFrozen) };
        if slot.head.root != *expected_root.as_bytes() {
            return Err(ExportError::Changed);
        }
        let (s, p) = slot.keys();
        let mut lines = ChunkLines::new();
        let mut expected_index = 0;
        for entry in slot.chunks.range((s, p, 0)..=(s, p, u64::MAX)).map_err(StoreError::from)? {
            let (key, value) = entry.map_err(StoreError::from)?;
            let (index, mask) = value.value();
            if index != expected_index {
                return Err(corrupt(format!("chunk {expected_index} is missing")).into());
            }
            slot.regenerate(index, key.value().2, mask, &mut lines)?;
            if !sink(&lines.text) {
                return Ok(());
            }
            expected_index += 1;
        }
        if expected_index * CHUNK_LINES < slot.head.tree_size {
            return Err(corrupt("the chunk rows end before the tally does").into());
        }
        Ok(())
    }

    /// The inclusion proof of one vote of a frozen tally: reads the vote's
    /// chunk (64 vote records), at most the last chunk besides, and about
    /// 2·log2(n) stored hashes.
    pub fn tally_proof(
        &self,
        season: SeasonId,
        position: SlotPosition,
        vote: VoteId,
    ) -> Result<ProofLookup, StoreError> {
        let Some(slot) = self.frozen_slot(season, position)? else { return Ok(ProofLookup::NotFrozen) };
        let Some((first, index, mask)) = slot.chunk_of(vote.get())? else { return Ok(ProofLookup::NoSuchVote) };
        let mut lines = ChunkLines::new();
        slot.regenerate(index, first, mask, &mut lines)?;
        let Some(offset) = lines.votes.iter().position(|id| *id == vote) else { return Ok(ProofLookup::NoSuchVote) };
        let line = lines.line(offset).ok_or_else(|| corrupt("line out of range"))?;
        let line = String::from_utf8(line.to_vec()).map_err(|_| corrupt("a line is not UTF-8"))?;
        let leaf_index = index * CHUNK_LINES + offset as u64;
        let tree_size = slot.head.tree_size;
        let source = ProofSource { slot: &slot, own: (index, lines.leaves) };
        let mut subtrees = ChunkedSubtrees::new(source, CHUNK_LEVEL);
        let audit_path = merkle::audit_path(leaf_index, tree_size, &mut subtrees).map_err(|error| match error {
            PathError::NoSuchLeaf { index, size } => corrupt(format!("leaf {index} outside {size}")),
            PathError::Source(merkle::ChunkedError::Source(error)) => error,
            PathError::Source(merkle::ChunkedError::Short(missing)) => corrupt(missing.to_string()),
        })?;
        let root = MerkleHash::from_bytes(slot.head.root);
        Ok(ProofLookup::Found(TallyProof { line, index: leaf_index, tree_size, audit_path, root }))
    }

    /// Lines and stored hashes of every frozen tally, for `check`: each
    /// tally is regenerated in full and must give its root again.
    pub(crate) fn check_tallies_frozen(&self, mismatches: &mut Vec<String>) -> Result<u64, StoreError> {
        let txn = self.read()?;
        let heads = txn.open_table(SLOT_TO_TALLY_HEAD)?;
        let mut checked = 0;
        let mut slots = Vec::new();
        for entry in heads.iter()? {
            let (key, _) = entry?;
            let (s, p) = key.value();
            if let (Some(season), Some(position)) = (SeasonId::new(s), SlotPosition::new(p)) {
                slots.push((season, position));
            }
        }
        drop(heads);
        for (season, position) in slots {
            let Some(head) = self.tally_head(season, position)? else { continue };
            let mut builder = RootBuilder::new();
            let outcome = self.tally_export(season, position, &head.root, |text| {
                for line in text.split(|b| *b == b'\n').filter(|line| !line.is_empty()) {
                    builder.push(merkle::leaf_hash(line));
                }
                true
            });
            checked += 1;
            match outcome {
                Ok(()) if builder.root() == head.root && builder.size() == head.tree_size => {}
                Ok(()) => mismatches.push(format!(
                    "slot {season}:{position} tally: lines give root {} of {} lines, frozen {} of {}",
                    builder.root(),
                    builder.size(),
                    head.root,
                    head.tree_size
                )),
                Err(error) => mismatches.push(format!("slot {season}:{position} tally: {error}")),
            }
        }
        Ok(checked)
    }
}

/// Every tally head of `season` in `heads`.
pub(crate) fn tally_heads_in(
    heads: &impl ReadableTable<(u64, u32), &'static [u8]>,
    season: SeasonId,
) -> Result<Vec<FrozenTally>, StoreError> {
    let mut found = Vec::new();
    for entry in heads.range((season.get(), 0)..=(season.get(), u32::MAX))? {
        let (key, bytes) = entry?;
        let position = SlotPosition::new(key.value().1).ok_or_else(|| corrupt("zero position"))?;
        found.push(frozen_of(season, position, &records::tally_head_from_bytes(bytes.value())?)?);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::VoterKey;
    use crate::domain::model::Vote;
    use crate::domain::tally::merkle::{leaf_hash, verify_inclusion};
    use crate::domain::tally::{Expected, TallyChecker};
    use crate::domain::vote::VoteType;
    use redb::{ReadableDatabase, ReadableTableMetadata};

    const SEASON: u64 = 1;

    fn slot(position: u32) -> (SeasonId, SlotPosition) {
        (SeasonId::new(SEASON).expect("id"), SlotPosition::new(position).expect("position"))
    }

    fn vote(id: u64, position: u32, voter: u64, clip: u64, vote_type: VoteType, state: VoteState) -> Vote {
        let cast_at = Timestamp::from_millis(1_796_589_841_123 + id as i64 * 1000);
        Vote {
            id: VoteId::new(id).expect("id"),
            voter: VoterKey::user(crate::domain::ids::UserId::new(voter).expect("id")),
            season: SeasonId::new(SEASON).expect("id"),
            position: SlotPosition::new(position).expect("position"),
            clip: ClipId::new(clip).expect("id"),
            vote_type,
            weight: vote_type.weight(),
            day: cast_at.utc_day(),
            cast_at,
            state,
            risk_score: 0,
            risk_reasons: 0,
            flagged: false,
        }
    }

    /// Stores votes the way the writer does (the one place these tests know
    /// the vote layout).
    fn insert_votes(txn: &WriteTransaction, votes: &[Vote]) {
        let mut records = txn.open_table(SLOT_VOTE_TO_VOTE).expect("table");
        for vote in votes {
            let bytes = vote_layout::encode_vote(vote).expect("encode");
            records.insert(vote_layout::vote_key(vote), &bytes).expect("insert");
        }
    }

    fn freeze_in(store: &Store, position: u32, votes: &[Vote], competing: &[u64]) -> FrozenTally {
        freeze_salted(store, position, votes, competing, SlotSalt::from_bytes(rand::random()))
    }

    fn freeze_salted(store: &Store, position: u32, votes: &[Vote], competing: &[u64], salt: SlotSalt) -> FrozenTally {
        let txn = store.database().expect("db").begin_write().expect("txn");
        insert_votes(&txn, votes);
        let frozen = {
            let records = txn.open_table(SLOT_VOTE_TO_VOTE).expect("table");
            let request = FreezeRequest {
                slot: slot(position),
                competing: competing.iter().filter_map(|id| ClipId::new(*id)).collect(),
                winner: ClipId::new(competing[0]).expect("id"),
                winner_assigned: false,
                rules: TallyRules::default(),
                locked_at: Timestamp::from_millis(1_800_000_000_000),
                salt,
            };
            freeze(&txn, &records, &request).expect("freeze")
        };
        txn.commit().expect("commit");
        frozen
    }

    fn export(store: &Store, position: u32, root: &MerkleHash) -> Vec<u8> {
        let mut out = Vec::new();
        let (season, position) = slot(position);
        store
            .tally_export(season, position, root, |text| {
                out.extend_from_slice(text);
                true
            })
            .expect("export");
        out
    }

    fn open_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db.redb"), 4 << 20).expect("store");
        (dir, store)
    }

    #[test]
    fn every_size_exports_its_root_and_proves_every_vote() {
        let (_dir, store) = open_store();
        for (position, size) in [(1u32, 0u64), (2, 1), (3, 63), (4, 64), (5, 65), (6, 130), (7, 257)] {
            // Votes of several slots interleave in id order, as they do after an unlock.
            let votes: Vec<Vote> = (1..=size)
                .map(|n| {
                    let state = if n % 7 == 0 { VoteState::Voided } else { VoteState::Counted };
                    vote(u64::from(position) * 10_000 + n, position, n % 13 + 1, n % 3 + 1, VoteType::Standard, state)
                })
                .collect();
            let frozen = freeze_in(&store, position, &votes, &[1, 2, 3]);
            assert_eq!(frozen.tree_size, size);
            let text = export(&store, position, &frozen.root);
            let mut checker = TallyChecker::new(TallyRules { daily_budget: 10_000, multi_vote_mode: true });
            let mut leaves = Vec::new();
            for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                checker.push_line(line).expect("canonical line");
                leaves.push(leaf_hash(line));
            }
            let report = checker.finish(&Expected { root: Some(frozen.root), winner: None }).expect("recount");
            assert_eq!(report.tree_size, size);
            assert_eq!(report.counted_votes, frozen.counted_votes);
            assert_eq!(report.counted_votes, size - size / 7);
            let (season, at) = slot(position);
            for (index, vote) in votes.iter().enumerate() {
                let ProofLookup::Found(proof) = store.tally_proof(season, at, vote.id).expect("proof") else {
                    panic!("no proof of vote {}", vote.id)
                };
                assert_eq!(proof.index, index as u64);
                assert_eq!(leaf_hash(proof.line.as_bytes()), leaves[index]);
                verify_inclusion(proof.index, size, &leaves[index], &proof.audit_path, &frozen.root)
                    .expect("the proof verifies");
            }
            let absent = VoteId::new(99_999_999).expect("id");
            assert_eq!(store.tally_proof(season, at, absent).expect("lookup"), ProofLookup::NoSuchVote);
        }
    }

    /// The freeze and the export decode votes without allocating, and the
    /// freeze hashes batches of lines on several threads; the lines must be
    /// byte for byte what `line_of_vote` makes of the decoded vote, in
    /// order, for both shapes of voter key and every state, across batches.
    #[test]
    fn lines_are_those_of_the_decoded_votes() {
        let (_dir, store) = open_store();
        let salt = SlotSalt::from_bytes([7; 32]);
        let states = [VoteState::Counted, VoteState::Revoked { refunded: true }, VoteState::Voided];
        let size = FREEZE_BATCH as u64 + 2 * MIN_LINES_PER_THREAD as u64 + 3;
        let votes: Vec<Vote> = (1..=size)
            .map(|n| {
                let mut vote = vote(n, 9, n % 11 + 1, n % 4 + 1, VoteType::Standard, states[n as usize % 3]);
                if n % 2 == 0 {
                    vote.voter = VoterKey::device((n as u128).to_le_bytes());
                }
                vote
            })
            .collect();
        let frozen = freeze_salted(&store, 9, &votes, &[1, 2, 3], salt.clone());
        let text = export(&store, 9, &frozen.root);
        let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), votes.len());
        let mut leaves = Vec::with_capacity(votes.len());
        for (vote, line) in votes.iter().zip(lines) {
            let counted = vote.counts() && vote.clip.get() <= 3;
            let expected = crate::domain::tally::line_of_vote(vote, &salt, counted).expect("in range").to_bytes();
            assert_eq!(line, expected.as_slice(), "vote {}", vote.id);
            leaves.push(leaf_hash(&expected));
        }
        assert_eq!(frozen.root, merkle::root_of(&leaves));
    }

    #[test]
    fn published_bytes_survive_a_later_void_and_a_changed_record_is_refused() {
        let (_dir, store) = open_store();
        let votes: Vec<Vote> = (1..=70)
            .map(|n| vote(n, 1, n, if n == 5 { 9 } else { 1 }, VoteType::Standard, VoteState::Counted))
            .collect();
        let frozen = freeze_in(&store, 1, &votes, &[1]);
        let before = export(&store, 1, &frozen.root);
        // Vote 5 was for clip 9, withdrawn before the lock: not counted.
        assert!(String::from_utf8_lossy(&before).lines().nth(4).is_some_and(|l| l.ends_with("\"counted\":false}")));
        assert_eq!(frozen.counted_votes, 69);
        // An admin voids vote 3 after the lock: the published line stays counted.
        let txn = store.database().expect("db").begin_write().expect("txn");
        let mut voided = votes[2].clone();
        voided.state = VoteState::Voided;
        insert_votes(&txn, &[voided]);
        txn.commit().expect("commit");
        assert_eq!(export(&store, 1, &frozen.root), before);
        // A changed vote record (a bug, a bad migration) is refused, not served.
        let txn = store.database().expect("db").begin_write().expect("txn");
        let mut changed = votes[66].clone();
        changed.clip = ClipId::new(2).expect("id");
        insert_votes(&txn, &[changed]);
        txn.commit().expect("commit");
        let (season, position) = slot(1);
        let error = store.tally_export(season, position, &frozen.root, |_| true).expect_err("refused");
        assert!(error.to_string().contains("frozen hash"), "{error}");
        assert!(store.tally_proof(season, position, votes[66].id).is_err());
        assert!(matches!(
            store.tally_export(season, position, &MerkleHash::from_bytes([0; 32]), |_| true),
            Err(ExportError::Changed)
        ));
        let mut mismatches = Vec::new();
        assert_eq!(store.check_tallies_frozen(&mut mismatches).expect("check"), 1);
        assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    }

    #[test]
    fn dropping_removes_every_row_and_a_proof_reads_few_nodes() {
        let (_dir, store) = open_store();
        let votes: Vec<Vote> = (1..=1000).map(|n| vote(n, 2, n, 1, VoteType::Standard, VoteState::Counted)).collect();
        let frozen = freeze_in(&store, 2, &votes, &[1]);
        let txn = store.database().expect("db").begin_read().expect("txn");
        // 1000 lines: 16 chunks, and 15 + 7 + 3 + 1 + 0 perfect subtrees of 64 lines or more.
        assert_eq!(txn.open_table(SLOT_FIRST_VOTE_TO_TALLY_CHUNK).expect("table").len().expect("len"), 16);
        assert_eq!(txn.open_table(SLOT_TREE_NODE_TO_TALLY_HASH).expect("table").len().expect("len"), 26);
        drop(txn);
        let (season, position) = slot(2);
        assert_eq!(store.tally_heads(season).expect("heads"), vec![frozen]);
        let txn = store.database().expect("db").begin_write().expect("txn");
        assert_eq!(drop_frozen(&txn, season, position).expect("drop"), Some(frozen));
        txn.commit().expect("commit");
        let txn = store.database().expect("db").begin_read().expect("txn");
        assert_eq!(txn.open_table(SLOT_FIRST_VOTE_TO_TALLY_CHUNK).expect("table").len().expect("len"), 0);
        assert_eq!(txn.open_table(SLOT_TREE_NODE_TO_TALLY_HASH).expect("table").len().expect("len"), 0);
        assert_eq!(store.tally_head(season, position).expect("head"), None);
        assert_eq!(store.tally_proof(season, position, votes[0].id).expect("lookup"), ProofLookup::NotFrozen);
    }
}
