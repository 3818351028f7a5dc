//! IPv4 and IPv6 fragment reassembly with hard bounds.
//!
//! Fragments are keyed by (source, destination, identification[, protocol]) with the std keyed
//! hasher, since the keys are attacker-chosen. Memory is bounded three ways: a cap on datagrams
//! in flight, a cap on buffered bytes (oldest datagrams are evicted first), and a cap on
//! fragments per datagram; datagrams older than the timeout (in event time) are dropped.
//! Overlaps keep the bytes that arrived first (the choice of BSD-derived stacks and Zeek) and are
//! counted, since differing overlaps are an evasion signal.

use super::DecodeStats;
use super::ip::{FragInfo, IpInfo};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Largest reassembled payload: the IP length fields are 16 bits.
const MAX_DATAGRAM: u32 = 65_535;

/// Bounds of the reassembly table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragConfig {
    /// Datagrams being reassembled at once; the oldest is evicted beyond this.
    pub max_datagrams: usize,
    /// Bytes buffered across all datagrams; the oldest are evicted beyond this.
    pub max_bytes: usize,
    /// Fragments accepted for one datagram before it is dropped.
    pub max_fragments_per_datagram: u16,
    /// Event-time nanoseconds after the first fragment when an incomplete datagram is dropped.
    pub timeout_ns: i64,
}

impl Default for FragConfig {
    fn default() -> Self {
        FragConfig { max_datagrams: 4096, max_bytes: 32 << 20, max_fragments_per_datagram: 256, timeout_ns: 60 * 1_000_000_000 }
    }
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    /// IPv4 keys include the protocol (RFC 791); IPv6 keys do not (it is in the first fragment).
    proto: u8,
}

struct Datagram {
    first_seen: i64,
    generation: u64,
    /// Unfragmentable part (IP header, IPv6 headers before the fragment header) of fragment 0.
    header: Vec<u8>,
    /// Position in `header` of the byte naming the next protocol.
    nh_rel: usize,
    /// Protocol after the fragment header (IPv6) or of the datagram (IPv4).
    next_proto: u8,
    v6: bool,
    data: Vec<u8>,
    /// Received byte ranges, sorted and merged.
    ranges: Vec<(u32, u32)>,
    total: Option<u32>,
    frags: u16,
}

impl Datagram {
    fn cost(&self) -> usize {
        self.data.len() + self.header.len()
    }
}

/// What became of one fragment.
pub(crate) enum FragOutcome {
    /// Stored; the datagram is still incomplete.
    Pending,
    /// The datagram is complete: a whole, unfragmented IP packet.
    Complete(Vec<u8>),
    /// The fragment (and possibly its datagram) was discarded; already counted.
    Dropped,
}

pub(crate) struct FragTable {
    cfg: FragConfig,
    map: HashMap<Key, Datagram>,
    /// Datagrams by age; entries whose generation no longer matches the map are stale.
    order: VecDeque<(u64, Key)>,
    bytes: usize,
    next_gen: u64,
}

impl FragTable {
    pub(crate) fn new(cfg: FragConfig) -> Self {
        FragTable { cfg, map: HashMap::new(), order: VecDeque::new(), bytes: 0, next_gen: 0 }
    }

    /// Datagrams currently held.
    pub(crate) fn in_flight(&self) -> usize {
        self.map.len()
    }

    /// Bytes currently buffered.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    fn remove(&mut self, key: &Key) -> Option<Datagram> {
        let d = self.map.remove(key)?;
        self.bytes = self.bytes.saturating_sub(d.cost());
        Some(d)
    }

    /// Drops the oldest live datagram; false when none is left.
    fn evict_oldest(&mut self, stats: &mut DecodeStats) -> bool {
        while let Some((generation, key)) = self.order.pop_front() {
            if self.map.get(&key).is_some_and(|d| d.generation == generation) {
                self.remove(&key);
                stats.frag_evicted += 1;
                return true;
            }
        }
        false
    }

    fn expire(&mut self, now: i64, stats: &mut DecodeStats) {
        while let Some(&(generation, key)) = self.order.front() {
            match self.map.get(&key) {
                Some(d) if d.generation == generation => {
                    if now.saturating_sub(d.first_seen) > self.cfg.timeout_ns {
                        self.remove(&key);
                        stats.frag_timeouts += 1;
                        self.order.pop_front();
                    } else {
                        break;
                    }
                }
                _ => {
                    self.order.pop_front();
                }
            }
        }
        // Completed datagrams leave stale entries behind; compact so the queue stays bounded.
        if self.order.len() > 2 * self.cfg.max_datagrams.max(16) {
            let map = &self.map;
            self.order.retain(|(generation, key)| map.get(key).is_some_and(|d| d.generation == *generation));
        }
    }

    fn drop_datagram(&mut self, key: &Key, stats: &mut DecodeStats) -> FragOutcome {
        self.remove(key);
        stats.frag_dropped += 1;
        FragOutcome::Dropped
    }

    /// Adds one fragment (the IP packet `ip` with fragment facts `frag`, inside `buf`).
    pub(crate) fn insert(&mut self, now: i64, buf: &[u8], ip: &IpInfo, frag: &FragInfo, stats: &mut DecodeStats) -> FragOutcome {
        stats.fragments += 1;
        self.expire(now, stats);
        let start = frag.offset;
        let Some(payload) = buf.get(ip.l4_off..ip.l4_off.saturating_add(ip.l4_len as usize)) else {
            // Cut by the snap length: the datagram could never be rebuilt faithfully.
            stats.frag_dropped += 1;
            return FragOutcome::Dropped;
        };
        if ip.l4_off + payload.len() > ip.l4_end {
            stats.frag_dropped += 1;
            return FragOutcome::Dropped;
        }
        let len = payload.len() as u32;
        let end = start.saturating_add(len);
        if end > MAX_DATAGRAM {
            stats.frag_dropped += 1;
            return FragOutcome::Dropped;
        }
        let key = Key { src: ip.src, dst: ip.dst, id: frag.id, proto: if ip.v6 { 0 } else { ip.proto } };
        if !self.map.contains_key(&key) {
            while self.map.len() >= self.cfg.max_datagrams.max(1) {
                if !self.evict_oldest(stats) {
                    break;
                }
            }
            let generation = self.next_gen;
            self.next_gen += 1;
            self.map.insert(
                key,
                Datagram {
                    first_seen: now,
                    generation,
                    header: Vec::new(),
                    nh_rel: 0,
                    next_proto: 0,
                    v6: ip.v6,
                    data: Vec::new(),
                    ranges: Vec::new(),
                    total: None,
                    frags: 0,
                },
            );
            self.order.push_back((generation, key));
        }
        // Make room for the bytes this fragment may add, evicting older datagrams.
        let growth = self.map.get(&key).map_or(0, |d| {
            let hdr = if start == 0 && d.header.is_empty() { frag.unfrag_end.saturating_sub(ip.off) } else { 0 };
            (end as usize).saturating_sub(d.data.len()) + hdr
        });
        while self.bytes + growth > self.cfg.max_bytes {
            let oldest_is_self = self.order.front().is_some_and(|(_, k)| *k == key);
            if oldest_is_self || !self.evict_oldest(stats) {
                return self.drop_datagram(&key, stats);
            }
        }
        let Some(d) = self.map.get_mut(&key) else {
            stats.frag_dropped += 1;
            return FragOutcome::Dropped;
        };
        d.frags = d.frags.saturating_add(1);
        let too_many = d.frags > self.cfg.max_fragments_per_datagram;
        let inconsistent = if frag.more {
            d.total.is_some_and(|t| end > t)
        } else {
            d.total.is_some_and(|t| t != end) || d.ranges.last().is_some_and(|r| r.1 > end)
        };
        if too_many || inconsistent || d.v6 != ip.v6 {
            return self.drop_datagram(&key, stats);
        }
        if !frag.more {
            d.total = Some(end);
        }
        if start == 0 && d.header.is_empty() {
            match buf.get(ip.off..frag.unfrag_end) {
                Some(h) if frag.nh_pos >= ip.off && frag.nh_pos - ip.off < h.len() => {
                    d.header = h.to_vec();
                    d.nh_rel = frag.nh_pos - ip.off;
                    d.next_proto = ip.proto;
                    self.bytes += h.len();
                }
                _ => return self.drop_datagram(&key, stats),
            }
        }
        if d.data.len() < end as usize {
            self.bytes += end as usize - d.data.len();
            d.data.resize(end as usize, 0);
        }
        // Copy only the gaps: earlier bytes win on overlap.
        let mut pos = start;
        let mut overlapped = false;
        for &(rs, re) in &d.ranges {
            if re <= pos {
                continue;
            }
            if rs >= end {
                break;
            }
            if rs > pos {
                copy_part(&mut d.data, payload, start, pos, rs.min(end));
            }
            overlapped = true;
            pos = pos.max(re);
            if pos >= end {
                break;
            }
        }
        if pos < end {
            copy_part(&mut d.data, payload, start, pos, end);
        }
        if overlapped && len > 0 {
            stats.frag_overlaps += 1;
        }
        if len > 0 {
            merge_range(&mut d.ranges, (start, end));
        }
        let complete = match (d.total, d.ranges.as_slice()) {
            (Some(t), [(0, e)]) => *e == t && !d.header.is_empty(),
            (Some(0), []) => !d.header.is_empty(),
            _ => false,
        };
        if !complete {
            return FragOutcome::Pending;
        }
        let Some(d) = self.remove(&key) else {
            return FragOutcome::Dropped;
        };
        match rebuild(d) {
            Some(pkt) => {
                stats.reassembled += 1;
                FragOutcome::Complete(pkt)
            }
            None => {
                stats.frag_dropped += 1;
                FragOutcome::Dropped
            }
        }
    }
}

/// Copies datagram bytes [from, to) out of a fragment whose data starts at datagram offset `base`.
fn copy_part(data: &mut [u8], payload: &[u8], base: u32, from: u32, to: u32) {
    let (a, b) = ((from - base) as usize, (to - base) as usize);
    if let (Some(dst), Some(src)) = (data.get_mut(from as usize..to as usize), payload.get(a..b)) {
        dst.copy_from_slice(src);
    }
}

fn merge_range(ranges: &mut Vec<(u32, u32)>, r: (u32, u32)) {
    let (mut s, mut e) = r;
    // Absorb every range that touches the new one, then insert in order.
    ranges.retain(|&(rs, re)| {
        if re < s || rs > e {
            true
        } else {
            s = s.min(rs);
            e = e.max(re);
            false
        }
    });
    let at = ranges.partition_point(|&(rs, _)| rs < s);
    ranges.insert(at, (s, e));
}

/// Turns a complete datagram back into one unfragmented IP packet.
fn rebuild(d: Datagram) -> Option<Vec<u8>> {
    let total = d.total? as usize;
    let mut out = d.header;
    let payload = d.data.get(..total)?;
    if d.v6 {
        let plen = out.len().checked_sub(40)? + total;
        if plen > MAX_DATAGRAM as usize {
            return None;
        }
        *out.get_mut(d.nh_rel)? = d.next_proto;
        out.get_mut(4..6)?.copy_from_slice(&(plen as u16).to_be_bytes());
    } else {
        let tl = out.len() + total;
        if tl > MAX_DATAGRAM as usize {
            return None;
        }
        out.get_mut(2..4)?.copy_from_slice(&(tl as u16).to_be_bytes());
        // Keep DF, clear MF and the offset.
        let ff = u16::from_be_bytes([*out.get(6)?, *out.get(7)?]) & 0x4000;
        out.get_mut(6..8)?.copy_from_slice(&ff.to_be_bytes());
    }
    out.extend_from_slice(payload);
    Some(out)
}
