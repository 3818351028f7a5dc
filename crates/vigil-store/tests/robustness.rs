//! The store under hostile conditions: a database locked by another writer, a corrupt database
//! file, a read-only data directory and a full disk. Each must give a clear error naming the
//! file, and nothing committed before may be lost.
//!
//! The read-only and full-disk cases need a small tmpfs (root can write through file
//! permissions): as root the test mounts one; where mounting is not possible they report
//! themselves skipped, unless `VIGIL_REQUIRE_MOUNT=1`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vigil_model::{Finding, FindingKind, Severity};
use vigil_store::{Store, StoreError};

fn finding(i: usize) -> Finding {
    let t = chrono::DateTime::parse_from_rfc3339("2024-05-01T02:00:00+08:00").unwrap();
    Finding {
        id: format!("beacon-{i:016x}"),
        kind: FindingKind::Beacon,
        severity: Severity::High,
        score: 0.5,
        src: format!("10.0.0.{}", i % 250),
        dst: vec!["203.0.113.7".into()],
        path: vec![],
        first_seen: t,
        last_seen: t,
        attack: vec!["T1071".into()],
        summary: format!("finding {i} {}", "x".repeat(200)),
        evidence: serde_json::json!({"i": i}),
    }
}

#[test]
fn a_locked_database_fails_after_the_busy_timeout_and_keeps_committed_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    s.upsert_findings(&[finding(1), finding(2)]).unwrap();

    // Another writer holds the write lock (as a second `vigil watch` or a sqlite3 shell would).
    let other = rusqlite::Connection::open(dir.path().join("vigil.db")).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE; UPDATE finding SET notes = 'held' WHERE id = 'none';").unwrap();

    s.set_busy_timeout(Duration::from_millis(300)).unwrap();
    let t = Instant::now();
    let e = s.upsert_findings(&[finding(3)]).expect_err("the lock is held");
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(250), "it waited for the lock ({waited:?})");
    assert!(waited < Duration::from_secs(5), "and no longer than its timeout allows ({waited:?})");
    let msg = e.to_string();
    assert!(msg.contains("vigil.db") && msg.contains("locked"), "{msg}");

    other.execute_batch("ROLLBACK").unwrap();
    drop(other);
    // The failed write left nothing half done, and the store works again.
    let ids: Vec<String> = s.findings(None, None).unwrap().into_iter().map(|f| f.finding.id).collect();
    assert_eq!(ids.len(), 2);
    s.upsert_findings(&[finding(3)]).unwrap();
    assert_eq!(s.findings(None, None).unwrap().len(), 3);
}

#[test]
fn a_corrupt_database_is_named_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vigil.db");
    let garbage: Vec<u8> = (0..64 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&db, &garbage).unwrap();
    let e = Store::open(dir.path()).err().expect("garbage is not a database");
    let msg = e.to_string();
    assert!(matches!(e, StoreError::Sqlite { .. }), "{msg}");
    assert!(msg.contains(&db.display().to_string()) && msg.contains("not a database"), "{msg}");
    assert_eq!(std::fs::read(&db).unwrap(), garbage, "the file is not overwritten");
}

#[test]
fn a_truncated_database_is_reported_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Store::open(dir.path()).unwrap();
        s.upsert_findings(&(0..50).map(finding).collect::<Vec<_>>()).unwrap();
        // Checkpoint the WAL so the main file holds everything, then cut it in half.
        s.put_state("k", &serde_json::json!(1)).unwrap();
    }
    let db = dir.path().join("vigil.db");
    let _ = std::fs::remove_file(dir.path().join("vigil.db-wal"));
    let _ = std::fs::remove_file(dir.path().join("vigil.db-shm"));
    let bytes = std::fs::read(&db).unwrap();
    let mut cut = bytes[..bytes.len() / 2].to_vec();
    // Damage the page after the header too, as a bad sector would.
    for b in cut.iter_mut().skip(4096).take(512) {
        *b = 0xA5;
    }
    std::fs::write(&db, &cut).unwrap();
    match Store::open(dir.path()) {
        Err(e) => assert!(e.to_string().contains("vigil.db"), "{e}"),
        Ok(s) => {
            // SQLite may open a damaged file lazily: then reading it must fail, naming the file.
            let e = s.findings(None, None).expect_err("damaged pages are detected");
            assert!(e.to_string().contains("vigil.db"), "{e}");
        }
    }
    assert_eq!(std::fs::read(&db).unwrap(), cut, "the damaged file is kept as it was, for recovery");
}

/// A tmpfs of `size` mounted for the test's lifetime.
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

    fn remount_ro(&self) -> bool {
        std::process::Command::new("mount").args(["-o", "remount,ro"]).arg(&self.path).status().is_ok_and(|s| s.success())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.path).status();
    }
}

fn fill(dir: &Path) -> PathBuf {
    let p = dir.join("filler");
    let mut f = std::fs::File::create(&p).unwrap();
    let block = vec![0u8; 16 * 1024];
    while std::io::Write::write_all(&mut f, &block).is_ok() {}
    let _ = f.sync_all();
    p
}

#[test]
fn a_full_disk_fails_the_write_and_keeps_what_was_committed() {
    let Some(fs) = Tmpfs::mount("1m") else { return };
    let mut s = Store::open(&fs.path).unwrap();
    s.upsert_findings(&(0..20).map(finding).collect::<Vec<_>>()).unwrap();
    let filler = fill(&fs.path);

    let many: Vec<Finding> = (100..2100).map(finding).collect();
    let e = s.upsert_findings(&many).expect_err("the disk is full");
    let msg = e.to_string();
    assert!(msg.contains("vigil.db") && (msg.contains("full") || msg.contains("space")), "{msg}");
    drop(s);

    // Space freed: everything committed before is there, nothing of the failed transaction.
    std::fs::remove_file(filler).unwrap();
    let s = Store::open(&fs.path).unwrap();
    let got = s.findings(None, None).unwrap();
    assert_eq!(got.len(), 20);
    assert!(got.iter().all(|f| f.finding.id.as_str() < "beacon-0000000000000064"));
}

#[test]
fn a_read_only_data_directory_is_a_clear_error_and_reads_still_work() {
    let Some(fs) = Tmpfs::mount("4m") else { return };
    {
        let mut s = Store::open(&fs.path).unwrap();
        s.upsert_findings(&(0..5).map(finding).collect::<Vec<_>>()).unwrap();
    }
    assert!(fs.remount_ro(), "remount read-only");
    // A new data directory cannot be created there.
    let e = Store::open(&fs.path.join("sub")).err().expect("read-only");
    assert!(matches!(e, StoreError::CreateDir { .. }) && e.to_string().contains("sub"), "{e}");
    // The existing store: either it opens for reading (and writes fail clearly), or opening fails
    // naming the file. Nothing is lost either way.
    match Store::open(&fs.path) {
        Ok(mut s) => {
            assert_eq!(s.findings(None, None).unwrap().len(), 5);
            let e = s.upsert_findings(&[finding(9)]).expect_err("read-only");
            assert!(e.to_string().contains("vigil.db"), "{e}");
        }
        Err(e) => assert!(e.to_string().contains("vigil.db") && e.to_string().contains("read"), "{e}"),
    }
}
