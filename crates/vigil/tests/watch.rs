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
