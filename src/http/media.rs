//! `GET`/`HEAD /media/{*path}`: clip and poster files with Range and
//! conditional requests.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;

use crate::http::state::AppState;

/// `GET /media/{*path}` (and `HEAD`).
pub async fn serve_media(
    State(state): State<AppState>,
    Path(path): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    crate::media::respond(state.media.clone(), &path, &method, &headers).await
}
