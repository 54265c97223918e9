//! The systemd watchdog: with `WatchdogSec=` in the unit, systemd restarts
//! the service when it stops hearing `WATCHDOG=1`. A ping is sent only
//! after a round trip through the writer: a no-op job queued, run in a batch
//! and committed. A wedged writer (a stuck disk, a dead thread, a full
//! queue) answers nothing, so no ping goes out and systemd restarts the
//! service; a process that merely keeps its HTTP listener open is not
//! enough. Outside systemd (`WATCHDOG_USEC` unset) this does nothing.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::store::writer::WriterHandle;

/// How often to ping when systemd allows `watchdog` between pings: half of
/// it, as `sd_watchdog_enabled(3)` advises. `None` outside systemd.
pub fn interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|allowed| allowed / 2).filter(|every| !every.is_zero())
}

/// Pings systemd every `every` while the writer commits; runs until aborted.
pub async fn run(writer: WriterHandle, every: Duration) {
    run_with(writer, every, || {
        if let Err(error) = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]) {
            tracing::warn!(error = %error, "cannot ping the systemd watchdog");
        }
    })
    .await;
}

/// Calls `ping` every `every` for as long as the writer commits a no-op
/// within `every`; runs until aborted. A stalled writer is logged once
/// when it stalls and once when it recovers, not at every interval.
pub async fn run_with(writer: WriterHandle, every: Duration, mut ping: impl FnMut()) {
    let mut stalled = false;
    loop {
        tokio::time::sleep(every).await;
        if writer_commits(&writer, every).await {
            if stalled {
                tracing::info!("the writer commits again; pinging the systemd watchdog again");
                stalled = false;
            }
            ping();
        } else if !stalled {
            tracing::error!(
                interval_ms = every.as_millis() as u64,
                "the writer did not commit a no-op within the watchdog interval; not pinging systemd"
            );
            stalled = true;
        }
    }
}

/// Whether the writer thread is alive and commits a no-op batch within `limit`.
pub async fn writer_commits(writer: &WriterHandle, limit: Duration) -> bool {
    if !writer.stats().running.load(Ordering::Acquire) {
        return false;
    }
    matches!(tokio::time::timeout(limit, writer.ping()).await, Ok(Ok(())))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::time::Instant;

    use super::*;
    use crate::domain::clock::Timestamp;
    use crate::store::Store;
    use crate::store::writer::{self, CommittedEvent, WriterSettings};

    async fn wait_for(what: &str, check: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A real writer over a real file, wedged by a commit listener that
    /// blocks the writer thread (as a stuck disk or a deadlock would) for as
    /// long as `wedged` is set.
    #[tokio::test]
    async fn pings_stop_while_the_writer_is_wedged_and_resume_after() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("aimoviez.redb"), 1 << 20).expect("store");
        let wedged = Arc::new(AtomicBool::new(false));
        let hold = wedged.clone();
        let listener = Box::new(move |_: &[CommittedEvent]| {
            while hold.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let settings =
            WriterSettings { batch_max: 16, queue_capacity: 16, daily_budget: 10, clock: Arc::new(Timestamp::now) };
        let (handle, thread) = writer::start(&store, settings, listener).expect("writer");
        let pings = Arc::new(AtomicUsize::new(0));
        let counter = pings.clone();
        let every = Duration::from_millis(40);
        let task = tokio::spawn(run_with(handle.clone(), every, move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        wait_for("three pings", || pings.load(Ordering::SeqCst) >= 3).await;

        wedged.store(true, Ordering::Release);
        // Let a ping already past its round trip land, then watch a while.
        tokio::time::sleep(every * 4).await;
        let before = pings.load(Ordering::SeqCst);
        tokio::time::sleep(every * 10).await;
        assert_eq!(pings.load(Ordering::SeqCst), before, "no ping while the writer is wedged");
        assert!(!writer_commits(&handle, every).await);

        wedged.store(false, Ordering::Release);
        wait_for("pings again", || pings.load(Ordering::SeqCst) > before + 1).await;
        assert!(writer_commits(&handle, Duration::from_secs(5)).await);

        task.abort();
        thread.stop();
        assert!(!writer_commits(&handle, every).await, "a stopped writer gets no ping either");
    }
}
