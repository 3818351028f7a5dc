#![no_main]
//! NVD / CVE 5 / KEV / OSV JSON, EPSS CSV, CPE names and version comparison.
use libfuzzer_sys::fuzz_target;
use vigil_exposure::{cpe::Cpe, version, vulndb::VulnDb};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let mut db = VulnDb::new();
        db.load_json(&v);
        let _ = db.match_product("openbsd", "openssh", "9.2p1", Some("Debian-2"));
    }
    let mut map = std::collections::HashMap::new();
    let _ = vigil_exposure::vulndb::parse_epss_csv(&text, &mut map);
    let _ = Cpe::parse(&text).map(|c| c.to_cpe23());
    let mid = text.char_indices().nth(text.chars().count() / 2).map_or(0, |(i, _)| i);
    let (a, b) = text.split_at(mid);
    let _ = version::compare(a, b);
    let _ = version::split_update(&text);
});
