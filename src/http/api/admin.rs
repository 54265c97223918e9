//! The admin API: users, flagged votes, feature flags, audit log. Every
//! route needs an admin session (401 without, 403 for other users) and every
//! change is audit-logged by the writer in the same transaction.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::extract::{AdminUser, ApiJson, ApiQuery};
use super::vote::private;
use crate::domain::flags;
use crate::domain::fraud::RiskReason;
use crate::domain::ids::{UserId, VoteId};
use crate::domain::model::User;
use crate::http::state::AppState;

/// `?limit=&offset=` with the API's bounds: limit 1..=100 (default 20), offset ≥ 0.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Page size, 1 to 100 (default 20).
    limit: Option<i64>,
    /// Items to skip (default 0).
    offset: Option<i64>,
    /// Username prefix (only `GET /api/admin/users` filters by it).
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

/// A user as admins see them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminUserDto {
    id: u64,
    username: String,
    is_admin: bool,
    banned: bool,
    /// RFC 3339.
    created_at: String,
}

fn user_json(user: &User) -> AdminUserDto {
    AdminUserDto {
        id: user.id.get(),
        username: user.username.clone(),
        is_admin: user.is_admin,
        banned: user.banned,
        created_at: user.created_at.to_rfc3339(),
    }
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsersPage {
    users: Vec<AdminUserDto>,
    has_more: bool,
}

/// `{"user": ...}` after an admin action.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserResponse {
    user: AdminUserDto,
}

/// `GET /api/admin/users?q=&limit=&offset=`: users by name prefix.
#[utoipa::path(get, path = "/api/admin/users", tag = "admin", security(("session" = [])), params(Page),
    responses((status = 200, description = "Users whose name starts with `q`", body = UsersPage)))]
pub async fn list_users(
    State(state): State<AppState>,
    AdminUser(_): AdminUser,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Response, ApiError> {
    let (limit, offset) = page.bounds()?;
    let prefix = page.q.unwrap_or_default().trim().to_ascii_lowercase();
    let users = state.read_store(move |store| store.users_by_prefix(&prefix, limit + 1, offset)).await?;
    let has_more = users.len() > limit;
    let users = users.iter().take(limit).map(user_json).collect();
    Ok(private(Json(UsersPage { users, has_more })))
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("no such user"))
}

/// `POST /api/admin/users/{id}/{ban|unban|grant-admin|revoke-admin}`.
#[utoipa::path(post, path = "/api/admin/users/{id}/{action}", tag = "admin", security(("session" = [])),
    params(
        ("id" = u64, Path, description = "User id"),
        ("action" = String, Path, description = "`ban`, `unban`, `grant-admin` or `revoke-admin`"),
    ),
    responses(
        (status = 200, description = "The user after the change", body = AdminUserResponse),
        (status = 404, description = "`not_found`: no such user or action", body = ErrorBody),
        (status = 409, description = "`conflict`: admins cannot ban or demote themselves", body = ErrorBody),
    ))]
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
    Ok(private(Json(AdminUserResponse { user: user_json(&user) })))
}

/// A vote the fraud signals flagged.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlaggedVoteDto {
    id: u64,
    voter_key: String,
    clip_id: u64,
    slot_position: u32,
    vote_type: &'static str,
    weight: u32,
    cast_at: String,
    risk_score: u8,
    /// Why it was flagged, e.g. `velocity`, `many_voters_per_network`.
    reasons: Vec<&'static str>,
}

/// A page of flagged votes.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlaggedVotesPage {
    votes: Vec<FlaggedVoteDto>,
    has_more: bool,
}

/// `GET /api/admin/flagged-votes?limit=&offset=`: the fraud review queue, newest first.
#[utoipa::path(get, path = "/api/admin/flagged-votes", tag = "admin", security(("session" = [])), params(Page),
    responses((status = 200, description = "Flagged votes, newest first", body = FlaggedVotesPage)))]
pub async fn flagged_votes(
    State(state): State<AppState>,
    AdminUser(_): AdminUser,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Response, ApiError> {
    let (limit, offset) = page.bounds()?;
    let (votes, has_more) = state.read_store(move |store| store.flagged_votes(limit, offset)).await?;
    let votes = votes
        .iter()
        .map(|vote| FlaggedVoteDto {
            id: vote.id.get(),
            voter_key: vote.voter.as_str().to_owned(),
            clip_id: vote.clip.get(),
            slot_position: vote.position.get(),
            vote_type: vote.vote_type.as_str(),
            weight: vote.weight,
            cast_at: vote.cast_at.to_rfc3339(),
            risk_score: vote.risk_score,
            reasons: RiskReason::from_bits(vote.risk_reasons).iter().map(|r| r.as_str()).collect(),
        })
        .collect();
    Ok(private(Json(FlaggedVotesPage { votes, has_more })))
}

/// Body of `POST /api/admin/flagged-votes/void`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VoidRequest {
    /// 1 to 1000 vote ids.
    vote_ids: Vec<u64>,
}

/// How many votes a void removed from the counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoidedDto {
    voided: usize,
}

/// `POST /api/admin/flagged-votes/void {"voteIds": [..]}`: removes the votes
/// from the counts (they stay in history); unknown or already voided ids are skipped.
#[utoipa::path(post, path = "/api/admin/flagged-votes/void", tag = "admin", security(("session" = [])),
    request_body = VoidRequest,
    responses((status = 200, description = "How many votes were voided", body = VoidedDto)))]
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
    Ok(private(Json(VoidedDto { voided })))
}

/// A feature flag with its state.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlagDto {
    key: &'static str,
    description: &'static str,
    enabled: bool,
    default: bool,
}

/// Every feature flag.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlagsResponse {
    flags: Vec<FlagDto>,
}

/// `GET /api/admin/feature-flags`.
#[utoipa::path(get, path = "/api/admin/feature-flags", tag = "admin", security(("session" = [])),
    responses((status = 200, description = "Every feature flag", body = FlagsResponse)))]
pub async fn list_flags(State(state): State<AppState>, AdminUser(_): AdminUser) -> Response {
    let stored = state.read_model.read(|model| model.stored_flags.clone());
    let flags = flags::FLAGS
        .iter()
        .map(|spec| FlagDto {
            key: spec.key,
            description: spec.description,
            enabled: stored.get(spec.key).copied().unwrap_or(spec.default),
            default: spec.default,
        })
        .collect();
    private(Json(FlagsResponse { flags }))
}

/// Body of `PUT /api/admin/feature-flags/{key}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagUpdate {
    enabled: bool,
}

/// A flag after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlagSetDto {
    key: String,
    enabled: bool,
}

/// `PUT /api/admin/feature-flags/{key} {"enabled": bool}`: effective on the next request.
#[utoipa::path(put, path = "/api/admin/feature-flags/{key}", tag = "admin", security(("session" = [])),
    params(("key" = String, Path, description = "Flag key")),
    request_body = FlagUpdate,
    responses(
        (status = 200, description = "The flag as now set", body = FlagSetDto),
        (status = 404, description = "`not_found`: no such feature flag", body = ErrorBody),
    ))]
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
    Ok(private(Json(FlagSetDto { key, enabled: body.enabled })))
}

/// An audit log entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryDto {
    id: u64,
    /// RFC 3339.
    at: String,
    /// The admin who acted; null for the system.
    actor_id: Option<u64>,
    action: String,
    resource: String,
    details: String,
}

/// A page of audit log entries.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    entries: Vec<AuditEntryDto>,
    has_more: bool,
}

/// `GET /api/admin/audit-logs?limit=&offset=`, newest first.
#[utoipa::path(get, path = "/api/admin/audit-logs", tag = "admin", security(("session" = [])), params(Page),
    responses((status = 200, description = "Audit log entries, newest first", body = AuditPage)))]
pub async fn audit_logs(
    State(state): State<AppState>,
    AdminUser(_): AdminUser,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Response, ApiError> {
    let (limit, offset) = page.bounds()?;
    let (entries, has_more) = state.read_store(move |store| store.audit_log(limit, offset)).await?;
    let entries = entries
        .iter()
        .map(|entry| AuditEntryDto {
            id: entry.id,
            at: entry.at.to_rfc3339(),
            actor_id: entry.actor.map(UserId::get),
            action: entry.action.clone(),
            resource: entry.resource.clone(),
            details: entry.details.clone(),
        })
        .collect();
    Ok(private(Json(AuditPage { entries, has_more })))
}
