//! Reads and decodes a capture once, printing frames, bytes and elapsed time; run it under
//! `perf stat` on a busy machine to see CPU time rather than wall time.
//! `capture_throughput CAPTURE [read|decode]`

use std::time::Instant;
use vigil_capture::{CaptureFile, Decoder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: throughput CAPTURE [read|decode]")?;
    let decode = std::env::args().nth(2).as_deref() != Some("read");
    let t0 = Instant::now();
    let mut cf = CaptureFile::open(path.as_ref())?;
    let mut dec = Decoder::new();
    let (mut bytes, mut sum) = (0u64, 0u64);
    while let Some(f) = cf.next_frame()? {
        bytes += f.data.len() as u64;
        if decode && let Ok(Some(p)) = dec.decode(&f) {
            sum = sum.wrapping_add(p.ip_len as u64 + p.sport as u64);
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{} frames, {} bytes in {secs:.3}s wall: {:.2} Gbit/s (checksum {sum})",
        cf.stats().frames,
        bytes,
        bytes as f64 * 8.0 / secs / 1e9
    );
    Ok(())
}
