//! Vendor version comparison: `9.2p1`, `2.4.49`, `4.87`, `7.0.12`, `1.0.2k`, `3.0.0-rc1`.
//!
//! NVD ranges are compared against whatever a banner said, so the comparator must order the
//! version schemes vendors actually use, not only semver. A version is split into numeric runs
//! and letter runs (separators `.`, `-`, `_`, `+`, `~` and case are ignored). Numeric runs compare
//! as numbers; letter runs that name a pre-release (`alpha`, `beta`, `rc`, `pre`, `dev`, `a`,
//! `b`) sort *before* the release they precede, every other letter run (OpenSSH's `p1` patch
//! level, OpenSSL's `k`, Zimbra's `P33`) sorts *after* it. A missing numeric run counts as 0, so
//! `9.8` = `9.8.0` < `9.8p1`.

use std::cmp::Ordering;

/// Parsing is bounded: a hostile "version" of megabytes cannot cost more than this many tokens.
const MAX_TOKENS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Digits with leading zeros removed, compared by length then lexically (no overflow).
    Num(String),
    Pre(String),
    Post(String),
}

fn is_pre(word: &str) -> bool {
    matches!(word, "alpha" | "beta" | "rc" | "pre" | "preview" | "dev" | "a" | "b" | "cr" | "m" | "snapshot")
}

fn tokens(v: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_digit = false;
    let flush = |cur: &mut String, digit: bool, out: &mut Vec<Token>| {
        if cur.is_empty() {
            return;
        }
        if out.len() < MAX_TOKENS {
            if digit {
                let t = cur.trim_start_matches('0');
                out.push(Token::Num(if t.is_empty() { "0".into() } else { t.to_string() }));
            } else {
                let w = cur.to_ascii_lowercase();
                out.push(if is_pre(&w) { Token::Pre(w) } else { Token::Post(w) });
            }
        }
        cur.clear();
    };
    for c in v.chars().take(256) {
        if c.is_ascii_digit() {
            if !cur_digit {
                flush(&mut cur, false, &mut out);
            }
            cur_digit = true;
            cur.push(c);
        } else if c.is_ascii_alphabetic() {
            if cur_digit {
                flush(&mut cur, true, &mut out);
            }
            cur_digit = false;
            cur.push(c);
        } else {
            flush(&mut cur, cur_digit, &mut out);
        }
    }
    flush(&mut cur, cur_digit, &mut out);
    out
}

fn cmp_num(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn cmp_token(a: Option<&Token>, b: Option<&Token>) -> Ordering {
    use Token::*;
    match (a, b) {
        (None, None) => Ordering::Equal,
        (Some(Num(x)), Some(Num(y))) => cmp_num(x, y),
        (Some(Num(x)), None) => cmp_num(x, "0"),
        (None, Some(Num(y))) => cmp_num("0", y),
        // A further numeric component is newer than any suffix on the shorter version:
        // 1.2.1 > 1.2p3 is the ambiguous case; upstream schemes that mix both are rare and a
        // release counter beats a patch letter in every scheme we know.
        (Some(Num(_)), Some(_)) => Ordering::Greater,
        (Some(_), Some(Num(_))) => Ordering::Less,
        (Some(Pre(_)), None) => Ordering::Less,
        (None, Some(Pre(_))) => Ordering::Greater,
        (Some(Post(_)), None) => Ordering::Greater,
        (None, Some(Post(_))) => Ordering::Less,
        (Some(Pre(_)), Some(Post(_))) => Ordering::Less,
        (Some(Post(_)), Some(Pre(_))) => Ordering::Greater,
        (Some(Pre(x)), Some(Pre(y))) | (Some(Post(x)), Some(Post(y))) => x.cmp(y),
    }
}

/// Orders two version strings as explained in the module documentation.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ta, tb) = (tokens(a), tokens(b));
    let n = ta.len().max(tb.len());
    for i in 0..n {
        let o = cmp_token(ta.get(i), tb.get(i));
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Splits a version as banners print it into the upstream version and the upstream patch level
/// that NVD keeps in the CPE `update` field: `9.2p1` → (`9.2`, `p1`), `2.4.49` → (`2.4.49`, None).
pub fn split_update(v: &str) -> (String, Option<String>) {
    let b = v.as_bytes();
    // A trailing `p<digits>` after a digit (OpenSSH portable, FreeBSD patch levels).
    if let Some(pos) = v.rfind(['p', 'P'])
        && pos > 0
        && b.get(pos - 1).is_some_and(u8::is_ascii_digit)
        && pos + 1 < v.len()
        && v[pos + 1..].bytes().all(|c| c.is_ascii_digit())
    {
        return (v[..pos].to_string(), Some(v[pos..].to_ascii_lowercase()));
    }
    (v.to_string(), None)
}

/// True when the text looks like a version at all (starts with a digit, has no spaces).
pub fn looks_like_version(v: &str) -> bool {
    v.chars().next().is_some_and(|c| c.is_ascii_digit()) && !v.contains(char::is_whitespace) && v.len() <= 64
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn vendor_schemes_order_as_vendors_mean() {
        let cases = [
            ("9.2p1", "9.8", Less),
            ("9.8p1", "9.8", Greater),
            ("9.8", "9.8.0", Equal),
            ("8.5p1", "8.6", Less),
            ("2.4.49", "2.4.50", Less),
            ("2.4.9", "2.4.49", Less),
            ("4.87", "4.91", Less),
            ("4.92", "4.91", Greater),
            ("7.0.12", "7.0.9", Greater),
            ("1.0.2k", "1.0.2", Greater),
            ("1.0.2k", "1.0.2l", Less),
            ("3.0.0-rc1", "3.0.0", Less),
            ("3.0.0-beta2", "3.0.0-rc1", Less),
            ("1.20.1", "1.20.1", Equal),
            ("7.2p10", "7.2p9", Greater),
            ("18446744073709551616999", "2", Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn update_is_split_only_for_patch_levels() {
        assert_eq!(split_update("9.2p1"), ("9.2".into(), Some("p1".into())));
        assert_eq!(split_update("2.4.49"), ("2.4.49".into(), None));
        assert_eq!(split_update("p1"), ("p1".into(), None));
        assert_eq!(split_update("1.0.2p"), ("1.0.2p".into(), None));
    }

    #[test]
    fn hostile_lengths_are_bounded() {
        let long = "1.".repeat(100_000);
        assert_eq!(compare(&long, &long), Equal);
    }
}
