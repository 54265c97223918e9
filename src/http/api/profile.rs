//! Profiles, follows and notifications over JSON.
//!
//! `GET /api/me/profile` (also `/api/profile/stats`) and `/api/profile/history`
//! are the signed-in user's own numbers and last votes; `GET /api/users/{name}`
//! is the public profile; `POST`/`DELETE /api/users/{name}/follow` follow and
//! unfollow; `/api/users/{name}/followers|following` page the lists;
//! `/api/notifications`, `/api/notifications/read` and
//! `/api/notifications/unread-count` are the inbox. The numbers come from
//! `service::profiles`, the inbox from `service::notifications`.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::UserRef;
use crate::domain::account::Username;
use crate::http::error::ErrorBody;
use crate::http::extract::{ApiJson, ApiQuery, AuthUser, Caller, Segment, Segments};
use crate::http::response::private;
use crate::service::notifications::{self, MarkReadRequest};
use crate::service::profiles::{self, FollowList, Profile, ProfileBadge, ProfileVote};
use crate::service::{ServiceError, Services};
use crate::store::social::{FollowEntry, Notification};

/// A badge on the wire and on pages.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BadgeDto {
    pub key: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// `unlocked`, `locked` or `in_progress`.
    pub state: &'static str,
    /// Progress towards `goal` (1 of 1 once unlocked, 0 of 1 while locked).
    pub progress: u64,
    pub goal: u64,
}

/// One of the last votes.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecentVoteDto {
    pub clip_id: u64,
    pub clip_title: String,
    /// `standard`, `super` or `mega`.
    pub vote_type: &'static str,
    pub weight: u32,
    /// `counted`, `revoked` or `voided`.
    pub state: &'static str,
    /// RFC 3339.
    pub cast_at: String,
}

/// Everything a profile shows, computed from the stored facts. The private
/// parts (`votesToday`, `recentVotes`) are `None` on someone else's profile.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    pub id: u64,
    pub username: String,
    /// RFC 3339.
    pub member_since: String,
    /// All-time rank among voters (by votes cast); `null` when unranked or
    /// beyond the top 10,000.
    pub rank: Option<u64>,
    pub votes_total: u64,
    /// Counted votes cast today (UTC); null on someone else's profile.
    pub votes_today: Option<u32>,
    pub clips_uploaded: u64,
    pub approved_clips: u64,
    pub wins: u64,
    pub xp: u64,
    pub level: u64,
    pub xp_into_level: u64,
    pub xp_for_next_level: u64,
    pub level_percent: u64,
    pub streak: u32,
    pub best_streak: u32,
    pub badges: Vec<BadgeDto>,
    pub followers: u64,
    pub following: u64,
    /// The last votes, newest first; null on someone else's profile.
    pub recent_votes: Option<Vec<RecentVoteDto>>,
}

impl From<&ProfileVote> for RecentVoteDto {
    fn from(vote: &ProfileVote) -> Self {
        RecentVoteDto {
            clip_id: vote.clip_id,
            clip_title: vote.clip_title.clone(),
            vote_type: vote.vote_type,
            weight: vote.weight,
            state: vote.state,
            cast_at: vote.cast_at.to_rfc3339(),
        }
    }
}

impl From<&ProfileBadge> for BadgeDto {
    fn from(badge: &ProfileBadge) -> Self {
        BadgeDto {
            key: badge.key,
            title: badge.title,
            description: badge.description,
            state: badge.state,
            progress: badge.progress,
            goal: badge.goal,
        }
    }
}

impl From<&Profile> for ProfileView {
    fn from(profile: &Profile) -> Self {
        ProfileView {
            id: profile.id,
            username: profile.username.clone(),
            member_since: profile.member_since.to_rfc3339(),
            rank: profile.rank,
            votes_total: profile.votes_total,
            votes_today: profile.votes_today,
            clips_uploaded: profile.clips_uploaded,
            approved_clips: profile.approved_clips,
            wins: profile.wins,
            xp: profile.xp,
            level: profile.level,
            xp_into_level: profile.xp_into_level,
            xp_for_next_level: profile.xp_for_next_level,
            level_percent: profile.level_percent,
            streak: profile.streak,
            best_streak: profile.best_streak,
            badges: profile.badges.iter().map(BadgeDto::from).collect(),
            followers: profile.followers,
            following: profile.following,
            recent_votes: profile.recent_votes.as_ref().map(|votes| votes.iter().map(RecentVoteDto::from).collect()),
        }
    }
}

/// Body of `GET /api/me/profile` and `GET /api/profile/stats`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyProfileResponse {
    /// With the private parts (`votesToday`, `recentVotes`).
    profile: ProfileView,
    unread_notifications: u64,
}

/// `GET /api/me/profile` and `GET /api/profile/stats`: my profile with the private parts.
#[utoipa::path(get, path = "/api/me/profile", tag = "profiles", security(("session" = [])),
    responses((status = 200, description = "My profile and unread notification count", body = MyProfileResponse)))]
pub async fn my_profile(State(services): State<Services>, AuthUser(user): AuthUser) -> Result<Response, ServiceError> {
    let profile = profiles::own_profile(&services, user.user).await?;
    let unread = notifications::unread_count(&services, user.user);
    Ok(private(Json(MyProfileResponse { profile: ProfileView::from(&profile), unread_notifications: unread })))
}

/// Body of `GET /api/profile/history`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryResponse {
    /// Newest first.
    votes: Vec<RecentVoteDto>,
}

/// `GET /api/profile/history`: my last votes, newest first.
#[utoipa::path(get, path = "/api/profile/history", tag = "profiles", security(("session" = [])),
    responses((status = 200, description = "My last votes, newest first", body = HistoryResponse)))]
pub async fn my_history(State(services): State<Services>, AuthUser(user): AuthUser) -> Result<Response, ServiceError> {
    let profile = profiles::own_profile(&services, user.user).await?;
    let votes = profile.recent_votes.iter().flatten().map(RecentVoteDto::from).collect();
    Ok(private(Json(HistoryResponse { votes })))
}

/// Body of `GET /api/users/{name}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicProfileResponse {
    /// Without the private parts (`votesToday` and `recentVotes` are null).
    profile: ProfileView,
    /// Whether the caller follows this user (false when signed out).
    is_following: bool,
}

/// `GET /api/users/{name}`: a public profile.
#[utoipa::path(get, path = "/api/users/{name}", tag = "profiles",
    params(("name" = String, Path, description = "Username")),
    responses(
        (status = 200, description = "The public profile", body = PublicProfileResponse),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
    ))]
pub async fn public_profile(
    State(services): State<Services>,
    caller: Caller,
    Segment(name): Segment<Username>,
) -> Result<Response, ServiceError> {
    let (profile, following) = profiles::public_profile(&services, &name, caller.user_id()).await?;
    Ok(private(Json(PublicProfileResponse { profile: ProfileView::from(&profile), is_following: following })))
}

/// Body of a follow or unfollow.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowState {
    /// Whether the caller follows the user now.
    following: bool,
    /// The user's follower count now.
    followers: u64,
}

/// `POST /api/users/{name}/follow`.
#[utoipa::path(post, path = "/api/users/{name}/follow", tag = "profiles", security(("session" = [])),
    params(("name" = String, Path, description = "Username")),
    responses(
        (status = 200, description = "Following (idempotent)", body = FollowState),
        (status = 400, description = "`invalid_request`: the name is your own", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
    ))]
pub async fn follow(
    State(services): State<Services>,
    AuthUser(user): AuthUser,
    Segment(name): Segment<Username>,
) -> Result<Response, ServiceError> {
    set_follow(&services, &user, &name, true).await
}

/// `DELETE /api/users/{name}/follow`.
#[utoipa::path(delete, path = "/api/users/{name}/follow", tag = "profiles", security(("session" = [])),
    params(("name" = String, Path, description = "Username")),
    responses(
        (status = 200, description = "Not following (any more; idempotent)", body = FollowState),
        (status = 400, description = "`invalid_request`: the name is your own", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
    ))]
pub async fn unfollow(
    State(services): State<Services>,
    AuthUser(user): AuthUser,
    Segment(name): Segment<Username>,
) -> Result<Response, ServiceError> {
    set_follow(&services, &user, &name, false).await
}

async fn set_follow(
    services: &Services,
    user: &crate::sessions::SessionUser,
    name: &Username,
    follow: bool,
) -> Result<Response, ServiceError> {
    let outcome = profiles::set_follow(services, user.user, name, follow).await?;
    Ok(private(Json(FollowState { following: outcome.following, followers: outcome.followers })))
}

/// Query of the follower lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FollowListQuery {
    /// Only users with a larger id (the previous page's `nextAfter`).
    after: Option<u64>,
    /// Page size, 1 to 100 (default 20).
    limit: Option<i64>,
}

/// Body of `GET /api/users/{name}/followers` and `/following`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FollowListPage {
    /// By user id.
    users: Vec<UserRef>,
    has_more: bool,
    /// The `after` of the next page; null on the last page.
    next_after: Option<u64>,
}

/// `GET /api/users/{name}/followers` and `/following`, by user id, `after` a cursor.
#[utoipa::path(get, path = "/api/users/{name}/{list}", tag = "profiles",
    params(
        ("name" = String, Path, description = "Username"),
        ("list" = String, Path, description = "`followers` or `following`"),
        FollowListQuery,
    ),
    responses(
        (status = 200, description = "A page of the user's followers or of whom they follow", body = FollowListPage),
        (status = 404, description = "`not_found`: no such user, or `list` is neither `followers` nor `following`",
            body = ErrorBody),
    ))]
pub async fn follow_list(
    State(services): State<Services>,
    Segments(name, list): Segments<Username, FollowList>,
    ApiQuery(query): ApiQuery<FollowListQuery>,
) -> Result<Response, ServiceError> {
    let after = query.after.unwrap_or(0);
    let (entries, more) = profiles::follow_list(&services, &name, list, after, query.limit).await?;
    let users: Vec<UserRef> = entries
        .iter()
        .map(|FollowEntry { user, username }| UserRef { id: user.get(), username: username.clone() })
        .collect();
    let next = more.then(|| entries.last().map(|e| e.user.get())).flatten();
    Ok(private(Json(FollowListPage { users, has_more: more, next_after: next })))
}

/// A notification on the wire.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationDto {
    pub id: u64,
    /// `clip_approved`, `clip_rejected`, `clip_won`, `comment`, `new_follower`, `new_round`,
    /// `followed_clip_approved`, `followed_clip_won`, `reply` or `mention`.
    pub kind: &'static str,
    /// Plain text.
    pub message: String,
    pub clip_id: Option<u64>,
    /// The username of who caused it (a follower, a commenter, the followed creator).
    pub actor: Option<String>,
    pub slot_position: Option<u32>,
    /// RFC 3339.
    pub created_at: String,
    pub read: bool,
    /// Sent to everyone (a new voting round), not to this user alone.
    pub broadcast: bool,
}

impl From<&Notification> for NotificationDto {
    fn from(n: &Notification) -> Self {
        NotificationDto {
            id: n.id,
            kind: n.kind.as_str(),
            message: n.message(),
            clip_id: n.clip.map(|c| c.get()),
            actor: n.actor.map(|_| n.actor_name.clone()),
            slot_position: (n.position > 0).then_some(n.position),
            created_at: n.created_at.to_rfc3339(),
            read: n.read,
            broadcast: n.broadcast,
        }
    }
}

/// Query of `GET /api/notifications`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationsQuery {
    /// Only notifications with a smaller id (the previous page's `nextBefore`).
    pub before: Option<u64>,
    /// Page size, 1–50 (default 20).
    pub limit: Option<i64>,
}

/// Body of `GET /api/notifications`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationsPage {
    /// Newest first.
    notifications: Vec<NotificationDto>,
    unread_count: u64,
    has_more: bool,
    /// The `before` of the next page; null on the last page.
    next_before: Option<u64>,
}

/// `GET /api/notifications?limit=&before=`: newest first, with the unread count.
#[utoipa::path(get, path = "/api/notifications", tag = "profiles", security(("session" = [])),
    params(NotificationsQuery),
    responses((status = 200, description = "A page of my notifications, newest first", body = NotificationsPage)))]
pub async fn list_notifications(
    State(services): State<Services>,
    AuthUser(user): AuthUser,
    ApiQuery(query): ApiQuery<NotificationsQuery>,
) -> Result<Response, ServiceError> {
    let limit = notifications::page_size(query.limit)?;
    let inbox = notifications::inbox(&services, user.user, query.before, limit).await?;
    Ok(private(Json(NotificationsPage {
        notifications: inbox.notifications.iter().map(NotificationDto::from).collect(),
        unread_count: inbox.unread,
        has_more: inbox.next_before.is_some(),
        next_before: inbox.next_before,
    })))
}

/// Body of `POST /api/notifications/read`: `{"ids": [..]}` or `{"all": true}`;
/// an empty body object marks everything read, as the design describes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkReadBody {
    /// 1 to 100 notification ids (personal or broadcast) to mark read.
    ids: Option<Vec<u64>>,
    /// `true` marks everything read; not together with `ids`.
    all: Option<bool>,
}

/// The unread notification count.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnreadCount {
    unread_count: u64,
}

/// `POST /api/notifications/read`.
#[utoipa::path(post, path = "/api/notifications/read", tag = "profiles", security(("session" = [])),
    request_body = MarkReadBody,
    responses(
        (status = 200, description = "Marked read; the unread count now", body = UnreadCount),
        (status = 404, description = "`not_found`: an id names no notification of mine (nothing is marked)",
            body = ErrorBody),
    ))]
pub async fn mark_read(
    State(services): State<Services>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<MarkReadBody>,
) -> Result<Response, ServiceError> {
    let which = match (body.ids, body.all) {
        (Some(_), Some(true)) => return Err(ServiceError::invalid("send either ids or all, not both")),
        (Some(ids), _) => MarkReadRequest::Ids(ids),
        (None, Some(false)) => return Err(ServiceError::invalid("all must be true when given")),
        (None, _) => MarkReadRequest::All,
    };
    let unread = notifications::mark_read(&services, user.user, which).await?;
    Ok(private(Json(UnreadCount { unread_count: unread })))
}

/// `GET /api/notifications/unread-count`: from memory, no storage read.
#[utoipa::path(get, path = "/api/notifications/unread-count", tag = "profiles", security(("session" = [])),
    responses((status = 200, description = "My unread notification count", body = UnreadCount)))]
pub async fn unread_count(State(services): State<Services>, AuthUser(user): AuthUser) -> Response {
    private(Json(UnreadCount { unread_count: notifications::unread_count(&services, user.user) }))
}
