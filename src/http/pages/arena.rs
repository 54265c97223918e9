//! Page handlers and their template structs, one struct per page.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::Chrome;
use super::render;
use crate::domain::feed::MAX_FEED_LIMIT;
use crate::domain::ids::ClipId;
use crate::domain::tournament::SlotStatus;
use crate::domain::vote::VoteType;
use crate::http::api::error::ApiError;
use crate::http::api::extract::{ApiQuery, Caller};
use crate::http::state::AppState;
use crate::store::CountedClip;
use crate::voting;

/// A clip as the pages show it.
pub struct ClipCard {
    pub(super) id: u64,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) genre: String,
    pub(super) creator: String,
    pub(super) video_url: String,
    pub(super) poster_url: String,
    pub(super) vote_count: u64,
}

impl From<&CountedClip> for ClipCard {
    fn from(counted: &CountedClip) -> Self {
        ClipCard {
            id: counted.clip.id.get(),
            title: counted.clip.title.clone(),
            description: counted.clip.description.clone(),
            genre: counted.clip.genre.clone(),
            creator: counted.clip.creator_username.clone(),
            video_url: format!("/media/{}", counted.clip.video_path),
            poster_url: format!("/media/{}", counted.clip.poster_path),
            vote_count: counted.counter.vote_count,
        }
    }
}

/// `/`: the vote arena.
#[derive(Template)]
#[template(path = "arena.html")]
pub struct ArenaPage {
    chrome: Chrome,
    season_title: Option<String>,
    slot_position: u32,
    total_slots: u32,
    voting_open: bool,
    voting_ends_at: String,
    voting_ends_text: String,
    clip: Option<ClipCard>,
    voted: bool,
    next_clip_id: Option<u64>,
    clip_number: usize,
    total_clips: usize,
    remaining_standard: u32,
    notice: Option<String>,
    error: Option<String>,
}

/// Query of `/`.
#[derive(Debug, Deserialize)]
pub struct ArenaQuery {
    clip: Option<String>,
    voted: Option<String>,
    error: Option<String>,
}

/// `GET /`.
pub async fn arena(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ArenaQuery>,
) -> Result<Response, ApiError> {
    let voter = caller.voter_key(&state);
    let feed = voting::load_feed(&state, &voter, MAX_FEED_LIMIT, &[]).await?;
    // Upload order gives the no-JavaScript "next" link a stable sequence.
    let order: Vec<ClipId> = state.read_model.read(|model| model.open_clips.iter().map(|c| c.clip.id).collect());
    let requested = query.clip.as_deref().and_then(|raw| raw.parse::<ClipId>().ok());
    let current = match requested.and_then(|id| state.read_model.read(|model| model.open_clip(id).cloned())) {
        Some(clip) => Some(clip),
        None => feed.clips.first().cloned(),
    };
    let position = current.as_ref().and_then(|c| order.iter().position(|id| *id == c.clip.id));
    let next_clip_id = match position {
        Some(index) if order.len() > 1 => order.get((index + 1) % order.len()).map(|id| id.get()),
        _ => None,
    };
    let voted = current.as_ref().is_some_and(|c| feed.voter.voted_clips.contains(&c.clip.id));
    let slot = feed.slot.as_ref();
    let page = ArenaPage {
        chrome: Chrome::new(&state, &caller),
        season_title: feed.season.as_ref().map(|s| s.title.clone()),
        slot_position: slot.map(|s| s.position.get()).unwrap_or(0),
        total_slots: feed.season.as_ref().map(|s| s.total_slots).unwrap_or(0),
        voting_open: slot.is_some_and(|s| s.status == SlotStatus::Voting),
        voting_ends_at: slot.and_then(|s| s.voting_ends_at).map(|t| t.to_rfc3339()).unwrap_or_default(),
        voting_ends_text: slot.and_then(|s| s.voting_ends_at).map(|t| t.to_display()).unwrap_or_default(),
        clip: current.as_ref().map(ClipCard::from),
        voted,
        next_clip_id,
        clip_number: position.map(|p| p + 1).unwrap_or(0),
        total_clips: order.len(),
        remaining_standard: feed.remaining.standard,
        notice: query.voted.is_some().then(|| "Your vote counted.".to_owned()),
        error: query.error.as_deref().map(error_text),
    };
    Ok(render(&page, StatusCode::OK))
}

/// Words for an error code passed back to the arena after a form post.
fn error_text(code: &str) -> String {
    match code {
        "already_voted" => "You already voted for this clip.",
        "daily_limit_reached" => "You have used all of today's votes.",
        "slot_closed" => "Voting for this slot has closed.",
        "not_votable" => "This clip is not open for voting.",
        "unavailable" => "The server is busy. Please try again.",
        _ => "Your vote could not be counted.",
    }
    .to_owned()
}

/// Body of the no-JavaScript vote form.
#[derive(Debug, Deserialize)]
pub struct VoteForm {
    clip_id: String,
    vote_type: Option<String>,
    csrf: Option<String>,
}

/// `POST /vote`: the form fallback for voting; redirects back to the arena.
pub async fn vote_form(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<VoteForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return ApiError::invalid("the vote form was incomplete").into_response();
    };
    if !super::form_token_ok(&state, &caller, form.csrf.as_deref()) {
        return ApiError::csrf_failed().into_response();
    }
    let Ok(clip) = form.clip_id.parse::<ClipId>() else {
        return ApiError::invalid("clip_id must be a positive integer").into_response();
    };
    let vote_type = form.vote_type.as_deref().and_then(VoteType::parse).unwrap_or(VoteType::Standard);
    let target = match voting::cast(&state, &caller, clip, vote_type).await {
        Ok(_) => format!("/?clip={clip}&voted=1"),
        Err(error) => format!("/?clip={clip}&error={}", error.code()),
    };
    Redirect::to(&target).into_response()
}

/// A slot as the story page shows it.
pub struct SlotCard {
    position: u32,
    status: &'static str,
    winner: Option<ClipCard>,
}

/// `/story`: the film so far.
#[derive(Template)]
#[template(path = "story.html")]
pub struct StoryPage {
    chrome: Chrome,
    season_title: Option<String>,
    season_description: String,
    genre: String,
    locked_count: usize,
    slots: Vec<SlotCard>,
}

/// `GET /story`.
pub async fn story(State(state): State<AppState>, caller: Caller) -> Response {
    let page = state.read_model.read(|model| StoryPage {
        chrome: Chrome::new(&state, &caller),
        season_title: model.season.as_ref().map(|s| s.title.clone()),
        season_description: model.season.as_ref().map(|s| s.description.clone()).unwrap_or_default(),
        genre: model.season.as_ref().map(|s| s.genre.clone()).unwrap_or_default(),
        locked_count: model.winners.len(),
        slots: model
            .slots
            .iter()
            .map(|slot| SlotCard {
                position: slot.position.get(),
                status: slot.status.as_str(),
                winner: model.winners.get(&slot.position.get()).map(ClipCard::from),
            })
            .collect(),
    });
    render(&page, StatusCode::OK)
}

/// The page for unknown paths.
#[derive(Template)]
#[template(path = "not_found.html")]
pub struct NotFoundPage {
    chrome: Chrome,
}

/// Fallback for unknown pages.
pub async fn not_found(State(state): State<AppState>, caller: Caller) -> Response {
    let page = NotFoundPage { chrome: Chrome::new(&state, &caller) };
    render(&page, StatusCode::NOT_FOUND)
}
