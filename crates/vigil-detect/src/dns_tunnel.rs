//! `dns_tunnel`: data or commands smuggled in DNS names (iodine, dnscat2, DNS-based C2).
//! For each client and registered domain (the name below its public suffix, judged with the
//! full Public Suffix List compiled in), it counts unique
//! subdomains, their length and character entropy, the share of TXT/NULL/CNAME/MX queries
//! (tunnels prefer record types that carry more data), and whether the client ever connected
//! to an address the domain resolved to (a tunnel needs none).
//!
//! Blame goes to the client, not the resolver that forwards its queries: an internal host that
//! answers other internal hosts' queries (or queries without recursion, as a resolver does)
//! is a resolver; its outside queries for a domain are dropped when the internal clients that
//! asked are also visible, and reported with a note when only the resolver→outside leg is seen.
//!
//! Where names are not visible at all (flow records), [`flow`] judges the shape of a client's
//! DNS traffic instead.

pub mod flow;

use crate::Detector;
use crate::front::{HostSet, NO_HOST, Rec};
use crate::util::{self, Interner, Tuning};
use foldhash::{HashMap, HashMapExt, HashSet};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;
use std::net::IpAddr;
use vigil_enrich::Context;
use vigil_model::{Conn, Finding, FindingKind, Severity, Timestamp};

/// The registered domain of `name`: one label below its public suffix ("a.b.example.co.uk" →
/// "example.co.uk"), judged with the full Public Suffix List compiled in (`psl`), private
/// section included: under a hosting or dynamic-DNS suffix (github.io, duckdns.org,
/// s3.amazonaws.com) each customer's name is its own registered domain, because the customer,
/// not the provider, controls what is below it — a tunnel on `evil.duckdns.org` must not be
/// diluted by, nor merged with, every other customer's lookups. Names under a suffix the list
/// does not know (an invented or internal TLD) count their last label as the suffix, as the
/// list's default rule says. Names that are a bare suffix are returned whole.
pub fn registered_domain(name: &str) -> String {
    registered_domain_of(name).into_owned()
}

/// [`registered_domain`] borrowed from `name` when it is already clean (lower case, no empty
/// label), as nearly every query on the wire is: no allocation on the per-query path.
fn registered_domain_of(name: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let n = name.trim_end_matches('.');
    if n.is_empty() || n.starts_with('.') || n.contains("..") || n.bytes().any(|b| b.is_ascii_uppercase()) {
        return Cow::Owned(registered_domain_slow(name));
    }
    match psl::domain(n.as_bytes()) {
        Some(d) => match std::str::from_utf8(d.as_bytes()) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => Cow::Owned(String::from_utf8_lossy(d.as_bytes()).into_owned()),
        },
        None => Cow::Borrowed(n),
    }
}

fn registered_domain_slow(name: &str) -> String {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    // Empty labels ("a..b") are dropped, so the list sees a well-formed name.
    let clean = n.split('.').filter(|l| !l.is_empty()).collect::<Vec<_>>().join(".");
    match psl::domain(clean.as_bytes()) {
        Some(d) => String::from_utf8_lossy(d.as_bytes()).into_owned(),
        // A bare public suffix ("co.uk") or an empty name.
        None => clean,
    }
}

/// Whether `reg` is a registrable name under a suffix the Public Suffix List knows: a name a
/// domain-generation algorithm could have registered. Single labels (a browser's random
/// probes for DNS hijacking) and internal TLDs (`.lan`, `.corp`, `.internal`) are not.
fn under_public_suffix(reg: &str) -> bool {
    psl::suffix(reg.as_bytes()).is_some_and(|s| s.is_known() && s.as_bytes().len() < reg.len())
}

/// A registered domain's shape: its suffix per the Public Suffix List and the length of the
/// label below it (`vocyzit.com` → ("com", 7)).
fn name_shape(reg: &str) -> (&str, usize) {
    let suffix = psl::suffix(reg.as_bytes()).and_then(|s| std::str::from_utf8(s.as_bytes()).ok()).unwrap_or("");
    let label = reg.get(..reg.len().saturating_sub(suffix.len() + 1)).unwrap_or(reg);
    let label = label.rsplit('.').next().unwrap_or(label);
    (suffix, label.chars().count())
}

/// The raw bytes of a name as rendered by Zeek and Vigil's logs, where bytes outside printable
/// ASCII appear as `\xNN`.
pub fn unescape(s: &str) -> Vec<u8> {
    unescaped(s).into_owned()
}

/// [`unescape`], borrowed when `s` has no escape (nearly every name): no copy per name.
fn unescaped(s: &str) -> std::borrow::Cow<'_, [u8]> {
    let b = s.as_bytes();
    if !b.contains(&b'\\') {
        return std::borrow::Cow::Borrowed(b);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\' && b.get(i + 1) == Some(&b'x') {
            let hex = b.get(i + 2..i + 4).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

/// Whether a name's bytes are all hostname characters (letters, digits, hyphen, underscore,
/// dot). Tunnels that use raw 8-bit labels (iodine's base128) fail this.
pub fn is_hostname_bytes(b: &[u8]) -> bool {
    b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A subdomain that is a reversed IPv4 address (`4.3.2.1`, optionally below a zone label such
/// as `zen`) or a run of IPv6 nibbles: how anti-spam and reputation services are queried.
pub fn looks_like_reputation_lookup(sub: &str) -> bool {
    let labels = || sub.split('.').filter(|l| !l.is_empty());
    let numeric = labels().take_while(|l| l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit())).count();
    numeric == 4 || labels().take_while(|l| l.len() == 1 && l.bytes().all(|b| b.is_ascii_hexdigit())).count() >= 16
}

/// Shannon entropy (bits per character) of a string, over its unescaped bytes.
pub fn entropy(s: &str) -> f64 {
    entropy_of(&unescaped(s))
}

/// [`entropy`] of bytes already unescaped. The terms are summed in byte order, as a pass over
/// all 256 counts would, but only the bytes present are visited (a bit per byte value).
fn entropy_of(raw: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    let mut seen = [0u64; 4];
    let mut n = 0u32;
    for &b in raw.iter().filter(|&&b| b != b'.') {
        if let Some(c) = counts.get_mut(usize::from(b)) {
            *c += 1;
        }
        if let Some(w) = seen.get_mut(usize::from(b >> 6)) {
            *w |= 1 << (b & 63);
        }
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = f64::from(n);
    // -0.0: the neutral element `Iterator::sum` starts from, so a name of one repeated byte
    // still gives -0.0.
    let mut sum = -0.0;
    for (wi, &w) in seen.iter().enumerate() {
        let mut w = w;
        while w != 0 {
            let b = wi * 64 + w.trailing_zeros() as usize;
            w &= w - 1;
            let p = f64::from(counts.get(b).copied().unwrap_or(0)) / n;
            sum += -p * p.log2();
        }
    }
    sum
}

#[derive(Debug, Clone)]
pub struct DnsTunnelConfig {
    /// Fewest unique subdomains under one registered domain to be judged.
    pub min_unique: usize,
    pub report_threshold: f64,
    pub common_min_hosts: usize,
    pub common_min_share: f64,
    pub max_pairs: usize,
    pub max_unique_per_pair: usize,
    pub max_contacts: usize,
    /// Fewest distinct registered domains a client must have failed to resolve (NXDOMAIN,
    /// address queries, public suffixes only, not common across the site) for the
    /// domain-generation judgement.
    pub dga_min_domains: usize,
    /// Window for the densest run of those failures (seconds).
    pub dga_window_s: i64,
}

impl Default for DnsTunnelConfig {
    fn default() -> Self {
        DnsTunnelConfig {
            min_unique: 30,
            report_threshold: 0.4,
            common_min_hosts: 3,
            common_min_share: 0.3,
            max_pairs: 1_000_000,
            max_unique_per_pair: 50_000,
            max_contacts: 5_000_000,
            dga_min_domains: 20,
            dga_window_s: 600,
        }
    }
}

#[derive(Debug, Default)]
struct Agg {
    /// The client's front-end id, for the packed contacts.
    host_id: u32,
    queries: u64,
    unique: HashSet<u64>,
    len_sum: u64,
    max_len: usize,
    entropy_sum: f64,
    /// Unique names carrying bytes that are not hostname characters.
    binary: u64,
    /// Unique names shaped like a reversed address (DNSBL and reputation lookups).
    reputation: u64,
    data_types: u64,
    null_types: u64,
    nxdomain: u64,
    resolved: HashSet<IpAddr>,
    servers: BTreeSet<IpAddr>,
    first: Timestamp,
    last: Timestamp,
    examples: Vec<String>,
    /// When an address lookup of the registered domain itself (or its `www`) first came back
    /// NXDOMAIN, for a domain under a public suffix: what a domain-generation algorithm leaves.
    first_nx: Option<Timestamp>,
}

#[derive(Debug, Default)]
pub struct DnsTunnelDetector {
    cfg: DnsTunnelConfig,
    tuning: Tuning,
    /// Per (client, registered domain id).
    pairs: HashMap<(IpAddr, u32), Agg>,
    domains: Interner,
    /// Who connected where (to tell whether resolved addresses were used): (host id, IPv4)
    /// packed in a u64, and the pairs that do not pack (IPv6, hosts without an id).
    contacts4: HashSet<u64>,
    contacts: HashSet<(IpAddr, IpAddr)>,
    /// Front-end pair ids ([`Rec::pair`]: one per host and responder) already in the contacts:
    /// a pair's later records skip the set (a bit here stays in cache, the set does not).
    contacted: HostSet,
    resolvers: HashSet<IpAddr>,
    /// Outside servers each host queried without recursion (up to 8).
    iterative: HashMap<IpAddr, HashSet<IpAddr>>,
    clients: HashSet<IpAddr>,
    /// Seed of the 64-bit hashes that stand for unique subdomains: random per detector, so a
    /// tunnel cannot choose names that collide (and so count as one).
    sub_hash: foldhash::quality::RandomState,
    pub dropped: u64,
}

impl DnsTunnelDetector {
    pub fn new(cfg: DnsTunnelConfig, tuning: Tuning) -> Self {
        DnsTunnelDetector { cfg, tuning, ..Default::default() }
    }

    /// A domain asked by at least `common_min_hosts` clients and `common_min_share` of them:
    /// a service of the site, not one host's tunnel or algorithm.
    fn is_common(&self, asked_by: usize, total_clients: usize) -> bool {
        asked_by >= self.cfg.common_min_hosts && asked_by as f64 / total_clients.max(1) as f64 >= self.cfg.common_min_share
    }

    /// Allow-listed by the tuning or the site file.
    fn allowed(&self, ctx: &Context, dom: &str) -> bool {
        self.tuning.allow_domains.iter().any(|d| util::domain_is_under(dom, d)) || ctx.site.is_allowed_domain(dom)
    }
}

impl Detector for DnsTunnelDetector {
    fn name(&self) -> &'static str {
        "dns_tunnel"
    }

    fn observe(&mut self, c: &Conn, ctx: &Context) {
        self.observe_rec(&Rec::standalone(c, ctx));
    }

    fn observe_rec(&mut self, r: &Rec<'_>) {
        let c = r.conn;
        if c.app.dns.is_empty() {
            if r.orig_internal && !self.contacted.contains(r.pair) && self.contacts.len() + self.contacts4.len() < self.cfg.max_contacts {
                // Inserted below (the cap never lifts, so a pair refused now stays refused).
                self.contacted.insert(r.pair);
                match (r.orig_id, c.resp_h) {
                    (id, IpAddr::V4(v4)) if id != NO_HOST => {
                        self.contacts4.insert(crate::front::pack(id, v4));
                    }
                    _ => {
                        self.contacts.insert((c.orig_h, c.resp_h));
                    }
                }
            }
            return;
        }
        if !r.orig_internal {
            return;
        }
        if r.resp_internal && c.resp_h != c.orig_h {
            self.resolvers.insert(c.resp_h);
        }
        for t in &c.app.dns {
            if !t.rd && !r.resp_internal {
                // Iterative (non-recursive) queries to several outside servers: this host is
                // itself a resolver walking the authoritative servers.
                let servers = self.iterative.entry(c.orig_h).or_default();
                if servers.len() < 8 {
                    servers.insert(c.resp_h);
                }
                if servers.len() >= 3 {
                    self.resolvers.insert(c.orig_h);
                }
            }
            let Some(q) = t.query.as_deref() else { continue };
            let q = util::ascii_lower(q.trim_end_matches('.'));
            // PTR lookups and service discovery names are not tunnels.
            if q.ends_with(".arpa") || q.ends_with(".local") || q.is_empty() {
                continue;
            }
            let reg = registered_domain_of(&q);
            let sub = q.strip_suffix(&*reg).unwrap_or("").trim_end_matches('.');
            let key = match self.domains.find(&reg) {
                Some(d) => (c.orig_h, d),
                None if self.pairs.len() >= self.cfg.max_pairs => {
                    self.dropped += 1;
                    continue;
                }
                None => (c.orig_h, self.domains.id(&reg)),
            };
            if self.pairs.len() >= self.cfg.max_pairs && !self.pairs.contains_key(&key) {
                self.dropped += 1;
                continue;
            }
            self.clients.insert(c.orig_h);
            let a = self.pairs.entry(key).or_insert_with(|| Agg { host_id: r.orig_id, first: t.ts, last: t.ts, ..Default::default() });
            a.queries += 1;
            a.first = a.first.min(t.ts);
            a.last = a.last.max(t.ts);
            a.servers.insert(c.resp_h);
            if !sub.is_empty() && a.unique.len() < self.cfg.max_unique_per_pair && a.unique.insert(self.sub_hash.hash_one(sub)) {
                let raw = unescaped(sub);
                a.len_sum = a.len_sum.saturating_add(raw.len() as u64);
                a.max_len = a.max_len.max(raw.len());
                a.entropy_sum += entropy_of(&raw);
                if !is_hostname_bytes(&raw) {
                    a.binary += 1;
                }
                if looks_like_reputation_lookup(sub) {
                    a.reputation += 1;
                }
                if a.examples.len() < 5 {
                    a.examples.push(q.clone().into_owned());
                }
            }
            if t.rcode == Some(3)
                && a.first_nx.is_none()
                && (sub.is_empty() || sub == "www")
                && matches!(t.qtype, None | Some(1 | 28 | 255))
                && under_public_suffix(&reg)
            {
                a.first_nx = Some(t.ts);
            }
            if matches!(t.qtype, Some(5 | 10 | 15 | 16)) {
                a.data_types += 1;
            }
            // NULL and the experimental/private types have no use in ordinary clients.
            if matches!(t.qtype, Some(10 | 65280..=65534)) {
                a.null_types += 1;
            }
            if t.rcode == Some(3) {
                a.nxdomain += 1;
            }
            for ans in &t.answers {
                if a.resolved.len() < 256
                    && let Ok(ip) = ans.parse::<IpAddr>()
                {
                    a.resolved.insert(ip);
                }
            }
        }
    }

    fn finish(&mut self, ctx: &Context) -> Vec<Finding> {
        // Clients (not resolvers) per registered domain: for prevalence and for blame.
        let mut domain_clients: HashMap<&str, usize> = HashMap::new();
        for (h, d) in self.pairs.keys() {
            if !self.resolvers.contains(h) {
                *domain_clients.entry(self.domains.get(*d)).or_default() += 1;
            }
        }
        let total_clients = self.clients.iter().filter(|h| !self.resolvers.contains(h)).count().max(1);
        let mut keys: Vec<(IpAddr, &str, u32)> = self.pairs.keys().map(|(h, d)| (*h, self.domains.get(*d), *d)).collect();
        keys.sort();
        let mut out = Vec::new();
        for (host, dom, did) in keys {
            let Some(a) = self.pairs.get(&(host, did)) else { continue };
            let u = a.unique.len();
            if u < self.cfg.min_unique || self.allowed(ctx, dom) {
                continue;
            }
            let is_resolver = self.resolvers.contains(&host);
            let asked_by = domain_clients.get(dom).copied().unwrap_or(0);
            if is_resolver && asked_by > 0 {
                // The internal clients that asked carry the finding.
                continue;
            }
            let mean_len = a.len_sum as f64 / u as f64;
            let mean_ent = a.entropy_sum / u as f64;
            let data_share = a.data_types as f64 / a.queries.max(1) as f64;
            let binary_share = a.binary as f64 / u as f64;
            let null_share = a.null_types as f64 / a.queries.max(1) as f64;
            let followed = a.resolved.iter().any(|ip| self.followed(host, a, *ip));
            let no_follow = if followed { 0.0 } else { 1.0 };
            let mut score = 0.35 * util::ramp((u as f64).log10(), (self.cfg.min_unique as f64).log10(), 3.0)
                + 0.2 * util::ramp(mean_len, 10.0, 40.0)
                + 0.15 * util::ramp(mean_ent, 2.5, 4.0).max(binary_share)
                + 0.15 * util::ramp(data_share, 0.05, 0.5)
                + 0.15 * no_follow
                + 0.1 * util::ramp(null_share, 0.05, 0.3);
            // Anti-spam and reputation lookups: many unique names, never followed, but shaped
            // like reversed addresses.
            let reputation = a.reputation * 10 >= (u as u64) * 8;
            if reputation {
                score *= 0.5;
            }
            let common = !is_resolver && self.is_common(asked_by, total_clients);
            if common {
                score *= 0.5;
            }
            let score = util::round3(util::clamp01(score));
            if score < self.cfg.report_threshold {
                continue;
            }
            let id = Finding::stable_id(FindingKind::DnsTunnel, &[&host.to_string(), dom]);
            if self.tuning.is_suppressed(&id) {
                continue;
            }
            let who = if is_resolver {
                format!("{host} (a DNS resolver; only its queries to the outside are visible, not the internal client that asked)")
            } else {
                host.to_string()
            };
            let summary = format!(
                "{who} looked up {u} different names under {dom} (average {mean_len:.0} characters, {mean_ent:.1} bits of entropy each){}{} — data or commands are likely being carried inside DNS queries.",
                if data_share >= 0.05 { format!(", {:.0}% of them TXT/NULL/CNAME/MX", data_share * 100.0) } else { String::new() },
                if followed { "" } else { ", and never connected to any address they resolved to" },
            );
            let mut dst: Vec<String> = a.servers.iter().take(5).map(ToString::to_string).collect();
            dst.push(dom.to_string());
            out.push(Finding {
                id,
                kind: FindingKind::DnsTunnel,
                severity: Severity::from_score(score),
                score,
                src: host.to_string(),
                dst,
                path: Vec::new(),
                first_seen: util::site_time(ctx, a.first),
                last_seen: util::site_time(ctx, a.last),
                attack: vec!["T1071.004".into(), "T1572".into(), "T1048.003".into()],
                summary,
                evidence: json!({
                    "registered_domain": dom,
                    "queries": a.queries,
                    "unique_subdomains": u,
                    "mean_subdomain_length": util::round3(mean_len),
                    "max_subdomain_length": a.max_len,
                    "mean_entropy_bits": util::round3(mean_ent),
                    "non_hostname_share": util::round3(binary_share),
                    "txt_null_cname_mx_share": util::round3(data_share),
                    "null_or_private_type_share": util::round3(null_share),
                    "nxdomain": a.nxdomain,
                    "resolved_addresses": a.resolved.len(),
                    "connected_to_resolved": followed,
                    "resolvers": a.servers.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "src_is_resolver": is_resolver,
                    "resolver_leg_only": is_resolver,
                    "clients_asking_domain": asked_by,
                    "damped_as_common": common,
                    "damped_as_reputation_lookups": reputation,
                    "examples": a.examples,
                }),
            });
        }
        out.extend(self.dga_findings(ctx, &domain_clients, total_clients));
        out
    }
}

/// One registered domain a client failed to resolve (or, for the resolved family, resolved).
struct Lookup<'a> {
    dom: &'a str,
    agg: &'a Agg,
}

impl DnsTunnelDetector {
    /// Whether `host` connected to an address `a` resolved.
    fn followed(&self, host: IpAddr, a: &Agg, ip: IpAddr) -> bool {
        let packed = match ip {
            IpAddr::V4(v4) if a.host_id != NO_HOST => self.contacts4.contains(&crate::front::pack(a.host_id, v4)),
            _ => false,
        };
        packed || self.contacts.contains(&(host, ip))
    }

    /// The internal hosts that connected to each of `ips` (among those that also asked DNS
    /// here, so that their addresses are known): one pass over the contact sets, whatever the
    /// number of findings asking.
    fn contacts_of(&self, ips: &HashSet<IpAddr>) -> HashMap<IpAddr, BTreeSet<IpAddr>> {
        let mut out: HashMap<IpAddr, BTreeSet<IpAddr>> = HashMap::new();
        if ips.is_empty() {
            return out;
        }
        let id_to_ip: HashMap<u32, IpAddr> =
            self.pairs.iter().filter(|(_, a)| a.host_id != NO_HOST).map(|((h, _), a)| (a.host_id, *h)).collect();
        for &k in &self.contacts4 {
            let dst = IpAddr::V4(std::net::Ipv4Addr::from(k as u32));
            if ips.contains(&dst)
                && let Some(&ip) = id_to_ip.get(&((k >> 32) as u32))
            {
                out.entry(dst).or_default().insert(ip);
            }
        }
        for (h, d) in self.contacts.iter().filter(|(_, d)| ips.contains(d)) {
            out.entry(*d).or_default().insert(*h);
        }
        out
    }

    /// Domain-generation algorithms: a client that fails to resolve many registered domains
    /// nobody else asks for, in a burst, most of them shaped alike (one algorithm: one label
    /// length, one suffix). Reported as `dns_tunnel` (DNS used by malware to find its
    /// controller), method `dga`, with the generated names that did resolve.
    fn dga_findings(&self, ctx: &Context, domain_clients: &HashMap<&str, usize>, total_clients: usize) -> Vec<Finding> {
        let mut per_host: BTreeMap<IpAddr, (Vec<Lookup<'_>>, Vec<Lookup<'_>>)> = BTreeMap::new();
        for ((host, did), a) in &self.pairs {
            let dom = self.domains.get(*did);
            let asked_by = domain_clients.get(dom).copied().unwrap_or(0);
            let is_resolver = self.resolvers.contains(host);
            // A resolver's lookups are its clients' when they are visible.
            if is_resolver && asked_by > 0 {
                continue;
            }
            if self.is_common(asked_by, total_clients) || self.allowed(ctx, dom) {
                continue;
            }
            let e = per_host.entry(*host).or_default();
            if a.first_nx.is_some() {
                e.0.push(Lookup { dom, agg: a });
            } else if !a.resolved.is_empty() && under_public_suffix(dom) {
                e.1.push(Lookup { dom, agg: a });
            }
        }
        let mut pending: Vec<(Vec<IpAddr>, Finding)> = Vec::new();
        for (host, (mut failed, resolved)) in per_host {
            let n = failed.len();
            if n < self.cfg.dga_min_domains.max(1) {
                continue;
            }
            failed.sort_by(|x, y| x.agg.first_nx.cmp(&y.agg.first_nx).then(x.dom.cmp(y.dom)));
            let times: Vec<i64> = failed.iter().filter_map(|l| l.agg.first_nx).map(|t| t.secs()).collect();
            // The densest window: most failures first seen within `dga_window_s`.
            let mut burst = 0usize;
            let mut lo = 0usize;
            for (hi, &t) in times.iter().enumerate() {
                while times.get(lo).is_some_and(|&l| t.saturating_sub(l) > self.cfg.dga_window_s) {
                    lo += 1;
                }
                burst = burst.max(hi + 1 - lo);
            }
            // One algorithm, one shape: the commonest suffix, then the commonest label length
            // under it; the share of names within one character of it.
            let shapes: Vec<(&str, usize)> = failed.iter().map(|l| name_shape(l.dom)).collect();
            let mut by_suffix: BTreeMap<&str, usize> = BTreeMap::new();
            for (suf, _) in &shapes {
                *by_suffix.entry(suf).or_default() += 1;
            }
            let Some(suffix) = by_suffix.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(s, _)| *s) else { continue };
            let mut by_len: BTreeMap<usize, usize> = BTreeMap::new();
            for (_, len) in shapes.iter().filter(|(s, _)| *s == suffix) {
                *by_len.entry(*len).or_default() += 1;
            }
            let Some(len) = by_len.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(l, _)| *l) else { continue };
            let alike_shape = |(s, l): (&str, usize)| s == suffix && l.abs_diff(len) <= 1;
            let alike = shapes.iter().filter(|&&x| alike_shape(x)).count();
            let shape = alike as f64 / n as f64;
            // Generated names that did resolve, around the failures: the controller's.
            let (first, last) = match (failed.first().and_then(|l| l.agg.first_nx), failed.last().and_then(|l| l.agg.first_nx)) {
                (Some(a), Some(b)) => (a, b),
                _ => continue,
            };
            let span_lo = first.secs().saturating_sub(self.cfg.dga_window_s);
            let span_hi = last.secs().saturating_add(self.cfg.dga_window_s);
            let mut family: Vec<(&str, Vec<IpAddr>, bool)> = resolved
                .iter()
                .filter(|l| alike_shape(name_shape(l.dom)) && (span_lo..=span_hi).contains(&l.agg.first.secs()))
                .map(|l| {
                    let mut ips: Vec<IpAddr> = l.agg.resolved.iter().copied().collect();
                    ips.sort();
                    let connected = ips.iter().any(|ip| self.followed(host, l.agg, *ip));
                    ips.truncate(4);
                    (l.dom, ips, connected)
                })
                .collect();
            family.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
            let connected = family.iter().any(|f| f.2);
            let score = 0.25
                + 0.25 * util::ramp(burst as f64, 10.0, 60.0)
                + 0.15 * util::ramp((n as f64).log10(), 20f64.log10(), 500f64.log10())
                + 0.25 * util::ramp(shape, 0.5, 0.9)
                + if connected {
                    0.1
                } else if family.is_empty() {
                    0.0
                } else {
                    0.05
                };
            let score = util::round3(util::clamp01(score));
            if score < self.cfg.report_threshold {
                continue;
            }
            let id = Finding::stable_id(FindingKind::DnsTunnel, &[&host.to_string(), "dga"]);
            if self.tuning.is_suppressed(&id) {
                continue;
            }
            let mut servers: BTreeSet<IpAddr> = BTreeSet::new();
            for l in &failed {
                servers.extend(l.agg.servers.iter().copied());
            }
            let resolved_part = match family.iter().find(|f| f.2) {
                Some((dom, ips, _)) => format!(
                    "; {} name(s) of the same shape resolved, and the host connected to {dom} ({})",
                    family.len(),
                    ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                ),
                None if !family.is_empty() => format!(
                    "; {} name(s) of the same shape resolved ({})",
                    family.len(),
                    family.iter().take(3).map(|f| f.0).collect::<Vec<_>>().join(", ")
                ),
                None => String::new(),
            };
            let summary = format!(
                "{host} failed to resolve {n} different domains, none of them common here ({burst} of them within {} minutes; {:.0}% shaped alike: {len}-character names under .{suffix}) — the pattern of a domain-generation algorithm searching for its controller{resolved_part}",
                self.cfg.dga_window_s / 60,
                shape * 100.0,
            );
            let mut dst: Vec<String> = servers.iter().take(3).map(ToString::to_string).collect();
            for (dom, ips, _) in family.iter().take(5) {
                for d in std::iter::once((*dom).to_string()).chain(ips.iter().map(ToString::to_string)) {
                    if !dst.contains(&d) {
                        dst.push(d);
                    }
                }
            }
            let last_seen = failed.iter().map(|l| l.agg.last).max().unwrap_or(last);
            let clients_max = failed.iter().map(|l| domain_clients.get(l.dom).copied().unwrap_or(0)).max().unwrap_or(0);
            let family_ips: Vec<IpAddr> = family.iter().flat_map(|f| f.1.iter().copied()).collect();
            pending.push((family_ips, Finding {
                id,
                kind: FindingKind::DnsTunnel,
                severity: Severity::from_score(score),
                score,
                src: host.to_string(),
                dst,
                path: Vec::new(),
                first_seen: util::site_time(ctx, first),
                last_seen: util::site_time(ctx, last_seen),
                attack: vec!["T1568.002".into(), "T1071.004".into()],
                summary,
                evidence: json!({
                    "method": "dga",
                    "nxdomain_domains": n,
                    "max_in_window": burst,
                    "window_s": self.cfg.dga_window_s,
                    "shape_share": util::round3(shape),
                    "modal_suffix": suffix,
                    "modal_label_length": len,
                    "examples": failed.iter().take(8).map(|l| l.dom).collect::<Vec<_>>(),
                    "resolved_family": family.iter().take(10).map(|(d, ips, c)| json!({"name": d, "addresses": ips.iter().map(ToString::to_string).collect::<Vec<_>>(), "connected": c})).collect::<Vec<_>>(),
                    "connected_to_resolved": connected,
                    "other_hosts_connected": [],
                    "resolvers": servers.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "src_is_resolver": self.resolvers.contains(&host),
                    "clients_asking_max": clients_max,
                }),
            }));
        }
        // Other hosts that connected to the resolved names' addresses (one pass for all).
        let all_ips: HashSet<IpAddr> = pending.iter().flat_map(|(ips, _)| ips.iter().copied()).collect();
        let contacts = self.contacts_of(&all_ips);
        let mut out = Vec::with_capacity(pending.len());
        for (ips, mut f) in pending {
            let mut others: BTreeSet<IpAddr> = ips.iter().filter_map(|ip| contacts.get(ip)).flatten().copied().collect();
            others.retain(|h| h.to_string() != f.src);
            if !others.is_empty() {
                f.summary.push_str(&format!(
                    "; {} connected to those addresses",
                    others.iter().take(3).map(ToString::to_string).collect::<Vec<_>>().join(", ")
                ));
                f.evidence["other_hosts_connected"] = json!(others.iter().map(ToString::to_string).collect::<Vec<_>>());
            }
            f.summary.push('.');
            out.push(f);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_domains_respect_multi_label_suffixes() {
        assert_eq!(registered_domain("a.b.example.com"), "example.com");
        assert_eq!(registered_domain("x.y.example.co.uk."), "example.co.uk");
        assert_eq!(registered_domain("t1.data.evil.com.cn"), "evil.com.cn");
        assert_eq!(registered_domain("abc.someone.github.io"), "someone.github.io");
        assert_eq!(registered_domain("example.com"), "example.com");
        assert_eq!(registered_domain("com"), "com");
        assert_eq!(registered_domain(""), "");
        assert_eq!(registered_domain("...."), "");
    }

    #[test]
    fn the_full_public_suffix_list_is_used() {
        // ICANN multi-label suffixes, including ones no compact list would carry.
        assert_eq!(registered_domain("mail.gov.cn"), "mail.gov.cn");
        assert_eq!(registered_domain("a.b.mail.gov.cn"), "mail.gov.cn");
        assert_eq!(registered_domain("x.shop.com.cn"), "shop.com.cn");
        assert_eq!(registered_domain("www.bbc.co.uk"), "bbc.co.uk");
        assert_eq!(registered_domain("q1.q2.city.kawasaki.jp"), "city.kawasaki.jp");
        assert_eq!(registered_domain("t.x.kommune.no"), "x.kommune.no");
        assert_eq!(registered_domain("aa.bb.example.pvt.k12.ma.us"), "example.pvt.k12.ma.us");
        // Wildcard rule (*.ck) and its exception (!www.ck).
        assert_eq!(registered_domain("a.b.c.ck"), "b.c.ck");
        assert_eq!(registered_domain("a.www.ck"), "www.ck");
        // Bare suffixes stay whole.
        assert_eq!(registered_domain("co.uk"), "co.uk");
        assert_eq!(registered_domain("gov.cn"), "gov.cn");
        // Private section: each customer of a hosting or dynamic-DNS suffix is its own domain.
        assert_eq!(registered_domain("k3j2h1.data.bucket-one.s3.amazonaws.com"), "bucket-one.s3.amazonaws.com");
        assert_eq!(registered_domain("x.evil.duckdns.org"), "evil.duckdns.org");
        assert_eq!(registered_domain("p.someone.github.io"), "someone.github.io");
        // A TLD the list does not know (iodine's test zone): the last label is the suffix.
        assert_eq!(registered_domain("0abc.t.pirate.sea"), "pirate.sea");
        assert_eq!(registered_domain("HOST.Corp.Internal."), "corp.internal");
    }

    #[test]
    fn entropy_equals_the_sum_over_all_byte_counts_bit_for_bit() {
        // The definition: counts of every byte value but '.', summed in byte order.
        let reference = |s: &str| -> f64 {
            let mut counts = [0u32; 256];
            let mut n = 0u32;
            for b in unescape(s).into_iter().filter(|&b| b != b'.') {
                counts[b as usize] += 1;
                n += 1;
            }
            if n == 0 {
                return 0.0;
            }
            let n = f64::from(n);
            counts.iter().filter(|&&c| c > 0).map(|&c| f64::from(c) / n).map(|p| -p * p.log2()).sum()
        };
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet: Vec<char> = "abcxyz0189.-_\\".chars().collect();
        for round in 0..2_000 {
            let len = (next() % 90) as usize;
            let mut s: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            if round % 3 == 0 {
                s.push_str(&format!("\\x{:02x}", next() % 256));
            }
            assert_eq!(entropy(&s).to_bits(), reference(&s).to_bits(), "{s:?}");
            assert_eq!(unescaped(&s).as_ref(), unescape(&s).as_slice());
        }
        for s in ["", ".", "aaaa", "a.a.a", "\\xff\\xff", "ab"] {
            assert_eq!(entropy(s).to_bits(), reference(s).to_bits(), "{s:?}");
        }
    }

    #[test]
    fn entropy_separates_random_from_words() {
        assert!(entropy("aaaaaaa") < 0.01);
        assert!(entropy("mail") < 2.1);
        assert!(entropy("x7f3k9q2m4z8w1v6b5n0") > 4.0);
        assert_eq!(entropy(""), 0.0);
        assert_eq!(unescape("a\\xe4b\\xZZ\\x4"), vec![b'a', 0xe4, b'b', b'\\', b'x', b'Z', b'Z', b'\\', b'x', b'4']);
        assert!(is_hostname_bytes(b"mail-01.example_x"));
        assert!(looks_like_reputation_lookup("4.3.2.1.zen"));
        assert!(looks_like_reputation_lookup("b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4"));
        assert!(!looks_like_reputation_lookup("x7f3k9q2.data"));
        assert!(!is_hostname_bytes(&[b'a', 0xe4]));
    }
}
