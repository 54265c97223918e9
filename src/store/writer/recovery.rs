//! The writer's way out of a storage failure: probe the file system, reopen
//! the database, reconcile the batch whose commit reported the error, and
//! confirm with an empty commit (see "When storage fails" in `mod.rs`).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{CommittedEvent, Worker, WriterStats};
use crate::domain::clock::unix_millis_now;
use crate::store::StoreError;

/// How long the writer waits after a storage failure before it first tries
/// to reopen the database; each failed attempt doubles the wait.
const FIRST_REOPEN_DELAY: Duration = Duration::from_millis(250);
/// The longest wait between two attempts: the server follows freed space
/// within seconds, and a disk that stays full costs one probe per 8 s.
const MAX_REOPEN_DELAY: Duration = Duration::from_secs(8);

/// The writer's state while storage fails (see the module docs).
pub(super) struct StorageFailure {
    pub(super) since: Instant,
    /// When to try reopening next, and the wait after that if it fails.
    pub(super) next_attempt: Instant,
    pub(super) delay: Duration,
    /// `WriterStats::refused_storage` before this failure began.
    pub(super) refused_before: u64,
    /// The batch whose commit reported the error: the sequence number it
    /// stored and its events, in case it reached the disk after all.
    pub(super) unconfirmed: Option<(u64, Vec<CommittedEvent>)>,
}

impl StorageFailure {
    /// The state after a batch failed with a storage error: its `count`
    /// commands are the first refused ones, and its `events` are kept in case
    /// it reached the disk after all.
    pub(super) fn begin(stats: &WriterStats, sequence: u64, count: u64, events: Vec<CommittedEvent>) -> Self {
        stats.storage_failing.store(true, Ordering::Release);
        let refused_before = stats.refused_storage.fetch_add(count, Ordering::Relaxed);
        StorageFailure {
            since: Instant::now(),
            next_attempt: Instant::now() + FIRST_REOPEN_DELAY,
            delay: FIRST_REOPEN_DELAY,
            refused_before,
            unconfirmed: Some((sequence, events)),
        }
    }

    fn refused(&self, stats: &WriterStats) -> u64 {
        stats.refused_storage.load(Ordering::Relaxed) - self.refused_before
    }
}

impl Worker {
    /// One attempt to leave the failing state: probe the file system, reopen
    /// the database, apply the unconfirmed batch if it reached the disk, and
    /// commit an empty batch. On failure, the next attempt waits longer.
    pub(super) fn recover(&mut self) {
        let Some(mut failure) = self.failure.take() else { return };
        match self.reopen_and_confirm(&mut failure) {
            Ok(()) => {
                self.stats.storage_failing.store(false, Ordering::Release);
                tracing::info!(
                    failing_for_ms = failure.since.elapsed().as_millis() as u64,
                    refused = failure.refused(&self.stats),
                    "storage recovered: the database was reopened and commits again"
                );
            }
            Err(error) => {
                failure.delay = (failure.delay * 2).min(MAX_REOPEN_DELAY);
                failure.next_attempt = Instant::now() + failure.delay;
                tracing::warn!(
                    error = %error,
                    failing_for_s = failure.since.elapsed().as_secs(),
                    refused = failure.refused(&self.stats),
                    retry_in_ms = failure.delay.as_millis() as u64,
                    "storage still failing; writes are refused"
                );
                self.failure = Some(failure);
            }
        }
    }

    fn reopen_and_confirm(&mut self, failure: &mut StorageFailure) -> Result<(), StoreError> {
        self.store.probe_writable().map_err(|error| StoreError::Database(redb::Error::Io(error)))?;
        self.store.reopen()?;
        if let Some((sequence, events)) = failure.unconfirmed.take() {
            let stored = match self.store.committed_batches() {
                Ok(stored) => stored,
                Err(error) => {
                    failure.unconfirmed = Some((sequence, events));
                    return Err(error);
                }
            };
            if stored == sequence {
                tracing::warn!("the batch whose commit reported an error had reached the disk; applying it");
                self.committed_batches = sequence;
                (self.listener)(&events);
            }
        }
        let sequence = self.committed_batches + 1;
        let confirmed = self.apply_and_commit(
            &mut std::iter::empty(),
            &mut Vec::new(),
            (self.settings.clock)(),
            sequence,
            &mut Vec::new(),
        );
        if let Err(error) = confirmed {
            // This commit, too, may have reached the disk: the next attempt
            // checks, so that a later batch never reuses its number.
            failure.unconfirmed = Some((sequence, Vec::new()));
            return Err(error);
        }
        self.committed_batches = sequence;
        self.stats.last_batch_failed.store(false, Ordering::Relaxed);
        self.stats.last_commit_unix_ms.store(unix_millis_now(), Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::fs::OpenOptions;
    use std::io;
    use std::ops::Bound;
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use parking_lot::Mutex;
    use redb::backends::FileBackend;
    use redb::{BackendError, Database, StorageBackend};

    use super::super::{CommittedEvent, WriteError, WriterHandle, WriterSettings, WriterThread, start};
    use crate::domain::clock::Timestamp;
    use crate::store::{Opener, Prober, Store};

    /// A real file whose writes can be made to fail, like a disk that filled
    /// up: shared switches decide whether writes fail and whether the next
    /// fsyncs fail after the data was written.
    #[derive(Debug)]
    struct FlakyFile {
        inner: FileBackend,
        faults: Arc<Faults>,
    }

    #[derive(Debug, Default)]
    struct Faults {
        /// Every write, resize and fsync fails with "no space left".
        full: AtomicBool,
        /// When set to `n + 1`: `n` more fsyncs succeed, then one fails after
        /// the data was handed to the kernel (0 = off).
        failing_sync: AtomicU32,
        /// Databases opened on the file.
        opened: AtomicU64,
    }

    fn no_space() -> io::Error {
        io::Error::new(io::ErrorKind::StorageFull, "No space left on device (simulated)")
    }

    impl StorageBackend for FlakyFile {
        fn len(&self) -> Result<u64, io::Error> {
            self.inner.len()
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
            self.inner.read(offset, out)
        }
        fn set_len(&self, len: u64) -> Result<(), io::Error> {
            if self.faults.full.load(Ordering::SeqCst) {
                return Err(no_space());
            }
            self.inner.set_len(len)
        }
        fn sync_data(&self) -> Result<(), io::Error> {
            if self.faults.full.load(Ordering::SeqCst) {
                return Err(no_space());
            }
            let countdown =
                self.faults.failing_sync.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
            self.inner.sync_data()?;
            if countdown == Ok(1) {
                return Err(io::Error::other("fsync failed after the write (simulated)"));
            }
            Ok(())
        }
        fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
            if self.faults.full.load(Ordering::SeqCst) {
                return Err(no_space());
            }
            self.inner.write(offset, data)
        }
        fn close(&self) -> Result<(), io::Error> {
            self.inner.close()
        }
        fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
            self.inner.try_lock_range(start, end)
        }
        fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
            self.inner.try_lock_shared_range(start, end)
        }
        fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
            self.inner.lock_range(start, end)
        }
        fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
            self.inner.lock_shared_range(start, end)
        }
        fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
            self.inner.unlock_range(start, end)
        }
        fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
            self.inner.query_lock_range(start, end)
        }
    }

    fn flaky_store(path: &Path, faults: Arc<Faults>) -> Store {
        let file = path.to_owned();
        let for_open = faults.clone();
        let open: Opener = Box::new(move || {
            let handle = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&file)?;
            for_open.opened.fetch_add(1, Ordering::SeqCst);
            let backend = FlakyFile { inner: FileBackend::new(handle)?, faults: for_open.clone() };
            Database::builder().set_cache_size(1 << 20).create_with_backend(backend)
        });
        // The disk is "writable" again exactly when the fault is switched off.
        let for_probe = faults;
        let probe: Prober =
            Box::new(move || if for_probe.full.load(Ordering::SeqCst) { Err(no_space()) } else { Ok(()) });
        Store::open_with(open, probe, |db| Ok(Some(db))).unwrap()
    }

    type Seen = Arc<Mutex<Vec<CommittedEvent>>>;

    fn writer(store: &Store) -> (WriterHandle, WriterThread, Seen) {
        let settings =
            WriterSettings { batch_max: 16, queue_capacity: 64, daily_budget: 200, clock: Arc::new(Timestamp::now) };
        let seen: Seen = Arc::default();
        let sink = seen.clone();
        let (handle, thread) = start(store, settings, Box::new(move |events| sink.lock().extend_from_slice(events)))
            .expect("writer starts");
        (handle, thread, seen)
    }

    fn flag(store: &Store, key: &str) -> Option<bool> {
        store.active_snapshot().unwrap().flags.get(key).copied()
    }

    fn flag_events(seen: &Seen, key: &str) -> Vec<bool> {
        seen.lock()
            .iter()
            .filter_map(|event| match event {
                CommittedEvent::FlagChanged { key: changed, enabled } if changed == key => Some(*enabled),
                _ => None,
            })
            .collect()
    }

    async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_full_disk_refuses_writes_and_the_writer_recovers_by_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let faults = Arc::new(Faults::default());
        let store = flaky_store(&dir.path().join("db.redb"), faults.clone());
        let (handle, thread, seen) = writer(&store);
        handle.set_flag("special_votes".into(), false, None).await.unwrap();
        assert_eq!(flag(&store, "special_votes"), Some(false));

        faults.full.store(true, Ordering::SeqCst);
        let refused = handle.set_flag("special_votes".into(), true, None).await;
        assert!(matches!(refused, Err(WriteError::Unavailable)), "{refused:?}");
        let stats = handle.stats();
        assert!(stats.storage_failing.load(Ordering::SeqCst), "the writer knows storage is failing");
        assert!(stats.last_batch_failed.load(Ordering::SeqCst), "health reports the failure");
        // Refused at once while failing, without waiting for a batch.
        let started = Instant::now();
        for _ in 0..100 {
            assert!(handle.set_flag("multi_vote_mode".into(), true, None).await.is_err());
        }
        assert!(started.elapsed() < Duration::from_secs(1), "refusals are immediate");
        assert!(stats.refused_storage.load(Ordering::SeqCst) >= 101);
        // Reads keep working on the old handle while the disk stays full.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(flag(&store, "special_votes"), Some(false));
        assert_eq!(faults.opened.load(Ordering::SeqCst), 1, "no reopen while the disk is still full");

        faults.full.store(false, Ordering::SeqCst);
        wait_until("storage recovers", || !stats.storage_failing.load(Ordering::SeqCst)).await;
        assert_eq!(faults.opened.load(Ordering::SeqCst), 2, "recovered by reopening the file");
        assert!(!stats.last_batch_failed.load(Ordering::SeqCst), "the confirming commit cleared health");
        handle.set_flag("special_votes".into(), true, None).await.expect("writes work again without a restart");
        assert_eq!(flag(&store, "special_votes"), Some(true), "readers use the reopened handle");
        assert_eq!(flag(&store, "multi_vote_mode"), None, "nothing refused was stored");
        assert_eq!(flag_events(&seen, "special_votes"), [false, true], "the refused write never reached memory");
        thread.stop();
    }

    /// A commit with quick repair syncs the file three times (redb 4.6: the
    /// repair mark, then each phase of the two-phase commit). An fsync error
    /// on the first leaves the batch out of the file; on the last, after the
    /// new header was written, the batch is in the file although the caller
    /// was told it failed. Either way memory must end up like the file.
    #[tokio::test]
    async fn a_batch_whose_fsync_failed_but_reached_the_disk_is_applied_after_the_reopen() {
        let mut outcomes = Vec::new();
        for failing_sync in 1..=3 {
            let dir = tempfile::tempdir().unwrap();
            let faults = Arc::new(Faults::default());
            let store = flaky_store(&dir.path().join("db.redb"), faults.clone());
            let (handle, thread, seen) = writer(&store);
            handle.set_flag("special_votes".into(), false, None).await.unwrap();

            faults.failing_sync.store(failing_sync, Ordering::SeqCst);
            let outcome = handle.set_flag("special_votes".into(), true, None).await;
            assert!(outcome.is_err(), "an fsync error is never acknowledged");
            let stats = handle.stats();
            wait_until("storage recovers", || !stats.storage_failing.load(Ordering::SeqCst)).await;
            let on_disk = flag(&store, "special_votes");
            let in_memory = flag_events(&seen, "special_votes").last().copied();
            assert_eq!(in_memory, on_disk, "fsync #{failing_sync} failed: memory follows the file");
            outcomes.push(on_disk);
            handle.set_flag("multi_vote_mode".into(), true, None).await.expect("writes work again");
            thread.stop();
        }
        assert!(outcomes.contains(&Some(false)), "some failed commit stayed out of the file: {outcomes:?}");
        assert!(outcomes.contains(&Some(true)), "some failed commit reached the file: {outcomes:?}");
    }

    #[tokio::test]
    async fn the_queue_depth_never_wraps_below_zero() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb"), 4 << 20).unwrap();
        let (handle, thread, _) = writer(&store);
        let watcher_handle = handle.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let watching = stop.clone();
        let watcher = std::thread::spawn(move || {
            let mut highest = 0;
            while !watching.load(Ordering::Relaxed) {
                highest = highest.max(watcher_handle.stats().queued.load(Ordering::Relaxed));
            }
            highest
        });
        let writers: Vec<_> = (0..8)
            .map(|n| {
                let handle = handle.clone();
                tokio::spawn(async move {
                    for i in 0..50 {
                        let _ = handle.vote_genre(format!("voter-{n}-{i}"), "drama".into()).await;
                    }
                })
            })
            .collect();
        for task in writers {
            task.await.unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        let highest = watcher.join().unwrap();
        assert!(highest <= 8, "queue depth {highest} with at most 8 callers in flight");
        assert_eq!(handle.stats().queued.load(Ordering::Relaxed), 0);
        thread.stop();
    }
}
