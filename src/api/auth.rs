//! Accounts over JSON: register, login, logout, me, export and deletion.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::ApiError;
use super::extract::{ApiJson, AuthUser, Caller};
use super::vote::private;
use crate::accounts::{self, SignedIn};
use crate::app::AppState;
use crate::domain::clock::Timestamp;
use crate::sessions;

/// Body of register and login.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

/// A user as the API shows them to themselves.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeDto {
    id: u64,
    username: String,
    is_admin: bool,
}

fn signed_in_response(state: &AppState, status: StatusCode, signed_in: SignedIn) -> Response {
    let body = json!({ "user": MeDto {
        id: signed_in.user.id.get(),
        username: signed_in.user.username.clone(),
        is_admin: signed_in.user.is_admin,
    }});
    let mut response = private((status, Json(body)));
    let cookie = sessions::session_cookie(&signed_in.token, state.config.secure_cookies());
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `POST /api/auth/register` → 201 and a session cookie.
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let signed_in = accounts::register(&state, &body.username, &body.password).await?;
    Ok(signed_in_response(&state, StatusCode::CREATED, signed_in))
}

/// `POST /api/auth/login` → 200 and a session cookie.
pub async fn login(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let signed_in = accounts::login(&state, &body.username, &body.password, &caller.client.to_string()).await?;
    Ok(signed_in_response(&state, StatusCode::OK, signed_in))
}

/// `POST /api/auth/logout`: revokes the session (if any) and clears the cookie.
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    if let Some(session) = caller.user {
        state.writer.revoke_session(session.token_hash).await?;
    }
    let mut response = private(Json(json!({ "success": true })));
    if let Ok(value) = HeaderValue::from_str(&sessions::clear_session_cookie(state.config.secure_cookies())) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `GET /api/me`.
pub async fn me(AuthUser(user): AuthUser) -> Response {
    private(Json(json!({ "user": MeDto { id: user.user.get(), username: user.username, is_admin: user.is_admin } })))
}

/// `GET /api/account/export`: everything stored about the signed-in user.
pub async fn export(State(state): State<AppState>, AuthUser(session): AuthUser) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let id = session.user;
    let (user, votes, (clips, _), comments) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        Ok((
            store.user(id)?,
            store.votes_of_user(id)?,
            store.clips_of_user(id, 10_000, 0)?,
            store.comments_of_user(id)?,
        ))
    })
    .await??;
    let comments: Vec<_> = comments
        .iter()
        .map(|comment| {
            json!({
                "id": comment.id,
                "clipId": comment.clip.get(),
                "parentId": comment.parent,
                "body": comment.body,
                "deleted": comment.deleted,
                "createdAt": comment.created_at.to_rfc3339(),
            })
        })
        .collect();
    let clips: Vec<_> = clips
        .iter()
        .map(|counted| {
            json!({
                "id": counted.clip.id.get(),
                "title": counted.clip.title,
                "description": counted.clip.description,
                "genre": counted.clip.genre,
                "status": counted.clip.status.as_str(),
                "videoUrl": format!("/media/{}", counted.clip.video_path),
                "createdAt": counted.clip.created_at.to_rfc3339(),
            })
        })
        .collect();
    let user = user.ok_or_else(|| ApiError::not_found("no such user"))?;
    let votes: Vec<_> = votes
        .iter()
        .map(|vote| {
            json!({
                "id": vote.id.get(),
                "clipId": vote.clip.get(),
                "seasonId": vote.season.get(),
                "slotPosition": vote.position.get(),
                "voteType": vote.vote_type.as_str(),
                "weight": vote.weight,
                "castAt": vote.cast_at.to_rfc3339(),
                "counted": vote.counts(),
            })
        })
        .collect();
    let body = json!({
        "exportedAt": Timestamp::now().to_rfc3339(),
        "user": {
            "id": user.id.get(),
            "username": user.username,
            "isAdmin": user.is_admin,
            "createdAt": user.created_at.to_rfc3339(),
        },
        "votes": votes,
        "clips": clips,
        "comments": comments,
    });
    let mut response = private(Json(body));
    response
        .headers_mut()
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"aimoviez-export.json\""));
    Ok(response)
}

/// The phrase a user types to confirm deleting their account.
pub const DELETE_CONFIRMATION: &str = "delete my account";

/// Body of `POST /api/account/delete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    confirm: String,
}

/// `POST /api/account/delete {"confirm": "delete my account"}`.
pub async fn delete_account(
    State(state): State<AppState>,
    AuthUser(session): AuthUser,
    ApiJson(body): ApiJson<DeleteRequest>,
) -> Result<Response, ApiError> {
    if body.confirm.trim() != DELETE_CONFIRMATION {
        return Err(ApiError::invalid(format!("type \"{DELETE_CONFIRMATION}\" to confirm")));
    }
    state.writer.delete_user(session.user).await?;
    let mut response = private(Json(json!({ "success": true })));
    if let Ok(value) = HeaderValue::from_str(&sessions::clear_session_cookie(state.config.secure_cookies())) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response.into_response())
}
