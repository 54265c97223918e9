//! The recount a reader of a published tally can do: stream the lines, rebuild
//! the Merkle root, add up the counted weight and votes per clip, find the
//! winner under the documented tie-break, and check the rules every
//! pseudonymous voter must satisfy. The first discrepancy comes back as a
//! typed [`Discrepancy`].
//!
//! Memory is bounded by the slot's voters and clips (the rule checks must
//! remember each pseudonym's votes), never by its lines: the root is built
//! with [`RootBuilder`] and no line is kept.
//!
//! The rules, as the server enforces them (`domain::vote`), on counted lines:
//! - at most one counted **standard** vote per voter and clip (unless the
//!   slot ran in multi-vote mode). A super or mega vote may go to a clip the
//!   voter also gave a standard vote: the server allows that stacking;
//! - at most one counted super and one counted mega vote per voter;
//! - each line's weight is its type's (1, 3, 10);
//! - per voter, the counted weight cast on one UTC day is within the daily
//!   budget. (The budget spans every slot of that day; one slot's tally can
//!   only show this slot's share, so this is a necessary condition.)

use std::collections::HashMap;
use std::fmt;

use super::line::{LineError, Pseudonym, TallyLine, format_day};
use super::merkle::{MerkleHash, RootBuilder, leaf_hash};
use crate::domain::clock::{Timestamp, UtcDay};
use crate::domain::ids::{ClipId, VoteId};
use crate::domain::tournament::{Contender, pick_winner};
use crate::domain::vote::VoteType;

/// The voting rules the slot ran under, which the recount checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TallyRules {
    /// Weight units one voter may spend per UTC day (config `votes.daily_budget`).
    pub daily_budget: u32,
    /// The `multi_vote_mode` flag was on: several standard votes per clip are fine.
    pub multi_vote_mode: bool,
}

impl Default for TallyRules {
    fn default() -> Self {
        Self { daily_budget: 200, multi_vote_mode: false }
    }
}

/// What the tally is checked against, besides its own lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expected {
    /// The published root.
    pub root: Option<MerkleHash>,
    /// The published winner of the slot.
    pub winner: Option<ClipId>,
}

/// The first thing that does not add up. Lines are numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Discrepancy {
    /// A line is not a canonical tally line.
    #[error("line {line}: {error}")]
    Malformed {
        /// The line number.
        line: u64,
        /// What is wrong with it.
        error: LineError,
    },
    /// Lines must be in strictly increasing vote-id order.
    #[error("line {line}: vote {vote} comes after vote {previous}; lines must be in increasing vote-id order")]
    OutOfOrder {
        /// The line number.
        line: u64,
        /// Its vote id.
        vote: VoteId,
        /// The previous line's vote id.
        previous: VoteId,
    },
    /// The lines hash to another root than the published one.
    #[error("the root of these {size} lines is {computed}, not the published {expected}")]
    RootMismatch {
        /// The published root.
        expected: MerkleHash,
        /// The root of the lines read.
        computed: MerkleHash,
        /// How many lines were read.
        size: u64,
    },
    /// A line's weight is not its vote type's.
    #[error(
        "line {line}: vote {vote} is a {vote_type} vote with weight {weight}; a {vote_type} vote weighs {expected}"
    )]
    WrongWeight {
        /// The line number.
        line: u64,
        /// Its vote id.
        vote: VoteId,
        /// Its vote type.
        vote_type: &'static str,
        /// The weight it claims.
        weight: u32,
        /// The weight of its type.
        expected: u32,
    },
    /// A voter has two counted standard votes on one clip.
    #[error("line {line}: voter {voter} has a second counted standard vote on clip {clip} (vote {vote})")]
    SecondStandardVote {
        /// The line number.
        line: u64,
        /// Its vote id.
        vote: VoteId,
        /// The voter's short pseudonym.
        voter: String,
        /// The clip.
        clip: ClipId,
    },
    /// A voter has two counted super (or mega) votes.
    #[error("line {line}: voter {voter} has a second counted {vote_type} vote in this slot (vote {vote})")]
    SecondSpecialVote {
        /// The line number.
        line: u64,
        /// Its vote id.
        vote: VoteId,
        /// The voter's short pseudonym.
        voter: String,
        /// `super` or `mega`.
        vote_type: &'static str,
    },
    /// A voter's counted weight on one UTC day exceeds the budget.
    #[error(
        "line {line}: voter {voter} reaches weight {spent} on {day}, over the daily budget of {budget} (vote {vote})"
    )]
    OverDailyBudget {
        /// The line number.
        line: u64,
        /// Its vote id.
        vote: VoteId,
        /// The voter's short pseudonym.
        voter: String,
        /// The UTC day, `YYYY-MM-DD`.
        day: String,
        /// Counted weight of that voter on that day so far.
        spent: u64,
        /// The budget.
        budget: u32,
    },
    /// The tally's leader cannot be the published winner.
    #[error("the published winner is clip {expected}, but the tally gives {computed}")]
    WinnerMismatch {
        /// The published winner.
        expected: ClipId,
        /// What the tally gives.
        computed: TallyWinner,
    },
}

/// One clip's counted votes in the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipStanding {
    /// The clip.
    pub clip: ClipId,
    /// Sum of counted weights (the weighted score).
    pub weight: u64,
    /// Number of counted votes.
    pub votes: u64,
}

/// Who wins according to the lines alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TallyWinner {
    /// No counted vote: the lines do not decide (a clip without votes may
    /// have won, or an admin assigned the winner).
    Undecided,
    /// One clip leads on weight, then on votes.
    Clip(ClipId),
    /// These clips tie on weight and votes (lowest id first). The rule then
    /// picks the earlier upload, then the lower id; upload times are not in
    /// the tally, see [`TallyReport::winner_with_upload_times`].
    Tied(Vec<ClipId>),
}

impl fmt::Display for TallyWinner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TallyWinner::Undecided => f.write_str("no winner (no counted vote)"),
            TallyWinner::Clip(clip) => write!(f, "clip {clip}"),
            TallyWinner::Tied(clips) => {
                let list: Vec<_> = clips.iter().map(ClipId::to_string).collect();
                write!(f, "a tie between clips {} on weight and votes (decided by upload time)", list.join(", "))
            }
        }
    }
}

/// What a recount found when nothing was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TallyReport {
    /// Lines read (the Merkle tree size).
    pub tree_size: u64,
    /// The Merkle root of the lines.
    pub root: MerkleHash,
    /// Lines marked counted.
    pub counted_votes: u64,
    /// Distinct pseudonyms.
    pub voters: u64,
    /// Clips with counted votes, best first (weight, then votes, then id).
    pub standings: Vec<ClipStanding>,
    /// The leader under the tie-break the lines can apply.
    pub winner: TallyWinner,
}

impl TallyReport {
    /// The winner under the full documented rule (weight, votes, earlier
    /// upload, lower id), given the clips' upload times. `None` when no clip
    /// has a counted vote.
    pub fn winner_with_upload_times(&self, uploaded_at: impl Fn(ClipId) -> Timestamp) -> Option<ClipId> {
        let contenders: Vec<_> = self
            .standings
            .iter()
            .map(|standing| Contender {
                clip: standing.clip,
                weighted_score: standing.weight,
                vote_count: standing.votes,
                created_at: uploaded_at(standing.clip),
            })
            .collect();
        pick_winner(&contenders)
    }
}

/// One pseudonym's counted votes, as far as the rules need them.
#[derive(Debug, Default)]
struct VoterRecord {
    standard_clips: Vec<ClipId>,
    super_used: bool,
    mega_used: bool,
    weight_per_day: Vec<(UtcDay, u64)>,
}

/// Reads a tally line by line. Malformed or misordered lines end the read at
/// once; everything else is checked at [`TallyChecker::finish`] in a fixed
/// order: the root, then the first rule broken (in line order), then the winner.
#[derive(Debug)]
pub struct TallyChecker {
    rules: TallyRules,
    builder: RootBuilder,
    previous: Option<VoteId>,
    clips: HashMap<ClipId, ClipStanding>,
    voters: HashMap<Pseudonym, VoterRecord>,
    counted_votes: u64,
    first_rule_broken: Option<Discrepancy>,
}

impl TallyChecker {
    /// A checker for a slot that ran under `rules`.
    pub fn new(rules: TallyRules) -> Self {
        Self {
            rules,
            builder: RootBuilder::new(),
            previous: None,
            clips: HashMap::new(),
            voters: HashMap::new(),
            counted_votes: 0,
            first_rule_broken: None,
        }
    }

    /// Lines read so far.
    pub fn lines(&self) -> u64 {
        self.builder.size()
    }

    /// Reads the next line (its bytes without the newline).
    pub fn push_line(&mut self, bytes: &[u8]) -> Result<(), Discrepancy> {
        let number = self.builder.size() + 1;
        let line = TallyLine::parse(bytes).map_err(|error| Discrepancy::Malformed { line: number, error })?;
        if let Some(previous) = self.previous
            && line.vote() <= previous
        {
            return Err(Discrepancy::OutOfOrder { line: number, vote: line.vote(), previous });
        }
        self.previous = Some(line.vote());
        self.builder.push(leaf_hash(bytes));
        let rule = self.count(number, &line);
        if self.first_rule_broken.is_none() {
            self.first_rule_broken = rule.err();
        }
        Ok(())
    }

    /// Counts one line and checks the voter's rules.
    fn count(&mut self, number: u64, line: &TallyLine) -> Result<(), Discrepancy> {
        let voter = self.voters.entry(line.voter()).or_default();
        if !line.counted() {
            return Ok(());
        }
        self.counted_votes += 1;
        let standing = self.clips.entry(line.clip()).or_insert(ClipStanding { clip: line.clip(), weight: 0, votes: 0 });
        standing.weight += u64::from(line.weight());
        standing.votes += 1;
        let (vote, vote_type) = (line.vote(), line.vote_type());
        let expected = vote_type.weight();
        if line.weight() != expected {
            return Err(Discrepancy::WrongWeight {
                line: number,
                vote,
                vote_type: vote_type.as_str(),
                weight: line.weight(),
                expected,
            });
        }
        match vote_type {
            VoteType::Standard => {
                if voter.standard_clips.contains(&line.clip()) && !self.rules.multi_vote_mode {
                    let voter = line.voter().short();
                    return Err(Discrepancy::SecondStandardVote { line: number, vote, voter, clip: line.clip() });
                }
                voter.standard_clips.push(line.clip());
            }
            special => {
                let used = if special == VoteType::Super { &mut voter.super_used } else { &mut voter.mega_used };
                if *used {
                    let voter = line.voter().short();
                    return Err(Discrepancy::SecondSpecialVote {
                        line: number,
                        vote,
                        voter,
                        vote_type: special.as_str(),
                    });
                }
                *used = true;
            }
        }
        let day = line.cast_at().utc_day();
        let spent = match voter.weight_per_day.iter_mut().find(|(known, _)| *known == day) {
            Some((_, spent)) => {
                *spent += u64::from(line.weight());
                *spent
            }
            None => {
                voter.weight_per_day.push((day, u64::from(line.weight())));
                u64::from(line.weight())
            }
        };
        if spent > u64::from(self.rules.daily_budget) {
            return Err(Discrepancy::OverDailyBudget {
                line: number,
                vote,
                voter: line.voter().short(),
                day: format_day(day),
                spent,
                budget: self.rules.daily_budget,
            });
        }
        Ok(())
    }

    /// Ends the read: the report, or the first discrepancy.
    pub fn finish(self, expected: &Expected) -> Result<TallyReport, Discrepancy> {
        let root = self.builder.root();
        let tree_size = self.builder.size();
        if let Some(published) = expected.root
            && published != root
        {
            return Err(Discrepancy::RootMismatch { expected: published, computed: root, size: tree_size });
        }
        if let Some(broken) = self.first_rule_broken {
            return Err(broken);
        }
        let mut standings: Vec<_> = self.clips.into_values().collect();
        standings.sort_by(|a, b| b.weight.cmp(&a.weight).then(b.votes.cmp(&a.votes)).then(a.clip.cmp(&b.clip)));
        let winner = match standings.first() {
            None => TallyWinner::Undecided,
            Some(best) => {
                let tied: Vec<_> = standings
                    .iter()
                    .take_while(|s| s.weight == best.weight && s.votes == best.votes)
                    .map(|s| s.clip)
                    .collect();
                if tied.len() == 1 { TallyWinner::Clip(best.clip) } else { TallyWinner::Tied(tied) }
            }
        };
        let consistent = match (&winner, expected.winner) {
            (_, None) | (TallyWinner::Undecided, Some(_)) => true,
            (TallyWinner::Clip(leader), Some(published)) => *leader == published,
            (TallyWinner::Tied(clips), Some(published)) => clips.contains(&published),
        };
        if let (false, Some(published)) = (consistent, expected.winner) {
            return Err(Discrepancy::WinnerMismatch { expected: published, computed: winner });
        }
        Ok(TallyReport {
            tree_size,
            root,
            counted_votes: self.counted_votes,
            voters: self.voters.len() as u64,
            standings,
            winner,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tally::merkle::root_of;
    use proptest::prelude::*;

    const DAY: i64 = 86_400_000;
    const START: i64 = 20_000 * DAY + 3_600_000;

    fn line(vote: u64, voter: u8, clip: u64, vote_type: VoteType, at: i64, counted: bool) -> TallyLine {
        TallyLine::new(
            VoteId::new(vote).expect("id"),
            Pseudonym::from_bytes([voter; 32]),
            ClipId::new(clip).expect("id"),
            vote_type,
            vote_type.weight(),
            Timestamp::from_millis(at),
            counted,
        )
        .expect("in range")
    }

    fn check(lines: &[TallyLine], rules: TallyRules, expected: &Expected) -> Result<TallyReport, Discrepancy> {
        let mut checker = TallyChecker::new(rules);
        for line in lines {
            checker.push_line(&line.to_bytes())?;
        }
        checker.finish(expected)
    }

    /// A small slot: three voters, a stacked super, a revoked mega that was
    /// cast again elsewhere, a voided vote.
    fn slot() -> Vec<TallyLine> {
        vec![
            line(1, 1, 10, VoteType::Standard, START, true),
            line(2, 1, 10, VoteType::Super, START + 1, true),
            line(3, 2, 11, VoteType::Mega, START + 2, false),
            line(4, 2, 12, VoteType::Mega, START + 3, true),
            line(5, 3, 11, VoteType::Standard, START + 4, true),
            line(6, 3, 11, VoteType::Standard, START + 5, false),
            line(8, 3, 10, VoteType::Standard, START + 6, true),
        ]
    }

    #[test]
    fn recounts_a_small_slot() {
        let lines = slot();
        let root = root_of(&lines.iter().map(|l| leaf_hash(&l.to_bytes())).collect::<Vec<_>>());
        let expected = Expected { root: Some(root), winner: Some(ClipId::new(12).expect("id")) };
        let report = check(&lines, TallyRules::default(), &expected).expect("valid");
        assert_eq!(report.tree_size, 7);
        assert_eq!(report.root, root);
        assert_eq!(report.counted_votes, 5);
        assert_eq!(report.voters, 3);
        let standings: Vec<_> = report.standings.iter().map(|s| (s.clip.get(), s.weight, s.votes)).collect();
        assert_eq!(standings, [(12, 10, 1), (10, 5, 3), (11, 1, 1)]);
        assert_eq!(report.winner, TallyWinner::Clip(ClipId::new(12).expect("id")));
    }

    #[test]
    fn an_empty_slot_has_the_empty_root_and_no_winner() {
        let report = check(&[], TallyRules::default(), &Expected::default()).expect("valid");
        assert_eq!(report.root, crate::domain::tally::merkle::empty_root());
        assert_eq!(report.winner, TallyWinner::Undecided);
    }

    #[test]
    fn reports_the_first_discrepancy_in_a_fixed_order() {
        let rules = TallyRules::default();
        let mut lines = slot();
        lines.swap(2, 3);
        assert!(matches!(check(&lines, rules, &Expected::default()), Err(Discrepancy::OutOfOrder { line: 4, .. })));

        let mut lines = slot();
        lines[5] = line(6, 3, 11, VoteType::Standard, START + 5, true);
        assert!(matches!(
            check(&lines, rules, &Expected::default()),
            Err(Discrepancy::SecondStandardVote { line: 6, .. })
        ));
        // Multi-vote mode allows it.
        assert!(check(&lines, TallyRules { multi_vote_mode: true, ..rules }, &Expected::default()).is_ok());
        // A wrong root is reported before any rule.
        let wrong_root = Expected { root: Some(leaf_hash(b"x")), winner: None };
        assert!(matches!(check(&lines, rules, &wrong_root), Err(Discrepancy::RootMismatch { .. })));

        let mut lines = slot();
        lines[2] = line(3, 2, 11, VoteType::Mega, START + 2, true);
        assert!(matches!(
            check(&lines, rules, &Expected::default()),
            Err(Discrepancy::SecondSpecialVote { line: 4, vote_type: "mega", .. })
        ));

        let mut lines = slot();
        lines[0] = TallyLine::new(
            VoteId::new(1).expect("id"),
            Pseudonym::from_bytes([1; 32]),
            ClipId::new(10).expect("id"),
            VoteType::Standard,
            2,
            Timestamp::from_millis(START),
            true,
        )
        .expect("in range");
        assert!(matches!(
            check(&lines, rules, &Expected::default()),
            Err(Discrepancy::WrongWeight { line: 1, weight: 2, expected: 1, .. })
        ));
    }

    #[test]
    fn the_daily_budget_counts_counted_weight_per_utc_day() {
        let rules = TallyRules { daily_budget: 12, multi_vote_mode: false };
        let mut lines = vec![
            line(1, 1, 1, VoteType::Mega, START, true),
            line(2, 1, 2, VoteType::Standard, START + 1, true),
            line(3, 1, 3, VoteType::Standard, START + 2, true),
            // Not counted: does not spend in the recount.
            line(4, 1, 4, VoteType::Standard, START + 3, false),
            // The next UTC day starts afresh.
            line(5, 1, 4, VoteType::Super, START + DAY, true),
        ];
        assert!(check(&lines, rules, &Expected::default()).is_ok());
        lines.push(line(6, 1, 5, VoteType::Standard, START + 4, true));
        let error = check(&lines, rules, &Expected::default()).expect_err("over budget");
        assert!(matches!(&error, Discrepancy::OverDailyBudget { line: 6, spent: 13, budget: 12, .. }), "{error}");
        assert!(error.to_string().contains("2024-10-04"), "{error}");
    }

    #[test]
    fn a_tie_is_left_to_the_upload_times() {
        let lines = vec![
            line(1, 1, 7, VoteType::Standard, START, true),
            line(2, 2, 5, VoteType::Standard, START + 1, true),
            line(3, 3, 9, VoteType::Standard, START + 2, false),
        ];
        let tied = TallyWinner::Tied(vec![ClipId::new(5).expect("id"), ClipId::new(7).expect("id")]);
        let report = check(&lines, TallyRules::default(), &Expected::default()).expect("valid");
        assert_eq!(report.winner, tied);
        // Clip 7 was uploaded first, so it wins the tie.
        let uploaded = |clip: ClipId| Timestamp::from_millis(if clip.get() == 7 { 1 } else { 2 });
        assert_eq!(report.winner_with_upload_times(uploaded), ClipId::new(7));
        let seven = Expected { root: None, winner: ClipId::new(7) };
        assert!(check(&lines, TallyRules::default(), &seven).is_ok());
        let nine = Expected { root: None, winner: ClipId::new(9) };
        assert_eq!(
            check(&lines, TallyRules::default(), &nine),
            Err(Discrepancy::WinnerMismatch { expected: ClipId::new(9).expect("id"), computed: tied })
        );
    }

    fn check_bytes(lines: &[Vec<u8>], expected: &Expected) -> Result<TallyReport, Discrepancy> {
        let mut checker = TallyChecker::new(TallyRules::default());
        for line in lines {
            checker.push_line(line)?;
        }
        checker.finish(expected)
    }

    proptest! {
        #[test]
        fn any_changed_byte_dropped_line_or_swap_fails_against_the_root(
            votes in proptest::collection::vec((1u64..4, 1u8..6, 1u64..5, any::<bool>()), 2..40),
            pick in any::<usize>(),
            other in any::<usize>(),
            byte in any::<usize>(),
            to in any::<u8>(),
        ) {
            // Every vote a standard one from its own voter: valid by construction.
            let mut id = 0;
            let lines: Vec<Vec<u8>> = votes
                .iter()
                .enumerate()
                .map(|(n, (gap, _, clip, counted))| {
                    id += gap;
                    line(id, n as u8, *clip, VoteType::Standard, START + n as i64, *counted).to_bytes()
                })
                .collect();
            let root = root_of(&lines.iter().map(|l| leaf_hash(l)).collect::<Vec<_>>());
            let expected = Expected { root: Some(root), winner: None };
            prop_assert!(check_bytes(&lines, &expected).is_ok());

            let (a, b) = (pick % lines.len(), other % lines.len());
            let mut changed = lines.clone();
            let at = byte % changed[a].len();
            prop_assume!(changed[a][at] != to);
            changed[a][at] = to;
            prop_assert!(check_bytes(&changed, &expected).is_err());

            let mut dropped = lines.clone();
            dropped.remove(a);
            prop_assert!(check_bytes(&dropped, &expected).is_err());

            if a != b {
                let mut swapped = lines.clone();
                swapped.swap(a, b);
                prop_assert!(check_bytes(&swapped, &expected).is_err());
                // Out of order even without the root.
                prop_assert!(check_bytes(&swapped, &Expected::default()).is_err());
            }
        }
    }
}
