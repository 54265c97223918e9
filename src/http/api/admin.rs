//! The admin API: users, flagged votes, feature flags, audit log, over
//! `service::moderation`. Every route needs an admin session (401 without,
//! 403 for other users) and every change is audit-logged by the writer in
//! the same transaction.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::flags::FlagKey;
use crate::domain::fraud::RiskReason;
use crate::domain::ids::{UserId, VoteId};
use crate::domain::model::User;
use crate::domain::moderation::UserAction;
use crate::http::error::ErrorBody;
use crate::http::extract::{AdminUser, ApiJson, ApiQuery, Segment, Segments};
use crate::http::paging::PageQuery;
use crate::http::response::private;
use crate::service::moderation::{self, VoteSelection};
use crate::service::{ServiceError, Services};

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
#[utoipa::path(get, path = "/api/admin/users", tag = "admin", security(("session" = [])), params(PageQuery),
    responses((status = 200, description = "Users whose name starts with `q`", body = UsersPage)))]
pub async fn list_users(
    State(services): State<Services>,
    AdminUser(_): AdminUser,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Response, ServiceError> {
    let page = query.page()?;
    let (users, has_more) = moderation::users(&services, query.q.as_deref().unwrap_or(""), page).await?;
    let users = users.iter().map(user_json).collect();
    Ok(private(Json(UsersPage { users, has_more })))
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
    State(services): State<Services>,
    AdminUser(admin): AdminUser,
    Segments(target, action): Segments<UserId, UserAction>,
) -> Result<Response, ServiceError> {
    let user = moderation::user_action(&services, admin.user, target, action).await?;
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
#[utoipa::path(get, path = "/api/admin/flagged-votes", tag = "admin", security(("session" = [])), params(PageQuery),
    responses((status = 200, description = "Flagged votes, newest first", body = FlaggedVotesPage)))]
pub async fn flagged_votes(
    State(services): State<Services>,
    AdminUser(_): AdminUser,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Response, ServiceError> {
    let (votes, has_more) = moderation::flagged_votes(&services, query.page()?).await?;
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
    State(services): State<Services>,
    AdminUser(admin): AdminUser,
    ApiJson(body): ApiJson<VoidRequest>,
) -> Result<Response, ServiceError> {
    let refused = || ServiceError::invalid(format!("voteIds must list 1 to {} ids", VoteSelection::MAX));
    if body.vote_ids.is_empty() {
        return Err(refused());
    }
    // Ids that name no vote (0) are skipped like unknown ones.
    let ids: Vec<VoteId> = body.vote_ids.iter().filter_map(|id| VoteId::new(*id)).collect();
    let voided = match ids.is_empty() {
        true => 0,
        false => moderation::void_votes(&services, admin.user, VoteSelection::new(ids).map_err(|_| refused())?).await?,
    };
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
pub async fn list_flags(State(services): State<Services>, AdminUser(_): AdminUser) -> Response {
    let flags = moderation::flags(&services)
        .into_iter()
        .map(|(spec, enabled)| FlagDto { key: spec.key, description: spec.description, enabled, default: spec.default })
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
    State(services): State<Services>,
    AdminUser(admin): AdminUser,
    Segment(key): Segment<FlagKey>,
    ApiJson(body): ApiJson<FlagUpdate>,
) -> Result<Response, ServiceError> {
    moderation::set_flag(&services, admin.user, key, body.enabled).await?;
    Ok(private(Json(FlagSetDto { key: key.as_str().to_owned(), enabled: body.enabled })))
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
#[utoipa::path(get, path = "/api/admin/audit-logs", tag = "admin", security(("session" = [])), params(PageQuery),
    responses((status = 200, description = "Audit log entries, newest first", body = AuditPage)))]
pub async fn audit_logs(
    State(services): State<Services>,
    AdminUser(_): AdminUser,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Response, ServiceError> {
    let (entries, has_more) = moderation::audit_log(&services, query.page()?).await?;
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
