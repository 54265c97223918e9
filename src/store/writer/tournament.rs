//! Tournament jobs: seasons, clips entering and leaving the competition, and
//! closing slots. Every admin operation goes through here, is checked against
//! what the transaction reads (so advancing twice is impossible), and is
//! audit-logged in the same transaction.

use redb::ReadableTable;

use super::super::StoreError;
use super::super::vote_layout;
use super::batch::CommittedEvent;
use super::{Batch, WriteError, WriterHandle};
use crate::domain::advance::{self, AdvanceFacts, AdvancePlan, AdvanceRefusal, NextSlot};
use crate::domain::ids::{ClipId, SeasonId, SlotPosition, UserId};
use crate::domain::model::{Clip, Season, Slot, VoteState};
use crate::domain::tournament::{ClipStatus, Contender, SeasonStatus, SlotStatus};
use crate::store::tables::{GENRE_ROUND_TO_CLOSING, meta_keys};

/// Why a tournament operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TournamentError {
    /// The thing does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The operation does not fit the current state.
    #[error("{0}")]
    Conflict(String),
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
}

impl From<AdvanceRefusal> for TournamentError {
    fn from(refusal: AdvanceRefusal) -> Self {
        TournamentError::Conflict(refusal.to_string())
    }
}

/// A new draft season.
#[derive(Debug, Clone)]
pub struct NewSeason {
    /// Title of the film.
    pub title: String,
    /// Genre.
    pub genre: String,
    /// Description.
    pub description: String,
    /// Number of slots.
    pub total_slots: u32,
    /// Voting window per slot.
    pub slot_duration_secs: u64,
}

/// A clip just uploaded.
#[derive(Debug, Clone)]
pub struct NewClip {
    /// Who uploaded it.
    pub creator: UserId,
    /// Their username.
    pub creator_username: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Genre.
    pub genre: String,
    /// Video under the media root.
    pub video_path: String,
    /// Poster under the media root.
    pub poster_path: String,
    /// Length.
    pub duration_ms: u32,
}

/// What closing a slot did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdvanceOutcome {
    /// A winner was locked in.
    Locked {
        /// The slot closed.
        position: SlotPosition,
        /// Its winner.
        winner: ClipId,
        /// Whether that finished the season.
        season_finished: bool,
    },
    /// The slot had no clips and now waits for some.
    WaitingForClips {
        /// The slot.
        position: SlotPosition,
    },
    /// Nothing to do (the scheduler raced an admin, or the window had not ended).
    NothingToDo,
}

/// What the scheduler asks for.
#[derive(Debug, Clone, Copy)]
pub enum AdvanceTrigger {
    /// The window of this slot ended; advance only if it still is that slot and it ended.
    WindowEnded {
        /// The season.
        season: SeasonId,
        /// The slot.
        position: SlotPosition,
    },
    /// An admin closes the open slot now.
    Manual {
        /// Who.
        actor: UserId,
        /// The winner they chose, if any.
        winner: Option<ClipId>,
        /// The slot the admin saw open; refused if another is open by now,
        /// so a click racing the scheduler cannot close the next slot too.
        expected: Option<SlotPosition>,
    },
}

impl WriterHandle {
    /// Creates a draft season with its slots.
    pub async fn create_season(&self, actor: UserId, new: NewSeason) -> Result<Season, WriteError> {
        self.run(move |batch| Ok(batch.create_season(actor, &new)?.map_err(WriteError::from))).await
    }

    /// Moves a season through its lifecycle: `activate`, `finish` or `archive`.
    pub async fn season_transition(
        &self,
        actor: UserId,
        season: SeasonId,
        to: SeasonStatus,
    ) -> Result<Season, WriteError> {
        self.run(move |batch| Ok(batch.season_transition(actor, season, to)?.map_err(WriteError::from))).await
    }

    /// Deletes a draft season; `confirm` must equal its title.
    pub async fn delete_season(&self, actor: UserId, season: SeasonId, confirm: String) -> Result<(), WriteError> {
        self.run(move |batch| Ok(batch.delete_season(actor, season, &confirm)?.map_err(WriteError::from))).await
    }

    /// Stores an uploaded clip as pending in the active season.
    pub async fn create_clip(&self, new: NewClip) -> Result<Clip, WriteError> {
        self.run(move |batch| Ok(batch.create_clip(&new)?.map_err(WriteError::from))).await
    }

    /// Approves pending clips into the open slot; a slot waiting for clips starts voting.
    pub async fn approve_clips(&self, actor: UserId, clips: Vec<ClipId>) -> Result<Vec<Clip>, WriteError> {
        self.run(move |batch| Ok(batch.approve_clips(actor, &clips)?.map_err(WriteError::from))).await
    }

    /// Rejects pending or active clips with a reason the creator sees.
    pub async fn reject_clips(
        &self,
        actor: UserId,
        clips: Vec<ClipId>,
        reason: String,
    ) -> Result<Vec<Clip>, WriteError> {
        self.run(move |batch| Ok(batch.reject_clips(actor, &clips, &reason)?.map_err(WriteError::from))).await
    }

    /// Closes the open slot (scheduler or admin).
    pub async fn advance(&self, trigger: AdvanceTrigger) -> Result<AdvanceOutcome, WriteError> {
        self.run(move |batch| Ok(batch.advance(trigger)?.map_err(WriteError::from))).await
    }

    /// Reopens the most recently locked slot for voting (admin).
    pub async fn unlock_slot(&self, actor: UserId, position: SlotPosition) -> Result<(), WriteError> {
        self.run(move |batch| Ok(batch.unlock_slot(actor, position)?.map_err(WriteError::from))).await
    }

    /// Voids every vote in the open slot and zeroes its counts (admin).
    pub async fn reset_slot_votes(&self, actor: UserId, position: SlotPosition) -> Result<usize, WriteError> {
        self.run(move |batch| Ok(batch.reset_slot_votes(actor, position)?.map_err(WriteError::from))).await
    }

    /// Adds flushed view counts.
    pub async fn add_views(&self, deltas: Vec<(ClipId, u64)>) -> Result<(), WriteError> {
        self.run(move |batch| {
            batch.add_views(&deltas)?;
            Ok(Ok(()))
        })
        .await
    }

    /// Casts or changes a voter's genre vote for the next season.
    pub async fn vote_genre(&self, voter: String, genre: String) -> Result<(), WriteError> {
        self.run(move |batch| Ok(batch.vote_genre(&voter, &genre)?.map_err(WriteError::from))).await
    }
}

fn conflict<T>(message: impl Into<String>) -> Result<Result<T, TournamentError>, StoreError> {
    Ok(Err(TournamentError::Conflict(message.into())))
}

impl Batch<'_> {
    fn create_season(&mut self, actor: UserId, new: &NewSeason) -> Result<Result<Season, TournamentError>, StoreError> {
        let id = SeasonId::new(self.next_id(meta_keys::NEXT_SEASON_ID)?)
            .ok_or(StoreError::Corrupt { what: "meta", reason: "zero season id".into() })?;
        let season = Season {
            id,
            title: new.title.clone(),
            genre: new.genre.clone(),
            description: new.description.clone(),
            status: SeasonStatus::Draft,
            total_slots: new.total_slots,
            slot_duration_secs: new.slot_duration_secs,
            created_at: self.now,
        };
        self.put_season(&season)?;
        for position in (1..=new.total_slots).filter_map(SlotPosition::new) {
            let slot = Slot {
                season: id,
                position,
                status: SlotStatus::Upcoming,
                voting_started_at: None,
                voting_ends_at: None,
                winner: None,
            };
            self.put_slot(&slot)?;
        }
        self.audit(Some(actor), "create_season", format!("season:{id}"), format!("title={}", season.title))?;
        self.structure_changed();
        Ok(Ok(season))
    }

    fn season_transition(
        &mut self,
        actor: UserId,
        id: SeasonId,
        to: SeasonStatus,
    ) -> Result<Result<Season, TournamentError>, StoreError> {
        let Some(mut season) = self.season(id)? else { return Ok(Err(TournamentError::NotFound("season"))) };
        let allowed = matches!(
            (season.status, to),
            (SeasonStatus::Draft, SeasonStatus::Active)
                | (SeasonStatus::Active, SeasonStatus::Finished)
                | (SeasonStatus::Finished, SeasonStatus::Archived)
        );
        if !allowed {
            return conflict(format!("a {} season cannot become {}", season.status.as_str(), to.as_str()));
        }
        match to {
            SeasonStatus::Active => {
                if let Some(active) = self.active_season()? {
                    return conflict(format!("season {active} is already active; finish it first"));
                }
                if let Some(mut first) = self.slot(id, SlotPosition::FIRST)? {
                    first.status = SlotStatus::WaitingForClips;
                    self.put_slot(&first)?;
                }
                self.meta.insert(meta_keys::ACTIVE_SEASON, id.get())?;
            }
            SeasonStatus::Finished => {
                self.meta.insert(meta_keys::ACTIVE_SEASON, 0)?;
                self.close_genre_round(id)?;
            }
            _ => {}
        }
        season.status = to;
        self.put_season(&season)?;
        let action = match to {
            SeasonStatus::Active => "activate_season",
            SeasonStatus::Finished => "finish_season",
            _ => "archive_season",
        };
        self.audit(Some(actor), action, format!("season:{id}"), String::new())?;
        self.structure_changed();
        Ok(Ok(season))
    }

    fn delete_season(
        &mut self,
        actor: UserId,
        id: SeasonId,
        confirm: &str,
    ) -> Result<Result<(), TournamentError>, StoreError> {
        let Some(season) = self.season(id)? else { return Ok(Err(TournamentError::NotFound("season"))) };
        if season.status != SeasonStatus::Draft {
            return conflict("only draft seasons can be deleted; finish and archive others");
        }
        if confirm.trim() != season.title {
            return Ok(Err(TournamentError::Invalid("type the season's title to confirm".into())));
        }
        for position in 1..=season.total_slots {
            self.slots.remove((id.get(), position))?;
        }
        self.seasons.remove(id.get())?;
        self.audit(Some(actor), "delete_season", format!("season:{id}"), format!("title={}", season.title))?;
        self.structure_changed();
        Ok(Ok(()))
    }

    fn create_clip(&mut self, new: &NewClip) -> Result<Result<Clip, TournamentError>, StoreError> {
        let Some(season) = self.active_season()? else {
            return conflict("no season is open for uploads right now");
        };
        let position = self.open_slot()?.map(|slot| slot.position).unwrap_or(SlotPosition::FIRST);
        let id = ClipId::new(self.next_id(meta_keys::NEXT_CLIP_ID)?)
            .ok_or(StoreError::Corrupt { what: "meta", reason: "zero clip id".into() })?;
        let clip = Clip {
            id,
            season,
            slot_position: position,
            title: new.title.clone(),
            description: new.description.clone(),
            genre: new.genre.clone(),
            creator: new.creator,
            creator_username: new.creator_username.clone(),
            video_path: new.video_path.clone(),
            poster_path: new.poster_path.clone(),
            duration_ms: new.duration_ms,
            status: ClipStatus::Pending,
            rejection_reason: String::new(),
            created_at: self.now,
        };
        self.put_clip(&clip, None)?;
        Ok(Ok(clip))
    }

    /// The clips a moderation command names, each once, in the order given;
    /// not found if any is missing. Reads only, so a refusal changes nothing.
    fn clips_for_moderation(&self, ids: &[ClipId]) -> Result<Result<Vec<Clip>, TournamentError>, StoreError> {
        let mut seen = std::collections::HashSet::new();
        let mut clips = Vec::with_capacity(ids.len());
        for id in ids.iter().filter(|id| seen.insert(**id)) {
            match self.clip(*id)? {
                Some(clip) => clips.push(clip),
                None => return Ok(Err(TournamentError::NotFound("clip"))),
            }
        }
        Ok(Ok(clips))
    }

    fn approve_clips(
        &mut self,
        actor: UserId,
        ids: &[ClipId],
    ) -> Result<Result<Vec<Clip>, TournamentError>, StoreError> {
        let Some(open) = self.open_slot()? else { return conflict("no slot is open") };
        // Every clip is checked before any is changed: a refusal commits nothing.
        let clips = match self.clips_for_moderation(ids)? {
            Ok(clips) => clips,
            Err(refusal) => return Ok(Err(refusal)),
        };
        for clip in &clips {
            if clip.status != ClipStatus::Pending {
                return conflict(format!("clip {} is {}, not pending", clip.id, clip.status.as_str()));
            }
            if clip.season != open.season {
                return conflict(format!("clip {} was uploaded for another season", clip.id));
            }
        }
        let mut approved = Vec::new();
        for mut clip in clips {
            let id = clip.id;
            let previous = clip.status;
            clip.status = ClipStatus::Active;
            clip.slot_position = open.position;
            // Fresh uploads count as new for the feed's boost from approval on.
            clip.created_at = self.now;
            self.put_clip(&clip, Some(previous))?;
            let key = (open.season.get(), open.position.get(), id.get());
            self.membership.insert(key, ())?;
            if self.counters.get(key)?.is_none() {
                self.counters.insert(key, (0, 0))?;
            }
            approved.push(clip);
        }
        if open.status == SlotStatus::WaitingForClips && !approved.is_empty() {
            let season =
                self.season(open.season)?.ok_or(StoreError::Corrupt { what: "season", reason: "missing".into() })?;
            if let Some(mut slot) = self.slot(open.season, open.position)? {
                slot.status = SlotStatus::Voting;
                slot.voting_started_at = Some(self.now);
                slot.voting_ends_at = Some(self.now.plus_secs(season.slot_duration_secs));
                self.put_slot(&slot)?;
            }
        }
        let list: Vec<String> = approved.iter().map(|clip| clip.id.to_string()).collect();
        self.audit(Some(actor), "approve_clips", format!("clips:{}", list.len()), list.join(","))?;
        self.structure_changed();
        Ok(Ok(approved))
    }

    pub(super) fn reject_clips(
        &mut self,
        actor: UserId,
        ids: &[ClipId],
        reason: &str,
    ) -> Result<Result<Vec<Clip>, TournamentError>, StoreError> {
        let clips = match self.clips_for_moderation(ids)? {
            Ok(clips) => clips,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if let Some(clip) = clips.iter().find(|clip| !matches!(clip.status, ClipStatus::Pending | ClipStatus::Active)) {
            return conflict(format!("clip {} is {} and cannot be rejected", clip.id, clip.status.as_str()));
        }
        let mut rejected = Vec::new();
        for mut clip in clips {
            let previous = clip.status;
            clip.status = ClipStatus::Rejected;
            clip.rejection_reason = reason.to_owned();
            self.put_clip(&clip, Some(previous))?;
            rejected.push(clip);
        }
        let list: Vec<String> = rejected.iter().map(|clip| clip.id.to_string()).collect();
        self.audit(
            Some(actor),
            "reject_clips",
            format!("clips:{}", list.len()),
            format!("{} reason={reason}", list.join(",")),
        )?;
        self.structure_changed();
        Ok(Ok(rejected))
    }

    /// Active clips competing in a slot, with their counts there.
    fn contenders(&mut self, season: SeasonId, position: SlotPosition) -> Result<Vec<Contender>, StoreError> {
        let range = (season.get(), position.get(), 0)..=(season.get(), position.get(), u64::MAX);
        let ids: Vec<u64> =
            self.membership.range(range)?.map(|entry| entry.map(|(key, _)| key.value().2)).collect::<Result<_, _>>()?;
        let mut contenders = Vec::new();
        for id in ids.into_iter().filter_map(ClipId::new) {
            let Some(clip) = self.clip(id)? else { continue };
            if clip.status != ClipStatus::Active || clip.slot_position != position {
                continue;
            }
            let counter = *self.counter((season.get(), position.get(), id.get()))?;
            contenders.push(Contender {
                clip: id,
                weighted_score: counter.weighted_score,
                vote_count: counter.vote_count,
                created_at: clip.created_at,
            });
        }
        Ok(contenders)
    }

    fn advance(&mut self, trigger: AdvanceTrigger) -> Result<Result<AdvanceOutcome, TournamentError>, StoreError> {
        let Some(open) = self.open_slot()? else {
            return match trigger {
                AdvanceTrigger::WindowEnded { .. } => Ok(Ok(AdvanceOutcome::NothingToDo)),
                AdvanceTrigger::Manual { .. } => conflict("no slot is open"),
            };
        };
        let (actor, forced_winner) = match trigger {
            AdvanceTrigger::WindowEnded { season, position } => {
                // The transaction re-reads the slot: a second advance of the
                // same window finds it already locked and does nothing.
                let still_due = open.season == season
                    && open.position == position
                    && advance::window_ended(open.status, open.voting_ends_at, self.now);
                if !still_due {
                    return Ok(Ok(AdvanceOutcome::NothingToDo));
                }
                (None, None)
            }
            AdvanceTrigger::Manual { actor, winner, expected } => {
                if expected.is_some_and(|expected| expected != open.position) {
                    return conflict(format!("slot {} is open now, not the one you saw", open.position));
                }
                (Some(actor), winner)
            }
        };
        let season =
            self.season(open.season)?.ok_or(StoreError::Corrupt { what: "season", reason: "missing".into() })?;
        let contenders = self.contenders(open.season, open.position)?;
        let facts = AdvanceFacts {
            position: open.position,
            status: open.status,
            total_slots: season.total_slots,
            contenders,
            forced_winner,
            slot_duration_secs: season.slot_duration_secs,
            now: self.now,
        };
        let plan = match advance::plan_advance(&facts) {
            Ok(plan) => plan,
            Err(refusal) => return Ok(Err(refusal.into())),
        };
        let mut slot = self
            .slot(open.season, open.position)?
            .ok_or(StoreError::Corrupt { what: "slot", reason: "missing".into() })?;
        let mut tally_note = String::new();
        let outcome = match plan {
            AdvancePlan::WaitForClips => {
                slot.status = SlotStatus::WaitingForClips;
                slot.voting_ends_at = None;
                self.put_slot(&slot)?;
                AdvanceOutcome::WaitingForClips { position: open.position }
            }
            AdvancePlan::Lock { winner, carried_over, next } => {
                // The published tally is frozen in this same transaction, so
                // no vote can land between the count and the lock.
                let frozen = self.freeze_tally(
                    (open.season, open.position),
                    winner,
                    forced_winner.is_some(),
                    &facts.contenders,
                )?;
                tally_note = format!(" tally_root={} tally_votes={}", frozen.root, frozen.tree_size);
                slot.status = SlotStatus::Locked;
                slot.winner = Some(winner);
                self.put_slot(&slot)?;
                if let Some(mut clip) = self.clip(winner)? {
                    let previous = clip.status;
                    clip.status = ClipStatus::Locked;
                    self.put_clip(&clip, Some(previous))?;
                }
                let next_position = open.position.next();
                for id in &carried_over {
                    if let Some(mut clip) = self.clip(*id)? {
                        clip.slot_position = next_position;
                        self.put_clip(&clip, Some(clip.status))?;
                        let key = (open.season.get(), next_position.get(), id.get());
                        self.membership.insert(key, ())?;
                        // After an unlock the next slot may already hold
                        // counted votes for this clip; keep them.
                        if self.counters.get(key)?.is_none() {
                            self.counters.insert(key, (0, 0))?;
                        }
                    }
                }
                let season_finished = next == NextSlot::SeasonFinished;
                let opened = match next {
                    NextSlot::Voting { position, ends_at } => Some((position, Some(ends_at))),
                    NextSlot::WaitingForClips { position } => Some((position, None)),
                    NextSlot::SeasonFinished => None,
                };
                match opened {
                    Some((position, ends_at)) => {
                        if let Some(mut upcoming) = self.slot(open.season, position)? {
                            upcoming.status =
                                if ends_at.is_some() { SlotStatus::Voting } else { SlotStatus::WaitingForClips };
                            upcoming.voting_started_at = ends_at.map(|_| self.now);
                            upcoming.voting_ends_at = ends_at;
                            self.put_slot(&upcoming)?;
                        }
                    }
                    None => {
                        let mut finished = season.clone();
                        finished.status = SeasonStatus::Finished;
                        self.put_season(&finished)?;
                        self.meta.insert(meta_keys::ACTIVE_SEASON, 0)?;
                        self.close_genre_round(finished.id)?;
                    }
                }
                AdvanceOutcome::Locked { position: open.position, winner, season_finished }
            }
        };
        let (action, details) = match (&outcome, forced_winner) {
            (AdvanceOutcome::Locked { winner, .. }, Some(_)) => {
                ("assign_winner", format!("winner={winner}{tally_note}"))
            }
            (AdvanceOutcome::Locked { winner, .. }, None) => ("advance_slot", format!("winner={winner}{tally_note}")),
            _ => ("advance_slot", "no clips; waiting".to_owned()),
        };
        self.audit(actor, action, format!("slot:{}:{}", open.season, open.position), details)?;
        self.structure_changed();
        Ok(Ok(outcome))
    }

    fn unlock_slot(
        &mut self,
        actor: UserId,
        position: SlotPosition,
    ) -> Result<Result<(), TournamentError>, StoreError> {
        let Some(season_id) = self.active_season()? else { return conflict("no season is active") };
        let season = self.season(season_id)?.ok_or(StoreError::Corrupt { what: "season", reason: "missing".into() })?;
        let Some(mut slot) = self.slot(season_id, position)? else { return Ok(Err(TournamentError::NotFound("slot"))) };
        if slot.status != SlotStatus::Locked {
            return conflict("only a locked slot can be unlocked");
        }
        let next_position = position.next();
        let next = self.slot(season_id, next_position)?;
        if let Some(next) = &next
            && !matches!(next.status, SlotStatus::Voting | SlotStatus::WaitingForClips)
        {
            return conflict("only the most recently locked slot can be unlocked");
        }
        // The winner and the clips that moved on come back to this slot.
        if let Some(winner) = slot.winner.take()
            && let Some(mut clip) = self.clip(winner)?
        {
            let previous = clip.status;
            clip.status = ClipStatus::Active;
            self.put_clip(&clip, Some(previous))?;
        }
        if let Some(mut next) = next {
            for contender in self.contenders(season_id, next_position)? {
                if let Some(mut clip) = self.clip(contender.clip)? {
                    clip.slot_position = position;
                    self.put_clip(&clip, Some(clip.status))?;
                }
            }
            next.status = SlotStatus::Upcoming;
            next.voting_started_at = None;
            next.voting_ends_at = None;
            self.put_slot(&next)?;
        }
        slot.status = SlotStatus::Voting;
        slot.voting_started_at = Some(self.now);
        slot.voting_ends_at = Some(self.now.plus_secs(season.slot_duration_secs));
        self.put_slot(&slot)?;
        // The published tally goes; the audit log keeps its root.
        let details = match self.drop_tally(season_id, position)? {
            Some(dropped) => format!("dropped tally_root={} tally_votes={}", dropped.root, dropped.tree_size),
            None => String::new(),
        };
        self.audit(Some(actor), "unlock_slot", format!("slot:{season_id}:{position}"), details)?;
        self.structure_changed();
        Ok(Ok(()))
    }

    fn reset_slot_votes(
        &mut self,
        actor: UserId,
        position: SlotPosition,
    ) -> Result<Result<usize, TournamentError>, StoreError> {
        let Some(open) = self.open_slot()? else { return conflict("no slot is open") };
        if open.position != position {
            return conflict("only the open slot's votes can be reset");
        }
        let range = (open.season.get(), position.get(), 0)..=(open.season.get(), position.get(), u64::MAX);
        let mut counted = Vec::new();
        for entry in self.votes.range(range)? {
            let (key, bytes) = entry?;
            let vote = vote_layout::decode_vote(key.value(), bytes.value())?;
            if vote.state == VoteState::Counted {
                counted.push(vote);
            }
        }
        let voided = counted.len();
        // Every voter of the slot goes back to where they stood before its
        // votes (issue #14); only an admin's void of single votes keeps
        // their specials and budget spent.
        for vote in counted {
            self.withdraw_for_reset(vote)?;
        }
        self.audit(
            Some(actor),
            "reset_slot_votes",
            format!("slot:{}:{position}", open.season),
            format!("voided={voided}"),
        )?;
        Ok(Ok(voided))
    }

    fn add_views(&mut self, deltas: &[(ClipId, u64)]) -> Result<(), StoreError> {
        let mut totals = Vec::with_capacity(deltas.len());
        for (clip, delta) in deltas {
            let total = self.views.get(clip.get())?.map(|v| v.value()).unwrap_or(0) + delta;
            self.views.insert(clip.get(), total)?;
            totals.push((*clip, total));
        }
        self.events.push(CommittedEvent::ViewsChanged { totals });
        Ok(())
    }

    fn vote_genre(&mut self, voter: &str, genre: &str) -> Result<Result<(), TournamentError>, StoreError> {
        if self.active_season()?.is_some() {
            return conflict("genre voting opens when no season is running");
        }
        let round = self.open_genre_round()?;
        let previous = self.genre_votes.get((round, voter))?.map(|v| v.value().to_owned());
        if previous.as_deref() == Some(genre) {
            return Ok(Ok(()));
        }
        if let Some(previous) = previous {
            let count = self.genre_counts.get((round, previous.as_str()))?.map(|v| v.value()).unwrap_or(0);
            self.genre_counts.insert((round, previous.as_str()), count.saturating_sub(1))?;
        }
        let count = self.genre_counts.get((round, genre))?.map(|v| v.value()).unwrap_or(0);
        self.genre_counts.insert((round, genre), count + 1)?;
        self.genre_votes.insert((round, voter), genre)?;
        Ok(Ok(()))
    }

    /// The genre round votes go to now (1 before any season finished).
    fn open_genre_round(&self) -> Result<u64, StoreError> {
        Ok(self.meta.get(meta_keys::GENRE_ROUND)?.map(|v| v.value()).unwrap_or(1).max(1))
    }

    /// A season finished: the open genre round is closed (its votes and
    /// tallies stay, keyed by its number) and the next one opens empty.
    /// Two writes, whatever the number of votes.
    fn close_genre_round(&mut self, finished: SeasonId) -> Result<(), StoreError> {
        let round = self.open_genre_round()?;
        self.txn.open_table(GENRE_ROUND_TO_CLOSING)?.insert(round, (finished.get(), self.now.millis()))?;
        self.meta.insert(meta_keys::GENRE_ROUND, round + 1)?;
        Ok(())
    }
}
