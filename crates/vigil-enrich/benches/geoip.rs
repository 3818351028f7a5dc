//! GeoIP lookups per second: the bundled RIR table (binary search), the cached resolver, and a
//! MaxMind-format database when the shared test data is present.

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use std::net::{IpAddr, Ipv4Addr};
use vigil_enrich::geo::{Geo, Mmdb, bundled_country_table};

/// Deterministic spread of public-looking addresses (xorshift).
fn addresses(n: usize) -> Vec<IpAddr> {
    let mut x: u32 = 0x9e37_79b9;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            IpAddr::V4(Ipv4Addr::from(x))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let ips = addresses(10_000);
    let table = bundled_country_table();
    let mut g = c.benchmark_group("geoip");
    g.throughput(Throughput::Elements(ips.len() as u64));
    g.bench_function("bundled_table_lookup", |b| {
        b.iter(|| ips.iter().filter(|ip| table.lookup(**ip).is_some()).count())
    });
    let geo = Geo::default();
    g.bench_function("resolver_cached", |b| b.iter(|| ips.iter().filter(|ip| geo.lookup(**ip).country.is_some()).count()));
    g.bench_function("resolver_uncached", |b| b.iter(|| ips.iter().filter(|ip| geo.lookup_uncached(**ip).country.is_some()).count()));
    let mmdb = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/geo/maxmind-test/GeoIP2-Country-Test.mmdb");
    if let Ok(db) = Mmdb::open(&mmdb) {
        g.bench_function("mmdb_lookup", |b| b.iter(|| ips.iter().filter(|ip| black_box(db.lookup(**ip)).country.is_some()).count()));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
