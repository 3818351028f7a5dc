//! `foreign_admin_access`: an administration interface of an internal host — SSH, Telnet, RDP,
//! WinRM, VNC, web administration ports and paths, mail administration consoles — reached
//! from an address abroad with an established session (payload both ways; SSH sessions whose
//! authentication is known to have failed are left to the scan detector). Weighted by the
//! hours (off-hours and non-work days in the site zone), the volume moved and the session time.
//! When the site has no home country the source's country cannot be judged: the finding is
//! still raised for exposed administration from the internet, at a lower score.

use crate::Detector;
use crate::front::Rec;
use crate::util::{self, Tuning};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use vigil_enrich::Context;
use vigil_model::{Conn, Finding, FindingKind, PROTO_TCP, Severity, Timestamp};

/// The administration service a connection reaches, if any.
pub fn admin_service(c: &Conn) -> Option<&'static str> {
    if c.app.ssh.is_some() {
        return Some("ssh");
    }
    let svc = c.service.as_deref().unwrap_or("");
    if svc.contains("rdp") {
        return Some("rdp");
    }
    if svc.contains("ssh") {
        return Some("ssh");
    }
    if let Some(path) = c.app.http.iter().find_map(|h| h.uri.as_deref().and_then(admin_path)) {
        return Some(path);
    }
    if c.proto != PROTO_TCP {
        return None;
    }
    Some(match c.resp_p {
        22 | 2222 => "ssh",
        23 | 2323 => "telnet",
        3389 => "rdp",
        5985 | 5986 => "winrm",
        5900..=5903 => "vnc",
        10000 => "webmin",
        8006 => "proxmox",
        9090 => "cockpit",
        2082 | 2083 | 2086 | 2087 => "cpanel",
        7071 => "mail-admin",
        8291 => "routeros-winbox",
        _ => return None,
    })
}

/// Web administration paths (case-insensitive prefix match).
fn admin_path(uri: &str) -> Option<&'static str> {
    let u = uri.to_ascii_lowercase();
    const PATHS: &[(&str, &str)] = &[
        ("/wp-admin", "web-admin"),
        ("/wp-login.php", "web-admin"),
        ("/phpmyadmin", "web-admin"),
        ("/manager/html", "web-admin"),
        ("/administrator", "web-admin"),
        ("/admin", "web-admin"),
        ("/webadmin", "web-admin"),
        ("/cpanel", "web-admin"),
        ("/ecp", "mail-admin"),
        ("/zimbraadmin", "mail-admin"),
        ("/owa/auth", "mail-admin"),
    ];
    PATHS.iter().find(|(p, _)| u.starts_with(p)).map(|(_, s)| *s)
}

#[derive(Debug, Clone)]
pub struct ForeignAdminConfig {
    pub report_threshold: f64,
    pub max_groups: usize,
}

impl Default for ForeignAdminConfig {
    fn default() -> Self {
        ForeignAdminConfig { report_threshold: 0.3, max_groups: 1_000_000 }
    }
}

#[derive(Debug, Default)]
struct Group {
    sources: BTreeSet<IpAddr>,
    sessions: u64,
    off: u64,
    bytes: u64,
    duration: f64,
    first: Timestamp,
    last: Timestamp,
    ports: BTreeSet<u16>,
}

#[derive(Debug, Default)]
pub struct ForeignAdminDetector {
    cfg: ForeignAdminConfig,
    tuning: Tuning,
    /// (internal host, service, source judged foreign: Some(true) or unknown None).
    groups: BTreeMap<(IpAddr, &'static str, Option<bool>), Group>,
    pub dropped: u64,
}

impl ForeignAdminDetector {
    pub fn new(cfg: ForeignAdminConfig, tuning: Tuning) -> Self {
        ForeignAdminDetector { cfg, tuning, ..Default::default() }
    }
}

impl Detector for ForeignAdminDetector {
    fn name(&self) -> &'static str {
        "foreign_admin_access"
    }

    fn observe(&mut self, c: &Conn, ctx: &Context) {
        self.observe_rec(&Rec::standalone(c, ctx));
    }

    fn observe_rec(&mut self, r: &Rec<'_>) {
        let (c, ctx) = (r.conn, r.ctx);
        if r.orig_internal || !r.resp_internal || !c.conn_state.established() {
            return;
        }
        if c.orig_bytes.unwrap_or(0) == 0 || c.resp_bytes.unwrap_or(0) == 0 {
            return;
        }
        let Some(svc) = admin_service(c) else { return };
        if c.app.ssh.as_ref().is_some_and(|s| s.auth_success == Some(false)) {
            return;
        }
        let foreign = ctx.is_foreign(c.orig_h);
        if foreign == Some(false) || self.tuning.is_allowed(ctx, c.orig_h, None, None) {
            return;
        }
        let key = (c.resp_h, svc, foreign);
        if self.groups.len() >= self.cfg.max_groups && !self.groups.contains_key(&key) {
            self.dropped += 1;
            return;
        }
        let g = self.groups.entry(key).or_insert_with(|| Group { first: c.ts, last: c.end(), ..Default::default() });
        if g.sources.len() < 1000 {
            g.sources.insert(c.orig_h);
        }
        g.sessions += 1;
        if r.off_hours {
            g.off += 1;
        }
        g.bytes = g.bytes.saturating_add(r.sent).saturating_add(r.recv);
        g.duration += c.duration.filter(|d| d.is_finite() && *d > 0.0).unwrap_or(0.0);
        g.first = g.first.min(c.ts);
        g.last = g.last.max(c.end());
        g.ports.insert(c.resp_p);
    }

    fn finish(&mut self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        for ((host, svc, foreign), g) in &self.groups {
            let off = g.off as f64 / g.sessions.max(1) as f64;
            let mut score = 0.55
                + 0.15 * off
                + 0.15 * util::ramp((g.bytes.max(1) as f64).log10(), 4.0, 7.0)
                + 0.1 * util::ramp(g.duration, 60.0, 3600.0);
            if matches!(*svc, "telnet" | "vnc") {
                score += 0.05;
            }
            let zone = ctx.zone(*host);
            if zone.is_some_and(|z| z.critical) {
                score += 0.1;
            }
            if foreign.is_none() {
                score *= 0.6;
            }
            let score = util::round3(util::clamp01(score));
            if score < self.cfg.report_threshold {
                continue;
            }
            let id = Finding::stable_id(FindingKind::ForeignAdminAccess, &[&host.to_string(), svc]);
            if self.tuning.is_suppressed(&id) {
                continue;
            }
            let countries: BTreeSet<String> = g.sources.iter().filter_map(|s| util::country_str(ctx, *s)).collect();
            let from = if foreign.is_some() {
                format!(
                    "abroad ({})",
                    if countries.is_empty() { "?".into() } else { countries.iter().cloned().collect::<Vec<_>>().join(", ") }
                )
            } else {
                "the internet (country not judged: no home country or location)".to_string()
            };
            let summary = format!(
                "The {svc} administration interface of {host} was used from {from} by {} address(es) in {} session(s){}, moving {} — confirm this remote administration is authorised.",
                g.sources.len(),
                g.sessions,
                if off >= 0.5 { ", mostly outside working hours" } else { "" },
                util::human_bytes(g.bytes),
            );
            let technique = match *svc {
                "ssh" => "T1021.004",
                "rdp" => "T1021.001",
                "vnc" => "T1021.005",
                "winrm" => "T1021.006",
                _ => "T1133",
            };
            let mut attack = vec!["T1133".to_string(), "T1078".to_string()];
            if technique != "T1133" {
                attack.push(technique.to_string());
            }
            let mut dst: Vec<String> = g.sources.iter().take(20).map(ToString::to_string).collect();
            dst.sort();
            out.push(Finding {
                id,
                kind: FindingKind::ForeignAdminAccess,
                severity: Severity::from_score(score),
                score,
                src: host.to_string(),
                dst,
                path: Vec::new(),
                first_seen: util::site_time(ctx, g.first),
                last_seen: util::site_time(ctx, g.last),
                attack,
                summary,
                evidence: json!({
                    "service": svc,
                    "ports": g.ports,
                    "sources": g.sources.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "countries": countries,
                    "foreign": foreign,
                    "sessions": g.sessions,
                    "off_hours_share": util::round3(off),
                    "bytes": g.bytes,
                    "duration_s": g.duration.round(),
                    "zone": zone.map(|z| z.name.clone()),
                }),
            });
        }
        out
    }
}
