//! The one place errors become HTTP responses:
//! `{"error": {"code": "snake_case_code", "message": "human text"}}`.
//! 5xx bodies stay generic; their cause is logged here, once.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::comment::CommentError;
use crate::domain::vote::VoteRefusal;
use crate::store::StoreError;
use crate::store::writer::{AccountError, SocialError, TournamentError, WriteError};

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

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after_secs: None }
    }

    /// 400 `invalid_request`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 401 `auth_required`.
    pub fn auth_required() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "auth_required", "sign in first")
    }

    /// 401 `invalid_credentials`.
    pub fn invalid_credentials() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "wrong username or password")
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 403 `captcha_required`.
    pub fn captcha_required() -> Self {
        Self::new(StatusCode::FORBIDDEN, "captcha_required", "solve the challenge at /api/captcha/challenge first")
    }

    /// 403 `captcha_required` with the reason the solution failed.
    pub fn captcha_required_because(reason: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "captcha_required", format!("challenge not accepted: {reason}"))
    }

    /// 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 429 `rate_limited` with a retry hint.
    pub fn rate_limited(retry_after_secs: u64, message: impl Into<String>) -> Self {
        ApiError {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
        }
    }

    /// 403 `csrf_failed`.
    pub fn csrf_failed() -> Self {
        Self::new(StatusCode::FORBIDDEN, "csrf_failed", "cross-site request refused")
    }

    /// 413 `payload_too_large`.
    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    /// 415 `unsupported_media_type`.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message)
    }

    /// 503 `unavailable` with a retry hint.
    pub fn unavailable() -> Self {
        ApiError {
            retry_after_secs: Some(1),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the server is busy; try again shortly")
        }
    }

    /// 500 `internal`, logging the cause; the client sees nothing of it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side")
    }

    /// The wire code, for pages that show errors as text.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The human message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<VoteRefusal> for ApiError {
    fn from(refusal: VoteRefusal) -> Self {
        let message = refusal.to_string();
        match refusal {
            VoteRefusal::AuthRequired => Self::new(StatusCode::UNAUTHORIZED, "auth_required", message),
            VoteRefusal::ClipNotFound | VoteRefusal::NoVoteToRevoke => Self::not_found(message),
            VoteRefusal::NotVotable => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "not_votable", message),
            VoteRefusal::SlotClosed => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "slot_closed", message),
            VoteRefusal::AlreadyVoted => Self::new(StatusCode::CONFLICT, "already_voted", message),
            VoteRefusal::SpecialVoteUsed => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "special_vote_used", message),
            VoteRefusal::DailyLimitReached => Self::new(StatusCode::TOO_MANY_REQUESTS, "daily_limit_reached", message),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        let message = error.to_string();
        match error {
            AccountError::UsernameTaken => Self::new(StatusCode::BAD_REQUEST, "username_taken", message),
            AccountError::UserNotFound => Self::not_found(message),
            AccountError::Banned => Self::new(StatusCode::FORBIDDEN, "banned", message),
        }
    }
}

impl From<TournamentError> for ApiError {
    fn from(error: TournamentError) -> Self {
        let message = error.to_string();
        match error {
            TournamentError::NotFound(_) => Self::not_found(message),
            TournamentError::Conflict(_) => Self::conflict(message),
            TournamentError::Invalid(_) => Self::invalid(message),
        }
    }
}

impl From<CommentError> for ApiError {
    fn from(error: CommentError) -> Self {
        let message = error.to_string();
        match error {
            CommentError::Invalid(_) => Self::invalid(message),
            CommentError::NotFound(_) => Self::not_found(message),
            CommentError::ReplyTooDeep => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "reply_too_deep", message),
            CommentError::Forbidden => Self::forbidden(message),
        }
    }
}

impl From<SocialError> for ApiError {
    fn from(error: SocialError) -> Self {
        let message = error.to_string();
        match error {
            SocialError::NotFound(_) => Self::not_found(message),
            SocialError::Invalid(_) => Self::invalid(message),
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Refused(refusal) => refusal.into(),
            WriteError::Account(error) => error.into(),
            WriteError::Tournament(error) => error.into(),
            WriteError::Comment(error) => error.into(),
            WriteError::Social(error) => error.into(),
            WriteError::Unavailable => Self::unavailable(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::internal(error)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::internal(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code, message: self.message } };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for (refusal, status, code) in cases {
            let error = ApiError::from(refusal);
            assert_eq!((error.status.as_u16(), error.code), (status, code));
        }
    }
}
