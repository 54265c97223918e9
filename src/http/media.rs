//! `GET`/`HEAD /media/{*path}`: clip and poster files with validators,
//! conditional requests and single byte ranges, identical for files served
//! from memory, from disk and from an S3 bucket (`media::load` finds them).
//!
//! Who gets a file is `media::access`: a file of an approved clip goes to
//! anyone, `public, max-age=31536000, immutable`; a file used only by
//! pending clips goes to their creators and to admins, `private, no-store`
//! (the session is read from memory, and only for such files); anything
//! else — a rejected or deleted clip's file, a file no clip uses — is 404,
//! `no-store` so no cache keeps the refusal past an approval.
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
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use http_range_header::{RangeUnsatisfiableError, StartPosition};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::domain::clock::Timestamp;
use crate::http::response::{IMMUTABLE, PRIVATE};
use crate::http::serve::SendFile;
use crate::media::access::Visibility;
use crate::media::{self, MediaFile, MediaLibrary, MediaName};
use crate::service::Services;
use crate::sessions;

/// Where the bytes come from. `opened` is the file [`local_file`] found
/// open, if any: a file on disk is read through a duplicate of that
/// descriptor rather than opened a second time.
async fn body(
    file: &MediaFile,
    opened: Option<&Arc<std::fs::File>>,
    range: RangeInclusive<u64>,
) -> std::io::Result<Body> {
    match file {
        MediaFile::Memory(_) => {
            let bytes = file.bytes().cloned().unwrap_or_default();
            let start = usize::try_from(*range.start()).unwrap_or(usize::MAX);
            let end = usize::try_from(*range.end()).unwrap_or(usize::MAX);
            Ok(Body::from(bytes.slice(start..=end)))
        }
        MediaFile::Disk { path, .. } => {
            let mut file = match opened {
                Some(opened) => tokio::fs::File::from_std(opened.try_clone()?),
                None => tokio::fs::File::open(path).await?,
            };
            file.seek(SeekFrom::Start(*range.start())).await?;
            let reader = file.take(range.end() - range.start() + 1);
            Ok(Body::from_stream(tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024)))
        }
        MediaFile::Bucket { store, path, .. } => {
            // One ranged GET, passed through as it arrives: never the whole
            // object in memory.
            let options = object_store::GetOptions {
                range: Some(object_store::GetRange::Bounded(*range.start()..range.end() + 1)),
                ..object_store::GetOptions::default()
            };
            let stream = store.get_opts(path, options).await?.into_stream();
            Ok(Body::from_stream(stream.map_err(std::io::Error::from)))
        }
    }
}

/// `GET /media/{*path}` (and `HEAD`).
pub async fn serve_media(
    State(services): State<Services>,
    Path(path): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let Some(name) = MediaName::parse(&path) else {
        return not_found();
    };
    let cache_control = match services.media.access().visibility(name.as_str()) {
        Visibility::Public => IMMUTABLE,
        Visibility::Private if may_see_pending(&services, &name, &headers) => PRIVATE,
        Visibility::Private | Visibility::Hidden => return not_found(),
    };
    respond(services.media.clone(), &name, cache_control, &method, &headers).await
}

/// Whether the caller is signed in as an admin or as the creator of a
/// pending clip using `name`.
fn may_see_pending(services: &Services, name: &MediaName, headers: &HeaderMap) -> bool {
    let session = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(sessions::token_from_cookie_header)
        .and_then(|token| services.sessions.lookup(&token, Timestamp::now()));
    session.is_some_and(|user| user.is_admin || services.media.access().is_pending_of(name.as_str(), user.user))
}

/// 404, never kept by a cache (the file may become public on approval).
fn not_found() -> Response {
    (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, PRIVATE)]).into_response()
}

/// Answers a media request for `name`, with `cache_control` on success.
async fn respond(
    library: Arc<MediaLibrary>,
    name: &MediaName,
    cache_control: HeaderValue,
    method: &Method,
    headers: &HeaderMap,
) -> Response {
    let source = match media::load(library.clone(), name).await {
        Ok(Some(source)) => source,
        Ok(None) => return not_found(),
        Err(error) => {
            tracing::error!(error = %error, media.path = %name.relative_path(), "cannot read media file");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let validators = source.validators();
    let mut common = HeaderMap::with_capacity(8);
    common.insert(header::ETAG, header_value(&validators.etag));
    common.insert(header::LAST_MODIFIED, header_value(&validators.last_modified));
    common.insert(header::CACHE_CONTROL, cache_control);
    common.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));

    if is_not_modified(headers, &validators.etag, validators.modified) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    common.insert(header::CONTENT_TYPE, HeaderValue::from_static(validators.content_type));
    let len = source.len();
    let plan = plan_range(headers, &validators.etag, &validators.last_modified, len);
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
    let opened = local_file(&library, name, &source);
    match body(&source, opened.as_ref(), range.clone()).await {
        Ok(body) => {
            let mut response = (status, common, body).into_response();
            if let Some(file) = opened {
                response.extensions_mut().insert(SendFile::new(file, *range.start(), body_len));
            }
            response
        }
        Err(error) => {
            tracing::error!(error = %error, media.path = %name.relative_path(), "cannot stream media file");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The file on this machine's disk, open for the connection to send with
/// `sendfile(2)` (see [`SendFile`]); `None` for a bucket's object or a file
/// that cannot be opened, which go out as the body.
///
/// A cached file usually kept the descriptor it was read through (see
/// [`CachedFile::descriptor`](crate::media::CachedFile::descriptor)); the
/// rest are opened on this thread: the file was just stat'ed or is in the
/// memory cache, so `open` finds its inode cached and does not wait on the
/// disk.
fn local_file(library: &MediaLibrary, name: &MediaName, source: &MediaFile) -> Option<Arc<std::fs::File>> {
    let path = match source {
        MediaFile::Memory(cached) if library.bucket().is_none() => match cached.descriptor() {
            Some(kept) => return Some(Arc::clone(kept)),
            None => library.path_of(name),
        },
        MediaFile::Disk { path, .. } => path.clone(),
        MediaFile::Memory(_) | MediaFile::Bucket { .. } => return None,
    };
    std::fs::File::open(path).ok().map(Arc::new)
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether the client's cached copy is current (RFC 9110 §13.2.2: If-None-Match
/// wins over If-Modified-Since).
fn is_not_modified(headers: &HeaderMap, etag: &str, modified: SystemTime) -> bool {
    if let Some(matches) = crate::http::if_none_match(headers, etag) {
        return matches;
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

/// What to answer a `GET` of a file of known length.
#[derive(Debug, PartialEq, Eq)]
pub enum RangePlan {
    /// The whole file: no `Range`, a unit other than bytes, a stale
    /// `If-Range`, or several ranges.
    Full,
    /// 206 with this slice (inclusive, always inside the file).
    Partial(RangeInclusive<u64>),
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Decides the answer to the `Range` and `If-Range` headers for a file of
/// `len` bytes with validators `etag` and `last_modified` (public for the
/// parser fuzzing in `tests/fuzzing`).
pub fn plan_range(headers: &HeaderMap, etag: &str, last_modified: &str, len: u64) -> RangePlan {
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
    // A unit other than bytes is ignored, as RFC 9110 §14.2 asks. Checked
    // here: the parser reports some of them (`xbytes= 0-1`) as unsatisfiable.
    if !range.starts_with("bytes=") {
        return RangePlan::Full;
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
        // Found by the parser fuzzing: the parser called these unsatisfiable
        // (416) although an unknown range unit must be ignored (RFC 9110 §14.2).
        assert_eq!(plan("xbytes= 0-1", 100), RangePlan::Full);
        assert_eq!(plan("bybytes= 1-tes= 1-2", 1), RangePlan::Full);
        assert_eq!(plan("Bytes=0-1", 100), RangePlan::Full);
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
}
