//! `/clip/{id}`: one clip with the arena's vote controls and its comments
//! (newest or most liked first, 20 a page, replies indented), and the
//! no-JavaScript forms to comment, reply, like, delete and report. Every
//! form posts, then redirects back to the page.
//!
//! For anonymous visitors the page says nothing about who is looking (the
//! vote controls are neutral), so a shared cache may keep it.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::arena::ClipCard;
use super::format::{Moment, linked_text, plural};
use super::vote_controls::{Standing, VoteControls};
use super::{Chrome, media_urls, render};
use crate::domain::comment::{CommentSort, MAX_COMMENT_CHARS, ReportReason, ReportTarget};
use crate::domain::ids::{ClipId, CommentId, UserId};
use crate::http::extract::{ApiQuery, Caller, PageForm, SignedForm};
use crate::http::state::AppState;
use crate::service::{ErrorKind, Page, ServiceError, Services, comments, story, voting};
use crate::store::CommentView;

/// Top-level comments per page.
const PAGE_SIZE: usize = 20;

/// A comment as the page shows it.
pub struct CommentItem {
    id: u64,
    author: String,
    /// The text, already escaped for HTML, with `@mentions` linked (see
    /// [`linked_text`]).
    body_html: String,
    created_at: Moment,
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
            body_html: linked_text(&comment.body),
            created_at: Moment::of(comment.created_at),
            like_count: comment.like_count,
            liked: view.liked_by_me,
            deleted: comment.deleted,
            can_delete: !comment.deleted && (is_admin || me == Some(comment.author)),
            replies: Vec::new(),
            more_replies: false,
        }
    }
}

/// `/clip/{id}`.
#[derive(Template)]
#[template(path = "clip.html")]
pub struct ClipPage {
    chrome: Chrome,
    clip: ClipCard,
    status: &'static str,
    /// The vote controls, while the clip competes in the voting slot.
    controls: Option<VoteControls>,
    /// The description for sharing tags (plain text; askama escapes it).
    summary: String,
    /// "1 comment", "12 comments".
    comments_heading: String,
    /// `new` or `top`.
    sort: &'static str,
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
    sort: Option<String>,
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
        "standard" => "Your vote counted.",
        "super" => "Your super vote (×3) counted.",
        "mega" => "Your mega vote (×10) counted.",
        "undone" => "Your vote was taken back.",
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
) -> Result<Option<ClipPage>, ServiceError> {
    let Ok(id) = raw.parse::<ClipId>() else { return Ok(None) };
    let offset = query.offset.as_deref().and_then(|o| o.parse::<usize>().ok()).unwrap_or(0);
    let sort = query.sort.as_deref().and_then(CommentSort::parse).unwrap_or(CommentSort::New);
    let me = caller.user_id();
    let is_admin = caller.user.as_ref().is_some_and(|user| user.is_admin);
    let counted = match story::public_clip(&state.services, id).await {
        Ok(counted) => counted,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let page = Page { limit: PAGE_SIZE, offset };
    let page = match comments::page(&state.services, id, sort, page, me).await {
        Ok(page) => page,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let comments = page
        .threads
        .iter()
        .map(|thread| CommentItem {
            replies: thread.replies.iter().map(|reply| CommentItem::new(reply, me, is_admin)).collect(),
            more_replies: thread.more_replies,
            ..CommentItem::new(&thread.comment, me, is_admin)
        })
        .collect();
    let controls = vote_controls(state, caller, &counted).await?;
    let summary = if counted.clip.description.is_empty() {
        format!("A {} clip by @{} on aimoviez.", counted.clip.genre, counted.clip.creator_username)
    } else {
        counted.clip.description.clone()
    };
    Ok(Some(ClipPage {
        chrome: Chrome::new(state, caller),
        clip: ClipCard::new(&counted, media_urls(state)),
        status: counted.clip.status.as_str(),
        controls,
        summary,
        comments_heading: plural(page.comment_count, "comment", "comments"),
        sort: if sort == CommentSort::Top { "top" } else { "new" },
        comments,
        offset,
        next_offset: page.has_more.then_some(offset + PAGE_SIZE),
        previous_offset: (offset > 0).then(|| offset.saturating_sub(PAGE_SIZE)),
        max_chars: MAX_COMMENT_CHARS,
        notice: query.notice.as_deref().and_then(notice_text),
        error: query.error.as_deref().map(error_text),
    }))
}

/// The vote controls while the clip competes in the voting slot: personal
/// for a signed-in viewer (whose page is private anyway), neutral for
/// anonymous ones (the script fills in their standing).
async fn vote_controls(
    state: &AppState,
    caller: &Caller,
    counted: &crate::store::CountedClip,
) -> Result<Option<VoteControls>, ServiceError> {
    let clip = counted.clip.id;
    let (open, flags) = voting::votable(&state.services, clip);
    if !open {
        return Ok(None);
    }
    if caller.user.is_none() {
        return Ok(Some(VoteControls::neutral(clip.get(), "clip", flags, open)));
    }
    let (held, remaining, flags) = voting::standing(&state.services, &caller.voter_key(state)).await?;
    let standing = Standing { remaining, voted: held.voted_clips.contains(&clip), flags, signed_in: true, open };
    Ok(Some(VoteControls::personal(clip.get(), "clip", &standing)))
}

/// Where a form sends the browser back to: the page, with a notice or an
/// error code, at the comment concerned.
fn back(clip: ClipId, offset: Option<&str>, outcome: Result<&str, ServiceError>, anchor: &str) -> Response {
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

/// What every comment form must pass before it changes anything (besides
/// the form token, which [`SignedForm`] checked): a clip id and a
/// signed-in caller.
fn check_form(caller: &Caller, raw: &str) -> Result<(ClipId, UserId), Refusal> {
    let Ok(clip) = raw.parse::<ClipId>() else { return Err(Refusal::NoClip) };
    let Some(user) = caller.user.as_ref() else { return Err(Refusal::SignIn) };
    Ok((clip, user.user))
}

/// Why a form was turned away before anything was tried.
enum Refusal {
    NoClip,
    SignIn,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NoClip => ServiceError::not_found("no such clip").into_response(),
            Refusal::SignIn => Redirect::to("/login").into_response(),
        }
    }
}

/// Body of the comment form.
#[derive(Debug, Deserialize)]
pub struct CommentForm {
    body: String,
    parent_id: Option<String>,
}

impl PageForm for CommentForm {
    const UNREADABLE: &'static str = "the comment form was incomplete";
}

/// `POST /clip/{id}/comments`: posts a comment or a reply.
pub async fn comment_form(
    State(services): State<Services>,
    caller: Caller,
    Path(raw): Path<String>,
    SignedForm(form): SignedForm<CommentForm>,
) -> Response {
    let (clip, author) = match check_form(&caller, &raw) {
        Ok(checked) => checked,
        Err(refusal) => return refusal.into_response(),
    };
    let parent = match form.parent_id.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(raw) => match raw.parse::<CommentId>() {
            Ok(id) => Some(id),
            Err(_) => return back(clip, None, Err(ServiceError::invalid("bad parent")), "#comments"),
        },
    };
    match comments::post(&services, author, clip, parent, form.body).await {
        Ok(comment) => back(clip, None, Ok("posted"), &format!("#comment-{}", comment.id)),
        Err(error) => back(clip, None, Err(error), "#comments"),
    }
}

/// Body of the like and delete forms.
#[derive(Debug, Deserialize)]
pub struct CommentActionForm {
    comment_id: String,
    action: Option<String>,
    offset: Option<String>,
}

/// The like form.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct LikeForm(CommentActionForm);

impl PageForm for LikeForm {
    const UNREADABLE: &'static str = "the like form was incomplete";
}

/// The delete form.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct DeleteForm(CommentActionForm);

impl PageForm for DeleteForm {
    const UNREADABLE: &'static str = "the delete form was incomplete";
}

/// `POST /clip/{id}/like` (`action=like|unlike`).
pub async fn like_form(
    State(services): State<Services>,
    caller: Caller,
    Path(raw): Path<String>,
    SignedForm(LikeForm(form)): SignedForm<LikeForm>,
) -> Response {
    let (clip, user) = match check_form(&caller, &raw) {
        Ok(checked) => checked,
        Err(refusal) => return refusal.into_response(),
    };
    let Ok(comment) = form.comment_id.parse::<CommentId>() else {
        return back(clip, form.offset.as_deref(), Err(ServiceError::not_found("no such comment")), "#comments");
    };
    let like = form.action.as_deref() != Some("unlike");
    let outcome = comments::set_like(&services, user, comment, like).await.map(|_| "");
    back(clip, form.offset.as_deref(), outcome, &format!("#comment-{comment}"))
}

/// `POST /clip/{id}/delete`: the author's soft delete or an admin's removal.
pub async fn delete_form(
    State(services): State<Services>,
    caller: Caller,
    Path(raw): Path<String>,
    SignedForm(DeleteForm(form)): SignedForm<DeleteForm>,
) -> Response {
    let (clip, user) = match check_form(&caller, &raw) {
        Ok(checked) => checked,
        Err(refusal) => return refusal.into_response(),
    };
    let Ok(comment) = form.comment_id.parse::<CommentId>() else {
        return back(clip, form.offset.as_deref(), Err(ServiceError::not_found("no such comment")), "#comments");
    };
    let outcome = comments::delete(&services, user, comment).await.map(|_| "deleted");
    back(clip, form.offset.as_deref(), outcome, &format!("#comment-{comment}"))
}

/// Body of the report form.
#[derive(Debug, Deserialize)]
pub struct ReportForm {
    target_type: String,
    target_id: String,
    reason: String,
    details: Option<String>,
}

impl PageForm for ReportForm {
    const UNREADABLE: &'static str = "the report form was incomplete";
}

/// `POST /clip/{id}/report`: reports the clip or one of its comments.
pub async fn report_form(
    State(services): State<Services>,
    caller: Caller,
    Path(raw): Path<String>,
    SignedForm(form): SignedForm<ReportForm>,
) -> Response {
    let (clip, reporter) = match check_form(&caller, &raw) {
        Ok(checked) => checked,
        Err(refusal) => return refusal.into_response(),
    };
    let (Some(target_type), Ok(target_id), Some(reason)) = (
        ReportTarget::parse(&form.target_type),
        form.target_id.trim().parse::<u64>(),
        ReportReason::parse(&form.reason),
    ) else {
        return back(clip, None, Err(ServiceError::invalid("bad report")), "#report");
    };
    let details = form.details.unwrap_or_default();
    let outcome = comments::report(&services, reporter, target_type, target_id, reason, details).await;
    back(clip, None, outcome.map(|_| "reported"), "#report")
}

#[cfg(test)]
mod tests {
    use crate::http::pages::format::escape_text;

    #[test]
    fn user_text_is_escaped() {
        assert_eq!(
            escape_text("<script>alert('x')</script> & \"q\"\n"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;\n"
        );
    }
}
