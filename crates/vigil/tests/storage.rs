//! The data directory as users meet it: `vigil query` over what `vigil hunt` stored (checked
//! against the Zeek logs `vigil conn` writes of the same capture), and `vigil hunt` on a corrupt
//! database, a read-only directory and a full disk: exit code 2, a one-line reason naming the
//! file, and nothing committed before lost.
//!
//! The read-only and full-disk cases mount a small tmpfs (root writes through permissions); where
//! that is impossible they report themselves skipped, unless `VIGIL_REQUIRE_MOUNT=1`.

use assert_cmd::Command;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn vigil() -> Command {
    Command::cargo_bin("vigil").expect("the vigil binary is built")
}

fn scenario(dir: &Path, seed: u64) -> vigil_sim::Scenario {
    let cfg = vigil_sim::SimConfig { seed, days: 2, hosts: 40, ..vigil_sim::SimConfig::default() };
    vigil_sim::Scenario::generate(&cfg, dir).expect("simulation runs")
}

fn hunt(s: &vigil_sim::Scenario, data: &Path) -> std::process::Output {
    vigil().args(["hunt", "--format", "jsonl", "--site"]).arg(&s.site_file).arg("--data").arg(data).arg(&s.pcap).output().unwrap()
}

fn query(data: &Path, site: &Path, format: &str, sql: &str) -> String {
    let out = vigil().args(["query", "--format", format, "--site"]).arg(site).arg("--data").arg(data).arg(sql).output().unwrap();
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn query_over_a_hunted_capture_agrees_with_the_zeek_logs() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(&dir.path().join("sim"), 11);
    let data = dir.path().join("data");
    let out = hunt(&s, &data);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let n_findings = String::from_utf8_lossy(&out.stdout).lines().count();

    // The independent computation: Zeek conn.log (JSON) of the same capture.
    let logs = dir.path().join("logs");
    let out = vigil().args(["conn", "--json", "--output"]).arg(&logs).arg(&s.pcap).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(logs.join("conn.log")).unwrap();
    let mut per_host: HashMap<String, (i64, i64)> = HashMap::new();
    let mut total = 0i64;
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let e = per_host.entry(v["id.orig_h"].as_str().unwrap().to_string()).or_default();
        e.0 += 1;
        e.1 += v["orig_bytes"].as_i64().unwrap_or(0);
        total += 1;
    }
    assert!(total > 100, "the capture has traffic");
    let mut want: Vec<(String, i64, i64)> = per_host.into_iter().map(|(h, (n, b))| (h, n, b)).collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    want.truncate(5);

    let json = query(
        &data,
        &s.site_file,
        "json",
        "SELECT orig_h, count(*) AS n, CAST(coalesce(sum(orig_bytes), 0) AS BIGINT) AS sent FROM conn
         GROUP BY orig_h ORDER BY n DESC, orig_h LIMIT 5",
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let got: Vec<(String, i64, i64)> =
        rows.iter().map(|r| (r["orig_h"].as_str().unwrap().to_string(), r["n"].as_i64().unwrap(), r["sent"].as_i64().unwrap())).collect();
    assert_eq!(got, want);
    let count: Vec<serde_json::Value> =
        query(&data, &s.site_file, "jsonl", "SELECT count(*) AS n FROM conn").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(count[0]["n"].as_i64(), Some(total));

    // Hunting the same capture again adds nothing to the archive or the findings.
    assert!(hunt(&s, &data).status.success());
    let csv = query(&data, &s.site_file, "csv", "SELECT count(*) AS n, (SELECT count(*) FROM findings) AS f FROM conn");
    assert_eq!(csv, format!("n,f\r\n{total},{n_findings}\r\n"));

    // The table names its columns and counts its rows.
    let table = query(&data, &s.site_file, "table", "SELECT kind, count(*) AS n FROM findings GROUP BY kind ORDER BY kind");
    assert!(table.starts_with("kind") && table.trim_end().ends_with("rows)") || table.trim_end().ends_with("row)"), "{table}");

    // A bad query is exit 2 with the reason.
    let out = vigil().args(["query", "--data"]).arg(&data).arg("SELECT nope FROM conn").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}

#[test]
fn a_corrupt_database_is_exit_2_naming_it_and_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(&dir.path().join("sim"), 12);
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let db = data.join("vigil.db");
    let garbage: Vec<u8> = (0..32 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    std::fs::write(&db, &garbage).unwrap();
    let out = hunt(&s, &data);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("vigil.db") && err.contains("not a database"), "{err}");
    // One error line (the engine's statistics line may precede it).
    assert_eq!(err.lines().filter(|l| l.starts_with("vigil:")).count(), 1, "one error line: {err}");
    assert_eq!(std::fs::read(&db).unwrap(), garbage);
}

#[test]
fn a_corrupt_database_fails_before_the_input_is_read() {
    // The input does not exist: if the store were opened after the read, the error would name
    // the input. Naming the database shows the store is checked first.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("vigil.db"), vec![0x5a; 8192]).unwrap();
    let missing = dir.path().join("no-such-capture.pcap");
    let out = vigil().arg("hunt").arg("--data").arg(&data).arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("vigil.db") && !err.contains("no-such-capture"), "{err}");
}

struct Tmpfs {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let path = dir.path().join("mnt");
        std::fs::create_dir(&path).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "tmpfs"])
            .arg(&path)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            assert!(std::env::var_os("VIGIL_REQUIRE_MOUNT").is_none(), "VIGIL_REQUIRE_MOUNT=1 but tmpfs cannot be mounted");
            eprintln!("cannot mount a tmpfs (not root, or no mount permission); skipping");
            return None;
        }
        Some(Tmpfs { path, _dir: dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.path).status();
    }
}

#[test]
fn a_read_only_data_directory_is_exit_2_and_the_store_survives() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(&dir.path().join("sim"), 13);
    let Some(fs) = Tmpfs::mount("64m") else { return };
    let data = fs.path.join("data");
    let first = hunt(&s, &data);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let stored = vigil_store::Store::open(&data).unwrap().findings(None, None).unwrap().len();
    assert!(stored > 0);
    assert!(std::process::Command::new("mount").args(["-o", "remount,ro"]).arg(&fs.path).status().unwrap().success());

    let out = hunt(&s, &data);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let lower = err.to_lowercase();
    assert!(err.contains(&*data.display().to_string()) && (lower.contains("read-only") || lower.contains("readonly")), "{err}");

    // Read-only hunting still works: query needs no write.
    let n = query(&data, &s.site_file, "csv", "SELECT count(*) AS n FROM findings");
    assert_eq!(n, format!("n\r\n{stored}\r\n"));
}

#[test]
fn a_full_disk_is_exit_2_and_keeps_what_was_committed() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(&dir.path().join("sim"), 14);
    let big = scenario(&dir.path().join("sim2"), 15);
    let Some(fs) = Tmpfs::mount("8m") else { return };
    let data = fs.path.join("data");
    let first = hunt(&s, &data);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let before = query(&data, &s.site_file, "csv", "SELECT count(*) AS n, (SELECT count(*) FROM findings) AS f FROM conn");

    // Fill the disk, then hunt more.
    let filler = fs.path.join("filler");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 16 * 1024];
        while std::io::Write::write_all(&mut f, &block).is_ok() {}
    }
    let out = hunt(&big, &data);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("no space") || err.contains("full"), "{err}");

    std::fs::remove_file(&filler).unwrap();
    let after = query(&data, &s.site_file, "csv", "SELECT count(*) AS n, (SELECT count(*) FROM findings) AS f FROM conn");
    // The failed hunt may have committed whole hour partitions before the disk filled, never
    // a part of one, and never lost earlier records.
    let parse = |t: &str| -> (i64, i64) {
        let row = t.lines().nth(1).unwrap();
        let (a, b) = row.split_once(',').unwrap();
        (a.parse().unwrap(), b.parse().unwrap())
    };
    let (n0, f0) = parse(&before);
    let (n1, f1) = parse(&after);
    assert!(n1 >= n0 && f1 >= f0, "before {before:?} after {after:?}");
    // And the data directory is usable again once there is space.
    let again = hunt(&s, &data);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
}
