//! Answering `GET`/`HEAD /media/…`: validators, conditional requests and
//! single byte ranges, identical for files served from memory and from disk.
//!
//! Range syntax is parsed by `http-range-header` (the parser tower-http
//! uses); the rest follows RFC 9110: `If-None-Match` before
//! `If-Modified-Since`, `If-Range` decides whether a range is honoured, a
//! suffix longer than the file means the whole file, several ranges are
//! answered with the whole file, and an unsatisfiable range gets 416 with
//! `Content-Range: bytes */LEN`.

use std::io::SeekFrom;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_range_header::{RangeUnsatisfiableError, StartPosition};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{CachedFile, MediaLibrary, MediaName};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A file's validators, formatted once (for cached files, once per load).
#[derive(Debug, Clone)]
pub struct Validators {
    etag: HeaderValue,
    etag_text: String,
    modified: SystemTime,
    last_modified: HeaderValue,
    last_modified_text: String,
    content_type: HeaderValue,
}

impl Validators {
    /// The strong ETag is the content hash in the name; Last-Modified is the file's mtime.
    pub fn new(name: &MediaName, modified: SystemTime) -> Self {
        let etag_text = format!("\"{}\"", name.hash());
        let last_modified_text = httpdate::fmt_http_date(modified);
        Validators {
            etag: header_value(&etag_text),
            etag_text,
            modified,
            last_modified: header_value(&last_modified_text),
            last_modified_text,
            content_type: HeaderValue::from_static(name.kind().content_type()),
        }
    }
}

/// Where the bytes come from.
enum Source {
    Memory(Arc<CachedFile>),
    Disk { path: std::path::PathBuf, len: u64, validators: Box<Validators> },
}

impl Source {
    fn len(&self) -> u64 {
        match self {
            Source::Memory(file) => file.bytes.len() as u64,
            Source::Disk { len, .. } => *len,
        }
    }

    fn validators(&self) -> &Validators {
        match self {
            Source::Memory(file) => &file.validators,
            Source::Disk { validators, .. } => validators,
        }
    }

    async fn body(&self, range: RangeInclusive<u64>) -> std::io::Result<Body> {
        match self {
            Source::Memory(file) => {
                let start = usize::try_from(*range.start()).unwrap_or(usize::MAX);
                let end = usize::try_from(*range.end()).unwrap_or(usize::MAX);
                Ok(Body::from(file.bytes.slice(start..=end)))
            }
            Source::Disk { path, .. } => {
                let mut file = tokio::fs::File::open(path).await?;
                file.seek(SeekFrom::Start(*range.start())).await?;
                let reader = file.take(range.end() - range.start() + 1);
                Ok(Body::from_stream(tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024)))
            }
        }
    }
}

/// Answers a media request. `path` is everything after `/media/`.
pub async fn respond(library: Arc<MediaLibrary>, path: &str, method: &Method, headers: &HeaderMap) -> Response {
    let Some(name) = MediaName::parse(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let source = match load(library, &name).await {
        Ok(Some(source)) => source,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(error) => {
            tracing::error!(error = %error, media.path = %name.relative_path(), "cannot read media file");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let validators = source.validators();
    let mut common = HeaderMap::with_capacity(8);
    common.insert(header::ETAG, validators.etag.clone());
    common.insert(header::LAST_MODIFIED, validators.last_modified.clone());
    common.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    common.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));

    if is_not_modified(headers, &validators.etag_text, validators.modified) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    common.insert(header::CONTENT_TYPE, validators.content_type.clone());
    let len = source.len();
    let plan = plan_range(headers, &validators.etag_text, &validators.last_modified_text, len);
    let (status, range) = match plan {
        RangePlan::Full => (StatusCode::OK, 0..=len.saturating_sub(1)),
        RangePlan::Partial(range) => {
            let content_range = format!("bytes {}-{}/{len}", range.start(), range.end());
            common.insert(header::CONTENT_RANGE, header_value(&content_range));
            (StatusCode::PARTIAL_CONTENT, range)
        }
        RangePlan::Unsatisfiable => {
            common.insert(header::CONTENT_RANGE, header_value(&format!("bytes */{len}")));
            return (StatusCode::RANGE_NOT_SATISFIABLE, common).into_response();
        }
    };
    let body_len = if len == 0 { 0 } else { range.end() - range.start() + 1 };
    common.insert(header::CONTENT_LENGTH, HeaderValue::from(body_len));
    if method == Method::HEAD || body_len == 0 {
        return (status, common).into_response();
    }
    match source.body(range).await {
        Ok(body) => (status, common, body).into_response(),
        Err(error) => {
            tracing::error!(error = %error, media.path = %name.relative_path(), "cannot stream media file");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn load(library: Arc<MediaLibrary>, name: &MediaName) -> std::io::Result<Option<Source>> {
    // A hit costs one hash-map lookup on this thread; only a miss touches the disk.
    if let Some(file) = library.cache.get(&name.relative_path()) {
        return Ok(Some(Source::Memory(file)));
    }
    let name = name.clone();
    let loaded = tokio::task::spawn_blocking(move || -> std::io::Result<Option<Source>> {
        match library.cached(&name) {
            Ok(Some(file)) => Ok(Some(Source::Memory(file))),
            Ok(None) => {
                let path = library.path_of(&name);
                let metadata = std::fs::metadata(&path)?;
                let validators = Validators::new(&name, metadata.modified()?);
                Ok(Some(Source::Disk { path, len: metadata.len(), validators: Box::new(validators) }))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    })
    .await;
    loaded.unwrap_or_else(|join| Err(std::io::Error::other(join)))
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether the client's cached copy is current (RFC 9110 §13.2.2: If-None-Match
/// wins over If-Modified-Since).
fn is_not_modified(headers: &HeaderMap, etag: &str, modified: SystemTime) -> bool {
    if let Some(if_none_match) = headers.get(header::IF_NONE_MATCH) {
        let Ok(list) = if_none_match.to_str() else { return false };
        return list.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag);
    }
    if let Some(since) = headers.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok())
        && let Ok(since) = httpdate::parse_http_date(since)
    {
        return truncate_to_seconds(modified) <= since;
    }
    false
}

fn truncate_to_seconds(time: SystemTime) -> SystemTime {
    let secs = time.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

#[derive(Debug, PartialEq, Eq)]
enum RangePlan {
    Full,
    Partial(RangeInclusive<u64>),
    Unsatisfiable,
}

fn plan_range(headers: &HeaderMap, etag: &str, last_modified: &str, len: u64) -> RangePlan {
    let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return RangePlan::Full;
    };
    if let Some(if_range) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        // Only a strong, exact validator keeps the range; otherwise the
        // client's partial copy is stale and it gets the whole file.
        let matches = if if_range.starts_with('"') { if_range == etag } else { if_range == last_modified };
        if !matches {
            return RangePlan::Full;
        }
    }
    let mut parsed = match http_range_header::parse_range_header(range) {
        Ok(parsed) => parsed,
        // A unit other than bytes is ignored, as RFC 9110 asks.
        Err(RangeUnsatisfiableError::DoesNotStartWithToken) => return RangePlan::Full,
        Err(_) => return RangePlan::Unsatisfiable,
    };
    // A suffix longer than the file asks for the whole file (RFC 9110 §14.1.3).
    for part in &mut parsed.ranges {
        if let StartPosition::FromLast(suffix) = part.start
            && suffix > len
        {
            part.start = StartPosition::FromLast(len);
        }
    }
    if len == 0 {
        return RangePlan::Unsatisfiable;
    }
    match parsed.validate(len) {
        Ok(ranges) if ranges.len() == 1 => {
            let range = ranges.into_iter().next().unwrap_or(0..=len - 1);
            if *range.start() >= len { RangePlan::Unsatisfiable } else { RangePlan::Partial(range) }
        }
        // Several ranges would need multipart/byteranges; players never ask
        // for them, so they get the whole file.
        Ok(_) => RangePlan::Full,
        Err(_) => RangePlan::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(range: &str, len: u64) -> RangePlan {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, header_value(range));
        plan_range(&headers, "\"e\"", "date", len)
    }

    #[test]
    fn range_table() {
        assert_eq!(plan("bytes=0-1", 100), RangePlan::Partial(0..=1));
        assert_eq!(plan("bytes=10-", 100), RangePlan::Partial(10..=99));
        assert_eq!(plan("bytes=-10", 100), RangePlan::Partial(90..=99));
        assert_eq!(plan("bytes=-500", 100), RangePlan::Partial(0..=99));
        assert_eq!(plan("bytes=90-500", 100), RangePlan::Partial(90..=99));
        assert_eq!(plan("bytes=100-", 100), RangePlan::Unsatisfiable);
        assert_eq!(plan("bytes=200-300", 100), RangePlan::Unsatisfiable);
        assert_eq!(plan("bytes=5-2", 100), RangePlan::Unsatisfiable);
        assert_eq!(plan("bytes=abc", 100), RangePlan::Unsatisfiable);
        assert_eq!(plan("bytes=0-1,5-6", 100), RangePlan::Full);
        assert_eq!(plan("items=0-1", 100), RangePlan::Full);
    }

    #[test]
    fn if_range_keeps_the_range_only_on_an_exact_strong_match() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, header_value("bytes=0-1"));
        headers.insert(header::IF_RANGE, header_value("\"e\""));
        assert_eq!(plan_range(&headers, "\"e\"", "date", 10), RangePlan::Partial(0..=1));
        headers.insert(header::IF_RANGE, header_value("\"old\""));
        assert_eq!(plan_range(&headers, "\"e\"", "date", 10), RangePlan::Full);
        headers.insert(header::IF_RANGE, header_value("W/\"e\""));
        assert_eq!(plan_range(&headers, "\"e\"", "date", 10), RangePlan::Full);
    }

    #[test]
    fn names_outside_the_grammar_are_refused() {
        let hash = "ab".to_owned() + &"c".repeat(62);
        assert!(MediaName::parse(&format!("ab/{hash}.mp4")).is_some());
        for bad in [
            format!("../{hash}.mp4"),
            format!("ab/{hash}.exe"),
            format!("cd/{hash}.mp4"),
            format!("ab/../{hash}.mp4"),
            format!("/ab/{hash}.mp4"),
            format!("ab\\{hash}.mp4"),
            format!("ab/{hash}.mp4\0"),
            format!("AB/{hash}.mp4"),
            "%2e%2e/%2e%2e/etc/passwd".to_owned(),
        ] {
            assert!(MediaName::parse(&bad).is_none(), "{bad:?} accepted");
        }
    }
}
