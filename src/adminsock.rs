//! The local admin socket: `aimoviez admin …` and `aimoviez backup` talk to a
//! running server through `DATA_DIR/admin.sock` (mode 0600, in a 0700
//! directory), so account operations and backups work while the server
//! runs — redb allows one process per file, and the single writer stays the
//! only writer. With no server running the CLI opens the data dir itself and
//! runs the same operation.
//!
//! Protocol: one JSON request line, tagged by `operation`
//! (`create_admin` / `reset_password` with `username` and `password` —
//! `create_admin` also `promote_existing`, without which an existing account
//! is refused with `needs_confirmation` — or `backup` with an absolute
//! `dest`). The server answers with one JSON reply line (an account
//! operation's carries `user_id` and `outcome`: created, promoted or
//! password_reset); a backup first sends any number of progress lines
//! (`{"progress": "…"}`), then the reply with the `backup` summary or the
//! `error`. Passwords travel only over this socket, never in argv or logs.

use std::path::{Path, PathBuf};
#[cfg(unix)]
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::service::accounts::{self, AdminOperation, AdminOutcome};
use crate::store::Store;
use crate::store::backup::{self, BackupSummary};
use crate::store::writer::WriterHandle;

/// File name of the socket inside the data dir.
pub const SOCKET_NAME: &str = "admin.sock";

/// A request from the CLI, tagged by `operation` on the wire.
#[derive(Serialize, Deserialize)]
#[serde(tag = "operation", rename_all = "snake_case")]
pub enum AdminRequest {
    /// Create an admin, or promote an existing user, set their password and
    /// sign out their sessions.
    CreateAdmin {
        /// For whom.
        username: String,
        /// The new password.
        password: String,
        /// Whether an existing account may be promoted (the operator
        /// confirmed, passed `--yes`, or is not at a terminal).
        #[serde(default)]
        promote_existing: bool,
    },
    /// Set a user's password and sign out all their sessions.
    ResetPassword {
        /// For whom.
        username: String,
        /// The new password.
        password: String,
    },
    /// Take a backup of the data dir into `dest` (absolute; absent or empty).
    Backup {
        /// The backup directory, as the server will see it.
        dest: PathBuf,
    },
}

impl AdminRequest {
    /// An account operation; `promote_existing` matters only to `CreateAdmin`.
    pub fn account(
        operation: AdminOperation,
        username: String,
        password: String,
        promote_existing: bool,
    ) -> AdminRequest {
        match operation {
            AdminOperation::CreateAdmin => AdminRequest::CreateAdmin { username, password, promote_existing },
            AdminOperation::ResetPassword => AdminRequest::ResetPassword { username, password },
        }
    }

    /// The account operation this request asks for, if it is one: the
    /// operation, username, password and whether promotion is allowed.
    pub fn account_operation(&self) -> Option<(AdminOperation, &str, &str, bool)> {
        match self {
            AdminRequest::CreateAdmin { username, password, promote_existing } => {
                Some((AdminOperation::CreateAdmin, username.as_str(), password.as_str(), *promote_existing))
            }
            AdminRequest::ResetPassword { username, password } => {
                Some((AdminOperation::ResetPassword, username.as_str(), password.as_str(), false))
            }
            AdminRequest::Backup { .. } => None,
        }
    }
}

impl std::fmt::Debug for AdminRequest {
    /// Never prints a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminRequest::CreateAdmin { username, promote_existing, .. } => f
                .debug_struct("CreateAdmin")
                .field("username", username)
                .field("promote_existing", promote_existing)
                .finish(),
            AdminRequest::ResetPassword { username, .. } => {
                f.debug_struct("ResetPassword").field("username", username).finish()
            }
            AdminRequest::Backup { dest } => f.debug_struct("Backup").field("dest", dest).finish(),
        }
    }
}

/// The server's answer (or, for a backup, one progress line before it).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AdminReply {
    /// The user id on success of an account operation.
    pub user_id: Option<u64>,
    /// The error on failure.
    pub error: Option<String>,
    /// What an account operation did, on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<AdminOutcome>,
    /// The refusal is only for want of confirmation: `create_admin` named an
    /// existing account without `promote_existing`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_confirmation: bool,
    /// Work done so far; a line with only this is not the final reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// The backup taken, on success of a backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupSummary>,
}

impl AdminReply {
    fn failed(error: impl Into<String>) -> AdminReply {
        AdminReply { error: Some(error.into()), ..AdminReply::default() }
    }

    /// Whether this line only reports progress (more lines follow).
    pub fn is_progress(&self) -> bool {
        self.progress.is_some()
            && self.user_id.is_none()
            && self.error.is_none()
            && self.outcome.is_none()
            && self.backup.is_none()
    }
}

/// Path of the socket for a data dir.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// What the socket's requests act on.
#[cfg(unix)]
struct Context {
    data_dir: PathBuf,
    writer: WriterHandle,
    /// Needed for backups (a read transaction on the open database).
    store: Option<Store>,
}

/// Listens on the socket until the task is aborted. Account operations
/// only: a backup request is answered with an error (see [`serve_with_store`]).
#[cfg(unix)]
pub fn serve(data_dir: &Path, writer: WriterHandle) -> std::io::Result<tokio::task::JoinHandle<()>> {
    listen(Context { data_dir: data_dir.to_owned(), writer, store: None })
}

/// Listens on the socket until the task is aborted, answering account
/// operations and backups (taken from `store`, the server's open database).
#[cfg(unix)]
pub fn serve_with_store(
    data_dir: &Path,
    writer: WriterHandle,
    store: Store,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    listen(Context { data_dir: data_dir.to_owned(), writer, store: Some(store) })
}

#[cfg(unix)]
fn listen(context: Context) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use std::os::unix::fs::PermissionsExt;
    let path = socket_path(&context.data_dir);
    // A socket file left by a crashed server would make bind fail.
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let context = Arc::new(context);
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let context = context.clone();
            tokio::spawn(async move {
                if let Err(error) = handle(stream, &context).await {
                    tracing::warn!(error = %error, "admin socket request failed");
                }
            });
        }
    }))
}

#[cfg(unix)]
async fn handle(stream: tokio::net::UnixStream, context: &Context) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    // One bounded line: a request is a few hundred bytes.
    let mut reader = tokio::io::AsyncReadExt::take(BufReader::new(read), 16 * 1024);
    reader.read_line(&mut line).await?;
    let reply = match serde_json::from_str::<AdminRequest>(&line) {
        Ok(AdminRequest::Backup { dest }) => run_backup(context, dest, &mut write).await?,
        Ok(request) => match request.account_operation() {
            Some((operation, username, password, promote_existing)) => {
                let result =
                    accounts::run_admin_operation(&context.writer, operation, username, password, promote_existing)
                        .await;
                match result {
                    Ok((user, outcome)) => {
                        tracing::info!(user.id = %user.id, outcome = ?outcome, "admin operation via socket");
                        AdminReply { user_id: Some(user.id.get()), outcome: Some(outcome), ..AdminReply::default() }
                    }
                    Err(refusal) => AdminReply {
                        needs_confirmation: refusal.needs_confirmation,
                        ..AdminReply::failed(refusal.message)
                    },
                }
            }
            None => AdminReply::failed("unsupported request"),
        },
        Err(_) => AdminReply::failed("malformed request"),
    };
    write_line(&mut write, &reply).await?;
    write.shutdown().await
}

#[cfg(unix)]
async fn write_line(write: &mut tokio::net::unix::OwnedWriteHalf, reply: &AdminReply) -> std::io::Result<()> {
    let mut text = serde_json::to_string(reply).unwrap_or_default();
    text.push('\n');
    write.write_all(text.as_bytes()).await
}

/// Takes the backup on the blocking pool (one read transaction: the writer
/// keeps committing), streaming progress lines; returns the final reply.
#[cfg(unix)]
async fn run_backup(
    context: &Context,
    dest: PathBuf,
    write: &mut tokio::net::unix::OwnedWriteHalf,
) -> std::io::Result<AdminReply> {
    let Some(store) = context.store.clone() else {
        return Ok(AdminReply::failed(
            "this server does not take backups through its admin socket; stop it and run `aimoviez backup` offline",
        ));
    };
    if !dest.is_absolute() {
        return Ok(AdminReply::failed(format!("the backup destination must be an absolute path: {}", dest.display())));
    }
    tracing::info!(dest = %dest.display(), "backup via admin socket started");
    let (progress, mut updates) = tokio::sync::mpsc::unbounded_channel::<String>();
    let data_dir = context.data_dir.clone();
    let target = dest.clone();
    let task = tokio::task::spawn_blocking(move || {
        backup::backup_data_dir(&store, &data_dir, &target, |update| {
            let _ = progress.send(update.to_string());
        })
    });
    // The channel closes when the backup returns (its closure is dropped).
    // A client that hangs up does not stop the backup; it still completes.
    while let Some(update) = updates.recv().await {
        write_line(write, &AdminReply { progress: Some(update), ..AdminReply::default() }).await?;
    }
    Ok(match task.await {
        Ok(Ok(summary)) => {
            tracing::info!(
                dest = %dest.display(),
                rows = summary.database.total_rows(),
                media.files = summary.media.files,
                "backup via admin socket complete"
            );
            AdminReply { backup: Some(summary), ..AdminReply::default() }
        }
        Ok(Err(error)) => {
            tracing::warn!(dest = %dest.display(), error = %error, "backup via admin socket failed");
            AdminReply::failed(error.to_string())
        }
        Err(join) => AdminReply::failed(format!("the backup task failed: {join}")),
    })
}

/// Sends a request to a running server; `Ok(None)` when no server listens.
#[cfg(unix)]
pub fn send(data_dir: &Path, request: &AdminRequest) -> std::io::Result<Option<AdminReply>> {
    send_with_progress(data_dir, request, |_| {})
}

/// Like [`send`], passing each progress line to `on_progress` until the
/// final reply arrives.
#[cfg(unix)]
pub fn send_with_progress(
    data_dir: &Path,
    request: &AdminRequest,
    mut on_progress: impl FnMut(&str),
) -> std::io::Result<Option<AdminReply>> {
    use std::io::{BufRead, Write};
    let stream = match std::os::unix::net::UnixStream::connect(socket_path(data_dir)) {
        Ok(stream) => stream,
        Err(error) if matches!(error.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
            return Ok(None);
        }
        Err(error) => return Err(error),
    };
    let mut line = serde_json::to_string(request).map_err(std::io::Error::other)?;
    line.push('\n');
    (&stream).write_all(line.as_bytes())?;
    let mut reader = std::io::BufReader::new(&stream);
    loop {
        let mut text = String::new();
        if reader.read_line(&mut text)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the admin socket without an answer",
            ));
        }
        let reply: AdminReply = serde_json::from_str(&text).map_err(std::io::Error::other)?;
        match &reply.progress {
            Some(progress) if reply.is_progress() => on_progress(progress),
            _ => return Ok(Some(reply)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_requests_keep_their_wire_format() {
        let request = AdminRequest::account(AdminOperation::CreateAdmin, "ann".into(), "secret pass".into(), true);
        let json: serde_json::Value = serde_json::to_value(&request).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "operation": "create_admin", "username": "ann", "password": "secret pass", "promote_existing": true
            })
        );
        // Without the flag (an older CLI), an existing account is never promoted.
        let older: AdminRequest =
            serde_json::from_str(r#"{"operation":"create_admin","username":"ann","password":"secret pass"}"#)
                .expect("parse");
        assert_eq!(older.account_operation(), Some((AdminOperation::CreateAdmin, "ann", "secret pass", false)));
        let parsed: AdminRequest =
            serde_json::from_str(r#"{"operation":"reset_password","username":"bob","password":"long enough"}"#)
                .expect("parse");
        assert_eq!(parsed.account_operation(), Some((AdminOperation::ResetPassword, "bob", "long enough", false)));
        assert!(!format!("{parsed:?}").contains("long enough"), "Debug never shows a password");
    }

    #[test]
    fn a_backup_request_names_its_destination() {
        let parsed: AdminRequest =
            serde_json::from_str(r#"{"operation":"backup","dest":"/srv/backups/today"}"#).expect("parse");
        assert!(matches!(parsed, AdminRequest::Backup { ref dest } if dest == Path::new("/srv/backups/today")));
        assert!(parsed.account_operation().is_none());
        let progress: AdminReply = serde_json::from_str(r#"{"progress":"media: 3 files"}"#).expect("parse");
        assert!(progress.is_progress());
        let old_reply: AdminReply = serde_json::from_str(r#"{"user_id":3,"error":null}"#).expect("parse");
        assert!(!old_reply.is_progress());
    }
}
