//! Leaderboards kept as ranked structures in memory, updated incrementally from
//! committed vote events, so that a page costs `O(offset + limit)` with the
//! offset capped, and an update costs `O(log n)`. Nothing here scans or sorts
//! every clip, creator or voter ("bounded work per request", an invariant in
//! ARCHITECTURE.md).
//!
//! Three boards (clips, creators, voters) are kept for three periods: the UTC
//! day, the Monday-aligned week, and all time. Day and week keep only the
//! current and the previous bucket; the previous one is the baseline for the
//! trend marker. All time keeps one ranking and a snapshot of its top ranks
//! taken at the start of each UTC day as its trend baseline.
//!
//! Memory is bounded by the distinct ids with a nonzero score in the kept
//! buckets: per board, two day rankings, two week rankings and the all-time
//! ranking (one ordered-set entry and one map entry per id each), plus at most
//! [`TREND_DEPTH`] baseline ranks per board and period and the set of ids that
//! entered the all-time ranking since the start of the day.
//!
//! The module is pure: time comes in as a [`UtcDay`], and nothing here reads a
//! clock, locks or does I/O. Time never runs backwards: a day older than the
//! newest one seen is treated as the newest (page) or counts only in the
//! buckets still kept (record).

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeSet, HashMap, HashSet};

use super::clock::UtcDay;

/// Largest page a client may ask for.
pub const MAX_LIMIT: usize = 100;
/// Largest offset a client may ask for. Paging walks the ordered set from the
/// top, so this cap is what keeps a page request bounded.
pub const MAX_OFFSET: usize = 10_000;
/// How many ranks a trend baseline remembers: every rank a page can show
/// (`offset + limit <= MAX_OFFSET + MAX_LIMIT`), so trends are exact.
pub const TREND_DEPTH: usize = MAX_OFFSET + MAX_LIMIT;

/// The time span a leaderboard covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// The current UTC day.
    Day,
    /// The current week, Monday 00:00 UTC to Sunday 24:00 UTC.
    Week,
    /// Everything ever recorded.
    All,
}

impl Period {
    /// Parses the wire name (`day`, `week`, `all`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "all" => Some(Period::All),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::All => "all",
        }
    }
}

/// What a leaderboard ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Board {
    /// Clips by weighted score.
    Clips,
    /// Creators by the weighted score of their clips.
    Creators,
    /// Voters by the number of votes they cast.
    Voters,
}

impl Board {
    /// Parses the wire name (`clips`, `creators`, `voters`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "clips" => Some(Board::Clips),
            "creators" => Some(Board::Creators),
            "voters" => Some(Board::Voters),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Board::Clips => "clips",
            Board::Creators => "creators",
            Board::Voters => "voters",
        }
    }
}

/// How an entry moved compared with the previous period bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trend {
    /// Ranked higher than before (or was ranked before, below what a page shows).
    Up,
    /// Ranked lower than before.
    Down,
    /// Same rank as before.
    Same,
    /// Not ranked before.
    New,
}

impl Trend {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trend::Up => "up",
            Trend::Down => "down",
            Trend::Same => "same",
            Trend::New => "new",
        }
    }

    /// The trend of an entry now at `rank`, given its rank in the baseline
    /// (`None` when it is not among the baseline's top [`TREND_DEPTH`]) and
    /// whether it was ranked at all in the baseline. A page never shows a rank
    /// beyond `TREND_DEPTH`, so an entry ranked before but outside the baseline
    /// ranks was lower than it is now.
    fn between(rank: usize, previous_rank: Option<usize>, was_ranked: bool) -> Self {
        match previous_rank {
            Some(previous) => match rank.cmp(&previous) {
                Ordering::Less => Trend::Up,
                Ordering::Greater => Trend::Down,
                Ordering::Equal => Trend::Same,
            },
            None if was_ranked => Trend::Up,
            None => Trend::New,
        }
    }
}

/// One row of a leaderboard page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderboardEntry {
    /// 1-based position: score descending, then id ascending.
    pub rank: u32,
    /// The clip, creator or voter id.
    pub id: u64,
    /// Weighted score (clips, creators) or number of votes (voters).
    pub score: u64,
    /// Movement against the previous bucket of the period.
    pub trend: Trend,
}

/// A page of a leaderboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderboardPage {
    /// The entries in rank order.
    pub entries: Vec<LeaderboardEntry>,
    /// Whether a next page exists and may be asked for (its offset is within
    /// [`MAX_OFFSET`]).
    pub has_more: bool,
    /// How many entries the board has for the period.
    pub total: usize,
}

/// A ranked set of entries keyed by a `u64` id with a `u64` score, ordered by
/// score descending, then id ascending, so ties are deterministic.
///
/// Updates cost `O(log n)`. Reading a page walks the ordered set from the top,
/// costing `O(offset + limit)`: callers cap the offset at [`MAX_OFFSET`].
/// Memory is one ordered-set entry and one map entry per id with a nonzero
/// score; ids whose score drops to zero are removed.
#[derive(Debug, Clone, Default)]
pub struct Ranking {
    order: BTreeSet<(Reverse<u64>, u64)>,
    scores: HashMap<u64, u64>,
}

impl Ranking {
    /// An empty ranking.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `delta` to the score of `id` (negative removes), saturating at zero
    /// and at `u64::MAX`. An id whose score reaches zero leaves the ranking.
    /// Returns the new score. `O(log n)`.
    pub fn add(&mut self, id: u64, delta: i64) -> u64 {
        let old = self.scores.get(&id).copied().unwrap_or(0);
        let new = if delta >= 0 {
            old.saturating_add(delta.unsigned_abs())
        } else {
            old.saturating_sub(delta.unsigned_abs())
        };
        if new == old {
            return old;
        }
        if old > 0 {
            self.order.remove(&(Reverse(old), id));
        }
        if new > 0 {
            self.order.insert((Reverse(new), id));
            self.scores.insert(id, new);
        } else {
            self.scores.remove(&id);
        }
        new
    }

    /// Adds each `(id, score)` pair as [`Ranking::add`] would, one after the
    /// other. Into an empty ranking this is one sort and a bulk build of
    /// the ordered set instead of `n` inserts (start-up restores 100,000s of
    /// voters at once).
    pub fn add_all(&mut self, scores: impl IntoIterator<Item = (u64, u64)>) {
        if !self.is_empty() {
            for (id, score) in scores {
                self.add(id, i64::try_from(score).unwrap_or(i64::MAX));
            }
            return;
        }
        let scores = scores.into_iter();
        let mut summed: HashMap<u64, u64> = HashMap::with_capacity(scores.size_hint().0);
        for (id, score) in scores {
            // What `add` does with a score past `i64::MAX`.
            let score = score.min(i64::MAX.unsigned_abs());
            let total = summed.entry(id).or_default();
            *total = total.saturating_add(score);
        }
        *self = Ranking::from_scores(summed);
    }

    /// A ranking of `scores`, one entry per id, keeping the map it is given
    /// instead of hashing every id again: one sort and a bulk build of the
    /// ordered set.
    pub fn from_scores(mut scores: HashMap<u64, u64>) -> Self {
        scores.retain(|_, score| *score > 0);
        let order = scores.iter().map(|(&id, &score)| (Reverse(score), id)).collect();
        Ranking { order, scores }
    }

    /// The score of `id`, if it is ranked. `O(1)`.
    pub fn get(&self, id: u64) -> Option<u64> {
        self.scores.get(&id).copied()
    }

    /// The 1-based rank of `id`, if it is ranked. The ordered set keeps no
    /// subtree counts, so this costs `O(log n + rank)`: it is meant for ids
    /// near the top, not for the page path.
    pub fn rank_of(&self, id: u64) -> Option<usize> {
        let score = self.get(id)?;
        Some(self.order.range(..(Reverse(score), id)).count() + 1)
    }

    /// The 1-based rank of `id` if it is ranked within the first `cap`
    /// places: `O(log n + min(rank, cap))`, so a profile can show a rank
    /// without its cost growing with the board.
    pub fn rank_within(&self, id: u64, cap: usize) -> Option<usize> {
        let score = self.get(id)?;
        let ahead = self.order.range(..(Reverse(score), id)).take(cap).count();
        (ahead < cap).then_some(ahead + 1)
    }

    /// Entries from rank `offset + 1` on, at most `limit` of them, as
    /// `(rank, id, score)`. Costs `O(log n + offset + limit)`, so callers cap
    /// `offset` (see [`MAX_OFFSET`]).
    pub fn page(&self, offset: usize, limit: usize) -> Vec<(usize, u64, u64)> {
        self.order
            .iter()
            .skip(offset)
            .take(limit)
            .enumerate()
            .map(|(index, &(Reverse(score), id))| (offset + index + 1, id, score))
            .collect()
    }

    /// Number of ranked ids.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Whether no id is ranked.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The ranks of the top `depth` ids. `O(depth)`.
    fn top_ranks(&self, depth: usize) -> HashMap<u64, usize> {
        self.order.iter().take(depth).enumerate().map(|(index, &(_, id))| (id, index + 1)).collect()
    }
}

/// The week bucket of a day: weeks start on Monday. Day 0 (1970-01-01) was a
/// Thursday, so shifting by three days aligns bucket edges to Mondays.
fn week_of(day: UtcDay) -> u32 {
    day.number().saturating_add(3) / 7
}

/// One bucket of a rolling period.
#[derive(Debug, Clone, Default)]
struct Bucket {
    key: u32,
    ranking: Ranking,
}

/// A period that rolls over (day or week): the current bucket, the previous
/// one as the trend baseline, and that baseline's top ranks, computed lazily
/// and forgotten whenever the previous bucket changes.
#[derive(Debug, Clone, Default)]
struct Rolling {
    current: Bucket,
    previous: Option<Bucket>,
    baseline: Option<HashMap<u64, usize>>,
}

impl Rolling {
    /// Makes `key` the current bucket if it is newer; drops buckets older than
    /// the previous one.
    fn roll_to(&mut self, key: u32) {
        if key <= self.current.key {
            return;
        }
        let old = std::mem::replace(&mut self.current, Bucket { key, ranking: Ranking::new() });
        self.previous = (old.key.saturating_add(1) == key).then_some(old);
        self.baseline = None;
    }

    /// Applies a score change to the bucket `key`, if it is still kept.
    fn record(&mut self, key: u32, id: u64, delta: i64) {
        self.roll_to(key);
        if key == self.current.key {
            self.current.ranking.add(id, delta);
        } else if let Some(previous) = self.previous.as_mut().filter(|p| p.key == key) {
            previous.ranking.add(id, delta);
            self.baseline = None;
        }
    }

    /// A page of the current bucket with trends against the previous one.
    fn page(&mut self, offset: usize, limit: usize) -> Vec<LeaderboardEntry> {
        let previous = self.previous.as_ref().map(|p| &p.ranking);
        let baseline =
            self.baseline.get_or_insert_with(|| previous.map(|p| p.top_ranks(TREND_DEPTH)).unwrap_or_default());
        self.current
            .ranking
            .page(offset, limit)
            .into_iter()
            .map(|(rank, id, score)| {
                let was_ranked = previous.is_some_and(|p| p.get(id).is_some());
                entry(rank, id, score, Trend::between(rank, baseline.get(&id).copied(), was_ranked))
            })
            .collect()
    }
}

/// The all-time period: one ranking, the top ranks as they stood at the start
/// of the newest day, and the ids that entered the ranking since then.
#[derive(Debug, Clone, Default)]
struct AllTime {
    ranking: Ranking,
    baseline_day: Option<UtcDay>,
    baseline: HashMap<u64, usize>,
    entered_since: HashSet<u64>,
}

impl AllTime {
    /// Takes the start-of-day baseline when `day` is newer than the last one.
    /// `O(TREND_DEPTH)`, once per day.
    fn roll_to(&mut self, day: UtcDay) {
        if self.baseline_day.is_some_and(|seen| day <= seen) {
            return;
        }
        self.baseline_day = Some(day);
        self.baseline = self.ranking.top_ranks(TREND_DEPTH);
        self.entered_since.clear();
    }

    /// Applies a score change; all time keeps everything.
    fn record(&mut self, day: UtcDay, id: u64, delta: i64) {
        self.roll_to(day);
        let was_ranked = self.ranking.get(id).is_some();
        if self.ranking.add(id, delta) > 0 && !was_ranked {
            self.entered_since.insert(id);
        }
    }

    /// A page with trends against the start of the day.
    fn page(&self, offset: usize, limit: usize) -> Vec<LeaderboardEntry> {
        self.ranking
            .page(offset, limit)
            .into_iter()
            .map(|(rank, id, score)| {
                let was_ranked = !self.entered_since.contains(&id);
                entry(rank, id, score, Trend::between(rank, self.baseline.get(&id).copied(), was_ranked))
            })
            .collect()
    }
}

fn entry(rank: usize, id: u64, score: u64, trend: Trend) -> LeaderboardEntry {
    LeaderboardEntry { rank: u32::try_from(rank).unwrap_or(u32::MAX), id, score, trend }
}

/// One board for every period.
#[derive(Debug, Clone, Default)]
struct BoardState {
    day: Rolling,
    week: Rolling,
    all: AllTime,
}

impl BoardState {
    fn record(&mut self, day: UtcDay, id: u64, delta: i64) {
        if delta == 0 {
            return;
        }
        self.day.record(day.number(), id, delta);
        self.week.record(week_of(day), id, delta);
        self.all.record(day, id, delta);
    }

    /// A score change for the day and week buckets only (all time already
    /// holds it): used when restoring.
    fn record_rolling(&mut self, day: UtcDay, id: u64, delta: i64) {
        self.day.record(day.number(), id, delta);
        self.week.record(week_of(day), id, delta);
    }

    fn roll_to(&mut self, day: UtcDay) {
        self.day.roll_to(day.number());
        self.week.roll_to(week_of(day));
        self.all.roll_to(day);
    }

    fn len(&self, period: Period) -> usize {
        match period {
            Period::Day => self.day.current.ranking.len(),
            Period::Week => self.week.current.ranking.len(),
            Period::All => self.all.ranking.len(),
        }
    }

    fn page(&mut self, period: Period, offset: usize, limit: usize) -> Vec<LeaderboardEntry> {
        match period {
            Period::Day => self.day.page(offset, limit),
            Period::Week => self.week.page(offset, limit),
            Period::All => self.all.page(offset, limit),
        }
    }
}

/// All-time scores as storage keeps them, `(id, score)` per board: clips and
/// creators by weighted score, voters (signed-in users) by votes cast. Each
/// id appears at most once per board (they are table keys in storage).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllTimeTotals {
    /// Clip id and weighted score.
    pub clips: Vec<(u64, u64)>,
    /// Creator user id and weighted score received.
    pub creators: Vec<(u64, u64)>,
    /// Voter user id and votes cast.
    pub voters: Vec<(u64, u64)>,
}

/// A vote that still counts, cast within the restore window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecentVote {
    /// The UTC day it was cast.
    pub day: UtcDay,
    /// The clip voted on.
    pub clip: u64,
    /// The clip's creator.
    pub creator: u64,
    /// The voter's user id (`None` for anonymous voters).
    pub voter: Option<u64>,
    /// Its weight.
    pub weight: u32,
}

/// What one id scored on one board on one UTC day, from the votes counted
/// that day: weighted score for clips and creators, votes for voters. The
/// store keeps these per day, so a restore reads them instead of the votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayScore {
    /// The UTC day.
    pub day: UtcDay,
    /// The board.
    pub board: Board,
    /// The clip, creator or voter.
    pub id: u64,
    /// Its score that day.
    pub score: u64,
}

impl DayScore {
    /// The day scores a list of counted votes adds up to, in (day, board,
    /// id) order.
    pub fn of_votes(votes: &[RecentVote]) -> Vec<DayScore> {
        let mut scores: std::collections::BTreeMap<(UtcDay, u8, u64), u64> = std::collections::BTreeMap::new();
        for vote in votes {
            let weight = u64::from(vote.weight);
            *scores.entry((vote.day, 0, vote.clip)).or_default() += weight;
            *scores.entry((vote.day, 1, vote.creator)).or_default() += weight;
            if let Some(voter) = vote.voter {
                *scores.entry((vote.day, 2, voter)).or_default() += 1;
            }
        }
        let boards = [Board::Clips, Board::Creators, Board::Voters];
        scores
            .into_iter()
            .map(|((day, board, id), score)| DayScore { day, board: boards[usize::from(board)], id, score })
            .collect()
    }
}

fn board_index(board: Board) -> usize {
    match board {
        Board::Clips => 0,
        Board::Creators => 1,
        Board::Voters => 2,
    }
}

/// Adds today's scores to a bucket's ranking at restore: a copy of
/// `today_ranking` when the bucket is empty (today's bucket always, this
/// week's on its first day), otherwise one by one.
fn start_from(ranking: &mut Ranking, today_ranking: &Ranking) {
    if ranking.is_empty() {
        *ranking = today_ranking.clone();
    } else {
        ranking.add_all(today_ranking.scores.iter().map(|(&id, &points)| (id, points)));
    }
}

/// The ranks of the top `depth` of `scores` (one entry per id), as
/// [`Ranking::top_ranks`] of a ranking of them would give them, without
/// building that ranking: `O(n + depth log depth)`.
fn top_ranks_of(scores: &[(u64, u64)], depth: usize) -> HashMap<u64, usize> {
    let mut order: Vec<(Reverse<u64>, u64)> =
        scores.iter().filter(|&&(_, score)| score > 0).map(|&(id, score)| (Reverse(score), id)).collect();
    if order.len() > depth {
        order.select_nth_unstable(depth);
        order.truncate(depth);
    }
    order.sort_unstable();
    order.into_iter().enumerate().map(|(index, (_, id))| (id, index + 1)).collect()
}

/// The first day whose votes [`Leaderboards::restore`] needs: the Monday that
/// starts the previous week, which covers yesterday, this week and last week.
pub fn restore_window_start(today: UtcDay) -> UtcDay {
    // Week `w` starts on day `7w - 3` (see `week_of`).
    let previous_week = week_of(today).saturating_sub(1);
    UtcDay::from_number(previous_week.saturating_mul(7).saturating_sub(3))
}

/// Every board for every period, fed from committed vote events.
///
/// Memory is bounded by the distinct ids with a nonzero score in the kept
/// buckets (today and yesterday, this week and last week, all time) plus at
/// most [`TREND_DEPTH`] baseline ranks per board and period. Buckets older
/// than the previous one are dropped when a newer day is seen.
#[derive(Debug, Clone, Default)]
pub struct Leaderboards {
    clips: BoardState,
    creators: BoardState,
    voters: BoardState,
    newest_day: Option<UtcDay>,
}

impl Leaderboards {
    /// Empty boards.
    pub fn new() -> Self {
        Self::default()
    }

    /// One counted vote (or a removal when `delta` is negative: revoke/void)
    /// of `weight` for `clip` by `creator` cast by `voter` on `day`. `delta` is
    /// a number of votes, normally `+1` or `-1`: clips and creators move by
    /// `weight * delta` (weighted score), voters by `delta` (votes cast).
    /// `voter` is the signed-in user's id; anonymous votes (`None`) count for
    /// clips and creators but list no voter.
    ///
    /// `day` is the day the vote was cast, so a removal lands in the bucket the
    /// vote counted in; a day whose bucket is no longer kept only changes all
    /// time. A newer day rolls the buckets over. `O(log n)`, plus
    /// `O(TREND_DEPTH)` for the first event of a new day.
    pub fn record(&mut self, day: UtcDay, clip: u64, creator: u64, voter: Option<u64>, weight: u32, delta: i64) {
        self.newest_day = self.newest_day.max(Some(day));
        let weighted = i64::from(weight).saturating_mul(delta);
        self.clips.record(day, clip, weighted);
        self.creators.record(day, creator, weighted);
        if let Some(voter) = voter {
            self.voters.record(day, voter, delta);
        }
    }

    /// Rebuilds the boards at start from what storage keeps, without reading
    /// any vote: the persisted all-time `totals` and the per-day scores of
    /// the days since [`restore_window_start`]`(today)`.
    ///
    /// Day and week buckets (current and previous) are filled from the day
    /// scores. All time starts from the totals minus what was scored today,
    /// which is the trend baseline "at the start of the day", then today's
    /// scores are added on top. The result equals the incrementally
    /// maintained boards, except that an older vote revoked or voided today
    /// counts as gone before the day started in the all-time trend baseline
    /// (storage does not keep when a vote stopped counting).
    /// `O((totals + days) log n)`.
    pub fn restore(today: UtcDay, totals: &AllTimeTotals, days: &[DayScore]) -> Self {
        if days.iter().any(|score| score.day > today) {
            return Self::restore_by_replay(today, totals, days);
        }
        // What the replay does, with today's scores and all time built in
        // bulk: the days before today go through the buckets one by one (at
        // most the 13 days since last week's Monday), today's scores fill
        // today's bucket and this week's, and all time is built with today
        // on top of the totals as they stood when today began (whose top
        // ranks are the trend baseline).
        let mut scored_today: [HashMap<u64, u64>; 3] = Default::default();
        for score in days.iter().filter(|score| score.day == today && score.score > 0) {
            let points = score.score.min(i64::MAX.unsigned_abs());
            let total = scored_today[board_index(score.board)].entry(score.id).or_default();
            *total = total.saturating_add(points);
        }
        let mut boards = Leaderboards::new();
        for score in days.iter().filter(|score| score.day < today) {
            let points = i64::try_from(score.score).unwrap_or(i64::MAX);
            let state = match score.board {
                Board::Clips => &mut boards.clips,
                Board::Creators => &mut boards.creators,
                Board::Voters => &mut boards.voters,
            };
            state.record_rolling(score.day, score.id, points);
        }
        let states = [&mut boards.clips, &mut boards.creators, &mut boards.voters];
        let sources = [&totals.clips, &totals.creators, &totals.voters];
        for ((state, source), scored) in states.into_iter().zip(sources).zip(scored_today) {
            // Today's scores are ranked once; the boards that start from
            // them take copies, which cost no sorting and no hashing.
            let today_ranking = Ranking::from_scores(scored);
            let today_part = &today_ranking.scores;
            // All time as it stood when today began, as a list: only its
            // top ranks (the trend baseline) and which ids it lacked are
            // needed, so it is never built into a ranking of its own.
            let mut before = Vec::with_capacity(source.len());
            let mut entered_since = HashSet::new();
            let mut scored_and_totalled = 0;
            for &(id, total) in source {
                let scored = today_part.get(&id).copied();
                scored_and_totalled += usize::from(scored.is_some());
                let before_today = total.saturating_sub(scored.unwrap_or(0)).min(i64::MAX.unsigned_abs());
                if before_today > 0 {
                    before.push((id, before_today));
                } else if scored.is_some() {
                    entered_since.insert(id);
                }
            }
            if scored_and_totalled < today_part.len() {
                // Scored today without an all-time total: storage keeps both
                // in one commit, so only a damaged file gets here.
                let totalled: HashSet<u64> = source.iter().map(|&(id, _)| id).collect();
                entered_since.extend(today_part.keys().copied().filter(|id| !totalled.contains(id)));
            }
            state.all.baseline = top_ranks_of(&before, TREND_DEPTH);
            state.all.baseline_day = Some(today);
            state.all.entered_since = entered_since;
            state.all.ranking = if before.is_empty() {
                today_ranking.clone()
            } else {
                let mut all = Ranking::new();
                all.add_all(before.into_iter().chain(today_part.iter().map(|(&id, &points)| (id, points))));
                all
            };
            state.day.roll_to(today.number());
            start_from(&mut state.day.current.ranking, &today_ranking);
            state.week.roll_to(week_of(today));
            start_from(&mut state.week.current.ranking, &today_ranking);
        }
        boards.newest_day = Some(today);
        boards
    }

    /// [`Leaderboards::restore`] by replaying every day score through the
    /// buckets one at a time: the rule, kept for day scores dated after
    /// `today` (a clock set back) and as the tests' oracle.
    fn restore_by_replay(today: UtcDay, totals: &AllTimeTotals, days: &[DayScore]) -> Self {
        let mut scored_today: [HashMap<u64, u64>; 3] = Default::default();
        for score in days.iter().filter(|score| score.day >= today) {
            *scored_today[board_index(score.board)].entry(score.id).or_default() += score.score;
        }
        let mut boards = Leaderboards::new();
        let states = [&mut boards.clips, &mut boards.creators, &mut boards.voters];
        let sources = [&totals.clips, &totals.creators, &totals.voters];
        for ((state, source), today_part) in states.into_iter().zip(sources).zip(&scored_today) {
            for &(id, total) in source {
                let before_today = total.saturating_sub(today_part.get(&id).copied().unwrap_or(0));
                state.all.ranking.add(id, i64::try_from(before_today).unwrap_or(i64::MAX));
            }
        }
        for score in days {
            let points = i64::try_from(score.score).unwrap_or(i64::MAX);
            let state = match score.board {
                Board::Clips => &mut boards.clips,
                Board::Creators => &mut boards.creators,
                Board::Voters => &mut boards.voters,
            };
            boards.newest_day = boards.newest_day.max(Some(score.day));
            if score.day >= today {
                state.record(score.day, score.id, points);
            } else {
                state.record_rolling(score.day, score.id, points);
            }
        }
        let today = boards.newest_day.map_or(today, |newest| newest.max(today));
        boards.newest_day = Some(today);
        for state in [&mut boards.clips, &mut boards.creators, &mut boards.voters] {
            state.roll_to(today);
        }
        boards
    }

    /// An id's all-time rank on a board, if within the first `cap` places.
    pub fn all_time_rank(&self, board: Board, id: u64, cap: usize) -> Option<usize> {
        self.state(board).all.ranking.rank_within(id, cap)
    }

    /// Number of entries a board has for a period (as of the newest day seen).
    pub fn len(&self, board: Board, period: Period) -> usize {
        self.state(board).len(period)
    }

    fn state(&self, board: Board) -> &BoardState {
        match board {
            Board::Clips => &self.clips,
            Board::Creators => &self.creators,
            Board::Voters => &self.voters,
        }
    }

    /// A page of a board for a period as of `today`, with each entry's trend
    /// against the previous bucket: yesterday for `Day`, last week for `Week`,
    /// and for `All` the ranks as they stood before the first event (or page)
    /// of the day.
    ///
    /// `limit` is capped at [`MAX_LIMIT`]; an `offset` beyond [`MAX_OFFSET`]
    /// gets an empty page (callers reject it first). Costs
    /// `O(log n + offset + limit)`, plus `O(TREND_DEPTH)` once after a
    /// rollover or a late change to the previous bucket. A `today` older than
    /// the newest recorded day is treated as that day.
    pub fn page(
        &mut self,
        board: Board,
        period: Period,
        today: UtcDay,
        offset: usize,
        limit: usize,
    ) -> LeaderboardPage {
        let today = self.newest_day.map_or(today, |newest| newest.max(today));
        self.newest_day = Some(today);
        let state = match board {
            Board::Clips => &mut self.clips,
            Board::Creators => &mut self.creators,
            Board::Voters => &mut self.voters,
        };
        state.roll_to(today);
        let total = state.len(period);
        if offset > MAX_OFFSET {
            return LeaderboardPage { entries: Vec::new(), has_more: false, total };
        }
        let entries = state.page(period, offset, limit.min(MAX_LIMIT));
        let next_offset = offset + entries.len();
        LeaderboardPage { has_more: next_offset < total && next_offset <= MAX_OFFSET, entries, total }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(n: u32) -> UtcDay {
        UtcDay::from_number(n)
    }

    fn ids(page: &LeaderboardPage) -> Vec<u64> {
        page.entries.iter().map(|e| e.id).collect()
    }

    fn trends(page: &LeaderboardPage) -> Vec<(u64, Trend)> {
        page.entries.iter().map(|e| (e.id, e.trend)).collect()
    }

    #[test]
    fn wire_names_round_trip() {
        for period in [Period::Day, Period::Week, Period::All] {
            assert_eq!(Period::parse(period.as_str()), Some(period));
        }
        for board in [Board::Clips, Board::Creators, Board::Voters] {
            assert_eq!(Board::parse(board.as_str()), Some(board));
        }
        assert_eq!(Period::parse("month"), None);
        assert_eq!(Board::parse("Clips"), None);
        assert_eq!(Trend::New.as_str(), "new");
    }

    #[test]
    fn rank_within_stops_at_the_cap() {
        let mut ranking = Ranking::new();
        for (id, score) in [(1, 5), (2, 9), (3, 5), (4, 1)] {
            ranking.add(id, score);
        }
        assert_eq!(ranking.rank_within(2, 10), Some(1));
        assert_eq!(ranking.rank_within(1, 10), Some(2), "ties go to the lower id");
        assert_eq!(ranking.rank_within(3, 10), Some(3));
        assert_eq!(ranking.rank_within(4, 3), None, "fourth place is beyond a cap of 3");
        assert_eq!(ranking.rank_within(4, 4), Some(4));
        assert_eq!(ranking.rank_within(99, 10), None, "unranked");
    }

    #[test]
    fn ranks_by_score_then_lower_id() {
        let mut ranking = Ranking::new();
        ranking.add(7, 5);
        ranking.add(3, 5);
        ranking.add(9, 8);
        ranking.add(1, 2);
        assert_eq!(ranking.page(0, 10), vec![(1, 9, 8), (2, 3, 5), (3, 7, 5), (4, 1, 2)]);
        assert_eq!(ranking.rank_of(7), Some(3));
        assert_eq!(ranking.rank_of(9), Some(1));
        assert_eq!(ranking.rank_of(42), None);
        assert_eq!(ranking.get(3), Some(5));
        assert_eq!(ranking.len(), 4);
    }

    #[test]
    fn scores_saturate_at_zero_and_zero_leaves_the_ranking() {
        let mut ranking = Ranking::new();
        assert_eq!(ranking.add(1, 3), 3);
        assert_eq!(ranking.add(1, -3), 0);
        assert_eq!(ranking.get(1), None);
        assert!(ranking.is_empty());
        assert_eq!(ranking.add(2, -5), 0);
        assert!(ranking.is_empty());
        ranking.add(2, 2);
        assert_eq!(ranking.add(2, -10), 0);
        assert_eq!(ranking.rank_of(2), None);
        assert!(ranking.page(0, 10).is_empty());
        ranking.add(3, i64::MAX);
        assert_eq!(ranking.add(3, i64::MAX), i64::MAX.unsigned_abs() * 2);
        assert_eq!(ranking.add(3, i64::MAX), u64::MAX);
    }

    #[test]
    fn rank_of_follows_updates() {
        let mut ranking = Ranking::new();
        for id in 1..=5 {
            ranking.add(id, 10);
        }
        assert_eq!(ranking.rank_of(5), Some(5));
        ranking.add(5, 1);
        assert_eq!(ranking.rank_of(5), Some(1));
        assert_eq!(ranking.rank_of(1), Some(2));
        ranking.add(1, -10);
        assert_eq!(ranking.rank_of(2), Some(2));
    }

    #[test]
    fn pages_report_whether_more_remain() {
        let mut boards = Leaderboards::new();
        for clip in 1..=25u64 {
            boards.record(day(10), clip, 100 + clip, Some(clip), u32::try_from(clip).expect("small"), 1);
        }
        let first = boards.page(Board::Clips, Period::All, day(10), 0, 10);
        assert_eq!(first.total, 25);
        assert!(first.has_more);
        assert_eq!(first.entries[0], LeaderboardEntry { rank: 1, id: 25, score: 25, trend: Trend::New });
        let last = boards.page(Board::Clips, Period::All, day(10), 20, 10);
        assert!(!last.has_more);
        assert_eq!(ids(&last), vec![5, 4, 3, 2, 1]);
        assert_eq!(last.entries[0].rank, 21);
        let exact = boards.page(Board::Clips, Period::All, day(10), 15, 10);
        assert!(!exact.has_more);
        let capped = boards.page(Board::Clips, Period::All, day(10), 0, 1_000);
        assert_eq!(capped.entries.len(), 25);
        let beyond = boards.page(Board::Clips, Period::All, day(10), MAX_OFFSET + 1, 10);
        assert!(beyond.entries.is_empty() && !beyond.has_more);
    }

    #[test]
    fn has_more_stops_at_the_offset_cap() {
        let mut boards = Leaderboards::new();
        for voter in 0..(MAX_OFFSET as u64 + 300) {
            boards.record(day(1), 1, 1, Some(voter), 1, 1);
        }
        let page = boards.page(Board::Voters, Period::Day, day(1), MAX_OFFSET - 50, MAX_LIMIT);
        assert_eq!(page.entries.len(), MAX_LIMIT);
        assert!(!page.has_more, "the next offset would be beyond MAX_OFFSET");
        let page = boards.page(Board::Voters, Period::Day, day(1), MAX_OFFSET, MAX_LIMIT);
        assert_eq!(page.entries.len(), MAX_LIMIT);
        assert_eq!(page.entries[0].rank, 10_001);
        assert!(!page.has_more);
    }

    #[test]
    fn boards_score_by_weight_and_voters_by_votes() {
        let mut boards = Leaderboards::new();
        boards.record(day(3), 1, 50, Some(900), 10, 1);
        boards.record(day(3), 2, 50, Some(900), 1, 1);
        boards.record(day(3), 3, 60, Some(901), 3, 1);
        let creators = boards.page(Board::Creators, Period::Day, day(3), 0, 10);
        assert_eq!(creators.entries.iter().map(|e| (e.id, e.score)).collect::<Vec<_>>(), vec![(50, 11), (60, 3)]);
        let voters = boards.page(Board::Voters, Period::Day, day(3), 0, 10);
        assert_eq!(voters.entries.iter().map(|e| (e.id, e.score)).collect::<Vec<_>>(), vec![(900, 2), (901, 1)]);
        boards.record(day(3), 1, 50, Some(900), 10, -1);
        let clips = boards.page(Board::Clips, Period::Day, day(3), 0, 10);
        assert_eq!(clips.entries.iter().map(|e| (e.id, e.score)).collect::<Vec<_>>(), vec![(3, 3), (2, 1)]);
        let voters = boards.page(Board::Voters, Period::Day, day(3), 0, 10);
        assert_eq!(voters.entries.iter().map(|e| (e.id, e.score)).collect::<Vec<_>>(), vec![(900, 1), (901, 1)]);
    }

    #[test]
    fn day_rollover_keeps_week_and_all() {
        // Day 10 (1970-01-11) is a Sunday; day 11 a Monday, starting a new week.
        // Days 8 (Friday) and 9 (Saturday) share day 10's week.
        assert_eq!(week_of(day(4)), week_of(day(10)));
        assert_ne!(week_of(day(10)), week_of(day(11)));
        let mut boards = Leaderboards::new();
        boards.record(day(8), 1, 1, Some(1), 1, 1);
        boards.record(day(9), 2, 1, Some(1), 1, 1);
        assert_eq!(boards.page(Board::Clips, Period::Day, day(9), 0, 10).total, 1);
        assert_eq!(ids(&boards.page(Board::Clips, Period::Week, day(9), 0, 10)), vec![1, 2]);
        assert!(boards.page(Board::Clips, Period::Day, day(10), 0, 10).entries.is_empty());
        assert_eq!(boards.page(Board::Clips, Period::Week, day(10), 0, 10).total, 2);
        assert_eq!(boards.page(Board::Clips, Period::All, day(10), 0, 10).total, 2);
        assert_eq!(boards.page(Board::Clips, Period::Week, day(11), 0, 10).total, 0);
        assert_eq!(boards.page(Board::Clips, Period::All, day(11), 0, 10).total, 2);
    }

    #[test]
    fn stale_buckets_are_dropped_and_late_votes_land_where_kept() {
        let mut boards = Leaderboards::new();
        boards.record(day(20), 1, 1, Some(1), 1, 1);
        boards.record(day(21), 2, 1, Some(1), 1, 1);
        // A late event for yesterday still lands in yesterday's bucket.
        boards.record(day(20), 3, 1, Some(1), 1, 1);
        let today = boards.page(Board::Clips, Period::Day, day(21), 0, 10);
        assert_eq!(ids(&today), vec![2]);
        assert_eq!(boards.clips.day.previous.as_ref().map(|p| p.ranking.len()), Some(2));
        // Two days on, both old days are gone; a void of day 20 only changes all time.
        boards.record(day(23), 4, 1, Some(1), 1, 1);
        assert!(boards.clips.day.previous.is_none());
        boards.record(day(20), 1, 1, Some(1), 1, -1);
        assert_eq!(ids(&boards.page(Board::Clips, Period::Day, day(23), 0, 10)), vec![4]);
        assert_eq!(ids(&boards.page(Board::Clips, Period::All, day(23), 0, 10)), vec![2, 3, 4]);
        // A lagging clock does not move time backwards.
        assert_eq!(ids(&boards.page(Board::Clips, Period::Day, day(22), 0, 10)), vec![4]);
    }

    #[test]
    fn trends_compare_with_the_previous_day() {
        let mut boards = Leaderboards::new();
        boards.record(day(10), 1, 1, Some(1), 10, 1);
        boards.record(day(10), 2, 1, Some(1), 5, 1);
        boards.record(day(10), 3, 1, Some(1), 1, 1);
        let first = boards.page(Board::Clips, Period::Day, day(10), 0, 10);
        assert_eq!(trends(&first), vec![(1, Trend::New), (2, Trend::New), (3, Trend::New)]);
        boards.record(day(11), 2, 1, Some(1), 10, 1);
        boards.record(day(11), 1, 1, Some(1), 5, 1);
        boards.record(day(11), 3, 1, Some(1), 1, 1);
        boards.record(day(11), 4, 1, Some(1), 3, 1);
        let day_page = boards.page(Board::Clips, Period::Day, day(11), 0, 10);
        assert_eq!(trends(&day_page), vec![(2, Trend::Up), (1, Trend::Down), (4, Trend::New), (3, Trend::Down)]);
        // All time: start of day 11 was 1 (10), 2 (5), 3 (1); now 2 (15), 1 (15), 4 (3), 3 (2).
        let all = boards.page(Board::Clips, Period::All, day(11), 0, 10);
        assert_eq!(trends(&all), vec![(1, Trend::Same), (2, Trend::Same), (4, Trend::New), (3, Trend::Down)]);
        // A late change to yesterday refreshes the baseline.
        boards.record(day(10), 3, 1, Some(1), 100, 1);
        let day_page = boards.page(Board::Clips, Period::Day, day(11), 0, 10);
        assert_eq!(day_page.entries[3], LeaderboardEntry { rank: 4, id: 3, score: 1, trend: Trend::Down });
        assert_eq!(boards.clips.day.baseline.as_ref().and_then(|b| b.get(&3)), Some(&1));
    }

    #[test]
    fn trend_is_up_for_ids_ranked_below_the_baseline_depth() {
        let mut boards = Leaderboards::new();
        for clip in 1..=(TREND_DEPTH as u64 + 5) {
            boards.record(day(1), clip, 1, Some(1), 2, 1);
        }
        let deep = TREND_DEPTH as u64 + 5;
        boards.record(day(2), deep, 1, Some(1), 100, 1);
        let all = boards.page(Board::Clips, Period::All, day(2), 0, 2);
        assert_eq!(trends(&all), vec![(deep, Trend::Up), (1, Trend::Down)]);
    }

    #[test]
    fn anonymous_votes_count_for_clips_and_creators_but_list_no_voter() {
        let mut boards = Leaderboards::new();
        boards.record(day(5), 1, 50, None, 3, 1);
        boards.record(day(5), 1, 50, Some(7), 1, 1);
        assert_eq!(boards.page(Board::Clips, Period::Day, day(5), 0, 10).entries[0].score, 4);
        assert_eq!(boards.page(Board::Creators, Period::All, day(5), 0, 10).entries[0].score, 4);
        let voters = boards.page(Board::Voters, Period::All, day(5), 0, 10);
        assert_eq!(voters.entries.iter().map(|e| (e.id, e.score)).collect::<Vec<_>>(), vec![(7, 1)]);
        boards.record(day(5), 1, 50, None, 3, -1);
        assert_eq!(boards.len(Board::Voters, Period::Day), 1);
        assert_eq!(boards.page(Board::Clips, Period::Day, day(5), 0, 10).entries[0].score, 1);
    }

    #[test]
    fn the_restore_window_starts_on_the_monday_of_the_previous_week() {
        // Day 11 (1970-01-12) is a Monday; day 4 the Monday before.
        assert_eq!(restore_window_start(day(11)), day(4));
        assert_eq!(restore_window_start(day(17)), day(4), "Sunday still belongs to the week of day 11");
        assert_eq!(restore_window_start(day(18)), day(11));
        assert_eq!(restore_window_start(day(0)), day(0));
        for today in 11..60 {
            let start = restore_window_start(day(today));
            assert_eq!(week_of(start) + 1, week_of(day(today)));
            assert_eq!(week_of(UtcDay::from_number(start.number() - 1)) + 2, week_of(day(today)));
        }
    }

    #[test]
    fn a_restore_equals_the_boards_it_was_taken_from() {
        let mut live = Leaderboards::new();
        // Day 3 is long gone by day 11: only its all-time totals are kept.
        live.record(day(3), 1, 50, Some(1), 9, 1);
        let votes = [
            RecentVote { day: day(10), clip: 1, creator: 50, voter: Some(1), weight: 1 },
            RecentVote { day: day(10), clip: 2, creator: 51, voter: Some(2), weight: 5 },
            RecentVote { day: day(11), clip: 2, creator: 51, voter: None, weight: 1 },
            RecentVote { day: day(11), clip: 3, creator: 50, voter: Some(1), weight: 2 },
        ];
        for vote in &votes {
            live.record(vote.day, vote.clip, vote.creator, vote.voter, vote.weight, 1);
        }
        let totals = AllTimeTotals {
            clips: vec![(1, 1 + 9), (2, 6), (3, 2)],
            creators: vec![(50, 3 + 9), (51, 6)],
            voters: vec![(1, 2 + 1), (2, 1)],
        };
        let mut restored = Leaderboards::restore(day(11), &totals, &DayScore::of_votes(&votes));
        for board in [Board::Clips, Board::Creators, Board::Voters] {
            for period in [Period::Day, Period::Week, Period::All] {
                assert_eq!(
                    restored.page(board, period, day(11), 0, 10),
                    live.page(board, period, day(11), 0, 10),
                    "{board:?} {period:?}"
                );
            }
        }
        let all = restored.page(Board::Clips, Period::All, day(11), 0, 10);
        assert_eq!(trends(&all), vec![(1, Trend::Same), (2, Trend::Same), (3, Trend::New)]);
    }

    fn naive(scores: &HashMap<u64, u64>) -> Vec<(usize, u64, u64)> {
        let mut rows: Vec<(u64, u64)> = scores.iter().filter(|(_, s)| **s > 0).map(|(id, s)| (*id, *s)).collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        rows.into_iter().enumerate().map(|(i, (id, s))| (i + 1, id, s)).collect()
    }

    proptest! {
        #[test]
        fn ranking_matches_a_naive_sort(
            ops in proptest::collection::vec((0u64..40, -20i64..30), 0..300),
            offset in 0usize..50,
            limit in 0usize..50,
        ) {
            let mut ranking = Ranking::new();
            let mut model: HashMap<u64, u64> = HashMap::new();
            for (id, delta) in ops {
                let score = model.entry(id).or_insert(0);
                *score = if delta >= 0 { *score + delta.unsigned_abs() } else { score.saturating_sub(delta.unsigned_abs()) };
                let got = ranking.add(id, delta);
                prop_assert_eq!(got, *score);
            }
            let expected = naive(&model);
            prop_assert_eq!(ranking.len(), expected.len());
            prop_assert_eq!(ranking.page(0, usize::MAX), expected.clone());
            let window: Vec<_> = expected.iter().skip(offset).take(limit).copied().collect();
            prop_assert_eq!(ranking.page(offset, limit), window);
            for (rank, id, score) in &expected {
                prop_assert_eq!(ranking.rank_of(*id), Some(*rank));
                prop_assert_eq!(ranking.get(*id), Some(*score));
            }
            for (id, score) in &model {
                if *score == 0 {
                    prop_assert_eq!(ranking.get(*id), None);
                }
            }
        }
    }

    /// One step of a random history: days pass, votes are cast, counted votes stop counting.
    #[derive(Debug, Clone)]
    enum Step {
        NextDays(u32),
        Cast { clip: u64, voter: Option<u64>, weight: u32 },
        Withdraw(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            1 => (1u32..=3).prop_map(Step::NextDays),
            6 => (1u64..12, proptest::option::of(1u64..6), 1u32..4)
                .prop_map(|(clip, voter, weight)| Step::Cast { clip, voter, weight }),
            2 => any::<usize>().prop_map(Step::Withdraw),
        ]
    }

    fn creator_of(clip: u64) -> u64 {
        100 + clip % 4
    }

    /// A from-scratch recount of one board and period from the votes that count.
    fn recount(votes: &[(RecentVote, bool)], board: Board, period: Period, today: UtcDay) -> Vec<(usize, u64, u64)> {
        let mut scores: HashMap<u64, u64> = HashMap::new();
        for (vote, _) in votes.iter().filter(|(_, counted)| *counted) {
            let in_period = match period {
                Period::Day => vote.day == today,
                Period::Week => week_of(vote.day) == week_of(today),
                Period::All => true,
            };
            if !in_period {
                continue;
            }
            let (id, points) = match board {
                Board::Clips => (Some(vote.clip), u64::from(vote.weight)),
                Board::Creators => (Some(vote.creator), u64::from(vote.weight)),
                Board::Voters => (vote.voter, 1),
            };
            if let Some(id) = id {
                *scores.entry(id).or_default() += points;
            }
        }
        naive(&scores)
    }

    fn rows(page: &LeaderboardPage) -> Vec<(usize, u64, u64)> {
        page.entries.iter().map(|e| (e.rank as usize, e.id, e.score)).collect()
    }

    proptest! {
        #[test]
        fn incremental_boards_equal_a_recount_and_a_restore(
            steps in proptest::collection::vec(step(), 0..150),
            start in 1_000u32..1_014,
        ) {
            let mut today = day(start);
            let mut live = Leaderboards::new();
            let mut votes: Vec<(RecentVote, bool)> = Vec::new();
            // The all-time trend baseline of the live boards is taken at the
            // first vote of the day; an older vote withdrawn after that is in
            // it, while a restore counts it as gone before the day started.
            let mut cast_today = false;
            let mut all_trends_comparable = true;
            for step in steps {
                match step {
                    Step::NextDays(days) => {
                        today = day(today.number() + days);
                        cast_today = false;
                        all_trends_comparable = true;
                    }
                    Step::Cast { clip, voter, weight } => {
                        let vote = RecentVote { day: today, clip, creator: creator_of(clip), voter, weight };
                        live.record(vote.day, vote.clip, vote.creator, vote.voter, vote.weight, 1);
                        votes.push((vote, true));
                        cast_today = true;
                    }
                    Step::Withdraw(pick) => {
                        let counted: Vec<usize> = (0..votes.len()).filter(|&i| votes[i].1).collect();
                        if counted.is_empty() {
                            continue;
                        }
                        let (vote, still_counts) = &mut votes[counted[pick % counted.len()]];
                        *still_counts = false;
                        live.record(vote.day, vote.clip, vote.creator, vote.voter, vote.weight, -1);
                        if vote.day < today && cast_today {
                            all_trends_comparable = false;
                        }
                    }
                }
            }
            let mut totals = AllTimeTotals::default();
            for board in [Board::Clips, Board::Creators, Board::Voters] {
                let scores = recount(&votes, board, Period::All, today).into_iter().map(|(_, id, s)| (id, s)).collect();
                match board {
                    Board::Clips => totals.clips = scores,
                    Board::Creators => totals.creators = scores,
                    Board::Voters => totals.voters = scores,
                }
            }
            let window = restore_window_start(today);
            let recent: Vec<RecentVote> =
                votes.iter().filter(|(vote, counted)| *counted && vote.day >= window).map(|(vote, _)| *vote).collect();
            let mut restored = Leaderboards::restore(today, &totals, &DayScore::of_votes(&recent));
            for board in [Board::Clips, Board::Creators, Board::Voters] {
                for period in [Period::Day, Period::Week, Period::All] {
                    let expected = recount(&votes, board, period, today);
                    let page = live.page(board, period, today, 0, MAX_LIMIT);
                    prop_assert_eq!(rows(&page), expected.clone(), "{:?} {:?}", board, period);
                    prop_assert_eq!(page.total, expected.len());
                    let again = restored.page(board, period, today, 0, MAX_LIMIT);
                    if period == Period::All && !all_trends_comparable {
                        prop_assert_eq!(rows(&again), rows(&page));
                    } else {
                        prop_assert_eq!(&again, &page, "restored {:?} {:?}", board, period);
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn a_bulk_restore_equals_the_replay(
            totals in proptest::collection::vec((0usize..3, 1u64..40, 0u64..50), 0..80),
            scores in proptest::collection::vec((0u32..16, 0usize..3, 1u64..40, 0u64..20), 0..120),
            today in 1_000u32..1_014,
        ) {
            let boards = [Board::Clips, Board::Creators, Board::Voters];
            let mut all = AllTimeTotals::default();
            let mut seen = HashSet::new();
            for (board, id, score) in totals {
                if seen.insert((board, id)) {
                    [&mut all.clips, &mut all.creators, &mut all.voters][board].push((id, score));
                }
            }
            // Day scores from last week's Monday to two days ahead (a clock
            // set back), one row per (day, board, id), in key order.
            let start = restore_window_start(day(today)).number();
            let mut rows: std::collections::BTreeMap<(u32, usize, u64), u64> = std::collections::BTreeMap::new();
            for (offset, board, id, score) in scores {
                let row_day = (start + offset).min(today + 2);
                rows.insert((row_day, board, id), score);
            }
            for future in [false, true] {
                let days: Vec<DayScore> = rows
                    .iter()
                    .filter(|((row_day, _, _), _)| future || *row_day <= today)
                    .map(|(&(row_day, board, id), &score)| DayScore { day: day(row_day), board: boards[board], id, score })
                    .collect();
                let mut bulk = Leaderboards::restore(day(today), &all, &days);
                let mut replay = Leaderboards::restore_by_replay(day(today), &all, &days);
                for board in boards {
                    for period in [Period::Day, Period::Week, Period::All] {
                        let expected = replay.page(board, period, day(today), 0, MAX_LIMIT);
                        prop_assert_eq!(bulk.page(board, period, day(today), 0, MAX_LIMIT), expected);
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn top_ranks_of_a_list_equal_the_ranking_s(
            scores in proptest::collection::hash_map(0u64..500, 0u64..30, 0..200),
            depth in 0usize..60,
        ) {
            let list: Vec<(u64, u64)> = scores.iter().map(|(&id, &score)| (id, score)).collect();
            let mut ranking = Ranking::new();
            ranking.add_all(list.iter().copied());
            prop_assert_eq!(top_ranks_of(&list, depth), ranking.top_ranks(depth));
            prop_assert_eq!(Ranking::from_scores(scores).page(0, 500), ranking.page(0, 500));
        }
    }

    #[test]
    fn a_page_of_a_large_ranking_is_correct() {
        const N: u64 = 200_000;
        let score_of = |id: u64| (id * 7_919) % 1_009 + 1;
        let mut ranking = Ranking::new();
        for id in 0..N {
            ranking.add(id, i64::try_from(score_of(id)).expect("small"));
        }
        assert_eq!(ranking.len(), 200_000);
        // The top score 1_009 is held by ids with id * 7_919 % 1_009 == 1_008.
        let mut expected: Vec<(u64, u64)> = (0..N).map(|id| (id, score_of(id))).filter(|(_, s)| *s >= 1_008).collect();
        expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let expected: Vec<_> = expected.into_iter().take(20).enumerate().map(|(i, (id, s))| (i + 1, id, s)).collect();
        assert_eq!(expected.len(), 20);
        assert_eq!(ranking.page(0, 20), expected);
    }
}
