//! Session renewal on use: a session past half its life gets a new expiry
//! (through the writer) and a refreshed cookie, so active users stay signed
//! in and idle sessions lapse.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::domain::clock::Timestamp;
use crate::http::state::AppState;
use crate::sessions::{SESSION_TTL_SECS, session_cookie, token_from_cookie_header};

/// Middleware: a session past half its life is renewed — the writer extends
/// its expiry and the response refreshes the cookie — so active users stay
/// signed in and idle sessions lapse.
pub async fn renew(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(token_from_cookie_header);
    let now = Timestamp::now();
    let due = token.and_then(|token| {
        let session = state.services.sessions.lookup(&token, now)?;
        session.needs_renewal(now).then_some((token, session))
    });
    let mut response = next.run(request).await;
    if let Some((token, session)) = due {
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
    response
}
