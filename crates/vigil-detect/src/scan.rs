//! `inbound_scan`: a source sweeping the site — one port across many hosts (horizontal) or many
//! ports on one host (vertical). Probes are connections without payload in either direction
//! (refused, unanswered, or opened and reset at once), and ICMP echo requests. The finding's
//! `src` is the scanner. Severity rises when, after the scan, a real session (payload both
//! ways) from the same /24 (/48 for IPv6) or the same ASN reaches a service that was scanned:
//! the scan found something and someone used it. Internal sources scanning are reported too
//! (network discovery from inside is a step of lateral movement), but not the site's own
//! infrastructure: a DHCP server's offers and acknowledgements go to every client, and a
//! monitoring server pings the same hosts around the clock. A sweep touches each target a few
//! times; an internal source that returns to the same targets again and again over hours is
//! polling them, not discovering them.
//!
//! Two things weigh a sweep beyond its breadth. The service: a sweep of an administration or
//! remote-access port (RDP, SSH, SMB, VNC, WinRM, Telnet, databases — [`Context::is_admin_port`],
//! the site's `admin_ports` included) is how access brokers and ransomware crews find their way
//! in, and how worms spread inside. And the pace, for internal sources: failed connections to
//! many distinct hosts on one TCP port within a minute, while the same host's other sessions
//! of the same address family succeed, is automated probing (a worm or scanner on the host).
//! Blocked egress looks different — one host retrying the same few destinations, or, when the
//! uplink or IPv6 is broken, every session failing at once (nothing succeeds around the burst).

use crate::Detector;
use crate::front::Rec;
use crate::util::{self, Tuning};
use foldhash::{HashMap, HashSet};
use ipnet::IpNet;
use serde_json::json;
use std::collections::BTreeMap;
use std::net::IpAddr;
use vigil_enrich::Context;
use vigil_model::{Conn, ConnState, Finding, FindingKind, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, Severity, Timestamp};

#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// Fewest distinct hosts on one port (horizontal) or ports on one host (vertical).
    pub min_targets: usize,
    pub max_sources: usize,
    pub max_targets_per_source: usize,
    pub max_sessions: usize,
    /// An internal source whose probes average at least this many per target, spread over at
    /// least `polling_min_span_s`, is polling its targets (monitoring), not sweeping them.
    pub polling_min_repeats: f64,
    pub polling_min_span_s: i64,
    /// A burst: at least `min_targets` distinct hosts on one TCP port, first probed within this
    /// many seconds.
    pub burst_window_s: i64,
    /// Score added for a sweep of an administration/remote-access port, and for a burst from an
    /// internal source whose other sessions succeeded meanwhile.
    pub admin_service_weight: f64,
    pub burst_weight: f64,
    /// Most minutes with a successful session kept per internal source (the evidence that its
    /// network worked during a burst).
    pub max_ok_minutes: usize,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            min_targets: 10,
            max_sources: 200_000,
            max_targets_per_source: 200_000,
            max_sessions: 2_000_000,
            polling_min_repeats: 10.0,
            polling_min_span_s: 6 * 3600,
            burst_window_s: 60,
            admin_service_weight: 0.15,
            burst_weight: 0.15,
            max_ok_minutes: 20_000,
        }
    }
}

/// Port key: protocol in the high half so that 53/tcp and 53/udp stay apart; ICMP echo is 0.
fn pkey(c: &Conn) -> u32 {
    (u32::from(c.proto) << 16) | u32::from(if matches!(c.proto, PROTO_ICMP | PROTO_ICMPV6) { 0 } else { c.resp_p })
}

fn pkey_str(k: u32) -> String {
    let proto = (k >> 16) as u8;
    match proto {
        PROTO_TCP => format!("{}/tcp", k & 0xffff),
        PROTO_UDP => format!("{}/udp", k & 0xffff),
        PROTO_ICMP | PROTO_ICMPV6 => "icmp-echo".into(),
        p => format!("{}/{p}", k & 0xffff),
    }
}

/// A datagram from a service's own port to its clients' port — a DHCP server's offer or
/// acknowledgement (67 → 68, DHCPv6 547 → 546) — is the service answering, not a probe.
fn service_reply(c: &Conn) -> bool {
    c.proto == PROTO_UDP && matches!((c.orig_p, c.resp_p), (67, 68) | (547, 546))
}

/// No answer, and the originator's packets carry no payload (or, without payload counts, are
/// no bigger than TCP/IP headers with options).
fn header_only_unanswered(c: &Conn, sent: u64, recv: u64) -> bool {
    const MAX_HEADER_BYTES: u64 = 80;
    recv == 0
        && c.resp_pkts == 0
        && (c.orig_bytes == Some(0) || (c.orig_bytes.is_none() && sent <= MAX_HEADER_BYTES.saturating_mul(c.orig_pkts.max(1))))
}

fn net_of(ip: IpAddr) -> IpNet {
    let len = if ip.is_ipv4() { 24 } else { 48 };
    IpNet::new(ip, len).map(|n| n.trunc()).unwrap_or_else(|_| IpNet::from(ip))
}

#[derive(Debug, Default)]
struct Src {
    /// Each target with the time (seconds) it was first probed.
    targets: HashMap<(IpAddr, u32), i64>,
    /// Minutes in which this (internal) source, once it had probed, started a session that was
    /// answered, with the address family (true for IPv6): kept once per minute and family.
    ok_minutes: Vec<(i64, bool)>,
    probes: u64,
    first: Timestamp,
    last: Timestamp,
    full: bool,
}

#[derive(Debug, Clone, Copy)]
struct Session {
    src: IpAddr,
    dst: IpAddr,
    port: u32,
    ts: Timestamp,
    bytes: u64,
}

#[derive(Debug, Default)]
pub struct ScanDetector {
    cfg: ScanConfig,
    tuning: Tuning,
    sources: HashMap<IpAddr, Src>,
    sessions: Vec<Session>,
    pub dropped: u64,
}

impl ScanDetector {
    pub fn new(cfg: ScanConfig, tuning: Tuning) -> Self {
        ScanDetector { cfg, tuning, ..Default::default() }
    }

    /// An answered session from an internal host that has already probed: proof, for a later
    /// burst judgement, that its network worked at that minute. One hash lookup; one push per
    /// minute and family at most.
    fn note_answered(&mut self, c: &Conn) {
        let Some(s) = self.sources.get_mut(&c.orig_h) else { return };
        let entry = (c.ts.secs().div_euclid(60), c.resp_h.is_ipv6());
        if s.ok_minutes.last() != Some(&entry) {
            if s.ok_minutes.len() < self.cfg.max_ok_minutes {
                s.ok_minutes.push(entry);
            } else {
                self.dropped += 1;
            }
        }
    }
}

/// The densest burst of a source's TCP probes: (port key, distinct hosts, first, last probe
/// second) of the most hosts on one TCP port first probed within `window_s` seconds.
fn densest_burst(targets: &HashMap<(IpAddr, u32), i64>, window_s: i64) -> Option<(u32, usize, i64, i64)> {
    let mut per_port: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
    for ((_, p), t) in targets {
        if (p >> 16) as u8 == PROTO_TCP {
            per_port.entry(*p).or_default().push(*t);
        }
    }
    let mut best: Option<(u32, usize, i64, i64)> = None;
    for (port, mut times) in per_port {
        times.sort_unstable();
        let mut lo = 0usize;
        for (hi, &t) in times.iter().enumerate() {
            while times.get(lo).is_some_and(|&x| t.saturating_sub(x) > window_s) {
                lo += 1;
            }
            let n = hi + 1 - lo;
            if best.is_none_or(|b| n > b.1) {
                best = Some((port, n, times.get(lo).copied().unwrap_or(t), t));
            }
        }
    }
    best
}

/// Whether `ok` (minutes with an answered session, by family) holds one of `v6`'s family
/// between the burst's first minute and the minute after its last probe.
fn answered_during(ok: &[(i64, bool)], first: i64, last: i64, v6: bool) -> bool {
    let (m0, m1) = (first.div_euclid(60), last.div_euclid(60).saturating_add(1));
    ok.iter().any(|&(m, fam)| fam == v6 && m >= m0 && m <= m1)
}

impl Detector for ScanDetector {
    fn name(&self) -> &'static str {
        "inbound_scan"
    }

    fn observe(&mut self, c: &Conn, ctx: &Context) {
        self.observe_rec(&Rec::standalone(c, ctx));
    }

    fn observe_rec(&mut self, r: &Rec<'_>) {
        let c = r.conn;
        if r.resp_noise {
            return;
        }
        let icmp = matches!(c.proto, PROTO_ICMP | PROTO_ICMPV6);
        // ICMP: only echo requests (type 8, or 128 for v6) are probes.
        if icmp && !(c.orig_p == 8 || c.orig_p == 128) {
            return;
        }
        if service_reply(c) {
            return;
        }
        let (sent, recv) = (r.sent, r.recv);
        let payload = util::has_payload(c);
        if r.orig_internal && !icmp && c.conn_state.established() {
            self.note_answered(c);
        }
        if !icmp && payload && c.conn_state.established() {
            // A real session: kept when it comes from outside, to judge scan-then-use.
            if !r.orig_internal && r.resp_internal {
                if self.sessions.len() < self.cfg.max_sessions {
                    self.sessions.push(Session { src: c.orig_h, dst: c.resp_h, port: pkey(c), ts: c.ts, bytes: sent.saturating_add(recv) });
                } else {
                    self.dropped += 1;
                }
            }
            return;
        }
        // TCP without a SYN seen is the middle of a session the capture joined late (or a
        // capture that kept only some packets), not a connection attempt — unless it is
        // header-sized packets with nothing back: a flow export without TCP flags shows a
        // SYN probe that way.
        if c.proto == PROTO_TCP && c.conn_state == ConnState::OTH && !header_only_unanswered(c, sent, recv) {
            return;
        }
        // A probe is aimed at our hosts (from anywhere) or from our hosts at anything.
        if !r.resp_internal && !r.orig_internal {
            return;
        }
        // From inside, only unanswered or refused attempts count: browsers open and drop idle
        // connections to many web servers, which is not a sweep.
        if r.orig_internal && !icmp && c.conn_state.established() {
            return;
        }
        if self.sources.len() >= self.cfg.max_sources && !self.sources.contains_key(&c.orig_h) {
            self.dropped += 1;
            return;
        }
        let s = self.sources.entry(c.orig_h).or_insert_with(|| Src { first: c.ts, last: c.ts, ..Default::default() });
        s.probes += 1;
        s.first = s.first.min(c.ts);
        s.last = s.last.max(c.ts);
        let key = (c.resp_h, pkey(c));
        if let Some(t) = s.targets.get_mut(&key) {
            *t = (*t).min(c.ts.secs());
        } else if s.targets.len() < self.cfg.max_targets_per_source {
            s.targets.insert(key, c.ts.secs());
        } else {
            s.full = true;
        }
    }

    fn finish(&mut self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut srcs: Vec<&IpAddr> = self.sources.keys().collect();
        srcs.sort();
        for src in srcs {
            let Some(s) = self.sources.get(src) else { continue };
            let mut per_port: BTreeMap<u32, HashSet<IpAddr>> = BTreeMap::new();
            let mut per_host: BTreeMap<IpAddr, HashSet<u32>> = BTreeMap::new();
            for (h, p) in s.targets.keys() {
                per_port.entry(*p).or_default().insert(*h);
                per_host.entry(*h).or_default().insert(*p);
            }
            let (hport, hcount) =
                per_port.iter().map(|(p, hs)| (*p, hs.len())).max_by_key(|x| (x.1, std::cmp::Reverse(x.0))).unwrap_or((0, 0));
            let (vhost, vcount) =
                per_host.iter().map(|(h, ps)| (*h, ps.len())).max_by_key(|x| (x.1, std::cmp::Reverse(x.0))).unwrap_or((*src, 0));
            if hcount < self.cfg.min_targets && vcount < self.cfg.min_targets {
                continue;
            }
            if self.tuning.is_allowed(ctx, *src, None, None) {
                continue;
            }
            let internal = ctx.is_internal(*src);
            let repeats = s.probes as f64 / s.targets.len().max(1) as f64;
            let span_s = s.last.secs().saturating_sub(s.first.secs());
            if internal && !s.full && repeats >= self.cfg.polling_min_repeats && span_s >= self.cfg.polling_min_span_s {
                continue;
            }
            let horizontal = hcount >= self.cfg.min_targets;
            let vertical = vcount >= self.cfg.min_targets;
            let sh = util::ramp((hcount as f64).log10(), 1.0, 2.7);
            let sv = util::ramp((vcount as f64).log10(), 1.0, 3.0);
            let mut score = 0.3 + 0.35 * sh.max(sv);
            if internal {
                score += 0.15;
            }
            // The service swept: administration and remote access.
            let admin_port = horizontal && (hport >> 16) as u8 == PROTO_TCP && ctx.is_admin_port((hport & 0xffff) as u16);
            if admin_port {
                score += self.cfg.admin_service_weight;
            }
            // The pace, from inside: many hosts in a minute while the host's other sessions
            // of the same family were answered (the network worked; the targets did not).
            let burst =
                if internal { densest_burst(&s.targets, self.cfg.burst_window_s) } else { None }.filter(|b| b.1 >= self.cfg.min_targets);
            let burst_v6 = burst.is_some_and(|b| s.targets.iter().any(|((h, p), t)| *p == b.0 && *t >= b.2 && *t <= b.3 && h.is_ipv6()));
            let burst_answered = burst.is_some_and(|b| answered_during(&s.ok_minutes, b.2, b.3, burst_v6));
            if burst_answered {
                score += self.cfg.burst_weight;
            }
            // Scan then use: a session after the scan start, from the same network or ASN, to a
            // scanned service.
            let snet = net_of(*src);
            let sasn = ctx.geo(*src).asn;
            let followups: Vec<&Session> = self
                .sessions
                .iter()
                .filter(|x| x.ts >= s.first)
                .filter(|x| snet.contains(&x.src) || (sasn.is_some() && ctx.geo(x.src).asn == sasn))
                .filter(|x| s.targets.contains_key(&(x.dst, x.port)))
                .take(50)
                .collect();
            if !followups.is_empty() {
                score += 0.3;
            }
            let score = util::round3(util::clamp01(score));
            let id = Finding::stable_id(FindingKind::InboundScan, &[&src.to_string()]);
            if self.tuning.is_suppressed(&id) {
                continue;
            }
            let kind = match (horizontal, vertical) {
                (true, true) => "horizontal and vertical",
                (true, false) => "horizontal",
                _ => "vertical",
            };
            let what = if horizontal { format!("{} on {hcount} hosts", pkey_str(hport)) } else { format!("{vcount} ports on {vhost}") };
            let country = util::country_str(ctx, *src);
            let mut notes = Vec::new();
            if admin_port {
                notes.push(format!("{} is an administration/remote-access service", pkey_str(hport)));
            }
            if let (Some(b), true) = (burst, burst_answered) {
                notes.push(format!(
                    "{} hosts on {} failed within {} s while its other connections were answered",
                    b.1,
                    pkey_str(b.0),
                    b.3.saturating_sub(b.2).max(1)
                ));
            }
            let summary = format!(
                "{}{src}{} ran a {kind} scan ({what}, {} probes{}){}.",
                if internal { "Internal host " } else { "" },
                country.as_ref().map_or(String::new(), |c| format!(" ({c})")),
                s.probes,
                notes.iter().map(|n| format!("; {n}")).collect::<String>(),
                if followups.is_empty() {
                    String::new()
                } else {
                    format!(
                        " and afterwards {} session(s) from the same network reached a scanned service ({}) — check those hosts for compromise",
                        followups.len(),
                        followups.iter().take(3).map(|f| format!("{}:{}", f.dst, pkey_str(f.port))).collect::<Vec<_>>().join(", ")
                    )
                }
            );
            let mut dst: Vec<String> = if horizontal {
                per_port
                    .get(&hport)
                    .map(|hs| {
                        let mut v: Vec<String> = hs.iter().map(ToString::to_string).collect();
                        v.sort();
                        v.truncate(20);
                        v
                    })
                    .unwrap_or_default()
            } else {
                vec![vhost.to_string()]
            };
            dst.dedup();
            let top_ports: Vec<serde_json::Value> = {
                let mut v: Vec<(u32, usize)> = per_port.iter().map(|(p, hs)| (*p, hs.len())).collect();
                v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                v.into_iter().take(10).map(|(p, n)| json!({"port": pkey_str(p), "hosts": n})).collect()
            };
            let attack = if internal { vec!["T1046".to_string()] } else { vec!["T1595.001".to_string(), "T1046".to_string()] };
            let last = followups.iter().map(|f| f.ts).max().map_or(s.last, |t| t.max(s.last));
            out.push(Finding {
                id,
                kind: FindingKind::InboundScan,
                severity: Severity::from_score(score),
                score,
                src: src.to_string(),
                dst,
                path: Vec::new(),
                first_seen: util::site_time(ctx, s.first),
                last_seen: util::site_time(ctx, last),
                attack,
                summary,
                evidence: json!({
                    "scan_type": kind,
                    "probes": s.probes,
                    "targets": s.targets.len(),
                    "targets_capped": s.full,
                    "max_hosts_on_one_port": hcount,
                    "port_most_swept": pkey_str(hport),
                    "max_ports_on_one_host": vcount,
                    "host_most_swept": vhost.to_string(),
                    "distinct_hosts": per_host.len(),
                    "distinct_ports": per_port.len(),
                    "top_ports": top_ports,
                    "internal_source": internal,
                    "admin_service": admin_port,
                    "burst": burst.map(|b| json!({
                        "port": pkey_str(b.0), "hosts": b.1, "seconds": b.3.saturating_sub(b.2),
                        "other_sessions_answered": burst_answered,
                    })),
                    "country": country,
                    "asn": sasn,
                    "followup_sessions": followups.iter().map(|f| json!({
                        "src": f.src.to_string(), "dst": f.dst.to_string(), "port": pkey_str(f.port),
                        "ts": util::site_time(ctx, f.ts).to_rfc3339(), "bytes": f.bytes,
                    })).collect::<Vec<_>>(),
                }),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str, port: u16) -> (IpAddr, u32) {
        (ip.parse().unwrap(), (u32::from(PROTO_TCP) << 16) | u32::from(port))
    }

    #[test]
    fn the_densest_burst_is_per_tcp_port_within_the_window() {
        let mut t: HashMap<(IpAddr, u32), i64> = HashMap::default();
        // Twelve hosts on 80/tcp, two every 10 s; eight on 443/tcp within 5 s; UDP ignored.
        for i in 0..12i64 {
            t.insert(key(&format!("198.51.100.{i}"), 80), 1_000 + (i / 2) * 10);
        }
        for i in 0..8i64 {
            t.insert(key(&format!("203.0.113.{i}"), 443), 2_000 + i / 2);
        }
        for i in 0..30i64 {
            t.insert(((format!("192.0.2.{i}")).parse().unwrap(), (u32::from(PROTO_UDP) << 16) | 53), 3_000);
        }
        let (port, n, first, last) = densest_burst(&t, 60).expect("a burst");
        assert_eq!((port & 0xffff, n, first, last), (80, 12, 1_000, 1_050));
        // A narrower window cuts the slow sweep below the 443 one.
        let (port, n, _, _) = densest_burst(&t, 5).expect("a burst");
        assert_eq!((port & 0xffff, n), (443, 8));
        // Hostile timestamps do not overflow.
        let mut h: HashMap<(IpAddr, u32), i64> = HashMap::default();
        h.insert(key("198.51.100.1", 80), i64::MIN);
        h.insert(key("198.51.100.2", 80), i64::MAX);
        assert_eq!(densest_burst(&h, 60).map(|b| b.1), Some(1));
    }

    #[test]
    fn a_flow_without_flags_is_a_probe_only_when_header_sized_and_unanswered() {
        let mut c = Conn::new(Timestamp::from_secs(0), "10.0.0.1".parse().unwrap(), 40000, "198.51.100.1".parse().unwrap(), 80, PROTO_TCP);
        c.conn_state = ConnState::OTH;
        (c.orig_pkts, c.orig_ip_bytes) = (1, 60);
        assert!(header_only_unanswered(&c, 60, 0));
        // A ClientHello seen mid-stream: payload, so not a probe.
        c.orig_bytes = Some(517);
        assert!(!header_only_unanswered(&c, 517, 0));
        // Anything back: not unanswered.
        c.orig_bytes = None;
        c.resp_pkts = 1;
        assert!(!header_only_unanswered(&c, 60, 40));
    }

    #[test]
    fn answered_sessions_count_in_the_bursts_minutes_and_family_only() {
        let ok = [(16, false), (20, true)];
        assert!(answered_during(&ok, 16 * 60 + 5, 16 * 60 + 50, false));
        // The minute after the last probe counts; two minutes after does not.
        assert!(answered_during(&ok, 15 * 60, 15 * 60 + 59, false));
        assert!(!answered_during(&ok, 14 * 60, 14 * 60 + 59, false));
        // IPv6 failures need IPv6 sessions.
        assert!(!answered_during(&ok, 16 * 60, 16 * 60 + 30, true));
        assert!(answered_during(&ok, 20 * 60, 20 * 60 + 30, true));
    }
}
