//! Extractors that carry policy: JSON bodies whose rejections use our error
//! shape, query strings likewise, and the voter behind a request.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::auth;
use crate::domain::clock::Timestamp;
use crate::domain::ids::VoterKey;
use crate::http::state::AppState;
use crate::sessions::{self, SessionUser};

/// A JSON body. Wrong content type → 415, bad JSON or wrong types → 400,
/// too large → 413, each in the standard error shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(ApiError::unsupported_media_type("send the body as application/json"))
            }
            Err(JsonRejection::BytesRejection(rejection)) => {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    Err(ApiError::payload_too_large("the request body is too large"))
                } else {
                    Err(ApiError::invalid("the request body could not be read"))
                }
            }
            Err(rejection) => Err(ApiError::invalid(rejection.body_text())),
        }
    }
}

/// A query string whose rejections use our error shape.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection: QueryRejection| ApiError::invalid(rejection.body_text()))
    }
}

/// Where a request comes from: the client address after the trusted-proxy
/// walk, and the signed-in user if its session cookie is live. Sessions are
/// read from memory: building this touches no storage.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The client address.
    pub client: IpAddr,
    /// The signed-in user, if any.
    pub user: Option<SessionUser>,
    /// The User-Agent header.
    pub user_agent: String,
}

impl Caller {
    /// The voter key this caller votes as: the account when signed in,
    /// otherwise the anonymous device key.
    pub fn voter_key(&self, state: &AppState) -> VoterKey {
        match &self.user {
            Some(session) => VoterKey::user(session.user),
            None => auth::device_voter_key(&state.voter_key, self.client, &self.user_agent),
        }
    }

    /// The caller's network for fraud signals: IPv4 /24 or IPv6 /48, hashed.
    pub fn network(&self) -> u64 {
        auth::network_id(self.client)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| ApiError::internal("request without peer address"))?;
        let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        let client = auth::client_ip(peer, forwarded, &state.config.trusted_proxies);
        let user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let user = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(sessions::token_from_cookie_header)
            .and_then(|token| state.sessions.lookup(&token, Timestamp::now()));
        Ok(Caller { client, user, user_agent })
    }
}

/// The voter behind a request.
pub struct Voter(pub VoterKey);

impl FromRequestParts<AppState> for Voter {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(Voter(caller.voter_key(state)))
    }
}

/// A signed-in user; 401 `auth_required` otherwise.
pub struct AuthUser(pub SessionUser);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.user.map(AuthUser).ok_or_else(ApiError::auth_required)
    }
}

/// A signed-in admin; 401 without a session, 403 for other users.
pub struct AdminUser(pub SessionUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthUser(user) = AuthUser::from_request_parts(parts, state).await?;
        if user.is_admin { Ok(AdminUser(user)) } else { Err(ApiError::forbidden("admins only")) }
    }
}
