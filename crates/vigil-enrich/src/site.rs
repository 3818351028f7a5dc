//! The site file (`shared/CONTRACT.md`): one serde tree, unknown keys refused, every key optional.

use crate::nets::NetIndex;
use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("cannot read site file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("site file {path}: {msg}")]
    Invalid { path: PathBuf, msg: String },
}

/// The file as written: every key optional.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteFile {
    #[serde(default)]
    pub site: SiteSection,
    #[serde(default)]
    pub geoip: GeoipSection,
    #[serde(default)]
    pub inventory: InventorySection,
    #[serde(default)]
    pub allow: AllowSection,
    /// Phishing triage settings for `vigil mail scan` (own and partner domains, trusted
    /// receiving servers, staff directory…); read and validated by vigil-mail.
    #[serde(default)]
    pub mail: Option<toml::Table>,
    /// Alert outputs of `vigil watch`, one `[[alert]]` table each (`type = "jsonl" | "syslog" |
    /// "webhook" | "stdout"`); read and validated by vigil-alert.
    #[serde(default)]
    pub alert: Vec<toml::Table>,
    /// Indicator files for `ioc_match` (`files = ["iocs.csv", "feed.json"]`, relative to the
    /// site file); read by `vigil hunt`.
    #[serde(default)]
    pub ioc: Option<toml::Table>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSection {
    /// Display name of the institution.
    pub name: Option<String>,
    /// ISO 3166-1 alpha-2 codes; traffic elsewhere is "foreign".
    #[serde(default)]
    pub home_countries: Vec<String>,
    /// Internal networks; RFC 1918/4193 space when absent.
    #[serde(default)]
    pub internal: Vec<String>,
    /// IANA time zone in which off-hours are judged (UTC when absent).
    pub timezone: Option<String>,
    /// "HH:MM-HH:MM" (08:30-18:00 when absent).
    pub work_hours: Option<String>,
    /// Day abbreviations (Mon–Fri when absent).
    pub work_days: Option<Vec<String>>,
    /// Network zones.
    #[serde(default, rename = "zone")]
    pub zones: Vec<ZoneSection>,
    /// Extra TCP ports that carry administration at this site (added to the built-in list:
    /// SSH, Telnet, RDP, SMB, WinRM, RPC, VNC and the common database ports).
    #[serde(default)]
    pub admin_ports: Vec<u16>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSection {
    pub name: String,
    #[serde(default)]
    pub networks: Vec<String>,
    #[serde(default)]
    pub critical: bool,
    /// Trust level 0 (internet-like) to 3 (crown jewels); derived from `critical`, `kind` and
    /// the zone's name when absent.
    pub trust: Option<u8>,
    /// What the zone is: "core", "dmz", "edge", "office", "test", "admin", "guest", "iot", ...
    /// (the zone's name is used when absent).
    pub kind: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoipSection {
    /// A MaxMind-format country database; the bundled open table is used when absent.
    pub country_db: Option<PathBuf>,
    /// A MaxMind-format ASN database.
    pub asn_db: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventorySection {
    /// CMDB export: ip, name, owner, role, environment, decommission, privileged.
    pub file: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowSection {
    /// Known-good domains (a name and all its subdomains).
    #[serde(default)]
    pub domains: Vec<String>,
    /// Known-good networks.
    #[serde(default)]
    pub networks: Vec<String>,
    /// Known-good autonomous systems (numbers, e.g. 4134).
    #[serde(default)]
    pub asns: Vec<u32>,
    /// Known-good TLS client fingerprints (JA4 strings).
    #[serde(default)]
    pub ja4: Vec<String>,
    /// Hosts or networks whose administration of other hosts is expected (jump hosts, admin
    /// workstations, backup and monitoring servers): their admin sessions score lower.
    #[serde(default)]
    pub admin_sources: Vec<String>,
}

/// A zone, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    pub name: String,
    pub networks: Vec<IpNet>,
    pub critical: bool,
    /// 0 (internet-like) ..= 3 (critical), see [`Zone::trust`].
    pub trust: u8,
    /// Lower-case kind ("test", "edge", "core", ...), the name when the file gives none.
    pub kind: String,
}

/// Trust level of anything outside the site's internal networks.
pub const TRUST_EXTERNAL: u8 = 0;
/// Trust level of internal addresses in no zone.
pub const TRUST_DEFAULT: u8 = 2;
/// The highest trust level: critical zones.
pub const TRUST_CRITICAL: u8 = 3;

impl Zone {
    /// A zone whose trust and kind are derived from its name and criticality.
    pub fn new(name: &str, networks: Vec<IpNet>, critical: bool) -> Zone {
        let kind = name.trim().to_ascii_lowercase();
        let trust = derive_trust(&kind, critical);
        Zone { name: name.to_string(), networks, critical, trust, kind }
    }
    /// The zone's trust level (0 = internet-like, 3 = critical).
    pub fn trust(&self) -> u8 {
        self.trust
    }
    /// Test, lab, development and staging networks: where forgotten devices live.
    pub fn is_test(&self) -> bool {
        kind_matches(&self.kind, &["test", "lab", "dev", "staging", "qa", "sandbox"])
    }
    /// Internet-facing equipment: VPN concentrators, firewalls, DMZ servers.
    pub fn is_edge(&self) -> bool {
        kind_matches(&self.kind, &["edge", "dmz", "perimeter", "vpn", "border"])
    }
    /// Networks of devices that never administer anything (printers, cameras, IoT, guests).
    pub fn is_device_net(&self) -> bool {
        kind_matches(&self.kind, &["iot", "printer", "camera", "cctv", "guest", "wifi", "ot", "ics", "voip"])
    }
    /// Networks from which administration is expected (jump hosts, management).
    pub fn is_admin(&self) -> bool {
        kind_matches(&self.kind, &["admin", "mgmt", "management", "jump", "bastion", "noc", "soc"])
    }
}

/// Whether a zone kind (or name) contains one of the words as a whole token ("test-lab",
/// "dmz1" and "branch_dmz" match "dmz"-like words; "contest" does not match "test").
fn kind_matches(kind: &str, words: &[&str]) -> bool {
    kind.split(|c: char| !c.is_ascii_alphabetic()).any(|tok| words.contains(&tok))
}

fn derive_trust(kind: &str, critical: bool) -> u8 {
    if critical || kind_matches(kind, &["core", "critical", "datacenter", "database", "finance", "scada", "ics"]) {
        return TRUST_CRITICAL;
    }
    if kind_matches(
        kind,
        &[
            "edge",
            "dmz",
            "perimeter",
            "vpn",
            "border",
            "guest",
            "wifi",
            "iot",
            "test",
            "lab",
            "dev",
            "staging",
            "qa",
            "sandbox",
            "printer",
            "camera",
            "cctv",
        ],
    ) {
        return 1;
    }
    TRUST_DEFAULT
}

/// The site, resolved and validated.
#[derive(Clone, Debug)]
pub struct Site {
    pub name: String,
    pub home_countries: Vec<[u8; 2]>,
    pub internal: Vec<IpNet>,
    /// True when `internal` came from the file, false when it is the RFC 1918/4193 default.
    pub internal_configured: bool,
    pub tz: Tz,
    pub work_start: NaiveTime,
    pub work_end: NaiveTime,
    pub work_days: Vec<Weekday>,
    pub zones: Vec<Zone>,
    pub allow_domains: Vec<String>,
    pub allow_networks: Vec<IpNet>,
    /// Known-good autonomous systems.
    pub allow_asns: Vec<u32>,
    /// Known-good JA4 client fingerprints, lower case.
    pub allow_ja4: Vec<String>,
    /// Hosts expected to administer others (jump hosts, backup, monitoring).
    pub admin_sources: Vec<IpNet>,
    /// Site-specific admin ports, beyond the built-in list.
    pub admin_ports: Vec<u16>,
    /// Paths in the file, resolved against the file's own directory.
    pub country_db: Option<PathBuf>,
    pub asn_db: Option<PathBuf>,
    pub inventory_file: Option<PathBuf>,
    /// Lookup indexes of `internal`, `zones` (value: position in `zones`) and `admin_sources`,
    /// built by [`Site::resolve`]: those lists are not to be changed afterwards.
    internal_index: NetIndex<()>,
    zone_index: NetIndex<usize>,
    admin_index: NetIndex<()>,
}

const DEFAULT_INTERNAL: [&str; 5] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10"];

impl Default for Site {
    fn default() -> Self {
        Site::resolve(SiteFile::default(), Path::new(".")).expect("the default site is valid")
    }
}

impl Site {
    pub fn load(path: &Path) -> Result<Site, SiteError> {
        let text = std::fs::read_to_string(path).map_err(|source| SiteError::Read { path: path.to_path_buf(), source })?;
        Site::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Site, SiteError> {
        let file: SiteFile = toml::from_str(text).map_err(|e| SiteError::Invalid { path: path.to_path_buf(), msg: e.to_string() })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Site::resolve(file, base).map_err(|msg| SiteError::Invalid { path: path.to_path_buf(), msg })
    }

    /// Validates the file's values; relative paths are taken from `base`.
    pub fn resolve(f: SiteFile, base: &Path) -> Result<Site, String> {
        let s = f.site;
        let nets = |v: &[String], what: &str| -> Result<Vec<IpNet>, String> {
            v.iter().map(|n| parse_net(n).ok_or_else(|| format!("{what}: {n:?} is not a network (CIDR) or address"))).collect()
        };
        let internal_configured = !s.internal.is_empty();
        let internal = if internal_configured {
            nets(&s.internal, "site.internal")?
        } else {
            DEFAULT_INTERNAL.iter().map(|n| n.parse().expect("valid default")).collect()
        };
        let home_countries = s
            .home_countries
            .iter()
            .map(|c| {
                let b = c.trim().to_ascii_uppercase().into_bytes();
                if b.len() == 2 && b.iter().all(u8::is_ascii_uppercase) {
                    Ok([b[0], b[1]])
                } else {
                    Err(format!("site.home_countries: {c:?} is not an ISO 3166-1 alpha-2 code"))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tz: Tz = match &s.timezone {
            Some(t) => t.parse().map_err(|_| format!("site.timezone: {t:?} is not an IANA time zone"))?,
            None => chrono_tz::UTC,
        };
        let wh = s.work_hours.as_deref().unwrap_or("08:30-18:00");
        let (ws, we) = wh
            .split_once('-')
            .and_then(|(a, b)| {
                Some((NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?, NaiveTime::parse_from_str(b.trim(), "%H:%M").ok()?))
            })
            .ok_or_else(|| format!("site.work_hours: {wh:?} is not HH:MM-HH:MM"))?;
        let work_days = match &s.work_days {
            Some(d) => d
                .iter()
                .map(|x| x.parse::<Weekday>().map_err(|_| format!("site.work_days: {x:?} is not a day name")))
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
        };
        let mut zones = Vec::new();
        for z in &s.zones {
            if z.name.is_empty() {
                return Err("site.zone: a zone needs a name".into());
            }
            let mut zone = Zone::new(&z.name, nets(&z.networks, &format!("zone {}", z.name))?, z.critical);
            if let Some(k) = &z.kind {
                zone.kind = k.trim().to_ascii_lowercase();
                zone.trust = derive_trust(&zone.kind, z.critical);
            }
            if let Some(t) = z.trust {
                if t > TRUST_CRITICAL {
                    return Err(format!("zone {}: trust {t} is out of range 0..=3", z.name));
                }
                zone.trust = t;
            }
            zones.push(zone);
        }
        let admin_sources = nets(&f.allow.admin_sources, "allow.admin_sources")?;
        let allow_ja4 = f.allow.ja4.iter().map(|j| j.trim().to_ascii_lowercase()).collect();
        let allow_networks = nets(&f.allow.networks, "allow.networks")?;
        let allow_domains = f.allow.domains.iter().map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase()).collect();
        let rel = |p: Option<PathBuf>| p.map(|p| if p.is_absolute() { p } else { base.join(p) });
        let internal_index = NetIndex::new(internal.iter().map(|n| (*n, ())));
        let zone_index = NetIndex::new(zones.iter().enumerate().flat_map(|(i, z)| z.networks.iter().map(move |n| (*n, i))));
        let admin_index = NetIndex::new(admin_sources.iter().map(|n| (*n, ())));
        Ok(Site {
            name: s.name.unwrap_or_else(|| "unnamed site".into()),
            home_countries,
            internal,
            internal_configured,
            tz,
            work_start: ws,
            work_end: we,
            work_days,
            zones,
            allow_domains,
            allow_networks,
            allow_asns: f.allow.asns,
            allow_ja4,
            admin_sources,
            admin_ports: s.admin_ports,
            country_db: rel(f.geoip.country_db),
            asn_db: rel(f.geoip.asn_db),
            inventory_file: rel(f.inventory.file),
            internal_index,
            zone_index,
            admin_index,
        })
    }

    pub fn is_internal(&self, ip: IpAddr) -> bool {
        self.internal_index.contains(ip)
    }

    /// The index behind [`Site::is_internal`], for a matcher that must own its networks (an
    /// importer's `'static` predicate).
    pub fn internal_index(&self) -> &NetIndex<()> {
        &self.internal_index
    }

    /// The most specific zone holding `ip` (of two zones listing the same network, the one
    /// listed later).
    pub fn zone(&self, ip: IpAddr) -> Option<&Zone> {
        self.zones.get(self.zone_at(ip)?)
    }

    /// The position in `zones` of [`Site::zone`]'s answer, for callers that cache it.
    pub fn zone_at(&self, ip: IpAddr) -> Option<usize> {
        self.zone_index.get(ip)
    }

    /// Whether `name` (a DNS name) is `d` or below `d` for some allowlisted domain `d`.
    pub fn is_allowed_domain(&self, name: &str) -> bool {
        let n = name.trim_end_matches('.').to_ascii_lowercase();
        self.allow_domains
            .iter()
            .any(|d| n == *d || (n.len() > d.len() && n.ends_with(d.as_str()) && n.as_bytes()[n.len() - d.len() - 1] == b'.'))
    }

    pub fn is_allowed_ip(&self, ip: IpAddr) -> bool {
        self.allow_networks.iter().any(|n| n.contains(&ip))
    }

    pub fn is_allowed_asn(&self, asn: u32) -> bool {
        self.allow_asns.contains(&asn)
    }

    pub fn is_allowed_ja4(&self, ja4: &str) -> bool {
        let j = ja4.trim();
        self.allow_ja4.iter().any(|a| a.eq_ignore_ascii_case(j))
    }

    /// Whether `ip` is a declared admin source (jump host, backup or monitoring server).
    pub fn is_admin_source(&self, ip: IpAddr) -> bool {
        self.admin_index.contains(ip)
    }

    /// Trust level of an address: its zone's, [`TRUST_DEFAULT`] for internal addresses in no
    /// zone, [`TRUST_EXTERNAL`] outside.
    pub fn trust(&self, ip: IpAddr) -> u8 {
        match self.zone(ip) {
            Some(z) => z.trust,
            None if self.is_internal(ip) => TRUST_DEFAULT,
            None => TRUST_EXTERNAL,
        }
    }
}

/// "10.0.0.0/8" or a bare address (a host network).
pub fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>().ok().or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[site]
name = "Example Corp"
home_countries = ["CN"]
internal = ["10.0.0.0/8", "192.168.0.0/16"]
timezone = "Asia/Shanghai"
work_hours = "08:30-18:00"
work_days = ["Mon", "Tue", "Wed", "Thu", "Fri"]

[[site.zone]]
name = "core"
networks = ["10.20.1.0/24"]
critical = true

[[site.zone]]
name = "office"
networks = ["10.0.0.0/8"]

[geoip]
country_db = "geo/country.mmdb"

[inventory]
file = "assets.csv"

[allow]
domains = ["backup.example.cn"]
networks = ["203.0.113.0/24"]
"#;

    #[test]
    fn the_contract_example_parses() {
        let s = Site::parse(EXAMPLE, Path::new("/etc/vigil/site.toml")).unwrap();
        assert_eq!(s.name, "Example Corp");
        assert_eq!(s.home_countries, vec![*b"CN"]);
        assert!(s.is_internal("10.1.2.3".parse().unwrap()));
        assert!(!s.is_internal("172.16.0.1".parse().unwrap()), "internal is as configured, not the default");
        assert_eq!(s.zone("10.20.1.5".parse().unwrap()).unwrap().name, "core", "most specific zone wins");
        assert_eq!(s.zone("10.9.9.9".parse().unwrap()).unwrap().name, "office");
        assert!(s.zone("8.8.8.8".parse().unwrap()).is_none());
        assert_eq!(s.tz, chrono_tz::Asia::Shanghai);
        assert_eq!(s.country_db.as_deref(), Some(Path::new("/etc/vigil/geo/country.mmdb")));
        assert!(s.is_allowed_domain("backup.example.cn"));
        assert!(s.is_allowed_domain("a.backup.example.cn."));
        assert!(!s.is_allowed_domain("evilbackup.example.cn"));
        assert!(s.is_allowed_ip("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn mail_and_alert_tables_are_accepted_for_their_crates() {
        let text =
            "[mail]\nown_domains = [\"example.cn\"]\n\n[[alert]]\ntype = \"stdout\"\n\n[[alert]]\ntype = \"jsonl\"\npath = \"a.jsonl\"\n";
        Site::parse(text, Path::new("s.toml")).unwrap();
        let f: SiteFile = toml::from_str(text).unwrap();
        assert_eq!(f.alert.len(), 2);
        assert!(f.mail.unwrap().contains_key("own_domains"));
    }

    #[test]
    fn defaults_assume_private_space_is_internal() {
        let s = Site::default();
        assert!(!s.internal_configured);
        assert!(s.is_internal("172.20.0.1".parse().unwrap()));
        assert!(s.is_internal("fd00::1".parse().unwrap()));
        assert!(!s.is_internal("8.8.8.8".parse().unwrap()));
        assert!(s.home_countries.is_empty());
    }

    #[test]
    fn errors_name_the_bad_value() {
        for (text, needle) in [
            ("[site]\ninternal = [\"10.0.0.0/33\"]", "10.0.0.0/33"),
            ("[site]\ntimezone = \"Mars/Olympus\"", "Mars/Olympus"),
            ("[site]\nhome_countries = [\"CHN\"]", "CHN"),
            ("[site]\nwork_hours = \"9-5\"", "9-5"),
            ("[site]\nbogus = 1", "bogus"),
        ] {
            let e = Site::parse(text, Path::new("s.toml")).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should mention {needle}");
        }
    }
}
