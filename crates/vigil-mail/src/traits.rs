//! Message traits that are not tied to one header or one link: display names disguised with
//! styled or invisible Unicode, machine-generated names, sender domains built from chains of
//! throw-away subdomains, callback ("call this number to cancel") lures, links that carry the
//! reader's address or bounce through open redirectors and cloud storage pages, and the sender
//! of a forwarded (user-reported) message. Pure functions over strings, bounded by input caps.

/// Characters that render as nothing and are used to split words so brand filters miss them:
/// zero-width, soft hyphen, variation selectors and Unicode tag characters.
fn is_invisible(c: char) -> bool {
    matches!(c as u32, 0x200B..=0x200F | 0x2060..=0x2064 | 0xFEFF | 0x00AD | 0x034F | 0xFE00..=0xFE0F | 0xE0000..=0xE01EF | 0x180E)
}

/// ASCII letter or digit behind a "styled" character: Mathematical Alphanumeric Symbols
/// (bold, italic, sans-serif… U+1D400–U+1D7FF), full-width forms, and circled/enclosed letters.
fn styled_to_ascii(c: char) -> Option<char> {
    let cp = c as u32;
    let letters = |i: u32| {
        let i = i % 52;
        char::from_u32(if i < 26 { 'A' as u32 + i } else { 'a' as u32 + i - 26 })
    };
    match cp {
        0x1D400..=0x1D6A3 => letters(cp - 0x1D400),
        0x1D7CE..=0x1D7FF => char::from_u32('0' as u32 + (cp - 0x1D7CE) % 10),
        0xFF10..=0xFF19 | 0xFF21..=0xFF3A | 0xFF41..=0xFF5A => char::from_u32(cp - 0xFEE0),
        0x24B6..=0x24CF => char::from_u32('A' as u32 + cp - 0x24B6),
        0x24D0..=0x24E9 => char::from_u32('a' as u32 + cp - 0x24D0),
        0x1F130..=0x1F149 => char::from_u32('A' as u32 + cp - 0x1F130),
        0x1F150..=0x1F169 => char::from_u32('A' as u32 + cp - 0x1F150),
        0x1F170..=0x1F189 => char::from_u32('A' as u32 + cp - 0x1F170),
        0x1F1E6..=0x1F1FF => char::from_u32('A' as u32 + cp - 0x1F1E6),
        _ => None,
    }
}

/// A display name or address with its disguise removed, and what the disguise was.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Folded {
    pub text: String,
    pub invisible: usize,
    pub styled: usize,
}

/// Removes invisible characters and maps styled letters to ASCII ("M\u{E0139}icrosoft" and
/// "𝗠𝗶𝗰𝗿𝗼𝘀𝗼𝗳𝘁" both become "Microsoft"), counting each kind.
pub fn fold(s: &str) -> Folded {
    let mut f = Folded::default();
    for c in s.chars().take(1000) {
        if is_invisible(c) {
            f.invisible += 1;
        } else if let Some(a) = styled_to_ascii(c) {
            f.styled += 1;
            f.text.push(a);
        } else {
            f.text.push(c);
        }
    }
    f
}

/// True when a name looks machine-generated: a long run of consonants or almost no vowels
/// ("lsrkpzwjhnjynfj", "wbekhdjoobaxohdsppxrjtmpxtsyrc"), or random case ("JndLebIg"), or
/// letters and digits shuffled together ("r9pcx1dtc9j2").
pub fn looks_random(s: &str) -> bool {
    let s: String = s.chars().take(128).collect();
    let letters: Vec<char> = s.chars().filter(|c| c.is_ascii_alphabetic()).collect();
    if letters.len() < 7 {
        return false;
    }
    let lower: Vec<char> = letters.iter().map(|c| c.to_ascii_lowercase()).collect();
    let vowel = |c: char| matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y');
    let vowels = lower.iter().filter(|c| vowel(**c)).count();
    let mut run = 0usize;
    let mut max_run = 0usize;
    for c in &lower {
        if vowel(*c) {
            run = 0;
        } else {
            run += 1;
            max_run = max_run.max(run);
        }
    }
    // Case flips inside the word, ignoring the first letter and a CamelCase boundary or two.
    let upper: Vec<bool> = letters.iter().map(|c| c.is_ascii_uppercase()).collect();
    let flips = upper.windows(2).skip(1).filter(|w| w.first() != w.get(1)).count();
    // Letter/digit alternations: "r9pcx1dtc9j2" flips 6 times; "john1975" once.
    let kinds: Vec<bool> = s.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.is_ascii_digit()).collect();
    let alternations = kinds.windows(2).filter(|w| w.first() != w.get(1)).count();
    max_run >= 6 || (lower.len() >= 10 && vowels * 100 < lower.len() * 15) || flips >= 4 || (alternations >= 5 && letters.len() >= 7)
}

/// Sender domains assembled from many throw-away labels ("a.b.c.d.e.f.g.h.1.fayn.sa.com",
/// "r.a.g.n.a.r.r.65.allii2.shop"): returns the number of labels when suspicious.
pub fn subdomain_chain(domain: &str) -> Option<usize> {
    let labels: Vec<&str> = domain.split('.').take(64).collect();
    let single = labels.iter().filter(|l| l.chars().count() == 1).count();
    (labels.len() >= 7 || single >= 3).then_some(labels.len())
}

/// Hosting for the "landing page" of a kit: cloud object storage and serverless endpoints,
/// where anyone can publish an HTML page under the provider's reputable name.
const CLOUD_PAGE_HOSTS: &[&str] = &[
    "s3.amazonaws.com",
    "amazonaws.com",
    "storage.googleapis.com",
    "firebasestorage.googleapis.com",
    "blob.core.windows.net",
    "web.core.windows.net",
    "cloudfunctions.net",
    "run.app",
    "appspot.com",
    "r2.dev",
    "r2.cloudflarestorage.com",
    "digitaloceanspaces.com",
    "backblazeb2.com",
    "wasabisys.com",
    "cloudfront.net",
    "ipfs.io",
    "dweb.link",
    "cloudflare-ipfs.com",
    "gateway.pinata.cloud",
    "ipfs.w3s.link",
    "nftstorage.link",
    "fleek.co",
    "4everland.io",
];

/// Dynamic-DNS zones: anyone gets a name under them in a minute.
const DYNAMIC_DNS: &[&str] = &[
    "duckdns.org",
    "ddns.net",
    "hopto.org",
    "zapto.org",
    "sytes.net",
    "serveftp.com",
    "no-ip.org",
    "no-ip.biz",
    "noip.me",
    "dynu.net",
    "freeddns.org",
    "dyndns.org",
    "dynv6.net",
    "myddns.me",
    "mooo.com",
    "afraid.org",
    "ddnsfree.com",
    "servehttp.com",
    "myftp.org",
    "webhop.me",
    "3utilities.com",
    "bounceme.net",
    "freemyip.com",
    "ngrok.io",
    "ngrok-free.app",
    "serveo.net",
    "loca.lt",
    "trycloudflare.com",
];

fn host_in(host: &str, list: &[&str]) -> bool {
    list.iter().any(|d| host == *d || host.strip_suffix(d).is_some_and(|p| p.ends_with('.')))
}

pub fn is_dynamic_dns(host: &str) -> bool {
    host_in(host, DYNAMIC_DNS)
}

/// A page published on cloud storage or a serverless endpoint: an `.html`/`.htm`/`.php`/`.svg`
/// object, an IPFS path, or a serverless function (their URLs carry no file name).
pub fn cloud_page(href: &str, host: &str) -> bool {
    if !host_in(host, CLOUD_PAGE_HOSTS) && !href.to_ascii_lowercase().contains("/ipfs/") {
        return false;
    }
    let lower = href.to_ascii_lowercase();
    let path = lower.split(['?', '#']).next().unwrap_or_default();
    path.ends_with(".html")
        || path.ends_with(".htm")
        || path.ends_with(".shtml")
        || path.ends_with(".php")
        || path.ends_with(".svg")
        || lower.contains("/ipfs/")
        || host_in(host, &["cloudfunctions.net", "run.app", "ipfs.io", "dweb.link", "cloudflare-ipfs.com", "gateway.pinata.cloud"])
}

/// Services whose URLs bounce the browser to any address given in a parameter; phishing wraps
/// its real link in them to borrow their reputation. Returns the embedded target's host.
pub fn open_redirect(href: &str, host: &str) -> Option<String> {
    let lower = href.to_ascii_lowercase();
    let known = [
        ("translate.google.", "u="),
        ("translate.goog", ""),
        ("google.", "/url?"),
        ("google.", "/amp/s/"),
        ("bing.com", "/ck/a"),
        ("linkedin.com", "/slink"),
        ("l.facebook.com", "u="),
        ("lm.facebook.com", "u="),
        ("l.instagram.com", "u="),
        ("t.umblr.com", "z="),
        ("youtube.com", "/redirect"),
        ("awstrack.me", "/l0/"),
        ("safelinks.protection.outlook.com", "url="),
        ("urldefense.com", "/v3/"),
        ("duckduckgo.com", "/l/"),
        ("yandex.", "/redirect"),
    ];
    if !known.iter().any(|(h, p)| host.contains(h) && lower.contains(p)) {
        return None;
    }
    embedded_target(&lower).filter(|t| t != host)
}

/// The host of a URL embedded in another URL's path or query, plain or percent-encoded.
fn embedded_target(lower: &str) -> Option<String> {
    let after_host = lower.split_once("://").map(|x| x.1).unwrap_or(lower);
    let rest = after_host.get(after_host.find(['/', '?']).unwrap_or(after_host.len())..).unwrap_or_default();
    let decoded = rest.replace("%3a", ":").replace("%2f", "/").replace("%252f", "/").replace("%253a", ":");
    for marker in ["https://", "http://", "https:/", "http:/"] {
        if let Some(p) = decoded.find(marker) {
            let tail = decoded.get(p + marker.len()..).unwrap_or_default().trim_start_matches('/');
            let h: String = tail.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-').take(253).collect();
            if h.contains('.') {
                return Some(h);
            }
        }
    }
    // translate.google.com/translate?u=host/path without a scheme.
    if let Some(p) = decoded.find("u=") {
        let h: String = decoded
            .get(p + 2..)
            .unwrap_or_default()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
            .take(253)
            .collect();
        if h.contains('.') && !h.starts_with('.') {
            return Some(h);
        }
    }
    None
}

/// Links that exist to unsubscribe or manage preferences legitimately carry the reader's
/// address; other links carrying it prefill a sign-in page with the victim's mailbox.
pub fn is_list_management(href: &str, text: &str) -> bool {
    let h = href.to_ascii_lowercase();
    let t = text.to_ascii_lowercase();
    ["unsub", "optout", "opt-out", "opt_out", "remove", "preference", "manage", "subscription", "abmelden", "desinscri", "退订", "mailto:"]
        .iter()
        .any(|k| h.contains(k) || t.contains(k))
}

/// Whether `href` carries `addr` (plain or with the `@` percent-encoded).
pub fn carries_address(href: &str, addr: &str) -> bool {
    if addr.len() < 3 || !addr.contains('@') {
        return false;
    }
    let h = href.to_ascii_lowercase();
    h.contains(addr) || h.contains(&addr.replace('@', "%40"))
}

/// A telephone number as printed in callback scams: 10–13 digits written with spaces,
/// dashes, dots or parentheses ("(888) 896 9562", "1 865 283-6923", "+1-800-555-0199").
pub fn find_phone(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().take(20_000).collect();
    let mut i = 0usize;
    while i < chars.len() {
        let c = chars.get(i).copied().unwrap_or(' ');
        let prev_ok = i == 0 || chars.get(i - 1).is_some_and(|p| !p.is_ascii_alphanumeric());
        if (c.is_ascii_digit() || c == '+' || c == '(') && prev_ok {
            let mut j = i;
            let mut digits = 0usize;
            let mut groups = 1usize;
            // "(888) 896": a parenthesis and a space may stand together, never more.
            let mut sep_run = 0usize;
            let mut end = i;
            while j < chars.len() && j - i < 24 {
                let d = chars.get(j).copied().unwrap_or(' ');
                if d.is_ascii_digit() {
                    digits += 1;
                    sep_run = 0;
                    end = j + 1;
                } else if matches!(d, ' ' | '-' | '.' | '(' | ')' | '+') && sep_run < 2 {
                    if j > i && sep_run == 0 {
                        groups += 1;
                    }
                    sep_run += 1;
                } else {
                    break;
                }
                j += 1;
            }
            let next_ok = chars.get(end).is_none_or(|n| !n.is_ascii_alphanumeric());
            if (10..=13).contains(&digits) && groups >= 3 && next_ok {
                let s: String = chars.get(i..end).unwrap_or_default().iter().collect();
                return Some(s.trim().to_string());
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    None
}

/// Words that turn a printed phone number into a callback lure: a charge or renewal the reader
/// did not make, to be "cancelled" by calling.
const CALLBACK_WORDS: &[&str] = &[
    "call us",
    "call our",
    "please call",
    "helpline",
    "help line",
    "support desk",
    "customer support",
    "customer care",
    "toll free",
    "toll-free",
    "billing department",
    "contact us at",
    "reach us at",
    "cancel",
    "dispute",
    "refund",
    "致电",
    "拨打",
    "客服电话",
];
const CHARGE_WORDS: &[&str] = &[
    "charged",
    "will be charged",
    "renewal",
    "renewed",
    "auto-renew",
    "subscription",
    "membership",
    "invoice",
    "order",
    "purchase",
    "transaction",
    "amount",
    "payment",
    "扣款",
    "续费",
    "订单",
    "发票",
];

/// A callback lure: a phone number with "call to cancel" and "you were charged" wording.
pub fn callback_lure(text: &str) -> Option<String> {
    let phone = find_phone(text)?;
    let lower: String = text.chars().take(20_000).collect::<String>().to_lowercase();
    let call = CALLBACK_WORDS.iter().find(|w| lower.contains(*w))?;
    let charge = CHARGE_WORDS.iter().find(|w| lower.contains(*w))?;
    Some(format!("phone {phone} with \"{call}\" and \"{charge}\""))
}

/// The sender line of a forwarded message in the body ("From: Name <a@b>", "De:", "Von:",
/// "Van:", "发件人:"), as (display name, address), when the body is a forward.
pub fn forwarded_sender(text: &str) -> Option<(String, String)> {
    let head: String = text.chars().take(8000).collect();
    let lower = head.to_lowercase();
    let is_forward =
        ["forwarded message", "original message", "enviado:", "gesendet:", "verzonden:", "sent:", "envoyé :", "envoyé:", "发送时间"]
            .iter()
            .any(|k| lower.contains(k));
    if !is_forward {
        return None;
    }
    for line in head.lines().take(200) {
        let l = line.trim().trim_start_matches(['*', '>', ' ']).trim();
        let rest = ["From:", "De:", "Von:", "Van:", "Da:", "发件人:", "发件人："]
            .iter()
            .find_map(|p| l.strip_prefix(p).or_else(|| l.strip_prefix(&p.replace(':', "*:"))));
        let Some(rest) = rest else { continue };
        let rest = rest.trim().trim_start_matches('*').trim();
        let (name, addr) = match (rest.find('<'), rest.rfind('>')) {
            (Some(a), Some(b)) if a < b => (
                rest.get(..a).unwrap_or_default().trim().trim_matches('"').to_string(),
                rest.get(a + 1..b).unwrap_or_default().trim().to_string(),
            ),
            _ => (String::new(), rest.split_whitespace().find(|w| w.contains('@')).unwrap_or_default().to_string()),
        };
        let addr = addr.trim_start_matches("mailto:").trim().to_string();
        if addr.contains('@') && addr.len() <= 254 {
            return Some((name.chars().take(200).collect(), addr));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_styled_and_invisible() {
        let f = fold("M\u{E0139}\u{E0139}i\u{200B}crosoft");
        assert_eq!(f.text, "Microsoft");
        assert_eq!(f.invisible, 3);
        let g = fold("𝗲𝗯𝗮𝘆@𝗲𝗯𝗮𝘆.𝗱e");
        assert_eq!(g.text, "ebay@ebay.de");
        assert_eq!(g.styled, 9);
        assert_eq!(fold("Ｐａｙｐａｌ").text, "Paypal");
        assert_eq!(fold("plain").styled + fold("plain").invisible, 0);
    }

    #[test]
    fn random_names() {
        for r in ["lsrkpzwjhnjynfj", "wbekhdjoobaxohdsppxrjtmpxtsyrc", "JndLebIg", "r9pcx1dtc9j2", "TSgBsjqQ"] {
            assert!(looks_random(r), "{r}");
        }
        for n in [
            "JohnSmithIT",
            "john.smith",
            "jm",
            "rssfeeds",
            "zzzzteana",
            "postmaster",
            "linux-kernel",
            "Christopher",
            "john1975",
            "webmaster",
            "MacDonald",
            "strengths",
        ] {
            assert!(!looks_random(n), "{n}");
        }
    }

    #[test]
    fn subdomain_chains() {
        assert_eq!(subdomain_chain("a.b.c.d.e.f.g.h.1.fayn.sa.com"), Some(12));
        assert!(subdomain_chain("r.a.g.n.a.r.r.65.allii2.shop").is_some());
        assert!(subdomain_chain("mail.example.co.uk").is_none());
    }

    #[test]
    fn cloud_pages_and_redirects() {
        assert!(cloud_page("https://storage.googleapis.com/ba1d/ali.html#x", "storage.googleapis.com"));
        assert!(cloud_page("https://us-central1-x.cloudfunctions.net/statement", "us-central1-x.cloudfunctions.net"));
        assert!(!cloud_page("https://s3.amazonaws.com/bucket/report.pdf", "s3.amazonaws.com"));
        assert!(!cloud_page("https://example.com/a.html", "example.com"));
        assert_eq!(
            open_redirect("https://translate.google.com/translate?sl=auto&u=evil.example/x", "translate.google.com").as_deref(),
            Some("evil.example")
        );
        assert_eq!(
            open_redirect("https://www.google.com/url?q=https%3A%2F%2Fbad.example%2Fp", "www.google.com").as_deref(),
            Some("bad.example")
        );
        assert_eq!(
            open_redirect("https://x.r.us-east-1.awstrack.me/L0/https:%2F%2Fbaka.example%2Fs/1/", "x.r.us-east-1.awstrack.me").as_deref(),
            Some("baka.example")
        );
        assert!(open_redirect("https://www.google.com/search?q=rust", "www.google.com").is_none());
        assert!(is_dynamic_dns("login.duckdns.org"));
        assert!(!is_dynamic_dns("notduckdns.org"));
    }

    #[test]
    fn phones_and_callback() {
        assert_eq!(find_phone("Call (888) 896 9562 now").as_deref(), Some("(888) 896 9562"));
        assert_eq!(find_phone("Desk: 1 865 283-6923.").as_deref(), Some("1 865 283-6923"));
        assert!(find_phone("order 12543456 on 06-04-2025").is_none());
        assert!(find_phone("version 2.6.18-1.2798.fc6").is_none());
        assert!(callback_lure("You will be charged $348.80 for your membership. Helpline Number: 844 584-4936").is_some());
        assert!(callback_lure("Meeting at 10:00, room 4. Call me.").is_none());
    }

    #[test]
    fn forwarded_senders() {
        let t = "---------- Forwarded message ---------\nFrom: Walmart <info_1x@wbekhd.rr.com>\nDate: Sun";
        assert_eq!(forwarded_sender(t), Some(("Walmart".into(), "info_1x@wbekhd.rr.com".into())));
        let pt = "________________________________\n*De:* Darya <support@mj.com>\n*Enviado:* sábado";
        assert_eq!(forwarded_sender(pt).map(|x| x.1), Some("support@mj.com".into()));
        assert!(forwarded_sender("From: a@b.c\nno forward here").is_none());
    }

    #[test]
    fn addresses_in_links() {
        assert!(carries_address("https://x.example/?email=bob%40corp.example", "bob@corp.example"));
        assert!(!carries_address("https://x.example/?id=1", "bob@corp.example"));
        assert!(is_list_management("https://x.example/unsubscribe?e=bob@corp.example", ""));
    }
}
