#![no_main]
//! Page bodies and Content-Type charsets from HTTP(S) servers: title decoding and escaping.
use libfuzzer_sys::fuzz_target;
use vigil_exposure::probe;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| usize::from(*b) % 32).min(data.len());
    let (ct, body) = data.split_at(split);
    let ct = String::from_utf8_lossy(ct);
    let cs = probe::header_charset(&ct);
    if let Some(t) = probe::parse_title_in(body, cs.as_deref()) {
        assert!(!t.chars().any(char::is_control));
    }
    let _ = probe::sanitize_text(&ct);
});
