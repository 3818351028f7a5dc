//! IOC loading (CSV, STIX 2.1, MISP JSON; hostile input never panics) and matching.

mod common;
use common::*;
use std::sync::Arc;
use vigil_detect::Detector;
use vigil_detect::ioc::{IocDetector, IocKind, IocSet};
use vigil_detect::util::Tuning;
use vigil_model::{CertMeta, FindingKind};

const CSV: &str = "Indicator,Type,Description,Reference\n\
185.10.3.4,IP,C2 server,x\n\
185.11.0.0/16,CIDR,bulletproof host,x\n\
evil-c2[.]example,DOMAIN,,x\n\
862283496@qq.com,DOMAIN,,x\n\
028E1DECCF93D38ECF396118DFE908B4,CODE SIGN CERT SERIAL,,x\n\
12eb8a9f1a7cd1cc10e57847dd5476c6062b9e58,CERT SHA1,,x\n";

const STIX: &str = r#"{"type":"bundle","id":"bundle--1","objects":[
 {"type":"indicator","spec_version":"2.1","id":"indicator--a","name":"Winnti C2","pattern_type":"stix",
  "pattern":"[domain-name:value = 'winnti-c2.example'] OR [ipv4-addr:value = '45.33.77.7']"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--b","pattern_type":"stix",
  "pattern":"[x509-certificate:hashes.'SHA-256' = 'aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233']"},
 {"type":"indicator","id":"indicator--c","pattern_type":"yara","pattern":"rule x {}"},
 {"type":"domain-name","id":"domain-name--d","value":"observed.bad.example"}]}"#;

const MISP: &str = r#"{"response":[{"Event":{"info":"APT","Attribute":[
 {"type":"ip-dst|port","value":"1.192.44.4|8443","comment":"stager"},
 {"type":"hostname","value":"stage.apt.example"},
 {"type":"ja4","value":"t13d301000_c1ce1ea3ab34_0f4f3b1d0a0e","comment":"implant TLS stack"},
 {"type":"md5","value":"d41d8cd98f00b204e9800998ecf8427e"}],
 "Object":[{"name":"domain-ip","Attribute":[{"type":"domain","value":"obj.apt.example"}]}]}}]}"#;

#[test]
fn loaders_read_csv_stix_and_misp() {
    let c = IocSet::parse(CSV.as_bytes(), "feed.csv").unwrap();
    assert_eq!(c.len(), 4, "{:?}", c.entries());
    assert_eq!(c.skipped, 2, "e-mail address and code-signing serial are not network indicators");
    assert!(c.match_ip(ip("185.10.3.4")).is_some());
    assert!(c.match_ip(ip("185.11.200.1")).is_some_and(|i| i.kind == IocKind::Network));
    assert!(c.match_domain("www.evil-c2.example.").is_some());
    assert!(c.match_cert("12:EB:8A:9F:1A:7C:D1:CC:10:E5:78:47:DD:54:76:C6:06:2B:9E:58").is_some_and(|i| i.kind == IocKind::CertSha1));

    let s = IocSet::parse(STIX.as_bytes(), "bundle.json").unwrap();
    assert_eq!(s.len(), 4, "{:?}", s.entries());
    assert_eq!(s.match_domain("winnti-c2.example").unwrap().description, "Winnti C2");
    assert!(s.match_ip(ip("45.33.77.7")).is_some());
    assert!(s.match_cert("AA11BB22CC33DD44EE55FF6600112233445566778899AABBCCDDEEFF00112233").is_some());
    assert!(s.match_domain("observed.bad.example").is_some());
    assert_eq!(s.skipped, 1, "the YARA pattern");

    let m = IocSet::parse(MISP.as_bytes(), "misp.json").unwrap();
    assert_eq!(m.len(), 4, "{:?}", m.entries());
    assert!(m.match_ip(ip("1.192.44.4")).is_some());
    assert!(m.match_domain("a.obj.apt.example").is_some());
    assert!(m.match_fingerprint("t13d301000_c1ce1ea3ab34_0f4f3b1d0a0e").is_some());

    // Plain one-value-per-line lists work too, and `load` reads from disk.
    let dir = std::env::temp_dir().join(format!("vigil-ioc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("list.txt");
    std::fs::write(&p, "# comment\n203.0.113.50\nhxxp://phish[.]example/login\n").unwrap();
    let l = IocSet::load(&p).unwrap();
    assert!(l.match_ip(ip("203.0.113.50")).is_some() && l.match_domain("phish.example").is_some());
    assert!(IocSet::load(&dir.join("missing.csv")).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn hostile_indicator_files_never_panic() {
    let nasty: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]".to_vec(),
        br#"{"type":"bundle","objects":[{"type":"indicator","pattern":"[ipv4-addr:value = '"}]}"#.to_vec(),
        br#"{"type":"bundle","objects":[{"type":"indicator","pattern":"'\\"}]}"#.to_vec(),
        br#"{"Attribute":{"type":"ip-dst","value":"999.1.1.1"}}"#.to_vec(),
        "\"unterminated,quote\n,,,,\n\u{feff}Indicator\n".as_bytes().to_vec(),
        vec![0xff, 0xfe, 0x00, 0x2c, 0x0a, 0x22],
    ];
    for n in nasty {
        if let Ok(s) = IocSet::parse(&n, "x") {
            let _ = s.match_domain("a.b.c");
        }
    }
    // Mutated and truncated real-shaped feeds (a poor man's fuzzer; cargo-fuzz target
    // `detect_ioc` does this properly).
    let mut rng = Rng(77);
    for seed in [CSV, STIX, MISP] {
        for _ in 0..2000 {
            let mut b = seed.as_bytes().to_vec();
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(b.len() as u64) as usize;
                b[i] = rng.below(256) as u8;
            }
            b.truncate(rng.below(b.len() as u64 + 1) as usize);
            if let Ok(s) = IocSet::parse(&b, "m") {
                for e in s.entries() {
                    let _ = s.match_domain(&e.value);
                    let _ = s.match_cert(&e.value);
                }
            }
        }
    }
}

#[test]
fn detector_matches_addresses_names_fingerprints_and_certificates() {
    let ctx = shanghai();
    let mut set = IocSet::parse(CSV.as_bytes(), "feed.csv").unwrap();
    set.merge(&IocSet::parse(STIX.as_bytes(), "bundle.json").unwrap());
    set.merge(&IocSet::parse(MISP.as_bytes(), "misp.json").unwrap());
    let mut det = IocDetector::new(Arc::new(set), Tuning::default());
    let mut conns = vec![
        tcp(MON as f64, "10.1.0.2", "185.10.3.4", 443, 900, 4000),
        dns(MON as f64 + 1.0, "10.1.0.3", "10.0.0.53", "x.stage.apt.example", 1, &["93.184.216.34"]),
        with_tls(
            tcp(MON as f64 + 2.0, "10.1.0.4", "93.184.216.40", 443, 700, 5000),
            "cdn.example",
            Some("t13d301000_c1ce1ea3ab34_0f4f3b1d0a0e"),
        ),
        tcp(MON as f64 + 3.0, "10.1.0.9", "93.184.216.41", 443, 700, 5000),
    ];
    let mut c = with_tls(tcp(MON as f64 + 4.0, "10.1.0.5", "93.184.216.42", 443, 700, 5000), "ok.example", None);
    if let Some(t) = c.app.tls.as_mut() {
        t.cert = Some(CertMeta { sha256: "aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233".into(), ..Default::default() });
    }
    conns.push(c);
    for x in &conns {
        det.observe(x, &ctx);
    }
    let f = det.finish(&ctx);
    assert_eq!(f.len(), 4, "{f:#?}");
    assert!(f.iter().all(|x| x.kind == FindingKind::IocMatch && x.src != "10.1.0.9"));
    let by = |h: &str| f.iter().find(|x| x.src == h).unwrap();
    assert_eq!(by("10.1.0.2").evidence["indicator_type"], "ip");
    assert!(by("10.1.0.2").score >= 0.75);
    assert_eq!(by("10.1.0.3").evidence["matched_as"], serde_json::json!(["dns query"]));
    assert!(by("10.1.0.3").summary.contains("looked up"));
    assert_eq!(by("10.1.0.4").evidence["indicator_type"], "ja4");
    assert_eq!(by("10.1.0.5").evidence["indicator_type"], "cert_sha256");
    assert!(by("10.1.0.5").score >= 0.9);
}

#[test]
fn certificate_sha1_indicators_match_the_leaf_sha1() {
    let ctx = shanghai();
    // abuse.ch SSLBL's layout: the header is itself a comment, the SHA-1 is the second column.
    let feed =
        "# abuse.ch SSLBL\n# Listingdate,SHA1,Listingreason\n2024-05-01 10:00:00,6d3f0c2a9b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c,Dridex C&C\n";
    let set = IocSet::parse(feed.as_bytes(), "sslbl.csv").unwrap();
    let mut det = IocDetector::new(Arc::new(set), Tuning::default());
    let mut hit = with_tls(tcp(MON as f64, "10.1.0.7", "93.184.216.50", 443, 700, 5000), "cdn2.example", None);
    if let Some(t) = hit.app.tls.as_mut() {
        t.cert = Some(CertMeta {
            sha1: "6D3F0C2A9B8E7D6C5B4A3F2E1D0C9B8A7F6E5D4C".to_ascii_lowercase(),
            sha256: "bb".repeat(32),
            ..Default::default()
        });
    }
    let mut miss = with_tls(tcp(MON as f64 + 1.0, "10.1.0.8", "93.184.216.51", 443, 700, 5000), "cdn3.example", None);
    if let Some(t) = miss.app.tls.as_mut() {
        t.cert = Some(CertMeta { sha1: "00".repeat(20), ..Default::default() });
    }
    det.observe(&hit, &ctx);
    det.observe(&miss, &ctx);
    let f = det.finish(&ctx);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].src, "10.1.0.7");
    assert_eq!(f[0].evidence["indicator_type"], "cert_sha1");
    assert!(f[0].summary.contains("Dridex"), "{}", f[0].summary);
}
