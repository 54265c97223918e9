//! Page handlers and their template structs, one struct per page.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::Chrome;
use super::render;
use crate::domain::feed::MAX_FEED_LIMIT;
use crate::domain::ids::ClipId;
use crate::domain::tally::FrozenTally;
use crate::domain::tournament::SlotStatus;
use crate::domain::vote::VoteType;
use crate::http::extract::{ApiQuery, Caller, PageForm, SignedForm};
use crate::http::state::AppState;
use crate::service::{ServiceError, story, voting};
use crate::store::CountedClip;

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
) -> Result<Response, ServiceError> {
    let voter = caller.voter_key(&state);
    let feed = voting::load_feed(&state.services, &voter, MAX_FEED_LIMIT, &[]).await?;
    let requested = query.clip.as_deref().and_then(|raw| raw.parse::<ClipId>().ok());
    let arena = voting::arena_position(&state.services, &feed, requested);
    let current = arena.current.as_ref();
    let voted = current.is_some_and(|c| feed.voter.voted_clips.contains(&c.clip.id));
    let slot = feed.slot.as_ref();
    let page = ArenaPage {
        chrome: Chrome::new(&state, &caller),
        season_title: feed.season.as_ref().map(|s| s.title.clone()),
        slot_position: slot.map(|s| s.position.get()).unwrap_or(0),
        total_slots: feed.season.as_ref().map(|s| s.total_slots).unwrap_or(0),
        voting_open: slot.is_some_and(|s| s.status == SlotStatus::Voting),
        voting_ends_at: slot.and_then(|s| s.voting_ends_at).map(|t| t.to_rfc3339()).unwrap_or_default(),
        voting_ends_text: slot.and_then(|s| s.voting_ends_at).map(|t| t.to_display()).unwrap_or_default(),
        clip: current.map(ClipCard::from),
        voted,
        next_clip_id: arena.next.map(|id| id.get()),
        clip_number: arena.index.map(|index| index + 1).unwrap_or(0),
        total_clips: arena.total,
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
}

impl PageForm for VoteForm {
    const UNREADABLE: &'static str = "the vote form was incomplete";
}

/// `POST /vote`: the form fallback for voting; redirects back to the arena.
pub async fn vote_form(
    State(state): State<AppState>,
    caller: Caller,
    SignedForm(form): SignedForm<VoteForm>,
) -> Response {
    let Ok(clip) = form.clip_id.parse::<ClipId>() else {
        return ServiceError::invalid("clip_id must be a positive integer").into_response();
    };
    let vote_type = form.vote_type.as_deref().and_then(VoteType::parse).unwrap_or(VoteType::Standard);
    let voter = caller.voter_key(&state);
    let target = match voting::cast(&state.services, &voter, caller.network(), clip, vote_type).await {
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
    tally: Option<TallyCard>,
}

/// A locked slot's published tally as the story and film pages show it
/// (issue #15): its size and root, with a "verify" link to the lines.
pub struct TallyCard {
    pub(super) season: u64,
    pub(super) position: u32,
    pub(super) votes: u64,
    pub(super) root: String,
    pub(super) url: String,
}

impl TallyCard {
    /// The root's first 12 hex digits, enough to compare by eye.
    pub(super) fn root_short(&self) -> &str {
        self.root.get(..12).unwrap_or(&self.root)
    }
}

impl From<&FrozenTally> for TallyCard {
    fn from(tally: &FrozenTally) -> Self {
        TallyCard {
            season: tally.season.get(),
            position: tally.position.get(),
            votes: tally.tree_size,
            root: tally.root.to_hex(),
            url: format!("/api/tally/{}/{}", tally.season, tally.position),
        }
    }
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
    /// Checks this browser's vote receipts against the published tallies.
    tally_js_url: String,
}

/// `GET /story`.
pub async fn story(State(state): State<AppState>, caller: Caller) -> Response {
    let story = story::story(&state.services);
    let season = story.season.as_ref();
    let page = StoryPage {
        chrome: Chrome::new(&state, &caller),
        season_title: season.map(|s| s.title.clone()),
        season_description: season.map(|s| s.description.clone()).unwrap_or_default(),
        genre: season.map(|s| s.genre.clone()).unwrap_or_default(),
        locked_count: story.locked(),
        slots: story
            .slots
            .iter()
            .map(|(slot, winner)| SlotCard {
                position: slot.position.get(),
                status: slot.status.as_str(),
                winner: winner.as_ref().map(ClipCard::from),
                tally: story.tallies.get(&slot.position.get()).map(TallyCard::from),
            })
            .collect(),
        tally_js_url: state.assets.tally_js_url().to_owned(),
    };
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
