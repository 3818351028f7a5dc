//! NetFlow v5/v9/IPFIX and sFlow v5 ([`sflow`]) → `Conn`. Export datagrams (from raw payload files, pcaps of export
//! traffic, or the live [`crate::Collector`]) are decoded into unidirectional or biflow
//! [`FlowRecord`]s by [`Decoder`]; [`Stitcher`] pairs A→B with B→A records inside a time window
//! into one bidirectional `Conn` (the earlier record's source is the originator), so detectors see
//! the same shape as from a pcap. NetFlow carries no payload: `Conn.app` stays empty and
//! `orig_bytes`/`resp_bytes` are unknown (`None`); IP-layer byte counts go to `*_ip_bytes`.

mod decode;
pub mod sflow;
mod stitch;

pub use decode::{Decoder, DecoderConfig, DecoderStats, looks_like_export_packet};
pub use stitch::{ConnRec, FlowHasher, PairOut, Stitcher};

use crate::stats::ImportStats;
use crate::{Format, ImportError, ImportOptions, input, pcap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use vigil_model::{Conn, Timestamp};

/// One flow record as exported (one direction, or both when the exporter sends biflows).
#[derive(Clone, Debug, PartialEq)]
pub struct FlowRecord {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub start: Timestamp,
    pub end: Timestamp,
    /// Counts after sampling correction.
    pub packets: u64,
    pub bytes: u64,
    pub tcp_flags: u8,
    /// Reverse direction (RFC 5103 reverse IEs, or initiator/responder counters).
    pub biflow: bool,
    pub rev_packets: u64,
    pub rev_bytes: u64,
    pub rev_tcp_flags: u8,
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
    pub vlan: Option<u16>,
    pub inner_vlan: Option<u16>,
    /// Sampling rate applied (1 = unsampled).
    pub sampling: u32,
}

impl FlowRecord {
    pub fn new(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, proto: u8) -> Self {
        FlowRecord {
            src,
            dst,
            sport,
            dport,
            proto,
            start: Timestamp::default(),
            end: Timestamp::default(),
            packets: 0,
            bytes: 0,
            tcp_flags: 0,
            biflow: false,
            rev_packets: 0,
            rev_bytes: 0,
            rev_tcp_flags: 0,
            src_mac: None,
            dst_mac: None,
            vlan: None,
            inner_vlan: None,
            sampling: 1,
        }
    }
}

fn copy_decoder_stats(d: &DecoderStats, before: &DecoderStats, stats: &mut ImportStats) {
    stats.export_packets += d.packets - before.packets;
    stats.flow_records += d.records - before.records;
    stats.templates += d.templates - before.templates;
    stats.options_records += d.options_records - before.options_records;
    stats.template_misses += d.template_misses - before.template_misses;
    stats.dropped += (d.dropped_packets - before.dropped_packets) + (d.templates_dropped - before.templates_dropped);
    stats.skip_n("netflow: malformed packet", d.malformed_packets - before.malformed_packets);
    stats.skip_n("netflow: malformed or truncated set", d.malformed_sets - before.malformed_sets);
    stats.skip_n("netflow: malformed template", d.malformed_templates - before.malformed_templates);
    stats.skip_n("netflow: template dropped (per-domain cap)", d.templates_dropped - before.templates_dropped);
    stats.skip_n("netflow: data record without addresses", d.records_without_addresses - before.records_without_addresses);
    stats.skip_n("netflow: template expired", d.templates_expired - before.templates_expired);
    let unknown = d.unknown_fields - before.unknown_fields;
    if unknown > 0 {
        // Not a skip: the records decode, these fields' bytes are stepped over.
        *stats.warnings.entry("netflow: template fields not interpreted (unknown or enterprise IEs)".to_string()).or_insert(0) += unknown;
    }
}

/// Counts a file read, or records why it was skipped; the error of a lone file is the
/// import's.
fn file_done(
    fmt: Format,
    f: &std::path::Path,
    single: bool,
    r: Result<(), ImportError>,
    stats: &mut ImportStats,
) -> Result<(), ImportError> {
    match r {
        Ok(()) => stats.file(fmt.as_str()),
        Err(e) if single => return Err(e),
        Err(e) => {
            stats.files_skipped.insert(f.display().to_string(), e.to_string());
        }
    }
    Ok(())
}

/// Imports pcaps of sFlow v5 export traffic: every sample timed by its frame, summed per flow
/// ([`sflow::SflowDecoder`], idle time the stitch window), then stitched as NetFlow records are.
pub fn import_sflow_pcaps(
    files: &[PathBuf],
    opts: &ImportOptions,
    stats: &mut ImportStats,
    out: &mut dyn FnMut(Conn),
) -> Result<(), ImportError> {
    let mut dec = sflow::SflowDecoder::new(opts.stitch_window_secs, opts.max_pending_flows);
    let mut st = Stitcher::new(opts.stitch_window_secs, opts.max_pending_flows);
    let mut recs = Vec::new();
    let single = files.len() == 1;
    for f in files {
        let r = input::open(f).and_then(|rd| {
            pcap::for_each_udp(f, rd, stats, false, |u, _| {
                if sflow::looks_like_sflow(u.payload) {
                    dec.decode(u.ts, u.payload, &mut recs);
                }
            })
        });
        file_done(Format::SflowPcap, f, single, r, stats)?;
        for r in recs.drain(..) {
            st.push(r, opts, stats, out);
        }
    }
    dec.finish(&mut recs);
    for r in recs.drain(..) {
        st.push(r, opts, stats, out);
    }
    st.finish(opts, stats, out);
    let s = &dec.stats;
    stats.export_packets += s.datagrams;
    stats.flow_records += s.records;
    stats.skip_n("sflow: malformed datagram or sample", s.malformed);
    stats.skip_n("sflow: sampled frame without IP addresses", s.samples_without_ip);
    if s.flushed_at_cap > 0 {
        *stats.warnings.entry("sflow: open flows handed out early (table full)".to_string()).or_insert(0) += s.flushed_at_cap;
    }
    Ok(())
}

/// Imports raw export-datagram files or pcaps of export traffic. All files given share one
/// decoder (templates announced in one file serve data in another, as when a directory holds a
/// template capture and a data capture of the same exporter) and one stitcher.
///
/// Raw payload files carry no exporter address: all of them are treated as coming from one
/// exporter (`0.0.0.0`), keyed further by observation domain / source id.
pub fn import_files(
    fmt: Format,
    files: &[PathBuf],
    opts: &ImportOptions,
    stats: &mut ImportStats,
    out: &mut dyn FnMut(Conn),
) -> Result<(), ImportError> {
    let mut dec = Decoder::new(opts.netflow.clone());
    let mut st = Stitcher::new(opts.stitch_window_secs, opts.max_pending_flows);
    let before = dec.stats.clone();
    let mut recs = Vec::new();
    let single = files.len() == 1;
    for f in files {
        let r = match fmt {
            Format::NetflowPcap => input::open(f).and_then(|rd| {
                pcap::for_each_udp(f, rd, stats, false, |u, _| {
                    if looks_like_export_packet(u.payload) {
                        dec.decode(u.src, u.payload, &mut recs);
                    }
                })
            }),
            _ => input::read_all(f).map(|bytes| {
                stats.records += 1;
                dec.decode_stream(IpAddr::V4(Ipv4Addr::UNSPECIFIED), &bytes, &mut recs)
            }),
        };
        file_done(fmt, f, single, r, stats)?;
        recs.append(&mut dec.take_replayed());
        for r in recs.drain(..) {
            st.push(r, opts, stats, out);
        }
    }
    dec.finish();
    st.finish(opts, stats, out);
    copy_decoder_stats(&dec.stats, &before, stats);
    Ok(())
}
