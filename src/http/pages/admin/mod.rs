//! The admin console: server-rendered pages under `/admin`, usable without
//! JavaScript. Each page reads and each form acts through the same
//! `service::moderation` functions as the admin API, so the same rules
//! apply and the writer audit-logs every change.
//!
//! Every route needs an admin session: without one the browser is sent to
//! `/login`, other users get a 403 page. Every form post carries the
//! session's form token and answers with a 303 back to its section, carrying
//! a short notice or error in the query string. Those messages come with a
//! keyed tag, so a crafted link cannot make the console show words it did
//! not write.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Chrome, media_urls, render, sentence};
use crate::domain::clock::Timestamp;
use crate::domain::flags::FlagKey;
use crate::domain::fraud::RiskReason;
use crate::domain::ids::{ClipId, SeasonId, SlotPosition, UserId, VoteId};
use crate::domain::moderation::{ClipDecision, SeasonAction, SlotAction, UserAction};
use crate::domain::tournament::{ClipStatus, SeasonStatus};
use crate::http::error::status;
use crate::http::extract::{Caller, FormRefusal, SignedForm, constant_time_eq};
use crate::http::state::AppState;
use crate::service::genres;
use crate::service::moderation::{
    self, ClipSelection, RejectReason, SeasonDraft, SelectionError, SlotActionOutcome, VoteSelection,
};
use crate::service::{Page, ServiceError};
use crate::sessions::SessionUser;
use crate::store::writer::AdvanceOutcome;

/// Clips per page of the moderation queue.
const CLIPS_PER_PAGE: usize = 20;
/// Users per page of the user search.
const USERS_PER_PAGE: usize = 20;
/// Entries per page of the audit log.
const AUDIT_PER_PAGE: usize = 50;
/// Votes per page of the fraud review.
const FLAGGED_PER_PAGE: usize = 50;
/// Bars in the dashboard chart.
const CHART_MAX_BARS: usize = 20;
/// Deepest page offset accepted (offsets skip entries one by one).
const MAX_OFFSET: usize = 100_000;
/// Most fields a posted form may have.
const MAX_FORM_FIELDS: usize = 1_100;
/// Longest notice or error carried back after a post.
const MAX_FLASH_CHARS: usize = 300;
/// Longest user-name prefix searched for.
const MAX_QUERY_CHARS: usize = 32;

pub mod audit;
pub mod clips;
pub mod dashboard;
pub mod feature_flags;
pub mod flagged;
pub mod reports;
pub mod seasons;
pub mod users;

/// An admin page's query string, or why it could not be read.
pub type QueryResult = Result<Query<PageQuery>, QueryRejection>;
/// An admin form post, or why it was turned away.
pub type FormResult = Result<SignedForm<Vec<(String, String)>>, FormRefusal<Vec<(String, String)>>>;
/// What an admin page or form answers.
pub type PageResult = Result<Response, Early>;

/// A page answered before the handler's end (redirect to sign in, 403, 400,
/// a failed read), boxed so results stay small.
pub struct Early(Box<Response>);

impl From<Response> for Early {
    fn from(response: Response) -> Self {
        Early(Box::new(response))
    }
}

impl IntoResponse for Early {
    fn into_response(self) -> Response {
        *self.0
    }
}

// ---------------------------------------------------------------------------
// Shared machinery: access, rendering, forms, messages, paging.

/// A page that only says what went wrong.
#[derive(Template)]
#[template(path = "admin/problem.html")]
struct ProblemPage {
    chrome: Chrome,
    heading: &'static str,
    message: String,
}

fn problem(state: &AppState, caller: &Caller, status: StatusCode, heading: &'static str, message: &str) -> Early {
    let page = ProblemPage { chrome: Chrome::new(state, caller), heading, message: message.to_owned() };
    render(&page, status).into()
}

fn bad_request(state: &AppState, caller: &Caller, message: &str) -> Early {
    problem(state, caller, StatusCode::BAD_REQUEST, "That request could not be read", message)
}

/// A failed read shown as a page (the cause is logged by `ServiceError::internal`).
fn server_problem(state: &AppState, caller: &Caller, error: &ServiceError) -> Early {
    problem(state, caller, status(error.kind()), "Something went wrong", &sentence(error.message()))
}

/// The signed-in admin behind a request: anonymous callers are sent to
/// `/login`, other users get a 403 page.
fn require_admin(state: &AppState, caller: &Caller) -> Result<SessionUser, Early> {
    match &caller.user {
        None => Err(Redirect::to("/login").into_response().into()),
        Some(user) if user.is_admin => Ok(user.clone()),
        Some(_) => Err(problem(
            state,
            caller,
            StatusCode::FORBIDDEN,
            "Admins only",
            "This part of the site is for its admins.",
        )),
    }
}

/// `/admin/...` paths that name no section.
pub async fn unknown_page(State(state): State<AppState>, caller: Caller) -> PageResult {
    require_admin(&state, &caller)?;
    Err(problem(&state, &caller, StatusCode::NOT_FOUND, "Nothing here", "There is no such admin page."))
}

/// A posted form's fields, in order; repeated keys (checkbox lists) kept.
struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of a field.
    fn one(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated field.
    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// What every form post does first: an admin session, a readable form with
/// the session's form token (checked by [`SignedForm`]), not too many fields.
fn admin_form(state: &AppState, caller: &Caller, form: FormResult) -> Result<(SessionUser, Fields), Early> {
    let admin = require_admin(state, caller)?;
    let pairs = match form {
        Ok(SignedForm(pairs)) => pairs,
        Err(FormRefusal::Unreadable(_)) => {
            return Err(bad_request(state, caller, "The form was not sent as a form, or it was too large."));
        }
        Err(FormRefusal::Forged) => {
            return Err(problem(
                state,
                caller,
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form does not belong to your session. Reload the page and try again.",
            ));
        }
    };
    if pairs.len() > MAX_FORM_FIELDS {
        return Err(bad_request(state, caller, "The form has too many fields."));
    }
    Ok((admin, Fields(pairs)))
}

/// Query of every admin page (each reads what it needs).
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    notice: Option<String>,
    error: Option<String>,
    sig: Option<String>,
    status: Option<String>,
    offset: Option<String>,
    q: Option<String>,
}

/// What every admin page starts with: an admin session and its query.
fn admin_page(state: &AppState, caller: &Caller, query: QueryResult) -> Result<(SessionUser, PageQuery), Early> {
    let admin = require_admin(state, caller)?;
    match query {
        Ok(Query(query)) => Ok((admin, query)),
        Err(_) => Err(bad_request(state, caller, "The address has a malformed query string.")),
    }
}

/// The notice or error carried back to a section after a post.
struct Flash {
    notice: Option<String>,
    error: Option<String>,
}

impl Flash {
    /// Shows the message only if this server tagged it.
    fn from_query(state: &AppState, query: &PageQuery) -> Flash {
        let tagged = |kind: &str, text: &Option<String>| {
            let text = text.as_ref()?;
            let sig = query.sig.as_deref()?;
            constant_time_eq(sig.as_bytes(), flash_tag(state, kind, text).as_bytes()).then(|| text.clone())
        };
        Flash { notice: tagged("notice", &query.notice), error: tagged("error", &query.error) }
    }
}

fn flash_tag(state: &AppState, kind: &str, text: &str) -> String {
    let mut hasher = blake3::Hasher::new_keyed(&state.form_token_key);
    hasher.update(b"aimoviez admin flash\0");
    hasher.update(kind.as_bytes());
    hasher.update(b"\0");
    hasher.update(text.as_bytes());
    hasher.finalize().to_hex()[..32].to_owned()
}

/// Percent-encodes text for a query value (everything but unreserved ASCII).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The 303 back to a section after a post, with what happened.
fn back(state: &AppState, to: &str, outcome: Result<String, ServiceError>) -> Response {
    let (kind, text) = match outcome {
        Ok(text) => ("notice", text),
        Err(error) => ("error", sentence(error.message())),
    };
    let text: String = text.chars().take(MAX_FLASH_CHARS).collect();
    let separator = if to.contains('?') { '&' } else { '?' };
    let tag = flash_tag(state, kind, &text);
    Redirect::to(&format!("{to}{separator}{kind}={}&sig={tag}", encode(&text))).into_response()
}

/// A page offset from the query.
fn parse_offset(raw: Option<&str>) -> Result<usize, String> {
    match raw.map(str::trim).filter(|raw| !raw.is_empty()) {
        None => Ok(0),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|offset| *offset <= MAX_OFFSET)
            .ok_or_else(|| format!("offset must be a whole number up to {MAX_OFFSET}.")),
    }
}

/// Links to the newer and older page of a list.
struct Pager {
    prev: Option<String>,
    next: Option<String>,
}

impl Pager {
    fn new(base: &str, offset: usize, per_page: usize, has_more: bool) -> Pager {
        let separator = if base.contains('?') { '&' } else { '?' };
        let link = |offset: usize| {
            if offset == 0 { base.to_owned() } else { format!("{base}{separator}offset={offset}") }
        };
        Pager {
            prev: (offset > 0).then(|| link(offset.saturating_sub(per_page))),
            next: has_more.then(|| link(offset + per_page)),
        }
    }
}

/// A time as the console shows it: `2025-01-31 18:04 UTC`.
fn when(at: Timestamp) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.millis()) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// How long until a time: `5h 12m`, or `now` once it passed.
fn until(at: Timestamp) -> String {
    let secs = (at.millis() - Timestamp::now().millis()) / 1000;
    if secs <= 0 {
        return "now".to_owned();
    }
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else {
        format!("{}m", minutes.max(1))
    }
}

/// A count with its noun: `1 vote`, `3 votes`.
fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// Shortens text to `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_everything_but_unreserved_ascii() {
        assert_eq!(encode("Slot 1 is locked."), "Slot%201%20is%20locked.");
        assert_eq!(encode("a&b=c?d#e+f/%"), "a%26b%3Dc%3Fd%23e%2Bf%2F%25");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn messages_become_sentences() {
        assert_eq!(sentence("no slot is open"), "No slot is open.");
        assert_eq!(sentence("Done!"), "Done!");
        assert_eq!(sentence("  "), "Something went wrong.");
    }

    #[test]
    fn offsets_are_bounded() {
        assert_eq!(parse_offset(None), Ok(0));
        assert_eq!(parse_offset(Some("")), Ok(0));
        assert_eq!(parse_offset(Some("40")), Ok(40));
        assert!(parse_offset(Some("-1")).is_err());
        assert!(parse_offset(Some("x")).is_err());
        assert!(parse_offset(Some("100001")).is_err());
    }

    #[test]
    fn pager_links_keep_the_query() {
        let pager = Pager::new("/admin/clips?status=active", 20, 20, true);
        assert_eq!(pager.prev.as_deref(), Some("/admin/clips?status=active"));
        assert_eq!(pager.next.as_deref(), Some("/admin/clips?status=active&offset=40"));
        let first = Pager::new("/admin/audit", 0, 50, false);
        assert!(first.prev.is_none() && first.next.is_none());
    }

    #[test]
    fn long_titles_are_shortened() {
        assert_eq!(shorten("short", 18), "short");
        assert_eq!(shorten("a very long title indeed", 10).chars().count(), 10);
    }
}
