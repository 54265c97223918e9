//! Resolving reports: an admin dismisses a report, or removes what it points
//! at (deletes the comment, rejects the clip) and closes it, in one
//! transaction with its audit entry. Every check runs before the first
//! write, so a refused resolution changes nothing.

use redb::ReadableTable;

use super::super::StoreError;
use super::super::records;
use super::super::tables::{COMMENT_ID_TO_COMMENT, REPORT_ID_TO_REPORT, RESOLVED_REPORT_ID_TO_REPORT};
use super::{Batch, WriteError, WriterHandle};
use crate::domain::comment::{CommentError, Report, ReportAction, ReportTarget};
use crate::domain::ids::{ClipId, CommentId, ReportId, UserId};
use crate::domain::tournament::ClipStatus;

/// What resolving a report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportResolution {
    /// The report, now closed.
    pub report: Report,
    /// What the admin chose.
    pub action: ReportAction,
    /// Whether this resolution deleted the comment or rejected the clip
    /// (false for a dismissal, or when it was already gone).
    pub removed: bool,
}

/// The reason a clip rejected from a report gives its creator.
const REMOVED_CLIP_REASON: &str = "removed after a report";

impl WriterHandle {
    /// Resolves an open report as `admin` (the role is re-read here).
    pub async fn resolve_report(
        &self,
        admin: UserId,
        report: ReportId,
        action: ReportAction,
    ) -> Result<ReportResolution, WriteError> {
        self.run(move |batch| Ok(batch.resolve_report(admin, report, action)?.map_err(WriteError::from))).await
    }
}

impl Batch<'_> {
    fn resolve_report(
        &mut self,
        admin: UserId,
        id: ReportId,
        action: ReportAction,
    ) -> Result<Result<ReportResolution, CommentError>, StoreError> {
        // The role is read in the transaction, as for comment removal, so a
        // demoted admin's open session resolves nothing.
        if !self.user(admin)?.is_some_and(|user| user.is_admin && !user.banned) {
            return Ok(Err(CommentError::Forbidden));
        }
        let stored = self.txn.open_table(REPORT_ID_TO_REPORT)?.get(id.get())?.map(|bytes| bytes.value().to_vec());
        let Some(bytes): Option<Vec<u8>> = stored else {
            if self.txn.open_table(RESOLVED_REPORT_ID_TO_REPORT)?.get(id.get())?.is_some() {
                return Ok(Err(CommentError::Conflict(format!("report {id} is already resolved"))));
            }
            return Ok(Err(CommentError::NotFound("no such report")));
        };
        let report = records::report_from_bytes(&bytes)?;
        let mut removed = false;
        if action == ReportAction::Remove {
            match report.target_type {
                ReportTarget::User => {
                    return Ok(Err(CommentError::Invalid(
                        "a report on a user can only be dismissed; ban the account from the users page".into(),
                    )));
                }
                ReportTarget::Comment => {
                    let Some(comment) = CommentId::new(report.target_id) else {
                        return Ok(Err(CommentError::NotFound("no such comment")));
                    };
                    let deleted = match self.txn.open_table(COMMENT_ID_TO_COMMENT)?.get(comment.get())? {
                        Some(bytes) => records::comment_from_bytes(bytes.value())?.deleted,
                        None => true,
                    };
                    if !deleted {
                        // An admin may always delete a comment; the removal is
                        // audit-logged there as `remove_comment`.
                        if let Err(refusal) = self.delete_comment(admin, comment)? {
                            return Ok(Err(refusal));
                        }
                        removed = true;
                    }
                }
                ReportTarget::Clip => {
                    let clip = ClipId::new(report.target_id).map(|clip| self.clip(clip)).transpose()?.flatten();
                    match clip {
                        Some(clip) if matches!(clip.status, ClipStatus::Pending | ClipStatus::Active) => {
                            if let Err(refusal) = self.reject_clips(admin, &[clip.id], REMOVED_CLIP_REASON)? {
                                return Ok(Err(CommentError::Conflict(refusal.to_string())));
                            }
                            removed = true;
                        }
                        Some(clip) if clip.status == ClipStatus::Locked => {
                            return Ok(Err(CommentError::Conflict(format!(
                                "clip {} won its slot; unlock the slot before removing it",
                                clip.id
                            ))));
                        }
                        // Already rejected or gone: nothing left to remove.
                        _ => {}
                    }
                }
            }
        }
        self.txn.open_table(REPORT_ID_TO_REPORT)?.remove(id.get())?;
        self.txn.open_table(RESOLVED_REPORT_ID_TO_REPORT)?.insert(id.get(), bytes.as_slice())?;
        self.audit(
            Some(admin),
            "resolve_report",
            format!("report:{id}"),
            format!(
                "action={} target={}:{} reason={} removed={removed}",
                action.as_str(),
                report.target_type.as_str(),
                report.target_id,
                report.reason.as_str()
            ),
        )?;
        Ok(Ok(ReportResolution { report, action, removed }))
    }
}
