//! A voter's ledger: everything the vote rules need to know about one voter,
//! kept as ONE record so a vote costs one random-keyed read and write in
//! storage (plus an append to the vote log) instead of one per fact.
//!
//! It holds the budget spent on the voter's latest voting day and the
//! voter's counted votes and special votes in the slot they last voted in.
//! Older days and slots need no state: a new day starts with a full budget
//! and a new slot with no votes, so the ledger resets lazily when either moves.

use super::clock::UtcDay;
use super::ids::{ClipId, SeasonId, SlotPosition, VoteId};
use super::vote::{SpecialsUsed, VoteType};

/// One voter's standing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VoterLedger {
    /// The day `spent` refers to.
    pub day: Option<UtcDay>,
    /// Budget units spent on `day`.
    pub spent: u32,
    /// The slot `votes` and `specials` refer to.
    pub slot: Option<(SeasonId, SlotPosition)>,
    /// Special votes spent in `slot`.
    pub specials: SpecialsUsed,
    /// Counted votes in `slot`, oldest first.
    pub votes: Vec<LedgerVote>,
}

/// A counted vote as the ledger remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerVote {
    /// The clip voted for.
    pub clip: ClipId,
    /// The stored vote.
    pub vote: VoteId,
    /// Its kind.
    pub vote_type: VoteType,
}

impl VoterLedger {
    /// Budget units spent on `day`.
    pub fn spent_on(&self, day: UtcDay) -> u32 {
        if self.day == Some(day) { self.spent } else { 0 }
    }

    fn in_slot(&self, season: SeasonId, position: SlotPosition) -> bool {
        self.slot == Some((season, position))
    }

    /// Counted votes on `clip` in the given slot.
    pub fn votes_on(&self, season: SeasonId, position: SlotPosition, clip: ClipId) -> u32 {
        if !self.in_slot(season, position) {
            return 0;
        }
        self.votes.iter().filter(|v| v.clip == clip).count() as u32
    }

    /// Special votes spent in the given slot.
    pub fn specials_in(&self, season: SeasonId, position: SlotPosition) -> SpecialsUsed {
        if self.in_slot(season, position) { self.specials } else { SpecialsUsed::default() }
    }

    /// Clips with a counted vote in the given slot, each once, in first-vote order.
    pub fn voted_clips(&self, season: SeasonId, position: SlotPosition) -> Vec<ClipId> {
        let mut clips = Vec::new();
        if self.in_slot(season, position) {
            for vote in &self.votes {
                if !clips.contains(&vote.clip) {
                    clips.push(vote.clip);
                }
            }
        }
        clips
    }

    /// Records an accepted vote.
    pub fn record(&mut self, season: SeasonId, position: SlotPosition, day: UtcDay, weight: u32, vote: LedgerVote) {
        if !self.in_slot(season, position) {
            self.slot = Some((season, position));
            self.specials = SpecialsUsed::default();
            self.votes.clear();
        }
        if self.day != Some(day) {
            self.day = Some(day);
            self.spent = 0;
        }
        self.spent += weight;
        if vote.vote_type != VoteType::Standard {
            self.specials = self.specials.with(vote.vote_type, true);
        }
        self.votes.push(vote);
    }

    /// Removes the latest counted vote on `clip` in the given slot and returns it.
    pub fn take_latest(&mut self, season: SeasonId, position: SlotPosition, clip: ClipId) -> Option<LedgerVote> {
        if !self.in_slot(season, position) {
            return None;
        }
        let index = self.votes.iter().rposition(|v| v.clip == clip)?;
        let vote = self.votes.remove(index);
        if vote.vote_type != VoteType::Standard {
            self.specials = self.specials.with(vote.vote_type, false);
        }
        Some(vote)
    }

    /// Drops a vote an admin voided. Its special stays spent and its budget
    /// stays used: voiding takes the vote out of the counts, nothing more.
    pub fn forget(&mut self, season: SeasonId, position: SlotPosition, vote: VoteId) {
        if self.in_slot(season, position) {
            self.votes.retain(|entry| entry.vote != vote);
        }
    }

    /// Gives `weight` back to `day`'s budget (only today's budget is open).
    pub fn refund(&mut self, day: UtcDay, weight: u32) {
        if self.day == Some(day) {
            self.spent = self.spent.saturating_sub(weight);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (SeasonId, SlotPosition, ClipId) {
        (SeasonId::new(1).expect("id"), SlotPosition::FIRST, ClipId::new(7).expect("id"))
    }

    fn vote(n: u64, vote_type: VoteType) -> LedgerVote {
        LedgerVote { clip: ids().2, vote: VoteId::new(n).expect("id"), vote_type }
    }

    #[test]
    fn a_new_day_starts_with_a_full_budget() {
        let (season, position, _) = ids();
        let mut ledger = VoterLedger::default();
        ledger.record(season, position, UtcDay::from_number(10), 3, vote(1, VoteType::Super));
        assert_eq!(ledger.spent_on(UtcDay::from_number(10)), 3);
        assert_eq!(ledger.spent_on(UtcDay::from_number(11)), 0);
        ledger.record(season, position, UtcDay::from_number(11), 1, vote(2, VoteType::Standard));
        assert_eq!(ledger.spent_on(UtcDay::from_number(11)), 1);
        assert_eq!(ledger.votes_on(season, position, ids().2), 2, "votes stay for the slot across days");
        assert!(ledger.specials_in(season, position).super_used);
    }

    #[test]
    fn a_new_slot_starts_with_no_votes_and_no_specials() {
        let (season, position, clip) = ids();
        let mut ledger = VoterLedger::default();
        ledger.record(season, position, UtcDay::from_number(10), 10, vote(1, VoteType::Mega));
        assert_eq!(ledger.votes_on(season, position.next(), clip), 0);
        assert_eq!(ledger.specials_in(season, position.next()), SpecialsUsed::default());
        assert_eq!(ledger.voted_clips(season, position), vec![clip]);
    }

    #[test]
    fn taking_back_the_latest_vote_frees_its_special_and_refunds_today_only() {
        let (season, position, clip) = ids();
        let mut ledger = VoterLedger::default();
        let today = UtcDay::from_number(10);
        ledger.record(season, position, today, 1, vote(1, VoteType::Standard));
        ledger.record(season, position, today, 10, vote(2, VoteType::Mega));
        let taken = ledger.take_latest(season, position, clip).expect("a vote");
        assert_eq!(taken.vote.get(), 2);
        assert!(!ledger.specials_in(season, position).mega_used);
        ledger.refund(today, 10);
        assert_eq!(ledger.spent_on(today), 1);
        ledger.refund(UtcDay::from_number(9), 1);
        assert_eq!(ledger.spent_on(today), 1, "yesterday's refund does not touch today");
    }
}
