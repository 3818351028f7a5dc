//! Independent cross-check against Arkime's expected sessions for its test captures: every
//! TCP/UDP session Arkime reports must exist in Vigil's output with the same Community ID, and
//! the packet totals (both directions) must agree. Arkime's session rules differ from Zeek's in
//! places (timeouts, what splits a session), so packet agreement has a floor rather than being
//! exact; the measured figures are printed.

use std::path::{Path, PathBuf};
use vigil_flow::{Engine, EngineConfig};

/// Share of Arkime sessions whose packet total Vigil reproduces.
const PACKET_FLOOR: f64 = 0.95;

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

#[test]
fn arkime_sessions_community_id_and_packets() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("pcaps/arkime");
    let mut expected_files: Vec<PathBuf> = std::fs::read_dir(dir.join("expected"))
        .expect("expected dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".test.json"))
        .collect();
    expected_files.sort();
    let (mut sessions, mut found, mut cid_ok, mut pkts_ok) = (0usize, 0usize, 0usize, 0usize);
    let mut report = String::new();
    for ef in expected_files {
        let name = ef.file_name().unwrap().to_string_lossy().replace(".test.json", "");
        let pcap = ["pcap", "pcapng"].iter().map(|x| dir.join(format!("{name}.{x}"))).find(|p| p.exists());
        let Some(pcap) = pcap else { continue };
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&ef).unwrap()).unwrap();
        let mut conns = Vec::new();
        let mut engine = Engine::new(EngineConfig::default());
        engine.ingest_path(&pcap, &mut |c| conns.push(c)).expect("reads");
        engine.finish(&mut |c| conns.push(c));
        let mut line = (0, 0, 0, 0);
        for s in v["sessions3"].as_array().into_iter().flatten() {
            let b = &s["body"];
            let proto = b["ipProtocol"].as_u64().unwrap_or(0) as u8;
            if proto != 6 && proto != 17 {
                continue;
            }
            let parse = |side: &str| -> Option<(std::net::IpAddr, u16, u64)> {
                let ip = b[side]["ip"].as_str()?.parse().ok()?;
                Some((ip, b[side]["port"].as_u64()? as u16, b[side]["packets"].as_u64().unwrap_or(0)))
            };
            let (Some(src), Some(dst)) = (parse("source"), parse("destination")) else { continue };
            sessions += 1;
            line.0 += 1;
            let first_ms = b["firstPacket"].as_i64().unwrap_or(0);
            let hit = conns
                .iter()
                .filter(|c| {
                    c.proto == proto
                        && ((c.orig_h, c.orig_p, c.resp_h, c.resp_p) == (src.0, src.1, dst.0, dst.1)
                            || (c.orig_h, c.orig_p, c.resp_h, c.resp_p) == (dst.0, dst.1, src.0, src.1))
                })
                .min_by_key(|c| (c.ts.0 / 1_000_000 - first_ms).abs());
            let Some(c) = hit else {
                report.push_str(&format!("  {name}: no flow for {proto} {}:{} -> {}:{}\n", src.0, src.1, dst.0, dst.1));
                continue;
            };
            found += 1;
            line.1 += 1;
            if b["network"]["community_id"].as_str() == Some(c.community_id.as_str()) {
                cid_ok += 1;
                line.2 += 1;
            } else {
                report.push_str(&format!("  {name}: community id {} vs {}\n", b["network"]["community_id"], c.community_id));
            }
            if c.orig_pkts + c.resp_pkts == src.2 + dst.2 {
                pkts_ok += 1;
                line.3 += 1;
            } else {
                report.push_str(&format!(
                    "  {name}: {}:{} -> {}:{} packets arkime {} vigil {} ({})\n",
                    src.0,
                    src.1,
                    dst.0,
                    dst.1,
                    src.2 + dst.2,
                    c.orig_pkts + c.resp_pkts,
                    c.history
                ));
            }
        }
        report
            .push_str(&format!("{name:<40} sessions {:>3} found {:>3} community_id {:>3} packets {:>3}\n", line.0, line.1, line.2, line.3));
    }
    println!("{report}\ntotal: {sessions} sessions, {found} found, {cid_ok} same community id, {pkts_ok} same packet total");
    assert!(sessions > 20);
    assert_eq!(found, sessions, "sessions without a flow");
    assert_eq!(cid_ok, found, "community id mismatch");
    assert!(pkts_ok as f64 >= PACKET_FLOOR * sessions as f64, "packet agreement {pkts_ok}/{sessions}");
}
