//! Community ID v1 (<https://github.com/corelight/community-id-spec>): SHA-1 over
//! seed, ordered addresses, protocol, a zero pad byte and the ordered ports (ICMP types and
//! codes mapped to port equivalents), base64-encoded with the version prefix `1:`.

use base64::Engine as _;
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
    let raw = community_id_digest(seed, saddr, daddr, proto, sport, dport, one_way);
    let mut out = String::with_capacity(30);
    out.push_str("1:");
    base64::engine::general_purpose::STANDARD.encode_string(raw, &mut out);
    out
}

/// The raw SHA-1 digest behind [`community_id_v1`] (the spec's "no base64" variant is its hex).
pub fn community_id_digest(seed: u16, saddr: IpAddr, daddr: IpAddr, proto: u8, sport: u16, dport: u16, one_way: bool) -> [u8; 20] {
    let sb = addr_bytes(&saddr);
    let db = addr_bytes(&daddr);
    let (s, d) = (sb.as_slice(), db.as_slice());
    let ordered = one_way || s < d || (s == d && sport <= dport);
    let (a, b, pa, pb) = if ordered { (s, d, sport, dport) } else { (d, s, dport, sport) };
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(a);
    h.update(b);
    h.update([proto, 0]);
    if has_ports(proto) {
        h.update(pa.to_be_bytes());
        h.update(pb.to_be_bytes());
    }
    h.finalize().into()
}

fn addr_bytes(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
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
