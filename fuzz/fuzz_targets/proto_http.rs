//! Fuzzes HTTP/1.x head parsing and the streaming request/response state machine (chunked and
//! length-delimited bodies, pipelining, gaps).
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_model::Timestamp;
use vigil_proto::http::{HttpConn, detect_request, parse_request_head, parse_response_head};

fuzz_target!(|data: &[u8]| {
    let _ = parse_request_head(data);
    let _ = parse_response_head(data);
    let _ = detect_request(data);
    let mut c = HttpConn::new();
    // Alternate directions at each 0x00 byte; a 0x01 byte becomes a gap.
    for (i, part) in data.split(|&b| b == 0).enumerate() {
        let from_orig = i % 2 == 0;
        for (j, chunk) in part.split(|&b| b == 1).enumerate() {
            if j > 0 {
                c.on_gap(from_orig, chunk.len() as u64);
            }
            c.feed(from_orig, Timestamp(0), chunk);
        }
    }
});
