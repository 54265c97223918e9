//! Watching the film: `/watch` (the library of finished seasons), the film
//! player, and `/genres` (the vote on the next season's genre).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::arena::TallyCard;
use super::format::plural;
use super::{Chrome, media_urls, render};
use crate::domain::ids::SeasonId;
use crate::http::extract::{ApiQuery, Caller, PageForm, SignedForm};
use crate::http::state::AppState;
use crate::service::{ServiceError, genres, story, tally};

/// A finished film in the library.
pub struct FilmCard {
    id: u64,
    title: String,
    genre: String,
    cover_url: Option<String>,
    clip_count: usize,
    runtime: String,
}

/// `/watch`.
#[derive(Template)]
#[template(path = "watch.html")]
pub struct WatchPage {
    chrome: Chrome,
    films: Vec<FilmCard>,
}

fn runtime(total_ms: u64) -> String {
    let secs = total_ms / 1000;
    format!("{}:{:02}", secs / 60, secs % 60)
}

/// `GET /watch`: finished and archived seasons, newest first.
pub async fn watch_page(State(state): State<AppState>, caller: Caller) -> Result<Response, ServiceError> {
    let films = story::library(&state.services)
        .await?
        .into_iter()
        .map(|film| FilmCard {
            id: film.season.id.get(),
            title: film.season.title.clone(),
            genre: film.season.genre.clone(),
            cover_url: film.scenes.first().map(|(_, clip)| media_urls(&state).clip(clip).1),
            clip_count: film.scenes.len(),
            runtime: runtime(film.runtime_ms()),
        })
        .collect();
    let page = WatchPage { chrome: Chrome::new(&state, &caller), films };
    Ok(render(&page, StatusCode::OK))
}

/// One clip of the film.
pub struct Scene {
    position: u32,
    title: String,
    creator: String,
    video_url: String,
    poster_url: String,
    tally: Option<TallyCard>,
}

/// `/watch/{season}`: the film player.
#[derive(Template)]
#[template(path = "film.html")]
pub struct FilmPage {
    chrome: Chrome,
    season_id: u64,
    title: String,
    genre: String,
    description: String,
    /// The sharing tags' one-line description.
    summary: String,
    scenes: Vec<Scene>,
    current: usize,
    runtime: String,
}

/// Query of the player: which scene to show without JavaScript.
#[derive(Debug, Deserialize)]
pub struct FilmQuery {
    scene: Option<usize>,
}

/// `GET /watch/{season}`: every locked clip in slot order, played as one film.
pub async fn film_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ApiQuery(query): ApiQuery<FilmQuery>,
) -> Result<Response, ServiceError> {
    let id: SeasonId = raw.parse().map_err(|_| ServiceError::not_found("no such film"))?;
    let film = story::film(&state.services, id).await?;
    let tallies = tally::heads(&state.services, id).await?;
    let total = film.runtime_ms();
    let scenes: Vec<Scene> = film
        .scenes
        .iter()
        .map(|(slot, clip)| Scene {
            position: slot.position.get(),
            title: clip.title.clone(),
            creator: clip.creator_username.clone(),
            video_url: media_urls(&state).clip(clip).0,
            poster_url: media_urls(&state).clip(clip).1,
            tally: tallies.iter().find(|tally| tally.position == slot.position).map(TallyCard::from),
        })
        .collect();
    let current = query.scene.unwrap_or(0).min(scenes.len().saturating_sub(1));
    let season = film.season;
    let runtime = runtime(total);
    let summary = if season.description.is_empty() {
        format!(
            "{} · {} · {}, made one 8-second clip at a time.",
            season.genre,
            runtime,
            plural(scenes.len() as u64, "scene", "scenes")
        )
    } else {
        season.description.clone()
    };
    let page = FilmPage {
        chrome: Chrome::new(&state, &caller),
        season_id: id.get(),
        title: season.title,
        genre: season.genre,
        description: season.description,
        summary,
        scenes,
        current,
        runtime,
    };
    Ok(render(&page, StatusCode::OK))
}

/// A genre's share of the vote.
pub struct GenreBar {
    genre: String,
    votes: u64,
    percent: u64,
    mine: bool,
}

/// `/genres`.
#[derive(Template)]
#[template(path = "genres.html")]
pub struct GenresPage {
    chrome: Chrome,
    open: bool,
    bars: Vec<GenreBar>,
    total: u64,
    /// Just voted (`?voted=1`, where the form sends the browser back to).
    voted: bool,
}

/// The query of `GET /genres`.
#[derive(Debug, Deserialize)]
pub struct GenresQuery {
    /// Present after a vote from the form.
    voted: Option<String>,
}

/// `GET /genres`: the vote on the next season's genre, with live percentages.
///
/// Only a signed-in visitor's pick is marked: the anonymous page is the same
/// for everyone, so a shared cache may keep it (`public_cache`); an
/// anonymous vote is confirmed by the page it redirects to instead.
pub async fn genres_page(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<GenresQuery>,
) -> Result<Response, ServiceError> {
    let ballot = genres::ballot(&state.services, &caller.voter_key(&state)).await?;
    let mine = if caller.user.is_some() { ballot.mine.as_deref() } else { None };
    let total = ballot.total();
    let bars = ballot
        .genres
        .iter()
        .map(|genre| {
            let votes = ballot.votes_for(genre);
            GenreBar {
                genre: genre.clone(),
                votes,
                percent: genres::whole_percent(votes, total),
                mine: mine == Some(genre.as_str()),
            }
        })
        .collect();
    let voted = query.voted.is_some();
    let page = GenresPage { chrome: Chrome::new(&state, &caller), open: ballot.open, bars, total, voted };
    Ok(render(&page, StatusCode::OK))
}

/// Body of the genre form.
#[derive(Debug, Deserialize)]
pub struct GenreForm {
    genre: String,
}

impl PageForm for GenreForm {
    const UNREADABLE: &'static str = "choose a genre";
}

/// `POST /genres`.
pub async fn genre_form(
    State(state): State<AppState>,
    caller: Caller,
    SignedForm(form): SignedForm<GenreForm>,
) -> Response {
    let genre = match genres::parse(&state.services, &form.genre) {
        Ok(genre) => genre,
        Err(error) => return error.into_response(),
    };
    match genres::vote(&state.services, &caller.voter_key(&state), genre).await {
        Ok(()) => Redirect::to("/genres?voted=1").into_response(),
        Err(error) => error.into_response(),
    }
}
