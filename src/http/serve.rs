//! Accepting connections and speaking HTTP/1.1 on them, with the limits a
//! public server needs that `axum::serve` does not expose:
//!
//! - a header read timeout: a client that opens a connection and sends its
//!   request head slowly, or not at all, is cut off after
//!   `header_read_timeout_secs`. hyper's timer starts whenever the
//!   connection waits for a request head, so the same limit closes an idle
//!   keep-alive connection;
//! - bounded per-connection buffers (`max_header_bytes`): a half-sent header
//!   cannot hold hundreds of kilobytes;
//! - a cap on concurrent connections per client address
//!   (`max_connections_per_ip`) for everything but live streams. A
//!   connection counts from accept; the first request it carries to a live
//!   stream gives its place back, since one viewer holding one stream open is
//!   the point. Peers in `trusted_proxies` are not capped: all clients of a
//!   reverse proxy share its address.
//!
//! What `axum::serve` did stays: graceful shutdown (stop accepting, let
//! in-flight requests finish), the peer address for `ConnectInfo`, and
//! riding out EMFILE (log, wait a second, accept again). No route upgrades
//! a connection (the live stream is plain SSE), so upgrades are not served.
//!
//! A live stream leaves hyper. hyper keeps an 8 KiB read buffer and an
//! 8 KiB header write buffer per connection for the connection's life (its
//! builder cannot make them smaller), which was most of a live client's
//! memory (19.7 KiB per client, `benches/RESULTS.md`). So when a `GET
//! /api/live` is answered with an event stream, the service hands the
//! response to the connection's task instead of to hyper; the task stops
//! driving hyper once hyper has flushed everything it had to write, takes
//! the socket back (`into_parts`, dropping hyper's buffers) and writes the
//! response itself: the head from the response's parts, then each shared
//! frame as one chunk, straight from the hub's `Bytes`. It watches the
//! socket for the client hanging up, ends with the last chunk when the hub
//! closes the stream (at shutdown) and keeps the drain waiting until then,
//! as a connection in hyper's hands did.
//!
//! A media file leaves hyper for its body only (issue #16: nginx's pace).
//! hyper copies a body through this process; `sendfile(2)` hands the page
//! cache's pages to the socket. A GET answered 200 or 206 from a file on
//! this disk carries a [`SendFile`] extension; on a kept-alive HTTP/1.1
//! connection the task takes the socket back as for a live stream, writes
//! the head with `MSG_MORE` (so it leaves with the first bytes of the file)
//! and the range with `sendfile`, then serves the connection with a new
//! hyper connection that first reads what the old one had read ahead
//! (pipelined requests). Every connection has `TCP_NODELAY`: without it the
//! head and the file's last segment waited for the client's delayed ACK
//! (40 ms), which is why the first attempt at this was reverted (c49ea15).

use std::collections::HashMap;
use std::future::Future;
use std::io::IoSlice;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, Response, Version, header};
use bytes::Bytes;
use futures_util::StreamExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

/// The limits every connection is served under.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Longest wait for a complete request head, and longest idle time
    /// between requests on a kept-alive connection.
    pub header_read_timeout: Duration,
    /// Largest request head, in bytes (431 beyond it).
    pub max_header_bytes: usize,
    /// Concurrent non-streaming connections one client address may hold
    /// (0: no cap).
    pub max_connections_per_ip: usize,
    /// Peers exempt from the cap (reverse proxies).
    pub trusted_proxies: Vec<IpNet>,
}

/// Connections the kernel may hold completed but not yet accepted.
///
/// tokio's `TcpListener::bind` asks for 1,024. A burst larger than that
/// (10,000 live clients reconnecting after a restart, or the votes bench
/// opening its connections) overflowed the queue: the kernel dropped the
/// handshake's last ACK, the client believed it was connected, and its
/// first request was lost (2,000 of 10,000 connections in the bench,
/// `TcpExtListenOverflows`). The kernel caps what is asked for here at
/// `net.core.somaxconn` (4,096 by default since Linux 5.4).
pub const LISTEN_BACKLOG: u32 = 8192;

/// A listener on `address` with [`LISTEN_BACKLOG`], address reuse as
/// tokio's `bind` sets it (a restart does not wait out `TIME_WAIT`).
pub fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Paths whose responses are live streams that stay open.
fn is_live_stream(path: &str) -> bool {
    path == "/api/live"
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting and waits for the open connections' requests to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_header_size(limits.max_header_bytes)
        .keep_alive(true);
    let counts = ConnectionCounts::default();
    // Every connection's task holds a receiver: `changed()` tells it to
    // finish, and the drain below ends when the last one is dropped.
    let (drain, watcher) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    handle_accept_error(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // An answer's last segment goes out at once instead of waiting for
        // the client's ACK of the one before (Nagle), which a delayed ACK
        // can hold for 40 ms: every answer here is written whole, so there
        // is nothing for Nagle to gather.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(error = %error, "cannot set TCP_NODELAY");
        }
        let exempt = limits.trusted_proxies.iter().any(|net| net.contains(&peer.ip()));
        let slot = if exempt || limits.max_connections_per_ip == 0 {
            None
        } else {
            match counts.take(peer.ip(), limits.max_connections_per_ip) {
                Some(slot) => Some(Arc::new(slot)),
                None => {
                    tracing::info!(client.ip = %peer.ip(), "connection refused: too many from one address");
                    drop(stream);
                    continue;
                }
            }
        };
        tokio::spawn(serve_connection(&http, stream, peer, router.clone(), slot, watcher.clone()));
    }
    drop(listener);
    drop(watcher);
    let _ = drain.send(());
    drain.closed().await;
    Ok(())
}

/// Serves one connection with hyper until it closes, or until a request on
/// it turns into a live stream, which then goes on in a task of its own. A
/// file answer ([`SendFile`]) is written by this task between two hyper
/// connections on the same socket.
fn serve_connection(
    http: &hyper::server::conn::http1::Builder,
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    slot: Option<Arc<ConnectionSlot>>,
    mut shutdown: watch::Receiver<()>,
) -> impl Future<Output = ()> + Send + 'static + use<> {
    let http = http.clone();
    async move {
        let handoff = Arc::new(Handoff::default());
        let mut io = TrackedIo { stream, unread: Bytes::new(), handoff: Arc::clone(&handoff) };
        let mut draining = false;
        loop {
            let service = {
                let (router, slot, handoff) = (router.clone(), slot.clone(), Arc::clone(&handoff));
                hyper::service::service_fn(move |request| {
                    answer(router.clone(), peer, slot.clone(), Arc::clone(&handoff), request)
                })
            };
            let mut connection = http.serve_connection(TokioIo::new(io), service);
            if draining {
                Pin::new(&mut connection).graceful_shutdown();
            }
            let ended = loop {
                let driven = std::future::poll_fn(|cx| match Pin::new(&mut connection).poll(cx) {
                    Poll::Ready(result) => Poll::Ready(Some(result)),
                    // Taken back only once hyper has nothing left to write (the
                    // end of an earlier answer on this connection).
                    Poll::Pending if handoff.is_ready() => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                });
                tokio::select! {
                    ended = driven => break ended,
                    _ = shutdown.changed(), if !draining => {
                        draining = true;
                        Pin::new(&mut connection).graceful_shutdown();
                    }
                }
            };
            match ended {
                Some(Ok(())) => return,
                Some(Err(error)) => {
                    tracing::debug!(error = %error, client.ip = %peer.ip(), "connection ended with an error");
                    return;
                }
                None => {
                    let parts = connection.into_parts();
                    let mut taken = parts.io.into_inner();
                    match handoff.take() {
                        Some(Takeover::Live(version, response)) => {
                            // A task of its own, so the memory of this one (hyper's
                            // connection state lives in it) is given back.
                            tokio::spawn(stream_live(taken.stream, version, response, shutdown));
                            return;
                        }
                        Some(Takeover::File(head, file)) => {
                            if let Err(error) = send_file(&taken.stream, &head, &file).await {
                                tracing::debug!(error = %error, client.ip = %peer.ip(), "file answer cut off");
                                return;
                            }
                            // What the client sent after that request (pipelined)
                            // is read by the next hyper connection first.
                            taken.unread = parts.read_buf;
                            io = taken;
                        }
                        None => return,
                    }
                }
            }
        }
    }
}

/// Answers one request of a connection through the router, handing live
/// streams and file answers to the connection's task instead of to hyper.
async fn answer(
    router: Router,
    peer: SocketAddr,
    slot: Option<Arc<ConnectionSlot>>,
    handoff: Arc<Handoff>,
    request: Request<Incoming>,
) -> Result<Response<Body>, std::convert::Infallible> {
    let live = is_live_stream(request.uri().path());
    if live && let Some(slot) = &slot {
        slot.release();
    }
    let get = request.method() == Method::GET;
    let version = request.version();
    let keeps_alive = keeps_alive(&request);
    let mut request = request.map(Body::new);
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = router.oneshot(request).await?;
    if live && get && is_event_stream(&response) {
        handoff.put(Takeover::Live(version, response));
    } else if get
        && keeps_alive
        && response.status().is_success()
        && let Some(file) = response.extensions().get::<SendFile>().cloned()
    {
        let (parts, _body) = response.into_parts();
        handoff.put(Takeover::File(response_head(&parts, Framing::Length(file.len)), file));
    } else {
        return Ok(response);
    }
    // hyper never gets an answer: the task takes the socket back and answers
    // itself.
    std::future::pending().await
}

/// Whether the connection stays open after answering `request`: HTTP/1.1
/// without `Connection: close` (the file path writes its own head, which
/// never closes).
fn keeps_alive(request: &Request<Incoming>) -> bool {
    request.version() == Version::HTTP_11 && !crate::http::lists_token(request.headers(), header::CONNECTION, "close")
}

/// Accept errors: a client that gave up before we accepted is nothing; out
/// of descriptors (EMFILE) or anything else is logged, and accepting
/// resumes after a second, once other connections may have closed.
async fn handle_accept_error(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(error.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    tracing::error!(error = %error, "accept error; accepting again in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Whether `response` is a live event stream (not a refusal of one).
fn is_event_stream(response: &Response<Body>) -> bool {
    response.status().is_success()
        && response.headers().get(header::CONTENT_TYPE).is_some_and(|value| value.as_bytes() == b"text/event-stream")
}

/// An answer a connection's task writes itself, not hyper: a live stream
/// (the socket leaves hyper for good) or a file (hyper takes the socket
/// back after it).
enum Takeover {
    Live(Version, Response<Body>),
    /// The response head, then the file's bytes.
    File(Vec<u8>, SendFile),
}

/// A file answer that the connection sends with `sendfile(2)`, from the page
/// cache to the socket, instead of hyper copying its body through user
/// memory (issue #16: nginx's pace on media). The response carrying it as an
/// extension keeps its usual body too, which hyper sends when the answer is
/// not taken over: a `HEAD`, HTTP/1.0, or a request that closes the
/// connection.
#[derive(Debug, Clone)]
pub struct SendFile {
    file: Arc<std::fs::File>,
    offset: u64,
    len: u64,
}

impl SendFile {
    /// The `len` bytes of `file` from `offset` on. The file may be shared:
    /// `sendfile` reads at an offset of its own, never the file's position.
    pub fn new(file: Arc<std::fs::File>, offset: u64, len: u64) -> Self {
        SendFile { file, offset, len }
    }
}

/// The answer on its way from the service to the connection's task, and
/// whether hyper is waiting to write (then it still holds bytes of an
/// earlier answer, and the socket is not taken yet).
#[derive(Default)]
struct Handoff {
    response: Mutex<Option<Takeover>>,
    write_blocked: AtomicBool,
}

impl Handoff {
    fn put(&self, takeover: Takeover) {
        *self.response.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(takeover);
    }

    fn take(&self) -> Option<Takeover> {
        self.response.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    fn is_ready(&self) -> bool {
        !self.write_blocked.load(Ordering::Acquire)
            && self.response.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_some()
    }
}

/// The connection's socket as hyper sees it, noting whether the last write
/// had to wait (hyper writes all it buffered unless a write waits). Bytes
/// the previous hyper connection had read but not parsed (`unread`) are
/// read first.
struct TrackedIo {
    stream: TcpStream,
    unread: Bytes,
    handoff: Arc<Handoff>,
}

impl TrackedIo {
    fn note<T>(&self, poll: Poll<T>) -> Poll<T> {
        self.handoff.write_blocked.store(poll.is_pending(), Ordering::Release);
        poll
    }
}

impl AsyncRead for TrackedIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        if !self.unread.is_empty() {
            let n = self.unread.len().min(buf.remaining());
            buf.put_slice(&self.unread.split_to(n));
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.note(poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.note(poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Writes a live stream's `response` on `stream` until the stream ends or
/// the client hangs up: chunked for HTTP/1.1, delimited by the close for
/// HTTP/1.0. `_drain` keeps a graceful shutdown waiting until it ends.
async fn stream_live(mut stream: TcpStream, version: Version, response: Response<Body>, _drain: watch::Receiver<()>) {
    let chunked = version != Version::HTTP_10 && version != Version::HTTP_09;
    let (parts, body) = response.into_parts();
    let head = response_head(&parts, if chunked { Framing::Chunked } else { Framing::UntilClose });
    drop(parts);
    if stream.write_all(&head).await.is_err() {
        return;
    }
    drop(head);
    let mut frames = body.into_data_stream();
    loop {
        let next = tokio::select! {
            next = frames.next() => next,
            () = hung_up(&stream) => return,
        };
        let written = match next {
            // An empty chunk would end a chunked body.
            Some(Ok(data)) if data.is_empty() => Ok(()),
            Some(Ok(data)) => write_frame(&mut stream, &data, chunked).await,
            // As hyper does: a body that fails is cut off, not ended.
            Some(Err(_)) => return,
            None => {
                if chunked {
                    let _ = stream.write_all(b"0\r\n\r\n").await;
                }
                return;
            }
        };
        if written.is_err() {
            return;
        }
    }
}

/// How the body after a head written by [`response_head`] ends.
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// Chunked; the connection ends with the body (a live stream).
    Chunked,
    /// Delimited by closing the connection (a live stream to HTTP/1.0).
    UntilClose,
    /// This many bytes; the connection stays open for the next request.
    Length(u64),
}

/// The status line and headers of `parts`, with the framing and `Date`
/// hyper would have added.
fn response_head(parts: &axum::http::response::Parts, framing: Framing) -> Vec<u8> {
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(parts.status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(parts.status.canonical_reason().unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if [header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::CONNECTION, header::DATE].contains(name) {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"date: ");
    head.extend_from_slice(httpdate::fmt_http_date(SystemTime::now()).as_bytes());
    head.extend_from_slice(b"\r\n");
    match framing {
        Framing::Chunked => head.extend_from_slice(b"connection: close\r\ntransfer-encoding: chunked\r\n"),
        Framing::UntilClose => head.extend_from_slice(b"connection: close\r\n"),
        Framing::Length(len) => {
            head.extend_from_slice(b"content-length: ");
            head.extend_from_slice(len.to_string().as_bytes());
            head.extend_from_slice(b"\r\n");
        }
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// Writes `head`, then the file's range with `sendfile(2)`: the kernel
/// moves page-cache pages to the socket, and nothing is copied through
/// this process. The head goes with `MSG_MORE`, so it leaves in the first
/// segment of the file's bytes rather than in a segment of its own.
async fn send_file(stream: &TcpStream, head: &[u8], file: &SendFile) -> std::io::Result<()> {
    let mut head = head;
    while !head.is_empty() {
        match when_writable(stream, || rustix::net::send(stream, head, rustix::net::SendFlags::MORE)).await? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            sent => head = &head[sent..],
        }
    }
    let mut offset = file.offset;
    let end = file.offset.saturating_add(file.len);
    while offset < end {
        let left = usize::try_from(end - offset).unwrap_or(usize::MAX);
        // 0 before the end: the file is shorter than its answer said, and
        // the client must not take what it got for the whole.
        if when_writable(stream, || rustix::fs::sendfile(stream, &*file.file, Some(&mut offset), left)).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(())
}

/// Runs the non-blocking write `write` once the socket takes it.
async fn when_writable(
    stream: &TcpStream,
    mut write: impl FnMut() -> rustix::io::Result<usize>,
) -> std::io::Result<usize> {
    loop {
        stream.writable().await?;
        match stream.try_io(tokio::io::Interest::WRITABLE, || write().map_err(std::io::Error::from)) {
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            done => return done,
        }
    }
}

/// Writes one frame (one chunk when `chunked`), usually in one system call.
async fn write_frame(stream: &mut TcpStream, data: &Bytes, chunked: bool) -> std::io::Result<()> {
    if !chunked {
        return stream.write_all(data).await;
    }
    let size = format!("{:x}\r\n", data.len());
    let parts: [&[u8]; 3] = [size.as_bytes(), data, b"\r\n"];
    let mut written =
        stream.write_vectored(&[IoSlice::new(parts[0]), IoSlice::new(parts[1]), IoSlice::new(parts[2])]).await?;
    if written == 0 {
        return Err(std::io::ErrorKind::WriteZero.into());
    }
    // A full socket took part of it: the rest, piece by piece.
    for part in parts {
        if written >= part.len() {
            written -= part.len();
            continue;
        }
        stream.write_all(&part[written..]).await?;
        written = 0;
    }
    Ok(())
}

/// Resolves when the client closes its end (or the socket fails). A live
/// client has nothing to send; whatever it sends is read and dropped.
async fn hung_up(stream: &TcpStream) {
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        let mut sink = [0u8; 64];
        match stream.try_read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// Open connections per client address.
#[derive(Debug, Clone, Default)]
struct ConnectionCounts(Arc<Mutex<HashMap<IpAddr, usize>>>);

impl ConnectionCounts {
    /// A place for one more connection from `ip`, if it holds fewer than `cap`.
    fn take(&self, ip: IpAddr, cap: usize) -> Option<ConnectionSlot> {
        let mut counts = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = counts.entry(ip).or_insert(0);
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot { counts: self.clone(), ip, released: AtomicBool::new(false) })
    }
}

/// One connection's place in its address's count, given back when the
/// connection closes or turns into a live stream.
#[derive(Debug)]
struct ConnectionSlot {
    counts: ConnectionCounts,
    ip: IpAddr,
    released: AtomicBool,
}

impl ConnectionSlot {
    fn release(&self) {
        if self.released.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut counts = self.counts.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_per_address_and_given_back_once() {
        let counts = ConnectionCounts::default();
        let ip: IpAddr = "203.0.113.7".parse().expect("ip");
        let other: IpAddr = "203.0.113.8".parse().expect("ip");
        let first = counts.take(ip, 2).expect("first");
        let second = counts.take(ip, 2).expect("second");
        assert!(counts.take(ip, 2).is_none(), "a third is over the cap");
        assert!(counts.take(other, 2).is_some(), "another address has its own count");
        second.release();
        second.release();
        drop(second);
        let third = counts.take(ip, 2).expect("a released place is free");
        assert!(counts.take(ip, 2).is_none(), "released once, not twice");
        drop((first, third));
        assert!(counts.0.lock().expect("lock").get(&ip).is_none(), "no entry is kept for an address with none");
    }
}
