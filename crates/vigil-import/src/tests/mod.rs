//! Unit tests per format, including hostile inputs.

mod eve;
mod netflow;
mod other;
mod zeek;

/// Deterministic byte mutations of a valid input (truncations, bit flips, length-field
/// corruptions), for no-panic checks without a fuzzer.
pub fn mutations(valid: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for cut in 0..valid.len() {
        out.push(valid[..cut].to_vec());
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2000 {
        let mut v = valid.to_vec();
        for _ in 0..3 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if v.is_empty() {
                break;
            }
            let i = (x as usize) % v.len();
            v[i] = match x >> 60 {
                0..=5 => v[i] ^ (1 << ((x >> 32) % 8)),
                6..=9 => 0xff,
                10..=12 => 0,
                _ => (x >> 24) as u8,
            };
        }
        out.push(v);
    }
    out
}
