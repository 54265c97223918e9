//! Admin tournament routes (seasons, slots, the clip queue) and the public
//! genre vote, over `service::moderation` and `service::genres`; the writer
//! below them checks state and audit-logs.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::{self, ClipDto, media_urls};
use crate::domain::genre as domain_genre;
use crate::domain::ids::{ClipId, SeasonId, SlotPosition};
use crate::domain::model::Season;
use crate::domain::moderation::{ClipDecision, SeasonAction, SlotAction};
use crate::http::error::ErrorBody;
use crate::http::extract::{AdminUser, ApiJson, ApiQuery, Caller, Segment, Segments};
use crate::http::response::private;
use crate::http::state::AppState;
use crate::media::urls::MediaUrls;
use crate::service::moderation::{self, ClipSelection, RejectReason, SeasonDraft, SlotActionOutcome};
use crate::service::{Page, ServiceError, Services, genres};
use crate::store::CountedClip;
use crate::store::writer::AdvanceOutcome;

/// Query of the clip queue.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// `pending` (default), `active`, `locked` or `rejected`.
    status: Option<String>,
    /// Page size, 1 to 100 (default 20).
    limit: Option<i64>,
    /// Items to skip (default 0).
    offset: Option<i64>,
}

/// A clip in the moderation queue: the public shape plus moderation fields.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueEntry {
    #[serde(flatten)]
    clip: ClipDto,
    season_id: u64,
    /// Empty unless rejected.
    rejection_reason: String,
}

/// A clip in the moderation queue: the public shape plus moderation fields.
pub fn queue_entry(counted: &CountedClip, urls: MediaUrls<'_>) -> QueueEntry {
    QueueEntry {
        clip: ClipDto::new(counted, urls),
        season_id: counted.clip.season.get(),
        rejection_reason: counted.clip.rejection_reason.clone(),
    }
}

/// A page of the moderation queue.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuePage {
    clips: Vec<QueueEntry>,
    has_more: bool,
}

/// `GET /api/admin/clips?status=&limit=&offset=`.
#[utoipa::path(get, path = "/api/admin/clips", tag = "tournament", security(("session" = [])), params(QueueQuery),
    responses((status = 200, description = "Clips in the given status", body = QueuePage)))]
pub async fn list_clips(
    State(services): State<Services>,
    AdminUser(_): AdminUser,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> Result<Response, ServiceError> {
    let status = moderation::parse_queue_status(query.status.as_deref())
        .ok_or_else(|| ServiceError::invalid("status must be pending, active, locked or rejected"))?;
    let page = Page::new(query.limit, query.offset)?;
    let (clips, has_more) = moderation::clip_queue(&services, status, page).await?;
    Ok(private(Json(QueuePage {
        clips: clips.iter().map(|clip| queue_entry(clip, media_urls(&services))).collect(),
        has_more,
    })))
}

/// Body of a reject.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// 1 to 300 characters, shown to the creator.
    reason: String,
}

/// How many clips an approve changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovedDto {
    approved: usize,
}

/// How many clips a reject changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedDto {
    rejected: usize,
}

/// `POST /api/admin/clips/{id}/approve`.
#[utoipa::path(post, path = "/api/admin/clips/{id}/approve", tag = "tournament", security(("session" = [])),
    params(("id" = u64, Path, description = "Clip id")),
    responses(
        (status = 200, description = "Approved", body = ApprovedDto),
        (status = 404, description = "`not_found`: no such clip", body = ErrorBody),
        (status = 409, description = "`conflict`: the clip is not pending", body = ErrorBody),
    ))]
pub async fn approve_clip(
    State(services): State<Services>,
    AdminUser(admin): AdminUser,
    Segment(id): Segment<ClipId>,
) -> Result<Response, ServiceError> {
    let clips = moderation::approve(&services, admin.user, ClipSelection::one(id)).await?;
    Ok(private(Json(ApprovedDto { approved: clips.len() })))
}

/// `POST /api/admin/clips/{id}/reject {"reason"}`.
#[utoipa::path(post, path = "/api/admin/clips/{id}/reject", tag = "tournament", security(("session" = [])),
    params(("id" = u64, Path, description = "Clip id")),
    request_body = RejectRequest,
    responses(
        (status = 200, description = "Rejected", body = RejectedDto),
        (status = 404, description = "`not_found`: no such clip", body = ErrorBody),
        (status = 409, description = "`conflict`: the clip cannot be rejected now", body = ErrorBody),
    ))]
pub async fn reject_clip(
    State(services): State<Services>,
    AdminUser(admin): AdminUser,
    Segment(id): Segment<ClipId>,
    ApiJson(body): ApiJson<RejectRequest>,
) -> Result<Response, ServiceError> {
    let reason = RejectReason::parse(&body.reason)?;
    let clips = moderation::reject(&services, admin.user, ClipSelection::one(id), reason).await?;
    Ok(private(Json(RejectedDto { rejected: clips.len() })))
}

/// Body of a bulk moderation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkRequest {
    /// `approve` or `reject`.
    action: String,
    /// 1 to 100 clip ids.
    clip_ids: Vec<u64>,
    /// Required to reject.
    reason: Option<String>,
}

/// The outcome of a bulk moderation.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkDto {
    action: String,
    count: usize,
}

/// `POST /api/admin/clips/bulk {"action","clipIds","reason"?}`: all or nothing.
#[utoipa::path(post, path = "/api/admin/clips/bulk", tag = "tournament", security(("session" = [])),
    request_body = BulkRequest,
    responses(
        (status = 200, description = "Every clip changed", body = BulkDto),
        (status = 404, description = "`not_found`: a clip does not exist (nothing changed)", body = ErrorBody),
        (status = 409, description = "`conflict`: a clip cannot change (nothing changed)", body = ErrorBody),
    ))]
pub async fn bulk_clips(
    State(services): State<Services>,
    AdminUser(admin): AdminUser,
    ApiJson(body): ApiJson<BulkRequest>,
) -> Result<Response, ServiceError> {
    let ids: Vec<ClipId> = body
        .clip_ids
        .iter()
        .map(|id| ClipId::new(*id).ok_or_else(|| ServiceError::invalid("clip ids are positive")))
        .collect::<Result<_, _>>()?;
    let clips = ClipSelection::new(ids)
        .map_err(|_| ServiceError::invalid(format!("clipIds must list 1 to {} ids", ClipSelection::MAX)))?;
    let decision =
        ClipDecision::parse(&body.action).ok_or_else(|| ServiceError::invalid("action must be approve or reject"))?;
    let count = match decision {
        ClipDecision::Approve => moderation::approve(&services, admin.user, clips).await?.len(),
        ClipDecision::Reject => {
            let reason = RejectReason::parse(body.reason.as_deref().unwrap_or(""))?;
            moderation::reject(&services, admin.user, clips, reason).await?.len()
        }
    };
    Ok(private(Json(BulkDto { action: decision.as_str().to_owned(), count })))
}

/// A season as admins see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminSeasonDto {
    id: u64,
    title: String,
    genre: String,
    description: String,
    /// `draft`, `active`, `finished` or `archived`.
    status: &'static str,
    total_slots: u32,
    slot_duration_secs: u64,
    /// RFC 3339.
    created_at: String,
}

/// A season as the API shows it.
pub fn season_json(season: &Season) -> AdminSeasonDto {
    AdminSeasonDto {
        id: season.id.get(),
        title: season.title.clone(),
        genre: season.genre.clone(),
        description: season.description.clone(),
        status: season.status.as_str(),
        total_slots: season.total_slots,
        slot_duration_secs: season.slot_duration_secs,
        created_at: season.created_at.to_rfc3339(),
    }
}

/// Every season and the genre vote.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeasonsResponse {
    seasons: Vec<AdminSeasonDto>,
    /// The open genre round's tallies.
    genre_votes: Vec<GenreTally>,
    /// The genre a season created without one gets: the open round's winner
    /// (most votes; a tie goes to the name first alphabetically).
    next_genre: Option<String>,
    /// The newest closed genre rounds (each season's finish closes one).
    past_genre_rounds: Vec<GenreRoundDto>,
}

/// A closed genre round and its result.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenreRoundDto {
    /// The round's number (the first is 1).
    round: u64,
    /// The season whose finish closed it.
    closed_by_season_id: Option<u64>,
    /// RFC 3339.
    closed_at: String,
    /// The genre with the most votes, if anyone voted.
    winner: Option<String>,
    tallies: Vec<GenreTally>,
}

/// `{"season": ...}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeasonResponse {
    season: AdminSeasonDto,
}

/// `{"deleted": true}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedDto {
    deleted: bool,
}

/// `GET /api/admin/seasons`, with the genre vote to guide the next one.
#[utoipa::path(get, path = "/api/admin/seasons", tag = "tournament", security(("session" = [])),
    responses((status = 200, description = "Every season, and the genre vote", body = SeasonsResponse)))]
pub async fn list_seasons(State(services): State<Services>, AdminUser(_): AdminUser) -> Result<Response, ServiceError> {
    let overview = moderation::seasons(&services).await?;
    let past_genre_rounds = overview
        .past_genre_rounds
        .iter()
        .map(|round| GenreRoundDto {
            round: round.round,
            closed_by_season_id: round.closed_by.map(|season| season.get()),
            closed_at: round.closed_at.to_rfc3339(),
            winner: domain_genre::round_winner(&round.tallies).map(str::to_owned),
            tallies: genre_json(&round.tallies),
        })
        .collect();
    Ok(private(Json(SeasonsResponse {
        seasons: overview.seasons.iter().map(season_json).collect(),
        genre_votes: genre_json(&overview.genre_votes),
        next_genre: overview.next_genre.map(|genre| genre.into_string()),
        past_genre_rounds,
    })))
}

/// Body of `POST /api/admin/seasons`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSeason {
    /// 1 to 80 characters.
    title: String,
    /// One of the configured genres. Omitted: the winner of the open genre
    /// round (`nextGenre` of `GET /api/admin/seasons`); 400 when nobody voted.
    #[serde(default)]
    genre: Option<String>,
    /// At most 1000 characters.
    #[serde(default)]
    description: String,
    /// 1 to 500 (default 75).
    total_slots: Option<u32>,
    /// 1 second to 30 days (default one day).
    slot_duration_secs: Option<u64>,
}

/// `POST /api/admin/seasons`: a draft season.
#[utoipa::path(post, path = "/api/admin/seasons", tag = "tournament", security(("session" = [])),
    request_body = CreateSeason,
    responses((status = 201, description = "The new draft season", body = SeasonResponse)))]
pub async fn create_season(
    State(services): State<Services>,
    AdminUser(admin): AdminUser,
    ApiJson(body): ApiJson<CreateSeason>,
) -> Result<Response, ServiceError> {
    let draft = SeasonDraft {
        title: body.title,
        genre: body.genre.unwrap_or_default(),
        description: body.description,
        total_slots: body.total_slots,
        slot_duration_secs: body.slot_duration_secs,
    };
    let season = moderation::create_season(&services, admin.user, draft).await?;
    Ok(private((axum::http::StatusCode::CREATED, Json(SeasonResponse { season: season_json(&season) }))))
}

/// `POST /api/admin/seasons/{id}/{activate|finish|archive}`.
#[utoipa::path(post, path = "/api/admin/seasons/{id}/{action}", tag = "tournament", security(("session" = [])),
    params(
        ("id" = u64, Path, description = "Season id"),
        ("action" = String, Path, description = "`activate`, `finish` or `archive`"),
    ),
    responses(
        (status = 200, description = "The season after the transition", body = SeasonResponse),
        (status = 404, description = "`not_found`: no such season or action", body = ErrorBody),
        (status = 409, description = "`conflict`: the transition is not allowed now", body = ErrorBody),
    ))]
pub async fn season_action(
    State(services): State<Services>,
    AdminUser(admin): AdminUser,
    Segments(season, action): Segments<SeasonId, SeasonAction>,
) -> Result<Response, ServiceError> {
    let season = moderation::season_action(&services, admin.user, season, action).await?;
    Ok(private(Json(SeasonResponse { season: season_json(&season) })))
}

/// Body of a season deletion.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteSeason {
    /// The season's title, to confirm.
    confirm: String,
}

/// `DELETE /api/admin/seasons/{id} {"confirm": title}` (draft seasons only).
#[utoipa::path(delete, path = "/api/admin/seasons/{id}", tag = "tournament", security(("session" = [])),
    params(("id" = u64, Path, description = "Season id")),
    request_body = DeleteSeason,
    responses(
        (status = 200, description = "Deleted", body = DeletedDto),
        (status = 404, description = "`not_found`: no such season", body = ErrorBody),
        (status = 409, description = "`conflict`: only draft seasons can be deleted", body = ErrorBody),
    ))]
pub async fn delete_season(
    State(services): State<Services>,
    AdminUser(admin): AdminUser,
    Segment(season): Segment<SeasonId>,
    ApiJson(body): ApiJson<DeleteSeason>,
) -> Result<Response, ServiceError> {
    moderation::delete_season(&services, admin.user, season, &body.confirm).await?;
    Ok(private(Json(DeletedDto { deleted: true })))
}

/// What a slot advance or a slot action did, told by `result`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum SlotOutcome {
    /// The slot closed with a winner.
    #[serde(rename_all = "camelCase")]
    Locked { slot_position: u32, winner_clip_id: u64, season_finished: bool },
    /// The slot stays open until it has clips.
    #[serde(rename_all = "camelCase")]
    WaitingForClips { slot_position: u32 },
    /// No slot was open.
    NothingToDo,
    /// The slot was unlocked.
    #[serde(rename_all = "camelCase")]
    Unlocked { slot_position: u32 },
    /// The slot's votes were voided.
    #[serde(rename_all = "camelCase")]
    Reset { voided_votes: usize },
}

fn advance_json(outcome: &AdvanceOutcome) -> SlotOutcome {
    match outcome {
        AdvanceOutcome::Locked { position, winner, season_finished } => SlotOutcome::Locked {
            slot_position: position.get(),
            winner_clip_id: winner.get(),
            season_finished: *season_finished,
        },
        AdvanceOutcome::WaitingForClips { position } => SlotOutcome::WaitingForClips { slot_position: position.get() },
        AdvanceOutcome::NothingToDo => SlotOutcome::NothingToDo,
    }
}

/// Optional body of `POST /api/admin/slots/advance`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdvanceRequest {
    /// The slot the admin saw open; 409 if another is open by now.
    position: Option<u32>,
}

/// `POST /api/admin/slots/advance {"position"?}`: close the open slot now.
#[utoipa::path(post, path = "/api/admin/slots/advance", tag = "tournament", security(("session" = [])),
    request_body(content = Option<AdvanceRequest>, description = "Optional; an empty body advances the open slot"),
    responses(
        (status = 200, description = "What the advance did", body = SlotOutcome),
        (status = 409, description = "`conflict`: another slot is open by now", body = ErrorBody),
    ))]
pub async fn advance_now(
    State(services): State<Services>,
    AdminUser(admin): AdminUser,
    body: axum::body::Bytes,
) -> Result<Response, ServiceError> {
    // The body is optional: an empty POST advances whatever slot is open.
    let request: AdvanceRequest =
        if body.is_empty() { AdvanceRequest::default() } else { crate::http::extract::json_object(&body)? };
    let expected = match request.position {
        Some(raw) => Some(SlotPosition::new(raw).ok_or_else(|| ServiceError::invalid("position starts at 1"))?),
        None => None,
    };
    let outcome = moderation::advance(&services, admin.user, expected).await?;
    Ok(private(Json(advance_json(&outcome))))
}

/// Body of assign-winner.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignWinner {
    /// A clip id; a decimal string is accepted too.
    #[serde(deserialize_with = "dto::clip_id")]
    #[schema(value_type = u64)]
    clip_id: ClipId,
}

/// `POST /api/admin/slots/{position}/assign-winner {"clipId"}` (the open slot).
#[utoipa::path(post, path = "/api/admin/slots/{position}/assign-winner", tag = "tournament",
    security(("session" = [])),
    params(("position" = u32, Path, description = "Slot position, from 1")),
    request_body = AssignWinner,
    responses(
        (status = 200, description = "The slot locked with this winner", body = SlotOutcome),
        (status = 404, description = "`not_found`: no such slot or clip", body = ErrorBody),
        (status = 409, description = "`conflict`: the slot is not the open one", body = ErrorBody),
    ))]
pub async fn assign_winner(
    State(services): State<Services>,
    AdminUser(admin): AdminUser,
    Segment(position): Segment<SlotPosition>,
    ApiJson(body): ApiJson<AssignWinner>,
) -> Result<Response, ServiceError> {
    let outcome = moderation::assign_winner(&services, admin.user, position, body.clip_id).await?;
    Ok(private(Json(advance_json(&outcome))))
}

/// `POST /api/admin/slots/{position}/{unlock|reset-votes}`.
#[utoipa::path(post, path = "/api/admin/slots/{position}/{action}", tag = "tournament", security(("session" = [])),
    params(
        ("position" = u32, Path, description = "Slot position, from 1"),
        ("action" = String, Path, description = "`unlock` or `reset-votes`"),
    ),
    responses(
        (status = 200, description = "`unlocked` or `reset`", body = SlotOutcome),
        (status = 404, description = "`not_found`: no such slot or action", body = ErrorBody),
        (status = 409, description = "`conflict`: the slot cannot change now", body = ErrorBody),
    ))]
pub async fn slot_action(
    State(services): State<Services>,
    AdminUser(admin): AdminUser,
    Segments(position, action): Segments<SlotPosition, SlotAction>,
) -> Result<Response, ServiceError> {
    let body = match moderation::slot_action(&services, admin.user, position, action).await? {
        SlotActionOutcome::Unlocked => SlotOutcome::Unlocked { slot_position: position.get() },
        SlotActionOutcome::Reset { voided } => SlotOutcome::Reset { voided_votes: voided },
    };
    Ok(private(Json(body)))
}

/// One genre's share of the genre vote.
#[derive(Debug, Serialize, ToSchema)]
pub struct GenreTally {
    genre: String,
    votes: u64,
    /// Share of all votes, one decimal.
    percent: f64,
}

fn genre_json(tallies: &[(String, u64)]) -> Vec<GenreTally> {
    let total: u64 = tallies.iter().map(|(_, count)| count).sum();
    tallies
        .iter()
        .map(|(genre, count)| {
            let percent = if total == 0 { 0.0 } else { (*count as f64) * 100.0 / total as f64 };
            GenreTally { genre: genre.clone(), votes: *count, percent: (percent * 10.0).round() / 10.0 }
        })
        .collect()
}

/// The genre vote as a voter sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenreVotesResponse {
    /// Whether voting is open (only between seasons).
    open: bool,
    /// The configured genres.
    genres: Vec<String>,
    tallies: Vec<GenreTally>,
    /// This voter's genre, if any.
    my_vote: Option<String>,
}

/// A recorded genre vote.
#[derive(Debug, Serialize, ToSchema)]
pub struct GenreVoted {
    success: bool,
    genre: String,
}

/// `GET /api/genre-vote`: tallies with percentages and my vote.
#[utoipa::path(get, path = "/api/genre-vote", tag = "tournament",
    responses((status = 200, description = "Tallies and this voter's vote", body = GenreVotesResponse)))]
pub async fn genre_votes(State(state): State<AppState>, caller: Caller) -> Result<Response, ServiceError> {
    let ballot = genres::ballot(&state.services, &caller.voter_key(&state)).await?;
    Ok(private(Json(GenreVotesResponse {
        open: ballot.open,
        genres: ballot.genres,
        tallies: genre_json(&ballot.tallies),
        my_vote: ballot.mine,
    })))
}

/// Body of a genre vote.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenreVote {
    genre: String,
}

/// `POST /api/genre-vote {"genre"}`: cast or change my vote (only between seasons).
#[utoipa::path(post, path = "/api/genre-vote", tag = "tournament", request_body = GenreVote,
    responses(
        (status = 200, description = "The vote is recorded", body = GenreVoted),
        (status = 409, description = "`conflict`: a season is running", body = ErrorBody),
    ))]
pub async fn vote_genre(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<GenreVote>,
) -> Result<Response, ServiceError> {
    let genre = genres::parse(&state.services, &body.genre)?;
    let name = genre.as_str().to_owned();
    genres::vote(&state.services, &caller.voter_key(&state), genre).await?;
    Ok(private(Json(GenreVoted { success: true, genre: name })))
}
