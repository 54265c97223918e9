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

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use ipnet::IpNet;
use tokio::net::TcpListener;
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
    let counts = ConnectionCounts::default();
    let graceful = GracefulShutdown::new();
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
        let router = router.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            if let Some(slot) = &slot
                && is_live_stream(request.uri().path())
            {
                slot.release();
            }
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, client.ip = %peer.ip(), "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
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
