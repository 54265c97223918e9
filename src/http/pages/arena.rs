//! `/`: the vote arena, one clip at a time in the fair feed's order, and
//! its no-JavaScript forms (`POST /vote`, `POST /vote/undo`), which answer
//! 303 back to the page they came from. Also the not-found page.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::format::{Moment, plural};
use super::vote_controls::{Standing, VoteControls};
use super::{Chrome, media_urls, render};
use crate::domain::ids::ClipId;
use crate::domain::tally::FrozenTally;
use crate::domain::tournament::SlotStatus;
use crate::domain::vote::VoteType;
use crate::http::extract::{ApiQuery, Caller, PageForm, SignedForm};
use crate::http::state::AppState;
use crate::media::urls::MediaUrls;
use crate::service::voting::{self, CountViews};
use crate::service::{ServiceError, story};
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

impl ClipCard {
    /// The card of `counted`, its media under `urls`.
    pub fn new(counted: &CountedClip, urls: MediaUrls<'_>) -> Self {
        let (video_url, poster_url) = urls.clip(&counted.clip);
        ClipCard {
            id: counted.clip.id.get(),
            title: counted.clip.title.clone(),
            description: counted.clip.description.clone(),
            genre: counted.clip.genre.clone(),
            creator: counted.clip.creator_username.clone(),
            video_url,
            poster_url,
            vote_count: counted.counter.vote_count,
        }
    }
}

/// Clips the arena asks the feed for: the one shown, the next, and a spare
/// in case the one asked for by link is among them.
const ARENA_FEED: usize = 3;

/// `/`: the vote arena.
#[derive(Template)]
#[template(path = "arena.html")]
pub struct ArenaPage {
    chrome: Chrome,
    season_title: String,
    slot_position: u32,
    total_slots: u32,
    voting_ends: Option<Moment>,
    clip: Option<ClipCard>,
    comment_count: u64,
    controls: VoteControls,
    budget: String,
    next_clip_id: Option<u64>,
    previous_clip_id: Option<u64>,
    total_clips: usize,
    notice: Option<String>,
    undo_clip_id: Option<u64>,
    error: Option<String>,
    empty_title: String,
    empty_text: String,
    empty_choices: Vec<(String, &'static str)>,
}

/// Query of `/`: a clip to show, the clip shown before it, and what a
/// no-JavaScript form post did.
#[derive(Debug, Deserialize)]
pub struct ArenaQuery {
    clip: Option<String>,
    prev: Option<String>,
    voted: Option<String>,
    kind: Option<String>,
    undone: Option<String>,
    error: Option<String>,
}

/// `GET /`: the clip asked for, or the fair feed's next one for this voter
/// (unvoted and unseen first); only the clip shown counts as viewed.
pub async fn arena(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ArenaQuery>,
) -> Result<Response, ServiceError> {
    let services = &state.services;
    let voter = caller.voter_key(&state);
    let parse = |raw: &Option<String>| raw.as_deref().and_then(|raw| raw.parse::<ClipId>().ok());
    let (requested, previous, just_voted) = (parse(&query.clip), parse(&query.prev), parse(&query.voted));
    // The clip just voted on and the one just left are not offered again
    // as "next", so the voter always moves on.
    let exclude: Vec<ClipId> = [just_voted, previous].into_iter().flatten().collect();
    let feed = voting::load_feed(services, &voter, ARENA_FEED, &exclude, CountViews::No).await?;
    let position = voting::arena_position(services, &feed, requested).await?;
    let current = position.current.as_ref();
    if let Some(shown) = current {
        voting::record_view(services, &voter, shown.clip.id);
    }
    let slot = feed.slot.as_ref();
    let open = slot.is_some_and(|s| s.status == SlotStatus::Voting);
    let voted = current.is_some_and(|c| feed.voter.voted_clips.contains(&c.clip.id));
    let standing =
        Standing { remaining: feed.remaining, voted, flags: feed.flags, signed_in: caller.user.is_some(), open };
    let controls = VoteControls::personal(current.map(|c| c.clip.id.get()).unwrap_or(0), "arena", &standing);
    let (notice, undo_clip_id) = arena_notice(&state, &query, just_voted);
    let (empty_title, empty_text, empty_choices) = empty_state(&state, &feed);
    let page = ArenaPage {
        chrome: Chrome::new(&state, &caller),
        season_title: feed.season.as_ref().map(|s| s.title.clone()).unwrap_or_default(),
        slot_position: slot.map(|s| s.position.get()).unwrap_or(0),
        total_slots: feed.season.as_ref().map(|s| s.total_slots).unwrap_or(0),
        voting_ends: slot.filter(|_| open).and_then(|s| s.voting_ends_at).map(Moment::of),
        clip: current.map(|clip| ClipCard::new(clip, media_urls(&state))),
        comment_count: position.current_comments,
        controls,
        budget: budget_line(&feed),
        next_clip_id: position.next.map(|id| id.get()),
        previous_clip_id: previous.filter(|id| Some(*id) != current.map(|c| c.clip.id)).map(|id| id.get()),
        total_clips: position.total,
        notice,
        undo_clip_id,
        error: query.error.as_deref().map(error_text),
        empty_title,
        empty_text,
        empty_choices,
    };
    Ok(render(&page, StatusCode::OK))
}

/// "12 votes left today · super ready · mega used": what this voter has.
fn budget_line(feed: &voting::Feed) -> String {
    let left = plural(u64::from(feed.remaining.standard), "vote", "votes");
    if !feed.flags.special_votes {
        return format!("{left} left today");
    }
    let special = |ready: u32| if ready > 0 { "ready" } else { "spent" };
    format!(
        "{left} left today · super {} · mega {}",
        special(feed.remaining.super_votes),
        special(feed.remaining.mega_votes)
    )
}

/// What the page says after a form post: the vote that counted (with an
/// undo for it), or the vote taken back.
fn arena_notice(state: &AppState, query: &ArenaQuery, just_voted: Option<ClipId>) -> (Option<String>, Option<u64>) {
    if let Some(clip) = just_voted {
        let kind = query.kind.as_deref().and_then(VoteType::parse).unwrap_or(VoteType::Standard);
        let what = match kind {
            VoteType::Standard => "Your vote",
            VoteType::Super => "Your super vote (×3)",
            VoteType::Mega => "Your mega vote (×10)",
        };
        let text = match voting::open_clip(&state.services, clip) {
            Some(counted) => format!("{what} for “{}” counted.", counted.clip.title),
            None => format!("{what} counted."),
        };
        return (Some(text), Some(clip.get()));
    }
    if query.undone.is_some() {
        return (Some("Your vote was taken back.".to_owned()), None);
    }
    (None, None)
}

/// Why there is nothing to vote on, and what to do instead.
fn empty_state(state: &AppState, feed: &voting::Feed) -> (String, String, Vec<(String, &'static str)>) {
    let Some(season) = &feed.season else {
        return (
            "No film is being made right now".to_owned(),
            "The next season starts soon. Meanwhile, watch the finished films or pick the next film's genre."
                .to_owned(),
            vec![("/genres".to_owned(), "Vote on the next genre"), ("/watch".to_owned(), "Watch finished films")],
        );
    };
    let story_link = ("/story".to_owned(), "Watch the story so far");
    let upload = ("/upload".to_owned(), "Upload a clip");
    match &feed.slot {
        Some(slot) if slot.status == SlotStatus::Voting => (
            format!("Scene {} is being decided", slot.position),
            "Voting for this scene has just closed and its winner is being locked in. The next scene opens in a moment."
                .to_owned(),
            vec![story_link, upload],
        ),
        Some(slot) => (
            format!("Scene {} is waiting for clips", slot.position),
            format!(
                "Voting opens as soon as a moderator approves clips for scene {} of “{}”. Yours could be one.",
                slot.position, season.title
            ),
            vec![upload, story_link],
        ),
        None => {
            let locked = story::story(&state.services).locked();
            (
                "Every scene is decided".to_owned(),
                format!("All {locked} scenes of “{}” are locked. The film is nearly done.", season.title),
                vec![story_link, ("/genres".to_owned(), "Vote on the next genre")],
            )
        }
    }
}

/// Words for an error code passed back to the arena after a form post.
pub(super) fn error_text(code: &str) -> String {
    match code {
        "already_voted" => "You already voted for this clip.",
        "daily_limit_reached" => "You have used all of today's votes.",
        "special_vote_used" => "That special vote is used up for this scene.",
        "slot_closed" => "Voting for this scene has closed.",
        "not_votable" => "This clip is not open for voting.",
        "not_found" => "You have no vote on this clip to take back.",
        "auth_required" => "Sign in to vote.",
        "captcha_required" => "Please vote with JavaScript on: a quick check that you are not a bot is needed.",
        "unavailable" => "The server is busy. Please try again.",
        _ => "Your vote could not be counted.",
    }
    .to_owned()
}

/// Body of the no-JavaScript vote and undo forms.
#[derive(Debug, Deserialize)]
pub struct VoteForm {
    clip_id: String,
    vote_type: Option<String>,
    /// `clip` when the form is on the clip page; the arena otherwise.
    back: Option<String>,
}

impl PageForm for VoteForm {
    const UNREADABLE: &'static str = "the vote form was incomplete";
}

impl VoteForm {
    /// The clip both vote forms name.
    fn clip(&self) -> Result<ClipId, ServiceError> {
        self.clip_id.parse().map_err(|_| ServiceError::invalid("clip_id must be a positive integer"))
    }
}

/// Where a vote form's 303 goes: back to the clip page it came from, or to
/// the arena (which moves on to another clip after a vote).
fn vote_redirect(form: &VoteForm, clip: ClipId, outcome: Result<&str, ServiceError>) -> Response {
    let target = match (form.back.as_deref() == Some("clip"), outcome) {
        (true, Ok(notice)) => format!("/clip/{clip}?notice={notice}"),
        (true, Err(error)) => format!("/clip/{clip}?error={}", error.code()),
        (false, Ok("undone")) => format!("/?clip={clip}&undone=1"),
        (false, Ok(kind)) => format!("/?voted={clip}&kind={kind}"),
        (false, Err(error)) => format!("/?clip={clip}&error={}", error.code()),
    };
    Redirect::to(&target).into_response()
}

/// `POST /vote` (`clip_id`, `vote_type` = `standard|super|mega`): casts a
/// vote; 303 back to the arena (or the clip page).
pub async fn vote_form(
    State(state): State<AppState>,
    caller: Caller,
    SignedForm(form): SignedForm<VoteForm>,
) -> Response {
    let clip = match form.clip() {
        Ok(clip) => clip,
        Err(error) => return error.into_response(),
    };
    let vote_type = match form.vote_type.as_deref().map(str::trim).filter(|raw| !raw.is_empty()) {
        None => VoteType::Standard,
        Some(raw) => match VoteType::parse(raw) {
            Some(kind) => kind,
            None => return ServiceError::invalid("vote_type must be standard, super or mega").into_response(),
        },
    };
    let voter = caller.voter_key(&state);
    let outcome = voting::cast(&state.services, &voter, caller.network(), clip, vote_type).await;
    vote_redirect(&form, clip, outcome.map(|_| vote_type.as_str()))
}

/// `POST /vote/undo` (`clip_id`): takes back this voter's latest vote on
/// the clip; 303 back to the arena (or the clip page).
pub async fn undo_form(
    State(state): State<AppState>,
    caller: Caller,
    SignedForm(form): SignedForm<VoteForm>,
) -> Response {
    let clip = match form.clip() {
        Ok(clip) => clip,
        Err(error) => return error.into_response(),
    };
    let outcome = voting::revoke(&state.services, &caller.voter_key(&state), clip).await;
    vote_redirect(&form, clip, outcome.map(|_| "undone"))
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
