//! Secrets written next to a keyword: `password=…`, `"db_pass": "…"`, `PW:…`, `密码：…`,
//! `aws_secret_access_key = …`, and passwords on command lines (`mysql -p…`, `sshpass -p`,
//! `curl -u user:pass`, `net user NAME PASS`, …) as left in shell histories and scripts.

use crate::hit::{Category, Hit};
use crate::secret;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;
use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    /// User-chosen passwords: short values with any characters are fine.
    Password,
    /// Machine secrets: must look random.
    Secret,
    /// `…key`: only with an identifier that says what key, and a random value.
    Key,
}

/// (keyword, class, needs a non-lowercase character before it, is CJK/Korean)
const KEYWORDS: &[(&str, Class, bool)] = &[
    ("password", Class::Password, false),
    ("passwort", Class::Password, false),
    ("passwd", Class::Password, false),
    ("passphrase", Class::Password, false),
    ("paasword", Class::Password, false),
    ("passworsd", Class::Password, false),
    ("pasword", Class::Password, false),
    ("passwrd", Class::Password, false),
    ("pssword", Class::Password, false),
    ("psword", Class::Password, false),
    ("psswrd", Class::Password, false),
    ("pswrd", Class::Password, false),
    ("paswrd", Class::Password, false),
    ("paswd", Class::Password, false),
    ("psswd", Class::Password, false),
    ("pswd", Class::Password, false),
    ("pass", Class::Password, true),
    ("pwd", Class::Password, true),
    ("pw", Class::Password, true),
    ("contraseña", Class::Password, false),
    ("mot_de_passe", Class::Password, false),
    ("密码", Class::Password, false),
    ("密碼", Class::Password, false),
    ("口令", Class::Password, false),
    ("비밀번호", Class::Password, false),
    ("비번", Class::Password, false),
    ("암호", Class::Password, false),
    ("패스워드", Class::Password, false),
    ("パスワード", Class::Password, false),
    ("secret", Class::Secret, false),
    ("token", Class::Secret, false),
    ("credential", Class::Secret, false),
    ("credentials", Class::Secret, false),
    ("apikey", Class::Secret, false),
    ("api_key", Class::Secret, false),
    ("api-key", Class::Secret, false),
    ("auth", Class::Secret, true),
    ("bearer", Class::Secret, false),
    ("pat", Class::Secret, true),
    ("sk", Class::Secret, true),
    ("key", Class::Key, false),
    ("秘钥", Class::Secret, false),
    ("密钥", Class::Secret, false),
];

/// English words ending in `pass` (`BYPASS`, `COMPASS`): in all-caps names they are not the
/// `…PASS` (password) suffix of `MYSQLPASS`.
const PASS_WORDS: &[&str] = &[
    "bypass",
    "compass",
    "surpass",
    "overpass",
    "underpass",
    "encompass",
    "trespass",
    "multipass",
    "onepass",
    "twopass",
    "singlepass",
    "firstpass",
    "secondpass",
    "nopass",
    "highpass",
    "lowpass",
    "bandpass",
    "allpass",
];

/// Numeric literals of code: `2i32`, `0x10u8`, `1_000`, `3.5f64`, `12UL`.
fn is_numeric_literal(v: &str) -> bool {
    let t = v.trim_start_matches('-').replace('_', "");
    let lower = t.to_ascii_lowercase();
    let body =
        ["i128", "u128", "isize", "usize", "i64", "u64", "i32", "u32", "i16", "u16", "i8", "u8", "f32", "f64", "ul", "ll", "u", "l", "f"]
            .iter()
            .find_map(|suf| lower.strip_suffix(suf).filter(|b| !b.is_empty() && b.starts_with(|c: char| c.is_ascii_digit())))
            .unwrap_or(&lower);
    if let Some(h) = body.strip_prefix("0x") {
        return !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0o")) {
        return !b.is_empty() && b.chars().all(|c| c.is_ascii_digit());
    }
    body.starts_with(|c: char| c.is_ascii_digit()) && body.parse::<f64>().is_ok()
}

fn matcher() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        #[allow(clippy::expect_used)]
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(KEYWORDS.iter().map(|k| k.0))
            .expect("keyword automaton builds")
    })
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// How far around a match the per-match checks look on one line.
const NEAR: usize = 512;

/// Start of the stretch of at most `NEAR` bytes before `at` on its line (a char boundary).
fn near_before(text: &str, line_start: usize, at: usize) -> usize {
    let mut p = at.saturating_sub(NEAR).max(line_start);
    while p < at && !text.is_char_boundary(p) {
        p += 1;
    }
    p
}

/// End of the stretch of at most `NEAR` bytes after `at` on its line (a char boundary).
fn near_after(text: &str, at: usize, line_end: usize) -> usize {
    let mut p = at.saturating_add(NEAR).min(line_end);
    while p > at && !text.is_char_boundary(p) {
        p -= 1;
    }
    p
}

/// The separator between a keyword and its value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sep {
    Assign,
    Colon,
    Compare,
    Space,
    Prose,
    /// `put("api_key", "…")`, `'API_KEY' , '"…"'`: a quoted name and a quoted value as
    /// arguments of a call.
    Arg,
}

/// Identifier words around a `key` keyword that make it a credential key, not a map key.
fn key_identifier_ok(ident: &str) -> bool {
    let l = ident.to_ascii_lowercase();
    const GOOD: &[&str] = &[
        "api",
        "secret",
        "access",
        "private",
        "license",
        "account",
        "master",
        "auth",
        "client",
        "app",
        "signing",
        "encryption",
        "sk",
        "ak",
        "x-api",
        "subscription",
        "service",
        "server",
        "shared",
        "admin",
        "consumer",
        "io_",
        "dev",
        "developer",
        "stripe",
        "fb",
        "facebook",
        "mapbox",
        "sendgrid",
        "storage",
    ];
    let base = l.trim_end_matches(['s']).trim_end_matches("key").trim_end_matches(['_', '-', '.', ' ']);
    !base.is_empty() && GOOD.iter().any(|g| base.ends_with(g) || base.contains(&format!("{g}_")) || base.contains(g))
}

/// Scans `text` for keyword-assigned secrets.
pub fn scan_keywords(text: &str, out: &mut Vec<Hit>) {
    let bytes = text.as_bytes();
    for m in matcher().find_iter(text) {
        let (kw, class, needs_boundary) = KEYWORDS[m.pattern().as_usize()];
        let (s, e) = (m.start(), m.end());
        let ascii_kw = kw.is_ascii();
        // Left: the identifier the keyword ends.
        let line_start = text[..s].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[e..].find('\n').map_or(text.len(), |i| e + i);
        let before = &text[line_start..s];
        let prev = before.chars().next_back();
        // Short keywords (`pass`, `pw`, `sk`, `auth`) must start a word: `MASK`, `bypass`,
        // `ONEPASS` are not keywords; `dbPass` (camelCase) and `DB_PASS` are.
        if ascii_kw && needs_boundary {
            let first_upper = text[s..].starts_with(|c: char| c.is_ascii_uppercase());
            let camel = prev.is_some_and(|c| c.is_ascii_lowercase()) && first_upper;
            // `MYSQLPASS`, `DBPWD`: an all-caps name ending in the keyword.
            let caps = matches!(kw, "pass" | "pwd" | "pw")
                && prev.is_some_and(|c| c.is_ascii_uppercase())
                && text[s..e].chars().all(|c| c.is_ascii_uppercase())
                && !PASS_WORDS.iter().any(|w| {
                    // Compare only the bytes before the keyword (no copy of the text).
                    let tail = text.as_bytes().get(e.saturating_sub(w.len())..e).unwrap_or(&[]);
                    tail.eq_ignore_ascii_case(w.as_bytes())
                });
            if prev.is_some_and(|c| c.is_ascii_alphanumeric()) && !camel && !caps {
                continue;
            }
        }
        // `pat` alone is a pattern in most code; only `ado_pat`, `GITHUB-PAT`-style names count.
        if kw == "pat" && !matches!(prev, Some('_') | Some('-')) {
            continue;
        }
        // A command-line flag: `--password X`, `-pw X` (dashes at the start of a word).
        let dashes = before.len() - before.trim_end_matches('-').len();
        let flag =
            dashes > 0 && before[..before.len() - dashes].chars().next_back().is_none_or(|c| c.is_whitespace() || c == '"' || c == '\'');
        let ident_start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_ident(*c) || *c == '-' || *c == '.')
            .last()
            .map_or(s, |(i, _)| line_start + i);
        // Right: the keyword must end the identifier (a plural `s` or digits may follow).
        let mut i = e;
        if ascii_kw {
            while i < line_end && (bytes[i] == b's' || bytes[i] == b'S' || bytes[i].is_ascii_digit()) && i - e < 3 {
                i += 1;
            }
            // `token_value`, `passwordValue`: the value of the secret, still the secret.
            for suffix in ["_value", "value", "_val", "_str"] {
                if text.get(i..i + suffix.len()).is_some_and(|t| t.eq_ignore_ascii_case(suffix))
                    && i + suffix.len() <= line_end
                    && !text.get(i + suffix.len()..line_end).unwrap_or("").starts_with(|c: char| is_ident(c))
                {
                    i += suffix.len();
                    break;
                }
            }
            if i < line_end && (is_ident(bytes[i] as char)) {
                continue;
            }
            if i + 1 < line_end && (bytes[i] == b'.' || bytes[i] == b'-') && (bytes[i + 1] as char).is_ascii_alphabetic() {
                continue;
            }
        }
        // Prose names of keys: `Secret Key:`, `Activation key =`, `access key:` (one space
        // between the words; the keyword alone says nothing).
        let mut ident_start = ident_start;
        if class == Class::Key
            && ident_start == s
            && let Some(w) = text[line_start..s].strip_suffix(' ')
        {
            let word = w.bytes().rev().take_while(|c| c.is_ascii_alphabetic()).count();
            if word >= 3 {
                ident_start = s - 1 - word;
            }
        }
        let ident = &text[ident_start..i];
        if class == Class::Key && !key_identifier_ok(ident) {
            continue;
        }
        // Identifier prefixes that name something other than a secret.
        let il = ident.to_ascii_lowercase();
        // uuencoded lines look like anything.
        let line = &text[line_start..line_end];
        // (Per-match work on the line stays bounded: long minified lines hold many matches.)
        let uuencoded = line.len() == 61
            && line.starts_with('M')
            && !line.chars().any(|c| c.is_ascii_lowercase())
            && line.chars().filter(|c| "!\"#$%&'()*+,-./:<>?@[\\]^`".contains(*c)).count() >= 8;
        if uuencoded {
            continue;
        }
        // XML element: <password>value</password>
        let closing = format!("</{}", &text[s..i]);
        let attrs_end = if prev == Some('<')
            && text[i..line_end].starts_with([' ', '>'])
            && text[i..near_after(text, i, line_end)].contains(&closing)
        {
            text[i..line_end].find('>').map(|p| i + p)
        } else {
            None
        };
        if let Some(gt) = attrs_end {
            let vs = gt + 1;
            let ve = text[vs..line_end].find('<').map_or(line_end, |p| vs + p);
            let v = text[vs..ve].trim();
            if class == Class::Password && secret::plausible_password(v, false) && !secret::is_code_fragment(v) {
                out.push(Hit::new("password_assignment", Category::Password, 0.75, v, vs, ve));
            } else if class != Class::Password && secret::plausible_token(v) {
                out.push(Hit::new("secret_assignment", Category::GenericSecret, 0.55, v, vs, ve));
            }
            continue;
        }
        if il.contains("encrypted") || il.contains("sealed") {
            continue;
        }
        if il.contains("public")
            || il.contains("_id") && class != Class::Password
            || il.ends_with("tokens")
            || il.contains("csrf")
            || il.contains("xsrf")
            || il.starts_with("no_")
            || il.contains("format")
            || il.contains("length")
            || il.contains("policy")
            || il.contains("hash") && class != Class::Password
        {
            continue;
        }
        // `password for root: x`, `password for admin@db1: x` — the account between keyword
        // and colon.
        let mut sep_from = i;
        let mut named_account = None;
        if class == Class::Password
            && let Some(rest) = text.get(i..line_end).and_then(|r| r.strip_prefix(" for "))
        {
            let tok = rest.find(|c: char| c.is_whitespace() || c == ':' || c == '：').unwrap_or(rest.len());
            if (1..=64).contains(&tok) && rest[tok..].starts_with([':', '：']) {
                named_account = Some(&rest[..tok]);
                sep_from = i + 5 + tok;
            }
        }
        let Some((sep, vstart)) = parse_separator(text, sep_from, line_end, ascii_kw) else { continue };
        let Some((mut value, mut quoted, mut vs, mut ve)) = parse_value(text, vstart, line_end) else { continue };
        // Typed declarations: `val password: String = "…"`, `passwd: str = "…"`; a type with
        // no literal after it is a declaration, not a secret.
        let mut typed = false;
        // (`&str`, `&'static str` are types too.)
        if sep == Sep::Colon
            && !quoted
            && value
                .trim_start_matches('&')
                .trim_start_matches("'static")
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '<' || c == '>')
        {
            typed = true;
            let after = text[ve..line_end].trim_start();
            if let Some(rest) = after.strip_prefix('=').filter(|r| !r.starts_with('=')) {
                let start = line_end - rest.len();
                let start = start + (rest.len() - rest.trim_start().len());
                if let Some((v2, q2, s2, e2)) = parse_value(text, start, line_end) {
                    (value, quoted, vs, ve) = (v2, q2, s2, e2);
                }
            } else if (after.starts_with([';', ',', ')', '|'])
                && value.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && value.chars().all(|c| c.is_ascii_alphabetic() || c == '_'))
                || (after.starts_with('<') && value.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
            {
                // `kCFStreamPropertySOCKSPassword: CFStringRef;`, `|credential: AzureCredential|`:
                // a declaration with a type and no value.
                continue;
            }
        }
        // Literals of code, not secrets: numbers (`= 2i32`) and arrays (`= [0x01; 32]`).
        if !quoted && (typed && is_numeric_literal(value) || value.starts_with(['[', '{', '('])) {
            continue;
        }
        // A bare identifier in a line of code (`p->pass = bOnerow ? A : B;`) is a reference.
        if !quoted
            && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !value.chars().any(|c| c.is_ascii_digit())
            && (text[near_before(text, line_start, vs)..vs].contains("->") || text[ve..line_end].trim_start().starts_with('?'))
        {
            continue;
        }
        // URL query parameters take `=`: `/channel?passwd HTTP/1.1` is no assignment.
        if matches!(before.chars().next_back(), Some('?') | Some('&')) && sep != Sep::Assign {
            continue;
        }
        // CORS and fetch flags (`Access-Control-Allow-Credentials: true`, `withCredentials`).
        if il.contains("allow-credentials") || il.contains("allow_credentials") || il.contains("withcredentials") {
            continue;
        }
        // Coverage badges carry a public graph token (`badge.svg?token=…`).
        if text[line_start..vs].ends_with("badge.svg?token=") {
            continue;
        }
        // AWS SigV4 `Credential=AKID/date/region/service/aws4_request` is a scope, not a secret.
        if value.contains("aws4_request") {
            continue;
        }
        // What follows a bare value tells code from data: `Dkim2Output {`, `Option<…>`, `f(…)`,
        // a dotted chain naming the keyword again (`node.colon2_token`), `#ident`.
        let next = text[ve..line_end].trim_start().chars().next();
        if !quoted
            && (matches!(next, Some('{') | Some('('))
                || next == Some('<') && value.chars().all(|c| c.is_ascii_alphabetic())
                || value.starts_with('#') && value[1..].chars().all(|c| c.is_ascii_alphabetic() || c == '_')
                || value.contains('.') && value.to_ascii_lowercase().contains(&kw.to_ascii_lowercase()))
        {
            continue;
        }
        if !quoted
            && (secret::is_type_name(value)
                || secret::is_snake_identifier(value)
                    && (typed || class != Class::Password || sep == Sep::Colon || !value.chars().any(|c| c.is_ascii_lowercase())))
        {
            continue;
        }
        // Numbers: constants in code (`PW: u32 = 1109422304`, `SPF_PASS=-0.001`).
        if !quoted && (typed || value.starts_with('-')) && value.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-') {
            continue;
        }
        // `p->token = q->token`: C member access, not an arrow separator.
        let near = near_before(text, line_start, vs);
        let member_access = text[near..vs]
            .match_indices("->")
            .any(|(p, _)| text[near + p + 2..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'));
        if member_access && !quoted && class != Class::Password {
            continue;
        }
        // Whitespace after a short keyword is prose ("pass the test", "Pass Interference")
        // unless the keyword is a command-line flag.
        if matches!(sep, Sep::Space) && needs_boundary && !flag {
            continue;
        }
        // Backticks after a space are markdown code spans, not string literals.
        if matches!(sep, Sep::Space | Sep::Prose) && text.get(..vs).is_some_and(|b| b.ends_with('`')) {
            continue;
        }
        // `{"api-key", "next-key": …}`: a quoted word followed by `:` is the next key.
        if sep == Sep::Arg && text[ve..line_end].trim_start_matches(['"', '\'']).trim_start().starts_with(':') {
            continue;
        }
        if !accept(class, sep, value, quoted, ident) {
            continue;
        }
        // AWS secret access keys are exactly 40 base64 characters; anything else under that
        // name is a different value (a hex digest, a truncated paste).
        if (il.contains("secret_access_key") || il.contains("secretaccesskey")) && value.len() != 40 {
            continue;
        }
        let (detector, cat, conf) = match class {
            Class::Password => {
                let mut c: f64 = match sep {
                    Sep::Assign | Sep::Colon => 0.75,
                    Sep::Compare | Sep::Arg => 0.6,
                    Sep::Space | Sep::Prose => 0.55,
                };
                if secret::class_count(value) >= 3 {
                    c += 0.1;
                }
                if quoted {
                    c += 0.05;
                }
                ("password_assignment", Category::Password, c)
            }
            Class::Secret | Class::Key => {
                let e = secret::entropy(value);
                let mut c = 0.45 + ((e - 3.0) / 4.0).clamp(0.0, 0.35);
                // Kilobyte-long values under a secret-ish key are ciphertexts and certificates
                // far more often than secrets.
                if value.len() > 256 {
                    c = 0.35;
                }
                let cat = if il.contains("aws")
                    || il.contains("azure")
                    || il.contains("aliyun")
                    || il.contains("alibaba")
                    || il.contains("tencent")
                    || il.contains("huawei")
                    || il.contains("hwcloud")
                    || il.contains("_sk")
                    || il == "sk"
                    || il.contains("secret_access")
                    || il.contains("accesskey")
                {
                    Category::CloudKey
                } else {
                    Category::GenericSecret
                };
                ("secret_assignment", cat, c)
            }
        };
        out.push(Hit::new(detector, cat, conf, value, vs, ve).with_account(named_account));
    }
    scan_command_lines(text, out);
}

fn parse_separator(text: &str, mut i: usize, line_end: usize, ascii_kw: bool) -> Option<(Sep, usize)> {
    let b = text.as_bytes();
    // Closing quotes/brackets of a JSON key or a subscript: "password": / ['password'] =
    let mut closed_quote = false;
    while i < line_end && matches!(b[i], b'"' | b'\'' | b'`' | b']' | b'\\') {
        // A literal `\t` inside a string is whitespace, not an escaped quote.
        if b[i] == b'\\' && b.get(i + 1) == Some(&b't') {
            break;
        }
        closed_quote = true;
        i += 1;
    }
    // <add key="DbPassword" value="…"/>
    let rest0 = &text[i..line_end];
    let trimmed = rest0.trim_start();
    if closed_quote && (trimmed.starts_with("value=") || trimmed.starts_with("Value=")) {
        let j = i + (rest0.len() - trimmed.len()) + 6;
        return Some((Sep::Assign, j));
    }
    let ws_start = i;
    while i < line_end && (b[i] == b' ' || b[i] == b'\t' || (b[i] == b'\\' && b.get(i + 1) == Some(&b't'))) {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    let had_space = i > ws_start;
    let rest = &text[i..line_end];
    let (sep, len) = if rest.starts_with(":=") || rest.starts_with("=>") || rest.starts_with("->") {
        (Sep::Assign, 2)
    } else if rest.starts_with("===") || rest.starts_with("!==") {
        (Sep::Compare, 3)
    } else if rest.starts_with("==") || rest.starts_with("!=") {
        (Sep::Compare, 2)
    } else if rest.starts_with('=') {
        (Sep::Assign, 1)
    } else if rest.starts_with("::") {
        return None;
    } else if closed_quote && rest.starts_with(',') {
        (Sep::Arg, 1)
    } else if rest.starts_with(':') {
        (Sep::Colon, 1)
    } else if rest.starts_with('：') {
        (Sep::Colon, '：'.len_utf8())
    } else if rest.starts_with("is ") || rest.starts_with("is:") {
        (Sep::Prose, 2)
    } else if let Some(c) = rest.chars().next().filter(|c| ['는', '은', '为', '是', '為'].contains(c)) {
        (Sep::Prose, c.len_utf8())
    } else if !ascii_kw && !had_space && rest.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) {
        // Korean/Chinese keywords glued to the value: `비번은…` handled above, `密码Abc123` here.
        (Sep::Prose, 0)
    } else if had_space && !closed_quote {
        (Sep::Space, 0)
    } else {
        return None;
    };
    i += len;
    while i < line_end && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    // `password: = x`, `password is: x`
    if i < line_end && (b[i] == b':' || b[i] == b'=') && sep != Sep::Compare {
        i += 1;
        while i < line_end && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
    }
    Some((sep, i))
}

/// The value after the separator: quoted (up to the closing quote) or bare (up to whitespace
/// or punctuation that ends values in code and prose).
fn parse_value(text: &str, start: usize, line_end: usize) -> Option<(&str, bool, usize, usize)> {
    if start >= line_end {
        return None;
    }
    let rest = &text[start..line_end];
    // Language prefixes of string literals: r"…", b'…', @"…", L"…", u8"…", f"…"
    let mut off = 0;
    for p in ["u8", "r", "b", "@", "L", "u", "f"] {
        if rest.starts_with(p) && rest[p.len()..].starts_with(['"', '\'']) {
            off = p.len();
            break;
        }
    }
    let r = &rest[off..];
    // Escaped quotes inside a string literal: "pw=\"secret\""
    for q in ["\\\"", "\\'"] {
        if let Some(body) = r.strip_prefix(q) {
            let end = body.find(q)?;
            let vs = start + off + 2;
            return Some((&body[..end], true, vs, vs + end));
        }
    }
    // Typographic quotes, as word processors write them: password = “…”
    for (open, close) in [('“', '”'), ('‘', '’'), ('«', '»'), ('「', '」')] {
        if let Some(body) = r.strip_prefix(open) {
            let end = body.find(close)?;
            let vs = start + off + open.len_utf8();
            return Some((&body[..end], true, vs, vs + end));
        }
    }
    // HTML-escaped quotes: token=&quot;…&quot;
    if let Some(body) = r.strip_prefix("&quot;") {
        let end = body.find("&quot;")?;
        let vs = start + off + 6;
        return Some((&body[..end], true, vs, vs + end));
    }
    let first = r.chars().next()?;
    if matches!(first, '"' | '\'' | '`') {
        let body = &r[1..];
        let mut end = None;
        let mut esc = false;
        for (i, c) in body.char_indices() {
            if esc {
                esc = false;
                continue;
            }
            if c == '\\' {
                esc = true;
                continue;
            }
            if c == first {
                end = Some(i);
                break;
            }
        }
        let end = end?;
        let (mut v, mut vs) = (&body[..end], start + off + 1);
        // A literal quoted twice (`'"951bc…"'`, Gradle's buildConfigField): the inner value.
        for q in ['"', '\'', '`'] {
            if v.len() >= 2 && q != first && v.starts_with(q) && v.ends_with(q) {
                v = &v[1..v.len() - 1];
                vs += 1;
                break;
            }
        }
        return Some((v, true, vs, vs + v.len()));
    }
    let mut end = rest.len();
    let mut prev_c = ' ';
    for (i, c) in rest.char_indices() {
        // `p->field` stays whole so that it is recognised as code.
        let arrow = c == '>' && prev_c == '-';
        prev_c = c;
        if arrow {
            continue;
        }
        // (`&` ends a query-string value, but starts a reference type: `&str`.)
        if c.is_whitespace()
            || matches!(c, ',' | ';' | '"' | '\'' | '<' | '>' | '`' | ')' | ']' | '}' | '，' | '；' | '）')
            || c == '&' && i > 0
        {
            end = i;
            break;
        }
        // String escapes inside a literal (`…: true\r\nHost: …`) end a bare value.
        if c == '\\' && rest[i + 1..].starts_with(['r', 'n', 't', '0']) {
            end = i;
            break;
        }
    }
    let v = &rest[..end];
    if v.is_empty() {
        return None;
    }
    Some((v, false, start, start + end))
}

fn accept(class: Class, sep: Sep, v: &str, quoted: bool, ident: &str) -> bool {
    if secret::is_placeholder(v) || (quoted && secret::is_code_fragment(v)) || secret::is_encrypted_value(v) {
        return false;
    }
    // A literal compared with a secret variable is the secret.
    let class = if sep == Sep::Compare { Class::Password } else { class };
    if !quoted && secret::is_code_reference(v) {
        return false;
    }
    if matches!(sep, Sep::Compare | Sep::Arg) && !quoted {
        return false;
    }
    // Call arguments: only machine secrets, and only values that could not be labels or
    // other arguments.
    if sep == Sep::Arg && (class == Class::Password || v.contains(' ') || secret::class_count(v) < 2 || v.len() < 8) {
        return false;
    }
    let il = ident.to_ascii_lowercase();
    let vl = v.to_ascii_lowercase();
    // The value names the thing again (`password: passwordField`, `"token": "token_url"`).
    if secret::is_identifier_like(v) && !v.chars().any(|c| c.is_ascii_digit()) {
        return false;
    }
    if vl.starts_with("http://") || vl.starts_with("https://") || vl.starts_with("file:") || vl.starts_with("/") && !quoted {
        return false;
    }
    match class {
        Class::Password => {
            let strict = matches!(sep, Sep::Space | Sep::Prose) && !quoted;
            if !secret::plausible_password(v, strict) {
                return false;
            }
            // `password length: 4`: a label of prose, not a value.
            if strict && v.ends_with([':', '：']) {
                return false;
            }
            // Bare lowercase words after a colon are usually prose or enum values.
            if !quoted && sep == Sep::Colon && secret::is_plain_word(v) {
                return false;
            }

            if il.contains("hash") || il.contains("_file") || il.contains("file_") || il.contains("path") || il.contains("prompt") {
                return false;
            }
            // Number-only values after a space are ports and counts; addresses and e-mail
            // addresses after a space are the account, not its password.
            if looks_like_address(v) || strict && (v.chars().all(|c| c.is_ascii_digit()) || v.contains('@') && v.contains('.')) {
                return false;
            }
            true
        }
        Class::Secret | Class::Key => {
            if matches!(sep, Sep::Space | Sep::Prose) {
                // Only CLI-style flags (`--token X`) take a space before a machine secret.
                if !(il.starts_with('-') || ident.starts_with("--")) {
                    return false;
                }
            }
            if secret::is_fake(v) {
                return false;
            }
            // A name that says secret (`secret key`, `api_key`) vouches for shorter values than
            // a bare `…key` does.
            let named_secret = ["secret", "private", "access", "api", "auth"].iter().any(|w| il.contains(w));
            if class == Class::Key && (v.len() < if named_secret { 12 } else { 16 } || secret::entropy(v) < 3.2) {
                return false;
            }
            secret::plausible_token(v)
        }
    }
}

/// `10.0.0.1`, `10.0.0.1:22`, `host.example.com:8080`
fn looks_like_address(v: &str) -> bool {
    let host = v.split(':').next().unwrap_or(v);
    let ipv4 =
        host.split('.').count() == 4 && host.split('.').all(|p| !p.is_empty() && p.len() <= 3 && p.chars().all(|c| c.is_ascii_digit()));
    ipv4 || (host.contains('.')
        && host.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && host.split('.').next_back().is_some_and(|t| t.len() >= 2 && t.chars().all(|c| c.is_ascii_lowercase())))
}

struct CliRule {
    re: Regex,
    /// Words (lower case) of which every match holds one, on the same line.
    anchors: &'static [&'static str],
    /// Quoted prose values: any non-placeholder word of 3+ characters counts.
    lenient: bool,
    /// capture group with the password; the optional account group.
    group: usize,
    account: Option<usize>,
}

fn cli_rules() -> &'static [CliRule] {
    static R: OnceLock<Vec<CliRule>> = OnceLock::new();
    R.get_or_init(|| {
        let mk = |anchors: &'static [&'static str], p: &str, group: usize, account: Option<usize>| {
            #[allow(clippy::expect_used)]
            let re = Regex::new(&p.replace(r"\b", r"(?-u:\b)")).expect("cli regex compiles");
            CliRule { re, anchors, lenient: p.contains("is\\s+"), group, account }
        };
        vec![
            // mysql -uroot -pSecret (the password glued to -p; `-p` alone prompts).
            mk(&["mysql", "mariadb"], r"(?i)\b(?:mysql|mysqldump|mysqladmin|mariadb|mysqlimport|mysqlshow)\b[^\n]*?\s-p([^\s'\x22-][^\s]*|'[^'\n]+'|\x22[^\x22\n]+\x22)", 1, None),
            mk(&["sshpass"], r"\bsshpass\s+-p\s*('[^'\n]+'|\x22[^\x22\n]+\x22|\S+)", 1, None),
            mk(&["curl"], r"(?i)\bcurl\b[^\n]*?\s(?:-u|--user)\s*['\x22]?([^\s:'\x22]+):([^\s'\x22]+)", 2, Some(1)),
            mk(&["-passin"], r"(?i)-passin\s+['\x22]?pass:([^\s'\x22]+)", 1, None),
            mk(&["convertto-securestring"], r"(?i)ConvertTo-SecureString\s+(?:-String\s+)?['\x22]([^'\x22\n]+)['\x22]\s+-AsPlainText", 1, None),
            mk(&["net"], r"(?i)\bnet\s+user\s+([^\s/]+)\s+([^\s/*][^\s]*)", 2, Some(1)),
            mk(&["psexec", "paexec", "winexe", "sqlcmd", "osql", "bcp", "plink", "pscp", "ldapsearch", "ldapmodify", "ldapadd", "redis-cli", "hydra", "wmic"], r"(?i)\b(?:psexec(?:\.exe)?|paexec|winexe|sqlcmd|osql|bcp|plink(?:\.exe)?|pscp(?:\.exe)?|ldapsearch|ldapmodify|ldapadd|redis-cli|hydra|wmic)\b[^\n]*?\s(?:-p|-pw|-P|-w|-a|/password:)\s+('[^'\n]+'|\x22[^\x22\n]+\x22|[^\s-][^\s]*)", 1, None),
            mk(&["freerdp"], r"(?i)\b(?:xfreerdp|wlfreerdp)\b[^\n]*?\s[/-]p:('[^'\n]+'|\x22[^\x22\n]+\x22|\S+)", 1, None),
            mk(&["smbclient"], r"(?i)\bsmbclient\b[^\n]*?\s-U\s*['\x22]?([^\s%'\x22]+)%([^\s'\x22]+)", 2, Some(1)),
            mk(&["docker"], r"(?i)\bdocker\s+login\b[^\n]*?\s-p\s+('[^'\n]+'|\x22[^\x22\n]+\x22|\S+)", 1, None),
            mk(&["htpasswd"], r"(?i)\bhtpasswd\s+-[a-zA-Z]*b[a-zA-Z]*\s+\S+\s+(\S+)\s+(\S+)", 2, Some(1)),
            mk(&["pgpassword", "mysql_pwd", "sshpass", "rediscli_auth"], r"(?i)\b(?:PGPASSWORD|MYSQL_PWD|SSHPASS|REDISCLI_AUTH)=('[^'\n]+'|\x22[^\x22\n]+\x22|\S+)", 1, None),
            mk(&["-password"], r"(?i)-(?:User|Username)\s+\S+\s+-Password\s+('[^'\n]+'|\x22[^\x22\n]+\x22|[^\s$][^\s]*)", 1, None),
            mk(&["convertto-securestring"], r"(?i)ConvertTo-SecureString\s+(?:-\w+\s+)*\\?['\x22]?([^\s'\x22\\]{4,})", 1, None),
            // SQL: CREATE/ALTER USER … IDENTIFIED BY 'x', PASSWORD 'x', PASSWORD('x').
            mk(&["identified"], r"(?i)\b(?:CREATE|ALTER|GRANT)\b[^\n]{0,160}?\bIDENTIFIED\s+(?:WITH\s+'?\w+'?\s+)?BY\s+('[^'\n]+'|\x22[^\x22\n]+\x22|[A-Za-z0-9!@#%^*_+=.~-]+)", 1, None),
            mk(&["password"], r"(?i)\bPASSWORD\s*\(\s*('[^'\n]+'|\x22[^\x22\n]+\x22)\s*\)", 1, None),
            mk(&["login"], r"(?i)\bLOGIN\s+PASSWORD\s+([A-Za-z0-9!@#%^*_+=.~-]+)", 1, None),
            // .NET / LDAP constructors taking user and password literals.
            mk(&["networkcredential"], r"(?i)NetworkCredential\(\s*\x22([^\x22\n]*)\x22\s*,\s*\x22([^\x22\n]+)\x22", 2, Some(1)),
            mk(&["directoryentry"], r"(?i)DirectoryEntry\(\s*\x22[^\x22\n]*\x22\s*,\s*\x22([^\x22\n]*)\x22\s*,\s*\x22([^\x22\n]+)\x22", 2, Some(1)),
            // Prose: "the password for user 'postgres' is 'admin'".
            mk(&["password"], r"(?i)\bpassword\b[^.\n]{0,40}?\bis\s+(\x22[^\x22\n]{3,64}\x22|'[^'\n]{3,64}')", 1, None),
            // Defaults of environment look-ups: getenv("DB_PASS", "x"), os.environ.get("PW") or "x".
            mk(&["getenv", "environ.get", "env.get", "getproperty"], r"(?i)(?:getenv|environ\.get|env\.get|getProperty)\(\s*\\?['\x22]?[A-Za-z_]*(?:PASS|PWD|SECRET|TOKEN|KEY|CEKPET)[A-Za-z_]*\\?['\x22]?\s*,\s*b?\\?['\x22]([^'\x22\\\n]{4,})\\?['\x22]", 1, None),
            mk(&["getenv", "environ.get", "env.get"], r"(?i)(?:getenv|environ\.get|env\.get)\(\s*['\x22][A-Za-z_]*(?:PASS|PWD|SECRET|TOKEN)[A-Za-z_]*['\x22]\s*\)\s*(?:or|\|\||\?\?)\s*['\x22]([^'\x22\n]{4,})['\x22]", 1, None),
        ]
    })
}

/// A regex equivalent of the keyword detector's search (a keyword ending an identifier, then
/// a separator) and the command-line rules: for the ripgrep comparison.
pub fn patterns() -> Vec<String> {
    let kws: Vec<String> = KEYWORDS.iter().map(|k| regex::escape(k.0)).collect();
    let mut v = vec![format!(r#"(?i)({})s?\d{{0,2}}['"\]]*\s*(:=|=>|->|==|!=|=|:|：|\s)\s*\S"#, kws.join("|"))];
    v.extend(cli_rules().iter().map(|r| r.re.as_str().to_string()));
    v
}

/// One automaton over every command-line rule's anchors (anchor → rules).
fn cli_anchors() -> &'static (AhoCorasick, Vec<Vec<usize>>) {
    static A: OnceLock<(AhoCorasick, Vec<Vec<usize>>)> = OnceLock::new();
    A.get_or_init(|| {
        let mut words: Vec<&str> = Vec::new();
        let mut map: Vec<Vec<usize>> = Vec::new();
        for (i, r) in cli_rules().iter().enumerate() {
            for a in r.anchors {
                match words.iter().position(|w| w == a) {
                    Some(p) => map[p].push(i),
                    None => {
                        words.push(a);
                        map.push(vec![i]);
                    }
                }
            }
        }
        #[allow(clippy::expect_used)]
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&words)
            .expect("cli anchor automaton builds");
        (ac, map)
    })
}

/// How far past its anchor word a command line may continue (`\` line continuations,
/// arguments on the next lines).
const CLI_REACH: usize = 200;

/// Passwords passed on command lines. Every rule starts at the line holding one of its
/// anchor words: it runs only there (and a little further, for continued lines).
pub fn scan_command_lines(text: &str, out: &mut Vec<Hit>) {
    let (ac, map) = cli_anchors();
    let rules = cli_rules();
    let mut lines: Vec<Vec<(usize, usize)>> = vec![Vec::new(); rules.len()];
    let b = text.as_bytes();
    for m in ac.find_overlapping_iter(text) {
        let ls = b[..m.start()].iter().rposition(|c| *c == b'\n').map_or(0, |i| i + 1);
        let reach = m.end().saturating_add(CLI_REACH).min(text.len());
        let le = b[reach..].iter().position(|c| *c == b'\n').map_or(text.len(), |i| reach + i);
        for &ri in map.get(m.pattern().as_usize()).map(Vec::as_slice).unwrap_or(&[]) {
            match lines[ri].last_mut() {
                Some(last) if ls <= last.1 => last.1 = last.1.max(le),
                _ => lines[ri].push((ls, le)),
            }
        }
    }
    for (ri, r) in rules.iter().enumerate() {
        for &(ls, le) in &lines[ri] {
            let Some(line) = text.get(ls..le) else { continue };
            scan_cli_rule(r, line, ls, out);
        }
    }
}

fn scan_cli_rule(r: &CliRule, text: &str, base: usize, out: &mut Vec<Hit>) {
    {
        for c in r.re.captures_iter(text) {
            let Some(m) = c.get(r.group) else { continue };
            let raw = m.as_str();
            let (v, vs) = if raw.len() >= 2 && (raw.starts_with('\'') || raw.starts_with('"')) {
                (&raw[1..raw.len() - 1], m.start() + 1)
            } else {
                (raw, m.start())
            };
            let plausible = if r.lenient { v.chars().count() >= 3 && !v.contains(' ') } else { secret::plausible_password(v, false) };
            if v.starts_with('$') || v.starts_with('%') || secret::is_placeholder(v) || !plausible || secret::is_code_fragment(v) {
                continue;
            }
            if v.chars().all(|c| c.is_ascii_digit()) && v.len() < 6 {
                continue;
            }
            let account = r.account.and_then(|g| c.get(g)).map(|m| m.as_str());
            out.push(Hit::new("command_line_password", Category::Password, 0.8, v, base + vs, base + vs + v.len()).with_account(account));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(text: &str) -> Vec<String> {
        let mut v = Vec::new();
        scan_keywords(text, &mut v);
        let mut s: Vec<String> = v.into_iter().map(|h| h.secret).collect();
        // The keyword scanner and the command-line rules may both see a flag.
        s.dedup();
        s
    }

    #[test]
    fn assignments_in_many_syntaxes() {
        assert_eq!(secrets("password=2bkJgtJDiLcq1t"), ["2bkJgtJDiLcq1t"]);
        assert_eq!(secrets(r#""password":"Prl23Db#@""#), ["Prl23Db#@"]);
        assert_eq!(secrets("MYSQL_DATABASE_PASSWORD=2IWJD88FH4Y;"), ["2IWJD88FH4Y"]);
        assert_eq!(secrets("数据库密码：Abc@12345"), ["Abc@12345"]);
        assert_eq!(secrets("비번은Prl23Db#@"), ["Prl23Db#@"]);
        assert_eq!(
            secrets("aws_secret_access_key = J38YmIgn7dH6cw4W+yqoRgjsFsWvysFjfVcpCh7O"),
            ["J38YmIgn7dH6cw4W+yqoRgjsFsWvysFjfVcpCh7O"]
        );
    }

    #[test]
    fn decoys_are_not_secrets() {
        assert!(secrets("Passwords must be at least 8 characters long.").is_empty());
        assert!(secrets("password = ${DB_PASSWORD}").is_empty());
        assert!(secrets("password: <password>").is_empty());
        assert!(secrets("password = os.environ['PW']").is_empty());
        assert!(secrets("passengers: [\"quickBrown\"]").is_empty());
        assert!(secrets("pwdump=n0NeKreD").is_empty());
        assert!(secrets("if (password == null) return;").is_empty());
        assert!(secrets("password = \"abc\"").is_empty());
        assert!(secrets("monkey = 8f3kdl29fjs93jdka93kd").is_empty());
        // Code and prose seen in real source trees.
        assert!(secrets("a user can still pass `--help` to the individual subcommands").is_empty());
        assert!(secrets("J.Cutler pass incomplete deep middle. PENALTY Defensive Pass Interference").is_empty());
        assert!(secrets("#define WHERE_ONEPASS_DESIRED 0x0004 /* Want to do one-pass UPDATE/DELETE */").is_empty());
        assert!(secrets("let secret: SigningKey = SigningKey::generate(&mut csprng);").is_empty());
        assert!(secrets("const SHUFFLE_MASK: u128 = 0x020a0700_0c01030e_050f0d08_06090b04_u128;").is_empty());
        assert!(secrets("auth: AuthUsage,").is_empty());
        assert!(secrets("// char *pw_passwd Encrypted password.").is_empty());
    }

    #[test]
    fn flags_and_typed_declarations() {
        assert_eq!(secrets("mysql -u root --password Sne3sd8AZjq"), ["Sne3sd8AZjq"]);
        assert_eq!(secrets("plink -pw Pl1nk!pass host"), ["Pl1nk!pass"]);
        assert_eq!(secrets("val password: String = \"exord13Paw64\""), ["exord13Paw64"]);
        assert_eq!(secrets("<password name=\"p\">cackle!x</password>"), ["cackle!x"]);
        assert_eq!(secrets("<add key=\"SmtpPassword\" value=\"Sm7p!pass\"/>"), ["Sm7p!pass"]);
        assert_eq!(secrets("if creds.Secret != \"open-sesame\" {"), ["open-sesame"]);
    }

    #[test]
    fn prose_key_names_accounts_and_quotes() {
        assert_eq!(secrets("SECRET KEY:AIhq5Xyb1Gga9Q3"), ["AIhq5Xyb1Gga9Q3"]);
        assert_eq!(secrets("Authentication key: AIhq5Xyb1Gga9Q35"), ["AIhq5Xyb1Gga9Q35"]);
        assert!(secrets("primary key: id_12345678abcdef").is_empty());
        let mut v = Vec::new();
        scan_keywords("password for master:IhqSb1Gg", &mut v);
        assert_eq!((v[0].secret.as_str(), v[0].account.as_deref()), ("IhqSb1Gg", Some("master")));
        assert_eq!(secrets("password:!Dd5G4s9"), ["!Dd5G4s9"]);
        assert!(secrets("if (password != !isValid) x").is_empty());
        assert_eq!(secrets("password = “Xj@cN834b”"), ["Xj@cN834b"]);
        // Call arguments: a quoted name, then a quoted machine secret.
        assert_eq!(
            secrets("buildConfigField 'String', 'API_KEY', '\"951bc382db9cfee29c68634761dd6e19\"'"),
            ["951bc382db9cfee29c68634761dd6e19"]
        );
        assert!(secrets("{\"dummy\": \"api-custom-key\", \"c098f218-face-c0fe-dea0-0199cba\": \"x\"}").is_empty());
    }

    /// Seen in real source trees (a cargo registry): declarations, constants, literals and
    /// flags that name a password without holding one.
    #[test]
    fn code_that_names_secrets_is_not_reported() {
        for line in [
            "pub const D3DKMDT_COLORSPACE_TRANSFORM_STAGE_CONTROL_BYPASS: D3DKMDT_COLORSPACE_TRANSFORM_STAGE_CONTROL = 2i32;",
            "    let password = [0x01; 32];",
            "    pub static kCFStreamPropertySOCKSPassword: CFStringRef;",
            "    pub password: WS_STRING,",
            "    let raw_private_key: Curve25519SeedBin<'_> = private_key",
            "b\"HTTP/1.1 200 OK\\r\\nAccess-Control-Allow-Credentials: hell\\0o\\r\\nBread: baguette\\r\\n\\r\\n\";",
            "b\"GET /channel?passwd HTTP/1.1\\r\\nHost: myserver.com\\r\\n\\r\\n\",",
            "            0x04, // password length: 4",
            "      pWInfo->eOnePass = bOnerow ? ONEPASS_SINGLE : ONEPASS_MULTI;",
            "[![codecov](https://codecov.io/gh/x/y/graph/badge.svg?token=YTwyxrxJ3S)](https://codecov.io/gh/x/y)",
            "\"AWS4-HMAC-SHA256 Credential=H20ABqCkLZID4rLe/20220809/us-east-1/s3/aws4_request, SignedHeaders=host\"",
        ] {
            assert!(secrets(line).is_empty(), "{line}: {:?}", secrets(line));
        }
        // Literal values in code still count.
        assert_eq!(secrets("const DB_PASSWORD: &str = \"Zx9!kP2mQ\";"), ["Zx9!kP2mQ"]);
        assert!(is_numeric_literal("0x10u8") && is_numeric_literal("1_000") && !is_numeric_literal("2bkJgtJDiLcq1t"));
    }

    #[test]
    fn encrypted_masked_and_misnamed_values_are_not_secrets() {
        assert!(secrets("{\"secretKey\": \"ENC(2dfRFqV/cS6TzRd+JyO=)\"}").is_empty());
        assert!(secrets("password: '{cipher}AQA7Yq2kP9mQ3nL8sT4yR6'").is_empty());
        assert!(secrets("Activation key : ZAQWS-XCDER-*****-VBGTR-FRTGU").is_empty());
        assert!(secrets("ID/Pass:xxxx:master/IhqSb1Gg").is_empty());
        assert!(secrets("\\$pwd = \\$_POST[\\\"password\\\"];").is_empty());
        // AWS secret access keys are 40 characters; a 42-character hex string is not one.
        assert!(secrets("export AWS_SECRET_ACCESS_KEY=ded7db27a4558e2ea9bbf0bf36ae0e8521618f366c").is_empty());
    }

    #[test]
    fn command_lines() {
        let mut v = Vec::new();
        scan_command_lines(
            "mysql -uroot -pS3cretPw db\nsshpass -p 'Xy9!kLm2' ssh root@h\ncurl -u admin:Pa55w0rd! http://x\nssh -p 2222 host",
            &mut v,
        );
        let s: Vec<_> = v.iter().map(|h| h.secret.as_str()).collect();
        assert_eq!(s, ["S3cretPw", "Xy9!kLm2", "Pa55w0rd!"]);
        // Arguments continued on the next lines.
        let mut v = Vec::new();
        scan_command_lines(
            "new DirectoryEntry(\"LDAP://X\",\n   \"ADMN@X\",\n   \"Rrhh1234\");\ncurl -X POST https://h/t \\\n-u id:Cont1nued!pw",
            &mut v,
        );
        let s: Vec<_> = v.iter().map(|h| h.secret.as_str()).collect();
        assert_eq!(s, ["Cont1nued!pw", "Rrhh1234"]);
    }
}
