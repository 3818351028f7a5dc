//! nfdump binary files → `Conn`, both layouts:
//! - layout 1 (nfdump 1.6): header, statistics record, data blocks of typed records; flow
//!   records (`CommonRecordType`, 10) hold the five-tuple, times, counters and TCP flags up
//!   front, with optional extensions after (skipped by the record's own size);
//! - layout 2 (nfdump 1.7): header, data blocks of V3 records made of typed elements (generic
//!   flow, IPv4/IPv6 addresses, reverse counters...); unknown elements are skipped by length.
//!
//! nfdump records are unidirectional (unless they carry reverse counters), so they go through
//! the same stitcher as NetFlow. LZO and LZ4 blocks (nfdump `-z`, `-y`) are decompressed
//! ([`crate::decompress`]); BZ2 and ZSTD are refused with a typed error naming the `nfdump`
//! command that rewrites the file uncompressed.

use crate::input;
use crate::netflow::{FlowRecord, Stitcher};
use crate::stats::ImportStats;
use crate::{ImportError, ImportOptions};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use vigil_model::{Conn, PROTO_ICMP, PROTO_ICMPV6, Timestamp};

const MAGIC: u16 = 0xA50C;
const HEADER_LEN: usize = 4 + 4 + 4 + 128;
const STAT_LEN: usize = 15 * 8 + 4 + 4 + 2 + 2 + 4;
const COMMON_RECORD: u16 = 10;

/// nfdump file magic (little-endian, as nfdump writes on x86).
pub fn is_nfdump(head: &[u8]) -> bool {
    head.len() >= 4 && u16::from_le_bytes([head[0], head[1]]) == MAGIC && matches!(u16::from_le_bytes([head[2], head[3]]), 1 | 2)
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Why a whole file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NfdumpError {
    NotNfdump,
    UnsupportedLayout(u16),
    Compressed(u32),
    Truncated,
}

impl std::fmt::Display for NfdumpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NfdumpError::NotNfdump => write!(f, "not an nfdump file"),
            NfdumpError::UnsupportedLayout(v) => write!(f, "nfdump layout version {v} is not supported (only 1)"),
            NfdumpError::Compressed(fl) => {
                write!(f, "nfdump compression {fl:#x} (BZ2/ZSTD) is not supported; rewrite uncompressed with `nfdump -r IN -w OUT`")
            }
            NfdumpError::Truncated => write!(f, "nfdump header truncated"),
        }
    }
}

/// Parses the flow records of an nfdump file (pure function over its bytes).
pub fn parse(b: &[u8], stats: &mut ImportStats, out: &mut Vec<FlowRecord>) -> Result<(), NfdumpError> {
    if !is_nfdump(b) {
        return Err(NfdumpError::NotNfdump);
    }
    let version = le16(b, 2).ok_or(NfdumpError::Truncated)?;
    if version == 2 {
        return parse_v2(b, stats, out);
    }
    if version != 1 {
        return Err(NfdumpError::UnsupportedLayout(version));
    }
    let flags = le32(b, 4).ok_or(NfdumpError::Truncated)?;
    // Bits: 0x1 LZO, 0x8 BZ2, 0x10 LZ4, 0x20 ZSTD; 0x2 (anonymised) and 0x4 (catalog) are harmless.
    let codec = match flags & (0x1 | 0x8 | 0x10 | 0x20) {
        0 => Codec::None,
        0x1 => Codec::Lzo,
        0x10 => Codec::Lz4,
        _ => return Err(NfdumpError::Compressed(flags)),
    };
    let blocks = le32(b, 8).ok_or(NfdumpError::Truncated)?;
    let mut pos = HEADER_LEN + STAT_LEN;
    if b.len() < pos {
        return Err(NfdumpError::Truncated);
    }
    // Each block advances pos by at least its 12-byte header.
    for _ in 0..blocks {
        let (Some(nrec), Some(size), Some(id)) = (le32(b, pos), le32(b, pos + 4), le16(b, pos + 8)) else {
            stats.skip("nfdump: block header truncated");
            break;
        };
        let start = pos + 12;
        let end = start.saturating_add(size as usize);
        let Some(block) = b.get(start..end) else {
            stats.skip("nfdump: block longer than the file");
            // Read what is there.
            parse_block(b.get(start..).unwrap_or(&[]), nrec, stats, out);
            break;
        };
        if id == 2 {
            match inflate(codec, block) {
                Ok(b) => parse_block(&b, nrec, stats, out),
                Err(_) => stats.skip("nfdump: block does not decompress"),
            }
        } else {
            stats.skip("nfdump: block type other than 2 skipped");
        }
        pos = end;
    }
    Ok(())
}

fn parse_block(block: &[u8], nrec: u32, stats: &mut ImportStats, out: &mut Vec<FlowRecord>) {
    let mut p = 0usize;
    for _ in 0..nrec {
        let (Some(rtype), Some(rsize)) = (le16(block, p), le16(block, p + 2)) else {
            stats.skip("nfdump: record header truncated");
            return;
        };
        let rsize = rsize as usize;
        if rsize < 4 {
            stats.skip("nfdump: record size below 4");
            return;
        }
        let Some(rec) = block.get(p..p + rsize) else {
            stats.skip("nfdump: record longer than its block");
            return;
        };
        if rtype == COMMON_RECORD {
            stats.records += 1;
            match common_record(rec) {
                Some(fr) => out.push(fr),
                None => stats.skip("nfdump: flow record truncated"),
            }
        }
        p += rsize;
    }
}

/// Layout 2: a 40-byte header (compression at 16, block count at 36), then blocks of type 3.
fn parse_v2(b: &[u8], stats: &mut ImportStats, out: &mut Vec<FlowRecord>) -> Result<(), NfdumpError> {
    let compression = *b.get(16).ok_or(NfdumpError::Truncated)?;
    let codec = match compression {
        0 => Codec::None,
        1 => Codec::Lzo,
        3 => Codec::Lz4,
        c => return Err(NfdumpError::Compressed(c as u32)),
    };
    let blocks = le32(b, 36).ok_or(NfdumpError::Truncated)?;
    let mut pos = 40usize;
    // Each block advances pos by at least its 12-byte header.
    for _ in 0..blocks {
        let (Some(nrec), Some(size), Some(id)) = (le32(b, pos), le32(b, pos + 4), le16(b, pos + 8)) else {
            stats.skip("nfdump: block header truncated");
            break;
        };
        let start = pos + 12;
        let end = start.saturating_add(size as usize);
        let block = match b.get(start..end) {
            Some(x) => x,
            None => {
                stats.skip("nfdump: block longer than the file");
                b.get(start..).unwrap_or(&[])
            }
        };
        if id == 3 {
            match inflate(codec, block) {
                Ok(b) => parse_block_v3(&b, nrec, stats, out),
                Err(_) => stats.skip("nfdump: block does not decompress"),
            }
        } else {
            stats.skip("nfdump: block type other than 3 skipped");
        }
        if end > b.len() {
            break;
        }
        pos = end;
    }
    Ok(())
}

const V3_RECORD: u16 = 11;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Codec {
    None,
    Lzo,
    Lz4,
}

/// Largest decompressed block accepted (nfdump writes at most 5 MiB blocks).
const MAX_BLOCK: usize = 16 << 20;

fn inflate(codec: Codec, block: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, crate::decompress::DecompressError> {
    Ok(match codec {
        Codec::None => std::borrow::Cow::Borrowed(block),
        Codec::Lzo => std::borrow::Cow::Owned(crate::decompress::lzo1x(block, MAX_BLOCK)?),
        Codec::Lz4 => std::borrow::Cow::Owned(crate::decompress::lz4_block(block, MAX_BLOCK)?),
    })
}

fn parse_block_v3(block: &[u8], nrec: u32, stats: &mut ImportStats, out: &mut Vec<FlowRecord>) {
    let mut p = 0usize;
    for _ in 0..nrec {
        let (Some(rtype), Some(rsize)) = (le16(block, p), le16(block, p + 2)) else {
            stats.skip("nfdump: record header truncated");
            return;
        };
        let rsize = rsize as usize;
        if rsize < 4 {
            stats.skip("nfdump: record size below 4");
            return;
        }
        let Some(rec) = block.get(p..p + rsize) else {
            stats.skip("nfdump: record longer than its block");
            return;
        };
        if rtype == V3_RECORD {
            stats.records += 1;
            match v3_record(rec) {
                Some(fr) => out.push(fr),
                None => stats.skip("nfdump: V3 record without flow or address elements"),
            }
        }
        p += rsize;
    }
}

fn v3_record(r: &[u8]) -> Option<FlowRecord> {
    let n_elems = *r.get(4)? as usize;
    let mut p = 12usize;
    let (mut generic, mut addrs, mut rev) = (None, None, None);
    // Each element advances by at least its 4-byte header; count bounded by a u8.
    for _ in 0..n_elems {
        let (Some(etype), Some(elen)) = (le16(r, p), le16(r, p + 2)) else { break };
        let elen = elen as usize;
        if elen < 4 {
            break;
        }
        let e = r.get(p..p + elen)?;
        match etype {
            1 => generic = Some(e),
            2 => addrs = Some((IpAddr::V4(Ipv4Addr::from(le32(e, 4)?)), IpAddr::V4(Ipv4Addr::from(le32(e, 8)?)))),
            3 => {
                let a = |at: usize| -> Option<Ipv6Addr> { Some(Ipv6Addr::from(((le64(e, at)? as u128) << 64) | le64(e, at + 8)? as u128)) };
                addrs = Some((IpAddr::V6(a(4)?), IpAddr::V6(a(20)?)));
            }
            5 => rev = Some((le64(e, 12)?, le64(e, 20)?)),
            _ => {}
        }
        p += elen;
    }
    let g = generic?;
    let (src, dst) = addrs?;
    let first = le64(g, 4)?;
    let last = le64(g, 12)?;
    let mut fr = FlowRecord::new(src, dst, le16(g, 44)?, le16(g, 46)?, *g.get(48)?);
    let ms = |x: u64| Timestamp(i64::try_from(x).unwrap_or(i64::MAX / 1_000_000).saturating_mul(1_000_000));
    fr.start = ms(first);
    fr.end = ms(last).max(fr.start);
    fr.packets = le64(g, 28)?;
    fr.bytes = le64(g, 36)?;
    fr.tcp_flags = *g.get(49)?;
    if let Some((rp, rb)) = rev.filter(|(p, b)| *p > 0 || *b > 0) {
        fr.biflow = true;
        fr.rev_packets = rp;
        fr.rev_bytes = rb;
    }
    if fr.proto == PROTO_ICMP || fr.proto == PROTO_ICMPV6 {
        fr.sport = fr.dport >> 8;
        fr.dport &= 0xff;
    }
    Some(fr)
}

fn common_record(r: &[u8]) -> Option<FlowRecord> {
    let flags = le16(r, 4)?;
    let msec_first = le16(r, 8)? as i64;
    let msec_last = le16(r, 10)? as i64;
    let first = le32(r, 12)? as i64;
    let last = le32(r, 16)? as i64;
    let tcp_flags = *r.get(21)?;
    let proto = *r.get(22)?;
    let sport = le16(r, 24)?;
    let dport = le16(r, 26)?;
    let mut p = 32;
    let (src, dst) = if flags & 0x1 != 0 {
        // IPv6: two u64 halves each, high half first, each little-endian.
        let addr = |at: usize| -> Option<Ipv6Addr> {
            let hi = le64(r, at)?;
            let lo = le64(r, at + 8)?;
            Some(Ipv6Addr::from(((hi as u128) << 64) | lo as u128))
        };
        let s = addr(p)?;
        let d = addr(p + 16)?;
        p += 32;
        (IpAddr::V6(s), IpAddr::V6(d))
    } else {
        let s = Ipv4Addr::from(le32(r, p)?);
        let d = Ipv4Addr::from(le32(r, p + 4)?);
        p += 8;
        (IpAddr::V4(s), IpAddr::V4(d))
    };
    let pkts = if flags & 0x2 != 0 {
        let v = le64(r, p)?;
        p += 8;
        v
    } else {
        let v = le32(r, p)? as u64;
        p += 4;
        v
    };
    let bytes = if flags & 0x4 != 0 { le64(r, p)? } else { le32(r, p)? as u64 };
    let mut fr = FlowRecord::new(src, dst, sport, dport, proto);
    fr.start = Timestamp((first * 1000 + msec_first).saturating_mul(1_000_000));
    fr.end = Timestamp((last * 1000 + msec_last).saturating_mul(1_000_000)).max(fr.start);
    fr.packets = pkts;
    fr.bytes = bytes;
    fr.tcp_flags = tcp_flags;
    if proto == PROTO_ICMP || proto == PROTO_ICMPV6 {
        // nfdump keeps type/code in the destination port as type*256+code.
        fr.sport = dport >> 8;
        fr.dport = dport & 0xff;
    }
    Some(fr)
}

/// Imports one nfdump file.
pub fn import_file(path: &Path, opts: &ImportOptions, stats: &mut ImportStats, out: &mut dyn FnMut(Conn)) -> Result<(), ImportError> {
    let bytes = input::read_all(path)?;
    let mut recs = Vec::new();
    parse(&bytes, stats, &mut recs).map_err(|e| ImportError::Corrupt { path: path.display().to_string(), reason: e.to_string() })?;
    stats.flow_records += recs.len() as u64;
    let mut st = Stitcher::new(opts.stitch_window_secs, opts.max_pending_flows);
    for r in recs {
        st.push(r, opts, stats, out);
    }
    st.finish(opts, stats, out);
    stats.file("nfdump");
    Ok(())
}
