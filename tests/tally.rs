//! `aimoviez tally verify` and `docs/verify_tally.py` on the same generated
//! export: both accept it with its root, both name a discrepancy (exit 1)
//! after one changed byte, a dropped line or two swapped lines, and both
//! print the same root and winner. The Python recipe is skipped only when
//! `python3` is missing and `CI` is unset.

use std::path::Path;
use std::process::{Command, Output};

use aimoviez::domain::clock::Timestamp;
use aimoviez::domain::ids::{ClipId, VoteId, VoterKey};
use aimoviez::domain::tally::merkle::{leaf_hash, root_of};
use aimoviez::domain::tally::{Pseudonym, SlotSalt, TallyLine};
use aimoviez::domain::vote::VoteType;

mod common;
use common::BINARY;

const DAY: i64 = 86_400_000;

/// A slot by 24 voters on 6 clips across a UTC midnight: standard votes (at
/// most one per voter and clip), a super from every third voter and a mega
/// from every fourth, every 17th vote not counted (revoked or voided).
/// Returns the lines and the leader by counted weight, then votes.
fn generated_export() -> (Vec<Vec<u8>>, ClipId) {
    let salt = SlotSalt::from_bytes([42; 32]);
    let start = 20_600 * DAY + 20 * 3_600_000;
    let mut votes = Vec::new();
    for clip in 1..=6u64 {
        for voter in 1..=24u64 {
            if (voter * clip) % 4 != 3 {
                votes.push((voter, clip, VoteType::Standard));
            }
            if clip == 3 && voter % 3 == 0 {
                votes.push((voter, 1 + voter % 6, VoteType::Super));
            }
            if clip == 5 && voter % 4 == 1 {
                votes.push((voter, 1 + voter % 5, VoteType::Mega));
            }
        }
    }
    let mut lines = Vec::new();
    let mut standings = [(0u64, 0u64); 7];
    let mut id = 100;
    for (index, (voter, clip, vote_type)) in votes.into_iter().enumerate() {
        id += 1 + u64::from(index % 3 == 0);
        let counted = index % 17 != 5;
        let key = VoterKey::parse(&format!("u:{voter}")).expect("key");
        let cast_at = Timestamp::from_millis(start + index as i64 * 400_000);
        let line = TallyLine::new(
            VoteId::new(id).expect("id"),
            Pseudonym::of(&salt, &key),
            ClipId::new(clip).expect("id"),
            vote_type,
            vote_type.weight(),
            cast_at,
            counted,
        )
        .expect("in range");
        if counted {
            standings[clip as usize].0 += u64::from(vote_type.weight());
            standings[clip as usize].1 += 1;
        }
        lines.push(line.to_bytes());
    }
    let best = (1..=6).max_by_key(|clip| standings[*clip]).expect("clips");
    let leaders = (1..=6).filter(|clip| standings[*clip] == standings[best]).count();
    assert_eq!(leaders, 1, "the generated slot must have a single leader: {standings:?}");
    (lines, ClipId::new(best as u64).expect("id"))
}

fn write_export(path: &Path, lines: &[Vec<u8>]) {
    let mut bytes = Vec::new();
    for line in lines {
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
    }
    std::fs::write(path, bytes).expect("write export");
}

fn aimoviez_verify(path: &Path, extra: &[&str]) -> Output {
    Command::new(BINARY).args(["tally", "verify"]).arg(path).args(extra).output().expect("aimoviez runs")
}

fn python_verify(path: &Path, extra: &[&str]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/verify_tally.py");
    Command::new("python3").arg(script).arg(path).args(extra).output().expect("python3 runs")
}

fn python_available() -> bool {
    let found = Command::new("python3").arg("--version").output().is_ok_and(|out| out.status.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "CI is set but python3 is missing: the Python recipe must be tested");
        eprintln!("skipping the Python recipe check: python3 is not installed (it is mandatory when CI is set)");
    }
    found
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The first word after `label` on the line that starts with it.
fn field<'a>(text: &'a str, label: &str) -> &'a str {
    let line = text.lines().find(|line| line.starts_with(label)).unwrap_or_else(|| panic!("no {label} in {text}"));
    line[label.len()..].split_whitespace().next().unwrap_or("")
}

type Verifier = fn(&Path, &[&str]) -> Output;

#[test]
fn both_verifiers_accept_the_export_and_refuse_every_tampering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (lines, winner) = generated_export();
    let root = root_of(&lines.iter().map(|line| leaf_hash(line)).collect::<Vec<_>>()).to_hex();
    let winner = winner.to_string();
    let good = dir.path().join("slot.ndjson");
    write_export(&good, &lines);
    let checked = ["--root", root.as_str(), "--winner", winner.as_str()];

    let mut verifiers: Vec<(&str, Verifier)> = vec![("aimoviez", aimoviez_verify)];
    if python_available() {
        verifiers.push(("python", python_verify));
    }
    for (name, verify) in &verifiers {
        let output = verify(&good, &checked);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{name}: {}{}",
            stdout(&output),
            String::from_utf8_lossy(&output.stderr)
        );
        let text = stdout(&output);
        assert_eq!(field(&text, "root:"), root, "{name}: {text}");
        assert!(text.contains(&format!("winner:  clip {winner}")), "{name}: {text}");
        assert!(text.trim_end().ends_with("OK"), "{name}: {text}");
    }

    let mut tampered: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    let last = lines.len() - 1;
    // One byte of each value, in lines spread over the file, and of the JSON
    // around them.
    let fields = ["voteId", "voter", "clipId", "voteType", "weight", "castAt", "counted"];
    let mut places: Vec<(usize, usize)> = fields
        .iter()
        .enumerate()
        .map(|(n, key)| {
            let line = n * last / (fields.len() - 1);
            let text = String::from_utf8_lossy(&lines[line]).into_owned();
            let marker = format!("\"{key}\":");
            let value = text.find(&marker).expect("key") + marker.len();
            (line, value + usize::from(text.as_bytes()[value] == b'"'))
        })
        .collect();
    places.extend([(3, 0), (last / 2, 11), (last, lines[last].len() - 1)]);
    for (line, at) in places {
        let mut changed = lines.clone();
        let byte = &mut changed[line][at];
        *byte = if byte.is_ascii_digit() { b'0' + (*byte - b'0' + 1) % 10 } else { byte.wrapping_add(1) };
        tampered.push((format!("byte {at} of line {line}"), changed));
    }
    for drop in [0, last / 2, last] {
        let mut dropped = lines.clone();
        dropped.remove(drop);
        tampered.push((format!("line {drop} dropped"), dropped));
    }
    for (a, b) in [(0, 1), (10, last - 3)] {
        let mut swapped = lines.clone();
        swapped.swap(a, b);
        tampered.push((format!("lines {a} and {b} swapped"), swapped));
    }
    for (what, variant) in tampered {
        let path = dir.path().join("tampered.ndjson");
        write_export(&path, &variant);
        for (name, verify) in &verifiers {
            let output = verify(&path, &checked);
            assert_eq!(output.status.code(), Some(1), "{name} accepted {what}: {}", stdout(&output));
            assert!(stdout(&output).starts_with("FAILED: "), "{name}, {what}: {}", stdout(&output));
        }
    }

    // Same root and verdict from both, also without --root.
    let outputs: Vec<String> = verifiers.iter().map(|(_, verify)| stdout(&verify(&good, &[]))).collect();
    for text in &outputs {
        assert_eq!(field(text, "root:"), root);
        assert!(text.contains(&format!("winner:  clip {winner}")), "{text}");
    }
    // A wrong published winner is named.
    for (name, verify) in &verifiers {
        let other = if winner == "1" { "2" } else { "1" };
        let output = verify(&good, &["--winner", other]);
        assert_eq!(output.status.code(), Some(1), "{name}: {}", stdout(&output));
        assert!(stdout(&output).contains("winner"), "{name}: {}", stdout(&output));
        let missing = verify(&dir.path().join("absent.ndjson"), &[]);
        assert_eq!(missing.status.code(), Some(2), "{name}");
    }
}
