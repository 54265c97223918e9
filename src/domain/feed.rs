//! The fair feed: which clips of the voting slot a voter sees next, without
//! per-user ranking state. Unvoted clips come first, fresh clips (under two
//! hours old) get a boost, and otherwise the least-viewed clips come first,
//! with random jitter so equal clips take turns.

use super::clock::Timestamp;
use super::ids::ClipId;

/// Feed size when the client does not ask for one.
pub const DEFAULT_FEED_LIMIT: usize = 8;
/// Largest feed page a client may ask for.
pub const MAX_FEED_LIMIT: usize = 20;
/// Clips younger than this are shown before older ones of the same priority.
pub const FRESH_FOR_MILLIS: i64 = 2 * 60 * 60 * 1000;
/// View counts are jittered by up to this much so equal clips take turns.
pub const VIEW_JITTER: u64 = 50;

/// One clip of the voting slot, as the feed sees it for one voter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedCandidate {
    /// The clip.
    pub clip: ClipId,
    /// Whether this voter already voted for it in this slot.
    pub voted: bool,
    /// Whether this voter has already been shown it.
    pub seen: bool,
    /// Upload time.
    pub created_at: Timestamp,
    /// Views so far.
    pub view_count: u64,
}

/// The clips to show and whether more remain beyond them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    /// Clips in the order to show.
    pub clips: Vec<ClipId>,
    /// Whether unshown clips remain.
    pub has_more: bool,
}

/// Orders the candidates for one voter. `jitter` returns a number in
/// `0..=VIEW_JITTER` per call; tests pass a fixed one.
pub fn order_feed(
    candidates: &[FeedCandidate],
    exclude: &[ClipId],
    limit: usize,
    now: Timestamp,
    mut jitter: impl FnMut() -> u64,
) -> FeedPage {
    // Sort key: priority, staleness, jittered views, age, then id (always unique).
    type RankKey = (u8, u8, u64, Timestamp, ClipId);
    let mut ranked: Vec<RankKey> = candidates
        .iter()
        .filter(|c| !exclude.contains(&c.clip))
        .map(|c| {
            let priority = match (c.voted, c.seen) {
                (false, false) => 0,
                (false, true) => 1,
                (true, _) => 2,
            };
            let fresh = u8::from(now.millis().saturating_sub(c.created_at.millis()) >= FRESH_FOR_MILLIS);
            let views = c.view_count.saturating_add(jitter().min(VIEW_JITTER));
            (priority, fresh, views, c.created_at, c.clip)
        })
        .collect();
    let limit = limit.clamp(1, MAX_FEED_LIMIT);
    let has_more = ranked.len() > limit;
    if has_more {
        ranked.select_nth_unstable(limit);
        ranked.truncate(limit);
    }
    ranked.sort_unstable();
    FeedPage { clips: ranked.into_iter().map(|key| key.4).collect(), has_more }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: u64, voted: bool, age_millis: i64, views: u64) -> FeedCandidate {
        FeedCandidate {
            clip: ClipId::new(id).expect("nonzero"),
            voted,
            seen: false,
            created_at: Timestamp::from_millis(10 * FRESH_FOR_MILLIS - age_millis),
            view_count: views,
        }
    }

    fn ids(page: &FeedPage) -> Vec<u64> {
        page.clips.iter().map(|c| c.get()).collect()
    }

    #[test]
    fn unvoted_before_voted_then_fresh_then_least_viewed() {
        let now = Timestamp::from_millis(10 * FRESH_FOR_MILLIS);
        let candidates = [
            candidate(1, true, 0, 0),
            candidate(2, false, 3 * FRESH_FOR_MILLIS, 500),
            candidate(3, false, 3 * FRESH_FOR_MILLIS, 10),
            candidate(4, false, 60_000, 900),
        ];
        let page = order_feed(&candidates, &[], 8, now, || 0);
        assert_eq!(ids(&page), vec![4, 3, 2, 1]);
        assert!(!page.has_more);
    }

    #[test]
    fn excludes_and_limits() {
        let now = Timestamp::from_millis(10 * FRESH_FOR_MILLIS);
        let candidates: Vec<_> = (1..=30).map(|id| candidate(id, false, 3 * FRESH_FOR_MILLIS, id)).collect();
        let excluded = [ClipId::new(1).expect("nonzero")];
        let page = order_feed(&candidates, &excluded, 100, now, || 0);
        assert_eq!(page.clips.len(), MAX_FEED_LIMIT);
        assert_eq!(ids(&page)[0], 2);
        assert!(page.has_more);
    }
}
