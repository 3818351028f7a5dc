//! Remote execution found in a sensor's Zeek logs (no packets): the WRCCDC 2018 red team's
//! services created over `\pipe\ntsvcs`, scheduled tasks registered and run over `atsvc`, and
//! its file on ADMIN$, as Zeek's smb_mapping, smb_files and dce_rpc logs recorded them. The
//! importer fills the same SMB/DCE-RPC metadata the packet engine dissects, so
//! `lateral_movement` reads both alike.

mod common;
use common::logs::shared_data;
use std::collections::BTreeSet;
use vigil_enrich::{Context, Site};
use vigil_model::{Finding, FindingKind, Severity};

#[test]
fn red_team_remote_execution_in_zeek_logs() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("zeek-logs/wrccdc-2018/zeek-default");
    let mut conns = Vec::new();
    let stats = vigil_import::import_path(&dir, &mut |c| conns.push(c), &mut |_| {}).unwrap();
    assert!(conns.iter().any(|c| c.app.dce_rpc.is_some()), "{stats}");
    let ctx = Context::new(Site::default());
    let findings: Vec<Finding> = vigil_detect::run_all(&conns, &ctx);
    let lateral: Vec<&Finding> =
        findings.iter().filter(|f| f.kind == FindingKind::LateralMovement && f.severity >= Severity::Medium).collect();
    for f in &lateral {
        println!("{:.2} {} {:?} {}", f.score, f.src, f.dst, f.evidence);
    }
    // Every source that created a service or registered and ran a task on another host.
    let sources: BTreeSet<&str> = lateral.iter().map(|f| f.src.as_str()).collect();
    for src in ["10.128.0.214", "10.150.0.20", "10.128.0.233"] {
        assert!(sources.contains(src), "{src} not found: {sources:?}");
    }
    let targets: BTreeSet<&String> = lateral.iter().filter(|f| f.src == "10.128.0.214").flat_map(|f| f.dst.iter()).collect();
    for t in ["10.47.8.142", "10.47.8.154", "10.47.8.19"] {
        assert!(targets.contains(&t.to_string()), "{t} not among {targets:?}");
    }
    let text = serde_json::to_string(&lateral.iter().map(|f| &f.evidence).collect::<Vec<_>>()).unwrap();
    assert!(text.contains("CreateServiceW") && text.contains("SchRpcRegisterTask"), "{text}");
    // Nothing else in these logs (DNS, TLS, NTLM, Kerberos of the competition network) reaches
    // medium as lateral movement from a host that executed nothing remotely.
    assert!(sources.len() <= 5, "{sources:?}");
}
