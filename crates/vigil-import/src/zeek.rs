//! Zeek logs → `Conn`. TSV (columns read by their `#fields` name, so any Zeek version's column
//! set works and extra columns such as Stratosphere's `label` are ignored) and JSON lines
//! (epoch or ISO 8601 `ts`). Within one directory, ssl/quic/dns/http/ssh records are held by uid
//! in a bounded map and attached to their conn record as it streams past; x509 records are
//! found through `cert_chain_fps` (Zeek ≥ 4) or `cert_chain_fuids` (older). Application records
//! whose conn never appears become their own `Conn`, so nothing read is lost. smb_mapping,
//! smb_files and dce_rpc records fill the same SMB and DCE-RPC metadata the packet engine
//! dissects (Zeek names DCE-RPC operations; their numbers come from the same tables), so the
//! remote-execution signals of lateral movement work on a sensor's logs as on a capture.

use crate::input;
use crate::stats::ImportStats;
use crate::util::{community_id, stable_uid};
use crate::{ImportError, ImportOptions};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, RandomState};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use vigil_model::{
    AppMeta, CertMeta, Conn, ConnState, DceRpcCall, DceRpcMeta, DnsTxn, HttpTxn, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, SmbFile,
    SmbMeta, SmbTree, Source, SshMeta, Timestamp, TlsMeta,
};

/// Zeek log types this importer uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogKind {
    X509,
    Ssl,
    Quic,
    Dns,
    Http,
    Ssh,
    SmbMapping,
    SmbFiles,
    DceRpc,
    Conn,
    /// RITA's `open_conn`: connections still open when the log rotated.
    OpenConn,
    Other,
}

impl LogKind {
    fn from_path(p: &str) -> Option<LogKind> {
        Some(match p {
            "conn" => LogKind::Conn,
            "open_conn" => LogKind::OpenConn,
            "ssl" | "open_ssl" => LogKind::Ssl,
            "quic" => LogKind::Quic,
            "dns" | "open_dns" => LogKind::Dns,
            "http" | "open_http" => LogKind::Http,
            "ssh" => LogKind::Ssh,
            "x509" => LogKind::X509,
            "smb_mapping" => LogKind::SmbMapping,
            "smb_files" => LogKind::SmbFiles,
            "dce_rpc" => LogKind::DceRpc,
            "" => return None,
            _ => LogKind::Other,
        })
    }

    /// Guesses the log type from its columns, for JSON logs written without `_path`.
    fn from_fields(mut has: impl FnMut(&str) -> bool) -> LogKind {
        if has("conn_state") || has("orig_ip_bytes") {
            LogKind::Conn
        } else if has("certificate.subject") || has("certificate.serial") {
            LogKind::X509
        } else if has("cipher") || has("cert_chain_fuids") || has("cert_chain_fps") || has("ssl_history") {
            LogKind::Ssl
        } else if has("query") && (has("qtype") || has("qtype_name") || has("trans_id")) {
            LogKind::Dns
        } else if has("method") && (has("uri") || has("user_agent")) {
            LogKind::Http
        } else if has("auth_success") || has("kex_alg") || has("hassh") {
            LogKind::Ssh
        } else if has("named_pipe") && has("operation") {
            LogKind::DceRpc
        } else if has("share_type") && has("native_file_system") {
            LogKind::SmbMapping
        } else if has("prev_name") && has("action") {
            LogKind::SmbFiles
        } else {
            LogKind::Other
        }
    }
}

/// Columns read for every conn record: looked up by a `match` on the name instead of hashing it,
/// which keeps column-by-name reading as fast as reading by position.
const HOT: [&str; 26] = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
    "community_id",
    "orig_l2_addr",
    "resp_l2_addr",
    "vlan",
    "inner_vlan",
];

fn hot_slot(name: &str) -> Option<usize> {
    Some(match name {
        "ts" => 0,
        "uid" => 1,
        "id.orig_h" => 2,
        "id.orig_p" => 3,
        "id.resp_h" => 4,
        "id.resp_p" => 5,
        "proto" => 6,
        "service" => 7,
        "duration" => 8,
        "orig_bytes" => 9,
        "resp_bytes" => 10,
        "conn_state" => 11,
        "local_orig" => 12,
        "local_resp" => 13,
        "missed_bytes" => 14,
        "history" => 15,
        "orig_pkts" => 16,
        "orig_ip_bytes" => 17,
        "resp_pkts" => 18,
        "resp_ip_bytes" => 19,
        "tunnel_parents" => 20,
        "community_id" => 21,
        "orig_l2_addr" => 22,
        "resp_l2_addr" => 23,
        "vlan" => 24,
        "inner_vlan" => 25,
        _ => return None,
    })
}

/// The header lines of a TSV log.
#[derive(Clone, Debug)]
pub struct TsvHeader {
    sep: String,
    set_sep: String,
    empty: String,
    unset: String,
    pub path: Option<String>,
    pub fields: Vec<String>,
    index: HashMap<String, usize>,
    /// Column of each [`HOT`] name.
    hot: [Option<usize>; HOT.len()],
    /// The [`HOT`] slot of each column (`NOT_HOT` for the others), for one pass per row.
    col_slot: Vec<u8>,
    /// [`TsvHeader::kind`], kept current by [`TsvHeader::apply`] (read once per row).
    kind: LogKind,
}

impl Default for TsvHeader {
    fn default() -> Self {
        TsvHeader {
            sep: "\t".into(),
            set_sep: ",".into(),
            empty: "(empty)".into(),
            unset: "-".into(),
            path: None,
            fields: Vec::new(),
            index: HashMap::new(),
            hot: [None; HOT.len()],
            col_slot: Vec::new(),
            kind: LogKind::Other,
        }
    }
}

/// Decodes Zeek's escapes: `\xHH` (header values, separators and non-printable bytes in fields)
/// and `\\` (a backslash: Zeek's ASCII writer doubles it, as in smb_mapping's `\\\\HOST\\C$`).
#[inline]
fn unescape(s: &str) -> Cow<'_, str> {
    // Most fields have no backslash at all: one byte scan decides.
    // (An inline scan: fields are a few bytes, shorter than a `memchr` call's set-up.)
    if !s.bytes().any(|b| b == b'\\') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
            continue;
        }
        if b[i] == b'\\' && i + 3 < b.len() && b.get(i + 1) == Some(&b'x') {
            let hex = b.get(i + 2..i + 4).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

impl TsvHeader {
    /// Applies one `#` header line. Returns false when the line is not a header directive.
    pub fn apply(&mut self, line: &str) -> bool {
        let Some(rest) = line.strip_prefix('#') else { return false };
        if let Some(v) = rest.strip_prefix("separator ") {
            let v = unescape(v.trim());
            if !v.is_empty() {
                self.sep = v.into_owned();
            }
            return true;
        }
        let (key, val) = match rest.split_once(self.sep.as_str()) {
            Some(kv) => kv,
            None => (rest, ""),
        };
        match key {
            "set_separator" => self.set_sep = unescape(val).into_owned(),
            "empty_field" => self.empty = val.to_string(),
            "unset_field" => self.unset = val.to_string(),
            "path" => self.path = Some(val.to_string()),
            "fields" => {
                self.fields = val.split(self.sep.as_str()).map(str::to_string).collect();
                self.index = self.fields.iter().enumerate().map(|(i, f)| (f.clone(), i)).collect();
                self.hot = [None; HOT.len()];
                for (slot, name) in HOT.iter().enumerate() {
                    self.hot[slot] = self.index.get(*name).copied();
                }
                self.col_slot = self.fields.iter().map(|f| hot_slot(f).and_then(|s| u8::try_from(s).ok()).unwrap_or(NOT_HOT)).collect();
            }
            _ => return true,
        }
        self.kind = self.kind();
        true
    }
    pub fn kind(&self) -> LogKind {
        self.path.as_deref().and_then(LogKind::from_path).unwrap_or_else(|| LogKind::from_fields(|f| self.index.contains_key(f)))
    }
}

/// A JSON field by its Zeek name: flat (`"id.orig_h"`, Zeek's default) or nested
/// (`"id": {"orig_h": ..}`, as some pipelines rewrite it).
fn json_field<'m>(m: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    if let Some(v) = m.get(name) {
        return Some(v);
    }
    let (head, rest) = name.split_once('.')?;
    json_field(m.get(head)?.as_object()?, rest)
}

/// Marks a column that is not in [`HOT`].
const NOT_HOT: u8 = u8::MAX;

/// The [`HOT`] columns of one TSV row: `None` when absent or unset, `Some("")` when empty.
pub type HotValues<'a> = [Option<&'a str>; HOT.len()];

/// One [`HOT`] column's value: `None` when unset, `""` when empty.
#[inline]
fn hot_value<'a>(h: &TsvHeader, line: &'a str, a: usize, b: usize) -> Option<&'a str> {
    line.get(a..b).filter(|v| !short_eq(v, &h.unset)).map(|v| if short_eq(v, &h.empty) { "" } else { v })
}

/// Splits a row at the one-byte separator and resolves its [`HOT`] columns in the same pass,
/// so reading a conn record costs an array index per column instead of a column lookup and
/// marker comparison each. Field spans are recorded only when `keep_spans` (conn records read
/// nothing but hot columns, so theirs are skipped; [`Row::tsv_named`] re-splits if asked).
/// Returns the number of fields.
fn split_row<'a>(
    h: &TsvHeader,
    sep: u8,
    line: &'a str,
    spans: &mut Vec<(usize, usize)>,
    keep_spans: bool,
    hot: &mut HotValues<'a>,
) -> usize {
    let slots = h.col_slot.as_slice();
    let mut n = 0usize;
    for_each_field(line.as_bytes(), sep, |a, b| {
        if let Some(&slot) = slots.get(n)
            && slot != NOT_HOT
            && let Some(o) = hot.get_mut(slot as usize)
        {
            *o = hot_value(h, line, a, b);
        }
        if keep_spans {
            spans.push((a, b));
        }
        n += 1;
    });
    n
}

/// [`split_row`]'s column resolution for rows split another way (multi-byte separators).
fn hot_values<'a>(h: &TsvHeader, line: &'a str, spans: &[(usize, usize)], out: &mut HotValues<'a>) {
    for (&slot, &(a, b)) in h.col_slot.iter().zip(spans) {
        if slot != NOT_HOT
            && let Some(o) = out.get_mut(slot as usize)
        {
            *o = hot_value(h, line, a, b);
        }
    }
}

/// One log record, TSV or JSON, read by column name.
pub enum Row<'a> {
    /// A TSV line and the byte span of each of its fields (left empty for conn records, whose
    /// columns are all in `hot`; see [`split_row`]).
    Tsv {
        h: &'a TsvHeader,
        line: &'a str,
        spans: &'a [(usize, usize)],
        /// The [`HOT`] columns' values, resolved once per row (see [`hot_values`]).
        hot: &'a HotValues<'a>,
    },
    Json(&'a Map<String, Value>),
}

/// A column: by name, or by its [`HOT`] slot (no name matching on the hot path).
#[derive(Clone, Copy, Debug)]
pub enum Col<'n> {
    Name(&'n str),
    Hot(usize),
}

impl<'n> From<&'n str> for Col<'n> {
    fn from(n: &'n str) -> Self {
        Col::Name(n)
    }
}

impl<'n> Col<'n> {
    fn name(self) -> &'n str {
        match self {
            Col::Name(n) => n,
            Col::Hot(s) => HOT.get(s).copied().unwrap_or(""),
        }
    }
}

impl<'a> Row<'a> {
    /// The TSV field as written (no unescaping), `None` when absent or unset; JSON: `None`.
    #[inline]
    fn tsv_raw(&self, c: Col) -> Option<&'a str> {
        let Row::Tsv { hot, .. } = self else { return None };
        // The conn fast path: an array read, inlined into every accessor.
        match c {
            Col::Hot(slot) => *hot.get(slot)?,
            Col::Name(name) => self.tsv_named(name),
        }
    }
    /// [`Row::tsv_raw`] by name: application logs only, kept out of line.
    #[inline(never)]
    fn tsv_named(&self, name: &str) -> Option<&'a str> {
        let Row::Tsv { h, line, spans, hot } = self else { return None };
        let col = match hot_slot(name) {
            Some(slot) => return *hot.get(slot)?,
            None => *h.index.get(name)?,
        };
        let v = match spans.get(col) {
            Some(&(a, b)) => line.get(a..b)?,
            // Spans not recorded (a conn record, see `split_row`): split again, once.
            None if spans.is_empty() => line.split(h.sep.as_str()).nth(col)?,
            None => return None,
        };
        if short_eq(v, &h.unset) {
            None
        } else if short_eq(v, &h.empty) {
            Some("")
        } else {
            Some(v)
        }
    }
    fn json(&self, c: Col) -> Option<&'a Value> {
        match self {
            Row::Json(m) => json_field(m, c.name()),
            Row::Tsv { .. } => None,
        }
    }
    /// The field as text; `None` when absent or unset. JSON numbers and booleans are rendered.
    #[inline]
    pub fn str<'n>(&self, c: impl Into<Col<'n>>) -> Option<Cow<'a, str>> {
        let c = c.into();
        match self {
            Row::Tsv { .. } => self.tsv_raw(c).map(unescape),
            Row::Json(_) => match self.json(c)? {
                Value::String(s) => Some(Cow::Borrowed(s.as_str())),
                Value::Number(n) => Some(Cow::Owned(n.to_string())),
                Value::Bool(b) => Some(Cow::Borrowed(if *b { "T" } else { "F" })),
                _ => None,
            },
        }
    }
    /// Numbers and flags never carry escapes: the text as written, trimmed only when needed.
    #[inline]
    fn plain<'n>(&self, c: impl Into<Col<'n>>) -> Option<Cow<'a, str>> {
        let c = c.into();
        match self {
            Row::Tsv { .. } => self.tsv_raw(c).map(Cow::Borrowed),
            Row::Json(_) => self.str(c),
        }
    }
    /// Non-empty text.
    #[inline]
    pub fn text<'n>(&self, c: impl Into<Col<'n>>) -> Option<String> {
        self.str(c).filter(|s| !s.is_empty()).map(Cow::into_owned)
    }
    pub fn list<'n>(&self, c: impl Into<Col<'n>>) -> Vec<String> {
        let c = c.into();
        match self {
            Row::Tsv { h, .. } => match self.tsv_raw(c) {
                Some(s) if !s.is_empty() => s.split(h.set_sep.as_str()).map(|x| unescape(x).into_owned()).collect(),
                _ => Vec::new(),
            },
            Row::Json(_) => match self.json(c) {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect(),
                Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
                _ => Vec::new(),
            },
        }
    }
    #[inline]
    pub fn u64<'n>(&self, c: impl Into<Col<'n>>) -> Option<u64> {
        let c = c.into();
        if let Row::Tsv { .. } = self {
            let s = self.tsv_raw(c)?;
            return fast_u64(s.as_bytes()).or_else(|| s.parse().ok()).or_else(|| s.trim().parse().ok());
        }
        if let Some(Value::Number(n)) = self.json(c) {
            return n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0 && f.is_finite()).map(|f| f as u64));
        }
        let s = self.plain(c)?;
        s.parse().ok().or_else(|| s.trim().parse().ok())
    }
    #[inline]
    pub fn f64<'n>(&self, c: impl Into<Col<'n>>) -> Option<f64> {
        let c = c.into();
        if let Some(Value::Number(n)) = self.json(c) {
            return n.as_f64().filter(|f| f.is_finite());
        }
        let s = self.plain(c)?;
        if let Some(f) = fast_f64(s.as_bytes()) {
            return Some(f);
        }
        s.parse::<f64>().ok().or_else(|| s.trim().parse::<f64>().ok()).filter(|f| f.is_finite())
    }
    #[inline]
    pub fn bool<'n>(&self, c: impl Into<Col<'n>>) -> Option<bool> {
        match self.plain(c)?.as_ref() {
            "T" | "true" | "1" => Some(true),
            "F" | "false" | "0" => Some(false),
            _ => None,
        }
    }
    /// Epoch seconds (number or text) or ISO 8601 (Zeek JSON with `JSON::TS_ISO8601`).
    pub fn time<'n>(&self, c: impl Into<Col<'n>>) -> Option<Timestamp> {
        let c = c.into();
        if let Row::Tsv { .. } = self
            && let Some(t) = self.tsv_raw(c).and_then(|s| fast_epoch(s.as_bytes()))
        {
            return Some(t);
        }
        if let Some(f) = self.f64(c) {
            // Zeek prints times to the microsecond: round there, so a float parse lands on the
            // same instant as the exact decimal path above.
            return (f.abs() < 1e11).then(|| Timestamp::from_micros((f * 1e6).round() as i64));
        }
        let s = self.str(c)?;
        let s = s.trim();
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| Timestamp::from(d.with_timezone(&chrono::Utc)))
            // No zone: Zeek writes UTC.
            .or_else(|| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|d| Timestamp::from(d.and_utc())))
    }
    #[inline]
    pub fn addr<'n>(&self, c: impl Into<Col<'n>>) -> Option<IpAddr> {
        let s = self.plain(c)?;
        if let Some(a) = fast_ipv4(s.as_bytes()).or_else(|| fast_ipv6(s.as_bytes())) {
            return Some(a);
        }
        s.parse().ok().or_else(|| s.trim().parse().ok())
    }
    #[inline]
    pub fn port<'n>(&self, c: impl Into<Col<'n>>) -> Option<u16> {
        u16::try_from(self.u64(c)?).ok()
    }
}

/// `a == b` for the short marker strings (`-`, `(empty)`): length first, then bytes inline,
/// instead of a `memcmp` call per field.
#[inline]
fn short_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Splits `line` at every `sep` byte into `spans`, eight bytes at a time: a conn row has ~20
/// separators a few bytes apart, where a `memchr` call per field costs more than the scan.
#[cfg(test)]
pub(crate) fn split_spans(line: &[u8], sep: u8, spans: &mut Vec<(usize, usize)>) {
    for_each_field(line, sep, |a, b| spans.push((a, b)));
}

/// Calls `f(start, end)` for each `sep`-separated field of `line`, in order (see [`split_spans`]).
#[inline]
fn for_each_field(line: &[u8], sep: u8, mut f: impl FnMut(usize, usize)) {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let splat = u64::from_ne_bytes([sep; 8]);
    let mut start = 0;
    let mut i = 0;
    let mut chunks = line.chunks_exact(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let x = u64::from_le_bytes(w) ^ splat;
        // High bit set exactly in the bytes of `x` that are zero (no borrow between bytes).
        let mut m = !(((x & LO7) + LO7) | x | LO7);
        while m != 0 {
            let pos = i + (m.trailing_zeros() / 8) as usize;
            f(start, pos);
            start = pos + 1;
            m &= m - 1;
        }
        i += 8;
    }
    for (j, &b) in chunks.remainder().iter().enumerate() {
        if b == sep {
            f(start, i + j);
            start = i + j + 1;
        }
    }
    f(start, line.len());
}

/// Value of each byte as a hex digit; 0xff for the others (one load instead of three ranges).
const HEX_DIGIT: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// IPv6 in the forms Zeek prints (hex groups, one `::`); `None` for anything else (embedded
/// IPv4, zone ids, junk), so callers fall back to `IpAddr::from_str`.
pub(crate) fn fast_ipv6(s: &[u8]) -> Option<IpAddr> {
    if s.len() < 2 || s.len() > 39 {
        return None;
    }
    let mut head = [0u16; 8];
    let mut tail = [0u16; 8];
    let (mut nh, mut nt) = (0usize, 0usize);
    let mut gap = false;
    let mut i = 0;
    if s.starts_with(b"::") {
        gap = true;
        i = 2;
        if s.len() == 2 {
            return Some(IpAddr::from([0u16; 8]));
        }
    }
    // Each iteration consumes one group and its separator, so at most 9 iterations run.
    loop {
        let mut v: u32 = 0;
        let mut digits = 0;
        while let Some(&b) = s.get(i) {
            let h = HEX_DIGIT[b as usize];
            if h > 15 {
                break;
            }
            if digits == 4 {
                return None;
            }
            v = (v << 4) | h as u32;
            digits += 1;
            i += 1;
        }
        if digits == 0 {
            return None;
        }
        let slot = if gap { tail.get_mut(nt) } else { head.get_mut(nh) };
        *slot? = v as u16;
        if gap {
            nt += 1
        } else {
            nh += 1
        }
        match s.get(i) {
            None => break,
            Some(b':') => i += 1,
            // '.' (embedded IPv4), '%' (zone) and junk: the general parser decides.
            Some(_) => return None,
        }
        if s.get(i) == Some(&b':') {
            if gap {
                return None;
            }
            gap = true;
            i += 1;
            if i == s.len() {
                break;
            }
        } else if i == s.len() {
            return None;
        }
    }
    let n = nh + nt;
    if (gap && n > 7) || (!gap && n != 8) {
        return None;
    }
    // A fixed eight-step merge rather than two variable-length copies (each a `memcpy` call).
    let mut g = [0u16; 8];
    for (i, v) in g.iter_mut().enumerate() {
        if i < nh {
            *v = head.get(i).copied().unwrap_or(0);
        } else if i + nt >= 8 {
            *v = tail.get(i + nt - 8).copied().unwrap_or(0);
        }
    }
    Some(IpAddr::from(g))
}

/// Plain decimal digits (what Zeek writes for counts and ports) without `str::parse`'s sign
/// and radix handling; `None` for anything else, so callers fall back to the general parse.
pub(crate) fn fast_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        // ≤ 19 digits cannot overflow u64.
        v = v * 10 + d as u64;
    }
    Some(v)
}

/// Epoch seconds as Zeek writes them (`1700000000.123456`) straight to nanoseconds: exact
/// (no binary floating point in between) and cheaper than a float parse. `None` for anything
/// else (signs, exponents, more than 9 decimals), so the caller falls back to the float parse.
pub(crate) fn fast_epoch(s: &[u8]) -> Option<Timestamp> {
    let (int, frac) = match memchr::memchr(b'.', s) {
        Some(i) => (s.get(..i)?, s.get(i + 1..)?),
        None => (s, &[][..]),
    };
    // Below 1e11 seconds, as the float path requires.
    if int.len() > 11 || frac.len() > 9 {
        return None;
    }
    let secs = fast_u64(int)?;
    if secs >= 100_000_000_000 {
        return None;
    }
    let mut ns = if frac.is_empty() { 0 } else { fast_u64(frac)? };
    for _ in frac.len()..9 {
        ns *= 10;
    }
    // Past 2262 the nanoseconds leave i64: the float path saturates such times.
    let t = i64::try_from(secs).ok()?.checked_mul(Timestamp::NANOS_PER_SEC)?.checked_add(i64::try_from(ns).ok()?)?;
    Some(Timestamp(t))
}

/// A plain decimal (`0.003512`, how Zeek prints intervals) exactly as `str::parse::<f64>` reads
/// it: the digits as one integer below 2^53, divided by a power of ten up to 10^22 — both exact
/// doubles, so the one division rounds correctly (Clinger's fast path). `None` for anything
/// else (signs, exponents, long mantissas), so callers fall back to the general parse.
pub(crate) fn fast_f64(s: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
    let (int, frac) = match memchr::memchr(b'.', s) {
        Some(i) => (s.get(..i)?, s.get(i + 1..)?),
        None => (s, &[][..]),
    };
    // 15 digits stay below 2^53; empty parts ("5.", ".5") are left to the general parser.
    if int.is_empty() || (frac.is_empty() && s.len() != int.len()) || int.len() + frac.len() > 15 {
        return None;
    }
    let mut m: u64 = 0;
    for &b in int.iter().chain(frac) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        m = m * 10 + d as u64;
    }
    Some(m as f64 / POW10.get(frac.len())?)
}

/// Dotted-quad IPv4 without the general address parser; `None` for anything else (IPv6,
/// leading zeros, junk), so callers fall back to `IpAddr::from_str`.
pub(crate) fn fast_ipv4(s: &[u8]) -> Option<IpAddr> {
    if s.len() < 7 || s.len() > 15 {
        return None;
    }
    let mut o = [0u8; 4];
    let mut n = 0usize;
    let mut acc: u32 = 0;
    let mut digits = 0u32;
    for &b in s {
        if b == b'.' {
            if digits == 0 || n >= 3 {
                return None;
            }
            *o.get_mut(n)? = u8::try_from(acc).ok()?;
            n += 1;
            acc = 0;
            digits = 0;
            continue;
        }
        let d = b.wrapping_sub(b'0');
        // Leading zeros are ambiguous (octal in some parsers): leave them to the std parser.
        if d > 9 || digits >= 3 || (digits == 1 && acc == 0) {
            return None;
        }
        acc = acc * 10 + d as u32;
        digits += 1;
    }
    if n != 3 || digits == 0 {
        return None;
    }
    o[3] = u8::try_from(acc).ok()?;
    Some(IpAddr::from(o))
}

// The hot columns by slot, for the conn fast path.
const C_TS: Col<'static> = Col::Hot(0);
const C_UID: Col<'static> = Col::Hot(1);
const C_ID_ORIG_H: Col<'static> = Col::Hot(2);
const C_ID_ORIG_P: Col<'static> = Col::Hot(3);
const C_ID_RESP_H: Col<'static> = Col::Hot(4);
const C_ID_RESP_P: Col<'static> = Col::Hot(5);
const C_PROTO: Col<'static> = Col::Hot(6);
const C_SERVICE: Col<'static> = Col::Hot(7);
const C_DURATION: Col<'static> = Col::Hot(8);
const C_ORIG_BYTES: Col<'static> = Col::Hot(9);
const C_RESP_BYTES: Col<'static> = Col::Hot(10);
const C_CONN_STATE: Col<'static> = Col::Hot(11);
const C_LOCAL_ORIG: Col<'static> = Col::Hot(12);
const C_LOCAL_RESP: Col<'static> = Col::Hot(13);
const C_MISSED_BYTES: Col<'static> = Col::Hot(14);
const C_HISTORY: Col<'static> = Col::Hot(15);
const C_ORIG_PKTS: Col<'static> = Col::Hot(16);
const C_ORIG_IP_BYTES: Col<'static> = Col::Hot(17);
const C_RESP_PKTS: Col<'static> = Col::Hot(18);
const C_RESP_IP_BYTES: Col<'static> = Col::Hot(19);
const C_TUNNEL_PARENTS: Col<'static> = Col::Hot(20);
const C_COMMUNITY_ID: Col<'static> = Col::Hot(21);
const C_ORIG_L2_ADDR: Col<'static> = Col::Hot(22);
const C_RESP_L2_ADDR: Col<'static> = Col::Hot(23);
const C_VLAN: Col<'static> = Col::Hot(24);
const C_INNER_VLAN: Col<'static> = Col::Hot(25);

/// The five-tuple and time every Zeek log record carries.
#[derive(Clone, Copy, Debug)]
struct Ident {
    ts: Timestamp,
    orig_h: IpAddr,
    orig_p: u16,
    resp_h: IpAddr,
    resp_p: u16,
}

fn ident(r: &Row) -> Option<Ident> {
    Some(Ident {
        ts: r.time(C_TS)?,
        orig_h: r.addr(C_ID_ORIG_H)?,
        orig_p: r.port(C_ID_ORIG_P)?,
        resp_h: r.addr(C_ID_RESP_H)?,
        resp_p: r.port(C_ID_RESP_P)?,
    })
}

fn proto_num(name: &str, v6: bool) -> u8 {
    match name {
        "tcp" => PROTO_TCP,
        "udp" => PROTO_UDP,
        "icmp" if v6 => PROTO_ICMPV6,
        "icmp" => PROTO_ICMP,
        _ => 0,
    }
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split([':', '-']);
    for o in out.iter_mut() {
        *o = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Builds a `Conn` from a conn.log record; `None` when the five-tuple or ts is missing.
pub fn conn_from_row(r: &Row, open: bool) -> Option<Conn> {
    Some(conn_with_ident(r, ident(r)?, open))
}

/// [`conn_from_row`] once the five-tuple is known: returning the `Conn` itself rather than an
/// `Option` lets it be built in the caller's slot (a ~500-byte struct copied less per row).
#[inline]
fn conn_with_ident(r: &Row, id: Ident, open: bool) -> Conn {
    let v6 = id.orig_h.is_ipv6();
    let proto = r.str(C_PROTO).map(|p| proto_num(&p, v6)).unwrap_or(0);
    let mut c = Conn::new(id.ts, id.orig_h, id.orig_p, id.resp_h, id.resp_p, proto);
    c.source = Source::Zeek;
    c.open = open;
    c.uid = r.text(C_UID).unwrap_or_else(|| {
        stable_uid(&[
            id.ts.0.to_le_bytes().as_slice(),
            id.orig_h.to_string().as_bytes(),
            &id.orig_p.to_le_bytes(),
            id.resp_h.to_string().as_bytes(),
            &id.resp_p.to_le_bytes(),
        ])
    });
    c.service = r.text(C_SERVICE);
    c.duration = r.f64(C_DURATION).filter(|d| *d >= 0.0);
    c.orig_bytes = r.u64(C_ORIG_BYTES);
    c.resp_bytes = r.u64(C_RESP_BYTES);
    c.conn_state = r.str(C_CONN_STATE).and_then(|s| ConnState::parse(&s)).unwrap_or(ConnState::OTH);
    c.local_orig = r.bool(C_LOCAL_ORIG);
    c.local_resp = r.bool(C_LOCAL_RESP);
    c.missed_bytes = r.u64(C_MISSED_BYTES).unwrap_or(0);
    c.history = r.text(C_HISTORY).unwrap_or_default();
    c.orig_pkts = r.u64(C_ORIG_PKTS).unwrap_or(0);
    c.orig_ip_bytes = r.u64(C_ORIG_IP_BYTES).unwrap_or(0);
    c.resp_pkts = r.u64(C_RESP_PKTS).unwrap_or(0);
    c.resp_ip_bytes = r.u64(C_RESP_IP_BYTES).unwrap_or(0);
    c.tunnel_parents = r.list(C_TUNNEL_PARENTS);
    c.orig_l2_addr = r.str(C_ORIG_L2_ADDR).and_then(|s| parse_mac(&s));
    c.resp_l2_addr = r.str(C_RESP_L2_ADDR).and_then(|s| parse_mac(&s));
    c.vlan = r.u64(C_VLAN).and_then(|v| u16::try_from(v).ok());
    c.inner_vlan = r.u64(C_INNER_VLAN).and_then(|v| u16::try_from(v).ok());
    c.community_id = match r.text(C_COMMUNITY_ID) {
        Some(s) => s,
        None => community_id(c.orig_h, c.orig_p, c.resp_h, c.resp_p, c.proto),
    };
    c
}

/// TLS version names as Zeek prints them.
pub fn tls_version(s: &str) -> Option<u16> {
    Some(match s {
        "SSLv2" => 0x0002,
        "SSLv3" => 0x0300,
        "TLSv10" => 0x0301,
        "TLSv11" => 0x0302,
        "TLSv12" => 0x0303,
        "TLSv13" => 0x0304,
        "DTLSv10" => 0xfeff,
        "DTLSv12" => 0xfefd,
        "DTLSv13" => 0xfefc,
        _ => {
            // Drafts: "TLSv13-draft23" → 0x7f17.
            let d = s.strip_prefix("TLSv13-draft")?;
            0x7f00 | d.parse::<u8>().ok()? as u16
        }
    })
}

/// Named groups as Zeek prints them.
pub fn tls_curve(s: &str) -> Option<u16> {
    Some(match s {
        "secp256r1" => 23,
        "secp384r1" => 24,
        "secp521r1" => 25,
        "x25519" => 29,
        "x448" => 30,
        "ffdhe2048" => 256,
        "ffdhe3072" => 257,
        "X25519Kyber768Draft00" => 0x6399,
        "X25519MLKEM768" => 0x11ec,
        _ => return None,
    })
}

/// IANA code points of the cipher suites seen in practice, by the names Zeek prints.
pub fn tls_cipher(s: &str) -> Option<u16> {
    Some(match s {
        "TLS_AES_128_GCM_SHA256" => 0x1301,
        "TLS_AES_256_GCM_SHA384" => 0x1302,
        "TLS_CHACHA20_POLY1305_SHA256" => 0x1303,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => 0xc02b,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => 0xc02c,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => 0xc02f,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => 0xc030,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => 0xcca8,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => 0xcca9,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA" => 0xc013,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA" => 0xc014,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256" => 0xc027,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384" => 0xc028,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA" => 0xc009,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA" => 0xc00a,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256" => 0xc023,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384" => 0xc024,
        "TLS_RSA_WITH_AES_128_CBC_SHA" => 0x002f,
        "TLS_RSA_WITH_AES_256_CBC_SHA" => 0x0035,
        "TLS_RSA_WITH_AES_128_CBC_SHA256" => 0x003c,
        "TLS_RSA_WITH_AES_256_CBC_SHA256" => 0x003d,
        "TLS_RSA_WITH_AES_128_GCM_SHA256" => 0x009c,
        "TLS_RSA_WITH_AES_256_GCM_SHA384" => 0x009d,
        "TLS_RSA_WITH_RC4_128_SHA" => 0x0005,
        "TLS_RSA_WITH_RC4_128_MD5" => 0x0004,
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA" => 0x000a,
        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA" => 0x0033,
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA" => 0x0039,
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256" => 0x009e,
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" => 0x009f,
        _ => return None,
    })
}

fn tls_from_row(r: &Row, quic: bool) -> TlsMeta {
    let mut t = TlsMeta {
        version: r.str("version").and_then(|v| tls_version(&v)),
        cipher: r.str("cipher").and_then(|v| tls_cipher(&v)),
        curve: r.str("curve").and_then(|v| tls_curve(&v)),
        server_name: r.text("server_name"),
        alpn: r.text("next_protocol"),
        resumed: r.bool("resumed").unwrap_or(false),
        established: r.bool("established").unwrap_or(false),
        quic,
        ja4: r.text("ja4"),
        ja3: r.text("ja3"),
        ja3s: r.text("ja3s"),
        ..Default::default()
    };
    if quic {
        t.alpn_offered = r.list("client_protocol");
        if t.version.is_none() {
            t.version = Some(0x0304);
        }
    }
    t.cert_chain_sha256 = r.list("cert_chain_fps").into_iter().filter(|f| f.len() == 64).collect();
    // Zeek before 4 put the leaf's names in ssl.log itself.
    if let Some(subject) = r.text("subject") {
        let issuer = r.text("issuer").unwrap_or_default();
        t.cert = Some(CertMeta { self_signed: subject == issuer, subject, issuer, ..Default::default() });
    }
    t
}

fn x509_from_row(r: &Row) -> CertMeta {
    let subject = r.text("certificate.subject").unwrap_or_default();
    let issuer = r.text("certificate.issuer").unwrap_or_default();
    CertMeta {
        self_signed: !subject.is_empty() && subject == issuer,
        serial: r.text("certificate.serial").unwrap_or_default(),
        not_before: r.time("certificate.not_valid_before"),
        not_after: r.time("certificate.not_valid_after"),
        san_dns: r.list("san.dns"),
        sha256: r.text("fingerprint").filter(|f| f.len() == 64).unwrap_or_default(),
        // Zeek before 4.x logged the SHA-1 as `fingerprint`.
        sha1: r.text("fingerprint").filter(|f| f.len() == 40).unwrap_or_default(),
        key_alg: r.text("certificate.key_alg"),
        key_length: r.u64("certificate.key_length").and_then(|v| u32::try_from(v).ok()),
        subject,
        issuer,
    }
}

fn dns_from_row(r: &Row, ts: Timestamp) -> DnsTxn {
    let flag = |n: &str| r.bool(n).unwrap_or(false);
    DnsTxn {
        ts,
        trans_id: r.u64("trans_id").and_then(|v| u16::try_from(v).ok()).unwrap_or(0),
        rtt: r.f64("rtt"),
        query: r.text("query"),
        qclass: r.u64("qclass").and_then(|v| u16::try_from(v).ok()),
        qtype: r.u64("qtype").and_then(|v| u16::try_from(v).ok()),
        rcode: r.u64("rcode").and_then(|v| u16::try_from(v).ok()),
        aa: flag("AA"),
        tc: flag("TC"),
        rd: flag("RD"),
        ra: flag("RA"),
        z: r.u64("Z").and_then(|v| u8::try_from(v).ok()).unwrap_or(0),
        answers: r.list("answers"),
        ttls: r.list("TTLs").iter().filter_map(|t| t.parse::<f64>().ok()).collect(),
        rejected: flag("rejected"),
    }
}

fn http_from_row(r: &Row, ts: Timestamp) -> HttpTxn {
    HttpTxn {
        ts,
        method: r.text("method"),
        host: r.text("host"),
        uri: r.text("uri"),
        referrer: r.text("referrer"),
        version: r.text("version"),
        user_agent: r.text("user_agent"),
        request_body_len: r.u64("request_body_len").unwrap_or(0),
        response_body_len: r.u64("response_body_len").unwrap_or(0),
        status_code: r.u64("status_code").and_then(|v| u16::try_from(v).ok()),
        status_msg: r.text("status_msg"),
        server: r.text("server"),
        req_content_type: r.list("orig_mime_types").into_iter().next(),
        resp_content_type: r.list("resp_mime_types").into_iter().next(),
    }
}

fn ssh_from_row(r: &Row) -> SshMeta {
    SshMeta {
        version: r.u64("version").and_then(|v| u8::try_from(v).ok()),
        client: r.text("client"),
        server: r.text("server"),
        hassh: r.text("hassh"),
        hassh_server: r.text("hasshServer").or_else(|| r.text("hassh_server")),
        hassh_algorithms: r.text("hasshAlgorithms").or_else(|| r.text("hassh_algorithms")),
        hassh_server_algorithms: r.text("hasshServerAlgorithms").or_else(|| r.text("hassh_server_algorithms")),
        cipher_alg: r.text("cipher_alg"),
        mac_alg: r.text("mac_alg"),
        kex_alg: r.text("kex_alg"),
        host_key_alg: r.text("host_key_alg"),
        auth_success: r.bool("auth_success"),
        auth_attempts: r.u64("auth_attempts").and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
    }
}

/// Application records waiting for their conn record.
struct Pending {
    id: Ident,
    proto: u8,
    app: AppMeta,
    services: Vec<&'static str>,
    /// Application records merged into this one (same uid).
    records: u64,
}

/// The join state of one directory of logs.
pub struct Joiner<'o> {
    opts: &'o ImportOptions,
    pending: HashMap<String, Pending>,
    certs: HashMap<String, CertMeta>,
    /// Keyed hashes of the conn uids seen (the keyed hash makes collisions unforgeable, so the
    /// set itself can skip re-hashing).
    seen_uids: HashSet<u64, BuildHasherDefault<crate::util::Prehashed>>,
    uid_hasher: RandomState,
    /// Check conn uids for duplicates: only needed when several conn logs are read together.
    pub dedupe: bool,
}

impl<'o> Joiner<'o> {
    pub fn new(opts: &'o ImportOptions) -> Self {
        Joiner {
            opts,
            pending: HashMap::new(),
            certs: HashMap::new(),
            seen_uids: HashSet::default(),
            uid_hasher: RandomState::new(),
            dedupe: false,
        }
    }

    /// Handles one parsed record of a log of type `kind`.
    pub fn row(&mut self, kind: LogKind, r: &Row, stats: &mut ImportStats, out: &mut dyn FnMut(Conn)) {
        match kind {
            LogKind::Conn | LogKind::OpenConn => {
                let Some(id) = ident(r) else {
                    stats.skip("zeek conn: missing ts or five-tuple");
                    return;
                };
                let mut c = conn_with_ident(r, id, kind == LogKind::OpenConn);
                // The same uid twice in one directory is one connection logged twice (a labelled
                // copy beside the original, or an open_conn later closed): keep the first.
                if !self.dedupe {
                } else if self.seen_uids.len() < self.opts.max_pending_app.saturating_mul(4) {
                    if !self.seen_uids.insert(self.uid_hasher.hash_one(c.uid.as_str())) {
                        stats.skip("zeek conn: duplicate uid");
                        return;
                    }
                } else {
                    stats.skip("zeek conn: duplicate check disabled (uid set full)");
                }
                let joined = if self.pending.is_empty() { None } else { self.pending.remove(&c.uid) };
                if let Some(p) = joined {
                    merge_app(&mut c.app, p.app);
                    if c.service.is_none() && !p.services.is_empty() {
                        c.service = Some(p.services.join(","));
                    }
                    stats.app_joined += p.records;
                }
                stats.conns += 1;
                out(c);
            }
            LogKind::X509 => {
                let cert = x509_from_row(r);
                if self.certs.len() >= self.opts.max_pending_app {
                    stats.dropped += 1;
                    stats.skip("zeek x509: certificate map full");
                    return;
                }
                if !cert.sha256.is_empty() {
                    self.certs.insert(cert.sha256.clone(), cert.clone());
                }
                if let Some(fuid) = r.text("id") {
                    self.certs.insert(fuid, cert);
                }
            }
            LogKind::Ssl
            | LogKind::Quic
            | LogKind::Dns
            | LogKind::Http
            | LogKind::Ssh
            | LogKind::SmbMapping
            | LogKind::SmbFiles
            | LogKind::DceRpc => {
                let Some(id) = ident(r) else {
                    stats.skip("zeek app log: missing ts or five-tuple");
                    return;
                };
                let mut app = AppMeta::default();
                let (service, proto) = match kind {
                    LogKind::Ssl | LogKind::Quic => {
                        let mut t = tls_from_row(r, kind == LogKind::Quic);
                        let refs: Vec<String> =
                            if t.cert_chain_sha256.is_empty() { r.list("cert_chain_fuids") } else { t.cert_chain_sha256.clone() };
                        if let Some(leaf) = refs.first().and_then(|k| self.certs.get(k)) {
                            t.cert = Some(leaf.clone());
                        }
                        if t.cert_chain_sha256.is_empty() {
                            t.cert_chain_sha256 =
                                refs.iter().filter_map(|k| self.certs.get(k)).map(|c| c.sha256.clone()).filter(|s| !s.is_empty()).collect();
                        }
                        app.tls = Some(Box::new(t));
                        if kind == LogKind::Quic { ("quic", PROTO_UDP) } else { ("ssl", PROTO_TCP) }
                    }
                    LogKind::Dns => {
                        app.dns.push(dns_from_row(r, id.ts));
                        let p = r.str("proto").map(|p| proto_num(&p, false)).filter(|p| *p != 0).unwrap_or(PROTO_UDP);
                        ("dns", p)
                    }
                    LogKind::Http => {
                        app.http.push(http_from_row(r, id.ts));
                        ("http", PROTO_TCP)
                    }
                    LogKind::SmbMapping => {
                        app.smb = Some(Box::new(SmbMeta { trees: smb_tree_from_row(r).into_iter().collect(), ..SmbMeta::default() }));
                        ("smb", PROTO_TCP)
                    }
                    LogKind::SmbFiles => {
                        app.smb =
                            Some(Box::new(SmbMeta { files: smb_file_from_row(r, id.ts).into_iter().collect(), ..SmbMeta::default() }));
                        ("smb", PROTO_TCP)
                    }
                    LogKind::DceRpc => {
                        app.dce_rpc = Some(Box::new(DceRpcMeta {
                            calls: dce_rpc_call_from_row(r, id.ts).into_iter().collect(),
                            ..DceRpcMeta::default()
                        }));
                        ("dce_rpc", PROTO_TCP)
                    }
                    _ => {
                        app.ssh = Some(Box::new(ssh_from_row(r)));
                        ("ssh", PROTO_TCP)
                    }
                };
                let uid = r.text("uid").unwrap_or_default();
                if uid.is_empty() {
                    stats.app_orphans += 1;
                    stats.conns += 1;
                    out(orphan_conn(String::new(), Pending { id, proto, app, services: vec![service], records: 1 }));
                    return;
                }
                if let Some(p) = self.pending.get_mut(&uid) {
                    merge_app(&mut p.app, app);
                    if !p.services.contains(&service) {
                        p.services.push(service);
                    }
                    p.records += 1;
                    return;
                }
                let p = Pending { id, proto, app, services: vec![service], records: 1 };
                if self.pending.len() >= self.opts.max_pending_app {
                    // Bounded memory: emit it now, unjoined, rather than hold it.
                    stats.skip("zeek join map full: app record emitted unjoined");
                    stats.app_orphans += 1;
                    stats.conns += 1;
                    out(orphan_conn(uid, p));
                    return;
                }
                self.pending.insert(uid, p);
            }
            LogKind::Other => {}
        }
    }

    /// Emits every application record whose conn never appeared, as its own `Conn`.
    pub fn finish(&mut self, stats: &mut ImportStats, out: &mut dyn FnMut(Conn)) {
        let mut rest: Vec<(String, Pending)> = self.pending.drain().collect();
        // Deterministic output order.
        rest.sort_by(|a, b| a.1.id.ts.cmp(&b.1.id.ts).then_with(|| a.0.cmp(&b.0)));
        for (uid, p) in rest {
            stats.app_orphans += p.records;
            stats.conns += 1;
            out(orphan_conn(uid, p));
        }
        self.certs.clear();
        self.seen_uids.clear();
    }
}

fn merge_app(into: &mut AppMeta, from: AppMeta) {
    if from.tls.is_some() {
        into.tls = from.tls;
    }
    if from.ssh.is_some() {
        into.ssh = from.ssh;
    }
    // Bounded: a hostile log repeating one uid cannot grow a connection without limit.
    const MAX_TXNS: usize = 256;
    for d in from.dns {
        if into.dns.len() < MAX_TXNS {
            into.dns.push(d);
        }
    }
    for h in from.http {
        if into.http.len() < MAX_TXNS {
            into.http.push(h);
        }
    }
    if let Some(from) = from.smb {
        match into.smb.as_deref_mut() {
            None => into.smb = Some(from),
            Some(to) => merge_smb(to, *from),
        }
    }
    if let Some(from) = from.dce_rpc {
        match into.dce_rpc.as_deref_mut() {
            None => into.dce_rpc = Some(from),
            Some(to) => merge_dce_rpc(to, *from),
        }
    }
}

/// Caps on the SMB and DCE-RPC entries one connection collects from logs (the packet engine's
/// dissector has its own): a hostile log repeating one uid cannot grow a connection without
/// limit; entries beyond them are counted in `dropped`.
const MAX_SMB_TREES: usize = 32;
const MAX_SMB_FILES: usize = 64;
const MAX_DCE_RPC_CALLS: usize = 64;

fn merge_smb(into: &mut SmbMeta, from: SmbMeta) {
    into.dropped = into.dropped.saturating_add(from.dropped);
    for t in from.trees {
        if into.trees.iter().any(|x| x.path.eq_ignore_ascii_case(&t.path)) {
            continue;
        }
        if into.trees.len() < MAX_SMB_TREES {
            into.trees.push(t);
        } else {
            into.dropped = into.dropped.saturating_add(1);
        }
    }
    for f in from.files {
        // One entry per tree and name, as the dissector merges the opens of a file.
        if let Some(x) = into.files.iter_mut().find(|x| x.tree == f.tree && x.name.eq_ignore_ascii_case(&f.name)) {
            x.opens = x.opens.saturating_add(f.opens);
            x.bytes_written = x.bytes_written.max(f.bytes_written);
            x.bytes_read = x.bytes_read.max(f.bytes_read);
            x.deleted |= f.deleted;
            if f.renamed_to.is_some() {
                x.renamed_to = f.renamed_to;
            }
            if x.action.is_none() {
                x.action = f.action;
            }
        } else if into.files.len() < MAX_SMB_FILES {
            into.files.push(f);
        } else {
            into.dropped = into.dropped.saturating_add(1);
        }
    }
}

fn merge_dce_rpc(into: &mut DceRpcMeta, from: DceRpcMeta) {
    into.dropped = into.dropped.saturating_add(from.dropped);
    for c in from.calls {
        if let Some(x) = into
            .calls
            .iter_mut()
            .find(|x| x.opnum == c.opnum && x.interface == c.interface && x.named_pipe == c.named_pipe && x.operation == c.operation)
        {
            x.count = x.count.saturating_add(c.count);
        } else if into.calls.len() < MAX_DCE_RPC_CALLS {
            into.calls.push(c);
        } else {
            into.dropped = into.dropped.saturating_add(1);
        }
    }
}

/// smb_mapping.log: one tree connected. Zeek writes the share type as `DISK`, `PIPE`, `PRINTER`.
fn smb_tree_from_row(r: &Row) -> Option<SmbTree> {
    let path = r.text("path").filter(|p| !p.is_empty())?;
    let share_type = r.str("share_type").and_then(|t| match t.to_ascii_uppercase().as_str() {
        "DISK" => Some("disk".to_string()),
        "PIPE" => Some("pipe".to_string()),
        "PRINTER" | "PRINT" => Some("print".to_string()),
        _ => None,
    });
    // Zeek logs a mapping when the server answers the TREE_CONNECT: a failed one has no share
    // type (and usually no service), so only a typed answer counts as accepted.
    let ok = share_type.as_ref().map(|_| true);
    Some(SmbTree { path, share_type, ok })
}

/// smb_files.log: one file action. Zeek logs no write lengths: a written file's size stands in
/// for the bytes written (it is what landed on the share).
fn smb_file_from_row(r: &Row, ts: Timestamp) -> Option<SmbFile> {
    let action = r.str("action").unwrap_or_default();
    let action = action.strip_prefix("SMB::").unwrap_or(&action).to_ascii_uppercase();
    let tree = r.text("path").filter(|p| !p.is_empty());
    let name = r.text("name").filter(|n| !n.is_empty());
    let prev = r.text("prev_name").filter(|n| !n.is_empty());
    let size = r.u64("size").unwrap_or(0);
    // Named pipes: opened on IPC$, or with no tree at all (Zeek's pipe rows carry none).
    let pipe = tree.as_deref().is_none_or(|t| vigil_model::share_of(t) == "IPC$");
    let (name, renamed_to) = match (action.as_str(), name, prev) {
        ("FILE_RENAME", Some(new), Some(old)) => (old, Some(new)),
        (_, Some(n), _) => (n.trim_start_matches('\\').to_string(), None),
        (_, None, _) => return None,
    };
    let mut f = SmbFile { ts, tree, name, pipe, opens: 1, renamed_to, ..SmbFile::default() };
    match action.as_str() {
        "FILE_WRITE" => f.bytes_written = size.max(1),
        "FILE_READ" => f.bytes_read = size.max(1),
        "FILE_DELETE" => f.deleted = true,
        _ => {}
    }
    Some(f)
}

/// dce_rpc.log: one operation. `named_pipe` is the pipe (`\pipe\ntsvcs`) or, for DCE-RPC
/// straight over TCP, the port; the operation number comes from the interface's operation
/// table (Zeek names unknown operations `opnum_N` or `unknown-N`, read back as N).
fn dce_rpc_call_from_row(r: &Row, ts: Timestamp) -> Option<DceRpcCall> {
    let interface = r.text("endpoint").unwrap_or_default();
    let operation = r.text("operation").filter(|o| !o.is_empty())?;
    let named_pipe = r.text("named_pipe").filter(|p| !p.is_empty() && !p.bytes().all(|b| b.is_ascii_digit())).map(|p| {
        let t = p.trim_start_matches('\\');
        match t.get(..5) {
            Some(head) if head.eq_ignore_ascii_case("pipe\\") => t[5..].to_string(),
            _ => t.to_string(),
        }
    });
    let numbered = operation
        .rsplit(['_', '-'])
        .next()
        .filter(|_| operation.starts_with("opnum") || operation.starts_with("unknown"))
        .and_then(|n| n.parse::<u16>().ok());
    // An operation outside the tables keeps its name, with no number (u16::MAX is never one
    // Vigil's detectors look for).
    let opnum = numbered.or_else(|| vigil_proto::dcerpc::operation_opnum(&interface, &operation)).unwrap_or(u16::MAX);
    let operation = if numbered.is_some() { None } else { Some(operation) };
    Some(DceRpcCall { ts, named_pipe, interface, opnum, operation, count: 1 })
}

fn orphan_conn(uid: String, p: Pending) -> Conn {
    let id = p.id;
    let mut c = Conn::new(id.ts, id.orig_h, id.orig_p, id.resp_h, id.resp_p, p.proto);
    c.source = Source::Zeek;
    c.uid = if uid.is_empty() {
        stable_uid(&[
            id.ts.0.to_le_bytes().as_slice(),
            id.orig_h.to_string().as_bytes(),
            &id.orig_p.to_le_bytes(),
            id.resp_h.to_string().as_bytes(),
            &id.resp_p.to_le_bytes(),
        ])
    } else {
        uid
    };
    c.service = Some(p.services.join(","));
    c.community_id = community_id(c.orig_h, c.orig_p, c.resp_h, c.resp_p, c.proto);
    if let Some(state) = crate::util::answered_state(&p.app, p.proto) {
        c.conn_state = state;
    }
    c.app = p.app;
    c
}

/// Reads one log file (TSV or JSON, gzip'd or not), calling `f` with each record.
pub fn read_log(path: &Path, stats: &mut ImportStats, f: impl FnMut(LogKind, &Row, &mut ImportStats)) -> Result<(), ImportError> {
    let reader = input::open(path)?;
    read_log_from(path, reader, kind_from_name(path), stats, f)
}

/// Imports Zeek log bytes (one log, TSV or JSON) held in memory: for tests and fuzzing.
pub fn import_bytes(data: &[u8], opts: &ImportOptions, stats: &mut ImportStats, out: &mut dyn FnMut(Conn)) {
    let mut j = Joiner::new(opts);
    let reader: Box<dyn std::io::BufRead + Send> = Box::new(std::io::Cursor::new(data.to_vec()));
    // Reading from memory cannot fail.
    let _ = read_log_from(Path::new("-"), reader, None, stats, |k, row, st| j.row(k, row, st, out));
    j.finish(stats, out);
}

/// [`read_log`] over an open reader; `name_kind` is the log type the file name suggests.
pub fn read_log_from(
    path: &Path,
    reader: Box<dyn std::io::BufRead + Send>,
    name_kind: Option<LogKind>,
    stats: &mut ImportStats,
    mut f: impl FnMut(LogKind, &Row, &mut ImportStats),
) -> Result<(), ImportError> {
    let mut header = TsvHeader::default();
    let mut json_kind: Option<LogKind> = None;
    let mut saw_json = false;
    // Field spans of the current TSV line, reused across lines.
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(32);
    input::for_each_line(path, reader, |line| {
        let Some(line) = line else {
            stats.skip("zeek: line too long");
            return;
        };
        if line.is_empty() {
            return;
        }
        // Some writers indent the first header line; a data row never starts with '#'.
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            let line = trimmed;
            // A new header block (logs concatenated across rotations) restarts the column set.
            if line.starts_with("#separator") {
                header = TsvHeader::default();
            }
            header.apply(line);
            return;
        }
        stats.records += 1;
        if line.starts_with('{') {
            saw_json = true;
            let m = match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(m)) => m,
                _ => {
                    stats.skip("zeek json: not a JSON object");
                    return;
                }
            };
            let kind = match m.get("_path").and_then(Value::as_str).and_then(LogKind::from_path) {
                Some(k) => k,
                None => *json_kind.get_or_insert_with(|| name_kind.unwrap_or_else(|| LogKind::from_fields(|k| m.contains_key(k)))),
            };
            f(kind, &Row::Json(&m), stats);
            return;
        }
        if header.fields.is_empty() {
            stats.skip(if saw_json { "zeek json: not a JSON object" } else { "zeek tsv: record before #fields header" });
            return;
        }
        let kind = header.kind;
        spans.clear();
        let nfields;
        let mut hot: HotValues = [None; HOT.len()];
        match header.sep.as_bytes() {
            // An ASCII separator byte is always a char boundary.
            [c] if c.is_ascii() => {
                let keep = !matches!(kind, LogKind::Conn | LogKind::OpenConn);
                nfields = split_row(&header, *c, line, &mut spans, keep, &mut hot);
            }
            _ => {
                let mut start = 0;
                for (i, m) in line.match_indices(header.sep.as_str()) {
                    spans.push((start, i));
                    start = i + m.len();
                }
                spans.push((start, line.len()));
                hot_values(&header, line, &spans, &mut hot);
                nfields = spans.len();
            }
        }
        // Logs this crate does not use are counted, not checked.
        if nfields != header.fields.len() && kind != LogKind::Other {
            // Columns are read by name, so a row with missing trailing columns (a writer that
            // declared a field it never wrote, or a cut line) is still usable when its
            // five-tuple parses; the record is kept and the defect counted.
            stats.warn("zeek tsv: column count differs from #fields");
        }
        f(kind, &Row::Tsv { h: &header, line, spans: &spans, hot: &hot }, stats);
    })
}

/// The log type a file holds, from its header (`#path`, `_path`, columns), else its name.
pub fn file_kind(path: &Path) -> LogKind {
    let head = input::head(path, 32 * 1024).unwrap_or_default();
    let text = String::from_utf8_lossy(&head);
    let mut h = TsvHeader::default();
    for line in text.lines() {
        if line.starts_with('#') {
            h.apply(line);
            if !h.fields.is_empty() && h.path.is_some() {
                break;
            }
            continue;
        }
        if line.starts_with('{') {
            if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(line) {
                if let Some(k) = m.get("_path").and_then(Value::as_str).and_then(LogKind::from_path) {
                    return k;
                }
                return kind_from_name(path).unwrap_or_else(|| LogKind::from_fields(|k| m.contains_key(k)));
            }
            continue;
        }
        break;
    }
    if h.path.is_some() || !h.fields.is_empty() {
        return h.kind();
    }
    kind_from_name(path).unwrap_or(LogKind::Other)
}

/// `conn.2024-01-01-00-00-00.log.gz` → conn. Only a fallback: content decides first.
fn kind_from_name(path: &Path) -> Option<LogKind> {
    let name = path.file_name()?.to_str()?;
    let stem = name.split('.').next()?;
    match LogKind::from_path(stem) {
        Some(LogKind::Other) | None => None,
        k => k,
    }
}

/// Imports a set of Zeek log files (normally one directory) with the uid join.
pub fn import_logs(files: &[PathBuf], opts: &ImportOptions, stats: &mut ImportStats, out: &mut dyn FnMut(Conn)) -> Result<(), ImportError> {
    let mut by_kind: Vec<(LogKind, &PathBuf)> = files.iter().map(|f| (file_kind(f), f)).collect();
    // Certificates, then application records, then conns stream past and pick them up.
    by_kind.sort();
    let mut j = Joiner::new(opts);
    j.dedupe = by_kind.iter().filter(|(k, _)| matches!(k, LogKind::Conn | LogKind::OpenConn)).count() > 1;
    let single = files.len() == 1;
    for (kind, f) in by_kind {
        let r = read_log(f, stats, |k, row, st| {
            let k = if k == LogKind::Other { kind } else { k };
            j.row(k, row, st, out)
        });
        match r {
            Ok(()) => stats.file(if is_json(f) { "zeek_json" } else { "zeek_tsv" }),
            Err(e) if single => return Err(e),
            Err(e) => {
                stats.files_skipped.insert(f.display().to_string(), e.to_string());
            }
        }
    }
    j.finish(stats, out);
    Ok(())
}

fn is_json(path: &Path) -> bool {
    input::head(path, 4096).map(|h| h.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')).unwrap_or(false)
}
