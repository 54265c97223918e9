//! Accounts over JSON: register, login, logout, me, export, password
//! change and deletion.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dto::{SuccessDto, media_urls};
use crate::http::error::ErrorBody;
use crate::http::extract::{ApiJson, AuthUser, Caller};
use crate::http::response::private;
use crate::service::accounts::{self, SignedIn};
use crate::service::{ServiceError, Services};
use crate::sessions;

/// Body of register and login.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

/// A user as the API shows them to themselves.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeDto {
    id: u64,
    username: String,
    is_admin: bool,
}

/// `{"user": ...}`: the signed-in user.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    user: MeDto,
}

fn signed_in_response(services: &Services, status: StatusCode, signed_in: SignedIn) -> Response {
    let body = MeResponse {
        user: MeDto {
            id: signed_in.user.id.get(),
            username: signed_in.user.username.clone(),
            is_admin: signed_in.user.is_admin,
        },
    };
    let mut response = private((status, Json(body)));
    let cookie = sessions::session_cookie(&signed_in.token, services.config.secure_cookies());
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `POST /api/auth/register` → 201 and a session cookie.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = Credentials,
    responses(
        (status = 201, description = "Registered and signed in; sets the session cookie", body = MeResponse),
        (status = 400, description = "`invalid_request` or `username_taken`", body = ErrorBody),
    ))]
pub async fn register(
    State(services): State<Services>,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Response, ServiceError> {
    let signed_in = accounts::register(&services, &body.username, &body.password).await?;
    Ok(signed_in_response(&services, StatusCode::CREATED, signed_in))
}

/// `POST /api/auth/login` → 200 and a session cookie.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = Credentials,
    responses(
        (status = 200, description = "Signed in; sets the session cookie", body = MeResponse),
        (status = 401, description = "`invalid_credentials`", body = ErrorBody),
        (status = 403, description = "`banned`", body = ErrorBody),
    ))]
pub async fn login(
    State(services): State<Services>,
    caller: Caller,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Response, ServiceError> {
    let signed_in = accounts::login(&services, &body.username, &body.password, caller.client).await?;
    Ok(signed_in_response(&services, StatusCode::OK, signed_in))
}

/// `POST /api/auth/logout`: revokes the session (if any) and clears the cookie.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses((status = 200, description = "Signed out; clears the session cookie", body = SuccessDto)))]
pub async fn logout(State(services): State<Services>, caller: Caller) -> Result<Response, ServiceError> {
    if let Some(session) = caller.user {
        accounts::logout(&services, session.token_hash).await?;
    }
    let mut response = private(Json(SuccessDto { success: true }));
    if let Ok(value) = HeaderValue::from_str(&sessions::clear_session_cookie(services.config.secure_cookies())) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `GET /api/me`.
#[utoipa::path(get, path = "/api/me", tag = "auth", security(("session" = [])),
    responses((status = 200, description = "The signed-in user", body = MeResponse)))]
pub async fn me(AuthUser(user): AuthUser) -> Response {
    private(Json(MeResponse { user: MeDto { id: user.user.get(), username: user.username, is_admin: user.is_admin } }))
}

/// Body of `GET /api/account/export`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportDto {
    /// RFC 3339.
    exported_at: String,
    user: ExportUser,
    votes: Vec<ExportVote>,
    clips: Vec<ExportClip>,
    comments: Vec<ExportComment>,
    /// Usernames this account follows.
    following: Vec<String>,
}

/// The account in an export.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportUser {
    id: u64,
    username: String,
    is_admin: bool,
    created_at: String,
}

/// A vote in an export.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportVote {
    id: u64,
    clip_id: u64,
    season_id: u64,
    slot_position: u32,
    vote_type: &'static str,
    weight: u32,
    cast_at: String,
    /// False once voided or revoked.
    counted: bool,
}

/// An uploaded clip in an export.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportClip {
    id: u64,
    title: String,
    description: String,
    genre: String,
    status: &'static str,
    video_url: String,
    created_at: String,
}

/// A comment in an export.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportComment {
    id: u64,
    clip_id: u64,
    parent_id: Option<u64>,
    body: String,
    deleted: bool,
    created_at: String,
}

/// `GET /api/account/export`: everything stored about the signed-in user.
#[utoipa::path(get, path = "/api/account/export", tag = "auth", security(("session" = [])),
    responses((status = 200, description = "Everything stored about the user, as an attachment", body = ExportDto)))]
pub async fn export(State(services): State<Services>, AuthUser(session): AuthUser) -> Result<Response, ServiceError> {
    let export = accounts::export(&services, session.user).await?;
    let comments = export
        .comments
        .iter()
        .map(|comment| ExportComment {
            id: comment.id.get(),
            clip_id: comment.clip.get(),
            parent_id: comment.parent.map(|parent| parent.get()),
            body: comment.body.clone(),
            deleted: comment.deleted,
            created_at: comment.created_at.to_rfc3339(),
        })
        .collect();
    let clips = export
        .clips
        .iter()
        .map(|counted| ExportClip {
            id: counted.clip.id.get(),
            title: counted.clip.title.clone(),
            description: counted.clip.description.clone(),
            genre: counted.clip.genre.clone(),
            status: counted.clip.status.as_str(),
            video_url: media_urls(&services).clip(&counted.clip).0,
            created_at: counted.clip.created_at.to_rfc3339(),
        })
        .collect();
    let votes = export
        .votes
        .iter()
        .map(|vote| ExportVote {
            id: vote.id.get(),
            clip_id: vote.clip.get(),
            season_id: vote.season.get(),
            slot_position: vote.position.get(),
            vote_type: vote.vote_type.as_str(),
            weight: vote.weight,
            cast_at: vote.cast_at.to_rfc3339(),
            counted: vote.counts(),
        })
        .collect();
    let user = export.user;
    let body = ExportDto {
        exported_at: export.exported_at.to_rfc3339(),
        user: ExportUser {
            id: user.id.get(),
            username: user.username,
            is_admin: user.is_admin,
            created_at: user.created_at.to_rfc3339(),
        },
        votes,
        clips,
        comments,
        following: export.following.into_iter().map(|entry| entry.username).collect(),
    };
    let mut response = private(Json(body));
    response
        .headers_mut()
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"aimoviez-export.json\""));
    Ok(response)
}

/// Body of `POST /api/account/delete`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    /// Must be the phrase `delete my account`.
    confirm: String,
    /// The account's current password: a session alone cannot delete it.
    password: String,
}

/// `POST /api/account/delete {"confirm": "delete my account", "password": "…"}`.
#[utoipa::path(post, path = "/api/account/delete", tag = "auth", security(("session" = [])),
    request_body = DeleteRequest,
    responses(
        (status = 200, description = "The account is deleted; clears the session cookie", body = SuccessDto),
        (status = 400, description = "`invalid_request`: the phrase or the password is missing or wrong in form", body = ErrorBody),
        (status = 403, description = "`wrong_password`: nothing was deleted", body = ErrorBody),
    ))]
pub async fn delete_account(
    State(services): State<Services>,
    AuthUser(session): AuthUser,
    ApiJson(body): ApiJson<DeleteRequest>,
) -> Result<Response, ServiceError> {
    accounts::delete_account(&services, &session, &body.confirm, &body.password).await?;
    let mut response = private(Json(SuccessDto { success: true }));
    if let Ok(value) = HeaderValue::from_str(&sessions::clear_session_cookie(services.config.secure_cookies())) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response.into_response())
}

/// Body of `POST /api/account/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChangePasswordRequest {
    /// The account's current password.
    current_password: String,
    /// The new password; the sign-up rules apply.
    new_password: String,
}

/// `POST /api/account/password {"currentPassword", "newPassword"}`: every
/// other session of the account is signed out; this one stays.
#[utoipa::path(post, path = "/api/account/password", tag = "auth", security(("session" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "The password is changed; every other session is signed out", body = SuccessDto),
        (status = 400, description = "`invalid_request`: a field is missing or the new password breaks the rules", body = ErrorBody),
        (status = 403, description = "`wrong_password`: nothing was changed", body = ErrorBody),
    ))]
pub async fn change_password(
    State(services): State<Services>,
    AuthUser(session): AuthUser,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<Response, ServiceError> {
    accounts::change_password(&services, &session, &body.current_password, &body.new_password).await?;
    Ok(private(Json(SuccessDto { success: true })))
}
