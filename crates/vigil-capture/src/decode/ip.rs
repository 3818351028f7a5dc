//! IPv4 (with options) and IPv6 (with extension headers: hop-by-hop, routing, destination
//! options, fragment, AH, mobility, HIP, shim6) header parsing. Results are offsets into the
//! buffer, so the caller can re-slice whichever buffer (frame or reassembly) holds the packet.

use super::bytes::{be16, be32, u8_at};
use crate::error::DecodeError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Bound on chained IPv6 extension headers (real stacks use a handful).
const MAX_EXT_HEADERS: usize = 16;

/// Fragment facts of an IP packet that is part of a fragmented datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FragInfo {
    /// IPv4 identification (16 bits) or IPv6 fragment identification (32 bits).
    pub id: u32,
    /// Byte offset of this fragment's data in the datagram.
    pub offset: u32,
    pub more: bool,
    /// End of the unfragmentable part: the IPv4 header end, or the IPv6 fragment header start.
    pub unfrag_end: usize,
    /// IPv6: offset of the next-header byte that names the fragment header.
    pub nh_pos: usize,
}

/// One parsed IP header; all offsets are absolute in the buffer that was parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IpInfo {
    pub off: usize,
    pub v6: bool,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub ttl: u8,
    /// Total length according to the header.
    pub ip_len: u32,
    /// Start of the upper-layer header (after options / extension headers).
    pub l4_off: usize,
    /// End of the upper-layer bytes present: the IP end, cut by what was captured.
    pub l4_end: usize,
    /// Upper-layer length according to the header.
    pub l4_len: u32,
    pub frag: Option<FragInfo>,
}

/// Parses the IP header at `off`; bytes past `limit` do not belong to this packet (they are the
/// outer layer's trailer or padding). `version` is what the link layer announced, if anything.
pub(crate) fn parse_ip(buf: &[u8], off: usize, limit: usize, version: Option<u8>) -> Result<IpInfo, DecodeError> {
    let limit = limit.min(buf.len());
    let b0 = match buf.get(off) {
        Some(&b) if off < limit => b,
        _ => return Err(DecodeError::Truncated("ip")),
    };
    match (b0 >> 4, version) {
        (4, None | Some(4)) => parse_v4(buf, off, limit),
        (6, None | Some(6)) => parse_v6(buf, off, limit),
        _ => Err(DecodeError::BadHeader("ip version")),
    }
}

fn parse_v4(buf: &[u8], off: usize, limit: usize) -> Result<IpInfo, DecodeError> {
    let captured = limit - off;
    if captured < 20 {
        return Err(DecodeError::Truncated("ipv4"));
    }
    let h = &buf[off..limit];
    let ihl = ((h[0] & 0x0f) as usize) * 4;
    if ihl < 20 {
        return Err(DecodeError::BadHeader("ipv4"));
    }
    if captured < ihl {
        return Err(DecodeError::Truncated("ipv4"));
    }
    let mut total = u16::from_be_bytes([h[2], h[3]]) as usize;
    if total == 0 {
        // Segmentation offload captures the packet before the stack fills in the length.
        total = captured;
    }
    if total < ihl {
        return Err(DecodeError::BadHeader("ipv4 length"));
    }
    let id = u16::from_be_bytes([h[4], h[5]]) as u32;
    let ff = u16::from_be_bytes([h[6], h[7]]);
    let more = ff & 0x2000 != 0;
    let frag_off = ((ff & 0x1fff) as u32) * 8;
    let src = IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19]));
    let end = off + total.min(captured);
    let mut info = IpInfo {
        off,
        v6: false,
        src,
        dst,
        proto: h[9],
        ttl: h[8],
        ip_len: total as u32,
        l4_off: off + ihl,
        l4_end: end,
        l4_len: (total - ihl) as u32,
        frag: None,
    };
    if more || frag_off != 0 {
        info.frag = Some(FragInfo { id, offset: frag_off, more, unfrag_end: off + ihl, nh_pos: off + 9 });
    } else if info.proto == 51 {
        skip_ah(buf, &mut info)?;
    }
    Ok(info)
}

/// Steps over an IPv4 authentication header (its payload is plain, unlike ESP).
fn skip_ah(buf: &[u8], info: &mut IpInfo) -> Result<(), DecodeError> {
    let nh = u8_at(buf, info.l4_off).filter(|_| info.l4_off < info.l4_end).ok_or(DecodeError::Truncated("ah"))?;
    let len = (u8_at(buf, info.l4_off + 1).ok_or(DecodeError::Truncated("ah"))? as usize + 2) * 4;
    if info.l4_off + len > info.l4_end {
        return Err(DecodeError::Truncated("ah"));
    }
    info.l4_off += len;
    info.l4_len = info.l4_len.saturating_sub(len as u32);
    info.proto = nh;
    Ok(())
}

fn parse_v6(buf: &[u8], off: usize, limit: usize) -> Result<IpInfo, DecodeError> {
    let captured = limit - off;
    if captured < 40 {
        return Err(DecodeError::Truncated("ipv6"));
    }
    let h = &buf[off..off + 40];
    let plen = u16::from_be_bytes([h[4], h[5]]) as usize;
    // Payload length 0 with more than 64 KiB captured is a jumbogram or a BIG TCP offload: take
    // what was captured. Below that it really is empty (e.g. a Teredo bubble): any further bytes
    // are link-layer padding.
    let total = if plen == 0 && captured > 40 + 0xffff { captured } else { 40 + plen };
    let end = off + total.min(captured);
    let mut src = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&h[24..40]);
    let mut nh = h[6];
    let ttl = h[7];
    let mut nh_pos = off + 6;
    let mut cur = off + 40;
    let mut frag = None;
    for _ in 0..MAX_EXT_HEADERS {
        match nh {
            0 | 43 | 60 | 135 | 139 | 140 | 51 => {
                let next = u8_at(buf, cur).filter(|_| cur + 2 <= end).ok_or(DecodeError::Truncated("ipv6 ext"))?;
                let l = u8_at(buf, cur + 1).ok_or(DecodeError::Truncated("ipv6 ext"))? as usize;
                let len = if nh == 51 { (l + 2) * 4 } else { (l + 1) * 8 };
                if cur + len > end {
                    return Err(DecodeError::Truncated("ipv6 ext"));
                }
                nh_pos = cur;
                nh = next;
                cur += len;
            }
            44 => {
                if cur + 8 > end {
                    return Err(DecodeError::Truncated("ipv6 fragment"));
                }
                let next = u8_at(buf, cur).ok_or(DecodeError::Truncated("ipv6 fragment"))?;
                let fo = be16(buf, cur + 2).ok_or(DecodeError::Truncated("ipv6 fragment"))?;
                let id = be32(buf, cur + 4).ok_or(DecodeError::Truncated("ipv6 fragment"))?;
                let offset = (fo & 0xfff8) as u32;
                let more = fo & 1 == 1;
                if offset == 0 && !more {
                    // Atomic fragment (RFC 6946): a whole datagram, keep parsing.
                    nh_pos = cur;
                    nh = next;
                    cur += 8;
                    continue;
                }
                frag = Some(FragInfo { id, offset, more, unfrag_end: cur, nh_pos });
                nh = next;
                cur += 8;
                break;
            }
            _ => break,
        }
    }
    let hdrs = (cur - off) as u32;
    Ok(IpInfo {
        off,
        v6: true,
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        proto: nh,
        ttl,
        ip_len: total as u32,
        l4_off: cur,
        l4_end: end,
        l4_len: (total as u32).saturating_sub(hdrs),
        frag,
    })
}
