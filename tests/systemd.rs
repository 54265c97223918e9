//! The systemd unit passes `systemd-analyze verify` (skipped with a message
//! where systemd-analyze is not installed).

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
