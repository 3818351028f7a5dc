//! Corpus checks over `shared/data/geo`: the MaxMind reader answers what MaxMind's own test
//! databases were built from, CSV range files load, and the bundled country table agrees with
//! the RIR data it was compiled from.

use ipnet::IpNet;
use serde_json::Value;
use std::net::IpAddr;
use std::path::PathBuf;
use vigil_enrich::geo::{self, CountrySource, Geo, Mmdb};

fn shared_data() -> Option<PathBuf> {
    let p = std::env::var_os("VIGIL_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("VIGIL_REQUIRE_CORPUS").as_deref() == Ok("1") {
        panic!("shared data not found at {}", p.display());
    }
    println!("shared data not found at {}; skipping corpus check", p.display());
    None
}

/// First, last and middle addresses of a prefix.
fn probes(net: IpNet) -> Vec<IpAddr> {
    match net {
        IpNet::V4(n) => {
            let (s, e) = (u32::from(n.network()), u32::from(n.broadcast()));
            vec![s, e, s + (e - s) / 2].into_iter().map(|x| IpAddr::V4(x.into())).collect()
        }
        IpNet::V6(n) => {
            let (s, e) = (u128::from(n.network()), u128::from(n.broadcast()));
            vec![s, e, s + (e - s) / 2].into_iter().map(|x| IpAddr::V6(x.into())).collect()
        }
    }
}

/// The most specific source-data entry holding `ip` (nested prefixes override their parents).
fn expected(entries: &[(IpNet, Value)], ip: IpAddr) -> Option<&Value> {
    entries.iter().filter(|(n, _)| n.contains(&ip)).max_by_key(|(n, _)| n.prefix_len()).map(|(_, v)| v)
}

fn load_source(path: &std::path::Path) -> Vec<(IpNet, Value)> {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for e in v.as_array().unwrap() {
        for (k, rec) in e.as_object().unwrap() {
            let net: IpNet = k.parse().or_else(|_| k.parse::<IpAddr>().map(IpNet::from)).unwrap();
            out.push((net, rec.clone()));
        }
    }
    out
}

#[test]
fn maxmind_test_databases_answer_their_source_data() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("geo/maxmind-test");
    let mut checked = 0;
    for (db, src) in [
        ("GeoIP2-Country-Test.mmdb", "GeoIP2-Country-Test.json"),
        ("GeoLite2-Country-Test.mmdb", "GeoLite2-Country-Test.json"),
        ("GeoIP2-City-Test.mmdb", "GeoIP2-City-Test.json"),
        ("GeoLite2-ASN-Test.mmdb", "GeoLite2-ASN-Test.json"),
    ] {
        let reader = Mmdb::open(&dir.join(db)).unwrap();
        let entries = load_source(&dir.join("source-data").join(src));
        assert!(!entries.is_empty());
        for (net, _) in &entries {
            for ip in probes(*net) {
                let want = expected(&entries, ip).unwrap();
                let got = reader.lookup(ip);
                let iso = |k: &str| want.get(k).and_then(|c| c.get("iso_code")).and_then(Value::as_str);
                let want_cc = iso("country").or(iso("registered_country")).map(|s| s.as_bytes().to_vec());
                assert_eq!(got.country.map(|c| c.to_vec()), want_cc, "{db} {ip} country");
                let want_asn = want.get("autonomous_system_number").and_then(Value::as_u64).map(|n| n as u32);
                assert_eq!(got.asn, want_asn, "{db} {ip} asn");
                let want_org = want.get("autonomous_system_organization").and_then(Value::as_str);
                assert_eq!(got.as_org.as_deref(), want_org, "{db} {ip} org");
                checked += 1;
            }
        }
    }
    println!("{checked} MaxMind test lookups agree with source-data");
    assert!(checked > 1000);
}

#[test]
fn resolver_opens_mmdb_by_content_and_survives_broken_databases() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("geo/maxmind-test");
    let (c, a) = Geo::open_file(&dir.join("GeoLite2-ASN-Test.mmdb")).unwrap();
    assert!(c.is_none() && a.is_some(), "an ASN database serves ASN only");
    let (c, _) = Geo::open_file(&dir.join("GeoIP2-Country-Test.mmdb")).unwrap();
    let g = Geo::new(vec![c.unwrap(), CountrySource::Bundled], a.into_iter().collect());
    let info = g.lookup("1.128.0.1".parse().unwrap());
    assert_eq!((info.asn, info.as_org.as_deref()), (Some(1221), Some("Telstra Pty Ltd")));
    // 2001:218::/32 is JP in the test database (its source-data's first entry).
    assert_eq!(g.lookup("2001:218::1".parse().unwrap()).country, Some(*b"JP"));
    for broken in ["MaxMind-DB-test-broken-pointers-24.mmdb", "MaxMind-DB-test-broken-search-tree-24.mmdb"] {
        if let Ok(db) = Mmdb::open(&dir.join(broken)) {
            for a in ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.16", "1.1.1.32", "::1.1.1.1", "8.8.8.8"] {
                let _ = db.lookup(a.parse().unwrap());
            }
            if broken.contains("pointers") {
                assert!(db.is_broken(), "a pointer past the end marks the database broken instead of crashing");
            }
        }
    }
    assert!(Mmdb::open(&data.join("geo/ip-location-db/asn-ipv4.csv.gz")).is_err(), "a CSV is not an mmdb");
}

#[test]
fn bundled_table_agrees_with_every_countrys_rir_prefixes() {
    let Some(data) = shared_data() else { return };
    let table = geo::bundled_country_table();
    let dir = data.join("geo/ipverse-country-ip-blocks/country");
    let mut countries = 0;
    let (mut probed, mut total_v4, mut covered_v4) = (0u64, 0u64, 0u64);
    for e in std::fs::read_dir(&dir).unwrap() {
        let f = e.unwrap().path().join("aggregated.json");
        if !f.is_file() {
            continue;
        }
        let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let cc = v["countryCode"].as_str().unwrap().to_ascii_uppercase();
        let cc = [cc.as_bytes()[0], cc.as_bytes()[1]];
        countries += 1;
        for fam in ["ipv4", "ipv6"] {
            let list = v["prefixes"][fam].as_array().cloned().unwrap_or_default();
            // Every prefix's size is counted; a sample of prefixes (first, last, every 7th) is
            // probed at both ends and the middle.
            for (i, p) in list.iter().enumerate() {
                let net: IpNet = p.as_str().unwrap().parse().unwrap();
                if let IpNet::V4(n) = net {
                    total_v4 += 1u64 << (32 - n.prefix_len());
                }
                if i == 0 || i + 1 == list.len() || i % 7 == 0 {
                    for ip in probes(net) {
                        assert_eq!(table.lookup(ip), Some(&cc), "{ip} in {net} should be {}", String::from_utf8_lossy(&cc));
                        probed += 1;
                    }
                }
            }
        }
        let _ = &mut covered_v4;
    }
    covered_v4 += table.v4_ranges().iter().map(|(s, e, _)| u64::from(e - s) + 1).sum::<u64>();
    assert!(countries > 200, "{countries} countries");
    assert_eq!(covered_v4, total_v4, "the table covers exactly the delegated IPv4 space");
    println!("{countries} countries, {probed} probes agree; {total_v4} IPv4 addresses covered");
}

#[test]
fn csv_range_files_load_and_mostly_agree_with_the_bundled_table() {
    let Some(data) = shared_data() else { return };
    let (c, a) = Geo::open_file(&data.join("geo/ip-location-db/geo-whois-asn-country-ipv4.csv.gz")).unwrap();
    assert!(a.is_none());
    let Some(CountrySource::Table(t)) = c else { panic!("expected a country table") };
    assert!(t.v4_ranges().len() > 100_000);
    let (_, a) = Geo::open_file(&data.join("geo/ip-location-db/asn-ipv4.csv.gz")).unwrap();
    let g = Geo::new(Vec::new(), a.into_iter().collect());
    assert_eq!(g.lookup("1.0.0.1".parse().unwrap()).asn, Some(13335));
    assert_eq!(g.lookup("1.0.0.1".parse().unwrap()).as_org.as_deref(), Some("Cloudflare, Inc."));
    // The whois-derived CSV (country of the announcing AS) and the RIR delegation table come
    // from different processes; weighted by addresses they should still agree on most space.
    let bundled = geo::bundled_country_table();
    let (mut same, mut both) = (0u64, 0u64);
    for (s, e, cc) in t.v4_ranges() {
        if let Some(b) = bundled.lookup(IpAddr::V4((*s).into())) {
            let n = u64::from(e - s) + 1;
            both += n;
            same += if b == cc { n } else { 0 };
        }
    }
    let agree = same as f64 / both as f64;
    println!("whois CSV vs RIR table: {same}/{both} addresses agree ({:.1}%)", agree * 100.0);
    assert!(agree > 0.8, "agreement {agree}");
}
