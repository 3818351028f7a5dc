//! Findings: what every detector, scanner and triage pass reports, in the shape of
//! `shared/CONTRACT.md` (one JSON object per line with `--format jsonl`).

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Beacon,
    Exfiltration,
    RotatingDestinations,
    LongConnection,
    DnsTunnel,
    LateralMovement,
    Springboard,
    DormantDevice,
    UnmanagedDevice,
    InboundScan,
    ForeignAdminAccess,
    IocMatch,
    ExposedService,
    VulnerableService,
    CredentialExposure,
    Phishing,
}

impl FindingKind {
    pub const ALL: [FindingKind; 16] = [
        FindingKind::Beacon,
        FindingKind::Exfiltration,
        FindingKind::RotatingDestinations,
        FindingKind::LongConnection,
        FindingKind::DnsTunnel,
        FindingKind::LateralMovement,
        FindingKind::Springboard,
        FindingKind::DormantDevice,
        FindingKind::UnmanagedDevice,
        FindingKind::InboundScan,
        FindingKind::ForeignAdminAccess,
        FindingKind::IocMatch,
        FindingKind::ExposedService,
        FindingKind::VulnerableService,
        FindingKind::CredentialExposure,
        FindingKind::Phishing,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Beacon => "beacon",
            FindingKind::Exfiltration => "exfiltration",
            FindingKind::RotatingDestinations => "rotating_destinations",
            FindingKind::LongConnection => "long_connection",
            FindingKind::DnsTunnel => "dns_tunnel",
            FindingKind::LateralMovement => "lateral_movement",
            FindingKind::Springboard => "springboard",
            FindingKind::DormantDevice => "dormant_device",
            FindingKind::UnmanagedDevice => "unmanaged_device",
            FindingKind::InboundScan => "inbound_scan",
            FindingKind::ForeignAdminAccess => "foreign_admin_access",
            FindingKind::IocMatch => "ioc_match",
            FindingKind::ExposedService => "exposed_service",
            FindingKind::VulnerableService => "vulnerable_service",
            FindingKind::CredentialExposure => "credential_exposure",
            FindingKind::Phishing => "phishing",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        FindingKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
    /// The default mapping from a 0–1 score to a severity, shared by all detectors so that
    /// "severity ≥ medium" means the same thing everywhere.
    pub fn from_score(score: f64) -> Self {
        if score >= 0.9 {
            Severity::Critical
        } else if score >= 0.75 {
            Severity::High
        } else if score >= 0.5 {
            Severity::Medium
        } else if score >= 0.3 {
            Severity::Low
        } else {
            Severity::Info
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding, as in `shared/CONTRACT.md`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable for the same finding on the same input (see [`Finding::stable_id`]).
    pub id: String,
    pub kind: FindingKind,
    pub severity: Severity,
    /// 0.0–1.0, the ranking key.
    pub score: f64,
    /// The internal host the finding is about (for `inbound_scan`, the scanner).
    pub src: String,
    pub dst: Vec<String>,
    /// For chains: hosts in order, outside first.
    pub path: Vec<String>,
    pub first_seen: DateTime<FixedOffset>,
    pub last_seen: DateTime<FixedOffset>,
    /// MITRE ATT&CK technique ids.
    pub attack: Vec<String>,
    pub summary: String,
    /// The figures behind the score.
    pub evidence: serde_json::Value,
}

impl Finding {
    /// A content-derived id: the same kind, subject and key on the same input give the same id,
    /// so re-reading an input does not duplicate findings. FNV-1a 64 is enough here: ids are not
    /// a security boundary, only a de-duplication key.
    pub fn stable_id(kind: FindingKind, parts: &[&str]) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |b: &[u8]| {
            for &x in b {
                h ^= x as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            h ^= 0xff;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        };
        eat(kind.as_str().as_bytes());
        for p in parts {
            eat(p.as_bytes());
        }
        format!("{}-{:016x}", kind.as_str(), h)
    }

    /// Orders findings for display: highest score first, then by id for determinism.
    pub fn rank(findings: &mut [Finding]) {
        findings.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_serde_and_parse() {
        for k in FindingKind::ALL {
            let s = serde_json::to_string(&k).unwrap();
            assert_eq!(s, format!("\"{}\"", k.as_str()));
            assert_eq!(FindingKind::parse(k.as_str()), Some(k));
        }
    }

    #[test]
    fn stable_id_depends_on_every_part() {
        let a = Finding::stable_id(FindingKind::Beacon, &["10.0.0.1", "1.2.3.4"]);
        assert_eq!(a, Finding::stable_id(FindingKind::Beacon, &["10.0.0.1", "1.2.3.4"]));
        assert_ne!(a, Finding::stable_id(FindingKind::Beacon, &["10.0.0.1", "1.2.3.5"]));
        assert_ne!(a, Finding::stable_id(FindingKind::Beacon, &["10.0.0.11.2.3.4"]));
        assert_ne!(a, Finding::stable_id(FindingKind::Exfiltration, &["10.0.0.1", "1.2.3.4"]));
    }

    #[test]
    fn severity_thresholds() {
        assert_eq!(Severity::from_score(0.95), Severity::Critical);
        assert_eq!(Severity::from_score(0.5), Severity::Medium);
        assert_eq!(Severity::from_score(0.49), Severity::Low);
        assert!(Severity::Medium < Severity::High);
    }
}
