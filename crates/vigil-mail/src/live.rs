//! Live sender authentication over DNS, used only when the site configures a resolver
//! (`[mail] resolver = "10.0.0.53"` or `"127.0.0.1:5353"`); offline triage stays the default.
//!
//! SPF (RFC 7208) is evaluated for the connecting IP, HELO name and envelope sender taken from
//! the topmost `Received` header that carries an IP literal (the one our own server wrote) and
//! `Return-Path`; DKIM (RFC 6376) and ARC (RFC 8617) signatures are verified with keys fetched
//! from DNS; DMARC (RFC 7489) combines them with the From domain's policy. `mail-auth` does the
//! protocol work over a `hickory` resolver pointed at the configured server only, driven by a
//! private single-threaded Tokio runtime with a per-message deadline, so a slow or hostile DNS
//! server costs at most that deadline.

use crate::auth::{AuthResult, SigCheck};
use mail_auth::hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{AuthenticatedMessage, DkimResult, DmarcResult, MessageAuthenticator, SpfResult};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// authserv-id written on results computed here, so they read like a receiving server's.
pub const LIVE_AUTHSERV_ID: &str = "vigil (live DNS)";

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("resolver address {0:?}: expected IP or IP:port")]
    Address(String),
    #[error("DNS runtime: {0}")]
    Runtime(String),
}

/// Connecting IP, HELO name and envelope sender of a message as seen by our receiving server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    pub ip: Option<IpAddr>,
    pub helo: String,
    pub mail_from: String,
}

/// Reads the envelope from the topmost `Received` header with an IP literal
/// ("from helo.example (rdns [192.0.2.1]) by mx…") and `Return-Path`.
pub fn envelope(raw: &[u8]) -> Envelope {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(raw.len())
        .min(512 * 1024);
    let head = String::from_utf8_lossy(raw.get(..head_end).unwrap_or_default()).replace("\r\n", "\n");
    // Unfold continuation lines, then look at whole header fields.
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    let mut env = Envelope::default();
    for line in unfolded.lines().take(5000) {
        let Some((name, value)) = line.split_once(':') else { continue };
        let name = name.trim();
        if name.eq_ignore_ascii_case("Return-Path") && env.mail_from.is_empty() {
            env.mail_from = value.trim().trim_matches(|c| c == '<' || c == '>').trim().chars().take(320).collect();
        } else if name.eq_ignore_ascii_case("Received") && env.ip.is_none() {
            let v = value.trim();
            let Some(rest) = v.strip_prefix("from ").or_else(|| v.strip_prefix("FROM ")) else { continue };
            let ip = rest.split('[').skip(1).take(8).find_map(|s| {
                let inner = s.split(']').next().unwrap_or_default();
                inner.trim_start_matches("IPv6:").trim_start_matches("ipv6:").parse::<IpAddr>().ok()
            });
            if let Some(ip) = ip {
                env.ip = Some(ip);
                env.helo =
                    rest.split_whitespace().next().unwrap_or_default().trim_matches(|c| c == '[' || c == ']').chars().take(255).collect();
            }
        }
    }
    env
}

/// A resolver and the runtime that drives it.
pub struct LiveAuth {
    runtime: tokio::runtime::Runtime,
    auth: MessageAuthenticator,
    deadline: Duration,
    server: SocketAddr,
}

impl std::fmt::Debug for LiveAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveAuth").field("server", &self.server).field("deadline", &self.deadline).finish()
    }
}

/// Everything the live checks found for one message.
#[derive(Clone, Debug, Default)]
pub struct LiveOutcome {
    /// SPF and DMARC (and DKIM/ARC summaries) as Authentication-Results-like entries.
    pub results: Vec<AuthResult>,
    /// Per-signature DKIM results and the ARC chain result.
    pub signatures: Vec<SigCheck>,
    /// Set when the deadline passed before all checks finished.
    pub timed_out: bool,
}

fn parse_server(s: &str) -> Result<SocketAddr, LiveError> {
    let s = s.trim();
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    s.trim_matches(|c| c == '[' || c == ']')
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| LiveError::Address(s.to_string()))
}

fn dkim_word(r: &DkimResult) -> (&'static str, String) {
    match r {
        DkimResult::Pass => ("pass", String::new()),
        DkimResult::None => ("none", String::new()),
        // mail-auth reports a body-hash mismatch as neutral; for triage the content was altered
        // after signing, which is a failure of the signature.
        DkimResult::Neutral(e) if e.to_string().to_ascii_lowercase().contains("body hash") => ("fail", e.to_string()),
        DkimResult::Neutral(e) => ("neutral", e.to_string()),
        DkimResult::Fail(e) => ("fail", e.to_string()),
        DkimResult::PermError(e) => ("permerror", e.to_string()),
        DkimResult::TempError(e) => ("temperror", e.to_string()),
    }
}

fn spf_word(r: SpfResult) -> &'static str {
    match r {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

fn result(method: &str, r: &str) -> AuthResult {
    AuthResult { authserv_id: LIVE_AUTHSERV_ID.into(), method: method.into(), result: r.into(), trusted: true }
}

impl LiveAuth {
    /// A resolver that asks only `server` (UDP, then TCP for truncated answers), with
    /// `timeout` per query and `deadline` for all the checks of one message.
    pub fn new(server: &str, timeout: Duration, deadline: Duration) -> Result<Self, LiveError> {
        let addr = parse_server(server)?;
        let mut udp = ConnectionConfig::udp();
        udp.port = addr.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = addr.port();
        let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
        let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
        let mut opts = ResolverOpts::default();
        opts.timeout = timeout;
        opts.attempts = 1;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.cache_size = 1024;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| LiveError::Runtime(e.to_string()))?;
        // hickory spawns its connection tasks on the current runtime, so build inside it.
        let auth = runtime.block_on(async { MessageAuthenticator::new(config, opts) }).map_err(|e| LiveError::Runtime(e.to_string()))?;
        Ok(LiveAuth { runtime, auth, deadline, server: addr })
    }

    /// Runs SPF, DKIM, ARC and DMARC on `raw`. A message mail-auth cannot parse, or checks that
    /// outlive the deadline, yield what was finished (and `timed_out`).
    pub fn verify(&self, raw: &[u8]) -> LiveOutcome {
        let mut out = LiveOutcome::default();
        let Some(msg) = AuthenticatedMessage::parse(raw) else { return out };
        let env = envelope(raw);
        let fut = async {
            let mut o = LiveOutcome::default();
            let dkim = self.auth.verify_dkim(&msg).await;
            for r in dkim.iter().take(16) {
                let (word, reason) = dkim_word(r.result());
                let (domain, selector) = r.signature().map(|s| (s.d.clone(), s.s.clone())).unwrap_or_default();
                o.signatures.push(SigCheck { method: "dkim", domain, selector, result: word.into(), reason });
            }
            let dkim_word_all = if dkim.is_empty() {
                "none"
            } else if dkim.iter().any(|r| matches!(r.result(), DkimResult::Pass)) {
                "pass"
            } else {
                dkim.first().map_or("none", |r| dkim_word(r.result()).0)
            };
            o.results.push(result("dkim", dkim_word_all));
            if !msg.ams_headers.is_empty() {
                let arc = self.auth.verify_arc(&msg).await;
                let (word, reason) = dkim_word(arc.result());
                o.signatures.push(SigCheck { method: "arc", domain: String::new(), selector: String::new(), result: word.into(), reason });
                o.results.push(result("arc", word));
            }
            let mail_from_domain = env.mail_from.rsplit_once('@').map(|x| x.1.to_string()).unwrap_or_else(|| env.helo.clone());
            let spf = match env.ip {
                Some(ip) => {
                    let p = SpfParameters::verify_mail_from(ip, &env.helo, "vigil.invalid", &env.mail_from);
                    Some(self.auth.verify_spf(p).await)
                }
                None => None,
            };
            if let Some(s) = &spf {
                o.results.push(result("spf", spf_word(s.result())));
            }
            let spf_for_dmarc = spf.unwrap_or_else(|| mail_auth::SpfOutput::new(mail_from_domain.clone()));
            let dmarc = self
                .auth
                .verify_dmarc(mail_auth::dmarc::verify::DmarcParameters::new(&msg, &dkim, &mail_from_domain, &spf_for_dmarc))
                .await;
            // `result()` folds both mechanisms and reports a record with no aligned pass as fail.
            let word = match dmarc.result() {
                DmarcResult::Pass => "pass",
                DmarcResult::None => "none",
                DmarcResult::TempError(_) => "temperror",
                DmarcResult::PermError(_) => "permerror",
                DmarcResult::Fail(_) => "fail",
            };
            o.results.push(result("dmarc", word));
            o
        };
        match self.runtime.block_on(async { tokio::time::timeout(self.deadline, fut).await }) {
            Ok(o) => out = o,
            Err(_) => out.timed_out = true,
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_from_received() {
        let raw = b"Return-Path: <bounce@sender.example>\r\nReceived: from mail.sender.example (mail.sender.example\r\n [192.0.2.7]) by mx.ours.example\r\nReceived: from inner ([10.0.0.1])\r\nFrom: a@sender.example\r\n\r\nbody";
        let e = envelope(raw);
        assert_eq!(e.ip, Some("192.0.2.7".parse().unwrap()));
        assert_eq!(e.helo, "mail.sender.example");
        assert_eq!(e.mail_from, "bounce@sender.example");
        let v6 = envelope(b"Received: from h ([IPv6:2001:db8::1]) by x\n\n");
        assert_eq!(v6.ip, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(envelope(b"no headers at all"), Envelope::default());
    }

    #[test]
    fn server_addresses() {
        assert_eq!(parse_server("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(parse_server("10.0.0.53").unwrap().port(), 53);
        assert_eq!(parse_server("[::1]:53").unwrap().port(), 53);
        assert!(parse_server("dns.example").is_err());
    }
}
