//! Scoring findings against ground truth.
//!
//! Rules (documented for whoever reads the accuracy figures):
//! - A truth item is **found** when some finding of the same kind names the item's key host
//!   in `src`, `dst` or `path` and its time window [first_seen, last_seen] overlaps the item's,
//!   both widened by the slack (default 2 h; detectors summarise over windows).
//! - **Recall** per kind = found items / items of that kind.
//! - **Precision** is over findings with severity ≥ medium: such a finding is a true positive
//!   when it matches a truth item of its own kind as above, or a truth item of a *related*
//!   kind (same evidence seen through another lens): springboard ↔ lateral_movement ↔
//!   unmanaged_device (chains through the same hosts), exfiltration ↔ rotating_destinations,
//!   long_connection → exfiltration / springboard / beacon, dormant_device ↔
//!   unmanaged_device, dormant_device → springboard (a quiet pivot woken by the attacker's
//!   episode, the test-device incident) / exfiltration (a server quiet for days whose wake-up
//!   is the night's upload), foreign_admin_access → inbound_scan / springboard (a foreign session to
//!   the edge), ioc_match → any storyline. For related kinds the finding must name the item's
//!   key host (in src, dst or path), or have its `src` on the item's path; naming a popular
//!   server the item also touched is not enough. Everything else at ≥ medium is a false
//!   positive.
//! - Findings below medium are not counted either way.
//! - Hosts are compared as strings after dropping any " (name)" suffix, so `dst` entries
//!   like `10.1.0.25 (mail01)` match.

use crate::truth::TruthItem;
use chrono::Duration;
use serde::Serialize;
use std::collections::BTreeMap;
use vigil_model::{Finding, FindingKind, Severity};

/// Time slack on both sides of every window.
pub const DEFAULT_SLACK_S: i64 = 2 * 3600;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindScore {
    pub kind: FindingKind,
    pub truth_items: usize,
    pub found: usize,
    pub recall: f64,
    /// Findings of this kind at ≥ medium, and how many were true positives.
    pub findings: usize,
    pub true_positives: usize,
    pub precision: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Miss {
    pub storyline: String,
    pub kind: FindingKind,
    pub key_host: String,
    pub first_seen: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FalsePositive {
    pub id: String,
    pub kind: FindingKind,
    pub severity: Severity,
    pub src: String,
    pub summary: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalReport {
    pub per_kind: Vec<KindScore>,
    /// Found items / all items.
    pub recall: f64,
    /// True positives / findings at ≥ medium (1.0 when there are none).
    pub precision: f64,
    pub truth_items: usize,
    pub found: usize,
    pub findings_considered: usize,
    pub true_positives: usize,
    pub misses: Vec<Miss>,
    pub false_positives: Vec<FalsePositive>,
}

fn related(finding: FindingKind, truth: FindingKind) -> bool {
    use FindingKind::*;
    matches!(
        (finding, truth),
        (Springboard, LateralMovement | UnmanagedDevice)
            | (LateralMovement, Springboard | UnmanagedDevice)
            | (UnmanagedDevice, Springboard | DormantDevice)
            | (DormantDevice, UnmanagedDevice | Springboard | Exfiltration)
            | (Exfiltration, RotatingDestinations)
            | (RotatingDestinations, Exfiltration)
            | (LongConnection, Exfiltration | Springboard | Beacon)
            | (ForeignAdminAccess, InboundScan | Springboard)
            | (IocMatch, _)
    )
}

fn bare(h: &str) -> &str {
    h.split_once(' ').map_or(h, |(a, _)| a).trim()
}

fn names(f: &Finding, host: &str) -> bool {
    bare(&f.src) == host || f.dst.iter().any(|d| bare(d) == host) || f.path.iter().any(|d| bare(d) == host)
}

fn overlaps(f: &Finding, t: &TruthItem, slack: Duration) -> bool {
    f.first_seen <= t.last_seen + slack && t.first_seen <= f.last_seen + slack
}

fn matches_same_kind(f: &Finding, t: &TruthItem, slack: Duration) -> bool {
    f.kind == t.kind && names(f, &t.key_host) && overlaps(f, t, slack)
}

fn matches_related(f: &Finding, t: &TruthItem, slack: Duration) -> bool {
    related(f.kind, t.kind) && (names(f, &t.key_host) || t.path.iter().any(|h| bare(h) == bare(&f.src))) && overlaps(f, t, slack)
}

/// Scores `findings` against `truth` with the default slack.
pub fn score(truth: &[TruthItem], findings: &[Finding]) -> EvalReport {
    score_with_slack(truth, findings, Duration::seconds(DEFAULT_SLACK_S))
}

pub fn score_with_slack(truth: &[TruthItem], findings: &[Finding], slack: Duration) -> EvalReport {
    let mut per: BTreeMap<FindingKind, KindScore> = BTreeMap::new();
    let entry = |per: &mut BTreeMap<FindingKind, KindScore>, k: FindingKind| {
        per.entry(k)
            .or_insert(KindScore { kind: k, truth_items: 0, found: 0, recall: 1.0, findings: 0, true_positives: 0, precision: 1.0 })
            .kind
    };
    let mut misses = Vec::new();
    let mut found_total = 0;
    for t in truth {
        entry(&mut per, t.kind);
        let found = findings.iter().any(|f| matches_same_kind(f, t, slack));
        if let Some(e) = per.get_mut(&t.kind) {
            e.truth_items += 1;
            if found {
                e.found += 1;
            }
        }
        if found {
            found_total += 1;
        } else {
            misses.push(Miss {
                storyline: t.storyline.clone(),
                kind: t.kind,
                key_host: t.key_host.clone(),
                first_seen: t.first_seen.to_rfc3339(),
            });
        }
    }
    let mut fps = Vec::new();
    let (mut considered, mut tp_total) = (0, 0);
    for f in findings.iter().filter(|f| f.severity >= Severity::Medium) {
        considered += 1;
        entry(&mut per, f.kind);
        let tp = truth.iter().any(|t| matches_same_kind(f, t, slack) || matches_related(f, t, slack));
        if let Some(e) = per.get_mut(&f.kind) {
            e.findings += 1;
            if tp {
                e.true_positives += 1;
            }
        }
        if tp {
            tp_total += 1;
        } else {
            fps.push(FalsePositive {
                id: f.id.clone(),
                kind: f.kind,
                severity: f.severity,
                src: f.src.clone(),
                summary: f.summary.clone(),
            });
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let per_kind: Vec<KindScore> = per
        .into_values()
        .map(|mut k| {
            k.recall = ratio(k.found, k.truth_items);
            k.precision = ratio(k.true_positives, k.findings);
            k
        })
        .collect();
    EvalReport {
        per_kind,
        recall: ratio(found_total, truth.len()),
        precision: ratio(tp_total, considered),
        truth_items: truth.len(),
        found: found_total,
        findings_considered: considered,
        true_positives: tp_total,
        misses,
        false_positives: fps,
    }
}

impl EvalReport {
    /// A plain-text table for terminals.
    pub fn to_table(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ =
            writeln!(s, "{:<24} {:>6} {:>6} {:>7}   {:>8} {:>4} {:>9}", "kind", "truth", "found", "recall", "findings", "tp", "precision");
        for k in &self.per_kind {
            let _ = writeln!(
                s,
                "{:<24} {:>6} {:>6} {:>7.2}   {:>8} {:>4} {:>9.2}",
                k.kind.as_str(),
                k.truth_items,
                k.found,
                k.recall,
                k.findings,
                k.true_positives,
                k.precision
            );
        }
        let _ = writeln!(
            s,
            "{:<24} {:>6} {:>6} {:>7.2}   {:>8} {:>4} {:>9.2}",
            "all", self.truth_items, self.found, self.recall, self.findings_considered, self.true_positives, self.precision
        );
        if !self.misses.is_empty() {
            let _ = writeln!(s, "\nmissed:");
            for m in &self.misses {
                let _ = writeln!(s, "  {:<22} {:<24} {:<16} from {}", m.storyline, m.kind.as_str(), m.key_host, m.first_seen);
            }
        }
        if !self.false_positives.is_empty() {
            let _ = writeln!(s, "\nfalse positives (severity >= medium):");
            for f in &self.false_positives {
                let _ = writeln!(s, "  {:<24} {:<8} {:<16} {}", f.kind.as_str(), f.severity.as_str(), f.src, f.summary);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn t(s: &str) -> DateTime<chrono::FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn item(kind: FindingKind, host: &str, a: &str, z: &str) -> TruthItem {
        TruthItem {
            storyline: kind.as_str().into(),
            kind,
            key_host: host.into(),
            dst: vec!["203.0.113.5".into()],
            path: vec![],
            first_seen: t(a),
            last_seen: t(z),
            description: String::new(),
        }
    }

    fn finding(kind: FindingKind, sev: Severity, src: &str, dst: &[&str], a: &str, z: &str) -> Finding {
        Finding {
            id: format!("{}-{src}-{a}", kind.as_str()),
            kind,
            severity: sev,
            score: 0.8,
            src: src.into(),
            dst: dst.iter().map(|s| s.to_string()).collect(),
            path: vec![],
            first_seen: t(a),
            last_seen: t(z),
            attack: vec![],
            summary: "s".into(),
            evidence: serde_json::json!({}),
        }
    }

    #[test]
    fn recall_precision_and_lists() {
        let truth = vec![
            item(FindingKind::Beacon, "10.1.0.30", "2026-03-02T10:00:00+08:00", "2026-03-03T10:00:00+08:00"),
            item(FindingKind::Exfiltration, "10.20.1.31", "2026-03-03T02:00:00+08:00", "2026-03-05T04:00:00+08:00"),
            item(FindingKind::RotatingDestinations, "10.20.1.31", "2026-03-03T02:00:00+08:00", "2026-03-05T04:00:00+08:00"),
        ];
        let findings = vec![
            // Found: right kind, right host (in src), overlapping.
            finding(
                FindingKind::Beacon,
                Severity::High,
                "10.1.0.30",
                &["203.0.113.5"],
                "2026-03-02T12:00:00+08:00",
                "2026-03-02T13:00:00+08:00",
            ),
            // Right kind, right host, but days away: not a match, and a false positive.
            finding(FindingKind::Beacon, Severity::Medium, "10.1.0.30", &[], "2026-03-08T12:00:00+08:00", "2026-03-08T13:00:00+08:00"),
            // Exfiltration found through dst naming with a name suffix.
            finding(
                FindingKind::Exfiltration,
                Severity::Critical,
                "203.0.113.5",
                &["10.20.1.31 (db02)"],
                "2026-03-04T02:10:00+08:00",
                "2026-03-04T02:30:00+08:00",
            ),
            // Related kind: long_connection on the exfil host is not a false positive.
            finding(
                FindingKind::LongConnection,
                Severity::Medium,
                "10.20.1.31",
                &[],
                "2026-03-04T02:10:00+08:00",
                "2026-03-04T02:30:00+08:00",
            ),
            // Related kind naming only the item's destination (a popular server): a false positive.
            finding(
                FindingKind::LongConnection,
                Severity::Medium,
                "10.30.1.9",
                &["203.0.113.5"],
                "2026-03-04T02:10:00+08:00",
                "2026-03-04T02:30:00+08:00",
            ),
            // Low severity false alarm: ignored for precision.
            finding(FindingKind::DnsTunnel, Severity::Low, "10.30.1.22", &[], "2026-03-04T02:10:00+08:00", "2026-03-04T02:30:00+08:00"),
        ];
        let r = score(&truth, &findings);
        assert_eq!(r.truth_items, 3);
        assert_eq!(r.found, 2);
        assert_eq!(r.misses.len(), 1);
        assert_eq!(r.misses[0].kind, FindingKind::RotatingDestinations);
        assert_eq!(r.findings_considered, 5);
        assert_eq!(r.true_positives, 3);
        assert_eq!(r.false_positives.len(), 2);
        assert_eq!(r.false_positives[0].kind, FindingKind::Beacon);
        assert_eq!(r.false_positives[1].src, "10.30.1.9");
        let beacon = r.per_kind.iter().find(|k| k.kind == FindingKind::Beacon).unwrap();
        assert_eq!((beacon.recall, beacon.precision), (1.0, 0.5));
        assert!((r.recall - 2.0 / 3.0).abs() < 1e-9);
        assert!(r.to_table().contains("rotating_destinations"));
    }

    #[test]
    fn a_dormant_wake_up_that_is_the_planted_upload_or_pivot_is_not_a_false_positive() {
        let truth = vec![
            item(FindingKind::Exfiltration, "10.20.1.31", "2026-03-05T02:00:00+08:00", "2026-03-11T03:00:00+08:00"),
            item(FindingKind::Springboard, "10.40.0.11", "2026-03-04T13:00:00+08:00", "2026-03-09T15:00:00+08:00"),
        ];
        let f = vec![
            // The exfiltration host waking at night for the upload, the pivot waking for the
            // attacker's episode: the same evidence seen as dormancy.
            finding(
                FindingKind::DormantDevice,
                Severity::Medium,
                "10.20.1.31",
                &[],
                "2026-03-09T02:30:00+08:00",
                "2026-03-09T02:40:00+08:00",
            ),
            finding(
                FindingKind::DormantDevice,
                Severity::Medium,
                "10.40.0.11",
                &[],
                "2026-03-09T14:39:00+08:00",
                "2026-03-09T14:40:00+08:00",
            ),
            // The same host waking days after its storyline ended is a false positive.
            finding(
                FindingKind::DormantDevice,
                Severity::Medium,
                "10.20.1.31",
                &[],
                "2026-03-20T09:00:00+08:00",
                "2026-03-20T09:10:00+08:00",
            ),
        ];
        let r = score(&truth, &f);
        assert_eq!(r.true_positives, 2);
        assert_eq!(r.false_positives.len(), 1);
        assert_eq!(r.false_positives[0].src, "10.20.1.31");
    }

    #[test]
    fn slack_widens_windows() {
        let truth = vec![item(FindingKind::DnsTunnel, "10.30.1.5", "2026-03-02T10:00:00+08:00", "2026-03-02T11:00:00+08:00")];
        let f = vec![finding(
            FindingKind::DnsTunnel,
            Severity::High,
            "10.30.1.5",
            &[],
            "2026-03-02T12:30:00+08:00",
            "2026-03-02T13:00:00+08:00",
        )];
        assert_eq!(score(&truth, &f).found, 1);
        assert_eq!(score_with_slack(&truth, &f, Duration::minutes(30)).found, 0);
    }
}
