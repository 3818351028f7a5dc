//! `exfiltration` and `rotating_destinations`: data leaving the site.
//!
//! `exfiltration` sums what each internal host uploads to each outside address and judges the
//! volume against the host's own baseline (its daily upload to everything else) and against
//! its peers (the median host's upload in the window); the upload/download ratio; and the
//! context that makes an upload suspicious: off-hours or non-work days in the site zone, a
//! foreign destination, encryption, a destination no other host uses, a critical source zone.
//! Domestic or allow-listed destinations and regular, recurring uploads to a destination of
//! unknown country (scheduled backups) are damped.
//!
//! `rotating_destinations` looks for one host sending similar encrypted uploads to a
//! different, previously unseen outside address each night or session — an exfiltration tool
//! that hops between rented servers so no one address stands out.

use crate::Detector;
use crate::front::{FrontEnd, HostMap, IdMap, NO_PAIR, Names, Rec};
use crate::prevalence::Prevalence;
use crate::util::{self, DaySums, NONE, Tuning};
use foldhash::{HashMap, HashMapExt};
use serde_json::json;
use std::collections::BTreeSet;
use std::net::IpAddr;
use vigil_enrich::Context;
use vigil_model::{Conn, Finding, FindingKind, Severity, Timestamp};

/// Settings of the exfiltration and rotating-destination detectors.
#[derive(Debug, Clone)]
pub struct ExfilConfig {
    /// Least upload to one destination in the window to be judged.
    pub min_bytes: u64,
    /// Upload must be at least this multiple of the download.
    pub min_up_down_ratio: f64,
    /// Findings below this score are not reported.
    pub report_threshold: f64,
    /// Least upload per connection for a rotating-destination session.
    pub rotating_min_session_bytes: u64,
    /// Fewest distinct destinations (each on its own day or session) for rotation.
    pub rotating_min_destinations: usize,
    /// Sessions count as similar when each is within this factor of their median upload: one
    /// order of magnitude, since what a tool stages each night varies (30 MB one night, 300 MB
    /// the next), while a 200 KB post and a 200 MB upload are different activities.
    pub rotating_size_factor: f64,
    pub common_min_hosts: usize,
    pub common_min_share: f64,
    /// Destinations tracked per host; beyond it the smallest are not tracked.
    pub max_dsts_per_host: usize,
}

impl Default for ExfilConfig {
    fn default() -> Self {
        ExfilConfig {
            min_bytes: 2_000_000,
            min_up_down_ratio: 2.0,
            report_threshold: 0.4,
            rotating_min_session_bytes: 100_000,
            rotating_min_destinations: 3,
            rotating_size_factor: 10.0,
            common_min_hosts: 3,
            common_min_share: 0.3,
            max_dsts_per_host: 100_000,
        }
    }
}

#[derive(Debug, Clone)]
struct DstAgg {
    ip: IpAddr,
    sent: u64,
    recv: u64,
    conns: u64,
    first: Timestamp,
    last: Timestamp,
    off_sent: u64,
    enc_sent: u64,
    enc_conns: u64,
    /// The first server name asked of this destination (a front-end name id kept in
    /// `Uploads::names`), NONE when there was none.
    name: u32,
    /// Upload per local day.
    days: DaySums,
    /// Local hours of the uploads (bitmask), to recognise a schedule.
    hours: u32,
}

#[derive(Debug, Default)]
struct HostAgg {
    /// The host's destinations: item indices of `Uploads::dsts`.
    dsts: Vec<u32>,
    total_sent: u64,
    /// Local days with traffic (the sums are unused).
    days: DaySums,
    dropped: u64,
}

/// Hosts per outside address. An address is counted for a host when the host's aggregate for
/// it is made, which happens once per (host, address): a pair id is never handed out twice and
/// keeps its aggregate. So a count per address is its number of distinct hosts, with no host
/// list to search per new pair. Records whose pair got no aggregate (the per-host cap, no pair
/// id) are counted in `unpaired` with host lists; such a (host, address) never has an
/// aggregate, so the two parts never count one host twice.
#[derive(Debug, Default)]
struct AddrHosts {
    paired: HashMap<IpAddr, u32>,
    unpaired: Prevalence<IpAddr>,
}

impl AddrHosts {
    /// Counts a new (host, `ip`) aggregate. Past [`Prevalence::MAX_KEYS`] addresses, new ones
    /// are not counted (as a prevalence table refuses keys).
    fn add_pair(&mut self, ip: IpAddr) {
        if let Some(n) = self.paired.get_mut(&ip) {
            *n = n.saturating_add(1);
        } else if self.paired.len() < Prevalence::<IpAddr>::MAX_KEYS {
            self.paired.insert(ip, 1);
        }
    }

    /// Counts host `id` for `ip` without an aggregate.
    fn add_unpaired(&mut self, ip: IpAddr, id: u32) {
        self.unpaired.add_for_counted_host(&ip, id);
    }

    /// Distinct hosts that sent to `ip` (at most [`Prevalence::MAX_HOSTS_PER_KEY`], as a
    /// prevalence table counts).
    fn hosts_for(&self, ip: IpAddr) -> usize {
        let paired = self.paired.get(&ip).map_or(0, |&n| n as usize);
        (paired + self.unpaired.hosts_for(&ip)).min(Prevalence::<IpAddr>::MAX_HOSTS_PER_KEY)
    }
}

/// Per host, per outside destination (by front-end pair id): what `exfiltration` judges, and
/// the prevalence of addresses both detectors ask about.
#[derive(Debug, Default)]
struct Uploads {
    hosts: HostMap<HostAgg>,
    dsts: IdMap<DstAgg>,
    /// Hosts per address.
    addrs: AddrHosts,
    /// Hosts per server name (a front-end name id), and every internal host (the share's
    /// denominator).
    prev: Prevalence<u32>,
    names: Names,
}

/// `rotating_destinations`' view of one destination: its encrypted sessions of some size.
#[derive(Debug, Clone)]
struct SessionAgg {
    ip: IpAddr,
    sent: u64,
    recv: u64,
    first: Timestamp,
    last: Timestamp,
    /// First and last local day with an upload.
    days: Option<(i64, i64)>,
    /// The first server name asked in these sessions (a front-end name id in
    /// `Uploads::names`), NONE when there was none.
    name: u32,
}

/// Encrypted uploads of at least `rotating_min_session_bytes` per host and destination, kept
/// beside [`Uploads`] so that both detectors count each address's hosts once (the table the two
/// used to keep each).
#[derive(Debug, Default)]
struct Sessions {
    /// Each host's destinations: item indices of `dsts`.
    hosts: HostMap<Vec<u32>>,
    dsts: IdMap<SessionAgg>,
    /// Hosts per server name (a front-end name id), counted from these sessions only.
    names: Prevalence<u32>,
}

impl Sessions {
    /// Adds `r` when it is an encrypted outbound upload of at least `min` bytes; names are
    /// kept in `names`.
    fn observe(&mut self, r: &Rec<'_>, min: u64, max_dsts: usize, names: &mut Names) {
        let c = r.conn;
        if !(r.sent >= min && r.encrypted && r.outbound()) {
            return;
        }
        let name_id = r.name_id;
        let Some(list) = self.hosts.entry(r.orig_id, c.orig_h, Vec::new) else { return };
        let slot = match self.dsts.slot(r.pair) {
            Some(i) => i,
            None => {
                let made = if list.len() >= max_dsts || r.pair == NO_PAIR {
                    None
                } else {
                    self.dsts.insert(r.pair, SessionAgg { ip: c.resp_h, sent: 0, recv: 0, first: c.ts, last: c.ts, days: None, name: NONE })
                };
                let Some(i) = made else {
                    if name_id != NONE {
                        self.names.add_for_counted_host(&name_id, r.orig_id);
                    }
                    return;
                };
                list.push(i);
                i
            }
        };
        let Some(d) = self.dsts.item_mut(slot) else { return };
        if name_id != NONE && d.name != name_id {
            self.names.add_for_counted_host(&name_id, r.orig_id);
        }
        d.sent = d.sent.saturating_add(r.sent);
        d.recv = d.recv.saturating_add(r.recv);
        d.first = d.first.min(c.ts);
        d.last = d.last.max(c.end());
        if d.name == NONE && name_id != NONE {
            d.name = names.keep(r);
        }
        if r.sent > 0 {
            let day = r.local_day;
            d.days = Some(d.days.map_or((day, day), |(a, b)| (a.min(day), b.max(day))));
        }
    }

    /// Hosts that sent sessions to `ip` or to the destination's name: the address's hosts
    /// from every upload (`prev`), the name's from these sessions.
    fn hosts_using(&self, up: &Uploads, d: &SessionAgg) -> usize {
        let a = up.addrs.hosts_for(d.ip);
        let b = if d.name == NONE { 0 } else { self.names.hosts_for(&d.name) };
        a.max(b)
    }
}

impl Uploads {
    fn observe(&mut self, r: &Rec<'_>, max_dsts: usize) {
        let c = r.conn;
        if !r.orig_internal {
            return;
        }
        self.prev.add_host(r.orig_id);
        if !r.outbound() {
            return;
        }
        let (sent, recv) = (r.sent, r.recv);
        let name_id = r.name_id;
        let Some(h) = self.hosts.entry(r.orig_id, c.orig_h, HostAgg::default) else { return };
        h.total_sent = h.total_sent.saturating_add(sent);
        h.days.add(r.local_day, 0);
        // The host was counted for this destination when its aggregate was made (the first
        // record of the pair): only a new aggregate adds it, which spares most records a
        // lookup in the prevalence table.
        let slot = match self.dsts.slot(r.pair) {
            Some(i) => i,
            None => {
                let made = if h.dsts.len() >= max_dsts || r.pair == NO_PAIR {
                    None
                } else {
                    self.dsts.insert(
                        r.pair,
                        DstAgg {
                            ip: c.resp_h,
                            sent: 0,
                            recv: 0,
                            conns: 0,
                            first: c.ts,
                            last: c.ts,
                            off_sent: 0,
                            enc_sent: 0,
                            enc_conns: 0,
                            name: NONE,
                            days: DaySums::default(),
                            hours: 0,
                        },
                    )
                };
                let Some(i) = made else {
                    h.dropped += 1;
                    self.addrs.add_unpaired(c.resp_h, r.orig_id);
                    if name_id != NONE {
                        self.prev.add_for_counted_host(&name_id, r.orig_id);
                    }
                    return;
                };
                h.dsts.push(i);
                self.addrs.add_pair(c.resp_h);
                i
            }
        };
        let Some(d) = self.dsts.item_mut(slot) else { return };
        // The destination's first name was counted for this host when it was first asked.
        if name_id != NONE && d.name != name_id {
            self.prev.add_for_counted_host(&name_id, r.orig_id);
        }
        d.sent = d.sent.saturating_add(sent);
        d.recv = d.recv.saturating_add(recv);
        d.conns += 1;
        d.first = d.first.min(c.ts);
        d.last = d.last.max(c.end());
        if r.off_hours {
            d.off_sent = d.off_sent.saturating_add(sent);
        }
        if r.encrypted {
            d.enc_sent = d.enc_sent.saturating_add(sent);
            d.enc_conns += 1;
        }
        if d.name == NONE && name_id != NONE {
            d.name = self.names.keep(r);
        }
        if sent > 0 {
            d.days.add(r.local_day, sent);
            d.hours |= 1 << r.local_hour.min(23);
        }
    }

    /// Starts loading the state `near` will update, and the pair slot of `far` (further
    /// ahead, so that its slot is cached when it is `near`).
    #[inline]
    fn prefetch(&self, near: Option<&Rec<'_>>, far: Option<&Rec<'_>>) {
        if let Some(f) = far.filter(|f| f.outbound()) {
            self.dsts.prefetch_slot(f.pair);
        }
        if let Some(n) = near.filter(|n| n.outbound()) {
            self.hosts.prefetch(n.orig_id);
            self.dsts.prefetch_item(n.pair);
        }
    }

    fn name_key(d: &DstAgg) -> Option<u32> {
        (d.name != NONE).then_some(d.name)
    }

    /// The destination's server name.
    fn name<'a>(&'a self, d: &DstAgg) -> Option<&'a str> {
        (d.name != NONE).then(|| self.names.get(d.name))
    }

    fn allowed(&self, tuning: &Tuning, ctx: &Context, ip: IpAddr, d: &DstAgg) -> bool {
        tuning.is_allowed(ctx, ip, self.name(d), None)
    }

    fn common(&self, cfg: &ExfilConfig, ip: IpAddr, d: &DstAgg) -> bool {
        self.prev.is_common_count(self.addrs.hosts_for(ip), cfg.common_min_hosts, cfg.common_min_share)
            || Self::name_key(d).is_some_and(|k| self.prev.is_common(&k, cfg.common_min_hosts, cfg.common_min_share))
    }

    fn hosts_using(&self, ip: IpAddr, d: &DstAgg) -> usize {
        let a = self.addrs.hosts_for(ip);
        let b = Self::name_key(d).map_or(0, |k| self.prev.hosts_for(&k));
        a.max(b)
    }
}

fn median_u64(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    let n = v.len();
    if n == 0 {
        return 0;
    }
    if n % 2 == 1 {
        v.get(n / 2).copied().unwrap_or(0)
    } else {
        (v.get(n / 2 - 1).copied().unwrap_or(0) / 2).saturating_add(v.get(n / 2).copied().unwrap_or(0) / 2)
    }
}

/// The exfiltration detector, and with [`ExfilDetector::with_rotation`] the
/// rotating-destination detector over the same uploads.
#[derive(Debug)]
pub struct ExfilDetector {
    cfg: ExfilConfig,
    tuning: Tuning,
    up: Uploads,
    /// Kept when rotating destinations are reported.
    sessions: Option<Sessions>,
    /// Whether exfiltration findings are reported (a [`RotatingDetector`] reports only its own).
    exfil: bool,
    front: FrontEnd,
}

impl Default for ExfilDetector {
    fn default() -> Self {
        Self::new(ExfilConfig::default(), Tuning::default())
    }
}

impl ExfilDetector {
    /// Reports `exfiltration` findings.
    pub fn new(cfg: ExfilConfig, tuning: Tuning) -> Self {
        ExfilDetector { cfg, tuning, up: Uploads::default(), sessions: None, exfil: true, front: FrontEnd::new() }
    }

    /// Reports `exfiltration` and `rotating_destinations` findings from one pass: the two
    /// judge the same uploads and share the count of hosts per address ([`run_all`]'s
    /// choice, which spares the second table).
    ///
    /// [`run_all`]: crate::run_all
    pub fn with_rotation(cfg: ExfilConfig, tuning: Tuning) -> Self {
        ExfilDetector { sessions: Some(Sessions::default()), ..Self::new(cfg, tuning) }
    }

    fn observe_one(&mut self, r: &Rec<'_>) {
        self.up.observe(r, self.cfg.max_dsts_per_host);
        if let Some(s) = self.sessions.as_mut() {
            s.observe(r, self.cfg.rotating_min_session_bytes, self.cfg.max_dsts_per_host, &mut self.up.names);
        }
    }

    fn exfil_findings(&self, ctx: &Context) -> Vec<Finding> {
        // Peers: hosts of the same zone when the zone has at least 3 of them, else all hosts.
        let all_median = median_u64(self.up.hosts.iter().map(|(_, h)| h.total_sent).collect());
        let mut by_zone: HashMap<String, Vec<u64>> = HashMap::new();
        for (ip, h) in self.up.hosts.iter() {
            if let Some(z) = ctx.zone(ip) {
                by_zone.entry(z.name.clone()).or_default().push(h.total_sent);
            }
        }
        // One median per zone, computed once (per host it was quadratic in the zone's size).
        let zone_medians: HashMap<String, (usize, u64)> = by_zone.into_iter().map(|(k, v)| (k, (v.len(), median_u64(v)))).collect();
        let window_start = self.up.dsts.items().iter().map(|d| d.first).min().unwrap_or_default();
        let mut out = Vec::new();
        for (host_ip, hid) in self.up.hosts.sorted() {
            let host = &host_ip;
            let Some(h) = self.up.hosts.get(hid) else { continue };
            let zone_peers =
                ctx.zone(*host).and_then(|z| zone_medians.get(&z.name).map(|m| (z.name.as_str(), *m))).filter(|(_, (n, _))| *n >= 3);
            let (peer_group, peers, peer_median) = match zone_peers {
                Some((name, (n, median))) => (format!("zone {name}"), n, median),
                None => ("all hosts".to_string(), self.up.hosts.len(), all_median),
            };
            let mut dsts: Vec<(&IpAddr, &DstAgg)> = h.dsts.iter().filter_map(|&i| self.up.dsts.item(i)).map(|d| (&d.ip, d)).collect();
            dsts.sort_by_key(|(ip, _)| **ip);
            for (ip, d) in dsts {
                if d.sent < self.cfg.min_bytes || (d.sent as f64) < self.cfg.min_up_down_ratio * d.recv as f64 {
                    continue;
                }
                if self.up.allowed(&self.tuning, ctx, *ip, d) {
                    continue;
                }
                let sent = d.sent as f64;
                let v = util::ramp(sent.log10(), (self.cfg.min_bytes.max(1) as f64).log10(), 9.0);
                let a = sent / (sent + d.recv as f64).max(1.0);
                let dst_days = d.days.len().max(1) as f64;
                let other_daily = h.total_sent.saturating_sub(d.sent) as f64 / h.days.len().max(1) as f64;
                let b_self = util::ramp((sent / dst_days / (other_daily + 1e6)).log2(), 0.0, 4.0);
                let b_peer = if peers >= 3 { util::ramp((sent / (peer_median as f64 + 1e6)).log2(), 0.0, 4.0) } else { b_self };
                let b = b_self.max(b_peer);
                let core = 0.35 * v + 0.25 * a + 0.4 * b;
                let foreign = ctx.is_foreign(*ip);
                let f = match foreign {
                    Some(true) => 1.0,
                    None => 0.5,
                    Some(false) => 0.0,
                };
                let o = d.off_sent as f64 / sent.max(1.0);
                let e = d.enc_sent as f64 / sent.max(1.0);
                let using = self.up.hosts_using(*ip, d);
                let r = match using {
                    0 | 1 => 1.0,
                    2 => 0.5,
                    _ => 0.0,
                };
                let zone = ctx.zone(*host);
                let crit = if zone.is_some_and(|z| z.critical) { 1.0 } else { 0.0 };
                let context = 0.35 * f + 0.2 * o + 0.15 * e + 0.2 * r + 0.1 * crit;
                let mut score = core * (0.4 + 0.6 * context);
                // A recurring upload at the same hours on several days is a schedule: a backup
                // unless the destination is known to be abroad (then: scheduled exfiltration).
                let upload_days = d.days.len();
                let scheduled = upload_days >= 3 && d.hours.count_ones() <= 3;
                let mut damped = Vec::new();
                if foreign == Some(false) {
                    score *= 0.6;
                    damped.push("domestic destination");
                } else if foreign.is_none() && scheduled {
                    score *= 0.55;
                    damped.push("regular schedule to a destination of unknown country");
                }
                if self.up.common(&self.cfg, *ip, d) {
                    score *= 0.5;
                    damped.push("destination used by many hosts");
                }
                let score = util::round3(util::clamp01(score));
                if score < self.cfg.report_threshold {
                    continue;
                }
                let id = Finding::stable_id(FindingKind::Exfiltration, &[&host.to_string(), &ip.to_string()]);
                if self.tuning.is_suppressed(&id) {
                    continue;
                }
                let country = util::country_str(ctx, *ip);
                let geo = ctx.geo(*ip);
                let where_ = match (&country, foreign) {
                    (Some(cc), Some(true)) => format!(" in {cc} (abroad)"),
                    (Some(cc), _) => format!(" in {cc}"),
                    _ => String::new(),
                };
                let target = self.up.name(d).map_or_else(|| ip.to_string(), |n| format!("{n} ({ip})"));
                let summary = format!(
                    "{host} uploaded {}{} to {target}{where_}{} over {} day(s), while it sends about {} a day elsewhere; check what was sent and whether this transfer is authorised.",
                    util::human_bytes(d.sent),
                    if e >= 0.5 { " encrypted" } else { "" },
                    if o >= 0.5 { " mostly outside working hours" } else { "" },
                    upload_days.max(1),
                    util::human_bytes(other_daily.round() as u64),
                );
                let mut attack = vec!["T1041".to_string()];
                if e >= 0.5 {
                    attack.push("T1048.002".into());
                }
                if scheduled {
                    attack.push("T1029".into());
                }
                let mut dst = vec![ip.to_string()];
                if let Some(n) = self.up.name(d) {
                    dst.push(n.to_string());
                }
                out.push(Finding {
                    id,
                    kind: FindingKind::Exfiltration,
                    severity: Severity::from_score(score),
                    score,
                    src: host.to_string(),
                    dst,
                    path: Vec::new(),
                    first_seen: util::site_time(ctx, d.first),
                    last_seen: util::site_time(ctx, d.last),
                    attack,
                    summary,
                    evidence: json!({
                        "bytes_sent": d.sent,
                        "bytes_received": d.recv,
                        "connections": d.conns,
                        "upload_share": util::round3(a),
                        "host_daily_upload_elsewhere": other_daily.round() as u64,
                        "peer_median_upload": peer_median,
                        "peers": peers,
                        "peer_group": peer_group,
                        "first_contact_after_window_start_s": d.first.since(window_start).round(),
                        "vs_own_baseline": util::round3(b_self),
                        "vs_peers": util::round3(b_peer),
                        "off_hours_share": util::round3(o),
                        "encrypted_share": util::round3(e),
                        "country": country,
                        "asn": geo.asn,
                        "as_org": geo.as_org,
                        "foreign": foreign,
                        "hosts_using_destination": using,
                        "zone": zone.map(|z| z.name.clone()),
                        "critical_zone": crit > 0.0,
                        "upload_days": upload_days,
                        "scheduled": scheduled,
                        "damped_because": damped,
                        "score_volume": util::round3(v),
                        "score_context": util::round3(context),
                    }),
                });
            }
        }
        out
    }

    /// `rotating_destinations` findings from the sessions (none when they are not kept).
    fn rotating_findings(&self, ctx: &Context) -> Vec<Finding> {
        let Some(ses) = self.sessions.as_ref() else { return Vec::new() };
        let name = |d: &SessionAgg| (d.name != NONE).then(|| self.up.names.get(d.name));
        let mut out = Vec::new();
        for (host_ip, hid) in ses.hosts.sorted() {
            let host = &host_ip;
            let Some(h) = ses.hosts.get(hid) else { continue };
            // Destinations used by this host alone, on a single day, uploading more than fetching.
            let mut sessions: Vec<(Timestamp, IpAddr, &SessionAgg, i64)> = h
                .iter()
                .filter_map(|&i| ses.dsts.item(i))
                .filter(|d| {
                    d.days.is_some_and(|(a, b)| a == b)
                        && d.sent > d.recv
                        && ses.hosts_using(&self.up, d) <= 1
                        && ctx.is_foreign(d.ip) != Some(false)
                        && !self.tuning.is_allowed(ctx, d.ip, name(d), None)
                })
                .filter_map(|d| Some((d.first, d.ip, d, d.days?.0)))
                .collect();
            sessions.sort_by_key(|s| (s.0, s.1));
            // One new destination per day or session (sessions at least 4 h apart).
            let mut picked: Vec<(Timestamp, IpAddr, &SessionAgg, i64)> = Vec::new();
            for s in sessions {
                if picked.last().is_none_or(|p| s.3 != p.3 && s.0.since(p.0) >= 4.0 * 3600.0) {
                    picked.push(s);
                }
            }
            if picked.len() < self.cfg.rotating_min_destinations {
                continue;
            }
            // Similar sizes: within `rotating_size_factor` of the median.
            let med = median_u64(picked.iter().map(|p| p.2.sent).collect()) as f64;
            let k = self.cfg.rotating_size_factor.max(1.0);
            picked.retain(|p| {
                let s = p.2.sent as f64;
                s >= med / k && s <= med * k
            });
            if picked.len() < self.cfg.rotating_min_destinations {
                continue;
            }
            // One service behind many addresses (the same name each time) is not rotation.
            let names: BTreeSet<&str> = picked.iter().filter_map(|p| name(p.2)).collect();
            let named = picked.iter().filter(|p| p.2.name != NONE).count();
            if named >= 2 && names.len() * 2 <= named {
                continue;
            }
            let n = picked.len();
            let foreign_all = picked.iter().all(|p| ctx.is_foreign(p.1) == Some(true));
            let off = picked.iter().filter(|p| ctx.is_off_hours(p.0)).count() * 2 > n;
            let mut score = 0.6 + 0.1 * (n.saturating_sub(3).min(2) as f64);
            if foreign_all {
                score += 0.1;
            } else {
                score -= 0.05;
            }
            if off {
                score += 0.05;
            }
            let score = util::round3(util::clamp01(score));
            if score < self.cfg.report_threshold {
                continue;
            }
            let ips: Vec<String> = picked.iter().map(|p| p.1.to_string()).collect();
            let id = Finding::stable_id(FindingKind::RotatingDestinations, &[&host.to_string(), &ips.join(",")]);
            if self.tuning.is_suppressed(&id) {
                continue;
            }
            let total: u64 = picked.iter().map(|p| p.2.sent).fold(0, u64::saturating_add);
            let countries: BTreeSet<String> = picked.iter().filter_map(|p| util::country_str(ctx, p.1)).collect();
            let first = picked.first().map(|p| p.0).unwrap_or_default();
            let last = picked.iter().map(|p| p.2.last).max().unwrap_or_default();
            let rows: Vec<serde_json::Value> = picked
                .iter()
                .map(|p| {
                    json!({
                        "dst": p.1.to_string(),
                        "name": name(p.2),
                        "first_seen": util::site_time(ctx, p.0).to_rfc3339(),
                        "bytes_sent": p.2.sent,
                        "bytes_received": p.2.recv,
                        "country": util::country_str(ctx, p.1),
                        "off_hours": ctx.is_off_hours(p.0),
                    })
                })
                .collect();
            let summary = format!(
                "{host} sent similar encrypted uploads ({} in total) to {n} different never-before-seen outside addresses, a new one each {}{} — the habit of exfiltration tools that hop between rented servers.",
                util::human_bytes(total),
                if off { "night" } else { "session" },
                if countries.is_empty() {
                    String::new()
                } else {
                    format!(" (countries: {})", countries.iter().cloned().collect::<Vec<_>>().join(", "))
                },
            );
            let mut dst = ips.clone();
            dst.extend(names.iter().map(|s| (*s).to_string()));
            out.push(Finding {
                id,
                kind: FindingKind::RotatingDestinations,
                severity: Severity::from_score(score),
                score,
                src: host.to_string(),
                dst,
                path: Vec::new(),
                first_seen: util::site_time(ctx, first),
                last_seen: util::site_time(ctx, last),
                attack: vec!["T1041".into(), "T1048.002".into(), "T1029".into()],
                summary,
                evidence: json!({
                    "destinations": rows,
                    "bytes_sent_total": total,
                    "median_upload": med as u64,
                    "all_foreign": foreign_all,
                    "mostly_off_hours": off,
                }),
            });
        }
        out
    }
}

impl Detector for ExfilDetector {
    fn name(&self) -> &'static str {
        if self.exfil { "exfiltration" } else { "rotating_destinations" }
    }

    fn observe(&mut self, c: &Conn, ctx: &Context) {
        let r = self.front.rec(c, ctx);
        self.observe_one(&r);
    }

    fn observe_rec(&mut self, r: &Rec<'_>) {
        self.observe_one(r);
    }

    fn observe_recs(&mut self, recs: &[Rec<'_>]) {
        for (i, r) in recs.iter().enumerate() {
            self.up.prefetch(recs.get(i + util::AHEAD), recs.get(i + 2 * util::AHEAD));
            self.observe_one(r);
        }
    }

    fn finish(&mut self, ctx: &Context) -> Vec<Finding> {
        let mut out = if self.exfil { self.exfil_findings(ctx) } else { Vec::new() };
        out.extend(self.rotating_findings(ctx));
        out
    }
}

/// The rotating-destinations detector alone: an [`ExfilDetector`] that keeps the sessions and
/// reports only `rotating_destinations` (in [`crate::run_all`] one
/// [`ExfilDetector::with_rotation`] reports both kinds).
#[derive(Debug)]
pub struct RotatingDetector(ExfilDetector);

impl Default for RotatingDetector {
    fn default() -> Self {
        Self::new(ExfilConfig::default(), Tuning::default())
    }
}

impl RotatingDetector {
    pub fn new(cfg: ExfilConfig, tuning: Tuning) -> Self {
        RotatingDetector(ExfilDetector { exfil: false, ..ExfilDetector::with_rotation(cfg, tuning) })
    }
}

impl Detector for RotatingDetector {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn observe(&mut self, c: &Conn, ctx: &Context) {
        self.0.observe(c, ctx);
    }

    fn observe_rec(&mut self, r: &Rec<'_>) {
        self.0.observe_rec(r);
    }

    fn observe_recs(&mut self, recs: &[Rec<'_>]) {
        self.0.observe_recs(recs);
    }

    fn finish(&mut self, ctx: &Context) -> Vec<Finding> {
        self.0.finish(ctx)
    }
}
