//! Profile rules: experience points, levels, the daily voting streak and
//! badges. Pure functions over a user's counted facts, so the writer, the
//! pages and the tests all apply the same rules.
//!
//! Decisions, written down once:
//! - **XP is derived, not accumulated.** `xp = 10 × counted votes cast +
//!   100 × approved clips + 500 × slot wins`. A revoked or voided vote stops
//!   counting, so it stops giving XP; recounting the facts always gives the
//!   same XP, and there is no separate XP total that could drift.
//! - **Levels** grow linearly harder: going from level `n` to `n + 1` takes
//!   `100 × n` XP, so reaching level `L` takes `50 × L × (L − 1)` XP in total.
//! - **The streak** counts consecutive UTC days with at least one vote cast.
//!   A second vote on the same day adds nothing; a day without a vote ends it
//!   (the next vote starts again at 1). Revoking or a moderator voiding a vote
//!   does not take a day back: the streak rewards showing up, and undoing
//!   a day would let a voter's own revoke punish them retroactively.
//! - **Badges** are vote milestones (1, 10, 100, 1000 counted votes), streaks
//!   (3, 7, 30 days, judged on the best streak so they are never lost), a
//!   first approved clip and a first slot win. Each is unlocked, locked (no
//!   progress at all) or in progress (`x / y`).

use super::clock::UtcDay;

/// XP for each counted vote cast.
pub const XP_PER_VOTE: u64 = 10;
/// XP for each clip approved into the competition.
pub const XP_PER_APPROVED_CLIP: u64 = 100;
/// XP for each slot won.
pub const XP_PER_WIN: u64 = 500;
/// XP from level `n` to level `n + 1` is this times `n`.
pub const XP_LEVEL_STEP: u64 = 100;

/// The counted facts XP and badges are computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProfileFacts {
    /// Votes cast that still count (revoked and voided ones excluded).
    pub votes_cast: u64,
    /// Clips approved into the competition.
    pub approved_clips: u64,
    /// Slots won.
    pub wins: u64,
    /// The longest voting streak ever reached, in days.
    pub best_streak: u32,
}

/// Experience points for these facts.
pub fn xp(facts: &ProfileFacts) -> u64 {
    facts
        .votes_cast
        .saturating_mul(XP_PER_VOTE)
        .saturating_add(facts.approved_clips.saturating_mul(XP_PER_APPROVED_CLIP))
        .saturating_add(facts.wins.saturating_mul(XP_PER_WIN))
}

/// A level and the way to the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// The level, from 1.
    pub level: u64,
    /// XP earned since reaching this level.
    pub xp_into_level: u64,
    /// XP this level takes in total to reach the next.
    pub xp_for_next: u64,
}

impl Level {
    /// Progress to the next level, 0–100.
    pub fn percent(&self) -> u64 {
        self.xp_into_level.saturating_mul(100).checked_div(self.xp_for_next).map_or(100, |percent| percent.min(100))
    }
}

/// Total XP needed to reach `level` (level 1 needs none).
pub fn xp_to_reach(level: u64) -> u64 {
    let below = level.saturating_sub(1);
    (XP_LEVEL_STEP / 2).saturating_mul(level).saturating_mul(below)
}

/// The level for an XP total, in constant time.
pub fn level_for(xp: u64) -> Level {
    // Solve 50·L·(L−1) ≤ xp for the largest L, then correct the float guess.
    let guess = ((1.0 + (1.0 + 8.0 * xp as f64 / XP_LEVEL_STEP as f64).sqrt()) / 2.0).floor() as u64;
    let mut level = guess.max(1);
    while level > 1 && xp_to_reach(level) > xp {
        level -= 1;
    }
    while xp_to_reach(level + 1) <= xp && xp_to_reach(level + 1) != u64::MAX {
        level += 1;
    }
    Level { level, xp_into_level: xp - xp_to_reach(level), xp_for_next: XP_LEVEL_STEP.saturating_mul(level) }
}

/// A voter's streak of consecutive UTC days with a vote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streak {
    /// The last day a vote was cast, if ever.
    pub last_day: Option<UtcDay>,
    /// Consecutive days ending at `last_day`.
    pub current: u32,
    /// The longest run ever reached.
    pub best: u32,
}

impl Streak {
    /// The streak after a vote cast on `day`. A vote dated before the last
    /// one (impossible with one writer clock, but harmless) changes nothing.
    pub fn record_vote(self, day: UtcDay) -> Streak {
        let current = match self.last_day {
            None => 1,
            Some(last) if day <= last => return self,
            Some(last) if day.number() == last.number().saturating_add(1) => self.current.saturating_add(1),
            Some(_) => 1,
        };
        Streak { last_day: Some(day), current, best: self.best.max(current) }
    }

    /// The streak as shown on `today`: still alive if the last vote was today
    /// or yesterday (today's vote may still come), otherwise broken (0).
    pub fn current_on(self, today: UtcDay) -> u32 {
        match self.last_day {
            Some(last) if last == today || last.number().saturating_add(1) == today.number() => self.current,
            _ => 0,
        }
    }
}

/// Where a badge stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadgeState {
    /// Earned.
    Unlocked,
    /// No progress yet.
    Locked,
    /// Part of the way.
    InProgress {
        /// Progress so far.
        progress: u64,
        /// Needed to unlock.
        goal: u64,
    },
}

impl BadgeState {
    fn from_progress(progress: u64, goal: u64) -> BadgeState {
        if progress >= goal {
            BadgeState::Unlocked
        } else if progress == 0 {
            BadgeState::Locked
        } else {
            BadgeState::InProgress { progress, goal }
        }
    }

    /// `unlocked`, `locked` or `in_progress`.
    pub fn as_str(self) -> &'static str {
        match self {
            BadgeState::Unlocked => "unlocked",
            BadgeState::Locked => "locked",
            BadgeState::InProgress { .. } => "in_progress",
        }
    }
}

/// One badge and its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Badge {
    /// Stable key, e.g. `votes_100`.
    pub key: &'static str,
    /// Short title.
    pub title: &'static str,
    /// What earns it.
    pub description: &'static str,
    /// Where it stands.
    pub state: BadgeState,
}

/// Every badge, in display order, with its state for these facts.
pub fn badges(facts: &ProfileFacts) -> Vec<Badge> {
    let votes = |key, title, description, goal| Badge {
        key,
        title,
        description,
        state: BadgeState::from_progress(facts.votes_cast, goal),
    };
    let streak = |key, title, description, goal| Badge {
        key,
        title,
        description,
        state: BadgeState::from_progress(u64::from(facts.best_streak), goal),
    };
    vec![
        votes("votes_1", "First vote", "Cast a vote", 1),
        votes("votes_10", "Regular", "Cast 10 votes", 10),
        votes("votes_100", "Centurion", "Cast 100 votes", 100),
        votes("votes_1000", "Kingmaker", "Cast 1,000 votes", 1000),
        streak("streak_3", "Warming up", "Vote 3 days in a row", 3),
        streak("streak_7", "Week streak", "Vote 7 days in a row", 7),
        streak("streak_30", "Unstoppable", "Vote 30 days in a row", 30),
        Badge {
            key: "first_clip",
            title: "On screen",
            description: "Get a clip approved",
            state: BadgeState::from_progress(facts.approved_clips, 1),
        },
        Badge {
            key: "first_win",
            title: "Winner",
            description: "Win a slot",
            state: BadgeState::from_progress(facts.wins, 1),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(n: u32) -> UtcDay {
        UtcDay::from_number(n)
    }

    #[test]
    fn xp_adds_votes_clips_and_wins() {
        let facts = ProfileFacts { votes_cast: 3, approved_clips: 2, wins: 1, best_streak: 0 };
        assert_eq!(xp(&facts), 30 + 200 + 500);
        assert_eq!(xp(&ProfileFacts::default()), 0);
    }

    #[test]
    fn levels_follow_the_curve() {
        assert_eq!(level_for(0), Level { level: 1, xp_into_level: 0, xp_for_next: 100 });
        assert_eq!(level_for(99), Level { level: 1, xp_into_level: 99, xp_for_next: 100 });
        assert_eq!(level_for(100), Level { level: 2, xp_into_level: 0, xp_for_next: 200 });
        assert_eq!(level_for(299), Level { level: 2, xp_into_level: 199, xp_for_next: 200 });
        assert_eq!(level_for(300), Level { level: 3, xp_into_level: 0, xp_for_next: 300 });
        assert_eq!(level_for(150).percent(), 25);
        assert!(level_for(u64::MAX).level > 1);
    }

    #[test]
    fn streak_counts_consecutive_days_once_each() {
        let s = Streak::default().record_vote(day(1));
        assert_eq!((s.current, s.best), (1, 1));
        let s = s.record_vote(day(1));
        assert_eq!((s.current, s.best), (1, 1), "a second vote the same day adds nothing");
        let s = s.record_vote(day(2));
        assert_eq!((s.current, s.best), (2, 2));
        let s = s.record_vote(day(4));
        assert_eq!((s.current, s.best), (1, 2), "a missed day resets, best stays");
        assert_eq!(s.current_on(day(4)), 1);
        assert_eq!(s.current_on(day(5)), 1, "alive until the end of the next day");
        assert_eq!(s.current_on(day(6)), 0, "broken after a missed day");
    }

    #[test]
    fn badges_have_three_states() {
        let facts = ProfileFacts { votes_cast: 12, approved_clips: 0, wins: 1, best_streak: 2 };
        let all = badges(&facts);
        let state = |key: &str| all.iter().find(|b| b.key == key).map(|b| b.state);
        assert_eq!(state("votes_1"), Some(BadgeState::Unlocked));
        assert_eq!(state("votes_10"), Some(BadgeState::Unlocked));
        assert_eq!(state("votes_100"), Some(BadgeState::InProgress { progress: 12, goal: 100 }));
        assert_eq!(state("streak_3"), Some(BadgeState::InProgress { progress: 2, goal: 3 }));
        assert_eq!(state("first_clip"), Some(BadgeState::Locked));
        assert_eq!(state("first_win"), Some(BadgeState::Unlocked));
        assert_eq!(all.len(), 9);
    }

    /// The streak recomputed from scratch: the longest and the trailing run of
    /// consecutive distinct days.
    fn reference(days: &[u32]) -> (u32, u32) {
        let mut distinct: Vec<u32> = days.to_vec();
        distinct.dedup();
        let (mut best, mut run) = (0, 0);
        let mut previous: Option<u32> = None;
        for d in distinct {
            run = if previous.is_some_and(|p| p + 1 == d) { run + 1 } else { 1 };
            best = best.max(run);
            previous = Some(d);
        }
        (run, best)
    }

    proptest! {
        #[test]
        fn streak_matches_a_recount(gaps in proptest::collection::vec(0u32..3, 0..60)) {
            let mut days = Vec::new();
            let mut today = 20_000;
            for gap in gaps {
                today += gap;
                days.push(today);
            }
            let streak = days.iter().fold(Streak::default(), |s, d| s.record_vote(day(*d)));
            let (current, best) = reference(&days);
            prop_assert_eq!(streak.current, current);
            prop_assert_eq!(streak.best, best);
            prop_assert!(streak.current <= streak.best);
        }

        #[test]
        fn level_is_consistent_with_its_threshold(xp_total in 0u64..10_000_000_000) {
            let level = level_for(xp_total);
            prop_assert!(xp_to_reach(level.level) <= xp_total);
            prop_assert!(xp_to_reach(level.level + 1) > xp_total);
            prop_assert!(level.xp_into_level < level.xp_for_next);
            prop_assert!(level.percent() <= 100);
        }

        #[test]
        fn more_xp_never_lowers_the_level(a in 0u64..1_000_000_000, b in 0u64..1_000_000_000) {
            let (low, high) = (a.min(b), a.max(b));
            prop_assert!(level_for(low).level <= level_for(high).level);
        }

        #[test]
        fn badge_progress_is_below_its_goal(votes in 0u64..5000, streak in 0u32..100) {
            let facts = ProfileFacts { votes_cast: votes, approved_clips: 0, wins: 0, best_streak: streak };
            for badge in badges(&facts) {
                if let BadgeState::InProgress { progress, goal } = badge.state {
                    prop_assert!(progress > 0 && progress < goal);
                }
            }
        }
    }
}
