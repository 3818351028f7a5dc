#![no_main]
//! An archive part file (Parquet) read back from hostile bytes — a damaged or tampered data
//! directory: an error or the records, never a panic. The JSON of `smb_dce_rpc` and the list
//! columns are decoded here too.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(conns) = vigil_archive::decode_part(bytes::Bytes::copy_from_slice(data), vigil_model::Timestamp(i64::MIN)) {
        for c in &conns {
            let _ = (c.ts, c.app.dns.len(), c.app.smb.is_some());
        }
    }
});
