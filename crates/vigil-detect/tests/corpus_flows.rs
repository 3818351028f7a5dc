//! Corpus checks on Argus binetflow files (Slips' test flows, /work/shared/data/flows): the
//! scans Slips expects, found by Vigil's scan detector from flow records alone.

mod common;
use common::logs::{binetflow, shared_data};
use vigil_detect::scan::{ScanConfig, ScanDetector};
use vigil_detect::util::Tuning;
use vigil_detect::{Detector, espionage_detectors};
use vigil_enrich::{Context, Site};
use vigil_model::{Conn, Finding, FindingKind};

fn run_all(conns: &[Conn], ctx: &Context) -> Vec<Finding> {
    let mut all = Vec::new();
    for mut d in espionage_detectors(&Tuning::default(), None) {
        for c in conns {
            d.observe(c, ctx);
        }
        all.extend(d.finish(ctx));
    }
    Finding::rank(&mut all);
    all
}

fn load(name: &str) -> Option<Vec<Conn>> {
    let data = shared_data()?;
    let v: Vec<Conn> = binetflow(&data.join("flows/argus-binetflow/slips").join(name)).into_iter().map(|(c, _)| c).collect();
    assert!(!v.is_empty(), "{name} read");
    Some(v)
}

#[test]
fn slips_test3_horizontal_rdp_scan() {
    let Some(conns) = load("test3-mixed.binetflow") else { return };
    // The capture's own network (147.32.0.0/16) is the inside.
    let ctx = Context::new(Site::parse("[site]\ninternal = [\"147.32.0.0/16\"]\n", std::path::Path::new("s.toml")).unwrap());
    let f = run_all(&conns, &ctx);
    for x in &f {
        println!("{:.3} {} {} {}", x.score, x.kind, x.src, x.summary);
    }
    let s = f.iter().find(|x| x.kind == FindingKind::InboundScan && x.src == "46.166.151.160").expect("scan from 46.166.151.160");
    assert_eq!(s.evidence["port_most_swept"], "3389/tcp");
    assert_eq!(s.evidence["scan_type"], "horizontal");
    let scans: Vec<&Finding> = f.iter().filter(|x| x.kind == FindingKind::InboundScan).collect();
    println!("test3: {} scan finding(s)", scans.len());
}

#[test]
fn slips_test4_horizontal_scan_to_port_81() {
    let Some(conns) = load("test4-malicious.binetflow") else { return };
    let ctx = Context::new(Site::default());
    let f = run_all(&conns, &ctx);
    for x in &f {
        println!("{:.3} {} {} {}", x.score, x.kind, x.src, x.summary);
    }
    let s = f.iter().find(|x| x.kind == FindingKind::InboundScan && x.src == "192.168.2.12").expect("scan from 192.168.2.12");
    assert_eq!(s.evidence["port_most_swept"], "81/tcp");
    assert_eq!(s.evidence["internal_source"], true);
}

#[test]
fn slips_test11_vertical_scan() {
    let Some(conns) = load("test11-portscan.binetflow") else { return };
    let ctx = Context::new(Site::default());
    let mut d = ScanDetector::new(ScanConfig::default(), Tuning::default());
    for c in &conns {
        d.observe(c, &ctx);
    }
    let f = d.finish(&ctx);
    println!("{f:#?}");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].src, "10.8.0.69");
    assert!(f[0].evidence["scan_type"].as_str().unwrap().contains("vertical"), "{}", f[0].evidence["scan_type"]);
    assert_eq!(f[0].evidence["host_most_swept"], "14.1.11.113");
}
