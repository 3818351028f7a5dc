//! Small helpers shared by every importer: Community ID v1, stable uids, the RFC 1918/4193
//! "internal address" heuristic and a Zeek-like `conn_state` from TCP flags (for sources that
//! only carry flags, such as NetFlow and Suricata flow events).

use std::net::IpAddr;
use vigil_model::{ConnState, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP};

/// Community ID v1 (seed 0) of a flow, "1:base64(sha1(...))". For ICMP, `sport` is the type
/// and `dport` the code, as in Zeek; the shared implementation maps them to port equivalents.
pub fn community_id(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, proto: u8) -> String {
    // Every byte is ASCII.
    String::from_utf8(community_id_text(src, sport, dst, dport, proto).to_vec()).unwrap_or_default()
}

/// [`community_id`] as its 30 ASCII bytes, without allocating.
pub fn community_id_text(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, proto: u8) -> [u8; 30] {
    use vigil_model::community_id::{community_id_v1_text, icmp_ports};
    if proto == PROTO_ICMP || proto == PROTO_ICMPV6 {
        let (sp, dp, one_way) = icmp_ports(proto == PROTO_ICMPV6, sport as u8, dport as u8);
        return community_id_v1_text(0, src, dst, proto, sp, dp, one_way);
    }
    community_id_v1_text(0, src, dst, proto, sport, dport, false)
}

/// A Zeek-style uid ("C" + base62) derived from the record's identity, so importing the same
/// input twice yields the same uids.
pub fn stable_uid(parts: &[&[u8]]) -> String {
    // Every byte is ASCII.
    String::from_utf8(stable_uid_text(parts).to_vec()).unwrap_or_default()
}

/// [`stable_uid`] as its 12 ASCII bytes, without allocating.
pub fn stable_uid_text(parts: &[&[u8]]) -> [u8; 12] {
    // Eight bytes per step (a byte-at-a-time hash was a visible share of NetFlow import time);
    // each part's length is mixed in so part boundaries matter.
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mix = |h: u64, v: u64| (h ^ v).wrapping_mul(K).rotate_left(29);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        let mut chunks = p.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = mix(h, u64::from_le_bytes(w));
        }
        // The tail as a little-endian word (shifts, not a variable-length copy: that was a
        // `memcpy` call per part).
        let mut tail = 0u64;
        for (i, &b) in chunks.remainder().iter().enumerate() {
            tail |= u64::from(b) << (8 * i);
        }
        h = mix(h, tail);
        h = mix(h, p.len() as u64 | 0xff00_0000_0000_0000);
    }
    // Final avalanche (MurmurHash3 fmix64), so every input bit reaches every uid character.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    const ALPHA: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut text = [b'C'; 12];
    // Digits from the top: treat h as a fraction of 2^64 and multiply out one base-62 digit at a
    // time (one widening multiply per digit instead of a 64-bit division).
    let mut x = h;
    for d in text.iter_mut().skip(1) {
        let m = u128::from(x) * 62;
        *d = ALPHA[((m >> 64) as usize).min(61)];
        x = m as u64;
    }
    text
}

/// Seconds from `b` to `a` without overflow, whatever the (attacker-chosen) timestamps.
pub fn secs_between(a: vigil_model::Timestamp, b: vigil_model::Timestamp) -> f64 {
    (a.0 as i128 - b.0 as i128) as f64 / 1e9
}

/// RFC 1918 / RFC 4193 / link-local / loopback: the default notion of "internal" when no site
/// file says otherwise (the same default the CLI documents).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            v.is_private() || v.is_loopback() || v.is_link_local() || {
                let o = v.octets();
                o[0] == 100 && (o[1] & 0xc0) == 64 // CGNAT 100.64/10
            }
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80 || v.is_loopback()
        }
    }
}

/// TCP flag bits as NetFlow/IPFIX `tcpControlBits` and Suricata `tcp_flags` carry them.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

/// Zeek's conn_state from the OR of TCP flags seen in each direction: the best a flow summary
/// allows (no ordering), erring toward the weaker state.
pub fn conn_state_from_flags(proto: u8, orig: u8, resp: u8, resp_pkts: u64) -> ConnState {
    if proto != PROTO_TCP {
        return if resp_pkts > 0 { ConnState::SF } else { ConnState::S0 };
    }
    if orig == 0 && resp == 0 {
        return ConnState::OTH;
    }
    let o_syn = orig & SYN != 0;
    let r_syn = resp & SYN != 0;
    if o_syn && resp_pkts == 0 {
        return if orig & RST != 0 {
            ConnState::RSTOS0
        } else if orig & FIN != 0 {
            ConnState::SH
        } else {
            ConnState::S0
        };
    }
    if o_syn && !r_syn && resp & RST != 0 {
        return ConnState::REJ;
    }
    if !o_syn {
        return if r_syn && resp & RST != 0 {
            ConnState::RSTRH
        } else if r_syn && resp & FIN != 0 {
            ConnState::SHR
        } else {
            ConnState::OTH
        };
    }
    if !r_syn {
        return ConnState::OTH;
    }
    if orig & RST != 0 {
        return ConnState::RSTO;
    }
    if resp & RST != 0 {
        return ConnState::RSTR;
    }
    match (orig & FIN != 0, resp & FIN != 0) {
        (true, true) => ConnState::SF,
        (true, false) => ConnState::S2,
        (false, true) => ConnState::S3,
        (false, false) => ConnState::S1,
    }
}

/// Zeek-like history letters from per-direction TCP flags (upper case originator).
pub fn history_from_flags(orig: u8, resp: u8, orig_pkts: u64, resp_pkts: u64) -> String {
    let (letters, n) = history_letters(orig, resp, orig_pkts, resp_pkts);
    letters.get(..n).unwrap_or_default().iter().map(|&b| char::from(b)).collect()
}

/// [`history_from_flags`] as ASCII letters and their count, without allocating.
pub fn history_letters(orig: u8, resp: u8, orig_pkts: u64, resp_pkts: u64) -> ([u8; 9], usize) {
    let letters = [
        (orig & SYN != 0, b'S'),
        (resp & SYN != 0 && resp & ACK != 0, b'h'),
        (orig & ACK != 0, b'A'),
        (orig_pkts > 1 || (orig_pkts > 0 && orig & SYN == 0), b'D'),
        (resp_pkts > 1 || (resp_pkts > 0 && resp & SYN == 0), b'd'),
        (orig & FIN != 0, b'F'),
        (resp & FIN != 0, b'f'),
        (orig & RST != 0, b'R'),
        (resp & RST != 0, b'r'),
    ];
    let mut out = [0u8; 9];
    let mut n = 0;
    for (on, l) in letters {
        if on && let Some(slot) = out.get_mut(n) {
            *slot = l;
            n += 1;
        }
    }
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn community_id_matches_spec_examples() {
        // From the Community ID spec's baseline (tcp, seed 0).
        let a: IpAddr = "128.232.110.120".parse().unwrap();
        let b: IpAddr = "66.35.250.204".parse().unwrap();
        assert_eq!(community_id(a, 34855, b, 80, 6), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        assert_eq!(community_id(b, 80, a, 34855, 6), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    }

    #[test]
    fn states_from_flags() {
        assert_eq!(conn_state_from_flags(6, SYN, 0, 0), ConnState::S0);
        assert_eq!(conn_state_from_flags(6, SYN, RST | ACK, 1), ConnState::REJ);
        assert_eq!(conn_state_from_flags(6, SYN | ACK | FIN, SYN | ACK | FIN, 3), ConnState::SF);
        assert_eq!(conn_state_from_flags(6, SYN | ACK | RST, SYN | ACK, 3), ConnState::RSTO);
        assert_eq!(conn_state_from_flags(17, 0, 0, 1), ConnState::SF);
    }

    #[test]
    fn internal_heuristic() {
        assert!(is_internal("10.1.2.3".parse().unwrap()));
        assert!(is_internal("fd00::1".parse().unwrap()));
        assert!(!is_internal("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn uids_are_stable_and_distinct() {
        assert_eq!(stable_uid(&[b"a", b"b"]), stable_uid(&[b"a", b"b"]));
        assert_ne!(stable_uid(&[b"ab"]), stable_uid(&[b"a", b"b"]));
        assert!(stable_uid(&[b"x"]).starts_with('C'));
    }
}

/// A `Hasher` that passes a precomputed, already keyed hash straight through (`write_u64`), for
/// maps whose keys carry their own hash. Anything written as bytes is folded in rather than lost.
#[derive(Default)]
pub struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// The state of a connection known only from application records (a Zeek app log without its
/// conn.log, Suricata app events without their flow): an established TLS handshake or a logged
/// response (a DNS rcode, an HTTP status) proves the responder answered, so it is established
/// as Zeek's conn.log would say (SF for an answered UDP exchange, S1 for a TCP session seen
/// established). None without one. Without this, a recursive resolver's answered lookups read
/// from a lone dns.log looked like unanswered 53/udp probes to a hundred servers: a horizontal
/// scan.
pub fn answered_state(app: &vigil_model::AppMeta, proto: u8) -> Option<vigil_model::ConnState> {
    let answered = app.tls.as_ref().is_some_and(|t| t.established)
        || app.dns.iter().any(|t| t.rcode.is_some())
        || app.http.iter().any(|t| t.status_code.is_some());
    answered.then_some(if proto == vigil_model::PROTO_UDP { vigil_model::ConnState::SF } else { vigil_model::ConnState::S1 })
}
