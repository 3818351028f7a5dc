//! Corpus check of the other flow sources under `shared/data/flows`: Suricata EVE, Argus
//! binetflow and nfdump. Counts are compared with an independent reading of the same files
//! (serde_json over the EVE lines; the header-named CSV columns; `nfdump -r` itself when on
//! PATH), and the scans Slips' tests describe must be visible in the Conn stream.

mod common;

use std::collections::{HashMap, HashSet};
use std::process::Command;
use vigil_import::{Format, ImportStats};
use vigil_model::{Conn, Finding, FindingKind, Severity};

fn import(p: &std::path::Path) -> (ImportStats, Vec<Conn>, Vec<Finding>) {
    let (mut c, mut f) = (Vec::new(), Vec::new());
    let s = vigil_import::import_path(p, &mut |x| c.push(x), &mut |x| f.push(x)).unwrap();
    (s, c, f)
}

#[test]
fn suricata_eve_flows_app_events_and_alerts() {
    let Some(data) = common::shared_data() else { return };
    let f = data.join("flows/suricata-eve/slips/test6-malicious.suricata.json");
    assert_eq!(vigil_import::sniff(&f), Some(Format::SuricataEve));
    let (s, conns, findings) = import(&f);
    // Independent reading.
    let text = std::fs::read_to_string(&f).unwrap();
    let events: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let count = |t: &str| events.iter().filter(|e| e["event_type"] == t).count() as u64;
    let flow_ids: HashSet<u64> = events.iter().filter(|e| e["event_type"] == "flow").filter_map(|e| e["flow_id"].as_u64()).collect();
    let app: Vec<&serde_json::Value> =
        events.iter().filter(|e| ["tls", "dns", "http", "ssh"].contains(&e["event_type"].as_str().unwrap_or(""))).collect();
    let joined = app.iter().filter(|e| e["flow_id"].as_u64().is_some_and(|id| flow_ids.contains(&id))).count() as u64;
    let orphan_flows: HashSet<u64> = app.iter().filter_map(|e| e["flow_id"].as_u64()).filter(|id| !flow_ids.contains(id)).collect();
    assert_eq!(s.records, events.len() as u64);
    assert!(s.skipped.is_empty(), "{s}");
    assert_eq!(s.findings, count("alert"));
    assert_eq!(s.app_joined, joined, "{s}");
    assert_eq!(s.app_orphans, app.len() as u64 - joined, "{s}");
    assert_eq!(s.conns, count("flow") + orphan_flows.len() as u64, "{s}");
    assert_eq!(conns.len() as u64, s.conns);
    // Alerts: ioc_match with the signature, severity mapped from Suricata's 1..3.
    assert!(findings.iter().all(|f| f.kind == FindingKind::IocMatch && f.evidence["signature_id"].as_u64().is_some()));
    for f in &findings {
        let want = match f.evidence["severity"].as_u64() {
            Some(1) => Severity::High,
            Some(2) => Severity::Medium,
            Some(3) => Severity::Low,
            _ => Severity::Info,
        };
        assert_eq!(f.severity, want);
        // The subject is the internal host (the honeypot 192.168.1.129 in this capture).
        assert!(f.src.starts_with("192.168.") || !f.dst[0].starts_with("192.168."), "{f:?}");
    }
    // App metadata arrived on the connections.
    assert!(conns.iter().any(|c| c.app.dns.iter().any(|d| d.query.is_some() && !d.answers.is_empty())));
    assert!(conns.iter().any(|c| c.app.tls.as_ref().is_some_and(|t| t.server_name.is_some() && t.ja3.is_some())));
    assert!(conns.iter().any(|c| c.app.http.iter().any(|h| h.host.is_some())));
    println!("eve corpus: {} events, {} conns, {} findings, {} app records joined", s.records, s.conns, s.findings, s.app_joined);
}

#[test]
fn argus_binetflow_files() {
    let Some(data) = common::shared_data() else { return };
    let dir = data.join("flows/argus-binetflow/slips");
    let mut total = 0;
    for f in common::files_under(&dir) {
        assert_eq!(vigil_import::sniff(&f), Some(Format::ArgusBinetflow), "{}", f.display());
        let (s, conns, _) = import(&f);
        // Independent count: data rows whose SrcAddr and DstAddr are IP addresses.
        let text = std::fs::read_to_string(&f).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        let sep = if header.contains('\t') { '\t' } else { ',' };
        let cols: Vec<&str> = header.split(sep).collect();
        let pos = |name: &str| cols.iter().position(|c| *c == name).unwrap();
        let (si, di, pi) = (pos("SrcAddr"), pos("DstAddr"), pos("Proto"));
        let rows: Vec<Vec<&str>> = lines.filter(|l| !l.trim().is_empty()).map(|l| l.split(sep).collect()).collect();
        let ip_rows = rows
            .iter()
            .filter(|r| r[si].trim().parse::<std::net::IpAddr>().is_ok() && r[di].trim().parse::<std::net::IpAddr>().is_ok())
            // ARP rows carry IP addresses but are not IP flows.
            .filter(|r| !["arp", "rarp", "llc", "man"].contains(&r[pi].trim()))
            .count() as u64;
        assert_eq!(s.records, rows.len() as u64);
        assert_eq!(s.conns, ip_rows, "{}\n{s}", f.display());
        let non_ip = rows.len() as u64 - ip_rows;
        assert_eq!(s.skipped_total(), non_ip, "{}: only management/L2 rows are skipped\n{s}", f.display());
        total += conns.len();
    }
    // Slips' expectations: horizontal scans, seen as one source to many destinations on a port.
    let fan_out = |file: &str, src: &str, port: u16| {
        let (_, conns, _) = import(&dir.join(file));
        conns.iter().filter(|c| c.orig_h.to_string() == src && c.resp_p == port).map(|c| c.resp_h).collect::<HashSet<_>>().len()
    };
    assert!(fan_out("test3-mixed.binetflow", "46.166.151.160", 3389) >= 5);
    assert!(fan_out("test4-malicious.binetflow", "192.168.2.12", 81) >= 5);
    println!("argus corpus: {total} conns");
}

#[test]
fn nfdump_file_matches_nfdump() {
    let Some(data) = common::shared_data() else { return };
    let f = data.join("flows/nfdump/slips/test1-malicious.nfdump");
    assert_eq!(vigil_import::sniff(&f), Some(Format::Nfdump));
    let bytes = std::fs::read(&f).unwrap();
    let mut stats = ImportStats::default();
    let mut recs = Vec::new();
    vigil_import::nfdump::parse(&bytes, &mut stats, &mut recs).unwrap();
    assert!(stats.skipped.is_empty(), "{stats}");
    // nfdump -I, verified by hand for this file: 4593 flows, 4652 packets, 241025 bytes.
    assert_eq!(recs.len(), 4593);
    assert_eq!(recs.iter().map(|r| r.packets).sum::<u64>(), 4652);
    assert_eq!(recs.iter().map(|r| r.bytes).sum::<u64>(), 241025);
    let (s, conns, _) = import(&f);
    assert_eq!(s.flow_records, 4593);
    // Stitching: every record is in exactly one Conn.
    assert_eq!(conns.iter().map(|c| c.orig_pkts + c.resp_pkts).sum::<u64>(), 4652);
    assert_eq!(s.conns + s.flows_stitched / 2, 4593);
    if !common::tool("nfdump") {
        return;
    }
    let out = Command::new("nfdump").args(["-r", f.to_str().unwrap(), "-q", "-o", "fmt:%sa|%da|%sp|%dp|%pr|%pkt|%byt"]).output().unwrap();
    let mut theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('|').map(str::trim).collect::<Vec<_>>().join("|"))
        .collect();
    let mut ours: Vec<String> = recs
        .iter()
        .map(|r| {
            let proto = match r.proto {
                6 => "TCP".to_string(),
                17 => "UDP".to_string(),
                1 => "ICMP".to_string(),
                p => p.to_string(),
            };
            format!("{}|{}|{}|{}|{}|{}|{}", r.src, r.dst, r.sport, r.dport, proto, r.packets, r.bytes)
        })
        .collect();
    theirs.sort();
    ours.sort();
    assert_eq!(ours.len(), theirs.len());
    let diff: Vec<_> = ours.iter().zip(&theirs).filter(|(a, b)| a != b).take(3).collect();
    assert!(diff.is_empty(), "first differences (ours, nfdump): {diff:?}");
    // The same flows written by nfdump 1.7 in layout 2 read back identically; a compressed
    // file is refused with a typed error, not misread.
    let tmp = tempfile::tempdir().unwrap();
    let v2 = tmp.path().join("v2.nfcapd");
    let st = Command::new("nfdump").args(["-r", f.to_str().unwrap(), "-w", v2.to_str().unwrap()]).status().unwrap();
    assert!(st.success());
    let mut recs2 = Vec::new();
    vigil_import::nfdump::parse(&std::fs::read(&v2).unwrap(), &mut ImportStats::default(), &mut recs2).unwrap();
    assert_eq!(recs2, recs, "layout 2 differs from layout 1");
    // LZO (-z) and LZ4 (-y) blocks decompress to the same records; BZ2 (-j) is refused.
    for (flag, readable) in [("-z", true), ("-y", true), ("-j", false)] {
        let out_file = tmp.path().join(format!("c{flag}.nfcapd"));
        let st = Command::new("nfdump").args(["-r", f.to_str().unwrap(), flag, "-w", out_file.to_str().unwrap()]).output().unwrap();
        assert!(st.status.success() && out_file.exists(), "nfdump {flag}");
        let mut got = Vec::new();
        let mut s = ImportStats::default();
        let r = vigil_import::nfdump::parse(&std::fs::read(&out_file).unwrap(), &mut s, &mut got);
        if readable {
            assert!(r.is_ok() && s.skipped.is_empty(), "{flag}: {r:?} {s}");
            assert_eq!(got, recs, "{flag} differs");
        } else {
            assert!(matches!(r, Err(vigil_import::nfdump::NfdumpError::Compressed(_))), "{flag}: {r:?}");
        }
    }
    println!("nfdump corpus: {} records identical to `nfdump -r` (layout 1, layout 2 plain/LZO/LZ4)", ours.len());
}

#[test]
fn every_file_under_flows_is_accounted_for() {
    let Some(data) = common::shared_data() else { return };
    let dir = data.join("flows");
    let mut by_format: HashMap<String, usize> = HashMap::new();
    for f in common::files_under(&dir) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let fmt = vigil_import::sniff(&f);
        let rel = f.strip_prefix(&dir).unwrap().display().to_string();
        match fmt {
            Some(fm) => *by_format.entry(fm.to_string()).or_default() += 1,
            // Documented: sFlow (not NetFlow) and logstash's invalid v5 inputs.
            None => assert!(rel.starts_with("sflow-pcap/") || name.starts_with("netflow5_test_invalid"), "{rel} unrecognised"),
        }
    }
    // The whole tree imports without error.
    let (s, _, _) = import(&dir);
    assert!(s.conns > 5000, "{s}");
    println!("flows corpus: {by_format:?}\n{s}");
}
