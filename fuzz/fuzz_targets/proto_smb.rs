//! Fuzzes the SMB1/2/3 parser (`vigil_proto::smb::SmbConn`): NetBIOS framing, resynchronisation,
//! compound and AndX chains, trees, creates, reads/writes and the DCE-RPC it hands named-pipe
//! bytes to. Input: segments split at 0xfe bytes; the first byte of each picks the direction
//! and whether a gap precedes it. Each segment is prefixed with a NetBIOS header and an SMB2
//! signature on every other round, so the fuzzer starts inside valid framing.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_model::Timestamp;
use vigil_proto::smb::{SmbConn, find_frame, looks_like_smb};

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_smb(data);
    let _ = find_frame(data);
    let mut s = SmbConn::new();
    for (i, seg) in data.split(|&b| b == 0xfe).enumerate() {
        let Some((&c, body)) = seg.split_first() else { continue };
        let from_orig = c & 1 == 0;
        if c & 0x80 != 0 {
            s.gap(from_orig);
        }
        if c & 0x40 != 0 {
            let len = (body.len() + 4) as u32;
            let mut framed = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8, 0xfe, b'S', b'M', b'B'];
            framed.extend_from_slice(body);
            s.feed(from_orig, Timestamp(i as i64), &framed);
        } else {
            s.feed(from_orig, Timestamp(i as i64), body);
        }
    }
    let _ = s.service();
    let _ = s.finish();
});
