//! Time as the rules see it: millisecond timestamps, UTC days, and the
//! [`Clock`] every component that stamps or dates a fact reads "now" from.

use std::fmt;
use std::sync::Arc;

/// Where "now" comes from: [`Timestamp::now`] when serving, a hand-moved
/// instant in tests. The writer and the leaderboards share one, so a vote's
/// day and the day a leaderboard page is asked on agree.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Wall-clock milliseconds since the Unix epoch (0 if the clock is before
/// it), for figures compared with the real time, such as the writer's last
/// commit in `/api/health`; never a moved test [`Clock`].
pub fn unix_millis_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

const MILLIS_PER_DAY: i64 = 86_400_000;

impl Timestamp {
    /// Wraps a stored millisecond count.
    pub fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// The current wall-clock time.
    pub fn now() -> Self {
        let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        Self(i64::try_from(millis).unwrap_or(i64::MAX))
    }

    /// The stored millisecond count.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// This instant plus a number of seconds.
    pub fn plus_secs(self, secs: u64) -> Self {
        let millis = i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000);
        Self(self.0.saturating_add(millis))
    }

    /// Whole seconds from this instant to the next midnight UTC (at least 1),
    /// when a spent daily budget comes back.
    pub fn secs_to_next_utc_day(self) -> u64 {
        let left = MILLIS_PER_DAY - self.0.rem_euclid(MILLIS_PER_DAY);
        u64::try_from((left + 999) / 1000).unwrap_or(1).max(1)
    }

    /// The UTC day this instant falls in.
    pub fn utc_day(self) -> UtcDay {
        UtcDay(u32::try_from(self.0.div_euclid(MILLIS_PER_DAY)).unwrap_or(0))
    }

    /// RFC 3339 text, as every JSON response carries times.
    pub fn to_rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default()
    }
}

impl Timestamp {
    /// Short human text for pages, e.g. `27 Nov 12:37 UTC`.
    pub fn to_display(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        let format = time::macros::format_description!("[day padding:none] [month repr:short] [hour]:[minute] UTC");
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .ok()
            .and_then(|t| t.format(&format).ok())
            .unwrap_or_default()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// A UTC calendar day, counted from the Unix epoch. Daily vote budgets are per
/// voter per `UtcDay`, so the boundary is exactly midnight UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UtcDay(u32);

impl UtcDay {
    /// Wraps a stored day number.
    pub fn from_number(day: u32) -> Self {
        Self(day)
    }

    /// The stored day number.
    pub fn number(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_day_is_counted_in_whole_seconds() {
        let midnight = Timestamp::from_millis(20_000 * MILLIS_PER_DAY);
        assert_eq!(midnight.secs_to_next_utc_day(), 86_400);
        assert_eq!(Timestamp::from_millis(midnight.millis() + 3_600_000).secs_to_next_utc_day(), 82_800);
        assert_eq!(Timestamp::from_millis(midnight.millis() - 1).secs_to_next_utc_day(), 1);
        assert_eq!(Timestamp::from_millis(midnight.millis() - 1500).secs_to_next_utc_day(), 2);
    }

    #[test]
    fn day_boundary_is_exactly_midnight_utc() {
        let midnight = Timestamp::from_millis(20_000 * MILLIS_PER_DAY);
        let just_before = Timestamp::from_millis(midnight.millis() - 1);
        assert_eq!(midnight.utc_day().number(), 20_000);
        assert_eq!(just_before.utc_day().number(), 19_999);
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(Timestamp::from_millis(0).to_display(), "1 Jan 00:00 UTC");
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(Timestamp::from_millis(0).to_rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp::from_millis(1_500).to_rfc3339(), "1970-01-01T00:00:01.5Z");
    }
}
