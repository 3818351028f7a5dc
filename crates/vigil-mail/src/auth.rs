//! Sender authentication, offline first.
//!
//! * `Authentication-Results` (RFC 8601): only headers whose authserv-id is one of the site's
//!   own receiving servers are trusted; anyone can write such a header, and a forged "pass"
//!   further down the header block is a known trick. Without configured ids, the topmost header
//!   (added last, by the final receiving server) is read as an unverified hint at half weight.
//! * DKIM and ARC signatures are verified cryptographically with `mail-auth`, using public keys
//!   from a local key map (`selector._domainkey.domain` → TXT record) instead of DNS, so the
//!   check works on an isolated network. A signature whose key is not in the map is reported as
//!   "no key", never as a failure.

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator, ResolverCache, Txt};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

/// One `method=result` from an Authentication-Results header.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuthResult {
    pub authserv_id: String,
    pub method: String,
    pub result: String,
    /// Whether the authserv-id is one the site trusts.
    pub trusted: bool,
}

/// Parses one Authentication-Results value into its results.
pub fn parse_auth_results(value: &str, trusted_ids: &[String]) -> Vec<AuthResult> {
    let v: String = value.chars().take(8192).collect();
    let mut parts = v.split(';').peekable();
    // The authserv-id comes first; some servers (Exchange Online) omit it and start with a
    // result, which then is a result with an empty, never-trusted id.
    let first_tok = parts.peek().and_then(|p| p.split_whitespace().next()).unwrap_or_default();
    let id = if first_tok.contains('=') {
        String::new()
    } else {
        parts.next().unwrap_or_default().split_whitespace().next().unwrap_or_default().to_ascii_lowercase()
    };
    let trusted = trusted_ids.iter().any(|t| {
        let t = t.to_ascii_lowercase();
        !id.is_empty() && (id == t || id.ends_with(&format!(".{t}")))
    });
    let mut out = Vec::new();
    for p in parts.take(32) {
        // Drop comments "(...)" before reading method=result.
        let mut clean = String::new();
        let mut depth = 0u32;
        for c in p.chars() {
            match c {
                '(' => depth = depth.saturating_add(1),
                ')' => depth = depth.saturating_sub(1),
                _ if depth == 0 => clean.push(c),
                _ => {}
            }
        }
        let Some(first) = clean.split_whitespace().next() else { continue };
        let Some((m, r)) = first.split_once('=') else { continue };
        let method = m.trim().to_ascii_lowercase();
        if !matches!(method.as_str(), "spf" | "dkim" | "dmarc" | "arc" | "compauth" | "iprev" | "auth") {
            continue;
        }
        out.push(AuthResult { authserv_id: id.clone(), method, result: r.trim().to_ascii_lowercase(), trusted });
    }
    out
}

/// Public keys for offline verification: `selector._domainkey.domain` → parsed record.
#[derive(Clone, Default)]
pub struct KeyStore {
    keys: HashMap<String, Arc<DomainKey>>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore").field("keys", &self.keys.len()).finish()
    }
}

impl KeyStore {
    /// Reads lines `NAME TXT-VALUE` (the format of zone-file excerpts and of `mail-auth`'s test
    /// resources); `#` comments and blank lines are ignored, and an optional `TXT`/`IN TXT`
    /// token and quotes around the value are accepted. Returns the store and the lines it could
    /// not parse.
    pub fn parse(text: &str) -> (KeyStore, usize) {
        let mut ks = KeyStore::default();
        let mut bad = 0;
        for line in text.lines().take(100_000) {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let Some((name, rest)) = line.split_once(char::is_whitespace) else {
                bad += 1;
                continue;
            };
            let mut rest = rest.trim();
            for tok in ["IN ", "TXT "] {
                if let Some(r) = rest.strip_prefix(tok) {
                    rest = r.trim();
                }
            }
            let value: String = rest.split('"').enumerate().filter(|(i, _)| !rest.contains('"') || i % 2 == 1).map(|(_, s)| s).collect();
            match DomainKey::parse(value.as_bytes()) {
                Ok(k) => {
                    ks.keys.insert(name.trim_end_matches('.').to_ascii_lowercase(), Arc::new(k));
                }
                Err(_) => bad += 1,
            }
        }
        (ks, bad)
    }
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
    fn has(&self, selector: &str, domain: &str) -> bool {
        self.keys.contains_key(&format!("{}._domainkey.{}", selector.to_ascii_lowercase(), domain.to_ascii_lowercase()))
    }
}

/// The TXT cache handed to mail-auth: a hit for every key in the store and an error for every
/// other name, so the resolver (and the network) is never consulted.
struct OfflineTxt {
    map: HashMap<Box<str>, Txt>,
}

impl OfflineTxt {
    fn new(ks: &KeyStore) -> Self {
        let map = ks.keys.iter().map(|(k, v)| (Box::<str>::from(format!("{k}.")), Txt::DomainKey(v.clone()))).collect();
        OfflineTxt { map }
    }
}

impl ResolverCache<Box<str>, Txt> for OfflineTxt {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        Some(self.map.get(name).cloned().unwrap_or_else(|| Txt::Error(mail_auth::Error::Io("no offline key for this selector".into()))))
    }
    fn remove<Q>(&self, _name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }
    fn insert(&self, _: Box<str>, _: Txt, _: std::time::Instant) {}
}

/// Outcome of one cryptographic check.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SigCheck {
    /// `dkim` or `arc`.
    pub method: &'static str,
    /// Signing domain (`d=`) and selector (`s=`) for DKIM; empty for ARC.
    pub domain: String,
    pub selector: String,
    /// `pass`, `fail`, `expired`, `no_key`, `neutral`, `permerror`, `temperror`, `none`.
    pub result: String,
    pub reason: String,
}

fn classify(r: &DkimResult) -> (String, String) {
    match r {
        DkimResult::Pass => ("pass".into(), String::new()),
        DkimResult::None => ("none".into(), String::new()),
        DkimResult::Neutral(e) if e.to_string().to_ascii_lowercase().contains("expired") => ("expired".into(), e.to_string()),
        DkimResult::Neutral(e) => ("neutral".into(), e.to_string()),
        DkimResult::Fail(e) | DkimResult::PermError(e) | DkimResult::TempError(e) => {
            let msg = e.to_string();
            let res = match e {
                mail_auth::Error::Io(m) if m.contains("no offline key") => "no_key",
                mail_auth::Error::Dns(_) => "no_key",
                mail_auth::Error::Dkim(mail_auth::dkim::DkimError::SignatureExpired) => "expired",
                mail_auth::Error::Arc(mail_auth::arc::ArcError::SignatureExpired) => "expired",
                _ => match r {
                    DkimResult::Fail(_) => "fail",
                    DkimResult::PermError(_) => "permerror",
                    _ => "temperror",
                },
            };
            (res.into(), msg)
        }
    }
}

/// Drives a future that never waits on I/O (every DNS answer comes from [`OfflineTxt`]) to
/// completion on this thread. A future that is still pending after a bounded number of polls
/// would be waiting on the network, which is not allowed offline; it is abandoned.
fn run_offline<F: std::future::Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    for _ in 0..64 {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Some(v);
        }
    }
    None
}

/// A resolver object is required by mail-auth's API even though the offline cache answers
/// every query; it is built once, with no name servers, so it could not reach the network.
fn authenticator() -> Option<&'static MessageAuthenticator> {
    static AUTH: std::sync::OnceLock<Option<MessageAuthenticator>> = std::sync::OnceLock::new();
    AUTH.get_or_init(|| {
        let cfg = mail_auth::hickory_resolver::config::ResolverConfig::from_parts(None, vec![], vec![]);
        MessageAuthenticator::new(cfg, Default::default()).ok()
    })
    .as_ref()
}

/// Verifies every DKIM signature and the ARC chain of `raw` with keys from `keys`. Signatures
/// whose key is absent are reported as `no_key` without any cryptography being attempted.
pub fn verify_offline(raw: &[u8], keys: &KeyStore) -> Vec<SigCheck> {
    let mut out = Vec::new();
    if keys.is_empty() {
        return out;
    }
    let Some(msg) = AuthenticatedMessage::parse(raw) else { return out };
    let Some(auth) = authenticator() else { return out };
    let cache = OfflineTxt::new(keys);
    let any_key = msg.dkim_headers.iter().any(|h| keys.has(&h.header.s, &h.header.d));
    if any_key {
        let params = mail_auth::Parameters::new(&msg).with_txt_cache(&cache);
        if let Some(results) = run_offline(auth.verify_dkim(params)) {
            for r in results.iter().take(16) {
                let (result, reason) = classify(r.result());
                let (domain, selector) = r.signature().map(|s| (s.d.clone(), s.s.clone())).unwrap_or_default();
                out.push(SigCheck { method: "dkim", domain, selector, result, reason });
            }
        }
    } else {
        for h in msg.dkim_headers.iter().take(16) {
            out.push(SigCheck {
                method: "dkim",
                domain: h.header.d.clone(),
                selector: h.header.s.clone(),
                result: "no_key".into(),
                reason: String::new(),
            });
        }
    }
    if !msg.ams_headers.is_empty() {
        let params = mail_auth::Parameters::new(&msg).with_txt_cache(&cache);
        if let Some(arc) = run_offline(auth.verify_arc(params)) {
            let (result, reason) = classify(arc.result());
            out.push(SigCheck { method: "arc", domain: String::new(), selector: String::new(), result, reason });
        }
    }
    out
}

/// The DKIM signing domains (`d=`) present in the message, verified or not.
pub fn dkim_domains(raw: &[u8]) -> Vec<String> {
    let mut v = Vec::new();
    // A cheap textual scan: mail-auth's full parse is only needed for verification.
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(raw.len())
        .min(256 * 1024);
    let head = format!("\n{}", String::from_utf8_lossy(raw.get(..head_end).unwrap_or_default()).to_ascii_lowercase());
    for sig in head.split("\ndkim-signature:").skip(1).take(16) {
        let mut field = String::new();
        for line in sig.lines() {
            if !field.is_empty() && !line.starts_with([' ', '\t']) {
                break;
            }
            field.push_str(line);
        }
        for tag in field.split(';') {
            if let Some(d) = tag.trim().strip_prefix("d=") {
                v.push(d.trim().to_string());
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_results_trust() {
        let r = parse_auth_results(
            "mx.example.cn; spf=fail (sender IP is 1.2.3.4) smtp.mailfrom=x.com; dkim=none; dmarc=fail header.from=bank.com",
            &["mx.example.cn".into()],
        );
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|x| x.trusted));
        assert_eq!(r[0].method, "spf");
        assert_eq!(r[0].result, "fail");
        assert_eq!(r[2].result, "fail");
        let r = parse_auth_results("evil.example; dmarc=pass", &["mx.example.cn".into()]);
        assert!(!r[0].trusted);
        // Exchange Online writes no authserv-id.
        let r = parse_auth_results(
            "spf=softfail (sender IP is 1.2.3.4)\r\n smtp.mailfrom=x.xyz; dkim=none (message not signed)\r\n header.d=none;dmarc=fail action=none header.from=a.co.uk;compauth=fail reason=001",
            &[],
        );
        let got: Vec<(&str, &str)> = r.iter().map(|x| (x.method.as_str(), x.result.as_str())).collect();
        assert_eq!(got, vec![("spf", "softfail"), ("dkim", "none"), ("dmarc", "fail"), ("compauth", "fail")]);
        assert!(r.iter().all(|x| !x.trusted && x.authserv_id.is_empty()));
    }

    #[test]
    fn keystore_parses_zone_lines() {
        let (ks, bad) = KeyStore::parse(
            "# keys\nsel._domainkey.example.com. IN TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\nbroken\n",
        );
        assert_eq!(ks.len(), 1);
        assert_eq!(bad, 1);
        assert!(ks.has("SEL", "example.com"));
    }

    #[test]
    fn dkim_domains_scan() {
        let m = b"DKIM-Signature: v=1; a=rsa-sha256;\r\n d=Example.com; s=x;\r\nFrom: a@b\r\n\r\nbody";
        assert_eq!(dkim_domains(m), vec!["example.com".to_string()]);
    }
}
