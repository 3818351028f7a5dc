//! Judging candidate secret values: placeholders, code references and prose are not secrets,
//! and a secret is never printed whole (see [`redact`]).

/// Redacts a secret for display: the first two characters and the length, never more. Short
/// secrets (under 8 characters) show only their length, so a 6-character password cannot be
/// read off a report by adding the two visible characters to a guess.
pub fn redact(secret: &str) -> String {
    let n = secret.chars().count();
    if n < 8 {
        return format!("*** ({n} chars)");
    }
    let head: String = secret.chars().take(2).map(printable).collect();
    format!("{head}*** ({n} chars)")
}

/// Control characters (and the backslash) become visible escapes so that attacker text cannot
/// drive the terminal.
fn printable(c: char) -> char {
    if c.is_control() { '?' } else { c }
}

/// Escapes control characters in attacker-controlled text (file names, cell text) for display
/// on a terminal: `\n`, `\x1b` … become `\u{..}` escapes.
pub fn escape_control(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s.bytes() {
        counts[b as usize] = counts[b as usize].saturating_add(1);
        n = n.saturating_add(1);
    }
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Character classes present: lower, upper, digit, other (symbols and non-ASCII).
pub fn classes(s: &str) -> (bool, bool, bool, bool) {
    let mut r = (false, false, false, false);
    for c in s.chars() {
        if c.is_ascii_lowercase() {
            r.0 = true;
        } else if c.is_ascii_uppercase() {
            r.1 = true;
        } else if c.is_ascii_digit() {
            r.2 = true;
        } else {
            r.3 = true;
        }
    }
    r
}

pub fn class_count(s: &str) -> usize {
    let (a, b, c, d) = classes(s);
    [a, b, c, d].into_iter().filter(|x| *x).count()
}

/// Placeholder and template values that stand for "put your secret here": never reported.
pub fn is_placeholder(v: &str) -> bool {
    let t = v.trim().trim_matches(|c| c == '"' || c == '\'' || c == '`');
    if t.is_empty() {
        return true;
    }
    let l = t.to_ascii_lowercase();
    // Templates and variable references of every common syntax.
    if t.starts_with("${")
        || t.starts_with("{{")
        || t.starts_with("$(")
        || t.starts_with("#{")
        || t.starts_with("%(")
        || t.starts_with("<%")
        || (t.starts_with('<') && t.ends_with('>'))
        || (t.starts_with('[') && t.ends_with(']'))
        || (t.starts_with('{') && t.ends_with('}'))
        || (t.starts_with('%') && t.ends_with('%') && t.len() > 2)
        || l.starts_with("&lt;")
        || l.contains("your_")
        || l.contains("your-")
        || l.starts_with("your")
        || l.starts_with("insert")
        || l.starts_with("enter")
        || l.starts_with("replace")
        || l.starts_with("put_")
    {
        return true;
    }
    if t.starts_with('$') && t[1..].chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '{' || c == '(') {
        return true;
    }
    if l.starts_with("my-") || l.starts_with("my_") || l.starts_with("arn:") {
        return true;
    }
    // Masks and fillers: xxxx, ****, ...., 0000, ----.
    let first = t.chars().next().unwrap_or(' ');
    if t.chars().all(|c| c == first) {
        return true;
    }
    if t.chars().all(|c| matches!(c, 'x' | 'X' | '*' | '.' | '-' | '_' | '#' | '?' | '•' | '0')) {
        return true;
    }
    // Partly masked values (`ab****yz`, `xxxx:master/…`): what is shown is not the secret.
    if t.contains("****") || t.contains("•••") || l.starts_with("xxxx") && t[4..].starts_with(|c: char| !c.is_ascii_alphanumeric()) {
        return true;
    }
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "pass",
        "pwd",
        "token",
        "changeme",
        "change_me",
        "changeit",
        "change-me",
        "null",
        "none",
        "nil",
        "true",
        "false",
        "empty",
        "undefined",
        "example",
        "sample",
        "dummy",
        "fake",
        "test",
        "placeholder",
        "redacted",
        "hidden",
        "masked",
        "required",
        "optional",
        "string",
        "str",
        "text",
        "value",
        "default",
        "yes",
        "no",
        "on",
        "off",
        "prompt",
        "ask",
        "env",
        "file",
        "plain",
        "md5",
        "sha256",
        "scram-sha-256",
        "trust",
        "peer",
        "ident",
        "mypassword",
        "my_password",
        "yourpassword",
        "<password>",
        "keyring",
        "disabled",
        "enabled",
        "not-set",
        "notset",
        "unset",
        "blank",
        "tbd",
        "todo",
        "n/a",
        "na",
        "xxx",
        "***",
        "foo",
        "bar",
        "foobar",
        "abc",
        "secretkey",
        "apikey",
        "api_key",
        "access_token",
        "auth_token",
        "user",
        "username",
        "admin_password",
        "db_password",
        "new_password",
        "old_password",
        "*****",
        "mysecret",
    ];
    if WORDS.contains(&l.as_str()) {
        return true;
    }
    // Well-known documentation values (AWS's, Microsoft's, …).
    const DOC_VALUES: &[&str] =
        &["akiaiosfodnn7example", "wjalrxutnfemi/k7mdeng/bpxrficyexamplekey", "je7mtgbclwbf/2tk6iw38bg5uzmm4ohtwyq8zz3n"];
    if DOC_VALUES.contains(&l.as_str()) {
        return true;
    }
    if l.contains("example") && (l.contains("key") || l.contains("secret") || l.contains("password")) {
        return true;
    }
    false
}

/// Test and documentation values: sequential runs (`123456789`, `abcdefgh`, `a1b2c3`),
/// `example`/`sample`/`dummy`/`fake` markers, long masks.
pub fn is_fake(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    [
        "example",
        "sample",
        "dummy",
        "fake",
        "xxxxxx",
        "123456",
        "654321",
        "abcdef",
        "asdfg",
        "qwerty",
        "a1b2c3",
        "0000000000",
        "your_",
        "placeholder",
        "redacted",
        "testonly",
        "lookingfor",
        "looking-for",
        "not-the",
        "not_the",
    ]
    .iter()
    .any(|m| l.contains(m))
}

/// Values stored encrypted by a framework (`ENC(…)` of Jasypt, `{cipher}…` of Spring Cloud
/// Config, `vault:v1:…` of Vault transit, Ansible `$ANSIBLE_VAULT`): not plaintext secrets.
pub fn is_encrypted_value(v: &str) -> bool {
    let t = v.trim();
    let l = t.to_ascii_lowercase();
    (l.starts_with("enc(") && t.ends_with(')'))
        || l.starts_with("{cipher}")
        || l.starts_with("vault:v")
        || l.starts_with("$ansible_vault")
        || l.starts_with("!vault")
}

/// Quoted values that are really code: concatenations, calls, paths, interpolations.
pub fn is_code_fragment(v: &str) -> bool {
    let t = v.trim();
    t.starts_with(['+', '.', ',', ';', '(', ')', '/']) && (t.starts_with('/') && t[1..].contains('/') || !t.starts_with('/'))
        || t.contains(" + ")
        || t.contains("()")
        || t.contains("${")
        || t.contains("#{")
        || t.contains("{{")
        || t.ends_with('(')
}

/// Does the value look like a reference in code (a variable, a call, a path in a config
/// object) rather than a literal secret? Only for unquoted values.
pub fn is_code_reference(v: &str) -> bool {
    let t = v.trim();
    if t.is_empty() {
        return true;
    }
    let l = t.to_ascii_lowercase();
    const PREFIXES: &[&str] = &[
        "process.env",
        "os.environ",
        "os.getenv",
        "getenv(",
        "env.",
        "env(",
        "system.getenv",
        "config.",
        "settings.",
        "this.",
        "self.",
        "request.",
        "req.",
        "params.",
        "args.",
        "options.",
        "opts.",
        "props.",
        "ctx.",
        "context.",
        "environment.",
        "secrets.",
        "vars.",
        "input(",
        "prompt(",
        "getpass",
        "new ",
        "function",
        "lambda",
        "await ",
        "null",
        "none",
        "nil",
        "undefined",
        "&",
        "*",
        "string(",
        "str(",
        "std::",
        "$",
        "\\$",
        "@",
        "(",
    ];
    if PREFIXES.iter().any(|p| l.starts_with(p)) {
        return true;
    }
    // `!flag`, `!obj.ready()`: a negation in code; `!Dd5G4s9` (digits, no member access) is a
    // password that happens to start with `!`.
    if let Some(rest) = t.strip_prefix('!') {
        let identish = rest.chars().all(|c| c.is_ascii_alphanumeric() || "_.()".contains(c));
        if rest.is_empty()
            || identish && (!rest.chars().any(|c| c.is_ascii_digit()) || rest.contains(['.', '(']))
            || !identish && !rest.starts_with(|c: char| c.is_ascii_alphanumeric())
        {
            return true;
        }
    }
    // identifier(.identifier)*(…) : a member access or call.
    let ident_chain = t.split('.').all(|seg| {
        let seg = seg.split('(').next().unwrap_or(seg);
        !seg.is_empty()
            && seg.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if ident_chain && (t.contains('.') || t.contains('(')) && !t.chars().any(|c| c.is_ascii_digit()) {
        return true;
    }
    if t.ends_with("()")
        || t.ends_with(");")
        || t.contains("()")
        || t.contains("::")
        || t.contains("->")
        || t.contains('(')
        || t.contains("![")
        || t.contains("==")
        || t.contains('[') && t.contains(']')
    {
        return true;
    }
    false
}

/// `snake_case`/`SCREAMING_CASE` names made of words (`nl80211_pattern_support`,
/// `ONEPASS_OFF`, `FTS5_MAX_TOKEN_SIZE`): identifiers in code, not secrets.
pub fn is_snake_identifier(v: &str) -> bool {
    let parts: Vec<&str> = v.split('_').filter(|p| !p.is_empty()).collect();
    v.contains('_')
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && parts.len() >= 2
        && parts.iter().filter(|p| p.chars().filter(|c| c.is_ascii_alphabetic()).count() >= 3).count() >= 2
        && (v.chars().all(|c| !c.is_ascii_lowercase()) || v.chars().all(|c| !c.is_ascii_uppercase()))
}

/// Type names after `name:` in typed code (`u32`, `__u32`, `String`, `&str`, `Option<…>`).
pub fn is_type_name(v: &str) -> bool {
    let l = v.trim_start_matches('&').to_ascii_lowercase();
    l.starts_with("__")
        || l.starts_with("option<")
        || l.starts_with("vec<")
        || l.contains("::")
        || l.ends_with('*')
        || matches!(
            l.as_str(),
            "u8" | "u16"
                | "u32"
                | "u64"
                | "u128"
                | "usize"
                | "i8"
                | "i16"
                | "i32"
                | "i64"
                | "i128"
                | "isize"
                | "bool"
                | "str"
                | "string"
                | "int"
                | "char"
                | "byte"
                | "bytes"
                | "float"
                | "double"
                | "long"
                | "object"
                | "any"
                | "number"
                | "secretstring"
                | "securestring"
                | "dict"
                | "list"
                | "optional"
                | "option"
                | "vec"
                | "box"
                | "result"
                | "hashmap"
                | "map"
                | "array"
                | "slice"
                | "self"
                | "none"
                | "some"
                | "ok"
                | "err"
        )
}

/// Plain lowercase dictionary-like words (`required`, `must`, `field`) are prose, not passwords.
pub fn is_plain_word(v: &str) -> bool {
    let n = v.chars().count();
    n <= 14 && v.chars().all(|c| c.is_ascii_lowercase() || c == '-' || c == '\'')
}

/// CamelCase or snake_case identifiers that name things (`passwordField`, `user_password`).
pub fn is_identifier_like(v: &str) -> bool {
    if v.is_empty() || !v.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') {
        return false;
    }
    if !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return false;
    }
    if v.chars().any(|c| c.is_ascii_digit()) {
        return false;
    }
    // Only compound names (snake_case, camelCase) are identifiers; a bare word may be a value.
    let compound = v.contains('_') || v.chars().skip(1).any(|c| c.is_ascii_uppercase());
    if !compound {
        return false;
    }
    let l = v.to_ascii_lowercase();
    l.contains("password")
        || l.contains("passwd")
        || l.contains("secret")
        || l.contains("token")
        || l.contains("_key")
        || l.contains("field")
        || l.contains("label")
        || l.contains("input")
}

/// Is this a plausible literal password (the user-chosen kind)? `strict` asks more of values
/// found in prose (whitespace separator) than of values in an explicit assignment.
pub fn plausible_password(v: &str, strict: bool) -> bool {
    let n = v.chars().count();
    if !(4..=200).contains(&n) || is_placeholder(v) {
        return false;
    }
    if v.chars().any(|c| c.is_control()) {
        return false;
    }
    let lower = v.to_ascii_lowercase();
    if (lower.contains("password") || lower.contains("passwd")) && !v.chars().any(|c| c.is_ascii_digit()) {
        return false;
    }
    // C/asm hex literals (`0x0dead1beef`) are constants, not passwords.
    if lower.starts_with("0x") && lower.len() >= 3 && lower[2..].chars().all(|c| c.is_ascii_hexdigit()) {
        return false;
    }
    if strict {
        let (l, u, d, o) = classes(v);
        // Prose: require a mix that words do not have.
        return n >= 6 && (l || u) && (d || o) && !v.ends_with('.') && !v.contains("://") && !v.contains("->") && !v.contains("::");
    }
    if is_plain_word(v) && n < 6 {
        return false;
    }
    true
}

/// Is this a plausible machine-generated secret (token, API key)?
pub fn plausible_token(v: &str) -> bool {
    let n = v.len();
    if !(8..=4096).contains(&n) || is_placeholder(v) {
        return false;
    }
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) || is_fake(v) {
        return false;
    }
    if is_identifier_like(v) || v.contains("://") || v.starts_with('/') || v.starts_with("./") {
        return false;
    }
    if is_plain_word(v) || is_snake_identifier(v) {
        return false;
    }
    // File names and dotted identifiers.
    let lower = v.to_ascii_lowercase();
    for ext in [".json", ".yaml", ".yml", ".pem", ".key", ".txt", ".crt", ".xml", ".html", ".js", ".py", ".conf", ".ini", ".env"] {
        if lower.ends_with(ext) {
            return false;
        }
    }
    // Words glued together (`AuthUsage`, `iEnd-iStart`) are names, not secrets: machine
    // secrets this short carry digits. E-mail addresses are accounts.
    let wordish = v.chars().all(|c| c.is_ascii_alphanumeric() || "-_:./".contains(c));
    if !v.chars().any(|c| c.is_ascii_digit()) && n < 20 && wordish || v.chars().all(|c| c.is_ascii_alphabetic()) && n < 32 {
        return false;
    }
    if v.contains('@')
        && v.rsplit('@').next().is_some_and(|d| d.contains('.') && d.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
    {
        return false;
    }
    let cc = class_count(v);
    let e = entropy(v);
    (cc >= 2 && e >= 2.8) || (n >= 16 && e >= 3.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_never_shows_the_whole_secret() {
        assert_eq!(redact("S3cretPassw0rd"), "S3*** (14 chars)");
        assert_eq!(redact("abc12"), "*** (5 chars)");
        assert!(!redact("hunter2hunter2").contains("hunter2hunter2"));
        assert_eq!(redact("\x1b[31mabcdef"), "?[*** (11 chars)");
    }

    #[test]
    fn placeholders_are_not_secrets() {
        for p in ["<password>", "${PASSWORD}", "xxxx", "****", "changeme", "{{ pass }}", "$DB_PASS", "YOUR_API_KEY", "%PWD%"] {
            assert!(is_placeholder(p), "{p}");
        }
        for s in ["Prl23Db#@", "dipPr10Gg!", "sk_live_abc"] {
            assert!(!is_placeholder(s), "{s}");
        }
    }

    #[test]
    fn prose_is_not_a_password() {
        assert!(!plausible_password("must", true));
        assert!(!plausible_password("characters", true));
        assert!(plausible_password("Prl23Db#@", true));
        assert!(plausible_password("cackle!", false));
        assert!(!plausible_password("abc", false));
    }

    #[test]
    fn code_references_are_recognised() {
        assert!(is_code_reference("os.environ['X']"));
        assert!(is_code_reference("request.form.get"));
        assert!(is_code_reference("getMasterUserPassword()"));
        assert!(!is_code_reference("2bkJgtJDiLcq1t"));
        assert!(escape_control("a\x1bb").contains("\\u{1b}"));
    }
}
