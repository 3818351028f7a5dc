//! Fuzzes SSH banner and KEXINIT parsing and the HASSH computation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_proto::ssh::{SshConn, parse_kexinit};

fuzz_target!(|data: &[u8]| {
    let _ = parse_kexinit(data);
    let mut s = SshConn::new();
    let split = data.len() / 3;
    s.feed(true, &data[..split]);
    s.feed(false, &data[split..]);
    s.feed(true, &data[split..]);
    let _ = s.meta();
});
