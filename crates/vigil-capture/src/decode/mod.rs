//! L2–L4 decoding: a [`RawFrame`] in, the innermost IP packet out ([`Packet`]), after link
//! layers, tunnels and fragment reassembly.
//!
//! The decoder walks layers by offsets into one buffer: the frame's own bytes, or — once a
//! datagram has been reassembled — the decoder's reassembly buffer. Slices are only cut at the
//! end, so the hot path copies nothing and allocates nothing; only reassembly copies.

mod bytes;
mod frag;
mod ip;
pub mod link;
mod tunnel;

pub use frag::FragConfig;
pub use tunnel::{Tunnel, TunnelKind, UDP_GENEVE, UDP_GTPU, UDP_TEREDO, UDP_VXLAN};

use crate::error::DecodeError;
use crate::file::RawFrame;
use bytes::{be16, be32, u8_at};
use frag::{FragOutcome, FragTable};
use ip::{IpInfo, parse_ip};
use link::{L2Info, L3};
use std::net::IpAddr;
use vigil_model::Timestamp;

/// TCP header facts the flow table needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TcpHdr {
    /// FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80.
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    /// Header length in bytes (data offset × 4).
    pub header_len: u8,
}

impl TcpHdr {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
}

/// One decoded packet: the innermost IP packet after tunnels, reassembled if it was fragmented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub ts: Timestamp,
    pub l2_src: Option<[u8; 6]>,
    pub l2_dst: Option<[u8; 6]>,
    pub vlan: Option<u16>,
    pub inner_vlan: Option<u16>,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IANA protocol number of the innermost L4.
    pub proto: u8,
    /// IP total length from the header (IPv4 total length; IPv6 40 + payload length).
    pub ip_len: u32,
    pub ttl: u8,
    /// For ICMP/ICMPv6: sport = type, dport = code (Zeek's convention).
    pub sport: u16,
    pub dport: u16,
    pub tcp: Option<TcpHdr>,
    /// L4 payload as captured (may be shorter than `payload_len` when the snap length cut it).
    pub payload: &'a [u8],
    /// L4 payload length according to the IP header.
    pub payload_len: u32,
    /// The outermost encapsulation, when the packet was tunnelled.
    pub tunnel: Option<Tunnel>,
}

/// An owned copy of a [`Packet`], for handing packets to another thread (e.g. a flow-table shard).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedPacket {
    pub ts: Timestamp,
    pub l2_src: Option<[u8; 6]>,
    pub l2_dst: Option<[u8; 6]>,
    pub vlan: Option<u16>,
    pub inner_vlan: Option<u16>,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub ip_len: u32,
    pub ttl: u8,
    pub sport: u16,
    pub dport: u16,
    pub tcp: Option<TcpHdr>,
    pub payload: Vec<u8>,
    pub payload_len: u32,
    pub tunnel: Option<Tunnel>,
}

impl OwnedPacket {
    /// Borrows this packet as a [`Packet`].
    pub fn as_packet(&self) -> Packet<'_> {
        Packet {
            ts: self.ts,
            l2_src: self.l2_src,
            l2_dst: self.l2_dst,
            vlan: self.vlan,
            inner_vlan: self.inner_vlan,
            src: self.src,
            dst: self.dst,
            proto: self.proto,
            ip_len: self.ip_len,
            ttl: self.ttl,
            sport: self.sport,
            dport: self.dport,
            tcp: self.tcp,
            payload: &self.payload,
            payload_len: self.payload_len,
            tunnel: self.tunnel,
        }
    }
}

impl From<&Packet<'_>> for OwnedPacket {
    fn from(p: &Packet<'_>) -> Self {
        OwnedPacket {
            ts: p.ts,
            l2_src: p.l2_src,
            l2_dst: p.l2_dst,
            vlan: p.vlan,
            inner_vlan: p.inner_vlan,
            src: p.src,
            dst: p.dst,
            proto: p.proto,
            ip_len: p.ip_len,
            ttl: p.ttl,
            sport: p.sport,
            dport: p.dport,
            tcp: p.tcp,
            payload: p.payload.to_vec(),
            payload_len: p.payload_len,
            tunnel: p.tunnel,
        }
    }
}

/// Counters per outcome. `frames` = `packets` + `non_ip` + `fragments_pending` + errors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    pub frames: u64,
    /// Packets returned.
    pub packets: u64,
    /// Frames without IP (ARP, LLDP, STP...).
    pub non_ip: u64,
    /// Frames cut inside a header.
    pub truncated: u64,
    /// Frames with impossible header values.
    pub bad_header: u64,
    pub unsupported_linktype: u64,
    /// Fragments seen (each IP fragment, at any tunnel depth).
    pub fragments: u64,
    /// Frames that were a fragment and produced no packet: still waiting for the rest, or
    /// dropped (see `frag_dropped`).
    pub fragments_pending: u64,
    /// Datagrams rebuilt from fragments.
    pub reassembled: u64,
    /// Fragments dropped as invalid, inconsistent, over a cap or cut by the snap length.
    pub frag_dropped: u64,
    /// Incomplete datagrams evicted to stay within the memory caps.
    pub frag_evicted: u64,
    /// Incomplete datagrams dropped after the timeout.
    pub frag_timeouts: u64,
    /// Fragments overlapping bytes already received (earlier bytes kept).
    pub frag_overlaps: u64,
    /// Packets returned from inside a tunnel.
    pub tunnelled: u64,
    /// Tunnels whose inner packet could not be decoded (the outer packet is returned instead).
    pub tunnel_undecodable: u64,
    /// Tunnels nested deeper than the limit (the packet at the limit is returned).
    pub tunnel_too_deep: u64,
}

/// Decoder bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecoderConfig {
    pub frag: FragConfig,
    /// Encapsulations followed per packet.
    pub max_tunnel_depth: u8,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig { frag: FragConfig::default(), max_tunnel_depth: 4 }
    }
}

/// Which buffer the current layer lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    Frame,
    Reassembled,
}

/// Stateful decoder (holds fragment reassembly state). One per capture thread.
pub struct Decoder {
    cfg: DecoderConfig,
    stats: DecodeStats,
    frags: FragTable,
    /// The last reassembled datagram, which the returned packet may borrow from.
    out: Vec<u8>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("cfg", &self.cfg).field("stats", &self.stats).finish()
    }
}

/// A decoded packet with the encapsulation facts [`Packet`] leaves out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    pub packet: Packet<'a>,
    /// IP total length of the outermost (tunnel) packet, when tunnelled: what Zeek counts in the
    /// tunnel connection's `*_ip_bytes`.
    pub tunnel_ip_len: Option<u32>,
    /// Payload length of the outermost packet's L4 by its headers (the UDP payload for VXLAN,
    /// Geneve, GTP-U and Teredo; the IP payload for GRE and IP-in-IP), when tunnelled.
    pub tunnel_payload_len: Option<u32>,
    /// Encapsulations removed (0 when not tunnelled).
    pub tunnel_depth: u8,
}

/// Result of the layer walk, as offsets into the buffer `src`.
struct Found {
    src: Src,
    ip: IpInfo,
    l4: L4,
    l2: L2Info,
    tunnel: Option<Tunnel>,
    outer_ip_len: Option<u32>,
    outer_payload_len: Option<u32>,
    depth: u8,
}

/// The L4 view of the innermost packet, as offsets.
struct L4 {
    sport: u16,
    dport: u16,
    tcp: Option<TcpHdr>,
    payload_off: usize,
    payload_end: usize,
    payload_len: u32,
}

fn parse_l4(buf: &[u8], ip: &IpInfo) -> Result<L4, DecodeError> {
    let b = buf.get(..ip.l4_end).unwrap_or(buf);
    let o = ip.l4_off;
    let avail = ip.l4_end.saturating_sub(o);
    let plain = |hl: usize, sport: u16, dport: u16| L4 {
        sport,
        dport,
        tcp: None,
        payload_off: (o + hl).min(ip.l4_end),
        payload_end: ip.l4_end,
        payload_len: ip.l4_len.saturating_sub(hl as u32),
    };
    Ok(match ip.proto {
        6 => {
            if avail < 20 {
                return Err(DecodeError::Truncated("tcp"));
            }
            let hl = (u8_at(b, o + 12).unwrap_or(0) >> 4) as usize * 4;
            if hl < 20 {
                return Err(DecodeError::BadHeader("tcp"));
            }
            let tcp = TcpHdr {
                flags: u8_at(b, o + 13).unwrap_or(0),
                seq: be32(b, o + 4).unwrap_or(0),
                ack: be32(b, o + 8).unwrap_or(0),
                window: be16(b, o + 14).unwrap_or(0),
                header_len: hl as u8,
            };
            let mut l4 = plain(hl, be16(b, o).unwrap_or(0), be16(b, o + 2).unwrap_or(0));
            l4.tcp = Some(tcp);
            l4
        }
        17 | 136 => {
            if avail < 8 {
                return Err(DecodeError::Truncated("udp"));
            }
            plain(8, be16(b, o).unwrap_or(0), be16(b, o + 2).unwrap_or(0))
        }
        132 => {
            if avail < 12 {
                return Err(DecodeError::Truncated("sctp"));
            }
            plain(12, be16(b, o).unwrap_or(0), be16(b, o + 2).unwrap_or(0))
        }
        1 | 58 => {
            if avail < 2 {
                return Err(DecodeError::Truncated("icmp"));
            }
            plain(8, u8_at(b, o).unwrap_or(0) as u16, u8_at(b, o + 1).unwrap_or(0) as u16)
        }
        _ => plain(0, 0, 0),
    })
}

impl Decoder {
    pub fn new() -> Self {
        Self::with_config(DecoderConfig::default())
    }

    pub fn with_config(cfg: DecoderConfig) -> Self {
        Decoder { frags: FragTable::new(cfg.frag.clone()), cfg, stats: DecodeStats::default(), out: Vec::new() }
    }

    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// Datagrams currently waiting for more fragments.
    pub fn fragments_in_flight(&self) -> usize {
        self.frags.in_flight()
    }

    /// Bytes currently held by fragment reassembly.
    pub fn fragment_bytes(&self) -> usize {
        self.frags.buffered_bytes()
    }

    fn count_err(&mut self, e: DecodeError) -> DecodeError {
        match e {
            DecodeError::Truncated(_) => self.stats.truncated += 1,
            DecodeError::BadHeader(_) => self.stats.bad_header += 1,
            DecodeError::UnsupportedLinktype(_) => self.stats.unsupported_linktype += 1,
        }
        e
    }

    /// Decodes one frame. `Ok(None)` when the frame is not IP or is a fragment still waiting for
    /// the rest; both are counted.
    pub fn decode<'a>(&'a mut self, frame: &RawFrame<'a>) -> Result<Option<Packet<'a>>, DecodeError> {
        Ok(self.decode_full(frame)?.map(|d| d.packet))
    }

    /// Like [`Decoder::decode`], with facts about the encapsulation that [`Packet`] leaves out.
    pub fn decode_full<'a>(&'a mut self, frame: &RawFrame<'a>) -> Result<Option<Decoded<'a>>, DecodeError> {
        self.stats.frames += 1;
        match self.decode_inner(frame) {
            Ok(Some(found)) => {
                self.stats.packets += 1;
                if found.tunnel.is_some() {
                    self.stats.tunnelled += 1;
                }
                let buf: &'a [u8] = match found.src {
                    Src::Frame => frame.data,
                    Src::Reassembled => &self.out,
                };
                let (ip, l4, l2) = (found.ip, found.l4, found.l2);
                let payload = buf.get(l4.payload_off..l4.payload_end).unwrap_or(&[]);
                Ok(Some(Decoded {
                    packet: Packet {
                        ts: frame.ts,
                        l2_src: l2.src,
                        l2_dst: l2.dst,
                        vlan: l2.vlan,
                        inner_vlan: l2.inner_vlan,
                        src: ip.src,
                        dst: ip.dst,
                        proto: ip.proto,
                        ip_len: ip.ip_len,
                        ttl: ip.ttl,
                        sport: l4.sport,
                        dport: l4.dport,
                        tcp: l4.tcp,
                        payload,
                        payload_len: l4.payload_len,
                        tunnel: found.tunnel,
                    },
                    tunnel_ip_len: found.outer_ip_len,
                    tunnel_payload_len: found.outer_payload_len,
                    tunnel_depth: found.depth,
                }))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(self.count_err(e)),
        }
    }

    fn decode_inner(&mut self, frame: &RawFrame<'_>) -> Result<Option<Found>, DecodeError> {
        let mut l2 = L2Info::default();
        let (off, version) = match link::link(frame.data, frame.linktype, &mut l2)? {
            L3::Ip { off, version } => (off, version),
            L3::NotIp => {
                self.stats.non_ip += 1;
                return Ok(None);
            }
        };
        let mut src = Src::Frame;
        let mut ip = parse_ip(frame.data, off, frame.data.len(), version)?;
        let mut tunnel: Option<Tunnel> = None;
        let mut outer_ip_len = None;
        let mut outer_payload_len = None;
        let mut depth = 0u8;
        // Each round either returns or goes one tunnel deeper / swaps in a reassembled datagram;
        // both are bounded (depth, and one reassembly per depth), so the loop is bounded.
        for _ in 0..(2 * self.cfg.max_tunnel_depth as usize + 2) {
            if let Some(fr) = ip.frag {
                let outcome = match src {
                    Src::Frame => self.frags.insert(frame.ts.0, frame.data, &ip, &fr, &mut self.stats),
                    Src::Reassembled => self.frags.insert(frame.ts.0, &self.out, &ip, &fr, &mut self.stats),
                };
                match outcome {
                    FragOutcome::Complete(pkt) => {
                        self.out = pkt;
                        src = Src::Reassembled;
                        ip = parse_ip(&self.out, 0, self.out.len(), Some(if ip.v6 { 6 } else { 4 }))?;
                        if ip.frag.is_some() {
                            return Err(DecodeError::BadHeader("reassembled datagram"));
                        }
                    }
                    FragOutcome::Pending | FragOutcome::Dropped => {
                        self.stats.fragments_pending += 1;
                        return Ok(None);
                    }
                }
            }
            let buf: &[u8] = match src {
                Src::Frame => frame.data,
                Src::Reassembled => &self.out,
            };
            if let Some(inner) = tunnel::decapsulate(buf, &ip) {
                if depth >= self.cfg.max_tunnel_depth {
                    self.stats.tunnel_too_deep += 1;
                } else {
                    match parse_ip(buf, inner.off, ip.l4_end, inner.version) {
                        Ok(inner_ip) => {
                            if tunnel.is_none() {
                                tunnel = Some(inner.tunnel(&ip));
                                outer_ip_len = Some(ip.ip_len);
                                let udp = if ip.proto == 17 { 8 } else { 0 };
                                outer_payload_len = Some(ip.l4_len.saturating_sub(udp));
                            }
                            ip = inner_ip;
                            depth += 1;
                            continue;
                        }
                        Err(_) => self.stats.tunnel_undecodable += 1,
                    }
                }
            }
            let l4 = parse_l4(buf, &ip)?;
            return Ok(Some(Found { src, ip, l4, l2, tunnel, outer_ip_len, outer_payload_len, depth }));
        }
        Err(DecodeError::BadHeader("nesting"))
    }
}

/// Where a cut header ([`decode_cut`]) starts: at a link layer of a capture link type
/// ([`crate::linktype`]), or at an MPLS label stack, which has no link type of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutStart {
    Link(u32),
    Mpls,
}

/// What the first bytes of a packet say about it, read without state: see [`decode_cut`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CutHeader {
    pub l2_src: Option<[u8; 6]>,
    pub l2_dst: Option<[u8; 6]>,
    pub vlan: Option<u16>,
    pub inner_vlan: Option<u16>,
    /// The innermost IP packet's addresses and protocol, after tunnels.
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    /// The innermost IP packet's total length according to its header; 0 when an IPv4 header
    /// leaves it to segmentation offload (a total length of 0).
    pub ip_len: u32,
    /// Where the outermost IP header starts: the length of the link layers.
    pub ip_off: usize,
    /// Transport ports (ICMP: type and code), 0 when the header was cut before them or the
    /// packet is a later fragment.
    pub sport: u16,
    pub dport: u16,
    /// TCP flags, when the cut left them.
    pub tcp_flags: Option<u8>,
    /// The outermost encapsulation, when the packet was tunnelled.
    pub tunnel: Option<Tunnel>,
    /// A fragment other than the first: it carries no transport header.
    pub later_fragment: bool,
}

/// Reads the first bytes of a packet that its sender cut short (an sFlow agent samples the
/// first 64 to 256 bytes of a frame), through the same link layers (VLAN, QinQ, MPLS, PPPoE,
/// PPP), IP headers and tunnels (GRE, IP-in-IP, VXLAN, Geneve, GTP-U, Teredo) as [`Decoder`],
/// but without state and without asking for whole headers: a fragment is read as it stands
/// (ports only in the first), and a transport header cut short gives what is there. `Ok(None)`
/// when the frame is not IP; an error when the cut falls inside the IP header (or a link
/// header before it), as there are then no addresses to report. A tunnel whose inner header
/// was cut gives the outer packet.
pub fn decode_cut(buf: &[u8], start: CutStart, max_tunnel_depth: u8) -> Result<Option<CutHeader>, DecodeError> {
    let mut l2 = L2Info::default();
    let l3 = match start {
        CutStart::Link(lt) => link::link(buf, lt, &mut l2)?,
        CutStart::Mpls => link::mpls(buf, 0, &mut l2)?,
    };
    let L3::Ip { off, version } = l3 else {
        return Ok(None);
    };
    let mut ip = parse_ip(buf, off, buf.len(), version)?;
    let outer_off = off;
    let mut tunnel = None;
    for _ in 0..max_tunnel_depth {
        // A fragment's payload is not a whole inner packet.
        if ip.frag.is_some() {
            break;
        }
        let Some(inner) = tunnel::decapsulate(buf, &ip) else {
            break;
        };
        let Ok(inner_ip) = parse_ip(buf, inner.off, ip.l4_end, inner.version) else {
            break;
        };
        tunnel = tunnel.or(Some(inner.tunnel(&ip)));
        ip = inner_ip;
    }
    let later_fragment = ip.frag.is_some_and(|f| f.offset != 0);
    let (mut sport, mut dport, mut tcp_flags) = (0, 0, None);
    if !later_fragment {
        let b = buf.get(..ip.l4_end).unwrap_or(buf);
        let o = ip.l4_off;
        match ip.proto {
            6 | 17 | 136 | 132 => {
                sport = be16(b, o).unwrap_or(0);
                dport = be16(b, o + 2).unwrap_or(0);
                if ip.proto == 6 {
                    tcp_flags = u8_at(b, o + 13);
                }
            }
            // Type and code where Zeek puts them.
            1 | 58 => {
                sport = u16::from(u8_at(b, o).unwrap_or(0));
                dport = u16::from(u8_at(b, o + 1).unwrap_or(0));
            }
            _ => {}
        }
    }
    Ok(Some(CutHeader {
        l2_src: l2.src,
        l2_dst: l2.dst,
        vlan: l2.vlan,
        inner_vlan: l2.inner_vlan,
        src: ip.src,
        dst: ip.dst,
        proto: ip.proto,
        ip_len: if !ip.v6 && be16(buf, ip.off + 2) == Some(0) { 0 } else { ip.ip_len },
        ip_off: outer_off,
        sport,
        dport,
        tcp_flags,
        tunnel,
        later_fragment,
    }))
}

#[cfg(test)]
mod tests;
