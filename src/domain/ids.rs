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
        Self(VoterKeyText::user(user).as_str().to_owned())
    }

    /// The voter key of an anonymous device, from its 128-bit fingerprint.
    pub fn device(fingerprint: [u8; 16]) -> Self {
        Self(VoterKeyText::device(&fingerprint).as_str().to_owned())
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

/// The text of a voter key (`u:<id>` or `d:<32 hex digits>`) in a fixed
/// buffer: the one place both spellings are written, by [`VoterKey`] and
/// by a tally freeze, which hashes the text of every vote of a slot (a
/// million) and so must not allocate for each.
#[derive(Clone, Copy)]
pub struct VoterKeyText {
    bytes: [u8; VoterKeyText::MAX_BYTES],
    len: u8,
}

impl VoterKeyText {
    /// The longest text: `d:` and 32 hex digits (`u:` and a u64 is 22).
    pub const MAX_BYTES: usize = 34;

    /// `u:<id>`.
    pub fn user(user: UserId) -> Self {
        let mut text = VoterKeyText { bytes: [0; Self::MAX_BYTES], len: 2 };
        text.bytes[..2].copy_from_slice(b"u:");
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut rest = user.get();
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        let count = digits.len() - start;
        text.bytes[2..2 + count].copy_from_slice(&digits[start..]);
        text.len = (2 + count) as u8;
        text
    }

    /// `d:<fingerprint in lowercase hex>`.
    pub fn device(fingerprint: &[u8; 16]) -> Self {
        let mut text = VoterKeyText { bytes: [0; Self::MAX_BYTES], len: Self::MAX_BYTES as u8 };
        text.bytes[..2].copy_from_slice(b"d:");
        // 16 bytes always fit the 32 digits left.
        let _ = hex::encode_to_slice(fingerprint, &mut text.bytes[2..]);
        text
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Debug for VoterKeyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VoterKeyText({})", self.as_str())
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
        for id in [1, 7, 10, 999, u64::MAX] {
            let user = UserId::new(id).expect("nonzero");
            assert_eq!(VoterKeyText::user(user).as_str(), format!("u:{id}"));
        }
        let fingerprint = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0, 0xff, 2, 3, 4, 5, 6, 0x70];
        assert_eq!(VoterKeyText::device(&fingerprint).as_str(), "d:0123456789abcdef00ff020304050670");
        assert_eq!(VoterKey::device(fingerprint).as_str(), VoterKeyText::device(&fingerprint).as_str());
        assert!(VoterKey::parse("d:zz").is_err());
        assert!(VoterKey::parse("u:0").is_err());
    }
}
