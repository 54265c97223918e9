//! What the load benches share: a data dir seeded with one voting slot, the
//! release server started on it, and the small keep-alive HTTP/1.1 reader
//! the load generators use (cheaper per request than a full client, so the
//! generator leaves more of the two cores to the server). Each bench uses a
//! subset.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aimoviez::store::Store;
use aimoviez::store::writer::{self, DemoSeed, WriterSettings};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The server built for this bench run.
pub const BINARY: &str = env!("CARGO_BIN_EXE_aimoviez");

/// A running server, killed when dropped.
pub struct Server {
    /// The process.
    pub child: Child,
    /// Where it listens.
    pub address: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Seeds an active season whose first slot holds `clips` clips, through the
/// library's own writer, so the server starts on realistic data.
pub fn seed(data: &Path, clips: u64) {
    let store = Store::open(&data.join("aimoviez.redb"), 64 << 20).expect("store");
    let settings = WriterSettings {
        batch_max: 64,
        queue_capacity: 64,
        daily_budget: 200,
        clock: Arc::new(aimoviez::domain::clock::Timestamp::now),
    };
    let (handle, thread) = writer::start(&store, settings, Box::new(|_| {})).expect("writer");
    let seed = DemoSeed::placeholder("Bench", 75, 24 * 3600, clips);
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    assert!(runtime.block_on(handle.seed_demo(seed)).expect("seeded"));
    thread.stop();
}

/// Starts `binary serve` on `data` with `args` and `env`, and waits until it
/// accepts connections.
pub fn start_server(binary: &str, data: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    let address = free_address();
    let mut command = Command::new(binary);
    command
        .arg("serve")
        .args(args)
        .args(["--listen", &address.to_string(), "--data"])
        .arg(data)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    Server::spawn(command, address)
}

/// A loopback address with a port nothing listens on.
pub fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port")
}

impl Server {
    /// Spawns `command`, which listens on `address`, and waits until it
    /// accepts connections.
    pub fn spawn(mut command: Command, address: SocketAddr) -> Server {
        // Killed on drop, also when it never starts.
        let server = Server { child: command.spawn().expect("spawn server"), address };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(address).is_err() {
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }
}

/// A fixed pseudo-random sequence (SplitMix64), so two runs build the same
/// data.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next number of the sequence.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A uniform float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Reads one HTTP/1.1 response from a keep-alive connection (a
/// `Content-Length` or chunked body); returns its status and body length.
/// `buffer` is scratch space reused between calls.
pub async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<(u16, usize)> {
    buffer.clear();
    let end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        fill(stream, buffer).await?;
    };
    let head = std::str::from_utf8(&buffer[..end]).map_err(std::io::Error::other)?;
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let header = |wanted: &str| {
        head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case(wanted).then(|| value.trim().to_ascii_lowercase())
        })
    };
    if header("transfer-encoding").is_some_and(|value| value.contains("chunked")) {
        let (mut at, mut length) = (end + 4, 0);
        loop {
            let line_end = loop {
                if let Some(offset) = buffer[at..].windows(2).position(|w| w == b"\r\n") {
                    break at + offset;
                }
                fill(stream, buffer).await?;
            };
            let size_text = std::str::from_utf8(&buffer[at..line_end]).map_err(std::io::Error::other)?;
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(std::io::Error::other)?;
            // The chunk, then its CRLF (the last chunk has no trailers here).
            while buffer.len() < line_end + 2 + size + 2 {
                fill(stream, buffer).await?;
            }
            at = line_end + 2 + size + 2;
            length += size;
            if size == 0 {
                return Ok((status, length));
            }
        }
    }
    let length: usize = header("content-length").and_then(|value| value.parse().ok()).unwrap_or(0);
    while buffer.len() < end + 4 + length {
        fill(stream, buffer).await?;
    }
    Ok((status, length))
}

/// Appends what the connection has to `buffer`; end of stream is an error.
async fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 16384];
    let read = stream.read(&mut chunk).await?;
    if read == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    buffer.extend_from_slice(&chunk[..read]);
    Ok(())
}
