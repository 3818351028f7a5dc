//! Opening inputs: plain or gzip'd (detected by magic bytes, not by name), read as a stream of
//! lines (text formats) or as bounded byte buffers (binary formats).

use crate::ImportError;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Largest binary file read whole (raw export datagrams, nfdump): beyond this the file is refused
/// rather than exhausting memory.
pub const MAX_WHOLE_FILE: u64 = 512 * 1024 * 1024;

/// Longest text line accepted; longer lines are skipped (counted by the caller).
pub const MAX_LINE: usize = 1 << 20;

fn io_err(path: &Path, e: std::io::Error) -> ImportError {
    ImportError::Io { path: path.display().to_string(), source: e }
}

/// Opens `path`, transparently un-gzipping it when it starts with the gzip magic.
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>, ImportError> {
    let f = File::open(path).map_err(|e| io_err(path, e))?;
    let mut r = BufReader::with_capacity(256 * 1024, f);
    let gz = {
        let b = r.fill_buf().map_err(|e| io_err(path, e))?;
        b.len() >= 2 && b[0] == 0x1f && b[1] == 0x8b
    };
    if gz { Ok(Box::new(BufReader::with_capacity(256 * 1024, MultiGzDecoder::new(r)))) } else { Ok(Box::new(r)) }
}

/// The first `n` bytes of the (decompressed) content, for format sniffing.
pub fn head(path: &Path, n: usize) -> Result<Vec<u8>, ImportError> {
    let r = open(path)?;
    let mut buf = Vec::with_capacity(n.min(1 << 20));
    // A corrupt gzip stream gives an error part way: what was read so far is still a fine sample.
    let _ = r.take(n as u64).read_to_end(&mut buf);
    Ok(buf)
}

/// The whole (decompressed) content, refusing anything larger than [`MAX_WHOLE_FILE`].
pub fn read_all(path: &Path) -> Result<Vec<u8>, ImportError> {
    let r = open(path)?;
    let mut buf = Vec::new();
    r.take(MAX_WHOLE_FILE + 1).read_to_end(&mut buf).map_err(|e| io_err(path, e))?;
    if buf.len() as u64 > MAX_WHOLE_FILE {
        return Err(ImportError::TooLarge { path: path.display().to_string(), limit: MAX_WHOLE_FILE });
    }
    Ok(buf)
}

/// Reads lines with a length cap, calling `f` for each (without the line ending). Lines over
/// [`MAX_LINE`] are reported as `None` so the caller can count them. Invalid UTF-8 is replaced.
pub fn for_each_line(path: &Path, mut r: Box<dyn BufRead + Send>, mut f: impl FnMut(Option<&str>)) -> Result<(), ImportError> {
    let mut buf = Vec::with_capacity(4096);
    loop {
        buf.clear();
        // Fastest path: every complete line in the reader's buffer at once, validated as UTF-8
        // in one pass (a '\n' never splits a character, so each line of a valid block is valid
        // too) and split with one memchr iterator instead of a call per line.
        let block = match r.fill_buf() {
            Ok(avail) => {
                // Lines up to the last '\n' of the buffer, or of its valid UTF-8 prefix (a line
                // with invalid bytes is left to the per-line path below, which replaces them).
                let block = match memchr::memrchr(b'\n', avail) {
                    Some(last) => match std::str::from_utf8(&avail[..last]) {
                        Ok(text) => Some((last, text)),
                        Err(e) => memchr::memrchr(b'\n', &avail[..e.valid_up_to()])
                            .and_then(|l| std::str::from_utf8(&avail[..l]).ok().map(|t| (l, t))),
                    },
                    None => None,
                };
                match block.filter(|&(e, _)| e > 0) {
                    Some((last, text)) => {
                        let mut start = 0;
                        for nl in memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(last)) {
                            if nl - start > MAX_LINE {
                                f(None);
                            } else {
                                f(Some(text.get(start..nl).unwrap_or("").trim_end_matches('\r')));
                            }
                            start = nl + 1;
                        }
                        Some(last + 1)
                    }
                    _ => None,
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => None,
            Err(e) => return Err(io_err(path, e)),
        };
        if let Some(n) = block {
            r.consume(n);
            continue;
        }
        // Fast path: the whole line is in the reader's buffer; hand it over without copying.
        let fast = match r.fill_buf() {
            Ok(avail) => match memchr::memchr(b'\n', avail) {
                Some(i) if i < MAX_LINE => {
                    let mut line = &avail[..i];
                    while let [rest @ .., b'\r'] = line {
                        line = rest;
                    }
                    match std::str::from_utf8(line) {
                        Ok(s) => f(Some(s)),
                        Err(_) => f(Some(&String::from_utf8_lossy(line))),
                    }
                    Some(i + 1)
                }
                _ => None,
            },
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => None,
            Err(e) => return Err(io_err(path, e)),
        };
        if let Some(n) = fast {
            r.consume(n);
            continue;
        }
        let mut too_long = false;
        // Read one line in chunks so a file without newlines cannot grow the buffer unbounded.
        loop {
            let avail = match r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(path, e)),
            };
            if avail.is_empty() {
                break;
            }
            let (take, done) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            if !too_long {
                if buf.len() + take > MAX_LINE {
                    too_long = true;
                    buf.clear();
                } else {
                    buf.extend_from_slice(&avail[..take]);
                }
            }
            r.consume(take);
            if done {
                break;
            }
        }
        if buf.is_empty() && !too_long {
            return Ok(());
        }
        if too_long {
            f(None);
            continue;
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        match std::str::from_utf8(&buf) {
            Ok(s) => f(Some(s)),
            Err(_) => f(Some(&String::from_utf8_lossy(&buf))),
        }
    }
}
