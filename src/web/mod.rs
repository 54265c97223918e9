//! Server-rendered HTML pages (askama). Every core flow works without
//! JavaScript; `static/app.js` only makes it feel faster.

pub mod assets;
mod pages;

use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;

/// Page routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::arena))
        .route("/vote", post(pages::vote_form))
        .route("/story", get(pages::story))
        .route("/static/{name}", get(assets::serve_asset))
        .fallback(pages::not_found)
}
