#![no_main]
//! Ground-truth files are read by `vigil eval`: any text must parse or fail cleanly, and
//! scoring whatever parsed must not panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(items) = vigil_sim::truth::Truth::parse_items(text) {
            let _ = vigil_sim::eval::score(&items, &[]);
        }
    }
});
