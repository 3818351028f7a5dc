//! Shared helpers of the corpus checks: where the shared data lives and external tools.
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared data folder, or `None` (after printing why) when it is absent and not required.
pub fn shared_data() -> Option<PathBuf> {
    let p = match std::env::var_os("VIGIL_SHARED_DATA") {
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join("../shared/data"),
    };
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("VIGIL_REQUIRE_CORPUS").as_deref() == Ok("1") {
        panic!("shared data not found at {} and VIGIL_REQUIRE_CORPUS=1", p.display());
    }
    println!("shared data not found at {}; skipping corpus check", p.display());
    None
}

/// Whether an external tool is on PATH; panics when absent and VIGIL_REQUIRE_TOOLS=1.
pub fn tool(name: &str) -> bool {
    let found = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file())).unwrap_or(false);
    if !found {
        if std::env::var("VIGIL_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{name} not on PATH and VIGIL_REQUIRE_TOOLS=1");
        }
        println!("{name} not on PATH; skipping the comparison with it");
    }
    found
}

/// Every regular file under `dir`, sorted.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
