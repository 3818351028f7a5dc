//! The hard-coded address table must agree with the RIR delegation data it was taken from
//! (ipverse country blocks, CC0, in the shared test data).

use std::net::Ipv4Addr;
use std::path::PathBuf;

fn data_dir() -> Option<PathBuf> {
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

fn parse_net(s: &str) -> Option<(u32, u32)> {
    let (a, l) = s.split_once('/')?;
    let ip: Ipv4Addr = a.parse().ok()?;
    let len: u32 = l.parse().ok()?;
    Some((u32::from(ip), len))
}

#[test]
fn every_prefix_lies_inside_its_countrys_delegations() {
    let Some(dir) = data_dir() else { return };
    for (cc, net, len) in vigil_sim::geo::PREFIXES {
        let f = dir.join("geo/ipverse-country-ip-blocks/country").join(cc.to_lowercase()).join("aggregated.json");
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let blocks: Vec<(u32, u32)> = v["prefixes"]["ipv4"].as_array().unwrap().iter().filter_map(|s| parse_net(s.as_str()?)).collect();
        let x = u32::from_be_bytes(*net);
        let inside = blocks.iter().any(|&(b, bl)| bl <= *len as u32 && (x ^ b) >> (32 - bl) == 0);
        assert!(inside, "{cc} {net:?}/{len} is delegated to {cc}");
    }
}
