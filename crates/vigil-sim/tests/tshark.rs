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
    for (seed, days, hosts) in [(1u64, 5u32, 60usize), (2, 1, 70)] {
        let cfg = vigil_sim::SimConfig { seed, days, hosts, ..vigil_sim::SimConfig::default() };
        let out = dir.path().join(format!("s{seed}"));
        let s = vigil_sim::Scenario::generate(&cfg, &out).unwrap();
        let file = s.pcap.to_str().unwrap();

        // One pass: the protocol stack of every frame and the severities of its expert items.
        let out = Command::new(bin)
            .args([
                "-n",
                "-r",
                file,
                "-T",
                "fields",
                "-E",
                "separator=|",
                "-e",
                "frame.number",
                "-e",
                "frame.protocols",
                "-e",
                "_ws.expert.severity",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "tshark failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        let mut seen = BTreeSet::new();
        let mut bad = Vec::new();
        for l in text.lines() {
            let mut f = l.split('|');
            let (num, protos, sev) = (f.next().unwrap_or(""), f.next().unwrap_or(""), f.next().unwrap_or(""));
            // Wireshark's PI_ERROR is 0x00800000; malformed packets carry `_ws.malformed`.
            let error = sev.split(',').filter_map(|s| s.trim().parse::<u64>().ok()).any(|s| s >= 0x0080_0000);
            if error || protos.contains("malformed") {
                bad.push(format!("frame {num}: {protos} severity {sev}"));
            }
            for p in protos.split(':') {
                seen.insert(p.to_string());
            }
        }
        assert!(
            bad.is_empty(),
            "seed {seed}: malformed or erroneous frames:\n{}",
            bad.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
        );
        for p in ["arp", "icmp", "dhcp", "ntp", "dns", "tls", "x509sat", "http", "ssh", "smb2", "ntlmssp", "tpkt", "smtp", "pgsql"] {
            assert!(seen.contains(p), "seed {seed}: tshark recognised {p} (saw {seen:?})");
        }
        let frames = text.lines().count() as u64;
        assert_eq!(frames, s.packets, "tshark read every record");
    }
}
