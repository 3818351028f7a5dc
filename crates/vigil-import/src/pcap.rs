//! Captures of NetFlow/IPFIX export traffic: pcap and pcapng files read with `pcap-parser`, each
//! frame decoded just far enough (Ethernet/VLAN/SLL/raw IP → IPv4/IPv6 → UDP) to hand the UDP
//! payload and the exporter's address to the NetFlow decoder. Which UDP packets are exports is
//! decided by their content, not the port (exporters use 2055, 4739, 9995, 6343...).
//!
//! This is a deliberately small decoder: the workspace's `vigil-capture` crate owns full packet
//! decoding; export traffic needs only unfragmented UDP. IP fragments are counted and skipped.

use crate::ImportError;
use crate::stats::ImportStats;
use pcap_parser::{Block, PcapBlockOwned, PcapError};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use vigil_model::Timestamp;

/// pcap (either byte order, µs or ns) or pcapng magic.
pub fn is_capture(head: &[u8]) -> bool {
    matches!(
        head.get(..4),
        Some(
            [0xd4, 0xc3, 0xb2, 0xa1]
                | [0xa1, 0xb2, 0xc3, 0xd4]
                | [0x4d, 0x3c, 0xb2, 0xa1]
                | [0xa1, 0xb2, 0x3c, 0x4d]
                | [0x0a, 0x0d, 0x0d, 0x0a]
        )
    )
}

/// One UDP datagram out of a capture.
#[derive(Debug, Clone, Copy)]
pub struct Udp<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub payload: &'a [u8],
    /// When the frame was captured (the epoch when the capture does not say).
    pub ts: Timestamp,
}

/// Why a frame gave no UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotUdp {
    Truncated,
    Fragment,
    OtherProtocol,
    UnknownLinkType,
}

impl NotUdp {
    fn reason(self) -> &'static str {
        match self {
            NotUdp::Truncated => "pcap: frame truncated before UDP payload",
            NotUdp::Fragment => "pcap: IP fragment (not reassembled)",
            NotUdp::OtherProtocol => "pcap: not UDP",
            NotUdp::UnknownLinkType => "pcap: unsupported link type",
        }
    }
}

/// The big-endian 16-bit word at `at`, if the bytes are there.
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Decodes one frame of link type `linktype` down to UDP.
pub fn udp_of_frame(linktype: i32, frame: &[u8]) -> Result<Udp<'_>, NotUdp> {
    let (ethertype, l3) = match linktype {
        // Ethernet, with any number (bounded) of 802.1Q/802.1ad tags.
        1 => {
            let mut et = be16(frame, 12).ok_or(NotUdp::Truncated)?;
            let mut off = 14;
            let mut tags = 0;
            while matches!(et, 0x8100 | 0x88a8 | 0x9100) && tags < 4 {
                et = be16(frame, off + 2).ok_or(NotUdp::Truncated)?;
                off += 4;
                tags += 1;
            }
            (et, frame.get(off..).ok_or(NotUdp::Truncated)?)
        }
        // BSD loopback: 4-byte host-order address family.
        0 | 108 => {
            let fam = frame.get(..4).ok_or(NotUdp::Truncated)?;
            let af = u32::from_le_bytes([fam[0], fam[1], fam[2], fam[3]]).min(u32::from_be_bytes([fam[0], fam[1], fam[2], fam[3]]));
            (if af == 2 { 0x0800 } else { 0x86dd }, &frame[4..])
        }
        101 | 228 | 229 | 12 | 14 => {
            let v = frame.first().ok_or(NotUdp::Truncated)? >> 4;
            (if v == 4 { 0x0800 } else { 0x86dd }, frame)
        }
        113 => (be16(frame, 14).ok_or(NotUdp::Truncated)?, frame.get(16..).ok_or(NotUdp::Truncated)?),
        276 => (be16(frame, 0).ok_or(NotUdp::Truncated)?, frame.get(20..).ok_or(NotUdp::Truncated)?),
        _ => return Err(NotUdp::UnknownLinkType),
    };
    let (src, dst, l4) = match ethertype {
        0x0800 => {
            let ihl = (*l3.first().ok_or(NotUdp::Truncated)? & 0x0f) as usize * 4;
            if ihl < 20 || l3.len() < ihl {
                return Err(NotUdp::Truncated);
            }
            let frag = be16(l3, 6).ok_or(NotUdp::Truncated)?;
            if frag & 0x3fff != 0 {
                return Err(NotUdp::Fragment);
            }
            if l3[9] != 17 {
                return Err(NotUdp::OtherProtocol);
            }
            let total = be16(l3, 2).ok_or(NotUdp::Truncated)? as usize;
            let end = total.clamp(ihl, l3.len());
            let s = Ipv4Addr::new(l3[12], l3[13], l3[14], l3[15]);
            let d = Ipv4Addr::new(l3[16], l3[17], l3[18], l3[19]);
            (IpAddr::V4(s), IpAddr::V4(d), &l3[ihl..end])
        }
        0x86dd => {
            if l3.len() < 40 {
                return Err(NotUdp::Truncated);
            }
            let mut nh = l3[6];
            let s: [u8; 16] = l3[8..24].try_into().map_err(|_| NotUdp::Truncated)?;
            let d: [u8; 16] = l3[24..40].try_into().map_err(|_| NotUdp::Truncated)?;
            let plen = be16(l3, 4).ok_or(NotUdp::Truncated)? as usize;
            let mut rest = &l3[40..(40 + plen).min(l3.len())];
            // Hop-by-hop, routing, destination options: a few, bounded.
            let mut hops = 0;
            while matches!(nh, 0 | 43 | 60) && hops < 8 {
                let len = (*rest.get(1).ok_or(NotUdp::Truncated)? as usize + 1) * 8;
                nh = *rest.first().ok_or(NotUdp::Truncated)?;
                rest = rest.get(len..).ok_or(NotUdp::Truncated)?;
                hops += 1;
            }
            if nh == 44 {
                return Err(NotUdp::Fragment);
            }
            if nh != 17 {
                return Err(NotUdp::OtherProtocol);
            }
            (IpAddr::V6(Ipv6Addr::from(s)), IpAddr::V6(Ipv6Addr::from(d)), rest)
        }
        _ => return Err(NotUdp::OtherProtocol),
    };
    let sport = be16(l4, 0).ok_or(NotUdp::Truncated)?;
    let dport = be16(l4, 2).ok_or(NotUdp::Truncated)?;
    let ulen = be16(l4, 4).ok_or(NotUdp::Truncated)? as usize;
    let payload = l4.get(8..ulen.max(8).min(l4.len())).ok_or(NotUdp::Truncated)?;
    Ok(Udp { src, dst, sport, dport, payload, ts: Timestamp::default() })
}

/// Largest frame accepted; pcap-parser needs its buffer to hold a whole block.
const READ_BUFFER: usize = 1 << 20;

/// Calls `f` with every UDP datagram of a capture; frames that are not UDP are counted in
/// `stats` when `count_others` (a capture of export traffic may legitimately hold other packets).
pub fn for_each_udp(
    path: &Path,
    reader: impl Read + Send,
    stats: &mut ImportStats,
    count_others: bool,
    mut f: impl FnMut(&Udp<'_>, &mut ImportStats),
) -> Result<(), ImportError> {
    let corrupt = |reason: String| ImportError::Corrupt { path: path.display().to_string(), reason };
    let mut rdr = pcap_parser::create_reader(READ_BUFFER, reader).map_err(|e| corrupt(format!("not a capture: {e:?}")))?;
    // Per pcapng interface: link type, timestamp units per second, offset in seconds.
    let mut linktypes: Vec<(i32, u64, u64)> = Vec::new();
    let mut legacy_linktype = 1;
    let mut legacy_nanos = false;
    // Every iteration consumes a block, refills, or returns.
    loop {
        match rdr.next() {
            Ok((offset, block)) => {
                let frame: Option<(i32, &[u8], Timestamp)> = match &block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_linktype = h.network.0;
                        legacy_nanos = h.is_nanosecond_precision();
                        None
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let frac = i64::from(b.ts_usec).saturating_mul(if legacy_nanos { 1 } else { 1000 });
                        Some((
                            legacy_linktype,
                            b.data,
                            Timestamp(i64::from(b.ts_sec).saturating_mul(Timestamp::NANOS_PER_SEC).saturating_add(frac)),
                        ))
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                        linktypes.clear();
                        None
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        if linktypes.len() < 4096 {
                            let resol = idb.ts_resolution().filter(|&r| r > 0).unwrap_or(1_000_000);
                            linktypes.push((idb.linktype.0, resol, u64::try_from(idb.ts_offset()).unwrap_or(0)));
                        }
                        None
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let (lt, resol, off) = linktypes.get(epb.if_id as usize).copied().unwrap_or((-1, 1_000_000, 0));
                        Some((lt, epb.data, ng_time(epb.ts_high, epb.ts_low, resol, off)))
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        Some((linktypes.first().map_or(-1, |l| l.0), spb.data, Timestamp::default()))
                    }
                    _ => None,
                };
                if let Some((lt, data, ts)) = frame {
                    stats.records += 1;
                    match udp_of_frame(lt, data) {
                        Ok(mut u) => {
                            u.ts = ts;
                            f(&u, stats)
                        }
                        Err(e) if count_others || e != NotUdp::OtherProtocol => stats.skip(e.reason()),
                        Err(_) => {}
                    }
                }
                rdr.consume(offset);
            }
            Err(PcapError::Eof) => return Ok(()),
            Err(PcapError::Incomplete(_)) => {
                if rdr.refill().is_err() {
                    stats.skip("pcap: truncated final block");
                    return Ok(());
                }
            }
            Err(PcapError::UnexpectedEof) => {
                stats.skip("pcap: truncated final block");
                return Ok(());
            }
            Err(e) => {
                // A corrupt block in the middle: what was read so far stands.
                stats.skip("pcap: corrupt block (rest of file ignored)");
                let _ = e;
                return Ok(());
            }
        }
    }
}

/// A pcapng packet time: `units` per second since the epoch plus `offset` seconds (both from
/// the file, so every step saturates instead of overflowing).
fn ng_time(high: u32, low: u32, units: u64, offset: u64) -> Timestamp {
    let t = (u128::from(high) << 32) | u128::from(low);
    let units = u128::from(units.max(1));
    let secs = (t / units).saturating_add(u128::from(offset));
    let nanos = (t % units) * 1_000_000_000 / units;
    let ns = secs.saturating_mul(1_000_000_000).saturating_add(nanos);
    Timestamp(i64::try_from(ns).unwrap_or(i64::MAX))
}

/// Whether a capture holds NetFlow/IPFIX export traffic (looks at the first packets).
pub fn has_netflow(path: &Path) -> bool {
    has_datagrams(path, crate::netflow::looks_like_export_packet)
}

/// Whether a capture holds sFlow v5 datagrams (looks at the first packets).
pub fn has_sflow(path: &Path) -> bool {
    has_datagrams(path, crate::netflow::sflow::looks_like_sflow)
}

/// Whether one of the first 256 UDP datagrams of a capture satisfies `is_ours`.
fn has_datagrams(path: &Path, is_ours: fn(&[u8]) -> bool) -> bool {
    let Ok(r) = crate::input::open(path) else { return false };
    let mut found = false;
    let mut seen = 0;
    let mut scratch = ImportStats::default();
    // Reading stops early via the limit on the reader: 4 MB is plenty for the first packets.
    let _ = for_each_udp(path, r.take(4 << 20), &mut scratch, false, |u, _| {
        seen += 1;
        if seen <= 256 && is_ours(u.payload) {
            found = true;
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcapng_times_follow_the_interface_resolution_and_offset() {
        let t: u64 = 1_730_193_097_448_816;
        let (high, low) = ((t >> 32) as u32, t as u32);
        // Microseconds (the default), nanoseconds, and an offset in seconds.
        assert_eq!(ng_time(high, low, 1_000_000, 0), Timestamp(1_730_193_097_448_816_000));
        let ns = t * 1000;
        assert_eq!(ng_time((ns >> 32) as u32, ns as u32, 1_000_000_000, 0), Timestamp(1_730_193_097_448_816_000));
        assert_eq!(ng_time(0, 5, 1, 1_700_000_000), Timestamp::from_secs(1_700_000_005));
        // Values no clock holds saturate instead of overflowing; a zero resolution is refused
        // upstream but harmless here.
        assert_eq!(ng_time(u32::MAX, u32::MAX, 1, u64::MAX), Timestamp(i64::MAX));
        assert_eq!(ng_time(0, 7, 0, 0), Timestamp::from_secs(7));
    }
}
