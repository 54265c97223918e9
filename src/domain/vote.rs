//! The voting rules. Pure functions: the writer gathers the facts (the slot,
//! the clip, what this voter already did) and asks these functions what to do,
//! so every rule lives here, once, and runs inside the write transaction.

use super::clock::{Timestamp, UtcDay};
use super::ids::{SeasonId, SlotPosition, UserId};
use super::tournament::{ClipStatus, SlotStatus};

/// The kinds of vote and the budget weight each spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VoteType {
    /// Weight 1; once per clip per slot unless multi-vote mode is on.
    Standard,
    /// Weight 3; once per voter per slot.
    Super,
    /// Weight 10; once per voter per slot.
    Mega,
}

impl VoteType {
    /// Budget units this vote spends and score points it adds.
    pub fn weight(self) -> u32 {
        match self {
            VoteType::Standard => 1,
            VoteType::Super => 3,
            VoteType::Mega => 10,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            VoteType::Standard => "standard",
            VoteType::Super => "super",
            VoteType::Mega => "mega",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "standard" => Some(VoteType::Standard),
            "super" => Some(VoteType::Super),
            "mega" => Some(VoteType::Mega),
            _ => None,
        }
    }

    /// The storage tag.
    pub fn tag(self) -> u8 {
        match self {
            VoteType::Standard => 0,
            VoteType::Super => 1,
            VoteType::Mega => 2,
        }
    }

    /// Reads a storage tag.
    pub fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            0 => Some(VoteType::Standard),
            1 => Some(VoteType::Super),
            2 => Some(VoteType::Mega),
            _ => None,
        }
    }
}

/// Feature flags that change the voting rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VotingFlags {
    /// Allows more than one standard vote per clip per voter.
    pub multi_vote_mode: bool,
    /// Allows super and mega votes.
    pub special_votes: bool,
    /// Refuses anonymous votes.
    pub require_auth_voting: bool,
}

impl Default for VotingFlags {
    fn default() -> Self {
        Self { multi_vote_mode: false, special_votes: true, require_auth_voting: false }
    }
}

/// Which special votes a voter has spent in one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpecialsUsed {
    /// A super vote was cast in this slot.
    pub super_used: bool,
    /// A mega vote was cast in this slot.
    pub mega_used: bool,
}

impl SpecialsUsed {
    /// Packs into one stored byte.
    pub fn to_bits(self) -> u8 {
        u8::from(self.super_used) | (u8::from(self.mega_used) << 1)
    }

    /// Unpacks the stored byte.
    pub fn from_bits(bits: u8) -> Self {
        Self { super_used: bits & 1 != 0, mega_used: bits & 2 != 0 }
    }

    /// Whether this kind of special vote is already spent.
    pub fn is_used(self, vote_type: VoteType) -> bool {
        match vote_type {
            VoteType::Standard => false,
            VoteType::Super => self.super_used,
            VoteType::Mega => self.mega_used,
        }
    }

    /// Marks a kind as spent (`used = true`) or given back (`used = false`).
    pub fn with(self, vote_type: VoteType, used: bool) -> Self {
        match vote_type {
            VoteType::Standard => self,
            VoteType::Super => Self { super_used: used, ..self },
            VoteType::Mega => Self { mega_used: used, ..self },
        }
    }
}

/// The slot a vote is aimed at, as the writer read it in this transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenSlot {
    /// The active season.
    pub season: SeasonId,
    /// The slot that is voting or waiting for clips.
    pub position: SlotPosition,
    /// Its status.
    pub status: SlotStatus,
    /// When its voting window closes (voting slots only).
    pub voting_ends_at: Option<Timestamp>,
}

/// The clip a vote is aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetClip {
    /// The clip's season.
    pub season: SeasonId,
    /// The slot it currently sits in.
    pub position: SlotPosition,
    /// Its moderation and tournament status.
    pub status: ClipStatus,
    /// Who uploaded it (credited on the creators leaderboard).
    pub creator: UserId,
}

/// Everything the cast rule needs to decide.
#[derive(Debug, Clone, Copy)]
pub struct CastFacts {
    /// The open slot of the active season, if any.
    pub slot: Option<OpenSlot>,
    /// The clip, if it exists.
    pub clip: Option<TargetClip>,
    /// Kind of vote asked for.
    pub vote_type: VoteType,
    /// Whether the voter is signed in.
    pub voter_is_user: bool,
    /// How many of this voter's votes already count on this clip in this slot.
    pub existing_votes_on_clip: u32,
    /// Special votes the voter already spent in this slot.
    pub specials_used: SpecialsUsed,
    /// Budget units the voter spent today.
    pub spent_today: u32,
    /// The daily budget in weight units.
    pub daily_budget: u32,
    /// Flags in force.
    pub flags: VotingFlags,
    /// When the writer handles the vote.
    pub now: Timestamp,
}

/// Why a vote is refused. Each maps to one wire error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VoteRefusal {
    /// The flag `require_auth_voting` is on and the voter is anonymous.
    #[error("sign in to vote")]
    AuthRequired,
    /// No such clip.
    #[error("clip not found")]
    ClipNotFound,
    /// The clip is not an active clip of the slot that is voting.
    #[error("this clip is not open for voting")]
    NotVotable,
    /// No slot is voting, or its window already ended.
    #[error("voting for this slot has closed")]
    SlotClosed,
    /// The voter already has a standard vote on this clip.
    #[error("you already voted for this clip")]
    AlreadyVoted,
    /// The voter already spent this special vote in this slot, or special votes are off.
    #[error("that special vote is not available")]
    SpecialVoteUsed,
    /// The vote would exceed today's budget.
    #[error("daily vote limit reached")]
    DailyLimitReached,
    /// Revoke: the voter has no vote on this clip in the open slot.
    #[error("you have no vote on this clip")]
    NoVoteToRevoke,
}

/// An accepted vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CastDecision {
    /// Where the vote counts.
    pub season: SeasonId,
    /// The slot it counts in.
    pub position: SlotPosition,
    /// Budget units spent and score points added.
    pub weight: u32,
    /// The UTC day whose budget it spends.
    pub day: UtcDay,
}

/// Decides whether a vote is accepted. Checks run in a fixed order so the
/// same facts always give the same answer.
pub fn decide_cast(facts: &CastFacts) -> Result<CastDecision, VoteRefusal> {
    if facts.flags.require_auth_voting && !facts.voter_is_user {
        return Err(VoteRefusal::AuthRequired);
    }
    let clip = facts.clip.ok_or(VoteRefusal::ClipNotFound)?;
    let slot = facts.slot.ok_or(VoteRefusal::SlotClosed)?;
    if clip.status != ClipStatus::Active || clip.season != slot.season || clip.position != slot.position {
        return Err(VoteRefusal::NotVotable);
    }
    let window_open = slot.status == SlotStatus::Voting && slot.voting_ends_at.is_some_and(|ends| facts.now < ends);
    if !window_open {
        return Err(VoteRefusal::SlotClosed);
    }
    match facts.vote_type {
        VoteType::Standard => {
            if facts.existing_votes_on_clip > 0 && !facts.flags.multi_vote_mode {
                return Err(VoteRefusal::AlreadyVoted);
            }
        }
        special => {
            if !facts.flags.special_votes || facts.specials_used.is_used(special) {
                return Err(VoteRefusal::SpecialVoteUsed);
            }
        }
    }
    let weight = facts.vote_type.weight();
    if facts.spent_today.saturating_add(weight) > facts.daily_budget {
        return Err(VoteRefusal::DailyLimitReached);
    }
    Ok(CastDecision { season: slot.season, position: slot.position, weight, day: facts.now.utc_day() })
}

/// What a voter may still cast today, as `remainingVotes` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemainingVotes {
    /// Standard votes (budget units) left today.
    pub standard: u32,
    /// Super votes available now (0 or 1).
    pub super_votes: u32,
    /// Mega votes available now (0 or 1).
    pub mega_votes: u32,
}

/// Computes `remainingVotes` from what the voter spent.
pub fn remaining_votes(
    spent_today: u32,
    daily_budget: u32,
    specials_used: SpecialsUsed,
    flags: VotingFlags,
) -> RemainingVotes {
    let left = daily_budget.saturating_sub(spent_today);
    let special_left =
        |kind: VoteType| u32::from(flags.special_votes && !specials_used.is_used(kind) && left >= kind.weight());
    RemainingVotes {
        standard: left,
        super_votes: special_left(VoteType::Super),
        mega_votes: special_left(VoteType::Mega),
    }
}

/// Whether a revoked vote gives its weight back: only when it was cast today,
/// because yesterday's budget is closed.
pub fn revoke_refunds(cast_day: UtcDay, now: Timestamp) -> bool {
    cast_day == now.utc_day()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_facts() -> CastFacts {
        let season = SeasonId::new(1).expect("nonzero");
        let position = SlotPosition::FIRST;
        let now = Timestamp::from_millis(1_000_000);
        CastFacts {
            slot: Some(OpenSlot {
                season,
                position,
                status: SlotStatus::Voting,
                voting_ends_at: Some(now.plus_secs(60)),
            }),
            clip: Some(TargetClip {
                season,
                position,
                status: ClipStatus::Active,
                creator: UserId::new(1).expect("non-zero"),
            }),
            vote_type: VoteType::Standard,
            voter_is_user: false,
            existing_votes_on_clip: 0,
            specials_used: SpecialsUsed::default(),
            spent_today: 0,
            daily_budget: 200,
            flags: VotingFlags::default(),
            now,
        }
    }

    #[test]
    fn accepts_a_first_standard_vote() {
        let decision = decide_cast(&open_facts()).expect("accepted");
        assert_eq!(decision.weight, 1);
    }

    #[test]
    fn refuses_a_second_standard_vote_unless_multi_vote_mode() {
        let mut facts = CastFacts { existing_votes_on_clip: 1, ..open_facts() };
        assert_eq!(decide_cast(&facts), Err(VoteRefusal::AlreadyVoted));
        facts.flags.multi_vote_mode = true;
        assert!(decide_cast(&facts).is_ok());
    }

    #[test]
    fn the_budget_is_inclusive_of_the_last_unit() {
        let facts = CastFacts { spent_today: 199, ..open_facts() };
        assert!(decide_cast(&facts).is_ok());
        let facts = CastFacts { spent_today: 200, ..open_facts() };
        assert_eq!(decide_cast(&facts), Err(VoteRefusal::DailyLimitReached));
        let facts = CastFacts { spent_today: 191, vote_type: VoteType::Mega, ..open_facts() };
        assert_eq!(decide_cast(&facts), Err(VoteRefusal::DailyLimitReached));
    }

    #[test]
    fn special_votes_once_per_slot_and_only_when_enabled() {
        let facts = CastFacts { vote_type: VoteType::Super, ..open_facts() };
        assert_eq!(decide_cast(&facts).map(|d| d.weight), Ok(3));
        let used = CastFacts { specials_used: SpecialsUsed::default().with(VoteType::Super, true), ..facts };
        assert_eq!(decide_cast(&used), Err(VoteRefusal::SpecialVoteUsed));
        let mut disabled = facts;
        disabled.flags.special_votes = false;
        assert_eq!(decide_cast(&disabled), Err(VoteRefusal::SpecialVoteUsed));
        let mega = CastFacts { vote_type: VoteType::Mega, ..used };
        assert_eq!(decide_cast(&mega).map(|d| d.weight), Ok(10));
    }

    #[test]
    fn refuses_votes_outside_the_open_window() {
        let mut facts = open_facts();
        facts.now = facts.now.plus_secs(60);
        assert_eq!(decide_cast(&facts), Err(VoteRefusal::SlotClosed));
        let facts = CastFacts { slot: None, ..open_facts() };
        assert_eq!(decide_cast(&facts), Err(VoteRefusal::SlotClosed));
    }

    #[test]
    fn refuses_clips_that_are_not_active_in_the_open_slot() {
        let mut facts = open_facts();
        let mut clip = facts.clip.expect("clip");
        clip.status = ClipStatus::Pending;
        facts.clip = Some(clip);
        assert_eq!(decide_cast(&facts), Err(VoteRefusal::NotVotable));
        clip.status = ClipStatus::Active;
        clip.position = clip.position.next();
        facts.clip = Some(clip);
        assert_eq!(decide_cast(&facts), Err(VoteRefusal::NotVotable));
        facts.clip = None;
        assert_eq!(decide_cast(&facts), Err(VoteRefusal::ClipNotFound));
    }

    #[test]
    fn anonymous_votes_refused_when_auth_is_required() {
        let mut facts = open_facts();
        facts.flags.require_auth_voting = true;
        assert_eq!(decide_cast(&facts), Err(VoteRefusal::AuthRequired));
        facts.voter_is_user = true;
        assert!(decide_cast(&facts).is_ok());
    }

    #[test]
    fn remaining_votes_hide_specials_that_no_longer_fit() {
        let flags = VotingFlags::default();
        let left = remaining_votes(195, 200, SpecialsUsed::default(), flags);
        assert_eq!(left, RemainingVotes { standard: 5, super_votes: 1, mega_votes: 0 });
    }

    #[test]
    fn revokes_refund_only_on_the_day_of_the_vote() {
        let cast = Timestamp::from_millis(86_400_000 * 3 + 5);
        assert!(revoke_refunds(cast.utc_day(), cast.plus_secs(10)));
        assert!(!revoke_refunds(cast.utc_day(), cast.plus_secs(86_400)));
    }
}
