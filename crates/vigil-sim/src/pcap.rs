//! A classic libpcap file writer (microsecond timestamps, Ethernet link type).
//!
//! Packets arrive already in time order; the writer only frames them. A packet may be stored
//! shorter than it was on the wire (`orig_len` > stored bytes): bulk transfer segments are kept
//! as headers only, exactly as a sensor with a short snap length would record them, which keeps
//! captures of multi-hundred-megabyte uploads small while every header stays truthful.

use std::io::{self, Write};

/// Link type 1: Ethernet.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// The snap length announced in the file header.
pub const SNAPLEN: u32 = 65_535;

/// Writes the 24-byte global header and then one record per packet.
pub struct PcapWriter<W: Write> {
    out: W,
    packets: u64,
    bytes: u64,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&SNAPLEN.to_le_bytes());
        h.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out, packets: 0, bytes: 24 })
    }

    /// Writes one packet captured at `ts_us` (microseconds since the epoch). `orig_len` is the
    /// length on the wire; it is raised to the stored length if smaller.
    pub fn write_packet(&mut self, ts_us: i64, data: &[u8], orig_len: u32) -> io::Result<()> {
        let incl = u32::try_from(data.len()).unwrap_or(u32::MAX).min(SNAPLEN);
        let mut h = [0u8; 16];
        let secs = ts_us.div_euclid(1_000_000);
        let us = ts_us.rem_euclid(1_000_000);
        h[0..4].copy_from_slice(&(secs.clamp(0, u32::MAX as i64) as u32).to_le_bytes());
        h[4..8].copy_from_slice(&(us as u32).to_le_bytes());
        h[8..12].copy_from_slice(&incl.to_le_bytes());
        h[12..16].copy_from_slice(&orig_len.max(incl).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(&data[..incl as usize])?;
        self.packets += 1;
        self.bytes += 16 + incl as u64;
        Ok(())
    }

    pub fn packets(&self) -> u64 {
        self.packets
    }
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_record_layout() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write_packet(1_700_000_000_123_456, &[1, 2, 3], 10).unwrap();
        assert_eq!(w.packets(), 1);
        let v = w.finish().unwrap();
        assert_eq!(&v[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes(v[20..24].try_into().unwrap()), 1);
        assert_eq!(u32::from_le_bytes(v[24..28].try_into().unwrap()), 1_700_000_000);
        assert_eq!(u32::from_le_bytes(v[28..32].try_into().unwrap()), 123_456);
        assert_eq!(u32::from_le_bytes(v[32..36].try_into().unwrap()), 3);
        assert_eq!(u32::from_le_bytes(v[36..40].try_into().unwrap()), 10);
        assert_eq!(&v[40..], &[1, 2, 3]);
    }
}
