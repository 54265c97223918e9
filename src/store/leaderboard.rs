//! Reads for the leaderboards: the start-up snapshot (persisted all-time
//! totals plus the recent votes, never the whole vote history) and the names
//! shown next to one page of entries.

use std::collections::HashMap;

use redb::ReadableTable;

use super::tables::*;
use super::{Store, StoreError, records};
use crate::domain::clock::UtcDay;
use crate::domain::ids::VoterKey;
use crate::domain::leaderboard::{AllTimeTotals, Board, RecentVote};
use crate::domain::tournament::ClipStatus;

/// How far before the window start the vote bisection aims, so a wall clock
/// stepped back by up to this much between two votes cannot hide a vote of
/// the window; votes before the window are then skipped by their day.
const CLOCK_STEP_MARGIN_MILLIS: i64 = 60 * 60 * 1000;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// What the leaderboards are rebuilt from at start.
#[derive(Debug, Clone, Default)]
pub struct LeaderboardSnapshot {
    /// All-time scores from the tally and counter tables.
    pub totals: AllTimeTotals,
    /// Counted votes cast on or after the window's first day, oldest first.
    pub recent: Vec<RecentVote>,
    /// Votes read to find and replay the window (bisection probes included).
    pub votes_read: u64,
}

/// The name shown for a leaderboard entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryName {
    /// Clip title or username.
    pub name: String,
    /// For clips, the creator's username.
    pub creator: Option<String>,
}

impl Store {
    /// Reads what the leaderboards need at start: all-time totals from
    /// `SLOT_CLIP_TO_COUNTER` (summed per clip), `CREATOR_TO_TALLY` and the
    /// signed-in part of `VOTER_TO_TALLY` — `O(clips + creators + users)` —
    /// and the counted votes cast since `window_start`, found by bisecting
    /// vote ids (which increase with `cast_at`) and read by one range:
    /// `O(log votes + votes in the window)`.
    pub fn leaderboard_snapshot(&self, window_start: UtcDay) -> Result<LeaderboardSnapshot, StoreError> {
        let txn = self.read()?;
        let mut snapshot = LeaderboardSnapshot::default();
        let mut clip_scores: HashMap<u64, u64> = HashMap::new();
        for entry in txn.open_table(SLOT_CLIP_TO_COUNTER)?.iter()? {
            let (key, value) = entry?;
            let (_, _, clip) = key.value();
            let (_, weighted) = value.value();
            if weighted > 0 {
                *clip_scores.entry(clip).or_default() += weighted;
            }
        }
        snapshot.totals.clips = clip_scores.into_iter().collect();
        for entry in txn.open_table(CREATOR_TO_TALLY)?.iter()? {
            let (creator, value) = entry?;
            let (_, weighted) = value.value();
            if weighted > 0 {
                snapshot.totals.creators.push((creator.value(), weighted));
            }
        }
        // Signed-in voters' keys are `u:<id>`; `;` follows `:` in ASCII, so
        // this range skips every anonymous `d:` key.
        for entry in txn.open_table(VOTER_TO_TALLY)?.range("u:".."u;")? {
            let (key, value) = entry?;
            let (votes, _) = value.value();
            let user = VoterKey::parse(key.value()).ok().and_then(|voter| voter.user_id());
            if let Some(user) = user
                && votes > 0
            {
                snapshot.totals.voters.push((user.get(), votes));
            }
        }
        let votes = txn.open_table(VOTE_ID_TO_VOTE)?;
        let start_millis = i64::from(window_start.number()) * MILLIS_PER_DAY - CLOCK_STEP_MARGIN_MILLIS;
        let first = first_vote_cast_since(&votes, start_millis, &mut snapshot.votes_read)?;
        let clips = txn.open_table(CLIP_ID_TO_CLIP)?;
        let mut creators: HashMap<u64, Option<u64>> = HashMap::new();
        for entry in votes.range(first..)? {
            let (_, bytes) = entry?;
            snapshot.votes_read += 1;
            let vote = records::vote_from_bytes(bytes.value())?;
            if !vote.counts() || vote.day < window_start {
                continue;
            }
            let creator = match creators.get(&vote.clip.get()) {
                Some(creator) => *creator,
                None => {
                    let creator = match clips.get(vote.clip.get())? {
                        Some(bytes) => Some(records::clip_from_bytes(bytes.value())?.creator.get()),
                        None => None,
                    };
                    creators.insert(vote.clip.get(), creator);
                    creator
                }
            };
            let Some(creator) = creator else { continue };
            snapshot.recent.push(RecentVote {
                day: vote.day,
                clip: vote.clip.get(),
                creator,
                voter: vote.voter.user_id().map(|user| user.get()),
                weight: vote.weight,
            });
        }
        Ok(snapshot)
    }

    /// The names shown for one page of a board: one point read per id.
    /// Ids with no record (a deleted account) or a clip no longer shown
    /// (rejected, withdrawn) are left out.
    pub fn leaderboard_names(&self, board: Board, ids: &[u64]) -> Result<HashMap<u64, EntryName>, StoreError> {
        let txn = self.read()?;
        let mut names = HashMap::with_capacity(ids.len());
        match board {
            Board::Clips => {
                let clips = txn.open_table(CLIP_ID_TO_CLIP)?;
                for &id in ids {
                    if let Some(bytes) = clips.get(id)? {
                        let clip = records::clip_from_bytes(bytes.value())?;
                        // A clip a moderator rejected (or its creator's deletion
                        // withdrew) keeps its score but not its title.
                        if matches!(clip.status, ClipStatus::Active | ClipStatus::Locked) {
                            names.insert(id, EntryName { name: clip.title, creator: Some(clip.creator_username) });
                        }
                    }
                }
            }
            Board::Creators | Board::Voters => {
                let users = txn.open_table(USER_ID_TO_USER)?;
                for &id in ids {
                    if let Some(bytes) = users.get(id)? {
                        let user = records::user_from_bytes(bytes.value())?;
                        names.insert(id, EntryName { name: user.username, creator: None });
                    }
                }
            }
        }
        Ok(names)
    }
}

/// The smallest vote id whose vote was cast at or after `start_millis`, by
/// bisection over the id range (ids may have gaps: each probe reads the first
/// vote at or after the midpoint). Returns one past the last id when every
/// vote is older. `O(log(id range))` probes of `O(log votes)` each.
fn first_vote_cast_since(
    votes: &impl ReadableTable<u64, &'static [u8]>,
    start_millis: i64,
    probes: &mut u64,
) -> Result<u64, StoreError> {
    let (Some(first), Some(last)) = (votes.first()?, votes.last()?) else { return Ok(0) };
    // Invariant: every vote below `low` was cast before the start; every vote
    // at or above `high` was cast at or after it (or does not exist).
    let (mut low, mut high) = (first.0.value(), last.0.value().saturating_add(1));
    drop((first, last));
    while low < high {
        let middle = low + (high - low) / 2;
        let found = match votes.range(middle..)?.next() {
            Some(entry) => {
                let (id, bytes) = entry?;
                *probes += 1;
                Some((id.value(), records::vote_from_bytes(bytes.value())?.cast_at.millis()))
            }
            None => None,
        };
        match found {
            Some((id, cast_at)) if id < high && cast_at < start_millis => low = id + 1,
            _ => high = middle,
        }
    }
    Ok(low)
}
