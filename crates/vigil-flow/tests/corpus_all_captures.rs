//! Robustness sweep: every capture under the shared data folder (malware, scans, fuzz-like
//! pcapng edge cases, truncated traces) goes through the engine without a panic or a hang,
//! every record it emits is internally consistent, and the Zeek writers render all of them.

use std::path::{Path, PathBuf};
use vigil_flow::zeeklog::{self, Format, LogWriter};
use vigil_flow::{Engine, EngineConfig};

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

#[test]
fn every_capture_is_processed_without_panic() {
    let Some(data) = shared_data() else { return };
    let files = vigil_capture::capture_files(&data.join("pcaps")).expect("walk");
    let mut more = vigil_capture::capture_files(&data.join("flows")).unwrap_or_default();
    let mut files = files;
    files.append(&mut more);
    assert!(files.len() > 100, "only {} captures found", files.len());
    let (mut conns_total, mut packets, mut unreadable) = (0u64, 0u64, 0u64);
    for f in &files {
        let mut engine = Engine::new(EngineConfig::default());
        let mut conns = Vec::new();
        if engine.ingest_path(f, &mut |c| conns.push(c)).is_err() {
            // A file that sniffs as a capture but whose header is damaged: a typed error.
            unreadable += 1;
        }
        let stats = engine.finish(&mut |c| conns.push(c));
        packets += stats.packets;
        assert_eq!(stats.conns, conns.len() as u64, "{}", f.display());
        let mut conn_log = LogWriter::new(Vec::new(), &zeeklog::CONN, Format::Tsv);
        let mut json = LogWriter::new(Vec::new(), &zeeklog::CONN, Format::Json);
        for c in &conns {
            assert!(c.uid.starts_with('C'), "{}", f.display());
            assert!(c.community_id.starts_with("1:"));
            assert!(c.history.len() <= vigil_flow::history::MAX_HISTORY);
            assert!(c.orig_pkts + c.resp_pkts >= 1 || c.history.starts_with('^'));
            if let Some(d) = c.duration {
                assert!(d > 0.0 && d.is_finite(), "{}: duration {d}", f.display());
            }
            conn_log.write(c.ts, &zeeklog::conn_values(c)).expect("tsv");
            json.write(c.ts, &zeeklog::conn_values(c)).expect("json");
        }
        let tsv = String::from_utf8(conn_log.finish().expect("close")).expect("utf8");
        for line in tsv.lines().filter(|l| !l.starts_with('#')) {
            assert_eq!(line.split('\t').count(), zeeklog::CONN.fields.len(), "{}: {line}", f.display());
        }
        let js = String::from_utf8(json.finish().expect("close")).expect("utf8");
        for line in js.lines() {
            serde_json::from_str::<serde_json::Value>(line).expect("valid JSON line");
        }
        conns_total += conns.len() as u64;
    }
    println!("{} captures, {packets} packets, {conns_total} connections, {unreadable} unreadable", files.len());
    assert!(conns_total > 1000);
}
