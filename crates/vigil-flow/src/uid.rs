//! Connection uids: "C" + base62 of 96 bits of a keyed SHA-1 over the first packet's 5-tuple,
//! its timestamp and the flow's ordinal, so the same input always yields the same uids (and two
//! flows never share one), unlike Zeek's random uids.

use sha1::{Digest, Sha1};
use std::net::IpAddr;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Base62 of `v`, most significant digit first (at least one digit).
pub fn base62(mut v: u128) -> String {
    let mut buf = [0u8; 24];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = ALPHABET[(v % 62) as usize];
        v /= 62;
        if v == 0 || i == 0 {
            break;
        }
    }
    String::from_utf8_lossy(&buf[i..]).into_owned()
}

/// A deterministic uid for the `ordinal`-th flow of a run.
#[allow(clippy::too_many_arguments)]
pub fn make_uid(key: &[u8], prefix: char, src: IpAddr, sport: u16, dst: IpAddr, dport: u16, proto: u8, ts_nanos: i64, ordinal: u64) -> String {
    let v = uid_value(key, src, sport, dst, dport, proto, ts_nanos, ordinal);
    let mut s = String::with_capacity(20);
    s.push(prefix);
    s.push_str(&base62(v));
    s
}

/// The 96-bit number behind [`make_uid`].
#[allow(clippy::too_many_arguments)]
pub fn uid_value(key: &[u8], src: IpAddr, sport: u16, dst: IpAddr, dport: u16, proto: u8, ts_nanos: i64, ordinal: u64) -> u128 {
    let mut h = Sha1::new();
    h.update(key);
    match src {
        IpAddr::V4(a) => h.update(a.octets()),
        IpAddr::V6(a) => h.update(a.octets()),
    }
    match dst {
        IpAddr::V4(a) => h.update(a.octets()),
        IpAddr::V6(a) => h.update(a.octets()),
    }
    h.update(sport.to_be_bytes());
    h.update(dport.to_be_bytes());
    h.update([proto]);
    h.update(ts_nanos.to_be_bytes());
    h.update(ordinal.to_be_bytes());
    let d: [u8; 20] = h.finalize().into();
    let mut v: u128 = 0;
    for b in d.iter().take(12) {
        v = (v << 8) | *b as u128;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn base62_digits() {
        assert_eq!(base62(0), "0");
        assert_eq!(base62(61), "z");
        assert_eq!(base62(62), "10");
        assert_eq!(base62(u128::MAX).len(), 22);
    }
    #[test]
    fn uid_is_stable_and_distinct() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let u1 = make_uid(b"k", 'C', a, 1, b, 2, 6, 5, 0);
        assert_eq!(u1, make_uid(b"k", 'C', a, 1, b, 2, 6, 5, 0));
        assert_ne!(u1, make_uid(b"k", 'C', a, 1, b, 2, 6, 5, 1));
        assert!(u1.starts_with('C') && u1.len() > 10);
    }
}
