//! Agreement with Arkime's expected sessions (`pcaps/arkime/expected/*.test.json`): JA3, JA3S
//! and JA4 of every TLS session, and the leaf certificate's serial number.

mod common;

use serde_json::Value;
use std::net::IpAddr;

#[test]
fn arkime_tls_sessions_agree() {
    let Some(data) = common::shared_data() else { return };
    let dir = data.join("pcaps/arkime");
    let mut entries: Vec<_> = std::fs::read_dir(dir.join("expected")).unwrap().flatten().map(|e| e.path()).collect();
    entries.sort();
    let (mut compared, mut agreed) = (0, 0);
    let mut diffs = Vec::new();
    for exp in entries {
        let name = exp.file_name().unwrap().to_string_lossy().into_owned();
        let Some(pcap) = name.strip_suffix(".test.json") else { continue };
        let v: Value = serde_json::from_slice(&std::fs::read(&exp).unwrap()).unwrap();
        let sessions: Vec<&Value> =
            v.get("sessions3").and_then(Value::as_array).into_iter().flatten().filter_map(|s| s.get("body")).collect();
        if !sessions.iter().any(|b| b.get("tls").is_some()) {
            continue;
        }
        let flows = common::analyse(&dir.join(format!("{pcap}.pcap")));
        for b in sessions {
            let Some(tls) = b.get("tls") else { continue };
            let ip = |side: &str| b[side]["ip"].as_str().and_then(|s| s.parse::<IpAddr>().ok());
            let port = |side: &str| b[side]["port"].as_u64().and_then(|p| u16::try_from(p).ok());
            let (Some(sip), Some(sp), Some(dip), Some(dp)) = (ip("source"), port("source"), ip("destination"), port("destination")) else {
                continue;
            };
            let got = flows.iter().find(|f| f.orig == (sip, sp) && f.resp == (dip, dp)).and_then(|f| f.meta.tls.as_deref());
            let first = |k: &str| tls.get(k).and_then(|x| x.get(0)).and_then(Value::as_str).map(str::to_string);
            let mut cmp = |what: &str, want: Option<String>, have: Option<String>| {
                if want.is_none() {
                    return;
                }
                compared += 1;
                if want == have {
                    agreed += 1;
                } else {
                    diffs.push(format!("{pcap} {sip}:{sp} {what}: arkime {want:?} vigil {have:?}"));
                }
            };
            cmp("ja3", first("ja3"), got.and_then(|t| t.ja3.clone()));
            cmp("ja3s", first("ja3s"), got.and_then(|t| t.ja3s.clone()));
            cmp("ja4", first("ja4"), got.and_then(|t| t.ja4.clone()));
            // Arkime lists the chain's certificates (not in chain order), keeps the DER sign
            // byte and prints lower case: the leaf's serial must be among them.
            let norm = |s: &str| s.trim_start_matches("00").to_ascii_lowercase();
            let serials: Vec<String> = b
                .get("cert")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("serial").and_then(Value::as_str).map(norm))
                .collect();
            // The leaf's SANs and self-signed verdict against the Arkime entry of the same serial.
            let leaf_cert = got.and_then(|t| t.cert.as_ref());
            let arkime_leaf = b
                .get("cert")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|c| c.get("serial").and_then(Value::as_str).map(norm) == leaf_cert.map(|l| norm(&l.serial)));
            if let (Some(a), Some(l)) = (arkime_leaf, leaf_cert) {
                let names = |k: &str| {
                    a.get(k).and_then(Value::as_array).map(|v| v.iter().filter_map(Value::as_str).map(str::to_string).collect::<Vec<_>>())
                };
                if let Some(alt) = names("alt") {
                    cmp(
                        "leaf SAN DNS names",
                        Some(alt.join(",")),
                        Some(l.san_dns.iter().map(|n| n.to_ascii_lowercase()).collect::<Vec<_>>().join(",")),
                    );
                }
                let self_signed = names("issuerCN").is_some() && names("issuerCN") == names("subjectCN");
                cmp("leaf self-signed", Some(self_signed.to_string()), Some(l.self_signed.to_string()));
            }
            if !serials.is_empty() {
                let leaf = got.and_then(|t| t.cert.as_ref()).map(|c| norm(&c.serial));
                let want = leaf.clone().filter(|l| serials.contains(l)).or_else(|| serials.first().cloned());
                cmp("leaf serial among the chain", want, leaf);
            }
        }
    }
    println!("Arkime TLS sessions: {agreed}/{compared} fields agree");
    for d in &diffs {
        println!("  differs: {d}");
    }
    assert!(compared >= 20, "expected at least 20 comparable fields, found {compared}");
    assert_eq!(diffs, Vec::<String>::new());
}
