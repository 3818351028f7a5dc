//! Conformance with Zeek: runs the engine over every Zeek test trace that has a baseline
//! conn.log and compares, connection by connection (matched by 5-tuple in order, since the
//! baselines mask timestamps and uids), the fields Zeek derives from the packets: conn_state,
//! history, orig/resp bytes, packets, IP bytes and missed bytes. Prints a per-trace table and
//! fails if the overall agreement falls below the floor measured when this test was written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use vigil_flow::{Engine, EngineConfig};
use vigil_model::Conn;

/// Share of baseline connections that must agree on every compared field.
const AGREEMENT_FLOOR: f64 = 0.97;

fn shared_data() -> Option<PathBuf> {
    let p = match std::env::var_os("VIGIL_SHARED_DATA") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("VIGIL_REQUIRE_CORPUS").as_deref() == Ok("1") {
        panic!("shared data not found at {}", p.display());
    }
    println!("shared data not found at {}; skipping corpus check", p.display());
    None
}

#[derive(Debug, Clone)]
struct Row {
    key: (String, String, String, String, String),
    fields: HashMap<String, String>,
}

fn parse_log(text: &str) -> Vec<Row> {
    let mut names: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#fields\t") {
            names = rest.split('\t').map(str::to_string).collect();
            continue;
        }
        if line.starts_with('#') || names.is_empty() {
            continue;
        }
        let vals: Vec<&str> = line.split('\t').collect();
        let fields: HashMap<String, String> = names.iter().cloned().zip(vals.iter().map(|s| s.to_string())).collect();
        let g = |k: &str| fields.get(k).cloned().unwrap_or_default();
        rows.push(Row { key: (g("id.orig_h"), g("id.orig_p"), g("id.resp_h"), g("id.resp_p"), g("proto")), fields });
    }
    rows
}

fn opt(v: Option<u64>) -> String {
    v.map_or("-".to_string(), |x| x.to_string())
}

fn ours(c: &Conn) -> HashMap<&'static str, String> {
    let mut m = HashMap::new();
    m.insert("conn_state", c.conn_state.as_str().to_string());
    m.insert("history", if c.history.is_empty() { "-".to_string() } else { c.history.clone() });
    m.insert("orig_bytes", opt(c.orig_bytes));
    m.insert("resp_bytes", opt(c.resp_bytes));
    m.insert("missed_bytes", c.missed_bytes.to_string());
    m.insert("duration", c.duration.map_or("-".to_string(), |d| format!("{d:.6}")));
    m.insert("orig_pkts", c.orig_pkts.to_string());
    m.insert("resp_pkts", c.resp_pkts.to_string());
    m.insert("orig_ip_bytes", c.orig_ip_bytes.to_string());
    m.insert("resp_ip_bytes", c.resp_ip_bytes.to_string());
    m
}

const COMPARED: [&str; 10] = [
    "conn_state",
    "history",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "missed_bytes",
    "orig_pkts",
    "resp_pkts",
    "orig_ip_bytes",
    "resp_ip_bytes",
];

#[test]
fn zeek_conn_log_agreement() {
    let Some(data) = shared_data() else { return };
    let zeek = data.join("pcaps/zeek");
    let index = std::fs::read_to_string(zeek.join("expected/INDEX.tsv")).expect("INDEX.tsv");
    let mut total = 0usize;
    let mut agree = 0usize;
    let mut table = String::new();
    for line in index.lines().filter(|l| !l.starts_with('#')) {
        let mut cols = line.split('\t');
        let (Some(dir), Some(traces)) = (cols.next(), cols.next()) else { continue };
        let log = zeek.join("expected").join(dir).join("conn.log");
        let Ok(text) = std::fs::read_to_string(&log) else { continue };
        let expected = parse_log(&text);
        let mut conns: Vec<Conn> = Vec::new();
        let mut engine = Engine::new(EngineConfig::default());
        for t in traces.split(',') {
            let p = zeek.join(t);
            if p.exists() {
                engine.ingest_path(&p, &mut |c| conns.push(c)).expect("trace reads");
            }
        }
        let stats = engine.finish(&mut |c| conns.push(c));
        let mut by_key: HashMap<(String, String, String, String, String), Vec<&Conn>> = HashMap::new();
        let mut sorted: Vec<&Conn> = conns.iter().collect();
        sorted.sort_by_key(|c| c.ts);
        for c in sorted {
            let k = (
                c.orig_h.to_string(),
                c.orig_p.to_string(),
                c.resp_h.to_string(),
                c.resp_p.to_string(),
                vigil_model::proto_name(c.proto).to_string(),
            );
            by_key.entry(k).or_default().push(c);
        }
        let mut used: HashMap<(String, String, String, String, String), usize> = HashMap::new();
        let mut ok = 0usize;
        let mut svc_ok = 0usize;
        let mut diffs = Vec::new();
        for row in &expected {
            let i = used.entry(row.key.clone()).or_insert(0);
            let Some(c) = by_key.get(&row.key).and_then(|v| v.get(*i)) else {
                diffs.push(format!("    missing {:?}", row.key));
                continue;
            };
            *i += 1;
            let m = ours(c);
            let bad: Vec<String> = COMPARED
                .iter()
                .filter(|f| row.fields.get(**f).map(String::as_str) != m.get(**f).map(String::as_str))
                .map(|f| format!("{f}: zeek {} vigil {}", row.fields.get(*f).map_or("?", |s| s), m[f]))
                .collect();
            let svc = c.service.clone().unwrap_or_else(|| "-".to_string());
            if row.fields.get("service").map(String::as_str) == Some(svc.as_str()) {
                svc_ok += 1;
            } else {
                diffs.push(format!(
                    "    (service, not scored) {:?}: zeek {} vigil {svc}",
                    row.key,
                    row.fields.get("service").map_or("?", |s| s)
                ));
            }
            if bad.is_empty() {
                ok += 1;
            } else {
                diffs.push(format!("    {:?}: {}", row.key, bad.join(", ")));
            }
        }
        let extra = conns.len().saturating_sub(expected.len());
        total += expected.len();
        agree += ok;
        table.push_str(&format!(
            "{:<58} {:>3}/{:<3} agree  (service {}/{}; {} vigil records, {} extra; {} packets)\n",
            dir,
            ok,
            expected.len(),
            svc_ok,
            expected.len(),
            conns.len(),
            extra,
            stats.packets
        ));
        for d in diffs {
            table.push_str(&d);
            table.push('\n');
        }
    }
    let rate = if total == 0 { 1.0 } else { agree as f64 / total as f64 };
    println!("{table}\noverall: {agree}/{total} = {:.1}%", rate * 100.0);
    assert!(total > 0, "no baseline conn.log found");
    assert!(rate >= AGREEMENT_FLOOR, "agreement {rate:.3} below floor {AGREEMENT_FLOOR}");
}
