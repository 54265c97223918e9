//! The Server-Sent Events hub: fans committed changes out to live pages.
//!
//! The writer thread reports changes synchronously and never blocks on a
//! subscriber:
//!
//! - [`LiveHub::counts_changed`] only notes the latest counts per clip of the
//!   open slot in a pending map. A coalescer task ([`LiveHub::run_coalescer`])
//!   turns the pending map into at most one `counts` event per interval
//!   (250 ms), so a burst of votes costs one event, not one per vote; when the
//!   open slot's five best clips (or their counts) changed, a `top` event
//!   follows it.
//! - [`LiveHub::structure_changed`] compares the new slots and open clips
//!   (copied from the read model) with the previous ones and sends `slot`
//!   events (opened, locked with its winner, …) and `clip` events (approved
//!   into the open slot, removed from it) at once.
//!
//! Every event gets the next number of one increasing sequence and is
//! formatted once into a complete SSE frame (`id`, `event`, `data`) held in a
//! [`Bytes`]; every subscriber writes that same buffer, so a subscriber holds
//! only a broadcast receiver (a cursor into the shared channel) and a small
//! stream state. Heartbeats are shared frames too: no per-client timers.
//!
//! The last [`RING_CAPACITY`] events are also kept in a ring. A client that
//! reconnects with `Last-Event-ID` gets the events it missed from the ring
//! when they are all still there, and otherwise (and on a first connection) a
//! `snapshot` event: the open slot, its clips' counts and its top clips, as of
//! the last event sent (the snapshot carries that event's id). Snapshots are
//! serialized once per state change and shared too. A subscriber that falls
//! more than the channel's capacity behind also gets a fresh snapshot and
//! continues from there. Event numbers start from the wall clock (ms × 1000)
//! at process start, so ids from an earlier run are older than any id in the
//! ring and such a client gets a snapshot, never someone else's events.
//!
//! Streams carry a keep-alive comment every 15 s, so idle connections are
//! not silently dropped; `http::live` sends them with `Cache-Control:
//! no-cache` and `X-Accel-Buffering: no` so buffering proxies pass events
//! through. The hub sets no cap on subscribers: the limit is
//! the process's open-file limit, which the server raises to its hard limit
//! at start (see `app::raise_open_file_limit`).

mod state;

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use parking_lot::Mutex;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

pub use state::{ClipCounts, MAX_SNAPSHOT_CLIPS, SlotView, TOP_CLIPS};

use crate::domain::model::Clip;
use crate::media::urls::MediaUrls;

/// How many events the broadcast channel holds before a slow subscriber lags.
const CHANNEL_CAPACITY: usize = 256;

/// How many recent events are kept for `Last-Event-ID` resumption.
pub const RING_CAPACITY: usize = 256;

/// How often a keep-alive comment goes to every stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Name of the `counts` event.
const COUNTS: &str = "counts";
/// Name of the `top` event.
const TOP: &str = "top";
/// Name of the `snapshot` event.
const SNAPSHOT: &str = "snapshot";
/// Name of heartbeats (sent as SSE comments, never numbered).
const HEARTBEAT: &str = "heartbeat";
/// Name of the marker that ends every stream at shutdown.
const CLOSE: &str = "close";

/// One live update, formatted once and shared by all subscribers.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    /// Position in the event sequence, sent as the SSE `id` field (0 for
    /// heartbeats and the close marker, which are not numbered).
    pub id: u64,
    /// Event name: `counts`, `top`, `slot`, `clip` or `snapshot`.
    pub name: &'static str,
    /// The JSON payload.
    pub data: Arc<str>,
    /// The complete SSE frame, written as is to every subscriber.
    pub frame: Bytes,
}

impl LiveEvent {
    fn new(id: u64, name: &'static str, data: Arc<str>) -> Self {
        // Payloads are single-line JSON (serde_json escapes newlines), so one
        // `data:` line holds it.
        let frame = Bytes::from(format!("id: {id}\nevent: {name}\ndata: {data}\n\n"));
        LiveEvent { id, name, data, frame }
    }

    fn unnumbered(name: &'static str, frame: &'static str) -> Self {
        LiveEvent { id: 0, name, data: Arc::from(""), frame: Bytes::from_static(frame.as_bytes()) }
    }
}

/// One clip's new counts in the open slot, as the writer reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountChange {
    /// The clip id.
    pub clip: u64,
    /// The slot position the counts belong to.
    pub position: u32,
    /// Votes that count.
    pub vote_count: u64,
    /// Sum of their weights.
    pub weighted_score: u64,
}

/// State changed only under the hub's lock, so that numbering, the ring,
/// the broadcast and subscribing happen in one order.
struct Inner {
    /// The next event id.
    next_id: u64,
    /// The most recent numbered events, oldest first.
    ring: VecDeque<LiveEvent>,
    /// Latest counts per clip not yet sent.
    pending: HashMap<u64, CountChange>,
    /// Slots and open clips as of the last event sent.
    view: SlotView,
    /// The last `top` payload sent, to send it again only when it changes.
    last_top: String,
    /// The snapshot of `view` as of the last event, built on first need.
    snapshot: Option<LiveEvent>,
    /// Set by [`LiveHub::close`]: streams opened later end after their first event.
    closed: bool,
}

/// Fans live updates out to SSE subscribers.
pub struct LiveHub {
    /// The shared event channel.
    sender: broadcast::Sender<LiveEvent>,
    /// Numbering, ring, pending counts and the current view.
    inner: Mutex<Inner>,
    /// Connected SSE clients.
    clients: AtomicUsize,
    /// Events published (each counted once, however many subscribers).
    events_sent: AtomicU64,
    /// `[media] base_url`: where an approved clip's poster is fetched from.
    media_base_url: String,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveHub {
    /// A hub with no subscribers, nothing pending and no season.
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        let now_ms = u64::try_from(crate::domain::clock::Timestamp::now().millis()).unwrap_or(0);
        LiveHub {
            sender,
            inner: Mutex::new(Inner {
                next_id: now_ms.saturating_mul(1000).max(1),
                ring: VecDeque::with_capacity(RING_CAPACITY),
                pending: HashMap::new(),
                view: SlotView::default(),
                last_top: String::new(),
                snapshot: None,
                closed: false,
            }),
            clients: AtomicUsize::new(0),
            events_sent: AtomicU64::new(0),
            media_base_url: String::new(),
        }
    }

    /// The hub with posters in its events under `base_url` (`[media]
    /// base_url`; "" = this server).
    pub fn with_media_base_url(mut self, base_url: &str) -> Self {
        self.media_base_url = base_url.to_owned();
        self
    }

    /// Sets the starting view (at start-up) without sending events.
    pub fn load(&self, view: SlotView) {
        let mut inner = self.inner.lock();
        inner.last_top = view.top_json().unwrap_or_default();
        inner.view = view;
        inner.snapshot = None;
    }

    /// Notes new counts of clips. Called by the writer thread after each
    /// commit; only counts of the open slot are kept (latest per clip), and
    /// the coalescer sends them.
    pub fn counts_changed(&self, changes: &[CountChange]) {
        if changes.is_empty() {
            return;
        }
        let mut inner = self.inner.lock();
        let Some(open) = inner.view.open_slot().map(|slot| slot.position) else { return };
        for change in changes.iter().filter(|change| change.position == open) {
            inner.pending.insert(change.clip, *change);
        }
    }

    /// Takes the new slots and open clips after a structural change (advance,
    /// approval, season change) and sends what changed at once: pending
    /// counts first, so no page sees counts from before the change arrive
    /// after it, then `slot` and `clip` events, then `top` if it changed.
    /// `changed` are the clips the same commit changed.
    pub fn structure_changed(&self, view: SlotView, changed: &[Clip]) {
        let mut inner = self.inner.lock();
        self.flush_locked(&mut inner);
        match view.changes_from(&inner.view, changed, MediaUrls::new(&self.media_base_url)) {
            Ok(events) => {
                for (name, data) in events {
                    self.publish(&mut inner, name, Arc::from(data));
                }
            }
            Err(error) => tracing::error!(%error, "could not serialize live slot events"),
        }
        inner.view = view;
        inner.snapshot = None;
        self.publish_top_if_changed(&mut inner);
    }

    /// Runs forever (the app spawns it): every `interval`, if any counts
    /// changed, broadcasts one `counts` event with the latest counts of the
    /// changed clips (and `top` when it changed); every 15 s a heartbeat.
    pub async fn run_coalescer(self: Arc<Self>, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heartbeat = tokio::time::Instant::now();
        loop {
            ticker.tick().await;
            self.flush_counts();
            if last_heartbeat.elapsed() >= KEEP_ALIVE {
                last_heartbeat = tokio::time::Instant::now();
                let _ = self.sender.send(LiveEvent::unnumbered(HEARTBEAT, ":\n\n"));
            }
        }
    }

    /// Ends every open stream (at shutdown), so graceful shutdown does not
    /// wait for live clients that would never hang up.
    pub fn close(&self) {
        let mut inner = self.inner.lock();
        inner.closed = true;
        let _ = self.sender.send(LiveEvent::unnumbered(CLOSE, ""));
    }

    /// Connected SSE clients.
    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// Events published so far (each counted once, however many subscribers
    /// received it).
    pub fn events_sent(&self) -> u64 {
        self.events_sent.load(Ordering::Relaxed)
    }

    /// The id of the last event sent (one less than the first id if none).
    pub fn last_event_id(&self) -> u64 {
        self.inner.lock().next_id - 1
    }

    /// A raw receiver of the shared event channel.
    #[cfg(test)]
    pub(crate) fn receiver(&self) -> broadcast::Receiver<LiveEvent> {
        self.sender.subscribe()
    }

    /// Sends one `counts` event if any counts are pending.
    fn flush_counts(&self) {
        let mut inner = self.inner.lock();
        self.flush_locked(&mut inner);
    }

    fn flush_locked(&self, inner: &mut Inner) {
        if inner.pending.is_empty() {
            return;
        }
        let taken = std::mem::take(&mut inner.pending);
        let mut clips: Vec<ClipCounts> = Vec::with_capacity(taken.len());
        for change in taken.into_values() {
            if let Some(clip) = inner.view.clips.get_mut(&change.clip) {
                clip.vote_count = change.vote_count;
                clip.weighted_score = change.weighted_score;
            }
            clips.push(ClipCounts {
                id: change.clip,
                vote_count: change.vote_count,
                weighted_score: change.weighted_score,
            });
        }
        clips.sort_unstable_by_key(|clip| clip.id);
        #[derive(serde::Serialize)]
        struct CountsPayload {
            clips: Vec<ClipCounts>,
        }
        match serde_json::to_string(&CountsPayload { clips }) {
            Ok(json) => self.publish(inner, COUNTS, Arc::from(json)),
            Err(error) => tracing::error!(%error, "could not serialize live counts"),
        }
        self.publish_top_if_changed(inner);
    }

    fn publish_top_if_changed(&self, inner: &mut Inner) {
        match inner.view.top_json() {
            Ok(top) if top != inner.last_top => {
                self.publish(inner, TOP, Arc::from(top.as_str()));
                inner.last_top = top;
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "could not serialize live top clips"),
        }
    }

    /// Numbers one event, keeps it in the ring and broadcasts it.
    fn publish(&self, inner: &mut Inner, name: &'static str, data: Arc<str>) {
        let event = LiveEvent::new(inner.next_id, name, data);
        inner.next_id += 1;
        if inner.ring.len() == RING_CAPACITY {
            inner.ring.pop_front();
        }
        inner.ring.push_back(event.clone());
        inner.snapshot = None;
        // An error only means nobody is listening right now; that is fine.
        let _ = self.sender.send(event);
        self.events_sent.fetch_add(1, Ordering::Relaxed);
    }

    /// The snapshot as of the last event, serialized once per change.
    fn snapshot_locked(inner: &mut Inner) -> LiveEvent {
        if let Some(snapshot) = &inner.snapshot {
            return snapshot.clone();
        }
        let data = inner.view.snapshot_json().unwrap_or_else(|error| {
            tracing::error!(%error, "could not serialize the live snapshot");
            "{}".to_owned()
        });
        let snapshot = LiveEvent::new(inner.next_id - 1, SNAPSHOT, Arc::from(data));
        inner.snapshot = Some(snapshot.clone());
        snapshot
    }

    /// A receiver plus what the subscriber must get before the receiver's
    /// events: the missed events from the ring, or a snapshot. Taken under
    /// the lock, so nothing is missed or sent twice in between.
    fn start(&self, last_event_id: Option<&str>) -> (broadcast::Receiver<LiveEvent>, VecDeque<LiveEvent>, bool) {
        let mut inner = self.inner.lock();
        let receiver = self.sender.subscribe();
        let last = inner.next_id - 1;
        let resume_from = last_event_id.and_then(|raw| raw.trim().parse::<u64>().ok());
        let backlog = match resume_from {
            Some(seen) if seen == last => VecDeque::new(),
            Some(seen) if seen < last && inner.ring.front().is_some_and(|oldest| oldest.id <= seen + 1) => {
                inner.ring.iter().filter(|event| event.id > seen).cloned().collect()
            }
            _ => VecDeque::from([Self::snapshot_locked(&mut inner)]),
        };
        (receiver, backlog, inner.closed)
    }

    /// After a lag: a fresh receiver and the snapshot to send first.
    fn restart(&self) -> (broadcast::Receiver<LiveEvent>, LiveEvent) {
        let mut inner = self.inner.lock();
        (self.sender.subscribe(), Self::snapshot_locked(&mut inner))
    }

    /// The stream of SSE frames for one subscriber. `last_event_id` is the
    /// client's `Last-Event-ID` header, if any: when every event after it is
    /// still in the ring the stream starts with those, otherwise with a
    /// snapshot. The client is counted in [`LiveHub::clients`] until the
    /// stream is dropped. `http::live` answers with it.
    pub fn event_stream(
        self: &Arc<Self>,
        last_event_id: Option<&str>,
    ) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static + use<> {
        let (receiver, backlog, closed) = self.start(last_event_id);
        let state = SubscriberState { backlog, receiver, closed, guard: ClientGuard::new(Arc::clone(self)) };
        futures_util::stream::unfold(state, |mut state| async move {
            if let Some(event) = state.backlog.pop_front() {
                return Some((Ok(event.frame), state));
            }
            if state.closed {
                return None;
            }
            let frame = match state.receiver.recv().await {
                Ok(event) if event.name == CLOSE => return None,
                Ok(event) => event.frame,
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "live subscriber lagged; sending a snapshot");
                    let (receiver, snapshot) = state.guard.0.restart();
                    state.receiver = receiver;
                    snapshot.frame
                }
                Err(RecvError::Closed) => return None,
            };
            Some((Ok(frame), state))
        })
        // A body may be polled once more after its end (trailers); a bare
        // `unfold` would panic then.
        .fuse()
    }
}

/// What one subscriber's stream holds between events.
struct SubscriberState {
    /// Events to send before the next received one (resume or snapshot).
    backlog: VecDeque<LiveEvent>,
    /// Its cursor into the shared channel.
    receiver: broadcast::Receiver<LiveEvent>,
    /// The hub was closed before this stream started: end after the backlog.
    closed: bool,
    /// Keeps the client counted; dropped with the stream.
    guard: ClientGuard,
}

/// Counts one connected client for as long as it lives.
struct ClientGuard(Arc<LiveHub>);

impl ClientGuard {
    /// Counts a new client.
    fn new(hub: Arc<LiveHub>) -> Self {
        hub.clients.fetch_add(1, Ordering::Relaxed);
        ClientGuard(hub)
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::state::tests::view;
    use super::*;
    use futures_util::StreamExt;

    /// A hub whose open slot 1 holds clips 7 and 9 with no votes.
    pub(crate) fn hub() -> LiveHub {
        let hub = LiveHub::new();
        hub.load(view(1, &[(7, 0, 0), (9, 0, 0)]));
        hub
    }

    pub(crate) fn change(clip: u64, vote_count: u64, weighted_score: u64) -> CountChange {
        CountChange { clip, position: 1, vote_count, weighted_score }
    }

    fn text(frame: &Bytes) -> String {
        String::from_utf8_lossy(frame).into_owned()
    }

    #[tokio::test]
    async fn bursts_coalesce_into_one_event_with_latest_counts() {
        let hub = Arc::new(hub());
        let mut receiver = hub.receiver();
        hub.counts_changed(&[change(7, 1, 10)]);
        hub.counts_changed(&[change(7, 2, 20), change(9, 1, 5)]);
        hub.counts_changed(&[
            change(7, 3, 30),
            CountChange { clip: 7, position: 2, vote_count: 99, weighted_score: 99 },
        ]);
        tokio::spawn(Arc::clone(&hub).run_coalescer(Duration::from_millis(50)));

        let event = tokio::time::timeout(Duration::from_secs(2), receiver.recv()).await;
        let Ok(Ok(event)) = event else { panic!("no counts event: {event:?}") };
        assert_eq!(event.name, "counts");
        assert_eq!(
            &*event.data,
            r#"{"clips":[{"id":7,"voteCount":3,"weightedScore":30},{"id":9,"voteCount":1,"weightedScore":5}]}"#,
            "latest counts of the open slot only"
        );
        let first_id = event.id;
        let Ok(Ok(top)) = tokio::time::timeout(Duration::from_secs(2), receiver.recv()).await else {
            panic!("no top event")
        };
        assert_eq!((top.name, top.id), ("top", first_id + 1));
        assert!(top.data.starts_with(r#"{"position":1,"clips":[{"id":7,"#), "{}", top.data);
        // Nothing changed since, so several intervals pass without an event.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(matches!(receiver.try_recv(), Err(broadcast::error::TryRecvError::Empty)));
        assert_eq!(hub.events_sent(), 2);

        // Clip 9 gains a vote but stays second: counts, and top (its counts changed).
        hub.counts_changed(&[change(9, 2, 6)]);
        let event = tokio::time::timeout(Duration::from_secs(2), receiver.recv()).await;
        let Ok(Ok(event)) = event else { panic!("no second counts event: {event:?}") };
        assert_eq!(&*event.data, r#"{"clips":[{"id":9,"voteCount":2,"weightedScore":6}]}"#);
        assert_eq!(event.id, first_id + 2);
    }

    #[test]
    fn nothing_is_sent_without_changes() {
        let hub = hub();
        let mut receiver = hub.receiver();
        hub.counts_changed(&[]);
        hub.flush_counts();
        assert!(receiver.try_recv().is_err());
        assert_eq!(hub.events_sent(), 0);
    }

    #[test]
    fn structure_changes_are_sent_at_once_after_pending_counts() {
        let hub = hub();
        let mut receiver = hub.receiver();
        hub.counts_changed(&[change(7, 1, 1)]);
        let mut advanced = view(2, &[(9, 0, 0)]);
        advanced.slots[0].winner = Some(7);
        hub.structure_changed(advanced, &[]);
        let names: Vec<&str> = std::iter::from_fn(|| receiver.try_recv().ok()).map(|event| event.name).collect();
        // counts (+ top) for slot 1, slot 1 locked, slot 2 opened, the new top.
        assert_eq!(names, vec!["counts", "top", "slot", "slot", "top"]);
        assert_eq!(hub.events_sent(), 5);
    }

    #[tokio::test]
    async fn many_subscribers_share_one_frame() {
        let hub = hub();
        let mut receivers: Vec<_> = (0..200).map(|_| hub.receiver()).collect();
        hub.counts_changed(&[change(7, 1, 1)]);
        hub.flush_counts();
        let mut first: Option<Bytes> = None;
        for receiver in &mut receivers {
            let Ok(event) = receiver.try_recv() else { panic!("a subscriber missed the event") };
            match &first {
                None => first = Some(event.frame),
                Some(frame) => assert_eq!(frame.as_ptr(), event.frame.as_ptr(), "frame was copied"),
            }
        }
        assert_eq!(hub.events_sent(), 2, "counts and top, each once");
    }

    #[tokio::test]
    async fn a_first_connection_starts_with_a_snapshot_and_resumption_replays_the_ring() {
        let hub = Arc::new(hub());
        let mut fresh = Box::pin(hub.event_stream(None));
        let Some(Ok(snapshot)) = fresh.next().await else { panic!("no snapshot") };
        let snapshot = text(&snapshot);
        assert!(snapshot.contains("event: snapshot\n") && snapshot.contains(r#""seasonId":1"#), "{snapshot}");
        let before = hub.last_event_id();
        assert!(snapshot.starts_with(&format!("id: {before}\n")), "{snapshot}");

        hub.counts_changed(&[change(7, 1, 1)]);
        hub.flush_counts();
        // Resuming from `before` replays counts and top; from the last id, nothing.
        let mut resumed = Box::pin(hub.event_stream(Some(&before.to_string())));
        let Some(Ok(first)) = resumed.next().await else { panic!("no replay") };
        assert!(text(&first).starts_with(&format!("id: {}\nevent: counts\n", before + 1)), "{}", text(&first));
        let Some(Ok(second)) = resumed.next().await else { panic!("no replay") };
        assert!(text(&second).contains("event: top\n"));
        let caught_up = hub.event_stream(Some(&hub.last_event_id().to_string()));
        let mut caught_up = Box::pin(caught_up);
        assert!(tokio::time::timeout(Duration::from_millis(100), caught_up.next()).await.is_err(), "nothing missed");

        // Garbage, ids from the future and ids that left the ring get a snapshot.
        for hostile in ["abc", "-1", "", "99999999999999999999999", &u64::MAX.to_string(), "1"] {
            let mut stream = Box::pin(hub.event_stream(Some(hostile)));
            let Some(Ok(frame)) = stream.next().await else { panic!("no snapshot for {hostile:?}") };
            assert!(text(&frame).contains("event: snapshot\n"), "{hostile:?}: {}", text(&frame));
        }
        for round in 0..RING_CAPACITY as u64 {
            hub.counts_changed(&[change(9, round + 1, round + 1)]);
            hub.flush_counts();
        }
        let mut too_old = Box::pin(hub.event_stream(Some(&before.to_string())));
        let Some(Ok(frame)) = too_old.next().await else { panic!("no snapshot") };
        assert!(text(&frame).contains("event: snapshot\n"), "{}", text(&frame));
        assert!(text(&frame).contains(&format!(r#"{{"id":9,"voteCount":{RING_CAPACITY},"#)), "{}", text(&frame));
    }

    #[tokio::test]
    async fn a_lagging_subscriber_gets_a_fresh_snapshot() {
        let hub = Arc::new(hub());
        let mut stream = Box::pin(hub.event_stream(Some(&hub.last_event_id().to_string())));
        for round in 0..(CHANNEL_CAPACITY as u64 + 10) {
            hub.counts_changed(&[change(7, round + 1, round + 1)]);
            hub.flush_counts();
        }
        let first = tokio::time::timeout(Duration::from_secs(1), stream.next()).await;
        let Ok(Some(Ok(first))) = first else { panic!("no snapshot after lag") };
        let first = text(&first);
        assert!(first.contains("event: snapshot") && first.contains(r#""voteCount":266"#), "got: {first}");
        assert!(first.starts_with(&format!("id: {}\n", hub.last_event_id())), "got: {first}");
        hub.counts_changed(&[change(9, 1, 1)]);
        hub.flush_counts();
        let second = tokio::time::timeout(Duration::from_secs(1), stream.next()).await;
        let Ok(Some(Ok(second))) = second else { panic!("stream stopped after the snapshot") };
        assert!(text(&second).contains("event: counts"), "got: {}", text(&second));
        assert_eq!(hub.clients(), 1);
        drop(stream);
        assert_eq!(hub.clients(), 0);
    }

    #[tokio::test]
    async fn close_ends_every_stream() {
        let hub = Arc::new(hub());
        let mut stream = Box::pin(hub.event_stream(Some(&hub.last_event_id().to_string())));
        hub.close();
        let end = tokio::time::timeout(Duration::from_secs(1), stream.next()).await;
        assert!(matches!(end, Ok(None)), "stream still open");
        // A client that slips in after the close gets its snapshot, then the end.
        let mut late = Box::pin(hub.event_stream(None));
        assert!(matches!(late.next().await, Some(Ok(_))), "no snapshot");
        let end = tokio::time::timeout(Duration::from_secs(1), late.next()).await;
        assert!(matches!(end, Ok(None)), "late stream still open");
    }

    #[tokio::test]
    async fn per_client_stream_state_is_small() {
        let hub = Arc::new(hub());
        let stream = hub.event_stream(None);
        let size = std::mem::size_of_val(&stream);
        assert!(size <= 512, "per-client stream state is {size} bytes");
        drop(stream);
        assert_eq!(hub.clients(), 0);
    }
}
