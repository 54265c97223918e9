//! Creator pages: upload, my profile with my clips, and search.

use askama::Template;
use axum::Router;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use serde::Deserialize;

use super::Chrome;
use super::arena::ClipCard;
use super::render;
use crate::http::api::clips::{creator_status, run_search, store_upload};
use crate::http::api::error::ApiError;
use crate::http::api::extract::{ApiQuery, Caller};
use crate::http::state::AppState;

/// `POST /upload` (merged into the upload router with its large body limit).
pub fn upload_router() -> Router<AppState> {
    Router::new().route("/upload", post(upload_form))
}

/// `/upload`.
#[derive(Template)]
#[template(path = "upload.html")]
pub struct UploadPage {
    chrome: Chrome,
    genres: Vec<String>,
    max_mb: u64,
    max_seconds: String,
    error: Option<String>,
    season_open: bool,
}

fn upload_page_for(state: &AppState, caller: &Caller, error: Option<String>) -> UploadPage {
    UploadPage {
        chrome: Chrome::new(state, caller),
        genres: state.config.genres.clone(),
        max_mb: state.config.media.max_upload_mb,
        max_seconds: format!("{:.1}", f64::from(state.config.media.max_duration_ms) / 1000.0),
        error,
        season_open: state.read_model.read(|model| model.season.is_some()),
    }
}

/// `GET /upload`.
pub async fn upload_page(State(state): State<AppState>, caller: Caller) -> Response {
    if caller.user.is_none() {
        return Redirect::to("/login").into_response();
    }
    render(&upload_page_for(&state, &caller, None), StatusCode::OK)
}

/// `POST /upload`: the no-JavaScript multipart form.
pub async fn upload_form(
    State(state): State<AppState>,
    caller: Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let Some(user) = caller.user.clone() else { return Redirect::to("/login").into_response() };
    let Ok(multipart) = multipart else {
        let page = upload_page_for(&state, &caller, Some("Choose a video file to upload.".into()));
        return render(&page, StatusCode::BAD_REQUEST);
    };
    match store_upload(&state, &user, multipart).await {
        Ok(_) => Redirect::to("/profile?uploaded=1").into_response(),
        Err(error) => {
            let status = match error.code() {
                "payload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
                "unsupported_media_type" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "internal" => StatusCode::INTERNAL_SERVER_ERROR,
                "conflict" => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            render(&upload_page_for(&state, &caller, Some(error.message().to_owned())), status)
        }
    }
}

/// A clip on the creator's profile.
pub struct MyClip {
    card: ClipCard,
    status: &'static str,
    reason: String,
}

/// `/profile`.
#[derive(Template)]
#[template(path = "profile.html")]
pub struct ProfilePage {
    chrome: Chrome,
    clips: Vec<MyClip>,
    uploaded: bool,
    profile: crate::http::api::profile::ProfileView,
    avatar: String,
}

/// Query of `/profile`.
#[derive(Debug, Deserialize)]
pub struct ProfileQuery {
    uploaded: Option<String>,
}

/// `GET /profile`: my clips and their fate.
pub async fn profile_page(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ProfileQuery>,
) -> Result<Response, ApiError> {
    let Some(user) = caller.user.clone() else { return Ok(Redirect::to("/login").into_response()) };
    let data = crate::http::api::profile::load_own_profile(&state, user.user).await?;
    let (clips, _) = state.read_store(move |store| store.clips_of_user(user.user, 50, 0)).await?;
    let open_season = state.read_model.read(|model| model.season.as_ref().map(|s| s.id.get()));
    let clips = clips
        .iter()
        .map(|counted| MyClip {
            card: ClipCard::from(counted),
            status: creator_status(counted, open_season),
            reason: counted.clip.rejection_reason.clone(),
        })
        .collect();
    let page = ProfilePage {
        chrome: Chrome::new(&state, &caller),
        clips,
        uploaded: query.uploaded.is_some(),
        profile: crate::http::api::profile::ProfileView::new(
            &data,
            crate::domain::clock::Timestamp::now().utc_day(),
            true,
            state.leaderboards.voter_rank(data.user.id.get()),
        ),
        avatar: super::profile_pages::identicon_svg(data.user.id.get(), 72),
    };
    Ok(render(&page, StatusCode::OK))
}

/// `/search`.
#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchPage {
    chrome: Chrome,
    query: String,
    genre: String,
    genres: Vec<String>,
    results: Vec<ClipCard>,
    error: Option<String>,
    next_offset: Option<usize>,
}

/// Query of `/search`.
#[derive(Debug, Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    genre: Option<String>,
    offset: Option<usize>,
}

/// `GET /search`.
pub async fn search_page(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Response {
    let query = params.q.unwrap_or_default();
    let genre = params.genre.unwrap_or_default();
    let offset = params.offset.unwrap_or(0).min(crate::search::MAX_OFFSET);
    let genre_filter = Some(genre.as_str()).filter(|g| !g.is_empty());
    let (results, error, next_offset) = match run_search(&state, &query, genre_filter, 20, offset).await {
        Ok((clips, has_more)) => (clips.iter().map(ClipCard::from).collect(), None, has_more.then_some(offset + 20)),
        Err(error) => (Vec::new(), Some(error.message().to_owned()), None),
    };
    let page = SearchPage {
        chrome: Chrome::new(&state, &caller),
        query,
        genre,
        genres: state.config.genres.clone(),
        results,
        error,
        next_offset,
    };
    render(&page, StatusCode::OK)
}
