#![no_main]
//! Arbitrary packet sequences through the flow table and the Zeek writers
//! (`vigil_flow::script::run_packet_script`).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vigil_flow::script::run_packet_script(data);
});
