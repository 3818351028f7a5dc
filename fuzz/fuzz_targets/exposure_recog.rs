#![no_main]
//! Recog XML databases and matching attacker-controlled banners against the bundled ones.
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use vigil_exposure::recog::{Database, Recog};

static BUNDLED: OnceLock<Recog> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(db) = Database::parse("fuzz.xml", &text) {
        let _ = db.match_text("x");
    }
    let r = BUNDLED.get_or_init(Recog::bundled);
    let _ = r.match_key("ssh.banner", &text);
    let _ = r.match_key("http_header.server", &text);
});
