//! Classic pcap writer (nanosecond resolution, one link type per file): evidence extracts,
//! simulated traffic and test fixtures.

use crate::file::RawFrame;
use std::io::{self, Write};

/// nanosecond-resolution pcap magic.
const PCAP_NS_MAGIC: u32 = 0xa1b2_3c4d;

/// Writes frames as a little-endian, nanosecond pcap.
pub struct PcapWriter<W: Write> {
    out: W,
    linktype: u32,
    snaplen: u32,
    frames: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header. `snaplen` caps each written frame (0 means 262144).
    pub fn new(mut out: W, linktype: u32, snaplen: u32) -> io::Result<Self> {
        let snaplen = if snaplen == 0 { 262_144 } else { snaplen };
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&PCAP_NS_MAGIC.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&linktype.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out, linktype, snaplen, frames: 0 })
    }

    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Appends one frame (cut to the snap length). Timestamps before 1970 or after 2106 do not
    /// fit the format and are clamped.
    pub fn write_frame(&mut self, frame: &RawFrame<'_>) -> io::Result<()> {
        if frame.linktype != self.linktype {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("frame link type {} differs from the file's {}", frame.linktype, self.linktype),
            ));
        }
        let data = &frame.data[..frame.data.len().min(self.snaplen as usize)];
        let secs = frame.ts.secs().clamp(0, u32::MAX as i64) as u32;
        let nanos = if frame.ts.0 < 0 { 0 } else { frame.ts.subsec_nanos() };
        let orig = frame.orig_len.max(data.len() as u32);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&nanos.to_le_bytes());
        h[8..12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&orig.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(data)?;
        self.frames += 1;
        Ok(())
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CaptureFile, Timestamp};

    #[test]
    fn written_frames_read_back_exactly() {
        let mut w = PcapWriter::new(Vec::new(), 1, 8).unwrap();
        let a = RawFrame { ts: Timestamp(1_700_000_000_123_456_789), linktype: 1, data: b"0123456789", orig_len: 10, interface: 0 };
        let b = RawFrame { ts: Timestamp(5), linktype: 1, data: b"ab", orig_len: 60, interface: 0 };
        w.write_frame(&a).unwrap();
        w.write_frame(&b).unwrap();
        let wrong = RawFrame { linktype: 101, ..b };
        assert!(w.write_frame(&wrong).is_err());
        assert_eq!(w.frames(), 2);
        let bytes = w.finish().unwrap();
        let mut cf = CaptureFile::from_reader(Box::new(std::io::Cursor::new(bytes)), "w").unwrap();
        let f = cf.next_frame().unwrap().unwrap();
        assert_eq!((f.ts, f.data, f.orig_len), (a.ts, &b"01234567"[..], 10));
        let f = cf.next_frame().unwrap().unwrap();
        assert_eq!((f.ts, f.data, f.orig_len), (b.ts, &b"ab"[..], 60));
        assert!(cf.next_frame().unwrap().is_none());
    }
}
