//! `vigil hunt`'s external sort: records per second through a sort that spills (sorted runs
//! written, read back and merged) against the same records sorted in memory. Records are
//! Zeek-like: uid, history, community id, and TLS (SNI, JA4, ALPN) on most, DNS on some, in
//! shuffled time order. `VIGIL_BENCH_N` sets the count (default 100,000).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::net::{IpAddr, Ipv4Addr};
use vigil_archive::spill::ConnSorter;
use vigil_model::{Conn, DnsTxn, Timestamp, TlsMeta};

fn records(n: usize) -> Vec<Conn> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ts = Timestamp(1_700_000_000_000_000_000 + (x % 86_400_000_000_000) as i64);
            let orig = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (x as u32 & 0xffff)));
            let resp = IpAddr::V4(Ipv4Addr::from((x >> 20) as u32 | 0x0100_0000));
            let mut c = Conn::new(ts, orig, 40_000 + (x % 20_000) as u16, resp, 443, 6);
            c.uid = format!("C{:017x}", x);
            c.history = "ShADadFf".into();
            c.community_id = format!("1:{:026x}=", x.rotate_left(7));
            c.duration = Some((x % 10_000) as f64 / 1000.0);
            c.orig_pkts = x % 50;
            c.resp_pkts = x % 70;
            match i % 10 {
                0..=5 => {
                    c.app.tls = Some(Box::new(TlsMeta {
                        version: Some(0x0304),
                        server_name: Some(format!("svc{}.example{}.com", x % 997, x % 13)),
                        alpn_offered: vec!["h2".into(), "http/1.1".into()],
                        ja4: Some("t13d1516h2_8daaf6152771_02713d6af862".into()),
                        established: true,
                        ..Default::default()
                    }))
                }
                6 | 7 => c.app.dns.push(DnsTxn { query: Some(format!("host{}.corp.example", x % 5_000)), ..Default::default() }),
                _ => {}
            }
            c
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let n = std::env::var("VIGIL_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000usize);
    let input = records(n);
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut g = c.benchmark_group("spill");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    let run = |budget: usize| {
        let mut s = ConnSorter::new(budget, tmp.path());
        for r in &input {
            s.push(r.clone());
        }
        let mut sorted = s.finish().expect("sort");
        let mut seen = 0usize;
        while let Some(chunk) = sorted.next_chunk(65_536).expect("read") {
            seen += chunk.len();
        }
        assert_eq!(seen, n);
    };
    g.bench_function("in_memory", |b| b.iter(|| run(usize::MAX)));
    // About 2,000 records per run: n / 2,000 runs, merged in one level up to 128,000 records.
    g.bench_function("spilled_runs_of_2000", |b| b.iter(|| run(2_000 * (std::mem::size_of::<Conn>() * 3 / 2 + 500))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
