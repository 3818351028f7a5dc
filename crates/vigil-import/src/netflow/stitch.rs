//! Stitching unidirectional flow records into bidirectional connections: a record A→B waits (in
//! a bounded map, for at most the stitch window of flow time) for its reverse B→A; the pair
//! becomes one `Conn` whose originator is the side that started first. Unmatched records become
//! one-sided `Conn`s. Biflow records are complete already.

use super::FlowRecord;
use crate::stats::ImportStats;
use crate::util::{community_id, conn_state_from_flags, history_from_flags, stable_uid};
use crate::ImportOptions;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::net::IpAddr;
use vigil_model::{Conn, Source, Timestamp};

type Key = (IpAddr, u16, IpAddr, u16, u8);

/// A key with its keyed hash (SipHash, random per process, so flow tuples chosen by an attacker
/// cannot be made to collide) computed once. The hash ignores direction (see [`sym_hash`]), so
/// a record's key and its reverse share one hash computation, and the map operations after it
/// only read the stored value; equality still compares the directed key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HKey {
    hash: u64,
    key: Key,
}

impl Hash for HKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

use crate::util::Prehashed;

type PendingMap = HashMap<HKey, (u64, FlowRecord), BuildHasherDefault<Prehashed>>;

/// The keyed hash of a key's endpoints as an unordered pair: equal for a key and its reverse
/// (for ICMP too, whose reverse key swaps only the addresses), hashed as fixed-width words.
fn sym_hash(h: &RandomState, k: &Key) -> u64 {
    let bits = |a: IpAddr| match a {
        IpAddr::V4(v4) => u128::from(u32::from(v4)) | (1u128 << 127),
        IpAddr::V6(v6) => u128::from(v6),
    };
    let (a, b) = (bits(k.0), bits(k.2));
    let ports = (u64::from(k.1.min(k.3)) << 32) | (u64::from(k.1.max(k.3)) << 8) | u64::from(k.4);
    h.hash_one((a.min(b), a.max(b), ports))
}

/// ICMP carries type/code instead of ports: a request and its reply (echo 8/0, timestamp
/// 13/14, ICMPv6 echo 128/129, neighbour solicitation 135/136...) share one key, the smaller
/// type of the pair; other messages keep their own type.
fn icmp_pair(proto: u8, t: u16) -> u16 {
    let pairs: &[(u16, u16)] = match proto {
        vigil_model::PROTO_ICMP => &[(0, 8), (13, 14), (15, 16), (17, 18), (9, 10)],
        vigil_model::PROTO_ICMPV6 => &[(128, 129), (133, 134), (135, 136), (130, 131)],
        _ => return t,
    };
    pairs.iter().find(|(a, b)| t == *a || t == *b).map_or(t, |(a, _)| *a)
}

/// The record's own key and the key its reverse direction would have.
fn keys(r: &FlowRecord) -> (Key, Key) {
    if r.proto == vigil_model::PROTO_ICMP || r.proto == vigil_model::PROTO_ICMPV6 {
        let k = icmp_pair(r.proto, r.sport);
        ((r.src, k, r.dst, 0, r.proto), (r.dst, k, r.src, 0, r.proto))
    } else {
        ((r.src, r.sport, r.dst, r.dport, r.proto), (r.dst, r.dport, r.src, r.sport, r.proto))
    }
}

/// Pairs opposite-direction flow records into connections.
pub struct Stitcher {
    window_ns: i64,
    max_pending: usize,
    pending: PendingMap,
    /// Insertion order for expiry: (end time, key, sequence number).
    order: VecDeque<(Timestamp, HKey, u64)>,
    seq: u64,
    watermark: Timestamp,
    hasher: RandomState,
}

impl Stitcher {
    pub fn new(window_secs: f64, max_pending: usize) -> Self {
        let w = if window_secs.is_finite() && window_secs > 0.0 { (window_secs * 1e9) as i64 } else { 0 };
        Stitcher {
            window_ns: w,
            max_pending,
            pending: PendingMap::default(),
            order: VecDeque::new(),
            seq: 0,
            watermark: Timestamp::default(),
            hasher: RandomState::new(),
        }
    }

    /// Takes one flow record; emits any connection it completes or that has expired.
    pub fn push(&mut self, r: FlowRecord, opts: &ImportOptions, stats: &mut ImportStats, out: &mut dyn FnMut(Conn)) {
        if r.end > self.watermark {
            self.watermark = r.end;
        }
        if r.biflow || self.max_pending == 0 || self.window_ns == 0 {
            emit(conn_from_pair(&r, None, opts), stats, out);
        } else {
            let (key, rev) = keys(&r);
            let hash = sym_hash(&self.hasher, &key);
            let (key, rev) = (HKey { hash, key }, HKey { hash, key: rev });
            let matched = match self.pending.get(&rev) {
                Some((_, p)) => (r.start.0 as i128 - p.start.0 as i128).abs() <= self.window_ns as i128 || overlaps(p, &r),
                None => false,
            };
            if matched {
                if let Some((_, p)) = self.pending.remove(&rev) {
                    stats.flows_stitched += 2;
                    let (a, b) = if originator_first(&p, &r) { (p, r) } else { (r, p) };
                    emit(conn_from_pair(&a, Some(&b), opts), stats, out);
                }
            } else {
                self.seq += 1;
                let end = r.end;
                if let Some((_, old)) = self.pending.insert(key, (self.seq, r)) {
                    // A newer record of the same direction: the old one waited long enough.
                    emit(conn_from_pair(&old, None, opts), stats, out);
                }
                self.order.push_back((end, key, self.seq));
            }
        }
        self.expire(opts, stats, out);
    }

    fn expire(&mut self, opts: &ImportOptions, stats: &mut ImportStats, out: &mut dyn FnMut(Conn)) {
        // Each iteration pops one entry.
        while let Some(&(end, key, seq)) = self.order.front() {
            let expired = end.0.saturating_add(self.window_ns) < self.watermark.0;
            let over = self.pending.len() > self.max_pending;
            let stale = self.pending.get(&key).is_none_or(|(s, _)| *s != seq);
            if !(expired || over || stale) {
                break;
            }
            self.order.pop_front();
            if stale {
                continue;
            }
            if let Some((_, r)) = self.pending.remove(&key) {
                emit(conn_from_pair(&r, None, opts), stats, out);
            }
        }
        // Bound the order queue too (stale entries of replaced keys).
        if self.order.len() > self.max_pending.saturating_mul(2).max(1024) {
            let live: &PendingMap = &self.pending;
            self.order.retain(|(_, k, s)| live.get(k).is_some_and(|(x, _)| x == s));
        }
    }

    /// Records waiting for their reverse direction.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Moves flow time forward to `now` (a live feed's idle tick), releasing records whose
    /// reverse direction can no longer arrive within the window.
    pub fn advance(&mut self, now: Timestamp, opts: &ImportOptions, stats: &mut ImportStats, out: &mut dyn FnMut(Conn)) {
        if now > self.watermark {
            self.watermark = now;
        }
        self.expire(opts, stats, out);
    }

    /// Emits every record still waiting, oldest first.
    pub fn finish(&mut self, opts: &ImportOptions, stats: &mut ImportStats, out: &mut dyn FnMut(Conn)) {
        let mut rest: Vec<(u64, FlowRecord)> = self.pending.drain().map(|(_, v)| v).collect();
        rest.sort_by(|a, b| a.1.start.cmp(&b.1.start).then(a.0.cmp(&b.0)));
        for (_, r) in rest {
            emit(conn_from_pair(&r, None, opts), stats, out);
        }
        self.order.clear();
    }
}

fn overlaps(a: &FlowRecord, b: &FlowRecord) -> bool {
    a.start <= b.end && b.start <= a.end
}

/// Whether `a` (rather than `b`) is the originator: it started first; on a tie, the side
/// talking to the lower (service) port.
fn originator_first(a: &FlowRecord, b: &FlowRecord) -> bool {
    if a.start != b.start {
        return a.start < b.start;
    }
    a.dport <= b.dport
}

fn emit(c: Conn, stats: &mut ImportStats, out: &mut dyn FnMut(Conn)) {
    stats.conns += 1;
    out(c);
}

/// One `Conn` from a record and, optionally, its reverse record.
pub fn conn_from_pair(a: &FlowRecord, b: Option<&FlowRecord>, opts: &ImportOptions) -> Conn {
    let mut c = Conn::new(a.start, a.src, a.sport, a.dst, a.dport, a.proto);
    c.source = Source::Netflow;
    let (rp, rb, rf, end) = match b {
        Some(b) => (b.packets, b.bytes, b.tcp_flags, a.end.max(b.end)),
        None => (a.rev_packets, a.rev_bytes, a.rev_tcp_flags, a.end),
    };
    let start = match b {
        Some(b) => a.start.min(b.start),
        None => a.start,
    };
    c.ts = start;
    c.duration = Some(crate::util::secs_between(end, start).max(0.0));
    c.orig_pkts = a.packets;
    c.orig_ip_bytes = a.bytes;
    c.resp_pkts = rp;
    c.resp_ip_bytes = rb;
    c.conn_state = conn_state_from_flags(a.proto, a.tcp_flags, rf, rp);
    c.history = if a.proto == vigil_model::PROTO_TCP { history_from_flags(a.tcp_flags, rf, a.packets, rp) } else { String::new() };
    c.orig_l2_addr = a.src_mac;
    c.resp_l2_addr = a.dst_mac;
    c.vlan = a.vlan;
    c.inner_vlan = a.inner_vlan;
    c.local_orig = Some(opts.is_internal(a.src));
    c.local_resp = Some(opts.is_internal(a.dst));
    c.community_id = community_id(a.src, a.sport, a.dst, a.dport, a.proto);
    // Address octets, not their text: no formatting or allocation per record.
    let (src, dst) = (ip_octets(a.src), ip_octets(a.dst));
    c.uid = stable_uid(&[b"netflow", &start.0.to_le_bytes(), src.as_slice(), &a.sport.to_le_bytes(), dst.as_slice(), &a.dport.to_le_bytes(), &[a.proto]]);
    c
}

/// An address's octets (4 or 16) as one value, for hashing into a uid.
enum Octets {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl Octets {
    fn as_slice(&self) -> &[u8] {
        match self {
            Octets::V4(o) => o,
            Octets::V6(o) => o,
        }
    }
}

fn ip_octets(ip: IpAddr) -> Octets {
    match ip {
        IpAddr::V4(a) => Octets::V4(a.octets()),
        IpAddr::V6(a) => Octets::V6(a.octets()),
    }
}
