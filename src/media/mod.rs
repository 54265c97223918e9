//! Media files: the on-disk layout, the in-memory cache of hot files, and
//! what serving them needs (`http::media` answers Range and conditional
//! requests).
//!
//! Files live under the media root at content-addressed names
//! (`ab/abcdef….mp4`, the blake3 hash of the bytes), so a name never changes
//! meaning: responses are immutable and the ETag is the hash itself. Hot
//! files are kept in memory (a byte-weighted cache), so a range is a slice of
//! the cached bytes; files larger than the per-file cap are read from disk.

pub mod poster;
pub mod probe;
pub mod upload;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;

/// File types the server stores and serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// MPEG-4 video.
    Mp4,
    /// QuickTime video.
    Mov,
    /// WebM video.
    Webm,
    /// JPEG poster.
    Jpeg,
    /// PNG poster.
    Png,
}

impl MediaKind {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            MediaKind::Mp4 => "mp4",
            MediaKind::Mov => "mov",
            MediaKind::Webm => "webm",
            MediaKind::Jpeg => "jpg",
            MediaKind::Png => "png",
        }
    }

    /// The Content-Type sent with it.
    pub fn content_type(self) -> &'static str {
        match self {
            MediaKind::Mp4 => "video/mp4",
            MediaKind::Mov => "video/quicktime",
            MediaKind::Webm => "video/webm",
            MediaKind::Jpeg => "image/jpeg",
            MediaKind::Png => "image/png",
        }
    }

    fn from_extension(ext: &str) -> Option<Self> {
        [MediaKind::Mp4, MediaKind::Mov, MediaKind::Webm, MediaKind::Jpeg, MediaKind::Png]
            .into_iter()
            .find(|kind| kind.extension() == ext)
    }
}

/// A validated media name: `<2 hex>/<64 hex>.<known extension>`. Nothing
/// else is accepted, so `..`, encoded dots, absolute paths, backslashes and
/// NUL bytes can never reach the file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaName {
    hash: String,
    kind: MediaKind,
}

impl MediaName {
    /// Parses the path after `/media/`.
    pub fn parse(path: &str) -> Option<MediaName> {
        let (dir, file) = path.split_once('/')?;
        let (hash, ext) = file.split_once('.')?;
        let is_hex = |text: &str| text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let valid = dir.len() == 2 && hash.len() == 64 && is_hex(dir) && is_hex(hash) && hash.starts_with(dir);
        if !valid {
            return None;
        }
        Some(MediaName { hash: hash.to_owned(), kind: MediaKind::from_extension(ext)? })
    }

    /// The content hash, used as the strong ETag.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The file type.
    pub fn kind(&self) -> MediaKind {
        self.kind
    }

    /// The path relative to the media root, as stored in clip records.
    pub fn relative_path(&self) -> String {
        format!("{}/{}.{}", &self.hash[..2], self.hash, self.kind.extension())
    }
}

/// A file's validators, formatted once (for cached files, once per load).
#[derive(Debug, Clone)]
pub struct Validators {
    /// The strong ETag: the content hash, quoted.
    pub etag: String,
    /// The file's modification time.
    pub modified: SystemTime,
    /// `modified` as an HTTP date.
    pub last_modified: String,
    /// The Content-Type of its kind.
    pub content_type: &'static str,
}

impl Validators {
    /// The validators of `name`, last modified at `modified`.
    pub fn new(name: &MediaName, modified: SystemTime) -> Self {
        Validators {
            etag: format!("\"{}\"", name.hash()),
            modified,
            last_modified: httpdate::fmt_http_date(modified),
            content_type: name.kind().content_type(),
        }
    }
}

/// A file held in memory, with its validators formatted once.
#[derive(Debug)]
pub struct CachedFile {
    bytes: Bytes,
    validators: Validators,
}

/// A file found for serving.
#[derive(Debug)]
pub enum MediaFile {
    /// Held in memory: ranges are slices of these bytes.
    Memory(Arc<CachedFile>),
    /// Too large to cache: read from disk.
    Disk {
        /// Where it is.
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
        /// Its validators.
        validators: Box<Validators>,
    },
}

impl MediaFile {
    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            MediaFile::Memory(file) => file.bytes.len() as u64,
            MediaFile::Disk { len, .. } => *len,
        }
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its validators.
    pub fn validators(&self) -> &Validators {
        match self {
            MediaFile::Memory(file) => &file.validators,
            MediaFile::Disk { validators, .. } => validators,
        }
    }

    /// The bytes of a file held in memory.
    pub fn bytes(&self) -> Option<&Bytes> {
        match self {
            MediaFile::Memory(file) => Some(&file.bytes),
            MediaFile::Disk { .. } => None,
        }
    }
}

#[derive(Clone)]
struct ByteWeighter;

impl quick_cache::Weighter<String, Arc<CachedFile>> for ByteWeighter {
    fn weight(&self, _key: &String, file: &Arc<CachedFile>) -> u64 {
        file.bytes.len() as u64 + 1
    }
}

/// The media root and its in-memory cache of hot files.
pub struct MediaLibrary {
    root: PathBuf,
    cache: quick_cache::sync::Cache<String, Arc<CachedFile>, ByteWeighter>,
    max_cached_file_bytes: u64,
}

impl MediaLibrary {
    /// Opens (creating if needed) the media root.
    pub fn open(root: PathBuf, cache_bytes: u64, max_cached_file_bytes: u64) -> std::io::Result<MediaLibrary> {
        std::fs::create_dir_all(&root)?;
        // The cache holds at least one item so a zero budget still works (uncached).
        let cache = quick_cache::sync::Cache::with_weighter(64, cache_bytes.max(1), ByteWeighter);
        Ok(MediaLibrary { root, cache, max_cached_file_bytes })
    }

    /// The media root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Absolute path of a media name.
    pub fn path_of(&self, name: &MediaName) -> PathBuf {
        self.root.join(name.relative_path())
    }

    /// Stores bytes under their content address; storing the same bytes twice
    /// is a no-op. The file is written beside its final name and renamed, so
    /// a crash never leaves a half-written file under a served name.
    pub fn store_bytes(&self, bytes: &[u8], kind: MediaKind) -> std::io::Result<MediaName> {
        let hash = blake3::hash(bytes).to_hex().to_string();
        let name = MediaName { hash, kind };
        let path = self.path_of(&name);
        if path.exists() {
            return Ok(name);
        }
        let dir = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir)?;
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        temp.write_all(bytes)?;
        temp.as_file().sync_all()?;
        temp.persist(&path).map_err(|error| error.error)?;
        Ok(name)
    }

    /// The file's bytes from memory, loading it on a miss, or `None` when it
    /// is too large to cache (the caller streams it) or does not exist.
    fn cached(&self, name: &MediaName) -> std::io::Result<Option<Arc<CachedFile>>> {
        let key = name.relative_path();
        if let Some(file) = self.cache.get(&key) {
            return Ok(Some(file));
        }
        let path = self.path_of(name);
        let metadata = std::fs::metadata(&path)?;
        if metadata.len() > self.max_cached_file_bytes {
            return Ok(None);
        }
        let validators = Validators::new(name, metadata.modified()?);
        let file = Arc::new(CachedFile { bytes: Bytes::from(std::fs::read(&path)?), validators });
        self.cache.insert(key, file.clone());
        Ok(Some(file))
    }
}

/// The file named `name`, from memory or (on a miss, on the blocking pool)
/// from disk; `None` when there is no such file.
pub async fn load(library: Arc<MediaLibrary>, name: &MediaName) -> std::io::Result<Option<MediaFile>> {
    // A hit costs one hash-map lookup on this thread; only a miss touches the disk.
    if let Some(file) = library.cache.get(&name.relative_path()) {
        return Ok(Some(MediaFile::Memory(file)));
    }
    let name = name.clone();
    let loaded = tokio::task::spawn_blocking(move || -> std::io::Result<Option<MediaFile>> {
        match library.cached(&name) {
            Ok(Some(file)) => Ok(Some(MediaFile::Memory(file))),
            Ok(None) => {
                let path = library.path_of(&name);
                let metadata = std::fs::metadata(&path)?;
                let validators = Validators::new(&name, metadata.modified()?);
                Ok(Some(MediaFile::Disk { path, len: metadata.len(), validators: Box::new(validators) }))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    })
    .await;
    loaded.unwrap_or_else(|join| Err(std::io::Error::other(join)))
}

#[cfg(test)]
mod tests {
    use super::*;

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
