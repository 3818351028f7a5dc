//! Connection uids: "C" + base62 of 96 bits of a keyed SHA-1 over the first packet's 5-tuple,
//! its timestamp and the flow's ordinal, so the same input always yields the same uids (and two
//! flows never share one), unlike Zeek's random uids.

use sha1::{Digest, Sha1};
use std::net::IpAddr;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// 62^10: the largest power of 62 whose remainders fit in a `u64`.
const P62_10: u128 = 839_299_365_868_340_224;

/// Base62 of `v`, most significant digit first (at least one digit).
pub fn base62(v: u128) -> String {
    let mut buf = [0u8; 24];
    let i = base62_into(v, &mut buf);
    buf.get(i..).map(|d| d.iter().map(|&b| b as char).collect()).unwrap_or_default()
}

/// Writes the base62 digits of `v` right-aligned into `buf` and returns where they start.
/// Every flow's uid is rendered once. Digit by digit, a `u128` costs a 128-bit division (a
/// library call) per digit; split into `u64` parts of ten digits first, each part's digits come
/// from 64-bit arithmetic.
fn base62_into(mut v: u128, buf: &mut [u8; 24]) -> usize {
    let mut i = buf.len();
    loop {
        let (mut part, more) = if v >= P62_10 { ((v % P62_10) as u64, true) } else { (v as u64, false) };
        v /= P62_10;
        // A full part always yields exactly ten digits (leading zeros included); the last
        // (most significant) part only as many as it needs.
        let mut n = 0;
        while i > 0 && ((more && n < 10) || (!more && (part > 0 || n == 0))) {
            i -= 1;
            buf[i] = ALPHABET[(part % 62) as usize];
            part /= 62;
            n += 1;
        }
        if !more || i == 0 {
            return i;
        }
    }
}

/// A deterministic uid for the `ordinal`-th flow of a run.
#[allow(clippy::too_many_arguments)]
pub fn make_uid(
    key: &[u8],
    prefix: char,
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
    proto: u8,
    ts_nanos: i64,
    ordinal: u64,
) -> String {
    prefixed(prefix, uid_value(key, src, sport, dst, dport, proto, ts_nanos, ordinal))
}

/// `prefix` followed by the base62 digits of `v`, built in one allocation.
pub fn prefixed(prefix: char, v: u128) -> String {
    let mut buf = [0u8; 24];
    let i = base62_into(v, &mut buf);
    let digits = buf.get(i..).unwrap_or(&[]);
    let mut s = String::with_capacity(prefix.len_utf8() + digits.len());
    s.push(prefix);
    s.extend(digits.iter().map(|&b| b as char));
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
    /// The split into 64-bit parts gives the same digits as plain repeated division.
    #[test]
    fn base62_matches_digit_by_digit_division() {
        fn slow(mut v: u128) -> String {
            let mut d = Vec::new();
            loop {
                d.push(ALPHABET[(v % 62) as usize]);
                v /= 62;
                if v == 0 {
                    break;
                }
            }
            d.iter().rev().map(|&b| b as char).collect()
        }
        let mut x: u128 = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834;
        let mut vals = vec![0, 1, 61, 62, P62_10 - 1, P62_10, P62_10 + 1, P62_10 * P62_10, P62_10 * P62_10 - 1, u128::MAX, u128::MAX - 1];
        for k in 0..128 {
            vals.push(1u128 << k);
            vals.push((1u128 << k) - 1);
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            vals.push(x >> (k % 100));
        }
        for v in vals {
            assert_eq!(base62(v), slow(v), "{v}");
        }
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
