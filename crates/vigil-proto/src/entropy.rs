//! Byte entropy of the first payload bytes, so detectors can tell "encrypted but not TLS".

/// Incremental byte histogram over at most `cap` bytes (at most 65,535).
///
/// The histogram is allocated with the first byte: a session holds two meters and is moved
/// in and out of its box, and a kilobyte inline per meter made each move a large copy (and
/// many directions never carry a byte). Counts are 16-bit: half a kilobyte stays in the
/// allocator's per-thread cache, where a kilobyte took its slow path every time.
#[derive(Clone, Debug)]
pub struct EntropyMeter {
    counts: Option<Box<[u16; 256]>>,
    n: u32,
    cap: u32,
}

impl EntropyMeter {
    pub fn new(cap: u32) -> Self {
        EntropyMeter { counts: None, n: 0, cap: cap.min(u16::MAX as u32) }
    }
    pub fn feed(&mut self, data: &[u8]) {
        let room = self.cap.saturating_sub(self.n) as usize;
        let take = data.get(..data.len().min(room)).unwrap_or(&[]);
        if take.is_empty() {
            return;
        }
        let counts = self.counts.get_or_insert_with(|| Box::new([0u16; 256]));
        for &b in take {
            counts[b as usize] += 1;
        }
        self.n += take.len() as u32;
    }
    pub fn full(&self) -> bool {
        self.n >= self.cap
    }
    pub fn bytes(&self) -> u32 {
        self.n
    }
    /// Shannon entropy in bits per byte, or None below 16 bytes (too few to judge).
    ///
    /// Computed as `log2(n) - Σ c·log2(c) / n` with `c·log2(c)` looked up in a table for the
    /// counts the meter can hold: every connection's `finish` calls this twice, and 256 calls
    /// to `log2` per side were a measurable share of the whole engine's time.
    pub fn entropy(&self) -> Option<f32> {
        if self.n < 16 {
            return None;
        }
        let counts = self.counts.as_deref()?;
        let n = self.n as f64;
        let table = clog2_table();
        let sum: f64 = counts
            .iter()
            .filter(|&&c| c > 1)
            .map(|&c| table.get(c as usize).copied().unwrap_or_else(|| clog2(c as u32)))
            .sum();
        Some((n.log2() - sum / n).max(0.0) as f32)
    }
}

/// Largest count with a precomputed `c·log2(c)`: covers the meters the sessions use.
const TABLE_MAX: usize = 8192;

fn clog2(c: u32) -> f64 {
    let c = c as f64;
    c * c.log2()
}

fn clog2_table() -> &'static [f64] {
    static TABLE: std::sync::OnceLock<Box<[f64]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| (0..=TABLE_MAX as u32).map(|c| if c < 2 { 0.0 } else { clog2(c) }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn uniform_bytes_are_eight_bits_and_text_is_low() {
        let mut m = EntropyMeter::new(4096);
        let all: Vec<u8> = (0..=255u8).cycle().take(2048).collect();
        m.feed(&all);
        assert!((m.entropy().unwrap() - 8.0).abs() < 1e-3);
        let mut t = EntropyMeter::new(4096);
        t.feed(b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n");
        assert!(t.entropy().unwrap() < 5.0);
        let mut s = EntropyMeter::new(4);
        s.feed(&all);
        assert_eq!(s.bytes(), 4);
        assert_eq!(s.entropy(), None);
    }

    #[test]
    fn table_form_equals_the_definition() {
        // Skewed histograms, including counts past the table (meter capacity above TABLE_MAX).
        for (cap, seed) in [(4096u32, 1u64), (20_000, 7), (64, 3)] {
            let mut m = EntropyMeter::new(cap);
            let mut x = seed;
            let data: Vec<u8> = (0..cap)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    ((x >> 33) % 7) as u8 * ((x >> 40) % 3) as u8
                })
                .collect();
            m.feed(&data);
            let n = m.bytes() as f64;
            let direct: f64 = m.counts.as_deref().unwrap().iter().filter(|&&c| c > 0).map(|&c| -(c as f64 / n) * (c as f64 / n).log2()).sum();
            assert!((m.entropy().unwrap() as f64 - direct).abs() < 1e-5, "cap {cap}");
        }
    }
}
