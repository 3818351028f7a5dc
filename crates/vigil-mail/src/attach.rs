//! Attachments: what a file name and the first bytes say about the payload. Executables and
//! scripts, shortcut (LNK) and disk images (ISO/IMG/VHD) used to dodge mark-of-the-web, double
//! extensions and right-to-left overrides, encrypted archives (scanners cannot look inside),
//! Office documents with macros (OOXML `vbaProject.bin`, OLE with VBA storage) and remote-template
//! injection (`attachedTemplate` pointing at an http URL). Archives are opened with hard caps on
//! entries and decompressed bytes, so a zip bomb costs at most `MAX_INFLATE` bytes.

use std::io::Read;

/// Entries looked at per archive.
pub const MAX_ENTRIES: usize = 1000;
/// Bytes decompressed per archive member we read (rels and settings files are small).
pub const MAX_INFLATE: u64 = 1 << 20;
/// Nesting of archives inside archives.
const MAX_DEPTH: u32 = 2;

const EXECUTABLE: &[&str] =
    &["exe", "scr", "pif", "com", "cpl", "msi", "msp", "dll", "jar", "app", "apk", "elf", "bin", "reg", "msc", "appx", "msix", "appref-ms"];
const SCRIPT: &[&str] = &["js", "jse", "vbs", "vbe", "hta", "ps1", "psm1", "bat", "cmd", "wsf", "wsh", "sct", "chm", "xll", "py", "sh"];
const SHORTCUT: &[&str] = &["lnk", "url", "scf", "library-ms", "settingcontent-ms", "searchconnector-ms"];
const DISK_IMAGE: &[&str] = &["iso", "img", "vhd", "vhdx", "udf"];
const DOCUMENT: &[&str] = &[
    "doc", "docx", "docm", "dot", "dotm", "xls", "xlsx", "xlsm", "xlsb", "xlam", "ppt", "pptx", "pptm", "rtf", "pdf", "txt", "jpg", "jpeg",
    "png", "gif", "mp3", "mp4", "htm", "html", "csv", "odt",
];
const MACRO_EXT: &[&str] = &["docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppam", "ppsm"];
const BIDI: &[char] = &['\u{202E}', '\u{202D}', '\u{202A}', '\u{202B}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{200F}'];

/// One suspicious trait of an attachment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachSignal {
    Executable(String),
    Script(String),
    Shortcut(String),
    DiskImage(String),
    DoubleExtension(String),
    RightToLeft(String),
    EncryptedArchive(String),
    Macro(String),
    RemoteTemplate(String),
    HtmlAttachment(String),
}

impl AttachSignal {
    pub fn name(&self) -> &'static str {
        match self {
            AttachSignal::Executable(_) => "attachment_executable",
            AttachSignal::Script(_) => "attachment_script",
            AttachSignal::Shortcut(_) => "attachment_shortcut",
            AttachSignal::DiskImage(_) => "attachment_disk_image",
            AttachSignal::DoubleExtension(_) => "attachment_double_extension",
            AttachSignal::RightToLeft(_) => "attachment_rtlo",
            AttachSignal::EncryptedArchive(_) => "attachment_encrypted_archive",
            AttachSignal::Macro(_) => "attachment_macro",
            AttachSignal::RemoteTemplate(_) => "attachment_remote_template",
            AttachSignal::HtmlAttachment(_) => "attachment_html",
        }
    }
    pub fn detail(&self) -> &str {
        match self {
            AttachSignal::Executable(s)
            | AttachSignal::Script(s)
            | AttachSignal::Shortcut(s)
            | AttachSignal::DiskImage(s)
            | AttachSignal::DoubleExtension(s)
            | AttachSignal::RightToLeft(s)
            | AttachSignal::EncryptedArchive(s)
            | AttachSignal::Macro(s)
            | AttachSignal::RemoteTemplate(s)
            | AttachSignal::HtmlAttachment(s) => s,
        }
    }
}

fn ext_of(name: &str) -> String {
    name.rsplit_once('.').map(|(_, e)| e.trim().trim_end_matches(|c: char| !c.is_alphanumeric()).to_ascii_lowercase()).unwrap_or_default()
}

/// Signals from the file name alone.
pub fn name_signals(name: &str, out: &mut Vec<AttachSignal>) {
    let name: String = name.chars().take(512).collect();
    if name.contains(BIDI) {
        // The name as it would be displayed is misleading; keep the raw form, escaped.
        out.push(AttachSignal::RightToLeft(name.escape_default().to_string()));
    }
    let clean: String = name.chars().filter(|c| !BIDI.contains(c)).collect();
    let ext = ext_of(&clean);
    let e = ext.as_str();
    if EXECUTABLE.contains(&e) {
        out.push(AttachSignal::Executable(clean.clone()));
    } else if SCRIPT.contains(&e) {
        out.push(AttachSignal::Script(clean.clone()));
    } else if SHORTCUT.contains(&e) {
        out.push(AttachSignal::Shortcut(clean.clone()));
    } else if DISK_IMAGE.contains(&e) {
        out.push(AttachSignal::DiskImage(clean.clone()));
    } else if e == "htm" || e == "html" || e == "shtml" || e == "xhtml" || e == "svg" {
        out.push(AttachSignal::HtmlAttachment(clean.clone()));
    } else if MACRO_EXT.contains(&e) {
        out.push(AttachSignal::Macro(format!("{clean}: macro-enabled Office format")));
    }
    // "invoice.pdf.exe", "scan.pdf   .js": a harmless-looking inner extension before a dangerous one.
    if let Some((stem, _)) = clean.rsplit_once('.') {
        let inner = ext_of(stem.trim_end());
        let dangerous =
            EXECUTABLE.contains(&e) || SCRIPT.contains(&e) || SHORTCUT.contains(&e) || DISK_IMAGE.contains(&e) || e == "html" || e == "htm";
        if dangerous && DOCUMENT.contains(&inner.as_str()) {
            out.push(AttachSignal::DoubleExtension(clean.clone()));
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

/// True for an OLE compound file that carries a VBA project.
pub fn ole_has_macros(data: &[u8]) -> bool {
    data.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1])
        && (contains(data, &utf16le("_VBA_PROJECT"))
            || contains(data, &utf16le("VBA")) && contains(data, &utf16le("dir"))
            || contains(data, &utf16le("Macros")))
}

/// Signals from the content (magic numbers, archive members). `depth` bounds nested archives.
pub fn content_signals(name: &str, data: &[u8], out: &mut Vec<AttachSignal>) {
    content_inner(name, data, out, 0);
}

fn content_inner(name: &str, data: &[u8], out: &mut Vec<AttachSignal>, depth: u32) {
    let short: String = name.chars().take(200).collect();
    if data.starts_with(b"MZ") && data.len() > 64 {
        if !out.iter().any(|s| matches!(s, AttachSignal::Executable(_))) {
            out.push(AttachSignal::Executable(format!("{short}: Windows PE (MZ header)")));
        }
    } else if data.starts_with(b"\x7fELF") {
        out.push(AttachSignal::Executable(format!("{short}: ELF executable")));
    } else if data.starts_with(&[0x4C, 0, 0, 0, 0x01, 0x14, 0x02, 0]) {
        out.push(AttachSignal::Shortcut(format!("{short}: Windows shortcut (LNK header)")));
    } else if data.get(0x8001..0x8006) == Some(b"CD001") || data.get(0x9001..0x9006) == Some(b"CD001") {
        out.push(AttachSignal::DiskImage(format!("{short}: ISO 9660 image")));
    } else if data.starts_with(b"conectix") || data.starts_with(b"vhdxfile") {
        out.push(AttachSignal::DiskImage(format!("{short}: virtual disk")));
    } else if ole_has_macros(data) {
        out.push(AttachSignal::Macro(format!("{short}: OLE document with a VBA project")));
    } else if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
        zip_signals(&short, data, out, depth);
    } else if data.starts_with(b"Rar!") && data.len() > 12 {
        // RAR4 marks encrypted headers with flag 0x80 in the archive header (MHD_PASSWORD).
        if data.get(7) == Some(&0x73) && data.get(10).is_some_and(|f| f & 0x80 != 0) {
            out.push(AttachSignal::EncryptedArchive(format!("{short}: RAR with encrypted headers")));
        }
    } else if data.starts_with(b"{\\rt") && (contains(data, b"objdata") || contains(data, b"objupdate")) {
        out.push(AttachSignal::Macro(format!("{short}: RTF with embedded OLE object")));
    }
}

fn zip_signals(name: &str, data: &[u8], out: &mut Vec<AttachSignal>, depth: u32) {
    let Ok(mut z) = zip::ZipArchive::new(std::io::Cursor::new(data)) else { return };
    let n = z.len().min(MAX_ENTRIES);
    let mut encrypted = false;
    let mut inner_names = Vec::new();
    for i in 0..n {
        let Ok(f) = z.by_index_raw(i) else { continue };
        if f.encrypted() {
            encrypted = true;
        }
        inner_names.push(f.name().chars().take(300).collect::<String>());
    }
    if encrypted {
        out.push(AttachSignal::EncryptedArchive(format!("{name}: password-protected zip")));
    }
    let is_ooxml = inner_names.iter().any(|n| n == "[Content_Types].xml");
    if is_ooxml {
        if let Some(v) = inner_names.iter().find(|n| n.to_ascii_lowercase().ends_with("vbaproject.bin")) {
            out.push(AttachSignal::Macro(format!("{name}: OOXML with {v}")));
        }
        for rels in inner_names.iter().filter(|n| n.ends_with("settings.xml.rels") || n.ends_with("document.xml.rels")) {
            let Ok(f) = z.by_name(rels) else { continue };
            let mut buf = Vec::new();
            if f.take(MAX_INFLATE).read_to_end(&mut buf).is_err() {
                continue;
            }
            let s = String::from_utf8_lossy(&buf).to_ascii_lowercase();
            if let Some(t) = remote_template_target(&s) {
                out.push(AttachSignal::RemoteTemplate(format!("{name}: {rels} → {t}")));
            }
        }
        return;
    }
    // A plain archive: judge member names, and peek into small members (bounded) for payloads.
    for (i, inner) in inner_names.iter().enumerate() {
        let before = out.len();
        name_signals(inner, out);
        for s in out.iter_mut().skip(before) {
            *s = relabel(s, &format!("{name} → "));
        }
        if depth < MAX_DEPTH && !encrypted && i < 50 {
            let Ok(f) = z.by_index(i) else { continue };
            let mut buf = Vec::new();
            if f.take(MAX_INFLATE).read_to_end(&mut buf).is_ok() {
                content_inner(&format!("{name} → {inner}"), &buf, out, depth + 1);
            }
        }
    }
}

fn relabel(s: &AttachSignal, prefix: &str) -> AttachSignal {
    let d = format!("{prefix}{}", s.detail());
    match s {
        AttachSignal::Executable(_) => AttachSignal::Executable(d),
        AttachSignal::Script(_) => AttachSignal::Script(d),
        AttachSignal::Shortcut(_) => AttachSignal::Shortcut(d),
        AttachSignal::DiskImage(_) => AttachSignal::DiskImage(d),
        AttachSignal::DoubleExtension(_) => AttachSignal::DoubleExtension(d),
        AttachSignal::RightToLeft(_) => AttachSignal::RightToLeft(d),
        AttachSignal::EncryptedArchive(_) => AttachSignal::EncryptedArchive(d),
        AttachSignal::Macro(_) => AttachSignal::Macro(d),
        AttachSignal::RemoteTemplate(_) => AttachSignal::RemoteTemplate(d),
        AttachSignal::HtmlAttachment(_) => AttachSignal::HtmlAttachment(d),
    }
}

/// The http(s) target of an `attachedTemplate` (or external oleObject/frame) relationship.
fn remote_template_target(rels_lower: &str) -> Option<String> {
    for rel in rels_lower.split("<relationship").skip(1).take(MAX_ENTRIES) {
        let relevant = rel.contains("attachedtemplate") || rel.contains("/oleobject") || rel.contains("/frame");
        if !relevant || !rel.contains("targetmode=\"external\"") {
            continue;
        }
        let t = rel.split("target=\"").nth(1)?.split('"').next()?;
        if t.starts_with("http://") || t.starts_with("https://") || t.starts_with("\\\\") || t.starts_with("file://") {
            return Some(t.chars().take(300).collect());
        }
    }
    None
}

/// Bytes of a PDF searched for link annotations.
const MAX_PDF_SCAN: usize = 8 << 20;
/// Links taken from one PDF.
const MAX_PDF_LINKS: usize = 100;

/// URI actions of a PDF (`/URI (https://…)` in uncompressed objects): the "open the attached
/// invoice and click" lure puts its link in a PDF so the mail body stays clean. Literal strings
/// with `\)` escapes are read; hex strings and compressed object streams are not.
pub fn pdf_links(data: &[u8]) -> Vec<crate::html::Link> {
    let mut out = Vec::new();
    if !data.starts_with(b"%PDF") {
        return out;
    }
    let d = data.get(..data.len().min(MAX_PDF_SCAN)).unwrap_or_default();
    let mut pos = 0usize;
    while out.len() < MAX_PDF_LINKS {
        let Some(rel) = d.get(pos..).and_then(|r| r.windows(4).position(|w| w == b"/URI")) else { break };
        let mut i = pos + rel + 4;
        while d.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        pos = i;
        if d.get(i) != Some(&b'(') {
            continue;
        }
        i += 1;
        let mut url = Vec::new();
        while let Some(&c) = d.get(i) {
            if c == b')' || url.len() >= 2048 {
                break;
            }
            if c == b'\\' {
                i += 1;
                if let Some(&e) = d.get(i) {
                    url.push(e);
                }
            } else {
                url.push(c);
            }
            i += 1;
        }
        pos = i;
        let href = String::from_utf8_lossy(&url).trim().to_string();
        if let Some(host) = crate::html::url_host(&href) {
            out.push(crate::html::Link { href, host, text: String::new() });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (n, d) in entries {
            w.start_file(*n, zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(d).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn names(v: &[AttachSignal]) -> Vec<&'static str> {
        v.iter().map(|s| s.name()).collect()
    }

    #[test]
    fn rtlo_and_double_extension() {
        let mut v = Vec::new();
        name_signals("invoice\u{202E}fdp.exe", &mut v);
        assert!(names(&v).contains(&"attachment_rtlo"));
        assert!(names(&v).contains(&"attachment_executable"));
        let mut v = Vec::new();
        name_signals("Invoice_2024.pdf.js", &mut v);
        assert_eq!(names(&v), vec!["attachment_script", "attachment_double_extension"]);
        let mut v = Vec::new();
        name_signals("report.final.pdf", &mut v);
        assert!(v.is_empty());
    }

    #[test]
    fn shortcuts_images_scripts() {
        for (n, k) in [
            ("a.lnk", "attachment_shortcut"),
            ("b.ISO", "attachment_disk_image"),
            ("c.vhd", "attachment_disk_image"),
            ("d.hta", "attachment_script"),
            ("e.wsf", "attachment_script"),
            ("f.ps1", "attachment_script"),
        ] {
            let mut v = Vec::new();
            name_signals(n, &mut v);
            assert_eq!(names(&v), vec![k], "{n}");
        }
        let mut v = Vec::new();
        content_signals("x.dat", &[0x4C, 0, 0, 0, 0x01, 0x14, 0x02, 0, 0, 0], &mut v);
        assert_eq!(names(&v), vec!["attachment_shortcut"]);
    }

    #[test]
    fn macro_documents() {
        let docm = zip_of(&[("[Content_Types].xml", b"<Types/>"), ("word/vbaProject.bin", b"\xd0\xcf")]);
        let mut v = Vec::new();
        content_signals("q.docx", &docm, &mut v);
        assert_eq!(names(&v), vec!["attachment_macro"]);
        let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
        ole.extend(vec![0u8; 100]);
        ole.extend(utf16le("_VBA_PROJECT"));
        let mut v = Vec::new();
        content_signals("q.doc", &ole, &mut v);
        assert_eq!(names(&v), vec!["attachment_macro"]);
        // An OLE file without VBA is not a macro document.
        let mut v = Vec::new();
        content_signals("q.doc", &ole[..108], &mut v);
        assert!(v.is_empty());
    }

    #[test]
    fn remote_template_injection() {
        let rels = br#"<Relationships><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" Target="http://203.0.113.9/t.dotm" TargetMode="External"/></Relationships>"#;
        let docx = zip_of(&[("[Content_Types].xml", b"<Types/>"), ("word/_rels/settings.xml.rels", rels)]);
        let mut v = Vec::new();
        content_signals("cv.docx", &docx, &mut v);
        assert_eq!(names(&v), vec!["attachment_remote_template"]);
        assert!(v[0].detail().contains("203.0.113.9"));
    }

    #[test]
    fn archive_members_and_bombs() {
        let z = zip_of(&[("scan.pdf.exe", b"MZ")]);
        let mut v = Vec::new();
        content_signals("scan.zip", &z, &mut v);
        assert!(names(&v).contains(&"attachment_executable"));
        assert!(names(&v).contains(&"attachment_double_extension"));
        // 50 MB of zeros compresses to ~50 KB; reading stops at MAX_INFLATE.
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file("zeros.txt", zip::write::SimpleFileOptions::default()).unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..50 {
            w.write_all(&chunk).unwrap();
        }
        let bomb = w.finish().unwrap().into_inner();
        let mut v = Vec::new();
        content_signals("bomb.zip", &bomb, &mut v);
        assert!(v.is_empty());
        // Truncated and garbage archives are not errors.
        content_signals("t.zip", &bomb[..bomb.len() / 2], &mut v);
        content_signals("g.zip", b"PK\x03\x04garbage", &mut v);
    }

    #[test]
    fn encrypted_zip_flag() {
        let mut z = zip_of(&[("a.txt", b"hello")]);
        // Set the "encrypted" bit (bit 0 of the general-purpose flags) in the local and central headers.
        z[6] |= 1;
        let cd = z.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        z[cd + 8] |= 1;
        let mut v = Vec::new();
        content_signals("a.zip", &z, &mut v);
        assert_eq!(names(&v), vec!["attachment_encrypted_archive"]);
    }

    #[test]
    fn pdf_uri_actions() {
        let pdf = b"%PDF-1.4\n1 0 obj << /Type /Annot /A << /S /URI /URI (https://login-portal.example/o\\)wa?x=1) >> >>\nendobj\n2 0 obj << /URI(http://203.0.113.7/a) >>";
        let l = pdf_links(pdf);
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].href, "https://login-portal.example/o)wa?x=1");
        assert_eq!(l[1].host, "203.0.113.7");
        assert!(pdf_links(b"/URI (https://x.example)").is_empty(), "not a PDF");
        let unterminated = b"%PDF-1.7 /URI (https://a.example/".to_vec();
        assert_eq!(pdf_links(&unterminated).len(), 1);
    }
}
