//! Test helpers: a minimal classic-pcap reader and small scenarios.
#![allow(dead_code)]

use std::net::Ipv4Addr;
use vigil_sim::{Scenario, SimConfig};

pub struct Rec {
    pub ts_us: i64,
    pub data: Vec<u8>,
    pub orig_len: u32,
}

pub fn read_pcap(b: &[u8]) -> Vec<Rec> {
    assert_eq!(&b[0..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian microsecond pcap");
    assert_eq!(u32::from_le_bytes(b[20..24].try_into().unwrap()), 1, "Ethernet");
    let mut o = 24;
    let mut v = Vec::new();
    while o < b.len() {
        let h = &b[o..o + 16];
        let secs = u32::from_le_bytes(h[0..4].try_into().unwrap()) as i64;
        let us = u32::from_le_bytes(h[4..8].try_into().unwrap()) as i64;
        assert!(us < 1_000_000);
        let incl = u32::from_le_bytes(h[8..12].try_into().unwrap()) as usize;
        let orig = u32::from_le_bytes(h[12..16].try_into().unwrap());
        assert!(orig as usize >= incl);
        v.push(Rec { ts_us: secs * 1_000_000 + us, data: b[o + 16..o + 16 + incl].to_vec(), orig_len: orig });
        o += 16 + incl;
    }
    assert_eq!(o, b.len(), "records tile the file");
    v
}

pub fn ips(r: &Rec) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let d = &r.data;
    if d.len() >= 34 && d[12..14] == [8, 0] {
        Some((Ipv4Addr::new(d[26], d[27], d[28], d[29]), Ipv4Addr::new(d[30], d[31], d[32], d[33])))
    } else {
        None
    }
}

/// Generates in memory: (pcap bytes, scenario, site toml, assets csv).
pub fn generate(seed: u64, days: u32, hosts: usize) -> (Vec<u8>, Scenario, String, String) {
    let cfg = SimConfig { seed, days, hosts, ..SimConfig::default() };
    let mut buf = Vec::new();
    let (s, (site, assets)) = Scenario::generate_into(&cfg, &mut buf, std::path::Path::new("mem.pcap")).unwrap();
    (buf, s, site, assets)
}
