//! nmap and masscan outputs from the shared corpus import into services.

use std::collections::BTreeSet;
use std::path::PathBuf;
use vigil_exposure::import::import_scan;

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

#[test]
fn masscan_formats_agree() {
    let Some(dir) = data_dir() else { return };
    let base = dir.join("vulns/scans/masscan/ruby-masscan");
    let mut sets = Vec::new();
    for f in ["masscan.xml", "masscan.json", "masscan.ndjson", "masscan.list", "masscan.bin"] {
        let imp = import_scan(&std::fs::read(base.join(f)).unwrap()).unwrap_or_else(|e| panic!("{f}: {e}"));
        let set: BTreeSet<String> = imp.services.iter().map(|s| format!("{}:{}", s.ip.unwrap(), s.port)).collect();
        println!("{f}: {} ({}), {set:?}", imp.format, imp.services.len());
        sets.push((f, set));
    }
    let want: BTreeSet<String> = ["93.184.216.34:443", "93.184.216.34:80"].iter().map(|s| s.to_string()).collect();
    for (f, s) in sets {
        assert_eq!(s, want, "{f}");
    }
    let list = import_scan(&std::fs::read(base.join("masscan.list")).unwrap()).unwrap();
    let http = list.services.iter().find(|s| s.port == 80).unwrap();
    assert_eq!(http.http_title.as_deref(), Some("404 - Not Found"));
    assert!(list.services.iter().find(|s| s.port == 443).unwrap().tls);
}

#[test]
fn nmap_version_scans_give_products_versions_and_cpes() {
    let Some(dir) = data_dir() else { return };
    let base = dir.join("vulns/scans/nmap");
    let mut total = 0;
    for f in [
        "python-libnmap/fullscan.xml",
        "python-libnmap/dionaea_scan.xml",
        "python-libnmap/os_scan6.xml",
        "python-libnmap/1_os_banner_scripts.xml",
        "python-libnmap/1_hosts_banner.xml",
        "python-libnmap/2_hosts_version.xml",
        "ruby-nmap/scan.xml",
        "ullaakut/scan_base.xml",
    ] {
        let imp = import_scan(&std::fs::read(base.join(f)).unwrap()).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(!imp.services.is_empty(), "{f}");
        total += imp.services.len();
    }
    assert!(total > 20, "{total}");
    let imp = import_scan(&std::fs::read(base.join("ruby-nmap/scan.xml")).unwrap()).unwrap();
    let apache = imp.services.iter().find(|s| s.port == 80 && s.product.as_deref() == Some("Apache httpd")).expect("apache");
    assert_eq!(apache.version.as_deref(), Some("2.4.7"));
    assert_eq!(apache.cpe.as_deref(), Some("cpe:2.3:a:apache:http_server:2.4.7:*:*:*:*:*:*:*"));
    assert_eq!(apache.distro.as_deref(), Some("Ubuntu"));
    assert_eq!(apache.hostname.as_deref(), Some("scanme.nmap.org"));
    let ssh = imp.services.iter().find(|s| s.port == 22).expect("ssh");
    assert_eq!(ssh.version.as_deref(), Some("6.6.1p1"));
    assert!(ssh.distro.is_some(), "Ubuntu package revision kept");
}
