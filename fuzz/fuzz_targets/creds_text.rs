#![no_main]
//! Text detectors (keywords, tokens, PEM, tables, admin-tool stores) on arbitrary UTF-8.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for name in ["x.txt", "WinSCP.ini", "confCons.xml", "a.rdp", ".netrc", ".pgpass", "s.xsh", "MobaXterm.ini", "c.ncx"] {
        let _ = vigil_creds::text::scan_text(name, &text);
    }
});
