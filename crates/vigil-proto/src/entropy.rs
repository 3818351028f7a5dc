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
        let counts = self.counts.get_or_insert_with(take_histogram);
        if take.len() < WIDE_FROM {
            for &b in take {
                counts[b as usize] += 1;
            }
        } else {
            // Counted in 32-bit cells, then added in. Incrementing one 16-bit cell again and
            // again (a run of one byte value: zero padding, file contents) waits for the
            // previous store every time, about six times slower per byte than a 32-bit cell,
            // which the processor forwards at once. Clearing and adding the 1 KiB of cells
            // costs less than that on any segment of this size.
            let mut wide = [0u32; 256];
            for &b in take {
                wide[b as usize] += 1;
            }
            // No cell overflows: all counts together stay at most `cap` (≤ 65,535).
            for (c, &w) in counts.iter_mut().zip(wide.iter()) {
                *c = c.wrapping_add(w as u16);
            }
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
        // Four running sums over interleaved bins, no branch per bin: a single sum is a chain
        // of 256 dependent additions, and skipping the empty bins by a test mispredicted on
        // about every other bin (0 and 1 contribute nothing: the table holds 0 for them).
        let mut acc = [0.0f64; 4];
        if self.cap as usize <= TABLE_MAX {
            // No count exceeds the capacity, so every one is in the table (the `get` never
            // misses; it only keeps the loop free of a call to `log2`). Runs of 16 bins that
            // all hold 0 or 1 add nothing and are passed over with one test: short
            // connections (DNS, small requests) leave most of the histogram that way. Each bin
            // still goes to the same running sum, so the result is the same.
            for run in counts.chunks_exact(16) {
                if run.iter().fold(0u16, |m, &c| m | (c & !1)) == 0 {
                    continue;
                }
                for quad in run.chunks_exact(4) {
                    for (a, &c) in acc.iter_mut().zip(quad) {
                        *a += table.get(c as usize).copied().unwrap_or(0.0);
                    }
                }
            }
        } else {
            for quad in counts.chunks_exact(4) {
                for (a, &c) in acc.iter_mut().zip(quad) {
                    *a += table.get(c as usize).copied().unwrap_or_else(|| clog2(c as u32));
                }
            }
        }
        let sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        Some((n.log2() - sum / n).max(0.0) as f32)
    }
}

/// Cleared histograms kept per thread for the next meters. Meters come and go with
/// connections, in bursts (a batch of flows times out together), which drained glibc's
/// per-thread cache of this size class so that most allocations took the allocator's slow
/// path. Bounded: at most this many (half a KiB each) are held.
const SPARE_HISTOGRAMS: usize = 1024;

thread_local! {
    // Boxes, not arrays: a meter takes and gives back its allocation as it is, with no copy.
    #[allow(clippy::vec_box)]
    static SPARE: std::cell::RefCell<Vec<Box<[u16; 256]>>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn take_histogram() -> Box<[u16; 256]> {
    SPARE.with(|s| s.borrow_mut().pop()).unwrap_or_else(|| Box::new([0u16; 256]))
}

impl Drop for EntropyMeter {
    fn drop(&mut self) {
        if let Some(mut h) = self.counts.take() {
            h.fill(0);
            // During thread exit the pool may already be gone: then the box is simply freed.
            let _ = SPARE.try_with(|s| {
                let mut s = s.borrow_mut();
                if s.len() < SPARE_HISTOGRAMS {
                    s.push(h);
                }
            });
        }
    }
}

/// Bytes per feed from which the histogram is counted in 32-bit cells first.
const WIDE_FROM: usize = 256;

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

    /// The interleaved sums round differently from one running sum in the last bits of the
    /// f64; the f32 that sessions report stays the same (deterministic histograms of every
    /// shape: sparse, skewed, uniform, partly filled).
    #[test]
    fn interleaved_sum_reports_the_same_f32_as_one_running_sum() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..20_000u32 {
            let len = 16 + (next() % 4081) as usize;
            let alphabet = 1 + (next() % 256) as u8 as u32;
            let skew = next() % 4;
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    let v = (r % alphabet as u64) as u32;
                    (if skew > 0 && r >> 60 < skew { 0 } else { v }) as u8
                })
                .collect();
            let mut m = EntropyMeter::new(4096);
            m.feed(&data);
            let counts = m.counts.as_deref().unwrap();
            let n = m.bytes() as f64;
            let table = clog2_table();
            let one: f64 = counts.iter().filter(|&&c| c > 1).map(|&c| table[c as usize]).sum();
            let reference = (n.log2() - one / n).max(0.0) as f32;
            assert_eq!(m.entropy(), Some(reference), "round {round}");
        }
    }

    /// A histogram handed back by a dropped meter starts clear in the next one.
    #[test]
    fn recycled_histograms_start_clear() {
        for _ in 0..3 {
            let mut used = EntropyMeter::new(4096);
            used.feed(&[7u8; 3000]);
            drop(used);
            let mut fresh = EntropyMeter::new(4096);
            fresh.feed(b"abcdefghijklmnopqrstuvwxyz");
            let counts = fresh.counts.as_deref().unwrap();
            assert_eq!(counts[7], 0);
            assert_eq!(counts.iter().map(|&c| c as u32).sum::<u32>(), 26);
        }
    }

    /// Feeding in large pieces (32-bit cells) and byte by byte (16-bit cells) gives the same
    /// histogram, runs of one value included, up to the capacity.
    #[test]
    fn wide_and_narrow_counting_agree() {
        let mut data: Vec<u8> = vec![0; 3000];
        data.extend((0..=255u8).cycle().take(1000));
        data.extend(std::iter::repeat_n(0xff, 70_000));
        for cap in [300u32, 4096, 65_535] {
            let mut wide = EntropyMeter::new(cap);
            let mut narrow = EntropyMeter::new(cap);
            for piece in data.chunks(1460) {
                wide.feed(piece);
            }
            for piece in data.chunks(7) {
                narrow.feed(piece);
            }
            assert_eq!(wide.counts, narrow.counts, "cap {cap}");
            assert_eq!(wide.bytes(), narrow.bytes());
            assert_eq!(wide.entropy(), narrow.entropy());
        }
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
            let direct: f64 =
                m.counts.as_deref().unwrap().iter().filter(|&&c| c > 0).map(|&c| -(c as f64 / n) * (c as f64 / n).log2()).sum();
            assert!((m.entropy().unwrap() as f64 - direct).abs() < 1e-5, "cap {cap}");
        }
    }
}
