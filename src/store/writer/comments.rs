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
use crate::domain::clock::Timestamp;
use crate::domain::ids::{ClipId, UserId};
use crate::domain::tournament::ClipStatus;

/// Most characters in a comment, after cleaning.
pub const MAX_COMMENT_CHARS: usize = 500;
/// Most characters in a report's details, after cleaning.
pub const MAX_REPORT_DETAILS_CHARS: usize = 1000;

/// A comment or a reply as stored. A deleted comment keeps its place (its
/// replies stay) but its body is erased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Its id (ids increase with time).
    pub id: u64,
    /// The clip it is on.
    pub clip: ClipId,
    /// The comment it replies to; `None` for a top-level comment.
    pub parent: Option<u64>,
    /// Who wrote it.
    pub author: UserId,
    /// Their username when they wrote it.
    pub author_username: String,
    /// Plain text; empty once deleted.
    pub body: String,
    /// When it was posted.
    pub created_at: Timestamp,
    /// Likes it has.
    pub like_count: u64,
    /// Whether its author deleted it or an admin removed it.
    pub deleted: bool,
}

/// What a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportTarget {
    /// A clip.
    Clip,
    /// A comment.
    Comment,
    /// A user.
    User,
}

/// Why something was reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportReason {
    /// Inappropriate content.
    Inappropriate,
    /// Spam.
    Spam,
    /// Harassment.
    Harassment,
    /// Copyright infringement.
    Copyright,
    /// Anything else (see the details).
    Other,
}

macro_rules! wire_enum {
    ($name:ident { $($variant:ident => $text:literal / $tag:literal),+ $(,)? }) => {
        impl $name {
            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The storage tag.
            pub fn tag(self) -> u8 {
                match self { $($name::$variant => $tag),+ }
            }

            /// From a storage tag.
            pub fn from_tag(tag: u8) -> Option<Self> {
                match tag { $($tag => Some($name::$variant),)+ _ => None }
            }

            /// From the wire name.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

wire_enum!(ReportTarget { Clip => "clip" / 0, Comment => "comment" / 1, User => "user" / 2 });
wire_enum!(ReportReason {
    Inappropriate => "inappropriate" / 0,
    Spam => "spam" / 1,
    Harassment => "harassment" / 2,
    Copyright => "copyright" / 3,
    Other => "other" / 4,
});

/// A report in the moderation queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Its id (ids increase with time).
    pub id: u64,
    /// What kind of thing is reported.
    pub target_type: ReportTarget,
    /// Its id.
    pub target_id: u64,
    /// Why.
    pub reason: ReportReason,
    /// Free text from the reporter (may be empty).
    pub details: String,
    /// Who reported it.
    pub reporter: UserId,
    /// Their username when they reported it.
    pub reporter_username: String,
    /// When.
    pub created_at: Timestamp,
}

/// Order of a clip's top-level comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentSort {
    /// Newest first.
    New,
    /// Most likes first, then newest.
    Top,
}

impl CommentSort {
    /// From the wire name (`new`, `top`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "new" => Some(CommentSort::New),
            "top" => Some(CommentSort::Top),
            _ => None,
        }
    }
}

/// A comment as one reader sees it.
#[derive(Debug, Clone)]
pub struct CommentView {
    /// The comment.
    pub comment: Comment,
    /// Whether the reader liked it.
    pub liked_by_me: bool,
}

/// A top-level comment with its replies, oldest first.
#[derive(Debug, Clone)]
pub struct CommentThread {
    /// The comment.
    pub comment: CommentView,
    /// Its replies, oldest first (at most [`MAX_REPLIES_SHOWN`]).
    pub replies: Vec<CommentView>,
    /// Whether it has more replies than shown.
    pub more_replies: bool,
}

/// Most replies returned under one comment, so a page's cost stays bounded.
pub const MAX_REPLIES_SHOWN: usize = 100;

/// One page of a clip's comments.
#[derive(Debug, Clone, Default)]
pub struct CommentPage {
    /// Top-level comments with their replies.
    pub threads: Vec<CommentThread>,
    /// Whether more top-level comments follow.
    pub has_more: bool,
    /// Comments and replies on the clip that are not deleted.
    pub comment_count: u64,
}

/// Why a comment or report command was refused; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommentError {
    /// The input breaks a rule (length, ownership of a parent, …).
    #[error("{0}")]
    Invalid(String),
    /// The clip, comment or user does not exist (or cannot be commented on).
    #[error("{0}")]
    NotFound(&'static str),
    /// A reply to a reply.
    #[error("replies cannot be replied to; reply to the top-level comment instead")]
    ReplyTooDeep,
    /// The caller may not do this to this comment.
    #[error("only the author or an admin can delete this comment")]
    Forbidden,
}

/// A comment to post.
#[derive(Debug, Clone)]
pub struct NewComment {
    /// On which clip.
    pub clip: ClipId,
    /// Reply to this comment, if any.
    pub parent: Option<u64>,
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
    /// Its id.
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
    pub comment: u64,
    /// Its likes now.
    pub like_count: u64,
    /// Whether the caller likes it now.
    pub liked: bool,
}

/// Strips control characters except newlines and trims; plain text stays
/// plain (escaping happens on output).
pub fn clean_text(raw: &str) -> String {
    let kept: String = raw.chars().filter(|c| *c == '\n' || !c.is_control()).collect();
    kept.trim().to_owned()
}

/// A comment body as stored: cleaned, 1 to [`MAX_COMMENT_CHARS`] characters.
pub fn clean_comment_body(raw: &str) -> Result<String, CommentError> {
    let body = clean_text(raw);
    if body.is_empty() {
        return Err(CommentError::Invalid("the comment is empty".into()));
    }
    if body.chars().count() > MAX_COMMENT_CHARS {
        return Err(CommentError::Invalid(format!("a comment has at most {MAX_COMMENT_CHARS} characters")));
    }
    Ok(body)
}

impl WriterHandle {
    /// Posts a comment or a reply.
    pub async fn post_comment(&self, new: NewComment) -> Result<Comment, WriteError> {
        self.run(move |batch| Ok(batch.post_comment(new)?.map_err(WriteError::from))).await
    }

    /// Likes (`like = true`) or unlikes a comment; repeating either changes nothing.
    pub async fn like_comment(&self, user: UserId, comment: u64, like: bool) -> Result<LikeOutcome, WriteError> {
        self.run(move |batch| Ok(batch.like_comment(user, comment, like)?.map_err(WriteError::from))).await
    }

    /// Deletes a comment: the author's soft delete, or an admin's removal
    /// (audit-logged). Deleting a deleted comment changes nothing.
    pub async fn delete_comment(&self, actor: UserId, comment: u64) -> Result<Comment, WriteError> {
        self.run(move |batch| Ok(batch.delete_comment(actor, comment)?.map_err(WriteError::from))).await
    }

    /// Files a report into the moderation queue.
    pub async fn file_report(&self, new: NewReport) -> Result<Report, WriteError> {
        self.run(move |batch| Ok(batch.file_report(new)?.map_err(WriteError::from))).await
    }
}

fn load_comment(table: &impl ReadableTable<u64, &'static [u8]>, id: u64) -> Result<Option<Comment>, StoreError> {
    table.get(id)?.map(|bytes| records::comment_from_bytes(bytes.value())).transpose()
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
        }
        let id = self.next_id(meta_keys::NEXT_COMMENT_ID)?;
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
        comments.insert(id, records::encode(&CommentRecord::from(&comment)).as_slice())?;
        drop(comments);
        self.txn.open_table(USER_COMMENT_TO_MEMBERSHIP)?.insert((comment.author.get(), id), ())?;
        let clip = new.clip.get();
        match new.parent {
            Some(parent) => {
                self.txn.open_table(PARENT_REPLY_TO_MEMBERSHIP)?.insert((parent, id), ())?;
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
        self.comment_posted(&comment)?;
        Ok(Ok(comment))
    }

    fn like_comment(
        &mut self,
        user: UserId,
        id: u64,
        like: bool,
    ) -> Result<Result<LikeOutcome, CommentError>, StoreError> {
        let mut comments = self.txn.open_table(COMMENT_ID_TO_COMMENT)?;
        let Some(mut comment) = load_comment(&comments, id)? else {
            return Ok(Err(CommentError::NotFound("no such comment")));
        };
        let mut likes = self.txn.open_table(COMMENT_LIKE_TO_MEMBERSHIP)?;
        let liked = likes.get((id, user.get()))?.is_some();
        if liked == like {
            return Ok(Ok(LikeOutcome { comment: id, like_count: comment.like_count, liked }));
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
        Ok(Ok(LikeOutcome { comment: id, like_count: comment.like_count, liked: like }))
    }

    fn delete_comment(&mut self, actor: UserId, id: u64) -> Result<Result<Comment, CommentError>, StoreError> {
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
        comments.insert(id, records::encode(&CommentRecord::from(&comment)).as_slice())?;
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
        for id in ids {
            // The author may always delete their own comment, so this cannot be refused.
            let _ = self.delete_comment(user, id)?;
            self.txn.open_table(USER_COMMENT_TO_MEMBERSHIP)?.remove((user.get(), id))?;
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
        let id = self.next_id(meta_keys::NEXT_REPORT_ID)?;
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
            .insert(id, records::encode(&ReportRecord::from(&report)).as_slice())?;
        Ok(Ok(report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_cleaned_and_bounded() {
        assert_eq!(
            clean_comment_body("  hi\u{0007} there\r\nsecond\t \u{200b}").as_deref(),
            Ok("hi there\nsecond \u{200b}")
        );
        assert!(clean_comment_body(" \n\u{0001} ").is_err());
        assert!(clean_comment_body(&"é".repeat(MAX_COMMENT_CHARS)).is_ok());
        assert!(clean_comment_body(&"é".repeat(MAX_COMMENT_CHARS + 1)).is_err());
    }

    #[test]
    fn wire_names_round_trip() {
        for target in [ReportTarget::Clip, ReportTarget::Comment, ReportTarget::User] {
            assert_eq!(ReportTarget::parse(target.as_str()), Some(target));
            assert_eq!(ReportTarget::from_tag(target.tag()), Some(target));
        }
        for reason in [
            ReportReason::Inappropriate,
            ReportReason::Spam,
            ReportReason::Harassment,
            ReportReason::Copyright,
            ReportReason::Other,
        ] {
            assert_eq!(ReportReason::parse(reason.as_str()), Some(reason));
            assert_eq!(ReportReason::from_tag(reason.tag()), Some(reason));
        }
        assert_eq!(ReportReason::parse("rude"), None);
    }
}
