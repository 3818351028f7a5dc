//! Real-world address space for external parties.
//!
//! Every prefix below is one the regional Internet registries delegate to the country named
//! (checked against ipverse `country/<cc>/aggregated.json`, CC0, in the shared test data), so
//! the bundled country table geolocates the simulator's "foreign" and "domestic" addresses
//! the way a real GeoIP database would.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::net::Ipv4Addr;

/// (country, network, prefix length). Only /16 or wider blocks wholly inside the delegation.
pub const PREFIXES: &[(&str, [u8; 4], u8)] = &[
    // China (home country of the simulated site)
    ("CN", [220, 181, 0, 0], 16),
    ("CN", [223, 5, 0, 0], 16),
    ("CN", [47, 92, 0, 0], 14),
    ("CN", [101, 226, 0, 0], 16),
    ("CN", [180, 101, 0, 0], 16),
    ("CN", [119, 29, 0, 0], 16),
    ("CN", [39, 156, 0, 0], 16),
    ("CN", [121, 40, 0, 0], 14),
    ("CN", [120, 92, 0, 0], 16),
    ("CN", [117, 48, 0, 0], 14),
    ("CN", [119, 128, 0, 0], 12),
    ("CN", [182, 238, 0, 0], 16),
    ("CN", [58, 250, 0, 0], 16),
    ("CN", [183, 232, 0, 0], 16),
    ("CN", [203, 107, 0, 0], 17),
    // United States
    ("US", [13, 107, 0, 0], 16),
    ("US", [151, 101, 0, 0], 16),
    ("US", [104, 16, 0, 0], 13),
    ("US", [52, 84, 0, 0], 14),
    ("US", [142, 250, 0, 0], 15),
    ("US", [23, 32, 0, 0], 11),
    ("US", [20, 190, 0, 0], 16),
    ("US", [157, 165, 0, 0], 16),
    ("US", [166, 107, 0, 0], 16),
    ("US", [199, 232, 0, 0], 16),
    ("US", [185, 199, 108, 0], 22),
    ("US", [20, 0, 0, 0], 7),
    // Russia
    ("RU", [77, 88, 0, 0], 18),
    ("RU", [95, 163, 0, 0], 17),
    ("RU", [95, 106, 0, 0], 16),
    ("RU", [78, 85, 0, 0], 16),
    ("RU", [31, 173, 0, 0], 16),
    // Netherlands
    ("NL", [145, 131, 0, 0], 16),
    ("NL", [94, 208, 0, 0], 13),
    ("NL", [167, 81, 0, 0], 16),
    ("NL", [37, 48, 64, 0], 18),
    // Germany
    ("DE", [5, 9, 0, 0], 16),
    ("DE", [88, 198, 0, 0], 16),
    ("DE", [78, 46, 0, 0], 15),
    ("DE", [131, 159, 0, 0], 16),
    // Singapore
    ("SG", [43, 128, 0, 0], 13),
    ("SG", [8, 208, 0, 0], 12),
    ("SG", [138, 239, 0, 0], 16),
    ("SG", [116, 14, 0, 0], 15),
    // Japan, Hong Kong, Korea, UK, France
    ("JP", [160, 16, 0, 0], 15),
    ("JP", [124, 18, 0, 0], 16),
    ("HK", [112, 118, 0, 0], 15),
    ("HK", [42, 200, 0, 0], 16),
    ("KR", [58, 120, 0, 0], 13),
    ("GB", [62, 10, 0, 0], 15),
    ("GB", [145, 229, 0, 0], 16),
    ("FR", [51, 195, 0, 0], 16),
    ("FR", [89, 224, 0, 0], 14),
];

/// Countries the attacker infrastructure is drawn from.
pub const HOSTILE_COUNTRIES: &[&str] = &["US", "RU", "NL", "DE", "SG", "JP", "HK", "KR", "GB", "FR"];

/// A random host address (not the network or broadcast address of a /24) in `cc`.
pub fn random_ip(cc: &str, rng: &mut ChaCha8Rng) -> Ipv4Addr {
    let cands: Vec<&(&str, [u8; 4], u8)> = PREFIXES.iter().filter(|p| p.0 == cc).collect();
    let (_, net, len) = cands[rng.gen_range(0..cands.len())];
    let base = u32::from_be_bytes(*net);
    let span = 1u32 << (32 - *len as u32);
    loop {
        let off = rng.gen_range(1..span - 1);
        let ip = base + off;
        if !matches!(ip & 0xff, 0 | 255) {
            return Ipv4Addr::from(ip);
        }
    }
}

/// A /24 inside `cc` (for a scanning platform's network), as its first address.
pub fn random_net24(cc: &str, rng: &mut ChaCha8Rng) -> Ipv4Addr {
    let ip = u32::from(random_ip(cc, rng));
    Ipv4Addr::from(ip & 0xffff_ff00)
}

/// The country of an address, if it is in the table.
pub fn country_of(ip: Ipv4Addr) -> Option<&'static str> {
    let x = u32::from(ip);
    PREFIXES.iter().find(|(_, net, len)| (x ^ u32::from_be_bytes(*net)) >> (32 - *len as u32) == 0).map(|p| p.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn prefixes_are_aligned_and_draws_stay_inside() {
        for (_, net, len) in PREFIXES {
            let x = u32::from_be_bytes(*net);
            assert_eq!(x & ((1u32 << (32 - *len as u32)) - 1), 0, "{net:?}/{len} is aligned");
        }
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for cc in ["CN", "US", "RU", "NL", "DE", "SG"] {
            for _ in 0..50 {
                assert_eq!(country_of(random_ip(cc, &mut rng)), Some(cc));
            }
        }
    }
}
