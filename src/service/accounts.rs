//! Accounts, shared by the JSON API, the pages, the admin socket and the
//! CLI: sign-up, sign-in with per-account back-off, sign-out, the GDPR
//! export and deletion, and the operator's account commands. Password
//! hashing runs on the blocking pool; sessions are written by the writer and
//! take effect in memory once committed.

use std::collections::HashMap;
use std::net::IpAddr;

use parking_lot::Mutex;

use crate::domain::account::{self, Username};
use crate::domain::clock::Timestamp;
use crate::domain::comment::Comment;
use crate::domain::ids::UserId;
use crate::domain::model::{User, Vote};
use crate::password;
use crate::service::{ErrorKind, ServiceError, Services};
use crate::sessions::SessionUser;
use crate::sessions::{self, SESSION_TTL_SECS};
use crate::store::CountedClip;
use crate::store::social::FollowEntry;
use crate::store::writer::{AccountError, AdminUpsert, NewSession, WriteError, WriterHandle};

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

async fn hash_password(password: String) -> Result<String, ServiceError> {
    tokio::task::spawn_blocking(move || password::hash(&password)).await?.map_err(ServiceError::internal)
}

async fn start_session(services: &Services, user: User) -> Result<SignedIn, ServiceError> {
    let (token, token_hash) = sessions::new_token();
    services.writer.create_session(user.id, NewSession { token_hash, ttl_secs: SESSION_TTL_SECS }).await?;
    Ok(SignedIn { user, token })
}

/// Creates an account and signs it in.
pub async fn register(services: &Services, username: &str, password: &str) -> Result<SignedIn, ServiceError> {
    let username = Username::parse(username).map_err(|e| ServiceError::invalid(e.to_string()))?;
    account::check_password(password).map_err(|e| ServiceError::invalid(e.to_string()))?;
    let hash = hash_password(password.to_owned()).await?;
    let user = services.writer.create_user(username, hash).await?;
    tracing::info!(user.id = %user.id, "account created");
    start_session(services, user).await
}

/// Checks a password and signs in. Wrong credentials are `invalid_credentials`
/// (whether or not the name exists); an account locked after repeated
/// failures is `rate_limited` with the wait. `client` is only logged.
pub async fn login(
    services: &Services,
    username: &str,
    password: &str,
    client: IpAddr,
) -> Result<SignedIn, ServiceError> {
    let now = Timestamp::now();
    let Ok(username) = Username::parse(username) else { return Err(ServiceError::invalid_credentials()) };
    if password.chars().count() > account::MAX_PASSWORD_CHARS {
        return Err(ServiceError::invalid_credentials());
    }
    if let Some(wait) = services.login_throttle.locked_for(username.as_str(), now) {
        return Err(ServiceError::rate_limited(wait, "too many failed sign-ins for this account; try again later"));
    }
    let store = services.store.clone();
    let name = username.as_str().to_owned();
    let candidate = password.to_owned();
    let (user, matches) = tokio::task::spawn_blocking(move || -> Result<_, ServiceError> {
        let user = store.user_by_name(&name)?;
        // Verify against a dummy hash when the user is unknown, so timing
        // does not reveal which usernames exist.
        let stored = user.as_ref().map(|u| u.password_hash.clone()).filter(|h| !h.is_empty());
        let matches = password::verify(&candidate, stored.as_deref().unwrap_or(password::dummy_hash()));
        Ok((user, matches && stored.is_some()))
    })
    .await??;
    let Some(user) = user.filter(|_| matches) else {
        services.login_throttle.failed(username.as_str(), now);
        // A stable line operators can feed to fail2ban.
        tracing::warn!(client = %client, username = username.as_str(), "sign-in failed");
        return Err(ServiceError::invalid_credentials());
    };
    if user.banned {
        return Err(ServiceError::from(AccountError::Banned));
    }
    services.login_throttle.succeeded(username.as_str());
    start_session(services, user).await
}

/// Signs out the session whose cookie token hashes to `token_hash`.
pub async fn logout(services: &Services, token_hash: [u8; 32]) -> Result<(), ServiceError> {
    Ok(services.writer.revoke_session(token_hash).await?)
}

/// Most clips and follows an export lists (a bound, not a page: exports are
/// rare and personal).
const EXPORT_LIMIT: usize = 10_000;

/// Everything stored about one user.
#[derive(Debug, Clone)]
pub struct AccountExport {
    /// When the export was taken.
    pub exported_at: Timestamp,
    /// The account.
    pub user: User,
    /// Every vote they cast, counted or not.
    pub votes: Vec<Vote>,
    /// Their uploads.
    pub clips: Vec<CountedClip>,
    /// Their comments, deleted ones included.
    pub comments: Vec<Comment>,
    /// Whom they follow.
    pub following: Vec<FollowEntry>,
}

/// Everything stored about `user`.
pub async fn export(services: &Services, user: UserId) -> Result<AccountExport, ServiceError> {
    let (account, votes, (clips, _), comments, (following, _)) = services
        .read(move |store| {
            Ok((
                store.user(user)?,
                store.votes_of_user(user)?,
                store.clips_of_user(user, EXPORT_LIMIT, 0)?,
                store.comments_of_user(user)?,
                store.follow_list(user, false, 0, EXPORT_LIMIT)?,
            ))
        })
        .await?;
    let user = account.ok_or_else(|| ServiceError::not_found("no such user"))?;
    Ok(AccountExport { exported_at: Timestamp::now(), user, votes, clips, comments, following })
}

/// The phrase a user types to confirm deleting their account.
pub const DELETE_CONFIRMATION: &str = "delete my account";

/// Checks the signed-in user's current password before a change only the
/// account's owner may make, so a stolen session cookie alone cannot delete
/// the account or lock its owner out. Wrong guesses count against the same
/// per-account back-off as sign-in (`rate_limited` once locked); a wrong
/// password is `wrong_password` (403), an empty one `invalid_request`.
async fn confirm_current_password(
    services: &Services,
    session: &SessionUser,
    password: &str,
) -> Result<(), ServiceError> {
    if password.is_empty() {
        return Err(ServiceError::invalid("enter your current password"));
    }
    let now = Timestamp::now();
    if let Some(wait) = services.login_throttle.locked_for(&session.username, now) {
        return Err(ServiceError::rate_limited(wait, "too many wrong passwords for this account; try again later"));
    }
    let too_long = password.chars().count() > account::MAX_PASSWORD_CHARS;
    let store = services.store.clone();
    let user = session.user;
    let candidate = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || -> Result<bool, ServiceError> {
        let stored = store.user(user)?.map(|u| u.password_hash).filter(|hash| !hash.is_empty());
        Ok(!too_long && stored.is_some_and(|hash| password::verify(&candidate, &hash)))
    })
    .await??;
    if !matches {
        services.login_throttle.failed(&session.username, now);
        tracing::warn!(user.id = %session.user, "current password check failed");
        return Err(ServiceError::new(ErrorKind::Forbidden, "wrong_password", "your current password is wrong"));
    }
    services.login_throttle.succeeded(&session.username);
    Ok(())
}

/// Deletes the signed-in user's account once they typed
/// [`DELETE_CONFIRMATION`] and their current password: profile, username
/// and sessions go; votes stay counted under a key that names no one.
pub async fn delete_account(
    services: &Services,
    session: &SessionUser,
    confirmation: &str,
    current_password: &str,
) -> Result<(), ServiceError> {
    if confirmation.trim() != DELETE_CONFIRMATION {
        return Err(ServiceError::invalid(format!("type \"{DELETE_CONFIRMATION}\" to confirm")));
    }
    confirm_current_password(services, session, current_password).await?;
    Ok(services.writer.delete_user(session.user).await?)
}

/// Changes the signed-in user's password: the current one must be right,
/// the new one follows the sign-up rules. Every other session of the
/// account is signed out; the one that asked stays signed in.
pub async fn change_password(
    services: &Services,
    session: &SessionUser,
    current_password: &str,
    new_password: &str,
) -> Result<(), ServiceError> {
    account::check_password(new_password).map_err(|e| ServiceError::invalid(e.to_string()))?;
    confirm_current_password(services, session, current_password).await?;
    let hash = hash_password(new_password.to_owned()).await?;
    services.writer.change_password(session.user, hash, session.token_hash).await?;
    tracing::info!(user.id = %session.user, "password changed; other sessions signed out");
    Ok(())
}

/// An account operation an operator runs from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminOperation {
    /// Create an admin, or (when confirmed) promote an existing user, set
    /// their password and sign out every session of theirs.
    CreateAdmin,
    /// Set a user's password and sign out all their sessions.
    ResetPassword,
}

/// What an operator's account operation did, for the command to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminOutcome {
    /// A new admin account was created.
    Created,
    /// An existing account became admin; its sessions were signed out.
    Promoted,
    /// The password was set; the account's sessions were signed out.
    PasswordReset,
}

/// Why an operator's account operation did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRefusal {
    /// For the operator.
    pub message: String,
    /// `create` named an existing account without `promote_existing`: ask
    /// the operator, then run it again with it.
    pub needs_confirmation: bool,
}

impl<E: std::fmt::Display> From<E> for AdminRefusal {
    fn from(error: E) -> Self {
        AdminRefusal { message: error.to_string(), needs_confirmation: false }
    }
}

/// Runs an operator's account operation through the writer (the same path
/// whether the server is running — via the admin socket — or not).
/// `promote_existing` lets `CreateAdmin` promote an account that exists.
pub async fn run_admin_operation(
    writer: &WriterHandle,
    operation: AdminOperation,
    username: &str,
    password: &str,
    promote_existing: bool,
) -> Result<(User, AdminOutcome), AdminRefusal> {
    let username = Username::parse(username)?;
    account::check_password(password)?;
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || password::hash(&password)).await??;
    match operation {
        AdminOperation::CreateAdmin => match writer.upsert_admin(username, hash, promote_existing).await {
            Ok((user, AdminUpsert::Created)) => Ok((user, AdminOutcome::Created)),
            Ok((user, AdminUpsert::Promoted)) => Ok((user, AdminOutcome::Promoted)),
            Err(WriteError::Account(AccountError::PromotionNotConfirmed)) => {
                Err(AdminRefusal { message: AccountError::PromotionNotConfirmed.to_string(), needs_confirmation: true })
            }
            Err(error) => Err(error.into()),
        },
        AdminOperation::ResetPassword => {
            let user = writer.reset_password(username, hash).await?;
            Ok((user, AdminOutcome::PasswordReset))
        }
    }
}
