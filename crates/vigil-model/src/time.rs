//! Event time. Always taken from the data (packet timestamps, log fields), never the wall clock.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Nanoseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const NANOS_PER_SEC: i64 = 1_000_000_000;

    pub fn from_secs_f64(s: f64) -> Self {
        Timestamp((s * 1e9).round() as i64)
    }
    pub fn from_secs(s: i64) -> Self {
        Timestamp(s.saturating_mul(Self::NANOS_PER_SEC))
    }
    pub fn from_micros(us: i64) -> Self {
        Timestamp(us.saturating_mul(1_000))
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    pub fn secs(self) -> i64 {
        self.0.div_euclid(Self::NANOS_PER_SEC)
    }
    pub fn subsec_nanos(self) -> u32 {
        self.0.rem_euclid(Self::NANOS_PER_SEC) as u32
    }
    /// Seconds between `self` and an earlier `other` (negative if `other` is later).
    pub fn since(self, other: Timestamp) -> f64 {
        (self.0 - other.0) as f64 / 1e9
    }
    pub fn add_secs_f64(self, s: f64) -> Self {
        Timestamp(self.0.saturating_add((s * 1e9) as i64))
    }
    pub fn to_utc(self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.secs(), self.subsec_nanos()).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
    /// RFC 3339 with an explicit offset, in the given zone offset.
    pub fn to_offset(self, off: FixedOffset) -> DateTime<FixedOffset> {
        self.to_utc().with_timezone(&off)
    }
    /// Zeek's `ts` rendering: seconds with six decimals.
    pub fn zeek(self) -> String {
        let us = self.0.div_euclid(1_000);
        format!("{}.{:06}", us.div_euclid(1_000_000), us.rem_euclid(1_000_000))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(d: DateTime<Utc>) -> Self {
        Timestamp(d.timestamp_nanos_opt().unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn zeek_rendering_rounds_down_to_micros() {
        assert_eq!(Timestamp(1_700_000_000_123_456_789).zeek(), "1700000000.123456");
        assert_eq!(Timestamp::from_secs(-1).zeek(), "-1.000000");
    }
    #[test]
    fn offset_rendering_is_rfc3339() {
        let off = FixedOffset::east_opt(8 * 3600).unwrap();
        assert_eq!(Timestamp::from_secs(0).to_offset(off).to_rfc3339(), "1970-01-01T08:00:00+08:00");
    }
}
