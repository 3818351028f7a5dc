//! Prints one line per frame of a capture: frame number, then the decoded innermost packet
//! (source, destination, protocol, ports, IP length, payload length, tunnel kind) or the
//! reason it was not returned. Used to compare the decoder with other tools by hand.

use vigil_capture::{CaptureFile, Decoder};

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: dump_packets CAPTURE");
        std::process::exit(2);
    };
    let mut cf = match CaptureFile::open(path.as_ref()) {
        Ok(cf) => cf,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut dec = Decoder::new();
    let mut n = 0u64;
    loop {
        let f = match cf.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        };
        n += 1;
        match dec.decode(&f) {
            Ok(Some(p)) => println!(
                "{n}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:?}",
                p.src,
                p.dst,
                p.proto,
                p.sport,
                p.dport,
                p.ip_len,
                p.payload_len,
                p.tunnel.map(|t| t.kind)
            ),
            Ok(None) => println!("{n}\t-"),
            Err(e) => println!("{n}\terror: {e}"),
        }
    }
    eprintln!("{:?}\n{:?}", cf.stats(), dec.stats());
}
