//! GeoIP lookups per second: the bundled RIR table (binary search), the cached resolver, and a
//! MaxMind-format database when the shared test data is present. And the site's own lookups
//! (is an address internal, which zone holds it) on a site file of 300 subnets in 30 zones:
//! the longest-prefix index beside the linear scan of the networks it replaced.

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
    g.bench_function("bundled_table_lookup", |b| b.iter(|| ips.iter().filter(|ip| table.lookup(**ip).is_some()).count()));
    let geo = Geo::default();
    g.bench_function("resolver_cached", |b| b.iter(|| ips.iter().filter(|ip| geo.lookup(**ip).country.is_some()).count()));
    g.bench_function("resolver_uncached", |b| b.iter(|| ips.iter().filter(|ip| geo.lookup_uncached(**ip).country.is_some()).count()));
    let mmdb = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/geo/maxmind-test/GeoIP2-Country-Test.mmdb");
    if let Ok(db) = Mmdb::open(&mmdb) {
        g.bench_function("mmdb_lookup", |b| b.iter(|| ips.iter().filter(|ip| black_box(db.lookup(**ip)).country.is_some()).count()));
    }
    g.finish();
}

/// A site of 30 zones of ten /24s each inside 10.0.0.0/8, plus the RFC 1918 internal ranges.
fn big_site() -> vigil_enrich::Site {
    let mut text = String::from("[site]\ninternal=[\"10.0.0.0/8\",\"172.16.0.0/12\",\"192.168.0.0/16\"]\n");
    for z in 0..30 {
        let nets: Vec<String> = (0..10).map(|i| format!("\"10.{z}.{i}.0/24\"")).collect();
        text.push_str(&format!("[[site.zone]]\nname=\"z{z}\"\nnetworks=[{}]\n", nets.join(",")));
    }
    vigil_enrich::Site::parse(&text, std::path::Path::new("bench.toml")).expect("bench site")
}

fn bench_site(c: &mut Criterion) {
    let site = big_site();
    // Half inside the zones' ranges, half elsewhere.
    let ips: Vec<IpAddr> = addresses(10_000)
        .into_iter()
        .enumerate()
        .map(|(i, ip)| match (i % 2, ip) {
            (0, IpAddr::V4(a)) => {
                let [_, b, c, d] = a.octets();
                IpAddr::V4(Ipv4Addr::new(10, b % 32, c % 12, d))
            }
            _ => ip,
        })
        .collect();
    let mut g = c.benchmark_group("site");
    g.throughput(Throughput::Elements(ips.len() as u64));
    g.bench_function("zone_index", |b| b.iter(|| ips.iter().filter(|ip| site.zone(**ip).is_some()).count()));
    g.bench_function("zone_linear_scan", |b| {
        b.iter(|| {
            ips.iter()
                .filter(|ip| {
                    site.zones
                        .iter()
                        .filter_map(|z| z.networks.iter().filter(|n| n.contains(*ip)).map(|n| n.prefix_len()).max())
                        .max()
                        .is_some()
                })
                .count()
        })
    });
    g.bench_function("is_internal_index", |b| b.iter(|| ips.iter().filter(|ip| site.is_internal(**ip)).count()));
    g.bench_function("is_internal_linear_scan", |b| {
        b.iter(|| ips.iter().filter(|ip| site.internal.iter().any(|n| n.contains(*ip))).count())
    });
    g.finish();
}

criterion_group!(benches, bench, bench_site);
criterion_main!(benches);
