//! Start-up benchmark (`cargo bench --bench startup`). Not a test: it prints
//! tables and never fails on timing.
//!
//! It builds a data dir holding `BENCH_STARTUP_VOTES` votes (default
//! 10,000,000) cast in the current ISO week, directly through the library's
//! writer (not over HTTP), then times the release server from spawn to its
//! first `200` on `GET /api/health`, against an empty data dir and against
//! the same season with no votes, in the same run. It prints the file's
//! bytes per vote and, per table, the pages redb uses.
//!
//! The votes: a season whose first slot holds `BENCH_STARTUP_CLIPS` clips
//! (default 1,000) by 100 creators, voted on by `BENCH_STARTUP_VOTERS`
//! voters (default 1,000,000; one in ten signed in), taking turns, so each
//! casts `votes / voters` votes on distinct clips; one voter in 50 also casts
//! a super vote and one in 100 a mega vote. The writer's clock steps from
//! Monday 00:00 UTC of this week to a minute ago across the votes, so every
//! vote falls in the window the leaderboards restore at start. Building goes
//! through [`build_votes`] only (`writer::start`, `seed_demo`, `cast_vote`),
//! so the same file builds the data dir with an older store.
//!
//! Knobs (env): BENCH_STARTUP_VOTES, BENCH_STARTUP_VOTERS,
//! BENCH_STARTUP_CLIPS, BENCH_STARTUP_RUNS (default 5 starts per dir),
//! BENCH_STARTUP_DIR (build there and keep it; a dir already built for the
//! same shape is reused), BENCH_STARTUP_SERVER (server binary; default the
//! release binary built with this bench).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use aimoviez::domain::clock::Timestamp;
use aimoviez::domain::ids::{ClipId, UserId, VoterKey};
use aimoviez::domain::vote::VoteType;
use aimoviez::store::Store;
use aimoviez::store::writer::{self, CastRequest, DemoSeed, SeedClip, WriteError, WriterSettings};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use redb::{ReadableDatabase, ReadableTableMetadata, TableHandle};

mod common;
use common::{BINARY, SplitMix};

const DAY_MS: i64 = 86_400_000;
const CREATORS: usize = 100;
/// Votes in flight towards the writer while building.
const IN_FLIGHT: usize = 8_192;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.replace('_', "").parse().ok()).unwrap_or(default)
}

/// The data dir's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    votes: u64,
    voters: u64,
    clips: u64,
}

impl Shape {
    fn marker(&self) -> String {
        format!("built-{}-votes-{}-voters-{}-clips", self.votes, self.voters, self.clips)
    }
}

/// What building found.
struct Built {
    accepted: u64,
    refused: u64,
    seconds: f64,
}

/// Monday 00:00 UTC of the current ISO week, in Unix milliseconds.
fn this_monday_millis(now: i64) -> i64 {
    let day = now.div_euclid(DAY_MS);
    // Day 0 (1970-01-01) was a Thursday: Monday is three days after it.
    let since_monday = (day - 4).rem_euclid(7);
    (day - since_monday) * DAY_MS
}

/// The voter taking turn `voter`: one in ten signed in, the rest anonymous
/// devices with a fingerprint drawn from the index.
fn voter_key(voter: u64) -> VoterKey {
    if voter.is_multiple_of(10) {
        VoterKey::user(UserId::new(voter / 10 + 1_000).expect("nonzero"))
    } else {
        let mut random = SplitMix(voter);
        let mut fingerprint = [0u8; 16];
        fingerprint[..8].copy_from_slice(&random.next().to_le_bytes());
        fingerprint[8..].copy_from_slice(&random.next().to_le_bytes());
        VoterKey::device(fingerprint)
    }
}

/// The `index`-th vote of the run: voters take turns; a voter's `n`-th vote
/// goes to a clip it has not voted for (997 is prime, so `n * 997` differs
/// modulo the clip count for the first `clips` turns).
fn nth_vote(index: u64, shape: &Shape) -> CastRequest {
    let (voter, turn) = (index % shape.voters, index / shape.voters);
    let clip = (voter.wrapping_mul(7_919) + turn * 997) % shape.clips + 1;
    let vote_type = match turn {
        0 if voter.is_multiple_of(50) => VoteType::Super,
        1 if voter.is_multiple_of(100) => VoteType::Mega,
        _ => VoteType::Standard,
    };
    CastRequest { voter: voter_key(voter), clip: ClipId::new(clip).expect("nonzero"), vote_type, network: voter }
}

fn season(shape: &Shape) -> DemoSeed {
    let mut seed = DemoSeed::placeholder("Start-up", 75, 14 * 24 * 3600, 0);
    seed.creators = (0..CREATORS).map(|n| format!("creator{n}")).collect();
    seed.clips = (0..shape.clips as usize)
        .map(|n| SeedClip {
            title: format!("clip {n}"),
            description: String::new(),
            genre: "test".into(),
            creator: n % CREATORS,
            video_path: format!("{:02x}/video.mp4", n % 256),
            poster_path: format!("{:02x}/poster.jpg", n % 256),
            duration_ms: 8000,
        })
        .collect();
    seed
}

/// Builds the data dir through the store's writer: the season, then the
/// votes in time order. The only part of this bench that names the store's
/// write API.
fn build_votes(data: &Path, shape: &Shape) -> Built {
    let started = Instant::now();
    let now = Timestamp::now().millis();
    let monday = this_monday_millis(now);
    let span = (now - 60_000 - monday).max(1);
    let clock = Arc::new(AtomicI64::new(monday + 1_000));
    let store = Store::open(&data.join("aimoviez.redb"), 512 << 20).expect("store");
    let writer_clock = clock.clone();
    let settings = WriterSettings {
        batch_max: 4_096,
        queue_capacity: IN_FLIGHT * 2,
        daily_budget: 200,
        clock: Arc::new(move || Timestamp::from_millis(writer_clock.load(Ordering::Relaxed))),
    };
    let (handle, thread) = writer::start(&store, settings, Box::new(|_| {})).expect("writer");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (accepted, refused) = runtime.block_on(async {
        assert!(handle.seed_demo(season(shape)).await.expect("seeded"), "a fresh dir is seeded");
        let mut in_flight = FuturesUnordered::new();
        let (mut accepted, mut refused) = (0u64, 0u64);
        let mut next = 0u64;
        let mut last_report = Instant::now();
        while next < shape.votes || !in_flight.is_empty() {
            while next < shape.votes && in_flight.len() < IN_FLIGHT {
                let at = monday + 1_000 + (i128::from(next) * i128::from(span) / i128::from(shape.votes)) as i64;
                clock.fetch_max(at, Ordering::Relaxed);
                let (handle, request) = (handle.clone(), nth_vote(next, shape));
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
            if let Ok(Some(ok)) = tokio::time::timeout(Duration::from_secs(5), in_flight.next()).await {
                if ok { accepted += 1 } else { refused += 1 }
            }
            if last_report.elapsed() > Duration::from_secs(30) {
                let stats = handle.stats();
                eprintln!(
                    "built {accepted} votes ({refused} refused) in {:.0} s; writer: {} queued, {} failed batches",
                    started.elapsed().as_secs_f64(),
                    stats.queued.load(Ordering::Relaxed),
                    stats.failed_batches.load(Ordering::Relaxed),
                );
                last_report = Instant::now();
            }
        }
        (accepted, refused)
    });
    thread.stop();
    drop(store);
    Built { accepted, refused, seconds: started.elapsed().as_secs_f64() }
}

/// Pages and stored bytes per table, largest first.
fn table_sizes(path: &Path) -> Vec<(String, u64, u64, u64)> {
    let db = redb::Database::open(path).expect("open");
    let txn = db.begin_read().expect("read");
    let mut sizes = Vec::new();
    for handle in txn.list_tables().expect("tables") {
        let table = txn.open_untyped_table(handle.clone()).expect("table");
        let stats = table.stats().expect("stats");
        let entries = table.len().expect("len");
        sizes.push((
            handle.name().to_owned(),
            entries,
            stats.leaf_pages() + stats.branch_pages(),
            stats.stored_bytes(),
        ));
    }
    sizes.sort_by_key(|size| std::cmp::Reverse(size.2));
    sizes
}

struct Start {
    millis: f64,
    rss_kib: u64,
    rebuild: Option<String>,
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn healthy(address: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(address) else { return false };
    let request = format!("GET /api/health HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}

/// Asks the server to stop (SIGTERM) and waits, so the next start opens a
/// cleanly closed file.
fn stop(mut child: Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Spawns the server on `data` and times it to its first healthy answer.
fn time_start(binary: &str, data: &Path) -> Start {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let log_path = data.with_extension("log");
    let log = std::fs::File::create(&log_path).expect("log");
    let started = Instant::now();
    let child = Command::new(binary)
        .arg("serve")
        .args(["--listen", &address.to_string(), "--data"])
        .arg(data)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn server");
    let deadline = started + Duration::from_secs(600);
    while !healthy(address) {
        assert!(Instant::now() < deadline, "server did not become healthy");
        std::thread::sleep(Duration::from_millis(2));
    }
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let rss_kib = rss_kib(child.id());
    stop(child);
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let rebuild = text.lines().find(|line| line.contains("leaderboards rebuilt")).map(|line| {
        let fields: Vec<&str> = line.split_whitespace().filter(|word| word.contains('=')).collect();
        fields.join(" ")
    });
    let _ = std::fs::remove_file(&log_path);
    Start { millis, rss_kib, rebuild }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // The writer logs a failed batch; the bench would otherwise only see
    // its votes come back unavailable.
    aimoviez::telemetry::init(false);
    let shape = Shape {
        votes: env_or("BENCH_STARTUP_VOTES", 10_000_000),
        voters: env_or("BENCH_STARTUP_VOTERS", 1_000_000).max(1),
        clips: env_or("BENCH_STARTUP_CLIPS", 1_000).max(1),
    };
    let runs = env_or("BENCH_STARTUP_RUNS", 5).max(1);
    let binary = std::env::var("BENCH_STARTUP_SERVER").unwrap_or_else(|_| BINARY.to_owned());
    let scratch = tempfile::tempdir().expect("tempdir");
    let voted: PathBuf = match std::env::var_os("BENCH_STARTUP_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => scratch.path().join("voted"),
    };
    let marker = voted.join(shape.marker());
    if marker.exists() {
        eprintln!("reusing {}", voted.display());
    } else {
        if voted.exists() {
            std::fs::remove_dir_all(&voted).expect("clear the old data dir");
        }
        std::fs::create_dir_all(&voted).expect("data dir");
        let built = build_votes(&voted, &shape);
        println!(
            "\nbuilt {} votes ({} refused) from {} voters on {} clips in {:.0} s ({:.0} votes/s through the writer)",
            built.accepted,
            built.refused,
            shape.voters,
            shape.clips,
            built.seconds,
            built.accepted as f64 / built.seconds
        );
        std::fs::write(&marker, built.accepted.to_string()).expect("marker");
    }
    let seeded = scratch.path().join("seeded");
    std::fs::create_dir_all(&seeded).expect("seeded dir");
    build_votes(&seeded, &Shape { votes: 0, ..shape });

    let database = voted.join("aimoviez.redb");
    let file_bytes = std::fs::metadata(&database).map(|m| m.len()).unwrap_or(0);
    let votes = shape.votes.max(1);
    println!("\n| file | bytes | bytes per vote |");
    println!("|---|---|---|");
    println!("| aimoviez.redb, {} votes | {file_bytes} | {:.1} |", shape.votes, file_bytes as f64 / votes as f64);
    println!("\n| table | entries | pages | page bytes per vote | stored bytes per vote |");
    println!("|---|---|---|---|---|");
    for (name, entries, pages, stored) in table_sizes(&database) {
        if pages * 4096 * 1000 < file_bytes {
            continue;
        }
        println!(
            "| {name} | {entries} | {pages} | {:.1} | {:.1} |",
            (pages * 4096) as f64 / votes as f64,
            stored as f64 / votes as f64
        );
    }

    println!(
        "\n| data dir | runs | start-up to healthy, median ms | min ms | ratio to empty | RSS MiB | leaderboard rebuild |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut empty_median = 0.0;
    let rows = [
        ("empty".to_owned(), None),
        ("season, no votes".to_owned(), Some(seeded.clone())),
        (format!("season + {} votes", shape.votes), Some(voted)),
    ];
    for (label, dir) in rows {
        // One start first, not timed: it builds the search index a seeded
        // dir does not have yet, as any first start would.
        if let Some(dir) = &dir {
            time_start(&binary, dir);
        }
        let mut times = Vec::new();
        let mut last = None;
        for run in 0..runs {
            let dir = dir.clone().unwrap_or_else(|| scratch.path().join(format!("empty-{run}")));
            let start = time_start(&binary, &dir);
            times.push(start.millis);
            last = Some(start);
        }
        let min = times.iter().copied().fold(f64::INFINITY, f64::min);
        let median = median(&mut times);
        if dir.is_none() {
            empty_median = median;
        }
        let last = last.expect("one run");
        println!(
            "| {label} | {runs} | {median:.1} | {min:.1} | {:.2} | {:.1} | {} |",
            median / empty_median.max(0.001),
            last.rss_kib as f64 / 1024.0,
            last.rebuild.unwrap_or_else(|| "-".into())
        );
    }
}
