//! Faststart: every stored MP4/MOV has its `moov` (the index a player needs
//! before the first frame) ahead of its `mdat`, so playback over the network
//! starts at once. Phones often write `moov` last; such a file is rewritten
//! before it is stored.
//!
//! With ffmpeg configured, `ffmpeg -c copy -movflags +faststart` remuxes it;
//! without ffmpeg, or when ffmpeg fails, the rewrite is done here: the
//! top-level boxes are laid out again as `ftyp`, `moov`, then every other box
//! in its original order, and each chunk offset in `stco`/`co64` is moved by
//! however far the box holding it moved. No sample byte changes. The caller
//! probes the result again, so a rewrite that went wrong is refused, never
//! stored.
//!
//! Blocking file I/O: call from `spawn_blocking`.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::poster::{ffmpeg_file_arg, wait_with_timeout};
use super::probe::Container;

/// How long an ffmpeg remux may take before it is killed.
const REMUX_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest `moov` rewritten in memory (the probe refuses larger ones).
const MAX_MOOV_BYTES: u64 = 16 << 20;
/// Most top-level boxes (the probe's bound too).
const MAX_TOP_LEVEL_BOXES: usize = 100_000;

/// A rewritten file: where it is, its blake3 hash and its length.
pub struct Rewritten {
    /// The new file (deleted when dropped unless persisted).
    pub path: tempfile::TempPath,
    /// The hash of its bytes (its content address).
    pub hash: blake3::Hash,
    /// Its length.
    pub len: u64,
}

/// Rewrites `input` (a probed MP4/MOV whose `moov` follows its `mdat`) into
/// a new temp file in `dir` with `moov` first: with ffmpeg when given and
/// it succeeds, otherwise in-process.
pub fn rewrite(input: &Path, dir: &Path, container: Container, ffmpeg: Option<&Path>) -> io::Result<Rewritten> {
    if let Some(ffmpeg) = ffmpeg {
        match remux_with_ffmpeg(ffmpeg, input, dir, container) {
            Ok(rewritten) => return Ok(rewritten),
            Err(reason) => {
                tracing::warn!(%reason, "ffmpeg faststart remux failed; moving moov in-process");
            }
        }
    }
    move_moov_first(input, dir)
}

/// `ffmpeg -c copy -movflags +faststart`, every stream kept.
fn remux_with_ffmpeg(ffmpeg: &Path, input: &Path, dir: &Path, container: Container) -> Result<Rewritten, String> {
    let output = tempfile::Builder::new()
        .prefix("faststart-")
        .suffix(if container == Container::Mov { ".mov" } else { ".mp4" })
        .tempfile_in(dir)
        .map_err(|error| error.to_string())?
        .into_temp_path();
    let format = if container == Container::Mov { "mov" } else { "mp4" };
    let mut child = Command::new(ffmpeg)
        .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(ffmpeg_file_arg(input))
        .args(["-map", "0", "-c", "copy", "-map_metadata", "0", "-movflags", "+faststart", "-f", format])
        .arg(ffmpeg_file_arg(&output))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("could not run ffmpeg: {error}"))?;
    match wait_with_timeout(&mut child, REMUX_TIMEOUT).map_err(|error| error.to_string())? {
        Some(status) if status.success() => {}
        Some(status) => return Err(format!("ffmpeg exited with {status}")),
        None => return Err(format!("ffmpeg took longer than {} s and was stopped", REMUX_TIMEOUT.as_secs())),
    }
    let mut file = File::open(&output).map_err(|error| error.to_string())?;
    let mut hasher = blake3::Hasher::new();
    let len = io::copy(&mut file, &mut hasher).map_err(|error| error.to_string())?;
    Ok(Rewritten { path: output, hash: hasher.finalize(), len })
}

/// A top-level box: kind, where it starts and how long it is.
#[derive(Debug, Clone, Copy)]
struct TopBox {
    kind: [u8; 4],
    start: u64,
    size: u64,
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// The top-level boxes of the file, in order.
fn top_level_boxes(file: &mut File, len: u64) -> io::Result<Vec<TopBox>> {
    let mut boxes = Vec::new();
    let mut at = 0u64;
    while len - at >= 8 {
        if boxes.len() >= MAX_TOP_LEVEL_BOXES {
            return Err(invalid("too many top-level boxes"));
        }
        file.seek(SeekFrom::Start(at))?;
        let mut header = [0u8; 8];
        file.read_exact(&mut header)?;
        let kind = [header[4], header[5], header[6], header[7]];
        let size = match u32::from_be_bytes([header[0], header[1], header[2], header[3]]) {
            0 => len - at,
            1 => {
                let mut large = [0u8; 8];
                file.read_exact(&mut large)?;
                u64::from_be_bytes(large)
            }
            size => u64::from(size),
        };
        if size < 8 || size > len - at {
            return Err(invalid("a box does not fit in the file"));
        }
        boxes.push(TopBox { kind, start: at, size });
        at += size;
    }
    if at != len {
        // Fewer than 8 bytes after the last box: kept as they are, at the end.
        boxes.push(TopBox { kind: *b"\0\0\0\0", start: at, size: len - at });
    }
    Ok(boxes)
}

/// Moves `moov` right after `ftyp` and fixes every chunk offset.
fn move_moov_first(input: &Path, dir: &Path) -> io::Result<Rewritten> {
    let mut source = File::open(input)?;
    let len = source.metadata()?.len();
    let boxes = top_level_boxes(&mut source, len)?;
    if boxes.first().map(|first| &first.kind) != Some(b"ftyp") {
        return Err(invalid("the file does not start with ftyp"));
    }
    let moov_index = boxes.iter().position(|b| &b.kind == b"moov").ok_or_else(|| invalid("no moov box"))?;
    let moov = boxes[moov_index];
    if moov.size > MAX_MOOV_BYTES {
        return Err(invalid("the moov box is too large"));
    }
    // The new order: ftyp, moov, then the rest as they were.
    let mut order: Vec<usize> = vec![0, moov_index];
    order.extend((1..boxes.len()).filter(|&index| index != moov_index));
    let mut new_start = vec![0u64; boxes.len()];
    let mut at = 0u64;
    for &index in &order {
        new_start[index] = at;
        at += boxes[index].size;
    }

    let mut moov_bytes = vec![0u8; usize::try_from(moov.size).map_err(|_| invalid("moov too large"))?];
    source.seek(SeekFrom::Start(moov.start))?;
    source.read_exact(&mut moov_bytes)?;
    let mut relocate = |offset: u64| -> io::Result<u64> {
        // The box holding the byte at `offset` (boxes are sorted by start).
        let index = boxes.partition_point(|b| b.start <= offset).checked_sub(1);
        let index = index.filter(|&i| offset < boxes[i].start + boxes[i].size && i != moov_index);
        let index = index.ok_or_else(|| invalid("a chunk offset points outside the media data"))?;
        Ok(offset - boxes[index].start + new_start[index])
    };
    let header_len =
        if u32::from_be_bytes([moov_bytes[0], moov_bytes[1], moov_bytes[2], moov_bytes[3]]) == 1 { 16 } else { 8 };
    rewrite_chunk_offsets(&mut moov_bytes[header_len..], &mut relocate)?;

    let output = tempfile::Builder::new().prefix("faststart-").suffix(".part").tempfile_in(dir)?;
    let (file, path) = output.into_parts();
    let mut out = HashingWriter { inner: BufWriter::with_capacity(256 * 1024, file), hasher: blake3::Hasher::new() };
    for &index in &order {
        if index == moov_index {
            out.write_all(&moov_bytes)?;
        } else {
            let part = boxes[index];
            source.seek(SeekFrom::Start(part.start))?;
            let copied = io::copy(&mut (&mut source).take(part.size), &mut out)?;
            if copied != part.size {
                return Err(invalid("the file changed while it was rewritten"));
            }
        }
    }
    let HashingWriter { inner, hasher } = out;
    let file = inner.into_inner().map_err(|error| error.into_error())?;
    file.sync_all()?;
    Ok(Rewritten { path, hash: hasher.finalize(), len })
}

/// Walks `moov`'s payload down to every `stco`/`co64` and moves each offset.
fn rewrite_chunk_offsets(data: &mut [u8], relocate: &mut dyn FnMut(u64) -> io::Result<u64>) -> io::Result<()> {
    let mut at = 0usize;
    while data.len() - at >= 8 {
        let size32 = u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        let kind = [data[at + 4], data[at + 5], data[at + 6], data[at + 7]];
        let (size, header) = match size32 {
            0 => (data.len() - at, 8),
            1 if data.len() - at >= 16 => {
                let large = u64::from_be_bytes(data[at + 8..at + 16].try_into().map_err(|_| invalid("box header"))?);
                (usize::try_from(large).map_err(|_| invalid("box too large"))?, 16)
            }
            1 => return Err(invalid("a box header is cut short")),
            size => (size as usize, 8),
        };
        if size < header || size > data.len() - at {
            return Err(invalid("a box does not fit in its parent"));
        }
        let payload = &mut data[at + header..at + size];
        match &kind {
            b"trak" | b"mdia" | b"minf" | b"stbl" => rewrite_chunk_offsets(payload, relocate)?,
            b"stco" | b"co64" => {
                let wide = &kind == b"co64";
                let entry = if wide { 8 } else { 4 };
                if payload.len() < 8 {
                    return Err(invalid("chunk offset box too short"));
                }
                let count = u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]) as usize;
                if count.checked_mul(entry).is_none_or(|needed| needed > payload.len() - 8) {
                    return Err(invalid("chunk offset table runs past its box"));
                }
                for field in payload[8..8 + count * entry].chunks_exact_mut(entry) {
                    if wide {
                        let offset = u64::from_be_bytes(field.try_into().map_err(|_| invalid("offset"))?);
                        field.copy_from_slice(&relocate(offset)?.to_be_bytes());
                    } else {
                        let offset = u32::from_be_bytes(field.try_into().map_err(|_| invalid("offset"))?);
                        let moved = u32::try_from(relocate(u64::from(offset))?)
                            .map_err(|_| invalid("a chunk offset no longer fits in 32 bits"))?;
                        field.copy_from_slice(&moved.to_be_bytes());
                    }
                }
            }
            _ => {}
        }
        at += size;
    }
    Ok(())
}

/// Writes through to `inner` and hashes what it writes.
struct HashingWriter<W> {
    inner: W,
    hasher: blake3::Hasher,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::media::probe::probe_file;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo")).join(name)
    }

    /// Every chunk's first bytes, read through the file's own `stco` tables:
    /// equal lists mean every offset still points at the same sample.
    fn chunk_heads(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut heads = Vec::new();
        let mut moov = None;
        let mut at = 0;
        while at + 8 <= bytes.len() {
            let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            if &bytes[at + 4..at + 8] == b"moov" {
                moov = Some(bytes[at + 8..at + size].to_vec());
            }
            at += size;
        }
        let mut moov = moov.unwrap();
        rewrite_chunk_offsets(&mut moov, &mut |offset| {
            let start = usize::try_from(offset).unwrap();
            heads.push(bytes[start..start + 16].to_vec());
            Ok(offset)
        })
        .unwrap();
        heads
    }

    #[test]
    fn moov_moves_first_and_every_chunk_offset_follows() {
        let input = fixture("test-moov-at-end.mp4");
        let before = probe_file(&input, 8500).unwrap();
        assert_eq!(before.faststart, Some(false));
        let dir = tempfile::tempdir().unwrap();
        let rewritten = move_moov_first(&input, dir.path()).unwrap();
        let after = probe_file(&rewritten.path, 8500).unwrap();
        assert_eq!(after.faststart, Some(true));
        assert_eq!(after.duration_ms, before.duration_ms);
        assert_eq!(after.media_bytes, before.media_bytes);
        let original = std::fs::read(&input).unwrap();
        let moved = std::fs::read(&rewritten.path).unwrap();
        assert_eq!(moved.len(), original.len());
        assert_eq!(rewritten.len, moved.len() as u64);
        assert_eq!(rewritten.hash, blake3::hash(&moved));
        assert_eq!(&moved[36..40], b"moov", "ftyp (32 bytes), then moov");
        let heads = chunk_heads(&original);
        assert!(!heads.is_empty());
        assert_eq!(chunk_heads(&moved), heads);
    }

    #[test]
    fn ffmpeg_remux_is_faststart_when_installed() {
        let Some(ffmpeg) = crate::media::poster::detect_ffmpeg(None) else {
            eprintln!("ffmpeg not installed; the in-process rewrite is tested above");
            return;
        };
        let input = fixture("test-moov-at-end.mp4");
        let dir = tempfile::tempdir().unwrap();
        let rewritten = rewrite(&input, dir.path(), Container::Mp4, Some(&ffmpeg)).unwrap();
        let info = probe_file(&rewritten.path, 8500).unwrap();
        assert_eq!(info.faststart, Some(true));
        assert_eq!(info.duration_ms, 2000);
        assert!(rewritten.path.to_string_lossy().ends_with(".mp4"), "ffmpeg's output, not the fallback");
    }

    #[test]
    fn a_file_without_moov_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.mp4");
        let mut bytes = std::fs::read(fixture("test-moov-at-end.mp4")).unwrap();
        bytes.truncate(5503);
        std::fs::write(&path, bytes).unwrap();
        assert!(move_moov_first(&path, dir.path()).is_err());
    }
}
