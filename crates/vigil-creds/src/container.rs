//! One item (a file's bytes, or a member of an archive) → findings. Recognises the format by
//! magic bytes and name, and recurses into zip, tar, gzip, office documents, spreadsheets,
//! PDF, RTF and e-mail with depth, size, entry-count and compression-ratio limits so that a
//! zip bomb or a corrupt document is a reported skip, never a crash or unbounded memory.

use crate::doc;
use crate::hit::Hit;
use crate::text::{decode_text, line_of, line_starts, scan_text};
use crate::{CredFinding, IssueKind, ScanIssue, ScanOptions};
use std::io::{Cursor, Read};

/// Shared budget for one top-level file and everything inside it.
pub struct Budget {
    pub bytes_left: u64,
    pub entries_left: u64,
}

pub struct Ctx<'a> {
    pub opts: &'a ScanOptions,
    pub budget: Budget,
    pub findings: Vec<CredFinding>,
    pub issues: Vec<ScanIssue>,
    pub items: u64,
}

impl<'a> Ctx<'a> {
    pub fn new(opts: &'a ScanOptions) -> Self {
        Ctx {
            opts,
            budget: Budget { bytes_left: opts.max_total_bytes, entries_left: opts.max_entries },
            findings: Vec::new(),
            issues: Vec::new(),
            items: 0,
        }
    }
    fn issue(&mut self, file: &str, kind: IssueKind, detail: impl Into<String>) {
        if self.issues.len() < 10_000 {
            self.issues.push(ScanIssue { file: file.to_string(), kind, detail: detail.into() });
        }
    }
}

fn lower_name(name: &str) -> String {
    name.rsplit('!').next().unwrap_or(name).to_ascii_lowercase()
}

/// Scans one item. `name` is its display path (`outer.zip!inner/file.txt`).
pub fn scan_item(ctx: &mut Ctx, name: &str, data: &[u8], depth: u32) {
    ctx.items += 1;
    if depth > ctx.opts.max_depth {
        ctx.issue(name, IssueKind::TooDeep, format!("nested deeper than {} containers; not opened", ctx.opts.max_depth));
        return;
    }
    let lname = lower_name(name);
    let ext = lname.rsplit('.').next().unwrap_or("");
    if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
        scan_zip(ctx, name, data, depth);
    } else if data.starts_with(b"\x1f\x8b") {
        scan_gzip(ctx, name, data, depth);
    } else if data.len() > 262 && &data[257..262] == b"ustar" {
        scan_tar(ctx, name, data, depth);
    } else if data.starts_with(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") {
        scan_ole(ctx, name, data, &lname);
    } else if data.starts_with(b"%PDF") {
        let text = doc::pdf_text(data, ctx.opts.max_entry_bytes as usize, ctx.opts.max_entry_bytes as usize);
        scan_text_item(ctx, name, &text, None);
    } else if data.starts_with(b"{\\rtf") {
        let text = doc::rtf_text(data, ctx.opts.max_entry_bytes as usize);
        scan_text_item(ctx, name, &text, None);
    } else if data.starts_with(b"BZh")
        || data.starts_with(b"\xfd7zXZ\x00")
        || data.starts_with(b"\x28\xb5\x2f\xfd")
        || data.starts_with(b"7z\xbc\xaf")
        || data.starts_with(b"Rar!")
    {
        ctx.issue(name, IssueKind::Unsupported, "compressed format not opened (bzip2/xz/zstd/7z/rar)");
    } else if ext == "eml" || ext == "msg" && !crate::text::is_binary(data) || looks_like_mail(data) {
        scan_mail(ctx, name, data, depth);
    } else {
        match decode_text(data) {
            Some(text) => scan_text_item(ctx, name, &text, None),
            None => ctx.issue(name, IssueKind::Binary, "binary file without text; skipped"),
        }
    }
}

fn looks_like_mail(data: &[u8]) -> bool {
    let head = &data[..data.len().min(2048)];
    let s = String::from_utf8_lossy(head);
    let mut n = 0;
    for h in ["Received:", "From:", "To:", "Subject:", "Message-ID:", "MIME-Version:", "Return-Path:", "Date:"] {
        if s.lines().take(60).any(|l| l.starts_with(h)) {
            n += 1;
        }
    }
    n >= 3
}

/// Runs the text detectors and records findings with line numbers (or sheet/cell).
fn scan_text_item(ctx: &mut Ctx, name: &str, text: &str, cells: Option<&SheetMap>) {
    let hits = scan_text(name, text);
    if hits.is_empty() {
        return;
    }
    let starts = line_starts(text);
    for h in hits {
        let line = line_of(&starts, h.offset);
        let end_line = line_of(&starts, h.end_offset.saturating_sub(1).max(h.offset));
        let f = match cells {
            Some(map) => {
                let (sheet, cell) = map.locate(line, h.offset.saturating_sub(starts.get(line - 1).copied().unwrap_or(0)));
                CredFinding { file: name.to_string(), line: None, end_line: None, sheet: Some(sheet), cell: Some(cell), hit: h }
            }
            None => CredFinding { file: name.to_string(), line: Some(line), end_line: Some(end_line), sheet: None, cell: None, hit: h },
        };
        ctx.findings.push(f);
    }
}

/// Reads up to `limit` bytes, reporting whether there was more.
fn read_bounded<R: Read>(r: R, limit: u64) -> std::io::Result<(Vec<u8>, bool)> {
    let mut v = Vec::new();
    r.take(limit.saturating_add(1)).read_to_end(&mut v)?;
    let over = v.len() as u64 > limit;
    if over {
        v.truncate(limit as usize);
    }
    Ok((v, over))
}

// ------------------------------------------------------------------ zip and office

fn scan_zip(ctx: &mut Ctx, name: &str, data: &[u8], depth: u32) {
    let mut zip = match zip::ZipArchive::new(Cursor::new(data)) {
        Ok(z) => z,
        Err(e) => {
            ctx.issue(name, IssueKind::Corrupt, format!("corrupt zip: {e}"));
            return;
        }
    };
    let names: Vec<String> = zip.file_names().take(100_000).map(str::to_string).collect();
    let has = |p: &str| names.iter().any(|n| n == p);
    let lname = lower_name(name);
    // Check every declared size first: an office file is parsed as a whole by the
    // spreadsheet reader, so its members must pass the bomb limits before it is opened.
    if !zip_sizes_ok(ctx, name, &mut zip) {
        return;
    }
    if has("xl/workbook.xml") || has("xl/workbook.bin") {
        scan_spreadsheet(ctx, name, data, SheetKind::Xlsx);
        return;
    }
    if has("content.xml") && names.iter().any(|n| n == "mimetype") {
        let mime = zip_read(ctx, name, &mut zip, "mimetype").unwrap_or_default();
        if mime.starts_with(b"application/vnd.oasis.opendocument.spreadsheet") {
            scan_spreadsheet(ctx, name, data, SheetKind::Ods);
            return;
        }
        if let Some(xml) = zip_read(ctx, name, &mut zip, "content.xml") {
            let text = doc::office_xml_text(&xml, ctx.opts.max_entry_bytes as usize);
            scan_text_item(ctx, name, &text, None);
        }
        return;
    }
    if has("word/document.xml") || has("ppt/presentation.xml") {
        let mut parts: Vec<&String> = names
            .iter()
            .filter(|n| {
                (n.starts_with("word/")
                    && n.ends_with(".xml")
                    && (n.contains("document")
                        || n.contains("header")
                        || n.contains("footer")
                        || n.contains("comments")
                        || n.contains("footnotes")))
                    || (n.starts_with("ppt/slides/slide") && n.ends_with(".xml"))
                    || (n.starts_with("ppt/notesSlides/") && n.ends_with(".xml"))
            })
            .collect();
        parts.sort_by_key(|n| (n.len(), n.to_string()));
        let mut text = String::new();
        for p in parts.into_iter().take(2000) {
            if let Some(xml) = zip_read(ctx, name, &mut zip, p) {
                text.push_str(&doc::office_xml_text(&xml, ctx.opts.max_entry_bytes as usize));
                text.push('\n');
            }
        }
        // Embedded files (an xlsx pasted into a docx) are archives in their own right.
        for n in names.iter().filter(|n| n.contains("/embeddings/")).take(100) {
            if let Some(b) = zip_read(ctx, name, &mut zip, n) {
                scan_item(ctx, &format!("{name}!{n}"), &b, depth + 1);
            }
        }
        scan_text_item(ctx, name, &text, None);
        return;
    }
    let _ = lname;
    for n in names {
        if n.ends_with('/') {
            continue;
        }
        if ctx.budget.entries_left == 0 {
            ctx.issue(name, IssueKind::LimitReached, "entry limit reached; rest of archive not scanned");
            break;
        }
        ctx.budget.entries_left -= 1;
        if let Some(b) = zip_read(ctx, name, &mut zip, &n) {
            scan_item(ctx, &format!("{name}!{n}"), &b, depth + 1);
        }
    }
}

fn zip_sizes_ok(ctx: &mut Ctx, name: &str, zip: &mut zip::ZipArchive<Cursor<&[u8]>>) -> bool {
    let mut total: u64 = 0;
    for i in 0..zip.len().min(100_000) {
        let Ok(f) = zip.by_index_raw(i) else {
            ctx.issue(name, IssueKind::Corrupt, "unreadable zip directory entry");
            return false;
        };
        let size = f.size();
        let comp = f.compressed_size().max(1);
        total = total.saturating_add(size);
        if size > 1 << 20 && size / comp > ctx.opts.max_ratio {
            ctx.issue(
                name,
                IssueKind::Bomb,
                format!("member {} expands {}x ({} bytes): possible zip bomb; not opened", f.name(), size / comp, size),
            );
            return false;
        }
    }
    if total > ctx.budget.bytes_left {
        ctx.issue(
            name,
            IssueKind::Bomb,
            format!("archive expands to {total} bytes, over the {}-byte budget; not opened", ctx.budget.bytes_left),
        );
        return false;
    }
    true
}

fn zip_read(ctx: &mut Ctx, name: &str, zip: &mut zip::ZipArchive<Cursor<&[u8]>>, member: &str) -> Option<Vec<u8>> {
    let limit = ctx.opts.max_entry_bytes.min(ctx.budget.bytes_left);
    let f = match zip.by_name(member) {
        Ok(f) => f,
        Err(e) => {
            ctx.issue(&format!("{name}!{member}"), IssueKind::Corrupt, format!("cannot open member: {e}"));
            return None;
        }
    };
    if f.encrypted() {
        ctx.issue(&format!("{name}!{member}"), IssueKind::Unsupported, "encrypted zip member");
        return None;
    }
    if f.size() > limit {
        ctx.issue(
            &format!("{name}!{member}"),
            IssueKind::TooLarge,
            format!("member of {} bytes over the {limit}-byte limit; skipped", f.size()),
        );
        return None;
    }
    let comp = f.compressed_size().max(1);
    match read_bounded(f, limit) {
        Ok((v, over)) => {
            ctx.budget.bytes_left = ctx.budget.bytes_left.saturating_sub(v.len() as u64);
            if over || (v.len() as u64 > 1 << 20 && v.len() as u64 / comp > ctx.opts.max_ratio) {
                ctx.issue(&format!("{name}!{member}"), IssueKind::Bomb, "member expands past its declared size or ratio limit; skipped");
                return None;
            }
            Some(v)
        }
        Err(e) => {
            ctx.issue(&format!("{name}!{member}"), IssueKind::Corrupt, format!("corrupt member: {e}"));
            None
        }
    }
}

// ------------------------------------------------------------------ spreadsheets

#[derive(Clone, Copy)]
enum SheetKind {
    Xlsx,
    Ods,
    Xls,
}

/// Maps a line of the flattened sheet text back to its sheet and cell.
pub struct SheetMap {
    /// Per line: sheet index, absolute row, byte offsets where each cell starts.
    lines: Vec<(usize, u32, u32, Vec<usize>)>,
    sheets: Vec<String>,
}

impl SheetMap {
    fn locate(&self, line: usize, col_off: usize) -> (String, String) {
        let Some((si, row, col0, starts)) = self.lines.get(line.saturating_sub(1)) else {
            return (self.sheets.first().cloned().unwrap_or_default(), "A1".into());
        };
        let col = starts.iter().rposition(|&s| s <= col_off).unwrap_or(0) as u32 + col0;
        (self.sheets.get(*si).cloned().unwrap_or_default(), format!("{}{}", col_name(col), row + 1))
    }
}

/// Spreadsheet column letters: 0 → A, 25 → Z, 26 → AA.
pub fn col_name(mut c: u32) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

fn scan_spreadsheet(ctx: &mut Ctx, name: &str, data: &[u8], kind: SheetKind) {
    use calamine::{Data, Reader};
    let cells_cap = 2_000_000usize;
    let mut text = String::new();
    let mut map = SheetMap { lines: Vec::new(), sheets: Vec::new() };
    let add_range = |sheet: String, range: calamine::Range<Data>, text: &mut String, map: &mut SheetMap| {
        let si = map.sheets.len();
        map.sheets.push(sheet);
        let (r0, c0) = range.start().unwrap_or((0, 0));
        let mut cells = 0usize;
        for (ri, row) in range.rows().enumerate() {
            let mut starts = Vec::with_capacity(row.len());
            let base = text.len();
            for (ci, cell) in row.iter().enumerate() {
                if ci > 0 {
                    text.push('\t');
                }
                starts.push(text.len() - base);
                let s = match cell {
                    Data::Empty => String::new(),
                    Data::String(s) => s.clone(),
                    Data::Float(f) => {
                        if f.fract() == 0.0 && f.abs() < 1e15 {
                            format!("{}", *f as i64)
                        } else {
                            f.to_string()
                        }
                    }
                    other => other.to_string(),
                };
                text.push_str(&s.replace(['\t', '\n', '\r'], " "));
                cells += 1;
            }
            text.push('\n');
            map.lines.push((si, r0 + ri as u32, c0, starts));
            if cells > cells_cap {
                break;
            }
        }
        text.push('\n');
        map.lines.push((si, r0 + range.height() as u32, c0, vec![0]));
    };
    let cursor = Cursor::new(data);
    let result: Result<(), String> = match kind {
        SheetKind::Xlsx => match calamine::Xlsx::new(cursor) {
            Ok(mut wb) => {
                for sheet in wb.sheet_names().to_vec() {
                    match wb.worksheet_range(&sheet) {
                        Ok(r) => add_range(sheet, r, &mut text, &mut map),
                        Err(e) => ctx.issue(&format!("{name}!{sheet}"), IssueKind::Corrupt, format!("unreadable sheet: {e}")),
                    }
                }
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        },
        SheetKind::Ods => match calamine::Ods::new(cursor) {
            Ok(mut wb) => {
                for sheet in wb.sheet_names().to_vec() {
                    match wb.worksheet_range(&sheet) {
                        Ok(r) => add_range(sheet, r, &mut text, &mut map),
                        Err(e) => ctx.issue(&format!("{name}!{sheet}"), IssueKind::Corrupt, format!("unreadable sheet: {e}")),
                    }
                }
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        },
        // calamine's own compound-file reader trusts the header and the FAT (out-of-range
        // sectors panic, lengths become allocations, FAT loops never end), so the workbook
        // stream is taken out by the `cfb` crate, which checks them, and re-packed into a
        // fresh, well-formed container for calamine's BIFF parser.
        SheetKind::Xls => match repack_workbook(data).and_then(|clean| calamine::Xls::new(Cursor::new(clean)).map_err(|e| e.to_string())) {
            Ok(mut wb) => {
                for sheet in wb.sheet_names().to_vec() {
                    match wb.worksheet_range(&sheet) {
                        Ok(r) => add_range(sheet, r, &mut text, &mut map),
                        Err(e) => ctx.issue(&format!("{name}!{sheet}"), IssueKind::Corrupt, format!("unreadable sheet: {e}")),
                    }
                }
                Ok(())
            }
            Err(e) => Err(e),
        },
    };
    if let Err(e) = result {
        ctx.issue(name, IssueKind::Corrupt, format!("corrupt spreadsheet: {e}"));
        return;
    }
    scan_text_item(ctx, name, &text, Some(&map));
}

/// The `Workbook` (BIFF8) or `Book` (BIFF5) stream of an OLE compound file, alone in a new
/// compound file built here. Reading is bounded by the input's size (a stream cannot hold more
/// sectors than the file has).
fn repack_workbook(data: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::{Read, Write};
    let mut comp = cfb::CompoundFile::open(Cursor::new(data)).map_err(|e| format!("compound file: {e}"))?;
    let name = ["/Workbook", "/Book"].into_iter().find(|p| comp.is_stream(p)).ok_or("no Workbook stream")?;
    let mut book = Vec::new();
    comp.open_stream(name).and_then(|s| s.take(data.len() as u64).read_to_end(&mut book)).map_err(|e| format!("workbook stream: {e}"))?;
    // Version 3: calamine refuses a version-4 file whose root entry has no mini stream.
    let mut out = cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::with_capacity(book.len() + 4096)))
        .map_err(|e| e.to_string())?;
    out.create_stream(name).and_then(|mut s| s.write_all(&book)).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    Ok(out.into_inner().into_inner())
}

fn scan_ole(ctx: &mut Ctx, name: &str, data: &[u8], lname: &str) {
    if lname.ends_with(".xls") || lname.ends_with(".xlt") || !lname.ends_with(".doc") {
        // calamine validates the compound file itself; a non-workbook OLE file is an error.
        let before = ctx.issues.len();
        scan_spreadsheet(ctx, name, data, SheetKind::Xls);
        if ctx.issues.len() == before || lname.ends_with(".xls") {
            return;
        }
        ctx.issues.truncate(before);
    }
    // Legacy .doc and other OLE files: scan the UTF-16 and ASCII runs as text.
    let mut text = String::new();
    let utf16: Vec<u16> = data.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect();
    let mut run = String::new();
    for u in utf16 {
        match char::from_u32(u as u32) {
            Some(c) if !c.is_control() || c == '\r' || c == '\t' => run.push(if c == '\r' { '\n' } else { c }),
            _ => {
                if run.chars().count() >= 4 {
                    text.push_str(&run);
                    text.push('\n');
                }
                run.clear();
            }
        }
        if text.len() > ctx.opts.max_entry_bytes as usize {
            break;
        }
    }
    scan_text_item(ctx, name, &text, None);
}

// ------------------------------------------------------------------ gzip and tar

fn scan_gzip(ctx: &mut Ctx, name: &str, data: &[u8], depth: u32) {
    let limit = ctx.opts.max_entry_bytes.min(ctx.budget.bytes_left);
    let dec = flate2::read::MultiGzDecoder::new(data);
    match read_bounded(dec, limit) {
        Ok((v, over)) => {
            ctx.budget.bytes_left = ctx.budget.bytes_left.saturating_sub(v.len() as u64);
            if over {
                ctx.issue(
                    name,
                    IssueKind::Bomb,
                    format!("gzip expands past {limit} bytes (ratio over {}x); not scanned", v.len() / data.len().max(1)),
                );
                return;
            }
            let inner = name.strip_suffix(".gz").or_else(|| name.strip_suffix(".tgz").map(|_| name)).unwrap_or(name);
            let inner_name = if inner == name {
                format!("{name}!content")
            } else {
                format!("{name}!{}", inner.rsplit(['/', '\\', '!']).next().unwrap_or(inner))
            };
            scan_item(ctx, &inner_name, &v, depth + 1);
        }
        Err(e) => ctx.issue(name, IssueKind::Corrupt, format!("corrupt gzip: {e}")),
    }
}

/// Parses a tar archive held in memory (ustar/GNU/pax headers; long names from GNU `L`).
fn scan_tar(ctx: &mut Ctx, name: &str, data: &[u8], depth: u32) {
    let mut pos = 0usize;
    let mut long_name: Option<String> = None;
    let mut count = 0u64;
    while pos + 512 <= data.len() {
        let h = &data[pos..pos + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        count += 1;
        if ctx.budget.entries_left == 0 || count > 1_000_000 {
            ctx.issue(name, IssueKind::LimitReached, "entry limit reached; rest of archive not scanned");
            break;
        }
        ctx.budget.entries_left -= 1;
        let field = |a: usize, b: usize| -> &[u8] {
            let f = &h[a..b];
            let end = f.iter().position(|&c| c == 0).unwrap_or(f.len());
            &f[..end]
        };
        let size_field = String::from_utf8_lossy(field(124, 136)).trim().to_string();
        let Ok(size) = u64::from_str_radix(if size_field.is_empty() { "0" } else { &size_field }, 8) else {
            ctx.issue(name, IssueKind::Corrupt, "corrupt tar header");
            return;
        };
        let typ = h[156];
        let prefix = String::from_utf8_lossy(field(345, 500)).into_owned();
        let base = String::from_utf8_lossy(field(0, 100)).into_owned();
        let entry_name = long_name
            .take()
            .unwrap_or_else(|| if prefix.is_empty() || &h[257..262] != b"ustar" { base } else { format!("{prefix}/{base}") });
        let start = pos + 512;
        let Some(end) = usize::try_from(size).ok().and_then(|s| start.checked_add(s)) else {
            ctx.issue(name, IssueKind::Corrupt, "tar entry size overflows");
            return;
        };
        if end > data.len() {
            ctx.issue(&format!("{name}!{entry_name}"), IssueKind::Corrupt, "truncated tar entry");
            return;
        }
        let body = &data[start..end];
        match typ {
            b'L' => long_name = Some(String::from_utf8_lossy(body).trim_end_matches('\0').to_string()),
            b'0' | 0 | b'7' => {
                if size > ctx.opts.max_entry_bytes {
                    ctx.issue(&format!("{name}!{entry_name}"), IssueKind::TooLarge, format!("{size} bytes over the entry limit; skipped"));
                } else {
                    scan_item(ctx, &format!("{name}!{entry_name}"), body, depth + 1);
                }
            }
            _ => {}
        }
        let padded = end.div_ceil(512).saturating_mul(512);
        if padded <= pos {
            break;
        }
        pos = padded;
    }
}

// ------------------------------------------------------------------ e-mail

fn scan_mail(ctx: &mut Ctx, name: &str, data: &[u8], depth: u32) {
    // The raw message first (headers and plain bodies keep their line numbers).
    if let Some(text) = decode_text(data) {
        scan_text_item(ctx, name, &text, None);
    }
    let parts = doc::mail_parts(data, 8, 500);
    for (i, p) in parts.into_iter().enumerate() {
        let encoded_text = p.content_type.starts_with("text/");
        let pname = format!("{name}!{}", if p.name.is_empty() { format!("part{}", i + 1) } else { p.name.clone() });
        if encoded_text {
            // Only decoded bodies add anything over the raw scan above.
            if let Some(t) = decode_text(&p.data) {
                let raw = String::from_utf8_lossy(data);
                if !raw.contains(t.trim()) {
                    let t: std::borrow::Cow<str> = if p.content_type.contains("html") { strip_html(&t).into() } else { t };
                    scan_text_item(ctx, &pname, &t, None);
                }
            }
        } else {
            scan_item(ctx, &pname, &p.data, depth + 1);
        }
    }
}

/// Tags out, line breaks kept: enough for secrets in HTML mail bodies.
fn strip_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    let mut tag = String::new();
    for c in s.chars() {
        if in_tag {
            if c == '>' {
                in_tag = false;
                let t = tag.to_ascii_lowercase();
                if t.starts_with("br") || t.starts_with("/p") || t.starts_with("/tr") || t.starts_with("/div") || t.starts_with("/li") {
                    out.push('\n');
                } else if t.starts_with("/td") || t.starts_with("/th") {
                    out.push('\t');
                }
                tag.clear();
            } else if tag.len() < 16 {
                tag.push(c);
            }
        } else if c == '<' {
            in_tag = true;
        } else {
            out.push(c);
        }
    }
    out.replace("&nbsp;", " ").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
}

/// Re-exported for the fuzz target of hits without a location.
pub fn hits_of(name: &str, text: &str) -> Vec<Hit> {
    scan_text(name, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names() {
        assert_eq!(col_name(0), "A");
        assert_eq!(col_name(25), "Z");
        assert_eq!(col_name(26), "AA");
        assert_eq!(col_name(27), "AB");
    }
}
