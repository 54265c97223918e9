//! The compact stored form of votes and voter ledgers (schema 3): the part
//! of the file that grows with every vote, so every byte counts.
//!
//! - A voter key is 17 bytes: a tag (`1` user, `2` device) and the user id
//!   (big-endian, zero-padded) or the device's 16-byte fingerprint, instead
//!   of its text form.
//! - A vote is [`VOTE_BYTES`] fixed bytes under the key (season, position,
//!   vote id): version, voter, clip, cast time, one byte of type, state and
//!   the flagged bit, weight, and the fraud risk. Its UTC day is its cast
//!   time's day. Fixed width: redb stores no per-entry offsets, a revoke
//!   rewrites it in place, and appends to the open slot pack full pages.
//! - A ledger is a few varints: the day budget, then the slot and its votes.
//!
//! Each form starts with a version byte; a new layout needs a new version and
//! a migration (see `migrations.rs`).

use super::StoreError;
use crate::domain::clock::{Timestamp, UtcDay};
use crate::domain::ids::{ClipId, SeasonId, SlotPosition, UserId, VoteId, VoterKey, VoterKeyText};
use crate::domain::ledger::{DayBudget, LedgerVote, SlotLedger};
use crate::domain::model::{Vote, VoteState};
use crate::domain::vote::{SpecialsUsed, VoteType};

/// Bytes of a stored voter key.
pub const VOTER_BYTES: usize = 17;
/// A voter key as stored.
pub type VoterBytes = [u8; VOTER_BYTES];
/// Bytes of a stored vote.
pub const VOTE_BYTES: usize = 39;
/// A vote as stored.
pub type VoteBytes = [u8; VOTE_BYTES];
/// A slot as keys hold it: (season id, position).
pub type SlotKey = (u64, u32);

const VOTE_VERSION: u8 = 1;
const LEDGER_VERSION: u8 = 1;
const TAG_USER: u8 = 1;
const TAG_DEVICE: u8 = 2;

fn corrupt(what: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { what, reason: reason.into() }
}

/// The stored form of a voter key.
pub fn voter_bytes(voter: &VoterKey) -> VoterBytes {
    let mut bytes = [0u8; VOTER_BYTES];
    match voter.user_id() {
        Some(user) => {
            bytes[0] = TAG_USER;
            bytes[1..9].copy_from_slice(&user.get().to_be_bytes());
        }
        None => {
            // `VoterKey` only holds `u:<id>` or `d:<32 hex digits>`.
            bytes[0] = TAG_DEVICE;
            let hex = voter.as_str().get(2..).unwrap_or_default();
            if hex::decode_to_slice(hex, &mut bytes[1..]).is_err() {
                bytes[1..].fill(0);
            }
        }
    }
    bytes
}

/// Reads a stored voter key back.
pub fn voter_from_bytes(bytes: &VoterBytes) -> Result<VoterKey, StoreError> {
    match bytes[0] {
        TAG_USER => {
            let mut id = [0u8; 8];
            id.copy_from_slice(&bytes[1..9]);
            let user = UserId::new(u64::from_be_bytes(id)).ok_or_else(|| corrupt("voter key", "zero user id"))?;
            Ok(VoterKey::user(user))
        }
        TAG_DEVICE => {
            let mut fingerprint = [0u8; 16];
            fingerprint.copy_from_slice(&bytes[1..]);
            Ok(VoterKey::device(fingerprint))
        }
        tag => Err(corrupt("voter key", format!("unknown tag {tag}"))),
    }
}

/// The text of a stored voter key, without allocating; refuses what
/// [`voter_from_bytes`] refuses.
pub fn voter_text(bytes: &VoterBytes) -> Result<VoterKeyText, StoreError> {
    match bytes[0] {
        TAG_USER => {
            let mut id = [0u8; 8];
            id.copy_from_slice(&bytes[1..9]);
            let user = UserId::new(u64::from_be_bytes(id)).ok_or_else(|| corrupt("voter key", "zero user id"))?;
            Ok(VoterKeyText::user(user))
        }
        TAG_DEVICE => {
            let mut fingerprint = [0u8; 16];
            fingerprint.copy_from_slice(&bytes[1..]);
            Ok(VoterKeyText::device(&fingerprint))
        }
        tag => Err(corrupt("voter key", format!("unknown tag {tag}"))),
    }
}

/// The key of a voter's stored user id, when signed in.
pub fn user_of(bytes: &VoterBytes) -> Option<UserId> {
    if bytes[0] != TAG_USER {
        return None;
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[1..9]);
    UserId::new(u64::from_be_bytes(id))
}

fn state_code(state: VoteState) -> u8 {
    match state {
        VoteState::Counted => 0,
        VoteState::Revoked { refunded: true } => 1,
        VoteState::Revoked { refunded: false } => 2,
        VoteState::Voided => 3,
    }
}

fn state_of(code: u8) -> Option<VoteState> {
    match code {
        0 => Some(VoteState::Counted),
        1 => Some(VoteState::Revoked { refunded: true }),
        2 => Some(VoteState::Revoked { refunded: false }),
        3 => Some(VoteState::Voided),
        _ => None,
    }
}

/// The key of a vote.
pub fn vote_key(vote: &Vote) -> (u64, u32, u64) {
    (vote.season.get(), vote.position.get(), vote.id.get())
}

/// The stored bytes of a vote (its key holds the slot and id).
pub fn encode_vote(vote: &Vote) -> Result<VoteBytes, StoreError> {
    let weight = u8::try_from(vote.weight).map_err(|_| corrupt("vote", format!("weight {} too large", vote.weight)))?;
    let mut bytes = [0u8; VOTE_BYTES];
    bytes[0] = VOTE_VERSION;
    bytes[1..18].copy_from_slice(&voter_bytes(&vote.voter));
    bytes[18..26].copy_from_slice(&vote.clip.get().to_le_bytes());
    bytes[26..34].copy_from_slice(&vote.cast_at.millis().to_le_bytes());
    bytes[34] = vote.vote_type.tag() | (state_code(vote.state) << 2) | (u8::from(vote.flagged) << 5);
    bytes[35] = weight;
    bytes[36] = vote.risk_score;
    bytes[37..39].copy_from_slice(&vote.risk_reasons.to_le_bytes());
    Ok(bytes)
}

/// Reads a stored vote back from its key and bytes.
pub fn decode_vote(key: (u64, u32, u64), bytes: &VoteBytes) -> Result<Vote, StoreError> {
    let (season, position, id) = key;
    let fields = fields(bytes)?;
    Ok(Vote {
        id: VoteId::new(id).ok_or_else(|| corrupt("vote", "zero id"))?,
        voter: voter_from_bytes(&fields.voter)?,
        season: SeasonId::new(season).ok_or_else(|| corrupt("vote", "zero season"))?,
        position: SlotPosition::new(position).ok_or_else(|| corrupt("vote", "zero slot"))?,
        clip: fields.clip,
        vote_type: fields.vote_type,
        weight: fields.weight,
        day: fields.cast_at.utc_day(),
        cast_at: fields.cast_at,
        state: fields.state,
        risk_score: bytes[36],
        risk_reasons: u16::from_le_bytes([bytes[37], bytes[38]]),
        flagged: bytes[34] & (1 << 5) != 0,
    })
}

/// What a published tally line needs of a stored vote, read without
/// allocating: a freeze and an export read every vote of a slot (a
/// million), and [`decode_vote`] allocates the voter key's text.
#[derive(Debug, Clone, Copy)]
pub struct TallyVote {
    /// The vote's id.
    pub id: VoteId,
    /// The voter key's text, as [`VoterKey::as_str`] spells it.
    pub voter: VoterKeyText,
    /// The clip voted for.
    pub clip: ClipId,
    /// Standard, super or mega.
    pub vote_type: VoteType,
    /// Its weight.
    pub weight: u32,
    /// When it was cast.
    pub cast_at: Timestamp,
    /// Counted, revoked or voided.
    pub state: VoteState,
}

/// Reads what a tally line needs of the stored vote `id`, with the same
/// checks as [`decode_vote`].
pub fn decode_tally_vote(id: u64, bytes: &VoteBytes) -> Result<TallyVote, StoreError> {
    let fields = fields(bytes)?;
    Ok(TallyVote {
        id: VoteId::new(id).ok_or_else(|| corrupt("vote", "zero id"))?,
        voter: voter_text(&fields.voter)?,
        clip: fields.clip,
        vote_type: fields.vote_type,
        weight: fields.weight,
        cast_at: fields.cast_at,
        state: fields.state,
    })
}

/// The checked fields of a stored vote's bytes that both readers share.
struct Fields {
    voter: VoterBytes,
    clip: ClipId,
    cast_at: Timestamp,
    vote_type: VoteType,
    weight: u32,
    state: VoteState,
}

fn fields(bytes: &VoteBytes) -> Result<Fields, StoreError> {
    if bytes[0] != VOTE_VERSION {
        return Err(corrupt("vote", format!("unknown record version {}", bytes[0])));
    }
    let mut voter = [0u8; VOTER_BYTES];
    voter.copy_from_slice(&bytes[1..18]);
    let mut clip = [0u8; 8];
    clip.copy_from_slice(&bytes[18..26]);
    let mut cast_at = [0u8; 8];
    cast_at.copy_from_slice(&bytes[26..34]);
    let bits = bytes[34];
    Ok(Fields {
        voter,
        clip: ClipId::new(u64::from_le_bytes(clip)).ok_or_else(|| corrupt("vote", "zero clip"))?,
        cast_at: Timestamp::from_millis(i64::from_le_bytes(cast_at)),
        vote_type: VoteType::from_tag(bits & 0b11).ok_or_else(|| corrupt("vote", "bad type"))?,
        weight: u32::from(bytes[35]),
        state: state_of((bits >> 2) & 0b111).ok_or_else(|| corrupt("vote", "bad state"))?,
    })
}

/// What `VOTER_TO_LEDGER` holds for one voter: the day budget and the facts
/// of the slot they voted in last.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LedgerHead {
    /// Budget spent on the latest voting day.
    pub budget: DayBudget,
    /// The slot `current` belongs to.
    pub slot: Option<SlotKey>,
    /// The voter's facts in `slot`.
    pub current: SlotLedger,
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads varints and bytes off the front of a stored ledger.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, StoreError> {
        let (first, rest) = self.0.split_first().ok_or_else(|| corrupt("ledger", "truncated"))?;
        self.0 = rest;
        Ok(*first)
    }

    fn varint(&mut self) -> Result<u64, StoreError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt("ledger", "varint too long"))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], StoreError> {
        if self.0.len() < len {
            return Err(corrupt("ledger", "truncated"));
        }
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(taken)
    }

    fn small(&mut self) -> Result<u32, StoreError> {
        u32::try_from(self.varint()?).map_err(|_| corrupt("ledger", "number out of range"))
    }
}

fn push_slot_ledger(out: &mut Vec<u8>, ledger: &SlotLedger) {
    out.push(ledger.specials.to_bits());
    push_varint(out, ledger.votes.len() as u64);
    for vote in &ledger.votes {
        push_varint(out, vote.clip.get());
        push_varint(out, vote.vote.get());
        out.push(vote.vote_type.tag());
    }
}

fn read_slot_ledger(reader: &mut Reader<'_>) -> Result<SlotLedger, StoreError> {
    let specials = SpecialsUsed::from_bits(reader.byte()?);
    let count = reader.varint()?;
    let mut votes = Vec::with_capacity(count.min(1024) as usize);
    for _ in 0..count {
        votes.push(LedgerVote {
            clip: ClipId::new(reader.varint()?).ok_or_else(|| corrupt("ledger", "zero clip"))?,
            vote: VoteId::new(reader.varint()?).ok_or_else(|| corrupt("ledger", "zero vote"))?,
            vote_type: VoteType::from_tag(reader.byte()?).ok_or_else(|| corrupt("ledger", "bad vote type"))?,
        });
    }
    Ok(SlotLedger { specials, votes })
}

fn finish(reader: &Reader<'_>) -> Result<(), StoreError> {
    if reader.0.is_empty() { Ok(()) } else { Err(corrupt("ledger", "trailing bytes")) }
}

/// The stored bytes of a ledger head.
pub fn encode_head(head: &LedgerHead) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + head.current.votes.len() * 8);
    out.push(LEDGER_VERSION);
    push_varint(&mut out, head.budget.day.map_or(0, |day| u64::from(day.number()) + 1));
    push_varint(&mut out, u64::from(head.budget.spent));
    match head.slot {
        Some((season, position)) => {
            push_varint(&mut out, season);
            push_varint(&mut out, u64::from(position));
            push_slot_ledger(&mut out, &head.current);
        }
        None => push_varint(&mut out, 0),
    }
    out
}

/// Reads a stored ledger head back.
pub fn decode_head(bytes: &[u8]) -> Result<LedgerHead, StoreError> {
    let mut reader = Reader(bytes);
    let version = reader.byte()?;
    if version != LEDGER_VERSION {
        return Err(corrupt("ledger", format!("unknown record version {version}")));
    }
    let day = match reader.small()? {
        0 => None,
        stored => Some(UtcDay::from_number(stored - 1)),
    };
    let spent = reader.small()?;
    let season = reader.varint()?;
    let (slot, current) = if season == 0 {
        (None, SlotLedger::default())
    } else {
        let position = reader.small()?;
        (Some((season, position)), read_slot_ledger(&mut reader)?)
    };
    finish(&reader)?;
    Ok(LedgerHead { budget: DayBudget { day, spent }, slot, current })
}

/// The stored bytes of a voter's facts in a slot they moved on from.
pub fn encode_slot_ledger(ledger: &SlotLedger) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + ledger.votes.len() * 8);
    out.push(LEDGER_VERSION);
    push_slot_ledger(&mut out, ledger);
    out
}

/// Reads a voter's stored facts in a slot back.
pub fn decode_slot_ledger(bytes: &[u8]) -> Result<SlotLedger, StoreError> {
    let mut reader = Reader(bytes);
    let version = reader.byte()?;
    if version != LEDGER_VERSION {
        return Err(corrupt("ledger", format!("unknown record version {version}")));
    }
    let ledger = read_slot_ledger(&mut reader)?;
    finish(&reader)?;
    Ok(ledger)
}

/// The stored bytes of one run of ledger heads (`LEDGER_RUN_TO_HEADS`):
/// the heads one batch changed, each after its voter key.
pub fn encode_head_run(heads: &[(VoterBytes, Box<[u8]>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + heads.iter().map(|(_, head)| VOTER_BYTES + 2 + head.len()).sum::<usize>());
    out.push(LEDGER_VERSION);
    push_varint(&mut out, heads.len() as u64);
    for (voter, head) in heads {
        out.extend_from_slice(voter);
        push_varint(&mut out, head.len() as u64);
        out.extend_from_slice(head);
    }
    out
}

/// Reads a run of ledger heads back: each voter key with its head's bytes
/// (decoded by [`decode_head`] when needed).
pub fn decode_head_run(bytes: &[u8]) -> Result<Vec<(VoterBytes, &[u8])>, StoreError> {
    let mut reader = Reader(bytes);
    let version = reader.byte()?;
    if version != LEDGER_VERSION {
        return Err(corrupt("ledger run", format!("unknown record version {version}")));
    }
    let count = reader.varint()?;
    let mut heads = Vec::with_capacity(count.min(4096) as usize);
    for _ in 0..count {
        let voter = reader.take(VOTER_BYTES)?;
        let voter = VoterBytes::try_from(voter).map_err(|_| corrupt("ledger run", "short voter key"))?;
        let len = usize::try_from(reader.varint()?).map_err(|_| corrupt("ledger run", "head too long"))?;
        heads.push((voter, reader.take(len)?));
    }
    finish(&reader)?;
    Ok(heads)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(voter: VoterKey, state: VoteState) -> Vote {
        let cast_at = Timestamp::from_millis(1_700_000_000_123);
        Vote {
            id: VoteId::new(9).expect("nonzero"),
            voter,
            season: SeasonId::new(1).expect("nonzero"),
            position: SlotPosition::new(4).expect("nonzero"),
            clip: ClipId::new(3).expect("nonzero"),
            vote_type: VoteType::Mega,
            weight: 10,
            day: cast_at.utc_day(),
            cast_at,
            state,
            risk_score: 70,
            risk_reasons: 0x0103,
            flagged: true,
        }
    }

    #[test]
    fn voter_keys_round_trip_through_17_bytes() {
        for voter in [VoterKey::device([0xab; 16]), VoterKey::user(UserId::new(77).expect("nonzero"))] {
            let bytes = voter_bytes(&voter);
            assert_eq!(voter_from_bytes(&bytes).expect("decodes"), voter);
        }
        let user = voter_bytes(&VoterKey::user(UserId::new(5).expect("nonzero")));
        assert_eq!(user_of(&user).map(UserId::get), Some(5));
        assert_eq!(user_of(&voter_bytes(&VoterKey::device([1; 16]))), None);
        assert!(voter_from_bytes(&[9; VOTER_BYTES]).is_err());
    }

    #[test]
    fn every_vote_state_round_trips() {
        let states = [
            VoteState::Counted,
            VoteState::Revoked { refunded: true },
            VoteState::Revoked { refunded: false },
            VoteState::Voided,
        ];
        for state in states {
            let original = vote(VoterKey::device([7; 16]), state);
            let bytes = encode_vote(&original).expect("encodes");
            assert_eq!(decode_vote(vote_key(&original), &bytes).expect("decodes"), original);
        }
        for voter in [VoterKey::device([7; 16]), VoterKey::user(UserId::new(1234).expect("nonzero"))] {
            for state in states {
                let original = vote(voter.clone(), state);
                let bytes = encode_vote(&original).expect("encodes");
                let read = decode_tally_vote(original.id.get(), &bytes).expect("decodes");
                assert_eq!(read.voter.as_str(), original.voter.as_str());
                assert_eq!(
                    (read.id, read.clip, read.vote_type, read.weight, read.cast_at, read.state),
                    (original.id, original.clip, original.vote_type, original.weight, original.cast_at, original.state)
                );
            }
        }
        let mut bad_voter = encode_vote(&vote(VoterKey::device([7; 16]), VoteState::Counted)).expect("encodes");
        bad_voter[1] = 9;
        assert!(decode_tally_vote(1, &bad_voter).is_err() && decode_vote((1, 1, 1), &bad_voter).is_err());
        let mut wrong_version = encode_vote(&vote(VoterKey::device([7; 16]), VoteState::Counted)).expect("encodes");
        wrong_version[0] = 2;
        assert!(decode_vote((1, 1, 1), &wrong_version).is_err());
        assert!(decode_tally_vote(1, &wrong_version).is_err());
    }

    /// Existing files must keep reading: the bytes of a vote and a ledger are
    /// pinned, so a change of layout fails here instead of misreading a file
    /// (a new layout needs a new version byte and a migration).
    #[test]
    fn stored_layouts_do_not_change() {
        let original = vote(VoterKey::user(UserId::new(7).expect("nonzero")), VoteState::Revoked { refunded: false });
        assert_eq!(
            hex::encode(encode_vote(&original).expect("encodes")),
            "0101000000000000000700000000000000000300000000000000\
             7b68e5cf8b0100002a0a460301"
        );
        let head = LedgerHead {
            budget: DayBudget { day: Some(UtcDay::from_number(20_000)), spent: 13 },
            slot: Some((1, 4)),
            current: SlotLedger {
                specials: SpecialsUsed { super_used: false, mega_used: true },
                votes: vec![LedgerVote {
                    clip: ClipId::new(3).expect("nonzero"),
                    vote: VoteId::new(300).expect("nonzero"),
                    vote_type: VoteType::Mega,
                }],
            },
        };
        let bytes = encode_head(&head);
        assert_eq!(hex::encode(&bytes), "01a19c010d0104020103ac0202");
        assert_eq!(decode_head(&bytes).expect("decodes"), head);
        assert_eq!(decode_head(&encode_head(&LedgerHead::default())).expect("decodes"), LedgerHead::default());
        let archived = encode_slot_ledger(&head.current);
        assert_eq!(hex::encode(&archived), "01020103ac0202");
        assert_eq!(decode_slot_ledger(&archived).expect("decodes"), head.current);
        assert!(decode_head(&bytes[..bytes.len() - 1]).is_err());
        let voter = voter_bytes(&VoterKey::user(UserId::new(7).expect("nonzero")));
        let run = encode_head_run(&[(voter, bytes.clone().into_boxed_slice())]);
        assert_eq!(hex::encode(&run), format!("0101{}0d{}", hex::encode(voter), hex::encode(&bytes)));
        assert_eq!(decode_head_run(&run).expect("decodes"), vec![(voter, &bytes[..])]);
        assert!(decode_head_run(&run[..run.len() - 1]).is_err());
        assert!(decode_head_run(&encode_head_run(&[])).expect("decodes").is_empty());
        assert!(decode_slot_ledger(&[1, 0, 1]).is_err());
    }
}
