//! A data dir written by schema 2 opens with this build: it is copied to
//! `backups/` first, then migrated to the compact vote layout with ledgers
//! per (voter, slot), and every vote, counter, ledger and tally is found
//! intact — `check` reports nothing.
//!
//! `tests/fixtures/schema-2.redb` was made by the schema-2 code (commit
//! 1f67930) through its writer, on UTC days 20,400 to 20,402: a demo season
//! of 3 slots and 4 clips by `maker` (user 1); users `alice` (2) and `bob`
//! (3); device voters d1, d2, d3 (fingerprints of 0x01, 0x02, 0x03 bytes).
//! 20 votes: standard, super and mega; a revoke refunded the same day and
//! two revoked the day after; one voided by an admin; slot 1 closed with
//! clip 1, then unlocked, and two voters voted clip 1 in slot 1 a second time
//! (the schema-2 ledger had forgotten their first vote there: issue #14's
//! bug, kept as history); slot 1 closed again with clip 2. Schema 2's own
//! `check` reported two ledger mismatches on it for that reason.

use std::path::Path;

use aimoviez::domain::clock::UtcDay;
use aimoviez::domain::ids::{ClipId, SeasonId, SlotPosition, UserId, VoterKey};
use aimoviez::domain::model::VoteState;
use aimoviez::domain::vote::VoteType;
use aimoviez::store::Store;

const FIXTURE: &[u8] = include_bytes!("fixtures/schema-2.redb");

/// Copies the fixture into a fresh data dir and returns the database path.
fn fixture_copy(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("aimoviez.redb");
    std::fs::write(&path, FIXTURE).expect("copy the fixture");
    path
}

fn schema_version(path: &Path) -> Option<u64> {
    use redb::{ReadableDatabase, TableDefinition};
    let meta: TableDefinition<&str, u64> = TableDefinition::new("meta");
    let db = redb::Database::open(path).expect("open raw");
    let txn = db.begin_read().expect("read");
    txn.open_table(meta).expect("meta").get("schema_version").expect("get").map(|v| v.value())
}

/// Rows of schema 2's vote table.
fn legacy_votes(path: &Path) -> u64 {
    use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};
    let votes: TableDefinition<u64, &[u8]> = TableDefinition::new("vote_id_to_vote");
    let db = redb::Database::open(path).expect("open raw");
    let txn = db.begin_read().expect("read");
    txn.open_table(votes).expect("votes").len().expect("len")
}

fn slot(position: u32) -> SlotPosition {
    SlotPosition::new(position).expect("position")
}

fn device(byte: u8) -> VoterKey {
    VoterKey::device([byte; 16])
}

fn user(id: u64) -> VoterKey {
    VoterKey::user(UserId::new(id).expect("id"))
}

#[test]
fn a_schema_2_data_dir_is_copied_then_migrated_with_every_vote_counter_and_ledger_intact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fixture_copy(dir.path());
    assert_eq!(schema_version(&path), Some(2));

    let store = Store::open(&path, 8 << 20).expect("the schema-2 file opens");
    let copies: Vec<String> = std::fs::read_dir(dir.path().join("backups"))
        .expect("backups")
        .filter_map(|entry| entry.ok()?.file_name().to_str().map(str::to_owned))
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert!(copies[0].starts_with("pre-migration-v2-"), "{copies:?}");
    let copy = dir.path().join("backups").join(&copies[0]);
    assert_eq!(schema_version(&copy), Some(2), "the copy is the schema-2 file as it was");
    assert_eq!(legacy_votes(&copy), 20);

    let report = store.check(|_, _| {}).expect("check");
    assert_eq!(report.mismatches, Vec::<String>::new());
    assert_eq!(report.votes, 20);
    assert_eq!(report.budgets, 5, "one ledger per voter");

    // Every vote, under its slot, in its state.
    let season = SeasonId::new(1).expect("id");
    let mut votes = Vec::new();
    for position in 1..=3 {
        store
            .visit_slot_votes(season, slot(position), 0, |vote| {
                votes.push(vote);
                true
            })
            .expect("votes");
    }
    votes.sort_by_key(|vote| vote.id);
    let summary: Vec<(u64, String, u32, u64, VoteType, VoteState)> = votes
        .iter()
        .map(|v| (v.id.get(), v.voter.to_string(), v.position.get(), v.clip.get(), v.vote_type, v.state))
        .collect();
    let d = |n: u8| device(n).to_string();
    let u = |n: u64| user(n).to_string();
    use VoteState::*;
    use VoteType::*;
    let expected = vec![
        (1, d(1), 1, 1, Standard, Counted),
        (2, d(1), 1, 2, Super, Counted),
        (3, d(1), 1, 3, Mega, Revoked { refunded: false }),
        (4, d(2), 1, 1, Standard, Counted),
        (5, d(2), 1, 2, Standard, Counted),
        (6, u(2), 1, 1, Standard, Counted),
        (7, u(2), 1, 2, Mega, Revoked { refunded: false }),
        (8, u(3), 1, 4, Standard, Counted),
        (9, d(3), 1, 1, Standard, Revoked { refunded: true }),
        (10, d(2), 1, 3, Standard, Voided),
        (11, u(3), 1, 1, Super, Counted),
        (12, d(1), 2, 2, Standard, Counted),
        (13, d(1), 2, 3, Mega, Counted),
        (14, u(2), 2, 2, Standard, Counted),
        (15, d(2), 2, 4, Super, Counted),
        (16, d(1), 1, 1, Standard, Counted),
        (17, u(2), 1, 1, Standard, Counted),
        (18, d(1), 1, 4, Mega, Counted),
        (19, d(3), 2, 3, Standard, Counted),
        (20, u(3), 2, 3, Standard, Counted),
    ];
    assert_eq!(summary, expected);
    assert_eq!(votes[0].cast_at.utc_day(), UtcDay::from_number(20_400));
    assert_eq!(votes[19].day, UtcDay::from_number(20_402));

    // Counters as schema 2 kept them (clip 1 won nothing in the end and
    // competes in slot 2; clip 2 won slot 1).
    let counter = |id: u64| {
        let counted = store.clip(ClipId::new(id).expect("id")).expect("read").expect("clip");
        (counted.clip.slot_position.get(), counted.counter.vote_count, counted.counter.weighted_score)
    };
    assert_eq!(counter(1), (2, 0, 0));
    assert_eq!(counter(2), (1, 2, 4));
    assert_eq!(counter(3), (2, 3, 12));
    assert_eq!(counter(4), (2, 1, 3));

    // Ledgers, rebuilt per slot: the voters the schema-2 ledger had
    // half-forgotten now hold all their slot-1 votes.
    let state = |voter: VoterKey, position: u32, day: u32| {
        let state = store.voter_slot_state(&voter, season, slot(position), UtcDay::from_number(day)).expect("state");
        let clips: Vec<u64> = state.voted_clips.iter().map(|c| c.get()).collect();
        (clips, state.specials_used.super_used, state.specials_used.mega_used, state.spent_today)
    };
    assert_eq!(state(device(1), 1, 20_401), (vec![1, 2, 4], true, true, 22));
    assert_eq!(state(device(1), 2, 20_401), (vec![2, 3], false, true, 22));
    assert_eq!(state(device(2), 1, 20_401), (vec![1, 2], false, false, 3));
    assert_eq!(state(device(2), 2, 20_401), (vec![4], true, false, 3));
    assert_eq!(state(device(3), 1, 20_402), (vec![], false, false, 1));
    assert_eq!(state(user(2), 1, 20_401), (vec![1], false, false, 2));
    assert_eq!(state(user(2), 2, 20_401), (vec![2], false, false, 2));
    assert_eq!(state(user(3), 1, 20_402), (vec![4, 1], true, false, 1));
    assert_eq!(state(user(3), 2, 20_402), (vec![3], false, false, 1));

    // The signed-in voters' histories and totals.
    let history: Vec<u64> =
        store.votes_of_user(UserId::new(2).expect("id")).expect("history").iter().map(|v| v.id.get()).collect();
    assert_eq!(history, vec![6, 7, 14, 17]);
    let profile = store.profile(UserId::new(3).expect("id"), 10).expect("profile").expect("bob");
    assert_eq!(profile.votes_cast, 3);
    let recent: Vec<u64> = profile.recent_votes.iter().map(|r| r.vote.id.get()).collect();
    assert_eq!(recent, vec![20, 11, 8]);
    drop(store);

    // A second open migrates nothing and copies nothing.
    assert_eq!(schema_version(&path), Some(aimoviez::store::SCHEMA_VERSION));
    let store = Store::open(&path, 8 << 20).expect("reopens");
    assert!(store.check(|_, _| {}).expect("check").mismatches.is_empty());
    assert_eq!(std::fs::read_dir(dir.path().join("backups")).expect("backups").count(), 1);
}
