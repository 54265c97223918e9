//! Profiles, follows and notifications: what the store keeps for them and the
//! reads (their rkyv records are in `records.rs`).
//!
//! Per-user numbers live in one stats record per user (`USER_ID_TO_STATS`),
//! written by the writer: the voting streak and today's votes (once per batch
//! from the tallied votes), wins and approved clips (when the tournament
//! changes), follower and following counters (so no count is ever a scan),
//! and the notification markers.
//!
//! Notifications come in two kinds of storage. Personal ones (clip approved,
//! rejected, won; a comment, a reply, a mention; a new follower; a followed
//! creator's clip approved or winning) are rows under the recipient,
//! `(user, id)`. A followed creator's news is written to each follower's
//! rows, at most `writer::social::MAX_FOLLOWERS_NOTIFIED` of them per event
//! (fan-out on write with a cap: reads stay one range over the reader's own
//! rows, and the cap bounds the batch however many followers there are). "A new voting round" concerns everyone, so it is stored ONCE
//! in `BROADCAST_ID_TO_NOTIFICATION` and merged into each user's list by id
//! at read time — opening a round costs one write however many users there
//! are. Ids come from one sequence, so merging two reverse range reads gives
//! one newest-first list. Read state:
//! - personal: a `read` flag per row, plus `read_through` (everything at or
//!   below it is read) so "mark all read" is O(1);
//! - broadcast: a per-user marker `broadcasts_read_through`; marking a round
//!   read marks older rounds read too (a round supersedes the one before), so
//!   the state per user stays one number.
//!
//! The unread count is the stored personal counter plus the broadcasts above
//! the marker, counted by a bounded reverse range (at most
//! [`MAX_COUNTED_BROADCASTS`]). A new account starts with its marker at the
//! latest id and a floor below which broadcasts are not listed, so rounds
//! opened before it signed up are not news to it.

use redb::{ReadableTable, ReadableTableMetadata};

use super::records::{self, notification_from_bytes, stats_from_bytes};
use super::tables::*;
use super::{Store, StoreError};
use crate::domain::clock::{Timestamp, UtcDay};
use crate::domain::ids::{ClipId, UserId};
use crate::domain::model::{User, Vote};
use crate::domain::profile::Streak;

/// Unread broadcasts are counted up to this many (shown as "99+" beyond).
pub const MAX_COUNTED_BROADCASTS: usize = 99;
/// Most notifications per page.
pub const MAX_NOTIFICATIONS_PAGE: usize = 50;

/// One user's stored profile numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserStats {
    /// The voting streak.
    pub streak: Streak,
    /// The day `votes_on_day` counts.
    pub votes_day: Option<UtcDay>,
    /// Counted votes cast on `votes_day`.
    pub votes_on_day: u32,
    /// Slots won.
    pub wins: u64,
    /// Clips approved into the competition (minus ones rejected later).
    pub approved_clips: u64,
    /// Clips uploaded.
    pub clips_uploaded: u64,
    /// Users following this one.
    pub followers: u64,
    /// Users this one follows.
    pub following: u64,
    /// Unread personal notifications.
    pub unread: u64,
    /// Every personal notification with an id at or below this is read.
    pub read_through: u64,
    /// Every broadcast with an id at or below this is read.
    pub broadcasts_read_through: u64,
    /// Broadcasts at or below this id were sent before the account existed
    /// and are not shown to it.
    pub broadcast_floor: u64,
}

impl UserStats {
    /// Counted votes cast on `today`.
    pub fn votes_on(&self, today: UtcDay) -> u32 {
        if self.votes_day == Some(today) { self.votes_on_day } else { 0 }
    }

    /// Broadcasts with an id at or below this are read.
    pub fn broadcast_marker(&self) -> u64 {
        self.read_through.max(self.broadcasts_read_through)
    }
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    /// A moderator approved your clip.
    ClipApproved,
    /// A moderator rejected your clip.
    ClipRejected,
    /// Your clip won a slot.
    ClipWon,
    /// Someone commented on your clip.
    Comment,
    /// Someone followed you.
    NewFollower,
    /// A new slot opened for voting (broadcast).
    RoundOpened,
    /// A creator you follow has a clip approved into the vote.
    FollowedClipApproved,
    /// A creator you follow won a slot.
    FollowedClipWon,
    /// Someone replied to your comment.
    Reply,
    /// Someone mentioned you (`@name`) in a comment.
    Mention,
}

impl NotificationKind {
    /// The storage tag.
    pub fn tag(self) -> u8 {
        match self {
            NotificationKind::ClipApproved => 1,
            NotificationKind::ClipRejected => 2,
            NotificationKind::ClipWon => 3,
            NotificationKind::Comment => 4,
            NotificationKind::NewFollower => 5,
            NotificationKind::RoundOpened => 6,
            NotificationKind::FollowedClipApproved => 7,
            NotificationKind::FollowedClipWon => 8,
            NotificationKind::Reply => 9,
            NotificationKind::Mention => 10,
        }
    }

    /// From a storage tag.
    pub fn from_tag(tag: u8) -> Option<Self> {
        Some(match tag {
            1 => NotificationKind::ClipApproved,
            2 => NotificationKind::ClipRejected,
            3 => NotificationKind::ClipWon,
            4 => NotificationKind::Comment,
            5 => NotificationKind::NewFollower,
            6 => NotificationKind::RoundOpened,
            7 => NotificationKind::FollowedClipApproved,
            8 => NotificationKind::FollowedClipWon,
            9 => NotificationKind::Reply,
            10 => NotificationKind::Mention,
            _ => return None,
        })
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::ClipApproved => "clip_approved",
            NotificationKind::ClipRejected => "clip_rejected",
            NotificationKind::ClipWon => "clip_won",
            NotificationKind::Comment => "comment",
            NotificationKind::NewFollower => "new_follower",
            NotificationKind::RoundOpened => "new_round",
            NotificationKind::FollowedClipApproved => "followed_clip_approved",
            NotificationKind::FollowedClipWon => "followed_clip_won",
            NotificationKind::Reply => "reply",
            NotificationKind::Mention => "mention",
        }
    }
}

/// One notification as a user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Id (ids increase with time, shared by personal and broadcast ones).
    pub id: u64,
    /// What it is about.
    pub kind: NotificationKind,
    /// The clip concerned, if any.
    pub clip: Option<ClipId>,
    /// Who caused it (commenter, follower), if anyone.
    pub actor: Option<UserId>,
    /// Their username then.
    pub actor_name: String,
    /// The clip's or season's title.
    pub title: String,
    /// A rejection reason or the start of a comment.
    pub detail: String,
    /// The slot concerned (win, new round); 0 when none.
    pub position: u32,
    /// When it happened.
    pub created_at: Timestamp,
    /// Whether the user has read it.
    pub read: bool,
    /// Whether it is a broadcast to everyone.
    pub broadcast: bool,
}

impl Notification {
    /// One line of plain text (escaped by the templates and JSON encoder).
    pub fn message(&self) -> String {
        match self.kind {
            NotificationKind::ClipApproved => format!("Your clip “{}” was approved and is in the vote", self.title),
            NotificationKind::ClipRejected if self.detail.is_empty() => {
                format!("Your clip “{}” was not accepted", self.title)
            }
            NotificationKind::ClipRejected => format!("Your clip “{}” was not accepted: {}", self.title, self.detail),
            NotificationKind::ClipWon => format!("Your clip “{}” won slot {}", self.title, self.position),
            NotificationKind::Comment => format!("@{} commented on “{}”: {}", self.actor_name, self.title, self.detail),
            NotificationKind::NewFollower => format!("@{} started following you", self.actor_name),
            NotificationKind::RoundOpened => format!("Voting opened for slot {} of “{}”", self.position, self.title),
            NotificationKind::FollowedClipApproved => {
                format!("@{} has a new clip in the vote: “{}”", self.actor_name, self.title)
            }
            NotificationKind::FollowedClipWon => {
                format!("“{}” by @{} won slot {}", self.title, self.actor_name, self.position)
            }
            NotificationKind::Reply => {
                format!("@{} replied to your comment on “{}”: {}", self.actor_name, self.title, self.detail)
            }
            NotificationKind::Mention => {
                format!("@{} mentioned you on “{}”: {}", self.actor_name, self.title, self.detail)
            }
        }
    }
}

/// A vote on a profile's "last votes" list.
#[derive(Debug, Clone)]
pub struct RecentVote {
    /// The vote.
    pub vote: Vote,
    /// The clip's title ("" if the clip is gone).
    pub clip_title: String,
}

/// Everything a profile page shows that storage holds, read in one transaction.
#[derive(Debug, Clone)]
pub struct ProfileData {
    /// The account.
    pub user: User,
    /// Its stored numbers.
    pub stats: UserStats,
    /// Counted votes cast, all time (from the voter tally).
    pub votes_cast: u64,
    /// Latest votes, newest first (empty unless asked for).
    pub recent_votes: Vec<RecentVote>,
}

/// A user on a follower or following list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowEntry {
    /// The user.
    pub user: UserId,
    /// Their username.
    pub username: String,
}

/// A user's unread state as the in-memory badge keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnreadState {
    /// The user.
    pub user: UserId,
    /// Unread personal notifications.
    pub unread: u64,
    /// Broadcasts at or below this id are read.
    pub broadcast_marker: u64,
}

fn read_stats(table: &impl ReadableTable<u64, &'static [u8]>, user: UserId) -> Result<UserStats, StoreError> {
    match table.get(user.get())? {
        Some(bytes) => stats_from_bytes(bytes.value()),
        None => Ok(UserStats::default()),
    }
}

fn count_unread_broadcasts(table: &impl ReadableTable<u64, &'static [u8]>, marker: u64) -> Result<usize, StoreError> {
    if marker == u64::MAX {
        return Ok(0);
    }
    Ok(table.range(marker + 1..)?.rev().take(MAX_COUNTED_BROADCASTS).count())
}

impl Store {
    /// A user's stored profile numbers (zeros if they have none yet).
    pub fn user_stats(&self, user: UserId) -> Result<UserStats, StoreError> {
        let txn = self.read()?;
        read_stats(&txn.open_table(USER_ID_TO_STATS)?, user)
    }

    /// A profile: the account, its numbers and its last `recent` votes.
    pub fn profile(&self, user: UserId, recent: usize) -> Result<Option<ProfileData>, StoreError> {
        let txn = self.read()?;
        let users = txn.open_table(USER_ID_TO_USER)?;
        let Some(user) = users.get(user.get())?.map(|b| records::user_from_bytes(b.value())).transpose()? else {
            return Ok(None);
        };
        let stats = read_stats(&txn.open_table(USER_ID_TO_STATS)?, user.id)?;
        let (votes_cast, _weight) =
            txn.open_table(USER_ID_TO_VOTE_TALLY)?.get(user.id.get())?.map(|v| v.value()).unwrap_or((0, 0));
        let mut recent_votes = Vec::new();
        if recent > 0 {
            let index = txn.open_table(USER_VOTE_TO_MEMBERSHIP)?;
            let votes = super::VoteReader::open(&txn)?;
            let clips = txn.open_table(CLIP_ID_TO_CLIP)?;
            for entry in index.range((user.id.get(), 0)..=(user.id.get(), u64::MAX))?.rev().take(recent) {
                let (key, _) = entry?;
                let Some(vote) = votes.by_id(key.value().1)? else { continue };
                let clip_title = match clips.get(vote.clip.get())? {
                    Some(bytes) => records::clip_from_bytes(bytes.value())?.title,
                    None => String::new(),
                };
                recent_votes.push(RecentVote { vote, clip_title });
            }
        }
        Ok(Some(ProfileData { user, stats, votes_cast, recent_votes }))
    }

    /// Whether `follower` follows `followee`.
    pub fn is_following(&self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        let txn = self.read()?;
        Ok(txn.open_table(FOLLOWER_FOLLOWEE_TO_MEMBERSHIP)?.get((follower.get(), followee.get()))?.is_some())
    }

    /// One page of a user's followers (`followers = true`) or of whom they
    /// follow, by user id after `after`; and whether more follow.
    pub fn follow_list(
        &self,
        user: UserId,
        followers: bool,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<FollowEntry>, bool), StoreError> {
        let txn = self.read()?;
        let table =
            txn.open_table(if followers { FOLLOWEE_FOLLOWER_TO_MEMBERSHIP } else { FOLLOWER_FOLLOWEE_TO_MEMBERSHIP })?;
        let users = txn.open_table(USER_ID_TO_USER)?;
        let start = after.saturating_add(1);
        let mut found = Vec::new();
        let mut more = false;
        for entry in table.range((user.get(), start)..=(user.get(), u64::MAX))? {
            let (key, _) = entry?;
            if found.len() == limit {
                more = true;
                break;
            }
            let other = key.value().1;
            let Some(account) = users.get(other)?.map(|b| records::user_from_bytes(b.value())).transpose()? else {
                continue;
            };
            found.push(FollowEntry { user: account.id, username: account.username });
        }
        Ok((found, more))
    }

    /// A user's notifications, newest first, with ids below `before`: their
    /// own merged with broadcasts. Returns the page and whether more follow.
    pub fn notifications(
        &self,
        user: UserId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<Notification>, bool), StoreError> {
        let limit = limit.clamp(1, MAX_NOTIFICATIONS_PAGE);
        let before = before.unwrap_or(u64::MAX);
        let txn = self.read()?;
        let stats = read_stats(&txn.open_table(USER_ID_TO_STATS)?, user)?;
        let personal = txn.open_table(USER_NOTIFICATION_TO_NOTIFICATION)?;
        let broadcasts = txn.open_table(BROADCAST_ID_TO_NOTIFICATION)?;
        // At most limit + 1 of each, so the merge knows whether more follow.
        let mut own = Vec::new();
        for entry in personal.range((user.get(), 0)..(user.get(), before))?.rev().take(limit + 1) {
            let mut notification = notification_from_bytes(entry?.1.value(), false)?;
            notification.read |= notification.id <= stats.read_through;
            own.push(notification);
        }
        let mut shared = Vec::new();
        let floor = stats.broadcast_floor.saturating_add(1);
        for entry in broadcasts.range(floor..before.max(floor))?.rev().take(limit + 1) {
            let mut notification = notification_from_bytes(entry?.1.value(), true)?;
            notification.read = notification.id <= stats.broadcast_marker();
            shared.push(notification);
        }
        let mut merged: Vec<Notification> = own.into_iter().chain(shared).collect();
        merged.sort_by_key(|notification| std::cmp::Reverse(notification.id));
        let more = merged.len() > limit;
        merged.truncate(limit);
        Ok((merged, more))
    }

    /// One notification `user` can see (their own, or a broadcast sent after
    /// they signed up), with its read state; `None` for anything else.
    pub fn notification(&self, user: UserId, id: u64) -> Result<Option<Notification>, StoreError> {
        let txn = self.read()?;
        let stats = read_stats(&txn.open_table(USER_ID_TO_STATS)?, user)?;
        if let Some(bytes) = txn.open_table(USER_NOTIFICATION_TO_NOTIFICATION)?.get((user.get(), id))? {
            let mut notification = notification_from_bytes(bytes.value(), false)?;
            notification.read |= notification.id <= stats.read_through;
            return Ok(Some(notification));
        }
        if id <= stats.broadcast_floor {
            return Ok(None);
        }
        let Some(bytes) = txn.open_table(BROADCAST_ID_TO_NOTIFICATION)?.get(id)? else { return Ok(None) };
        let mut notification = notification_from_bytes(bytes.value(), true)?;
        notification.read = notification.id <= stats.broadcast_marker();
        Ok(Some(notification))
    }

    /// Unread notifications: the personal counter plus broadcasts above the
    /// marker (counted up to [`MAX_COUNTED_BROADCASTS`]).
    pub fn unread_count(&self, user: UserId) -> Result<u64, StoreError> {
        let txn = self.read()?;
        let stats = read_stats(&txn.open_table(USER_ID_TO_STATS)?, user)?;
        let broadcasts =
            count_unread_broadcasts(&txn.open_table(BROADCAST_ID_TO_NOTIFICATION)?, stats.broadcast_marker())?;
        Ok(stats.unread + broadcasts as u64)
    }

    /// Every user's unread state and the latest broadcast ids (ascending),
    /// for the in-memory badge at start. Reads every stats row once.
    pub fn unread_states(&self) -> Result<(Vec<UnreadState>, Vec<u64>), StoreError> {
        let txn = self.read()?;
        let mut states = Vec::new();
        for entry in txn.open_table(USER_ID_TO_STATS)?.iter()? {
            let (key, bytes) = entry?;
            let Some(user) = UserId::new(key.value()) else { continue };
            let stats = stats_from_bytes(bytes.value())?;
            states.push(UnreadState { user, unread: stats.unread, broadcast_marker: stats.broadcast_marker() });
        }
        let mut recent = Vec::new();
        for entry in txn.open_table(BROADCAST_ID_TO_NOTIFICATION)?.iter()?.rev().take(MAX_COUNTED_BROADCASTS) {
            recent.push(entry?.0.value());
        }
        recent.reverse();
        Ok((states, recent))
    }
}

impl Store {
    /// Recounts follower and following counters from the follow edges, and
    /// unread counters from the notification rows (part of `aimoviez check`).
    pub(super) fn check_social(
        &self,
        txn: &redb::ReadTransaction,
        report: &mut super::CheckReport,
    ) -> Result<(), StoreError> {
        use std::collections::HashMap;
        let mut stored: HashMap<u64, UserStats> = HashMap::new();
        for entry in txn.open_table(USER_ID_TO_STATS)?.iter()? {
            let (key, bytes) = entry?;
            stored.insert(key.value(), stats_from_bytes(bytes.value())?);
        }
        // (followers, following, unread) recounted per user.
        let mut recount: HashMap<u64, (u64, u64, u64)> = HashMap::new();
        let reverse = txn.open_table(FOLLOWEE_FOLLOWER_TO_MEMBERSHIP)?;
        let mut edges = 0u64;
        for entry in txn.open_table(FOLLOWER_FOLLOWEE_TO_MEMBERSHIP)?.iter()? {
            let (follower, followee) = entry?.0.value();
            edges += 1;
            recount.entry(follower).or_default().1 += 1;
            recount.entry(followee).or_default().0 += 1;
            if reverse.get((followee, follower))?.is_none() {
                report.mismatches.push(format!("follow {follower}→{followee}: missing from the followers index"));
            }
        }
        if reverse.len()? != edges {
            report.mismatches.push(format!("follows: {edges} edges but {} in the followers index", reverse.len()?));
        }
        for entry in txn.open_table(USER_NOTIFICATION_TO_NOTIFICATION)?.iter()? {
            let (key, bytes) = entry?;
            let (user, id) = key.value();
            let notification = notification_from_bytes(bytes.value(), false)?;
            let read_through = stored.get(&user).map(|s| s.read_through).unwrap_or(0);
            if !notification.read && id > read_through {
                recount.entry(user).or_default().2 += 1;
            }
        }
        for (user, stats) in &stored {
            let (followers, following, unread) = recount.remove(user).unwrap_or_default();
            if (stats.followers, stats.following, stats.unread) != (followers, following, unread) {
                report.mismatches.push(format!(
                    "user {user} stats: stored {} followers / {} following / {} unread, recount {followers} / {following} / {unread}",
                    stats.followers, stats.following, stats.unread
                ));
            }
        }
        for (user, counts) in recount {
            report.mismatches.push(format!("user {user}: no stats stored, recount {counts:?}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::NotificationKind;

    /// Stored notifications carry their kind as a one-byte tag: a tag must
    /// never be renumbered or reused, or old files would read as another kind.
    #[test]
    fn notification_tags_and_wire_names_are_pinned() {
        let pinned = [
            (NotificationKind::ClipApproved, 1, "clip_approved"),
            (NotificationKind::ClipRejected, 2, "clip_rejected"),
            (NotificationKind::ClipWon, 3, "clip_won"),
            (NotificationKind::Comment, 4, "comment"),
            (NotificationKind::NewFollower, 5, "new_follower"),
            (NotificationKind::RoundOpened, 6, "new_round"),
            (NotificationKind::FollowedClipApproved, 7, "followed_clip_approved"),
            (NotificationKind::FollowedClipWon, 8, "followed_clip_won"),
            (NotificationKind::Reply, 9, "reply"),
            (NotificationKind::Mention, 10, "mention"),
        ];
        for (kind, tag, name) in pinned {
            assert_eq!(kind.tag(), tag, "{kind:?}");
            assert_eq!(NotificationKind::from_tag(tag), Some(kind));
            assert_eq!(kind.as_str(), name);
        }
        assert_eq!(NotificationKind::from_tag(0), None);
        assert_eq!(NotificationKind::from_tag(11), None);
    }
}
