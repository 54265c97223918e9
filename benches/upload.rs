//! Upload throughput benchmark: `cargo bench --bench upload`. Not a test: it
//! prints a table and never fails on timing.
//!
//! Starts the release server on a temp data dir (demo season, so uploads are
//! accepted; ffmpeg posters off, so the poster is the shared placeholder and
//! the timing is the upload path itself), registers a user, and makes a
//! ~20 MB 8-second 720p H.264 MP4 with ffmpeg (skipped when ffmpeg is
//! missing). Then, alternating, it uploads the file (multipart
//! `POST /api/upload`, timed from the first byte sent to the 201) and copies
//! it with `cp` to a new path on the same file system followed by an fsync of
//! the copy — the floor any upload that lands durably on disk is compared to.
//! The upload path streams to a temp file, hashes (blake3), fsyncs, probes,
//! renames, fsyncs the directory and records the clip through the writer.
//!
//! Each round's upload is made unique by appending a trailing MP4 `free` box
//! of a different length, so every round takes the full path (identical bytes
//! would be detected as a duplicate and skip the rename).
//!
//! MB/s means 10^6 bytes per second. Knob (env): BENCH_ROUNDS (default 3).

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{BINARY, Server};

/// The upload bench's server: the demo season, 64 MB uploads, no upload rate
/// limit, no ffmpeg posters (the bench measures the upload path itself).
fn start_server(data: &Path) -> Server {
    common::start_server(
        BINARY,
        data,
        &["--demo"],
        &[
            ("AIMOVIEZ_MEDIA_MAX_UPLOAD_MB", "64"),
            // The config accepts at most 60 s; the clip is 8 s anyway.
            ("AIMOVIEZ_MEDIA_MAX_DURATION_MS", "60000"),
            ("AIMOVIEZ_RATE_LIMITS_UPLOAD", "0"),
            ("AIMOVIEZ_MEDIA_FFMPEG", "off"),
        ],
    )
}

fn ffmpeg_available() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Makes the ~20 MB test clip. Constant bitrate with filler (`nal-hrd=cbr`)
/// reaches the 20 Mbit/s target on the very compressible test pattern; an
/// ffmpeg without that option gets the plain average-bitrate command.
fn make_clip(out: &Path) -> bool {
    let common = ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=1280x720:r=30:d=8"];
    let variants: [&[&str]; 2] = [
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-b:v",
            "20M",
            "-minrate",
            "20M",
            "-maxrate",
            "20M",
            "-bufsize",
            "20M",
            "-x264-params",
            "nal-hrd=cbr",
            "-t",
            "8",
            "-movflags",
            "+faststart",
        ],
        &["-c:v", "libx264", "-preset", "ultrafast", "-b:v", "20M", "-t", "8", "-movflags", "+faststart"],
    ];
    variants.iter().any(|args| {
        Command::new("ffmpeg")
            .args(common)
            .args(*args)
            .arg(out)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

/// The clip with a trailing `free` box of `8 + extra` bytes: still a valid
/// MP4, with a different content hash for each `extra`.
fn with_free_box(video: &[u8], extra: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(video.len() + 8 + extra);
    bytes.extend_from_slice(video);
    bytes.extend_from_slice(&u32::try_from(8 + extra).expect("box size").to_be_bytes());
    bytes.extend_from_slice(b"free");
    bytes.resize(bytes.len() + extra, 0);
    bytes
}

async fn upload(client: &reqwest::Client, address: SocketAddr, bytes: Vec<u8>, round: usize) -> Duration {
    let form = reqwest::multipart::Form::new()
        .text("title", format!("Bench upload {round}"))
        .text("description", "upload throughput bench")
        .text("genre", "sci-fi")
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("bench.mp4").mime_str("video/mp4").expect("mime"),
        );
    let started = Instant::now();
    let response = client.post(format!("http://{address}/api/upload")).multipart(form).send().await.expect("upload");
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let elapsed = started.elapsed();
    assert_eq!(status, 201, "upload refused: {body}");
    elapsed
}

/// `cp` to a new path, then fsync the copy (and its directory) so it is as
/// durable as a stored upload.
fn copy_durably(source: &Path, target: &Path) -> Duration {
    let started = Instant::now();
    let status = Command::new("cp").arg(source).arg(target).status().expect("run cp");
    assert!(status.success(), "cp failed");
    File::open(target).and_then(|file| file.sync_all()).expect("fsync copy");
    File::open(target.parent().expect("parent")).and_then(|dir| dir.sync_all()).expect("fsync dir");
    started.elapsed()
}

fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9)
}

fn main() {
    if !ffmpeg_available() {
        println!("skipped: needs ffmpeg (to make a valid ~20 MB MP4; the server checks uploads by content)");
        return;
    }
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    let work = temp.path().join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    let clip_path = work.join("clip.mp4");
    if !make_clip(&clip_path) {
        println!("skipped: needs ffmpeg with libx264 (could not encode the test clip)");
        return;
    }
    let video = std::fs::read(&clip_path).expect("read clip");

    let server = start_server(&data);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let client = reqwest::Client::builder().cookie_store(true).user_agent("aimoviez-bench").build().expect("client");
    runtime.block_on(async {
        let response = client
            .post(format!("http://{}/api/auth/register", server.address))
            .json(&json!({ "username": "bench_uploader", "password": "correct horse battery" }))
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), 201, "register");
    });

    let mut upload_rates = Vec::new();
    let mut copy_rates = Vec::new();
    let mut detail = Vec::new();
    for round in 1..=rounds {
        let bytes = with_free_box(&video, round);
        let upload_len = bytes.len() as u64;
        let upload_time = runtime.block_on(upload(&client, server.address, bytes, round));
        let copy_target: PathBuf = work.join(format!("copy-{round}.mp4"));
        let copy_time = copy_durably(&clip_path, &copy_target);
        let copy_len = video.len() as u64;
        upload_rates.push(mb_per_s(upload_len, upload_time));
        copy_rates.push(mb_per_s(copy_len, copy_time));
        detail.push((round, upload_time, copy_time));
        let _ = std::fs::remove_file(&copy_target);
    }
    drop(server);

    let best = |rates: &[f64]| rates.iter().copied().fold(0.0, f64::max);
    let (best_upload, best_copy) = (best(&upload_rates), best(&copy_rates));
    println!(
        "\nclip: {:.2} MB ({} bytes), 1280x720 H.264, 8 s; {rounds} rounds each, alternating\n",
        video.len() as f64 / 1e6,
        video.len()
    );
    println!("| round | upload s | cp + fsync s |");
    println!("|---|---|---|");
    for (round, upload_time, copy_time) in &detail {
        println!("| {round} | {:.3} | {:.3} |", upload_time.as_secs_f64(), copy_time.as_secs_f64());
    }
    println!("\n| method | MB/s (best of {rounds}) | ratio vs cp |");
    println!("|---|---|---|");
    println!(
        "| POST /api/upload (multipart, loopback) | {best_upload:.1} | {:.2} |",
        best_upload / best_copy.max(1e-9)
    );
    println!("| cp + fsync (same file system) | {best_copy:.1} | 1.00 |");
}
