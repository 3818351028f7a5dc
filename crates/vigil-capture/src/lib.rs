//! Packet sources and L2–L4 decoding.
//!
//! Frames flow from a [`CaptureFile`] (pcap/pcapng, gzip/zstd by content, one large reusable
//! buffer: no per-packet allocation) as borrowed [`RawFrame`]s into a [`Decoder`], which walks the
//! link layer, IP (options, extension headers), tunnels and fragment reassembly and hands out the
//! innermost IP packet as a [`Packet`]. Everything from the input is treated as hostile: damage is
//! a typed error or a counted skip, never a panic, and all state is bounded.
//!
//! ```no_run
//! use vigil_capture::{CaptureFile, Decoder};
//! let mut cap = CaptureFile::open("trace.pcap".as_ref()).unwrap();
//! let mut dec = Decoder::new();
//! while let Some(frame) = cap.next_frame().unwrap() {
//!     if let Ok(Some(pkt)) = dec.decode(&frame) {
//!         println!("{} -> {} proto {}", pkt.src, pkt.dst, pkt.proto);
//!     }
//! }
//! ```

pub mod decode;
mod error;
mod file;
#[cfg(target_os = "linux")]
pub mod live;
mod source;
mod writer;

pub use decode::link::linktype;
pub use decode::{
    CutHeader, CutStart, DecodeStats, Decoded, Decoder, DecoderConfig, FragConfig, OwnedPacket, Packet, TcpHdr, Tunnel, TunnelKind,
    decode_cut,
};
pub use error::{CaptureError, DecodeError};
pub use file::{CaptureFile, CaptureStats, InterfaceInfo, MAX_RECORD, OwnedFrame, RawFrame, capture_files, is_capture};
pub use vigil_model::Timestamp;
pub use writer::PcapWriter;
