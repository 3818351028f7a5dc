//! Rapid7 Recog fingerprints (BSD-2): XML databases of regular expressions over banners,
//! HTTP `Server` headers, HTML titles and certificate names, each yielding vendor / product /
//! version / CPE parameters.
//!
//! Recog's patterns are Ruby regular expressions. They are translated to the `regex` crate's
//! syntax (`\A`, `\Z`, `\h`, Ruby's always-multiline `^`/`$`, `REG_*` flags); patterns using
//! what `regex` cannot do (look-around, back-references) are counted as skipped. Databases are
//! parsed at load and each database's patterns are compiled on first use.

use quick_xml::events::Event;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::OnceLock;

/// The databases shipped inside the binary (copied from Recog with its LICENSE).
pub const BUNDLED: &[(&str, &str)] = &[
    ("ssh_banners.xml", include_str!("../data/recog/ssh_banners.xml")),
    ("http_servers.xml", include_str!("../data/recog/http_servers.xml")),
    ("html_title.xml", include_str!("../data/recog/html_title.xml")),
    ("ftp_banners.xml", include_str!("../data/recog/ftp_banners.xml")),
    ("smtp_banners.xml", include_str!("../data/recog/smtp_banners.xml")),
    ("pop_banners.xml", include_str!("../data/recog/pop_banners.xml")),
    ("imap_banners.xml", include_str!("../data/recog/imap_banners.xml")),
    ("mysql_banners.xml", include_str!("../data/recog/mysql_banners.xml")),
    ("http_xpoweredby.xml", include_str!("../data/recog/http_xpoweredby.xml")),
    ("x509_subjects.xml", include_str!("../data/recog/x509_subjects.xml")),
    ("x509_issuers.xml", include_str!("../data/recog/x509_issuers.xml")),
];

/// Inputs longer than this are cut before matching (banners are short; this bounds work).
const MAX_INPUT: usize = 8192;
const MAX_FINGERPRINTS: usize = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum RecogError {
    #[error("{file}: XML error: {reason}")]
    Xml { file: String, reason: String },
    #[error("{file}: {source}")]
    Io { file: String, source: std::io::Error },
    #[error("{file}: no <fingerprints matches=...> root")]
    NoRoot { file: String },
}

/// One `<example>`: the text and the parameters it must produce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Example {
    pub text: String,
    pub expect: BTreeMap<String, String>,
    /// Base64 or other encodings are kept raw and flagged.
    pub encoded: bool,
}

/// One `<param>`: position 0 is a fixed value, N > 0 is capture group N.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub pos: usize,
    pub name: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Fingerprint {
    pub pattern: String,
    pub flags: String,
    pub description: String,
    pub examples: Vec<Example>,
    pub params: Vec<Param>,
}

/// One XML file: the key it matches (`ssh.banner`, `http_header.server`, …) and its entries.
#[derive(Debug, Default)]
pub struct Database {
    pub file: String,
    pub matches: String,
    pub fingerprints: Vec<Fingerprint>,
    /// Each pattern compiled on first use: a match stops at the first fingerprint that fits,
    /// so the ones after it are never compiled (compiling them all costs more than a scan).
    compiled: OnceLock<Vec<OnceLock<Option<regex::Regex>>>>,
}

/// A successful match: the fingerprint's description and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecogMatch {
    pub description: String,
    pub params: BTreeMap<String, String>,
}

impl RecogMatch {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.params.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// Translates a Ruby pattern with Recog flags into `regex` syntax.
pub fn translate(pattern: &str, flags: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    // Ruby's ^ and $ are always line anchors.
    out.push_str("(?m");
    if flags.contains("REG_ICASE") {
        out.push('i');
    }
    if flags.contains("REG_DOT_NEWLINE") || flags.contains("REG_MULTILINE") {
        out.push('s');
    }
    out.push(')');
    let mut chars = pattern.chars().peekable();
    // Inside a bracket class (depth of nesting): shorthand classes are spelt as ranges there.
    let mut class_depth = 0usize;
    while let Some(c) = chars.next() {
        if c != '\\' {
            match c {
                '[' => class_depth = class_depth.saturating_add(1),
                ']' => class_depth = class_depth.saturating_sub(1),
                _ => {}
            }
            out.push(c);
            continue;
        }
        // Ruby's \w, \d, \s are ASCII-only; the `regex` crate's are Unicode, which is both
        // wider and far slower to compile (hundreds of ranges per class, per pattern).
        let ascii = |o: char| match o {
            'w' => Some(("0-9A-Za-z_", false)),
            'W' => Some(("0-9A-Za-z_", true)),
            'd' => Some(("0-9", false)),
            'D' => Some(("0-9", true)),
            's' => Some((r"\t\n\x0B\x0C\r ", false)),
            'S' => Some((r"\t\n\x0B\x0C\r ", true)),
            _ => None,
        };
        if let Some(&o) = chars.peek()
            && let Some((ranges, negated)) = ascii(o)
            && (class_depth == 0 || !negated)
        {
            chars.next();
            if class_depth > 0 {
                out.push_str(ranges);
            } else {
                out.push_str(if negated { "[^" } else { "[" });
                out.push_str(ranges);
                out.push(']');
            }
            continue;
        }
        match chars.next() {
            Some('A') => out.push_str(r"\A"),
            Some('Z') => out.push_str(r"(?:\n?\z)"),
            Some('z') => out.push_str(r"\z"),
            Some('h') => out.push_str("[0-9a-fA-F]"),
            Some('H') => out.push_str("[^0-9a-fA-F]"),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push_str(r"\\"),
        }
    }
    out
}

fn compile(fp: &Fingerprint) -> Option<regex::Regex> {
    regex::RegexBuilder::new(&translate(&fp.pattern, &fp.flags)).size_limit(1 << 22).dfa_size_limit(1 << 22).build().ok()
}

impl Database {
    /// Parses one Recog XML file.
    pub fn parse(file: &str, xml: &str) -> Result<Database, RecogError> {
        let mut r = quick_xml::Reader::from_str(xml);
        let mut db = Database { file: file.to_string(), ..Default::default() };
        let mut cur: Option<Fingerprint> = None;
        let mut in_desc = false;
        let mut in_example: Option<Example> = None;
        let xml_err = |e: String| RecogError::Xml { file: file.to_string(), reason: e };
        let decoder = r.decoder();
        let attrs = |e: &quick_xml::events::BytesStart<'_>| -> HashMap<String, String> {
            e.attributes()
                .filter_map(Result::ok)
                .filter_map(|a| {
                    let k = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                    let v = a.decode_and_unescape_value(decoder).ok()?.into_owned();
                    Some((k, v))
                })
                .collect()
        };
        loop {
            let ev = r.read_event().map_err(|e| xml_err(e.to_string()))?;
            match ev {
                Event::Eof => break,
                Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"fingerprints" => {
                    db.matches = attrs(&e).remove("matches").unwrap_or_default();
                }
                Event::Start(e) if e.name().as_ref() == b"fingerprint" => {
                    let mut a = attrs(&e);
                    cur = Some(Fingerprint {
                        pattern: a.remove("pattern").unwrap_or_default(),
                        flags: a.remove("flags").unwrap_or_default(),
                        ..Default::default()
                    });
                }
                Event::End(e) if e.name().as_ref() == b"fingerprint" => {
                    if let Some(fp) = cur.take()
                        && db.fingerprints.len() < MAX_FINGERPRINTS
                    {
                        db.fingerprints.push(fp);
                    }
                }
                Event::Start(e) if e.name().as_ref() == b"description" => in_desc = true,
                Event::End(e) if e.name().as_ref() == b"description" => in_desc = false,
                Event::Start(e) if e.name().as_ref() == b"example" => {
                    let a = attrs(&e);
                    let encoded = a.contains_key("_encoding");
                    let expect = a.into_iter().filter(|(k, _)| !k.starts_with('_')).collect();
                    in_example = Some(Example { text: String::new(), expect, encoded });
                }
                Event::End(e) if e.name().as_ref() == b"example" => {
                    if let (Some(ex), Some(fp)) = (in_example.take(), cur.as_mut()) {
                        fp.examples.push(ex);
                    }
                }
                Event::Empty(e) if e.name().as_ref() == b"param" => {
                    let mut a = attrs(&e);
                    if let Some(fp) = cur.as_mut() {
                        fp.params.push(Param {
                            pos: a.get("pos").and_then(|p| p.parse().ok()).unwrap_or(0),
                            name: a.remove("name").unwrap_or_default(),
                            value: a.remove("value"),
                        });
                    }
                }
                Event::Text(t) => {
                    let text = t.unescape().map_err(|e| xml_err(e.to_string()))?;
                    if let Some(ex) = in_example.as_mut() {
                        ex.text.push_str(&text);
                    } else if in_desc && let Some(fp) = cur.as_mut() {
                        fp.description.push_str(text.trim());
                    }
                }
                Event::CData(t) => {
                    if let Some(ex) = in_example.as_mut() {
                        ex.text.push_str(&String::from_utf8_lossy(&t));
                    }
                }
                _ => {}
            }
        }
        if db.matches.is_empty() {
            return Err(RecogError::NoRoot { file: file.to_string() });
        }
        Ok(db)
    }

    fn regex(&self, i: usize) -> Option<&regex::Regex> {
        let slots = self.compiled.get_or_init(|| self.fingerprints.iter().map(|_| OnceLock::new()).collect());
        slots.get(i)?.get_or_init(|| self.fingerprints.get(i).and_then(compile)).as_ref()
    }

    /// Patterns that could not be translated (look-around, back-references).
    pub fn skipped(&self) -> usize {
        (0..self.fingerprints.len()).filter(|i| self.regex(*i).is_none()).count()
    }

    /// The first fingerprint matching `input`, with its parameters filled in.
    pub fn match_text(&self, input: &str) -> Option<RecogMatch> {
        let input = match input.char_indices().nth(MAX_INPUT) {
            Some((i, _)) => &input[..i],
            None => input,
        };
        (0..self.fingerprints.len()).find_map(|i| self.match_index(i, input))
    }

    /// Matches `input` against fingerprint `i` only (Recog's `<example>` checks use this).
    pub fn match_index(&self, i: usize, input: &str) -> Option<RecogMatch> {
        let input = match input.char_indices().nth(MAX_INPUT) {
            Some((i, _)) => &input[..i],
            None => input,
        };
        {
            let fp = self.fingerprints.get(i)?;
            let re = self.regex(i)?;
            let caps = re.captures(input)?;
            let mut params = BTreeMap::new();
            for p in &fp.params {
                let v = if p.pos == 0 {
                    p.value.clone().unwrap_or_default()
                } else {
                    caps.get(p.pos).map(|m| m.as_str().to_string()).unwrap_or_default()
                };
                params.insert(p.name.clone(), v);
            }
            // `{service.version}` templates in values (CPEs mostly).
            let snapshot = params.clone();
            for v in params.values_mut() {
                if v.contains('{') {
                    for (k, val) in &snapshot {
                        if !val.contains('{') {
                            *v = v.replace(&format!("{{{k}}}"), val);
                        }
                    }
                }
            }
            Some(RecogMatch { description: fp.description.clone(), params })
        }
    }

    /// Whether fingerprint `i` compiled.
    pub fn compiled(&self, i: usize) -> bool {
        self.regex(i).is_some()
    }
}

/// All loaded databases, by their `matches` key.
#[derive(Debug, Default)]
pub struct Recog {
    pub dbs: Vec<Database>,
}

impl Recog {
    /// The databases compiled into the binary.
    pub fn bundled() -> Recog {
        let dbs = BUNDLED.iter().filter_map(|(f, x)| Database::parse(f, x).ok()).collect();
        Recog { dbs }
    }

    /// Every `*.xml` Recog database in a directory (other files are ignored).
    pub fn load_dir(dir: &Path) -> Result<Recog, RecogError> {
        let io = |e| RecogError::Io { file: dir.display().to_string(), source: e };
        let mut files: Vec<_> = std::fs::read_dir(dir).map_err(io)?.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        let mut dbs = Vec::new();
        for f in files.into_iter().filter(|f| f.extension().is_some_and(|e| e == "xml")).take(1000) {
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let text = std::fs::read_to_string(&f).map_err(|e| RecogError::Io { file: f.display().to_string(), source: e })?;
            match Database::parse(&name, &text) {
                Ok(db) => dbs.push(db),
                // The schema file and other non-fingerprint XML.
                Err(RecogError::NoRoot { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Recog { dbs })
    }

    /// Matches `input` against the databases for `key` (e.g. `ssh.banner`).
    pub fn match_key(&self, key: &str, input: &str) -> Option<RecogMatch> {
        self.dbs.iter().filter(|d| d.matches == key).find_map(|d| d.match_text(input))
    }

    pub fn fingerprint_count(&self) -> usize {
        self.dbs.iter().map(|d| d.fingerprints.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_syntax_is_translated() {
        assert_eq!(translate(r"^foo\Z", "REG_ICASE"), r"(?mi)^foo(?:\n?\z)");
        assert!(regex::Regex::new(&translate(r"^\h{4}$", "")).unwrap().is_match("beef"));
        // Ruby's shorthand classes are ASCII, outside and inside brackets.
        let re = regex::Regex::new(&translate(r"^(\w+)[\w.-]*\s(\d+)\S*$", "")).unwrap();
        assert_eq!(re.captures("srv_1.a-b 42x").map(|c| (c[1].to_string(), c[2].to_string())), Some(("srv_1".into(), "42".into())));
        assert!(!re.is_match("été 42"), "non-ASCII letters are not \\w in Ruby");
        assert!(!re.is_match("a ٤٢"), "nor are Arabic-Indic digits \\d");
        assert_eq!(translate(r"[^\W\]]\D", ""), r"(?m)[^\W\]][^0-9]");
    }

    #[test]
    fn bundled_openssh_debian_banner() {
        let r = Recog::bundled();
        let m = r.match_key("ssh.banner", "OpenSSH_9.2p1 Debian-2+deb12u3").expect("match");
        assert_eq!(m.get("service.product"), Some("OpenSSH"));
        assert_eq!(m.get("service.version"), Some("9.2p1"));
    }
}
