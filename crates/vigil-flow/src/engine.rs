//! The traffic engine: capture files (or a directory of them) in order → decoder → flow table
//! → `Conn` records, with counters for everything that was skipped and an optional progress
//! callback for the CLI.

use crate::packet::{FlowPacket, TcpFields, TunnelInfo};
use crate::table::{FlowConfig, FlowTable, TableStats};
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use vigil_capture::{CaptureError, CaptureFile, Decoder, DecoderConfig, Packet, Tunnel, TunnelKind};
use vigil_model::Conn;

/// Engine settings. `Default` follows Zeek's defaults (see [`FlowConfig`]).
#[derive(Clone, Debug, Default)]
pub struct EngineConfig {
    pub flow: FlowConfig,
    pub decoder: DecoderConfig,
}

impl EngineConfig {
    pub fn max_flows(mut self, n: usize) -> Self {
        self.flow.max_flows = n.max(1);
        self
    }
    pub fn reassembly_budget(mut self, bytes: u32) -> Self {
        self.flow.reassembly_budget = bytes;
        self
    }
    /// Local networks (address, prefix length) for `local_orig`/`local_resp`.
    pub fn local_nets(mut self, nets: Vec<(std::net::IpAddr, u8)>) -> Self {
        self.flow.local_nets = nets;
        self
    }
    /// TCP, UDP and ICMP inactivity timeouts in seconds.
    pub fn timeouts(mut self, tcp: f64, udp: f64, icmp: f64) -> Self {
        self.flow.tcp_inactivity = tcp;
        self.flow.udp_inactivity = udp;
        self.flow.icmp_inactivity = icmp;
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The file (named in the message) could not be opened or is not a capture.
    #[error(transparent)]
    Capture(#[from] CaptureError),
}

/// Counters of one run. Corrupt packets are counted here, never fatal.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EngineStats {
    pub files: u64,
    pub frames: u64,
    /// Captured bytes read.
    pub bytes: u64,
    /// IP packets handed to the flow table.
    pub packets: u64,
    pub frames_not_ip: u64,
    /// Frames the decoder rejected (truncated or impossible headers, unsupported link types).
    pub decode_errors: u64,
    pub fragments_reassembled: u64,
    pub fragments_dropped: u64,
    pub tunnelled: u64,
    /// Records the capture reader had to skip or cut (damaged blocks, truncated records).
    pub truncated_records: u64,
    /// Files whose reading stopped early on an I/O error after the header.
    pub read_errors: u64,
    /// Connection records emitted.
    pub conns: u64,
    pub flows: u64,
    pub evicted: u64,
    pub expired: u64,
    pub reused: u64,
    pub peak_flows: u64,
}

impl fmt::Display for EngineStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} file(s), {} frames ({} bytes), {} IP packets, {} connections; skipped: {} not IP, {} undecodable, {} truncated/damaged records, {} read errors; flows: {} peak, {} evicted at the cap, {} timed out, {} reused; {} fragmented datagrams rebuilt ({} fragments dropped), {} tunnelled packets",
            self.files,
            self.frames,
            self.bytes,
            self.packets,
            self.conns,
            self.frames_not_ip,
            self.decode_errors,
            self.truncated_records,
            self.read_errors,
            self.peak_flows,
            self.evicted,
            self.expired,
            self.reused,
            self.fragments_reassembled,
            self.fragments_dropped,
            self.tunnelled
        )
    }
}

/// What a progress callback sees.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// The file being read.
    pub file: PathBuf,
    /// Captured bytes read so far (all files).
    pub bytes: u64,
    pub packets: u64,
    /// Flows currently held.
    pub active_flows: u64,
    /// Connection records emitted so far.
    pub conns: u64,
}

/// A progress callback.
pub type ProgressFn = Box<dyn FnMut(&Progress)>;

/// How often (in frames) the progress callback runs.
const PROGRESS_EVERY: u64 = 8192;

pub struct Engine {
    table: FlowTable,
    decoder: Decoder,
    stats: EngineStats,
    progress: Option<ProgressFn>,
    current: PathBuf,
}

impl Engine {
    pub fn new(cfg: EngineConfig) -> Self {
        Engine {
            table: FlowTable::new(cfg.flow),
            decoder: Decoder::with_config(cfg.decoder),
            stats: EngineStats::default(),
            progress: None,
            current: PathBuf::new(),
        }
    }

    pub fn set_progress(&mut self, cb: ProgressFn) {
        self.progress = Some(cb);
    }

    /// Reads one capture file or a directory of them (sorted); every finished `Conn` goes to
    /// `sink`. Errors name the file.
    pub fn ingest_path(&mut self, path: &Path, sink: &mut dyn FnMut(Conn)) -> Result<(), EngineError> {
        let files = vigil_capture::capture_files(path)?;
        for file in files {
            self.ingest_file(&file, sink)?;
        }
        Ok(())
    }

    fn ingest_file(&mut self, path: &Path, sink: &mut dyn FnMut(Conn)) -> Result<(), EngineError> {
        let cap = CaptureFile::open(path)?;
        self.ingest_capture(cap, sink);
        Ok(())
    }

    /// Reads an already-opened capture (a file, standard input, or bytes in memory) to its end.
    /// Damage inside it is counted, never fatal.
    pub fn ingest_capture(&mut self, mut cap: CaptureFile, sink: &mut dyn FnMut(Conn)) {
        self.stats.files += 1;
        self.current = cap.name().to_path_buf();
        let base = self.stats.conns;
        let emitted = std::cell::Cell::new(0u64);
        let mut counted = |c: Conn| {
            emitted.set(emitted.get() + 1);
            sink(c);
        };
        loop {
            let frame = match cap.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => {
                    self.stats.read_errors += 1;
                    break;
                }
            };
            self.stats.frames += 1;
            self.stats.bytes += frame.data.len() as u64;
            if let Ok(Some(pkt)) = self.decoder.decode(&frame) {
                self.stats.packets += 1;
                let fp = flow_packet(&pkt);
                self.table.process(&fp, &mut counted);
            }
            if self.stats.frames.is_multiple_of(PROGRESS_EVERY)
                && let Some(cb) = self.progress.as_mut()
            {
                cb(&Progress {
                    file: self.current.clone(),
                    bytes: self.stats.bytes,
                    packets: self.stats.packets,
                    active_flows: self.table.len() as u64,
                    conns: base + emitted.get(),
                });
            }
        }
        self.stats.conns = base + emitted.get();
        let cs = cap.stats();
        self.stats.truncated_records += cs.truncated_records + cs.bad_blocks;
    }

    /// One already-decoded packet (live capture and tests).
    pub fn process_packet(&mut self, pkt: &Packet<'_>, sink: &mut dyn FnMut(Conn)) {
        self.stats.packets += 1;
        let fp = flow_packet(pkt);
        let conns = &mut self.stats.conns;
        self.table.process(&fp, &mut |c| {
            *conns += 1;
            sink(c)
        });
    }

    /// One packet from a non-pcap source or a test.
    pub fn process_flow_packet(&mut self, pkt: &FlowPacket<'_>, sink: &mut dyn FnMut(Conn)) {
        self.stats.packets += 1;
        let conns = &mut self.stats.conns;
        self.table.process(pkt, &mut |c| {
            *conns += 1;
            sink(c)
        });
    }

    /// Flushes every open flow (marked `open` where not closed) and returns the counters.
    pub fn finish(mut self, sink: &mut dyn FnMut(Conn)) -> EngineStats {
        let conns = &mut self.stats.conns;
        self.table.flush(&mut |c| {
            *conns += 1;
            sink(c)
        });
        let d = self.decoder.stats();
        let mut s = self.stats;
        s.frames_not_ip = d.non_ip;
        s.decode_errors = d.truncated + d.bad_header + d.unsupported_linktype;
        s.fragments_reassembled = d.reassembled;
        s.fragments_dropped = d.frag_dropped + d.frag_evicted + d.frag_timeouts;
        s.tunnelled = d.tunnelled;
        let TableStats { flows, evicted, expired, reused, peak_flows, .. } = self.table.stats;
        s.flows = flows;
        s.evicted = evicted;
        s.expired = expired;
        s.reused = reused;
        s.peak_flows = peak_flows;
        s
    }
}

/// Converts the decoder's packet into the flow table's view.
pub fn flow_packet<'a>(p: &Packet<'a>) -> FlowPacket<'a> {
    FlowPacket {
        ts: p.ts,
        src: p.src,
        dst: p.dst,
        proto: p.proto,
        sport: p.sport,
        dport: p.dport,
        ip_len: p.ip_len,
        tcp: p.tcp.map(|t| TcpFields { flags: t.flags, seq: t.seq, ack: t.ack, window: t.window }),
        payload: p.payload,
        payload_len: p.payload_len,
        l2_src: p.l2_src,
        l2_dst: p.l2_dst,
        vlan: p.vlan,
        inner_vlan: p.inner_vlan,
        tunnel: p.tunnel.map(|t| tunnel_info(&t, p.ip_len)),
    }
}

/// The decoder reports the outer endpoints of a tunnel but not its lengths, so the outer UDP
/// connection's sizes are rebuilt from the inner packet plus the fixed encapsulation overhead
/// of each kind (outer IP + UDP + tunnel header, + inner Ethernet for VXLAN/Geneve; options
/// such as Geneve TLVs are not visible here).
fn tunnel_info(t: &Tunnel, inner_ip_len: u32) -> TunnelInfo {
    let ip_hdr = match t.src {
        IpAddr::V4(_) => 20,
        IpAddr::V6(_) => 40,
    };
    let (tunnel_hdr, service) = match t.kind {
        TunnelKind::Vxlan => (8 + 14, Some("vxlan")),
        TunnelKind::Geneve => (8 + 14, Some("geneve")),
        TunnelKind::Gtp => (8, Some("gtpv1")),
        TunnelKind::Teredo => (0, Some("teredo")),
        _ => (0, None),
    };
    let udp_payload = inner_ip_len.saturating_add(tunnel_hdr);
    TunnelInfo {
        src: t.src,
        dst: t.dst,
        proto: t.proto,
        sport: t.sport,
        dport: t.dport,
        outer_ip_len: udp_payload.saturating_add(ip_hdr + 8),
        outer_payload_len: udp_payload,
        service,
    }
}
