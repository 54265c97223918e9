//! WebM and Matroska: the EBML header's DocType, then a walk of the Segment
//! reading `Info` and `Tracks` into memory and scanning every Cluster's block
//! timecodes from the file (payloads skipped by seeking). Unknown-size
//! Segments and Clusters, as Chrome's MediaRecorder writes them, are
//! handled. See the module above for the duration rule and the bounds.

use std::io::{Read, Seek};

use super::cursor::{Cursor, Input, truncated};
use super::{Container, ProbeError, VideoInfo, positive};

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
/// Most distinct track numbers that blocks may name.
const MAX_BLOCK_TRACKS: usize = 64;

pub(super) const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];
const ID_EBML: u32 = 0x1A45_DFA3;
const ID_DOC_TYPE: u32 = 0x4282;
const ID_SEGMENT: u32 = 0x1853_8067;
const ID_SEEK_HEAD: u32 = 0x114D_9B74;
const ID_INFO: u32 = 0x1549_A966;
const ID_TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
const ID_DURATION: u32 = 0x4489;
const ID_TRACKS: u32 = 0x1654_AE6B;
const ID_TRACK_ENTRY: u32 = 0xAE;
const ID_TRACK_NUMBER: u32 = 0xD7;
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
    while cursor.pos() < data.len() {
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
    /// Track numbers of the video and audio tracks.
    media_tracks: Vec<u64>,
    /// Block bytes per track number (Tracks may come after the Clusters,
    /// so blocks are counted per track and judged at the end).
    block_bytes: Vec<(u64, u64)>,
    budget: Budget,
}

impl WebmState {
    /// Counts a block of `size` bytes (its element payload) for `track`.
    fn record_block_bytes(&mut self, track: u64, size: u64) -> Result<(), ProbeError> {
        if let Some((_, bytes)) = self.block_bytes.iter_mut().find(|(number, _)| *number == track) {
            *bytes = bytes.saturating_add(size);
        } else if self.block_bytes.len() < MAX_BLOCK_TRACKS {
            self.block_bytes.push((track, size));
        } else {
            return Err(truncated("blocks name too many tracks"));
        }
        Ok(())
    }

    /// Bytes of blocks that belong to video or audio tracks.
    fn media_bytes(&self) -> u64 {
        self.block_bytes
            .iter()
            .filter(|(track, _)| self.media_tracks.contains(track))
            .fold(0u64, |total, (_, bytes)| total.saturating_add(*bytes))
    }

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
        if id != ID_TRACK_ENTRY {
            return Ok(());
        }
        let (mut number, mut track_type, mut codec, mut width, mut height) = (None, 0, None, None, None);
        for_each_element(entry, |id, payload| {
            match id {
                ID_TRACK_NUMBER => number = Some(ebml_uint(payload)?),
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
        // Track types 1 (video) and 2 (audio) carry the media.
        if let Some(number) = number.filter(|_| track_type == 1 || track_type == 2)
            && state.media_tracks.len() < MAX_BLOCK_TRACKS
        {
            state.media_tracks.push(number);
        }
        if track_type == 1 && state.video.is_none() {
            state.video = Some(WebmVideo { codec, width, height });
        }
        Ok(())
    })
}

/// Reads the track number (a variable-length integer) and the relative
/// timecode (16 bits) from the start of a Block or SimpleBlock of `size`
/// bytes.
fn read_block_head<R: Read + Seek>(input: &mut Input<R>, size: u64) -> Result<(u64, i16), ProbeError> {
    let mut head = [0u8; 10];
    let len = usize::try_from(size.min(10)).unwrap_or(10);
    input.read_exact(&mut head[..len])?;
    let mut cursor = Cursor::new(&head[..len], "block");
    let track = read_element_size(&mut cursor)?.ok_or_else(|| truncated("block without a track number"))?;
    let timecode = cursor.array::<2>().map_err(|_| truncated("block too short"))?;
    Ok((track, i16::from_be_bytes(timecode)))
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
        Some(size) => input.pos().checked_add(size).filter(|&end| end <= parent_end),
        None => Some(parent_end),
    };
    let end = end.ok_or_else(|| truncated("a Cluster runs past its Segment"))?;
    let mut cluster_ts = None;
    while input.pos() < end {
        state.budget.tick()?;
        let child_start = input.pos();
        let id = read_element_id(input)?;
        if size.is_none() && ends_cluster(id) {
            input.seek_to(child_start)?;
            return Ok(());
        }
        let child_size = read_element_size(input)?.ok_or_else(|| truncated("unknown-size element in a Cluster"))?;
        let child_end = input.pos().checked_add(child_size).filter(|&child_end| child_end <= end);
        let child_end = child_end.ok_or_else(|| truncated(format!("element 0x{id:X} runs past its Cluster")))?;
        match id {
            ID_CLUSTER_TIMESTAMP => {
                let data = input.read_vec(child_size, 8, "the Cluster Timestamp")?;
                cluster_ts = Some(ebml_uint(&data)?);
            }
            ID_SIMPLE_BLOCK => {
                let (track, relative) = read_block_head(input, child_size)?;
                state.record_block_bytes(track, child_size)?;
                state.record_block(cluster_ts, relative, 0)?;
            }
            ID_BLOCK_GROUP => {
                let (mut relative, mut duration) = (None, 0);
                while input.pos() < child_end {
                    state.budget.tick()?;
                    let id = read_element_id(input)?;
                    let size = read_element_size(input)?.ok_or_else(|| truncated("unknown-size element in a block"))?;
                    let item_end = input.pos().checked_add(size).filter(|&item_end| item_end <= child_end);
                    let item_end = item_end.ok_or_else(|| truncated("element runs past its BlockGroup"))?;
                    match id {
                        ID_BLOCK => {
                            let (track, timecode) = read_block_head(input, size)?;
                            state.record_block_bytes(track, size)?;
                            relative = Some(timecode);
                        }
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

pub(super) fn probe_webm<R: Read + Seek>(input: &mut Input<R>) -> Result<VideoInfo, ProbeError> {
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
        input.seek_to(input.pos().checked_add(size).ok_or_else(|| truncated("element too large"))?)?;
    };
    let segment_end = match segment_size {
        Some(size) if size <= input.remaining() => input.pos() + size,
        Some(_) => return Err(truncated("the Segment runs past the end of the file")),
        None => input.len(),
    };

    let mut state = WebmState {
        timestamp_scale: 1_000_000,
        header_duration: None,
        tracks_seen: false,
        video: None,
        last_block_end: None,
        media_tracks: Vec::new(),
        block_bytes: Vec::new(),
        budget,
    };
    while input.pos() < segment_end {
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
        let end = input.pos().checked_add(size).filter(|&end| end <= segment_end);
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
    let media_bytes = state.media_bytes();
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
        media_bytes,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::probe_file;
    use super::super::tests::{MAX, cat, fixture, fixture_path, probe_bytes, probe_temp};
    use super::*;

    // --- fixtures on disk ------------------------------------------------

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
                media_bytes: 44221,
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
                media_bytes: 48,
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
    #[test]
    fn webm_payload_outside_the_blocks_is_bounded() {
        let short = fixture("test-short.webm");
        let info = probe_bytes(&short, MAX).unwrap();
        assert!(
            short.len() as u64 - info.media_bytes < 4096,
            "{} of {} bytes are blocks",
            info.media_bytes,
            short.len()
        );
        let clusters: &[(u64, &[i16])] = &[(0, &[0, 33, 66])];
        // Attachments (Matroska's way of carrying files) in the Segment.
        let mut attached = recorder_webm("webm", 1, clusters);
        attached.extend_from_slice(&el(ID_ATTACHMENTS, &vec![7; 1 << 20]));
        assert!(matches!(probe_bytes(&attached, MAX), Err(ProbeError::ExtraPayload { .. })));
        // Blocks of a track that is neither video nor audio (here track 5,
        // which Tracks does not list) are not media either.
        let mut smuggled = recorder_webm("webm", 1, clusters);
        let mut block = vec![0x85, 0, 0, 0x80];
        block.resize(1 << 20, 9);
        smuggled.extend_from_slice(&el(ID_SIMPLE_BLOCK, &block));
        assert!(matches!(probe_bytes(&smuggled, MAX), Err(ProbeError::ExtraPayload { .. })));
        // A little padding passes.
        let mut padded = recorder_webm("webm", 1, clusters);
        padded.extend_from_slice(&el(0xEC, &[0; 1000]));
        assert!(probe_bytes(&padded, MAX).is_ok());
    }
}
