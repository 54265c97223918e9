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

use std::path::PathBuf;
use std::sync::Arc;

use crate::domain::ids::UserId;
use crate::domain::model::Clip;
use crate::media::probe::VideoInfo;
use crate::media::upload::{self as incoming, IncomingFile, Received, UploadError};
use crate::media::{MediaLibrary, MediaName, poster};
use crate::service::{ServiceError, Services};
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
    /// Allowed genres, lowercase.
    pub genres: Vec<String>,
    /// The ffmpeg binary used for posters (see [`poster::detect_ffmpeg`]);
    /// `None` uses the placeholder poster.
    pub ffmpeg: Option<PathBuf>,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_bytes: 50 * 1024 * 1024,
            max_duration_ms: 8500,
            max_title_chars: 80,
            max_description_chars: 500,
            genres: [
                "action",
                "comedy",
                "drama",
                "horror",
                "sci-fi",
                "thriller",
                "romance",
                "animation",
                "documentary",
            ]
            .into_iter()
            .map(str::to_owned)
            .collect(),
            ffmpeg: None,
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

/// A stored upload.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl UploadDraft {
    /// An empty draft into `library` under `limits`.
    pub fn new(library: Arc<MediaLibrary>, limits: UploadLimits) -> UploadDraft {
        UploadDraft { library, limits, title: None, description: None, genre: None, received: None }
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

    /// Once every part arrived: probes the video (on the blocking pool),
    /// moves it to its content address (fsync of the file before the rename
    /// and of the directory after; existing bytes are a `duplicate`) and
    /// makes its poster.
    pub async fn store(self) -> Result<StoredUpload, UploadError> {
        let UploadDraft { library, limits, title, description, genre, received } = self;
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
        let store_library = library.clone();
        let (video, info, duplicate) =
            tokio::task::spawn_blocking(move || incoming::store_video(&store_library, received, max_ms))
                .await
                .map_err(join_error)??;
        let poster_library = library.clone();
        let video_path = library.path_of(&video);
        let ffmpeg = limits.ffmpeg.clone();
        let seek_ms = (info.duration_ms / 2).min(1000);
        let poster = tokio::task::spawn_blocking(move || {
            poster::make_poster(&poster_library, ffmpeg.as_deref(), &video_path, seek_ms)
        })
        .await
        .map_err(join_error)??;
        tracing::debug!(video = %video.relative_path(), poster = %poster.relative_path(), duplicate, "upload stored");
        Ok(StoredUpload { video, poster, info, form, duplicate })
    }
}

/// Starts an upload: refused before any byte of the body is read when no
/// season is open (the writer checks again when it records the clip), so a
/// refused upload stores nothing.
pub fn begin(services: &Services) -> Result<UploadDraft, ServiceError> {
    if services.read_model.read(|model| model.season.is_none()) {
        return Err(ServiceError::conflict("no season is open for uploads right now"));
    }
    Ok(UploadDraft::new(services.media.clone(), services.upload_limits.clone()))
}

/// Stores a complete upload and records it as `creator`'s pending clip.
pub async fn finish(
    services: &Services,
    creator: UserId,
    creator_username: &str,
    draft: UploadDraft,
) -> Result<Clip, ServiceError> {
    let StoredUpload { video, poster, info, form, .. } = draft.store().await?;
    let clip = services
        .writer
        .create_clip(NewClip {
            creator,
            creator_username: creator_username.to_owned(),
            title: form.title,
            description: form.description,
            genre: form.genre,
            video_path: video.relative_path(),
            poster_path: poster.relative_path(),
            duration_ms: info.duration_ms,
        })
        .await?;
    tracing::info!(clip.id = %clip.id, user.id = %creator, duration_ms = info.duration_ms, "clip uploaded");
    Ok(clip)
}

fn missing(name: &str) -> UploadError {
    UploadError::Invalid(format!("missing field `{name}`"))
}

fn join_error(error: tokio::task::JoinError) -> UploadError {
    UploadError::Io(std::io::Error::other(error))
}

/// Client input quoted in an error message: shortened and escaped.
fn echo(text: &str) -> String {
    let short: String = text.chars().take(MAX_ECHO_CHARS).collect();
    if short.len() < text.len() { format!("{:?}…", short) } else { format!("{short:?}") }
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
    Ok(title.to_owned())
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
    Ok(description)
}

fn validate_genre(text: &str, limits: &UploadLimits) -> Result<String, UploadError> {
    let genre = text.trim().to_lowercase();
    if limits.genres.iter().any(|allowed| allowed.trim().to_lowercase() == genre) {
        return Ok(genre);
    }
    Err(UploadError::Invalid(format!("unknown genre {}; choose one of: {}", echo(&genre), limits.genres.join(", "))))
}
