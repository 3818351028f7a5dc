//! TCP connection state with Zeek's semantics: the per-endpoint state machine
//! (INACTIVE/SYN_SENT/SYN_ACK_SENT/PARTIAL/ESTABLISHED/CLOSED/RESET), sequence tracking for
//! `orig_bytes`/`resp_bytes` (highest sequence sent or acknowledged, as Zeek's
//! `TCP_Endpoint::Size`), the history letters, and a bounded reassembler that delivers the first
//! bytes of each direction in order to the application parser and reports content gaps
//! (`missed_bytes`, `G`/`g`) exactly where Zeek's reassembler would.
//!
//! Endpoints live in `ep[0]` (originator) and `ep[1]` (responder); a role flip swaps them.

use crate::app::{AppFeed, AppKey};
use crate::history::*;
use vigil_model::Timestamp;

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

/// Zeek's `TOO_LARGE_SEQ_DELTA`.
const TOO_LARGE_SEQ_DELTA: i32 = 1_048_576;
/// Zeek's `tcp_max_above_hole_without_any_acks`.
const MAX_ABOVE_HOLE_WITHOUT_ACKS: u64 = 16_384;
/// Out-of-order ranges kept per direction; beyond this the direction stops reassembling (as
/// Zeek does after `tcp_excessive_data_without_further_acks`), which bounds memory per flow.
const MAX_BLOCKS: usize = 32;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EpState {
    #[default]
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

fn is_handshake(s: EpState) -> bool {
    matches!(s, EpState::Inactive | EpState::SynSent | EpState::SynAckSent)
}

fn is_clean(e: &Endpoint) -> bool {
    e.state == EpState::Established || (e.state == EpState::Closed && e.prev_state == EpState::Established)
}

fn seq_delta(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// One out-of-order range above the reassembly point; `data` only while inside the budget.
#[derive(Debug)]
struct Block {
    seq: u64,
    upper: u64,
    data: Option<Box<[u8]>>,
}

#[derive(Debug)]
struct Reasm {
    last_reassem: u64,
    trim_seq: u64,
    blocks: Vec<Block>,
    skip: bool,
}

impl Default for Reasm {
    fn default() -> Self {
        Reasm { last_reassem: 1, trim_seq: 1, blocks: Vec::new(), skip: false }
    }
}

impl Reasm {
    fn undelivered_bytes(&self) -> u64 {
        self.blocks.last().map_or(0, |b| b.upper.saturating_sub(self.last_reassem))
    }
}

#[derive(Debug, Default)]
pub struct Endpoint {
    pub state: EpState,
    pub prev_state: EpState,
    start_seq: u32,
    last_seq: u32,
    ack_seq: u32,
    seq_wraps: u32,
    ack_wraps: u32,
    pub fin_cnt: u32,
    pub rst_cnt: u32,
    fin_seq: u64,
    pub did_close: bool,
    hist_last_syn: u64,
    hist_last_fin: u64,
    hist_last_rst: u64,
    rxmt: Scaled,
    win0: Scaled,
    gap: Scaled,
    reasm: Reasm,
}

impl Endpoint {
    fn full(seq: u32, wraps: u32) -> u64 {
        ((wraps as u64) << 32) | seq as u64
    }
    fn init_start(&mut self, s: u32) {
        self.start_seq = s;
    }
    fn update_last_seq(&mut self, s: u32) {
        if s < self.last_seq {
            self.seq_wraps = self.seq_wraps.saturating_add(1);
        }
        self.last_seq = s;
    }
    fn update_ack_seq(&mut self, s: u32) {
        if s < self.ack_seq {
            self.ack_wraps = self.ack_wraps.saturating_add(1);
        }
        self.ack_seq = s;
    }
    fn no_data_acked(&self) -> bool {
        let ack = Self::full(self.ack_seq, self.ack_wraps);
        let start = self.start_seq as u64;
        ack == start || ack == start + 1
    }
    fn rel_ack(&self) -> u64 {
        Self::full(self.ack_seq, self.ack_wraps).saturating_sub(self.start_seq as u64)
    }

    /// Zeek's `TCP_Endpoint::Size`: payload bytes judged from the highest sequence number sent
    /// or acknowledged by the peer, minus the SYN and FIN octets.
    pub fn size(&self, peer_state: EpState) -> u64 {
        if self.prev_state == EpState::SynSent && self.state == EpState::Reset && peer_state == EpState::Inactive && !self.no_data_acked() {
            return 0;
        }
        let last = Self::full(self.last_seq, self.seq_wraps);
        let ack = Self::full(self.ack_seq, self.ack_wraps);
        let mut size = last.max(ack).saturating_sub(self.start_seq as u64);
        // The SYN octet (real or, for partial connections, faked) and the FIN octet.
        size = size.saturating_sub(1);
        if self.fin_cnt > 0 {
            size = size.saturating_sub(1);
        }
        size
    }
}

/// Zeek's `get_relative_seq`: the 64-bit sequence offset from the endpoint's start, and whether
/// it lies before the start (underflow).
fn relative_seq(start: u32, cur: u32, last: u32, mut wraps: u32) -> (u64, bool) {
    let delta = seq_delta(cur, last);
    if delta < 0 {
        if wraps > 0 && cur > last {
            wraps -= 1;
        }
    } else if delta > 0 && cur < last {
        wraps = wraps.saturating_add(1);
    }
    if wraps == 0 {
        let d = seq_delta(cur, start);
        // Zeek returns the negative delta converted to uint64; the value is only compared for
        // equality and never used for reassembly when it underflows.
        return (d as i64 as u64, d < 0);
    }
    (Endpoint::full(cur, wraps).wrapping_sub(start as u64), false)
}

/// Per-packet TCP facts.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    pub ts: i64,
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    /// Payload length according to the IP header.
    pub len: u32,
    /// The captured payload (may be shorter than `len` when the capture truncated it).
    pub data: &'a [u8],
}

/// Where deliveries go: the application feed and the connection's counters.
pub(crate) struct Deliver<'a> {
    pub feed: &'a mut AppFeed,
    pub key: AppKey,
    pub hist: &'a mut History,
    pub missed: &'a mut u64,
}

/// Timer facts the flow table turns into a removal deadline.
#[derive(Debug, Default, Clone, Copy)]
pub struct Timers {
    /// First SYN of a still-unanswered attempt (Zeek's `tcp_attempt_delay` timer start).
    pub attempt_since: Option<i64>,
    /// Removal time once the close completed (last activity + `tcp_close_delay`) or after a
    /// RST that followed a FIN (`tcp_reset_delay`).
    pub remove_at: Option<i64>,
    /// The handshake finished (Zeek switches to `tcp_inactivity_timeout`).
    pub handshake_done: bool,
}

#[derive(Debug, Default)]
pub struct TcpConn {
    pub ep: [Endpoint; 2],
    is_partial: bool,
    first_packet_seen: u8,
    pub is_active: bool,
    pub timers: Timers,
    close_delay_ns: i64,
}

impl TcpConn {
    pub fn new(close_delay_ns: i64) -> Self {
        TcpConn { is_active: true, close_delay_ns, ..Default::default() }
    }

    fn set_state(&mut self, i: usize, s: EpState) {
        let peer_state = self.ep[1 - i].state;
        let e = &mut self.ep[i];
        if s != e.state {
            if !is_handshake(s) && is_handshake(e.state) && is_handshake(peer_state) {
                self.timers.handshake_done = true;
            }
            e.prev_state = e.state;
            e.state = s;
        }
    }

    /// Zeek's `IsReuse`: a SYN that starts a new connection on the same 5-tuple.
    pub fn is_reuse(&self, flags: u8, seq: u32) -> bool {
        if flags & SYN == 0 {
            return false;
        }
        let conn_orig = if flags & ACK != 0 {
            if self.ep[0].state != EpState::Inactive {
                return false;
            }
            &self.ep[1]
        } else {
            &self.ep[0]
        };
        if self.is_active {
            if seq == conn_orig.start_seq {
                return false;
            }
            if flags & ACK == 0
                && conn_orig.state == EpState::SynAckSent
                && self.ep[1].state == EpState::Inactive
                && seq == self.ep[1].start_seq
            {
                return false;
            }
        }
        true
    }

    /// The endpoint states and sizes Zeek's `conn_state` function reads.
    pub fn sizes(&self) -> (u64, u64) {
        (self.ep[0].size(self.ep[1].state), self.ep[1].size(self.ep[0].state))
    }

    /// Whether the close is complete (so the connection is not "open" any more).
    pub fn closed(&self) -> bool {
        self.timers.remove_at.is_some() || !self.is_active
    }

    /// Processes one segment from direction `dir` (0 = originator). Returns true if the roles
    /// flipped (the caller swaps addresses, ports and counters; `ep` is already swapped).
    pub(crate) fn process(&mut self, dir: usize, s: &Segment<'_>, last_time: &mut i64, d: &mut Deliver<'_>) -> bool {
        let mut e = dir.min(1);
        let is_orig = e == 0;
        let f = s.flags;
        let (syn, fin, rst, ack) = (f & SYN != 0, f & FIN != 0, f & RST != 0, f & ACK != 0);
        self.set_partial_status(f, is_orig);

        let len = s.len;
        let mut seg_len = len as i64 + syn as i64 + fin as i64;
        if rst {
            seg_len -= len as i64;
        }
        let seq_one_past = s.seq.wrapping_add(seg_len as u32);
        self.init_endpoint(e, f, s.seq, seq_one_past);

        let (rel_seq, underflow) = {
            let ep = &self.ep[e];
            relative_seq(ep.start_seq, s.seq, ep.last_seq, ep.seq_wraps)
        };
        self.update_history(e, f, rel_seq, len as u64, d.hist);

        if s.window == 0 && !rst && self.ep[1 - e].state != EpState::Closed && self.ep[e].state != EpState::Reset && self.ep[e].win0.bump()
        {
            d.hist.add_ep(e == 0, b'W');
        }

        if !(self.ep[0].did_close && self.ep[1].did_close) {
            *last_time = s.ts;
        }
        if fin {
            let ep = &mut self.ep[e];
            ep.fin_cnt = ep.fin_cnt.saturating_add(1);
            ep.fin_seq = rel_seq.wrapping_add(seg_len as u64);
        }
        if rst {
            let ep = &mut self.ep[e];
            ep.rst_cnt = ep.rst_cnt.saturating_add(1);
        }

        let mut rel_ack = 0u64;
        if ack {
            let p = 1 - e;
            if self.ep[p].state == EpState::Inactive {
                rel_ack = 1;
                let start = s.ack.wrapping_sub(1);
                let peer = &mut self.ep[p];
                peer.init_start(start);
                peer.ack_seq = start;
                peer.last_seq = start;
            } else {
                let peer = &self.ep[p];
                let (ra, uf) = relative_seq(peer.start_seq, s.ack, peer.ack_seq, peer.ack_wraps);
                if uf {
                    rel_ack = 0;
                } else {
                    rel_ack = ra;
                    if !rst {
                        let peer = &mut self.ep[p];
                        let delta = seq_delta(s.ack, peer.ack_seq);
                        if s.ack == 0 && delta > TOO_LARGE_SEQ_DELTA {
                            // A broken ack rather than a connection landing on 0.
                        } else if delta > 0 {
                            peer.update_ack_seq(s.ack);
                        }
                    }
                }
            }
        }

        let delta_last = self.update_last_seq(e, seq_one_past, f, len, d.hist);

        let mut do_close = false;
        let mut gen_event = false;
        let mut flipped = false;
        match self.ep[e].state {
            EpState::Inactive => self.update_inactive(&mut e, s, is_orig, &mut do_close, &mut gen_event, &mut flipped, d.hist),
            EpState::SynSent | EpState::SynAckSent => {
                if fin {
                    self.set_state(e, EpState::Closed);
                    do_close = true;
                    gen_event = true;
                }
                if rst {
                    self.set_state(e, EpState::Reset);
                    self.is_active = false;
                    do_close = true;
                }
            }
            EpState::Established | EpState::Partial => {
                if syn && self.ep[e].state == EpState::Partial && self.ep[1 - e].state == EpState::Inactive && !ack {
                    self.set_state(e, EpState::SynSent);
                }
                if fin && !rst {
                    self.set_state(e, EpState::Closed);
                    let p = 1 - e;
                    if self.ep[p].state == EpState::Reset && self.ep[p].prev_state == EpState::Closed {
                        // A FIN followed by a RST from the peer: normal termination after all.
                        self.set_state(p, EpState::Closed);
                    }
                    do_close = true;
                    gen_event = true;
                }
                if rst {
                    self.set_state(e, EpState::Reset);
                    do_close = true;
                    let p = &self.ep[1 - e];
                    if p.state != EpState::Reset || p.prev_state != EpState::Established {
                        self.is_active = false;
                    }
                }
            }
            EpState::Closed => {
                let _ = delta_last;
                if rst && self.ep[1 - e].state != EpState::Closed {
                    self.set_state(e, EpState::Reset);
                    if !self.ep[e].did_close {
                        do_close = true;
                    }
                    // Zeek's reset timer removes the connection tcp_reset_delay later.
                    let at = s.ts.saturating_add(self.close_delay_ns);
                    self.timers.remove_at = Some(self.timers.remove_at.map_or(at, |t| t.min(at)));
                }
            }
            EpState::Reset => {}
        }

        if ack {
            self.ack_received(1 - e, rel_ack, s.ts, d);
        }

        let rel_data_seq = if syn { rel_seq.wrapping_add(1) } else { rel_seq };
        // Zeek hands a segment to the reassembler only when its payload was captured in full.
        if len > 0 && !rst && !underflow && s.data.len() >= len as usize {
            let data = s.data.get(..len as usize).unwrap_or(&[]);
            self.data_sent(e, rel_data_seq, data, s.ts, d);
        }

        if do_close {
            self.connection_closed(e, gen_event, *last_time);
        }
        flipped
    }

    fn set_partial_status(&mut self, f: u8, is_orig: bool) {
        if is_orig {
            if self.first_packet_seen & 1 == 0 {
                self.is_partial = f & SYN == 0 || f & ACK != 0;
            }
        } else if self.first_packet_seen & 2 == 0 && !self.is_partial {
            self.is_partial = f & SYN == 0;
        }
        self.first_packet_seen |= if is_orig { 1 } else { 2 };
    }

    fn init_endpoint(&mut self, i: usize, f: u8, first_seq: u32, mut last_seq: u32) {
        let peer_state = self.ep[1 - i].state;
        let ep = &mut self.ep[i];
        let syn = f & SYN != 0;
        match ep.state {
            EpState::Inactive => {
                if syn {
                    ep.ack_seq = first_seq;
                    ep.init_start(first_seq);
                } else {
                    // A partial connection: number as though a SYN had been seen.
                    let s = first_seq.wrapping_sub(1);
                    ep.ack_seq = s;
                    ep.init_start(s);
                    last_seq = first_seq;
                }
                ep.last_seq = last_seq;
            }
            EpState::SynSent | EpState::SynAckSent => {
                if syn && first_seq != ep.start_seq {
                    ep.init_start(first_seq);
                    ep.ack_seq = first_seq;
                    ep.last_seq = last_seq;
                }
            }
            EpState::Established | EpState::Partial => {
                if syn {
                    let _ = peer_state;
                    ep.init_start(first_seq);
                    ep.ack_seq = first_seq;
                    ep.last_seq = last_seq;
                }
            }
            EpState::Reset => {
                if syn && ep.prev_state == EpState::Inactive {
                    ep.init_start(first_seq);
                    ep.ack_seq = first_seq;
                    ep.last_seq = last_seq;
                }
            }
            EpState::Closed => {}
        }
    }

    fn update_history(&mut self, i: usize, f: u8, rel_seq: u64, len: u64, h: &mut History) {
        let is_orig = i == 0;
        let ep = &mut self.ep[i];
        let (syn, fin, rst, ack) = (f & SYN != 0, f & FIN != 0, f & RST != 0, f & ACK != 0);
        let bits = syn as u8 + fin as u8 + rst as u8;
        if bits > 1 {
            if fin && rst {
                h.check_ep(is_orig, HIST_FIN_RST_PKT, b'I');
            } else {
                h.check_ep(is_orig, HIST_MULTI_FLAG_PKT, b'Q');
            }
        } else if bits == 1 {
            if syn {
                let code = if ack { b'H' } else { b'S' };
                if h.check_ep(is_orig, HIST_SYN_PKT, code) && rel_seq != ep.hist_last_syn {
                    h.add_ep(is_orig, code);
                }
                ep.hist_last_syn = rel_seq;
            }
            if fin {
                let at = rel_seq.wrapping_add(len);
                if h.check_ep(is_orig, HIST_FIN_PKT, b'F') && at != ep.hist_last_fin {
                    h.add_ep(is_orig, b'F');
                }
                ep.hist_last_fin = at;
            }
            if rst {
                if h.check_ep(is_orig, HIST_RST_PKT, b'R') && rel_seq != ep.hist_last_rst {
                    h.add_ep(is_orig, b'R');
                }
                ep.hist_last_rst = rel_seq;
            }
        } else if len > 0 {
            h.check_ep(is_orig, HIST_DATA_PKT, b'D');
        } else if ack {
            h.check_ep(is_orig, HIST_ACK_PKT, b'A');
        }
    }

    fn update_last_seq(&mut self, i: usize, last_seq: u32, f: u8, len: u32, h: &mut History) -> i32 {
        let ep = &mut self.ep[i];
        let delta = seq_delta(last_seq, ep.last_seq);
        let (syn, fin, rst) = (f & SYN != 0, f & FIN != 0, f & RST != 0);
        if (syn || rst) && !(-TOO_LARGE_SEQ_DELTA..=TOO_LARGE_SEQ_DELTA).contains(&delta) {
            // Implausible jump on a control packet: ignore.
        } else if fin && ep.last_seq == ep.start_seq.wrapping_add(1) {
            // Only the SYN and the FIN seen (possibly a > 2 GB connection): trust the FIN.
            ep.update_last_seq(last_seq);
        } else if ep.state == EpState::Reset {
            // Nothing after a RST is trusted.
        } else if delta > 0 {
            ep.update_last_seq(last_seq);
        } else if len > 0 && ep.rxmt.bump() {
            h.add_ep(i == 0, b'T');
        }
        delta
    }

    #[allow(clippy::too_many_arguments)]
    fn update_inactive(
        &mut self,
        e: &mut usize,
        s: &Segment<'_>,
        is_orig: bool,
        do_close: &mut bool,
        gen_event: &mut bool,
        flipped: &mut bool,
        h: &mut History,
    ) {
        let f = s.flags;
        let (syn, fin, rst, ack) = (f & SYN != 0, f & FIN != 0, f & RST != 0, f & ACK != 0);
        if syn {
            if is_orig {
                self.set_state(*e, if ack { EpState::SynAckSent } else { EpState::SynSent });
                self.timers.attempt_since.get_or_insert(s.ts);
            } else {
                if !ack && self.ep[1 - *e].state == EpState::SynAckSent && s.seq == self.ep[*e].start_seq {
                    // The SYN-ACK was seen before the SYN (e.g. two capture interfaces):
                    // flip the roles and establish.
                    self.is_partial = false;
                    self.flip(h);
                    *e = 1 - *e;
                    *flipped = true;
                    self.set_state(1 - *e, EpState::Established);
                    self.first_packet_seen |= 1;
                }
                let p = 1 - *e;
                if self.ep[p].state == EpState::SynSent {
                    self.set_state(p, EpState::Established);
                }
                self.set_state(*e, EpState::Established);
            }
        }
        if fin {
            self.set_state(*e, EpState::Closed);
            *do_close = true;
            *gen_event = true;
        }
        if rst {
            self.set_state(*e, EpState::Reset);
            let p = self.ep[1 - *e].state;
            let is_reject = if is_orig { p == EpState::Established } else { p == EpState::SynSent || p == EpState::SynAckSent };
            *do_close = true;
            *gen_event = !is_reject;
        }
        if self.ep[*e].state == EpState::Inactive {
            if !is_orig && s.len == 0 && self.ep[0].state == EpState::SynSent {
                // An ACK of the SYN before the SYN-ACK: not a partial connection.
            } else if ack && self.ep[1 - *e].state == EpState::Established {
                // The SYN was missed but the SYN-ACK seen: establish.
                self.set_state(*e, EpState::Established);
                self.is_partial = false;
                self.first_packet_seen |= if is_orig { 1 } else { 2 };
            } else {
                self.set_state(*e, EpState::Partial);
            }
        }
    }

    /// Zeek's `TCPSessionAdapter::FlipRoles` plus the `^` history letter.
    pub fn flip(&mut self, h: &mut History) {
        self.ep.swap(0, 1);
        let o = self.first_packet_seen & 1;
        let r = self.first_packet_seen & 2;
        self.first_packet_seen = (o << 1) | (r >> 1);
        self.is_partial = false;
        h.add(b'^');
    }

    fn connection_closed(&mut self, e: usize, gen_event: bool, last_time: i64) {
        if self.ep[e].did_close {
            return;
        }
        self.ep[e].did_close = true;
        let p = &self.ep[1 - e];
        let complete = self.ep[e].state == EpState::Reset || p.did_close || p.state == EpState::Inactive;
        if complete {
            if (self.ep[e].prev_state != EpState::Inactive || p.state != EpState::Inactive) && gen_event {
                self.is_active = false;
            }
            self.timers.attempt_since = None;
            let at = last_time.saturating_add(self.close_delay_ns);
            self.timers.remove_at = Some(self.timers.remove_at.map_or(at, |t| t.min(at)));
        }
    }

    /// The peer of `i` acknowledged up to `rel` in `i`'s stream: data below it that was never
    /// seen is a content gap.
    fn ack_received(&mut self, i: usize, mut rel: u64, ts: i64, d: &mut Deliver<'_>) {
        let ep = &self.ep[i];
        if ep.fin_cnt > 0 && rel >= ep.fin_seq {
            rel = ep.fin_seq.saturating_sub(1);
        }
        if rel <= ep.reasm.trim_seq {
            return;
        }
        if rel > self.ep[i].reasm.last_reassem {
            self.undelivered(i, rel, ts, d);
        }
        let r = &mut self.ep[i].reasm;
        r.blocks.retain(|b| b.upper > rel);
        r.trim_seq = rel;
    }

    fn undelivered(&mut self, i: usize, up_to: u64, ts: i64, d: &mut Deliver<'_>) {
        if up_to <= 2 && self.is_partial {
            // The faked initial sequence of a partial connection: not a real gap.
            return;
        }
        if !self.ep[i].reasm.skip {
            loop {
                let (bseq, last) = {
                    let r = &self.ep[i].reasm;
                    match r.blocks.first() {
                        Some(b) if b.seq < up_to => (b.seq, r.last_reassem),
                        _ => break,
                    }
                };
                if bseq > last {
                    self.gap(i, bseq - last, d);
                    self.ep[i].reasm.last_reassem = bseq;
                }
                self.deliver_ready(i, ts, d);
            }
            let last = self.ep[i].reasm.last_reassem;
            if up_to > last {
                self.gap(i, up_to - last, d);
            }
        }
        let r = &mut self.ep[i].reasm;
        if up_to > r.last_reassem {
            r.last_reassem = up_to;
        }
    }

    fn gap(&mut self, i: usize, len: u64, d: &mut Deliver<'_>) {
        if len == 0 {
            return;
        }
        if is_clean(&self.ep[i]) && is_clean(&self.ep[1 - i]) {
            if self.ep[i].gap.bump() {
                d.hist.add_ep(i == 0, b'G');
            }
            *d.missed = d.missed.saturating_add(len);
        }
        d.feed.gap(i, len);
    }

    /// Delivers every block that starts at or below the reassembly point.
    fn deliver_ready(&mut self, i: usize, ts: i64, d: &mut Deliver<'_>) {
        loop {
            let r = &mut self.ep[i].reasm;
            let Some(b) = r.blocks.first() else { break };
            if b.seq > r.last_reassem {
                break;
            }
            let b = r.blocks.remove(0);
            if b.upper > r.last_reassem {
                let skip = (r.last_reassem - b.seq) as usize;
                r.last_reassem = b.upper;
                match b.data.as_deref().and_then(|data| data.get(skip..)) {
                    Some(rest) => d.feed.data(d.key, i, Timestamp(ts), rest),
                    // Bytes seen but not kept (over the budget): the parser must not splice
                    // what follows onto what came before.
                    None => d.feed.gap(i, b.upper - b.seq - skip as u64),
                }
            }
        }
    }

    fn data_sent(&mut self, i: usize, mut seq: u64, mut data: &[u8], ts: i64, d: &mut Deliver<'_>) {
        let ack = self.ep[i].rel_ack();
        if self.ep[i].reasm.skip {
            return;
        }
        let upper = seq.saturating_add(data.len() as u64);
        if seq < ack {
            if upper <= ack {
                return;
            }
            let n = (ack - seq) as usize;
            data = data.get(n..).unwrap_or(&[]);
            seq = ack;
        }
        self.new_block(i, seq, data, ts, d);
        let ep = &self.ep[i];
        if ep.no_data_acked() && ep.reasm.undelivered_bytes() > MAX_ABOVE_HOLE_WITHOUT_ACKS {
            let r = &mut self.ep[i].reasm;
            r.blocks.clear();
            r.skip = true;
        }
    }

    fn new_block(&mut self, i: usize, seq: u64, data: &[u8], ts: i64, d: &mut Deliver<'_>) {
        let upper = seq.saturating_add(data.len() as u64);
        let r = &mut self.ep[i].reasm;
        let floor = r.last_reassem.max(r.trim_seq);
        if upper <= floor || data.is_empty() {
            return;
        }
        let (seq, data) = if seq < floor {
            let n = (floor - seq) as usize;
            (floor, data.get(n..).unwrap_or(&[]))
        } else {
            (seq, data)
        };
        if seq == r.last_reassem {
            r.last_reassem = upper;
            // Blocks now entirely below the reassembly point are redundant.
            r.blocks.retain(|b| b.upper > upper);
            d.feed.data(d.key, i, Timestamp(ts), data);
            self.deliver_ready(i, ts, d);
            return;
        }
        // Out of order: remember the range (and the bytes while the parser still wants them).
        // Bytes are kept only while the parser still wants them, inside the budget, and while
        // the out-of-order bytes already held stay within the budget too: a flow cannot make
        // Vigil buffer more than about one budget per direction.
        let held: usize = r.blocks.iter().map(|b| b.data.as_ref().map_or(0, |d| d.len())).sum();
        let keep =
            d.feed.wants(i, d.key.budget) && seq < d.key.budget as u64 + 1 && held.saturating_add(data.len()) <= d.key.budget as usize;
        let mut new = Block { seq, upper, data: keep.then(|| data.to_vec().into_boxed_slice()) };
        // Merge with overlapping blocks, keeping already-stored bytes where they overlap.
        let mut idx = 0;
        while idx < r.blocks.len() {
            let b = &r.blocks[idx];
            if b.upper < new.seq || b.seq > new.upper {
                idx += 1;
                continue;
            }
            let b = r.blocks.remove(idx);
            let lo = b.seq.min(new.seq);
            let hi = b.upper.max(new.upper);
            let merged = match (&b.data, &new.data) {
                (Some(bd), Some(nd)) => {
                    let mut v = vec![0u8; (hi - lo) as usize];
                    let put = |v: &mut Vec<u8>, at: u64, src: &[u8]| {
                        let off = (at - lo) as usize;
                        if let Some(dst) = v.get_mut(off..off + src.len()) {
                            dst.copy_from_slice(src);
                        }
                    };
                    put(&mut v, new.seq, nd);
                    put(&mut v, b.seq, bd);
                    Some(v.into_boxed_slice())
                }
                _ => None,
            };
            new = Block { seq: lo, upper: hi, data: merged };
        }
        let pos = r.blocks.partition_point(|b| b.seq < new.seq);
        r.blocks.insert(pos, new);
        if r.blocks.len() > MAX_BLOCKS {
            r.blocks.clear();
            r.skip = true;
        }
    }
}

/// Zeek's `conn_state` for TCP.
pub fn conn_state(t: &TcpConn, history: &str) -> vigil_model::ConnState {
    use vigil_model::ConnState as C;
    let os = t.ep[0].state;
    let rs = t.ep[1].state;
    let o_inactive = matches!(os, EpState::Inactive | EpState::Partial);
    let r_inactive = matches!(rs, EpState::Inactive | EpState::Partial);
    if rs == EpState::Reset {
        let (osz, rsz) = t.sizes();
        if matches!(os, EpState::SynSent | EpState::SynAckSent) || (os == EpState::Reset && osz == 0 && rsz == 0) {
            C::REJ
        } else if o_inactive {
            C::RSTRH
        } else {
            C::RSTR
        }
    } else if os == EpState::Reset {
        if r_inactive { if rstos0_history(history) { C::RSTOS0 } else { C::OTH } } else { C::RSTO }
    } else if rs == EpState::Closed && os == EpState::Closed {
        C::SF
    } else if os == EpState::Closed {
        if r_inactive { C::SH } else { C::S2 }
    } else if rs == EpState::Closed {
        if o_inactive { C::SHR } else { C::S3 }
    } else if os == EpState::SynSent && rs == EpState::Inactive {
        C::S0
    } else if os == EpState::Established && rs == EpState::Established {
        C::S1
    } else {
        C::OTH
    }
}

/// `/\^?S[^HAFGIQ]*R.*/` matched against the whole history.
fn rstos0_history(h: &str) -> bool {
    let b = h.as_bytes();
    let b = b.strip_prefix(b"^").unwrap_or(b);
    let Some(rest) = b.strip_prefix(b"S") else { return false };
    for &c in rest {
        match c {
            b'R' => return true,
            b'H' | b'A' | b'F' | b'G' | b'I' | b'Q' => return false,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rstos0_pattern() {
        assert!(rstos0_history("SR"));
        assert!(rstos0_history("^SdR"));
        assert!(!rstos0_history("SAR"));
        assert!(!rstos0_history("R"));
        assert!(!rstos0_history("SHR"));
        assert!(rstos0_history("ShrR"));
    }

    #[test]
    fn relative_seq_handles_wrap_and_underflow() {
        assert_eq!(relative_seq(100, 150, 120, 0), (50, false));
        let (v, uf) = relative_seq(100, 90, 120, 0);
        assert!(uf);
        assert_eq!(v as i64, -10);
        // Crossing 2^32: last near the top, current small.
        assert_eq!(relative_seq(u32::MAX - 10, 5, u32::MAX - 2, 0).0, 16);
    }
}
