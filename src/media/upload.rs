//! Receiving video files: bytes streamed into a temp file, checked by
//! content, and moved to their content-addressed name.
//!
//! The file is never held in memory: each chunk is hashed (blake3), counted
//! against the byte cap and written to a temp file in
//! `<media root>/.incoming/` (the same file system as the media root, so the
//! final move is a rename). [`validate_video`] probes it and makes an
//! MP4/MOV faststart ([`super::faststart`]). Anything refused deletes the
//! temp file, so a refusal leaves nothing behind. The client's file name and declared
//! Content-Type are never read: the content decides. The upload flow around
//! this (form fields, the poster, recording the clip) is
//! `service::uploads`; posters are [`super::poster`].

use std::io;
use std::path::Path;

use tokio::io::AsyncWriteExt;

use super::faststart;
use super::probe::{self, ProbeError, VideoInfo};
use super::{MediaLibrary, MediaName};

/// The directory under the media root that holds uploads in progress.
pub const INCOMING_DIR: &str = ".incoming";

/// Bytes gathered before one write to the temp file.
const WRITE_BUFFER_BYTES: usize = 256 * 1024;

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The file (or the request body) is larger than allowed (`payload_too_large`).
    #[error("the video is larger than the {} limit", format_bytes(*.max_bytes))]
    TooLarge {
        /// The limit in bytes.
        max_bytes: u64,
    },
    /// The file is not an MP4, MOV or WebM video, judged by content (`unsupported_media_type`).
    #[error("{0}")]
    UnsupportedMedia(String),
    /// A form field is missing, repeated, unknown or invalid, or the video is
    /// too long or malformed (`invalid_request`).
    #[error("{0}")]
    Invalid(String),
    /// The server failed to read or write a file (`internal`).
    #[error("upload storage failed: {0}")]
    Io(#[from] io::Error),
}

/// The received `file` part: a temp file (deleted on drop) and its hash.
pub struct Received {
    path: tempfile::TempPath,
    hash: blake3::Hash,
    len: u64,
}

impl Received {
    /// Bytes received.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A video file being received: chunks are hashed, counted against the cap
/// and written to a temp file in `<media root>/.incoming/`, which is deleted
/// if the file is refused or dropped (also when the request goes away).
pub struct IncomingFile {
    out: tokio::fs::File,
    path: tempfile::TempPath,
    hasher: blake3::Hasher,
    buffer: Vec<u8>,
    len: u64,
    max_bytes: u64,
}

impl IncomingFile {
    /// Opens a temp file in the library's incoming directory for a file of
    /// at most `max_bytes`.
    pub async fn create(library: &MediaLibrary, max_bytes: u64) -> Result<IncomingFile, UploadError> {
        let dir = library.root().join(INCOMING_DIR);
        let temp = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            tempfile::Builder::new().prefix("upload-").suffix(".part").tempfile_in(&dir)
        })
        .await
        .map_err(join_error)??;
        let (file, path) = temp.into_parts();
        Ok(IncomingFile {
            out: tokio::fs::File::from_std(file),
            path,
            hasher: blake3::Hasher::new(),
            buffer: Vec::with_capacity(WRITE_BUFFER_BYTES),
            len: 0,
            max_bytes,
        })
    }

    /// Adds the next chunk; refused with [`UploadError::TooLarge`] as soon
    /// as the running total passes the cap.
    pub async fn push(&mut self, chunk: &[u8]) -> Result<(), UploadError> {
        self.len += chunk.len() as u64;
        if self.len > self.max_bytes {
            return Err(UploadError::TooLarge { max_bytes: self.max_bytes });
        }
        self.hasher.update(chunk);
        self.buffer.extend_from_slice(chunk);
        if self.buffer.len() >= WRITE_BUFFER_BYTES {
            self.out.write_all(&self.buffer).await?;
            self.buffer.clear();
        }
        Ok(())
    }

    /// Writes what is buffered and fsyncs the file.
    pub async fn finish(mut self) -> Result<Received, UploadError> {
        self.out.write_all(&self.buffer).await?;
        self.out.flush().await?;
        self.out.sync_all().await?;
        drop(self.out);
        Ok(Received { path: self.path, hash: self.hasher.finalize(), len: self.len })
    }
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

/// A received video that passed the probe, rewritten with `moov` first
/// when it was not: ready to be placed under its content address.
pub struct Validated {
    /// The file to place (deleted when dropped).
    pub file: tempfile::TempPath,
    /// Its content address.
    pub name: MediaName,
    /// What the probe learned (from the file as it will be stored).
    pub info: VideoInfo,
}

/// Probes the received file; an MP4/MOV whose `moov` follows its `mdat` is
/// rewritten faststart (ffmpeg when given, else in-process) and probed again,
/// so what is stored is what was checked. Blocking.
pub fn validate_video(
    library: &MediaLibrary,
    received: Received,
    max_ms: u32,
    ffmpeg: Option<&Path>,
) -> Result<Validated, UploadError> {
    let info = probe::probe_file(&received.path, max_ms).map_err(probe_error)?;
    if info.faststart != Some(false) {
        let name = MediaName::of_hash(&received.hash, info.container.media_kind());
        return Ok(Validated { file: received.path, name, info });
    }
    let incoming = library.root().join(INCOMING_DIR);
    let rewritten = faststart::rewrite(&received.path, &incoming, info.container, ffmpeg).map_err(faststart_error)?;
    drop(received);
    let moved = probe::probe_file(&rewritten.path, max_ms).map_err(probe_error)?;
    if moved.faststart != Some(true) || moved.container != info.container {
        return Err(UploadError::Io(io::Error::other("the faststart rewrite did not put moov first")));
    }
    let name = MediaName::of_hash(&rewritten.hash, moved.container.media_kind());
    Ok(Validated { file: rewritten.path, name, info: moved })
}

/// A faststart rewrite that failed: the video's fault (400), unless the
/// disk is full or read-only, which stays an I/O error (503) rather than a
/// refusal blaming the file.
fn faststart_error(error: io::Error) -> UploadError {
    if matches!(
        error.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::ReadOnlyFilesystem
    ) {
        return UploadError::Io(error);
    }
    tracing::warn!(error = %error, "cannot move the moov box first");
    UploadError::Invalid(format!("the video's index (moov) could not be moved to the front: {error}"))
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
        ProbeError::ExtraPayload { bytes, max } => UploadError::Invalid(format!(
            "the file carries {} that is not audio or video; at most {} is allowed (export the video again without extra data)",
            format_bytes(bytes),
            format_bytes(max)
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

fn join_error(error: tokio::task::JoinError) -> UploadError {
    UploadError::Io(io::Error::other(error))
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
    use super::*;
    use crate::media::MediaKind;

    #[test]
    fn a_faststart_rewrite_on_a_full_disk_is_an_io_error_not_the_videos_fault() {
        for kind in [io::ErrorKind::StorageFull, io::ErrorKind::QuotaExceeded, io::ErrorKind::ReadOnlyFilesystem] {
            let refusal = faststart_error(io::Error::from(kind));
            assert!(matches!(&refusal, UploadError::Io(error) if error.kind() == kind), "{kind:?}: {refusal:?}");
        }
        let refusal = faststart_error(io::Error::new(io::ErrorKind::InvalidData, "no moov"));
        assert!(matches!(refusal, UploadError::Invalid(_)), "a broken index is the video's fault: {refusal:?}");
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
        assert!(matches!(too_long, UploadError::Invalid(_)));
        assert!(matches!(probe_error(ProbeError::NotAVideo), UploadError::UnsupportedMedia(_)));
        assert!(matches!(probe_error(ProbeError::NoDuration), UploadError::Invalid(_)));
    }
}
