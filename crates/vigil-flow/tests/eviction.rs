//! The flow table's memory cap under a SYN flood and a /16 scan: the table never holds more
//! than `max_flows`, every flow is still reported exactly once, and an established connection
//! that predates the flood survives it intact (attempts are evicted first).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use vigil_flow::{FlowConfig, FlowPacket, FlowTable, TcpFields};
use vigil_model::{Conn, ConnState, Timestamp};

#[allow(clippy::too_many_arguments)]
fn tcp<'a>(ts: i64, src: IpAddr, sport: u16, dst: IpAddr, dport: u16, flags: u8, seq: u32, ack: u32) -> FlowPacket<'a> {
    let mut p = FlowPacket::new(Timestamp(ts), src, sport, dst, dport, 6);
    p.tcp = Some(TcpFields { flags, seq, ack, window: 1024 });
    p.ip_len = 40;
    p
}

#[test]
fn syn_flood_is_capped_and_every_flow_reported() {
    let cap = 1000;
    let mut table = FlowTable::new(FlowConfig { max_flows: cap, ..FlowConfig::default() });
    let mut out: Vec<Conn> = Vec::new();
    let server: IpAddr = "10.0.0.80".parse().unwrap();
    let client: IpAddr = "10.0.0.7".parse().unwrap();
    let mut t = 1_700_000_000_000_000_000i64;
    // A real session, established before the flood.
    for p in [
        tcp(t, client, 50000, server, 443, 0x02, 100, 0),
        tcp(t + 1000, server, 443, client, 50000, 0x12, 900, 101),
        tcp(t + 2000, client, 50000, server, 443, 0x10, 101, 901),
    ] {
        table.process(&p, &mut |c| out.push(c));
    }
    let flood = 20_000u32;
    for i in 0..flood {
        t += 10_000; // 100k SYN/s, all within the attempt delay
        let src = IpAddr::V4(Ipv4Addr::from(0xC000_0000u32 + i));
        let p = tcp(t, src, (i % 60000) as u16 + 1024, server, 443, 0x02, i, 0);
        table.process(&p, &mut |c| out.push(c));
        assert!(table.len() <= cap, "table grew to {}", table.len());
        if i % 1000 == 0 {
            let p = tcp(t, client, 50000, server, 443, 0x18, 101, 901);
            table.process(&p, &mut |c| out.push(c));
        }
    }
    table.flush(&mut |c| out.push(c));
    let stats = table.stats;
    assert_eq!(out.len() as u32, flood + 1, "every flow reported once");
    assert!(stats.evicted >= (flood as u64) - cap as u64, "{stats:?}");
    assert!(stats.peak_flows <= cap as u64);
    let uids: HashSet<&str> = out.iter().map(|c| c.uid.as_str()).collect();
    assert_eq!(uids.len(), out.len());
    let session: Vec<&Conn> = out.iter().filter(|c| c.orig_h == client).collect();
    assert_eq!(session.len(), 1, "the established session was split or lost");
    assert_eq!(session[0].conn_state, ConnState::S1);
    assert_eq!(session[0].orig_pkts, 2 + 20);
    assert!(out.iter().filter(|c| c.orig_h != client).all(|c| c.conn_state == ConnState::S0 && c.history == "S"));
}

#[test]
fn slash16_scan_is_capped_and_every_probe_reported() {
    let cap = 4096;
    let mut table = FlowTable::new(FlowConfig { max_flows: cap, ..FlowConfig::default() });
    let mut n = 0u64;
    let mut rej = 0u64;
    let scanner: IpAddr = "203.0.113.9".parse().unwrap();
    let mut t = 1_700_000_000_000_000_000i64;
    for i in 0..65_536u32 {
        t += 20_000;
        let dst = IpAddr::V4(Ipv4Addr::from(0x0A01_0000u32 + i));
        let mut count = |c: Conn| {
            n += 1;
            if c.conn_state == ConnState::REJ {
                rej += 1;
            }
        };
        table.process(&tcp(t, scanner, 61000, dst, 22, 0x02, 7, 0), &mut count);
        if i % 2 == 0 {
            table.process(&tcp(t + 5000, dst, 22, scanner, 61000, 0x14, 0, 8), &mut count);
        }
        assert!(table.len() <= cap);
    }
    table.flush(&mut |c| {
        n += 1;
        if c.conn_state == ConnState::REJ {
            rej += 1;
        }
    });
    assert_eq!(n, 65_536);
    assert_eq!(rej, 32_768);
    assert!(table.stats.evicted + table.stats.expired > 60_000, "{:?}", table.stats);
    // Batches keep the number of O(n) passes small.
    assert!(table.stats.eviction_passes < 300, "{:?}", table.stats);
}
