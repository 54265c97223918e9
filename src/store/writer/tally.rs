//! Freezing a slot's tally in the transaction that locks it, and dropping it
//! when an admin unlocks the slot (issue #15). The layout and the reads are
//! in `store::tally`; this is the writer's side of it.

use super::super::StoreError;
use super::super::tally::{self, FreezeRequest};
use super::Batch;
use crate::domain::ids::{ClipId, SeasonId, SlotPosition};
use crate::domain::tally::{FrozenTally, SlotSalt, TallyRules};
use crate::domain::tournament::Contender;

impl Batch<'_> {
    /// Freezes the tally of the slot being locked with `winner`: its votes
    /// in id order with a fresh secret salt, under the rules in force now.
    /// `contenders` are the active clips that competed: a counted vote on
    /// any other clip (withdrawn before the lock) is published as not
    /// counted, since it did not count toward the result.
    pub(super) fn freeze_tally(
        &mut self,
        slot: (SeasonId, SlotPosition),
        winner: ClipId,
        winner_assigned: bool,
        contenders: &[Contender],
    ) -> Result<FrozenTally, StoreError> {
        let mut competing: std::collections::HashSet<ClipId> = contenders.iter().map(|c| c.clip).collect();
        competing.insert(winner);
        let request = FreezeRequest {
            slot,
            competing,
            winner,
            winner_assigned,
            rules: TallyRules { daily_budget: self.daily_budget, multi_vote_mode: self.flags.multi_vote_mode },
            locked_at: self.now,
            salt: SlotSalt::from_bytes(rand::random()),
        };
        tally::freeze(self.txn, &self.votes, &request)
    }

    /// Drops an unlocked slot's frozen tally; returns what it published.
    pub(super) fn drop_tally(
        &mut self,
        season: SeasonId,
        position: SlotPosition,
    ) -> Result<Option<FrozenTally>, StoreError> {
        tally::drop_frozen(self.txn, season, position)
    }
}
