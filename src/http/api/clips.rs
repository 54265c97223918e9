//! Creators' routes: upload, my clips, and clip search; plus the live feed.

use axum::Json;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::ClipDto;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiQuery, AuthUser};
use super::vote::private;
use crate::domain::ids::ClipId;
use crate::http::state::AppState;
use crate::media::upload::{self, StoredUpload, UploadError};
use crate::search::SearchError;
use crate::sessions::SessionUser;
use crate::store::writer::NewClip;

impl From<UploadError> for ApiError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::TooLarge { max_bytes } => {
                ApiError::payload_too_large(format!("the file is larger than {} MiB", max_bytes / (1024 * 1024)))
            }
            UploadError::UnsupportedMedia(reason) => ApiError::unsupported_media_type(reason),
            UploadError::Invalid(reason) => ApiError::invalid(reason),
            UploadError::Io(error) => ApiError::internal(error),
        }
    }
}

/// Receives, validates and stores an upload, then records the pending clip.
pub async fn store_upload(state: &AppState, user: &SessionUser, multipart: Multipart) -> Result<ClipId, ApiError> {
    // Checked before reading the body, so a refused upload stores nothing;
    // the writer checks again when it records the clip.
    if state.read_model.read(|model| model.season.is_none()) {
        return Err(ApiError::conflict("no season is open for uploads right now"));
    }
    let StoredUpload { video, poster, info, form, .. } =
        upload::receive_upload(multipart, state.media.clone(), &state.upload_limits).await?;
    let clip = state
        .writer
        .create_clip(NewClip {
            creator: user.user,
            creator_username: user.username.clone(),
            title: form.title,
            description: form.description,
            genre: form.genre,
            video_path: video.relative_path(),
            poster_path: poster.relative_path(),
            duration_ms: info.duration_ms,
        })
        .await?;
    tracing::info!(clip.id = %clip.id, user.id = %user.user, duration_ms = info.duration_ms, "clip uploaded");
    Ok(clip.id)
}

/// The multipart form of `POST /api/upload`, as `media::upload::receive_upload` reads it.
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
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ApiError> {
    let multipart =
        multipart.map_err(|_| ApiError::unsupported_media_type("send the upload as multipart/form-data"))?;
    let clip = store_upload(&state, &user, multipart).await?;
    Ok(private((StatusCode::CREATED, Json(UploadResponse { clip_id: clip.get(), status: "pending" }))))
}

/// Query of the signed-in user's clips.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
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

/// What a creator sees about their own clip's fate.
pub fn creator_status(counted: &crate::store::CountedClip, open_season: Option<u64>) -> &'static str {
    use crate::domain::tournament::ClipStatus;
    match counted.clip.status {
        ClipStatus::Pending => "pending",
        ClipStatus::Active if open_season == Some(counted.clip.season.get()) => "live",
        ClipStatus::Active => "eliminated",
        ClipStatus::Locked => "winner",
        ClipStatus::Rejected => "rejected",
    }
}

/// `GET /api/profile/clips`: my uploads with their statuses.
#[utoipa::path(get, path = "/api/profile/clips", tag = "clips", security(("session" = [])), params(MyClipsQuery),
    responses((status = 200, description = "The signed-in user's uploads, newest first", body = MyClipsPage)))]
pub async fn my_clips(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(query): ApiQuery<MyClipsQuery>,
) -> Result<Response, ApiError> {
    let (limit, offset) = super::admin::Page::new(query.limit, query.offset).bounds()?;
    let store = state.store.clone();
    let id = user.user;
    let (clips, has_more) = tokio::task::spawn_blocking(move || store.clips_of_user(id, limit, offset)).await??;
    let open_season = state.read_model.read(|model| model.season.as_ref().map(|s| s.id.get()));
    let clips = clips
        .iter()
        .map(|counted| MyClipDto {
            clip: ClipDto::from(counted),
            creator_status: creator_status(counted, open_season),
            rejection_reason: counted.clip.rejection_reason.clone(),
        })
        .collect();
    Ok(private(Json(MyClipsPage { clips, has_more })))
}

/// Query of `GET /api/search`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
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

/// Searches approved clips; returns the page of clips.
pub async fn run_search(
    state: &AppState,
    q: &str,
    genre: Option<&str>,
    limit: usize,
    offset: usize,
) -> Result<(Vec<crate::store::CountedClip>, bool), ApiError> {
    let index = state.search.clone();
    let (q, genre) = (q.to_owned(), genre.map(str::to_owned));
    let page = tokio::task::spawn_blocking(move || index.search(&q, genre.as_deref(), limit, offset)).await?;
    let page = match page {
        Ok(page) => page,
        Err(SearchError::Invalid(reason)) => return Err(ApiError::invalid(reason)),
        Err(error) => return Err(ApiError::internal(error)),
    };
    let store = state.store.clone();
    let ids: Vec<ClipId> = page.hits.iter().filter_map(|hit| ClipId::new(hit.clip_id)).collect();
    let clips = tokio::task::spawn_blocking(move || -> Result<Vec<_>, ApiError> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(clip) = store.clip(id)? {
                found.push(clip);
            }
        }
        Ok(found)
    })
    .await??;
    Ok((clips, page.has_more))
}

/// `GET /api/search?q=&genre=&limit=&offset=`: prefix and typo-tolerant search.
#[utoipa::path(get, path = "/api/search", tag = "clips", params(SearchQuery),
    responses((status = 200, description = "Approved clips matching the query", body = SearchPage)))]
pub async fn search_clips(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Response, ApiError> {
    let (limit, offset) = super::admin::Page::new(query.limit, query.offset).bounds()?;
    if offset > crate::search::MAX_OFFSET {
        return Err(ApiError::invalid("offset is too large"));
    }
    let genre = query.genre.as_deref().filter(|g| !g.trim().is_empty());
    let (clips, has_more) = run_search(&state, query.q.as_deref().unwrap_or(""), genre, limit, offset).await?;
    let clips = clips.iter().map(ClipDto::from).collect();
    let mut response = Json(SearchPage { clips, has_more }).into_response();
    response
        .headers_mut()
        .insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("public, max-age=5"));
    Ok(response)
}

/// `GET /api/live`: Server-Sent Events with coalesced vote counts, slot and
/// clip changes and the open slot's top clips; `Last-Event-ID` resumes.
#[utoipa::path(get, path = "/api/live", tag = "clips",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id; a snapshot comes first otherwise")),
    responses((status = 200, description = "A Server-Sent Events stream: `snapshot`, `counts`, `top`, `slot` and `clip` events", body = String,
        content_type = "text/event-stream")))]
pub async fn live(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let last_event_id = headers.get("last-event-id").and_then(|value| value.to_str().ok());
    state.live.subscribe(last_event_id)
}
