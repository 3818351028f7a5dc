//! Community ID v1 against the specification's baseline: every tuple in the three baseline
//! files (default, seed 1, no base64) computed directly, and every flow the engine builds from
//! the spec's combined capture carries exactly the expected value.

use base64::Engine as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use vigil_flow::community_id::{community_id_digest, community_id_v1, icmp_ports};
use vigil_flow::{Engine, EngineConfig};

fn shared_data() -> Option<PathBuf> {
    let p = match std::env::var_os("VIGIL_SHARED_DATA") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("VIGIL_REQUIRE_CORPUS").as_deref() == Ok("1") {
        panic!("shared data not found at {}", p.display());
    }
    println!("shared data not found at {}; skipping corpus check", p.display());
    None
}

struct Entry {
    proto: u8,
    saddr: IpAddr,
    daddr: IpAddr,
    sport: u16,
    dport: u16,
    id: String,
}

fn load(path: &Path) -> Vec<Entry> {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).expect("baseline")).expect("json");
    v.as_array()
        .expect("array")
        .iter()
        .map(|e| Entry {
            proto: e["proto"].as_u64().expect("proto") as u8,
            saddr: e["saddr"].as_str().expect("saddr").parse().expect("addr"),
            daddr: e["daddr"].as_str().expect("daddr").parse().expect("addr"),
            sport: e["sport"].as_u64().unwrap_or(0) as u16,
            dport: e["dport"].as_u64().unwrap_or(0) as u16,
            id: e["communityid"].as_str().expect("id").to_string(),
        })
        .collect()
}

/// The baseline lists ICMP "ports" already mapped; one-way-ness follows from the type alone.
fn one_way(e: &Entry) -> bool {
    matches!(e.proto, 1 | 58) && icmp_ports(e.proto == 58, e.sport as u8, 0).2
}

#[test]
fn baseline_tuples_match_exactly() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("pcaps/community-id/baseline");
    let mut n = 0;
    for e in load(&dir.join("baseline_deflt.json")) {
        assert_eq!(community_id_v1(0, e.saddr, e.daddr, e.proto, e.sport, e.dport, one_way(&e)), e.id);
        n += 1;
    }
    for e in load(&dir.join("baseline_seed1.json")) {
        assert_eq!(community_id_v1(1, e.saddr, e.daddr, e.proto, e.sport, e.dport, one_way(&e)), e.id);
        n += 1;
    }
    for e in load(&dir.join("baseline_nob64.json")) {
        let d = community_id_digest(0, e.saddr, e.daddr, e.proto, e.sport, e.dport, one_way(&e));
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(format!("1:{hex}"), e.id);
        n += 1;
    }
    assert!(n >= 60, "only {n} baseline tuples");
    // Sanity: base64 of the digest is the default form.
    let e = &load(&dir.join("baseline_deflt.json"))[0];
    let d = community_id_digest(0, e.saddr, e.daddr, e.proto, e.sport, e.dport, one_way(e));
    assert_eq!(format!("1:{}", base64::engine::general_purpose::STANDARD.encode(d)), e.id);
}

#[test]
fn engine_flows_carry_the_baseline_ids() {
    let Some(data) = shared_data() else { return };
    let base = data.join("pcaps/community-id");
    let expected = load(&base.join("baseline/baseline_deflt.json"));
    let mut conns = Vec::new();
    let mut engine = Engine::new(EngineConfig::default());
    engine.ingest_path(&base.join("pcaps/combined.pcap.gz"), &mut |c| conns.push(c)).expect("combined capture reads");
    engine.finish(&mut |c| conns.push(c));
    assert!(!conns.is_empty());
    let mut matched = 0;
    for e in &expected {
        let hit = conns.iter().find(|c| {
            c.proto == e.proto
                && ((c.orig_h, c.orig_p, c.resp_h, c.resp_p) == (e.saddr, e.sport, e.daddr, e.dport)
                    || (c.orig_h, c.orig_p, c.resp_h, c.resp_p) == (e.daddr, e.dport, e.saddr, e.sport))
        });
        let c = hit.unwrap_or_else(|| panic!("no flow for {} {}:{} -> {}:{}", e.proto, e.saddr, e.sport, e.daddr, e.dport));
        assert_eq!(c.community_id, e.id, "flow {} {}:{} -> {}:{}", e.proto, c.orig_h, c.orig_p, c.resp_h, c.resp_p);
        matched += 1;
    }
    assert_eq!(matched, expected.len());
    // And no flow carries an id the baseline does not know.
    for c in &conns {
        assert!(
            expected.iter().any(|e| e.id == c.community_id),
            "unexpected id {} for {:?}",
            c.community_id,
            (c.proto, c.orig_h, c.orig_p, c.resp_h, c.resp_p)
        );
    }
}
