//! Voter ledgers as one batch sees them: read once, changed in memory, and
//! written once at the end of the batch however many votes the voter cast.
//!
//! Storage keeps, per voter, a head (`VOTER_TO_LEDGER`: the day budget and
//! the facts of the slot they voted in last; a batch's changed heads go
//! there by way of a run, see `head_runs`) and, per (slot, voter), the
//! facts of slots they moved on from (`SLOT_VOTER_TO_LEDGER`). Casting in
//! another slot makes that slot the head's; the slot left behind is kept
//! apart if the voter has anything there, and comes back when they vote there
//! again after an admin reopened it. So a voter's votes and specials are
//! known per slot whatever the admins do, while most voters cost one record.

use std::collections::HashMap;

use redb::ReadableTable;

use super::super::StoreError;
use super::super::tables::SLOT_VOTER_TO_LEDGER;
use super::super::vote_layout::{self, LedgerHead, SlotKey, VoterBytes};
use super::Batch;
use crate::domain::ledger::{DayBudget, SlotLedger};

/// One voter's ledger as read and changed in this batch.
#[derive(Debug, Clone, Default)]
pub(super) struct CachedLedger {
    /// The head's slot as stored.
    stored_head: Option<SlotKey>,
    /// The head's slot once this batch commits: the slot of the latest cast.
    head: Option<SlotKey>,
    /// The day budget.
    budget: DayBudget,
    /// Slot facts read or changed in this batch.
    slots: HashMap<SlotKey, LoadedSlot>,
    /// Whether anything must be written.
    changed: bool,
    /// Whether storage holds a head for this voter; without one it holds no
    /// slot facts apart either (they are only written beside a head).
    stored: bool,
}

#[derive(Debug, Clone, Default)]
struct LoadedSlot {
    ledger: SlotLedger,
    /// Whether a `SLOT_VOTER_TO_LEDGER` row holds it now.
    archived: bool,
    /// Whether this batch changed it.
    changed: bool,
}

impl CachedLedger {
    fn from_head(head: Option<LedgerHead>) -> Self {
        let stored = head.is_some();
        let head = head.unwrap_or_default();
        let mut slots = HashMap::new();
        if let Some(slot) = head.slot {
            slots.insert(slot, LoadedSlot { ledger: head.current, archived: false, changed: false });
        }
        CachedLedger { stored_head: head.slot, head: head.slot, budget: head.budget, slots, changed: false, stored }
    }

    /// The day budget.
    pub(super) fn budget(&self) -> DayBudget {
        self.budget
    }
}

impl Batch<'_> {
    /// A voter's ledger head, read once per batch.
    pub(super) fn voter_ledger(&mut self, voter: &VoterBytes) -> Result<&mut CachedLedger, StoreError> {
        if !self.ledger_cache.contains_key(voter) {
            let head = match self.heads.held(voter)? {
                Some(head) => Some(head),
                None => match self.ledgers.get(voter)? {
                    Some(bytes) => Some(vote_layout::decode_head(bytes.value())?),
                    None => None,
                },
            };
            self.ledger_cache.insert(*voter, CachedLedger::from_head(head));
        }
        Ok(self.ledger_cache.entry(*voter).or_default())
    }

    /// A voter's facts in a slot, for reading.
    pub(super) fn slot_ledger(&mut self, voter: &VoterBytes, slot: SlotKey) -> Result<&SlotLedger, StoreError> {
        Ok(&self.load_slot(voter, slot)?.slots.entry(slot).or_default().ledger)
    }

    /// A voter's facts in a slot, to change; written at the end of the batch.
    pub(super) fn slot_ledger_mut(&mut self, voter: &VoterBytes, slot: SlotKey) -> Result<&mut SlotLedger, StoreError> {
        let cached = self.load_slot(voter, slot)?;
        cached.changed = true;
        let loaded = cached.slots.entry(slot).or_default();
        loaded.changed = true;
        Ok(&mut loaded.ledger)
    }

    /// A voter's day budget, to change; written at the end of the batch.
    pub(super) fn budget_mut(&mut self, voter: &VoterBytes) -> Result<&mut DayBudget, StoreError> {
        let cached = self.voter_ledger(voter)?;
        cached.changed = true;
        Ok(&mut cached.budget)
    }

    /// Makes `slot` the one the voter's head holds (they just voted there).
    pub(super) fn move_head(&mut self, voter: &VoterBytes, slot: SlotKey) -> Result<(), StoreError> {
        let cached = self.load_slot(voter, slot)?;
        if cached.head != Some(slot) {
            cached.head = Some(slot);
            cached.changed = true;
        }
        Ok(())
    }

    /// The voter's cached ledger with `slot`'s facts loaded (from the head,
    /// the slots apart, or empty).
    fn load_slot(&mut self, voter: &VoterBytes, slot: SlotKey) -> Result<&mut CachedLedger, StoreError> {
        let cached = self.voter_ledger(voter)?;
        if !cached.slots.contains_key(&slot) && !cached.stored {
            cached.slots.insert(slot, LoadedSlot::default());
        }
        if !self.voter_ledger(voter)?.slots.contains_key(&slot) {
            let archive = self.txn.open_table(SLOT_VOTER_TO_LEDGER)?;
            let loaded = match archive.get((slot.0, slot.1, voter))? {
                Some(bytes) => LoadedSlot {
                    ledger: vote_layout::decode_slot_ledger(bytes.value())?,
                    archived: true,
                    changed: false,
                },
                None => LoadedSlot::default(),
            };
            self.voter_ledger(voter)?.slots.insert(slot, loaded);
        }
        self.voter_ledger(voter)
    }

    /// Writes every ledger this batch changed: the head with the slot of the
    /// voter's latest cast, and each other slot touched (or left behind by
    /// the head) apart, or its row removed once the voter has nothing there.
    pub(super) fn flush_ledgers(&mut self) -> Result<(), StoreError> {
        if !self.ledger_cache.values().any(|cached| cached.changed) {
            return Ok(());
        }
        let mut archive = self.txn.open_table(SLOT_VOTER_TO_LEDGER)?;
        let mut heads = Vec::new();
        for (voter, cached) in &self.ledger_cache {
            if !cached.changed {
                continue;
            }
            let current = cached.head.and_then(|slot| cached.slots.get(&slot)).map(|loaded| loaded.ledger.clone());
            let head = LedgerHead { budget: cached.budget, slot: cached.head, current: current.unwrap_or_default() };
            heads.push((*voter, vote_layout::encode_head(&head).into_boxed_slice()));
            for (slot, loaded) in &cached.slots {
                let key = (slot.0, slot.1, voter);
                if Some(*slot) == cached.head {
                    if loaded.archived {
                        archive.remove(key)?;
                    }
                    continue;
                }
                let left_behind = Some(*slot) == cached.stored_head;
                if !loaded.changed && !left_behind {
                    continue;
                }
                if !loaded.ledger.is_empty() {
                    archive.insert(key, vote_layout::encode_slot_ledger(&loaded.ledger).as_slice())?;
                } else if loaded.archived {
                    archive.remove(key)?;
                }
            }
        }
        // Not at their keys: as one run, folded in later (see `head_runs`).
        self.heads_update = self.heads.write_batch(self.txn, &mut self.ledgers, heads)?;
        Ok(())
    }
}
