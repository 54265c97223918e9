//! A real S3-compatible server for tests (issue #17): moto in server mode
//! (PyPI `moto[server]`, installed by `.ci/run` into `target/moto-venv`),
//! started on a free loopback port in a temp dir, with one empty bucket,
//! killed on drop. Never a mock of our own client.
//!
//! The executable is `$MOTO_SERVER`, else `target/moto-venv/bin/moto_server`,
//! else `moto_server` on `PATH`. Without one, [`Moto::start`] prints why and
//! returns `None` (the test passes without running) unless
//! `REQUIRE_S3_TESTS` is set, as in CI, where it fails instead.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aimoviez::config::S3Config;

/// Access key moto accepts (it checks no signature); any value works.
pub const ACCESS_KEY: &str = "aimoviez-test";
/// Secret key sent with it.
pub const SECRET_KEY: &str = "aimoviez-test-secret";
/// Region the bucket is made in.
pub const REGION: &str = "us-east-1";

/// A running moto server with one bucket.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The bucket created at start.
    pub bucket: String,
    /// Working dir and log of the server.
    dir: tempfile::TempDir,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The moto executable, if there is one.
fn executable() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return Some(PathBuf::from(path));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/moto-venv/bin/moto_server");
    if venv.is_file() {
        return Some(venv);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("moto_server")).find(|candidate| candidate.is_file())
}

impl Moto {
    /// Starts moto with an empty bucket named `bucket`; `None` (after
    /// printing why) when moto is not installed and `REQUIRE_S3_TESTS` is unset.
    pub fn start(bucket: &str) -> Option<Moto> {
        let Some(binary) = executable() else {
            assert!(
                std::env::var_os("REQUIRE_S3_TESTS").is_none(),
                "moto_server is not installed, and REQUIRE_S3_TESTS requires the S3 tests (see .ci/run)"
            );
            eprintln!(
                "skipping: no moto_server (set MOTO_SERVER, or: python3 -m venv target/moto-venv && \
                 target/moto-venv/bin/pip install 'moto[server]==5.2.6')"
            );
            return None;
        };
        // The free port can be taken between probing and moto's bind; try again then.
        for _ in 0..3 {
            if let Some(moto) = Self::try_start(&binary, bucket) {
                return Some(moto);
            }
        }
        panic!("moto_server ({}) did not start three times", binary.display());
    }

    fn try_start(binary: &Path, bucket: &str) -> Option<Moto> {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let dir = tempfile::tempdir().expect("temp dir");
        let log = std::fs::File::create(dir.path().join("moto.log")).expect("log file");
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", binary.display()));
        let mut moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}"), bucket: bucket.to_owned(), dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if moto.child.try_wait().expect("wait").is_some() {
                eprintln!("moto_server exited at start:\n{}", moto.log());
                return None;
            }
            if moto.request("GET", "/").is_some_and(|status| status == 200) {
                break;
            }
            assert!(Instant::now() < deadline, "moto_server did not answer within 60 s:\n{}", moto.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        let created = moto.request("PUT", &format!("/{bucket}"));
        assert_eq!(created, Some(200), "creating bucket {bucket}:\n{}", moto.log());
        Some(moto)
    }

    /// One plain HTTP/1.1 request without a body (moto checks no
    /// signature); the status code, or `None` when nothing answered.
    fn request(&self, method: &str, path: &str) -> Option<u16> {
        let address = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        let head =
            format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).ok()?;
        let line = String::from_utf8_lossy(&answer);
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// What the server logged, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("moto.log")).unwrap_or_default()
    }

    /// `[media.s3]` settings for this server and bucket.
    pub fn s3_config(&self) -> S3Config {
        S3Config {
            endpoint: self.endpoint.clone(),
            bucket: self.bucket.clone(),
            region: REGION.to_owned(),
            path_style: true,
            access_key_id: ACCESS_KEY.to_owned(),
            secret_access_key: SECRET_KEY.into(),
        }
    }

    /// The same settings as `AIMOVIEZ_*` variables, for the binary.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AIMOVIEZ_MEDIA_S3_ENDPOINT", self.endpoint.as_str()),
            ("AIMOVIEZ_MEDIA_S3_BUCKET", self.bucket.as_str()),
            ("AIMOVIEZ_MEDIA_S3_REGION", REGION),
            ("AIMOVIEZ_MEDIA_S3_ACCESS_KEY_ID", ACCESS_KEY),
            ("AIMOVIEZ_MEDIA_S3_SECRET_ACCESS_KEY", SECRET_KEY),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
    }
}
