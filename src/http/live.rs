//! `GET /api/live`: the live hub's event stream as Server-Sent Events.
//! Responses carry `Cache-Control: no-cache` and `X-Accel-Buffering: no`, so
//! buffering proxies (nginx) pass events through as they come.

use std::sync::Arc;

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

use crate::http::response::STREAM;
use crate::live::LiveHub;

/// An SSE response for one subscriber resuming after `last_event_id` (the
/// client's `Last-Event-ID` header), if any.
pub fn subscribe(hub: &Arc<LiveHub>, last_event_id: Option<&str>) -> Response {
    let body = Body::from_stream(hub.event_stream(last_event_id));
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, STREAM);
    headers.insert(HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no"));
    response
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use axum::Router;
    use axum::routing::get;

    use super::*;
    use crate::live::tests::{change, hub};

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
        let app = Router::new().route(
            "/live",
            get(move |headers: axum::http::HeaderMap| async move {
                subscribe(&hub, headers.get("last-event-id").and_then(|v| v.to_str().ok()))
            }),
        );
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
    async fn sse_clients_receive_counts_and_are_counted() {
        let hub = Arc::new(hub());
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
        let text = read_until(&mut response, "\n\n").await;
        assert!(text.contains("event: snapshot\n"), "got: {text}");

        hub.counts_changed(&[change(7, 1, 1)]);
        hub.counts_changed(&[change(7, 2, 3)]);
        let text = read_until(&mut response, "event: top").await;
        assert!(text.contains("event: counts\n"), "got: {text}");
        assert!(text.contains(r#"data: {"clips":[{"id":7,"voteCount":2,"weightedScore":3}]}"#), "got: {text}");

        // A reconnect naming the snapshot's id gets the counts it missed.
        let seen = hub.last_event_id() - 2;
        let Ok(mut resumed) = client.get(&url).header("Last-Event-ID", seen.to_string()).send().await else {
            panic!("reconnect failed")
        };
        let text = read_until(&mut resumed, "event: top").await;
        assert!(text.starts_with(&format!("id: {}\nevent: counts\n", seen + 1)), "got: {text}");

        drop(response);
        drop(resumed);
        drop(client);
        assert!(
            eventually(Duration::from_secs(5), || hub.clients() == 0).await,
            "client still counted after disconnect: {}",
            hub.clients()
        );
    }
}
