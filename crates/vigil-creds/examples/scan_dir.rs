//! Scans a directory and prints throughput and findings per detector:
//! `cargo run --release -p vigil-creds --example scan_dir -- DIR` (used for docs/CREDS.md).
fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: scan_dir DIR");
        std::process::exit(2);
    };
    let t = std::time::Instant::now();
    let rep = vigil_creds::scan_paths(&[dir.into()], &vigil_creds::ScanOptions::default());
    let secs = t.elapsed().as_secs_f64();
    let mut by: std::collections::BTreeMap<&str, usize> = Default::default();
    for f in &rep.findings {
        *by.entry(f.hit.detector).or_default() += 1;
    }
    println!(
        "{} files, {:.1} MB in {:.2} s ({:.1} MB/s), {} findings, {} issues",
        rep.files_scanned,
        rep.bytes_scanned as f64 / 1e6,
        secs,
        rep.bytes_scanned as f64 / 1e6 / secs.max(1e-9),
        rep.findings.len(),
        rep.problems().count()
    );
    println!("{by:?}");
}
