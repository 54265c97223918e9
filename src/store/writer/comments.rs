//! Comment and report jobs: posting, replies (one level), likes (one per
//! user), soft deletion by the author or removal by an admin (audit-logged),
//! and reports into the moderation queue. The rules run here, in the writer,
//! so concurrent requests cannot race past them.
//!
//! Besides the comment records the writer keeps, in the same transaction:
//! the clip's newest-first index of top-level comments, its by-likes index
//! (`(clip, like count, id)`, moved on every like and unlike so "top" is a
//! reverse range read), each comment's replies, the likes, and a per-clip
//! comment counter.

use redb::ReadableTable;

use super::super::StoreError;
use super::super::records::{self, CommentRecord, ReportRecord};
use super::super::tables::{
    CLIP_COMMENT_TO_MEMBERSHIP, CLIP_TO_COMMENT_COUNT, CLIP_TOP_TO_MEMBERSHIP, COMMENT_ID_TO_COMMENT,
    COMMENT_LIKE_TO_MEMBERSHIP, PARENT_REPLY_TO_MEMBERSHIP, REPORT_ID_TO_REPORT, USER_COMMENT_TO_MEMBERSHIP, meta_keys,
};
use super::{Batch, WriteError, WriterHandle};
use crate::domain::comment::{
    Comment, CommentError, MAX_REPORT_DETAILS_CHARS, Report, ReportReason, ReportTarget, clean_comment_body, clean_text,
};
use crate::domain::ids::{ClipId, CommentId, ReportId, UserId};
use crate::domain::tournament::ClipStatus;

/// A comment to post.
#[derive(Debug, Clone)]
pub struct NewComment {
    /// On which clip.
    pub clip: ClipId,
    /// Reply to this comment, if any.
    pub parent: Option<CommentId>,
    /// Who writes it.
    pub author: UserId,
    /// The text as submitted (cleaned and checked by the writer).
    pub body: String,
}

/// A report to file.
#[derive(Debug, Clone)]
pub struct NewReport {
    /// Who reports.
    pub reporter: UserId,
    /// What kind of thing.
    pub target_type: ReportTarget,
    /// The clip's, comment's or user's id, as `target_type` says.
    pub target_id: u64,
    /// Why.
    pub reason: ReportReason,
    /// Free text as submitted (cleaned and checked by the writer).
    pub details: String,
}

/// What a like or unlike left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LikeOutcome {
    /// The comment.
    pub comment: CommentId,
    /// Its likes now.
    pub like_count: u64,
    /// Whether the caller likes it now.
    pub liked: bool,
}

impl WriterHandle {
    /// Posts a comment or a reply.
    pub async fn post_comment(&self, new: NewComment) -> Result<Comment, WriteError> {
        self.run(move |batch| Ok(batch.post_comment(new)?.map_err(WriteError::from))).await
    }

    /// Likes (`like = true`) or unlikes a comment; repeating either changes nothing.
    pub async fn like_comment(&self, user: UserId, comment: CommentId, like: bool) -> Result<LikeOutcome, WriteError> {
        self.run(move |batch| Ok(batch.like_comment(user, comment, like)?.map_err(WriteError::from))).await
    }

    /// Deletes a comment: the author's soft delete, or an admin's removal
    /// (audit-logged). Deleting a deleted comment changes nothing.
    pub async fn delete_comment(&self, actor: UserId, comment: CommentId) -> Result<Comment, WriteError> {
        self.run(move |batch| Ok(batch.delete_comment(actor, comment)?.map_err(WriteError::from))).await
    }

    /// Files a report into the moderation queue.
    pub async fn file_report(&self, new: NewReport) -> Result<Report, WriteError> {
        self.run(move |batch| Ok(batch.file_report(new)?.map_err(WriteError::from))).await
    }
}

fn load_comment(table: &impl ReadableTable<u64, &'static [u8]>, id: CommentId) -> Result<Option<Comment>, StoreError> {
    table.get(id.get())?.map(|bytes| records::comment_from_bytes(bytes.value())).transpose()
}

impl Batch<'_> {
    fn post_comment(&mut self, new: NewComment) -> Result<Result<Comment, CommentError>, StoreError> {
        let body = match clean_comment_body(&new.body) {
            Ok(body) => body,
            Err(error) => return Ok(Err(error)),
        };
        match self.clip(new.clip)? {
            Some(clip) if matches!(clip.status, ClipStatus::Active | ClipStatus::Locked) => {}
            _ => return Ok(Err(CommentError::NotFound("no such clip"))),
        }
        let Some(author) = self.user(new.author)? else { return Ok(Err(CommentError::NotFound("no such user"))) };
        let mut comments = self.txn.open_table(COMMENT_ID_TO_COMMENT)?;
        let mut replied_to = None;
        if let Some(parent_id) = new.parent {
            let Some(parent) = load_comment(&comments, parent_id)? else {
                return Ok(Err(CommentError::NotFound("no such comment to reply to")));
            };
            if parent.clip != new.clip {
                return Ok(Err(CommentError::Invalid("the parent comment is on another clip".into())));
            }
            if parent.parent.is_some() {
                return Ok(Err(CommentError::ReplyTooDeep));
            }
            if parent.deleted {
                return Ok(Err(CommentError::NotFound("that comment was deleted")));
            }
            replied_to = Some(parent.author);
        }
        let id = CommentId::new(self.next_id(meta_keys::NEXT_COMMENT_ID)?)
            .ok_or(StoreError::Corrupt { what: "meta", reason: "zero comment id".into() })?;
        let comment = Comment {
            id,
            clip: new.clip,
            parent: new.parent,
            author: author.id,
            author_username: author.username,
            body,
            created_at: self.now,
            like_count: 0,
            deleted: false,
        };
        comments.insert(id.get(), records::encode(&CommentRecord::from(&comment)).as_slice())?;
        drop(comments);
        let id = id.get();
        self.txn.open_table(USER_COMMENT_TO_MEMBERSHIP)?.insert((comment.author.get(), id), ())?;
        let clip = new.clip.get();
        match new.parent {
            Some(parent) => {
                self.txn.open_table(PARENT_REPLY_TO_MEMBERSHIP)?.insert((parent.get(), id), ())?;
            }
            None => {
                self.txn.open_table(CLIP_COMMENT_TO_MEMBERSHIP)?.insert((clip, id), ())?;
                self.txn.open_table(CLIP_TOP_TO_MEMBERSHIP)?.insert((clip, 0, id), ())?;
            }
        }
        let mut counts = self.txn.open_table(CLIP_TO_COMMENT_COUNT)?;
        let count = counts.get(clip)?.map(|v| v.value()).unwrap_or(0);
        counts.insert(clip, count + 1)?;
        drop(counts);
        self.comment_posted(&comment, replied_to)?;
        Ok(Ok(comment))
    }

    fn like_comment(
        &mut self,
        user: UserId,
        comment_id: CommentId,
        like: bool,
    ) -> Result<Result<LikeOutcome, CommentError>, StoreError> {
        let mut comments = self.txn.open_table(COMMENT_ID_TO_COMMENT)?;
        let Some(mut comment) = load_comment(&comments, comment_id)? else {
            return Ok(Err(CommentError::NotFound("no such comment")));
        };
        let id = comment_id.get();
        let mut likes = self.txn.open_table(COMMENT_LIKE_TO_MEMBERSHIP)?;
        let liked = likes.get((id, user.get()))?.is_some();
        if liked == like {
            return Ok(Ok(LikeOutcome { comment: comment_id, like_count: comment.like_count, liked }));
        }
        if like && comment.deleted {
            return Ok(Err(CommentError::NotFound("that comment was deleted")));
        }
        let before = comment.like_count;
        if like {
            likes.insert((id, user.get()), ())?;
            comment.like_count += 1;
        } else {
            likes.remove((id, user.get()))?;
            comment.like_count = comment.like_count.saturating_sub(1);
        }
        comments.insert(id, records::encode(&CommentRecord::from(&comment)).as_slice())?;
        if comment.parent.is_none() {
            let mut top = self.txn.open_table(CLIP_TOP_TO_MEMBERSHIP)?;
            let clip = comment.clip.get();
            top.remove((clip, before, id))?;
            top.insert((clip, comment.like_count, id), ())?;
        }
        Ok(Ok(LikeOutcome { comment: comment_id, like_count: comment.like_count, liked: like }))
    }

    pub(super) fn delete_comment(
        &mut self,
        actor: UserId,
        id: CommentId,
    ) -> Result<Result<Comment, CommentError>, StoreError> {
        let mut comments = self.txn.open_table(COMMENT_ID_TO_COMMENT)?;
        let Some(mut comment) = load_comment(&comments, id)? else {
            return Ok(Err(CommentError::NotFound("no such comment")));
        };
        let is_author = comment.author == actor;
        // The role is read here, not taken from the session, so a demoted
        // admin's open session cannot remove comments.
        let is_admin = self.user(actor)?.is_some_and(|user| user.is_admin && !user.banned);
        if !is_author && !is_admin {
            return Ok(Err(CommentError::Forbidden));
        }
        if comment.deleted {
            return Ok(Ok(comment));
        }
        comment.deleted = true;
        comment.body.clear();
        comments.insert(id.get(), records::encode(&CommentRecord::from(&comment)).as_slice())?;
        drop(comments);
        let clip = comment.clip.get();
        let mut counts = self.txn.open_table(CLIP_TO_COMMENT_COUNT)?;
        let count = counts.get(clip)?.map(|v| v.value()).unwrap_or(0);
        counts.insert(clip, count.saturating_sub(1))?;
        drop(counts);
        if !is_author {
            self.audit(
                Some(actor),
                "remove_comment",
                format!("comment:{id}"),
                format!("clip={clip} author={}", comment.author),
            )?;
        }
        Ok(Ok(comment))
    }

    /// Soft-deletes every comment of a user whose account is being deleted.
    pub(super) fn delete_comments_of(&mut self, user: UserId) -> Result<(), StoreError> {
        let mut ids = Vec::new();
        for entry in self.txn.open_table(USER_COMMENT_TO_MEMBERSHIP)?.range((user.get(), 0)..=(user.get(), u64::MAX))? {
            ids.push(entry?.0.value().1);
        }
        for raw in ids {
            let id = CommentId::new(raw)
                .ok_or(StoreError::Corrupt { what: "comment index", reason: "zero comment id".into() })?;
            // The author may always delete their own comment, so this cannot be refused.
            let _ = self.delete_comment(user, id)?;
            self.txn.open_table(USER_COMMENT_TO_MEMBERSHIP)?.remove((user.get(), raw))?;
        }
        Ok(())
    }

    fn file_report(&mut self, new: NewReport) -> Result<Result<Report, CommentError>, StoreError> {
        let details = clean_text(&new.details);
        if details.chars().count() > MAX_REPORT_DETAILS_CHARS {
            return Ok(Err(CommentError::Invalid(format!(
                "report details have at most {MAX_REPORT_DETAILS_CHARS} characters"
            ))));
        }
        let Some(reporter) = self.user(new.reporter)? else {
            return Ok(Err(CommentError::NotFound("no such user")));
        };
        let exists = match new.target_type {
            ReportTarget::Clip => {
                ClipId::new(new.target_id).map(|clip| self.clip(clip)).transpose()?.flatten().is_some()
            }
            ReportTarget::User => {
                UserId::new(new.target_id).map(|user| self.user(user)).transpose()?.flatten().is_some()
            }
            ReportTarget::Comment => {
                let comments = self.txn.open_table(COMMENT_ID_TO_COMMENT)?;
                comments.get(new.target_id)?.is_some()
            }
        };
        if !exists {
            return Ok(Err(CommentError::NotFound(match new.target_type {
                ReportTarget::Clip => "no such clip",
                ReportTarget::Comment => "no such comment",
                ReportTarget::User => "no such user",
            })));
        }
        let id = ReportId::new(self.next_id(meta_keys::NEXT_REPORT_ID)?)
            .ok_or(StoreError::Corrupt { what: "meta", reason: "zero report id".into() })?;
        let report = Report {
            id,
            target_type: new.target_type,
            target_id: new.target_id,
            reason: new.reason,
            details,
            reporter: reporter.id,
            reporter_username: reporter.username,
            created_at: self.now,
        };
        self.txn
            .open_table(REPORT_ID_TO_REPORT)?
            .insert(id.get(), records::encode(&ReportRecord::from(&report)).as_slice())?;
        Ok(Ok(report))
    }
}
