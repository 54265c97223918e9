//! Public reads: the story so far, one clip, the feature flags.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::{ClipDto, media_urls};
use crate::domain::ids::ClipId;
use crate::http::error::ErrorBody;
use crate::http::extract::Segment;
use crate::http::response::public_short;
use crate::service::{ServiceError, Services, story};

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
    /// A locked slot's published tally root (RFC 6962, hex); null before
    /// the lock.
    tally_root: Option<String>,
    /// The number of lines (votes, counted or not) under that root.
    tally_votes: Option<u64>,
    /// Where the lines are: `/api/tally/{season}/{position}`.
    tally_url: Option<String>,
    /// Whether an admin assigned the winner instead of the count.
    winner_assigned: Option<bool>,
}

/// `GET /api/story` (also served as `GET /api/seasons/active`).
#[utoipa::path(get, path = "/api/story", tag = "story",
    responses((status = 200, description = "The active season (null between seasons) and its slots", body = StoryResponse)))]
pub async fn get_story(State(services): State<Services>) -> Response {
    let story = story::story(&services);
    let body = StoryResponse {
        season: story.season.as_ref().map(|season| SeasonDto {
            id: season.id.get(),
            title: season.title.clone(),
            genre: season.genre.clone(),
            description: season.description.clone(),
            status: season.status.as_str(),
            total_slots: season.total_slots,
            slot_duration_secs: season.slot_duration_secs,
        }),
        slots: story
            .slots
            .iter()
            .map(|(slot, winner)| {
                let tally = story.tallies.get(&slot.position.get());
                SlotDto {
                    position: slot.position.get(),
                    status: slot.status.as_str(),
                    voting_started_at: slot.voting_started_at.map(|t| t.to_rfc3339()),
                    voting_ends_at: slot.voting_ends_at.map(|t| t.to_rfc3339()),
                    winner: winner.as_ref().map(|clip| ClipDto::new(clip, media_urls(&services))),
                    tally_root: tally.map(|tally| tally.root.to_hex()),
                    tally_votes: tally.map(|tally| tally.tree_size),
                    tally_url: tally.map(|tally| format!("/api/tally/{}/{}", tally.season, tally.position)),
                    winner_assigned: tally.map(|tally| tally.winner_assigned),
                }
            })
            .collect(),
    };
    public_short(Json(body))
}

/// `GET /api/clips/{id}`.
#[utoipa::path(get, path = "/api/clips/{id}", tag = "story",
    params(("id" = u64, Path, description = "Clip id")),
    responses(
        (status = 200, description = "An approved clip", body = ClipDto),
        (status = 404, description = "`not_found`: no such public clip", body = ErrorBody),
    ))]
pub async fn get_clip(
    State(services): State<Services>,
    Segment(id): Segment<ClipId>,
) -> Result<Response, ServiceError> {
    let clip = story::public_clip(&services, id).await?;
    Ok(public_short(Json(ClipDto::new(&clip, media_urls(&services)))))
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
pub async fn get_features(State(services): State<Services>) -> Response {
    let flags = story::features(&services).into_iter().map(|(key, enabled)| (key.to_owned(), enabled)).collect();
    public_short(Json(FeaturesResponse { flags }))
}
