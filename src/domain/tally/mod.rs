//! A tally anyone can verify (issue #15). When a slot locks, its votes are
//! published as canonical JSON lines in vote-id order ([`line`]), with the
//! RFC 6962 Merkle root over them ([`merkle`]); anyone can recount the lines
//! and check the rules ([`recount`]), and a voter can check one vote with an
//! audit path instead of the whole slot.
//!
//! Everything here is pure: no storage, no HTTP.
//!
//! # How a frozen tally is stored (the plan the store follows)
//!
//! The published bytes must never change once the slot locks, even when an
//! admin voids a vote later, and the disk budget is tight (issue #16: at most
//! about 120 bytes per vote in all). So the lines are not stored as text, and
//! not even as a per-vote frozen record; they are **regenerated** from what
//! is already immutable, and **anchored** by hashes frozen at lock time:
//!
//! - *Head*, one record per locked slot: the root, the tree size, the slot's
//!   secret [`SlotSalt`], and the Merkle hash of the last, partial chunk.
//!   Unlocking deletes the head and the rows below (the audit log keeps the
//!   old root); the next lock freezes afresh with a new salt.
//! - *Chunks*: one row per run of `2^CHUNK_LEVEL` = 64 consecutive lines,
//!   keyed by (season, slot, first vote id) so the chunk of a vote is one
//!   range look-up, holding the chunk's index and a 64-bit "counted" mask.
//!   The mask is frozen, so a later void cannot flip a published `counted`.
//! - *Nodes*: the hash of every perfect aligned subtree at or above
//!   [`CHUNK_LEVEL`], keyed by (season, slot, level, index): what
//!   [`RootBuilder::push_reporting`] reports during the freeze. Level 6 is
//!   each full chunk's hash.
//!
//! That is about n/64 chunk rows and n/32 node rows of 30–60 bytes: about
//! 2 bytes per vote, against ~45 for a compact frozen record per vote (its
//! 32-byte pseudonym alone is most of that) or ~200 for the JSON text.
//!
//! - A line is regenerated from the vote record (id, voter key, clip, type,
//!   weight, cast time: none of these changes after a vote is cast), the
//!   frozen counted bit, and the pseudonym `Pseudonym::of(salt, voter key)`.
//!   Every regenerated chunk is hashed and compared with its frozen hash
//!   before a byte of it is served; a mismatch (a migration or bug that
//!   changed a vote record) is an internal error, never different bytes.
//!
//! An export streams chunk by chunk (64 lines in memory, checked, then
//! written). A proof reads the chunk row, the chunk's 64 vote records (a
//! range of the slot's vote index from its first vote id), at most one more
//! chunk (the ragged right edge) and at most about 2·log2(n) node hashes
//! ([`ChunkedSubtrees`] over the store's [`FrozenTree`]); `merkle`'s tests
//! count those reads.

pub mod frozen;
pub mod line;
pub mod merkle;
pub mod recount;

pub use frozen::{CHUNK_LINES, ChunkLines, FrozenTally, TallyProof, counted_bit, line_of_vote};
pub use line::{LineError, MAX_LINE_BYTES, Pseudonym, SlotSalt, TallyLine};
pub use merkle::{ChunkedSubtrees, FrozenTree, MerkleHash, RootBuilder};
pub use recount::{ClipStanding, Discrepancy, Expected, TallyChecker, TallyReport, TallyRules, TallyWinner};

/// Lines per stored chunk: `2^CHUNK_LEVEL`. Below this level proofs hash
/// regenerated lines; at and above it they read frozen subtree hashes.
pub const CHUNK_LEVEL: u32 = 6;
