//! The simulated institution: zones, servers, workstations, the inventory that describes them
//! (imperfectly, on purpose), and the external services they talk to.

use crate::geo;
use crate::wire::Endpoint;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

pub const DOMAIN: &str = "jhri.example.cn";
pub const BACKUP_DOMAIN: &str = "backup.example.cn";
pub const TIMEZONE: &str = "Asia/Shanghai";
/// Site local time is UTC+8 all year (Asia/Shanghai has no daylight saving).
pub const UTC_OFFSET_S: i64 = 8 * 3600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Zone {
    Edge,
    Dmz,
    Core,
    Office,
    Test,
}

impl Zone {
    pub fn name(self) -> &'static str {
        match self {
            Zone::Edge => "edge",
            Zone::Dmz => "dmz",
            Zone::Core => "core",
            Zone::Office => "office",
            Zone::Test => "test",
        }
    }
    pub fn network(self) -> &'static str {
        match self {
            Zone::Edge => "10.0.0.0/24",
            Zone::Dmz => "10.1.0.0/24",
            Zone::Core => "10.20.1.0/24",
            Zone::Office => "10.30.0.0/16",
            Zone::Test => "10.40.0.0/24",
        }
    }
    pub fn gateway(self) -> Ipv4Addr {
        match self {
            Zone::Edge => Ipv4Addr::new(10, 0, 0, 1),
            Zone::Dmz => Ipv4Addr::new(10, 1, 0, 1),
            Zone::Core => Ipv4Addr::new(10, 20, 1, 1),
            Zone::Office => Ipv4Addr::new(10, 30, 0, 1),
            Zone::Test => Ipv4Addr::new(10, 40, 0, 1),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Firewall,
    VpnGateway,
    WebServer,
    MailServer,
    OaServer,
    DomainController,
    Resolver,
    FileServer,
    DbServer,
    AppServer,
    Monitoring,
    BackupServer,
    Workstation,
    AdminWorkstation,
    TestDevice,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Firewall => "firewall",
            Role::VpnGateway => "vpn-gateway",
            Role::WebServer => "web-server",
            Role::MailServer => "mail-server",
            Role::OaServer => "oa-server",
            Role::DomainController => "domain-controller",
            Role::Resolver => "dns-resolver",
            Role::FileServer => "file-server",
            Role::DbServer => "database",
            Role::AppServer => "app-server",
            Role::Monitoring => "monitoring",
            Role::BackupServer => "backup-server",
            Role::Workstation => "workstation",
            Role::AdminWorkstation => "admin-workstation",
            Role::TestDevice => "test-device",
        }
    }
    pub fn is_server(self) -> bool {
        !matches!(self, Role::Workstation | Role::AdminWorkstation | Role::TestDevice)
    }
}

#[derive(Clone, Debug)]
pub struct Host {
    pub ip: Ipv4Addr,
    pub mac: [u8; 6],
    pub name: String,
    pub role: Role,
    pub zone: Zone,
    pub owner: String,
    pub windows: bool,
    /// Inventory: planned decommission date (YYYY-MM-DD), if any.
    pub decommission: Option<String>,
    pub privileged: bool,
    /// Whether the inventory lists the host at all.
    pub in_inventory: bool,
    pub environment: &'static str,
}

impl Host {
    pub fn ep(&self, port: u16) -> Endpoint {
        Endpoint { mac: self.mac, ip: self.ip, port, ttl: if self.windows { 128 } else { 64 } }
    }
}

/// An external party: a service or an attacker address.
#[derive(Clone, Debug)]
pub struct Ext {
    pub ip: Ipv4Addr,
    pub name: String,
    pub country: &'static str,
    pub tls13: bool,
    pub issuer: (&'static str, &'static str),
    pub rtt_us: i64,
}

/// The MAC every external address is seen behind (the core router's).
pub const ROUTER_MAC: [u8; 6] = [0x00, 0x1b, 0x54, 0x3a, 0x10, 0x01];

impl Ext {
    pub fn ep(&self, port: u16) -> Endpoint {
        // TTLs as seen after 10–20 hops from a 64- or 128-based stack.
        let ttl = 44 + (u32::from(self.ip) % 12) as u8;
        Endpoint { mac: ROUTER_MAC, ip: self.ip, port, ttl }
    }
}

/// Typical round trip to a country from eastern China, microseconds.
pub fn rtt_for(country: &str, rng: &mut ChaCha8Rng) -> i64 {
    let base = match country {
        "CN" => 18_000,
        "HK" => 35_000,
        "JP" | "KR" | "SG" => 70_000,
        "US" => 170_000,
        "RU" => 190_000,
        _ => 230_000,
    };
    base + rng.gen_range(0..base / 4)
}

fn mac_for(ip: Ipv4Addr, windows: bool) -> [u8; 6] {
    let o = ip.octets();
    // Dell and VMware OUIs, the host part from the address so MACs are stable and unique.
    let oui: [u8; 3] = if windows { [0x18, 0x66, 0xda] } else { [0x00, 0x50, 0x56] };
    [oui[0], oui[1], oui[2], o[1] ^ 0x5a, o[2], o[3]]
}

/// Well-known external services the background talks to.
#[derive(Clone, Debug)]
pub struct Services {
    pub domestic_web: Vec<Ext>,
    pub foreign_web: Vec<Ext>,
    pub foreign_cdn: Vec<Ext>,
    pub ntp: Vec<Ext>,
    pub windows_update: Ext,
    pub av_update: Ext,
    pub backup: Ext,
    pub upstream_dns: Vec<Ext>,
    pub mail_peers: Vec<Ext>,
    pub visitors_cn: Vec<Ipv4Addr>,
    pub visitors_foreign: Vec<Ipv4Addr>,
}

fn ext(ip: [u8; 4], name: &str, cc: &'static str, tls13: bool, issuer: (&'static str, &'static str), rng: &mut ChaCha8Rng) -> Ext {
    Ext { ip: Ipv4Addr::from(ip), name: name.to_string(), country: cc, tls13, issuer, rtt_us: rtt_for(cc, rng) }
}

const DIGICERT: (&str, &str) = ("DigiCert Global G2 TLS RSA SHA256 2020 CA1", "DigiCert Inc");
const GLOBALSIGN: (&str, &str) = ("GlobalSign RSA OV SSL CA 2018", "GlobalSign nv-sa");
const LETSENCRYPT: (&str, &str) = ("R11", "Let's Encrypt");
const MICROSOFT: (&str, &str) = ("Microsoft Azure RSA TLS Issuing CA 04", "Microsoft Corporation");
const GTS: (&str, &str) = ("WR2", "Google Trust Services");

impl Services {
    pub fn new(rng: &mut ChaCha8Rng) -> Self {
        let domestic_web = vec![
            ext([220, 181, 38, 148], "www.baidu.com", "CN", true, GLOBALSIGN, rng),
            ext([183, 232, 231, 172], "www.qq.com", "CN", true, DIGICERT, rng),
            ext([121, 40, 13, 70], "www.taobao.com", "CN", true, GLOBALSIGN, rng),
            ext([39, 156, 66, 10], "www.cnki.net", "CN", false, DIGICERT, rng),
            ext([58, 250, 137, 36], "mp.weixin.qq.com", "CN", true, DIGICERT, rng),
            ext([180, 101, 49, 12], "news.sina.com.cn", "CN", false, GLOBALSIGN, rng),
            ext([101, 226, 4, 6], "www.gov.cn", "CN", false, DIGICERT, rng),
            ext([120, 92, 78, 97], "www.zhihu.com", "CN", true, DIGICERT, rng),
        ];
        let foreign_web = vec![
            ext([142, 250, 72, 14], "scholar.google.com", "US", true, GTS, rng),
            ext([151, 101, 1, 140], "www.reddit.com", "US", true, DIGICERT, rng),
            ext([185, 199, 108, 153], "github.com", "US", true, DIGICERT, rng),
            ext([23, 32, 4, 5], "www.microsoft.com", "US", true, MICROSOFT, rng),
            ext([199, 232, 6, 81], "www.nature.com", "US", true, DIGICERT, rng),
            ext([145, 131, 8, 20], "www.elsevier.com", "NL", false, DIGICERT, rng),
            ext([131, 159, 0, 80], "www.springer.com", "DE", true, LETSENCRYPT, rng),
        ];
        let foreign_cdn = vec![
            ext([52, 84, 10, 5], "download.visualstudio.microsoft.com", "US", true, MICROSOFT, rng),
            ext([151, 101, 2, 49], "cdn.jsdelivr.net", "US", true, GLOBALSIGN, rng),
            ext([142, 251, 42, 46], "dl.google.com", "US", true, GTS, rng),
            ext([104, 18, 20, 133], "download.jetbrains.com", "US", true, LETSENCRYPT, rng),
        ];
        let ntp = vec![
            ext([203, 107, 6, 88], "ntp.aliyun.com", "CN", false, DIGICERT, rng),
            ext([20, 101, 57, 9], "time.windows.com", "US", false, MICROSOFT, rng),
        ];
        let windows_update = ext([13, 107, 4, 50], "ctldl.windowsupdate.com", "US", false, MICROSOFT, rng);
        let av_update = ext([119, 29, 47, 115], "update.av.qq.com", "CN", true, DIGICERT, rng);
        let backup = ext([47, 92, 118, 20], BACKUP_DOMAIN, "CN", true, GLOBALSIGN, rng);
        let upstream_dns = vec![
            ext([223, 5, 5, 5], "dns.alidns.com", "CN", false, GLOBALSIGN, rng),
            ext([119, 29, 29, 29], "dnspod.cn", "CN", false, GLOBALSIGN, rng),
        ];
        let mut mail_peers = Vec::new();
        for (cc, n) in [("CN", 6), ("US", 2), ("DE", 1), ("JP", 1)] {
            for i in 0..n {
                let ip = geo::random_ip(cc, rng);
                mail_peers.push(Ext {
                    ip,
                    name: format!("mx{}.mail-{}.example", i + 1, cc.to_lowercase()),
                    country: cc,
                    tls13: false,
                    issuer: LETSENCRYPT,
                    rtt_us: rtt_for(cc, rng),
                });
            }
        }
        let visitors_cn = (0..40).map(|_| geo::random_ip("CN", rng)).collect();
        let visitors_foreign = (0..12).map(|_| geo::random_ip(["US", "DE", "JP", "GB", "FR", "SG"][rng.gen_range(0..6)], rng)).collect();
        Services {
            domestic_web,
            foreign_web,
            foreign_cdn,
            ntp,
            windows_update,
            av_update,
            backup,
            upstream_dns,
            mail_peers,
            visitors_cn,
            visitors_foreign,
        }
    }
}

/// The institution's hosts.
#[derive(Clone, Debug)]
pub struct SiteModel {
    pub name: String,
    pub hosts: Vec<Host>,
    /// Start of the capture (Unix seconds, UTC); inventory dates are relative to it.
    pub start_unix: i64,
}

impl SiteModel {
    /// Builds a site of about `n_hosts` hosts (at least 60).
    pub fn build(n_hosts: usize, start_unix: i64, rng: &mut ChaCha8Rng) -> Self {
        let mut hosts = Vec::new();
        let mut add = |ip: [u8; 4], name: &str, role: Role, zone: Zone, owner: &str, windows: bool, privileged: bool| {
            let ip = Ipv4Addr::from(ip);
            hosts.push(Host {
                ip,
                mac: mac_for(ip, windows),
                name: name.to_string(),
                role,
                zone,
                owner: owner.to_string(),
                windows,
                decommission: None,
                privileged,
                in_inventory: true,
                environment: "production",
            });
        };
        add([10, 0, 0, 2], "fw01", Role::Firewall, Zone::Edge, "netops", false, true);
        add([10, 0, 0, 10], "vpn-gw01", Role::VpnGateway, Zone::Edge, "netops", false, true);
        add([10, 1, 0, 10], "www01", Role::WebServer, Zone::Dmz, "web-team", false, false);
        add([10, 1, 0, 11], "www02", Role::WebServer, Zone::Dmz, "web-team", false, false);
        add([10, 1, 0, 25], "mail01", Role::MailServer, Zone::Dmz, "it-ops", false, true);
        add([10, 1, 0, 30], "oa01", Role::OaServer, Zone::Dmz, "admin-office", true, false);
        add([10, 1, 0, 31], "portal01", Role::AppServer, Zone::Dmz, "web-team", false, false);
        add([10, 20, 1, 10], "dc01", Role::DomainController, Zone::Core, "it-ops", true, true);
        add([10, 20, 1, 11], "dc02", Role::DomainController, Zone::Core, "it-ops", true, true);
        add([10, 20, 1, 53], "dns01", Role::Resolver, Zone::Core, "it-ops", false, true);
        add([10, 20, 1, 20], "fs01", Role::FileServer, Zone::Core, "it-ops", true, false);
        add([10, 20, 1, 21], "fs02", Role::FileServer, Zone::Core, "research", true, false);
        add([10, 20, 1, 30], "db01", Role::DbServer, Zone::Core, "dba", false, false);
        add([10, 20, 1, 31], "db02", Role::DbServer, Zone::Core, "dba", false, false);
        add([10, 20, 1, 32], "hrdb01", Role::DbServer, Zone::Core, "hr", false, false);
        add([10, 20, 1, 40], "erp01", Role::AppServer, Zone::Core, "finance", false, false);
        add([10, 20, 1, 41], "rnd-git01", Role::AppServer, Zone::Core, "research", false, false);
        add([10, 20, 1, 42], "lims01", Role::AppServer, Zone::Core, "research", true, false);
        add([10, 20, 1, 60], "backup01", Role::BackupServer, Zone::Core, "it-ops", false, true);
        add([10, 20, 1, 70], "mon01", Role::Monitoring, Zone::Core, "it-ops", false, true);
        let n_tests = (4 + n_hosts / 100).min(200);
        for i in 0..n_tests {
            let windows = i % 2 == 1;
            add([10, 40, 0, 10 + i as u8], &format!("test-{:02}", i + 1), Role::TestDevice, Zone::Test, "qa", windows, false);
        }
        let admins = (3 + n_hosts / 150).min(200);
        for i in 0..admins {
            add([10, 30, 250, 10 + i as u8], &format!("adm-ws{:02}", i + 1), Role::AdminWorkstation, Zone::Office, "it-ops", true, true);
        }
        let owners = ["finance", "research", "hr", "admin-office", "research", "engineering", "library", "research"];
        let n_ws = n_hosts.saturating_sub(20 + n_tests + admins).clamp(30, 200 * 249);
        for i in 0..n_ws {
            let floor = 1 + (i / 200) as u8;
            let idx = 20 + (i % 200) as u8;
            let windows = rng.gen_bool(0.85);
            let owner = owners[rng.gen_range(0..owners.len())];
            add([10, 30, floor, idx], &format!("ws-{}{:03}", floor, idx), Role::Workstation, Zone::Office, owner, windows, false);
        }
        for h in hosts.iter_mut().filter(|h| h.zone == Zone::Test) {
            h.environment = "test";
        }
        SiteModel { name: "Jinghai Research Institute".into(), hosts, start_unix }
    }

    pub fn by_role(&self, role: Role) -> Vec<usize> {
        (0..self.hosts.len()).filter(|&i| self.hosts[i].role == role).collect()
    }
    pub fn by_zone(&self, zone: Zone) -> Vec<usize> {
        (0..self.hosts.len()).filter(|&i| self.hosts[i].zone == zone).collect()
    }
    pub fn find(&self, name: &str) -> usize {
        self.hosts.iter().position(|h| h.name == name).unwrap_or(0)
    }
    pub fn servers(&self) -> Vec<usize> {
        (0..self.hosts.len()).filter(|&i| self.hosts[i].role.is_server()).collect()
    }
    pub fn workstations(&self) -> Vec<usize> {
        self.by_role(Role::Workstation)
    }
    pub fn pick(&self, from: &[usize], rng: &mut ChaCha8Rng) -> usize {
        *from.choose(rng).unwrap_or(&0)
    }

    /// The site file, per the contract.
    pub fn site_toml(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# Written by `vigil simulate`: the simulated institution.\n[site]");
        let _ = writeln!(s, "name = \"{}\"", self.name);
        let _ = writeln!(s, "home_countries = [\"CN\"]");
        let _ = writeln!(s, "internal = [\"10.0.0.0/8\"]");
        let _ = writeln!(s, "timezone = \"{TIMEZONE}\"");
        let _ = writeln!(s, "work_hours = \"08:30-18:00\"");
        let _ = writeln!(s, "work_days = [\"Mon\", \"Tue\", \"Wed\", \"Thu\", \"Fri\"]");
        for z in [Zone::Edge, Zone::Dmz, Zone::Core, Zone::Office, Zone::Test] {
            let _ =
                writeln!(s, "\n[[site.zone]]\nname = \"{}\"\nnetworks = [\"{}\"]\ncritical = {}", z.name(), z.network(), z == Zone::Core);
        }
        let _ = writeln!(s, "\n[inventory]\nfile = \"assets.csv\"\n\n[allow]\ndomains = [\"{BACKUP_DOMAIN}\"]\nnetworks = []");
        s
    }

    /// The CMDB export: ip,name,owner,role,environment,decommission,privileged.
    pub fn assets_csv(&self) -> String {
        let mut s = String::from("ip,name,owner,role,environment,decommission,privileged\n");
        for h in self.hosts.iter().filter(|h| h.in_inventory) {
            let _ = writeln!(
                s,
                "{},{}.{},{},{},{},{},{}",
                h.ip,
                h.name,
                DOMAIN,
                h.owner,
                h.role.name(),
                h.environment,
                h.decommission.as_deref().unwrap_or(""),
                h.privileged
            );
        }
        s
    }
}

/// A YYYY-MM-DD date `days` from a Unix time.
pub fn date_plus(unix: i64, days: i64) -> String {
    chrono::DateTime::from_timestamp(unix + days * 86_400 + UTC_OFFSET_S, 0).unwrap_or_default().format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn services_geolocate_to_their_stated_country() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let s = Services::new(&mut rng);
        let all =
            s.domestic_web.iter().chain(&s.foreign_web).chain(&s.foreign_cdn).chain(&s.ntp).chain(&s.upstream_dns).chain(&s.mail_peers);
        for e in all.chain([&s.windows_update, &s.av_update, &s.backup]) {
            assert_eq!(geo::country_of(e.ip), Some(e.country), "{} {}", e.name, e.ip);
        }
        assert!(s.domestic_web.iter().all(|e| e.country == "CN"));
        assert!(s.foreign_cdn.iter().all(|e| e.country != "CN"));
    }

    #[test]
    fn addresses_are_unique_and_in_their_zones() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for n in [60, 300, 2_000] {
            let site = SiteModel::build(n, 0, &mut rng);
            assert!(site.hosts.len() >= n.min(2_000) - 1);
            let mut ips: Vec<Ipv4Addr> = site.hosts.iter().map(|h| h.ip).collect();
            ips.sort();
            ips.dedup();
            assert_eq!(ips.len(), site.hosts.len(), "no address used twice at {n} hosts");
            for h in &site.hosts {
                let (net, len) = h.zone.network().split_once('/').unwrap();
                let net: Ipv4Addr = net.parse().unwrap();
                let len: u32 = len.parse().unwrap();
                assert_eq!(u32::from(h.ip) >> (32 - len), u32::from(net) >> (32 - len), "{} in {}", h.name, h.zone.name());
            }
        }
    }
}
