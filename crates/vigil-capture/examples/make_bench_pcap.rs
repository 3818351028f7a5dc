//! Builds a benchmark capture: every Ethernet frame of the given captures (files or folders),
//! repeated until the output reaches the requested size, with steadily increasing timestamps.
//! `make_bench_pcap OUT.pcap SIZE_MB INPUT...`

use std::io::BufWriter;
use vigil_capture::{CaptureFile, PcapWriter, RawFrame, Timestamp, capture_files, linktype};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, size, inputs @ ..] = args.as_slice() else {
        eprintln!("usage: make_bench_pcap OUT.pcap SIZE_MB INPUT...");
        std::process::exit(2);
    };
    let target: u64 = size.parse::<u64>()? << 20;
    let mut frames = Vec::new();
    for input in inputs {
        for path in capture_files(input.as_ref())? {
            let Ok(mut cf) = CaptureFile::open(&path) else {
                continue;
            };
            while let Ok(Some(f)) = cf.next_frame() {
                if f.linktype == linktype::ETHERNET {
                    frames.push(f.data.to_vec());
                }
            }
        }
    }
    if frames.is_empty() {
        return Err("no Ethernet frames found".into());
    }
    let mut w = PcapWriter::new(BufWriter::new(std::fs::File::create(out)?), linktype::ETHERNET, 0)?;
    let (mut written, mut ts) = (0u64, Timestamp::from_secs(1_700_000_000));
    'outer: loop {
        for data in &frames {
            w.write_frame(&RawFrame { ts, linktype: linktype::ETHERNET, data, orig_len: data.len() as u32, interface: 0 })?;
            written += 16 + data.len() as u64;
            ts = Timestamp(ts.0 + 10_000);
            if written >= target {
                break 'outer;
            }
        }
    }
    println!("{} frames, {} bytes", w.frames(), written);
    w.finish()?;
    Ok(())
}
