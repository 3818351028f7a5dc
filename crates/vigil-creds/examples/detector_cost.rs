//! Time spent per detector over every text file under DIR, single-threaded, files in memory:
//! `cargo run --release -p vigil-creds --example detector_cost -- DIR` (profiling aid).
use std::time::Instant;
use vigil_creds::{keyword, pem, rules, table, text, tools};

/// CPU seconds used by this process so far (user + system, from /proc): less disturbed by
/// other processes on a shared machine than wall time.
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: detector_cost DIR");
        std::process::exit(2);
    };
    let mut issues = Vec::new();
    let files = vigil_creds::walk::collect_files(&[dir.into()], &Default::default(), &mut issues);
    let mut texts = Vec::new();
    let t = Instant::now();
    let mut bytes = 0usize;
    for f in &files {
        if let Ok((d, _)) = vigil_creds::walk::read_file_bounded(f, 64 << 20) {
            bytes += d.len();
            if let Some(s) = text::decode_text(&d) {
                texts.push((f.display().to_string(), s.into_owned()));
            }
        }
    }
    println!("{} files, {} texts, {:.1} MB, read+decode {:.2}s", files.len(), texts.len(), bytes as f64 / 1e6, t.elapsed().as_secs_f64());
    let mut out = Vec::new();
    let only = std::env::args().nth(2);
    let time = |label: &str, f: &mut dyn FnMut(&str, &str)| {
        if only.as_deref().is_some_and(|o| o != label) {
            return;
        }
        let t = Instant::now();
        let c = cpu();
        for (n, s) in &texts {
            f(n, s);
        }
        println!("{label:>12}: {:.3}s wall, {:.2}s cpu", t.elapsed().as_secs_f64(), cpu() - c);
    };
    time("tools", &mut |n, s| tools::scan_admin_tools(n, s, &mut out));
    time("pem", &mut |_, s| pem::scan_private_keys(s, &mut out));
    time("rules", &mut |_, s| rules::scan_tokens(s, &mut out));
    time("keyword", &mut |_, s| keyword::scan_keywords(s, &mut out));
    time("cli", &mut |_, s| keyword::scan_command_lines(s, &mut out));
    time("table", &mut |_, s| table::scan_tables(s, &mut out));
    time("all", &mut |n, s| {
        text::scan_text(n, s);
    });
    println!("{} raw hits", out.len());
}
