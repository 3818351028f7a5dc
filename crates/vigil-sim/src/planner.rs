//! Shared planning helpers: time of day in the site's zone, ephemeral ports, DNS lookups through
//! the internal resolver, and one-call builders for the common conversation types.

use crate::apps::{dns, tls};
use crate::spec::{App, Flow, Prelude, Spec};
use crate::tcp::Outcome;
use crate::wire::Endpoint;
use crate::world::{Ext, Host, Services, SiteModel, UTC_OFFSET_S};
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;
use std::net::Ipv4Addr;

pub const US: i64 = 1_000_000;

pub struct Planner<'a> {
    pub site: &'a SiteModel,
    pub svc: &'a Services,
    pub rng: ChaCha8Rng,
    pub specs: Vec<Spec>,
    /// Capture start (local midnight) and end, µs.
    pub start_us: i64,
    pub end_us: i64,
    pub days: u32,
    /// Truth-item tag for specs pushed now (bit mask; 0 = background).
    pub tag: u32,
    pub tags: Vec<u32>,
    /// Inventory decommission dates set by storylines: (host, YYYY-MM-DD).
    pub decommission: Vec<(usize, String)>,
}

impl<'a> Planner<'a> {
    pub fn new(site: &'a SiteModel, svc: &'a Services, rng: ChaCha8Rng, start_us: i64, days: u32) -> Self {
        Planner {
            site,
            svc,
            rng,
            specs: Vec::new(),
            start_us,
            end_us: start_us + days as i64 * 86_400 * US,
            days,
            tag: 0,
            tags: Vec::new(),
            decommission: Vec::new(),
        }
    }

    /// µs of local time `hour` (fractional) on capture day `day`.
    pub fn at(&self, day: u32, hour: f64) -> i64 {
        self.start_us + day as i64 * 86_400 * US + (hour * 3600.0 * US as f64) as i64
    }

    /// µs of a uniformly random local time between hours `lo` and `hi` on `day`.
    pub fn at_rand(&mut self, day: u32, lo: f64, hi: f64) -> i64 {
        let h = self.rng.gen_range(lo..hi);
        self.at(day, h)
    }

    /// Day of week of capture day `day` (0 = Monday), given the start's weekday.
    pub fn weekday(&self, day: u32) -> u32 {
        let start_days = (self.start_us / US + UTC_OFFSET_S).div_euclid(86_400);
        // 1970-01-01 was a Thursday (3 with Monday = 0).
        ((start_days + 3 + day as i64).rem_euclid(7)) as u32
    }

    pub fn is_workday(&self, day: u32) -> bool {
        self.weekday(day) < 5
    }

    pub fn push(&mut self, start_us: i64, flow: Flow, outcome: Outcome, app: App) {
        if start_us < self.start_us || start_us >= self.end_us {
            return;
        }
        let seed = self.rng.next_u64();
        self.specs.push(Spec { start_us, seed, flow, outcome, app });
        self.tags.push(self.tag);
    }

    pub fn eport(&mut self, windows: bool) -> u16 {
        if windows { self.rng.gen_range(49_152..65_535) } else { self.rng.gen_range(32_768..60_999) }
    }

    pub fn host(&self, i: usize) -> &'a Host {
        &self.site.hosts[i]
    }

    /// Internal → internal flow.
    pub fn flow_in(&mut self, c: usize, s: usize, port: u16) -> Flow {
        let (hc, hs) = (self.host(c), self.host(s));
        let cp = self.eport(hc.windows);
        Flow { c: hc.ep(cp), s: hs.ep(port), rtt_us: self.rng.gen_range(200..900), near_client: true }
    }

    /// Internal host → external service.
    pub fn flow_out(&mut self, c: usize, e: &Ext, port: u16) -> Flow {
        let hc = self.host(c);
        let cp = self.eport(hc.windows);
        Flow { c: hc.ep(cp), s: e.ep(port), rtt_us: e.rtt_us + self.rng.gen_range(0..e.rtt_us / 10 + 1), near_client: true }
    }

    /// External address → internal server (the sensor is near the server).
    pub fn flow_from_outside(&mut self, ip: Ipv4Addr, country: &str, s: usize, port: u16) -> Flow {
        let e = Ext { ip, name: String::new(), country: "ZZ", tls13: false, issuer: ("", ""), rtt_us: 0 };
        let rtt = crate::world::rtt_for(country, &mut self.rng);
        let cp = self.rng.gen_range(32_768..60_999);
        Flow { c: e.ep(cp), s: self.host(s).ep(port), rtt_us: rtt, near_client: false }
    }

    /// A lookup through the internal resolver; on a cache miss the resolver asks upstream
    /// first. Returns when the answer reached the client.
    pub fn lookup(&mut self, t: i64, client: usize, name: &str, qtype: u16, answers: Vec<dns::Answer>, miss: bool) -> i64 {
        let resolver = self.site.find("dns01");
        let rcode = if answers.is_empty() && qtype == dns::TYPE_A { 3 } else { 0 };
        let mut delay = self.rng.gen_range(300..1_500);
        if miss && client != resolver {
            let up = self.svc.upstream_dns[self.rng.gen_range(0..self.svc.upstream_dns.len())].clone();
            let mut f = self.flow_out(resolver, &up, 53);
            f.c.port = self.rng.gen_range(1_024..65_000);
            let id = self.rng.r#gen();
            let ud = up.rtt_us + self.rng.gen_range(500..20_000);
            self.push(
                t + 200,
                f,
                Outcome::Closed,
                App::Dns { id, qname: name.to_string(), qtype, answers: answers.clone(), rcode, delay_us: ud },
            );
            delay += ud + 400;
        }
        let mut f = self.flow_in(client, resolver, 53);
        f.near_client = true;
        let id = self.rng.r#gen();
        self.push(t, f, Outcome::Closed, App::Dns { id, qname: name.to_string(), qtype, answers, rcode, delay_us: delay });
        t + delay + 200
    }

    pub fn server_spec(
        &self,
        name: &str,
        e_tls13: bool,
        issuer: (&str, &str),
        self_signed: bool,
        alpn: Option<&str>,
        country: Option<&str>,
    ) -> Box<tls::ServerSpec> {
        Box::new(tls::ServerSpec {
            name: name.to_string(),
            tls13: e_tls13,
            self_signed,
            issuer: (issuer.0.to_string(), issuer.1.to_string()),
            country: country.map(str::to_string),
            alpn: alpn.map(str::to_string),
            not_before: self.start_us / US - 90 * 86_400,
        })
    }

    /// DNS lookup then a TLS session to an external service on 443.
    #[allow(clippy::too_many_arguments)]
    pub fn tls_out(
        &mut self,
        t: i64,
        client: usize,
        e: &Ext,
        profile: tls::ClientProfile,
        exchanges: Vec<(u64, u64, i64)>,
        rate: f64,
        resolve: bool,
    ) {
        let mut t = t;
        if resolve {
            let miss = self.rng.gen_bool(0.35);
            t = self.lookup(t, client, &e.name, dns::TYPE_A, vec![dns::Answer::A(e.ip)], miss);
        }
        let flow = self.flow_out(client, e, 443);
        let server = self.server_spec(&e.name, e.tls13, e.issuer, false, Some("h2"), None);
        self.push(t, flow, Outcome::Closed, App::Tls { profile, sni: e.name.clone(), server, exchanges, prelude: Prelude::None, rate });
    }

    /// A TLS session between internal hosts (web apps, webmail, admin consoles, databases).
    #[allow(clippy::too_many_arguments)]
    pub fn tls_in(
        &mut self,
        t: i64,
        client: usize,
        server: usize,
        port: u16,
        profile: tls::ClientProfile,
        exchanges: Vec<(u64, u64, i64)>,
        prelude: Prelude,
    ) {
        let name = format!("{}.{}", self.host(server).name, crate::world::DOMAIN);
        let flow = self.flow_in(client, server, port);
        let spec = self.server_spec(&name, false, ("JHRI Internal CA", "Jinghai Research Institute"), false, Some("http/1.1"), None);
        let sni = if prelude == Prelude::None { name } else { String::new() };
        self.push(t, flow, Outcome::Closed, App::Tls { profile, sni, server: spec, exchanges, prelude, rate: 20e6 });
    }

    pub fn ssh(&mut self, t: i64, flow: Flow, exchanges: Vec<(u64, u64, i64)>) {
        self.push(
            t,
            flow,
            Outcome::Closed,
            App::Ssh {
                client_banner: "SSH-2.0-OpenSSH_for_Windows_9.5",
                server_banner: "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10",
                exchanges,
            },
        );
    }

    /// A random-ish interactive exchange list: `n` rounds, bytes drawn in the given ranges.
    pub fn rounds(&mut self, n: usize, up: (u64, u64), down: (u64, u64), pause: (i64, i64)) -> Vec<(u64, u64, i64)> {
        (0..n.max(1))
            .map(|_| (self.rng.gen_range(up.0..=up.1), self.rng.gen_range(down.0..=down.1), self.rng.gen_range(pause.0..=pause.1)))
            .collect()
    }

    /// A workstation-like endpoint pair for ARP with the zone gateway.
    pub fn gateway_ep(&self, host: usize) -> Endpoint {
        let h = self.host(host);
        Endpoint { mac: crate::world::ROUTER_MAC, ip: h.zone.gateway(), port: 0, ttl: 255 }
    }
}
