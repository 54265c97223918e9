//! Profiles, follows and notifications over JSON.
//!
//! `GET /api/me/profile` (also `/api/profile/stats`) and `/api/profile/history`
//! are the signed-in user's own numbers and last votes; `GET /api/users/{name}`
//! is the public profile; `POST`/`DELETE /api/users/{name}/follow` follow and
//! unfollow; `/api/users/{name}/followers|following` page the lists;
//! `/api/notifications`, `/api/notifications/read` and
//! `/api/notifications/unread-count` are the inbox. Every read is a handful
//! of point reads and bounded ranges.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::UserRef;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiQuery, AuthUser, Caller};
use super::vote::private;
use crate::domain::account::Username;
use crate::domain::clock::{Timestamp, UtcDay};
use crate::domain::ids::UserId;
use crate::domain::profile::{self, BadgeState, ProfileFacts};
use crate::http::state::AppState;
use crate::store::social::{FollowEntry, MAX_NOTIFICATIONS_PAGE, Notification, ProfileData, RecentVote};
use crate::store::writer::{MAX_MARK_READ_IDS, MarkRead};

/// Votes listed on a profile.
pub const RECENT_VOTES: usize = 20;

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
    /// Short time for pages.
    #[serde(skip)]
    pub cast_at_display: String,
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

fn recent_vote_dto(recent: &RecentVote) -> RecentVoteDto {
    let vote = &recent.vote;
    let state = match vote.state {
        crate::domain::model::VoteState::Counted => "counted",
        crate::domain::model::VoteState::Revoked { .. } => "revoked",
        crate::domain::model::VoteState::Voided => "voided",
    };
    RecentVoteDto {
        clip_id: vote.clip.get(),
        clip_title: recent.clip_title.clone(),
        vote_type: vote.vote_type.as_str(),
        weight: vote.weight,
        state,
        cast_at: vote.cast_at.to_rfc3339(),
        cast_at_display: vote.cast_at.to_display(),
    }
}

impl ProfileView {
    /// The view of stored profile data on `today` with the user's voter
    /// rank (if in the top [`crate::leaderboard::RANK_CAP`]); `own` adds the
    /// private parts.
    pub fn new(data: &ProfileData, today: UtcDay, own: bool, rank: Option<usize>) -> ProfileView {
        let stats = &data.stats;
        let facts = ProfileFacts {
            votes_cast: data.votes_cast,
            approved_clips: stats.approved_clips,
            wins: stats.wins,
            best_streak: stats.streak.best,
        };
        let xp = profile::xp(&facts);
        let level = profile::level_for(xp);
        let badges = profile::badges(&facts)
            .into_iter()
            .map(|badge| {
                let (progress, goal) = match badge.state {
                    BadgeState::InProgress { progress, goal } => (progress, goal),
                    BadgeState::Unlocked => (1, 1),
                    BadgeState::Locked => (0, 1),
                };
                BadgeDto {
                    key: badge.key,
                    title: badge.title,
                    description: badge.description,
                    state: badge.state.as_str(),
                    progress,
                    goal,
                }
            })
            .collect();
        ProfileView {
            id: data.user.id.get(),
            username: data.user.username.clone(),
            member_since: data.user.created_at.to_rfc3339(),
            rank: rank.map(|rank| rank as u64),
            votes_total: data.votes_cast,
            votes_today: own.then(|| stats.votes_on(today)),
            clips_uploaded: stats.clips_uploaded,
            approved_clips: stats.approved_clips,
            wins: stats.wins,
            xp,
            level: level.level,
            xp_into_level: level.xp_into_level,
            xp_for_next_level: level.xp_for_next,
            level_percent: level.percent(),
            streak: stats.streak.current_on(today),
            best_streak: stats.streak.best,
            badges,
            followers: stats.followers,
            following: stats.following,
            recent_votes: own.then(|| data.recent_votes.iter().map(recent_vote_dto).collect()),
        }
    }
}

/// A username from the path, or 404 (a malformed name names no one).
pub fn parse_username(raw: &str) -> Result<Username, ApiError> {
    Username::parse(raw).map_err(|_| ApiError::not_found("no such user"))
}

/// A profile by username, with whether `viewer` follows them.
pub async fn load_profile(
    state: &AppState,
    name: &Username,
    viewer: Option<UserId>,
    recent: usize,
) -> Result<(ProfileData, bool), ApiError> {
    let name = name.as_str().to_owned();
    let found = state
        .read_store(move |store| {
            let Some(user) = store.user_by_name(&name)? else { return Ok(None) };
            let Some(data) = store.profile(user.id, recent)? else { return Ok(None) };
            let following = match viewer {
                Some(viewer) if viewer != user.id => store.is_following(viewer, user.id)?,
                _ => false,
            };
            Ok(Some((data, following)))
        })
        .await?;
    found.ok_or_else(|| ApiError::not_found("no such user"))
}

/// The signed-in user's own profile data.
pub async fn load_own_profile(state: &AppState, user: UserId) -> Result<ProfileData, ApiError> {
    state
        .read_store(move |store| store.profile(user, RECENT_VOTES))
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))
}

fn today() -> UtcDay {
    Timestamp::now().utc_day()
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
pub async fn my_profile(State(state): State<AppState>, AuthUser(user): AuthUser) -> Result<Response, ApiError> {
    let data = load_own_profile(&state, user.user).await?;
    let view = ProfileView::new(&data, today(), true, state.leaderboards.voter_rank(user.user.get()));
    let unread = state.unread.count(user.user);
    Ok(private(Json(MyProfileResponse { profile: view, unread_notifications: unread })))
}

/// `GET /api/profile/stats`, served by [`my_profile`].
#[utoipa::path(get, path = "/api/profile/stats", tag = "profiles", security(("session" = [])),
    responses((status = 200, description = "My profile and unread notification count", body = MyProfileResponse)))]
#[allow(dead_code)] // documents the route; the router serves it with `my_profile`
fn profile_stats() {}

/// Body of `GET /api/profile/history`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryResponse {
    /// Newest first.
    votes: Vec<RecentVoteDto>,
}

/// `GET /api/profile/history`: my last votes, newest first.
#[utoipa::path(get, path = "/api/profile/history", tag = "profiles", security(("session" = [])),
    responses((status = 200, description = "My last votes, newest first", body = HistoryResponse)))]
pub async fn my_history(State(state): State<AppState>, AuthUser(user): AuthUser) -> Result<Response, ApiError> {
    let data = load_own_profile(&state, user.user).await?;
    let votes: Vec<RecentVoteDto> = data.recent_votes.iter().map(recent_vote_dto).collect();
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
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let name = parse_username(&name)?;
    let viewer = caller.user.as_ref().map(|u| u.user);
    let (data, following) = load_profile(&state, &name, viewer, 0).await?;
    let view = ProfileView::new(&data, today(), false, state.leaderboards.voter_rank(data.user.id.get()));
    Ok(private(Json(PublicProfileResponse { profile: view, is_following: following })))
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
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    set_follow(&state, user.user, &name, true).await
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
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    set_follow(&state, user.user, &name, false).await
}

async fn set_follow(state: &AppState, user: UserId, name: &str, follow: bool) -> Result<Response, ApiError> {
    let name = parse_username(name)?;
    let outcome = state.writer.follow(user, name.as_str().to_owned(), follow).await?;
    Ok(private(Json(FollowState { following: outcome.following, followers: outcome.followers })))
}

/// Query of the follower lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
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
    State(state): State<AppState>,
    Path((name, which)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<FollowListQuery>,
) -> Result<Response, ApiError> {
    let followers = match which.as_str() {
        "followers" => true,
        "following" => false,
        _ => return Err(ApiError::not_found("no such API route")),
    };
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 100"));
    }
    let name = parse_username(&name)?;
    let after = query.after.unwrap_or(0);
    let page = state
        .read_store(move |store| {
            let Some(user) = store.user_by_name(name.as_str())? else { return Ok(None) };
            store.follow_list(user.id, followers, after, limit as usize).map(Some)
        })
        .await?;
    let (entries, more) = page.ok_or_else(|| ApiError::not_found("no such user"))?;
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
    /// `clip_approved`, `clip_rejected`, `clip_won`, `comment`, `new_follower` or `new_round`.
    pub kind: &'static str,
    /// Plain text.
    pub message: String,
    pub clip_id: Option<u64>,
    /// The username of who caused it (a follower, a commenter).
    pub actor: Option<String>,
    pub slot_position: Option<u32>,
    /// RFC 3339.
    pub created_at: String,
    pub read: bool,
    /// Sent to everyone (a new voting round), not to this user alone.
    pub broadcast: bool,
    /// Short time for pages.
    #[serde(skip)]
    pub created_at_display: String,
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
            created_at_display: n.created_at.to_display(),
        }
    }
}

/// Query of `GET /api/notifications`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationsQuery {
    /// Only notifications with a smaller id (the previous page's `nextBefore`).
    pub before: Option<u64>,
    /// Page size, 1–50 (default 20).
    pub limit: Option<i64>,
}

/// A checked page size.
pub fn notification_limit(limit: Option<i64>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(20);
    if !(1..=MAX_NOTIFICATIONS_PAGE as i64).contains(&limit) {
        return Err(ApiError::invalid(format!("limit must be between 1 and {MAX_NOTIFICATIONS_PAGE}")));
    }
    Ok(limit as usize)
}

/// One page of a user's notifications.
pub async fn notification_page(
    state: &AppState,
    user: UserId,
    before: Option<u64>,
    limit: usize,
) -> Result<(Vec<NotificationDto>, Option<u64>, u64), ApiError> {
    let (page, more, unread) = state
        .read_store(move |store| {
            let (page, more) = store.notifications(user, before, limit)?;
            Ok((page, more, store.unread_count(user)?))
        })
        .await?;
    let next = if more { page.last().map(|n| n.id) } else { None };
    Ok((page.iter().map(NotificationDto::from).collect(), next, unread))
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
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(query): ApiQuery<NotificationsQuery>,
) -> Result<Response, ApiError> {
    let limit = notification_limit(query.limit)?;
    let (notifications, next, unread) = notification_page(&state, user.user, query.before, limit).await?;
    Ok(private(Json(NotificationsPage {
        notifications,
        unread_count: unread,
        has_more: next.is_some(),
        next_before: next,
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
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<MarkReadBody>,
) -> Result<Response, ApiError> {
    let which = match (body.ids, body.all) {
        (Some(_), Some(true)) => return Err(ApiError::invalid("send either ids or all, not both")),
        (Some(ids), _) => {
            if ids.is_empty() || ids.len() > MAX_MARK_READ_IDS {
                return Err(ApiError::invalid(format!("ids must name 1 to {MAX_MARK_READ_IDS} notifications")));
            }
            MarkRead::Ids(ids)
        }
        (None, Some(false)) => return Err(ApiError::invalid("all must be true when given")),
        (None, _) => MarkRead::All,
    };
    state.writer.mark_notifications_read(user.user, which).await?;
    let unread = state.read_store(move |store| store.unread_count(user.user)).await?;
    Ok(private(Json(UnreadCount { unread_count: unread })))
}

/// `GET /api/notifications/unread-count`: from memory, no storage read.
#[utoipa::path(get, path = "/api/notifications/unread-count", tag = "profiles", security(("session" = [])),
    responses((status = 200, description = "My unread notification count", body = UnreadCount)))]
pub async fn unread_count(State(state): State<AppState>, AuthUser(user): AuthUser) -> Response {
    private(Json(UnreadCount { unread_count: state.unread.count(user.user) }))
}
