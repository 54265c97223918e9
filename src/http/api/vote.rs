//! `GET/POST/DELETE /api/vote`: the feed, casting and revoking.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::{self, ClipDto, RemainingVotesDto, media_urls};
use crate::domain::feed::DEFAULT_FEED_LIMIT;
use crate::domain::ids::ClipId;
use crate::domain::vote::VoteType;
use crate::http::error::ErrorBody;
use crate::http::extract::{ApiJson, ApiQuery, Caller, Voter};
use crate::http::response::private;
use crate::http::state::AppState;
use crate::service::voting::CountViews;
use crate::service::{ServiceError, Services, voting};
use crate::store::writer::VoteOutcome;

/// Query of `GET /api/vote`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// How many clips, 1 to 20 (default 8).
    limit: Option<usize>,
    /// Comma-separated clip ids already shown (at most 200).
    exclude_ids: Option<String>,
    /// Whether the clips returned count as viewed (default `true`). A client
    /// that fetches clips ahead of showing them passes `false` and reports
    /// each view with `POST /api/vote/view` when the clip is on screen.
    count_views: Option<bool>,
}

/// A clip in the feed: the clip, and how many comments it has.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedClipDto {
    #[serde(flatten)]
    clip: ClipDto,
    comment_count: u64,
}

/// Body of `GET /api/vote`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedResponse {
    clips: Vec<FeedClipDto>,
    total_votes_today: u32,
    remaining_votes: RemainingVotesDto,
    voted_clip_ids: Vec<u64>,
    current_slot: Option<u32>,
    total_slots: Option<u32>,
    total_clips_in_slot: usize,
    has_more_clips: bool,
    voting_ends_at: Option<String>,
}

/// Most ids `excludeIds` may carry; a longer list is refused rather than scanned.
const MAX_EXCLUDE_IDS: usize = 200;

/// `GET /api/vote`: the clips this voter should see next.
#[utoipa::path(get, path = "/api/vote", tag = "votes", params(FeedQuery),
    responses((status = 200, description = "The next clips to vote on, with the voter's quota", body = FeedResponse)))]
pub async fn get_feed(
    State(services): State<Services>,
    Voter(voter): Voter,
    ApiQuery(query): ApiQuery<FeedQuery>,
) -> Result<Response, ServiceError> {
    let limit = query.limit.unwrap_or(DEFAULT_FEED_LIMIT);
    let exclude = parse_exclude_ids(query.exclude_ids.as_deref())?;
    let count_views = if query.count_views == Some(false) { CountViews::No } else { CountViews::Returned };
    let feed = voting::load_feed(&services, &voter, limit, &exclude, count_views).await?;
    let body = FeedResponse {
        clips: feed
            .clips
            .iter()
            .zip(feed.comment_counts.iter().chain(std::iter::repeat(&0)))
            .map(|(counted, comments)| FeedClipDto {
                clip: ClipDto::new(counted, media_urls(&services)),
                comment_count: *comments,
            })
            .collect(),
        total_votes_today: feed.voter.spent_today,
        remaining_votes: feed.remaining.into(),
        voted_clip_ids: feed.voter.voted_clips.iter().map(|id| id.get()).collect(),
        current_slot: feed.slot.as_ref().map(|slot| slot.position.get()),
        total_slots: feed.season.as_ref().map(|season| season.total_slots),
        total_clips_in_slot: feed.total_clips_in_slot,
        has_more_clips: feed.has_more,
        voting_ends_at: feed.slot.as_ref().and_then(|slot| slot.voting_ends_at).map(|t| t.to_rfc3339()),
    };
    Ok(private(Json(body)))
}

fn parse_exclude_ids(raw: Option<&str>) -> Result<Vec<ClipId>, ServiceError> {
    let Some(raw) = raw.filter(|raw| !raw.trim().is_empty()) else { return Ok(Vec::new()) };
    let ids: Vec<&str> = raw.split(',').collect();
    if ids.len() > MAX_EXCLUDE_IDS {
        return Err(ServiceError::invalid(format!("excludeIds may list at most {MAX_EXCLUDE_IDS} ids")));
    }
    ids.into_iter()
        .map(|id| id.parse::<ClipId>().map_err(|error| ServiceError::invalid(format!("excludeIds: {error}"))))
        .collect()
}

/// Body of `POST /api/vote`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CastRequest {
    /// A clip id; a decimal string is accepted too.
    #[serde(deserialize_with = "dto::clip_id")]
    #[schema(value_type = u64)]
    clip_id: ClipId,
    /// `standard` (default), `super` or `mega`.
    vote_type: Option<String>,
}

/// Body of `DELETE /api/vote`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokeRequest {
    /// A clip id; a decimal string is accepted too.
    #[serde(deserialize_with = "dto::clip_id")]
    #[schema(value_type = u64)]
    clip_id: ClipId,
}

/// Answer of a cast or revoke.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VoteResponse {
    success: bool,
    clip_id: u64,
    vote_type: &'static str,
    new_score: u64,
    vote_count: u64,
    total_votes_today: u32,
    remaining_votes: RemainingVotesDto,
    receipt: ReceiptDto,
}

/// Where the vote will be published: once its slot locks, its line is in
/// `GET /api/tally/{season}/{position}` and its proof at
/// `GET /api/tally/{season}/{position}/proof/{voteId}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptDto {
    vote_id: u64,
    season: u64,
    position: u32,
}

fn vote_response(services: &Services, outcome: &VoteOutcome) -> VoteResponse {
    VoteResponse {
        success: true,
        clip_id: outcome.clip.get(),
        vote_type: outcome.vote_type.as_str(),
        new_score: outcome.counter.weighted_score,
        vote_count: outcome.counter.vote_count,
        total_votes_today: outcome.spent_today,
        remaining_votes: voting::remaining_after(services, outcome).into(),
        receipt: ReceiptDto {
            vote_id: outcome.receipt.vote.get(),
            season: outcome.receipt.season.get(),
            position: outcome.receipt.position.get(),
        },
    }
}

/// `POST /api/vote`: casts a vote; 200 only once it is durable.
#[utoipa::path(post, path = "/api/vote", tag = "votes", request_body = CastRequest,
    responses(
        (status = 200, description = "The vote is durable", body = VoteResponse),
        (status = 404, description = "`not_found`: no such clip", body = ErrorBody),
        (status = 409, description = "`already_voted`", body = ErrorBody),
        (status = 422, description = "`not_votable`, `slot_closed` or `special_vote_used`", body = ErrorBody),
        (status = 403, description = "`captcha_required`: solve the captcha first", body = ErrorBody),
    ))]
pub async fn cast_vote(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CastRequest>,
) -> Result<Response, ServiceError> {
    let vote_type = match request.vote_type.as_deref() {
        None => VoteType::Standard,
        Some(name) => VoteType::parse(name)
            .ok_or_else(|| ServiceError::invalid("voteType must be one of standard, super, mega"))?,
    };
    let voter = caller.voter_key(&state);
    let outcome = voting::cast(&state.services, &voter, caller.network(), request.clip_id, vote_type).await?;
    Ok(private(Json(vote_response(&state.services, &outcome))))
}

/// `DELETE /api/vote`: revokes the voter's latest vote on a clip.
#[utoipa::path(delete, path = "/api/vote", tag = "votes", request_body = RevokeRequest,
    responses(
        (status = 200, description = "The vote is revoked", body = VoteResponse),
        (status = 404, description = "`not_found`: no such clip or no vote to revoke", body = ErrorBody),
        (status = 422, description = "`slot_closed`", body = ErrorBody),
    ))]
pub async fn revoke_vote(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<RevokeRequest>,
) -> Result<Response, ServiceError> {
    let outcome = voting::revoke(&state.services, &caller.voter_key(&state), request.clip_id).await?;
    Ok(private(Json(vote_response(&state.services, &outcome))))
}

/// Body of `POST /api/vote/view`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ViewRequest {
    /// The clip now on screen; a decimal string is accepted too.
    #[serde(deserialize_with = "dto::clip_id")]
    #[schema(value_type = u64)]
    clip_id: ClipId,
}

/// `POST /api/vote/view`: the clip is on this voter's screen now. Counted
/// once per voter and clip, like the feed's views; a clip that does not
/// compete in the open slot is not counted (`counted: false`).
#[utoipa::path(post, path = "/api/vote/view", tag = "votes", request_body = ViewRequest,
    responses((status = 200, description = "Whether the view counts", body = ViewResponse)))]
pub async fn record_view(
    State(services): State<Services>,
    Voter(voter): Voter,
    ApiJson(request): ApiJson<ViewRequest>,
) -> Result<Response, ServiceError> {
    let counted = voting::record_view(&services, &voter, request.clip_id);
    Ok(private(Json(ViewResponse { counted })))
}

/// Answer of `POST /api/vote/view`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ViewResponse {
    /// Whether the clip competes in the open slot (only then is a view kept).
    counted: bool,
}
