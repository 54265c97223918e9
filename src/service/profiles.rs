//! Profiles and follows: a profile's numbers computed from the stored facts
//! (XP, level, streak and badges by `domain::profile`), the signed-in user's
//! own clips with their fate, following and unfollowing, and the follower
//! lists. Every read is a handful of point reads and bounded ranges.

use crate::domain::account::Username;
use crate::domain::clock::{Timestamp, UtcDay};
use crate::domain::ids::UserId;
use crate::domain::model::VoteState;
use crate::domain::profile::{self, BadgeState, ProfileFacts};
use crate::domain::tournament::ClipStatus;
use crate::service::{Page, ServiceError, Services};
use crate::store::CountedClip;
use crate::store::social::{FollowEntry, ProfileData, RecentVote};
use crate::store::writer::FollowOutcome;

/// Votes listed on the signed-in user's own profile.
pub const RECENT_VOTES: usize = 20;

/// A badge as a profile shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileBadge {
    /// Stable key, e.g. `votes_100`.
    pub key: &'static str,
    /// Short title.
    pub title: &'static str,
    /// What earns it.
    pub description: &'static str,
    /// `unlocked`, `locked` or `in_progress`.
    pub state: &'static str,
    /// Progress towards `goal` (1 of 1 once unlocked, 0 of 1 while locked).
    pub progress: u64,
    /// What unlocks it.
    pub goal: u64,
}

/// One of the last votes on the owner's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileVote {
    /// The clip voted for.
    pub clip_id: u64,
    /// Its title ("" if the clip is gone).
    pub clip_title: String,
    /// `standard`, `super` or `mega`.
    pub vote_type: &'static str,
    /// Budget it spent.
    pub weight: u32,
    /// `counted`, `revoked` or `voided`.
    pub state: &'static str,
    /// When it was cast.
    pub cast_at: Timestamp,
}

impl From<&RecentVote> for ProfileVote {
    fn from(recent: &RecentVote) -> Self {
        let vote = &recent.vote;
        let state = match vote.state {
            VoteState::Counted => "counted",
            VoteState::Revoked { .. } => "revoked",
            VoteState::Voided => "voided",
        };
        ProfileVote {
            clip_id: vote.clip.get(),
            clip_title: recent.clip_title.clone(),
            vote_type: vote.vote_type.as_str(),
            weight: vote.weight,
            state,
            cast_at: vote.cast_at,
        }
    }
}

/// Everything a profile shows, computed from the stored facts. The private
/// parts (`votes_today`, `recent_votes`) are `None` on someone else's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The user id.
    pub id: u64,
    /// Their name.
    pub username: String,
    /// When they signed up.
    pub member_since: Timestamp,
    /// All-time rank among voters by votes cast, within the top
    /// [`crate::leaderboard::RANK_CAP`].
    pub rank: Option<u64>,
    /// Counted votes, all time.
    pub votes_total: u64,
    /// Counted votes today (UTC); owner only.
    pub votes_today: Option<u32>,
    /// Clips uploaded.
    pub clips_uploaded: u64,
    /// Clips approved.
    pub approved_clips: u64,
    /// Slots won.
    pub wins: u64,
    /// Experience points.
    pub xp: u64,
    /// The level they reached.
    pub level: u64,
    /// XP earned since reaching it.
    pub xp_into_level: u64,
    /// XP the level takes to pass.
    pub xp_for_next_level: u64,
    /// Progress through the level, 0–100.
    pub level_percent: u64,
    /// Days in a row with a vote, as of today.
    pub streak: u32,
    /// The longest streak.
    pub best_streak: u32,
    /// Every badge with its state.
    pub badges: Vec<ProfileBadge>,
    /// Followers.
    pub followers: u64,
    /// Users they follow.
    pub following: u64,
    /// The last votes, newest first; owner only.
    pub recent_votes: Option<Vec<ProfileVote>>,
}

impl Profile {
    /// The profile of stored `data` on `today` with the user's voter `rank`;
    /// `own` adds the private parts.
    pub fn new(data: &ProfileData, today: UtcDay, own: bool, rank: Option<usize>) -> Profile {
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
                ProfileBadge {
                    key: badge.key,
                    title: badge.title,
                    description: badge.description,
                    state: badge.state.as_str(),
                    progress,
                    goal,
                }
            })
            .collect();
        Profile {
            id: data.user.id.get(),
            username: data.user.username.clone(),
            member_since: data.user.created_at,
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
            recent_votes: own.then(|| data.recent_votes.iter().map(ProfileVote::from).collect()),
        }
    }
}

/// A username from a path, or not found (a malformed name names no one).
pub fn parse_username(raw: &str) -> Result<Username, ServiceError> {
    Username::parse(raw).map_err(|_| ServiceError::not_found("no such user"))
}

/// Someone's public profile, and whether `viewer` follows them.
pub async fn public_profile(
    services: &Services,
    name: &Username,
    viewer: Option<UserId>,
) -> Result<(Profile, bool), ServiceError> {
    let name = name.as_str().to_owned();
    let found = services
        .read(move |store| {
            let Some(user) = store.user_by_name(&name)? else { return Ok(None) };
            let Some(data) = store.profile(user.id, 0)? else { return Ok(None) };
            let following = match viewer {
                Some(viewer) if viewer != user.id => store.is_following(viewer, user.id)?,
                _ => false,
            };
            Ok(Some((data, following)))
        })
        .await?;
    let (data, following) = found.ok_or_else(|| ServiceError::not_found("no such user"))?;
    let rank = services.leaderboards.voter_rank(data.user.id.get());
    Ok((Profile::new(&data, Timestamp::now().utc_day(), false, rank), following))
}

/// The signed-in user's own profile, private parts included.
pub async fn own_profile(services: &Services, user: UserId) -> Result<Profile, ServiceError> {
    let data = services
        .read(move |store| store.profile(user, RECENT_VOTES))
        .await?
        .ok_or_else(|| ServiceError::not_found("no such user"))?;
    let rank = services.leaderboards.voter_rank(user.get());
    Ok(Profile::new(&data, Timestamp::now().utc_day(), true, rank))
}

/// What a creator sees about their own clip's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreatorStatus {
    /// Waiting for a moderator.
    Pending,
    /// Competing in the running season.
    Live,
    /// Active in a season that is over without winning.
    Eliminated,
    /// Locked into the film.
    Winner,
    /// Refused by a moderator.
    Rejected,
}

impl CreatorStatus {
    /// `pending`, `live`, `eliminated`, `winner` or `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            CreatorStatus::Pending => "pending",
            CreatorStatus::Live => "live",
            CreatorStatus::Eliminated => "eliminated",
            CreatorStatus::Winner => "winner",
            CreatorStatus::Rejected => "rejected",
        }
    }
}

/// A creator's own clip with its fate.
#[derive(Debug, Clone)]
pub struct OwnClip {
    /// The clip and its counts.
    pub clip: CountedClip,
    /// Its fate.
    pub status: CreatorStatus,
}

/// A page of `user`'s uploads, newest first, and whether more follow.
pub async fn own_clips(services: &Services, user: UserId, page: Page) -> Result<(Vec<OwnClip>, bool), ServiceError> {
    let (clips, has_more) = services.read(move |store| store.clips_of_user(user, page.limit, page.offset)).await?;
    let open_season = services.read_model.read(|model| model.season.as_ref().map(|season| season.id));
    let clips = clips
        .into_iter()
        .map(|clip| {
            let status = match clip.clip.status {
                ClipStatus::Pending => CreatorStatus::Pending,
                ClipStatus::Active if open_season == Some(clip.clip.season) => CreatorStatus::Live,
                ClipStatus::Active => CreatorStatus::Eliminated,
                ClipStatus::Locked => CreatorStatus::Winner,
                ClipStatus::Rejected => CreatorStatus::Rejected,
            };
            OwnClip { clip, status }
        })
        .collect();
    Ok((clips, has_more))
}

/// What others may see of `user`'s uploads: a page of them, newest first,
/// without the pending and rejected ones (which are not public), and
/// whether more uploads follow.
pub async fn public_clips(services: &Services, user: UserId, page: Page) -> Result<(Vec<OwnClip>, bool), ServiceError> {
    let (clips, has_more) = own_clips(services, user, page).await?;
    let public = |status: CreatorStatus| {
        matches!(status, CreatorStatus::Live | CreatorStatus::Eliminated | CreatorStatus::Winner)
    };
    Ok((clips.into_iter().filter(|own| public(own.status)).collect(), has_more))
}

/// Follows (`follow`) or unfollows the user named `name`; idempotent.
pub async fn set_follow(
    services: &Services,
    user: UserId,
    name: &Username,
    follow: bool,
) -> Result<FollowOutcome, ServiceError> {
    Ok(services.writer.follow(user, name.as_str().to_owned(), follow).await?)
}

/// Which of a user's follow lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowList {
    /// Who follows them.
    Followers,
    /// Whom they follow.
    Following,
}

impl FollowList {
    /// `followers` or `following`.
    pub fn parse(raw: &str) -> Option<FollowList> {
        match raw {
            "followers" => Some(FollowList::Followers),
            "following" => Some(FollowList::Following),
            _ => None,
        }
    }
}

/// A page of a follow list by user id: users after `after`, at most `limit`
/// (1 to 100, default 20), and whether more follow.
pub async fn follow_list(
    services: &Services,
    name: &Username,
    list: FollowList,
    after: u64,
    limit: Option<i64>,
) -> Result<(Vec<FollowEntry>, bool), ServiceError> {
    let limit = Page::new(limit, None)?.limit;
    let name = name.as_str().to_owned();
    let page = services
        .read(move |store| {
            let Some(user) = store.user_by_name(&name)? else { return Ok(None) };
            store.follow_list(user.id, list == FollowList::Followers, after, limit).map(Some)
        })
        .await?;
    page.ok_or_else(|| ServiceError::not_found("no such user"))
}
