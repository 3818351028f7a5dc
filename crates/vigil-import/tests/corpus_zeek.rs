//! Corpus check: every file under `shared/data/zeek-logs` is recognised and parses, with every
//! skipped record explained by the known-bad table below; conn record counts and the uid join
//! are checked against an independent line count of the same files.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use vigil_import::{Format, ImportStats};

/// Files that are not logs at all (documentation next to the logs).
const NOT_LOGS: &[&str] = &["README.md", "labels.config", "EXPECTED_BEACONS.md"];

/// Known-bad files: (path relative to zeek-logs, skip or defect reason, count, why).
const KNOWN_BAD: &[(&str, &str, u64, &str)] = &[
    // RITA's deliberately truncated inputs.
    ("rita/truncated/conn.log", "zeek tsv: column count differs from #fields", 1, "file cut mid-record after `duration`: kept, counted"),
    ("rita/has_unknown_field/http.log", "zeek tsv: column count differs from #fields", 1, "first row lacks a column: kept, counted"),
    ("rita/truncated/conn_json.log", "zeek json: not a JSON object", 1, "file cut mid-object"),
    ("rita/truncated/conn_json.log", "zeek conn: missing ts or five-tuple", 1, "id.orig_p 93145 is not a port"),
];

/// Files that cannot be recognised, with the reason.
const UNRECOGNISED: &[(&str, &str)] =
    &[("rita/truncated/conn_top.log", "headerless TSV (the #fields lines were cut away): columns cannot be named")];

fn decompressed_text(p: &Path) -> String {
    let raw = std::fs::read(p).unwrap();
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(&raw[..]).read_to_string(&mut s).unwrap();
        s
    } else {
        String::from_utf8_lossy(&raw).into_owned()
    }
}

/// Log path and uid of every record, read the simplest possible way (independent of the crate).
fn records(p: &Path) -> Vec<(String, Option<String>)> {
    let text = decompressed_text(p);
    let mut path = String::new();
    let mut uid_col = None;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let line = if line.trim_start().starts_with('#') { line.trim_start() } else { line };
        if let Some(v) = line.strip_prefix("#path\t") {
            path = v.to_string();
        } else if let Some(v) = line.strip_prefix("#fields\t") {
            uid_col = v.split('\t').position(|f| f == "uid");
        } else if line.starts_with('#') {
        } else if line.starts_with('{') {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                // A cut line belongs to the same log as the line before it.
                let last = out.last().map(|r: &(String, Option<String>)| r.0.clone()).unwrap_or_default();
                out.push((last, None));
                continue;
            };
            let guess = if v.get("conn_state").is_some() {
                "conn"
            } else if v.get("query").is_some() {
                "dns"
            } else if v.get("cipher").is_some() || v.get("server_name").is_some() {
                "ssl"
            } else if v.get("method").is_some() {
                "http"
            } else {
                &path
            };
            let pth = v.get("_path").and_then(|x| x.as_str()).unwrap_or(guess).to_string();
            out.push((pth, v.get("uid").and_then(|x| x.as_str()).map(str::to_string)));
        } else {
            out.push((path.clone(), uid_col.and_then(|c| line.split('\t').nth(c)).map(str::to_string)));
        }
    }
    out
}

fn rel(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap().display().to_string()
}

#[test]
fn every_zeek_log_parses() {
    let Some(data) = common::shared_data() else { return };
    let base = data.join("zeek-logs");
    let mut files_ok = 0;
    let mut total_conns = 0;
    for f in common::files_under(&base) {
        let r = rel(&base, &f);
        let name = f.file_name().unwrap().to_str().unwrap();
        if NOT_LOGS.contains(&name) {
            assert_eq!(vigil_import::sniff(&f), None, "{r}");
            continue;
        }
        if UNRECOGNISED.iter().any(|(p, _)| *p == r) {
            assert_eq!(vigil_import::sniff(&f), None, "{r}");
            continue;
        }
        let fmt = vigil_import::sniff(&f);
        assert!(matches!(fmt, Some(Format::ZeekTsv | Format::ZeekJson)), "{r}: sniffed {fmt:?}");
        let mut conns = Vec::new();
        let stats: ImportStats = vigil_import::import_path(&f, &mut |c| conns.push(c), &mut |_| {}).unwrap();
        let expected_skips: HashMap<String, u64> = KNOWN_BAD.iter().filter(|k| k.0 == r).map(|k| (k.1.to_string(), k.2)).collect();
        let skips: HashMap<String, u64> = stats
            .skipped
            .iter()
            .chain(stats.warnings.iter())
            .filter(|(k, _)| !k.contains("duplicate uid"))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        assert_eq!(skips, expected_skips, "{r}: unexpected skips\n{stats}");
        let recs = records(&f);
        assert_eq!(stats.records, recs.len() as u64, "{r}: records");
        // Every usable record of a log this crate reads becomes (part of) a Conn: one file alone
        // has nothing to join with, so each conn/app record gives one Conn, minus skips and
        // same-uid app records merged together.
        let used: Vec<&(String, Option<String>)> = recs
            .iter()
            .filter(|(p, _)| {
                matches!(
                    p.as_str(),
                    "conn"
                        | "open_conn"
                        | "ssl"
                        | "open_ssl"
                        | "quic"
                        | "dns"
                        | "open_dns"
                        | "http"
                        | "open_http"
                        | "ssh"
                        | "smb_mapping"
                        | "smb_files"
                        | "dce_rpc"
                )
            })
            .collect();
        let distinct_app_uids: HashSet<&str> =
            used.iter().filter(|(p, _)| !p.ends_with("conn")).filter_map(|(_, u)| u.as_deref()).collect();
        let conn_recs = used.iter().filter(|(p, _)| p.ends_with("conn")).count() as u64;
        let app_no_uid = used.iter().filter(|(p, u)| !p.ends_with("conn") && u.is_none()).count() as u64;
        let expected = conn_recs + distinct_app_uids.len() as u64 + app_no_uid - stats.skipped_total();
        assert_eq!(stats.conns, expected, "{r}: conns\n{stats}");
        assert_eq!(conns.len() as u64, stats.conns);
        total_conns += stats.conns;
        files_ok += 1;
    }
    println!("zeek corpus: {files_ok} log files parsed, {total_conns} conns");
    assert!(files_ok >= 90, "only {files_ok} log files found");
}

#[test]
fn zeek_directories_join_app_records_to_conns() {
    let Some(data) = common::shared_data() else { return };
    let base = data.join("zeek-logs");
    let mut dirs: Vec<_> = common::files_under(&base).iter().filter_map(|f| f.parent().map(Path::to_path_buf)).collect();
    dirs.dedup();
    let mut total_joined = 0;
    // Only directories without sub-directories: import_path recurses, joining each directory apart.
    dirs.retain(|d| std::fs::read_dir(d).unwrap().flatten().all(|e| !e.path().is_dir()));
    for d in dirs {
        let files: Vec<_> = std::fs::read_dir(&d).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        // Independent expectation: app records whose uid appears among this directory's conn uids.
        let mut conn_uids = HashSet::new();
        let mut app = Vec::new();
        for f in &files {
            if vigil_import::sniff(f).is_none() {
                continue;
            }
            for (p, u) in records(f) {
                match p.as_str() {
                    "conn" | "open_conn" => {
                        conn_uids.extend(u);
                    }
                    "ssl" | "open_ssl" | "quic" | "dns" | "open_dns" | "http" | "open_http" | "ssh" => app.push(u),
                    _ => {}
                }
            }
        }
        let expected_joined = app.iter().filter(|u| u.as_ref().is_some_and(|u| conn_uids.contains(u))).count() as u64;
        let mut out = Vec::new();
        let stats = vigil_import::import_path(&d, &mut |c| out.push(c), &mut |_| {}).unwrap();
        assert_eq!(stats.app_joined, expected_joined, "{}\n{stats}", d.display());
        // Joined metadata is really on the conn: every ssl uid in conn.log has TLS metadata.
        let with_tls: HashSet<&str> = out.iter().filter(|c| c.app.tls.is_some()).map(|c| c.uid.as_str()).collect();
        for (p, u) in files.iter().filter(|f| vigil_import::sniff(f).is_some()).flat_map(|f| records(f)) {
            if (p == "ssl" || p == "open_ssl") && u.as_ref().is_some_and(|u| conn_uids.contains(u)) {
                assert!(with_tls.contains(u.as_deref().unwrap()), "{}: {u:?} lost its TLS metadata", d.display());
            }
        }
        total_joined += stats.app_joined;
        if d.ends_with("wrccdc-2018/zeek-default") {
            // Zeek 6 ssl.log with cert_chain_fps, x509.log keyed by fingerprint: the leaf
            // certificate reaches the TLS metadata.
            let tls = out.iter().filter(|c| c.app.tls.is_some()).count();
            let certs = out
                .iter()
                .filter_map(|c| c.app.tls.as_ref()?.cert.as_ref())
                .filter(|c| !c.subject.is_empty() && c.sha256.len() == 64)
                .count();
            assert!(tls > 1000 && certs > 100, "tls {tls} with cert {certs}");
            // The red team's remote execution (CCDC 2018) as Zeek saw it: services created over
            // \\pipe\\ntsvcs, scheduled tasks registered and run, a file on ADMIN$.
            let calls: Vec<_> = out.iter().filter_map(|c| c.app.dce_rpc.as_deref()).flat_map(|r| r.calls.iter()).collect();
            let created = calls.iter().filter(|k| k.interface == "svcctl" && k.opnum == 12).map(|k| k.count).sum::<u32>();
            let tasks = calls.iter().filter(|k| k.interface == "ITaskSchedulerService" && matches!(k.opnum, 1 | 12)).count();
            assert!(created >= 9 && tasks >= 4, "CreateServiceW {created}, task calls {tasks}");
            let admin_files = out
                .iter()
                .filter_map(|c| c.app.smb.as_deref())
                .flat_map(|s| s.files.iter())
                .filter(|f| f.tree.as_deref().is_some_and(|t| vigil_model::is_admin_share(&vigil_model::share_of(t))))
                .count();
            assert!(admin_files >= 1, "files on admin shares: {admin_files}");
        }
    }
    println!("zeek corpus: {total_joined} app records joined to their conn");
    assert!(total_joined > 1000);
}

#[test]
fn labelled_copies_and_rotated_gz_logs() {
    let Some(data) = common::shared_data() else { return };
    // 001 holds conn.log and its labelled copy: the same 992 connections, read once.
    let d = data.join("zeek-logs/stratosphere/001-zeek-scenario-malicious");
    let mut n = 0;
    let stats = vigil_import::import_path(&d, &mut |_| n += 1, &mut |_| {}).unwrap();
    assert_eq!(n, 992, "{stats}");
    assert_eq!(stats.skipped.get("zeek conn: duplicate uid"), Some(&992));
    // RITA's rotated, gzip'd open_* logs.
    let d = data.join("zeek-logs/rita/open_sni");
    let mut out = Vec::new();
    let stats = vigil_import::import_path(&d, &mut |c| out.push(c), &mut |_| {}).unwrap();
    assert_eq!(stats.files_total(), 6, "{stats}");
    assert!(out.iter().any(|c| c.open), "open_conn records are marked open");
    assert!(out.iter().any(|c| c.app.tls.as_ref().is_some_and(|t| t.server_name.is_some())));
}

#[test]
fn ssh_metadata_arrives() {
    let Some(data) = common::shared_data() else { return };
    let d = data.join("zeek-logs/stratosphere/006-zeek-scenario-ssh");
    let mut out = Vec::new();
    vigil_import::import_path(&d, &mut |c| out.push(c), &mut |_| {}).unwrap();
    let ssh: Vec<_> = out.iter().filter_map(|c| c.app.ssh.as_ref()).collect();
    assert!(!ssh.is_empty());
    assert!(ssh.iter().any(|s| s.auth_success == Some(true)));
    assert!(ssh.iter().all(|s| s.client.as_deref().is_some_and(|c| c.starts_with("SSH-"))));
}
