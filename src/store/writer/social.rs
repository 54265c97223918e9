//! Social jobs: follows, notifications, and the per-user profile numbers
//! kept in step with votes and the tournament (see `store::social` for the
//! layout and the read-marker design).
//!
//! The hooks other jobs call are small: `clip_status_changed` from
//! `Batch::put_clip` (upload, approval, rejection, win, unlock),
//! `round_opened` from `Batch::put_slot`, `comment_posted` from the comment
//! job (replies, the creator, `@mentions`), `init_social`/`forget_social` from account creation and deletion,
//! and `flush_profiles` once per batch next to `flush_tallies`.

use std::collections::HashMap;

use redb::ReadableTable;

use super::super::StoreError;
use super::super::records::{encode_notification, encode_stats, notification_from_bytes, stats_from_bytes};
use super::super::social::{Notification, NotificationKind, UserStats};
use super::super::tables::*;
use super::{Batch, CommittedEvent, WriteError, WriterHandle};
use crate::domain::clock::UtcDay;
use crate::domain::comment::{Comment, mentioned_names};
use crate::domain::ids::UserId;
use crate::domain::model::{Clip, Slot};
use crate::domain::tournament::ClipStatus;

/// Most notification ids one "mark read" request may name.
pub const MAX_MARK_READ_IDS: usize = 100;
/// Characters of a comment quoted in its notification.
const COMMENT_EXCERPT_CHARS: usize = 80;
/// Most followers told, in one transaction, that a creator's clip was
/// approved or won. Fan-out on write keeps reads as they are (a page reads
/// its own rows, the badge stays in memory) and costs two row writes per
/// follower, so it is capped: a creator with 10,000 followers adds at most
/// this many notifications to the batch, not 10,000. The followers told are
/// the earliest accounts among them (the followers index is keyed by user
/// id); everyone else still sees the clip on the creator's profile.
pub const MAX_FOLLOWERS_NOTIFIED: usize = 500;

/// Why a social operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocialError {
    /// The user or notification does not exist (or is not yours).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
}

/// The state after a follow or unfollow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowOutcome {
    /// The user followed or unfollowed.
    pub followee: UserId,
    /// Whether the caller follows them now.
    pub following: bool,
    /// Their follower count now.
    pub followers: u64,
}

/// Which notifications to mark read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkRead {
    /// Everything up to now.
    All,
    /// These ids (personal or broadcast); all must be visible to the user.
    Ids(Vec<u64>),
}

impl WriterHandle {
    /// Follows (`follow = true`) or unfollows the user named `followee`.
    /// Idempotent: following twice changes nothing the second time.
    pub async fn follow(&self, follower: UserId, followee: String, follow: bool) -> Result<FollowOutcome, WriteError> {
        self.run(move |batch| Ok(batch.follow(follower, &followee, follow)?.map_err(WriteError::from))).await
    }

    /// Marks notifications read.
    pub async fn mark_notifications_read(&self, user: UserId, which: MarkRead) -> Result<(), WriteError> {
        self.run(move |batch| Ok(batch.mark_read(user, &which)?.map_err(WriteError::from))).await
    }
}

impl Batch<'_> {
    fn stats_of(&self, user: UserId) -> Result<UserStats, StoreError> {
        let table = self.txn.open_table(USER_ID_TO_STATS)?;
        match table.get(user.get())? {
            Some(bytes) => stats_from_bytes(bytes.value()),
            None => Ok(UserStats::default()),
        }
    }

    /// Read-modify-write of one user's stats; tells the in-memory badge when
    /// the unread state changed.
    fn update_stats(&mut self, user: UserId, change: impl FnOnce(&mut UserStats)) -> Result<UserStats, StoreError> {
        let before = self.stats_of(user)?;
        let mut after = before;
        change(&mut after);
        if after != before {
            self.txn.open_table(USER_ID_TO_STATS)?.insert(user.get(), encode_stats(&after).as_slice())?;
        }
        if (after.unread, after.broadcast_marker()) != (before.unread, before.broadcast_marker()) {
            self.events.push(CommittedEvent::NotificationsChanged {
                user,
                unread: after.unread,
                broadcast_marker: after.broadcast_marker(),
            });
        }
        Ok(after)
    }

    /// The last notification id issued (0 when none).
    fn last_notification_id(&self) -> Result<u64, StoreError> {
        Ok(self.meta.get(meta_keys::NEXT_NOTIFICATION_ID)?.map(|v| v.value()).unwrap_or(1).saturating_sub(1))
    }

    /// A new account has read everything before it existed.
    pub(super) fn init_social(&mut self, user: UserId) -> Result<(), StoreError> {
        let latest = self.last_notification_id()?;
        self.update_stats(user, |stats| {
            stats.broadcasts_read_through = latest;
            stats.broadcast_floor = latest;
        })?;
        Ok(())
    }

    /// Removes a deleted account's stats, follow edges and notifications,
    /// keeping the other side's counters right.
    pub(super) fn forget_social(&mut self, user: UserId) -> Result<(), StoreError> {
        let id = user.get();
        let following: Vec<u64> = {
            let table = self.txn.open_table(FOLLOWER_FOLLOWEE_TO_MEMBERSHIP)?;
            table.range((id, 0)..=(id, u64::MAX))?.map(|e| e.map(|(k, _)| k.value().1)).collect::<Result<_, _>>()?
        };
        let followers: Vec<u64> = {
            let table = self.txn.open_table(FOLLOWEE_FOLLOWER_TO_MEMBERSHIP)?;
            table.range((id, 0)..=(id, u64::MAX))?.map(|e| e.map(|(k, _)| k.value().1)).collect::<Result<_, _>>()?
        };
        for other in following.iter().filter_map(|o| UserId::new(*o)) {
            self.remove_edge(user, other)?;
            self.update_stats(other, |s| s.followers = s.followers.saturating_sub(1))?;
        }
        for other in followers.iter().filter_map(|o| UserId::new(*o)) {
            self.remove_edge(other, user)?;
            self.update_stats(other, |s| s.following = s.following.saturating_sub(1))?;
        }
        let everything_of_user = (id, 0)..=(id, u64::MAX);
        self.txn.open_table(USER_NOTIFICATION_TO_NOTIFICATION)?.retain_in(everything_of_user.clone(), |_, _| false)?;
        // The deleted user's own "already notified" pairs go too; pairs in
        // which they were the follower stay as bare ids (no personal data),
        // since finding them would mean a scan.
        self.txn.open_table(FOLLOW_NOTIFIED_TO_MEMBERSHIP)?.retain_in(everything_of_user, |_, _| false)?;
        self.txn.open_table(USER_ID_TO_STATS)?.remove(id)?;
        Ok(())
    }

    fn remove_edge(&mut self, follower: UserId, followee: UserId) -> Result<bool, StoreError> {
        let removed =
            self.txn.open_table(FOLLOWER_FOLLOWEE_TO_MEMBERSHIP)?.remove((follower.get(), followee.get()))?.is_some();
        self.txn.open_table(FOLLOWEE_FOLLOWER_TO_MEMBERSHIP)?.remove((followee.get(), follower.get()))?;
        Ok(removed)
    }

    /// Stores a personal notification and counts it unread. Accounts that no
    /// longer exist get nothing.
    fn notify(&mut self, recipient: UserId, mut notification: Notification) -> Result<(), StoreError> {
        if self.user(recipient)?.is_none() {
            return Ok(());
        }
        notification.id = self.next_id(meta_keys::NEXT_NOTIFICATION_ID)?;
        notification.created_at = self.now;
        notification.read = false;
        notification.broadcast = false;
        self.txn
            .open_table(USER_NOTIFICATION_TO_NOTIFICATION)?
            .insert((recipient.get(), notification.id), encode_notification(&notification).as_slice())?;
        self.update_stats(recipient, |stats| stats.unread += 1)?;
        Ok(())
    }

    /// Profile numbers and notifications that follow a clip's status change.
    pub(super) fn clip_status_changed(&mut self, clip: &Clip, previous: Option<ClipStatus>) -> Result<(), StoreError> {
        let (creator, now) = (clip.creator, self.now);
        let about = |kind, detail: &str| Notification {
            id: 0,
            kind,
            clip: Some(clip.id),
            actor: None,
            actor_name: String::new(),
            title: clip.title.clone(),
            detail: detail.to_owned(),
            position: clip.slot_position.get(),
            created_at: now,
            read: false,
            broadcast: false,
        };
        match (previous, clip.status) {
            (None, status) => {
                let approved = u64::from(matches!(status, ClipStatus::Active | ClipStatus::Locked));
                self.update_stats(creator, |s| {
                    s.clips_uploaded += 1;
                    s.approved_clips += approved;
                })?;
            }
            (Some(ClipStatus::Pending), ClipStatus::Active) => {
                self.update_stats(creator, |s| s.approved_clips += 1)?;
                self.notify(creator, about(NotificationKind::ClipApproved, ""))?;
                self.notify_followers(clip, about(NotificationKind::FollowedClipApproved, ""))?;
            }
            (Some(previous), ClipStatus::Rejected) => {
                if previous == ClipStatus::Active {
                    self.update_stats(creator, |s| s.approved_clips = s.approved_clips.saturating_sub(1))?;
                }
                self.notify(creator, about(NotificationKind::ClipRejected, &clip.rejection_reason))?;
            }
            (Some(ClipStatus::Active), ClipStatus::Locked) => {
                self.update_stats(creator, |s| s.wins += 1)?;
                self.notify(creator, about(NotificationKind::ClipWon, ""))?;
                self.notify_followers(clip, about(NotificationKind::FollowedClipWon, ""))?;
            }
            (Some(ClipStatus::Locked), ClipStatus::Active) => {
                // An admin unlocked the slot: the win is taken back.
                self.update_stats(creator, |s| s.wins = s.wins.saturating_sub(1))?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Stores "voting opened" once for everyone. A slot written twice in the
    /// same batch (same start time) is announced once.
    pub(super) fn round_opened(&mut self, slot: &Slot) -> Result<(), StoreError> {
        let title = self.season(slot.season)?.map(|season| season.title).unwrap_or_default();
        {
            let table = self.txn.open_table(BROADCAST_ID_TO_NOTIFICATION)?;
            if let Some(entry) = table.last()? {
                let newest = notification_from_bytes(entry.1.value(), true)?;
                if newest.position == slot.position.get() && newest.title == title && newest.created_at == self.now {
                    return Ok(());
                }
            }
        }
        let id = self.next_id(meta_keys::NEXT_NOTIFICATION_ID)?;
        let notification = Notification {
            id,
            kind: NotificationKind::RoundOpened,
            clip: None,
            actor: None,
            actor_name: String::new(),
            title,
            detail: String::new(),
            position: slot.position.get(),
            created_at: self.now,
            read: false,
            broadcast: true,
        };
        self.txn.open_table(BROADCAST_ID_TO_NOTIFICATION)?.insert(id, encode_notification(&notification).as_slice())?;
        self.events.push(CommittedEvent::Broadcast { id });
        Ok(())
    }

    /// Tells up to [`MAX_FOLLOWERS_NOTIFIED`] of the creator's followers
    /// about their clip (see the constant for why there is a cap).
    fn notify_followers(&mut self, clip: &Clip, notification: Notification) -> Result<(), StoreError> {
        let creator = clip.creator.get();
        let followers: Vec<UserId> = {
            let table = self.txn.open_table(FOLLOWEE_FOLLOWER_TO_MEMBERSHIP)?;
            table
                .range((creator, 0)..=(creator, u64::MAX))?
                .take(MAX_FOLLOWERS_NOTIFIED)
                .map(|entry| entry.map(|(key, _)| UserId::new(key.value().1)))
                .filter_map(Result::transpose)
                .collect::<Result<_, _>>()?
        };
        let notification =
            Notification { actor: Some(clip.creator), actor_name: clip.creator_username.clone(), ..notification };
        for follower in followers {
            self.notify(follower, notification.clone())?;
        }
        Ok(())
    }

    /// Tells the people a comment concerns, each once and never its author:
    /// the author of the comment it replies to (`reply`), the clip's creator
    /// (`comment`), and up to [`crate::domain::comment::MAX_MENTIONS_NOTIFIED`]
    /// `@mentioned` users
    /// (`mention`).
    pub(super) fn comment_posted(&mut self, comment: &Comment, replied_to: Option<UserId>) -> Result<(), StoreError> {
        let Some(clip) = self.clip(comment.clip)? else { return Ok(()) };
        let now = self.now;
        let about = |kind| Notification {
            id: 0,
            kind,
            clip: Some(clip.id),
            actor: Some(comment.author),
            actor_name: comment.author_username.clone(),
            title: clip.title.clone(),
            detail: comment.body.chars().take(COMMENT_EXCERPT_CHARS).collect(),
            position: clip.slot_position.get(),
            created_at: now,
            read: false,
            broadcast: false,
        };
        let mut told = vec![comment.author];
        if let Some(parent_author) = replied_to
            && !told.contains(&parent_author)
        {
            self.notify(parent_author, about(NotificationKind::Reply))?;
            told.push(parent_author);
        }
        if !told.contains(&clip.creator) {
            self.notify(clip.creator, about(NotificationKind::Comment))?;
            told.push(clip.creator);
        }
        for name in mentioned_names(&comment.body) {
            let Some(user) = self.usernames.get(name.as_str())?.map(|v| v.value()).and_then(UserId::new) else {
                continue;
            };
            if !told.contains(&user) {
                self.notify(user, about(NotificationKind::Mention))?;
                told.push(user);
            }
        }
        Ok(())
    }

    /// Applies this batch's tallied votes by signed-in users to their streaks
    /// and today's count: one read-modify-write per user per batch. A vote
    /// leaving the counts lowers today's count but never the streak.
    pub(super) fn flush_profiles(&mut self) -> Result<(), StoreError> {
        let mut by_user: HashMap<UserId, Vec<(UtcDay, i8)>> = HashMap::new();
        for event in &self.events {
            if let CommittedEvent::VoteTallied(tally) = event
                && let Some(user) = tally.voter.user_id()
            {
                by_user.entry(user).or_default().push((tally.day, tally.delta));
            }
        }
        if by_user.is_empty() {
            return Ok(());
        }
        let mut table = self.txn.open_table(USER_ID_TO_STATS)?;
        for (user, changes) in by_user {
            // A vote voided after its voter deleted the account must not
            // bring a stats row back.
            if self.users.get(user.get())?.is_none() {
                continue;
            }
            let mut stats = match table.get(user.get())? {
                Some(bytes) => stats_from_bytes(bytes.value())?,
                None => UserStats::default(),
            };
            for (day, delta) in changes {
                if delta > 0 {
                    stats.streak = stats.streak.record_vote(day);
                    match stats.votes_day {
                        Some(counted) if counted == day => stats.votes_on_day += 1,
                        Some(counted) if counted > day => {}
                        _ => (stats.votes_day, stats.votes_on_day) = (Some(day), 1),
                    }
                } else if stats.votes_day == Some(day) {
                    stats.votes_on_day = stats.votes_on_day.saturating_sub(1);
                }
            }
            table.insert(user.get(), encode_stats(&stats).as_slice())?;
        }
        Ok(())
    }

    fn follow(
        &mut self,
        follower: UserId,
        name: &str,
        follow: bool,
    ) -> Result<Result<FollowOutcome, SocialError>, StoreError> {
        let Some(followee) = self.usernames.get(name)?.map(|v| v.value()).and_then(UserId::new) else {
            return Ok(Err(SocialError::NotFound("user")));
        };
        if followee == follower {
            return Ok(Err(SocialError::Invalid("you cannot follow yourself".into())));
        }
        let Some(actor) = self.user(follower)? else { return Ok(Err(SocialError::NotFound("user"))) };
        let key = (follower.get(), followee.get());
        let exists = self.txn.open_table(FOLLOWER_FOLLOWEE_TO_MEMBERSHIP)?.get(key)?.is_some();
        if follow && !exists {
            self.txn.open_table(FOLLOWER_FOLLOWEE_TO_MEMBERSHIP)?.insert(key, ())?;
            self.txn.open_table(FOLLOWEE_FOLLOWER_TO_MEMBERSHIP)?.insert((followee.get(), follower.get()), ())?;
            self.update_stats(follower, |s| s.following += 1)?;
            self.update_stats(followee, |s| s.followers += 1)?;
            let first_follow = self
                .txn
                .open_table(FOLLOW_NOTIFIED_TO_MEMBERSHIP)?
                .insert((followee.get(), follower.get()), ())?
                .is_none();
            let notification = Notification {
                id: 0,
                kind: NotificationKind::NewFollower,
                clip: None,
                actor: Some(follower),
                actor_name: actor.username,
                title: String::new(),
                detail: String::new(),
                position: 0,
                created_at: self.now,
                read: false,
                broadcast: false,
            };
            if first_follow {
                self.notify(followee, notification)?;
            }
        } else if !follow && exists {
            self.remove_edge(follower, followee)?;
            self.update_stats(follower, |s| s.following = s.following.saturating_sub(1))?;
            self.update_stats(followee, |s| s.followers = s.followers.saturating_sub(1))?;
        }
        let followers = self.stats_of(followee)?.followers;
        Ok(Ok(FollowOutcome { followee, following: follow, followers }))
    }

    fn mark_read(&mut self, user: UserId, which: &MarkRead) -> Result<Result<(), SocialError>, StoreError> {
        let ids = match which {
            MarkRead::All => {
                let latest = self.last_notification_id()?;
                self.update_stats(user, |s| {
                    s.unread = 0;
                    s.read_through = s.read_through.max(latest);
                    s.broadcasts_read_through = s.broadcasts_read_through.max(latest);
                })?;
                return Ok(Ok(()));
            }
            MarkRead::Ids(ids) => ids,
        };
        if ids.is_empty() || ids.len() > MAX_MARK_READ_IDS {
            return Ok(Err(SocialError::Invalid(format!("name between 1 and {MAX_MARK_READ_IDS} notification ids"))));
        }
        let stats = self.stats_of(user)?;
        // Check every id first, so a request naming someone else's
        // notification changes nothing at all.
        let mut personal = Vec::new();
        let mut broadcast_marker = stats.broadcasts_read_through;
        {
            let own = self.txn.open_table(USER_NOTIFICATION_TO_NOTIFICATION)?;
            let shared = self.txn.open_table(BROADCAST_ID_TO_NOTIFICATION)?;
            for id in ids {
                if let Some(bytes) = own.get((user.get(), *id))? {
                    let notification = notification_from_bytes(bytes.value(), false)?;
                    if !notification.read
                        && notification.id > stats.read_through
                        && !personal.contains(&notification.id)
                    {
                        personal.push(notification.id);
                    }
                } else if shared.get(*id)?.is_some() {
                    broadcast_marker = broadcast_marker.max(*id);
                } else {
                    return Ok(Err(SocialError::NotFound("notification")));
                }
            }
        }
        let mut own = self.txn.open_table(USER_NOTIFICATION_TO_NOTIFICATION)?;
        for id in &personal {
            let Some(bytes) = own.get((user.get(), *id))?.map(|b| b.value().to_vec()) else { continue };
            let mut notification = notification_from_bytes(&bytes, false)?;
            notification.read = true;
            own.insert((user.get(), *id), encode_notification(&notification).as_slice())?;
        }
        drop(own);
        let newly_read = personal.len() as u64;
        self.update_stats(user, |s| {
            s.unread = s.unread.saturating_sub(newly_read);
            s.broadcasts_read_through = broadcast_marker;
        })?;
        Ok(Ok(()))
    }
}
