//! Deterministic synthetic Conn stream for the detector benchmarks (shared by the criterion
//! benches and the `detect_scale` example): a site of `hosts` internal hosts in six zones
//! (office, servers, core, DMZ, test lab, management), outside destinations drawn with a
//! Zipf-like popularity from real RIR ranges (so GeoIP answers with real countries), TLS names
//! and JA4 on most web sessions, DNS queries through two internal resolvers, plain HTTP on a
//! fraction, internal SMB/LDAP/Kerberos/database traffic, inbound web traffic to the DMZ and
//! background internet noise — plus a few planted attacks (beacons, a night-time upload, scans,
//! a DNS tunnel, a springboard chain and an SMB fan-out) so the detectors do real work at the
//! end of the window, not only in `observe`.
//!
//! Records come out in time order, like a sensor's stream, and the same seed gives the same
//! stream. Nothing here is timed: the benchmarks time only the detectors.

#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use vigil_enrich::Site;
use vigil_enrich::geo::bundled_country_table;
use vigil_model::{Conn, ConnState, DnsTxn, HttpTxn, PROTO_ICMP, PROTO_TCP, PROTO_UDP, SshMeta, Timestamp, TlsMeta};

/// 2024-01-01 00:00 UTC, a Monday.
pub const START: i64 = 1_704_067_200;

/// The benchmark's site file: home country DE, Berlin time, six zones, an allowlisted backup
/// domain. Zones follow [`Synth::host`]'s layout.
pub const SITE_TOML: &str = r#"
[site]
name = "Bench GmbH"
home_countries = ["DE"]
internal = ["10.0.0.0/8", "192.168.0.0/16"]
timezone = "Europe/Berlin"
work_hours = "08:00-18:00"
work_days = ["Mon", "Tue", "Wed", "Thu", "Fri"]

[[site.zone]]
name = "office"
networks = ["10.10.0.0/16"]
trust = 1

[[site.zone]]
name = "servers"
networks = ["10.20.0.0/16"]

[[site.zone]]
name = "core"
networks = ["10.21.0.0/16"]
critical = true

[[site.zone]]
name = "dmz"
kind = "dmz"
networks = ["10.30.0.0/16"]

[[site.zone]]
name = "lab"
kind = "test"
networks = ["10.40.0.0/16"]

[[site.zone]]
name = "mgmt"
kind = "jump"
networks = ["10.50.0.0/16"]

[allow]
domains = ["backup.bench-gmbh.de"]
"#;

/// The parsed site file.
pub fn site() -> Site {
    Site::parse(SITE_TOML, Path::new("bench-site.toml")).expect("bench site file parses")
}

/// Size and shape of the stream.
#[derive(Clone, Debug)]
pub struct SynthConfig {
    pub records: usize,
    pub hosts: u32,
    /// Distinct outside destinations in the popularity table.
    pub external: u32,
    /// Distinct DNS/TLS names.
    pub names: u32,
    pub days: u32,
    pub seed: u64,
}

impl SynthConfig {
    pub fn new(records: usize) -> Self {
        SynthConfig { records, hosts: 50_000, external: 200_000, names: 50_000, days: 3, seed: 0x005e_ed0f_716e }
    }
}

/// xorshift64*: fast, deterministic, good enough for traffic shapes.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next() >> 32) * n.max(1)) >> 32
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Zipf-like rank in 0..n (continuous power law with exponent `s`, s != 1), then scattered
    /// over 0..n by a fixed permutation so that popular items are not numerically adjacent.
    pub fn zipf(&mut self, n: u32, s: f64) -> u32 {
        let n = n.max(1);
        let a = 1.0 - s;
        let nf = n as f64;
        let x = ((nf.powf(a) - 1.0) * self.unit() + 1.0).powf(1.0 / a);
        let rank = (x as u64).saturating_sub(1).min(n as u64 - 1);
        scatter(rank, n)
    }
}

/// A bijection on 0..n (multiplication by a large odd constant coprime with most n, then a
/// fallback walk), so ranks spread over the address plan.
fn scatter(rank: u64, n: u32) -> u32 {
    let n = n as u64;
    // 2_654_435_761 is prime, so coprime with any n it does not divide.
    if n.is_multiple_of(2_654_435_761) { rank as u32 } else { ((rank * 2_654_435_761 + 12_345) % n) as u32 }
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

const JA4S: [&str; 8] = [
    "t13d1516h2_8daaf6152771_02713d6af862",
    "t13d1517h2_8daaf6152771_b1ff8ab2d16f",
    "t13d1715h2_5b57614c22b0_3d5424432f57",
    "t13d0912h2_f91f431d341e_dc02f4a3b8c0",
    "t12d1209h2_d34a8e72043a_b39be8c56a14",
    "t13d1516h2_8daaf6152771_e5627efa2ab1",
    "t13i1811h2_85036bcba153_b26ce05bbdd6",
    "t13d1812h1_85036bcba153_ce0ba3c6f1c5",
];
const UAS: [&str; 4] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Microsoft-CryptoAPI/10.0",
    "Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.50",
    "curl/8.5.0",
];
const TLDS: [&str; 6] = ["com", "net", "de", "io", "org", "cn"];

/// A scheduled planted event: the generator emits it when the background clock passes `ts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Plant {
    /// Beacon `i`: one callback.
    Beacon(u32),
    /// Night upload by host `i`: one large session.
    Upload(u32),
    /// Scanner `i`: one probe.
    Scan(u32),
    /// DNS tunnel client: one query.
    Tunnel,
    /// Springboard: the outside session into the DMZ host, then the hop into the core.
    SpringIn,
    SpringHop,
    /// SMB fan-out from a lab host: one session to server `k`.
    Fanout(u32),
}

const BEACONS: u32 = 24;
const SCANNERS: u32 = 4;

/// The stream generator; an iterator over `records` Conn records.
pub struct Synth {
    cfg: SynthConfig,
    rng: Rng,
    emitted: usize,
    background: usize,
    countries: Vec<(u32, u32)>,
    plants: BinaryHeap<Reverse<(i64, Plant)>>,
    span_ns: i64,
    tunnel_n: u32,
    scan_n: Vec<u32>,
    fanout_k: u32,
}

impl Synth {
    pub fn new(cfg: SynthConfig) -> Self {
        let ranges: Vec<(u32, u32)> = bundled_country_table().v4_ranges().iter().map(|(s, e, _)| (*s, *e)).collect();
        let span_ns = i64::from(cfg.days.max(1)) * 86_400 * Timestamp::NANOS_PER_SEC;
        let mut s = Synth {
            rng: Rng::new(cfg.seed),
            emitted: 0,
            background: 0,
            countries: ranges,
            plants: BinaryHeap::new(),
            span_ns,
            tunnel_n: 0,
            scan_n: vec![0; SCANNERS as usize],
            fanout_k: 0,
            cfg,
        };
        s.plan();
        s
    }

    fn schedule(&mut self, ts: i64, p: Plant) {
        if ts < START * Timestamp::NANOS_PER_SEC + self.span_ns {
            self.plants.push(Reverse((ts, p)));
        }
    }

    fn plan(&mut self) {
        let t0 = START * Timestamp::NANOS_PER_SEC;
        for i in 0..BEACONS {
            self.schedule(t0 + i64::from(i) * 7_000_000_000, Plant::Beacon(i));
        }
        // Uploads start at 01:30 Berlin time on the first night (00:30 UTC in winter).
        for i in 0..3 {
            self.schedule(t0 + (1800 + i64::from(i) * 600) * Timestamp::NANOS_PER_SEC, Plant::Upload(i));
        }
        for i in 0..SCANNERS {
            self.schedule(t0 + (3600 * (6 + i64::from(i) * 9)) * Timestamp::NANOS_PER_SEC, Plant::Scan(i));
        }
        self.schedule(t0 + 20 * 3600 * Timestamp::NANOS_PER_SEC, Plant::Tunnel);
        self.schedule(t0 + 26 * 3600 * Timestamp::NANOS_PER_SEC, Plant::SpringIn);
        self.schedule(t0 + 40 * 3600 * Timestamp::NANOS_PER_SEC, Plant::Fanout(0));
    }

    /// Internal host `i` (0..hosts): 70 % office, 12 % servers, 3 % core, 2 % DMZ, 8 % lab,
    /// 1 % management, 4 % in 192.168/16 outside any zone (branch office).
    pub fn host(&self, i: u32) -> Ipv4Addr {
        let n = self.cfg.hosts.max(100);
        let i = i % n;
        let p = u64::from(i) * 100 / u64::from(n);
        let (net, base): ([u8; 2], u32) = match p {
            0..=69 => ([10, 10], 0),
            70..=81 => ([10, 20], n * 70 / 100),
            82..=84 => ([10, 21], n * 82 / 100),
            85..=86 => ([10, 30], n * 85 / 100),
            87..=94 => ([10, 40], n * 87 / 100),
            95 => ([10, 50], n * 95 / 100),
            _ => ([192, 168], n * 96 / 100),
        };
        let k = i - base.min(i);
        Ipv4Addr::new(net[0], net[1], (k / 250) as u8, (k % 250 + 1) as u8)
    }

    /// Outside destination `k`: a fixed address inside one of the RIR ranges.
    pub fn external(&self, k: u32) -> Ipv4Addr {
        let h = mix(u64::from(k) ^ 0xdead_beef);
        let (s, e) = self.countries.get((h % self.countries.len().max(1) as u64) as usize).copied().unwrap_or((0x0808_0800, 0x0808_08ff));
        let width = u64::from(e.saturating_sub(s)) + 1;
        Ipv4Addr::from(s.wrapping_add(((h >> 20) % width) as u32))
    }

    fn name(&self, k: u32) -> String {
        let tld = TLDS[(mix(u64::from(k)) % TLDS.len() as u64) as usize];
        match k % 4 {
            0 => format!("www.site{k}.{tld}"),
            1 => format!("cdn{}.provider{}.{tld}", k % 97, k / 4),
            2 => format!("api.service{k}.{tld}"),
            _ => format!("s{k}.example.{tld}"),
        }
    }

    fn internal_server(&mut self) -> (IpAddr, u16, Option<&'static str>) {
        let n = self.cfg.hosts.max(100);
        // A handful of busy servers (file, directory, database), Zipf over the server zone.
        let servers = (n * 15 / 100).max(1);
        let k = n * 70 / 100 + self.rng.zipf(servers, 1.2);
        let ip = IpAddr::V4(self.host(k));
        let (port, svc) = match self.rng.below(10) {
            0..=3 => (445, Some("smb")),
            4 => (389, Some("ldap")),
            5 => (88, Some("krb")),
            6 => (1433, None),
            7 => (443, Some("ssl")),
            8 => (135, Some("dce_rpc")),
            _ => (8080, Some("http")),
        };
        (ip, port, svc)
    }

    fn background_ts(&self) -> i64 {
        let n = self.cfg.records.max(1) as i64;
        let i = self.background as i64;
        START * Timestamp::NANOS_PER_SEC + ((i as i128 * self.span_ns as i128) / n as i128) as i64
    }

    fn background(&mut self, ts: i64) -> Conn {
        let ts = Timestamp(ts);
        // Host activity is skewed too: a few very busy hosts, a long tail of quiet ones.
        let hi = self.rng.zipf(self.cfg.hosts.max(100), 0.7);
        let host = IpAddr::V4(self.host(hi));
        let kind = self.rng.below(1000);
        let sport = 32_768 + self.rng.below(28_000) as u16;
        match kind {
            // TLS to the internet: the bulk of a modern network.
            0..=549 => {
                let k = self.rng.zipf(self.cfg.external, 1.1);
                let dst = IpAddr::V4(self.external(k));
                let mut c = Conn::new(ts, host, sport, dst, 443, PROTO_TCP);
                c.service = Some("ssl".into());
                c.conn_state = if self.rng.chance(0.97) { ConnState::SF } else { ConnState::RSTO };
                c.history = "ShADadFf".into();
                c.duration = Some(self.rng.unit() * 30.0 + 0.05);
                c.orig_bytes = Some(500 + self.rng.below(4_000));
                c.resp_bytes = Some(2_000 + self.rng.below(200_000));
                c.orig_pkts = 8 + self.rng.below(20);
                c.resp_pkts = 8 + self.rng.below(150);
                c.orig_ip_bytes = c.orig_bytes() + 40 * c.orig_pkts;
                c.resp_ip_bytes = c.resp_bytes() + 40 * c.resp_pkts;
                let name_k = k % self.cfg.names.max(1);
                let ja4 = JA4S[self.rng.zipf(JA4S.len() as u32, 1.5) as usize % JA4S.len()];
                c.app.tls = Some(Box::new(TlsMeta {
                    version: Some(0x0304),
                    server_name: if self.rng.chance(0.95) { Some(self.name(name_k)) } else { None },
                    established: true,
                    ja4: Some(ja4.into()),
                    ..Default::default()
                }));
                c.app.orig_entropy = Some(7.9);
                c.app.resp_entropy = Some(7.9);
                c
            }
            // DNS through the two internal resolvers.
            550..=729 => {
                let resolver = IpAddr::V4(Ipv4Addr::new(10, 20, 0, 53 + self.rng.below(2) as u8));
                let mut c = Conn::new(ts, host, sport, resolver, 53, PROTO_UDP);
                c.service = Some("dns".into());
                c.conn_state = ConnState::SF;
                c.duration = Some(0.002);
                c.orig_bytes = Some(40);
                c.resp_bytes = Some(120);
                c.orig_pkts = 1;
                c.resp_pkts = 1;
                let k = self.rng.zipf(self.cfg.names, 1.0);
                let q = self.name(k);
                let qtype = if self.rng.chance(0.8) { 1 } else { 28 };
                let ans = self.external(k).to_string();
                c.app.dns.push(DnsTxn {
                    ts,
                    trans_id: self.rng.next() as u16,
                    query: Some(q),
                    qclass: Some(1),
                    qtype: Some(qtype),
                    rcode: Some(0),
                    rd: true,
                    ra: true,
                    answers: vec![ans],
                    ttls: vec![300.0],
                    ..Default::default()
                });
                c
            }
            // Plain HTTP (updates, CRL/OCSP, old apps).
            730..=789 => {
                let k = self.rng.zipf(self.cfg.external, 1.1);
                let dst = IpAddr::V4(self.external(k));
                let mut c = Conn::new(ts, host, sport, dst, 80, PROTO_TCP);
                c.service = Some("http".into());
                c.conn_state = ConnState::SF;
                c.history = "ShADadFf".into();
                c.duration = Some(self.rng.unit() * 5.0);
                c.orig_bytes = Some(300 + self.rng.below(800));
                c.resp_bytes = Some(500 + self.rng.below(100_000));
                c.orig_pkts = 5;
                c.resp_pkts = 10;
                let host_name = self.name(k % self.cfg.names.max(1));
                let ua = UAS[self.rng.below(UAS.len() as u64) as usize];
                c.app.http.push(HttpTxn {
                    ts,
                    method: Some("GET".into()),
                    host: Some(host_name),
                    uri: Some(format!("/v{}/update.cab", k % 7)),
                    version: Some("1.1".into()),
                    user_agent: Some(ua.into()),
                    response_body_len: c.resp_bytes(),
                    status_code: Some(200),
                    ..Default::default()
                });
                c
            }
            // Inside: file shares, directory, databases, intranet.
            790..=909 => {
                let (dst, port, svc) = self.internal_server();
                let mut c = Conn::new(ts, host, sport, dst, port, PROTO_TCP);
                c.service = svc.map(str::to_string);
                c.conn_state = if self.rng.chance(0.98) { ConnState::SF } else { ConnState::REJ };
                c.history = if c.conn_state == ConnState::SF { "ShADadFf".into() } else { "Sr".into() };
                c.duration = Some(self.rng.unit() * 60.0);
                c.orig_bytes = Some(200 + self.rng.below(50_000));
                c.resp_bytes = Some(200 + self.rng.below(500_000));
                c.orig_pkts = 6;
                c.resp_pkts = 8;
                c
            }
            // Admins from the management zone: RDP and SSH into servers.
            910..=919 => {
                let n = self.cfg.hosts.max(100);
                let k = n * 95 / 100 + self.rng.below(u64::from((n / 100).max(1))) as u32;
                let admin = IpAddr::V4(self.host(k));
                let (dst, _, _) = self.internal_server();
                let ssh = self.rng.chance(0.5);
                let mut c = Conn::new(ts, admin, sport, dst, if ssh { 22 } else { 3389 }, PROTO_TCP);
                c.service = Some(if ssh { "ssh" } else { "rdp" }.into());
                c.conn_state = ConnState::SF;
                c.history = "ShADadFf".into();
                c.duration = Some(60.0 + self.rng.unit() * 1800.0);
                c.orig_bytes = Some(20_000 + self.rng.below(200_000));
                c.resp_bytes = Some(100_000 + self.rng.below(2_000_000));
                c.orig_pkts = 200;
                c.resp_pkts = 300;
                if ssh {
                    c.app.ssh = Some(Box::new(SshMeta {
                        version: Some(2),
                        client: Some("SSH-2.0-OpenSSH_9.6".into()),
                        auth_success: Some(true),
                        ..Default::default()
                    }));
                }
                c
            }
            // Customers reaching the DMZ web servers.
            920..=959 => {
                let n = self.cfg.hosts.max(100);
                let k = n * 85 / 100 + self.rng.below(20) as u32;
                let web = IpAddr::V4(self.host(k));
                let k = self.rng.below(u64::from(self.cfg.external) * 4) as u32;
                let src = IpAddr::V4(self.external(k));
                let mut c = Conn::new(ts, src, sport, web, 443, PROTO_TCP);
                c.service = Some("ssl".into());
                c.conn_state = ConnState::SF;
                c.history = "ShADadFf".into();
                c.duration = Some(self.rng.unit() * 20.0);
                c.orig_bytes = Some(700 + self.rng.below(3_000));
                c.resp_bytes = Some(5_000 + self.rng.below(80_000));
                c.orig_pkts = 10;
                c.resp_pkts = 20;
                c.app.tls = Some(Box::new(TlsMeta {
                    server_name: Some("www.bench-gmbh.de".into()),
                    ja4: Some(JA4S[(self.rng.below(8)) as usize].into()),
                    established: true,
                    ..Default::default()
                }));
                c
            }
            // Internet background noise hitting the edge: unanswered probes from everywhere.
            960..=979 => {
                let src = IpAddr::V4(Ipv4Addr::from(self.rng.next() as u32 | 0x0100_0000));
                let n = self.cfg.hosts.max(100);
                let k = n * 85 / 100 + self.rng.below(u64::from((n * 2 / 100).max(1))) as u32;
                let dst = IpAddr::V4(self.host(k));
                let port = [22u16, 23, 80, 443, 445, 3389, 8080, 5900][self.rng.below(8) as usize];
                let mut c = Conn::new(ts, src, sport, dst, port, PROTO_TCP);
                c.conn_state = if self.rng.chance(0.5) { ConnState::S0 } else { ConnState::REJ };
                c.history = "S".into();
                c.orig_pkts = 1;
                c
            }
            // NTP and ICMP.
            980..=994 => {
                if self.rng.chance(0.7) {
                    let k = self.rng.below(16) as u32;
                    let dst = IpAddr::V4(self.external(k));
                    let mut c = Conn::new(ts, host, 123, dst, 123, PROTO_UDP);
                    c.service = Some("ntp".into());
                    c.conn_state = ConnState::SF;
                    c.orig_bytes = Some(48);
                    c.resp_bytes = Some(48);
                    c.orig_pkts = 1;
                    c.resp_pkts = 1;
                    c
                } else {
                    let (dst, _, _) = self.internal_server();
                    let mut c = Conn::new(ts, host, 8, dst, 0, PROTO_ICMP);
                    c.conn_state = ConnState::OTH;
                    c.orig_bytes = Some(56);
                    c.resp_bytes = Some(56);
                    c.orig_pkts = 1;
                    c.resp_pkts = 1;
                    c
                }
            }
            // Outbound SSH to a few outside hosts (developers' servers).
            _ => {
                let k = self.rng.zipf(2_000, 1.1);
                let dst = IpAddr::V4(self.external(k));
                let mut c = Conn::new(ts, host, sport, dst, 22, PROTO_TCP);
                c.service = Some("ssh".into());
                c.conn_state = ConnState::SF;
                c.history = "ShADadFf".into();
                c.duration = Some(self.rng.unit() * 600.0);
                c.orig_bytes = Some(5_000 + self.rng.below(50_000));
                c.resp_bytes = Some(5_000 + self.rng.below(200_000));
                c.orig_pkts = 50;
                c.resp_pkts = 60;
                c.app.ssh = Some(Box::new(SshMeta { version: Some(2), client: Some("SSH-2.0-OpenSSH_9.6".into()), ..Default::default() }));
                c
            }
        }
    }

    fn planted(&mut self, ts: i64, p: Plant) -> Conn {
        let n = self.cfg.hosts.max(100);
        let t = Timestamp(ts);
        let sport = 40_000 + self.rng.below(20_000) as u16;
        match p {
            Plant::Beacon(i) => {
                let host = IpAddr::V4(self.host(i * 1_777 % (n * 70 / 100)));
                // C2 far down the popularity tail: nobody else talks to it.
                let c2 = IpAddr::V4(self.external(self.cfg.external + 1_000 + i));
                let mut c = Conn::new(t, host, sport, c2, if i % 3 == 0 { 8443 } else { 443 }, PROTO_TCP);
                c.service = Some("ssl".into());
                c.conn_state = ConnState::SF;
                c.history = "ShADadFf".into();
                c.duration = Some(0.4);
                c.orig_bytes = Some(420 + self.rng.below(8));
                c.resp_bytes = Some(180 + self.rng.below(8));
                c.orig_pkts = 6;
                c.resp_pkts = 5;
                let name = if i % 2 == 0 { Some(format!("upd{i}.cdn-telemetry.net")) } else { None };
                c.app.tls = Some(Box::new(TlsMeta {
                    server_name: name,
                    ja4: Some("t13d190900_9dc949149365_97f8aa674fd9".into()),
                    established: true,
                    ..Default::default()
                }));
                // 60 s to 15 min periods with 3 % jitter; odd beacons sleep outside 01:00–05:00 UTC.
                let period = (60 + i64::from(i) * 37) * Timestamp::NANOS_PER_SEC;
                let jitter = (self.rng.unit() - 0.5) * 0.06 * period as f64;
                let mut next = ts + period + jitter as i64;
                if i % 2 == 1 {
                    let day_ns = 86_400 * Timestamp::NANOS_PER_SEC;
                    let tod = next.rem_euclid(day_ns);
                    if tod >= 5 * 3600 * Timestamp::NANOS_PER_SEC {
                        next = next - tod + day_ns + 3600 * Timestamp::NANOS_PER_SEC;
                    }
                }
                self.schedule(next, p);
                c
            }
            Plant::Upload(i) => {
                let host = IpAddr::V4(self.host(n * 82 / 100 + i));
                let dst = IpAddr::V4(self.external(self.cfg.external + 5_000 + i));
                let mut c = Conn::new(t, host, sport, dst, 443, PROTO_TCP);
                c.service = Some("ssl".into());
                c.conn_state = ConnState::SF;
                c.history = "ShADadFf".into();
                c.duration = Some(1_500.0);
                c.orig_bytes = Some(800_000_000 + u64::from(i) * 100_000_000);
                c.resp_bytes = Some(2_000_000);
                c.orig_pkts = 600_000;
                c.resp_pkts = 300_000;
                c.app.tls = Some(Box::new(TlsMeta {
                    ja4: Some("t13d190900_9dc949149365_97f8aa674fd9".into()),
                    established: true,
                    ..Default::default()
                }));
                // Again the next night.
                self.schedule(ts + 86_400 * Timestamp::NANOS_PER_SEC, p);
                c
            }
            Plant::Scan(i) => {
                let src = IpAddr::V4(self.external(self.cfg.external + 9_000 + i));
                let k = self.scan_n[i as usize];
                self.scan_n[i as usize] = k + 1;
                let dmz0 = n * 85 / 100;
                let (dst, port) = if i % 2 == 0 {
                    // Vertical: ports 1..2000 on one DMZ host.
                    (IpAddr::V4(self.host(dmz0)), 1 + (k % 2000) as u16)
                } else {
                    // Horizontal: port 22 on every DMZ and lab host.
                    (IpAddr::V4(self.host(dmz0 + k % (n / 10))), 22)
                };
                let mut c = Conn::new(t, src, sport, dst, port, PROTO_TCP);
                c.conn_state = if k.is_multiple_of(5) { ConnState::REJ } else { ConnState::S0 };
                c.history = "S".into();
                c.orig_pkts = 1;
                if k < 2_000 {
                    self.schedule(ts + 50_000_000, p);
                }
                c
            }
            Plant::Tunnel => {
                let host = IpAddr::V4(self.host(1_234));
                let resolver = IpAddr::V4(Ipv4Addr::new(10, 20, 0, 53));
                let mut c = Conn::new(t, host, sport, resolver, 53, PROTO_UDP);
                c.service = Some("dns".into());
                c.conn_state = ConnState::SF;
                c.orig_bytes = Some(120);
                c.resp_bytes = Some(200);
                c.orig_pkts = 1;
                c.resp_pkts = 1;
                let mut label = String::with_capacity(52);
                for _ in 0..52 {
                    label.push(b"abcdefghijklmnopqrstuvwxyz234567"[self.rng.below(32) as usize] as char);
                }
                c.app.dns.push(DnsTxn {
                    ts: t,
                    query: Some(format!("{label}.t.x9tun.net")),
                    qtype: Some(16),
                    rcode: Some(0),
                    rd: true,
                    ra: true,
                    answers: vec!["TXT 80 c2VjcmV0".into()],
                    ..Default::default()
                });
                self.tunnel_n += 1;
                if self.tunnel_n < 4_000 {
                    self.schedule(ts + 900_000_000, p);
                }
                c
            }
            Plant::SpringIn => {
                let src = IpAddr::V4(self.external(self.cfg.external + 12_000));
                let vpn = IpAddr::V4(self.host(n * 85 / 100 + 50));
                let mut c = Conn::new(t, src, sport, vpn, 22, PROTO_TCP);
                c.service = Some("ssh".into());
                c.conn_state = ConnState::SF;
                c.history = "ShADadFf".into();
                c.duration = Some(900.0);
                c.orig_bytes = Some(40_000);
                c.resp_bytes = Some(90_000);
                c.orig_pkts = 300;
                c.resp_pkts = 300;
                self.schedule(ts + 120 * Timestamp::NANOS_PER_SEC, Plant::SpringHop);
                c
            }
            Plant::SpringHop => {
                let vpn = IpAddr::V4(self.host(n * 85 / 100 + 50));
                let core = IpAddr::V4(self.host(n * 82 / 100 + 7));
                let mut c = Conn::new(t, vpn, sport, core, 3389, PROTO_TCP);
                c.service = Some("rdp".into());
                c.conn_state = ConnState::SF;
                c.history = "ShADadFf".into();
                c.duration = Some(600.0);
                c.orig_bytes = Some(300_000);
                c.resp_bytes = Some(3_000_000);
                c.orig_pkts = 900;
                c.resp_pkts = 2_000;
                c
            }
            Plant::Fanout(k) => {
                let lab = IpAddr::V4(self.host(n * 87 / 100 + 3));
                let dst = IpAddr::V4(self.host(n * 70 / 100 + k * 13));
                let mut c = Conn::new(t, lab, sport, dst, 445, PROTO_TCP);
                c.service = Some("smb".into());
                c.conn_state = if k % 3 == 0 { ConnState::SF } else { ConnState::REJ };
                c.history = "ShADadFf".into();
                c.duration = Some(2.0);
                c.orig_bytes = Some(3_000);
                c.resp_bytes = Some(2_000);
                c.orig_pkts = 10;
                c.resp_pkts = 10;
                self.fanout_k += 1;
                if self.fanout_k < 80 {
                    self.schedule(ts + 3 * Timestamp::NANOS_PER_SEC, Plant::Fanout(k + 1));
                }
                c
            }
        }
    }

    /// Fills `out` (cleared first) with up to `max` records; returns how many.
    pub fn fill(&mut self, out: &mut Vec<Conn>, max: usize) -> usize {
        out.clear();
        while out.len() < max {
            match self.next() {
                Some(c) => out.push(c),
                None => break,
            }
        }
        out.len()
    }
}

impl Iterator for Synth {
    type Item = Conn;
    fn next(&mut self) -> Option<Conn> {
        if self.emitted >= self.cfg.records {
            return None;
        }
        self.emitted += 1;
        let bg_ts = self.background_ts();
        if let Some(Reverse((ts, p))) = self.plants.peek().copied()
            && ts <= bg_ts
        {
            self.plants.pop();
            return Some(self.planted(ts, p));
        }
        self.background += 1;
        Some(self.background(bg_ts))
    }
}
