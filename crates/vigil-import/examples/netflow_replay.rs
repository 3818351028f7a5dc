//! Replays NetFlow v9 or IPFIX export datagrams over UDP at a controlled record rate: the
//! sender of `bench/collector.sh`, which points it at Vigil's collector, `nfcapd` and `nfacctd`
//! in turn so all three receive the same stream.
//!
//! ```text
//! netflow_replay --to 127.0.0.1:9995 [--proto v9|ipfix] [--records N] [--rate RECORDS_PER_S]
//!                [--per-packet 30] [--template-every 20]
//! ```
//!
//! Records come in direction pairs (A→B then B→A, as a router exporting both directions does),
//! every pair a distinct 5-tuple, each with packets = 1 (so a receiver's packet total equals its
//! record count) and exporter-relative times consistent with the header. The template is sent
//! in the first datagram and refreshed every `--template-every` datagrams. `--rate 0` sends as
//! fast as the socket takes it. Prints one `key=value` line: records and datagrams sent, seconds.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, PartialEq)]
enum Proto {
    V9,
    Ipfix,
}

struct Args {
    to: SocketAddr,
    proto: Proto,
    records: u64,
    rate: u64,
    per_packet: usize,
    template_every: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        to: "127.0.0.1:9995".parse().map_err(|e| format!("{e}"))?,
        proto: Proto::V9,
        records: 1_000_000,
        rate: 0,
        per_packet: 30,
        template_every: 20,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        let v = it.next().ok_or_else(|| format!("{k} needs a value"))?;
        let num = || v.parse::<u64>().map_err(|e| format!("{k} {v}: {e}"));
        match k.as_str() {
            "--to" => a.to = v.parse().map_err(|e| format!("--to {v}: {e}"))?,
            "--proto" => {
                a.proto = match v.as_str() {
                    "v9" => Proto::V9,
                    "ipfix" => Proto::Ipfix,
                    _ => return Err(format!("--proto {v}: v9 or ipfix")),
                }
            }
            "--records" => a.records = num()?,
            "--rate" => a.rate = num()?,
            "--per-packet" => a.per_packet = (num()? as usize).clamp(1, 40),
            "--template-every" => a.template_every = num()?.max(1),
            _ => return Err(format!("unknown option {k}")),
        }
    }
    Ok(a)
}

const TEMPLATE_ID: u16 = 256;

/// (IE id, length): src4, dst4, sport, dport, proto, tcp flags, packets, octets, then times.
fn fields(p: Proto) -> Vec<(u16, u16)> {
    let mut f = vec![(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (6, 1)];
    match p {
        // v9: 32-bit counters, sysUptime-relative first/last switched.
        Proto::V9 => f.extend([(2, 4), (1, 4), (22, 4), (21, 4)]),
        // IPFIX: 64-bit counters, absolute flowStart/EndMilliseconds.
        Proto::Ipfix => f.extend([(2, 8), (1, 8), (152, 8), (153, 8)]),
    }
    f
}

fn put16(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_be_bytes());
}
fn put32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_be_bytes());
}
fn put64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_be_bytes());
}

/// The 5-tuple of record `i`: pairs share one connection, odd records the reverse direction.
fn tuple(i: u64) -> ([u8; 4], [u8; 4], u16, u16) {
    let c = i / 2;
    let client = [10, (c >> 16) as u8, (c >> 8) as u8, c as u8];
    let server = [192, 0, 2 + (c % 3) as u8, (c % 251) as u8 + 1];
    let cport = 1024 + (c % 64_000) as u16;
    let sport = [443, 80, 53, 22][(c % 4) as usize];
    if i.is_multiple_of(2) { (client, server, cport, sport) } else { (server, client, sport, cport) }
}

struct Builder {
    proto: Proto,
    fields: Vec<(u16, u16)>,
    start: Instant,
    start_ms: u64,
    seq: u32,
}

impl Builder {
    fn packet(&mut self, first: u64, n: usize, with_template: bool, out: &mut Vec<u8>) {
        out.clear();
        let now_ms = self.start_ms + self.start.elapsed().as_millis() as u64;
        let uptime = (now_ms - self.start_ms + 60_000) as u32;
        let secs = (now_ms / 1000) as u32;
        // Header (lengths and counts patched at the end).
        match self.proto {
            Proto::V9 => {
                put16(out, 9);
                put16(out, 0);
                put32(out, uptime);
                put32(out, secs);
                put32(out, self.seq);
                put32(out, 1);
            }
            Proto::Ipfix => {
                put16(out, 10);
                put16(out, 0);
                put32(out, secs);
                put32(out, self.seq);
                put32(out, 1);
            }
        }
        if with_template {
            let set_id = if self.proto == Proto::V9 { 0 } else { 2 };
            put16(out, set_id);
            put16(out, (8 + 4 * self.fields.len()) as u16);
            put16(out, TEMPLATE_ID);
            put16(out, self.fields.len() as u16);
            for &(id, len) in &self.fields {
                put16(out, id);
                put16(out, len);
            }
        }
        let set_at = out.len();
        put16(out, TEMPLATE_ID);
        put16(out, 0);
        for i in first..first + n as u64 {
            let (s, d, sp, dp) = tuple(i);
            out.extend_from_slice(&s);
            out.extend_from_slice(&d);
            put16(out, sp);
            put16(out, dp);
            out.push(if dp == 53 || sp == 53 { 17 } else { 6 });
            out.push(0x1b);
            let bytes = 64 + (i % 1400);
            match self.proto {
                Proto::V9 => {
                    put32(out, 1);
                    put32(out, bytes as u32);
                    put32(out, uptime.wrapping_sub(900));
                    put32(out, uptime.wrapping_sub(100));
                }
                Proto::Ipfix => {
                    put64(out, 1);
                    put64(out, bytes);
                    put64(out, now_ms - 900);
                    put64(out, now_ms - 100);
                }
            }
        }
        // Pad the set to 4 bytes (v9 requires it; harmless for IPFIX).
        while !(out.len() - set_at).is_multiple_of(4) {
            out.push(0);
        }
        let set_len = (out.len() - set_at) as u16;
        out[set_at + 2..set_at + 4].copy_from_slice(&set_len.to_be_bytes());
        let count = match self.proto {
            // v9 counts records (templates and data), IPFIX carries the total length.
            Proto::V9 => n as u16 + u16::from(with_template),
            Proto::Ipfix => out.len() as u16,
        };
        out[2..4].copy_from_slice(&count.to_be_bytes());
        self.seq = self.seq.wrapping_add(if self.proto == Proto::V9 { 1 } else { n as u32 });
    }
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("netflow_replay: {e}");
            std::process::exit(2);
        }
    };
    let sock = match UdpSocket::bind("127.0.0.1:0") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("netflow_replay: bind: {e}");
            std::process::exit(1);
        }
    };
    let start_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let mut b = Builder { proto: a.proto, fields: fields(a.proto), start: Instant::now(), start_ms, seq: 0 };
    let mut buf = Vec::with_capacity(2048);
    let (mut sent, mut datagrams, mut errors) = (0u64, 0u64, 0u64);
    let t0 = Instant::now();
    while sent < a.records {
        if a.rate > 0 {
            // Pace by the schedule: sleep while more than 1 ms ahead of it.
            let due = Duration::from_secs_f64(sent as f64 / a.rate as f64);
            let el = t0.elapsed();
            if due > el + Duration::from_millis(1) {
                std::thread::sleep(due - el);
            }
        }
        let n = (a.records - sent).min(a.per_packet as u64) as usize;
        b.packet(sent, n, datagrams % a.template_every == 0, &mut buf);
        match sock.send_to(&buf, a.to) {
            Ok(_) => {
                sent += n as u64;
                datagrams += 1;
            }
            // Loopback refuses only under memory pressure: retry the same datagram.
            Err(_) => {
                errors += 1;
                if errors > 1_000_000 {
                    eprintln!("netflow_replay: too many send errors");
                    break;
                }
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    println!("sent_records={sent} sent_datagrams={datagrams} secs={secs:.3} rate={:.0} send_errors={errors}", sent as f64 / secs.max(1e-9));
}
