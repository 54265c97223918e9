//! Creator pages: upload, my profile with my clips, and search.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::Chrome;
use super::arena::ClipCard;
use super::{media_urls, render};
use crate::http::error::status;
use crate::http::extract::{ApiQuery, Caller, MultipartRefusal, SignedMultipart};
use crate::http::state::AppState;
use crate::http::upload;
use crate::service::profiles::{self, Profile};
use crate::service::{Page, ServiceError, search, story};

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
    let config = &state.services.config;
    UploadPage {
        chrome: Chrome::new(state, caller),
        genres: config.genres.clone(),
        max_mb: config.media.max_upload_mb,
        max_seconds: format!("{:.1}", f64::from(config.media.max_duration_ms) / 1000.0),
        error,
        season_open: story::story(&state.services).season.is_some(),
    }
}

/// `GET /upload`.
pub async fn upload_page(State(state): State<AppState>, caller: Caller) -> Response {
    if caller.user.is_none() {
        return Redirect::to("/login").into_response();
    }
    render(&upload_page_for(&state, &caller, None), StatusCode::OK)
}

/// `POST /upload`: the no-JavaScript multipart form, signed with the
/// session's form token (its first part).
pub async fn upload_form(
    State(state): State<AppState>,
    caller: Caller,
    multipart: Result<SignedMultipart, MultipartRefusal>,
) -> Response {
    let multipart = match multipart {
        Ok(SignedMultipart(multipart)) => Some(multipart),
        Err(MultipartRefusal::Forged) => return MultipartRefusal::Forged.into_response(),
        Err(MultipartRefusal::NotMultipart) => None,
    };
    let Some(user) = caller.user.clone() else { return Redirect::to("/login").into_response() };
    let Some(multipart) = multipart else {
        let page = upload_page_for(&state, &caller, Some("Choose a video file to upload.".into()));
        return render(&page, StatusCode::BAD_REQUEST);
    };
    match upload::upload(&state.services, user.user, &user.username, multipart).await {
        Ok(_) => Redirect::to("/profile?uploaded=1").into_response(),
        Err(error) => {
            let page = upload_page_for(&state, &caller, Some(error.message().to_owned()));
            render(&page, status(error.kind()))
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
    profile: Profile,
    avatar: String,
}

/// Query of `/profile`.
#[derive(Debug, Deserialize)]
pub struct ProfileQuery {
    uploaded: Option<String>,
}

/// Clips listed on my profile page.
const MY_CLIPS: usize = 50;

/// `GET /profile`: my clips and their fate.
pub async fn profile_page(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ProfileQuery>,
) -> Result<Response, ServiceError> {
    let Some(user) = caller.user.clone() else { return Ok(Redirect::to("/login").into_response()) };
    let profile = profiles::own_profile(&state.services, user.user).await?;
    let (clips, _) = profiles::own_clips(&state.services, user.user, Page { limit: MY_CLIPS, offset: 0 }).await?;
    let clips = clips
        .iter()
        .map(|own| MyClip {
            card: ClipCard::new(&own.clip, media_urls(&state)),
            status: own.status.as_str(),
            reason: own.clip.clip.rejection_reason.clone(),
        })
        .collect();
    let page = ProfilePage {
        chrome: Chrome::new(&state, &caller),
        clips,
        uploaded: query.uploaded.is_some(),
        avatar: super::profile_pages::identicon_svg(profile.id, 72),
        profile,
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

/// Results per page of `/search`.
const RESULTS_PER_PAGE: usize = 20;

/// `GET /search`.
pub async fn search_page(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Response {
    let query = params.q.unwrap_or_default();
    let genre = params.genre.unwrap_or_default();
    let offset = params.offset.unwrap_or(0).min(crate::search::MAX_OFFSET);
    let page = Page { limit: RESULTS_PER_PAGE, offset };
    let (results, error, next_offset) = match search::search(&state.services, &query, Some(&genre), page).await {
        Ok(found) => (
            found.clips.iter().map(|clip| ClipCard::new(clip, media_urls(&state))).collect(),
            None,
            found.has_more.then_some(offset + RESULTS_PER_PAGE),
        ),
        Err(error) => (Vec::new(), Some(error.message().to_owned()), None),
    };
    let page = SearchPage {
        chrome: Chrome::new(&state, &caller),
        query,
        genre,
        genres: state.services.config.genres.clone(),
        results,
        error,
        next_offset,
    };
    render(&page, StatusCode::OK)
}
