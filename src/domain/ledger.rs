//! A voter's ledger: everything the vote rules need to know about one voter,
//! as facts per UTC day (the budget) and per (voter, slot) (the votes and
//! specials there).
//!
//! - [`DayBudget`]: the units spent on the voter's latest voting day. Older
//!   days need no state: a new day starts with a full budget, so it resets
//!   lazily when the day moves.
//! - [`SlotLedger`]: the voter's counted votes and the special votes spent in
//!   ONE slot. Every slot has its own: a slot an admin reopens (unlock) finds
//!   the voter's votes there as they were, so one vote per (slot, clip,
//!   voter) and one super and one mega per (slot, voter) hold whatever the
//!   admins do. How the store keeps them (the current slot's beside the
//!   budget, the others apart) is its business.
//!
//! What gives back what:
//! - a voter's revoke takes the latest vote on the clip out, frees its
//!   special, and refunds its weight if it was cast today;
//! - an admin's void of a flagged vote takes it out of the counts only: its
//!   special and its budget stay spent (a fraudster gets nothing back);
//! - an admin's reset of the open slot's votes puts every voter of the slot
//!   back where they were before: votes gone, the specials of those votes
//!   usable again, and the part of their weight spent today refunded (an
//!   earlier day's budget is closed). Specials of votes already voided
//!   before the reset stay spent.

use super::clock::UtcDay;
use super::ids::{ClipId, VoteId};
use super::vote::{SpecialsUsed, VoteType};

/// Budget units a voter spent on their latest voting day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DayBudget {
    /// The day `spent` refers to.
    pub day: Option<UtcDay>,
    /// Units spent on `day`.
    pub spent: u32,
}

impl DayBudget {
    /// Units spent on `day`.
    pub fn spent_on(&self, day: UtcDay) -> u32 {
        if self.day == Some(day) { self.spent } else { 0 }
    }

    /// Spends `weight` on `day`; a newer day starts from zero. A vote is
    /// always cast "today", so `day` is never older than the stored one.
    pub fn spend(&mut self, day: UtcDay, weight: u32) {
        if self.day != Some(day) {
            self.day = Some(day);
            self.spent = 0;
        }
        self.spent = self.spent.saturating_add(weight);
    }

    /// Gives `weight` back to `day`'s budget (only the stored day is open;
    /// an older day's budget is closed and gets nothing).
    pub fn refund(&mut self, day: UtcDay, weight: u32) {
        if self.day == Some(day) {
            self.spent = self.spent.saturating_sub(weight);
        }
    }
}

/// A voter's facts in one slot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlotLedger {
    /// Special votes spent in the slot.
    pub specials: SpecialsUsed,
    /// Counted votes in the slot, oldest first.
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

impl SlotLedger {
    /// Whether the voter has nothing in this slot: no counted vote and no
    /// special spent (such a ledger need not be stored).
    pub fn is_empty(&self) -> bool {
        self.votes.is_empty() && self.specials == SpecialsUsed::default()
    }

    /// Counted votes on `clip`.
    pub fn votes_on(&self, clip: ClipId) -> u32 {
        self.votes.iter().filter(|v| v.clip == clip).count() as u32
    }

    /// Clips with a counted vote, each once, in first-vote order.
    pub fn voted_clips(&self) -> Vec<ClipId> {
        let mut clips = Vec::new();
        for vote in &self.votes {
            if !clips.contains(&vote.clip) {
                clips.push(vote.clip);
            }
        }
        clips
    }

    /// Records an accepted vote.
    pub fn record(&mut self, vote: LedgerVote) {
        if vote.vote_type != VoteType::Standard {
            self.specials = self.specials.with(vote.vote_type, true);
        }
        self.votes.push(vote);
    }

    /// Removes the latest counted vote on `clip` and returns it; its special
    /// is free again (a revoke).
    pub fn take_latest(&mut self, clip: ClipId) -> Option<LedgerVote> {
        let index = self.votes.iter().rposition(|v| v.clip == clip)?;
        let vote = self.votes.remove(index);
        if vote.vote_type != VoteType::Standard {
            self.specials = self.specials.with(vote.vote_type, false);
        }
        Some(vote)
    }

    /// Drops a vote an admin voided. Its special stays spent: voiding takes
    /// the vote out of the counts, nothing more.
    pub fn forget(&mut self, vote: VoteId) {
        self.votes.retain(|entry| entry.vote != vote);
    }

    /// Drops a vote of a reset slot: it leaves the counts and its special is
    /// usable again. Returns whether the ledger held it.
    pub fn release(&mut self, vote: VoteId) -> bool {
        let Some(index) = self.votes.iter().position(|entry| entry.vote == vote) else { return false };
        let released = self.votes.remove(index);
        if released.vote_type != VoteType::Standard {
            self.specials = self.specials.with(released.vote_type, false);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip() -> ClipId {
        ClipId::new(7).expect("id")
    }

    fn vote(n: u64, vote_type: VoteType) -> LedgerVote {
        LedgerVote { clip: clip(), vote: VoteId::new(n).expect("id"), vote_type }
    }

    #[test]
    fn a_new_day_starts_with_a_full_budget() {
        let mut budget = DayBudget::default();
        budget.spend(UtcDay::from_number(10), 3);
        assert_eq!(budget.spent_on(UtcDay::from_number(10)), 3);
        assert_eq!(budget.spent_on(UtcDay::from_number(11)), 0);
        budget.spend(UtcDay::from_number(11), 1);
        assert_eq!(budget.spent_on(UtcDay::from_number(11)), 1);
        budget.refund(UtcDay::from_number(10), 3);
        assert_eq!(budget.spent_on(UtcDay::from_number(11)), 1, "yesterday's refund does not touch today");
    }

    #[test]
    fn taking_back_the_latest_vote_frees_its_special() {
        let mut ledger = SlotLedger::default();
        ledger.record(vote(1, VoteType::Standard));
        ledger.record(vote(2, VoteType::Mega));
        assert_eq!(ledger.votes_on(clip()), 2);
        assert_eq!(ledger.voted_clips(), vec![clip()]);
        let taken = ledger.take_latest(clip()).expect("a vote");
        assert_eq!(taken.vote.get(), 2);
        assert!(!ledger.specials.mega_used);
        assert_eq!(ledger.votes_on(clip()), 1);
    }

    #[test]
    fn a_void_keeps_the_special_spent_and_a_reset_frees_it() {
        let mut voided = SlotLedger::default();
        voided.record(vote(1, VoteType::Super));
        voided.forget(VoteId::new(1).expect("id"));
        assert_eq!(voided.votes_on(clip()), 0);
        assert!(voided.specials.super_used, "a fraudster gets nothing back");
        assert!(!voided.is_empty());

        let mut reset = SlotLedger::default();
        reset.record(vote(1, VoteType::Super));
        assert!(reset.release(VoteId::new(1).expect("id")));
        assert!(!reset.release(VoteId::new(1).expect("id")), "released once");
        assert!(reset.is_empty(), "the slot starts over: {reset:?}");
    }
}
