//! What detectors may ask about an address or a moment.

use crate::site::{Site, Zone};
use chrono::{Datelike, NaiveTime, TimeZone};
use std::net::IpAddr;
use vigil_model::Timestamp;

/// What GeoIP knows of an address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeoInfo {
    pub country: Option<[u8; 2]>,
    pub asn: Option<u32>,
    pub as_org: Option<String>,
}

/// Read-only context shared by every detector.
#[derive(Debug, Default)]
pub struct Context {
    pub site: Site,
}

impl Context {
    pub fn new(site: Site) -> Self {
        Context { site }
    }

    pub fn is_internal(&self, ip: IpAddr) -> bool {
        self.site.is_internal(ip)
    }

    pub fn zone(&self, ip: IpAddr) -> Option<&Zone> {
        self.site.zone(ip)
    }

    pub fn geo(&self, _ip: IpAddr) -> GeoInfo {
        GeoInfo::default()
    }

    /// Some(true) when the address is outside every home country; None when that cannot be
    /// judged (no home country configured, internal address, or unknown location).
    pub fn is_foreign(&self, ip: IpAddr) -> Option<bool> {
        if self.site.home_countries.is_empty() || self.is_internal(ip) {
            return None;
        }
        let cc = self.geo(ip).country?;
        Some(!self.site.home_countries.contains(&cc))
    }

    /// Local (site time zone) hour as a fraction, and whether that moment is outside work hours
    /// or on a non-work day.
    pub fn is_off_hours(&self, ts: Timestamp) -> bool {
        let local = self.site.tz.from_utc_datetime(&ts.to_utc().naive_utc());
        if !self.site.work_days.contains(&local.weekday()) {
            return true;
        }
        let t: NaiveTime = local.time();
        let (s, e) = (self.site.work_start, self.site.work_end);
        if s <= e { t < s || t >= e } else { t >= e && t < s }
    }

    /// Local hour of day (0–23) in the site's zone.
    pub fn local_hour(&self, ts: Timestamp) -> u32 {
        use chrono::Timelike;
        self.site.tz.from_utc_datetime(&ts.to_utc().naive_utc()).hour()
    }

    /// The site zone's UTC offset at `ts`, for rendering finding times.
    pub fn offset_at(&self, ts: Timestamp) -> chrono::FixedOffset {
        use chrono::Offset;
        self.site.tz.offset_from_utc_datetime(&ts.to_utc().naive_utc()).fix()
    }

    pub fn is_allowed(&self, ip: IpAddr, name: Option<&str>) -> bool {
        self.site.is_allowed_ip(ip) || name.is_some_and(|n| self.site.is_allowed_domain(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn off_hours_are_judged_in_the_site_zone() {
        let site = Site::parse(
            "[site]\ntimezone = \"Asia/Shanghai\"\nwork_hours = \"08:30-18:00\"",
            Path::new("s.toml"),
        )
        .unwrap();
        let ctx = Context::new(site);
        // 2024-01-02 (Tue) 01:00 UTC = 09:00 Shanghai: working.
        let tue_9 = Timestamp::from_secs(1_704_157_200);
        assert!(!ctx.is_off_hours(tue_9));
        assert_eq!(ctx.local_hour(tue_9), 9);
        // 2024-01-01 19:00 UTC = Tue 03:00 Shanghai: off hours.
        assert!(ctx.is_off_hours(Timestamp::from_secs(1_704_135_600)));
        // Saturday 2024-01-06 03:00 UTC = 11:00 Shanghai: weekend.
        assert!(ctx.is_off_hours(Timestamp::from_secs(1_704_510_000)));
        assert_eq!(ctx.offset_at(tue_9).local_minus_utc(), 8 * 3600);
    }
}
