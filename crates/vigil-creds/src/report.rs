//! From [`CredFinding`]s to what users see: contract findings of kind `credential_exposure`
//! (risk raised for tables with many hosts or admin accounts), a terminal table with attacker
//! text escaped, and SARIF 2.1.0 for CI systems. Secrets appear only redacted.

use crate::CredFinding;
use crate::hit::Category;
use crate::secret::{escape_control, redact};
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde_json::{Value, json};
use vigil_model::{Finding, FindingKind, Severity};

/// The risk score (0–1) of one finding.
pub fn risk(f: &CredFinding) -> f64 {
    let h = &f.hit;
    let mut s = h.category.base_risk();
    if let Some(t) = &h.table {
        if t.rows_with_password >= 5 {
            s += 0.05;
        }
        if t.rows_with_password >= 50 {
            s += 0.05;
        }
        if t.hosts >= 10 {
            s += 0.1;
        }
        if t.admin_accounts > 0 {
            s += 0.1;
        }
    } else if h.account.as_deref().is_some_and(crate::hit::is_admin_account) {
        s += 0.1;
    }
    (s * (0.7 + 0.3 * h.confidence)).clamp(0.0, 1.0)
}

fn attack_ids(f: &CredFinding) -> Vec<String> {
    let lname = f.file.to_ascii_lowercase();
    let mut v = match f.hit.category {
        Category::PrivateKey => vec!["T1552.004"],
        Category::AdminToolStore | Category::PasswordExport => vec!["T1555", "T1552.001"],
        _ => vec!["T1552.001"],
    };
    if lname.contains("history") {
        v.push("T1552.003");
    }
    v.into_iter().map(str::to_string).collect()
}

/// Where in the file, for people: `line 12`, `lines 3–40`, `sheet "账号"!C7`.
pub fn location(f: &CredFinding) -> String {
    match (&f.sheet, &f.cell, f.line, f.end_line) {
        (Some(s), Some(c), _, _) => format!("{}!{}", escape_control(s), c),
        (_, _, Some(l), Some(e)) if e > l => format!("lines {l}-{e}"),
        (_, _, Some(l), _) => format!("line {l}"),
        _ => String::new(),
    }
}

fn what(f: &CredFinding) -> String {
    let h = &f.hit;
    match (&h.table, h.category) {
        (Some(t), Category::PasswordExport) => {
            format!("{} with {} saved passwords", h.note.as_deref().unwrap_or("password export"), t.rows_with_password)
        }
        (Some(t), _) => {
            let mut s = format!("Password table with {} rows ({} with passwords", t.rows, t.rows_with_password);
            if t.hosts > 0 {
                s.push_str(&format!(", {} hosts", t.hosts));
            }
            if t.admin_accounts > 0 {
                s.push_str(&format!(", {} admin accounts", t.admin_accounts));
            }
            s.push(')');
            s
        }
        (None, Category::AdminToolStore) => format!("Saved {} password", tool_name(h.detector)),
        (None, Category::PrivateKey) => "Unencrypted private key".into(),
        (None, Category::CloudKey) => format!("Cloud credential ({})", h.detector.replace('_', " ")),
        (None, Category::ApiToken) => format!("API token ({})", h.detector.replace('_', " ")),
        (None, Category::ConnectionString) => "Connection string with a password".into(),
        (None, Category::PasswordHash) => "Password hash".into(),
        (None, Category::GenericSecret) => "Secret in a configuration value".into(),
        (None, _) => match h.detector {
            "command_line_password" => "Password on a command line".into(),
            "url_credentials" => "URL with user name and password".into(),
            _ => "Plaintext password".into(),
        },
    }
}

fn tool_name(d: &str) -> &'static str {
    match d {
        "winscp_ini" => "WinSCP",
        "filezilla_sitemanager" => "FileZilla",
        "mremoteng_confcons" => "mRemoteNG",
        "putty_session" => "PuTTY",
        "kitty_session" => "KiTTY",
        "rdp_saved_password" => "RDP",
        "xshell_session" => "Xshell/Xftp",
        "securecrt_session" => "SecureCRT",
        "mobaxterm_ini" => "MobaXterm",
        "navicat_ncx" => "Navicat",
        _ => "admin tool",
    }
}

/// One sentence for a duty officer.
pub fn summary(f: &CredFinding) -> String {
    let mut s = format!("{} in {}", what(f), escape_control(&f.file));
    let loc = location(f);
    if !loc.is_empty() {
        s.push_str(&format!(" ({loc})"));
    }
    if f.hit.table.is_none() {
        if let Some(a) = &f.hit.account {
            s.push_str(&format!(" for account {}", escape_control(a)));
        }
        if let Some(h) = &f.hit.host {
            s.push_str(&format!(" on {}", escape_control(h)));
        }
    }
    s.push_str(&format!(": {}", redact(&f.hit.secret)));
    s
}

fn time_of(mtime: Option<i64>) -> DateTime<FixedOffset> {
    let utc = Utc.timestamp_opt(mtime.unwrap_or(0), 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC);
    utc.fixed_offset()
}

/// Contract findings (`kind = credential_exposure`). `src` is the scanning host's name or the
/// share path; `mtime` gives each file's modification time (Unix seconds) when known.
pub fn to_findings(found: &[CredFinding], src: &str, mtime: &dyn Fn(&str) -> Option<i64>) -> Vec<Finding> {
    let mut out: Vec<Finding> = found
        .iter()
        .map(|f| {
            let h = &f.hit;
            let score = risk(f);
            let loc = match (&f.sheet, &f.cell, f.line) {
                (Some(s), Some(c), _) => format!("{s}!{c}"),
                (_, _, Some(l)) => l.to_string(),
                _ => String::new(),
            };
            let id = Finding::stable_id(FindingKind::CredentialExposure, &[src, &f.file, &loc, h.detector, &redact(&h.secret)]);
            let mut ev = json!({
                "file": f.file,
                "detector": h.detector,
                "category": h.category.as_str(),
                "confidence": (h.confidence * 100.0).round() / 100.0,
                "redacted": redact(&h.secret),
            });
            if let Some(m) = ev.as_object_mut() {
                if let Some(l) = f.line {
                    m.insert("line".into(), json!(l));
                }
                if let (Some(l), Some(e)) = (f.line, f.end_line)
                    && e > l
                {
                    m.insert("end_line".into(), json!(e));
                }
                if let Some(s) = &f.sheet {
                    m.insert("sheet".into(), json!(s));
                }
                if let Some(c) = &f.cell {
                    m.insert("cell".into(), json!(c));
                }
                if let Some(a) = &h.account {
                    m.insert("account".into(), json!(a));
                    m.insert("admin_account".into(), json!(crate::hit::is_admin_account(a)));
                }
                if let Some(x) = &h.host {
                    m.insert("host".into(), json!(x));
                }
                if let Some(n) = &h.note {
                    m.insert("note".into(), json!(n));
                }
                if let Some(t) = &h.table {
                    m.insert("rows".into(), json!(t.rows));
                    m.insert("rows_with_password".into(), json!(t.rows_with_password));
                    m.insert("hosts".into(), json!(t.hosts));
                    m.insert("admin_accounts".into(), json!(t.admin_accounts));
                    m.insert("columns".into(), json!(t.columns));
                }
            }
            let t = time_of(mtime(&f.file));
            Finding {
                id,
                kind: FindingKind::CredentialExposure,
                severity: Severity::from_score(score),
                score: (score * 1000.0).round() / 1000.0,
                src: src.to_string(),
                dst: h.host.iter().cloned().collect(),
                path: Vec::new(),
                first_seen: t,
                last_seen: t,
                attack: attack_ids(f),
                summary: summary(f),
                evidence: ev,
            }
        })
        .collect();
    Finding::rank(&mut out);
    out
}

/// SARIF 2.1.0 log of the findings (one rule per detector).
pub fn to_sarif(found: &[CredFinding], findings: &[Finding]) -> Value {
    let mut rules: Vec<&str> = found.iter().map(|f| f.hit.detector).collect();
    rules.sort_unstable();
    rules.dedup();
    let rules_json: Vec<Value> = rules
        .iter()
        .map(|r| json!({"id": r, "name": r, "shortDescription": {"text": format!("credential exposure: {}", r.replace('_', " "))}, "helpUri": "https://attack.mitre.org/techniques/T1552/001/"}))
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let ev = &f.evidence;
            let level = match f.severity {
                Severity::Critical | Severity::High => "error",
                Severity::Medium => "warning",
                _ => "note",
            };
            let mut region = json!({});
            if let Some(l) = ev.get("line") {
                region["startLine"] = l.clone();
                region["endLine"] = ev.get("end_line").cloned().unwrap_or_else(|| l.clone());
            }
            let uri = ev.get("file").and_then(Value::as_str).unwrap_or("").replace('\\', "/");
            let mut loc = json!({"physicalLocation": {"artifactLocation": {"uri": uri}}});
            if region.as_object().is_some_and(|o| !o.is_empty()) {
                loc["physicalLocation"]["region"] = region;
            }
            if let (Some(s), Some(c)) = (ev.get("sheet"), ev.get("cell")) {
                loc["logicalLocations"] = json!([{"name": format!("{}!{}", s.as_str().unwrap_or(""), c.as_str().unwrap_or("")), "kind": "element"}]);
            }
            json!({
                "ruleId": ev.get("detector").cloned().unwrap_or(Value::Null),
                "level": level,
                "message": {"text": f.summary},
                "locations": [loc],
                "partialFingerprints": {"vigilFindingId/v1": f.id},
                "properties": {"severity": f.severity.as_str(), "score": f.score, "redacted": ev.get("redacted").cloned().unwrap_or(Value::Null), "confidence": ev.get("confidence").cloned().unwrap_or(Value::Null)},
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "vigil-creds", "informationUri": "https://example.invalid/vigil", "version": env!("CARGO_PKG_VERSION"), "rules": rules_json}},
            "results": results,
        }],
    })
}

/// A plain-text table for terminals, attacker text escaped.
pub fn render_table(findings: &[Finding]) -> String {
    let mut s = format!("{:<9} {:>5}  {:<28} {:<20} {}\n", "SEVERITY", "SCORE", "DETECTOR", "SECRET", "WHERE");
    for f in findings {
        let ev = &f.evidence;
        let det = ev.get("detector").and_then(Value::as_str).unwrap_or("");
        let red = ev.get("redacted").and_then(Value::as_str).unwrap_or("");
        let file = escape_control(ev.get("file").and_then(Value::as_str).unwrap_or(""));
        let loc =
            match (ev.get("sheet").and_then(Value::as_str), ev.get("cell").and_then(Value::as_str), ev.get("line").and_then(Value::as_u64))
            {
                (Some(sh), Some(c), _) => format!("{file} [{}!{c}]", escape_control(sh)),
                (_, _, Some(l)) => format!("{file}:{l}"),
                _ => file,
            };
        s.push_str(&format!("{:<9} {:>5.2}  {:<28} {:<20} {}\n", f.severity.as_str(), f.score, det, escape_control(red), loc));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hit::{Hit, TableStats};

    fn table_finding(admins: usize, hosts: usize) -> CredFinding {
        let mut h = Hit::new("password_table", Category::PasswordTable, 0.95, "Secret#123", 0, 10);
        h.table = Some(TableStats { rows: 40, rows_with_password: 40, hosts, admin_accounts: admins, columns: vec![] });
        CredFinding { file: "a\x1b[2J.csv".into(), line: Some(1), end_line: Some(41), sheet: None, cell: None, hit: h }
    }

    #[test]
    fn admin_accounts_and_many_hosts_raise_risk() {
        assert!(risk(&table_finding(3, 40)) > risk(&table_finding(0, 1)));
        let f = to_findings(&[table_finding(3, 40)], "ws01", &|_| None);
        assert_eq!(f[0].kind, FindingKind::CredentialExposure);
        assert!(f[0].severity >= Severity::High);
        assert!(!f[0].summary.contains('\x1b'));
        assert!(!f[0].summary.contains("Secret#123"));
        assert_eq!(f[0].evidence["rows_with_password"], 40);
        let sarif = to_sarif(&[table_finding(3, 40)], &f);
        assert_eq!(sarif["version"], "2.1.0");
        assert_eq!(sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"], 1);
        assert!(!render_table(&f).contains('\x1b'));
    }
}
