//! The fuzz targets: each owns its seeds, its dictionary, the heap bound it
//! documents and the invariants it checks.

use std::collections::HashSet;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use axum::http::{HeaderMap, HeaderValue, Request, header};
use serde::de::DeserializeOwned;

use aimoviez::captcha::{Captcha, CaptchaConfig, solve};
use aimoviez::http::api;
use aimoviez::http::extract::ApiJson;
use aimoviez::http::media::{RangePlan, plan_range};
use aimoviez::media::MediaLibrary;
use aimoviez::media::probe::{Container, probe_reader};
use aimoviez::media::upload::INCOMING_DIR;
use aimoviez::service::uploads::{Part, UploadDraft, UploadLimits};
use aimoviez::sessions::{new_token, token_from_cookie_header, token_hash};

use super::{Seed, Target, demo_file};

/// The duration limit the probe is checked against (the default config).
const MAX_DURATION_MS: u32 = 8500;

/// Every target, in report order. `scratch` is a directory for the upload
/// targets' files (a tmpfs makes their fsyncs free).
pub fn all(scratch: &std::path::Path) -> Vec<Box<dyn Target>> {
    vec![
        Box::new(Probe::new()),
        Box::new(Range::new()),
        Box::new(UploadFields::new(scratch)),
        Box::new(MultipartUpload::new(scratch)),
        Box::new(Cookie::new()),
        Box::new(CaptchaTokens::new()),
        Box::new(JsonBodies::new()),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    // One thread, so the allocation meter sees only this case.
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

// ---------------------------------------------------------------------------
// The video probe

/// `media::probe` over MP4, MOV, fragmented MP4, WebM and MediaRecorder-style
/// WebM. Bound: the probe reads at most one `moov` (≤ 16 MiB) and one `moof`
/// (≤ 1 MiB) whole, never more than the file, plus fixed buffers (64 KiB).
pub struct Probe {
    seeds: Vec<Seed>,
}

const PROBE_DICTIONARY: &[&[u8]] = &[
    b"ftyp",
    b"moov",
    b"mvhd",
    b"trak",
    b"tkhd",
    b"mdia",
    b"mdhd",
    b"hdlr",
    b"minf",
    b"stbl",
    b"stsd",
    b"stts",
    b"mvex",
    b"mehd",
    b"trex",
    b"moof",
    b"traf",
    b"tfhd",
    b"trun",
    b"mdat",
    b"free",
    b"vide",
    b"soun",
    b"avc1",
    b"isom",
    b"qt  ",
    b"\x1a\x45\xdf\xa3",
    b"\x42\x82",
    b"webm",
    b"matroska",
    b"\x18\x53\x80\x67",
    b"\x15\x49\xa9\x66",
    b"\x2a\xd7\xb1",
    b"\x44\x89",
    b"\x16\x54\xae\x6b",
    b"\xae",
    b"\x83",
    b"\x86",
    b"\xe0",
    b"\xb0",
    b"\xba",
    b"\x1f\x43\xb6\x75",
    b"\xe7",
    b"\xa3",
    b"\xa0",
    b"\xa1",
    b"\x9b",
    b"\x1c\x53\xbb\x6b",
    b"\x01\xff\xff\xff\xff\xff\xff\xff",
    b"\xff",
    b"V_VP8",
    b"V_VP9",
];

impl Probe {
    /// The demo clips and the test files, plus a MOV and a MediaRecorder-style
    /// WebM derived from them.
    pub fn new() -> Probe {
        let mut files: Vec<Vec<u8>> =
            ["clip1.mp4", "test-short.mp4", "test-fragmented.mp4", "test-short.webm", "test-too-long.mp4"]
                .into_iter()
                .map(demo_file)
                .collect();
        let mut mov = demo_file("test-short.mp4");
        mov[8..12].copy_from_slice(b"qt  ");
        files.push(mov);
        files.push(media_recorder_webm(&demo_file("test-short.webm")));
        Probe { seeds: files.into_iter().map(|bytes| Seed::new(bytes, PROBE_DICTIONARY)).collect() }
    }
}

/// Rewrites an ffmpeg WebM the way Chrome's MediaRecorder writes one: the
/// Segment and every Cluster of unknown size, and no `Duration`.
pub fn media_recorder_webm(webm: &[u8]) -> Vec<u8> {
    let mut out = webm.to_vec();
    let unknown_size_after = |id: &[u8], out: &mut Vec<u8>, all: bool| {
        let mut from = 0;
        while let Some(found) = out[from..].windows(id.len()).position(|window| window == id) {
            let at = from + found + id.len();
            let width = out[at].leading_zeros() as usize + 1;
            if width <= 8 && at + width <= out.len() {
                out[at] = 0xFF >> (width - 1);
                out[at + 1..at + width].fill(0xFF);
            }
            from = at;
            if !all {
                break;
            }
        }
    };
    unknown_size_after(&[0x18, 0x53, 0x80, 0x67], &mut out, false);
    unknown_size_after(&[0x1F, 0x43, 0xB6, 0x75], &mut out, true);
    if let Some(at) = out.windows(3).position(|window| window == [0x44, 0x89, 0x88]) {
        // Duration (2-byte id, size 8, an f64) becomes a Void of the same length.
        out[at..at + 11].copy_from_slice(&[0xEC, 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }
    out
}

impl Target for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }
    fn seeds(&self) -> &[Seed] {
        &self.seeds
    }
    fn dictionary(&self) -> &[&'static [u8]] {
        PROBE_DICTIONARY
    }
    fn max_len(&self) -> usize {
        1 << 20
    }
    fn allocation_bound(&self, len: usize) -> usize {
        len.min((16 << 20) + (1 << 20)) + (64 << 10)
    }
    fn run(&mut self, input: &[u8]) -> Result<(), String> {
        let Ok(info) = probe_reader(Cursor::new(input), input.len() as u64, MAX_DURATION_MS) else {
            return Ok(());
        };
        if info.duration_ms == 0 || info.duration_ms > MAX_DURATION_MS {
            return Err(format!("accepted a video of {} ms (limit {MAX_DURATION_MS})", info.duration_ms));
        }
        let is_webm = input.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]);
        if is_webm != (info.container == Container::Webm) {
            return Err(format!("container {:?} does not match the magic bytes", info.container));
        }
        if info.faststart.is_some() == is_webm {
            return Err("faststart is for MP4/MOV only".into());
        }
        if info.width == Some(0) || info.height == Some(0) {
            return Err("a zero frame size is reported as known".into());
        }
        if info.video_codec.as_ref().is_some_and(|codec| codec.len() > 64) {
            return Err("codec name longer than 64 bytes".into());
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Range and If-Range

/// `http::media::plan_range`. Input: one byte choosing the file length, one
/// choosing the `If-Range` header, the rest is the `Range` value. Checked
/// against a reference for canonical single ranges (RFC 9110 §14.1.2).
/// Bound: the parser's own vectors, 4 KiB plus 64 bytes per input byte.
pub struct Range {
    seeds: Vec<Seed>,
}

const RANGE_DICTIONARY: &[&[u8]] = &[
    b"bytes=",
    b"bytes",
    b"items=",
    b"-",
    b",",
    b"=",
    b" ",
    b"0",
    b"1",
    b"9",
    b"18446744073709551615",
    b"18446744073709551616",
    b"99999999999999999999999",
    b"-0",
    b"0-0",
];

const LENGTHS: &[u64] = &[0, 1, 2, 99, 100, 1000, 1 << 31, 1 << 53, u64::MAX - 1, u64::MAX];

impl Range {
    /// Ranges players and proxies send, and some they should not.
    pub fn new() -> Range {
        let values = [
            "bytes=0-1",
            "bytes=0-",
            "bytes=-500",
            "bytes=100-199",
            "bytes=0-0,5-9",
            "bytes=5-2",
            "bytes=-0",
            "bytes= 1-2",
            "bytes=500-",
            "items=0-1",
        ];
        let mut seeds = Vec::new();
        for (n, value) in values.iter().enumerate() {
            let mut bytes = vec![(n % LENGTHS.len()) as u8, (n % 4) as u8];
            bytes.extend_from_slice(value.as_bytes());
            seeds.push(Seed::new(bytes, RANGE_DICTIONARY));
        }
        Range { seeds }
    }
}

/// The expected plan for a canonical `bytes=a-b`, `bytes=a-` or `bytes=-n`,
/// or `None` when the value is not one of those.
fn reference_range(value: &str, len: u64) -> Option<RangePlan> {
    let spec = value.strip_prefix("bytes=")?;
    let (first, last) = spec.split_once('-')?;
    // Leading zeros are left out: RFC 9110 allows `bytes=00-`, the parser
    // refuses it (416), and no client sends it.
    let number = |text: &str| -> Option<Option<u64>> {
        if text.is_empty() {
            Some(None)
        } else if text.bytes().all(|b| b.is_ascii_digit()) && (text == "0" || !text.starts_with('0')) {
            text.parse().ok().map(Some)
        } else {
            None
        }
    };
    let (first, last) = (number(first)?, number(last)?);
    let plan = match (first, last) {
        (Some(start), end) => {
            if end.is_some_and(|end| end < start) || start >= len {
                RangePlan::Unsatisfiable
            } else {
                RangePlan::Partial(start..=end.unwrap_or(len - 1).min(len - 1))
            }
        }
        (None, Some(suffix)) => {
            if suffix == 0 || len == 0 {
                RangePlan::Unsatisfiable
            } else {
                RangePlan::Partial(len - suffix.min(len)..=len - 1)
            }
        }
        (None, None) => return None,
    };
    Some(plan)
}

impl Target for Range {
    fn name(&self) -> &'static str {
        "range"
    }
    fn seeds(&self) -> &[Seed] {
        &self.seeds
    }
    fn dictionary(&self) -> &[&'static [u8]] {
        RANGE_DICTIONARY
    }
    fn max_len(&self) -> usize {
        512
    }
    fn allocation_bound(&self, len: usize) -> usize {
        4096 + 64 * len
    }
    fn run(&mut self, input: &[u8]) -> Result<(), String> {
        let [length, if_range, value @ ..] = input else { return Ok(()) };
        let len = LENGTHS[usize::from(*length) % LENGTHS.len()];
        let Ok(range) = HeaderValue::from_bytes(value) else { return Ok(()) };
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, range);
        let (etag, last_modified) = ("\"abc\"", "Sat, 06 Dec 2025 21:00:00 GMT");
        let stale = match if_range % 4 {
            1 => {
                headers.insert(header::IF_RANGE, HeaderValue::from_static("\"abc\""));
                false
            }
            2 => {
                headers.insert(header::IF_RANGE, HeaderValue::from_static("\"other\""));
                true
            }
            3 => {
                headers.insert(header::IF_RANGE, HeaderValue::from_static("Sat, 06 Dec 2025 21:00:00 GMT"));
                false
            }
            _ => false,
        };
        let plan = plan_range(&headers, etag, last_modified, len);
        if let RangePlan::Partial(range) = &plan
            && (len == 0 || range.start() > range.end() || *range.end() >= len)
        {
            return Err(format!("range {range:?} outside a file of {len} bytes"));
        }
        let text = std::str::from_utf8(value).unwrap_or("");
        if stale && plan != RangePlan::Full {
            return Err(format!("a stale If-Range kept the range: {plan:?}"));
        }
        if !text.starts_with("bytes=") && plan != RangePlan::Full {
            // RFC 9110 §14.2: a range unit the server does not know is ignored.
            return Err(format!("{text:?} (not a bytes range) gave {plan:?}"));
        }
        if !stale
            && let Some(expected) = reference_range(text, len)
            && plan != expected
        {
            return Err(format!("{text:?} on {len} bytes: got {plan:?}, RFC 9110 says {expected:?}"));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Upload field rules

/// `service::uploads::UploadDraft`'s part names and text fields. Input:
/// NUL-separated name/value pairs. A field is accepted exactly when it
/// satisfies the documented rule, and a refusal quotes at most 40
/// characters of input. Bound: 4 KiB per text part plus 16 KiB.
pub struct UploadFields {
    seeds: Vec<Seed>,
    library: Arc<MediaLibrary>,
    _dir: tempfile::TempDir,
}

const FIELD_DICTIONARY: &[&[u8]] = &[
    b"title",
    b"description",
    b"genre",
    b"file",
    b"\0",
    b"drama",
    b"sci-fi",
    b"DRAMA",
    b" ",
    b"\r\n",
    b"\t",
    b"\x7f",
    b"\xe2\x80\x8b",
    b"\xe2\x80\xae",
    b"\xc3\xa9",
    b"\xff",
];

impl UploadFields {
    /// Forms with valid and borderline values.
    pub fn new(scratch: &std::path::Path) -> UploadFields {
        let dir = tempfile::tempdir_in(scratch).expect("scratch dir");
        let library = Arc::new(MediaLibrary::open(dir.path().join("media"), 0, 0).expect("library"));
        let forms: [&[u8]; 5] = [
            b"title\0A storm over the bay\0description\0Shot at dawn.\r\nSecond line\0genre\0drama",
            b"genre\0Sci-Fi\0title\0  padded  \0description\0",
            b"title\0\0genre\0nope",
            b"title\0x\0title\0y",
            b"description\0tabs\tand\nlines\0genre\0 comedy \0title\0\xc3\xa9t\xc3\xa9",
        ];
        let seeds = forms.iter().map(|form| Seed::new(form.to_vec(), FIELD_DICTIONARY)).collect();
        UploadFields { seeds, library, _dir: dir }
    }
}

/// The documented rule for a text field's value.
fn field_rule(part: Part, value: &str, limits: &UploadLimits) -> bool {
    match part {
        Part::Title => {
            // Since #14 a title of only invisible characters (zero-width
            // space, bidi marks) is empty: `domain::text` is that rule.
            let title = value.trim();
            let chars = title.chars().count();
            chars >= 1
                && chars <= limits.max_title_chars
                && !title.chars().any(char::is_control)
                && !aimoviez::domain::text::single_line(title).is_empty()
        }
        Part::Description => {
            let description = value.trim().replace("\r\n", "\n");
            description.chars().count() <= limits.max_description_chars
                && !description.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
        }
        Part::Genre => limits.genres.iter().any(|genre| genre.trim().to_lowercase() == value.trim().to_lowercase()),
        Part::File => false,
    }
}

/// Whether `message` quotes more than 40 characters of one input piece.
fn echoes_too_much(message: &str, pieces: &[&[u8]]) -> bool {
    pieces.iter().filter_map(|piece| std::str::from_utf8(piece).ok()).filter(|piece| piece.chars().count() > 48).any(
        |piece| {
            let long: String = piece.chars().take(48).collect();
            message.contains(&long)
        },
    )
}

impl Target for UploadFields {
    fn name(&self) -> &'static str {
        "upload_fields"
    }
    fn seeds(&self) -> &[Seed] {
        &self.seeds
    }
    fn dictionary(&self) -> &[&'static [u8]] {
        FIELD_DICTIONARY
    }
    fn max_len(&self) -> usize {
        16 << 10
    }
    fn allocation_bound(&self, len: usize) -> usize {
        // Text parts are refused past 4 KiB (MAX_TEXT_FIELD_BYTES); the
        // value itself, its trimmed copy and a message stay within that.
        // Besides, this harness splits the input into up to `len + 1`
        // pieces (16 bytes each, in a vector that may double once).
        4 * 4096 + (16 << 10) + 32 * (len + 1)
    }
    fn run(&mut self, input: &[u8]) -> Result<(), String> {
        let limits = UploadLimits::default();
        let mut draft = UploadDraft::new(self.library.clone(), limits.clone());
        let pieces: Vec<&[u8]> = input.split(|&byte| byte == 0).collect();
        for pair in pieces.chunks(2) {
            let name = String::from_utf8_lossy(pair[0]);
            let value = pair.get(1).copied().unwrap_or_default();
            let part = match draft.part(&name) {
                Ok(part) => part,
                Err(error) => {
                    let message = error.to_string();
                    if message.len() > 400 || echoes_too_much(&message, &pieces) {
                        return Err(format!("refusal echoes too much: {} bytes", message.len()));
                    }
                    return Ok(());
                }
            };
            if part == Part::File {
                continue;
            }
            let mut text = draft.text(part);
            let mut pushed = Ok(());
            for chunk in value.chunks(1000) {
                pushed = text.push(chunk);
                if pushed.is_err() {
                    break;
                }
            }
            if pushed.is_err() {
                if value.len() <= 4096 {
                    return Err(format!("a {}-byte field was refused as too long", value.len()));
                }
                return Ok(());
            }
            let accepted = draft.set_text(text);
            let expected = std::str::from_utf8(value).is_ok_and(|value| field_rule(part, value, &limits));
            match accepted {
                Ok(()) if !expected => {
                    return Err(format!("{part:?} {:?} was accepted", String::from_utf8_lossy(value)));
                }
                Err(error) if expected => {
                    return Err(format!("{part:?} {:?} was refused: {error}", String::from_utf8_lossy(value)));
                }
                Err(error) => {
                    let message = error.to_string();
                    if message.len() > 400 || echoes_too_much(&message, &pieces) {
                        return Err(format!("refusal echoes too much: {message}"));
                    }
                    return Ok(());
                }
                Ok(()) => {}
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Multipart upload bodies

/// A whole `POST /api/upload` body through `http::upload::receive` and
/// `UploadDraft::store`: multer's parsing, the field rules, the streamed
/// temp file, the probe, the content-addressed move. Whatever happens,
/// nothing is left in `.incoming/`, and a stored video probes within the
/// limits. Bound: three times the body plus 1 MiB (see `allocation_bound`).
pub struct MultipartUpload {
    seeds: Vec<Seed>,
    library: Arc<MediaLibrary>,
    root: PathBuf,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

const BOUNDARY: &str = "fuzz-boundary-7d2c";

const MULTIPART_DICTIONARY: &[&[u8]] = &[
    b"--fuzz-boundary-7d2c",
    b"--fuzz-boundary-7d2c--",
    b"\r\n",
    b"\r\n\r\n",
    b"Content-Disposition: form-data; name=\"",
    b"\"; filename=\"",
    b"Content-Type: ",
    b"video/mp4",
    b"name=\"file\"",
    b"name=\"title\"",
    b"name=\"genre\"",
    b"\"",
    b";",
    b"filename*=UTF-8''",
];

fn multipart_body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, filename, body) in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes());
        if let Some(filename) = filename {
            out.extend_from_slice(format!("; filename=\"{filename}\"\r\nContent-Type: video/mp4").as_bytes());
        }
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

impl MultipartUpload {
    /// Complete upload forms with a small real clip, in several orders.
    pub fn new(scratch: &std::path::Path) -> MultipartUpload {
        let dir = tempfile::tempdir_in(scratch).expect("scratch dir");
        let root = dir.path().join("media");
        let library = Arc::new(MediaLibrary::open(root.clone(), 0, 0).expect("library"));
        let clip = demo_file("test-fragmented.mp4");
        let webm = media_recorder_webm(&demo_file("test-short.webm"));
        let forms = [
            multipart_body(&[
                ("title", None, b"Harbour at dusk"),
                ("genre", None, b"drama"),
                ("file", Some("clip.mp4"), &clip),
            ]),
            multipart_body(&[
                ("file", Some("c.webm"), &webm),
                ("description", None, b"line one\r\nline two"),
                ("title", None, b"T"),
                ("genre", None, b"Comedy"),
            ]),
            multipart_body(&[("title", None, b"no file"), ("genre", None, b"drama")]),
        ];
        let seeds = forms.into_iter().map(|form| Seed::new(form, MULTIPART_DICTIONARY)).collect();
        MultipartUpload { seeds, library, root, runtime: runtime(), _dir: dir }
    }
}

impl Target for MultipartUpload {
    fn name(&self) -> &'static str {
        "multipart"
    }
    fn seeds(&self) -> &[Seed] {
        &self.seeds
    }
    fn dictionary(&self) -> &[&'static [u8]] {
        MULTIPART_DICTIONARY
    }
    fn max_len(&self) -> usize {
        256 << 10
    }
    fn allocation_bound(&self, len: usize) -> usize {
        // The request body (a copy of the input) and what multer buffers of
        // it, a text part (≤ 4 KiB), the probe's moov (≤ the body), and per
        // upload in flight at most 1 MiB: the temp file's 256 KiB write
        // buffer, the copy tokio's file writer makes of it, fixed buffers.
        3 * len + (1 << 20)
    }
    fn run(&mut self, input: &[u8]) -> Result<(), String> {
        let request = Request::post("/api/upload")
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(Body::from(input.to_vec()))
            .map_err(|error| error.to_string())?;
        let library = self.library.clone();
        let stored = self.runtime.block_on(async move {
            let multipart = Multipart::from_request(request, &()).await.ok()?;
            let draft = UploadDraft::new(library, UploadLimits::default());
            let draft = aimoviez::http::upload::receive(multipart, draft).await.ok()?;
            draft.store().await.ok()
        });
        let leftovers = std::fs::read_dir(self.root.join(INCOMING_DIR)).map(|dir| dir.count()).unwrap_or(0);
        if leftovers > 0 {
            return Err(format!("{leftovers} file(s) left in .incoming"));
        }
        if let Some(stored) = stored {
            if stored.info.duration_ms == 0 || stored.info.duration_ms > MAX_DURATION_MS {
                return Err(format!("stored a video of {} ms", stored.info.duration_ms));
            }
            let path = self.library.path_of(&stored.video);
            let probed = aimoviez::media::probe::probe_file(&path, MAX_DURATION_MS);
            if probed.as_ref().ok() != Some(&stored.info) {
                return Err(format!("the stored file probes as {probed:?}, not {:?}", stored.info));
            }
            // Keep the scratch library small: the next case starts empty.
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Session cookies

/// `sessions::token_from_cookie_header` and `token_hash`: the token comes
/// from the header, and only a 43-character base64url token (32 bytes) has
/// a hash. Bound: a copy of the header and the cookie crate's parsing, 4
/// times the header plus 4 KiB.
pub struct Cookie {
    seeds: Vec<Seed>,
}

const COOKIE_DICTIONARY: &[&[u8]] =
    &[b"aimoviez_session=", b"; ", b";", b"=", b"\"", b"%", b"%20", b" ", b",", b"\t", b"Path=/", b"aimoviez_session"];

impl Cookie {
    /// Headers as browsers and proxies send them.
    pub fn new() -> Cookie {
        let (token, _) = new_token();
        let headers = [
            format!("aimoviez_session={token}"),
            format!("theme=dark; aimoviez_session={token}; lang=fr"),
            format!("aimoviez_session=\"{token}\""),
            format!("aimoviez_session={token}; aimoviez_session=other"),
            "aimoviez_session=; other=1".to_owned(),
            format!("a=b;aimoviez_session={}", &token[..20]),
        ];
        Cookie { seeds: headers.into_iter().map(|header| Seed::new(header.into_bytes(), COOKIE_DICTIONARY)).collect() }
    }
}

impl Target for Cookie {
    fn name(&self) -> &'static str {
        "cookie"
    }
    fn seeds(&self) -> &[Seed] {
        &self.seeds
    }
    fn dictionary(&self) -> &[&'static [u8]] {
        COOKIE_DICTIONARY
    }
    fn max_len(&self) -> usize {
        8 << 10
    }
    fn allocation_bound(&self, len: usize) -> usize {
        4 * len + 4096
    }
    fn run(&mut self, input: &[u8]) -> Result<(), String> {
        // The server reads only headers that are visible ASCII (`to_str`).
        let Ok(value) = HeaderValue::from_bytes(input) else { return Ok(()) };
        let Ok(header) = value.to_str() else { return Ok(()) };
        let Some(token) = token_from_cookie_header(header) else { return Ok(()) };
        if !header.contains(token.as_str()) {
            return Err(format!("token {token:?} is not in the header"));
        }
        if token_hash(&token).is_some()
            && (token.len() != 43 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            return Err(format!("{token:?} has a hash but is not a 32-byte base64url token"));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Captcha solutions

/// `Captcha::verify`. Input: `token:solution`. Only a token this server
/// issued, with a solution meeting its difficulty, is accepted, and only
/// once. Bound: 4 KiB (the nonce set grows by one entry per acceptance).
pub struct CaptchaTokens {
    seeds: Vec<Seed>,
    captcha: Captcha,
    issued: HashSet<String>,
    accepted: HashSet<String>,
    now: i64,
}

const CAPTCHA_DICTIONARY: &[&[u8]] = &[b":", b"-", b"_", b"A", b"0", b"=", b"18446744073709551615", b"+", b"/"];

impl CaptchaTokens {
    /// Tokens issued by a test server at an easy difficulty, solved.
    pub fn new() -> CaptchaTokens {
        let config = CaptchaConfig { difficulty_bits: 6, challenge_ttl_secs: 1_000_000, pass_ttl_secs: 60 };
        let captcha = Captcha::new([7; 32], config);
        let now = 1_765_000_000_000;
        let mut issued = HashSet::new();
        let mut seeds = Vec::new();
        for _ in 0..8 {
            let challenge = captcha.issue(now);
            let solution = solve(&challenge.token, challenge.difficulty_bits);
            seeds.push(Seed::new(format!("{}:{solution}", challenge.token).into_bytes(), CAPTCHA_DICTIONARY));
            issued.insert(challenge.token);
        }
        CaptchaTokens { seeds, captcha, issued, accepted: HashSet::new(), now }
    }
}

impl Target for CaptchaTokens {
    fn name(&self) -> &'static str {
        "captcha"
    }
    fn seeds(&self) -> &[Seed] {
        &self.seeds
    }
    fn dictionary(&self) -> &[&'static [u8]] {
        CAPTCHA_DICTIONARY
    }
    fn max_len(&self) -> usize {
        512
    }
    fn allocation_bound(&self, _len: usize) -> usize {
        4096
    }
    fn run(&mut self, input: &[u8]) -> Result<(), String> {
        let text = String::from_utf8_lossy(input);
        let (token, solution) = text.rsplit_once(':').unwrap_or((&text, "0"));
        let solution = solution.parse::<u64>().unwrap_or(0);
        if self.captcha.verify(token, solution, self.now).is_ok() {
            if !self.issued.contains(token) {
                return Err(format!("accepted a token the server never issued: {token:?}"));
            }
            if !self.accepted.insert(token.to_owned()) {
                return Err(format!("accepted the same token twice: {token:?}"));
            }
        }
        if self.captcha.used_nonce_count() > self.issued.len() {
            return Err("the replay set grew past the issued tokens".into());
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// JSON bodies

/// Every JSON request body of the API through `ApiJson<T>`, the extractor
/// the handlers use. Input: one byte choosing the body type, then the body.
/// Accepted only when the body is a JSON object; a refusal is short (it
/// never echoes the body back) and names no Rust type. Bound: serde's
/// values, 16 times the body plus 64 KiB.
pub struct JsonBodies {
    seeds: Vec<Seed>,
    runtime: tokio::runtime::Runtime,
}

const JSON_DICTIONARY: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"false",
    b"0",
    b"-1",
    b"1e999",
    b"\\u0000",
    b"\\ud800",
    b"\"clipId\"",
    b"\"voteType\"",
    b"\"body\"",
    b"\"username\"",
    b"\"password\"",
    b"\"ids\"",
    b"\"voteIds\"",
    b"\"genre\"",
    b"\"confirm\"",
    b"\"reason\"",
    b"18446744073709551616",
    b"9007199254740993",
    b"[[[[[[[[[[[[[[[[",
    b"\"super\"",
    b"\"mega\"",
    b" ",
];

/// Example bodies, one per type, in the order of [`extract_body`].
const JSON_EXAMPLES: &[&str] = &[
    r#"{"clipId":3,"voteType":"super"}"#,
    r#"{"clipId":"3"}"#,
    r#"{"username":"mira_frames","password":"correct horse battery"}"#,
    r#"{"clipId":2,"body":"Love the light here","parentId":7}"#,
    r#"{"targetType":"comment","targetId":4,"reason":"spam","details":"link farm"}"#,
    r#"{"genre":"drama"}"#,
    r#"{"reason":"blurry"}"#,
    r#"{"action":"approve","clipIds":[1,2,3],"reason":"ok"}"#,
    r#"{"title":"Season 2","genre":"drama","description":"d","totalSlots":10,"slotDurationSecs":3600}"#,
    r#"{"confirm":"Season 2"}"#,
    r#"{"clipId":5}"#,
    r#"{"enabled":true}"#,
    r#"{"voteIds":[1,2]}"#,
    r#"{"ids":[1,2,3]}"#,
    r#"{"token":"abc","solution":42}"#,
    r#"{"confirm":"delete my account","password":"correct horse battery"}"#,
    r#"{"currentPassword":"correct horse battery","newPassword":"staple battery horse"}"#,
];

impl JsonBodies {
    /// The example bodies of every request type.
    pub fn new() -> JsonBodies {
        let seeds = JSON_EXAMPLES
            .iter()
            .enumerate()
            .map(|(kind, body)| {
                let mut bytes = vec![kind as u8];
                bytes.extend_from_slice(body.as_bytes());
                Seed::new(bytes, JSON_DICTIONARY)
            })
            .collect();
        JsonBodies { seeds, runtime: runtime() }
    }
}

/// What `ApiJson<T>` made of a body: accepted, or the refusal's message.
async fn extract<T: DeserializeOwned>(body: Vec<u8>) -> Result<(), String> {
    let request = Request::post("/api/x")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .map_err(|error| error.to_string())?;
    ApiJson::<T>::from_request(request, &()).await.map(|_| ()).map_err(|error| error.message().to_owned())
}

async fn extract_body(kind: u8, body: Vec<u8>) -> Result<(), String> {
    match kind as usize % JSON_EXAMPLES.len() {
        0 => extract::<api::vote::CastRequest>(body).await,
        1 => extract::<api::vote::RevokeRequest>(body).await,
        2 => extract::<api::auth::Credentials>(body).await,
        3 => extract::<api::comments::PostRequest>(body).await,
        4 => extract::<api::comments::ReportRequest>(body).await,
        5 => extract::<api::tournament::GenreVote>(body).await,
        6 => extract::<api::tournament::RejectRequest>(body).await,
        7 => extract::<api::tournament::BulkRequest>(body).await,
        8 => extract::<api::tournament::CreateSeason>(body).await,
        9 => extract::<api::tournament::DeleteSeason>(body).await,
        10 => extract::<api::tournament::AssignWinner>(body).await,
        11 => extract::<api::admin::FlagUpdate>(body).await,
        12 => extract::<api::admin::VoidRequest>(body).await,
        13 => extract::<api::profile::MarkReadBody>(body).await,
        14 => extract::<api::captcha::Solution>(body).await,
        15 => extract::<api::auth::DeleteRequest>(body).await,
        _ => extract::<api::auth::ChangePasswordRequest>(body).await,
    }
}

impl Target for JsonBodies {
    fn name(&self) -> &'static str {
        "json"
    }
    fn seeds(&self) -> &[Seed] {
        &self.seeds
    }
    fn dictionary(&self) -> &[&'static [u8]] {
        JSON_DICTIONARY
    }
    fn max_len(&self) -> usize {
        16 << 10
    }
    fn allocation_bound(&self, len: usize) -> usize {
        16 * len + (64 << 10)
    }
    fn run(&mut self, input: &[u8]) -> Result<(), String> {
        let [kind, body @ ..] = input else { return Ok(()) };
        let outcome = self.runtime.block_on(extract_body(*kind, body.to_vec()));
        let is_object = matches!(serde_json::from_slice::<serde_json::Value>(body), Ok(serde_json::Value::Object(_)));
        match outcome {
            Ok(()) if !is_object => Err(format!("accepted a body that is not a JSON object: {:?}", preview(body))),
            Ok(()) => Ok(()),
            Err(message) if message.len() > 300 => {
                Err(format!("a {}-byte refusal for a {}-byte body", message.len(), body.len()))
            }
            Err(message) if message.contains("struct ") || message.contains("aimoviez::") => {
                Err(format!("the refusal names a Rust type: {message}"))
            }
            Err(_) => Ok(()),
        }
    }
}

fn preview(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned()
}
