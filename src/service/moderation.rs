//! What admins do, from the admin API and the admin console alike: users
//! (ban, unban, grant and revoke the admin role), the clip queue (approve,
//! reject, in bulk), seasons (create, activate, finish, archive, delete),
//! slots (close now, assign a winner, unlock, reset votes), feature flags,
//! flagged votes and the audit log. The writer checks state and
//! audit-logs every change in the same transaction; the checks on input
//! (lengths, ranges, selection sizes) are made here, once.

use std::collections::HashMap;

use crate::domain::flags::{self, FlagKey, FlagSpec};
use crate::domain::genre::Genre;
use crate::domain::ids::{ClipId, SeasonId, SlotPosition, UserId, VoteId};
use crate::domain::model::{AuditEntry, Clip, Season, Slot, User, Vote};
use crate::domain::moderation::{SeasonAction, SlotAction, UserAction};
use crate::domain::text;
use crate::domain::tournament::{ClipStatus, SlotStatus};
use crate::service::{Page, ServiceError, Services, genres};
use crate::store::writer::{AdvanceOutcome, AdvanceTrigger, NewSeason};
use crate::store::{ClosedGenreRound, CountedClip};

// ---------------------------------------------------------------------------
// Users

/// Users whose name starts with `prefix` (trimmed, lowercase, as names are
/// stored), in name order, and whether more follow.
pub async fn users(services: &Services, prefix: &str, page: Page) -> Result<(Vec<User>, bool), ServiceError> {
    let prefix = prefix.trim().to_ascii_lowercase();
    let mut users = services.read(move |store| store.users_by_prefix(&prefix, page.limit + 1, page.offset)).await?;
    let has_more = users.len() > page.limit;
    users.truncate(page.limit);
    Ok((users, has_more))
}

/// Bans, unbans, promotes or demotes `target`. The writer refuses an admin
/// banning or demoting themselves, whoever asks.
pub async fn user_action(
    services: &Services,
    admin: UserId,
    target: UserId,
    action: UserAction,
) -> Result<User, ServiceError> {
    let writer = &services.writer;
    let user = match action {
        UserAction::Ban => writer.set_banned(admin, target, true).await?,
        UserAction::Unban => writer.set_banned(admin, target, false).await?,
        UserAction::GrantAdmin => writer.set_admin(admin, target, true).await?,
        UserAction::RevokeAdmin => writer.set_admin(admin, target, false).await?,
    };
    Ok(user)
}

// ---------------------------------------------------------------------------
// Selections and reasons

/// Why a selection of items for a bulk action was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// Nothing was selected.
    #[error("nothing selected")]
    Empty,
    /// More than one action may touch.
    #[error("at most {max} at once")]
    TooMany {
        /// The most allowed.
        max: usize,
    },
}

/// Items for one bulk action: 1 to `MAX`, checked when made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection<T, const MAX: usize>(Vec<T>);

impl<T, const MAX: usize> Selection<T, MAX> {
    /// The most one action may touch.
    pub const MAX: usize = MAX;

    /// The items, if there are 1 to `MAX` of them.
    pub fn new(items: Vec<T>) -> Result<Self, SelectionError> {
        match items.len() {
            0 => Err(SelectionError::Empty),
            n if n > MAX => Err(SelectionError::TooMany { max: MAX }),
            _ => Ok(Selection(items)),
        }
    }

    /// One item.
    pub fn one(item: T) -> Self {
        Selection(vec![item])
    }

    /// The items.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

/// Clips one moderation decision may touch.
pub type ClipSelection = Selection<ClipId, 100>;
/// Votes one void may touch.
pub type VoteSelection = Selection<VoteId, 1000>;

/// Why a clip was rejected: 1 to 300 characters, shown to its creator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectReason(String);

impl RejectReason {
    /// Longest reason, in characters.
    pub const MAX_CHARS: usize = 300;

    /// The trimmed reason, if it has 1 to [`Self::MAX_CHARS`] characters.
    pub fn parse(raw: &str) -> Result<RejectReason, ServiceError> {
        let reason = text::multi_line(raw);
        if reason.is_empty() || reason.chars().count() > Self::MAX_CHARS {
            return Err(ServiceError::invalid(format!("give a reason of 1 to {} characters", Self::MAX_CHARS)));
        }
        Ok(RejectReason(reason))
    }
}

// ---------------------------------------------------------------------------
// The clip queue

/// A queue tab from text: `pending` (also when empty or absent), `active`,
/// `locked` or `rejected`.
pub fn parse_queue_status(raw: Option<&str>) -> Option<ClipStatus> {
    match raw.map(str::trim).filter(|raw| !raw.is_empty()).unwrap_or("pending") {
        "pending" => Some(ClipStatus::Pending),
        "active" => Some(ClipStatus::Active),
        "locked" => Some(ClipStatus::Locked),
        "rejected" => Some(ClipStatus::Rejected),
        _ => None,
    }
}

/// Clips in `status`, newest first, and whether more follow.
pub async fn clip_queue(
    services: &Services,
    status: ClipStatus,
    page: Page,
) -> Result<(Vec<CountedClip>, bool), ServiceError> {
    services.read(move |store| store.clips_by_status(status, page.limit, page.offset)).await
}

/// Approves every selected clip or none (all must be pending).
pub async fn approve(services: &Services, admin: UserId, clips: ClipSelection) -> Result<Vec<Clip>, ServiceError> {
    Ok(services.writer.approve_clips(admin, clips.into_vec()).await?)
}

/// Rejects every selected clip or none, telling their creators why.
pub async fn reject(
    services: &Services,
    admin: UserId,
    clips: ClipSelection,
    reason: RejectReason,
) -> Result<Vec<Clip>, ServiceError> {
    Ok(services.writer.reject_clips(admin, clips.into_vec(), reason.0).await?)
}

/// Pending clips and flagged votes waiting, each counted up to `clips` and
/// `votes` (with whether there are more), for the console's dashboard.
pub async fn waiting(
    services: &Services,
    clips: usize,
    votes: usize,
) -> Result<((usize, bool), (usize, bool)), ServiceError> {
    services
        .read(move |store| {
            let (pending, pending_more) = store.clips_by_status(ClipStatus::Pending, clips, 0)?;
            let (flagged, flagged_more) = store.flagged_votes(votes, 0)?;
            Ok(((pending.len(), pending_more), (flagged.len(), flagged_more)))
        })
        .await
}

// ---------------------------------------------------------------------------
// Seasons and slots

/// What an admin sees before creating a season.
#[derive(Debug, Clone)]
pub struct SeasonsOverview {
    /// Every season, newest first.
    pub seasons: Vec<Season>,
    /// The open genre round's tallies.
    pub genre_votes: Vec<(String, u64)>,
    /// The genre a new season gets when none is named: the open round's winner.
    pub next_genre: Option<Genre>,
    /// The newest closed genre rounds with their results.
    pub past_genre_rounds: Vec<ClosedGenreRound>,
}

/// Every season, newest first, with the genre vote to guide the next one.
pub async fn seasons(services: &Services) -> Result<SeasonsOverview, ServiceError> {
    let seasons = services.read(|store| store.seasons()).await?;
    let genre_votes = genres::tallies(services).await?;
    let next_genre = genres::next_season_default(services, &genre_votes);
    let past_genre_rounds = genres::closed_rounds(services).await?;
    Ok(SeasonsOverview { seasons, genre_votes, next_genre, past_genre_rounds })
}

/// A season as an admin asks for it, before checks.
#[derive(Debug, Clone, Default)]
pub struct SeasonDraft {
    /// 1 to 80 characters.
    pub title: String,
    /// One of the configured genres; empty for the open genre round's
    /// winner.
    pub genre: String,
    /// At most 1000 characters.
    pub description: String,
    /// 1 to 500 (default 75).
    pub total_slots: Option<u32>,
    /// 1 second to 30 days (default one day).
    pub slot_duration_secs: Option<u64>,
}

/// Longest slot a season may have.
pub const MAX_SLOT_SECS: u64 = 30 * 24 * 3600;

/// Creates a draft season after checking the draft.
pub async fn create_season(services: &Services, admin: UserId, draft: SeasonDraft) -> Result<Season, ServiceError> {
    let title = text::single_line(&draft.title);
    if title.is_empty() || title.chars().count() > 80 {
        return Err(ServiceError::invalid("the title must be 1 to 80 characters"));
    }
    let genre = if draft.genre.trim().is_empty() {
        let open_round = genres::tallies(services).await?;
        genres::next_season_default(services, &open_round)
            .ok_or_else(|| ServiceError::invalid("choose a genre: the genre vote has no votes yet"))?
    } else {
        genres::parse(services, &draft.genre)?
    };
    let description = text::multi_line(&draft.description);
    if description.chars().count() > 1000 {
        return Err(ServiceError::invalid("the description must be at most 1000 characters"));
    }
    let total_slots = draft.total_slots.unwrap_or(75);
    if !(1..=500).contains(&total_slots) {
        return Err(ServiceError::invalid("total slots must be between 1 and 500"));
    }
    let slot_duration_secs = draft.slot_duration_secs.unwrap_or(24 * 3600);
    if !(1..=MAX_SLOT_SECS).contains(&slot_duration_secs) {
        return Err(ServiceError::invalid("the slot duration must be between 1 second and 30 days"));
    }
    let new = NewSeason { title, genre: genre.into_string(), description, total_slots, slot_duration_secs };
    Ok(services.writer.create_season(admin, new).await?)
}

/// Moves a season a step through its life.
pub async fn season_action(
    services: &Services,
    admin: UserId,
    season: SeasonId,
    action: SeasonAction,
) -> Result<Season, ServiceError> {
    Ok(services.writer.season_transition(admin, season, action.target()).await?)
}

/// Deletes a draft season; `confirm` must be its title.
pub async fn delete_season(
    services: &Services,
    admin: UserId,
    season: SeasonId,
    confirm: &str,
) -> Result<(), ServiceError> {
    Ok(services.writer.delete_season(admin, season, confirm.trim().to_owned()).await?)
}

/// Closes the open slot now, by the scheduler's code. With `expected` (the
/// slot the admin saw open) it is refused if another slot is open by now.
pub async fn advance(
    services: &Services,
    admin: UserId,
    expected: Option<SlotPosition>,
) -> Result<AdvanceOutcome, ServiceError> {
    Ok(services.writer.advance(AdvanceTrigger::Manual { actor: admin, winner: None, expected }).await?)
}

/// Closes the open slot at `position` with `clip` as its winner. Only the
/// open slot can be given a winner.
pub async fn assign_winner(
    services: &Services,
    admin: UserId,
    position: SlotPosition,
    clip: ClipId,
) -> Result<AdvanceOutcome, ServiceError> {
    let open = services.read_model.read(|model| model.open_slot().map(|slot| slot.position));
    if open != Some(position) {
        return Err(ServiceError::conflict("a winner can only be assigned in the open slot"));
    }
    let trigger = AdvanceTrigger::Manual { actor: admin, winner: Some(clip), expected: Some(position) };
    Ok(services.writer.advance(trigger).await?)
}

/// What a slot action did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotActionOutcome {
    /// The slot is open for voting again.
    Unlocked,
    /// This many votes were voided.
    Reset {
        /// Votes voided.
        voided: usize,
    },
}

/// Unlocks a slot or voids its votes.
pub async fn slot_action(
    services: &Services,
    admin: UserId,
    position: SlotPosition,
    action: SlotAction,
) -> Result<SlotActionOutcome, ServiceError> {
    match action {
        SlotAction::Unlock => {
            services.writer.unlock_slot(admin, position).await?;
            Ok(SlotActionOutcome::Unlocked)
        }
        SlotAction::ResetVotes => {
            let voided = services.writer.reset_slot_votes(admin, position).await?;
            Ok(SlotActionOutcome::Reset { voided })
        }
    }
}

/// The active season as the console's slot controls show it.
#[derive(Debug, Clone, Default)]
pub struct SlotBoard {
    /// The active season's title.
    pub season_title: Option<String>,
    /// Its slots, each with its winner's title once locked.
    pub slots: Vec<(Slot, Option<String>)>,
    /// The slot that is voting or waiting for clips.
    pub open: Option<Slot>,
    /// Its clips, most votes first (ties: lower id first).
    pub choices: Vec<CountedClip>,
    /// The one slot that can be unlocked: the last locked one whose
    /// successor is open (or which ends the film).
    pub unlockable: Option<SlotPosition>,
}

/// The slot board, from memory.
pub fn slot_board(services: &Services) -> SlotBoard {
    services.read_model.read(|model| {
        let slots = model
            .slots
            .iter()
            .map(|slot| (slot.clone(), model.winners.get(&slot.position.get()).map(|w| w.clip.title.clone())))
            .collect();
        let mut choices = model.open_clips.clone();
        choices.sort_by(|a, b| b.counter.vote_count.cmp(&a.counter.vote_count).then(a.clip.id.cmp(&b.clip.id)));
        let unlockable = model.slots.iter().rev().find(|slot| slot.status == SlotStatus::Locked).and_then(|slot| {
            let next = model.slots.iter().find(|s| s.position == slot.position.next());
            next.is_none_or(|next| matches!(next.status, SlotStatus::Voting | SlotStatus::WaitingForClips))
                .then_some(slot.position)
        });
        SlotBoard {
            season_title: model.season.as_ref().map(|season| season.title.clone()),
            slots,
            open: model.open_slot().cloned(),
            choices,
            unlockable,
        }
    })
}

// ---------------------------------------------------------------------------
// Feature flags, flagged votes, the audit log

/// Every feature flag with its value now.
pub fn flags(services: &Services) -> Vec<(FlagSpec, bool)> {
    let stored = services.read_model.read(|model| model.stored_flags.clone());
    flags::FLAGS.iter().map(|spec| (*spec, stored.get(spec.key).copied().unwrap_or(spec.default))).collect()
}

/// Sets a flag; effective on the next request.
pub async fn set_flag(services: &Services, admin: UserId, key: FlagKey, enabled: bool) -> Result<(), ServiceError> {
    Ok(services.writer.set_flag(key.as_str().to_owned(), enabled, Some(admin)).await?)
}

/// Votes the fraud signals flagged, newest first, and whether more follow.
pub async fn flagged_votes(services: &Services, page: Page) -> Result<(Vec<Vote>, bool), ServiceError> {
    services.read(move |store| store.flagged_votes(page.limit, page.offset)).await
}

/// Removes votes from the counts (they stay in history); unknown or already
/// voided ids are skipped. Returns how many were voided.
pub async fn void_votes(services: &Services, admin: UserId, votes: VoteSelection) -> Result<usize, ServiceError> {
    Ok(services.writer.void_votes(admin, votes.into_vec()).await?)
}

/// Audit entries, newest first, and whether more follow.
pub async fn audit_log(services: &Services, page: Page) -> Result<(Vec<AuditEntry>, bool), ServiceError> {
    services.read(move |store| store.audit_log(page.limit, page.offset)).await
}

/// Audit entries with their actors' names (`@name`, or `user #id` for a
/// deleted account): at most one look-up per distinct actor on the page.
pub async fn audit_log_named(
    services: &Services,
    page: Page,
) -> Result<(Vec<AuditEntry>, bool, HashMap<UserId, String>), ServiceError> {
    services
        .read(move |store| {
            let (entries, has_more) = store.audit_log(page.limit, page.offset)?;
            let mut names: HashMap<UserId, String> = HashMap::new();
            for actor in entries.iter().filter_map(|entry| entry.actor) {
                if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(actor) {
                    let name = store.user(actor)?.map(|user| format!("@{}", user.username));
                    slot.insert(name.unwrap_or_else(|| format!("user #{actor}")));
                }
            }
            Ok((entries, has_more, names))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_hold_one_to_max_items() {
        assert_eq!(ClipSelection::new(Vec::new()), Err(SelectionError::Empty));
        let ids = |n: u64| (1..=n).filter_map(ClipId::new).collect::<Vec<_>>();
        assert!(ClipSelection::new(ids(100)).is_ok());
        assert_eq!(ClipSelection::new(ids(101)), Err(SelectionError::TooMany { max: 100 }));
        assert_eq!(VoteSelection::MAX, 1000);
    }

    #[test]
    fn reject_reasons_are_trimmed_and_bounded() {
        assert!(RejectReason::parse("  ").is_err());
        assert!(RejectReason::parse(&"x".repeat(301)).is_err());
        assert_eq!(RejectReason::parse(" duplicate ").map(|reason| reason.0), Ok("duplicate".to_owned()));
    }

    #[test]
    fn queue_tabs_default_to_pending() {
        assert_eq!(parse_queue_status(None), Some(ClipStatus::Pending));
        assert_eq!(parse_queue_status(Some(" ")), Some(ClipStatus::Pending));
        assert_eq!(parse_queue_status(Some("rejected")), Some(ClipStatus::Rejected));
        assert_eq!(parse_queue_status(Some("deleted")), None);
    }
}
