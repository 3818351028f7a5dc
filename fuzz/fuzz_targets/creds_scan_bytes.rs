#![no_main]
//! Whole pipeline on arbitrary bytes: format sniffing, archives, office, PDF, RTF, mail, text
//! detectors. Small limits keep each run fast; the limits themselves are part of what is tested.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = vigil_creds::ScanOptions {
        max_file_bytes: 1 << 20,
        max_entry_bytes: 1 << 20,
        max_total_bytes: 4 << 20,
        max_depth: 3,
        max_entries: 64,
        ..vigil_creds::ScanOptions::default()
    };
    let (findings, _issues) = vigil_creds::scan_bytes("fuzz.bin", data, &opts);
    let _ = vigil_creds::to_findings(&findings, "fuzz", &|_| None);
});
