//! Comment and report reads, and the page shapes they return. Each helper is
//! one read transaction whose work
//! is bounded by the page it returns: a page of top-level comments from the
//! clip's newest-first or by-likes index, their replies by prefix range, one
//! like lookup per comment shown, and the clip's maintained counter.

use redb::{ReadTransaction, ReadableTable};

use super::tables::{
    CLIP_COMMENT_TO_MEMBERSHIP, CLIP_ID_TO_CLIP, CLIP_TO_COMMENT_COUNT, CLIP_TOP_TO_MEMBERSHIP, COMMENT_ID_TO_COMMENT,
    COMMENT_LIKE_TO_MEMBERSHIP, PARENT_REPLY_TO_MEMBERSHIP, REPORT_ID_TO_REPORT, USER_COMMENT_TO_MEMBERSHIP,
    USER_ID_TO_USER,
};
use super::{Store, StoreError, records};
use crate::domain::comment::{Comment, CommentSort, Report, ReportTarget};
use crate::domain::ids::{ClipId, UserId};
use crate::domain::model::Clip;
use crate::domain::tournament::ClipStatus;

/// What an open report points at, as the moderation page shows it.
#[derive(Debug, Clone)]
pub enum ReportSubject {
    /// A clip.
    Clip(Clip),
    /// A comment, and the title of the clip it is on.
    Comment {
        /// The comment (its body is empty once deleted).
        comment: Comment,
        /// Its clip's title.
        clip_title: String,
    },
    /// An account.
    User {
        /// Its username.
        username: String,
        /// Whether it is banned.
        banned: bool,
    },
    /// Nothing any more (a deleted account).
    Gone,
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

fn counts_in(txn: &ReadTransaction, clips: &[ClipId]) -> Result<Vec<u64>, StoreError> {
    let counts = txn.open_table(CLIP_TO_COMMENT_COUNT)?;
    clips.iter().map(|clip| Ok(counts.get(clip.get())?.map(|v| v.value()).unwrap_or(0))).collect()
}

impl Store {
    /// How many comments each of `clips` has, in the same order (one
    /// counter read per clip).
    pub fn comment_counts(&self, clips: &[ClipId]) -> Result<Vec<u64>, StoreError> {
        counts_in(&self.read()?, clips)
    }

    /// Every comment a user wrote, oldest first (for their data export).
    pub fn comments_of_user(&self, user: UserId) -> Result<Vec<Comment>, StoreError> {
        let txn = self.read()?;
        let index = txn.open_table(USER_COMMENT_TO_MEMBERSHIP)?;
        let comments = txn.open_table(COMMENT_ID_TO_COMMENT)?;
        let mut found = Vec::new();
        for entry in index.range((user.get(), 0)..=(user.get(), u64::MAX))? {
            let (key, _) = entry?;
            if let Some(bytes) = comments.get(key.value().1)? {
                found.push(records::comment_from_bytes(bytes.value())?);
            }
        }
        Ok(found)
    }

    /// One page of a clip's top-level comments with their replies (oldest
    /// first, at most [`MAX_REPLIES_SHOWN`] each) and whether `viewer` liked
    /// each one. `None` when the clip does not exist or is not public
    /// (pending or rejected).
    pub fn comments_page(
        &self,
        clip: ClipId,
        sort: CommentSort,
        limit: usize,
        offset: usize,
        viewer: Option<UserId>,
    ) -> Result<Option<CommentPage>, StoreError> {
        let txn = self.read()?;
        let clips = txn.open_table(CLIP_ID_TO_CLIP)?;
        let Some(bytes) = clips.get(clip.get())? else { return Ok(None) };
        let status = records::clip_from_bytes(bytes.value())?.status;
        if !matches!(status, ClipStatus::Active | ClipStatus::Locked) {
            return Ok(None);
        }
        let comment_count = counts_in(&txn, &[clip])?.first().copied().unwrap_or(0);
        let c = clip.get();
        let mut ids = Vec::with_capacity(limit);
        let has_more = match sort {
            CommentSort::New => {
                let index = txn.open_table(CLIP_COMMENT_TO_MEMBERSHIP)?;
                let mut iter = index.range((c, 0)..=(c, u64::MAX))?.rev().skip(offset);
                for entry in iter.by_ref().take(limit) {
                    ids.push(entry?.0.value().1);
                }
                iter.next().is_some()
            }
            CommentSort::Top => {
                let index = txn.open_table(CLIP_TOP_TO_MEMBERSHIP)?;
                let mut iter = index.range((c, 0, 0)..=(c, u64::MAX, u64::MAX))?.rev().skip(offset);
                for entry in iter.by_ref().take(limit) {
                    ids.push(entry?.0.value().2);
                }
                iter.next().is_some()
            }
        };
        let comments = txn.open_table(COMMENT_ID_TO_COMMENT)?;
        let replies = txn.open_table(PARENT_REPLY_TO_MEMBERSHIP)?;
        let likes = txn.open_table(COMMENT_LIKE_TO_MEMBERSHIP)?;
        let view = |id: u64| -> Result<Option<CommentView>, StoreError> {
            let Some(bytes) = comments.get(id)? else { return Ok(None) };
            let comment = records::comment_from_bytes(bytes.value())?;
            let liked_by_me = match viewer {
                Some(user) => likes.get((id, user.get()))?.is_some(),
                None => false,
            };
            Ok(Some(CommentView { comment, liked_by_me }))
        };
        let mut threads = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(comment) = view(id)? else { continue };
            let mut shown = Vec::new();
            let mut iter = replies.range((id, 0)..=(id, u64::MAX))?;
            for entry in iter.by_ref().take(MAX_REPLIES_SHOWN) {
                if let Some(reply) = view(entry?.0.value().1)? {
                    shown.push(reply);
                }
            }
            threads.push(CommentThread { comment, replies: shown, more_replies: iter.next().is_some() });
        }
        Ok(Some(CommentPage { threads, has_more, comment_count }))
    }

    /// Open reports with what each points at, newest first, one page: one
    /// point read per report for its clip, comment (and that comment's clip)
    /// or user.
    pub fn reports_with_subjects(
        &self,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<(Report, ReportSubject)>, bool), StoreError> {
        let (reports, more) = self.reports(limit, offset)?;
        let txn = self.read()?;
        let clips = txn.open_table(CLIP_ID_TO_CLIP)?;
        let comments = txn.open_table(COMMENT_ID_TO_COMMENT)?;
        let users = txn.open_table(USER_ID_TO_USER)?;
        let clip = |id: u64| -> Result<Option<Clip>, StoreError> {
            clips.get(id)?.map(|bytes| records::clip_from_bytes(bytes.value())).transpose()
        };
        let mut page = Vec::with_capacity(reports.len());
        for report in reports {
            let subject = match report.target_type {
                ReportTarget::Clip => clip(report.target_id)?.map(ReportSubject::Clip),
                ReportTarget::Comment => {
                    match comments.get(report.target_id)?.map(|b| records::comment_from_bytes(b.value())).transpose()? {
                        Some(comment) => {
                            let clip_title = clip(comment.clip.get())?.map(|clip| clip.title).unwrap_or_default();
                            Some(ReportSubject::Comment { comment, clip_title })
                        }
                        None => None,
                    }
                }
                ReportTarget::User => users
                    .get(report.target_id)?
                    .map(|bytes| records::user_from_bytes(bytes.value()))
                    .transpose()?
                    .map(|user| ReportSubject::User { username: user.username, banned: user.banned }),
            };
            page.push((report, subject.unwrap_or(ReportSubject::Gone)));
        }
        Ok((page, more))
    }

    /// Reports in the moderation queue, newest first, one page.
    pub fn reports(&self, limit: usize, offset: usize) -> Result<(Vec<Report>, bool), StoreError> {
        let txn = self.read()?;
        let reports = txn.open_table(REPORT_ID_TO_REPORT)?;
        let mut page = Vec::new();
        let mut iter = reports.iter()?.rev().skip(offset);
        for entry in iter.by_ref().take(limit) {
            let (_, bytes) = entry?;
            page.push(records::report_from_bytes(bytes.value())?);
        }
        Ok((page, iter.next().is_some()))
    }
}
