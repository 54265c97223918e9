//! Uploading a clip: the form's fields (`title`, `description` (optional),
//! `genre` and one `file`, in any order), the file streamed into the media
//! library and checked by content, a poster, and the pending clip recorded
//! by the writer.
//!
//! The wire format is not known here: `http::upload` reads the multipart
//! body and feeds each part to an [`UploadDraft`], which decides what a part
//! may be, checks every field as it arrives (so a bad field is refused
//! before a large file behind it is read) and streams the file through
//! `media::upload::IncomingFile`, which refuses it the moment it passes the
//! size cap. Every refusal deletes what was received.
//!
//! Once every part is in, the video is probed (and made faststart), its
//! poster made from the local file, and both placed under their content
//! addresses while the upload holds a claim on each name
//! (`media::Claim`). The claims are let go only after the writer committed
//! or refused the clip: committed, the clip now uses the files; refused
//! (the season finished meanwhile, the writer is busy…), nothing uses them
//! and they are removed before the answer goes out. A creator has at most
//! `max_pending` clips waiting for moderation, uploads in progress counted.

use std::path::PathBuf;
use std::sync::Arc;

use crate::domain::ids::UserId;
use crate::domain::model::Clip;
use crate::domain::text;
use crate::media::probe::VideoInfo;
use crate::media::upload::{self as incoming, INCOMING_DIR, IncomingFile, Received, UploadError};
use crate::media::{Claim, MediaLibrary, MediaName, PendingReservation, poster};
use crate::service::{ErrorKind, ServiceError, Services};
use crate::store::writer::NewClip;

/// Largest accepted text part (`title`, `description`, `genre`), in bytes,
/// enforced while reading so a huge part cannot exhaust memory.
pub const MAX_TEXT_FIELD_BYTES: usize = 4096;
/// Longest piece of client input echoed back in an error message.
const MAX_ECHO_CHARS: usize = 40;

/// What an upload may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest video file, in bytes, enforced while streaming.
    pub max_bytes: u64,
    /// Longest video, in milliseconds (equal passes).
    pub max_duration_ms: u32,
    /// Longest title, in characters after trimming.
    pub max_title_chars: usize,
    /// Longest description, in characters after trimming.
    pub max_description_chars: usize,
    /// Allowed genres, lowercase: the configured list (`Config::genres`).
    pub genres: Vec<String>,
    /// The ffmpeg binary used for posters and faststart remuxes (see
    /// [`poster::detect_ffmpeg`]); `None` uses the placeholder poster and
    /// moves `moov` in-process.
    pub ffmpeg: Option<PathBuf>,
    /// Most clips one creator may have waiting for moderation (uploads in
    /// progress included).
    pub max_pending: usize,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_bytes: 50 * 1024 * 1024,
            max_duration_ms: 8500,
            max_title_chars: 80,
            max_description_chars: 500,
            genres: crate::domain::genre::default_genres(),
            ffmpeg: None,
            max_pending: 10,
        }
    }
}

/// The validated text fields of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadForm {
    /// Trimmed, 1..=max characters, no control characters.
    pub title: String,
    /// Trimmed, 0..=max characters, line breaks kept as `\n`.
    pub description: String,
    /// One of the allowed genres, lowercase.
    pub genre: String,
}

/// A stored upload. Its files are claimed until [`StoredUpload::release`]
/// (or drop): nothing removes them meanwhile.
pub struct StoredUpload {
    /// The video's content address.
    pub video: MediaName,
    /// The poster's content address (JPEG from ffmpeg, or the shared PNG
    /// placeholder).
    pub poster: MediaName,
    /// What the probe learned about the video.
    pub info: VideoInfo,
    /// The validated text fields.
    pub form: UploadForm,
    /// The same bytes were already stored (nothing new was written).
    pub duplicate: bool,
    /// The claims on `video` and `poster`.
    claims: Vec<Claim>,
}

impl StoredUpload {
    /// Lets go of the files: when no clip uses them (the clip was refused),
    /// they are removed before this returns.
    pub async fn release(&mut self) {
        for claim in self.claims.drain(..) {
            claim.release().await;
        }
    }
}

/// What a part of the form is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The clip's title.
    Title,
    /// Its description.
    Description,
    /// Its genre.
    Genre,
    /// The video.
    File,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Title => "title",
            Part::Description => "description",
            Part::Genre => "genre",
            Part::File => "file",
        }
    }
}

/// A text part being read, refused once it passes [`MAX_TEXT_FIELD_BYTES`].
#[derive(Debug)]
pub struct TextPart {
    part: Part,
    bytes: Vec<u8>,
}

impl TextPart {
    /// Adds the next chunk.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), UploadError> {
        if self.bytes.len() + chunk.len() > MAX_TEXT_FIELD_BYTES {
            let name = self.part.name();
            return Err(UploadError::Invalid(format!("field `{name}` is longer than {MAX_TEXT_FIELD_BYTES} bytes")));
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }
}

/// An upload as its parts arrive: the fields checked so far and the file
/// once received. Dropping it deletes a received file.
pub struct UploadDraft {
    library: Arc<MediaLibrary>,
    limits: UploadLimits,
    title: Option<String>,
    description: Option<String>,
    genre: Option<String>,
    received: Option<Received>,
    /// The creator's pending upload held for this one, when it counts.
    reservation: Option<PendingReservation>,
}

impl UploadDraft {
    /// An empty draft into `library` under `limits`.
    pub fn new(library: Arc<MediaLibrary>, limits: UploadLimits) -> UploadDraft {
        UploadDraft { library, limits, title: None, description: None, genre: None, received: None, reservation: None }
    }

    /// The largest file this draft takes, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.limits.max_bytes
    }

    /// What the part named `name` is: refused when the form has no such
    /// field or already had it.
    pub fn part(&self, name: &str) -> Result<Part, UploadError> {
        let (part, seen) = match name {
            "title" => (Part::Title, self.title.is_some()),
            "description" => (Part::Description, self.description.is_some()),
            "genre" => (Part::Genre, self.genre.is_some()),
            "file" => (Part::File, self.received.is_some()),
            other => {
                return Err(UploadError::Invalid(format!(
                    "unknown field {}; expected title, description, genre and file",
                    echo(other)
                )));
            }
        };
        if seen {
            return Err(UploadError::Invalid(format!("field `{name}` appears more than once")));
        }
        Ok(part)
    }

    /// Starts reading a text part.
    pub fn text(&self, part: Part) -> TextPart {
        TextPart { part, bytes: Vec::new() }
    }

    /// Checks a text part that was read in full and keeps it.
    pub fn set_text(&mut self, text: TextPart) -> Result<(), UploadError> {
        let name = text.part.name();
        let value = String::from_utf8(text.bytes)
            .map_err(|_| UploadError::Invalid(format!("field `{name}` is not valid UTF-8")))?;
        match text.part {
            Part::Title => self.title = Some(validate_title(&value, &self.limits)?),
            Part::Description => self.description = Some(validate_description(&value, &self.limits)?),
            Part::Genre => self.genre = Some(validate_genre(&value, &self.limits)?),
            Part::File => return Err(UploadError::Invalid("field `file` must be a file".to_owned())),
        }
        Ok(())
    }

    /// Starts receiving the video, capped at the size limit.
    pub async fn file(&self) -> Result<IncomingFile, UploadError> {
        IncomingFile::create(&self.library, self.limits.max_bytes).await
    }

    /// Keeps the received video.
    pub fn set_file(&mut self, received: Received) {
        self.received = Some(received);
    }

    /// Once every part arrived: probes the video (on the blocking pool; an
    /// MP4/MOV is made faststart), makes its poster from the local file, and
    /// places both under their content addresses (fsync of the file before
    /// the rename and of the directory after; existing bytes are a
    /// `duplicate`), holding a claim on each.
    pub async fn store(self) -> Result<StoredUpload, UploadError> {
        let UploadDraft { library, limits, title, description, genre, received, reservation: _ } = self;
        let received = received.ok_or_else(|| missing("file"))?;
        let form = UploadForm {
            title: title.ok_or_else(|| missing("title"))?,
            description: description.unwrap_or_default(),
            genre: genre.ok_or_else(|| missing("genre"))?,
        };
        if received.is_empty() {
            return Err(UploadError::Invalid("the uploaded file is empty".to_owned()));
        }
        let max_ms = limits.max_duration_ms;
        let ffmpeg = limits.ffmpeg.clone();
        let validate_library = library.clone();
        let validated = tokio::task::spawn_blocking(move || {
            incoming::validate_video(&validate_library, received, max_ms, ffmpeg.as_deref())
        })
        .await
        .map_err(join_error)??;
        let info = validated.info.clone();
        let video = validated.name.clone();
        let mut claims = vec![library.claim(&video).await];

        let incoming_dir = library.root().join(INCOMING_DIR);
        let ffmpeg = limits.ffmpeg.clone();
        let seek_ms = (info.duration_ms / 2).min(1000);
        let (validated, (poster_bytes, poster_kind)) = tokio::task::spawn_blocking(move || {
            let poster = poster::poster_for(ffmpeg.as_deref(), &validated.file, &incoming_dir, seek_ms);
            (validated, poster)
        })
        .await
        .map_err(join_error)?;
        let poster = MediaName::of_hash(&blake3::hash(&poster_bytes), poster_kind);
        claims.push(library.claim(&poster).await);
        // On any failure from here the claims drop, and the files placed so
        // far are removed unless another clip uses them.
        let duplicate = library.place_file(&video, validated.file).await?;
        library.place_bytes(&poster, poster_bytes).await?;
        tracing::debug!(video = %video.as_str(), poster = %poster.as_str(), duplicate, "upload stored");
        Ok(StoredUpload { video, poster, info, form, duplicate, claims })
    }
}

/// Starts `creator`'s upload: refused before any byte of the body is read
/// when no season is open (the writer checks again when it records the
/// clip), while storage is failing, or when the creator already has `max_pending` clips waiting, so a
/// refused upload stores nothing.
pub fn begin(services: &Services, creator: UserId) -> Result<UploadDraft, ServiceError> {
    if services.read_model.read(|model| model.season.is_none()) {
        return Err(ServiceError::conflict("no season is open for uploads right now"));
    }
    // While storage fails the clip record would be refused after the video
    // was written: refusing before the body is read keeps uploads from
    // eating the space an operator frees before the database is back.
    if services.writer.stats().storage_failing.load(std::sync::atomic::Ordering::Acquire) {
        return Err(ServiceError::unavailable());
    }
    let cap = services.upload_limits.max_pending;
    let reservation = services.media.reserve_pending(creator, cap).ok_or_else(|| {
        ServiceError::new(
            ErrorKind::RateLimited,
            "too_many_pending_uploads",
            format!(
                "you already have {cap} clips waiting for moderation; upload again once a moderator has reviewed them"
            ),
        )
    })?;
    let mut draft = UploadDraft::new(services.media.clone(), services.upload_limits.clone());
    draft.reservation = Some(reservation);
    Ok(draft)
}

/// Stores a complete upload and records it as `creator`'s pending clip.
/// Whatever the writer answers, the upload's claims go before this
/// returns: a refused clip leaves no file behind.
pub async fn finish(
    services: &Services,
    creator: UserId,
    creator_username: &str,
    mut draft: UploadDraft,
) -> Result<Clip, ServiceError> {
    let reservation = draft.reservation.take();
    let mut stored = draft.store().await?;
    let created = services
        .writer
        .create_clip(NewClip {
            creator,
            creator_username: creator_username.to_owned(),
            title: stored.form.title.clone(),
            description: stored.form.description.clone(),
            genre: stored.form.genre.clone(),
            video_path: stored.video.relative_path(),
            poster_path: stored.poster.relative_path(),
            duration_ms: stored.info.duration_ms,
        })
        .await;
    // Committed events reach the media map before the writer answers, so a
    // created clip already uses the files when the claims go.
    stored.release().await;
    drop(reservation);
    let clip = created?;
    tracing::info!(clip.id = %clip.id, user.id = %creator, duration_ms = stored.info.duration_ms, "clip uploaded");
    Ok(clip)
}

fn missing(name: &str) -> UploadError {
    UploadError::Invalid(format!("missing field `{name}`"))
}

fn join_error(error: tokio::task::JoinError) -> UploadError {
    UploadError::Io(std::io::Error::other(error))
}

/// Client input quoted in an error message: escaped, then shortened to
/// [`MAX_ECHO_CHARS`] characters of the escaped text. Cutting after escaping
/// keeps the quote short whatever the input: cut before, 40 backslashes or
/// control characters came out as 80 to 240 characters (found by the fuzz
/// bench; `tests/fuzz.rs` replays the cases).
fn echo(text: &str) -> String {
    let mut quoted = String::with_capacity(MAX_ECHO_CHARS + 8);
    let mut kept = 0;
    for c in text.chars() {
        let escaped = c.escape_debug();
        if kept + escaped.len() > MAX_ECHO_CHARS {
            return format!("\"{quoted}\"…");
        }
        kept += escaped.len();
        quoted.extend(escaped);
    }
    format!("\"{quoted}\"")
}

fn validate_title(text: &str, limits: &UploadLimits) -> Result<String, UploadError> {
    let title = text.trim();
    let chars = title.chars().count();
    if chars == 0 {
        return Err(UploadError::Invalid("the title is empty".to_owned()));
    }
    if chars > limits.max_title_chars {
        return Err(UploadError::Invalid(format!(
            "the title is {chars} characters; the limit is {}",
            limits.max_title_chars
        )));
    }
    if title.chars().any(char::is_control) {
        return Err(UploadError::Invalid("the title contains control characters".to_owned()));
    }
    let title = text::single_line(title);
    if title.is_empty() {
        return Err(UploadError::Invalid("the title is empty".to_owned()));
    }
    Ok(title)
}

fn validate_description(text: &str, limits: &UploadLimits) -> Result<String, UploadError> {
    let description = text.trim().replace("\r\n", "\n");
    let chars = description.chars().count();
    if chars > limits.max_description_chars {
        return Err(UploadError::Invalid(format!(
            "the description is {chars} characters; the limit is {}",
            limits.max_description_chars
        )));
    }
    if description.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(UploadError::Invalid("the description contains control characters".to_owned()));
    }
    Ok(text::multi_line(&description))
}

fn validate_genre(text: &str, limits: &UploadLimits) -> Result<String, UploadError> {
    let genre = text.trim().to_lowercase();
    if limits.genres.iter().any(|allowed| allowed.trim().to_lowercase() == genre) {
        return Ok(genre);
    }
    Err(UploadError::Invalid(format!("unknown genre {}; choose one of: {}", echo(&genre), limits.genres.join(", "))))
}
