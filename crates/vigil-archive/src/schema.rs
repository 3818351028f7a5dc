//! The archive's columns: Zeek conn.log fields plus the application metadata analysts hunt with
//! (SNI, JA4, DNS query, HTTP host and user agent, SSH banners, entropy). Addresses are stored as
//! text so any Parquet reader can filter on them; repeated values dictionary-encode to a few bits.
//!
//! File versions (key `vigil.archive.schema` in each part's key-value metadata):
//! * 1 (no key): `duration` as float64 seconds.
//! * 2: `duration` as `DECIMAL(18,6)` seconds, i.e. whole microseconds (Zeek's precision) in a
//!   64-bit integer, which compresses to half the bytes of a float with random low mantissa bits.
//! * 3: adds `dns_rcode`, `dns_rd` and `dns_answers` (of the first DNS transaction), so a window
//!   of records restored from the archive (`vigil watch` after a restart) tells failed lookups,
//!   iterative resolvers and followed answers apart as the records did when they were fresh.
//!   Parts of earlier versions read these as absent.
//! * 4: adds what the detectors match or score that was still lost, so records archived and
//!   read back are judged as they were fresh: `ja3`, `cert_sha256`, `cert_sha1`,
//!   `cert_chain_sha256` (indicator matches), `http_method`, `http_uri`, `http_status`
//!   (admin paths, proxies), `ssh_auth_success`, and `smb_dce_rpc`: a session's SMB and
//!   DCE-RPC metadata as JSON (rare records; JSON so that parts stay readable as the model
//!   grows). Hashes repeat per client and server, so their dictionaries keep them to a few bits.
//!
//! [`conn_schema`] is the table as readers see it (duration in float64 seconds, whatever the file
//! version); [`file_schema`] is what version-2 parts store. Readers of this crate accept both.

use arrow_array::builder::{
    BooleanBuilder, Decimal128Builder, Float32Builder, ListBuilder, StringBuilder, UInt8Builder, UInt16Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use std::sync::{Arc, OnceLock};
use vigil_model::{Conn, proto_name};

/// Version of the part files this crate writes.
pub const SCHEMA_VERSION: u32 = 4;
/// Key-value metadata key holding [`SCHEMA_VERSION`] in each part file.
pub const SCHEMA_VERSION_KEY: &str = "vigil.archive.schema";

/// Precision and scale of the stored duration: seconds with six decimals.
const DURATION_PRECISION: u8 = 18;
const DURATION_SCALE: i8 = 6;

/// The archive's table as readers see it: version-1 files store exactly this; version-2 files
/// store `duration` as a decimal that readers cast to float64 seconds.
pub fn conn_schema() -> Arc<Schema> {
    static S: OnceLock<Arc<Schema>> = OnceLock::new();
    S.get_or_init(|| {
        let s = |n: &str| Field::new(n, DataType::Utf8, true);
        let u64f = |n: &str| Field::new(n, DataType::UInt64, true);
        Arc::new(Schema::new(vec![
            Field::new("ts", DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), false),
            Field::new("orig_h", DataType::Utf8, false),
            Field::new("orig_p", DataType::UInt16, false),
            Field::new("resp_h", DataType::Utf8, false),
            Field::new("resp_p", DataType::UInt16, false),
            Field::new("proto", DataType::UInt8, false),
            s("transport"),
            s("service"),
            Field::new("duration", DataType::Float64, true),
            u64f("orig_bytes"),
            u64f("resp_bytes"),
            s("conn_state"),
            s("history"),
            u64f("missed_bytes"),
            u64f("orig_pkts"),
            u64f("orig_ip_bytes"),
            u64f("resp_pkts"),
            u64f("resp_ip_bytes"),
            Field::new("open", DataType::Boolean, false),
            s("source"),
            s("server_name"),
            Field::new("tls_version", DataType::UInt16, true),
            s("ja4"),
            s("dns_query"),
            Field::new("dns_qtype", DataType::UInt16, true),
            s("http_host"),
            s("http_user_agent"),
            s("ssh_client"),
            s("ssh_server"),
            Field::new("orig_entropy", DataType::Float32, true),
            Field::new("resp_entropy", DataType::Float32, true),
            Field::new("dns_rcode", DataType::UInt16, true),
            Field::new("dns_rd", DataType::Boolean, true),
            Field::new("dns_answers", text_list(), true),
            s("ja3"),
            s("cert_sha256"),
            s("cert_sha1"),
            Field::new("cert_chain_sha256", text_list(), true),
            s("http_method"),
            s("http_uri"),
            Field::new("http_status", DataType::UInt16, true),
            Field::new("ssh_auth_success", DataType::Boolean, true),
            s("smb_dce_rpc"),
        ]))
    })
    .clone()
}

/// What version-2 part files store: [`conn_schema`] with `duration` as `DECIMAL(18,6)`.
pub fn file_schema() -> Arc<Schema> {
    static S: OnceLock<Arc<Schema>> = OnceLock::new();
    S.get_or_init(|| {
        let fields: Vec<Field> = conn_schema()
            .fields()
            .iter()
            .map(|f| match f.name().as_str() {
                "duration" => Field::new("duration", DataType::Decimal128(DURATION_PRECISION, DURATION_SCALE), true),
                _ => f.as_ref().clone(),
            })
            .collect();
        Arc::new(Schema::new(fields))
    })
    .clone()
}

/// Seconds as whole microseconds, the stored decimal's unscaled value; NULL for what a
/// `DECIMAL(18,6)` cannot hold (non-finite or beyond 10^12 s), never a wrapped value.
fn duration_micros(secs: f64) -> Option<i128> {
    const MAX: f64 = 999_999_999_999_999_999.0;
    let us = (secs * 1e6).round();
    (us.is_finite() && us.abs() <= MAX).then_some(us as i128)
}

/// The identity of a record for de-duplication: event time and five-tuple.
pub fn key_of(c: &Conn) -> u64 {
    with_addr_text(c.orig_h, |o| with_addr_text(c.resp_h, |r| key_parts(c.ts.0, o, c.orig_p, r, c.resp_p, c.proto)))
}

/// Runs `f` on an address's text (its `Display` form, as stored) without a heap allocation:
/// ingest formats two addresses per record for the key and two for the columns.
fn with_addr_text<R>(ip: std::net::IpAddr, f: impl FnOnce(&str) -> R) -> R {
    use std::io::Write;
    // The longest address text (IPv6 with an embedded IPv4 tail) is 45 bytes.
    let mut buf = [0u8; 64];
    let mut cur = std::io::Cursor::new(&mut buf[..]);
    if write!(cur, "{ip}").is_ok() {
        let n = usize::try_from(cur.position()).unwrap_or(0);
        if let Some(s) = buf.get(..n).and_then(|b| std::str::from_utf8(b).ok()) {
            return f(s);
        }
    }
    f(&ip.to_string())
}

/// FNV-1a over the key fields, as text where they are stored as text, so that the key computed
/// from a record and the key computed from its archived columns agree.
pub fn key_parts(ts: i64, orig_h: &str, orig_p: u16, resp_h: &str, resp_p: u16, proto: u8) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: &[u8]| {
        for &x in b {
            h ^= x as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0x1f;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    eat(&ts.to_le_bytes());
    eat(orig_h.as_bytes());
    eat(&orig_p.to_le_bytes());
    eat(resp_h.as_bytes());
    eat(&resp_p.to_le_bytes());
    eat(&[proto]);
    h
}

/// A list of text, the type of `dns_answers` and `cert_chain_sha256`.
fn text_list() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

/// A builder of a [`text_list`] column.
fn text_list_builder() -> ListBuilder<StringBuilder> {
    ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new("item", DataType::Utf8, true)))
}

/// Appends one row to a [`text_list`] column: null when there are no items.
fn append_text_list(b: &mut ListBuilder<StringBuilder>, items: &[String]) {
    for v in items {
        b.values().append_value(v);
    }
    b.append(!items.is_empty());
}

/// The `smb_dce_rpc` object of a record: its SMB and DCE-RPC metadata, None without either.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct SmbDceRpc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    smb: Option<Box<vigil_model::SmbMeta>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dce_rpc: Option<Box<vigil_model::DceRpcMeta>>,
}

fn smb_dce_rpc_json(c: &Conn) -> Option<String> {
    if c.app.smb.is_none() && c.app.dce_rpc.is_none() {
        return None;
    }
    serde_json::to_string(&SmbDceRpc { smb: c.app.smb.clone(), dce_rpc: c.app.dce_rpc.clone() }).ok()
}

/// Strings of a list column's row (a null row or a null item gives nothing).
fn list_strings(l: &arrow_array::ListArray, i: usize) -> Result<Vec<String>, String> {
    use arrow_array::{Array, StringArray};
    if l.is_null(i) {
        return Ok(Vec::new());
    }
    let v = l.value(i);
    let sa = v.as_any().downcast_ref::<StringArray>().ok_or("a list column of the wrong type")?;
    Ok((0..sa.len()).filter(|&j| !sa.is_null(j)).map(|j| sa.value(j).to_string()).collect())
}

pub fn conns_to_batch(conns: &[&Conn]) -> RecordBatch {
    let n = conns.len();
    let ts = TimestampNanosecondArray::from(conns.iter().map(|c| c.ts.0).collect::<Vec<_>>()).with_timezone("UTC");
    let mut orig_h = StringBuilder::with_capacity(n, n * 12);
    let mut orig_p = UInt16Builder::with_capacity(n);
    let mut resp_h = StringBuilder::with_capacity(n, n * 12);
    let mut resp_p = UInt16Builder::with_capacity(n);
    let mut proto = UInt8Builder::with_capacity(n);
    let mut transport = StringBuilder::new();
    let mut service = StringBuilder::new();
    let mut duration = Decimal128Builder::with_capacity(n).with_data_type(DataType::Decimal128(DURATION_PRECISION, DURATION_SCALE));
    let mut ob = UInt64Builder::with_capacity(n);
    let mut rb = UInt64Builder::with_capacity(n);
    let mut state = StringBuilder::new();
    let mut history = StringBuilder::new();
    let mut missed = UInt64Builder::with_capacity(n);
    let mut op = UInt64Builder::with_capacity(n);
    let mut oip = UInt64Builder::with_capacity(n);
    let mut rp = UInt64Builder::with_capacity(n);
    let mut rip = UInt64Builder::with_capacity(n);
    let mut open = BooleanBuilder::with_capacity(n);
    let mut source = StringBuilder::new();
    let mut sni = StringBuilder::new();
    let mut tls_version = UInt16Builder::with_capacity(n);
    let mut ja4 = StringBuilder::new();
    let mut dnsq = StringBuilder::new();
    let mut dnst = UInt16Builder::with_capacity(n);
    let mut hhost = StringBuilder::new();
    let mut ua = StringBuilder::new();
    let mut sshc = StringBuilder::new();
    let mut sshs = StringBuilder::new();
    let mut oe = Float32Builder::with_capacity(n);
    let mut re = Float32Builder::with_capacity(n);
    let mut drc = UInt16Builder::with_capacity(n);
    let mut drd = BooleanBuilder::with_capacity(n);
    let mut dans = text_list_builder();
    let mut ja3 = StringBuilder::new();
    let mut csha256 = StringBuilder::new();
    let mut csha1 = StringBuilder::new();
    let mut chain = text_list_builder();
    let mut hmethod = StringBuilder::new();
    let mut huri = StringBuilder::new();
    let mut hstatus = UInt16Builder::with_capacity(n);
    let mut sshok = BooleanBuilder::with_capacity(n);
    let mut smbrpc = StringBuilder::new();
    for c in conns {
        with_addr_text(c.orig_h, |t| orig_h.append_value(t));
        orig_p.append_value(c.orig_p);
        with_addr_text(c.resp_h, |t| resp_h.append_value(t));
        resp_p.append_value(c.resp_p);
        proto.append_value(c.proto);
        transport.append_value(proto_name(c.proto));
        service.append_option(c.service.as_deref());
        duration.append_option(c.duration.and_then(duration_micros));
        ob.append_option(c.orig_bytes);
        rb.append_option(c.resp_bytes);
        state.append_value(c.conn_state.as_str());
        history.append_value(&c.history);
        missed.append_value(c.missed_bytes);
        op.append_value(c.orig_pkts);
        oip.append_value(c.orig_ip_bytes);
        rp.append_value(c.resp_pkts);
        rip.append_value(c.resp_ip_bytes);
        open.append_value(c.open);
        source.append_value(serde_plain(&c.source));
        let tls = c.app.tls.as_deref();
        sni.append_option(c.server_name());
        tls_version.append_option(tls.and_then(|t| t.version));
        ja4.append_option(tls.and_then(|t| t.ja4.as_deref()));
        let dns = c.app.dns.first();
        dnsq.append_option(dns.and_then(|d| d.query.as_deref()));
        dnst.append_option(dns.and_then(|d| d.qtype));
        drc.append_option(dns.and_then(|d| d.rcode));
        drd.append_option(dns.map(|d| d.rd));
        append_text_list(&mut dans, dns.map_or(&[], |d| d.answers.as_slice()));
        let http = c.app.http.first();
        hhost.append_option(http.and_then(|h| h.host.as_deref()));
        ua.append_option(http.and_then(|h| h.user_agent.as_deref()));
        let ssh = c.app.ssh.as_deref();
        sshc.append_option(ssh.and_then(|s| s.client.as_deref()));
        sshs.append_option(ssh.and_then(|s| s.server.as_deref()));
        oe.append_option(c.app.orig_entropy);
        re.append_option(c.app.resp_entropy);
        ja3.append_option(tls.and_then(|t| t.ja3.as_deref()));
        let cert = tls.and_then(|t| t.cert.as_ref());
        csha256.append_option(cert.map(|c| c.sha256.as_str()).filter(|h| !h.is_empty()));
        csha1.append_option(cert.map(|c| c.sha1.as_str()).filter(|h| !h.is_empty()));
        append_text_list(&mut chain, tls.map_or(&[], |t| t.cert_chain_sha256.as_slice()));
        hmethod.append_option(http.and_then(|h| h.method.as_deref()));
        huri.append_option(http.and_then(|h| h.uri.as_deref()));
        hstatus.append_option(http.and_then(|h| h.status_code));
        sshok.append_option(ssh.and_then(|s| s.auth_success));
        smbrpc.append_option(smb_dce_rpc_json(c));
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(ts),
        Arc::new(orig_h.finish()),
        Arc::new(orig_p.finish()),
        Arc::new(resp_h.finish()),
        Arc::new(resp_p.finish()),
        Arc::new(proto.finish()),
        Arc::new(transport.finish()),
        Arc::new(service.finish()),
        Arc::new(duration.finish()),
        Arc::new(ob.finish()),
        Arc::new(rb.finish()),
        Arc::new(state.finish()),
        Arc::new(history.finish()),
        Arc::new(missed.finish()),
        Arc::new(op.finish()),
        Arc::new(oip.finish()),
        Arc::new(rp.finish()),
        Arc::new(rip.finish()),
        Arc::new(open.finish()),
        Arc::new(source.finish()),
        Arc::new(sni.finish()),
        Arc::new(tls_version.finish()),
        Arc::new(ja4.finish()),
        Arc::new(dnsq.finish()),
        Arc::new(dnst.finish()),
        Arc::new(hhost.finish()),
        Arc::new(ua.finish()),
        Arc::new(sshc.finish()),
        Arc::new(sshs.finish()),
        Arc::new(oe.finish()),
        Arc::new(re.finish()),
        Arc::new(drc.finish()),
        Arc::new(drd.finish()),
        Arc::new(dans.finish()),
        Arc::new(ja3.finish()),
        Arc::new(csha256.finish()),
        Arc::new(csha1.finish()),
        Arc::new(chain.finish()),
        Arc::new(hmethod.finish()),
        Arc::new(huri.finish()),
        Arc::new(hstatus.finish()),
        Arc::new(sshok.finish()),
        Arc::new(smbrpc.finish()),
    ];
    RecordBatch::try_new(file_schema(), cols).expect("columns match the schema by construction")
}

/// The duration column of either file version, in seconds.
enum Durations<'a> {
    Float(&'a arrow_array::Float64Array),
    Decimal(&'a arrow_array::Decimal128Array, f64),
}

impl<'a> Durations<'a> {
    fn of(b: &'a RecordBatch) -> Result<Durations<'a>, String> {
        use arrow_array::{Decimal128Array, Float64Array};
        let c = b.column_by_name("duration").ok_or("column duration missing")?;
        if let Some(f) = c.as_any().downcast_ref::<Float64Array>() {
            return Ok(Durations::Float(f));
        }
        match (c.as_any().downcast_ref::<Decimal128Array>(), c.data_type()) {
            (Some(d), DataType::Decimal128(_, scale)) if (0..=18).contains(scale) => {
                Ok(Durations::Decimal(d, 10f64.powi(i32::from(*scale))))
            }
            _ => Err(format!("column duration has the unexpected type {}", c.data_type())),
        }
    }

    fn get(&self, i: usize) -> Option<f64> {
        use arrow_array::Array;
        match self {
            Durations::Float(f) => (!f.is_null(i)).then(|| f.value(i)),
            // Below 2^53 µs (285 years) both operands are exact floats, so the correctly
            // rounded quotient is the float nearest the decimal: what Zeek's text would parse to.
            Durations::Decimal(d, div) => (!d.is_null(i)).then(|| d.value(i) as f64 / div),
        }
    }
}

/// Rebuilds `Conn`s from an archive batch of either file version (rows before `since` skipped).
pub fn batch_to_conns(b: &RecordBatch, since: vigil_model::Timestamp, out: &mut Vec<Conn>) -> Result<(), String> {
    use arrow_array::{Array, BooleanArray, Float32Array, ListArray, StringArray, UInt8Array, UInt16Array, UInt64Array};
    use vigil_model::{ConnState, DnsTxn, HttpTxn, SshMeta, Timestamp, TlsMeta};
    fn get<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> Result<&'a T, String> {
        b.column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<T>())
            .ok_or_else(|| format!("column {name} missing or of the wrong type"))
    }
    let ts = get::<TimestampNanosecondArray>(b, "ts")?;
    let oh = get::<StringArray>(b, "orig_h")?;
    let op = get::<UInt16Array>(b, "orig_p")?;
    let rh = get::<StringArray>(b, "resp_h")?;
    let rp = get::<UInt16Array>(b, "resp_p")?;
    let pr = get::<UInt8Array>(b, "proto")?;
    let service = get::<StringArray>(b, "service")?;
    let duration = Durations::of(b)?;
    let ob = get::<UInt64Array>(b, "orig_bytes")?;
    let rb = get::<UInt64Array>(b, "resp_bytes")?;
    let state = get::<StringArray>(b, "conn_state")?;
    let history = get::<StringArray>(b, "history")?;
    let missed = get::<UInt64Array>(b, "missed_bytes")?;
    let opk = get::<UInt64Array>(b, "orig_pkts")?;
    let oip = get::<UInt64Array>(b, "orig_ip_bytes")?;
    let rpk = get::<UInt64Array>(b, "resp_pkts")?;
    let rip = get::<UInt64Array>(b, "resp_ip_bytes")?;
    let open = get::<BooleanArray>(b, "open")?;
    let sni = get::<StringArray>(b, "server_name")?;
    let tv = get::<UInt16Array>(b, "tls_version")?;
    let ja4 = get::<StringArray>(b, "ja4")?;
    let dq = get::<StringArray>(b, "dns_query")?;
    let dt = get::<UInt16Array>(b, "dns_qtype")?;
    let hh = get::<StringArray>(b, "http_host")?;
    let ua = get::<StringArray>(b, "http_user_agent")?;
    let sc = get::<StringArray>(b, "ssh_client")?;
    let ss = get::<StringArray>(b, "ssh_server")?;
    let oe = get::<Float32Array>(b, "orig_entropy")?;
    let re = get::<Float32Array>(b, "resp_entropy")?;
    // Columns of versions 3 and 4: absent from earlier parts (read as unknown), of the wrong
    // type an error.
    fn opt<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> Result<Option<&'a T>, String> {
        match b.column_by_name(name) {
            None => Ok(None),
            Some(c) => c.as_any().downcast_ref::<T>().map(Some).ok_or_else(|| format!("column {name} of the wrong type")),
        }
    }
    let drc = opt::<UInt16Array>(b, "dns_rcode")?;
    let drd = opt::<BooleanArray>(b, "dns_rd")?;
    let dans = opt::<ListArray>(b, "dns_answers")?;
    let ja3c = opt::<StringArray>(b, "ja3")?;
    let csha256 = opt::<StringArray>(b, "cert_sha256")?;
    let csha1 = opt::<StringArray>(b, "cert_sha1")?;
    let chain = opt::<ListArray>(b, "cert_chain_sha256")?;
    let hmethod = opt::<StringArray>(b, "http_method")?;
    let huri = opt::<StringArray>(b, "http_uri")?;
    let hstatus = opt::<UInt16Array>(b, "http_status")?;
    let sshok = opt::<BooleanArray>(b, "ssh_auth_success")?;
    let smbrpc = opt::<StringArray>(b, "smb_dce_rpc")?;
    let s = |a: &StringArray, i: usize| if a.is_null(i) { None } else { Some(a.value(i).to_string()) };
    let u = |a: &UInt64Array, i: usize| if a.is_null(i) { None } else { Some(a.value(i)) };
    let u16o = |a: &UInt16Array, i: usize| if a.is_null(i) { None } else { Some(a.value(i)) };
    let f32o = |a: &Float32Array, i: usize| if a.is_null(i) { None } else { Some(a.value(i)) };
    for i in 0..b.num_rows() {
        let t = Timestamp(ts.value(i));
        if t < since {
            continue;
        }
        let (Ok(orig_h), Ok(resp_h)) = (oh.value(i).parse(), rh.value(i).parse()) else {
            return Err(format!("row {i}: unparsable address"));
        };
        let mut c = Conn::new(t, orig_h, op.value(i), resp_h, rp.value(i), pr.value(i));
        c.service = s(service, i);
        c.duration = duration.get(i);
        c.orig_bytes = u(ob, i);
        c.resp_bytes = u(rb, i);
        c.conn_state = ConnState::parse(state.value(i)).unwrap_or_default();
        c.history = history.value(i).to_string();
        c.missed_bytes = missed.value(i);
        c.orig_pkts = opk.value(i);
        c.orig_ip_bytes = oip.value(i);
        c.resp_pkts = rpk.value(i);
        c.resp_ip_bytes = rip.value(i);
        c.open = open.value(i);
        let sni_v = s(sni, i);
        let ja3_v = ja3c.and_then(|a| s(a, i));
        let sha256 = csha256.and_then(|a| s(a, i));
        let sha1 = csha1.and_then(|a| s(a, i));
        let chain_v = chain.map_or(Ok(Vec::new()), |l| list_strings(l, i))?;
        let tls_only = ja3_v.is_some() || sha256.is_some() || sha1.is_some() || !chain_v.is_empty();
        if sni_v.is_some() || !ja4.is_null(i) || !tv.is_null(i) || tls_only {
            // server_name holds the TLS SNI or, failing that, the HTTP host.
            let from_http = !hh.is_null(i) && sni_v.as_deref() == Some(hh.value(i));
            c.app.tls = (!from_http || !ja4.is_null(i) || tls_only).then(move || {
                let cert = (sha256.is_some() || sha1.is_some()).then(|| vigil_model::CertMeta {
                    sha256: sha256.unwrap_or_default(),
                    sha1: sha1.unwrap_or_default(),
                    ..Default::default()
                });
                Box::new(TlsMeta {
                    server_name: if from_http { None } else { sni_v },
                    version: u16o(tv, i),
                    ja4: s(ja4, i),
                    ja3: ja3_v,
                    cert,
                    cert_chain_sha256: chain_v,
                    ..Default::default()
                })
            });
        }
        let rcode = drc.and_then(|a| u16o(a, i));
        if !dq.is_null(i) || !dt.is_null(i) || rcode.is_some() {
            let rd = drd.is_some_and(|a| !a.is_null(i) && a.value(i));
            let answers = dans.map_or(Ok(Vec::new()), |l| list_strings(l, i))?;
            c.app.dns.push(DnsTxn { ts: t, query: s(dq, i), qtype: u16o(dt, i), rcode, rd, answers, ..Default::default() });
        }
        let method = hmethod.and_then(|a| s(a, i));
        let uri = huri.and_then(|a| s(a, i));
        let status = hstatus.and_then(|a| u16o(a, i));
        if !hh.is_null(i) || !ua.is_null(i) || method.is_some() || uri.is_some() || status.is_some() {
            c.app.http.push(HttpTxn {
                ts: t,
                host: s(hh, i),
                user_agent: s(ua, i),
                method,
                uri,
                status_code: status,
                ..Default::default()
            });
        }
        let auth = sshok.and_then(|a| (!a.is_null(i)).then(|| a.value(i)));
        if !sc.is_null(i) || !ss.is_null(i) || auth.is_some() {
            c.app.ssh = Some(Box::new(SshMeta { client: s(sc, i), server: s(ss, i), auth_success: auth, ..Default::default() }));
        }
        // SMB and DCE-RPC: an unreadable object (a damaged or foreign part) is left out.
        if let Some(j) = smbrpc.filter(|a| !a.is_null(i))
            && let Ok(x) = serde_json::from_str::<SmbDceRpc>(j.value(i))
        {
            c.app.smb = x.smb;
            c.app.dce_rpc = x.dce_rpc;
        }
        c.app.orig_entropy = f32o(oe, i);
        c.app.resp_entropy = f32o(re, i);
        out.push(c);
    }
    Ok(())
}

fn serde_plain(s: &vigil_model::Source) -> &'static str {
    use vigil_model::Source::*;
    match s {
        Pcap => "pcap",
        Live => "live",
        Zeek => "zeek",
        Suricata => "suricata",
        Netflow => "netflow",
        Simulated => "simulated",
    }
}
