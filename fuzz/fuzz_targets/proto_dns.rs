//! Fuzzes DNS message parsing (name compression, record rendering) and transaction pairing
//! over UDP messages and TCP framing.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_model::Timestamp;
use vigil_proto::dns::{DnsTracker, looks_like_dns, parse_message};

fuzz_target!(|data: &[u8]| {
    let _ = parse_message(data);
    let _ = looks_like_dns(data, true);
    let mut t = DnsTracker::new();
    t.on_message(Timestamp(0), data);
    t.on_message(Timestamp(1), data);
    let mut tcp = DnsTracker::netbios();
    let split = data.len() / 2;
    tcp.on_tcp(true, Timestamp(0), &data[..split]);
    tcp.on_tcp(true, Timestamp(0), &data[split..]);
    tcp.on_tcp(false, Timestamp(0), data);
});
