//! sFlow v5 decoding and per-flow summing: samples per second on one core, the figure
//! `docs/PERFORMANCE.md` quotes beside pmacct's sfacctd (which reads the pcap that
//! `bench/make-sflow-pcap.py` writes; the datagrams here have the same shape: 8 expanded flow
//! samples each, sampled Ethernet/IPv4 TCP or UDP headers, 1 in 1000, flows in both directions).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_import::netflow::sflow::SflowDecoder;
use vigil_model::Timestamp;

const DATAGRAMS: usize = 10_000;
const SAMPLES: usize = 8;

fn datagrams() -> Vec<Vec<u8>> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let w = |v: &mut Vec<u8>, n: u32| v.extend_from_slice(&n.to_be_bytes());
    (0..DATAGRAMS)
        .map(|d| {
            let mut dg = Vec::new();
            for n in [5, 1, 0xc000_0201, 0, d as u32, d as u32, SAMPLES as u32] {
                w(&mut dg, n);
            }
            for s in 0..SAMPLES {
                let f = next() % 20_000;
                let (a, b) = ([10, (f >> 8) as u8, f as u8, 7], [203, 0, (f >> 8) as u8, f as u8]);
                let (src, dst, sp, dp) =
                    if next() % 2 == 0 { (a, b, 40_000 + (f % 20_000) as u16, 443u16) } else { (b, a, 443, 40_000 + (f % 20_000) as u16) };
                let iplen: u16 = [52, 60, 576, 1400, 1500][(next() % 5) as usize];
                let mut h = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0, 0x45, 0];
                h.extend_from_slice(&iplen.to_be_bytes());
                h.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
                h.extend_from_slice(&src);
                h.extend_from_slice(&dst);
                h.extend_from_slice(&sp.to_be_bytes());
                h.extend_from_slice(&dp.to_be_bytes());
                h.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0, 0, 0, 0, 0, 0]);
                h.extend_from_slice(&[0, 0]);
                let mut rec = Vec::new();
                for n in [1, u32::from(iplen) + 18, 4, h.len() as u32] {
                    w(&mut rec, n);
                }
                rec.extend_from_slice(&h);
                let mut body = Vec::new();
                for n in [(d * SAMPLES + s) as u32, 0, 1, 1000, 0, 0, 0, 1, 0, 2, 1, 1, rec.len() as u32] {
                    w(&mut body, n);
                }
                body.extend_from_slice(&rec);
                w(&mut dg, 3);
                w(&mut dg, body.len() as u32);
                dg.extend_from_slice(&body);
            }
            dg
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let dgs = datagrams();
    let mut g = c.benchmark_group("sflow");
    g.throughput(Throughput::Elements((DATAGRAMS * SAMPLES) as u64));
    g.bench_function("decode_and_sum", |b| {
        b.iter(|| {
            let mut dec = SflowDecoder::new(120.0, 500_000);
            let mut out = Vec::new();
            for (i, dg) in dgs.iter().enumerate() {
                dec.decode(Timestamp(1_700_000_000_000_000_000 + i as i64 * 1_000_000), dg, &mut out);
            }
            dec.finish(&mut out);
            assert_eq!(dec.stats.malformed, 0);
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
