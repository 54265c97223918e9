//! Public profiles (`/u/{name}`) with a follow form, the notifications page
//! and the generated avatar. The own profile (`/profile`) lives with the
//! creator pages and shows the same stats block.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::{Chrome, form_token_ok, render};
use crate::domain::clock::Timestamp;
use crate::http::api::error::ApiError;
use crate::http::api::extract::{ApiQuery, Caller};
use crate::http::api::profile::{
    NotificationDto, NotificationsQuery, ProfileView, load_profile, notification_limit, notification_page,
    parse_username,
};
use crate::http::state::AppState;
use crate::store::writer::MarkRead;

/// Profile and notification page routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/u/{name}", get(user_page))
        .route("/u/{name}/follow", post(follow_form))
        .route("/notifications", get(notifications_page))
        .route("/notifications/read", post(mark_read_form))
}

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
    profile: ProfileView,
    avatar: String,
    own: bool,
    following: bool,
}

/// `GET /u/{name}`: a public profile.
pub async fn user_page(State(state): State<AppState>, caller: Caller, Path(name): Path<String>) -> Response {
    let viewer = caller.user.as_ref().map(|u| u.user);
    let loaded = match parse_username(&name) {
        Ok(name) => load_profile(&state, &name, viewer, 0).await,
        Err(error) => Err(error),
    };
    match loaded {
        Ok((data, following)) => {
            let page = UserPage {
                chrome: Chrome::new(&state, &caller),
                avatar: identicon_svg(data.user.id.get(), 72),
                own: viewer == Some(data.user.id),
                profile: ProfileView::new(
                    &data,
                    Timestamp::now().utc_day(),
                    false,
                    state.leaderboards.voter_rank(data.user.id.get()),
                ),
                following,
            };
            render(&page, StatusCode::OK)
        }
        Err(error) if error.code() == "not_found" => super::arena::not_found(State(state), caller).await,
        Err(error) => error.into_response(),
    }
}

/// Body of the follow form.
#[derive(Debug, Deserialize)]
pub struct FollowForm {
    csrf: Option<String>,
    action: Option<String>,
}

/// `POST /u/{name}/follow`: follow or unfollow, then back to the profile.
pub async fn follow_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    form: Result<Form<FollowForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Some(user) = caller.user.clone() else { return Redirect::to("/login").into_response() };
    let Ok(Form(form)) = form else { return ApiError::invalid("the form could not be read").into_response() };
    if !form_token_ok(&state, &caller, form.csrf.as_deref()) {
        return ApiError::csrf_failed().into_response();
    }
    let follow = match form.action.as_deref() {
        Some("follow") => true,
        Some("unfollow") => false,
        _ => return ApiError::invalid("action must be follow or unfollow").into_response(),
    };
    let name = match parse_username(&name) {
        Ok(name) => name,
        Err(error) => return error.into_response(),
    };
    match state.writer.follow(user.user, name.as_str().to_owned(), follow).await {
        Ok(_) => Redirect::to(&format!("/u/{}", name.as_str())).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// `/notifications`.
#[derive(Template)]
#[template(path = "notifications.html")]
pub struct NotificationsPage {
    chrome: Chrome,
    notifications: Vec<NotificationDto>,
    unread: u64,
    next_before: Option<u64>,
}

/// `GET /notifications`: newest first, 20 per page, "older" link.
pub async fn notifications_page(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<NotificationsQuery>,
) -> Result<Response, ApiError> {
    let Some(user) = caller.user.clone() else { return Ok(Redirect::to("/login").into_response()) };
    let limit = notification_limit(query.limit)?;
    let (notifications, next_before, unread) = notification_page(&state, user.user, query.before, limit).await?;
    let page = NotificationsPage { chrome: Chrome::new(&state, &caller), notifications, unread, next_before };
    Ok(render(&page, StatusCode::OK))
}

/// Body of the mark-read forms: one id, or everything when absent.
#[derive(Debug, Deserialize)]
pub struct MarkReadForm {
    csrf: Option<String>,
    id: Option<u64>,
}

/// `POST /notifications/read`.
pub async fn mark_read_form(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<MarkReadForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Some(user) = caller.user.clone() else { return Redirect::to("/login").into_response() };
    let Ok(Form(form)) = form else { return ApiError::invalid("the form could not be read").into_response() };
    if !form_token_ok(&state, &caller, form.csrf.as_deref()) {
        return ApiError::csrf_failed().into_response();
    }
    let which = match form.id {
        Some(id) => MarkRead::Ids(vec![id]),
        None => MarkRead::All,
    };
    match state.writer.mark_notifications_read(user.user, which).await {
        Ok(()) => Redirect::to("/notifications").into_response(),
        Err(error) => ApiError::from(error).into_response(),
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
