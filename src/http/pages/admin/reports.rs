//! Admin console: open reports, each with what it points at (the comment
//! and its clip, the clip, or the account), who reported it and why, and
//! the two ways to close it — dismiss, or remove the comment or clip.

use super::*;
use crate::domain::comment::ReportAction;
use crate::domain::ids::ReportId;
use crate::service::comments;
use crate::store::ReportSubject;

/// Reports per page.
const REPORTS_PER_PAGE: usize = 20;

/// What a report points at, as the page shows it.
enum Subject {
    /// A clip: id, title, creator, status.
    Clip { id: u64, title: String, creator: String, status: &'static str },
    /// A comment: its text (empty once deleted), author, clip.
    Comment { id: u64, body: String, author: String, deleted: bool, clip: u64, clip_title: String },
    /// An account.
    User { username: String, banned: bool },
    /// Gone (a deleted account or clip).
    Gone,
}

/// One open report.
struct ReportRow {
    id: u64,
    target_type: &'static str,
    target_id: u64,
    reason: String,
    details: String,
    reporter: String,
    created_at: String,
    subject: Subject,
    /// Whether "remove" can apply (not to an account, a gone or already
    /// removed target).
    removable: bool,
}

/// `/admin/reports`.
#[derive(Template)]
#[template(path = "admin/reports.html")]
struct ReportsPage {
    chrome: Chrome,
    flash: Flash,
    section: &'static str,
    reports: Vec<ReportRow>,
    pager: Pager,
}

fn row(report: &crate::domain::comment::Report, subject: ReportSubject) -> ReportRow {
    let subject = match subject {
        ReportSubject::Clip(clip) => Subject::Clip {
            id: clip.id.get(),
            title: clip.title,
            creator: clip.creator_username,
            status: clip.status.as_str(),
        },
        ReportSubject::Comment { comment, clip_title } => Subject::Comment {
            id: comment.id.get(),
            body: comment.body,
            author: comment.author_username,
            deleted: comment.deleted,
            clip: comment.clip.get(),
            clip_title,
        },
        ReportSubject::User { username, banned } => Subject::User { username, banned },
        ReportSubject::Gone => Subject::Gone,
    };
    let removable = match &subject {
        Subject::Clip { status, .. } => matches!(*status, "pending" | "active"),
        Subject::Comment { deleted, .. } => !deleted,
        Subject::User { .. } | Subject::Gone => false,
    };
    ReportRow {
        id: report.id.get(),
        target_type: report.target_type.as_str(),
        target_id: report.target_id,
        reason: report.reason.as_str().replace('_', " "),
        details: report.details.clone(),
        reporter: report.reporter_username.clone(),
        created_at: when(report.created_at),
        subject,
        removable,
    }
}

/// `GET /admin/reports?offset=`: open reports, newest first.
pub async fn reports_page(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
    let (_, query) = admin_page(&state, &caller, query)?;
    let offset = parse_offset(query.offset.as_deref()).map_err(|message| bad_request(&state, &caller, &message))?;
    let page = Page { limit: REPORTS_PER_PAGE, offset };
    let (reports, has_more) = comments::reports_with_subjects(&state.services, page)
        .await
        .map_err(|error| server_problem(&state, &caller, &error))?;
    let page = ReportsPage {
        chrome: Chrome::new(&state, &caller),
        flash: Flash::from_query(&state, &query),
        section: "reports",
        reports: reports.into_iter().map(|(report, subject)| row(&report, subject)).collect(),
        pager: Pager::new("/admin/reports", offset, REPORTS_PER_PAGE, has_more),
    };
    Ok(render(&page, StatusCode::OK))
}

/// `POST /admin/reports/{id}/resolve` with `action=dismiss|remove`: closes
/// the report (removing its comment or clip first when asked), then back to
/// the list with what happened.
pub async fn resolve_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    form: FormResult,
) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let Ok(report) = id.parse::<ReportId>() else {
        return Ok(back(&state, "/admin/reports", Err(ServiceError::not_found("no such report"))));
    };
    let Some(action) = fields.one("action").and_then(ReportAction::parse) else {
        return Ok(back(&state, "/admin/reports", Err(ServiceError::invalid("choose dismiss or remove"))));
    };
    let outcome = comments::resolve_report(&state.services, admin.user, report, action).await.map(|resolution| {
        let target = format!("{} #{}", resolution.report.target_type.as_str(), resolution.report.target_id);
        match (resolution.action, resolution.removed) {
            (ReportAction::Dismiss, _) => format!("Dismissed report #{report}; the {target} stays."),
            (ReportAction::Remove, true) => format!("Removed the {target} and closed report #{report}."),
            (ReportAction::Remove, false) => format!("The {target} was already gone; closed report #{report}."),
        }
    });
    Ok(back(&state, "/admin/reports", outcome))
}
