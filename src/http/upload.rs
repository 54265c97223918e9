//! Reading an upload off the wire: the multipart body's parts are fed, in
//! order, to a `service::uploads::UploadDraft`, which decides what each may
//! be and checks it; text parts are read in bounded chunks and the `file`
//! part is streamed chunk by chunk, never held in memory. Both
//! `POST /api/upload` and the no-JavaScript `POST /upload` form come here.

use axum::extract::Multipart;
use axum::extract::multipart::MultipartError;
use axum::http::StatusCode;

use crate::domain::ids::UserId;
use crate::domain::model::Clip;
use crate::media::upload::UploadError;
use crate::service::uploads::{self, Part, UploadDraft};
use crate::service::{ServiceError, Services};

/// Receives `creator`'s upload from `multipart` and records the pending
/// clip. Refused before the body is read when no season is open.
pub async fn upload(
    services: &Services,
    creator: UserId,
    creator_username: &str,
    multipart: Multipart,
) -> Result<Clip, ServiceError> {
    let draft = uploads::begin(services, creator)?;
    let draft = receive(multipart, draft).await?;
    uploads::finish(services, creator, creator_username, draft).await
}

/// Feeds every part of `multipart` to `draft`, in order.
pub async fn receive(mut multipart: Multipart, mut draft: UploadDraft) -> Result<UploadDraft, UploadError> {
    while let Some(mut field) = multipart.next_field().await.map_err(|error| multipart_error(error, &draft))? {
        let part = draft.part(field.name().unwrap_or_default())?;
        if part == Part::File {
            let mut file = draft.file().await?;
            while let Some(chunk) = field.chunk().await.map_err(|error| multipart_error(error, &draft))? {
                file.push(&chunk).await?;
            }
            draft.set_file(file.finish().await?);
        } else {
            let mut text = draft.text(part);
            while let Some(chunk) = field.chunk().await.map_err(|error| multipart_error(error, &draft))? {
                text.push(&chunk)?;
            }
            draft.set_text(text)?;
        }
    }
    Ok(draft)
}

/// Maps a multipart parse error: a body over the request limit is too
/// large, anything else (a malformed body, a client gone) is invalid.
fn multipart_error(error: MultipartError, draft: &UploadDraft) -> UploadError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        UploadError::TooLarge { max_bytes: draft.max_bytes() }
    } else {
        UploadError::Invalid(format!("malformed multipart body: {}", error.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use axum::body::Body;
    use axum::extract::{DefaultBodyLimit, Multipart, State};
    use axum::http::{Request, StatusCode, header};
    use axum::routing::post;
    use axum::{Json, Router};
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::*;
    use crate::http::error::status;
    use crate::media::poster::{PLACEHOLDER_POSTER_PNG, detect_ffmpeg};
    use crate::media::upload::INCOMING_DIR;
    use crate::media::{MediaKind, MediaLibrary, MediaName};
    use crate::service::ServiceError;
    use crate::service::uploads::{MAX_TEXT_FIELD_BYTES, UploadDraft, UploadLimits};

    const BOUNDARY: &str = "aimoviez-test-boundary-3f9a1c07";

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/data/demo/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|error| panic!("fixture {path}: {error}"))
    }

    /// One part of a hand-built multipart body.
    struct Part<'a> {
        name: &'a [u8],
        filename: Option<&'a [u8]>,
        /// Raw Content-Disposition parameters appended after the name.
        raw_params: Option<&'a [u8]>,
        content_type: Option<&'a str>,
        body: &'a [u8],
    }

    fn text<'a>(name: &'a str, value: &'a str) -> Part<'a> {
        Part { name: name.as_bytes(), filename: None, raw_params: None, content_type: None, body: value.as_bytes() }
    }

    fn file<'a>(filename: &'a [u8], content_type: &'a str, body: &'a [u8]) -> Part<'a> {
        Part { name: b"file", filename: Some(filename), raw_params: None, content_type: Some(content_type), body }
    }

    fn file_with_params<'a>(raw_params: &'a [u8], body: &'a [u8]) -> Part<'a> {
        Part { name: b"file", filename: None, raw_params: Some(raw_params), content_type: Some("video/mp4"), body }
    }

    fn multipart_body(parts: &[Part<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        for part in parts {
            out.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"").as_bytes());
            out.extend_from_slice(part.name);
            out.push(b'"');
            if let Some(filename) = part.filename {
                out.extend_from_slice(b"; filename=\"");
                out.extend_from_slice(filename);
                out.push(b'"');
            }
            if let Some(raw_params) = part.raw_params {
                out.extend_from_slice(b"; ");
                out.extend_from_slice(raw_params);
            }
            out.extend_from_slice(b"\r\n");
            if let Some(content_type) = part.content_type {
                out.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(part.body);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        out
    }

    /// The usual valid form around a file part.
    fn form_with<'a>(file_part: Part<'a>) -> Vec<Part<'a>> {
        vec![
            text("title", "  Night Train  "),
            text("description", "A short scene."),
            text("genre", "Sci-Fi "),
            file_part,
        ]
    }

    type Ctx = (Arc<MediaLibrary>, Arc<UploadLimits>);

    async fn upload_handler(State((library, limits)): State<Ctx>, multipart: Multipart) -> (StatusCode, Json<Value>) {
        let draft = UploadDraft::new(library, UploadLimits::clone(&limits));
        let stored = match receive(multipart, draft).await {
            Ok(draft) => draft.store().await,
            Err(error) => Err(error),
        };
        match stored {
            Ok(stored) => (
                StatusCode::OK,
                Json(json!({
                    "video": stored.video.relative_path(),
                    "poster": stored.poster.relative_path(),
                    "duplicate": stored.duplicate,
                    "container": stored.info.container.extension(),
                    "duration_ms": stored.info.duration_ms,
                    "title": stored.form.title,
                    "description": stored.form.description,
                    "genre": stored.form.genre,
                })),
            ),
            Err(error) => {
                let message = error.to_string();
                (status(ServiceError::from(error).kind()), Json(json!({ "error": message })))
            }
        }
    }

    struct Harness {
        dir: tempfile::TempDir,
        library: Arc<MediaLibrary>,
        limits: Arc<UploadLimits>,
        body_limit: usize,
    }

    impl Harness {
        fn new(limits: UploadLimits) -> Harness {
            let dir = tempfile::tempdir().expect("temp dir");
            let library =
                Arc::new(MediaLibrary::open(dir.path().join("media"), 1 << 20, 1 << 20).expect("media library"));
            Harness { dir, library, limits: Arc::new(limits), body_limit: 8 * 1024 * 1024 }
        }

        fn plain() -> Harness {
            Harness::new(test_limits())
        }

        async fn post(&self, body: Vec<u8>) -> (StatusCode, Value) {
            let app = Router::new()
                .route("/upload", post(upload_handler))
                .layer(DefaultBodyLimit::max(self.body_limit))
                .with_state((self.library.clone(), self.limits.clone()));
            let request = Request::post("/upload")
                .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
                .body(Body::from(body))
                .expect("request");
            let response = app.oneshot(request).await.expect("response");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
            let value =
                serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({ "raw": String::from_utf8_lossy(&bytes) }));
            (status, value)
        }

        async fn upload(&self, parts: &[Part<'_>]) -> (StatusCode, Value) {
            self.post(multipart_body(parts)).await
        }

        /// Every file under the temp dir (media root and around it), relative.
        fn files(&self) -> BTreeSet<PathBuf> {
            fn walk(dir: &Path, base: &Path, out: &mut BTreeSet<PathBuf>) {
                for entry in std::fs::read_dir(dir).expect("read dir") {
                    let entry = entry.expect("entry");
                    let path = entry.path();
                    if entry.file_type().expect("file type").is_dir() {
                        walk(&path, base, out);
                    } else {
                        out.insert(path.strip_prefix(base).expect("under base").to_owned());
                    }
                }
            }
            let mut out = BTreeSet::new();
            walk(self.dir.path(), self.dir.path(), &mut out);
            out
        }

        fn incoming_is_empty(&self) -> bool {
            let dir = self.library.root().join(INCOMING_DIR);
            !dir.exists() || std::fs::read_dir(&dir).expect("read incoming").next().is_none()
        }

        /// Uploads `parts`, expects `status`, and checks nothing was left behind.
        async fn refused(&self, parts: &[Part<'_>], status: StatusCode) -> String {
            let before = self.files();
            let (got, body) = self.upload(parts).await;
            assert_eq!(got, status, "{body}");
            assert_eq!(self.files(), before, "a refused upload left files behind");
            assert!(self.incoming_is_empty());
            body["error"].as_str().expect("error message").to_owned()
        }

        fn name(&self, body: &Value, key: &str) -> MediaName {
            MediaName::parse(body[key].as_str().expect("name")).expect("valid media name")
        }
    }

    fn test_limits() -> UploadLimits {
        UploadLimits { genres: vec!["sci-fi".to_owned(), "drama".to_owned()], ffmpeg: None, ..UploadLimits::default() }
    }

    #[tokio::test]
    async fn mp4_is_stored_at_its_content_address_with_a_poster() {
        let harness = Harness::plain();
        let mp4 = fixture("test-short.mp4");
        let (status, body) = harness.upload(&form_with(file(b"clip.mp4", "video/mp4", &mp4))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let video = harness.name(&body, "video");
        assert_eq!(video.kind(), MediaKind::Mp4);
        assert_eq!(video.hash(), blake3::hash(&mp4).to_hex().as_str());
        assert_eq!(std::fs::read(harness.library.path_of(&video)).expect("stored video"), mp4);
        let poster = harness.name(&body, "poster");
        assert!(harness.library.path_of(&poster).is_file());
        assert_eq!(body["duplicate"], false);
        assert_eq!(body["container"], "mp4");
        assert!(body["duration_ms"].as_u64().expect("duration") > 0);
        assert_eq!(body["title"], "Night Train");
        assert_eq!(body["description"], "A short scene.");
        assert_eq!(body["genre"], "sci-fi");
        assert!(harness.incoming_is_empty());
        let expected: BTreeSet<PathBuf> =
            [video, poster].iter().map(|name| PathBuf::from("media").join(name.relative_path())).collect();
        assert_eq!(harness.files(), expected);
    }

    #[tokio::test]
    async fn webm_is_accepted_with_the_file_before_the_text_fields() {
        let harness = Harness::plain();
        let webm = fixture("test-short.webm");
        let parts = [file(b"clip.webm", "video/webm", &webm), text("genre", "drama"), text("title", "Rain")];
        let (status, body) = harness.upload(&parts).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let video = harness.name(&body, "video");
        assert_eq!(video.kind(), MediaKind::Webm);
        assert_eq!(std::fs::read(harness.library.path_of(&video)).expect("stored video"), webm);
        assert_eq!(body["description"], "");
    }

    #[tokio::test]
    async fn the_same_bytes_twice_are_stored_once() {
        let harness = Harness::plain();
        let mp4 = fixture("test-short.mp4");
        let (first_status, first) = harness.upload(&form_with(file(b"a.mp4", "video/mp4", &mp4))).await;
        let (second_status, second) = harness.upload(&form_with(file(b"b.mp4", "video/mp4", &mp4))).await;
        assert_eq!((first_status, second_status), (StatusCode::OK, StatusCode::OK));
        assert_eq!(first["duplicate"], false);
        assert_eq!(second["duplicate"], true);
        assert_eq!(first["video"], second["video"]);
        let videos =
            harness.files().into_iter().filter(|path| path.extension().is_some_and(|ext| ext == "mp4")).count();
        assert_eq!(videos, 1);
        assert!(harness.incoming_is_empty());
    }

    #[tokio::test]
    async fn html_named_like_a_video_is_unsupported_media() {
        let harness = Harness::plain();
        let html = b"<!doctype html><html><body><script>alert(1)</script></body></html>".repeat(20);
        let message = harness
            .refused(&form_with(file(b"clip.mp4", "video/mp4", &html)), StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .await;
        assert!(message.contains("MP4, MOV or WebM"), "{message}");
    }

    #[tokio::test]
    async fn a_file_over_the_cap_is_refused_while_streaming() {
        let harness = Harness::new(UploadLimits { max_bytes: 10_000, ..test_limits() });
        let mp4 = fixture("test-short.mp4");
        assert!(mp4.len() > 10_000);
        let message =
            harness.refused(&form_with(file(b"clip.mp4", "video/mp4", &mp4)), StatusCode::PAYLOAD_TOO_LARGE).await;
        assert!(message.contains("9.8 KiB") || message.contains("10000"), "{message}");
        assert!(harness.library.root().join(INCOMING_DIR).is_dir(), "the temp file was made in .incoming");
    }

    #[tokio::test]
    async fn a_body_over_the_request_limit_is_too_large() {
        let mut harness = Harness::plain();
        harness.body_limit = 5_000;
        let mp4 = fixture("test-short.mp4");
        harness.refused(&form_with(file(b"clip.mp4", "video/mp4", &mp4)), StatusCode::PAYLOAD_TOO_LARGE).await;
    }

    #[tokio::test]
    async fn a_video_over_the_duration_limit_is_invalid() {
        let harness = Harness::plain();
        let long = fixture("test-too-long.mp4");
        let message = harness.refused(&form_with(file(b"long.mp4", "video/mp4", &long)), StatusCode::BAD_REQUEST).await;
        assert!(message.contains("the limit is 8.5 s"), "{message}");
    }

    #[tokio::test]
    async fn a_truncated_video_is_invalid_or_unsupported() {
        let harness = Harness::plain();
        let mp4 = fixture("test-short.mp4");
        let cut = &mp4[..mp4.len() / 3];
        let before = harness.files();
        let (status, body) = harness.upload(&form_with(file(b"cut.mp4", "video/mp4", cut))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(harness.files(), before);
        assert!(harness.incoming_is_empty());
    }

    #[tokio::test]
    async fn bad_forms_are_invalid_and_leave_nothing() {
        let harness = Harness::plain();
        let mp4 = fixture("test-short.mp4");
        let video = || file(b"clip.mp4", "video/mp4", &mp4);
        let long_title = "x".repeat(81);
        let huge_title = "y".repeat(MAX_TEXT_FIELD_BYTES + 1);
        let long_description = "d".repeat(501);
        let cases: Vec<(Vec<Part<'_>>, &str)> = vec![
            (vec![text("genre", "drama"), video()], "missing field `title`"),
            (vec![text("title", "   "), text("genre", "drama"), video()], "title is empty"),
            (vec![text("title", &long_title), text("genre", "drama"), video()], "the limit is 80"),
            (vec![text("title", &huge_title), text("genre", "drama"), video()], "longer than 4096 bytes"),
            (vec![text("title", "a\u{7}b"), text("genre", "drama"), video()], "control characters"),
            (vec![text("title", "T"), text("title", "U"), text("genre", "drama"), video()], "more than once"),
            (vec![text("title", "T"), video()], "missing field `genre`"),
            (vec![text("title", "T"), text("genre", "western"), video()], "choose one of: sci-fi, drama"),
            (vec![text("title", "T"), text("genre", "drama")], "missing field `file`"),
            (vec![text("title", "T"), text("genre", "drama"), video(), video()], "`file` appears more than once"),
            (vec![text("title", "T"), text("genre", "drama"), text("owner", "admin"), video()], "unknown field"),
            (
                vec![text("title", "T"), text("genre", "drama"), text("description", &long_description), video()],
                "the limit is 500",
            ),
            (vec![text("title", "T"), text("genre", "drama"), file(b"empty.mp4", "video/mp4", b"")], "empty"),
        ];
        for (parts, expected) in cases {
            let message = harness.refused(&parts, StatusCode::BAD_REQUEST).await;
            assert!(message.contains(expected), "expected {expected:?} in {message:?}");
        }
        assert!(harness.files().is_empty());
    }

    #[tokio::test]
    async fn a_malformed_body_is_invalid() {
        let harness = Harness::plain();
        let mut body = multipart_body(&[text("title", "T")]);
        body.truncate(body.len() - 20);
        let before = harness.files();
        let (status, _) = harness.post(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(harness.files(), before);
    }

    #[tokio::test]
    async fn hostile_file_names_do_not_matter() {
        let mp4 = fixture("test-short.mp4");
        let quoted: [&[u8]; 4] = [
            b"../../../etc/passwd%00.mp4",
            b"..\\..\\windows\\system32\\x.mp4",
            b"/etc/shadow",
            b"clip.mp4\r\nX-Evil: 1",
        ];
        let encoded: [&[u8]; 2] = [
            b"filename*=UTF-8''..%2F..%2F..%2Fetc%2Fpasswd%00.mp4",
            b"filename=\"x.mp4\"; filename*=UTF-8''%2E%2E%2F%2E%2E%2Fboot%5Cvmlinuz%00.mp4",
        ];
        let parts: Vec<Part<'_>> = quoted
            .iter()
            .map(|name| file(name, "text/html", &mp4))
            .chain(encoded.iter().map(|params| file_with_params(params, &mp4)))
            .collect();
        for part in parts {
            let harness = Harness::plain();
            let (status, body) = harness.upload(&form_with(part)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let video = harness.name(&body, "video");
            let poster = harness.name(&body, "poster");
            let expected: BTreeSet<PathBuf> =
                [video, poster].iter().map(|name| PathBuf::from("media").join(name.relative_path())).collect();
            assert_eq!(harness.files(), expected, "only the content addresses were written");
        }
    }

    #[tokio::test]
    async fn a_raw_nul_in_a_part_header_is_refused_by_the_parser() {
        // multer refuses header bytes like NUL before any field reaches us.
        let harness = Harness::plain();
        let mp4 = fixture("test-short.mp4");
        harness
            .refused(&form_with(file(b"../../../etc/passwd\0.mp4", "video/mp4", &mp4)), StatusCode::BAD_REQUEST)
            .await;
        assert!(harness.files().is_empty());
    }

    #[tokio::test]
    async fn without_ffmpeg_every_clip_shares_the_placeholder_poster() {
        let harness = Harness::plain();
        let mp4 = fixture("test-short.mp4");
        let webm = fixture("test-short.webm");
        let (_, first) = harness.upload(&form_with(file(b"a.mp4", "video/mp4", &mp4))).await;
        let (_, second) = harness.upload(&form_with(file(b"b.webm", "video/webm", &webm))).await;
        assert_ne!(first["video"], second["video"]);
        assert_eq!(first["poster"], second["poster"]);
        let poster = harness.name(&first, "poster");
        assert_eq!(poster.kind(), MediaKind::Png);
        assert_eq!(std::fs::read(harness.library.path_of(&poster)).expect("poster"), PLACEHOLDER_POSTER_PNG);
    }

    #[tokio::test]
    async fn a_failing_ffmpeg_falls_back_to_the_placeholder() {
        let harness = Harness::new(UploadLimits { ffmpeg: Some(PathBuf::from("/bin/false")), ..test_limits() });
        let mp4 = fixture("test-short.mp4");
        let (status, body) = harness.upload(&form_with(file(b"a.mp4", "video/mp4", &mp4))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(harness.name(&body, "poster").kind(), MediaKind::Png);
        assert!(harness.incoming_is_empty());
    }

    #[tokio::test]
    async fn ffmpeg_extracts_a_real_poster_when_installed() {
        let Some(ffmpeg) = detect_ffmpeg(None) else {
            eprintln!("ffmpeg not installed; skipping");
            return;
        };
        let harness = Harness::new(UploadLimits { ffmpeg: Some(ffmpeg), ..test_limits() });
        for (fixture_name, file_name) in [("test-short.mp4", "a.mp4"), ("test-short.webm", "b.webm")] {
            let bytes = fixture(fixture_name);
            let (status, body) = harness.upload(&form_with(file(file_name.as_bytes(), "video/mp4", &bytes))).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let poster = harness.name(&body, "poster");
            assert_eq!(poster.kind(), MediaKind::Jpeg);
            let jpeg = std::fs::read(harness.library.path_of(&poster)).expect("poster");
            assert_eq!(&jpeg[..2], &[0xff, 0xd8]);
            assert_eq!(poster.hash(), blake3::hash(&jpeg).to_hex().as_str());
        }
        assert!(harness.incoming_is_empty());
    }
}
