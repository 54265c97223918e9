//! `/clip/{id}`: one clip with its comments (newest first, 20 a page,
//! replies indented), and the no-JavaScript forms to comment, reply, like,
//! delete and report. Every form posts, then redirects back to the page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::Chrome;
use super::arena::ClipCard;
use super::render;
use crate::domain::comment::{CommentSort, MAX_COMMENT_CHARS, ReportReason, ReportTarget};
use crate::domain::ids::{ClipId, CommentId, UserId};
use crate::domain::tournament::ClipStatus;
use crate::http::api::error::ApiError;
use crate::http::api::extract::{ApiQuery, Caller};
use crate::http::state::AppState;
use crate::store::CommentView;
use crate::store::writer::{NewComment, NewReport};

/// Top-level comments per page.
const PAGE_SIZE: usize = 20;

/// The clip page and its form handlers.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/clip/{id}", get(clip_page))
        .route("/clip/{id}/comments", post(comment_form))
        .route("/clip/{id}/like", post(like_form))
        .route("/clip/{id}/delete", post(delete_form))
        .route("/clip/{id}/report", post(report_form))
}

/// A comment as the page shows it.
pub struct CommentItem {
    id: u64,
    author: String,
    /// The text, already escaped for HTML (see [`escape_text`]).
    body_html: String,
    created_at: String,
    like_count: u64,
    liked: bool,
    deleted: bool,
    can_delete: bool,
    replies: Vec<CommentItem>,
    more_replies: bool,
}

impl CommentItem {
    fn new(view: &CommentView, me: Option<UserId>, is_admin: bool) -> CommentItem {
        let comment = &view.comment;
        CommentItem {
            id: comment.id.get(),
            author: comment.author_username.clone(),
            body_html: escape_text(&comment.body),
            created_at: comment.created_at.to_rfc3339(),
            like_count: comment.like_count,
            liked: view.liked_by_me,
            deleted: comment.deleted,
            can_delete: !comment.deleted && (is_admin || me == Some(comment.author)),
            replies: Vec::new(),
            more_replies: false,
        }
    }
}

/// Escapes user text for an HTML text node or attribute with the named
/// entities (`&lt;` rather than askama's `&#60;`), so the markup reads
/// plainly; the template inserts the result as is.
fn escape_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// `/clip/{id}`.
#[derive(Template)]
#[template(path = "clip.html")]
pub struct ClipPage {
    chrome: Chrome,
    clip: ClipCard,
    status: &'static str,
    comment_count: u64,
    comments: Vec<CommentItem>,
    offset: usize,
    next_offset: Option<usize>,
    previous_offset: Option<usize>,
    max_chars: usize,
    notice: Option<String>,
    error: Option<String>,
}

/// Query of `/clip/{id}`.
#[derive(Debug, Deserialize)]
pub struct ClipQuery {
    offset: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

fn error_text(code: &str) -> String {
    match code {
        "invalid_request" => "That was not accepted: comments are 1 to 500 characters.",
        "reply_too_deep" => "Replies cannot be replied to.",
        "not_found" => "That comment or clip no longer exists.",
        "forbidden" => "You can only delete your own comments.",
        "csrf_failed" => "The form expired; please try again.",
        "unavailable" => "The server is busy. Please try again.",
        _ => "That did not work.",
    }
    .to_owned()
}

fn notice_text(code: &str) -> Option<String> {
    let text = match code {
        "posted" => "Your comment is posted.",
        "deleted" => "The comment was deleted.",
        "reported" => "Thanks, a moderator will look at your report.",
        _ => return None,
    };
    Some(text.to_owned())
}

/// `GET /clip/{id}?offset=`.
pub async fn clip_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ApiQuery(query): ApiQuery<ClipQuery>,
) -> Response {
    match build_page(&state, &caller, &raw, &query).await {
        Ok(Some(page)) => render(&page, StatusCode::OK),
        Ok(None) => super::arena::not_found(State(state), caller).await,
        Err(error) => error.into_response(),
    }
}

async fn build_page(
    state: &AppState,
    caller: &Caller,
    raw: &str,
    query: &ClipQuery,
) -> Result<Option<ClipPage>, ApiError> {
    let Ok(id) = raw.parse::<ClipId>() else { return Ok(None) };
    let offset = query.offset.as_deref().and_then(|o| o.parse::<usize>().ok()).unwrap_or(0);
    let me = caller.user.as_ref().map(|user| user.user);
    let is_admin = caller.user.as_ref().is_some_and(|user| user.is_admin);
    // The open slot's clips carry live counts in memory; others come from storage.
    let counted = match state.read_model.read(|model| model.open_clip(id).cloned()) {
        Some(counted) => Some(counted),
        None => {
            let store = state.store.clone();
            tokio::task::spawn_blocking(move || store.clip(id)).await??
        }
    };
    let Some(counted) = counted.filter(|c| matches!(c.clip.status, ClipStatus::Active | ClipStatus::Locked)) else {
        return Ok(None);
    };
    let store = state.store.clone();
    let page =
        tokio::task::spawn_blocking(move || store.comments_page(id, CommentSort::New, PAGE_SIZE, offset, me)).await??;
    let Some(page) = page else { return Ok(None) };
    let comments = page
        .threads
        .iter()
        .map(|thread| CommentItem {
            replies: thread.replies.iter().map(|reply| CommentItem::new(reply, me, is_admin)).collect(),
            more_replies: thread.more_replies,
            ..CommentItem::new(&thread.comment, me, is_admin)
        })
        .collect();
    Ok(Some(ClipPage {
        chrome: Chrome::new(state, caller),
        clip: ClipCard::from(&counted),
        status: counted.clip.status.as_str(),
        comment_count: page.comment_count,
        comments,
        offset,
        next_offset: page.has_more.then_some(offset + PAGE_SIZE),
        previous_offset: (offset > 0).then(|| offset.saturating_sub(PAGE_SIZE)),
        max_chars: MAX_COMMENT_CHARS,
        notice: query.notice.as_deref().and_then(notice_text),
        error: query.error.as_deref().map(error_text),
    }))
}

/// Where a form sends the browser back to: the page, with a notice or an
/// error code, at the comment concerned.
fn back(clip: ClipId, offset: Option<&str>, outcome: Result<&str, ApiError>, anchor: &str) -> Response {
    let mut params = Vec::new();
    if let Some(offset) = offset.and_then(|o| o.parse::<usize>().ok()).filter(|o| *o > 0) {
        params.push(format!("offset={offset}"));
    }
    match outcome {
        Ok("") => {}
        Ok(notice) => params.push(format!("notice={notice}")),
        Err(error) => params.push(format!("error={}", error.code())),
    }
    let mut target = format!("/clip/{clip}");
    if !params.is_empty() {
        target.push('?');
        target.push_str(&params.join("&"));
    }
    target.push_str(anchor);
    Redirect::to(&target).into_response()
}

/// What every comment form must pass before it changes anything: a clip id,
/// a signed-in caller and the session's form token.
fn check_form(state: &AppState, caller: &Caller, raw: &str, csrf: Option<&str>) -> Result<(ClipId, UserId), Refusal> {
    let Ok(clip) = raw.parse::<ClipId>() else { return Err(Refusal::NoClip) };
    let Some(user) = caller.user.as_ref() else { return Err(Refusal::SignIn) };
    if !super::form_token_ok(state, caller, csrf) {
        return Err(Refusal::Csrf);
    }
    Ok((clip, user.user))
}

/// Why a form was turned away before anything was tried.
enum Refusal {
    NoClip,
    SignIn,
    Csrf,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NoClip => ApiError::not_found("no such clip").into_response(),
            Refusal::SignIn => Redirect::to("/login").into_response(),
            Refusal::Csrf => ApiError::csrf_failed().into_response(),
        }
    }
}

/// Body of the comment form.
#[derive(Debug, Deserialize)]
pub struct CommentForm {
    body: String,
    parent_id: Option<String>,
    csrf: Option<String>,
}

/// `POST /clip/{id}/comments`: posts a comment or a reply.
pub async fn comment_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    form: Result<Form<CommentForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else { return ApiError::invalid("the comment form was incomplete").into_response() };
    let (clip, author) = match check_form(&state, &caller, &raw, form.csrf.as_deref()) {
        Ok(checked) => checked,
        Err(refusal) => return refusal.into_response(),
    };
    let parent = match form.parent_id.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(raw) => match raw.parse::<CommentId>() {
            Ok(id) => Some(id),
            Err(_) => return back(clip, None, Err(ApiError::invalid("bad parent")), "#comments"),
        },
    };
    let new = NewComment { clip, parent, author, body: form.body };
    match state.writer.post_comment(new).await {
        Ok(comment) => back(clip, None, Ok("posted"), &format!("#comment-{}", comment.id)),
        Err(error) => back(clip, None, Err(error.into()), "#comments"),
    }
}

/// Body of the like and delete forms.
#[derive(Debug, Deserialize)]
pub struct CommentActionForm {
    comment_id: String,
    action: Option<String>,
    offset: Option<String>,
    csrf: Option<String>,
}

/// `POST /clip/{id}/like` (`action=like|unlike`).
pub async fn like_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    form: Result<Form<CommentActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else { return ApiError::invalid("the like form was incomplete").into_response() };
    let (clip, user) = match check_form(&state, &caller, &raw, form.csrf.as_deref()) {
        Ok(checked) => checked,
        Err(refusal) => return refusal.into_response(),
    };
    let Ok(comment) = form.comment_id.parse::<CommentId>() else {
        return back(clip, form.offset.as_deref(), Err(ApiError::not_found("no such comment")), "#comments");
    };
    let like = form.action.as_deref() != Some("unlike");
    let outcome = state.writer.like_comment(user, comment, like).await.map(|_| "").map_err(ApiError::from);
    back(clip, form.offset.as_deref(), outcome, &format!("#comment-{comment}"))
}

/// `POST /clip/{id}/delete`: the author's soft delete or an admin's removal.
pub async fn delete_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    form: Result<Form<CommentActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else { return ApiError::invalid("the delete form was incomplete").into_response() };
    let (clip, user) = match check_form(&state, &caller, &raw, form.csrf.as_deref()) {
        Ok(checked) => checked,
        Err(refusal) => return refusal.into_response(),
    };
    let Ok(comment) = form.comment_id.parse::<CommentId>() else {
        return back(clip, form.offset.as_deref(), Err(ApiError::not_found("no such comment")), "#comments");
    };
    let outcome = state.writer.delete_comment(user, comment).await.map(|_| "deleted").map_err(ApiError::from);
    back(clip, form.offset.as_deref(), outcome, &format!("#comment-{comment}"))
}

/// Body of the report form.
#[derive(Debug, Deserialize)]
pub struct ReportForm {
    target_type: String,
    target_id: String,
    reason: String,
    details: Option<String>,
    csrf: Option<String>,
}

/// `POST /clip/{id}/report`: reports the clip or one of its comments.
pub async fn report_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    form: Result<Form<ReportForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else { return ApiError::invalid("the report form was incomplete").into_response() };
    let (clip, reporter) = match check_form(&state, &caller, &raw, form.csrf.as_deref()) {
        Ok(checked) => checked,
        Err(refusal) => return refusal.into_response(),
    };
    let (Some(target_type), Ok(target_id), Some(reason)) = (
        ReportTarget::parse(&form.target_type),
        form.target_id.trim().parse::<u64>(),
        ReportReason::parse(&form.reason),
    ) else {
        return back(clip, None, Err(ApiError::invalid("bad report")), "#report");
    };
    let new = NewReport { reporter, target_type, target_id, reason, details: form.details.unwrap_or_default() };
    let outcome = state.writer.file_report(new).await.map(|_| "reported").map_err(ApiError::from);
    back(clip, None, outcome, "#report")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_is_escaped() {
        assert_eq!(
            escape_text("<script>alert('x')</script> & \"q\"\n"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;\n"
        );
    }
}
