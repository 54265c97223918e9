//! Live fan-out benchmark (`cargo bench --bench sse`). Not a test: it prints
//! a table and never fails on timing.
//!
//! It seeds a fresh data dir with one voting slot of 50 clips, starts the
//! release server binary on it, and opens as many `GET /api/live` clients as
//! asked. One process may hold at most 20,000 open files here, so the clients
//! are spread over several processes: this binary re-executes itself as
//! `sse-client <address> <connections> <clip> <first voter>`; each child
//! connects its share, reports `ready`, records when each connection receives
//! the `counts` event carrying a given vote count of the watched clip, and
//! prints the receive times (CLOCK_REALTIME, µs) when its stdin closes.
//!
//! Measured: the server's resident memory (`VmRSS`) and the kernel's slab
//! memory (`/proc/meminfo`, sockets live there) before and after the clients connect, so memory per
//! client; then, for each of a series of votes, the delay from the moment
//! `POST /api/vote` returned (the vote is committed) to the first, median
//! and last client receiving the new count. Both ends use the same host's
//! realtime clock. The delay includes the coalescing wait (events go out at
//! most every 250 ms); the spread between first and last client is the
//! fan-out itself. Votes are spaced by varying amounts so the coalescing wait
//! is sampled across its range. From these figures it extrapolates to
//! 100,000 clients (assumptions printed with the table).
//!
//! Knobs (env): BENCH_SSE_CLIENTS (default 19000), BENCH_SSE_PER_PROCESS
//! (default 5000), BENCH_SSE_VOTES (default 20), BENCH_SSE_SERVER (server
//! binary; default the release binary built with this bench).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;
use common::{BINARY, seed, start_server};

const CLIPS: u64 = 50;
/// The clip the votes go to.
const WATCHED_CLIP: u64 = 7;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

fn realtime_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "sse-client") {
        client_main(&args[at + 1..]);
        return;
    }
    parent_main();
}

// ---------------------------------------------------------------- server

/// `VmRSS` of a process in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Open descriptors of a process.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|dir| dir.count()).unwrap_or(0)
}

/// The soft "Max open files" of a process.
fn fd_limit(pid: u32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
    limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .unwrap_or("?")
        .to_owned()
}

/// Kernel slab memory in KiB (`/proc/meminfo` "Slab"): socket, file and
/// epoll structures of every connection live there. System-wide, so it
/// counts both loopback ends and any other activity on the host.
fn kernel_slab_kib() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("Slab:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Casts one vote for `clip` as a distinct voter; returns the new vote count
/// and the realtime µs at which the response was complete.
fn cast_vote(address: SocketAddr, voter: u64, clip: u64) -> Option<(u64, u64)> {
    let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(5)).ok()?;
    stream.set_nodelay(true).ok()?;
    // A server at its open-file limit leaves the connection in the backlog.
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let body = format!("{{\"clipId\":{clip}}}");
    let ip = format!("10.{}.{}.{}", (voter >> 16) & 0xff, (voter >> 8) & 0xff, voter & 0xff);
    let request = format!(
        "POST /api/vote HTTP/1.1\r\nHost: {address}\r\nUser-Agent: bench\r\nContent-Type: application/json\r\n\
         X-Forwarded-For: {ip}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let committed_at = realtime_micros();
    if !response.starts_with("HTTP/1.1 200") {
        eprintln!("vote refused: {}", response.lines().next().unwrap_or(""));
        return None;
    }
    let count = response.split("\"voteCount\":").nth(1)?;
    let digits: String = count.chars().take_while(char::is_ascii_digit).collect();
    Some((digits.parse().ok()?, committed_at))
}

// ---------------------------------------------------------------- parent

struct ClientProcess {
    child: Child,
    stdin: Option<ChildStdin>,
}

fn parent_main() {
    let clients = env_or("BENCH_SSE_CLIENTS", 19_000);
    let per_process = env_or("BENCH_SSE_PER_PROCESS", 5_000).max(1);
    let votes = env_or("BENCH_SSE_VOTES", 20).max(1);
    let own_limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    let data = tempfile::tempdir().expect("tempdir");
    seed(data.path(), CLIPS);
    // BENCH_SSE_SERVER: another build of the server (the shared target dir
    // may hold a different worktree's binary).
    let binary = std::env::var("BENCH_SSE_SERVER").unwrap_or_else(|_| BINARY.to_owned());
    let server = start_server(&binary, data.path(), &[], &[]);
    let pid = server.child.id();
    // Warm up: a few votes and one live client, so lazily built state exists.
    for voter in 0..5 {
        let _ = cast_vote(server.address, 900_000 + voter, 1);
    }
    std::thread::sleep(Duration::from_secs(1));
    let (rss_before, fds_before, kernel_before) = (rss_kib(pid), open_fds(pid), kernel_slab_kib());

    let processes = clients.div_ceil(per_process);
    let (lines_tx, lines_rx) = mpsc::channel::<(usize, String)>();
    let mut children = Vec::new();
    let exe = std::env::current_exe().expect("own path");
    for index in 0..processes {
        let count = per_process.min(clients - index * per_process);
        let mut child = Command::new(&exe)
            .args([
                "sse-client",
                &server.address.to_string(),
                &count.to_string(),
                &WATCHED_CLIP.to_string(),
                &(index * per_process + 1).to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn client process");
        let stdout = child.stdout.take().expect("stdout");
        let tx = lines_tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send((index as usize, line)).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        children.push(ClientProcess { child, stdin });
    }
    drop(lines_tx);

    // Wait for every process to connect its share.
    let connect_started = Instant::now();
    let mut ready = vec![None::<(u64, u64)>; children.len()];
    let mut pending_lines: Vec<(usize, String)> = Vec::new();
    while ready.iter().any(Option::is_none) {
        let Ok((index, line)) = lines_rx.recv_timeout(Duration::from_secs(300)) else {
            eprintln!("client processes did not report ready in time");
            break;
        };
        if let Some(rest) = line.strip_prefix("ready ") {
            let mut parts = rest.split_whitespace().map(|part| part.parse::<u64>().unwrap_or(0));
            ready[index] = Some((parts.next().unwrap_or(0), parts.next().unwrap_or(0)));
        } else {
            pending_lines.push((index, line));
        }
    }
    let connect_secs = connect_started.elapsed().as_secs_f64();
    let connected: u64 = ready.iter().flatten().map(|(ok, _)| ok).sum();
    let failed: u64 = ready.iter().flatten().map(|(_, failed)| failed).sum();
    std::thread::sleep(Duration::from_secs(2));
    let (rss_after, fds_after, kernel_after) = (rss_kib(pid), open_fds(pid), kernel_slab_kib());

    // Votes: each waits until every process saw its count (or 15 s pass).
    let mut committed: HashMap<u64, u64> = HashMap::new();
    let mut complete_rounds = 0;
    for round in 0..votes {
        // Spacing varies so the 250 ms coalescing wait is sampled across its range.
        std::thread::sleep(Duration::from_millis(300 + (round * 37) % 250));
        let Some((count, at)) = cast_vote(server.address, 500_000 + round, WATCHED_CLIP) else { continue };
        committed.insert(count, at);
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut seen = 0;
        while seen < children.len() && Instant::now() < deadline {
            match lines_rx.recv_timeout(Duration::from_millis(100)) {
                Ok((_, line)) if line == format!("seen {count}") => seen += 1,
                Ok(other) => pending_lines.push(other),
                Err(_) => {}
            }
        }
        if seen == children.len() {
            complete_rounds += 1;
        } else {
            eprintln!("vote {count}: only {seen} of {} processes saw it within 15 s", children.len());
        }
    }

    // Collect the receive times.
    for child in &mut children {
        drop(child.stdin.take());
    }
    let mut times: HashMap<u64, Vec<u64>> = HashMap::new();
    let mut lost = 0u64;
    let mut finished = 0;
    for (_, line) in std::mem::take(&mut pending_lines) {
        handle_result_line(&line, &mut times, &mut lost, &mut finished);
    }
    while finished < children.len() {
        let Ok((_, line)) = lines_rx.recv_timeout(Duration::from_secs(60)) else { break };
        handle_result_line(&line, &mut times, &mut lost, &mut finished);
    }
    for child in &mut children {
        let _ = child.child.wait();
    }
    // With every client gone the server must serve again (even after EMFILE).
    std::thread::sleep(Duration::from_secs(2));
    let server_alive = cast_vote(server.address, 800_000, 1).is_some();

    // Delays per vote: first, median, last client.
    let mut all = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("histogram");
    let mut lasts = Vec::new();
    let mut firsts = Vec::new();
    let mut received_min = u64::MAX;
    for (count, at) in &committed {
        let Some(received) = times.get_mut(count) else { continue };
        received.sort_unstable();
        received_min = received_min.min(received.len() as u64);
        let delays: Vec<u64> = received.iter().map(|t| t.saturating_sub(*at).max(1)).collect();
        for delay in &delays {
            let _ = all.record(*delay);
        }
        if let (Some(first), Some(last)) = (delays.first(), delays.last()) {
            firsts.push(*first);
            lasts.push(*last);
        }
    }
    lasts.sort_unstable();
    firsts.sort_unstable();
    let ms = |micros: u64| micros as f64 / 1000.0;
    let median = |values: &[u64]| values.get(values.len() / 2).copied().unwrap_or(0);
    let per_client_rss = (rss_after.saturating_sub(rss_before)) as f64 * 1024.0 / connected.max(1) as f64;
    // Loopback: both ends of each connection are sockets of this host.
    let per_client_kernel = (kernel_after.saturating_sub(kernel_before)) as f64 * 1024.0 / connected.max(1) as f64;
    let mut spreads: Vec<u64> = committed
        .keys()
        .filter_map(|count| {
            let received = times.get(count)?;
            Some(received.last()? - received.first()?)
        })
        .collect();
    spreads.sort_unstable();

    println!(
        "\nSSE fan-out: {connected} clients in {processes} processes ({failed} failed to connect, {lost} dropped)"
    );
    println!(
        "server open-file limit {} (this process {own_limit}); server fds {fds_before} → {fds_after}; \
         connected in {connect_secs:.1} s; {complete_rounds}/{votes} votes reached every process; \
         server {} after the run",
        fd_limit(pid),
        if server_alive { "still serving" } else { "NOT serving" }
    );
    println!("\n| measure | value |");
    println!("|---|---|");
    println!("| clients held | {connected} |");
    println!(
        "| server RSS before / after | {:.1} MiB / {:.1} MiB |",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
    println!("| server RSS per client | {:.2} KiB |", per_client_rss / 1024.0);
    println!("| kernel slab memory per client (both loopback ends) | {:.2} KiB |", per_client_kernel / 1024.0);
    println!(
        "| votes measured | {} (every client received {} of them) |",
        committed.len(),
        received_min.min(connected)
    );
    println!("| delay vote → first client, median | {:.1} ms |", ms(median(&firsts)));
    println!(
        "| delay vote → any client, p50 / p99 | {:.1} ms / {:.1} ms |",
        ms(all.value_at_quantile(0.5)),
        ms(all.value_at_quantile(0.99))
    );
    println!(
        "| delay vote → last client, median / max | {:.1} ms / {:.1} ms |",
        ms(median(&lasts)),
        ms(lasts.last().copied().unwrap_or(0))
    );
    println!(
        "| fan-out spread first → last client, median / max | {:.1} ms / {:.1} ms |",
        ms(median(&spreads)),
        ms(spreads.last().copied().unwrap_or(0))
    );

    let scale = 100_000.0 / connected.max(1) as f64;
    let rss_100k = rss_before as f64 / 1024.0 + per_client_rss * 100_000.0 / 1024.0 / 1024.0;
    let kernel_100k = per_client_kernel / 2.0 * 100_000.0 / 1024.0 / 1024.0;
    let last_100k = ms(median(&firsts)) + ms(median(&spreads)) * scale;
    let last_100k_max = ms(median(&firsts)) + ms(spreads.last().copied().unwrap_or(0)) * scale;
    println!("\nExtrapolated to 100,000 clients (×{scale:.2}):");
    println!("\n| measure | value |");
    println!("|---|---|");
    println!("| server RSS | {rss_100k:.0} MiB |");
    println!("| server-side kernel memory (half the loopback slab figure) | {kernel_100k:.0} MiB |");
    println!("| delay vote → last client, typical / worst | {last_100k:.0} ms / {last_100k_max:.0} ms |");
    println!(
        "\nAssumptions: memory grows linearly per client (measured slope); the fan-out spread grows linearly \
         with clients on the same 2 vCPUs (the event is formatted once; each client costs one wake-up and one \
         write); the coalescing wait (first client) does not depend on the client count; 100,000 clients need \
         an open-file limit above 100,000 (or several server processes behind a proxy), and clients on real \
         networks add their own latency."
    );
}

/// Takes one line of a client process's final report.
fn handle_result_line(line: &str, times: &mut HashMap<u64, Vec<u64>>, lost: &mut u64, finished: &mut usize) {
    if let Some(rest) = line.strip_prefix("times ") {
        let mut numbers = rest.split_whitespace().filter_map(|part| part.parse::<u64>().ok());
        if let Some(count) = numbers.next() {
            times.entry(count).or_default().extend(numbers);
        }
    } else if let Some(rest) = line.strip_prefix("end ") {
        *lost += rest.trim().parse::<u64>().unwrap_or(0);
        *finished += 1;
    }
}

// ---------------------------------------------------------------- client

/// Receive times per vote count, shared by one process's connections.
#[derive(Default)]
struct Received {
    times: HashMap<u64, Vec<u64>>,
    lost: u64,
}

fn client_main(args: &[String]) {
    let address: SocketAddr = args.first().and_then(|a| a.parse().ok()).expect("address");
    let count: u64 = args.get(1).and_then(|a| a.parse().ok()).expect("connection count");
    let clip: u64 = args.get(2).and_then(|a| a.parse().ok()).expect("clip");
    let first_voter: u64 = args.get(3).and_then(|a| a.parse().ok()).expect("first voter");
    if let Err(error) = rlimit::increase_nofile_limit(count + 256) {
        eprintln!("client: cannot raise the open-file limit: {error}");
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let received = Arc::new(std::sync::Mutex::new(Received::default()));
        let (connected_tx, mut connected_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
        let needle = format!("{{\"id\":{clip},\"voteCount\":");
        let needle: Arc<str> = Arc::from(needle);
        // Connect with bounded concurrency so the listen backlog does not overflow.
        let permits = Arc::new(tokio::sync::Semaphore::new(64));
        for n in 0..count {
            let voter = first_voter + n;
            let (received, connected_tx, needle, permits) =
                (received.clone(), connected_tx.clone(), needle.clone(), permits.clone());
            tokio::spawn(async move {
                let permit = permits.acquire_owned().await;
                let stream = open_live(address, voter).await;
                drop(permit);
                let Some((stream, rest)) = stream else {
                    let _ = connected_tx.send(false);
                    return;
                };
                let _ = connected_tx.send(true);
                follow(stream, rest, &needle, &received).await;
                if let Ok(mut received) = received.lock() {
                    received.lost += 1;
                }
            });
        }
        drop(connected_tx);
        let (mut ok, mut failed) = (0u64, 0u64);
        while ok + failed < count {
            match connected_rx.recv().await {
                Some(true) => ok += 1,
                Some(false) => failed += 1,
                None => break,
            }
        }
        println!("ready {ok} {failed}");
        // Report each vote count once every connection of this process saw it;
        // stop when the parent closes stdin.
        let (stdin_tx, mut stdin_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
            let _ = stdin_tx.send(());
        });
        let mut reported: std::collections::HashSet<u64> = std::collections::HashSet::new();
        loop {
            tokio::select! {
                _ = &mut stdin_rx => break,
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
            let complete: Vec<u64> = match received.lock() {
                Ok(received) => received
                    .times
                    .iter()
                    .filter(|(count, times)| !reported.contains(count) && times.len() as u64 + received.lost >= ok)
                    .map(|(count, _)| *count)
                    .collect(),
                Err(_) => Vec::new(),
            };
            for count in complete {
                reported.insert(count);
                println!("seen {count}");
            }
        }
        let received = received.lock().map(|r| (r.times.clone(), r.lost)).unwrap_or_default();
        let mut out = std::io::stdout().lock();
        for (count, times) in &received.0 {
            let list: Vec<String> = times.iter().map(u64::to_string).collect();
            let _ = writeln!(out, "times {count} {}", list.join(" "));
        }
        let _ = writeln!(out, "end {}", received.1);
        let _ = out.flush();
    });
    std::process::exit(0);
}

/// Connects, sends the request and reads up to the end of the first event
/// (the snapshot); returns the stream and any bytes read past it.
async fn open_live(address: SocketAddr, voter: u64) -> Option<(TcpStream, Vec<u8>)> {
    for attempt in 0..3u64 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
        }
        let Ok(mut stream) = TcpStream::connect(address).await else { continue };
        let ip = format!("10.{}.{}.{}", (voter >> 16) & 0xff, (voter >> 8) & 0xff, voter & 0xff);
        let request = format!(
            "GET /api/live HTTP/1.1\r\nHost: {address}\r\nUser-Agent: bench\r\nAccept: text/event-stream\r\n\
             X-Forwarded-For: {ip}\r\n\r\n"
        );
        if stream.write_all(request.as_bytes()).await.is_err() {
            continue;
        }
        let mut buffer = Vec::with_capacity(8192);
        let mut chunk = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(10);
        let first_event_end = loop {
            if let Some(head_end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                if !buffer.starts_with(b"HTTP/1.1 200") {
                    break None;
                }
                if let Some(end) = buffer[head_end + 4..].windows(2).position(|w| w == b"\n\n") {
                    break Some(head_end + 4 + end + 2);
                }
            }
            if Instant::now() > deadline {
                break None;
            }
            match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await {
                Ok(Ok(read)) if read > 0 => buffer.extend_from_slice(&chunk[..read]),
                _ => break None,
            }
        };
        if let Some(end) = first_event_end {
            return Some((stream, buffer.split_off(end)));
        }
    }
    None
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// Reads the stream (chunked transfer framing is left in place: frames are
/// searched for the watched clip's count) and records when each new count of
/// the watched clip arrives, timed as soon as the read returned.
async fn follow(mut stream: TcpStream, mut pending: Vec<u8>, needle: &str, received: &std::sync::Mutex<Received>) {
    let mut chunk = vec![0u8; 8192];
    let mut last_seen = 0u64;
    let mut read_at = realtime_micros();
    loop {
        let mut consumed = 0;
        while let Some(end) = find(&pending[consumed..], b"\n\n") {
            let frame = &pending[consumed..consumed + end];
            consumed += end + 2;
            if find(frame, b"event: counts").is_none() {
                continue;
            }
            if let Some(at) = find(frame, needle.as_bytes()) {
                let digits: String =
                    frame[at + needle.len()..].iter().take_while(|b| b.is_ascii_digit()).map(|b| *b as char).collect();
                if let Ok(count) = digits.parse::<u64>()
                    && count > last_seen
                {
                    last_seen = count;
                    if let Ok(mut received) = received.lock() {
                        received.times.entry(count).or_default().push(read_at);
                    }
                }
            }
        }
        pending.drain(..consumed);
        match stream.read(&mut chunk).await {
            Ok(read) if read > 0 => {
                read_at = realtime_micros();
                pending.extend_from_slice(&chunk[..read]);
            }
            _ => return,
        }
    }
}
