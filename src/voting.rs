//! The voting service shared by the JSON API and the HTML pages: assembling
//! a voter's feed from the read model plus that voter's own standing, and
//! submitting votes to the writer.

use crate::domain::clock::Timestamp;
use crate::domain::feed::{self, FeedCandidate};
use crate::domain::flags;
use crate::domain::ids::{ClipId, VoterKey};
use crate::domain::model::{Season, Slot};
use crate::domain::vote::{self, RemainingVotes, VoteType};
use crate::http::api::error::ApiError;
use crate::http::api::extract::Caller;
use crate::http::state::AppState;
use crate::store::writer::{CastRequest, VoteOutcome};
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
}

/// Builds a voter's feed. Reads the read model and this voter's own keys in
/// storage; never scans all clips or all votes.
pub async fn load_feed(state: &AppState, voter: &VoterKey, limit: usize, exclude: &[ClipId]) -> Result<Feed, ApiError> {
    let now = Timestamp::now();
    let (season, slot, candidates, flags) = state.read_model.read(|model| {
        (model.season.clone(), model.open_slot().cloned(), model.open_clips.clone(), model.voting_flags())
    });
    let voter_state = match &slot {
        Some(slot) => {
            let (store, voter, season, position) = (state.store.clone(), voter.clone(), slot.season, slot.position);
            tokio::task::spawn_blocking(move || store.voter_slot_state(&voter, season, position, now.utc_day()))
                .await??
        }
        None => VoterSlotState::default(),
    };
    let slot_key = slot.as_ref().map(|slot| (slot.season.get() << 32) | u64::from(slot.position.get())).unwrap_or(0);
    let ids: Vec<u64> = candidates.iter().map(|counted| counted.clip.id.get()).collect();
    let seen = state.views.seen(voter.as_str(), slot_key, &ids);
    let pending = state.views.pending(&ids);
    let feed_candidates: Vec<FeedCandidate> = candidates
        .iter()
        .zip(seen.into_iter().zip(pending))
        .map(|(counted, (seen, pending))| FeedCandidate {
            clip: counted.clip.id,
            voted: voter_state.voted_clips.contains(&counted.clip.id),
            seen,
            created_at: counted.clip.created_at,
            view_count: counted.view_count + pending,
        })
        .collect();
    let page = feed::order_feed(&feed_candidates, exclude, limit, now, || rand::random_range(0..=feed::VIEW_JITTER));
    let clips: Vec<CountedClip> =
        page.clips.iter().filter_map(|id| candidates.iter().find(|counted| counted.clip.id == *id).cloned()).collect();
    // Showing clips counts as viewing them: in memory, deduplicated per
    // voter and clip, flushed to storage every few seconds.
    let shown: Vec<u64> = clips.iter().map(|counted| counted.clip.id.get()).collect();
    state.views.record_shown(voter.as_str(), slot_key, &shown);
    let remaining = vote::remaining_votes(
        voter_state.spent_today,
        state.config.votes.daily_budget,
        voter_state.specials_used,
        flags,
    );
    Ok(Feed {
        clips,
        has_more: page.has_more,
        season,
        slot,
        total_clips_in_slot: candidates.len(),
        voter: voter_state,
        remaining,
    })
}

/// Casts a vote and answers once it is durable. When the captcha flag is on
/// the voter needs a pass from a solved challenge first.
pub async fn cast(
    state: &AppState,
    caller: &Caller,
    clip: ClipId,
    vote_type: VoteType,
) -> Result<VoteOutcome, ApiError> {
    let voter = caller.voter_key(state);
    let captcha_required = state
        .read_model
        .read(|model| flags::effective_flags(&model.stored_flags).contains(&("require_captcha_voting", true)));
    if captcha_required && !state.captcha.has_pass(voter.as_str(), Timestamp::now().millis()) {
        state.metrics.vote_cast(Some("captcha_required"));
        return Err(ApiError::captcha_required());
    }
    let request = CastRequest { voter, clip, vote_type, network: caller.network() };
    let outcome = state.writer.cast_vote(request).await;
    state.metrics.vote_cast(outcome.as_ref().err().map(crate::metrics::refusal_reason));
    Ok(outcome?)
}

/// Revokes a vote and answers once it is durable.
pub async fn revoke(state: &AppState, caller: &Caller, clip: ClipId) -> Result<VoteOutcome, ApiError> {
    Ok(state.writer.revoke_vote(caller.voter_key(state), clip).await?)
}

/// What the voter may still cast after an outcome.
pub fn remaining_after(state: &AppState, outcome: &VoteOutcome) -> RemainingVotes {
    let flags = state.read_model.read(|model| model.voting_flags());
    vote::remaining_votes(outcome.spent_today, state.config.votes.daily_budget, outcome.specials_used, flags)
}
