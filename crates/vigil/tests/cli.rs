//! The binary as users and scripts see it: exit codes, the findings JSON of the contract,
//! idempotent storage, the demo.

use assert_cmd::Command;
use std::path::Path;
use vigil_model::{Finding, FindingKind};

fn vigil() -> Command {
    Command::cargo_bin("vigil").expect("the vigil binary is built")
}

/// A small simulated scenario (shared by the tests of this file).
fn scenario(dir: &Path, seed: u64) -> vigil_sim::Scenario {
    let cfg = vigil_sim::SimConfig { seed, days: 2, hosts: 60, ..vigil_sim::SimConfig::default() };
    vigil_sim::Scenario::generate(&cfg, dir).expect("simulation runs")
}

fn parse_jsonl(out: &[u8]) -> Vec<Finding> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str::<Finding>(l).unwrap_or_else(|e| panic!("not a finding ({e}): {l}")))
        .collect()
}

#[test]
fn unreadable_or_foreign_input_is_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("notes.txt");
    std::fs::write(&junk, "just some words\n").unwrap();
    let out = vigil().args(["hunt", "--no-store"]).arg(&junk).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("notes.txt") && err.lines().count() == 1, "{err}");

    let missing = dir.path().join("nope.pcap");
    let out = vigil().args(["hunt", "--no-store"]).arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.pcap"));

    let bad_site = dir.path().join("site.toml");
    std::fs::write(&bad_site, "[site]\ntimezone = \"Nowhere/Else\"\n").unwrap();
    let out = vigil().args(["hunt", "--no-store", "--site"]).arg(&bad_site).arg(&junk).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Nowhere/Else"));
}

#[test]
fn a_truncated_capture_is_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(&dir.path().join("sim"), 11);
    let bytes = std::fs::read(&s.pcap).unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() / 3 + 7]).unwrap();
    let out = vigil().args(["hunt", "--no-store", "--format", "jsonl"]).arg(&cut).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 truncated/damaged records"), "{err}");
}

#[test]
fn hunt_jsonl_follows_the_contract_and_is_idempotent_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(&dir.path().join("sim"), 5);
    let data = dir.path().join("data");
    let run =
        || vigil().args(["hunt", "--format", "jsonl", "--site"]).arg(&s.site_file).arg("--data").arg(&data).arg(&s.pcap).output().unwrap();
    let a = run();
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    // Every line is a finding with every contract field.
    for line in String::from_utf8_lossy(&a.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for k in ["id", "kind", "severity", "score", "src", "dst", "path", "first_seen", "last_seen", "attack", "summary", "evidence"] {
            assert!(v.get(k).is_some(), "missing {k}: {line}");
        }
        assert!(v["evidence"].is_object());
        let score = v["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score));
        // RFC 3339 with the site's offset (Asia/Shanghai).
        assert!(v["first_seen"].as_str().unwrap().ends_with("+08:00"), "{line}");
    }
    let fa = parse_jsonl(&a.stdout);
    assert!(!fa.is_empty(), "the scenario's storylines raise findings");
    assert!(fa.windows(2).all(|w| w[0].score >= w[1].score), "ranked by score");
    let b = run();
    let fb = parse_jsonl(&b.stdout);
    let ids = |v: &[Finding]| v.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&fa), ids(&fb), "ids are stable for the same input");
    let store = vigil_store::Store::open(&data).unwrap();
    let stored = store.findings(None, None).unwrap();
    assert_eq!(stored.len(), fa.len(), "re-reading the input did not duplicate findings");
    assert!(stored.iter().all(|f| f.times_seen == 2));
}

#[test]
fn demo_runs_and_prints_only_findings_in_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let out = vigil()
        .args(["demo", "--days", "2", "--scale", "0.3", "--seed", "3", "--format", "jsonl", "--output"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let f = parse_jsonl(&out.stdout);
    assert!(f.iter().any(|f| f.kind == FindingKind::Beacon), "the planted beacon is found");
    assert!(dir.path().join("data/vigil.db").exists(), "the demo used the embedded store");
    assert!(dir.path().join("truth.json").exists());
}

#[test]
fn closed_stdout_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(&dir.path().join("sim"), 9);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("vigil"))
        .args(["hunt", "--no-store", "--format", "jsonl", "--site"])
        .arg(&s.site_file)
        .arg(&s.pcap)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn creds_findings_go_to_the_store_once() {
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("share");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(
        share.join("servers.csv"),
        "host,ip,user,password\nmail01,10.1.0.25,root,Zx9!kq2Lw7\nmail02,10.1.0.26,administrator,Qp4#Tr8vNm\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    for _ in 0..2 {
        let out = vigil().args(["creds", "scan", "--format", "jsonl", "--data"]).arg(&data).arg(&share).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let f = parse_jsonl(&out.stdout);
        assert!(f.iter().any(|f| f.kind == FindingKind::CredentialExposure), "the password table is found");
        // The secret is never printed whole.
        assert!(!String::from_utf8_lossy(&out.stdout).contains("Zx9!kq2Lw7"));
    }
    let stored = vigil_store::Store::open(&data).unwrap().findings(Some(FindingKind::CredentialExposure), None).unwrap();
    assert!(!stored.is_empty());
    assert!(stored.iter().all(|f| f.times_seen == 2), "a second scan updates, never duplicates");
}

/// Relative path and bytes of every file under `root` (Zeek log headers' `#open`/`#close`
/// lines carry the wall clock, so they are left out).
fn tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                let mut bytes = std::fs::read(&p).unwrap();
                if rel.ends_with(".log") {
                    let text = String::from_utf8_lossy(&bytes)
                        .lines()
                        .filter(|l| !l.starts_with("#open") && !l.starts_with("#close"))
                        .collect::<Vec<_>>()
                        .join("\n");
                    bytes = text.into_bytes();
                }
                out.insert(rel, bytes);
            }
        }
    }
    out
}

/// A hunt whose records exceed `--sort-buffer` sorts them through temporary run files: the
/// findings, the Zeek logs and the archive's part files are exactly those of the in-memory
/// hunt, and the temporary files are gone afterwards.
#[test]
fn a_hunt_larger_than_its_sort_buffer_gives_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(&dir.path().join("sim"), 7);
    let spill = dir.path().join("spill");
    std::fs::create_dir_all(&spill).unwrap();
    let run = |tag: &str, extra: &[&str]| {
        let out = vigil()
            .args(["hunt", "--format", "jsonl", "--site"])
            .arg(&s.site_file)
            .arg("--data")
            .arg(dir.path().join(format!("data-{tag}")))
            .arg("--emit-conn")
            .arg(dir.path().join(format!("logs-{tag}")))
            .args(extra)
            .arg(&s.pcap)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out
    };
    let mem = run("mem", &[]);
    let spilled = run("spill", &["--sort-buffer", "64K", "--spill-dir", spill.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&spilled.stderr);
    assert!(err.contains("temporary files in"), "{err}");
    assert!(!String::from_utf8_lossy(&mem.stderr).contains("temporary files"));
    assert!(!mem.stdout.is_empty());
    assert_eq!(String::from_utf8_lossy(&spilled.stdout), String::from_utf8_lossy(&mem.stdout));
    let (logs_mem, logs_spill) = (tree(&dir.path().join("logs-mem")), tree(&dir.path().join("logs-spill")));
    assert!(logs_mem.contains_key("conn.log"));
    assert_eq!(logs_spill, logs_mem);
    let parts = |tag: &str| -> Vec<String> {
        tree(&dir.path().join(format!("data-{tag}"))).into_keys().filter(|k| k.ends_with(".parquet")).collect()
    };
    assert!(!parts("mem").is_empty());
    assert_eq!(parts("spill"), parts("mem"));
    assert_eq!(std::fs::read_dir(&spill).unwrap().count(), 0, "the run files are removed");
    // A bad size is a usage error naming it.
    let out = vigil().args(["hunt", "--no-store", "--sort-buffer", "lots"]).arg(&s.pcap).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lots"));
}
