//! `vigil watch` crash safety: killed with SIGKILL at arbitrary points while ingesting a spool
//! directory, then restarted, it neither loses nor duplicates committed records or findings.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("vigil")
}

fn spool(dir: &Path) -> std::path::PathBuf {
    let spool = dir.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    for seed in 1..=4u64 {
        let sim = dir.join(format!("sim{seed}"));
        let cfg = vigil_sim::SimConfig { seed, days: 1, hosts: 60, ..vigil_sim::SimConfig::default() };
        let s = vigil_sim::Scenario::generate(&cfg, &sim).unwrap();
        std::fs::rename(&s.pcap, spool.join(format!("capture-{seed}.pcap"))).unwrap();
    }
    spool
}

fn once(spool: &Path, data: &Path) {
    let out = Command::new(bin()).args(["watch", "--once", "--spool"]).arg(spool).arg("--data").arg(data).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn state(data: &Path) -> (u64, Vec<String>) {
    let n = vigil_archive::Archive::open(data).unwrap().count().unwrap();
    let store = vigil_store::Store::open(data).unwrap();
    let mut ids: Vec<String> = store.findings(None, None).unwrap().into_iter().map(|f| f.finding.id).collect();
    ids.sort();
    (n, ids)
}

#[test]
fn sigkill_during_ingest_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spool = spool(dir.path());
    // Reference: one clean run.
    let reference = dir.path().join("ref");
    once(&spool, &reference);
    let (ref_records, ref_ids) = state(&reference);
    assert!(ref_records > 1000, "the spool holds real traffic");

    let data = dir.path().join("data");
    // Kill points spread over the ingest, fixed so the test is repeatable.
    for delay_ms in [150u64, 400, 900, 1600, 2500] {
        let mut child = Command::new(bin())
            .args(["watch", "--poll", "0.05", "--spool"])
            .arg(&spool)
            .arg("--data")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let (n, _) = state(&data);
        assert!(n <= ref_records, "never more records than the input holds ({n} > {ref_records})");
    }
    once(&spool, &data);
    let (records, ids) = state(&data);
    assert_eq!(records, ref_records, "every record archived exactly once");
    // Windows evaluated on partial data before a kill may have committed findings of their
    // own; those stay (they were committed). Every finding of the clean run must be there, once.
    for id in &ref_ids {
        assert!(ids.binary_search(id).is_ok(), "finding {id} of the clean run is missing after the kills");
    }
    let mut dedup = ids.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), ids.len());
}

#[test]
fn watch_serves_metrics_and_writes_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let spool = spool(dir.path());
    let alerts = dir.path().join("alerts.jsonl");
    let out = Command::new(bin())
        .args(["watch", "--once", "--spool"])
        .arg(&spool)
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--alert-jsonl")
        .arg(&alerts)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&alerts).unwrap();
    assert!(text.lines().count() > 0, "medium-or-worse findings were alerted");
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(matches!(v["severity"].as_str(), Some("medium" | "high" | "critical")), "{l}");
        assert_eq!(v["alert_update"], false);
    }
    // A second pass over the same spool sends nothing again.
    let out = Command::new(bin())
        .args(["watch", "--once", "--spool"])
        .arg(&spool)
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--alert-jsonl")
        .arg(&alerts)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&alerts).unwrap().lines().count(), text.lines().count());
}

/// Zeek conn records (JSON) of 10.0.0.5 calling 203.0.113.9:443 every 60 s ± `jitter` s,
/// `n` times from `start`.
fn beacon_log(path: &Path, start: f64, n: u32, jitter: f64, seed: u64) {
    let mut x = seed;
    let mut t = start;
    let mut out = String::new();
    for i in 0..n {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
        t += 60.0 + jitter * (2.0 * u - 1.0);
        let rec = serde_json::json!({"ts": t, "uid": format!("C{seed}x{i}"), "id.orig_h": "10.0.0.5", "id.orig_p": 40000 + i,
            "id.resp_h": "203.0.113.9", "id.resp_p": 443, "proto": "tcp", "service": "ssl", "duration": 0.4,
            "orig_bytes": 310, "resp_bytes": 1200, "conn_state": "SF", "history": "ShADadFf", "orig_pkts": 6, "resp_pkts": 5});
        out.push_str(&rec.to_string());
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

fn stored(data: &Path) -> Vec<vigil_store::StoredFinding> {
    vigil_store::Store::open(data).unwrap().findings(None, None).unwrap()
}

#[test]
fn a_finding_keeps_its_strongest_view_when_its_evidence_slides_out_of_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, data) = (dir.path().join("spool"), dir.path().join("data"));
    std::fs::create_dir_all(&spool).unwrap();
    let day = 1_767_225_600.0; // 2026-01-01 00:00 UTC
    // Six hours of a tight beacon: critical.
    beacon_log(&spool.join("conn-1.log"), day, 360, 1.0, 1);
    let run = |lookback: &str| {
        let out = Command::new(bin())
            .args(["watch", "--once", "--lookback", lookback, "--spool"])
            .arg(&spool)
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run("7200");
    let first = stored(&data);
    assert_eq!(first.len(), 1, "{first:?}");
    let peak = first[0].finding.clone();
    assert!(peak.score > 0.9, "{peak:?}");
    // A day later the same beacon, looser; the window (2 h) holds only that tail, which alone
    // scores lower (checked in a store of its own).
    beacon_log(&spool.join("conn-2.log"), day + 86_400.0, 100, 35.0, 2);
    let tail_only = dir.path().join("tail-only");
    std::fs::create_dir_all(&tail_only).unwrap();
    std::fs::copy(spool.join("conn-2.log"), tail_only.join("conn-2.log")).unwrap();
    let out = Command::new(bin())
        .args(["watch", "--once", "--lookback", "7200", "--spool"])
        .arg(&tail_only)
        .arg("--data")
        .arg(dir.path().join("tail-data"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let tail = stored(&dir.path().join("tail-data"));
    assert_eq!(tail.len(), 1, "the tail alone is still a beacon: {tail:?}");
    assert_eq!(tail[0].finding.id, peak.id);
    assert!(tail[0].finding.score < peak.score - 0.1, "the tail alone scores lower: {} against {}", tail[0].finding.score, peak.score);
    run("7200");
    let after = stored(&data);
    assert_eq!(after.len(), 1);
    let f = &after[0];
    assert_eq!(f.times_seen, 2, "re-evaluated once more");
    assert_eq!((f.finding.score, f.finding.severity), (peak.score, peak.severity), "the strongest view stays");
    assert_eq!(f.finding.summary, peak.summary);
    assert_eq!(f.finding.evidence, peak.evidence);
    assert_eq!(f.finding.first_seen, peak.first_seen);
    assert_eq!(f.finding.last_seen, tail[0].finding.last_seen, "the last sighting advances");
}
