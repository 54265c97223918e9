//! What publishing a slot's tally costs (issue #15): `cargo bench --bench
//! tally`. Not a test: it prints tables and never fails on timing.
//!
//! Three stores in temp dirs, built through the library's writer: the same
//! season whose first slot holds no vote, `BENCH_TALLY_SMALL_VOTES` (default
//! 1,000) and `BENCH_TALLY_VOTES` (default 1,000,000). Each slot is locked
//! the way the scheduler locks it (the window ended), which freezes its
//! tally in the locking transaction, and unlocked again (which drops it),
//! visiting the stores in turn `BENCH_TALLY_LOCKS` times (default 3): the
//! difference of the median lock times against the slot with no vote is what
//! the freeze adds at that size. Each lock's CPU time (the process's, from
//! `/proc/self/stat`) is printed beside its wall time: on a loaded machine
//! the wall time also counts the time other processes held the cores.
//! Then, on the locked slots: the whole export streamed through a sink that
//! keeps nothing (time and the heap's peak above its level before, counted
//! by an instrumented allocator), and `BENCH_TALLY_PROOFS` proofs (default
//! 200) of votes spread over the slot (time per proof and audit-path length).
//!
//! Knobs (env): BENCH_TALLY_VOTES, BENCH_TALLY_BASELINE_VOTES,
//! BENCH_TALLY_LOCKS, BENCH_TALLY_PROOFS, BENCH_TALLY_CLIPS (default 1,000).

use std::alloc::System;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use aimoviez::domain::clock::Timestamp;
use aimoviez::domain::ids::{ClipId, SeasonId, SlotPosition, UserId, VoteId, VoterKey};
use aimoviez::domain::tally::MerkleHash;
use aimoviez::domain::vote::VoteType;
use aimoviez::store::Store;
use aimoviez::store::tally::ProofLookup;
use aimoviez::store::writer::{
    self, AdvanceOutcome, AdvanceTrigger, CastRequest, DemoSeed, WriteError, WriterHandle, WriterSettings,
};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use peakmem_alloc::{INSTRUMENTED_SYSTEM, PeakMemAlloc, PeakMemAllocTrait};

mod common;
use common::SplitMix;

/// Every allocation is counted, so the export's heap peak can be read.
#[global_allocator]
static ALLOCATOR: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

const DAY_SECS: u64 = 86_400;
/// The slot's window: far longer than building takes.
const WINDOW_SECS: u64 = 14 * DAY_SECS;
/// Votes in flight towards the writer while building.
const IN_FLIGHT: usize = 8_192;
/// Votes each voter casts, on distinct clips.
const VOTES_PER_VOTER: u64 = 10;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.replace('_', "").parse().ok()).unwrap_or(default)
}

/// One store with its writer, whose clock the bench moves.
struct Slot {
    votes: u64,
    store: Store,
    handle: WriterHandle,
    thread: Option<writer::WriterThread>,
    clock: Arc<AtomicI64>,
    season: SeasonId,
    _dir: tempfile::TempDir,
}

/// The `index`-th vote: voters take turns, each voting on distinct clips (997
/// is prime, so `turn * 997` differs modulo the clip count); one voter in 50
/// casts its first vote as a super, one in 100 its second as a mega.
fn nth_vote(index: u64, voters: u64, clips: u64) -> CastRequest {
    let (voter, turn) = (index % voters, index / voters);
    let clip = (voter.wrapping_mul(7_919) + turn * 997) % clips + 1;
    let vote_type = match turn {
        0 if voter.is_multiple_of(50) => VoteType::Super,
        1 if voter.is_multiple_of(100) => VoteType::Mega,
        _ => VoteType::Standard,
    };
    let mut random = SplitMix(voter);
    let mut fingerprint = [0u8; 16];
    fingerprint[..8].copy_from_slice(&random.next().to_le_bytes());
    fingerprint[8..].copy_from_slice(&random.next().to_le_bytes());
    CastRequest {
        voter: VoterKey::device(fingerprint),
        clip: ClipId::new(clip).expect("nonzero"),
        vote_type,
        network: voter,
    }
}

fn build(runtime: &tokio::runtime::Runtime, votes: u64, clips: u64) -> Slot {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("aimoviez.redb"), 256 << 20).expect("store");
    let clock = Arc::new(AtomicI64::new(Timestamp::now().millis()));
    let writer_clock = clock.clone();
    let settings = WriterSettings {
        batch_max: 4_096,
        queue_capacity: IN_FLIGHT * 2,
        daily_budget: 200,
        clock: Arc::new(move || Timestamp::from_millis(writer_clock.load(Ordering::Relaxed))),
    };
    let (handle, thread) = writer::start(&store, settings, Box::new(|_| {})).expect("writer");
    let voters = votes.div_ceil(VOTES_PER_VOTER).max(1);
    let accepted = runtime.block_on(async {
        let seed = DemoSeed::placeholder("Tally", 75, WINDOW_SECS, clips);
        assert!(handle.seed_demo(seed).await.expect("seeded"), "a fresh dir is seeded");
        let mut in_flight = FuturesUnordered::new();
        let (mut accepted, mut next) = (0u64, 0u64);
        let mut last_report = Instant::now();
        while next < votes || !in_flight.is_empty() {
            while next < votes && in_flight.len() < IN_FLIGHT {
                let (handle, request) = (handle.clone(), nth_vote(next, voters, clips));
                in_flight.push(async move {
                    loop {
                        match handle.cast_vote(request.clone()).await {
                            Err(WriteError::Unavailable) => tokio::task::yield_now().await,
                            other => return other.is_ok(),
                        }
                    }
                });
                next += 1;
            }
            if let Some(true) = in_flight.next().await {
                accepted += 1;
            }
            if last_report.elapsed() > Duration::from_secs(30) {
                eprintln!("  built {accepted} votes in {:.0} s", started.elapsed().as_secs_f64());
                last_report = Instant::now();
            }
        }
        accepted
    });
    let season = store.active_snapshot().expect("snapshot").season.expect("active season").id;
    eprintln!("slot with {accepted} of {votes} votes built in {:.1} s", started.elapsed().as_secs_f64());
    Slot { votes: accepted, store, handle, thread: Some(thread), clock, season, _dir: dir }
}

const FIRST: SlotPosition = SlotPosition::FIRST;

impl Slot {
    /// Locks slot 1 as the scheduler does (its window ended), timing the
    /// writer's answer: the transaction, the freeze in it and its commit.
    /// Returns the wall time and the CPU time the process spent meanwhile
    /// (the writer thread's work; on a loaded machine the wall time also
    /// counts the time other processes held the cores).
    fn lock(&self, runtime: &tokio::runtime::Runtime) -> (Duration, Duration) {
        self.clock.fetch_add((WINDOW_SECS + DAY_SECS) as i64 * 1_000, Ordering::Relaxed);
        let trigger = AdvanceTrigger::WindowEnded { season: self.season, position: FIRST };
        let (started, cpu) = (Instant::now(), process_cpu());
        let outcome = runtime.block_on(self.handle.advance(trigger)).expect("advance");
        let took = (started.elapsed(), process_cpu().saturating_sub(cpu));
        assert!(matches!(outcome, AdvanceOutcome::Locked { .. }), "slot 1 locks: {outcome:?}");
        took
    }

    /// Unlocks slot 1 again (drops the frozen tally), timed the same way.
    fn unlock(&self, runtime: &tokio::runtime::Runtime) -> Duration {
        let actor = UserId::new(1).expect("nonzero");
        let started = Instant::now();
        runtime.block_on(self.handle.unlock_slot(actor, FIRST)).expect("unlock");
        started.elapsed()
    }

    fn root(&self) -> MerkleHash {
        self.store.tally_head(self.season, FIRST).expect("head").expect("locked with a tally").root
    }

    /// Streams the export through a sink that only counts; returns the time,
    /// the bytes, the heap's peak above its level before, and every
    /// `stride`-th vote id.
    fn export(&self, stride: u64) -> (Duration, u64, usize, Vec<VoteId>) {
        let root = self.root();
        let (mut bytes, mut lines, mut sampled) = (0u64, 0u64, Vec::new());
        ALLOCATOR.reset_peak_memory();
        let base = ALLOCATOR.get_peak_memory();
        let started = Instant::now();
        self.store
            .tally_export(self.season, FIRST, &root, |chunk| {
                bytes += chunk.len() as u64;
                for line in chunk.split(|b| *b == b'\n').filter(|line| !line.is_empty()) {
                    if lines.is_multiple_of(stride) {
                        sampled.push(vote_id_of(line));
                    }
                    lines += 1;
                }
                true
            })
            .expect("export");
        let took = started.elapsed();
        let peak = ALLOCATOR.get_peak_memory().saturating_sub(base);
        assert_eq!(lines, self.votes, "the export holds every vote");
        (took, bytes, peak.saturating_sub(sampled.capacity() * size_of::<VoteId>()), sampled)
    }

    /// Median time of one proof and the longest audit path, over `ids`.
    fn proofs(&self, ids: &[VoteId]) -> (Duration, usize) {
        let mut times = Vec::with_capacity(ids.len());
        let mut longest = 0;
        for id in ids {
            let started = Instant::now();
            let proof = self.store.tally_proof(self.season, FIRST, *id).expect("proof");
            times.push(started.elapsed());
            let ProofLookup::Found(proof) = proof else { panic!("vote {id:?} has a proof") };
            longest = longest.max(proof.audit_path.len());
        }
        times.sort();
        (times.get(times.len() / 2).copied().unwrap_or_default(), longest)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            thread.stop();
        }
    }
}

/// The `voteId` of a canonical line (`{"voteId":17,...`).
fn vote_id_of(line: &[u8]) -> VoteId {
    let digits: String =
        line.iter().skip(b"{\"voteId\":".len()).take_while(|b| b.is_ascii_digit()).map(|b| char::from(*b)).collect();
    VoteId::new(digits.parse().expect("a vote id")).expect("nonzero")
}

/// CPU time (user + system) this process has used, from `/proc/self/stat`
/// (10 ms resolution); zero where there is no `/proc`.
fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return Duration::ZERO };
    // Fields after the parenthesised command name: utime and stime are the
    // 12th and 13th (fields 14 and 15 of the whole line), in clock ticks.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = fields.get(11..13).map_or(0, |both| both.iter().filter_map(|t| t.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10)
}

fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() {
    let votes = env_or("BENCH_TALLY_VOTES", 1_000_000);
    let small = env_or("BENCH_TALLY_SMALL_VOTES", 1_000);
    let locks = env_or("BENCH_TALLY_LOCKS", 3).max(1);
    let proofs = env_or("BENCH_TALLY_PROOFS", 200).max(1);
    let clips = env_or("BENCH_TALLY_CLIPS", 1_000).max(VOTES_PER_VOTER);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    println!("tally bench: slots of 0, {small} and {votes} votes on {clips} clips, {locks} locks each");
    let slots: Vec<Slot> = [0, small, votes].into_iter().map(|n| build(&runtime, n, clips)).collect();

    // Rounds visit every slot in turn, so all sizes see the same machine load.
    let mut lock_times = vec![Vec::new(); slots.len()];
    let mut lock_cpu = vec![Vec::new(); slots.len()];
    let mut unlock_times = vec![Vec::new(); slots.len()];
    for round in 0..locks {
        for (n, slot) in slots.iter().enumerate() {
            if round > 0 {
                unlock_times[n].push(slot.unlock(&runtime));
            }
            let (wall, cpu) = slot.lock(&runtime);
            lock_times[n].push(wall);
            lock_cpu[n].push(cpu);
        }
    }
    let list = |values: &[Duration]| values.iter().map(|d| format!("{:.1}", ms(*d))).collect::<Vec<_>>().join(", ");
    let medians: Vec<Duration> = lock_times.iter().map(|times| median(times)).collect();
    let cpu_medians: Vec<Duration> = lock_cpu.iter().map(|times| median(times)).collect();
    println!();
    println!(
        "| slot votes | lock runs (ms) | median lock ms | added by the freeze (ms, vs 0 votes) | lock CPU runs (ms) | \
         median lock CPU ms | unlock runs (ms) |"
    );
    println!("|---:|---|---:|---:|---|---:|---|");
    for (n, slot) in slots.iter().enumerate() {
        println!(
            "| {} | {} | {:.1} | {:+.1} | {} | {:.0} | {} |",
            slot.votes,
            list(&lock_times[n]),
            ms(medians[n]),
            ms(medians[n]) - ms(medians[0]),
            list(&lock_cpu[n]),
            ms(cpu_medians[n]),
            list(&unlock_times[n])
        );
    }
    let last = slots.len() - 1;
    println!();
    println!(
        "freezing {} votes adds {:.3} s to the locking transaction (median {:.1} ms vs {:.1} ms with no votes; \
         CPU {:.0} ms vs {:.0} ms)",
        slots[last].votes,
        (ms(medians[last]) - ms(medians[0])) / 1000.0,
        ms(medians[last]),
        ms(medians[0]),
        ms(cpu_medians[last]),
        ms(cpu_medians[0]),
    );

    println!();
    println!(
        "| slot votes | export s | export MB | lines/s | heap peak during export | proofs | median proof µs | longest audit path |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for slot in &slots {
        let stride = (slot.votes / proofs).max(1);
        let (took, bytes, peak, ids) = slot.export(stride);
        let (proof, path) = slot.proofs(&ids);
        println!(
            "| {} | {:.3} | {:.1} | {:.0} | {} KiB | {} | {:.1} | {} |",
            slot.votes,
            took.as_secs_f64(),
            bytes as f64 / 1e6,
            slot.votes as f64 / took.as_secs_f64().max(1e-9),
            peak / 1024,
            ids.len(),
            proof.as_secs_f64() * 1e6,
            path
        );
    }
}
