//! Feed benchmark (`cargo bench --bench feed`). Not a test: it prints a
//! table and never fails on timing.
//!
//! The arena's feed, `GET /api/vote`, must cost the same whatever the number
//! of clips in the open slot. For each clip count (default 10 and 10,000) it
//! seeds a fresh data dir with one voting slot of that many clips, starts the
//! release server on it and drives the feed over loopback, closed loop, each
//! request from a distinct voter (a distinct `X-Forwarded-For` through the
//! trusted-loopback-proxy path, so each sees a fresh feed and records its
//! views). Then it prints requests per second and latency, and the ratio of
//! each count's p50 to the smallest count's, measured in the same run.
//!
//! Knobs (env): BENCH_SECS (default 8), BENCH_FEED_CLIPS (default
//! "10,10000"), BENCH_FEED_CONNECTIONS (default 64), BENCH_FEED_SERVER
//! (server binary; default the release binary built with this bench).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

mod common;
use common::{BINARY, read_response, seed, start_server};

struct RunResult {
    requests: u64,
    non_200: u64,
    body_bytes: u64,
    seconds: f64,
    histogram: Histogram<u64>,
}

async fn run(address: SocketAddr, connections: u64, secs: u64, voters: Arc<AtomicU64>) -> RunResult {
    let host = address.to_string();
    let mut streams = Vec::new();
    for _ in 0..connections {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        streams.push(stream);
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            let (host, voters) = (host.clone(), voters.clone());
            tokio::spawn(async move {
                let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
                let (mut requests, mut non_200, mut body_bytes) = (0u64, 0u64, 0u64);
                let mut buffer = Vec::with_capacity(16384);
                while Instant::now() < deadline {
                    let voter = voters.fetch_add(1, Ordering::Relaxed);
                    let ip = format!("10.{}.{}.{}", (voter >> 16) & 0xff, (voter >> 8) & 0xff, voter & 0xff);
                    let request = format!(
                        "GET /api/vote?limit=8 HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench\r\nX-Forwarded-For: {ip}\r\n\r\n"
                    );
                    let sent = Instant::now();
                    let result = async {
                        stream.write_all(request.as_bytes()).await?;
                        read_response(&mut stream, &mut buffer).await
                    }
                    .await;
                    let Ok((status, length)) = result else { break };
                    requests += 1;
                    body_bytes += length as u64;
                    if status != 200 {
                        non_200 += 1;
                    }
                    let _ = histogram.record((sent.elapsed().as_micros() as u64).max(1));
                }
                (requests, non_200, body_bytes, histogram)
            })
        })
        .collect();
    let mut total = RunResult {
        requests: 0,
        non_200: 0,
        body_bytes: 0,
        seconds: 0.0,
        histogram: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram"),
    };
    for task in tasks {
        let (requests, non_200, body_bytes, histogram) = task.await.expect("task");
        total.requests += requests;
        total.non_200 += non_200;
        total.body_bytes += body_bytes;
        let _ = total.histogram.add(histogram);
    }
    total.seconds = started.elapsed().as_secs_f64();
    total
}

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let connections: u64 = std::env::var("BENCH_FEED_CONNECTIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(64);
    let clip_counts: Vec<u64> = std::env::var("BENCH_FEED_CLIPS")
        .unwrap_or_else(|_| "10,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let binary = std::env::var("BENCH_FEED_SERVER").unwrap_or_else(|_| BINARY.to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    println!(
        "\n| clips in slot | connections | req/s | p50 ms | p99 ms | p50 ratio | req/s ratio | mean body bytes | non-200 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut baseline: Option<(f64, f64)> = None;
    let voters = Arc::new(AtomicU64::new(1));
    for clips in clip_counts {
        let data = tempfile::tempdir().expect("tempdir");
        seed(data.path(), clips);
        let server = start_server(&binary, data.path(), &[], &[]);
        let result = runtime.block_on(async {
            // Warm up connections, caches and the page cache.
            let _ = run(server.address, connections, 1, voters.clone()).await;
            run(server.address, connections, secs, voters.clone()).await
        });
        drop(server);
        let rate = result.requests as f64 / result.seconds;
        let p50 = result.histogram.value_at_quantile(0.5) as f64 / 1000.0;
        let p99 = result.histogram.value_at_quantile(0.99) as f64 / 1000.0;
        let (base_p50, base_rate) = *baseline.get_or_insert((p50, rate));
        println!(
            "| {clips} | {connections} | {rate:.0} | {p50:.2} | {p99:.2} | {:.2} | {:.2} | {:.0} | {} |",
            p50 / base_p50,
            rate / base_rate,
            result.body_bytes as f64 / result.requests.max(1) as f64,
            result.non_200,
        );
    }
}
