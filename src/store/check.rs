//! `aimoviez check`: recounts from the votes everything the writer keeps in
//! step with them — the (slot, clip) counters, every voter's day budget and
//! facts per slot, the all-time tallies, the per-day leaderboard scores, the
//! vote runs — and reports every disagreement in words. It reads every vote:
//! an offline tool, never called by a request.

use std::collections::HashMap;

use redb::{MultimapTableHandle, ReadableTable, ReadableTableMetadata, TableHandle};

use super::head_runs;
use super::tables::{self, *};
use super::tallies::TallyRecount;
use super::vote_layout::{self, LedgerHead, SlotKey, VoterBytes};
use super::{Store, StoreError};
use crate::domain::ledger::SlotLedger;
use crate::domain::model::VoteState;
use crate::domain::vote::VoteType;

/// The outcome of `aimoviez check`.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Votes read.
    pub votes: u64,
    /// (slot, clip) counters compared.
    pub counters: u64,
    /// Voter ledgers (day budget, facts per slot) compared.
    pub budgets: u64,
    /// Every disagreement, in words.
    pub mismatches: Vec<String>,
}

/// A voter's facts in one slot as the votes say: the counted votes as
/// (vote id, clip id, type tag) in id order, and the specials spent — by a
/// counted vote, or by a vote an admin voided (voiding gives nothing back).
#[derive(Debug, Default, PartialEq, Eq)]
struct SlotRecount {
    votes: Vec<(u64, u64, u8)>,
    super_used: bool,
    mega_used: bool,
}

impl SlotRecount {
    fn of(ledger: &SlotLedger) -> Self {
        let mut votes: Vec<(u64, u64, u8)> =
            ledger.votes.iter().map(|v| (v.vote.get(), v.clip.get(), v.vote_type.tag())).collect();
        votes.sort_unstable();
        SlotRecount { votes, super_used: ledger.specials.super_used, mega_used: ledger.specials.mega_used }
    }
}

impl Store {
    /// Recounts and compares; see the module doc. `progress(read, total)`
    /// is called every 10,000 votes.
    pub fn check(&self, mut progress: impl FnMut(u64, u64)) -> Result<CheckReport, StoreError> {
        let txn = self.read()?;
        let mut report = CheckReport::default();
        check_layout(&txn, &mut report)?;
        let mut heads: HashMap<VoterBytes, LedgerHead> = HashMap::new();
        for entry in txn.open_table(VOTER_TO_LEDGER)?.iter()? {
            let (key, bytes) = entry?;
            heads.insert(*key.value(), vote_layout::decode_head(bytes.value())?);
        }
        // The heads not folded yet are newer than the table's.
        head_runs::replay(&txn, |voter, head| {
            heads.insert(voter, head);
            Ok(())
        })?;
        let mut runs: Vec<(u64, SlotKey)> = Vec::new();
        for entry in txn.open_table(VOTE_RUN_TO_SLOT)?.iter()? {
            let (first, slot) = entry?;
            runs.push((first.value(), slot.value()));
        }
        let days_from = txn.open_table(META)?.get(meta_keys::DAY_SCORES_KEPT_FROM)?.map(|v| v.value()).unwrap_or(0);
        let mut tallies = TallyRecount::from_day(u32::try_from(days_from).unwrap_or(u32::MAX));
        let clips = txn.open_table(CLIP_ID_TO_CLIP)?;
        let votes = txn.open_table(SLOT_VOTE_TO_VOTE)?;
        let total = votes.len()?;
        let mut counts: HashMap<(u64, u32, u64), (u64, u64)> = HashMap::new();
        let mut spent: HashMap<VoterBytes, u32> = HashMap::new();
        let mut facts: HashMap<(VoterBytes, SlotKey), SlotRecount> = HashMap::new();
        let mut voters_without_head: HashMap<VoterBytes, u64> = HashMap::new();
        for entry in votes.iter()? {
            let (key, bytes) = entry?;
            let key = key.value();
            let vote = vote_layout::decode_vote(key, bytes.value())?;
            report.votes += 1;
            if report.votes.is_multiple_of(10_000) {
                progress(report.votes, total);
            }
            let slot = (key.0, key.1);
            let run = runs.partition_point(|(first, _)| *first <= key.2).checked_sub(1).map(|index| runs[index].1);
            if run != Some(slot) {
                report.mismatches.push(format!("vote {}: cast in slot {slot:?} but its run says {run:?}", key.2));
            }
            if vote.counts() {
                let counter = counts.entry((key.0, key.1, vote.clip.get())).or_default();
                counter.0 += 1;
                counter.1 += u64::from(vote.weight);
            }
            tallies.add(&vote, &clips)?;
            let voter = vote_layout::voter_bytes(&vote.voter);
            match heads.get(&voter) {
                Some(head) if vote.spends_budget() && head.budget.day == Some(vote.day) => {
                    *spent.entry(voter).or_default() += vote.weight;
                }
                Some(_) => {}
                None if vote.counts() || vote.spends_budget() => *voters_without_head.entry(voter).or_default() += 1,
                None => {}
            }
            let special_spent = matches!(vote.state, VoteState::Counted | VoteState::Voided);
            if vote.counts() || (special_spent && vote.vote_type != VoteType::Standard) {
                let recount = facts.entry((voter, slot)).or_default();
                if vote.counts() {
                    recount.votes.push((key.2, vote.clip.get(), vote.vote_type.tag()));
                }
                if special_spent {
                    recount.super_used |= vote.vote_type == VoteType::Super;
                    recount.mega_used |= vote.vote_type == VoteType::Mega;
                }
            }
        }
        progress(report.votes, total);
        compare_counters(&txn, counts, &mut report)?;
        for (voter, count) in voters_without_head {
            report.mismatches.push(format!("voter {}: {count} votes but no ledger", describe(&voter)));
        }
        // Every voter's facts as stored: the head's slot, and the slots apart.
        let mut stored: HashMap<(VoterBytes, SlotKey), SlotRecount> = HashMap::new();
        for (voter, head) in &heads {
            report.budgets += 1;
            if let Some(day) = head.budget.day {
                let recount = spent.get(voter).copied().unwrap_or(0);
                if recount != head.budget.spent {
                    report.mismatches.push(format!(
                        "voter {}: day {}: ledger spend {}, recount {recount}",
                        describe(voter),
                        day.number(),
                        head.budget.spent
                    ));
                }
            }
            if let Some(slot) = head.slot {
                stored.insert((*voter, slot), SlotRecount::of(&head.current));
            }
        }
        for entry in txn.open_table(SLOT_VOTER_TO_LEDGER)?.iter()? {
            let (key, bytes) = entry?;
            let (season, position, voter) = key.value();
            let ledger = vote_layout::decode_slot_ledger(bytes.value())?;
            if stored.insert((*voter, (season, position)), SlotRecount::of(&ledger)).is_some() {
                report.mismatches.push(format!(
                    "voter {}: slot {season}:{position} is both in the ledger head and apart",
                    describe(voter)
                ));
            }
        }
        for ((voter, slot), ledger) in &stored {
            let recount = facts.remove(&(*voter, *slot)).unwrap_or_default();
            if *ledger != recount {
                report.mismatches.push(format!(
                    "voter {} slot {}:{}: ledger {ledger:?}, recount {recount:?}",
                    describe(voter),
                    slot.0,
                    slot.1
                ));
            }
        }
        for ((voter, slot), recount) in facts {
            report.mismatches.push(format!(
                "voter {} slot {}:{}: no ledger, recount {recount:?}",
                describe(&voter),
                slot.0,
                slot.1
            ));
        }
        compare_tallies(&txn, tallies, &mut report)?;
        self.check_social(&txn, &mut report)?;
        self.check_tallies_frozen(&mut report.mismatches)?;
        Ok(report)
    }
}

/// A voter key for a report line.
fn describe(voter: &VoterBytes) -> String {
    vote_layout::voter_from_bytes(voter).map_or_else(|_| hex::encode(voter), |key| key.to_string())
}

fn compare_counters(
    txn: &redb::ReadTransaction,
    mut counts: HashMap<(u64, u32, u64), (u64, u64)>,
    report: &mut CheckReport,
) -> Result<(), StoreError> {
    for entry in txn.open_table(SLOT_CLIP_TO_COUNTER)?.iter()? {
        let (key, value) = entry?;
        report.counters += 1;
        let key = key.value();
        let stored = value.value();
        let recount = counts.remove(&key).unwrap_or((0, 0));
        if stored != recount {
            report.mismatches.push(format!(
                "slot {}:{} clip {}: stored {} votes / score {}, recount {} / {}",
                key.0, key.1, key.2, stored.0, stored.1, recount.0, recount.1
            ));
        }
    }
    for (key, recount) in counts {
        report.mismatches.push(format!(
            "slot {}:{} clip {}: no stored counter, recount {} votes / score {}",
            key.0, key.1, key.2, recount.0, recount.1
        ));
    }
    Ok(())
}

/// Compares the all-time tallies of signed-in voters and creators and the
/// kept day scores with their recount.
fn compare_tallies(
    txn: &redb::ReadTransaction,
    mut recount: TallyRecount,
    report: &mut CheckReport,
) -> Result<(), StoreError> {
    for entry in txn.open_table(USER_ID_TO_VOTE_TALLY)?.iter()? {
        let (user, tally) = entry?;
        let expected = recount.users.remove(&user.value()).unwrap_or((0, 0));
        if tally.value() != expected {
            report.mismatches.push(format!(
                "voter u:{} tally: stored {:?}, recount {expected:?}",
                user.value(),
                tally.value()
            ));
        }
    }
    for (user, expected) in recount.users {
        report.mismatches.push(format!("voter u:{user} tally: none stored, recount {expected:?}"));
    }
    for entry in txn.open_table(CREATOR_TO_TALLY)?.iter()? {
        let (creator, tally) = entry?;
        let expected = recount.creators.remove(&creator.value()).unwrap_or((0, 0));
        if tally.value() != expected {
            report.mismatches.push(format!(
                "creator {} tally: stored {:?}, recount {expected:?}",
                creator.value(),
                tally.value()
            ));
        }
    }
    for (creator, expected) in recount.creators {
        report.mismatches.push(format!("creator {creator} tally: none stored, recount {expected:?}"));
    }
    for entry in txn.open_table(DAY_ENTRY_TO_SCORE)?.range((recount.days_from, 0, 0)..)? {
        let (key, score) = entry?;
        let key = key.value();
        let expected = recount.days.remove(&key).unwrap_or(0);
        if score.value() != expected {
            report.mismatches.push(format!(
                "day {} board {} id {}: stored score {}, recount {expected}",
                key.0,
                key.1,
                key.2,
                score.value()
            ));
        }
    }
    for (key, expected) in recount.days {
        report
            .mismatches
            .push(format!("day {} board {} id {}: no stored score, recount {expected}", key.0, key.1, key.2));
    }
    Ok(())
}

/// Reports every table of the file that the registry (`tables.rs`) lacks, and
/// every registered table the file lacks: either means the file was written
/// by another build and backup would refuse it.
fn check_layout(txn: &redb::ReadTransaction, report: &mut CheckReport) -> Result<(), StoreError> {
    let registered = tables::table_names();
    let mut present = Vec::new();
    for table in txn.list_tables()? {
        present.push(table.name().to_owned());
    }
    for table in txn.list_multimap_tables()? {
        present.push(table.name().to_owned());
    }
    for name in present.iter().filter(|name| !registered.contains(name)) {
        report.mismatches.push(format!("table `{name}` is not one this build knows"));
    }
    for name in registered.iter().filter(|name| !present.contains(name)) {
        report.mismatches.push(format!("table `{name}` is missing"));
    }
    Ok(())
}
