//! TCP conversations: handshake, data in MSS-sized segments with delayed ACKs, and teardown,
//! with consistent sequence and acknowledgement numbers and no retransmissions.
//!
//! A conversation is a plan (who talks, how much, with which pauses) rendered into timestamped
//! frames. Time is modelled from the sensor's point of view: a packet answering one the sensor
//! just saw appears after the answering side's latency (near side: tens of microseconds; far
//! side: the round-trip time).

use crate::wire::{self, Endpoint, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A frame and when the sensor saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkt {
    /// Microseconds since the Unix epoch.
    pub ts_us: i64,
    /// The stored bytes (possibly shorter than on the wire).
    pub data: Vec<u8>,
    /// The length on the wire.
    pub orig_len: u32,
}

impl Pkt {
    pub fn full(ts_us: i64, data: Vec<u8>) -> Self {
        let orig_len = data.len() as u32;
        Pkt { ts_us, data, orig_len }
    }
}

pub const MSS: usize = 1460;
/// Segment size once a message's stored head is used up. The rest of a message is recorded the
/// way a capture on a host with segmentation/receive offload (TSO/GRO) shows it: one large
/// frame for many wire segments, payload not stored (snap length). Byte counts, sequence
/// numbers and timing stay exact while a multi-gigabyte backup costs thousands of records
/// instead of millions.
pub const BULK_SEG: usize = 43 * MSS;
/// Payload bytes stored per segment once a message's materialised head is used up.
const SYN_OPTIONS: [u8; 12] = [2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2];
const SYNACK_OPTIONS: [u8; 12] = [2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7];
/// With the window scales above (2^8 / 2^7) these advertise about 2 MB.
const WINDOW_CLIENT: u16 = 8000;
const WINDOW_SERVER: u16 = 16000;
/// Bytes in flight are kept below this so no window ever fills.
const MAX_IN_FLIGHT: f64 = 1_000_000.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    ClientToServer,
    ServerToClient,
}

/// One application message: `len` bytes on the wire, of which `head` (a prefix) is materialised
/// and stored; the rest is stored as headers only.
#[derive(Clone, Debug)]
pub struct Msg {
    pub dir: Dir,
    pub head: Vec<u8>,
    pub len: u64,
    /// Think time before the message is sent, in microseconds.
    pub pause_us: i64,
}

impl Msg {
    pub fn c(bytes: Vec<u8>) -> Self {
        Msg { dir: Dir::ClientToServer, len: bytes.len() as u64, head: bytes, pause_us: 0 }
    }
    pub fn s(bytes: Vec<u8>) -> Self {
        Msg { dir: Dir::ServerToClient, len: bytes.len() as u64, head: bytes, pause_us: 0 }
    }
    pub fn after(mut self, pause_us: i64) -> Self {
        self.pause_us = pause_us;
        self
    }
}

/// How the conversation ends (or fails to start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Handshake, messages, then FIN from the client and FIN from the server.
    Closed,
    /// Handshake, messages, then the client resets.
    Reset,
    /// The server answers the SYN with RST/ACK (closed port).
    Refused,
    /// The SYN goes unanswered (filtered); no retransmission is recorded.
    Unanswered,
    /// SYN, SYN/ACK, then the client resets (a half-open scan probe).
    HalfOpen,
}

#[derive(Clone, Debug)]
pub struct TcpPlan {
    pub client: Endpoint,
    pub server: Endpoint,
    pub start_us: i64,
    pub rtt_us: i64,
    /// Whether the sensor sits next to the client (true) or the server.
    pub near_client: bool,
    /// Sending rate for multi-segment messages, bytes per second.
    pub rate: f64,
    pub msgs: Vec<Msg>,
    pub outcome: Outcome,
    /// Pause before the teardown, microseconds.
    pub linger_us: i64,
}

struct Side {
    ep: Endpoint,
    seq: u32,
    ip_id: u16,
    window: u16,
    /// When this side first sent a segment with a scaled window (before that, its peer only
    /// knows the unscaled SYN window).
    scaled_since: Option<i64>,
}

/// The unscaled window carried in SYN and SYN/ACK.
const SYN_WINDOW: u16 = 64240;

/// Renders the plan into frames (in time order).
pub fn render(plan: &TcpPlan, rng: &mut ChaCha8Rng) -> Vec<Pkt> {
    let mut out = Vec::new();
    let mut c = Side { ep: plan.client, seq: rng.r#gen(), ip_id: rng.r#gen(), window: WINDOW_CLIENT, scaled_since: None };
    let mut s = Side { ep: plan.server, seq: rng.r#gen(), ip_id: rng.r#gen(), window: WINDOW_SERVER, scaled_since: None };
    let near = || rng_small(plan.start_us);
    let (lat_c, lat_s) = if plan.near_client { (near(), plan.rtt_us.max(1)) } else { (plan.rtt_us.max(1), near()) };
    let mut t = plan.start_us;

    let push =
        |out: &mut Vec<Pkt>, ts: i64, from: &mut Side, to: &Side, ack: u32, flags: u8, opts: &[u8], payload: &[u8], wire_len: usize| {
            from.ip_id = from.ip_id.wrapping_add(1);
            let win = if flags & TCP_SYN != 0 {
                SYN_WINDOW
            } else {
                from.scaled_since = Some(from.scaled_since.map_or(ts, |x| x.min(ts)));
                from.window
            };
            let data = wire::tcp_frame_snapped(&from.ep, &to.ep, from.ip_id, from.seq, ack, flags, win, opts, payload, wire_len);
            let orig_len = (data.len() - payload.len() + wire_len) as u32;
            out.push(Pkt { ts_us: ts, data, orig_len });
        };

    // Handshake.
    push(&mut out, t, &mut c, &s, 0, TCP_SYN, &SYN_OPTIONS, &[], 0);
    c.seq = c.seq.wrapping_add(1);
    match plan.outcome {
        Outcome::Unanswered => return out,
        Outcome::Refused => {
            t += lat_s;
            let ack = c.seq;
            s.seq = 0;
            push(&mut out, t, &mut s, &c, ack, TCP_RST | TCP_ACK, &[], &[], 0);
            // A closed port's RST carries a window of zero on most stacks; ours says 0 too.
            if let Some(p) = out.last_mut() {
                p.data[14 + 20 + 14] = 0;
                p.data[14 + 20 + 15] = 0;
                fix_tcp_checksum(&mut p.data);
            }
            return out;
        }
        _ => {}
    }
    t += lat_s;
    let ack = c.seq;
    push(&mut out, t, &mut s, &c, ack, TCP_SYN | TCP_ACK, &SYNACK_OPTIONS, &[], 0);
    s.seq = s.seq.wrapping_add(1);
    t += lat_c;
    if plan.outcome == Outcome::HalfOpen {
        let ack = s.seq;
        push(&mut out, t, &mut c, &s, ack, TCP_RST, &[], &[], 0);
        return out;
    }
    let ack = s.seq;
    push(&mut out, t, &mut c, &s, ack, TCP_ACK, &[], &[], 0);

    let rate = plan.rate.max(1000.0).min(MAX_IN_FLIGHT * 1e6 / (plan.rtt_us.max(1) as f64));
    for (mi, m) in plan.msgs.iter().enumerate() {
        t += m.pause_us.max(0) + 50;
        // When the receiver answers at once, its answer carries the ACK (no pure ACK).
        let piggyback = plan.msgs.get(mi + 1).is_some_and(|n| n.dir != m.dir && n.pause_us < 100_000);
        let (from, to, lat_to) = match m.dir {
            Dir::ClientToServer => (&mut c, &mut s, lat_s),
            Dir::ServerToClient => (&mut s, &mut c, lat_c),
        };
        let mut off: u64 = 0;
        let mut last_ack_ts = t;
        let mut ts = t;
        // ACKs scheduled but not yet seen by the sensor at `ts`: (time, bytes acknowledged).
        let mut pending: std::collections::VecDeque<(i64, u64)> = std::collections::VecDeque::new();
        let mut acked: u64 = 0;
        let mut i: u64 = 0;
        loop {
            let seg_max = if (off as usize) < m.head.len() { MSS } else { BULK_SEG };
            let seg_len = (m.len - off).min(seg_max as u64) as usize;
            // Never exceed the window the receiver has announced (as the sensor saw it).
            loop {
                while pending.front().is_some_and(|&(at, _)| at <= ts) {
                    acked = pending.pop_front().map_or(acked, |(_, a)| a);
                }
                let window = match to.scaled_since {
                    Some(since) if since <= ts => MAX_IN_FLIGHT as u64,
                    _ => SYN_WINDOW as u64 - MSS as u64,
                };
                if off - acked + seg_len as u64 <= window {
                    break;
                }
                match pending.front() {
                    Some(&(at, _)) => ts = ts.max(at + 1),
                    None => break,
                }
            }
            let h0 = (off as usize).min(m.head.len());
            let h1 = (off as usize + seg_len).min(m.head.len());
            let last = off + seg_len as u64 >= m.len;
            let flags = TCP_ACK | if last { TCP_PSH } else { 0 };
            let ack = to.seq;
            push(&mut out, ts, from, to, ack, flags, &[], &m.head[h0..h1], seg_len);
            from.seq = from.seq.wrapping_add(seg_len as u32);
            off += seg_len as u64;
            // Delayed ACK: every second segment (every fourth offloaded frame), and the last
            // one unless answered.
            if last && piggyback {
                last_ack_ts = ts + lat_to;
            } else if (if seg_len > MSS { i % 4 == 3 } else { i % 2 == 1 }) || last {
                let at = ts + lat_to;
                let ack = from.seq;
                // `to` answers; swap roles for the push.
                push(&mut out, at, to, from, ack, TCP_ACK, &[], &[], 0);
                pending.push_back((at, off));
                last_ack_ts = at;
            }
            if last {
                break;
            }
            ts += ((seg_len as f64 / rate) * 1e6) as i64 + 1;
            i += 1;
        }
        t = ts.max(last_ack_ts);
    }

    t += plan.linger_us.max(0) + 100;
    match plan.outcome {
        Outcome::Reset => {
            let ack = s.seq;
            push(&mut out, t, &mut c, &s, ack, TCP_RST | TCP_ACK, &[], &[], 0);
        }
        _ => {
            let ack = s.seq;
            push(&mut out, t, &mut c, &s, ack, TCP_FIN | TCP_ACK, &[], &[], 0);
            c.seq = c.seq.wrapping_add(1);
            t += lat_s;
            let ack = c.seq;
            push(&mut out, t, &mut s, &c, ack, TCP_FIN | TCP_ACK, &[], &[], 0);
            s.seq = s.seq.wrapping_add(1);
            t += lat_c;
            let ack = s.seq;
            push(&mut out, t, &mut c, &s, ack, TCP_ACK, &[], &[], 0);
        }
    }
    out.sort_by_key(|p| p.ts_us);
    out
}

/// The near side's reaction time: 40–200 µs, derived from the start time so it needs no RNG.
fn rng_small(seed: i64) -> i64 {
    40 + (seed.rem_euclid(161))
}

fn fix_tcp_checksum(frame: &mut [u8]) {
    let ip = &frame[14..34];
    let src = std::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = std::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    frame[34 + 16] = 0;
    frame[34 + 17] = 0;
    let c = wire::l4_checksum(src, dst, 6, &frame[34..]);
    frame[34 + 16..34 + 18].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::net::Ipv4Addr;

    pub(crate) fn ep(ip: [u8; 4], port: u16) -> Endpoint {
        Endpoint { mac: [2, 0, ip[0], ip[1], ip[2], ip[3]], ip: Ipv4Addr::from(ip), port, ttl: 64 }
    }

    /// (from_client, seq, ack, flags, payload length) of each frame.
    pub(crate) fn fields(p: &Pkt, client: Ipv4Addr) -> (bool, u32, u32, u8, usize) {
        let d = &p.data;
        let from_client = Ipv4Addr::new(d[26], d[27], d[28], d[29]) == client;
        let seq = u32::from_be_bytes(d[38..42].try_into().unwrap());
        let ack = u32::from_be_bytes(d[42..46].try_into().unwrap());
        let hl = ((d[46] >> 4) as usize) * 4;
        let total = u16::from_be_bytes([d[16], d[17]]) as usize;
        (from_client, seq, ack, d[47], total - 20 - hl)
    }

    /// Replays the frames through a minimal receiver model: every segment must start exactly
    /// where the sender's previous one ended (no gaps, no retransmissions), every ACK must
    /// acknowledge only bytes already sent and never go backwards, and once the conversation
    /// has ended everything sent has been acknowledged.
    pub(crate) fn check_seq_ack(pkts: &[Pkt], client: Ipv4Addr) {
        // Per side: next sequence number, last ACK sent.
        let mut next: [Option<u32>; 2] = [None, None];
        let mut acked: [Option<u32>; 2] = [None, None];
        for p in pkts {
            let (fc, seq, ack, flags, len) = fields(p, client);
            let (me, them) = if fc { (0, 1) } else { (1, 0) };
            if let Some(n) = next[me] {
                assert_eq!(seq, n, "sequence continues where it left off");
            }
            if flags & TCP_ACK != 0 {
                if let Some(t) = next[them] {
                    assert!(t.wrapping_sub(ack) < 1 << 30, "ACK {ack} beyond bytes sent {t}");
                }
                if let Some(a) = acked[me] {
                    assert!(ack.wrapping_sub(a) < 1 << 30, "ACK went backwards");
                }
                acked[me] = Some(ack);
            }
            let consumed = len as u32 + u32::from(flags & (TCP_SYN | TCP_FIN) != 0);
            next[me] = Some(seq.wrapping_add(consumed));
        }
        let last = pkts.last().map(|p| fields(p, client));
        let complete = next.iter().chain(&acked).all(Option::is_some);
        if last.is_some_and(|(_, _, _, flags, _)| flags & TCP_RST == 0) && complete {
            assert_eq!(acked[0], next[1], "client acknowledged all the server sent");
            assert_eq!(acked[1], next[0], "server acknowledged all the client sent");
        }
    }

    fn plan(outcome: Outcome, msgs: Vec<Msg>) -> TcpPlan {
        TcpPlan {
            client: ep([10, 30, 0, 5], 50123),
            server: ep([203, 0, 113, 9], 443),
            start_us: 1_000_000,
            rtt_us: 180_000,
            near_client: true,
            rate: 2e6,
            msgs,
            outcome,
            linger_us: 1000,
        }
    }

    #[test]
    fn handshake_data_and_teardown_have_consistent_numbers() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut big = Msg::c(vec![7u8; 100]);
        big.len = 50_000;
        let p = plan(Outcome::Closed, vec![Msg::c(b"GET / HTTP/1.1\r\n\r\n".to_vec()), Msg::s(vec![1u8; 4000]), big]);
        let pk = render(&p, &mut rng);
        check_seq_ack(&pk, p.client.ip);
        let flags: Vec<u8> = pk.iter().map(|x| x.data[47]).collect();
        assert_eq!(&flags[..3], &[TCP_SYN, TCP_SYN | TCP_ACK, TCP_ACK]);
        assert_eq!(flags[flags.len() - 1], TCP_ACK);
        assert!(flags.iter().filter(|f| **f & TCP_FIN != 0).count() == 2);
        assert!(pk.windows(2).all(|w| w[0].ts_us <= w[1].ts_us));
        // Bulk bytes beyond the head are stored as headers only, but the wire length is kept.
        let total: u64 = pk.iter().map(|x| fields(x, p.client.ip)).filter(|f| f.0).map(|f| f.4 as u64).sum();
        assert_eq!(total, 18 + 50_000);
        assert!(pk.iter().any(|x| (x.orig_len as usize) > x.data.len()));
    }

    #[test]
    fn failures_are_short() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let r = render(&plan(Outcome::Refused, vec![]), &mut rng);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].data[47], TCP_RST | TCP_ACK);
        check_seq_ack(&r, Ipv4Addr::new(10, 30, 0, 5));
        assert_eq!(wire::l4_checksum(Ipv4Addr::new(203, 0, 113, 9), Ipv4Addr::new(10, 30, 0, 5), 6, &r[1].data[34..]), 0);
        assert_eq!(render(&plan(Outcome::Unanswered, vec![]), &mut rng).len(), 1);
        let h = render(&plan(Outcome::HalfOpen, vec![]), &mut rng);
        assert_eq!(h.len(), 3);
        assert_eq!(h[2].data[47], TCP_RST);
    }
}
