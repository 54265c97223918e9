//! Comments on clips (one reply level, likes, sort new/top, soft delete) and
//! reports into the moderation queue. The rules run in the writer
//! (`store::writer::comments`); handlers parse, call and shape the JSON.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::admin::Page;
use super::error::ApiError;
use super::extract::{AdminUser, ApiJson, ApiQuery, AuthUser, Caller};
use super::vote::private;
use crate::app::AppState;
use crate::domain::ids::ClipId;
use crate::store::writer::{
    Comment, CommentPage, CommentSort, CommentView, NewComment, NewReport, Report, ReportReason, ReportTarget,
};

/// Top-level comments per page unless `limit` says otherwise.
pub const DEFAULT_PAGE: i64 = 20;

/// A comment in every JSON response.
pub fn comment_json(comment: &Comment, liked_by_me: bool, replies: Vec<Value>, more_replies: bool) -> Value {
    json!({
        "id": comment.id,
        "clipId": comment.clip.get(),
        "parentId": comment.parent,
        "body": comment.body,
        "author": { "id": comment.author.get(), "username": comment.author_username },
        "createdAt": comment.created_at.to_rfc3339(),
        "likeCount": comment.like_count,
        "likedByMe": liked_by_me,
        "deleted": comment.deleted,
        "replies": replies,
        "hasMoreReplies": more_replies,
    })
}

fn view_json(view: &CommentView) -> Value {
    comment_json(&view.comment, view.liked_by_me, Vec::new(), false)
}

/// The `GET /api/comments` body for a page.
pub fn page_json(page: &CommentPage) -> Value {
    let comments: Vec<Value> = page
        .threads
        .iter()
        .map(|thread| {
            let replies = thread.replies.iter().map(view_json).collect();
            comment_json(&thread.comment.comment, thread.comment.liked_by_me, replies, thread.more_replies)
        })
        .collect();
    json!({ "comments": comments, "hasMore": page.has_more, "commentCount": page.comment_count })
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

fn comment_id(raw: &str) -> Result<u64, ApiError> {
    raw.trim().parse::<u64>().ok().filter(|id| *id > 0).ok_or_else(|| ApiError::not_found("no such comment"))
}

/// Query of `GET /api/comments`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    clip_id: Option<String>,
    sort: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /api/comments?clipId=&sort=new|top&limit=&offset=`.
pub async fn list_comments(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let raw_clip = query.clip_id.as_deref().ok_or_else(|| ApiError::invalid("clipId is required"))?;
    let clip: ClipId = raw_clip.parse().map_err(|_| ApiError::invalid("clipId must be a positive integer"))?;
    let sort = match query.sort.as_deref() {
        None | Some("") => CommentSort::New,
        Some(raw) => CommentSort::parse(raw).ok_or_else(|| ApiError::invalid("sort must be `new` or `top`"))?,
    };
    let (limit, offset) = Page::new(Some(query.limit.unwrap_or(DEFAULT_PAGE)), query.offset).bounds()?;
    let viewer = caller.user.as_ref().map(|user| user.user);
    let page = state.read_store(move |store| store.comments_page(clip, sort, limit, offset, viewer)).await?;
    let page = page.ok_or_else(|| ApiError::not_found("no such clip"))?;
    Ok(private(Json(page_json(&page))))
}

/// Body of `POST /api/comments`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostRequest {
    #[serde(deserialize_with = "super::dto::clip_id")]
    clip_id: ClipId,
    body: String,
    #[serde(default, deserialize_with = "flexible_id")]
    parent_id: Option<u64>,
}

/// `POST /api/comments {"clipId","body","parentId"?}` → 201 with the comment.
pub async fn post_comment(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(request): ApiJson<PostRequest>,
) -> Result<Response, ApiError> {
    let new = NewComment { clip: request.clip_id, parent: request.parent_id, author: user.user, body: request.body };
    let comment = state.writer.post_comment(new).await?;
    Ok(private((StatusCode::CREATED, Json(comment_json(&comment, false, Vec::new(), false)))))
}

async fn set_like(state: AppState, user: AuthUser, raw: &str, like: bool) -> Result<Response, ApiError> {
    let id = comment_id(raw)?;
    let outcome = state.writer.like_comment(user.0.user, id, like).await?;
    Ok(private(Json(json!({
        "commentId": outcome.comment,
        "likeCount": outcome.like_count,
        "likedByMe": outcome.liked,
    }))))
}

/// `POST /api/comments/{id}/like`: idempotent.
pub async fn like_comment(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    set_like(state, user, &raw, true).await
}

/// `DELETE /api/comments/{id}/like`: idempotent.
pub async fn unlike_comment(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    set_like(state, user, &raw, false).await
}

/// `DELETE /api/comments/{id}`: the author's soft delete, or an admin's
/// removal (audit-logged). Answers with the comment as it now is.
pub async fn delete_comment(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let id = comment_id(&raw)?;
    let comment = state.writer.delete_comment(user.user, id).await?;
    Ok(private(Json(comment_json(&comment, false, Vec::new(), false))))
}

/// A report in every JSON response.
pub fn report_json(report: &Report) -> Value {
    json!({
        "id": report.id,
        "targetType": report.target_type.as_str(),
        "targetId": report.target_id,
        "reason": report.reason.as_str(),
        "details": report.details,
        "reporter": { "id": report.reporter.get(), "username": report.reporter_username },
        "createdAt": report.created_at.to_rfc3339(),
    })
}

/// Body of `POST /api/reports`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportRequest {
    target_type: String,
    #[serde(deserialize_with = "flexible_id")]
    target_id: Option<u64>,
    reason: String,
    #[serde(default)]
    details: Option<String>,
}

/// `POST /api/reports {"targetType","targetId","reason","details"?}` → 201.
pub async fn file_report(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(request): ApiJson<ReportRequest>,
) -> Result<Response, ApiError> {
    let target_type = ReportTarget::parse(&request.target_type)
        .ok_or_else(|| ApiError::invalid("targetType must be `clip`, `comment` or `user`"))?;
    let target_id = request.target_id.ok_or_else(|| ApiError::invalid("targetId is required"))?;
    let reason = ReportReason::parse(&request.reason).ok_or_else(|| {
        ApiError::invalid("reason must be `inappropriate`, `spam`, `harassment`, `copyright` or `other`")
    })?;
    let new =
        NewReport { reporter: user.user, target_type, target_id, reason, details: request.details.unwrap_or_default() };
    let report = state.writer.file_report(new).await?;
    Ok(private((StatusCode::CREATED, Json(report_json(&report)))))
}

/// `GET /api/admin/reports?limit=&offset=`: the moderation queue, newest first.
pub async fn list_reports(
    State(state): State<AppState>,
    AdminUser(_): AdminUser,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Response, ApiError> {
    let (limit, offset) = page.bounds()?;
    let (reports, has_more) = state.read_store(move |store| store.reports(limit, offset)).await?;
    let entries: Vec<Value> = reports.iter().map(report_json).collect();
    Ok(private(Json(json!({ "reports": entries, "hasMore": has_more }))))
}
