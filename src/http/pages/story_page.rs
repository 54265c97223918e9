//! `/story`: the film being made, the open scene and its live top five
//! first, then the scenes already decided (newest first) and the ones to
//! come (collapsed), with "Play the story so far" leading to the film
//! player. The page is the same for every visitor.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::arena::{ClipCard, TallyCard};
use super::format::{Moment, plural};
use super::{Chrome, media_urls, render};
use crate::domain::tournament::SlotStatus;
use crate::http::extract::Caller;
use crate::http::state::AppState;
use crate::service::story;

/// Clips in the open scene's top list.
const TOP_CLIPS: usize = 5;

/// A decided scene.
pub struct Winner {
    position: u32,
    clip: ClipCard,
    tally: Option<TallyCard>,
}

/// The scene being voted on now.
pub struct OpenScene {
    position: u32,
    voting: bool,
    ends: Option<Moment>,
    clip_count: String,
    top: Vec<ClipCard>,
}

/// `/story`.
#[derive(Template)]
#[template(path = "story.html")]
pub struct StoryPage {
    chrome: Chrome,
    season_id: u64,
    season_title: Option<String>,
    season_description: String,
    genre: String,
    locked_count: usize,
    total_slots: usize,
    progress: String,
    open: Option<OpenScene>,
    winners: Vec<Winner>,
    upcoming: Vec<u32>,
    /// Checks this browser's vote receipts against the published tallies.
    tally_js_url: String,
}

/// `GET /story`: from memory only.
pub async fn story(State(state): State<AppState>, caller: Caller) -> Response {
    let story = story::story(&state.services);
    let season = story.season.as_ref();
    let open_slot = story
        .slots
        .iter()
        .map(|(slot, _)| slot)
        .find(|slot| matches!(slot.status, SlotStatus::Voting | SlotStatus::WaitingForClips));
    let open = open_slot.map(|slot| {
        let clips = state.services.read_model.read(|model| model.open_clips.len());
        OpenScene {
            position: slot.position.get(),
            voting: slot.status == SlotStatus::Voting,
            ends: slot.voting_ends_at.filter(|_| slot.status == SlotStatus::Voting).map(Moment::of),
            clip_count: plural(clips as u64, "clip competes", "clips compete"),
            top: story::open_top(&state.services, TOP_CLIPS)
                .iter()
                .map(|clip| ClipCard::new(clip, media_urls(&state)))
                .collect(),
        }
    });
    let mut winners: Vec<Winner> = story
        .slots
        .iter()
        .filter_map(|(slot, winner)| {
            winner.as_ref().map(|clip| Winner {
                position: slot.position.get(),
                clip: ClipCard::new(clip, media_urls(&state)),
                tally: story.tallies.get(&slot.position.get()).map(TallyCard::from),
            })
        })
        .collect();
    winners.reverse();
    let upcoming = story
        .slots
        .iter()
        .filter(|(slot, winner)| winner.is_none() && Some(slot.position) != open_slot.map(|open| open.position))
        .map(|(slot, _)| slot.position.get())
        .collect();
    let (locked, total) = (story.locked(), story.slots.len());
    let page = StoryPage {
        chrome: Chrome::new(&state, &caller),
        season_id: season.map(|s| s.id.get()).unwrap_or(0),
        season_title: season.map(|s| s.title.clone()),
        season_description: season.map(|s| s.description.clone()).unwrap_or_default(),
        genre: season.map(|s| s.genre.clone()).unwrap_or_default(),
        locked_count: locked,
        total_slots: total,
        progress: format!("{locked} of {} locked", plural(total as u64, "scene", "scenes")),
        open,
        winners,
        upcoming,
        tally_js_url: state.assets.tally_js_url().to_owned(),
    };
    render(&page, StatusCode::OK)
}
