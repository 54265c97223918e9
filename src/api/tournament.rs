//! Admin tournament routes (seasons, slots, the clip queue) and the public
//! genre vote. Handlers validate input and call the writer; the writer
//! checks state and audit-logs.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::admin::Page;
use super::dto::{self, ClipDto};
use super::error::ApiError;
use super::extract::{AdminUser, ApiJson, ApiQuery, Caller};
use super::vote::private;
use crate::app::AppState;
use crate::domain::ids::{ClipId, SeasonId, SlotPosition};
use crate::domain::model::Season;
use crate::domain::tournament::{ClipStatus, SeasonStatus};
use crate::store::CountedClip;
use crate::store::writer::{AdvanceOutcome, AdvanceTrigger, NewSeason};

/// Query of the clip queue.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    status: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

fn parse_status(raw: Option<&str>) -> Result<ClipStatus, ApiError> {
    match raw.unwrap_or("pending") {
        "pending" => Ok(ClipStatus::Pending),
        "active" => Ok(ClipStatus::Active),
        "locked" => Ok(ClipStatus::Locked),
        "rejected" => Ok(ClipStatus::Rejected),
        _ => Err(ApiError::invalid("status must be pending, active, locked or rejected")),
    }
}

/// A clip in the moderation queue: the public shape plus moderation fields.
pub fn queue_entry(counted: &CountedClip) -> Value {
    let mut value = serde_json::to_value(ClipDto::from(counted)).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("seasonId".into(), counted.clip.season.get().into());
        map.insert("rejectionReason".into(), counted.clip.rejection_reason.clone().into());
    }
    value
}

/// `GET /api/admin/clips?status=&limit=&offset=`.
pub async fn list_clips(
    State(state): State<AppState>,
    AdminUser(_): AdminUser,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> Result<Response, ApiError> {
    let status = parse_status(query.status.as_deref())?;
    let (limit, offset) = Page::new(query.limit, query.offset).bounds()?;
    let (clips, has_more) = state.read_store(move |store| store.clips_by_status(status, limit, offset)).await?;
    Ok(private(Json(json!({ "clips": clips.iter().map(queue_entry).collect::<Vec<_>>(), "hasMore": has_more }))))
}

fn clip_id(raw: &str) -> Result<ClipId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("no such clip"))
}

/// Body of a reject.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    reason: String,
}

fn check_reason(reason: &str) -> Result<String, ApiError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 300 {
        return Err(ApiError::invalid("reason must be 1 to 300 characters"));
    }
    Ok(reason.to_owned())
}

/// `POST /api/admin/clips/{id}/approve`.
pub async fn approve_clip(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let clips = state.writer.approve_clips(admin.user, vec![clip_id(&id)?]).await?;
    Ok(private(Json(json!({ "approved": clips.len() }))))
}

/// `POST /api/admin/clips/{id}/reject {"reason"}`.
pub async fn reject_clip(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RejectRequest>,
) -> Result<Response, ApiError> {
    let reason = check_reason(&body.reason)?;
    let clips = state.writer.reject_clips(admin.user, vec![clip_id(&id)?], reason).await?;
    Ok(private(Json(json!({ "rejected": clips.len() }))))
}

/// Body of a bulk moderation.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkRequest {
    action: String,
    clip_ids: Vec<u64>,
    reason: Option<String>,
}

/// `POST /api/admin/clips/bulk {"action","clipIds","reason"?}`: all or nothing.
pub async fn bulk_clips(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(body): ApiJson<BulkRequest>,
) -> Result<Response, ApiError> {
    if body.clip_ids.is_empty() || body.clip_ids.len() > 100 {
        return Err(ApiError::invalid("clipIds must list 1 to 100 ids"));
    }
    let ids: Vec<ClipId> = body
        .clip_ids
        .iter()
        .map(|id| ClipId::new(*id).ok_or_else(|| ApiError::invalid("clip ids are positive")))
        .collect::<Result<_, _>>()?;
    let count = match body.action.as_str() {
        "approve" => state.writer.approve_clips(admin.user, ids).await?.len(),
        "reject" => {
            let reason = check_reason(body.reason.as_deref().unwrap_or(""))?;
            state.writer.reject_clips(admin.user, ids, reason).await?.len()
        }
        _ => return Err(ApiError::invalid("action must be approve or reject")),
    };
    Ok(private(Json(json!({ "action": body.action, "count": count }))))
}

/// A season as the API shows it.
pub fn season_json(season: &Season) -> Value {
    json!({
        "id": season.id.get(),
        "title": season.title,
        "genre": season.genre,
        "description": season.description,
        "status": season.status.as_str(),
        "totalSlots": season.total_slots,
        "slotDurationSecs": season.slot_duration_secs,
        "createdAt": season.created_at.to_rfc3339(),
    })
}

/// `GET /api/admin/seasons`, with the genre vote to guide the next one.
pub async fn list_seasons(State(state): State<AppState>, AdminUser(_): AdminUser) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let (seasons, (tallies, _)) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        Ok((store.seasons()?, store.genre_tallies("")?))
    })
    .await??;
    let seasons: Vec<Value> = seasons.iter().map(season_json).collect();
    Ok(private(Json(json!({ "seasons": seasons, "genreVotes": genre_json(&tallies) }))))
}

/// Body of `POST /api/admin/seasons`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSeason {
    title: String,
    genre: String,
    #[serde(default)]
    description: String,
    total_slots: Option<u32>,
    slot_duration_secs: Option<u64>,
}

/// `POST /api/admin/seasons`: a draft season.
pub async fn create_season(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(body): ApiJson<CreateSeason>,
) -> Result<Response, ApiError> {
    let title = body.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 80 {
        return Err(ApiError::invalid("title must be 1 to 80 characters"));
    }
    let genre = body.genre.trim().to_ascii_lowercase();
    if !state.config.genres.contains(&genre) {
        return Err(ApiError::invalid(format!("genre must be one of: {}", state.config.genres.join(", "))));
    }
    if body.description.chars().count() > 1000 {
        return Err(ApiError::invalid("description must be at most 1000 characters"));
    }
    let total_slots = body.total_slots.unwrap_or(75);
    if !(1..=500).contains(&total_slots) {
        return Err(ApiError::invalid("totalSlots must be between 1 and 500"));
    }
    let slot_duration_secs = body.slot_duration_secs.unwrap_or(24 * 3600);
    if !(1..=30 * 24 * 3600).contains(&slot_duration_secs) {
        return Err(ApiError::invalid("slotDurationSecs must be between 1 second and 30 days"));
    }
    let new =
        NewSeason { title, genre, description: body.description.trim().to_owned(), total_slots, slot_duration_secs };
    let season = state.writer.create_season(admin.user, new).await?;
    Ok(private((axum::http::StatusCode::CREATED, Json(json!({ "season": season_json(&season) })))))
}

fn season_id(raw: &str) -> Result<SeasonId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("no such season"))
}

/// `POST /api/admin/seasons/{id}/{activate|finish|archive}`.
pub async fn season_action(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let to = match action.as_str() {
        "activate" => SeasonStatus::Active,
        "finish" => SeasonStatus::Finished,
        "archive" => SeasonStatus::Archived,
        _ => return Err(ApiError::not_found("no such action")),
    };
    let season = state.writer.season_transition(admin.user, season_id(&id)?, to).await?;
    Ok(private(Json(json!({ "season": season_json(&season) }))))
}

/// Body of a season deletion.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteSeason {
    confirm: String,
}

/// `DELETE /api/admin/seasons/{id} {"confirm": title}` (draft seasons only).
pub async fn delete_season(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DeleteSeason>,
) -> Result<Response, ApiError> {
    state.writer.delete_season(admin.user, season_id(&id)?, body.confirm).await?;
    Ok(private(Json(json!({ "deleted": true }))))
}

fn advance_json(outcome: &AdvanceOutcome) -> Value {
    match outcome {
        AdvanceOutcome::Locked { position, winner, season_finished } => {
            json!({ "result": "locked", "slotPosition": position.get(), "winnerClipId": winner.get(), "seasonFinished": season_finished })
        }
        AdvanceOutcome::WaitingForClips { position } => {
            json!({ "result": "waiting_for_clips", "slotPosition": position.get() })
        }
        AdvanceOutcome::NothingToDo => json!({ "result": "nothing_to_do" }),
    }
}

/// Optional body of `POST /api/admin/slots/advance`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdvanceRequest {
    /// The slot the admin saw open; 409 if another is open by now.
    position: Option<u32>,
}

/// `POST /api/admin/slots/advance {"position"?}`: close the open slot now.
pub async fn advance_now(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    // The body is optional: an empty POST advances whatever slot is open.
    let request: AdvanceRequest = if body.is_empty() {
        AdvanceRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| ApiError::invalid(format!("invalid body: {error}")))?
    };
    let expected = match request.position {
        Some(raw) => Some(SlotPosition::new(raw).ok_or_else(|| ApiError::invalid("position starts at 1"))?),
        None => None,
    };
    let outcome = state.writer.advance(AdvanceTrigger::Manual { actor: admin.user, winner: None, expected }).await?;
    Ok(private(Json(advance_json(&outcome))))
}

/// Body of assign-winner.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignWinner {
    #[serde(deserialize_with = "dto::clip_id")]
    clip_id: ClipId,
}

fn position(raw: &str) -> Result<SlotPosition, ApiError> {
    raw.parse::<u32>().ok().and_then(SlotPosition::new).ok_or_else(|| ApiError::not_found("no such slot"))
}

/// `POST /api/admin/slots/{position}/assign-winner {"clipId"}` (the open slot).
pub async fn assign_winner(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<AssignWinner>,
) -> Result<Response, ApiError> {
    let wanted = position(&raw)?;
    let open = state.read_model.read(|model| model.open_slot().map(|slot| slot.position));
    if open != Some(wanted) {
        return Err(ApiError::conflict("a winner can only be assigned in the open slot"));
    }
    let trigger = AdvanceTrigger::Manual { actor: admin.user, winner: Some(body.clip_id), expected: Some(wanted) };
    let outcome = state.writer.advance(trigger).await?;
    Ok(private(Json(advance_json(&outcome))))
}

/// `POST /api/admin/slots/{position}/{unlock|reset-votes}`.
pub async fn slot_action(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path((raw, action)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let position = position(&raw)?;
    match action.as_str() {
        "unlock" => {
            state.writer.unlock_slot(admin.user, position).await?;
            Ok(private(Json(json!({ "result": "unlocked", "slotPosition": position.get() }))))
        }
        "reset-votes" => {
            let voided = state.writer.reset_slot_votes(admin.user, position).await?;
            Ok(private(Json(json!({ "result": "reset", "voidedVotes": voided }))))
        }
        _ => Err(ApiError::not_found("no such action")),
    }
}

fn genre_json(tallies: &[(String, u64)]) -> Vec<Value> {
    let total: u64 = tallies.iter().map(|(_, count)| count).sum();
    tallies
        .iter()
        .map(|(genre, count)| {
            let percent = if total == 0 { 0.0 } else { (*count as f64) * 100.0 / total as f64 };
            json!({ "genre": genre, "votes": count, "percent": (percent * 10.0).round() / 10.0 })
        })
        .collect()
}

/// `GET /api/genre-vote`: tallies with percentages and my vote.
pub async fn genre_votes(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let voter = caller.voter_key(&state);
    let (tallies, mine) = state.read_store(move |store| store.genre_tallies(voter.as_str())).await?;
    let open = state.read_model.read(|model| model.season.is_none());
    Ok(private(Json(json!({
        "open": open,
        "genres": state.config.genres,
        "tallies": genre_json(&tallies),
        "myVote": mine,
    }))))
}

/// Body of a genre vote.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenreVote {
    genre: String,
}

/// `POST /api/genre-vote {"genre"}`: cast or change my vote (only between seasons).
pub async fn vote_genre(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<GenreVote>,
) -> Result<Response, ApiError> {
    let genre = body.genre.trim().to_ascii_lowercase();
    if !state.config.genres.contains(&genre) {
        return Err(ApiError::invalid(format!("genre must be one of: {}", state.config.genres.join(", "))));
    }
    let voter = caller.voter_key(&state);
    state.writer.vote_genre(voter.as_str().to_owned(), genre.clone()).await?;
    Ok(private(Json(json!({ "success": true, "genre": genre }))))
}
