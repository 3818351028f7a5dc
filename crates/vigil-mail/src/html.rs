//! A small, bounded HTML scanner for what phishing hides in markup: anchors whose visible text
//! names another host than the target, IP-literal and shortened URLs, credential-harvesting
//! forms, and HTML smuggling (a payload assembled in the browser from `data:`/`atob`/`Blob`).
//! It is not an HTML parser: it looks at tags and attributes case-insensitively, which is what
//! mail clients render and what attackers cannot avoid writing.

use crate::domain;

/// HTML beyond this many bytes is not scanned (a phishing page fits easily).
pub const MAX_HTML: usize = 2 << 20;
/// At most this many links are kept per message.
pub const MAX_LINKS: usize = 500;

/// Public URL shorteners: a shortened link hides the real target from the reader and filters.
const SHORTENERS: &[&str] = &[
    "bit.ly",
    "tinyurl.com",
    "t.co",
    "goo.gl",
    "ow.ly",
    "is.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "shorturl.at",
    "t.ly",
    "rb.gy",
    "tiny.cc",
    "bl.ink",
    "s.id",
    "v.gd",
    "lnkd.in",
    "t.cn",
    "url.cn",
    "dwz.cn",
    "suo.im",
    "qrco.de",
    "shorturl.com",
    "clck.ru",
    "u.to",
    "x.co",
    "soo.gd",
    "short.io",
    "bit.do",
    "tr.im",
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    pub href: String,
    /// Host of the target, lower-case, without port/credentials.
    pub host: String,
    /// Visible text, tags stripped, whitespace collapsed (empty for text-body URLs).
    pub text: String,
}

#[derive(Clone, Debug, Default)]
pub struct HtmlFacts {
    pub links: Vec<Link>,
    /// (anchor text host, href host) pairs where the visible text names another host.
    pub mismatched: Vec<(String, String)>,
    pub password_form: bool,
    /// Hosts of `<form action=…>` targets.
    pub form_hosts: Vec<String>,
    /// Why the HTML looks like smuggling, if it does.
    pub smuggling: Option<String>,
    /// `<meta http-equiv=refresh>` or `location.href=` redirects (typical of HTML attachments).
    pub redirect: bool,
    /// Characters of visible text (tags, scripts and styles removed, whitespace collapsed).
    pub visible_chars: usize,
    /// CSS that hides content: `display:none`, `visibility:hidden`, zero/one-pixel fonts or
    /// offsets of thousands of pixels (filler text pushed off screen to fool filters).
    pub hidden_css: bool,
}

/// Host of a URL (`https://user@Host:443/x` → `host`), or None when there is none.
pub fn url_host(url: &str) -> Option<String> {
    let u = url.trim();
    let lower = u.to_ascii_lowercase();
    let rest = if let Some(p) = lower.find("://") {
        let scheme = lower.get(..p)?;
        if !scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.') {
            return None;
        }
        lower.get(p + 3..)?
    } else if let Some(r) = lower.strip_prefix("//") {
        r
    } else if let Some(r) = lower.strip_prefix("www.") {
        return url_host(&format!("http://www.{r}"));
    } else {
        return None;
    };
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let auth = rest.get(..end)?;
    let hostport = auth.rsplit('@').next().unwrap_or(auth);
    let host = if hostport.starts_with('[') {
        hostport.split(']').next().map(|h| format!("{h}]")).unwrap_or_default()
    } else {
        hostport.split(':').next().unwrap_or_default().to_string()
    };
    let host = host.trim_end_matches('.').to_string();
    (!host.is_empty() && host.len() <= 253).then_some(host)
}

pub fn is_shortener(host: &str) -> bool {
    SHORTENERS.contains(&host) || SHORTENERS.iter().any(|s| host.ends_with(&format!(".{s}")))
}

/// URLs in plain text (`http://`, `https://`), up to `MAX_LINKS`.
pub fn text_links(text: &str, out: &mut Vec<Link>) {
    let lower = text.to_ascii_lowercase();
    let mut pos = 0usize;
    while out.len() < MAX_LINKS {
        let Some(rel) = lower.get(pos..).and_then(|s| s.find("http")) else { break };
        let start = pos + rel;
        let tail = lower.get(start..).unwrap_or_default();
        if !(tail.starts_with("http://") || tail.starts_with("https://")) {
            pos = start + 4;
            continue;
        }
        let end = tail.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ']')).unwrap_or(tail.len());
        let url = text.get(start..start + end).unwrap_or_default();
        if let Some(host) = url_host(url) {
            out.push(Link { href: url.chars().take(2048).collect(), host, text: String::new() });
        }
        pos = start + end.max(4);
    }
}

fn find_ci(hay: &str, needle: &str, from: usize) -> Option<usize> {
    hay.get(from..)?.find(needle).map(|p| p + from)
}

/// The value of attribute `name` inside one tag's text (lower-cased copy `tag_l`, original `tag`).
fn attr(tag: &str, tag_l: &str, name: &str) -> Option<String> {
    let mut from = 0;
    loop {
        let p = find_ci(tag_l, name, from)?;
        from = p + name.len();
        let before_ok = p == 0 || tag_l[..p].ends_with(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '/');
        let after = tag_l.get(from..)?.trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let vstart = tag_l.len() - after.len() + 1;
        let rest = tag.get(vstart..)?.trim_start();
        let (val, _) = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let r = rest.get(1..)?;
                let e = r.find(q).unwrap_or(r.len());
                (r.get(..e)?, 0)
            }
            _ => {
                let e = rest.find(|c: char| c.is_whitespace() || c == '>').unwrap_or(rest.len());
                (rest.get(..e)?, 0)
            }
        };
        return Some(decode_entities(val));
    }
}

fn decode_entities(s: &str) -> String {
    s.replace("&amp;", "&").replace("&#58;", ":").replace("&#x3a;", ":").replace("&#47;", "/").replace("&quot;", "\"")
}

fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(512));
    let mut in_tag = false;
    for c in s.chars().take(4096) {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = decode_entities(&out).replace("&nbsp;", " ");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A host named in visible anchor text ("www.bank.com", "https://bank.com/login"), if any.
fn host_in_text(text: &str) -> Option<String> {
    let t = text.trim().trim_end_matches(['.', ',', ';']).to_ascii_lowercase();
    if t.contains(' ') || !t.contains('.') {
        return None;
    }
    if let Some(h) = url_host(&t) {
        return Some(h);
    }
    // A bare "bank.com" or "bank.com/login": letters-digits-dots-dashes and a TLD of letters.
    let host = t.split(['/', '?', '#']).next()?;
    let tld = host.rsplit('.').next()?;
    let looks_host = host.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-')
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic())
        && !host.contains('@');
    looks_host.then(|| host.to_string())
}

/// Scans one HTML document.
pub fn scan(html: &str) -> HtmlFacts {
    let html = match html.char_indices().nth(MAX_HTML) {
        Some((i, _)) => html.get(..i).unwrap_or(html),
        None => html,
    };
    let lower = html.to_ascii_lowercase();
    let mut f = HtmlFacts::default();
    let mut pos = 0usize;
    let mut tags = 0usize;
    while let Some(lt) = find_ci(&lower, "<", pos) {
        tags += 1;
        if tags > 200_000 {
            break;
        }
        let gt = find_ci(&lower, ">", lt).unwrap_or(lower.len());
        let tag_l = lower.get(lt..gt).unwrap_or_default();
        let tag = html.get(lt..gt).unwrap_or_default();
        pos = gt.max(lt + 1);
        if tag_l.starts_with("<a ") || tag_l.starts_with("<a\n") || tag_l.starts_with("<a\t") || tag_l.starts_with("<area ") {
            let Some(href) = attr(tag, tag_l, "href") else { continue };
            // The anchor text ends at `</a`, looked for within 4 KiB only: a page of unclosed
            // anchors must not make every anchor scan the rest of the document.
            let window_end = gt.saturating_add(4096).min(lower.len());
            let close =
                lower.as_bytes().get(gt..window_end).and_then(|w| w.windows(3).position(|x| x == b"</a")).map_or(window_end, |p| gt + p);
            let inner = html.get(gt.saturating_add(1).min(html.len())..close.max(gt.saturating_add(1)).min(html.len())).unwrap_or_default();
            let text = strip_tags(inner);
            let hl = href.trim().to_ascii_lowercase();
            if hl.starts_with("data:") && !hl.starts_with("data:image/") {
                f.smuggling.get_or_insert_with(|| "link to a data: URI".into());
            }
            if let Some(host) = url_host(&href) {
                if let Some(th) = host_in_text(&text) {
                    let same = domain::registrable(&domain::normalize(&th)) == domain::registrable(&domain::normalize(&host));
                    if !same && f.mismatched.len() < 20 {
                        f.mismatched.push((th, host.clone()));
                    }
                }
                if f.links.len() < MAX_LINKS {
                    f.links.push(Link { href: href.chars().take(2048).collect(), host, text: text.chars().take(200).collect() });
                }
            }
        } else if tag_l.starts_with("<form") {
            if let Some(action) = attr(tag, tag_l, "action")
                && let Some(h) = url_host(&action)
                && f.form_hosts.len() < 20
            {
                f.form_hosts.push(h);
            }
            if !f.form_hosts.is_empty() || tag_l.contains("post") {
                // keep scanning; password inputs decide
            }
        } else if tag_l.starts_with("<input") {
            if let Some(t) = attr(tag, tag_l, "type")
                && t.eq_ignore_ascii_case("password")
            {
                f.password_form = true;
            }
        } else if tag_l.starts_with("<meta") && tag_l.contains("refresh") && tag_l.contains("url=") {
            f.redirect = true;
        } else if (tag_l.starts_with("<iframe") || tag_l.starts_with("<embed") || tag_l.starts_with("<object"))
            && (tag_l.contains("src=\"data:") || tag_l.contains("data=\"data:"))
            && !tag_l.contains("data:image/")
        {
            f.smuggling.get_or_insert_with(|| "embedded data: document".into());
        }
    }
    // Script-side smuggling: decode a blob in the browser and hand it to the user as a download.
    let has = |s: &str| lower.contains(s);
    if has("atob(") && has("blob") && (has("download") || has("createobjecturl") || has("mssaveoropenblob")) {
        f.smuggling = Some("script assembles a Blob from base64 (atob) and offers it for download".into());
    } else if has("new blob(") && (has(".download") || has("mssaveoropenblob")) {
        f.smuggling.get_or_insert_with(|| "script builds a Blob and triggers a download".into());
    }
    f.visible_chars = visible_len(html, &lower);
    f.hidden_css = [
        "display:none",
        "display: none",
        "visibility:hidden",
        "visibility: hidden",
        "font-size:0",
        "font-size: 0",
        "font-size:1px",
        "font-size: 1px",
    ]
    .iter()
    .any(|p| lower.contains(p))
        || huge_offset(&lower);
    if has("window.location.href") || has("window.location.replace(") || has("document.location.href=") {
        f.redirect = true;
    }
    f
}

/// Visible characters, ignoring tags, `<style>`/`<script>`/`<head>` content and whitespace.
fn visible_len(html: &str, lower: &str) -> usize {
    let mut n = 0usize;
    let mut i = 0usize;
    let mut in_tag = false;
    let b = lower.as_bytes();
    while i < b.len() {
        if !in_tag && b[i] == b'<' {
            for (open, close) in [("<style", "</style"), ("<script", "</script"), ("<head", "</head"), ("<!--", "-->")] {
                if lower.get(i..).is_some_and(|r| r.starts_with(open)) {
                    i = lower.get(i..).and_then(|r| r.find(close)).map_or(b.len(), |p| i + p);
                    break;
                }
            }
            in_tag = true;
        } else if in_tag && b[i] == b'>' {
            in_tag = false;
        } else if !in_tag && !b[i].is_ascii_whitespace() && (b[i] & 0xC0) != 0x80 {
            n += 1;
        }
        i += 1;
    }
    let _ = html;
    n.saturating_sub(lower.matches("&nbsp;").count() * 5)
}

/// A CSS length of 1000px or more in a margin/top/left/text-indent (content moved off screen).
fn huge_offset(lower: &str) -> bool {
    for key in ["margin-top:", "margin-left:", "top:", "left:", "text-indent:"] {
        let mut from = 0;
        for _ in 0..50 {
            let Some(p) = lower.get(from..).and_then(|s| s.find(key)) else { break };
            let v = lower.get(from + p + key.len()..).unwrap_or_default().trim_start().trim_start_matches('-');
            let digits: String = v.chars().take_while(|c| c.is_ascii_digit()).collect();
            if digits.len() >= 4 && v.get(digits.len()..).is_some_and(|r| r.starts_with("px")) {
                return true;
            }
            from += p + key.len();
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_text_and_target_mismatch() {
        let f = scan(r#"<p>Log in at <A HREF="http://evil.example.net/x">https://www.mybank.com/login</a></p>"#);
        assert_eq!(f.mismatched, vec![("www.mybank.com".to_string(), "evil.example.net".to_string())]);
        let ok = scan(r#"<a href="https://www.mybank.com/a?b">www.mybank.com</a>"#);
        assert!(ok.mismatched.is_empty());
        assert_eq!(ok.links.len(), 1);
        // Plain words are not hosts.
        assert!(scan(r#"<a href="http://x.org">Click here.</a>"#).mismatched.is_empty());
    }

    #[test]
    fn credential_form() {
        let f = scan(r#"<form action="https://collector.example/p.php" method=post><input type="password" name=p></form>"#);
        assert!(f.password_form);
        assert_eq!(f.form_hosts, vec!["collector.example".to_string()]);
    }

    #[test]
    fn smuggling_detected() {
        let f = scan("<script>var b=atob('TVqQ');var blob=new Blob([b]);a.download='x.iso';a.href=URL.createObjectURL(blob)</script>");
        assert!(f.smuggling.is_some());
        let f = scan(r#"<a href="data:application/octet-stream;base64,TVqQAAM" download="inv.exe">x</a>"#);
        assert!(f.smuggling.is_some());
        assert!(scan(r#"<img src="data:image/png;base64,iVBOR">"#).smuggling.is_none());
    }

    #[test]
    fn visible_text_and_hidden_css() {
        let f = scan(
            "<html><head><style>p{color:red}</style></head><body><p>Hi  there</p><div style=\"margin-top: 470500px\">filler</div></body>",
        );
        assert_eq!(f.visible_chars, "Hitherefiller".len());
        assert!(f.hidden_css);
        assert!(!scan("<p style='margin-top:10px'>x</p>").hidden_css);
    }

    #[test]
    fn url_hosts() {
        assert_eq!(url_host("https://user:pw@Example.COM:8443/x").as_deref(), Some("example.com"));
        assert_eq!(url_host("http://[::1]/").as_deref(), Some("[::1]"));
        assert_eq!(url_host("mailto:a@b"), None);
        assert!(is_shortener("bit.ly"));
        let mut v = Vec::new();
        text_links("see http://1.2.3.4/login and https://a.b/c.", &mut v);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].host, "1.2.3.4");
    }

    #[test]
    fn hostile_html_is_bounded() {
        let s = "<a href=".repeat(100_000);
        let f = scan(&s);
        assert!(f.links.len() <= MAX_LINKS);
        let _ = scan("<");
        let _ = scan("<a href=\"");
        let _ = scan("<a href='http://é");
    }
}
