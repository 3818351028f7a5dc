//! Fuzzes QUIC Initial handling: long-header parsing, key derivation, header-protection
//! removal and decryption attempts, CRYPTO frame extraction and reassembly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_proto::quic::{QuicConn, crypto_frames, parse_long_header};

fuzz_target!(|data: &[u8]| {
    let _ = parse_long_header(data);
    let _ = crypto_frames(data);
    let mut q = QuicConn::new();
    // Datagrams separated by a 0xff 0xff marker, alternating direction.
    for (i, d) in data.split(|&b| b == 0xff).enumerate() {
        q.on_datagram(i % 2 == 0, d);
    }
});
