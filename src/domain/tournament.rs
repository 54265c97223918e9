//! Seasons, slots and clips: their states and the rule that picks a slot's winner.

use super::clock::Timestamp;
use super::ids::ClipId;

/// A season's lifecycle: `draft → active → finished → archived`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeasonStatus {
    /// Being prepared by an admin.
    Draft,
    /// The film being made now; at most one season is active.
    Active,
    /// Every slot is locked.
    Finished,
    /// Hidden from the main pages.
    Archived,
}

/// A slot's lifecycle: `upcoming → voting → locked`, plus `waiting_for_clips`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotStatus {
    /// Not open yet.
    Upcoming,
    /// Open for votes until `voting_ends_at`.
    Voting,
    /// Open, but no active clip to vote on yet.
    WaitingForClips,
    /// Its winner is part of the film.
    Locked,
}

/// A clip's lifecycle: `pending → active → locked`, or `rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipStatus {
    /// Uploaded, waiting for moderation.
    Pending,
    /// Competing in the open slot.
    Active,
    /// Won its slot; part of the film.
    Locked,
    /// Refused by a moderator.
    Rejected,
}

macro_rules! wire_enum {
    ($name:ident { $($variant:ident => $text:literal / $tag:literal),+ $(,)? }) => {
        impl $name {
            /// The wire name (snake_case).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The storage tag.
            pub fn tag(self) -> u8 {
                match self { $($name::$variant => $tag),+ }
            }

            /// Reads a storage tag.
            pub fn from_tag(tag: u8) -> Option<Self> {
                match tag { $($tag => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

wire_enum!(SeasonStatus { Draft => "draft" / 0, Active => "active" / 1, Finished => "finished" / 2, Archived => "archived" / 3 });
wire_enum!(SlotStatus { Upcoming => "upcoming" / 0, Voting => "voting" / 1, WaitingForClips => "waiting_for_clips" / 2, Locked => "locked" / 3 });
wire_enum!(ClipStatus { Pending => "pending" / 0, Active => "active" / 1, Locked => "locked" / 2, Rejected => "rejected" / 3 });

/// A clip competing for a slot, with its standing in that slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contender {
    /// The clip.
    pub clip: ClipId,
    /// Sum of vote weights in this slot.
    pub weighted_score: u64,
    /// Number of votes in this slot.
    pub vote_count: u64,
    /// When the clip was uploaded.
    pub created_at: Timestamp,
}

/// Picks a slot's winner: highest weighted score; ties go to more votes, then
/// the earlier upload, then the lower id, so the result never depends on order.
pub fn pick_winner(contenders: &[Contender]) -> Option<ClipId> {
    contenders
        .iter()
        .min_by(|a, b| {
            b.weighted_score
                .cmp(&a.weighted_score)
                .then(b.vote_count.cmp(&a.vote_count))
                .then(a.created_at.cmp(&b.created_at))
                .then(a.clip.cmp(&b.clip))
        })
        .map(|winner| winner.clip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn contender(id: u64, score: u64, votes: u64, created: i64) -> Contender {
        Contender {
            clip: ClipId::new(id).expect("nonzero"),
            weighted_score: score,
            vote_count: votes,
            created_at: Timestamp::from_millis(created),
        }
    }

    #[test]
    fn ties_break_by_votes_then_age_then_id() {
        let by_votes = [contender(1, 10, 3, 0), contender(2, 10, 5, 0)];
        assert_eq!(pick_winner(&by_votes).map(ClipId::get), Some(2));
        let by_age = [contender(1, 10, 5, 9), contender(2, 10, 5, 3)];
        assert_eq!(pick_winner(&by_age).map(ClipId::get), Some(2));
        let by_id = [contender(4, 10, 5, 3), contender(2, 10, 5, 3)];
        assert_eq!(pick_winner(&by_id).map(ClipId::get), Some(2));
        assert_eq!(pick_winner(&[]), None);
    }

    #[test]
    fn status_tags_round_trip() {
        for status in [SlotStatus::Upcoming, SlotStatus::Voting, SlotStatus::WaitingForClips, SlotStatus::Locked] {
            assert_eq!(SlotStatus::from_tag(status.tag()), Some(status));
        }
        assert_eq!(ClipStatus::from_tag(9), None);
    }

    proptest! {
        #[test]
        fn the_winner_does_not_depend_on_order(
            raw in proptest::collection::vec((1u64..50, 0u64..20, 0u64..20, 0i64..5), 1..20),
            seed in any::<u64>(),
        ) {
            let mut seen = std::collections::HashSet::new();
            let contenders: Vec<_> = raw
                .into_iter()
                .filter(|(id, ..)| seen.insert(*id))
                .map(|(id, score, votes, created)| contender(id, score, votes, created))
                .collect();
            let mut shuffled = contenders.clone();
            let len = shuffled.len();
            shuffled.rotate_left((seed as usize) % len);
            prop_assert_eq!(pick_winner(&contenders), pick_winner(&shuffled));
            let winner = pick_winner(&contenders).expect("non-empty");
            let best = contenders.iter().map(|c| c.weighted_score).max().expect("non-empty");
            let winning = contenders.iter().find(|c| c.clip == winner).expect("present");
            prop_assert_eq!(winning.weighted_score, best);
        }
    }
}
