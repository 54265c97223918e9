//! Leaderboard benchmark: `cargo bench --bench leaderboard`. Not a test: it
//! prints tables and never fails on timing.
//!
//! For each size (1,000 and 1,000,000 clips by default) it starts the real
//! app in a temp dir, feeds its leaderboard service one vote event per clip
//! through `LeaderboardService::apply` (the commit listener's path) — half of
//! them yesterday, half today, so day trends have a baseline — with creators
//! = clips / 10 and voters = clips (signed-in, picked by a fixed generator,
//! so vote counts vary). Then it times, one call at a time:
//!
//! - `LeaderboardService::page` (lock + domain page) for several boards,
//!   periods and offsets;
//! - `GET /api/leaderboard/...` over loopback HTTP (handler, name point reads
//!   in one read transaction, JSON);
//! - `Leaderboards::restore` from all-time totals of that size plus the day
//!   scores of 100,000 recent votes (the in-memory part of the start-up
//!   rebuild), and the real `LeaderboardService::load` from a store holding
//!   a few thousand votes, once with all of them in the window and once with
//!   none (it reads stored totals and day scores, never a vote).
//!
//! Knobs (env): BENCH_SMALL (default 1000), BENCH_LARGE (default 1000000),
//! BENCH_ITERATIONS (default 2000), BENCH_HTTP_ITERATIONS (default 500).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use aimoviez::app::{App, BuildOptions, ClockOverride};
use aimoviez::config::{Config, Overrides};
use aimoviez::domain::clock::{Timestamp, UtcDay};
use aimoviez::domain::ids::{ClipId, UserId, VoterKey};
use aimoviez::domain::leaderboard::{AllTimeTotals, Board, DayScore, Leaderboards, Period, RecentVote};
use aimoviez::leaderboard::LeaderboardService;
use aimoviez::service::Services;
use aimoviez::store::Store;
use aimoviez::store::writer::{CastRequest, CommittedEvent, VoteTally};

mod common;
use common::SplitMix;

const DAY_MILLIS: i64 = 86_400_000;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

/// Vote weights as the app knows them (standard, super, mega), mostly standard.
const WEIGHTS: [u32; 8] = [1, 1, 1, 1, 1, 1, 3, 10];

fn config(data_dir: &Path) -> Config {
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        data_dir: Some(data_dir.into()),
        log_json: false,
    };
    let env: Vec<(String, String)> = ["VOTE", "UPLOAD", "COMMENT", "API", "READ", "AUTH", "ADMIN"]
        .iter()
        .map(|class| (format!("AIMOVIEZ_RATE_LIMITS_{class}"), "0".to_owned()))
        .collect();
    Config::load(None, env, &overrides).expect("config")
}

struct Running {
    state: Services,
    address: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(data_dir: &Path, options: BuildOptions) -> Running {
    let app = App::build(config(data_dir), options).await.expect("app builds");
    let address = app.local_addr().expect("bound");
    let state = app.services().clone();
    let (stop, signal) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = signal.await;
    }));
    Running { state, address, stop, server }
}

async fn stop(running: Running) {
    let Running { state, stop, server, .. } = running;
    drop(state);
    let _ = stop.send(());
    let _ = server.await;
}

/// Feeds one vote event per clip, yesterday's half first. Returns events/s.
fn fill(service: &LeaderboardService, clips: usize, today: UtcDay) -> f64 {
    let creators = (clips / 10).max(1) as u64;
    let mut sequence = SplitMix(0x1EAD_E2B0_A2D5_0001);
    let yesterday = UtcDay::from_number(today.number() - 1);
    let started = Instant::now();
    for (day, parity) in [(yesterday, 1u64), (today, 0u64)] {
        let mut events = Vec::with_capacity(10_000);
        for clip in (1..=clips as u64).filter(|clip| clip % 2 == parity) {
            let voter = sequence.next() % clips as u64 + 1;
            let weight = WEIGHTS[(sequence.next() % WEIGHTS.len() as u64) as usize];
            events.push(CommittedEvent::VoteTallied(VoteTally {
                day,
                clip: ClipId::new(clip).expect("nonzero"),
                creator: UserId::new(clip % creators + 1).expect("nonzero"),
                voter: VoterKey::user(UserId::new(voter).expect("nonzero")),
                weight,
                delta: 1,
            }));
            if events.len() == 10_000 {
                service.apply(&events);
                events.clear();
            }
        }
        service.apply(&events);
    }
    clips as f64 / started.elapsed().as_secs_f64()
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

/// The page calls timed: (label, board, period, offset, limit).
const PAGE_CASES: [(&str, Board, Period, usize, usize); 5] = [
    ("page() clips all, top 20", Board::Clips, Period::All, 0, 20),
    ("page() clips day, top 20", Board::Clips, Period::Day, 0, 20),
    ("page() creators week, top 20", Board::Creators, Period::Week, 0, 20),
    ("page() voters all, top 100", Board::Voters, Period::All, 0, 100),
    ("page() clips all, offset 400 limit 100", Board::Clips, Period::All, 400, 100),
];

const HTTP_CASES: [(&str, &str); 3] = [
    ("GET clips?period=all (20)", "/api/leaderboard/clips?period=all"),
    ("GET voters?period=day&limit=100", "/api/leaderboard/voters?period=day&limit=100"),
    ("GET creators?period=week&offset=40&limit=50", "/api/leaderboard/creators?period=week&offset=40&limit=50"),
];

struct SizeResult {
    apply_rate: f64,
    pages: Vec<(f64, f64)>,
    http: Vec<(f64, f64)>,
    restore_ms: f64,
    total_entries: usize,
}

async fn measure(clips: usize, iterations: usize, http_iterations: usize) -> SizeResult {
    let data = tempfile::tempdir().expect("tempdir");
    let running = start(data.path(), BuildOptions::default()).await;
    let today = Timestamp::now().utc_day();
    let service = running.state.leaderboards.clone();
    let apply_rate = tokio::task::block_in_place(|| fill(&service, clips, today));
    let total_entries: usize =
        [Board::Clips, Board::Creators, Board::Voters].iter().map(|b| service.page(*b, Period::All, 0, 1).total).sum();
    let mut pages = Vec::new();
    for (_, board, period, offset, limit) in PAGE_CASES {
        // The first page after a rollover builds the trend baseline once.
        service.page(board, period, offset, limit);
        let samples = (0..iterations)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(service.page(board, period, offset, limit));
                started.elapsed()
            })
            .collect();
        pages.push(percentiles(samples));
    }
    let client = reqwest::Client::new();
    let mut http = Vec::new();
    for (_, path) in HTTP_CASES {
        let url = format!("http://{}{path}", running.address);
        let mut samples = Vec::with_capacity(http_iterations);
        for round in 0..http_iterations + 20 {
            let started = Instant::now();
            let response = client.get(&url).send().await.expect("request");
            assert!(response.status().is_success(), "{url}: {}", response.status());
            let _ = response.bytes().await.expect("body");
            if round >= 20 {
                samples.push(started.elapsed());
            }
        }
        http.push(percentiles(samples));
    }
    stop(running).await;
    let restore_ms = tokio::task::block_in_place(|| restore_time(clips, today));
    SizeResult { apply_rate, pages, http, restore_ms, total_entries }
}

/// Median of three `Leaderboards::restore` runs from totals of this size and
/// 100,000 recent votes (or one per clip when fewer).
fn restore_time(clips: usize, today: UtcDay) -> f64 {
    let mut sequence = SplitMix(0x2EB0_0001);
    let creators = (clips / 10).max(1) as u64;
    let totals = AllTimeTotals {
        clips: (1..=clips as u64).map(|id| (id, sequence.next() % 500 + 1)).collect(),
        creators: (1..=creators).map(|id| (id, sequence.next() % 5_000 + 1)).collect(),
        voters: (1..=clips as u64).map(|id| (id, sequence.next() % 50 + 1)).collect(),
    };
    let recent: Vec<RecentVote> = (0..clips.min(100_000) as u64)
        .map(|n| RecentVote {
            day: UtcDay::from_number(today.number() - (n % 9) as u32),
            clip: sequence.next() % clips as u64 + 1,
            creator: sequence.next() % creators + 1,
            voter: Some(sequence.next() % clips as u64 + 1),
            weight: 1,
        })
        .collect();
    let days = DayScore::of_votes(&recent);
    let mut runs: Vec<f64> = (0..3)
        .map(|_| {
            let started = Instant::now();
            let mut boards = Leaderboards::restore(today, &totals, &days);
            std::hint::black_box(boards.page(Board::Clips, Period::All, today, 0, 20));
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[1]
}

/// The real start-up rebuild from storage: casts `votes` votes from signed-in
/// voter keys through the writer, restarts, and times `LeaderboardService::load`
/// with today in the window and with a clock two weeks ahead (no vote in it).
async fn store_rebuild(votes: usize) -> Vec<(String, f64, u64, usize)> {
    let data = tempfile::tempdir().expect("tempdir");
    let millis = Arc::new(AtomicI64::new(Timestamp::now().millis()));
    let clock = {
        let millis = millis.clone();
        ClockOverride(Arc::new(move || Timestamp::from_millis(millis.load(Ordering::SeqCst))))
    };
    let demo = aimoviez::demo::DemoOptions { total_slots: 3, slot_duration_secs: 30 * 24 * 3600 };
    let running = start(data.path(), BuildOptions { demo: Some(demo), clock: Some(clock) }).await;
    let clips: Vec<ClipId> =
        running.state.read_model.read(|model| model.open_clips.iter().map(|counted| counted.clip.id).collect());
    let writer = running.state.writer.clone();
    let mut cast = Vec::with_capacity(votes);
    for voter in 1..=votes as u64 {
        let writer = writer.clone();
        let clip = clips[(voter % clips.len() as u64) as usize];
        cast.push(tokio::spawn(async move {
            let request = CastRequest {
                voter: VoterKey::user(UserId::new(voter).expect("nonzero")),
                clip,
                vote_type: aimoviez::domain::vote::VoteType::Standard,
                network: voter,
            };
            writer.cast_vote(request).await.is_ok()
        }));
        if cast.len() >= 512 {
            for task in cast.drain(..) {
                task.await.expect("cast task");
            }
        }
    }
    for task in cast {
        task.await.expect("cast task");
    }
    drop(writer);
    stop(running).await;
    let store = Store::open(&config(data.path()).database_path(), 64 * 1024 * 1024).expect("store");
    let mut rows = Vec::new();
    for (label, offset_days) in [("all votes in the window", 0), ("clock two weeks on: none in the window", 14)] {
        millis.store(Timestamp::now().millis() + offset_days * DAY_MILLIS, Ordering::SeqCst);
        let millis = millis.clone();
        let clock: aimoviez::domain::clock::Clock =
            Arc::new(move || Timestamp::from_millis(millis.load(Ordering::SeqCst)));
        let started = Instant::now();
        let (_, stats) = LeaderboardService::load(&store, clock).expect("rebuild");
        rows.push((label.to_owned(), started.elapsed().as_secs_f64() * 1000.0, stats.rows_read, stats.day_scores));
    }
    rows
}

fn main() {
    let small = env_number("BENCH_SMALL", 1_000);
    let large = env_number("BENCH_LARGE", 1_000_000);
    let iterations = env_number("BENCH_ITERATIONS", 2_000);
    let http_iterations = env_number("BENCH_HTTP_ITERATIONS", 500);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let small_result = measure(small, iterations, http_iterations).await;
        let large_result = measure(large, iterations, http_iterations).await;
        println!(
            "\nboards: {small} and {large} clips (creators = clips/10, voters = clips); entries ranked all time: {} and {}",
            small_result.total_entries, large_result.total_entries
        );
        println!(
            "incremental apply: {:.0} and {:.0} vote events/s (each updates 3 boards × 3 periods)\n",
            small_result.apply_rate, large_result.apply_rate
        );
        println!("| call | p50 µs @{small} | p99 µs @{small} | p50 µs @{large} | p99 µs @{large} | p50 ratio |");
        println!("|---|---|---|---|---|---|");
        let labels = PAGE_CASES.iter().map(|case| case.0).chain(HTTP_CASES.iter().map(|case| case.0));
        let rows = small_result.pages.iter().chain(&small_result.http).zip(large_result.pages.iter().chain(&large_result.http));
        for (label, (a, b)) in labels.zip(rows) {
            println!("| {label} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2}× |", a.0, a.1, b.0, b.1, b.0 / a.0.max(0.001));
        }
        println!(
            "\nrestore (in memory, totals of that size + {} / {} recent votes): {:.1} ms @{small}, {:.1} ms @{large}",
            small.min(100_000),
            large.min(100_000),
            small_result.restore_ms,
            large_result.restore_ms
        );
        let votes = env_number("BENCH_STORE_VOTES", 20_000);
        println!("\nstart-up rebuild from storage ({votes} votes cast through the writer):\n");
        println!("| window | rebuild ms | rows read | day scores restored |");
        println!("|---|---|---|---|");
        for (label, ms, read, replayed) in store_rebuild(votes).await {
            println!("| {label} | {ms:.1} | {read} | {replayed} |");
        }
    });
}
