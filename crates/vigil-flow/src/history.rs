//! Zeek's connection `history` string: one letter per first occurrence of an event kind
//! (upper case from the originator, lower case from the responder), repeated letters for
//! SYN/FIN/RST with new sequence numbers, and logarithmically scaled repeats (1, 10, 100, ...)
//! for retransmissions (`T`), zero windows (`W`), content gaps (`G`) and bad checksums (`C`).

/// Longest history kept. Zeek has no cap, but an attacker repeating SYN/FIN/RST with fresh
/// sequence numbers could otherwise grow it without bound; 64 letters is far beyond anything a
/// real connection produces (the scaled letters grow logarithmically).
pub const MAX_HISTORY: usize = 64;

/// Event bits, as in Zeek's `TCP_Endpoint::HIST_*` (the responder's bits are shifted by 16).
pub const HIST_SYN_PKT: u32 = 0x1;
pub const HIST_FIN_PKT: u32 = 0x2;
pub const HIST_RST_PKT: u32 = 0x4;
pub const HIST_FIN_RST_PKT: u32 = 0x8;
pub const HIST_DATA_PKT: u32 = 0x10;
pub const HIST_ACK_PKT: u32 = 0x20;
pub const HIST_MULTI_FLAG_PKT: u32 = 0x40;

/// The history letters of one connection plus the "already seen" bit set.
#[derive(Clone, Debug, Default)]
pub struct History {
    letters: Vec<u8>,
    seen: u32,
}

impl History {
    /// Appends a letter (bounded by [`MAX_HISTORY`]).
    pub fn add(&mut self, code: u8) {
        if self.letters.len() < MAX_HISTORY {
            self.letters.push(code);
        }
    }

    /// Zeek's `Connection::CheckHistory`: records `code` the first time `mask` is seen and
    /// returns false; returns true if the event was already recorded.
    pub fn check(&mut self, mask: u32, code: u8) -> bool {
        if self.seen & mask == 0 {
            self.seen |= mask;
            self.add(code);
            false
        } else {
            true
        }
    }

    /// `CheckHistory` for an endpoint: the responder's bits live 16 bits up and its letters are
    /// lower case.
    pub fn check_ep(&mut self, is_orig: bool, mask: u32, code: u8) -> bool {
        if is_orig { self.check(mask, code) } else { self.check(mask << 16, code.to_ascii_lowercase()) }
    }

    /// `AddHistory` for an endpoint.
    pub fn add_ep(&mut self, is_orig: bool, code: u8) {
        self.add(if is_orig { code } else { code.to_ascii_lowercase() });
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters and '^' are ever pushed.
        std::str::from_utf8(&self.letters).unwrap_or("")
    }

    pub fn is_empty(&self) -> bool {
        self.letters.is_empty()
    }
}

/// Zeek's `ScaledHistoryEntry` counter: the letter is added at the 1st, 10th, 100th, ...
/// occurrence.
#[derive(Clone, Copy, Debug)]
pub struct Scaled {
    count: u32,
    threshold: u32,
}

impl Default for Scaled {
    fn default() -> Self {
        Scaled { count: 0, threshold: 1 }
    }
}

impl Scaled {
    /// Counts one occurrence; returns true when the letter must be added.
    pub fn bump(&mut self) -> bool {
        self.count = self.count.saturating_add(1);
        if self.count == self.threshold {
            match self.threshold.checked_mul(10) {
                Some(t) => self.threshold = t,
                // Wrap-around in Zeek resets the counter and keeps the threshold.
                None => self.count = 0,
            }
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_records_first_occurrence_only_and_lowercases_responder() {
        let mut h = History::default();
        assert!(!h.check_ep(true, HIST_ACK_PKT, b'A'));
        assert!(h.check_ep(true, HIST_ACK_PKT, b'A'));
        assert!(!h.check_ep(false, HIST_ACK_PKT, b'A'));
        assert_eq!(h.as_str(), "Aa");
    }

    #[test]
    fn scaled_entries_fire_at_powers_of_ten() {
        let mut s = Scaled::default();
        let mut hits = Vec::new();
        for i in 1..=1000u32 {
            if s.bump() {
                hits.push(i);
            }
        }
        assert_eq!(hits, vec![1, 10, 100, 1000]);
    }

    #[test]
    fn history_is_bounded() {
        let mut h = History::default();
        for _ in 0..1000 {
            h.add(b'S');
        }
        assert_eq!(h.as_str().len(), MAX_HISTORY);
    }
}
