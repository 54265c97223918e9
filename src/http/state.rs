//! The state every handler receives: `AppState`, one `Arc` around what the
//! app built at start. Cloning it is cheap.

use std::ops::Deref;
use std::sync::Arc;

use crate::accounts::LoginThrottle;
use crate::captcha::Captcha;
use crate::config::Config;
use crate::http::api::error::ApiError;
use crate::http::pages::assets::Assets;
use crate::leaderboard::LeaderboardService;
use crate::live::LiveHub;
use crate::media::MediaLibrary;
use crate::media::upload::UploadLimits;
use crate::ratelimit::RateLimiter;
use crate::readmodel::ReadModel;
use crate::search::SearchIndex;
use crate::sessions::SessionRegistry;
use crate::store::Store;
use crate::store::writer::WriterHandle;
use crate::unread::UnreadBadges;
use crate::views::ViewTracker;

/// Shared state of the running app. Cloning is cheap.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<AppContext>);

impl Deref for AppState {
    type Target = AppContext;

    fn deref(&self) -> &AppContext {
        &self.0
    }
}

/// Everything handlers need, built once at start.
pub struct AppContext {
    /// The checked configuration.
    pub config: Config,
    /// Read access to storage (writes go through `writer`).
    pub store: Store,
    /// The single writer's command queue.
    pub writer: WriterHandle,
    /// Hot state kept in memory, updated after each commit.
    pub read_model: Arc<ReadModel>,
    /// Media files and their in-memory cache.
    pub media: Arc<MediaLibrary>,
    /// Key for anonymous voter fingerprints, derived from the server secret.
    pub voter_key: [u8; 32],
    /// Static CSS and JS with their cache-busting names.
    pub assets: Assets,
    /// Live sessions, in memory: authenticated requests read no storage.
    pub sessions: Arc<SessionRegistry>,
    /// Per-client, per-route-class request limits.
    pub rate_limiter: Arc<RateLimiter>,
    /// The proof-of-work captcha and the passes it granted.
    pub captcha: Arc<Captcha>,
    /// Per-account sign-in back-off after repeated failures.
    pub login_throttle: LoginThrottle,
    /// Key for per-session form tokens.
    pub form_token_key: [u8; 32],
    /// The clip search index (written only by the indexer thread).
    pub search: Arc<SearchIndex>,
    /// Views shown per voter and pending view counts.
    pub views: Arc<ViewTracker>,
    /// Server-Sent Events fan-out.
    pub live: Arc<LiveHub>,
    /// Limits and tools for uploads.
    pub upload_limits: UploadLimits,
    /// Request, vote and background-task figures for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Top clips, creators and voters, kept current by committed votes.
    pub leaderboards: Arc<LeaderboardService>,
    /// Unread-notification counts for the navigation badge.
    pub unread: Arc<UnreadBadges>,
}

impl AppState {
    /// Runs a storage read on the blocking pool (redb reads may touch disk),
    /// turning storage and join failures into the API's internal error.
    pub async fn read_store<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || read(&store)).await??)
    }
}
