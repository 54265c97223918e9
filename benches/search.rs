//! Search index benchmark: `cargo bench --bench search`. Not a test: it
//! prints tables and never fails on timing.
//!
//! Builds a `SearchIndex` in a temp dir with generated clips (titles and
//! descriptions drawn from a small word list with a Zipf-like skew, 2,000
//! creator names, 10 genres), all from a seeded generator so two runs index
//! and query exactly the same text. Documents are upserted and committed in
//! batches, as the app's indexer does. After the build the bench waits for
//! background merges to settle and commits once more so the reader sees the
//! merged segments (the app's once-a-second commit does the same).
//!
//! Then it times the same query mix, one query at a time on this thread,
//! against the large index and against a 1,000-clip index, and prints the
//! p50 growth ratio so the cost of size is visible. Every query asks for one
//! page of 20 (the API's default limit); "mean hits" is the mean page size.
//!
//! Knobs (env): BENCH_CLIPS (default 100000), BENCH_SMALL_CLIPS (default
//! 1000), BENCH_QUERIES (default 2000), BENCH_BATCH (default 10000).

use std::path::Path;
use std::time::{Duration, Instant};

use aimoviez::search::{SearchDoc, SearchIndex};

mod common;
use common::SplitMix;

/// Page size of every query (the API default).
const LIMIT: usize = 20;
/// Seed of the corpus generator.
const CORPUS_SEED: u64 = 0x00A1_7A0F_1E5E_A2C4;
/// Seed of the query generator.
const QUERY_SEED: u64 = 0x5EA2_C4ED_0000_0001;

/// Words of titles and descriptions, most frequent first (picked with a
/// Zipf-like skew, so the first ones are common and the last ones rare).
const WORDS: &[&str] = &[
    "the",
    "night",
    "city",
    "light",
    "dream",
    "shadow",
    "ocean",
    "storm",
    "last",
    "journey",
    "robot",
    "forest",
    "river",
    "mirror",
    "ghost",
    "signal",
    "winter",
    "summer",
    "harbour",
    "station",
    "machine",
    "garden",
    "silent",
    "broken",
    "golden",
    "hidden",
    "electric",
    "midnight",
    "desert",
    "echo",
    "memory",
    "orbit",
    "planet",
    "engine",
    "voyage",
    "paper",
    "glass",
    "neon",
    "rain",
    "thunder",
    "whisper",
    "lantern",
    "tunnel",
    "bridge",
    "castle",
    "island",
    "captain",
    "stranger",
    "letter",
    "window",
    "market",
    "carnival",
    "circus",
    "factory",
    "library",
    "museum",
    "painter",
    "dancer",
    "sailor",
    "pilot",
    "hunter",
    "keeper",
    "wander",
    "falling",
    "rising",
    "burning",
    "frozen",
    "velvet",
    "crimson",
    "silver",
    "copper",
    "marble",
    "crystal",
    "feather",
    "thread",
    "needle",
    "compass",
    "anchor",
    "beacon",
    "cinder",
    "ember",
    "meadow",
    "canyon",
    "glacier",
    "volcano",
    "lagoon",
    "prairie",
    "tundra",
    "harvest",
    "festival",
    "parade",
    "requiem",
    "sonata",
    "ballad",
    "anthem",
    "chorus",
    "riddle",
    "puzzle",
    "cipher",
    "oracle",
    "prophet",
    "pilgrim",
    "nomad",
    "outlaw",
    "sheriff",
    "detective",
    "witness",
    "verdict",
    "alibi",
    "escape",
    "pursuit",
    "rescue",
    "reunion",
    "farewell",
    "homecoming",
    "daybreak",
    "twilight",
    "eclipse",
    "solstice",
    "equinox",
    "aurora",
    "nebula",
    "quasar",
    "comet",
    "meteor",
    "satellite",
    "asteroid",
    "galaxy",
    "wormhole",
];

/// Syllables of creator names.
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "ne", "to", "vi", "sa", "du", "ze", "po", "li", "an", "or", "el", "is", "mar", "ben",
    "tor", "sil", "quin", "dra", "fen", "gal", "hul", "jor", "kel", "lun", "mor", "nim",
];

/// Genres (the default config's list).
const GENRES: [&str; 10] =
    ["sci-fi", "drama", "comedy", "horror", "thriller", "fantasy", "mystery", "romance", "animation", "documentary"];

/// Zipf-like sampler over the word list (weight 1/(rank+1)).
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|rank| {
                total += 1.0 / (rank as f64 + 1.0);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    fn sample(&self, rng: &mut SplitMix) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let point = rng.unit() * total;
        self.cumulative.partition_point(|&c| c <= point).min(self.cumulative.len() - 1)
    }
}

fn sentence(rng: &mut SplitMix, zipf: &Zipf, min: usize, max: usize) -> String {
    let count = min + rng.below(max - min + 1);
    (0..count).map(|_| WORDS[zipf.sample(rng)]).collect::<Vec<_>>().join(" ")
}

fn creator_names(rng: &mut SplitMix, count: usize) -> Vec<String> {
    (0..count)
        .map(|n| {
            let syllables = 2 + rng.below(2);
            let name: String = (0..syllables).map(|_| SYLLABLES[rng.below(SYLLABLES.len())]).collect();
            // A numeric suffix keeps the 2,000 names distinct, as usernames are.
            format!("{name}{}", n % 100)
        })
        .collect()
}

/// The `n` generated clips, identical on every run.
fn corpus(n: usize) -> Vec<SearchDoc> {
    let mut rng = SplitMix(CORPUS_SEED);
    let zipf = Zipf::new(WORDS.len());
    let creators = creator_names(&mut rng, 2_000);
    let base_millis = 1_767_225_600_000i64; // 2026-01-01
    (0..n)
        .map(|i| SearchDoc {
            clip_id: i as u64 + 1,
            title: sentence(&mut rng, &zipf, 2, 5),
            description: sentence(&mut rng, &zipf, 8, 24),
            creator: creators[rng.below(creators.len())].clone(),
            genre: GENRES[rng.below(GENRES.len())].to_owned(),
            created_at_millis: base_millis + i as i64 * 60_000,
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    CommonWord,
    TwoWords,
    Prefix3,
    Typo,
    GenreFiltered,
    EmptyWithGenre,
}

impl Kind {
    const ALL: [Kind; 6] =
        [Kind::CommonWord, Kind::TwoWords, Kind::Prefix3, Kind::Typo, Kind::GenreFiltered, Kind::EmptyWithGenre];

    fn label(self) -> &'static str {
        match self {
            Kind::CommonWord => "one common word",
            Kind::TwoWords => "two words",
            Kind::Prefix3 => "3-letter prefix",
            Kind::Typo => "1-typo word (≥5 letters)",
            Kind::GenreFiltered => "word + genre filter",
            Kind::EmptyWithGenre => "empty query + genre",
        }
    }
}

struct Query {
    kind: Kind,
    text: String,
    genre: Option<&'static str>,
}

/// A word with one substitution, chosen so it is not itself a listed word.
fn typo_of(rng: &mut SplitMix, word: &str) -> String {
    let letters: Vec<char> = word.chars().collect();
    loop {
        let at = rng.below(letters.len());
        let replacement = (b'a' + rng.below(26) as u8) as char;
        if replacement == letters[at] {
            continue;
        }
        let mut changed = letters.clone();
        changed[at] = replacement;
        let changed: String = changed.into_iter().collect();
        if !WORDS.contains(&changed.as_str()) {
            return changed;
        }
    }
}

/// `count` queries, cycling through the kinds, identical on every run.
fn queries(count: usize) -> Vec<Query> {
    let mut rng = SplitMix(QUERY_SEED);
    let zipf = Zipf::new(WORDS.len());
    let long_words: Vec<&str> = WORDS.iter().copied().filter(|w| w.len() >= 5).collect();
    let prefixable: Vec<&str> = WORDS.iter().copied().filter(|w| w.len() >= 4).collect();
    (0..count)
        .map(|i| {
            let kind = Kind::ALL[i % Kind::ALL.len()];
            let genre = GENRES[rng.below(GENRES.len())];
            match kind {
                // "the" is a stop-word-like token; skip it so "common" means a real word.
                Kind::CommonWord => Query { kind, text: WORDS[1 + rng.below(10)].to_owned(), genre: None },
                Kind::TwoWords => {
                    let (a, b) = (WORDS[zipf.sample(&mut rng)], WORDS[zipf.sample(&mut rng)]);
                    Query { kind, text: format!("{a} {b}"), genre: None }
                }
                Kind::Prefix3 => {
                    let word = prefixable[rng.below(prefixable.len())];
                    Query { kind, text: word[..3].to_owned(), genre: None }
                }
                Kind::Typo => {
                    let word = long_words[rng.below(long_words.len())];
                    Query { kind, text: typo_of(&mut rng, word), genre: None }
                }
                Kind::GenreFiltered => {
                    Query { kind, text: WORDS[zipf.sample(&mut rng)].to_owned(), genre: Some(genre) }
                }
                Kind::EmptyWithGenre => Query { kind, text: String::new(), genre: Some(genre) },
            }
        })
        .collect()
}

/// Total bytes and number of segments of the index directory.
fn dir_stats(dir: &Path) -> (u64, usize) {
    let mut bytes = 0;
    let mut segments = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                let (b, s) = dir_stats(&path);
                bytes += b;
                segments += s;
            } else {
                bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
                if path.extension().is_some_and(|e| e == "term") {
                    segments += 1;
                }
            }
        }
    }
    (bytes, segments)
}

/// Waits until the directory size stops changing (background merges done),
/// for at most `max`.
fn wait_for_merges(dir: &Path, max: Duration) {
    let deadline = Instant::now() + max;
    let mut last = dir_stats(dir);
    let mut stable_for = 0;
    while Instant::now() < deadline && stable_for < 4 {
        std::thread::sleep(Duration::from_millis(250));
        let now = dir_stats(dir);
        if now == last {
            stable_for += 1;
        } else {
            stable_for = 0;
            last = now;
        }
    }
}

struct Built {
    index: SearchIndex,
    build: Duration,
    bytes: u64,
    segments: usize,
    _dir: tempfile::TempDir,
}

fn build(clips: usize, batch: usize) -> Built {
    let dir = tempfile::tempdir().expect("temp dir");
    let docs = corpus(clips);
    let index = SearchIndex::open(dir.path()).expect("open index");
    let started = Instant::now();
    let mut position = 0;
    for chunk in docs.chunks(batch.max(1)) {
        for doc in chunk {
            index.upsert(doc).expect("upsert");
        }
        position += 1;
        index.commit(position).expect("commit");
    }
    let build = started.elapsed();
    assert_eq!(index.num_docs(), clips as u64, "every clip is indexed");
    wait_for_merges(dir.path(), Duration::from_secs(60));
    // Reload the reader onto the merged segments, like the app's next commit.
    index.commit(position + 1).expect("commit");
    let (bytes, segments) = dir_stats(dir.path());
    Built { index, build, bytes, segments, _dir: dir }
}

struct KindResult {
    p50_ms: f64,
    p99_ms: f64,
    mean_hits: f64,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn run_queries(index: &SearchIndex, queries: &[Query]) -> Vec<(Kind, KindResult)> {
    // Warm-up: one pass over a slice of the mix (page cache, term dictionaries).
    for query in queries.iter().take(300) {
        let _ = index.search(&query.text, query.genre, LIMIT, 0).expect("search");
    }
    Kind::ALL
        .iter()
        .map(|&kind| {
            let mut latencies = Vec::new();
            let mut hits = 0usize;
            for query in queries.iter().filter(|q| q.kind == kind) {
                let started = Instant::now();
                let page = index.search(&query.text, query.genre, LIMIT, 0).expect("search");
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                hits += page.hits.len();
            }
            latencies.sort_by(f64::total_cmp);
            let result = KindResult {
                p50_ms: percentile(&latencies, 0.5),
                p99_ms: percentile(&latencies, 0.99),
                mean_hits: hits as f64 / latencies.len().max(1) as f64,
            };
            (kind, result)
        })
        .collect()
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

fn main() {
    let large = env_usize("BENCH_CLIPS", 100_000);
    let small = env_usize("BENCH_SMALL_CLIPS", 1_000);
    let count = env_usize("BENCH_QUERIES", 2_000);
    let batch = env_usize("BENCH_BATCH", 10_000);
    let queries = queries(count);

    let mut runs = Vec::new();
    for clips in [small, large] {
        let built = build(clips, batch);
        let results = run_queries(&built.index, &queries);
        runs.push((clips, built.build, built.bytes, built.segments, results));
    }

    for (clips, build, bytes, segments, results) in &runs {
        println!("\n### {clips} clips, {count} queries (page of {LIMIT})\n");
        println!(
            "index build: {:.2} s ({:.0} clips/s, commit every {batch}); size on disk: {:.1} MiB in {segments} segment(s)\n",
            build.as_secs_f64(),
            *clips as f64 / build.as_secs_f64().max(1e-9),
            *bytes as f64 / (1024.0 * 1024.0),
        );
        println!("| query kind | p50 ms | p99 ms | mean hits |");
        println!("|---|---|---|---|");
        for (kind, result) in results {
            println!("| {} | {:.3} | {:.3} | {:.1} |", kind.label(), result.p50_ms, result.p99_ms, result.mean_hits);
        }
    }

    if let [(small_clips, _, small_bytes, _, small_results), (large_clips, _, large_bytes, _, large_results)] =
        runs.as_slice()
    {
        println!("\n### Growth from {small_clips} to {large_clips} clips\n");
        println!("| query kind | p50 ms at {small_clips} | p50 ms at {large_clips} | ratio |");
        println!("|---|---|---|---|");
        for ((kind, at_small), (_, at_large)) in small_results.iter().zip(large_results) {
            println!(
                "| {} | {:.3} | {:.3} | {:.1}× |",
                kind.label(),
                at_small.p50_ms,
                at_large.p50_ms,
                at_large.p50_ms / at_small.p50_ms.max(1e-6)
            );
        }
        println!(
            "\nindex size ratio: {:.1}× ({:.1} MiB / {:.2} MiB)",
            *large_bytes as f64 / (*small_bytes).max(1) as f64,
            *large_bytes as f64 / (1024.0 * 1024.0),
            *small_bytes as f64 / (1024.0 * 1024.0)
        );
    }
}
