//! Public reads: the story so far, one clip, the feature flags.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::dto::ClipDto;
use super::error::ApiError;
use crate::app::AppState;
use crate::domain::flags;
use crate::domain::ids::ClipId;

/// The active season with its slots.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoryResponse {
    season: Option<SeasonDto>,
    slots: Vec<SlotDto>,
}

#[derive(Debug, Serialize)]
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

#[derive(Debug, Serialize)]
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

/// `GET /api/clips/{id}`.
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

/// `GET /api/features`.
pub async fn get_features(State(state): State<AppState>) -> Response {
    let flags = state.read_model.read(|model| flags::effective_flags(&model.stored_flags));
    let map: serde_json::Map<String, serde_json::Value> =
        flags.into_iter().map(|(key, enabled)| (key.to_owned(), enabled.into())).collect();
    public_cache(Json(serde_json::json!({ "flags": map })))
}
