#![no_main]
//! NetFlow v5/v9/IPFIX decoding and stitching over hostile datagrams: the input is split into
//! datagrams on a 0xFFFF marker-free scheme (first byte = exporter index, rest = payload), so
//! template state carries across datagrams as from a real exporter.
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};
use vigil_import::netflow::{Decoder, DecoderConfig, Stitcher};
use vigil_import::{ImportOptions, ImportStats};

fuzz_target!(|data: &[u8]| {
    let cfg = DecoderConfig { max_templates_per_domain: 32, max_buffered_sets: 16, ..Default::default() };
    let mut dec = Decoder::new(cfg);
    let opts = ImportOptions::default();
    let mut st = Stitcher::new(60.0, 64);
    let mut stats = ImportStats::default();
    let mut recs = Vec::new();
    // Datagrams: [exporter byte][len u16 BE][payload], repeated.
    let mut rest = data;
    while rest.len() >= 3 {
        let exporter = IpAddr::V4(Ipv4Addr::new(192, 0, 2, rest[0] & 3));
        let len = u16::from_be_bytes([rest[1], rest[2]]) as usize;
        let end = (3 + len).min(rest.len());
        dec.decode(exporter, &rest[3..end], &mut recs);
        rest = &rest[end..];
    }
    dec.decode_stream(IpAddr::V4(Ipv4Addr::UNSPECIFIED), data, &mut recs);
    recs.extend(dec.take_replayed());
    dec.finish();
    for r in recs {
        st.push(r, &opts, &mut stats, &mut |_| {});
    }
    st.finish(&opts, &mut stats, &mut |_| {});
    let _ = vigil_import::netflow::looks_like_export_packet(data);
    let mut out = Vec::new();
    let _ = vigil_import::nfdump::parse(data, &mut stats, &mut out);
});
