//! What the binary-level tests share: starting the real `aimoviez` binary on
//! a free port and talking to it. Each test file uses a different subset.
#![allow(dead_code)]

pub mod moto;

use std::ffi::OsStr;
use std::fs::File;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test, built by cargo for this test run.
pub const BINARY: &str = env!("CARGO_BIN_EXE_aimoviez");

/// The short test MP4 of `data/demo/`.
pub const SHORT_MP4: &[u8] = include_bytes!("../../data/demo/test-short.mp4");

/// The short MP4 with a `free` box of random bytes appended: a valid video
/// whose content (and so whose stored name) is new each time.
pub fn unique_clip() -> Vec<u8> {
    let mut bytes = SHORT_MP4.to_vec();
    bytes.extend_from_slice(&40u32.to_be_bytes());
    bytes.extend_from_slice(b"free");
    bytes.extend((0..32).map(|_| rand::random::<u8>()));
    bytes
}

/// A running server process, killed when dropped.
pub struct Server {
    /// The process (tests kill or signal it themselves).
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// SIGTERM, then waits for the graceful exit; returns its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(exit) = self.child.try_wait().expect("wait") {
                return exit;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// How to start the server.
#[derive(Debug, Default)]
pub struct Serve {
    /// Seed the demo season.
    pub demo: bool,
    /// More arguments for `serve`.
    pub args: Vec<&'static str>,
    /// Where stdout and stderr go, logged at `info`; by default stdout is
    /// dropped, stderr inherited and only warnings logged.
    pub log: Option<File>,
    /// Environment variables for the server (`AIMOVIEZ_*` config keys).
    pub env: Vec<(String, String)>,
}

impl Serve {
    /// The demo season, nothing else.
    pub fn demo() -> Serve {
        Serve { demo: true, ..Serve::default() }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// Starts `aimoviez serve` on `data` and waits until `/api/health` answers 200.
pub async fn start(data: &Path, serve: Serve, client: &reqwest::Client) -> Server {
    let port = free_port();
    let mut command = Command::new(BINARY);
    command.arg("serve");
    if serve.demo {
        command.arg("--demo");
    }
    command.args(["--listen", &format!("127.0.0.1:{port}"), "--data"]).arg(data).args(&serve.args);
    match serve.log {
        Some(log) => {
            command.env("RUST_LOG", "info").stdout(log.try_clone().expect("log file")).stderr(log);
        }
        None => {
            command.env("RUST_LOG", "warn").stdout(Stdio::null()).stderr(Stdio::inherit());
        }
    }
    command.envs(serve.env);
    let child = command.spawn().expect("spawn server");
    let server = Server { child, base: format!("http://127.0.0.1:{port}") };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = client.get(format!("{}/api/health", server.base)).send().await
            && response.status() == 200
        {
            return server;
        }
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the CLI on the blocking pool, so the runtime keeps driving any load.
pub async fn cli<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(BINARY).args(&args).env("RUST_LOG", "warn").output().expect("the CLI runs")
    })
    .await
    .expect("join")
}

/// A command's stdout and stderr together, for assertion messages.
pub fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The clips a voter (identified by its forwarded address) has voted for.
pub async fn voted_clips(client: &reqwest::Client, base: &str, voter: &str) -> Vec<u64> {
    let feed: Value = client
        .get(format!("{base}/api/vote?limit=1"))
        .header("x-forwarded-for", voter)
        .send()
        .await
        .expect("feed")
        .json()
        .await
        .expect("json");
    feed["votedClipIds"].as_array().expect("votedClipIds").iter().filter_map(Value::as_u64).collect()
}
