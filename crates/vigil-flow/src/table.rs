//! The flow table: one entry per bidirectional connection, found with a single keyed-hash
//! lookup per packet, expired by event time (packet timestamps) with Zeek's timeouts, and
//! capped in size: when full, the least valuable flows (unanswered attempts and one-packet
//! flows first, then the longest idle) are evicted and still reported, never dropped.

use crate::app::{AppFeed, AppKey};
use crate::community_id::{community_id_v1, icmp_ports};
use crate::history::History;

/// Zeek's UDP `HIST_ORIG_DATA_PKT` bit (the responder's is kept 16 bits up).
const HIST_UDP_DATA: u32 = 0x1;
use crate::packet::FlowPacket;
use crate::ports::{likely_tcp_server, likely_udp_server};
use crate::tcp::{self, Deliver, EpState, Segment, TcpConn};
use crate::uid;
use foldhash::SharedSeed;
use foldhash::quality::SeedableRandomState;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::BuildHasher as _;
use std::net::IpAddr;
use std::sync::OnceLock;
use vigil_model::{Conn, ConnState, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, Source, Timestamp};

/// Timeouts and limits. `Default` is Zeek's defaults plus a one-million-flow cap.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// Zeek's `tcp_inactivity_timeout` (5 min).
    pub tcp_inactivity: f64,
    /// Zeek's `udp_inactivity_timeout` (1 min); also TCP before the handshake completes.
    pub udp_inactivity: f64,
    /// Zeek's `icmp_inactivity_timeout` (1 min).
    pub icmp_inactivity: f64,
    /// Zeek's `tcp_attempt_delay` (5 s): an unanswered SYN is reported this long after it.
    pub tcp_attempt_delay: f64,
    /// Zeek's `tcp_close_delay` (5 s): a closed connection lingers this long for stray packets.
    pub tcp_close_delay: f64,
    /// Most flows held at once; beyond it flows are evicted (and reported).
    pub max_flows: usize,
    /// Payload bytes per direction handed to the application parser (and reassembled).
    pub reassembly_budget: u32,
    /// Key mixed into the uid hash (uids are stable for the same key and input).
    pub uid_key: Vec<u8>,
    /// Local networks as (address, prefix length). When non-empty, `local_orig`/`local_resp`
    /// are filled as Zeek does with `Site::local_nets`; when empty they stay unset.
    pub local_nets: Vec<(IpAddr, u8)>,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            tcp_inactivity: 300.0,
            udp_inactivity: 60.0,
            icmp_inactivity: 60.0,
            tcp_attempt_delay: 5.0,
            tcp_close_delay: 5.0,
            max_flows: 1_000_000,
            reassembly_budget: 16 * 1024,
            uid_key: b"vigil".to_vec(),
            local_nets: Vec::new(),
        }
    }
}

fn secs_to_ns(s: f64) -> i64 {
    if s.is_finite() && s > 0.0 { (s * 1e9).min(i64::MAX as f64 / 4.0) as i64 } else { 0 }
}

/// Canonical 5-tuple: the lower (address, port) end first, except for one-way ICMP messages,
/// which Zeek keys by direction. Addresses are held as two 64-bit words (IPv4 v4-mapped, with a
/// family bit so that an IPv4 address and its v4-mapped IPv6 twin stay different flows):
/// ordering, comparing and hashing a key is then a few word operations, which every packet pays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowKey {
    a: [u64; 2],
    b: [u64; 2],
    pa: u16,
    pb: u16,
    proto: u8,
    one_way: bool,
    /// Bit 0: `a` is IPv4; bit 1: `b` is IPv4.
    v4: u8,
}

/// Five word writes instead of the derived field-by-field hashing.
impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.a[0]);
        state.write_u64(self.a[1]);
        state.write_u64(self.b[0]);
        state.write_u64(self.b[1]);
        state.write_u64(
            self.pa as u64 | (self.pb as u64) << 16 | (self.proto as u64) << 32 | (self.one_way as u64) << 40 | (self.v4 as u64) << 48,
        );
    }
}

/// The address as two words of its (v4-mapped) IPv6 form, and whether it is IPv4.
fn addr_words(ip: IpAddr) -> ([u64; 2], bool) {
    match ip {
        IpAddr::V4(v4) => ([0, 0xffff_0000_0000 | u32::from(v4) as u64], true),
        IpAddr::V6(v6) => {
            let x = u128::from(v6);
            ([(x >> 64) as u64, x as u64], false)
        }
    }
}

impl FlowKey {
    fn new(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, proto: u8, one_way: bool) -> Self {
        let (s, s4) = addr_words(src);
        let (d, d4) = addr_words(dst);
        // Any order that both directions agree on will do; the family bit breaks the tie
        // between an IPv4 address and its v4-mapped twin.
        if one_way || (s, sport, s4) <= (d, dport, d4) {
            FlowKey { a: s, b: d, pa: sport, pb: dport, proto, one_way, v4: s4 as u8 | (d4 as u8) << 1 }
        } else {
            FlowKey { a: d, b: s, pa: dport, pb: sport, proto, one_way, v4: d4 as u8 | (s4 as u8) << 1 }
        }
    }
}

#[derive(Debug)]
enum Kind {
    Tcp(Box<TcpConn>),
    /// UDP, ICMP and other transports: per-direction activity and payload bytes.
    Simple {
        active: [bool; 2],
        bytes: [u64; 2],
    },
}

#[derive(Debug)]
struct Flow {
    key: FlowKey,
    generation: u32,
    ordinal: u64,
    uid: u128,
    orig_h: IpAddr,
    orig_p: u16,
    resp_h: IpAddr,
    resp_p: u16,
    proto: u8,
    one_way: bool,
    start: i64,
    last: i64,
    history: History,
    pkts: [u64; 2],
    ip_bytes: [u64; 2],
    l2: [Option<[u8; 6]>; 2],
    vlan: Option<u16>,
    inner_vlan: Option<u16>,
    missed: u64,
    kind: Kind,
    feed: AppFeed,
    tunnel_parent: Option<u128>,
    service_hint: Option<&'static str>,
    queued_at: i64,
}

/// The flow map's hasher: foldhash (a few multiplications per key) instead of the standard
/// library's SipHash-1-3, whose per-key cost every packet paid. Keys are attacker-chosen, so both
/// seeds come from the operating system's randomness (through std's `RandomState`), not from
/// foldhash's default of address-space layout and time: an attacker who cannot learn the seeds
/// cannot precompute colliding 5-tuples. foldhash is not a keyed PRF in the cryptographic sense
/// that SipHash is; what a flood could still cost is bounded by the table's size cap.
fn flow_hasher() -> SeedableRandomState {
    static SHARED: OnceLock<SharedSeed> = OnceLock::new();
    let os_random = || std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64);
    let shared = SHARED.get_or_init(|| SharedSeed::from_u64(os_random()));
    SeedableRandomState::with_seed(os_random(), shared)
}

/// Counters of the table (part of the engine's statistics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableStats {
    pub flows: u64,
    pub evicted: u64,
    pub expired: u64,
    pub reused: u64,
    pub peak_flows: u64,
    /// Eviction passes run (each evicts a batch).
    pub eviction_passes: u64,
}

/// Why a record left the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exit {
    Expired,
    Reused,
    Evicted,
    EndOfInput,
}

pub struct FlowTable {
    cfg: FlowConfig,
    map: HashMap<FlowKey, u32, SeedableRandomState>,
    slots: Vec<Option<Flow>>,
    gens: Vec<u32>,
    free: Vec<u32>,
    heap: BinaryHeap<Reverse<(i64, u32, u32)>>,
    now: i64,
    ordinal: u64,
    /// The configured timeouts in nanoseconds, converted once: every packet computes a deadline.
    ns: Timeouts,
    pub stats: TableStats,
}

#[derive(Clone, Copy, Debug)]
struct Timeouts {
    tcp_idle: i64,
    udp_idle: i64,
    icmp_idle: i64,
    attempt: i64,
    close: i64,
}

impl FlowTable {
    pub fn new(cfg: FlowConfig) -> Self {
        let ns = Timeouts {
            tcp_idle: secs_to_ns(cfg.tcp_inactivity),
            udp_idle: secs_to_ns(cfg.udp_inactivity),
            icmp_idle: secs_to_ns(cfg.icmp_inactivity),
            attempt: secs_to_ns(cfg.tcp_attempt_delay),
            close: secs_to_ns(cfg.tcp_close_delay),
        };
        FlowTable {
            ns,
            cfg,
            map: HashMap::with_hasher(flow_hasher()),
            slots: Vec::new(),
            gens: Vec::new(),
            free: Vec::new(),
            heap: BinaryHeap::new(),
            now: i64::MIN,
            ordinal: 0,
            stats: TableStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    /// Processes one packet (and its tunnel's outer packet first, if any).
    pub fn process(&mut self, p: &FlowPacket<'_>, sink: &mut dyn FnMut(Conn)) {
        let ts = p.ts.0;
        if ts > self.now {
            self.now = ts;
            self.expire(sink);
        }
        let parent = match p.tunnel {
            Some(t) if t.proto == PROTO_UDP => {
                let mut outer = FlowPacket::new(p.ts, t.src, t.sport, t.dst, t.dport, PROTO_UDP);
                outer.ip_len = t.outer_ip_len;
                outer.payload_len = t.outer_payload_len;
                outer.l2_src = p.l2_src;
                outer.l2_dst = p.l2_dst;
                outer.vlan = p.vlan;
                outer.inner_vlan = p.inner_vlan;
                let slot = self.process_one(&outer, None, sink);
                if let Some(f) = slot.and_then(|s| self.slots.get_mut(s as usize)).and_then(|f| f.as_mut()) {
                    if f.service_hint.is_none() {
                        f.service_hint = t.service;
                    }
                    Some(f.uid)
                } else {
                    None
                }
            }
            // IP tunnels (GRE, IP-in-IP) have no conn.log record of their own in Zeek; their
            // uid (tunnel.log's) still ties the inner connections together.
            Some(t) => Some(self.tunnel_uid(&t)),
            None => None,
        };
        // Inner packets of a tunnel carry no link-layer addresses of their own in Zeek's view.
        self.process_one(p, parent, sink);
    }

    fn tunnel_uid(&self, t: &crate::packet::TunnelInfo) -> u128 {
        let (a, b) = if t.src <= t.dst { (t.src, t.dst) } else { (t.dst, t.src) };
        uid::uid_value(&self.cfg.uid_key, a, 0, b, 0, t.proto, 0, u64::MAX)
    }

    fn process_one(&mut self, p: &FlowPacket<'_>, parent: Option<u128>, sink: &mut dyn FnMut(Conn)) -> Option<u32> {
        let (key, sport, dport) = key_for(p);
        let tcpf = if p.proto == PROTO_TCP { p.tcp } else { None };
        let slot = match self.map.get(&key).copied() {
            Some(slot) => {
                let reuse = match (self.slots.get(slot as usize).and_then(|f| f.as_ref()), tcpf) {
                    (Some(f), Some(t)) => match &f.kind {
                        Kind::Tcp(c) => c.is_reuse(t.flags, t.seq),
                        Kind::Simple { .. } => false,
                    },
                    _ => false,
                };
                if reuse {
                    self.stats.reused += 1;
                    self.remove(slot, Exit::Reused, sink);
                    self.create(key, p, sport, dport, parent, sink)
                } else {
                    slot
                }
            }
            None => self.create(key, p, sport, dport, parent, sink),
        };
        let budget = self.cfg.reassembly_budget;
        let f = self.slots.get_mut(slot as usize).and_then(|f| f.as_mut())?;
        let dir = if p.src == f.orig_h && sport == f.orig_p { 0 } else { 1 };
        f.pkts[dir] += 1;
        f.ip_bytes[dir] += p.ip_len as u64;
        if f.l2[dir].is_none() {
            f.l2[dir] = p.l2_src;
        }
        if f.l2[1 - dir].is_none() {
            f.l2[1 - dir] = p.l2_dst;
        }
        let key_app = AppKey { proto: f.proto, orig_p: f.orig_p, resp_p: f.resp_p, budget };
        match &mut f.kind {
            Kind::Tcp(c) => {
                let t = tcpf.unwrap_or_default();
                let seg =
                    Segment { ts: p.ts.0, flags: t.flags, seq: t.seq, ack: t.ack, window: t.window, len: p.payload_len, data: p.payload };
                let mut d = Deliver { feed: &mut f.feed, key: key_app, hist: &mut f.history, missed: &mut f.missed };
                let flipped = c.process(dir, &seg, &mut f.last, &mut d);
                if flipped {
                    flip_flow_fields(f);
                    f.feed.reset();
                }
            }
            Kind::Simple { active, bytes } => {
                f.last = p.ts.0;
                active[dir] = true;
                // For ICMP the decoder's payload already excludes the 8-byte header, as Zeek's
                // ICMP sizes do.
                let n = p.payload_len as u64;
                bytes[dir] = bytes[dir].saturating_add(n);
                if f.proto == PROTO_UDP {
                    f.history.check_ep(dir == 0, HIST_UDP_DATA, b'D');
                    let data = p.payload.get(..(p.payload_len as usize).min(p.payload.len())).unwrap_or(&[]);
                    f.feed.data(key_app, dir, p.ts, data);
                }
            }
        }
        let d = self.deadline_of(slot);
        if let Some(f) = self.slots.get_mut(slot as usize).and_then(|f| f.as_mut())
            && d < f.queued_at
        {
            f.queued_at = d;
            self.heap.push(Reverse((d, slot, f.generation)));
            if self.heap.len() > 2 * self.map.len() + 1024 {
                self.compact_heap();
            }
        }
        Some(slot)
    }

    fn create(
        &mut self,
        key: FlowKey,
        p: &FlowPacket<'_>,
        sport: u16,
        dport: u16,
        parent: Option<u128>,
        sink: &mut dyn FnMut(Conn),
    ) -> u32 {
        if self.map.len() >= self.cfg.max_flows.max(1) {
            self.evict(sink);
        }
        let ordinal = self.ordinal;
        self.ordinal += 1;
        let uid = uid::uid_value(&self.cfg.uid_key, p.src, sport, p.dst, dport, p.proto, p.ts.0, ordinal);
        let mut history = History::default();
        let kind = if p.proto == PROTO_TCP {
            Kind::Tcp(Box::new(TcpConn::new(self.ns.close)))
        } else {
            Kind::Simple { active: [false; 2], bytes: [0; 2] }
        };
        let flip = match p.proto {
            PROTO_TCP => {
                let fl = p.tcp.map_or(0, |t| t.flags);
                let partial = fl & tcp::SYN == 0 || fl & tcp::ACK != 0;
                partial && likely_tcp_server(sport) && (!likely_tcp_server(dport) || (fl & tcp::SYN == 0 && sport < dport))
            }
            PROTO_UDP => likely_udp_server(sport) && !likely_udp_server(dport),
            _ => false,
        };
        let mut f = Flow {
            key,
            generation: 0,
            ordinal,
            uid,
            orig_h: p.src,
            orig_p: sport,
            resp_h: p.dst,
            resp_p: dport,
            proto: p.proto,
            one_way: key.one_way,
            start: p.ts.0,
            last: p.ts.0,
            history: History::default(),
            pkts: [0; 2],
            ip_bytes: [0; 2],
            l2: [None, None],
            vlan: p.vlan,
            inner_vlan: p.inner_vlan,
            missed: 0,
            kind,
            feed: AppFeed::new(),
            tunnel_parent: parent,
            service_hint: None,
            queued_at: i64::MAX,
        };
        if flip {
            if let Kind::Tcp(c) = &mut f.kind {
                c.flip(&mut history);
            } else {
                history.add(b'^');
            }
            flip_flow_fields(&mut f);
        }
        f.history = history;
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                self.gens.push(0);
                (self.slots.len() - 1) as u32
            }
        };
        let g = self.gens.get_mut(slot as usize).map(|g| {
            *g = g.wrapping_add(1);
            *g
        });
        f.generation = g.unwrap_or(0);
        if let Some(s) = self.slots.get_mut(slot as usize) {
            *s = Some(f);
        }
        self.map.insert(key, slot);
        self.stats.flows += 1;
        self.stats.peak_flows = self.stats.peak_flows.max(self.map.len() as u64);
        slot
    }

    fn deadline_of(&self, slot: u32) -> i64 {
        let Some(f) = self.slots.get(slot as usize).and_then(|f| f.as_ref()) else { return i64::MAX };
        let c = &self.ns;
        match &f.kind {
            Kind::Tcp(t) => {
                let idle = if t.timers.handshake_done { c.tcp_idle } else { c.udp_idle };
                let mut d = f.last.saturating_add(idle);
                if let Some(r) = t.timers.remove_at {
                    d = d.min(r);
                }
                if let Some(a) = t.timers.attempt_since
                    && matches!(t.ep[0].state, EpState::SynSent | EpState::SynAckSent)
                    && t.ep[1].state == EpState::Inactive
                {
                    d = d.min(a.saturating_add(c.attempt));
                }
                d
            }
            Kind::Simple { .. } => {
                let idle = if matches!(f.proto, PROTO_ICMP | PROTO_ICMPV6) { c.icmp_idle } else { c.udp_idle };
                f.last.saturating_add(idle)
            }
        }
    }

    /// Drops heap entries of flows that left the table early (evicted, reused): without this a
    /// flood would leave one stale entry per evicted flow until its old deadline.
    fn compact_heap(&mut self) {
        let slots = &self.slots;
        let live: Vec<Reverse<(i64, u32, u32)>> = std::mem::take(&mut self.heap)
            .into_iter()
            .filter(|Reverse((t, slot, g))| matches!(slots.get(*slot as usize), Some(Some(f)) if f.generation == *g && f.queued_at == *t))
            .collect();
        self.heap = BinaryHeap::from(live);
    }

    /// Reports and removes every flow whose deadline has passed (event time).
    fn expire(&mut self, sink: &mut dyn FnMut(Conn)) {
        while let Some(Reverse((t, slot, generation))) = self.heap.peek().copied() {
            if t > self.now {
                break;
            }
            self.heap.pop();
            let live = matches!(self.slots.get(slot as usize), Some(Some(f)) if f.generation == generation && f.queued_at == t);
            if !live {
                continue;
            }
            let d = self.deadline_of(slot);
            if d <= self.now {
                self.stats.expired += 1;
                self.remove(slot, Exit::Expired, sink);
            } else if let Some(f) = self.slots.get_mut(slot as usize).and_then(|f| f.as_mut()) {
                f.queued_at = d;
                self.heap.push(Reverse((d, slot, generation)));
            }
        }
    }

    /// Evicts a batch (1/16 of the cap, at least one) of the least valuable flows: one O(n) pass
    /// per batch keeps the amortised cost per new flow constant even under a flood.
    fn evict(&mut self, sink: &mut dyn FnMut(Conn)) {
        self.stats.eviction_passes += 1;
        let n = (self.cfg.max_flows / 16).max(1);
        let mut cand: Vec<(u8, i64, u32)> =
            self.slots.iter().enumerate().filter_map(|(i, f)| f.as_ref().map(|f| (eviction_class(f), f.last, i as u32))).collect();
        if cand.is_empty() {
            return;
        }
        let n = n.min(cand.len());
        if n < cand.len() {
            cand.select_nth_unstable(n - 1);
        }
        let mut victims: Vec<(u8, i64, u32)> = cand.into_iter().take(n).collect();
        victims.sort_unstable();
        for (_, _, slot) in victims {
            self.stats.evicted += 1;
            self.remove(slot, Exit::Evicted, sink);
        }
    }

    fn remove(&mut self, slot: u32, why: Exit, sink: &mut dyn FnMut(Conn)) {
        let Some(f) = self.slots.get_mut(slot as usize).and_then(|f| f.take()) else { return };
        self.map.remove(&f.key);
        self.free.push(slot);
        sink(self.finish_conn(f, why));
    }

    fn finish_conn(&self, f: Flow, why: Exit) -> Conn {
        let mut c = to_conn(f, why);
        if !self.cfg.local_nets.is_empty() {
            c.local_orig = Some(in_nets(c.orig_h, &self.cfg.local_nets));
            c.local_resp = Some(in_nets(c.resp_h, &self.cfg.local_nets));
        }
        c
    }

    /// Reports every remaining flow (in start order) and empties the table.
    pub fn flush(&mut self, sink: &mut dyn FnMut(Conn)) {
        let mut all: Vec<Flow> = self.slots.iter_mut().filter_map(|f| f.take()).collect();
        self.map.clear();
        self.free.clear();
        self.slots.clear();
        self.gens.clear();
        self.heap.clear();
        all.sort_by_key(|f| (f.start, f.ordinal));
        for f in all {
            sink(self.finish_conn(f, Exit::EndOfInput));
        }
    }
}

/// Lower is evicted first: unanswered TCP attempts and one-packet flows, then other flows
/// that never got a reply, then established ones.
fn eviction_class(f: &Flow) -> u8 {
    let answered = f.pkts[0] > 0 && f.pkts[1] > 0;
    match &f.kind {
        Kind::Tcp(t) => {
            if t.ep[1].state == EpState::Inactive || f.pkts[0] + f.pkts[1] <= 1 {
                0
            } else if !answered {
                1
            } else {
                2
            }
        }
        Kind::Simple { .. } => {
            if f.pkts[0] + f.pkts[1] <= 1 {
                0
            } else if !answered {
                1
            } else {
                2
            }
        }
    }
}

fn flip_flow_fields(f: &mut Flow) {
    std::mem::swap(&mut f.orig_h, &mut f.resp_h);
    std::mem::swap(&mut f.orig_p, &mut f.resp_p);
    f.pkts.swap(0, 1);
    f.ip_bytes.swap(0, 1);
    f.l2.swap(0, 1);
    if let Kind::Simple { active, bytes } = &mut f.kind {
        active.swap(0, 1);
        bytes.swap(0, 1);
    }
}

/// The key and the (possibly ICMP-mapped) ports of a packet.
fn key_for(p: &FlowPacket<'_>) -> (FlowKey, u16, u16) {
    match p.proto {
        PROTO_ICMP | PROTO_ICMPV6 => {
            let (sp, dp, one_way) = icmp_ports(p.proto == PROTO_ICMPV6, p.sport as u8, p.dport as u8);
            (FlowKey::new(p.src, sp, p.dst, dp, p.proto, one_way), sp, dp)
        }
        PROTO_TCP | PROTO_UDP | vigil_model::PROTO_SCTP => (FlowKey::new(p.src, p.sport, p.dst, p.dport, p.proto, false), p.sport, p.dport),
        _ => (FlowKey::new(p.src, 0, p.dst, 0, p.proto, false), 0, 0),
    }
}

/// Whether `ip` lies in one of the (network, prefix length) pairs.
pub fn in_nets(ip: IpAddr, nets: &[(IpAddr, u8)]) -> bool {
    nets.iter().any(|&(net, len)| match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let len = len.min(32) as u32;
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let len = len.min(128) as u32;
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    })
}

/// Renders a uid number as Zeek-style text.
pub fn uid_text(v: u128) -> String {
    uid::prefixed('C', v)
}

fn to_conn(f: Flow, why: Exit) -> Conn {
    let mut c = Conn::new(Timestamp(f.start), f.orig_h, f.orig_p, f.resp_h, f.resp_p, f.proto);
    c.uid = uid_text(f.uid);
    let dur_ns = f.last.saturating_sub(f.start);
    let (state, sizes, closed) = match &f.kind {
        Kind::Tcp(t) => (tcp::conn_state(t, f.history.as_str()), t.sizes(), t.closed()),
        Kind::Simple { active, bytes } => {
            let st = if f.proto == PROTO_UDP {
                match (active[0], active[1]) {
                    (true, true) => ConnState::SF,
                    (true, false) => ConnState::S0,
                    (false, true) => ConnState::SHR,
                    (false, false) => ConnState::OTH,
                }
            } else {
                ConnState::OTH
            };
            (st, (bytes[0], bytes[1]), false)
        }
    };
    c.conn_state = state;
    // Zeek sets duration and sizes only when the duration is positive.
    if dur_ns > 0 {
        c.duration = Some(dur_ns as f64 / 1e9);
        c.orig_bytes = Some(sizes.0);
        c.resp_bytes = Some(sizes.1);
    }
    c.missed_bytes = f.missed;
    c.history = f.history.as_str().to_string();
    c.orig_pkts = f.pkts[0];
    c.resp_pkts = f.pkts[1];
    c.orig_ip_bytes = f.ip_bytes[0];
    c.resp_ip_bytes = f.ip_bytes[1];
    if let Some(p) = f.tunnel_parent {
        c.tunnel_parents.push(uid_text(p));
    }
    let (sp, dp) = (f.orig_p, f.resp_p);
    c.community_id = community_id_v1(0, f.orig_h, f.resp_h, f.proto, sp, dp, f.one_way);
    c.orig_l2_addr = f.l2[0];
    c.resp_l2_addr = f.l2[1];
    c.vlan = f.vlan;
    c.inner_vlan = f.inner_vlan;
    c.open = match why {
        Exit::Expired | Exit::Reused => false,
        Exit::Evicted | Exit::EndOfInput => !closed,
    };
    c.source = Source::Pcap;
    let (svc, app) = f.feed.finish();
    // Zeek attaches no application analyzer to a TCP connection picked up mid-stream (no SYN
    // seen from either side), so its service stays unset; the metadata is kept all the same.
    let midstream = matches!(f.kind, Kind::Tcp(_)) && !f.history.as_str().contains(['S', 'H', 's', 'h']);
    c.service = if midstream { None } else { svc.or_else(|| f.service_hint.map(str::to_string)) };
    c.app = app;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn both_directions_share_a_key_and_families_stay_apart() {
        let cases = [("10.0.0.1", "10.0.0.2"), ("192.168.1.1", "10.0.0.1"), ("2001:db8::1", "2001:db8::2"), ("::1", "10.0.0.1")];
        for (x, y) in cases {
            assert_eq!(FlowKey::new(ip(x), 1000, ip(y), 80, 6, false), FlowKey::new(ip(y), 80, ip(x), 1000, 6, false), "{x} {y}");
        }
        // Same address, ports decide the order.
        assert_eq!(
            FlowKey::new(ip("10.0.0.1"), 9, ip("10.0.0.1"), 7, 17, false),
            FlowKey::new(ip("10.0.0.1"), 7, ip("10.0.0.1"), 9, 17, false)
        );
        // An IPv4 address and its v4-mapped IPv6 form are different endpoints.
        let v4 = FlowKey::new(ip("10.0.0.1"), 1, ip("10.0.0.2"), 2, 6, false);
        let mapped = FlowKey::new(ip("::ffff:10.0.0.1"), 1, ip("10.0.0.2"), 2, 6, false);
        assert_ne!(v4, mapped);
        let h = flow_hasher();
        assert_ne!(h.hash_one(v4), h.hash_one(mapped));
        // One-way ICMP keeps the direction; protocol and ports are part of the key.
        assert_ne!(
            FlowKey::new(ip("10.0.0.1"), 8, ip("10.0.0.2"), 0, 1, true),
            FlowKey::new(ip("10.0.0.2"), 0, ip("10.0.0.1"), 8, 1, true)
        );
        assert_ne!(
            FlowKey::new(ip("10.0.0.1"), 1, ip("10.0.0.2"), 2, 6, false),
            FlowKey::new(ip("10.0.0.1"), 1, ip("10.0.0.2"), 2, 17, false)
        );
    }
}
