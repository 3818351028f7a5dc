//! Domain names: registrable domains, punycode, homoglyph skeletons, mixed scripts, edit
//! distance, and the lookalike judgement that ties them together ("is this sender domain a
//! cousin of one of ours, a supplier's or a customer's?").
//!
//! Everything here works on attacker-controlled strings, so every loop is bounded by a cap on
//! the input length and no function indexes without a check.

/// Longest domain (RFC 1035 limit) we look at; anything longer is cut, which only makes a
/// lookalike comparison less likely, never a panic.
const MAX_DOMAIN: usize = 253;
/// Longest label compared by edit distance; the matrix is `(n+1)²` cells.
const MAX_LABEL: usize = 63;

/// Second-level public suffixes common enough in mail to matter. A full public suffix list
/// would be more exact; this short table keeps `registrable("x.com.cn") == "x.com.cn"` right
/// for the suffixes phishing actually uses, without a large dependency.
const MULTI_SUFFIXES: &[&str] = &[
    "com.cn", "net.cn", "org.cn", "gov.cn", "edu.cn", "ac.cn", "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au",
    "edu.au", "com.br", "net.br", "org.br", "gov.br", "co.jp", "ne.jp", "or.jp", "ac.jp", "co.kr", "or.kr", "com.tw", "org.tw", "com.hk",
    "org.hk", "com.sg", "com.my", "co.in", "net.in", "org.in", "co.nz", "co.za", "com.mx", "com.ar", "com.tr", "com.ru", "com.ua", "co.id",
    "or.id", "com.ph", "com.vn", "co.th", "in.th", "com.pk", "com.ng", "com.eg", "com.sa", "co.il", "com.pl", "com.es", "com.co", "com.pe",
    "com.ve",
];

/// Lower-cases, trims dots and angle brackets, decodes punycode labels, and caps the length.
pub fn normalize(domain: &str) -> String {
    let d: String = domain.trim().trim_matches(|c| c == '.' || c == '<' || c == '>').chars().take(MAX_DOMAIN).collect();
    let lower = d.to_lowercase();
    if lower.split('.').any(|l| l.starts_with("xn--")) {
        let (u, res) = idna::domain_to_unicode(&lower);
        if res.is_ok() {
            return u;
        }
    }
    lower
}

/// True when some label of the (raw) domain is an IDNA A-label (`xn--…`).
pub fn has_punycode(domain: &str) -> bool {
    domain.to_ascii_lowercase().split('.').any(|l| l.starts_with("xn--"))
}

/// The registrable domain ("example.com.cn" for "mail.example.com.cn").
pub fn registrable(domain: &str) -> String {
    let d = domain.trim_end_matches('.');
    let labels: Vec<&str> = d.split('.').filter(|l| !l.is_empty()).collect();
    let n = labels.len();
    if n <= 2 {
        return labels.join(".");
    }
    let last2 = format!("{}.{}", labels[n - 2], labels[n - 1]);
    if MULTI_SUFFIXES.contains(&last2.as_str()) { labels[n - 3..].join(".") } else { last2 }
}

/// The label a person reads as "the name": `paypal` in `login.paypal.com.cn`.
pub fn brand_label(domain: &str) -> String {
    registrable(domain).split('.').next().unwrap_or_default().to_string()
}

/// Maps visually confusable characters to the Latin letters they imitate (Cyrillic, Greek,
/// full-width and a few Latin look-alikes), and digits to the letters they stand in for.
fn confusable(c: char) -> Option<&'static str> {
    Some(match c {
        // Cyrillic
        'а' => "a",
        'в' => "b",
        'с' => "c",
        'ԁ' => "d",
        'е' | 'ё' | 'є' => "e",
        'һ' => "h",
        'і' | 'ї' | 'ӏ' => "i",
        'ј' => "j",
        'к' => "k",
        'м' => "m",
        'н' => "h",
        'о' => "o",
        'р' => "p",
        'ԛ' => "q",
        'ѕ' => "s",
        'т' => "t",
        'ц' => "u",
        'ѵ' => "v",
        'ԝ' => "w",
        'х' => "x",
        'у' => "y",
        'ү' => "y",
        'г' => "r",
        'ɡ' => "g",
        'п' => "n",
        'ь' => "b",
        // Greek
        'α' => "a",
        'β' => "b",
        'ε' => "e",
        'η' => "n",
        'ι' | 'ί' => "i",
        'κ' => "k",
        'ν' => "v",
        'ο' | 'ό' => "o",
        'ρ' => "p",
        'τ' => "t",
        'υ' | 'ύ' => "u",
        'χ' => "x",
        'γ' => "y",
        'ω' => "w",
        'μ' => "u",
        // Latin look-alikes and accents attackers use
        'ı' => "i",
        'ł' => "l",
        'ɩ' => "i",
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ą' => "a",
        'ç' | 'ć' | 'č' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'ę' | 'ė' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ñ' | 'ń' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' => "u",
        'ý' | 'ÿ' => "y",
        'ś' | 'š' => "s",
        'ž' | 'ź' | 'ż' => "z",
        'ß' => "ss",
        // digits standing in for letters
        '0' => "o",
        '1' => "l",
        '3' => "e",
        '5' => "s",
        '@' => "a",
        '$' => "s",
        _ => return None,
    })
}

/// The "skeleton" of a label: every confusable mapped to its Latin twin, full-width folded,
/// and multi-letter tricks (`rn`→`m`, `vv`→`w`, `cl`→`d`, `l`/`i` unified) collapsed, so two
/// names that look the same on screen get the same skeleton.
pub fn skeleton(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().take(MAX_DOMAIN) {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        };
        let lc = c.to_lowercase().next().unwrap_or(c);
        match confusable(lc) {
            Some(r) => out.push_str(r),
            None => out.push(lc),
        }
    }
    out.replace("rn", "m").replace("vv", "w").replace("cl", "d").replace('i', "l")
}

/// The script of a letter, coarse: enough to tell Latin from Cyrillic from Greek from CJK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    Latin,
    Cyrillic,
    Greek,
    Han,
    Other,
}

fn script_of(c: char) -> Option<Script> {
    if c.is_ascii_alphabetic() || ('\u{00C0}'..='\u{024F}').contains(&c) {
        Some(Script::Latin)
    } else if ('\u{0400}'..='\u{052F}').contains(&c) {
        Some(Script::Cyrillic)
    } else if ('\u{0370}'..='\u{03FF}').contains(&c) {
        Some(Script::Greek)
    } else if ('\u{4E00}'..='\u{9FFF}').contains(&c) || ('\u{3400}'..='\u{4DBF}').contains(&c) {
        Some(Script::Han)
    } else if c.is_alphabetic() {
        Some(Script::Other)
    } else {
        None
    }
}

/// True when one label mixes Latin with Cyrillic or Greek letters — the classic homograph.
pub fn mixed_script(label: &str) -> bool {
    let mut seen: Vec<Script> = Vec::new();
    for c in label.chars().take(MAX_LABEL) {
        if let Some(s) = script_of(c)
            && !seen.contains(&s)
        {
            seen.push(s);
        }
    }
    seen.contains(&Script::Latin) && (seen.contains(&Script::Cyrillic) || seen.contains(&Script::Greek))
}

/// Optimal-string-alignment Damerau–Levenshtein distance, over at most `MAX_LABEL` chars each.
pub fn damerau(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(MAX_LABEL).collect();
    let b: Vec<char> = b.chars().take(MAX_LABEL).collect();
    let (n, m) = (a.len(), b.len());
    let w = m + 1;
    let mut d = vec![0usize; (n + 1) * w];
    for (i, row) in d.chunks_mut(w).enumerate() {
        if let Some(first) = row.first_mut() {
            *first = i;
        }
    }
    for (j, cell) in d.iter_mut().take(w).enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1).min(d[i * w + j - 1] + 1).min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[n * w + m]
}

/// Words attackers glue to a brand to make a plausible cousin (`paypal-secure-login.com`).
const COMBO_WORDS: &[&str] = &[
    "login",
    "logon",
    "signin",
    "sign-in",
    "secure",
    "security",
    "verify",
    "verification",
    "account",
    "accounts",
    "support",
    "help",
    "helpdesk",
    "service",
    "services",
    "update",
    "mail",
    "webmail",
    "portal",
    "auth",
    "sso",
    "admin",
    "it",
    "vpn",
    "online",
    "billing",
    "invoice",
    "pay",
    "payment",
    "cloud",
    "office",
    "online",
    "team",
    "alert",
    "notice",
    "id",
    "access",
    "password",
    "reset",
    "recovery",
    "hr",
    "cn",
    "group",
    "corp",
    "official",
];

/// How a domain imitates a protected one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookalike {
    /// Same skeleton after confusables, different characters (e.g. Cyrillic `а` in `pаypal`).
    Homoglyph,
    /// Latin mixed with Cyrillic/Greek in one label.
    MixedScript,
    /// Damerau–Levenshtein distance ≤ 2 from the protected label.
    EditDistance(usize),
    /// The protected name plus a word (`acme-vpn.com`, `acmesupport.net`).
    Combosquat,
    /// Same name under another top-level domain (`acme.co` for `acme.com`).
    TldSwap,
}

impl Lookalike {
    pub fn describe(&self) -> String {
        match self {
            Lookalike::Homoglyph => "homoglyph".into(),
            Lookalike::MixedScript => "mixed scripts".into(),
            Lookalike::EditDistance(d) => format!("edit distance {d}"),
            Lookalike::Combosquat => "combosquatting".into(),
            Lookalike::TldSwap => "same name, other TLD".into(),
        }
    }
}

/// Judges `candidate` against one protected domain. `None` when it IS that domain (or a
/// subdomain of it) or does not resemble it.
pub fn lookalike(candidate: &str, protected: &str) -> Option<Lookalike> {
    let cand = normalize(candidate);
    let prot = normalize(protected);
    if cand.is_empty() || prot.is_empty() {
        return None;
    }
    if cand == prot || cand.ends_with(&format!(".{prot}")) {
        return None;
    }
    let creg = registrable(&cand);
    let preg = registrable(&prot);
    if creg == preg {
        return None;
    }
    let clab = brand_label(&cand);
    let plab = brand_label(&prot);
    if plab.chars().count() < 3 {
        return None;
    }
    if !clab.is_ascii() && mixed_script(&clab) && skeleton(&clab) == skeleton(&plab) {
        return Some(Lookalike::MixedScript);
    }
    if clab != plab && skeleton(&clab) == skeleton(&plab) {
        return Some(Lookalike::Homoglyph);
    }
    if clab == plab {
        return Some(Lookalike::TldSwap);
    }
    // Short names give too many accidental neighbours at distance 2.
    let plen = plab.chars().count();
    let max_d = if plen >= 6 {
        2
    } else if plen >= 4 {
        1
    } else {
        0
    };
    let d = damerau(&clab, &plab);
    if d > 0 && d <= max_d {
        return Some(Lookalike::EditDistance(d));
    }
    let sk = skeleton(&clab);
    let psk = skeleton(&plab);
    if plen >= 4 && sk.contains(&psk) && sk != psk {
        let rest = sk.replacen(&psk, "", 1);
        let rest = rest.trim_matches(|c: char| c == '-' || c == '.' || c.is_ascii_digit());
        let parts: Vec<&str> = rest.split('-').filter(|p| !p.is_empty()).collect();
        if !parts.is_empty() && parts.iter().all(|p| COMBO_WORDS.contains(p))
            || COMBO_WORDS.contains(&rest)
            || cand.contains(&format!("{plab}-"))
            || cand.contains(&format!("-{plab}"))
        {
            return Some(Lookalike::Combosquat);
        }
    }
    None
}

/// The host part of an address (`a@b.c` → `b.c`), lower-cased.
pub fn domain_of(addr: &str) -> Option<String> {
    let (_, d) = addr.trim().trim_matches(|c| c == '<' || c == '>').rsplit_once('@')?;
    let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
    (!d.is_empty()).then_some(d)
}

/// The last label of a host name, lower-case.
pub fn tld_of(host: &str) -> &str {
    host.trim_end_matches('.').rsplit('.').next().unwrap_or_default()
}

/// True when `s` looks like an IPv4/IPv6 literal host (also the `[…]` and decimal forms).
pub fn is_ip_literal(host: &str) -> bool {
    let h = host.trim_matches(|c| c == '[' || c == ']');
    if h.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    // Single decimal or hex number hosts (`http://3232235777/`) are IPs too.
    !h.is_empty()
        && h.len() <= 12
        && (h.chars().all(|c| c.is_ascii_digit()) || (h.starts_with("0x") && h.len() > 2 && h[2..].chars().all(|c| c.is_ascii_hexdigit())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_handles_multi_label_suffixes() {
        assert_eq!(registrable("mail.example.com.cn"), "example.com.cn");
        assert_eq!(registrable("a.b.example.com"), "example.com");
        assert_eq!(registrable("example.com"), "example.com");
    }

    #[test]
    fn punycode_is_decoded_and_homoglyph_caught() {
        // "xn--pypal-4ve.com" is "pаypal.com" with a Cyrillic а.
        let n = normalize("xn--pypal-4ve.com");
        assert_eq!(n, "pаypal.com");
        assert!(has_punycode("xn--pypal-4ve.com"));
        let l = lookalike("xn--pypal-4ve.com", "paypal.com");
        assert!(matches!(l, Some(Lookalike::MixedScript) | Some(Lookalike::Homoglyph)), "{l:?}");
    }

    #[test]
    fn homoglyph_with_digits_and_rn() {
        assert_eq!(lookalike("paypa1.com", "paypal.com"), Some(Lookalike::Homoglyph));
        assert_eq!(lookalike("rnicrosoft.com", "microsoft.com"), Some(Lookalike::Homoglyph));
        assert_eq!(lookalike("g00gle.com", "google.com"), Some(Lookalike::Homoglyph));
    }

    #[test]
    fn mixed_script_detected_only_when_mixed() {
        assert!(mixed_script("pаypal"));
        assert!(!mixed_script("paypal"));
        assert!(!mixed_script("пример"));
    }

    #[test]
    fn edit_distance_lookalikes() {
        assert_eq!(damerau("acmecorp", "acmecrop"), 1);
        assert_eq!(damerau("abc", "abc"), 0);
        assert_eq!(damerau("", "abc"), 3);
        assert_eq!(lookalike("acmecrop.com", "acmecorp.com"), Some(Lookalike::EditDistance(1)));
        assert_eq!(lookalike("acmecorpp.cn", "acmecorp.com.cn"), Some(Lookalike::EditDistance(1)));
        assert_eq!(lookalike("totallyother.com", "acmecorp.com"), None);
        // The real domain and its subdomains are not lookalikes.
        assert_eq!(lookalike("vpn.acmecorp.com", "acmecorp.com"), None);
        assert_eq!(lookalike("acmecorp.com", "acmecorp.com"), None);
    }

    #[test]
    fn combosquatting_and_tld_swap() {
        assert_eq!(lookalike("acmecorp-vpn.com", "acmecorp.com"), Some(Lookalike::Combosquat));
        assert_eq!(lookalike("acmecorpsupport.net", "acmecorp.com"), Some(Lookalike::Combosquat));
        assert_eq!(lookalike("acmecorp.co", "acmecorp.com"), Some(Lookalike::TldSwap));
    }

    #[test]
    fn ip_literals() {
        assert!(is_ip_literal("192.168.1.1"));
        assert!(is_ip_literal("[::1]"));
        assert!(is_ip_literal("3232235777"));
        assert!(!is_ip_literal("example.com"));
    }
}
