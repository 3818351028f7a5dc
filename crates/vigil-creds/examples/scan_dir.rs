//! Scans a directory and prints throughput and findings per detector:
//! `cargo run --release -p vigil-creds --example scan_dir -- [--threads N] DIR` (used for
//! docs/CREDS.md and `bench/creds_vs_ripgrep.sh`).
fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = vigil_creds::ScanOptions::default();
    if args.first().is_some_and(|a| a == "--threads") && args.len() >= 2 {
        opts.threads = args[1].parse().unwrap_or(0);
        args.drain(..2);
    }
    let Some(dir) = args.first().cloned() else {
        eprintln!("usage: scan_dir [--threads N] DIR");
        std::process::exit(2);
    };
    let t = std::time::Instant::now();
    let rep = vigil_creds::scan_paths(&[dir.into()], &opts);
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
    // VIGIL_LIST=1 lists every finding (redacted), for reviewing false positives.
    if std::env::var("VIGIL_LIST").as_deref() == Ok("1") {
        for f in &rep.findings {
            println!("{}:{} {} {}", f.file, f.line.unwrap_or(0), f.hit.detector, vigil_creds::secret::redact(&f.hit.secret));
        }
    }
}
