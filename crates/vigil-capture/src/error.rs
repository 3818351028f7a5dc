//! Typed errors of the capture readers and the packet decoder.

use std::path::PathBuf;

/// Why a capture file could not be opened or read. Every variant names the file so the CLI can
/// print a one-line reason.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The content is neither pcap nor pcapng (after undoing gzip/zstd).
    #[error("{path}: not a pcap or pcapng capture")]
    NotCapture { path: PathBuf },
    /// A capture, but of a variant Vigil does not read (e.g. pcapng major version 2).
    #[error("{path}: unsupported capture format: {what}")]
    Unsupported { path: PathBuf, what: String },
    /// The file header itself is damaged (damage after the header is counted, not raised).
    #[error("{path}: corrupt capture header: {what}")]
    Corrupt { path: PathBuf, what: String },
}

/// Why one frame could not be decoded. Each is also counted in [`crate::DecodeStats`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame ends inside the named header.
    #[error("truncated {0} header")]
    Truncated(&'static str),
    /// The named header has impossible field values.
    #[error("bad {0} header")]
    BadHeader(&'static str),
    /// The capture's link type is not one Vigil decodes.
    #[error("unsupported link type {0}")]
    UnsupportedLinktype(u32),
}
