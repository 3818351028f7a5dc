//! Live SPF/DKIM/DMARC verification against a DNS server started by the test on 127.0.0.1:
//! a minimal UDP responder that serves TXT records from a map (NXDOMAIN for other names). No
//! other network is used. Also replays the DKIM/ARC samples of `mail/auth` through it, when the
//! shared data is present, and checks they verify as their offline run does.

use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use std::collections::HashMap;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use vigil_mail::live::LiveAuth;
use vigil_mail::{Analyzer, MailConfig};

/// A tiny authoritative-looking DNS server for TXT records, stopped on drop.
struct DnsServer {
    addr: String,
    stop: Arc<AtomicBool>,
    queries: Arc<AtomicUsize>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn qname(pkt: &[u8]) -> Option<(String, usize)> {
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = *pkt.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(pkt.get(i..i + len)?).to_ascii_lowercase());
        i += len;
    }
    Some((labels.join("."), i))
}

fn answer(pkt: &[u8], records: &HashMap<String, Vec<String>>) -> Option<Vec<u8>> {
    let (name, qend) = qname(pkt)?;
    let qtype = u16::from_be_bytes([*pkt.get(qend)?, *pkt.get(qend + 1)?]);
    let txts = records.get(&name);
    let mut out = Vec::new();
    out.extend_from_slice(pkt.get(..2)?);
    let rcode: u8 = if txts.is_some() || records.keys().any(|k| k.ends_with(&format!(".{name}"))) { 0 } else { 3 };
    out.extend_from_slice(&[0x84 | (pkt.get(2)? & 1), 0x80 | rcode]);
    let answers: Vec<&String> = if qtype == 16 { txts.map(|t| t.iter().collect()).unwrap_or_default() } else { Vec::new() };
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(pkt.get(12..qend + 4)?);
    for t in answers {
        let mut rdata = Vec::new();
        for chunk in t.as_bytes().chunks(255) {
            rdata.push(chunk.len() as u8);
            rdata.extend_from_slice(chunk);
        }
        out.extend_from_slice(&[0xC0, 0x0C, 0, 16, 0, 1, 0, 0, 0, 60]);
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    Some(out)
}

fn start_dns(records: HashMap<String, Vec<String>>) -> DnsServer {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let addr = sock.local_addr().unwrap().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let queries = Arc::new(AtomicUsize::new(0));
    let (s2, q2) = (stop.clone(), queries.clone());
    let handle = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while !s2.load(Ordering::SeqCst) {
            let Ok((n, peer)) = sock.recv_from(&mut buf) else { continue };
            q2.fetch_add(1, Ordering::SeqCst);
            if let Some(resp) = buf.get(..n).and_then(|p| answer(p, &records)) {
                let _ = sock.send_to(&resp, peer);
            }
        }
    });
    DnsServer { addr, stop, queries, handle: Some(handle) }
}

fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

const BODY: &str = "From: Release Bot <release@sender.example>\r\nTo: admin@ours.example\r\nSubject: Build 1.2.3 published\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@sender.example>\r\n\r\nThe build is published.\r\n";

fn signed_message(pkcs8: &[u8], ip: &str) -> String {
    let key = Ed25519Key::from_pkcs8_der(pkcs8).unwrap();
    let sig = DkimSigner::from_key(key)
        .domain("sender.example")
        .selector("s1")
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .sign(BODY.as_bytes())
        .unwrap();
    format!(
        "Return-Path: <bounce@sender.example>\r\nReceived: from mail.sender.example (mail.sender.example [{ip}]) by mx.ours.example\r\n{}{BODY}",
        sig.to_header()
    )
}

fn records(public_key: &[u8]) -> HashMap<String, Vec<String>> {
    let mut m = HashMap::new();
    m.insert("sender.example".into(), vec!["v=spf1 ip4:192.0.2.0/24 -all".into()]);
    m.insert("s1._domainkey.sender.example".into(), vec![format!("v=DKIM1; k=ed25519; p={}", b64(public_key))]);
    m.insert("_dmarc.sender.example".into(), vec!["v=DMARC1; p=reject".into()]);
    m
}

fn key() -> Vec<u8> {
    Ed25519Key::generate_pkcs8().unwrap()
}

fn result_of<'a>(o: &'a vigil_mail::live::LiveOutcome, method: &str) -> &'a str {
    o.results.iter().find(|r| r.method == method).map(|r| r.result.as_str()).unwrap_or("absent")
}

#[test]
fn spf_dkim_dmarc_pass_and_fail_over_local_dns() {
    let k = key();
    let dns = start_dns(records(&Ed25519Key::from_pkcs8_der(&k).unwrap().public_key()));
    let live = LiveAuth::new(&dns.addr, Duration::from_secs(2), Duration::from_secs(10)).unwrap();

    // Sent from the sender's own network and signed: everything passes.
    let good = signed_message(&k, "192.0.2.7");
    let o = live.verify(good.as_bytes());
    assert!(!o.timed_out);
    assert_eq!(result_of(&o, "spf"), "pass", "{o:?}");
    assert_eq!(result_of(&o, "dkim"), "pass", "{o:?}");
    assert_eq!(result_of(&o, "dmarc"), "pass", "{o:?}");
    assert!(dns.queries.load(Ordering::SeqCst) >= 3, "the checks must have asked the local server");

    // Same message from a foreign IP with the body altered: SPF fails, the signature breaks,
    // DMARC fails.
    let forged = signed_message(&k, "203.0.113.9").replace("The build is published.", "Sign in at https://evil.example/login");
    let o = live.verify(forged.as_bytes());
    assert_eq!(result_of(&o, "spf"), "fail", "{o:?}");
    assert_eq!(result_of(&o, "dkim"), "fail", "{o:?}");
    assert_eq!(result_of(&o, "dmarc"), "fail", "{o:?}");
    assert!(o.signatures.iter().any(|s| s.method == "dkim" && s.result == "fail" && s.domain == "sender.example"));

    // Through the analyzer, configured with the resolver: the forged message scores the DMARC
    // failure as a trusted result, the good one does not.
    let cfg = MailConfig { resolver: Some(dns.addr.clone()), ..Default::default() };
    let a = Analyzer::new(cfg).unwrap();
    let v = a.analyze(forged.as_bytes()).unwrap();
    assert!(v.signals.iter().any(|s| s.name == "dmarc_fail" && s.weight >= 0.6), "{:?}", v.signals);
    assert!(v.phishing, "forged mail to admin@ must be flagged: {:.3} {:?}", v.score, v.signals);
    let v = a.analyze(good.as_bytes()).unwrap();
    assert!(!v.signals.iter().any(|s| s.name.ends_with("_fail")), "{:?}", v.signals);
    assert!(!v.phishing, "{:.3} {:?}", v.score, v.signals);
}

#[test]
fn unreachable_resolver_times_out_without_failing_the_message() {
    // A bound socket that never answers: checks hit the deadline; the analyzer still judges.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let live = LiveAuth::new(&addr, Duration::from_millis(100), Duration::from_millis(400)).unwrap();
    let o = live.verify(signed_message(&key(), "192.0.2.7").as_bytes());
    assert!(o.timed_out || o.results.iter().all(|r| r.result != "pass"), "{o:?}");
    assert!(LiveAuth::new("not-an-ip", Duration::from_secs(1), Duration::from_secs(1)).is_err());
}

fn data_dir() -> Option<PathBuf> {
    let p = match std::env::var_os("VIGIL_SHARED_DATA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    if p.join("mail/auth").is_dir() {
        return Some(p.join("mail/auth"));
    }
    if std::env::var("VIGIL_REQUIRE_CORPUS").as_deref() == Ok("1") {
        panic!("shared data not found at {}", p.display());
    }
    println!("shared data not found at {}; skipping corpus check", p.display());
    None
}

/// The `auth/dkim` and `auth/arc` samples (DNS records, blank line, message) verified live
/// with their records served by the local DNS server: DKIM passes (one sample's `x=` expiry
/// is past), ARC chains pass — the same verdicts as offline.
#[test]
fn corpus_dkim_and_arc_samples_verify_live() {
    let Some(auth) = data_dir() else { return };
    let mut checked = 0;
    for sub in ["dkim", "arc"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(auth.join(sub))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let (recs, msg) = text.split_once("\n\n").unwrap();
            let mut map: HashMap<String, Vec<String>> = HashMap::new();
            for line in recs.lines() {
                if let Some((name, value)) = line.split_once(' ') {
                    map.entry(name.trim_end_matches('.').to_ascii_lowercase()).or_default().push(value.trim().to_string());
                }
            }
            let dns = start_dns(map);
            let live = LiveAuth::new(&dns.addr, Duration::from_secs(2), Duration::from_secs(10)).unwrap();
            let raw = msg.replace('\n', "\r\n");
            let o = live.verify(raw.as_bytes());
            println!(
                "{}: {:?}",
                f.display(),
                o.signatures.iter().map(|s| (s.method, s.domain.clone(), s.result.clone())).collect::<Vec<_>>()
            );
            if sub == "dkim" {
                let last = o.signatures.iter().rfind(|s| s.method == "dkim").expect("a DKIM result");
                assert!(last.result == "pass" || last.reason.to_ascii_lowercase().contains("expired"), "{}: {last:?}", f.display());
            } else {
                let arc = o.signatures.iter().find(|s| s.method == "arc").expect("an ARC result");
                assert_eq!(arc.result, "pass", "{}: {arc:?}", f.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 8);
}
