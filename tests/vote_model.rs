//! Property test of the voting rules as the writer enforces them: random
//! sequences of votes, revokes, clock moves across UTC midnight and flag
//! changes are applied to the real writer on a real redb file and to a small
//! reference model; every answer and every count must agree.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use aimoviez::domain::clock::Timestamp;
use aimoviez::domain::ids::{ClipId, VoterKey};
use aimoviez::domain::vote::{VoteRefusal, VoteType};
use aimoviez::store::Store;
use aimoviez::store::writer::{self, DemoSeed, WriteError};
use proptest::prelude::*;

const BUDGET: u32 = 12;
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone)]
enum Op {
    Cast { voter: u8, clip: u64, vote_type: VoteType },
    Revoke { voter: u8, clip: u64 },
    AdvanceHours(i64),
    MultiVote(bool),
}

fn op() -> impl Strategy<Value = Op> {
    let vote_type = prop_oneof![6 => Just(VoteType::Standard), 1 => Just(VoteType::Super), 1 => Just(VoteType::Mega)];
    prop_oneof![
        8 => (0u8..3, 1u64..=5, vote_type).prop_map(|(voter, clip, vote_type)| Op::Cast { voter, clip, vote_type }),
        3 => (0u8..3, 1u64..=5).prop_map(|(voter, clip)| Op::Revoke { voter, clip }),
        1 => (1i64..30).prop_map(Op::AdvanceHours),
        1 => any::<bool>().prop_map(Op::MultiVote),
    ]
}

/// A counted vote in the model: weight, type, UTC day number.
type ModelVote = (u32, VoteType, i64);

/// The reference: the rules written as plainly as possible.
#[derive(Default)]
struct Model {
    multi_vote: bool,
    /// (voter, clip) → counted votes in order: (weight, type, day).
    votes: HashMap<(u8, u64), Vec<ModelVote>>,
    /// (voter, type) → special spent in the slot.
    specials: HashMap<(u8, VoteType), bool>,
    /// (voter, day) → units spent.
    spent: HashMap<(u8, i64), u32>,
    /// clip → (count, score).
    counts: HashMap<u64, (u64, u64)>,
}

type Expected = Result<((u64, u64), u32), VoteRefusal>;

impl Model {
    fn cast(&mut self, voter: u8, clip: u64, vote_type: VoteType, day: i64) -> Expected {
        if clip > 4 {
            return Err(VoteRefusal::ClipNotFound);
        }
        let existing = self.votes.get(&(voter, clip)).map_or(0, Vec::len);
        match vote_type {
            VoteType::Standard if existing > 0 && !self.multi_vote => return Err(VoteRefusal::AlreadyVoted),
            VoteType::Standard => {}
            special if *self.specials.get(&(voter, special)).unwrap_or(&false) => {
                return Err(VoteRefusal::SpecialVoteUsed);
            }
            _ => {}
        }
        let weight = vote_type.weight();
        let spent = self.spent.entry((voter, day)).or_default();
        if *spent + weight > BUDGET {
            return Err(VoteRefusal::DailyLimitReached);
        }
        *spent += weight;
        let spent = *spent;
        if vote_type != VoteType::Standard {
            self.specials.insert((voter, vote_type), true);
        }
        self.votes.entry((voter, clip)).or_default().push((weight, vote_type, day));
        let count = self.counts.entry(clip).or_default();
        count.0 += 1;
        count.1 += u64::from(weight);
        Ok((*count, spent))
    }

    fn revoke(&mut self, voter: u8, clip: u64, today: i64) -> Expected {
        if clip > 4 {
            return Err(VoteRefusal::ClipNotFound);
        }
        let Some((weight, vote_type, day)) = self.votes.get_mut(&(voter, clip)).and_then(Vec::pop) else {
            return Err(VoteRefusal::NoVoteToRevoke);
        };
        if vote_type != VoteType::Standard {
            self.specials.insert((voter, vote_type), false);
        }
        if day == today {
            *self.spent.entry((voter, day)).or_default() -= weight;
        }
        let count = self.counts.entry(clip).or_default();
        count.0 -= 1;
        count.1 -= u64::from(weight);
        Ok((*count, *self.spent.get(&(voter, today)).unwrap_or(&0)))
    }
}

fn voter_key(voter: u8) -> VoterKey {
    VoterKey::device([voter + 1; 16])
}

fn seed() -> DemoSeed {
    DemoSeed::placeholder("Model", 3, 400 * 24 * 3600, 4)
}

fn run_case(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("db.redb"), 8 << 20).expect("store");
    // Start mid-day so the first hours stay on one day.
    let clock = Arc::new(AtomicI64::new(20_000 * DAY_MS + 10 * 3_600_000));
    let clock_for_writer = clock.clone();
    let settings = writer::WriterSettings {
        batch_max: 64,
        queue_capacity: 64,
        daily_budget: BUDGET,
        clock: Arc::new(move || Timestamp::from_millis(clock_for_writer.load(Ordering::SeqCst))),
    };
    let (handle, thread) = writer::start(&store, settings, Box::new(|_| {})).expect("writer");
    let result = runtime.block_on(async {
        assert!(handle.seed_demo(seed()).await.expect("seeded"));
        let mut model = Model::default();
        for op in ops {
            let today = clock.load(Ordering::SeqCst).div_euclid(DAY_MS);
            let (expected, actual) = match op {
                Op::Cast { voter, clip, vote_type } => (
                    model.cast(voter, clip, vote_type, today),
                    handle
                        .cast_vote(writer::CastRequest {
                            voter: voter_key(voter),
                            clip: ClipId::new(clip).expect("id"),
                            vote_type,
                            network: u64::from(voter),
                        })
                        .await,
                ),
                Op::Revoke { voter, clip } => (
                    model.revoke(voter, clip, today),
                    handle.revoke_vote(voter_key(voter), ClipId::new(clip).expect("id")).await,
                ),
                Op::AdvanceHours(hours) => {
                    clock.fetch_add(hours * 3_600_000, Ordering::SeqCst);
                    continue;
                }
                Op::MultiVote(enabled) => {
                    model.multi_vote = enabled;
                    handle.set_flag("multi_vote_mode".into(), enabled, None).await.expect("flag");
                    continue;
                }
            };
            let actual = match actual {
                Ok(outcome) => Ok(((outcome.counter.vote_count, outcome.counter.weighted_score), outcome.spent_today)),
                Err(WriteError::Refused(refusal)) => Err(refusal),
                Err(other) => panic!("unexpected writer error: {other}"),
            };
            prop_assert_eq!(actual, expected);
        }
        Ok(model)
    });
    thread.stop();
    let model = result?;
    // Each voter's standing now (today's spend, voted clips) is what storage holds.
    let today = clock.load(Ordering::SeqCst).div_euclid(DAY_MS);
    for voter in 0..3u8 {
        let stored = store
            .voter_slot_state(
                &voter_key(voter),
                aimoviez::domain::ids::SeasonId::new(1).expect("id"),
                aimoviez::domain::ids::SlotPosition::FIRST,
                aimoviez::domain::clock::UtcDay::from_number(u32::try_from(today).expect("day")),
            )
            .expect("read");
        prop_assert_eq!(stored.spent_today, *model.spent.get(&(voter, today)).unwrap_or(&0), "voter {}", voter);
        let mut stored_clips: Vec<u64> = stored.voted_clips.iter().map(|c| c.get()).collect();
        stored_clips.sort_unstable();
        let mut model_clips: Vec<u64> = model
            .votes
            .iter()
            .filter(|((v, _), votes)| *v == voter && !votes.is_empty())
            .map(|((_, c), _)| *c)
            .collect();
        model_clips.sort_unstable();
        prop_assert_eq!(stored_clips, model_clips, "voter {}", voter);
    }
    for (clip, (count, score)) in &model.counts {
        let stored = store.clip(ClipId::new(*clip).expect("id")).expect("read").expect("clip");
        prop_assert_eq!((stored.counter.vote_count, stored.counter.weighted_score), (*count, *score));
    }
    let report = store.check(|_, _| {}).expect("check runs");
    prop_assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_writer_agrees_with_the_reference_model(ops in proptest::collection::vec(op(), 1..70)) {
        run_case(ops)?;
    }
}
