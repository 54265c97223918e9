//! (being written) The admin console.

use axum::Router;

use crate::app::AppState;

/// Routes under `/admin`.
pub fn router() -> Router<AppState> {
    Router::new()
}
