//! Flow-table throughput on synthetic traffic (no I/O, no decoding): N TCP connections, each a
//! handshake, `data_pkts` data segments each way with ACKs, and a FIN exchange, interleaved
//! across `concurrent` live flows. Run with `--release`:
//! `cargo run --release -p vigil-flow --example throughput -- 200000 8 5000`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;
use vigil_flow::{FlowConfig, FlowPacket, FlowTable, TcpFields};
use vigil_model::Timestamp;

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let conns = *args.first().unwrap_or(&100_000);
    let data_pkts = *args.get(1).unwrap_or(&8) as u32;
    let concurrent = *args.get(2).unwrap_or(&5_000).max(&1);
    let payload = vec![0x42u8; 1200];
    let mut table = FlowTable::new(FlowConfig::default());
    let mut out = 0u64;
    let mut packets = 0u64;
    let mut bytes = 0u64;
    let start = Instant::now();
    let mut ts: i64 = 1_700_000_000_000_000_000;
    // Conversations progress in lock-step rounds over a sliding window of `concurrent` flows.
    let steps = 4 + 2 * data_pkts as u64;
    let mut base = 0u64;
    while base < conns {
        let hi = (base + concurrent).min(conns);
        for step in 0..steps {
            for i in base..hi {
                ts += 1_000;
                let c = IpAddr::V4(Ipv4Addr::from(0x0a00_0000u32 + (i as u32 % 65_000)));
                let s = IpAddr::V4(Ipv4Addr::from(0xc633_6400u32 + (i as u32 / 65_000)));
                let cp = 1024 + (i % 60_000) as u16;
                let (ci, si) = (1000u32, 9000u32);
                let k = (step as u32).saturating_sub(3) / 2;
                let (from_c, flags, seq, ack, len) = match step {
                    0 => (true, 0x02, ci, 0, 0),
                    1 => (false, 0x12, si, ci + 1, 0),
                    2 => (true, 0x10, ci + 1, si + 1, 0),
                    x if x == steps - 1 => (true, 0x11, ci + 1 + data_pkts * 1200, si + 1 + data_pkts * 1200, 0),
                    x if x % 2 == 1 => (true, 0x18, ci + 1 + k * 1200, si + 1 + k * 1200, 1200),
                    _ => (false, 0x18, si + 1 + k * 1200, ci + 1 + (k + 1) * 1200, 1200),
                };
                let (src, sp, dst, dp) = if from_c { (c, cp, s, 443) } else { (s, 443, c, cp) };
                let mut p = FlowPacket::new(Timestamp(ts), src, sp, dst, dp, 6);
                p.tcp = Some(TcpFields { flags, seq, ack, window: 512 });
                p.payload = &payload[..len];
                p.payload_len = len as u32;
                p.ip_len = 52 + len as u32;
                packets += 1;
                bytes += p.ip_len as u64;
                table.process(&p, &mut |_| out += 1);
            }
        }
        base = hi;
    }
    table.flush(&mut |_| out += 1);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{conns} connections, {packets} packets ({:.1} MB) in {secs:.2} s: {:.2} Mpkt/s, {:.0} MB/s, {out} records",
        bytes as f64 / 1e6,
        packets as f64 / secs / 1e6,
        bytes as f64 / secs / 1e6
    );
}
