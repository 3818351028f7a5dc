//! Matching correctness on the shared NVD / KEV / EPSS corpus: every NVD record flags the
//! vulnerable versions and clears the fixed ones at its range boundaries; KEV entries rank first.

use std::path::PathBuf;
use vigil_exposure::Service;
use vigil_exposure::report::{self, Placement};
use vigil_exposure::vulndb::VulnDb;

fn data_dir() -> Option<PathBuf> {
    let p = match std::env::var_os("VIGIL_SHARED_DATA") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("VIGIL_REQUIRE_CORPUS").as_deref() == Ok("1") {
        panic!("shared data not found at {}", p.display());
    }
    println!("shared data not found at {}; skipping corpus check", p.display());
    None
}

fn load(dir: &std::path::Path) -> VulnDb {
    let mut db = VulnDb::new();
    db.load_path(&dir.join("vulns/nvd-cve-2.0")).unwrap();
    db.load_path(&dir.join("vulns/cisa-kev")).unwrap();
    db.load_path(&dir.join("vulns/epss")).unwrap();
    db
}

fn flagged(db: &VulnDb, vendor: &str, product: &str, ver: &str, cve: &str) -> bool {
    db.match_product(vendor, product, ver, None).iter().any(|m| m.cve == cve)
}

#[test]
fn nvd_records_flag_vulnerable_and_clear_fixed_at_boundaries() {
    let Some(dir) = data_dir() else { return };
    let db = load(&dir);
    assert_eq!(db.len(), 7, "seven NVD records");
    // (cve, vendor, product, vulnerable versions, fixed/unaffected versions) — the boundaries
    // come from each record's versionStart/End fields and exact CPEs.
    type Case<'a> = (&'a str, &'a str, &'a str, &'a [&'a str], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            "CVE-2024-6387",
            "openbsd",
            "openssh",
            &["8.5p1", "8.6p1", "9.2p1", "9.7p1", "4.3p2", "4.4"],
            &["9.8p1", "8.4p1", "8.5p2", "4.4p1", "9.9p1"],
        ),
        ("CVE-2021-41773", "apache", "http_server", &["2.4.49"], &["2.4.48", "2.4.50", "2.4.51"]),
        ("CVE-2021-23017", "f5", "nginx", &["0.6.18", "1.20.0", "1.18.0"], &["1.20.1", "0.6.17", "1.21.0"]),
        ("CVE-2021-23017", "nginx", "nginx", &["1.19.9"], &["1.20.1"]),
        ("CVE-2019-10149", "exim", "exim", &["4.87", "4.89", "4.91"], &["4.86", "4.92", "4.92.1"]),
        (
            "CVE-2018-13379",
            "fortinet",
            "fortios",
            &["5.4.6", "5.4.12", "5.6.3", "5.6.7", "6.0.0", "6.0.4"],
            &["5.4.5", "5.4.13", "5.6.2", "5.6.8", "6.0.5", "6.2.0"],
        ),
        ("CVE-2018-13379", "fortinet", "fortiproxy", &["1.2.8", "2.0.0"], &["1.2.9", "2.0.1"]),
        ("CVE-2022-41352", "zimbra", "collaboration", &["8.8.15", "9.0.0"], &["8.8.16", "10.0.0"]),
    ];
    for (cve, vendor, product, bad, good) in cases {
        for v in *bad {
            assert!(flagged(&db, vendor, product, v, cve), "{cve}: {product} {v} must be flagged");
        }
        for v in *good {
            assert!(!flagged(&db, vendor, product, v, cve), "{cve}: {product} {v} must be cleared");
        }
    }
    // Exchange: versions live in the CPE update field (cumulative updates); an exact CPE match.
    let rec = db.cve("CVE-2021-26855").expect("ProxyLogon record");
    assert!(rec.matches.iter().any(|m| m.criteria.product == "exchange_server" && m.criteria.update == "cumulative_update_23"));
    assert!(rec.cvss.is_some_and(|c| c >= 9.0));
}

#[test]
fn every_range_entry_honours_its_own_boundaries() {
    let Some(dir) = data_dir() else { return };
    let db = load(&dir);
    let mut checked = 0;
    for id in ["CVE-2024-6387", "CVE-2021-41773", "CVE-2021-23017", "CVE-2019-10149", "CVE-2018-13379", "CVE-2022-41352", "CVE-2021-26855"]
    {
        for m in &db.cve(id).unwrap().matches {
            if let Some(s) = &m.start_including {
                assert!(m.matches_version(s), "{id} {s} start incl");
            }
            if let Some(e) = &m.end_excluding {
                assert!(!m.matches_version(e), "{id} {e} end excl");
                checked += 1;
            }
            if let Some(e) = &m.end_including {
                assert!(m.matches_version(e), "{id} {e} end incl");
                assert!(!m.matches_version(&format!("{e}.1")), "{id} {e}.1 past end incl");
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "{checked} range ends checked");
}

#[test]
fn nvd_api_page_epss_and_kev_load() {
    let Some(dir) = data_dir() else { return };
    let mut db = VulnDb::new();
    let page = dir.join("vulns/nvd-api-2.0/vunnel-full-page.json");
    let expected =
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(&page).unwrap()).unwrap()["vulnerabilities"].as_array().unwrap().len();
    db.load_path(&page).unwrap();
    assert_eq!(db.len(), expected);
    db.load_path(&dir.join("vulns/epss")).unwrap();
    assert_eq!(db.stats.epss, 5);
    assert!((db.epss("CVE-1999-0005").unwrap().epss - 0.91963).abs() < 1e-9);
    db.load_path(&dir.join("vulns/cisa-kev")).unwrap();
    assert!(db.stats.kev > 1000);
    assert!(db.kev("CVE-2021-44228").is_some(), "Log4Shell is in the KEV catalogue");
}

fn svc(ip: &str, port: u16, product: &str, version: &str, distro: Option<&str>) -> Service {
    let mut s = Service {
        ip: Some(ip.parse().unwrap()),
        port,
        transport: "tcp".into(),
        product: Some(product.into()),
        version: Some(version.into()),
        distro: distro.map(String::from),
        source: "test".into(),
        ..Default::default()
    };
    let (v, p) = vigil_exposure::ident::cpe_for(product).unwrap();
    s.cpe = Some(vigil_exposure::cpe::Cpe::for_app(v, p, Some(version)).to_cpe23());
    s
}

#[test]
fn kev_entries_rank_first_and_backports_are_unconfirmed() {
    let Some(dir) = data_dir() else { return };
    let db = load(&dir);
    let services = vec![
        svc("203.0.113.10", 22, "OpenSSH", "9.7p1", None),
        svc("203.0.113.11", 80, "nginx", "1.20.0", None),
        svc("10.0.0.12", 80, "Apache HTTPD", "2.4.49", None),
        svc("10.0.0.13", 25, "Exim", "4.89", None),
        svc("10.0.0.14", 443, "FortiOS", "6.0.4", None),
        svc("10.0.0.15", 22, "OpenSSH", "9.2p1", Some("Debian-2+deb12u3")),
        svc("10.0.0.16", 22, "OpenSSH", "9.8p1", None),
    ];
    let a = report::assess(&services, &db, &report::default_placement);
    let list = report::patch_list(&a);
    assert_eq!(list.len(), 6, "9.8p1 is fixed: {list:#?}");
    let kev_flags: Vec<bool> = list.iter().map(|p| p.kev).collect();
    assert!(kev_flags.contains(&true) && kev_flags.contains(&false), "{kev_flags:?}");
    // Known exploited first, whatever their placement or CVSS.
    let first_non_kev = kev_flags.iter().position(|k| !k).unwrap();
    assert!(kev_flags[first_non_kev..].iter().all(|k| !k), "KEV must come first: {list:#?}");
    for p in &list {
        assert_eq!(p.kev, p.cves.iter().any(|c| db.kev(c).is_some()));
    }
    // The Debian build is matched but not claimed.
    let deb = a.iter().find(|x| x.service.port == 22 && x.service.distro.is_some()).unwrap();
    assert!(!deb.vulns.is_empty());
    assert!(deb.vulns.iter().all(|m| !m.confirmed && m.unconfirmed_reason.as_deref().is_some_and(|r| r.contains("backport"))));
    // Findings carry the evidence of CONTRACT.md.
    let f = report::findings(&a, chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00+00:00").unwrap());
    let v = f.iter().find(|f| f.kind == vigil_model::FindingKind::VulnerableService && f.src == "10.0.0.14").unwrap();
    assert!(v.score >= 0.9);
    let cve0 = &v.evidence["cves"][0];
    assert_eq!(cve0["cve"], "CVE-2018-13379");
    assert_eq!(cve0["kev"], true);
    assert!(cve0["cvss"].as_f64().is_some());
    assert_eq!(v.evidence["port"], 443);
    assert_eq!(v.evidence["confirmed"], true);
    // Placement lifts an internet-facing asset above the same flaw inside.
    let p_pub = Placement { internet_facing: true, ..Default::default() };
    let m = &a[1].vulns[0];
    assert!(report::vuln_score(m, &p_pub) > report::vuln_score(m, &Placement::default()));
}

/// Generic over whatever NVD records the folder holds (not only the seven named above): through
/// the full matching path, every range start and inclusive end is flagged, every exclusive end
/// is cleared (unless another entry of the same record covers it), and every exact-version
/// entry is flagged at its own version.
#[test]
fn every_nvd_record_in_the_folder_is_flagged_and_cleared_at_its_bounds() {
    let Some(dir) = data_dir() else { return };
    let db = load(&dir);
    let mut checks = 0usize;
    let mut files: Vec<_> = std::fs::read_dir(dir.join("vulns/nvd-cve-2.0")).unwrap().filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let Some(rec) = vigil_exposure::vulndb::parse_nvd_cve(&v) else { continue };
        let hits = |vendor: &str, product: &str, ver: &str| db.match_product(vendor, product, ver, None).iter().any(|m| m.cve == rec.id);
        for m in rec.matches.iter().filter(|m| m.vulnerable && m.criteria.part == "a") {
            let (vendor, product) = (m.criteria.vendor.as_str(), m.criteria.product.as_str());
            let covered_elsewhere = |ver: &str| {
                rec.matches.iter().any(|o| o != m && o.vulnerable && o.criteria.product == m.criteria.product && o.matches_version(ver))
            };
            for s in m.start_including.iter().chain(&m.end_including) {
                assert!(hits(vendor, product, s), "{}: {product} {s} is an inclusive bound and must be flagged", rec.id);
                checks += 1;
            }
            if let Some(e) = &m.end_excluding
                && !covered_elsewhere(e)
            {
                assert!(!hits(vendor, product, e), "{}: {product} {e} is the fixed version and must be cleared", rec.id);
                checks += 1;
            }
            // Entries whose update field is a build name (Exchange's cumulative updates) cannot
            // be reached from a banner version and are checked above by name.
            let update_ok =
                matches!(m.criteria.update.as_str(), "*" | "-") || m.criteria.full_version().is_some_and(|f| f != m.criteria.version);
            if m.criteria.version != "*"
                && m.criteria.version != "-"
                && update_ok
                && let Some(v) = m.criteria.full_version()
                && vigil_exposure::version::looks_like_version(&v)
            {
                assert!(hits(vendor, product, &v), "{}: exact entry {product} {v} must be flagged", rec.id);
                checks += 1;
            }
        }
    }
    assert!(checks >= 20, "{checks} bound checks over {} files", files.len());
    println!("{checks} bound checks over {} NVD records", files.len());
}
