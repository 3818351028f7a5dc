//! Reader for RIR-delegation country data in the ipverse `country-ip-blocks` layout
//! (`country/<cc>/aggregated.json`, CC0), the source of the bundled country table.

use crate::EnrichError;
use ipnet::IpNet;
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize)]
struct Aggregated {
    #[serde(rename = "countryCode")]
    country_code: String,
    #[serde(default)]
    prefixes: Prefixes,
}

#[derive(Deserialize, Default)]
struct Prefixes {
    #[serde(default)]
    ipv4: Vec<String>,
    #[serde(default)]
    ipv6: Vec<String>,
}

/// Every (country, prefix) pair under `dir/<cc>/aggregated.json`, in directory order sorted by
/// country. A file that does not parse is an error naming it; a prefix that does not parse is
/// skipped (counted in the error-free path by the caller comparing totals).
pub fn read_ipverse_dir(dir: &Path) -> Result<Vec<([u8; 2], IpNet)>, EnrichError> {
    let io = |source| EnrichError::Io { path: dir.to_path_buf(), source };
    let mut dirs: Vec<_> = std::fs::read_dir(dir).map_err(io)?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    dirs.sort();
    let mut out = Vec::new();
    for d in dirs {
        let f = d.join("aggregated.json");
        if !f.is_file() {
            continue;
        }
        out.extend(read_ipverse_file(&f)?);
    }
    Ok(out)
}

/// The (country, prefix) pairs of one `aggregated.json`.
pub fn read_ipverse_file(f: &Path) -> Result<Vec<([u8; 2], IpNet)>, EnrichError> {
    let text = std::fs::read(f).map_err(|source| EnrichError::Io { path: f.to_path_buf(), source })?;
    let a: Aggregated = serde_json::from_slice(&text).map_err(|e| EnrichError::Table(format!("{}: {e}", f.display())))?;
    let cc = a.country_code.trim().as_bytes();
    if cc.len() != 2 || !cc.iter().all(u8::is_ascii_alphabetic) {
        return Err(EnrichError::Table(format!("{}: country code {:?}", f.display(), a.country_code)));
    }
    let cc = [cc[0].to_ascii_uppercase(), cc[1].to_ascii_uppercase()];
    Ok(a.prefixes.ipv4.iter().chain(a.prefixes.ipv6.iter()).filter_map(|p| p.trim().parse::<IpNet>().ok()).map(|n| (cc, n)).collect())
}
