//! Watching the film: `/watch` (the library of finished seasons), the film
//! player, and `/genres` (the vote on the next season's genre).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::render;
use super::{Chrome, form_token_ok};
use crate::domain::ids::SeasonId;
use crate::domain::tournament::SeasonStatus;
use crate::http::api::error::ApiError;
use crate::http::api::extract::{ApiQuery, Caller};
use crate::http::state::AppState;

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

/// Most films listed on the library page.
const LIBRARY_LIMIT: usize = 50;

/// `GET /watch`: finished and archived seasons, newest first.
pub async fn watch_page(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let films = tokio::task::spawn_blocking(move || -> Result<Vec<FilmCard>, ApiError> {
        let mut films = Vec::new();
        for season in store
            .seasons()?
            .into_iter()
            .filter(|s| matches!(s.status, SeasonStatus::Finished | SeasonStatus::Archived))
            .take(LIBRARY_LIMIT)
        {
            let Some((season, slots)) = store.season_film(season.id)? else { continue };
            let winners: Vec<_> = slots.iter().filter_map(|(_, winner)| winner.as_ref()).collect();
            films.push(FilmCard {
                id: season.id.get(),
                title: season.title.clone(),
                genre: season.genre.clone(),
                cover_url: winners.first().map(|clip| format!("/media/{}", clip.poster_path)),
                clip_count: winners.len(),
                runtime: runtime(winners.iter().map(|clip| u64::from(clip.duration_ms)).sum()),
            });
        }
        Ok(films)
    })
    .await??;
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
}

/// `/watch/{season}`: the film player.
#[derive(Template)]
#[template(path = "film.html")]
pub struct FilmPage {
    chrome: Chrome,
    title: String,
    genre: String,
    description: String,
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
) -> Result<Response, ApiError> {
    let id: SeasonId = raw.parse().map_err(|_| ApiError::not_found("no such film"))?;
    let film = state.read_store(move |store| store.season_film(id)).await?;
    let Some((season, slots)) = film else { return Err(ApiError::not_found("no such film")) };
    if season.status == SeasonStatus::Draft {
        return Err(ApiError::not_found("no such film"));
    }
    let scenes: Vec<Scene> = slots
        .iter()
        .filter_map(|(slot, winner)| {
            winner.as_ref().map(|clip| Scene {
                position: slot.position.get(),
                title: clip.title.clone(),
                creator: clip.creator_username.clone(),
                video_url: format!("/media/{}", clip.video_path),
                poster_url: format!("/media/{}", clip.poster_path),
            })
        })
        .collect();
    let total: u64 = slots.iter().filter_map(|(_, w)| w.as_ref()).map(|c| u64::from(c.duration_ms)).sum();
    let current = query.scene.unwrap_or(0).min(scenes.len().saturating_sub(1));
    let page = FilmPage {
        chrome: Chrome::new(&state, &caller),
        title: season.title,
        genre: season.genre,
        description: season.description,
        scenes,
        current,
        runtime: runtime(total),
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
}

/// `GET /genres`: the vote on the next season's genre, with live percentages.
pub async fn genres_page(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let voter = caller.voter_key(&state);
    let (tallies, mine) = state.read_store(move |store| store.genre_tallies(voter.as_str())).await?;
    let total: u64 = tallies.iter().map(|(_, n)| n).sum();
    let bars = state
        .config
        .genres
        .iter()
        .map(|genre| {
            let votes = tallies.iter().find(|(g, _)| g == genre).map(|(_, n)| *n).unwrap_or(0);
            GenreBar {
                genre: genre.clone(),
                votes,
                percent: (votes * 100 + total / 2).checked_div(total).unwrap_or(0),
                mine: mine.as_deref() == Some(genre.as_str()),
            }
        })
        .collect();
    let open = state.read_model.read(|model| model.season.is_none());
    let page = GenresPage { chrome: Chrome::new(&state, &caller), open, bars, total };
    Ok(render(&page, StatusCode::OK))
}

/// Body of the genre form.
#[derive(Debug, Deserialize)]
pub struct GenreForm {
    genre: String,
    csrf: Option<String>,
}

/// `POST /genres`.
pub async fn genre_form(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<GenreForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else { return ApiError::invalid("choose a genre").into_response() };
    if !form_token_ok(&state, &caller, form.csrf.as_deref()) {
        return ApiError::csrf_failed().into_response();
    }
    let genre = form.genre.trim().to_ascii_lowercase();
    if !state.config.genres.contains(&genre) {
        return ApiError::invalid("unknown genre").into_response();
    }
    let voter = caller.voter_key(&state);
    match state.writer.vote_genre(voter.as_str().to_owned(), genre).await {
        Ok(()) => Redirect::to("/genres").into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}
