//! The error every service returns: a kind (what sort of failure, which the
//! HTTP layer alone turns into a status), a stable snake_case code for
//! programs, a human message, and for refusals that pass an optional wait.
//! The conversions from the writer's, the store's and the engines' errors
//! live here, so a rule refused anywhere below reaches every caller (JSON,
//! pages, admin socket, CLI) with the same code and words.

use std::fmt;

use crate::domain::comment::CommentError;
use crate::domain::vote::VoteRefusal;
use crate::media::upload::UploadError;
use crate::search::SearchError;
use crate::store::StoreError;
use crate::store::writer::{AccountError, SocialError, TournamentError, WriteError};

/// What sort of failure an error is. Only `http::error` maps kinds to
/// statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is malformed or breaks a rule about its shape.
    Invalid,
    /// Nobody is signed in, or the credentials are wrong.
    Unauthorized,
    /// The caller may not do this (banned, not an admin, no captcha pass…).
    Forbidden,
    /// The thing does not exist (or is not visible to the caller).
    NotFound,
    /// The request does not fit the current state.
    Conflict,
    /// Well-formed but refused by a rule about the thing (a closed slot…).
    Unprocessable,
    /// The body is larger than allowed.
    PayloadTooLarge,
    /// The body is not of a type the server takes.
    UnsupportedMediaType,
    /// Too many requests, or a budget is spent.
    RateLimited,
    /// The server is busy or its storage refuses writes; retry shortly.
    Unavailable,
    /// The server failed; the cause is logged, never shown.
    Internal,
}

/// A refused or failed request, ready for any caller to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    kind: ErrorKind,
    code: &'static str,
    message: String,
    retry_after_secs: Option<u64>,
}

impl ServiceError {
    /// An error of `kind` with its wire `code` and human `message`.
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        ServiceError { kind, code, message: message.into(), retry_after_secs: None }
    }

    /// `invalid_request`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, "invalid_request", message)
    }

    /// `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, "not_found", message)
    }

    /// `auth_required`: sign in first.
    pub fn auth_required() -> Self {
        Self::new(ErrorKind::Unauthorized, "auth_required", "sign in first")
    }

    /// `invalid_credentials`.
    pub fn invalid_credentials() -> Self {
        Self::new(ErrorKind::Unauthorized, "invalid_credentials", "wrong username or password")
    }

    /// `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, "forbidden", message)
    }

    /// `captcha_required`: the voter holds no pass.
    pub fn captcha_required() -> Self {
        Self::new(ErrorKind::Forbidden, "captcha_required", "solve the challenge at /api/captcha/challenge first")
    }

    /// `captcha_required` with the reason a solution failed.
    pub fn captcha_required_because(reason: &str) -> Self {
        Self::new(ErrorKind::Forbidden, "captcha_required", format!("challenge not accepted: {reason}"))
    }

    /// `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, "conflict", message)
    }

    /// `rate_limited` with a wait of at least one second.
    pub fn rate_limited(retry_after_secs: u64, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::RateLimited, "rate_limited", message).retry_after(retry_after_secs.max(1))
    }

    /// `payload_too_large`.
    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PayloadTooLarge, "payload_too_large", message)
    }

    /// `unsupported_media_type`.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::UnsupportedMediaType, "unsupported_media_type", message)
    }

    /// `unavailable`, retry in a second.
    pub fn unavailable() -> Self {
        Self::new(ErrorKind::Unavailable, "unavailable", "the server is busy; try again shortly").retry_after(1)
    }

    /// `internal`, logging the cause once, here; callers see a generic message.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(ErrorKind::Internal, "internal", "something went wrong on our side")
    }

    /// The same error, asking the caller to wait `secs` before retrying.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// What sort of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable wire code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The human message (generic for internal errors).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Seconds to wait before retrying, when that helps.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_secs
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ServiceError {}

impl From<VoteRefusal> for ServiceError {
    fn from(refusal: VoteRefusal) -> Self {
        let message = refusal.to_string();
        let (kind, code) = match refusal {
            VoteRefusal::AuthRequired => (ErrorKind::Unauthorized, "auth_required"),
            VoteRefusal::ClipNotFound | VoteRefusal::NoVoteToRevoke => (ErrorKind::NotFound, "not_found"),
            VoteRefusal::NotVotable => (ErrorKind::Unprocessable, "not_votable"),
            VoteRefusal::SlotClosed => (ErrorKind::Unprocessable, "slot_closed"),
            VoteRefusal::AlreadyVoted => (ErrorKind::Conflict, "already_voted"),
            VoteRefusal::SpecialVoteUsed => (ErrorKind::Unprocessable, "special_vote_used"),
            VoteRefusal::DailyLimitReached => (ErrorKind::RateLimited, "daily_limit_reached"),
        };
        Self::new(kind, code, message)
    }
}

impl From<AccountError> for ServiceError {
    fn from(error: AccountError) -> Self {
        let message = error.to_string();
        match error {
            AccountError::UsernameTaken => Self::new(ErrorKind::Invalid, "username_taken", message),
            AccountError::UserNotFound => Self::not_found(message),
            AccountError::Banned => Self::new(ErrorKind::Forbidden, "banned", message),
            AccountError::OwnAdminRights | AccountError::PromotionNotConfirmed => Self::conflict(message),
        }
    }
}

impl From<TournamentError> for ServiceError {
    fn from(error: TournamentError) -> Self {
        let message = error.to_string();
        match error {
            TournamentError::NotFound(_) => Self::not_found(message),
            TournamentError::Conflict(_) => Self::conflict(message),
            TournamentError::Invalid(_) => Self::invalid(message),
        }
    }
}

impl From<CommentError> for ServiceError {
    fn from(error: CommentError) -> Self {
        let message = error.to_string();
        match error {
            CommentError::Invalid(_) => Self::invalid(message),
            CommentError::NotFound(_) => Self::not_found(message),
            CommentError::ReplyTooDeep => Self::new(ErrorKind::Unprocessable, "reply_too_deep", message),
            CommentError::Forbidden => Self::forbidden(message),
            CommentError::Conflict(_) => Self::conflict(message),
        }
    }
}

impl From<SocialError> for ServiceError {
    fn from(error: SocialError) -> Self {
        let message = error.to_string();
        match error {
            SocialError::NotFound(_) => Self::not_found(message),
            SocialError::Invalid(_) => Self::invalid(message),
        }
    }
}

impl From<WriteError> for ServiceError {
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

impl From<UploadError> for ServiceError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::TooLarge { max_bytes } => {
                Self::payload_too_large(format!("the file is larger than {} MiB", max_bytes / (1024 * 1024)))
            }
            UploadError::UnsupportedMedia(reason) => Self::unsupported_media_type(reason),
            UploadError::Invalid(reason) => Self::invalid(reason),
            // A full or read-only disk is the same condition the writer
            // answers 503 for: the client may retry later, nothing was kept.
            UploadError::Io(error) if is_storage_exhausted(&error) => Self::unavailable(),
            UploadError::Io(error) => Self::internal(error),
        }
    }
}

/// Whether an I/O error means the disk cannot take more bytes right now
/// (full, over quota, or mounted read-only), rather than a bug.
fn is_storage_exhausted(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(error.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::ReadOnlyFilesystem)
}

impl From<SearchError> for ServiceError {
    fn from(error: SearchError) -> Self {
        match error {
            SearchError::Invalid(reason) => Self::invalid(reason),
            error => Self::internal(error),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        Self::internal(error)
    }
}

impl From<tokio::task::JoinError> for ServiceError {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::internal(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_refusals_keep_their_codes() {
        let cases = [
            (VoteRefusal::AlreadyVoted, ErrorKind::Conflict, "already_voted"),
            (VoteRefusal::DailyLimitReached, ErrorKind::RateLimited, "daily_limit_reached"),
            (VoteRefusal::NotVotable, ErrorKind::Unprocessable, "not_votable"),
            (VoteRefusal::SlotClosed, ErrorKind::Unprocessable, "slot_closed"),
            (VoteRefusal::SpecialVoteUsed, ErrorKind::Unprocessable, "special_vote_used"),
            (VoteRefusal::ClipNotFound, ErrorKind::NotFound, "not_found"),
            (VoteRefusal::AuthRequired, ErrorKind::Unauthorized, "auth_required"),
        ];
        for (refusal, kind, code) in cases {
            let error = ServiceError::from(WriteError::Refused(refusal));
            assert_eq!((error.kind(), error.code()), (kind, code));
            assert_eq!(error.retry_after_secs(), None, "a spent budget is not a wait");
        }
        assert_eq!(ServiceError::from(WriteError::Unavailable).retry_after_secs(), Some(1));
        assert_eq!(ServiceError::rate_limited(0, "slow down").retry_after_secs(), Some(1));
    }

    #[test]
    fn a_full_or_read_only_disk_refuses_an_upload_with_503_not_500() {
        for kind in
            [std::io::ErrorKind::StorageFull, std::io::ErrorKind::QuotaExceeded, std::io::ErrorKind::ReadOnlyFilesystem]
        {
            let error = ServiceError::from(UploadError::Io(std::io::Error::from(kind)));
            assert_eq!(
                (error.kind(), error.code(), error.retry_after_secs()),
                (ErrorKind::Unavailable, "unavailable", Some(1))
            );
        }
        let error = ServiceError::from(UploadError::Io(std::io::Error::other("bad sector")));
        assert_eq!(error.code(), "internal", "other I/O errors stay internal");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let error = ServiceError::internal("disk on fire at /var/lib/secret");
        assert_eq!((error.kind(), error.code()), (ErrorKind::Internal, "internal"));
        assert!(!error.message().contains("disk"));
    }
}
