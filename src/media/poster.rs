//! Posters for uploaded clips: a frame from ffmpeg when it is available (at
//! about 1 s, 360 px wide, JPEG), otherwise one neutral placeholder PNG that
//! every clip shares. The binary works without ffmpeg.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::MediaKind;

/// How long ffmpeg may take to extract a poster before it is killed.
const POSTER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `ffmpeg -version` may take during detection.
const DETECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest poster kept from ffmpeg.
const MAX_POSTER_BYTES: u64 = 4 * 1024 * 1024;

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

/// A poster for a video: a JPEG frame from ffmpeg, or the placeholder PNG.
/// `incoming` holds ffmpeg's temp files. Blocking.
pub fn poster_for(ffmpeg: Option<&Path>, video: &Path, incoming: &Path, seek_ms: u32) -> (Bytes, MediaKind) {
    if let Some(ffmpeg) = ffmpeg {
        match extract_frame(ffmpeg, video, incoming, seek_ms) {
            Ok(jpeg) => return (Bytes::from(jpeg), MediaKind::Jpeg),
            Err(reason) => {
                tracing::warn!(video = %video.display(), %reason, "poster extraction failed; using the placeholder");
            }
        }
    }
    (Bytes::from_static(PLACEHOLDER_POSTER_PNG), MediaKind::Png)
}

/// `file:<path>`, so ffmpeg never reads a path as a protocol or option.
pub(super) fn ffmpeg_file_arg(path: &Path) -> OsString {
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
pub(super) fn wait_with_timeout(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
