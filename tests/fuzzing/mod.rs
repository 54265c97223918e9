//! Parser fuzzing on stable Rust (cargo-fuzz needs nightly): real seeds
//! (the demo clips, a fragmented MP4, a MediaRecorder-style WebM, Range
//! headers, multipart bodies, cookies, captcha tokens, JSON bodies) mutated
//! the way libFuzzer mutates, fed to the hand-written parsers and the
//! extractors in front of them, and checked for three things:
//!
//! - no panic;
//! - no heap use beyond the bound each target documents (measured with a
//!   counting global allocator, so only one case may run at a time);
//! - no result outside the limits (a probed video longer than allowed, a
//!   range outside the file, a forged captcha accepted, a JSON array taken
//!   for an object, an error message that echoes the whole input…).
//!
//! `tests/fuzz.rs` runs a bounded number of cases per target under
//! proptest (CI); `benches/fuzz.rs` runs millions and prints executions and
//! findings (`FUZZ_CASES=10000000 cargo bench --bench fuzz`).
#![allow(dead_code)]

pub mod targets;

use std::alloc::System;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::{Duration, Instant};

use peakmem_alloc::{INSTRUMENTED_SYSTEM, PeakMemAlloc, PeakMemAllocTrait};

/// Every allocation of the binary is counted, so a case's peak heap use can
/// be compared with its target's bound.
#[global_allocator]
static ALLOCATOR: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

/// SplitMix64: small, fast and deterministic, so a case is reproduced from
/// its number.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence depends only on `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True once in `n` times.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Values that tend to sit on a parser's edges, as 1, 2, 4 and 8 bytes.
const INTERESTING: &[u64] = &[
    0,
    1,
    7,
    8,
    16,
    0x7F,
    0x80,
    0xFF,
    0x100,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x1_0000,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    0x1_0000_0000,
    i64::MAX as u64,
    u64::MAX,
];

/// A seed and the offsets in it where structure is (where a dictionary
/// token occurs, and the 4 bytes before it: an MP4 box size sits there).
pub struct Seed {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Offsets worth mutating.
    pub hot: Vec<usize>,
}

impl Seed {
    /// Indexes `bytes` for the tokens of `dictionary`.
    pub fn new(bytes: Vec<u8>, dictionary: &[&[u8]]) -> Seed {
        let mut hot = Vec::new();
        for token in dictionary.iter().filter(|token| token.len() >= 2) {
            let mut from = 0;
            while let Some(found) = find(&bytes[from..], token) {
                let at = from + found;
                hot.push(at);
                hot.push(at.saturating_sub(4));
                hot.push(at + token.len());
                from = at + 1;
                if hot.len() > 4096 {
                    break;
                }
            }
        }
        hot.retain(|&at| at < bytes.len());
        hot.sort_unstable();
        hot.dedup();
        Seed { bytes, hot }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// libFuzzer-style mutations over a seed: bit flips, random and interesting
/// values (in both byte orders), inserted, erased, duplicated and copied
/// runs, dictionary tokens, splices with another seed, truncation. Half of
/// the positions are taken near the seed's structure.
pub struct Mutator<'a> {
    seeds: &'a [Seed],
    dictionary: &'a [&'a [u8]],
    max_len: usize,
}

impl<'a> Mutator<'a> {
    /// Mutates `seeds` with `dictionary`, never beyond `max_len` bytes.
    pub fn new(seeds: &'a [Seed], dictionary: &'a [&'a [u8]], max_len: usize) -> Self {
        Mutator { seeds, dictionary, max_len }
    }

    /// Writes case number `case` into `out`: a seed, 1 to 8 mutations
    /// (one case in sixteen is the seed unchanged).
    pub fn generate(&self, case: u64, out: &mut Vec<u8>) {
        let mut rng = Rng::new(case.wrapping_mul(0xA24B_AED4_963E_E407) ^ 0x5851_F42D_4C95_7F2D);
        let seed = &self.seeds[rng.below(self.seeds.len())];
        out.clear();
        out.extend_from_slice(&seed.bytes);
        if rng.one_in(16) {
            return;
        }
        for _ in 0..1 + rng.below(8) {
            self.mutate_once(&mut rng, seed, out);
        }
        out.truncate(self.max_len);
    }

    fn position(&self, rng: &mut Rng, seed: &Seed, len: usize) -> usize {
        if len == 0 {
            return 0;
        }
        if !seed.hot.is_empty() && rng.one_in(2) {
            let near = seed.hot[rng.below(seed.hot.len())] + rng.below(16);
            return near.min(len - 1);
        }
        rng.below(len)
    }

    fn mutate_once(&self, rng: &mut Rng, seed: &Seed, out: &mut Vec<u8>) {
        let len = out.len();
        match rng.below(12) {
            0 if len > 0 => {
                let at = self.position(rng, seed, len);
                out[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = self.position(rng, seed, len);
                out[at] = rng.next_u64() as u8;
            }
            2 | 3 if len > 0 => {
                let value = INTERESTING[rng.below(INTERESTING.len())];
                let width = [1usize, 2, 4, 8][rng.below(4)];
                let at = self.position(rng, seed, len);
                let bytes = if rng.one_in(2) { value.to_be_bytes() } else { value.to_le_bytes() };
                let bytes = if rng.one_in(2) { &bytes[8 - width..] } else { &bytes[..width] };
                for (i, byte) in bytes.iter().enumerate() {
                    if let Some(slot) = out.get_mut(at + i) {
                        *slot = *byte;
                    }
                }
            }
            4 => {
                let at = if len == 0 { 0 } else { self.position(rng, seed, len) };
                let most = if rng.one_in(8) { 4096 } else { 16 };
                let count = 1 + rng.below(most);
                let fill = rng.next_u64() as u8;
                let random = rng.one_in(2);
                let inserted: Vec<u8> = (0..count).map(|_| if random { rng.next_u64() as u8 } else { fill }).collect();
                out.splice(at..at, inserted);
            }
            5 if len > 1 => {
                let at = self.position(rng, seed, len);
                let most = if rng.one_in(8) { 65_536 } else { 32 };
                let count = 1 + rng.below((len - at).min(most));
                out.drain(at..at + count);
            }
            6 if len > 1 => {
                let from = rng.below(len);
                let count = 1 + rng.below((len - from).min(256));
                let to = self.position(rng, seed, len);
                let run = out[from..from + count].to_vec();
                if rng.one_in(2) {
                    out.splice(to..to, run);
                } else {
                    let end = (to + count).min(len);
                    out[to..end].copy_from_slice(&run[..end - to]);
                }
            }
            7 | 8 if !self.dictionary.is_empty() => {
                let token = self.dictionary[rng.below(self.dictionary.len())];
                let at = if len == 0 { 0 } else { self.position(rng, seed, len) };
                if rng.one_in(2) || at + token.len() > len {
                    out.splice(at..at, token.iter().copied());
                } else {
                    out[at..at + token.len()].copy_from_slice(token);
                }
            }
            9 if len > 0 => {
                // Arithmetic on a big-endian u32 (most size fields are one).
                let at = self.position(rng, seed, len).min(len.saturating_sub(4));
                if at + 4 <= len {
                    let mut word = [0u8; 4];
                    word.copy_from_slice(&out[at..at + 4]);
                    let delta = rng.below(64) as u32 + 1;
                    let value = u32::from_be_bytes(word);
                    let value = if rng.one_in(2) { value.wrapping_add(delta) } else { value.wrapping_sub(delta) };
                    out[at..at + 4].copy_from_slice(&value.to_be_bytes());
                }
            }
            10 => {
                // Splice: the head of this input, the tail of another seed.
                let other = &self.seeds[rng.below(self.seeds.len())].bytes;
                let cut = if len == 0 { 0 } else { rng.below(len) };
                let from = if other.is_empty() { 0 } else { rng.below(other.len()) };
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            _ if len > 0 => {
                let keep = if rng.one_in(2) { self.position(rng, seed, len) } else { rng.below(len) };
                out.truncate(keep);
            }
            _ => out.push(rng.next_u64() as u8),
        }
    }
}

/// A parser or extractor under test.
pub trait Target {
    /// Short name (`probe`, `range`…).
    fn name(&self) -> &'static str;
    /// Real inputs to start from.
    fn seeds(&self) -> &[Seed];
    /// Tokens the mutator splices in.
    fn dictionary(&self) -> &[&'static [u8]];
    /// Largest input worth generating.
    fn max_len(&self) -> usize;
    /// The documented heap bound for one case of `len` input bytes.
    fn allocation_bound(&self, len: usize) -> usize;
    /// Runs one input; `Err` names the invariant it broke.
    fn run(&mut self, input: &[u8]) -> Result<(), String>;
}

/// What went wrong with one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The code under test panicked.
    Panic(String),
    /// A result outside the limits.
    Invariant(String),
    /// More heap than the target's bound.
    Allocation {
        /// Bytes at the peak.
        peak: usize,
        /// The bound.
        bound: usize,
    },
}

impl Finding {
    /// A short kind name, for the report.
    pub fn kind(&self) -> &'static str {
        match self {
            Finding::Panic(_) => "panic",
            Finding::Invariant(_) => "invariant",
            Finding::Allocation { .. } => "allocation",
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Panic(message) => write!(f, "panic: {message}"),
            Finding::Invariant(message) => write!(f, "{message}"),
            Finding::Allocation { peak, bound } => write!(f, "peak heap {peak} B > bound {bound} B"),
        }
    }
}

/// What one case cost.
#[derive(Debug, Clone, Copy)]
pub struct Measure {
    /// Peak heap bytes above the level at the start of the case.
    pub peak_heap: usize,
    /// Wall time.
    pub elapsed: Duration,
}

/// Runs one input under the allocation meter and a panic catcher. Only one
/// case may run at a time in the process (the meter is global).
pub fn check(target: &mut dyn Target, input: &[u8]) -> (Result<(), Finding>, Measure) {
    let bound = target.allocation_bound(input.len());
    let started = Instant::now();
    ALLOCATOR.reset_peak_memory();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| target.run(input)));
    let mut peak_heap = ALLOCATOR.get_peak_memory();
    let elapsed = started.elapsed();
    if matches!(outcome, Ok(Ok(()))) && peak_heap > bound {
        // The meter counts every thread of the process (the test harness
        // prints and allocates meanwhile): an allocation finding counts only
        // if the same input exceeds the bound again.
        ALLOCATOR.reset_peak_memory();
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| target.run(input)));
        peak_heap = ALLOCATOR.get_peak_memory();
    }
    let measure = Measure { peak_heap, elapsed };
    let result = match outcome {
        Err(payload) => Err(Finding::Panic(panic_text(payload.as_ref()))),
        Ok(Err(message)) => Err(Finding::Invariant(message)),
        Ok(Ok(())) if peak_heap > bound => Err(Finding::Allocation { peak: peak_heap, bound }),
        Ok(Ok(())) => Ok(()),
    };
    (result, measure)
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-text panic payload".to_owned()
    }
}

/// A file of the demo data (`data/demo/<name>`).
pub fn demo_file(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo").join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("seed {}: {error}", path.display()))
}

/// The first bytes of an input as hex, for a report.
pub fn hex_prefix(input: &[u8], max: usize) -> String {
    let shown: String = input.iter().take(max).map(|byte| format!("{byte:02x}")).collect();
    if input.len() > max { format!("{shown}… ({} bytes)", input.len()) } else { shown }
}
