//! Schema 2's vote storage, kept only so the migration to schema 3 can read
//! an older file: the tables it had and the rkyv vote record. Nothing else
//! names these; their ledgers are not read at all (schema 3 rebuilds every
//! ledger from the votes). Also schema 3's genre vote, one round only, read
//! by the migration to schema 4.

use redb::TableDefinition;
use rkyv::{Archive, Deserialize, Serialize};

use super::StoreError;
use super::records::decode;
use crate::domain::clock::{Timestamp, UtcDay};
use crate::domain::ids::{ClipId, SeasonId, SlotPosition, VoteId, VoterKey};
use crate::domain::model::{Vote, VoteState};
use crate::domain::vote::VoteType;

/// Vote id → rkyv vote record.
pub const VOTE_ID_TO_VOTE: TableDefinition<u64, &[u8]> = TableDefinition::new("vote_id_to_vote");
/// (season id, position, vote id) → (), the slot index of the votes.
pub const SLOT_VOTE_TO_MEMBERSHIP: TableDefinition<(u64, u32, u64), ()> =
    TableDefinition::new("slot_vote_to_membership");
/// Voter key text → rkyv ledger (the voter's latest slot only).
pub const VOTER_TO_LEDGER: TableDefinition<&str, &[u8]> = TableDefinition::new("voter_to_ledger");
/// Voter key text → (counted votes, weight), every voter.
pub const VOTER_TO_TALLY: TableDefinition<&str, (u64, u64)> = TableDefinition::new("voter_to_tally");

/// Schema 3: voter key → the genre they voted for (one round, never reset).
pub const GENRE_VOTER_TO_GENRE: TableDefinition<&str, &str> = TableDefinition::new("genre_voter_to_genre");
/// Schema 3: genre → number of voters choosing it.
pub const GENRE_TO_COUNT: TableDefinition<&str, u64> = TableDefinition::new("genre_to_count");

fn corrupt(what: &'static str, reason: &str) -> StoreError {
    StoreError::Corrupt { what, reason: reason.to_owned() }
}

/// Stored form of [`Vote`].
#[derive(Archive, Serialize, Deserialize, Debug, Clone)]
pub struct VoteRecord {
    id: u64,
    voter: String,
    season: u64,
    position: u32,
    clip: u64,
    vote_type: u8,
    weight: u32,
    day: u32,
    cast_at: i64,
    /// 0 counted, 1 revoked with refund, 2 revoked without refund, 3 voided.
    state: u8,
    risk_score: u8,
    risk_reasons: u16,
    flagged: bool,
}

impl From<&Vote> for VoteRecord {
    fn from(vote: &Vote) -> Self {
        Self {
            id: vote.id.get(),
            voter: vote.voter.as_str().to_owned(),
            season: vote.season.get(),
            position: vote.position.get(),
            clip: vote.clip.get(),
            vote_type: vote.vote_type.tag(),
            weight: vote.weight,
            day: vote.day.number(),
            cast_at: vote.cast_at.millis(),
            state: match vote.state {
                VoteState::Counted => 0,
                VoteState::Revoked { refunded: true } => 1,
                VoteState::Revoked { refunded: false } => 2,
                VoteState::Voided => 3,
            },
            risk_score: vote.risk_score,
            risk_reasons: vote.risk_reasons,
            flagged: vote.flagged,
        }
    }
}

impl TryFrom<VoteRecord> for Vote {
    type Error = StoreError;

    fn try_from(record: VoteRecord) -> Result<Self, StoreError> {
        Ok(Vote {
            id: VoteId::new(record.id).ok_or_else(|| corrupt("vote", "zero id"))?,
            voter: VoterKey::parse(&record.voter).map_err(|_| corrupt("vote", "bad voter key"))?,
            season: SeasonId::new(record.season).ok_or_else(|| corrupt("vote", "zero season"))?,
            position: SlotPosition::new(record.position).ok_or_else(|| corrupt("vote", "zero slot"))?,
            clip: ClipId::new(record.clip).ok_or_else(|| corrupt("vote", "zero clip"))?,
            vote_type: VoteType::from_tag(record.vote_type).ok_or_else(|| corrupt("vote", "bad type"))?,
            weight: record.weight,
            day: UtcDay::from_number(record.day),
            cast_at: Timestamp::from_millis(record.cast_at),
            state: match record.state {
                0 => VoteState::Counted,
                1 => VoteState::Revoked { refunded: true },
                2 => VoteState::Revoked { refunded: false },
                3 => VoteState::Voided,
                _ => return Err(corrupt("vote", "bad state")),
            },
            risk_score: record.risk_score,
            risk_reasons: record.risk_reasons,
            flagged: record.flagged,
        })
    }
}

/// Decodes a schema-2 vote record.
pub fn vote_from_bytes(bytes: &[u8]) -> Result<Vote, StoreError> {
    decode::<VoteRecord>(bytes, "vote")?.try_into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::encode;

    #[test]
    fn a_vote_round_trips_and_tampering_is_caught() {
        let vote = Vote {
            id: VoteId::new(9).expect("nonzero"),
            voter: VoterKey::device([7; 16]),
            season: SeasonId::new(1).expect("nonzero"),
            position: SlotPosition::FIRST,
            clip: ClipId::new(3).expect("nonzero"),
            vote_type: VoteType::Mega,
            weight: 10,
            day: UtcDay::from_number(20_000),
            cast_at: Timestamp::from_millis(123),
            state: VoteState::Revoked { refunded: false },
            risk_score: 70,
            risk_reasons: 3,
            flagged: true,
        };
        let bytes = encode(&VoteRecord::from(&vote));
        assert_eq!(vote_from_bytes(&bytes).expect("decodes"), vote);
        assert!(vote_from_bytes(&bytes[..bytes.len() - 3]).is_err());
        let mut wrong_version = bytes.clone();
        wrong_version[0] = 99;
        assert!(vote_from_bytes(&wrong_version).is_err());
        assert!(vote_from_bytes(&[]).is_err());
    }
}
