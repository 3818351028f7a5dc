//! Where messages come from: single `.eml` files, mbox files (split on `From ` lines), Maildir
//! folders and directories of any of these. Every file read is capped in size, so a huge or
//! endless file costs bounded memory; what cannot be read is reported by the caller as a
//! counted skip naming the file.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Extensions that are certainly not mail (expected-result JSON next to samples, reports…).
const NOT_MAIL: &[&str] = &[
    "json", "xml", "csv", "md", "toml", "yaml", "yml", "png", "jpg", "jpeg", "gif", "pdf", "zip", "gz", "zst", "tar", "py", "rs", "sh",
    "html", "htm",
];
/// Directory nesting followed.
const MAX_DEPTH: usize = 16;
/// Files listed per walk.
const MAX_FILES: usize = 2_000_000;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// One message's bytes and where it came from.
#[derive(Debug, Clone)]
pub struct RawMessage {
    /// The path as given (for mbox, the file; see `index`).
    pub file: String,
    /// Position in an mbox (0-based); `None` for single-message files.
    pub index: Option<usize>,
    pub bytes: Vec<u8>,
    /// The message was cut at the size cap.
    pub truncated: bool,
}

/// Lists the files under `path` (the path itself when it is a file), sorted, skipping names
/// that are certainly not mail and Maildir's `tmp/` (messages still being delivered).
pub fn list_files(path: &Path) -> Result<Vec<PathBuf>, SourceError> {
    let meta = std::fs::metadata(path).map_err(|e| SourceError::Io { path: path.display().to_string(), source: e })?;
    let mut out = Vec::new();
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(out);
    }
    walk(path, 0, &mut out).map_err(|e| SourceError::Io { path: path.display().to_string(), source: e })?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if depth > MAX_DEPTH || out.len() >= MAX_FILES {
        return Ok(());
    }
    for e in std::fs::read_dir(dir)? {
        let Ok(e) = e else { continue };
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if p.file_name().is_some_and(|n| n == "tmp" || n.to_string_lossy().starts_with('.')) {
                continue;
            }
            walk(&p, depth + 1, out)?;
        } else if ft.is_file() {
            let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
            if name.starts_with('.')
                || NOT_MAIL.contains(&ext.as_str())
                || name.eq_ignore_ascii_case("LICENSE.txt")
                || name.eq_ignore_ascii_case("COPYING")
            {
                continue;
            }
            out.push(p);
        }
    }
    Ok(())
}

/// Reads at most `cap` bytes of a file; `truncated` when there was more.
pub fn read_capped(path: &Path, cap: u64) -> Result<(Vec<u8>, bool), SourceError> {
    let f = std::fs::File::open(path).map_err(|e| SourceError::Io { path: path.display().to_string(), source: e })?;
    let mut buf = Vec::new();
    f.take(cap.saturating_add(1)).read_to_end(&mut buf).map_err(|e| SourceError::Io { path: path.display().to_string(), source: e })?;
    let truncated = buf.len() as u64 > cap;
    buf.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
    Ok((buf, truncated))
}

/// True when the file at `path` starts like mail (a header line or an mbox `From ` line).
pub fn file_looks_like_mail(path: &Path) -> Result<bool, SourceError> {
    let (head, _) = read_capped(path, 4096)?;
    Ok(looks_like_mail(&head))
}

/// True when the bytes start like an mbox (`From ` envelope line).
pub fn is_mbox(data: &[u8]) -> bool {
    data.starts_with(b"From ")
}

/// True when the first line looks like an RFC 5322 header field (or an mbox envelope line), so
/// random files in a scanned directory are not taken for mail.
pub fn looks_like_mail(data: &[u8]) -> bool {
    let start = data.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(0);
    let head = data.get(start..data.len().min(start + 1000)).unwrap_or_default();
    if head.starts_with(b"From ") {
        return true;
    }
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = head.get(..line_end).unwrap_or_default();
    match line.iter().position(|&b| b == b':') {
        // RFC 822's obsolete syntax allows blanks between the field name and the colon.
        Some(c) if c > 0 => line.get(..c).is_some_and(|n| {
            let n = n.trim_ascii_end();
            !n.is_empty() && n.iter().all(|b| b.is_ascii_graphic() && *b != b':')
        }),
        _ => false,
    }
}

/// Splits an mbox into messages at lines beginning with `From ` (mboxrd/mboxo: `>From ` quoted
/// lines stay inside messages). The envelope line itself is dropped. At most `max` messages.
pub fn split_mbox(data: &[u8], max: usize) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0usize;
    while i < data.len() && starts.len() <= max {
        let at_line_start = i == 0 || data.get(i.wrapping_sub(1)) == Some(&b'\n');
        if at_line_start && data.get(i..i + 5) == Some(b"From ") {
            starts.push(i);
        }
        match data.get(i..).and_then(|s| s.iter().position(|&b| b == b'\n')) {
            Some(p) => i += p + 1,
            None => break,
        }
    }
    let mut out = Vec::new();
    for (k, &s) in starts.iter().enumerate().take(max) {
        let end = starts.get(k + 1).copied().unwrap_or(data.len());
        let chunk = data.get(s..end).unwrap_or_default();
        let body_start = chunk.iter().position(|&b| b == b'\n').map_or(chunk.len(), |p| p + 1);
        out.push(chunk.get(body_start..).unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_split() {
        let m =
            b"From a@b Mon Jan 1 00:00:00 2024\nSubject: one\n\nhi\n>From quoted\n\nFrom c@d Tue Jan 2 00:00:00 2024\nSubject: two\n\nyo\n";
        let v = split_mbox(m, 100);
        assert_eq!(v.len(), 2);
        assert!(v[0].starts_with(b"Subject: one"));
        assert!(v[1].starts_with(b"Subject: two"));
        assert_eq!(split_mbox(m, 1).len(), 1);
        assert!(split_mbox(b"", 10).is_empty());
    }

    #[test]
    fn mail_sniffing() {
        assert!(looks_like_mail(b"Return-Path: <a@b>\r\n"));
        assert!(looks_like_mail(b"From x Thu"));
        assert!(!looks_like_mail(b"\x89PNG\r\n"));
        assert!(!looks_like_mail(b"hello world"));
        assert!(looks_like_mail(b"Fro :x <a@b>\n"));
        assert!(!looks_like_mail(b" : x\n"));
    }
}
