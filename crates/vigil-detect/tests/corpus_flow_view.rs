//! The corpus seen as flows only: every Zeek conn log, Argus file and capture of the shared
//! corpus with the application metadata (DNS names, TLS, HTTP) stripped, as NetFlow/IPFIX or
//! Argus would deliver it. This is where the flow-only DNS judgement (`dns_tunnel::flow`) and
//! the pace/service weights of `inbound_scan` can raise false positives, so every finding of
//! those at severity ≥ medium must be about a host the data set names as malicious or
//! scanning; and the DGA host of Slips' test5 must still be found.

mod common;
use common::logs::{binetflow, shared_data, zeek_conns};
use std::path::{Path, PathBuf};
use vigil_enrich::{Context, Site};
use vigil_flow::{Engine, EngineConfig};
use vigil_model::{AppMeta, Conn, Finding, FindingKind};

/// Hosts the corpus names as malicious, infected or scanning (READMEs and labels): a finding
/// about them is not a false positive.
const KNOWN_BAD: &[&str] = &[
    "10.0.2.15",      // Slips test5: DGA-infected (labelled)
    "10.0.2.112",     // Slips port-scans/horizontal
    "192.168.1.9",    // Slips port-scans/vertical
    "46.166.151.160", // Slips test3: RDP sweep
    "216.73.23.146",  // Slips test3: SMB sweep
    "192.168.2.12",   // Slips test4: scanner
    "10.8.0.69",      // Slips test11: scanner
    "172.16.1.11",    // Stratosphere 002: nmap
    "192.168.1.116",  // Stratosphere 005: Simda (DGA), infected host, and its IPv6 address
    "fd77:48a1:c0bb:0:b96c:506d:6c7f:e8be",
    "192.168.1.109", // Slips test12: ICMP sweep
    "10.0.2.30",     // iodine tunnel client
];

fn strip(mut c: Conn) -> Conn {
    c.app = AppMeta::default();
    c
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn pcap(path: &Path) -> Vec<Conn> {
    let mut v = Vec::new();
    let mut e = Engine::new(EngineConfig::default());
    // Some corpus captures are deliberately broken; they yield what they can.
    let _ = e.ingest_path(path, &mut |c| v.push(strip(c)));
    e.finish(&mut |c| v.push(strip(c)));
    v.sort_by_key(|c| c.ts);
    v
}

/// Every data set of the corpus as (name, flow records, site).
fn sets(data: &Path) -> Vec<(String, Vec<Conn>, Context)> {
    let mut out = Vec::new();
    let dflt = || Context::new(Site::default());
    let mut all = Vec::new();
    files(&data.join("zeek-logs"), &mut all);
    for p in all.iter().filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("conn") && !n.ends_with(".gz"))) {
        let (Some(dir), Some(name)) = (p.parent(), p.file_name().and_then(|n| n.to_str())) else { continue };
        let conns: Vec<Conn> = zeek_conns(dir, name).into_iter().map(|(c, _)| strip(c)).collect();
        out.push((p.strip_prefix(data).unwrap_or(p).display().to_string(), conns, dflt()));
    }
    let mut argus = Vec::new();
    files(&data.join("flows/argus-binetflow"), &mut argus);
    for p in argus {
        let conns: Vec<Conn> = binetflow(&p).into_iter().map(|(c, _)| strip(c)).collect();
        let ctx = if p.to_string_lossy().contains("test3") {
            Context::new(Site::parse("[site]\ninternal = [\"147.32.0.0/16\"]\n", Path::new("s.toml")).expect("site"))
        } else {
            dflt()
        };
        out.push((p.strip_prefix(data).unwrap_or(&p).display().to_string(), conns, ctx));
    }
    let mut caps = Vec::new();
    files(&data.join("pcaps"), &mut caps);
    for p in caps.iter().filter(|p| p.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "pcap" | "pcapng" | "cap"))) {
        let conns = pcap(p);
        if !conns.is_empty() {
            out.push((p.strip_prefix(data).unwrap_or(p).display().to_string(), conns, dflt()));
        }
    }
    out
}

fn watched(f: &Finding) -> bool {
    (f.kind == FindingKind::DnsTunnel && f.evidence["method"] == "flows") || f.kind == FindingKind::InboundScan
}

#[test]
fn flow_view_of_the_corpus_raises_no_false_dns_or_scan_finding() {
    let Some(data) = shared_data() else { return };
    let mut false_pos = Vec::new();
    let mut dga_found = false;
    let mut n_sets = 0;
    for (name, conns, ctx) in sets(&data) {
        n_sets += 1;
        let f = vigil_detect::run_all(&conns, &ctx);
        for x in f.iter().filter(|x| watched(x) && x.score >= 0.4) {
            println!("{name}: {:.3} {} {} {:?}: {}", x.score, x.kind, x.src, x.dst.iter().take(4).collect::<Vec<_>>(), x.summary);
        }
        for x in f.iter().filter(|x| watched(x) && x.score >= 0.5) {
            if !KNOWN_BAD.contains(&x.src.as_str()) {
                false_pos.push(format!("{name}: {:.3} {} {}: {}", x.score, x.kind, x.src, x.summary));
            }
            if name.contains("test5-mixed") && x.kind == FindingKind::DnsTunnel && x.src == "10.0.2.15" {
                dga_found = x.dst.iter().any(|d| d == "8.8.8.8")
                    && x.dst.iter().any(|d| d == "185.53.179.7")
                    && x.dst.iter().any(|d| d == "217.70.184.38");
            }
        }
    }
    println!("{n_sets} data sets seen as flows");
    assert!(n_sets > 50, "the corpus was read ({n_sets} sets)");
    assert!(false_pos.is_empty(), "{false_pos:#?}");
    assert!(dga_found, "test5's DGA storm with the parking servers it reached");
}
