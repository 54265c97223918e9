//! Use cases shared by every caller: the JSON API, the HTML pages, the admin
//! socket and the CLI call the same functions here, so a rule checked here
//! (or in the writer below) holds for all of them. Services take typed input
//! (`VoterKey`, `UserId`, ids and enums parsed once at the edge), return a
//! [`ServiceError`] and know nothing of HTTP.
//!
//! [`Services`] is the context they run in: storage, the writer, the
//! engines (read model, media, search, live hub, leaderboards…) and the
//! in-memory registries, built once by `app::App::build`.

pub mod accounts;
pub mod captcha;
pub mod comments;
pub mod error;
pub mod genres;
pub mod leaderboards;
pub mod moderation;
pub mod notifications;
pub mod profiles;
pub mod search;
pub mod story;
pub mod tally;
pub mod uploads;
pub mod voting;

use std::ops::Deref;
use std::sync::Arc;

pub use error::{ErrorKind, ServiceError};

use crate::captcha::Captcha;
use crate::config::Config;
use crate::domain::clock::Clock;
use crate::leaderboard::LeaderboardService;
use crate::live::LiveHub;
use crate::media::MediaLibrary;
use crate::metrics::Metrics;
use crate::readmodel::ReadModel;
use crate::search::SearchIndex;
use crate::sessions::SessionRegistry;
use crate::store::writer::WriterHandle;
use crate::store::{Store, StoreError};
use crate::unread::UnreadBadges;
use crate::views::ViewTracker;
use accounts::LoginThrottle;
use uploads::UploadLimits;

/// The services' shared context. Cloning is cheap (one `Arc`).
#[derive(Clone)]
pub struct Services(Arc<Context>);

impl Services {
    /// Wraps a context built at start.
    pub fn new(context: Context) -> Services {
        Services(Arc::new(context))
    }

    /// Runs a storage read on the blocking pool (redb reads may touch disk),
    /// turning storage and join failures into an internal error.
    pub async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || read(&store)).await??)
    }
}

/// A page of a list: `limit` items (1 to [`Page::MAX_LIMIT`], default
/// [`Page::DEFAULT_LIMIT`]) after skipping `offset`. Every list a service
/// serves is bounded this way; some also cap the offset (skipping costs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Items on the page.
    pub limit: usize,
    /// Items skipped before it.
    pub offset: usize,
}

impl Page {
    /// The largest page.
    pub const MAX_LIMIT: usize = 100;
    /// The page size when none is asked for.
    pub const DEFAULT_LIMIT: usize = 20;

    /// Checks raw numbers from a query string.
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Result<Page, ServiceError> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT as i64);
        if !(1..=Self::MAX_LIMIT as i64).contains(&limit) {
            return Err(ServiceError::invalid(format!("limit must be between 1 and {}", Self::MAX_LIMIT)));
        }
        let offset = offset.unwrap_or(0);
        if offset < 0 {
            return Err(ServiceError::invalid("offset must not be negative"));
        }
        Ok(Page { limit: limit as usize, offset: offset as usize })
    }

    /// The same page, refused when its offset passes `max` (skipping costs
    /// one step per item).
    pub fn with_max_offset(self, max: usize) -> Result<Page, ServiceError> {
        if self.offset > max {
            return Err(ServiceError::invalid(format!("offset must be at most {max}")));
        }
        Ok(self)
    }
}

impl Deref for Services {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.0
    }
}

/// Everything the services use, built once at start.
pub struct Context {
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
    /// "Now", as the writer dates votes (a moved clock in tests).
    pub clock: Clock,
    /// Live sessions, in memory: authenticated requests read no storage.
    pub sessions: Arc<SessionRegistry>,
    /// The proof-of-work captcha and the passes it granted.
    pub captcha: Arc<Captcha>,
    /// Per-account sign-in back-off after repeated failures.
    pub login_throttle: LoginThrottle,
    /// The clip search index (written only by the indexer thread).
    pub search: Arc<SearchIndex>,
    /// Views shown per voter and pending view counts.
    pub views: Arc<ViewTracker>,
    /// Server-Sent Events fan-out.
    pub live: Arc<LiveHub>,
    /// Limits and tools for uploads.
    pub upload_limits: UploadLimits,
    /// Request, vote and background-task figures for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Top clips, creators and voters, kept current by committed votes.
    pub leaderboards: Arc<LeaderboardService>,
    /// Unread-notification counts for the navigation badge.
    pub unread: Arc<UnreadBadges>,
}
