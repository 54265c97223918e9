//! Video uploads: a multipart body streamed to a temp file, checked by
//! content, and moved to its content-addressed name, with a poster.
//!
//! The `file` part is never held in memory: each chunk is hashed (blake3),
//! counted against the byte cap and written to a temp file in
//! `<media root>/.incoming/` (the same file system as the media root, so the
//! final move is a rename). Anything refused — too large, not a video, too
//! long, a bad form field — deletes the temp file, so a refusal leaves
//! nothing behind. The client's file name and declared Content-Type are never
//! read: the content decides.
//!
//! Posters come from ffmpeg when it is available (a frame at about 1 s,
//! 360 px wide, JPEG); otherwise every clip shares one neutral placeholder PNG.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError};
use axum::http::StatusCode;
use tokio::io::AsyncWriteExt;

use super::probe::{self, ProbeError, VideoInfo};
use super::{MediaKind, MediaLibrary, MediaName};

/// The directory under the media root that holds uploads in progress.
pub const INCOMING_DIR: &str = ".incoming";

/// Largest accepted text part (`title`, `description`, `genre`), in bytes,
/// enforced while reading so a huge part cannot exhaust memory.
const MAX_TEXT_FIELD_BYTES: usize = 4096;
/// Bytes gathered before one write to the temp file.
const WRITE_BUFFER_BYTES: usize = 256 * 1024;
/// How long ffmpeg may take to extract a poster before it is killed.
const POSTER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `ffmpeg -version` may take during detection.
const DETECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest poster kept from ffmpeg.
const MAX_POSTER_BYTES: u64 = 4 * 1024 * 1024;
/// Longest piece of client input echoed back in an error message.
const MAX_ECHO_CHARS: usize = 40;

/// The neutral poster used when ffmpeg is not available or fails: a 90×160
/// (9:16) dark grey (#1c1c1c) 8-bit greyscale PNG, 134 bytes.
pub const PLACEHOLDER_POSTER_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x5a, 0x00, 0x00, 0x00, 0xa0, 0x08, 0x00, 0x00, 0x00, 0x00, 0xa9, 0xca, 0x24, 0xa1, 0x00, 0x00, 0x00, 0x4d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0xda, 0xed, 0xcc, 0x31, 0x01, 0x00, 0x00, 0x0c, 0x02, 0x20, 0x83, 0xd8, 0x3f, 0xa7, 0x05,
    0xf6, 0xee, 0x83, 0x00, 0xa4, 0x6f, 0xa2, 0x56, 0xab, 0xd5, 0x6a, 0xb5, 0x5a, 0xad, 0x56, 0xab, 0xd5, 0x6a, 0xb5,
    0x5a, 0xad, 0x56, 0xab, 0xd5, 0x6a, 0xb5, 0x5a, 0xad, 0x56, 0xab, 0xd5, 0x6a, 0xb5, 0x5a, 0xad, 0x56, 0xab, 0xd5,
    0x6a, 0xb5, 0x5a, 0xad, 0x56, 0xab, 0xd5, 0x6a, 0xb5, 0x5a, 0xad, 0x56, 0xab, 0xd5, 0x6a, 0xb5, 0x5a, 0x7d, 0x19,
    0x89, 0xd1, 0x27, 0x5b, 0xe1, 0x88, 0xb4, 0xc2, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60,
    0x82,
];

/// What an upload may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest video file, in bytes, enforced while streaming.
    pub max_bytes: u64,
    /// Longest video, in milliseconds (equal passes).
    pub max_duration_ms: u32,
    /// Longest title, in characters after trimming.
    pub max_title_chars: usize,
    /// Longest description, in characters after trimming.
    pub max_description_chars: usize,
    /// Allowed genres, lowercase.
    pub genres: Vec<String>,
    /// The ffmpeg binary used for posters (see [`detect_ffmpeg`]); `None`
    /// uses the placeholder poster.
    pub ffmpeg: Option<PathBuf>,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_bytes: 50 * 1024 * 1024,
            max_duration_ms: 8500,
            max_title_chars: 80,
            max_description_chars: 500,
            genres: [
                "action",
                "comedy",
                "drama",
                "horror",
                "sci-fi",
                "thriller",
                "romance",
                "animation",
                "documentary",
            ]
            .into_iter()
            .map(str::to_owned)
            .collect(),
            ffmpeg: None,
        }
    }
}

/// The validated text fields of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadForm {
    /// Trimmed, 1..=max characters, no control characters.
    pub title: String,
    /// Trimmed, 0..=max characters, line breaks kept as `\n`.
    pub description: String,
    /// One of the allowed genres, lowercase.
    pub genre: String,
}

/// A stored upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpload {
    /// The video's content address.
    pub video: MediaName,
    /// The poster's content address (JPEG from ffmpeg, or the shared PNG
    /// placeholder).
    pub poster: MediaName,
    /// What the probe learned about the video.
    pub info: VideoInfo,
    /// The validated text fields.
    pub form: UploadForm,
    /// The same bytes were already stored (nothing new was written).
    pub duplicate: bool,
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The file (or the request body) is larger than allowed → 413.
    #[error("the video is larger than the {} limit", format_bytes(*.max_bytes))]
    TooLarge {
        /// The limit in bytes.
        max_bytes: u64,
    },
    /// The file is not an MP4, MOV or WebM video, judged by content → 415.
    #[error("{0}")]
    UnsupportedMedia(String),
    /// A form field is missing, repeated, unknown or invalid, or the video is
    /// too long or malformed → 400.
    #[error("{0}")]
    Invalid(String),
    /// The server failed to read or write a file → 500.
    #[error("upload storage failed: {0}")]
    Io(#[from] io::Error),
}

impl UploadError {
    /// The HTTP status this refusal maps to.
    pub fn status(&self) -> StatusCode {
        match self {
            UploadError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UploadError::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            UploadError::Invalid(_) => StatusCode::BAD_REQUEST,
            UploadError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The received `file` part: a temp file (deleted on drop) and its hash.
struct Received {
    path: tempfile::TempPath,
    hash: blake3::Hash,
    len: u64,
}

/// Streams the multipart body: text fields `title`, `description`
/// (optional) and `genre`, and one `file` part, in any order. The file is
/// streamed chunk by chunk into a temp file in `<media root>/.incoming/`,
/// hashed as it arrives, and refused with [`UploadError::TooLarge`] as soon
/// as the running total passes `max_bytes`. Then the file is probed (on the
/// blocking pool), moved to its content address (fsync of the file before the
/// rename and of the directory after; existing bytes → `duplicate`), and a
/// poster is made. Every refusal deletes the temp file.
pub async fn receive_upload(
    mut multipart: Multipart,
    library: Arc<MediaLibrary>,
    limits: &UploadLimits,
) -> Result<StoredUpload, UploadError> {
    let incoming = library.root().join(INCOMING_DIR);
    let mut title = None;
    let mut description = None;
    let mut genre = None;
    let mut received: Option<Received> = None;

    while let Some(mut field) = multipart.next_field().await.map_err(|error| multipart_error(error, limits))? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "title" => {
                ensure_once(title.is_none(), "title")?;
                let text = read_text(&mut field, "title", limits).await?;
                title = Some(validate_title(&text, limits)?);
            }
            "description" => {
                ensure_once(description.is_none(), "description")?;
                let text = read_text(&mut field, "description", limits).await?;
                description = Some(validate_description(&text, limits)?);
            }
            "genre" => {
                ensure_once(genre.is_none(), "genre")?;
                let text = read_text(&mut field, "genre", limits).await?;
                genre = Some(validate_genre(&text, limits)?);
            }
            "file" => {
                ensure_once(received.is_none(), "file")?;
                received = Some(receive_file(&mut field, &incoming, limits).await?);
            }
            other => {
                return Err(UploadError::Invalid(format!(
                    "unknown field {}; expected title, description, genre and file",
                    echo(other)
                )));
            }
        }
    }

    let received = received.ok_or_else(|| missing("file"))?;
    let form = UploadForm {
        title: title.ok_or_else(|| missing("title"))?,
        description: description.unwrap_or_default(),
        genre: genre.ok_or_else(|| missing("genre"))?,
    };
    if received.len == 0 {
        return Err(UploadError::Invalid("the uploaded file is empty".to_owned()));
    }

    let max_ms = limits.max_duration_ms;
    let store_library = library.clone();
    let (video, info, duplicate) = tokio::task::spawn_blocking(move || store_video(&store_library, received, max_ms))
        .await
        .map_err(join_error)??;

    let poster_library = library.clone();
    let video_path = library.path_of(&video);
    let ffmpeg = limits.ffmpeg.clone();
    let seek_ms = (info.duration_ms / 2).min(1000);
    let poster =
        tokio::task::spawn_blocking(move || make_poster(&poster_library, ffmpeg.as_deref(), &video_path, seek_ms))
            .await
            .map_err(join_error)??;

    tracing::debug!(video = %video.relative_path(), poster = %poster.relative_path(), duplicate, "upload stored");
    Ok(StoredUpload { video, poster, info, form, duplicate })
}

/// Removes leftovers in `<media root>/.incoming/` (temp files orphaned by a
/// crash). Call at start-up, before uploads are accepted. Returns how many
/// entries were removed.
pub fn clean_incoming(library: &MediaLibrary) -> io::Result<usize> {
    let dir = library.root().join(INCOMING_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
        removed += 1;
    }
    Ok(removed)
}

/// Finds ffmpeg: the configured path if it exists and runs, else `ffmpeg` on
/// `PATH` (checked with `ffmpeg -version`), else `None`. Blocking; call at
/// start-up.
pub fn detect_ffmpeg(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = configured {
        if path.is_file() && runs_version(path) {
            return Some(path.to_owned());
        }
        tracing::warn!(path = %path.display(), "configured ffmpeg does not exist or does not run; looking on PATH");
    }
    let search_path = std::env::var_os("PATH")?;
    std::env::split_paths(&search_path)
        .map(|dir| dir.join("ffmpeg"))
        .find(|candidate| candidate.is_file() && runs_version(candidate))
}

// ---------------------------------------------------------------------------
// Streaming

/// Maps a multipart parse error: a body over the request limit is
/// `TooLarge`, anything else (malformed body, client gone) is `Invalid`.
fn multipart_error(error: MultipartError, limits: &UploadLimits) -> UploadError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        UploadError::TooLarge { max_bytes: limits.max_bytes }
    } else {
        UploadError::Invalid(format!("malformed multipart body: {}", error.body_text()))
    }
}

fn ensure_once(first: bool, name: &str) -> Result<(), UploadError> {
    if first { Ok(()) } else { Err(UploadError::Invalid(format!("field `{name}` appears more than once"))) }
}

fn missing(name: &str) -> UploadError {
    UploadError::Invalid(format!("missing field `{name}`"))
}

/// Reads a text part, refusing it once it passes [`MAX_TEXT_FIELD_BYTES`].
async fn read_text(field: &mut Field<'_>, name: &str, limits: &UploadLimits) -> Result<String, UploadError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|error| multipart_error(error, limits))? {
        if bytes.len() + chunk.len() > MAX_TEXT_FIELD_BYTES {
            return Err(UploadError::Invalid(format!("field `{name}` is longer than {MAX_TEXT_FIELD_BYTES} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| UploadError::Invalid(format!("field `{name}` is not valid UTF-8")))
}

/// Streams the `file` part into a temp file in `incoming`, hashing and
/// counting as it goes. The temp file is deleted if anything fails (the
/// `TempPath` is dropped), including when the request future is dropped.
async fn receive_file(field: &mut Field<'_>, incoming: &Path, limits: &UploadLimits) -> Result<Received, UploadError> {
    let dir = incoming.to_owned();
    let temp = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)?;
        tempfile::Builder::new().prefix("upload-").suffix(".part").tempfile_in(&dir)
    })
    .await
    .map_err(join_error)??;
    let (file, path) = temp.into_parts();
    let mut out = tokio::fs::File::from_std(file);
    let mut hasher = blake3::Hasher::new();
    let mut buffer = Vec::with_capacity(WRITE_BUFFER_BYTES);
    let mut len: u64 = 0;

    while let Some(chunk) = field.chunk().await.map_err(|error| multipart_error(error, limits))? {
        len += chunk.len() as u64;
        if len > limits.max_bytes {
            return Err(UploadError::TooLarge { max_bytes: limits.max_bytes });
        }
        hasher.update(&chunk);
        buffer.extend_from_slice(&chunk);
        if buffer.len() >= WRITE_BUFFER_BYTES {
            out.write_all(&buffer).await?;
            buffer.clear();
        }
    }
    out.write_all(&buffer).await?;
    out.flush().await?;
    out.sync_all().await?;
    drop(out);
    Ok(Received { path, hash: hasher.finalize(), len })
}

// ---------------------------------------------------------------------------
// Validation

/// Client input quoted in an error message: shortened and escaped.
fn echo(text: &str) -> String {
    let short: String = text.chars().take(MAX_ECHO_CHARS).collect();
    if short.len() < text.len() { format!("{:?}…", short) } else { format!("{short:?}") }
}

fn validate_title(text: &str, limits: &UploadLimits) -> Result<String, UploadError> {
    let title = text.trim();
    let chars = title.chars().count();
    if chars == 0 {
        return Err(UploadError::Invalid("the title is empty".to_owned()));
    }
    if chars > limits.max_title_chars {
        return Err(UploadError::Invalid(format!(
            "the title is {chars} characters; the limit is {}",
            limits.max_title_chars
        )));
    }
    if title.chars().any(char::is_control) {
        return Err(UploadError::Invalid("the title contains control characters".to_owned()));
    }
    Ok(title.to_owned())
}

fn validate_description(text: &str, limits: &UploadLimits) -> Result<String, UploadError> {
    let description = text.trim().replace("\r\n", "\n");
    let chars = description.chars().count();
    if chars > limits.max_description_chars {
        return Err(UploadError::Invalid(format!(
            "the description is {chars} characters; the limit is {}",
            limits.max_description_chars
        )));
    }
    if description.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(UploadError::Invalid("the description contains control characters".to_owned()));
    }
    Ok(description)
}

fn validate_genre(text: &str, limits: &UploadLimits) -> Result<String, UploadError> {
    let genre = text.trim().to_lowercase();
    if limits.genres.iter().any(|allowed| allowed.trim().to_lowercase() == genre) {
        return Ok(genre);
    }
    Err(UploadError::Invalid(format!("unknown genre {}; choose one of: {}", echo(&genre), limits.genres.join(", "))))
}

// ---------------------------------------------------------------------------
// Storing

/// Probes the received file and moves it to its content address. Blocking.
fn store_video(
    library: &MediaLibrary,
    received: Received,
    max_ms: u32,
) -> Result<(MediaName, VideoInfo, bool), UploadError> {
    let info = probe::probe_file(&received.path, max_ms).map_err(probe_error)?;
    let hex = received.hash.to_hex();
    let name = MediaName::parse(&format!("{}/{}.{}", &hex[..2], hex, info.container.extension()))
        .ok_or_else(|| io::Error::other("content address did not parse"))?;
    let target = library.path_of(&name);
    if target.exists() {
        // `received` drops here, deleting the temp file.
        return Ok((name, info, true));
    }
    let shard = target.parent().unwrap_or(library.root()).to_owned();
    if !shard.exists() {
        std::fs::create_dir_all(&shard)?;
        sync_dir(library.root())?;
    }
    // The temp file was fsynced when it was received; the rename never
    // replaces an existing file (a concurrent upload of the same bytes wins).
    match received.path.persist_noclobber(&target) {
        Ok(()) => {}
        Err(error) if error.error.kind() == io::ErrorKind::AlreadyExists => return Ok((name, info, true)),
        Err(error) => return Err(UploadError::Io(error.error)),
    }
    sync_dir(&shard)?;
    Ok((name, info, false))
}

fn probe_error(error: ProbeError) -> UploadError {
    match error {
        ProbeError::NotAVideo => {
            UploadError::UnsupportedMedia("the file is not a video; MP4, MOV or WebM is expected".to_owned())
        }
        ProbeError::Truncated(reason) => {
            UploadError::Invalid(format!("the video file is truncated or malformed: {reason}"))
        }
        ProbeError::NoDuration => UploadError::Invalid("the video's duration could not be determined".to_owned()),
        ProbeError::TooLong { duration_ms, max_ms } => UploadError::Invalid(format!(
            "video is {} s; the limit is {} s",
            tenths_of_second(duration_ms, true),
            tenths_of_second(max_ms, false)
        )),
        ProbeError::Io(message) => UploadError::Io(io::Error::other(message)),
    }
}

/// `8500` → `"8.5"`; rounds up or down so a video just over the limit never
/// reads as equal to it.
fn tenths_of_second(ms: u32, round_up: bool) -> String {
    let tenths = if round_up { ms.div_ceil(100) } else { ms / 100 };
    format!("{}.{}", tenths / 10, tenths % 10)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn join_error(error: tokio::task::JoinError) -> UploadError {
    UploadError::Io(io::Error::other(error))
}

// ---------------------------------------------------------------------------
// Posters

/// A poster for the stored video: a frame from ffmpeg, or the placeholder.
/// Blocking.
fn make_poster(
    library: &MediaLibrary,
    ffmpeg: Option<&Path>,
    video: &Path,
    seek_ms: u32,
) -> Result<MediaName, UploadError> {
    if let Some(ffmpeg) = ffmpeg {
        let incoming = library.root().join(INCOMING_DIR);
        match extract_frame(ffmpeg, video, &incoming, seek_ms) {
            Ok(jpeg) => return Ok(library.store_bytes(&jpeg, MediaKind::Jpeg)?),
            Err(reason) => {
                tracing::warn!(video = %video.display(), %reason, "poster extraction failed; using the placeholder");
            }
        }
    }
    Ok(library.store_bytes(PLACEHOLDER_POSTER_PNG, MediaKind::Png)?)
}

/// `file:<path>`, so ffmpeg never reads a path as a protocol or option.
fn ffmpeg_file_arg(path: &Path) -> OsString {
    let mut arg = OsString::from("file:");
    arg.push(path);
    arg
}

/// Runs ffmpeg to grab one frame at `seek_ms`, scaled to 360 px wide, as
/// JPEG, killing it after [`POSTER_TIMEOUT`].
fn extract_frame(ffmpeg: &Path, video: &Path, incoming: &Path, seek_ms: u32) -> Result<Vec<u8>, String> {
    std::fs::create_dir_all(incoming).map_err(|error| error.to_string())?;
    let output = tempfile::Builder::new()
        .prefix("poster-")
        .suffix(".jpg")
        .tempfile_in(incoming)
        .map_err(|error| error.to_string())?
        .into_temp_path();
    // An unnamed file for ffmpeg's messages: a pipe could fill up and stall
    // it while this thread waits.
    let mut log = tempfile::tempfile_in(incoming).map_err(|error| error.to_string())?;
    let log_for_child = log.try_clone().map_err(|error| error.to_string())?;
    let seek = format!("{}.{:03}", seek_ms / 1000, seek_ms % 1000);

    let mut child = Command::new(ffmpeg)
        .args(["-nostdin", "-loglevel", "error", "-y", "-ss", &seek, "-i"])
        .arg(ffmpeg_file_arg(video))
        .args(["-an", "-sn", "-dn", "-frames:v", "1", "-vf", "scale=360:-2", "-q:v", "5", "-f", "image2"])
        .arg(ffmpeg_file_arg(&output))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_for_child))
        .spawn()
        .map_err(|error| format!("could not run ffmpeg: {error}"))?;
    let status = wait_with_timeout(&mut child, POSTER_TIMEOUT).map_err(|error| error.to_string())?;
    let Some(status) = status else {
        return Err(format!("ffmpeg took longer than {} s and was stopped", POSTER_TIMEOUT.as_secs()));
    };
    if !status.success() {
        let mut message = String::new();
        use std::io::Seek;
        let _ = log.seek(io::SeekFrom::Start(0));
        let _ = (&mut log).take(512).read_to_string(&mut message);
        return Err(format!("ffmpeg failed ({status}): {}", message.trim()));
    }

    let mut jpeg = Vec::new();
    File::open(&output)
        .and_then(|file| file.take(MAX_POSTER_BYTES + 1).read_to_end(&mut jpeg))
        .map_err(|error| error.to_string())?;
    if jpeg.len() as u64 > MAX_POSTER_BYTES {
        return Err("ffmpeg wrote an oversized poster".to_owned());
    }
    if !jpeg.starts_with(&[0xff, 0xd8, 0xff]) {
        return Err("ffmpeg produced no JPEG frame".to_owned());
    }
    Ok(jpeg)
}

/// Waits for the child, killing it after `timeout`; `None` means it was
/// killed.
fn wait_with_timeout(
    child: &mut std::process::Child,
    timeout: Duration,
) -> io::Result<Option<std::process::ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `<path> -version` exits successfully within [`DETECT_TIMEOUT`].
fn runs_version(path: &Path) -> bool {
    let child =
        Command::new(path).arg("-version").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
    match child {
        Ok(mut child) => matches!(wait_with_timeout(&mut child, DETECT_TIMEOUT), Ok(Some(status)) if status.success()),
        Err(_) => false,
    }
}

/// `52428800` → `"50 MiB"`.
fn format_bytes(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    const KIB: u64 = 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::body::Body;
    use axum::extract::{DefaultBodyLimit, State};
    use axum::http::{Request, header};
    use axum::routing::post;
    use axum::{Json, Router};
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::*;

    const BOUNDARY: &str = "aimoviez-test-boundary-3f9a1c07";

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/data/demo/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|error| panic!("fixture {path}: {error}"))
    }

    /// One part of a hand-built multipart body.
    struct Part<'a> {
        name: &'a [u8],
        filename: Option<&'a [u8]>,
        /// Raw Content-Disposition parameters appended after the name.
        raw_params: Option<&'a [u8]>,
        content_type: Option<&'a str>,
        body: &'a [u8],
    }

    fn text<'a>(name: &'a str, value: &'a str) -> Part<'a> {
        Part { name: name.as_bytes(), filename: None, raw_params: None, content_type: None, body: value.as_bytes() }
    }

    fn file<'a>(filename: &'a [u8], content_type: &'a str, body: &'a [u8]) -> Part<'a> {
        Part { name: b"file", filename: Some(filename), raw_params: None, content_type: Some(content_type), body }
    }

    fn file_with_params<'a>(raw_params: &'a [u8], body: &'a [u8]) -> Part<'a> {
        Part { name: b"file", filename: None, raw_params: Some(raw_params), content_type: Some("video/mp4"), body }
    }

    fn multipart_body(parts: &[Part<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        for part in parts {
            out.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"").as_bytes());
            out.extend_from_slice(part.name);
            out.push(b'"');
            if let Some(filename) = part.filename {
                out.extend_from_slice(b"; filename=\"");
                out.extend_from_slice(filename);
                out.push(b'"');
            }
            if let Some(raw_params) = part.raw_params {
                out.extend_from_slice(b"; ");
                out.extend_from_slice(raw_params);
            }
            out.extend_from_slice(b"\r\n");
            if let Some(content_type) = part.content_type {
                out.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(part.body);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        out
    }

    /// The usual valid form around a file part.
    fn form_with<'a>(file_part: Part<'a>) -> Vec<Part<'a>> {
        vec![
            text("title", "  Night Train  "),
            text("description", "A short scene."),
            text("genre", "Sci-Fi "),
            file_part,
        ]
    }

    type Ctx = (Arc<MediaLibrary>, Arc<UploadLimits>);

    async fn upload_handler(State((library, limits)): State<Ctx>, multipart: Multipart) -> (StatusCode, Json<Value>) {
        match receive_upload(multipart, library, &limits).await {
            Ok(stored) => (
                StatusCode::OK,
                Json(json!({
                    "video": stored.video.relative_path(),
                    "poster": stored.poster.relative_path(),
                    "duplicate": stored.duplicate,
                    "container": stored.info.container.extension(),
                    "duration_ms": stored.info.duration_ms,
                    "title": stored.form.title,
                    "description": stored.form.description,
                    "genre": stored.form.genre,
                })),
            ),
            Err(error) => (error.status(), Json(json!({ "error": error.to_string() }))),
        }
    }

    struct Harness {
        dir: tempfile::TempDir,
        library: Arc<MediaLibrary>,
        limits: Arc<UploadLimits>,
        body_limit: usize,
    }

    impl Harness {
        fn new(limits: UploadLimits) -> Harness {
            let dir = tempfile::tempdir().expect("temp dir");
            let library =
                Arc::new(MediaLibrary::open(dir.path().join("media"), 1 << 20, 1 << 20).expect("media library"));
            Harness { dir, library, limits: Arc::new(limits), body_limit: 8 * 1024 * 1024 }
        }

        fn plain() -> Harness {
            Harness::new(test_limits())
        }

        async fn post(&self, body: Vec<u8>) -> (StatusCode, Value) {
            let app = Router::new()
                .route("/upload", post(upload_handler))
                .layer(DefaultBodyLimit::max(self.body_limit))
                .with_state((self.library.clone(), self.limits.clone()));
            let request = Request::post("/upload")
                .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
                .body(Body::from(body))
                .expect("request");
            let response = app.oneshot(request).await.expect("response");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
            let value =
                serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({ "raw": String::from_utf8_lossy(&bytes) }));
            (status, value)
        }

        async fn upload(&self, parts: &[Part<'_>]) -> (StatusCode, Value) {
            self.post(multipart_body(parts)).await
        }

        /// Every file under the temp dir (media root and around it), relative.
        fn files(&self) -> BTreeSet<PathBuf> {
            fn walk(dir: &Path, base: &Path, out: &mut BTreeSet<PathBuf>) {
                for entry in std::fs::read_dir(dir).expect("read dir") {
                    let entry = entry.expect("entry");
                    let path = entry.path();
                    if entry.file_type().expect("file type").is_dir() {
                        walk(&path, base, out);
                    } else {
                        out.insert(path.strip_prefix(base).expect("under base").to_owned());
                    }
                }
            }
            let mut out = BTreeSet::new();
            walk(self.dir.path(), self.dir.path(), &mut out);
            out
        }

        fn incoming_is_empty(&self) -> bool {
            let dir = self.library.root().join(INCOMING_DIR);
            !dir.exists() || std::fs::read_dir(&dir).expect("read incoming").next().is_none()
        }

        /// Uploads `parts`, expects `status`, and checks nothing was left behind.
        async fn refused(&self, parts: &[Part<'_>], status: StatusCode) -> String {
            let before = self.files();
            let (got, body) = self.upload(parts).await;
            assert_eq!(got, status, "{body}");
            assert_eq!(self.files(), before, "a refused upload left files behind");
            assert!(self.incoming_is_empty());
            body["error"].as_str().expect("error message").to_owned()
        }

        fn name(&self, body: &Value, key: &str) -> MediaName {
            MediaName::parse(body[key].as_str().expect("name")).expect("valid media name")
        }
    }

    fn test_limits() -> UploadLimits {
        UploadLimits { genres: vec!["sci-fi".to_owned(), "drama".to_owned()], ffmpeg: None, ..UploadLimits::default() }
    }

    #[tokio::test]
    async fn mp4_is_stored_at_its_content_address_with_a_poster() {
        let harness = Harness::plain();
        let mp4 = fixture("test-short.mp4");
        let (status, body) = harness.upload(&form_with(file(b"clip.mp4", "video/mp4", &mp4))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let video = harness.name(&body, "video");
        assert_eq!(video.kind(), MediaKind::Mp4);
        assert_eq!(video.hash(), blake3::hash(&mp4).to_hex().as_str());
        assert_eq!(std::fs::read(harness.library.path_of(&video)).expect("stored video"), mp4);
        let poster = harness.name(&body, "poster");
        assert!(harness.library.path_of(&poster).is_file());
        assert_eq!(body["duplicate"], false);
        assert_eq!(body["container"], "mp4");
        assert!(body["duration_ms"].as_u64().expect("duration") > 0);
        assert_eq!(body["title"], "Night Train");
        assert_eq!(body["description"], "A short scene.");
        assert_eq!(body["genre"], "sci-fi");
        assert!(harness.incoming_is_empty());
        let expected: BTreeSet<PathBuf> =
            [video, poster].iter().map(|name| PathBuf::from("media").join(name.relative_path())).collect();
        assert_eq!(harness.files(), expected);
    }

    #[tokio::test]
    async fn webm_is_accepted_with_the_file_before_the_text_fields() {
        let harness = Harness::plain();
        let webm = fixture("test-short.webm");
        let parts = [file(b"clip.webm", "video/webm", &webm), text("genre", "drama"), text("title", "Rain")];
        let (status, body) = harness.upload(&parts).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let video = harness.name(&body, "video");
        assert_eq!(video.kind(), MediaKind::Webm);
        assert_eq!(std::fs::read(harness.library.path_of(&video)).expect("stored video"), webm);
        assert_eq!(body["description"], "");
    }

    #[tokio::test]
    async fn the_same_bytes_twice_are_stored_once() {
        let harness = Harness::plain();
        let mp4 = fixture("test-short.mp4");
        let (first_status, first) = harness.upload(&form_with(file(b"a.mp4", "video/mp4", &mp4))).await;
        let (second_status, second) = harness.upload(&form_with(file(b"b.mp4", "video/mp4", &mp4))).await;
        assert_eq!((first_status, second_status), (StatusCode::OK, StatusCode::OK));
        assert_eq!(first["duplicate"], false);
        assert_eq!(second["duplicate"], true);
        assert_eq!(first["video"], second["video"]);
        let videos =
            harness.files().into_iter().filter(|path| path.extension().is_some_and(|ext| ext == "mp4")).count();
        assert_eq!(videos, 1);
        assert!(harness.incoming_is_empty());
    }

    #[tokio::test]
    async fn html_named_like_a_video_is_unsupported_media() {
        let harness = Harness::plain();
        let html = b"<!doctype html><html><body><script>alert(1)</script></body></html>".repeat(20);
        let message = harness
            .refused(&form_with(file(b"clip.mp4", "video/mp4", &html)), StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .await;
        assert!(message.contains("MP4, MOV or WebM"), "{message}");
    }

    #[tokio::test]
    async fn a_file_over_the_cap_is_refused_while_streaming() {
        let harness = Harness::new(UploadLimits { max_bytes: 10_000, ..test_limits() });
        let mp4 = fixture("test-short.mp4");
        assert!(mp4.len() > 10_000);
        let message =
            harness.refused(&form_with(file(b"clip.mp4", "video/mp4", &mp4)), StatusCode::PAYLOAD_TOO_LARGE).await;
        assert!(message.contains("9.8 KiB") || message.contains("10000"), "{message}");
        assert!(harness.library.root().join(INCOMING_DIR).is_dir(), "the temp file was made in .incoming");
    }

    #[tokio::test]
    async fn a_body_over_the_request_limit_is_too_large() {
        let mut harness = Harness::plain();
        harness.body_limit = 5_000;
        let mp4 = fixture("test-short.mp4");
        harness.refused(&form_with(file(b"clip.mp4", "video/mp4", &mp4)), StatusCode::PAYLOAD_TOO_LARGE).await;
    }

    #[tokio::test]
    async fn a_video_over_the_duration_limit_is_invalid() {
        let harness = Harness::plain();
        let long = fixture("test-too-long.mp4");
        let message = harness.refused(&form_with(file(b"long.mp4", "video/mp4", &long)), StatusCode::BAD_REQUEST).await;
        assert!(message.contains("the limit is 8.5 s"), "{message}");
    }

    #[tokio::test]
    async fn a_truncated_video_is_invalid_or_unsupported() {
        let harness = Harness::plain();
        let mp4 = fixture("test-short.mp4");
        let cut = &mp4[..mp4.len() / 3];
        let before = harness.files();
        let (status, body) = harness.upload(&form_with(file(b"cut.mp4", "video/mp4", cut))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(harness.files(), before);
        assert!(harness.incoming_is_empty());
    }

    #[tokio::test]
    async fn bad_forms_are_invalid_and_leave_nothing() {
        let harness = Harness::plain();
        let mp4 = fixture("test-short.mp4");
        let video = || file(b"clip.mp4", "video/mp4", &mp4);
        let long_title = "x".repeat(81);
        let huge_title = "y".repeat(MAX_TEXT_FIELD_BYTES + 1);
        let long_description = "d".repeat(501);
        let cases: Vec<(Vec<Part<'_>>, &str)> = vec![
            (vec![text("genre", "drama"), video()], "missing field `title`"),
            (vec![text("title", "   "), text("genre", "drama"), video()], "title is empty"),
            (vec![text("title", &long_title), text("genre", "drama"), video()], "the limit is 80"),
            (vec![text("title", &huge_title), text("genre", "drama"), video()], "longer than 4096 bytes"),
            (vec![text("title", "a\u{7}b"), text("genre", "drama"), video()], "control characters"),
            (vec![text("title", "T"), text("title", "U"), text("genre", "drama"), video()], "more than once"),
            (vec![text("title", "T"), video()], "missing field `genre`"),
            (vec![text("title", "T"), text("genre", "western"), video()], "choose one of: sci-fi, drama"),
            (vec![text("title", "T"), text("genre", "drama")], "missing field `file`"),
            (vec![text("title", "T"), text("genre", "drama"), video(), video()], "`file` appears more than once"),
            (vec![text("title", "T"), text("genre", "drama"), text("owner", "admin"), video()], "unknown field"),
            (
                vec![text("title", "T"), text("genre", "drama"), text("description", &long_description), video()],
                "the limit is 500",
            ),
            (vec![text("title", "T"), text("genre", "drama"), file(b"empty.mp4", "video/mp4", b"")], "empty"),
        ];
        for (parts, expected) in cases {
            let message = harness.refused(&parts, StatusCode::BAD_REQUEST).await;
            assert!(message.contains(expected), "expected {expected:?} in {message:?}");
        }
        assert!(harness.files().is_empty());
    }

    #[tokio::test]
    async fn a_malformed_body_is_invalid() {
        let harness = Harness::plain();
        let mut body = multipart_body(&[text("title", "T")]);
        body.truncate(body.len() - 20);
        let before = harness.files();
        let (status, _) = harness.post(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(harness.files(), before);
    }

    #[tokio::test]
    async fn hostile_file_names_do_not_matter() {
        let mp4 = fixture("test-short.mp4");
        let quoted: [&[u8]; 4] = [
            b"../../../etc/passwd%00.mp4",
            b"..\\..\\windows\\system32\\x.mp4",
            b"/etc/shadow",
            b"clip.mp4\r\nX-Evil: 1",
        ];
        let encoded: [&[u8]; 2] = [
            b"filename*=UTF-8''..%2F..%2F..%2Fetc%2Fpasswd%00.mp4",
            b"filename=\"x.mp4\"; filename*=UTF-8''%2E%2E%2F%2E%2E%2Fboot%5Cvmlinuz%00.mp4",
        ];
        let parts: Vec<Part<'_>> = quoted
            .iter()
            .map(|name| file(name, "text/html", &mp4))
            .chain(encoded.iter().map(|params| file_with_params(params, &mp4)))
            .collect();
        for part in parts {
            let harness = Harness::plain();
            let (status, body) = harness.upload(&form_with(part)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let video = harness.name(&body, "video");
            let poster = harness.name(&body, "poster");
            let expected: BTreeSet<PathBuf> =
                [video, poster].iter().map(|name| PathBuf::from("media").join(name.relative_path())).collect();
            assert_eq!(harness.files(), expected, "only the content addresses were written");
        }
    }

    #[tokio::test]
    async fn a_raw_nul_in_a_part_header_is_refused_by_the_parser() {
        // multer refuses header bytes like NUL before any field reaches us.
        let harness = Harness::plain();
        let mp4 = fixture("test-short.mp4");
        harness
            .refused(&form_with(file(b"../../../etc/passwd\0.mp4", "video/mp4", &mp4)), StatusCode::BAD_REQUEST)
            .await;
        assert!(harness.files().is_empty());
    }

    #[tokio::test]
    async fn without_ffmpeg_every_clip_shares_the_placeholder_poster() {
        let harness = Harness::plain();
        let mp4 = fixture("test-short.mp4");
        let webm = fixture("test-short.webm");
        let (_, first) = harness.upload(&form_with(file(b"a.mp4", "video/mp4", &mp4))).await;
        let (_, second) = harness.upload(&form_with(file(b"b.webm", "video/webm", &webm))).await;
        assert_ne!(first["video"], second["video"]);
        assert_eq!(first["poster"], second["poster"]);
        let poster = harness.name(&first, "poster");
        assert_eq!(poster.kind(), MediaKind::Png);
        assert_eq!(std::fs::read(harness.library.path_of(&poster)).expect("poster"), PLACEHOLDER_POSTER_PNG);
    }

    #[tokio::test]
    async fn a_failing_ffmpeg_falls_back_to_the_placeholder() {
        let harness = Harness::new(UploadLimits { ffmpeg: Some(PathBuf::from("/bin/false")), ..test_limits() });
        let mp4 = fixture("test-short.mp4");
        let (status, body) = harness.upload(&form_with(file(b"a.mp4", "video/mp4", &mp4))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(harness.name(&body, "poster").kind(), MediaKind::Png);
        assert!(harness.incoming_is_empty());
    }

    #[tokio::test]
    async fn ffmpeg_extracts_a_real_poster_when_installed() {
        let Some(ffmpeg) = detect_ffmpeg(None) else {
            eprintln!("ffmpeg not installed; skipping");
            return;
        };
        let harness = Harness::new(UploadLimits { ffmpeg: Some(ffmpeg), ..test_limits() });
        for (fixture_name, file_name) in [("test-short.mp4", "a.mp4"), ("test-short.webm", "b.webm")] {
            let bytes = fixture(fixture_name);
            let (status, body) = harness.upload(&form_with(file(file_name.as_bytes(), "video/mp4", &bytes))).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let poster = harness.name(&body, "poster");
            assert_eq!(poster.kind(), MediaKind::Jpeg);
            let jpeg = std::fs::read(harness.library.path_of(&poster)).expect("poster");
            assert_eq!(&jpeg[..2], &[0xff, 0xd8]);
            assert_eq!(poster.hash(), blake3::hash(&jpeg).to_hex().as_str());
        }
        assert!(harness.incoming_is_empty());
    }

    #[test]
    fn detect_ffmpeg_falls_back_to_path_when_the_configured_one_is_missing() {
        let missing = Path::new("/nonexistent/bin/ffmpeg");
        assert_eq!(detect_ffmpeg(Some(missing)), detect_ffmpeg(None));
        if let Some(found) = detect_ffmpeg(None) {
            assert_eq!(detect_ffmpeg(Some(&found)), Some(found));
        }
    }

    #[test]
    fn wait_with_timeout_kills_a_slow_child() {
        let mut child = Command::new("sleep").arg("5").spawn().expect("sleep");
        let started = Instant::now();
        assert_eq!(wait_with_timeout(&mut child, Duration::from_millis(100)).expect("wait"), None);
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn clean_incoming_removes_leftovers() {
        let dir = tempfile::tempdir().expect("temp dir");
        let library = MediaLibrary::open(dir.path().join("media"), 1 << 20, 1 << 20).expect("library");
        assert_eq!(clean_incoming(&library).expect("clean"), 0);
        let incoming = library.root().join(INCOMING_DIR);
        std::fs::create_dir_all(incoming.join("stray-dir")).expect("dir");
        std::fs::write(incoming.join("upload-abc.part"), b"half a video").expect("write");
        std::fs::write(incoming.join("poster-abc.jpg"), b"").expect("write");
        let kept = library.store_bytes(b"kept", MediaKind::Png).expect("store");
        assert_eq!(clean_incoming(&library).expect("clean"), 3);
        assert!(std::fs::read_dir(&incoming).expect("read").next().is_none());
        assert!(library.path_of(&kept).is_file());
    }

    #[test]
    fn placeholder_is_a_valid_9_by_16_png() {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut crc = 0xffff_ffffu32;
            for &byte in bytes {
                crc ^= u32::from(byte);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
                }
            }
            !crc
        }
        let png = PLACEHOLDER_POSTER_PNG;
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let mut at = 8;
        let mut kinds = Vec::new();
        while at < png.len() {
            let len = u32::from_be_bytes(png[at..at + 4].try_into().expect("len")) as usize;
            let kind_and_data = &png[at + 4..at + 8 + len];
            let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().expect("crc"));
            assert_eq!(crc32(kind_and_data), crc);
            kinds.push(String::from_utf8_lossy(&kind_and_data[..4]).into_owned());
            if &kind_and_data[..4] == b"IHDR" {
                let width = u32::from_be_bytes(kind_and_data[4..8].try_into().expect("width"));
                let height = u32::from_be_bytes(kind_and_data[8..12].try_into().expect("height"));
                assert_eq!(width * 16, height * 9);
                assert_eq!((width, height), (90, 160));
            }
            at += 12 + len;
        }
        assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
    }

    #[test]
    fn messages_state_the_limits() {
        assert_eq!(tenths_of_second(8500, false), "8.5");
        assert_eq!(tenths_of_second(8501, true), "8.6");
        assert_eq!(tenths_of_second(12_000, true), "12.0");
        assert_eq!(
            UploadError::TooLarge { max_bytes: 50 * 1024 * 1024 }.to_string(),
            "the video is larger than the 50 MiB limit"
        );
        assert_eq!(format_bytes(10_000), "10000 bytes");
        assert_eq!(format_bytes(4096), "4 KiB");
        let too_long = probe_error(ProbeError::TooLong { duration_ms: 9_000, max_ms: 8_500 });
        assert_eq!(too_long.to_string(), "video is 9.0 s; the limit is 8.5 s");
        assert_eq!(too_long.status(), StatusCode::BAD_REQUEST);
        assert_eq!(probe_error(ProbeError::NotAVideo).status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(probe_error(ProbeError::NoDuration).status(), StatusCode::BAD_REQUEST);
    }
}
