//! Upload validation by content: recognises MP4, QuickTime (MOV) and WebM
//! videos from their bytes — never from the file name or the declared type —
//! and reads their duration, frame size and codec, then checks the duration
//! against the limit.
//!
//! # Parsers
//!
//! Both containers are parsed by hand over a buffered, seekable reader. The
//! `mp4-atom` and `webm-iterable` crates are dependencies but are not used
//! here, on purpose:
//!
//! - `mp4-atom` decodes a typed model of the whole `moov` and fails the whole
//!   box on anything it does not model strictly (unknown sample entries or
//!   QuickTime versions, for instance), which would reject valid phone
//!   recordings for fields we never look at. We need a handful of small boxes
//!   (`mvhd`, `tkhd`, `mdhd`, `hdlr`, `stsd`, `mehd`, `trex`, `tfhd`/`trun`).
//! - `webm-iterable` reads a plain `Read` stream and materialises every
//!   binary element, so finding the timecode of the last block would copy
//!   every frame into memory; here block payloads are skipped with a seek
//!   and only their first bytes are read.
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
//! - MP4/MOV: `mvhd` duration and every track's `tkhd` duration (both in the
//!   movie timescale, so they include edit lists and exclude AAC priming);
//!   when the movie is fragmented (`mvex` present), also `mehd` and the video
//!   track's `mdhd` duration plus the sum of its `trun` sample durations over
//!   all `moof`s (with `tfhd`/`trex` default durations), in its `mdhd`
//!   timescale.
//! - WebM: `Info/Duration` × `TimestampScale`, and the end of the last block
//!   found by scanning every Cluster (Cluster Timestamp + block relative
//!   timecode + `BlockDuration` when a BlockGroup has one). Chrome's
//!   MediaRecorder writes no `Duration` and unknown-size Segment and Cluster
//!   elements; both are handled. The scan does not add the length of the last
//!   frame, so it reads one frame short.
//!
//! A duration of zero counts as no duration ([`ProbeError::NoDuration`]).
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

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

/// Largest `ftyp` box accepted (bytes, header included).
const MAX_FTYP_BYTES: u64 = 4096;
/// Largest `moov` box read into memory.
const MAX_MOOV_BYTES: u64 = 16 << 20;
/// Largest single `moof` box read into memory.
const MAX_MOOF_BYTES: u64 = 1 << 20;
/// Most bytes read from all `moof` boxes together.
const MAX_MOOF_TOTAL_BYTES: u64 = 16 << 20;
/// Most top-level MP4 boxes visited.
const MAX_TOP_LEVEL_BOXES: u32 = 100_000;
/// Largest EBML header read into memory.
const MAX_EBML_HEADER_BYTES: u64 = 4096;
/// Largest WebM `Info` element read into memory.
const MAX_INFO_BYTES: u64 = 64 << 10;
/// Largest WebM `Tracks` element read into memory.
const MAX_TRACKS_BYTES: u64 = 1 << 20;
/// Most EBML element headers read from the file.
const MAX_EBML_ELEMENTS: u32 = 1_000_000;
/// Longest codec string kept.
const MAX_CODEC_CHARS: usize = 64;

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

/// [`probe_file`] over any seekable reader of `len` bytes.
fn probe_reader<R: Read + Seek>(reader: R, len: u64, max_ms: u32) -> Result<VideoInfo, ProbeError> {
    let mut input = Input { reader: BufReader::new(reader), pos: 0, len };
    let mut head = [0u8; 12];
    let head_len = usize::try_from(len.min(12)).unwrap_or(12);
    input.read_exact(&mut head[..head_len])?;
    let head = &head[..head_len];

    let info = if head.starts_with(&EBML_MAGIC) {
        probe_webm(&mut input)?
    } else if head.len() >= 8 && &head[4..8] == b"ftyp" {
        probe_mp4(&mut input, head)?
    } else {
        return Err(ProbeError::NotAVideo);
    };
    if info.duration_ms > max_ms {
        return Err(ProbeError::TooLong { duration_ms: info.duration_ms, max_ms });
    }
    Ok(info)
}

// ---------------------------------------------------------------------------
// Input

/// Maps an I/O error; an early end of file means the file is cut short.
fn io_error(error: std::io::Error) -> ProbeError {
    if error.kind() == std::io::ErrorKind::UnexpectedEof {
        truncated("unexpected end of file")
    } else {
        ProbeError::Io(error.to_string())
    }
}

fn truncated(message: impl Into<String>) -> ProbeError {
    ProbeError::Truncated(message.into())
}

/// A buffered reader that knows its position and the file length, so every
/// read and seek is checked against the end of the file first.
struct Input<R> {
    reader: BufReader<R>,
    pos: u64,
    len: u64,
}

impl<R: Read + Seek> Input<R> {
    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn seek_to(&mut self, target: u64) -> Result<(), ProbeError> {
        if target > self.len {
            return Err(truncated("a size points past the end of the file"));
        }
        let delta = i128::from(target) - i128::from(self.pos);
        let delta = i64::try_from(delta).map_err(|_| truncated("offset out of range"))?;
        self.reader.seek_relative(delta).map_err(io_error)?;
        self.pos = target;
        Ok(())
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ProbeError> {
        let wanted = buf.len() as u64;
        if wanted > self.remaining() {
            return Err(truncated("unexpected end of file"));
        }
        self.reader.read_exact(buf).map_err(io_error)?;
        self.pos += wanted;
        Ok(())
    }

    fn read_u8(&mut self) -> Result<u8, ProbeError> {
        let mut byte = [0u8; 1];
        self.read_exact(&mut byte)?;
        Ok(byte[0])
    }

    /// Reads `len` bytes into a new buffer, refusing more than `cap`.
    fn read_vec(&mut self, len: u64, cap: u64, what: &str) -> Result<Vec<u8>, ProbeError> {
        if len > cap {
            return Err(truncated(format!("{what} is larger than {cap} bytes")));
        }
        if len > self.remaining() {
            return Err(truncated(format!("{what} runs past the end of the file")));
        }
        let len = usize::try_from(len).map_err(|_| truncated(format!("{what} is too large")))?;
        let mut buf = vec![0u8; len];
        self.read_exact(&mut buf)?;
        Ok(buf)
    }
}

/// A big-endian reader over an in-memory box payload.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8], what: &'static str) -> Self {
        Cursor { data, pos: 0, what }
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], ProbeError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.data.len());
        let end = end.ok_or_else(|| truncated(format!("the {} box is too short", self.what)))?;
        let slice = &self.data[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn skip(&mut self, n: usize) -> Result<(), ProbeError> {
        self.bytes(n).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProbeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, ProbeError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, ProbeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, ProbeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, ProbeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A full box's version byte, skipping the 24 flag bits.
    fn version(&mut self) -> Result<u8, ProbeError> {
        let version = self.u8()?;
        self.skip(3)?;
        Ok(version)
    }

    /// A full box's version and 24 flag bits.
    fn version_flags(&mut self) -> Result<(u8, u32), ProbeError> {
        let word = self.u32()?;
        Ok(((word >> 24) as u8, word & 0x00FF_FFFF))
    }

    /// A duration stored as 32 bits in version 0 and 64 bits in version 1;
    /// all ones means "unknown" and reads as zero.
    fn duration(&mut self, version: u8) -> Result<u64, ProbeError> {
        let value = if version == 1 {
            self.u64()?
        } else {
            match self.u32()? {
                u32::MAX => u64::MAX,
                value => u64::from(value),
            }
        };
        Ok(if value == u64::MAX { 0 } else { value })
    }
}

/// Converts `value` ticks at `per_second` ticks per second to milliseconds,
/// saturating; `None` when the rate is zero.
fn ticks_to_ms(value: u64, per_second: u64) -> Option<u32> {
    if per_second == 0 {
        return None;
    }
    let ms = u128::from(value) * 1000 / u128::from(per_second);
    Some(u32::try_from(ms).unwrap_or(u32::MAX))
}

/// A four-character code as text, when it is printable ASCII.
fn fourcc_text(code: [u8; 4]) -> Option<String> {
    code.iter()
        .all(|b| b.is_ascii_graphic() || *b == b' ')
        .then(|| String::from_utf8_lossy(&code).trim_end().to_owned())
}

fn positive(value: Option<u32>) -> Option<u32> {
    value.filter(|&v| v > 0)
}

// ---------------------------------------------------------------------------
// MP4 / MOV

/// A box header read from the file.
struct BoxHeader {
    kind: [u8; 4],
    start: u64,
    header_len: u64,
    size: u64,
}

impl BoxHeader {
    fn payload_len(&self) -> u64 {
        self.size - self.header_len
    }

    fn end(&self) -> u64 {
        self.start + self.size
    }
}

fn read_box_header<R: Read + Seek>(input: &mut Input<R>) -> Result<BoxHeader, ProbeError> {
    let start = input.pos;
    let mut raw = [0u8; 8];
    input.read_exact(&mut raw)?;
    let size32 = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let kind = [raw[4], raw[5], raw[6], raw[7]];
    let (size, header_len) = match size32 {
        0 => (input.len - start, 8),
        1 => {
            let mut large = [0u8; 8];
            input.read_exact(&mut large)?;
            (u64::from_be_bytes(large), 16)
        }
        size => (u64::from(size), 8),
    };
    let name = String::from_utf8_lossy(&kind).into_owned();
    if size < header_len {
        return Err(truncated(format!("box '{name}' is smaller than its header")));
    }
    if size > input.len - start {
        return Err(truncated(format!("box '{name}' runs past the end of the file")));
    }
    Ok(BoxHeader { kind, start, header_len, size })
}

/// A child box: its four-character kind and its payload.
type BoxEntry<'a> = ([u8; 4], &'a [u8]);

/// The child boxes of an in-memory payload. A trailing run of fewer than 8
/// bytes (padding some writers leave) ends the list.
struct Boxes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Boxes<'a> {
    fn new(data: &'a [u8]) -> Self {
        Boxes { data, pos: 0 }
    }

    fn next_box(&mut self) -> Result<Option<BoxEntry<'a>>, ProbeError> {
        let rest = &self.data[self.pos..];
        if rest.len() < 8 {
            return Ok(None);
        }
        let mut cursor = Cursor::new(rest, "child");
        let size32 = cursor.u32()?;
        let kind: [u8; 4] = cursor.array()?;
        let size = match size32 {
            0 => rest.len() as u64,
            1 => cursor.u64()?,
            size => u64::from(size),
        };
        let header_len = cursor.pos as u64;
        if size < header_len || size > rest.len() as u64 {
            let name = String::from_utf8_lossy(&kind).into_owned();
            return Err(truncated(format!("box '{name}' does not fit in its parent")));
        }
        // Both fit in `rest.len()`, so the casts are lossless.
        let (start, end) = (header_len as usize, size as usize);
        self.pos += end;
        Ok(Some((kind, &rest[start..end])))
    }

    /// The payload of the first child of this kind.
    fn find(data: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>, ProbeError> {
        let mut boxes = Boxes::new(data);
        while let Some((found, payload)) = boxes.next_box()? {
            if &found == kind {
                return Ok(Some(payload));
            }
        }
        Ok(None)
    }
}

/// The parts of a track the probe needs.
#[derive(Default)]
struct Track {
    id: u32,
    handler: [u8; 4],
    /// In the movie timescale.
    tkhd_duration: u64,
    width: Option<u32>,
    height: Option<u32>,
    timescale: u32,
    /// In the track (`mdhd`) timescale.
    mdhd_duration: u64,
    codec: Option<String>,
}

/// The parts of `moov` the probe needs.
struct Moov {
    timescale: u32,
    mvhd_duration: u64,
    longest_tkhd: u64,
    video: Option<Track>,
    fragmented: bool,
    /// `mehd` fragment duration, in the movie timescale.
    fragment_duration: u64,
    /// The video track's `trex` default sample duration.
    trex_default_duration: u32,
}

fn parse_mvhd(data: &[u8]) -> Result<(u32, u64), ProbeError> {
    let mut cursor = Cursor::new(data, "mvhd");
    let version = cursor.version()?;
    cursor.skip(if version == 1 { 16 } else { 8 })?;
    let timescale = cursor.u32()?;
    Ok((timescale, cursor.duration(version)?))
}

fn parse_trak(data: &[u8]) -> Result<Track, ProbeError> {
    let mut track = Track::default();
    if let Some(tkhd) = Boxes::find(data, b"tkhd")? {
        let mut cursor = Cursor::new(tkhd, "tkhd");
        let version = cursor.version()?;
        cursor.skip(if version == 1 { 16 } else { 8 })?;
        track.id = cursor.u32()?;
        cursor.skip(4)?;
        track.tkhd_duration = cursor.duration(version)?;
        // reserved(8) layer(2) alternate_group(2) volume(2) reserved(2) matrix(36)
        cursor.skip(52)?;
        track.width = positive(Some(cursor.u32()? >> 16));
        track.height = positive(Some(cursor.u32()? >> 16));
    }
    let Some(mdia) = Boxes::find(data, b"mdia")? else {
        return Ok(track);
    };
    if let Some(mdhd) = Boxes::find(mdia, b"mdhd")? {
        let mut cursor = Cursor::new(mdhd, "mdhd");
        let version = cursor.version()?;
        cursor.skip(if version == 1 { 16 } else { 8 })?;
        track.timescale = cursor.u32()?;
        track.mdhd_duration = cursor.duration(version)?;
    }
    if let Some(hdlr) = Boxes::find(mdia, b"hdlr")? {
        let mut cursor = Cursor::new(hdlr, "hdlr");
        cursor.skip(8)?;
        track.handler = cursor.array()?;
    }
    let stsd = match Boxes::find(mdia, b"minf")? {
        Some(minf) => match Boxes::find(minf, b"stbl")? {
            Some(stbl) => Boxes::find(stbl, b"stsd")?,
            None => None,
        },
        None => None,
    };
    if let Some(stsd) = stsd {
        let mut cursor = Cursor::new(stsd, "stsd");
        cursor.skip(4)?;
        if cursor.u32()? > 0 {
            cursor.skip(4)?;
            let format: [u8; 4] = cursor.array()?;
            track.codec = fourcc_text(format);
            // A visual sample entry: reserved(6) data_reference_index(2)
            // pre_defined/reserved(16) width(2) height(2). Used only when
            // `tkhd` gives no size, and only if the entry is long enough.
            if &track.handler == b"vide" && (track.width.is_none() || track.height.is_none()) {
                let size = (cursor.skip(24).and_then(|()| cursor.u16()), cursor.u16());
                if let (Ok(width), Ok(height)) = size {
                    track.width = positive(Some(u32::from(width)));
                    track.height = positive(Some(u32::from(height)));
                }
            }
        }
    }
    Ok(track)
}

fn parse_moov(data: &[u8]) -> Result<Moov, ProbeError> {
    let mut moov = Moov {
        timescale: 0,
        mvhd_duration: 0,
        longest_tkhd: 0,
        video: None,
        fragmented: false,
        fragment_duration: 0,
        trex_default_duration: 0,
    };
    let mut mvex = None;
    let mut boxes = Boxes::new(data);
    while let Some((kind, payload)) = boxes.next_box()? {
        match &kind {
            b"mvhd" => (moov.timescale, moov.mvhd_duration) = parse_mvhd(payload)?,
            b"trak" => {
                let track = parse_trak(payload)?;
                moov.longest_tkhd = moov.longest_tkhd.max(track.tkhd_duration);
                if moov.video.is_none() && &track.handler == b"vide" {
                    moov.video = Some(track);
                }
            }
            b"mvex" => mvex = Some(payload),
            _ => {}
        }
    }
    if let Some(mvex) = mvex {
        moov.fragmented = true;
        let video_id = moov.video.as_ref().map(|track| track.id);
        let mut boxes = Boxes::new(mvex);
        while let Some((kind, payload)) = boxes.next_box()? {
            let mut cursor = Cursor::new(payload, "mvex child");
            match &kind {
                b"mehd" => {
                    let version = cursor.version()?;
                    moov.fragment_duration = cursor.duration(version)?;
                }
                b"trex" => {
                    cursor.skip(4)?;
                    let track_id = cursor.u32()?;
                    cursor.skip(4)?;
                    let default_duration = cursor.u32()?;
                    if Some(track_id) == video_id {
                        moov.trex_default_duration = default_duration;
                    }
                }
                _ => {}
            }
        }
    }
    Ok(moov)
}

/// Adds the video track's sample durations in one `moof` to `total`.
fn sum_moof(data: &[u8], video_id: u32, trex_default: u32, total: &mut u64) -> Result<(), ProbeError> {
    let mut boxes = Boxes::new(data);
    while let Some((kind, traf)) = boxes.next_box()? {
        if &kind != b"traf" {
            continue;
        }
        let Some(tfhd) = Boxes::find(traf, b"tfhd")? else {
            return Err(truncated("track fragment without tfhd"));
        };
        let mut cursor = Cursor::new(tfhd, "tfhd");
        let (_, flags) = cursor.version_flags()?;
        if cursor.u32()? != video_id {
            continue;
        }
        if flags & 0x01 != 0 {
            cursor.skip(8)?; // base_data_offset
        }
        if flags & 0x02 != 0 {
            cursor.skip(4)?; // sample_description_index
        }
        let default_duration = if flags & 0x08 != 0 { cursor.u32()? } else { trex_default };

        let mut runs = Boxes::new(traf);
        while let Some((kind, trun)) = runs.next_box()? {
            if &kind != b"trun" {
                continue;
            }
            let mut cursor = Cursor::new(trun, "trun");
            let (_, flags) = cursor.version_flags()?;
            let count = cursor.u32()?;
            if flags & 0x01 != 0 {
                cursor.skip(4)?; // data_offset
            }
            if flags & 0x04 != 0 {
                cursor.skip(4)?; // first_sample_flags
            }
            let per_sample_fields = [0x100, 0x200, 0x400, 0x800].iter().filter(|&&bit| flags & bit != 0).count();
            if flags & 0x100 == 0 {
                *total = total.saturating_add(u64::from(count) * u64::from(default_duration));
                continue;
            }
            // Each sample has its own duration: the table must fit in the box
            // before it is walked, so the loop is bounded by the box size.
            let entry_len = per_sample_fields * 4;
            let table_len = usize::try_from(count).ok().and_then(|count| count.checked_mul(entry_len));
            if table_len.is_none_or(|len| len > trun.len() - cursor.pos) {
                return Err(truncated("trun sample table runs past its box"));
            }
            for _ in 0..count {
                let entry = cursor.bytes(entry_len)?;
                let duration = u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]);
                *total = total.saturating_add(u64::from(duration));
            }
        }
    }
    Ok(())
}

fn probe_mp4<R: Read + Seek>(input: &mut Input<R>, head: &[u8]) -> Result<VideoInfo, ProbeError> {
    let ftyp_size = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
    if !(16..=MAX_FTYP_BYTES).contains(&ftyp_size) {
        return Err(ProbeError::NotAVideo);
    }
    if ftyp_size > input.len {
        return Err(truncated("the ftyp box runs past the end of the file"));
    }
    let container = if head.get(8..12) == Some(b"qt  ".as_slice()) { Container::Mov } else { Container::Mp4 };
    input.seek_to(ftyp_size)?;

    let mut moov: Option<Moov> = None;
    let mut mdat_seen = false;
    let mut faststart = None;
    let mut fragments_total: u64 = 0;
    let mut moof_bytes: u64 = 0;
    let mut boxes_seen: u32 = 1;
    while input.remaining() >= 8 {
        boxes_seen += 1;
        if boxes_seen > MAX_TOP_LEVEL_BOXES {
            return Err(truncated("too many top-level boxes"));
        }
        let header = read_box_header(input)?;
        match &header.kind {
            b"moov" => {
                if moov.is_some() {
                    return Err(truncated("more than one moov box"));
                }
                let data = input.read_vec(header.payload_len(), MAX_MOOV_BYTES, "the moov box")?;
                let parsed = parse_moov(&data)?;
                faststart = Some(!mdat_seen);
                moov = Some(parsed);
            }
            b"mdat" => mdat_seen = true,
            b"moof" => {
                let Some(moov) = &moov else {
                    return Err(truncated("a movie fragment comes before the moov box"));
                };
                moof_bytes = moof_bytes.saturating_add(header.payload_len());
                if moof_bytes > MAX_MOOF_TOTAL_BYTES {
                    return Err(truncated("the movie fragment headers are too large"));
                }
                let data = input.read_vec(header.payload_len(), MAX_MOOF_BYTES, "a moof box")?;
                if let Some(video) = &moov.video {
                    sum_moof(&data, video.id, moov.trex_default_duration, &mut fragments_total)?;
                }
            }
            _ => {}
        }
        input.seek_to(header.end())?;
    }

    let Some(moov) = moov else {
        return Err(truncated("no moov box"));
    };
    let Some(video) = moov.video else {
        return Err(ProbeError::NotAVideo);
    };
    let movie_scale = u64::from(moov.timescale);
    let mut candidates =
        vec![ticks_to_ms(moov.mvhd_duration, movie_scale), ticks_to_ms(moov.longest_tkhd, movie_scale)];
    if moov.fragmented {
        candidates.push(ticks_to_ms(moov.fragment_duration, movie_scale));
        let track_total = video.mdhd_duration.saturating_add(fragments_total);
        candidates.push(ticks_to_ms(track_total, u64::from(video.timescale)));
    }
    let duration_ms = candidates.into_iter().flatten().max().filter(|&ms| ms > 0).ok_or(ProbeError::NoDuration)?;
    Ok(VideoInfo {
        container,
        duration_ms,
        width: video.width,
        height: video.height,
        video_codec: video.codec,
        faststart,
    })
}

// ---------------------------------------------------------------------------
// WebM / Matroska

const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];
const ID_EBML: u32 = 0x1A45_DFA3;
const ID_DOC_TYPE: u32 = 0x4282;
const ID_SEGMENT: u32 = 0x1853_8067;
const ID_SEEK_HEAD: u32 = 0x114D_9B74;
const ID_INFO: u32 = 0x1549_A966;
const ID_TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
const ID_DURATION: u32 = 0x4489;
const ID_TRACKS: u32 = 0x1654_AE6B;
const ID_TRACK_ENTRY: u32 = 0xAE;
const ID_TRACK_TYPE: u32 = 0x83;
const ID_CODEC_ID: u32 = 0x86;
const ID_VIDEO: u32 = 0xE0;
const ID_PIXEL_WIDTH: u32 = 0xB0;
const ID_PIXEL_HEIGHT: u32 = 0xBA;
const ID_CLUSTER: u32 = 0x1F43_B675;
const ID_CLUSTER_TIMESTAMP: u32 = 0xE7;
const ID_SIMPLE_BLOCK: u32 = 0xA3;
const ID_BLOCK_GROUP: u32 = 0xA0;
const ID_BLOCK: u32 = 0xA1;
const ID_BLOCK_DURATION: u32 = 0x9B;
const ID_CUES: u32 = 0x1C53_BB6B;
const ID_CHAPTERS: u32 = 0x1043_A770;
const ID_TAGS: u32 = 0x1254_C367;
const ID_ATTACHMENTS: u32 = 0x1941_A469;

/// Elements that end an unknown-size Cluster: the Segment's other children,
/// and the start of a following EBML document or Segment.
fn ends_cluster(id: u32) -> bool {
    matches!(
        id,
        ID_CLUSTER
            | ID_SEEK_HEAD
            | ID_INFO
            | ID_TRACKS
            | ID_CUES
            | ID_CHAPTERS
            | ID_TAGS
            | ID_ATTACHMENTS
            | ID_EBML
            | ID_SEGMENT
    )
}

/// A source of bytes for EBML variable-length integers.
trait ByteSource {
    fn next_byte(&mut self) -> Result<u8, ProbeError>;
}

impl<R: Read + Seek> ByteSource for Input<R> {
    fn next_byte(&mut self) -> Result<u8, ProbeError> {
        self.read_u8()
    }
}

impl ByteSource for Cursor<'_> {
    fn next_byte(&mut self) -> Result<u8, ProbeError> {
        self.u8()
    }
}

/// An element ID (1–4 bytes, marker bits kept).
fn read_element_id(source: &mut impl ByteSource) -> Result<u32, ProbeError> {
    let first = source.next_byte()?;
    let len = first.leading_zeros() + 1;
    if len > 4 {
        return Err(truncated("invalid EBML element ID"));
    }
    let mut id = u32::from(first);
    for _ in 1..len {
        id = (id << 8) | u32::from(source.next_byte()?);
    }
    Ok(id)
}

/// A data size (1–8 bytes); `None` when it is the reserved "unknown" value.
fn read_element_size(source: &mut impl ByteSource) -> Result<Option<u64>, ProbeError> {
    let first = source.next_byte()?;
    if first == 0 {
        return Err(truncated("invalid EBML element size"));
    }
    let len = first.leading_zeros() + 1;
    let mut value = u64::from(first) & (0xFF >> len);
    for _ in 1..len {
        value = (value << 8) | u64::from(source.next_byte()?);
    }
    let unknown = (1u64 << (7 * len)) - 1;
    Ok((value != unknown).then_some(value))
}

/// The children of an in-memory master element, all of known size.
fn for_each_element<'a>(
    data: &'a [u8],
    mut visit: impl FnMut(u32, &'a [u8]) -> Result<(), ProbeError>,
) -> Result<(), ProbeError> {
    let mut cursor = Cursor::new(data, "EBML");
    while cursor.pos < data.len() {
        let id = read_element_id(&mut cursor)?;
        let size = read_element_size(&mut cursor)?.ok_or_else(|| truncated("unknown-size element"))?;
        let size = usize::try_from(size).map_err(|_| truncated("element too large"))?;
        let payload = cursor.bytes(size).map_err(|_| truncated(format!("element 0x{id:X} runs past its parent")))?;
        visit(id, payload)?;
    }
    Ok(())
}

fn ebml_uint(data: &[u8]) -> Result<u64, ProbeError> {
    if data.len() > 8 {
        return Err(truncated("integer element longer than 8 bytes"));
    }
    Ok(data.iter().fold(0u64, |value, &byte| (value << 8) | u64::from(byte)))
}

fn ebml_float(data: &[u8]) -> Result<f64, ProbeError> {
    match data.len() {
        0 => Ok(0.0),
        4 => Ok(f64::from(f32::from_be_bytes([data[0], data[1], data[2], data[3]]))),
        8 => Ok(f64::from_be_bytes([data[0], data[1], data[2], data[3], data[4], data[5], data[6], data[7]])),
        _ => Err(truncated("float element is neither 4 nor 8 bytes")),
    }
}

fn ebml_string(data: &[u8]) -> String {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).chars().take(MAX_CODEC_CHARS).collect()
}

/// Maps a Matroska codec ID to the names used for MP4.
fn webm_codec(codec_id: &str) -> String {
    match codec_id {
        "V_VP8" => "vp08",
        "V_VP9" => "vp09",
        "V_AV1" => "av01",
        "V_MPEG4/ISO/AVC" => "avc1",
        "V_MPEGH/ISO/HEVC" => "hvc1",
        other => other,
    }
    .to_owned()
}

/// Counts element headers read from the file.
struct Budget(u32);

impl Budget {
    fn tick(&mut self) -> Result<(), ProbeError> {
        self.0 += 1;
        if self.0 > MAX_EBML_ELEMENTS {
            return Err(truncated("too many elements"));
        }
        Ok(())
    }
}

/// The first video track of a WebM file.
struct WebmVideo {
    codec: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
}

/// What the WebM probe gathers while walking the Segment.
struct WebmState {
    timestamp_scale: u64,
    header_duration: Option<f64>,
    tracks_seen: bool,
    video: Option<WebmVideo>,
    /// The latest block end seen, in Segment ticks.
    last_block_end: Option<u64>,
    budget: Budget,
}

impl WebmState {
    fn record_block(&mut self, cluster_ts: Option<u64>, relative: i16, duration: u64) -> Result<(), ProbeError> {
        let cluster_ts = cluster_ts.ok_or_else(|| truncated("a block comes before its Cluster Timestamp"))?;
        let end = i128::from(cluster_ts) + i128::from(relative) + i128::from(duration);
        let end = u64::try_from(end.max(0)).unwrap_or(u64::MAX);
        self.last_block_end = Some(self.last_block_end.map_or(end, |last| last.max(end)));
        Ok(())
    }
}

fn parse_info(data: &[u8], state: &mut WebmState) -> Result<(), ProbeError> {
    for_each_element(data, |id, payload| {
        match id {
            ID_TIMESTAMP_SCALE => state.timestamp_scale = ebml_uint(payload)?,
            ID_DURATION => state.header_duration = Some(ebml_float(payload)?),
            _ => {}
        }
        Ok(())
    })
}

fn parse_tracks(data: &[u8], state: &mut WebmState) -> Result<(), ProbeError> {
    state.tracks_seen = true;
    for_each_element(data, |id, entry| {
        if id != ID_TRACK_ENTRY || state.video.is_some() {
            return Ok(());
        }
        let (mut track_type, mut codec, mut width, mut height) = (0, None, None, None);
        for_each_element(entry, |id, payload| {
            match id {
                ID_TRACK_TYPE => track_type = ebml_uint(payload)?,
                ID_CODEC_ID => codec = Some(webm_codec(&ebml_string(payload))),
                ID_VIDEO => for_each_element(payload, |id, payload| {
                    match id {
                        ID_PIXEL_WIDTH => width = positive(u32::try_from(ebml_uint(payload)?).ok()),
                        ID_PIXEL_HEIGHT => height = positive(u32::try_from(ebml_uint(payload)?).ok()),
                        _ => {}
                    }
                    Ok(())
                })?,
                _ => {}
            }
            Ok(())
        })?;
        if track_type == 1 {
            state.video = Some(WebmVideo { codec, width, height });
        }
        Ok(())
    })
}

/// Reads the relative timecode from the start of a Block or SimpleBlock of
/// `size` bytes: track number (a variable-length integer), then 16 bits.
fn read_block_timecode<R: Read + Seek>(input: &mut Input<R>, size: u64) -> Result<i16, ProbeError> {
    let mut head = [0u8; 10];
    let len = usize::try_from(size.min(10)).unwrap_or(10);
    input.read_exact(&mut head[..len])?;
    let mut cursor = Cursor::new(&head[..len], "block");
    read_element_size(&mut cursor)?;
    let timecode = cursor.array::<2>().map_err(|_| truncated("block too short"))?;
    Ok(i16::from_be_bytes(timecode))
}

/// Walks one Cluster's children (the Cluster header already read), recording
/// block timestamps. An unknown-size Cluster ends at the first element that
/// cannot be its child, or at `parent_end`; the reader is left there.
fn scan_cluster<R: Read + Seek>(
    input: &mut Input<R>,
    size: Option<u64>,
    parent_end: u64,
    state: &mut WebmState,
) -> Result<(), ProbeError> {
    let end = match size {
        Some(size) => input.pos.checked_add(size).filter(|&end| end <= parent_end),
        None => Some(parent_end),
    };
    let end = end.ok_or_else(|| truncated("a Cluster runs past its Segment"))?;
    let mut cluster_ts = None;
    while input.pos < end {
        state.budget.tick()?;
        let child_start = input.pos;
        let id = read_element_id(input)?;
        if size.is_none() && ends_cluster(id) {
            input.seek_to(child_start)?;
            return Ok(());
        }
        let child_size = read_element_size(input)?.ok_or_else(|| truncated("unknown-size element in a Cluster"))?;
        let child_end = input.pos.checked_add(child_size).filter(|&child_end| child_end <= end);
        let child_end = child_end.ok_or_else(|| truncated(format!("element 0x{id:X} runs past its Cluster")))?;
        match id {
            ID_CLUSTER_TIMESTAMP => {
                let data = input.read_vec(child_size, 8, "the Cluster Timestamp")?;
                cluster_ts = Some(ebml_uint(&data)?);
            }
            ID_SIMPLE_BLOCK => {
                let relative = read_block_timecode(input, child_size)?;
                state.record_block(cluster_ts, relative, 0)?;
            }
            ID_BLOCK_GROUP => {
                let (mut relative, mut duration) = (None, 0);
                while input.pos < child_end {
                    state.budget.tick()?;
                    let id = read_element_id(input)?;
                    let size = read_element_size(input)?.ok_or_else(|| truncated("unknown-size element in a block"))?;
                    let item_end = input.pos.checked_add(size).filter(|&item_end| item_end <= child_end);
                    let item_end = item_end.ok_or_else(|| truncated("element runs past its BlockGroup"))?;
                    match id {
                        ID_BLOCK => relative = Some(read_block_timecode(input, size)?),
                        ID_BLOCK_DURATION => duration = ebml_uint(&input.read_vec(size, 8, "a BlockDuration")?)?,
                        _ => {}
                    }
                    input.seek_to(item_end)?;
                }
                if let Some(relative) = relative {
                    state.record_block(cluster_ts, relative, duration)?;
                }
            }
            _ => {}
        }
        input.seek_to(child_end)?;
    }
    Ok(())
}

fn probe_webm<R: Read + Seek>(input: &mut Input<R>) -> Result<VideoInfo, ProbeError> {
    let mut budget = Budget(0);
    input.seek_to(0)?;
    read_element_id(input)?;
    let header_size = read_element_size(input)?.ok_or(ProbeError::NotAVideo)?;
    if header_size > MAX_EBML_HEADER_BYTES {
        return Err(ProbeError::NotAVideo);
    }
    let header = input.read_vec(header_size, MAX_EBML_HEADER_BYTES, "the EBML header")?;
    // DocType defaults to "matroska" when absent.
    let mut doc_type = String::from("matroska");
    for_each_element(&header, |id, payload| {
        if id == ID_DOC_TYPE {
            doc_type = ebml_string(payload);
        }
        Ok(())
    })?;
    if doc_type != "webm" && doc_type != "matroska" {
        return Err(ProbeError::NotAVideo);
    }

    // The Segment, possibly after Void or CRC-32 elements.
    let segment_size = loop {
        budget.tick()?;
        if input.remaining() == 0 {
            return Err(truncated("no Segment element"));
        }
        let id = read_element_id(input)?;
        let size = read_element_size(input)?;
        if id == ID_SEGMENT {
            break size;
        }
        let size = size.ok_or_else(|| truncated("expected a Segment element"))?;
        input.seek_to(input.pos.checked_add(size).ok_or_else(|| truncated("element too large"))?)?;
    };
    let segment_end = match segment_size {
        Some(size) if size <= input.remaining() => input.pos + size,
        Some(_) => return Err(truncated("the Segment runs past the end of the file")),
        None => input.len,
    };

    let mut state = WebmState {
        timestamp_scale: 1_000_000,
        header_duration: None,
        tracks_seen: false,
        video: None,
        last_block_end: None,
        budget,
    };
    while input.pos < segment_end {
        state.budget.tick()?;
        let id = read_element_id(input)?;
        if id == ID_EBML || id == ID_SEGMENT {
            // A second document chained after this one: not played as part of it.
            break;
        }
        let size = read_element_size(input)?;
        if id == ID_CLUSTER {
            scan_cluster(input, size, segment_end, &mut state)?;
            continue;
        }
        let size = size.ok_or_else(|| truncated(format!("unknown-size element 0x{id:X}")))?;
        let end = input.pos.checked_add(size).filter(|&end| end <= segment_end);
        let end = end.ok_or_else(|| truncated(format!("element 0x{id:X} runs past its Segment")))?;
        match id {
            ID_INFO => parse_info(&input.read_vec(size, MAX_INFO_BYTES, "the Info element")?, &mut state)?,
            ID_TRACKS => parse_tracks(&input.read_vec(size, MAX_TRACKS_BYTES, "the Tracks element")?, &mut state)?,
            _ => {}
        }
        input.seek_to(end)?;
    }

    if !state.tracks_seen {
        return Err(truncated("no Tracks element"));
    }
    let Some(video) = state.video else {
        return Err(ProbeError::NotAVideo);
    };
    if state.timestamp_scale == 0 {
        return Err(truncated("TimestampScale is zero"));
    }
    let scale = state.timestamp_scale;
    let header_ms = state.header_duration.filter(|d| d.is_finite() && *d > 0.0).map(|ticks| {
        // A float-to-int `as` saturates, so a huge value becomes u32::MAX.
        (ticks * scale as f64 / 1e6).round() as u32
    });
    let scanned_ms = state.last_block_end.map(|ticks| {
        let ms = u128::from(ticks) * u128::from(scale) / 1_000_000;
        u32::try_from(ms).unwrap_or(u32::MAX)
    });
    let duration_ms = header_ms.max(scanned_ms).filter(|&ms| ms > 0).ok_or(ProbeError::NoDuration)?;
    Ok(VideoInfo {
        container: Container::Webm,
        duration_ms,
        width: video.width,
        height: video.height,
        video_codec: video.codec,
        faststart: None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    fn fixture(name: &str) -> Vec<u8> {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo")).join(name);
        std::fs::read(path).unwrap()
    }

    fn fixture_path(name: &str) -> std::path::PathBuf {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo")).join(name)
    }

    /// Writes the bytes to a temporary file with the given (misleading) suffix and probes it.
    fn probe_temp(bytes: &[u8], suffix: &str, max_ms: u32) -> Result<VideoInfo, ProbeError> {
        let mut file = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
        file.write_all(bytes).unwrap();
        file.flush().unwrap();
        probe_file(file.path(), max_ms)
    }

    fn probe_bytes(bytes: &[u8], max_ms: u32) -> Result<VideoInfo, ProbeError> {
        probe_reader(std::io::Cursor::new(bytes), bytes.len() as u64, max_ms)
    }

    const MAX: u32 = 8500;

    // --- fixtures on disk ------------------------------------------------

    #[test]
    fn short_mp4() {
        let info = probe_file(&fixture_path("test-short.mp4"), MAX).unwrap();
        assert_eq!(
            info,
            VideoInfo {
                container: Container::Mp4,
                duration_ms: 2000,
                width: Some(160),
                height: Some(284),
                video_codec: Some("avc1".into()),
                faststart: Some(true),
            }
        );
        assert_eq!(info.container.extension(), "mp4");
    }

    #[test]
    fn clip1_mp4() {
        let info = probe_file(&fixture_path("clip1.mp4"), MAX).unwrap();
        assert_eq!(info.duration_ms, 8000);
        assert_eq!((info.width, info.height), (Some(360), Some(640)));
        assert_eq!(info.faststart, Some(true));
    }

    #[test]
    fn too_long_mp4() {
        let result = probe_file(&fixture_path("test-too-long.mp4"), MAX);
        assert_eq!(result, Err(ProbeError::TooLong { duration_ms: 12000, max_ms: MAX }));
        assert_eq!(probe_file(&fixture_path("test-too-long.mp4"), 12000).unwrap().duration_ms, 12000);
    }

    #[test]
    fn short_webm_with_duration() {
        let info = probe_file(&fixture_path("test-short.webm"), MAX).unwrap();
        assert_eq!(
            info,
            VideoInfo {
                container: Container::Webm,
                duration_ms: 2000,
                width: Some(160),
                height: Some(284),
                video_codec: Some("vp09".into()),
                faststart: None,
            }
        );
        assert_eq!(info.container.extension(), "webm");
    }

    #[test]
    fn webm_without_duration_scans_clusters() {
        let mut bytes = fixture("test-short.webm");
        let at = bytes.windows(3).position(|w| w == [0x44, 0x89, 0x88]).unwrap();
        // Duration = ID (2) + size (1) + 8-byte float = 11 bytes; Void = ID (1) + size (1) + 9.
        bytes[at..at + 11].copy_from_slice(&[0xEC, 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let info = probe_temp(&bytes, ".webm", MAX).unwrap();
        // The last frame starts at 1958 ms (47 frames at 24 fps); its own length is not added.
        assert!((1900..=2100).contains(&info.duration_ms), "{}", info.duration_ms);
        assert_eq!(info.duration_ms, 1958);
        assert_eq!(info.video_codec.as_deref(), Some("vp09"));
    }

    #[test]
    fn fragmented_mp4_sums_fragments() {
        // ffmpeg -f lavfi -i testsrc2=s=96x64:r=24:d=2 ... -movflags frag_keyframe+empty_moov
        let info = probe_file(&fixture_path("test-fragmented.mp4"), MAX).unwrap();
        assert_eq!(info.container, Container::Mp4);
        assert_eq!(info.duration_ms, 2000);
        assert_eq!((info.width, info.height), (Some(96), Some(64)));
        assert_eq!(info.video_codec.as_deref(), Some("avc1"));
        assert_eq!(info.faststart, Some(true));
    }

    #[test]
    fn mov_brand_is_mov() {
        let mut bytes = fixture("test-short.mp4");
        bytes[8..12].copy_from_slice(b"qt  ");
        let info = probe_temp(&bytes, ".mp4", MAX).unwrap();
        assert_eq!(info.container, Container::Mov);
        assert_eq!(info.container.extension(), "mov");
        assert_eq!(info.container.media_kind(), crate::media::MediaKind::Mov);
        assert_eq!(info.duration_ms, 2000);
    }

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

    #[test]
    fn truncated_mp4_is_truncated() {
        let bytes = fixture("clip1.mp4");
        let result = probe_temp(&bytes[..200], ".mp4", MAX);
        assert!(matches!(result, Err(ProbeError::Truncated(_))), "{result:?}");
        // moov complete but mdat cut short: the box walk still notices.
        let result = probe_bytes(&bytes[..20_000], MAX);
        assert!(matches!(result, Err(ProbeError::Truncated(_))), "{result:?}");
        // Only the ftyp: no moov at all.
        let result = probe_bytes(&bytes[..32], MAX);
        assert!(matches!(result, Err(ProbeError::Truncated(_))), "{result:?}");
    }

    #[test]
    fn box_larger_than_file_is_truncated() {
        let mut bytes = bx(b"ftyp", b"isom\0\0\x02\0isommp41");
        bytes.extend_from_slice(&0x4000_0000u32.to_be_bytes());
        bytes.extend_from_slice(b"moov");
        bytes.extend_from_slice(&[0; 64]);
        let result = probe_temp(&bytes, ".mp4", MAX);
        assert!(matches!(result, Err(ProbeError::Truncated(_))), "{result:?}");
        // A 64-bit size too.
        let mut bytes = bx(b"ftyp", b"isom\0\0\x02\0isommp41");
        bytes.extend_from_slice(&1u32.to_be_bytes());
        bytes.extend_from_slice(b"mdat");
        bytes.extend_from_slice(&u64::MAX.to_be_bytes());
        let result = probe_bytes(&bytes, MAX);
        assert!(matches!(result, Err(ProbeError::Truncated(_))), "{result:?}");
    }

    #[test]
    fn bad_ftyp_is_not_a_video() {
        let mut tiny = bx(b"ftyp", b"isom");
        tiny.extend_from_slice(&bx(b"moov", &[]));
        assert_eq!(probe_bytes(&tiny, MAX), Err(ProbeError::NotAVideo));
        let mut huge = 100_000u32.to_be_bytes().to_vec();
        huge.extend_from_slice(b"ftypisom");
        huge.resize(200, 0);
        assert_eq!(probe_bytes(&huge, MAX), Err(ProbeError::NotAVideo));
        // moov first, no ftyp.
        let bytes = fixture("test-short.mp4");
        assert_eq!(probe_bytes(&bytes[32..], MAX), Err(ProbeError::NotAVideo));
    }

    // --- hand-built MP4 ---------------------------------------------------

    fn bx(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut out = (8 + payload.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(payload);
        out
    }

    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    fn be32(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    fn ftyp() -> Vec<u8> {
        bx(b"ftyp", b"iso5\0\0\x02\0iso5iso6mp41")
    }

    fn mvhd(timescale: u32, duration: u32) -> Vec<u8> {
        let mut payload = be32(&[0, 0, 0, timescale, duration]);
        payload.resize(100, 0);
        bx(b"mvhd", &payload)
    }

    fn trak(id: u32, handler: &[u8; 4], tkhd_duration: u32, timescale: u32, mdhd_duration: u32) -> Vec<u8> {
        let mut tkhd = be32(&[0, 0, 0, id, 0, tkhd_duration]);
        tkhd.extend_from_slice(&[0; 52]);
        tkhd.extend_from_slice(&be32(&[320 << 16, 240 << 16]));
        let mut mdhd = be32(&[0, 0, 0, timescale, mdhd_duration]);
        mdhd.extend_from_slice(&[0; 4]);
        let mut hdlr = be32(&[0, 0]);
        hdlr.extend_from_slice(handler);
        hdlr.extend_from_slice(&[0; 13]);
        let codec = if handler == b"vide" { b"avc1" } else { b"mp4a" };
        let mut stsd = be32(&[0, 1]);
        stsd.extend_from_slice(&bx(codec, &[0; 78]));
        let stbl = bx(b"stbl", &bx(b"stsd", &stsd));
        let minf = bx(b"minf", &stbl);
        let mdia = bx(b"mdia", &cat(&[bx(b"mdhd", &mdhd), bx(b"hdlr", &hdlr), minf]));
        bx(b"trak", &cat(&[bx(b"tkhd", &tkhd), mdia]))
    }

    fn mvex(mehd: Option<u32>, trex_default: u32) -> Vec<u8> {
        let mut children = Vec::new();
        if let Some(duration) = mehd {
            children.extend_from_slice(&bx(b"mehd", &be32(&[0, duration])));
        }
        children.extend_from_slice(&bx(b"trex", &be32(&[0, 1, 1, trex_default, 0, 0])));
        bx(b"mvex", &children)
    }

    /// A fragment for track 1: `samples` samples, with a tfhd default
    /// duration and/or per-sample durations.
    fn moof(tfhd_default: Option<u32>, samples: u32, per_sample: Option<u32>) -> Vec<u8> {
        let tfhd = match tfhd_default {
            Some(duration) => be32(&[0x08, 1, duration]),
            None => be32(&[0, 1]),
        };
        let trun = match per_sample {
            Some(duration) => {
                let mut trun = be32(&[0x100, samples]);
                for _ in 0..samples {
                    trun.extend_from_slice(&duration.to_be_bytes());
                }
                trun
            }
            None => be32(&[0, samples]),
        };
        let traf = bx(b"traf", &cat(&[bx(b"tfhd", &tfhd), bx(b"trun", &trun)]));
        bx(b"moof", &cat(&[bx(b"mfhd", &be32(&[0, 1])), traf]))
    }

    fn fragmented(mehd: Option<u32>, trex_default: u32, fragments: &[Vec<u8>]) -> Vec<u8> {
        let moov = bx(b"moov", &cat(&[mvhd(1000, 0), trak(1, b"vide", 0, 12800, 0), mvex(mehd, trex_default)]));
        let mut out = cat(&[ftyp(), moov]);
        for fragment in fragments {
            out.extend_from_slice(fragment);
            out.extend_from_slice(&bx(b"mdat", &[0; 16]));
        }
        out
    }

    #[test]
    fn fragments_use_trex_and_tfhd_defaults() {
        // 12800 ticks/s; trex default 512 = 40 ms; 50 samples per fragment.
        let bytes = fragmented(None, 512, &[moof(None, 50, None), moof(None, 50, None)]);
        assert_eq!(probe_bytes(&bytes, MAX).unwrap().duration_ms, 4000);
        // tfhd default (256 = 20 ms) overrides trex.
        let bytes = fragmented(None, 512, &[moof(Some(256), 50, None), moof(None, 50, None)]);
        assert_eq!(probe_bytes(&bytes, MAX).unwrap().duration_ms, 3000);
        // Per-sample durations override both.
        let bytes = fragmented(None, 512, &[moof(Some(256), 10, Some(1280))]);
        assert_eq!(probe_bytes(&bytes, MAX).unwrap().duration_ms, 1000);
        // Too long once summed.
        let fragments = vec![moof(None, 100, None); 3];
        let result = probe_bytes(&fragmented(None, 512, &fragments), MAX);
        assert_eq!(result, Err(ProbeError::TooLong { duration_ms: 12000, max_ms: MAX }));
    }

    #[test]
    fn fragments_use_mehd() {
        let bytes = fragmented(Some(3000), 0, &[]);
        assert_eq!(probe_bytes(&bytes, MAX).unwrap().duration_ms, 3000);
        // The longer of mehd and the fragments wins.
        let bytes = fragmented(Some(1000), 512, &[moof(None, 50, None)]);
        assert_eq!(probe_bytes(&bytes, MAX).unwrap().duration_ms, 2000);
    }

    #[test]
    fn fragmented_without_samples_has_no_duration() {
        let bytes = fragmented(None, 512, &[]);
        assert_eq!(probe_bytes(&bytes, MAX), Err(ProbeError::NoDuration));
    }

    #[test]
    fn hostile_trun_is_truncated() {
        let mut trun = be32(&[0x100, u32::MAX]);
        trun.extend_from_slice(&[0; 8]);
        let traf = bx(b"traf", &cat(&[bx(b"tfhd", &be32(&[0, 1])), bx(b"trun", &trun)]));
        let bytes = fragmented(None, 512, &[bx(b"moof", &traf)]);
        assert!(matches!(probe_bytes(&bytes, MAX), Err(ProbeError::Truncated(_))));
        // A huge sample count without per-sample fields just saturates into TooLong.
        let bytes = fragmented(None, u32::MAX, &[moof(None, u32::MAX, None)]);
        assert!(matches!(probe_bytes(&bytes, MAX), Err(ProbeError::TooLong { .. })));
    }

    #[test]
    fn moof_before_moov_is_truncated() {
        let mut bytes = cat(&[ftyp(), moof(None, 10, None)]);
        bytes.extend_from_slice(&bx(b"moov", &cat(&[mvhd(1000, 0), trak(1, b"vide", 0, 12800, 0), mvex(None, 512)])));
        assert!(matches!(probe_bytes(&bytes, MAX), Err(ProbeError::Truncated(_))));
    }

    #[test]
    fn audio_only_is_not_a_video() {
        let moov = bx(b"moov", &cat(&[mvhd(1000, 2000), trak(1, b"soun", 2000, 48000, 96000)]));
        assert_eq!(probe_bytes(&cat(&[ftyp(), moov]), MAX), Err(ProbeError::NotAVideo));
    }

    #[test]
    fn zero_duration_is_no_duration() {
        let moov = bx(b"moov", &cat(&[mvhd(1000, 0), trak(1, b"vide", 0, 12800, 0)]));
        assert_eq!(probe_bytes(&cat(&[ftyp(), moov]), MAX), Err(ProbeError::NoDuration));
    }

    #[test]
    fn longest_track_beats_a_lying_mvhd() {
        let moov = bx(
            b"moov",
            &cat(&[mvhd(1000, 2000), trak(1, b"vide", 2000, 12800, 25600), trak(2, b"soun", 9000, 48000, 0)]),
        );
        let result = probe_bytes(&cat(&[ftyp(), moov]), MAX);
        assert_eq!(result, Err(ProbeError::TooLong { duration_ms: 9000, max_ms: MAX }));
    }

    #[test]
    fn mdat_before_moov_is_not_faststart() {
        let moov = bx(b"moov", &cat(&[mvhd(600, 1200), trak(1, b"vide", 1200, 12800, 25600)]));
        let info = probe_bytes(&cat(&[ftyp(), bx(b"mdat", &[0; 100]), moov]), MAX).unwrap();
        assert_eq!(info.faststart, Some(false));
        assert_eq!(info.duration_ms, 2000);
        assert_eq!((info.width, info.height), (Some(320), Some(240)));
    }

    // --- hand-built WebM --------------------------------------------------

    fn el(id: u32, payload: &[u8]) -> Vec<u8> {
        let mut out: Vec<u8> = id.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        out.push(0x01);
        out.extend_from_slice(&(payload.len() as u64).to_be_bytes()[1..]);
        out.extend_from_slice(payload);
        out
    }

    fn el_unknown(id: u32) -> Vec<u8> {
        let mut out: Vec<u8> = id.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        out.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        out
    }

    fn uint(value: u64) -> Vec<u8> {
        value.to_be_bytes().to_vec()
    }

    fn simple_block(relative: i16) -> Vec<u8> {
        let mut payload = vec![0x81];
        payload.extend_from_slice(&relative.to_be_bytes());
        payload.extend_from_slice(&[0x80, 1, 2, 3, 4]);
        el(ID_SIMPLE_BLOCK, &payload)
    }

    fn ebml_header(doc_type: &str) -> Vec<u8> {
        el(ID_EBML, &cat(&[el(0x4286, &uint(1)), el(ID_DOC_TYPE, doc_type.as_bytes())]))
    }

    fn tracks(track_type: u64) -> Vec<u8> {
        let video = el(ID_VIDEO, &cat(&[el(ID_PIXEL_WIDTH, &uint(320)), el(ID_PIXEL_HEIGHT, &uint(240))]));
        let codec: &[u8] = if track_type == 1 { b"V_VP8" } else { b"A_OPUS" };
        let entry = cat(&[el(0xD7, &uint(1)), el(ID_TRACK_TYPE, &uint(track_type)), el(ID_CODEC_ID, codec), video]);
        el(ID_TRACKS, &el(ID_TRACK_ENTRY, &entry))
    }

    /// A MediaRecorder-style file: unknown-size Segment and Clusters, no Duration.
    fn recorder_webm(doc_type: &str, track_type: u64, clusters: &[(u64, &[i16])]) -> Vec<u8> {
        let mut out = cat(&[
            ebml_header(doc_type),
            el_unknown(ID_SEGMENT),
            el(ID_INFO, &el(ID_TIMESTAMP_SCALE, &uint(1_000_000))),
            tracks(track_type),
        ]);
        for (timestamp, blocks) in clusters {
            out.extend_from_slice(&el_unknown(ID_CLUSTER));
            out.extend_from_slice(&el(ID_CLUSTER_TIMESTAMP, &uint(*timestamp)));
            for &relative in *blocks {
                out.extend_from_slice(&simple_block(relative));
            }
        }
        out
    }

    #[test]
    fn recorder_webm_scans_unknown_size_clusters() {
        let bytes = recorder_webm("webm", 1, &[(0, &[0, 33, 66]), (1000, &[0, 250, 500])]);
        let info = probe_bytes(&bytes, MAX).unwrap();
        assert_eq!(
            info,
            VideoInfo {
                container: Container::Webm,
                duration_ms: 1500,
                width: Some(320),
                height: Some(240),
                video_codec: Some("vp08".into()),
                faststart: None,
            }
        );
        // A Cues element after the last unknown-size Cluster ends it.
        let mut with_cues = bytes.clone();
        with_cues.extend_from_slice(&el(ID_CUES, &[0; 20]));
        assert_eq!(probe_bytes(&with_cues, MAX).unwrap().duration_ms, 1500);
        // A chained second document is not counted.
        let mut chained = bytes;
        chained.extend_from_slice(&recorder_webm("webm", 1, &[(60_000, &[0])]));
        assert_eq!(probe_bytes(&chained, MAX).unwrap().duration_ms, 1500);
    }

    #[test]
    fn matroska_doctype_is_accepted_others_are_not() {
        let bytes = recorder_webm("matroska", 1, &[(0, &[0, 500])]);
        assert_eq!(probe_bytes(&bytes, MAX).unwrap().container, Container::Webm);
        let bytes = recorder_webm("mka-ish", 1, &[(0, &[0, 500])]);
        assert_eq!(probe_bytes(&bytes, MAX), Err(ProbeError::NotAVideo));
    }

    #[test]
    fn audio_only_webm_is_not_a_video() {
        let bytes = recorder_webm("webm", 2, &[(0, &[0, 500])]);
        assert_eq!(probe_bytes(&bytes, MAX), Err(ProbeError::NotAVideo));
    }

    #[test]
    fn webm_without_blocks_has_no_duration() {
        let bytes = recorder_webm("webm", 1, &[]);
        assert_eq!(probe_bytes(&bytes, MAX), Err(ProbeError::NoDuration));
    }

    #[test]
    fn webm_lying_duration_is_caught_by_the_scan() {
        let mut bytes = cat(&[
            ebml_header("webm"),
            el_unknown(ID_SEGMENT),
            el(ID_INFO, &cat(&[el(ID_TIMESTAMP_SCALE, &uint(1_000_000)), el(ID_DURATION, &1000f64.to_be_bytes())])),
            tracks(1),
        ]);
        for second in 0..20 {
            bytes.extend_from_slice(&el(
                ID_CLUSTER,
                &cat(&[el(ID_CLUSTER_TIMESTAMP, &uint(second * 1000)), simple_block(0)]),
            ));
        }
        assert_eq!(probe_bytes(&bytes, MAX), Err(ProbeError::TooLong { duration_ms: 19000, max_ms: MAX }));
    }

    #[test]
    fn webm_block_group_duration_and_timestamp_scale() {
        // Ticks of 0.1 ms: Block at 10000 ticks + BlockDuration 5000 ticks = 1.5 s.
        let block = el(ID_BLOCK, &[0x81, 0x27, 0x10, 0x00, 9, 9]);
        let group = el(ID_BLOCK_GROUP, &cat(&[block, el(ID_BLOCK_DURATION, &uint(5000))]));
        let bytes = cat(&[
            ebml_header("webm"),
            el_unknown(ID_SEGMENT),
            el(ID_INFO, &el(ID_TIMESTAMP_SCALE, &uint(100_000))),
            tracks(1),
            el(ID_CLUSTER, &cat(&[el(ID_CLUSTER_TIMESTAMP, &uint(0)), group])),
        ]);
        assert_eq!(probe_bytes(&bytes, MAX).unwrap().duration_ms, 1500);
    }

    #[test]
    fn webm_malformed_elements_are_truncated() {
        // An element claiming more bytes than the file has.
        let mut bytes = recorder_webm("webm", 1, &[(0, &[0])]);
        bytes.extend_from_slice(&[0xA3, 0x08, 0, 0, 0, 0x40, 0, 0, 0]);
        bytes.extend_from_slice(&[0x81, 0, 0, 0x80]);
        assert!(matches!(probe_bytes(&bytes, MAX), Err(ProbeError::Truncated(_))));
        // An unknown-size element that is not a Cluster.
        let bytes = cat(&[ebml_header("webm"), el_unknown(ID_SEGMENT), el_unknown(ID_TRACKS), tracks(1)]);
        assert!(matches!(probe_bytes(&bytes, MAX), Err(ProbeError::Truncated(_))));
        // No Tracks at all.
        let bytes =
            cat(&[ebml_header("webm"), el_unknown(ID_SEGMENT), el(ID_CLUSTER, &el(ID_CLUSTER_TIMESTAMP, &uint(0)))]);
        assert!(matches!(probe_bytes(&bytes, MAX), Err(ProbeError::Truncated(_))));
        // A block before the Cluster Timestamp.
        let bytes = cat(&[ebml_header("webm"), el_unknown(ID_SEGMENT), tracks(1), el(ID_CLUSTER, &simple_block(0))]);
        assert!(matches!(probe_bytes(&bytes, MAX), Err(ProbeError::Truncated(_))));
        // A Segment larger than the file.
        let fixture = fixture("test-short.webm");
        let result = probe_bytes(&fixture[..fixture.len() - 100], MAX);
        assert!(matches!(result, Err(ProbeError::Truncated(_))), "{result:?}");
    }

    #[test]
    fn many_tiny_elements_are_bounded() {
        // Two-byte Void elements: the element budget stops the walk.
        let mut bytes = cat(&[ebml_header("webm"), el_unknown(ID_SEGMENT), tracks(1)]);
        bytes.extend(std::iter::repeat_n([0xEC, 0x80], 1_100_000).flatten());
        assert!(matches!(probe_bytes(&bytes, MAX), Err(ProbeError::Truncated(_))));
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
