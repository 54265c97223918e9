//! The built-in proof-of-work captcha over JSON.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::captcha::Challenge;
use crate::http::error::ErrorBody;
use crate::http::extract::{ApiJson, Caller};
use crate::http::response::private;
use crate::http::state::AppState;
use crate::service::{ServiceError, Services, captcha};

/// A proof-of-work challenge: find `solution` such that
/// SHA-256(`token` + ":" + `solution`) starts with `difficultyBits` zero bits.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeDto {
    /// Opaque signed token.
    token: String,
    /// Leading zero bits the solution's hash needs.
    difficulty_bits: u8,
    /// Unix milliseconds after which the token is refused.
    expires_at: i64,
}

impl From<Challenge> for ChallengeDto {
    fn from(challenge: Challenge) -> Self {
        ChallengeDto {
            token: challenge.token,
            difficulty_bits: challenge.difficulty_bits,
            expires_at: challenge.expires_at_millis,
        }
    }
}

/// `GET /api/captcha/challenge`.
#[utoipa::path(get, path = "/api/captcha/challenge", tag = "captcha",
    responses((status = 200, description = "A fresh challenge", body = ChallengeDto)))]
pub async fn challenge(State(services): State<Services>) -> Response {
    private(Json(ChallengeDto::from(captcha::challenge(&services))))
}

/// Body of `POST /api/captcha/verify`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Solution {
    /// The challenge's token.
    token: String,
    /// The number found.
    solution: u64,
}

/// A granted captcha pass.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PassDto {
    /// RFC 3339: until when this voter needs no new challenge.
    pass_until: String,
}

/// `POST /api/captcha/verify`: a correct, fresh, unused solution grants the
/// voter a pass for `captcha.pass_ttl_secs`.
#[utoipa::path(post, path = "/api/captcha/verify", tag = "captcha", request_body = Solution,
    responses(
        (status = 200, description = "Accepted: the voter holds a pass", body = PassDto),
        (status = 403, description = "`captcha_required`: wrong, expired or reused solution", body = ErrorBody),
    ))]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Solution>,
) -> Result<Response, ServiceError> {
    let until = captcha::verify(&state.services, &caller.voter_key(&state), &body.token, body.solution)?;
    Ok(private(Json(PassDto { pass_until: until.to_rfc3339() })))
}
