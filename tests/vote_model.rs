//! Property test of the voting rules as the writer enforces them: random
//! sequences of votes and revokes, clock moves across UTC midnight, flag
//! changes, and the admins' slot operations — assigning a winner (which
//! closes the slot and opens the next), unlocking the slot closed last,
//! resetting the open slot's votes, voiding single votes — are applied to the
//! real writer on a real redb file and to a small reference model; every
//! answer, every vote's final state and every voter's standing in every slot
//! must agree, and `check` must find nothing to report.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use aimoviez::domain::clock::{Timestamp, UtcDay};
use aimoviez::domain::ids::{ClipId, SeasonId, SlotPosition, UserId, VoteId, VoterKey};
use aimoviez::domain::model::VoteState;
use aimoviez::domain::vote::{VoteRefusal, VoteType};
use aimoviez::store::Store;
use aimoviez::store::writer::{self, AdvanceOutcome, AdvanceTrigger, DemoSeed, WriteError};
use proptest::prelude::*;

const BUDGET: u32 = 12;
const DAY_MS: i64 = 86_400_000;
const SLOTS: u32 = 6;
const CLIPS: u64 = 4;
const VOTERS: u8 = 3;

#[derive(Debug, Clone)]
enum Op {
    Cast {
        voter: u8,
        clip: u64,
        vote_type: VoteType,
    },
    Revoke {
        voter: u8,
        clip: u64,
    },
    AdvanceHours(i64),
    MultiVote(bool),
    /// An admin closes the open slot with its `n`-th contender (by id) as winner.
    AssignWinner(usize),
    /// An admin reopens the slot closed last.
    Unlock,
    /// An admin resets the open slot's votes.
    Reset,
    /// An admin voids the `n`-th vote cast so far.
    Void(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let vote_type = prop_oneof![6 => Just(VoteType::Standard), 1 => Just(VoteType::Super), 1 => Just(VoteType::Mega)];
    prop_oneof![
        8 => (0..VOTERS, 1..=CLIPS + 1, vote_type).prop_map(|(voter, clip, vote_type)| Op::Cast { voter, clip, vote_type }),
        3 => (0..VOTERS, 1..=CLIPS + 1).prop_map(|(voter, clip)| Op::Revoke { voter, clip }),
        1 => (1i64..30).prop_map(Op::AdvanceHours),
        1 => any::<bool>().prop_map(Op::MultiVote),
        1 => any::<usize>().prop_map(Op::AssignWinner),
        1 => Just(Op::Unlock),
        1 => Just(Op::Reset),
        1 => any::<usize>().prop_map(Op::Void),
    ]
}

/// A vote as the model keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ModelVote {
    id: u64,
    voter: u8,
    clip: u64,
    slot: u32,
    vote_type: VoteType,
    day: i64,
    state: VoteState,
}

/// The reference: the rules written as plainly as possible, over the full
/// list of votes rather than any ledger.
struct Model {
    multi_vote: bool,
    /// The open slot; `None` once the last slot closed (season finished).
    open: Option<u32>,
    /// Clip → (the slot it sits in, whether it won that slot).
    clips: HashMap<u64, (u32, bool)>,
    /// Slot → its winner.
    winners: HashMap<u32, u64>,
    votes: Vec<ModelVote>,
    next_id: u64,
}

/// (clip count, clip score) in the open slot, voter's spend today, voter's
/// (super, mega) used in the open slot.
type Answer = ((u64, u64), u32, (bool, bool));
type Expected = Result<Answer, VoteRefusal>;

impl Model {
    fn new() -> Self {
        Model {
            multi_vote: false,
            open: Some(1),
            clips: (1..=CLIPS).map(|clip| (clip, (1, false))).collect(),
            winners: HashMap::new(),
            votes: Vec::new(),
            next_id: 1,
        }
    }

    fn counts(&self, slot: u32, clip: u64) -> (u64, u64) {
        let counted = self.votes.iter().filter(|v| v.slot == slot && v.clip == clip && v.state == VoteState::Counted);
        counted.fold((0, 0), |(count, score), v| (count + 1, score + u64::from(v.vote_type.weight())))
    }

    fn spent(&self, voter: u8, day: i64) -> u32 {
        let spending = self.votes.iter().filter(|v| v.voter == voter && v.day == day);
        spending.filter(|v| v.state != VoteState::Revoked { refunded: true }).map(|v| v.vote_type.weight()).sum()
    }

    /// A special stays spent while its vote counts, and after an admin voided
    /// it; a revoke (the voter's, or a reset's) gives it back.
    fn special_used(&self, voter: u8, slot: u32, vote_type: VoteType) -> bool {
        self.votes.iter().any(|v| {
            v.voter == voter
                && v.slot == slot
                && v.vote_type == vote_type
                && matches!(v.state, VoteState::Counted | VoteState::Voided)
        })
    }

    fn specials(&self, voter: u8, slot: u32) -> (bool, bool) {
        (self.special_used(voter, slot, VoteType::Super), self.special_used(voter, slot, VoteType::Mega))
    }

    fn counted_clips(&self, voter: u8, slot: u32) -> Vec<u64> {
        let counted = self.votes.iter().filter(|v| v.voter == voter && v.slot == slot && v.state == VoteState::Counted);
        counted.map(|v| v.clip).collect::<BTreeSet<_>>().into_iter().collect()
    }

    /// Active clips competing in a slot, by id.
    fn contenders(&self, slot: u32) -> Vec<u64> {
        let mut clips: Vec<u64> =
            self.clips.iter().filter(|(_, (at, won))| *at == slot && !won).map(|(clip, _)| *clip).collect();
        clips.sort_unstable();
        clips
    }

    fn cast(&mut self, voter: u8, clip: u64, vote_type: VoteType, today: i64) -> Expected {
        let Some(&(at, won)) = self.clips.get(&clip) else { return Err(VoteRefusal::ClipNotFound) };
        let Some(open) = self.open else { return Err(VoteRefusal::SlotClosed) };
        if won || at != open {
            return Err(VoteRefusal::NotVotable);
        }
        let existing = self
            .votes
            .iter()
            .filter(|v| v.voter == voter && v.slot == open && v.clip == clip && v.state == VoteState::Counted);
        match vote_type {
            VoteType::Standard if existing.count() > 0 && !self.multi_vote => return Err(VoteRefusal::AlreadyVoted),
            VoteType::Standard => {}
            special if self.special_used(voter, open, special) => return Err(VoteRefusal::SpecialVoteUsed),
            _ => {}
        }
        if self.spent(voter, today) + vote_type.weight() > BUDGET {
            return Err(VoteRefusal::DailyLimitReached);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.votes.push(ModelVote { id, voter, clip, slot: open, vote_type, day: today, state: VoteState::Counted });
        Ok((self.counts(open, clip), self.spent(voter, today), self.specials(voter, open)))
    }

    fn revoke(&mut self, voter: u8, clip: u64, today: i64) -> Expected {
        let Some(&(at, _)) = self.clips.get(&clip) else { return Err(VoteRefusal::ClipNotFound) };
        let Some(open) = self.open else { return Err(VoteRefusal::SlotClosed) };
        if at != open {
            return Err(VoteRefusal::NotVotable);
        }
        let latest = self
            .votes
            .iter_mut()
            .rev()
            .find(|v| v.voter == voter && v.slot == open && v.clip == clip && v.state == VoteState::Counted);
        let Some(latest) = latest else { return Err(VoteRefusal::NoVoteToRevoke) };
        latest.state = VoteState::Revoked { refunded: latest.day == today };
        Ok((self.counts(open, clip), self.spent(voter, today), self.specials(voter, open)))
    }

    /// Closes the open slot with the given winner; the others move on.
    fn assign_winner(&mut self, winner: u64) {
        let Some(open) = self.open else { return };
        let others: Vec<u64> = self.contenders(open).into_iter().filter(|clip| *clip != winner).collect();
        self.clips.insert(winner, (open, true));
        self.winners.insert(open, winner);
        if open == SLOTS {
            self.open = None;
            return;
        }
        for clip in others {
            self.clips.insert(clip, (open + 1, false));
        }
        self.open = Some(open + 1);
    }

    /// Reopens the slot before the open one: its winner competes again and
    /// the clips that had moved on come back.
    fn unlock(&mut self) {
        let Some(open) = self.open.filter(|open| *open > 1) else { return };
        let reopened = open - 1;
        if let Some(winner) = self.winners.remove(&reopened) {
            self.clips.insert(winner, (reopened, false));
        }
        for clip in self.contenders(open) {
            self.clips.insert(clip, (reopened, false));
        }
        self.open = Some(reopened);
    }

    fn void(&mut self, id: u64) -> usize {
        match self.votes.iter_mut().find(|v| v.id == id && v.state == VoteState::Counted) {
            Some(vote) => {
                vote.state = VoteState::Voided;
                1
            }
            None => 0,
        }
    }

    /// Withdraws the open slot's counted votes as their voters' revokes
    /// would: specials free, today's weight refunded.
    fn reset(&mut self, today: i64) -> usize {
        let Some(open) = self.open else { return 0 };
        let mut withdrawn = 0;
        for vote in self.votes.iter_mut().filter(|v| v.slot == open && v.state == VoteState::Counted) {
            vote.state = VoteState::Revoked { refunded: vote.day == today };
            withdrawn += 1;
        }
        withdrawn
    }
}

fn voter_key(voter: u8) -> VoterKey {
    VoterKey::device([voter + 1; 16])
}

fn season() -> SeasonId {
    SeasonId::new(1).expect("id")
}

fn slot(position: u32) -> SlotPosition {
    SlotPosition::new(position).expect("position")
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
    let admin = UserId::new(1).expect("id");
    let (handle, thread) = writer::start(&store, settings, Box::new(|_| {})).expect("writer");
    let result = runtime.block_on(async {
        let seed = DemoSeed::placeholder("Model", SLOTS, 400 * 24 * 3600, CLIPS);
        assert!(handle.seed_demo(seed).await.expect("seeded"));
        let mut model = Model::new();
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
                Op::AssignWinner(pick) => {
                    let Some(open) = model.open else { continue };
                    let contenders = model.contenders(open);
                    if contenders.is_empty() {
                        continue;
                    }
                    let winner = contenders[pick % contenders.len()];
                    let trigger = AdvanceTrigger::Manual {
                        actor: admin,
                        winner: Some(ClipId::new(winner).expect("id")),
                        expected: Some(slot(open)),
                    };
                    let outcome = handle.advance(trigger).await.expect("advance");
                    let locked = matches!(outcome, AdvanceOutcome::Locked { winner: w, .. } if w.get() == winner);
                    prop_assert!(locked, "assigning {} in slot {}: {:?}", winner, open, outcome);
                    model.assign_winner(winner);
                    continue;
                }
                Op::Unlock => {
                    let Some(open) = model.open.filter(|open| *open > 1) else { continue };
                    handle.unlock_slot(admin, slot(open - 1)).await.expect("unlock");
                    model.unlock();
                    continue;
                }
                Op::Reset => {
                    let Some(open) = model.open else { continue };
                    let withdrawn = handle.reset_slot_votes(admin, slot(open)).await.expect("reset");
                    prop_assert_eq!(withdrawn, model.reset(today), "reset of slot {}", open);
                    continue;
                }
                Op::Void(pick) => {
                    if model.votes.is_empty() {
                        continue;
                    }
                    let id = model.votes[pick % model.votes.len()].id;
                    let voided = handle.void_votes(admin, vec![VoteId::new(id).expect("id")]).await.expect("void");
                    prop_assert_eq!(voided, model.void(id), "void of vote {}", id);
                    continue;
                }
            };
            let actual = match actual {
                Ok(outcome) => Ok((
                    (outcome.counter.vote_count, outcome.counter.weighted_score),
                    outcome.spent_today,
                    (outcome.specials_used.super_used, outcome.specials_used.mega_used),
                )),
                Err(WriteError::Refused(refusal)) => Err(refusal),
                Err(other) => panic!("unexpected writer error: {other}"),
            };
            prop_assert_eq!(actual, expected);
        }
        Ok(model)
    });
    thread.stop();
    let model = result?;
    // Every voter's standing in every slot, as storage holds it.
    let today = clock.load(Ordering::SeqCst).div_euclid(DAY_MS);
    let day = UtcDay::from_number(u32::try_from(today).expect("day"));
    for voter in 0..VOTERS {
        for position in 1..=SLOTS {
            let stored = store.voter_slot_state(&voter_key(voter), season(), slot(position), day).expect("read");
            prop_assert_eq!(stored.spent_today, model.spent(voter, today), "voter {}", voter);
            let mut stored_clips: Vec<u64> = stored.voted_clips.iter().map(|c| c.get()).collect();
            stored_clips.sort_unstable();
            prop_assert_eq!(stored_clips, model.counted_clips(voter, position), "voter {} slot {}", voter, position);
            let specials = (stored.specials_used.super_used, stored.specials_used.mega_used);
            prop_assert_eq!(specials, model.specials(voter, position), "voter {} slot {}", voter, position);
        }
    }
    // Every vote, in every slot, in its final state.
    let mut stored_votes = Vec::new();
    for position in 1..=SLOTS {
        store
            .visit_slot_votes(season(), slot(position), 0, |vote| {
                let voter = (0..VOTERS).find(|v| voter_key(*v) == vote.voter).expect("a model voter");
                stored_votes.push(ModelVote {
                    id: vote.id.get(),
                    voter,
                    clip: vote.clip.get(),
                    slot: vote.position.get(),
                    vote_type: vote.vote_type,
                    day: i64::from(vote.day.number()),
                    state: vote.state,
                });
                true
            })
            .expect("votes");
    }
    stored_votes.sort_by_key(|vote| vote.id);
    prop_assert_eq!(stored_votes, model.votes.clone());
    let report = store.check(|_, _| {}).expect("check runs");
    prop_assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_writer_agrees_with_the_reference_model(ops in proptest::collection::vec(op(), 1..80)) {
        run_case(ops)?;
    }
}
