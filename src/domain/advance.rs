//! Closing a slot: the plan the writer carries out in ONE transaction when a
//! voting window ends (or an admin advances, or assigns a winner).
//!
//! 1. winner = the active clip with the highest weighted score (ties: more
//!    votes, earlier upload, lower id) — or the admin's choice;
//! 2. winner → locked, slot → locked with the winner;
//! 3. every other active clip moves to the next slot with a fresh count;
//! 4. the next slot → voting with a new window if it has clips, else
//!    waiting for clips;
//! 5. after the last slot the season is finished.
//!
//! A slot whose window ended with no clips goes to waiting-for-clips.

use super::clock::Timestamp;
use super::ids::{ClipId, SlotPosition};
use super::tournament::{Contender, SlotStatus, pick_winner};

/// What the writer read before planning.
#[derive(Debug, Clone)]
pub struct AdvanceFacts {
    /// The slot being closed.
    pub position: SlotPosition,
    /// Its status.
    pub status: SlotStatus,
    /// The season's slot count.
    pub total_slots: u32,
    /// Active clips competing in it, with their counts in it.
    pub contenders: Vec<Contender>,
    /// An admin's choice of winner, if any.
    pub forced_winner: Option<ClipId>,
    /// Voting window of the next slot.
    pub slot_duration_secs: u64,
    /// When the plan is made.
    pub now: Timestamp,
}

/// What happens to the next slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextSlot {
    /// It opens for voting until the given time.
    Voting {
        /// Its position.
        position: SlotPosition,
        /// When its window ends.
        ends_at: Timestamp,
    },
    /// It opens but waits for an approved clip.
    WaitingForClips {
        /// Its position.
        position: SlotPosition,
    },
    /// There is none: the season is finished.
    SeasonFinished,
}

/// The writer's instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdvancePlan {
    /// Lock `winner` into the slot, carry the others over, open the next slot.
    Lock {
        /// The clip locked into the film.
        winner: ClipId,
        /// Clips moving to the next slot (empty when the season finishes).
        carried_over: Vec<ClipId>,
        /// What happens next.
        next: NextSlot,
    },
    /// No clip to lock: the slot waits for clips.
    WaitForClips,
}

/// Why a slot cannot be advanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdvanceRefusal {
    /// The slot is not open.
    #[error("that slot is not open")]
    NotOpen,
    /// The forced winner is not an active clip of the slot.
    #[error("that clip is not competing in this slot")]
    NotAContender,
}

/// Plans closing the open slot.
pub fn plan_advance(facts: &AdvanceFacts) -> Result<AdvancePlan, AdvanceRefusal> {
    if !matches!(facts.status, SlotStatus::Voting | SlotStatus::WaitingForClips) {
        return Err(AdvanceRefusal::NotOpen);
    }
    let winner = match facts.forced_winner {
        Some(forced) => {
            if !facts.contenders.iter().any(|c| c.clip == forced) {
                return Err(AdvanceRefusal::NotAContender);
            }
            forced
        }
        None => match pick_winner(&facts.contenders) {
            Some(winner) => winner,
            None => return Ok(AdvancePlan::WaitForClips),
        },
    };
    let is_last = facts.position.get() >= facts.total_slots;
    let carried_over: Vec<ClipId> = if is_last {
        Vec::new()
    } else {
        facts.contenders.iter().map(|c| c.clip).filter(|clip| *clip != winner).collect()
    };
    let next = if is_last {
        NextSlot::SeasonFinished
    } else if carried_over.is_empty() {
        NextSlot::WaitingForClips { position: facts.position.next() }
    } else {
        NextSlot::Voting { position: facts.position.next(), ends_at: facts.now.plus_secs(facts.slot_duration_secs) }
    };
    Ok(AdvancePlan::Lock { winner, carried_over, next })
}

/// Whether a voting window has ended.
pub fn window_ended(status: SlotStatus, voting_ends_at: Option<Timestamp>, now: Timestamp) -> bool {
    status == SlotStatus::Voting && voting_ends_at.is_some_and(|ends| ends <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn contender(id: u64, score: u64, votes: u64, created: i64) -> Contender {
        Contender {
            clip: ClipId::new(id).expect("id"),
            weighted_score: score,
            vote_count: votes,
            created_at: Timestamp::from_millis(created),
        }
    }

    fn facts(position: u32, contenders: Vec<Contender>) -> AdvanceFacts {
        AdvanceFacts {
            position: SlotPosition::new(position).expect("position"),
            status: SlotStatus::Voting,
            total_slots: 3,
            contenders,
            forced_winner: None,
            slot_duration_secs: 60,
            now: Timestamp::from_millis(1_000),
        }
    }

    fn id(n: u64) -> ClipId {
        ClipId::new(n).expect("id")
    }

    #[test]
    fn the_top_clip_wins_and_the_rest_carry_over_into_a_voting_slot() {
        let plan = plan_advance(&facts(1, vec![contender(1, 5, 5, 0), contender(2, 9, 3, 0), contender(3, 1, 1, 0)]));
        assert_eq!(
            plan,
            Ok(AdvancePlan::Lock {
                winner: id(2),
                carried_over: vec![id(1), id(3)],
                next: NextSlot::Voting {
                    position: SlotPosition::new(2).expect("position"),
                    ends_at: Timestamp::from_millis(61_000)
                },
            })
        );
    }

    #[test]
    fn ties_use_the_deterministic_order() {
        let plan = plan_advance(&facts(1, vec![contender(4, 5, 2, 10), contender(3, 5, 2, 10), contender(9, 5, 1, 0)]));
        assert!(matches!(plan, Ok(AdvancePlan::Lock { winner, .. }) if winner == id(3)));
    }

    #[test]
    fn an_empty_slot_waits_and_a_lone_winner_leaves_the_next_slot_waiting() {
        assert_eq!(plan_advance(&facts(1, vec![])), Ok(AdvancePlan::WaitForClips));
        let plan = plan_advance(&facts(1, vec![contender(7, 0, 0, 0)]));
        assert!(matches!(plan, Ok(AdvancePlan::Lock { next: NextSlot::WaitingForClips { .. }, .. })));
    }

    #[test]
    fn the_last_slot_finishes_the_season_without_carry_over() {
        let plan = plan_advance(&facts(3, vec![contender(1, 5, 5, 0), contender(2, 1, 1, 0)]));
        assert_eq!(plan, Ok(AdvancePlan::Lock { winner: id(1), carried_over: vec![], next: NextSlot::SeasonFinished }));
    }

    #[test]
    fn an_admin_may_force_any_contender_but_not_an_outsider() {
        let mut forced = facts(1, vec![contender(1, 50, 5, 0), contender(2, 1, 1, 0)]);
        forced.forced_winner = Some(id(2));
        assert!(matches!(plan_advance(&forced), Ok(AdvancePlan::Lock { winner, .. }) if winner == id(2)));
        forced.forced_winner = Some(id(99));
        assert_eq!(plan_advance(&forced), Err(AdvanceRefusal::NotAContender));
        let mut locked = facts(1, vec![contender(1, 1, 1, 0)]);
        locked.status = SlotStatus::Locked;
        assert_eq!(plan_advance(&locked), Err(AdvanceRefusal::NotOpen));
    }

    #[test]
    fn windows_end_exactly_at_their_end_time() {
        let ends = Some(Timestamp::from_millis(100));
        assert!(!window_ended(SlotStatus::Voting, ends, Timestamp::from_millis(99)));
        assert!(window_ended(SlotStatus::Voting, ends, Timestamp::from_millis(100)));
        assert!(!window_ended(SlotStatus::WaitingForClips, ends, Timestamp::from_millis(500)));
    }

    proptest! {
        #[test]
        fn every_contender_is_either_the_winner_or_carried_over(
            scores in proptest::collection::vec((0u64..20, 0u64..20), 1..30),
            position in 1u32..=3,
        ) {
            let contenders: Vec<Contender> = scores
                .iter()
                .enumerate()
                .map(|(i, (score, votes))| contender(i as u64 + 1, *score, *votes, 0))
                .collect();
            let plan = plan_advance(&facts(position, contenders.clone())).expect("plan");
            let AdvancePlan::Lock { winner, carried_over, next } = plan else { panic!("non-empty slot locks") };
            prop_assert!(!carried_over.contains(&winner));
            if position == 3 {
                prop_assert_eq!(next, NextSlot::SeasonFinished);
            } else {
                prop_assert_eq!(carried_over.len() + 1, contenders.len());
            }
        }
    }
}
