#![no_main]
//! sFlow v5 decoding over hostile datagrams: the input is split into datagrams
//! ([len u16 BE][payload], repeated), each received one second after the last, so open flows
//! are summed, go idle and are handed out as from a real agent; the records are then stitched.
use libfuzzer_sys::fuzz_target;
use vigil_import::netflow::Stitcher;
use vigil_import::netflow::sflow::SflowDecoder;
use vigil_import::{ImportOptions, ImportStats};
use vigil_model::Timestamp;

fuzz_target!(|data: &[u8]| {
    let mut dec = SflowDecoder::new(5.0, 32);
    let opts = ImportOptions::default();
    let mut st = Stitcher::new(5.0, 64);
    let mut stats = ImportStats::default();
    let mut recs = Vec::new();
    let mut rest = data;
    let mut t = 0;
    while rest.len() >= 2 {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let end = (2 + len).min(rest.len());
        t += 1;
        dec.decode(Timestamp::from_secs(1_700_000_000 + t), &rest[2..end], &mut recs);
        rest = &rest[end..];
    }
    dec.decode(Timestamp::from_secs(1_700_000_000 + t), data, &mut recs);
    dec.finish(&mut recs);
    for r in recs {
        st.push(r, &opts, &mut stats, &mut |_| {});
    }
    st.finish(&opts, &mut stats, &mut |_| {});
});
