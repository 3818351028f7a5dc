//! A compact binary "packet script" for fuzzing the flow table: every 18 bytes become one
//! packet (protocol, time step, addresses, ports, sequence numbers, flags, payload length and
//! truncation), run through a table with a tiny cap and short timeouts so eviction, expiry,
//! reuse, role flips and reassembly all happen, and every record is rendered by the writers.

use crate::packet::{FlowPacket, TcpFields};
use crate::table::{FlowConfig, FlowTable};
use crate::zeeklog::{self, Format, LogWriter};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vigil_model::Timestamp;

const CAP: usize = 16;

fn addr(i: u8) -> IpAddr {
    if i & 0x80 != 0 {
        IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, (i & 7) as u16))
    } else {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, i & 7))
    }
}

/// Runs the script; returns the number of connection records produced. Panics only if an
/// invariant breaks (the table outgrows its cap, a record fails to render).
pub fn run_packet_script(data: &[u8]) -> usize {
    let cfg = FlowConfig {
        max_flows: CAP,
        reassembly_budget: 256,
        tcp_inactivity: 3.0,
        udp_inactivity: 2.0,
        icmp_inactivity: 2.0,
        ..FlowConfig::default()
    };
    let mut table = FlowTable::new(cfg);
    let mut out = Vec::new();
    let mut ts: i64 = 1_000_000_000;
    let mut payload = [0u8; 255];
    for c in data.chunks_exact(18) {
        let proto = match c[0] % 5 {
            0 | 1 => 6,
            2 => 17,
            3 => {
                if c[2] & 0x80 != 0 {
                    58
                } else {
                    1
                }
            }
            _ => 47,
        };
        ts = ts.saturating_add(c[1] as i64 * 50_000_000);
        let src = addr(c[2]);
        let dst = addr((c[3] & 0x7f) | (c[2] & 0x80));
        let sport = u16::from_be_bytes([c[4], c[5]]) % 2048;
        let dport = u16::from_be_bytes([c[6], c[7]]) % 2048;
        let seq = u32::from_be_bytes([c[8], c[9], c[10], c[11]]);
        let ack = u32::from_be_bytes([c[12], c[13], c[14], c[15]]);
        let len = c[16] as usize;
        payload.fill(c[17]);
        let cut = if c[17] & 1 == 0 { len } else { len / 2 };
        let mut p = FlowPacket::new(Timestamp(ts), src, sport, dst, dport, proto);
        p.tcp = (proto == 6).then_some(TcpFields { flags: (c[0] >> 2) | (c[17] & 0x12), seq, ack, window: c[16] as u16 });
        p.payload = payload.get(..cut).unwrap_or(&[]);
        p.payload_len = len as u32;
        p.ip_len = 40 + len as u32;
        table.process(&p, &mut |c| out.push(c));
        assert!(table.len() <= CAP, "flow table exceeded its cap");
    }
    table.flush(&mut |c| out.push(c));
    let mut w = LogWriter::new(Vec::new(), &zeeklog::CONN, Format::Tsv);
    for c in &out {
        w.write(c.ts, &zeeklog::conn_values(c)).expect("writing to memory cannot fail");
    }
    let _ = w.finish();
    out.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random scripts: a cheap stand-in for the fuzzer in every test run.
    #[test]
    fn random_scripts_keep_invariants() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut produced = 0;
        for round in 0..300 {
            let n = 18 * (1 + round % 60);
            let data: Vec<u8> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                })
                .collect();
            produced += run_packet_script(&data);
        }
        assert!(produced > 300);
    }
}
