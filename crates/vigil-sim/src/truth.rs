//! Ground truth: what the simulator planted, in the terms a finding would use.
//!
//! `truth.json` is a [`Truth`] object whose `items` list one entry per expected finding.
//! Hosts are IP address strings, times RFC 3339 in the site's zone (+08:00).

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use vigil_model::FindingKind;

/// One planted behaviour a detector should report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruthItem {
    /// Which storyline planted it (`beacon`, `inbound_scan`, `springboard`, `exfiltration`,
    /// `dormant_device`, `lateral_movement`, `dns_tunnel`, `foreign_admin_access`,
    /// `unmanaged_device`).
    pub storyline: String,
    /// The finding kind expected (a contract kind string).
    pub kind: FindingKind,
    /// The host a finding would name in `src`: the internal host, or for `inbound_scan` the
    /// scanner.
    pub key_host: String,
    /// The other side(s).
    #[serde(default)]
    pub dst: Vec<String>,
    /// For chains: hosts in order, outside first.
    #[serde(default)]
    pub path: Vec<String>,
    /// First and last packet of the behaviour in the capture.
    pub first_seen: DateTime<FixedOffset>,
    pub last_seen: DateTime<FixedOffset>,
    /// A sentence describing what was planted (with the variant drawn from the seed).
    #[serde(default)]
    pub description: String,
}

/// The whole ground truth of one generated scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub seed: u64,
    pub days: u32,
    pub hosts: usize,
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub items: Vec<TruthItem>,
}

#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not a ground-truth file: {msg}")]
    Parse { path: String, msg: String },
}

impl Truth {
    /// Reads `truth.json`: a [`Truth`] object, or a bare JSON array of items.
    pub fn load(path: &std::path::Path) -> Result<Vec<TruthItem>, TruthError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TruthError::Read { path: p.clone(), source })?;
        Truth::parse_items(&text).map_err(|msg| TruthError::Parse { path: p, msg })
    }

    pub fn parse_items(text: &str) -> Result<Vec<TruthItem>, String> {
        if text.trim_start().starts_with('[') {
            serde_json::from_str(text).map_err(|e| e.to_string())
        } else {
            serde_json::from_str::<Truth>(text).map(|t| t.items).map_err(|e| e.to_string())
        }
    }
}
