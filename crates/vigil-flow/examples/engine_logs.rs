//! What `vigil conn --output DIR` does, without the CLI around it, for profiling the traffic
//! engine on its own (decode, flow table, application parsers and all five log writers):
//! `cargo run --profile perf -p vigil-flow --example engine_logs -- OUTDIR trace.pcap...`.
//! Prints the engine's counters and the process's CPU time on stderr.

use std::path::Path;
use std::time::Instant;
use vigil_flow::zeeklog::{ConnLogs, Format};
use vigil_flow::{Engine, EngineConfig};

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let Some((out, inputs)) = args.split_first() else {
        eprintln!("usage: engine_logs OUTDIR INPUT...");
        std::process::exit(2);
    };
    let started = Instant::now();
    let mut logs = match ConnLogs::create(Path::new(out), Format::Tsv) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{}: {e}", Path::new(out).display());
            std::process::exit(2);
        }
    };
    let mut engine = Engine::new(EngineConfig::default());
    let mut sink = |c: vigil_model::Conn| {
        if let Err(e) = logs.write(&c) {
            eprintln!("writing logs: {e}");
            std::process::exit(1);
        }
    };
    for input in inputs {
        if let Err(e) = engine.ingest_path(input.as_ref(), &mut sink) {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
    let stats = engine.finish(&mut sink);
    if let Err(e) = logs.finish() {
        eprintln!("writing logs: {e}");
        std::process::exit(1);
    }
    eprintln!("{stats}");
    eprintln!("wall {:.3} s", started.elapsed().as_secs_f64());
}
