//! Scale benchmark of the detector pass (issues #4 and #5): generates a deterministic synthetic
//! Conn stream once (see `benches/common/synth.rs`: 50,000 internal hosts in six zones,
//! 200,000 outside destinations with Zipf-like popularity over real RIR ranges, TLS/DNS/HTTP
//! metadata, planted attacks), feeds it to the detectors and reports wall and CPU time
//! (getrusage), records per CPU-second, and peak RSS. Criterion's repetition is too slow at
//! 10 M records, hence a plain binary.
//!
//! ```text
//! cargo run --profile perf -p vigil-detect --example detect_scale -- [OPTIONS]
//!   --records N     records in the stream (default 10,000,000)
//!   --hosts N       internal hosts (default 50,000)
//!   --pass P        all (run_all's detectors) | movement | espionage | geo (default all)
//!   --materialize   generate every record first and call vigil_detect::run_all on the slice
//!                   (peak RSS then includes the records themselves, ~0.5 KB each)
//!   --threads N     with --materialize: detector groups on N threads (default:
//!                   vigil_detect::default_threads(), run_all's choice)
//!   --dump PATH     write every finding, ranked, as one JSON line each (to compare the
//!                   findings of two builds byte for byte)
//! ```
//!
//! Without `--materialize` the stream is generated in chunks of 65,536 records and only the
//! detector calls are timed, so the peak RSS is the detectors' state plus one chunk. The
//! detector sequence is the one `run_all` uses: `all_detectors()`, the shared front end and
//! `observe_rec` per record in batches (`observe_batch`), `finish`, `Finding::rank`.
//! `VIGIL_BENCH_PER_DETECTOR=1` times the front end and each detector separately (thread CPU
//! time, each detector over a whole chunk);
//! `VIGIL_BENCH_ONLY=name,...` runs only the named detectors.

#[path = "../benches/common/synth.rs"]
mod synth;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use synth::{Synth, SynthConfig};
use vigil_detect::front::FrontEnd;
use vigil_detect::{Detector, all_detectors, espionage_detectors, movement_detectors, observe_all, observe_batch, util::Tuning};
use vigil_enrich::Context;
use vigil_enrich::geo::{Geo, Mmdb, bundled_country_table};
use vigil_model::{Conn, Finding};

/// The `vigil` binary's allocator and its options, so the figures are those of `vigil hunt`.
#[path = "../../vigil/src/alloc.rs"]
mod alloc;

/// This process's resource usage so far: user CPU, system CPU, and peak resident set in bytes.
fn rusage() -> (Duration, Duration, u64) {
    // SAFETY: getrusage only writes into the zeroed struct we hand it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return (Duration::ZERO, Duration::ZERO, 0);
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32).saturating_mul(1000));
    // Linux reports ru_maxrss in KiB.
    (tv(ru.ru_utime), tv(ru.ru_stime), (ru.ru_maxrss.max(0) as u64) * 1024)
}

/// CPU time (user + system) of this process so far, and its peak resident set in bytes.
fn usage() -> (Duration, u64) {
    let (user, sys, rss) = rusage();
    (user + sys, rss)
}

/// CPU time of this thread (per-detector attribution: wall clock counts the other processes
/// of a loaded machine).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes into the timespec we hand it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

struct Args {
    records: usize,
    hosts: u32,
    pass: String,
    materialize: bool,
    threads: usize,
    dump: Option<std::path::PathBuf>,
    /// Records from these logs or flow files (`vigil_import::import_path`) instead of the
    /// generator, in time order.
    input: Option<std::path::PathBuf>,
    /// Site file for `--input` (default: the benchmark's).
    site: Option<std::path::PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        records: 10_000_000,
        hosts: 50_000,
        pass: "all".into(),
        materialize: false,
        threads: vigil_detect::default_threads(),
        dump: None,
        input: None,
        site: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--records" => a.records = it.next().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(a.records),
            "--hosts" => a.hosts = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.hosts),
            "--pass" => a.pass = it.next().unwrap_or(a.pass),
            "--materialize" => a.materialize = true,
            "--threads" => a.threads = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.threads),
            "--dump" => a.dump = it.next().map(std::path::PathBuf::from),
            "--input" => a.input = it.next().map(std::path::PathBuf::from),
            "--site" => a.site = it.next().map(std::path::PathBuf::from),
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    a
}

/// The pass's detectors; `VIGIL_BENCH_ONLY=beacon,dormant_device` keeps only those named (to
/// attribute memory).
fn detectors(pass: &str) -> Vec<Box<dyn Detector>> {
    let mut v = match pass {
        "movement" => movement_detectors(),
        "espionage" => espionage_detectors(&Tuning::default(), None),
        _ => all_detectors(),
    };
    if let Ok(only) = std::env::var("VIGIL_BENCH_ONLY") {
        let names: Vec<&str> = only.split(',').map(str::trim).collect();
        v.retain(|d| names.contains(&d.name()));
    }
    v
}

fn report(label: &str, n: usize, wall: Duration, cpu: Duration) {
    let per_cpu = n as f64 / cpu.as_secs_f64().max(1e-9);
    let per_wall = n as f64 / wall.as_secs_f64().max(1e-9);
    println!(
        "{label:<28} {n:>11} records  wall {:>8.3} s  cpu {:>8.3} s  {:>6.2} M rec/s per CPU-s  {:>6.2} M rec/s wall",
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        per_cpu / 1e6,
        per_wall / 1e6
    );
}

fn summarize(findings: &[Finding], dump: Option<&std::path::Path>) {
    if let Some(p) = dump {
        let mut s = String::new();
        for f in findings {
            s.push_str(&serde_json::to_string(f).unwrap_or_default());
            s.push('\n');
        }
        if let Err(e) = std::fs::write(p, s) {
            eprintln!("{}: {e}", p.display());
        }
    }
    let mut kinds: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for f in findings {
        let k = serde_json::to_value(f.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let e = kinds.entry(k).or_default();
        e.0 += 1;
        if f.severity >= vigil_model::Severity::Medium {
            e.1 += 1;
        }
    }
    println!("findings: {} ({} kinds)", findings.len(), kinds.len());
    for (k, (all, med)) in kinds {
        println!("  {k:<24} {all:>6}  (>= medium: {med})");
    }
}

fn detect(a: &Args, ctx: &Context) {
    let mut cfg = SynthConfig::new(a.records);
    cfg.hosts = a.hosts;
    let (cpu0, rss0) = usage();
    println!("pass={} records={} hosts={} materialize={} baseline_rss={:.1} MiB", a.pass, a.records, a.hosts, a.materialize, mib(rss0));
    let _ = cpu0;
    if a.materialize {
        let t = Instant::now();
        let conns: Vec<Conn> = Synth::new(cfg).collect();
        let (_, rss_gen) = usage();
        println!("generated {} records in {:.1} s, rss {:.1} MiB", conns.len(), t.elapsed().as_secs_f64(), mib(rss_gen));
        let (c0, _) = usage();
        let t0 = Instant::now();
        let findings = if a.pass == "all" {
            let refs: Vec<&Conn> = conns.iter().collect();
            vigil_detect::run_detectors(all_detectors(), &refs, ctx, a.threads)
        } else {
            let mut dets = detectors(&a.pass);
            let mut fe = FrontEnd::new();
            for c in &conns {
                observe_all(&mut dets, &mut fe, c, ctx);
            }
            let mut out: Vec<Finding> = dets.iter_mut().flat_map(|d| d.finish(ctx)).collect();
            Finding::rank(&mut out);
            out
        };
        let wall = t0.elapsed();
        let (c1, rss) = usage();
        report(&format!("run_all/{} threads={}", a.pass, a.threads), conns.len(), wall, c1 - c0);
        println!("peak rss {:.1} MiB (records held: {:.1} MiB before the pass)", mib(rss), mib(rss_gen));
        summarize(&findings, a.dump.as_deref());
        return;
    }
    let mut dets = detectors(&a.pass);
    let mut fe = FrontEnd::new();
    let mut front_time = Duration::ZERO;
    let mut stream = Source::new(a, cfg);
    let mut chunk: Vec<Conn> = Vec::with_capacity(65_536);
    let (mut wall, mut cpu) = (Duration::ZERO, Duration::ZERO);
    // System time inside the timed regions (part of `cpu`).
    let mut sys = Duration::ZERO;
    let mut n = 0usize;
    let mut per_det: Vec<Duration> = vec![Duration::ZERO; dets.len()];
    let profile_each = std::env::var_os("VIGIL_BENCH_PER_DETECTOR").is_some();
    while stream.fill(&mut chunk, 65_536) > 0 {
        let (u0, s0, _) = rusage();
        let t0 = Instant::now();
        if profile_each {
            // The front end, then detector by detector over the chunk, to attribute time (same
            // work, other order).
            let t = thread_cpu();
            let refs: Vec<&Conn> = chunk.iter().collect();
            let mut recs = Vec::with_capacity(refs.len());
            fe.recs(&refs, ctx, &mut recs);
            front_time += thread_cpu().saturating_sub(t);
            for (d, slot) in dets.iter_mut().zip(per_det.iter_mut()) {
                let t = thread_cpu();
                d.observe_recs(&recs);
                *slot += thread_cpu().saturating_sub(t);
            }
        } else {
            // run_all's batching.
            for b in chunk.chunks(vigil_detect::BATCH) {
                let refs: Vec<&Conn> = b.iter().collect();
                observe_batch(&mut dets, &mut fe, &refs, ctx);
            }
        }
        wall += t0.elapsed();
        let (u1, s1, _) = rusage();
        cpu += (u1 + s1).saturating_sub(u0 + s0);
        sys += s1.saturating_sub(s0);
        n += chunk.len();
    }
    drop(chunk);
    report("observe", n, wall, cpu);
    let (u0, s0, _) = rusage();
    let t0 = Instant::now();
    let mut finish_each = Vec::new();
    let mut findings: Vec<Finding> = Vec::new();
    for d in dets.iter_mut() {
        let t = thread_cpu();
        findings.extend(d.finish(ctx));
        finish_each.push((d.name(), thread_cpu().saturating_sub(t)));
    }
    Finding::rank(&mut findings);
    let fwall = t0.elapsed();
    let (u1, s1, rss) = rusage();
    let finish_cpu = (u1 + s1).saturating_sub(u0 + s0);
    sys += s1.saturating_sub(s0);
    println!("finish                       wall {:>8.3} s  cpu {:>8.3} s", fwall.as_secs_f64(), finish_cpu.as_secs_f64());
    let total = cpu + finish_cpu;
    report(&format!("TOTAL {}", a.pass), n, wall + fwall, total);
    // On a VM the system time is mostly the host backing pages the state touches for the first
    // time, and it varies 10x between identical runs: the user time is the steadier figure.
    let user = total.saturating_sub(sys);
    println!(
        "  of which system {:.3} s; user {:.3} s = {:.2} M rec/s per user-CPU-s",
        sys.as_secs_f64(),
        user.as_secs_f64(),
        n as f64 / user.as_secs_f64().max(1e-9) / 1e6
    );
    println!("peak rss {:.1} MiB (baseline before detectors {:.1} MiB)", mib(rss), mib(rss0));
    println!("front end: {} internal hosts, {} (host, destination) pairs", fe.hosts(), fe.pairs());
    if profile_each {
        println!("  observe {:<24} {:>8.3} s CPU", "(front end)", front_time.as_secs_f64());
        for (d, t) in dets.iter().zip(per_det) {
            println!("  observe {:<24} {:>8.3} s CPU", d.name(), t.as_secs_f64());
        }
    }
    for (name, t) in finish_each {
        println!("  finish  {name:<24} {:>8.3} s CPU", t.as_secs_f64());
    }
    summarize(&findings, a.dump.as_deref());
}

/// GeoIP lookups per second: the bundled RIR table, the cached resolver, the CSV country table
/// from the shared data, and the MaxMind test databases when present.
fn geo_bench(records: usize, ctx: &Context) {
    let cfg = SynthConfig::new(records);
    let stream = Synth::new(cfg.clone());
    // Destinations as the detectors see them: Zipf-popular outside addresses, plus uniform
    // random addresses (the scan case, where nothing repeats).
    let mut rng = synth::Rng::new(7);
    let zipf: Vec<std::net::IpAddr> = (0..records).map(|_| std::net::IpAddr::V4(stream.external(rng.zipf(cfg.external, 1.1)))).collect();
    let uniform: Vec<std::net::IpAddr> = (0..records).map(|_| std::net::IpAddr::V4(std::net::Ipv4Addr::from(rng.next() as u32))).collect();
    let time = |label: &str, ips: &[std::net::IpAddr], f: &dyn Fn(std::net::IpAddr) -> bool| {
        let (c0, _) = usage();
        let t0 = Instant::now();
        let hits = ips.iter().filter(|ip| f(**ip)).count();
        let wall = t0.elapsed();
        let (c1, _) = usage();
        report(label, ips.len(), wall, c1 - c0);
        println!("{:<28} hits {hits}", "");
    };
    let table = bundled_country_table();
    time("bundled table, zipf", &zipf, &|ip| table.lookup(ip).is_some());
    time("bundled table, uniform", &uniform, &|ip| table.lookup(ip).is_some());
    time("ctx.geo cached, zipf", &zipf, &|ip| ctx.geo(ip).country.is_some());
    time("ctx.geo cached, uniform", &uniform, &|ip| ctx.geo(ip).country.is_some());
    let data = std::env::var_os("VIGIL_SHARED_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let csv = data.join("geo/ip-location-db/geo-whois-asn-country-ipv4.csv.gz");
    if let Ok((Some(c), a)) = Geo::open_file(&csv) {
        let g = Geo::new(vec![c], a.into_iter().collect());
        time("csv country table, zipf", &zipf, &|ip| g.lookup_uncached(ip).country.is_some());
        time("csv table cached, zipf", &zipf, &|ip| g.lookup(ip).country.is_some());
    } else {
        println!("{} not found; skipping the CSV table", csv.display());
    }
    // The MaxMind test databases cover only a few networks, so random addresses mostly miss;
    // addresses inside their networks measure a full record decode.
    let inside: Vec<std::net::IpAddr> = [
        "81.2.69.142",
        "2.125.160.216",
        "89.160.20.112",
        "216.160.83.56",
        "67.43.156.1",
        "175.16.199.1",
        "202.196.224.1",
        "1.128.0.1",
        "149.101.100.1",
        "12.81.92.1",
    ]
    .iter()
    .filter_map(|s| s.parse().ok())
    .collect();
    let hits: Vec<std::net::IpAddr> = (0..records).map(|i| inside[i % inside.len()]).collect();
    for name in ["GeoLite2-Country-Test.mmdb", "GeoIP2-City-Test.mmdb", "GeoLite2-ASN-Test.mmdb"] {
        let p = data.join("geo/maxmind-test").join(name);
        match Mmdb::open(&p) {
            Ok(db) => {
                let f = |ip| {
                    let g = db.lookup(ip);
                    g.country.is_some() || g.asn.is_some()
                };
                time(&format!("mmdb {name}, zipf"), &zipf, &f);
                time(&format!("mmdb {name}, in-db"), &hits, &f);
            }
            Err(e) => println!("{}: {e}; skipping", p.display()),
        }
        if let Ok((c, a)) = Geo::open_file(&p) {
            let g = Geo::new(c.into_iter().collect(), a.into_iter().collect());
            time(&format!("resolver+cache {name}, in-db"), &hits, &|ip| {
                let r = g.lookup(ip);
                r.country.is_some() || r.asn.is_some()
            });
        }
    }
    let (_, rss) = usage();
    println!("peak rss {:.1} MiB", mib(rss));
}

/// Where the streamed pass's records come from: the generator, or records imported from
/// `--input` (read and sorted by time before the pass, outside the timed region).
enum Source {
    Synth(Synth),
    Input(std::vec::IntoIter<Conn>),
}

impl Source {
    fn new(a: &Args, cfg: SynthConfig) -> Source {
        let Some(path) = a.input.as_deref() else { return Source::Synth(Synth::new(cfg)) };
        let mut conns: Vec<Conn> = Vec::new();
        match vigil_import::import_path(path, &mut |c| conns.push(c), &mut |_| {}) {
            Ok(stats) => println!("imported {} records from {} ({stats:?})", conns.len(), path.display()),
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                std::process::exit(2);
            }
        }
        conns.sort_by_key(|c| c.ts);
        Source::Input(conns.into_iter())
    }

    fn fill(&mut self, out: &mut Vec<Conn>, max: usize) -> usize {
        match self {
            Source::Synth(s) => s.fill(out, max),
            Source::Input(it) => {
                out.clear();
                out.extend(it.by_ref().take(max));
                out.len()
            }
        }
    }
}

fn main() {
    alloc::keep_freed_memory();
    let a = args();
    let site = match a.site.as_deref() {
        Some(p) => vigil_enrich::Site::load(p).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2);
        }),
        None => synth::site(),
    };
    let ctx = Context::load(site).expect("bench context");
    if a.pass == "geo" {
        geo_bench(a.records.min(5_000_000), &ctx);
    } else {
        detect(&a, &ctx);
    }
}
