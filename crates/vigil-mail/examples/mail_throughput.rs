//! Messages per second on one core: `cargo run --release -p vigil-mail --example mail_throughput -- DIR…`
//! reads every message under each directory into memory, then times `Analyzer::analyze` alone
//! (no file I/O) over several passes, single-threaded, and prints how many messages of each
//! directory were flagged.

use std::time::Instant;

fn main() {
    let dirs: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    let mut sets: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    for d in &dirs {
        let mut msgs = Vec::new();
        for f in vigil_mail::source::list_files(d).unwrap_or_default() {
            if let Ok(b) = std::fs::read(&f)
                && vigil_mail::source::looks_like_mail(&b)
            {
                msgs.push(b);
            }
        }
        sets.push((d.display().to_string(), msgs));
    }
    let a = vigil_mail::Analyzer::default();
    let n_msgs: usize = sets.iter().map(|s| s.1.len()).sum();
    let bytes: usize = sets.iter().flat_map(|s| s.1.iter()).map(Vec::len).sum();
    let passes = 5;
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let mut flagged = vec![0usize; sets.len()];
    for _ in 0..passes {
        for (k, (_, msgs)) in sets.iter().enumerate() {
            for m in msgs {
                if a.analyze(m).is_ok_and(|v| v.phishing)
                    && let Some(f) = flagged.get_mut(k)
                {
                    *f += 1;
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    for ((name, msgs), f) in sets.iter().zip(&flagged) {
        println!("{name}: {}/{} flagged", f / passes, msgs.len());
    }
    let n = n_msgs * passes;
    println!(
        "{n_msgs} messages ({:.1} MB) x {passes} passes: {:.0} messages/s, {:.1} MB/s wall on one thread",
        bytes as f64 / 1e6,
        n as f64 / secs,
        (bytes * passes) as f64 / 1e6 / secs,
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
