#![no_main]
//! IOC feed parsing (CSV, STIX 2.1, MISP JSON) over arbitrary bytes: never panics, and every
//! accepted indicator can be matched without panicking.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = vigil_detect::ioc::IocSet::parse(data, "fuzz") {
        for e in set.entries().iter().take(64) {
            let _ = set.match_domain(&e.value);
            let _ = set.match_cert(&e.value);
            let _ = set.match_fingerprint(&e.value);
            if let Ok(ip) = e.value.parse() {
                let _ = set.match_ip(ip);
            }
        }
    }
    let s = String::from_utf8_lossy(data);
    let _ = vigil_detect::dns_tunnel::registered_domain(&s);
    let _ = vigil_detect::dns_tunnel::entropy(&s);
});
