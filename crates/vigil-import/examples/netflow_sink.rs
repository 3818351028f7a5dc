//! Runs Vigil's NetFlow/IPFIX [`vigil_import::Collector`] (the one `vigil watch --netflow` uses:
//! decode, stitch into `Conn`s, hand them to the consumer) and counts what arrives: the Vigil
//! side of `bench/collector.sh`.
//!
//! ```text
//! netflow_sink --listen 127.0.0.1:9995 [--idle-secs 2] [--rcvbuf BYTES] [--no-force]
//!              [--stitch-threads N]
//! ```
//!
//! Exits after `--idle-secs` without a new datagram (once the first one has arrived) and prints
//! one `key=value` line: flow records decoded, datagrams, datagrams dropped by the collector's
//! own queue and by the kernel (socket buffer full), conns handed out, the socket receive buffer
//! the kernel granted and whether SO_RCVBUFFORCE set it.

use std::time::{Duration, Instant};
use vigil_import::{Collector, CollectorConfig};

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut listen = "127.0.0.1:9995".to_string();
    let mut idle = 2.0f64;
    let mut cfg = CollectorConfig::default();
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        if k == "--no-force" {
            // Plain SO_RCVBUF, capped at net.core.rmem_max like the peers' buffers.
            cfg.force_recv_buffer = false;
            continue;
        }
        let Some(v) = it.next() else {
            eprintln!("netflow_sink: {k} needs a value");
            std::process::exit(2);
        };
        match k.as_str() {
            "--listen" => listen = v.clone(),
            "--idle-secs" => idle = v.parse().unwrap_or(2.0),
            "--rcvbuf" => cfg.recv_buffer_bytes = v.parse().unwrap_or(cfg.recv_buffer_bytes),
            // 0: one per core (the default `vigil watch` uses).
            "--stitch-threads" => cfg.stitch_threads = v.parse().unwrap_or(0),
            _ => {
                eprintln!("netflow_sink: unknown option {k}");
                std::process::exit(2);
            }
        }
    }
    let addr = match listen.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("netflow_sink: --listen {listen}: {e}");
            std::process::exit(2);
        }
    };
    let col = match Collector::bind(addr, cfg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("netflow_sink: bind {listen}: {e}");
            std::process::exit(1);
        }
    };
    // Tell the driving script we are listening.
    println!("listening={}", col.local_addr());
    let mut conns = 0u64;
    let mut last_dgrams = 0u64;
    let mut last_change = Instant::now();
    // One buffer, reused: `recv_into` builds the Conns into it on this thread.
    let mut batch = Vec::new();
    loop {
        loop {
            let n = col.recv_into(&mut batch, Duration::from_millis(100));
            if n == 0 {
                break;
            }
            conns += n as u64;
            batch.clear();
        }
        let d = col.stats().datagrams;
        if d != last_dgrams {
            last_dgrams = d;
            last_change = Instant::now();
        } else if d > 0 && last_change.elapsed().as_secs_f64() >= idle {
            break;
        }
    }
    let (rest, s) = col.shutdown();
    conns += rest.len() as u64;
    println!(
        "records={} datagrams={} dropped_queue={} kernel_drops={} conns={} template_misses={} malformed={} rcvbuf={} rcvbuf_forced={}",
        s.flow_records,
        s.datagrams,
        s.datagrams_dropped,
        s.kernel_drops,
        conns,
        s.template_misses,
        s.malformed,
        s.recv_buffer_bytes,
        s.recv_buffer_forced
    );
}
