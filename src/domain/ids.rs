//! Typed identifiers and validated values. Each is created only through a
//! constructor that checks it, so the rest of the code never handles a raw id.

use std::fmt;
use std::str::FromStr;

/// An error from parsing an identifier or a validated value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u64);

        impl $name {
            /// Wraps a stored id. Ids start at 1; 0 is never issued.
            pub fn new(raw: u64) -> Option<Self> {
                (raw != 0).then_some(Self(raw))
            }

            /// The number as stored and shown on the wire.
            pub fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.trim()
                    .parse::<u64>()
                    .ok()
                    .and_then(Self::new)
                    .ok_or_else(|| InvalidValue(format!("`{text}` is not a valid {}", stringify!($name))))
            }
        }
    };
}

numeric_id!(
    /// Identifies a clip.
    ClipId
);
numeric_id!(
    /// Identifies a season (one film).
    SeasonId
);
numeric_id!(
    /// Identifies a registered user.
    UserId
);
numeric_id!(
    /// Identifies one stored vote.
    VoteId
);
numeric_id!(
    /// Identifies a comment or a reply.
    CommentId
);
numeric_id!(
    /// Identifies a report in the moderation queue.
    ReportId
);

/// A slot's 1-based position in its season's film.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotPosition(u32);

impl SlotPosition {
    /// The first slot of every season.
    pub const FIRST: SlotPosition = SlotPosition(1);

    /// Positions start at 1.
    pub fn new(raw: u32) -> Option<Self> {
        (raw != 0).then_some(Self(raw))
    }

    /// The number as stored and shown.
    pub fn get(self) -> u32 {
        self.0
    }

    /// The position after this one.
    pub fn next(self) -> SlotPosition {
        SlotPosition(self.0.saturating_add(1))
    }
}

impl fmt::Display for SlotPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Who cast a vote: a signed-in user (`u:<id>`) or an anonymous device
/// (`d:<keyed hash of client address and user agent>`). The key is what the
/// one-vote-per-clip and daily-budget rules count against.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VoterKey(String);

impl VoterKey {
    /// The voter key of a signed-in user.
    pub fn user(user: UserId) -> Self {
        Self(format!("u:{user}"))
    }

    /// The voter key of an anonymous device, from its 128-bit fingerprint.
    pub fn device(fingerprint: [u8; 16]) -> Self {
        Self(format!("d:{}", hex::encode(fingerprint)))
    }

    /// Reads back a stored key, accepting only the two shapes above.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let valid = match text.split_once(':') {
            Some(("u", id)) => id.parse::<UserId>().is_ok(),
            Some(("d", hash)) => hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            _ => false,
        };
        if valid { Ok(Self(text.to_owned())) } else { Err(InvalidValue(format!("`{text}` is not a voter key"))) }
    }

    /// Whether this voter is a signed-in user.
    pub fn is_user(&self) -> bool {
        self.0.starts_with("u:")
    }

    /// The user behind a signed-in voter key.
    pub fn user_id(&self) -> Option<UserId> {
        self.0.strip_prefix("u:").and_then(|id| id.parse().ok())
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VoterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_zero_and_garbage() {
        assert!(ClipId::new(0).is_none());
        assert!("0".parse::<ClipId>().is_err());
        assert!("-3".parse::<ClipId>().is_err());
        assert!("abc".parse::<ClipId>().is_err());
        assert_eq!("42".parse::<ClipId>().map(ClipId::get), Ok(42));
    }

    #[test]
    fn voter_keys_round_trip_and_reject_other_shapes() {
        let device = VoterKey::device([0xab; 16]);
        assert_eq!(VoterKey::parse(device.as_str()), Ok(device.clone()));
        assert!(!device.is_user());
        let user = VoterKey::user(UserId::new(7).expect("nonzero"));
        assert_eq!(user.as_str(), "u:7");
        assert!(user.is_user());
        assert!(VoterKey::parse("x:1").is_err());
        assert!(VoterKey::parse("d:zz").is_err());
        assert!(VoterKey::parse("u:0").is_err());
    }
}
