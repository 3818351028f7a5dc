//! Read + decode throughput over a capture held in memory: `VIGIL_BENCH_PCAP` (default
//! /tmp/vigil-bench.pcap; `cargo run --example make_bench_pcap` builds one). Skips when absent.

use criterion::{Criterion, Throughput};
use std::hint::black_box;
use std::io::{Cursor, Read};
use std::sync::Arc;
use std::time::Duration;
use vigil_capture::{CaptureFile, Decoder};

/// Reads a shared in-memory capture without copying it per iteration.
struct Shared(Cursor<ArcBytes>);
#[derive(Clone)]
struct ArcBytes(Arc<Vec<u8>>);
impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

fn open(bytes: &ArcBytes) -> CaptureFile {
    CaptureFile::from_reader(Box::new(Shared(Cursor::new(bytes.clone()))), "bench").unwrap()
}

fn main() {
    let path = std::env::var("VIGIL_BENCH_PCAP").unwrap_or_else(|_| "/tmp/vigil-bench.pcap".to_string());
    let Ok(bytes) = std::fs::read(&path) else {
        println!("benchmark capture {path} not found; skipping (set VIGIL_BENCH_PCAP)");
        return;
    };
    let len = bytes.len() as u64;
    let bytes = ArcBytes(Arc::new(bytes));
    let mut c = Criterion::default().configure_from_args().measurement_time(Duration::from_secs(10)).sample_size(10);
    let mut g = c.benchmark_group("capture");
    g.throughput(Throughput::Bytes(len));
    g.bench_function("read", |b| {
        b.iter(|| {
            let mut cf = open(&bytes);
            let mut n = 0usize;
            while let Some(f) = cf.next_frame().unwrap() {
                n += f.data.len();
            }
            black_box(n)
        })
    });
    g.bench_function("read_decode", |b| {
        b.iter(|| {
            let mut cf = open(&bytes);
            let mut dec = Decoder::new();
            let mut n = 0u64;
            while let Some(f) = cf.next_frame().unwrap() {
                if let Ok(Some(p)) = dec.decode(&f) {
                    n += p.ip_len as u64 + p.sport as u64;
                }
            }
            black_box(n)
        })
    });
    g.finish();
    c.final_summary();
}
