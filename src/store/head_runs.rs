//! Voter ledger heads between the batch that changed them and their fold
//! into `VOTER_TO_LEDGER` (issue #16).
//!
//! Writing a head at its own key costs a batch one B-tree leaf per voter:
//! voter keys are random, so a hot clip's batch of a few hundred new voters
//! copied and wrote as many leaves, about a sixth of the vote rate (the
//! paired test in `benches/RESULTS.md`, session 8). Instead a batch appends
//! the heads it changed as one row of `LEDGER_RUN_TO_HEADS`, at that table's
//! right edge, and [`HeadRuns`] holds the newest head of each such voter in
//! memory until a fold writes it to `VOTER_TO_LEDGER`. Every batch that
//! changes heads also folds the next slice of the held heads in key order,
//! about 1/[`FOLD_SLICES`] of them, so a fold puts many heads into each leaf
//! it touches rather than one.
//!
//! What holds:
//! - A voter's head is the one held here when there is one, else the
//!   table's. Held are exactly the voters whose newest head (in the runs) the
//!   table does not have yet.
//! - The slices sweep the key space in order. A full sweep (a *cycle*) folds
//!   every head held when it began, so when it ends, the runs written before
//!   it began are no longer needed and that batch deletes them. So the runs
//!   are at most about two cycles of batches.
//! - Memory changes only once the batch committed ([`HeadRuns::apply`]). A
//!   reopen after a storage failure reloads it from the runs, which also
//!   covers a batch whose commit reported an error but reached the disk.
//! - At start the runs are replayed in id order, the newest head winning; a
//!   writer that stops cleanly folds every held head and deletes every run
//!   in steps ([`HeadRuns::fold_first`]), so a clean start replays nothing.
//! - A reader takes the held head and the run it is current to, then opens
//!   its transaction, and reads any newer run from that transaction
//!   ([`newest_head`]), so it never sees a head older than its transaction.

use std::collections::BTreeMap;
use std::ops::Bound;

use parking_lot::RwLock;
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, Table, WriteTransaction};

use super::StoreError;
use super::tables::{LEDGER_RUN_TO_HEADS, VOTER_TO_LEDGER};
use super::vote_layout::{self, LedgerHead, VoterBytes};

/// How many batches a fold cycle takes when heads arrive at a steady rate:
/// each batch folds about this fraction of the held heads, so about this
/// many batches' worth of heads are held (≈ 64K at 250 new voters per batch).
pub const FOLD_SLICES: usize = 256;

/// Heads a batch folds at least (when few are held, a cycle ends quickly
/// and the runs with it).
const MIN_FOLD: usize = 64;

/// The held heads; shared by the writer (the only one to change them) and
/// the readers of a voter's standing.
#[derive(Debug, Default)]
pub struct HeadRuns {
    state: RwLock<Held>,
}

#[derive(Debug, Default)]
struct Held {
    /// The newest head (stored bytes) of every voter the table is behind on.
    heads: BTreeMap<VoterBytes, Box<[u8]>>,
    /// The newest run whose heads are in `heads` (0: none yet).
    applied_through: u64,
    /// The fold goes on after this key (`None`: from the start).
    cursor: Option<VoterBytes>,
    /// The first run of the cycle under way.
    cycle_start: u64,
}

/// What one batch did to the heads: written in its transaction, applied to
/// memory once it committed.
#[derive(Debug)]
#[must_use = "apply it once the transaction committed"]
pub struct HeadsUpdate {
    changed: Vec<(VoterBytes, Box<[u8]>)>,
    folded: Vec<VoterBytes>,
    applied_through: u64,
    cursor: Option<VoterBytes>,
    cycle_start: u64,
}

impl HeadRuns {
    /// Reads the runs left in the file, oldest first.
    pub fn load(db: &Database) -> Result<HeadRuns, StoreError> {
        let runs = HeadRuns::default();
        runs.reload(db)?;
        Ok(runs)
    }

    /// Replaces what is held with what the file's runs say (at start, and
    /// after the writer reopened the file).
    pub fn reload(&self, db: &Database) -> Result<(), StoreError> {
        let txn = db.begin_read()?;
        let mut heads = BTreeMap::new();
        let mut last = 0;
        for entry in txn.open_table(LEDGER_RUN_TO_HEADS)?.iter()? {
            let (run, bytes) = entry?;
            last = run.value();
            for (voter, head) in vote_layout::decode_head_run(bytes.value())? {
                heads.insert(voter, Box::from(head));
            }
        }
        *self.state.write() = Held { heads, applied_through: last, cursor: None, cycle_start: last + 1 };
        Ok(())
    }

    /// The voter's held head, if the table is behind on it (for the writer,
    /// which alone changes what is held).
    pub fn held(&self, voter: &VoterBytes) -> Result<Option<LedgerHead>, StoreError> {
        Ok(self.held_for_reader(voter)?.0)
    }

    /// The voter's held head and the run it is current to, for a reader
    /// that opens its transaction next (see [`newest_head`]).
    pub fn held_for_reader(&self, voter: &VoterBytes) -> Result<(Option<LedgerHead>, u64), StoreError> {
        let held = self.state.read();
        let head = held.heads.get(voter).map(|bytes| vote_layout::decode_head(bytes)).transpose()?;
        Ok((head, held.applied_through))
    }

    /// Writes a batch's changed heads as one run and folds the next slice
    /// of the held ones (this batch's included) into `ledgers`; at the end
    /// of a cycle, deletes the runs written before it.
    pub fn write_batch(
        &self,
        txn: &WriteTransaction,
        ledgers: &mut Table<&VoterBytes, &[u8]>,
        mut changed: Vec<(VoterBytes, Box<[u8]>)>,
    ) -> Result<Option<HeadsUpdate>, StoreError> {
        if changed.is_empty() {
            return Ok(None);
        }
        changed.sort_unstable_by_key(|(voter, _)| *voter);
        let held = self.state.read();
        let run = held.applied_through + 1;
        let mut runs = txn.open_table(LEDGER_RUN_TO_HEADS)?;
        runs.insert(run, vote_layout::encode_head_run(&changed).as_slice())?;

        let budget = (held.heads.len() + changed.len()).div_ceil(FOLD_SLICES).max(MIN_FOLD);
        let after = held.cursor.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
        let mut from_held = held.heads.range::<VoterBytes, _>((after, Bound::Unbounded)).peekable();
        let start = held.cursor.map_or(0, |cursor| changed.partition_point(|(voter, _)| *voter <= cursor));
        let mut from_batch = changed[start..].iter().peekable();
        let mut folded = Vec::with_capacity(budget);
        while folded.len() < budget {
            // The two sorted sources merged; on the same voter, the batch's
            // head is the newer one.
            let from_this_batch = match (from_held.peek(), from_batch.peek()) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((held_voter, _)), Some((batch_voter, _))) => batch_voter <= *held_voter,
            };
            let (voter, head) = if from_this_batch {
                let Some((voter, head)) = from_batch.next() else { break };
                from_held.next_if(|(held_voter, _)| *held_voter == voter);
                (voter, head)
            } else {
                let Some((voter, head)) = from_held.next() else { break };
                (voter, head)
            };
            ledgers.insert(voter, &**head)?;
            folded.push(*voter);
        }
        let swept = from_held.peek().is_none() && from_batch.peek().is_none();
        let (cursor, cycle_start) = if swept {
            // Every head held when this cycle began is in the table now.
            runs.retain_in(..held.cycle_start, |_, _| false)?;
            (None, run + 1)
        } else {
            (folded.last().copied(), held.cycle_start)
        };
        Ok(Some(HeadsUpdate { changed, folded, applied_through: run, cursor, cycle_start }))
    }

    /// Folds the first `limit` held heads in key order into their table;
    /// once that is all of them, deletes every run too and says so (`true`).
    /// A clean stop calls this until it answers `true`, committing each
    /// step, so the next start replays nothing, and a step copies at most
    /// `limit` leaves, so the file need not grow to hold a second copy of
    /// the whole table.
    pub fn fold_first(&self, txn: &WriteTransaction, limit: usize) -> Result<(HeadsUpdate, bool), StoreError> {
        let held = self.state.read();
        let mut ledgers = txn.open_table(VOTER_TO_LEDGER)?;
        let mut folded = Vec::with_capacity(limit.min(held.heads.len()));
        for (voter, head) in held.heads.iter().take(limit) {
            ledgers.insert(voter, &**head)?;
            folded.push(*voter);
        }
        let all = folded.len() == held.heads.len();
        if all {
            txn.open_table(LEDGER_RUN_TO_HEADS)?.retain(|_, _| false)?;
        }
        let update = HeadsUpdate {
            changed: Vec::new(),
            folded,
            applied_through: held.applied_through,
            cursor: None,
            cycle_start: if all { held.applied_through + 1 } else { held.cycle_start },
        };
        Ok((update, all))
    }

    /// Makes memory follow a committed batch.
    pub fn apply(&self, update: HeadsUpdate) {
        let mut held = self.state.write();
        for (voter, head) in update.changed {
            held.heads.insert(voter, head);
        }
        for voter in &update.folded {
            held.heads.remove(voter);
        }
        held.applied_through = update.applied_through;
        held.cursor = update.cursor;
        held.cycle_start = update.cycle_start;
    }
}

/// A voter's head as of `txn`: from a run newer than `applied_through`
/// (committed after the reader looked at what is held), else the held one,
/// else the table's.
pub fn newest_head(
    txn: &ReadTransaction,
    voter: &VoterBytes,
    held: Option<LedgerHead>,
    applied_through: u64,
) -> Result<Option<LedgerHead>, StoreError> {
    let runs = txn.open_table(LEDGER_RUN_TO_HEADS)?;
    for entry in runs.range(applied_through + 1..)?.rev() {
        let (_, bytes) = entry?;
        if let Some((_, head)) = vote_layout::decode_head_run(bytes.value())?.into_iter().find(|(v, _)| v == voter) {
            return Ok(Some(vote_layout::decode_head(head)?));
        }
    }
    if held.is_some() {
        return Ok(held);
    }
    match txn.open_table(VOTER_TO_LEDGER)?.get(voter)? {
        Some(bytes) => Ok(Some(vote_layout::decode_head(bytes.value())?)),
        None => Ok(None),
    }
}

/// Every head the runs of `txn` hold, oldest run first, so a later call
/// for the same voter is the newer head (`check` lays them over the table).
pub fn replay(
    txn: &ReadTransaction,
    mut visit: impl FnMut(VoterBytes, LedgerHead) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    for entry in txn.open_table(LEDGER_RUN_TO_HEADS)?.iter()? {
        let (_, bytes) = entry?;
        for (voter, head) in vote_layout::decode_head_run(bytes.value())? {
            visit(voter, vote_layout::decode_head(head)?)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;
    use redb::ReadableTableMetadata;

    use super::*;
    use crate::domain::clock::UtcDay;
    use crate::domain::ledger::DayBudget;

    fn head(spent: u32) -> Box<[u8]> {
        let head =
            LedgerHead { budget: DayBudget { day: Some(UtcDay::from_number(20_000)), spent }, ..Default::default() };
        vote_layout::encode_head(&head).into_boxed_slice()
    }

    fn voter(n: u8) -> VoterBytes {
        let mut bytes = [0u8; 17];
        bytes[0] = 2;
        bytes[1] = n.wrapping_mul(37);
        bytes[16] = n;
        bytes
    }

    fn open(path: &std::path::Path) -> Database {
        let db = Database::create(path).expect("create");
        super::super::migrations::run(&db).expect("tables");
        db
    }

    fn commit_batch(db: &Database, runs: &HeadRuns, changed: Vec<(VoterBytes, Box<[u8]>)>, durable: bool) {
        let mut txn = db.begin_write().expect("txn");
        if !durable {
            txn.set_durability(redb::Durability::None).expect("durability");
        }
        let update = {
            let mut ledgers = txn.open_table(VOTER_TO_LEDGER).expect("ledgers");
            runs.write_batch(&txn, &mut ledgers, changed).expect("batch")
        };
        txn.commit().expect("commit");
        if let Some(update) = update {
            runs.apply(update);
        }
    }

    /// Every voter's head as a reader sees it, and as `check` does.
    fn assert_heads(db: &Database, runs: &HeadRuns, model: &HashMap<VoterBytes, u32>) {
        let txn = db.begin_read().expect("read");
        let mut checked: HashMap<VoterBytes, LedgerHead> = HashMap::new();
        for entry in txn.open_table(VOTER_TO_LEDGER).expect("ledgers").iter().expect("iter") {
            let (key, bytes) = entry.expect("entry");
            checked.insert(*key.value(), vote_layout::decode_head(bytes.value()).expect("head"));
        }
        replay(&txn, |voter, head| {
            checked.insert(voter, head);
            Ok(())
        })
        .expect("replay");
        for n in 0..=u8::MAX {
            let key = voter(n);
            let (held, applied) = runs.held_for_reader(&key).expect("held");
            let seen = newest_head(&txn, &key, held, applied).expect("newest").map(|head| head.budget.spent);
            assert_eq!(seen, model.get(&key).copied(), "voter {n}, as a reader sees it");
            let by_check = checked.get(&key).map(|head| head.budget.spent);
            assert_eq!(by_check, model.get(&key).copied(), "voter {n}, as check sees it");
        }
    }

    #[derive(Debug, Clone)]
    enum Step {
        Batch(Vec<(u8, u32)>),
        Reopen,
        Stop,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            20 => proptest::collection::vec((any::<u8>(), 1u32..1000), 1..40).prop_map(Step::Batch),
            1 => Just(Step::Reopen),
            1 => Just(Step::Stop),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Whatever the batches, reopens (a restart or the writer's
        /// recovery) and clean stops, every voter's head is the newest one
        /// written, for a reader and for `check`, and the runs stay bounded.
        #[test]
        fn every_head_is_the_newest_written(steps in proptest::collection::vec(step(), 1..80)) {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("heads.redb");
            let mut db = open(&path);
            let runs = HeadRuns::load(&db).expect("load");
            let mut model = HashMap::new();
            for step in steps {
                match step {
                    Step::Batch(writes) => {
                        let mut changed = HashMap::new();
                        for (n, spent) in writes {
                            changed.insert(voter(n), spent);
                            model.insert(voter(n), spent);
                        }
                        commit_batch(&db, &runs, changed.into_iter().map(|(v, spent)| (v, head(spent))).collect(), true);
                    }
                    Step::Reopen => {
                        drop(db);
                        db = open(&path);
                        runs.reload(&db).expect("reload");
                    }
                    Step::Stop => {
                        loop {
                            let txn = db.begin_write().expect("txn");
                            let (update, all) = runs.fold_first(&txn, 16).expect("fold");
                            txn.commit().expect("commit");
                            runs.apply(update);
                            if all {
                                break;
                            }
                            assert_heads(&db, &runs, &model);
                        }
                        let read = db.begin_read().expect("read");
                        prop_assert_eq!(read.open_table(LEDGER_RUN_TO_HEADS).expect("runs").len().expect("len"), 0);
                        prop_assert!(runs.state.read().heads.is_empty());
                    }
                }
                assert_heads(&db, &runs, &model);
                let read = db.begin_read().expect("read");
                let kept = read.open_table(LEDGER_RUN_TO_HEADS).expect("runs").len().expect("len");
                // 256 voters fold in at most 4 batches of MIN_FOLD, so a
                // cycle is a few batches and two cycles' runs are few.
                prop_assert!(kept <= 12, "{} runs kept", kept);
            }
        }
    }

    /// Under a steady stream of new voters, a batch folds about
    /// 1/FOLD_SLICES of what is held, so the held heads level off near
    /// FOLD_SLICES batches' worth, and the runs at about two cycles (a
    /// cycle takes longer than FOLD_SLICES batches, as heads arrive ahead
    /// of the sweep while it goes).
    #[test]
    fn held_heads_and_runs_level_off_under_a_steady_stream() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open(&dir.path().join("heads.redb"));
        let runs = HeadRuns::load(&db).expect("load");
        let per_batch = 100u32;
        for batch in 0..2_000u32 {
            let changed = (0..per_batch)
                .map(|i| {
                    let n = batch * per_batch + i;
                    let mut key = [0u8; 17];
                    key[0] = 2;
                    key[1..5].copy_from_slice(&n.wrapping_mul(2_654_435_761).to_be_bytes());
                    key[5..9].copy_from_slice(&n.to_be_bytes());
                    (key, head(n % 1000))
                })
                .collect();
            // Only what the heads settle to is asserted, not what a crash leaves.
            commit_batch(&db, &runs, changed, false);
        }
        let held = runs.state.read().heads.len();
        let kept = db.begin_read().expect("read").open_table(LEDGER_RUN_TO_HEADS).expect("runs").len().expect("len");
        let steady = FOLD_SLICES * per_batch as usize;
        assert!(held > steady / 2 && held < steady * 2, "{held} heads held");
        assert!(kept < 4 * FOLD_SLICES as u64, "{kept} runs kept");
        let folded = db.begin_read().expect("read").open_table(VOTER_TO_LEDGER).expect("ledgers").len().expect("len");
        assert_eq!(folded as usize + held, 200_000, "each voter is either folded or held");
    }
}
