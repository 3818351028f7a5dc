//! Fuzzes the capture readers (pcap, pcapng, gzip/zstd sniffing) and the decoder behind them:
//! any byte string must open or be refused cleanly, and every frame must decode without panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_capture::{CaptureFile, Decoder};

fuzz_target!(|data: &[u8]| {
    let reader = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok(mut cap) = CaptureFile::from_reader(reader, "fuzz") else { return };
    let mut dec = Decoder::new();
    // Every frame consumes input bytes, so this loop ends; the bound is a second guard.
    for _ in 0..100_000 {
        match cap.next_frame() {
            Ok(Some(frame)) => {
                let _ = dec.decode(&frame);
            }
            _ => break,
        }
    }
});
