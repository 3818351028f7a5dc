//! Shared by the binary's corpus checks.

use std::path::PathBuf;

/// The shared data directory (`VIGIL_SHARED_DATA`, else `../shared/data` beside the checkout),
/// or None with a note when it is absent; absent data fails the check under
/// `VIGIL_REQUIRE_CORPUS=1` (as `.ci/run` sets).
pub fn shared_data() -> Option<PathBuf> {
    let p = std::env::var_os("VIGIL_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    if p.is_dir() {
        return Some(p);
    }
    assert!(std::env::var("VIGIL_REQUIRE_CORPUS").as_deref() != Ok("1"), "shared data not found at {}", p.display());
    println!("shared data not found at {}; skipping corpus check", p.display());
    None
}
