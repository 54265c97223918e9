//! The single writer: one thread owns every write transaction.
//!
//! Handlers submit jobs over a bounded channel and await a oneshot reply.
//! The thread takes whatever is queued (up to `batch_max`), runs the jobs in
//! arrival order inside ONE write transaction — the authoritative rule checks
//! run here, so concurrent requests cannot race — commits with
//! `Durability::Immediate`, and only then tells the read model what changed
//! and answers each caller. Per-(slot, clip) counters and per-voter ledgers
//! are aggregated in memory during the batch and written once at its end, so
//! a clip receiving 5,000 votes in one batch costs one counter write.
//!
//! A job is a closure over [`Batch`]; the typed methods of [`WriterHandle`]
//! are the only jobs there are, one file per concern: `votes.rs` (cast,
//! revoke, void flagged votes, feature flags), `accounts.rs` (sign-up,
//! operator accounts, passwords, sessions, bans, roles, deletion),
//! `tournament.rs` (seasons, uploads, approval and rejection, closing and
//! unlocking slots, slot vote resets, view flushes, genre votes),
//! `comments.rs` (comments, likes, reports), `social.rs` (follows, marking
//! notifications read, and the profile-stats hooks the other jobs call) and
//! `seed.rs` (the demo season). `batch.rs` holds the transaction's tables and
//! the aggregates written once per batch.
//!
//! # When storage fails
//!
//! After an I/O error (a full disk, a failed fsync) redb refuses every later
//! transaction until the database is closed and opened again. The first
//! batch that fails that way puts the writer in a failing state: it logs the
//! cause once, refuses every command at once without touching the file
//! (callers get [`WriteError::Storage`]), and in the background checks that
//! the file system takes writes again ([`Store::probe_writable`]), then
//! reopens the database ([`Store::reopen`]; readers move to the new handle)
//! and commits an empty batch to confirm, retrying with back-off from 250 ms
//! to 8 s. So the server recovers by itself within seconds of space being
//! freed.
//!
//! Nothing in memory needs rebuilding after a reopen, because the read model
//! and every other cache learn only committed batches, with one exception:
//! the batch whose commit reported the error may have reached the disk
//! anyway (an fsync can fail after the write). Each batch stores the
//! writer's count of committed batches (`meta_keys::COMMITTED_BATCHES`);
//! after reopening, the writer reads it back and, if that batch is there,
//! hands its events to the listener as if it had committed normally (its
//! callers were told it failed, which is allowed: it was never acknowledged).

mod accounts;
mod batch;
mod comments;
mod ledgers;
mod recovery;
mod reports;
mod seed;
mod social;
mod tally;
mod tournament;
mod votes;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Instant;

use parking_lot::Mutex;
use redb::Durability;
use tokio::sync::oneshot;

pub use accounts::{AccountError, AdminUpsert, NewSession};
pub use batch::{Batch, CommittedEvent, VoteTally};
pub use comments::{LikeOutcome, NewComment, NewReport};
pub use reports::ReportResolution;
pub use seed::{DemoSeed, SeedClip};
pub use social::{FollowOutcome, MAX_FOLLOWERS_NOTIFIED, MAX_MARK_READ_IDS, MarkRead, SocialError};
pub use tournament::{AdvanceOutcome, AdvanceTrigger, NewClip, NewSeason, TournamentError};
pub use votes::{CastRequest, VoteOutcome, VoteReceipt};

use super::{Store, StoreError};
use crate::domain::clock::{Clock, Timestamp, unix_millis_now};
use crate::domain::comment::CommentError;
use crate::domain::fraud::FraudTracker;
use crate::domain::histogram::AtomicHistogram;
use crate::domain::vote::VoteRefusal;
use recovery::StorageFailure;

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A vote rule refused it; nothing was written.
    #[error(transparent)]
    Refused(#[from] VoteRefusal),
    /// An account rule refused it; nothing was written.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// A tournament rule refused it; nothing was written.
    #[error(transparent)]
    Tournament(#[from] TournamentError),
    /// A comment or report rule refused it; nothing was written.
    #[error(transparent)]
    Comment(#[from] CommentError),
    /// A follow or notification rule refused it; nothing was written.
    #[error(transparent)]
    Social(#[from] SocialError),
    /// The queue is full, the writer stopped, or the batch failed to commit
    /// (nothing of it was stored); the client may retry.
    #[error("the writer is busy or stopped")]
    Unavailable,
}

/// Receives every committed batch's events, on the writer thread, after commit.
pub type CommitListener = Box<dyn Fn(&[CommittedEvent]) + Send>;

/// Runs inside the batch; on success returns the reply to send after commit.
type Job = Box<dyn for<'txn> FnOnce(&mut Batch<'txn>) -> Result<Deliver, StoreError> + Send>;
/// Sends a reply; called only after the batch committed.
type Deliver = Box<dyn FnOnce() + Send>;

enum Message {
    Job(Job),
    Shutdown,
}

/// Settings of the writer thread.
#[derive(Clone)]
pub struct WriterSettings {
    /// Most commands applied in one transaction.
    pub batch_max: usize,
    /// Commands that may wait; beyond this callers get `Unavailable`.
    pub queue_capacity: usize,
    /// Daily vote budget in weight units.
    pub daily_budget: u32,
    /// The clock; tests move it.
    pub clock: Clock,
}

/// Counters describing the writer's work, for metrics, health and benchmarks.
#[derive(Debug)]
pub struct WriterStats {
    /// Transactions committed.
    pub batches: AtomicU64,
    /// Commands applied.
    pub commands: AtomicU64,
    /// Sum of apply-and-commit durations in microseconds.
    pub commit_micros: AtomicU64,
    /// Largest batch so far.
    pub max_batch: AtomicU64,
    /// Commands waiting in the queue right now.
    pub queued: AtomicU64,
    /// Whether the writer thread is alive (false once it stopped or panicked).
    pub running: AtomicBool,
    /// Batches that failed to commit (nothing of them was stored).
    pub failed_batches: AtomicU64,
    /// Whether the most recent batch failed: storage is refusing writes.
    pub last_batch_failed: AtomicBool,
    /// Wall-clock time of the last successful commit, Unix milliseconds (0 = none yet).
    pub last_commit_unix_ms: AtomicU64,
    /// Whether storage is failing: commands are refused without being tried
    /// until the database has been reopened (see the module docs).
    pub storage_failing: AtomicBool,
    /// Commands refused because storage was failing.
    pub refused_storage: AtomicU64,
    /// Commands per committed batch.
    pub batch_sizes: AtomicHistogram,
    /// Apply-and-commit time per committed batch, in microseconds.
    pub commit_latency_micros: AtomicHistogram,
}

impl Default for WriterStats {
    fn default() -> Self {
        WriterStats {
            batches: AtomicU64::new(0),
            commands: AtomicU64::new(0),
            commit_micros: AtomicU64::new(0),
            max_batch: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            running: AtomicBool::new(false),
            failed_batches: AtomicU64::new(0),
            last_batch_failed: AtomicBool::new(false),
            last_commit_unix_ms: AtomicU64::new(0),
            storage_failing: AtomicBool::new(false),
            refused_storage: AtomicU64::new(0),
            batch_sizes: AtomicHistogram::new(&[1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000]),
            commit_latency_micros: AtomicHistogram::new(&[
                500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
            ]),
        }
    }
}

/// Marks the writer stopped when its thread ends, normally or by panic.
struct RunningGuard(Arc<WriterStats>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Release);
    }
}

/// Sends commands to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct WriterHandle {
    sender: SyncSender<Message>,
    stats: Arc<WriterStats>,
}

/// Owns the writer thread; `stop` drains the queue and joins it.
pub struct WriterThread {
    sender: SyncSender<Message>,
    join: Option<JoinHandle<()>>,
}

impl WriterThread {
    /// Asks the writer to finish what is queued, commit, and exit; waits for it.
    pub fn stop(mut self) {
        // A full queue still drains: the blocking send waits for room.
        let _ = self.sender.send(Message::Shutdown);
        if let Some(join) = self.join.take()
            && join.join().is_err()
        {
            tracing::error!("writer thread panicked during shutdown");
        }
    }
}

/// Starts the writer thread on an open store.
pub fn start(
    store: &Store,
    settings: WriterSettings,
    listener: CommitListener,
) -> std::io::Result<(WriterHandle, WriterThread)> {
    let (sender, receiver) = sync_channel(settings.queue_capacity);
    let stats = Arc::new(WriterStats::default());
    let fraud = Arc::new(Mutex::new(FraudTracker::new(100_000, 50_000)));
    let committed_batches = store.committed_batches().map_err(std::io::Error::other)?;
    let worker = Worker {
        store: store.clone(),
        settings,
        listener,
        stats: stats.clone(),
        fraud,
        committed_batches,
        failure: None,
    };
    stats.running.store(true, Ordering::Release);
    let spawned = std::thread::Builder::new().name("aimoviez-writer".into()).spawn(move || {
        let _running = RunningGuard(worker.stats.clone());
        worker.run(receiver);
    });
    let join = spawned.inspect_err(|_| stats.running.store(false, Ordering::Release))?;
    Ok((WriterHandle { sender: sender.clone(), stats }, WriterThread { sender, join: Some(join) }))
}

impl WriterHandle {
    /// Runs `job` in the next batch and answers with its result once the
    /// batch is durable. A job returning `Err(WriteError)` inside the `Ok`
    /// (a refusal) still commits the batch, with nothing of its own in it.
    async fn run<T: Send + 'static>(
        &self,
        job: impl for<'txn> FnOnce(&mut Batch<'txn>) -> Result<Result<T, WriteError>, StoreError> + Send + 'static,
    ) -> Result<T, WriteError> {
        let (reply, answer) = oneshot::channel();
        let boxed: Job = Box::new(move |batch| {
            let outcome = job(batch)?;
            Ok(Box::new(move || {
                let _ = reply.send(outcome);
            }))
        });
        if self.stats.storage_failing.load(Ordering::Acquire) {
            // Refused before queuing: the writer would refuse it anyway.
            self.stats.refused_storage.fetch_add(1, Ordering::Relaxed);
            return Err(WriteError::Unavailable);
        }
        // Counted before it is sent: the writer subtracts what it takes, and
        // may take the job before `try_send` even returns.
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.sender.try_send(Message::Job(boxed)) {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(WriteError::Unavailable);
        }
        // A dropped reply means the batch failed to commit or the writer stopped.
        answer.await.unwrap_or(Err(WriteError::Unavailable))
    }

    /// Runs an empty job through a batch: answers once the writer thread
    /// took it and the batch committed (the watchdog's sign of life).
    pub async fn ping(&self) -> Result<(), WriteError> {
        self.run(|_batch| Ok(Ok(()))).await
    }

    /// The writer's work so far.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }
}

struct Worker {
    store: Store,
    settings: WriterSettings,
    listener: CommitListener,
    stats: Arc<WriterStats>,
    /// Recent voting activity for fraud signals; only this thread uses it.
    fraud: Arc<Mutex<FraudTracker>>,
    /// Batches committed so far (stored as `meta_keys::COMMITTED_BATCHES`).
    committed_batches: u64,
    /// Set while storage is failing.
    failure: Option<StorageFailure>,
}

impl Worker {
    fn run(mut self, receiver: Receiver<Message>) {
        let mut stopping = false;
        while !stopping {
            let first = match self.failure.as_ref().map(|failure| failure.next_attempt) {
                None => match receiver.recv() {
                    Ok(message) => message,
                    Err(_) => break,
                },
                Some(attempt) => match receiver.recv_timeout(attempt.saturating_duration_since(Instant::now())) {
                    Ok(message) => message,
                    Err(RecvTimeoutError::Timeout) => {
                        self.recover();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            };
            let mut messages = vec![first];
            while messages.len() < self.settings.batch_max {
                match receiver.try_recv() {
                    Ok(message) => messages.push(message),
                    Err(_) => break,
                }
            }
            if messages.iter().any(|m| matches!(m, Message::Shutdown)) {
                stopping = true;
                // Jobs queued behind the shutdown marker are still run:
                // everything already accepted gets committed and answered.
                while let Ok(message) = receiver.try_recv() {
                    messages.push(message);
                }
            }
            let jobs: Vec<Job> = messages
                .into_iter()
                .filter_map(|m| match m {
                    Message::Job(job) => Some(job),
                    Message::Shutdown => None,
                })
                .collect();
            self.stats.queued.fetch_sub(jobs.len() as u64, Ordering::Relaxed);
            if self.failure.as_ref().is_some_and(|failure| Instant::now() >= failure.next_attempt) {
                self.recover();
            }
            if self.failure.is_some() {
                // Dropping a job drops its reply: the caller learns at once
                // that nothing was stored, and the file is not touched.
                self.stats.refused_storage.fetch_add(jobs.len() as u64, Ordering::Relaxed);
            } else if !jobs.is_empty() {
                self.run_batch(jobs);
            }
        }
        if self.failure.is_none()
            && let Err(error) = self.fold_held_heads()
        {
            tracing::warn!(error = %error, "could not fold the ledger heads at stop; the next start reads them from their runs");
        }
        if let Some(failure) = &self.failure {
            tracing::error!(
                failing_for_s = failure.since.elapsed().as_secs(),
                refused = self.stats.refused_storage.load(Ordering::Relaxed),
                "writer stopped while storage was failing"
            );
        }
        tracing::info!("writer stopped");
    }

    fn run_batch(&mut self, jobs: Vec<Job>) {
        let count = jobs.len() as u64;
        let now = (self.settings.clock)();
        let started = Instant::now();
        let sequence = self.committed_batches + 1;
        let mut events = Vec::new();
        // Owned here rather than by `apply_and_commit`, so that on failure the
        // writer's state is updated before any reply is dropped: a caller
        // that sees its reply gone also sees `storage_failing`.
        let mut pending = jobs.into_iter();
        let mut deliveries = Vec::with_capacity(pending.len());
        match self.apply_and_commit(&mut pending, &mut deliveries, now, sequence, &mut events) {
            Ok(()) => {
                self.committed_batches = sequence;
                let micros = started.elapsed().as_micros() as u64;
                self.stats.batches.fetch_add(1, Ordering::Relaxed);
                self.stats.commands.fetch_add(count, Ordering::Relaxed);
                self.stats.commit_micros.fetch_add(micros, Ordering::Relaxed);
                self.stats.max_batch.fetch_max(count, Ordering::Relaxed);
                self.stats.batch_sizes.observe(count);
                self.stats.commit_latency_micros.observe(micros);
                self.stats.last_batch_failed.store(false, Ordering::Relaxed);
                self.stats.last_commit_unix_ms.store(unix_millis_now(), Ordering::Relaxed);
                // The read model learns of the batch before any client does,
                // so a client that got "yes" sees its write on the next read.
                (self.listener)(&events);
                for deliver in deliveries {
                    deliver();
                }
            }
            Err(error) => {
                // The replies are dropped below, which tells every caller
                // `Unavailable`: none of its commands was acknowledged.
                self.stats.failed_batches.fetch_add(1, Ordering::Relaxed);
                self.stats.last_batch_failed.store(true, Ordering::Relaxed);
                if error.is_storage_failure() {
                    tracing::error!(
                        error = %error,
                        batch.size = count,
                        "storage failed; nothing of the batch was acknowledged, and writes are refused until \
                         the database can be reopened (retried in the background)"
                    );
                    self.failure = Some(StorageFailure::begin(&self.stats, sequence, count, events));
                } else {
                    tracing::error!(error = %error, batch.size = count, "write batch failed; nothing of it was stored");
                }
                drop(pending);
                drop(deliveries);
            }
        }
    }

    /// Runs `jobs` in one write transaction and commits it, collecting each
    /// job's reply in `deliveries` (sent by the caller after commit).
    fn apply_and_commit(
        &self,
        jobs: &mut impl Iterator<Item = Job>,
        deliveries: &mut Vec<Deliver>,
        now: Timestamp,
        sequence: u64,
        events: &mut Vec<CommittedEvent>,
    ) -> Result<(), StoreError> {
        let db = self.store.database()?;
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.set_quick_repair(true);
        let heads = self.store.head_runs();
        let heads_update = {
            let mut batch = Batch::open(&txn, heads, now, self.settings.daily_budget, self.fraud.clone())?;
            for job in jobs {
                deliveries.push(job(&mut batch)?);
            }
            batch.flush(events)?;
            batch.record_sequence(sequence)?;
            batch.heads_update.take()
        };
        txn.commit()?;
        if let Some(update) = heads_update {
            heads.apply(update);
        }
        Ok(())
    }

    /// Folds every held ledger head into its table and deletes the runs, so
    /// the next start has nothing to replay: in steps of a few thousand
    /// heads, each its own commit (see `HeadRuns::fold_first`).
    fn fold_held_heads(&self) -> Result<(), StoreError> {
        let heads = self.store.head_runs();
        loop {
            let db = self.store.database()?;
            let mut txn = db.begin_write()?;
            txn.set_durability(Durability::Immediate)?;
            txn.set_quick_repair(true);
            let (update, all) = heads.fold_first(&txn, 4_096)?;
            txn.commit()?;
            heads.apply(update);
            if all {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod stats_tests {
    use super::*;

    #[test]
    fn the_running_flag_follows_the_writer_thread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db.redb"), 4 * 1024 * 1024).expect("store");
        let settings =
            WriterSettings { batch_max: 16, queue_capacity: 16, daily_budget: 200, clock: Arc::new(Timestamp::now) };
        let (handle, thread) = start(&store, settings, Box::new(|_| {})).expect("writer");
        assert!(handle.stats().running.load(Ordering::Acquire));
        thread.stop();
        assert!(!handle.stats().running.load(Ordering::Acquire), "a stopped writer reports so");
    }
}
