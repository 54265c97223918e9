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
/// Audio length beyond the rest that is forgiven as encoder priming.
const AUDIO_PRIMING_ALLOWANCE_MS: u32 = 100;

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
    /// The sum of the edit list's segment durations, in the movie timescale.
    edit_duration: u64,
    width: Option<u32>,
    height: Option<u32>,
    timescale: u32,
    /// In the track (`mdhd`) timescale.
    mdhd_duration: u64,
    /// The sum of the `stts` sample durations, in the track timescale: how
    /// long the samples really play, whatever the headers claim.
    sample_duration: u64,
    codec: Option<String>,
    /// Byte ranges of the file that hold this track's samples (one per
    /// chunk, from `stco`/`co64`, `stsc` and `stsz`), unsorted.
    chunks: Vec<(u64, u64)>,
    /// `trex` defaults for fragments: sample duration and size.
    trex_default_duration: u32,
    trex_default_size: u32,
    /// Sums over all `moof`s: sample durations (track timescale) and sizes.
    fragment_duration: u64,
    fragment_bytes: u64,
}

impl Track {
    /// Whether the track is picture or sound; other tracks (timed text,
    /// metadata, hints) carry no media for the purposes of the payload bound.
    fn is_media(&self) -> bool {
        &self.handler == b"vide" || &self.handler == b"soun"
    }

    fn is_audio(&self) -> bool {
        &self.handler == b"soun"
    }
}

/// The parts of `moov` the probe needs.
struct Moov {
    timescale: u32,
    mvhd_duration: u64,
    tracks: Vec<Track>,
    fragmented: bool,
    /// `mehd` fragment duration, in the movie timescale.
    fragment_duration: u64,
}

impl Moov {
    fn video(&self) -> Option<&Track> {
        self.tracks.iter().find(|track| &track.handler == b"vide")
    }
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
    if let Some(elst) = Boxes::find(data, b"edts")?.map(|edts| Boxes::find(edts, b"elst")).transpose()?.flatten() {
        track.edit_duration = parse_elst(elst)?;
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
    let stbl = match Boxes::find(mdia, b"minf")? {
        Some(minf) => Boxes::find(minf, b"stbl")?,
        None => None,
    };
    let Some(stbl) = stbl else {
        return Ok(track);
    };
    if let Some(stts) = Boxes::find(stbl, b"stts")? {
        track.sample_duration = parse_stts(stts)?;
    }
    track.chunks = chunk_ranges(stbl)?;
    if let Some(stsd) = Boxes::find(stbl, b"stsd")? {
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

/// The sum of an edit list's segment durations (movie timescale). Empty
/// edits (a delay) count too: they are time the viewer watches.
fn parse_elst(data: &[u8]) -> Result<u64, ProbeError> {
    let mut cursor = Cursor::new(data, "elst");
    let version = cursor.version()?;
    let count = cursor.u32()?;
    let entry_len: usize = if version == 1 { 20 } else { 12 };
    check_table(data.len() - cursor.pos(), count, entry_len, "elst")?;
    let mut total = 0u64;
    for _ in 0..count {
        let duration = if version == 1 { cursor.u64()? } else { u64::from(cursor.u32()?) };
        cursor.skip(entry_len - if version == 1 { 8 } else { 4 })?;
        total = total.saturating_add(duration);
    }
    Ok(total)
}

/// The sum of `count × delta` over the time-to-sample table (track timescale).
fn parse_stts(data: &[u8]) -> Result<u64, ProbeError> {
    let mut cursor = Cursor::new(data, "stts");
    cursor.version()?;
    let count = cursor.u32()?;
    check_table(data.len() - cursor.pos(), count, 8, "stts")?;
    let mut total = 0u64;
    for _ in 0..count {
        let samples = u64::from(cursor.u32()?);
        let delta = u64::from(cursor.u32()?);
        total = total.saturating_add(samples.saturating_mul(delta));
    }
    Ok(total)
}

/// Refuses a table of `count` entries of `entry_len` bytes that does not fit
/// in the `room` bytes left in its box, so every table walk is bounded by
/// the size of a box already in memory.
fn check_table(room: usize, count: u32, entry_len: usize, what: &str) -> Result<(), ProbeError> {
    let needed = usize::try_from(count).ok().and_then(|count| count.checked_mul(entry_len));
    if needed.is_none_or(|needed| needed > room) {
        return Err(truncated(format!("the {what} table runs past its box")));
    }
    Ok(())
}

/// The byte range of every chunk of a track: its offset (`stco`/`co64`) and
/// the sizes (`stsz`) of the samples `stsc` puts in it. A table that runs out
/// early ends the walk (the ranges found so far stand).
fn chunk_ranges(stbl: &[u8]) -> Result<Vec<(u64, u64)>, ProbeError> {
    let offsets: Vec<u64> = if let Some(stco) = Boxes::find(stbl, b"stco")? {
        let mut cursor = Cursor::new(stco, "stco");
        cursor.version()?;
        let count = cursor.u32()?;
        check_table(stco.len() - cursor.pos(), count, 4, "stco")?;
        (0..count).map(|_| cursor.u32().map(u64::from)).collect::<Result<_, _>>()?
    } else if let Some(co64) = Boxes::find(stbl, b"co64")? {
        let mut cursor = Cursor::new(co64, "co64");
        cursor.version()?;
        let count = cursor.u32()?;
        check_table(co64.len() - cursor.pos(), count, 8, "co64")?;
        (0..count).map(|_| cursor.u64()).collect::<Result<_, _>>()?
    } else {
        return Ok(Vec::new());
    };
    let Some(stsz) = Boxes::find(stbl, b"stsz")? else { return Ok(Vec::new()) };
    let mut sizes = Cursor::new(stsz, "stsz");
    sizes.version()?;
    let constant_size = sizes.u32()?;
    let sample_count = sizes.u32()?;
    if constant_size == 0 {
        check_table(stsz.len() - sizes.pos(), sample_count, 4, "stsz")?;
    }
    let Some(stsc) = Boxes::find(stbl, b"stsc")? else { return Ok(Vec::new()) };
    let mut runs = Cursor::new(stsc, "stsc");
    runs.version()?;
    let run_count = runs.u32()?;
    check_table(stsc.len() - runs.pos(), run_count, 12, "stsc")?;
    let runs: Vec<(u32, u32)> = (0..run_count)
        .map(|_| -> Result<(u32, u32), ProbeError> {
            let first_chunk = runs.u32()?;
            let per_chunk = runs.u32()?;
            runs.skip(4)?;
            Ok((first_chunk, per_chunk))
        })
        .collect::<Result<_, _>>()?;

    let mut ranges = Vec::with_capacity(offsets.len());
    let mut samples_left = sample_count;
    let mut run = 0;
    for (index, &offset) in offsets.iter().enumerate() {
        let chunk_number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        // The run that covers this chunk is the last one starting at or
        // before it; runs are in chunk order, so the index only moves forward.
        while run + 1 < runs.len() && runs[run + 1].0 <= chunk_number {
            run += 1;
        }
        let per_chunk = runs.get(run).filter(|(first, _)| *first <= chunk_number).map_or(0, |(_, per)| *per);
        let take = per_chunk.min(samples_left);
        let len = if constant_size != 0 {
            u64::from(take) * u64::from(constant_size)
        } else {
            // Bounded by the stsz table checked above: `take` never passes
            // the samples it lists.
            let mut len = 0u64;
            for _ in 0..take {
                len = len.saturating_add(u64::from(sizes.u32()?));
            }
            len
        };
        samples_left -= take;
        ranges.push((offset, offset.saturating_add(len)));
        if samples_left == 0 {
            break;
        }
    }
    Ok(ranges)
}

fn parse_moov(data: &[u8]) -> Result<Moov, ProbeError> {
    let mut moov = Moov { timescale: 0, mvhd_duration: 0, tracks: Vec::new(), fragmented: false, fragment_duration: 0 };
    let mut mvex = None;
    let mut boxes = Boxes::new(data);
    while let Some((kind, payload)) = boxes.next_box()? {
        match &kind {
            b"mvhd" => (moov.timescale, moov.mvhd_duration) = parse_mvhd(payload)?,
            b"trak" => moov.tracks.push(parse_trak(payload)?),
            b"mvex" => mvex = Some(payload),
            _ => {}
        }
    }
    if let Some(mvex) = mvex {
        moov.fragmented = true;
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
                    let default_size = cursor.u32()?;
                    if let Some(track) = moov.tracks.iter_mut().find(|track| track.id == track_id) {
                        track.trex_default_duration = default_duration;
                        track.trex_default_size = default_size;
                    }
                }
                _ => {}
            }
        }
    }
    Ok(moov)
}

/// Adds each track's sample durations and sizes in one `moof` to its
/// fragment totals.
fn sum_moof(data: &[u8], tracks: &mut [Track]) -> Result<(), ProbeError> {
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
        let track_id = cursor.u32()?;
        let Some(track) = tracks.iter_mut().find(|track| track.id == track_id) else {
            continue;
        };
        if flags & 0x01 != 0 {
            cursor.skip(8)?; // base_data_offset
        }
        if flags & 0x02 != 0 {
            cursor.skip(4)?; // sample_description_index
        }
        let default_duration = if flags & 0x08 != 0 { cursor.u32()? } else { track.trex_default_duration };
        let default_size = if flags & 0x10 != 0 { cursor.u32()? } else { track.trex_default_size };

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
            let has_duration = flags & 0x100 != 0;
            let has_size = flags & 0x200 != 0;
            let per_sample_fields = [0x100, 0x200, 0x400, 0x800].iter().filter(|&&bit| flags & bit != 0).count();
            if per_sample_fields == 0 {
                let samples = u64::from(count);
                track.fragment_duration = track.fragment_duration.saturating_add(samples * u64::from(default_duration));
                track.fragment_bytes = track.fragment_bytes.saturating_add(samples * u64::from(default_size));
                continue;
            }
            // Samples have fields of their own: the table must fit in the box
            // before it is walked, so the loop is bounded by the box size.
            let entry_len = per_sample_fields * 4;
            check_table(trun.len() - cursor.pos(), count, entry_len, "trun")?;
            for _ in 0..count {
                let entry = cursor.bytes(entry_len)?;
                let field =
                    |at: usize| u64::from(u32::from_be_bytes([entry[at], entry[at + 1], entry[at + 2], entry[at + 3]]));
                let duration = if has_duration { field(0) } else { u64::from(default_duration) };
                let size = if has_size { field(if has_duration { 4 } else { 0 }) } else { u64::from(default_size) };
                track.fragment_duration = track.fragment_duration.saturating_add(duration);
                track.fragment_bytes = track.fragment_bytes.saturating_add(size);
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
    let mut mdat_payloads: Vec<(u64, u64)> = Vec::new();
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
            b"mdat" => {
                mdat_seen = true;
                mdat_payloads.push((header.start + header.header_len, header.end()));
            }
            b"moof" => {
                let Some(moov) = &mut moov else {
                    return Err(truncated("a movie fragment comes before the moov box"));
                };
                moof_bytes = moof_bytes.saturating_add(header.payload_len());
                if moof_bytes > MAX_MOOF_TOTAL_BYTES {
                    return Err(truncated("the movie fragment headers are too large"));
                }
                let data = input.read_vec(header.payload_len(), MAX_MOOF_BYTES, "a moof box")?;
                sum_moof(&data, &mut moov.tracks)?;
            }
            _ => {}
        }
        input.seek_to(header.end())?;
    }

    let Some(moov) = moov else {
        return Err(truncated("no moov box"));
    };
    let Some(video) = moov.video() else {
        return Err(ProbeError::NotAVideo);
    };
    let duration_ms = longest_duration(&moov).ok_or(ProbeError::NoDuration)?;
    let media_bytes = media_bytes(&moov, &mdat_payloads);
    Ok(VideoInfo {
        container,
        duration_ms,
        width: video.width,
        height: video.height,
        video_codec: video.codec.clone(),
        faststart,
        media_bytes,
    })
}

/// The longest duration any part of the file gives, in milliseconds; `None`
/// when all of them are zero or unknown. Headers (`mvhd`, `tkhd`, `mdhd`,
/// `mehd`) can be edited without touching a sample, so the sample tables
/// (`stts`, and `trun` in fragments) and the edit lists count too: a file
/// whose headers claim a sixth of its real length is measured by what its
/// samples play.
fn longest_duration(moov: &Moov) -> Option<u32> {
    let movie_scale = u64::from(moov.timescale);
    let mut candidates = vec![ticks_to_ms(moov.mvhd_duration, movie_scale)];
    if moov.fragmented {
        candidates.push(ticks_to_ms(moov.fragment_duration, movie_scale));
    }
    for track in &moov.tracks {
        candidates.push(ticks_to_ms(track.tkhd_duration, movie_scale));
        candidates.push(ticks_to_ms(track.edit_duration, movie_scale));
        let track_scale = u64::from(track.timescale);
        let played = track.sample_duration.saturating_add(track.fragment_duration);
        // Audio sample tables include the encoder's priming samples (about
        // 21–46 ms for AAC) that the edit list hides; forgive that much.
        let allowance = if track.is_audio() { AUDIO_PRIMING_ALLOWANCE_MS } else { 0 };
        for ticks in [track.mdhd_duration, played, track.mdhd_duration.saturating_add(track.fragment_duration)] {
            candidates.push(ticks_to_ms(ticks, track_scale).map(|ms| ms.saturating_sub(allowance)));
        }
    }
    candidates.into_iter().flatten().max().filter(|&ms| ms > 0)
}

/// Bytes of the file that hold picture or sound samples: the chunks of the
/// video and audio tracks, merged where they overlap and counted only inside
/// `mdat` payloads (a sample table cannot claim bytes that are not media
/// data). In a fragmented file the fragments' sample sizes count too, up to
/// what the `mdat` boxes hold.
fn media_bytes(moov: &Moov, mdat_payloads: &[(u64, u64)]) -> u64 {
    let mut chunks: Vec<(u64, u64)> =
        moov.tracks.iter().filter(|track| track.is_media()).flat_map(|track| track.chunks.iter().copied()).collect();
    chunks.sort_unstable();
    let mut covered = 0u64;
    let mut merged: Option<(u64, u64)> = None;
    let mut flush = |range: (u64, u64)| {
        for &(start, end) in mdat_payloads {
            let (from, to) = (range.0.max(start), range.1.min(end));
            covered = covered.saturating_add(to.saturating_sub(from));
        }
    };
    for (start, end) in chunks {
        match &mut merged {
            Some(current) if start <= current.1 => current.1 = current.1.max(end),
            _ => {
                if let Some(done) = merged.replace((start, end)) {
                    flush(done);
                }
            }
        }
    }
    if let Some(done) = merged {
        flush(done);
    }
    if moov.fragmented {
        let mdat_total: u64 = mdat_payloads.iter().map(|(start, end)| end - start).sum();
        let fragments: u64 =
            moov.tracks.iter().filter(|track| track.is_media()).map(|track| track.fragment_bytes).sum();
        covered = covered.saturating_add(fragments).min(mdat_total);
    }
    covered
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
                media_bytes: 23032,
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
    /// Divides the duration fields of `mvhd`, every `tkhd`, `mdhd` and
    /// `elst` entry by `by`, in place: the headers claim a fraction of the
    /// length while every sample stays where it was.
    fn divide_header_durations(bytes: &mut [u8], by: u64) {
        fn divide(bytes: &mut [u8], offset: usize, wide: bool, by: u64) {
            if wide {
                let field = &mut bytes[offset..offset + 8];
                let value = u64::from_be_bytes(field.try_into().unwrap()) / by;
                field.copy_from_slice(&value.to_be_bytes());
            } else {
                let field = &mut bytes[offset..offset + 4];
                let value = u64::from(u32::from_be_bytes(field.try_into().unwrap())) / by;
                field.copy_from_slice(&(value as u32).to_be_bytes());
            }
        }
        fn walk(bytes: &mut [u8], start: usize, end: usize, by: u64) {
            let mut at = start;
            while at + 8 <= end {
                let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
                let kind: [u8; 4] = bytes[at + 4..at + 8].try_into().unwrap();
                let payload = at + 8;
                let version = bytes[payload];
                match &kind {
                    b"moov" | b"trak" | b"mdia" | b"edts" => walk(bytes, payload, at + size, by),
                    // version/flags, created, modified, timescale, duration
                    b"mvhd" | b"mdhd" => {
                        divide(bytes, payload + if version == 1 { 24 } else { 16 }, version == 1, by);
                    }
                    // version/flags, created, modified, track id, reserved, duration
                    b"tkhd" => divide(bytes, payload + if version == 1 { 28 } else { 20 }, version == 1, by),
                    b"elst" => {
                        let count = u32::from_be_bytes(bytes[payload + 4..payload + 8].try_into().unwrap()) as usize;
                        let entry = if version == 1 { 20 } else { 12 };
                        for index in 0..count {
                            divide(bytes, payload + 8 + index * entry, version == 1, by);
                        }
                    }
                    _ => {}
                }
                at += size;
            }
        }
        let len = bytes.len();
        walk(bytes, 0, len, by);
    }

    #[test]
    fn headers_divided_by_six_are_measured_by_the_sample_tables() {
        // A 20 s clip (video and audio) whose mvhd, tkhd, mdhd and elst all
        // claim 3.3 s: the stts tables still hold 20 s of samples.
        let mut bytes = fixture("test-twenty-seconds.mp4");
        assert_eq!(probe_bytes(&bytes, 60_000).unwrap().duration_ms, 20_000);
        divide_header_durations(&mut bytes, 6);
        let result = probe_bytes(&bytes, MAX);
        assert!(matches!(result, Err(ProbeError::TooLong { duration_ms, .. }) if duration_ms >= 19_900), "{result:?}");
    }

    #[test]
    fn stts_and_edit_lists_count() {
        // 100 samples of 512 ticks and 20 of 1024.
        assert_eq!(parse_stts(&be32(&[0, 2, 100, 512, 20, 1024])).unwrap(), 71_680);
        let elst = cat(&[be32(&[0, 2, 3000, 0, 0x0001_0000]), be32(&[6000, 0, 0x0001_0000])]);
        assert_eq!(parse_elst(&elst).unwrap(), 9000);
        // A table that claims more entries than its box holds is refused.
        assert!(matches!(parse_stts(&be32(&[0, 1_000_000, 1, 1])), Err(ProbeError::Truncated(_))));
        assert!(matches!(parse_elst(&be32(&[0, u32::MAX])), Err(ProbeError::Truncated(_))));
    }

    #[test]
    fn media_bytes_cover_the_samples_only() {
        let info = probe_file(&fixture_path("test-short.mp4"), MAX).unwrap();
        let len = fixture("test-short.mp4").len() as u64;
        assert!(len - info.media_bytes < 4096, "{} of {len} bytes are samples", info.media_bytes);
        // An mdat stretched over 20 MiB of appended bytes: the samples stay
        // where they were, so the stretch is payload.
        let mut bytes = fixture("test-short.mp4");
        let at = bytes.windows(4).position(|w| w == b"mdat").unwrap() - 4;
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!(at as u64 + u64::from(size), len, "the fixture's mdat is its last box");
        bytes[at..at + 4].copy_from_slice(&(size + (20 << 20)).to_be_bytes());
        bytes.resize(bytes.len() + (20 << 20), 0x5a);
        assert!(matches!(probe_bytes(&bytes, MAX), Err(ProbeError::ExtraPayload { .. })));
    }

    #[test]
    fn payload_after_the_video_is_refused_beyond_the_bound() {
        let clip = fixture("test-short.mp4");
        let free_box = |payload: usize| {
            let mut out = clip.clone();
            out.extend_from_slice(&bx(b"free", &vec![0; payload]));
            out
        };
        // A small free box (padding some writers leave) passes.
        assert!(probe_bytes(&free_box(1024), MAX).is_ok());
        // 20 MiB in a free box, or as raw bytes after the last box, does not.
        let result = probe_bytes(&free_box(20 << 20), MAX);
        assert!(
            matches!(result, Err(ProbeError::ExtraPayload { bytes, max }) if bytes > 20 << 20 && max == super::super::MAX_NON_MEDIA_BYTES),
            "{result:?}"
        );
        let mut trailing = clip.clone();
        trailing.resize(clip.len() + (20 << 20), 0);
        assert!(matches!(probe_bytes(&trailing, MAX), Err(ProbeError::ExtraPayload { .. })));
        // Just over the bound is refused too.
        let over = super::super::MAX_NON_MEDIA_BYTES as usize;
        assert!(matches!(probe_bytes(&free_box(over), MAX), Err(ProbeError::ExtraPayload { .. })));
    }
}
