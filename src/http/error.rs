//! The one place service errors become HTTP: [`status`] maps an
//! [`ErrorKind`] to its status code, and a [`ServiceError`] answers as
//! `{"error": {"code": "snake_case_code", "message": "human text"}}` on the
//! API (and on page posts that fail before any page can show it). Pages
//! that show an error inside HTML take the same status from [`status`].
//! 5xx bodies stay generic; their cause was logged once, when the error was
//! made.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::response::PRIVATE;
use crate::service::{ErrorKind, ServiceError};

/// The body of every JSON error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case code for programs, e.g. `invalid_request`, `auth_required`, `rate_limited`.
    #[schema(example = "invalid_request")]
    code: &'static str,
    /// Human-readable text; 5xx messages are generic.
    message: String,
}

/// The status an error of this kind answers with.
pub fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// 403 `csrf_failed`: a cross-site request, or a form without this
/// session's token.
pub fn csrf_failed() -> ServiceError {
    ServiceError::new(ErrorKind::Forbidden, "csrf_failed", "cross-site request refused")
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        let status = status(self.kind());
        let retry_after = self.retry_after_secs();
        let code = self.code();
        let body = ErrorBody { error: ErrorDetail { code, message: self.message().to_owned() } };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, PRIVATE);
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::vote::VoteRefusal;

    #[test]
    fn refusals_map_to_the_documented_statuses() {
        let cases = [
            (VoteRefusal::AlreadyVoted, 409, "already_voted"),
            (VoteRefusal::DailyLimitReached, 429, "daily_limit_reached"),
            (VoteRefusal::NotVotable, 422, "not_votable"),
            (VoteRefusal::SlotClosed, 422, "slot_closed"),
            (VoteRefusal::SpecialVoteUsed, 422, "special_vote_used"),
            (VoteRefusal::ClipNotFound, 404, "not_found"),
            (VoteRefusal::AuthRequired, 401, "auth_required"),
        ];
        for (refusal, expected, code) in cases {
            let error = ServiceError::from(refusal);
            assert_eq!((status(error.kind()).as_u16(), error.code()), (expected, code));
        }
    }

    #[test]
    fn a_refusal_with_a_wait_says_so_and_is_never_cached() {
        let response = ServiceError::rate_limited(7, "slow down").into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "private, no-store");
        assert_eq!(csrf_failed().into_response().status(), StatusCode::FORBIDDEN);
    }
}
