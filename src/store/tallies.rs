//! The totals the writer keeps in step with the votes, recounted from the
//! votes: the all-time tallies of signed-in voters and of creators, and the
//! per-day leaderboard scores. `Store::check` compares them with what is
//! stored and the migration to schema 3 writes them, so a migrated file
//! checks clean by construction.

use std::collections::HashMap;

use redb::ReadableTable;

use super::tables::day_boards;
use super::{StoreError, records};
use crate::domain::model::Vote;

/// Totals recounted from counted votes.
#[derive(Debug, Default)]
pub struct TallyRecount {
    /// Signed-in voter's user id → (counted votes, their weight).
    pub users: HashMap<u64, (u64, u64)>,
    /// Creator user id → (counted votes received, their weight).
    pub creators: HashMap<u64, (u64, u64)>,
    /// (day, board, id) → score that day, for days from `days_from` on.
    pub days: HashMap<(u32, u8, u64), u64>,
    /// The first day `days` counts.
    pub days_from: u32,
    /// Clip → its creator (`None`: no such clip), read once per clip.
    creator_of: HashMap<u64, Option<u64>>,
}

impl TallyRecount {
    /// A recount of the day scores from `days_from` on.
    pub fn from_day(days_from: u32) -> Self {
        TallyRecount { days_from, ..TallyRecount::default() }
    }

    /// Adds one vote if it counts. A vote on a clip with no record counts for
    /// its voter only.
    pub fn add(&mut self, vote: &Vote, clips: &impl ReadableTable<u64, &'static [u8]>) -> Result<(), StoreError> {
        if !vote.counts() {
            return Ok(());
        }
        let weight = u64::from(vote.weight);
        let day = vote.day.number();
        let counts_that_day = day >= self.days_from;
        if let Some(user) = vote.voter.user_id() {
            add_to(self.users.entry(user.get()).or_default(), weight);
            if counts_that_day {
                *self.days.entry((day, day_boards::VOTERS, user.get())).or_default() += 1;
            }
        }
        let creator = match self.creator_of.get(&vote.clip.get()) {
            Some(creator) => *creator,
            None => {
                let creator = match clips.get(vote.clip.get())? {
                    Some(bytes) => Some(records::clip_from_bytes(bytes.value())?.creator.get()),
                    None => None,
                };
                self.creator_of.insert(vote.clip.get(), creator);
                creator
            }
        };
        if let Some(creator) = creator {
            add_to(self.creators.entry(creator).or_default(), weight);
            if counts_that_day {
                *self.days.entry((day, day_boards::CLIPS, vote.clip.get())).or_default() += weight;
                *self.days.entry((day, day_boards::CREATORS, creator)).or_default() += weight;
            }
        }
        Ok(())
    }
}

fn add_to(tally: &mut (u64, u64), weight: u64) {
    *tally = (tally.0 + 1, tally.1 + weight);
}
