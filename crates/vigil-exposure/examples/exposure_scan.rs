//! Scans a scope file and prints one identified service per line (product, version, CPE) and
//! the elapsed time: the library half of `vigil exposure scan`, used by
//! `bench/exposure_vs_nmap.sh` without building the whole binary.

use std::collections::HashMap;
use vigil_exposure::recog::Recog;
use vigil_exposure::scan::{ScanConfig, scan};
use vigil_exposure::scope::{DEFAULT_PORTS, Scope, SystemResolver};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: exposure_scan SCOPE_FILE");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(2)
    });
    let scope = Scope::parse(&text, DEFAULT_PORTS, &SystemResolver).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let cfg = ScanConfig { rate: 0.0, ..Default::default() };
    let out = scan(&scope, &scope.targets(), &HashMap::new(), &vigil_exposure::probe::TcpConnector, &Recog::bundled(), &cfg, &|_, _| {})
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2)
        });
    for s in &out.services {
        println!(
            "{}:{}\t{}\t{}\t{}\t{}\t{}\t{}",
            s.ip.map(|i| i.to_string()).unwrap_or_default(),
            s.port,
            s.service.as_deref().unwrap_or("-"),
            s.product.as_deref().unwrap_or("-"),
            s.version.as_deref().unwrap_or("-"),
            s.cpe.as_deref().unwrap_or("-"),
            s.http_title.as_deref().unwrap_or("-"),
            s.tls_version.as_deref().unwrap_or("-")
        );
    }
    eprintln!("{} scan: elapsed {:.3}s, {} open, {} connections", out.method, out.elapsed.as_secs_f64(), out.open, out.connections);
}
