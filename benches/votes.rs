//! Vote load harness (`cargo bench --bench votes`). Not a test: it prints a
//! table and never fails on timing.
//!
//! It seeds a fresh data dir with one active slot of 50 clips, starts the
//! release binary on it, and drives it over loopback from this process with
//! a small keep-alive HTTP/1.1 client. Every vote comes from a distinct voter
//! (a distinct `X-Forwarded-For` through the trusted-loopback-proxy path).
//! Each row opens its connections and has each answered once before its
//! clock starts. Closed loop (each connection sends its next request when
//! the last is answered) measures throughput; open loop (each connection
//! offers one vote per second on a fixed schedule, latency measured from the
//! scheduled time) measures latency at a fixed offered rate: at 10,000
//! connections it offers half the hot-clip rate the closed loop measured at
//! the first connection count of the same run (the capacity), so the row
//! shows the latency of a server that is busy but keeping up. `GET
//! /api/health` in the same run is the ceiling the vote rates are compared
//! with.
//!
//! The floor rows run the same load against a bare axum server on hyper with
//! the same connection settings and allocator (this binary again, in a child
//! process), whose vote handler parses the JSON body and answers a body of the
//! real answer's size without doing any work. They say what this machine and
//! this client can do at all, so a run on a slower or busier machine can be
//! read against them: the table's last line gives the hot-clip rate as a
//! share of the floor's vote rate. After the run it prints `aimoviez check`
//! and the data file's bytes per stored vote.
//!
//! Knobs (env): BENCH_SECS (default 8), BENCH_CONNECTIONS (default
//! "1000,10000"), BENCH_OPEN_RATE (offered votes/s of the open-loop row,
//! instead of half the measured capacity), BENCH_VOTES_SERVER (server binary;
//! default the release binary built with this bench), BENCH_FLOOR=0 (skip
//! the floor rows).

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;
use common::{BINARY, Server, free_address, read_response, seed, start_server};

// The floor server runs in this binary; the same allocator as `aimoviez`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CLIPS: u64 = 50;

/// Set in the child process that serves the floor rows: the address to
/// listen on.
const FLOOR_LISTEN: &str = "AIMOVIEZ_VOTES_FLOOR_LISTEN";

#[derive(Clone, Copy, Debug)]
enum Target {
    Health,
    HotClip,
    Skewed,
}

#[derive(Clone, Copy, Debug)]
enum Shape {
    Closed,
    /// Offered requests per second across all connections.
    Open(u64),
}

struct RunResult {
    requests: u64,
    errors: u64,
    non_2xx: u64,
    seconds: f64,
    histogram: Histogram<u64>,
    /// The 100-ms windows of the row (by when the request was due) with an
    /// answer slower than 100 ms: few windows mean stalls, many mean queueing.
    slow_windows: std::collections::BTreeSet<u64>,
}

/// A zipf-like pick over 50 clips: clip 1 gets the most votes, then 2, ...
fn skewed_clip(random: u64) -> u64 {
    let weights: Vec<f64> = (1..=CLIPS).map(|k| 1.0 / k as f64).collect();
    let total: f64 = weights.iter().sum();
    let mut point = (random % 1_000_000) as f64 / 1_000_000.0 * total;
    for (index, weight) in weights.iter().enumerate() {
        if point < *weight {
            return index as u64 + 1;
        }
        point -= weight;
    }
    CLIPS
}

fn request_bytes(target: Target, voter: u64, host: &str) -> Vec<u8> {
    match target {
        Target::Health => format!("GET /api/health HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes(),
        Target::HotClip | Target::Skewed => {
            let clip = match target {
                Target::HotClip => 1,
                _ => skewed_clip(voter.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11),
            };
            let body = format!("{{\"clipId\":{clip}}}");
            let ip = format!("10.{}.{}.{}", (voter >> 16) & 0xff, (voter >> 8) & 0xff, voter & 0xff);
            format!(
                "POST /api/vote HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench\r\nContent-Type: application/json\r\n\
                 X-Forwarded-For: {ip}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        }
    }
}

async fn run(
    address: SocketAddr,
    target: Target,
    shape: Shape,
    connections: u64,
    secs: u64,
    voters: Arc<AtomicU64>,
) -> RunResult {
    let host = address.to_string();
    let mut streams = Vec::with_capacity(connections as usize);
    for _ in 0..connections {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        streams.push(stream);
    }
    // One answer on every connection before the clock starts: the window
    // then measures the steady state, not the server accepting these
    // connections while it closes the previous row's (which stalls the
    // first half second of an open-loop row at 10,000 connections).
    let health = request_bytes(Target::Health, 0, &host);
    let primed = futures_util::future::join_all(streams.iter_mut().map(|stream| {
        let health = &health;
        async move {
            let mut buffer = Vec::new();
            stream.write_all(health).await?;
            read_response(stream, &mut buffer).await
        }
    }))
    .await;
    let failed = primed.iter().filter(|answer| answer.is_err()).count();
    if failed > 0 {
        eprintln!("warning: {failed} of {connections} connections did not answer before the run");
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let tasks: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(index, mut stream)| {
            let (host, voters) = (host.clone(), voters.clone());
            tokio::spawn(async move {
                let mut histogram = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3).expect("histogram");
                let (mut requests, mut errors, mut non_2xx) = (0u64, 0u64, 0u64);
                let mut buffer = Vec::with_capacity(4096);
                let mut slow_windows = std::collections::BTreeSet::new();
                // Open loop: this connection's share of the offered rate, on a fixed schedule.
                let interval = match shape {
                    Shape::Open(rate) => Some(Duration::from_secs_f64(connections as f64 / rate as f64)),
                    Shape::Closed => None,
                };
                let mut scheduled =
                    started + interval.map_or(Duration::ZERO, |i| i.mul_f64(index as f64 / connections as f64));
                loop {
                    if interval.is_some() {
                        if scheduled >= deadline {
                            break;
                        }
                        tokio::time::sleep_until(scheduled.into()).await;
                    } else if Instant::now() >= deadline {
                        break;
                    }
                    let sent_at = if interval.is_some() { scheduled } else { Instant::now() };
                    let voter = voters.fetch_add(1, Ordering::Relaxed);
                    let request = request_bytes(target, voter, &host);
                    let result = async {
                        stream.write_all(&request).await?;
                        read_response(&mut stream, &mut buffer).await.map(|(status, _)| status)
                    }
                    .await;
                    match result {
                        Ok(status) => {
                            requests += 1;
                            if !(200..300).contains(&status) {
                                non_2xx += 1;
                            }
                            let micros = sent_at.elapsed().as_micros() as u64;
                            if micros > 100_000 {
                                slow_windows.insert(sent_at.duration_since(started).as_millis() as u64 / 100);
                            }
                            let _ = histogram.record(micros.max(1));
                        }
                        Err(_) => {
                            errors += 1;
                            break;
                        }
                    }
                    if let Some(interval) = interval {
                        scheduled += interval;
                    }
                }
                (requests, errors, non_2xx, histogram, slow_windows)
            })
        })
        .collect();
    let mut total = RunResult {
        requests: 0,
        errors: 0,
        non_2xx: 0,
        seconds: 0.0,
        histogram: Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram"),
        slow_windows: Default::default(),
    };
    for task in tasks {
        let (requests, errors, non_2xx, histogram, slow_windows) = task.await.expect("task");
        total.slow_windows.extend(slow_windows);
        total.requests += requests;
        total.errors += errors;
        total.non_2xx += non_2xx;
        let _ = total.histogram.add(histogram);
    }
    total.seconds = started.elapsed().as_secs_f64().max(secs as f64);
    total
}

/// The floor server: `aimoviez serve`'s hyper settings (HTTP/1.1 keep-alive,
/// `TCP_NODELAY`, one task per connection) and an axum router with two
/// handlers that do no work. Runs until the parent kills it.
fn serve_floor(address: SocketAddr) -> ! {
    use axum::routing::{get, post};
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::Service;

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Vote {
        clip_id: u64,
    }
    async fn vote(axum::Json(vote): axum::Json<Vote>) -> axum::Json<serde_json::Value> {
        // The real answer's fields and size, none of its work.
        axum::Json(serde_json::json!({
            "success": true, "clipId": vote.clip_id, "voteType": "standard", "newScore": 1, "voteCount": 1,
            "totalVotesToday": 1, "remainingVotes": {"standard": 199, "super": 1, "mega": 1},
            "receipt": {"voteId": 1, "season": 1, "position": 1},
        }))
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(address).await.expect("bind the floor server");
        let router = axum::Router::new()
            .route("/api/health", get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }))
            .route("/api/vote", post(vote));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).keep_alive(true);
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let (http, router) = (http.clone(), router.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    router.clone().call(request.map(axum::body::Body::new))
                });
                let _ = http.serve_connection(TokioIo::new(stream), service).await;
            });
        }
    })
}

/// Starts this binary again as the floor server.
fn start_floor() -> Server {
    let address = free_address();
    let mut command = Command::new(std::env::current_exe().expect("this bench's path"));
    command.env(FLOOR_LISTEN, address.to_string());
    Server::spawn(command, address)
}

/// The writer's totals from /metrics.
#[derive(Clone, Copy, Default)]
struct WriterTotals {
    batches: f64,
    commands: f64,
    commit_seconds: f64,
    /// Commits that took at most 100 ms (a histogram bucket): the rest are
    /// the stalls an open-loop p99 shows.
    commits_within_100ms: f64,
}

/// Reads the writer's totals from /metrics.
async fn writer_totals(address: SocketAddr) -> WriterTotals {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut text = String::new();
    stream.read_to_string(&mut text).await.expect("read");
    let value = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.trim().parse::<f64>().ok()))
            .unwrap_or(0.0)
    };
    WriterTotals {
        batches: value("aimoviez_writer_batches_total "),
        commands: value("aimoviez_writer_commands_total "),
        commit_seconds: value("aimoviez_writer_commit_seconds_sum "),
        commits_within_100ms: value("aimoviez_writer_commit_seconds_bucket{le=\"0.1\"} "),
    }
}

fn main() {
    if let Ok(address) = std::env::var(FLOOR_LISTEN) {
        serve_floor(address.parse().expect("the floor server's address"));
    }
    let secs: u64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let connection_counts: Vec<u64> = std::env::var("BENCH_CONNECTIONS")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    // Client sockets only: the server is another process with its own limit.
    let wanted = connection_counts.iter().max().copied().unwrap_or(1000) + 1024;
    match rlimit::increase_nofile_limit(wanted) {
        Ok(limit) if limit < wanted => eprintln!("warning: open-file limit is {limit}; large runs may fail"),
        Ok(_) => {}
        Err(error) => eprintln!("warning: cannot raise the open-file limit: {error}"),
    }
    let data = tempfile::tempdir().expect("tempdir");
    seed(data.path(), CLIPS);
    let binary = std::env::var("BENCH_VOTES_SERVER").unwrap_or_else(|_| BINARY.to_owned());
    let open_rate: Option<u64> = std::env::var("BENCH_OPEN_RATE").ok().and_then(|s| s.parse().ok());
    let server = start_server(&binary, data.path(), &[], &[]);
    let floor = (std::env::var("BENCH_FLOOR").as_deref() != Ok("0")).then(start_floor);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let voters = Arc::new(AtomicU64::new(1));
    println!(
        "\n| scenario | connections | shape | req/s | ratio to health | p50 ms | p99 ms | non-2xx | errors | mean batch | commit ms | commits > 100 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    runtime.block_on(async {
        // Warm up connections, caches and the page cache.
        let _ = run(server.address, Target::HotClip, Shape::Closed, 64, 1, voters.clone()).await;
        if let Some(floor) = &floor {
            let _ = run(floor.address, Target::HotClip, Shape::Closed, 64, 1, voters.clone()).await;
        }
        // Hot-clip votes/s of the first closed-loop run: the capacity the
        // open-loop row offers half of.
        let mut capacity: Option<f64> = None;
        let mut floor_vote_rate: Option<f64> = None;
        // Lines printed under the table.
        let mut notes = Vec::new();
        for &connections in &connection_counts {
            let (mut health_rate, mut floor_health_rate) = (0.0, 0.0);
            let mut scenarios = Vec::new();
            // The floor just before the app, at the first connection count,
            // so both are measured in the same minutes.
            if let (Some(floor), None) = (&floor, floor_vote_rate) {
                scenarios.push(("floor: bare axum, health", floor.address, Target::Health, Shape::Closed));
                scenarios.push(("floor: bare axum, vote doing no work", floor.address, Target::HotClip, Shape::Closed));
            }
            scenarios.extend([
                ("health", server.address, Target::Health, Shape::Closed),
                ("vote, one hot clip", server.address, Target::HotClip, Shape::Closed),
                ("vote, skewed over 50 clips", server.address, Target::Skewed, Shape::Closed),
            ]);
            let mut open_row_added = false;
            let mut index = 0;
            while index < scenarios.len() {
                let (name, address, target, shape) = scenarios[index];
                index += 1;
                let is_floor = address != server.address;
                let before = if is_floor { WriterTotals::default() } else { writer_totals(server.address).await };
                let result = run(address, target, shape, connections, secs, voters.clone()).await;
                let after = if is_floor { before } else { writer_totals(server.address).await };
                let rate = result.requests as f64 / result.seconds;
                match (is_floor, target) {
                    (true, Target::Health) => floor_health_rate = rate,
                    (true, _) => floor_vote_rate = Some(rate),
                    (false, Target::Health) => health_rate = rate,
                    (false, _) => {}
                }
                if !is_floor && matches!((target, shape), (Target::HotClip, Shape::Closed)) {
                    capacity.get_or_insert(rate);
                    if connections >= 10_000 && !open_row_added {
                        let offered = open_rate.unwrap_or((capacity.unwrap_or(rate) / 2.0) as u64).max(1);
                        scenarios.push(("vote, one hot clip", server.address, Target::HotClip, Shape::Open(offered)));
                        open_row_added = true;
                    }
                }
                let batches = after.batches - before.batches;
                let (mean_batch, commit_ms) = if batches > 0.0 {
                    (
                        (after.commands - before.commands) / batches,
                        (after.commit_seconds - before.commit_seconds) / batches * 1000.0,
                    )
                } else {
                    (0.0, 0.0)
                };
                let slow_commits = batches - (after.commits_within_100ms - before.commits_within_100ms);
                if let Shape::Open(offered) = shape {
                    notes.push(format!(
                        "open loop, {offered}/s over {connections} connections: answers over 100 ms were due in {} of \
                         the row's {} 100-ms windows (few: stalls; many: queueing)",
                        result.slow_windows.len(),
                        secs * 10
                    ));
                }
                let shape_text = match shape {
                    Shape::Closed => "closed".to_owned(),
                    Shape::Open(rate) => format!("open {rate}/s"),
                };
                println!(
                    "| {name} | {connections} | {shape_text} | {rate:.0} | {:.2} | {:.1} | {:.1} | {} | {} | {} | {} | {} |",
                    rate / if is_floor { floor_health_rate } else { health_rate }.max(1.0),
                    result.histogram.value_at_quantile(0.5) as f64 / 1000.0,
                    result.histogram.value_at_quantile(0.99) as f64 / 1000.0,
                    result.non_2xx,
                    result.errors,
                    if batches > 0.0 { format!("{mean_batch:.0}") } else { "-".into() },
                    if batches > 0.0 { format!("{commit_ms:.2}") } else { "-".into() },
                    if batches > 0.0 { format!("{slow_commits:.0}") } else { "-".into() },
                );
            }
        }
        println!();
        for note in notes {
            println!("{note}");
        }
        if let (Some(capacity), Some(floor_votes)) = (capacity, floor_vote_rate) {
            println!(
                "hot-clip votes at {} connections: {:.2} of the floor's vote rate",
                connection_counts.first().copied().unwrap_or(0),
                capacity / floor_votes.max(1.0)
            );
        }
    });
    drop(floor);
    drop(server);
    let check = Command::new(&binary).args(["check", "--data"]).arg(data.path()).output();
    match check {
        Ok(output) => {
            let stdout = String::from_utf8_lossy(&output.stdout);
            println!("\naimoviez check after the run: {}", stdout.trim());
            let votes: Option<u64> =
                stdout.split("checked ").nth(1).and_then(|rest| rest.split_whitespace().next()?.parse().ok());
            let bytes = std::fs::metadata(data.path().join("aimoviez.redb")).map(|m| m.len()).unwrap_or(0);
            if let Some(votes) = votes.filter(|votes| *votes > 0) {
                println!(
                    "data file: {bytes} bytes for {votes} votes = {:.0} bytes per vote",
                    bytes as f64 / votes as f64
                );
            }
        }
        Err(error) => println!("\naimoviez check could not run: {error}"),
    }
}
