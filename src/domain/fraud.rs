//! Vote fraud signals. Every accepted vote gets a risk score from 0 to 100 and
//! the reasons behind it; a vote whose score reaches the flag threshold is
//! stored `flagged` (still counted) so an admin can review and void it.
//!
//! The rules are pure: the writer feeds each accepted vote (voter key, opaque
//! network id, time) into a [`FraudTracker`] that lives in the single writer
//! thread, and gets a [`Risk`] back. No clocks, no I/O, no randomness: the same
//! sequence of votes always gives the same risks.
//!
//! Weights are chosen so one reason alone never flags a vote (the largest is
//! 40, below [`DEFAULT_FLAG_THRESHOLD`] = 50) but any two do (the smallest
//! pair is 20 + 30 = 50). A scripted burst from one voter trips
//! [`RiskReason::Velocity`] and [`RiskReason::FastVoting`] together (70).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::clock::Timestamp;

/// Votes at or above this score are flagged unless config says otherwise.
pub const DEFAULT_FLAG_THRESHOLD: u8 = 50;

/// The sliding window [`RiskReason::Velocity`] counts votes in: 60 s.
pub const VELOCITY_WINDOW_MS: i64 = 60_000;
/// [`RiskReason::Velocity`] fires on the vote that makes this many votes by one
/// voter inside [`VELOCITY_WINDOW_MS`] (a human watching 8-second clips casts at
/// most 8).
pub const VELOCITY_MIN_VOTES: usize = 10;

/// A gap below this since the voter's previous vote is faster than a clip can
/// be watched: 1.5 s.
pub const FAST_GAP_MS: i64 = 1_500;
/// [`RiskReason::FastVoting`] fires when this vote is fast and at least this
/// many of the voter's recent gaps (this one included, at most the last
/// `RECENT_VOTES - 1`) are fast.
pub const FAST_MIN_GAPS: usize = 3;

/// The sliding window [`RiskReason::ManyVotersPerNetwork`] counts distinct
/// voters of one network in: one hour.
pub const NETWORK_WINDOW_MS: i64 = 3_600_000;
/// [`RiskReason::ManyVotersPerNetwork`] fires when more than this many distinct
/// voters voted from one network inside [`NETWORK_WINDOW_MS`].
pub const NETWORK_MAX_VOTERS: usize = 20;

/// A voter key first seen less than this long ago is a new identity: 2 min.
pub const NEW_IDENTITY_AGE_MS: i64 = 120_000;
/// The sliding window a new identity's burst is counted in: 30 s.
pub const NEW_IDENTITY_WINDOW_MS: i64 = 30_000;
/// [`RiskReason::NewIdentityBurst`] fires when a new identity casts this many
/// votes inside [`NEW_IDENTITY_WINDOW_MS`].
pub const NEW_IDENTITY_MIN_VOTES: usize = 5;

/// How many of its latest vote times each voter keeps: enough for every
/// per-voter rule above.
const RECENT_VOTES: usize = VELOCITY_MIN_VOTES;

/// Why a vote looks risky. Each reason has a stable wire name and a stable
/// storage bit, so stored flags survive reordering of this enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RiskReason {
    /// The voter cast [`VELOCITY_MIN_VOTES`] or more votes within
    /// [`VELOCITY_WINDOW_MS`]. Weight 40.
    Velocity,
    /// The voter keeps voting faster than a clip can be watched: less than
    /// [`FAST_GAP_MS`] between votes, [`FAST_MIN_GAPS`] times recently. Weight 30.
    FastVoting,
    /// More than [`NETWORK_MAX_VOTERS`] distinct voter keys voted from this
    /// network (IPv4 /24 or IPv6 /48) within [`NETWORK_WINDOW_MS`]. Weight 30.
    ManyVotersPerNetwork,
    /// A voter key first seen less than [`NEW_IDENTITY_AGE_MS`] ago cast
    /// [`NEW_IDENTITY_MIN_VOTES`] votes within [`NEW_IDENTITY_WINDOW_MS`]. Weight 20.
    NewIdentityBurst,
}

impl RiskReason {
    /// Every reason, in the order [`Risk::reasons`] lists them.
    pub const ALL: [RiskReason; 4] =
        [RiskReason::Velocity, RiskReason::FastVoting, RiskReason::ManyVotersPerNetwork, RiskReason::NewIdentityBurst];

    /// Score points this reason adds.
    pub fn weight(self) -> u8 {
        match self {
            RiskReason::Velocity => 40,
            RiskReason::FastVoting => 30,
            RiskReason::ManyVotersPerNetwork => 30,
            RiskReason::NewIdentityBurst => 20,
        }
    }

    /// The wire name (snake_case, stable).
    pub fn as_str(self) -> &'static str {
        match self {
            RiskReason::Velocity => "velocity",
            RiskReason::FastVoting => "fast_voting",
            RiskReason::ManyVotersPerNetwork => "many_voters_per_network",
            RiskReason::NewIdentityBurst => "new_identity_burst",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        RiskReason::ALL.into_iter().find(|reason| reason.as_str() == text)
    }

    /// The storage bit mask of this reason (exactly one bit set, stable).
    pub fn bit(self) -> u8 {
        match self {
            RiskReason::Velocity => 1,
            RiskReason::FastVoting => 1 << 1,
            RiskReason::ManyVotersPerNetwork => 1 << 2,
            RiskReason::NewIdentityBurst => 1 << 3,
        }
    }

    /// Packs reasons into stored bits (the union of their [`RiskReason::bit`]s).
    pub fn to_bits(reasons: &[RiskReason]) -> u16 {
        reasons.iter().fold(0, |bits, reason| bits | u16::from(reason.bit()))
    }

    /// Unpacks stored bits into reasons, in [`RiskReason::ALL`] order. Unknown
    /// bits are ignored.
    pub fn from_bits(bits: u16) -> Vec<RiskReason> {
        RiskReason::ALL.into_iter().filter(|reason| bits & u16::from(reason.bit()) != 0).collect()
    }
}

/// The risk of one vote: a score from 0 to 100 and the reasons behind it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Risk {
    /// Sum of the reasons' weights, capped at 100.
    pub score: u8,
    /// Why, in [`RiskReason::ALL`] order, without repeats.
    pub reasons: Vec<RiskReason>,
}

impl Risk {
    /// The risk these reasons add up to (for example when reading stored bits
    /// back). Repeats are dropped and the order is normalised.
    pub fn from_reasons(reasons: &[RiskReason]) -> Self {
        let reasons = RiskReason::from_bits(RiskReason::to_bits(reasons));
        let score = reasons.iter().fold(0u8, |sum, reason| sum.saturating_add(reason.weight())).min(100);
        Self { score, reasons }
    }

    /// Whether the vote is flagged for admin review at this threshold.
    pub fn flagged(&self, threshold: u8) -> bool {
        self.score >= threshold
    }

    /// The reasons packed into stored bits.
    pub fn reason_bits(&self) -> u16 {
        RiskReason::to_bits(&self.reasons)
    }
}

/// Bounded, deterministic memory of recent voting activity, kept by the single
/// writer thread (no locks).
///
/// Voters are keyed by a 64-bit blake3 digest of the voter key, networks by
/// the caller's opaque network id. Per voter it keeps the first-seen time and
/// the times of the last few votes in a fixed ring; per network the distinct
/// voters of the last hour, capped at `NETWORK_MAX_VOTERS + 1` entries.
///
/// Eviction: each of the two tables is a pair of generations (`current`,
/// `previous`), each holding at most half the capacity. A touched entry moves
/// into `current`; when `current` is full and a new key arrives, `previous` is
/// discarded and `current` becomes `previous`. So entries not active during
/// the last full generation are forgotten first (approximate least recently
/// active), the cost is O(1) amortized, and the outcome depends only on the
/// order of votes. `tracked_voters() <= max(max_voters, 2)` and
/// `tracked_networks() <= max(max_networks, 2)` always hold. A forgotten voter
/// that comes back looks new again.
#[derive(Debug)]
pub struct FraudTracker {
    voters: Generations<VoterState>,
    networks: Generations<NetworkState>,
}

impl FraudTracker {
    /// A tracker remembering at most `max_voters` voters and `max_networks`
    /// networks (each raised to at least 2).
    pub fn new(max_voters: usize, max_networks: usize) -> Self {
        Self { voters: Generations::new(max_voters), networks: Generations::new(max_networks) }
    }

    /// Records one ACCEPTED vote by `voter` (an opaque string key) from
    /// `network` at `now` and returns its risk.
    pub fn assess_vote(&mut self, voter: &str, network: u64, now: Timestamp) -> Risk {
        let now = now.millis();
        let voter_id = voter_digest(voter);
        let state = self.voters.touch(voter_id, || VoterState::new(now));
        state.record(now);
        let velocity = state.votes_within(now, VELOCITY_WINDOW_MS) >= VELOCITY_MIN_VOTES;
        let fast = state.voting_fast();
        let new_burst = now.saturating_sub(state.first_seen) < NEW_IDENTITY_AGE_MS
            && state.votes_within(now, NEW_IDENTITY_WINDOW_MS) >= NEW_IDENTITY_MIN_VOTES;
        let many_voters =
            self.networks.touch(network, NetworkState::default).record(voter_id, now) > NETWORK_MAX_VOTERS;

        let mut reasons = Vec::new();
        for (present, reason) in [
            (velocity, RiskReason::Velocity),
            (fast, RiskReason::FastVoting),
            (many_voters, RiskReason::ManyVotersPerNetwork),
            (new_burst, RiskReason::NewIdentityBurst),
        ] {
            if present {
                reasons.push(reason);
            }
        }
        Risk::from_reasons(&reasons)
    }

    /// How many voters are remembered now.
    pub fn tracked_voters(&self) -> usize {
        self.voters.len()
    }

    /// How many networks are remembered now.
    pub fn tracked_networks(&self) -> usize {
        self.networks.len()
    }
}

/// A stable 64-bit digest of a voter key (the first 8 bytes of its blake3 hash).
fn voter_digest(voter: &str) -> u64 {
    let hash = blake3::hash(voter.as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_le_bytes(head)
}

/// One voter's recent activity.
#[derive(Debug, Clone)]
struct VoterState {
    /// When this voter key was first seen (or first seen again after eviction).
    first_seen: i64,
    /// Ring of the latest vote times, in milliseconds.
    recent: [i64; RECENT_VOTES],
    /// How many ring slots hold a time.
    len: usize,
    /// The ring slot the next time goes into.
    next: usize,
}

impl VoterState {
    fn new(now: i64) -> Self {
        Self { first_seen: now, recent: [0; RECENT_VOTES], len: 0, next: 0 }
    }

    fn record(&mut self, now: i64) {
        self.recent[self.next] = now;
        self.next = (self.next + 1) % RECENT_VOTES;
        self.len = (self.len + 1).min(RECENT_VOTES);
    }

    /// Vote times, newest first.
    fn newest_first(&self) -> impl Iterator<Item = i64> + '_ {
        (1..=self.len).map(move |back| self.recent[(self.next + RECENT_VOTES - back) % RECENT_VOTES])
    }

    /// Votes remembered within `window` ms before `now`. A time after `now`
    /// (the clock stepped back) counts as inside.
    fn votes_within(&self, now: i64, window: i64) -> usize {
        self.newest_first().filter(|&at| now.saturating_sub(at) < window).count()
    }

    /// Whether the latest gap is fast and enough recent gaps are fast.
    fn voting_fast(&self) -> bool {
        let mut gaps = self
            .newest_first()
            .zip(self.newest_first().skip(1))
            .map(|(later, earlier)| later.saturating_sub(earlier) < FAST_GAP_MS);
        let latest_fast = gaps.next().unwrap_or(false);
        latest_fast && 1 + gaps.filter(|&fast| fast).count() >= FAST_MIN_GAPS
    }
}

/// The distinct voters one network had in the last hour, capped at
/// `NETWORK_MAX_VOTERS + 1` entries of (voter digest, last vote time).
#[derive(Debug, Clone, Default)]
struct NetworkState {
    voters: Vec<(u64, i64)>,
}

impl NetworkState {
    /// Records a vote and returns how many distinct voters (at most
    /// `NETWORK_MAX_VOTERS + 1`) voted within the window.
    fn record(&mut self, voter: u64, now: i64) -> usize {
        self.voters.retain(|&(_, last)| now.saturating_sub(last) < NETWORK_WINDOW_MS);
        if let Some(entry) = self.voters.iter_mut().find(|(id, _)| *id == voter) {
            entry.1 = entry.1.max(now);
        } else if self.voters.len() <= NETWORK_MAX_VOTERS {
            self.voters.push((voter, now));
        } else if let Some(oldest) = self.voters.iter_mut().min_by_key(|(_, last)| *last) {
            // Saturated: forget the voter seen longest ago; the count stays above the limit.
            *oldest = (voter, now);
        }
        self.voters.len()
    }
}

/// A bounded map from u64 keys that forgets the least recently touched keys,
/// a generation at a time (see [`FraudTracker`]).
#[derive(Debug)]
struct Generations<V> {
    current: HashMap<u64, V, BuildHasherDefault<MixHasher>>,
    previous: HashMap<u64, V, BuildHasherDefault<MixHasher>>,
    generation_cap: usize,
}

impl<V> Generations<V> {
    fn new(capacity: usize) -> Self {
        Self { current: HashMap::default(), previous: HashMap::default(), generation_cap: capacity.max(2) / 2 }
    }

    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// The entry for `key`, made with `make` if unknown, moved into the current
    /// generation.
    fn touch(&mut self, key: u64, make: impl FnOnce() -> V) -> &mut V {
        let promoted = self.previous.remove(&key);
        if !self.current.contains_key(&key) && self.current.len() >= self.generation_cap {
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.clear();
        }
        self.current.entry(key).or_insert_with(|| promoted.unwrap_or_else(make))
    }
}

/// A fixed (seedless) hasher for u64 keys: the splitmix64 finalizer. Keys are
/// blake3 digests or network ids, and a fixed hasher keeps the tracker free of
/// random state.
#[derive(Debug, Default, Clone, Copy)]
struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        let mut z = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = self.0.rotate_left(32) ^ value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const START: i64 = 1_700_000_000_000;

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_millis(START + millis)
    }

    #[test]
    fn weights_flag_any_two_reasons_but_never_one() {
        for reason in RiskReason::ALL {
            assert!(!Risk::from_reasons(&[reason]).flagged(DEFAULT_FLAG_THRESHOLD), "{reason:?}");
            for other in RiskReason::ALL.into_iter().filter(|other| *other != reason) {
                assert!(Risk::from_reasons(&[reason, other]).flagged(DEFAULT_FLAG_THRESHOLD));
            }
        }
        assert_eq!(Risk::from_reasons(&RiskReason::ALL).score, 100);
        assert_eq!(Risk::from_reasons(&[]), Risk::default());
    }

    #[test]
    fn a_human_pace_is_never_flagged() {
        let gaps_secs = [8, 13, 20, 9, 17, 11, 8, 19, 15, 10, 8, 12];
        let mut tracker = FraudTracker::new(1_000, 1_000);
        let mut now = 0;
        let mut votes = 0;
        for gap in gaps_secs.iter().cycle() {
            if now > 30 * 60_000 {
                break;
            }
            let risk = tracker.assess_vote("user:7", 42, at(now));
            assert!(!risk.flagged(DEFAULT_FLAG_THRESHOLD), "vote at {now} ms: {risk:?}");
            assert!(risk.reasons.is_empty(), "vote at {now} ms: {risk:?}");
            now += gap * 1_000;
            votes += 1;
        }
        assert!(votes > 100);
    }

    #[test]
    fn a_scripted_burst_is_flagged_by_the_tenth_vote() {
        let mut tracker = FraudTracker::new(1_000, 1_000);
        let risks: Vec<Risk> = (0..50).map(|i| tracker.assess_vote("bot", 9, at(i * 100))).collect();
        let first_flag = risks.iter().position(|risk| risk.flagged(DEFAULT_FLAG_THRESHOLD));
        assert!(first_flag.is_some_and(|index| index < 10), "{risks:?}");
        let tenth = &risks[9];
        assert!(tenth.reasons.contains(&RiskReason::Velocity), "{tenth:?}");
        assert!(tenth.reasons.contains(&RiskReason::FastVoting), "{tenth:?}");
        assert!(risks[9..].iter().all(|risk| risk.flagged(DEFAULT_FLAG_THRESHOLD)));
    }

    #[test]
    fn a_burst_from_an_old_identity_is_flagged_by_velocity_and_fast_voting_alone() {
        let mut tracker = FraudTracker::new(1_000, 1_000);
        tracker.assess_vote("veteran", 9, at(0));
        let risks: Vec<Risk> = (0..50).map(|i| tracker.assess_vote("veteran", 9, at(600_000 + i * 100))).collect();
        assert_eq!(risks[9].reasons, vec![RiskReason::Velocity, RiskReason::FastVoting]);
        assert_eq!(risks[9].score, 70);
        assert!(risks[9].flagged(DEFAULT_FLAG_THRESHOLD));
        // Before velocity, fast voting alone is not enough.
        assert_eq!(risks[3].reasons, vec![RiskReason::FastVoting]);
        assert!(!risks[3].flagged(DEFAULT_FLAG_THRESHOLD));
    }

    #[test]
    fn many_new_voters_from_one_network_are_marked_but_not_flagged_alone() {
        let mut tracker = FraudTracker::new(1_000, 1_000);
        let risks: Vec<Risk> = (0..40).map(|i| tracker.assess_vote(&format!("anon:{i}"), 77, at(i * 1_500))).collect();
        assert!(risks[..NETWORK_MAX_VOTERS].iter().all(|risk| risk.reasons.is_empty()));
        for risk in &risks[NETWORK_MAX_VOTERS..] {
            assert_eq!(risk.reasons, vec![RiskReason::ManyVotersPerNetwork]);
            assert_eq!(risk.score, 30);
            assert!(!risk.flagged(DEFAULT_FLAG_THRESHOLD));
        }
        // Combined with fast voting from that network (by a voter no longer new), it is flagged.
        let risks: Vec<Risk> = (0..4).map(|i| tracker.assess_vote("anon:0", 77, at(130_000 + i * 500))).collect();
        assert_eq!(risks[3].reasons, vec![RiskReason::FastVoting, RiskReason::ManyVotersPerNetwork]);
        assert!(risks[3].flagged(DEFAULT_FLAG_THRESHOLD));
        // Another network is unaffected, and the hour window expires.
        assert!(tracker.assess_vote("anon:0", 78, at(140_000)).reasons.is_empty());
        assert!(tracker.assess_vote("anon:1", 77, at(200_000 + NETWORK_WINDOW_MS)).reasons.is_empty());
    }

    #[test]
    fn memory_stays_bounded_and_keeps_active_voters() {
        let max = 100;
        let mut tracker = FraudTracker::new(max, max);
        for i in 0..(10 * max as i64) {
            tracker.assess_vote(&format!("voter:{i}"), i as u64, at(i * 10_000));
            tracker.assess_vote("steady", 1, at(i * 10_000 + 5_000));
            assert!(tracker.tracked_voters() <= max);
            assert!(tracker.tracked_networks() <= max);
        }
        assert!(tracker.tracked_voters() >= max / 2);
        let steady = voter_digest("steady");
        assert!(tracker.voters.current.contains_key(&steady) || tracker.voters.previous.contains_key(&steady));
        assert!(!tracker.voters.current.contains_key(&voter_digest("voter:0")));
        assert!(!tracker.voters.previous.contains_key(&voter_digest("voter:0")));
        let tiny = FraudTracker::new(0, 1);
        assert_eq!((tiny.voters.generation_cap, tiny.networks.generation_cap), (1, 1));
    }

    #[test]
    fn reason_bits_and_names_round_trip() {
        for reason in RiskReason::ALL {
            assert_eq!(reason.bit().count_ones(), 1);
            assert_eq!(RiskReason::from_bits(u16::from(reason.bit())), vec![reason]);
            assert_eq!(RiskReason::parse(reason.as_str()), Some(reason));
        }
        for bits in 0u16..16 {
            assert_eq!(RiskReason::to_bits(&RiskReason::from_bits(bits)), bits);
        }
        assert_eq!(RiskReason::from_bits(0xFFF0), Vec::<RiskReason>::new());
        let risk = Risk::from_reasons(&[RiskReason::NewIdentityBurst, RiskReason::Velocity]);
        assert_eq!(Risk::from_reasons(&RiskReason::from_bits(risk.reason_bits())), risk);
        assert_eq!(RiskReason::parse("Velocity"), None);
    }

    #[test]
    fn the_same_votes_give_the_same_risks() {
        let run = || {
            let mut tracker = FraudTracker::new(64, 4);
            (0..500i64)
                .map(|i| {
                    let voter = if i % 4 == 0 { format!("v{i}") } else { format!("v{}", i % 3) };
                    tracker.assess_vote(&voter, (i % 5) as u64, at(i * 400 + (i % 3) * 100))
                })
                .collect::<Vec<Risk>>()
        };
        let first = run();
        assert_eq!(first, run());
        assert!(first.iter().any(|risk| risk.flagged(DEFAULT_FLAG_THRESHOLD)));
        assert!(first.iter().any(|risk| !risk.flagged(DEFAULT_FLAG_THRESHOLD)));
    }

    proptest! {
        #[test]
        fn votes_at_least_eight_seconds_apart_are_never_flagged(
            voter in "[a-z0-9:]{1,20}",
            network in any::<u64>(),
            start in 0i64..4_000_000_000_000,
            gaps in proptest::collection::vec(8_000i64..600_000, 0..200),
        ) {
            let mut tracker = FraudTracker::new(16, 16);
            let mut now = start;
            prop_assert!(!tracker.assess_vote(&voter, network, Timestamp::from_millis(now)).flagged(DEFAULT_FLAG_THRESHOLD));
            for gap in gaps {
                now += gap;
                let risk = tracker.assess_vote(&voter, network, Timestamp::from_millis(now));
                prop_assert!(!risk.flagged(DEFAULT_FLAG_THRESHOLD), "{:?}", risk);
            }
        }
    }
}
