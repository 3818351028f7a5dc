#![no_main]
//! `vigil hunt`'s sort runs (zstd-compressed, length-prefixed postcard records behind a magic and a count) read
//! back from hostile bytes: an error or the records, never a panic, a hang or an allocation of
//! what a header claims.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut n = 0u64;
    if let Ok(count) = vigil_archive::spill::read_run(data, |c| {
        n += 1;
        // Records must be whole: the sort key of each can be computed.
        let _ = (c.ts, c.uid.len());
    }) {
        assert_eq!(count, n);
    }
    // The same bytes compressed, so the fuzzer reaches the record decoder directly.
    if let Ok(z) = zstd::stream::encode_all(data, 1) {
        let _ = vigil_archive::spill::read_run(&z, |_| {});
    }
});
