#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(prog) = vigil_capture::live::parse_bpf_program(text) {
            assert!(!prog.is_empty() && prog.len() <= 4096);
        }
    }
});
