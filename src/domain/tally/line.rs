//! One vote as the published tally shows it: a canonical JSON line with the
//! keys in a fixed order and no whitespace,
//!
//! `{"voteId":17,"voter":"<64 hex>","clipId":3,"voteType":"super","weight":3,"castAt":"2026-12-06T20:44:01.123Z","counted":true}`
//!
//! The Merkle leaf is exactly these bytes (without the `\n` that ends each
//! line of the export). The parser is strict: a line is valid only when
//! serializing what it read gives back the same bytes, so one vote has one
//! spelling and anyone can recompute the root byte for byte.

use std::fmt;

use super::super::clock::{Timestamp, UtcDay};
use super::super::ids::{ClipId, VoteId, VoterKey};
use super::super::vote::VoteType;

/// The longest line the parser reads. A canonical line is at most about 220
/// bytes (two 20-digit ids); anything much longer is not one.
pub const MAX_LINE_BYTES: usize = 512;

/// The latest `castAt` a line can carry: 9999-12-31T23:59:59.999Z, the end
/// of four-digit years.
const MAX_CAST_AT_MILLIS: i64 = 253_402_300_799_999;

/// The secret a slot's pseudonyms are keyed with. It is drawn when the slot's
/// tally is frozen and never published, so a pseudonym links one voter's
/// votes inside the slot (for the rule checks) but not across slots, and
/// nobody can test a guessed voter key against it.
#[derive(Clone, PartialEq, Eq)]
pub struct SlotSalt([u8; 32]);

impl SlotSalt {
    /// Wraps 32 random (or stored) bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The bytes, for storage.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SlotSalt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SlotSalt(…)")
    }
}

/// A voter's pseudonym in one slot: the keyed BLAKE3 hash, under the slot's
/// salt, of the voter key's text form (`u:<id>` or `d:<32 hex>`). Only the
/// server can compute it; a reader can only compare two.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym([u8; 32]);

impl Pseudonym {
    /// The pseudonym of `voter` in the slot salted with `salt`.
    pub fn of(salt: &SlotSalt, voter: &VoterKey) -> Self {
        Self::of_text(salt, voter.as_str())
    }

    /// The pseudonym of the voter key spelled `voter` (the text of a
    /// [`VoterKey`], e.g. from a
    /// [`VoterKeyText`](crate::domain::ids::VoterKeyText) without allocating).
    pub fn of_text(salt: &SlotSalt, voter: &str) -> Self {
        Self(*blake3::keyed_hash(&salt.0, voter.as_bytes()).as_bytes())
    }

    /// Wraps 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first 12 hex digits, enough to tell voters apart in a report.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }
}

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pseudonym({})", self.short())
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Why bytes are not a canonical tally line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Longer than [`MAX_LINE_BYTES`].
    #[error("the line is longer than {MAX_LINE_BYTES} bytes")]
    TooLong,
    /// The last line of a file has no `\n`.
    #[error("the last line does not end with a newline")]
    NoNewline,
    /// The fixed text between values differs.
    #[error("expected `{expected}` at byte {at}")]
    Expected {
        /// The text the canonical form has there.
        expected: &'static str,
        /// Byte offset in the line, from 0.
        at: usize,
    },
    /// A value is malformed or out of range.
    #[error("`{field}` at byte {at} is not valid")]
    Invalid {
        /// The key whose value is wrong.
        field: &'static str,
        /// Byte offset of the value, from 0.
        at: usize,
    },
    /// Readable, but not spelled the one canonical way (e.g. leading zeros,
    /// uppercase hex, a date that does not exist).
    #[error("not in canonical form (serializing it again gives other bytes)")]
    NotCanonical,
}

/// One vote of a slot, as published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TallyLine {
    vote: VoteId,
    voter: Pseudonym,
    clip: ClipId,
    vote_type: VoteType,
    weight: u32,
    cast_at: Timestamp,
    counted: bool,
}

impl TallyLine {
    /// A line. `weight` is taken as given (a published line may carry a wrong
    /// one; the recount reports it). Refuses a `cast_at` outside years
    /// 1970–9999, which has no canonical four-digit spelling.
    pub fn new(
        vote: VoteId,
        voter: Pseudonym,
        clip: ClipId,
        vote_type: VoteType,
        weight: u32,
        cast_at: Timestamp,
        counted: bool,
    ) -> Result<Self, LineError> {
        if !(0..=MAX_CAST_AT_MILLIS).contains(&cast_at.millis()) {
            return Err(LineError::Invalid { field: "castAt", at: 0 });
        }
        Ok(Self { vote, voter, clip, vote_type, weight, cast_at, counted })
    }

    /// The vote's id; lines are in increasing id order.
    pub fn vote(&self) -> VoteId {
        self.vote
    }

    /// Who cast it, as a pseudonym for this slot.
    pub fn voter(&self) -> Pseudonym {
        self.voter
    }

    /// The clip voted for.
    pub fn clip(&self) -> ClipId {
        self.clip
    }

    /// Standard, super or mega.
    pub fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    /// The weight the line claims.
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// When the server accepted it.
    pub fn cast_at(&self) -> Timestamp {
        self.cast_at
    }

    /// Whether it counts (false once revoked or voided before the lock).
    pub fn counted(&self) -> bool {
        self.counted
    }

    /// Appends the canonical bytes (no trailing newline) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"voteId\":");
        push_decimal(out, self.vote.get());
        out.extend_from_slice(b",\"voter\":\"");
        let start = out.len();
        out.resize(start + 64, 0);
        // 32 bytes always fit 64 hex digits.
        let _ = hex::encode_to_slice(self.voter.0, &mut out[start..]);
        out.extend_from_slice(b"\",\"clipId\":");
        push_decimal(out, self.clip.get());
        out.extend_from_slice(b",\"voteType\":\"");
        out.extend_from_slice(self.vote_type.as_str().as_bytes());
        out.extend_from_slice(b"\",\"weight\":");
        push_decimal(out, u64::from(self.weight));
        out.extend_from_slice(b",\"castAt\":\"");
        push_cast_at(out, self.cast_at);
        out.extend_from_slice(b"\",\"counted\":");
        out.extend_from_slice(if self.counted { b"true}" } else { b"false}" });
    }

    /// The canonical bytes (no trailing newline).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(200);
        self.write_to(&mut out);
        out
    }

    /// Reads one line (without its newline); accepts only the canonical form.
    pub fn parse(bytes: &[u8]) -> Result<Self, LineError> {
        if bytes.len() > MAX_LINE_BYTES {
            return Err(LineError::TooLong);
        }
        let mut cursor = Cursor { bytes, at: 0 };
        cursor.expect("{\"voteId\":")?;
        let vote = cursor.number("voteId").and_then(|(n, at)| VoteId::new(n).ok_or(invalid("voteId", at)))?;
        cursor.expect(",\"voter\":\"")?;
        let voter = cursor.pseudonym()?;
        cursor.expect("\",\"clipId\":")?;
        let clip = cursor.number("clipId").and_then(|(n, at)| ClipId::new(n).ok_or(invalid("clipId", at)))?;
        cursor.expect(",\"voteType\":\"")?;
        let vote_type = cursor.vote_type()?;
        cursor.expect("\",\"weight\":")?;
        let weight = cursor.number("weight").and_then(|(n, at)| u32::try_from(n).map_err(|_| invalid("weight", at)))?;
        cursor.expect(",\"castAt\":\"")?;
        let cast_at = cursor.cast_at()?;
        cursor.expect("\",\"counted\":")?;
        let counted = cursor.boolean()?;
        cursor.expect("}")?;
        if cursor.at != bytes.len() {
            return Err(LineError::Expected { expected: "end of line", at: cursor.at });
        }
        let line = Self::new(vote, voter, clip, vote_type, weight, cast_at, counted)?;
        if line.to_bytes() != bytes {
            return Err(LineError::NotCanonical);
        }
        Ok(line)
    }
}

fn invalid(field: &'static str, at: usize) -> LineError {
    LineError::Invalid { field, at }
}

fn push_decimal(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

fn push_padded(out: &mut Vec<u8>, value: u64, width: usize) {
    let mut digits = [b'0'; 4];
    let mut rest = value;
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits[..width]);
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, always with milliseconds. Written by hand
/// (not with a format description) because a freeze writes a million.
fn push_cast_at(out: &mut Vec<u8>, at: Timestamp) {
    let millis = at.millis().clamp(0, MAX_CAST_AT_MILLIS) as u64;
    let (day, in_day) = (millis / 86_400_000, millis % 86_400_000);
    let (year, month, day_of_month) = civil_from_days(day);
    push_padded(out, year, 4);
    out.push(b'-');
    push_padded(out, month, 2);
    out.push(b'-');
    push_padded(out, day_of_month, 2);
    out.push(b'T');
    push_padded(out, in_day / 3_600_000, 2);
    out.push(b':');
    push_padded(out, in_day / 60_000 % 60, 2);
    out.push(b':');
    push_padded(out, in_day / 1000 % 60, 2);
    out.push(b'.');
    push_padded(out, in_day % 1000, 3);
    out.push(b'Z');
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for days ≥ 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Hinnant's
/// `days_from_civil`). Out-of-range months or days give some other date,
/// which the canonical round trip then refuses.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year + 399 } else { year + 400 };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + day.saturating_sub(1);
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // `year` was shifted by 400 years (one era) to stay unsigned.
    (era * 146_097 + day_of_era).saturating_sub(719_468 + 146_097)
}

/// A UTC day as `YYYY-MM-DD`, for reports.
pub fn format_day(day: UtcDay) -> String {
    let (year, month, day_of_month) = civil_from_days(u64::from(day.number()));
    format!("{year:04}-{month:02}-{day_of_month:02}")
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn expect(&mut self, text: &'static str) -> Result<(), LineError> {
        if self.bytes[self.at..].starts_with(text.as_bytes()) {
            self.at += text.len();
            Ok(())
        } else {
            Err(LineError::Expected { expected: text, at: self.at })
        }
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> (&[u8], usize) {
        let start = self.at;
        while self.bytes.get(self.at).is_some_and(|b| keep(*b)) {
            self.at += 1;
        }
        (&self.bytes[start..self.at], start)
    }

    fn number(&mut self, field: &'static str) -> Result<(u64, usize), LineError> {
        let (digits, at) = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() || digits.len() > 20 {
            return Err(invalid(field, at));
        }
        let value = digits.iter().try_fold(0u64, |value, digit| {
            value.checked_mul(10).and_then(|value| value.checked_add(u64::from(digit - b'0')))
        });
        value.map(|value| (value, at)).ok_or(invalid(field, at))
    }

    fn pseudonym(&mut self) -> Result<Pseudonym, LineError> {
        let (text, at) = self.take_while(|b| b.is_ascii_hexdigit());
        let mut bytes = [0u8; 32];
        match hex::decode_to_slice(text, &mut bytes) {
            Ok(()) => Ok(Pseudonym(bytes)),
            Err(_) => Err(invalid("voter", at)),
        }
    }

    fn vote_type(&mut self) -> Result<VoteType, LineError> {
        let (word, at) = self.take_while(|b| b.is_ascii_lowercase());
        std::str::from_utf8(word).ok().and_then(VoteType::parse).ok_or(invalid("voteType", at))
    }

    fn cast_at(&mut self) -> Result<Timestamp, LineError> {
        let at = self.at;
        let text = self.bytes.get(at..at + 24).ok_or(invalid("castAt", at))?;
        // Fixed shape: digits everywhere but the separators.
        let shape = b"dddd-dd-ddTdd:dd:dd.dddZ";
        let fits = text.iter().zip(shape).all(|(b, s)| if *s == b'd' { b.is_ascii_digit() } else { b == s });
        if !fits {
            return Err(invalid("castAt", at));
        }
        let field =
            |range: std::ops::Range<usize>| text[range].iter().fold(0u64, |n, digit| n * 10 + u64::from(digit - b'0'));
        let days = days_from_civil(field(0..4), field(5..7), field(8..10));
        let millis = days * 86_400_000
            + field(11..13) * 3_600_000
            + field(14..16) * 60_000
            + field(17..19) * 1000
            + field(20..23);
        self.at += 24;
        // Impossible fields (month 13, 25 o'clock) land on another instant
        // and fail the canonical round trip in `parse`.
        i64::try_from(millis).map(Timestamp::from_millis).map_err(|_| invalid("castAt", at))
    }

    fn boolean(&mut self) -> Result<bool, LineError> {
        if self.expect("true").is_ok() {
            return Ok(true);
        }
        self.expect("false").map(|()| false).map_err(|_| invalid("counted", self.at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLE: &str = "{\"voteId\":17,\"voter\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\",\"clipId\":3,\"voteType\":\"super\",\"weight\":3,\"castAt\":\"2026-12-06T20:44:01.123Z\",\"counted\":true}";

    fn example() -> TallyLine {
        let mut voter = [0u8; 32];
        hex::decode_to_slice("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", &mut voter)
            .expect("hex");
        // 2026-12-06T20:44:01.123Z, computed independently:
        // `date -u -d 2026-12-06T20:44:01Z +%s` = 1796589841.
        let cast_at = Timestamp::from_millis(1_796_589_841_123);
        TallyLine::new(
            VoteId::new(17).expect("id"),
            Pseudonym::from_bytes(voter),
            ClipId::new(3).expect("id"),
            VoteType::Super,
            3,
            cast_at,
            true,
        )
        .expect("in range")
    }

    #[test]
    fn serializes_the_issue_example_byte_for_byte() {
        assert_eq!(String::from_utf8(example().to_bytes()).expect("utf-8"), EXAMPLE);
        assert_eq!(TallyLine::parse(EXAMPLE.as_bytes()), Ok(example()));
    }

    #[test]
    fn cast_at_always_has_milliseconds_and_z() {
        let line = |millis| {
            let line = TallyLine::new(
                VoteId::new(1).expect("id"),
                Pseudonym::from_bytes([0; 32]),
                ClipId::new(1).expect("id"),
                VoteType::Standard,
                1,
                Timestamp::from_millis(millis),
                false,
            )
            .expect("in range");
            String::from_utf8(line.to_bytes()).expect("utf-8")
        };
        assert!(line(0).contains("\"castAt\":\"1970-01-01T00:00:00.000Z\""));
        assert!(line(951_782_400_000).contains("\"castAt\":\"2000-02-29T00:00:00.000Z\""));
        assert!(line(MAX_CAST_AT_MILLIS).contains("\"castAt\":\"9999-12-31T23:59:59.999Z\""));
        assert!(line(0).ends_with("\"counted\":false}"));
    }

    #[test]
    fn agrees_with_the_rfc3339_formatter_the_api_uses() {
        for millis in [0, 1_500, 86_399_999, 1_796_589_841_123, 4_102_444_800_000, 253_402_300_799_999] {
            let ours = {
                let mut out = Vec::new();
                push_cast_at(&mut out, Timestamp::from_millis(millis));
                String::from_utf8(out).expect("utf-8")
            };
            let nanos = i128::from(millis) * 1_000_000;
            let theirs = time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
                .expect("in range")
                .format(time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
                ))
                .expect("format");
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn refuses_every_other_spelling() {
        let refused = [
            EXAMPLE.replace("{\"voteId\"", "{ \"voteId\""),
            EXAMPLE.replace("\"voteId\":17", "\"voteId\":017"),
            EXAMPLE.replace("\"voteId\":17", "\"voteId\":0"),
            EXAMPLE.replace("\"voteId\":17", "\"voteId\":17.0"),
            EXAMPLE.replace("\"voteId\":17", "\"voteId\":99999999999999999999"),
            EXAMPLE.replace("aabb", "AABB"),
            EXAMPLE.replace("00112233445566778899aabbccddeeff\",", "00112233445566778899aabbccddee\","),
            EXAMPLE.replace("\"super\"", "\"Super\""),
            EXAMPLE.replace("\"super\"", "\"ultra\""),
            EXAMPLE.replace("\"weight\":3", "\"weight\":-3"),
            EXAMPLE.replace(".123Z", "Z"),
            EXAMPLE.replace(".123Z", ".123+00:00"),
            EXAMPLE.replace("2026-12-06", "2026-02-30"),
            EXAMPLE.replace("20:44", "24:44"),
            EXAMPLE.replace("true}", "True}"),
            EXAMPLE.replace("true}", "true,\"extra\":1}"),
            EXAMPLE.replace("\"clipId\":3,\"voteType\":\"super\"", "\"voteType\":\"super\",\"clipId\":3"),
            format!("{EXAMPLE} "),
            format!("{EXAMPLE}\r"),
            String::new(),
            "x".repeat(MAX_LINE_BYTES + 1),
        ];
        for text in refused {
            assert!(TallyLine::parse(text.as_bytes()).is_err(), "accepted {text:?}");
        }
        assert_eq!(
            TallyLine::parse(EXAMPLE.replace("2026-12-06", "2026-02-30").as_bytes()),
            Err(LineError::NotCanonical)
        );
    }

    #[test]
    fn pseudonyms_depend_on_the_salt_and_the_voter() {
        let voter = VoterKey::parse("u:7").expect("key");
        let other = VoterKey::parse("u:8").expect("key");
        let salt = SlotSalt::from_bytes([1; 32]);
        let next_slot = SlotSalt::from_bytes([2; 32]);
        assert_eq!(Pseudonym::of(&salt, &voter), Pseudonym::of(&salt, &voter));
        assert_ne!(Pseudonym::of(&salt, &voter), Pseudonym::of(&next_slot, &voter));
        assert_ne!(Pseudonym::of(&salt, &voter), Pseudonym::of(&salt, &other));
        assert!(!format!("{salt:?}").contains('1'));
    }

    #[test]
    fn days_format_as_dates() {
        assert_eq!(format_day(UtcDay::from_number(0)), "1970-01-01");
        assert_eq!(format_day(Timestamp::from_millis(1_796_589_841_123).utc_day()), "2026-12-06");
    }

    fn any_line() -> impl Strategy<Value = TallyLine> {
        (1u64.., any::<[u8; 32]>(), 1u64.., 0u8..3, any::<u32>(), 0..=MAX_CAST_AT_MILLIS, any::<bool>()).prop_map(
            |(vote, voter, clip, tag, weight, millis, counted)| {
                TallyLine::new(
                    VoteId::new(vote).expect("nonzero"),
                    Pseudonym::from_bytes(voter),
                    ClipId::new(clip).expect("nonzero"),
                    VoteType::from_tag(tag).expect("tag"),
                    weight,
                    Timestamp::from_millis(millis),
                    counted,
                )
                .expect("in range")
            },
        )
    }

    proptest! {
        #[test]
        fn every_line_round_trips(line in any_line()) {
            let bytes = line.to_bytes();
            prop_assert!(bytes.len() <= MAX_LINE_BYTES);
            prop_assert_eq!(TallyLine::parse(&bytes), Ok(line));
            // It is also plain JSON that any parser reads the same way.
            let value: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            prop_assert_eq!(value["voteId"].as_u64(), Some(line.vote().get()));
            prop_assert_eq!(value["weight"].as_u64(), Some(u64::from(line.weight())));
        }

        #[test]
        fn changing_any_byte_breaks_the_line_or_changes_it(line in any_line(), at in any::<usize>(), to in any::<u8>()) {
            let bytes = line.to_bytes();
            let at = at % bytes.len();
            prop_assume!(bytes[at] != to);
            let mut changed = bytes.clone();
            changed[at] = to;
            match TallyLine::parse(&changed) {
                Err(_) => {}
                Ok(parsed) => prop_assert_ne!(parsed, line),
            }
        }
    }
}
