//! `dormant_device`: a device that stayed silent for days (or only produced background chatter:
//! DHCP, mDNS, NetBIOS and LLMNR name queries, SSDP, NTP, ICMP) and then starts initiating
//! sessions. Attackers like such devices: nobody looks at them and nobody misses them.
//!
//! The silence is measured inside the window (the longest gap between sessions a host
//! started) and, where the store kept an inventory from earlier runs, from the host's
//! `last_initiated` time to its first session in this window. The wake-up is scored by how long
//! the silence lasted, what the device did on waking (admin ports, many destinations, critical
//! zones, foreign destinations), the hour, and what the CMDB says (decommissioned, test). A
//! laptop back from a holiday that opens the usual web sessions at 09:00 stays low, and so does
//! a device that only resumes what it did before the silence: each run keeps a small Bloom
//! filter of its (peer, port, account) sessions, and a wake-up whose sessions were all in an
//! earlier run's filter is a return to habit, while admin sessions and critical peers count
//! for the score only when they are new.
//!
//! Memory does not grow with the sessions: a host's sessions are kept as *runs* (sessions no
//! two consecutive of which are `min_silence_days` apart, so silences worth a finding lie
//! between runs) with the first-hour sessions of each run (what the device did on waking), not
//! one record per session. In any arrival order this gives exactly the silences and wake-ups a
//! sorted list of every session would.

use crate::Detector;
use crate::front::{FrontEnd, HostMap, Rec};
use crate::graph::{AdminService, attack_ids, host_label, r3, zone_label};
use serde_json::json;

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use vigil_enrich::Context;
use vigil_model::{Conn, Finding, FindingKind, Severity, Timestamp};

#[derive(Clone, Debug)]
pub struct DormantConfig {
    /// Silence (days) after which starting sessions is a wake-up.
    pub min_silence_days: f64,
    /// Seconds after waking whose sessions describe what the device did.
    pub wake_window_secs: i64,
    /// Sessions kept per host and hosts followed.
    pub max_per_host: usize,
    pub max_hosts: usize,
}

impl Default for DormantConfig {
    fn default() -> Self {
        DormantConfig { min_silence_days: 4.0, wake_window_secs: 3600, max_per_host: 20_000, max_hosts: 200_000 }
    }
}

#[derive(Clone, Copy)]
struct Start {
    ts: Timestamp,
    dst: IpAddr,
    port: u16,
    admin: bool,
    /// [`habit_key`] of the session.
    key: u64,
    /// Arrival order: equal times keep it, as a stable sort of every session would.
    seq: u64,
}

/// Sessions without a silence of `min_silence_days` between consecutive ones.
struct Run {
    first: Timestamp,
    last: Timestamp,
    /// The sessions of the run's first `wake_window_secs` (capped at `max_per_host`).
    head: Vec<Start>,
    /// Every session's [`habit_key`], as a Bloom filter: what the device used to do.
    habits: Habits,
}

impl Run {
    fn new(s: Start) -> Run {
        let mut habits = Habits::default();
        habits.insert(s.key);
        Run { first: s.ts, last: s.ts, head: vec![s], habits }
    }
}

/// A Bloom filter of 1,024 bits with two probes: 128 bytes per run, order-independent (runs
/// merge by OR), about 3 % false "seen before" at 100 distinct habits. A false hit can only
/// lower a score, never raise one.
#[derive(Clone, Default)]
struct Habits([u64; 16]);

impl Habits {
    fn bits(key: u64) -> [usize; 2] {
        [(key & 1023) as usize, ((key >> 32) & 1023) as usize]
    }

    fn insert(&mut self, key: u64) {
        for b in Self::bits(key) {
            if let Some(w) = self.0.get_mut(b / 64) {
                *w |= 1 << (b % 64);
            }
        }
    }

    fn contains(&self, key: u64) -> bool {
        Self::bits(key).iter().all(|&b| self.0.get(b / 64).is_some_and(|w| w & (1 << (b % 64)) != 0))
    }

    fn union(&mut self, other: &Habits) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a |= b;
        }
    }
}

/// An SMB session whose shares are known and are all ordinary ones (`\\fs01\Public`): file
/// access, not administration. `IPC$` (service control, registry, scheduled tasks over RPC),
/// `ADMIN$` and drive shares (`C$`) stay administrative, and so does a session whose shares
/// were not seen (flow records).
fn user_shares_only(c: &Conn) -> bool {
    c.app.smb.as_ref().is_some_and(|m| {
        !m.trees.is_empty()
            && m.trees.iter().all(|t| {
                let share = t.share();
                share != "IPC$" && !vigil_model::is_admin_share(&share)
            })
    })
}

/// What makes a session habitual: the peer, its port and, for SMB, the account (a device that
/// maps its user's share every day and then logs on as a service account is not back to habit).
fn habit_key(c: &Conn) -> u64 {
    let mut h = foldhash::fast::FixedState::with_seed(0x5eed_d0a7).build_hasher();
    c.resp_h.hash(&mut h);
    c.resp_p.hash(&mut h);
    // Lower-cased byte by byte: no allocation per session.
    for b in c.app.smb.as_ref().and_then(|m| m.ntlm_user.as_deref()).unwrap_or_default().bytes() {
        h.write_u8(b.to_ascii_lowercase());
    }
    h.finish()
}

/// Most runs kept per host: a run ends only after days of silence, so a window of months has
/// a few dozen at most.
const MAX_RUNS: usize = 512;

#[derive(Default)]
struct HostLog {
    /// The newest run, inline: a time-ordered stream extends it without touching `runs`
    /// (one memory access per record instead of two).
    cur: Option<Run>,
    /// Ordered by time, separated by silences of at least `min_silence_days` (with `cur`
    /// after them; [`HostLog::settle`] moves it here).
    runs: Vec<Run>,
    background: Vec<Timestamp>,
    seq: u64,
}

impl HostLog {
    /// Adds a session; false when a cap refused it.
    fn add(&mut self, s: Start, cfg: &DormantConfig) -> bool {
        let min_gap = cfg.min_silence_days * 86_400.0;
        let end_of = |t: Timestamp| Timestamp(t.0.saturating_add(cfg.wake_window_secs.saturating_mul(Timestamp::NANOS_PER_SEC)));
        // Whether `s` is within the silence threshold of run `r` (inside it, or less than the
        // threshold before its first or after its last session).
        let joins = |r: &Run| {
            if s.ts < r.first {
                r.first.since(s.ts) < min_gap
            } else if s.ts > r.last {
                s.ts.since(r.last) < min_gap
            } else {
                true
            }
        };
        // Time-ordered streams: the session extends the newest run (it cannot then join or
        // bridge an earlier one, which ended a silence before this run began).
        if let Some(r) = self.cur.as_mut()
            && s.ts >= r.first
            && (s.ts <= r.last || s.ts.since(r.last) < min_gap)
        {
            r.last = r.last.max(s.ts);
            r.habits.insert(s.key);
            if s.ts <= end_of(r.first) {
                if r.head.len() >= cfg.max_per_host {
                    return false;
                }
                r.head.push(s);
            }
            return true;
        }
        self.settle();
        let ok = self.add_slow(s, cfg, &joins, &end_of);
        self.cur = self.runs.pop();
        // Most hosts have one run: an early record arriving late must not leave every host
        // holding a buffer of four runs (672 bytes) for nothing.
        if self.runs.is_empty() {
            self.runs = Vec::new();
        }
        ok
    }

    /// Moves the newest run back into `runs`.
    fn settle(&mut self) {
        if let Some(c) = self.cur.take() {
            self.runs.push(c);
        }
    }

    fn add_slow(&mut self, s: Start, cfg: &DormantConfig, joins: &dyn Fn(&Run) -> bool, end_of: &dyn Fn(Timestamp) -> Timestamp) -> bool {
        let i = self.runs.partition_point(|r| r.last < s.ts && !joins(r));
        let hit = self.runs.get(i).is_some_and(joins);
        if !hit {
            if self.runs.len() >= MAX_RUNS {
                return false;
            }
            self.runs.insert(i, Run::new(s));
            return true;
        }
        // The session may bridge this run and the next one: merge them.
        if self.runs.get(i + 1).is_some_and(joins) {
            let next = self.runs.remove(i + 1);
            if let Some(r) = self.runs.get_mut(i) {
                r.last = r.last.max(next.last);
                r.habits.union(&next.habits);
                let end = end_of(r.first);
                r.head.extend(next.head.into_iter().filter(|x| x.ts <= end));
            }
        }
        let Some(r) = self.runs.get_mut(i) else { return false };
        r.habits.insert(s.key);
        if s.ts < r.first {
            r.first = s.ts;
            let end = end_of(r.first);
            r.head.retain(|x| x.ts <= end);
        }
        r.last = r.last.max(s.ts);
        if s.ts <= end_of(r.first) {
            if r.head.len() >= cfg.max_per_host {
                return false;
            }
            r.head.push(s);
        }
        true
    }
}

pub struct DormantDetector {
    cfg: DormantConfig,
    hosts: HostMap<HostLog>,
    pub dropped: u64,
    front: FrontEnd,
}

impl Default for DormantDetector {
    fn default() -> Self {
        DormantDetector::new(DormantConfig::default())
    }
}

impl DormantDetector {
    pub fn new(cfg: DormantConfig) -> Self {
        DormantDetector { cfg, hosts: HostMap::default(), dropped: 0, front: FrontEnd::new() }
    }
}

impl Detector for DormantDetector {
    fn name(&self) -> &'static str {
        "dormant_device"
    }

    fn observe(&mut self, c: &Conn, ctx: &Context) {
        let r = self.front.rec(c, ctx);
        self.observe_rec(&r);
    }

    fn observe_rec(&mut self, r: &Rec<'_>) {
        let c = r.conn;
        if !r.orig_internal {
            return;
        }
        if self.hosts.len() >= self.cfg.max_hosts && !self.hosts.contains(r.orig_id) {
            self.dropped += 1;
            return;
        }
        let Some(log) = self.hosts.entry(r.orig_id, c.orig_h, HostLog::default) else {
            self.dropped += 1;
            return;
        };
        if r.background {
            if log.background.len() < self.cfg.max_per_host {
                log.background.push(c.ts);
            }
            return;
        }
        log.seq += 1;
        let admin = r.admin.is_some_and(|a| a != AdminService::Smb || !user_shares_only(c));
        let s = Start { ts: c.ts, dst: c.resp_h, port: c.resp_p, admin, key: habit_key(c), seq: log.seq };
        if !log.add(s, &self.cfg) {
            self.dropped += 1;
        }
    }

    fn finish(&mut self, ctx: &Context) -> Vec<Finding> {
        let mut out = Vec::new();
        for (h, id) in self.hosts.sorted() {
            let Some(log) = self.hosts.get_mut(id) else { continue };
            log.settle();
            log.background.sort();
            if let Some(f) = judge(&self.cfg, h, log, ctx) {
                out.push(f);
            }
        }
        out
    }
}

fn judge(cfg: &DormantConfig, h: IpAddr, log: &HostLog, ctx: &Context) -> Option<Finding> {
    let first = log.runs.first()?.first;
    let min_gap = cfg.min_silence_days * 86_400.0;
    // The longest silence: before the window (history) or between two sessions in it.
    let mut best: Option<(Timestamp, usize, bool)> = None; // (silence start, index of wake, from history)
    let mut best_gap = 0.0;
    if let Some(last) = ctx.asset(h).and_then(|a| a.last_initiated) {
        let gap = first.since(last);
        if gap >= min_gap {
            best = Some((last, 0, true));
            best_gap = gap;
        }
    }
    // Within a run no gap reaches the threshold; between runs every gap does.
    for (i, w) in log.runs.windows(2).enumerate() {
        let gap = w[1].first.since(w[0].last);
        if gap >= min_gap && gap > best_gap {
            best = Some((w[0].last, i + 1, false));
            best_gap = gap;
        }
    }
    let (quiet_from, wi, from_history) = best?;
    let wake_ts = log.runs.get(wi)?.first;
    let wake_end = Timestamp(wake_ts.0.saturating_add(cfg.wake_window_secs.saturating_mul(Timestamp::NANOS_PER_SEC)));
    // Every session up to the end of the wake window is in the heads of the runs from here.
    let mut woke: Vec<&Start> =
        log.runs.get(wi..)?.iter().take_while(|r| r.first <= wake_end).flat_map(|r| r.head.iter()).filter(|s| s.ts <= wake_end).collect();
    woke.sort_by_key(|s| (s.ts, s.seq));
    let wake = *woke.first()?;
    let dsts: BTreeSet<IpAddr> = woke.iter().map(|s| s.dst).collect();
    let admin: BTreeSet<u16> = woke.iter().filter(|s| s.admin).map(|s| s.port).collect();
    // Habits: sessions the device also had in a run before the silence (none are known when
    // the silence comes from the stored inventory).
    let before = log.runs.get(..wi).unwrap_or_default();
    let new: Vec<&Start> = woke.iter().copied().filter(|s| !before.iter().any(|r| r.habits.contains(s.key))).collect();
    let familiar = woke.len() - new.len();
    let resumed = new.is_empty();
    let new_admin: BTreeSet<u16> = new.iter().filter(|s| s.admin).map(|s| s.port).collect();
    let new_dsts: BTreeSet<IpAddr> = new.iter().map(|s| s.dst).collect();
    let new_critical = new_dsts.iter().filter(|d| ctx.is_critical(**d)).count();
    let external: Vec<IpAddr> = dsts.iter().copied().filter(|d| !ctx.is_internal(*d)).collect();
    let foreign: Vec<IpAddr> = external.iter().copied().filter(|d| ctx.is_foreign(*d) == Some(true)).collect();
    let critical = dsts.iter().filter(|d| ctx.is_critical(**d)).count();
    let bg_during = log.background.iter().filter(|b| **b > quiet_from && **b < wake.ts).count();
    let off_hours = ctx.is_off_hours(wake.ts);
    let cmdb = ctx.inventory.cmdb(h);
    let decommissioned = cmdb.is_some_and(|c| c.is_decommissioned_at(wake.ts));
    let test = cmdb.is_some_and(|c| c.is_test()) || ctx.zone(h).is_some_and(|z| z.is_test());
    let days = best_gap / 86_400.0;

    let mut score = 0.35 + 0.15 * ((days - cfg.min_silence_days) / (30.0 - cfg.min_silence_days)).clamp(0.0, 1.0);
    let mut why = vec![format!("silent for {days:.1} days")];
    if !new_admin.is_empty() {
        score += 0.1;
        why.push("woke up using admin ports".into());
    }
    if new_dsts.len() >= 5 {
        score += 0.1;
        why.push(format!("{} new destinations within the hour", new_dsts.len()));
    }
    if new_critical > 0 {
        score += 0.05;
    }
    if resumed {
        score -= 0.1;
        why.push("only resumed sessions it had before the silence".into());
    }
    if !foreign.is_empty() {
        score += 0.05;
        why.push("foreign destinations".into());
    }
    if off_hours {
        score += 0.1;
        why.push("woke outside work hours".into());
    }
    if decommissioned {
        score += 0.15;
        why.push("decommissioned in the CMDB".into());
    }
    if test {
        score += 0.05;
    }
    let score = r3(score.clamp(0.0, 1.0));
    let mut attack = vec!["T1078".to_string()];
    for s in woke.iter().filter(|s| s.admin) {
        match s.port {
            22 => attack.push("T1021.004".into()),
            3389 => attack.push("T1021.001".into()),
            445 | 139 => attack.push("T1021.002".into()),
            5985 | 5986 => attack.push("T1021.006".into()),
            _ => {}
        }
    }
    let last = woke.last().map(|s| s.ts).unwrap_or(wake.ts);
    let summary = format!(
        "{} was silent for {:.1} days{} and then started {} session{} to {} host{}{}",
        host_label(h, ctx),
        days,
        if bg_during > 0 { " (only background chatter)" } else { "" },
        woke.len(),
        if woke.len() == 1 { "" } else { "s" },
        dsts.len(),
        if dsts.len() == 1 { "" } else { "s" },
        if off_hours { ", outside work hours" } else { "" }
    );
    let to_iso = |t: Timestamp| t.to_offset(ctx.offset_at(t)).to_rfc3339();
    Some(Finding {
        id: Finding::stable_id(FindingKind::DormantDevice, &[&h.to_string(), &wake.ts.secs().to_string()]),
        kind: FindingKind::DormantDevice,
        severity: Severity::from_score(score),
        score,
        src: h.to_string(),
        dst: dsts.iter().take(50).map(|d| host_label(*d, ctx)).collect(),
        path: Vec::new(),
        first_seen: wake.ts.to_offset(ctx.offset_at(wake.ts)),
        last_seen: last.to_offset(ctx.offset_at(last)),
        attack: attack_ids(attack),
        summary,
        evidence: json!({
            "silent_days": r3(days),
            "silent_since": to_iso(quiet_from),
            "silence_from_history": from_history,
            "woke_at": to_iso(wake.ts),
            "woke_local_hour": ctx.local_hour(wake.ts),
            "background_during_silence": bg_during,
            "sessions_after_waking": woke.len(),
            "destinations": dsts.len(),
            "admin_ports": admin,
            "new_admin_ports": new_admin,
            "new_destinations": new_dsts.len(),
            "sessions_seen_before_silence": familiar,
            "external_destinations": external.iter().take(20).map(|d| d.to_string()).collect::<Vec<_>>(),
            "foreign_destinations": foreign.len(),
            "critical_destinations": critical,
            "zone": zone_label(h, ctx),
            "decommissioned": decommissioned,
            "test_device": test,
            "reasons": why,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::testutil::*;
    use vigil_model::PROTO_UDP;

    const DAY: i64 = 86_400;

    fn site() -> Context {
        ctx_from(
            "[site]\ninternal=[\"10.0.0.0/8\"]\ntimezone=\"Asia/Shanghai\"\nhome_countries=[\"CN\"]\n[[site.zone]]\nname=\"core\"\nnetworks=[\"10.3.0.0/16\"]\ncritical=true\n",
        )
    }

    fn dhcp(t: i64, h: &str) -> Conn {
        let mut c = Conn::new(Timestamp::from_secs(t), ip(h), 68, ip("10.0.0.1"), 67, PROTO_UDP);
        c.resp_pkts = 1;
        c
    }

    fn run(ctx: &Context, conns: &[Conn]) -> Vec<Finding> {
        let mut d = DormantDetector::default();
        for c in conns {
            d.observe(c, ctx);
        }
        d.finish(ctx)
    }

    #[test]
    fn a_camera_silent_for_weeks_that_starts_ssh_at_night_is_high() {
        let ctx = site();
        let t0 = NIGHT - 30 * DAY;
        let mut conns = vec![tcp(t0, "10.5.0.9", "10.0.0.20", 554, 5.0)];
        for d in 1..30 {
            conns.push(dhcp(t0 + d * DAY, "10.5.0.9"));
        }
        for i in 0..6 {
            conns.push(tcp(NIGHT + i * 30, "10.5.0.9", &format!("10.3.0.{}", i + 1), 22, 10.0));
        }
        let f = run(&ctx, &conns);
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!(f.src, "10.5.0.9");
        assert!(f.score >= 0.75, "{}", f.score);
        assert_eq!(f.evidence["background_during_silence"], 29);
        assert_eq!(f.evidence["destinations"], 6);
        assert!((f.evidence["silent_days"].as_f64().unwrap() - 30.0).abs() < 0.01);
        assert!(f.attack.contains(&"T1021.004".to_string()));
    }

    #[test]
    fn runs_give_the_same_wake_up_in_any_arrival_order() {
        let ctx = site();
        let t0 = NIGHT - 20 * DAY;
        // Busy for two days, silent for 18, then a burst; plus a lone session 6 days in that
        // splits the silence (12 days is the longest), and sessions that bridge two runs.
        let mut conns: Vec<Conn> = (0..200).map(|i| tcp(t0 + i * 900, "10.5.0.7", "10.0.0.20", 443, 1.0)).collect();
        conns.push(tcp(t0 + 8 * DAY, "10.5.0.7", "10.0.0.21", 443, 1.0));
        for i in 0..8 {
            conns.push(tcp(NIGHT + i * 60, "10.5.0.7", &format!("10.3.0.{}", i + 1), if i % 2 == 0 { 22 } else { 3389 }, 1.0));
        }
        conns.push(tcp(NIGHT + 2 * 3600, "10.5.0.7", "10.0.0.30", 443, 1.0));
        let sorted = run(&ctx, &conns);
        assert_eq!(sorted.len(), 1);
        assert!((sorted[0].evidence["silent_days"].as_f64().unwrap() - 12.0).abs() < 0.05, "{:?}", sorted[0].evidence);
        assert_eq!(sorted[0].evidence["sessions_after_waking"], 8, "the session two hours later is outside the wake window");
        // Reversed and interleaved orders merge the same runs.
        let mut rev = conns.clone();
        rev.reverse();
        let mut mixed: Vec<Conn> = conns.iter().step_by(2).cloned().collect();
        mixed.extend(conns.iter().skip(1).step_by(2).rev().cloned());
        for other in [rev, mixed] {
            let f = run(&ctx, &other);
            assert_eq!(f.len(), 1);
            assert_eq!((f[0].score, &f[0].evidence, &f[0].attack), (sorted[0].score, &sorted[0].evidence, &sorted[0].attack));
        }
    }

    #[test]
    fn silence_known_from_the_stored_inventory_counts() {
        let mut inv = vigil_enrich::Inventory::default();
        inv.observe(&tcp(NIGHT - 60 * DAY, "10.5.0.10", "10.0.0.20", 443, 1.0));
        let ctx = site().with_inventory(inv);
        let f = run(&ctx, &[tcp(NIGHT, "10.5.0.10", "10.3.0.1", 3389, 100.0)]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].evidence["silence_from_history"], true);
        assert!((f[0].evidence["silent_days"].as_f64().unwrap() - 60.0).abs() < 0.01);
    }

    fn smb_as(t: i64, o: &str, r: &str, user: &str) -> Conn {
        let mut c = tcp(t, o, r, 445, 2.0);
        c.app.smb = Some(Box::new(vigil_model::conn::SmbMeta { ntlm_user: Some(user.into()), ..Default::default() }));
        c
    }

    #[test]
    fn resuming_old_habits_stays_low_but_a_new_account_on_the_same_share_does_not() {
        let ctx = site();
        // A CI box pulls from the code server on three days, idles five (DHCP only), then
        // pulls again at night: the job is back, not an intruder.
        let mut conns: Vec<Conn> = (5..8).map(|d| tcp(NIGHT - d * DAY, "10.4.0.9", "10.3.0.41", 443, 30.0)).collect();
        conns.extend((1..5).map(|d| dhcp(NIGHT - d * DAY, "10.4.0.9")));
        conns.push(tcp(NIGHT, "10.4.0.9", "10.3.0.41", 443, 30.0));
        // A workstation maps its user's share on three days, is silent for a week, then wakes
        // at night on the same share: as its user (habit), or as a service account (new).
        for (h, user) in [("10.2.0.7", "li.wei"), ("10.2.0.8", "svc_backup")] {
            conns.extend((7..10).map(|d| smb_as(WORK - d * DAY, h, "10.3.0.20", "li.wei")));
            conns.push(smb_as(NIGHT, h, "10.3.0.20", user));
        }
        conns.extend((7..10).map(|d| tcp(WORK - d * DAY, "10.2.0.6", "10.3.0.9", 443, 5.0)));
        let mut public = smb_as(NIGHT, "10.2.0.6", "10.3.0.20", "li.wei");
        if let Some(m) = public.app.smb.as_mut() {
            m.trees.push(vigil_model::conn::SmbTree { path: r"\\FS01\Public".into(), share_type: Some("disk".into()), ok: Some(true) });
        }
        conns.push(public);
        let f = run(&ctx, &conns);
        let by = |h: &str| f.iter().find(|x| x.src == h).unwrap_or_else(|| panic!("{h}: {f:#?}"));
        let ci = by("10.4.0.9");
        assert!(ci.severity < Severity::Medium, "{:?}", ci.evidence);
        assert_eq!(ci.evidence["sessions_seen_before_silence"], 1);
        let habit = by("10.2.0.7");
        assert!(habit.severity < Severity::Medium, "{:?}", habit.evidence);
        assert_eq!(habit.evidence["new_admin_ports"], json!([]));
        // Mapping an ordinary share for the first time is file access, not an admin session.
        let public = by("10.2.0.6");
        assert_eq!(public.evidence["new_admin_ports"], json!([]), "{:?}", public.evidence);
        let new = by("10.2.0.8");
        assert!(new.severity >= Severity::Medium, "{:?}", new.evidence);
        assert_eq!(new.evidence["new_admin_ports"], json!([445]));
        assert_eq!(new.evidence["sessions_seen_before_silence"], 0);
    }

    #[test]
    fn a_laptop_back_from_holiday_in_work_hours_stays_low_and_daily_users_are_quiet() {
        let ctx = site();
        let mut conns = vec![tcp(WORK - 9 * DAY, "10.2.0.8", "93.184.216.34", 443, 10.0)];
        conns.push(tcp(WORK, "10.2.0.8", "93.184.216.34", 443, 10.0));
        conns.push(tcp(WORK + 60, "10.2.0.8", "10.0.0.53", 53, 0.1));
        let f = run(&ctx, &conns);
        assert_eq!(f.len(), 1);
        assert!(f[0].severity < Severity::Medium, "{:?}", f[0]);
        // A host active every day is never dormant.
        let daily: Vec<Conn> = (0..20).map(|d| tcp(WORK + d * DAY, "10.2.0.9", "10.3.0.1", 22, 5.0)).collect();
        assert!(run(&ctx, &daily).is_empty());
        // Three days off is not long enough.
        let short = vec![tcp(WORK, "10.2.0.10", "10.3.0.1", 22, 5.0), tcp(WORK + 3 * DAY, "10.2.0.10", "10.3.0.1", 22, 5.0)];
        assert!(run(&ctx, &short).is_empty());
    }
}
