//! Corpus checks on real C2 captures, read through Vigil's own flow engine (vigil-flow):
//! the iodine DNS tunnel and Slips' periodic HTTPS beacon with 2–3 s jitter.

mod common;
use common::logs::shared_data;
use std::path::Path;
use vigil_detect::espionage_detectors;
use vigil_detect::util::Tuning;
use vigil_enrich::{Context, Site};
use vigil_flow::{Engine, EngineConfig};
use vigil_model::{Conn, Finding, FindingKind};

fn conns(path: &Path) -> Vec<Conn> {
    let mut v = Vec::new();
    let mut e = Engine::new(EngineConfig::default());
    e.ingest_path(path, &mut |c| v.push(c)).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    e.finish(&mut |c| v.push(c));
    v.sort_by_key(|c| c.ts);
    v
}

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

#[test]
fn iodine_dns_tunnel() {
    let Some(data) = shared_data() else { return };
    let v = conns(&data.join("pcaps/malware-c2/dns-tunnel/elastic-dns-tunnel-iodine.pcap"));
    let dns: usize = v.iter().map(|c| c.app.dns.len()).sum();
    println!("{} conns, {dns} DNS transactions", v.len());
    let f = run_all(&v, &Context::new(Site::default()));
    for x in &f {
        println!("{:.3} {} {} {:?}: {}", x.score, x.kind, x.src, x.dst, x.summary);
    }
    let t = f.iter().find(|x| x.kind == FindingKind::DnsTunnel).expect("iodine tunnel found");
    assert!(t.score >= 0.75, "{}", t.score);
    assert_eq!(t.src, "10.0.2.30");
    assert_eq!(t.evidence["registered_domain"], "pirate.sea");
}

#[test]
fn slips_periodic_https_beacon() {
    let Some(data) = shared_data() else { return };
    let v = conns(&data.join("pcaps/malware-c2/slips/test-cc-capture-2.pcap"));
    println!("{} conns", v.len());
    // The capture's own network (CTU, 147.32.0.0/16) is the inside.
    let site = Site::parse("[site]\ninternal = [\"147.32.0.0/16\"]\n", Path::new("s.toml")).expect("site");
    let f = run_all(&v, &Context::new(site));
    for x in &f {
        println!("{:.3} {} {} {:?}: {}", x.score, x.kind, x.src, x.dst, x.summary);
    }
    let b = f.iter().find(|x| x.kind == FindingKind::Beacon).expect("beacon found");
    assert_eq!(b.src, "147.32.80.37");
    assert!(b.dst.contains(&"testing.com".to_string()), "{:?}", b.dst);
    assert!(b.score >= 0.5, "{}", b.score);
    assert_eq!(f.iter().filter(|x| x.score >= 0.5).count(), 1, "nothing else reaches medium");
}
