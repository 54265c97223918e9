//! Public reads: the story so far, one clip, the feature flags.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::ClipDto;
use super::error::{ApiError, ErrorBody};
use crate::domain::flags;
use crate::domain::ids::ClipId;
use crate::http::state::AppState;

/// The active season with its slots.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoryResponse {
    season: Option<SeasonDto>,
    slots: Vec<SlotDto>,
}

/// A season as the public sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SeasonDto {
    id: u64,
    title: String,
    genre: String,
    description: String,
    status: &'static str,
    total_slots: u32,
    slot_duration_secs: u64,
}

/// A slot of the story and its winner once locked.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SlotDto {
    position: u32,
    status: &'static str,
    voting_started_at: Option<String>,
    voting_ends_at: Option<String>,
    winner: Option<ClipDto>,
}

/// Short shared caching for public, non-personal reads, so a proxy can absorb bursts.
fn public_cache(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=5"));
    response
}

/// `GET /api/story` and `GET /api/seasons/active`.
#[utoipa::path(get, path = "/api/story", tag = "story",
    responses((status = 200, description = "The active season (null between seasons) and its slots", body = StoryResponse)))]
pub async fn get_story(State(state): State<AppState>) -> Response {
    let story = state.read_model.read(|model| StoryResponse {
        season: model.season.as_ref().map(|season| SeasonDto {
            id: season.id.get(),
            title: season.title.clone(),
            genre: season.genre.clone(),
            description: season.description.clone(),
            status: season.status.as_str(),
            total_slots: season.total_slots,
            slot_duration_secs: season.slot_duration_secs,
        }),
        slots: model
            .slots
            .iter()
            .map(|slot| SlotDto {
                position: slot.position.get(),
                status: slot.status.as_str(),
                voting_started_at: slot.voting_started_at.map(|t| t.to_rfc3339()),
                voting_ends_at: slot.voting_ends_at.map(|t| t.to_rfc3339()),
                winner: model.winners.get(&slot.position.get()).map(ClipDto::from),
            })
            .collect(),
    });
    public_cache(Json(story))
}

/// `GET /api/seasons/active`: the same document as `GET /api/story`.
#[utoipa::path(get, path = "/api/seasons/active", tag = "story",
    responses((status = 200, description = "The active season (null between seasons) and its slots", body = StoryResponse)))]
#[allow(dead_code)] // documents the route; the router serves it with `get_story`
fn get_active_season() {}

/// `GET /api/clips/{id}`.
#[utoipa::path(get, path = "/api/clips/{id}", tag = "story",
    params(("id" = u64, Path, description = "Clip id")),
    responses(
        (status = 200, description = "An approved clip", body = ClipDto),
        (status = 404, description = "`not_found`: no such public clip", body = ErrorBody),
    ))]
pub async fn get_clip(State(state): State<AppState>, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let id: ClipId = raw.parse().map_err(|_| ApiError::not_found("no such clip"))?;
    if let Some(dto) = state.read_model.read(|model| model.open_clip(id).map(ClipDto::from)) {
        return Ok(public_cache(Json(dto)));
    }
    let counted = state.read_store(move |store| store.clip(id)).await?;
    match counted {
        // Only approved clips are public; pending and rejected ones are not.
        Some(counted)
            if matches!(
                counted.clip.status,
                crate::domain::tournament::ClipStatus::Active | crate::domain::tournament::ClipStatus::Locked
            ) =>
        {
            Ok(public_cache(Json(ClipDto::from(&counted))))
        }
        _ => Err(ApiError::not_found("no such clip")),
    }
}

/// Body of `GET /api/features`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeaturesResponse {
    /// Each feature flag's key and whether it is on.
    flags: BTreeMap<String, bool>,
}

/// `GET /api/features`.
#[utoipa::path(get, path = "/api/features", tag = "story",
    responses((status = 200, description = "The effective feature flags", body = FeaturesResponse)))]
pub async fn get_features(State(state): State<AppState>) -> Response {
    let flags = state.read_model.read(|model| flags::effective_flags(&model.stored_flags));
    let flags = flags.into_iter().map(|(key, enabled)| (key.to_owned(), enabled)).collect();
    public_cache(Json(FeaturesResponse { flags }))
}
