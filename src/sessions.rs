//! Sessions: a random 256-bit token in an HttpOnly, SameSite=Lax cookie,
//! stored only as its blake3 hash, and validated from memory so an
//! authenticated request reads no storage. The registry is loaded at start
//! and changed only by committed writer events (sign-in, renewal, sign-out,
//! ban, role change), so it never runs ahead of what is durable. Renewal on
//! use is `http::middleware::session`.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::RwLock;

use crate::domain::clock::Timestamp;
use crate::domain::ids::UserId;
use crate::store::writer::CommittedEvent;
use crate::store::{Store, StoreError};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "aimoviez_session";
/// How long a session lives without use.
pub const SESSION_TTL_SECS: u64 = 30 * 24 * 3600;
/// A session older than this (since creation or last renewal) is renewed on use.
pub const RENEW_AFTER_SECS: u64 = SESSION_TTL_SECS / 2;

/// The signed-in user behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    /// Who.
    pub user: UserId,
    /// Their username.
    pub username: String,
    /// Whether they may use the admin console.
    pub is_admin: bool,
    /// blake3 of the cookie token.
    pub token_hash: [u8; 32],
    /// When the session expires.
    pub expires_at: Timestamp,
}

impl SessionUser {
    /// Whether the session should be renewed now.
    pub fn needs_renewal(&self, now: Timestamp) -> bool {
        self.expires_at.millis() - now.millis() < (SESSION_TTL_SECS - RENEW_AFTER_SECS) as i64 * 1000
    }
}

/// Creates a new random token: the cookie value and its hash.
pub fn new_token() -> (String, [u8; 32]) {
    let bytes: [u8; 32] = rand::random();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = *blake3::hash(token.as_bytes()).as_bytes();
    (token, hash)
}

/// The stored hash of a cookie token, if it has the right shape.
pub fn token_hash(token: &str) -> Option<[u8; 32]> {
    let decoded = URL_SAFE_NO_PAD.decode(token).ok()?;
    (decoded.len() == 32).then(|| *blake3::hash(token.as_bytes()).as_bytes())
}

/// All live sessions, in memory.
#[derive(Debug, Default)]
pub struct SessionRegistry {
    sessions: RwLock<HashMap<[u8; 32], SessionUser>>,
}

impl SessionRegistry {
    /// Loads every unexpired session with its user.
    pub fn load(store: &Store, now: Timestamp) -> Result<SessionRegistry, StoreError> {
        let mut sessions = HashMap::new();
        for (token_hash, session, user) in store.sessions_with_users()? {
            if session.expires_at > now && !user.banned {
                sessions.insert(
                    token_hash,
                    SessionUser {
                        user: user.id,
                        username: user.username,
                        is_admin: user.is_admin,
                        token_hash,
                        expires_at: session.expires_at,
                    },
                );
            }
        }
        Ok(SessionRegistry { sessions: RwLock::new(sessions) })
    }

    /// The user behind a cookie value, if the session is live.
    pub fn lookup(&self, token: &str, now: Timestamp) -> Option<SessionUser> {
        let hash = token_hash(token)?;
        let sessions = self.sessions.read();
        let session = sessions.get(&hash)?;
        (session.expires_at > now).then(|| session.clone())
    }

    /// Number of sessions held.
    pub fn len(&self) -> usize {
        self.sessions.read().len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops expired sessions from memory (their records expire in storage too).
    pub fn prune(&self, now: Timestamp) {
        self.sessions.write().retain(|_, session| session.expires_at > now);
    }

    /// Applies a committed batch. Called on the writer thread only.
    pub fn apply(&self, events: &[CommittedEvent]) {
        let relevant = events.iter().any(|event| {
            matches!(
                event,
                CommittedEvent::SessionStored { .. }
                    | CommittedEvent::SessionsRevoked { .. }
                    | CommittedEvent::UserChanged { .. }
            )
        });
        if !relevant {
            return;
        }
        let mut sessions = self.sessions.write();
        for event in events {
            match event {
                CommittedEvent::SessionStored { token_hash, user, username, is_admin, expires_at, .. } => {
                    sessions.insert(
                        *token_hash,
                        SessionUser {
                            user: *user,
                            username: username.clone(),
                            is_admin: *is_admin,
                            token_hash: *token_hash,
                            expires_at: *expires_at,
                        },
                    );
                }
                CommittedEvent::SessionsRevoked { token_hashes } => {
                    for hash in token_hashes {
                        sessions.remove(hash);
                    }
                }
                CommittedEvent::UserChanged { user, is_admin } => {
                    for session in sessions.values_mut().filter(|s| s.user == *user) {
                        session.is_admin = *is_admin;
                    }
                }
                _ => {}
            }
        }
    }
}

/// A `Set-Cookie` value for a new or renewed session.
pub fn session_cookie(token: &str, secure: bool) -> String {
    cookie::Cookie::build((SESSION_COOKIE, token.to_owned()))
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(cookie::time::Duration::seconds(SESSION_TTL_SECS as i64))
        .build()
        .to_string()
}

/// A `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie(secure: bool) -> String {
    cookie::Cookie::build((SESSION_COOKIE, ""))
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

/// The session token from a `Cookie` header, if any.
pub fn token_from_cookie_header(header: &str) -> Option<String> {
    cookie::Cookie::split_parse(header)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == SESSION_COOKIE)
        .map(|cookie| cookie.value().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_hash_and_malformed_tokens_do_not() {
        let (token, hash) = new_token();
        assert_eq!(token.len(), 43);
        assert_eq!(token_hash(&token), Some(hash));
        assert_eq!(token_hash("short"), None);
        assert_eq!(token_hash(&"!".repeat(43)), None);
    }

    #[test]
    fn cookies_have_the_safe_flags() {
        let cookie = session_cookie("abc", true);
        for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=2592000"] {
            assert!(cookie.contains(flag), "{cookie}");
        }
        assert!(!session_cookie("abc", false).contains("Secure"));
        assert_eq!(token_from_cookie_header("a=1; aimoviez_session=tok; b=2").as_deref(), Some("tok"));
        assert_eq!(token_from_cookie_header("a=1"), None);
    }
}
