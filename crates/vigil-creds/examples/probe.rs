//! Prints what the detectors report for each argument (or each line of stdin):
//! `cargo run -p vigil-creds --example probe -- 'password=x'` — a debugging aid for rules.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let inputs: Vec<String> = if args.is_empty() {
        std::io::read_to_string(std::io::stdin()).unwrap_or_default().lines().map(str::to_string).collect()
    } else {
        args
    };
    for t in inputs {
        let t = t.replace("\\n", "\n");
        let (f, _) = vigil_creds::scan_bytes("probe.txt", t.as_bytes(), &vigil_creds::ScanOptions::default());
        println!("{:?}", t.chars().take(80).collect::<String>());
        for x in f {
            println!("   line {:?} {} {:.2} {:?}", x.line, x.hit.detector, x.hit.confidence, x.hit.secret);
        }
    }
}
