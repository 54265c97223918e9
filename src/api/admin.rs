//! The admin API: users, flagged votes, feature flags, audit log. Every
//! route needs an admin session (401 without, 403 for other users) and every
//! change is audit-logged by the writer in the same transaction.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::extract::{AdminUser, ApiJson, ApiQuery};
use super::vote::private;
use crate::app::AppState;
use crate::domain::flags;
use crate::domain::fraud::RiskReason;
use crate::domain::ids::{UserId, VoteId};
use crate::domain::model::User;

/// `?limit=&offset=` with the API's bounds: limit 1..=100 (default 20), offset ≥ 0.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    limit: Option<i64>,
    offset: Option<i64>,
    q: Option<String>,
}

impl Page {
    /// A page from raw query values.
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Page {
        Page { limit, offset, q: None }
    }

    /// Checked limit and offset.
    pub fn bounds(&self) -> Result<(usize, usize), ApiError> {
        let limit = self.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(ApiError::invalid("limit must be between 1 and 100"));
        }
        let offset = self.offset.unwrap_or(0);
        if offset < 0 {
            return Err(ApiError::invalid("offset must not be negative"));
        }
        Ok((limit as usize, offset as usize))
    }
}

fn user_json(user: &User) -> Value {
    json!({
        "id": user.id.get(),
        "username": user.username,
        "isAdmin": user.is_admin,
        "banned": user.banned,
        "createdAt": user.created_at.to_rfc3339(),
    })
}

/// `GET /api/admin/users?q=&limit=&offset=`: users by name prefix.
pub async fn list_users(
    State(state): State<AppState>,
    AdminUser(_): AdminUser,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Response, ApiError> {
    let (limit, offset) = page.bounds()?;
    let prefix = page.q.unwrap_or_default().trim().to_ascii_lowercase();
    let users = state.read_store(move |store| store.users_by_prefix(&prefix, limit + 1, offset)).await?;
    let has_more = users.len() > limit;
    let entries: Vec<Value> = users.iter().take(limit).map(user_json).collect();
    Ok(private(Json(json!({ "users": entries, "hasMore": has_more }))))
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("no such user"))
}

/// `POST /api/admin/users/{id}/{ban|unban|grant-admin|revoke-admin}`.
pub async fn user_action(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let target = user_id(&id)?;
    if target == admin.user && matches!(action.as_str(), "ban" | "revoke-admin") {
        return Err(ApiError::conflict("admins cannot ban or demote themselves"));
    }
    let user = match action.as_str() {
        "ban" => state.writer.set_banned(admin.user, target, true).await?,
        "unban" => state.writer.set_banned(admin.user, target, false).await?,
        "grant-admin" => state.writer.set_admin(admin.user, target, true).await?,
        "revoke-admin" => state.writer.set_admin(admin.user, target, false).await?,
        _ => return Err(ApiError::not_found("no such action")),
    };
    Ok(private(Json(json!({ "user": user_json(&user) }))))
}

/// `GET /api/admin/flagged-votes?limit=&offset=`: the fraud review queue, newest first.
pub async fn flagged_votes(
    State(state): State<AppState>,
    AdminUser(_): AdminUser,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Response, ApiError> {
    let (limit, offset) = page.bounds()?;
    let (votes, has_more) = state.read_store(move |store| store.flagged_votes(limit, offset)).await?;
    let entries: Vec<Value> = votes
        .iter()
        .map(|vote| {
            json!({
                "id": vote.id.get(),
                "voterKey": vote.voter.as_str(),
                "clipId": vote.clip.get(),
                "slotPosition": vote.position.get(),
                "voteType": vote.vote_type.as_str(),
                "weight": vote.weight,
                "castAt": vote.cast_at.to_rfc3339(),
                "riskScore": vote.risk_score,
                "reasons": RiskReason::from_bits(vote.risk_reasons).iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(private(Json(json!({ "votes": entries, "hasMore": has_more }))))
}

/// Body of `POST /api/admin/flagged-votes/void`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VoidRequest {
    vote_ids: Vec<u64>,
}

/// `POST /api/admin/flagged-votes/void {"voteIds": [..]}`: removes the votes
/// from the counts (they stay in history); unknown or already voided ids are skipped.
pub async fn void_votes(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(body): ApiJson<VoidRequest>,
) -> Result<Response, ApiError> {
    if body.vote_ids.is_empty() || body.vote_ids.len() > 1000 {
        return Err(ApiError::invalid("voteIds must list 1 to 1000 ids"));
    }
    let ids: Vec<VoteId> = body.vote_ids.iter().filter_map(|id| VoteId::new(*id)).collect();
    let voided = state.writer.void_votes(admin.user, ids).await?;
    Ok(private(Json(json!({ "voided": voided }))))
}

/// `GET /api/admin/feature-flags`.
pub async fn list_flags(State(state): State<AppState>, AdminUser(_): AdminUser) -> Response {
    let stored = state.read_model.read(|model| model.stored_flags.clone());
    let entries: Vec<Value> = flags::FLAGS
        .iter()
        .map(|spec| {
            json!({
                "key": spec.key,
                "description": spec.description,
                "enabled": stored.get(spec.key).copied().unwrap_or(spec.default),
                "default": spec.default,
            })
        })
        .collect();
    private(Json(json!({ "flags": entries })))
}

/// Body of `PUT /api/admin/feature-flags/{key}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagUpdate {
    enabled: bool,
}

/// `PUT /api/admin/feature-flags/{key} {"enabled": bool}`: effective on the next request.
pub async fn set_flag(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<FlagUpdate>,
) -> Result<Response, ApiError> {
    if !flags::is_known(&key) {
        return Err(ApiError::not_found("no such feature flag"));
    }
    state.writer.set_flag(key.clone(), body.enabled, Some(admin.user)).await?;
    Ok(private(Json(json!({ "key": key, "enabled": body.enabled }))))
}

/// `GET /api/admin/audit-logs?limit=&offset=`, newest first.
pub async fn audit_logs(
    State(state): State<AppState>,
    AdminUser(_): AdminUser,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Response, ApiError> {
    let (limit, offset) = page.bounds()?;
    let (entries, has_more) = state.read_store(move |store| store.audit_log(limit, offset)).await?;
    let entries: Vec<Value> = entries
        .iter()
        .map(|entry| {
            json!({
                "id": entry.id,
                "at": entry.at.to_rfc3339(),
                "actorId": entry.actor.map(UserId::get),
                "action": entry.action,
                "resource": entry.resource,
                "details": entry.details,
            })
        })
        .collect();
    Ok(private(Json(json!({ "entries": entries, "hasMore": has_more }))))
}
