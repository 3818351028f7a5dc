//! Shared helpers for the espionage detectors: robust statistics (quartiles, Bowley skew,
//! median absolute deviation, coefficient of variation, connection histograms — the math RITA v5
//! scores beacons with, reimplemented from its published description and test vectors), score
//! ramps, the noise-control settings ([`Tuning`]: allowlists by domain, network, ASN and JA4,
//! suppressed finding ids) and small rendering helpers for findings.

use ipnet::IpNet;
use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasher;
use std::net::IpAddr;
use vigil_enrich::Context;
use vigil_model::{Conn, Timestamp};

/// Why a statistic could not be computed (too few values, bad parameters).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatError {
    #[error("not enough values: {0}")]
    TooFew(&'static str),
    #[error("invalid parameter: {0}")]
    Invalid(&'static str),
}

/// Rounds to three decimals, as RITA reports its scores.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Linear ramp: 0 at or below `lo`, 1 at or above `hi`.
pub fn ramp(x: f64, lo: f64, hi: f64) -> f64 {
    if !x.is_finite() || x <= lo {
        0.0
    } else if x >= hi || hi <= lo {
        1.0
    } else {
        (x - lo) / (hi - lo)
    }
}

/// Clamps a score into 0..1 (NaN becomes 0).
pub fn clamp01(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Median of an already sorted slice.
pub fn median_sorted(v: &[f64]) -> Option<f64> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let mid = n / 2;
    if n % 2 == 1 { v.get(mid).copied() } else { Some((v.get(mid - 1)? + v.get(mid)?) / 2.0) }
}

/// Quartiles by Tukey's hinges: the medians of the lower and upper halves, leaving the middle
/// value out when the count is odd.
pub fn quartiles(values: &[f64]) -> Result<(f64, f64, f64), StatError> {
    let v = sorted(values);
    if v.len() < 3 {
        return Err(StatError::TooFew("quartiles need 3 values"));
    }
    let n = v.len();
    let half = n / 2;
    let lower = v.get(..half).unwrap_or(&[]);
    let upper = if n % 2 == 1 { v.get(half + 1..).unwrap_or(&[]) } else { v.get(half..).unwrap_or(&[]) };
    let q1 = median_sorted(lower).ok_or(StatError::TooFew("lower half"))?;
    let q2 = median_sorted(&v).ok_or(StatError::TooFew("median"))?;
    let q3 = median_sorted(upper).ok_or(StatError::TooFew("upper half"))?;
    Ok((q1, q2, q3))
}

/// Bowley (quartile) skewness and its score `1 - |skew|`. The skew is left at zero when it is
/// unreliable: an interquartile range under 10, or a median equal to a quartile.
pub fn bowley_skew(values: &[f64]) -> Result<(f64, f64), StatError> {
    let (q1, q2, q3) = quartiles(values)?;
    let iqr = q3 - q1;
    let mut skew = 0.0;
    if iqr >= 10.0 && q2 != q1 && q2 != q3 {
        skew = (q3 + q1 - 2.0 * q2) / iqr;
    }
    Ok((skew, clamp01(1.0 - skew.abs())))
}

/// Median absolute deviation and its score `1 - MAD/median`; `default_score` when the median
/// is below 1 (the ratio means nothing there).
pub fn mad(values: &[f64], default_score: f64) -> Result<(f64, f64), StatError> {
    let v = sorted(values);
    let m = median_sorted(&v).ok_or(StatError::TooFew("MAD needs a value"))?;
    let dev = sorted(&v.iter().map(|x| (x - m).abs()).collect::<Vec<_>>());
    let d = median_sorted(&dev).unwrap_or(0.0);
    let score = if m < 1.0 { default_score } else { clamp01(1.0 - d / m) };
    Ok((d, score))
}

/// Regularity of a list of intervals or sizes: the mean of the Bowley and MAD scores.
/// Returns (score, skew, mad).
pub fn statistical_score(values: &[f64], default_mad_score: f64) -> Result<(f64, f64, f64), StatError> {
    if values.is_empty() {
        return Err(StatError::TooFew("no values"));
    }
    let (skew, skew_score) = if values.len() >= 3 { bowley_skew(values)? } else { (0.0, 1.0) };
    let (d, mad_score) = mad(values, default_mad_score)?;
    Ok((round3((skew_score + mad_score) / 2.0), skew, d))
}

/// Distinct values (truncated to integers) with their counts, and the mode (the first value
/// with the highest count).
#[derive(Debug, Clone, PartialEq)]
pub struct Distinct {
    pub values: Vec<i64>,
    pub counts: Vec<i64>,
    pub mode: i64,
    pub mode_count: i64,
}

pub fn distinct_counts(values: &[f64]) -> Result<Distinct, StatError> {
    if values.len() < 2 {
        return Err(StatError::TooFew("distinct counts need 2 values"));
    }
    let mut m: BTreeMap<i64, i64> = BTreeMap::new();
    for x in values.iter().filter(|x| x.is_finite()) {
        *m.entry(x.trunc() as i64).or_default() += 1;
    }
    let (mut mode, mut mode_count) = (0, 0);
    for (&k, &c) in &m {
        if c > mode_count {
            mode = k;
            mode_count = c;
        }
    }
    Ok(Distinct { values: m.keys().copied().collect(), counts: m.values().copied().collect(), mode, mode_count })
}

/// The regularity of connection start times: Bowley + MAD over the non-zero intervals between
/// distinct timestamps (whole seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct TimestampScore {
    pub score: f64,
    pub skew: f64,
    pub mad: f64,
    pub intervals: Distinct,
}

pub fn timestamp_score(ts: &[i64]) -> Result<TimestampScore, StatError> {
    if ts.len() < 4 {
        return Err(StatError::TooFew("timestamp score needs 4 timestamps"));
    }
    let mut v = ts.to_vec();
    v.sort_unstable();
    v.dedup();
    let intervals: Vec<f64> = v.windows(2).filter_map(|w| Some(w.get(1)?.saturating_sub(*w.first()?) as f64)).collect();
    if intervals.len() < 3 {
        return Err(StatError::TooFew("timestamp score needs 3 non-zero intervals"));
    }
    let (score, skew, d) = statistical_score(&intervals, 1.0)?;
    Ok(TimestampScore { score, skew, mad: d, intervals: distinct_counts(&intervals)? })
}

/// The regularity of the bytes sent per connection (Bowley + MAD, MAD score 0 when sizes are
/// under a byte). Returns (score, skew, mad, distinct sizes).
pub fn data_size_score(bytes: &[f64]) -> Result<(f64, f64, f64, Distinct), StatError> {
    if bytes.len() < 3 {
        return Err(StatError::TooFew("data size score needs 3 sizes"));
    }
    let (score, skew, d) = statistical_score(bytes, 0.0)?;
    Ok((score, skew, d, distinct_counts(bytes)?))
}

/// `n` equal bins from `start` to `end`: n + 1 edges.
pub fn histogram_edges(start: f64, end: f64, n: usize) -> Result<Vec<f64>, StatError> {
    if n == 0 {
        return Err(StatError::Invalid("histogram needs at least one bin"));
    }
    if end.partial_cmp(&start) != Some(std::cmp::Ordering::Greater) {
        return Err(StatError::Invalid("histogram end must be after start"));
    }
    let step = (end - start) / n as f64;
    let mut e: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
    e.push(end);
    Ok(e)
}

/// Counts of `values` per bin; a value equal to the last edge falls in the last bin, values
/// outside the edges are ignored.
pub fn histogram_counts(edges: &[f64], values: &[f64]) -> Result<Vec<u64>, StatError> {
    if edges.len() < 2 {
        return Err(StatError::Invalid("edges must contain at least 2 elements"));
    }
    if values.is_empty() {
        return Err(StatError::TooFew("histogram of nothing"));
    }
    let bins = edges.len() - 1;
    let mut h = vec![0u64; bins];
    let (first, last) = (edges.first().copied().unwrap_or(0.0), edges.last().copied().unwrap_or(0.0));
    for &x in values {
        if !(x >= first && x <= last) {
            continue;
        }
        // Largest i with edges[i] <= x.
        let i = edges.partition_point(|&e| e <= x).saturating_sub(1).min(bins - 1);
        if let Some(c) = h.get_mut(i) {
            *c += 1;
        }
    }
    Ok(h)
}

/// Groups the non-empty bars of a histogram by height (bucket = ceil(max · sensitivity)),
/// counts the bars, and measures the longest run of non-empty bars, wrapping around the end
/// (a daily pattern that crosses midnight is one run).
pub fn frequency_counts(hist: &[u64], sensitivity: f64) -> Result<(BTreeMap<u64, u64>, usize, usize), StatError> {
    if hist.is_empty() {
        return Err(StatError::TooFew("empty histogram"));
    }
    let max = hist.iter().copied().max().unwrap_or(0);
    let bucket = ((max as f64 * sensitivity).ceil() as u64).max(1);
    let mut freq = BTreeMap::new();
    let mut bars = 0;
    for &f in hist.iter().filter(|&&f| f > 0) {
        *freq.entry(f / bucket * bucket).or_insert(0) += 1;
        bars += 1;
    }
    let n = hist.len();
    let run = if bars == n {
        n
    } else {
        let mut best = 0;
        let mut cur = 0;
        for &f in hist {
            cur = if f > 0 { cur + 1 } else { 0 };
            best = best.max(cur);
        }
        let lead = hist.iter().take_while(|&&f| f > 0).count();
        let trail = hist.iter().rev().take_while(|&&f| f > 0).count();
        best.max(lead + trail)
    };
    Ok((freq, bars, run))
}

/// Flatness of a histogram: `1 - CV` (population standard deviation over mean), 0 when CV > 1.
pub fn cv_score(hist: &[i64]) -> Result<f64, StatError> {
    if hist.is_empty() {
        return Err(StatError::TooFew("empty histogram"));
    }
    if hist.iter().any(|&x| x < 0) {
        return Err(StatError::Invalid("negative bar"));
    }
    let total: f64 = hist.iter().map(|&x| x as f64).sum();
    if total <= 0.0 {
        return Err(StatError::Invalid("empty bars"));
    }
    let n = hist.len() as f64;
    let mean = total / n;
    let var = hist.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let cv = var.sqrt() / mean.abs();
    Ok(if cv > 1.0 { 0.0 } else { round3(1.0 - cv) })
}

/// How well the bars fit one or two heights (a beacon whose rate changes once, e.g. day/night):
/// the two most common heights' bar counts over the bars less the allowed outliers.
pub fn bimodal_fit_score(freq: &BTreeMap<u64, u64>, total_bars: usize, outliers: usize, min_bars: usize) -> Result<f64, StatError> {
    if total_bars == 0 {
        return Err(StatError::Invalid("no bars"));
    }
    if freq.is_empty() {
        return Err(StatError::TooFew("no bar heights"));
    }
    // Fewer than 3 bars always look "bimodal"; never score them.
    if total_bars < min_bars.max(3) {
        return Ok(0.0);
    }
    let mut counts: Vec<u64> = freq.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top: u64 = counts.iter().take(2).sum();
    let denom = total_bars.saturating_sub(outliers).max(1) as f64;
    Ok(round3((top as f64 / denom).min(1.0)))
}

/// Parameters of the histogram and duration sub-scores (RITA's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistParams {
    pub bins: usize,
    pub mode_sensitivity: f64,
    pub bimodal_outliers: usize,
    pub bimodal_min_bars: usize,
    pub duration_min_bars: usize,
    pub duration_ideal_bars: usize,
}

impl Default for HistParams {
    fn default() -> Self {
        HistParams {
            bins: 24,
            mode_sensitivity: 0.05,
            bimodal_outliers: 1,
            bimodal_min_bars: 11,
            duration_min_bars: 6,
            duration_ideal_bars: 12,
        }
    }
}

/// The histogram sub-score over the dataset span. Returns (histogram, bars, longest run, score).
pub fn histogram_score(dmin: f64, dmax: f64, ts: &[f64], p: &HistParams) -> Result<(Vec<u64>, usize, usize, f64), StatError> {
    if ts.is_empty() {
        return Err(StatError::TooFew("no timestamps"));
    }
    let edges = histogram_edges(dmin, dmax, p.bins)?;
    let hist = histogram_counts(&edges, ts)?;
    let (freq, bars, run) = frequency_counts(&hist, p.mode_sensitivity)?;
    let as_i: Vec<i64> = hist.iter().map(|&x| x.min(i64::MAX as u64) as i64).collect();
    let cv = cv_score(&as_i).unwrap_or(0.0);
    let bi = bimodal_fit_score(&freq, bars, p.bimodal_outliers, p.bimodal_min_bars).unwrap_or(0.0);
    Ok((hist, bars, run, cv.max(bi)))
}

/// The duration sub-score: the larger of coverage (the pair's first-to-last span over the
/// dataset span) and consistency (longest run of active bins over the ideal run). Zero when
/// fewer than `min_bars` bins are active. Returns (coverage, consistency, score).
#[allow(clippy::too_many_arguments)]
pub fn duration_score(
    dmin: f64,
    dmax: f64,
    hmin: f64,
    hmax: f64,
    bars: usize,
    run: usize,
    min_bars: usize,
    ideal: usize,
) -> Result<(f64, f64, f64), StatError> {
    if ideal < 1 || min_bars < 1 {
        return Err(StatError::Invalid("thresholds must be at least 1"));
    }
    if dmin > dmax || hmin > hmax {
        return Err(StatError::Invalid("min after max"));
    }
    if bars < min_bars {
        return Ok((0.0, 0.0, 0.0));
    }
    let coverage = if dmax > dmin { clamp01((hmax - hmin) / (dmax - dmin)) } else { 1.0 };
    let consistency = clamp01(run as f64 / ideal as f64);
    Ok((round3(coverage), round3(consistency), round3(coverage.max(consistency))))
}

/// The weighted beacon score; weights must each be in 0..1 and sum to 1.
pub fn weighted_score(parts: &[(f64, f64)]) -> Result<f64, StatError> {
    let mut sum_w = 0.0;
    let mut s = 0.0;
    for &(score, w) in parts {
        if !(0.0..=1.0).contains(&score) {
            return Err(StatError::Invalid("score outside 0..1"));
        }
        if !(0.0..=1.0).contains(&w) {
            return Err(StatError::Invalid("weight outside 0..1"));
        }
        sum_w += w;
        s += score * w;
    }
    if (sum_w - 1.0).abs() > 1e-6 {
        return Err(StatError::Invalid("weights must sum to 1"));
    }
    Ok(round3(s))
}

/// Noise control shared by the detectors: what the site trusts beyond the site file's
/// `[allow]` section, and findings an analyst has closed.
#[derive(Debug, Clone, Default)]
pub struct Tuning {
    /// Known-good domains (a name and all its subdomains).
    pub allow_domains: Vec<String>,
    pub allow_networks: Vec<IpNet>,
    /// Known-good autonomous systems (e.g. the site's own backup provider).
    pub allow_asns: HashSet<u32>,
    /// Known-good client TLS fingerprints (e.g. the backup agent's JA4).
    pub allow_ja4: HashSet<String>,
    /// Finding ids suppressed by an analyst.
    pub suppressed_ids: HashSet<String>,
}

impl Tuning {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn allow_domain(mut self, d: &str) -> Self {
        self.allow_domains.push(d.trim().trim_end_matches('.').to_ascii_lowercase());
        self
    }
    pub fn allow_network(mut self, n: IpNet) -> Self {
        self.allow_networks.push(n);
        self
    }
    pub fn allow_asn(mut self, asn: u32) -> Self {
        self.allow_asns.insert(asn);
        self
    }
    pub fn allow_ja4(mut self, ja4: &str) -> Self {
        self.allow_ja4.insert(ja4.to_string());
        self
    }
    pub fn suppress(mut self, id: &str) -> Self {
        self.suppressed_ids.insert(id.to_string());
        self
    }

    /// Whether this destination (address, name, client fingerprint) is trusted by the site file
    /// (`[allow]` domains, networks, ASNs, JA4) or by these settings.
    pub fn is_allowed(&self, ctx: &Context, ip: IpAddr, name: Option<&str>, ja4: Option<&str>) -> bool {
        if ctx.is_allowed(ip, name) || self.allow_networks.iter().any(|n| n.contains(&ip)) {
            return true;
        }
        if let Some(n) = name
            && self.allow_domains.iter().any(|d| domain_is_under(n, d))
        {
            return true;
        }
        if ja4.is_some_and(|j| self.allow_ja4.contains(j) || ctx.is_allowed_ja4(j)) {
            return true;
        }
        if !self.allow_asns.is_empty() && ctx.geo(ip).asn.is_some_and(|a| self.allow_asns.contains(&a)) {
            return true;
        }
        ctx.is_allowed_asn(ip)
    }

    pub fn is_suppressed(&self, id: &str) -> bool {
        self.suppressed_ids.contains(id)
    }
}

/// `name` equals `domain` or is below it (label boundary respected).
pub fn domain_is_under(name: &str, domain: &str) -> bool {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    if d.is_empty() {
        return false;
    }
    n == d || (n.len() > d.len() && n.ends_with(d.as_str()) && n.as_bytes().get(n.len() - d.len() - 1) == Some(&b'.'))
}

/// RFC 3339 time in the site zone.
pub fn site_time(ctx: &Context, ts: Timestamp) -> chrono::DateTime<chrono::FixedOffset> {
    ts.to_offset(ctx.offset_at(ts))
}

/// Short local rendering for summaries ("2024-01-02 03:00 +08:00").
pub fn site_time_short(ctx: &Context, ts: Timestamp) -> String {
    site_time(ctx, ts).format("%Y-%m-%d %H:%M %:z").to_string()
}

/// Site-local time of records, cached per minute: the stream is roughly time-ordered, so one
/// zone conversion serves many records. Returns (UTC offset in seconds, off-hours).
#[derive(Debug, Default, Clone)]
pub struct LocalClock {
    minute: Option<i64>,
    offset: i64,
    off_hours: bool,
}

impl LocalClock {
    pub fn at(&mut self, ctx: &Context, ts: Timestamp) -> (i64, bool) {
        let m = ts.secs().div_euclid(60);
        if self.minute != Some(m) {
            self.minute = Some(m);
            self.offset = i64::from(ctx.offset_at(ts).local_minus_utc());
            self.off_hours = ctx.is_off_hours(ts);
        }
        (self.offset, self.off_hours)
    }
}

/// `s` in ASCII lower case, borrowed when it already is (most names on the wire are), so the
/// per-record path allocates only for the rare mixed-case name.
pub fn ascii_lower(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) { std::borrow::Cow::Owned(s.to_ascii_lowercase()) } else { std::borrow::Cow::Borrowed(s) }
}

/// Records ahead of the current one whose state a detector's batch loop starts loading
/// ([`prefetch`]): far enough for a load from memory to arrive, near enough to stay cached.
pub const AHEAD: usize = 8;

/// Asks the processor to start loading `x` into the cache, so that a later access a few
/// records on does not wait for memory. A hint only: it reads nothing into the program and
/// changes no result (elsewhere than x86-64 it does nothing). Per-pair state at 10 M records
/// is hundreds of MiB, so most of its accesses would otherwise each wait for DRAM in turn.
#[inline(always)]
pub fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        let p = (x as *const T).cast::<i8>();
        // At most four cache lines: the state the detectors read is at the front.
        let lines = std::mem::size_of::<T>().div_ceil(64).clamp(1, 4);
        for l in 0..lines {
            // SAFETY: a prefetch never faults and has no effect visible to the program; the
            // addresses lie within (or one line past the start of) the live object `x`.
            unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.wrapping_add(l * 64)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// "No id": an absent name, or one the interner had no room for.
pub const NONE: u32 = u32::MAX;

/// Strings to dense ids and back, so per-record state holds 4-byte ids, not strings. Each
/// string is stored once; the table holds ids and finds them by their string's content.
#[derive(Default)]
pub struct Interner {
    table: hashbrown::HashTable<u32>,
    strs: Vec<Box<str>>,
    hasher: foldhash::fast::RandomState,
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner").field("strs", &self.strs.len()).finish()
    }
}

impl Interner {
    /// The id of `s`, assigned on first sight; [`NONE`] when ids ran out.
    pub fn id(&mut self, s: &str) -> u32 {
        let hash = self.hasher.hash_one(s);
        if let Some(i) = self.find_hashed(hash, s) {
            return i;
        }
        let i = u32::try_from(self.strs.len()).unwrap_or(NONE);
        if i == NONE {
            return NONE;
        }
        self.strs.push(s.into());
        let (strs, hasher) = (&self.strs, &self.hasher);
        self.table.insert_unique(hash, i, |&j| hasher.hash_one(strs.get(j as usize).map_or("", |t| &**t)));
        i
    }

    /// The id of `s` if it has one.
    pub fn find(&self, s: &str) -> Option<u32> {
        self.find_hashed(self.hasher.hash_one(s), s)
    }

    fn find_hashed(&self, hash: u64, s: &str) -> Option<u32> {
        self.table.find(hash, |&i| self.strs.get(i as usize).is_some_and(|t| &**t == s)).copied()
    }

    pub fn get(&self, i: u32) -> &str {
        self.strs.get(i as usize).map_or("", |t| &**t)
    }
}

/// Per-day sums kept as a sorted list: a connection's days are few and the stream is roughly
/// time-ordered, so this appends where a `BTreeMap` would allocate a node per pair. The first
/// day is inline (most pairs see one day), so a single-day pair allocates nothing, and the
/// rest is boxed: 24 bytes in all (an `Option` and a `Vec` inline took 48, in every one of
/// exfiltration's millions of per-destination aggregates).
#[derive(Debug, Clone)]
pub struct DaySums {
    /// The earliest day and its sum; day [`NO_DAY`] when there is none.
    first: (i64, u64),
    /// Later days, ascending, all after `first`.
    #[allow(clippy::box_collection)]
    more: Option<Box<Vec<(i64, u64)>>>,
}

/// [`DaySums`] without a day. No local day is this far back (`i64::MIN` seconds / 86,400 is
/// the earliest), and [`DaySums::add`] moves such a day one later.
const NO_DAY: i64 = i64::MIN;

impl Default for DaySums {
    fn default() -> Self {
        DaySums { first: (NO_DAY, 0), more: None }
    }
}

impl DaySums {
    pub fn add(&mut self, day: i64, v: u64) {
        let day = day.max(NO_DAY + 1);
        let f = &mut self.first;
        if f.0 == NO_DAY {
            *f = (day, v);
            return;
        }
        if day == f.0 {
            f.1 = f.1.saturating_add(v);
            return;
        }
        let more = self.more.get_or_insert_with(Default::default);
        if day < f.0 {
            // A new earliest day: the old first moves to the front of the rest.
            let old = std::mem::replace(f, (day, v));
            more.insert(0, old);
            return;
        }
        match more.last_mut() {
            Some((d, s)) if *d == day => *s = s.saturating_add(v),
            Some((d, _)) if *d < day => more.push((day, v)),
            None => more.push((day, v)),
            Some(_) => match more.binary_search_by_key(&day, |e| e.0) {
                Ok(i) => {
                    if let Some(e) = more.get_mut(i) {
                        e.1 = e.1.saturating_add(v);
                    }
                }
                Err(i) => more.insert(i, (day, v)),
            },
        }
    }

    /// Distinct days.
    pub fn len(&self) -> usize {
        usize::from(self.first.0 != NO_DAY) + self.more.as_ref().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.first.0 == NO_DAY
    }

    /// The earliest day.
    pub fn first_day(&self) -> Option<i64> {
        (self.first.0 != NO_DAY).then_some(self.first.0)
    }

    /// (day, sum) in day order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        (self.first.0 != NO_DAY).then_some(self.first).into_iter().chain(self.more.iter().flat_map(|m| m.iter().copied()))
    }
}

/// Human rendering of a byte count.
pub fn human_bytes(b: u64) -> String {
    const U: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut x = b as f64;
    let mut i = 0;
    while x >= 1000.0 && i + 1 < U.len() {
        x /= 1000.0;
        i += 1;
    }
    if i == 0 { format!("{b} B") } else { format!("{x:.1} {}", U.get(i).copied().unwrap_or("B")) }
}

/// Human rendering of a duration in seconds.
pub fn human_secs(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "?".into();
    }
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 172_800.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} days", s / 86400.0)
    }
}

/// Country code as text, when known.
pub fn country_str(ctx: &Context, ip: IpAddr) -> Option<String> {
    ctx.geo(ip).country.map(|c| String::from_utf8_lossy(&c).into_owned())
}

/// Addresses that are never "destinations" worth a finding: multicast, broadcast, loopback and
/// 0.0.0.0/8 ("this network", RFC 1122: not routable as a destination; traffic to it is a
/// misconfigured or mistyped target, such as nmap given "4" as a host).
pub fn is_noise_addr(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.is_multicast() || v.is_broadcast() || v.octets()[0] == 0 || v.is_loopback(),
        IpAddr::V6(v) => v.is_multicast() || v.is_unspecified() || v.is_loopback(),
    }
}

/// The internal host and the outside peer of a connection initiated from inside.
pub fn outbound(ctx: &Context, c: &Conn) -> bool {
    ctx.is_internal(c.orig_h) && !ctx.is_internal(c.resp_h) && !is_noise_addr(c.resp_h)
}

/// Payload bytes sent by the originator, falling back to IP bytes when payload counts are
/// missing (NetFlow).
pub fn sent_bytes(c: &Conn) -> u64 {
    c.orig_bytes.unwrap_or(c.orig_ip_bytes)
}

/// Application payload went both ways. Without payload counts (NetFlow), more than three
/// packets each way (or in total, when only totals are known) stands for it.
pub fn has_payload(c: &Conn) -> bool {
    match (c.orig_bytes, c.resp_bytes) {
        (Some(a), Some(b)) => a > 0 && b > 0,
        _ => (c.orig_pkts > 3 && c.resp_pkts > 3) || (c.resp_pkts == 0 && c.orig_pkts > 6 && c.resp_ip_bytes > 0),
    }
}

pub fn recv_bytes(c: &Conn) -> u64 {
    c.resp_bytes.unwrap_or(c.resp_ip_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_and_round() {
        assert_eq!(ramp(5.0, 0.0, 10.0), 0.5);
        assert_eq!(ramp(-1.0, 0.0, 10.0), 0.0);
        assert_eq!(ramp(f64::NAN, 0.0, 10.0), 0.0);
        assert_eq!(round3(0.12349), 0.123);
    }

    #[test]
    fn domain_boundaries() {
        assert!(domain_is_under("a.b.example.com.", "example.com"));
        assert!(!domain_is_under("badexample.com", "example.com"));
        assert!(!domain_is_under("x.com", ""));
    }

    #[test]
    fn day_sums_stay_sorted_and_add_up() {
        let mut d = DaySums::default();
        for (day, v) in [(5, 1), (5, 2), (7, 1), (6, 4), (5, u64::MAX), (1, 1)] {
            d.add(day, v);
        }
        assert_eq!(d.iter().collect::<Vec<_>>(), vec![(1, 1), (5, u64::MAX), (6, 4), (7, 1)]);
        assert_eq!((d.len(), d.first_day()), (4, Some(1)));
        assert_eq!(std::mem::size_of::<DaySums>(), 24);
        let mut e = DaySums::default();
        assert!(e.is_empty() && e.first_day().is_none() && e.iter().next().is_none());
        assert_eq!(e.len(), 0);
        // The extremes: the earliest possible day is kept (one later than the "none" mark).
        e.add(i64::MIN, 3);
        e.add(i64::MAX, 4);
        assert_eq!(e.iter().collect::<Vec<_>>(), vec![(i64::MIN + 1, 3), (i64::MAX, 4)]);
        // Against a map, on days in any order.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut sums = DaySums::default();
        let mut map: std::collections::BTreeMap<i64, u64> = std::collections::BTreeMap::new();
        for _ in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (day, v) = (i64::try_from(x % 40).unwrap_or(0) - 20, x % 1_000);
            sums.add(day, v);
            let s = map.entry(day).or_default();
            *s = s.saturating_add(v);
        }
        assert_eq!(sums.iter().collect::<Vec<_>>(), map.into_iter().collect::<Vec<_>>());
        let mut i = Interner::default();
        assert_eq!((i.id("a"), i.id("b"), i.id("a"), i.find("b"), i.get(1)), (0, 1, 0, Some(1), "b"));
    }

    /// Against a map: ids dense in first-seen order, found again by content (the table grows
    /// and rehashes from the stored strings), absent strings not found.
    #[test]
    fn interner_agrees_with_a_map() {
        let mut i = Interner::default();
        let mut map: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let s = format!("h{}.example", x % 5_000);
            let next = u32::try_from(map.len()).unwrap_or(NONE);
            let want = *map.entry(s.clone()).or_insert(next);
            assert_eq!(i.id(&s), want, "{s}");
        }
        for (s, &id) in &map {
            assert_eq!((i.find(s), i.get(id)), (Some(id), s.as_str()));
        }
        assert_eq!(i.find("h5000.example"), None);
        assert_eq!(i.find(""), None);
        assert_eq!(i.id(""), u32::try_from(map.len()).unwrap_or(NONE), "the empty string is a string");
        assert_eq!(i.get(NONE), "");
    }

    #[test]
    fn human_rendering() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
        assert_eq!(human_secs(60.0), "60 s");
        assert_eq!(human_secs(36_000.0), "10.0 h");
    }
}
