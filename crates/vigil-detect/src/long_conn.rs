//! `long_connection`: an internal host holding a session to the outside open for hours — an
//! interactive C2 channel, a reverse shell or a tunnel. Durations of the connections between
//! a host and a destination port are summed (a channel that reconnects is still one channel);
//! connections still open when the input ended (`Conn::open`) count with the time seen so far
//! and are flagged. Thresholds follow RITA's (1 h, 4 h, 8 h, 12 h). Destinations many hosts hold
//! long sessions to (push notification services, VPN concentrators) are damped.

use crate::Detector;
use crate::front::{FrontEnd, Rec};
use crate::prevalence::Prevalence;
use crate::util::{self, Tuning};
use foldhash::HashMap;
use serde_json::json;
use std::net::IpAddr;
use vigil_enrich::Context;
use vigil_model::{Conn, Finding, FindingKind, Severity, Timestamp, proto_name};

#[derive(Debug, Clone)]
pub struct LongConnConfig {
    /// Least summed duration (seconds) to report.
    pub min_duration: f64,
    pub common_min_hosts: usize,
    pub common_min_share: f64,
    pub max_pairs: usize,
}

impl Default for LongConnConfig {
    fn default() -> Self {
        LongConnConfig { min_duration: 3600.0, common_min_hosts: 3, common_min_share: 0.3, max_pairs: 2_000_000 }
    }
}

#[derive(Debug, Clone, Default)]
struct Pair {
    duration: f64,
    longest: f64,
    conns: u64,
    sent: u64,
    recv: u64,
    open: bool,
    first: Timestamp,
    last: Timestamp,
    name: Option<String>,
    proto: u8,
    encrypted: bool,
}

#[derive(Debug, Default)]
pub struct LongConnDetector {
    cfg: LongConnConfig,
    tuning: Tuning,
    pairs: HashMap<(IpAddr, IpAddr, u16), Pair>,
    prev: Prevalence<(IpAddr, u16)>,
    pub dropped: u64,
    front: FrontEnd,
}

impl LongConnDetector {
    pub fn new(cfg: LongConnConfig, tuning: Tuning) -> Self {
        LongConnDetector { cfg, tuning, ..Default::default() }
    }
}

impl Detector for LongConnDetector {
    fn name(&self) -> &'static str {
        "long_connection"
    }

    fn observe(&mut self, c: &Conn, ctx: &Context) {
        let r = self.front.rec(c, ctx);
        self.observe_rec(&r);
    }

    fn observe_rec(&mut self, r: &Rec<'_>) {
        let c = r.conn;
        if !r.orig_internal {
            return;
        }
        self.prev.add_host(r.orig_id);
        if !r.outbound() {
            return;
        }
        let dur = c.duration.unwrap_or(0.0);
        if !dur.is_finite() || dur < 60.0 {
            return;
        }
        self.prev.add_for_counted_host(&(c.resp_h, c.resp_p), r.orig_id);
        let key = (c.orig_h, c.resp_h, c.resp_p);
        if self.pairs.len() >= self.cfg.max_pairs && !self.pairs.contains_key(&key) {
            self.dropped += 1;
            return;
        }
        let p = self.pairs.entry(key).or_insert_with(|| Pair { first: c.ts, last: c.end(), proto: c.proto, ..Default::default() });
        p.duration += dur;
        p.longest = p.longest.max(dur);
        p.conns += 1;
        p.sent = p.sent.saturating_add(r.sent);
        p.recv = p.recv.saturating_add(r.recv);
        p.open |= c.open;
        p.first = p.first.min(c.ts);
        p.last = p.last.max(c.end());
        p.encrypted |= r.encrypted;
        if p.name.is_none() {
            p.name = c.server_name().map(str::to_ascii_lowercase);
        }
    }

    fn finish(&mut self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut keys: Vec<&(IpAddr, IpAddr, u16)> = self.pairs.keys().collect();
        keys.sort();
        for k in keys {
            let Some(p) = self.pairs.get(k) else { continue };
            let (host, dst, port) = *k;
            if p.duration < self.cfg.min_duration || self.tuning.is_allowed(ctx, dst, p.name.as_deref(), None) {
                continue;
            }
            let h = p.duration / 3600.0;
            let mut score = if h >= 24.0 {
                0.85
            } else if h >= 12.0 {
                0.75 + 0.1 * (h - 12.0) / 12.0
            } else if h >= 8.0 {
                0.65 + 0.1 * (h - 8.0) / 4.0
            } else if h >= 4.0 {
                0.5 + 0.15 * (h - 4.0) / 4.0
            } else {
                0.35 + 0.15 * (h - 1.0) / 3.0
            };
            let foreign = ctx.is_foreign(dst);
            match foreign {
                Some(true) => score += 0.05,
                Some(false) => score -= 0.1,
                None => {}
            }
            let common = self.prev.is_common(&(dst, port), self.cfg.common_min_hosts, self.cfg.common_min_share);
            if common {
                score *= 0.5;
            }
            let score = util::round3(util::clamp01(score));
            if score < 0.3 {
                continue;
            }
            let id = Finding::stable_id(FindingKind::LongConnection, &[&host.to_string(), &dst.to_string(), &port.to_string()]);
            if self.tuning.is_suppressed(&id) {
                continue;
            }
            let target = p.name.as_ref().map_or_else(|| format!("{dst}:{port}"), |n| format!("{n} ({dst}:{port})"));
            let summary = format!(
                "{host} kept a {} session to {target} open for {}{} in {} connection(s), moving {} out and {} in — a long-lived channel such as remote control or a tunnel.",
                proto_name(p.proto),
                util::human_secs(p.duration),
                if p.open { " and it was still open when the data ended" } else { "" },
                p.conns,
                util::human_bytes(p.sent),
                util::human_bytes(p.recv),
            );
            let mut dsts = vec![dst.to_string()];
            if let Some(n) = &p.name {
                dsts.push(n.clone());
            }
            let mut attack = vec!["T1071".to_string()];
            if p.encrypted {
                attack.push("T1573".into());
            }
            out.push(Finding {
                id,
                kind: FindingKind::LongConnection,
                severity: Severity::from_score(score),
                score,
                src: host.to_string(),
                dst: dsts,
                path: Vec::new(),
                first_seen: util::site_time(ctx, p.first),
                last_seen: util::site_time(ctx, p.last),
                attack,
                summary,
                evidence: json!({
                    "duration_s": p.duration.round(),
                    "longest_connection_s": p.longest.round(),
                    "connections": p.conns,
                    "still_open": p.open,
                    "port": port,
                    "proto": proto_name(p.proto),
                    "bytes_sent": p.sent,
                    "bytes_received": p.recv,
                    "encrypted": p.encrypted,
                    "country": util::country_str(ctx, dst),
                    "foreign": foreign,
                    "hosts_using_destination": self.prev.hosts_for(&(dst, port)),
                    "damped_as_common_service": common,
                }),
            });
        }
        out
    }
}
