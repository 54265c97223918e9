//! Every error under `/api/` in the one JSON shape, including the ones no
//! handler made: a wrong method (405, `Allow` kept), the request timeout
//! (a stalled body, 503), a path segment that is not UTF-8 (400) and any
//! other rejection raised before a handler runs. A response that already
//! carries a JSON body passes untouched; so does everything outside `/api/`.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::service::{ErrorKind, ServiceError};

/// Middleware: rewrites a bodiless or plain-text `/api/` error into the
/// JSON error shape, keeping its status and headers such as `Allow`.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let is_api = is_api_path(request.uri().path());
    let response = next.run(request).await;
    if !is_api || !(response.status().is_client_error() || response.status().is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let status = parts.status;
    let mut answer = error_for(status).into_response();
    *answer.status_mut() = status;
    // Headers the error made (`Allow`, `Retry-After`…) stay; the body's own go.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    // The new body is not the (perhaps compressed) one it replaces.
    parts.headers.remove(header::CONTENT_ENCODING);
    for (name, value) in answer.headers() {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(parts, answer.into_body())
}

/// Whether `path` is the API's.
fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The JSON error a bare status stands for.
fn error_for(status: StatusCode) -> ServiceError {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => ServiceError::new(
            ErrorKind::Invalid,
            "method_not_allowed",
            "this route does not take that method; see the Allow header",
        ),
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => {
            ServiceError::new(ErrorKind::Unavailable, "request_timeout", "the request took too long (a stalled body?)")
                .retry_after(1)
        }
        StatusCode::NOT_FOUND => ServiceError::not_found("no such API route"),
        StatusCode::PAYLOAD_TOO_LARGE => ServiceError::payload_too_large("the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ServiceError::unsupported_media_type("unsupported content type"),
        status if status.is_server_error() => ServiceError::internal(format!("unhandled {status}")),
        _ => ServiceError::invalid("the request could not be read"),
    }
}
