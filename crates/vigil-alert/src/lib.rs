//! Alert outputs. Findings flow from the detectors (hunt or watch) into an [`Alerter`], which
//! groups repeats — a finding already sent is sent again only when it got worse (higher severity)
//! or after a quiet period, never every window — and hands the rest to each configured [`Sink`]:
//! a rotated JSON lines file, syslog (RFC 5424 or CEF, over UDP or TCP), a webhook (HTTP POST with
//! retries, backoff and a dead-letter file), or standard output.

mod format;
mod sinks;

pub use format::{cef_line, json_line, rfc5424_line};
pub use sinks::{JsonlFileSink, StdoutSink, SyslogSink, SyslogTransport, WebhookSink};

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use vigil_model::{Finding, Severity};

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("{sink}: {msg}")]
    Delivery { sink: String, msg: String },
    #[error("{sink}: {source}")]
    Io { sink: String, source: std::io::Error },
    #[error("alert output {0}: invalid configuration: {1}")]
    Config(String, String),
}

/// One alert output, as written in the site file's `[[alert]]` tables.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    /// JSON lines, one finding per line; rotated when the file passes `max_bytes`.
    Jsonl {
        path: PathBuf,
        #[serde(default = "default_max_bytes")]
        max_bytes: u64,
        #[serde(default = "default_keep")]
        keep: u32,
    },
    /// Syslog to a collector: RFC 5424 (default) or CEF inside the message.
    Syslog {
        /// host:port
        address: String,
        #[serde(default)]
        transport: SyslogTransport,
        #[serde(default)]
        cef: bool,
        #[serde(default = "default_app")]
        app_name: String,
        /// TLS only: PEM file of the CA(s) that vouch for the collector (default: the system
        /// bundle).
        #[serde(default)]
        ca_file: Option<PathBuf>,
        /// TLS only: the name the collector's certificate carries (default: the address's host).
        #[serde(default)]
        server_name: Option<String>,
    },
    /// HTTP POST of each finding as JSON.
    Webhook {
        /// http://host:port/path (plain HTTP; terminate TLS in a local relay if needed).
        url: String,
        #[serde(default = "default_retries")]
        retries: u32,
        #[serde(default = "default_backoff_ms")]
        backoff_ms: u64,
        /// Findings that could not be delivered after every retry are appended here.
        dead_letter: PathBuf,
    },
    Stdout,
}

fn default_max_bytes() -> u64 {
    64 << 20
}
fn default_keep() -> u32 {
    5
}
fn default_app() -> String {
    "vigil".into()
}
fn default_retries() -> u32 {
    5
}
fn default_backoff_ms() -> u64 {
    500
}

/// Only findings at or above this severity are alerted by default.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertPolicy {
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
    /// A finding already sent is sent again (as an update) after this many seconds of event time
    /// if it is still being seen; 0 = never.
    #[serde(default = "default_resend")]
    pub resend_after_s: i64,
}

fn default_min_severity() -> Severity {
    Severity::Medium
}
fn default_resend() -> i64 {
    86_400
}

impl Default for AlertPolicy {
    fn default() -> Self {
        AlertPolicy { min_severity: default_min_severity(), resend_after_s: default_resend() }
    }
}

/// An alert output.
pub trait Sink: Send {
    fn name(&self) -> String;
    /// Delivers one finding; `update` is true when it was sent before and has changed.
    fn send(&mut self, finding: &Finding, update: bool) -> Result<(), AlertError>;
    fn flush(&mut self) -> Result<(), AlertError> {
        Ok(())
    }
}

pub fn build_sink(cfg: &SinkConfig) -> Result<Box<dyn Sink>, AlertError> {
    Ok(match cfg {
        SinkConfig::Jsonl { path, max_bytes, keep } => Box::new(JsonlFileSink::new(path.clone(), *max_bytes, *keep)),
        SinkConfig::Syslog { address, transport, cef, app_name, ca_file, server_name } => {
            let s = SyslogSink::new(address.clone(), *transport, *cef, app_name.clone())?;
            if *transport == SyslogTransport::Tls { Box::new(s.with_tls(ca_file.as_deref(), server_name.as_deref())?) } else { Box::new(s) }
        }
        SinkConfig::Webhook { url, retries, backoff_ms, dead_letter } => {
            Box::new(WebhookSink::new(url, *retries, *backoff_ms, dead_letter.clone())?)
        }
        SinkConfig::Stdout => Box::new(StdoutSink),
    })
}

/// What was last sent for a finding id.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Sent {
    pub severity: Severity,
    pub last_seen: i64,
}

/// Groups repeats and fans findings out to the sinks.
pub struct Alerter {
    policy: AlertPolicy,
    sinks: Vec<Box<dyn Sink>>,
    sent: HashMap<String, Sent>,
    /// Delivery failures, per sink name (the finding went to the dead-letter file where one exists).
    pub failures: HashMap<String, u64>,
    pub delivered: u64,
}

/// Counts of one [`Alerter::offer`] call.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OfferStats {
    pub new: usize,
    pub updated: usize,
    pub suppressed: usize,
}

impl Alerter {
    pub fn new(policy: AlertPolicy, sinks: Vec<Box<dyn Sink>>) -> Self {
        Alerter { policy, sinks, sent: HashMap::new(), failures: HashMap::new(), delivered: 0 }
    }

    /// Restores the grouping state (persisted in the store between runs).
    pub fn with_state(mut self, sent: HashMap<String, Sent>) -> Self {
        self.sent = sent;
        self
    }

    pub fn state(&self) -> &HashMap<String, Sent> {
        &self.sent
    }

    /// Offers a window's findings: new ones are sent, known ones only when worse or due again.
    pub fn offer(&mut self, findings: &[Finding]) -> OfferStats {
        let mut st = OfferStats::default();
        for f in findings {
            if f.severity < self.policy.min_severity {
                continue;
            }
            let seen = f.last_seen.timestamp();
            let update = match self.sent.get(&f.id) {
                None => false,
                Some(prev) => {
                    let worse = f.severity > prev.severity;
                    let due = self.policy.resend_after_s > 0 && seen - prev.last_seen >= self.policy.resend_after_s;
                    if !worse && !due {
                        st.suppressed += 1;
                        continue;
                    }
                    true
                }
            };
            for sink in self.sinks.iter_mut() {
                match sink.send(f, update) {
                    Ok(()) => self.delivered += 1,
                    Err(_) => *self.failures.entry(sink.name()).or_default() += 1,
                }
            }
            // The highest severity sent so far: a weaker resend (a finding whose evidence is
            // sliding out of the window) does not re-arm the "worse" alert for its old level.
            let severity = self.sent.get(&f.id).map_or(f.severity, |p| p.severity.max(f.severity));
            self.sent.insert(f.id.clone(), Sent { severity, last_seen: seen });
            if update {
                st.updated += 1;
            } else {
                st.new += 1;
            }
        }
        for sink in self.sinks.iter_mut() {
            if sink.flush().is_err() {
                *self.failures.entry(sink.name()).or_default() += 1;
            }
        }
        st
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone};
    use std::sync::{Arc, Mutex};
    use vigil_model::FindingKind;

    pub(crate) fn finding(key: &str, sev: Severity, day: u32) -> Finding {
        let t = FixedOffset::east_opt(8 * 3600).unwrap().with_ymd_and_hms(2026, 1, day, 3, 0, 0).unwrap();
        Finding {
            id: Finding::stable_id(FindingKind::Beacon, &[key]),
            kind: FindingKind::Beacon,
            severity: sev,
            score: 0.8,
            src: "10.0.0.5".into(),
            dst: vec!["203.0.113.9".into()],
            path: vec![],
            first_seen: t,
            last_seen: t,
            attack: vec!["T1071.001".into()],
            summary: "beacon <script>".into(),
            evidence: serde_json::json!({}),
        }
    }

    struct Capture(Arc<Mutex<Vec<(String, bool)>>>);
    impl Sink for Capture {
        fn name(&self) -> String {
            "capture".into()
        }
        fn send(&mut self, f: &Finding, update: bool) -> Result<(), AlertError> {
            self.0.lock().unwrap().push((f.id.clone(), update));
            Ok(())
        }
    }

    #[test]
    fn repeats_are_grouped_and_only_worse_or_due_findings_resent() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut a = Alerter::new(AlertPolicy::default(), vec![Box::new(Capture(log.clone()))]);
        let f = finding("a", Severity::Medium, 1);
        assert_eq!(a.offer(std::slice::from_ref(&f)), OfferStats { new: 1, updated: 0, suppressed: 0 });
        assert_eq!(a.offer(std::slice::from_ref(&f)), OfferStats { new: 0, updated: 0, suppressed: 1 });
        let worse = finding("a", Severity::High, 1);
        assert_eq!(a.offer(&[worse]), OfferStats { new: 0, updated: 1, suppressed: 0 });
        let next_day = finding("a", Severity::High, 2);
        assert_eq!(a.offer(&[next_day]), OfferStats { new: 0, updated: 1, suppressed: 0 });
        let low = finding("b", Severity::Low, 1);
        assert_eq!(a.offer(&[low]), OfferStats::default(), "below the policy's minimum severity");
        // A day on, the finding's evidence is sliding out of the window: resent (due) at medium,
        // and back at high the same day is no news, since high was sent already.
        let fading = finding("a", Severity::Medium, 3);
        assert_eq!(a.offer(&[fading]), OfferStats { new: 0, updated: 1, suppressed: 0 });
        let back = finding("a", Severity::High, 3);
        assert_eq!(a.offer(&[back]), OfferStats { new: 0, updated: 0, suppressed: 1 });
        let got = log.lock().unwrap().clone();
        assert_eq!(got.iter().map(|(_, u)| *u).collect::<Vec<_>>(), vec![false, true, true, true]);
    }

    #[test]
    fn sink_config_parses_from_toml() {
        #[derive(Deserialize)]
        struct F {
            alert: Vec<SinkConfig>,
        }
        let f: F = toml_like(
            r#"{"alert":[{"type":"syslog","address":"127.0.0.1:514","transport":"tcp","cef":true},
                {"type":"webhook","url":"http://127.0.0.1:9/x","dead_letter":"/tmp/dl.jsonl"},
                {"type":"jsonl","path":"/tmp/a.jsonl"},{"type":"stdout"}]}"#,
        );
        assert_eq!(f.alert.len(), 4);
        assert!(matches!(f.alert[0], SinkConfig::Syslog { transport: SyslogTransport::Tcp, cef: true, .. }));
        assert!(matches!(f.alert[1], SinkConfig::Webhook { retries: 5, .. }));
    }

    fn toml_like<T: serde::de::DeserializeOwned>(json: &str) -> T {
        serde_json::from_str(json).unwrap()
    }
}
