//! Comments on clips (one reply level, likes, sort new/top, soft delete),
//! reports into the moderation queue and their resolution by admins. The rules run in the writer
//! (`store::writer::comments`) behind `service::comments`; handlers parse,
//! call and shape the JSON.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::UserRef;
use crate::domain::comment::{Comment, CommentSort, Report, ReportAction, ReportReason, ReportTarget};
use crate::domain::ids::{ClipId, CommentId, ReportId};
use crate::http::error::ErrorBody;
use crate::http::extract::{AdminUser, ApiJson, ApiQuery, AuthUser, Caller, Segment};
use crate::http::paging::PageQuery;
use crate::http::response::private;
use crate::service::{Page, ServiceError, Services, comments};
use crate::store::{CommentPage, CommentView};

/// A comment as every JSON response shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommentDto {
    id: u64,
    clip_id: u64,
    /// The comment this replies to; null for a top-level comment.
    parent_id: Option<u64>,
    /// Plain text; empty once deleted.
    body: String,
    author: UserRef,
    /// RFC 3339.
    created_at: String,
    like_count: u64,
    liked_by_me: bool,
    deleted: bool,
    /// The first replies of a top-level comment (one level only).
    #[schema(no_recursion)]
    replies: Vec<CommentDto>,
    has_more_replies: bool,
}

/// A comment in every JSON response.
pub fn comment_json(comment: &Comment, liked_by_me: bool, replies: Vec<CommentDto>, more_replies: bool) -> CommentDto {
    CommentDto {
        id: comment.id.get(),
        clip_id: comment.clip.get(),
        parent_id: comment.parent.map(CommentId::get),
        body: comment.body.clone(),
        author: UserRef { id: comment.author.get(), username: comment.author_username.clone() },
        created_at: comment.created_at.to_rfc3339(),
        like_count: comment.like_count,
        liked_by_me,
        deleted: comment.deleted,
        replies,
        has_more_replies: more_replies,
    }
}

fn view_json(view: &CommentView) -> CommentDto {
    comment_json(&view.comment, view.liked_by_me, Vec::new(), false)
}

/// Body of `GET /api/comments`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommentsPage {
    comments: Vec<CommentDto>,
    has_more: bool,
    /// All visible comments on the clip.
    comment_count: u64,
}

/// The `GET /api/comments` body for a page.
pub fn page_json(page: &CommentPage) -> CommentsPage {
    let comments = page
        .threads
        .iter()
        .map(|thread| {
            let replies = thread.replies.iter().map(view_json).collect();
            comment_json(&thread.comment.comment, thread.comment.liked_by_me, replies, thread.more_replies)
        })
        .collect();
    CommentsPage { comments, has_more: page.has_more, comment_count: page.comment_count }
}

/// An id sent as a JSON number or a decimal string.
fn flexible_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }
    match Option::<Raw>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Raw::Number(number)) if number > 0 => Ok(Some(number)),
        Some(Raw::Text(text)) => match text.trim().parse::<u64>() {
            Ok(number) if number > 0 => Ok(Some(number)),
            _ => Err(serde::de::Error::custom("ids are positive integers")),
        },
        Some(Raw::Number(_)) => Err(serde::de::Error::custom("ids are positive integers")),
    }
}

/// A parent comment id sent as a JSON number or a decimal string.
fn flexible_comment_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<CommentId>, D::Error> {
    flexible_id(deserializer)?
        .map(|id| CommentId::new(id).ok_or_else(|| serde::de::Error::custom("ids are positive integers")))
        .transpose()
}

/// Query of `GET /api/comments`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The clip (required).
    #[param(required = true, value_type = u64)]
    clip_id: Option<String>,
    /// `new` (default) or `top`.
    sort: Option<String>,
    /// Top-level comments per page, 1 to 100 (default 20).
    limit: Option<i64>,
    /// Top-level comments to skip (default 0).
    offset: Option<i64>,
}

/// `GET /api/comments?clipId=&sort=new|top&limit=&offset=`.
#[utoipa::path(get, path = "/api/comments", tag = "comments", params(ListQuery),
    responses(
        (status = 200, description = "A page of comment threads", body = CommentsPage),
        (status = 404, description = "`not_found`: no such clip", body = ErrorBody),
    ))]
pub async fn list_comments(
    State(services): State<Services>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ServiceError> {
    let raw_clip = query.clip_id.as_deref().ok_or_else(|| ServiceError::invalid("clipId is required"))?;
    let clip: ClipId = raw_clip.parse().map_err(|_| ServiceError::invalid("clipId must be a positive integer"))?;
    let sort = match query.sort.as_deref() {
        None | Some("") => CommentSort::New,
        Some(raw) => CommentSort::parse(raw).ok_or_else(|| ServiceError::invalid("sort must be `new` or `top`"))?,
    };
    let page = Page::new(query.limit, query.offset)?;
    let page = comments::page(&services, clip, sort, page, caller.user_id()).await?;
    Ok(private(Json(page_json(&page))))
}

/// Body of `POST /api/comments`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostRequest {
    /// A clip id; a decimal string is accepted too.
    #[serde(deserialize_with = "super::dto::clip_id")]
    #[schema(value_type = u64)]
    clip_id: ClipId,
    /// Plain text.
    body: String,
    /// The top-level comment this replies to.
    #[serde(default, deserialize_with = "flexible_comment_id")]
    #[schema(value_type = Option<u64>)]
    parent_id: Option<CommentId>,
}

/// `POST /api/comments {"clipId","body","parentId"?}` → 201 with the comment.
#[utoipa::path(post, path = "/api/comments", tag = "comments", security(("session" = [])),
    request_body = PostRequest,
    responses(
        (status = 201, description = "The new comment", body = CommentDto),
        (status = 404, description = "`not_found`: no such clip or parent", body = ErrorBody),
        (status = 422, description = "`reply_too_deep`: replies to replies are refused", body = ErrorBody),
    ))]
pub async fn post_comment(
    State(services): State<Services>,
    AuthUser(user): AuthUser,
    ApiJson(request): ApiJson<PostRequest>,
) -> Result<Response, ServiceError> {
    let comment = comments::post(&services, user.user, request.clip_id, request.parent_id, request.body).await?;
    Ok(private((StatusCode::CREATED, Json(comment_json(&comment, false, Vec::new(), false)))))
}

/// A comment's likes after a like or unlike.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LikeDto {
    comment_id: u64,
    like_count: u64,
    liked_by_me: bool,
}

async fn set_like(services: &Services, user: AuthUser, id: CommentId, like: bool) -> Result<Response, ServiceError> {
    let outcome = comments::set_like(services, user.0.user, id, like).await?;
    Ok(private(Json(LikeDto {
        comment_id: outcome.comment.get(),
        like_count: outcome.like_count,
        liked_by_me: outcome.liked,
    })))
}

/// `POST /api/comments/{id}/like`: idempotent.
#[utoipa::path(post, path = "/api/comments/{id}/like", tag = "comments", security(("session" = [])),
    params(("id" = u64, Path, description = "Comment id")),
    responses(
        (status = 200, description = "Liked", body = LikeDto),
        (status = 404, description = "`not_found`: no such comment", body = ErrorBody),
    ))]
pub async fn like_comment(
    State(services): State<Services>,
    user: AuthUser,
    Segment(id): Segment<CommentId>,
) -> Result<Response, ServiceError> {
    set_like(&services, user, id, true).await
}

/// `DELETE /api/comments/{id}/like`: idempotent.
#[utoipa::path(delete, path = "/api/comments/{id}/like", tag = "comments", security(("session" = [])),
    params(("id" = u64, Path, description = "Comment id")),
    responses(
        (status = 200, description = "Not liked (any more)", body = LikeDto),
        (status = 404, description = "`not_found`: no such comment", body = ErrorBody),
    ))]
pub async fn unlike_comment(
    State(services): State<Services>,
    user: AuthUser,
    Segment(id): Segment<CommentId>,
) -> Result<Response, ServiceError> {
    set_like(&services, user, id, false).await
}

/// `DELETE /api/comments/{id}`: the author's soft delete, or an admin's
/// removal (audit-logged). Answers with the comment as it now is.
#[utoipa::path(delete, path = "/api/comments/{id}", tag = "comments", security(("session" = [])),
    params(("id" = u64, Path, description = "Comment id")),
    responses(
        (status = 200, description = "The comment as it now is", body = CommentDto),
        (status = 403, description = "`forbidden`: neither the author nor an admin", body = ErrorBody),
        (status = 404, description = "`not_found`: no such comment", body = ErrorBody),
    ))]
pub async fn delete_comment(
    State(services): State<Services>,
    AuthUser(user): AuthUser,
    Segment(id): Segment<CommentId>,
) -> Result<Response, ServiceError> {
    let comment = comments::delete(&services, user.user, id).await?;
    Ok(private(Json(comment_json(&comment, false, Vec::new(), false))))
}

/// A report in the moderation queue.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportDto {
    id: u64,
    /// `clip`, `comment` or `user`.
    target_type: &'static str,
    target_id: u64,
    /// `inappropriate`, `spam`, `harassment`, `copyright` or `other`.
    reason: &'static str,
    details: String,
    reporter: UserRef,
    /// RFC 3339.
    created_at: String,
}

/// A report in every JSON response.
pub fn report_json(report: &Report) -> ReportDto {
    ReportDto {
        id: report.id.get(),
        target_type: report.target_type.as_str(),
        target_id: report.target_id,
        reason: report.reason.as_str(),
        details: report.details.clone(),
        reporter: UserRef { id: report.reporter.get(), username: report.reporter_username.clone() },
        created_at: report.created_at.to_rfc3339(),
    }
}

/// Body of `POST /api/reports`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportRequest {
    /// `clip`, `comment` or `user`.
    target_type: String,
    /// The reported item's id; a decimal string is accepted too.
    #[serde(deserialize_with = "flexible_id")]
    #[schema(value_type = u64)]
    target_id: Option<u64>,
    /// `inappropriate`, `spam`, `harassment`, `copyright` or `other`.
    reason: String,
    #[serde(default)]
    details: Option<String>,
}

/// `POST /api/reports {"targetType","targetId","reason","details"?}` → 201.
#[utoipa::path(post, path = "/api/reports", tag = "comments", security(("session" = [])),
    request_body = ReportRequest,
    responses(
        (status = 201, description = "The report, queued for moderators", body = ReportDto),
        (status = 404, description = "`not_found`: no such target", body = ErrorBody),
    ))]
pub async fn file_report(
    State(services): State<Services>,
    AuthUser(user): AuthUser,
    ApiJson(request): ApiJson<ReportRequest>,
) -> Result<Response, ServiceError> {
    let target_type = ReportTarget::parse(&request.target_type)
        .ok_or_else(|| ServiceError::invalid("targetType must be `clip`, `comment` or `user`"))?;
    let target_id = request.target_id.ok_or_else(|| ServiceError::invalid("targetId is required"))?;
    let reason = ReportReason::parse(&request.reason).ok_or_else(|| {
        ServiceError::invalid("reason must be `inappropriate`, `spam`, `harassment`, `copyright` or `other`")
    })?;
    let details = request.details.unwrap_or_default();
    let report = comments::report(&services, user.user, target_type, target_id, reason, details).await?;
    Ok(private((StatusCode::CREATED, Json(report_json(&report)))))
}

/// A page of reports.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportsPage {
    reports: Vec<ReportDto>,
    has_more: bool,
}

/// `GET /api/admin/reports?limit=&offset=`: the moderation queue, newest first.
#[utoipa::path(get, path = "/api/admin/reports", tag = "admin", security(("session" = [])), params(PageQuery),
    responses((status = 200, description = "Reports, newest first", body = ReportsPage)))]
pub async fn list_reports(
    State(services): State<Services>,
    AdminUser(_): AdminUser,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Response, ServiceError> {
    let (reports, has_more) = comments::reports(&services, query.page()?).await?;
    let reports = reports.iter().map(report_json).collect();
    Ok(private(Json(ReportsPage { reports, has_more })))
}

/// Body of `POST /api/admin/reports/{id}/resolve`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveReportRequest {
    /// `dismiss` (close it, keep the target) or `remove` (delete the comment
    /// or reject the clip, then close it; not for a report on a user).
    action: String,
}

/// What resolving a report did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResolveReportResponse {
    /// The report, now closed.
    report: ReportDto,
    /// `dismiss` or `remove`.
    action: &'static str,
    /// Whether the comment was deleted or the clip rejected now (false for a
    /// dismissal, or when it was already gone).
    removed: bool,
}

/// `POST /api/admin/reports/{id}/resolve {"action":"dismiss"|"remove"}`:
/// closes an open report, audit-logged.
#[utoipa::path(post, path = "/api/admin/reports/{id}/resolve", tag = "admin", security(("session" = [])),
    params(("id" = u64, Path, description = "Report id")),
    request_body = ResolveReportRequest,
    responses(
        (status = 200, description = "The report is closed", body = ResolveReportResponse),
        (status = 404, description = "`not_found`: no such report", body = ErrorBody),
        (status = 409, description = "`conflict`: already resolved, or the clip won its slot", body = ErrorBody),
    ))]
pub async fn resolve_report(
    State(services): State<Services>,
    AdminUser(admin): AdminUser,
    Segment(report): Segment<ReportId>,
    ApiJson(request): ApiJson<ResolveReportRequest>,
) -> Result<Response, ServiceError> {
    let action = ReportAction::parse(&request.action)
        .ok_or_else(|| ServiceError::invalid("action must be `dismiss` or `remove`"))?;
    let resolution = comments::resolve_report(&services, admin.user, report, action).await?;
    Ok(private(Json(ResolveReportResponse {
        report: report_json(&resolution.report),
        action: resolution.action.as_str(),
        removed: resolution.removed,
    })))
}
