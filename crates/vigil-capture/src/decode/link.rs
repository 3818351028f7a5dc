//! Link layers: from a frame's first byte to the start of its IP header. Ethernet II and 802.3
//! LLC/SNAP, 802.1Q/802.1ad tags at any depth, MPLS label stacks (with Ethernet pseudowires),
//! PPPoE sessions, PPP, Cisco HDLC, Linux SLL/SLL2, NFLOG, BSD loopback and raw IP.
//! Every layer is walked by one bounded loop, so nesting (QinQ in MPLS in a pseudowire...) costs
//! no recursion and cannot run away.

use super::bytes::{be16, mac_at, u8_at};
use crate::error::DecodeError;

/// Link types (LINKTYPE_* values in capture files).
pub mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const PPP: u32 = 9;
    pub const RAW_BSD12: u32 = 12;
    pub const RAW_BSD14: u32 = 14;
    pub const PPP_HDLC: u32 = 50;
    pub const RAW: u32 = 101;
    pub const C_HDLC: u32 = 104;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const NFLOG: u32 = 239;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
    pub const IEEE802_11: u32 = 105;
    pub const IEEE802_11_RADIOTAP: u32 = 127;
    pub const PPI: u32 = 192;
    pub const PKTAP: u32 = 258;
}

pub(crate) const ET_IPV4: u16 = 0x0800;
pub(crate) const ET_IPV6: u16 = 0x86dd;
pub(crate) const ET_TEB: u16 = 0x6558;
const ET_VLAN: u16 = 0x8100;
const ET_QINQ: u16 = 0x88a8;
const ET_QINQ_OLD1: u16 = 0x9100;
const ET_QINQ_OLD2: u16 = 0x9200;
const ET_QINQ_OLD3: u16 = 0x9300;
pub(crate) const ET_MPLS: u16 = 0x8847;
pub(crate) const ET_MPLS_MC: u16 = 0x8848;
const ET_PPPOE_SESSION: u16 = 0x8864;

/// Bound on nested link headers (tags, labels, pseudowires) in one frame.
const MAX_L2_STEPS: usize = 32;

/// Outermost link-layer facts reported with the packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct L2Info {
    pub src: Option<[u8; 6]>,
    pub dst: Option<[u8; 6]>,
    pub vlan: Option<u16>,
    pub inner_vlan: Option<u16>,
}

/// Where the network layer starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum L3 {
    /// An IP header at `off`; `version` when the link layer said which (else guess by nibble).
    Ip { off: usize, version: Option<u8> },
    /// ARP, LLDP, STP and every other non-IP payload.
    NotIp,
}

enum Step {
    Eth(usize),
    Type(usize, u16),
    Mpls(usize),
    Ppp(usize),
}

/// Decodes the link layer of a frame of the given link type.
pub(crate) fn link(buf: &[u8], lt: u32, l2: &mut L2Info) -> Result<L3, DecodeError> {
    use linktype::*;
    let first = match lt {
        ETHERNET => Step::Eth(0),
        RAW | RAW_BSD12 | RAW_BSD14 => {
            return Ok(L3::Ip { off: 0, version: None });
        }
        IPV4 => {
            return Ok(L3::Ip { off: 0, version: Some(4) });
        }
        IPV6 => {
            return Ok(L3::Ip { off: 0, version: Some(6) });
        }
        NULL | LOOP => return null_loopback(buf),
        LINUX_SLL => {
            if buf.len() < 16 {
                return Err(DecodeError::Truncated("sll"));
            }
            if be16(buf, 4) == Some(6) {
                l2.src = mac_at(buf, 6);
            }
            sll_protocol(buf, 16, be16(buf, 14).unwrap_or(0))
        }
        LINUX_SLL2 => {
            if buf.len() < 20 {
                return Err(DecodeError::Truncated("sll2"));
            }
            if u8_at(buf, 11) == Some(6) {
                l2.src = mac_at(buf, 12);
            }
            sll_protocol(buf, 20, be16(buf, 0).unwrap_or(0))
        }
        NFLOG => return nflog(buf),
        IEEE802_11 => return wifi(buf, 0, l2),
        IEEE802_11_RADIOTAP => {
            // Radiotap: version 0, then a little-endian header length.
            let len = le16(buf, 2).ok_or(DecodeError::Truncated("radiotap"))? as usize;
            if u8_at(buf, 0) != Some(0) || len < 8 {
                return Err(DecodeError::BadHeader("radiotap"));
            }
            return wifi(buf, len, l2);
        }
        PPI => {
            let len = le16(buf, 2).ok_or(DecodeError::Truncated("ppi"))? as usize;
            let dlt = le32(buf, 4).ok_or(DecodeError::Truncated("ppi"))?;
            if len < 8 {
                return Err(DecodeError::BadHeader("ppi"));
            }
            return match dlt {
                IEEE802_11 => wifi(buf, len, l2),
                ETHERNET => walk(buf, Step::Eth(len), l2),
                other => Err(DecodeError::UnsupportedLinktype(other)),
            };
        }
        PKTAP => {
            // Apple's PKTAP: little-endian header length and the inner link type.
            let len = le32(buf, 0).ok_or(DecodeError::Truncated("pktap"))? as usize;
            let dlt = le32(buf, 4).ok_or(DecodeError::Truncated("pktap"))?;
            if len < 8 || len > buf.len() {
                return Err(DecodeError::BadHeader("pktap"));
            }
            return match dlt {
                ETHERNET => walk(buf, Step::Eth(len), l2),
                RAW | RAW_BSD12 | RAW_BSD14 => Ok(L3::Ip { off: len, version: None }),
                NULL | LOOP => {
                    let inner = buf.get(len..).unwrap_or(&[]);
                    Ok(match null_loopback(inner)? {
                        L3::Ip { off, version } => L3::Ip { off: off + len, version },
                        L3::NotIp => L3::NotIp,
                    })
                }
                other => Err(DecodeError::UnsupportedLinktype(other)),
            };
        }
        PPP | PPP_HDLC => Step::Ppp(0),
        C_HDLC => {
            let et = be16(buf, 2).ok_or(DecodeError::Truncated("chdlc"))?;
            Step::Type(4, et)
        }
        other => return Err(DecodeError::UnsupportedLinktype(other)),
    };
    walk(buf, first, l2)
}

/// Decodes an Ethernet frame starting at `off` (used for tunnelled Ethernet too).
pub(crate) fn ethernet(buf: &[u8], off: usize, l2: &mut L2Info) -> Result<L3, DecodeError> {
    walk(buf, Step::Eth(off), l2)
}

/// Decodes what follows an MPLS label stack at `off`.
pub(crate) fn mpls(buf: &[u8], off: usize, l2: &mut L2Info) -> Result<L3, DecodeError> {
    walk(buf, Step::Mpls(off), l2)
}

/// Decodes a PPP frame (optional HDLC address/control, 1- or 2-byte protocol) at `off`.
pub(crate) fn ppp(buf: &[u8], off: usize, l2: &mut L2Info) -> Result<L3, DecodeError> {
    walk(buf, Step::Ppp(off), l2)
}

/// SLL protocol field: an EtherType, or one of the Linux pseudo types for 802.2/802.3 frames.
fn sll_protocol(_buf: &[u8], off: usize, proto: u16) -> Step {
    match proto {
        // ETH_P_802_2: an LLC header follows, handled as an 802.3 length would be.
        0x0004 => Step::Type(off, 0),
        _ => Step::Type(off, proto),
    }
}

fn walk(buf: &[u8], mut step: Step, l2: &mut L2Info) -> Result<L3, DecodeError> {
    for _ in 0..MAX_L2_STEPS {
        step = match step {
            Step::Eth(off) => {
                let et = be16(buf, off + 12).ok_or(DecodeError::Truncated("ethernet"))?;
                // Only the outermost Ethernet header fills the addresses.
                if l2.dst.is_none() {
                    l2.dst = mac_at(buf, off);
                    l2.src = mac_at(buf, off + 6);
                }
                Step::Type(off + 14, et)
            }
            Step::Type(off, et) => match et {
                ET_IPV4 => {
                    return Ok(L3::Ip { off, version: Some(4) });
                }
                ET_IPV6 => {
                    return Ok(L3::Ip { off, version: Some(6) });
                }
                ET_VLAN | ET_QINQ | ET_QINQ_OLD1 | ET_QINQ_OLD2 | ET_QINQ_OLD3 => {
                    let tci = be16(buf, off).ok_or(DecodeError::Truncated("vlan"))?;
                    let next = be16(buf, off + 2).ok_or(DecodeError::Truncated("vlan"))?;
                    let id = tci & 0x0fff;
                    if l2.vlan.is_none() {
                        l2.vlan = Some(id);
                    } else if l2.inner_vlan.is_none() {
                        l2.inner_vlan = Some(id);
                    }
                    Step::Type(off + 4, next)
                }
                ET_MPLS | ET_MPLS_MC => Step::Mpls(off),
                ET_PPPOE_SESSION => {
                    let vt = u8_at(buf, off).ok_or(DecodeError::Truncated("pppoe"))?;
                    if vt != 0x11 {
                        return Err(DecodeError::BadHeader("pppoe"));
                    }
                    Step::Ppp(off + 6)
                }
                0..=1500 => {
                    // 802.3 length field: only LLC/SNAP carries an EtherType onward.
                    let dsap = u8_at(buf, off).ok_or(DecodeError::Truncated("llc"))?;
                    let ssap = u8_at(buf, off + 1).ok_or(DecodeError::Truncated("llc"))?;
                    let ctl = u8_at(buf, off + 2).ok_or(DecodeError::Truncated("llc"))?;
                    if dsap == 0xaa && ssap == 0xaa && ctl == 0x03 {
                        let et = be16(buf, off + 6).ok_or(DecodeError::Truncated("snap"))?;
                        Step::Type(off + 8, et)
                    } else {
                        return Ok(L3::NotIp);
                    }
                }
                _ => return Ok(L3::NotIp),
            },
            Step::Mpls(mut off) => {
                // Walk the label stack to the bottom-of-stack bit.
                let mut bottom = false;
                for _ in 0..MAX_L2_STEPS {
                    let b2 = u8_at(buf, off + 2).ok_or(DecodeError::Truncated("mpls"))?;
                    if buf.len() < off + 4 {
                        return Err(DecodeError::Truncated("mpls"));
                    }
                    off += 4;
                    if b2 & 1 == 1 {
                        bottom = true;
                        break;
                    }
                }
                if !bottom {
                    return Err(DecodeError::BadHeader("mpls"));
                }
                // MPLS does not say what it carries: guess from the first nibble, as routers'
                // load balancers and Zeek do. 0 is the pseudowire control word before Ethernet.
                let first = u8_at(buf, off).ok_or(DecodeError::Truncated("mpls"))?;
                match first >> 4 {
                    4 => {
                        return Ok(L3::Ip { off, version: Some(4) });
                    }
                    6 => {
                        return Ok(L3::Ip { off, version: Some(6) });
                    }
                    0 => Step::Eth(off + 4),
                    _ => return Ok(L3::NotIp),
                }
            }
            Step::Ppp(mut off) => {
                if be16(buf, off) == Some(0xff03) {
                    off += 2;
                }
                let b0 = u8_at(buf, off).ok_or(DecodeError::Truncated("ppp"))?;
                // Protocol-field compression: an odd first byte is a one-byte protocol.
                let (proto, len) = if b0 & 1 == 1 { (b0 as u16, 1) } else { (be16(buf, off).ok_or(DecodeError::Truncated("ppp"))?, 2) };
                return Ok(match proto {
                    0x0021 => L3::Ip { off: off + len, version: Some(4) },
                    0x0057 => L3::Ip { off: off + len, version: Some(6) },
                    _ => L3::NotIp,
                });
            }
        };
    }
    Err(DecodeError::BadHeader("link layer nesting"))
}

fn le16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off + 2)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn le32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// IEEE 802.11 at `off`: only unprotected data frames carry IP (behind LLC/SNAP); management,
/// control and encrypted frames are not IP to Vigil.
fn wifi(buf: &[u8], off: usize, l2: &mut L2Info) -> Result<L3, DecodeError> {
    let fc0 = u8_at(buf, off).ok_or(DecodeError::Truncated("802.11"))?;
    let fc1 = u8_at(buf, off + 1).ok_or(DecodeError::Truncated("802.11"))?;
    let ftype = (fc0 >> 2) & 0x3;
    let subtype = fc0 >> 4;
    if fc0 & 0x3 != 0 || ftype != 2 || subtype & 0x4 != 0 || fc1 & 0x40 != 0 {
        // Not version 0, not data, a null-data subtype, or protected.
        return Ok(L3::NotIp);
    }
    let (to_ds, from_ds) = (fc1 & 0x01 != 0, fc1 & 0x02 != 0);
    let mut hl = if to_ds && from_ds { 30 } else { 24 };
    if subtype & 0x8 != 0 {
        hl += 2; // QoS control
        if fc1 & 0x80 != 0 {
            hl += 4; // HT control (order bit on QoS data)
        }
    }
    // Addresses: 1 = receiver, 2 = transmitter, 3 = the other end, depending on the DS bits.
    let (dst, src) = match (to_ds, from_ds) {
        (false, false) => (4, 10),
        (true, false) => (16, 10),
        (false, true) => (4, 16),
        (true, true) => (16, 24),
    };
    if buf.len() < off + hl {
        return Err(DecodeError::Truncated("802.11"));
    }
    if l2.dst.is_none() {
        l2.dst = mac_at(buf, off + dst);
        l2.src = mac_at(buf, off + src);
    }
    walk(buf, Step::Type(off + hl, 0), l2)
}

/// BSD loopback: a 4-byte address family in the writer's byte order (LINKTYPE_NULL) or network
/// order (LINKTYPE_LOOP). Either order is accepted: families are small numbers.
fn null_loopback(buf: &[u8]) -> Result<L3, DecodeError> {
    let s = buf.get(0..4).ok_or(DecodeError::Truncated("loopback"))?;
    let le = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    let fam = if le > 0xffff { le.swap_bytes() } else { le };
    Ok(match fam {
        2 => L3::Ip { off: 4, version: Some(4) },
        // AF_INET6 differs per OS: Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30.
        10 | 24 | 28 | 30 => L3::Ip { off: 4, version: Some(6) },
        _ => L3::NotIp,
    })
}

/// NFLOG: a 4-byte header, then TLVs (little-endian length/type in practice); type 9 holds the
/// packet, starting with its IP header.
fn nflog(buf: &[u8]) -> Result<L3, DecodeError> {
    let family = u8_at(buf, 0).ok_or(DecodeError::Truncated("nflog"))?;
    if u8_at(buf, 1) != Some(0) {
        return Err(DecodeError::BadHeader("nflog"));
    }
    let version = match family {
        2 => Some(4),
        10 => Some(6),
        _ => None,
    };
    let mut off = 4usize;
    // Each TLV is at least 4 bytes, so the loop ends within buf.len() / 4 rounds.
    while let Some(s) = buf.get(off..off + 4) {
        let len = u16::from_le_bytes([s[0], s[1]]) as usize;
        let typ = u16::from_le_bytes([s[2], s[3]]) & 0x7fff;
        if len < 4 {
            return Err(DecodeError::BadHeader("nflog tlv"));
        }
        if typ == 9 {
            if version.is_none() {
                return Ok(L3::NotIp);
            }
            return Ok(L3::Ip { off: off + 4, version });
        }
        off += len.div_ceil(4) * 4;
    }
    Ok(L3::NotIp)
}
