//! View counting off the response path.
//!
//! The feed (`GET /api/vote`) records which clips it showed to which voter.
//! A showing counts as a view only the first time a voter sees a clip in a
//! slot, so reloading the feed cannot pump a clip's view count. Views are not
//! transactional facts: they are added to sharded in-memory counters and a
//! background flusher drains them into storage every few seconds, one write
//! per clip per flush, so a popular clip is never a hot row. A crash may lose
//! the last seconds of views, never a vote.
//!
//! Both halves are bounded and cheap:
//!
//! - **Seen-sets** (which clips each voter was shown in the current slot) live
//!   in hash-sharded, two-generation maps. When a shard's current generation
//!   fills up, the previous generation is dropped and the current one becomes
//!   the previous; a voter found in the previous generation is moved back into
//!   the current one. The least recently active voters are therefore evicted
//!   first, and at most `max_voters` voters are tracked in total. Each
//!   seen-set holds at most [`SEEN_CAP`] clips.
//! - **Pending counts** live in `2 × available_parallelism` (at least 4)
//!   shards, each a small mutex-protected map. A thread always uses the same
//!   shard (a per-thread index handed out round-robin), so concurrent feed
//!   requests on different worker threads rarely contend.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

/// Most clips remembered per voter and slot. Showings beyond it are neither
/// remembered nor counted, so one voter can never add more than this many
/// views to a slot.
pub const SEEN_CAP: usize = 1_000;

/// Hands out per-thread shard indices round-robin.
static NEXT_THREAD_INDEX: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard index, fixed for the thread's lifetime.
    static THREAD_INDEX: usize = NEXT_THREAD_INDEX.fetch_add(1, Ordering::Relaxed);
}

/// The calling thread's stable shard hint.
fn thread_index() -> usize {
    THREAD_INDEX.with(|index| *index)
}

/// How many counter shards to use: twice the available parallelism, at
/// least 4.
fn shard_count() -> usize {
    let parallelism = std::thread::available_parallelism().map_or(1, |n| n.get());
    parallelism.saturating_mul(2).max(4)
}

/// The clips one voter was shown in one slot.
#[derive(Debug)]
struct SeenSet {
    /// The slot these clips belong to; a different slot resets the set.
    slot: u64,
    /// Clips shown, at most [`SEEN_CAP`].
    clips: HashSet<u64>,
}

/// One shard of seen-sets: two generations of voters.
#[derive(Debug, Default)]
struct SeenShard {
    /// Voters active since the last rotation.
    current: HashMap<Box<str>, SeenSet>,
    /// Voters active in the generation before; evicted at the next rotation.
    previous: HashMap<Box<str>, SeenSet>,
}

impl SeenShard {
    /// The voter's seen-set, moved into (or created in) the current
    /// generation. Rotates first when the current generation is full. Always
    /// `Some`; the `Option` only spares a second lookup path.
    fn touch(&mut self, voter: &str, generation_cap: usize) -> Option<&mut SeenSet> {
        if !self.current.contains_key(voter) {
            let (key, set) = self
                .previous
                .remove_entry(voter)
                .unwrap_or_else(|| (Box::from(voter), SeenSet { slot: 0, clips: HashSet::new() }));
            if self.current.len() >= generation_cap {
                self.previous = std::mem::take(&mut self.current);
            }
            self.current.insert(key, set);
        }
        self.current.get_mut(voter)
    }

    /// The voter's seen-set in either generation, without moving it.
    fn get(&self, voter: &str) -> Option<&SeenSet> {
        self.current.get(voter).or_else(|| self.previous.get(voter))
    }

    /// Voters held in both generations.
    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

/// Which clips each voter has already been shown in the current slot, and
/// view counts not yet flushed to storage.
pub struct ViewTracker {
    /// Seen-sets, sharded by a hash of the voter key.
    seen: Box<[Mutex<SeenShard>]>,
    /// Voters per generation in one seen shard.
    generation_cap: usize,
    /// Hashes voter keys to pick a seen shard (randomly seeded, so voter keys
    /// chosen by a client cannot pile onto one shard).
    hasher: RandomState,
    /// Pending view counts per clip, sharded by thread.
    pending: Box<[Mutex<HashMap<u64, u64>>]>,
}

impl ViewTracker {
    /// A tracker remembering at most `max_voters` voters (values below 2 are
    /// raised to 2), evicting the least recently active first.
    pub fn new(max_voters: usize) -> Self {
        let max_voters = max_voters.max(2);
        let shards = shard_count();
        // Every seen shard holds two generations of at least one voter each,
        // so use fewer shards when the bound is tiny.
        let seen_shards = shards.min(max_voters / 2).max(1);
        let generation_cap = (max_voters / seen_shards / 2).max(1);
        ViewTracker {
            seen: (0..seen_shards).map(|_| Mutex::new(SeenShard::default())).collect(),
            generation_cap,
            hasher: RandomState::new(),
            pending: (0..shards).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// The seen shard that owns `voter`.
    fn seen_shard(&self, voter: &str) -> &Mutex<SeenShard> {
        // The modulo keeps the index below `seen.len()`, which is at least 1.
        let index = (self.hasher.hash_one(voter) as usize) % self.seen.len();
        &self.seen[index]
    }

    /// Records that `voter` (an opaque key) was shown `clips` in slot `slot`
    /// (an opaque slot id). Only the first showing of a clip to a voter in a
    /// slot counts as a view; the new views are added to the pending counts
    /// and returned (the feed's ranking counts them too). Cheap enough for
    /// the feed path: two short lock holds, no I/O.
    pub fn record_shown(&self, voter: &str, slot: u64, clips: &[u64]) -> Vec<u64> {
        if clips.is_empty() {
            return Vec::new();
        }
        let mut fresh = Vec::with_capacity(clips.len());
        {
            let mut shard = self.seen_shard(voter).lock();
            let Some(set) = shard.touch(voter, self.generation_cap) else {
                return fresh;
            };
            if set.slot != slot {
                set.slot = slot;
                set.clips.clear();
            }
            for &clip in clips {
                if set.clips.len() >= SEEN_CAP {
                    break;
                }
                if set.clips.insert(clip) {
                    fresh.push(clip);
                }
            }
        }
        if fresh.is_empty() {
            return fresh;
        }
        let index = thread_index() % self.pending.len();
        let mut counts = self.pending[index].lock();
        for &clip in &fresh {
            *counts.entry(clip).or_insert(0) += 1;
        }
        fresh
    }

    /// The clips `voter` was shown in slot `slot` (at most [`SEEN_CAP`]): the
    /// feed checks each candidate against this copy instead of asking per
    /// clip under the shard's lock.
    pub fn seen_clips(&self, voter: &str, slot: u64) -> HashSet<u64> {
        let shard = self.seen_shard(voter).lock();
        match shard.get(voter) {
            Some(set) if set.slot == slot => set.clips.clone(),
            _ => HashSet::new(),
        }
    }

    /// Takes and resets all pending counts, merged across shards, as
    /// `(clip, delta)` pairs sorted by clip. The flusher writes them to
    /// storage every few seconds.
    pub fn drain(&self) -> Vec<(u64, u64)> {
        let mut merged: HashMap<u64, u64> = HashMap::new();
        for shard in &self.pending {
            let taken = std::mem::take(&mut *shard.lock());
            for (clip, delta) in taken {
                *merged.entry(clip).or_insert(0) += delta;
            }
        }
        let mut out: Vec<(u64, u64)> = merged.into_iter().collect();
        out.sort_unstable_by_key(|&(clip, _)| clip);
        out
    }

    /// How many voters' seen-sets are currently held.
    pub fn tracked_voters(&self) -> usize {
        self.seen.iter().map(|shard| shard.lock().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn total(drained: &[(u64, u64)]) -> u64 {
        drained.iter().map(|&(_, delta)| delta).sum()
    }

    #[test]
    fn shard_count_is_at_least_four() {
        assert!(shard_count() >= 4);
        assert_eq!(ViewTracker::new(100).pending.len(), shard_count());
    }

    #[test]
    fn a_voter_counts_once_per_clip() {
        let tracker = ViewTracker::new(100);
        tracker.record_shown("alice", 1, &[10]);
        tracker.record_shown("alice", 1, &[10]);
        assert_eq!(tracker.drain(), vec![(10, 1)]);

        tracker.record_shown("alice", 1, &[10]);
        tracker.record_shown("bob", 1, &[10]);
        assert_eq!(tracker.drain(), vec![(10, 1)], "alice's repeat is not a view, bob's first is");
    }

    #[test]
    fn two_voters_make_two_views() {
        let tracker = ViewTracker::new(100);
        tracker.record_shown("alice", 1, &[10, 11]);
        tracker.record_shown("alice", 1, &[10]);
        tracker.record_shown("bob", 1, &[10]);
        assert_eq!(tracker.drain(), vec![(10, 2), (11, 1)]);
    }

    #[test]
    fn duplicates_within_one_call_count_once() {
        let tracker = ViewTracker::new(100);
        tracker.record_shown("alice", 1, &[10, 10, 10]);
        assert_eq!(tracker.drain(), vec![(10, 1)]);
    }

    #[test]
    fn seen_clips_reflect_record_shown_and_the_counts_wait_for_the_drain() {
        let tracker = ViewTracker::new(100);
        assert!(tracker.seen_clips("alice", 1).is_empty());
        assert_eq!(tracker.record_shown("alice", 1, &[10, 12]), vec![10, 12], "first showings are views");
        assert_eq!(tracker.record_shown("bob", 1, &[10]), vec![10]);
        assert_eq!(tracker.record_shown("alice", 1, &[12]), Vec::<u64>::new(), "a repeat is not");
        assert_eq!(tracker.seen_clips("alice", 1), HashSet::from([10, 12]));
        assert_eq!(tracker.seen_clips("bob", 1), HashSet::from([10]));
        assert!(tracker.seen_clips("alice", 2).is_empty(), "another slot");
        assert!(tracker.seen_clips("carol", 1).is_empty());
        assert!(tracker.record_shown("alice", 1, &[]).is_empty());
        assert_eq!(tracker.drain(), vec![(10, 2), (12, 1)]);
        assert!(tracker.drain().is_empty(), "a drain takes the counts");
        assert_eq!(tracker.seen_clips("alice", 1), HashSet::from([10, 12]), "seen-sets survive a drain");
    }

    #[test]
    fn a_new_slot_resets_seen() {
        let tracker = ViewTracker::new(100);
        tracker.record_shown("alice", 1, &[10]);
        assert!(tracker.seen_clips("alice", 2).is_empty());

        tracker.record_shown("alice", 2, &[10]);
        assert_eq!(tracker.seen_clips("alice", 2), HashSet::from([10]));
        assert!(tracker.seen_clips("alice", 1).is_empty(), "only the latest slot is remembered");
        assert_eq!(tracker.drain(), vec![(10, 2)], "a new slot counts a new view");
    }

    #[test]
    fn drain_merges_and_resets() {
        let tracker = Arc::new(ViewTracker::new(1_000));
        // Record from several threads so counts land in several shards.
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let tracker = Arc::clone(&tracker);
                std::thread::spawn(move || tracker.record_shown(&format!("voter-{t}"), 1, &[7, 8]))
            })
            .collect();
        for handle in handles {
            assert!(handle.join().is_ok());
        }
        tracker.record_shown("main", 1, &[7]);
        assert_eq!(tracker.drain(), vec![(7, 5), (8, 4)]);
        assert!(tracker.drain().is_empty());
        // Seen-sets survive a drain.
        tracker.record_shown("main", 1, &[7]);
        assert!(tracker.drain().is_empty());
    }

    #[test]
    fn concurrent_recording_loses_nothing() {
        const THREADS: usize = 8;
        const CALLS: usize = 10_000;
        let clips = [1_u64, 2, 3];
        let tracker = Arc::new(ViewTracker::new(THREADS * CALLS));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let tracker = Arc::clone(&tracker);
                std::thread::spawn(move || {
                    for i in 0..CALLS {
                        tracker.record_shown(&format!("voter-{t}-{i}"), 42, &clips);
                    }
                })
            })
            .collect();
        for handle in handles {
            assert!(handle.join().is_ok());
        }
        let drained = tracker.drain();
        assert_eq!(total(&drained), (THREADS * CALLS * clips.len()) as u64);
        assert_eq!(drained, vec![(1, 80_000), (2, 80_000), (3, 80_000)]);
    }

    #[test]
    fn voters_are_bounded_and_recent_ones_kept() {
        let max_voters = 500;
        let tracker = ViewTracker::new(max_voters);
        for i in 0..10 * max_voters {
            tracker.record_shown(&format!("voter-{i}"), 1, &[1, 2]);
            assert!(tracker.tracked_voters() <= max_voters);
        }
        assert!(tracker.tracked_voters() >= max_voters / 4, "eviction is not wholesale");
        let last = format!("voter-{}", 10 * max_voters - 1);
        assert_eq!(tracker.seen_clips(&last, 1), HashSet::from([1, 2]));
        assert_eq!(total(&tracker.drain()), (10 * max_voters * 2) as u64);
    }

    #[test]
    fn an_active_voter_survives_rotation() {
        let tracker = ViewTracker::new(64);
        tracker.record_shown("regular", 1, &[1]);
        for i in 0..640 {
            tracker.record_shown(&format!("drive-by-{i}"), 1, &[2]);
            // The regular keeps coming back, so stays in a recent generation.
            tracker.record_shown("regular", 1, &[1]);
        }
        assert_eq!(tracker.seen_clips("regular", 1), HashSet::from([1]));
        assert_eq!(tracker.drain(), vec![(1, 1), (2, 640)]);
    }

    #[test]
    fn tiny_bounds_still_hold() {
        for max_voters in [0, 1, 2, 3, 7] {
            let tracker = ViewTracker::new(max_voters);
            for i in 0..50 {
                tracker.record_shown(&format!("v{i}"), 1, &[1]);
                assert!(tracker.tracked_voters() <= max_voters.max(2));
            }
        }
    }

    #[test]
    fn seen_set_is_capped() {
        let tracker = ViewTracker::new(10);
        let clips: Vec<u64> = (0..(SEEN_CAP as u64 + 500)).collect();
        tracker.record_shown("alice", 1, &clips);
        tracker.record_shown("alice", 1, &clips);
        assert_eq!(total(&tracker.drain()), SEEN_CAP as u64);
    }
}
