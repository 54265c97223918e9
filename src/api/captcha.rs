//! The built-in proof-of-work captcha over JSON.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::extract::{ApiJson, Caller};
use super::vote::private;
use crate::app::AppState;
use crate::captcha::CaptchaError;
use crate::domain::clock::Timestamp;

/// `GET /api/captcha/challenge`.
pub async fn challenge(State(state): State<AppState>) -> Response {
    private(Json(state.captcha.issue(Timestamp::now().millis())))
}

/// Body of `POST /api/captcha/verify`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Solution {
    token: String,
    solution: u64,
}

/// `POST /api/captcha/verify`: a correct, fresh, unused solution grants the
/// voter a pass for `captcha.pass_ttl_secs`.
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Solution>,
) -> Result<Response, ApiError> {
    let now = Timestamp::now().millis();
    match state.captcha.verify(&body.token, body.solution, now) {
        Ok(()) => {
            let voter = caller.voter_key(&state);
            let until = state.captcha.grant_pass(voter.as_str(), now);
            Ok(private(Json(json!({ "passUntil": Timestamp::from_millis(until).to_rfc3339() }))))
        }
        Err(CaptchaError::Malformed | CaptchaError::BadSignature) => Err(ApiError::invalid("not a valid challenge")),
        Err(error) => Err(ApiError::captcha_required_because(&error.to_string())),
    }
}
