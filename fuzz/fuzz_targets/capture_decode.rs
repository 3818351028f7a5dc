//! Fuzzes the L2–L4 decoder: the first two bytes pick a link type, the rest is the frame. The
//! decoder keeps fragment state across frames, so the input is also split into several frames
//! to exercise reassembly. The stateless cut-header reader (sFlow's sampled headers) reads the
//! same bytes from the link type and from an MPLS label stack.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_capture::{CutStart, Decoder, RawFrame, Timestamp, decode_cut};

const LINKTYPES: [u32; 19] = [0, 1, 9, 12, 14, 50, 101, 104, 108, 113, 228, 229, 239, 276, 105, 127, 192, 258, 147];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let linktype = LINKTYPES[sel as usize % LINKTYPES.len()];
    let mut dec = Decoder::new();
    // The whole input as one frame, then split on 0xFF 0xFF markers as a frame sequence.
    let whole = RawFrame { ts: Timestamp(0), linktype, data: rest, orig_len: rest.len() as u32, interface: 0 };
    let _ = dec.decode(&whole);
    for start in [CutStart::Link(linktype), CutStart::Mpls] {
        if let Ok(Some(h)) = decode_cut(rest, start, 4) {
            assert!(h.ip_off <= rest.len());
        }
    }
    for (i, chunk) in rest.split(|&b| b == 0xff).enumerate().take(256) {
        let f = RawFrame { ts: Timestamp(i as i64 * 1_000_000), linktype, data: chunk, orig_len: chunk.len() as u32, interface: 0 };
        if let Ok(Some(p)) = dec.decode(&f) {
            assert!(p.payload.len() <= f.data.len() + 65_535);
        }
    }
});
