//! Tunnel decapsulation: given an outer IP packet, find the inner IP header, if the packet is a
//! tunnel Vigil understands. GRE (checksum/key/sequence, transparent Ethernet bridging, ERSPAN
//! I/II/III, PPTP enhanced GRE with PPP, MPLS), IP-in-IP / 6in4 / 4in6, VXLAN, Geneve, GTP-U and
//! Teredo. Pure functions over the buffer; `None` means "not a tunnel (or not one carrying IP)",
//! and the caller keeps the outer packet.

use super::bytes::{be16, u8_at};
use super::ip::IpInfo;
use super::link::{self, ET_IPV4, ET_IPV6, ET_MPLS, ET_MPLS_MC, ET_TEB, L2Info, L3};
use std::net::IpAddr;

/// Kind of encapsulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    Gre,
    Vxlan,
    Geneve,
    IpInIp,
    Ip6In4,
    Ip4In6,
    Teredo,
    Gtp,
    Other,
}

/// The outer endpoints of a tunnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tunnel {
    pub kind: TunnelKind,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Outer UDP ports (0 for GRE and IP-in-IP).
    pub sport: u16,
    pub dport: u16,
    /// Outer IP protocol (47 GRE, 17 UDP, 4 IPv4, 41 IPv6).
    pub proto: u8,
}

pub const UDP_VXLAN: u16 = 4789;
pub const UDP_GENEVE: u16 = 6081;
pub const UDP_GTPU: u16 = 2152;
pub const UDP_TEREDO: u16 = 3544;

/// Where the inner packet of a tunnel starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Inner {
    pub kind: TunnelKind,
    pub off: usize,
    pub version: Option<u8>,
    pub sport: u16,
    pub dport: u16,
}

impl Inner {
    /// The tunnel this inner packet was found in, with `outer`'s endpoints.
    pub(crate) fn tunnel(&self, outer: &IpInfo) -> Tunnel {
        Tunnel { kind: self.kind, src: outer.src, dst: outer.dst, sport: self.sport, dport: self.dport, proto: outer.proto }
    }
}

/// Looks for a tunnel inside `ip` (whose bytes are in `buf`).
pub(crate) fn decapsulate(buf: &[u8], ip: &IpInfo) -> Option<Inner> {
    // Nothing past the outer packet's end belongs to the inner one.
    let buf = buf.get(..ip.l4_end)?;
    let off = ip.l4_off;
    let mk = |kind, l3: L3, sport, dport| match l3 {
        L3::Ip { off, version } => Some(Inner { kind, off, version, sport, dport }),
        L3::NotIp => None,
    };
    match ip.proto {
        4 => {
            let kind = if ip.v6 { TunnelKind::Ip4In6 } else { TunnelKind::IpInIp };
            mk(kind, L3::Ip { off, version: Some(4) }, 0, 0)
        }
        41 => {
            let kind = if ip.v6 { TunnelKind::IpInIp } else { TunnelKind::Ip6In4 };
            mk(kind, L3::Ip { off, version: Some(6) }, 0, 0)
        }
        47 => mk(TunnelKind::Gre, gre(buf, off)?, 0, 0),
        17 => {
            let sport = be16(buf, off)?;
            let dport = be16(buf, off + 2)?;
            let p = off + 8;
            if p > buf.len() {
                return None;
            }
            let (kind, l3) = if dport == UDP_VXLAN || sport == UDP_VXLAN {
                (TunnelKind::Vxlan, vxlan(buf, p)?)
            } else if dport == UDP_GENEVE || sport == UDP_GENEVE {
                (TunnelKind::Geneve, geneve(buf, p)?)
            } else if dport == UDP_GTPU || sport == UDP_GTPU {
                (TunnelKind::Gtp, gtpu(buf, p)?)
            } else if dport == UDP_TEREDO || sport == UDP_TEREDO {
                (TunnelKind::Teredo, teredo(buf, p, ip.l4_len.saturating_sub(8) as usize)?)
            } else {
                return None;
            };
            mk(kind, l3, sport, dport)
        }
        _ => None,
    }
}

/// Decodes Ethernet at `off` inside a tunnel; its addresses and tags are not reported (the
/// packet keeps the outermost link layer's).
fn inner_ethernet(buf: &[u8], off: usize) -> Option<L3> {
    let mut scratch = L2Info::default();
    link::ethernet(buf, off, &mut scratch).ok()
}

fn gre(buf: &[u8], off: usize) -> Option<L3> {
    let flags = be16(buf, off)?;
    let proto = be16(buf, off + 2)?;
    let version = flags & 0x7;
    let (c, r, k, s) = (flags & 0x8000 != 0, flags & 0x4000 != 0, flags & 0x2000 != 0, flags & 0x1000 != 0);
    let mut hl = 4usize;
    match version {
        0 => {
            if r {
                // RFC 1701 source routing: obsolete and unseen in practice.
                return None;
            }
            if c {
                hl += 4;
            }
            if k {
                hl += 4;
            }
            if s {
                hl += 4;
            }
        }
        1 => {
            // PPTP enhanced GRE (RFC 2637): key always present, optional sequence and ack.
            if !k || proto != 0x880b {
                return None;
            }
            hl += 4;
            if s {
                hl += 4;
            }
            if flags & 0x0080 != 0 {
                hl += 4;
            }
        }
        _ => return None,
    }
    let p = off + hl;
    if p > buf.len() {
        return None;
    }
    match proto {
        ET_IPV4 => Some(L3::Ip { off: p, version: Some(4) }),
        ET_IPV6 => Some(L3::Ip { off: p, version: Some(6) }),
        ET_TEB => inner_ethernet(buf, p),
        // ERSPAN type II has an 8-byte header (and sets S); type I has none.
        0x88be => inner_ethernet(buf, if s { p + 8 } else { p }),
        0x22eb => {
            // ERSPAN type III: 12 bytes, plus an 8-byte platform subheader when O is set.
            let b10 = u8_at(buf, p + 10)?;
            let b11 = u8_at(buf, p + 11)?;
            let mut q = p + 12;
            if b11 & 1 == 1 {
                q += 8;
            }
            match (b10 >> 2) & 0x1f {
                0 => inner_ethernet(buf, q),
                2 => Some(L3::Ip { off: q, version: None }),
                _ => None,
            }
        }
        0x880b => {
            let mut scratch = L2Info::default();
            link::ppp(buf, p, &mut scratch).ok()
        }
        ET_MPLS | ET_MPLS_MC => {
            let mut scratch = L2Info::default();
            link::mpls(buf, p, &mut scratch).ok()
        }
        _ => None,
    }
}

fn vxlan(buf: &[u8], p: usize) -> Option<L3> {
    let flags = u8_at(buf, p)?;
    if flags & 0x08 == 0 || buf.len() < p + 8 {
        return None;
    }
    inner_ethernet(buf, p + 8)
}

fn geneve(buf: &[u8], p: usize) -> Option<L3> {
    let b0 = u8_at(buf, p)?;
    if b0 >> 6 != 0 {
        return None;
    }
    let q = p + 8 + ((b0 & 0x3f) as usize) * 4;
    if q > buf.len() {
        return None;
    }
    match be16(buf, p + 2)? {
        ET_TEB => inner_ethernet(buf, q),
        ET_IPV4 => Some(L3::Ip { off: q, version: Some(4) }),
        ET_IPV6 => Some(L3::Ip { off: q, version: Some(6) }),
        _ => None,
    }
}

/// GTP-U (3GPP TS 29.281): only G-PDU messages carry user IP packets.
fn gtpu(buf: &[u8], p: usize) -> Option<L3> {
    let b0 = u8_at(buf, p)?;
    if b0 >> 5 != 1 || b0 & 0x10 == 0 || u8_at(buf, p + 1)? != 0xff {
        return None;
    }
    let mut q = p + 8;
    if b0 & 0x07 != 0 {
        // Sequence number, N-PDU number and next-extension type are present together.
        let mut next = u8_at(buf, p + 11)?;
        q = p + 12;
        let mut rounds = 0;
        while next != 0 {
            rounds += 1;
            if rounds > 16 {
                return None;
            }
            let units = u8_at(buf, q)? as usize;
            if units == 0 {
                return None;
            }
            q += units * 4;
            next = u8_at(buf, q.checked_sub(1)?)?;
        }
    }
    let first = u8_at(buf, q)?;
    match first >> 4 {
        4 => Some(L3::Ip { off: q, version: Some(4) }),
        6 => Some(L3::Ip { off: q, version: Some(6) }),
        _ => None,
    }
}

/// Teredo (RFC 4380): optional authentication and origin-indication headers, then IPv6. UDP on
/// port 3544 is only taken as Teredo when an IPv6 header fills the datagram exactly, so ordinary
/// traffic that happens to use the port is left alone.
fn teredo(buf: &[u8], p: usize, udp_payload_len: usize) -> Option<L3> {
    let end = p.checked_add(udp_payload_len)?;
    let mut q = p;
    if be16(buf, q)? == 0x0001 {
        let id_len = u8_at(buf, q + 2)? as usize;
        let au_len = u8_at(buf, q + 3)? as usize;
        q += 4 + id_len + au_len + 8 + 1;
    }
    if be16(buf, q)? == 0x0000 {
        q += 8;
    }
    let b0 = u8_at(buf, q)?;
    if b0 >> 4 != 6 {
        return None;
    }
    let plen = be16(buf, q + 4)? as usize;
    if q + 40 + plen != end {
        return None;
    }
    Some(L3::Ip { off: q, version: Some(6) })
}
