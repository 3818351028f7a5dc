//! From services to what to patch first: CVE matching per service, the prioritised patch list,
//! and the `exposed_service` / `vulnerable_service` findings of CONTRACT.md.
//!
//! Order: known exploited (CISA KEV; ransomware use first) before everything else, then EPSS ×
//! CVSS, with internet-facing and edge / critical-zone assets lifted above internal ones. Scores
//! live in bands so the order is visible in the one `score` field: KEV findings score ≥ 0.90,
//! everything else below.

use crate::cpe::Cpe;
use crate::ident::{Service, cpe_for};
use crate::vulndb::{VulnDb, VulnMatch, risk_value};
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use serde_json::json;
use std::net::IpAddr;
use vigil_model::{Finding, FindingKind, Severity};

/// Where an asset sits, as the site knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// Reachable from the internet (a public address, or in a zone the site marks as such).
    pub internet_facing: bool,
    /// In an edge / DMZ zone.
    pub edge: bool,
    /// In a zone the site marks critical.
    pub critical: bool,
    pub zone: Option<String>,
}

/// Default placement without a site file: public addresses are internet-facing.
pub fn default_placement(ip: IpAddr) -> Placement {
    Placement { internet_facing: is_public(ip), ..Default::default() }
}

/// Not private, loopback, link-local, CGNAT, ULA, documentation or multicast space.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            !(v.is_private()
                || v.is_loopback()
                || v.is_link_local()
                || v.is_unspecified()
                || v.is_broadcast()
                || v.is_multicast()
                || v.is_documentation()
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            !(v.is_loopback()
                || v.is_unspecified()
                || v.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || s[0] == 0x2001 && s[1] == 0xdb8)
        }
    }
}

fn tier(p: &Placement) -> f64 {
    if p.internet_facing || p.edge {
        1.0
    } else if p.critical {
        0.6
    } else {
        0.0
    }
}

/// Kinds of exposure worth a finding on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExposureClass {
    RemoteAccess,
    Database,
    AdminPortal,
    FileSharing,
    ManagementApi,
}

impl ExposureClass {
    fn label(self) -> &'static str {
        match self {
            ExposureClass::RemoteAccess => "remote access",
            ExposureClass::Database => "database",
            ExposureClass::AdminPortal => "VPN/mail/admin portal",
            ExposureClass::FileSharing => "file sharing",
            ExposureClass::ManagementApi => "management API",
        }
    }
}

/// Classifies a service (None for ordinary web/mail service that is meant to be reachable).
pub fn classify(s: &Service) -> Option<ExposureClass> {
    if s.portal.is_some() {
        return Some(ExposureClass::AdminPortal);
    }
    let name = s.service.as_deref().unwrap_or("").to_ascii_lowercase();
    let product = s.product.as_deref().unwrap_or("").to_ascii_lowercase();
    match name.as_str() {
        "ssh" | "telnet" | "rdp" | "ms-wbt-server" | "vnc" | "x11" | "winrm" => return Some(ExposureClass::RemoteAccess),
        "mysql" | "postgresql" | "redis" | "mongodb" | "ms-sql-s" | "oracle" | "oracle-tns" | "memcached" | "elasticsearch" | "couchdb"
        | "cassandra" => {
            return Some(ExposureClass::Database);
        }
        "smb" | "microsoft-ds" | "netbios-ssn" | "ftp" | "nfs" | "rsync" => return Some(ExposureClass::FileSharing),
        "ldap" | "ldaps" | "docker" | "kubernetes" | "snmp" => return Some(ExposureClass::ManagementApi),
        _ => {}
    }
    if ["redis", "mysql", "mariadb", "postgresql", "mongodb"].iter().any(|p| product.contains(p)) {
        return Some(ExposureClass::Database);
    }
    if product.contains("openssh") || product.contains("dropbear") {
        return Some(ExposureClass::RemoteAccess);
    }
    match s.port {
        22 | 23 | 3389 | 5900 | 5985 | 5986 => Some(ExposureClass::RemoteAccess),
        1433 | 1521 | 3306 | 5432 | 6379 | 9200 | 11211 | 27017 => Some(ExposureClass::Database),
        445 | 139 | 21 | 2049 => Some(ExposureClass::FileSharing),
        2375 | 2376 | 6443 | 10250 => Some(ExposureClass::ManagementApi),
        _ => None,
    }
}

/// One service with its CVEs and placement.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    pub service: Service,
    pub vulns: Vec<VulnMatch>,
    pub placement: Placement,
    pub exposure: Option<ExposureClass>,
}

/// vendor, product and version (as printed) that CPE matching uses for a service.
pub fn match_key(s: &Service) -> Option<(String, String, String)> {
    if let Some(c) = s.cpe.as_deref().and_then(Cpe::parse)
        && let Some(v) = s.version.clone().or_else(|| c.full_version())
    {
        return Some((c.vendor, c.product, v));
    }
    let (v, p) = cpe_for(s.product.as_deref()?)?;
    Some((v.to_string(), p.to_string(), s.version.clone()?))
}

/// Matches every service against the database.
pub fn assess(services: &[Service], db: &VulnDb, placement: &dyn Fn(IpAddr) -> Placement) -> Vec<Assessment> {
    services
        .iter()
        .map(|s| {
            let vulns = match match_key(s) {
                Some((vendor, product, ver)) => db.match_product(&vendor, &product, &ver, s.distro.as_deref()),
                None => Vec::new(),
            };
            Assessment { placement: s.ip.map(placement).unwrap_or_default(), exposure: classify(s), service: s.clone(), vulns }
        })
        .collect()
}

/// The ranking score of one CVE on one asset (see the module documentation for the bands).
pub fn vuln_score(m: &VulnMatch, p: &Placement) -> f64 {
    let risk = risk_value(m).clamp(0.0, 1.0);
    let within = if m.confirmed { 1.0 } else { 0.7 };
    let s = if m.kev {
        0.90 + within * (0.04 * f64::from(u8::from(m.ransomware)) + 0.03 * tier(p) + 0.03 * risk)
    } else {
        0.30 + within * (0.45 * risk + 0.10 * tier(p))
    };
    s.clamp(0.0, 1.0)
}

/// One line of the patch list.
#[derive(Debug, Clone, Serialize)]
pub struct PatchItem {
    pub rank: usize,
    pub score: f64,
    pub ip: Option<IpAddr>,
    pub port: u16,
    pub product: String,
    pub version: String,
    pub kev: bool,
    pub ransomware: bool,
    pub max_cvss: Option<f64>,
    pub max_epss: Option<f64>,
    pub confirmed: bool,
    pub internet_facing: bool,
    pub zone: Option<String>,
    pub cves: Vec<String>,
}

/// Services with CVEs, most urgent first.
pub fn patch_list(assessments: &[Assessment]) -> Vec<PatchItem> {
    let mut items: Vec<PatchItem> = assessments
        .iter()
        .filter(|a| !a.vulns.is_empty())
        .map(|a| {
            let score = a.vulns.iter().map(|m| vuln_score(m, &a.placement)).fold(0.0, f64::max);
            PatchItem {
                rank: 0,
                score,
                ip: a.service.ip,
                port: a.service.port,
                product: a.service.product.clone().unwrap_or_default(),
                version: a.service.version.clone().unwrap_or_default(),
                kev: a.vulns.iter().any(|m| m.kev),
                ransomware: a.vulns.iter().any(|m| m.ransomware),
                max_cvss: a.vulns.iter().filter_map(|m| m.cvss).reduce(f64::max),
                max_epss: a.vulns.iter().filter_map(|m| m.epss).reduce(f64::max),
                confirmed: a.vulns.iter().any(|m| m.confirmed),
                internet_facing: a.placement.internet_facing,
                zone: a.placement.zone.clone(),
                cves: a.vulns.iter().map(|m| m.cve.clone()).collect(),
            }
        })
        .collect();
    items.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| (a.ip, a.port).cmp(&(b.ip, b.port))));
    for (i, it) in items.iter_mut().enumerate() {
        it.rank = i + 1;
    }
    items
}

fn service_label(s: &Service) -> String {
    match (&s.product, &s.version) {
        (Some(p), Some(v)) => format!("{p} {v}"),
        (Some(p), None) => p.clone(),
        _ => s.service.clone().unwrap_or_else(|| "service".into()),
    }
}

fn evidence(a: &Assessment) -> serde_json::Value {
    let s = &a.service;
    json!({
        "port": s.port,
        "transport": s.transport,
        "service": s.service,
        "product": s.product,
        "vendor": s.vendor,
        "version": s.version,
        "cpe": s.cpe,
        "distro": s.distro,
        "banner": s.banner,
        "http_title": s.http_title,
        "tls": s.tls,
        "cert_subject": s.cert_subject,
        "cert_issuer": s.cert_issuer,
        "cert_not_before": s.cert_not_before,
        "cert_not_after": s.cert_not_after,
        "cert_san": s.cert_san,
        "cert_self_signed": s.cert_self_signed,
        "cert_expired": s.cert_expired,
        "cert_sha256": s.cert_sha256,
        "cert_key": s.cert_key,
        "tls_version": s.tls_version,
        "tls_cipher": s.tls_cipher,
        "portal": s.portal,
        "no_auth": s.no_auth,
        "source": s.source,
        "hostname": s.hostname,
        "internet_facing": a.placement.internet_facing,
        "edge": a.placement.edge,
        "critical_zone": a.placement.critical,
        "zone": a.placement.zone,
        "exposure": a.exposure,
    })
}

/// `vulnerable_service` and `exposed_service` findings, ranked.
pub fn findings(assessments: &[Assessment], seen: DateTime<FixedOffset>) -> Vec<Finding> {
    let mut out = Vec::new();
    for a in assessments {
        let s = &a.service;
        let ip = s.ip.map(|i| i.to_string()).unwrap_or_default();
        let port = s.port.to_string();
        let dst: Vec<String> = s.hostname.iter().cloned().collect();
        if !a.vulns.is_empty() {
            let score = a.vulns.iter().map(|m| vuln_score(m, &a.placement)).fold(0.0, f64::max);
            let confirmed = a.vulns.iter().any(|m| m.confirmed);
            let kev: Vec<&str> = a.vulns.iter().filter(|m| m.kev).map(|m| m.cve.as_str()).collect();
            let mut ev = evidence(a);
            ev["confirmed"] = json!(confirmed);
            ev["cves"] = json!(a.vulns);
            ev["max_cvss"] = json!(a.vulns.iter().filter_map(|m| m.cvss).reduce(f64::max));
            ev["max_epss"] = json!(a.vulns.iter().filter_map(|m| m.epss).reduce(f64::max));
            ev["kev"] = json!(!kev.is_empty());
            let top = a.vulns.first().map(|m| m.cve.as_str()).unwrap_or("");
            let summary = format!(
                "{} on {ip}:{port} is affected by {} known CVE{}{}{}{}",
                service_label(s),
                a.vulns.len(),
                if a.vulns.len() == 1 { "" } else { "s" },
                if kev.is_empty() {
                    format!(" (worst: {top})")
                } else {
                    format!(", {} of them exploited in the wild (CISA KEV: {})", kev.len(), kev.join(", "))
                },
                if a.placement.internet_facing { "; reachable from the internet" } else { "" },
                if confirmed { "" } else { "; unconfirmed: the distribution may have backported fixes" },
            );
            out.push(Finding {
                id: Finding::stable_id(
                    FindingKind::VulnerableService,
                    &[&ip, &port, s.product.as_deref().unwrap_or(""), s.version.as_deref().unwrap_or("")],
                ),
                kind: FindingKind::VulnerableService,
                severity: Severity::from_score(score),
                score,
                src: ip.clone(),
                dst: dst.clone(),
                path: Vec::new(),
                first_seen: seen,
                last_seen: seen,
                attack: vec!["T1190".into()],
                summary,
                evidence: ev,
            });
        }
        if let Some(class) = a.exposure {
            let mut score: f64 = match class {
                ExposureClass::Database => 0.55,
                ExposureClass::AdminPortal => 0.5,
                ExposureClass::RemoteAccess => 0.4,
                ExposureClass::FileSharing => 0.45,
                ExposureClass::ManagementApi => 0.45,
            };
            if s.no_auth {
                score += 0.3;
            }
            score += 0.15 * tier(&a.placement);
            let score = score.clamp(0.0, 0.89);
            let attack = match class {
                ExposureClass::RemoteAccess | ExposureClass::AdminPortal => vec!["T1133".to_string()],
                _ => vec!["T1190".to_string()],
            };
            let summary = format!(
                "{} {} reachable on {ip}:{port}{}{}",
                class.label(),
                service_label(s),
                if s.no_auth { " without authentication" } else { "" },
                if a.placement.internet_facing { " from the internet" } else { "" },
            );
            out.push(Finding {
                id: Finding::stable_id(FindingKind::ExposedService, &[&ip, &port]),
                kind: FindingKind::ExposedService,
                severity: Severity::from_score(score),
                score,
                src: ip,
                dst,
                path: Vec::new(),
                first_seen: seen,
                last_seen: seen,
                attack,
                summary,
                evidence: evidence(a),
            });
        }
    }
    Finding::rank(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(cve: &str, kev: bool, ransom: bool, cvss: f64, epss: f64, confirmed: bool) -> VulnMatch {
        VulnMatch {
            cve: cve.into(),
            cvss: Some(cvss),
            epss: Some(epss),
            epss_percentile: None,
            kev,
            ransomware: ransom,
            kev_due: None,
            criteria: String::new(),
            confirmed,
            unconfirmed_reason: None,
        }
    }

    #[test]
    fn kev_outranks_any_epss_cvss_and_placement_lifts() {
        let internal = Placement::default();
        let public = Placement { internet_facing: true, ..Default::default() };
        let kev_internal_unconfirmed = vuln_score(&vm("A", true, false, 5.0, 0.01, false), &internal);
        let worst_non_kev = vuln_score(&vm("B", false, false, 10.0, 1.0, true), &public);
        assert!(kev_internal_unconfirmed > worst_non_kev, "{kev_internal_unconfirmed} vs {worst_non_kev}");
        assert!(vuln_score(&vm("C", true, true, 9.0, 0.9, true), &internal) > vuln_score(&vm("D", true, false, 9.0, 0.9, true), &internal));
        assert!(
            vuln_score(&vm("E", false, false, 7.0, 0.3, true), &public) > vuln_score(&vm("E", false, false, 7.0, 0.3, true), &internal)
        );
        assert!(
            vuln_score(&vm("F", false, false, 9.8, 0.9, true), &internal) > vuln_score(&vm("G", false, false, 5.3, 0.01, true), &internal)
        );
    }

    #[test]
    fn public_space() {
        assert!(is_public("8.8.8.8".parse().unwrap()));
        assert!(!is_public("10.1.2.3".parse().unwrap()));
        assert!(!is_public("100.64.0.1".parse().unwrap()));
        assert!(!is_public("fd00::1".parse().unwrap()));
    }
}
