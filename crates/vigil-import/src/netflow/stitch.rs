//! Stitching unidirectional flow records into bidirectional connections: a record A→B waits (in
//! a bounded map, for at most the stitch window of flow time) for its reverse B→A; the pair
//! becomes one `Conn` whose originator is the side that started first. Unmatched records become
//! one-sided `Conn`s. Biflow records are complete already.
//!
//! The live collector runs several stitchers side by side: [`FlowHasher`] gives a record and
//! its reverse the same hash, which picks the stitcher, and the stitchers hand out
//! [`ConnRec`]s (a connection without heap parts) for the consumer's thread to turn into
//! `Conn`s.

use super::FlowRecord;
use crate::ImportOptions;
use crate::stats::ImportStats;
use crate::util::{community_id_text, conn_state_from_flags, history_letters, stable_uid_text};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::net::IpAddr;
use vigil_model::{Conn, Source, Timestamp};

type Key = (IpAddr, u16, IpAddr, u16, u8);

/// A key with its keyed hash (see [`FlowHasher`]) computed once. The hash ignores direction, so
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

/// Where a stitcher hands out a connection: the originator's record and, when stitched, the
/// reverse direction's.
pub type PairOut<'a> = dyn FnMut(&FlowRecord, Option<&FlowRecord>) + 'a;

type PendingMap = HashMap<HKey, (u64, FlowRecord), BuildHasherDefault<Prehashed>>;

/// The keyed hash of a flow's endpoints as an unordered pair: equal for a record and its
/// reverse (for ICMP too, whose reverse key swaps only the addresses). Keys are random per
/// process, so flow tuples chosen by an attacker cannot be aimed at one bucket; the mixing is
/// folded 64×64→128-bit multiplies over fixed-width words (foldhash's construction), a few
/// cycles where SipHash over the same words was a visible share of the stitcher's time.
///
/// `Copy`: the collector's decoder thread computes a record's hash with the same keys as the
/// stitcher it hands the record to (to pick the stitcher, and so the stitcher does not hash
/// again).
#[derive(Clone, Copy, Debug)]
pub struct FlowHasher {
    k: [u64; 4],
}

impl Default for FlowHasher {
    fn default() -> Self {
        FlowHasher::new()
    }
}

impl FlowHasher {
    /// Fresh random keys.
    pub fn new() -> Self {
        let s = RandomState::new();
        // Odd keys: a multiply by an odd number loses no bits.
        FlowHasher { k: [1u8, 2, 3, 4].map(|i| s.hash_one(i) | 1) }
    }

    fn sym(&self, k: &Key) -> u64 {
        let bits = |a: IpAddr| match a {
            IpAddr::V4(v4) => u128::from(u32::from(v4)) | (1u128 << 127),
            IpAddr::V6(v6) => u128::from(v6),
        };
        let (a, b) = (bits(k.0), bits(k.2));
        let (lo, hi) = (a.min(b), a.max(b));
        let ports = (u64::from(k.1.min(k.3)) << 32) | (u64::from(k.1.max(k.3)) << 8) | u64::from(k.4);
        let fold = |x: u64, y: u64| {
            let p = u128::from(x) * u128::from(y);
            (p as u64) ^ ((p >> 64) as u64)
        };
        let [k0, k1, k2, k3] = self.k;
        let mut h = fold(lo as u64 ^ k0, (lo >> 64) as u64 ^ k1);
        h = fold(h ^ hi as u64 ^ k2, (hi >> 64) as u64 ^ k3);
        h = fold(h ^ ports ^ k1, k2);
        // Final avalanche, so the low bits (bucket index) and the top bits (hashbrown's tag,
        // and the collector's choice of stitcher) all depend on every input bit.
        fold(h ^ k3, k0)
    }

    /// The hash [`Stitcher::push_hashed`] takes for `r` (equal for `r` and its reverse).
    pub fn flow_hash(&self, r: &FlowRecord) -> u64 {
        self.sym(&keys(r).0)
    }
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
    hasher: FlowHasher,
}

impl Stitcher {
    pub fn new(window_secs: f64, max_pending: usize) -> Self {
        Self::with_hasher(window_secs, max_pending, FlowHasher::new())
    }

    /// A stitcher whose keys are hashed with `hasher` (see [`Stitcher::push_hashed`]).
    pub fn with_hasher(window_secs: f64, max_pending: usize, hasher: FlowHasher) -> Self {
        let w = if window_secs.is_finite() && window_secs > 0.0 { (window_secs * 1e9) as i64 } else { 0 };
        Stitcher {
            window_ns: w,
            max_pending,
            // Not pre-sized: a table much larger than the records waiting in it (which, with
            // both directions exported together, are few) costs a cache miss per probe.
            pending: PendingMap::default(),
            order: VecDeque::new(),
            seq: 0,
            watermark: Timestamp::default(),
            hasher,
        }
    }

    /// Takes one flow record; emits any connection it completes or that has expired.
    pub fn push(&mut self, r: FlowRecord, opts: &ImportOptions, stats: &mut ImportStats, out: &mut dyn FnMut(Conn)) {
        let hash = self.hasher.flow_hash(&r);
        self.push_pair(hash, r, stats, &mut |a, b| out(conn_from_pair(a, b, opts)));
    }

    /// [`Stitcher::push`] with the record's hash already computed by this stitcher's
    /// [`FlowHasher`] (a hash from another hasher only costs pairing, never correctness of the
    /// map: keys are still compared in full), handing out each connection as its originator's
    /// record and the reverse one (see [`conn_from_pair`]) for the caller to build.
    pub fn push_pair(&mut self, hash: u64, r: FlowRecord, stats: &mut ImportStats, out: &mut PairOut) {
        if r.end > self.watermark {
            self.watermark = r.end;
        }
        if r.biflow || self.max_pending == 0 || self.window_ns == 0 {
            emit(&r, None, stats, out);
        } else {
            let (key, rev) = keys(&r);
            let (key, rev) = (HKey { hash, key }, HKey { hash, key: rev });
            // One probe for the reverse direction, whether it matches or not.
            let window = self.window_ns;
            let matched = match self.pending.entry(rev) {
                Entry::Occupied(o)
                    if (r.start.0 as i128 - o.get().1.start.0 as i128).abs() <= window as i128 || overlaps(&o.get().1, &r) =>
                {
                    Some(o.remove().1)
                }
                _ => None,
            };
            if let Some(p) = matched {
                stats.flows_stitched += 2;
                let (a, b) = if originator_first(&p, &r) { (p, r) } else { (r, p) };
                emit(&a, Some(&b), stats, out);
            } else {
                self.seq += 1;
                let end = r.end;
                if let Some((_, old)) = self.pending.insert(key, (self.seq, r)) {
                    // A newer record of the same direction: the old one waited long enough.
                    emit(&old, None, stats, out);
                }
                self.order.push_back((end, key, self.seq));
            }
        }
        self.expire(stats, out);
    }

    fn expire(&mut self, stats: &mut ImportStats, out: &mut PairOut) {
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
                emit(&r, None, stats, out);
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
        self.advance_pair(now, stats, &mut |a, b| out(conn_from_pair(a, b, opts)));
    }

    /// [`Stitcher::advance`], handing out (originator record, reverse record) pairs.
    pub fn advance_pair(&mut self, now: Timestamp, stats: &mut ImportStats, out: &mut PairOut) {
        if now > self.watermark {
            self.watermark = now;
        }
        self.expire(stats, out);
    }

    /// Emits every record still waiting, oldest first.
    pub fn finish(&mut self, opts: &ImportOptions, stats: &mut ImportStats, out: &mut dyn FnMut(Conn)) {
        self.finish_pair(stats, &mut |a, b| out(conn_from_pair(a, b, opts)));
    }

    /// [`Stitcher::finish`], handing out (originator record, reverse record) pairs.
    pub fn finish_pair(&mut self, stats: &mut ImportStats, out: &mut PairOut) {
        let mut rest: Vec<(u64, FlowRecord)> = self.pending.drain().map(|(_, v)| v).collect();
        rest.sort_by(|a, b| a.1.start.cmp(&b.1.start).then(a.0.cmp(&b.0)));
        for (_, r) in rest {
            emit(&r, None, stats, out);
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

fn emit(a: &FlowRecord, b: Option<&FlowRecord>, stats: &mut ImportStats, out: &mut PairOut) {
    stats.conns += 1;
    out(a, b);
}

/// One `Conn` from a record and, optionally, its reverse record.
pub fn conn_from_pair(a: &FlowRecord, b: Option<&FlowRecord>, opts: &ImportOptions) -> Conn {
    ConnRec::from_pair(a, b, opts).into_conn()
}

/// A stitched connection with every field of its `Conn` computed (Community ID, uid, state,
/// history) but no heap parts: the collector's stitching threads build these, and the
/// consumer's thread turns them into `Conn`s ([`ConnRec::into_conn`]), so a `Conn`'s strings
/// are allocated on the thread that frees them (allocated on one core and freed on another,
/// each string cost the stitcher a cache miss in the allocator when its memory came back).
#[derive(Clone, Debug)]
pub struct ConnRec {
    ts: Timestamp,
    orig_h: IpAddr,
    resp_h: IpAddr,
    orig_p: u16,
    resp_p: u16,
    proto: u8,
    local_orig: bool,
    local_resp: bool,
    history_len: u8,
    history: [u8; 9],
    conn_state: vigil_model::ConnState,
    duration: f64,
    orig_pkts: u64,
    orig_ip_bytes: u64,
    resp_pkts: u64,
    resp_ip_bytes: u64,
    orig_l2_addr: Option<[u8; 6]>,
    resp_l2_addr: Option<[u8; 6]>,
    vlan: Option<u16>,
    inner_vlan: Option<u16>,
    uid: [u8; 12],
    community_id: [u8; 30],
}

impl ConnRec {
    /// The connection of a record and, optionally, its reverse record.
    pub fn from_pair(a: &FlowRecord, b: Option<&FlowRecord>, opts: &ImportOptions) -> ConnRec {
        let (rp, rb, rf, end) = match b {
            Some(b) => (b.packets, b.bytes, b.tcp_flags, a.end.max(b.end)),
            None => (a.rev_packets, a.rev_bytes, a.rev_tcp_flags, a.end),
        };
        let start = match b {
            Some(b) => a.start.min(b.start),
            None => a.start,
        };
        // The same value as `util::secs_between` (an i64 difference converts to f64 exactly as
        // its i128 does), without the slower i128 conversion unless the difference overflows.
        let secs = match end.0.checked_sub(start.0) {
            Some(d) => d as f64 / 1e9,
            None => crate::util::secs_between(end, start),
        };
        let (history, history_len) =
            if a.proto == vigil_model::PROTO_TCP { history_letters(a.tcp_flags, rf, a.packets, rp) } else { ([0; 9], 0) };
        // Address octets, not their text: no formatting or allocation per record.
        let (src, dst) = (ip_octets(a.src), ip_octets(a.dst));
        ConnRec {
            ts: start,
            orig_h: a.src,
            resp_h: a.dst,
            orig_p: a.sport,
            resp_p: a.dport,
            proto: a.proto,
            local_orig: opts.is_internal(a.src),
            local_resp: opts.is_internal(a.dst),
            history_len: history_len as u8,
            history,
            conn_state: conn_state_from_flags(a.proto, a.tcp_flags, rf, rp),
            duration: secs.max(0.0),
            orig_pkts: a.packets,
            orig_ip_bytes: a.bytes,
            resp_pkts: rp,
            resp_ip_bytes: rb,
            orig_l2_addr: a.src_mac,
            resp_l2_addr: a.dst_mac,
            vlan: a.vlan,
            inner_vlan: a.inner_vlan,
            uid: stable_uid_text(&[
                b"netflow",
                &start.0.to_le_bytes(),
                src.as_slice(),
                &a.sport.to_le_bytes(),
                dst.as_slice(),
                &a.dport.to_le_bytes(),
                &[a.proto],
            ]),
            community_id: community_id_text(a.src, a.sport, a.dst, a.dport, a.proto),
        }
    }

    /// The `Conn`.
    pub fn into_conn(self) -> Conn {
        // Every byte of the three texts is ASCII.
        let text = |b: &[u8]| String::from(std::str::from_utf8(b).unwrap_or_default());
        let mut c = Conn::new(self.ts, self.orig_h, self.orig_p, self.resp_h, self.resp_p, self.proto);
        c.source = Source::Netflow;
        c.duration = Some(self.duration);
        c.orig_pkts = self.orig_pkts;
        c.orig_ip_bytes = self.orig_ip_bytes;
        c.resp_pkts = self.resp_pkts;
        c.resp_ip_bytes = self.resp_ip_bytes;
        c.conn_state = self.conn_state;
        c.history = text(self.history.get(..usize::from(self.history_len)).unwrap_or_default());
        c.orig_l2_addr = self.orig_l2_addr;
        c.resp_l2_addr = self.resp_l2_addr;
        c.vlan = self.vlan;
        c.inner_vlan = self.inner_vlan;
        c.local_orig = Some(self.local_orig);
        c.local_resp = Some(self.local_resp);
        c.community_id = text(&self.community_id);
        c.uid = text(&self.uid);
        c
    }
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
