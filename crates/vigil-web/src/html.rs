//! HTML built so that attacker text cannot become markup: every value interpolated with
//! [`html!`] is escaped, and a [`Markup`] can only be made from escaped text, from `'static`
//! literals written in this crate, or by joining other `Markup`. The macro refuses format
//! strings with inline captures (`{name}`), which `format!` would insert unescaped.

use std::fmt::{self, Display, Write as _};

/// Text known to be safe HTML.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Markup(String);

impl Markup {
    pub fn new() -> Markup {
        Markup(String::new())
    }
    /// A literal written in this crate's source.
    pub fn lit(s: &'static str) -> Markup {
        Markup(s.to_string())
    }
    /// Escaped text.
    pub fn text(s: &str) -> Markup {
        Markup(Esc(s).to_string())
    }
    pub fn push(&mut self, m: Markup) {
        self.0.push_str(&m.0);
    }
    pub fn push_lit(&mut self, s: &'static str) {
        self.0.push_str(s);
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Only for [`html!`]: the format string is a literal checked by [`no_inline_args`] and
    /// every argument went through [`Esc`].
    #[doc(hidden)]
    pub fn from_checked_format(s: String) -> Markup {
        Markup(s)
    }
}

impl FromIterator<Markup> for Markup {
    fn from_iter<I: IntoIterator<Item = Markup>>(iter: I) -> Markup {
        let mut m = Markup::new();
        for x in iter {
            m.push(x);
        }
        m
    }
}

/// Displays its value with HTML special characters escaped; control characters and the Unicode
/// direction overrides (which can make text read backwards) are replaced by U+FFFD.
pub struct Esc<T>(pub T);

impl<T: Display> Display for Esc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct W<'a, 'b>(&'a mut fmt::Formatter<'b>);
        impl fmt::Write for W<'_, '_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                for ch in s.chars() {
                    match ch {
                        '&' => self.0.write_str("&amp;")?,
                        '<' => self.0.write_str("&lt;")?,
                        '>' => self.0.write_str("&gt;")?,
                        '"' => self.0.write_str("&quot;")?,
                        '\'' => self.0.write_str("&#39;")?,
                        '\n' | '\t' => self.0.write_char(ch)?,
                        c if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') => {
                            self.0.write_char('\u{fffd}')?
                        }
                        c => self.0.write_char(c)?,
                    }
                }
                Ok(())
            }
        }
        write!(W(f), "{}", self.0)
    }
}

/// Whether a format string has no inline captures (`{x}`, `{x:?}`): only `{}`, `{:...}` and `{{`.
pub const fn no_inline_args(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' {
            if i + 1 < b.len() && b[i + 1] == b'{' {
                i += 2;
                continue;
            }
            if i + 1 < b.len() && b[i + 1] != b'}' && b[i + 1] != b':' {
                return false;
            }
        }
        i += 1;
    }
    true
}

/// `format!` for HTML: every argument is escaped; the result is [`Markup`].
#[macro_export]
macro_rules! html {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {{
        const _: () = assert!($crate::html::no_inline_args($fmt), "html!: pass values as arguments, not inline captures");
        $crate::html::Markup::from_checked_format(format!($fmt $(, $crate::html::Esc(&$arg))*))
    }};
}

/// Shortens long attacker-controlled values for lists (the detail page shows them whole).
pub fn clip(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max_chars).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_inert() {
        let evil = "<script>alert(1)</script>\"' onmouseover=x \u{0}\u{1b}[31m \u{202e}gnp.exe &amp;";
        let m = html!("<td title=\"{}\">{}</td>", evil, evil);
        let s = m.as_str();
        assert!(!s.contains("<script"), "{s}");
        assert!(!s.contains("\" onmouseover"));
        assert!(!s.contains('\u{0}') && !s.contains('\u{1b}') && !s.contains('\u{202e}'));
        assert!(s.contains("&lt;script&gt;") && s.contains("&amp;amp;") && s.contains("&#39;"));
        assert!(s.starts_with("<td title=\"") && s.ends_with("</td>"));
    }

    #[test]
    fn inline_captures_are_detected() {
        assert!(no_inline_args("<b>{}</b> {:.2} {{literal}}"));
        assert!(!no_inline_args("<b>{name}</b>"));
        assert!(!no_inline_args("{x:?}"));
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("abc", 3), "abc");
    }
}
