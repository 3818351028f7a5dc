//! The asset inventory: what Vigil learns passively from traffic ([`Inventory::observe`]) merged
//! with a CMDB export ([`read_cmdb_csv`]), plus the history of who talked to whom on which port
//! ([`EdgeHistory`]). Both are serde-serialisable so the store can keep them between runs, and
//! both are bounded: a flood of spoofed addresses fills them to a cap and is then counted, not
//! stored.
//!
//! Everything here that comes from traffic (names, banners, user agents) is attacker-controlled
//! text: it is truncated, control characters are dropped, and it is never interpreted.

use crate::EnrichError;
use crate::nets::NetIndex;
use chrono::NaiveDate;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;
use vigil_model::{Conn, PROTO_TCP, PROTO_UDP, Timestamp};

/// Caps per asset, so one chatty or hostile host cannot grow its record without bound.
const MAX_NAMES: usize = 16;
const MAX_SERVICES: usize = 64;
const MAX_HINTS: usize = 8;
const MAX_MACS: usize = 4;
const MAX_TEXT: usize = 128;

/// One row of the CMDB export.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CmdbRecord {
    pub ip: Option<IpAddr>,
    pub name: Option<String>,
    pub owner: Option<String>,
    pub role: Option<String>,
    /// "production", "test", "development", ...
    pub environment: Option<String>,
    /// The date after which the device should no longer be on the network.
    pub decommission: Option<NaiveDate>,
    pub privileged: bool,
}

impl CmdbRecord {
    /// Test, development, lab or staging equipment.
    pub fn is_test(&self) -> bool {
        self.environment.as_deref().is_some_and(|e| {
            e.to_ascii_lowercase()
                .split(|c: char| !c.is_ascii_alphabetic())
                .any(|t| matches!(t, "test" | "testing" | "dev" | "development" | "lab" | "staging" | "qa" | "uat" | "sandbox" | "poc"))
        })
    }

    /// Whether the device was due to be gone at `ts`.
    pub fn is_decommissioned_at(&self, ts: Timestamp) -> bool {
        self.decommission.is_some_and(|d| ts.to_utc().date_naive() > d)
    }
}

/// Where a name for an asset was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    Cmdb,
    Dns,
    DnsPtr,
    TlsSni,
    TlsCert,
    HttpHost,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenName {
    pub name: String,
    pub source: NameSource,
}

/// A service the asset offers: a responder port on which sessions were established.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceSeen {
    /// "tcp" or "udp".
    pub proto: String,
    pub port: u16,
    /// Zeek-style application protocol, when detected ("ssl", "ssh", "http", ...).
    pub app: Option<String>,
    pub sessions: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

/// One host as the network shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    pub ip: IpAddr,
    /// MAC addresses seen as this address's source ("aa:bb:cc:dd:ee:ff").
    #[serde(default)]
    pub macs: Vec<String>,
    #[serde(default)]
    pub names: Vec<SeenName>,
    #[serde(default)]
    pub services: Vec<ServiceSeen>,
    /// Operating-system hints ("Windows", "Ubuntu", "OpenSSH_8.9p1", ...).
    #[serde(default)]
    pub os_hints: Vec<String>,
    /// Device-type hints ("printer", "camera", "domain-controller", ...).
    #[serde(default)]
    pub device_hints: Vec<String>,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    /// The last session this host started that was more than background chatter (DHCP, mDNS,
    /// NetBIOS name service, SSDP, LLMNR, ICMPv6 neighbour discovery).
    pub last_initiated: Option<Timestamp>,
    /// Sessions started (meaningful ones) / background chatter / sessions served.
    #[serde(default)]
    pub initiated: u64,
    #[serde(default)]
    pub background: u64,
    #[serde(default)]
    pub served: u64,
    /// Sessions started per hour of day, UTC (the site's zone may change; UTC does not).
    #[serde(default)]
    pub hours_utc: [u32; 24],
    pub cmdb: Option<CmdbRecord>,
}

impl Asset {
    pub fn new(ip: IpAddr) -> Asset {
        Asset {
            ip,
            macs: Vec::new(),
            names: Vec::new(),
            services: Vec::new(),
            os_hints: Vec::new(),
            device_hints: Vec::new(),
            first_seen: None,
            last_seen: None,
            last_initiated: None,
            initiated: 0,
            background: 0,
            served: 0,
            hours_utc: [0; 24],
            cmdb: None,
        }
    }

    /// The best name: the CMDB's, else the first one seen.
    pub fn name(&self) -> Option<&str> {
        self.cmdb.as_ref().and_then(|c| c.name.as_deref()).or_else(|| self.names.first().map(|n| n.name.as_str()))
    }

    /// Seen on the network (not only listed in the CMDB).
    pub fn is_observed(&self) -> bool {
        self.first_seen.is_some()
    }

    pub fn has_device_hint(&self, hint: &str) -> bool {
        self.device_hints.iter().any(|h| h == hint)
    }

    fn touch(&mut self, ts: Timestamp, end: Timestamp) {
        self.first_seen = Some(self.first_seen.map_or(ts, |f| f.min(ts)));
        self.last_seen = Some(self.last_seen.map_or(end, |l| l.max(end)));
    }

    fn add_name(&mut self, name: &str, source: NameSource) {
        let Some(name) = clean_name(name) else { return };
        if self.names.iter().any(|n| n.name == name) || self.names.len() >= MAX_NAMES {
            return;
        }
        self.names.push(SeenName { name, source });
    }
}

fn push_hint(v: &mut Vec<String>, h: &str) {
    let h = clean_text(h);
    if !h.is_empty() && v.len() < MAX_HINTS && !v.contains(&h) {
        v.push(h);
    }
}

/// Printable text, bounded: control characters dropped, at most [`MAX_TEXT`] characters.
pub fn clean_text(s: &str) -> String {
    s.chars().filter(|c| !is_invisible(*c)).take(MAX_TEXT).collect::<String>().trim().to_string()
}

/// Control characters and the invisible formatting ones that can disguise text on a terminal
/// or in a spreadsheet (zero-width, bidirectional overrides, byte-order mark).
pub fn is_invisible(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// A DNS-like host name, lower case without the trailing dot; None for anything that is not
/// one (addresses, wildcards, empty, too long, odd characters).
fn clean_name(s: &str) -> Option<String> {
    let n = s.trim().trim_end_matches('.').to_ascii_lowercase();
    let n = n.split(':').next().unwrap_or("").to_string();
    if n.is_empty() || n.len() > 253 || n.parse::<IpAddr>().is_ok() {
        return None;
    }
    n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_').then_some(n)
}

/// Ports whose traffic is background chatter that even an idle device produces.
pub fn is_background(c: &Conn) -> bool {
    match c.proto {
        PROTO_UDP => matches!(c.resp_p, 67 | 68 | 137 | 138 | 1900 | 5353 | 5355 | 3702 | 123) || matches!(c.orig_p, 67 | 68),
        // ICMPv6 neighbour/router discovery and ICMP in general carry no session.
        1 | 58 => true,
        _ => false,
    }
}

/// Whether the responder answered (for UDP/ICMP, whether any packet came back).
pub fn responded(c: &Conn) -> bool {
    if c.proto == PROTO_TCP {
        c.conn_state.established() || (c.history.is_empty() && c.resp_pkts > 0 && c.orig_pkts > 0)
    } else {
        c.resp_pkts > 0 || c.resp_bytes() > 0
    }
}

fn mac_string(m: [u8; 6]) -> Option<String> {
    // Broadcast, multicast and all-zero addresses say nothing about the host.
    if m == [0; 6] || m[0] & 1 == 1 {
        return None;
    }
    Some(m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"))
}

/// Operating system named by an SSH banner or HTTP header.
fn os_from_text(s: &str) -> Option<&'static str> {
    let l = s.to_ascii_lowercase();
    const MAP: [(&str, &str); 16] = [
        ("windows", "Windows"),
        ("win64", "Windows"),
        ("android", "Android"),
        ("iphone", "iOS"),
        ("ipad", "iOS"),
        ("mac os x", "macOS"),
        ("macintosh", "macOS"),
        ("ubuntu", "Ubuntu"),
        ("debian", "Debian"),
        ("raspbian", "Raspbian"),
        ("freebsd", "FreeBSD"),
        ("centos", "CentOS"),
        ("red hat", "Red Hat"),
        ("fedora", "Fedora"),
        ("cros", "ChromeOS"),
        ("linux", "Linux"),
    ];
    MAP.iter().find(|(k, _)| l.contains(k)).map(|(_, v)| *v)
}

/// Device type from a service offered.
fn device_from_port(proto: u8, port: u16) -> Option<&'static str> {
    match (proto, port) {
        (PROTO_TCP, 9100 | 515 | 631) => Some("printer"),
        (PROTO_TCP, 554) | (PROTO_TCP, 37777) => Some("camera"),
        (PROTO_TCP, 502 | 102 | 20000 | 44818 | 2404) => Some("ics"),
        (PROTO_TCP, 88) | (PROTO_TCP, 389) | (PROTO_TCP, 636) | (PROTO_TCP, 3268) => Some("domain-controller"),
        (PROTO_TCP, 3389) => Some("windows-rdp"),
        (PROTO_UDP, 5060) | (PROTO_TCP, 5060) => Some("voip"),
        (PROTO_UDP, 53) | (PROTO_TCP, 53) => Some("dns-server"),
        (PROTO_UDP, 161) => Some("snmp-agent"),
        _ => None,
    }
}

/// Device type from an HTTP server or SSH banner (embedded devices name themselves).
fn device_from_text(s: &str) -> Option<&'static str> {
    let l = s.to_ascii_lowercase();
    const MAP: [(&str, &str); 9] = [
        ("printer", "printer"),
        ("jetdirect", "printer"),
        ("hp http server", "printer"),
        ("ipcam", "camera"),
        ("hikvision", "camera"),
        ("dropbear", "embedded"),
        ("mikrotik", "router"),
        ("fortigate", "firewall"),
        ("routeros", "router"),
    ];
    MAP.iter().find(|(k, _)| l.contains(k)).map(|(_, v)| *v)
}

/// Assets by address, with the site's internal networks deciding which addresses are tracked.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "InventoryRepr", into = "InventoryRepr")]
pub struct Inventory {
    assets: BTreeMap<IpAddr, Asset>,
    internal: Vec<IpNet>,
    /// Lookup index of `internal` (every record is asked about twice).
    internal_index: NetIndex<()>,
    max_assets: usize,
    /// Observations refused because the cap was reached.
    pub dropped: u64,
    /// CMDB records loaded (0: no CMDB, so "absent from the inventory" means nothing).
    pub cmdb_records: usize,
}

#[derive(Serialize, Deserialize)]
struct InventoryRepr {
    #[serde(default)]
    internal: Vec<IpNet>,
    #[serde(default)]
    max_assets: Option<usize>,
    #[serde(default)]
    dropped: u64,
    #[serde(default)]
    cmdb_records: usize,
    #[serde(default)]
    assets: Vec<Asset>,
}

impl From<InventoryRepr> for Inventory {
    fn from(r: InventoryRepr) -> Self {
        let mut inv = Inventory::with_internal(r.internal);
        inv.max_assets = r.max_assets.unwrap_or(DEFAULT_MAX_ASSETS);
        inv.dropped = r.dropped;
        inv.cmdb_records = r.cmdb_records;
        inv.assets = r.assets.into_iter().map(|a| (a.ip, a)).collect();
        inv
    }
}

impl From<Inventory> for InventoryRepr {
    fn from(i: Inventory) -> Self {
        InventoryRepr {
            internal: i.internal,
            max_assets: Some(i.max_assets),
            dropped: i.dropped,
            cmdb_records: i.cmdb_records,
            assets: i.assets.into_values().collect(),
        }
    }
}

const DEFAULT_MAX_ASSETS: usize = 1_000_000;

impl Default for Inventory {
    fn default() -> Self {
        Inventory::for_site(&crate::Site::default())
    }
}

impl Inventory {
    /// Tracks the site's internal addresses.
    pub fn for_site(site: &crate::Site) -> Inventory {
        Inventory::with_internal(site.internal.clone())
    }

    pub fn with_internal(internal: Vec<IpNet>) -> Inventory {
        let internal_index = NetIndex::new(internal.iter().map(|n| (*n, ())));
        Inventory { assets: BTreeMap::new(), internal, internal_index, max_assets: DEFAULT_MAX_ASSETS, dropped: 0, cmdb_records: 0 }
    }

    /// Caps the number of assets (default one million).
    pub fn with_max_assets(mut self, n: usize) -> Self {
        self.max_assets = n;
        self
    }

    pub fn get(&self, ip: IpAddr) -> Option<&Asset> {
        self.assets.get(&ip)
    }

    pub fn assets(&self) -> impl Iterator<Item = &Asset> {
        self.assets.values()
    }

    pub fn len(&self) -> usize {
        self.assets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// Whether a CMDB was loaded (so absence from it means something).
    pub fn has_cmdb(&self) -> bool {
        self.cmdb_records > 0
    }

    pub fn cmdb(&self, ip: IpAddr) -> Option<&CmdbRecord> {
        self.assets.get(&ip).and_then(|a| a.cmdb.as_ref())
    }

    fn tracks(&self, ip: IpAddr) -> bool {
        self.internal_index.contains(ip)
    }

    fn entry(&mut self, ip: IpAddr) -> Option<&mut Asset> {
        if !self.assets.contains_key(&ip) && self.assets.len() >= self.max_assets {
            self.dropped += 1;
            return None;
        }
        Some(self.assets.entry(ip).or_insert_with(|| Asset::new(ip)))
    }

    /// Merges CMDB rows: each row's asset gets the record (a later row for the same address
    /// replaces an earlier one). Rows without an address are kept only as a count.
    pub fn import_cmdb(&mut self, rows: Vec<CmdbRecord>) {
        for r in rows {
            self.cmdb_records += 1;
            let Some(ip) = r.ip else { continue };
            if let Some(a) = self.entry(ip) {
                if let Some(n) = r.name.as_deref().and_then(clean_name)
                    && !a.names.iter().any(|x| x.name == n)
                {
                    a.names.insert(0, SeenName { name: n, source: NameSource::Cmdb });
                    a.names.truncate(MAX_NAMES);
                }
                a.cmdb = Some(r);
            }
        }
    }

    /// Learns from one connection: both internal ends become assets; the originator's MAC,
    /// hours and user agent, the responder's services, names and banners.
    pub fn observe(&mut self, c: &Conn) {
        let (ts, end) = (c.ts, c.end());
        let answered = responded(c);
        if self.tracks(c.orig_h) {
            let bg = is_background(c);
            if let Some(a) = self.entry(c.orig_h) {
                a.touch(ts, end);
                if bg {
                    a.background += 1;
                } else {
                    a.initiated += 1;
                    a.last_initiated = Some(a.last_initiated.map_or(ts, |l| l.max(ts)));
                    let h = usize::try_from(ts.secs().rem_euclid(86_400) / 3600).unwrap_or(0);
                    if let Some(slot) = a.hours_utc.get_mut(h) {
                        *slot = slot.saturating_add(1);
                    }
                }
                if let Some(m) = c.orig_l2_addr.and_then(mac_string)
                    && !a.macs.contains(&m)
                    && a.macs.len() < MAX_MACS
                {
                    a.macs.push(m);
                }
                for h in &c.app.http {
                    if let Some(os) = h.user_agent.as_deref().and_then(os_from_text) {
                        push_hint(&mut a.os_hints, os);
                    }
                }
                if let Some(os) = c.app.ssh.as_ref().and_then(|s| s.client.as_deref()).and_then(os_from_text) {
                    push_hint(&mut a.os_hints, os);
                }
            }
        }
        if self.tracks(c.resp_h)
            && answered
            && let Some(a) = self.entry(c.resp_h)
        {
            a.touch(ts, end);
            a.served += 1;
            if c.proto == PROTO_TCP || c.proto == PROTO_UDP {
                let proto = if c.proto == PROTO_TCP { "tcp" } else { "udp" };
                // Ephemeral-port "services" on UDP are mostly replies; keep well-known ones.
                let keep = c.proto == PROTO_TCP || c.resp_p < 49152;
                if let Some(s) = a.services.iter_mut().find(|s| s.proto == proto && s.port == c.resp_p) {
                    s.sessions += 1;
                    s.first_seen = s.first_seen.min(ts);
                    s.last_seen = s.last_seen.max(end);
                    if s.app.is_none() {
                        s.app = c.service.as_deref().map(clean_text);
                    }
                } else if keep && a.services.len() < MAX_SERVICES {
                    a.services.push(ServiceSeen {
                        proto: proto.into(),
                        port: c.resp_p,
                        app: c.service.as_deref().map(clean_text),
                        sessions: 1,
                        first_seen: ts,
                        last_seen: end,
                    });
                }
                if let Some(d) = device_from_port(c.proto, c.resp_p) {
                    push_hint(&mut a.device_hints, d);
                }
            }
            if let Some(t) = &c.app.tls {
                if let Some(sni) = t.server_name.as_deref() {
                    a.add_name(sni, NameSource::TlsSni);
                }
                if let Some(cert) = &t.cert {
                    for n in &cert.san_dns {
                        a.add_name(n, NameSource::TlsCert);
                    }
                    if let Some(cn) = cert.subject.split(',').find_map(|p| p.trim().strip_prefix("CN=")) {
                        a.add_name(cn, NameSource::TlsCert);
                    }
                }
            }
            for h in &c.app.http {
                if let Some(host) = h.host.as_deref() {
                    a.add_name(host, NameSource::HttpHost);
                }
                if let Some(srv) = h.server.as_deref() {
                    if let Some(os) = os_from_text(srv) {
                        push_hint(&mut a.os_hints, os);
                    }
                    if let Some(d) = device_from_text(srv) {
                        push_hint(&mut a.device_hints, d);
                    }
                }
            }
            if let Some(server) = c.app.ssh.as_ref().and_then(|s| s.server.as_deref()) {
                push_hint(&mut a.os_hints, server.split_whitespace().next().unwrap_or(server));
                if let Some(os) = os_from_text(server) {
                    push_hint(&mut a.os_hints, os);
                }
                if let Some(d) = device_from_text(server) {
                    push_hint(&mut a.device_hints, d);
                }
            }
        }
        // DNS answers name the addresses they carry, wherever the resolver sits.
        for d in &c.app.dns {
            let Some(q) = d.query.as_deref() else { continue };
            if let Some(ip) = ptr_address(q) {
                if self.tracks(ip)
                    && let Some(name) = d.answers.first()
                    && let Some(a) = self.entry(ip)
                {
                    a.add_name(name, NameSource::DnsPtr);
                }
                continue;
            }
            for ans in d.answers.iter().take(32) {
                let Ok(ip) = ans.trim().parse::<IpAddr>() else { continue };
                if self.tracks(ip)
                    && let Some(a) = self.entry(ip)
                {
                    a.add_name(q, NameSource::Dns);
                }
            }
        }
    }
}

/// The address a reverse-lookup name stands for ("4.3.2.10.in-addr.arpa" → 10.2.3.4).
fn ptr_address(q: &str) -> Option<IpAddr> {
    let q = q.trim_end_matches('.').to_ascii_lowercase();
    if let Some(v4) = q.strip_suffix(".in-addr.arpa") {
        let mut parts: Vec<&str> = v4.split('.').collect();
        if parts.len() != 4 {
            return None;
        }
        parts.reverse();
        return parts.join(".").parse().ok();
    }
    let v6 = q.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<&str> = v6.split('.').collect();
    if nibbles.len() != 32 || !nibbles.iter().all(|n| n.len() == 1) {
        return None;
    }
    let hex: String = nibbles.iter().rev().copied().collect();
    let v = u128::from_str_radix(&hex, 16).ok()?;
    Some(IpAddr::V6(v.into()))
}

/// Reads a CMDB export. The first row names the columns (any order, case-insensitive):
/// `ip` (or `address`, `ip_address`), `name` (`hostname`), `owner`, `role`, `environment`
/// (`env`), `decommission` (`decommission_date`, `decommissioned`), `privileged`. Unknown
/// columns are ignored; rows whose address or date does not parse are kept with that field
/// empty and counted in the second value.
pub fn read_cmdb_csv<R: Read>(r: R, path: &Path) -> Result<(Vec<CmdbRecord>, u64), EnrichError> {
    let err = |msg: String| EnrichError::Inventory { path: path.to_path_buf(), msg };
    let mut rd = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(r);
    let headers = rd.headers().map_err(|e| err(e.to_string()))?.clone();
    let col = |names: &[&str]| {
        headers.iter().position(|h| {
            let h = h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase().replace([' ', '-'], "_");
            names.contains(&h.as_str())
        })
    };
    let c_ip = col(&["ip", "address", "ip_address", "ipaddress", "ipv4", "ip_addr"])
        .ok_or_else(|| err("no ip column in the header row".into()))?;
    let c_name = col(&["name", "hostname", "host", "fqdn", "device"]);
    let c_owner = col(&["owner", "contact", "responsible"]);
    let c_role = col(&["role", "function", "type"]);
    let c_env = col(&["environment", "env", "stage"]);
    let c_dec = col(&["decommission", "decommission_date", "decommissioned", "retire", "retired", "end_of_life"]);
    let c_priv = col(&["privileged", "priv", "admin"]);
    let mut rows = Vec::new();
    let mut bad = 0u64;
    for rec in rd.records() {
        let Ok(rec) = rec else {
            bad += 1;
            continue;
        };
        let get = |c: Option<usize>| c.and_then(|i| rec.get(i)).map(clean_text).filter(|s| !s.is_empty());
        let ip_text = get(Some(c_ip));
        let ip = ip_text.as_deref().and_then(|s| s.parse::<IpAddr>().ok());
        let dec_text = get(c_dec);
        let decommission = dec_text.as_deref().and_then(parse_date);
        if (ip_text.is_some() && ip.is_none()) || (dec_text.is_some() && decommission.is_none()) {
            bad += 1;
        }
        let privileged =
            get(c_priv).is_some_and(|p| matches!(p.to_ascii_lowercase().as_str(), "true" | "yes" | "y" | "1" | "x" | "privileged"));
        rows.push(CmdbRecord {
            ip,
            name: get(c_name),
            owner: get(c_owner),
            role: get(c_role),
            environment: get(c_env),
            decommission,
            privileged,
        });
        if rows.len() >= DEFAULT_MAX_ASSETS {
            break;
        }
    }
    Ok((rows, bad))
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    // ISO dates, also as the date part of an ISO timestamp ("2024-03-01T00:00:00Z").
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .or_else(|| NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok())
        .or_else(|| NaiveDate::parse_from_str(s, "%Y/%m/%d").ok())
        .or_else(|| NaiveDate::parse_from_str(s, "%d.%m.%Y").ok())
}

/// Loads a CMDB file into `inv`; returns how many rows had unusable fields.
pub fn load_cmdb_file(inv: &mut Inventory, path: &Path) -> Result<u64, EnrichError> {
    let f = std::fs::File::open(path).map_err(|source| EnrichError::Io { path: path.to_path_buf(), source })?;
    let (rows, bad) = read_cmdb_csv(std::io::BufReader::new(f), path)?;
    inv.import_cmdb(rows);
    Ok(bad)
}

/// How often one (source, destination, port) edge was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeStat {
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub count: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct EdgeRecord {
    src: IpAddr,
    dst: IpAddr,
    port: u16,
    #[serde(flatten)]
    stat: EdgeStat,
}

/// Who started sessions to whom on which TCP port, over past runs: lets detectors say "this
/// edge was never seen before". Empty history means "unknown", not "everything is new".
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "EdgeHistoryRepr", into = "EdgeHistoryRepr")]
pub struct EdgeHistory {
    edges: HashMap<(IpAddr, IpAddr, u16), EdgeStat>,
    span: Option<(Timestamp, Timestamp)>,
    max_edges: usize,
    pub dropped: u64,
}

#[derive(Serialize, Deserialize)]
struct EdgeHistoryRepr {
    #[serde(default)]
    span: Option<(Timestamp, Timestamp)>,
    #[serde(default)]
    max_edges: Option<usize>,
    #[serde(default)]
    dropped: u64,
    #[serde(default)]
    edges: Vec<EdgeRecord>,
}

impl From<EdgeHistoryRepr> for EdgeHistory {
    fn from(r: EdgeHistoryRepr) -> Self {
        EdgeHistory {
            edges: r.edges.into_iter().map(|e| ((e.src, e.dst, e.port), e.stat)).collect(),
            span: r.span,
            max_edges: r.max_edges.unwrap_or(DEFAULT_MAX_EDGES),
            dropped: r.dropped,
        }
    }
}

impl From<EdgeHistory> for EdgeHistoryRepr {
    fn from(h: EdgeHistory) -> Self {
        let mut edges: Vec<EdgeRecord> = h.edges.into_iter().map(|((src, dst, port), stat)| EdgeRecord { src, dst, port, stat }).collect();
        edges.sort_by_key(|e| (e.src, e.dst, e.port));
        EdgeHistoryRepr { span: h.span, max_edges: Some(h.max_edges), dropped: h.dropped, edges }
    }
}

const DEFAULT_MAX_EDGES: usize = 2_000_000;

impl Default for EdgeHistory {
    fn default() -> Self {
        EdgeHistory { edges: HashMap::new(), span: None, max_edges: DEFAULT_MAX_EDGES, dropped: 0 }
    }
}

impl EdgeHistory {
    /// Records a TCP session attempt (anything else carries no admin edge).
    pub fn observe(&mut self, c: &Conn) {
        if c.proto != PROTO_TCP {
            return;
        }
        self.span = Some(match self.span {
            Some((a, b)) => (a.min(c.ts), b.max(c.ts)),
            None => (c.ts, c.ts),
        });
        self.record(c.orig_h, c.resp_h, c.resp_p, c.ts);
    }

    pub fn record(&mut self, src: IpAddr, dst: IpAddr, port: u16, ts: Timestamp) {
        let key = (src, dst, port);
        if let Some(s) = self.edges.get_mut(&key) {
            s.first_seen = s.first_seen.min(ts);
            s.last_seen = s.last_seen.max(ts);
            s.count = s.count.saturating_add(1);
        } else if self.edges.len() < self.max_edges {
            self.edges.insert(key, EdgeStat { first_seen: ts, last_seen: ts, count: 1 });
        } else {
            self.dropped += 1;
        }
    }

    pub fn get(&self, src: IpAddr, dst: IpAddr, port: u16) -> Option<&EdgeStat> {
        self.edges.get(&(src, dst, port))
    }

    /// Whether `src` ever started a session to `dst` on any port.
    pub fn knows_pair(&self, src: IpAddr, dst: IpAddr) -> bool {
        self.edges.keys().any(|(s, d, _)| *s == src && *d == dst)
    }

    /// The time the history covers; None when there is none (so "new" cannot be judged).
    pub fn span(&self) -> Option<(Timestamp, Timestamp)> {
        self.span
    }

    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }

    pub fn len(&self) -> usize {
        self.edges.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::{CertMeta, ConnState, DnsTxn, HttpTxn, SshMeta, TlsMeta};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn conn(t: i64, o: &str, r: &str, p: u16) -> Conn {
        let mut c = Conn::new(Timestamp::from_secs(t), ip(o), 50000, ip(r), p, PROTO_TCP);
        c.conn_state = ConnState::SF;
        c.duration = Some(2.0);
        c
    }

    #[test]
    fn passive_discovery_learns_names_services_hints_and_hours() {
        let mut inv = Inventory::default();
        let mut web = conn(1_700_000_000, "10.0.0.5", "10.0.0.9", 443);
        web.orig_l2_addr = Some([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
        web.service = Some("ssl".into());
        web.app.tls = Some(Box::new(TlsMeta {
            server_name: Some("intranet.corp.example".into()),
            cert: Some(CertMeta {
                subject: "CN=intranet.corp.example,O=Corp".into(),
                san_dns: vec!["wiki.corp.example".into(), "*.bad\u{0}".into()],
                ..Default::default()
            }),
            ..Default::default()
        }));
        inv.observe(&web);
        let mut http = conn(1_700_000_100, "10.0.0.5", "10.0.0.7", 80);
        http.app.http.push(HttpTxn {
            host: Some("printer1.corp.example".into()),
            user_agent: Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64)".into()),
            server: Some("HP HTTP Server; HP LaserJet".into()),
            ..Default::default()
        });
        inv.observe(&http);
        let mut ssh = conn(1_700_000_200, "10.0.0.5", "10.0.0.8", 22);
        ssh.app.ssh = Some(Box::new(SshMeta { server: Some("SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.1".into()), ..Default::default() }));
        inv.observe(&ssh);
        let mut dns = Conn::new(Timestamp::from_secs(1_700_000_300), ip("10.0.0.5"), 5353, ip("10.0.0.53"), 53, PROTO_UDP);
        dns.resp_pkts = 1;
        dns.app.dns.push(DnsTxn {
            query: Some("fileserver.corp.example".into()),
            answers: vec!["10.0.0.20".into(), "8.8.8.8".into()],
            ..Default::default()
        });
        dns.app.dns.push(DnsTxn {
            query: Some("21.0.0.10.in-addr.arpa".into()),
            answers: vec!["backup.corp.example".into()],
            ..Default::default()
        });
        inv.observe(&dns);
        let mut refused = conn(1_700_000_400, "10.0.0.5", "10.0.0.30", 3389);
        refused.conn_state = ConnState::REJ;
        inv.observe(&refused);
        inv.observe(&conn(1_700_000_500, "10.0.0.5", "93.184.216.34", 443));

        let client = inv.get(ip("10.0.0.5")).unwrap();
        assert_eq!(client.macs, vec!["00:11:22:33:44:55"]);
        assert_eq!(client.os_hints, vec!["Windows"]);
        assert_eq!(client.initiated, 6);
        assert_eq!(client.hours_utc[22], 6, "1700000000 is 22:13 UTC");
        let server = inv.get(ip("10.0.0.9")).unwrap();
        let names: Vec<&str> = server.names.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, vec!["intranet.corp.example", "wiki.corp.example"], "junk SAN dropped, duplicates merged");
        assert_eq!(server.services.len(), 1);
        assert_eq!((server.services[0].port, server.services[0].app.as_deref()), (443, Some("ssl")));
        let printer = inv.get(ip("10.0.0.7")).unwrap();
        assert!(printer.has_device_hint("printer"));
        assert_eq!(printer.name(), Some("printer1.corp.example"));
        assert!(inv.get(ip("10.0.0.8")).unwrap().os_hints.contains(&"Ubuntu".to_string()));
        assert_eq!(inv.get(ip("10.0.0.20")).unwrap().name(), Some("fileserver.corp.example"));
        assert_eq!(inv.get(ip("10.0.0.21")).unwrap().names[0].source, NameSource::DnsPtr);
        assert!(inv.get(ip("8.8.8.8")).is_none() && inv.get(ip("93.184.216.34")).is_none(), "external hosts are not assets");
        assert!(inv.get(ip("10.0.0.30")).is_none(), "a refused port is not a service");
    }

    #[test]
    fn background_chatter_does_not_count_as_initiating() {
        let mut inv = Inventory::default();
        let mut dhcp = Conn::new(Timestamp::from_secs(100), ip("192.168.1.50"), 68, ip("192.168.1.1"), 67, PROTO_UDP);
        dhcp.resp_pkts = 1;
        inv.observe(&dhcp);
        let a = inv.get(ip("192.168.1.50")).unwrap();
        assert_eq!((a.initiated, a.background, a.last_initiated), (0, 1, None));
        inv.observe(&conn(200, "192.168.1.50", "192.168.1.2", 445));
        assert_eq!(inv.get(ip("192.168.1.50")).unwrap().last_initiated, Some(Timestamp::from_secs(200)));
    }

    #[test]
    fn cmdb_csv_reads_any_column_order_and_flags_bad_values() {
        let text = "Hostname,IP Address,Environment,Decommission Date,Privileged,Owner,Extra\n\
                    db1,10.20.1.5,production,,no,dba team,x\n\
                    testbox,10.30.0.7,Test,2023-06-30,yes,qa,\n\
                    ghost,not-an-ip,production,31/31/2020,,,\n";
        let (rows, bad) = read_cmdb_csv(text.as_bytes(), Path::new("a.csv")).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(bad, 1);
        assert_eq!(rows[1].ip, Some(ip("10.30.0.7")));
        assert!(rows[1].is_test() && rows[1].privileged);
        assert!(!rows[0].is_test() && !rows[0].privileged);
        assert!(rows[1].is_decommissioned_at(Timestamp::from_secs(1_700_000_000)));
        assert!(!rows[1].is_decommissioned_at(Timestamp::from_secs(1_600_000_000)));
        assert_eq!(rows[2].ip, None);
        let mut inv = Inventory::default();
        inv.import_cmdb(rows);
        assert!(inv.has_cmdb());
        assert_eq!(inv.get(ip("10.20.1.5")).unwrap().name(), Some("db1"));
        assert!(!inv.get(ip("10.20.1.5")).unwrap().is_observed());
        assert!(read_cmdb_csv("name,owner\nx,y\n".as_bytes(), Path::new("b.csv")).is_err(), "an ip column is required");
    }

    #[test]
    fn inventory_and_history_round_trip_through_json_and_stay_bounded() {
        let mut inv = Inventory::default().with_max_assets(2);
        let mut hist = EdgeHistory::default();
        for i in 1..=5 {
            let c = conn(1000 + i, &format!("10.0.0.{i}"), "10.0.0.100", 22);
            inv.observe(&c);
            hist.observe(&c);
        }
        hist.observe(&conn(5000, "10.0.0.1", "10.0.0.100", 22));
        assert_eq!(inv.len(), 2);
        assert!(inv.dropped > 0);
        let json = serde_json::to_string(&inv).unwrap();
        let back: Inventory = serde_json::from_str(&json).unwrap();
        assert_eq!(back.assets().collect::<Vec<_>>(), inv.assets().collect::<Vec<_>>());
        let e = hist.get(ip("10.0.0.1"), ip("10.0.0.100"), 22).unwrap();
        assert_eq!((e.count, e.first_seen, e.last_seen), (2, Timestamp::from_secs(1001), Timestamp::from_secs(5000)));
        let back: EdgeHistory = serde_json::from_str(&serde_json::to_string(&hist).unwrap()).unwrap();
        assert_eq!(back.get(ip("10.0.0.1"), ip("10.0.0.100"), 22), Some(e));
        assert_eq!(back.span(), Some((Timestamp::from_secs(1001), Timestamp::from_secs(5000))));
        assert!(back.knows_pair(ip("10.0.0.3"), ip("10.0.0.100")));
        assert!(!back.knows_pair(ip("10.0.0.100"), ip("10.0.0.3")));
    }

    #[test]
    fn ptr_names_parse_for_both_families() {
        assert_eq!(ptr_address("4.3.2.10.in-addr.arpa."), Some(ip("10.2.3.4")));
        assert_eq!(ptr_address("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa"), Some(ip("fd00::1")));
        assert_eq!(ptr_address("x.in-addr.arpa"), None);
        assert_eq!(ptr_address("1.2.3.4.5.in-addr.arpa"), None);
    }
}
