//! The state every handler receives: `AppState`, one `Arc` around the
//! services (`service::Services`) and what only HTTP needs. Built once by
//! `app::App::build`; cloning it is cheap.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::extract::FromRef;

use crate::http::pages::assets::Assets;
use crate::ratelimit::RateLimiter;
use crate::service::Services;

/// Shared state of the running app.
#[derive(Clone)]
pub struct AppState(Arc<AppContext>);

impl AppState {
    /// Wraps what `App::build` made.
    pub fn new(context: AppContext) -> AppState {
        AppState(Arc::new(context))
    }
}

impl Deref for AppState {
    type Target = AppContext;

    fn deref(&self) -> &AppContext {
        &self.0
    }
}

/// Handlers that need only the services take `State<Services>`.
impl FromRef<AppState> for Services {
    fn from_ref(state: &AppState) -> Services {
        state.services.clone()
    }
}

/// The services and the HTTP-only parts.
pub struct AppContext {
    /// What every use case runs on.
    pub services: Services,
    /// Static CSS and JS with their cache-busting names.
    pub assets: Assets,
    /// Key for per-session form tokens and the console's message tags.
    pub form_token_key: [u8; 32],
    /// Key for anonymous voter fingerprints (address + User-Agent).
    pub voter_key: [u8; 32],
    /// Per-client, per-route-class request limits.
    pub rate_limiter: Arc<RateLimiter>,
    /// Drawn at start and put in every shared ETag, so a restart never
    /// reuses a tag.
    pub etag_epoch: u64,
    /// Committed batches whose events every in-memory reader (read model,
    /// leaderboards, sessions, media access…) has applied: the version of
    /// what a page can show, counted last by the commit listener.
    pub applied_batches: Arc<AtomicU64>,
}
