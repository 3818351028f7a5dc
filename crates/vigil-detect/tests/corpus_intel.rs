//! Corpus check: the 401TRG "Burning Umbrella" (Winnti) indicator CSVs load as IOC sets.

mod common;
use common::logs::shared_data;
use vigil_detect::ioc::{IocKind, IocSet};

#[test]
fn burning_umbrella_csvs_load() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("intel/401trg");
    let mut all = IocSet::new();
    let mut files = 0;
    for e in std::fs::read_dir(&dir).expect("intel dir") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "csv") {
            let s = IocSet::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            println!("{}: {} indicators, {} skipped", p.display(), s.len(), s.skipped);
            all.merge(&s);
            files += 1;
        }
    }
    assert_eq!(files, 8);
    let count = |k: IocKind| all.entries().iter().filter(|e| e.kind == k).count();
    println!("domains {}, cert sha1 {}, ips {}", count(IocKind::Domain), count(IocKind::CertSha1), count(IocKind::Ip));
    assert!(count(IocKind::Domain) > 50);
    assert!(count(IocKind::CertSha1) > 20);
    assert!(all.match_domain("war.geekgalaxy.com").is_some());
    assert!(all.match_domain("sub.be.loved.tokyo").is_some());
    assert!(all.match_cert("12eb8a9f1a7cd1cc10e57847dd5476c6062b9e58").is_some());
    assert!(all.match_domain("geekgalaxy.com").is_none(), "a listed subdomain does not taint its parent");
}
