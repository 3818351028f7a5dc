//! Text out of document formats, as pure functions over bytes: office XML (docx/pptx/odt),
//! RTF (control words stripped), PDF (FlateDecode streams, Tj/TJ text; best effort and
//! bounded), and e-mail (headers, base64/quoted-printable parts, attachments handed back).

use base64::Engine;
use quick_xml::events::Event;
use std::io::Read;

/// Text of an office XML part: paragraphs become lines, table cells are separated by tabs
/// and table rows become lines, so document tables reach the table detector intact.
pub fn office_xml_text(xml: &[u8], max_out: usize) -> String {
    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().trim_text(false);
    let mut out = String::new();
    let mut buf = Vec::new();
    let mut in_cell = 0u32;
    let mut events = 0u64;
    loop {
        events += 1;
        if events > 20_000_000 || out.len() > max_out {
            break;
        }
        match reader.read_event_into(&mut buf) {
            Ok(Event::Text(t)) => {
                let s = t.unescape().map(|c| c.into_owned()).unwrap_or_else(|_| String::from_utf8_lossy(&t).into_owned());
                out.push_str(&s.replace(['\n', '\r', '\t'], " "));
            }
            Ok(Event::CData(t)) => out.push_str(&String::from_utf8_lossy(&t).replace(['\n', '\r', '\t'], " ")),
            Ok(Event::Start(e)) => match e.local_name().as_ref() {
                b"tc" | b"table-cell" | b"covered-table-cell" => in_cell += 1,
                b"tab" => out.push('\t'),
                b"br" | b"cr" | b"line-break" => out.push(if in_cell > 0 { ' ' } else { '\n' }),
                _ => {}
            },
            Ok(Event::Empty(e)) => match e.local_name().as_ref() {
                b"tab" => out.push('\t'),
                b"br" | b"cr" | b"line-break" => out.push(if in_cell > 0 { ' ' } else { '\n' }),
                b"s" => out.push(' '),
                b"tc" | b"table-cell" | b"covered-table-cell" => out.push('\t'),
                _ => {}
            },
            Ok(Event::End(e)) => match e.local_name().as_ref() {
                b"p" | b"h" => out.push(if in_cell > 0 { ' ' } else { '\n' }),
                b"tc" | b"table-cell" | b"covered-table-cell" => {
                    in_cell = in_cell.saturating_sub(1);
                    out.push('\t');
                }
                b"tr" | b"table-row" => {
                    // Drop the tab after the last cell so rows split cleanly.
                    if out.ends_with('\t') {
                        out.pop();
                    }
                    out.push('\n');
                }
                _ => {}
            },
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(_) => break,
        }
        buf.clear();
    }
    out
}

/// RTF to text: control words dropped, `\par`/`\row` become newlines, `\cell`/`\tab` tabs,
/// `\'hh` and `\uN` escapes decoded, destinations (`{\*…}`, font and colour tables) skipped.
pub fn rtf_text(data: &[u8], max_out: usize) -> String {
    let mut out = String::new();
    let mut bytes_run: Vec<u8> = Vec::new();
    let mut i = 0usize;
    let mut depth = 0i32;
    let mut skip_depth: Option<i32> = None;
    let mut uc_skip = 0usize;
    let flush = |run: &mut Vec<u8>, out: &mut String| {
        if !run.is_empty() {
            let (s, _) = encoding_rs::GBK.decode_without_bom_handling(run);
            let s = if std::str::from_utf8(run).is_ok() {
                String::from_utf8_lossy(run).into_owned()
            } else if s.contains('\u{fffd}') {
                encoding_rs::WINDOWS_1252.decode_without_bom_handling(run).0.into_owned()
            } else {
                s.into_owned()
            };
            out.push_str(&s);
            run.clear();
        }
    };
    while i < data.len() && out.len() < max_out {
        let c = data[i];
        match c {
            b'{' => {
                depth += 1;
                i += 1;
                if data.get(i..i + 2) == Some(b"\\*") && skip_depth.is_none() {
                    skip_depth = Some(depth);
                }
                for dest in [
                    &b"\\fonttbl"[..],
                    b"\\colortbl",
                    b"\\stylesheet",
                    b"\\info",
                    b"\\pict",
                    b"\\themedata",
                    b"\\datastore",
                    b"\\listtable",
                ] {
                    if data.get(i..i + dest.len()) == Some(dest) && skip_depth.is_none() {
                        skip_depth = Some(depth);
                    }
                }
            }
            b'}' => {
                if skip_depth == Some(depth) {
                    skip_depth = None;
                }
                depth -= 1;
                i += 1;
            }
            b'\\' => {
                i += 1;
                let Some(&n) = data.get(i) else { break };
                if n == b'\'' {
                    if let Some(h) =
                        data.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok())
                        && skip_depth.is_none()
                    {
                        if uc_skip > 0 {
                            uc_skip -= 1;
                        } else {
                            bytes_run.push(h);
                        }
                    }
                    i += 3;
                    continue;
                }
                if !n.is_ascii_alphabetic() {
                    if skip_depth.is_none() && matches!(n, b'\\' | b'{' | b'}') {
                        bytes_run.push(n);
                    }
                    i += 1;
                    continue;
                }
                let ws = i;
                while i < data.len() && data[i].is_ascii_alphabetic() && i - ws < 32 {
                    i += 1;
                }
                let word = &data[ws..i];
                let ns = i;
                if i < data.len() && (data[i] == b'-' || data[i].is_ascii_digit()) {
                    i += 1;
                    while i < data.len() && data[i].is_ascii_digit() && i - ns < 12 {
                        i += 1;
                    }
                }
                let num: Option<i64> = std::str::from_utf8(&data[ns..i]).ok().and_then(|s| s.parse().ok());
                if data.get(i) == Some(&b' ') {
                    i += 1;
                }
                if skip_depth.is_some() {
                    continue;
                }
                match word {
                    b"par" | b"line" | b"row" | b"sect" | b"page" => {
                        flush(&mut bytes_run, &mut out);
                        if word == b"row" && out.ends_with('\t') {
                            out.pop();
                        }
                        out.push('\n');
                    }
                    b"cell" | b"tab" => {
                        flush(&mut bytes_run, &mut out);
                        out.push('\t');
                    }
                    b"u" => {
                        flush(&mut bytes_run, &mut out);
                        if let Some(n) = num {
                            let cp = if n < 0 { n + 65536 } else { n };
                            if let Some(ch) = u32::try_from(cp).ok().and_then(char::from_u32) {
                                out.push(ch);
                            }
                            uc_skip = 1;
                        }
                    }
                    _ => {}
                }
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                if skip_depth.is_none() {
                    if uc_skip > 0 {
                        uc_skip -= 1;
                    } else {
                        bytes_run.push(c);
                    }
                }
                i += 1;
            }
        }
    }
    flush(&mut bytes_run, &mut out);
    out
}

/// PDF text, best effort: each content stream (FlateDecode or unfiltered) is searched for
/// text-showing operators. Fonts with a `/ToUnicode` CMap (what office suites write for
/// embedded subset fonts) are decoded through it. Bounded by `max_inflate` decompressed
/// bytes in total.
pub fn pdf_text(data: &[u8], max_inflate: usize, max_out: usize) -> String {
    let mut out = String::new();
    let mut pos = 0usize;
    let mut budget = max_inflate;
    let mut streams: Vec<(Option<u32>, Vec<u8>)> = Vec::new();
    while let Some(rel) = find(&data[pos..], b"stream") {
        if streams.len() > 10_000 {
            break;
        }
        let kw = pos + rel;
        let mut s = kw + 6;
        if data.get(s) == Some(&b'\r') {
            s += 1;
        }
        if data.get(s) == Some(&b'\n') {
            s += 1;
        }
        let Some(e) = find(&data[s..], b"endstream").map(|i| s + i) else { break };
        pos = e + 9;
        // Skip "endstream" matched as "stream" on the next turn.
        let dict_start = kw.saturating_sub(512);
        let dict = &data[dict_start..kw];
        let raw = &data[s..e];
        let content: Vec<u8> = if find(dict, b"/FlateDecode").is_some() {
            let mut dec = flate2::read::ZlibDecoder::new(raw).take(budget as u64);
            let mut v = Vec::new();
            if dec.read_to_end(&mut v).is_err() && v.is_empty() {
                continue;
            }
            budget = budget.saturating_sub(v.len());
            v
        } else if find(dict, b"/Filter").is_some() {
            continue;
        } else {
            raw.to_vec()
        };
        streams.push((object_number_before(data, kw), content));
        if budget == 0 {
            break;
        }
    }
    let fonts = pdf_fonts(data, &streams);
    for (_, content) in &streams {
        if out.len() > max_out {
            break;
        }
        if find(content, b"Tj").is_some() || find(content, b"TJ").is_some() {
            pdf_content_text(content, &fonts, &mut out, max_out);
        }
    }
    out
}

/// A ToUnicode CMap: character code → text, and the code width in bytes.
#[derive(Default)]
struct CMap {
    map: std::collections::HashMap<u32, String>,
    width: usize,
}

/// `N G obj` closest before `at` (the object a stream or a dictionary belongs to).
fn object_number_before(data: &[u8], at: usize) -> Option<u32> {
    let head = &data[at.saturating_sub(4096)..at];
    let o = head.windows(4).rposition(|w| w == b" obj")?;
    let before = std::str::from_utf8(&head[o.saturating_sub(24)..o]).ok()?;
    let mut it = before.split_whitespace().rev();
    let _gen = it.next()?;
    it.next()?.parse().ok()
}

fn hex_bytes(h: &[u8]) -> Vec<u8> {
    let hex: Vec<u8> = h.iter().copied().filter(u8::is_ascii_hexdigit).collect();
    hex.chunks(2).filter_map(|p| std::str::from_utf8(p).ok().and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

fn code_of(b: &[u8]) -> u32 {
    b.iter().take(4).fold(0u32, |a, x| (a << 8) | u32::from(*x))
}

fn utf16_text(b: &[u8]) -> String {
    let (s, _) = encoding_rs::UTF_16BE.decode_without_bom_handling(b);
    s.into_owned()
}

/// The `<…>` hex strings of a CMap section body, in order.
fn hex_tokens(body: &[u8]) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    let mut i = 0;
    while let Some(p) = body[i..].iter().position(|b| *b == b'<') {
        let s = i + p + 1;
        let Some(e) = body[s..].iter().position(|b| *b == b'>').map(|x| s + x) else { break };
        v.push(hex_bytes(&body[s..e]));
        i = e + 1;
        if v.len() > 200_000 {
            break;
        }
    }
    v
}

/// Mapping entries all CMaps of one file may hold together: a 20-byte `bfrange` expands to
/// 65 536 entries, so the total is capped, not just each map.
const MAX_CMAP_ENTRIES: usize = 200_000;

fn parse_cmap(c: &[u8], left: &mut usize) -> CMap {
    let mut cm = CMap::default();
    let mut pos = 0;
    while let Some(r) = find(&c[pos..], b"beginbf") {
        let s = pos + r;
        let is_range = c[s..].starts_with(b"beginbfrange");
        let Some(e) = find(&c[s..], b"endbf").map(|x| s + x) else { break };
        pos = e + 5;
        let toks = hex_tokens(&c[s..e]);
        let step = if is_range { 3 } else { 2 };
        for t in toks.chunks(step) {
            if t.len() < step || t[0].is_empty() {
                continue;
            }
            cm.width = cm.width.max(t[0].len());
            if is_range {
                let (lo, hi) = (code_of(&t[0]), code_of(&t[1]));
                let mut dst = t[2].clone();
                for code in lo..=hi.min(lo.saturating_add(0xffff)) {
                    if *left == 0 {
                        break;
                    }
                    *left -= 1;
                    cm.map.insert(code, utf16_text(&dst));
                    if let Some(last) = dst.last_mut() {
                        *last = last.wrapping_add(1);
                    }
                }
            } else if *left > 0 {
                *left -= 1;
                cm.map.insert(code_of(&t[0]), utf16_text(&t[1]));
            }
            if *left == 0 {
                cm.width = cm.width.clamp(1, 4);
                return cm;
            }
        }
    }
    cm.width = cm.width.clamp(1, 4);
    cm
}

/// Font resource names (`/F1`) → their ToUnicode CMap: `/ToUnicode N 0 R` inside font
/// object M, and `/F1 M 0 R` in a resource dictionary. With a single CMap in the file and no
/// resolvable names, every font uses it.
fn pdf_fonts(data: &[u8], streams: &[(Option<u32>, Vec<u8>)]) -> std::collections::HashMap<Vec<u8>, std::rc::Rc<CMap>> {
    use std::collections::HashMap;
    use std::rc::Rc;
    let mut cmaps: HashMap<u32, Rc<CMap>> = HashMap::new();
    let mut lone: Option<Rc<CMap>> = None;
    let mut left = MAX_CMAP_ENTRIES;
    for (obj, c) in streams {
        if left > 0 && find(c, b"begincmap").is_some() {
            let cm = Rc::new(parse_cmap(c, &mut left));
            lone = if cmaps.is_empty() && lone.is_none() { Some(cm.clone()) } else { None };
            if let Some(o) = obj {
                cmaps.insert(*o, cm);
            }
        }
    }
    let mut fonts: HashMap<u32, Rc<CMap>> = HashMap::new();
    let mut pos = 0;
    while let Some(r) = find(&data[pos..], b"/ToUnicode") {
        let at = pos + r;
        pos = at + 10;
        let rest = std::str::from_utf8(&data[pos..(pos + 24).min(data.len())]).unwrap_or("");
        let Some(cm) = rest.split_whitespace().next().and_then(|n| n.parse::<u32>().ok()).and_then(|n| cmaps.get(&n)) else { continue };
        if let Some(font) = object_number_before(data, at) {
            fonts.insert(font, cm.clone());
        }
        if fonts.len() > 10_000 {
            break;
        }
    }
    let mut names: HashMap<Vec<u8>, Rc<CMap>> = HashMap::new();
    let mut i = 0;
    while i < data.len() && names.len() < 10_000 {
        let Some(r) = data[i..].iter().position(|b| *b == b'/') else { break };
        let s = i + r + 1;
        let e = s + data[s..].iter().take(64).take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'+').count();
        i = e.max(s);
        let rest = std::str::from_utf8(&data[e..(e + 24).min(data.len())]).unwrap_or("");
        let mut w = rest.split_whitespace();
        if let (Some(n), Some(_), Some(r)) = (w.next(), w.next(), w.next())
            && r.starts_with('R')
            && let Some(cm) = n.parse::<u32>().ok().and_then(|n| fonts.get(&n))
        {
            names.entry(data[s..e].to_vec()).or_insert_with(|| cm.clone());
        }
    }
    if names.is_empty()
        && let Some(cm) = lone
    {
        names.insert(Vec::new(), cm);
    }
    names
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    memchr_find(h, n)
}

fn memchr_find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn pdf_content_text(c: &[u8], fonts: &std::collections::HashMap<Vec<u8>, std::rc::Rc<CMap>>, out: &mut String, max_out: usize) {
    let mut i = 0usize;
    let mut pending = String::new();
    let mut last_nums: Vec<f64> = Vec::new();
    let mut last_name: Vec<u8> = Vec::new();
    // Without resolvable names, a file's only CMap applies to every font.
    let mut cmap: Option<&CMap> = fonts.get(&Vec::new()).map(|c| &**c);
    let decode = |cm: &CMap, bytes: &[u8], pending: &mut String| {
        for code in bytes.chunks(cm.width) {
            if let Some(t) = cm.map.get(&code_of(code)) {
                pending.push_str(t);
            }
        }
    };
    while i < c.len() && out.len() < max_out {
        match c[i] {
            b'(' => {
                let (s, ni) = pdf_literal(c, i + 1);
                match cmap {
                    Some(cm) => decode(cm, &s.chars().map(|ch| ch as u32 as u8).collect::<Vec<u8>>(), &mut pending),
                    None => pending.push_str(&s),
                }
                i = ni;
            }
            b'/' => {
                let s = i + 1;
                i = s + c[s..].iter().take(64).take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'+').count();
                last_name = c[s..i].to_vec();
            }
            b'<' if c.get(i + 1) != Some(&b'<') => {
                let e = c[i..].iter().position(|&b| b == b'>').map_or(c.len(), |p| i + p);
                let bytes = hex_bytes(&c[i + 1..e]);
                if let Some(cm) = cmap {
                    decode(cm, &bytes, &mut pending);
                } else if bytes.len() >= 2 && bytes[0] == 0xfe && bytes[1] == 0xff {
                    let (s, _) = encoding_rs::UTF_16BE.decode_without_bom_handling(&bytes[2..]);
                    pending.push_str(&s);
                } else if bytes.len().is_multiple_of(2) && bytes.chunks(2).all(|p| p[0] == 0) {
                    pending.extend(bytes.chunks(2).map(|p| p[1] as char));
                } else {
                    pending.extend(bytes.iter().filter(|b| b.is_ascii_graphic() || **b == b' ').map(|&b| b as char));
                }
                i = e + 1;
            }
            b'[' | b']' => i += 1,
            b'-' | b'.' | b'0'..=b'9' => {
                let s = i;
                i += 1;
                while i < c.len() && (c[i].is_ascii_digit() || c[i] == b'.') {
                    i += 1;
                }
                if let Some(v) = std::str::from_utf8(&c[s..i]).ok().and_then(|t| t.parse::<f64>().ok()) {
                    // Inside a TJ array a large negative kern is a word gap.
                    if v < -180.0 && !pending.is_empty() && !pending.ends_with(' ') {
                        pending.push(' ');
                    }
                    last_nums.push(v);
                    if last_nums.len() > 8 {
                        last_nums.remove(0);
                    }
                }
            }
            b if b.is_ascii_alphabetic() || b == b'\'' || b == b'"' || b == b'*' => {
                let s = i;
                i += 1;
                while i < c.len() && (c[i].is_ascii_alphabetic() || c[i] == b'*') {
                    i += 1;
                }
                match &c[s..i] {
                    b"Tj" | b"TJ" => {
                        out.push_str(&pending);
                        pending.clear();
                    }
                    b"'" | b"\"" => {
                        out.push('\n');
                        out.push_str(&pending);
                        pending.clear();
                    }
                    b"T*" | b"ET" => out.push('\n'),
                    b"Td" | b"TD" => {
                        let ty = last_nums.last().copied().unwrap_or(0.0);
                        if ty.abs() > 0.01 {
                            out.push('\n');
                        } else if !out.ends_with(' ') && !out.ends_with('\n') {
                            out.push(' ');
                        }
                    }
                    b"Tm" => out.push('\n'),
                    b"Tf" => {
                        if let Some(cm) = fonts.get(&last_name) {
                            cmap = Some(cm);
                        } else if !fonts.contains_key(&Vec::new()) {
                            cmap = None;
                        }
                    }
                    _ => {}
                }
                last_nums.clear();
                pending.clear();
            }
            _ => i += 1,
        }
    }
}

fn pdf_literal(c: &[u8], mut i: usize) -> (String, usize) {
    let mut s = Vec::new();
    let mut depth = 1;
    while i < c.len() {
        let b = c[i];
        match b {
            b'\\' => {
                i += 1;
                let Some(&n) = c.get(i) else { break };
                match n {
                    b'n' => s.push(b'\n'),
                    b'r' => s.push(b'\r'),
                    b't' => s.push(b'\t'),
                    b'0'..=b'7' => {
                        let st = i;
                        while i < c.len() && i - st < 3 && (b'0'..=b'7').contains(&c[i]) {
                            i += 1;
                        }
                        let v = std::str::from_utf8(&c[st..i]).ok().and_then(|o| u16::from_str_radix(o, 8).ok()).unwrap_or(0);
                        s.push((v & 0xff) as u8);
                        continue;
                    }
                    other => s.push(other),
                }
                i += 1;
            }
            b'(' => {
                depth += 1;
                s.push(b);
                i += 1;
            }
            b')' => {
                depth -= 1;
                i += 1;
                if depth == 0 {
                    break;
                }
                s.push(b);
            }
            _ => {
                s.push(b);
                i += 1;
            }
        }
        if s.len() > 1 << 20 {
            break;
        }
    }
    let text = match std::str::from_utf8(&s) {
        Ok(t) => t.to_string(),
        Err(_) => s.iter().map(|&b| b as char).collect(),
    };
    (text, i)
}

/// One decoded part of an e-mail message.
pub struct MailPart {
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Splits an e-mail message into its decoded leaf parts (text bodies and attachments),
/// recursing into multiparts up to `max_depth`, decoding base64 and quoted-printable.
pub fn mail_parts(msg: &[u8], max_depth: u32, max_parts: usize) -> Vec<MailPart> {
    let mut parts = Vec::new();
    mail_walk(msg, 0, max_depth, max_parts, &mut parts);
    parts
}

fn split_headers(msg: &[u8]) -> (&[u8], &[u8]) {
    if let Some(p) = find(msg, b"\r\n\r\n") {
        return (&msg[..p], &msg[p + 4..]);
    }
    if let Some(p) = find(msg, b"\n\n") {
        return (&msg[..p], &msg[p + 2..]);
    }
    (msg, &[])
}

fn header_value(headers: &str, name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    let lname = name.to_ascii_lowercase();
    for line in headers.lines() {
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.trim().to_ascii_lowercase() == lname
        {
            value = Some(v.trim().to_string());
        }
    }
    value
}

fn param(value: &str, name: &str) -> Option<String> {
    for p in value.split(';').skip(1) {
        let (k, v) = p.split_once('=')?;
        if k.trim().eq_ignore_ascii_case(name) {
            return Some(v.trim().trim_matches('"').to_string());
        }
    }
    None
}

fn mail_walk(msg: &[u8], depth: u32, max_depth: u32, max_parts: usize, out: &mut Vec<MailPart>) {
    if depth > max_depth || out.len() >= max_parts {
        return;
    }
    let (h, body) = split_headers(msg);
    let headers = String::from_utf8_lossy(h);
    let ctype = header_value(&headers, "Content-Type").unwrap_or_else(|| "text/plain".into());
    let lct = ctype.to_ascii_lowercase();
    if lct.starts_with("multipart/") {
        let Some(boundary) = param(&ctype, "boundary") else { return };
        let delim = format!("--{boundary}");
        let mut rest = body;
        let mut n = 0;
        while let Some(p) = find(rest, delim.as_bytes()) {
            n += 1;
            if n > max_parts {
                break;
            }
            rest = &rest[p + delim.len()..];
            if rest.starts_with(b"--") {
                break;
            }
            let end = find(rest, delim.as_bytes()).unwrap_or(rest.len());
            let part = rest[..end].strip_prefix(b"\r\n").or_else(|| rest[..end].strip_prefix(b"\n")).unwrap_or(&rest[..end]);
            mail_walk(part, depth + 1, max_depth, max_parts, out);
        }
        return;
    }
    let cte = header_value(&headers, "Content-Transfer-Encoding").unwrap_or_default().to_ascii_lowercase();
    let data = match cte.as_str() {
        "base64" => {
            let clean: Vec<u8> = body.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(&clean)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(clean.strip_suffix(b"=").unwrap_or(&clean)))
                .unwrap_or_default()
        }
        "quoted-printable" => qp_decode(body),
        _ => body.to_vec(),
    };
    let disp = header_value(&headers, "Content-Disposition").unwrap_or_default();
    let name = param(&disp, "filename").or_else(|| param(&ctype, "name")).unwrap_or_else(|| format!("part{}", out.len() + 1));
    if lct.starts_with("message/rfc822") {
        mail_walk(&data, depth + 1, max_depth, max_parts, out);
        return;
    }
    out.push(MailPart { name, content_type: lct, data });
}

/// Quoted-printable decoding (soft line breaks, `=HH`).
pub fn qp_decode(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            if b.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if let Some(v) = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtf_table_and_unicode() {
        let rtf = br"{\rtf1\ansi{\fonttbl{\f0 Arial;}}\trowd \cell host\cell password\cell\row 10.0.0.1\cell R00t!pw9\cell\row \u23494?\u30721?: abc\par}";
        let t = rtf_text(rtf, 1 << 20);
        assert!(t.contains("host\tpassword"), "{t:?}");
        assert!(t.contains("10.0.0.1\tR00t!pw9"));
        assert!(t.contains("密码"));
    }

    /// Office suites embed subset fonts whose glyph codes mean nothing without the font's
    /// `/ToUnicode` CMap (bfchar and bfrange entries), found through `/F1 → font → CMap`.
    #[test]
    fn pdf_text_through_tounicode_cmaps() {
        let pdf = b"%PDF-1.4\n1 0 obj\n<< /Length 99 >>\nstream\n/CIDInit/ProcSet findresource begin\nbegincmap\n\
            3 beginbfchar\n<01> <0070>\n<02> <0077>\n<03> <003D>\nendbfchar\n1 beginbfrange\n<10> <19> <0030>\nendbfrange\n\
            1 beginbfchar\n<20> <0058>\nendbfchar\nendcmap\nendstream\nendobj\n\
            2 0 obj\n<</Type/Font/Subtype/TrueType/ToUnicode 1 0 R>>\nendobj\n3 0 obj\n<</F1 2 0 R>>\nendobj\n\
            4 0 obj\n<< /Length 50 >>\nstream\nBT /F1 12 Tf [<010203>-20<201112>1<1314>] TJ ET\nendstream\nendobj\n%%EOF";
        let t = pdf_text(pdf, 1 << 20, 1 << 20);
        assert!(t.contains("pw=X1234"), "{t:?}");
        // A hostile CMap (huge range, junk hex) stays bounded and does not panic.
        let evil = b"%PDF-1.4\n1 0 obj\n<<>>\nstream\nbegincmap 1 beginbfrange <00> <FFFFFFFF> <00>\nendbfrange <zz> beginbfchar <>\nendstream\nendobj\n2 0 obj\n<</ToUnicode 1 0 R>>\nendobj\n/F9 2 0 R stream\nBT /F9 1 Tf <0000> Tj ET\nendstream";
        let _ = pdf_text(evil, 1 << 20, 1 << 20);
    }

    #[test]
    fn pdf_text_from_flate_stream() {
        use std::io::Write;
        let content = b"BT /F1 12 Tf 72 700 Td (password = Pdf#Secret9) Tj 0 -14 Td [(user) -250 (admin)] TJ ET";
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(content).unwrap();
        let comp = z.finish().unwrap();
        let mut pdf = b"%PDF-1.4\n1 0 obj << /Length 10 /Filter /FlateDecode >>\nstream\n".to_vec();
        pdf.extend_from_slice(&comp);
        pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF");
        let t = pdf_text(&pdf, 1 << 20, 1 << 20);
        assert!(t.contains("password = Pdf#Secret9"), "{t:?}");
        assert!(t.contains("user admin"));
    }

    #[test]
    fn mail_base64_part() {
        let msg = b"From: a@b\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\ncGFzc3dvcmQ9U2VjcmV0MTIzIQ==\r\n--XX--\r\n";
        let parts = mail_parts(msg, 5, 100);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].data, b"password=Secret123!");
        assert_eq!(qp_decode(b"a=3Db=\r\nc"), b"a=bc");
    }
}
