//! A locked slot's frozen tally as the server keeps and publishes it: the
//! head ([`FrozenTally`]: root, size, and the rules and winner the lines are
//! checked against), how a stored vote becomes its published line
//! ([`line_of_vote`]), how a chunk of lines is hashed and checked against
//! its frozen hash ([`ChunkLines`]), and a proof of one vote ([`TallyProof`]).
//!
//! Pure: the store decides where the pieces live (see the module docs of
//! `domain::tally`).

use super::CHUNK_LEVEL;
use super::line::{LineError, Pseudonym, SlotSalt, TallyLine};
use super::merkle::{MerkleHash, leaf_hash, root_of};
use super::recount::TallyRules;
use crate::domain::clock::Timestamp;
use crate::domain::ids::{ClipId, SeasonId, SlotPosition, VoteId};
use crate::domain::model::Vote;

/// Lines per chunk: `2^CHUNK_LEVEL`.
pub const CHUNK_LINES: u64 = 1 << CHUNK_LEVEL;

/// What a locked slot publishes besides its lines. The salt is not here: it
/// never leaves the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrozenTally {
    /// The season.
    pub season: SeasonId,
    /// The slot.
    pub position: SlotPosition,
    /// The RFC 6962 root over the lines.
    pub root: MerkleHash,
    /// Lines (every vote of the slot, counted or not).
    pub tree_size: u64,
    /// Lines marked counted.
    pub counted_votes: u64,
    /// The rules the recount checks: the daily budget the server ran with
    /// and whether multi-vote mode was on when the slot locked.
    pub rules: TallyRules,
    /// The slot's winner.
    pub winner: ClipId,
    /// Whether an admin assigned the winner (then the lines need not agree
    /// with it; a verifier reports it instead of checking it).
    pub winner_assigned: bool,
    /// When the slot locked.
    pub locked_at: Timestamp,
}

/// The published line of a stored vote, under the slot's salt and the
/// `counted` bit frozen at the lock. Refuses a vote whose cast time has no
/// canonical spelling (before 1970 or after 9999), which a server clock
/// never produces.
pub fn line_of_vote(vote: &Vote, salt: &SlotSalt, counted: bool) -> Result<TallyLine, LineError> {
    TallyLine::new(
        vote.id,
        Pseudonym::of(salt, &vote.voter),
        vote.clip,
        vote.vote_type,
        vote.weight,
        vote.cast_at,
        counted,
    )
}

/// One chunk of consecutive lines, regenerated: the canonical bytes of each
/// line (newline-terminated, ready to send) and their leaf hashes.
#[derive(Debug, Clone, Default)]
pub struct ChunkLines {
    /// The lines, each followed by `\n`.
    pub text: Vec<u8>,
    /// The vote of each line, in order.
    pub votes: Vec<VoteId>,
    /// Each line's leaf hash, in order.
    pub leaves: Vec<MerkleHash>,
    /// Where each line starts in `text`, in order.
    starts: Vec<usize>,
}

impl ChunkLines {
    /// An empty chunk with room for a full one.
    pub fn new() -> Self {
        ChunkLines {
            text: Vec::with_capacity(CHUNK_LINES as usize * 210),
            votes: Vec::with_capacity(CHUNK_LINES as usize),
            leaves: Vec::with_capacity(CHUNK_LINES as usize),
            starts: Vec::with_capacity(CHUNK_LINES as usize),
        }
    }

    /// Appends a line.
    pub fn push(&mut self, line: &TallyLine) {
        let start = self.text.len();
        line.write_to(&mut self.text);
        self.leaves.push(leaf_hash(&self.text[start..]));
        self.text.push(b'\n');
        self.votes.push(line.vote());
        self.starts.push(start);
    }

    /// Lines held.
    pub fn len(&self) -> usize {
        self.votes.len()
    }

    /// Whether no line is held.
    pub fn is_empty(&self) -> bool {
        self.votes.is_empty()
    }

    /// The Merkle tree hash of the chunk's lines (a perfect subtree when the
    /// chunk is full; the last chunk of a slot may be shorter).
    pub fn hash(&self) -> MerkleHash {
        root_of(&self.leaves)
    }

    /// The bytes of line `index` (without its newline).
    pub fn line(&self, index: usize) -> Option<&[u8]> {
        let start = *self.starts.get(index)?;
        let end = self.starts.get(index + 1).map_or(self.text.len(), |next| *next) - 1;
        self.text.get(start..end)
    }

    /// Empties the chunk for reuse.
    pub fn clear(&mut self) {
        self.text.clear();
        self.votes.clear();
        self.leaves.clear();
        self.starts.clear();
    }
}

/// Bit `index` of a chunk's counted mask.
pub fn counted_bit(mask: u64, index: usize) -> bool {
    index < 64 && mask & (1 << index) != 0
}

/// An RFC 6962 inclusion proof of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TallyProof {
    /// The line's bytes.
    pub line: String,
    /// Its 0-based leaf index.
    pub index: u64,
    /// The number of lines.
    pub tree_size: u64,
    /// Sibling hashes from the leaf up.
    pub audit_path: Vec<MerkleHash>,
    /// The published root the path leads to.
    pub root: MerkleHash,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clock::UtcDay;
    use crate::domain::ids::VoterKey;
    use crate::domain::model::VoteState;
    use crate::domain::vote::VoteType;

    #[test]
    fn a_chunk_keeps_each_line_and_its_leaf() {
        let salt = SlotSalt::from_bytes([9; 32]);
        let mut chunk = ChunkLines::new();
        for id in 1..=3u64 {
            let vote = Vote {
                id: VoteId::new(id).expect("id"),
                voter: VoterKey::device([id as u8; 16]),
                season: SeasonId::new(1).expect("id"),
                position: SlotPosition::FIRST,
                clip: ClipId::new(2).expect("id"),
                vote_type: VoteType::Standard,
                weight: 1,
                day: UtcDay::from_number(20_000),
                cast_at: Timestamp::from_millis(1_728_000_000_000 + id as i64),
                state: VoteState::Counted,
                risk_score: 0,
                risk_reasons: 0,
                flagged: false,
            };
            chunk.push(&line_of_vote(&vote, &salt, id != 2).expect("in range"));
        }
        assert_eq!(chunk.len(), 3);
        let second = chunk.line(1).expect("line");
        assert!(second.ends_with(b"\"counted\":false}"));
        assert_eq!(leaf_hash(second), chunk.leaves[1]);
        assert_eq!(chunk.text.iter().filter(|b| **b == b'\n').count(), 3);
        assert_eq!(chunk.line(2).map(|l| l.len() + 1), Some(chunk.text.len() - chunk.starts[2]));
        assert_eq!(chunk.hash(), root_of(&chunk.leaves));
        assert!(counted_bit(0b101, 2) && !counted_bit(0b101, 1) && !counted_bit(u64::MAX, 64));
    }
}
