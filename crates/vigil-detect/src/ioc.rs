//! `ioc_match`: traffic touching known-bad indicators — addresses and networks, domains (and
//! their subdomains), client TLS fingerprints (JA4, JA3) and certificate hashes — loaded from
//! files: CSV (an indicator column, optionally a type and a description column, or one value a
//! line), STIX 2.1 bundles (indicator patterns and bare cyber-observable objects) and MISP JSON
//! (events, attributes and objects). Values may be defanged (`1.2.3[.]4`, `hxxp://`).
//!
//! The loaders are pure functions over bytes ([`IocSet::parse`]); every value comes from an
//! untrusted feed, so malformed rows are counted in [`IocSet::skipped`], never fatal.

use crate::Detector;
use crate::front::Rec;
use crate::util::{self, Tuning};
use ipnet::IpNet;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use vigil_enrich::Context;
use vigil_model::{Conn, Finding, FindingKind, Severity, Timestamp};

/// Largest indicator file read (bytes).
pub const MAX_FILE: u64 = 256 * 1024 * 1024;
/// Most indicators kept in one set.
pub const MAX_INDICATORS: usize = 10_000_000;

#[derive(Debug, thiserror::Error)]
pub enum IocError {
    #[error("cannot read indicator file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("indicator file {path} is larger than {MAX_FILE} bytes")]
    TooLarge { path: String },
    #[error("{source_name}: not valid JSON: {msg}")]
    Json { source_name: String, msg: String },
    #[error("{source_name}: {msg}")]
    Format { source_name: String, msg: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IocKind {
    Ip,
    Network,
    Domain,
    Ja4,
    Ja3,
    CertSha256,
    CertSha1,
}

impl IocKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IocKind::Ip => "ip",
            IocKind::Network => "network",
            IocKind::Domain => "domain",
            IocKind::Ja4 => "ja4",
            IocKind::Ja3 => "ja3",
            IocKind::CertSha256 => "cert_sha256",
            IocKind::CertSha1 => "cert_sha1",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    pub kind: IocKind,
    pub value: String,
    pub description: String,
    pub source: String,
}

/// A set of indicators, indexed for matching.
#[derive(Debug, Default, Clone)]
pub struct IocSet {
    entries: Vec<Indicator>,
    ips: HashMap<IpAddr, usize>,
    nets: Vec<(IpNet, usize)>,
    domains: HashMap<String, usize>,
    fps: HashMap<String, usize>,
    certs: HashMap<String, usize>,
    /// Rows or values that were not usable indicators.
    pub skipped: u64,
}

/// Undoes common defanging: `[.]`, `(.)`, `[dot]`, `hxxp`, `[:]`.
pub fn refang(s: &str) -> String {
    s.trim()
        .replace("[.]", ".")
        .replace("(.)", ".")
        .replace("[dot]", ".")
        .replace("[:]", ":")
        .replace("hxxps://", "https://")
        .replace("hxxp://", "http://")
}

fn host_of_url(u: &str) -> Option<&str> {
    let rest = u.split_once("://").map_or(u, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if host.starts_with('[') { host.trim_start_matches('[').split(']').next()? } else { host.split(':').next()? };
    (!host.is_empty()).then_some(host)
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn looks_like_ja4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('_').collect();
    parts.len() == 3 && parts.first().is_some_and(|p| p.len() == 10 && p.starts_with(['t', 'q', 'd'])) && s.len() <= 64
}

fn valid_domain(s: &str) -> bool {
    s.len() <= 253
        && s.contains('.')
        && !s.contains('@')
        && s.split('.').all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

impl IocSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[Indicator] {
        &self.entries
    }

    /// Reads an indicator file, judging its format from the content.
    pub fn load(path: &Path) -> Result<IocSet, IocError> {
        let p = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|source| IocError::Io { path: p.clone(), source })?;
        if meta.len() > MAX_FILE {
            return Err(IocError::TooLarge { path: p });
        }
        let bytes = std::fs::read(path).map_err(|source| IocError::Io { path: p.clone(), source })?;
        IocSet::parse(&bytes, &p)
    }

    /// Parses indicators from bytes: JSON (STIX 2.1 bundle or MISP) or CSV/plain lines.
    pub fn parse(bytes: &[u8], source_name: &str) -> Result<IocSet, IocError> {
        let text = String::from_utf8_lossy(bytes);
        let t = text.trim_start_matches('\u{feff}').trim_start();
        if t.starts_with('{') || t.starts_with('[') {
            let v: Value = serde_json::from_str(t).map_err(|e| IocError::Json { source_name: source_name.into(), msg: e.to_string() })?;
            let is_stix = v.get("type").and_then(Value::as_str) == Some("bundle") || v.get("objects").is_some();
            let mut s = IocSet::new();
            if is_stix {
                s.add_stix(&v, source_name);
            } else {
                s.add_misp(&v, source_name, 0);
            }
            return Ok(s);
        }
        Ok(IocSet::parse_csv(t, source_name))
    }

    /// Adds one indicator of a known kind (the value is refanged and normalised). Returns
    /// whether it was usable.
    pub fn add(&mut self, kind: IocKind, value: &str, description: &str, source: &str) -> bool {
        if self.entries.len() >= MAX_INDICATORS {
            self.skipped += 1;
            return false;
        }
        let v = refang(value);
        let (kind, norm) = match kind {
            IocKind::Ip | IocKind::Network => match (v.parse::<IpAddr>(), util_parse_net(&v)) {
                (Ok(ip), _) => (IocKind::Ip, ip.to_string()),
                (Err(_), Some(n)) => (IocKind::Network, n.to_string()),
                _ => {
                    self.skipped += 1;
                    return false;
                }
            },
            IocKind::Domain => {
                let d = if v.contains("://") { host_of_url(&v).unwrap_or("").to_string() } else { v.clone() };
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if let Ok(ip) = d.parse::<IpAddr>() {
                    (IocKind::Ip, ip.to_string())
                } else if valid_domain(&d) {
                    (IocKind::Domain, d)
                } else {
                    self.skipped += 1;
                    return false;
                }
            }
            IocKind::CertSha256 | IocKind::CertSha1 => {
                let h: String = v.chars().filter(|c| *c != ':').collect::<String>().to_ascii_lowercase();
                match (is_hex(&h, 64), is_hex(&h, 40)) {
                    (true, _) => (IocKind::CertSha256, h),
                    (_, true) => (IocKind::CertSha1, h),
                    _ => {
                        self.skipped += 1;
                        return false;
                    }
                }
            }
            IocKind::Ja4 | IocKind::Ja3 => {
                let f = v.to_ascii_lowercase();
                if f.is_empty() || f.len() > 128 {
                    self.skipped += 1;
                    return false;
                }
                (kind, f)
            }
        };
        let i = self.entries.len();
        let slot = match kind {
            IocKind::Ip => norm.parse::<IpAddr>().ok().map(|ip| self.ips.entry(ip).or_insert(i)),
            IocKind::Network => {
                if let Some(n) = util_parse_net(&norm) {
                    self.nets.push((n, i));
                }
                None
            }
            IocKind::Domain => Some(self.domains.entry(norm.clone()).or_insert(i)),
            IocKind::Ja4 | IocKind::Ja3 => Some(self.fps.entry(norm.clone()).or_insert(i)),
            IocKind::CertSha256 | IocKind::CertSha1 => Some(self.certs.entry(norm.clone()).or_insert(i)),
        };
        if slot.is_some_and(|s| *s != i) {
            // Already known: keep the first description.
            return true;
        }
        self.entries.push(Indicator {
            kind,
            value: norm,
            description: description.chars().take(300).collect(),
            source: source.to_string(),
        });
        true
    }

    /// Adds a value whose kind is judged from its shape (or from a type label when given).
    pub fn add_guess(&mut self, type_label: &str, value: &str, description: &str, source: &str) -> bool {
        let t = type_label.to_ascii_lowercase();
        let v = refang(value);
        let kind = if t.contains("ja4") {
            Some(IocKind::Ja4)
        } else if t.contains("ja3") {
            Some(IocKind::Ja3)
        } else if (t.contains("cert") || t.contains("x509"))
            && (t.contains("sha1") || t.contains("sha-1") || t.contains("sha256") || t.contains("sha-256") || t.contains("fingerprint"))
        {
            Some(IocKind::CertSha256)
        } else if t.contains("serial")
            || t.contains("email")
            || t.contains("md5")
            || t.contains("file")
            || (t.contains("sha") && !t.is_empty())
        {
            None
        } else if t.contains("ip") || t.contains("cidr") || t.contains("network") {
            Some(IocKind::Ip)
        } else if t.contains("domain") || t.contains("host") || t.contains("fqdn") || t.contains("url") || t.contains("uri") {
            Some(IocKind::Domain)
        } else if t.is_empty() || t == "indicator" || t == "ioc" {
            // Shape only.
            if v.parse::<IpAddr>().is_ok() || util_parse_net(&v).is_some() {
                Some(IocKind::Ip)
            } else if is_hex(&v.replace(':', "").to_ascii_lowercase(), 64) || is_hex(&v.replace(':', "").to_ascii_lowercase(), 40) {
                Some(IocKind::CertSha256)
            } else if looks_like_ja4(&v) {
                Some(IocKind::Ja4)
            } else if v.contains("://") || valid_domain(&v.to_ascii_lowercase()) {
                Some(IocKind::Domain)
            } else {
                None
            }
        } else {
            None
        };
        match kind {
            Some(k) => self.add(k, &v, description, source),
            None => {
                self.skipped += 1;
                false
            }
        }
    }

    /// CSV with a header naming an indicator/value column (and optionally type and description),
    /// or headerless lines of one value (extra columns are type, description). `#` comments; a
    /// commented header (`# Listingdate,SHA1,Listingreason`, as abuse.ch publishes) counts as
    /// the header. A value column named after what it holds (`sha1`, `ja4`, `dst_ip`,
    /// `domain`, …) gives the type when there is no type column.
    pub fn parse_csv(text: &str, source: &str) -> IocSet {
        let mut s = IocSet::new();
        let mut cols: Option<CsvCols> = None;
        let mut seen_data = false;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(c) = line.strip_prefix('#') {
                if cols.is_none() && !seen_data {
                    cols = csv_header(&split_csv_line(c.trim()));
                }
                continue;
            }
            let f = split_csv_line(line);
            if cols.is_none()
                && !seen_data
                && let Some(h) = csv_header(&f)
            {
                cols = Some(h);
                continue;
            }
            seen_data = true;
            let c = cols.unwrap_or(CsvCols { value: 0, kind: Some(1), desc: Some(2), implied: "" });
            let Some(value) = f.get(c.value) else {
                s.skipped += 1;
                continue;
            };
            let t = c.kind.and_then(|i| f.get(i)).map_or(c.implied, String::as_str);
            let d = c.desc.and_then(|i| f.get(i)).map_or("", String::as_str);
            // Headerless files: a second column that is not a type label is just ignored.
            let t = if cols.is_none() && !t.chars().all(|c| c.is_ascii_alphanumeric() || " -_|".contains(c)) { "" } else { t };
            s.add_guess(t, value, d, source);
        }
        s
    }

    fn add_stix(&mut self, v: &Value, source: &str) {
        let Some(objs) = v.get("objects").and_then(Value::as_array) else {
            self.skipped += 1;
            return;
        };
        for o in objs.iter().take(MAX_INDICATORS) {
            let ty = o.get("type").and_then(Value::as_str).unwrap_or("");
            let desc = o.get("name").or_else(|| o.get("description")).and_then(Value::as_str).unwrap_or("");
            match ty {
                "indicator" => {
                    if o.get("pattern_type").and_then(Value::as_str).is_some_and(|t| t != "stix") {
                        self.skipped += 1;
                        continue;
                    }
                    let Some(p) = o.get("pattern").and_then(Value::as_str) else {
                        self.skipped += 1;
                        continue;
                    };
                    let comps = stix_comparisons(p);
                    if comps.is_empty() {
                        self.skipped += 1;
                    }
                    for (path, val) in comps {
                        let path = path.to_ascii_lowercase();
                        let kind = if path.starts_with("ipv4-addr:") || path.starts_with("ipv6-addr:") {
                            "ip"
                        } else if path.starts_with("domain-name:") || path.starts_with("url:") {
                            "domain"
                        } else if path.starts_with("x509-certificate:hashes") {
                            "x509 fingerprint"
                        } else if path.contains("ja4") {
                            "ja4"
                        } else if path.contains("ja3") {
                            "ja3"
                        } else {
                            self.skipped += 1;
                            continue;
                        };
                        self.add_guess(kind, &val, desc, source);
                    }
                }
                "ipv4-addr" | "ipv6-addr" | "domain-name" | "url" => {
                    if let Some(val) = o.get("value").and_then(Value::as_str) {
                        self.add_guess(if ty == "domain-name" || ty == "url" { "domain" } else { "ip" }, val, desc, source);
                    }
                }
                "x509-certificate" => {
                    if let Some(h) = o.get("hashes").and_then(Value::as_object) {
                        for val in h.values().filter_map(Value::as_str) {
                            self.add_guess("x509 fingerprint", val, desc, source);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn add_misp(&mut self, v: &Value, source: &str, depth: u32) {
        if depth > 8 {
            self.skipped += 1;
            return;
        }
        match v {
            Value::Array(a) => {
                for x in a.iter().take(MAX_INDICATORS) {
                    self.add_misp(x, source, depth + 1);
                }
            }
            Value::Object(o) => {
                for k in ["response", "Event", "Object"] {
                    if let Some(x) = o.get(k) {
                        self.add_misp(x, source, depth + 1);
                    }
                }
                if let Some(attrs) = o.get("Attribute") {
                    let list: Vec<&Value> = match attrs {
                        Value::Array(a) => a.iter().collect(),
                        other => vec![other],
                    };
                    for a in list.into_iter().take(MAX_INDICATORS) {
                        self.add_misp_attribute(a, source);
                    }
                }
            }
            _ => {}
        }
    }

    fn add_misp_attribute(&mut self, a: &Value, source: &str) {
        let ty = a.get("type").and_then(Value::as_str).unwrap_or("");
        let Some(val) = a.get("value").and_then(Value::as_str) else {
            self.skipped += 1;
            return;
        };
        let desc = a.get("comment").and_then(Value::as_str).unwrap_or("");
        match ty {
            "ip-src" | "ip-dst" => {
                self.add_guess("ip", val, desc, source);
            }
            "ip-src|port" | "ip-dst|port" => {
                self.add_guess("ip", val.split('|').next().unwrap_or(""), desc, source);
            }
            "domain" | "hostname" | "url" | "uri" => {
                self.add_guess("domain", val, desc, source);
            }
            "domain|ip" | "hostname|port" => {
                let mut it = val.split('|');
                self.add_guess("domain", it.next().unwrap_or(""), desc, source);
                if ty == "domain|ip" {
                    self.add_guess("ip", it.next().unwrap_or(""), desc, source);
                }
            }
            "x509-fingerprint-sha256" | "x509-fingerprint-sha1" => {
                self.add_guess("x509 fingerprint", val, desc, source);
            }
            t if t.contains("ja4") => {
                self.add_guess("ja4", val, desc, source);
            }
            "ja3-fingerprint-md5" => {
                self.add_guess("ja3", val, desc, source);
            }
            _ => self.skipped += 1,
        }
    }

    /// Adds every indicator of `other`.
    pub fn merge(&mut self, other: &IocSet) {
        for e in &other.entries {
            self.add(e.kind, &e.value, &e.description, &e.source);
        }
        self.skipped += other.skipped;
    }

    pub fn match_ip(&self, ip: IpAddr) -> Option<&Indicator> {
        self.ip_idx(ip).and_then(|i| self.entries.get(i))
    }

    /// The name or any parent domain listed.
    pub fn match_domain(&self, name: &str) -> Option<&Indicator> {
        self.domain_idx(name).and_then(|i| self.entries.get(i))
    }

    pub fn match_fingerprint(&self, fp: &str) -> Option<&Indicator> {
        self.fp_idx(fp).and_then(|i| self.entries.get(i))
    }

    pub fn match_cert(&self, hash: &str) -> Option<&Indicator> {
        self.cert_idx(hash).and_then(|i| self.entries.get(i))
    }

    fn ip_idx(&self, ip: IpAddr) -> Option<usize> {
        self.ips.get(&ip).or_else(|| self.nets.iter().find(|(n, _)| n.contains(&ip)).map(|(_, i)| i)).copied()
    }

    fn domain_idx(&self, name: &str) -> Option<usize> {
        if self.domains.is_empty() {
            return None;
        }
        let n = name.trim_end_matches('.').to_ascii_lowercase();
        let mut rest = n.as_str();
        for _ in 0..128 {
            if let Some(&i) = self.domains.get(rest) {
                return Some(i);
            }
            match rest.split_once('.') {
                Some((_, r)) if r.contains('.') => rest = r,
                _ => break,
            }
        }
        None
    }

    fn fp_idx(&self, fp: &str) -> Option<usize> {
        if self.fps.is_empty() {
            return None;
        }
        self.fps.get(&fp.to_ascii_lowercase()).copied()
    }

    fn cert_idx(&self, hash: &str) -> Option<usize> {
        if self.certs.is_empty() {
            return None;
        }
        let h: String = hash.chars().filter(|c| *c != ':').collect::<String>().to_ascii_lowercase();
        self.certs.get(&h).copied()
    }
}

fn util_parse_net(s: &str) -> Option<IpNet> {
    s.trim().parse::<IpNet>().ok().map(|n| n.trunc())
}

/// Column roles of a CSV header.
#[derive(Clone, Copy, Debug)]
struct CsvCols {
    value: usize,
    kind: Option<usize>,
    desc: Option<usize>,
    /// Type implied by the value column's name, used when there is no type column.
    implied: &'static str,
}

/// The roles of a header line's columns, or `None` when the line names no value column.
fn csv_header(f: &[String]) -> Option<CsvCols> {
    let lower: Vec<String> = f.iter().map(|x| x.trim().to_ascii_lowercase().replace([' ', '-'], "_")).collect();
    let implied_by = |name: &str| -> Option<&'static str> {
        Some(match name {
            "indicator" | "value" | "ioc" | "observable" | "ioc_value" => "",
            "sha1" | "sha1_fingerprint" | "certificate_sha1" | "cert_sha1" | "x509_sha1" => "x509-fingerprint-sha1",
            "sha256" | "sha256_fingerprint" | "certificate_sha256" | "cert_sha256" | "x509_sha256" => "x509-fingerprint-sha256",
            "ja4" | "ja4_fingerprint" => "ja4",
            "ja3" | "ja3_md5" | "ja3_fingerprint" => "ja3",
            "ip" | "ip_address" | "ipaddress" | "dst_ip" | "dstip" | "ipv4" | "ipv6" | "address" | "cidr" | "network" => "ip",
            "domain" | "hostname" | "host" | "fqdn" | "domain_name" => "domain",
            "url" | "uri" => "url",
            _ => return None,
        })
    };
    // A generic value column wins over a named one (an "indicator,type,ip" file is typed).
    let (value, implied) =
        lower.iter().enumerate().filter_map(|(i, n)| implied_by(n).map(|t| (i, t))).min_by_key(|(_, t)| !t.is_empty())?;
    let kind = lower.iter().position(|x| matches!(x.as_str(), "type" | "kind" | "indicator_type" | "ioc_type"));
    let desc = lower.iter().position(|x| {
        matches!(
            x.as_str(),
            "description"
                | "comment"
                | "desc"
                | "tags"
                | "listingreason"
                | "reason"
                | "malware"
                | "threat"
                | "threat_type"
                | "malware_printable"
        )
    });
    Some(CsvCols { value, kind, desc, implied })
}

/// Splits one CSV line, honouring double quotes ("" is a quote inside a quoted field).
fn split_csv_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut q = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, q) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => q = !q,
            (',', false) => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
        if out.len() > 64 {
            break;
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// `(object path, value)` for every `path = 'value'` comparison in a STIX pattern.
fn stix_comparisons(p: &str) -> Vec<(String, String)> {
    let b = p.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && out.len() < 1000 {
        if b.get(i) != Some(&b'\'') {
            i += 1;
            continue;
        }
        // Quoted value with \' escapes.
        let mut j = i + 1;
        let mut val = Vec::new();
        while let Some(&c) = b.get(j) {
            if c == b'\\' {
                if let Some(&n) = b.get(j + 1) {
                    val.push(n);
                }
                j += 2;
                continue;
            }
            if c == b'\'' {
                break;
            }
            val.push(c);
            j += 1;
        }
        // Look back for "=" (or LIKE / MATCHES are not exact: skip them) and the path.
        let before = p.get(..i).unwrap_or("").trim_end();
        if let Some(lhs) = before.strip_suffix('=') {
            let lhs = lhs.trim_end().trim_end_matches('!');
            if !before.ends_with("!=") {
                let start = lhs.rfind(|c: char| c.is_whitespace() || c == '[' || c == '(').map_or(0, |k| k + 1);
                let path = lhs.get(start..).unwrap_or("");
                // Hash keys are themselves quoted: hashes.'SHA-256'. Keep the path up to them.
                let path = if path.is_empty() { lhs.trim_end_matches('\'').to_string() } else { path.to_string() };
                if !path.is_empty() && !path.ends_with('.') {
                    out.push((path, String::from_utf8_lossy(&val).into_owned()));
                }
            }
        }
        i = j + 1;
    }
    // Values of hash keys (x509-certificate:hashes.'SHA-256' = '…') appear as a quoted key and
    // then the value; the key itself is not followed by "=", so it never becomes a value.
    out
}

#[derive(Debug, Default)]
struct Hit {
    conns: u64,
    established: u64,
    bytes: u64,
    first: Timestamp,
    last: Timestamp,
    peers: BTreeSet<IpAddr>,
    matched_as: BTreeSet<&'static str>,
}

/// The IOC detector.
#[derive(Debug, Default)]
pub struct IocDetector {
    set: Arc<IocSet>,
    tuning: Tuning,
    hits: BTreeMap<(IpAddr, usize), Hit>,
    pub dropped: u64,
}

impl IocDetector {
    pub fn new(set: Arc<IocSet>, tuning: Tuning) -> Self {
        IocDetector { set, tuning, ..Default::default() }
    }

    fn record(&mut self, host: IpAddr, ind: usize, how: &'static str, c: &Conn) {
        if !self.hits.contains_key(&(host, ind)) && self.hits.len() >= 1_000_000 {
            self.dropped += 1;
            return;
        }
        let h = self.hits.entry((host, ind)).or_insert_with(|| Hit { first: c.ts, last: c.end(), ..Default::default() });
        h.conns += 1;
        if c.conn_state.established() && c.resp_bytes.unwrap_or(0) > 0 {
            h.established += 1;
        }
        h.bytes = h.bytes.saturating_add(util::sent_bytes(c)).saturating_add(util::recv_bytes(c));
        h.first = h.first.min(c.ts);
        h.last = h.last.max(c.end());
        if h.peers.len() < 50 {
            h.peers.insert(if c.orig_h == host { c.resp_h } else { c.orig_h });
        }
        h.matched_as.insert(how);
    }
}

impl Detector for IocDetector {
    fn name(&self) -> &'static str {
        "ioc_match"
    }

    fn observe(&mut self, c: &Conn, ctx: &Context) {
        self.observe_rec(&Rec::standalone(c, ctx));
    }

    fn observe_rec(&mut self, r: &Rec<'_>) {
        let c = r.conn;
        if self.set.is_empty() {
            return;
        }
        let host = if r.orig_internal || !r.resp_internal { c.orig_h } else { c.resp_h };
        let set = Arc::clone(&self.set);
        let mut found: Vec<(usize, &'static str)> = Vec::new();
        let mut push = |ind: Option<usize>, how: &'static str| {
            if let Some(i) = ind {
                found.push((i, how));
            }
        };
        let other = if host == c.orig_h { c.resp_h } else { c.orig_h };
        push(set.ip_idx(other), "address");
        if let Some(n) = c.server_name() {
            push(set.domain_idx(n), "server name");
        }
        for d in &c.app.dns {
            if let Some(q) = d.query.as_deref() {
                push(set.domain_idx(q), "dns query");
            }
            for a in &d.answers {
                match a.parse::<IpAddr>() {
                    Ok(ip) => push(set.ip_idx(ip), "dns answer"),
                    Err(_) => push(set.domain_idx(a), "dns answer"),
                }
            }
        }
        if let Some(t) = &c.app.tls {
            if let Some(j) = t.ja4.as_deref() {
                push(set.fp_idx(j), "ja4");
            }
            if let Some(j) = t.ja3.as_deref() {
                push(set.fp_idx(j), "ja3");
            }
            if let Some(cert) = &t.cert {
                push(set.cert_idx(&cert.sha256), "certificate");
                if !cert.sha1.is_empty() {
                    push(set.cert_idx(&cert.sha1), "certificate");
                }
            }
            for h in &t.cert_chain_sha256 {
                push(set.cert_idx(h), "certificate");
            }
        }
        found.sort_unstable();
        found.dedup();
        for (i, how) in found {
            self.record(host, i, how, c);
        }
    }

    fn finish(&mut self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        for ((host, i), h) in &self.hits {
            let Some(ind) = self.set.entries.get(*i) else { continue };
            let base: f64 = match ind.kind {
                IocKind::CertSha256 | IocKind::CertSha1 => 0.85,
                IocKind::Domain => 0.8,
                IocKind::Ip | IocKind::Network => 0.75,
                IocKind::Ja4 => 0.6,
                IocKind::Ja3 => 0.5,
            };
            let dns_only = h.matched_as.iter().all(|m| m.starts_with("dns"));
            let mut score = if dns_only { base - 0.1 } else { base };
            if h.established > 0 && !dns_only {
                score += 0.1;
            }
            if self.tuning.allow_domains.iter().any(|d| ind.kind == IocKind::Domain && util::domain_is_under(&ind.value, d)) {
                continue;
            }
            let score = util::round3(util::clamp01(score));
            let id = Finding::stable_id(FindingKind::IocMatch, &[&host.to_string(), ind.kind.as_str(), &ind.value]);
            if self.tuning.is_suppressed(&id) {
                continue;
            }
            let summary = format!(
                "{host} {} {} {} listed as malicious in {}{} ({} connection(s){}).",
                if dns_only { "looked up" } else { "communicated with" },
                ind.kind.as_str().replace('_', " "),
                ind.value,
                ind.source,
                if ind.description.is_empty() { String::new() } else { format!(": {}", ind.description) },
                h.conns,
                if h.established > 0 { format!(", {} with data exchanged", h.established) } else { String::new() },
            );
            let mut dst: Vec<String> = h.peers.iter().map(ToString::to_string).collect();
            if !dst.contains(&ind.value) {
                dst.push(ind.value.clone());
            }
            let mut attack = vec!["T1071".to_string()];
            if matches!(ind.kind, IocKind::CertSha256 | IocKind::CertSha1 | IocKind::Ja4 | IocKind::Ja3) {
                attack.push("T1573".into());
            }
            out.push(Finding {
                id,
                kind: FindingKind::IocMatch,
                severity: Severity::from_score(score),
                score,
                src: host.to_string(),
                dst,
                path: Vec::new(),
                first_seen: util::site_time(ctx, h.first),
                last_seen: util::site_time(ctx, h.last),
                attack,
                summary,
                evidence: json!({
                    "indicator": ind.value,
                    "indicator_type": ind.kind.as_str(),
                    "description": ind.description,
                    "feed": ind.source,
                    "matched_as": h.matched_as,
                    "connections": h.conns,
                    "established": h.established,
                    "bytes": h.bytes,
                }),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stix_pattern_comparisons() {
        let c = stix_comparisons("[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'evil.example' AND url:value != 'x']");
        assert_eq!(c, vec![("ipv4-addr:value".into(), "198.51.100.7".into()), ("domain-name:value".into(), "evil.example".into())]);
        let c = stix_comparisons("[x509-certificate:hashes.'SHA-256' = 'AB:CD']");
        assert_eq!(c.len(), 1);
        assert!(c[0].0.starts_with("x509-certificate:hashes"));
        assert_eq!(c[0].1, "AB:CD");
        assert!(stix_comparisons("[file:name = 'unterminated").len() <= 1);
        assert!(stix_comparisons("'''''").is_empty());
    }

    #[test]
    fn csv_lines_split_with_quotes() {
        assert_eq!(split_csv_line(r#""a,b",c,"d""e""#), vec!["a,b", "c", "d\"e"]);
    }

    #[test]
    fn refanged_values_and_urls() {
        assert_eq!(refang("1.2.3[.]4"), "1.2.3.4");
        assert_eq!(host_of_url("hxxp://evil.example:8080/p").or(host_of_url(&refang("hxxp://evil.example:8080/p"))), Some("evil.example"));
        assert_eq!(host_of_url("http://[2001:db8::1]:80/"), Some("2001:db8::1"));
    }
}
