//! Byte sources for the capture readers: undoing gzip/zstd (detected by magic bytes) and a large
//! reusable read buffer from which frames are lent out without per-packet allocation.

use std::io::{self, Read};

/// gzip member magic.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// zstd frame magic (little-endian 0xFD2FB528).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Default read-buffer size: large enough that syscalls and decompressor calls stay rare (one
/// per ~600 packets), small enough that what the kernel copied in is still in the core's
/// cache when the decoder and the parsers read it (a 1 MiB buffer filled the L2 cache, so every
/// packet was fetched again from further out).
const BUF_SIZE: usize = 256 << 10;

/// Reads up to `n` bytes (fewer only at end of input).
pub(crate) fn read_up_to(r: &mut dyn Read, n: usize) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok(head)
}

/// Which compression the first bytes announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

pub(crate) fn sniff_compression(head: &[u8]) -> Compression {
    if head.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Wraps `r` in a decompressor when its first bytes say so. Only one level is undone: a capture
/// compressed twice is not something capture tools write, and refusing it bounds the work.
pub(crate) fn decompressed(mut r: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let head = read_up_to(&mut r, 4)?;
    let comp = sniff_compression(&head);
    let chained: Box<dyn Read + Send> = Box::new(io::Cursor::new(head).chain(r));
    Ok(match comp {
        Compression::None => chained,
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(chained)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(chained)?),
    })
}

/// A refillable window over a byte stream. Callers ask for `n` contiguous bytes with
/// [`ByteReader::fill`], look at them with [`ByteReader::window`], then [`ByteReader::consume`] them.
pub(crate) struct ByteReader {
    inner: Box<dyn Read + Send>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

impl ByteReader {
    pub(crate) fn new(inner: Box<dyn Read + Send>) -> Self {
        ByteReader { inner, buf: vec![0; BUF_SIZE], start: 0, end: 0, eof: false }
    }

    /// Bytes buffered and not yet consumed.
    pub(crate) fn available(&self) -> usize {
        self.end - self.start
    }

    /// Makes at least `n` bytes available if the stream has them. Returns false when the stream
    /// ended first (the shorter remainder stays available). `n` must be bounded by the caller.
    pub(crate) fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.available() >= n {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        if self.start + n > self.buf.len() {
            // Slide the unread tail to the front so the request fits without growing.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if n > self.buf.len() {
                self.buf.resize(n.next_power_of_two(), 0);
            }
        }
        while self.available() < n {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(self.available() >= n)
    }

    /// The available bytes (at least what the last successful `fill` asked for).
    pub(crate) fn window(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n.min(self.available());
    }
}
