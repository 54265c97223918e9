//! The application: state built once, the router (`http::router`), and
//! the shutdown order. Tests and the binary start the app the same way:
//! `App::build(config, options)`, then `run_until_stopped(signal)`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::auth::ServerSecret;
use crate::captcha::Captcha;
use crate::config::{Config, MediaStore};
use crate::demo;
use crate::domain::clock::Timestamp;
use crate::domain::ids::ClipId;
use crate::http::pages::assets::Assets;
use crate::http::state::{AppContext, AppState};
use crate::indexer::{self, IndexFeed, Indexer};
use crate::leaderboard::LeaderboardService;
use crate::live::{CountChange, LiveHub, SlotView};
use crate::media::MediaLibrary;
use crate::media::access::MediaAccess;
use crate::media::{poster, upload};
use crate::objstore;
use crate::ratelimit::RateLimiter;
use crate::readmodel::ReadModel;
use crate::service::accounts::LoginThrottle;
use crate::service::uploads::UploadLimits;
use crate::service::{Context, Services};
use crate::sessions::SessionRegistry;
use crate::store::Store;
use crate::store::writer::CommittedEvent;
use crate::store::writer::{self, WriterSettings, WriterThread};
use crate::unread::UnreadBadges;
use crate::views::ViewTracker;

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
pub struct ClockOverride(pub crate::domain::clock::Clock);

impl std::fmt::Debug for ClockOverride {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClockOverride({})", (self.0)())
    }
}

/// A built app: listening, not yet serving.
pub struct App {
    listener: TcpListener,
    router: Router,
    services: Services,
    rate_limiter: Arc<RateLimiter>,
    writer_thread: WriterThread,
    indexer: Indexer,
    admin_socket: Option<tokio::task::JoinHandle<()>>,
}

/// A step of [`App::build`]. A failure names the step it happened in, so
/// an operator knows what to look at (a database that does not open is not
/// a demo that did not seed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartStep {
    /// Creating the data directory.
    DataDir,
    /// Checking that the data directory takes writes (a read-only mount or
    /// missing permissions would otherwise only show at the first write).
    Writable,
    /// Reading or creating the server secret.
    Secret,
    /// Opening the database (schema check and migrations included).
    Database,
    /// Loading the in-memory state from the database: the read model,
    /// sessions, unread badges, figures for `/metrics`.
    Memory,
    /// Opening or rebuilding the search index.
    SearchIndex,
    /// Rebuilding the leaderboards.
    Leaderboards,
    /// Starting the writer thread.
    Writer,
    /// Opening the media directory.
    Media,
    /// Reaching the media bucket (`[media] store = "s3"`).
    MediaBucket,
    /// Seeding the demo season.
    Demo,
    /// Binding the listening socket.
    Listener,
}

impl std::fmt::Display for StartStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StartStep::DataDir => "cannot create the data directory",
            StartStep::Writable => "the data directory is not writable:",
            StartStep::Secret => "cannot load the server secret",
            StartStep::Database => "cannot open the database",
            StartStep::Memory => "cannot load the in-memory state from the database",
            StartStep::SearchIndex => "cannot open the search index",
            StartStep::Leaderboards => "cannot rebuild the leaderboards",
            StartStep::Writer => "cannot start the writer thread",
            StartStep::Media => "cannot open the media directory",
            StartStep::MediaBucket => "cannot use the media bucket (`[media.s3]`)",
            StartStep::Demo => "cannot seed the demo season",
            StartStep::Listener => "cannot listen on",
        })
    }
}

/// Why the app did not start: the step, what it was working on (a path, an
/// address) and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{step}{}{detail}: {source}", if detail.is_empty() { "" } else { " " })]
pub struct StartError {
    step: StartStep,
    detail: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl StartError {
    /// The step that failed.
    pub fn step(&self) -> StartStep {
        self.step
    }
}

/// Turns the error of `step` (about `detail`, if not empty) into a [`StartError`].
fn failed<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    step: StartStep,
    detail: impl Into<String>,
) -> impl FnOnce(E) -> StartError {
    let detail = detail.into();
    move |source| StartError { step, detail, source: source.into() }
}

impl App {
    /// Opens storage, starts the writer, seeds the demo if asked, and binds
    /// the listener.
    pub async fn build(config: Config, options: BuildOptions) -> Result<App, StartError> {
        let data_dir = config.data_dir.display().to_string();
        std::fs::create_dir_all(&config.data_dir).map_err(failed(StartStep::DataDir, &data_dir))?;
        tempfile::tempfile_in(&config.data_dir).map_err(failed(StartStep::Writable, &data_dir))?;
        let secret = load_or_create_secret(&config.data_dir)?;
        let db_path = config.database_path();
        let db_name = db_path.display().to_string();
        let cache_bytes = config.storage.cache_mb * 1024 * 1024;
        let store = tokio::task::spawn_blocking(move || Store::open(&db_path, cache_bytes))
            .await
            .map_err(failed(StartStep::Database, &db_name))?
            .map_err(failed(StartStep::Database, &db_name))?;
        let loaded = failed(StartStep::Memory, &db_name);
        let read_model = Arc::new(ReadModel::load(store.clone()).map_err(loaded)?);
        let sessions =
            Arc::new(SessionRegistry::load(&store, Timestamp::now()).map_err(failed(StartStep::Memory, &db_name))?);
        let clock: crate::domain::clock::Clock = match &options.clock {
            Some(ClockOverride(clock)) => clock.clone(),
            None => Arc::new(Timestamp::now),
        };
        let unread = Arc::new(UnreadBadges::load(&store).map_err(failed(StartStep::Memory, &db_name))?);
        let settings = WriterSettings {
            batch_max: config.writer.batch_max,
            queue_capacity: config.writer.queue_capacity,
            daily_budget: config.votes.daily_budget,
            clock: clock.clone(),
        };
        let search_dir = config.search_dir();
        let search_name = search_dir.display().to_string();
        let index_store = store.clone();
        let (search, index_feed, indexer) =
            tokio::task::spawn_blocking(move || indexer::start(&search_dir, &index_store))
                .await
                .map_err(failed(StartStep::SearchIndex, &search_name))?
                .map_err(failed(StartStep::SearchIndex, &search_name))?;
        // Rebuilt before the writer starts, so no commit falls between the
        // snapshot and the first event the listener applies.
        let service_clock = clock.clone();
        let (leaderboards, rebuilt) = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || LeaderboardService::load(&store, clock))
                .await
                .map_err(failed(StartStep::Leaderboards, ""))?
                .map_err(failed(StartStep::Leaderboards, ""))?
        };
        tracing::info!(
            ranked = rebuilt.ranked,
            day_scores = rebuilt.day_scores,
            rows_read = rebuilt.rows_read,
            duration_ms = rebuilt.millis as u64,
            read_ms = rebuilt.read_millis as u64,
            "leaderboards rebuilt"
        );
        let leaderboards = Arc::new(leaderboards);
        let leaderboards_for_writer = leaderboards.clone();
        let live = Arc::new(LiveHub::new().with_media_base_url(&config.media.base_url));
        let clip_sequence = store.clip_change_sequence().map_err(failed(StartStep::Memory, &db_name))?;
        let metrics = Arc::new(crate::metrics::Metrics::new(clip_sequence));
        live.load(read_model.read(SlotView::from_read_state));
        // A bucket that cannot be listed stops the start here, not at the first upload.
        let bucket = match config.media.store {
            MediaStore::Disk => None,
            MediaStore::S3 => {
                let s3 = &config.media.s3;
                let bucket = objstore::connect(s3).map_err(failed(StartStep::MediaBucket, ""))?;
                objstore::check_bucket(bucket.as_ref(), s3, &s3.bucket)
                    .await
                    .map_err(failed(StartStep::MediaBucket, ""))?;
                tracing::info!(bucket = %s3.bucket, endpoint = %objstore::describe_endpoint(s3, &s3.bucket), "media in a bucket");
                Some(bucket)
            }
        };
        // Which clips use which media files, loaded before the writer starts
        // so no committed clip falls between the load and the listener.
        let media = {
            let store = store.clone();
            let root = config.media_dir();
            let (cache_bytes, max_cached) =
                (config.media.cache_mb * 1024 * 1024, config.media.max_cached_file_mb * 1024 * 1024);
            tokio::task::spawn_blocking(move || -> Result<MediaLibrary, Box<dyn std::error::Error + Send + Sync>> {
                let mut clips = Vec::new();
                store.unrejected_clips(|clip| clips.push(clip))?;
                let library = MediaLibrary::open_with(root, cache_bytes, max_cached, MediaAccess::load(clips))?;
                Ok(match bucket {
                    Some(bucket) => library.with_bucket(bucket),
                    None => library,
                })
            })
            .await
            .map_err(failed(StartStep::Media, config.media_dir().display().to_string()))?
            .map_err(failed(StartStep::Media, config.media_dir().display().to_string()))?
        };
        let media = Arc::new(media);
        let (model_for_writer, sessions_for_writer, live_for_writer) =
            (read_model.clone(), sessions.clone(), live.clone());
        let media_for_writer = media.clone();
        let metrics_for_writer = metrics.clone();
        let unread_for_writer = unread.clone();
        let applied_batches = Arc::new(AtomicU64::new(0));
        let applied_for_writer = applied_batches.clone();
        let listener: writer::CommitListener = Box::new(move |events| {
            model_for_writer.apply(events);
            unread_for_writer.apply(events);
            sessions_for_writer.apply(events);
            leaderboards_for_writer.apply(events);
            for event in events {
                if let CommittedEvent::ClipsChanged { clips, .. } = event {
                    media_for_writer.apply_committed(clips);
                }
            }
            forward_committed(events, &index_feed, &live_for_writer, &model_for_writer);
            metrics_for_writer.observe_committed(events);
            // Last: shared ETags move only once every reader above has the batch.
            applied_for_writer.fetch_add(1, Ordering::Release);
        });
        let (writer, writer_thread) =
            writer::start(&store, settings, listener).map_err(failed(StartStep::Writer, ""))?;
        // Unused files are removed in the background from now on.
        tokio::spawn(media.clone().run_removals());
        match upload::clean_incoming(&media) {
            Ok(0) => {}
            Ok(removed) => tracing::info!(files = removed, "removed uploads left unfinished by a crash"),
            Err(error) => tracing::warn!(error = %error, "cannot clean unfinished uploads"),
        }
        let ffmpeg = match config.media.ffmpeg.as_str() {
            "off" => None,
            "" => poster::detect_ffmpeg(None),
            path => poster::detect_ffmpeg(Some(Path::new(path))),
        };
        tracing::info!(ffmpeg = ?ffmpeg, "poster extraction");
        let upload_limits = UploadLimits {
            max_bytes: config.media.max_upload_mb * 1024 * 1024,
            max_duration_ms: config.media.max_duration_ms,
            genres: config.genres.clone(),
            ffmpeg,
            max_pending: config.media.max_pending_uploads,
            ..UploadLimits::default()
        };
        if let Some(demo_options) = &options.demo {
            match demo::seed(&media, &writer, demo_options).await {
                Ok(true) => tracing::info!("demo season seeded"),
                Ok(false) => tracing::info!("demo season already present; not seeded again"),
                Err(error) => {
                    writer_thread.stop();
                    return Err(failed(StartStep::Demo, "")(error));
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
        let listener =
            crate::http::serve::bind(config.listen).map_err(failed(StartStep::Listener, config.listen.to_string()))?;
        let rate_limiter = Arc::new(RateLimiter::new(&config.rate_limits));
        let services = Services::new(Context {
            sessions,
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
            clock: service_clock,
        });
        let state = AppState::new(AppContext {
            services: services.clone(),
            assets: Assets::new(),
            voter_key: secret.derive("aimoviez 2026 anonymous voter key"),
            form_token_key: secret.derive("aimoviez 2026 form token key"),
            rate_limiter: rate_limiter.clone(),
            etag_epoch: rand::random(),
            applied_batches,
        });
        let router = crate::http::router::router(state);
        Ok(App { listener, router, services, rate_limiter, writer_thread, indexer, admin_socket })
    }

    /// The address actually bound (port 0 becomes a real port).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The services, for tests that look inside.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Serves until `shutdown` resolves, then stops in order: stop accepting,
    /// finish in-flight requests, let the writer commit what it holds.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let App { listener, router, services: state, rate_limiter, writer_thread, indexer, admin_socket } = self;
        tracing::info!(address = %listener.local_addr()?, "listening");
        let upkeep = tokio::spawn(upkeep(state.clone(), rate_limiter));
        let scheduler = tokio::spawn(crate::scheduler::run(state.clone()));
        let view_flusher = tokio::spawn(flush_views(state.clone()));
        let coalescer = tokio::spawn(state.live.clone().run_coalescer(Duration::from_millis(250)));
        let scheduled_backups = tokio::spawn(crate::backup_schedule::run(state.clone()));
        // Under systemd with `WatchdogSec=`: pings only while the writer commits.
        let watchdog =
            crate::watchdog::interval().map(|every| tokio::spawn(crate::watchdog::run(state.writer.clone(), every)));
        let config = &state.config;
        let limits = crate::http::serve::ConnectionLimits {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
            max_header_bytes: config.max_header_bytes,
            max_connections_per_ip: config.max_connections_per_ip,
            trusted_proxies: config.trusted_proxies.clone(),
        };
        // Under systemd (Type=notify) the unit becomes active only now, with
        // storage open and the listener bound; outside systemd this does nothing.
        if let Err(error) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
            tracing::warn!(error = %error, "cannot notify systemd of readiness");
        }
        let live = state.live.clone();
        let served = crate::http::serve::serve(listener, router, limits, async move {
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
        if let Some(watchdog) = watchdog {
            watchdog.abort();
        }
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
/// Every connection (a live SSE client above all) holds one descriptor.
/// `max_connections_per_ip` caps what one address holds, but live streams
/// and trusted proxies are not capped, so this limit is what decides how
/// many live clients one process holds. When it is reached anyway, `accept` fails with EMFILE;
/// `http::serve` logs the error, waits one second and accepts again, so the
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
async fn flush_views(state: Services) {
    let mut tick = tokio::time::interval(Duration::from_secs(3));
    loop {
        tick.tick().await;
        write_views(&state).await;
    }
}

async fn write_views(state: &Services) {
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
async fn upkeep(state: Services, rate_limiter: Arc<RateLimiter>) {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tick.tick().await;
        let now = Timestamp::now();
        state.sessions.prune(now);
        rate_limiter.prune();
        state.captcha.prune(now.millis());
        state.login_throttle.prune(now);
    }
}

/// Reads the server secret, creating it (mode 0600) on first start.
fn load_or_create_secret(data_dir: &Path) -> Result<ServerSecret, StartError> {
    let path = data_dir.join("secret.key");
    match std::fs::read(&path) {
        Ok(bytes) => {
            let bytes: [u8; 32] = bytes
                .try_into()
                .map_err(|_| failed(StartStep::Secret, path.display().to_string())("not a 32-byte secret"))?;
            Ok(ServerSecret::from_bytes(bytes))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let bytes: [u8; 32] = rand::random();
            write_private_file(&path, &bytes).map_err(failed(StartStep::Secret, path.display().to_string()))?;
            tracing::info!(path = %path.display(), "generated server secret");
            Ok(ServerSecret::from_bytes(bytes))
        }
        Err(error) => Err(failed(StartStep::Secret, path.display().to_string())(error)),
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
