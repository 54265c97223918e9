//! Soak benchmark (issue #18): `cargo bench --bench soak`. Not a test: it
//! prints a table and never fails.
//!
//! Starts the release server on a temp data dir with the demo season, then:
//!
//! 1. measures capacity for `SOAK_CAPACITY_SECS` (default 5): the request
//!    mix below, closed loop over 32 keep-alive connections;
//! 2. for `SOAK_SECS` (default 600) offers half of that rate, open loop (each
//!    connection on a fixed schedule; latency counted from the scheduled
//!    time, so a server falling behind shows in p99): votes (`POST
//!    /api/vote`, each from a new voter through a distinct `X-Forwarded-For`,
//!    or one of `SOAK_CLIENTS` addresses in turn when set)
//!    4 in 10, the feed (`GET /api/vote`) 4 in 10, pages (arena, story,
//!    leaderboard, a clip, the film library) 2 in 10; beside it, at fixed
//!    rates: a comment every 500 ms and a comment-thread read every second
//!    from four signed-in users, an upload of a demo clip (made unique by a
//!    trailing `free` box) every 10 s, and `SOAK_SSE` (default 40) SSE
//!    clients on `/api/live`, each staying 5–40 s and then replaced by a new
//!    one;
//! 3. every 10 s prints a row: the server's RSS and open descriptors
//!    (`/proc/PID/status`, `/proc/PID/fd`), the writer queue depth (from
//!    `/metrics`), live SSE clients, and the window's requests, rate, p99,
//!    non-2xx and connection errors;
//! 4. at the end prints the growth of RSS and descriptors from the first row
//!    after warm-up (`SOAK_WARMUP_SECS`, default 60) to the last row, and to
//!    the largest row after warm-up; stops the server with SIGTERM and runs
//!    `aimoviez check` on the data dir.
//!
//! Knobs (env): SOAK_SECS, SOAK_WARMUP_SECS, SOAK_CAPACITY_SECS, SOAK_SSE,
//! SOAK_RATE (offered req/s instead of half the measured capacity),
//! SOAK_CLIENTS (cycle the raw mix over this many client addresses, so the
//! per-client tables — rate limits, seen-sets, fraud signals — reach a
//! steady size; default 0, a new address per request), SOAK_SERVER (the
//! server binary to soak; default the one built with this bench, so two
//! builds can be compared side by side).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;
use common::{BINARY, SplitMix, read_response, start_server};

const CONNECTIONS: u64 = 32;
const PASSWORD: &str = "correct horse battery";
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
const DEMO_CLIPS: [&[u8]; 4] = [
    include_bytes!("../data/demo/clip1.mp4"),
    include_bytes!("../data/demo/clip2.mp4"),
    include_bytes!("../data/demo/clip3.mp4"),
    include_bytes!("../data/demo/clip4.mp4"),
];

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.replace('_', "").parse().ok()).unwrap_or(default)
}

/// What one sampling window saw, shared by every load task.
struct Window {
    histogram: Histogram<u64>,
    requests: u64,
    non_2xx: u64,
    errors: u64,
}

impl Window {
    fn new() -> Window {
        Window {
            histogram: Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram"),
            requests: 0,
            non_2xx: 0,
            errors: 0,
        }
    }
}

/// Load shared between the tasks: the current window, totals per kind, and
/// the stop flag.
struct Load {
    window: Mutex<Window>,
    stop: AtomicBool,
    voters: AtomicU64,
    /// Distinct client addresses the raw mix cycles through (0: no limit).
    clients: u64,
    sse_live: AtomicU64,
    sse_joined: AtomicU64,
    totals: Mutex<std::collections::BTreeMap<(&'static str, u16), u64>>,
}

impl Load {
    fn record(&self, kind: &'static str, status: u16, latency: Duration) {
        let mut window = self.window.lock();
        window.requests += 1;
        if !(200..300).contains(&status) {
            window.non_2xx += 1;
        }
        let _ = window.histogram.record((latency.as_micros() as u64).max(1));
        drop(window);
        *self.totals.lock().entry((kind, status)).or_default() += 1;
    }

    fn error(&self, kind: &'static str) {
        self.window.lock().errors += 1;
        *self.totals.lock().entry((kind, 0)).or_default() += 1;
    }

    /// The next client address of the raw mix: a new one each time, or
    /// one of `clients` in turn.
    fn next_client(&self) -> u64 {
        let n = self.voters.fetch_add(1, Ordering::Relaxed);
        if self.clients == 0 { n } else { n % self.clients + 1 }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// The `n`-th request of the raw mix: 4 votes, 4 feeds, 2 pages in 10, each
/// from a new client address.
fn mix_request(n: u64, voter: u64, host: &str, clips: &[u64], season: u64) -> (&'static str, Vec<u8>) {
    let ip = format!("10.{}.{}.{}", (voter >> 16) & 0xff, (voter >> 8) & 0xff, voter & 0xff);
    let clip = clips[(voter as usize) % clips.len()];
    let get = |path: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: soak\r\nX-Forwarded-For: {ip}\r\n\r\n").into_bytes()
    };
    match n % 10 {
        0 | 3 | 5 | 8 => {
            let body = format!("{{\"clipId\":{clip}}}");
            let request = format!(
                "POST /api/vote HTTP/1.1\r\nHost: {host}\r\nUser-Agent: soak\r\nContent-Type: application/json\r\n\
                 X-Forwarded-For: {ip}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            ("vote", request.into_bytes())
        }
        1 | 4 | 6 | 9 => ("feed", get("/api/vote?limit=8")),
        2 => ("page", get(["/", "/story", "/leaderboard"][(n / 10 % 3) as usize])),
        _ => (
            "page",
            if (n / 10).is_multiple_of(2) { get(&format!("/clip/{clip}")) } else { get(&format!("/watch/{season}")) },
        ),
    }
}

/// One keep-alive connection sending the raw mix until `until`: closed loop
/// without `interval`, else on a fixed schedule. Reconnects after an error.
async fn mix_connection(
    address: SocketAddr,
    load: Arc<Load>,
    clips: Arc<Vec<u64>>,
    season: u64,
    first: u64,
    interval: Option<Duration>,
    until: Instant,
) {
    let host = address.to_string();
    let mut stream: Option<TcpStream> = None;
    let mut buffer = Vec::with_capacity(16384);
    let mut scheduled = Instant::now()
        + interval.map_or(Duration::ZERO, |i| i.mul_f64((first % CONNECTIONS) as f64 / CONNECTIONS as f64));
    let mut n = first;
    while Instant::now() < until && !load.stopped() {
        // Open loop: latency counts from the scheduled time.
        let sent = match interval {
            Some(interval) => {
                tokio::time::sleep_until(scheduled.into()).await;
                scheduled += interval;
                scheduled - interval
            }
            None => Instant::now(),
        };
        let voter = load.next_client();
        let (kind, request) = mix_request(n, voter, &host, &clips, season);
        n += 1;
        if stream.is_none() {
            match TcpStream::connect(address).await {
                Ok(connected) => {
                    let _ = connected.set_nodelay(true);
                    stream = Some(connected);
                }
                Err(_) => {
                    load.error(kind);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        }
        let Some(connection) = stream.as_mut() else { continue };
        let result = async {
            connection.write_all(&request).await?;
            read_response(connection, &mut buffer).await
        }
        .await;
        match result {
            Ok((status, _)) => load.record(kind, status, sent.elapsed()),
            Err(_) => {
                load.error(kind);
                stream = None;
            }
        }
    }
}

/// An SSE client: subscribes to `/api/live`, reads for `stay`, leaves.
async fn sse_client(address: SocketAddr, load: Arc<Load>, stay: Duration) {
    let Ok(mut stream) = TcpStream::connect(address).await else {
        load.error("sse");
        return;
    };
    // Each client from its own address: from one, the read limit (120 a
    // minute) refused most joins with 429 in the first run.
    let client = load.next_client();
    let request = format!(
        "GET /api/live HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\nX-Forwarded-For: 10.{}.{}.{}\r\n\r\n",
        (client >> 16) & 0xff,
        (client >> 8) & 0xff,
        client & 0xff
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        load.error("sse");
        return;
    }
    load.sse_live.fetch_add(1, Ordering::Relaxed);
    load.sse_joined.fetch_add(1, Ordering::Relaxed);
    let leave = Instant::now() + stay;
    let mut chunk = [0u8; 8192];
    let mut first = true;
    let started = Instant::now();
    loop {
        match tokio::time::timeout_at(leave.into(), stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                load.error("sse");
                break;
            }
            Ok(Ok(read)) => {
                if first {
                    first = false;
                    let status = std::str::from_utf8(&chunk[..read])
                        .ok()
                        .and_then(|head| head.split(' ').nth(1)?.parse().ok())
                        .unwrap_or(0);
                    load.record("sse", status, started.elapsed());
                }
            }
            Err(_) => break,
        }
        if load.stopped() {
            break;
        }
    }
    load.sse_live.fetch_sub(1, Ordering::Relaxed);
}

/// Keeps `clients` SSE clients connected, each for 5–40 s.
async fn sse_churn(address: SocketAddr, load: Arc<Load>, clients: u64) {
    let mut random = SplitMix(7);
    let mut tasks = tokio::task::JoinSet::new();
    while !load.stopped() {
        while (tasks.len() as u64) < clients {
            let stay = Duration::from_millis(5_000 + random.next() % 35_000);
            tasks.spawn(sse_client(address, load.clone(), stay));
        }
        tokio::select! {
            _ = tasks.join_next() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
    while tasks.join_next().await.is_some() {}
}

async fn signed_in(address: SocketAddr, name: &str) -> reqwest::Client {
    let client = reqwest::Client::builder().cookie_store(true).user_agent("soak").build().expect("client");
    let response = client
        .post(format!("http://{address}/api/auth/register"))
        .json(&json!({ "username": name, "password": PASSWORD }))
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), 201, "register {name}");
    client
}

/// Comments (one every 500 ms, round robin over four users and the clips)
/// and comment-thread reads (one a second).
async fn commenters(address: SocketAddr, load: Arc<Load>, clips: Arc<Vec<u64>>) {
    let mut users = Vec::new();
    for n in 0..4 {
        users.push(signed_in(address, &format!("soak_commenter_{n}")).await);
    }
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut n = 0usize;
    while !load.stopped() {
        tick.tick().await;
        let clip = clips[n % clips.len()];
        let user = &users[n % users.len()];
        let started = Instant::now();
        let (kind, request) = if n.is_multiple_of(2) {
            let body = json!({ "clipId": clip, "body": format!("soak comment {n}") });
            ("comment", user.post(format!("http://{address}/api/comments")).json(&body))
        } else {
            let client = load.next_client();
            let ip = format!("10.{}.{}.{}", (client >> 16) & 0xff, (client >> 8) & 0xff, client & 0xff);
            (
                "comments",
                user.get(format!("http://{address}/api/comments?clipId={clip}&limit=20")).header("X-Forwarded-For", ip),
            )
        };
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let _ = response.bytes().await;
                load.record(kind, status, started.elapsed());
            }
            Err(_) => load.error(kind),
        }
        n += 1;
    }
}

/// A demo clip made unique by a trailing MP4 `free` box, so every upload
/// is a new file (identical bytes would share the stored one).
fn unique_clip(n: usize) -> Vec<u8> {
    let video = DEMO_CLIPS[n % DEMO_CLIPS.len()];
    let extra = 8 + n;
    let mut bytes = Vec::with_capacity(video.len() + extra);
    bytes.extend_from_slice(video);
    bytes.extend_from_slice(&u32::try_from(extra).expect("box size").to_be_bytes());
    bytes.extend_from_slice(b"free");
    bytes.resize(video.len() + extra, 0);
    bytes
}

/// An upload every 10 s, each by a new user (a creator's pending clips are
/// limited).
async fn uploader(address: SocketAddr, load: Arc<Load>) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let mut n = 0usize;
    while !load.stopped() {
        tick.tick().await;
        if load.stopped() {
            break;
        }
        let user = signed_in(address, &format!("soak_creator_{n}")).await;
        let form = reqwest::multipart::Form::new()
            .text("title", format!("Soak upload {n}"))
            .text("description", "soak bench")
            .text("genre", "sci-fi")
            .part(
                "file",
                reqwest::multipart::Part::bytes(unique_clip(n))
                    .file_name("soak.mp4")
                    .mime_str("video/mp4")
                    .expect("mime"),
            );
        let started = Instant::now();
        match user.post(format!("http://{address}/api/upload")).multipart(form).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                if status != 201 && n < 3 {
                    eprintln!("upload {n} answered {status}: {body}");
                }
                load.record("upload", status, started.elapsed());
            }
            Err(_) => load.error("upload"),
        }
        n += 1;
    }
}

/// A server sample.
#[derive(Clone, Copy)]
struct Sample {
    at: Duration,
    rss_kib: u64,
    fds: u64,
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn open_fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|dir| dir.count() as u64).unwrap_or(0)
}

async fn queue_depth(client: &reqwest::Client, address: SocketAddr) -> Option<u64> {
    let text = client.get(format!("http://{address}/metrics")).send().await.ok()?.text().await.ok()?;
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| line.split_whitespace().next().is_some_and(|name| name.ends_with("writer_queue_depth")))
        .and_then(|line| line.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|value| value as u64)
}

async fn json(client: &reqwest::Client, url: String) -> Value {
    client.get(url).send().await.expect("get").json().await.expect("json")
}

fn growth(from: u64, to: u64) -> f64 {
    (to as f64 - from as f64) / (from.max(1) as f64) * 100.0
}

fn main() {
    let secs = env_or("SOAK_SECS", 600);
    let warmup = Duration::from_secs(env_or("SOAK_WARMUP_SECS", 60));
    let capacity_secs = env_or("SOAK_CAPACITY_SECS", 5);
    let sse_clients = env_or("SOAK_SSE", 40);
    let binary = std::env::var("SOAK_SERVER").unwrap_or_else(|_| BINARY.to_owned());
    let data = tempfile::tempdir().expect("temp dir");
    let server = start_server(
        &binary,
        data.path(),
        &["--demo"],
        &[
            // Comments, uploads and sign-ups come from one address here;
            // votes, the feed and pages come from a new address each and
            // keep their limits.
            ("AIMOVIEZ_RATE_LIMITS_COMMENT", "0"),
            ("AIMOVIEZ_RATE_LIMITS_UPLOAD", "0"),
            ("AIMOVIEZ_RATE_LIMITS_AUTH", "0"),
            ("AIMOVIEZ_MEDIA_FFMPEG", "off"),
        ],
    );
    let address = server.address;
    let pid = server.child.id();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let load = Arc::new(Load {
        window: Mutex::new(Window::new()),
        stop: AtomicBool::new(false),
        voters: AtomicU64::new(1),
        clients: env_or("SOAK_CLIENTS", 0),
        sse_live: AtomicU64::new(0),
        sse_joined: AtomicU64::new(0),
        totals: Mutex::new(Default::default()),
    });
    let plain = reqwest::Client::builder().user_agent("soak").build().expect("client");
    let (season, clips) = runtime.block_on(async {
        let story = json(&plain, format!("http://{address}/api/story")).await;
        let feed = json(&plain, format!("http://{address}/api/vote?limit=20")).await;
        let clips: Vec<u64> =
            feed["clips"].as_array().expect("clips").iter().filter_map(|clip| clip["id"].as_u64()).collect();
        (story["season"]["id"].as_u64().expect("season"), clips)
    });
    assert!(!clips.is_empty(), "the demo slot has clips");
    let clips = Arc::new(clips);

    // 1. Capacity: the raw mix, closed loop.
    let capacity = runtime.block_on(async {
        let until = Instant::now() + Duration::from_secs(capacity_secs);
        let started = Instant::now();
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|n| tokio::spawn(mix_connection(address, load.clone(), clips.clone(), season, n, None, until)))
            .collect();
        for task in tasks {
            let _ = task.await;
        }
        let window = std::mem::replace(&mut *load.window.lock(), Window::new());
        window.requests as f64 / started.elapsed().as_secs_f64()
    });
    let rate = std::env::var("SOAK_RATE").ok().and_then(|r| r.parse().ok()).unwrap_or(capacity / 2.0).max(1.0);
    load.totals.lock().clear();
    let clients = match load.clients {
        0 => "a new client address per request".to_owned(),
        n => format!("{n} client addresses in turn"),
    };
    println!(
        "soak: {secs} s, {clients}; capacity {capacity:.0} req/s (closed loop, {CONNECTIONS} connections, {capacity_secs} s); \
         offering {rate:.0} req/s of votes/feed/pages + comments 2/s + an upload every 10 s + {sse_clients} SSE clients"
    );
    println!();
    println!("| t (s) | RSS MiB | fds | writer queue | SSE clients | requests | req/s | p99 ms | non-2xx | errors |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");

    // 2. The soak, sampled every 10 s.
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let samples = runtime.block_on(async {
        let interval = Duration::from_secs_f64(CONNECTIONS as f64 / rate);
        let mut tasks: Vec<_> = (0..CONNECTIONS)
            .map(|n| {
                tokio::spawn(mix_connection(address, load.clone(), clips.clone(), season, n, Some(interval), until))
            })
            .collect();
        tasks.push(tokio::spawn(sse_churn(address, load.clone(), sse_clients)));
        tasks.push(tokio::spawn(commenters(address, load.clone(), clips.clone())));
        tasks.push(tokio::spawn(uploader(address, load.clone())));
        let mut samples = Vec::new();
        let mut next = started + SAMPLE_EVERY;
        while next <= until {
            tokio::time::sleep_until(next.into()).await;
            let window = std::mem::replace(&mut *load.window.lock(), Window::new());
            let sample = Sample { at: started.elapsed(), rss_kib: rss_kib(pid), fds: open_fds(pid) };
            let depth = queue_depth(&plain, address).await.map_or("-".to_owned(), |d| d.to_string());
            println!(
                "| {:.0} | {:.1} | {} | {} | {} | {} | {:.0} | {:.1} | {} | {} |",
                sample.at.as_secs_f64(),
                sample.rss_kib as f64 / 1024.0,
                sample.fds,
                depth,
                load.sse_live.load(Ordering::Relaxed),
                window.requests,
                window.requests as f64 / SAMPLE_EVERY.as_secs_f64(),
                window.histogram.value_at_quantile(0.99) as f64 / 1000.0,
                window.non_2xx,
                window.errors,
            );
            samples.push(sample);
            next += SAMPLE_EVERY;
        }
        load.stop.store(true, Ordering::Relaxed);
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(60), task).await;
        }
        samples
    });

    // 3. Growth after warm-up, then a clean stop and `check`.
    println!();
    println!("| kind | status | responses |");
    println!("|---|---:|---:|");
    for ((kind, status), count) in load.totals.lock().iter() {
        let status = if *status == 0 { "error".to_owned() } else { status.to_string() };
        println!("| {kind} | {status} | {count} |");
    }
    println!("SSE clients joined: {}", load.sse_joined.load(Ordering::Relaxed));
    let after_warmup: Vec<&Sample> = samples.iter().filter(|sample| sample.at >= warmup).collect();
    if let (Some(first), Some(last)) = (after_warmup.first(), after_warmup.last()) {
        let max_rss = after_warmup.iter().map(|s| s.rss_kib).max().unwrap_or(0);
        let max_fds = after_warmup.iter().map(|s| s.fds).max().unwrap_or(0);
        println!();
        println!(
            "after warm-up ({:.0} s → {:.0} s): RSS {:.1} → {:.1} MiB ({:+.1}%, largest {:+.1}%); \
             fds {} → {} ({:+.1}%, largest {:+.1}%); goal ≤ 10%",
            first.at.as_secs_f64(),
            last.at.as_secs_f64(),
            first.rss_kib as f64 / 1024.0,
            last.rss_kib as f64 / 1024.0,
            growth(first.rss_kib, last.rss_kib),
            growth(first.rss_kib, max_rss),
            first.fds,
            last.fds,
            growth(first.fds, last.fds),
            growth(first.fds, max_fds),
        );
    } else {
        println!("the run ended before its warm-up did: no growth figure");
    }
    let mut server = server;
    let stopped = Command::new("kill").args(["-TERM", &pid.to_string()]).status().is_ok_and(|s| s.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut exit = None;
    while stopped && Instant::now() < deadline {
        if let Ok(Some(status)) = server.child.try_wait() {
            exit = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("server stopped by SIGTERM: {exit:?}");
    drop(server);
    let file = data.path().join("aimoviez.redb");
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!("data file: {:.1} MB", size as f64 / 1e6);
    print_check(&binary, data.path());
}

fn print_check(binary: &str, data: &Path) {
    match Command::new(binary).args(["check", "--data"]).arg(data).output() {
        Ok(output) => println!(
            "aimoviez check (exit {:?}): {}{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) => println!("aimoviez check did not run: {error}"),
    }
}
