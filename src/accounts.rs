//! The account service shared by the JSON API and the pages: sign-up,
//! sign-in with per-account back-off, sign-out. Password hashing runs on the
//! blocking pool; sessions are written by the writer and take effect in
//! memory once committed.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::domain::account::{self, Username};
use crate::domain::clock::Timestamp;
use crate::domain::model::User;
use crate::http::api::error::ApiError;
use crate::http::state::AppState;
use crate::password;
use crate::sessions::{self, SESSION_TTL_SECS};
use crate::store::writer::NewSession;

/// Failures allowed within [`FAILURE_WINDOW_MILLIS`] before an account is locked.
pub const MAX_FAILURES: u32 = 5;
/// Window in which failures are counted.
pub const FAILURE_WINDOW_MILLIS: i64 = 15 * 60 * 1000;
/// First lock; it doubles with every further failure, up to [`MAX_LOCK_MILLIS`].
pub const FIRST_LOCK_MILLIS: i64 = 30 * 1000;
/// Longest lock.
pub const MAX_LOCK_MILLIS: i64 = 15 * 60 * 1000;
/// Accounts whose failures are remembered; beyond this the oldest are dropped.
const MAX_TRACKED_ACCOUNTS: usize = 50_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first_at: i64,
    locked_until: i64,
}

/// Per-account sign-in back-off: after [`MAX_FAILURES`] wrong passwords the
/// account refuses sign-in (429) for a while, whatever address tries. It is
/// in memory and bounded; a restart forgets it, which only shortens a lock.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    accounts: Mutex<HashMap<String, Failures>>,
}

impl LoginThrottle {
    /// Seconds until `username` may try again, if locked.
    pub fn locked_for(&self, username: &str, now: Timestamp) -> Option<u64> {
        let accounts = self.accounts.lock();
        let failures = accounts.get(username)?;
        let left = failures.locked_until - now.millis();
        (left > 0).then(|| (left as u64).div_ceil(1000))
    }

    /// Records a wrong password.
    pub fn failed(&self, username: &str, now: Timestamp) {
        let mut accounts = self.accounts.lock();
        if accounts.len() >= MAX_TRACKED_ACCOUNTS && !accounts.contains_key(username) {
            let oldest = accounts.iter().min_by_key(|(_, f)| f.first_at).map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                accounts.remove(&oldest);
            }
        }
        let now = now.millis();
        let entry =
            accounts.entry(username.to_owned()).or_insert(Failures { count: 0, first_at: now, locked_until: 0 });
        if now - entry.first_at > FAILURE_WINDOW_MILLIS {
            *entry = Failures { count: 0, first_at: now, locked_until: 0 };
        }
        entry.count += 1;
        if entry.count >= MAX_FAILURES {
            let doublings = (entry.count - MAX_FAILURES).min(10);
            let lock = (FIRST_LOCK_MILLIS << doublings).min(MAX_LOCK_MILLIS);
            entry.locked_until = now + lock;
        }
    }

    /// Forgets failures after a successful sign-in.
    pub fn succeeded(&self, username: &str) {
        self.accounts.lock().remove(username);
    }

    /// Drops entries whose window and lock have passed.
    pub fn prune(&self, now: Timestamp) {
        let now = now.millis();
        self.accounts.lock().retain(|_, f| now - f.first_at <= FAILURE_WINDOW_MILLIS || f.locked_until > now);
    }
}

/// A signed-in result: the user and the cookie token to set.
pub struct SignedIn {
    /// The account.
    pub user: User,
    /// The session cookie value.
    pub token: String,
}

async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || password::hash(&password)).await?.map_err(ApiError::internal)
}

async fn start_session(state: &AppState, user: User) -> Result<SignedIn, ApiError> {
    let (token, token_hash) = sessions::new_token();
    state.writer.create_session(user.id, NewSession { token_hash, ttl_secs: SESSION_TTL_SECS }).await?;
    Ok(SignedIn { user, token })
}

/// Creates an account and signs it in.
pub async fn register(state: &AppState, username: &str, password: &str) -> Result<SignedIn, ApiError> {
    let username = Username::parse(username).map_err(|e| ApiError::invalid(e.to_string()))?;
    account::check_password(password).map_err(|e| ApiError::invalid(e.to_string()))?;
    let hash = hash_password(password.to_owned()).await?;
    let user = state.writer.create_user(username, hash).await?;
    tracing::info!(user.id = %user.id, "account created");
    start_session(state, user).await
}

/// Checks a password and signs in. Wrong credentials → 401; an account
/// locked after repeated failures → 429 with `Retry-After`.
pub async fn login(state: &AppState, username: &str, password: &str, client: &str) -> Result<SignedIn, ApiError> {
    let now = Timestamp::now();
    let Ok(username) = Username::parse(username) else { return Err(ApiError::invalid_credentials()) };
    if password.chars().count() > account::MAX_PASSWORD_CHARS {
        return Err(ApiError::invalid_credentials());
    }
    if let Some(wait) = state.login_throttle.locked_for(username.as_str(), now) {
        return Err(ApiError::rate_limited(wait, "too many failed sign-ins for this account; try again later"));
    }
    let store = state.store.clone();
    let name = username.as_str().to_owned();
    let candidate = password.to_owned();
    let (user, matches) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let user = store.user_by_name(&name)?;
        // Verify against a dummy hash when the user is unknown, so timing
        // does not reveal which usernames exist.
        let stored = user.as_ref().map(|u| u.password_hash.clone()).filter(|h| !h.is_empty());
        let matches = password::verify(&candidate, stored.as_deref().unwrap_or(password::dummy_hash()));
        Ok((user, matches && stored.is_some()))
    })
    .await??;
    let Some(user) = user.filter(|_| matches) else {
        state.login_throttle.failed(username.as_str(), now);
        // A stable line operators can feed to fail2ban.
        tracing::warn!(client = client, username = username.as_str(), "sign-in failed");
        return Err(ApiError::invalid_credentials());
    };
    if user.banned {
        return Err(ApiError::from(crate::store::writer::AccountError::Banned));
    }
    state.login_throttle.succeeded(username.as_str());
    start_session(state, user).await
}

/// An account operation an operator runs from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminOperation {
    /// Create an admin, or promote an existing user and set their password.
    CreateAdmin,
    /// Set a user's password and sign out all their sessions.
    ResetPassword,
}

/// Runs an operator's account operation through the writer (the same path
/// whether the server is running — via the admin socket — or not).
pub async fn run_admin_operation(
    writer: &crate::store::writer::WriterHandle,
    operation: AdminOperation,
    username: &str,
    password: &str,
) -> Result<User, String> {
    let username = Username::parse(username).map_err(|e| e.to_string())?;
    account::check_password(password).map_err(|e| e.to_string())?;
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || password::hash(&password)).await.map_err(|e| e.to_string())??;
    let result = match operation {
        AdminOperation::CreateAdmin => writer.upsert_admin(username, hash).await,
        AdminOperation::ResetPassword => writer.reset_password(username, hash).await,
    };
    result.map_err(|e| e.to_string())
}
