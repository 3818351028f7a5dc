#![no_main]
//! Scope files (host names resolve to nothing here: no network in the fuzzer).
use libfuzzer_sys::fuzz_target;
use vigil_exposure::scope::{Resolver, Scope};

struct NoDns;
impl Resolver for NoDns {
    fn resolve(&self, _: &str) -> std::io::Result<Vec<std::net::IpAddr>> {
        Ok(vec!["10.0.0.1".parse().unwrap()])
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(s) = Scope::parse(&text, &[22, 80], &NoDns) {
        let _ = s.contains("10.0.0.1".parse().unwrap());
    }
});
