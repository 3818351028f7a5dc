//! `beacon`: a trojan calling home. Connections from each internal host are grouped three ways —
//! by destination address, by the name asked for (TLS SNI / HTTP Host, which also catches
//! beacons through a web proxy), and by client TLS fingerprint (JA4) plus the destination's
//! ASN or country, so a controller that rotates addresses without a stable name still forms one
//! group. Each group is scored for regularity with RITA v5's method (Bowley skew and MAD of the
//! intervals and of the sizes, a 24-bin connection histogram over the window, and its coverage
//! / consistency), reimplemented in [`crate::util`], and additionally with a *time-boxed* score
//! that judges coverage and flatness only over the hours and days the pair is active, so a
//! beacon that runs 02:00–05:00 every night is not penalised for its silent days. Overlapping
//! groupings of the same host are merged into one finding per host and controller.
//!
//! State: a host's records are kept per *combination* of destination, name and fingerprint
//! (every group is a union of combinations, so a group's series, counts and the overlap of two
//! groups follow exactly from them). Each combination keeps its sums and a series of (second,
//! bytes sent) per connection, 8 bytes each. A series that reaches `max_series` points is
//! thinned deterministically — every other point kept, and from then on every second record —
//! so a long-running beacon keeps its period's regularity, shape over the window and size
//! pattern at half the resolution, while its connection count, bytes and first and last times
//! stay exact. Combinations beyond `max_combinations` are counted in `dropped`.

use crate::Detector;
use crate::front::{FrontEnd, HostMap, HostSet, NO_PAIR, Names, Rec as Record};
use crate::util::{self, HistParams, Interner, NONE, Tuning};
use foldhash::{HashMap, HashMapExt};
use serde_json::json;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv6Addr};
use vigil_enrich::Context;
use vigil_model::{Conn, Finding, FindingKind, Severity, Timestamp};

/// Settings of the beacon detector.
#[derive(Debug, Clone)]
pub struct BeaconConfig {
    /// Fewest distinct connection times for a group to be scored (RITA: 4).
    pub min_conns: usize,
    /// Fewest connections and active days for the time-boxed score.
    pub timeboxed_min_conns: usize,
    pub timeboxed_min_days: usize,
    /// Findings below this score are not reported.
    pub report_threshold: f64,
    /// A destination contacted by at least this many hosts and this share of hosts is a service.
    pub common_min_hosts: usize,
    pub common_min_share: f64,
    /// A destination that at least this many hosts call on a similar period (within
    /// `cohort_period_tolerance` of each other) is a service too — NTP, update or telemetry
    /// clients share one schedule — even when those hosts are a small share of a large site.
    pub cohort_min_hosts: usize,
    pub cohort_period_tolerance: f64,
    /// A destination that this many hosts call on a timer, whatever their periods (servers
    /// every 17 min, workstations every 2 h), is a service as well.
    pub service_min_hosts: usize,
    /// An internal address counts as a forward proxy (so beacons through it are seen) when
    /// clients name at least this many distinct outside services through it, or use explicit
    /// proxy requests (CONNECT, absolute URIs). Other inside-to-inside polling is monitoring.
    pub proxy_min_names: usize,
    /// Points of one (destination, name, fingerprint) series before it is thinned by half.
    pub max_series: usize,
    /// (host, destination, name, fingerprint) combinations followed; records of further
    /// combinations are counted in `dropped`.
    pub max_combinations: usize,
    pub hist: HistParams,
}

impl Default for BeaconConfig {
    fn default() -> Self {
        BeaconConfig {
            min_conns: 4,
            timeboxed_min_conns: 12,
            timeboxed_min_days: 2,
            report_threshold: 0.45,
            common_min_hosts: 3,
            common_min_share: 0.3,
            cohort_min_hosts: 5,
            cohort_period_tolerance: 0.15,
            service_min_hosts: 10,
            proxy_min_names: 4,
            max_series: 16_384,
            max_combinations: 16_000_000,
            hist: HistParams::default(),
        }
    }
}

const F_WEB: u8 = 2;
/// The destination is internal (a proxy candidate).
const F_INT: u8 = 4;

/// The records of one host to one (destination, name, fingerprint) combination. Most
/// combinations see one record (in the benchmark's stream nine in ten), so this is kept small:
/// a lone record's point is its `first` time and `sent`, and the series is allocated from the
/// second record on.
#[derive(Debug)]
struct Combo {
    dst: IpAddr,
    /// F_INT when the destination is internal; F_WEB when any record was TLS or HTTP.
    flags: u8,
    /// The series keeps every 2^shift-th record.
    shift: u8,
    name: u32,
    fp: u32,
    /// Records seen (saturating), and the encrypted ones among them.
    count: u32,
    enc: u32,
    /// The previous combination of the same host and destination (`NO_COMBO` ends the chain).
    next: u32,
    sent: u64,
    recv: u64,
    first: Timestamp,
    last: Timestamp,
    /// (seconds since `BeaconDetector::base`, bytes sent saturated at 4 GiB) of every
    /// 2^shift-th record, from the second record on.
    /// Boxed: 8 bytes instead of 24 in every combination, most of which never have one.
    #[allow(clippy::box_collection)]
    series: Option<Box<Vec<(u32, u32)>>>,
}

/// A host's groups with enough records: (key, combination indices, records).
type Groups = Vec<(Key, Vec<u32>, u64)>;

const NO_COMBO: u32 = u32::MAX;

fn point(off: u32, sent: u64) -> (u32, u32) {
    (off, u32::try_from(sent).unwrap_or(u32::MAX))
}

impl Combo {
    fn new(r: &Record<'_>, name: u32, fp: u32, flags: u8, next: u32) -> Combo {
        Combo {
            dst: r.conn.resp_h,
            flags,
            shift: 0,
            name,
            fp,
            count: 0,
            enc: 0,
            next,
            sent: 0,
            recv: 0,
            first: r.conn.ts,
            last: r.conn.ts,
            series: None,
        }
    }

    fn add(&mut self, off: u32, base: i64, r: &Record<'_>, web: bool, max_series: usize) {
        let c = r.conn;
        if self.count == 1 && self.series.is_none() {
            // The lone record's point, before `first` and `sent` take the second one in.
            let off0 = u32::try_from(self.first.secs().saturating_sub(base)).unwrap_or(0);
            self.series = Some(Box::new(vec![point(off0, self.sent)]));
        }
        let seq = self.count;
        self.count = self.count.saturating_add(1);
        self.enc = self.enc.saturating_add(u32::from(r.encrypted));
        self.sent = self.sent.saturating_add(r.sent);
        self.recv = self.recv.saturating_add(r.recv);
        self.first = self.first.min(c.ts);
        self.last = self.last.max(c.ts);
        if web {
            self.flags |= F_WEB;
        }
        let Some(series) = self.series.as_mut() else { return };
        if seq.trailing_zeros() < u32::from(self.shift) && seq != 0 {
            return;
        }
        series.push(point(off, r.sent));
        if series.len() >= max_series.max(2) {
            // Keep the points of records 0, 2s, 4s... (s the old stride): the new stride's.
            let mut i = 0;
            series.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.shift = self.shift.saturating_add(1).min(31);
        }
    }

    /// The kept points.
    fn points(&self, base: i64) -> impl Iterator<Item = (u32, u32)> + '_ {
        let lone = match (&self.series, self.count) {
            (None, 1..) => Some(point(u32::try_from(self.first.secs().saturating_sub(base)).unwrap_or(0), self.sent)),
            _ => None,
        };
        lone.into_iter().chain(self.series.iter().flat_map(|s| s.iter().copied()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Ip(IpAddr),
    Name(u32),
    Fp(u32),
}

impl Key {
    /// The key as an integer of at most 34 bits, ordered as `Key` is: the variant above the
    /// value, an IPv6 address's value its position in `v6` (the host's IPv6 destinations,
    /// sorted and distinct, this one among them).
    fn code(self, v6: &[Ipv6Addr]) -> u128 {
        let (variant, value) = match self {
            Key::Ip(IpAddr::V4(a)) => (0, u32::from(a)),
            Key::Ip(IpAddr::V6(a)) => (1, v6.binary_search(&a).map_or(u32::MAX, |p| u32::try_from(p).unwrap_or(u32::MAX))),
            Key::Name(n) => (2, n),
            Key::Fp(f) => (3, f),
        };
        (variant << 32) | u128::from(value)
    }

    /// The key of a [`Key::code`] with the same `v6`.
    fn from_code(code: u128, v6: &[Ipv6Addr]) -> Option<Key> {
        let value = u32::try_from(code & u128::from(u32::MAX)).ok()?;
        match code >> 32 {
            0 => Some(Key::Ip(IpAddr::V4(value.into()))),
            1 => v6.get(value as usize).map(|&a| Key::Ip(IpAddr::V6(a))),
            2 => Some(Key::Name(value)),
            3 => Some(Key::Fp(value)),
            _ => None,
        }
    }
}

/// Scores of one group, kept for the evidence.
#[derive(Debug, Clone, Default)]
pub struct BeaconScores {
    pub timestamp: f64,
    pub data_size: f64,
    pub duration: f64,
    pub histogram: f64,
    pub rita_total: f64,
    pub timeboxed_duration: f64,
    pub timeboxed_histogram: f64,
    pub timeboxed_total: f64,
    pub interval_mode_s: i64,
    pub interval_mode_count: i64,
    pub interval_skew: f64,
    pub interval_mad_s: f64,
    /// Median interval between distinct connection times, and the MAD as a share of it: a
    /// timer keeps this small (±30 % jitter gives about 0.15); traffic at random times does not.
    pub interval_median_s: f64,
    pub interval_mad_ratio: f64,
    pub size_mode: i64,
    pub size_skew: f64,
    pub size_mad: f64,
    pub active_days: usize,
    pub span_days: usize,
    pub active_hours: Vec<u32>,
}

/// Scores a list of connection times (Unix seconds) and sizes, within a window from `dmin` to
/// `dmax`, with local-time offsets given by `local_offset(ts) -> seconds east of UTC`.
/// Returns None when there are too few distinct connection times.
pub fn score_series(
    ts: &[i64],
    sizes: &[f64],
    dmin: i64,
    dmax: i64,
    cfg: &BeaconConfig,
    local_offset: &dyn Fn(i64) -> i64,
) -> Option<BeaconScores> {
    let head = series_head(ts, sizes, cfg)?;
    Some(series_tail(head, ts, dmin, dmax, cfg, local_offset))
}

/// The cheap first half of [`score_series`]: the timing and size scores, which bound the
/// whole score ([`SeriesHead::bound`]) before the histograms and the time-boxed score.
struct SeriesHead {
    distinct: Vec<i64>,
    t: util::TimestampScore,
    interval_median: f64,
    mad_ratio: f64,
    ds: f64,
    size_skew: f64,
    size_mad: f64,
    sd: util::Distinct,
}

fn series_head(ts: &[i64], sizes: &[f64], cfg: &BeaconConfig) -> Option<SeriesHead> {
    let mut distinct = ts.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < cfg.min_conns.max(4) {
        return None;
    }
    let t = util::timestamp_score(ts).ok()?;
    let intervals: Vec<f64> = distinct.windows(2).filter_map(|w| Some(w.get(1)?.saturating_sub(*w.first()?) as f64)).collect();
    let interval_median = util::median_sorted(&{
        let mut v = intervals;
        v.sort_by(f64::total_cmp);
        v
    })
    .unwrap_or(0.0);
    let mad_ratio = if interval_median >= 1.0 { t.mad / interval_median } else { 0.0 };
    let (ds, size_skew, size_mad, sd) = util::data_size_score(sizes).ok()?;
    Some(SeriesHead { distinct, t, interval_median, mad_ratio, ds, size_skew, size_mad, sd })
}

/// How [`BeaconDetector::finish`] trusts a group of `n` records.
fn confidence(n: u64) -> f64 {
    0.6 + 0.4 * util::ramp(n as f64, 4.0, 30.0)
}

/// Regular sizes and a long presence alone are not a beacon: the timing must be regular too,
/// so an irregular timestamp score halves the result. RITA's MAD score is linear and lenient
/// (intervals spread by 40 % of their median still score 0.6), so the spread itself must also
/// be that of a timer: a mail server delivering to a peer a few times a day at random hours is
/// not one.
fn periodic(timestamp: f64, mad_ratio: f64) -> f64 {
    let regular = util::ramp(timestamp, 0.3, 0.8).min(1.0 - util::ramp(mad_ratio, 0.25, 0.5));
    0.5 + 0.5 * regular
}

impl SeriesHead {
    /// The most the finished score of a group of `n` records can be: the duration and
    /// histogram parts (RITA's and the time-boxed) are at most 1 each, so the base is at most
    /// (timing + sizes + 2) / 4 (plus the last digit's rounding); then the confidence, the
    /// periodicity and the foreign bonus as `finish` applies them.
    fn bound(&self, n: u64) -> f64 {
        let base = 0.25 * (self.t.score + self.ds + 2.0) + 0.0005;
        base * confidence(n) * periodic(self.t.score, util::round3(self.mad_ratio)) + 0.05
    }
}

fn series_tail(head: SeriesHead, ts: &[i64], dmin: i64, dmax: i64, cfg: &BeaconConfig, local_offset: &dyn Fn(i64) -> i64) -> BeaconScores {
    let SeriesHead { distinct, t, interval_median, mad_ratio, ds, size_skew, size_mad, sd } = head;
    let tsf: Vec<f64> = ts.iter().map(|&x| x as f64).collect();
    let (first, last) = (distinct.first().copied().unwrap_or(0), distinct.last().copied().unwrap_or(0));
    let (mut hist_s, mut dur_s) = (0.0, 0.0);
    if dmax > dmin
        && let Ok((_, bars, run, hs)) = util::histogram_score(dmin as f64, dmax as f64, &tsf, &cfg.hist)
    {
        hist_s = hs;
        if let Ok((_, _, d)) = util::duration_score(
            dmin as f64,
            dmax as f64,
            first as f64,
            last as f64,
            bars,
            run,
            cfg.hist.duration_min_bars,
            cfg.hist.duration_ideal_bars,
        ) {
            dur_s = d;
        }
    }
    let rita = util::weighted_score(&[(t.score, 0.25), (ds, 0.25), (dur_s, 0.25), (hist_s, 0.25)]).unwrap_or(0.0);

    // Time-boxed: judge the pair only over its own active days and hours (site local time).
    let mut per_day: HashMap<i64, u32> = HashMap::new();
    let mut cells: HashMap<(i64, u32), u64> = HashMap::new();
    let mut memo: Option<(i64, i64)> = None;
    for &x in ts {
        // Zone offsets change rarely: convert once per hour of data.
        let hour_key = x.div_euclid(3600);
        let off = match memo {
            Some((h, o)) if h == hour_key => o,
            _ => {
                let o = local_offset(x);
                memo = Some((hour_key, o));
                o
            }
        };
        let local = x.saturating_add(off);
        let day = local.div_euclid(86_400);
        let hour = (local.rem_euclid(86_400) / 3600) as u32;
        *per_day.entry(day).or_default() |= 1u32 << hour.min(23);
        *cells.entry((day, hour)).or_default() += 1;
    }
    let active_days = per_day.len();
    let (dfirst, dlast) = (per_day.keys().min().copied().unwrap_or(0), per_day.keys().max().copied().unwrap_or(0));
    let span_days = usize::try_from(dlast.saturating_sub(dfirst).saturating_add(1)).unwrap_or(usize::MAX);
    let mut hour_days = [0usize; 24];
    for mask in per_day.values() {
        for (h, n) in hour_days.iter_mut().enumerate() {
            if mask & (1 << h) != 0 {
                *n += 1;
            }
        }
    }
    let modal: u32 = (0..24).filter(|&h| hour_days[h] * 2 >= active_days.max(1)).fold(0, |m, h| m | (1 << h));
    let active_hours: Vec<u32> = (0..24u32).filter(|h| modal & (1 << h) != 0).collect();
    let (mut tb_dur, mut tb_hist, mut tb_total) = (0.0, 0.0, 0.0);
    if ts.len() >= cfg.timeboxed_min_conns && active_days >= cfg.timeboxed_min_days && modal != 0 {
        let coverage = active_days as f64 / span_days.max(1) as f64;
        let consistency = per_day
            .values()
            .map(|m| {
                let inter = (m & modal).count_ones() as f64;
                let uni = (m | modal).count_ones() as f64;
                if uni > 0.0 { inter / uni } else { 0.0 }
            })
            .sum::<f64>()
            / active_days as f64;
        tb_dur = util::round3(util::clamp01(coverage * consistency));
        // Flatness of the per-hour counts over the active cells (the first and last active
        // hour of each day are partial; leave them out when the box is wide enough).
        let mut counts: Vec<i64> = Vec::new();
        let inner: Vec<u32> = if active_hours.len() >= 4 {
            active_hours.get(1..active_hours.len() - 1).map(<[u32]>::to_vec).unwrap_or_default()
        } else {
            active_hours.clone()
        };
        for d in per_day.keys() {
            for h in &inner {
                counts.push(cells.get(&(*d, *h)).copied().unwrap_or(0).min(i64::MAX as u64) as i64);
            }
        }
        tb_hist = util::cv_score(&counts).unwrap_or(0.0);
        tb_total = util::weighted_score(&[(t.score, 0.25), (ds, 0.25), (tb_dur, 0.25), (tb_hist, 0.25)]).unwrap_or(0.0);
    }
    BeaconScores {
        timestamp: t.score,
        data_size: ds,
        duration: dur_s,
        histogram: hist_s,
        rita_total: rita,
        timeboxed_duration: tb_dur,
        timeboxed_histogram: tb_hist,
        timeboxed_total: tb_total,
        interval_mode_s: t.intervals.mode,
        interval_mode_count: t.intervals.mode_count,
        interval_skew: util::round3(t.skew),
        interval_mad_s: t.mad,
        interval_median_s: interval_median,
        interval_mad_ratio: util::round3(mad_ratio),
        size_mode: sd.mode,
        size_skew: util::round3(size_skew),
        size_mad,
        active_days,
        span_days,
        active_hours,
    }
}

/// The beacon detector.
#[derive(Debug, Default)]
pub struct BeaconDetector {
    cfg: BeaconConfig,
    tuning: Tuning,
    /// Each host's combinations, in the order they were first seen (contiguous per host, so
    /// `finish` reads them in sequence).
    hosts: HostMap<Vec<Combo>>,
    /// Combinations kept, over all hosts.
    combos: usize,
    /// Front-end pair id → the pair's newest combination, an index in its host's list
    /// (`NO_COMBO`: none).
    heads: Vec<u32>,
    /// Unix seconds of series offset 0.
    base: Option<i64>,
    names: Names,
    fps: Interner,
    /// JA4 strings, and (JA4 id, ASN or country) → fingerprint id: the per-record path then
    /// renders and interns a fingerprint string only the first time a combination appears.
    ja4s: Interner,
    fp_ids: HashMap<(u32, FpTag), u32>,
    tags: TagCache,
    internal_hosts: HostSet,
    /// Evidence that an internal destination is a forward proxy: names asked of it (capped)
    /// and whether any request was in explicit proxy form.
    proxies: HashMap<IpAddr, ProxyEvidence>,
    dmin: Option<Timestamp>,
    dmax: Option<Timestamp>,
    /// Records not kept: combinations beyond `max_combinations`, hosts or pairs without an id,
    /// times more than 68 years from the first record.
    pub dropped: u64,
    /// Front end of the plain `observe` path.
    front: FrontEnd,
}

/// What a JA4 fingerprint is grouped with: the destination's ASN, else its country.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FpTag {
    As(u32),
    Cc([u8; 2]),
}

/// Direct-mapped cache of destinations' grouping tags: popular destinations repeat, and a
/// probe here costs less than a GeoIP range search. A collision only costs a lookup.
#[derive(Debug, Default)]
struct TagCache(Vec<Option<(IpAddr, Option<FpTag>)>>);

const TAG_SLOTS_LOG2: u32 = 16;

impl TagCache {
    fn get(&mut self, ip: IpAddr, look: impl FnOnce() -> Option<FpTag>) -> Option<FpTag> {
        if self.0.is_empty() {
            self.0 = vec![None; 1 << TAG_SLOTS_LOG2];
        }
        let x: u64 = match ip {
            IpAddr::V4(a) => u64::from(u32::from(a)),
            IpAddr::V6(a) => {
                let v = u128::from(a);
                (v as u64) ^ ((v >> 64) as u64)
            }
        };
        let i = (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - TAG_SLOTS_LOG2)) as usize;
        match self.0.get_mut(i) {
            Some(Some((k, t))) if *k == ip => *t,
            Some(slot) => {
                let t = look();
                *slot = Some((ip, t));
                t
            }
            None => look(),
        }
    }
}

#[derive(Debug, Default)]
struct ProxyEvidence {
    names: BTreeSet<u32>,
    explicit: bool,
}

/// Most internal destinations tracked as possible proxies; most names kept per destination.
const MAX_PROXY_DSTS: usize = 100_000;
const MAX_PROXY_NAMES: usize = 32;

/// An explicit forward-proxy request: `CONNECT host:port` or an absolute-form URI.
fn explicit_proxy(c: &Conn) -> bool {
    c.app.http.iter().any(|h| {
        h.method.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("CONNECT"))
            || h.uri.as_deref().is_some_and(|u| {
                let u = u.as_bytes();
                u.get(..7).is_some_and(|p| p.eq_ignore_ascii_case(b"http://"))
                    || u.get(..8).is_some_and(|p| p.eq_ignore_ascii_case(b"https://"))
            })
    })
}

/// Scored group before the prevalence judgement.
struct Scored {
    host: IpAddr,
    hid: u32,
    key: Key,
    /// The group's combinations (indices in the host's list, ascending: first-seen order) and
    /// records.
    idx: Vec<u32>,
    n: u64,
    scores: BeaconScores,
}

struct Candidate {
    host: IpAddr,
    hid: u32,
    key: Key,
    idx: Vec<u32>,
    n: u64,
    scores: BeaconScores,
    base: f64,
    score: f64,
    prevalence_hosts: usize,
    prevalence_share: f64,
    /// Hosts calling the same destination on a similar period (this one included).
    cohort_hosts: usize,
    /// Hosts calling the same destination on any timer.
    timer_hosts: usize,
    also: Vec<String>,
}

impl BeaconDetector {
    pub fn new(cfg: BeaconConfig, tuning: Tuning) -> Self {
        BeaconDetector { cfg, tuning, ..Default::default() }
    }

    fn is_proxy(&self, ip: IpAddr) -> bool {
        self.proxies.get(&ip).is_some_and(|e| e.explicit || e.names.len() >= self.cfg.proxy_min_names)
    }

    fn key_str(&self, k: Key) -> String {
        match k {
            Key::Ip(ip) => format!("ip:{ip}"),
            Key::Name(n) => format!("name:{}", self.names.get(n)),
            Key::Fp(f) => format!("ja4:{}", self.fps.get(f)),
        }
    }
}

/// Periods in `sorted` (ascending by `f64::total_cmp`) within `tol` of `p0` (relative, at
/// least one second): `|p - p0| <= tol * max(|p0|, 1) + 1`. The periods that pass form one run
/// around `p0` (the distance only grows away from it), found by two binary searches; a NaN
/// never passes.
fn cohort_size(sorted: &[f64], p0: f64, tol: f64) -> usize {
    let w = tol * p0.abs().max(1.0) + 1.0;
    let near = |p: f64| (p - p0).abs() <= w;
    if !p0.is_finite() || !w.is_finite() {
        return sorted.iter().filter(|&&p| near(p)).count();
    }
    // NaNs sort to the ends (total order: negative ones first, positive ones last) and are
    // never near: a negative NaN is below the run, a positive one above it.
    let below = |p: f64| if p.is_nan() { p.is_sign_negative() } else { p < p0 && !near(p) };
    let not_above = |p: f64| if p.is_nan() { p.is_sign_negative() } else { p <= p0 || near(p) };
    let lo = sorted.partition_point(|&p| below(p));
    let hi = sorted.partition_point(|&p| not_above(p));
    hi.saturating_sub(lo)
}

impl BeaconDetector {
    fn combos_of<'a>(&'a self, hid: u32, idx: &'a [u32]) -> impl Iterator<Item = &'a Combo> + 'a {
        let list = self.hosts.get(hid).map_or(&[][..], Vec::as_slice);
        idx.iter().filter_map(move |&i| list.get(i as usize))
    }

    /// Records in both groups of host `hid` (combination lists in ascending order).
    fn overlap(&self, hid: u32, a: &[u32], b: &[u32]) -> u64 {
        let list = self.hosts.get(hid).map_or(&[][..], Vec::as_slice);
        let (mut i, mut j, mut n) = (0, 0, 0u64);
        while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
            match x.cmp(y) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    n += list.get(*x as usize).map_or(0, |k| u64::from(k.count));
                    i += 1;
                    j += 1;
                }
            }
        }
        n
    }
}

impl Detector for BeaconDetector {
    fn name(&self) -> &'static str {
        "beacon"
    }

    fn observe(&mut self, c: &Conn, ctx: &Context) {
        let r = self.front.rec(c, ctx);
        self.observe_rec(&r);
    }

    fn observe_rec(&mut self, r: &Record<'_>) {
        let c = r.conn;
        self.dmin = Some(self.dmin.map_or(c.ts, |d| d.min(c.ts)));
        self.dmax = Some(self.dmax.map_or(c.ts, |d| d.max(c.ts)));
        if !r.orig_internal {
            return;
        }
        self.internal_hosts.insert(r.orig_id);
        // DNS, including DNS over TLS (853: Android's "private DNS" reconnects on a timer), is
        // resolution traffic for the dns_tunnel detector, not a call-home.
        if r.resp_noise || c.resp_p == 53 || c.resp_p == 853 || c.service.as_deref().is_some_and(|s| s.contains("dns")) {
            return;
        }
        let external = !r.resp_internal;
        let name = r.name.as_deref();
        // Inside-to-inside traffic only counts when it names an outside service (a proxy).
        if !external && name.is_none() {
            return;
        }
        let name_id = if name.is_some() { self.names.keep(r) } else { NONE };
        if !external && (self.proxies.contains_key(&c.resp_h) || self.proxies.len() < MAX_PROXY_DSTS) {
            let e = self.proxies.entry(c.resp_h).or_default();
            if name_id != NONE && e.names.len() < MAX_PROXY_NAMES {
                e.names.insert(name_id);
            }
            e.explicit |= explicit_proxy(c);
        }
        let ja4 = c.app.tls.as_ref().and_then(|t| t.ja4.as_deref());
        let fp = match (ja4, external) {
            (Some(j), true) => {
                let tag = self.tags.get(c.resp_h, || {
                    let g = r.resp_geo();
                    match (g.asn, g.country) {
                        (Some(a), _) => Some(FpTag::As(a)),
                        (None, Some(cc)) => Some(FpTag::Cc(cc)),
                        _ => None,
                    }
                });
                match tag {
                    Some(t) => {
                        let key = (self.ja4s.id(j), t);
                        match self.fp_ids.get(&key) {
                            Some(&id) => id,
                            None => {
                                let id = match t {
                                    FpTag::As(a) => self.fps.id(&format!("{j}|AS{a}")),
                                    FpTag::Cc(cc) => self.fps.id(&format!("{j}|{}", String::from_utf8_lossy(&cc))),
                                };
                                // An id of NONE (interner full) is not cached, so it stays exact.
                                if key.0 != NONE && id != NONE {
                                    self.fp_ids.insert(key, id);
                                }
                                id
                            }
                        }
                    }
                    None => NONE,
                }
            }
            _ => NONE,
        };
        let web = c.app.tls.is_some() || !c.app.http.is_empty();
        // Series offsets: seconds from 2^31 s before the first record, so a u32 holds 68
        // years either side of it.
        let secs = c.ts.secs();
        let base = *self.base.get_or_insert(secs.saturating_sub(1 << 31));
        let Ok(off) = u32::try_from(secs.saturating_sub(base)) else {
            self.dropped += 1;
            return;
        };
        if r.pair == NO_PAIR {
            self.dropped += 1;
            return;
        }
        let p = r.pair as usize;
        if p >= self.heads.len() {
            self.heads.resize(p + 1, NO_COMBO);
        }
        let head = self.heads.get(p).copied().unwrap_or(NO_COMBO);
        if head != NO_COMBO
            && let Some(list) = self.hosts.get_mut(r.orig_id)
        {
            let mut at = head;
            while let Some(k) = list.get_mut(at as usize) {
                if k.name == name_id && k.fp == fp {
                    k.add(off, base, r, web, self.cfg.max_series);
                    return;
                }
                at = k.next;
            }
        }
        if self.combos >= self.cfg.max_combinations {
            self.dropped += 1;
            return;
        }
        let Some(list) = self.hosts.entry(r.orig_id, c.orig_h, Vec::new) else {
            self.dropped += 1;
            return;
        };
        let Some(i) = u32::try_from(list.len()).ok().filter(|&n| n != NO_COMBO) else {
            self.dropped += 1;
            return;
        };
        let mut k = Combo::new(r, name_id, fp, if external { 0 } else { F_INT }, head);
        k.add(off, base, r, web, self.cfg.max_series);
        list.push(k);
        self.combos += 1;
        if let Some(h) = self.heads.get_mut(p) {
            *h = i;
        }
    }

    fn observe_recs(&mut self, recs: &[Record<'_>]) {
        for (i, r) in recs.iter().enumerate() {
            // Two stages: the pair's head and the host's list header first, then (when they
            // have arrived) the combination the head names.
            if let Some(f) = recs.get(i + 2 * util::AHEAD).filter(|f| f.pair != NO_PAIR) {
                if let Some(h) = self.heads.get(f.pair as usize) {
                    util::prefetch(h);
                }
                self.hosts.prefetch(f.orig_id);
            }
            if let Some(n) = recs.get(i + util::AHEAD).filter(|n| n.pair != NO_PAIR)
                && let Some(&head) = self.heads.get(n.pair as usize)
                && head != NO_COMBO
                && let Some(k) = self.hosts.get(n.orig_id).and_then(|l| l.get(head as usize))
            {
                util::prefetch(k);
            }
            self.observe_rec(r);
        }
    }

    fn finish(&mut self, ctx: &Context) -> Vec<Finding> {
        let (Some(dmin), Some(dmax)) = (self.dmin, self.dmax) else { return Vec::new() };
        let (dmin_s, dmax_s) = (dmin.secs(), dmax.secs());
        let base = self.base.unwrap_or(0);
        // Prevalence of each grouping key across hosts (each host's keys are distinct, so a
        // count per key is the number of hosts).
        let mut prev: HashMap<Key, usize> = HashMap::new();
        let hosts = self.hosts.sorted();
        // Per host: its groups with enough records, each as (key, combination indices, records).
        let mut groups_by_host: Vec<(IpAddr, u32, Groups)> = Vec::new();
        let min_conns = u64::try_from(self.cfg.min_conns).unwrap_or(u64::MAX);
        // Each (key, combination index) of a host as one integer, reused: the key's code
        // ([`Key::code`]) above the index. Sorted, its runs are the host's groups, by key in
        // `Key`'s order and each key's combinations in first-seen order: the order of a stable
        // sort by key, at the cost of comparing integers (comparing `Key`s, then tuples of
        // their integers, was most of this function).
        let mut entries: Vec<u128> = Vec::new();
        // The host's distinct IPv6 destinations, sorted: an IPv6 key's code is its position.
        let mut v6: Vec<Ipv6Addr> = Vec::new();
        for &(h, hid) in &hosts {
            let Some(list) = self.hosts.get(hid) else { continue };
            entries.clear();
            v6.clear();
            // Inside-to-inside polling (a monitoring server checking web servers) is not a
            // call-home: an internal destination counts only when it is a forward proxy.
            let kept = |k: &Combo| k.flags & F_INT == 0 || self.is_proxy(k.dst);
            for k in list.iter().filter(|k| k.flags & F_INT == 0) {
                if let IpAddr::V6(a) = k.dst {
                    v6.push(a);
                }
            }
            v6.sort_unstable();
            v6.dedup();
            for (i, k) in list.iter().enumerate() {
                if !kept(k) {
                    continue;
                }
                let i = u128::from(u32::try_from(i).unwrap_or(NO_COMBO));
                if k.flags & F_INT == 0 {
                    entries.push(Key::Ip(k.dst).code(&v6) << 32 | i);
                }
                if k.name != NONE {
                    entries.push(Key::Name(k.name).code(&v6) << 32 | i);
                }
                if k.fp != NONE {
                    entries.push(Key::Fp(k.fp).code(&v6) << 32 | i);
                }
            }
            entries.sort_unstable();
            let mut groups: Groups = Vec::new();
            for run in entries.chunk_by(|a, b| a >> 32 == b >> 32) {
                let Some(key) = run.first().and_then(|&e| Key::from_code(e >> 32, &v6)) else { continue };
                *prev.entry(key).or_default() += 1;
                // The low 32 bits are the combination's index.
                let n: u64 = run.iter().filter_map(|&e| list.get(e as u32 as usize)).map(|k| u64::from(k.count)).sum();
                if n >= min_conns {
                    groups.push((key, run.iter().map(|&e| e as u32).collect(), n));
                }
            }
            groups_by_host.push((h, hid, groups));
        }
        // The count Prevalence kept (it stopped at a million hosts).
        let total_hosts = self.internal_hosts.len().min(1_000_000).max(hosts.len());

        let offset = |x: i64| i64::from(ctx.offset_at(Timestamp::from_secs(x)).local_minus_utc());
        let mut scored: Vec<Scored> = Vec::new();
        // Periods of every scored group per key (those too weak to report included).
        let mut periods: HashMap<Key, Vec<f64>> = HashMap::new();
        // Each host's groups in `Key` order: the candidates are ranked below by score, host and
        // key text, so the order here changes nothing (it was sorted by key text, which cost a
        // formatted string per group).
        for (h, hid, keys) in groups_by_host {
            for (k, idx, n) in keys {
                // A fingerprint group must span several addresses, else the address group says it.
                if let Key::Fp(_) = k {
                    let ips: BTreeSet<IpAddr> = self.combos_of(hid, &idx).map(|c| c.dst).collect();
                    if ips.len() < 2 {
                        continue;
                    }
                    // An application talking to many named services of one provider (a browser
                    // and a CDN) is not a controller hiding behind changing addresses.
                    let names: BTreeSet<u32> = self.combos_of(hid, &idx).map(|c| c.name).filter(|&n| n != NONE).collect();
                    let named: u64 = self.combos_of(hid, &idx).filter(|c| c.name != NONE).map(|c| u64::from(c.count)).sum();
                    if names.len() > 3 && named * 2 > n {
                        continue;
                    }
                }
                let allowed = self.combos_of(hid, &idx).any(|c| {
                    let name = (c.name != NONE).then(|| self.names.get(c.name));
                    let ja4 = (c.fp != NONE).then(|| self.fps.get(c.fp).split('|').next().unwrap_or(""));
                    self.tuning.is_allowed(ctx, c.dst, name, ja4)
                });
                if allowed {
                    continue;
                }
                let ts: Vec<i64> =
                    self.combos_of(hid, &idx).flat_map(|c| c.points(base).map(|p| base.saturating_add(i64::from(p.0)))).collect();
                let sizes: Vec<f64> = self.combos_of(hid, &idx).flat_map(|c| c.points(base).map(|p| f64::from(p.1))).collect();
                let Some(head) = series_head(&ts, &sizes, &self.cfg) else { continue };
                // A group that cannot reach the report threshold whatever its histograms (four
                // in five of them: traffic at irregular times) still counts in its key's
                // cohort, by its period, but is not finished: the histograms and the time-boxed
                // score were a third of this pass at 10 M records. The margin covers the final
                // score's rounding to three digits.
                if head.bound(n) + 0.001 < self.cfg.report_threshold {
                    periods.entry(k).or_default().push(head.interval_median);
                    continue;
                }
                let s = series_tail(head, &ts, dmin_s, dmax_s, &self.cfg, &offset);
                scored.push(Scored { host: h, hid, key: k, idx, n, scores: s });
            }
        }
        // Periods of every host's group per key, to find cohorts of hosts on one schedule.
        for x in &scored {
            periods.entry(x.key).or_default().push(x.scores.interval_median_s);
        }
        // Sorted, so each group counts its cohort by binary search: a linear count per group
        // was quadratic in the hosts of a popular key (a third of this pass at 10 M records).
        for v in periods.values_mut() {
            v.sort_unstable_by(f64::total_cmp);
        }
        let tol = self.cfg.cohort_period_tolerance.max(0.0);
        let mut cands: Vec<Candidate> = Vec::new();
        for Scored { host: h, hid, key: k, idx, n: count, scores: s } in scored {
            let base = s.rita_total.max(s.timeboxed_total);
            let confidence = confidence(count);
            let ph = prev.get(&k).copied().unwrap_or(0);
            let pshare = if total_hosts == 0 { 0.0 } else { ph as f64 / total_hosts as f64 };
            let p0 = s.interval_median_s;
            let same_key = periods.get(&k).map_or(&[][..], Vec::as_slice);
            let cohort = cohort_size(same_key, p0, tol);
            let common = (ph >= self.cfg.common_min_hosts && pshare >= self.cfg.common_min_share)
                || cohort >= self.cfg.cohort_min_hosts
                || same_key.len() >= self.cfg.service_min_hosts;
            let mut score = base * confidence * periodic(s.timestamp, s.interval_mad_ratio);
            // The destination of the group's first record: its first combination's.
            let foreign = self.combos_of(hid, &idx).next().and_then(|c| ctx.is_foreign(c.dst));
            if foreign == Some(true) {
                score += 0.05;
            }
            // A service most hosts use: at most "low", whatever its regularity.
            if common {
                score *= 0.45;
            }
            let score = util::round3(util::clamp01(score));
            if score < self.cfg.report_threshold {
                continue;
            }
            cands.push(Candidate {
                host: h,
                hid,
                key: k,
                idx,
                n: count,
                scores: s,
                base,
                score,
                prevalence_hosts: ph,
                prevalence_share: pshare,
                cohort_hosts: cohort,
                timer_hosts: same_key.len(),
                also: Vec::new(),
            });
        }
        // One finding per host and controller: merge groupings that share most connections.
        cands.sort_by(|a, b| {
            b.score.total_cmp(&a.score).then_with(|| a.host.cmp(&b.host)).then_with(|| self.key_str(a.key).cmp(&self.key_str(b.key)))
        });
        let mut kept: Vec<Candidate> = Vec::new();
        for c in cands {
            let dup = kept.iter_mut().find(|k| k.host == c.host && self.overlap(c.hid, &k.idx, &c.idx) * 2 >= k.n.min(c.n));
            match dup {
                Some(k) => k.also.push(self.key_str(c.key)),
                None => kept.push(c),
            }
        }
        let mut out = Vec::new();
        for c in kept {
            let key = self.key_str(c.key);
            let id = Finding::stable_id(FindingKind::Beacon, &[&c.host.to_string(), &key]);
            if self.tuning.is_suppressed(&id) {
                continue;
            }
            out.push(self.render(ctx, &c, key, id));
        }
        out
    }
}

impl BeaconDetector {
    fn render(&self, ctx: &Context, c: &Candidate, key: String, id: String) -> Finding {
        let rs: Vec<&Combo> = self.combos_of(c.hid, &c.idx).collect();
        let first = rs.iter().map(|r| r.first).min().unwrap_or_default();
        let last = rs.iter().map(|r| r.last).max().unwrap_or_default();
        let ips: BTreeSet<IpAddr> = rs.iter().map(|r| r.dst).collect();
        let names: BTreeSet<&str> = rs.iter().filter(|r| r.name != NONE).map(|r| self.names.get(r.name)).collect();
        let fps: BTreeSet<&str> = rs.iter().filter(|r| r.fp != NONE).map(|r| self.fps.get(r.fp)).collect();
        let sent: u64 = rs.iter().map(|r| r.sent).fold(0, u64::saturating_add);
        let recv: u64 = rs.iter().map(|r| r.recv).fold(0, u64::saturating_add);
        let encrypted = rs.iter().map(|r| u64::from(r.enc)).sum::<u64>() * 2 > c.n;
        let web = rs.iter().any(|r| r.flags & F_WEB != 0);
        // Share of the kept points (every record until a series is thinned) outside work hours.
        let mut clock = util::LocalClock::default();
        let base = self.base.unwrap_or(0);
        let points = rs.iter().map(|r| r.points(base).count()).sum::<usize>();
        let off_points = rs
            .iter()
            .flat_map(|r| r.points(base))
            .filter(|p| clock.at(ctx, Timestamp::from_secs(base.saturating_add(i64::from(p.0)))).1)
            .count();
        let off = off_points as f64 / points.max(1) as f64;
        let via_proxy: Vec<String> = ips.iter().filter(|ip| ctx.is_internal(**ip)).map(ToString::to_string).collect();
        let countries: BTreeSet<String> = ips.iter().filter_map(|ip| util::country_str(ctx, *ip)).collect();
        let asns: BTreeSet<u32> = ips.iter().filter_map(|ip| ctx.geo(*ip).asn).collect();
        let target = match (names.iter().next(), ips.len()) {
            (Some(n), _) if names.len() == 1 => (*n).to_string(),
            (Some(n), _) => format!("{n} and {} other names", names.len() - 1),
            (None, 1) => ips.iter().next().map(ToString::to_string).unwrap_or_default(),
            (None, k) => format!("{k} addresses sharing one TLS fingerprint"),
        };
        let via = if via_proxy.is_empty() { String::new() } else { format!(" through proxy {}", via_proxy.join(", ")) };
        let s = &c.scores;
        let pattern = if s.timeboxed_total > s.rita_total && s.active_hours.len() < 20 {
            let (from, to) = hour_window(&s.active_hours);
            format!(", active only {from:02}:00–{to:02}:59 local on {} of {} days", s.active_days, s.span_days)
        } else {
            String::new()
        };
        let summary = format!(
            "{} called {}{} {} times at a regular interval of about {}{} between {} and {} — the pattern of malware checking in with its controller.",
            c.host,
            target,
            via,
            c.n,
            util::human_secs(s.interval_mode_s as f64),
            pattern,
            util::site_time_short(ctx, first),
            util::site_time_short(ctx, last),
        );
        let mut attack = vec![if web { "T1071.001" } else { "T1095" }.to_string()];
        if encrypted {
            attack.push("T1573".into());
        }
        let mut dst: Vec<String> = ips.iter().take(20).map(ToString::to_string).collect();
        dst.extend(names.iter().take(10).map(|n| (*n).to_string()));
        let evidence = json!({
            "grouped_by": key,
            "also_grouped_by": c.also,
            "connections": c.n,
            "interval_mode_s": s.interval_mode_s,
            "interval_mode_count": s.interval_mode_count,
            "interval_skew": s.interval_skew,
            "interval_mad_s": s.interval_mad_s,
            "interval_median_s": s.interval_median_s,
            "interval_mad_ratio": s.interval_mad_ratio,
            "size_mode_bytes": s.size_mode,
            "size_skew": s.size_skew,
            "size_mad_bytes": s.size_mad,
            "scores": {
                "timestamp": s.timestamp, "data_size": s.data_size, "duration": s.duration, "histogram": s.histogram,
                "rita_total": s.rita_total, "timeboxed_duration": s.timeboxed_duration,
                "timeboxed_histogram": s.timeboxed_histogram, "timeboxed_total": s.timeboxed_total,
                "base": c.base, "final": c.score,
            },
            "active_days": s.active_days,
            "span_days": s.span_days,
            "active_local_hours": s.active_hours,
            "off_hours_share": util::round3(off),
            "bytes_sent": sent,
            "bytes_received": recv,
            "encrypted": encrypted,
            "dst_ips": ips.iter().take(50).map(ToString::to_string).collect::<Vec<_>>(),
            "names": names,
            "ja4": fps,
            "countries": countries,
            "asns": asns,
            "via_proxy": via_proxy,
            "prevalence_hosts": c.prevalence_hosts,
            "prevalence_share": util::round3(c.prevalence_share),
            "same_period_hosts": c.cohort_hosts,
            "timer_hosts": c.timer_hosts,
        });
        Finding {
            id,
            kind: FindingKind::Beacon,
            severity: Severity::from_score(c.score),
            score: c.score,
            src: c.host.to_string(),
            dst,
            path: Vec::new(),
            first_seen: util::site_time(ctx, first),
            last_seen: util::site_time(ctx, last),
            attack,
            summary,
            evidence,
        }
    }
}

/// The shortest span of the clock (first hour, last hour, possibly across midnight) that holds
/// every hour of `hours` (ascending, distinct, 0–23): it starts after the longest run of
/// inactive hours. A beacon active 23:00–14:59 is that, not "00:00–23:59".
fn hour_window(hours: &[u32]) -> (u32, u32) {
    let (Some(&first), Some(&last)) = (hours.first(), hours.last()) else { return (0, 23) };
    // Each active hour with the gap before it (the first one's gap wraps from the last).
    let mut best = (first + 24 - last, first, last);
    for w in hours.windows(2) {
        if let [a, b] = *w
            && b - a > best.0
        {
            best = (b - a, b, a);
        }
    }
    (best.1, best.2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use vigil_enrich::Site;
    use vigil_model::{PROTO_TCP, TlsMeta};

    #[test]
    fn the_bound_is_never_below_the_finished_score() {
        // Timers with jitter, bursts, random times, night-only runs over several days; sizes
        // fixed, jittered or random: the bound that lets `finish` skip a group is at least the
        // score it would have had, foreign bonus included, and never skips one that reports.
        let cfg = BeaconConfig::default();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = move |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m.max(1)
        };
        let (dmin, dmax) = (1_704_067_200i64, 1_704_067_200 + 4 * 86_400);
        let (mut checked, mut skipped, mut reported) = (0, 0, 0);
        for case in 0..3_000u64 {
            let n = 4 + rnd(200) as usize;
            let period = 30 + rnd(7_200) as i64;
            let jitter = rnd(100) as i64 * period / 100;
            let mut t = dmin + rnd(86_400) as i64;
            let mut ts = Vec::with_capacity(n);
            let mut sizes = Vec::with_capacity(n);
            for i in 0..n {
                t += match case % 5 {
                    0 => period + rnd(jitter as u64 + 1) as i64 - jitter / 2,
                    1 => rnd(20_000) as i64,
                    2 if i % 8 == 7 => 20 * 3600,
                    4 => {
                        let spread = rnd(50_000) + 1;
                        rnd(spread) as i64
                    }
                    _ => period,
                };
                ts.push(t.min(dmax));
                sizes.push(match case % 3 {
                    0 => 512.0,
                    1 => 500.0 + rnd(50) as f64,
                    _ => rnd(100_000) as f64,
                });
            }
            let Some(head) = series_head(&ts, &sizes, &cfg) else { continue };
            let bound = head.bound(n as u64);
            let s = series_tail(head, &ts, dmin, dmax, &cfg, &|_| 3600);
            let score = s.rita_total.max(s.timeboxed_total) * confidence(n as u64) * periodic(s.timestamp, s.interval_mad_ratio) + 0.05;
            // Up to float error (the skip itself leaves a margin of 0.001).
            assert!(score <= bound + 1e-9, "case {case}: score {score} above bound {bound}");
            let kept = util::round3(util::clamp01(score)) >= cfg.report_threshold;
            if bound + 0.001 < cfg.report_threshold {
                assert!(!kept, "case {case}: skipped a reporting group ({score})");
                skipped += 1;
            }
            reported += usize::from(kept);
            checked += 1;
        }
        assert!(checked > 2_500 && skipped > 50 && reported > 100, "{checked} {skipped} {reported}");
    }

    #[test]
    fn a_series_keeps_every_stride_th_record_and_exact_sums() {
        let ctx = Context::new(Site::parse("[site]\ninternal=[\"10.0.0.0/8\"]", Path::new("s.toml")).unwrap());
        let mut fe = FrontEnd::new();
        let mut k: Option<Combo> = None;
        let base = 1_704_067_200 - (1 << 31);
        for i in 0..100u64 {
            let mut c = Conn::new(
                Timestamp::from_secs(1_704_067_200 + 60 * i as i64),
                "10.0.0.5".parse().unwrap(),
                40000,
                "198.51.100.7".parse().unwrap(),
                443,
                PROTO_TCP,
            );
            c.orig_bytes = Some(1000 + i);
            c.app.tls = Some(Box::new(TlsMeta::default()));
            let r = fe.rec(&c, &ctx);
            let off = u32::try_from(c.ts.secs() - base).unwrap();
            let k = k.get_or_insert_with(|| Combo::new(&r, NONE, NONE, 0, NO_COMBO));
            k.add(off, base, &r, true, 8);
            if i == 0 {
                assert_eq!(k.points(base).collect::<Vec<_>>(), vec![(off, 1000)], "a lone record's point needs no series");
                assert!(k.series.is_none());
            }
        }
        let k = k.unwrap();
        assert_eq!((k.count, k.enc, k.sent), (100, 100, (0..100).map(|i| 1000 + i).sum::<u64>()));
        assert!(k.flags & F_WEB != 0);
        let pts: Vec<(u32, u32)> = k.points(base).collect();
        let stride = 1u64 << k.shift;
        assert!(pts.len() < 8 && stride == 16, "{} points, stride {stride}", pts.len());
        // Exactly the records whose sequence number is a multiple of the stride, in order.
        let want: Vec<(u32, u32)> =
            (0..100u64).filter(|i| i % stride == 0).map(|i| ((1u32 << 31) + 60 * i as u32, 1000 + i as u32)).collect();
        assert_eq!(pts, want);
    }

    #[test]
    fn hour_window_crosses_midnight_when_the_quiet_hours_are_by_day() {
        let h: Vec<u32> = (0..=14).chain([23]).collect();
        assert_eq!(hour_window(&h), (23, 14));
        assert_eq!(hour_window(&[2, 3, 4]), (2, 4));
        assert_eq!(hour_window(&[0, 1, 22, 23]), (22, 1));
        assert_eq!(hour_window(&[5]), (5, 5));
        assert_eq!(hour_window(&[3, 4, 10]), (3, 10));
        assert_eq!(hour_window(&[]), (0, 23));
    }

    /// The binary-search cohort count equals the linear count it replaced, on periods with
    /// duplicates, boundaries exactly at the tolerance, zeros, infinities and NaNs.
    #[test]
    fn cohort_size_equals_the_linear_count() {
        let linear = |v: &[f64], p0: f64, tol: f64| v.iter().filter(|&&p| (p - p0).abs() <= tol * p0.abs().max(1.0) + 1.0).count();
        let mut x: u64 = 0x853c_49e6_748f_ea9b;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let special = [0.0, -0.0, 1.0, 59.0, 60.0, 61.0, 61.5, 66.0, 67.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -f64::NAN, 3600.0];
        for round in 0..2_000 {
            let n = (rnd() % 40) as usize;
            let mut v: Vec<f64> = (0..n)
                .map(|_| {
                    let r = rnd();
                    if r % 4 == 0 {
                        special[(r >> 8) as usize % special.len()]
                    } else {
                        ((r >> 8) % 7_200) as f64 / (1 + (r >> 40) % 4) as f64
                    }
                })
                .collect();
            v.sort_unstable_by(f64::total_cmp);
            let p0 = if round % 3 == 0 {
                special[(rnd() as usize) % special.len()]
            } else {
                v.get((rnd() as usize) % n.max(1)).copied().unwrap_or(60.0)
            };
            for tol in [0.0, 0.1, 0.25] {
                assert_eq!(cohort_size(&v, p0, tol), linear(&v, p0, tol), "p0 {p0} tol {tol} in {v:?}");
            }
        }
    }

    #[test]
    fn key_codes_order_as_keys_do_and_decode_back() {
        let keys = [
            Key::Ip("10.0.0.2".parse().unwrap()),
            Key::Ip("9.255.255.255".parse().unwrap()),
            Key::Ip("::1".parse().unwrap()),
            Key::Ip("fe80::1".parse().unwrap()),
            Key::Ip("::ffff:10.0.0.2".parse().unwrap()),
            Key::Name(7),
            Key::Name(0),
            Key::Name(u32::MAX - 1),
            Key::Fp(3),
            Key::Fp(u32::MAX),
            Key::Ip("255.255.255.255".parse().unwrap()),
            Key::Ip("0.0.0.0".parse().unwrap()),
        ];
        let mut v6: Vec<Ipv6Addr> = keys.iter().filter_map(|k| if let Key::Ip(IpAddr::V6(a)) = k { Some(*a) } else { None }).collect();
        v6.sort_unstable();
        v6.dedup();
        for a in keys {
            assert_eq!(Key::from_code(a.code(&v6), &v6), Some(a));
            assert!(a.code(&v6) < 1 << 34, "{a:?}");
            for b in keys {
                assert_eq!(a.cmp(&b), a.code(&v6).cmp(&b.code(&v6)), "{a:?} {b:?}");
            }
        }
        // Packed above a combination index, the sort is by key, then index.
        let mut packed: Vec<u128> = keys.iter().enumerate().rev().map(|(i, k)| k.code(&v6) << 32 | i as u128).collect();
        packed.sort_unstable();
        let mut by_key: Vec<(Key, usize)> = keys.iter().copied().enumerate().map(|(i, k)| (k, i)).collect();
        by_key.sort();
        assert_eq!(packed.iter().map(|&e| (Key::from_code(e >> 32, &v6).unwrap(), (e as u32) as usize)).collect::<Vec<_>>(), by_key);
    }
}
