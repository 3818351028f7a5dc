//! Corpus checks for the movement detectors on real captures (401TRG's SMB lateral-movement
//! pcaps: Metasploit PsExec pass-the-hash, and a mimikatz copy over SMB), read through Vigil's
//! own flow engine.

use std::path::{Path, PathBuf};
use vigil_detect::movement_detectors;
use vigil_enrich::{Context, Site};
use vigil_flow::{Engine, EngineConfig};
use vigil_model::{Conn, Finding, FindingKind};

fn shared_data() -> Option<PathBuf> {
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

fn conns(path: &Path) -> Vec<Conn> {
    let mut v = Vec::new();
    let mut e = Engine::new(EngineConfig::default());
    e.ingest_path(path, &mut |c| v.push(c)).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    e.finish(&mut |c| v.push(c));
    v.sort_by_key(|c| c.ts);
    v
}

fn run(conns: &[Conn], ctx: &Context) -> Vec<Finding> {
    let mut all = Vec::new();
    for mut d in movement_detectors() {
        for c in conns {
            d.observe(c, ctx);
        }
        all.extend(d.finish(ctx));
    }
    Finding::rank(&mut all);
    all
}

#[test]
fn psexec_pass_the_hash_capture_is_lateral_movement_with_a_callback() {
    let Some(data) = shared_data() else { return };
    let v = conns(&data.join("pcaps/lateral-movement/401trg/20171220_smb_metasploit_psexec_pth_download_meterpreter.pcap"));
    let f = run(&v, &Context::new(Site::default()));
    for x in &f {
        println!("{:.3} {} {} {:?} {:?}: {}", x.score, x.kind, x.src, x.path, x.attack, x.summary);
    }
    // The attacker (192.168.10.50) authenticates over SMB to 192.168.10.31 and has a service
    // started there; the victim then connects back to the attacker's handler on 4444 and
    // downloads meterpreter.
    let lm = f.iter().find(|x| x.kind == FindingKind::LateralMovement).expect("lateral movement found");
    assert_eq!(lm.src, "192.168.10.50");
    assert_eq!(lm.path, vec!["192.168.10.50", "192.168.10.31"]);
    assert!(lm.score >= 0.5, "{}", lm.score);
    assert_eq!(lm.evidence["callbacks"][0]["port"], 4444);
    assert!(lm.evidence["callbacks"][0]["bytes_sent_back"].as_u64().unwrap() > 100_000);
    for id in ["T1021.002", "T1569.002"] {
        assert!(lm.attack.contains(&id.to_string()), "{id}");
    }
    assert!(f.iter().all(|x| x.src.starts_with("192.168.10.")), "every finding is about an internal host");
}
