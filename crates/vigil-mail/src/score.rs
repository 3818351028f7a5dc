//! Signals and their combination. Each signal carries a hand-set weight in 0–1, read as "the
//! probability this trait alone makes the message phishing"; the score is their noisy-OR,
//! `1 − Π(1 − wᵢ)`, so independent weak traits add up while no single weak trait (a Reply-To
//! elsewhere, one lure word) can reach the threshold. Mail to administrators is raised by
//! `1 − (1 − s)^ADMIN_EXPONENT`. The weights and threshold are documented in `docs/MAIL.md`.

use crate::attach::AttachSignal;
use crate::auth::{AuthResult, SigCheck};
use crate::html::{self, HtmlFacts};
use crate::{MailConfig, Person, domain, lure, traits};
use serde::Serialize;

/// A message scoring at or above this is reported as phishing.
pub const DEFAULT_THRESHOLD: f64 = 0.5;
/// Exponent applied to the miss probability for mail to administrators (> 1 raises the score).
pub const ADMIN_EXPONENT: f64 = 1.4;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Signal {
    pub name: &'static str,
    pub weight: f64,
    pub detail: String,
}

impl Signal {
    pub fn new(name: &'static str, weight: f64, detail: impl Into<String>) -> Self {
        Signal { name, weight, detail: detail.into() }
    }
}

/// Noisy-OR of the weights, in 0..1.
pub fn combine(signals: &[Signal]) -> f64 {
    let miss: f64 = signals.iter().map(|s| 1.0 - s.weight.clamp(0.0, 0.99)).product();
    (1.0 - miss).clamp(0.0, 1.0)
}

pub fn raise_for_admin(s: f64) -> f64 {
    (1.0 - (1.0 - s).powf(ADMIN_EXPONENT)).clamp(0.0, 1.0)
}

pub fn short(s: &str, n: usize) -> String {
    let t: String = s.chars().filter(|c| !c.is_control()).take(n).collect();
    if s.chars().count() > n { format!("{t}…") } else { t }
}

/// Everything the signals look at.
pub struct Input<'a> {
    pub from_name: &'a str,
    pub from_addr: &'a str,
    /// The From local part with its original case (addresses are otherwise lower-cased).
    pub from_local_raw: &'a str,
    /// The raw From header value (styled or invisible characters survive here).
    pub from_header_raw: &'a str,
    pub reply_to: &'a str,
    pub return_path: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub recipients: &'a [String],
    pub html: &'a [HtmlFacts],
    pub html_attachment: &'a [HtmlFacts],
    pub attach: &'a [AttachSignal],
    pub auth_results: &'a [AuthResult],
    pub signatures: &'a [SigCheck],
    pub dkim_domains: &'a [String],
    pub list_mail: bool,
    pub has_message_id: bool,
    pub has_date: bool,
    pub header_count: usize,
    pub parts: usize,
    pub html_only: bool,
    /// Non-blank characters of the plain-text bodies.
    pub plain_chars: usize,
    pub invisible: usize,
    pub config: &'a MailConfig,
    pub directory: &'a [Person],
}

/// Brands phishing imitates most, with the registrable labels they really send from. A brand
/// in the display name with a sender domain outside its labels is impersonation.
const BRANDS: &[(&str, &[&str])] = &[
    (
        "microsoft",
        &[
            "microsoft",
            "outlook",
            "office",
            "office365",
            "live",
            "hotmail",
            "microsoftonline",
            "sharepoint",
            "onmicrosoft",
            "msn",
            "azure",
            "windows",
            "skype",
            "bing",
            "xbox",
            "linkedin",
        ],
    ),
    ("office 365", &["microsoft", "office", "office365", "outlook", "onmicrosoft"]),
    ("outlook", &["microsoft", "outlook", "office", "live", "hotmail"]),
    ("onedrive", &["microsoft", "onedrive", "live", "sharepoint"]),
    ("sharepoint", &["microsoft", "sharepoint", "onmicrosoft"]),
    ("google", &["google", "gmail", "googlemail", "youtube", "googlegroups"]),
    ("gmail", &["google", "gmail", "googlemail"]),
    ("apple", &["apple", "icloud", "me", "mac"]),
    ("icloud", &["apple", "icloud"]),
    ("amazon", &["amazon", "amazonses", "aws", "amazonaws"]),
    ("paypal", &["paypal", "paypal-communications"]),
    ("netflix", &["netflix"]),
    ("facebook", &["facebook", "facebookmail", "meta", "fb"]),
    ("instagram", &["instagram", "facebookmail", "meta"]),
    ("whatsapp", &["whatsapp", "facebookmail", "meta"]),
    ("linkedin", &["linkedin"]),
    ("dropbox", &["dropbox", "dropboxmail"]),
    ("docusign", &["docusign"]),
    ("adobe", &["adobe", "adobesign", "echosign"]),
    ("dhl", &["dhl"]),
    ("fedex", &["fedex"]),
    ("ups", &["ups"]),
    ("usps", &["usps"]),
    ("wells fargo", &["wellsfargo"]),
    ("chase", &["chase", "jpmorgan"]),
    ("bank of america", &["bankofamerica", "bofa"]),
    ("hsbc", &["hsbc"]),
    ("santander", &["santander"]),
    ("itaú", &["itau"]),
    ("itau", &["itau"]),
    ("bradesco", &["bradesco"]),
    ("caixa", &["caixa"]),
    ("banco do brasil", &["bb", "bancodobrasil"]),
    ("nubank", &["nubank"]),
    ("mercado pago", &["mercadopago", "mercadolibre", "mercadolivre"]),
    ("metamask", &["metamask", "consensys"]),
    ("trust wallet", &["trustwallet"]),
    ("coinbase", &["coinbase"]),
    ("binance", &["binance"]),
    ("ledger", &["ledger"]),
    ("kraken", &["kraken"]),
    ("proton", &["proton", "protonmail"]),
    ("yahoo", &["yahoo", "yahoo-inc"]),
    ("zoom", &["zoom"]),
    ("github", &["github"]),
    ("gitlab", &["gitlab"]),
    ("npm", &["npmjs", "github"]),
    ("docker", &["docker"]),
    ("alibaba", &["alibaba", "aliyun", "alipay", "taobao"]),
    ("aliyun", &["aliyun", "alibaba"]),
    ("tencent", &["tencent", "qq", "wechat", "weixin"]),
    ("wechat", &["wechat", "weixin", "tencent", "qq"]),
    ("支付宝", &["alipay", "alibaba"]),
    ("微信", &["wechat", "weixin", "tencent", "qq"]),
    ("腾讯", &["tencent", "qq"]),
    ("阿里", &["alibaba", "aliyun", "alipay"]),
    ("工商银行", &["icbc"]),
    ("建设银行", &["ccb"]),
    ("招商银行", &["cmbchina"]),
    ("la poste", &["laposte", "lapostemail"]),
    ("laposte", &["laposte"]),
    ("colissimo", &["laposte", "colissimo"]),
    ("chronopost", &["chronopost"]),
    ("postnl", &["postnl"]),
    ("correios", &["correios"]),
    ("dpd", &["dpd"]),
    ("royal mail", &["royalmail"]),
    ("canada post", &["canadapost", "postescanada"]),
    ("australia post", &["auspost"]),
    ("opensea", &["opensea"]),
    ("steam", &["steampowered", "steamcommunity"]),
    ("norton", &["norton", "nortonlifelock"]),
    ("mcafee", &["mcafee"]),
    ("顺丰", &["sf-express", "sf"]),
    ("中国邮政", &["chinapost", "11185"]),
    ("ebay", &["ebay"]),
    ("walmart", &["walmart"]),
    ("costco", &["costco"]),
    ("best buy", &["bestbuy"]),
    ("geek squad", &["bestbuy", "geeksquad"]),
    ("lifelock", &["norton", "nortonlifelock", "lifelock", "gen"]),
    ("american express", &["americanexpress", "aexp", "amex"]),
    ("amex", &["americanexpress", "aexp", "amex"]),
    ("mastercard", &["mastercard"]),
    ("visa", &["visa"]),
    ("spotify", &["spotify"]),
    ("disney", &["disney", "disneyplus"]),
    ("airbnb", &["airbnb"]),
    ("booking", &["booking"]),
    ("robinhood", &["robinhood"]),
    ("ftx", &["ftx"]),
    ("lido", &["lido"]),
    ("uniswap", &["uniswap"]),
    ("kucoin", &["kucoin"]),
    ("bybit", &["bybit"]),
    ("okx", &["okx"]),
    ("crypto com", &["crypto"]),
    ("tesla", &["tesla"]),
    ("elon musk", &["tesla", "spacex", "x"]),
    ("louis vuitton", &["louisvuitton", "lv"]),
    ("adac", &["adac"]),
    ("deutsche bahn", &["bahn", "deutschebahn", "db"]),
    ("sparkasse", &["sparkasse"]),
    ("ing", &["ing"]),
    ("rabobank", &["rabobank"]),
    ("abn amro", &["abnamro"]),
    ("ancv", &["ancv"]),
    ("ameli", &["ameli"]),
    ("impots", &["impots", "gouv"]),
    ("irs", &["irs"]),
    ("hmrc", &["hmrc", "gov"]),
    ("webmail", &[]),
];

/// Display names that claim to be the institution's IT staff or mail system.
const IT_ROLES: &[&str] = &[
    "administrator",
    "admin",
    "it support",
    "it department",
    "it service",
    "it-service",
    "it help",
    "helpdesk",
    "help desk",
    "service desk",
    "servicedesk",
    "mail server",
    "email server",
    "mail administrator",
    "mail admin",
    "postmaster",
    "mailer-daemon",
    "mail delivery",
    "security team",
    "account team",
    "system administrator",
    "technical support",
    "tech support",
    "support team",
    "管理员",
    "信息中心",
    "网络中心",
    "系统",
    "运维",
    "技术支持",
];

const FREEMAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "msn.com",
    "aol.com",
    "mail.ru",
    "yandex.ru",
    "yandex.com",
    "qq.com",
    "163.com",
    "126.com",
    "sina.com",
    "sohu.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "proton.me",
    "protonmail.com",
    "icloud.com",
    "zoho.com",
    "mail.com",
    "inbox.ru",
    "bk.ru",
    "list.ru",
    "yeah.net",
];

/// Free hosting and form services phishing kits live on; legitimate corporate mail rarely
/// links there for a sign-in.
const FREE_HOSTING: &[&str] = &[
    "web.app",
    "firebaseapp.com",
    "firebasestorage.googleapis.com",
    "ipfs.io",
    "dweb.link",
    "r2.dev",
    "pages.dev",
    "workers.dev",
    "000webhostapp.com",
    "weebly.com",
    "wixsite.com",
    "glitch.me",
    "herokuapp.com",
    "ngrok.io",
    "ngrok-free.app",
    "trycloudflare.com",
    "azurewebsites.net",
    "web.core.windows.net",
    "blob.core.windows.net",
    "storage.googleapis.com",
    "sites.google.com",
    "forms.gle",
    "translate.goog",
    "duckdns.org",
    "github.io",
    "notion.site",
    "square.site",
    "jotform.com",
    "formspree.io",
    "typeform.com",
    "godaddysites.com",
    "webflow.io",
    "vercel.app",
    "netlify.app",
    "surge.sh",
    "replit.dev",
    "repl.co",
    "mybluehost.me",
    "s3.amazonaws.com",
    "myftp.org",
    "servehttp.com",
];

/// Anchor texts that ask the reader to act (sign in, verify, open a document…).
const CTA: &[&str] = &[
    "click here",
    "verify",
    "verify now",
    "log in",
    "login",
    "sign in",
    "update",
    "update now",
    "confirm",
    "unlock",
    "restore",
    "validate",
    "reactivate",
    "review",
    "view document",
    "open document",
    "view message",
    "view invoice",
    "claim",
    "access",
    "secure",
    "keep password",
    "upgrade",
    "klik hier",
    "hier klicken",
    "jetzt",
    "clique aqui",
    "acessar",
    "acesse",
    "haga clic",
    "cliquez ici",
    "点击",
    "立即",
    "登录",
    "验证",
    "查看",
];

/// TLDs with a high share of abuse in phishing feeds.
const RISKY_TLDS: &[&str] = &[
    "xyz", "top", "club", "online", "site", "icu", "buzz", "live", "shop", "rest", "cyou", "monster", "sbs", "cfd", "click", "link",
    "work", "fit", "gq", "ml", "cf", "tk", "ga", "best", "bar", "quest", "lat", "beauty", "hair", "autos", "boats", "mom", "skin",
    "makeup", "zip", "mov",
];

fn host_matches(host: &str, list: &[&str]) -> bool {
    list.iter().any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

fn tld(host: &str) -> &str {
    host.rsplit('.').next().unwrap_or_default()
}

/// Lower-case words and CJK of a display name, punctuation flattened to spaces.
fn name_norm(s: &str) -> String {
    let t: String = s.chars().take(200).map(|c| if c.is_alphanumeric() { c.to_lowercase().next().unwrap_or(c) } else { ' ' }).collect();
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn contains_word(hay: &str, w: &str) -> bool {
    if !w.is_ascii() {
        return hay.contains(w);
    }
    let hay_p = format!(" {hay} ");
    hay_p.contains(&format!(" {w} "))
}

fn org_of(addr_or_domain: &str) -> String {
    let d = domain::domain_of(addr_or_domain).unwrap_or_else(|| addr_or_domain.to_ascii_lowercase());
    let r = domain::registrable(&domain::normalize(&d));
    // One provider behind several consumer domains: a hotmail.com sender with an msn.com
    // envelope is not a mismatch.
    match r.as_str() {
        "hotmail.com" | "msn.com" | "live.com" | "outlook.com" | "passport.com" => "microsoft-consumer".into(),
        "yahoo.com" | "yahoo.co.uk" | "ymail.com" | "rocketmail.com" => "yahoo-consumer".into(),
        "gmail.com" | "googlemail.com" => "google-consumer".into(),
        _ => r,
    }
}

/// "lido.fi", "paypal.com": two or more labels, an alphabetic TLD of 2–6 letters and a
/// name label of at least 2 characters (initials like "j.r." do not qualify).
fn looks_like_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    let tld_ok = labels.last().is_some_and(|t| (2..=6).contains(&t.len()) && t.chars().all(|c| c.is_ascii_lowercase()));
    let name_ok = labels.len() >= 2
        && labels.iter().rev().nth(1).is_some_and(|l| l.chars().count() >= 2 && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
    tld_ok && name_ok && labels.iter().all(|l| !l.is_empty())
}

/// Computes every signal of one message.
pub fn signals(i: &Input<'_>) -> Vec<Signal> {
    let mut out = Vec::new();
    let from_domain = domain::domain_of(i.from_addr).unwrap_or_default();
    let from_org = if from_domain.is_empty() { String::new() } else { org_of(&from_domain) };
    let own: Vec<String> = i.config.own_domains.iter().map(|d| d.to_ascii_lowercase()).collect();
    let partners: Vec<String> = i.config.partner_domains.iter().map(|d| d.to_ascii_lowercase()).collect();
    let from_is_own = own.iter().any(|d| from_org == org_of(d));

    authentication(i, &from_org, from_is_own, &mut out);
    sender(i, &from_domain, &from_org, &own, &partners, &mut out);
    links(i, &from_org, &own, &partners, &mut out);
    attachments(i, &mut out);
    lures(i, &mut out);
    message_traits(i, &from_domain, &from_org, &mut out);
    out
}

fn authentication(i: &Input<'_>, from_org: &str, from_is_own: bool, out: &mut Vec<Signal>) {
    let mut seen: Vec<&str> = Vec::new();
    for r in i.auth_results {
        let scale = if r.trusted { 1.0 } else { 0.5 };
        let who = if r.trusted { "trusted" } else { "untrusted, topmost" };
        let (name, w): (&'static str, f64) = match (r.method.as_str(), r.result.as_str()) {
            ("dmarc", "fail") => ("dmarc_fail", 0.6),
            ("compauth", "fail") => ("compauth_fail", 0.45),
            ("spf", "fail") => ("spf_fail", 0.3),
            ("spf", "softfail") => ("spf_softfail", 0.15),
            ("dkim", "fail") => ("dkim_fail", 0.3),
            ("arc", "fail") => ("arc_fail", 0.2),
            _ => continue,
        };
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        let server = if r.authserv_id.is_empty() { "an unnamed server".to_string() } else { short(&r.authserv_id, 60) };
        out.push(Signal::new(name, w * scale, format!("{}={} from {server} ({who})", r.method, r.result)));
    }
    // Mail claiming to be from our own domain must be authenticated by our own servers.
    if from_is_own {
        let trusted_pass = i
            .auth_results
            .iter()
            .any(|r| r.trusted && (r.method == "dmarc" || r.method == "dkim" || r.method == "spf") && r.result == "pass");
        let crypto_pass = i.signatures.iter().any(|s| s.method == "dkim" && s.result == "pass" && org_of(&s.domain) == from_org);
        if !trusted_pass && !crypto_pass && !i.config.trusted_authserv_ids.is_empty() {
            out.push(Signal::new("own_domain_unauthenticated", 0.5, "From is one of our domains but no trusted pass"));
        }
    }
    for s in i.signatures {
        match s.result.as_str() {
            "fail" | "permerror" => {
                let name = if s.method == "arc" { "arc_signature_invalid" } else { "dkim_signature_invalid" };
                out.push(Signal::new(
                    name,
                    0.4,
                    format!("{} d={} s={}: {}", s.method, short(&s.domain, 60), short(&s.selector, 40), short(&s.reason, 80)),
                ));
            }
            _ => {}
        }
    }
}

fn sender(i: &Input<'_>, from_domain: &str, from_org: &str, own: &[String], partners: &[String], out: &mut Vec<Signal>) {
    // Styled letters and invisible characters are folded away first, so "𝗠𝗶𝗰𝗿𝗼𝘀𝗼𝗳𝘁" and
    // "M\u{E0139}icrosoft" are compared as "microsoft".
    let name = name_norm(&traits::fold(i.from_name).text);
    // Lookalike and cousin domains of ours, our partners', and the big brands'.
    if !from_domain.is_empty() {
        if domain::has_punycode(from_domain) {
            out.push(Signal::new(
                "punycode_sender",
                0.25,
                format!("sender domain {} is {}", short(from_domain, 80), short(&domain::normalize(from_domain), 80)),
            ));
        }
        let lab = domain::brand_label(&domain::normalize(from_domain));
        if domain::mixed_script(&lab) {
            out.push(Signal::new("mixed_script_sender", 0.6, format!("sender domain label {} mixes scripts", short(&lab, 60))));
        }
        let mut found = false;
        for (list, who, w) in [(own, "our domain", 0.85), (partners, "partner domain", 0.75)] {
            for d in list.iter() {
                if let Some(l) = domain::lookalike(from_domain, d) {
                    out.push(Signal::new(
                        "lookalike_sender_domain",
                        w,
                        format!("{} imitates {who} {} ({})", short(from_domain, 80), d, l.describe()),
                    ));
                    found = true;
                    break;
                }
            }
            if found {
                break;
            }
        }
    }
    // Display name: a staff member from the directory, sent from an address that is not theirs.
    if !name.is_empty() {
        for p in i.directory {
            let pn = name_norm(&p.name);
            if pn.chars().count() >= 3 && (name == pn || domain::skeleton(&name) == domain::skeleton(&pn)) && p.email != i.from_addr {
                let w = if p.admin { 0.8 } else { 0.65 };
                out.push(Signal::new(
                    "staff_impersonation",
                    w,
                    format!(
                        "display name \"{}\" is {} ({}) but the address is {}",
                        short(i.from_name, 60),
                        p.email,
                        short(&p.role, 30),
                        short(i.from_addr, 80)
                    ),
                ));
                break;
            }
        }
        // A brand in the display name, a sender domain that is not the brand's.
        let brand_labels_of_sender = domain::brand_label(from_org);
        for (brand, labels) in BRANDS {
            if contains_word(&name, brand) {
                let compact = brand.replace(' ', "");
                let legit =
                    labels.contains(&brand_labels_of_sender.as_str()) || brand_labels_of_sender.contains(&compact) || from_org.is_empty();
                if !legit {
                    out.push(Signal::new(
                        "brand_impersonation",
                        0.45,
                        format!("display name mentions {brand} but the sender domain is {}", short(from_org, 80)),
                    ));
                }
                break;
            }
        }
        // Our own organisation's name in the display name, from elsewhere.
        for d in own.iter().chain(partners.iter()) {
            let lab = domain::brand_label(d);
            if lab.chars().count() >= 4 && contains_word(&name, &lab) && org_of(d) != from_org {
                out.push(Signal::new(
                    "org_name_impersonation",
                    0.5,
                    format!("display name mentions {lab} but the sender domain is {}", short(from_org, 80)),
                ));
                break;
            }
        }
        // IT / mail-system roles from outside.
        let from_is_own = own.iter().any(|d| org_of(d) == from_org);
        if !from_is_own && IT_ROLES.iter().any(|r| contains_word(&name, r)) {
            let w = if host_matches(from_domain, FREEMAIL) { 0.45 } else { 0.35 };
            out.push(Signal::new(
                "it_role_display_name",
                w,
                format!("display name \"{}\" claims an IT role from {}", short(i.from_name, 60), short(from_org, 80)),
            ));
        }
        // An address in the display name that is not the sender's ("support@bank.com <x@evil>").
        if let Some(d) = i.from_name.split_whitespace().find_map(|w| w.contains('@').then(|| domain::domain_of(w)).flatten())
            && org_of(&d) != from_org
            && d.contains('.')
        {
            out.push(Signal::new(
                "display_name_address_mismatch",
                0.45,
                format!("display name shows {} but mail is from {}", short(&d, 60), short(from_org, 80)),
            ));
        }
        // A display name that is itself a domain ("paypal.com <x@elsewhere>").
        let dn = i.from_name.trim().trim_matches('"').to_ascii_lowercase();
        if !dn.contains('@') && !dn.contains(' ') && looks_like_domain(&dn) {
            let shown = domain::registrable(&domain::normalize(&dn));
            if !from_org.is_empty() && shown != from_org {
                out.push(Signal::new(
                    "display_name_address_mismatch",
                    0.4,
                    format!("display name shows {} but mail is from {}", short(&shown, 60), short(from_org, 80)),
                ));
            }
        }
        if i.from_name.chars().any(|c| matches!(c as u32, 0x1F300..=0x1FAFF | 0x2600..=0x27BF)) {
            out.push(Signal::new("emoji_display_name", 0.1, "emoji in the display name"));
        }
    }
    // Reply-To and Return-Path elsewhere.
    if !i.reply_to.is_empty() && !from_org.is_empty() {
        let ro = org_of(i.reply_to);
        if ro != from_org && !ro.is_empty() {
            let free = domain::domain_of(i.reply_to).is_some_and(|d| host_matches(&d, FREEMAIL));
            // Free-mail to free-mail (hotmail → msn) is one person with two accounts.
            let from_free = host_matches(from_domain, FREEMAIL);
            let w = if i.list_mail {
                0.05
            } else if free && from_free {
                0.2
            } else if free {
                0.35
            } else {
                0.25
            };
            out.push(Signal::new("reply_to_mismatch", w, format!("replies go to {} instead of {}", short(&ro, 80), short(from_org, 80))));
        }
    }
    if !i.return_path.is_empty() && !from_org.is_empty() && !i.list_mail {
        let ro = org_of(i.return_path);
        let dkim_aligned = i.dkim_domains.iter().any(|d| org_of(d) == from_org);
        if ro != from_org && !ro.is_empty() && !dkim_aligned {
            out.push(Signal::new(
                "return_path_mismatch",
                0.1,
                format!("envelope sender {} not aligned with {} and no aligned DKIM signature", short(&ro, 80), short(from_org, 80)),
            ));
        }
    }
    if from_domain.is_empty() {
        out.push(Signal::new("no_sender_address", 0.15, "no usable From address"));
    } else if !from_domain.contains('.') || from_domain.ends_with(".local") || from_domain.ends_with(".localdomain") {
        out.push(Signal::new(
            "invalid_sender_domain",
            0.3,
            format!("sender domain {} cannot exist on the Internet", short(from_domain, 60)),
        ));
    } else if host_matches(from_domain, FREE_HOSTING) {
        out.push(Signal::new("sender_on_free_hosting", 0.4, format!("sender domain {} is a free hosting service", short(from_domain, 60))));
    } else if RISKY_TLDS.contains(&domain::tld_of(from_domain)) {
        out.push(Signal::new("risky_tld_sender", 0.15, format!("sender domain {} uses a TLD common in phishing", short(from_domain, 80))));
    }
    if !i.has_message_id {
        out.push(Signal::new("no_message_id", 0.1, "no Message-ID header"));
    }
    // A mailbox address as the greeting or in the subject ("Dear john@acme.com", "john@acme.com:
    // mailbox full"): mass phishing "personalised" by pasting the address, rarely done by real
    // senders, who know the reader's name.
    if let Some(a) = address_greeting(i.subject, i.text) {
        out.push(Signal::new(
            "address_as_greeting",
            0.3,
            format!("subject or greeting addresses the reader by mailbox ({})", short(&a, 60)),
        ));
    }
    // An organisation's name from a free-mail account ("African Union <x@gmail.com>").
    if host_matches(from_domain, FREEMAIL) && ORG_WORDS.iter().any(|w| contains_word(&name, w)) {
        out.push(Signal::new(
            "organisation_from_freemail",
            0.4,
            format!("display name \"{}\" is an organisation but the sender uses {}", short(i.from_name, 60), short(from_domain, 60)),
        ));
    }
    // Machine-made local parts ("renew_iKbolGjWe4y@"): bulk senders rotating addresses.
    let local = if i.from_local_raw.is_empty() { i.from_addr.split('@').next().unwrap_or_default() } else { i.from_local_raw };
    // Bulk senders rotate machine-made local parts ("JndLebIg@", "r9pcx1dtc9j2@"); the parts
    // between separators are judged one by one so "first.last" names stay human.
    // Only a single-token local part is judged: bounce and VERP addresses ("2.20290.44-t9bs…")
    // are machine-made by design and say nothing about the sender.
    if local.len() <= 24 && local.chars().all(|c| c.is_ascii_alphanumeric()) && traits::looks_random(local) {
        out.push(Signal::new("random_sender_local_part", 0.2, format!("sender local part {} looks machine-generated", short(local, 40))));
    }
    // DKIM present but none aligned with From.
    if !from_org.is_empty() && !i.dkim_domains.is_empty() && !i.dkim_domains.iter().any(|d| org_of(d) == from_org) && !i.list_mail {
        // Signed only by a Microsoft 365 tenant's default domain (often a numbered trial
        // tenant, "San19784407.onmicrosoft.com"): an organisation sending under its own name
        // configures DKIM for it; throw-away tenants do not.
        let tenant = i.dkim_domains.iter().all(|d| d.to_ascii_lowercase().ends_with(".onmicrosoft.com"))
            && !from_domain.ends_with(".onmicrosoft.com");
        let w = if tenant { 0.25 } else { 0.1 };
        out.push(Signal::new(
            "dkim_unaligned",
            w,
            format!(
                "DKIM signed by {} only, not by {}",
                short(i.dkim_domains.first().map(String::as_str).unwrap_or_default(), 60),
                short(from_org, 60)
            ),
        ));
    }
}

/// Words that make a display name an organisation rather than a person.
const ORG_WORDS: &[&str] = &[
    "bank",
    "union",
    "team",
    "support",
    "department",
    "service",
    "services",
    "security",
    "office",
    "government",
    "ministry",
    "inc",
    "ltd",
    "llc",
    "co",
    "corp",
    "corporation",
    "company",
    "group",
    "foundation",
    "nations",
    "federal",
    "council",
    "administrator",
    "admin",
    "helpdesk",
    "customer",
    "account",
    "billing",
    "delivery",
    "post",
    "courier",
    "银行",
    "公司",
    "中心",
];

/// The address used as a greeting or in the subject, if any.
fn address_greeting(subject: &str, text: &str) -> Option<String> {
    let token_addr = |s: &str| -> Option<String> {
        let t = s.split_whitespace().next()?.trim_matches(|c: char| !c.is_alphanumeric() && c != '@' && c != '.' && c != '_' && c != '-');
        let (l, d) = t.split_once('@')?;
        (!l.is_empty() && !d.is_empty() && !d.starts_with('.')).then(|| t.to_string())
    };
    let subj = subject.to_lowercase();
    if let Some(a) = subj
        .split(|c: char| c.is_whitespace() || c == ',' || c == ':' || c == '!')
        .find(|w| w.contains('@') && w.split_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty()))
    {
        return Some(a.to_string());
    }
    let t: String = text.chars().take(4000).collect::<String>().to_lowercase();
    for g in [
        "dear",
        "hello",
        "hi",
        "hey",
        "olá",
        "ola",
        "hallo",
        "bonjour",
        "hola",
        "beste",
        "caro",
        "prezado",
        "attn",
        "尊敬的",
        "您好",
        "亲爱的",
    ] {
        let mut from = 0;
        for _ in 0..20 {
            let Some(p) = t.get(from..).and_then(|x| x.find(g)) else { break };
            let start = from + p;
            let before_ok = t.get(..start).and_then(|x| x.chars().next_back()).is_none_or(|c| !c.is_alphanumeric());
            let rest = t.get(start + g.len()..).unwrap_or_default();
            if before_ok && let Some(a) = token_addr(rest.trim_start_matches([',', ':', ' ', '\u{a0}'])) {
                return Some(a);
            }
            from = start + g.len();
        }
    }
    None
}

fn links(i: &Input<'_>, from_org: &str, own: &[String], partners: &[String], out: &mut Vec<Signal>) {
    let all = i.html.iter().chain(i.html_attachment.iter());
    let mut mism = Vec::new();
    let mut ip = None;
    let mut shortener = None;
    let mut free = None;
    let mut risky = None;
    let mut userinfo = None;
    let mut look = None;
    let mut pw = false;
    let mut form_ext = None;
    let mut smuggle = None;
    let mut redirect = false;
    let mut cta = None;
    for h in all {
        mism.extend(h.mismatched.iter().cloned());
        pw |= h.password_form;
        if smuggle.is_none() {
            smuggle = h.smuggling.clone();
        }
        redirect |= h.redirect;
        for fh in &h.form_hosts {
            if org_of(fh) != from_org && form_ext.is_none() {
                form_ext = Some(fh.clone());
            }
        }
        for l in &h.links {
            let host = l.host.as_str();
            if cta.is_none() && !l.text.is_empty() && org_of(host) != from_org {
                let t = name_norm(&l.text);
                if t.chars().count() <= 40 && CTA.iter().any(|c| contains_word(&t, c)) {
                    cta = Some(format!("\"{}\" links to {}", short(&l.text, 40), short(host, 80)));
                }
            }
            if ip.is_none() && domain::is_ip_literal(host) {
                ip = Some(host.to_string());
            }
            if shortener.is_none() && html::is_shortener(host) {
                shortener = Some(host.to_string());
            }
            if free.is_none() && host_matches(host, FREE_HOSTING) {
                free = Some(host.to_string());
            }
            if risky.is_none() && RISKY_TLDS.contains(&tld(host)) {
                risky = Some(host.to_string());
            }
            if userinfo.is_none()
                && l.href.split("://").nth(1).is_some_and(|r| r.split(['/', '?', '#']).next().unwrap_or_default().contains('@'))
            {
                userinfo = Some(host.to_string());
            }
            if look.is_none() {
                for d in own.iter().chain(partners.iter()) {
                    if let Some(k) = domain::lookalike(host, d) {
                        look = Some(format!("{host} imitates {d} ({})", k.describe()));
                        break;
                    }
                }
            }
        }
    }
    if let Some((t, h)) = mism.first() {
        // Marketing redirectors also show one host and go to another; the trait becomes strong
        // when the shown host is a brand or one of ours, or the real target is itself dubious.
        let shown = domain::brand_label(&domain::normalize(t));
        let shown_protected = BRANDS.iter().any(|(_, labels)| labels.contains(&shown.as_str()))
            || own.iter().chain(partners.iter()).any(|d| domain::brand_label(d) == shown);
        let target_dubious = domain::is_ip_literal(h) || host_matches(h, FREE_HOSTING) || RISKY_TLDS.contains(&tld(h));
        let w = if shown_protected || target_dubious { 0.6 } else { 0.35 };
        out.push(Signal::new("link_text_mismatch", w, format!("link shows {} but goes to {}", short(t, 80), short(h, 80))));
    }
    if let Some(l) = cta {
        out.push(Signal::new("call_to_action_offsite", 0.2, l));
    }
    if i.html_only {
        out.push(Signal::new("html_only_body", 0.12, "HTML body without a plain-text alternative"));
    }
    // Little to read and something to click: the message is a button, not a letter.
    let visible: usize = i.html.iter().map(|h| h.visible_chars).sum::<usize>() + i.plain_chars;
    let links: usize = i.html.iter().map(|h| h.links.len()).sum();
    if links > 0
        && visible < 600
        && i.html.iter().any(|h| !h.links.is_empty() && h.links.iter().any(|l| !l.text.is_empty() || h.visible_chars < 600))
        && i.html_only
    {
        let w = if visible < 60 { 0.4 } else { 0.35 };
        out.push(Signal::new("text_poor_html", w, format!("{visible} characters of visible text around {links} link(s)")));
    }
    if i.html.iter().any(|h| h.hidden_css) && i.html.iter().any(|h| !h.links.is_empty()) {
        out.push(Signal::new(
            "hidden_content",
            0.15,
            "CSS hides part of the content (display:none, zero-size fonts or off-screen offsets)",
        ));
    }
    if i.invisible >= 3 {
        out.push(Signal::new(
            "invisible_characters",
            0.3,
            format!("{} zero-width or soft-hyphen characters break up the words", i.invisible),
        ));
    }
    if let Some(h) = ip {
        out.push(Signal::new("link_ip_literal", 0.3, format!("link to a bare IP address {h}")));
    }
    if let Some(h) = shortener {
        out.push(Signal::new("link_shortener", 0.2, format!("shortened link via {h}")));
    }
    if let Some(h) = free {
        out.push(Signal::new("free_hosting_link", 0.35, format!("link to free hosting {}", short(&h, 80))));
    }
    if let Some(h) = risky {
        out.push(Signal::new("link_risky_tld", 0.2, format!("link to {}", short(&h, 80))));
    }
    if let Some(h) = userinfo {
        out.push(Signal::new("link_userinfo", 0.4, format!("link hides its host after an @ ({})", short(&h, 80))));
    }
    if let Some(d) = look {
        out.push(Signal::new("link_lookalike_domain", 0.75, d));
    }
    if pw {
        let detail = match &form_ext {
            Some(h) => format!("HTML form asks for a password and posts to {}", short(h, 80)),
            None => "HTML form asks for a password".into(),
        };
        out.push(Signal::new("credential_form", if form_ext.is_some() { 0.7 } else { 0.55 }, detail));
    }
    if let Some(s) = smuggle {
        out.push(Signal::new("html_smuggling", 0.75, s));
    }
    if redirect && !i.html_attachment.is_empty() {
        out.push(Signal::new("html_attachment_redirect", 0.4, "HTML attachment redirects the browser elsewhere"));
    }
}

fn attachments(i: &Input<'_>, out: &mut Vec<Signal>) {
    let mut seen: Vec<&str> = Vec::new();
    for a in i.attach {
        let w = match a {
            AttachSignal::Executable(_) => 0.7,
            AttachSignal::Script(_) => 0.7,
            AttachSignal::Shortcut(_) => 0.65,
            AttachSignal::DiskImage(_) => 0.55,
            AttachSignal::DoubleExtension(_) => 0.6,
            AttachSignal::RightToLeft(_) => 0.8,
            AttachSignal::EncryptedArchive(_) => 0.45,
            AttachSignal::Macro(_) => 0.5,
            AttachSignal::RemoteTemplate(_) => 0.75,
            AttachSignal::HtmlAttachment(_) => 0.35,
        };
        if seen.contains(&a.name()) {
            continue;
        }
        seen.push(a.name());
        out.push(Signal::new(a.name(), w, short(a.detail(), 200)));
    }
}

/// Traits from `traits`: disguised display names, machine-made and chained sender names,
/// throw-away tenants, cloud-hosted landing pages, open redirectors, dynamic DNS, links
/// prefilled with the reader's address, callback lures, and the sender of a forwarded message.
fn message_traits(i: &Input<'_>, from_domain: &str, from_org: &str, out: &mut Vec<Signal>) {
    let name = traits::fold(i.from_name);
    let header = traits::fold(i.from_header_raw);
    if name.invisible >= 2 || name.styled >= 3 || header.styled >= 3 {
        out.push(Signal::new(
            "disguised_sender_name",
            0.45,
            format!(
                "sender written with {} styled and {} invisible characters (reads \"{}\")",
                header.styled.max(name.styled),
                name.invisible,
                short(&header.text, 80)
            ),
        ));
    }
    // `<"support@bank.example">`: the whole address quoted as a local part shows a familiar
    // address while the real domain (the one SPF and DMARC check) is elsewhere or absent.
    if let Some(q) = quoted_address(i.from_header_raw) {
        out.push(Signal::new("quoted_address_trick", 0.4, format!("From shows the address {} as a quoted local part", short(&q, 80))));
    }
    if !from_domain.is_empty() {
        if let Some(n) = traits::subdomain_chain(from_domain) {
            out.push(Signal::new(
                "sender_subdomain_chain",
                0.35,
                format!("sender domain {} is a chain of {n} labels", short(from_domain, 80)),
            ));
        }
        let label = domain::brand_label(from_org);
        if traits::looks_random(&label) {
            out.push(Signal::new("random_sender_domain", 0.25, format!("sender domain {} looks machine-generated", short(from_org, 80))));
        }
        if from_domain.ends_with(".onmicrosoft.com") {
            out.push(Signal::new(
                "sender_cloud_tenant",
                0.35,
                format!("sent from a Microsoft 365 tenant's default domain {}", short(from_domain, 80)),
            ));
        }
    }
    if let Some(l) = i.reply_to.split('@').next().filter(|_| i.reply_to.contains('@'))
        && l.len() <= 24
        && l.chars().all(|c| c.is_ascii_alphanumeric())
        && traits::looks_random(l)
        && org_of(i.reply_to) != from_org
    {
        out.push(Signal::new("random_reply_to", 0.2, format!("replies go to the machine-made mailbox {}", short(i.reply_to, 80))));
    }
    // Links.
    let (mut cloud, mut redirect, mut ddns, mut carries, mut forms) = (None, None, None, None, None);
    for h in i.html.iter().chain(i.html_attachment.iter()) {
        for l in &h.links {
            let host = l.host.as_str();
            if cloud.is_none() && traits::cloud_page(&l.href, host) {
                cloud = Some(l.href.clone());
            }
            if redirect.is_none()
                && let Some(t) = traits::open_redirect(&l.href, host)
                && org_of(&t) != from_org
            {
                redirect = Some(format!("{host} → {t}"));
            }
            if ddns.is_none() && traits::is_dynamic_dns(host) {
                ddns = Some(host.to_string());
            }
            if carries.is_none()
                && org_of(host) != from_org
                && !traits::is_list_management(&l.href, &l.text)
                && i.recipients.iter().any(|r| traits::carries_address(&l.href, r))
            {
                carries = Some(host.to_string());
            }
            if forms.is_none() && host == "docs.google.com" && l.href.to_ascii_lowercase().contains("/forms/") {
                forms = Some(host.to_string());
            }
        }
    }
    if let Some(u) = cloud {
        out.push(Signal::new(
            "cloud_hosted_page",
            0.45,
            format!("link to a page published on cloud storage or a serverless endpoint: {}", short(&u, 100)),
        ));
    }
    if let Some(r) = redirect {
        out.push(Signal::new("link_open_redirect", 0.35, format!("link bounces through an open redirector: {}", short(&r, 120))));
    }
    if let Some(h) = ddns {
        out.push(Signal::new("link_dynamic_dns", 0.2, format!("link to a dynamic-DNS host {}", short(&h, 80))));
    }
    // Newsletters put the address in tracking links too; with a sign-in lure it prefills the
    // kit's login page with the victim's mailbox.
    let sign_in_lure = lure::lures(i.text).iter().any(|(c, _)| *c == "credentials" || *c == "it_admin");
    if let Some(h) = carries.filter(|_| sign_in_lure) {
        out.push(Signal::new(
            "link_carries_recipient",
            0.15,
            format!("a link to {} carries the reader's own address (prefilled sign-in page)", short(&h, 80)),
        ));
    }
    if let Some(h) = forms {
        out.push(Signal::new("free_form_link", 0.3, format!("link to a free web form on {h}")));
    }
    // Callback lure: "you were charged, call this number to cancel" with (almost) nothing to
    // click; the phishing happens on the phone.
    let web_links = i.html.iter().flat_map(|h| h.links.iter()).filter(|l| !l.href.to_ascii_lowercase().starts_with("mailto:")).count();
    if web_links <= 3
        && !i.list_mail
        && i.text.chars().count() < 6000
        && let Some(d) = traits::callback_lure(i.text)
    {
        out.push(Signal::new("callback_phone_lure", 0.45, d));
    }
    // A user-reported (forwarded) message: judge the original sender in the body too.
    let subj = i.subject.trim_start().to_ascii_lowercase();
    if ["fw:", "fwd:", "wg:", "tr:", "rv:", "enc:", "doorst:", "转发"].iter().any(|p| subj.starts_with(p))
        && let Some((fname, faddr)) = traits::forwarded_sender(i.text)
    {
        let fdomain = domain::domain_of(&faddr).unwrap_or_default();
        let forg = org_of(&fdomain);
        let fnorm = name_norm(&traits::fold(&fname).text);
        let flabel = domain::brand_label(&forg);
        for (brand, labels) in BRANDS {
            if !brand.is_empty() && contains_word(&fnorm, brand) {
                let compact = brand.replace(' ', "");
                if !forg.is_empty() && !labels.contains(&flabel.as_str()) && !flabel.contains(&compact) {
                    out.push(Signal::new(
                        "forwarded_brand_impersonation",
                        0.45,
                        format!("forwarded mail names {brand} but came from {}", short(&forg, 80)),
                    ));
                }
                break;
            }
        }
        let flocal = faddr.split('@').next().unwrap_or_default();
        if (flocal.len() <= 24 && flocal.chars().all(|c| c.is_ascii_alphanumeric()) && traits::looks_random(flocal))
            || traits::looks_random(&flabel)
            || traits::subdomain_chain(&fdomain).is_some()
        {
            out.push(Signal::new(
                "forwarded_random_sender",
                0.3,
                format!("forwarded mail came from the machine-made address {}", short(&faddr, 80)),
            ));
        }
    }
}

/// The quoted address inside `<"…@…">` in a raw From value, if any.
fn quoted_address(from: &str) -> Option<String> {
    let start = from.find("<\"")?;
    let rest = from.get(start + 2..)?;
    let end = rest.find('"')?;
    let q = rest.get(..end)?;
    q.contains('@').then(|| q.to_string())
}

fn lures(i: &Input<'_>, out: &mut Vec<Signal>) {
    // A lure is short and to the point; in a long newsletter or digest the same words are
    // incidental, so their weight is halved past a few thousand characters.
    let long = i.text.chars().count() > 4000;
    for (cat, phrase) in lure::lures(i.text) {
        let w = match cat {
            "credentials" => 0.3,
            "urgency" => 0.15,
            "payment" => 0.1,
            "crypto_wallet" => 0.25,
            "prize" => 0.2,
            "it_admin" => 0.15,
            "advance_fee" => 0.3,
            "generic_greeting" => 0.15,
            "romance" => 0.3,
            "government" => 0.25,
            "extortion" => 0.45,
            _ => 0.1,
        };
        let name: &'static str = match cat {
            "credentials" => "lure_credentials",
            "urgency" => "lure_urgency",
            "payment" => "lure_payment",
            "crypto_wallet" => "lure_crypto_wallet",
            "prize" => "lure_prize",
            "it_admin" => "lure_it_admin",
            "advance_fee" => "lure_advance_fee",
            "generic_greeting" => "lure_generic_greeting",
            "romance" => "lure_romance",
            "government" => "lure_government",
            "extortion" => "lure_extortion",
            _ => "lure_other",
        };
        let w = if long { w * 0.5 } else { w };
        out.push(Signal::new(name, w, format!("\"{phrase}\"")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noisy_or() {
        assert_eq!(combine(&[]), 0.0);
        let s = combine(&[Signal::new("a", 0.5, ""), Signal::new("b", 0.5, "")]);
        assert!((s - 0.75).abs() < 1e-9);
        assert!(raise_for_admin(0.4) > 0.4);
        assert!(raise_for_admin(0.0) == 0.0);
    }
}
