//! Regression benchmarks of the detector pass over the shared synthetic stream
//! (`benches/common/synth.rs`: 50,000 internal hosts in six zones, Zipf-popular outside
//! destinations over real RIR ranges, TLS/DNS/HTTP metadata, planted beacons, uploads, scans,
//! a DNS tunnel, a springboard chain and an SMB fan-out), with the benchmark site file and the
//! bundled GeoIP table. N comes from `VIGIL_BENCH_N` (default 100,000); criterion reports
//! records/s. The 10 M-record figures come from the `detect_scale` example, which times one pass
//! with getrusage instead of repeating it.

#[path = "common/synth.rs"]
mod synth;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use synth::{Synth, SynthConfig};
use vigil_detect::front::FrontEnd;
use vigil_detect::util::Tuning;
use vigil_detect::{espionage_detectors, movement_detectors, observe_all, run_all};
use vigil_enrich::Context;
use vigil_model::Conn;

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("VIGIL_BENCH_N").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let conns: Vec<Conn> = Synth::new(SynthConfig::new(n)).collect();
    let ctx = Context::load(synth::site()).expect("bench site");
    let mut g = c.benchmark_group("detect");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(format!("run_all/{n}"), |b| b.iter(|| run_all(&conns, &ctx).len()));
    g.bench_function(format!("espionage_detectors/{n}"), |b| {
        b.iter(|| {
            let mut dets = espionage_detectors(&Tuning::default(), None);
            let mut fe = FrontEnd::new();
            for x in &conns {
                observe_all(&mut dets, &mut fe, x, &ctx);
            }
            dets.iter_mut().map(|d| d.finish(&ctx).len()).sum::<usize>()
        })
    });
    g.bench_function(format!("movement_detectors/{n}"), |b| {
        b.iter(|| {
            let mut dets = movement_detectors();
            let mut fe = FrontEnd::new();
            for x in &conns {
                observe_all(&mut dets, &mut fe, x, &ctx);
            }
            dets.iter_mut().map(|d| d.finish(&ctx).len()).sum::<usize>()
        })
    });
    // The front end alone: one record at a time, and in run_all's batches (pair-table slots
    // loaded ahead). At the default N the pair table fits in the caches; the gap grows with
    // the table (PERFORMANCE.md, session 10, for 10 M records).
    let refs: Vec<&Conn> = conns.iter().collect();
    g.bench_function(format!("front_end_per_record/{n}"), |b| {
        b.iter(|| {
            let mut fe = FrontEnd::new();
            refs.iter().map(|x| fe.rec(x, &ctx).pair as u64).sum::<u64>()
        })
    });
    g.bench_function(format!("front_end_batches/{n}"), |b| {
        b.iter(|| {
            let mut fe = FrontEnd::new();
            let mut out = Vec::with_capacity(vigil_detect::BATCH);
            let mut sum = 0u64;
            for batch in refs.chunks(vigil_detect::BATCH) {
                fe.recs(batch, &ctx, &mut out);
                sum += out.iter().map(|r| r.pair as u64).sum::<u64>();
            }
            sum
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
