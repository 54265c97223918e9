//! Media files: the on-disk layout and serving with HTTP Range.
//!
//! Files live under the media root at content-addressed names
//! (`ab/abcdef….mp4`, the blake3 hash of the bytes), so a name never changes
//! meaning: responses are immutable and the ETag is the hash itself. Hot
//! files are answered from memory (a byte-weighted cache) and ranges are
//! slices of the cached bytes; files larger than the per-file cap stream from
//! disk through the same conditional and range logic.

pub mod probe;
mod serve;
pub mod upload;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

pub use serve::respond;

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

/// A file held in memory, with its validator headers formatted once.
#[derive(Debug)]
pub struct CachedFile {
    bytes: Bytes,
    validators: serve::Validators,
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
        let validators = serve::Validators::new(name, metadata.modified()?);
        let file = Arc::new(CachedFile { bytes: Bytes::from(std::fs::read(&path)?), validators });
        self.cache.insert(key, file.clone());
        Ok(Some(file))
    }
}
