//! Voting: a voter's feed (from the read model plus that voter's own keys in
//! storage) and casting or revoking votes through the writer, behind the
//! captcha gate. The JSON API and the arena page both come here.

use std::collections::HashSet;

use crate::domain::clock::Timestamp;
use crate::domain::feed::{self, FeedOrder, MAX_FEED_LIMIT};
use crate::domain::ids::{ClipId, VoterKey};
use crate::domain::model::{Season, Slot};
use crate::domain::vote::{self, RemainingVotes, VoteRefusal, VoteType, VotingFlags};
use crate::readmodel::ReadState;
use crate::service::{ServiceError, Services, captcha};
use crate::store::writer::{CastRequest, VoteOutcome, WriteError};
use crate::store::{CountedClip, VoterSlotState};

/// A voter's feed page with everything the arena shows around it.
#[derive(Debug, Clone)]
pub struct Feed {
    /// The clips to show, in order.
    pub clips: Vec<CountedClip>,
    /// Whether more unshown clips remain.
    pub has_more: bool,
    /// The active season.
    pub season: Option<Season>,
    /// The open slot.
    pub slot: Option<Slot>,
    /// Clips competing in the open slot.
    pub total_clips_in_slot: usize,
    /// What this voter already did.
    pub voter: VoterSlotState,
    /// What this voter may still cast.
    pub remaining: RemainingVotes,
    /// The voting flags in force.
    pub flags: VotingFlags,
    /// Comments on each of `clips`, in the same order.
    pub comment_counts: Vec<u64>,
}

/// Whether handing out a feed counts its clips as viewed. The JSON feed
/// does by default (its clients show what they ask for); the arena asks
/// for a few clips ahead and counts each one only when it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountViews {
    /// Every clip returned counts as viewed.
    Returned,
    /// None does; the caller reports views with [`record_view`].
    No,
}

/// Builds a voter's feed of `limit` clips (1 to [`MAX_FEED_LIMIT`]),
/// skipping `exclude`. Reads the read model and this voter's own keys in
/// storage; never scans all votes or all clips: the page comes from the
/// slot's kept ranking, and only the page's clips are copied. With
/// [`CountViews::Returned`] the clips handed out count as viewed, in
/// storage's pending counts and at once in the ranking. The page's comment counts are one
/// more read of one counter per clip.
pub async fn load_feed(
    services: &Services,
    voter: &VoterKey,
    limit: usize,
    exclude: &[ClipId],
    count_views: CountViews,
) -> Result<Feed, ServiceError> {
    if limit == 0 || limit > MAX_FEED_LIMIT {
        return Err(ServiceError::invalid(format!("limit must be between 1 and {MAX_FEED_LIMIT}")));
    }
    let now = Timestamp::now();
    // The voter's own facts come from storage for the slot open at the first
    // look; the page is picked only if that slot is still the open one, so
    // the clips and the voter's facts always belong to the same slot.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let slot = services.read_model.read(|model| model.open_slot().cloned());
        let voter_state = match &slot {
            Some(slot) => {
                let (voter, season, position) = (voter.clone(), slot.season, slot.position);
                services.read(move |store| store.voter_slot_state(&voter, season, position, now.utc_day())).await?
            }
            None => VoterSlotState::default(),
        };
        let slot_key = slot.as_ref().map(|slot| slot_key(slot.season.get(), slot.position.get())).unwrap_or(0);
        let seen = services.views.seen_clips(voter.as_str(), slot_key);
        let same_slot = |model: &ReadState| model.open_slot().map(slot_id) == slot.as_ref().map(slot_id);
        let picked = services.read_model.read_with_feed(|model, order| {
            (same_slot(model) || attempts >= 3)
                .then(|| pick_page(model, order, &voter_state, &seen, exclude, limit, now))
        });
        let Some((season, flags, page, has_more, total_clips_in_slot)) = picked else { continue };
        if count_views == CountViews::Returned {
            // In memory, deduplicated per voter and clip, flushed to storage
            // every few seconds.
            let shown: Vec<u64> = page.iter().map(|counted| counted.clip.id.get()).collect();
            let viewed = services.views.record_shown(voter.as_str(), slot_key, &shown);
            services.read_model.count_views(&viewed);
        }
        let comment_counts = if page.is_empty() {
            Vec::new()
        } else {
            let ids: Vec<ClipId> = page.iter().map(|counted| counted.clip.id).collect();
            services.read(move |store| store.comment_counts(&ids)).await?
        };
        let remaining = vote::remaining_votes(
            voter_state.spent_today,
            services.config.votes.daily_budget,
            voter_state.specials_used,
            flags,
        );
        return Ok(Feed {
            clips: page,
            has_more,
            season,
            slot,
            total_clips_in_slot,
            voter: voter_state,
            remaining,
            flags,
            comment_counts,
        });
    }
}

/// A slot's identity across read-model reloads.
fn slot_id(slot: &Slot) -> (u64, u32) {
    (slot.season.get(), slot.position.get())
}

/// What [`pick_page`] returns: the season, the flags, the page, whether more
/// remain, and how many clips compete.
type Picked = (Option<Season>, VotingFlags, Vec<CountedClip>, bool, usize);

/// Picks one voter's page by walking the feed's ranking of the open slot
/// (kept across requests, views counted the moment they are shown) and
/// cloning only the page's clips, so a request costs the page, the jitter
/// window and what this voter skips, whatever the slot holds.
fn pick_page(
    model: &ReadState,
    order: &mut FeedOrder,
    voter_state: &VoterSlotState,
    seen: &HashSet<u64>,
    exclude: &[ClipId],
    limit: usize,
    now: Timestamp,
) -> Picked {
    // A voter's ledger lists the clips they voted on in this slot, bounded
    // by what their budget let them cast.
    let voted: HashSet<ClipId> = voter_state.voted_clips.iter().copied().collect();
    let status = |clip: ClipId| (voted.contains(&clip), seen.contains(&clip.get()));
    let page = order.page(now, status, exclude, limit, |_| rand::random_range(0..=feed::VIEW_JITTER));
    let picked = page.clips.iter().filter_map(|id| model.open_clip(*id).cloned()).collect();
    (model.season.clone(), model.voting_flags(), picked, page.has_more, model.open_clips.len())
}

/// What `voter` holds in the open slot now: which clips they voted on,
/// what they may still cast, and the flags in force. One read of their own
/// keys; nothing when no slot is open.
pub async fn standing(
    services: &Services,
    voter: &VoterKey,
) -> Result<(VoterSlotState, RemainingVotes, VotingFlags), ServiceError> {
    let now = Timestamp::now();
    let (slot, flags) = services.read_model.read(|model| (model.open_slot().cloned(), model.voting_flags()));
    let state = match slot {
        Some(slot) => {
            let voter = voter.clone();
            services
                .read(move |store| store.voter_slot_state(&voter, slot.season, slot.position, now.utc_day()))
                .await?
        }
        None => VoterSlotState::default(),
    };
    let remaining =
        vote::remaining_votes(state.spent_today, services.config.votes.daily_budget, state.specials_used, flags);
    Ok((state, remaining, flags))
}

/// Whether `clip` competes in a slot that is voting now, and the flags in
/// force (from memory).
pub fn votable(services: &Services, clip: ClipId) -> (bool, VotingFlags) {
    services.read_model.read(|model| {
        let voting = model.open_slot().is_some_and(|slot| slot.status == crate::domain::tournament::SlotStatus::Voting);
        (voting && model.open_clip(clip).is_some(), model.voting_flags())
    })
}

/// Counts a view of `clip` by `voter`, when the clip competes in the open
/// slot (anything else is not a view the feed cares about, and is
/// ignored). Deduplicated per voter and clip in memory, like the feed's.
pub fn record_view(services: &Services, voter: &VoterKey, clip: ClipId) -> bool {
    let slot = services.read_model.read(|model| {
        model.open_clip(clip).is_some().then(|| model.open_slot().map(|slot| (slot.season, slot.position))).flatten()
    });
    let Some((season, position)) = slot else { return false };
    let viewed = services.views.record_shown(voter.as_str(), slot_key(season.get(), position.get()), &[clip.get()]);
    services.read_model.count_views(&viewed);
    true
}

/// The key views are kept under for one slot.
fn slot_key(season: u64, position: u32) -> u64 {
    (season << 32) | u64::from(position)
}

/// Where the arena stands: the clip shown and the one after it.
#[derive(Debug, Clone)]
pub struct ArenaPosition {
    /// The clip shown: the one asked for if it competes, else the feed's first.
    pub current: Option<CountedClip>,
    /// Comments on it.
    pub current_comments: u64,
    /// The clip the "next" link goes to: the feed's first other clip, so
    /// the arena follows the fair order (unvoted and unseen first).
    pub next: Option<ClipId>,
    /// Clips competing in the open slot.
    pub total: usize,
}

/// The arena around `requested` for a voter whose feed is `feed`.
pub async fn arena_position(
    services: &Services,
    feed: &Feed,
    requested: Option<ClipId>,
) -> Result<ArenaPosition, ServiceError> {
    let requested = requested.and_then(|id| services.read_model.read(|model| model.open_clip(id).cloned()));
    let from_feed = |index: usize| (feed.clips[index].clone(), feed.comment_counts.get(index).copied().unwrap_or(0));
    let (current, current_comments) = match requested {
        Some(clip) => {
            let id = clip.clip.id;
            let comments = match feed.clips.iter().position(|counted| counted.clip.id == id) {
                Some(index) => from_feed(index).1,
                None => services.read(move |store| store.comment_counts(&[id])).await?.first().copied().unwrap_or(0),
            };
            (Some(clip), comments)
        }
        None if !feed.clips.is_empty() => {
            let (clip, comments) = from_feed(0);
            (Some(clip), comments)
        }
        None => (None, 0),
    };
    let shown = current.as_ref().map(|counted| counted.clip.id);
    let next = feed.clips.iter().map(|counted| counted.clip.id).find(|id| Some(*id) != shown);
    Ok(ArenaPosition { current, current_comments, next, total: feed.total_clips_in_slot })
}

/// A clip competing in the open slot, with its live counts, from memory.
pub fn open_clip(services: &Services, clip: ClipId) -> Option<CountedClip> {
    services.read_model.read(|model| model.open_clip(clip).cloned())
}

/// Casts a vote for `voter` (from `network`, for fraud signals) and answers
/// once it is durable. When the captcha flag is on the voter needs a pass
/// from a solved challenge first. A spent daily budget says how long until
/// it comes back (the next midnight UTC) as the refusal's retry-after.
pub async fn cast(
    services: &Services,
    voter: &VoterKey,
    network: u64,
    clip: ClipId,
    vote_type: VoteType,
) -> Result<VoteOutcome, ServiceError> {
    if captcha::pass_required(services, voter) {
        services.metrics.vote_cast(Some("captcha_required"));
        return Err(ServiceError::captcha_required());
    }
    let request = CastRequest { voter: voter.clone(), clip, vote_type, network };
    let outcome = services.writer.cast_vote(request).await;
    services.metrics.vote_cast(outcome.as_ref().err().map(crate::metrics::refusal_reason));
    match outcome {
        Err(WriteError::Refused(VoteRefusal::DailyLimitReached)) => {
            let wait = (services.clock)().secs_to_next_utc_day();
            Err(ServiceError::from(VoteRefusal::DailyLimitReached).retry_after(wait))
        }
        outcome => Ok(outcome?),
    }
}

/// Revokes the voter's (latest) vote on a clip and answers once it is durable.
pub async fn revoke(services: &Services, voter: &VoterKey, clip: ClipId) -> Result<VoteOutcome, ServiceError> {
    Ok(services.writer.revoke_vote(voter.clone(), clip).await?)
}

/// What the voter may still cast after an outcome.
pub fn remaining_after(services: &Services, outcome: &VoteOutcome) -> RemainingVotes {
    let flags = services.read_model.read(|model| model.voting_flags());
    vote::remaining_votes(outcome.spent_today, services.config.votes.daily_budget, outcome.specials_used, flags)
}
