//! Imports a path and prints the counters (and with `-v` every Conn as JSON): a debugging aid.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "-v");
    for a in args.iter().filter(|a| *a != "-v") {
        let p = std::path::Path::new(a);
        println!("== {a}: {:?}", vigil_import::sniff(p));
        let mut n = 0u64;
        let r = vigil_import::import_path(
            p,
            &mut |c| {
                n += 1;
                if verbose {
                    use std::io::Write;
                    let _ = writeln!(std::io::stdout(), "{}", serde_json::to_string(&c).unwrap_or_default());
                }
            },
            &mut |f| {
                if verbose {
                    use std::io::Write;
                    let _ = writeln!(std::io::stdout(), "FINDING {}", serde_json::to_string(&f).unwrap_or_default());
                }
            },
        );
        match r {
            Ok(s) => print!("{s}"),
            Err(e) => println!("error: {e}"),
        }
    }
}
