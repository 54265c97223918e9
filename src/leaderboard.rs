//! The leaderboard service: the in-memory boards of `domain::leaderboard`
//! behind a lock, rebuilt at start from storage and kept current by the
//! writer's committed `VoteTallied` events.
//!
//! Start-up reads no more than the all-time tallies and the votes cast since
//! the Monday of the previous week (see [`Store::leaderboard_snapshot`]). It
//! runs in `App::build` before the writer thread starts, so no batch can
//! commit between the snapshot and the first event the listener applies:
//! nothing is lost or counted twice.
//!
//! Scores: clips and creators by weighted score (a super vote weighs more),
//! voters by the number of votes they cast; only signed-in voters are listed.
//! Ties go to the lower id. Days and weeks roll over at 00:00 UTC, weeks on
//! Mondays (ISO weeks).

use std::sync::Arc;

use parking_lot::Mutex;

use crate::domain::clock::Timestamp;
use crate::domain::leaderboard::{self, Board, LeaderboardPage, Leaderboards, Period};
use crate::store::writer::CommittedEvent;
use crate::store::{Store, StoreError};

/// The clock the boards use for "today": the writer's, so a vote's day and
/// the day a page is asked on agree.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Every board for every period, shared by all requests.
pub struct LeaderboardService {
    boards: Mutex<Leaderboards>,
    clock: Clock,
}

/// What a rebuild read and how long it took, for the start-up log line.
#[derive(Debug, Clone, Copy)]
pub struct RebuildStats {
    /// Clips, creators and voters with an all-time score.
    pub ranked: usize,
    /// Counted votes replayed into the day and week boards.
    pub recent_votes: usize,
    /// Vote records read to find and replay them.
    pub votes_read: u64,
    /// Wall time of the rebuild in milliseconds.
    pub millis: u128,
}

/// Deepest rank a profile shows.
pub const RANK_CAP: usize = 10_000;

impl LeaderboardService {
    /// Rebuilds the boards from storage as of the clock's day. Call before
    /// the writer starts (see the module doc).
    pub fn load(store: &Store, clock: Clock) -> Result<(LeaderboardService, RebuildStats), StoreError> {
        let started = std::time::Instant::now();
        let today = clock().utc_day();
        let snapshot = store.leaderboard_snapshot(leaderboard::restore_window_start(today))?;
        let boards = Leaderboards::restore(today, &snapshot.totals, &snapshot.recent);
        let stats = RebuildStats {
            ranked: snapshot.totals.clips.len() + snapshot.totals.creators.len() + snapshot.totals.voters.len(),
            recent_votes: snapshot.recent.len(),
            votes_read: snapshot.votes_read,
            millis: started.elapsed().as_millis(),
        };
        Ok((LeaderboardService { boards: Mutex::new(boards), clock }, stats))
    }

    /// Applies a committed batch's vote tallies (called on the writer thread,
    /// after commit). Takes the lock once per batch, and not at all for a
    /// batch without votes.
    pub fn apply(&self, events: &[CommittedEvent]) {
        let mut tallies = events
            .iter()
            .filter_map(|event| match event {
                CommittedEvent::VoteTallied(tally) => Some(tally),
                _ => None,
            })
            .peekable();
        if tallies.peek().is_none() {
            return;
        }
        let mut boards = self.boards.lock();
        for tally in tallies {
            boards.record(
                tally.day,
                tally.clip.get(),
                tally.creator.get(),
                tally.voter.user_id().map(|user| user.get()),
                tally.weight,
                i64::from(tally.delta),
            );
        }
    }

    /// A user's all-time rank among voters, if within the top [`RANK_CAP`]
    /// (beyond that a profile shows none): bounded work per request.
    pub fn voter_rank(&self, user: u64) -> Option<usize> {
        self.boards.lock().all_time_rank(Board::Voters, user, RANK_CAP)
    }

    /// One page of a board as of today: `O(log n + offset + limit)` under
    /// the lock, with `offset` capped by the caller at
    /// [`leaderboard::MAX_OFFSET`].
    pub fn page(&self, board: Board, period: Period, offset: usize, limit: usize) -> LeaderboardPage {
        let today = (self.clock)().utc_day();
        self.boards.lock().page(board, period, today, offset, limit)
    }
}
