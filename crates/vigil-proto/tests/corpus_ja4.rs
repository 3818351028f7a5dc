//! JA4 agreement with FoxIO's expected output (`pcaps/ja4/expected/<pcap>.json`): every
//! TLS ClientHello the reference tool fingerprinted must get the same JA4 here, except where
//! the reference output predates the current specification (see docs/JA4.md): an ALPN value
//! whose first or last byte is not alphanumeric was printed as "99" by older releases, while the
//! specification now prints the first and last hex digits.

mod common;

use serde_json::Value;
use std::net::IpAddr;

#[test]
fn ja4_matches_foxio_reference() {
    let Some(data) = common::shared_data() else { return };
    let dir = data.join("pcaps/ja4");
    let mut total = 0;
    let mut matched = 0;
    let mut mismatches = Vec::new();
    let mut legacy = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir.join("expected")).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pcap) = name.strip_suffix(".json") else { continue };
        let expected: Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
        let wanted: Vec<&Value> = expected.as_array().into_iter().flatten().filter(|x| x.get("JA4.1").is_some()).collect();
        if wanted.is_empty() {
            continue;
        }
        let flows = common::analyse(&dir.join(pcap));
        for w in wanted {
            total += 1;
            let s = |k: &str| w.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            let src: IpAddr = s("src").parse().unwrap();
            let dst: IpAddr = s("dst").parse().unwrap();
            let (sp, dp): (u16, u16) = (s("srcport").parse().unwrap(), s("dstport").parse().unwrap());
            let want = s("JA4.1");
            let got = flows
                .iter()
                .find(|f| f.orig == (src, sp) && f.resp == (dst, dp))
                .and_then(|f| f.meta.tls.as_ref())
                .and_then(|t| t.ja4.clone());
            if got.as_deref() == Some(want.as_str()) {
                matched += 1;
            } else if got.as_deref().is_some_and(|g| legacy_alpn_99(&want, g)) {
                legacy.push(format!("{pcap}: reference {want}, specification {}", got.unwrap_or_default()));
            } else {
                mismatches.push(format!("{pcap} {src}:{sp}->{dst}:{dp}: want {want} got {got:?}"));
            }
        }
    }
    println!("JA4: {matched}/{total} match; {} differ only by the legacy '99' ALPN rule", legacy.len());
    for l in &legacy {
        println!("  legacy ALPN rule: {l}");
    }
    for m in &mismatches {
        println!("  mismatch: {m}");
    }
    assert!(total > 100, "expected the FoxIO corpus to hold over 100 client hellos, found {total}");
    assert_eq!(mismatches, Vec::<String>::new(), "JA4 {matched}/{total}");
}

/// The reference printed "99" for a non-alphanumeric ALPN where we print hex digits; the rest
/// of the fingerprint must be identical.
fn legacy_alpn_99(want: &str, got: &str) -> bool {
    want.len() == got.len()
        && want.get(8..10) == Some("99")
        && got.get(8..10) != Some("99")
        && want.get(..8) == got.get(..8)
        && want.get(10..) == got.get(10..)
}
