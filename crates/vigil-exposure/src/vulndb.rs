//! Offline vulnerability data: NVD CVE 2.0 JSON (feed files, API pages, single records), CVE 5
//! records, CISA KEV, EPSS CSV and OSV (best effort), and CPE matching with version ranges.
//!
//! Files are read whole (feeds are tens of MB) and summarised into [`CveRecord`]s; only the
//! fields matching and ranking need are kept. Unknown shapes are counted, never fatal.

use crate::cpe::Cpe;
use crate::version;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;

/// Refuse single files above this size (the largest NVD yearly feed is well below it).
const MAX_FILE: u64 = 1 << 30;
/// At most this many files from one directory walk.
const MAX_FILES: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum VulnDbError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not JSON ({source})")]
    Json { path: String, source: serde_json::Error },
    #[error("{path}: too large ({size} bytes)")]
    TooLarge { path: String, size: u64 },
}

/// One `cpeMatch` entry: a CPE pattern with an optional version range.
#[derive(Debug, Clone, PartialEq)]
pub struct CpeMatch {
    pub vulnerable: bool,
    pub criteria: Cpe,
    pub start_including: Option<String>,
    pub start_excluding: Option<String>,
    pub end_including: Option<String>,
    pub end_excluding: Option<String>,
}

impl CpeMatch {
    fn has_range(&self) -> bool {
        self.start_including.is_some() || self.start_excluding.is_some() || self.end_including.is_some() || self.end_excluding.is_some()
    }

    /// Does a product at `ver` (as the banner printed it, e.g. `9.2p1`) fall under this entry?
    /// Vendor and product are checked by the caller (see [`same_product`]).
    pub fn matches_version(&self, ver: &str) -> bool {
        let c = &self.criteria;
        if c.version == "-" || c.version.is_empty() {
            return false;
        }
        if c.version == "*" {
            if !self.has_range() {
                // "every version": true but uninformative; NVD uses it for unversioned products.
                return true;
            }
            let ok_start = match (&self.start_including, &self.start_excluding) {
                (Some(s), _) => version::compare(ver, s) != Ordering::Less,
                (None, Some(s)) => version::compare(ver, s) == Ordering::Greater,
                _ => true,
            };
            let ok_end = match (&self.end_including, &self.end_excluding) {
                (Some(e), _) => version::compare(ver, e) != Ordering::Greater,
                (None, Some(e)) => version::compare(ver, e) == Ordering::Less,
                _ => true,
            };
            return ok_start && ok_end;
        }
        // An exact version, with NVD's update field holding OpenSSH-style patch levels.
        let (base, upd) = version::split_update(ver);
        let whole_equal = version::compare(ver, &c.version) == Ordering::Equal;
        if c.update == "*" || c.update.is_empty() {
            return whole_equal || version::compare(&base, &c.version) == Ordering::Equal && upd.is_some();
        }
        if version::compare(&base, &c.version) != Ordering::Equal {
            return false;
        }
        match (&upd, c.update.as_str()) {
            (None, "-") => true,
            (Some(u), want) => u.eq_ignore_ascii_case(want),
            (None, _) => false,
        }
    }
}

/// Vendors that NVD has filed the same product under over the years.
const VENDOR_ALIASES: &[(&str, &[&str])] = &[
    ("nginx", &["f5", "nginx", "igor_sysoev"]),
    ("mysql", &["oracle", "mysql", "sun"]),
    ("http_server", &["apache"]),
    ("openssh", &["openbsd"]),
];

/// Vendor/product equality, tolerant of NVD's vendor renames (nginx → f5).
pub fn same_product(a_vendor: &str, a_product: &str, b_vendor: &str, b_product: &str) -> bool {
    if !a_product.eq_ignore_ascii_case(b_product) {
        return false;
    }
    if a_vendor == "*" || b_vendor == "*" || a_vendor.eq_ignore_ascii_case(b_vendor) {
        return true;
    }
    VENDOR_ALIASES.iter().any(|(p, vs)| {
        p.eq_ignore_ascii_case(a_product)
            && vs.iter().any(|v| v.eq_ignore_ascii_case(a_vendor))
            && vs.iter().any(|v| v.eq_ignore_ascii_case(b_vendor))
    })
}

/// What Vigil keeps of one CVE.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CveRecord {
    pub id: String,
    /// Highest CVSS base score found (v4/v3.x preferred, v2 as a fallback).
    pub cvss: Option<f64>,
    pub description: String,
    /// Vulnerable CPE entries (configuration nodes flattened: a banner cannot tell the platform
    /// an application runs on, so AND-ed platform nodes are not required).
    pub matches: Vec<CpeMatch>,
}

/// One CISA KEV catalogue entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KevEntry {
    pub cve: String,
    pub name: String,
    pub date_added: String,
    pub due_date: String,
    pub ransomware: bool,
}

/// One EPSS row.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Epss {
    pub epss: f64,
    pub percentile: f64,
}

/// Load counters, reported by the CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LoadStats {
    pub files: usize,
    pub cves: usize,
    pub kev: usize,
    pub epss: usize,
    pub skipped_files: usize,
    pub skipped_records: usize,
}

/// The vulnerability database: CVEs indexed by product name, plus KEV and EPSS.
#[derive(Debug, Default)]
pub struct VulnDb {
    cves: Vec<CveRecord>,
    by_id: HashMap<String, usize>,
    by_product: HashMap<String, Vec<usize>>,
    kev: HashMap<String, KevEntry>,
    epss: HashMap<String, Epss>,
    pub stats: LoadStats,
}

/// One CVE that applies to a service.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VulnMatch {
    pub cve: String,
    pub cvss: Option<f64>,
    pub epss: Option<f64>,
    pub epss_percentile: Option<f64>,
    pub kev: bool,
    pub ransomware: bool,
    pub kev_due: Option<String>,
    /// The CPE pattern (and range) that matched.
    pub criteria: String,
    /// False when the upstream version alone cannot prove it (distribution backports).
    pub confirmed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unconfirmed_reason: Option<String>,
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

fn parse_cpe_match(m: &Value) -> Option<CpeMatch> {
    let crit = m.get("criteria").or_else(|| m.get("cpe23Uri")).and_then(Value::as_str)?;
    Some(CpeMatch {
        vulnerable: m.get("vulnerable").and_then(Value::as_bool).unwrap_or(true),
        criteria: Cpe::parse(crit)?,
        start_including: s(m, "versionStartIncluding"),
        start_excluding: s(m, "versionStartExcluding"),
        end_including: s(m, "versionEndIncluding"),
        end_excluding: s(m, "versionEndExcluding"),
    })
}

/// Walks NVD 2.0 `configurations` (and the 1.1 feed's `configurations.nodes` with children).
fn collect_nodes(v: &Value, out: &mut Vec<CpeMatch>, depth: u32) {
    if depth > 8 {
        return;
    }
    match v {
        Value::Array(a) => a.iter().for_each(|x| collect_nodes(x, out, depth + 1)),
        Value::Object(o) => {
            if o.get("negate").and_then(Value::as_bool) == Some(true) {
                return;
            }
            for key in ["cpeMatch", "cpe_match"] {
                if let Some(Value::Array(ms)) = o.get(key) {
                    out.extend(ms.iter().filter_map(parse_cpe_match).filter(|m| m.vulnerable));
                }
            }
            for key in ["nodes", "children", "configurations"] {
                if let Some(x) = o.get(key) {
                    collect_nodes(x, out, depth + 1);
                }
            }
        }
        _ => {}
    }
}

fn max_cvss(metrics: &Value) -> Option<f64> {
    let o = metrics.as_object()?;
    let scores = |newer: bool| -> Option<f64> {
        o.iter()
            .filter(|(k, _)| k.starts_with("cvssMetricV2") != newer)
            .flat_map(|(_, arr)| arr.as_array().into_iter().flatten())
            .filter_map(|m| m.pointer("/cvssData/baseScore").and_then(Value::as_f64))
            .filter(|x| x.is_finite() && (0.0..=10.0).contains(x))
            .reduce(f64::max)
    };
    // Prefer CVSS v4/v3; use v2 only if nothing newer exists.
    scores(true).or_else(|| scores(false))
}

/// An NVD 2.0 `cve` object.
pub fn parse_nvd_cve(cve: &Value) -> Option<CveRecord> {
    let id = s(cve, "id")?;
    let mut matches = Vec::new();
    if let Some(c) = cve.get("configurations") {
        collect_nodes(c, &mut matches, 0);
    }
    let description = cve
        .get("descriptions")
        .and_then(Value::as_array)
        .and_then(|d| d.iter().find(|x| x.get("lang").and_then(Value::as_str) == Some("en")))
        .and_then(|x| s(x, "value"))
        .unwrap_or_default();
    Some(CveRecord { id, cvss: cve.get("metrics").and_then(max_cvss), description, matches })
}

/// A CVE JSON 5 record (`cveMetadata` + `containers`): `affected` product/version ranges.
pub fn parse_cve5(v: &Value) -> Option<CveRecord> {
    let id = v.pointer("/cveMetadata/cveId").and_then(Value::as_str)?.to_string();
    let mut rec = CveRecord { id, ..Default::default() };
    let mut containers: Vec<&Value> = Vec::new();
    if let Some(c) = v.pointer("/containers/cna") {
        containers.push(c);
    }
    if let Some(a) = v.pointer("/containers/adp").and_then(Value::as_array) {
        containers.extend(a.iter());
    }
    let norm = |x: &str| x.trim().to_ascii_lowercase().replace(' ', "_");
    for c in containers {
        if rec.description.is_empty()
            && let Some(d) = c.get("descriptions").and_then(Value::as_array).and_then(|d| d.first()).and_then(|d| s(d, "value"))
        {
            rec.description = d;
        }
        for m in c.get("metrics").and_then(Value::as_array).into_iter().flatten() {
            for k in ["cvssV4_0", "cvssV3_1", "cvssV3_0"] {
                if let Some(x) = m.pointer(&format!("/{k}/baseScore")).and_then(Value::as_f64)
                    && (0.0..=10.0).contains(&x)
                {
                    rec.cvss = Some(rec.cvss.map_or(x, |b| b.max(x)));
                }
            }
        }
        for a in c.get("affected").and_then(Value::as_array).into_iter().flatten() {
            let (Some(vendor), Some(product)) = (s(a, "vendor"), s(a, "product")) else { continue };
            let base = Cpe::for_app(&norm(&vendor), &norm(&product), None);
            for ver in a.get("versions").and_then(Value::as_array).into_iter().flatten() {
                if ver.get("status").and_then(Value::as_str) != Some("affected") {
                    continue;
                }
                let Some(v0) = s(ver, "version") else { continue };
                let lt = s(ver, "lessThan").filter(|x| x != "*");
                let le = s(ver, "lessThanOrEqual").filter(|x| x != "*");
                let start = (v0 != "0" && v0 != "*" && v0 != "unspecified").then_some(v0.clone());
                let mut crit = base.clone();
                let m = if lt.is_some() || le.is_some() {
                    CpeMatch {
                        vulnerable: true,
                        criteria: crit,
                        start_including: start,
                        start_excluding: None,
                        end_including: le,
                        end_excluding: lt,
                    }
                } else if let Some(v) = start {
                    let (b, u) = version::split_update(&v);
                    crit.version = b;
                    crit.update = u.unwrap_or_else(|| "*".into());
                    CpeMatch {
                        vulnerable: true,
                        criteria: crit,
                        start_including: None,
                        start_excluding: None,
                        end_including: None,
                        end_excluding: None,
                    }
                } else {
                    continue;
                };
                rec.matches.push(m);
            }
        }
        for cpes in c.get("cpes").and_then(Value::as_array).into_iter().flatten() {
            if let Some(cp) = cpes.as_str().and_then(Cpe::parse)
                && cp.version != "*"
            {
                rec.matches.push(CpeMatch {
                    vulnerable: true,
                    criteria: cp,
                    start_including: None,
                    start_excluding: None,
                    end_including: None,
                    end_excluding: None,
                });
            }
        }
    }
    Some(rec)
}

/// An OSV record: package ranges become CPE-like entries keyed by package name (vendor `*`).
pub fn parse_osv(v: &Value) -> Option<CveRecord> {
    let osv_id = s(v, "id")?;
    // Prefer the CVE alias so KEV/EPSS join on it.
    let id = v
        .get("aliases")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().filter_map(Value::as_str).find(|x| x.starts_with("CVE-")))
        .map(str::to_string)
        .unwrap_or(osv_id);
    let mut rec = CveRecord { id, description: s(v, "summary").or_else(|| s(v, "details")).unwrap_or_default(), ..Default::default() };
    for a in v.get("affected").and_then(Value::as_array).into_iter().flatten() {
        let Some(name) = a.pointer("/package/name").and_then(Value::as_str) else { continue };
        let base = Cpe::for_app("*", &name.to_ascii_lowercase(), None);
        for r in a.get("ranges").and_then(Value::as_array).into_iter().flatten() {
            if r.get("type").and_then(Value::as_str) == Some("GIT") {
                continue;
            }
            let mut start: Option<String> = None;
            for e in r.get("events").and_then(Value::as_array).into_iter().flatten() {
                if let Some(i) = s(e, "introduced") {
                    start = Some(i);
                } else if let Some(f) = s(e, "fixed").or_else(|| s(e, "last_affected").map(|x| format!("\u{0}{x}"))) {
                    let (incl, end) = match f.strip_prefix('\u{0}') {
                        Some(x) => (true, x.to_string()),
                        None => (false, f),
                    };
                    let st = start.take().filter(|x| x != "0");
                    rec.matches.push(CpeMatch {
                        vulnerable: true,
                        criteria: base.clone(),
                        start_including: st,
                        start_excluding: None,
                        end_including: incl.then(|| end.clone()),
                        end_excluding: (!incl).then_some(end),
                    });
                }
            }
        }
    }
    Some(rec)
}

/// Parses EPSS CSV text (`cve,epss,percentile`, `#` comment lines).
pub fn parse_epss_csv(text: &str, out: &mut HashMap<String, Epss>) -> (usize, usize) {
    let (mut ok, mut bad) = (0, 0);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("cve,") {
            continue;
        }
        let mut f = line.split(',');
        let (Some(cve), Some(e), p) = (f.next(), f.next(), f.next()) else {
            bad += 1;
            continue;
        };
        match (e.trim().parse::<f64>(), p.map(|p| p.trim().parse::<f64>())) {
            (Ok(e), Some(Ok(p))) if (0.0..=1.0).contains(&e) && (0.0..=1.0).contains(&p) => {
                out.insert(cve.trim().to_ascii_uppercase(), Epss { epss: e, percentile: p });
                ok += 1;
            }
            (Ok(e), None) if (0.0..=1.0).contains(&e) => {
                out.insert(cve.trim().to_ascii_uppercase(), Epss { epss: e, percentile: 0.0 });
                ok += 1;
            }
            _ => bad += 1,
        }
    }
    (ok, bad)
}

impl VulnDb {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a CVE (a later record with the same id replaces the earlier one's entries).
    pub fn add_cve(&mut self, rec: CveRecord) {
        if let Some(&i) = self.by_id.get(&rec.id) {
            let Some(old) = self.cves.get_mut(i) else { return };
            if rec.cvss.is_some() {
                old.cvss = rec.cvss;
            }
            if !rec.matches.is_empty() {
                old.matches = rec.matches;
            }
            self.reindex_one(i);
            return;
        }
        let i = self.cves.len();
        self.by_id.insert(rec.id.clone(), i);
        self.cves.push(rec);
        self.stats.cves += 1;
        self.reindex_one(i);
    }

    fn reindex_one(&mut self, i: usize) {
        let Some(rec) = self.cves.get(i) else { return };
        let mut products: Vec<String> = rec.matches.iter().map(|m| m.criteria.product.clone()).collect();
        products.sort();
        products.dedup();
        for p in products {
            let e = self.by_product.entry(p).or_default();
            if !e.contains(&i) {
                e.push(i);
            }
        }
    }

    pub fn add_kev(&mut self, k: KevEntry) {
        self.kev.insert(k.cve.clone(), k);
        self.stats.kev = self.kev.len();
    }

    pub fn add_epss(&mut self, cve: &str, e: Epss) {
        self.epss.insert(cve.to_ascii_uppercase(), e);
        self.stats.epss = self.epss.len();
    }

    pub fn cve(&self, id: &str) -> Option<&CveRecord> {
        self.by_id.get(id).and_then(|&i| self.cves.get(i))
    }
    pub fn kev(&self, id: &str) -> Option<&KevEntry> {
        self.kev.get(id)
    }
    pub fn epss(&self, id: &str) -> Option<Epss> {
        self.epss.get(id).copied()
    }
    pub fn len(&self) -> usize {
        self.cves.len()
    }
    pub fn is_empty(&self) -> bool {
        self.cves.is_empty()
    }

    /// Loads one JSON document of any supported kind.
    pub fn load_json(&mut self, v: &Value) {
        // KEV catalogue.
        if let Some(arr) = v.get("vulnerabilities").and_then(Value::as_array)
            && arr.first().is_some_and(|x| x.get("cveID").is_some())
        {
            for k in arr {
                match s(k, "cveID") {
                    Some(cve) => self.add_kev(KevEntry {
                        cve,
                        name: s(k, "vulnerabilityName").unwrap_or_default(),
                        date_added: s(k, "dateAdded").unwrap_or_default(),
                        due_date: s(k, "dueDate").unwrap_or_default(),
                        ransomware: s(k, "knownRansomwareCampaignUse").is_some_and(|x| x.eq_ignore_ascii_case("known")),
                    }),
                    None => self.stats.skipped_records += 1,
                }
            }
            return;
        }
        // NVD 2.0 API page or feed file.
        if let Some(arr) = v.get("vulnerabilities").and_then(Value::as_array) {
            for item in arr {
                match item.get("cve").and_then(parse_nvd_cve) {
                    Some(r) => self.add_cve(r),
                    None => self.stats.skipped_records += 1,
                }
            }
            return;
        }
        // NVD 1.1 feed (CVE_Items) kept for old mirrors.
        if let Some(arr) = v.get("CVE_Items").and_then(Value::as_array) {
            for item in arr {
                let Some(id) = item.pointer("/cve/CVE_data_meta/ID").and_then(Value::as_str) else {
                    self.stats.skipped_records += 1;
                    continue;
                };
                let mut matches = Vec::new();
                if let Some(c) = item.get("configurations") {
                    collect_nodes(c, &mut matches, 0);
                }
                let cvss = item
                    .pointer("/impact/baseMetricV3/cvssV3/baseScore")
                    .or_else(|| item.pointer("/impact/baseMetricV2/cvssV2/baseScore"))
                    .and_then(Value::as_f64);
                self.add_cve(CveRecord { id: id.to_string(), cvss, description: String::new(), matches });
            }
            return;
        }
        if v.get("cveMetadata").is_some() {
            match parse_cve5(v) {
                Some(r) => self.add_cve(r),
                None => self.stats.skipped_records += 1,
            }
            return;
        }
        if v.get("configurations").is_some() && v.get("id").is_some() {
            match parse_nvd_cve(v) {
                Some(r) => self.add_cve(r),
                None => self.stats.skipped_records += 1,
            }
            return;
        }
        if v.get("affected").is_some() && v.get("id").is_some() {
            match parse_osv(v) {
                Some(r) => self.add_cve(r),
                None => self.stats.skipped_records += 1,
            }
            return;
        }
        if let Some(arr) = v.as_array() {
            // A JSON array of OSV / NVD records.
            for x in arr.iter().take(1_000_000) {
                self.load_json(x);
            }
            return;
        }
        self.stats.skipped_records += 1;
    }

    /// Loads a file or a directory tree of NVD/CVE5/KEV/OSV JSON (`.json`, `.json.gz`) and EPSS
    /// CSV (`.csv`, `.csv.gz`) files. Unknown files are counted as skipped.
    pub fn load_path(&mut self, path: &Path) -> Result<(), VulnDbError> {
        let mut files = Vec::new();
        walk(path, &mut files, 0);
        for f in files.into_iter().take(MAX_FILES) {
            self.load_file(&f)?;
        }
        Ok(())
    }

    fn load_file(&mut self, path: &Path) -> Result<(), VulnDbError> {
        let name = path.to_string_lossy().to_ascii_lowercase();
        let ps = path.display().to_string();
        let is_json = name.ends_with(".json") || name.ends_with(".json.gz");
        let is_csv = name.ends_with(".csv") || name.ends_with(".csv.gz");
        if !is_json && !is_csv {
            self.stats.skipped_files += 1;
            return Ok(());
        }
        let meta = std::fs::metadata(path).map_err(|e| VulnDbError::Io { path: ps.clone(), source: e })?;
        if meta.len() > MAX_FILE {
            return Err(VulnDbError::TooLarge { path: ps, size: meta.len() });
        }
        let raw = std::fs::read(path).map_err(|e| VulnDbError::Io { path: ps.clone(), source: e })?;
        let bytes = if name.ends_with(".gz") {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(raw.as_slice())
                .take(MAX_FILE)
                .read_to_end(&mut out)
                .map_err(|e| VulnDbError::Io { path: ps.clone(), source: e })?;
            out
        } else {
            raw
        };
        self.stats.files += 1;
        if is_csv {
            let text = String::from_utf8_lossy(&bytes);
            let (_, bad) = parse_epss_csv(&text, &mut self.epss);
            self.stats.epss = self.epss.len();
            self.stats.skipped_records += bad;
            return Ok(());
        }
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| VulnDbError::Json { path: ps, source: e })?;
        self.load_json(&v);
        Ok(())
    }

    /// Every CVE whose vulnerable CPE entries cover `vendor:product` at `ver`. `distro` is the
    /// distribution package revision seen next to the version ("Debian-2+deb12u3"): when present
    /// the distribution may have backported the fix, so matches are marked unconfirmed.
    pub fn match_product(&self, vendor: &str, product: &str, ver: &str, distro: Option<&str>) -> Vec<VulnMatch> {
        let mut out = Vec::new();
        if !version::looks_like_version(ver) {
            return out;
        }
        let Some(idx) = self.by_product.get(&product.to_ascii_lowercase()) else { return out };
        for &i in idx {
            let Some(rec) = self.cves.get(i) else { continue };
            let hit = rec.matches.iter().find(|m| {
                // An unversioned "any version" entry is too weak to claim a specific CVE.
                (m.has_range() || m.criteria.version != "*")
                    && m.criteria.part != "h"
                    && same_product(&m.criteria.vendor, &m.criteria.product, vendor, product)
                    && m.matches_version(ver)
            });
            let Some(m) = hit else { continue };
            let kev = self.kev.get(&rec.id);
            let epss = self.epss.get(&rec.id);
            let (confirmed, reason) = match distro {
                Some(d) => (
                    false,
                    Some(format!(
                        "distribution package revision \"{d}\" present: the distribution may have backported the fix, so the upstream version alone cannot prove vulnerability"
                    )),
                ),
                None => (true, None),
            };
            out.push(VulnMatch {
                cve: rec.id.clone(),
                cvss: rec.cvss,
                epss: epss.map(|e| e.epss),
                epss_percentile: epss.map(|e| e.percentile),
                kev: kev.is_some(),
                ransomware: kev.is_some_and(|k| k.ransomware),
                kev_due: kev.map(|k| k.due_date.clone()),
                criteria: describe(m),
                confirmed,
                unconfirmed_reason: reason,
            });
        }
        out.sort_by(|a, b| risk_cmp(b, a).then_with(|| a.cve.cmp(&b.cve)));
        out
    }
}

fn describe(m: &CpeMatch) -> String {
    let mut s = m.criteria.to_cpe23();
    for (label, v) in [(">=", &m.start_including), (">", &m.start_excluding), ("<=", &m.end_including), ("<", &m.end_excluding)] {
        if let Some(v) = v {
            s.push_str(&format!(" {label}{v}"));
        }
    }
    s
}

/// Risk order of two matches: known exploited (ransomware first) before anything else, then
/// EPSS × CVSS.
pub fn risk_cmp(a: &VulnMatch, b: &VulnMatch) -> Ordering {
    (a.kev, a.ransomware)
        .cmp(&(b.kev, b.ransomware))
        .then_with(|| risk_value(a).total_cmp(&risk_value(b)))
        .then_with(|| a.confirmed.cmp(&b.confirmed))
}

/// EPSS × CVSS on 0–1. Without EPSS a CVE counts as a modest 0.05 exploitation chance so that
/// severity still orders it.
pub fn risk_value(m: &VulnMatch) -> f64 {
    let cvss = m.cvss.unwrap_or(5.0) / 10.0;
    let epss = m.epss.unwrap_or(0.05);
    cvss * (0.2 + 0.8 * epss.sqrt())
}

fn walk(p: &Path, out: &mut Vec<std::path::PathBuf>, depth: u32) {
    if depth > 16 || out.len() >= MAX_FILES {
        return;
    }
    if p.is_dir() {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            walk(&e, out, depth + 1);
        }
    } else {
        out.push(p.to_path_buf());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(crit: &str, si: Option<&str>, ee: Option<&str>, ei: Option<&str>) -> CpeMatch {
        CpeMatch {
            vulnerable: true,
            criteria: Cpe::parse(crit).unwrap(),
            start_including: si.map(String::from),
            start_excluding: None,
            end_including: ei.map(String::from),
            end_excluding: ee.map(String::from),
        }
    }

    #[test]
    fn ranges_and_exact_versions() {
        let r = m("cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*", Some("8.6"), Some("9.8"), None);
        assert!(r.matches_version("8.6p1"));
        assert!(r.matches_version("9.7p1"));
        assert!(!r.matches_version("9.8p1"));
        assert!(!r.matches_version("8.5p1"));
        let e = m("cpe:2.3:a:openbsd:openssh:8.5:p1:*:*:*:*:*:*", None, None, None);
        assert!(e.matches_version("8.5p1"));
        assert!(!e.matches_version("8.5p2"));
        let dash = m("cpe:2.3:a:openbsd:openssh:9.8:-:*:*:*:*:*:*", None, None, None);
        assert!(dash.matches_version("9.8"));
        assert!(!dash.matches_version("9.8p1"));
        let any_upd = m("cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*", None, None, None);
        assert!(any_upd.matches_version("2.4.49"));
        assert!(!any_upd.matches_version("2.4.50"));
        let incl = m("cpe:2.3:a:exim:exim:*:*:*:*:*:*:*:*", Some("4.87"), None, Some("4.91"));
        assert!(
            incl.matches_version("4.91") && incl.matches_version("4.87") && !incl.matches_version("4.92") && !incl.matches_version("4.86")
        );
    }

    #[test]
    fn epss_csv_with_comment_header() {
        let mut map = HashMap::new();
        let (ok, bad) = parse_epss_csv("#model_version:x\ncve,epss,percentile\nCVE-1-1,0.5,0.9\nbroken\nCVE-2-2,7,0.1\n", &mut map);
        assert_eq!((ok, bad), (1, 2));
        assert_eq!(map["CVE-1-1"].epss, 0.5);
    }

    #[test]
    fn cve5_and_osv_records_match() {
        let cve5: Value = serde_json::from_str(
            r#"{"dataType":"CVE_RECORD","cveMetadata":{"cveId":"CVE-2099-0001"},
          "containers":{"cna":{"affected":[{"vendor":"Acme","product":"Widget Server","versions":[
            {"version":"2.0","lessThan":"2.4.1","status":"affected","versionType":"semver"},
            {"version":"3.1","status":"affected"}]}],
          "metrics":[{"cvssV3_1":{"baseScore":8.8}}]}}}"#,
        )
        .unwrap();
        let osv: Value = serde_json::from_str(
            r#"{"id":"GHSA-x","aliases":["CVE-2099-0002"],"affected":[{"package":{"ecosystem":"PyPI","name":"widget"},
          "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.5"}]}]}]}"#,
        )
        .unwrap();
        let mut db = VulnDb::new();
        db.load_json(&cve5);
        db.load_json(&osv);
        assert_eq!(db.len(), 2);
        assert_eq!(db.cve("CVE-2099-0001").unwrap().cvss, Some(8.8));
        let hit = |v: &str| db.match_product("acme", "widget_server", v, None).len();
        assert_eq!((hit("2.0"), hit("2.4.0"), hit("2.4.1"), hit("1.9"), hit("3.1"), hit("3.2")), (1, 1, 0, 0, 1, 0));
        assert_eq!(db.match_product("*", "widget", "1.4", None).len(), 1);
        assert!(db.match_product("*", "widget", "1.5", None).is_empty());
    }

    #[test]
    fn vendor_alias_joins_nginx_records() {
        assert!(same_product("f5", "nginx", "nginx", "nginx"));
        assert!(!same_product("f5", "nginx", "acme", "nginx"));
        assert!(!same_product("f5", "nginx", "f5", "big-ip"));
    }
}
