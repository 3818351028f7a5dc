//! Messages per second on one core: `cargo run --release -p vigil-mail --example throughput -- DIR…`
//! reads every message under the directories into memory, then times `Analyzer::analyze` alone
//! (no file I/O) over several passes, single-threaded.

use std::time::Instant;

fn main() {
    let dirs: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    let mut msgs = Vec::new();
    for d in &dirs {
        for f in vigil_mail::source::list_files(d).unwrap_or_default() {
            if let Ok(b) = std::fs::read(&f)
                && vigil_mail::source::looks_like_mail(&b)
            {
                msgs.push(b);
            }
        }
    }
    let a = vigil_mail::Analyzer::default();
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    let passes = 5;
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let mut flagged = 0usize;
    for _ in 0..passes {
        for m in &msgs {
            if a.analyze(m).is_ok_and(|v| v.phishing) {
                flagged += 1;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    let n = msgs.len() * passes;
    println!(
        "{} messages ({:.1} MB) x {passes} passes: {:.0} messages/s, {:.1} MB/s on one core; {} flagged per pass",
        msgs.len(),
        bytes as f64 / 1e6,
        n as f64 / secs,
        (bytes * passes) as f64 / 1e6 / secs,
        flagged / passes
    );
    // On a shared machine wall time undercounts; CPU time of this (single-threaded) process is
    // the per-core figure.
    if let Some(c) = cpu.filter(|c| *c > 0.0) {
        println!("CPU time {c:.2} s: {:.0} messages per CPU-second", n as f64 / c);
    }
}

/// User+system CPU seconds of this process (Linux `/proc/self/stat`, 100 ticks per second).
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((ut + st) / 100.0)
}
