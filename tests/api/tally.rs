//! Issue #15 end to end: a real slot with standard, super and mega votes, a
//! revoke and a voided flagged burst is locked over HTTP; its published
//! tally verifies with `aimoviez tally verify URL` (and the Python recipe),
//! every tampered copy fails, every proof verifies, pseudonyms differ from
//! one slot to the next, and no voter key, address, user id or username is
//! in the export. An unlock drops the tally and the audit log keeps its root.
//! A slot the scheduler locks (its window ended; no admin) publishes its
//! tally the same way.

use std::path::Path;
use std::process::{Command, Output};

use aimoviez::domain::tally::MerkleHash;
use aimoviez::domain::tally::merkle::{leaf_hash, verify_inclusion};
use serde_json::{Value, json};

use super::helpers::{SpawnOptions, TestApp, assert_error, spawn_app, spawn_with};

const BINARY: &str = env!("CARGO_BIN_EXE_aimoviez");
fn verify(args: &[&str]) -> Output {
    Command::new(BINARY).args(["tally", "verify"]).args(args).output().expect("aimoviez runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

async fn cast(app: &TestApp, clip: u64, ip: Option<&str>, kind: &str) -> Value {
    let response = app.vote_as(clip, ip, kind).await;
    assert_eq!(response.status(), 200, "{kind} vote on {clip} from {ip:?}");
    let body: Value = response.json().await.expect("json");
    assert!(body["receipt"]["voteId"].as_u64().is_some(), "a vote answer carries a receipt: {body}");
    body["receipt"].clone()
}

async fn advance(app: &TestApp, admin: &reqwest::Client) {
    let response = admin.post(app.url("/api/admin/slots/advance")).send().await.expect("advance");
    assert_eq!(response.status(), 200, "advance");
}

async fn story_slot(app: &TestApp, position: u64) -> Value {
    let story = app.get_json("/api/story").await;
    story["slots"].as_array().expect("slots").iter().find(|slot| slot["position"] == position).expect("slot").clone()
}

async fn export(app: &TestApp, season: u64, position: u64) -> (String, Vec<u8>) {
    let response = app.get(&format!("/api/tally/{season}/{position}")).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/x-ndjson");
    assert_eq!(headers["cache-control"], "public, max-age=31536000, immutable");
    let etag = headers["etag"].to_str().expect("etag").trim_matches('"').to_owned();
    (etag, response.bytes().await.expect("body").to_vec())
}

fn lines(body: &[u8]) -> Vec<Vec<u8>> {
    assert!(body.ends_with(b"\n"));
    body[..body.len() - 1].split(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
}

fn write(path: &Path, lines: &[Vec<u8>]) {
    let mut bytes = Vec::new();
    for line in lines {
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
    }
    std::fs::write(path, bytes).expect("write");
}

fn pseudonym_of(lines: &[Vec<u8>], vote: u64) -> String {
    let line = lines
        .iter()
        .map(|line| serde_json::from_slice::<Value>(line).expect("json"))
        .find(|line| line["voteId"] == vote)
        .expect("the vote's line");
    line["voter"].as_str().expect("voter").to_owned()
}

#[tokio::test]
async fn a_locked_slot_publishes_a_tally_that_verifies_and_every_tampering_fails() {
    let app = spawn_app().await;
    let season = app.get_json("/api/story").await["season"]["id"].as_u64().expect("season");
    // Multi-vote mode lets one scripted voter burst on a clip (and be flagged).
    app.set_flag("multi_vote_mode", true).await;
    let ids = app.clip_ids().await;
    assert!(ids.len() >= 3, "the demo slot has clips: {ids:?}");
    assert_error(app.get(&format!("/api/tally/{season}/1")).await, 409, "not_locked").await;
    assert_error(app.get(&format!("/api/tally/{season}/1/proof/1")).await, 409, "not_locked").await;
    assert_error(app.get(&format!("/api/tally/{season}/999")).await, 404, "not_found").await;
    assert_error(app.get("/api/tally/987654/1").await, 404, "not_found").await;

    let mut receipts = Vec::new();
    for (n, ip) in ["203.0.113.1", "203.0.113.2", "203.0.113.3"].into_iter().enumerate() {
        for (offset, kind) in [(0, "standard"), (1, "super"), (2, "mega")] {
            receipts.push(cast(&app, ids[(n + offset) % 3], Some(ip), kind).await);
        }
    }
    // The default test voter casts and revokes: the vote stays, not counted.
    let revoked = cast(&app, ids[2], None, "standard").await;
    let revoke = app.revoke(ids[2]).await;
    assert_eq!(revoke.status(), 200);
    let revoke: Value = revoke.json().await.expect("json");
    assert_eq!(revoke["receipt"], revoked, "a revoke names the vote it revoked");
    // A scripted burst is flagged; an admin voids the flagged votes.
    for _ in 0..20 {
        receipts.push(cast(&app, ids[1], Some("198.51.100.9"), "standard").await);
    }
    let admin = app.admin().await;
    let flagged: Value = admin
        .get(app.url("/api/admin/flagged-votes?limit=100"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let voided: Vec<u64> =
        flagged["votes"].as_array().expect("votes").iter().filter_map(|v| v["id"].as_u64()).collect();
    assert!(voided.len() >= 5, "{flagged}");
    let response = admin.post(app.url("/api/admin/flagged-votes/void")).json(&json!({"voteIds": voided})).send().await;
    assert_eq!(response.expect("void").status(), 200);

    advance(&app, &admin).await;
    let slot = story_slot(&app, 1).await;
    let root = slot["tallyRoot"].as_str().expect("tallyRoot").to_owned();
    assert_eq!(root.len(), 64);
    assert_eq!(slot["tallyVotes"], 30, "every vote of the slot, counted or not: {slot}");
    assert_eq!(slot["tallyUrl"], format!("/api/tally/{season}/1"));
    assert_eq!(slot["winnerAssigned"], false);
    assert!(story_slot(&app, 2).await["tallyRoot"].is_null(), "an open slot has no tally yet");
    // The story and film pages show the root and size with a verify link,
    // and the story page loads the receipt check (a script, as the CSP wants).
    let verify_link = format!("<a class=\"verify\" href=\"/api/tally/{season}/1\"");
    let story_page = app.get("/story").await.text().await.expect("story page");
    assert!(story_page.contains(&format!("data-tally-root=\"{root}\"")), "{story_page}");
    assert!(story_page.contains("30 votes · root"), "{story_page}");
    assert!(story_page.contains(&verify_link), "{story_page}");
    assert_eq!(story_page.matches("data-tally-root=").count(), 1, "only the locked slot: {story_page}");
    assert!(story_page.contains("data-tally-receipts"), "{story_page}");
    let script = story_page.split("<script src=\"").filter_map(|s| s.split('"').next()).find(|s| s.contains("/tally."));
    let script = app.get(script.expect("the story page loads static/tally.js")).await;
    assert_eq!(script.status(), 200);
    assert!(script.text().await.expect("js").contains("crypto.subtle.digest"));
    let film_page = app.get(&format!("/watch/{season}")).await.text().await.expect("film page");
    assert!(film_page.contains(&verify_link), "{film_page}");
    assert!(film_page.contains(&format!("title=\"{root}\"")), "{film_page}");

    let (etag, body) = export(&app, season, 1).await;
    assert_eq!(etag, root, "the root is the ETag");
    let not_modified = app
        .client
        .get(app.url(&format!("/api/tally/{season}/1")))
        .header("if-none-match", format!("\"{root}\""))
        .send()
        .await
        .expect("conditional");
    assert_eq!(not_modified.status(), 304);
    let lines = lines(&body);
    assert_eq!(lines.len(), 30);
    let parsed: Vec<Value> = lines.iter().map(|line| serde_json::from_slice(line).expect("json line")).collect();
    let ids_in_order: Vec<u64> = parsed.iter().map(|line| line["voteId"].as_u64().expect("id")).collect();
    assert!(ids_in_order.windows(2).all(|pair| pair[0] < pair[1]), "vote-id order");
    let not_counted: Vec<u64> = parsed
        .iter()
        .filter(|line| line["counted"] == false)
        .map(|line| line["voteId"].as_u64().expect("id"))
        .collect();
    let mut expected_not_counted = voided.clone();
    expected_not_counted.push(revoked["voteId"].as_u64().expect("id"));
    expected_not_counted.sort_unstable();
    assert_eq!(not_counted, expected_not_counted, "the revoked and voided votes stay, marked");
    let kinds: Vec<&str> = parsed.iter().filter_map(|line| line["voteType"].as_str()).collect();
    assert!(kinds.contains(&"super") && kinds.contains(&"mega"));
    // Nothing that names a voter: no address, voter key, user id or name.
    let text_body = String::from_utf8_lossy(&body);
    for secret in ["203.0.113", "198.51.100", "127.0.0.1", "\"u:", "\"d:", "aimoviez-tests", "boss", "userId", "\"ip\""]
    {
        assert!(!text_body.contains(secret), "the export mentions {secret:?}");
    }
    for line in &parsed {
        let keys: Vec<&String> = line.as_object().expect("object").keys().collect();
        assert_eq!(keys.len(), 7, "{line}");
    }

    // Every proof verifies against the published root; receipts find theirs.
    let published = MerkleHash::parse_hex(&root).expect("hex");
    for (index, line) in lines.iter().enumerate() {
        let vote = ids_in_order[index];
        let proof = app.get_json(&format!("/api/tally/{season}/1/proof/{vote}")).await;
        assert_eq!(proof["line"].as_str().map(str::as_bytes), Some(line.as_slice()));
        assert_eq!(proof["index"], index as u64);
        assert_eq!(proof["treeSize"], 30);
        assert_eq!(proof["root"], root.as_str());
        let path: Vec<MerkleHash> = proof["auditPath"]
            .as_array()
            .expect("path")
            .iter()
            .map(|hash| MerkleHash::parse_hex(hash.as_str().expect("hex")).expect("hash"))
            .collect();
        verify_inclusion(index as u64, 30, &leaf_hash(line), &path, &published).expect("the proof verifies");
    }
    for receipt in &receipts {
        assert_eq!(receipt["season"], season);
        assert_eq!(receipt["position"], 1);
        assert!(ids_in_order.contains(&receipt["voteId"].as_u64().expect("id")));
    }
    assert_error(app.get(&format!("/api/tally/{season}/1/proof/999999")).await, 404, "not_found").await;

    // `tally verify URL` reads the root and rules the server published.
    let url = app.url(&format!("/api/tally/{season}/1"));
    let output = tokio::task::spawn_blocking(move || verify(&[url.as_str()])).await.expect("join");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains(&format!("{root} (matches the published root)")), "{}", text(&output));
    let url = app.url(&format!("/api/tally/{season}/1"));
    let wrong_root = "00".repeat(32);
    let output = tokio::task::spawn_blocking(move || verify(&[url.as_str(), "--root", wrong_root.as_str()]))
        .await
        .expect("join");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let url = app.url(&format!("/api/tally/{season}/2"));
    let output = tokio::task::spawn_blocking(move || verify(&[url.as_str()])).await.expect("join");
    assert_eq!(output.status.code(), Some(2), "an open slot has nothing to verify: {}", text(&output));

    // The same export as a file, then tampered copies.
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("slot.ndjson");
    write(&good, &lines);
    let winner = story_slot(&app, 1).await["winner"]["id"].as_u64().expect("winner").to_string();
    let checked = ["--root", root.as_str(), "--winner", winner.as_str(), "--multi-vote"];
    let ok = verify(&[&[good.to_str().expect("path")][..], &checked[..]].concat());
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let strict = verify(&[good.to_str().expect("path"), "--root", root.as_str()]);
    assert_eq!(strict.status.code(), Some(1), "the burst breaks one-vote-per-clip without multi-vote mode");
    let mut tampered: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    for (line, at) in [(0, 12), (7, 40), (29, lines[29].len() - 3)] {
        let mut changed = lines.clone();
        let byte = &mut changed[line][at];
        *byte = if byte.is_ascii_digit() { b'0' + (*byte - b'0' + 1) % 10 } else { byte.wrapping_add(1) };
        tampered.push((format!("byte {at} of line {line}"), changed));
    }
    let mut dropped = lines.clone();
    dropped.remove(12);
    tampered.push(("a dropped line".into(), dropped));
    let mut swapped = lines.clone();
    swapped.swap(3, 4);
    tampered.push(("two swapped lines".into(), swapped));
    for (what, variant) in tampered {
        let path = dir.path().join("tampered.ndjson");
        write(&path, &variant);
        let output = verify(&[&[path.to_str().expect("path")][..], &checked[..]].concat());
        assert_eq!(output.status.code(), Some(1), "accepted {what}: {}", text(&output));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/verify_tally.py");
    if let Ok(python) = Command::new("python3").arg(script).arg(&good).args(checked).output() {
        assert_eq!(python.status.code(), Some(0), "python: {}", text(&python));
        assert!(text(&python).contains(&root));
    } else {
        assert!(std::env::var_os("CI").is_none(), "python3 is required in CI");
    }
    assert_eq!(app.check_mismatches(), Vec::<String>::new());
}

#[tokio::test]
async fn pseudonyms_differ_between_slots_and_an_unlock_drops_the_tally() {
    let app = spawn_app().await;
    let season = app.get_json("/api/story").await["season"]["id"].as_u64().expect("season");
    let ids = app.clip_ids().await;
    let admin = app.admin().await;
    let first = cast(&app, ids[0], Some("203.0.113.7"), "standard").await;
    let other = cast(&app, ids[1], Some("203.0.113.8"), "mega").await;
    // The admin assigns the winner: the lines need not agree, and say so.
    let response = admin
        .post(app.url("/api/admin/slots/1/assign-winner"))
        .json(&json!({"clipId": ids[2]}))
        .send()
        .await
        .expect("assign");
    assert_eq!(response.status(), 200);
    assert_eq!(story_slot(&app, 1).await["winnerAssigned"], true);
    let url = app.url(&format!("/api/tally/{season}/1"));
    let output = tokio::task::spawn_blocking(move || verify(&[url.as_str()])).await.expect("join");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("an admin assigned"), "{}", text(&output));

    let (root_one, body_one) = export(&app, season, 1).await;
    let lines_one = lines(&body_one);
    let ids_two = app.clip_ids().await;
    let second = cast(&app, ids_two[0], Some("203.0.113.7"), "standard").await;
    assert_eq!(second["position"], 2);
    advance(&app, &admin).await;
    let (_, body_two) = export(&app, season, 2).await;
    let lines_two = lines(&body_two);
    let in_one = pseudonym_of(&lines_one, first["voteId"].as_u64().expect("id"));
    let in_two = pseudonym_of(&lines_two, second["voteId"].as_u64().expect("id"));
    assert_ne!(in_one, in_two, "one voter's pseudonyms differ between slots");
    assert_ne!(in_one, pseudonym_of(&lines_one, other["voteId"].as_u64().expect("id")));

    // Unlocking slot 2 drops its tally; the audit log keeps the old root.
    let (root_two, _) = export(&app, season, 2).await;
    let unlock = admin.post(app.url("/api/admin/slots/2/unlock")).send().await.expect("unlock");
    assert_eq!(unlock.status(), 200);
    assert_error(app.get(&format!("/api/tally/{season}/2")).await, 409, "not_locked").await;
    assert!(story_slot(&app, 2).await["tallyRoot"].is_null());
    let logs: Value =
        admin.get(app.url("/api/admin/audit-logs")).send().await.expect("logs").json().await.expect("json");
    let unlocked = &logs["entries"][0];
    assert_eq!(unlocked["action"], "unlock_slot");
    assert!(unlocked["details"].as_str().is_some_and(|d| d.contains(&root_two)), "{unlocked}");
    // Locked again: a new salt, so a new root over the same votes.
    advance(&app, &admin).await;
    let (again, body_again) = export(&app, season, 2).await;
    assert_ne!(again, root_two);
    assert_eq!(lines(&body_again).len(), lines_two.len());
    assert_eq!(export(&app, season, 1).await.0, root_one, "slot 1's tally is untouched");
    assert_eq!(app.check_mismatches(), Vec::<String>::new());
}

#[tokio::test]
async fn a_slot_the_scheduler_locks_publishes_a_tally_that_verifies() {
    // A three-second window: nobody advances the slot, the scheduler does.
    let options = SpawnOptions {
        demo: Some(aimoviez::demo::DemoOptions { total_slots: 3, slot_duration_secs: 3 }),
        ..SpawnOptions::default()
    };
    let app = spawn_with(options).await;
    let season = app.get_json("/api/story").await["season"]["id"].as_u64().expect("season");
    let ids = app.clip_ids().await;
    let mut cast_ids = Vec::new();
    for (ip, clip, kind) in
        [("203.0.113.21", ids[0], "standard"), ("203.0.113.22", ids[0], "standard"), ("203.0.113.23", ids[1], "super")]
    {
        cast_ids.push(cast(&app, clip, Some(ip), kind).await["voteId"].as_u64().expect("id"));
    }
    assert_error(app.get(&format!("/api/tally/{season}/1")).await, 409, "not_locked").await;
    app.eventually(15, "the scheduler to lock slot 1", || async { story_slot(&app, 1).await["status"] == "locked" })
        .await;

    let slot = story_slot(&app, 1).await;
    let root = slot["tallyRoot"].as_str().expect("a slot locked by the scheduler carries tallyRoot").to_owned();
    assert_eq!(root.len(), 64, "{slot}");
    assert_eq!(slot["tallyVotes"], 3, "{slot}");
    assert_eq!(slot["winnerAssigned"], false, "{slot}");
    let (etag, body) = export(&app, season, 1).await;
    assert_eq!(etag, root, "the root is the ETag");
    let lines = lines(&body);
    let exported: Vec<u64> = lines
        .iter()
        .map(|line| serde_json::from_slice::<Value>(line).expect("json line")["voteId"].as_u64().expect("id"))
        .collect();
    assert_eq!(exported, cast_ids, "the three votes, in vote-id order");
    let published = MerkleHash::parse_hex(&root).expect("hex");
    for (index, line) in lines.iter().enumerate() {
        let proof = app.get_json(&format!("/api/tally/{season}/1/proof/{}", exported[index])).await;
        let path: Vec<MerkleHash> = proof["auditPath"]
            .as_array()
            .expect("path")
            .iter()
            .map(|hash| MerkleHash::parse_hex(hash.as_str().expect("hex")).expect("hash"))
            .collect();
        verify_inclusion(index as u64, 3, &leaf_hash(line), &path, &published).expect("the proof verifies");
    }
    let url = app.url(&format!("/api/tally/{season}/1"));
    let output = tokio::task::spawn_blocking(move || verify(&[url.as_str()])).await.expect("join");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains(&format!("{root} (matches the published root)")), "{}", text(&output));

    // The lock was the scheduler's: the audit entry names no admin, and
    // carries the root it published.
    let admin = app.admin().await;
    let logs: Value =
        admin.get(app.url("/api/admin/audit-logs?limit=100")).send().await.expect("logs").json().await.expect("json");
    let locks: Vec<&Value> = logs["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|entry| entry["resource"] == format!("slot:{season}:1"))
        .collect();
    assert_eq!(locks.len(), 1, "{logs}");
    assert_eq!(locks[0]["action"], "advance_slot", "{logs}");
    assert!(locks[0]["actorId"].is_null(), "no admin advanced slot 1: {logs}");
    assert!(locks[0]["details"].as_str().is_some_and(|d| d.contains(&format!("tally_root={root}"))), "{logs}");
    assert_eq!(app.check_mismatches(), Vec::<String>::new());
}
