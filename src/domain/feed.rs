//! The fair feed: which clips of the voting slot a voter sees next, without
//! per-user ranking state. Unvoted clips come first, fresh clips (under two
//! hours old) get a boost, and otherwise the least-viewed clips come first,
//! with random jitter so equal clips take turns.
//!
//! Two ways to the same page: [`order_feed`] ranks a list of candidates (the
//! rule stated once, and the oracle the tests hold the other to), and
//! [`FeedOrder`] keeps the open slot's clips ranked across requests, so a
//! page costs the page, the jitter band and what this voter skips, not the
//! slot's size.

use std::collections::{BTreeSet, HashMap, HashSet};

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
/// [`FeedOrder`] draws the jitter among at most this many unvoted, unseen
/// clips (the least viewed, then oldest, of the band within
/// [`VIEW_JITTER`] views of the page's last one), so a page never visits a
/// whole band of thousands of equal clips. Showing a clip counts a view and
/// moves it down the order, so the band's clips still take turns.
pub const JITTER_WINDOW: usize = 64;

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

/// Sort key of a ranked clip: priority, staleness, jittered views, age, then
/// id (always unique).
type RankKey = (u8, u8, u64, Timestamp, ClipId);

/// The voter-specific priority: unvoted and unseen, unvoted and seen, voted.
fn priority(voted: bool, seen: bool) -> u8 {
    match (voted, seen) {
        (false, false) => 0,
        (false, true) => 1,
        (true, _) => 2,
    }
}

/// Whether a clip uploaded at `created_at` still gets the fresh boost at `now`.
fn is_fresh(created_at: Timestamp, now: Timestamp) -> bool {
    now.millis().saturating_sub(created_at.millis()) < FRESH_FOR_MILLIS
}

/// The best `limit` (already clamped) of `ranked`, best first.
fn best(mut ranked: Vec<RankKey>, limit: usize) -> Vec<ClipId> {
    if ranked.len() > limit {
        ranked.select_nth_unstable(limit);
        ranked.truncate(limit);
    }
    ranked.sort_unstable();
    ranked.into_iter().map(|key| key.4).collect()
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
    let ranked: Vec<RankKey> = candidates
        .iter()
        .filter(|c| !exclude.contains(&c.clip))
        .map(|c| {
            let stale = u8::from(!is_fresh(c.created_at, now));
            let views = c.view_count.saturating_add(jitter().min(VIEW_JITTER));
            (priority(c.voted, c.seen), stale, views, c.created_at, c.clip)
        })
        .collect();
    let limit = limit.clamp(1, MAX_FEED_LIMIT);
    let has_more = ranked.len() > limit;
    FeedPage { clips: best(ranked, limit), has_more }
}

/// A clip's place in a [`FeedOrder`]: fresh before stale, then fewer views,
/// then older, then lower id — the voter-independent part of [`RankKey`].
type OrderKey = (bool, u64, Timestamp, ClipId);

/// The open slot's clips ranked for the feed, kept across requests.
///
/// Everything of the order that does not depend on the voter — the fresh
/// boost, the views (counted here the moment a clip is shown, so the order
/// never waits for a flush), the upload time — is one ordered set. A page
/// walks it from the front and skips what this voter excluded, voted on or
/// was shown; it stops once it holds `limit` unvoted, unseen clips and has
/// passed the jitter band after the last of them (at most
/// [`JITTER_WINDOW`] such clips). So a request visits
/// `O(JITTER_WINDOW + skipped)` entries, where `skipped` is bounded by what
/// the voter can have excluded (≤ 200 ids per request), voted on (their
/// ledger for the slot) and been shown (`views::SEEN_CAP`), never by the
/// slot's size. Counting a view is `O(log n)`.
///
/// Fresh clips age into stale ones lazily, oldest first, when a page asks at
/// a later `now`. Time is taken as never running backwards: a clip once
/// stale stays stale.
#[derive(Debug, Clone, Default)]
pub struct FeedOrder {
    /// Every clip's key, in feed order.
    order: BTreeSet<OrderKey>,
    /// Each clip's current key.
    keys: HashMap<ClipId, OrderKey>,
    /// Clips still fresh, by upload time, so ageing takes the oldest first.
    fresh: BTreeSet<(Timestamp, ClipId)>,
}

impl FeedOrder {
    /// The order of `clips` (id, upload time, views) at `now`.
    pub fn new(clips: impl IntoIterator<Item = (ClipId, Timestamp, u64)>, now: Timestamp) -> Self {
        let mut order = FeedOrder::default();
        for (clip, created_at, views) in clips {
            order.insert(clip, created_at, views, now);
        }
        order
    }

    /// Replaces the clip set with `clips` (after the slot or its clips
    /// changed). A clip that stays keeps the larger of its views here and
    /// the views given: the ones here include views not flushed yet.
    pub fn replace(&mut self, clips: impl IntoIterator<Item = (ClipId, Timestamp, u64)>, now: Timestamp) {
        let old = std::mem::take(self);
        for (clip, created_at, views) in clips {
            let counted = old.keys.get(&clip).map_or(0, |key| key.1);
            self.insert(clip, created_at, views.max(counted), now);
        }
    }

    /// Puts `clip` in the order (moving it if it is there).
    fn insert(&mut self, clip: ClipId, created_at: Timestamp, views: u64, now: Timestamp) {
        self.remove(clip);
        let fresh = is_fresh(created_at, now);
        let key = (!fresh, views, created_at, clip);
        if fresh {
            self.fresh.insert((created_at, clip));
        }
        self.order.insert(key);
        self.keys.insert(clip, key);
    }

    /// Takes `clip` out of the order.
    fn remove(&mut self, clip: ClipId) -> Option<OrderKey> {
        let key = self.keys.remove(&clip)?;
        self.order.remove(&key);
        self.fresh.remove(&(key.2, clip));
        Some(key)
    }

    /// Moves `clip` to `views` views, if it is in the order.
    fn set_views(&mut self, clip: ClipId, views: u64) {
        if let Some(key) = self.keys.get_mut(&clip)
            && key.1 != views
        {
            self.order.remove(&*key);
            key.1 = views;
            self.order.insert(*key);
        }
    }

    /// Counts `views` more views of `clip` (ignored for a clip not in the
    /// order).
    pub fn add_views(&mut self, clip: ClipId, views: u64) {
        if let Some(counted) = self.views(clip) {
            self.set_views(clip, counted.saturating_add(views));
        }
    }

    /// Raises `clip`'s views to `total` if it counted fewer (a flushed total
    /// never lowers what was counted here since).
    pub fn raise_views(&mut self, clip: ClipId, total: u64) {
        if self.views(clip).is_some_and(|counted| counted < total) {
            self.set_views(clip, total);
        }
    }

    /// The views counted for `clip`, if it is in the order.
    pub fn views(&self, clip: ClipId) -> Option<u64> {
        self.keys.get(&clip).map(|key| key.1)
    }

    /// How many clips the order holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the order holds no clip.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Moves the clips whose fresh boost ended by `now` behind the fresh ones.
    fn age(&mut self, now: Timestamp) {
        while let Some(&(created_at, clip)) = self.fresh.first() {
            if is_fresh(created_at, now) {
                break;
            }
            self.fresh.pop_first();
            if let Some(key) = self.keys.get_mut(&clip) {
                self.order.remove(&*key);
                key.0 = true;
                self.order.insert(*key);
            }
        }
    }

    /// One voter's page: the same rule as [`order_feed`] over every clip of
    /// the order, where `status(clip)` says whether this voter voted on
    /// and was shown `clip`, and `jitter(clip)` returns a number in
    /// `0..=VIEW_JITTER` (larger values are capped). The page is the one
    /// [`order_feed`] gives for the same jitter per clip, except when more
    /// than [`JITTER_WINDOW`] unvoted, unseen clips lie within the jitter
    /// band: then the jitter draws among the first [`JITTER_WINDOW`] of them.
    pub fn page(
        &mut self,
        now: Timestamp,
        status: impl Fn(ClipId) -> (bool, bool),
        exclude: &[ClipId],
        limit: usize,
        mut jitter: impl FnMut(ClipId) -> u64,
    ) -> FeedPage {
        self.age(now);
        let limit = limit.clamp(1, MAX_FEED_LIMIT);
        let exclude: HashSet<ClipId> = exclude.iter().copied().filter(|clip| self.keys.contains_key(clip)).collect();
        let mut ranked: Vec<RankKey> = Vec::with_capacity(JITTER_WINDOW + limit);
        // Unvoted, unseen clips taken so far, and once there are `limit` of
        // them, the staleness and views of the last: nothing past that
        // staleness or beyond its views plus the jitter can outrank them.
        let mut unseen = 0;
        let mut band: Option<(bool, u64)> = None;
        for &(stale, views, created_at, clip) in &self.order {
            if let Some((band_stale, band_views)) = band
                && (stale != band_stale || views > band_views.saturating_add(VIEW_JITTER) || unseen >= JITTER_WINDOW)
            {
                break;
            }
            if exclude.contains(&clip) {
                continue;
            }
            let (voted, seen) = status(clip);
            let priority = priority(voted, seen);
            let jittered = views.saturating_add(jitter(clip).min(VIEW_JITTER));
            ranked.push((priority, u8::from(stale), jittered, created_at, clip));
            if priority == 0 {
                unseen += 1;
                if unseen == limit {
                    band = Some((stale, views));
                }
            }
        }
        let has_more = self.keys.len() - exclude.len() > limit;
        FeedPage { clips: best(ranked, limit), has_more }
    }
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

    /// A voted clip, a fresh one, and two stale ones with different view
    /// counts: ranked 4, 3, 2, 1 by both [`order_feed`] and [`FeedOrder`].
    fn one_of_each_rank() -> [FeedCandidate; 4] {
        [
            candidate(1, true, 0, 0),
            candidate(2, false, 3 * FRESH_FOR_MILLIS, 500),
            candidate(3, false, 3 * FRESH_FOR_MILLIS, 10),
            candidate(4, false, 60_000, 900),
        ]
    }

    #[test]
    fn unvoted_before_voted_then_fresh_then_least_viewed() {
        let now = Timestamp::from_millis(10 * FRESH_FOR_MILLIS);
        let candidates = one_of_each_rank();
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

    /// A slot of `count` clips made by `make(i)` → (voted, seen, age, views).
    fn slot(count: u64, make: impl Fn(u64) -> (bool, bool, i64, u64)) -> Vec<FeedCandidate> {
        (1..=count)
            .map(|id| {
                let (voted, seen, age_millis, views) = make(id);
                FeedCandidate { seen, ..candidate(id, voted, age_millis, views) }
            })
            .collect()
    }

    fn order_of(candidates: &[FeedCandidate], now: Timestamp) -> FeedOrder {
        FeedOrder::new(candidates.iter().map(|c| (c.clip, c.created_at, c.view_count)), now)
    }

    fn status_of(candidates: &[FeedCandidate]) -> impl Fn(ClipId) -> (bool, bool) + '_ {
        move |clip| candidates.iter().find(|c| c.clip == clip).map_or((false, false), |c| (c.voted, c.seen))
    }

    #[test]
    fn the_kept_order_gives_the_same_pages_as_ranking_everything() {
        let now = Timestamp::from_millis(10 * FRESH_FOR_MILLIS);
        let candidates = one_of_each_rank();
        let mut order = order_of(&candidates, now);
        let page = order.page(now, status_of(&candidates), &[], 8, |_| 0);
        assert_eq!(ids(&page), vec![4, 3, 2, 1]);
        assert!(!page.has_more);
        let excluded =
            [ClipId::new(4).expect("nonzero"), ClipId::new(4).expect("nonzero"), ClipId::new(99).expect("nonzero")];
        let page = order.page(now, status_of(&candidates), &excluded, 2, |_| 0);
        assert_eq!(ids(&page), vec![3, 2]);
        assert!(page.has_more, "clip 1 remains; a repeated or unknown excluded id is not counted twice");
    }

    #[test]
    fn fresh_clips_age_behind_the_stale_ones_they_outranked() {
        let start = Timestamp::from_millis(10 * FRESH_FOR_MILLIS);
        // Clip 1 is fresh for another minute, with more views than clip 2.
        let candidates =
            [candidate(1, false, FRESH_FOR_MILLIS - 60_000, 100), candidate(2, false, 3 * FRESH_FOR_MILLIS, 0)];
        let mut order = order_of(&candidates, start);
        assert_eq!(ids(&order.page(start, status_of(&candidates), &[], 8, |_| 0)), vec![1, 2]);
        let later = Timestamp::from_millis(start.millis() + 60_000);
        assert_eq!(ids(&order.page(later, status_of(&candidates), &[], 8, |_| 0)), vec![2, 1]);
        assert_eq!(
            order_feed(&candidates, &[], 8, later, || 0),
            order.page(later, status_of(&candidates), &[], 8, |_| 0)
        );
    }

    #[test]
    fn counted_views_move_a_clip_and_a_flushed_total_never_lowers_them() {
        let now = Timestamp::from_millis(10 * FRESH_FOR_MILLIS);
        let candidates = slot(3, |_| (false, false, 3 * FRESH_FOR_MILLIS, 0));
        let mut order = order_of(&candidates, now);
        let first = |order: &mut FeedOrder| ids(&order.page(now, |_| (false, false), &[], 1, |_| 0))[0];
        assert_eq!(first(&mut order), 1);
        order.add_views(ClipId::new(1).expect("nonzero"), 1);
        assert_eq!(first(&mut order), 2);
        order.raise_views(ClipId::new(2).expect("nonzero"), 5);
        order.raise_views(ClipId::new(1).expect("nonzero"), 0);
        assert_eq!(order.views(ClipId::new(1).expect("nonzero")), Some(1));
        assert_eq!(first(&mut order), 3);
        // A new clip set keeps what was counted for the clips that stay.
        let mut next = candidates.clone();
        next.remove(2);
        next.push(candidate(9, false, 3 * FRESH_FOR_MILLIS, 0));
        order.replace(next.iter().map(|c| (c.clip, c.created_at, c.view_count)), now);
        assert_eq!(order.len(), 3);
        assert_eq!(order.views(ClipId::new(2).expect("nonzero")), Some(5));
        assert_eq!(order.views(ClipId::new(3).expect("nonzero")), None);
        assert_eq!(first(&mut order), 9);
        order.add_views(ClipId::new(3).expect("nonzero"), 1);
        assert_eq!(order.views(ClipId::new(3).expect("nonzero")), None, "a clip not in the slot is not counted");
    }

    #[test]
    fn equal_clips_take_turns_without_ranking_the_whole_slot() {
        let now = Timestamp::from_millis(10 * FRESH_FOR_MILLIS);
        let candidates = slot(10_000, |_| (false, false, 3 * FRESH_FOR_MILLIS, 0));
        let mut order = order_of(&candidates, now);
        let mut walked = 0usize;
        let mut shown = HashSet::new();
        // Without jitter, every clip is shown once before any is shown twice.
        for _ in 0..10_000 / 8 {
            let page = order.page(
                now,
                |_| (false, false),
                &[],
                8,
                |_| {
                    walked += 1;
                    0
                },
            );
            for clip in page.clips {
                assert!(shown.insert(clip), "{clip:?} shown twice");
                order.add_views(clip, 1);
            }
        }
        assert_eq!(shown.len(), 10_000);
        assert!(walked <= 10_000 / 8 * JITTER_WINDOW, "a page visits the jitter window, not the slot: {walked}");
    }

    #[test]
    fn with_jitter_equal_clips_stay_within_the_jitter_of_each_other() {
        let now = Timestamp::from_millis(10 * FRESH_FOR_MILLIS);
        let candidates = slot(500, |_| (false, false, 3 * FRESH_FOR_MILLIS, 0));
        let mut order = order_of(&candidates, now);
        for _ in 0..5_000 {
            let page = order.page(now, |_| (false, false), &[], 8, |_| rand::random_range(0..=VIEW_JITTER));
            for clip in page.clips {
                order.add_views(clip, 1);
            }
        }
        let views: Vec<u64> = candidates.iter().filter_map(|c| order.views(c.clip)).collect();
        let (min, max) = (views.iter().min().copied(), views.iter().max().copied());
        assert_eq!(views.iter().sum::<u64>(), 40_000);
        // A tie at the band's edge goes to the older clip, so one more.
        assert!(max.zip(min).is_some_and(|(max, min)| max - min <= VIEW_JITTER + 1), "views {min:?}..{max:?}");
    }

    #[test]
    fn a_voter_who_skips_much_walks_past_it_and_still_gets_fillers() {
        let now = Timestamp::from_millis(10 * FRESH_FOR_MILLIS);
        // 300 clips: the 290 least viewed were all voted on or seen.
        let candidates = slot(300, |id| (id <= 200, (201..=290).contains(&id), 3 * FRESH_FOR_MILLIS, id));
        let mut order = order_of(&candidates, now);
        let page = order.page(now, status_of(&candidates), &[], 20, |_| 0);
        let expected: Vec<u64> = (291..=300).chain(201..=210).collect();
        assert_eq!(ids(&page), expected, "the 10 unseen, then the least-viewed seen");
        assert_eq!(page, order_feed(&candidates, &[], 20, now, || 0));
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pages_match_ranking_every_clip(
            clips in proptest::collection::vec((any::<bool>(), any::<bool>(), 0i64..3, 0u64..120, 0u64..=VIEW_JITTER), 0..JITTER_WINDOW),
            excluded in proptest::collection::vec(1u64..80, 0..6),
            limit in 0usize..25,
            viewed in proptest::collection::vec((1u64..80, 1u64..40), 0..10),
        ) {
            let now = Timestamp::from_millis(10 * FRESH_FOR_MILLIS);
            // Ages of a fresh clip, one just past the boost, an old one.
            let ages = [FRESH_FOR_MILLIS / 2, FRESH_FOR_MILLIS, 5 * FRESH_FOR_MILLIS];
            let mut candidates = slot(clips.len() as u64, |id| {
                let (voted, seen, age, views, _) = clips[(id - 1) as usize];
                (voted, seen, ages[age as usize], views)
            });
            let mut order = order_of(&candidates, now);
            for &(clip, views) in &viewed {
                let Some(candidate) = candidates.iter_mut().find(|c| c.clip.get() == clip) else { continue };
                candidate.view_count += views;
                order.add_views(candidate.clip, views);
            }
            let exclude: Vec<ClipId> = excluded.iter().filter_map(|id| ClipId::new(*id)).collect();
            let jitter_of = |clip: ClipId| clips[(clip.get() - 1) as usize].4;
            // `order_feed` draws one jitter per candidate not excluded, in order.
            let mut draws = candidates.iter().filter(|c| !exclude.contains(&c.clip)).map(|c| jitter_of(c.clip));
            let expected = order_feed(&candidates, &exclude, limit, now, || draws.next().unwrap_or(0));
            let page = order.page(now, status_of(&candidates), &exclude, limit, jitter_of);
            prop_assert_eq!(page, expected);
        }
    }
}
