//! Public profiles (`/u/{name}`) with a follow form, the notifications page
//! and the generated avatar. The own profile (`/profile`) lives with the
//! creator pages and shows the same stats block.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::arena::ClipCard;
use super::format::plural;
use super::{Chrome, media_urls, render};
use crate::domain::clock::Timestamp;
use crate::domain::ids::UserId;
use crate::http::extract::{ApiQuery, Caller, FormRefusal, PageForm, SignedForm};
use crate::http::state::AppState;
use crate::service::notifications::{self, MarkReadRequest};
use crate::service::profiles::{self, Profile};
use crate::service::{ErrorKind, Page, ServiceError, Services};
use crate::store::social::{Notification, NotificationKind};

/// An identicon for a user: a 5×5 mirrored grid and a hue taken from a hash
/// of the user id, as inline SVG. Built only from hash bits (no user text),
/// so it is safe to embed unescaped.
pub fn identicon_svg(user_id: u64, size: u32) -> String {
    let hash = blake3::hash(format!("aimoviez avatar {user_id}").as_bytes());
    let bytes = hash.as_bytes();
    let hue = u32::from(u16::from_le_bytes([bytes[0], bytes[1]])) % 360;
    let mut cells = String::new();
    for row in 0..5u32 {
        for col in 0..3u32 {
            let bit = row * 3 + col;
            let on = bytes[2 + (bit / 8) as usize] >> (bit % 8) & 1 == 1;
            if on {
                cells.push_str(&format!(r#"<rect x="{col}" y="{row}" width="1" height="1"/>"#));
                if col < 2 {
                    cells.push_str(&format!(r#"<rect x="{}" y="{row}" width="1" height="1"/>"#, 4 - col));
                }
            }
        }
    }
    format!(
        r#"<svg class="avatar" xmlns="http://www.w3.org/2000/svg" viewBox="-0.5 -0.5 6 6" width="{size}" height="{size}" role="img" aria-label="avatar"><rect x="-0.5" y="-0.5" width="6" height="6" fill="hsl({hue}, 25%, 14%)"/><g fill="hsl({hue}, 70%, 60%)">{cells}</g></svg>"#
    )
}

/// `/u/{name}`.
#[derive(Template)]
#[template(path = "user.html")]
pub struct UserPage {
    chrome: Chrome,
    profile: Profile,
    avatar: String,
    own: bool,
    following: bool,
    /// Their approved clips, newest first.
    clips: Vec<PublicClip>,
    /// Whether they have more uploads than the grid shows.
    more_clips: bool,
}

/// A clip in a profile's grid.
pub struct PublicClip {
    card: ClipCard,
    /// "12 votes".
    votes: String,
    /// Whether it won its scene.
    won: bool,
}

/// Clips in a public profile's grid.
const PROFILE_CLIPS: usize = 24;

/// `GET /u/{name}`: a public profile.
pub async fn user_page(State(state): State<AppState>, caller: Caller, Path(name): Path<String>) -> Response {
    let viewer = caller.user_id();
    let loaded = match profiles::parse_username(&name) {
        Ok(name) => profiles::public_profile(&state.services, &name, viewer).await,
        Err(error) => Err(error),
    };
    match loaded {
        Ok((profile, following)) => {
            let shown = Page { limit: PROFILE_CLIPS, offset: 0 };
            let listed = match UserId::new(profile.id) {
                Some(user) => profiles::public_clips(&state.services, user, shown).await,
                None => Ok((Vec::new(), false)),
            };
            let (clips, more_clips) = match listed {
                Ok(listed) => listed,
                Err(error) => return error.into_response(),
            };
            let clips = clips
                .iter()
                .map(|own| PublicClip {
                    card: ClipCard::new(&own.clip, media_urls(&state)),
                    votes: plural(own.clip.counter.vote_count, "vote", "votes"),
                    won: own.status == profiles::CreatorStatus::Winner,
                })
                .collect();
            let page = UserPage {
                clips,
                more_clips,
                chrome: Chrome::new(&state, &caller),
                avatar: identicon_svg(profile.id, 72),
                own: viewer.is_some_and(|viewer| viewer.get() == profile.id),
                profile,
                following,
            };
            render(&page, StatusCode::OK)
        }
        Err(error) if error.kind() == ErrorKind::NotFound => super::arena::not_found(State(state), caller).await,
        Err(error) => error.into_response(),
    }
}

/// Body of the follow form.
#[derive(Debug, Deserialize)]
pub struct FollowForm {
    action: Option<String>,
}

impl PageForm for FollowForm {}

/// `POST /u/{name}/follow`: follow or unfollow, then back to the profile.
pub async fn follow_form(
    State(services): State<Services>,
    caller: Caller,
    Path(name): Path<String>,
    form: Result<SignedForm<FollowForm>, FormRefusal<FollowForm>>,
) -> Response {
    let Some(user) = caller.user.clone() else { return Redirect::to("/login").into_response() };
    let form = match form {
        Ok(SignedForm(form)) => form,
        Err(refusal) => return refusal.into_response(),
    };
    let follow = match form.action.as_deref() {
        Some("follow") => true,
        Some("unfollow") => false,
        _ => return ServiceError::invalid("action must be follow or unfollow").into_response(),
    };
    let name = match profiles::parse_username(&name) {
        Ok(name) => name,
        Err(error) => return error.into_response(),
    };
    match profiles::set_follow(&services, user.user, &name, follow).await {
        Ok(_) => Redirect::to(&format!("/u/{}", name.as_str())).into_response(),
        Err(error) => error.into_response(),
    }
}

/// `/notifications`.
#[derive(Template)]
#[template(path = "notifications.html")]
pub struct NotificationsPage {
    chrome: Chrome,
    notifications: Vec<NotificationRow>,
    unread: u64,
    next_before: Option<u64>,
}

/// A notification as the page lists it.
pub struct NotificationRow {
    id: u64,
    message: String,
    created_at: Timestamp,
    read: bool,
}

impl From<&Notification> for NotificationRow {
    fn from(n: &Notification) -> Self {
        NotificationRow { id: n.id, message: n.message(), created_at: n.created_at, read: n.read }
    }
}

/// Query of `/notifications`.
#[derive(Debug, Deserialize)]
pub struct NotificationsQuery {
    before: Option<u64>,
    limit: Option<i64>,
}

/// `GET /notifications`: newest first, 20 per page, "older" link.
pub async fn notifications_page(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<NotificationsQuery>,
) -> Result<Response, ServiceError> {
    let Some(user) = caller.user.clone() else { return Ok(Redirect::to("/login").into_response()) };
    let limit = notifications::page_size(query.limit)?;
    let inbox = notifications::inbox(&state.services, user.user, query.before, limit).await?;
    let page = NotificationsPage {
        chrome: Chrome::new(&state, &caller),
        notifications: inbox.notifications.iter().map(NotificationRow::from).collect(),
        unread: inbox.unread,
        next_before: inbox.next_before,
    };
    Ok(render(&page, StatusCode::OK))
}

/// Where a notification leads: the clip it is about (its comments for a
/// comment, reply or mention), else the person who caused it, else the arena
/// (a new voting round).
fn notification_target(notification: &Notification) -> String {
    match (notification.kind, notification.clip, notification.actor) {
        (NotificationKind::Comment | NotificationKind::Reply | NotificationKind::Mention, Some(clip), _) => {
            format!("/clip/{clip}#comments")
        }
        (_, Some(clip), _) => format!("/clip/{clip}"),
        (_, None, Some(_)) => format!("/u/{}", notification.actor_name),
        (_, None, None) => "/".to_owned(),
    }
}

/// `GET /notifications/{id}`: opening a notification marks it read and
/// leads to what it is about (a plain link, so it works without JavaScript).
pub async fn open_notification(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Response, ServiceError> {
    let Some(user) = caller.user.clone() else { return Ok(Redirect::to("/login?next=/notifications").into_response()) };
    let id = raw.parse::<u64>().map_err(|_| ServiceError::not_found("no such notification"))?;
    let notification = notifications::open(&state.services, user.user, id).await?;
    Ok(Redirect::to(&notification_target(&notification)).into_response())
}

/// Body of the mark-read forms: one id, or everything when absent.
#[derive(Debug, Deserialize)]
pub struct MarkReadForm {
    id: Option<u64>,
}

impl PageForm for MarkReadForm {}

/// `POST /notifications/read`.
pub async fn mark_read_form(
    State(services): State<Services>,
    caller: Caller,
    form: Result<SignedForm<MarkReadForm>, FormRefusal<MarkReadForm>>,
) -> Response {
    let Some(user) = caller.user.clone() else { return Redirect::to("/login").into_response() };
    let form = match form {
        Ok(SignedForm(form)) => form,
        Err(refusal) => return refusal.into_response(),
    };
    let which = match form.id {
        Some(id) => MarkReadRequest::Ids(vec![id]),
        None => MarkReadRequest::All,
    };
    match notifications::mark_read(&services, user.user, which).await {
        Ok(_) => Redirect::to("/notifications").into_response(),
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::identicon_svg;

    #[test]
    fn identicons_are_stable_distinct_and_symmetric_svg() {
        let a = identicon_svg(1, 64);
        assert_eq!(a, identicon_svg(1, 64));
        assert_ne!(a, identicon_svg(2, 64));
        assert!(a.starts_with("<svg") && a.ends_with("</svg>"));
        for row in 0..5 {
            for (left, right) in [(0, 4), (1, 3)] {
                let cell = |x: u32| a.contains(&format!(r#"<rect x="{x}" y="{row}" width="1""#));
                assert_eq!(cell(left), cell(right), "row {row} mirrors column {left} in {right}");
            }
        }
    }
}
