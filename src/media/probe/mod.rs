//! Upload validation by content: recognises MP4, QuickTime (MOV) and WebM
//! videos from their bytes — never from the file name or the declared type —
//! and reads their duration, frame size and codec, then checks the duration
//! against the limit.
//!
//! # Parsers
//!
//! Both containers are parsed by hand over a buffered, seekable reader
//! (`cursor.rs`): MP4/MOV in `mp4.rs`, WebM in `webm.rs`. No container crate
//! is used, on purpose:
//!
//! - A parser that decodes a typed model of the whole `moov` fails the whole
//!   box on anything it does not model strictly (unknown sample entries or
//!   QuickTime versions, for instance), which would reject valid phone
//!   recordings for fields we never look at. We need a handful of small boxes
//!   (`mvhd`, `tkhd`, `mdhd`, `hdlr`, `stsd`, `mehd`, `trex`, `tfhd`/`trun`).
//! - An EBML reader over a plain `Read` stream materialises every binary
//!   element, so finding the timecode of the last block would copy every
//!   frame into memory; here block payloads are skipped with a seek and only
//!   their first bytes are read.
//!
//! Hand parsing also makes every bound explicit.
//!
//! # Bounds
//!
//! A hostile file cannot make the probe allocate without limit or loop
//! forever: a box or element whose size runs past its parent or the end of
//! the file is [`ProbeError::Truncated`]; buffers are capped (`moov` 16 MiB,
//! each `moof` 1 MiB and all `moof`s together 16 MiB, the EBML header 4 KiB,
//! `Info` 64 KiB, `Tracks` 1 MiB); the number of top-level MP4 boxes and of
//! EBML elements visited is capped; every loop advances by at least one byte.
//!
//! # Durations
//!
//! The duration is the longest of what the file claims, so a lying header
//! cannot smuggle a long video past the limit:
//!
//! - MP4/MOV: `mvhd` duration, and for every track its `tkhd` duration and
//!   the sum of its edit list (movie timescale), its `mdhd` duration and the
//!   sum of its `stts` sample durations (track timescale); when the movie is
//!   fragmented (`mvex` present), also `mehd` and each track's `mdhd` plus
//!   the sum of its `trun` sample durations over all `moof`s (with
//!   `tfhd`/`trex` defaults). Headers can be edited without touching a
//!   sample, so the sample tables decide when they say more. Audio track
//!   values forgive 100 ms of encoder priming.
//! - WebM: `Info/Duration` × `TimestampScale`, and the end of the last block
//!   found by scanning every Cluster (Cluster Timestamp + block relative
//!   timecode + `BlockDuration` when a BlockGroup has one). Chrome's
//!   MediaRecorder writes no `Duration` and unknown-size Segment and Cluster
//!   elements; both are handled. The scan does not add the length of the last
//!   frame, so it reads one frame short.
//!
//! A duration of zero counts as no duration ([`ProbeError::NoDuration`]).
//!
//! # Payload
//!
//! Only picture and sound may fill the file: the bytes covered by the video
//! and audio tracks' samples (MP4 chunks from `stco`/`co64` + `stsc` +
//! `stsz`, merged and counted only inside `mdat`; fragment sample sizes up
//! to what the `mdat`s hold; WebM blocks of video and audio tracks) are the
//! media, and everything else together may not pass
//! [`MAX_NON_MEDIA_BYTES`] ([`ProbeError::ExtraPayload`]).
//!
//! # Choices
//!
//! - An MP4 whose first box is not `ftyp`, or whose `ftyp` is smaller than 16
//!   or larger than 4096 bytes, is [`ProbeError::NotAVideo`]; major brand
//!   `qt  ` is [`Container::Mov`], any other brand [`Container::Mp4`].
//! - EBML DocType `webm` and `matroska` are both accepted as
//!   [`Container::Webm`] (Chrome's MediaRecorder writes `matroska` for
//!   `video/x-matroska`); [`VideoInfo::video_codec`] lets a caller be
//!   stricter. Any other DocType is [`ProbeError::NotAVideo`].
//! - A parsed container without a video track (audio-only M4A or WebM) is
//!   [`ProbeError::NotAVideo`].
//! - A file cut short is [`ProbeError::Truncated`]. Every top-level MP4 box
//!   header is visited (a seek each), so an MP4 whose last box runs past the
//!   end of the file is Truncated even when its `moov` is complete, and so is
//!   one without a `moov` (e.g. the first 200 bytes of a faststart file: the
//!   `moov` header claims more than is there). A WebM is Truncated when any
//!   element runs past its parent or the file, or when it has no `Tracks`.
//! - A parsed `moov` (or WebM) whose durations are all zero or unknown is
//!   [`ProbeError::NoDuration`].
//!
//! The probe does blocking file I/O: call it from `spawn_blocking`.

mod cursor;
mod mp4;
mod webm;

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use cursor::{Input, io_error};

/// A video container format recognised by its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// ISO base media file (MP4), any major brand except `qt  `.
    Mp4,
    /// QuickTime movie (major brand `qt  `).
    Mov,
    /// WebM, or Matroska (stored and served as WebM).
    Webm,
}

impl Container {
    /// The file extension used when storing it: `mp4`, `mov` or `webm`.
    pub fn extension(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::Mov => "mov",
            Container::Webm => "webm",
        }
    }

    /// The media kind the file is stored and served as.
    pub fn media_kind(self) -> super::MediaKind {
        match self {
            Container::Mp4 => super::MediaKind::Mp4,
            Container::Mov => super::MediaKind::Mov,
            Container::Webm => super::MediaKind::Webm,
        }
    }
}

/// What the probe learned about a valid video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoInfo {
    /// The container, recognised from the content.
    pub container: Container,
    /// The duration in milliseconds (never zero).
    pub duration_ms: u32,
    /// Frame width in pixels, when the file states it.
    pub width: Option<u32>,
    /// Frame height in pixels, when the file states it.
    pub height: Option<u32>,
    /// The video codec as an RFC 6381 style four-character code (`avc1`,
    /// `hvc1`, `vp08`, `vp09`, `av01`…); WebM codec IDs are mapped to the
    /// same names, unknown ones are kept as written (`V_THEORA`).
    pub video_codec: Option<String>,
    /// MP4/MOV: whether `moov` comes before the first `mdat` (playback can
    /// start before the whole file is downloaded). `None` for WebM.
    pub faststart: Option<bool>,
    /// Bytes that hold picture or sound (video and audio samples or blocks);
    /// the rest of the file is headers, indexes and anything else.
    pub media_bytes: u64,
}

/// Why a file was rejected.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProbeError {
    /// The bytes are not an MP4, MOV or WebM video (HTML, script, image,
    /// empty file, audio only…).
    #[error("not a video file (MP4, MOV or WebM expected)")]
    NotAVideo,
    /// The container was recognised but is cut short or malformed.
    #[error("the video file is truncated or malformed: {0}")]
    Truncated(String),
    /// The container does not say how long the video is.
    #[error("the video's duration could not be determined")]
    NoDuration,
    /// The video is longer than allowed.
    #[error("the video is {duration_ms} ms long, longer than the {max_ms} ms allowed")]
    TooLong {
        /// The video's duration in milliseconds.
        duration_ms: u32,
        /// The limit in milliseconds.
        max_ms: u32,
    },
    /// More of the file than [`MAX_NON_MEDIA_BYTES`] is neither picture nor
    /// sound (a `free` box, trailing bytes, a data track, attachments…).
    #[error("the file carries {bytes} bytes that are not audio or video; at most {max} are allowed")]
    ExtraPayload {
        /// Bytes that are not samples of a video or audio track.
        bytes: u64,
        /// The bound.
        max: u64,
    },
    /// The file could not be read.
    #[error("could not read the video file: {0}")]
    Io(String),
}

/// Recognises the video at `path` by its content, reads its duration, frame
/// size and codec, and checks the duration against `max_ms` (a duration
/// equal to the limit passes).
///
/// Reads at most what it needs from the file: box and element headers, with
/// payloads skipped by seeking; only the MP4 `moov`/`moof` boxes and the WebM
/// header, `Info` and `Tracks` elements are read whole, each under a size
/// cap. The whole file is never loaded into memory. Blocking.
pub fn probe_file(path: &Path, max_ms: u32) -> Result<VideoInfo, ProbeError> {
    let file = File::open(path).map_err(io_error)?;
    let len = file.metadata().map_err(io_error)?.len();
    probe_reader(file, len, max_ms)
}

/// [`probe_file`] over any seekable reader of `len` bytes (the parser
/// fuzzing in `tests/fuzzing` probes in-memory inputs this way).
pub fn probe_reader<R: Read + Seek>(reader: R, len: u64, max_ms: u32) -> Result<VideoInfo, ProbeError> {
    let mut input = Input::new(reader, len);
    let mut head = [0u8; 12];
    let head_len = usize::try_from(len.min(12)).unwrap_or(12);
    input.read_exact(&mut head[..head_len])?;
    let head = &head[..head_len];

    let info = if head.starts_with(&webm::EBML_MAGIC) {
        webm::probe_webm(&mut input)?
    } else if head.len() >= 8 && &head[4..8] == b"ftyp" {
        mp4::probe_mp4(&mut input, head)?
    } else {
        return Err(ProbeError::NotAVideo);
    };
    if info.duration_ms > max_ms {
        return Err(ProbeError::TooLong { duration_ms: info.duration_ms, max_ms });
    }
    let extra = len.saturating_sub(info.media_bytes);
    if extra > MAX_NON_MEDIA_BYTES {
        return Err(ProbeError::ExtraPayload { bytes: extra, max: MAX_NON_MEDIA_BYTES });
    }
    Ok(info)
}

/// The most bytes of a video file that may be something other than picture
/// and sound samples. Container headers and sample indexes of an 8-second
/// phone clip take a few tens of KiB; anything past this bound is a payload
/// riding along (a `free` box, bytes after the last box, a data track,
/// Matroska attachments), and the upload form is not a file host.
pub const MAX_NON_MEDIA_BYTES: u64 = 256 * 1024;

/// A size that is zero counts as unknown.
fn positive(value: Option<u32>) -> Option<u32> {
    value.filter(|&v| v > 0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    pub(super) fn fixture(name: &str) -> Vec<u8> {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo")).join(name);
        std::fs::read(path).unwrap()
    }

    pub(super) fn fixture_path(name: &str) -> std::path::PathBuf {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo")).join(name)
    }

    /// Writes the bytes to a temporary file with the given (misleading) suffix and probes it.
    pub(super) fn probe_temp(bytes: &[u8], suffix: &str, max_ms: u32) -> Result<VideoInfo, ProbeError> {
        let mut file = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
        file.write_all(bytes).unwrap();
        file.flush().unwrap();
        probe_file(file.path(), max_ms)
    }

    pub(super) fn probe_bytes(bytes: &[u8], max_ms: u32) -> Result<VideoInfo, ProbeError> {
        probe_reader(std::io::Cursor::new(bytes), bytes.len() as u64, max_ms)
    }

    pub(super) fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    pub(super) const MAX: u32 = 8500;

    // --- fixtures on disk ------------------------------------------------

    #[test]
    fn not_videos() {
        let html = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>";
        assert_eq!(probe_temp(html, ".mp4", MAX), Err(ProbeError::NotAVideo));
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01];
        assert_eq!(probe_temp(&jpeg, ".webm", MAX), Err(ProbeError::NotAVideo));
        assert_eq!(probe_temp(b"", ".mp4", MAX), Err(ProbeError::NotAVideo));
        assert_eq!(probe_temp(b"\x1a\x45", ".webm", MAX), Err(ProbeError::NotAVideo));
        assert_eq!(probe_temp(b"#!/bin/sh\nrm -rf /\n", ".mov", MAX), Err(ProbeError::NotAVideo));
    }

    #[test]
    fn missing_file_is_io_error() {
        let result = probe_file(Path::new("/nonexistent/aimoviez/probe.mp4"), MAX);
        assert!(matches!(result, Err(ProbeError::Io(_))), "{result:?}");
    }

    // --- robustness ---------------------------------------------------------

    /// Every prefix and many random corruptions of the fixtures: never a
    /// panic, and a cut file never passes with more than the full duration.
    #[test]
    fn prefixes_and_corruptions_never_panic() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for name in ["test-short.mp4", "test-short.webm", "test-fragmented.mp4"] {
            let bytes = fixture(name);
            let mut cut = 0;
            while cut < bytes.len() {
                if let Ok(info) = probe_bytes(&bytes[..cut], MAX) {
                    assert!(info.duration_ms <= 2000, "{name} cut at {cut}: {info:?}");
                }
                cut += if cut < 4096 { 1 } else { 61 };
            }
            for _ in 0..300 {
                let mut corrupt = bytes.clone();
                for _ in 0..1 + next() % 8 {
                    // Corrupt mostly the headers, where the structure is.
                    let limit = if next() % 2 == 0 { 4096.min(corrupt.len()) } else { corrupt.len() };
                    let at = (next() % limit as u64) as usize;
                    corrupt[at] = next() as u8;
                }
                let _ = probe_bytes(&corrupt, MAX);
            }
        }
    }
}
