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
//! A media answer leaves hyper for its body. hyper writes a body from our
//! memory with `write(2)`, one copy of every byte into the socket; nginx
//! hands page-cache pages to the socket with `sendfile(2)`. `http::media`
//! marks a complete `GET` answer with a [`FileBody`] (file, offset,
//! length) beside the body holding the same bytes; the service hands such
//! an answer to the connection's task the same way, which writes the head
//! (with `MSG_MORE`, so head and file leave in full segments) and sends the
//! range with `sendfile(2)` (rustix's safe wrapper), then starts hyper again
//! on the same socket, first with the bytes hyper had read past the request
//! (a pipelined request is not lost). A client that asked for the
//! connection's close (or speaks HTTP/1.0) gets `Connection: close` and
//! the close. If the file cannot be opened, the body is written as is.

use std::collections::HashMap;
use std::future::Future;
use std::io::IoSlice;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
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
    let http = Arc::new(http);
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
        tokio::spawn(serve_connection(Arc::clone(&http), stream, peer, router.clone(), slot, watcher.clone()));
    }
    drop(listener);
    drop(watcher);
    let _ = drain.send(());
    drain.closed().await;
    Ok(())
}

/// Serves one connection: with hyper, except for the answers a request
/// hands over (see [`Takeover`]); after a file answer on a kept-alive
/// connection, hyper goes on with the bytes it had read past that request.
fn serve_connection(
    http: Arc<hyper::server::conn::http1::Builder>,
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    slot: Option<Arc<ConnectionSlot>>,
    mut shutdown: watch::Receiver<()>,
) -> impl Future<Output = ()> + Send + 'static {
    let handoff = Arc::new(Handoff::default());
    let mut service = {
        let handoff = Arc::clone(&handoff);
        hyper::service::service_fn(move |request: Request<Incoming>| {
            let live = is_live_stream(request.uri().path());
            if live && let Some(slot) = &slot {
                slot.release();
            }
            // Only GET answers have a body worth taking over.
            let handoff = (request.method() == Method::GET).then(|| Arc::clone(&handoff));
            let version = request.version();
            let keep_alive = wants_keep_alive(&request);
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            let answer = router.clone().oneshot(request);
            async move {
                let response = answer.await?;
                let Some(handoff) = handoff else { return Ok(response) };
                let takeover = if live && is_event_stream(&response) {
                    Takeover::Live { version, response }
                } else if let Some(file) = file_body(&response) {
                    Takeover::File { response, file, keep_alive }
                } else {
                    return Ok(response);
                };
                handoff.put(takeover);
                // hyper never gets this answer: the connection's task takes
                // the socket back and writes it.
                std::future::pending::<Result<Response<Body>, std::convert::Infallible>>().await
            }
        })
    };
    async move {
        let mut io = TrackedIo { stream, unread: Bytes::new(), handoff: Arc::clone(&handoff) };
        let mut draining = false;
        loop {
            let mut connection = http.serve_connection(TokioIo::new(io), service);
            if draining {
                Pin::new(&mut connection).graceful_shutdown();
            }
            let ended = loop {
                let driven = std::future::poll_fn(|cx| match Pin::new(&mut connection).poll(cx) {
                    Poll::Ready(result) => Poll::Ready(Some(result)),
                    // Taken back only once hyper has nothing left to write
                    // (the end of an earlier answer on this connection).
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
                None => {}
            }
            let parts = connection.into_parts();
            service = parts.service;
            let mut tracked = parts.io.into_inner();
            // What hyper read past the request comes before what it had not
            // read yet.
            tracked.unread = if tracked.unread.is_empty() {
                parts.read_buf
            } else {
                [parts.read_buf, tracked.unread].concat().into()
            };
            match handoff.take() {
                None => return,
                Some(Takeover::Live { version, response }) => {
                    // A task of its own, so the memory of this one (hyper's
                    // connection state lives in it) is given back.
                    tokio::spawn(stream_live(tracked.stream, version, response, shutdown));
                    return;
                }
                Some(Takeover::File { response, file, keep_alive }) => {
                    draining |= shutdown.has_changed().unwrap_or(true);
                    let keep_alive = keep_alive && !draining;
                    let sent = send_file_answer(&mut tracked.stream, response, &file, keep_alive).await;
                    if let Err(error) = sent {
                        tracing::debug!(error = %error, client.ip = %peer.ip(), "media answer cut off");
                        return;
                    }
                    if !keep_alive {
                        return;
                    }
                    io = tracked;
                }
            }
        }
    }
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

/// A response body the server may send straight from a file with
/// `sendfile(2)`, so its bytes are not copied through this process: set by
/// `http::media` as a response extension beside a body that holds the same
/// bytes (served as usual by anything but [`serve`]).
#[derive(Debug, Clone)]
pub struct FileBody {
    /// The file.
    pub path: PathBuf,
    /// Where the body starts in it.
    pub offset: u64,
    /// The body's length (the response's `Content-Length`).
    pub len: u64,
}

/// The file body of a complete, non-empty media answer, if it has one.
fn file_body(response: &Response<Body>) -> Option<FileBody> {
    let file = response.extensions().get::<FileBody>()?;
    let declared = response.headers().get(header::CONTENT_LENGTH)?.to_str().ok()?.parse::<u64>().ok()?;
    (response.status().is_success() && declared == file.len && file.len > 0).then(|| file.clone())
}

/// Whether the client lets the connection carry another request after this
/// one (HTTP/1.1 without `Connection: close`). HTTP/1.0 clients get their
/// file answer and the close.
fn wants_keep_alive<B>(request: &Request<B>) -> bool {
    request.version() == Version::HTTP_11
        && !request.headers().get_all(header::CONNECTION).iter().any(|value| {
            value.to_str().is_ok_and(|text| text.split(',').any(|token| token.trim().eq_ignore_ascii_case("close")))
        })
}

/// An answer the connection's task writes instead of hyper.
enum Takeover {
    /// A live stream: moves to a task of its own, without hyper's buffers.
    Live { version: Version, response: Response<Body> },
    /// A media answer whose body is sent from the file.
    File { response: Response<Body>, file: FileBody, keep_alive: bool },
}

/// An answer on its way from the service to the connection's task, and
/// whether hyper is waiting to write (then it still holds bytes of an
/// earlier answer, and the socket is not taken yet).
#[derive(Default)]
struct Handoff {
    takeover: Mutex<Option<Takeover>>,
    handed: AtomicBool,
    write_blocked: AtomicBool,
}

impl Handoff {
    fn put(&self, takeover: Takeover) {
        *self.takeover.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(takeover);
        self.handed.store(true, Ordering::Release);
    }

    fn take(&self) -> Option<Takeover> {
        self.handed.store(false, Ordering::Release);
        self.takeover.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    fn is_ready(&self) -> bool {
        self.handed.load(Ordering::Acquire) && !self.write_blocked.load(Ordering::Acquire)
    }
}

/// The connection's socket as hyper sees it, noting whether the last write
/// had to wait (hyper writes all it buffered unless a write waits).
/// Bytes hyper read past a taken-over request are read again first.
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
    let head = response_head(&parts, if chunked { Framing::Chunked } else { Framing::Close }, false);
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

/// How the end of a body written outside hyper is known.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `Transfer-Encoding: chunked` (a live stream to an HTTP/1.1 client).
    Chunked,
    /// The connection's close (a live stream to an HTTP/1.0 client).
    Close,
    /// The response's own `Content-Length` (a file).
    Length,
}

/// The status line and headers of `parts`, with the framing and `Date`
/// hyper would have added, and `Connection: close` unless the connection
/// stays open after this answer (`keep_alive`, only with a length).
fn response_head(parts: &axum::http::response::Parts, framing: Framing, keep_alive: bool) -> Vec<u8> {
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(parts.status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(parts.status.canonical_reason().unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        let framing_header = *name == header::CONTENT_LENGTH && framing != Framing::Length;
        if framing_header || [header::TRANSFER_ENCODING, header::CONNECTION, header::DATE].contains(name) {
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
    if !(keep_alive && framing == Framing::Length) {
        head.extend_from_slice(b"connection: close\r\n");
    }
    if framing == Framing::Chunked {
        head.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// Writes a media answer: its head, then the body from the file with
/// `sendfile(2)`, or from the response's own body when the file cannot be
/// opened (or off Linux).
///
/// The file is opened here, on the runtime's thread, as nginx does: the
/// name was just found in the memory cache, so its directory entry and
/// pages were read moments ago.
async fn send_file_answer(
    stream: &mut TcpStream,
    response: Response<Body>,
    file: &FileBody,
    keep_alive: bool,
) -> std::io::Result<()> {
    let opened = std::fs::File::open(&file.path);
    let (parts, body) = response.into_parts();
    let head = response_head(&parts, Framing::Length, keep_alive);
    drop(parts);
    if let Ok(opened) = &opened {
        write_head_before_more(stream, &head).await?;
        if send_range(stream, opened, file.offset, file.len).await? {
            return Ok(());
        }
        // Nothing was sent (sendfile is not available): the body follows.
    } else {
        stream.write_all(&head).await?;
    }
    let mut data = body.into_data_stream();
    let mut left = file.len;
    while let Some(chunk) = data.next().await {
        let chunk = chunk.map_err(std::io::Error::other)?;
        left = left.saturating_sub(chunk.len() as u64);
        stream.write_all(&chunk).await?;
    }
    if left > 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// Writes `head` telling the kernel more follows at once (`MSG_MORE`), so
/// the head and the start of the file leave in full segments.
#[cfg(target_os = "linux")]
async fn write_head_before_more(stream: &mut TcpStream, head: &[u8]) -> std::io::Result<()> {
    let mut written = 0;
    while written < head.len() {
        let sent = stream
            .async_io(tokio::io::Interest::WRITABLE, || {
                rustix::net::send(&*stream, &head[written..], rustix::net::SendFlags::MORE)
                    .map_err(std::io::Error::from)
            })
            .await?;
        if sent == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        written += sent;
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
async fn write_head_before_more(stream: &mut TcpStream, head: &[u8]) -> std::io::Result<()> {
    stream.write_all(head).await
}

/// Sends `len` bytes of `file` from `offset` with `sendfile(2)`: the kernel
/// hands page-cache pages to the socket, nothing is copied through this
/// process. `Ok(false)` when nothing was sent because the call is not
/// available here; an error once some bytes went (the answer is cut off).
#[cfg(target_os = "linux")]
async fn send_range(stream: &mut TcpStream, file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<bool> {
    let start = offset;
    let mut offset = offset;
    let end = offset + len;
    while offset < end {
        let count = usize::try_from(end - offset).unwrap_or(usize::MAX).min(1 << 30);
        let sent = stream
            .async_io(tokio::io::Interest::WRITABLE, || {
                rustix::fs::sendfile(&*stream, file, Some(&mut offset), count).map_err(std::io::Error::from)
            })
            .await;
        let sent = match sent {
            // A file system without sendfile support: nothing went yet.
            Err(error) if offset == start && unsupported(&error) => return Ok(false),
            sent => sent?,
        };
        if sent == 0 {
            // The file is shorter than its answer said: cut the answer off.
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(true)
}

/// `sendfile(2)` refused the file or the socket as such.
#[cfg(target_os = "linux")]
fn unsupported(error: &std::io::Error) -> bool {
    use rustix::io::Errno;
    [Errno::INVAL, Errno::NOSYS, Errno::OPNOTSUPP]
        .iter()
        .any(|errno| error.raw_os_error() == Some(errno.raw_os_error()))
}

#[cfg(not(target_os = "linux"))]
async fn send_range(_stream: &mut TcpStream, _file: &std::fs::File, _offset: u64, _len: u64) -> std::io::Result<bool> {
    Ok(false)
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

    fn parts(headers: &[(&'static str, &'static str)]) -> axum::http::response::Parts {
        let mut response = Response::new(());
        for (name, value) in headers {
            response.headers_mut().insert(*name, axum::http::HeaderValue::from_static(value));
        }
        response.into_parts().0
    }

    #[test]
    fn heads_written_outside_hyper_carry_the_framing_of_their_body() {
        let live = parts(&[("content-type", "text/event-stream"), ("content-length", "0"), ("connection", "x")]);
        let head = String::from_utf8(response_head(&live, Framing::Chunked, true)).expect("ascii");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ndate: "), "{head}");
        assert!(head.ends_with("\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n"), "{head}");
        assert!(!head.contains("content-length") && !head.contains(": x"), "{head}");

        let file = parts(&[("content-length", "157"), ("etag", "\"e\"")]);
        let kept = String::from_utf8(response_head(&file, Framing::Length, true)).expect("ascii");
        assert!(kept.contains("content-length: 157\r\n") && kept.contains("etag: \"e\"\r\n"), "{kept}");
        assert!(!kept.contains("connection:") && !kept.contains("transfer-encoding"), "{kept}");
        let closing = String::from_utf8(response_head(&file, Framing::Length, false)).expect("ascii");
        assert!(closing.contains("connection: close\r\n"), "{closing}");
    }

    #[test]
    fn only_http_1_1_without_close_keeps_the_connection() {
        let request = |version, connection: Option<&'static str>| {
            let mut request = Request::builder().version(version);
            if let Some(value) = connection {
                request = request.header(header::CONNECTION, value);
            }
            wants_keep_alive(&request.body(()).expect("request"))
        };
        assert!(request(Version::HTTP_11, None));
        assert!(request(Version::HTTP_11, Some("keep-alive")));
        assert!(!request(Version::HTTP_11, Some("Close")));
        assert!(!request(Version::HTTP_11, Some("te, close")));
        assert!(!request(Version::HTTP_10, None));
        assert!(!request(Version::HTTP_10, Some("keep-alive")));
    }

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
