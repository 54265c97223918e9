//! Request ids (`X-Request-Id`): a per-process random prefix and a counter,
//! so ids are unique without a random draw per request. An id the client
//! sent is kept, and the id is echoed on the response.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};

/// The layers that give every request an id (outer) and echo it on the
/// response (inner).
pub fn request_ids() -> (SetRequestIdLayer<RequestIds>, PropagateRequestIdLayer) {
    (SetRequestIdLayer::x_request_id(RequestIds::default()), PropagateRequestIdLayer::x_request_id())
}

/// The id source: prefix and counter.
#[derive(Clone)]
pub struct RequestIds {
    prefix: u32,
    next: Arc<AtomicU64>,
}

impl Default for RequestIds {
    fn default() -> Self {
        RequestIds { prefix: rand::random(), next: Arc::new(AtomicU64::new(1)) }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{:08x}-{n:x}", self.prefix)).ok().map(RequestId::new)
    }
}
