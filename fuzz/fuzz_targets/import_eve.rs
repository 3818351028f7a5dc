#![no_main]
//! Suricata EVE import (flow/app-event join, alerts to findings) over hostile lines.
use libfuzzer_sys::fuzz_target;
use vigil_import::eve::EveReader;
use vigil_import::{ImportOptions, ImportStats};

fuzz_target!(|data: &[u8]| {
    let opts = ImportOptions { max_pending_app: 64, max_pending_flows: 64, ..Default::default() };
    let mut r = EveReader::new(&opts);
    let mut stats = ImportStats::default();
    let text = String::from_utf8_lossy(data);
    for line in text.lines() {
        r.line(line, &mut stats, &mut |_| {}, &mut |_| {});
    }
    r.finish(&mut stats, &mut |_| {});
});
