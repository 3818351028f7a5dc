//! Corpus checks on real labelled Zeek logs from /work/shared/data (see its README):
//! RITA's proxied beacon, Stratosphere's NjRAT C&C capture, and Slips' port-scan logs.
//! Figures are printed (and recorded in docs/DETECTIONS.md).

mod common;
use common::logs::{shared_data, zeek_conns};
use std::collections::HashSet;
use vigil_detect::beacon::{BeaconConfig, BeaconDetector};
use vigil_detect::scan::{ScanConfig, ScanDetector};
use vigil_detect::util::Tuning;
use vigil_detect::{Detector, espionage_detectors};
use vigil_enrich::{Context, Site};
use vigil_model::{Finding, FindingKind};

fn ctx() -> Context {
    Context::new(Site::default())
}

fn run(det: &mut dyn Detector, conns: &[vigil_model::Conn], ctx: &Context) -> Vec<Finding> {
    for c in conns {
        det.observe(c, ctx);
    }
    let mut f = det.finish(ctx);
    Finding::rank(&mut f);
    f
}

#[test]
fn rita_proxied_beacon_ranks_first() {
    let Some(data) = shared_data() else { return };
    let conns: Vec<_> = zeek_conns(&data.join("zeek-logs/rita/proxy"), "conn.log").into_iter().map(|(c, _)| c).collect();
    assert!(conns.len() > 300, "read {} records", conns.len());
    let ctx = ctx();
    let f = run(&mut BeaconDetector::new(BeaconConfig::default(), Tuning::default()), &conns, &ctx);
    for x in &f {
        println!("{:.3} {} {} {}", x.score, x.src, x.evidence["grouped_by"], x.evidence["scores"]);
    }
    let top = f.first().expect("a beacon");
    assert_eq!(top.src, "10.136.0.18");
    assert!(top.dst.contains(&"www.honestimnotevil.com".to_string()), "{:?}", top.dst);
    assert!(top.score >= 0.75, "strong beacon: {}", top.score);
    assert_eq!(top.evidence["via_proxy"], serde_json::json!(["10.136.0.16"]));
    let google = f.iter().find(|x| x.dst.contains(&"www.google.com".to_string())).map_or(0.0, |x| x.score);
    assert!(google < top.score - 0.2, "google {google} must rank well below");
    // Every detector together: the beacon still leads and nothing benign reaches medium.
    let mut all = Vec::new();
    for mut d in espionage_detectors(&Tuning::default(), None) {
        all.extend(run(d.as_mut(), &conns, &ctx));
    }
    Finding::rank(&mut all);
    assert_eq!(all.first().map(|x| x.kind), Some(FindingKind::Beacon));
    let medium: Vec<String> = all.iter().filter(|x| x.score >= 0.5).map(|x| format!("{} {}", x.kind, x.summary)).collect();
    println!("findings ≥ medium over the RITA proxy logs: {medium:#?}");
    assert!(medium.iter().all(|m| m.contains("honestimnotevil")), "{medium:#?}");
}

#[test]
fn stratosphere_njrat_command_and_control() {
    let Some(data) = shared_data() else { return };
    let rows = zeek_conns(&data.join("zeek-logs/stratosphere/001-zeek-scenario-malicious"), "labeled-conn.log");
    assert!(rows.len() > 900);
    let malicious: HashSet<(String, String)> = rows
        .iter()
        .filter(|(_, r)| r.get("label").is_some_and(|l| l.contains("Malicious")))
        .map(|(c, _)| (c.orig_h.to_string(), c.resp_h.to_string()))
        .collect();
    let conns: Vec<_> = rows.into_iter().map(|(c, _)| c).collect();
    let ctx = ctx();
    let mut all = Vec::new();
    for mut d in espionage_detectors(&Tuning::default(), None) {
        all.extend(run(d.as_mut(), &conns, &ctx));
    }
    Finding::rank(&mut all);
    let reported: Vec<&Finding> = all.iter().filter(|x| x.score >= 0.5).collect();
    let tp = reported.iter().filter(|x| x.dst.iter().any(|d| malicious.contains(&(x.src.clone(), d.clone())))).count();
    for x in &all {
        println!("{:.3} {} {} -> {:?}: {}", x.score, x.kind, x.src, x.dst, x.summary);
    }
    println!("NjRAT: {} labelled malicious pairs, {} findings ≥ medium, {} true", malicious.len(), reported.len(), tp);
    let beacon =
        all.iter().find(|x| x.kind == FindingKind::Beacon && x.dst.contains(&"41.108.179.197".to_string())).expect("NjRAT C&C beacon");
    assert_eq!(beacon.src, "192.168.1.115");
    assert!(beacon.score >= 0.5, "{}", beacon.score);
    assert_eq!(tp, reported.len(), "precision: every finding ≥ medium is a labelled malicious pair");
}

#[test]
fn slips_port_scans() {
    let Some(data) = shared_data() else { return };
    let ctx = ctx();
    let v: Vec<_> = zeek_conns(&data.join("zeek-logs/slips/port-scans/vertical"), "conn.log").into_iter().map(|(c, _)| c).collect();
    let f = run(&mut ScanDetector::new(ScanConfig::default(), Tuning::default()), &v, &ctx);
    println!("vertical: {:#?}", f.iter().map(|x| (&x.src, x.score, &x.summary)).collect::<Vec<_>>());
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].src, "192.168.1.9");
    assert_eq!(f[0].evidence["scan_type"], "vertical");
    assert_eq!(f[0].evidence["host_most_swept"], "45.33.32.156");
    // The "horizontal" capture: unanswered port-80 attempts to ten web servers among the
    // malware's real web sessions.
    let h: Vec<_> = zeek_conns(&data.join("zeek-logs/slips/port-scans/horizontal"), "conn.log").into_iter().map(|(c, _)| c).collect();
    let f = run(&mut ScanDetector::new(ScanConfig::default(), Tuning::default()), &h, &ctx);
    println!("horizontal: {:#?}", f.iter().map(|x| (&x.src, x.score, &x.summary)).collect::<Vec<_>>());
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].src, "10.0.2.112");
    assert_eq!(f[0].evidence["port_most_swept"], "80/tcp");
}

#[test]
fn slips_ctu_sme_11_remcos_rat() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("zeek-logs/slips/test18-malicious-ctu-sme-11-win/zeek-labeled");
    let rows = zeek_conns(&dir, "conn.log.labeled");
    assert!(rows.len() > 700);
    let malicious: HashSet<(String, String)> = rows
        .iter()
        .filter(|(_, r)| r.get("label").is_some_and(|l| l.contains("Malicious")))
        .map(|(c, _)| (c.orig_h.to_string(), c.resp_h.to_string()))
        .collect();
    let conns: Vec<_> = rows.into_iter().map(|(c, _)| c).collect();
    let ctx = ctx();
    let mut all = Vec::new();
    for mut d in espionage_detectors(&Tuning::default(), None) {
        all.extend(run(d.as_mut(), &conns, &ctx));
    }
    Finding::rank(&mut all);
    for x in &all {
        println!("{:.3} {} {} -> {:?}: {}", x.score, x.kind, x.src, x.dst, x.summary);
    }
    let reported: Vec<&Finding> = all.iter().filter(|x| x.score >= 0.5).collect();
    let tp = reported.iter().filter(|x| x.dst.iter().any(|d| malicious.contains(&(x.src.clone(), d.clone())))).count();
    println!("RemcosRAT: {} labelled malicious pairs, {} findings ≥ medium, {} true", malicious.len(), reported.len(), tp);
    let b =
        all.iter().find(|x| x.kind == FindingKind::Beacon && x.dst.contains(&"66.63.168.35".to_string())).expect("RemcosRAT C2 retry loop");
    assert_eq!(b.src, "192.168.1.107");
    assert!(b.score >= 0.5, "{}", b.score);
    assert_eq!(tp, reported.len(), "precision");
}

#[test]
fn stratosphere_android_rat_uploads() {
    let Some(data) = shared_data() else { return };
    let rows = zeek_conns(&data.join("zeek-logs/stratosphere/003-zeek-scenario-malicious"), "conn.log");
    assert!(rows.len() > 300);
    // The README labels the connections to port 1337/tcp as the RAT's.
    let malicious: HashSet<(String, String)> =
        rows.iter().filter(|(c, _)| c.resp_p == 1337).map(|(c, _)| (c.orig_h.to_string(), c.resp_h.to_string())).collect();
    let conns: Vec<_> = rows.into_iter().map(|(c, _)| c).collect();
    let ctx = ctx();
    let mut all = Vec::new();
    for mut d in espionage_detectors(&Tuning::default(), None) {
        all.extend(run(d.as_mut(), &conns, &ctx));
    }
    Finding::rank(&mut all);
    for x in &all {
        println!("{:.3} {} {} -> {:?}: {}", x.score, x.kind, x.src, x.dst, x.summary);
    }
    let reported: Vec<&Finding> = all.iter().filter(|x| x.score >= 0.5).collect();
    let tp = reported.iter().filter(|x| x.dst.iter().any(|d| malicious.contains(&(x.src.clone(), d.clone())))).count();
    println!("AndroidTester RAT: {} labelled pairs, {} findings ≥ medium, {} true", malicious.len(), reported.len(), tp);
    let x =
        all.iter().find(|x| x.kind == FindingKind::Exfiltration && x.dst.contains(&"147.32.83.234".to_string())).expect("RAT upload found");
    assert_eq!(x.src, "10.8.0.61");
    assert!(x.score >= 0.5, "{}", x.score);
    assert_eq!(tp, reported.len(), "precision");
}
