//! Minimal readers for the corpus tests: Zeek TSV conn/http/ssl/dns logs (by their `#fields`
//! header, joined on uid) and Argus CSV/TSV binetflow. Test-only; the product's importers live
//! in vigil-import.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use vigil_model::{Conn, ConnState, DnsTxn, HttpTxn, PROTO_ICMP, PROTO_TCP, PROTO_UDP, Timestamp, TlsMeta};

/// The shared data folder, or None (after printing why) when it is absent and not required.
pub fn shared_data() -> Option<PathBuf> {
    let p = std::env::var_os("VIGIL_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join("../shared/data"));
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("VIGIL_REQUIRE_CORPUS").as_deref() == Ok("1") {
        panic!("shared data not found at {}", p.display());
    }
    println!("shared data not found at {}; skipping corpus check", p.display());
    None
}

/// Rows of a Zeek TSV log as maps from field name to value ("-" and "(empty)" dropped).
pub fn zeek_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let mut fields: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = f.split('\t').map(str::to_string).collect();
            continue;
        }
        if line.starts_with('{') {
            // Zeek JSON lines.
            if let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(line) {
                let m = o
                    .into_iter()
                    .map(|(k, v)| {
                        let s = match v {
                            serde_json::Value::String(s) => s,
                            serde_json::Value::Bool(b) => (if b { "T" } else { "F" }).to_string(),
                            serde_json::Value::Array(a) => {
                                a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).collect::<Vec<_>>().join(",")
                            }
                            other => other.to_string(),
                        };
                        (k, s)
                    })
                    .collect();
                out.push(m);
            }
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let mut m = HashMap::new();
        for (k, v) in fields.iter().zip(line.split('\t')) {
            if v != "-" && v != "(empty)" {
                m.insert(k.clone(), v.to_string());
            }
        }
        out.push(m);
    }
    out
}

fn num<T: std::str::FromStr>(m: &HashMap<String, String>, k: &str) -> Option<T> {
    m.get(k).and_then(|v| v.parse().ok())
}

/// conn.log (+ http/ssl/dns logs in the same folder, joined on uid).
pub fn zeek_conns(dir: &Path, conn_file: &str) -> Vec<(Conn, HashMap<String, String>)> {
    let mut http: HashMap<String, Vec<HttpTxn>> = HashMap::new();
    for r in zeek_rows(&dir.join("http.log")) {
        if let Some(uid) = r.get("uid") {
            http.entry(uid.clone()).or_default().push(HttpTxn {
                host: r.get("host").cloned(),
                uri: r.get("uri").cloned(),
                method: r.get("method").cloned(),
                ..Default::default()
            });
        }
    }
    let mut ssl: HashMap<String, TlsMeta> = HashMap::new();
    for r in zeek_rows(&dir.join("ssl.log")) {
        if let Some(uid) = r.get("uid") {
            ssl.insert(
                uid.clone(),
                TlsMeta { server_name: r.get("server_name").cloned(), ja4: r.get("ja4").cloned(), established: true, ..Default::default() },
            );
        }
    }
    let mut dns: HashMap<String, Vec<DnsTxn>> = HashMap::new();
    for r in zeek_rows(&dir.join("dns.log")) {
        if let Some(uid) = r.get("uid") {
            dns.entry(uid.clone()).or_default().push(DnsTxn {
                ts: Timestamp::from_secs_f64(num(&r, "ts").unwrap_or(0.0)),
                query: r.get("query").cloned(),
                qtype: num(&r, "qtype"),
                rcode: num(&r, "rcode"),
                rd: r.get("RD").is_some_and(|v| v == "T"),
                answers: r.get("answers").map(|a| a.split(',').map(str::to_string).collect()).unwrap_or_default(),
                ..Default::default()
            });
        }
    }
    let mut out = Vec::new();
    for r in zeek_rows(&dir.join(conn_file)) {
        let (Some(o), Some(resp)) = (r.get("id.orig_h").and_then(|v| v.parse().ok()), r.get("id.resp_h").and_then(|v| v.parse().ok()))
        else {
            continue;
        };
        let proto = match r.get("proto").map(String::as_str) {
            Some("tcp") => PROTO_TCP,
            Some("udp") => PROTO_UDP,
            Some("icmp") => PROTO_ICMP,
            _ => 0,
        };
        let mut c = Conn::new(
            Timestamp::from_secs_f64(num(&r, "ts").unwrap_or(0.0)),
            o,
            num(&r, "id.orig_p").unwrap_or(0),
            resp,
            num(&r, "id.resp_p").unwrap_or(0),
            proto,
        );
        c.uid = r.get("uid").cloned().unwrap_or_default();
        c.service = r.get("service").cloned();
        c.duration = num(&r, "duration");
        c.orig_bytes = num(&r, "orig_bytes");
        c.resp_bytes = num(&r, "resp_bytes");
        c.conn_state = r.get("conn_state").and_then(|s| ConnState::parse(s)).unwrap_or_default();
        c.history = r.get("history").cloned().unwrap_or_default();
        c.orig_pkts = num(&r, "orig_pkts").unwrap_or(0);
        c.resp_pkts = num(&r, "resp_pkts").unwrap_or(0);
        c.orig_ip_bytes = num(&r, "orig_ip_bytes").unwrap_or(0);
        c.resp_ip_bytes = num(&r, "resp_ip_bytes").unwrap_or(0);
        c.app.http = http.remove(&c.uid).unwrap_or_default();
        c.app.tls = ssl.remove(&c.uid).map(Box::new);
        c.app.dns = dns.remove(&c.uid).unwrap_or_default();
        out.push((c, r));
    }
    out
}

/// Argus binetflow (comma or tab separated, header line first).
pub fn binetflow(path: &Path) -> Vec<(Conn, String)> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let mut lines = text.lines();
    let Some(head) = lines.next() else { return Vec::new() };
    let sep = if head.contains('\t') { '\t' } else { ',' };
    let cols: Vec<&str> = head.split(sep).collect();
    let idx = |n: &str| cols.iter().position(|c| c.trim() == n);
    let (Some(ts_i), Some(dur_i), Some(pr_i), Some(sa_i), Some(sp_i), Some(da_i), Some(dp_i), Some(st_i)) =
        (idx("StartTime"), idx("Dur"), idx("Proto"), idx("SrcAddr"), idx("Sport"), idx("DstAddr"), idx("Dport"), idx("State"))
    else {
        return Vec::new();
    };
    let (tb_i, sb_i, tp_i, label_i) = (idx("TotBytes"), idx("SrcBytes"), idx("TotPkts"), idx("Label"));
    let mut out = Vec::new();
    for l in lines {
        let f: Vec<&str> = l.split(sep).map(str::trim).collect();
        let g = |i: usize| f.get(i).copied().unwrap_or("");
        let (Ok(src), Ok(dst)) = (g(sa_i).parse(), g(da_i).parse()) else { continue };
        let Ok(t) = chrono::NaiveDateTime::parse_from_str(g(ts_i), "%Y/%m/%d %H:%M:%S%.f") else { continue };
        let proto = match g(pr_i) {
            "tcp" => PROTO_TCP,
            "udp" => PROTO_UDP,
            "icmp" => PROTO_ICMP,
            _ => continue,
        };
        let port = |s: &str| s.parse::<u16>().ok().or_else(|| u16::from_str_radix(s.trim_start_matches("0x"), 16).ok()).unwrap_or(0);
        let mut c = Conn::new(Timestamp::from(t.and_utc()), src, port(g(sp_i)), dst, port(g(dp_i)), proto);
        c.duration = g(dur_i).parse().ok();
        let tot: u64 = tb_i.and_then(|i| g(i).parse().ok()).unwrap_or(0);
        let sb: u64 = sb_i.and_then(|i| g(i).parse().ok()).unwrap_or(0);
        let pk: u64 = tp_i.and_then(|i| g(i).parse().ok()).unwrap_or(0);
        c.orig_ip_bytes = sb;
        c.resp_ip_bytes = tot.saturating_sub(sb);
        c.orig_pkts = pk;
        let st = g(st_i);
        // Argus TCP state "src_dst" flags: a SYN-ACK from the responder means it answered.
        let dst_flags = st.split_once('_').map_or("", |x| x.1);
        c.conn_state = match (proto, st) {
            (PROTO_TCP, _) if dst_flags.contains('S') && dst_flags.contains('A') => ConnState::SF,
            (PROTO_TCP, _) if dst_flags.contains('R') => ConnState::REJ,
            (PROTO_TCP, _) => ConnState::S0,
            (_, "CON") => ConnState::SF,
            _ => ConnState::S0,
        };
        c.source = vigil_model::Source::Netflow;
        out.push((c, label_i.map(|i| g(i).to_string()).unwrap_or_default()));
    }
    out
}
