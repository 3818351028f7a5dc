//! Fuzzes the connection-oriented DCE-RPC parser (`vigil_proto::dcerpc`): header validation,
//! BIND/ALTER_CONTEXT contexts, BIND_ACK results, request operation numbers, PDU skipping and
//! resynchronisation after gaps. Input: segments split at 0xfe bytes; the first byte of each
//! picks the direction and whether a gap precedes it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_model::{DceRpcMeta, Timestamp};
use vigil_proto::dcerpc::{DceRpcConn, looks_like_dcerpc, parse_header};

fuzz_target!(|data: &[u8]| {
    let _ = parse_header(data);
    let _ = looks_like_dcerpc(data, true);
    let mut c = DceRpcConn::new(Some("svcctl".into()));
    let mut m = DceRpcMeta::default();
    for (i, seg) in data.split(|&b| b == 0xfe).enumerate() {
        let Some((&ctl, body)) = seg.split_first() else { continue };
        let from_client = ctl & 1 == 0;
        if ctl & 0x80 != 0 {
            c.gap(from_client);
        }
        c.feed(from_client, Timestamp(i as i64), body, &mut m);
    }
    assert!(m.binds.len() <= vigil_proto::dcerpc::MAX_BINDS && m.calls.len() <= vigil_proto::dcerpc::MAX_CALLS);
});
