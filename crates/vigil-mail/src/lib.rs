//! Phishing triage for mail aimed at administrators.
//!
//! [`Analyzer::analyze`] takes one raw RFC 5322 message and returns a [`Verdict`]: a 0–1 score
//! combined by noisy-OR from weighted, explained signals (sender authentication, lookalike
//! and impersonated senders, deceptive links and forms, HTML smuggling, dangerous attachments,
//! lures in English and Chinese, disguised and machine-made senders, cloud-hosted landing pages,
//! open redirectors, callback numbers, links in attached PDFs), raised when the recipient is an
//! administrator. With a resolver configured, SPF/DKIM/ARC/DMARC are also verified live
//! ([`live`]); offline is the default.
//! [`scan_paths`] reads `.eml` files, mbox files, Maildir folders and directories of them, and
//! [`Verdict::to_finding`] turns a verdict into a `phishing` [`vigil_model::Finding`].
//!
//! All input is hostile: message size, parts, links, archive members and decompressed bytes
//! are capped; malformed MIME yields a verdict from what could be read, never a panic.

pub mod attach;
pub mod auth;
pub mod domain;
pub mod html;
pub mod live;
pub mod lure;
pub mod score;
pub mod source;
pub mod traits;

use mail_parser::{MessageParser, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use vigil_model::{Finding, FindingKind, Severity};

pub use score::{DEFAULT_THRESHOLD, Signal};

/// Bytes of one message read (larger messages are cut and flagged `truncated`).
pub const MAX_MESSAGE_BYTES: u64 = 25 << 20;
/// MIME parts examined per message.
pub const MAX_PARTS: usize = 1000;
/// Nesting of attached messages (message/rfc822) followed.
const MAX_NESTED: u32 = 3;
/// Characters of text fed to the lure matcher.
const MAX_TEXT: usize = 65_536;
/// Bytes of one file read (an mbox holds many messages; beyond this it is cut).
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// Messages read from one mbox.
pub const MAX_MBOX_MESSAGES: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("{0}")]
    Source(#[from] source::SourceError),
    #[error("directory {path}: {reason}")]
    Directory { path: String, reason: String },
    #[error("DKIM key file {path}: {reason}")]
    Keys { path: String, reason: String },
    #[error("not a mail message")]
    NotMail,
    #[error("live authentication: {0}")]
    Live(#[from] live::LiveError),
}

/// Site settings for mail triage; the `[mail]` table of the site file has the same keys.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// The institution's own mail domains.
    pub own_domains: Vec<String>,
    /// Suppliers' and customers' domains (impersonating them reaches the institution too).
    pub partner_domains: Vec<String>,
    /// authserv-ids of the site's own receiving servers, whose Authentication-Results are trusted.
    pub trusted_authserv_ids: Vec<String>,
    /// Staff directory CSV: `name,email,role` (header row optional).
    pub directory: Option<PathBuf>,
    /// DKIM/ARC public keys for offline verification: lines `selector._domainkey.domain TXT`.
    pub dkim_keys: Option<PathBuf>,
    /// Additional administrator mailboxes (besides directory roles and admin-like local parts).
    pub admin_mailboxes: Vec<String>,
    /// Score at or above which a message is reported (default [`DEFAULT_THRESHOLD`]).
    pub threshold: Option<f64>,
    /// DNS resolver for live SPF/DKIM/ARC/DMARC (`"10.0.0.53"` or `"127.0.0.1:5353"`). Unset
    /// (the default) keeps triage offline.
    pub resolver: Option<String>,
    /// Per-query DNS timeout in milliseconds (default 2,000); all checks of one message get
    /// at most four times this.
    pub resolver_timeout_ms: Option<u64>,
}

/// One staff member from the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub email: String,
    pub role: String,
    pub admin: bool,
}

fn is_admin_role(role: &str) -> bool {
    let r = role.to_lowercase();
    [
        "admin",
        "root",
        "sysadmin",
        "devops",
        "ops",
        "it",
        "security",
        "sre",
        "network",
        "infrastructure",
        "运维",
        "管理员",
        "网络",
        "安全",
        "系统",
    ]
    .iter()
    .any(|k| r.split(|c: char| !c.is_alphanumeric()).any(|w| w == *k) || (!k.is_ascii() && r.contains(k)) || (k.len() > 3 && r.contains(k)))
}

/// Reads a directory CSV (`name,email,role`); a header row is recognised and skipped.
pub fn parse_directory(text: &str) -> Vec<Person> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let mut out = Vec::new();
    for rec in rdr.records().take(1_000_000) {
        let Ok(r) = rec else { continue };
        let name = r.get(0).unwrap_or_default().to_string();
        let email = r.get(1).unwrap_or_default().to_ascii_lowercase();
        let role = r.get(2).unwrap_or_default().to_string();
        if name.eq_ignore_ascii_case("name") && email == "email" || !email.contains('@') {
            continue;
        }
        let admin = is_admin_role(&role);
        out.push(Person { name, email, role, admin });
    }
    out
}

/// Local parts that belong to administrators by convention.
const ADMIN_LOCALPARTS: &[&str] = &[
    "admin",
    "administrator",
    "root",
    "postmaster",
    "hostmaster",
    "webmaster",
    "sysadmin",
    "it",
    "itsupport",
    "helpdesk",
    "ops",
    "devops",
    "security",
    "soc",
    "noc",
    "sre",
    "infra",
    "netadmin",
    "dba",
    "release",
    "build",
    "ci",
    "deploy",
];

/// The configured analyzer: site settings plus loaded directory and keys.
#[derive(Clone, Debug, Default)]
pub struct Analyzer {
    pub config: MailConfig,
    pub directory: Vec<Person>,
    pub keys: auth::KeyStore,
    /// Live DNS authentication, present when `config.resolver` is set.
    pub live: Option<std::sync::Arc<live::LiveAuth>>,
}

/// What was decided about one message, with everything needed to explain it.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub score: f64,
    pub phishing: bool,
    pub threshold: f64,
    pub signals: Vec<Signal>,
    pub message_id: String,
    pub subject: String,
    pub from: String,
    pub from_name: String,
    pub to: Vec<String>,
    pub reply_to: String,
    pub return_path: String,
    pub date: Option<String>,
    pub link_hosts: Vec<String>,
    pub attachments: Vec<String>,
    pub auth_results: Vec<auth::AuthResult>,
    pub signatures: Vec<auth::SigCheck>,
    pub to_admin: bool,
    pub parts: usize,
    pub truncated: bool,
}

/// Content gathered from a message and its attached messages.
#[derive(Default)]
struct Facts {
    text: String,
    html: Vec<html::HtmlFacts>,
    html_attachment: Vec<html::HtmlFacts>,
    attach: Vec<attach::AttachSignal>,
    attachments: Vec<String>,
    parts: usize,
    /// A text/plain body was seen (mail with only an HTML body is more often bulk or phishing).
    has_plain: bool,
    plain_chars: usize,
    /// Zero-width and soft-hyphen characters, used to break up words so filters miss them.
    invisible: usize,
}

/// Counts characters that render as nothing (raw or as HTML entities).
fn count_invisible(s: &str) -> usize {
    let raw = s
        .chars()
        .take(1 << 20)
        .filter(|c| matches!(c, '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'))
        .count();
    let ents = ["&#8203;", "&#x200b;", "&zwnj;", "&zwj;", "&#173;", "&shy;", "&#8204;", "&#8205;", "&#65279;"];
    let lower = s.get(..s.len().min(1 << 20)).unwrap_or_default().to_ascii_lowercase();
    raw + ents.iter().map(|e| lower.matches(e).count()).sum::<usize>()
}

fn push_text(t: &mut String, s: &str) {
    if t.len() < MAX_TEXT {
        let room = MAX_TEXT - t.len();
        let cut = s.char_indices().nth(room).map_or(s.len(), |(i, _)| i);
        t.push_str(s.get(..cut).unwrap_or_default());
        t.push('\n');
    }
}

/// Visible text of HTML, roughly: tags, scripts and styles removed.
fn html_text(h: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    let lower = h.to_ascii_lowercase();
    let mut skip_until: Option<&str> = None;
    let mut i = 0;
    let bytes = h.as_bytes();
    while i < bytes.len() && out.len() < MAX_TEXT {
        if let Some(end) = skip_until {
            match lower.get(i..).and_then(|s| s.find(end)) {
                Some(p) => {
                    i += p + end.len();
                    skip_until = None;
                    continue;
                }
                None => break,
            }
        }
        let rest = lower.get(i..).unwrap_or_default();
        if rest.starts_with("<script") {
            skip_until = Some("</script");
        } else if rest.starts_with("<style") {
            skip_until = Some("</style");
        }
        let c = h.get(i..).and_then(|s| s.chars().next()).unwrap_or(' ');
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
        i += c.len_utf8();
    }
    out.replace("&nbsp;", " ")
}

fn gather(msg: &mail_parser::Message<'_>, f: &mut Facts, depth: u32) {
    for part in msg.parts.iter().take(MAX_PARTS) {
        f.parts = f.parts.saturating_add(1);
        if f.parts > MAX_PARTS {
            return;
        }
        let name = part.attachment_name().map(|s| s.to_string());
        let ctype = part
            .content_type()
            .map(|c| format!("{}/{}", c.c_type, c.c_subtype.as_deref().unwrap_or("")))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let is_attachment = name.is_some() || part.content_disposition().is_some_and(|d| d.is_attachment());
        match &part.body {
            PartType::Text(t) => {
                if is_attachment {
                    if let Some(n) = &name {
                        attach::name_signals(n, &mut f.attach);
                        f.attachments.push(n.chars().take(200).collect());
                    }
                } else {
                    let n = t.chars().take(1 << 20).filter(|c| !c.is_whitespace()).count();
                    f.plain_chars = f.plain_chars.saturating_add(n);
                    // An empty or token text/plain part is no real alternative to the HTML.
                    f.has_plain |= n >= 20;
                    f.invisible = f.invisible.saturating_add(count_invisible(t));
                    push_text(&mut f.text, t);
                    let mut links = Vec::new();
                    html::text_links(t, &mut links);
                    if !links.is_empty() {
                        f.html.push(html::HtmlFacts { links, ..Default::default() });
                    }
                }
            }
            PartType::Html(h) => {
                let facts = html::scan(h);
                if is_attachment {
                    if let Some(n) = &name {
                        attach::name_signals(n, &mut f.attach);
                        f.attachments.push(n.chars().take(200).collect());
                    } else {
                        f.attach.push(attach::AttachSignal::HtmlAttachment("HTML attachment".into()));
                    }
                    f.html_attachment.push(facts);
                } else {
                    f.invisible = f.invisible.saturating_add(count_invisible(h));
                    push_text(&mut f.text, &html_text(h));
                    f.html.push(facts);
                }
            }
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                let n = name.clone().unwrap_or_else(|| format!("unnamed {ctype}"));
                if name.is_some() || !ctype.starts_with("image/") {
                    attach::name_signals(&n, &mut f.attach);
                    attach::content_signals(&n, b, &mut f.attach);
                    f.attachments.push(n.chars().take(200).collect());
                }
                // Links inside an attached PDF are judged like links in the body.
                let pdf = attach::pdf_links(b);
                if !pdf.is_empty() {
                    f.html_attachment.push(html::HtmlFacts { links: pdf, ..Default::default() });
                }
                // HTML or SVG delivered as an octet-stream attachment is still rendered by a browser.
                let lname = n.to_ascii_lowercase();
                if lname.ends_with(".htm") || lname.ends_with(".html") || lname.ends_with(".shtml") || lname.ends_with(".svg") {
                    let s = String::from_utf8_lossy(b.get(..b.len().min(html::MAX_HTML)).unwrap_or_default()).to_string();
                    f.html_attachment.push(html::scan(&s));
                }
            }
            PartType::Message(m) => {
                if depth < MAX_NESTED {
                    if let Some(s) = m.subject() {
                        push_text(&mut f.text, s);
                    }
                    gather(m, f, depth + 1);
                }
            }
            PartType::Multipart(_) => {}
        }
    }
}

fn addr_list(a: Option<&mail_parser::Address<'_>>) -> Vec<(String, String)> {
    let mut v = Vec::new();
    if let Some(a) = a {
        for x in a.iter().take(100) {
            let name = x.name.as_deref().unwrap_or_default().trim().to_string();
            let addr = x.address.as_deref().unwrap_or_default().trim().to_ascii_lowercase();
            v.push((name, addr));
        }
    }
    v
}

impl Analyzer {
    /// Builds an analyzer, loading the directory CSV and DKIM key file the config names.
    pub fn new(config: MailConfig) -> Result<Self, MailError> {
        let mut a = Analyzer { config, ..Default::default() };
        if let Some(p) = a.config.directory.clone() {
            let text =
                std::fs::read_to_string(&p).map_err(|e| MailError::Directory { path: p.display().to_string(), reason: e.to_string() })?;
            a.directory = parse_directory(&text);
        }
        if let Some(p) = a.config.dkim_keys.clone() {
            let text = std::fs::read_to_string(&p).map_err(|e| MailError::Keys { path: p.display().to_string(), reason: e.to_string() })?;
            let (ks, _bad) = auth::KeyStore::parse(&text);
            a.keys = ks;
        }
        if let Some(r) = a.config.resolver.clone() {
            let t = std::time::Duration::from_millis(a.config.resolver_timeout_ms.unwrap_or(2000).clamp(50, 60_000));
            a.live = Some(std::sync::Arc::new(live::LiveAuth::new(&r, t, t.saturating_mul(4))?));
        }
        Ok(a)
    }

    pub fn threshold(&self) -> f64 {
        self.config.threshold.filter(|t| (0.0..=1.0).contains(t)).unwrap_or(DEFAULT_THRESHOLD)
    }

    fn is_admin(&self, addr: &str) -> bool {
        if self.config.admin_mailboxes.iter().any(|m| m.eq_ignore_ascii_case(addr)) {
            return true;
        }
        if self.directory.iter().any(|p| p.admin && p.email == addr) {
            return true;
        }
        let local = addr.split('@').next().unwrap_or_default();
        let base = local.split(['+', '.', '-', '_']).next().unwrap_or_default();
        ADMIN_LOCALPARTS.contains(&local) || ADMIN_LOCALPARTS.contains(&base)
    }

    /// Judges one raw message.
    pub fn analyze(&self, raw: &[u8]) -> Result<Verdict, MailError> {
        let truncated = raw.len() as u64 > MAX_MESSAGE_BYTES;
        let raw = raw.get(..raw.len().min(MAX_MESSAGE_BYTES as usize)).unwrap_or_default();
        if !source::looks_like_mail(raw) {
            return Err(MailError::NotMail);
        }
        let msg = MessageParser::default().parse(raw).ok_or(MailError::NotMail)?;
        let mut facts = Facts::default();
        gather(&msg, &mut facts, 0);

        let from = addr_list(msg.from());
        let (from_name, from_addr) = from.first().cloned().unwrap_or_default();
        let to: Vec<String> =
            addr_list(msg.to()).into_iter().chain(addr_list(msg.cc())).map(|x| x.1).filter(|a| !a.is_empty()).take(50).collect();
        let mut recipients = to.clone();
        for (n, v) in msg.headers_raw().take(2000) {
            if n.eq_ignore_ascii_case("Delivered-To") || n.eq_ignore_ascii_case("X-Original-To") {
                let a = v.trim().trim_matches(|c| c == '<' || c == '>').to_ascii_lowercase();
                if !a.is_empty() && !recipients.contains(&a) {
                    recipients.push(a);
                }
            }
        }
        let reply_to = addr_list(msg.reply_to()).first().map(|x| x.1.clone()).unwrap_or_default();
        let return_path = msg.return_address().unwrap_or_default().trim().to_ascii_lowercase();
        let subject = msg.subject().unwrap_or_default().chars().take(500).collect::<String>();
        let mut text = subject.clone();
        text.push('\n');
        text.push_str(&facts.text);

        let mut auth_results = Vec::new();
        let mut first_ar = true;
        let mut list_mail = false;
        let mut header_count = 0usize;
        for (n, v) in msg.headers_raw().take(5000) {
            header_count += 1;
            if n.eq_ignore_ascii_case("Authentication-Results") {
                let mut r = auth::parse_auth_results(v, &self.config.trusted_authserv_ids);
                let trusted_any = r.iter().any(|x| x.trusted);
                if trusted_any || (first_ar && self.config.trusted_authserv_ids.is_empty()) {
                    auth_results.append(&mut r);
                }
                first_ar = false;
            }
            if n.eq_ignore_ascii_case("List-Id") || n.eq_ignore_ascii_case("List-Post") || n.eq_ignore_ascii_case("Mailing-List") {
                list_mail = true;
            }
            if n.eq_ignore_ascii_case("Precedence") && ["list", "bulk"].contains(&v.trim().to_ascii_lowercase().as_str()) {
                list_mail = true;
            }
        }
        let mut signatures = auth::verify_offline(raw, &self.keys);
        if let Some(l) = &self.live {
            // Live results are our own verification, hence trusted; DKIM and ARC are scored
            // from the per-signature results, SPF and DMARC from these entries.
            let o = l.verify(raw);
            auth_results.extend(o.results.into_iter().filter(|r| r.method == "spf" || r.method == "dmarc"));
            if !o.signatures.is_empty() {
                signatures = o.signatures;
            }
        }
        let dkim_domains = auth::dkim_domains(raw);

        let to_admin = recipients.iter().any(|r| self.is_admin(r));
        let mut link_hosts: Vec<String> = Vec::new();
        for h in facts.html.iter().chain(facts.html_attachment.iter()) {
            for l in &h.links {
                if !link_hosts.contains(&l.host) && link_hosts.len() < 50 {
                    link_hosts.push(l.host.clone());
                }
            }
        }

        let from_local_raw: String = msg
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address.as_deref())
            .and_then(|a| a.trim().rsplit_once('@'))
            .map(|(l, _)| l.chars().take(200).collect())
            .unwrap_or_default();
        let from_header_raw: String = msg
            .headers_raw()
            .take(5000)
            .find(|(n, _)| n.eq_ignore_ascii_case("From"))
            .map(|(_, v)| v.chars().take(1000).collect())
            .unwrap_or_default();
        let input = score::Input {
            from_name: &from_name,
            from_addr: &from_addr,
            from_local_raw: &from_local_raw,
            from_header_raw: &from_header_raw,
            reply_to: &reply_to,
            return_path: &return_path,
            subject: &subject,
            text: &text,
            recipients: &recipients,
            html: &facts.html,
            html_attachment: &facts.html_attachment,
            attach: &facts.attach,
            auth_results: &auth_results,
            signatures: &signatures,
            dkim_domains: &dkim_domains,
            list_mail,
            has_message_id: msg.message_id().is_some(),
            has_date: msg.date().is_some(),
            header_count,
            parts: facts.parts,
            html_only: !facts.has_plain && !facts.html.is_empty(),
            plain_chars: facts.plain_chars,
            invisible: facts.invisible,
            config: &self.config,
            directory: &self.directory,
        };
        let mut signals = score::signals(&input);
        if truncated {
            signals.push(Signal::new(
                "oversized_message",
                0.05,
                format!("message larger than {MAX_MESSAGE_BYTES} bytes; the rest was not read"),
            ));
        }
        let mut s = score::combine(&signals);
        if to_admin && s > 0.0 {
            let raised = score::raise_for_admin(s);
            signals.push(Signal::new(
                "aimed_at_administrator",
                0.0,
                format!("recipient is an administrator; score raised from {s:.3} to {raised:.3}"),
            ));
            s = raised;
        }
        let threshold = self.threshold();
        Ok(Verdict {
            score: s,
            phishing: s >= threshold,
            threshold,
            signals,
            message_id: msg.message_id().unwrap_or_default().chars().take(300).collect(),
            subject,
            from: from_addr,
            from_name: from_name.chars().take(200).collect(),
            to: recipients,
            reply_to,
            return_path,
            date: msg.date().map(|d| d.to_rfc3339()),
            link_hosts,
            attachments: facts.attachments,
            auth_results,
            signatures,
            to_admin,
            parts: facts.parts,
            truncated,
        })
    }
}

impl Verdict {
    /// The `phishing` finding for this verdict (callers emit it only when `phishing` is set).
    /// `file` is the path as given; `index` the position within an mbox.
    pub fn to_finding(&self, file: &str, index: Option<usize>) -> Finding {
        let src = self.to.first().cloned().unwrap_or_else(|| file.to_string());
        let mut dst = Vec::new();
        if !self.from.is_empty() {
            dst.push(self.from.clone());
            if let Some(d) = domain::domain_of(&self.from) {
                dst.push(d);
            }
        }
        for h in self.link_hosts.iter().take(20) {
            if !dst.contains(h) {
                dst.push(h.clone());
            }
        }
        let when = self
            .date
            .as_deref()
            .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
            .unwrap_or_else(|| chrono::DateTime::UNIX_EPOCH.fixed_offset());
        let mut attack = vec!["T1566".to_string()];
        if self.signals.iter().any(|s| s.name.starts_with("attachment_") || s.name == "html_smuggling") {
            attack.push("T1566.001".into());
        }
        if self.signals.iter().any(|s| {
            s.name.starts_with("link_")
                || matches!(s.name, "credential_form" | "free_hosting_link" | "cloud_hosted_page" | "free_form_link")
        }) {
            attack.push("T1566.002".into());
        }
        // Callback phishing: the lure is a phone number (spearphishing voice).
        if self.signals.iter().any(|s| s.name == "callback_phone_lure") {
            attack.push("T1566.004".into());
        }
        if self.signals.iter().any(|s| s.name == "html_smuggling") {
            attack.push("T1027.006".into());
        }
        let mut top: Vec<&Signal> = self.signals.iter().filter(|s| s.weight > 0.0).collect();
        top.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        let reasons: Vec<String> = top.iter().take(3).map(|s| s.name.replace('_', " ")).collect();
        let who = if self.from.is_empty() { "an unknown sender".to_string() } else { self.from.clone() };
        let summary = format!(
            "Likely phishing from {} to {}{}: {}",
            crate::score::short(&who, 80),
            crate::score::short(&src, 80),
            if self.to_admin { " (an administrator)" } else { "" },
            reasons.join(", ")
        );
        let idx = index.map(|i| i.to_string()).unwrap_or_default();
        let id = Finding::stable_id(FindingKind::Phishing, &[file, &idx, &self.message_id]);
        let mut evidence = serde_json::json!({
            "file": file,
            "message_id": self.message_id,
            "subject": self.subject,
            "from": if self.from_name.is_empty() { self.from.clone() } else { format!("{} <{}>", self.from_name, self.from) },
            "to": self.to,
            "reply_to": self.reply_to,
            "return_path": self.return_path,
            "score": (self.score * 1000.0).round() / 1000.0,
            "threshold": self.threshold,
            "reasons": self.signals.iter().map(|s| serde_json::json!({"signal": s.name, "weight": s.weight, "detail": s.detail})).collect::<Vec<_>>(),
            "to_administrator": self.to_admin,
            "link_hosts": self.link_hosts,
            "attachments": self.attachments,
            "authentication_results": self.auth_results,
            "signatures": self.signatures,
        });
        if let (Some(i), Some(o)) = (index, evidence.as_object_mut()) {
            o.insert("mbox_index".into(), serde_json::json!(i));
        }
        Finding {
            id,
            kind: FindingKind::Phishing,
            severity: Severity::from_score(self.score),
            score: (self.score * 1000.0).round() / 1000.0,
            src,
            dst,
            path: Vec::new(),
            first_seen: when,
            last_seen: when,
            attack,
            summary,
            evidence,
        }
    }
}

/// One message outcome from [`scan_paths`].
pub enum Scanned {
    Verdict {
        file: String,
        index: Option<usize>,
        verdict: Box<Verdict>,
    },
    /// A file or message that could not be judged, with the reason (counted, not fatal).
    Skipped {
        file: String,
        index: Option<usize>,
        reason: String,
    },
}

/// Reads every message under `paths` (files, mbox, Maildir, directories) and calls `out` for
/// each. A path that does not exist is an error; unreadable files inside are reported as skips.
pub fn scan_paths(a: &Analyzer, paths: &[PathBuf], out: &mut dyn FnMut(Scanned)) -> Result<(), MailError> {
    for p in paths {
        let files = source::list_files(p)?;
        for f in files {
            scan_file(a, &f, out);
        }
    }
    Ok(())
}

fn scan_file(a: &Analyzer, f: &Path, out: &mut dyn FnMut(Scanned)) {
    let file = f.display().to_string();
    let (bytes, truncated) = match source::read_capped(f, MAX_FILE_BYTES) {
        Ok(x) => x,
        Err(e) => {
            out(Scanned::Skipped { file, index: None, reason: e.to_string() });
            return;
        }
    };
    if source::is_mbox(&bytes) {
        for (i, m) in source::split_mbox(&bytes, MAX_MBOX_MESSAGES).into_iter().enumerate() {
            match a.analyze(m) {
                Ok(v) => out(Scanned::Verdict { file: file.clone(), index: Some(i), verdict: Box::new(v) }),
                Err(e) => out(Scanned::Skipped { file: file.clone(), index: Some(i), reason: e.to_string() }),
            }
        }
        return;
    }
    if !source::looks_like_mail(&bytes) {
        out(Scanned::Skipped { file, index: None, reason: "not a mail message".into() });
        return;
    }
    match a.analyze(&bytes) {
        Ok(mut v) => {
            v.truncated |= truncated;
            out(Scanned::Verdict { file, index: None, verdict: Box::new(v) })
        }
        Err(e) => out(Scanned::Skipped { file, index: None, reason: e.to_string() }),
    }
}

impl MailConfig {
    /// Reads the `[mail]` table of a site file (other tables are left to the site loader).
    /// Relative paths are resolved against the site file's directory.
    pub fn from_site_toml(text: &str, base: &Path) -> Result<MailConfig, String> {
        #[derive(Deserialize)]
        struct Wrapper {
            #[serde(default)]
            mail: Option<MailConfig>,
        }
        let w: Wrapper = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut c = w.mail.unwrap_or_default();
        for p in [&mut c.directory, &mut c.dkim_keys].into_iter().flatten() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(c)
    }
}
