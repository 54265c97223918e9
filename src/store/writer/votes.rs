//! Vote jobs: cast, revoke, and the admin's void of flagged votes.

use redb::ReadableTable;

use super::super::ClipCounter;
use super::super::StoreError;
use super::super::tables::VOTE_RUN_TO_SLOT;
use super::super::vote_layout::{self, SlotKey};
use super::{Batch, CommittedEvent, VoteTally, WriteError, WriterHandle};
use crate::domain::fraud::DEFAULT_FLAG_THRESHOLD;
use crate::domain::ids::{ClipId, SeasonId, SlotPosition, UserId, VoteId, VoterKey};
use crate::domain::ledger::LedgerVote;
use crate::domain::model::{Vote, VoteState};
use crate::domain::tournament::SlotStatus;
use crate::domain::vote::{self, CastFacts, SpecialsUsed, VoteRefusal, VoteType};

/// A vote to cast.
#[derive(Debug, Clone)]
pub struct CastRequest {
    /// Who votes.
    pub voter: VoterKey,
    /// For which clip.
    pub clip: ClipId,
    /// Standard, super or mega.
    pub vote_type: VoteType,
    /// The voter's network (IPv4 /24 or IPv6 /48), for fraud signals.
    pub network: u64,
}

/// The result of a cast or revoke, as committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoteOutcome {
    /// The clip voted on.
    pub clip: ClipId,
    /// The kind of the vote cast or revoked.
    pub vote_type: VoteType,
    /// The clip's counts in the slot after this command.
    pub counter: ClipCounter,
    /// The voter's spending today after this command.
    pub spent_today: u32,
    /// The voter's specials in this slot after this command.
    pub specials_used: SpecialsUsed,
    /// The vote cast or revoked, and its slot: what the voter keeps to find
    /// it in the slot's published tally once the slot locks.
    pub receipt: VoteReceipt,
}

/// Where a vote will be published: its id and slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoteReceipt {
    /// The vote.
    pub vote: VoteId,
    /// Its season.
    pub season: SeasonId,
    /// Its slot.
    pub position: SlotPosition,
}

impl WriterHandle {
    /// Casts a vote; answers after it is durable.
    pub async fn cast_vote(&self, request: CastRequest) -> Result<VoteOutcome, WriteError> {
        self.run(move |batch| Ok(batch.cast(&request)?.map_err(WriteError::from))).await
    }

    /// Revokes the voter's latest vote on a clip; answers after it is durable.
    pub async fn revoke_vote(&self, voter: VoterKey, clip: ClipId) -> Result<VoteOutcome, WriteError> {
        self.run(move |batch| Ok(batch.revoke(&voter, clip)?.map_err(WriteError::from))).await
    }

    /// Voids flagged votes (admin): removes them from the counts, keeps them
    /// in history, audit-logs the action. Returns how many were voided.
    pub async fn void_votes(&self, actor: UserId, ids: Vec<VoteId>) -> Result<usize, WriteError> {
        self.run(move |batch| Ok(Ok(batch.void_votes(actor, &ids)?))).await
    }

    /// Stores a feature flag (audit-logged when an admin does it).
    pub async fn set_flag(&self, key: String, enabled: bool, actor: Option<UserId>) -> Result<(), WriteError> {
        self.run(move |batch| {
            batch.set_flag(&key, enabled)?;
            if actor.is_some() {
                batch.audit(actor, "set_feature_flag", format!("flag:{key}"), format!("enabled={enabled}"))?;
            }
            Ok(Ok(()))
        })
        .await
    }
}

impl Batch<'_> {
    fn cast(&mut self, request: &CastRequest) -> Result<Result<VoteOutcome, VoteRefusal>, StoreError> {
        let CastRequest { voter, clip, vote_type, network } = request;
        let (clip, vote_type) = (*clip, *vote_type);
        let voter_key = vote_layout::voter_bytes(voter);
        let slot = self.open_slot()?;
        let target = self.clip_target(clip)?;
        let (today, now, daily_budget, flags) = (self.today, self.now, self.daily_budget, self.flags);
        let spent_today = self.voter_ledger(&voter_key)?.budget().spent_on(today);
        let (existing, specials_used) = match slot {
            Some(slot) => {
                let ledger = self.slot_ledger(&voter_key, (slot.season.get(), slot.position.get()))?;
                (ledger.votes_on(clip), ledger.specials)
            }
            None => (0, SpecialsUsed::default()),
        };
        let facts = CastFacts {
            slot,
            clip: target,
            vote_type,
            voter_is_user: voter.is_user(),
            existing_votes_on_clip: existing,
            specials_used,
            spent_today,
            daily_budget,
            flags,
            now,
        };
        let decision = match vote::decide_cast(&facts) {
            Ok(decision) => decision,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let risk = self.fraud.lock().assess_vote(voter.as_str(), *network, now);
        let flagged = risk.flagged(DEFAULT_FLAG_THRESHOLD);
        let id = self.take_vote_id()?;
        let record = Vote {
            id,
            voter: voter.clone(),
            season: decision.season,
            position: decision.position,
            clip,
            vote_type,
            weight: decision.weight,
            day: decision.day,
            cast_at: now,
            state: VoteState::Counted,
            risk_score: risk.score,
            risk_reasons: risk.reason_bits(),
            flagged,
        };
        let slot_key = (decision.season.get(), decision.position.get());
        self.votes.insert(vote_layout::vote_key(&record), &vote_layout::encode_vote(&record)?)?;
        self.note_vote_slot(id.get(), slot_key)?;
        if flagged {
            self.flagged.insert(id.get(), ())?;
        }
        if let Some(user) = voter.user_id() {
            self.user_votes.insert((user.get(), id.get()), ())?;
        }
        let entry = LedgerVote { clip, vote: id, vote_type };
        let slot_ledger = self.slot_ledger_mut(&voter_key, slot_key)?;
        slot_ledger.record(entry);
        let specials_used = slot_ledger.specials;
        self.move_head(&voter_key, slot_key)?;
        let budget = self.budget_mut(&voter_key)?;
        budget.spend(decision.day, decision.weight);
        let spent_today = budget.spent_on(today);
        let counter = self.counter((slot_key.0, slot_key.1, clip.get()))?;
        counter.vote_count += 1;
        counter.weighted_score += u64::from(decision.weight);
        let counter = *counter;
        if let Some(target) = target {
            self.events.push(CommittedEvent::VoteTallied(VoteTally {
                day: decision.day,
                clip,
                creator: target.creator,
                voter: voter.clone(),
                weight: decision.weight,
                delta: 1,
            }));
        }
        let receipt = VoteReceipt { vote: id, season: decision.season, position: decision.position };
        Ok(Ok(VoteOutcome { clip, vote_type, counter, spent_today, specials_used, receipt }))
    }

    fn revoke(&mut self, voter: &VoterKey, clip: ClipId) -> Result<Result<VoteOutcome, VoteRefusal>, StoreError> {
        let Some(target) = self.clip_target(clip)? else {
            return Ok(Err(VoteRefusal::ClipNotFound));
        };
        let Some(slot) = self.open_slot()? else {
            return Ok(Err(VoteRefusal::SlotClosed));
        };
        if target.season != slot.season || target.position != slot.position {
            return Ok(Err(VoteRefusal::NotVotable));
        }
        let window_open = slot.status == SlotStatus::Voting && slot.voting_ends_at.is_some_and(|ends| self.now < ends);
        if !window_open {
            return Ok(Err(VoteRefusal::SlotClosed));
        }
        let voter_key = vote_layout::voter_bytes(voter);
        let slot_key = (slot.season.get(), slot.position.get());
        let Some(latest) = self.slot_ledger_mut(&voter_key, slot_key)?.take_latest(clip) else {
            return Ok(Err(VoteRefusal::NoVoteToRevoke));
        };
        let specials_used = self.slot_ledger(&voter_key, slot_key)?.specials;
        let mut stored = self.stored_vote((slot_key.0, slot_key.1, latest.vote.get()))?;
        let refunded = vote::revoke_refunds(stored.day, self.now);
        stored.state = VoteState::Revoked { refunded };
        self.votes.insert(vote_layout::vote_key(&stored), &vote_layout::encode_vote(&stored)?)?;
        self.flagged.remove(stored.id.get())?;
        let today = self.today;
        let budget = self.budget_mut(&voter_key)?;
        if refunded {
            budget.refund(stored.day, stored.weight);
        }
        let spent_today = budget.spent_on(today);
        let counter = self.counter((slot_key.0, slot_key.1, clip.get()))?;
        counter.vote_count = counter.vote_count.saturating_sub(1);
        counter.weighted_score = counter.weighted_score.saturating_sub(u64::from(stored.weight));
        let counter = *counter;
        self.events.push(CommittedEvent::VoteTallied(tally_withdrawn(&stored, target.creator)));
        let receipt = VoteReceipt { vote: stored.id, season: slot.season, position: slot.position };
        Ok(Ok(VoteOutcome { clip, vote_type: stored.vote_type, counter, spent_today, specials_used, receipt }))
    }

    /// The vote stored under `key`; its absence is corruption (a ledger or
    /// an index names it).
    pub(super) fn stored_vote(&self, key: (u64, u32, u64)) -> Result<Vote, StoreError> {
        match self.votes.get(key)? {
            Some(bytes) => vote_layout::decode_vote(key, bytes.value()),
            None => Err(StoreError::Corrupt { what: "vote", reason: format!("missing vote {}", key.2) }),
        }
    }

    /// Records that vote `id` was cast in `slot`: a new run in
    /// `VOTE_RUN_TO_SLOT` when the vote before it was cast elsewhere.
    fn note_vote_slot(&mut self, id: u64, slot: SlotKey) -> Result<(), StoreError> {
        let last = match self.last_run {
            Some(last) => last,
            None => {
                let runs = self.txn.open_table(VOTE_RUN_TO_SLOT)?;
                runs.last()?.map(|(first, slot)| (first.value(), slot.value()))
            }
        };
        if last.is_none_or(|(_, run_slot)| run_slot != slot) {
            self.txn.open_table(VOTE_RUN_TO_SLOT)?.insert(id, slot)?;
            self.last_run = Some(Some((id, slot)));
        } else {
            self.last_run = Some(last);
        }
        Ok(())
    }

    /// The stored vote with this id, wherever it was cast.
    fn vote_by_id(&self, id: VoteId) -> Result<Option<Vote>, StoreError> {
        let runs = self.txn.open_table(VOTE_RUN_TO_SLOT)?;
        let Some((_, slot)) = super::super::slot_of_vote(&runs, id.get())? else { return Ok(None) };
        let key = (slot.0, slot.1, id.get());
        self.votes.get(key)?.map(|bytes| vote_layout::decode_vote(key, bytes.value())).transpose()
    }

    /// Voids a counted vote: it stays in history but leaves the counts, the
    /// voter's ledger and the tallies. Its special and the budget it spent
    /// stay spent.
    pub(super) fn void_counted(&mut self, mut vote: Vote) -> Result<(), StoreError> {
        vote.state = VoteState::Voided;
        self.votes.insert(vote_layout::vote_key(&vote), &vote_layout::encode_vote(&vote)?)?;
        self.flagged.remove(vote.id.get())?;
        let voter_key = vote_layout::voter_bytes(&vote.voter);
        self.slot_ledger_mut(&voter_key, (vote.season.get(), vote.position.get()))?.forget(vote.id);
        let counter = self.counter((vote.season.get(), vote.position.get(), vote.clip.get()))?;
        counter.vote_count = counter.vote_count.saturating_sub(1);
        counter.weighted_score = counter.weighted_score.saturating_sub(u64::from(vote.weight));
        if let Some(target) = self.clip_target(vote.clip)? {
            self.events.push(CommittedEvent::VoteTallied(tally_withdrawn(&vote, target.creator)));
        }
        Ok(())
    }

    /// Withdraws a counted vote of a slot an admin reset: as its voter's
    /// revoke would, so it is stored as revoked (the tally export and
    /// `check` then see its special free), its special is usable again and
    /// its weight is refunded if it was cast today.
    pub(super) fn withdraw_for_reset(&mut self, mut vote: Vote) -> Result<(), StoreError> {
        let refunded = vote::revoke_refunds(vote.day, self.now);
        vote.state = VoteState::Revoked { refunded };
        self.votes.insert(vote_layout::vote_key(&vote), &vote_layout::encode_vote(&vote)?)?;
        self.flagged.remove(vote.id.get())?;
        let voter_key = vote_layout::voter_bytes(&vote.voter);
        self.slot_ledger_mut(&voter_key, (vote.season.get(), vote.position.get()))?.release(vote.id);
        if refunded {
            self.budget_mut(&voter_key)?.refund(vote.day, vote.weight);
        }
        let counter = self.counter((vote.season.get(), vote.position.get(), vote.clip.get()))?;
        counter.vote_count = counter.vote_count.saturating_sub(1);
        counter.weighted_score = counter.weighted_score.saturating_sub(u64::from(vote.weight));
        if let Some(target) = self.clip_target(vote.clip)? {
            self.events.push(CommittedEvent::VoteTallied(tally_withdrawn(&vote, target.creator)));
        }
        Ok(())
    }

    fn void_votes(&mut self, actor: UserId, ids: &[VoteId]) -> Result<usize, StoreError> {
        let mut voided = Vec::new();
        for id in ids {
            let Some(stored) = self.vote_by_id(*id)? else { continue };
            if stored.state != VoteState::Counted {
                continue;
            }
            self.void_counted(stored)?;
            voided.push(id.get().to_string());
        }
        if !voided.is_empty() {
            self.audit(Some(actor), "void_votes", format!("votes:{}", voided.len()), voided.join(","))?;
        }
        Ok(voided.len())
    }
}

/// The tally event for a counted vote that stops counting.
fn tally_withdrawn(vote: &Vote, creator: UserId) -> VoteTally {
    VoteTally { day: vote.day, clip: vote.clip, creator, voter: vote.voter.clone(), weight: vote.weight, delta: -1 }
}
