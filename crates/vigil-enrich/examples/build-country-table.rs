//! Compiles the ipverse country-ip-blocks data (RIR delegations by country, CC0) into the
//! bundled table `data/country-ranges.bin.gz`.
//!
//! `cargo run -p vigil-enrich --example build-country-table -- [COUNTRY_DIR] [OUT]`
//! COUNTRY_DIR defaults to `$VIGIL_SHARED_DATA/geo/ipverse-country-ip-blocks/country` (or the
//! workspace's `../shared/data`), OUT to the crate's `data/country-ranges.bin.gz`.

use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::PathBuf;
use vigil_enrich::geo::{RangeTable, encode_country_table, prefix_bounds_v4, prefix_bounds_v6};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = std::env::var_os("VIGIL_SHARED_DATA").map(PathBuf::from).unwrap_or_else(|| manifest.join("../../../shared/data"));
    let mut args = std::env::args_os().skip(1);
    let dir = args.next().map(PathBuf::from).unwrap_or_else(|| shared.join("geo/ipverse-country-ip-blocks/country"));
    let out = args.next().map(PathBuf::from).unwrap_or_else(|| manifest.join("data/country-ranges.bin.gz"));

    let prefixes = vigil_enrich::rir::read_ipverse_dir(&dir)?;
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for (cc, net) in &prefixes {
        match net {
            ipnet::IpNet::V4(n) => {
                let (s, e) = prefix_bounds_v4(*n);
                v4.push((s, e, *cc));
            }
            ipnet::IpNet::V6(n) => {
                let (s, e) = prefix_bounds_v6(*n);
                v6.push((s, e, *cc));
            }
        }
    }
    let (table, clipped) = RangeTable::build(v4, v6);
    let raw = encode_country_table(&table)?;
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&raw)?;
    let packed = gz.finish()?;
    std::fs::write(&out, &packed)?;
    eprintln!(
        "{} prefixes -> {} v4 + {} v6 ranges ({} overlaps clipped); {} bytes raw, {} bytes gzip -> {}",
        prefixes.len(),
        table.v4_ranges().len(),
        table.v6_ranges().len(),
        clipped,
        raw.len(),
        packed.len(),
        out.display()
    );
    Ok(())
}
