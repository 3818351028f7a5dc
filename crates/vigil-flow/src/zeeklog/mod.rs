//! Zeek log writers: `conn.log`, `ssl.log`, `dns.log`, `http.log`, `ssh.log`, `smb_mapping.log`,
//! `smb_files.log` and `dce_rpc.log` from `Conn`
//! records, as Zeek's ASCII writer prints them (TSV with the `#separator`…`#close` header lines)
//! or as Zeek's JSON lines. Column sets follow Zeek 7 plus Vigil's additions (`community_id` in
//! conn.log, `ja4`/`ja3`/`ja3s` in ssl.log, `hassh`/`hasshServer` in ssh.log, `count` in
//! dce_rpc.log: Vigil keeps one row per pipe, interface and operation with the number of calls,
//! where Zeek writes a row per call).
//!
//! Every string may come from an attacker (SNI, DNS names, HTTP headers), so TSV values are
//! escaped as Zeek does: control bytes, DEL and backslash as `\xNN`, the set separator inside
//! containers, and values that would read as the unset (`-`) or empty (`(empty)`) markers.

mod names;
mod records;

pub use names::{cipher_name, curve_name, tls_version_name};
pub use records::{
    ConnLogs, conn_values, dce_rpc_values, dns_values, http_values, smb_files_values, smb_mapping_values, ssh_values, ssl_values,
};

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use vigil_model::{Conn, Timestamp};

/// Writes conn/ssl/dns/http/ssh logs for `conns` into `dir` (TSV, or JSON lines when `json`);
/// returns the files written.
pub fn write_all(dir: &Path, conns: &[Conn], json: bool) -> io::Result<Vec<PathBuf>> {
    let mut logs = ConnLogs::create(dir, if json { Format::Json } else { Format::Tsv })?;
    for c in conns {
        logs.write(c)?;
    }
    logs.finish()
}

/// One log column value.
#[derive(Clone, Debug, PartialEq)]
pub enum Val<'a> {
    Unset,
    /// Borrowed from the record where possible: writing a log allocates nothing per field.
    Str(Cow<'a, str>),
    Count(u64),
    Int(i64),
    Double(f64),
    Time(Timestamp),
    Interval(f64),
    Bool(bool),
    Addr(IpAddr),
    Port(u16),
    /// Zeek `set[string]` / `vector[string]`.
    List(Cow<'a, [String]>),
    /// Zeek `vector[interval]`.
    Intervals(Vec<f64>),
}

impl<'a> Val<'a> {
    pub fn opt_str(s: Option<&'a str>) -> Val<'a> {
        s.map_or(Val::Unset, |s| Val::Str(Cow::Borrowed(s)))
    }
    pub fn str(s: &'a str) -> Val<'a> {
        Val::Str(Cow::Borrowed(s))
    }
    pub fn owned(s: String) -> Val<'a> {
        Val::Str(Cow::Owned(s))
    }
    pub fn opt_count(v: Option<u64>) -> Val<'a> {
        v.map_or(Val::Unset, Val::Count)
    }
    pub fn opt_bool(v: Option<bool>) -> Val<'a> {
        v.map_or(Val::Unset, Val::Bool)
    }
}

/// A log's name and `(column, Zeek type)` list.
#[derive(Debug)]
pub struct LogSpec {
    pub path: &'static str,
    pub fields: &'static [(&'static str, &'static str)],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Tsv,
    Json,
}

/// Writes one log. The TSV header is written with the first record (its `#open` time is the
/// first record's event time, so output is reproducible); `finish` writes `#close`.
pub struct LogWriter<W: Write> {
    /// `None` only once `finish` has taken it.
    out: Option<W>,
    spec: &'static LogSpec,
    format: Format,
    started: bool,
    last_ts: Option<Timestamp>,
    /// Rendered rows not yet handed to `out`: rows are rendered straight into this buffer and
    /// passed on in blocks of [`ROWS_BLOCK`] bytes, which a `BufWriter` of that capacity writes
    /// through without copying them into its own buffer first.
    line: String,
}

/// Bytes of rendered rows handed to the sink at once.
const ROWS_BLOCK: usize = 128 << 10;

fn finished() -> io::Error {
    io::Error::other("log writer already finished")
}

/// A writer dropped without `finish` (an error ended the run) still hands over the rows it
/// holds, as the `BufWriter` under it flushes what it holds: the log stays complete up to its
/// last row, without `#close`.
impl<W: Write> Drop for LogWriter<W> {
    fn drop(&mut self) {
        if let Some(out) = self.out.as_mut() {
            let _ = out.write_all(self.line.as_bytes());
        }
    }
}

fn zeek_date(ts: Timestamp) -> String {
    ts.to_utc().format("%Y-%m-%d-%H-%M-%S").to_string()
}

/// Bytes written as they are: printable ASCII except the backslash.
static PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0x20;
    while b < 0x7f {
        t[b] = b != b'\\' as usize;
        b += 1;
    }
    t
};

/// Zeek's TSV escaping of one string.
pub fn escape_tsv(s: &str, in_set: bool, out: &mut String) {
    if s.is_empty() {
        return;
    }
    if s == "-" {
        out.push_str("\\x2d");
        return;
    }
    if s == "(empty)" {
        out.push_str("\\x28empty)");
        return;
    }
    // Most values (names, URIs, uids, fingerprints) are printable ASCII with nothing to escape:
    // one scan, one copy, instead of a character-by-character rebuild.
    // The test per byte is one table lookup; the separator of a set is searched on its own.
    if s.bytes().all(|b| PLAIN[b as usize]) && !(in_set && s.as_bytes().contains(&b',')) {
        out.push_str(s);
        return;
    }
    for ch in s.chars() {
        let c = ch as u32;
        if c < 0x20 || c == 0x7f || ch == '\\' || (in_set && ch == ',') {
            push_hex_escape(c as u8, out);
        } else if (0x80..0xa0).contains(&c) {
            // C1 control characters are as invisible as C0 ones.
            let mut buf = [0u8; 4];
            for &b in ch.encode_utf8(&mut buf).as_bytes() {
                push_hex_escape(b, out);
            }
        } else {
            out.push(ch);
        }
    }
}

/// `\xNN`, lower-case hex, as Zeek writes it.
fn push_hex_escape(b: u8, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\x");
    out.push(HEX[(b >> 4) as usize] as char);
    out.push(HEX[(b & 15) as usize] as char);
}

fn fmt6(v: f64) -> String {
    let mut s = String::new();
    push_fmt6(v, &mut s);
    s
}

/// Zeek's fixed six decimals, appended in place. The usual values (durations, round-trip
/// times, TTLs) take an exact integer path; the rest, and exact ties, go through `{:.6}`, whose
/// output the fast path reproduces digit for digit.
fn push_fmt6(v: f64, out: &mut String) {
    if !v.is_finite() {
        out.push_str("0.000000");
    } else if let Some(micros) = round_micros(v) {
        out.push_str(itoa::Buffer::new().format(micros / 1_000_000));
        out.push('.');
        push_padded6(micros % 1_000_000, out);
    } else {
        let _ = write!(out, "{v:.6}");
    }
}

/// Six digits with leading zeros.
fn push_padded6(frac: u64, out: &mut String) {
    let mut b = itoa::Buffer::new();
    let digits = b.format(frac);
    for _ in digits.len()..6 {
        out.push('0');
    }
    out.push_str(digits);
}

/// `v`·10⁶ correctly rounded to an integer, computed exactly from the float's mantissa and
/// exponent, for non-negative `v` below 2⁴³; `None` (use the formatter) otherwise and when the
/// exact value lies halfway between two integers, where the rounding rule would matter.
fn round_micros(v: f64) -> Option<u64> {
    if v.is_sign_negative() || !v.is_finite() {
        return None;
    }
    if v == 0.0 {
        return Some(0);
    }
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (mant, exp) = if biased == 0 { (frac, -1074) } else { (frac | 1 << 52, biased - 1075) };
    // v = mant·2^exp with mant < 2^53; v < 2^43 keeps the result below 2^63.
    if exp >= 0 || biased - 1023 >= 43 {
        return None;
    }
    let shift = (-exp) as u32;
    if shift >= 120 {
        // Below 2^-67: far under half a microsecond, but leave it to the formatter.
        return None;
    }
    let num = mant as u128 * 1_000_000;
    let q = num >> shift;
    let rem = num - (q << shift);
    let half = 1u128 << (shift - 1);
    let q = u64::try_from(q).ok()?;
    match rem.cmp(&half) {
        std::cmp::Ordering::Less => Some(q),
        std::cmp::Ordering::Greater => q.checked_add(1),
        std::cmp::Ordering::Equal => None,
    }
}

/// Zeek's `time`: seconds with six decimals, from integer nanoseconds (no float rounding).
fn push_time(t: Timestamp, out: &mut String) {
    let us = t.0.div_euclid(1_000);
    out.push_str(itoa::Buffer::new().format(us.div_euclid(1_000_000)));
    out.push('.');
    push_padded6(us.rem_euclid(1_000_000) as u64, out);
}

/// An address as `Display` writes it; IPv4 (most rows) without the formatting machinery.
fn push_addr(a: IpAddr, out: &mut String) {
    match a {
        IpAddr::V4(v4) => {
            let mut b = itoa::Buffer::new();
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(b.format(o));
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

impl<W: Write> LogWriter<W> {
    pub fn new(out: W, spec: &'static LogSpec, format: Format) -> Self {
        LogWriter { out: Some(out), spec, format, started: false, last_ts: None, line: String::new() }
    }

    fn header(&mut self, ts: Timestamp) -> io::Result<()> {
        if self.format == Format::Json {
            return Ok(());
        }
        let names: Vec<&str> = self.spec.fields.iter().map(|f| f.0).collect();
        let types: Vec<&str> = self.spec.fields.iter().map(|f| f.1).collect();
        let path = self.spec.path;
        write!(
            self.out.as_mut().ok_or_else(finished)?,
            "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t{}\n#open\t{}\n#fields\t{}\n#types\t{}\n",
            path,
            zeek_date(ts),
            names.join("\t"),
            types.join("\t")
        )
    }

    /// Writes one record; `ts` is its event time (used for `#open`/`#close`).
    pub fn write(&mut self, ts: Timestamp, vals: &[Val<'_>]) -> io::Result<()> {
        if !self.started {
            self.started = true;
            self.header(ts)?;
        }
        self.last_ts = Some(self.last_ts.map_or(ts, |t| t.max(ts)));
        if self.line.capacity() == 0 {
            self.line.reserve(ROWS_BLOCK + 4096);
        }
        match self.format {
            Format::Tsv => self.render_tsv(vals),
            Format::Json => self.render_json(vals),
        }
        self.line.push('\n');
        if self.line.len() >= ROWS_BLOCK {
            self.out.as_mut().ok_or_else(finished)?.write_all(self.line.as_bytes())?;
            self.line.clear();
        }
        Ok(())
    }

    fn render_tsv(&mut self, vals: &[Val<'_>]) {
        let line = &mut self.line;
        for (i, v) in vals.iter().enumerate() {
            if i > 0 {
                line.push('\t');
            }
            match v {
                Val::Unset => line.push('-'),
                Val::Str(s) if s.is_empty() => line.push_str("(empty)"),
                Val::Str(s) => escape_tsv(s, false, line),
                Val::Count(c) => line.push_str(itoa::Buffer::new().format(*c)),
                Val::Int(c) => line.push_str(itoa::Buffer::new().format(*c)),
                Val::Double(d) | Val::Interval(d) => push_fmt6(*d, line),
                Val::Time(t) => push_time(*t, line),
                Val::Bool(b) => line.push(if *b { 'T' } else { 'F' }),
                Val::Addr(a) => push_addr(*a, line),
                Val::Port(p) => line.push_str(itoa::Buffer::new().format(*p)),
                Val::List(l) if l.is_empty() => line.push_str("(empty)"),
                Val::List(l) => {
                    for (j, s) in l.iter().enumerate() {
                        if j > 0 {
                            line.push(',');
                        }
                        escape_tsv(s, true, line);
                    }
                }
                Val::Intervals(l) if l.is_empty() => line.push_str("(empty)"),
                Val::Intervals(l) => {
                    for (j, d) in l.iter().enumerate() {
                        if j > 0 {
                            line.push(',');
                        }
                        push_fmt6(*d, line);
                    }
                }
            }
        }
    }

    fn render_json(&mut self, vals: &[Val<'_>]) {
        self.line.push('{');
        let mut first = true;
        for ((name, _), v) in self.spec.fields.iter().zip(vals) {
            let rendered = match v {
                Val::Unset => continue,
                Val::Str(s) => serde_json::Value::from(s.as_ref()).to_string(),
                Val::Count(c) => c.to_string(),
                Val::Int(c) => c.to_string(),
                Val::Double(d) | Val::Interval(d) => fmt6(*d),
                Val::Time(t) => t.zeek(),
                Val::Bool(b) => b.to_string(),
                Val::Addr(a) => format!("\"{a}\""),
                Val::Port(p) => p.to_string(),
                Val::List(l) => serde_json::Value::from(l.to_vec()).to_string(),
                Val::Intervals(l) => format!("[{}]", l.iter().map(|d| fmt6(*d)).collect::<Vec<_>>().join(",")),
            };
            if !first {
                self.line.push(',');
            }
            first = false;
            self.line.push('"');
            self.line.push_str(name);
            self.line.push_str("\":");
            self.line.push_str(&rendered);
        }
        self.line.push('}');
    }

    /// Writes the `#close` line (TSV; nothing when no record was written) and returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        let mut out = self.out.take().ok_or_else(finished)?;
        out.write_all(self.line.as_bytes())?;
        self.line.clear();
        if self.format == Format::Tsv && self.started {
            let ts = self.last_ts.unwrap_or_default();
            writeln!(out, "#close\t{}", zeek_date(ts))?;
        }
        out.flush()?;
        Ok(out)
    }

    pub fn has_records(&self) -> bool {
        self.started
    }
}

pub static CONN: LogSpec = LogSpec {
    path: "conn",
    fields: &[
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("proto", "enum"),
        ("service", "string"),
        ("duration", "interval"),
        ("orig_bytes", "count"),
        ("resp_bytes", "count"),
        ("conn_state", "string"),
        ("local_orig", "bool"),
        ("local_resp", "bool"),
        ("missed_bytes", "count"),
        ("history", "string"),
        ("orig_pkts", "count"),
        ("orig_ip_bytes", "count"),
        ("resp_pkts", "count"),
        ("resp_ip_bytes", "count"),
        ("tunnel_parents", "set[string]"),
        ("ip_proto", "count"),
        ("community_id", "string"),
    ],
};

pub static SSL: LogSpec = LogSpec {
    path: "ssl",
    fields: &[
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("version", "string"),
        ("cipher", "string"),
        ("curve", "string"),
        ("server_name", "string"),
        ("resumed", "bool"),
        ("last_alert", "string"),
        ("next_protocol", "string"),
        ("established", "bool"),
        ("ssl_history", "string"),
        ("cert_chain_fps", "vector[string]"),
        ("client_cert_chain_fps", "vector[string]"),
        ("sni_matches_cert", "bool"),
        ("ja4", "string"),
        ("ja3", "string"),
        ("ja3s", "string"),
    ],
};

pub static DNS: LogSpec = LogSpec {
    path: "dns",
    fields: &[
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("proto", "enum"),
        ("trans_id", "count"),
        ("rtt", "interval"),
        ("query", "string"),
        ("qclass", "count"),
        ("qclass_name", "string"),
        ("qtype", "count"),
        ("qtype_name", "string"),
        ("rcode", "count"),
        ("rcode_name", "string"),
        ("AA", "bool"),
        ("TC", "bool"),
        ("RD", "bool"),
        ("RA", "bool"),
        ("Z", "count"),
        ("answers", "vector[string]"),
        ("TTLs", "vector[interval]"),
        ("rejected", "bool"),
    ],
};

pub static HTTP: LogSpec = LogSpec {
    path: "http",
    fields: &[
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("trans_depth", "count"),
        ("method", "string"),
        ("host", "string"),
        ("uri", "string"),
        ("referrer", "string"),
        ("version", "string"),
        ("user_agent", "string"),
        ("origin", "string"),
        ("request_body_len", "count"),
        ("response_body_len", "count"),
        ("status_code", "count"),
        ("status_msg", "string"),
        ("info_code", "count"),
        ("info_msg", "string"),
        ("tags", "set[enum]"),
        ("username", "string"),
        ("password", "string"),
        ("proxied", "set[string]"),
        ("orig_fuids", "vector[string]"),
        ("orig_filenames", "vector[string]"),
        ("orig_mime_types", "vector[string]"),
        ("resp_fuids", "vector[string]"),
        ("resp_filenames", "vector[string]"),
        ("resp_mime_types", "vector[string]"),
    ],
};

pub static SSH: LogSpec = LogSpec {
    path: "ssh",
    fields: &[
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("version", "count"),
        ("auth_success", "bool"),
        ("auth_attempts", "count"),
        ("direction", "enum"),
        ("client", "string"),
        ("server", "string"),
        ("cipher_alg", "string"),
        ("mac_alg", "string"),
        ("compression_alg", "string"),
        ("kex_alg", "string"),
        ("host_key_alg", "string"),
        ("host_key", "string"),
        ("hassh", "string"),
        ("hasshServer", "string"),
    ],
};

pub static SMB_MAPPING: LogSpec = LogSpec {
    path: "smb_mapping",
    fields: &[
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("path", "string"),
        ("service", "string"),
        ("native_file_system", "string"),
        ("share_type", "string"),
    ],
};

pub static SMB_FILES: LogSpec = LogSpec {
    path: "smb_files",
    fields: &[
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("fuid", "string"),
        ("action", "enum"),
        ("path", "string"),
        ("name", "string"),
        ("size", "count"),
        ("prev_name", "string"),
        ("times.modified", "time"),
        ("times.accessed", "time"),
        ("times.created", "time"),
        ("times.changed", "time"),
        ("data_offset_req", "count"),
        ("data_len_req", "count"),
        ("data_offset_rsp", "count"),
    ],
};

pub static DCE_RPC: LogSpec = LogSpec {
    path: "dce_rpc",
    fields: &[
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("rtt", "interval"),
        ("named_pipe", "string"),
        ("endpoint", "string"),
        ("operation", "string"),
        ("count", "count"),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_escapes_attacker_text() {
        let mut s = String::new();
        escape_tsv("evil\tname\n\\x,y", true, &mut s);
        assert_eq!(s, "evil\\x09name\\x0a\\x5cx\\x2cy");
        let mut s = String::new();
        escape_tsv("-", false, &mut s);
        assert_eq!(s, "\\x2d");
        let mut s = String::new();
        escape_tsv("(empty)", false, &mut s);
        assert_eq!(s, "\\x28empty)");
        let mut s = String::new();
        escape_tsv("bücher.example\u{85}", false, &mut s);
        assert_eq!(s, "bücher.example\\xc2\\x85");
    }

    #[test]
    fn fast_formatters_equal_the_standard_ones() {
        for ns in [0i64, 1, 999, 1_000, 1_300_000_000_123_456_789, -1, -1_500_000_000, i64::MAX, i64::MIN] {
            let mut s = String::new();
            push_time(Timestamp(ns), &mut s);
            assert_eq!(s, Timestamp(ns).zeek(), "{ns}");
        }
        for a in ["0.0.0.0", "10.1.22.255", "255.255.255.255", "::", "2001:db8::1", "::ffff:1.2.3.4", "fe80::1:2:3:4"] {
            let ip: IpAddr = a.parse().unwrap();
            let mut s = String::new();
            push_addr(ip, &mut s);
            assert_eq!(s, ip.to_string());
        }
        let mut s = String::new();
        for b in [0u8, 9, 0x1f, 0x7f, 0xff] {
            push_hex_escape(b, &mut s);
        }
        assert_eq!(s, "\\x00\\x09\\x1f\\x7f\\xff");
    }

    /// The exact integer path of `push_fmt6` prints what `{:.6}` prints, ties and awkward
    /// magnitudes included.
    #[test]
    fn fmt6_fast_path_equals_the_formatter() {
        let mut vals = vec![
            0.0,
            -0.0,
            1e-9,
            4.999_999e-7,
            5e-7,
            5.000_001e-7,
            0.0078125,
            0.5,
            1.0,
            0.1,
            0.3,
            2.675,
            1e-300,
            5e-324,
            123_456.789_012_5,
            8.796_093_022_208e12,
            8.8e12,
            1e15,
            1e300,
            -1.5,
            -1e-9,
            f64::MAX,
            f64::MIN_POSITIVE,
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..40_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Durations from nanosecond counts, as the flow table makes them, plus raw bit patterns.
            vals.push((x % 10_000_000_000_000) as f64 / 1e9);
            vals.push((x >> 20) as f64 / 1e6);
            vals.push(f64::from_bits(x >> 1));
            vals.push(i as f64 / 128.0);
        }
        for v in vals {
            let mut s = String::new();
            push_fmt6(v, &mut s);
            let want = if v.is_finite() { format!("{v:.6}") } else { "0.000000".to_string() };
            assert_eq!(s, want, "{v:e}");
        }
    }

    #[test]
    fn tsv_fast_path_equals_the_escaping_loop() {
        for b in 0..=255u8 {
            assert_eq!(PLAIN[b as usize], (0x20..0x7f).contains(&b) && b != b'\\', "{b:#x}");
        }
        for (s, in_set) in [("plain.example", false), ("a,b", true), ("a,b", false), ("~ !", false), ("tab\there", false)] {
            let mut fast = String::new();
            escape_tsv(s, in_set, &mut fast);
            let slow: String = s
                .chars()
                .map(|c| if c == '\\' || (in_set && c == ',') || c == '\t' { format!("\\x{:02x}", c as u32) } else { c.to_string() })
                .collect();
            assert_eq!(fast, slow, "{s:?}");
        }
    }

    /// A writer dropped without `finish` still hands over its rows (no `#close`), as the
    /// buffered writer under it used to.
    #[test]
    fn rows_survive_a_writer_dropped_without_finish() {
        static T: LogSpec = LogSpec { path: "t", fields: &[("ts", "time"), ("n", "count")] };
        let mut out = Vec::new();
        let ts = Timestamp::from_secs(1_300_000_000);
        let mut w = LogWriter::new(&mut out, &T, Format::Tsv);
        for n in 0..3 {
            w.write(ts, &[Val::Time(ts), Val::Count(n)]).unwrap();
        }
        drop(w);
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(rows, ["1300000000.000000\t0", "1300000000.000000\t1", "1300000000.000000\t2"]);
        assert!(!text.contains("#close"));
    }

    #[test]
    fn tsv_header_rows_and_close() {
        static T: LogSpec = LogSpec { path: "t", fields: &[("ts", "time"), ("n", "count"), ("s", "set[string]"), ("b", "bool")] };
        let mut w = LogWriter::new(Vec::new(), &T, Format::Tsv);
        let ts = Timestamp::from_secs(1_300_000_000);
        w.write(ts, &[Val::Time(ts), Val::Count(3), Val::List(Cow::Owned(vec![])), Val::Unset]).unwrap();
        w.write(ts, &[Val::Time(ts), Val::Unset, Val::List(Cow::Owned(vec!["a".into(), "b,c".into()])), Val::Bool(true)]).unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "#separator \\x09");
        assert_eq!(lines[1], "#set_separator\t,");
        assert_eq!(lines[4], "#path\tt");
        assert_eq!(lines[5], "#open\t2011-03-13-07-06-40");
        assert_eq!(lines[6], "#fields\tts\tn\ts\tb");
        assert_eq!(lines[7], "#types\ttime\tcount\tset[string]\tbool");
        assert_eq!(lines[8], "1300000000.000000\t3\t(empty)\t-");
        assert_eq!(lines[9], "1300000000.000000\t-\ta,b\\x2cc\tT");
        assert!(lines[10].starts_with("#close\t"));
    }

    #[test]
    fn json_omits_unset_and_escapes() {
        static T: LogSpec = LogSpec { path: "t", fields: &[("ts", "time"), ("id.orig_h", "addr"), ("q", "string"), ("u", "count")] };
        let mut w = LogWriter::new(Vec::new(), &T, Format::Json);
        let ts = Timestamp::from_secs(5);
        w.write(ts, &[Val::Time(ts), Val::Addr("10.0.0.1".parse().unwrap()), Val::Str("a\"\n".into()), Val::Unset]).unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(out, "{\"ts\":5.000000,\"id.orig_h\":\"10.0.0.1\",\"q\":\"a\\\"\\n\"}\n");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["q"], "a\"\n");
    }
}
