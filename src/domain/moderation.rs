//! The admin actions a path or form names, parsed once at the edge into
//! enums: what can be done to a user, a clip, a season and a slot.

/// What an admin can do to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAction {
    /// Ban and sign out everywhere.
    Ban,
    /// Lift a ban.
    Unban,
    /// Make an admin.
    GrantAdmin,
    /// Take the admin role away.
    RevokeAdmin,
}

impl UserAction {
    /// `ban`, `unban`, `grant-admin` or `revoke-admin`.
    pub fn parse(raw: &str) -> Option<UserAction> {
        match raw {
            "ban" => Some(UserAction::Ban),
            "unban" => Some(UserAction::Unban),
            "grant-admin" => Some(UserAction::GrantAdmin),
            "revoke-admin" => Some(UserAction::RevokeAdmin),
            _ => None,
        }
    }

    /// Whether the action takes rights away (refused on oneself).
    pub fn demotes(self) -> bool {
        matches!(self, UserAction::Ban | UserAction::RevokeAdmin)
    }
}

/// A moderation decision on pending (or live) clips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipDecision {
    /// Let the clip compete.
    Approve,
    /// Keep it out, with a reason for its creator.
    Reject,
}

impl ClipDecision {
    /// `approve` or `reject`.
    pub fn parse(raw: &str) -> Option<ClipDecision> {
        match raw {
            "approve" => Some(ClipDecision::Approve),
            "reject" => Some(ClipDecision::Reject),
            _ => None,
        }
    }

    /// The word used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ClipDecision::Approve => "approve",
            ClipDecision::Reject => "reject",
        }
    }
}

/// A step in a season's life an admin can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeasonAction {
    /// Draft → active.
    Activate,
    /// Active → finished.
    Finish,
    /// Finished → archived.
    Archive,
}

impl SeasonAction {
    /// `activate`, `finish` or `archive`.
    pub fn parse(raw: &str) -> Option<SeasonAction> {
        match raw {
            "activate" => Some(SeasonAction::Activate),
            "finish" => Some(SeasonAction::Finish),
            "archive" => Some(SeasonAction::Archive),
            _ => None,
        }
    }

    /// The status the season moves to.
    pub fn target(self) -> super::tournament::SeasonStatus {
        use super::tournament::SeasonStatus;
        match self {
            SeasonAction::Activate => SeasonStatus::Active,
            SeasonAction::Finish => SeasonStatus::Finished,
            SeasonAction::Archive => SeasonStatus::Archived,
        }
    }
}

/// A manual operation on a slot of the active season (besides closing the
/// open one, which has its own route).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotAction {
    /// Reopen the most recently locked slot for voting.
    Unlock,
    /// Void every counted vote of the slot.
    ResetVotes,
}

impl SlotAction {
    /// `unlock` or `reset-votes`.
    pub fn parse(raw: &str) -> Option<SlotAction> {
        match raw {
            "unlock" => Some(SlotAction::Unlock),
            "reset-votes" => Some(SlotAction::ResetVotes),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_from_their_wire_names_only() {
        assert_eq!(UserAction::parse("grant-admin"), Some(UserAction::GrantAdmin));
        assert!(UserAction::parse("revoke-admin").is_some_and(UserAction::demotes));
        assert!(!UserAction::parse("unban").is_some_and(UserAction::demotes));
        assert_eq!(UserAction::parse("Ban"), None);
        assert_eq!(ClipDecision::parse("reject").map(ClipDecision::as_str), Some("reject"));
        assert_eq!(ClipDecision::parse("delete"), None);
        assert_eq!(SeasonAction::parse("archive"), Some(SeasonAction::Archive));
        assert_eq!(SeasonAction::parse("delete"), None);
        assert_eq!(SlotAction::parse("reset-votes"), Some(SlotAction::ResetVotes));
        assert_eq!(SlotAction::parse("assign-winner"), None);
    }
}
