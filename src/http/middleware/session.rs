//! Session renewal on use: a session past half its life gets a new expiry
//! (through the writer) and a refreshed cookie, so active users stay signed
//! in and idle sessions lapse.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::Response;

use crate::domain::clock::Timestamp;
use crate::http::state::AppState;
use crate::sessions::{SESSION_TTL_SECS, SessionUser, session_cookie, token_from_cookie_header};

/// A session the request's cookie names that is past half its life.
pub struct DueRenewal {
    token: String,
    session: SessionUser,
}

/// The request's session, when it is due for renewal.
pub fn due(state: &AppState, request: &Request) -> Option<DueRenewal> {
    let token = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(token_from_cookie_header)?;
    let now = Timestamp::now();
    let session = state.services.sessions.lookup(&token, now)?;
    session.needs_renewal(now).then_some(DueRenewal { token, session })
}

/// Renews a due session once its request has been answered: the writer
/// extends its expiry in the background and the answer refreshes the cookie.
pub fn renew(state: &AppState, due: DueRenewal, response: &mut Response) {
    let DueRenewal { token, session } = due;
    let writer = state.services.writer.clone();
    tokio::spawn(async move {
        if let Err(error) = writer.renew_session(session.token_hash, SESSION_TTL_SECS).await {
            tracing::warn!(error = %error, "session renewal failed");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&session_cookie(&token, state.services.config.secure_cookies())) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}
