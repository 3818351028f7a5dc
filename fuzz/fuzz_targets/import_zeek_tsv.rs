#![no_main]
//! Zeek log import (TSV headers and rows, JSON lines, the uid join) over hostile bytes.
use libfuzzer_sys::fuzz_target;
use vigil_import::{ImportOptions, ImportStats};

fuzz_target!(|data: &[u8]| {
    let opts = ImportOptions { max_pending_app: 64, ..Default::default() };
    let mut stats = ImportStats::default();
    vigil_import::zeek::import_bytes(data, &opts, &mut stats, &mut |_| {});
    let _ = vigil_import::sniff_bytes(data);
});
