//! `vigil exposure scan` end to end: loopback servers announcing vulnerable versions (OpenSSH
//! 8.5p1, nginx 1.20.0, Apache 2.4.49, Exim 4.89, a password-less Redis), the shared NVD / KEV /
//! EPSS files as `--vulns`, findings on stdout and a prioritised patch list in which the known
//! exploited (KEV) entries come first. Also: broken scopes, host names resolving outside the
//! scope and `--only` outside the scope are refused with a clear message before any packet.

mod common;

use assert_cmd::Command;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vigil_model::{Finding, FindingKind};

fn vigil() -> Command {
    Command::cargo_bin("vigil").expect("the vigil binary is built")
}

/// A toy server that answers like a product would: `greeting` first (server-first protocols),
/// then `answer(request)` to whatever the client sends. Stops when the guard drops.
struct Fake {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Fake {
    fn start(ip: &str, greeting: &'static [u8], answer: fn(&[u8]) -> Vec<u8>) -> Fake {
        let l = TcpListener::bind((ip, 0)).unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let t = Instant::now();
            // Bounded: the test finishes well within a minute.
            while !flag.load(Ordering::Relaxed) && t.elapsed() < Duration::from_secs(120) {
                let Ok((mut s, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_millis(800)));
                let _ = s.write_all(greeting);
                let mut buf = [0u8; 2048];
                if let Ok(n) = s.read(&mut buf)
                    && n > 0
                {
                    let _ = s.write_all(&answer(&buf[..n]));
                }
            }
        });
        Fake { addr, stop, thread: Some(thread) }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn nothing(_: &[u8]) -> Vec<u8> {
    Vec::new()
}

fn http(server: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nServer: {server}\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close\r\n\r\n<html><title>Intranet</title></html>").into_bytes()
}

fn scope_file(dir: &Path, fakes: &[&Fake]) -> PathBuf {
    let p = dir.join("scope.txt");
    let text: String = fakes.iter().map(|f| format!("{} ports={}\n", f.addr.ip(), f.addr.port())).collect();
    std::fs::write(&p, format!("# our own test servers\n{text}")).unwrap();
    p
}

#[test]
fn scan_with_vulns_gives_findings_and_a_patch_list_with_kev_first() {
    let Some(data) = common::shared_data() else { return };
    let vulns = data.join("vulns");
    let ssh = Fake::start("127.60.0.1", b"SSH-2.0-OpenSSH_8.5p1\r\n", nothing);
    let nginx = Fake::start("127.60.0.2", b"", |_| http("nginx/1.20.0"));
    let apache = Fake::start("127.60.0.3", b"", |_| http("Apache/2.4.49 (Unix)"));
    let exim =
        Fake::start("127.60.0.4", b"220 mx.example.cn ESMTP Exim 4.89 Thu, 26 Nov 2026 10:00:00 +0000\r\n", |_| b"221 bye\r\n".to_vec());
    let redis = Fake::start("127.60.0.5", b"", |req| {
        if req.starts_with(b"INFO") {
            b"$50\r\n# Server\r\nredis_version:7.2.4\r\nredis_mode:standalone\r\n\r\n".to_vec()
        } else {
            b"-ERR unknown command\r\n".to_vec()
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let scope = scope_file(dir.path(), &[&ssh, &nginx, &apache, &exim, &redis]);
    let patch = dir.path().join("patch.json");
    let out = vigil()
        .args([
            "exposure",
            "scan",
            "--scan-type",
            "connect",
            "--rate",
            "0",
            "--banner-wait-ms",
            "400",
            "--read-timeout-ms",
            "1500",
            "--format",
            "jsonl",
        ])
        .arg("--scope")
        .arg(&scope)
        .arg("--vulns")
        .arg(vulns.join("nvd-cve-2.0"))
        .arg("--vulns")
        .arg(vulns.join("cisa-kev"))
        .arg("--vulns")
        .arg(vulns.join("epss"))
        .arg("--patch-list")
        .arg(&patch)
        .arg("--data")
        .arg(dir.path().join("store"))
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("connect scan of 5 address/port pairs") && err.contains("5 open"), "{err}");
    let findings: Vec<Finding> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let vulnerable: Vec<&Finding> = findings.iter().filter(|f| f.kind == FindingKind::VulnerableService).collect();
    let cves_of = |ip: &str| -> Vec<String> {
        vulnerable
            .iter()
            .filter(|f| f.src == ip)
            .flat_map(|f| f.evidence["cves"].as_array().cloned().unwrap_or_default())
            .filter_map(|c| c["cve"].as_str().map(String::from))
            .collect()
    };
    assert!(cves_of("127.60.0.1").contains(&"CVE-2024-6387".to_string()), "{findings:#?}");
    assert!(cves_of("127.60.0.2").contains(&"CVE-2021-23017".to_string()));
    assert!(cves_of("127.60.0.3").contains(&"CVE-2021-41773".to_string()));
    assert!(cves_of("127.60.0.4").contains(&"CVE-2019-10149".to_string()));
    assert!(cves_of("127.60.0.5").is_empty(), "no CVE data for Redis 7.2.4 in the corpus");
    let redis_exposed =
        findings.iter().find(|f| f.kind == FindingKind::ExposedService && f.src == "127.60.0.5").expect("redis is an exposed database");
    assert!(redis_exposed.summary.contains("without authentication"), "{}", redis_exposed.summary);
    assert!(findings.iter().any(|f| f.kind == FindingKind::ExposedService && f.src == "127.60.0.1"), "SSH is remote access");
    // Findings are ranked, KEV-backed ones on top.
    let scores: Vec<f64> = findings.iter().map(|f| f.score).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(findings[0].evidence["kev"] == true, "{:#?}", findings[0]);

    let list: serde_json::Value = serde_json::from_slice(&std::fs::read(&patch).unwrap()).unwrap();
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 4, "{list:#}");
    let order: Vec<(String, bool)> =
        items.iter().map(|i| (i["ip"].as_str().unwrap_or("").to_string(), i["kev"].as_bool().unwrap())).collect();
    assert!(order[0].1 && order[1].1 && !order[2].1 && !order[3].1, "KEV entries first: {order:?}");
    let kev_ips: Vec<&str> = order[..2].iter().map(|(ip, _)| ip.as_str()).collect();
    assert!(kev_ips.contains(&"127.60.0.3") && kev_ips.contains(&"127.60.0.4"), "{order:?}");
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["rank"], i + 1);
    }
}

/// A listener that must never see a connection.
fn untouched_listener(ip: &str) -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind((ip, 0)).unwrap();
    l.set_nonblocking(true).unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

fn assert_untouched(l: &TcpListener) {
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(l.accept().err().map(|e| e.kind()), Some(std::io::ErrorKind::WouldBlock), "a refused scan touched the listener");
}

#[test]
fn refused_scopes_say_why_and_send_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (l, a) = untouched_listener("127.60.1.1");
    let cases: Vec<(String, Vec<String>, &str)> = vec![
        // A broken line refuses the whole file, naming the line.
        (format!("{ip} ports={p}\n{ip} ports=99999\n", ip = a.ip(), p = a.port()), vec![], "scope line 2"),
        (format!("{ip}/8 ports={p}\n", ip = a.ip(), p = a.port()), vec![], "host bits"),
        // A host name resolving outside the listed addresses.
        (format!("{ip} ports={p}\nlocalhost ports={p}\n", ip = a.ip(), p = a.port()), vec![], "outside the addresses"),
        // --only outside the scope.
        (format!("127.60.2.1 ports={p}\n", p = a.port()), vec!["--only".into(), a.ip().to_string()], "outside the scope"),
        ("# nothing\n".to_string(), vec![], "scope is empty"),
    ];
    for (text, extra, needle) in cases {
        let scope = dir.path().join("scope.txt");
        std::fs::write(&scope, &text).unwrap();
        let out = vigil()
            .args(["exposure", "scan", "--scan-type", "connect", "--no-store", "--format", "jsonl"])
            .arg("--scope")
            .arg(&scope)
            .args(&extra)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text:?} must be refused");
        assert!(err.contains(needle) && err.contains("refus"), "{text:?}: {err}");
        assert!(out.stdout.is_empty(), "no findings for a refused scope");
        assert_untouched(&l);
    }
}

#[test]
fn syn_scan_through_the_cli_reports_its_method() {
    let fake = Fake::start("127.60.3.1", b"SSH-2.0-OpenSSH_9.6p1\r\n", nothing);
    let dir = tempfile::tempdir().unwrap();
    let scope = scope_file(dir.path(), &[&fake]);
    let out = vigil()
        .args(["exposure", "scan", "--scan-type", "syn", "--no-store", "--rate", "0", "--banner-wait-ms", "400", "--format", "jsonl"])
        .arg("--scope")
        .arg(&scope)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // With CAP_NET_RAW a SYN scan; without it a connect scan and a note saying why.
    let syn = err.contains("syn scan of 1 address/port pairs");
    assert!(syn || (err.contains("connect scan of 1") && err.contains("CAP_NET_RAW")), "{err}");
    assert!(err.contains("1 open"), "{err}");
    let findings: Vec<Finding> = String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(findings.iter().any(|f| f.kind == FindingKind::ExposedService && f.summary.contains("OpenSSH 9.6p1")), "{findings:#?}");
}
