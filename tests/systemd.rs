//! The systemd unit passes `systemd-analyze verify` (skipped with a message
//! where systemd-analyze is not installed), and the server pings the
//! watchdog through a fake `NOTIFY_SOCKET`.

use std::process::Command;

#[test]
fn the_unit_file_verifies() {
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("skipping: systemd-analyze is not installed");
        return;
    };
    if !version.status.success() {
        eprintln!("skipping: systemd-analyze does not run here");
        return;
    }
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/aimoviez.service")).expect("unit");
    // Point ExecStart at the binary under test so verify can check it exists.
    let unit = unit.replace("/usr/local/bin/aimoviez", env!("CARGO_BIN_EXE_aimoviez"));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("aimoviez.service");
    std::fs::write(&path, unit).expect("write");
    let output = Command::new("systemd-analyze").arg("verify").arg(&path).output().expect("verify runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && !stderr.contains("aimoviez.service:"), "systemd-analyze verify: {stderr}");
}

#[test]
fn the_server_pings_the_watchdog_while_the_writer_commits() {
    use std::os::unix::net::UnixDatagram;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().expect("tempdir");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind the notify socket");
    socket.set_read_timeout(Some(Duration::from_millis(500))).expect("timeout");
    let data = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aimoviez"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("NOTIFY_SOCKET", &socket_path)
        // One second allowed between pings: the server pings every half second.
        .env("WATCHDOG_USEC", "1000000")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn server");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut messages = Vec::new();
    let mut buffer = [0u8; 512];
    while Instant::now() < deadline && messages.iter().filter(|m: &&String| m.contains("WATCHDOG=1")).count() < 2 {
        if let Ok(n) = socket.recv(&mut buffer) {
            messages.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(messages.iter().any(|m| m.contains("READY=1")), "{messages:?}");
    let pings = messages.iter().filter(|m| m.contains("WATCHDOG=1")).count();
    assert!(pings >= 2, "the watchdog is pinged repeatedly: {messages:?}");
}
