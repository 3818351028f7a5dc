//! `unmanaged_device`: active internal devices that the organisation does not manage: absent
//! from the CMDB (when one is loaded), still talking after their decommission date, or test and
//! lab equipment (by CMDB environment or by zone) with sessions into critical zones: the
//! forgotten test device with broad permissions.
//!
//! Absence alone is low, and so is a test device using an ordinary service (HTTPS to a code
//! server) in a critical zone; access to critical zones, administration protocols, a privileged
//! CMDB flag and off-hours activity raise it. Without a CMDB only the test-device rule applies.

use crate::Detector;
use crate::front::{FrontEnd, HostMap, HostSet, NO_PAIR, Rec};
use crate::graph::{attack_ids, host_label, r3, zone_label};
use serde_json::json;
use std::collections::BTreeSet;
use std::net::IpAddr;
use vigil_enrich::Context;
use vigil_model::{Conn, Finding, FindingKind, Severity, Timestamp};

#[derive(Clone, Debug)]
pub struct UnmanagedConfig {
    pub max_hosts: usize,
    /// Findings below this score are not reported.
    pub min_score: f64,
}

impl Default for UnmanagedConfig {
    fn default() -> Self {
        UnmanagedConfig { max_hosts: 500_000, min_score: 0.3 }
    }
}

#[derive(Default)]
struct Activity {
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    initiated: u64,
    /// Sessions the host answered (a rogue server is active too).
    served: u64,
    critical_dsts: BTreeSet<IpAddr>,
    critical_admin: BTreeSet<(IpAddr, u16)>,
    admin_sessions: u64,
    /// Distinct outside destinations (counted up to `SET_CAP`, never listed): those with a
    /// front-end pair id are counted by the detector's bit per pair, the others (noise
    /// addresses, a full pair table) kept here.
    external_dsts: foldhash::HashSet<IpAddr>,
    external_paired: usize,
    off_hours: u64,
    mac: Option<[u8; 6]>,
}

pub struct UnmanagedDetector {
    cfg: UnmanagedConfig,
    hosts: HostMap<Activity>,
    /// Pairs counted in their host's `external_paired`.
    paired: HostSet,
    pub dropped: u64,
    front: FrontEnd,
}

impl Default for UnmanagedDetector {
    fn default() -> Self {
        UnmanagedDetector::new(UnmanagedConfig::default())
    }
}

impl UnmanagedDetector {
    pub fn new(cfg: UnmanagedConfig) -> Self {
        UnmanagedDetector { cfg, hosts: HostMap::default(), paired: HostSet::default(), dropped: 0, front: FrontEnd::new() }
    }
}

const SET_CAP: usize = 256;

impl Detector for UnmanagedDetector {
    fn name(&self) -> &'static str {
        "unmanaged_device"
    }

    fn observe(&mut self, c: &Conn, ctx: &Context) {
        let r = self.front.rec(c, ctx);
        self.observe_rec(&r);
    }

    fn observe_rec(&mut self, r: &Rec<'_>) {
        let c = r.conn;
        if r.background {
            return;
        }
        if r.resp_internal
            && r.ok
            && (self.hosts.len() < self.cfg.max_hosts || self.hosts.contains(r.resp_id))
            && let Some(a) = self.hosts.entry(r.resp_id, c.resp_h, Activity::default)
        {
            a.first = Some(a.first.map_or(c.ts, |f| f.min(c.ts)));
            a.last = Some(a.last.map_or(c.end(), |l| l.max(c.end())));
            a.served = a.served.saturating_add(1);
            if a.mac.is_none() {
                a.mac = c.resp_l2_addr;
            }
        }
        if !r.orig_internal {
            return;
        }
        if self.hosts.len() >= self.cfg.max_hosts && !self.hosts.contains(r.orig_id) {
            self.dropped += 1;
            return;
        }
        let Some(a) = self.hosts.entry(r.orig_id, c.orig_h, Activity::default) else {
            self.dropped += 1;
            return;
        };
        a.first = Some(a.first.map_or(c.ts, |f| f.min(c.ts)));
        a.last = Some(a.last.map_or(c.end(), |l| l.max(c.end())));
        a.initiated = a.initiated.saturating_add(1);
        if a.mac.is_none() {
            a.mac = c.orig_l2_addr;
        }
        if r.off_hours {
            a.off_hours = a.off_hours.saturating_add(1);
        }
        let ok = r.ok || (c.proto != vigil_model::PROTO_TCP && c.resp_pkts > 0);
        let admin = r.admin.is_some();
        if admin && ok {
            a.admin_sessions = a.admin_sessions.saturating_add(1);
        }
        if ok && r.resp_critical() {
            if a.critical_dsts.len() < SET_CAP {
                a.critical_dsts.insert(c.resp_h);
            }
            if admin && a.critical_admin.len() < SET_CAP {
                a.critical_admin.insert((c.resp_h, c.resp_p));
            }
        }
        if !r.resp_internal && a.external_dsts.len() + a.external_paired < SET_CAP {
            if r.pair == NO_PAIR {
                a.external_dsts.insert(c.resp_h);
            } else if self.paired.insert(r.pair) {
                a.external_paired += 1;
            }
        }
    }

    fn finish(&mut self, ctx: &Context) -> Vec<Finding> {
        self.hosts.sorted().into_iter().filter_map(|(h, id)| self.judge(h, id, ctx)).collect()
    }
}

impl UnmanagedDetector {
    fn judge(&self, h: IpAddr, id: u32, ctx: &Context) -> Option<Finding> {
        let a = self.hosts.get(id)?;
        let first = a.first?;
        if a.initiated == 0 && a.served == 0 {
            return None;
        }
        let last = a.last.unwrap_or(first);
        let cmdb = ctx.inventory.cmdb(h);
        let absent = ctx.inventory.has_cmdb() && cmdb.is_none();
        let decommissioned = cmdb.is_some_and(|c| c.is_decommissioned_at(last));
        let zone_test = ctx.zone(h).is_some_and(|z| z.is_test());
        let test = cmdb.is_some_and(|c| c.is_test()) || zone_test;
        let critical_access = !a.critical_dsts.is_empty() && !ctx.is_critical(h);
        let test_with_access = test && critical_access;
        if !(absent || decommissioned || test_with_access) {
            return None;
        }
        let privileged = cmdb.is_some_and(|c| c.privileged);
        let mut why = Vec::new();
        let mut score: f64 = 0.0;
        if decommissioned {
            score = score.max(0.6);
            why.push(format!("decommissioned on {}", cmdb.and_then(|c| c.decommission).map(|d| d.to_string()).unwrap_or_default()));
        }
        if test_with_access {
            // Test and CI machines routinely use ordinary services in critical zones (pulling
            // code over HTTPS): alone that is worth a look (low). Administration protocols into
            // those zones are what a forgotten test box with broad permissions is abused for.
            score = score.max(if a.critical_admin.is_empty() { 0.4 } else { 0.55 });
            why.push("test device with sessions into critical zones".into());
        }
        if absent {
            score = score.max(0.35);
            why.push("not in the inventory".into());
        }
        if critical_access {
            score += if test_with_access { 0.0 } else { 0.15 };
            if !a.critical_admin.is_empty() {
                score += 0.15;
                why.push("administration of critical hosts".into());
            }
        } else if a.admin_sessions > 0 {
            score += 0.05;
        }
        if privileged {
            score += 0.1;
            why.push("privileged".into());
        }
        if a.off_hours * 2 > a.initiated {
            score += 0.05;
        }
        let score = r3(score.clamp(0.0, 1.0));
        if score < self.cfg.min_score {
            return None;
        }
        let mut attack = Vec::new();
        if absent {
            attack.push("T1200".to_string());
        }
        if decommissioned || test_with_access {
            attack.push("T1078".to_string());
        }
        if !a.critical_admin.is_empty() {
            attack.push("T1021".to_string());
        }
        let what = if decommissioned {
            "a decommissioned device"
        } else if test_with_access {
            "a test device"
        } else {
            "a device missing from the inventory"
        };
        let summary = format!(
            // "served", not "answered": these are sessions other hosts opened to this one (a
            // rogue server is active too), not replies to the sessions it started.
            "{} ({}) is {}; it started {} session{} and served {}{}",
            host_label(h, ctx),
            zone_label(h, ctx),
            what,
            a.initiated,
            if a.initiated == 1 { "" } else { "s" },
            a.served,
            if critical_access { format!(", reaching {} host(s) in critical zones", a.critical_dsts.len()) } else { String::new() }
        );
        let mut dst: Vec<String> = a.critical_dsts.iter().map(|d| host_label(*d, ctx)).collect();
        dst.truncate(50);
        Some(Finding {
            id: Finding::stable_id(FindingKind::UnmanagedDevice, &[&h.to_string()]),
            kind: FindingKind::UnmanagedDevice,
            severity: Severity::from_score(score),
            score,
            src: h.to_string(),
            dst,
            path: Vec::new(),
            first_seen: first.to_offset(ctx.offset_at(first)),
            last_seen: last.to_offset(ctx.offset_at(last)),
            attack: attack_ids(attack),
            summary,
            evidence: json!({
                "in_inventory": cmdb.is_some(),
                "inventory_loaded": ctx.inventory.has_cmdb(),
                "decommission": cmdb.and_then(|c| c.decommission).map(|d| d.to_string()),
                "environment": cmdb.and_then(|c| c.environment.clone()),
                "owner": cmdb.and_then(|c| c.owner.clone()),
                "privileged": privileged,
                "zone": zone_label(h, ctx),
                "test_zone": zone_test,
                "sessions": a.initiated,
                "sessions_answered": a.served,
                "admin_sessions": a.admin_sessions,
                "critical_hosts": a.critical_dsts.len(),
                "critical_admin": a.critical_admin.iter().map(|(ip, p)| format!("{ip}:{p}")).collect::<Vec<_>>(),
                "external_hosts": a.external_dsts.len() + a.external_paired,
                "off_hours_sessions": a.off_hours,
                "mac": a.mac.map(|m| m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")),
                "reasons": why,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::testutil::*;
    use foldhash::HashMap;
    use vigil_enrich::inventory::read_cmdb_csv;

    const SITE: &str = "[site]\ninternal=[\"10.0.0.0/8\"]\ntimezone=\"Asia/Shanghai\"\n[[site.zone]]\nname=\"core\"\nnetworks=[\"10.3.0.0/16\"]\ncritical=true\n[[site.zone]]\nname=\"lab\"\nnetworks=[\"10.7.0.0/16\"]\n";

    fn with_cmdb(csv: &str) -> Context {
        let ctx = ctx_from(SITE);
        let (rows, _) = read_cmdb_csv(csv.as_bytes(), std::path::Path::new("cmdb.csv")).unwrap();
        let mut inv = vigil_enrich::Inventory::for_site(&ctx.site);
        inv.import_cmdb(rows);
        ctx.with_inventory(inv)
    }

    fn run(ctx: &Context, conns: &[Conn]) -> Vec<Finding> {
        let mut d = UnmanagedDetector::default();
        for c in conns {
            d.observe(c, ctx);
        }
        d.finish(ctx)
    }

    const CMDB: &str = "ip,name,owner,role,environment,decommission,privileged\n\
        10.2.0.5,ws-5,alice,workstation,production,,no\n\
        10.3.0.1,db-1,dba,database,production,,no\n\
        10.2.0.66,old-ftp,ops,server,production,2023-03-31,no\n\
        10.2.0.77,qa-box,qa,test rig,test,,yes\n";

    #[test]
    fn forgotten_privileged_test_device_administering_the_core_is_high() {
        let ctx = with_cmdb(CMDB);
        let f = run(&ctx, &[tcp(NIGHT, "10.2.0.77", "10.3.0.1", 22, 60.0)]);
        assert_eq!(f.len(), 1);
        assert!(f[0].score >= 0.75, "{}", f[0].score);
        assert_eq!(f[0].evidence["environment"], "test");
        assert_eq!(f[0].dst, vec!["10.3.0.1 (db-1)"]);
    }

    #[test]
    fn decommissioned_and_unknown_devices_are_reported_managed_ones_are_not() {
        let ctx = with_cmdb(CMDB);
        let conns = vec![
            tcp(WORK, "10.2.0.5", "10.3.0.1", 5432, 1.0),      // managed: nothing
            tcp(WORK, "10.2.0.66", "93.184.216.34", 443, 1.0), // decommissioned in 2023
            tcp(WORK, "10.2.0.99", "93.184.216.34", 443, 1.0), // unknown
        ];
        let f = run(&ctx, &conns);
        let by: HashMap<&str, &Finding> = f.iter().map(|f| (f.src.as_str(), f)).collect();
        assert_eq!(f.len(), 2, "{f:#?}");
        assert!(by["10.2.0.66"].severity >= Severity::Medium);
        assert_eq!(by["10.2.0.99"].severity, Severity::Low);
        assert_eq!(by["10.2.0.99"].attack, vec!["T1200"]);
        // A device that only answers (a rogue server) is active too; 10.3.0.1 is in the CMDB.
        let f = run(&ctx, &[tcp(WORK, "10.2.0.5", "10.2.0.123", 22, 5.0), tcp(WORK, "10.2.0.5", "10.3.0.1", 22, 5.0)]);
        assert_eq!(f.iter().map(|f| f.src.as_str()).collect::<Vec<_>>(), vec!["10.2.0.123"]);
    }

    #[test]
    fn without_a_cmdb_only_test_zone_devices_reaching_critical_zones_count() {
        let ctx = ctx_from(SITE);
        let conns = vec![
            tcp(WORK, "10.2.0.99", "10.3.0.1", 22, 1.0),
            tcp(WORK, "10.7.0.4", "10.3.0.1", 3389, 1.0),
            tcp(WORK, "10.7.0.5", "10.2.0.1", 3389, 1.0),
            failed_tcp(WORK, "10.7.0.6", "10.3.0.1", 3389),
        ];
        let f = run(&ctx, &conns);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].src, "10.7.0.4");
        assert!(f[0].severity >= Severity::Medium);
    }

    #[test]
    fn test_device_only_using_an_ordinary_service_in_a_critical_zone_is_low() {
        let ctx = ctx_from(SITE);
        let f = run(&ctx, &[tcp(WORK, "10.7.0.4", "10.3.0.1", 443, 30.0)]);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].severity, Severity::Low, "{f:#?}");
    }
}
