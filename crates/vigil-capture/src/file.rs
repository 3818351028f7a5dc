//! Capture files: classic pcap (both byte orders, micro/nanosecond magic, the Kuznetzov
//! "modified" variant) and pcapng (all sections and interfaces), possibly gzip/zstd compressed.
//!
//! Bytes flow from the (decompressed) stream into one large buffer; each [`RawFrame`] borrows its
//! packet bytes straight from that buffer, so reading allocates nothing per packet. Damage after
//! the file header (a truncated record, an impossible length) is counted in [`CaptureStats`] and
//! ends the file; it is never a panic, a hang or an unbounded allocation.

use crate::error::CaptureError;
use crate::source::{ByteReader, Compression, decompressed, read_up_to, sniff_compression};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use vigil_model::Timestamp;

/// pcap magic numbers as read little-endian.
const PCAP_US: u32 = 0xa1b2_c3d4;
const PCAP_NS: u32 = 0xa1b2_3c4d;
/// Kuznetzov's patched libpcap: 8 more bytes per record header.
const PCAP_KUZNETZOV: u32 = 0xa1b2_cd34;
const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAPNG_BOM: u32 = 0x1a2b_3c4d;

/// Interfaces kept per file: real captures have a handful; the cap bounds the memory a file
/// made of nothing but interface blocks can claim.
const MAX_INTERFACES: usize = 65_536;
/// Longest interface name kept.
const MAX_IF_NAME: usize = 256;

/// Largest record or block accepted. Real frames are at most a few hundred KiB (TSO/GRO);
/// anything beyond this is damage, and refusing it bounds the buffer.
pub const MAX_RECORD: usize = 16 << 20;

/// One captured frame, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug)]
pub struct RawFrame<'a> {
    pub ts: Timestamp,
    /// LINKTYPE_* value of the frame's interface.
    pub linktype: u32,
    /// Captured bytes (possibly cut by the snap length).
    pub data: &'a [u8],
    /// Length of the frame on the wire.
    pub orig_len: u32,
    /// Interface index, numbered across the whole file (pcapng sections continue the count);
    /// always 0 for classic pcap.
    pub interface: u32,
}

/// An owned copy of a frame, for passing between threads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedFrame {
    pub ts: Timestamp,
    pub linktype: u32,
    pub data: Vec<u8>,
    pub orig_len: u32,
    pub interface: u32,
}

impl OwnedFrame {
    pub fn as_raw(&self) -> RawFrame<'_> {
        RawFrame { ts: self.ts, linktype: self.linktype, data: &self.data, orig_len: self.orig_len, interface: self.interface }
    }
}

impl From<RawFrame<'_>> for OwnedFrame {
    fn from(f: RawFrame<'_>) -> Self {
        OwnedFrame { ts: f.ts, linktype: f.linktype, data: f.data.to_vec(), orig_len: f.orig_len, interface: f.interface }
    }
}

/// Counters of what the reader saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames returned.
    pub frames: u64,
    /// Captured bytes of the returned frames.
    pub bytes: u64,
    /// Frames whose captured length is below their wire length (snap length cut).
    pub snapped: u64,
    /// Records or blocks cut short, or with impossible lengths: each ends the file.
    pub truncated_records: u64,
    /// pcapng blocks that carry no packet (NRB, ISB, custom, unknown...), skipped.
    pub skipped_blocks: u64,
    /// pcapng packet blocks whose content was inconsistent (unknown interface, lengths past the
    /// block), skipped.
    pub bad_blocks: u64,
    /// pcapng sections (SHBs); 1 for classic pcap.
    pub sections: u64,
}

/// What the file says about one capture interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub linktype: u32,
    pub snaplen: u32,
    /// pcapng section (0-based) the interface belongs to.
    pub section: u32,
    /// `if_name` option, when present (invalid UTF-8 replaced, at most 256 bytes).
    pub name: Option<String>,
}

/// Timestamp resolution of a pcapng interface.
#[derive(Clone, Copy, Debug)]
struct TsResol {
    /// Exponent: units are 10^-exp or 2^-exp seconds.
    exp: u8,
    binary: bool,
}

#[derive(Clone, Debug)]
struct NgIface {
    linktype: u32,
    snaplen: u32,
    resol: TsResol,
    offset_secs: i64,
}

enum Format {
    Pcap { big_endian: bool, nanos: bool, linktype: u32, snaplen: u32, record_hdr: usize },
    Pcapng { big_endian: bool, ifaces: Vec<NgIface>, section_base: u32, last_ts: Timestamp },
}

/// A capture file being read frame by frame.
pub struct CaptureFile {
    name: PathBuf,
    reader: ByteReader,
    format: Format,
    stats: CaptureStats,
    interfaces: Vec<InterfaceInfo>,
    /// Bytes of the frame returned last, consumed on the next call.
    pending: usize,
    done: bool,
}

impl std::fmt::Debug for CaptureFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureFile").field("name", &self.name).field("stats", &self.stats).finish()
    }
}

fn u16_at(b: &[u8], off: usize, be: bool) -> u16 {
    match b.get(off..off + 2) {
        Some(s) => {
            let a = [s[0], s[1]];
            if be { u16::from_be_bytes(a) } else { u16::from_le_bytes(a) }
        }
        None => 0,
    }
}

fn u32_at(b: &[u8], off: usize, be: bool) -> u32 {
    match b.get(off..off + 4) {
        Some(s) => {
            let a = [s[0], s[1], s[2], s[3]];
            if be { u32::from_be_bytes(a) } else { u32::from_le_bytes(a) }
        }
        None => 0,
    }
}

fn u64_at(b: &[u8], off: usize, be: bool) -> u64 {
    match b.get(off..off + 8) {
        Some(s) => {
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            if be { u64::from_be_bytes(a) } else { u64::from_le_bytes(a) }
        }
        None => 0,
    }
}

/// Converts pcapng timestamp units to event time.
fn ng_timestamp(units: u64, resol: TsResol, offset_secs: i64) -> Timestamp {
    let nanos: i128 = if resol.binary {
        if resol.exp >= 128 { 0 } else { ((units as u128 * 1_000_000_000u128) >> resol.exp) as i128 }
    } else if resol.exp <= 9 {
        units as i128 * 10i128.pow(9 - resol.exp as u32)
    } else {
        match 10u128.checked_pow(resol.exp as u32 - 9) {
            Some(div) => (units as u128 / div) as i128,
            None => 0,
        }
    };
    let total = nanos.saturating_add(offset_secs as i128 * 1_000_000_000);
    Timestamp(total.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// Strips the FCS-length bits libpcap may set in the upper bits of the pcap link type.
fn pcap_linktype(network: u32) -> u32 {
    network & 0x03ff_ffff
}

/// Kind of capture the first bytes announce (after decompression).
fn sniff_format(head: &[u8]) -> Option<u32> {
    let m = u32_at(head, 0, false);
    let swapped = m.swap_bytes();
    [PCAP_US, PCAP_NS, PCAP_KUZNETZOV, PCAPNG_SHB].into_iter().find(|&magic| m == magic || swapped == magic)
}

impl CaptureFile {
    /// Opens a capture file by path; compression is detected from content.
    pub fn open(path: &Path) -> Result<CaptureFile, CaptureError> {
        let f = File::open(path).map_err(|e| CaptureError::Io { path: path.to_path_buf(), source: e })?;
        if let Ok(md) = f.metadata()
            && md.is_dir()
        {
            return Err(CaptureError::Io { path: path.to_path_buf(), source: io::Error::other("is a directory") });
        }
        Self::from_reader_path(Box::new(f), path.to_path_buf())
    }

    /// Reads a capture from any byte stream; `name` is used in error messages.
    pub fn from_reader(r: Box<dyn Read + Send>, name: &str) -> Result<CaptureFile, CaptureError> {
        Self::from_reader_path(r, PathBuf::from(name))
    }

    fn from_reader_path(r: Box<dyn Read + Send>, name: PathBuf) -> Result<CaptureFile, CaptureError> {
        let io_err = |e: io::Error| CaptureError::Io { path: name.clone(), source: e };
        let stream = decompressed(r).map_err(io_err)?;
        let mut reader = ByteReader::new(stream);
        // A decompressor reports garbage as InvalidData: for the header that means "not a capture".
        match reader.fill(4) {
            Ok(true) => {}
            Ok(false) => return Err(CaptureError::NotCapture { path: name }),
            Err(e) if matches!(e.kind(), io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof) => {
                return Err(CaptureError::NotCapture { path: name });
            }
            Err(e) => return Err(io_err(e)),
        }
        let magic = sniff_format(reader.window()).ok_or_else(|| CaptureError::NotCapture { path: name.clone() })?;
        let corrupt = |what: &str| CaptureError::Corrupt { path: name.clone(), what: what.to_string() };
        let mut interfaces = Vec::new();
        let format = if magic == PCAPNG_SHB {
            // The SHB is read by the block loop; only check it is plausible here.
            if !reader.fill(12).unwrap_or(false) {
                return Err(corrupt("section header block cut short"));
            }
            let w = reader.window();
            let bom_le = u32_at(w, 8, false);
            if bom_le != PCAPNG_BOM && bom_le.swap_bytes() != PCAPNG_BOM {
                return Err(corrupt("bad pcapng byte-order magic"));
            }
            Format::Pcapng { big_endian: false, ifaces: Vec::new(), section_base: 0, last_ts: Timestamp(0) }
        } else {
            if !reader.fill(24).unwrap_or(false) {
                return Err(corrupt("pcap file header cut short"));
            }
            let w = reader.window();
            let big_endian = u32_at(w, 0, false) != magic;
            let major = u16_at(w, 4, big_endian);
            if major != 2 {
                return Err(CaptureError::Unsupported { path: name.clone(), what: format!("pcap version {major}") });
            }
            let snaplen = u32_at(w, 16, big_endian);
            let linktype = pcap_linktype(u32_at(w, 20, big_endian));
            reader.consume(24);
            interfaces.push(InterfaceInfo { linktype, snaplen, section: 0, name: None });
            Format::Pcap {
                big_endian,
                nanos: magic == PCAP_NS,
                linktype,
                snaplen,
                record_hdr: if magic == PCAP_KUZNETZOV { 24 } else { 16 },
            }
        };
        let mut cf =
            CaptureFile { name: name.clone(), reader, format, stats: CaptureStats::default(), interfaces, pending: 0, done: false };
        if matches!(cf.format, Format::Pcap { .. }) {
            cf.stats.sections = 1;
        } else {
            // Parse the first SHB now so an unsupported version is an open-time error.
            cf.next_ng_block()?;
            if cf.stats.sections == 0 {
                return Err(CaptureError::Corrupt { path: cf.name, what: "section header block damaged".into() });
            }
        }
        Ok(cf)
    }

    /// File name as given.
    pub fn name(&self) -> &Path {
        &self.name
    }

    /// Counters so far.
    pub fn stats(&self) -> &CaptureStats {
        &self.stats
    }

    /// Every interface described so far (pcapng IDBs across all sections; one for pcap).
    pub fn interfaces(&self) -> &[InterfaceInfo] {
        &self.interfaces
    }

    /// Link type of classic pcap, or of the first pcapng interface seen.
    pub fn linktype(&self) -> Option<u32> {
        self.interfaces.first().map(|i| i.linktype)
    }

    /// Classic pcap snap length (0 for pcapng).
    pub fn snaplen(&self) -> u32 {
        match &self.format {
            Format::Pcap { snaplen, .. } => *snaplen,
            Format::Pcapng { .. } => 0,
        }
    }

    /// Marks the end of input after damage; the damage is counted by the caller.
    fn end_truncated(&mut self) {
        self.stats.truncated_records += 1;
        self.done = true;
    }

    /// Maps stream errors: decompression garbage and early EOF are damage (counted, end of file);
    /// anything else is an I/O error naming the file.
    fn io_fail(&mut self, e: io::Error) -> Result<(), CaptureError> {
        if matches!(e.kind(), io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof) {
            self.end_truncated();
            Ok(())
        } else {
            self.done = true;
            Err(CaptureError::Io { path: self.name.clone(), source: e })
        }
    }

    /// Ensures `n` bytes; false means the input ended (caller decides whether that is damage).
    fn want(&mut self, n: usize) -> Result<bool, CaptureError> {
        match self.reader.fill(n) {
            Ok(ok) => Ok(ok),
            Err(e) => {
                self.io_fail(e)?;
                Ok(false)
            }
        }
    }

    /// Next frame; `Ok(None)` at the end of the file (or after damage, which is counted).
    pub fn next_frame(&mut self) -> Result<Option<RawFrame<'_>>, CaptureError> {
        self.reader.consume(self.pending);
        self.pending = 0;
        if self.done {
            return Ok(None);
        }
        let found = match self.format {
            Format::Pcap { .. } => self.next_pcap_record()?,
            Format::Pcapng { .. } => loop {
                match self.next_ng_block()? {
                    NgStep::Frame(f) => break Some(f),
                    NgStep::Skipped => continue,
                    NgStep::End => break None,
                }
            },
        };
        let Some(loc) = found else {
            self.done = true;
            return Ok(None);
        };
        self.pending = loc.consume;
        self.stats.frames += 1;
        self.stats.bytes += loc.len as u64;
        if (loc.len as u64) < loc.orig_len as u64 {
            self.stats.snapped += 1;
        }
        let data = self.reader.window().get(loc.data_off..loc.data_off + loc.len).unwrap_or(&[]);
        Ok(Some(RawFrame { ts: loc.ts, linktype: loc.linktype, data, orig_len: loc.orig_len, interface: loc.interface }))
    }

    /// Next frame copied out of the buffer.
    pub fn next_owned(&mut self) -> Result<Option<OwnedFrame>, CaptureError> {
        Ok(self.next_frame()?.map(OwnedFrame::from))
    }

    fn next_pcap_record(&mut self) -> Result<Option<FrameLoc>, CaptureError> {
        let Format::Pcap { big_endian, nanos, linktype, record_hdr, .. } = self.format else {
            return Ok(None);
        };
        if !self.want(record_hdr)? {
            if self.reader.available() > 0 && !self.done {
                self.end_truncated();
            }
            return Ok(None);
        }
        let w = self.reader.window();
        let sec = u32_at(w, 0, big_endian) as i64;
        let frac = u32_at(w, 4, big_endian) as i64;
        let incl = u32_at(w, 8, big_endian) as usize;
        let orig_len = u32_at(w, 12, big_endian);
        if incl > MAX_RECORD {
            self.end_truncated();
            return Ok(None);
        }
        if !self.want(record_hdr + incl)? {
            if !self.done {
                self.end_truncated();
            }
            return Ok(None);
        }
        let sub = if nanos { frac } else { frac.saturating_mul(1000) };
        let ts = Timestamp(sec.saturating_mul(Timestamp::NANOS_PER_SEC).saturating_add(sub));
        Ok(Some(FrameLoc { ts, linktype, data_off: record_hdr, len: incl, orig_len, interface: 0, consume: record_hdr + incl }))
    }

    /// Reads one pcapng block. Packet blocks become frames; everything else is consumed here.
    fn next_ng_block(&mut self) -> Result<NgStep, CaptureError> {
        if !self.want(12)? {
            if self.reader.available() > 0 && !self.done {
                self.end_truncated();
            }
            self.done = true;
            return Ok(NgStep::End);
        }
        let Format::Pcapng { big_endian, .. } = self.format else {
            return Ok(NgStep::End);
        };
        let w = self.reader.window();
        let btype_le = u32_at(w, 0, false);
        let mut be = big_endian;
        if btype_le == PCAPNG_SHB {
            // A section header sets the byte order for everything up to the next one.
            let bom = u32_at(w, 8, false);
            if bom == PCAPNG_BOM {
                be = false;
            } else if bom.swap_bytes() == PCAPNG_BOM {
                be = true;
            } else {
                self.end_truncated();
                return Ok(NgStep::End);
            }
        }
        let btype = u32_at(w, 0, be);
        let blen = u32_at(w, 4, be) as usize;
        if !(12..=MAX_RECORD).contains(&blen) || (btype == PCAPNG_SHB && blen < 28) {
            self.end_truncated();
            return Ok(NgStep::End);
        }
        if !self.want(blen)? {
            if !self.done {
                self.end_truncated();
            }
            return Ok(NgStep::End);
        }
        let w = self.reader.window();
        if u32_at(w, blen - 4, be) as usize != blen {
            // Leading and trailing lengths disagree: the framing is lost.
            self.end_truncated();
            return Ok(NgStep::End);
        }
        let body = &w[8..blen - 4];
        let step = match btype {
            PCAPNG_SHB => {
                let major = u16_at(body, 4, be);
                if major != 1 {
                    let first = self.stats.sections == 0;
                    self.done = true;
                    if first {
                        return Err(CaptureError::Unsupported { path: self.name.clone(), what: format!("pcapng version {major}") });
                    }
                    self.stats.truncated_records += 1;
                    return Ok(NgStep::End);
                }
                self.stats.sections += 1;
                let n_ifaces = self.interfaces.len() as u32;
                if let Format::Pcapng { big_endian, ifaces, section_base, .. } = &mut self.format {
                    *big_endian = be;
                    ifaces.clear();
                    *section_base = n_ifaces;
                }
                NgStep::Skipped
            }
            1 if self.interfaces.len() >= MAX_INTERFACES => {
                // Past the cap the interface is ignored; its packets then count as bad blocks.
                self.stats.bad_blocks += 1;
                NgStep::Skipped
            }
            1 => {
                // Interface Description Block.
                let linktype = u16_at(body, 0, be) as u32;
                let snaplen = u32_at(body, 4, be);
                let mut iface = NgIface { linktype, snaplen, resol: TsResol { exp: 6, binary: false }, offset_secs: 0 };
                let mut name = None;
                for (code, val) in NgOptions::new(body.get(8..).unwrap_or(&[]), be) {
                    match code {
                        2 => {
                            let val = val.get(..MAX_IF_NAME).unwrap_or(val);
                            name = Some(String::from_utf8_lossy(val).trim_end_matches('\0').to_string())
                        }
                        9 => {
                            if let Some(&r) = val.first() {
                                iface.resol = TsResol { exp: r & 0x7f, binary: r & 0x80 != 0 };
                            }
                        }
                        14 if val.len() >= 8 => iface.offset_secs = u64_at(val, 0, be) as i64,
                        _ => {}
                    }
                }
                let section = self.stats.sections.saturating_sub(1) as u32;
                if let Format::Pcapng { ifaces, .. } = &mut self.format {
                    ifaces.push(iface);
                }
                self.interfaces.push(InterfaceInfo { linktype, snaplen, section, name });
                NgStep::Skipped
            }
            6 | 2 | 3 => match self.ng_packet(btype, blen, be) {
                Some(loc) => NgStep::Frame(loc),
                None => {
                    self.stats.bad_blocks += 1;
                    NgStep::Skipped
                }
            },
            _ => {
                self.stats.skipped_blocks += 1;
                NgStep::Skipped
            }
        };
        if !matches!(step, NgStep::Frame(_)) {
            self.reader.consume(blen);
        }
        Ok(step)
    }

    /// Locates the packet inside an EPB (6), obsolete PB (2) or SPB (3) of length `blen`.
    fn ng_packet(&mut self, btype: u32, blen: usize, be: bool) -> Option<FrameLoc> {
        let Format::Pcapng { ifaces, section_base, last_ts, .. } = &mut self.format else {
            return None;
        };
        let w = self.reader.window();
        let body = w.get(8..blen - 4)?;
        let (if_id, ts, data_off, caplen, orig_len) = if btype == 3 {
            let iface = ifaces.first()?;
            let orig_len = u32_at(body, 0, be);
            let room = body.len().checked_sub(4)?;
            let mut caplen = (orig_len as usize).min(room);
            if iface.snaplen > 0 {
                caplen = caplen.min(iface.snaplen as usize);
            }
            // Simple packet blocks carry no timestamp: reuse the last one so event time stays
            // monotonic for the flow table.
            (0usize, *last_ts, 12usize, caplen, orig_len)
        } else {
            let if_id = if btype == 2 { u16_at(body, 0, be) as usize } else { u32_at(body, 0, be) as usize };
            let iface = ifaces.get(if_id)?;
            let units = ((u32_at(body, 4, be) as u64) << 32) | u32_at(body, 8, be) as u64;
            let caplen = u32_at(body, 12, be) as usize;
            let orig_len = u32_at(body, 16, be);
            if body.len() < 20 || caplen > body.len() - 20 {
                return None;
            }
            let ts = ng_timestamp(units, iface.resol, iface.offset_secs);
            *last_ts = ts;
            (if_id, ts, 28usize, caplen, orig_len)
        };
        let linktype = ifaces.get(if_id)?.linktype;
        Some(FrameLoc {
            ts,
            linktype,
            data_off,
            len: caplen,
            orig_len,
            interface: section_base.saturating_add(if_id as u32),
            consume: blen,
        })
    }
}

/// Iterates owned frames (copying each), ending at the first I/O error.
impl Iterator for CaptureFile {
    type Item = Result<OwnedFrame, CaptureError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_owned().transpose()
    }
}

/// Where the next frame sits in the reader window.
struct FrameLoc {
    ts: Timestamp,
    linktype: u32,
    data_off: usize,
    len: usize,
    orig_len: u32,
    interface: u32,
    consume: usize,
}

enum NgStep {
    Frame(FrameLoc),
    Skipped,
    End,
}

/// pcapng options (code, value), stopping at opt_endofopt or the end of the bytes.
struct NgOptions<'a> {
    b: &'a [u8],
    be: bool,
}

impl<'a> NgOptions<'a> {
    fn new(b: &'a [u8], be: bool) -> Self {
        NgOptions { b, be }
    }
}

impl<'a> Iterator for NgOptions<'a> {
    type Item = (u16, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.b.len() < 4 {
            return None;
        }
        let code = u16_at(self.b, 0, self.be);
        let len = u16_at(self.b, 2, self.be) as usize;
        if code == 0 {
            return None;
        }
        let val = self.b.get(4..4 + len)?;
        let padded = 4 + len.div_ceil(4) * 4;
        self.b = self.b.get(padded..).unwrap_or(&[]);
        Some((code, val))
    }
}

/// True if the first bytes look like a (possibly gzip/zstd compressed) pcap or pcapng.
pub fn is_capture(path: &Path) -> bool {
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    if f.metadata().map(|m| !m.is_file()).unwrap_or(true) {
        return false;
    }
    let Ok(head) = read_up_to(&mut f, 4) else {
        return false;
    };
    let head = match sniff_compression(&head) {
        Compression::None => head,
        _ => {
            let Ok(f) = File::open(path) else {
                return false;
            };
            let Ok(mut r) = decompressed(Box::new(f)) else {
                return false;
            };
            match read_up_to(&mut r, 4) {
                Ok(h) => h,
                Err(_) => return false,
            }
        }
    };
    head.len() == 4 && sniff_format(&head).is_some()
}

/// Depth limit of the directory walk: bounds the work on pathological trees.
const MAX_DIR_DEPTH: usize = 64;

/// All capture files under `path`: a file is returned as itself (whatever its content, so that
/// opening it reports a clear error); a directory is walked recursively (symbolic links to
/// directories are not followed, which rules out cycles) and only files that sniff as captures
/// are kept, sorted.
pub fn capture_files(path: &Path) -> Result<Vec<PathBuf>, CaptureError> {
    let md = std::fs::metadata(path).map_err(|e| CaptureError::Io { path: path.to_path_buf(), source: e })?;
    if !md.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    walk(path, 0, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), CaptureError> {
    if depth > MAX_DIR_DEPTH {
        return Ok(());
    }
    let rd = std::fs::read_dir(dir).map_err(|e| CaptureError::Io { path: dir.to_path_buf(), source: e })?;
    for entry in rd {
        let entry = entry.map_err(|e| CaptureError::Io { path: dir.to_path_buf(), source: e })?;
        let p = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            walk(&p, depth + 1, out)?;
        } else if (ft.is_file() || ft.is_symlink()) && is_capture(&p) {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: Vec<u8>) -> CaptureFile {
        CaptureFile::from_reader(Box::new(io::Cursor::new(bytes)), "mem").unwrap()
    }

    pub(crate) fn pcap_bytes(be: bool, nanos: bool, linktype: u32, frames: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut out = Vec::new();
        out.extend(w32(if nanos { PCAP_NS } else { PCAP_US }));
        out.extend(w16(2));
        out.extend(w16(4));
        out.extend(w32(0));
        out.extend(w32(0));
        out.extend(w32(65535));
        out.extend(w32(linktype));
        for (s, frac, d) in frames {
            out.extend(w32(*s));
            out.extend(w32(*frac));
            out.extend(w32(d.len() as u32));
            out.extend(w32(d.len() as u32 + 4));
            out.extend_from_slice(d);
        }
        out
    }

    #[test]
    fn pcap_both_byte_orders_and_resolutions() {
        for be in [false, true] {
            for nanos in [false, true] {
                let bytes = pcap_bytes(be, nanos, 1, &[(10, 5, b"abc"), (11, 7, b"defgh")]);
                let mut cf = reader(bytes);
                let f = cf.next_frame().unwrap().unwrap();
                assert_eq!(f.data, b"abc");
                assert_eq!(f.orig_len, 7);
                assert_eq!(f.linktype, 1);
                let mult = if nanos { 1 } else { 1000 };
                assert_eq!(f.ts, Timestamp(10_000_000_000 + 5 * mult));
                let f = cf.next_frame().unwrap().unwrap();
                assert_eq!(f.data, b"defgh");
                assert!(cf.next_frame().unwrap().is_none());
                assert_eq!(cf.stats().frames, 2);
                assert_eq!(cf.stats().snapped, 2);
                assert_eq!(cf.stats().truncated_records, 0);
            }
        }
    }

    #[test]
    fn truncated_last_record_is_counted() {
        let mut bytes = pcap_bytes(false, false, 1, &[(1, 0, b"abcd"), (2, 0, b"efgh")]);
        bytes.truncate(bytes.len() - 2);
        let mut cf = reader(bytes);
        assert!(cf.next_frame().unwrap().is_some());
        assert!(cf.next_frame().unwrap().is_none());
        assert!(cf.next_frame().unwrap().is_none());
        assert_eq!(cf.stats().frames, 1);
        assert_eq!(cf.stats().truncated_records, 1);
    }

    #[test]
    fn absurd_record_length_ends_the_file() {
        let mut bytes = pcap_bytes(false, false, 1, &[(1, 0, b"abcd")]);
        bytes.extend(1u32.to_le_bytes());
        bytes.extend(0u32.to_le_bytes());
        bytes.extend(u32::MAX.to_le_bytes());
        bytes.extend(10u32.to_le_bytes());
        let mut cf = reader(bytes);
        assert!(cf.next_frame().unwrap().is_some());
        assert!(cf.next_frame().unwrap().is_none());
        assert_eq!(cf.stats().truncated_records, 1);
    }

    #[test]
    fn gzip_and_zstd_are_detected_by_content() {
        use std::io::Write;
        let bytes = pcap_bytes(false, false, 101, &[(1, 0, b"\x45abc")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&bytes).unwrap();
        let gz = gz.finish().unwrap();
        let zs = zstd::stream::encode_all(&bytes[..], 1).unwrap();
        for comp in [gz, zs] {
            let mut cf = reader(comp);
            let f = cf.next_frame().unwrap().unwrap();
            assert_eq!(f.linktype, 101);
            assert_eq!(f.data, b"\x45abc");
            assert!(cf.next_frame().unwrap().is_none());
        }
    }

    #[test]
    fn non_captures_are_rejected() {
        for bytes in [b"".to_vec(), b"#separator \\x09".to_vec(), vec![0x1f, 0x8b, 0, 1, 2], vec![0xd4, 0xc3, 0xb2]] {
            let err = CaptureFile::from_reader(Box::new(io::Cursor::new(bytes)), "x.log").unwrap_err();
            assert!(err.to_string().contains("x.log"), "{err}");
        }
    }

    fn ng_block(be: bool, btype: u32, body: &[u8]) -> Vec<u8> {
        let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let padded = body.len().div_ceil(4) * 4;
        let len = (12 + padded) as u32;
        let mut out = Vec::new();
        out.extend(w32(btype));
        out.extend(w32(len));
        out.extend_from_slice(body);
        out.resize(8 + padded, 0);
        out.extend(w32(len));
        out
    }

    fn shb(be: bool) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(if be { PCAPNG_BOM.to_be_bytes() } else { PCAPNG_BOM.to_le_bytes() });
        body.extend(if be { 1u16.to_be_bytes() } else { 1u16.to_le_bytes() });
        body.extend([0, 0]);
        body.extend((-1i64).to_le_bytes());
        ng_block(be, PCAPNG_SHB, &body)
    }

    fn idb(be: bool, linktype: u16, tsresol: Option<u8>, tsoffset: Option<i64>) -> Vec<u8> {
        let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut body = Vec::new();
        body.extend(w16(linktype));
        body.extend([0, 0]);
        body.extend(if be { 0u32.to_be_bytes() } else { 0u32.to_le_bytes() });
        if let Some(r) = tsresol {
            body.extend(w16(9));
            body.extend(w16(1));
            body.extend([r, 0, 0, 0]);
        }
        if let Some(o) = tsoffset {
            body.extend(w16(14));
            body.extend(w16(8));
            body.extend(if be { o.to_be_bytes() } else { o.to_le_bytes() });
        }
        body.extend([0, 0, 0, 0]);
        ng_block(be, 1, &body)
    }

    fn epb(be: bool, if_id: u32, units: u64, data: &[u8]) -> Vec<u8> {
        let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut body = Vec::new();
        body.extend(w32(if_id));
        body.extend(w32((units >> 32) as u32));
        body.extend(w32(units as u32));
        body.extend(w32(data.len() as u32));
        body.extend(w32(data.len() as u32));
        body.extend_from_slice(data);
        ng_block(be, 6, &body)
    }

    #[test]
    fn pcapng_sections_interfaces_resolutions() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, None, None));
        bytes.extend(idb(false, 101, Some(9), Some(100)));
        bytes.extend(epb(false, 0, 1_500_000, b"eth"));
        bytes.extend(ng_block(false, 4, &[0, 0, 0, 0])); // NRB: skipped
        bytes.extend(epb(false, 1, 2_000_000_001, b"raw"));
        bytes.extend(epb(false, 7, 1, b"bad-if")); // unknown interface: counted
        bytes.extend(shb(true));
        bytes.extend(idb(true, 113, Some(0x80 | 10), None));
        bytes.extend(epb(true, 0, 3 << 10, b"sll"));
        let simple = {
            let mut b = 3u32.to_be_bytes().to_vec();
            b.extend(b"spb");
            ng_block(true, 3, &b)
        };
        bytes.extend(simple);
        let mut cf = reader(bytes);
        let f = cf.next_frame().unwrap().unwrap();
        assert_eq!((f.linktype, f.interface, f.data, f.ts), (1, 0, &b"eth"[..], Timestamp(1_500_000_000)));
        let f = cf.next_frame().unwrap().unwrap();
        assert_eq!((f.linktype, f.interface, f.ts), (101, 1, Timestamp(102_000_000_001)));
        let f = cf.next_frame().unwrap().unwrap();
        assert_eq!((f.linktype, f.interface, f.data, f.ts), (113, 2, &b"sll"[..], Timestamp(3_000_000_000)));
        let f = cf.next_frame().unwrap().unwrap();
        assert_eq!((f.linktype, f.interface, f.data, f.ts), (113, 2, &b"spb"[..], Timestamp(3_000_000_000)));
        assert!(cf.next_frame().unwrap().is_none());
        let s = cf.stats();
        assert_eq!((s.frames, s.sections, s.skipped_blocks, s.bad_blocks, s.truncated_records), (4, 2, 1, 1, 0));
        assert_eq!(cf.interfaces().len(), 3);
        assert_eq!(cf.interfaces()[2].section, 1);
    }

    #[test]
    fn pcapng_wrong_version_is_unsupported() {
        let mut bytes = shb(false);
        bytes[12] = 2;
        let err = CaptureFile::from_reader(Box::new(io::Cursor::new(bytes)), "v2.pcapng").unwrap_err();
        assert!(matches!(err, CaptureError::Unsupported { .. }), "{err}");
    }

    #[test]
    fn pcapng_length_mismatch_ends_the_file() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, None, None));
        let mut e = epb(false, 0, 1, b"abcd");
        let n = e.len();
        e[n - 1] = 0x7f;
        bytes.extend(e);
        let mut cf = reader(bytes);
        assert!(cf.next_frame().unwrap().is_none());
        assert_eq!(cf.stats().truncated_records, 1);
    }

    #[test]
    fn binary_and_decimal_resolutions() {
        assert_eq!(ng_timestamp(1, TsResol { exp: 0, binary: false }, 0), Timestamp(1_000_000_000));
        assert_eq!(ng_timestamp(1 << 20, TsResol { exp: 20, binary: true }, 0), Timestamp(1_000_000_000));
        assert_eq!(ng_timestamp(5_000, TsResol { exp: 12, binary: false }, -1), Timestamp(-999_999_995));
        assert_eq!(ng_timestamp(u64::MAX, TsResol { exp: 127, binary: false }, 0), Timestamp(0));
    }

    #[test]
    fn mutated_files_never_panic_or_hang() {
        let mut ng = shb(false);
        ng.extend(idb(false, 1, Some(9), Some(5)));
        ng.extend(idb(false, 101, None, None));
        for i in 0..6u64 {
            ng.extend(epb(false, (i % 2) as u32, i, &[0x45u8; 40]));
        }
        ng.extend(ng_block(false, 4, &[1, 0, 8, 0, 1, 2, 3, 4, b'a', 0, 0, 0, 0, 0, 0, 0]));
        ng.extend(shb(true));
        ng.extend(idb(true, 113, None, None));
        ng.extend(epb(true, 0, 9, &[1u8; 20]));
        let pcap = pcap_bytes(true, false, 1, &[(1, 2, &[0u8; 60]), (3, 4, &[1u8; 30]), (5, 6, &[2u8; 10])]);
        let mut seed = 0x1234_5678_9abc_def1u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..5_000 {
            let mut bytes = if round % 2 == 0 { ng.clone() } else { pcap.clone() };
            for _ in 0..1 + rnd() % 4 {
                let i = (rnd() as usize) % bytes.len();
                match rnd() % 3 {
                    0 => bytes[i] = rnd() as u8,
                    1 => bytes.truncate(i.max(1)),
                    _ => bytes[i] = [0, 0xff, 0x7f, 0x0c][(rnd() % 4) as usize],
                }
            }
            let total = bytes.len();
            let Ok(mut cf) = CaptureFile::from_reader(Box::new(io::Cursor::new(bytes)), "m") else {
                continue;
            };
            let mut n = 0;
            while let Ok(Some(f)) = cf.next_frame() {
                assert!(f.data.len() <= total);
                n += 1;
                assert!(n <= total, "more frames than bytes");
            }
            assert!(cf.next_frame().unwrap().is_none());
        }
    }

    #[test]
    fn obsolete_packet_block_and_custom_blocks() {
        let mut bytes = shb(true);
        bytes.extend(idb(true, 1, None, None));
        bytes.extend(ng_block(true, 0x0000_0bad, b"\0\0\x7f\x01custom"));
        bytes.extend(ng_block(true, 0x4000_0bad, b"\0\0\x7f\x01custom"));
        bytes.extend(ng_block(true, 0x1234_5678, b"unknown"));
        let mut pb = Vec::new();
        pb.extend(0u16.to_be_bytes());
        pb.extend(3u16.to_be_bytes());
        pb.extend(0u32.to_be_bytes());
        pb.extend(2_000_000u32.to_be_bytes());
        pb.extend(4u32.to_be_bytes());
        pb.extend(9u32.to_be_bytes());
        pb.extend(b"old!");
        bytes.extend(ng_block(true, 2, &pb));
        let mut cf = reader(bytes);
        let f = cf.next_frame().unwrap().unwrap();
        assert_eq!((f.data, f.orig_len, f.ts, f.linktype), (&b"old!"[..], 9, Timestamp(2_000_000_000), 1));
        assert!(cf.next_frame().unwrap().is_none());
        assert_eq!(cf.stats().skipped_blocks, 3);
    }

    #[test]
    fn kuznetzov_pcap_and_fcs_bits_in_linktype() {
        let mut bytes = Vec::new();
        bytes.extend(PCAP_KUZNETZOV.to_le_bytes());
        bytes.extend(2u16.to_le_bytes());
        bytes.extend(4u16.to_le_bytes());
        bytes.extend([0u8; 8]);
        bytes.extend(65535u32.to_le_bytes());
        // Ethernet with "FCS present, 4 bytes" bits set above the link type.
        bytes.extend((1u32 | 0x0400_0000 | (2 << 28)).to_le_bytes());
        bytes.extend(7u32.to_le_bytes());
        bytes.extend(0u32.to_le_bytes());
        bytes.extend(3u32.to_le_bytes());
        bytes.extend(3u32.to_le_bytes());
        bytes.extend([0u8; 8]); // ifindex, protocol, pkt_type, padding
        bytes.extend(b"abc");
        let mut cf = reader(bytes);
        assert_eq!(cf.linktype(), Some(1));
        let f = cf.next_frame().unwrap().unwrap();
        assert_eq!((f.data, f.ts, f.linktype), (&b"abc"[..], Timestamp::from_secs(7), 1));
        assert!(cf.next_frame().unwrap().is_none());
        assert_eq!(cf.stats().truncated_records, 0);
    }
}
