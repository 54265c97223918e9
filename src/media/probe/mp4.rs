//! MP4 and QuickTime (MOV): the top-level box walk over the file, then the
//! few boxes the probe needs parsed from memory — `moov` (`mvhd`, each
//! `trak`'s `tkhd`/`mdhd`/`hdlr`/`stsd`, `mvex`'s `mehd`/`trex`) and every
//! `moof`'s `tfhd`/`trun` for fragmented files. See the module above for the
//! duration rule and the bounds.

use std::io::{Read, Seek};

use super::cursor::{Cursor, Input, truncated};
use super::{Container, ProbeError, VideoInfo, positive};

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

/// MP4 full-box fields, read through the container-neutral cursor.
impl Cursor<'_> {
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
    let start = input.pos();
    let mut raw = [0u8; 8];
    input.read_exact(&mut raw)?;
    let size32 = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let kind = [raw[4], raw[5], raw[6], raw[7]];
    let (size, header_len) = match size32 {
        0 => (input.len() - start, 8),
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
    if size > input.len() - start {
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
        let header_len = cursor.pos() as u64;
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
            if table_len.is_none_or(|len| len > trun.len() - cursor.pos()) {
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

pub(super) fn probe_mp4<R: Read + Seek>(input: &mut Input<R>, head: &[u8]) -> Result<VideoInfo, ProbeError> {
    let ftyp_size = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
    if !(16..=MAX_FTYP_BYTES).contains(&ftyp_size) {
        return Err(ProbeError::NotAVideo);
    }
    if ftyp_size > input.len() {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::probe_file;
    use super::super::tests::{MAX, cat, fixture, fixture_path, probe_bytes, probe_temp};
    use super::*;

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
}
