//! Comments on clips and reports into the moderation queue, as the rules
//! see them: the entities, the wire and storage names of report targets and
//! reasons, the text rules, and why a comment or report is refused. The
//! writer (`store::writer::comments`) applies these rules inside its
//! transaction; nothing here knows storage or HTTP.

use super::clock::Timestamp;
use super::ids::{ClipId, CommentId, ReportId, UserId};

/// Most characters in a comment, after cleaning.
pub const MAX_COMMENT_CHARS: usize = 500;
/// Most characters in a report's details, after cleaning.
pub const MAX_REPORT_DETAILS_CHARS: usize = 1000;

/// A comment or a reply as stored. A deleted comment keeps its place (its
/// replies stay) but its body is erased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Its id (ids increase with time).
    pub id: CommentId,
    /// The clip it is on.
    pub clip: ClipId,
    /// The comment it replies to; `None` for a top-level comment.
    pub parent: Option<CommentId>,
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
    pub id: ReportId,
    /// What kind of thing is reported.
    pub target_type: ReportTarget,
    /// The clip's, comment's or user's id, as `target_type` says.
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
    /// The report or its target is not in a state that allows this (already
    /// resolved, a winning clip).
    #[error("{0}")]
    Conflict(String),
}

/// What an admin does with an open report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportAction {
    /// Nothing wrong: close the report, leave its target.
    Dismiss,
    /// Delete the reported comment or reject the reported clip, then close
    /// the report.
    Remove,
}

impl ReportAction {
    /// From the wire name (`dismiss`, `remove`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "dismiss" => Some(ReportAction::Dismiss),
            "remove" => Some(ReportAction::Remove),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportAction::Dismiss => "dismiss",
            ReportAction::Remove => "remove",
        }
    }
}

/// Multi-line user text as stored ([`super::text::multi_line`]: controls
/// and invisible format characters stripped, trimmed); plain text stays
/// plain (escaping happens on output).
pub fn clean_text(raw: &str) -> String {
    super::text::multi_line(raw)
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

/// Most people one comment can notify by `@mention`; further names are
/// still linked on the page, but a comment cannot page a crowd.
pub const MAX_MENTIONS_NOTIFIED: usize = 5;

/// Whether `c` can be part of a user name after `@`.
pub fn is_mention_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The length of the user name mentioned at `chars[index]`, when an `@`
/// there starts one: not inside a word (so an e-mail address is not a
/// mention), followed by 3 to 20 name characters. The page's links
/// (`http::pages::format::linked_text`) and the mention notifications use
/// this one rule, so whoever is linked is who gets told.
pub fn mention_at(chars: &[char], index: usize) -> Option<usize> {
    if chars.get(index) != Some(&'@') || (index > 0 && is_mention_name_char(chars[index - 1])) {
        return None;
    }
    let length = chars[index + 1..].iter().take_while(|c| is_mention_name_char(**c)).count();
    (3..=20).contains(&length).then_some(length)
}

/// The distinct user names `@mentioned` in `text`, lowercase as accounts are
/// stored, in order of first mention, at most [`MAX_MENTIONS_NOTIFIED`].
pub fn mentioned_names(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut names: Vec<String> = Vec::new();
    let mut index = 0;
    while index < chars.len() && names.len() < MAX_MENTIONS_NOTIFIED {
        match mention_at(&chars, index) {
            Some(length) => {
                let name: String = chars[index + 1..=index + length].iter().collect::<String>().to_ascii_lowercase();
                if !names.contains(&name) {
                    names.push(name);
                }
                index += 1 + length;
            }
            None => index += 1,
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_names_after_an_at_outside_words() {
        assert_eq!(mentioned_names("hi @Ana_1 and @bob, mail a@bcd.de, @xy short, @ana_1 again"), ["ana_1", "bob"]);
        assert_eq!(mentioned_names("@abc"), ["abc"]);
        assert_eq!(mentioned_names(&"@".repeat(3)), Vec::<String>::new());
        assert_eq!(mentioned_names(&format!("@{}", "a".repeat(21))), Vec::<String>::new());
        let crowd: String = (0..9).map(|i| format!("@user{i} ")).collect();
        assert_eq!(mentioned_names(&crowd).len(), MAX_MENTIONS_NOTIFIED);
    }

    #[test]
    fn bodies_are_cleaned_and_bounded() {
        assert_eq!(clean_comment_body("  hi\u{0007} there\r\nsecond\t \u{200b}").as_deref(), Ok("hi there\nsecond"));
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
