//! Prints Zeek's conn.log (TSV) for the captures given on the command line, and the engine's
//! counters on stderr: `cargo run -p vigil-flow --example conn_log -- trace.pcap`.

use vigil_flow::zeeklog::{self, Format, LogWriter};
use vigil_flow::{Engine, EngineConfig};

fn main() {
    let mut engine = Engine::new(EngineConfig::default());
    let mut w = LogWriter::new(std::io::stdout().lock(), &zeeklog::CONN, Format::Tsv);
    let mut sink = |c: vigil_model::Conn| {
        let _ = w.write(c.ts, &zeeklog::conn_values(&c));
    };
    for arg in std::env::args_os().skip(1) {
        if let Err(e) = engine.ingest_path(arg.as_ref(), &mut sink) {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
    let stats = engine.finish(&mut sink);
    let _ = w.finish();
    eprintln!("{stats}");
}
