//! Suricata EVE JSON → `Conn` and `Finding`. `flow` events (and pairs of unidirectional
//! `netflow` events) become connections; `tls`, `dns` (EVE v1, v2 and v3 layouts), `http` and
//! `ssh` events are held by `flow_id` in a bounded map until their flow event arrives (Suricata
//! writes a flow when it ends, after its transactions). `alert` events become `ioc_match`
//! findings carrying the signature as evidence. Wrongly typed fields are treated as absent; a
//! record without a usable five-tuple is counted and skipped.

use crate::input;
use crate::stats::ImportStats;
use crate::util::{community_id, conn_state_from_flags, history_from_flags, stable_uid};
use crate::{ImportError, ImportOptions};
use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use vigil_model::{
    AppMeta, CertMeta, Conn, DnsTxn, Finding, FindingKind, HttpTxn, PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP, PROTO_TCP, PROTO_UDP, Severity,
    Source, SshMeta, Timestamp, TlsMeta,
};

/// EVE's time format: `2021-06-06T15:59:46.457984+0200` (also accepts RFC 3339).
pub fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .ok()
        .or_else(|| DateTime::parse_from_rfc3339(s).ok())
        // No zone at all: read as UTC rather than drop the event.
        .or_else(|| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|d| d.and_utc().fixed_offset()))
}

fn ts_of(s: &str) -> Option<Timestamp> {
    parse_time(s).map(|d| Timestamp::from(d.with_timezone(&chrono::Utc)))
}

fn proto_of(v: Option<&Value>) -> Option<u8> {
    match v? {
        Value::String(s) => Some(match s.to_ascii_uppercase().as_str() {
            "TCP" => PROTO_TCP,
            "UDP" => PROTO_UDP,
            "ICMP" => PROTO_ICMP,
            "IPV6-ICMP" | "ICMPV6" => PROTO_ICMPV6,
            "SCTP" => PROTO_SCTP,
            other => other.parse().ok()?,
        }),
        Value::Number(n) => n.as_u64().and_then(|n| u8::try_from(n).ok()),
        _ => None,
    }
}

fn get<'a>(m: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut v = m.get(*first)?;
    for k in rest {
        v = v.as_object()?.get(*k)?;
    }
    Some(v)
}
fn s<'a>(m: &'a Map<String, Value>, path: &[&str]) -> Option<&'a str> {
    get(m, path)?.as_str()
}
fn n(m: &Map<String, Value>, path: &[&str]) -> Option<u64> {
    get(m, path)?.as_u64()
}
fn text(m: &Map<String, Value>, path: &[&str]) -> Option<String> {
    s(m, path).filter(|x| !x.is_empty()).map(str::to_string)
}

/// The five-tuple of an event.
#[derive(Clone, Copy, Debug)]
struct Tuple {
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
    proto: u8,
}

fn tuple(m: &Map<String, Value>) -> Option<Tuple> {
    let proto = proto_of(m.get("proto"))?;
    let src: IpAddr = s(m, &["src_ip"])?.parse().ok()?;
    let dst: IpAddr = s(m, &["dest_ip"])?.parse().ok()?;
    let (sport, dport) = if proto == PROTO_ICMP || proto == PROTO_ICMPV6 {
        (n(m, &["icmp_type"]).unwrap_or(0), n(m, &["icmp_code"]).unwrap_or(0))
    } else {
        (n(m, &["src_port"]).unwrap_or(0), n(m, &["dest_port"]).unwrap_or(0))
    };
    Some(Tuple { src, dst, sport: u16::try_from(sport).ok()?, dport: u16::try_from(dport).ok()?, proto })
}

fn tls_version(v: &str) -> Option<u16> {
    Some(match v {
        "SSLv2" => 0x0002,
        "SSLv3" => 0x0300,
        "TLSv1" | "TLS 1.0" => 0x0301,
        "TLS 1.1" => 0x0302,
        "TLS 1.2" => 0x0303,
        "TLS 1.3" => 0x0304,
        _ => return None,
    })
}

fn eve_cert_time(v: &str) -> Option<Timestamp> {
    NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S").ok().map(|d| Timestamp::from(d.and_utc()))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).take(64).collect(),
        _ => Vec::new(),
    }
}

fn tls_meta(t: &Map<String, Value>) -> TlsMeta {
    let sub = text(t, &["subject"]);
    let cert = sub.map(|subject| {
        let issuer = text(t, &["issuerdn"]).unwrap_or_default();
        CertMeta {
            self_signed: subject == issuer,
            subject,
            issuer,
            serial: text(t, &["serial"]).unwrap_or_default().replace(':', ""),
            not_before: s(t, &["notbefore"]).and_then(eve_cert_time),
            not_after: s(t, &["notafter"]).and_then(eve_cert_time),
            ..Default::default()
        }
    });
    TlsMeta {
        version: s(t, &["version"]).and_then(tls_version),
        server_name: text(t, &["sni"]),
        alpn_offered: strings(t.get("client_alpns")),
        alpn: strings(t.get("server_alpns")).into_iter().next(),
        established: true,
        ja3: text(t, &["ja3", "hash"]),
        ja3s: text(t, &["ja3s", "hash"]),
        ja4: text(t, &["ja4"]).or_else(|| text(t, &["ja4", "hash"])),
        cert,
        ..Default::default()
    }
}

/// DNS record type names Suricata prints, back to numbers.
fn rrtype(v: Option<&Value>) -> Option<u16> {
    match v? {
        Value::Number(x) => x.as_u64().and_then(|x| u16::try_from(x).ok()),
        Value::String(name) => (0u16..=300)
            .find(|t| vigil_model::dns_qtype_name(*t) == *name)
            .or_else(|| name.strip_prefix("TYPE").and_then(|d| d.parse().ok())),
        _ => None,
    }
}

fn rcode(v: Option<&Value>) -> Option<u16> {
    match v? {
        Value::Number(x) => x.as_u64().and_then(|x| u16::try_from(x).ok()),
        Value::String(name) => (0u16..=23).find(|r| vigil_model::dns_rcode_name(*r) == *name),
        _ => None,
    }
}

/// Folds one EVE dns object into the transactions of its flow (query and answer events of the
/// same DNS id become one transaction, as in Zeek's dns.log).
fn add_dns(txns: &mut Vec<DnsTxn>, d: &Map<String, Value>, ts: Timestamp) {
    let id = n(d, &["id"]).and_then(|x| u16::try_from(x).ok()).unwrap_or(0);
    let kind = s(d, &["type"]).unwrap_or("");
    let is_answer = matches!(kind, "answer" | "response");
    // v3 (Suricata 8) puts questions in `queries`; v1/v2 in `rrname`/`rrtype`.
    let q = d.get("queries").and_then(Value::as_array).and_then(|a| a.first()).and_then(Value::as_object);
    let qname = q.and_then(|q| text(q, &["rrname"])).or_else(|| text(d, &["rrname"]));
    let qtype = q.map(|q| rrtype(q.get("rrtype"))).unwrap_or_else(|| rrtype(d.get("rrtype")));
    // The same id is reused for the A and AAAA questions of one lookup: match on the question
    // too, and let an answer complete only a transaction not yet answered.
    let v1_extra_answer = is_answer && d.get("answers").is_none() && text(d, &["rdata"]).is_some();
    // Every query is a transaction (Suricata logs each, with its own tx_id); an answer
    // completes the oldest matching unanswered one.
    let pos = txns.iter().position(|t| {
        is_answer
            && t.trans_id == id
            && (qname.is_none() || t.query.is_none() || t.query == qname)
            && (qtype.is_none() || t.qtype.is_none() || t.qtype == qtype)
            && (!is_answer || t.rcode.is_none() || v1_extra_answer)
    });
    if pos.is_none() && txns.len() >= 256 {
        return;
    }
    let i = match pos {
        Some(i) => i,
        None => {
            txns.push(DnsTxn { ts, trans_id: id, ..Default::default() });
            txns.len() - 1
        }
    };
    let Some(t) = txns.get_mut(i) else { return };
    if t.query.is_none() {
        t.query = qname;
    }
    if t.qtype.is_none() {
        t.qtype = qtype;
    }
    if !is_answer {
        t.rd = d.get("rd").and_then(Value::as_bool).unwrap_or(t.rd);
        return;
    }
    if ts > t.ts {
        t.rtt = Some(crate::util::secs_between(ts, t.ts));
    }
    t.rcode = rcode(d.get("rcode")).or(t.rcode);
    for (flag, field) in [("aa", &mut t.aa), ("tc", &mut t.tc), ("rd", &mut t.rd), ("ra", &mut t.ra)] {
        if let Some(b) = d.get(flag).and_then(Value::as_bool) {
            *field = b;
        }
    }
    if let Some(answers) = d.get("answers").and_then(Value::as_array) {
        for a in answers.iter().filter_map(Value::as_object).take(64) {
            if let Some(r) = text(a, &["rdata"]) {
                t.answers.push(r);
                t.ttls.push(n(a, &["ttl"]).unwrap_or(0) as f64);
            }
        }
    } else if let Some(r) = text(d, &["rdata"]) {
        // v1: one event per answer.
        if t.answers.len() < 64 {
            t.answers.push(r);
            t.ttls.push(n(d, &["ttl"]).unwrap_or(0) as f64);
        }
    }
}

fn http_txn(h: &Map<String, Value>, ts: Timestamp) -> HttpTxn {
    HttpTxn {
        ts,
        method: text(h, &["http_method"]),
        host: text(h, &["hostname"]),
        uri: text(h, &["url"]),
        referrer: text(h, &["http_refer"]),
        version: text(h, &["protocol"]).map(|p| p.trim_start_matches("HTTP/").to_string()),
        user_agent: text(h, &["http_user_agent"]),
        request_body_len: 0,
        response_body_len: n(h, &["length"]).unwrap_or(0),
        status_code: n(h, &["status"]).and_then(|x| u16::try_from(x).ok()).or_else(|| s(h, &["status"]).and_then(|x| x.parse().ok())),
        status_msg: None,
        server: None,
        req_content_type: None,
        resp_content_type: text(h, &["http_content_type"]),
    }
}

fn ssh_meta(h: &Map<String, Value>) -> SshMeta {
    let banner = |side: &str| {
        let p = text(h, &[side, "proto_version"])?;
        let sw = text(h, &[side, "software_version"]).unwrap_or_default();
        Some(format!("SSH-{p}-{sw}"))
    };
    SshMeta {
        version: s(h, &["server", "proto_version"])
            .or(s(h, &["client", "proto_version"]))
            .map(|v| if v.starts_with('1') && v != "1.99" { 1 } else { 2 }),
        client: banner("client"),
        server: banner("server"),
        hassh: text(h, &["client", "hassh", "hash"]),
        hassh_server: text(h, &["server", "hassh", "hash"]),
        hassh_algorithms: text(h, &["client", "hassh", "string"]),
        hassh_server_algorithms: text(h, &["server", "hassh", "string"]),
        ..Default::default()
    }
}

fn service_of(app_proto: &str) -> Option<String> {
    match app_proto {
        "" | "failed" | "unknown" => None,
        "tls" => Some("ssl".into()),
        other => Some(other.to_string()),
    }
}

struct PendingApp {
    t: Tuple,
    ts: Timestamp,
    app: AppMeta,
    services: Vec<&'static str>,
    records: u64,
}

/// The join state of one EVE stream.
pub struct EveReader<'o> {
    opts: &'o ImportOptions,
    apps: HashMap<u64, PendingApp>,
    netflow_halves: HashMap<u64, Map<String, Value>>,
}

impl<'o> EveReader<'o> {
    pub fn new(opts: &'o ImportOptions) -> Self {
        EveReader { opts, apps: HashMap::new(), netflow_halves: HashMap::new() }
    }

    /// Handles one EVE line.
    pub fn line(&mut self, line: &str, stats: &mut ImportStats, conns: &mut dyn FnMut(Conn), findings: &mut dyn FnMut(Finding)) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        stats.records += 1;
        let m = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => m,
            _ => {
                stats.skip("eve: not a JSON object");
                return;
            }
        };
        let Some(event) = s(&m, &["event_type"]) else {
            stats.skip("eve: no event_type");
            return;
        };
        match event {
            "flow" | "netflow" | "alert" | "tls" | "dns" | "http" | "ssh" => {}
            // stats, anomaly, fileinfo, drop, ...: nothing for the Conn stream.
            _ => return,
        }
        let Some(t) = tuple(&m) else {
            stats.skip("eve: missing or invalid five-tuple");
            return;
        };
        let ts = s(&m, &["timestamp"]).and_then(ts_of);
        let flow_id = n(&m, &["flow_id"]);
        match event {
            "alert" => match alert_finding(&m, t, self.opts) {
                Some(f) => {
                    stats.findings += 1;
                    findings(f);
                }
                None => stats.skip("eve alert: missing timestamp or signature"),
            },
            "flow" => match flow_conn(&m, t, self.opts, None) {
                Some(mut c) => {
                    if let Some(p) = flow_id.and_then(|id| self.apps.remove(&id)) {
                        stats.app_joined += p.records;
                        merge(&mut c, p);
                    }
                    stats.conns += 1;
                    conns(c);
                }
                None => stats.skip("eve flow: missing flow.start"),
            },
            "netflow" => {
                let Some(id) = flow_id else {
                    stats.skip("eve netflow: no flow_id");
                    return;
                };
                match self.netflow_halves.remove(&id) {
                    Some(first) => {
                        let Some(t0) = tuple(&first) else { return };
                        match flow_conn(&first, t0, self.opts, Some(&m)) {
                            Some(mut c) => {
                                if let Some(p) = self.apps.remove(&id) {
                                    stats.app_joined += p.records;
                                    merge(&mut c, p);
                                }
                                stats.flows_stitched += 2;
                                stats.conns += 1;
                                conns(c);
                            }
                            None => stats.skip("eve netflow: missing netflow.start"),
                        }
                    }
                    None if self.netflow_halves.len() < self.opts.max_pending_flows => {
                        self.netflow_halves.insert(id, m);
                    }
                    None => match flow_conn(&m, t, self.opts, None) {
                        Some(c) => {
                            stats.skip("eve netflow: pairing map full, emitted one-sided");
                            stats.conns += 1;
                            conns(c);
                        }
                        None => stats.skip("eve netflow: missing netflow.start"),
                    },
                }
            }
            _ => {
                let Some(ts) = ts else {
                    stats.skip("eve: missing or invalid timestamp");
                    return;
                };
                let Some(obj) = m.get(event).and_then(Value::as_object) else {
                    stats.skip("eve: event object missing or not an object");
                    return;
                };
                let Some(id) = flow_id else {
                    stats.skip("eve: no flow_id");
                    return;
                };
                let is_dns_answer = event == "dns" && matches!(s(obj, &["type"]), Some("answer" | "response"));
                if !self.apps.contains_key(&id) && self.apps.len() >= self.opts.max_pending_app {
                    stats.skip("eve join map full: app event dropped");
                    stats.dropped += 1;
                    return;
                }
                let p = self.apps.entry(id).or_insert_with(|| PendingApp {
                    // A DNS answer travels server → client: the connection's originator is its dest.
                    t: if is_dns_answer { Tuple { src: t.dst, sport: t.dport, dst: t.src, dport: t.sport, proto: t.proto } } else { t },
                    ts,
                    app: AppMeta::default(),
                    services: Vec::new(),
                    records: 0,
                });
                p.records += 1;
                if ts < p.ts {
                    p.ts = ts;
                }
                let service = match event {
                    "tls" => {
                        p.app.tls = Some(Box::new(tls_meta(obj)));
                        "ssl"
                    }
                    "dns" => {
                        add_dns(&mut p.app.dns, obj, ts);
                        "dns"
                    }
                    "http" => {
                        if p.app.http.len() < 256 {
                            p.app.http.push(http_txn(obj, ts));
                        }
                        "http"
                    }
                    _ => {
                        p.app.ssh = Some(Box::new(ssh_meta(obj)));
                        "ssh"
                    }
                };
                if !p.services.contains(&service) {
                    p.services.push(service);
                }
            }
        }
    }

    /// Ends the stream: unpaired netflow halves and app events without a flow become Conns.
    pub fn finish(&mut self, stats: &mut ImportStats, conns: &mut dyn FnMut(Conn)) {
        let mut halves: Vec<(u64, Map<String, Value>)> = self.netflow_halves.drain().collect();
        halves.sort_by_key(|h| h.0);
        for (id, m) in halves {
            let Some(t) = tuple(&m) else { continue };
            if let Some(mut c) = flow_conn(&m, t, self.opts, None) {
                if let Some(p) = self.apps.remove(&id) {
                    stats.app_joined += p.records;
                    merge(&mut c, p);
                }
                stats.conns += 1;
                conns(c);
            }
        }
        let mut rest: Vec<(u64, PendingApp)> = self.apps.drain().collect();
        rest.sort_by(|a, b| a.1.ts.cmp(&b.1.ts).then(a.0.cmp(&b.0)));
        for (id, p) in rest {
            stats.app_orphans += p.records;
            let mut c = Conn::new(p.ts, p.t.src, p.t.sport, p.t.dst, p.t.dport, p.t.proto);
            c.source = Source::Suricata;
            c.uid = stable_uid(&[b"eve", &id.to_le_bytes()]);
            c.community_id = community_id(c.orig_h, c.orig_p, c.resp_h, c.resp_p, c.proto);
            c.local_orig = Some(self.opts.is_internal(c.orig_h));
            c.local_resp = Some(self.opts.is_internal(c.resp_h));
            merge(&mut c, p);
            if let Some(state) = crate::util::answered_state(&c.app, c.proto) {
                c.conn_state = state;
            }
            stats.conns += 1;
            conns(c);
        }
    }
}

fn merge(c: &mut Conn, p: PendingApp) {
    if c.service.is_none() && !p.services.is_empty() {
        c.service = Some(p.services.join(","));
    }
    let a = p.app;
    if a.tls.is_some() {
        c.app.tls = a.tls;
    }
    if a.ssh.is_some() {
        c.app.ssh = a.ssh;
    }
    c.app.dns.extend(a.dns);
    c.app.http.extend(a.http);
}

fn flags_hex(v: Option<&str>) -> u8 {
    v.and_then(|x| u8::from_str_radix(x, 16).ok()).unwrap_or(0)
}

/// A Conn from a `flow` event, or from two `netflow` halves (`rev` is the reverse direction).
fn flow_conn(m: &Map<String, Value>, t: Tuple, opts: &ImportOptions, rev: Option<&Map<String, Value>>) -> Option<Conn> {
    let key = if m.contains_key("flow") { "flow" } else { "netflow" };
    let start = ts_of(s(m, &[key, "start"])?)?;
    let end = s(m, &[key, "end"]).and_then(ts_of).unwrap_or(start).max(start);
    let mut c = Conn::new(start, t.src, t.sport, t.dst, t.dport, t.proto);
    c.source = Source::Suricata;
    let (op, ob, rp, rb, of, rf);
    if key == "flow" {
        op = n(m, &["flow", "pkts_toserver"]).unwrap_or(0);
        ob = n(m, &["flow", "bytes_toserver"]).unwrap_or(0);
        rp = n(m, &["flow", "pkts_toclient"]).unwrap_or(0);
        rb = n(m, &["flow", "bytes_toclient"]).unwrap_or(0);
        of = flags_hex(s(m, &["tcp", "tcp_flags_ts"]));
        rf = flags_hex(s(m, &["tcp", "tcp_flags_tc"]));
    } else {
        op = n(m, &["netflow", "pkts"]).unwrap_or(0);
        ob = n(m, &["netflow", "bytes"]).unwrap_or(0);
        of = flags_hex(s(m, &["tcp", "tcp_flags"]));
        match rev {
            Some(r) => {
                rp = n(r, &["netflow", "pkts"]).unwrap_or(0);
                rb = n(r, &["netflow", "bytes"]).unwrap_or(0);
                rf = flags_hex(s(r, &["tcp", "tcp_flags"]));
            }
            None => (rp, rb, rf) = (0, 0, 0),
        }
    }
    let end = match rev.and_then(|r| s(r, &["netflow", "end"])).and_then(ts_of) {
        Some(e) if e > end => e,
        _ => end,
    };
    c.duration = Some(crate::util::secs_between(end, start));
    c.orig_pkts = op;
    c.orig_ip_bytes = ob;
    c.resp_pkts = rp;
    c.resp_ip_bytes = rb;
    c.conn_state = conn_state_from_flags(t.proto, of, rf, rp);
    if t.proto == PROTO_TCP {
        c.history = history_from_flags(of, rf, op, rp);
    }
    c.service = s(m, &["app_proto"]).and_then(service_of);
    c.open = matches!(s(m, &["flow", "state"]), Some("new" | "established")) && s(m, &["flow", "reason"]) == Some("shutdown");
    if let Some(v) = m.get("vlan").and_then(Value::as_array) {
        c.vlan = v.first().and_then(Value::as_u64).and_then(|x| u16::try_from(x).ok());
        c.inner_vlan = v.get(1).and_then(Value::as_u64).and_then(|x| u16::try_from(x).ok());
    }
    c.community_id = text(m, &["community_id"]).unwrap_or_else(|| community_id(t.src, t.sport, t.dst, t.dport, t.proto));
    let mac = |k: &str| {
        let v = s(m, &["ether", k])?;
        let mut out = [0u8; 6];
        let mut parts = v.split(':');
        for o in out.iter_mut() {
            *o = u8::from_str_radix(parts.next()?, 16).ok()?;
        }
        parts.next().is_none().then_some(out)
    };
    c.orig_l2_addr = mac("src_mac");
    c.resp_l2_addr = mac("dest_mac");
    c.local_orig = Some(opts.is_internal(t.src));
    c.local_resp = Some(opts.is_internal(t.dst));
    let fid = n(m, &["flow_id"]).unwrap_or(0);
    c.uid = stable_uid(&[b"eve", &fid.to_le_bytes(), &start.0.to_le_bytes()]);
    Some(c)
}

/// Suricata severity 1 (highest) .. 3 (lowest); 4 and above are informational.
pub fn severity_of(s: u64) -> (Severity, f64) {
    match s {
        1 => (Severity::High, 0.8),
        2 => (Severity::Medium, 0.6),
        3 => (Severity::Low, 0.4),
        _ => (Severity::Info, 0.2),
    }
}

fn alert_finding(m: &Map<String, Value>, t: Tuple, opts: &ImportOptions) -> Option<Finding> {
    let when = parse_time(s(m, &["timestamp"])?)?;
    let a = m.get("alert")?.as_object()?;
    let sid = n(a, &["signature_id"])?;
    let signature = text(a, &["signature"]).unwrap_or_else(|| format!("signature {sid}"));
    let category = text(a, &["category"]).unwrap_or_default();
    let sev_num = n(a, &["severity"]).unwrap_or(3);
    let (severity, score) = severity_of(sev_num);
    // The internal side is the subject; if both or neither are internal, the alert's source.
    let (src, sport, dst, dport) = if !opts.is_internal(t.src) && opts.is_internal(t.dst) {
        (t.dst, t.dport, t.src, t.sport)
    } else {
        (t.src, t.sport, t.dst, t.dport)
    };
    let attack: Vec<String> = get(a, &["metadata", "mitre_technique_id"])
        .map(|v| strings(Some(v)))
        .unwrap_or_default()
        .into_iter()
        .filter(|x| x.len() <= 16 && x.starts_with('T'))
        .collect();
    let (src_s, dst_s) = (src.to_string(), dst.to_string());
    let id = Finding::stable_id(
        FindingKind::IocMatch,
        &["suricata", &sid.to_string(), &src_s, &sport.to_string(), &dst_s, &dport.to_string(), &when.to_rfc3339()],
    );
    Some(Finding {
        id,
        kind: FindingKind::IocMatch,
        severity,
        score,
        src: src_s.clone(),
        dst: vec![dst_s.clone()],
        path: Vec::new(),
        first_seen: when,
        last_seen: when,
        attack,
        summary: format!("Suricata alert: {signature}{}", if category.is_empty() { String::new() } else { format!(" ({category})") }),
        evidence: json!({
            "source": "suricata",
            "signature_id": sid,
            "rev": n(a, &["rev"]),
            "gid": n(a, &["gid"]),
            "signature": signature,
            "category": category,
            "severity": sev_num,
            "action": s(a, &["action"]),
            "flow_id": n(m, &["flow_id"]),
            "src_ip": t.src.to_string(),
            "src_port": t.sport,
            "dest_ip": t.dst.to_string(),
            "dest_port": t.dport,
            "proto": vigil_model::proto_name(t.proto),
            "app_proto": s(m, &["app_proto"]),
        }),
    })
}

/// Imports one EVE file (plain or gzip'd).
pub fn import_file(
    path: &Path,
    opts: &ImportOptions,
    stats: &mut ImportStats,
    conns: &mut dyn FnMut(Conn),
    findings: &mut dyn FnMut(Finding),
) -> Result<(), ImportError> {
    let mut r = EveReader::new(opts);
    let reader = input::open(path)?;
    input::for_each_line(path, reader, |line| match line {
        Some(l) => r.line(l, stats, conns, findings),
        None => stats.skip("eve: line too long"),
    })?;
    r.finish(stats, conns);
    stats.file("suricata_eve");
    Ok(())
}
