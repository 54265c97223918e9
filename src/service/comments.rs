//! Comments on clips (one reply level, likes, newest or top first, soft
//! delete), reports into the moderation queue and their resolution. The rules run in the
//! writer (`store::writer::comments`); this is the one way in for the JSON
//! API and the clip page's forms.

use crate::domain::comment::{Comment, CommentSort, Report, ReportAction, ReportReason, ReportTarget};
use crate::domain::ids::{ClipId, CommentId, ReportId, UserId};
use crate::service::{Page, ServiceError, Services};
use crate::store::CommentPage;
use crate::store::ReportSubject;
use crate::store::writer::{LikeOutcome, NewComment, NewReport, ReportResolution};

/// A page of `clip`'s top-level comments (with their first replies), as
/// `viewer` sees them (their own likes marked). Not found when the clip
/// does not exist.
pub async fn page(
    services: &Services,
    clip: ClipId,
    sort: CommentSort,
    page: Page,
    viewer: Option<UserId>,
) -> Result<CommentPage, ServiceError> {
    services
        .read(move |store| store.comments_page(clip, sort, page.limit, page.offset, viewer))
        .await?
        .ok_or_else(|| ServiceError::not_found("no such clip"))
}

/// Posts a comment, or a reply to a top-level comment.
pub async fn post(
    services: &Services,
    author: UserId,
    clip: ClipId,
    parent: Option<CommentId>,
    body: String,
) -> Result<Comment, ServiceError> {
    Ok(services.writer.post_comment(NewComment { clip, parent, author, body }).await?)
}

/// Likes or unlikes a comment; repeating either changes nothing.
pub async fn set_like(
    services: &Services,
    user: UserId,
    comment: CommentId,
    like: bool,
) -> Result<LikeOutcome, ServiceError> {
    Ok(services.writer.like_comment(user, comment, like).await?)
}

/// The author's soft delete, or an admin's removal (audit-logged).
pub async fn delete(services: &Services, actor: UserId, comment: CommentId) -> Result<Comment, ServiceError> {
    Ok(services.writer.delete_comment(actor, comment).await?)
}

/// Files a report on a clip, comment or user.
pub async fn report(
    services: &Services,
    reporter: UserId,
    target_type: ReportTarget,
    target_id: u64,
    reason: ReportReason,
    details: String,
) -> Result<Report, ServiceError> {
    Ok(services.writer.file_report(NewReport { reporter, target_type, target_id, reason, details }).await?)
}

/// The open reports with what each points at, newest first.
pub async fn reports_with_subjects(
    services: &Services,
    page: Page,
) -> Result<(Vec<(Report, ReportSubject)>, bool), ServiceError> {
    services.read(move |store| store.reports_with_subjects(page.limit, page.offset)).await
}

/// Resolves an open report as `admin`: `dismiss` closes it, `remove` also
/// deletes the reported comment or rejects the reported clip. Audit-logged;
/// an unknown or already resolved report, or a removal the target does not
/// allow, changes nothing.
pub async fn resolve_report(
    services: &Services,
    admin: UserId,
    report: ReportId,
    action: ReportAction,
) -> Result<ReportResolution, ServiceError> {
    Ok(services.writer.resolve_report(admin, report, action).await?)
}

/// The moderation queue of reports, newest first.
pub async fn reports(services: &Services, page: Page) -> Result<(Vec<Report>, bool), ServiceError> {
    services.read(move |store| store.reports(page.limit, page.offset)).await
}
