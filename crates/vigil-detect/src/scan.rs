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

use crate::util::{self, Tuning};
use crate::Detector;
use crate::front::Rec;
use ipnet::IpNet;
use serde_json::json;
use foldhash::{HashMap, HashSet};
use std::collections::BTreeMap;
use std::net::IpAddr;
use vigil_enrich::Context;
use vigil_model::{Conn, Finding, FindingKind, Severity, Timestamp, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};

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

fn net_of(ip: IpAddr) -> IpNet {
    let len = if ip.is_ipv4() { 24 } else { 48 };
    IpNet::new(ip, len).map(|n| n.trunc()).unwrap_or_else(|_| IpNet::from(ip))
}

#[derive(Debug, Default)]
struct Src {
    targets: HashSet<(IpAddr, u32)>,
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
        if s.targets.len() < self.cfg.max_targets_per_source {
            s.targets.insert((c.resp_h, pkey(c)));
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
            for (h, p) in &s.targets {
                per_port.entry(*p).or_default().insert(*h);
                per_host.entry(*h).or_default().insert(*p);
            }
            let (hport, hcount) = per_port.iter().map(|(p, hs)| (*p, hs.len())).max_by_key(|x| (x.1, std::cmp::Reverse(x.0))).unwrap_or((0, 0));
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
            // Scan then use: a session after the scan start, from the same network or ASN, to a
            // scanned service.
            let snet = net_of(*src);
            let sasn = ctx.geo(*src).asn;
            let followups: Vec<&Session> = self
                .sessions
                .iter()
                .filter(|x| x.ts >= s.first)
                .filter(|x| snet.contains(&x.src) || (sasn.is_some() && ctx.geo(x.src).asn == sasn))
                .filter(|x| s.targets.contains(&(x.dst, x.port)))
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
            let what = if horizontal {
                format!("{} on {hcount} hosts", pkey_str(hport))
            } else {
                format!("{vcount} ports on {vhost}")
            };
            let country = util::country_str(ctx, *src);
            let summary = format!(
                "{}{src}{} ran a {kind} scan ({what}, {} probes){}.",
                if internal { "Internal host " } else { "" },
                country.as_ref().map_or(String::new(), |c| format!(" ({c})")),
                s.probes,
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
                per_port.get(&hport).map(|hs| {
                    let mut v: Vec<String> = hs.iter().map(ToString::to_string).collect();
                    v.sort();
                    v.truncate(20);
                    v
                }).unwrap_or_default()
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
