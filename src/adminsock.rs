//! The local admin socket: `aimoviez admin …` talks to a running server
//! through `DATA_DIR/admin.sock` (mode 0600, in a 0700 directory), so account
//! operations work while the server runs — redb allows one process per file,
//! and the single writer stays the only writer. With no server running the
//! CLI opens the data dir itself and runs the same operation.
//!
//! Protocol: one JSON request line, one JSON reply line. Passwords travel
//! only over this socket, never in argv or logs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::accounts::{self, AdminOperation};
use crate::store::writer::WriterHandle;

/// File name of the socket inside the data dir.
pub const SOCKET_NAME: &str = "admin.sock";

/// A request from the CLI.
#[derive(Debug, Serialize, Deserialize)]
pub struct AdminRequest {
    /// What to do.
    pub operation: AdminOperation,
    /// For whom.
    pub username: String,
    /// The new password.
    pub password: String,
}

/// The server's answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct AdminReply {
    /// The user id on success.
    pub user_id: Option<u64>,
    /// The error on failure.
    pub error: Option<String>,
}

/// Path of the socket for a data dir.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// Listens on the socket until the task is aborted.
#[cfg(unix)]
pub fn serve(data_dir: &Path, writer: WriterHandle) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use std::os::unix::fs::PermissionsExt;
    let path = socket_path(data_dir);
    // A socket file left by a crashed server would make bind fail.
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let writer = writer.clone();
            tokio::spawn(async move {
                if let Err(error) = handle(stream, &writer).await {
                    tracing::warn!(error = %error, "admin socket request failed");
                }
            });
        }
    }))
}

#[cfg(unix)]
async fn handle(stream: tokio::net::UnixStream, writer: &WriterHandle) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    // One bounded line: a request is a few hundred bytes.
    let mut reader = tokio::io::AsyncReadExt::take(BufReader::new(read), 16 * 1024);
    reader.read_line(&mut line).await?;
    let reply = match serde_json::from_str::<AdminRequest>(&line) {
        Ok(request) => {
            match accounts::run_admin_operation(writer, request.operation, &request.username, &request.password).await {
                Ok(user) => {
                    tracing::info!(user.id = %user.id, operation = ?request.operation, "admin operation via socket");
                    AdminReply { user_id: Some(user.id.get()), error: None }
                }
                Err(error) => AdminReply { user_id: None, error: Some(error) },
            }
        }
        Err(_) => AdminReply { user_id: None, error: Some("malformed request".into()) },
    };
    let mut text = serde_json::to_string(&reply).unwrap_or_default();
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    write.shutdown().await
}

/// Sends a request to a running server; `Ok(None)` when no server listens.
#[cfg(unix)]
pub fn send(data_dir: &Path, request: &AdminRequest) -> std::io::Result<Option<AdminReply>> {
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
    let mut reply = String::new();
    std::io::BufReader::new(&stream).read_line(&mut reply)?;
    serde_json::from_str(&reply).map(Some).map_err(std::io::Error::other)
}
