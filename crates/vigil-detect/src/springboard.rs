//! `springboard`: a host used as a stepping stone. A session comes into host A from outside
//! (or from a lower-trust zone), and while it lasts, or shortly after, A opens administration
//! or data sessions (SSH, RDP, SMB, WinRM, RPC, VNC, Telnet, database ports) to B in a more
//! critical zone, and possibly onward to C. The whole chain is reported in `path`, outside
//! first.
//!
//! Chains are scored by the trust gained from start to end (zone crossings), whether the start
//! is on the internet (and abroad), the timing correlation between arriving and leaving, the
//! protocols, how new each edge is (against the stored history where there is one, and against
//! its recurrence in the window), and the hour. Declared admin sources and routine edges (a web
//! server querying its database all day) are scored down so that ordinary administration
//! through a jump host in work hours stays below medium.

use crate::Detector;
use crate::front::Rec;
use crate::graph::{AdminService, Edge, Recurrence, attack_ids, edge_known, host_label, r3, zone_label};
use foldhash::{HashMap, HashMapExt};
use serde_json::json;
use std::net::IpAddr;
use vigil_enrich::Context;
use vigil_model::{Conn, Finding, FindingKind, PROTO_TCP, Severity, Timestamp};

/// Settings; the defaults suit a site where attackers act within minutes of arriving.
#[derive(Clone, Debug)]
pub struct SpringboardConfig {
    /// How long after an incoming session ends an onward hop still counts as following it.
    pub window_secs: f64,
    /// Longest chain followed (hosts after the origin).
    pub max_depth: usize,
    /// Edges kept in memory; further ones are counted and dropped.
    pub max_edges: usize,
    /// Chains reported per springboard host.
    pub max_findings_per_host: usize,
}

impl Default for SpringboardConfig {
    fn default() -> Self {
        SpringboardConfig { window_secs: 600.0, max_depth: 5, max_edges: 2_000_000, max_findings_per_host: 3 }
    }
}

pub struct SpringboardDetector {
    cfg: SpringboardConfig,
    /// Sessions into internal hosts, by destination.
    inbound: HashMap<IpAddr, Vec<Edge>>,
    /// Admin sessions between internal hosts, by source.
    onward: HashMap<IpAddr, Vec<Edge>>,
    recurrence: Recurrence,
    /// Index of the last entry session per (origin, destination), for merging repeats.
    last_entry: HashMap<(IpAddr, IpAddr), usize>,
    stored: usize,
    pub dropped: u64,
}

impl Default for SpringboardDetector {
    fn default() -> Self {
        SpringboardDetector::new(SpringboardConfig::default())
    }
}

impl SpringboardDetector {
    pub fn new(cfg: SpringboardConfig) -> Self {
        SpringboardDetector {
            cfg,
            inbound: HashMap::new(),
            onward: HashMap::new(),
            recurrence: Recurrence::default(),
            last_entry: HashMap::new(),
            stored: 0,
            dropped: 0,
        }
    }

    fn keep(&mut self) -> bool {
        if self.stored >= self.cfg.max_edges {
            self.dropped += 1;
            return false;
        }
        self.stored += 1;
        true
    }
}

/// One candidate chain: the entry session, then the onward hops.
struct Chain<'a> {
    entry: &'a Edge,
    hops: Vec<&'a Edge>,
}

impl Detector for SpringboardDetector {
    fn name(&self) -> &'static str {
        "springboard"
    }

    fn observe(&mut self, c: &Conn, ctx: &Context) {
        self.observe_rec(&Rec::standalone(c, ctx));
    }

    fn observe_rec(&mut self, r: &Rec<'_>) {
        let c = r.conn;
        if c.proto != PROTO_TCP || c.orig_h == c.resp_h || !r.resp_internal {
            return;
        }
        // Failed sessions that are not administration are dropped below anyway: decide that
        // before building the edge (which copies the service name).
        let admin = r.orig_internal && r.admin.is_some();
        if !r.ok && !admin {
            return;
        }
        self.add(Edge::from_rec(r), r.orig_internal);
    }

    fn finish(&mut self, ctx: &Context) -> Vec<Finding> {
        self.finish_chains(ctx)
    }
}

impl SpringboardDetector {
    fn add(&mut self, e: Edge, src_internal: bool) {
        if src_internal && e.service.is_some() {
            self.recurrence.add(&e);
        }
        if !e.ok {
            // Failed attempts are only evidence; keep the admin ones.
            if src_internal && e.service.is_some() && self.keep() {
                self.onward.entry(e.src).or_default().push(e);
            }
            return;
        }
        // Entry sessions: anything from outside, or an admin session from inside (how one
        // lands on a jump host from a lower-trust zone).
        let entry = !src_internal || e.service.is_some();
        let onward = src_internal && e.service.is_some();
        if entry {
            // A client's repeated sessions to the same host within the window are one visit:
            // merge them (keeps a busy public server's entries small).
            let list = self.inbound.entry(e.dst).or_default();
            let merged = match self.last_entry.get(&(e.src, e.dst)).and_then(|i| list.get_mut(*i)) {
                Some(prev) if prev.port == e.port && e.ts >= prev.ts && e.ts.since(prev.end) <= self.cfg.window_secs => {
                    prev.end = prev.end.max(e.end);
                    prev.orig_bytes = prev.orig_bytes.saturating_add(e.orig_bytes);
                    prev.resp_bytes = prev.resp_bytes.saturating_add(e.resp_bytes);
                    true
                }
                _ => false,
            };
            if !merged {
                if self.stored >= self.cfg.max_edges {
                    self.dropped += 1;
                } else {
                    self.stored += 1;
                    self.last_entry.insert((e.src, e.dst), list.len());
                    list.push(e.clone());
                }
            }
        }
        if onward && self.keep() {
            self.onward.entry(e.src).or_default().push(e);
        }
    }

    fn finish_chains(&mut self, ctx: &Context) -> Vec<Finding> {
        for v in self.inbound.values_mut().chain(self.onward.values_mut()) {
            v.sort_by_key(|e| e.ts);
        }
        let mut all: Vec<Finding> = Vec::new();
        let mut hosts: Vec<IpAddr> = self.onward.keys().copied().filter(|h| self.inbound.contains_key(h)).collect();
        hosts.sort();
        for a in hosts {
            let mut scored: Vec<(f64, Finding)> = Vec::new();
            let mut seen_paths: Vec<Vec<IpAddr>> = Vec::new();
            let (Some(ins), Some(outs)) = (self.inbound.get(&a), self.onward.get(&a)) else { continue };
            // Repeated sessions to the same service inside one window make the same chain: look
            // at the first of each burst only, which bounds the work for chatty hosts.
            let mut last_tried: HashMap<(IpAddr, u16), Timestamp> = HashMap::new();
            for first in outs.iter().filter(|e| e.ok) {
                let key = (first.dst, first.port);
                if last_tried.get(&key).is_some_and(|t| first.ts.since(*t) < self.cfg.window_secs) {
                    continue;
                }
                last_tried.insert(key, first.ts);
                let Some(entry) = best_entry(ins, first, self.cfg.window_secs, ctx) else { continue };
                let mut chain = Chain { entry, hops: vec![first] };
                extend(&mut chain, &self.onward, self.cfg.window_secs, self.cfg.max_depth, ctx);
                let path: Vec<IpAddr> =
                    std::iter::once(entry.src).chain(chain.hops.iter().map(|h| h.src)).chain(chain.hops.last().map(|h| h.dst)).collect();
                if seen_paths.contains(&path) {
                    continue;
                }
                let Some(f) = self.judge(&chain, &path, ctx) else { continue };
                seen_paths.push(path);
                scored.push((f.score, f));
            }
            scored.sort_by(|x, y| y.0.total_cmp(&x.0));
            all.extend(scored.into_iter().take(self.cfg.max_findings_per_host).map(|(_, f)| f));
        }
        // A chain seen from its second host is part of a longer one seen from its first:
        // report the longer chain only.
        let paths: Vec<Vec<String>> = all.iter().map(|f| f.path.clone()).collect();
        all.retain(|f| !paths.iter().any(|p| p.len() > f.path.len() && p.windows(f.path.len()).any(|w| w == f.path.as_slice())));
        all
    }
}

/// The incoming session that best explains `hop`: one into hop's source that started before it
/// and had not ended more than `window` earlier; the lowest-trust origin wins, then the latest.
fn best_entry<'a>(ins: &'a [Edge], hop: &Edge, window: f64, ctx: &Context) -> Option<&'a Edge> {
    let upto = ins.partition_point(|e| e.ts <= hop.ts);
    ins.get(..upto)?
        .iter()
        .rev()
        .take(2000)
        .filter(|e| e.src != hop.dst && hop.ts.since(e.end) <= window)
        .filter(|e| ctx.trust(e.src) < ctx.trust(hop.dst) || !ctx.is_internal(e.src))
        .min_by_key(|e| (ctx.trust(e.src), std::cmp::Reverse(e.ts)))
}

/// Follows onward hops greedily: from the last host, the earliest successful admin session
/// that started after arriving there and within the window after the arriving session ended,
/// to a host not yet in the chain, preferring more critical destinations.
fn extend<'a>(chain: &mut Chain<'a>, onward: &'a HashMap<IpAddr, Vec<Edge>>, window: f64, max_depth: usize, ctx: &Context) {
    while chain.hops.len() < max_depth {
        let Some(last) = chain.hops.last().copied() else { return };
        let Some(next) = onward.get(&last.dst) else { return };
        let start = next.partition_point(|e| e.ts < last.ts);
        let visited = |ip: IpAddr| ip == chain.entry.src || chain.hops.iter().any(|h| h.src == ip || h.dst == ip);
        let pick = next
            .get(start..)
            .unwrap_or(&[])
            .iter()
            .take_while(|e| e.ts.since(last.end) <= window)
            .filter(|e| e.ok && !visited(e.dst))
            .take(500)
            .max_by_key(|e| (ctx.trust(e.dst), std::cmp::Reverse(e.ts)));
        match pick {
            Some(p) => chain.hops.push(p),
            None => return,
        }
    }
}

impl SpringboardDetector {
    fn judge(&self, chain: &Chain<'_>, path: &[IpAddr], ctx: &Context) -> Option<Finding> {
        let entry = chain.entry;
        let origin = entry.src;
        let a = entry.dst;
        let trust_origin = ctx.trust(origin);
        let trust_a = ctx.trust(a);
        let trusts: Vec<u8> = path.iter().map(|h| ctx.trust(*h)).collect();
        let max_after_a = trusts.iter().skip(2).copied().max().unwrap_or(0);
        let external = !ctx.is_internal(origin);
        // The chain must climb: a later host more trusted than the springboard, or (from the
        // internet) into a critical zone.
        let climbs = max_after_a > trust_a || (external && path.iter().skip(2).any(|h| ctx.is_critical(*h)));
        if !climbs || max_after_a <= trust_origin {
            return None;
        }
        let gain = f64::from(max_after_a - trust_origin);
        let crossings = trusts.windows(2).filter(|w| w[0] != w[1]).count();
        let foreign = ctx.is_foreign(origin) == Some(true);
        let country = ctx.geo(origin).country.map(|c| String::from_utf8_lossy(&c).into_owned());

        // Timing: seconds from arriving at each host to leaving it.
        let mut delays = Vec::new();
        let mut arrive = entry.ts;
        for h in &chain.hops {
            delays.push(h.ts.since(arrive).max(0.0));
            arrive = h.ts;
        }
        let tight = delays.iter().copied().fold(0.0_f64, f64::max);

        // Newness of each internal hop: against history when there is one, else against its
        // recurrence in the window.
        let entry_known = if external { None } else { edge_known(ctx, origin, a, entry.port) };
        let mut new_hops = usize::from(entry_known == Some(false));
        let mut routine_hops = 0;
        let mut hop_ev = Vec::new();
        for (i, h) in chain.hops.iter().enumerate() {
            let known = edge_known(ctx, h.src, h.dst, h.port);
            let (n, hours) = self.recurrence.get(h.src, h.dst, h.port);
            let routine = known == Some(true) || n >= 10 || hours >= 3;
            if known == Some(false) {
                new_hops += 1;
            }
            if routine {
                routine_hops += 1;
            }
            hop_ev.push(json!({
                "from": h.src.to_string(), "to": h.dst.to_string(), "port": h.port,
                "service": h.service.map(AdminService::as_str),
                "from_zone": zone_label(h.src, ctx), "to_zone": zone_label(h.dst, ctx),
                "delay_s": r3(delays.get(i).copied().unwrap_or(0.0)),
                "sessions_in_window": n, "hours_in_window": hours,
                "in_history": known,
                "bytes_out": h.orig_bytes, "bytes_back": h.resp_bytes,
            }));
        }
        let control = chain.hops.iter().any(|h| h.service.is_some_and(AdminService::is_control));
        let strong_proto = chain.hops.iter().any(|h| {
            matches!(
                h.service,
                Some(
                    AdminService::Rdp
                        | AdminService::Smb
                        | AdminService::WinRm
                        | AdminService::Telnet
                        | AdminService::Vnc
                        | AdminService::Rpc
                )
            )
        });
        let off_hours = ctx.is_off_hours(entry.ts) || chain.hops.iter().any(|h| ctx.is_off_hours(h.ts));
        let admin_src = !external && ctx.is_admin_source(origin) || ctx.is_admin_source(a);
        let failed_onward = self
            .onward
            .get(&a)
            .map(|v| v.iter().filter(|e| e.failed && e.ts >= entry.ts && e.ts.since(entry.end) <= self.cfg.window_secs).count())
            .unwrap_or(0);

        let mut score = 0.25;
        let mut why: Vec<String> = Vec::new();
        score += 0.08 * gain;
        if external {
            score += 0.15;
            why.push("starts on the internet".into());
            if foreign {
                score += 0.05;
                why.push("from abroad".into());
            }
        }
        if ctx.zone(a).is_some_and(|z| z.is_edge() || z.is_test() || z.is_device_net()) {
            score += 0.05;
            why.push("pivots through an edge, test or device network".into());
        }
        if path.len() >= 4 {
            score += 0.1;
            why.push(format!("{} hops", path.len() - 1));
        }
        if tight <= 60.0 {
            score += 0.1;
            why.push("each hop within a minute of arriving".into());
        } else if tight <= 300.0 {
            score += 0.05;
        }
        if strong_proto {
            score += 0.05;
        }
        if !control {
            // Data-port-only chains (a server reaching its database) are the commonest benign
            // look-alike; they need other signals.
            score -= 0.05;
        }
        if new_hops > 0 {
            score += (0.1 * new_hops as f64).min(0.2);
            why.push("edges never seen before".into());
        }
        if routine_hops == chain.hops.len() {
            score -= 0.4;
            why.push("routine edges".into());
        } else if routine_hops > 0 {
            score -= 0.1;
        }
        if failed_onward >= 2 {
            score += 0.05;
            why.push(format!("{failed_onward} failed onward attempts"));
        }
        if off_hours {
            score += 0.1;
            why.push("off hours".into());
        } else if !external {
            score -= 0.05;
        }
        if admin_src {
            score -= 0.25;
            why.push("declared admin source".into());
        }
        let score = r3(score.clamp(0.0, 1.0));
        if score < 0.2 {
            return None;
        }

        let last = chain.hops.last()?;
        let first_seen = entry.ts;
        let last_seen: Timestamp = chain.hops.iter().map(|h| h.end).max().unwrap_or(last.end).max(entry.ts);
        let labels: Vec<String> = path.iter().map(|h| host_label(*h, ctx)).collect();
        let mut attack: Vec<String> = chain.hops.iter().filter_map(|h| h.service.map(|s| s.attack().to_string())).collect();
        attack.push("T1090.001".into()); // internal proxy: the springboard relays the operator
        attack.push("T1078".into()); // the hops succeeded: valid credentials were used
        if external {
            attack.push("T1133".into());
        }
        let summary = format!(
            "{} reached {} ({}) and within {:.0} s went on to {} ({}){}",
            labels.first()?,
            labels.get(1)?,
            zone_label(a, ctx),
            delays.first().copied().unwrap_or(0.0),
            labels.get(2..).map(|v| v.join(" → ")).unwrap_or_default(),
            zone_label(last.dst, ctx),
            if off_hours { ", outside work hours" } else { "" }
        );
        let path_s: Vec<String> = path.iter().map(|h| h.to_string()).collect();
        let id = Finding::stable_id(FindingKind::Springboard, &path_s.iter().map(String::as_str).collect::<Vec<_>>());
        Some(Finding {
            id,
            kind: FindingKind::Springboard,
            severity: Severity::from_score(score),
            score,
            src: a.to_string(),
            dst: labels.get(2..).map(|v| v.to_vec()).unwrap_or_default(),
            path: path_s,
            first_seen: first_seen.to_offset(ctx.offset_at(first_seen)),
            last_seen: last_seen.to_offset(ctx.offset_at(last_seen)),
            attack: attack_ids(attack),
            summary,
            evidence: json!({
                "origin": origin.to_string(),
                "origin_zone": zone_label(origin, ctx),
                "origin_country": country,
                "entry": {"port": entry.port, "service": entry.app, "start": entry.ts.to_offset(ctx.offset_at(entry.ts)).to_rfc3339(), "duration_s": r3(entry.end.since(entry.ts)), "bytes_in": entry.orig_bytes, "bytes_back": entry.resp_bytes, "in_history": entry_known},
                "hops": hop_ev,
                "trust_path": trusts,
                "trust_gain": gain,
                "zone_crossings": crossings,
                "max_delay_s": r3(tight),
                "new_edges": new_hops,
                "routine_edges": routine_hops,
                "failed_onward_attempts": failed_onward,
                "off_hours": off_hours,
                "admin_source": admin_src,
                "reasons": why,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::testutil::*;

    fn site() -> Context {
        ctx_from(
            r#"[site]
home_countries = ["CN"]
internal = ["10.0.0.0/8"]
timezone = "Asia/Shanghai"
[[site.zone]]
name = "edge"
networks = ["10.1.0.0/16"]
[[site.zone]]
name = "office"
networks = ["10.2.0.0/16"]
[[site.zone]]
name = "admin"
networks = ["10.4.0.0/16"]
[[site.zone]]
name = "core"
networks = ["10.3.0.0/16"]
critical = true
"#,
        )
    }

    fn run(ctx: &Context, conns: &[Conn]) -> Vec<Finding> {
        let mut d = SpringboardDetector::default();
        for c in conns {
            d.observe(c, ctx);
        }
        d.finish(ctx)
    }

    #[test]
    fn internet_to_vpn_to_core_chain_is_found_outside_first() {
        let ctx = site();
        let t = NIGHT; // 03:00 Shanghai
        let conns = vec![
            // Background: the VPN box serves many internet clients.
            tcp(t - 7200, "1.2.3.4", "10.1.0.5", 443, 60.0),
            tcp(t - 3600, "5.6.7.8", "10.1.0.5", 443, 60.0),
            // The attacker lands on the VPN appliance over SSH from abroad (8.8.8.8 is US)...
            tcp(t, "8.8.8.8", "10.1.0.5", 22, 900.0),
            // ...30 s later it opens SSH to an office host, then RDP into the core.
            tcp(t + 30, "10.1.0.5", "10.2.0.20", 22, 600.0),
            tcp(t + 75, "10.2.0.20", "10.3.0.9", 3389, 300.0),
            failed_tcp(t + 40, "10.1.0.5", "10.3.0.10", 445),
            failed_tcp(t + 41, "10.1.0.5", "10.3.0.11", 445),
        ];
        let f = run(&ctx, &conns);
        assert_eq!(f.len(), 1, "{f:#?}");
        let f = &f[0];
        assert_eq!(f.path, vec!["8.8.8.8", "10.1.0.5", "10.2.0.20", "10.3.0.9"]);
        assert_eq!(f.src, "10.1.0.5");
        assert!(f.score >= 0.75, "score {}", f.score);
        assert!(f.attack.contains(&"T1133".to_string()) && f.attack.contains(&"T1021.001".to_string()));
        assert_eq!(f.evidence["origin_country"], "US");
        assert_eq!(f.evidence["failed_onward_attempts"], 2);
        assert_eq!(f.evidence["hops"][1]["service"], "rdp");
    }

    #[test]
    fn a_two_hop_chain_from_a_lower_trust_zone_is_found() {
        let ctx = site();
        // Edge device (trust 1) → office (2) → core database (3), 02:00 local.
        let t = NIGHT - 3600;
        let conns = vec![tcp(t, "10.1.0.7", "10.2.0.30", 22, 400.0), tcp(t + 20, "10.2.0.30", "10.3.0.5", 5432, 100.0)];
        let f = run(&ctx, &conns);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].path, vec!["10.1.0.7", "10.2.0.30", "10.3.0.5"]);
        assert!(f[0].score >= 0.5, "{}", f[0].score);
    }

    #[test]
    fn hops_too_late_or_in_the_wrong_order_do_not_chain() {
        let ctx = site();
        let t = NIGHT;
        // Onward hop before the inbound session: no chain.
        let before = vec![tcp(t + 100, "8.8.8.8", "10.1.0.5", 22, 10.0), tcp(t, "10.1.0.5", "10.3.0.9", 22, 10.0)];
        assert!(run(&ctx, &before).is_empty());
        // Onward hop an hour after the inbound session ended: no chain.
        let late = vec![tcp(t, "8.8.8.8", "10.1.0.5", 22, 10.0), tcp(t + 3600, "10.1.0.5", "10.3.0.9", 22, 10.0)];
        assert!(run(&ctx, &late).is_empty());
        // Downhill (core to office) is administration, not a climb.
        let down = vec![tcp(t, "10.3.0.9", "10.2.0.5", 22, 100.0), tcp(t + 10, "10.2.0.5", "10.2.0.6", 22, 10.0)];
        assert!(run(&ctx, &down).is_empty());
        // A failed onward attempt is not a hop.
        let failed = vec![tcp(t, "8.8.8.8", "10.1.0.5", 22, 100.0), failed_tcp(t + 10, "10.1.0.5", "10.3.0.9", 3389)];
        assert!(run(&ctx, &failed).is_empty());
    }

    #[test]
    fn admin_jump_host_in_work_hours_stays_below_medium() {
        let ctx = site();
        let mut conns = Vec::new();
        // Admins in the office SSH to the jump host, then on to core servers, every working
        // day at 10:00 local, for a week.
        for day in 0..5 {
            let t = WORK + day * 86_400;
            conns.push(tcp(t, "10.2.0.50", "10.4.0.2", 22, 1800.0));
            conns.push(tcp(t + 40, "10.4.0.2", "10.3.0.9", 22, 900.0));
            conns.push(tcp(t + 1000, "10.4.0.2", "10.3.0.10", 22, 300.0));
        }
        let f = run(&ctx, &conns);
        assert!(f.iter().all(|f| f.severity < Severity::Medium), "{f:#?}");
        // A single day's session, no history, still below medium.
        let f = run(&ctx, &conns[..2]);
        assert!(f.iter().all(|f| f.severity < Severity::Medium), "{f:#?}");
    }

    #[test]
    fn web_server_querying_its_database_is_not_a_springboard() {
        let ctx = site();
        let mut conns = Vec::new();
        for i in 0..200 {
            let t = WORK + i * 97;
            conns.push(tcp(t, &format!("8.8.{}.{}", i % 7, i % 200 + 1), "10.1.0.80", 443, 2.0));
            conns.push(tcp(t + 1, "10.1.0.80", "10.3.0.5", 3306, 0.5));
        }
        let f = run(&ctx, &conns);
        assert!(f.iter().all(|f| f.severity < Severity::Medium), "{f:#?}");
    }

    #[test]
    fn history_makes_known_edges_routine_and_new_ones_stand_out() {
        let t = NIGHT;
        let conns = vec![tcp(t, "10.1.0.7", "10.2.0.30", 22, 400.0), tcp(t + 20, "10.2.0.30", "10.3.0.5", 22, 100.0)];
        let mut hist = vigil_enrich::EdgeHistory::default();
        hist.record(ip("10.9.9.9"), ip("10.9.9.8"), 22, vigil_model::Timestamp::from_secs(t - 86_400 * 30));
        let fresh = run(&site().with_history(hist.clone()), &conns);
        hist.record(ip("10.2.0.30"), ip("10.3.0.5"), 22, vigil_model::Timestamp::from_secs(t - 86_400));
        let known = run(&site().with_history(hist), &conns);
        assert_eq!(fresh[0].evidence["new_edges"], 2);
        assert!(known.is_empty() || known[0].score <= fresh[0].score - 0.15, "{known:#?} vs {fresh:#?}");
    }
}
