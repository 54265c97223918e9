//! The Server-Sent Events hub: fans committed changes out to live pages.
//!
//! The writer thread reports changes synchronously and never blocks on a
//! subscriber:
//!
//! - [`LiveHub::counts_changed`] only notes the latest counts per clip in a
//!   pending map. A coalescer task ([`LiveHub::run_coalescer`]) turns the
//!   pending map into at most one `counts` event per interval (250 ms), so a
//!   burst of votes costs one event, not one per vote.
//! - [`LiveHub::slot_changed`] sends a `slot` event at once.
//!
//! Each event is serialized once into an `Arc<str>` and handed to every
//! subscriber through a `tokio::sync::broadcast` channel, so a subscriber
//! holds nothing but its broadcast receiver (a cursor into the shared ring)
//! and a small stream state. A subscriber that falls more than the channel's
//! capacity behind skips what it missed and gets a `resync` event telling the
//! page to refetch; the server's counts stay authoritative.
//!
//! Responses carry `Cache-Control: no-cache` and `X-Accel-Buffering: no` and
//! a keep-alive comment every 15 s, so buffering proxies pass events through
//! and idle connections are not silently dropped (see "Realtime" in
//! research/ecosystem.md). Events are not replayed on reconnect
//! (`Last-Event-ID` is ignored): a page refetches its state when its
//! `EventSource` (re)opens.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, HeaderName};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

/// How many events the broadcast ring holds before a slow subscriber lags.
const CHANNEL_CAPACITY: usize = 64;

/// How often an idle stream sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Name of the `counts` event.
const COUNTS: &str = "counts";

/// Name of the `slot` event.
const SLOT: &str = "slot";

/// Name of the event sent to a subscriber that missed events.
const RESYNC: &str = "resync";

/// One live update, serialized once and shared by all subscribers.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    /// Monotonic event id, sent as the SSE `id` field.
    pub id: u64,
    /// Event name: `"counts"` or `"slot"`.
    pub name: &'static str,
    /// The JSON payload, shared by every subscriber.
    pub data: Arc<str>,
}

/// One clip's counts in a `counts` event.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClipCounts {
    /// The clip id.
    id: u64,
    /// Number of votes.
    vote_count: u64,
    /// Weighted score.
    weighted_score: u64,
}

/// The payload of a `counts` event.
#[derive(Serialize)]
struct CountsPayload {
    /// Changed clips, sorted by id.
    clips: Vec<ClipCounts>,
}

/// Fans live updates out to SSE subscribers.
pub struct LiveHub {
    /// The shared event ring.
    sender: broadcast::Sender<LiveEvent>,
    /// Latest `(vote_count, weighted_score)` per clip not yet sent.
    pending: Mutex<HashMap<u64, (u64, u64)>>,
    /// The next event id. Held while sending, so subscribers see ids in
    /// increasing order.
    next_id: Mutex<u64>,
    /// Connected SSE clients.
    clients: AtomicUsize,
    /// Events published (each counted once, however many subscribers).
    events_sent: AtomicU64,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveHub {
    /// A hub with no subscribers and nothing pending.
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        LiveHub {
            sender,
            pending: Mutex::new(HashMap::new()),
            next_id: Mutex::new(1),
            clients: AtomicUsize::new(0),
            events_sent: AtomicU64::new(0),
        }
    }

    /// Notes that these clips' counts changed, as `(clip id, vote_count,
    /// weighted_score)`. Called by the writer thread after each commit; it
    /// only keeps the latest counts per clip, and the coalescer sends them.
    pub fn counts_changed(&self, changes: &[(u64, u64, u64)]) {
        if changes.is_empty() {
            return;
        }
        let mut pending = self.pending.lock();
        for &(clip, votes, score) in changes {
            pending.insert(clip, (votes, score));
        }
    }

    /// Sends a `slot` event at once with `data` (JSON built by the caller).
    /// Called by the writer thread when the slot changed shape (advance,
    /// approval). Pending counts are sent first, so no page sees counts from
    /// before the change arrive after it.
    pub fn slot_changed(&self, data: String) {
        self.flush_counts();
        self.publish(SLOT, Arc::from(data));
    }

    /// Runs forever (the app spawns it): every `interval`, if any counts
    /// changed, broadcasts one `counts` event carrying the latest counts of
    /// the changed clips.
    pub async fn run_coalescer(self: Arc<Self>, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            self.flush_counts();
        }
    }

    /// An SSE response for one subscriber. Each event carries `id`, `event`
    /// and `data`; a keep-alive comment goes out every 15 s. The client is
    /// counted in [`LiveHub::clients`] until the response stream is dropped.
    pub fn subscribe(self: &Arc<Self>) -> Response {
        let stream = self.event_stream();
        let mut response = Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response();
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no"));
        response
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

    /// A raw receiver of the shared event ring.
    pub(crate) fn receiver(&self) -> broadcast::Receiver<LiveEvent> {
        self.sender.subscribe()
    }

    /// Sends one `counts` event if any counts are pending.
    fn flush_counts(&self) {
        let taken = std::mem::take(&mut *self.pending.lock());
        if taken.is_empty() {
            return;
        }
        let mut clips: Vec<ClipCounts> = taken
            .into_iter()
            .map(|(id, (vote_count, weighted_score))| ClipCounts { id, vote_count, weighted_score })
            .collect();
        clips.sort_unstable_by_key(|clip| clip.id);
        match serde_json::to_string(&CountsPayload { clips }) {
            Ok(json) => self.publish(COUNTS, Arc::from(json)),
            Err(error) => tracing::error!(%error, "could not serialize live counts"),
        }
    }

    /// Broadcasts one event under the next id.
    fn publish(&self, name: &'static str, data: Arc<str>) {
        let mut next_id = self.next_id.lock();
        let id = *next_id;
        *next_id += 1;
        // An error only means nobody is listening right now; that is fine.
        let _ = self.sender.send(LiveEvent { id, name, data });
        self.events_sent.fetch_add(1, Ordering::Relaxed);
    }

    /// The per-subscriber event stream: a broadcast receiver plus the guard
    /// that keeps the client counted while the stream lives.
    fn event_stream(self: &Arc<Self>) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static + use<> {
        let state = SubscriberState { receiver: self.receiver(), _guard: ClientGuard::new(Arc::clone(self)) };
        futures_util::stream::unfold(state, |mut state| async move {
            let event = match state.receiver.recv().await {
                Ok(event) => Event::default().id(event.id.to_string()).event(event.name).data(&*event.data),
                Err(RecvError::Lagged(missed)) => {
                    Event::default().event(RESYNC).data(format!("{{\"missed\":{missed}}}"))
                }
                Err(RecvError::Closed) => return None,
            };
            Some((Ok(event), state))
        })
    }
}

/// What one subscriber's stream holds between events.
struct SubscriberState {
    /// Its cursor into the shared ring.
    receiver: broadcast::Receiver<LiveEvent>,
    /// Keeps the client counted; dropped with the stream.
    _guard: ClientGuard,
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
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use futures_util::StreamExt;
    use std::time::Instant;

    /// Waits up to `limit` for `check` to hold.
    async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if check() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        check()
    }

    /// Serves `/live` on an ephemeral port; returns the URL.
    async fn serve(hub: Arc<LiveHub>) -> Result<String, std::io::Error> {
        let app = Router::new().route("/live", get(move || async move { hub.subscribe() }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(format!("http://{address}/live"))
    }

    /// Reads the SSE body until `needle` appears (or 5 s pass); returns all
    /// text read.
    async fn read_until(response: &mut reqwest::Response, needle: &str) -> String {
        let mut text = String::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !text.contains(needle) && Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_millis(200), response.chunk()).await {
                Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Ok(None)) | Ok(Err(_)) => break,
                Err(_) => {}
            }
        }
        text
    }

    #[tokio::test]
    async fn bursts_coalesce_into_one_event_with_latest_counts() {
        let hub = Arc::new(LiveHub::new());
        let mut receiver = hub.receiver();
        hub.counts_changed(&[(7, 1, 10)]);
        hub.counts_changed(&[(7, 2, 20), (9, 1, 5)]);
        hub.counts_changed(&[(7, 3, 30)]);
        tokio::spawn(Arc::clone(&hub).run_coalescer(Duration::from_millis(50)));

        let event = tokio::time::timeout(Duration::from_secs(2), receiver.recv()).await;
        let Ok(Ok(event)) = event else { panic!("no counts event: {event:?}") };
        assert_eq!(event.name, "counts");
        assert_eq!(
            &*event.data,
            r#"{"clips":[{"id":7,"voteCount":3,"weightedScore":30},{"id":9,"voteCount":1,"weightedScore":5}]}"#
        );
        // Nothing changed since, so several intervals pass without an event.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(matches!(receiver.try_recv(), Err(broadcast::error::TryRecvError::Empty)));
        assert_eq!(hub.events_sent(), 1);

        hub.counts_changed(&[(9, 2, 6)]);
        let event = tokio::time::timeout(Duration::from_secs(2), receiver.recv()).await;
        let Ok(Ok(event)) = event else { panic!("no second counts event: {event:?}") };
        assert_eq!(&*event.data, r#"{"clips":[{"id":9,"voteCount":2,"weightedScore":6}]}"#);
        assert!(event.id > 1);
    }

    #[test]
    fn nothing_is_sent_without_changes() {
        let hub = LiveHub::new();
        let mut receiver = hub.receiver();
        hub.counts_changed(&[]);
        hub.flush_counts();
        assert!(receiver.try_recv().is_err());
        assert_eq!(hub.events_sent(), 0);
    }

    #[test]
    fn slot_changes_are_sent_at_once_after_pending_counts() {
        let hub = LiveHub::new();
        let mut receiver = hub.receiver();
        hub.counts_changed(&[(1, 1, 1)]);
        hub.slot_changed(r#"{"position":2}"#.to_owned());
        let Ok(counts) = receiver.try_recv() else { panic!("pending counts not flushed") };
        assert_eq!((counts.id, counts.name), (1, "counts"));
        let Ok(slot) = receiver.try_recv() else { panic!("slot event not sent") };
        assert_eq!((slot.id, slot.name, &*slot.data), (2, "slot", r#"{"position":2}"#));
        assert_eq!(hub.events_sent(), 2);
    }

    #[tokio::test]
    async fn many_subscribers_share_one_payload() {
        let hub = LiveHub::new();
        let mut receivers: Vec<_> = (0..200).map(|_| hub.receiver()).collect();
        hub.slot_changed(r#"{"position":1}"#.to_owned());
        let mut first: Option<Arc<str>> = None;
        for receiver in &mut receivers {
            let Ok(event) = receiver.try_recv() else { panic!("a subscriber missed the event") };
            match &first {
                None => first = Some(event.data),
                Some(data) => assert!(Arc::ptr_eq(data, &event.data), "payload was copied"),
            }
        }
        assert_eq!(hub.events_sent(), 1);
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told_to_resync() {
        let hub = Arc::new(LiveHub::new());
        let mut stream = Box::pin(hub.event_stream());
        for position in 0..(CHANNEL_CAPACITY + 10) {
            hub.slot_changed(format!("{{\"position\":{position}}}"));
        }
        // The first item is the resync; the stream then continues with the
        // oldest event still in the ring.
        let first = tokio::time::timeout(Duration::from_secs(1), stream.next()).await;
        let Ok(Some(Ok(first))) = first else { panic!("no resync event") };
        let first = format!("{first:?}");
        assert!(first.contains("event: resync") && first.contains(r#"{\"missed\":10}"#), "got: {first}");
        let second = tokio::time::timeout(Duration::from_secs(1), stream.next()).await;
        let Ok(Some(Ok(second))) = second else { panic!("stream stopped after resync") };
        let second = format!("{second:?}");
        assert!(second.contains("id: 11") && second.contains("event: slot"), "got: {second}");
        assert_eq!(hub.clients(), 1);
        drop(stream);
        assert_eq!(hub.clients(), 0);
    }

    #[tokio::test]
    async fn sse_clients_receive_counts_and_are_counted() {
        let hub = Arc::new(LiveHub::new());
        tokio::spawn(Arc::clone(&hub).run_coalescer(Duration::from_millis(50)));
        let url = match serve(Arc::clone(&hub)).await {
            Ok(url) => url,
            Err(error) => panic!("could not serve: {error}"),
        };
        assert_eq!(hub.clients(), 0);

        let client = reqwest::Client::new();
        let Ok(mut response) = client.get(&url).send().await else { panic!("connect failed") };
        assert_eq!(response.status(), 200);
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(header("content-type").as_deref(), Some("text/event-stream"));
        assert_eq!(header("cache-control").as_deref(), Some("no-cache"));
        assert_eq!(header("x-accel-buffering").as_deref(), Some("no"));
        assert!(eventually(Duration::from_secs(2), || hub.clients() == 1).await);

        hub.counts_changed(&[(5, 1, 1)]);
        hub.counts_changed(&[(5, 2, 3)]);
        let text = read_until(&mut response, "\n\n").await;
        assert!(text.contains("event: counts\n"), "got: {text}");
        assert!(text.contains(r#"data: {"clips":[{"id":5,"voteCount":2,"weightedScore":3}]}"#), "got: {text}");
        assert!(text.contains("id: 1\n"), "got: {text}");

        hub.slot_changed(r#"{"position":3}"#.to_owned());
        let text = read_until(&mut response, "\n\n").await;
        assert!(text.contains("event: slot\n"), "got: {text}");
        assert!(text.contains(r#"data: {"position":3}"#), "got: {text}");
        assert!(text.contains("id: 2\n"), "got: {text}");

        drop(response);
        drop(client);
        assert!(
            eventually(Duration::from_secs(5), || hub.clients() == 0).await,
            "client still counted after disconnect: {}",
            hub.clients()
        );
    }

    #[tokio::test]
    async fn per_client_stream_state_is_small() {
        let hub = Arc::new(LiveHub::new());
        let stream = hub.event_stream();
        let size = std::mem::size_of_val(&stream);
        assert!(size <= 512, "per-client stream state is {size} bytes");
        drop(stream);
        assert_eq!(hub.clients(), 0);
    }
}
