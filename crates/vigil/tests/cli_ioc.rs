//! `vigil hunt --ioc FILE` and the site file's `[ioc] files`: indicator lists of every kind
//! (address, network, domain, JA4, certificate SHA-1) loaded from plain-line, CSV and STIX files
//! and matched against Zeek logs, producing `ioc_match` findings.

use assert_cmd::Command;
use std::path::Path;
use vigil_model::{Finding, FindingKind};

fn vigil() -> Command {
    Command::cargo_bin("vigil").expect("the vigil binary is built")
}

const CONN_HEADER: &str = "#separator \\x09\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n";
const SSL_HEADER: &str = "#separator \\x09\n#path\tssl\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tversion\tcipher\tcurve\tserver_name\tresumed\tlast_alert\tnext_protocol\testablished\tcert_chain_fuids\tclient_cert_chain_fuids\tsubject\tissuer\tja4\n#types\ttime\tstring\taddr\tport\taddr\tport\tstring\tstring\tstring\tstring\tbool\tstring\tstring\tbool\tvector[string]\tvector[string]\tstring\tstring\tstring\n";
const X509_HEADER: &str = "#separator \\x09\n#path\tx509\n#fields\tts\tid\tcertificate.version\tcertificate.serial\tcertificate.subject\tcertificate.issuer\tcertificate.not_valid_before\tcertificate.not_valid_after\tcertificate.key_alg\tcertificate.key_length\tfingerprint\n#types\ttime\tstring\tcount\tstring\tstring\tstring\ttime\ttime\tstring\tcount\tstring\n";

const CERT_SHA1: &str = "3b4f2a9c1d8e7f6a5b4c3d2e1f0a9b8c7d6e5f40";
const JA4: &str = "t13d1516h2_8daaf6152771_e5627efa2ab1";

/// Four TLS sessions from 10.1.1.5, each touching one kind of indicator, plus a benign one.
fn write_logs(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let t0 = 1_700_000_000.0_f64;
    // (uid, dst, sni, ja4, cert fuid)
    let sessions = [
        ("C1", "198.51.100.7", "cdn.harmless.example", "t13d1715h2_5b57614c22b0_3d5424432f57", "-"),
        ("C2", "203.0.113.20", "beacon.evil-updates.example", "t13d1715h2_5b57614c22b0_3d5424432f57", "-"),
        ("C3", "192.0.2.44", "api.vendor.example", JA4, "-"),
        ("C4", "192.0.2.45", "files.vendor.example", "t13d1715h2_5b57614c22b0_3d5424432f57", "F4"),
        ("C5", "192.0.2.46", "www.benign.example", "t13d1715h2_5b57614c22b0_3d5424432f57", "-"),
    ];
    let mut conn = String::from(CONN_HEADER);
    let mut ssl = String::from(SSL_HEADER);
    for (i, (uid, dst, sni, ja4, fuid)) in sessions.iter().enumerate() {
        let ts = t0 + i as f64 * 60.0;
        conn.push_str(&format!(
            "{ts:.6}\t{uid}\t10.1.1.5\t5{i}000\t{dst}\t443\ttcp\tssl\t2.5\t900\t4200\tSF\t-\t-\t0\tShADadFf\t8\t1300\t8\t4600\t-\n"
        ));
        ssl.push_str(&format!("{ts:.6}\t{uid}\t10.1.1.5\t5{i}000\t{dst}\t443\tTLSv12\tTLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\tx25519\t{sni}\tF\t-\th2\tT\t{fuid}\t-\tCN={sni}\tCN=Some CA\t{ja4}\n"));
    }
    let x509 = format!(
        "{X509_HEADER}{t0:.6}\tF4\t3\t01AB\tCN=files.vendor.example\tCN=Some CA\t1690000000.000000\t1790000000.000000\trsa\t2048\t{CERT_SHA1}\n"
    );
    std::fs::write(dir.join("conn.log"), conn).unwrap();
    std::fs::write(dir.join("ssl.log"), ssl).unwrap();
    std::fs::write(dir.join("x509.log"), x509).unwrap();
}

fn parse_jsonl(out: &[u8]) -> Vec<Finding> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str::<Finding>(l).unwrap_or_else(|e| panic!("not a finding ({e}): {l}")))
        .collect()
}

#[test]
fn hunt_matches_indicators_from_the_command_line_and_the_site_file() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    write_logs(&logs);
    // Plain lines, defanged, with comments: a network and a domain (matches its subdomains).
    std::fs::write(dir.path().join("plain.txt"), "# watch list\n198.51.100.0/24\nevil-updates[.]example\n").unwrap();
    // CSV with a header: a JA4 and a certificate SHA-1 (colon-separated, upper case).
    let sha1_colons: String =
        CERT_SHA1.to_uppercase().as_bytes().chunks(2).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(":");
    std::fs::write(
        dir.path().join("feed.csv"),
        format!("indicator,type,description\n{JA4},ja4,loader fingerprint\n{sha1_colons},x509-fingerprint-sha1,C2 certificate\n"),
    )
    .unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(&site, "[site]\ninternal = [\"10.0.0.0/8\"]\n\n[ioc]\nfiles = [\"plain.txt\"]\n").unwrap();

    let out = vigil()
        .args(["hunt", "--no-store", "--format", "jsonl", "--site"])
        .arg(&site)
        .arg("--ioc")
        .arg(dir.path().join("feed.csv"))
        .arg(&logs)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let f: Vec<Finding> = parse_jsonl(&out.stdout).into_iter().filter(|x| x.kind == FindingKind::IocMatch).collect();
    for x in &f {
        println!("{:.2} {} {:?}: {}", x.score, x.src, x.dst, x.summary);
    }
    let hit = |needle: &str| f.iter().find(|x| x.summary.contains(needle) || x.dst.iter().any(|d| d.contains(needle)));
    assert!(hit("198.51.100").is_some(), "network indicator matched: {f:#?}");
    assert!(hit("evil-updates.example").is_some(), "domain indicator matched its subdomain: {f:#?}");
    assert!(hit(JA4).is_some(), "JA4 indicator matched: {f:#?}");
    assert!(hit(CERT_SHA1).is_some(), "certificate SHA-1 matched: {f:#?}");
    assert!(f.iter().all(|x| x.src == "10.1.1.5"), "the internal host is blamed");
    assert!(hit("benign").is_none() && hit("192.0.2.46").is_none(), "the benign session matches nothing");
    assert_eq!(f.len(), 4, "one finding per host and indicator: {f:#?}");

    // Without indicators there is no ioc_match at all.
    let out = vigil().args(["hunt", "--no-store", "--format", "jsonl"]).arg(&logs).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(parse_jsonl(&out.stdout).iter().all(|x| x.kind != FindingKind::IocMatch));

    // A missing indicator file is an error naming it (exit 2), not a silently empty list.
    let out = vigil().args(["hunt", "--no-store", "--ioc"]).arg(dir.path().join("absent.csv")).arg(&logs).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("absent.csv"));

    // STIX 2.1 bundles load through the same option.
    let stix = r#"{"type":"bundle","id":"bundle--1","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--1","pattern_type":"stix","pattern":"[ipv4-addr:value = '192.0.2.44']","valid_from":"2024-01-01T00:00:00Z"}]}"#;
    std::fs::write(dir.path().join("bundle.json"), stix).unwrap();
    let out =
        vigil().args(["hunt", "--no-store", "--format", "jsonl", "--ioc"]).arg(dir.path().join("bundle.json")).arg(&logs).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let f: Vec<Finding> = parse_jsonl(&out.stdout).into_iter().filter(|x| x.kind == FindingKind::IocMatch).collect();
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].dst.contains(&"192.0.2.44".to_string()) || f[0].summary.contains("192.0.2.44"), "{f:#?}");
}
