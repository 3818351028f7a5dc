//! Text: decoding bytes into text (UTF-8, UTF-16, GB18030, Windows-1252) and running every
//! text detector over it, then merging overlapping hits.

use crate::hit::Hit;
use crate::{keyword, pem, rules, table, tools};
use std::borrow::Cow;

/// Decodes file bytes into text. Returns `None` for binary data that cannot hold text.
/// Valid UTF-8 (most files) is borrowed, not copied.
pub fn decode_text(bytes: &[u8]) -> Option<Cow<'_, str>> {
    if let Some(rest) = bytes.strip_prefix(b"\xef\xbb\xbf") {
        return Some(String::from_utf8_lossy(rest));
    }
    if bytes.starts_with(b"\xff\xfe") || bytes.starts_with(b"\xfe\xff") || looks_utf16le(bytes) {
        let (enc, skip) = if bytes.starts_with(b"\xfe\xff") {
            (encoding_rs::UTF_16BE, 2)
        } else if bytes.starts_with(b"\xff\xfe") {
            (encoding_rs::UTF_16LE, 2)
        } else {
            (encoding_rs::UTF_16LE, 0)
        };
        let (s, _) = enc.decode_without_bom_handling(bytes.get(skip..).unwrap_or(&[]));
        return Some(Cow::Owned(s.into_owned()));
    }
    if is_binary(bytes) {
        return None;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Some(Cow::Borrowed(s)),
        Err(_) => {
            // Chinese Windows saves text and CSV as GBK/GB18030; try it before Latin.
            if let Some(s) = encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(bytes)
                && gbk_plausible(&s)
            {
                return Some(Cow::Owned(s.into_owned()));
            }
            let (s, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            Some(Cow::Owned(s.into_owned()))
        }
    }
}

/// GB18030 decodes nearly any byte string; accept it only when it yields common CJK text.
fn gbk_plausible(s: &str) -> bool {
    let cjk = s.chars().filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c)).count();
    let other = s
        .chars()
        .filter(|c| {
            !c.is_ascii()
                && !('\u{4e00}'..='\u{9fff}').contains(c)
                && !('\u{3000}'..='\u{303f}').contains(c)
                && !('\u{ff00}'..='\u{ffef}').contains(c)
        })
        .count();
    cjk > 0 && other * 10 <= cjk
}

fn looks_utf16le(b: &[u8]) -> bool {
    let n = b.len().min(512) / 2 * 2;
    if n < 8 {
        return false;
    }
    let pairs = b[..n].chunks_exact(2);
    let total = n / 2;
    let zero_hi = pairs.filter(|p| p[1] == 0 && p[0] != 0).count();
    zero_hi * 10 >= total * 9
}

/// NUL bytes in the head mean binary (UTF-16 was handled before).
pub fn is_binary(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(8192)];
    head.contains(&0)
}

/// Runs every text detector over `text` (from an item named `name`) and merges duplicates.
pub fn scan_text(name: &str, text: &str) -> Vec<Hit> {
    // Terminal colour codes glue onto tokens (`\x1b[93msk-…`); blank them, keeping offsets.
    let cleaned;
    let text = if text.contains('\x1b') {
        cleaned = strip_ansi(text);
        cleaned.as_str()
    } else {
        text
    };
    let mut hits = Vec::new();
    tools::scan_admin_tools(name, text, &mut hits);
    pem::scan_private_keys(text, &mut hits);
    rules::scan_tokens(text, &mut hits);
    keyword::scan_keywords(text, &mut hits);
    table::scan_tables(text, &mut hits);
    if tools::is_encrypting_store(name, text) {
        hits.retain(|h| !matches!(h.detector, "password_assignment" | "secret_assignment"));
    }
    merge(hits)
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            out.push(' ');
            out.push(' ');
            chars.next();
            while let Some(&n) = chars.peek() {
                chars.next();
                out.push(' ');
                if n.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Specific detectors win over generic ones for the same secret; a table swallows the
/// keyword hits on its own rows.
fn rank(d: &str) -> u8 {
    match d {
        "password_table" | "password_export" => 0,
        "secret_assignment" => 3,
        "password_assignment" | "bearer_token" => 2,
        _ => 1,
    }
}

fn merge(mut hits: Vec<Hit>) -> Vec<Hit> {
    hits.sort_by(|a, b| rank(a.detector).cmp(&rank(b.detector)).then(b.confidence.total_cmp(&a.confidence)).then(a.offset.cmp(&b.offset)));
    let mut kept: Vec<Hit> = Vec::new();
    for h in hits {
        let dup = kept.iter().any(|k| {
            let overlap = h.offset < k.end_offset.max(k.offset + 1) && k.offset < h.end_offset.max(h.offset + 1);
            let table_row = matches!(k.detector, "password_table" | "password_export") && h.offset >= k.offset && h.offset <= k.end_offset;
            let same_secret = k.secret == h.secret && k.offset == h.offset;
            (overlap && k.detector != "password_table" && k.detector != "password_export")
                || table_row
                || same_secret
                || (k.secret.contains(&h.secret) && overlap)
        });
        if !dup {
            kept.push(h);
        }
    }
    kept.sort_by_key(|h| h.offset);
    kept
}

/// 1-based line number of a byte offset.
pub fn line_of(line_starts: &[usize], offset: usize) -> usize {
    match line_starts.binary_search(&offset) {
        Ok(i) => i + 1,
        Err(i) => i.max(1),
    }
}

pub fn line_starts(text: &str) -> Vec<usize> {
    let mut v = vec![0];
    v.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf16_and_gbk() {
        let utf16: Vec<u8> = "password=Abc12345!".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        assert_eq!(decode_text(&utf16).as_deref(), Some("password=Abc12345!"));
        let (gbk, _, _) = encoding_rs::GBK.encode("服务器,用户名,密码");
        assert_eq!(decode_text(&gbk).as_deref(), Some("服务器,用户名,密码"));
        assert!(decode_text(b"\x7fELF\x02\x01\x01\x00\x00\x00").is_none());
    }

    #[test]
    fn one_finding_per_secret() {
        let hits = scan_text("x.env", "DB_PASSWORD=Zx9!kP2mQ\n");
        assert_eq!(hits.len(), 1);
        assert_eq!(line_of(&line_starts("a\nb\nc"), 2), 2);
    }
}
