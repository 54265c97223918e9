//! Stored records: every rkyv struct the store writes, each in a one-byte
//! version envelope, with its conversions to and from the entity it stores.
//! Votes and voter ledgers, the records that grow with every vote, have a
//! compact hand-made layout instead (`vote_layout.rs`).
//!
//! redb does not align values and rkyv's checked access needs alignment, so
//! every read copies the bytes after the envelope into an aligned buffer and
//! validates them before use. A new layout gets a new version byte and an
//! explicit migration; rkyv has no schema evolution of its own.

use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};

use super::StoreError;
use super::social::{Notification, NotificationKind, UserStats};
use crate::domain::clock::{Timestamp, UtcDay};
use crate::domain::comment::{Comment, Report, ReportReason, ReportTarget};
use crate::domain::ids::{ClipId, CommentId, ReportId, SeasonId, SlotPosition, UserId};
use crate::domain::model::{AuditEntry, Clip, Season, Session, Slot, User};
use crate::domain::profile::Streak;
use crate::domain::tournament::{ClipStatus, SeasonStatus, SlotStatus};

/// Layout version of every record type written by this build.
const RECORD_VERSION: u8 = 1;

/// Encodes a record with its version byte.
pub fn encode<T>(record: &T) -> Vec<u8>
where
    T: for<'a> Serialize<
        rkyv::api::high::HighSerializer<AlignedVec, rkyv::ser::allocator::ArenaHandle<'a>, rkyv::rancor::Error>,
    >,
{
    let body = rkyv::to_bytes::<rkyv::rancor::Error>(record).unwrap_or_default();
    let mut bytes = Vec::with_capacity(body.len() + 1);
    bytes.push(RECORD_VERSION);
    bytes.extend_from_slice(&body);
    bytes
}

/// Decodes and validates a record written by [`encode`].
pub fn decode<T>(bytes: &[u8], what: &'static str) -> Result<T, StoreError>
where
    T: Archive,
    T::Archived: for<'a> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'a, rkyv::rancor::Error>>
        + Deserialize<T, rkyv::api::high::HighDeserializer<rkyv::rancor::Error>>,
{
    let (version, body) = bytes.split_first().ok_or(StoreError::Corrupt { what, reason: "empty record".into() })?;
    if *version != RECORD_VERSION {
        return Err(StoreError::Corrupt { what, reason: format!("unknown record version {version}") });
    }
    let mut aligned = AlignedVec::<16>::with_capacity(body.len());
    aligned.extend_from_slice(body);
    rkyv::from_bytes::<T, rkyv::rancor::Error>(&aligned)
        .map_err(|error| StoreError::Corrupt { what, reason: error.to_string() })
}

fn corrupt(what: &'static str, reason: &str) -> StoreError {
    StoreError::Corrupt { what, reason: reason.to_owned() }
}

/// Stored form of [`Season`].
#[derive(Archive, Serialize, Deserialize, Debug, Clone)]
pub struct SeasonRecord {
    id: u64,
    title: String,
    genre: String,
    description: String,
    status: u8,
    total_slots: u32,
    slot_duration_secs: u64,
    created_at: i64,
}

impl From<&Season> for SeasonRecord {
    fn from(season: &Season) -> Self {
        Self {
            id: season.id.get(),
            title: season.title.clone(),
            genre: season.genre.clone(),
            description: season.description.clone(),
            status: season.status.tag(),
            total_slots: season.total_slots,
            slot_duration_secs: season.slot_duration_secs,
            created_at: season.created_at.millis(),
        }
    }
}

impl TryFrom<SeasonRecord> for Season {
    type Error = StoreError;

    fn try_from(record: SeasonRecord) -> Result<Self, StoreError> {
        Ok(Season {
            id: SeasonId::new(record.id).ok_or_else(|| corrupt("season", "zero id"))?,
            title: record.title,
            genre: record.genre,
            description: record.description,
            status: SeasonStatus::from_tag(record.status).ok_or_else(|| corrupt("season", "bad status"))?,
            total_slots: record.total_slots,
            slot_duration_secs: record.slot_duration_secs,
            created_at: Timestamp::from_millis(record.created_at),
        })
    }
}

/// Stored form of [`Slot`].
#[derive(Archive, Serialize, Deserialize, Debug, Clone)]
pub struct SlotRecord {
    season: u64,
    position: u32,
    status: u8,
    voting_started_at: Option<i64>,
    voting_ends_at: Option<i64>,
    winner: Option<u64>,
}

impl From<&Slot> for SlotRecord {
    fn from(slot: &Slot) -> Self {
        Self {
            season: slot.season.get(),
            position: slot.position.get(),
            status: slot.status.tag(),
            voting_started_at: slot.voting_started_at.map(Timestamp::millis),
            voting_ends_at: slot.voting_ends_at.map(Timestamp::millis),
            winner: slot.winner.map(ClipId::get),
        }
    }
}

impl TryFrom<SlotRecord> for Slot {
    type Error = StoreError;

    fn try_from(record: SlotRecord) -> Result<Self, StoreError> {
        Ok(Slot {
            season: SeasonId::new(record.season).ok_or_else(|| corrupt("slot", "zero season"))?,
            position: SlotPosition::new(record.position).ok_or_else(|| corrupt("slot", "zero position"))?,
            status: SlotStatus::from_tag(record.status).ok_or_else(|| corrupt("slot", "bad status"))?,
            voting_started_at: record.voting_started_at.map(Timestamp::from_millis),
            voting_ends_at: record.voting_ends_at.map(Timestamp::from_millis),
            winner: record.winner.and_then(ClipId::new),
        })
    }
}

/// Stored form of [`Clip`].
#[derive(Archive, Serialize, Deserialize, Debug, Clone)]
pub struct ClipRecord {
    id: u64,
    season: u64,
    slot_position: u32,
    title: String,
    description: String,
    genre: String,
    creator: u64,
    creator_username: String,
    video_path: String,
    poster_path: String,
    duration_ms: u32,
    status: u8,
    rejection_reason: String,
    created_at: i64,
}

impl From<&Clip> for ClipRecord {
    fn from(clip: &Clip) -> Self {
        Self {
            id: clip.id.get(),
            season: clip.season.get(),
            slot_position: clip.slot_position.get(),
            title: clip.title.clone(),
            description: clip.description.clone(),
            genre: clip.genre.clone(),
            creator: clip.creator.get(),
            creator_username: clip.creator_username.clone(),
            video_path: clip.video_path.clone(),
            poster_path: clip.poster_path.clone(),
            duration_ms: clip.duration_ms,
            status: clip.status.tag(),
            rejection_reason: clip.rejection_reason.clone(),
            created_at: clip.created_at.millis(),
        }
    }
}

impl TryFrom<ClipRecord> for Clip {
    type Error = StoreError;

    fn try_from(record: ClipRecord) -> Result<Self, StoreError> {
        Ok(Clip {
            id: ClipId::new(record.id).ok_or_else(|| corrupt("clip", "zero id"))?,
            season: SeasonId::new(record.season).ok_or_else(|| corrupt("clip", "zero season"))?,
            slot_position: SlotPosition::new(record.slot_position).ok_or_else(|| corrupt("clip", "zero slot"))?,
            title: record.title,
            description: record.description,
            genre: record.genre,
            creator: UserId::new(record.creator).ok_or_else(|| corrupt("clip", "zero creator"))?,
            creator_username: record.creator_username,
            video_path: record.video_path,
            poster_path: record.poster_path,
            duration_ms: record.duration_ms,
            status: ClipStatus::from_tag(record.status).ok_or_else(|| corrupt("clip", "bad status"))?,
            rejection_reason: record.rejection_reason,
            created_at: Timestamp::from_millis(record.created_at),
        })
    }
}

/// Stored form of [`User`].
#[derive(Archive, Serialize, Deserialize, Debug, Clone)]
pub struct UserRecord {
    id: u64,
    username: String,
    password_hash: String,
    is_admin: bool,
    banned: bool,
    created_at: i64,
}

impl From<&User> for UserRecord {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.get(),
            username: user.username.clone(),
            password_hash: user.password_hash.clone(),
            is_admin: user.is_admin,
            banned: user.banned,
            created_at: user.created_at.millis(),
        }
    }
}

impl TryFrom<UserRecord> for User {
    type Error = StoreError;

    fn try_from(record: UserRecord) -> Result<Self, StoreError> {
        Ok(User {
            id: UserId::new(record.id).ok_or_else(|| corrupt("user", "zero id"))?,
            username: record.username,
            password_hash: record.password_hash,
            is_admin: record.is_admin,
            banned: record.banned,
            created_at: Timestamp::from_millis(record.created_at),
        })
    }
}

/// Stored form of [`Session`].
#[derive(Archive, Serialize, Deserialize, Debug, Clone)]
pub struct SessionRecord {
    user: u64,
    created_at: i64,
    expires_at: i64,
}

impl From<&Session> for SessionRecord {
    fn from(session: &Session) -> Self {
        Self {
            user: session.user.get(),
            created_at: session.created_at.millis(),
            expires_at: session.expires_at.millis(),
        }
    }
}

impl TryFrom<SessionRecord> for Session {
    type Error = StoreError;

    fn try_from(record: SessionRecord) -> Result<Self, StoreError> {
        Ok(Session {
            user: UserId::new(record.user).ok_or_else(|| corrupt("session", "zero user"))?,
            created_at: Timestamp::from_millis(record.created_at),
            expires_at: Timestamp::from_millis(record.expires_at),
        })
    }
}

/// Stored form of [`AuditEntry`].
#[derive(Archive, Serialize, Deserialize, Debug, Clone)]
pub struct AuditRecord {
    id: u64,
    at: i64,
    actor: Option<u64>,
    action: String,
    resource: String,
    details: String,
}

impl From<&AuditEntry> for AuditRecord {
    fn from(entry: &AuditEntry) -> Self {
        Self {
            id: entry.id,
            at: entry.at.millis(),
            actor: entry.actor.map(UserId::get),
            action: entry.action.clone(),
            resource: entry.resource.clone(),
            details: entry.details.clone(),
        }
    }
}

impl From<AuditRecord> for AuditEntry {
    fn from(record: AuditRecord) -> Self {
        AuditEntry {
            id: record.id,
            at: Timestamp::from_millis(record.at),
            actor: record.actor.and_then(UserId::new),
            action: record.action,
            resource: record.resource,
            details: record.details,
        }
    }
}

/// Decodes a stored session.
pub fn session_from_bytes(bytes: &[u8]) -> Result<Session, StoreError> {
    decode::<SessionRecord>(bytes, "session")?.try_into()
}

/// Decodes a stored audit entry.
pub fn audit_from_bytes(bytes: &[u8]) -> Result<AuditEntry, StoreError> {
    Ok(decode::<AuditRecord>(bytes, "audit entry")?.into())
}

/// Decodes a stored season.
pub fn season_from_bytes(bytes: &[u8]) -> Result<Season, StoreError> {
    decode::<SeasonRecord>(bytes, "season")?.try_into()
}

/// Decodes a stored slot.
pub fn slot_from_bytes(bytes: &[u8]) -> Result<Slot, StoreError> {
    decode::<SlotRecord>(bytes, "slot")?.try_into()
}

/// Decodes a stored clip.
pub fn clip_from_bytes(bytes: &[u8]) -> Result<Clip, StoreError> {
    decode::<ClipRecord>(bytes, "clip")?.try_into()
}

/// Decodes a stored user.
pub fn user_from_bytes(bytes: &[u8]) -> Result<User, StoreError> {
    decode::<UserRecord>(bytes, "user")?.try_into()
}

/// Stored form of [`Comment`].
#[derive(Archive, Serialize, Deserialize, Debug, Clone)]
pub struct CommentRecord {
    id: u64,
    clip: u64,
    parent: Option<u64>,
    author: u64,
    author_username: String,
    body: String,
    created_at: i64,
    like_count: u64,
    deleted: bool,
}

impl From<&Comment> for CommentRecord {
    fn from(comment: &Comment) -> Self {
        Self {
            id: comment.id.get(),
            clip: comment.clip.get(),
            parent: comment.parent.map(CommentId::get),
            author: comment.author.get(),
            author_username: comment.author_username.clone(),
            body: comment.body.clone(),
            created_at: comment.created_at.millis(),
            like_count: comment.like_count,
            deleted: comment.deleted,
        }
    }
}

impl TryFrom<CommentRecord> for Comment {
    type Error = StoreError;

    fn try_from(record: CommentRecord) -> Result<Self, StoreError> {
        Ok(Comment {
            id: CommentId::new(record.id).ok_or_else(|| corrupt("comment", "zero id"))?,
            clip: ClipId::new(record.clip).ok_or_else(|| corrupt("comment", "zero clip"))?,
            parent: match record.parent {
                Some(parent) => Some(CommentId::new(parent).ok_or_else(|| corrupt("comment", "zero parent"))?),
                None => None,
            },
            author: UserId::new(record.author).ok_or_else(|| corrupt("comment", "zero author"))?,
            author_username: record.author_username,
            body: record.body,
            created_at: Timestamp::from_millis(record.created_at),
            like_count: record.like_count,
            deleted: record.deleted,
        })
    }
}

/// Decodes a stored comment.
pub fn comment_from_bytes(bytes: &[u8]) -> Result<Comment, StoreError> {
    decode::<CommentRecord>(bytes, "comment")?.try_into()
}

/// Stored form of [`Report`].
#[derive(Archive, Serialize, Deserialize, Debug, Clone)]
pub struct ReportRecord {
    id: u64,
    target_type: u8,
    target_id: u64,
    reason: u8,
    details: String,
    reporter: u64,
    reporter_username: String,
    created_at: i64,
}

impl From<&Report> for ReportRecord {
    fn from(report: &Report) -> Self {
        Self {
            id: report.id.get(),
            target_type: report.target_type.tag(),
            target_id: report.target_id,
            reason: report.reason.tag(),
            details: report.details.clone(),
            reporter: report.reporter.get(),
            reporter_username: report.reporter_username.clone(),
            created_at: report.created_at.millis(),
        }
    }
}

impl TryFrom<ReportRecord> for Report {
    type Error = StoreError;

    fn try_from(record: ReportRecord) -> Result<Self, StoreError> {
        Ok(Report {
            id: ReportId::new(record.id).ok_or_else(|| corrupt("report", "zero id"))?,
            target_type: ReportTarget::from_tag(record.target_type).ok_or_else(|| corrupt("report", "bad target"))?,
            target_id: record.target_id,
            reason: ReportReason::from_tag(record.reason).ok_or_else(|| corrupt("report", "bad reason"))?,
            details: record.details,
            reporter: UserId::new(record.reporter).ok_or_else(|| corrupt("report", "zero reporter"))?,
            reporter_username: record.reporter_username,
            created_at: Timestamp::from_millis(record.created_at),
        })
    }
}

/// Decodes a stored report.
pub fn report_from_bytes(bytes: &[u8]) -> Result<Report, StoreError> {
    decode::<ReportRecord>(bytes, "report")?.try_into()
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone)]
/// Stored form of [`UserStats`].
pub struct StatsRecord {
    last_vote_day: Option<u32>,
    current_streak: u32,
    best_streak: u32,
    votes_day: Option<u32>,
    votes_on_day: u32,
    wins: u64,
    approved_clips: u64,
    clips_uploaded: u64,
    followers: u64,
    following: u64,
    unread: u64,
    read_through: u64,
    broadcasts_read_through: u64,
    broadcast_floor: u64,
}

/// Encodes stats for storage.
pub(crate) fn encode_stats(stats: &UserStats) -> Vec<u8> {
    encode(&StatsRecord {
        last_vote_day: stats.streak.last_day.map(UtcDay::number),
        current_streak: stats.streak.current,
        best_streak: stats.streak.best,
        votes_day: stats.votes_day.map(UtcDay::number),
        votes_on_day: stats.votes_on_day,
        wins: stats.wins,
        approved_clips: stats.approved_clips,
        clips_uploaded: stats.clips_uploaded,
        followers: stats.followers,
        following: stats.following,
        unread: stats.unread,
        read_through: stats.read_through,
        broadcasts_read_through: stats.broadcasts_read_through,
        broadcast_floor: stats.broadcast_floor,
    })
}

/// Decodes stored stats.
pub(crate) fn stats_from_bytes(bytes: &[u8]) -> Result<UserStats, StoreError> {
    let record: StatsRecord = decode(bytes, "user stats")?;
    Ok(UserStats {
        streak: Streak {
            last_day: record.last_vote_day.map(UtcDay::from_number),
            current: record.current_streak,
            best: record.best_streak,
        },
        votes_day: record.votes_day.map(UtcDay::from_number),
        votes_on_day: record.votes_on_day,
        wins: record.wins,
        approved_clips: record.approved_clips,
        clips_uploaded: record.clips_uploaded,
        followers: record.followers,
        following: record.following,
        unread: record.unread,
        read_through: record.read_through,
        broadcasts_read_through: record.broadcasts_read_through,
        broadcast_floor: record.broadcast_floor,
    })
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone)]
/// Stored form of [`Notification`].
pub struct NotificationRecord {
    id: u64,
    kind: u8,
    clip: u64,
    actor: u64,
    actor_name: String,
    title: String,
    detail: String,
    position: u32,
    created_at: i64,
    read: bool,
}

/// Encodes a notification for storage.
pub(crate) fn encode_notification(notification: &Notification) -> Vec<u8> {
    encode(&NotificationRecord {
        id: notification.id,
        kind: notification.kind.tag(),
        clip: notification.clip.map(ClipId::get).unwrap_or(0),
        actor: notification.actor.map(UserId::get).unwrap_or(0),
        actor_name: notification.actor_name.clone(),
        title: notification.title.clone(),
        detail: notification.detail.clone(),
        position: notification.position,
        created_at: notification.created_at.millis(),
        read: notification.read,
    })
}

/// Decodes a stored notification.
pub(crate) fn notification_from_bytes(bytes: &[u8], broadcast: bool) -> Result<Notification, StoreError> {
    let record: NotificationRecord = decode(bytes, "notification")?;
    Ok(Notification {
        id: record.id,
        kind: NotificationKind::from_tag(record.kind)
            .ok_or(StoreError::Corrupt { what: "notification", reason: "bad kind".into() })?,
        clip: ClipId::new(record.clip),
        actor: UserId::new(record.actor),
        actor_name: record.actor_name,
        title: record.title,
        detail: record.detail,
        position: record.position,
        created_at: Timestamp::from_millis(record.created_at),
        read: record.read,
        broadcast,
    })
}

/// Stored head of a locked slot's frozen tally (see `store::tally`): what
/// it published, the secret salt of its pseudonyms, and the slot's last
/// chunk, which a proof may need besides the vote's own.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TallyHeadRecord {
    /// RFC 6962 root over the lines.
    pub root: [u8; 32],
    /// Lines.
    pub tree_size: u64,
    /// Lines marked counted.
    pub counted_votes: u64,
    /// The pseudonyms' key; never published.
    pub salt: [u8; 32],
    /// First vote id of the last chunk (0 for an empty tally).
    pub last_chunk_first_vote: u64,
    /// Merkle hash of the last chunk's lines (a full chunk's is also a node).
    pub last_chunk_hash: [u8; 32],
    /// `votes.daily_budget` when the slot locked.
    pub daily_budget: u32,
    /// Whether multi-vote mode was on when the slot locked.
    pub multi_vote_mode: bool,
    /// The winner's clip id.
    pub winner: u64,
    /// Whether an admin assigned the winner.
    pub winner_assigned: bool,
    /// When the slot locked, Unix milliseconds.
    pub locked_at: i64,
}

/// Decodes a stored tally head.
pub fn tally_head_from_bytes(bytes: &[u8]) -> Result<TallyHeadRecord, StoreError> {
    decode::<TallyHeadRecord>(bytes, "tally head")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Existing data files must keep opening: the bytes a record encodes to
    /// are pinned here, so a changed field, order or type fails this test
    /// instead of corrupting reads of old files (a new layout needs a new
    /// `RECORD_VERSION` and a migration).
    #[test]
    fn stored_layouts_do_not_change() {
        let at = Timestamp::from_millis(1_700_000_000_123);
        let comment = Comment {
            id: CommentId::new(12).expect("nonzero"),
            clip: ClipId::new(3).expect("nonzero"),
            parent: CommentId::new(11),
            author: UserId::new(7).expect("nonzero"),
            author_username: "ada".into(),
            body: "nice shot".into(),
            created_at: at,
            like_count: 2,
            deleted: false,
        };
        let report = Report {
            id: ReportId::new(5).expect("nonzero"),
            target_type: ReportTarget::Comment,
            target_id: 12,
            reason: ReportReason::Spam,
            details: "ads".into(),
            reporter: UserId::new(8).expect("nonzero"),
            reporter_username: "bob".into(),
            created_at: at,
        };
        let stats = UserStats {
            streak: Streak { last_day: Some(UtcDay::from_number(19_675)), current: 3, best: 9 },
            votes_day: Some(UtcDay::from_number(19_675)),
            votes_on_day: 4,
            wins: 1,
            approved_clips: 2,
            clips_uploaded: 5,
            followers: 6,
            following: 7,
            unread: 8,
            read_through: 40,
            broadcasts_read_through: 41,
            broadcast_floor: 30,
        };
        let notification = Notification {
            id: 42,
            kind: NotificationKind::Comment,
            clip: ClipId::new(3),
            actor: UserId::new(7),
            actor_name: "ada".into(),
            title: "Opening".into(),
            detail: "nice shot".into(),
            position: 2,
            created_at: at,
            read: true,
            broadcast: false,
        };
        let pinned = [
            ("comment", hex::encode(encode(&CommentRecord::from(&comment))), COMMENT_BYTES),
            ("report", hex::encode(encode(&ReportRecord::from(&report))), REPORT_BYTES),
            ("stats", hex::encode(encode_stats(&stats)), STATS_BYTES),
            ("notification", hex::encode(encode_notification(&notification)), NOTIFICATION_BYTES),
        ];
        for (what, encoded, expected) in pinned {
            assert_eq!(encoded, expected, "the stored layout of a {what} changed");
        }
        assert_eq!(comment_from_bytes(&hex::decode(COMMENT_BYTES).expect("hex")).expect("comment"), comment);
        assert_eq!(report_from_bytes(&hex::decode(REPORT_BYTES).expect("hex")).expect("report"), report);
        assert_eq!(stats_from_bytes(&hex::decode(STATS_BYTES).expect("hex")).expect("stats"), stats);
        let decoded = notification_from_bytes(&hex::decode(NOTIFICATION_BYTES).expect("hex"), false);
        assert_eq!(decoded.expect("notification"), notification);
    }

    const COMMENT_BYTES: &str = "016e6963652073686f74000000000000000c00000000000000030000000000000001000000000000000b000000000000000700000000000000616461ffffffffff89000000c0ffffff7b68e5cf8b01000002000000000000000000000000000000";
    const REPORT_BYTES: &str = "01050000000000000001000000000000000c0000000000000001000000616473ffffffffff000000000800000000000000626f62ffffffffff7b68e5cf8b010000";
    const STATS_BYTES: &str = "0101000000db4c0000030000000900000001000000db4c00000400000000000000010000000000000002000000000000000500000000000000060000000000000007000000000000000800000000000000280000000000000029000000000000001e00000000000000";
    const NOTIFICATION_BYTES: &str = "016e6963652073686f74000000000000002a00000000000000040000000000000003000000000000000700000000000000616461ffffffffff4f70656e696e67ff89000000c0ffffff02000000000000007b68e5cf8b0100000100000000000000";

    /// A frozen tally head is read back as written, for as long as the slot
    /// stays locked: its bytes are pinned like the other records'.
    #[test]
    fn the_tally_head_layout_does_not_change() {
        let head = TallyHeadRecord {
            root: [1; 32],
            tree_size: 130,
            counted_votes: 120,
            salt: [2; 32],
            last_chunk_first_vote: 300,
            last_chunk_hash: [3; 32],
            daily_budget: 200,
            multi_vote_mode: false,
            winner: 7,
            winner_assigned: true,
            locked_at: 1_700_000_000_123,
        };
        let bytes = encode(&head);
        assert_eq!(hex::encode(&bytes), TALLY_HEAD_BYTES, "the stored layout of a tally head changed");
        assert_eq!(tally_head_from_bytes(&bytes).expect("decodes"), head);
    }

    const TALLY_HEAD_BYTES: &str = "0101010101010101010101010101010101010101010101010101010101010101018200000000000000780000000000000002020202020202020202020202020202020202020202020202020202020202022c010000000000000303030303030303030303030303030303030303030303030303030303030303c800000000000000070000000000000001000000000000007b68e5cf8b010000";
}
