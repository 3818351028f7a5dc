#![no_main]
//! nmap XML and masscan (xml/json/ndjson/list/binary) imports.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = vigil_exposure::import::import_scan(data);
    let _ = vigil_exposure::import::parse_masscan_binary(data);
    let text = String::from_utf8_lossy(data);
    let _ = vigil_exposure::import::parse_masscan_list(&text);
    let _ = vigil_exposure::import::parse_masscan_json(&text);
});
