//! The one layer in front of every group of page, API and admin routes:
//! its rate limit, the cross-site refusal and session renewal, in that
//! order, as one middleware rather than three, so a request pays for one
//! boxed service and one boxed future instead of three (issue #16: the
//! request side of a vote is most of its cost).
//!
//! - The rate limit counts every request of a limited group, the ones the
//!   cross-site check then refuses included; its 429 runs nothing else.
//! - A cross-site state-changing request is answered 403 `csrf_failed`
//!   without running the handler, so it changes nothing.
//! - A session past half its life is renewed once the handler has answered.
//! - The answer gets the `X-RateLimit-*` counts (see `rate_limit::stamp`).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::rate_limit::{self, Admission, RateLimitLayerState};
use super::{cross_site, session};
use crate::http::error::csrf_failed;
use crate::http::state::AppState;

/// What a group's guard does.
#[derive(Clone)]
pub struct GroupGuard {
    /// The app, for the site's address and the sessions.
    pub app: AppState,
    /// The group's rate limit, when it has one.
    pub limit: Option<RateLimitLayerState>,
    /// Whether sessions are renewed on the group's requests (not on
    /// uploads, which are answered after a long body).
    pub renews_sessions: bool,
}

/// Middleware: rate limit, then cross-site refusal, then the handler with
/// session renewal.
pub async fn guard(State(guard): State<GroupGuard>, request: Request, next: Next) -> Response {
    let decision = match guard.limit.as_ref().map(|limit| rate_limit::admit(limit, &request)) {
        None | Some(Admission::Unlimited) => None,
        Some(Admission::Refused(response)) => return response,
        Some(Admission::Allowed(decision)) => Some(decision),
    };
    let mut response = if cross_site::refuses(&request, guard.app.services.config.public_url.as_deref()) {
        tracing::info!(method = %request.method(), path = %request.uri().path(), "cross-site request refused");
        csrf_failed().into_response()
    } else {
        let due = if guard.renews_sessions { session::due(&guard.app, &request) } else { None };
        let mut response = next.run(request).await;
        if let Some(due) = due {
            session::renew(&guard.app, due, &mut response);
        }
        response
    };
    if let Some(decision) = decision {
        rate_limit::stamp(&mut response, &decision);
    }
    response
}
