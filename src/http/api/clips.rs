//! Creators' routes: upload, my clips, and clip search; plus the live feed.

use axum::Json;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::{ClipDto, media_urls};
use crate::http::error::ErrorBody;
use crate::http::extract::{ApiQuery, AuthUser};
use crate::http::response::{private, public_short};
use crate::http::upload;
use crate::service::{Page, ServiceError, Services, profiles, search};

/// The multipart form of `POST /api/upload`, as `http::upload` reads it.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the multipart form for the API description; never built")]
pub struct UploadRequest {
    /// The video (MP4 or WebM).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    title: String,
    /// Optional.
    description: Option<String>,
    /// One of the configured genres.
    genre: String,
}

/// An accepted upload, waiting for moderation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadResponse {
    clip_id: u64,
    /// Always `pending`.
    status: &'static str,
}

/// `POST /api/upload` (multipart `file`, `title`, `description`, `genre`) → 201.
#[utoipa::path(post, path = "/api/upload", tag = "clips", security(("session" = [])),
    request_body(content = UploadRequest, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored; the clip waits for moderation", body = UploadResponse),
        (status = 409, description = "`conflict`: no season is open for uploads", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not multipart, or not a supported video", body = ErrorBody),
    ))]
pub async fn upload_clip(
    State(services): State<Services>,
    AuthUser(user): AuthUser,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ServiceError> {
    let multipart =
        multipart.map_err(|_| ServiceError::unsupported_media_type("send the upload as multipart/form-data"))?;
    let clip = upload::upload(&services, user.user, &user.username, multipart).await?;
    Ok(private((StatusCode::CREATED, Json(UploadResponse { clip_id: clip.id.get(), status: "pending" }))))
}

/// Query of the signed-in user's clips.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MyClipsQuery {
    /// Page size, 1 to 100 (default 20).
    limit: Option<i64>,
    /// Items to skip (default 0).
    offset: Option<i64>,
}

/// A creator's own clip with its fate.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyClipDto {
    #[serde(flatten)]
    clip: ClipDto,
    /// `pending`, `live`, `eliminated`, `winner` or `rejected`.
    creator_status: &'static str,
    /// Empty unless rejected.
    rejection_reason: String,
}

/// A page of the creator's clips.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyClipsPage {
    clips: Vec<MyClipDto>,
    has_more: bool,
}

/// `GET /api/profile/clips`: my uploads with their statuses.
#[utoipa::path(get, path = "/api/profile/clips", tag = "clips", security(("session" = [])), params(MyClipsQuery),
    responses((status = 200, description = "The signed-in user's uploads, newest first", body = MyClipsPage)))]
pub async fn my_clips(
    State(services): State<Services>,
    AuthUser(user): AuthUser,
    ApiQuery(query): ApiQuery<MyClipsQuery>,
) -> Result<Response, ServiceError> {
    let page = Page::new(query.limit, query.offset)?;
    let (clips, has_more) = profiles::own_clips(&services, user.user, page).await?;
    let clips = clips
        .iter()
        .map(|own| MyClipDto {
            clip: ClipDto::new(&own.clip, media_urls(&services)),
            creator_status: own.status.as_str(),
            rejection_reason: own.clip.clip.rejection_reason.clone(),
        })
        .collect();
    Ok(private(Json(MyClipsPage { clips, has_more })))
}

/// Query of `GET /api/search`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words to find in titles and descriptions (prefix and typo tolerant).
    q: Option<String>,
    /// Only clips of this genre.
    genre: Option<String>,
    /// Page size, 1 to 100 (default 20).
    limit: Option<i64>,
    /// Items to skip (bounded).
    offset: Option<i64>,
}

/// A page of search results.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    clips: Vec<ClipDto>,
    has_more: bool,
}

/// `GET /api/search?q=&genre=&limit=&offset=`: prefix and typo-tolerant search.
#[utoipa::path(get, path = "/api/search", tag = "clips", params(SearchQuery),
    responses((status = 200, description = "Approved clips matching the query", body = SearchPage)))]
pub async fn search_clips(
    State(services): State<Services>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Response, ServiceError> {
    let page = Page::new(query.limit, query.offset)?;
    let found = search::search(&services, query.q.as_deref().unwrap_or(""), query.genre.as_deref(), page).await?;
    let clips = found.clips.iter().map(|clip| ClipDto::new(clip, media_urls(&services))).collect();
    Ok(public_short(Json(SearchPage { clips, has_more: found.has_more })))
}

/// `GET /api/live`: Server-Sent Events with coalesced vote counts, slot and
/// clip changes and the open slot's top clips; `Last-Event-ID` resumes.
#[utoipa::path(get, path = "/api/live", tag = "clips",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id; a snapshot comes first otherwise")),
    responses((status = 200, description = "A Server-Sent Events stream: `snapshot`, `counts`, `top`, `slot` and `clip` events", body = String,
        content_type = "text/event-stream")))]
pub async fn live(State(services): State<Services>, headers: axum::http::HeaderMap) -> Response {
    let last_event_id = headers.get("last-event-id").and_then(|value| value.to_str().ok());
    crate::http::live::subscribe(&services.live, last_event_id)
}
