//! `spawn_app()`: the real server on 127.0.0.1:0 with a temp data dir, and
//! typed helpers to talk HTTP to it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use aimoviez::app::{App, BuildOptions};
use aimoviez::config::{Config, Overrides};
use aimoviez::demo::DemoOptions;
use aimoviez::domain::clock::Timestamp;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server and a client for it.
pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    /// In-process access for what has no HTTP route yet (flags before the admin API).
    state: Option<aimoviez::service::Services>,
    /// The clock the app was started with, kept across restarts.
    clock: Option<aimoviez::app::ClockOverride>,
}

/// Milliseconds in a day, for moving a [`HandClock`].
pub const DAY_MILLIS: i64 = 86_400_000;

/// A writer clock the test moves by hand.
#[derive(Clone)]
pub struct HandClock(Arc<AtomicI64>);

impl HandClock {
    pub fn at(millis: i64) -> HandClock {
        HandClock(Arc::new(AtomicI64::new(millis)))
    }

    pub fn set(&self, millis: i64) {
        self.0.store(millis, Ordering::SeqCst);
    }

    pub fn as_override(&self) -> aimoviez::app::ClockOverride {
        let millis = self.0.clone();
        aimoviez::app::ClockOverride(Arc::new(move || Timestamp::from_millis(millis.load(Ordering::SeqCst))))
    }
}

/// Options for a spawned app.
#[derive(Clone)]
pub struct SpawnOptions {
    pub demo: Option<DemoOptions>,
    pub env: Vec<(String, String)>,
    /// Keep the default rate limits (most tests send many requests from one
    /// address and turn them off).
    pub rate_limits: bool,
    /// Replaces the writer's (and the leaderboards') wall clock.
    pub clock: Option<aimoviez::app::ClockOverride>,
}

impl Default for SpawnOptions {
    fn default() -> Self {
        SpawnOptions { demo: Some(DemoOptions::default()), env: Vec::new(), rate_limits: false, clock: None }
    }
}

const RATE_CLASSES: [&str; 7] = ["VOTE", "UPLOAD", "COMMENT", "API", "READ", "AUTH", "ADMIN"];

/// Starts the app with the demo season seeded.
pub async fn spawn_app() -> TestApp {
    spawn_with(SpawnOptions::default()).await
}

/// Starts the app with options.
pub async fn spawn_with(options: SpawnOptions) -> TestApp {
    build_unserved(options).await.serve()
}

async fn start(data_dir: &Path, options: &SpawnOptions) -> TestApp {
    build(data_dir, options).await.serve()
}

/// A built app whose listener is bound but not yet accepting.
pub struct BuiltApp {
    pub address: SocketAddr,
    app: App,
    data_dir: PathBuf,
    temp: Option<tempfile::TempDir>,
    clock: Option<aimoviez::app::ClockOverride>,
}

/// Builds the app (its listener bound, nothing accepted yet), for tests of
/// what happens before the server serves.
pub async fn build_unserved(options: SpawnOptions) -> BuiltApp {
    let temp = tempfile::tempdir().expect("temp dir");
    let data_dir = temp.path().to_path_buf();
    let mut built = build(&data_dir, &options).await;
    built.temp = Some(temp);
    built
}

async fn build(data_dir: &Path, options: &SpawnOptions) -> BuiltApp {
    if std::env::var_os("TEST_LOG").is_some() {
        aimoviez::telemetry::init(false);
    }
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        data_dir: Some(data_dir.to_path_buf()),
        log_json: false,
    };
    let mut env = options.env.clone();
    if !options.rate_limits {
        for class in RATE_CLASSES {
            let key = format!("AIMOVIEZ_RATE_LIMITS_{class}");
            if !env.iter().any(|(k, _)| *k == key) {
                env.push((key, "0".into()));
            }
        }
    }
    let config = Config::load(None, env, &overrides).expect("config");
    let app = App::build(config, BuildOptions { demo: options.demo.clone(), clock: options.clock.clone() })
        .await
        .expect("app builds");
    let address = app.local_addr().expect("bound");
    BuiltApp { address, app, data_dir: data_dir.to_path_buf(), temp: None, clock: options.clock.clone() }
}

impl BuiltApp {
    /// Starts serving.
    pub fn serve(self) -> TestApp {
        let BuiltApp { address, app, data_dir, temp, clock } = self;
        let state = app.services().clone();
        let (shutdown, signal) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async move {
            let _ = signal.await;
        }));
        TestApp {
            address,
            client: reqwest::Client::builder().user_agent("aimoviez-tests").build().expect("client"),
            data_dir,
            _temp: temp,
            shutdown: Some(shutdown),
            server: Some(server),
            state: Some(state),
            clock,
        }
    }
}

impl TestApp {
    /// Absolute URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops gracefully and waits until the writer has committed.
    pub async fn stop(&mut self) {
        // The state holds the database open; drop it so a restart can reopen the file.
        self.state = None;
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server stopped cleanly");
        }
    }

    /// Stops, then starts a new server on the same data dir (no demo seeding).
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let temp = self._temp.take();
        let options = SpawnOptions { demo: None, clock: self.clock.clone(), ..SpawnOptions::default() };
        let mut next = start(&self.data_dir, &options).await;
        next._temp = temp;
        next
    }

    /// Starts again with `--demo` on the same data dir.
    pub async fn restart_with_demo(mut self) -> TestApp {
        self.stop().await;
        let temp = self._temp.take();
        let mut next = start(&self.data_dir, &SpawnOptions::default()).await;
        next._temp = temp;
        next
    }

    /// The running app's services, for what the tests drive in-process
    /// (the paths the admin socket and the CLI take).
    pub fn services(&self) -> &aimoviez::service::Services {
        self.state.as_ref().expect("running")
    }

    /// Stores a feature flag through the writer.
    pub async fn set_flag(&self, key: &str, enabled: bool) {
        let state = self.state.as_ref().expect("running");
        state.writer.set_flag(key.to_owned(), enabled, None).await.expect("flag stored");
    }

    /// Creates an admin the way `aimoviez admin create` does, through the writer.
    pub async fn create_admin(&self, username: &str, password: &str) {
        let state = self.state.as_ref().expect("running");
        let hash = aimoviez::password::hash(password).expect("hash");
        let username = aimoviez::domain::account::Username::parse(username).expect("username");
        state.writer.upsert_admin(username, hash, true).await.expect("admin stored");
    }

    /// Recounts every counter and ledger from the stored votes.
    pub fn check_mismatches(&self) -> Vec<String> {
        self.state.as_ref().expect("running").store.check(|_, _| {}).expect("check runs").mismatches
    }

    /// Storage read transactions so far.
    pub fn store_reads(&self) -> u64 {
        self.state.as_ref().expect("running").store.read_count()
    }

    /// A client with its own cookie jar, as a separate browser would be.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder().user_agent("aimoviez-tests").cookie_store(true).build().expect("client")
    }

    /// Like [`TestApp::browser`], but redirects are returned instead of
    /// followed, as the no-JavaScript form tests need to see them.
    pub fn form_browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .user_agent("aimoviez-tests")
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// Registers `username` (password [`PASSWORD`]) in a fresh cookie-jar
    /// client and returns it signed in.
    pub async fn signed_in(&self, username: &str) -> reqwest::Client {
        let client = self.browser();
        let response = client
            .post(self.url("/api/auth/register"))
            .json(&json!({ "username": username, "password": PASSWORD }))
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), 201, "register {username}");
        client
    }

    /// Signs `username` up through the HTML form, as a browser without
    /// JavaScript does, in a fresh cookie-jar client that does not follow
    /// redirects; expects the redirect and an `HttpOnly` session cookie.
    pub async fn signed_up_with_form(&self, username: &str, password: &str) -> reqwest::Client {
        let client = self.form_browser();
        let response = client
            .post(self.url("/signup"))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .expect("signup");
        assert_eq!(response.status(), 303, "sign up {username}");
        let cookie = response.headers().get("set-cookie").expect("a session cookie").to_str().expect("ascii");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        client
    }

    /// Creates the admin `boss` (password [`PASSWORD`]) and returns a client
    /// signed in as it.
    pub async fn admin(&self) -> reqwest::Client {
        self.create_admin("boss", PASSWORD).await;
        self.log_in("boss", PASSWORD).await
    }

    /// Has `admin` approve or reject (`action`) `clip` through the API, with
    /// a reason; expects 200.
    pub async fn moderate(&self, admin: &reqwest::Client, clip: u64, action: &str) {
        let response = admin
            .post(self.url(&format!("/api/admin/clips/{clip}/{action}")))
            .json(&json!({"reason": "not for this film"}))
            .send()
            .await
            .expect("moderate");
        assert_eq!(response.status(), 200, "{action} {clip}");
    }

    /// Signs in an existing account in a fresh cookie-jar client.
    pub async fn log_in(&self, username: &str, password: &str) -> reqwest::Client {
        let client = self.browser();
        let response = client
            .post(self.url("/api/auth/login"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 200, "login {username}");
        client
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("json")
    }

    /// The feed as the default test voter sees it.
    pub async fn feed(&self) -> Value {
        self.get_json("/api/vote").await
    }

    /// Ids of the clips in the voting slot.
    pub async fn clip_ids(&self) -> Vec<u64> {
        let feed = self.get_json("/api/vote?limit=20").await;
        let mut ids: Vec<u64> =
            feed["clips"].as_array().expect("clips").iter().map(|c| c["id"].as_u64().expect("id")).collect();
        ids.sort_unstable();
        ids
    }

    /// Casts a standard vote as the default test voter.
    pub async fn vote(&self, clip: u64) -> Response {
        self.vote_as(clip, None, "standard").await
    }

    /// Casts a vote as the client behind `forwarded_for` (via the trusted loopback proxy).
    pub async fn vote_as(&self, clip: u64, forwarded_for: Option<&str>, vote_type: &str) -> Response {
        let mut request =
            self.client.post(self.url("/api/vote")).json(&json!({ "clipId": clip, "voteType": vote_type }));
        if let Some(ip) = forwarded_for {
            request = request.header("x-forwarded-for", ip);
        }
        request.send().await.expect("request")
    }

    /// Revokes the default test voter's vote.
    pub async fn revoke(&self, clip: u64) -> Response {
        self.client.delete(self.url("/api/vote")).json(&json!({ "clipId": clip })).send().await.expect("request")
    }

    /// The vote count of a clip as the API reports it.
    pub async fn vote_count(&self, clip: u64) -> u64 {
        self.get_json(&format!("/api/clips/{clip}")).await["voteCount"].as_u64().expect("voteCount")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Asserts an error response's status and code, returning its body.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body
}

/// A response header as text, when it is present and readable.
pub fn header_of(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

/// The session's form token, read from the first hidden `csrf` field of a
/// page; expects one that is not empty.
pub fn form_token(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .filter(|token| !token.is_empty())
        .expect("form token on the page")
        .to_owned()
}

/// The password [`TestApp::signed_in`] and [`TestApp::admin`] give their
/// accounts.
pub const PASSWORD: &str = "correct horse battery";

/// A multipart upload body for `/api/upload`.
pub fn upload_form(file: &'static [u8], file_name: &str, title: &str, genre: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("title", title.to_owned())
        .text("description", "made in a test".to_owned())
        .text("genre", genre.to_owned())
        .part("file", reqwest::multipart::Part::bytes(file).file_name(file_name.to_owned()))
}

/// The short MP4 fixture.
pub const SHORT_MP4: &[u8] = include_bytes!("../../data/demo/test-short.mp4");
/// The short WebM fixture.
pub const SHORT_WEBM: &[u8] = include_bytes!("../../data/demo/test-short.webm");
/// A 12-second MP4 (too long).
pub const LONG_MP4: &[u8] = include_bytes!("../../data/demo/test-too-long.mp4");

impl TestApp {
    /// Uploads a clip as `client`, expecting 201; returns the clip id.
    pub async fn upload(&self, client: &reqwest::Client, file: &'static [u8], title: &str) -> u64 {
        let response = client
            .post(self.url("/api/upload"))
            .multipart(upload_form(file, "clip.mp4", title, "sci-fi"))
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), 201, "upload {title}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["status"], "pending");
        body["clipId"].as_u64().expect("clipId")
    }

    /// Polls `check` every 50 ms for up to `secs` seconds.
    pub async fn eventually<F, Fut>(&self, secs: u64, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while !check().await {
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
