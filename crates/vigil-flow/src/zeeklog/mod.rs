//! Zeek log writers: `conn.log`, `ssl.log`, `dns.log`, `http.log` and `ssh.log` from `Conn`
//! records, as Zeek's ASCII writer prints them (TSV with the `#separator`…`#close` header lines)
//! or as Zeek's JSON lines. Column sets follow Zeek 7 plus Vigil's additions (`community_id` in
//! conn.log, `ja4`/`ja3`/`ja3s` in ssl.log, `hassh`/`hasshServer` in ssh.log).
//!
//! Every string may come from an attacker (SNI, DNS names, HTTP headers), so TSV values are
//! escaped as Zeek does: control bytes, DEL and backslash as `\xNN`, the set separator inside
//! containers, and values that would read as the unset (`-`) or empty (`(empty)`) markers.

mod names;
mod records;

pub use names::{cipher_name, curve_name, tls_version_name};
pub use records::{ConnLogs, conn_values, dns_values, http_values, ssh_values, ssl_values};

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
    out: W,
    spec: &'static LogSpec,
    format: Format,
    started: bool,
    last_ts: Option<Timestamp>,
    line: String,
}

fn zeek_date(ts: Timestamp) -> String {
    ts.to_utc().format("%Y-%m-%d-%H-%M-%S").to_string()
}

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

/// Zeek's fixed six decimals, appended in place.
fn push_fmt6(v: f64, out: &mut String) {
    if v.is_finite() {
        let _ = write!(out, "{v:.6}");
    } else {
        out.push_str("0.000000");
    }
}

/// Zeek's `time`: seconds with six decimals, from integer nanoseconds (no float rounding).
fn push_time(t: Timestamp, out: &mut String) {
    let us = t.0.div_euclid(1_000);
    out.push_str(itoa::Buffer::new().format(us.div_euclid(1_000_000)));
    out.push('.');
    let frac = us.rem_euclid(1_000_000);
    let mut b = itoa::Buffer::new();
    let digits = b.format(frac);
    for _ in digits.len()..6 {
        out.push('0');
    }
    out.push_str(digits);
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
        LogWriter { out, spec, format, started: false, last_ts: None, line: String::with_capacity(512) }
    }

    fn header(&mut self, ts: Timestamp) -> io::Result<()> {
        if self.format == Format::Json {
            return Ok(());
        }
        let names: Vec<&str> = self.spec.fields.iter().map(|f| f.0).collect();
        let types: Vec<&str> = self.spec.fields.iter().map(|f| f.1).collect();
        write!(
            self.out,
            "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t{}\n#open\t{}\n#fields\t{}\n#types\t{}\n",
            self.spec.path,
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
        self.line.clear();
        match self.format {
            Format::Tsv => self.render_tsv(vals),
            Format::Json => self.render_json(vals),
        }
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())
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
        if self.format == Format::Tsv && self.started {
            let ts = self.last_ts.unwrap_or_default();
            writeln!(self.out, "#close\t{}", zeek_date(ts))?;
        }
        self.out.flush()?;
        Ok(self.out)
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
