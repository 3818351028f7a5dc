//! Fuzzes `AppSession`: protocol detection and every parser behind it, fed arbitrary bytes
//! split into segments of both directions (TCP) or datagrams (UDP), with gaps.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_model::{PROTO_TCP, PROTO_UDP, Timestamp};
use vigil_proto::AppSession;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let proto = if ctl & 1 == 0 { PROTO_TCP } else { PROTO_UDP };
    let ports = [53u16, 443, 80, 22, 1080, 5353, 137, 8443, 40000];
    let orig_p = ports[usize::from(ctl >> 1) % ports.len()];
    let resp_p = ports[usize::from(ctl >> 4) % ports.len()];
    let mut s = AppSession::new(proto, orig_p, resp_p);
    // Segment boundaries at 0xfe bytes; the byte after a boundary picks direction and gaps.
    let mut from_orig = true;
    for (i, seg) in rest.split(|&b| b == 0xfe).enumerate() {
        if let Some((&c, body)) = seg.split_first().filter(|_| i > 0) {
            from_orig = c & 1 == 0;
            if c & 0x80 != 0 && proto == PROTO_TCP {
                s.on_gap(from_orig, u64::from(c & 0x7f));
            }
            s.on_data(from_orig, Timestamp(i as i64), body);
        } else {
            s.on_data(from_orig, Timestamp(i as i64), seg);
        }
        if s.done() {
            break;
        }
    }
    let _ = s.service();
    let _ = s.finish();
});
