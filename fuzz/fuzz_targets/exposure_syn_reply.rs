#![no_main]
//! Packets read from the SYN scanner's raw socket (any IPv4 datagram on the host).
use libfuzzer_sys::fuzz_target;
use vigil_exposure::syn;

fuzz_target!(|data: &[u8]| {
    if let Some(r) = syn::parse_reply(data) {
        let _ = (r.is_syn_ack(), r.is_rst());
    }
});
