//! Community ID v1 (<https://github.com/corelight/community-id-spec>): SHA-1 over
//! seed, ordered addresses, protocol, a zero pad byte and the ordered ports (ICMP types and
//! codes mapped to port equivalents), base64-encoded with the version prefix `1:`.

use sha1::{Digest, Sha1};
use std::net::IpAddr;

/// ICMP(v6) "port equivalents": the message type, the counterpart type for request/response
/// pairs (or the code for one-way messages), and whether the message is one-way. Zeek keys ICMP
/// connections the same way.
pub fn icmp_ports(v6: bool, icmp_type: u8, code: u8) -> (u16, u16, bool) {
    let counterpart = if v6 {
        match icmp_type {
            128 => Some(129),
            129 => Some(128),
            133 => Some(134),
            134 => Some(133),
            135 => Some(136),
            136 => Some(135),
            130 => Some(131),
            131 => Some(130),
            139 => Some(140),
            140 => Some(139),
            144 => Some(145),
            145 => Some(144),
            _ => None,
        }
    } else {
        match icmp_type {
            8 => Some(0),
            0 => Some(8),
            13 => Some(14),
            14 => Some(13),
            15 => Some(16),
            16 => Some(15),
            10 => Some(9),
            9 => Some(10),
            17 => Some(18),
            18 => Some(17),
            _ => None,
        }
    };
    match counterpart {
        Some(c) => (icmp_type as u16, c, false),
        None => (icmp_type as u16, code as u16, true),
    }
}

fn has_ports(proto: u8) -> bool {
    matches!(proto, 1 | 6 | 17 | 58 | 132)
}

/// Community ID v1 of a flow given its port equivalents (for ICMP use [`icmp_ports`] first and
/// pass its one-way flag). `seed` is 0 by default.
pub fn community_id_v1(seed: u16, saddr: IpAddr, daddr: IpAddr, proto: u8, sport: u16, dport: u16, one_way: bool) -> String {
    let text = community_id_v1_text(seed, saddr, daddr, proto, sport, dport, one_way);
    // Every byte is ASCII.
    String::from_utf8(text.to_vec()).unwrap_or_default()
}

/// [`community_id_v1`] as its 30 ASCII bytes, without allocating (for a producer that builds
/// the `String` later, on the thread that will also free it).
pub fn community_id_v1_text(seed: u16, saddr: IpAddr, daddr: IpAddr, proto: u8, sport: u16, dport: u16, one_way: bool) -> [u8; 30] {
    let raw = community_id_digest(seed, saddr, daddr, proto, sport, dport, one_way);
    // Standard base64 of the 20-byte digest (28 characters, one '=' of padding), written out
    // directly: this runs once per imported record.
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = [b'='; 30];
    text[0] = b'1';
    text[1] = b':';
    for (c, o) in raw.chunks(3).zip(text[2..].chunks_mut(4)) {
        let (b1, b2) = (c.get(1).copied(), c.get(2).copied());
        let n = (u32::from(c.first().copied().unwrap_or(0)) << 16) | (u32::from(b1.unwrap_or(0)) << 8) | u32::from(b2.unwrap_or(0));
        let digits = [B64[(n >> 18) as usize & 63], B64[(n >> 12) as usize & 63], B64[(n >> 6) as usize & 63], B64[n as usize & 63]];
        // A short last group keeps its '=' padding.
        let keep = 2 + usize::from(b1.is_some()) + usize::from(b2.is_some());
        for (d, v) in o.iter_mut().zip(digits).take(keep) {
            *d = v;
        }
    }
    text
}

/// The raw SHA-1 digest behind [`community_id_v1`] (the spec's "no base64" variant is its hex).
pub fn community_id_digest(seed: u16, saddr: IpAddr, daddr: IpAddr, proto: u8, sport: u16, dport: u16, one_way: bool) -> [u8; 20] {
    // Addresses on the stack and the whole message hashed in one call: this runs once per
    // imported record, where two small allocations and five hasher updates were a visible cost.
    let (sb, sl) = addr_bytes(&saddr);
    let (db, dl) = addr_bytes(&daddr);
    // Byte-wise order of the address slices: the zero-padded bytes as one big-endian number,
    // then the length (a 4-byte address equal to a 16-byte one's head sorts first).
    let (sk, dk) = ((u128::from_be_bytes(sb), sl), (u128::from_be_bytes(db), dl));
    let ordered = one_way || sk < dk || (sk == dk && sport <= dport);
    let ((a, al), (b, bl), pa, pb) = if ordered { ((sb, sl), (db, dl), sport, dport) } else { ((db, dl), (sb, sl), dport, sport) };
    // seed (2) + two addresses (≤ 32) + proto and pad (2) + ports (4).
    let mut msg = [0u8; 40];
    msg[..2].copy_from_slice(&seed.to_be_bytes());
    let mut n = put_addr(&mut msg, 2, &a, al);
    n = put_addr(&mut msg, n, &b, bl);
    if let Some(dst) = msg.get_mut(n..n + 2) {
        dst.copy_from_slice(&[proto, 0]);
        n += 2;
    }
    if has_ports(proto)
        && let Some(dst) = msg.get_mut(n..n + 4)
    {
        dst[..2].copy_from_slice(&pa.to_be_bytes());
        dst[2..].copy_from_slice(&pb.to_be_bytes());
        n += 4;
    }
    Sha1::digest(msg.get(..n).unwrap_or(&[])).into()
}

/// The address's bytes, zero-padded to 16, and how many of them count (4 or 16).
fn addr_bytes(a: &IpAddr) -> ([u8; 16], usize) {
    match a {
        IpAddr::V4(v) => {
            let mut out = [0u8; 16];
            out[..4].copy_from_slice(&v.octets());
            (out, 4)
        }
        IpAddr::V6(v) => (v.octets(), 16),
    }
}

/// Writes the first `len` (4 or 16) bytes of `addr` at `msg[at..]`; returns the next offset.
/// Fixed-size copies: a variable-length one is a `memcpy` call per address.
fn put_addr(msg: &mut [u8; 40], at: usize, addr: &[u8; 16], len: usize) -> usize {
    if len == 4 {
        if let (Some(d), Some(s)) = (msg.get_mut(at..at + 4), addr.first_chunk::<4>()) {
            d.copy_from_slice(s);
            return at + 4;
        }
    } else if let Some(d) = msg.get_mut(at..at + 16) {
        d.copy_from_slice(addr);
        return at + 16;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    // Values from the specification's README tables (default seed, base64).
    #[test]
    fn spec_examples() {
        let a: IpAddr = "1.2.3.4".parse().unwrap();
        let b: IpAddr = "5.6.7.8".parse().unwrap();
        assert_eq!(community_id_v1(0, a, b, 6, 1122, 3344, false), "1:wCb3OG7yAFWelaUydu0D+125CLM=");
        assert_eq!(community_id_v1(0, b, a, 6, 3344, 1122, false), "1:wCb3OG7yAFWelaUydu0D+125CLM=");
        assert_eq!(community_id_v1(0, a, b, 17, 1122, 3344, false), "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=");
        assert_eq!(community_id_v1(0, a, b, 132, 1122, 3344, false), "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=");
        let (sp, dp, ow) = icmp_ports(false, 8, 0);
        assert_eq!(community_id_v1(0, a, b, 1, sp, dp, ow), "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=");
        let (sp, dp, ow) = icmp_ports(false, 0, 0);
        assert_eq!(community_id_v1(0, b, a, 1, sp, dp, ow), "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=");
        let (sp, dp, ow) = icmp_ports(false, 11, 0);
        assert_eq!(community_id_v1(0, a, b, 1, sp, dp, ow), "1:f/YiSyWqczrTgfUCZlBUnvHRcPk=");
        assert_eq!(community_id_v1(0, a, b, 46, 0, 0, false), "1:ikv3kmf89luf73WPz1jOs49S768=");
        assert_eq!(community_id_v1(1, a, b, 6, 1122, 3344, false), "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=");
    }

    #[test]
    fn mixed_families_order_like_byte_strings() {
        // Addresses are ordered as byte strings: 0.0.0.0 (4 zero bytes) before :: (16), and
        // :: before 255.0.0.1. The digest is the spec's message in that order.
        let v4: IpAddr = "0.0.0.0".parse().unwrap();
        let v6: IpAddr = "::".parse().unwrap();
        let hi: IpAddr = "255.0.0.1".parse().unwrap();
        let msg = |first: &[u8], second: &[u8], p1: u16, p2: u16| {
            let mut m = vec![0u8, 0];
            m.extend_from_slice(first);
            m.extend_from_slice(second);
            m.extend_from_slice(&[6, 0]);
            m.extend_from_slice(&p1.to_be_bytes());
            m.extend_from_slice(&p2.to_be_bytes());
            <[u8; 20]>::from(Sha1::digest(&m))
        };
        let expect = msg(&[0; 4], &[0; 16], 1, 2);
        assert_eq!(community_id_digest(0, v4, v6, 6, 1, 2, false), expect);
        assert_eq!(community_id_digest(0, v6, v4, 6, 2, 1, false), expect);
        let expect = msg(&[0; 16], &[255, 0, 0, 1], 2, 1);
        assert_eq!(community_id_digest(0, hi, v6, 6, 1, 2, false), expect);
        assert_eq!(community_id_digest(0, v6, hi, 6, 2, 1, false), expect);
    }

    #[test]
    fn icmp6_examples() {
        let a: IpAddr = "fe80:0001:0203:0405:0607:0809:0A0B:0C0D".parse().unwrap();
        let b: IpAddr = "fe80:1011:1213:1415:1617:1819:1A1B:1C1D".parse().unwrap();
        let (sp, dp, ow) = icmp_ports(true, 128, 0);
        assert_eq!(community_id_v1(0, a, b, 58, sp, dp, ow), "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=");
        let (sp, dp, ow) = icmp_ports(true, 129, 0);
        assert_eq!(community_id_v1(0, b, a, 58, sp, dp, ow), "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=");
        let (sp, dp, ow) = icmp_ports(true, 146, 0);
        assert_eq!(community_id_v1(0, a, b, 58, sp, dp, ow), "1:fYC8+pz24E+EhANP1EZhpX0Dw10=");
        assert_eq!(community_id_v1(0, a, b, 46, 0, 0, false), "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=");
    }
}
