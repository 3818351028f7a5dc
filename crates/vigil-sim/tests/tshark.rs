//! Wireshark's dissectors are the referee: every generated capture must decode without
//! malformed packets or expert errors, and every protocol the simulator speaks must be
//! recognised. Skips when tshark is absent unless VIGIL_REQUIRE_TOOLS=1.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

fn tshark() -> Option<&'static str> {
    let ok = Command::new("tshark").arg("-v").output().is_ok_and(|o| o.status.success());
    if ok {
        return Some("tshark");
    }
    if std::env::var("VIGIL_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("tshark is required (VIGIL_REQUIRE_TOOLS=1) but was not found");
    }
    println!("tshark not found; skipping the dissector check");
    None
}

#[test]
fn tshark_decodes_every_packet_cleanly() {
    let Some(bin) = tshark() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (seed, days, hosts) in [(1u64, 5u32, 60usize), (2, 2, 70)] {
        let cfg = vigil_sim::SimConfig { seed, days, hosts, ..vigil_sim::SimConfig::default() };
        let out = dir.path().join(format!("s{seed}"));
        let s = vigil_sim::Scenario::generate(&cfg, &out).unwrap();
        let file = s.pcap.to_str().unwrap();

        let bad = Command::new(bin)
            .args(["-n", "-r", file, "-Y", "_ws.malformed || _ws.expert.severity == error", "-T", "fields", "-e", "frame.number", "-e", "_ws.col.info"])
            .output()
            .unwrap();
        assert!(bad.status.success(), "tshark failed: {}", String::from_utf8_lossy(&bad.stderr));
        let bad_lines = String::from_utf8_lossy(&bad.stdout);
        assert!(bad_lines.trim().is_empty(), "seed {seed}: malformed or erroneous frames:\n{}", bad_lines.lines().take(20).collect::<Vec<_>>().join("\n"));

        let expert = Command::new(bin).args(["-n", "-r", file, "-q", "-z", "expert"]).output().unwrap();
        let text = String::from_utf8_lossy(&expert.stdout);
        assert!(!text.contains("Malformed") && !text.contains("Errors ("), "seed {seed}: expert errors:\n{text}");

        let protos = Command::new(bin).args(["-n", "-r", file, "-T", "fields", "-e", "frame.protocols"]).output().unwrap();
        let mut seen = BTreeSet::new();
        for l in String::from_utf8_lossy(&protos.stdout).lines() {
            for p in l.split(':') {
                seen.insert(p.to_string());
            }
        }
        for p in ["arp", "icmp", "dhcp", "ntp", "dns", "tls", "x509sat", "http", "ssh", "smb2", "ntlmssp", "tpkt", "smtp", "pgsql"] {
            assert!(seen.contains(p), "seed {seed}: tshark recognised {p} (saw {seen:?})");
        }
        let frames = String::from_utf8_lossy(&protos.stdout).lines().count() as u64;
        assert_eq!(frames, s.packets, "tshark read every record");
    }
}
