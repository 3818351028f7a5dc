//! Builders for synthetic Conn streams used by the detector tests.
#![allow(dead_code)]

pub mod logs;

use std::net::IpAddr;
use std::path::Path;
use vigil_enrich::{Context, Site};
use vigil_model::{AppMeta, Conn, ConnState, DnsTxn, HttpTxn, PROTO_TCP, PROTO_UDP, Timestamp, TlsMeta};

/// 2024-01-01 00:00:00 UTC (a Monday).
pub const MON: i64 = 1_704_067_200;

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

pub fn ctx(site: &str) -> Context {
    Context::new(Site::parse(site, Path::new("site.toml")).expect("test site"))
}

/// A site in Shanghai with 10/8 inside.
pub fn shanghai() -> Context {
    ctx("[site]\ninternal = [\"10.0.0.0/8\"]\ntimezone = \"Asia/Shanghai\"\nwork_hours = \"08:30-18:00\"\n")
}

/// Small deterministic generator (xorshift) so tests need no rand dependency.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform in [-1, 1].
    pub fn sym(&mut self) -> f64 {
        (self.next() % 2_000_001) as f64 / 1_000_000.0 - 1.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

pub fn tcp(ts: f64, src: &str, dst: &str, port: u16, sent: u64, recv: u64) -> Conn {
    let mut c = Conn::new(Timestamp::from_secs_f64(ts), ip(src), 49152, ip(dst), port, PROTO_TCP);
    c.orig_bytes = Some(sent);
    c.resp_bytes = Some(recv);
    c.orig_ip_bytes = sent + 200;
    c.resp_ip_bytes = recv + 200;
    c.conn_state = ConnState::SF;
    c.duration = Some(0.5);
    c.history = "ShADadFf".into();
    c
}

pub fn udp(ts: f64, src: &str, dst: &str, port: u16, sent: u64, recv: u64) -> Conn {
    let mut c = tcp(ts, src, dst, port, sent, recv);
    c.proto = PROTO_UDP;
    c.history = "Dd".into();
    c
}

pub fn with_tls(mut c: Conn, sni: &str, ja4: Option<&str>) -> Conn {
    c.service = Some("ssl".into());
    c.app = AppMeta {
        tls: Some(Box::new(TlsMeta {
            server_name: Some(sni.into()),
            ja4: ja4.map(str::to_string),
            established: true,
            version: Some(0x0304),
            ..Default::default()
        })),
        ..c.app
    };
    c
}

pub fn with_http(mut c: Conn, host: &str, uri: &str) -> Conn {
    c.service = Some("http".into());
    c.app.http.push(HttpTxn { ts: c.ts, method: Some("GET".into()), host: Some(host.into()), uri: Some(uri.into()), ..Default::default() });
    c
}

pub fn dns(ts: f64, client: &str, resolver: &str, query: &str, qtype: u16, answers: &[&str]) -> Conn {
    let mut c = udp(ts, client, resolver, 53, 40 + query.len() as u64, 80);
    c.service = Some("dns".into());
    c.app.dns.push(DnsTxn {
        ts: c.ts,
        query: Some(query.into()),
        qtype: Some(qtype),
        rcode: Some(0),
        rd: true,
        ra: true,
        answers: answers.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    });
    c
}

pub fn shuffle_sort(mut v: Vec<Conn>) -> Vec<Conn> {
    v.sort_by_key(|c| c.ts);
    v
}

/// Site with home country CN and a small made-up GeoIP table:
/// 185.10.0.0/16 RU AS64500, 45.33.0.0/16 US AS63949, 1.192.0.0/16 CN AS4134, 116.62.0.0/16 CN AS37963.
pub fn geo_ctx() -> Context {
    use vigil_enrich::geo::{AsnEntry, AsnSource, CountrySource, Geo, RangeTable};
    let r = |a: [u8; 4]| u32::from(std::net::Ipv4Addr::from(a));
    let nets = [
        ([185, 10, 0, 0], *b"RU", 64500u32, "BadHost"),
        ([45, 33, 0, 0], *b"US", 63949, "Linode"),
        ([1, 192, 0, 0], *b"CN", 4134, "Chinanet"),
        ([116, 62, 0, 0], *b"CN", 37963, "Alibaba"),
    ];
    let (ct, _) = RangeTable::build(nets.iter().map(|(a, cc, _, _)| (r(*a), r(*a) | 0xffff, *cc)).collect(), Vec::new());
    let (at, _) =
        RangeTable::build(nets.iter().enumerate().map(|(i, (a, _, _, _))| (r(*a), r(*a) | 0xffff, i as u32)).collect(), Vec::new());
    let entries = nets.iter().map(|(_, _, asn, org)| AsnEntry { asn: *asn, org: Some(org.to_string()) }).collect();
    let c = ctx(
        "[site]\nhome_countries = [\"CN\"]\ninternal = [\"10.0.0.0/8\"]\ntimezone = \"Asia/Shanghai\"\nwork_hours = \"08:30-18:00\"\n\n[[site.zone]]\nname = \"core\"\nnetworks = [\"10.20.0.0/16\"]\ncritical = true\n",
    );
    c.with_geo(Geo::new(vec![CountrySource::Table(ct)], vec![AsnSource::Table(at, entries)]))
}
