//! The all-time voter and creator tallies recounted from votes: what
//! `Store::check` compares with the stored tallies and what the 1 → 2
//! migration writes, so a migrated file checks clean by construction.

use std::collections::HashMap;

use redb::ReadableTable;

use super::{StoreError, records};
use crate::domain::model::Vote;

/// Tallies recounted from counted votes: (votes, weight) per voter key and
/// per creator of the clip voted on.
#[derive(Debug, Default)]
pub struct TallyRecount {
    /// Voter key → (counted votes, their weight).
    pub voters: HashMap<String, (u64, u64)>,
    /// Creator user id → (counted votes received, their weight).
    pub creators: HashMap<u64, (u64, u64)>,
    /// Clip → its creator (`None`: no such clip), read once per clip.
    creator_of: HashMap<u64, Option<u64>>,
}

impl TallyRecount {
    /// Adds one vote if it counts. A vote on a clip with no record counts for
    /// its voter only.
    pub fn add(&mut self, vote: &Vote, clips: &impl ReadableTable<u64, &'static [u8]>) -> Result<(), StoreError> {
        if !vote.counts() {
            return Ok(());
        }
        let weight = u64::from(vote.weight);
        add_to(self.voters.entry(vote.voter.as_str().to_owned()).or_default(), weight);
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
        }
        Ok(())
    }
}

fn add_to(tally: &mut (u64, u64), weight: u64) {
    *tally = (tally.0 + 1, tally.1 + weight);
}
