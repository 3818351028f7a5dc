//! What detectors may ask about an address or a moment.

use crate::EnrichError;
use crate::geo::{AsnSource, CountrySource, Geo, GeoInfo};
use crate::inventory::{Asset, EdgeHistory, Inventory, load_cmdb_file};
use crate::site::{Site, Zone};
use chrono::{Datelike, NaiveTime, TimeZone};
use std::net::IpAddr;
use vigil_model::Timestamp;

/// Read-only context shared by every detector.
#[derive(Debug, Default)]
pub struct Context {
    pub site: Site,
    /// Country and ASN answers.
    pub geo: Geo,
    /// Known assets: the CMDB merged with what earlier runs observed.
    pub inventory: Inventory,
    /// Edges (source, destination, port) seen in earlier runs.
    pub history: EdgeHistory,
    /// CMDB rows with unusable fields, for the load report.
    pub inventory_bad_rows: u64,
}

impl Context {
    /// The site with the bundled country table, an empty inventory and no history. Opens no
    /// file.
    pub fn new(site: Site) -> Self {
        let inventory = Inventory::for_site(&site);
        Context { site, geo: Geo::default(), inventory, history: EdgeHistory::default(), inventory_bad_rows: 0 }
    }

    /// Opens what the site file names: the country and ASN databases (MaxMind-format `.mmdb`
    /// or CSV range files, gzip or plain) in front of the bundled country table, and the CMDB
    /// export. A named file that cannot be read is an error naming it.
    pub fn load(site: Site) -> Result<Context, EnrichError> {
        let mut countries: Vec<CountrySource> = Vec::new();
        let mut asns: Vec<AsnSource> = Vec::new();
        for p in [site.country_db.as_ref(), site.asn_db.as_ref()].into_iter().flatten() {
            let (c, a) = Geo::open_file(p)?;
            countries.extend(c);
            asns.extend(a);
        }
        countries.push(CountrySource::Bundled);
        let mut inventory = Inventory::for_site(&site);
        let mut bad = 0;
        if let Some(p) = &site.inventory_file {
            bad = load_cmdb_file(&mut inventory, p)?;
        }
        Ok(Context { site, geo: Geo::new(countries, asns), inventory, history: EdgeHistory::default(), inventory_bad_rows: bad })
    }

    /// Replaces the inventory (e.g. one the store kept from earlier runs), keeping the CMDB
    /// records already loaded where the new one lacks them.
    pub fn with_inventory(mut self, mut inv: Inventory) -> Self {
        if !inv.has_cmdb() && self.inventory.has_cmdb() {
            let rows = self.inventory.assets().filter_map(|a| a.cmdb.clone()).collect();
            inv.import_cmdb(rows);
        }
        self.inventory = inv;
        self
    }

    /// Sets the edge history (from the store).
    pub fn with_history(mut self, h: EdgeHistory) -> Self {
        self.history = h;
        self
    }

    /// Replaces the GeoIP resolver.
    pub fn with_geo(mut self, g: Geo) -> Self {
        self.geo = g;
        self
    }

    pub fn is_internal(&self, ip: IpAddr) -> bool {
        self.site.is_internal(ip)
    }

    pub fn zone(&self, ip: IpAddr) -> Option<&Zone> {
        self.site.zone(ip)
    }

    /// Trust level: 0 outside, the zone's level inside (2 for internal addresses in no zone).
    pub fn trust(&self, ip: IpAddr) -> u8 {
        self.site.trust(ip)
    }

    /// In a zone marked critical (or of trust 3).
    pub fn is_critical(&self, ip: IpAddr) -> bool {
        self.zone(ip).is_some_and(|z| z.critical || z.trust >= crate::site::TRUST_CRITICAL)
    }

    pub fn geo(&self, ip: IpAddr) -> GeoInfo {
        self.geo.lookup(ip)
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

    /// Whether the address's autonomous system is allowlisted.
    pub fn is_allowed_asn(&self, ip: IpAddr) -> bool {
        !self.site.allow_asns.is_empty() && self.geo(ip).asn.is_some_and(|a| self.site.is_allowed_asn(a))
    }

    pub fn is_allowed_ja4(&self, ja4: &str) -> bool {
        self.site.is_allowed_ja4(ja4)
    }

    /// A host whose administration of others is expected: declared in `allow.admin_sources`
    /// or sitting in an admin/management zone.
    pub fn is_admin_source(&self, ip: IpAddr) -> bool {
        self.site.is_admin_source(ip) || self.zone(ip).is_some_and(Zone::is_admin)
    }

    /// What the inventory knows of an address.
    pub fn asset(&self, ip: IpAddr) -> Option<&Asset> {
        self.inventory.get(ip)
    }

    /// Whether `port` is an administration or data-access port (built-in list plus the site's).
    pub fn is_admin_port(&self, port: u16) -> bool {
        is_builtin_admin_port(port) || self.site.admin_ports.contains(&port)
    }
}

/// SSH, Telnet, RPC, SMB/NetBIOS, RDP, WinRM, VNC and common database ports.
pub fn is_builtin_admin_port(port: u16) -> bool {
    matches!(port, 22 | 23 | 135 | 139 | 445 | 3389 | 5985 | 5986 | 5900..=5903 | 1433 | 3306 | 5432 | 1521 | 27017 | 6379)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn off_hours_are_judged_in_the_site_zone() {
        let site = Site::parse("[site]\ntimezone = \"Asia/Shanghai\"\nwork_hours = \"08:30-18:00\"", Path::new("s.toml")).unwrap();
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

    #[test]
    fn foreign_is_judged_with_the_bundled_table_and_no_download() {
        let site = Site::parse("[site]\nhome_countries = [\"CN\"]", Path::new("s.toml")).unwrap();
        let ctx = Context::new(site);
        // 1.0.1.0/24: APNIC delegation to China; 1.0.0.0/24 is APNIC's (AU) research block.
        assert_eq!(ctx.is_foreign("1.0.1.1".parse().unwrap()), Some(false));
        assert_eq!(ctx.is_foreign("1.0.0.1".parse().unwrap()), Some(true));
        assert_eq!(ctx.is_foreign("10.0.0.1".parse().unwrap()), None);
    }

    #[test]
    fn load_opens_csv_tables_and_the_cmdb_and_reports_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("asn.csv"), "8.8.8.0,8.8.8.255,15169,Google LLC\n").unwrap();
        std::fs::write(dir.path().join("cc.csv"), "8.8.8.0,8.8.8.255,US\n1.0.1.0,1.0.1.255,JP\n").unwrap();
        std::fs::write(dir.path().join("assets.csv"), "ip,name,environment\n10.9.0.1,lab-box,test\n").unwrap();
        let text = "[site]\nhome_countries=[\"US\"]\n[geoip]\ncountry_db=\"cc.csv\"\nasn_db=\"asn.csv\"\n[inventory]\nfile=\"assets.csv\"\n[allow]\nasns=[15169]";
        let site = Site::parse(text, &dir.path().join("site.toml")).unwrap();
        let ctx = Context::load(site).unwrap();
        let g = ctx.geo("8.8.8.8".parse().unwrap());
        assert_eq!(g, GeoInfo { country: Some(*b"US"), asn: Some(15169), as_org: Some("Google LLC".into()) });
        assert_eq!(ctx.geo("1.0.1.1".parse().unwrap()).country, Some(*b"JP"), "configured table wins over the bundled one");
        assert_eq!(ctx.geo("1.0.2.1".parse().unwrap()).country, Some(*b"CN"), "bundled table fills the gaps");
        assert!(ctx.is_allowed_asn("8.8.8.8".parse().unwrap()));
        assert!(ctx.inventory.cmdb("10.9.0.1".parse().unwrap()).unwrap().is_test());
        let missing = Site::parse("[geoip]\ncountry_db=\"nope.mmdb\"", &dir.path().join("site.toml")).unwrap();
        let e = Context::load(missing).unwrap_err().to_string();
        assert!(e.contains("nope.mmdb"), "{e}");
    }

    #[test]
    fn zones_carry_trust_and_kind() {
        let text = "[site]\ninternal=[\"10.0.0.0/8\"]\n[[site.zone]]\nname=\"core\"\nnetworks=[\"10.1.0.0/16\"]\ncritical=true\n\
                    [[site.zone]]\nname=\"lab-7\"\nnetworks=[\"10.7.0.0/16\"]\n[[site.zone]]\nname=\"z9\"\nkind=\"jump\"\nnetworks=[\"10.9.0.0/16\"]\n\
                    [[site.zone]]\nname=\"office\"\ntrust=1\nnetworks=[\"10.2.0.0/16\"]\n[allow]\nadmin_sources=[\"10.3.3.3\"]";
        let ctx = Context::new(Site::parse(text, Path::new("s.toml")).unwrap());
        let t = |s: &str| ctx.trust(s.parse().unwrap());
        assert_eq!((t("10.1.0.1"), t("10.7.0.1"), t("10.2.0.1"), t("10.5.0.1"), t("8.8.8.8")), (3, 1, 1, 2, 0));
        assert!(ctx.zone("10.7.0.1".parse().unwrap()).unwrap().is_test());
        assert!(ctx.is_admin_source("10.9.1.1".parse().unwrap()));
        assert!(ctx.is_admin_source("10.3.3.3".parse().unwrap()));
        assert!(!ctx.is_admin_source("10.3.3.4".parse().unwrap()));
        assert!(ctx.is_critical("10.1.2.3".parse().unwrap()));
        assert!(Site::parse("[[site.zone]]\nname=\"x\"\ntrust=7", Path::new("s.toml")).is_err());
    }
}
