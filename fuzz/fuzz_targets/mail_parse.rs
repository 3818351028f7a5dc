#![no_main]
//! Hostile mail: any bytes through the whole triage (MIME parsing, HTML scan, attachments,
//! lures, scoring) and the mbox splitter must return, never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let a = vigil_mail::Analyzer::default();
    if let Ok(v) = a.analyze(data) {
        assert!((0.0..=1.0).contains(&v.score));
        let _ = v.to_finding("fuzz.eml", None);
    }
    for m in vigil_mail::source::split_mbox(data, 64) {
        let _ = a.analyze(m);
    }
    let s = String::from_utf8_lossy(data);
    let _ = vigil_mail::html::scan(&s);
    let _ = vigil_mail::auth::parse_auth_results(&s, &[]);
    let mut sig = Vec::new();
    vigil_mail::attach::content_signals("f.bin", data, &mut sig);
});
