//! Byte entropy of the first payload bytes, so detectors can tell "encrypted but not TLS".

/// Incremental byte histogram over at most `cap` bytes.
#[derive(Clone, Debug)]
pub struct EntropyMeter {
    counts: [u32; 256],
    n: u32,
    cap: u32,
}

impl EntropyMeter {
    pub fn new(cap: u32) -> Self {
        EntropyMeter { counts: [0; 256], n: 0, cap }
    }
    pub fn feed(&mut self, data: &[u8]) {
        let room = self.cap.saturating_sub(self.n) as usize;
        for &b in &data[..data.len().min(room)] {
            self.counts[b as usize] += 1;
        }
        self.n += data.len().min(room) as u32;
    }
    pub fn full(&self) -> bool {
        self.n >= self.cap
    }
    pub fn bytes(&self) -> u32 {
        self.n
    }
    /// Shannon entropy in bits per byte, or None below 16 bytes (too few to judge).
    pub fn entropy(&self) -> Option<f32> {
        if self.n < 16 {
            return None;
        }
        let n = self.n as f64;
        let h: f64 = self
            .counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / n;
                -p * p.log2()
            })
            .sum();
        Some(h as f32)
    }
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
}
