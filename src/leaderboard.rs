//! The leaderboard service: the in-memory boards of `domain::leaderboard`
//! behind a lock, rebuilt at start from storage and kept current by the
//! writer's committed `VoteTallied` events.
//!
//! Start-up reads the all-time tallies and the per-day scores since the
//! Monday of the previous week, never a vote (see
//! [`Store::leaderboard_snapshot`]). It
//! runs in `App::build` before the writer thread starts, so no batch can
//! commit between the snapshot and the first event the listener applies:
//! nothing is lost or counted twice.
//!
//! Scores: clips and creators by weighted score (a super vote weighs more),
//! voters by the number of votes they cast; only signed-in voters are listed.
//! Ties go to the lower id. Days and weeks roll over at 00:00 UTC, weeks on
//! Mondays (ISO weeks).

use parking_lot::Mutex;

use crate::domain::clock::Clock;
use crate::domain::leaderboard::{self, Board, LeaderboardPage, Leaderboards, Period};
use crate::store::writer::CommittedEvent;
use crate::store::{Store, StoreError};

/// Every board for every period, shared by all requests.
///
/// The writer thread never waits behind a page: it queues each batch's
/// tallies in `pending` (a short lock) and applies them only when the boards
/// are free; whoever takes the boards next (a page, a rank, the next batch)
/// applies the queue first, in commit order, so every read sees every
/// committed vote.
pub struct LeaderboardService {
    boards: Mutex<Leaderboards>,
    pending: Mutex<Vec<PendingTally>>,
    clock: Clock,
}

/// One committed vote tally waiting to be applied to the boards.
#[derive(Debug, Clone, Copy)]
struct PendingTally {
    day: crate::domain::clock::UtcDay,
    clip: u64,
    creator: u64,
    voter: Option<u64>,
    weight: u32,
    delta: i64,
}

/// What a rebuild read and how long it took, for the start-up log line.
#[derive(Debug, Clone, Copy)]
pub struct RebuildStats {
    /// Clips, creators and voters with an all-time score.
    pub ranked: usize,
    /// Per-day scores put into the day and week boards.
    pub day_scores: usize,
    /// Rows read for the totals and the day scores (no vote is read).
    pub rows_read: u64,
    /// Wall time of the rebuild in milliseconds.
    pub millis: u128,
    /// The part of it spent reading storage.
    pub read_millis: u128,
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
        let read_millis = started.elapsed().as_millis();
        let boards = Leaderboards::restore(today, &snapshot.totals, &snapshot.days);
        let stats = RebuildStats {
            ranked: snapshot.totals.clips.len() + snapshot.totals.creators.len() + snapshot.totals.voters.len(),
            day_scores: snapshot.days.len(),
            rows_read: snapshot.rows_read,
            millis: started.elapsed().as_millis(),
            read_millis,
        };
        Ok((LeaderboardService { boards: Mutex::new(boards), pending: Mutex::new(Vec::new()), clock }, stats))
    }

    /// Takes a committed batch's vote tallies (called on the writer thread,
    /// after commit): queues them, then applies the queue if the boards are
    /// free. Does nothing for a batch without votes.
    pub fn apply(&self, events: &[CommittedEvent]) {
        let tallies = events.iter().filter_map(|event| match event {
            CommittedEvent::VoteTallied(tally) => Some(PendingTally {
                day: tally.day,
                clip: tally.clip.get(),
                creator: tally.creator.get(),
                voter: tally.voter.user_id().map(|user| user.get()),
                weight: tally.weight,
                delta: i64::from(tally.delta),
            }),
            _ => None,
        });
        let mut pending = self.pending.lock();
        let before = pending.len();
        pending.extend(tallies);
        if pending.len() == before {
            return;
        }
        drop(pending);
        if let Some(mut boards) = self.boards.try_lock() {
            self.apply_pending(&mut boards);
        }
    }

    /// Applies the queued tallies, in commit order, to the locked boards.
    fn apply_pending(&self, boards: &mut Leaderboards) {
        let queued = std::mem::take(&mut *self.pending.lock());
        for tally in queued {
            boards.record(tally.day, tally.clip, tally.creator, tally.voter, tally.weight, tally.delta);
        }
    }

    /// The boards with every committed vote applied.
    fn current(&self) -> parking_lot::MutexGuard<'_, Leaderboards> {
        let mut boards = self.boards.lock();
        self.apply_pending(&mut boards);
        boards
    }

    /// A user's all-time rank among voters, if within the top [`RANK_CAP`]
    /// (beyond that a profile shows none): bounded work per request.
    pub fn voter_rank(&self, user: u64) -> Option<usize> {
        self.current().all_time_rank(Board::Voters, user, RANK_CAP)
    }

    /// One page of a board as of today: `O(log n + offset + limit)` under
    /// the lock, with `offset` capped by the caller at
    /// [`leaderboard::MAX_OFFSET`].
    pub fn page(&self, board: Board, period: Period, offset: usize, limit: usize) -> LeaderboardPage {
        let today = (self.clock)().utc_day();
        self.current().page(board, period, today, offset, limit)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::clock::{Timestamp, UtcDay};
    use crate::domain::ids::{ClipId, UserId, VoterKey};
    use crate::store::writer::VoteTally;

    fn vote_on(clip: u64) -> CommittedEvent {
        CommittedEvent::VoteTallied(VoteTally {
            day: UtcDay::from_number(20_000),
            clip: ClipId::new(clip).expect("id"),
            creator: UserId::new(9).expect("id"),
            voter: VoterKey::user(UserId::new(5).expect("id")),
            weight: 1,
            delta: 1,
        })
    }

    #[test]
    fn the_writer_never_waits_for_a_page_and_pages_see_every_committed_vote() {
        let clock: Clock = Arc::new(|| Timestamp::from_millis(20_000 * 86_400_000));
        let service =
            LeaderboardService { boards: Mutex::new(Leaderboards::new()), pending: Mutex::new(Vec::new()), clock };
        let held = service.boards.lock();
        // A page holds the boards: the writer's apply queues and returns.
        service.apply(&[vote_on(1), vote_on(2)]);
        service.apply(&[vote_on(2)]);
        assert_eq!(service.pending.lock().len(), 3);
        drop(held);
        let page = service.page(Board::Clips, Period::All, 0, 10);
        let scores: Vec<(u64, u64)> = page.entries.iter().map(|entry| (entry.id, entry.score)).collect();
        assert_eq!(scores, vec![(2, 2), (1, 1)], "queued votes applied in order before the page");
        assert!(service.pending.lock().is_empty());
        // With the boards free, a batch is applied at once.
        service.apply(&[vote_on(1), vote_on(1)]);
        assert!(service.pending.lock().is_empty());
        assert_eq!(service.voter_rank(5), Some(1));
    }
}
