//! The tournament's entities as the rules and pages see them, independent of
//! how `store` encodes them and how `api` puts them on the wire.

use super::clock::{Timestamp, UtcDay};
use super::ids::{ClipId, SeasonId, SlotPosition, UserId, VoteId, VoterKey};
use super::tournament::{ClipStatus, SeasonStatus, SlotStatus};
use super::vote::VoteType;

/// One film.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Season {
    /// Its id.
    pub id: SeasonId,
    /// Shown as the film's title.
    pub title: String,
    /// The genre the community chose.
    pub genre: String,
    /// A few lines about the film.
    pub description: String,
    /// Lifecycle state.
    pub status: SeasonStatus,
    /// Number of slots, each one 8-second clip of the film.
    pub total_slots: u32,
    /// Length of each slot's voting window.
    pub slot_duration_secs: u64,
    /// When it was created.
    pub created_at: Timestamp,
}

/// One position in a season's film.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Its season.
    pub season: SeasonId,
    /// Its position, from 1.
    pub position: SlotPosition,
    /// Lifecycle state.
    pub status: SlotStatus,
    /// When voting opened (voting slots).
    pub voting_started_at: Option<Timestamp>,
    /// When voting closes (voting slots).
    pub voting_ends_at: Option<Timestamp>,
    /// The clip locked into this position (locked slots).
    pub winner: Option<ClipId>,
}

/// An uploaded clip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip {
    /// Its id.
    pub id: ClipId,
    /// The season it was uploaded for.
    pub season: SeasonId,
    /// The slot it currently competes in (or won).
    pub slot_position: SlotPosition,
    /// Title given by the creator.
    pub title: String,
    /// Description given by the creator.
    pub description: String,
    /// Genre tag.
    pub genre: String,
    /// Who uploaded it.
    pub creator: UserId,
    /// The creator's username when it was uploaded.
    pub creator_username: String,
    /// Video file path relative to the media root (`ab/abcd….mp4`).
    pub video_path: String,
    /// Poster path relative to the media root.
    pub poster_path: String,
    /// Length of the video.
    pub duration_ms: u32,
    /// Lifecycle state.
    pub status: ClipStatus,
    /// Why a moderator rejected it (empty otherwise); the creator sees it.
    pub rejection_reason: String,
    /// Upload time.
    pub created_at: Timestamp,
}

/// A registered account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Unique, lowercase.
    pub username: String,
    /// argon2id PHC string; empty for accounts that cannot sign in (demo creators).
    pub password_hash: String,
    /// May use the admin console.
    pub is_admin: bool,
    /// Refused sign-in; all sessions revoked.
    pub banned: bool,
    /// Sign-up time.
    pub created_at: Timestamp,
}

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Whose session.
    pub user: UserId,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops being valid unless renewed.
    pub expires_at: Timestamp,
}

/// One admin action, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Increasing id.
    pub id: u64,
    /// When.
    pub at: Timestamp,
    /// Who (None for the CLI or the scheduler).
    pub actor: Option<UserId>,
    /// What, as a snake_case verb (`ban_user`).
    pub action: String,
    /// On what (`user:7`).
    pub resource: String,
    /// Free text details.
    pub details: String,
}

/// What became of a stored vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteState {
    /// Counts towards its clip.
    Counted,
    /// Revoked by the voter; `refunded` says whether the weight went back to
    /// that day's budget.
    Revoked {
        /// Whether the day's budget got the weight back.
        refunded: bool,
    },
    /// Removed from the counts by an admin after fraud review; its budget stays spent.
    Voided,
}

/// One vote, kept for history, recounts and fraud review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    /// Its id.
    pub id: VoteId,
    /// Who cast it.
    pub voter: VoterKey,
    /// The season of the slot.
    pub season: SeasonId,
    /// The slot it counts in.
    pub position: SlotPosition,
    /// The clip it is for.
    pub clip: ClipId,
    /// Standard, super or mega.
    pub vote_type: VoteType,
    /// Budget units spent and score points added.
    pub weight: u32,
    /// The UTC day whose budget it spent.
    pub day: UtcDay,
    /// When the writer accepted it.
    pub cast_at: Timestamp,
    /// Counted, revoked or voided.
    pub state: VoteState,
    /// Fraud risk score 0–100 when it was cast.
    pub risk_score: u8,
    /// Fraud reasons as bits (see `domain::fraud`).
    pub risk_reasons: u16,
    /// Whether the score reached the flag threshold.
    pub flagged: bool,
}

impl Vote {
    /// Whether it still adds to its clip's count.
    pub fn counts(&self) -> bool {
        self.state == VoteState::Counted
    }

    /// Whether its weight is still spent from its day's budget.
    pub fn spends_budget(&self) -> bool {
        !matches!(self.state, VoteState::Revoked { refunded: true })
    }
}
