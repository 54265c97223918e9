//! Media files: the on-disk layout, the in-memory cache of hot files, and
//! what serving them needs (`http::media` answers Range and conditional
//! requests).
//!
//! Files live under the media root at content-addressed names
//! (`ab/abcdef….mp4`, the blake3 hash of the bytes), so a name never changes
//! meaning: responses are immutable and the ETag is the hash itself. Hot
//! files are kept in memory (a byte-weighted cache), so a range is a slice of
//! the cached bytes; files larger than the per-file cap are read from disk.
//!
//! With `[media] store = "s3"` the files live in a bucket instead, at the
//! same names (see [`MediaLibrary::with_bucket`]): uploads are still
//! received and checked under the local root's `.incoming/`, then written
//! to the bucket; a large file is streamed from the bucket range by range,
//! a small hot one is kept in the same memory cache. Object sizes and dates
//! are remembered (names never change meaning), so a cached name costs no
//! request to the bucket, and an uncached large one costs one ranged GET.

pub mod access;
pub mod faststart;
pub mod migrate;
pub mod poster;
pub mod probe;
pub mod upload;
pub mod urls;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{Notify, mpsc};

use access::MediaAccess;

use crate::objstore::{ObjectPath, ObjectStore, ObjectStoreExt};

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
    /// `<2 hex>/<hash>.<ext>`, formatted once.
    path: String,
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
        Some(MediaName { hash: hash.to_owned(), kind: MediaKind::from_extension(ext)?, path: path.to_owned() })
    }

    /// The name of `hash` (64 lowercase hex digits) as a `kind` file.
    pub fn of_hash(hash: &blake3::Hash, kind: MediaKind) -> MediaName {
        let hex = hash.to_hex();
        let path = format!("{}/{}.{}", &hex[..2], hex, kind.extension());
        MediaName { hash: hex.to_string(), kind, path }
    }

    /// The path relative to the media root, borrowed.
    pub fn as_str(&self) -> &str {
        &self.path
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
        self.path.clone()
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
    /// The descriptor the bytes were read through, kept open while the
    /// entry is cached (when the budget allows) so a whole-file answer goes
    /// out with `sendfile(2)` without an `open` and a `close` per answer.
    descriptor: Option<KeptDescriptor>,
}

impl CachedFile {
    /// The file on disk these bytes came from, still open, if it was kept.
    pub fn descriptor(&self) -> Option<&Arc<std::fs::File>> {
        self.descriptor.as_ref().map(|kept| &kept.file)
    }
}

/// How many descriptors cached files may keep open at once: a share of the
/// process's open-file limit, so the cache can never take the descriptors
/// connections need. A file past the budget is still cached; its answers
/// open the file each time, as before.
#[derive(Debug)]
struct DescriptorBudget {
    max: usize,
    kept: AtomicUsize,
}

/// The share of the open-file limit the media cache may hold.
const DESCRIPTOR_SHARE: u64 = 8;
/// The most descriptors it holds, whatever the limit.
const MAX_KEPT_DESCRIPTORS: u64 = 16_384;

impl DescriptorBudget {
    fn from_open_file_limit() -> Arc<Self> {
        let soft = rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft).unwrap_or(0);
        let max = (soft / DESCRIPTOR_SHARE).min(MAX_KEPT_DESCRIPTORS);
        Arc::new(DescriptorBudget { max: usize::try_from(max).unwrap_or(0), kept: AtomicUsize::new(0) })
    }

    /// Keeps `file` open under this budget, or lets it close when the budget
    /// is spent.
    fn keep(self: &Arc<Self>, file: std::fs::File) -> Option<KeptDescriptor> {
        let taken =
            self.kept.fetch_update(Ordering::AcqRel, Ordering::Acquire, |kept| (kept < self.max).then_some(kept + 1));
        taken.ok().map(|_| KeptDescriptor { file: Arc::new(file), budget: Arc::clone(self) })
    }
}

/// A descriptor counted against its [`DescriptorBudget`] until dropped
/// (an answer still sending from it holds the file open a little longer).
#[derive(Debug)]
struct KeptDescriptor {
    file: Arc<std::fs::File>,
    budget: Arc<DescriptorBudget>,
}

impl Drop for KeptDescriptor {
    fn drop(&mut self) {
        self.budget.kept.fetch_sub(1, Ordering::AcqRel);
    }
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
    /// Too large to cache: streamed from the bucket.
    Bucket {
        /// The bucket.
        store: Arc<dyn ObjectStore>,
        /// The object (the media name).
        path: ObjectPath,
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
            MediaFile::Disk { len, .. } | MediaFile::Bucket { len, .. } => *len,
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
            MediaFile::Disk { validators, .. } | MediaFile::Bucket { validators, .. } => validators,
        }
    }

    /// The bytes of a file held in memory.
    pub fn bytes(&self) -> Option<&Bytes> {
        match self {
            MediaFile::Memory(file) => Some(&file.bytes),
            MediaFile::Disk { .. } | MediaFile::Bucket { .. } => None,
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

/// The media root, its in-memory cache of hot files, and who may fetch what.
pub struct MediaLibrary {
    root: PathBuf,
    cache: quick_cache::sync::Cache<String, Arc<CachedFile>, ByteWeighter>,
    max_cached_file_bytes: u64,
    /// Which clips and uploads use which names.
    access: MediaAccess,
    /// Names to remove, for [`MediaLibrary::run_removals`].
    removals: mpsc::UnboundedSender<String>,
    removals_inbox: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
    /// Woken after each removal, for claims waiting on one.
    removed: Notify,
    /// The bucket holding the files, when they are not under `root`.
    bucket: Option<Bucket>,
    /// Descriptors the cached files may keep open.
    descriptors: Arc<DescriptorBudget>,
}

/// Files in an S3-compatible bucket.
struct Bucket {
    store: Arc<dyn ObjectStore>,
    /// Length and date of objects seen, by name: a name never changes
    /// meaning, so only a removal makes an entry stale.
    meta: quick_cache::sync::Cache<String, (u64, SystemTime)>,
}

/// Objects whose length and date are remembered.
const BUCKET_META_ENTRIES: usize = 100_000;

impl MediaLibrary {
    /// Opens (creating if needed) the media root, with no clip using any file.
    pub fn open(root: PathBuf, cache_bytes: u64, max_cached_file_bytes: u64) -> std::io::Result<MediaLibrary> {
        Self::open_with(root, cache_bytes, max_cached_file_bytes, MediaAccess::default())
    }

    /// Opens the media root with the clips' uses loaded at start.
    pub fn open_with(
        root: PathBuf,
        cache_bytes: u64,
        max_cached_file_bytes: u64,
        access: MediaAccess,
    ) -> std::io::Result<MediaLibrary> {
        std::fs::create_dir_all(&root)?;
        // The cache holds at least one item so a zero budget still works (uncached).
        let cache = quick_cache::sync::Cache::with_weighter(64, cache_bytes.max(1), ByteWeighter);
        let (removals, inbox) = mpsc::unbounded_channel();
        Ok(MediaLibrary {
            root,
            cache,
            max_cached_file_bytes,
            access,
            removals,
            removals_inbox: Mutex::new(Some(inbox)),
            removed: Notify::new(),
            bucket: None,
            descriptors: DescriptorBudget::from_open_file_limit(),
        })
    }

    /// Keeps the files in `store` (at their media names) instead of under
    /// the root, which then only holds uploads being checked (`.incoming/`).
    pub fn with_bucket(mut self, store: Arc<dyn ObjectStore>) -> Self {
        let meta = quick_cache::sync::Cache::new(BUCKET_META_ENTRIES);
        self.bucket = Some(Bucket { store, meta });
        self
    }

    /// The bucket, when the files are kept in one.
    pub fn bucket(&self) -> Option<&Arc<dyn ObjectStore>> {
        self.bucket.as_ref().map(|bucket| &bucket.store)
    }

    /// The media root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Who may fetch which file.
    pub fn access(&self) -> &MediaAccess {
        &self.access
    }

    /// Absolute path of a media name.
    pub fn path_of(&self, name: &MediaName) -> PathBuf {
        self.root.join(name.as_str())
    }

    /// Applies committed clips to the access map and queues the removal of
    /// files no clip uses any more. Called by the writer's commit listener:
    /// it only touches memory and a channel.
    pub fn apply_committed(&self, clips: &[crate::domain::model::Clip]) {
        for name in self.access.apply(clips) {
            self.queue_removal(name);
        }
    }

    fn queue_removal(&self, name: String) {
        // Hidden at once (the access map no longer lists it); the bytes go
        // when the removal task gets to them.
        if self.removals.send(name).is_err() {
            tracing::warn!("media removal task is gone; an unused file stays until the next start");
        }
    }

    /// Removes queued unused files, one at a time, until the library is
    /// dropped. Run once, as a background task.
    pub async fn run_removals(self: Arc<Self>) {
        let Some(mut inbox) = self.removals_inbox.lock().take() else { return };
        while let Some(name) = inbox.recv().await {
            self.remove_if_unused(&name).await;
        }
    }

    /// Removes the file `name` (a relative media path) unless a clip or an
    /// upload uses it.
    async fn remove_if_unused(&self, name: &str) {
        if !self.access.begin_removal(name) {
            return;
        }
        self.cache.remove(name);
        let removed = match &self.bucket {
            Some(bucket) => {
                bucket.meta.remove(name);
                match bucket.store.delete(&ObjectPath::from(name)).await {
                    Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
                    Err(error) => Err(std::io::Error::from(error)),
                }
            }
            None => {
                let path = self.root.join(name);
                tokio::task::spawn_blocking(move || match std::fs::remove_file(&path) {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
                    _ => Ok(()),
                })
                .await
                .unwrap_or_else(|join| Err(std::io::Error::other(join)))
            }
        };
        match removed {
            Ok(()) => tracing::info!(media.path = name, "removed a media file no clip uses"),
            Err(error) => tracing::warn!(media.path = name, error = %error, "cannot remove an unused media file"),
        }
        self.access.end_removal(name);
        self.removed.notify_waiters();
    }

    /// Claims `name` for an upload in progress (waiting while a removal of
    /// the same name finishes), so nothing removes it until the claim goes.
    pub async fn claim(self: &Arc<Self>, name: &MediaName) -> Claim {
        loop {
            let removed = self.removed.notified();
            tokio::pin!(removed);
            removed.as_mut().enable();
            if self.access.try_claim(name.as_str()) {
                return Claim { library: self.clone(), name: Some(name.as_str().to_owned()) };
            }
            removed.await;
        }
    }

    /// Reserves one of `creator`'s at most `cap` pending uploads for the
    /// upload about to be received; `None` when their pending clips and
    /// uploads in progress already reach `cap`. Counted in memory, so the
    /// refusal costs nothing and comes before the body is read.
    pub fn reserve_pending(
        self: &Arc<Self>,
        creator: crate::domain::ids::UserId,
        cap: usize,
    ) -> Option<PendingReservation> {
        self.access.reserve_pending(creator, cap).then(|| PendingReservation { library: self.clone(), creator })
    }

    /// Moves a fsynced file to `name` (fsyncing the directory); `Ok(true)`
    /// when the same bytes were already stored (the file is dropped). Hold
    /// a [`Claim`] on `name` while placing.
    pub async fn place_file(&self, name: &MediaName, file: tempfile::TempPath) -> std::io::Result<bool> {
        if let Some(bucket) = &self.bucket {
            return bucket.put_file(name, file).await;
        }
        let target = self.path_of(name);
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || place_file_on_disk(&root, &target, file))
            .await
            .unwrap_or_else(|join| Err(std::io::Error::other(join)))
    }

    /// Stores bytes under their content address; `Ok(true)` when they were
    /// already there. Hold a [`Claim`] on the name while placing.
    pub async fn place_bytes(&self, name: &MediaName, bytes: Bytes) -> std::io::Result<bool> {
        if let Some(bucket) = &self.bucket {
            return bucket.put_bytes(name, bytes).await;
        }
        let target = self.path_of(name);
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || write_file_on_disk(&root, &target, &bytes))
            .await
            .unwrap_or_else(|join| Err(std::io::Error::other(join)))
    }

    /// Stores bytes under their content address, on disk or in the bucket;
    /// storing the same bytes twice is a no-op. (The demo's files: no upload
    /// claims them, and clips using them are committed after.)
    pub async fn store(&self, bytes: Bytes, kind: MediaKind) -> std::io::Result<MediaName> {
        let name = MediaName::of_hash(&blake3::hash(&bytes), kind);
        self.place_bytes(&name, bytes).await?;
        Ok(name)
    }

    /// Stores bytes under their content address on disk; storing the same bytes twice
    /// is a no-op. The file is written beside its final name and renamed, so
    /// a crash never leaves a half-written file under a served name. Blocking.
    pub fn store_bytes(&self, bytes: &[u8], kind: MediaKind) -> std::io::Result<MediaName> {
        let name = MediaName::of_hash(&blake3::hash(bytes), kind);
        write_file_on_disk(&self.root, &self.path_of(&name), bytes)?;
        Ok(name)
    }

    /// The file's bytes from memory, loading it on a miss, or `None` when it
    /// is too large to cache (the caller streams it) or does not exist.
    fn cached(&self, name: &MediaName) -> std::io::Result<Option<Arc<CachedFile>>> {
        if let Some(file) = self.cache.get(name.as_str()) {
            return Ok(Some(file));
        }
        let mut opened = std::fs::File::open(self.path_of(name))?;
        let metadata = opened.metadata()?;
        if metadata.len() > self.max_cached_file_bytes {
            return Ok(None);
        }
        let validators = Validators::new(name, metadata.modified()?);
        let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
        std::io::Read::read_to_end(&mut opened, &mut bytes)?;
        let descriptor = self.descriptors.keep(opened);
        let file = Arc::new(CachedFile { bytes: Bytes::from(bytes), validators, descriptor });
        self.cache.insert(name.relative_path(), file.clone());
        Ok(Some(file))
    }
}

impl Bucket {
    /// Whether `path` is already stored (and remembers its length and date).
    async fn exists(&self, name: &MediaName, path: &ObjectPath) -> std::io::Result<bool> {
        match self.store.head(path).await {
            Ok(meta) => {
                self.meta.insert(name.relative_path(), (meta.size, SystemTime::from(meta.last_modified)));
                Ok(true)
            }
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Streams a checked upload into the bucket (one PUT when small, a
    /// multipart upload otherwise, never the whole file in memory);
    /// `Ok(true)` when the object was already there. The temp file goes on
    /// drop either way. The PUT's success is the bucket's durability promise.
    async fn put_file(&self, name: &MediaName, file: tempfile::TempPath) -> std::io::Result<bool> {
        let path = ObjectPath::from(name.as_str());
        if self.exists(name, &path).await? {
            return Ok(true);
        }
        crate::objstore::put_local_file(&self.store, path, &file).await?;
        Ok(false)
    }

    /// Writes bytes (a poster) to the bucket; `Ok(true)` when already there.
    async fn put_bytes(&self, name: &MediaName, bytes: Bytes) -> std::io::Result<bool> {
        let path = ObjectPath::from(name.as_str());
        if self.exists(name, &path).await? {
            return Ok(true);
        }
        self.store.put(&path, bytes.into()).await?;
        Ok(false)
    }

    /// The length and date of `name`, remembered or asked for; `None` when
    /// there is no such object.
    async fn meta(&self, name: &MediaName) -> std::io::Result<Option<(u64, SystemTime)>> {
        if let Some(meta) = self.meta.get(name.as_str()) {
            return Ok(Some(meta));
        }
        let path = ObjectPath::from(name.as_str());
        Ok(self.exists(name, &path).await?.then(|| self.meta.get(name.as_str())).flatten())
    }
}

/// One of a creator's pending uploads, reserved while an upload is in
/// progress (see [`MediaLibrary::reserve_pending`]); released on drop.
pub struct PendingReservation {
    library: Arc<MediaLibrary>,
    creator: crate::domain::ids::UserId,
}

impl Drop for PendingReservation {
    fn drop(&mut self) {
        self.library.access.unreserve_pending(self.creator);
    }
}

/// An upload's hold on a name it is placing: while held, the file is not
/// removed even if no clip uses it. [`Claim::release`] removes the file at
/// once when nothing else uses it (a refused upload); dropping the claim
/// queues that removal instead.
pub struct Claim {
    library: Arc<MediaLibrary>,
    name: Option<String>,
}

impl Claim {
    /// Lets go of the name; when nothing uses it any more, its file is
    /// removed before this returns.
    pub async fn release(mut self) {
        if let Some(name) = self.name.take()
            && self.library.access.release(&name)
        {
            self.library.remove_if_unused(&name).await;
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(name) = self.name.take()
            && self.library.access.release(&name)
        {
            self.library.queue_removal(name);
        }
    }
}

/// Renames a fsynced temp file to `target` without replacing an existing
/// file; `Ok(true)` when `target` already existed.
fn place_file_on_disk(root: &Path, target: &Path, file: tempfile::TempPath) -> std::io::Result<bool> {
    if target.exists() {
        return Ok(true);
    }
    let shard = ensure_shard(root, target)?;
    // A concurrent upload of the same bytes may win the rename; never replace.
    match file.persist_noclobber(target) {
        Ok(()) => {}
        Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => return Ok(true),
        Err(error) => return Err(error.error),
    }
    sync_dir(&shard)?;
    Ok(false)
}

/// Writes `bytes` to `target` through a fsynced temp file and a rename;
/// `Ok(true)` when `target` already existed.
fn write_file_on_disk(root: &Path, target: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    if target.exists() {
        return Ok(true);
    }
    let shard = ensure_shard(root, target)?;
    let mut temp = tempfile::NamedTempFile::new_in(&shard)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    match temp.persist_noclobber(target) {
        Ok(_) => {}
        Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => return Ok(true),
        Err(error) => return Err(error.error),
    }
    sync_dir(&shard)?;
    Ok(false)
}

/// Creates the shard directory of `target` (fsyncing the root when new).
fn ensure_shard(root: &Path, target: &Path) -> std::io::Result<PathBuf> {
    let shard = target.parent().unwrap_or(root).to_owned();
    if !shard.exists() {
        std::fs::create_dir_all(&shard)?;
        sync_dir(root)?;
    }
    Ok(shard)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// The file named `name`, from memory or (on a miss, on the blocking pool)
/// from disk; `None` when there is no such file.
pub async fn load(library: Arc<MediaLibrary>, name: &MediaName) -> std::io::Result<Option<MediaFile>> {
    // A hit costs one hash-map lookup on this thread; only a miss touches the disk.
    if let Some(file) = library.cache.get(name.as_str()) {
        return Ok(Some(MediaFile::Memory(file)));
    }
    if library.bucket.is_some() {
        return load_from_bucket(&library, name).await;
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

/// [`load`] for files kept in a bucket: a small file is fetched whole
/// (once, by the first of concurrent requests) into the memory cache, a
/// large one is described for [`MediaFile::Bucket`] streaming.
async fn load_from_bucket(library: &MediaLibrary, name: &MediaName) -> std::io::Result<Option<MediaFile>> {
    let Some(bucket) = &library.bucket else { return Ok(None) };
    let Some((len, modified)) = bucket.meta(name).await? else { return Ok(None) };
    let validators = Validators::new(name, modified);
    let path = ObjectPath::from(name.as_str());
    if len > library.max_cached_file_bytes {
        return Ok(Some(MediaFile::Bucket {
            store: bucket.store.clone(),
            path,
            len,
            validators: Box::new(validators),
        }));
    }
    let file = library
        .cache
        .get_or_insert_async(name.as_str(), async {
            let bytes = bucket.store.get(&path).await?.bytes().await?;
            Ok::<_, std::io::Error>(Arc::new(CachedFile { bytes, validators, descriptor: None }))
        })
        .await;
    match file {
        Ok(file) => Ok(Some(MediaFile::Memory(file))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            bucket.meta.remove(name.as_str());
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_files_keep_descriptors_only_within_the_budget() {
        let dir = tempfile::tempdir().expect("tempdir");
        let budget = Arc::new(DescriptorBudget { max: 1, kept: AtomicUsize::new(0) });
        let open = || std::fs::File::create(dir.path().join("f")).expect("file");
        let first = budget.keep(open()).expect("within the budget");
        assert!(budget.keep(open()).is_none(), "past the budget the file closes");
        drop(first);
        assert_eq!(budget.kept.load(Ordering::Acquire), 0);
        assert!(budget.keep(open()).is_some(), "a dropped entry gives its place back");
    }

    #[test]
    fn a_cached_file_answers_from_the_descriptor_it_was_read_through() {
        let dir = tempfile::tempdir().expect("tempdir");
        let library = MediaLibrary::open(dir.path().join("media"), 1 << 20, 1 << 20).expect("library");
        let name = library.store_bytes(b"clip bytes", MediaKind::Mp4).expect("store");
        let cached = library.cached(&name).expect("read").expect("small enough to cache");
        let kept = cached.descriptor().expect("the default open-file limit leaves room");
        // The name is removed from the directory; the kept descriptor still
        // reads the bytes the cache holds, at an offset as `sendfile` does
        // (its position is at the end: the cache read through it).
        std::fs::remove_file(library.path_of(&name)).expect("remove");
        let mut read = [0u8; 10];
        std::os::unix::fs::FileExt::read_exact_at(&**kept, &mut read, 0).expect("read");
        assert_eq!(&read, b"clip bytes");
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
