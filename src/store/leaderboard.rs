//! Reads for the leaderboards: the start-up snapshot (persisted all-time
//! totals and per-day scores, never a vote) and the names shown next to one
//! page of entries.

use std::collections::HashMap;

use redb::ReadableTable;

use super::tables::*;
use super::{Store, StoreError, records};
use crate::domain::clock::UtcDay;
use crate::domain::leaderboard::{AllTimeTotals, Board, DayScore};
use crate::domain::tournament::ClipStatus;

/// What the leaderboards are rebuilt from at start.
#[derive(Debug, Clone, Default)]
pub struct LeaderboardSnapshot {
    /// All-time scores from the tally and counter tables.
    pub totals: AllTimeTotals,
    /// Per-day scores from the window's first day on, in day order.
    pub days: Vec<DayScore>,
    /// Rows read for both (no vote is read).
    pub rows_read: u64,
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
    /// `SLOT_CLIP_TO_COUNTER` (summed per clip), `CREATOR_TO_TALLY` and
    /// `USER_ID_TO_VOTE_TALLY`, and the per-day scores of `DAY_ENTRY_TO_SCORE`
    /// since `window_start`: `O(clips × slots + creators + signed-in voters
    /// + ids scored per day)`, whatever the number of votes.
    pub fn leaderboard_snapshot(&self, window_start: UtcDay) -> Result<LeaderboardSnapshot, StoreError> {
        let txn = self.read()?;
        let mut snapshot = LeaderboardSnapshot::default();
        let mut clip_scores: HashMap<u64, u64> = HashMap::new();
        for entry in txn.open_table(SLOT_CLIP_TO_COUNTER)?.iter()? {
            let (key, value) = entry?;
            snapshot.rows_read += 1;
            let (_, _, clip) = key.value();
            let (_, weighted) = value.value();
            if weighted > 0 {
                *clip_scores.entry(clip).or_default() += weighted;
            }
        }
        snapshot.totals.clips = clip_scores.into_iter().collect();
        for entry in txn.open_table(CREATOR_TO_TALLY)?.iter()? {
            let (creator, value) = entry?;
            snapshot.rows_read += 1;
            let (_, weighted) = value.value();
            if weighted > 0 {
                snapshot.totals.creators.push((creator.value(), weighted));
            }
        }
        for entry in txn.open_table(USER_ID_TO_VOTE_TALLY)?.iter()? {
            let (user, value) = entry?;
            snapshot.rows_read += 1;
            let (votes, _) = value.value();
            if votes > 0 {
                snapshot.totals.voters.push((user.value(), votes));
            }
        }
        for entry in txn.open_table(DAY_ENTRY_TO_SCORE)?.range((window_start.number(), 0, 0)..)? {
            let (key, score) = entry?;
            snapshot.rows_read += 1;
            let (day, board, id) = key.value();
            let board = match board {
                day_boards::CLIPS => Board::Clips,
                day_boards::CREATORS => Board::Creators,
                day_boards::VOTERS => Board::Voters,
                other => {
                    return Err(StoreError::Corrupt { what: "day score", reason: format!("unknown board {other}") });
                }
            };
            snapshot.days.push(DayScore { day: UtcDay::from_number(day), board, id, score: score.value() });
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
