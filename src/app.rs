//! The application: state built once, the router with its middleware, and
//! the shutdown order. Tests and the binary start the app the same way:
//! `App::build(config, options)`, then `run_until_stopped(signal)`.

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::accounts::LoginThrottle;
use crate::auth::ServerSecret;
use crate::captcha::Captcha;
use crate::config::Config;
use crate::demo;
use crate::domain::clock::Timestamp;
use crate::domain::ids::ClipId;
use crate::indexer::{self, IndexFeed, Indexer};
use crate::leaderboard::LeaderboardService;
use crate::live::{CountChange, LiveHub, SlotView};
use crate::media::MediaLibrary;
use crate::media::upload::{self, UploadLimits};
use crate::ratelimit::{self, RateLimitLayerState, RateLimiter};
use crate::readmodel::ReadModel;
use crate::search::SearchIndex;
use crate::sessions::SessionRegistry;
use crate::store::Store;
use crate::store::writer::CommittedEvent;
use crate::store::writer::{self, WriterHandle, WriterSettings, WriterThread};
use crate::unread::UnreadBadges;
use crate::views::ViewTracker;
use crate::web::assets::Assets;
use crate::{api, csrf, web};

/// Shared state of the running app. Cloning is cheap.
#[derive(Clone)]
pub struct AppState(Arc<AppContext>);

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
    ) -> Result<T, crate::api::error::ApiError> {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || read(&store)).await??)
    }
}

/// Choices made by the caller of `build` rather than by configuration.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Seed the demo season (once) before serving.
    pub demo: Option<demo::DemoOptions>,
    /// Replaces the wall clock of the writer and the leaderboards (tests move it).
    pub clock: Option<ClockOverride>,
}

/// A clock standing in for the wall clock.
#[derive(Clone)]
pub struct ClockOverride(pub crate::leaderboard::Clock);

impl std::fmt::Debug for ClockOverride {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClockOverride({})", (self.0)())
    }
}

/// A built app: listening, not yet serving.
pub struct App {
    listener: TcpListener,
    router: Router,
    state: AppState,
    writer_thread: WriterThread,
    indexer: Indexer,
    admin_socket: Option<tokio::task::JoinHandle<()>>,
}

/// Errors that stop the app from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data dir, secret, or listener failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error("cannot open the database: {0}")]
    Store(#[from] crate::store::StoreError),
    /// Seeding the demo failed.
    #[error("cannot seed the demo season: {0}")]
    Demo(String),
    /// The search index could not be opened or rebuilt.
    #[error("search index: {0}")]
    Search(String),
}

fn io_context(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StartError {
    let context = context.into();
    move |source| StartError::Io { context, source }
}

impl App {
    /// Opens storage, starts the writer, seeds the demo if asked, and binds
    /// the listener.
    pub async fn build(config: Config, options: BuildOptions) -> Result<App, StartError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(io_context(format!("cannot create data dir {}", config.data_dir.display())))?;
        let secret = load_or_create_secret(&config.data_dir)?;
        let db_path = config.database_path();
        let cache_bytes = config.storage.cache_mb * 1024 * 1024;
        let store = tokio::task::spawn_blocking(move || Store::open(&db_path, cache_bytes))
            .await
            .map_err(|join| StartError::Demo(join.to_string()))??;
        let read_model = Arc::new(ReadModel::load(store.clone())?);
        let sessions = Arc::new(SessionRegistry::load(&store, Timestamp::now())?);
        let clock: crate::leaderboard::Clock = match &options.clock {
            Some(ClockOverride(clock)) => clock.clone(),
            None => Arc::new(Timestamp::now),
        };
        let unread = Arc::new(UnreadBadges::load(&store)?);
        let settings = WriterSettings {
            batch_max: config.writer.batch_max,
            queue_capacity: config.writer.queue_capacity,
            daily_budget: config.votes.daily_budget,
            clock: clock.clone(),
        };
        let search_dir = config.search_dir();
        let index_store = store.clone();
        let (search, index_feed, indexer) =
            tokio::task::spawn_blocking(move || indexer::start(&search_dir, &index_store))
                .await
                .map_err(|join| StartError::Demo(join.to_string()))?
                .map_err(StartError::Search)?;
        // Rebuilt before the writer starts, so no commit falls between the
        // snapshot and the first event the listener applies.
        let (leaderboards, rebuilt) = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || LeaderboardService::load(&store, clock))
                .await
                .map_err(|join| StartError::Demo(join.to_string()))??
        };
        tracing::info!(
            ranked = rebuilt.ranked,
            recent_votes = rebuilt.recent_votes,
            votes_read = rebuilt.votes_read,
            duration_ms = rebuilt.millis as u64,
            "leaderboards rebuilt"
        );
        let leaderboards = Arc::new(leaderboards);
        let leaderboards_for_writer = leaderboards.clone();
        let live = Arc::new(LiveHub::new());
        let metrics = Arc::new(crate::metrics::Metrics::new(store.clip_change_sequence()?));
        live.load(read_model.read(SlotView::from_read_state));
        let (model_for_writer, sessions_for_writer, live_for_writer) =
            (read_model.clone(), sessions.clone(), live.clone());
        let metrics_for_writer = metrics.clone();
        let unread_for_writer = unread.clone();
        let listener: writer::CommitListener = Box::new(move |events| {
            model_for_writer.apply(events);
            unread_for_writer.apply(events);
            sessions_for_writer.apply(events);
            leaderboards_for_writer.apply(events);
            forward_committed(events, &index_feed, &live_for_writer, &model_for_writer);
            metrics_for_writer.observe_committed(events);
        });
        let (writer, writer_thread) =
            writer::start(&store, settings, listener).map_err(io_context("cannot start the writer thread"))?;
        let media = Arc::new(
            MediaLibrary::open(
                config.media_dir(),
                config.media.cache_mb * 1024 * 1024,
                config.media.max_cached_file_mb * 1024 * 1024,
            )
            .map_err(io_context("cannot open the media directory"))?,
        );
        match upload::clean_incoming(&media) {
            Ok(0) => {}
            Ok(removed) => tracing::info!(files = removed, "removed uploads left unfinished by a crash"),
            Err(error) => tracing::warn!(error = %error, "cannot clean unfinished uploads"),
        }
        let ffmpeg = match config.media.ffmpeg.as_str() {
            "off" => None,
            "" => upload::detect_ffmpeg(None),
            path => upload::detect_ffmpeg(Some(Path::new(path))),
        };
        tracing::info!(ffmpeg = ?ffmpeg, "poster extraction");
        let upload_limits = UploadLimits {
            max_bytes: config.media.max_upload_mb * 1024 * 1024,
            max_duration_ms: config.media.max_duration_ms,
            genres: config.genres.clone(),
            ffmpeg,
            ..UploadLimits::default()
        };
        if let Some(demo_options) = &options.demo {
            match demo::seed(&media, &writer, demo_options).await {
                Ok(true) => tracing::info!("demo season seeded"),
                Ok(false) => tracing::info!("demo season already present; not seeded again"),
                Err(error) => {
                    writer_thread.stop();
                    return Err(StartError::Demo(error));
                }
            }
        }
        #[cfg(unix)]
        let admin_socket = match crate::adminsock::serve_with_store(&config.data_dir, writer.clone(), store.clone()) {
            Ok(task) => Some(task),
            Err(error) => {
                tracing::warn!(error = %error, "admin socket unavailable; `aimoviez admin` needs the server stopped");
                None
            }
        };
        #[cfg(not(unix))]
        let admin_socket = None;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(io_context(format!("cannot listen on {}", config.listen)))?;
        let state = AppState(Arc::new(AppContext {
            voter_key: secret.derive("aimoviez 2026 anonymous voter key"),
            form_token_key: secret.derive("aimoviez 2026 form token key"),
            assets: Assets::new(),
            sessions,
            rate_limiter: Arc::new(RateLimiter::new(&config.rate_limits)),
            captcha: Arc::new(Captcha::new(secret.derive("aimoviez 2026 captcha key"), config.captcha.clone())),
            login_throttle: LoginThrottle::default(),
            search,
            views: Arc::new(ViewTracker::new(200_000)),
            live,
            upload_limits,
            metrics,
            leaderboards,
            unread,
            config,
            store,
            writer,
            read_model,
            media,
        }));
        let router = router(state.clone());
        Ok(App { listener, router, state, writer_thread, indexer, admin_socket })
    }

    /// The address actually bound (port 0 becomes a real port).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state, for tests that look inside.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then stops in order: stop accepting,
    /// finish in-flight requests, let the writer commit what it holds.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let App { listener, router, state, writer_thread, indexer, admin_socket } = self;
        tracing::info!(address = %listener.local_addr()?, "listening");
        let upkeep = tokio::spawn(upkeep(state.clone()));
        let scheduler = tokio::spawn(crate::scheduler::run(state.clone()));
        let view_flusher = tokio::spawn(flush_views(state.clone()));
        let coalescer = tokio::spawn(state.live.clone().run_coalescer(Duration::from_millis(250)));
        let scheduled_backups = tokio::spawn(crate::backup_schedule::run(state.clone()));
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        // Under systemd (Type=notify) the unit becomes active only now, with
        // storage open and the listener bound; outside systemd this does nothing.
        if let Err(error) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
            tracing::warn!(error = %error, "cannot notify systemd of readiness");
        }
        let live = state.live.clone();
        let served = axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                shutdown.await;
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
                // Live streams never end on their own; end them so the drain finishes.
                live.close();
            })
            .await;
        tracing::info!("stopped accepting; in-flight requests finished");
        upkeep.abort();
        scheduler.abort();
        coalescer.abort();
        view_flusher.abort();
        scheduled_backups.abort();
        // Views counted since the last flush are written before the writer stops.
        write_views(&state).await;
        if let Some(task) = admin_socket {
            task.abort();
            let _ = std::fs::remove_file(crate::adminsock::socket_path(&state.config.data_dir));
        }
        drop(state);
        tokio::task::spawn_blocking(move || {
            writer_thread.stop();
            indexer.stop();
        })
        .await
        .map_err(std::io::Error::other)?;
        tracing::info!("shutdown complete");
        served
    }
}

/// Raises the soft limit on open files to the hard limit and logs the result.
///
/// Every connection (a live SSE client above all) holds one descriptor, and
/// nothing else in the server caps connections: no semaphore, no connection
/// limit in the config. So this limit is what decides how many live clients
/// one process holds. When it is reached anyway, `accept` fails with EMFILE;
/// axum's `serve` logs the error, waits one second and accepts again, so the
/// server keeps running and serves new clients once others disconnect.
pub fn raise_open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::info!(limit, "open-file limit (bounds concurrent connections)");
            Some(limit)
        }
        Err(error) => {
            tracing::warn!(error = %error, "cannot raise the open-file limit");
            None
        }
    }
}

/// Passes committed changes on to the search indexer and live subscribers.
/// Runs after `read_model` applied the same events, so after a structural
/// change the live hub copies the new slots and open clips from it.
fn forward_committed(events: &[CommittedEvent], index_feed: &IndexFeed, live: &LiveHub, read_model: &ReadModel) {
    let mut counts = Vec::new();
    let mut changed_clips: &[crate::domain::model::Clip] = &[];
    let mut structure_changed = false;
    for event in events {
        match event {
            CommittedEvent::Counter { clip, position, counter } => counts.push(CountChange {
                clip: clip.get(),
                position: position.get(),
                vote_count: counter.vote_count,
                weighted_score: counter.weighted_score,
            }),
            CommittedEvent::ClipsChanged { clips, sequence } => {
                index_feed.clips_changed(clips, *sequence);
                changed_clips = clips;
            }
            CommittedEvent::StructureChanged => structure_changed = true,
            _ => {}
        }
    }
    if structure_changed {
        live.structure_changed(read_model.read(SlotView::from_read_state), changed_clips);
    }
    live.counts_changed(&counts);
}

/// Writes pending view counts every few seconds; a crash loses at most these.
async fn flush_views(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(3));
    loop {
        tick.tick().await;
        write_views(&state).await;
    }
}

async fn write_views(state: &AppState) {
    let deltas: Vec<(ClipId, u64)> =
        state.views.drain().into_iter().filter_map(|(clip, delta)| Some((ClipId::new(clip)?, delta))).collect();
    if deltas.is_empty() {
        return;
    }
    let views = deltas.iter().map(|(_, delta)| delta).sum();
    let flushed = state.writer.add_views(deltas).await;
    state.metrics.view_flush(views, flushed.is_ok());
    if let Err(error) = flushed {
        tracing::warn!(error = %error, "view counts not flushed");
    }
}

/// Periodic housekeeping of in-memory state: expired sessions, idle rate
/// limiter keys, spent captcha nonces and passes, sign-in failures.
async fn upkeep(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tick.tick().await;
        let now = Timestamp::now();
        state.sessions.prune(now);
        state.rate_limiter.prune();
        state.captcha.prune(now.millis());
        state.login_throttle.prune(now);
    }
}

/// Reads the server secret, creating it (mode 0600) on first start.
fn load_or_create_secret(data_dir: &Path) -> Result<ServerSecret, StartError> {
    let path = data_dir.join("secret.key");
    match std::fs::read(&path) {
        Ok(bytes) => {
            let bytes: [u8; 32] = bytes.try_into().map_err(|_| StartError::Io {
                context: format!("{} is not a 32-byte secret", path.display()),
                source: std::io::Error::from(std::io::ErrorKind::InvalidData),
            })?;
            Ok(ServerSecret::from_bytes(bytes))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let bytes: [u8; 32] = rand::random();
            write_private_file(&path, &bytes).map_err(io_context(format!("cannot write {}", path.display())))?;
            tracing::info!(path = %path.display(), "generated server secret");
            Ok(ServerSecret::from_bytes(bytes))
        }
        Err(error) => Err(io_context(format!("cannot read {}", path.display()))(error)),
    }
}

fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Upload routes: a body limit sized for videos instead of JSON, and the
/// same cross-site check and rate limits; no request timeout, since a large
/// upload on a slow phone takes a while (its own read deadline bounds it).
fn upload_router(state: &AppState) -> Router<AppState> {
    let limit = usize::try_from(state.config.media.max_upload_mb * 1024 * 1024 + 256 * 1024).unwrap_or(usize::MAX);
    let limits = RateLimitLayerState {
        limiter: state.rate_limiter.clone(),
        trusted_proxies: Arc::new(state.config.trusted_proxies.clone()),
    };
    Router::new()
        .route("/api/upload", axum::routing::post(api::clips::upload_clip))
        .merge(web::upload_router())
        .layer(axum::middleware::from_fn_with_state(state.clone(), csrf::reject_cross_site))
        .layer(axum::middleware::from_fn_with_state(limits, ratelimit::enforce))
        .layer(DefaultBodyLimit::max(limit))
        // A stalled upload is dropped after 30 s without data, a slow one after 10 minutes.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(Duration::from_secs(30)))
        .layer(tower_http::timeout::RequestBodyDeadlineLayer::new(Duration::from_secs(600)))
}

/// Every route, grouped by audience, with the middleware stack.
fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    let body_limit = state.config.json_body_limit_bytes;
    let security_headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; \
             connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    // Media is the bulk of the traffic and only ever GET/HEAD with no body:
    // it is merged after the per-request machinery (CSRF check, body limit,
    // request timeout), which it does not need, and keeps the headers below.
    let limits = RateLimitLayerState {
        limiter: state.rate_limiter.clone(),
        trusted_proxies: Arc::new(state.config.trusted_proxies.clone()),
    };
    // One log line per request (method, route, status, latency, request id).
    // Media and static assets are left out: they are the bulk of the traffic
    // and a reverse proxy's access log covers them.
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &axum::http::Request<axum::body::Body>| {
            let route = request
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .map(|path| path.as_str().to_owned())
                .unwrap_or_else(|| "unmatched".to_owned());
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
            tracing::info_span!("request", method = %request.method(), route = %route, request_id = %id)
        })
        .on_request(())
        .on_response(|response: &axum::http::Response<axum::body::Body>, latency: Duration, _span: &tracing::Span| {
            tracing::info!(
                status = response.status().as_u16(),
                latency_ms = latency.as_secs_f64() * 1000.0,
                "request handled"
            );
        })
        .on_failure(());
    let mut router = Router::new()
        .merge(web::router())
        .merge(api::router())
        .merge(crate::metrics::router())
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::sessions::renew))
        .layer(axum::middleware::from_fn_with_state(state.clone(), csrf::reject_cross_site))
        .layer(axum::middleware::from_fn_with_state(limits, ratelimit::enforce))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout))
        .merge(upload_router(&state))
        .layer(trace)
        .merge(crate::media::router())
        // Counts every request (media too) under its route template.
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::metrics::track));
    for (name, value) in security_headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)));
    }
    router
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(RequestIds::default()))
        .with_state(state)
}

/// Request ids: a per-process random prefix and a counter, so ids are unique
/// without a random draw per request.
#[derive(Clone)]
struct RequestIds {
    prefix: u32,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl Default for RequestIds {
    fn default() -> Self {
        RequestIds { prefix: rand::random(), next: Arc::new(std::sync::atomic::AtomicU64::new(1)) }
    }
}

impl tower_http::request_id::MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<tower_http::request_id::RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{:08x}-{n:x}", self.prefix)).ok().map(tower_http::request_id::RequestId::new)
    }
}
