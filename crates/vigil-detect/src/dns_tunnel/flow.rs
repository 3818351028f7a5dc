//! `dns_tunnel` judged from flow records alone — Argus, NetFlow/IPFIX, a Zeek `conn.log` without
//! its `dns.log` — where the names asked for are invisible, so [`crate::dns_tunnel`] (which
//! judges names) cannot run. What is left in the flows is the shape of the DNS traffic, and a
//! domain generation algorithm (DGA) or a DNS tunnel bends it the same way:
//!
//! - **Rate.** A storm of lookups from one client: a DGA walks through its day's names (most
//!   of them unregistered), a tunnel sends one query per chunk of data. A workstation's stub
//!   resolver caches; even a page load with its third-party content asks some tens of names.
//! - **Uniform query size.** A DGA's names come from one algorithm, usually of one length (or a
//!   narrow range), and a tunnel fills each query to the same length; people's lookups vary
//!   with the names (`t.co` and a CDN's 60-character host). Measured as the share of the
//!   window's query flows that have the most common size (bytes per query packet), from 30
//!   flows: one socket reused for many queries is one sample.
//!   Uniformity and fan-out must come together for medium: either alone is also what a
//!   cache-less program asking one name in a loop, or a burst of browsing, looks like.
//! - **Fan-out right after.** The few generated names that do resolve (the C&C, parking and
//!   sinkhole servers) are contacted at once: many outside addresses in unrelated networks
//!   (distinct ASNs when an ASN table is loaded, else distinct /16s) during the burst.
//! - **Bypass.** When the site's own resolvers are seen serving the other clients, a client
//!   that sends its storm straight to an outside resolver is ignoring them.
//!
//! A client whose names are visible anywhere in the input is left to the name-based detector,
//! and a host that answers other internal hosts' DNS is a resolver, not a client. The finding
//! names the resolver and the addresses contacted during the burst in `dst`.
//!
//! Cost per record: one hash lookup for a DNS record (the per-minute ring is allocated once per
//! client without names), one lookup in the small set of warm clients for an outbound record;
//! contacts are kept only while a client's window is warm, capped.

use crate::Detector;
use crate::front::Rec;
use crate::util::{self, Tuning};
use foldhash::{HashMap, HashMapExt, HashSet};
use serde_json::json;
use std::net::IpAddr;
use vigil_enrich::Context;
use vigil_model::{Conn, Finding, FindingKind, PROTO_UDP, Severity, Timestamp};

/// Minutes in the sliding window (a ring of per-minute buckets).
const WINDOW_MIN: usize = 5;
/// Distinct query sizes tracked per minute; flows of further sizes count only in the totals.
const SIZE_SLOTS: usize = 8;

#[derive(Debug, Clone)]
pub struct DnsFlowConfig {
    /// Fewest queries in the window for a storm, and the count that gives the rate full weight.
    pub min_queries: u32,
    pub full_queries: u32,
    /// Queries in the window from which the addresses the client contacts are kept.
    pub warm_queries: u32,
    /// Fewest query flows in the window for their sizes to be judged.
    pub min_size_samples: u32,
    /// Modal-size share (of the window's query flows): no weight at or below `uniform_lo`,
    /// full at `uniform_hi`.
    pub uniform_lo: f64,
    pub uniform_hi: f64,
    /// Distinct networks contacted during the burst: no weight at or below `fanout_lo`, full at
    /// `fanout_hi`.
    pub fanout_lo: f64,
    pub fanout_hi: f64,
    /// Seconds after the storm's last query in which contacts still count.
    pub fanout_after_s: i64,
    pub report_threshold: f64,
    pub max_clients: usize,
    pub max_contacts: usize,
}

impl Default for DnsFlowConfig {
    fn default() -> Self {
        DnsFlowConfig {
            min_queries: 100,
            full_queries: 500,
            warm_queries: 20,
            min_size_samples: 30,
            uniform_lo: 0.5,
            uniform_hi: 0.9,
            fanout_lo: 2.0,
            fanout_hi: 8.0,
            fanout_after_s: 60,
            report_threshold: 0.4,
            max_clients: 200_000,
            max_contacts: 64,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Bucket {
    minute: i64,
    /// Query packets, and flows (the size samples).
    queries: u32,
    flows: u32,
    /// Flows by bytes per query packet. Counted per flow, not per packet: one long flow (a
    /// socket reused for many queries) is one sample, and must not pass for uniformity.
    sizes: [(u16, u32); SIZE_SLOTS],
}

impl Bucket {
    fn add(&mut self, size: u16, n: u32) {
        self.queries = self.queries.saturating_add(n);
        self.flows = self.flows.saturating_add(1);
        for slot in &mut self.sizes {
            if slot.1 == 0 {
                *slot = (size, 1);
                return;
            }
            if slot.0 == size {
                slot.1 = slot.1.saturating_add(1);
                return;
            }
        }
    }
}

/// The densest window seen for a client.
#[derive(Debug, Clone, Copy)]
struct Storm {
    queries: u32,
    flows: u32,
    modal_size: u16,
    modal_share: f64,
    first: i64,
    last: i64,
    server: IpAddr,
}

#[derive(Debug)]
struct Client {
    names_seen: bool,
    /// Allocated on the client's first query without a name: clients whose names are visible
    /// (a capture) keep a small entry.
    ring: Option<Box<[Bucket; WINDOW_MIN]>>,
    /// Queries and servers over the whole input.
    queries: u64,
    servers: Vec<(IpAddr, u64)>,
    /// First query second of the current window's storm (set when the window warms up).
    warm_since: Option<i64>,
    contacts: Vec<(IpAddr, i64)>,
    best: Option<Storm>,
}

impl Client {
    fn new() -> Client {
        Client { names_seen: false, ring: None, queries: 0, servers: Vec::new(), warm_since: None, contacts: Vec::new(), best: None }
    }

    /// The buckets of the window ending at `minute`.
    fn buckets(&self, minute: i64) -> impl Iterator<Item = &Bucket> {
        self.ring
            .iter()
            .flat_map(|r| r.iter())
            .filter(move |b| b.queries > 0 && b.minute <= minute && minute.saturating_sub(b.minute) < WINDOW_MIN as i64)
    }

    /// Queries in the window ending at `minute` (every query: five additions).
    fn window_total(&self, minute: i64) -> u32 {
        self.buckets(minute).fold(0u32, |t, b| t.saturating_add(b.queries))
    }

    /// The modal query size of the window ending at `minute`, with its count (only for a storm
    /// that beats the client's best so far).
    fn window_mode(&self, minute: i64) -> (u16, u32) {
        let mut merged: [(u16, u32); SIZE_SLOTS * WINDOW_MIN] = [(0, 0); SIZE_SLOTS * WINDOW_MIN];
        let mut used = 0usize;
        for b in self.buckets(minute) {
            for &(s, n) in b.sizes.iter().filter(|x| x.1 > 0) {
                if let Some(m) = merged.iter_mut().take(used).find(|m| m.0 == s) {
                    m.1 = m.1.saturating_add(n);
                } else if let Some(m) = merged.get_mut(used) {
                    *m = (s, n);
                    used += 1;
                }
            }
        }
        merged.iter().take(used).copied().max_by_key(|m| (m.1, std::cmp::Reverse(m.0))).unwrap_or((0, 0))
    }
}

#[derive(Debug, Default)]
pub struct DnsFlowDetector {
    cfg: DnsFlowConfig,
    tuning: Tuning,
    clients: HashMap<IpAddr, Client>,
    /// Internal hosts that answered another internal host's DNS: the site's resolvers.
    site_resolvers: HashSet<IpAddr>,
    /// Clients whose window is warm (their contacts are kept): few at any time, so the lookup
    /// every outbound record makes stays in cache.
    warm: HashSet<IpAddr>,
    last_resolver: Option<IpAddr>,
    pub dropped: u64,
}

impl DnsFlowDetector {
    pub fn new(cfg: DnsFlowConfig, tuning: Tuning) -> Self {
        DnsFlowDetector {
            cfg,
            tuning,
            clients: HashMap::new(),
            site_resolvers: HashSet::default(),
            warm: HashSet::default(),
            last_resolver: None,
            dropped: 0,
        }
    }

    fn observe_dns(&mut self, r: &Rec<'_>) {
        let c = r.conn;
        // Most queries go to the same one or two resolvers: remembering the last one spares
        // the set lookup.
        if r.resp_internal && self.last_resolver != Some(c.resp_h) && self.site_resolvers.len() < self.cfg.max_clients {
            self.site_resolvers.insert(c.resp_h);
            self.last_resolver = Some(c.resp_h);
        }
        if !self.clients.contains_key(&c.orig_h) && self.clients.len() >= self.cfg.max_clients {
            self.dropped += 1;
            return;
        }
        let cl = self.clients.entry(c.orig_h).or_insert_with(Client::new);
        if !c.app.dns.is_empty() {
            cl.names_seen = true;
        }
        if cl.names_seen {
            // The name-based detector judges this client; nothing more to keep.
            if cl.warm_since.take().is_some() {
                self.warm.remove(&c.orig_h);
            }
            return;
        }
        let n = u32::try_from(query_packets(c, r.sent, r.recv)).unwrap_or(u32::MAX);
        // Bytes per query packet (header overhead is the same for all of one client's queries).
        let size = u16::try_from(util::sent_bytes(c) / u64::from(n)).unwrap_or(u16::MAX);
        let (secs, minute) = (c.ts.secs(), c.ts.secs().div_euclid(60));
        cl.queries = cl.queries.saturating_add(u64::from(n));
        if let Some(s) = cl.servers.iter_mut().find(|s| s.0 == c.resp_h) {
            s.1 = s.1.saturating_add(u64::from(n));
        } else if cl.servers.len() < 8 {
            cl.servers.push((c.resp_h, u64::from(n)));
        }
        let ring = cl.ring.get_or_insert_with(|| Box::new([Bucket::default(); WINDOW_MIN]));
        let Some(b) = ring.get_mut(minute.rem_euclid(WINDOW_MIN as i64) as usize) else { return };
        if b.minute != minute {
            if b.queries > 0 && b.minute > minute {
                // Older than the window the ring holds (out of order): counted, not windowed.
                return;
            }
            *b = Bucket { minute, ..Bucket::default() };
        }
        b.add(size, n);
        let total = cl.window_total(minute);
        if total >= self.cfg.warm_queries {
            if cl.warm_since.is_none() {
                self.warm.insert(c.orig_h);
            }
            let since = cl.warm_since.get_or_insert(secs);
            *since = (*since).min(secs);
        } else if cl.warm_since.take().is_some() {
            self.warm.remove(&c.orig_h);
        }
        if total >= self.cfg.min_queries && cl.best.is_none_or(|s| total > s.queries) {
            let first = cl.warm_since.unwrap_or(secs);
            let (modal_size, modal_n) = cl.window_mode(minute);
            let flows = cl.buckets(minute).fold(0u32, |t, b| t.saturating_add(b.flows));
            cl.best = Some(Storm {
                queries: total,
                modal_size,
                // Too few samples say nothing about uniformity.
                modal_share: if flows >= self.cfg.min_size_samples { f64::from(modal_n) / f64::from(flows) } else { 0.0 },
                flows,
                first: cl.best.filter(|s| s.last >= first).map_or(first, |s| s.first.min(first)),
                last: secs,
                server: c.resp_h,
            });
        } else if total >= self.cfg.min_queries {
            // The same storm going on (it warmed up before the best window ended): it lasts.
            let warm = cl.warm_since;
            if let Some(s) = cl.best.as_mut().filter(|s| warm.is_some_and(|w| w <= s.last)) {
                s.last = s.last.max(secs);
            }
        }
    }

    fn observe_contact(&mut self, r: &Rec<'_>) {
        let c = r.conn;
        if !self.warm.contains(&c.orig_h) {
            return;
        }
        let Some(cl) = self.clients.get_mut(&c.orig_h) else { return };
        if cl.warm_since.is_none() || cl.contacts.iter().any(|x| x.0 == c.resp_h) {
            return;
        }
        let secs = c.ts.secs();
        if cl.contacts.len() >= self.cfg.max_contacts {
            // Make room: contacts outside the best storm and older than the window go first.
            let keep_from = secs.saturating_sub(WINDOW_MIN as i64 * 60);
            let best = cl.best;
            cl.contacts.retain(|&(_, t)| t >= keep_from || best.is_some_and(|s| t >= s.first && t <= s.last.saturating_add(60)));
        }
        if cl.contacts.len() < self.cfg.max_contacts {
            cl.contacts.push((c.resp_h, secs));
        } else {
            self.dropped += 1;
        }
    }
}

/// Query packets of a DNS flow. A record that counts the responder's bytes but not its packets
/// may carry both directions' packets in `orig_pkts` (some flow exports give only totals):
/// they are then split in proportion to bytes, rounding the client's share up.
fn query_packets(c: &Conn, sent: u64, recv: u64) -> u64 {
    let pkts = c.orig_pkts.max(1);
    if c.resp_pkts == 0 && recv > 0 && pkts > 1 {
        let total = sent.saturating_add(recv).max(1);
        return (u128::from(pkts) * u128::from(sent)).div_ceil(u128::from(total)).clamp(1, u128::from(pkts)) as u64;
    }
    pkts
}

/// The network an address belongs to for fan-out: its ASN when an ASN table is loaded, else
/// its /16 (IPv4) or /32 (IPv6).
fn network_key(ctx: &Context, ip: IpAddr) -> (u8, u64) {
    if let Some(asn) = ctx.geo(ip).asn {
        return (0, u64::from(asn));
    }
    match ip {
        IpAddr::V4(a) => (4, u64::from(u32::from(a) >> 16)),
        IpAddr::V6(a) => (6, (u128::from(a) >> 96) as u64),
    }
}

impl Detector for DnsFlowDetector {
    fn name(&self) -> &'static str {
        "dns_flow"
    }

    fn observe(&mut self, c: &Conn, ctx: &Context) {
        self.observe_rec(&Rec::standalone(c, ctx));
    }

    fn observe_rec(&mut self, r: &Rec<'_>) {
        let c = r.conn;
        if !r.orig_internal || r.resp_noise {
            return;
        }
        if c.proto == PROTO_UDP && c.resp_p == 53 {
            self.observe_dns(r);
        } else if !r.resp_internal && c.resp_p != 53 && !self.warm.is_empty() {
            self.observe_contact(r);
        }
    }

    fn finish(&mut self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut ips: Vec<&IpAddr> = self.clients.keys().collect();
        ips.sort();
        for ip in ips {
            let Some(cl) = self.clients.get(ip) else { continue };
            let Some(storm) = cl.best else { continue };
            if cl.names_seen || self.site_resolvers.contains(ip) {
                continue;
            }
            if self.tuning.is_allowed(ctx, storm.server, None, None) || self.tuning.is_allowed(ctx, *ip, None, None) {
                continue;
            }
            let until = storm.last.saturating_add(self.cfg.fanout_after_s);
            let mut contacted: Vec<(IpAddr, i64)> = cl
                .contacts
                .iter()
                .copied()
                .filter(|&(a, t)| t >= storm.first && t <= until && !cl.servers.iter().any(|s| s.0 == a))
                .filter(|&(a, _)| !self.tuning.is_allowed(ctx, a, None, None))
                .collect();
            contacted.sort_by_key(|x| (x.1, x.0));
            let mut nets: Vec<(u8, u64)> = contacted.iter().map(|x| network_key(ctx, x.0)).collect();
            nets.sort_unstable();
            nets.dedup();
            let outside_server = !ctx.is_internal(storm.server);
            let bypass = outside_server && !self.site_resolvers.is_empty();
            let rate = util::ramp(f64::from(storm.queries), f64::from(self.cfg.min_queries), f64::from(self.cfg.full_queries));
            let uniform = util::ramp(storm.modal_share, self.cfg.uniform_lo, self.cfg.uniform_hi);
            let fanout = util::ramp(nets.len() as f64, self.cfg.fanout_lo, self.cfg.fanout_hi);
            // Uniform sizes and the fan-out must come together for medium: either alone is
            // also what a cache-less program asking one name in a loop (uniform, one address)
            // or a burst of browsing (many networks, names of every length) looks like.
            let score = util::round3(util::clamp01(
                0.15 + 0.1 * rate + 0.15 * uniform.max(fanout) + 0.35 * uniform * fanout + if bypass { 0.05 } else { 0.0 },
            ));
            if score < self.cfg.report_threshold {
                continue;
            }
            let id = Finding::stable_id(FindingKind::DnsTunnel, &[&ip.to_string(), &format!("flows:{}", storm.server)]);
            if self.tuning.is_suppressed(&id) {
                continue;
            }
            let span = storm.last.saturating_sub(storm.first).max(1);
            let mut dst = vec![storm.server.to_string()];
            dst.extend(contacted.iter().take(20).map(|x| x.0.to_string()));
            let summary = format!(
                "{ip} sent {} DNS queries in {} s to {}{} with names not visible in these flow records; {:.0}% of its query flows were the same size{} — the shape of a domain generation algorithm or a DNS tunnel.",
                storm.queries,
                span,
                if outside_server { "the outside resolver " } else { "resolver " },
                storm.server,
                storm.modal_share * 100.0,
                if contacted.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", and during the burst it contacted {} outside addresses in {} different networks",
                        contacted.len(),
                        nets.len()
                    )
                }
            );
            let last_contact = contacted.iter().map(|x| x.1).max().unwrap_or(storm.last);
            let (first, last) = (Timestamp::from_secs(storm.first), Timestamp::from_secs(storm.last.max(last_contact)));
            out.push(Finding {
                id,
                kind: FindingKind::DnsTunnel,
                severity: Severity::from_score(score),
                score,
                src: ip.to_string(),
                dst,
                path: Vec::new(),
                first_seen: util::site_time(ctx, first),
                last_seen: util::site_time(ctx, last.max(first)),
                attack: vec!["T1568.002".into(), "T1071.004".into(), "T1572".into()],
                summary,
                evidence: json!({
                    "method": "flows",
                    "names_visible": false,
                    "resolver": storm.server.to_string(),
                    "resolver_outside": outside_server,
                    "site_resolvers_seen": self.site_resolvers.len(),
                    "bypasses_site_resolvers": bypass,
                    "queries_in_window": storm.queries,
                    "query_flows_in_window": storm.flows,
                    "window_seconds": span,
                    "modal_query_bytes": storm.modal_size,
                    "modal_share": util::round3(storm.modal_share),
                    "queries_total": cl.queries,
                    "contacted_during_burst": contacted.iter().take(50).map(|x| x.0.to_string()).collect::<Vec<_>>(),
                    "contacted_networks": nets.len(),
                    "network_basis": if nets.iter().any(|n| n.0 == 0) { "asn" } else { "prefix" },
                }),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::PROTO_UDP;

    fn flow(sent: u64, recv: u64, orig_pkts: u64, resp_pkts: u64) -> Conn {
        let mut c =
            Conn::new(Timestamp::from_secs(1_700_000_000), "10.0.0.1".parse().unwrap(), 5353, "8.8.8.8".parse().unwrap(), 53, PROTO_UDP);
        c.orig_pkts = orig_pkts;
        c.resp_pkts = resp_pkts;
        c.orig_ip_bytes = sent;
        c.resp_ip_bytes = recv;
        c
    }

    #[test]
    fn query_packets_split_totals_by_bytes() {
        // Both directions counted: the client's own packets.
        assert_eq!(query_packets(&flow(71, 87, 1, 1), 71, 87), 1);
        // Only totals (2 packets, no responder count): split by bytes, rounded up.
        assert_eq!(query_packets(&flow(71, 87, 2, 0), 71, 87), 1);
        // Nothing answered: every packet is the client's.
        assert_eq!(query_packets(&flow(710, 0, 10, 0), 710, 0), 10);
        // Hostile counts do not overflow or vanish.
        let n = query_packets(&flow(u64::MAX, u64::MAX, u64::MAX, 0), u64::MAX, u64::MAX);
        assert_ne!(n, 0);
        assert_eq!(query_packets(&flow(u64::MAX / 2, u64::MAX / 2, 1_000, 0), u64::MAX / 2, u64::MAX / 2), 500);
        assert_eq!(query_packets(&flow(0, 5, 0, 0), 0, 5), 1);
    }

    #[test]
    fn a_bucket_counts_flows_by_size_and_overflows_quietly() {
        let mut b = Bucket::default();
        for s in 0..20u16 {
            b.add(40 + s % 10, 3);
        }
        assert_eq!((b.queries, b.flows), (60, 20));
        // Eight sizes tracked, the rest only counted.
        assert_eq!(b.sizes.iter().map(|x| x.1).sum::<u32>(), 16);
        let mut c = Client::new();
        c.ring = Some(Box::new([b; WINDOW_MIN]));
        // Only the bucket of the right minute is in the window (all five slots say minute 0).
        assert_eq!(c.window_total(0), 60 * WINDOW_MIN as u32);
        assert_eq!(c.window_total(WINDOW_MIN as i64), 0);
        assert_eq!(c.window_mode(0).1, 2 * WINDOW_MIN as u32);
    }

    #[test]
    fn network_key_is_a_16_or_asn() {
        let ctx = Context::new(vigil_enrich::Site::default());
        let a = network_key(&ctx, "185.53.179.7".parse().unwrap());
        let b = network_key(&ctx, "185.53.178.6".parse().unwrap());
        let c = network_key(&ctx, "217.70.184.38".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
