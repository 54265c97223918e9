//! Account jobs: users, sessions, roles, bans and deletion. Every admin
//! action is audit-logged in the same transaction as the change.

use redb::ReadableTable;

use super::super::StoreError;
use super::super::records::{self, SessionRecord, UserRecord};
use super::batch::CommittedEvent;
use super::{Batch, WriteError, WriterHandle};
use crate::domain::account::Username;
use crate::domain::ids::{ClipId, UserId};
use crate::domain::model::{Session, User};
use crate::domain::tournament::ClipStatus;
use crate::store::tables::meta_keys;

/// Why an account command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// Someone already has this username.
    #[error("that username is taken")]
    UsernameTaken,
    /// No such user.
    #[error("no such user")]
    UserNotFound,
    /// The user is banned.
    #[error("this account is banned")]
    Banned,
    /// An admin tried to ban or demote themselves: whoever does that could
    /// leave the site with no admin, and no path (API, console, socket,
    /// CLI) may allow it.
    #[error("admins cannot ban or demote themselves")]
    OwnAdminRights,
    /// `admin create` named an existing account and was not told to promote
    /// it: promotion signs the account out everywhere and hands its name
    /// admin rights, so it is never implied.
    #[error("an account with that username exists; promoting it needs confirmation")]
    PromotionNotConfirmed,
}

/// What `admin create` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminUpsert {
    /// A new admin account.
    Created,
    /// An existing account made admin, its password set and every session
    /// of it signed out.
    Promoted,
}

/// A session to store for a user who just signed in.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// blake3 of the cookie token (the token itself is never stored).
    pub token_hash: [u8; 32],
    /// How long it lives.
    pub ttl_secs: u64,
}

impl WriterHandle {
    /// Creates a user; `Err(UsernameTaken)` when the name exists.
    pub async fn create_user(&self, username: Username, password_hash: String) -> Result<User, WriteError> {
        self.run(move |batch| Ok(batch.create_user(&username, password_hash, false)?.map_err(WriteError::from))).await
    }

    /// Creates an admin, or — when `promote_existing` — makes an existing
    /// user admin with a new password and signs out every session of it
    /// (whoever registered the name first must not keep an admin cookie).
    /// Used by `aimoviez admin create`; audit-logged.
    pub async fn upsert_admin(
        &self,
        username: Username,
        password_hash: String,
        promote_existing: bool,
    ) -> Result<(User, AdminUpsert), WriteError> {
        self.run(move |batch| {
            Ok(batch.upsert_admin(&username, password_hash, promote_existing)?.map_err(WriteError::from))
        })
        .await
    }

    /// Sets the signed-in user's own password and signs out every other
    /// session of the account; `keep` (the session that asked) stays.
    pub async fn change_password(&self, user: UserId, password_hash: String, keep: [u8; 32]) -> Result<(), WriteError> {
        self.run(move |batch| Ok(batch.change_password(user, password_hash, keep)?.map_err(WriteError::from))).await
    }

    /// Sets a user's password (`aimoviez admin reset-password`); audit-logged.
    pub async fn reset_password(&self, username: Username, password_hash: String) -> Result<User, WriteError> {
        self.run(move |batch| Ok(batch.reset_password(&username, password_hash)?.map_err(WriteError::from))).await
    }

    /// Stores a session for a user who just proved their password.
    pub async fn create_session(&self, user: UserId, session: NewSession) -> Result<Session, WriteError> {
        self.run(move |batch| Ok(batch.create_session(user, &session)?.map_err(WriteError::from))).await
    }

    /// Extends a session's expiry.
    pub async fn renew_session(&self, token_hash: [u8; 32], ttl_secs: u64) -> Result<(), WriteError> {
        self.run(move |batch| Ok(Ok(batch.renew_session(token_hash, ttl_secs)?))).await
    }

    /// Deletes a session (sign-out).
    pub async fn revoke_session(&self, token_hash: [u8; 32]) -> Result<(), WriteError> {
        self.run(move |batch| {
            batch.remove_session(token_hash)?;
            Ok(Ok(()))
        })
        .await
    }

    /// Bans or unbans a user; a ban revokes all their sessions at once.
    pub async fn set_banned(&self, actor: UserId, user: UserId, banned: bool) -> Result<User, WriteError> {
        self.run(move |batch| Ok(batch.set_banned(actor, user, banned)?.map_err(WriteError::from))).await
    }

    /// Grants or revokes the admin role.
    pub async fn set_admin(&self, actor: UserId, user: UserId, is_admin: bool) -> Result<User, WriteError> {
        self.run(move |batch| Ok(batch.set_admin(actor, user, is_admin)?.map_err(WriteError::from))).await
    }

    /// Deletes an account: profile, username and sessions. Votes stay,
    /// counted, under the bare `u:<id>` key that no longer names anyone.
    pub async fn delete_user(&self, user: UserId) -> Result<(), WriteError> {
        self.run(move |batch| Ok(batch.delete_user(user)?.map_err(WriteError::from))).await
    }
}

impl Batch<'_> {
    pub(super) fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        match self.users.get(id.get())? {
            Some(bytes) => Ok(Some(records::user_from_bytes(bytes.value())?)),
            None => Ok(None),
        }
    }

    fn user_by_name(&self, username: &Username) -> Result<Option<User>, StoreError> {
        match self.usernames.get(username.as_str())?.map(|v| v.value()).and_then(UserId::new) {
            Some(id) => self.user(id),
            None => Ok(None),
        }
    }

    pub(super) fn put_user(&mut self, user: &User) -> Result<(), StoreError> {
        self.users.insert(user.id.get(), records::encode(&UserRecord::from(user)).as_slice())?;
        self.usernames.insert(user.username.as_str(), user.id.get())?;
        Ok(())
    }

    pub(super) fn create_user(
        &mut self,
        username: &Username,
        password_hash: String,
        is_admin: bool,
    ) -> Result<Result<User, AccountError>, StoreError> {
        if self.usernames.get(username.as_str())?.is_some() {
            return Ok(Err(AccountError::UsernameTaken));
        }
        let id = UserId::new(self.next_id(meta_keys::NEXT_USER_ID)?)
            .ok_or(StoreError::Corrupt { what: "meta", reason: "zero user id".into() })?;
        let user = User {
            id,
            username: username.as_str().to_owned(),
            password_hash,
            is_admin,
            banned: false,
            created_at: self.now,
        };
        self.put_user(&user)?;
        self.init_social(id)?;
        Ok(Ok(user))
    }

    fn upsert_admin(
        &mut self,
        username: &Username,
        password_hash: String,
        promote_existing: bool,
    ) -> Result<Result<(User, AdminUpsert), AccountError>, StoreError> {
        let (user, outcome) = match self.user_by_name(username)? {
            Some(_) if !promote_existing => return Ok(Err(AccountError::PromotionNotConfirmed)),
            Some(mut user) => {
                user.is_admin = true;
                user.banned = false;
                user.password_hash = password_hash;
                self.put_user(&user)?;
                // Sessions opened before the promotion belong to whoever
                // knew the old password; none of them becomes an admin's.
                self.remove_user_sessions(user.id)?;
                (user, AdminUpsert::Promoted)
            }
            None => match self.create_user(username, password_hash, true)? {
                Ok(user) => (user, AdminUpsert::Created),
                Err(_) => return Err(StoreError::Corrupt { what: "user", reason: "username index disagrees".into() }),
            },
        };
        let action = match outcome {
            AdminUpsert::Created => "create_admin",
            AdminUpsert::Promoted => "promote_admin",
        };
        self.audit(None, action, format!("user:{}", user.id), format!("username={}", user.username))?;
        self.events.push(CommittedEvent::UserChanged { user: user.id, is_admin: true });
        Ok(Ok((user, outcome)))
    }

    fn change_password(
        &mut self,
        user: UserId,
        password_hash: String,
        keep: [u8; 32],
    ) -> Result<Result<(), AccountError>, StoreError> {
        let Some(mut account) = self.user(user)? else { return Ok(Err(AccountError::UserNotFound)) };
        if account.banned {
            return Ok(Err(AccountError::Banned));
        }
        account.password_hash = password_hash;
        self.put_user(&account)?;
        self.remove_user_sessions_except(user, Some(keep))?;
        Ok(Ok(()))
    }

    fn reset_password(
        &mut self,
        username: &Username,
        password_hash: String,
    ) -> Result<Result<User, AccountError>, StoreError> {
        let Some(mut user) = self.user_by_name(username)? else { return Ok(Err(AccountError::UserNotFound)) };
        user.password_hash = password_hash;
        self.put_user(&user)?;
        // A new password signs out every browser that knew the old one.
        self.remove_user_sessions(user.id)?;
        self.audit(None, "reset_password", format!("user:{}", user.id), String::new())?;
        Ok(Ok(user))
    }

    fn create_session(&mut self, user: UserId, new: &NewSession) -> Result<Result<Session, AccountError>, StoreError> {
        let Some(account) = self.user(user)? else { return Ok(Err(AccountError::UserNotFound)) };
        if account.banned {
            return Ok(Err(AccountError::Banned));
        }
        let session = Session { user, created_at: self.now, expires_at: self.now.plus_secs(new.ttl_secs) };
        self.sessions.insert(new.token_hash.as_slice(), records::encode(&SessionRecord::from(&session)).as_slice())?;
        self.user_sessions.insert((user.get(), new.token_hash.as_slice()), ())?;
        self.events.push(CommittedEvent::SessionStored {
            token_hash: new.token_hash,
            user,
            username: account.username,
            is_admin: account.is_admin,
            expires_at: session.expires_at,
        });
        Ok(Ok(session))
    }

    fn renew_session(&mut self, token_hash: [u8; 32], ttl_secs: u64) -> Result<(), StoreError> {
        let Some(bytes) = self.sessions.get(token_hash.as_slice())?.map(|b| b.value().to_vec()) else { return Ok(()) };
        let mut session = records::session_from_bytes(&bytes)?;
        let Some(account) = self.user(session.user)? else { return Ok(()) };
        session.expires_at = self.now.plus_secs(ttl_secs);
        self.sessions.insert(token_hash.as_slice(), records::encode(&SessionRecord::from(&session)).as_slice())?;
        self.events.push(CommittedEvent::SessionStored {
            token_hash,
            user: session.user,
            username: account.username,
            is_admin: account.is_admin,
            expires_at: session.expires_at,
        });
        Ok(())
    }

    pub(super) fn remove_session(&mut self, token_hash: [u8; 32]) -> Result<(), StoreError> {
        if let Some(bytes) = self.sessions.remove(token_hash.as_slice())?.map(|b| b.value().to_vec()) {
            let session = records::session_from_bytes(&bytes)?;
            self.user_sessions.remove((session.user.get(), token_hash.as_slice()))?;
        }
        self.events.push(CommittedEvent::SessionsRevoked { token_hashes: vec![token_hash] });
        Ok(())
    }

    fn remove_user_sessions(&mut self, user: UserId) -> Result<(), StoreError> {
        self.remove_user_sessions_except(user, None)
    }

    /// Removes every session of `user` but `keep`: a range over the user's
    /// own sessions, never a scan of all of them.
    fn remove_user_sessions_except(&mut self, user: UserId, keep: Option<[u8; 32]>) -> Result<(), StoreError> {
        let mut hashes = Vec::new();
        for entry in self.user_sessions.range((user.get(), [].as_slice())..=(user.get(), [0xffu8; 33].as_slice()))? {
            let (key, _) = entry?;
            let (_, hash) = key.value();
            if let Ok(hash) = <[u8; 32]>::try_from(hash)
                && Some(hash) != keep
            {
                hashes.push(hash);
            }
        }
        for hash in &hashes {
            self.sessions.remove(hash.as_slice())?;
            self.user_sessions.remove((user.get(), hash.as_slice()))?;
        }
        self.events.push(CommittedEvent::SessionsRevoked { token_hashes: hashes });
        Ok(())
    }

    fn set_banned(
        &mut self,
        actor: UserId,
        user: UserId,
        banned: bool,
    ) -> Result<Result<User, AccountError>, StoreError> {
        if banned && actor == user {
            return Ok(Err(AccountError::OwnAdminRights));
        }
        let Some(mut account) = self.user(user)? else { return Ok(Err(AccountError::UserNotFound)) };
        account.banned = banned;
        self.put_user(&account)?;
        if banned {
            self.remove_user_sessions(user)?;
        }
        let action = if banned { "ban_user" } else { "unban_user" };
        self.audit(Some(actor), action, format!("user:{user}"), format!("username={}", account.username))?;
        Ok(Ok(account))
    }

    fn set_admin(
        &mut self,
        actor: UserId,
        user: UserId,
        is_admin: bool,
    ) -> Result<Result<User, AccountError>, StoreError> {
        if !is_admin && actor == user {
            return Ok(Err(AccountError::OwnAdminRights));
        }
        let Some(mut account) = self.user(user)? else { return Ok(Err(AccountError::UserNotFound)) };
        account.is_admin = is_admin;
        self.put_user(&account)?;
        let action = if is_admin { "grant_admin" } else { "revoke_admin" };
        self.audit(Some(actor), action, format!("user:{user}"), format!("username={}", account.username))?;
        self.events.push(CommittedEvent::UserChanged { user, is_admin });
        Ok(Ok(account))
    }

    fn delete_user(&mut self, user: UserId) -> Result<Result<(), AccountError>, StoreError> {
        let Some(account) = self.user(user)? else { return Ok(Err(AccountError::UserNotFound)) };
        self.remove_user_sessions(user)?;
        self.usernames.remove(account.username.as_str())?;
        self.users.remove(user.get())?;
        let mut vote_keys = Vec::new();
        for entry in self.user_votes.range((user.get(), 0)..=(user.get(), u64::MAX))? {
            vote_keys.push(entry?.0.value());
        }
        for key in vote_keys {
            self.user_votes.remove(key)?;
        }
        // Uploads go with the account: clips still competing or waiting are
        // withdrawn; a clip that already won a slot stays in the film, credited
        // to no one. Counters are untouched, so recounts still agree.
        let mut clip_keys = Vec::new();
        for entry in self.user_clips.range((user.get(), 0)..=(user.get(), u64::MAX))? {
            clip_keys.push(entry?.0.value());
        }
        for key in clip_keys {
            if let Some(mut clip) = ClipId::new(key.1).map(|id| self.clip(id)).transpose()?.flatten() {
                let previous = clip.status;
                if matches!(clip.status, ClipStatus::Pending | ClipStatus::Active) {
                    clip.status = ClipStatus::Rejected;
                    clip.rejection_reason = "the creator deleted their account".into();
                }
                clip.creator_username = "deleted".into();
                self.put_clip(&clip, Some(previous))?;
                self.structure_changed();
            }
            self.user_clips.remove(key)?;
        }
        self.delete_comments_of(user)?;
        self.forget_social(user)?;
        self.audit(Some(user), "delete_account", format!("user:{user}"), String::new())?;
        Ok(Ok(()))
    }
}
