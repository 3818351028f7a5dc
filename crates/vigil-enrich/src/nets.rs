//! Longest-prefix match over a list of networks: which of the site's networks holds an address.
//!
//! Every record asks it several times (is the originator internal, the responder, which zone),
//! so a linear scan of the site's networks cost more than a detector's own work once a site
//! lists more than a handful (a ministry's site file lists hundreds of subnets in its zones).
//! [`NetIndex`] keeps, per prefix length present, the network addresses sorted: a lookup is one
//! binary search per distinct prefix length, longest first. Whether any network holds an
//! address (the question asked of every record's two addresses) is one binary search over the
//! networks merged into disjoint ranges.

use crate::geo::Step;
use ipnet::IpNet;
use std::net::IpAddr;

/// Networks with a value each; [`NetIndex::get`] answers the value of the longest network
/// holding an address. A network listed twice keeps the value given last.
#[derive(Clone, Debug, Default)]
pub struct NetIndex<V> {
    /// Per prefix length (longest first): network addresses, sorted, with their values.
    v4: Vec<(u8, Vec<(u32, V)>)>,
    v6: Vec<(u8, Vec<(u128, V)>)>,
    /// The union of the networks as disjoint, sorted, non-adjacent inclusive ranges.
    ranges4: Vec<(u32, u32)>,
    ranges6: Vec<(u128, u128)>,
}

fn mask4(len: u8) -> u32 {
    if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len.min(32))) }
}

fn mask6(len: u8) -> u128 {
    if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len.min(128))) }
}

impl<V: Copy> NetIndex<V> {
    /// The index of `nets` in order: for the same network, the later value wins.
    pub fn new(nets: impl IntoIterator<Item = (IpNet, V)>) -> Self {
        let mut v4: Vec<(u8, u32, usize, V)> = Vec::new();
        let mut v6: Vec<(u8, u128, usize, V)> = Vec::new();
        for (i, (n, v)) in nets.into_iter().enumerate() {
            match n {
                IpNet::V4(n) => v4.push((n.prefix_len(), u32::from(n.network()), i, v)),
                IpNet::V6(n) => v6.push((n.prefix_len(), u128::from(n.network()), i, v)),
            }
        }
        let ranges4 = merge(v4.iter().map(|&(len, a, _, _)| (a & mask4(len), a | !mask4(len))).collect());
        let ranges6 = merge(v6.iter().map(|&(len, a, _, _)| (a & mask6(len), a | !mask6(len))).collect());
        NetIndex { v4: group(v4), v6: group(v6), ranges4, ranges6 }
    }

    /// The value of the longest network holding `ip`.
    pub fn get(&self, ip: IpAddr) -> Option<V> {
        match ip {
            IpAddr::V4(a) => find(&self.v4, u32::from(a), mask4),
            IpAddr::V6(a) => find(&self.v6, u128::from(a), mask6),
        }
    }

    /// Whether some network holds `ip`: one binary search over the merged ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => in_ranges(&self.ranges4, u32::from(a)),
            IpAddr::V6(a) => in_ranges(&self.ranges6, u128::from(a)),
        }
    }

    /// Networks indexed (each distinct network once).
    pub fn len(&self) -> usize {
        self.v4.iter().map(|(_, v)| v.len()).sum::<usize>() + self.v6.iter().map(|(_, v)| v.len()).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Groups (length, network, position, value) by length, longest first, each group sorted by
/// network with one entry per network: the value of its last position.
fn group<K: Ord + Copy, V: Copy>(mut v: Vec<(u8, K, usize, V)>) -> Vec<(u8, Vec<(K, V)>)> {
    v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut out: Vec<(u8, Vec<(K, V)>)> = Vec::new();
    for (len, key, _, val) in v {
        match out.last_mut() {
            Some((l, items)) if *l == len => match items.last_mut() {
                Some(last) if last.0 == key => last.1 = val,
                _ => items.push((key, val)),
            },
            _ => out.push((len, vec![(key, val)])),
        }
    }
    out
}

/// Inclusive ranges sorted and merged: overlapping or adjacent ranges become one.
fn merge<K: Ord + Copy + Step>(mut v: Vec<(K, K)>) -> Vec<(K, K)> {
    v.sort_unstable();
    let mut out: Vec<(K, K)> = Vec::with_capacity(v.len());
    for (lo, hi) in v {
        match out.last_mut() {
            Some(last) if last.1.next().is_none_or(|next| lo <= next) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// Whether a sorted list of disjoint inclusive ranges holds `a`.
fn in_ranges<K: Ord + Copy>(ranges: &[(K, K)], a: K) -> bool {
    // The last range starting at or below `a`.
    let i = ranges.partition_point(|r| r.0 <= a);
    i > 0 && ranges.get(i - 1).is_some_and(|r| a <= r.1)
}

fn find<K: Ord + Copy + std::ops::BitAnd<Output = K>, V: Copy>(by_len: &[(u8, Vec<(K, V)>)], a: K, mask: fn(u8) -> K) -> Option<V> {
    for (len, items) in by_len {
        let k = a & mask(*len);
        if let Ok(i) = items.binary_search_by(|e| e.0.cmp(&k)) {
            return items.get(i).map(|e| e.1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition the index replaces: per network in order, the longest holding `ip`,
    /// ties to the later one.
    fn linear(nets: &[(IpNet, usize)], ip: IpAddr) -> Option<usize> {
        let mut best: Option<(u8, usize)> = None;
        for (n, v) in nets {
            if n.contains(&ip) && best.is_none_or(|(l, _)| n.prefix_len() >= l) {
                best = Some((n.prefix_len(), *v));
            }
        }
        best.map(|(_, v)| v)
    }

    #[test]
    fn longest_prefix_wins_and_later_duplicates_replace() {
        let nets: Vec<(IpNet, usize)> = [
            ("10.0.0.0/8", 0),
            ("10.1.0.0/16", 1),
            ("10.1.2.0/24", 2),
            ("10.1.0.0/16", 3),
            ("0.0.0.0/0", 4),
            ("fd00::/8", 5),
            ("fd00:1::/32", 6),
            ("10.9.9.9/32", 7),
        ]
        .iter()
        .map(|(n, v)| (n.parse().unwrap(), *v))
        .collect();
        let idx = NetIndex::new(nets.iter().copied());
        let get = |s: &str| idx.get(s.parse().unwrap());
        assert_eq!(get("10.1.2.3"), Some(2));
        assert_eq!(get("10.1.3.3"), Some(3), "the later of two equal networks");
        assert_eq!(get("10.2.0.1"), Some(0));
        assert_eq!(get("10.9.9.9"), Some(7));
        assert_eq!(get("192.0.2.1"), Some(4), "the default route holds everything v4");
        assert_eq!(get("fd00:1::5"), Some(6));
        assert_eq!(get("fd01::5"), Some(5));
        assert_eq!(get("fe80::1"), None, "no v6 default");
        assert_eq!(idx.len(), 7);
        assert!(NetIndex::<()>::new([]).get("10.0.0.1".parse().unwrap()).is_none());
        assert!(!NetIndex::<()>::new([]).contains("10.0.0.1".parse().unwrap()));
        assert!(idx.contains("192.0.2.1".parse().unwrap()) && idx.contains("255.255.255.255".parse().unwrap()));
        assert!(idx.contains("fd00:1::5".parse().unwrap()) && !idx.contains("fe80::1".parse().unwrap()));
    }

    /// Adjacent networks merge, the top of the address space has no successor, and the
    /// addresses just outside each range are outside.
    #[test]
    fn containment_at_range_edges() {
        let nets: Vec<(IpNet, ())> = ["10.0.0.0/25", "10.0.0.128/25", "10.0.2.0/24", "255.255.255.254/31", "::/128", "ffff::/16"]
            .iter()
            .map(|n| (n.parse().unwrap(), ()))
            .collect();
        let idx = NetIndex::new(nets);
        let has = |s: &str| idx.contains(s.parse().unwrap());
        assert_eq!(idx.ranges4, vec![(0x0a00_0000, 0x0a00_00ff), (0x0a00_0200, 0x0a00_02ff), (0xffff_fffe, u32::MAX)]);
        for (ip, want) in [
            ("9.255.255.255", false),
            ("10.0.0.0", true),
            ("10.0.0.255", true),
            ("10.0.1.0", false),
            ("10.0.1.255", false),
            ("10.0.2.0", true),
            ("10.0.2.255", true),
            ("10.0.3.0", false),
            ("255.255.255.253", false),
            ("255.255.255.255", true),
            ("0.0.0.0", false),
        ] {
            assert_eq!(has(ip), want, "{ip}");
        }
        for (ip, want) in
            [("::", true), ("::1", false), ("fffe:ffff::", false), ("ffff::", true), ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true)]
        {
            assert_eq!(has(ip), want, "{ip}");
        }
    }

    /// Against the linear definition on random networks (nested, overlapping, duplicated,
    /// host bits set) and addresses drawn near them.
    #[test]
    fn agrees_with_the_linear_scan() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..200 {
            let mut nets: Vec<(IpNet, usize)> = Vec::new();
            for i in 0..(1 + round % 40) {
                let r = rnd();
                // Few distinct high bits, so networks nest and repeat.
                let net: IpNet = if r % 5 == 0 {
                    let a = u128::from(0xfd00u16) << 112 | u128::from((r >> 8) as u16 & 0x3) << 96 | u128::from(rnd() as u32);
                    let len = (r >> 24) as u8 % 129;
                    IpNet::new(IpAddr::V6(a.into()), len).unwrap()
                } else {
                    let a = 0x0a00_0000u32 | ((r >> 8) as u32 & 0x0003_0f0f);
                    let len = (r >> 40) as u8 % 33;
                    IpNet::new(IpAddr::V4(a.into()), len).unwrap()
                };
                nets.push((net, i as usize));
            }
            let idx = NetIndex::new(nets.iter().copied());
            for _ in 0..200 {
                let r = rnd();
                let ip: IpAddr = if r % 5 == 0 {
                    IpAddr::V6(
                        (u128::from(0xfd00u16) << 112 | u128::from((r >> 8) as u16 & 0x3) << 96 | u128::from(rnd() as u32 & 0xff0f)).into(),
                    )
                } else {
                    IpAddr::V4((0x0a00_0000u32 | ((r >> 8) as u32 & 0x0003_0f0f)).into())
                };
                assert_eq!(idx.get(ip), linear(&nets, ip), "{ip} in {nets:?}");
                assert_eq!(idx.contains(ip), linear(&nets, ip).is_some(), "contains {ip} in {nets:?}");
            }
        }
    }
}
