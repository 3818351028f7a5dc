//! Prints the score and signals of every message under the given paths, one line each:
//! `cargo run -p vigil-mail --example scores -- PATH…` (a tuning and explanation aid).

fn main() {
    let paths: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    let a = vigil_mail::Analyzer::default();
    let _ = vigil_mail::scan_paths(&a, &paths, &mut |s| {
        if let vigil_mail::Scanned::Verdict { file, verdict, .. } = s {
            let sig: Vec<String> = verdict.signals.iter().map(|s| format!("{}={:.2}", s.name, s.weight)).collect();
            println!("{:.3}\t{}\t{}", verdict.score, file, sig.join(" "));
        }
    });
}
