//! `lateral_movement`: one internal host reaching out to others with the protocols used to take
//! them over: SMB, RDP, WinRM, SSH, MS-RPC/DCOM (135 and the dynamic ports it hands out) and
//! database ports.
//!
//! Per source host it counts distinct destinations and services, failed attempts (REJ, S0,
//! RSTR before any exchange: guessing which hosts answer or which credentials work), edges new
//! against the stored history, and the PsExec pattern visible in connection records: an SMB
//! session that uploads a file followed by RPC to the same host (service creation), or an SMB
//! session on which DCE-RPC was detected. Sources that should not administer anything (test,
//! edge, guest and device networks; printers, cameras) weigh more. Declared admin sources,
//! periodic monitoring polls and backup-like bulk pulls weigh less, so that normal
//! administration stays below medium.
//!
//! Where the packet engine dissected SMB and DCE-RPC (`AppMeta::smb`, `AppMeta::dce_rpc`), the
//! session's own content is judged too, so remote execution is found even on a single target:
//! an executable or script written to an administrative share (`C$`, `ADMIN$`), a service
//! created through svcctl, an AT job (atsvc), a scheduled task registered (ITaskSchedulerService),
//! a WMI method executed (IWbemServices), directory replication requested by a host that is not
//! a domain controller (DRSUAPI DRSGetNCChanges: DCSync), a registry hive saved remotely.
//!
//! Sessions to a service that the source's peers (other hosts of its zone) also use — the file
//! server, the domain controllers — are routine and do not count towards fan-out, so a first
//! run without stored history does not report every workstation that maps a few shares.

use crate::Detector;
use crate::graph::{AdminService, Edge, attack_ids, edge_known, host_label, r3, zone_label};
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use vigil_enrich::Context;
use vigil_model::{Conn, Finding, FindingKind, PROTO_TCP, Severity, Timestamp, is_admin_share, share_of};

#[derive(Clone, Debug)]
pub struct LateralConfig {
    /// Distinct destinations at which fan-out alone is reported.
    pub min_fanout: usize,
    /// SMB upload (bytes from the source) that counts as a file copy.
    pub upload_bytes: u64,
    /// Seconds between an SMB upload and RPC to the same host for the PsExec pattern.
    pub psexec_secs: f64,
    /// Admin edges kept per source host (beyond, counted and dropped).
    pub max_edges_per_source: usize,
    /// Source hosts followed.
    pub max_sources: usize,
    /// Findings below this score are not reported.
    pub min_score: f64,
    /// Other hosts of the source's zone using a destination (on any followed service) that make
    /// sessions to it routine; twice as many from any zone do too.
    pub peer_users: usize,
}

impl Default for LateralConfig {
    fn default() -> Self {
        LateralConfig {
            min_fanout: 3,
            upload_bytes: 20_000,
            psexec_secs: 120.0,
            max_edges_per_source: 20_000,
            max_sources: 200_000,
            min_score: 0.3,
            peer_users: 3,
        }
    }
}

pub struct LateralDetector {
    cfg: LateralConfig,
    by_src: HashMap<IpAddr, Vec<Edge>>,
    /// Pairs that spoke to the RPC endpoint mapper: their later high-port sessions are RPC.
    epmap: HashSet<(IpAddr, IpAddr)>,
    /// Pairs (source, target) with a successful admin session: a later session from the
    /// target back to the source is a candidate callback.
    admin_pairs: HashSet<(IpAddr, IpAddr)>,
    /// Sessions from a target back to its administrator, keyed by (administrator, target).
    callbacks: HashMap<(IpAddr, IpAddr), Vec<Callback>>,
    /// Remote execution seen inside dissected sessions, by (source, target).
    exec: HashMap<(IpAddr, IpAddr), PairContent>,
    /// Clients of each destination (successful sessions on any followed service), up to
    /// [`MAX_USERS`].
    users: HashMap<IpAddr, Vec<IpAddr>>,
    /// Hosts seen answering Kerberos: domain controllers (their replication is not DCSync).
    kdcs: HashSet<IpAddr>,
    pub dropped: u64,
}

/// Sources remembered per destination service: enough to tell a shared service.
const MAX_USERS: usize = 16;
/// Content signals kept per (source, target).
const MAX_SIGNALS: usize = 16;

/// What dissected SMB / DCE-RPC sessions between a source and a target showed.
#[derive(Default, Debug)]
struct PairContent {
    signals: Vec<ExecSignal>,
    /// An administrative share was connected (never routine, whoever else uses the host).
    admin_share: bool,
    /// Some SMB session of the pair was dissected (then the coarse Zeek-style rule, "DCE-RPC on
    /// an SMB session that uploaded", is not needed).
    dissected_smb: bool,
    /// Bytes written to administrative shares.
    admin_share_bytes: u64,
}

/// One remote-execution (or credential-theft) act seen in a session.
#[derive(Clone, Debug)]
struct ExecSignal {
    ts: Timestamp,
    kind: ExecKind,
    /// Share and file, or interface and operation (and pipe).
    detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum ExecKind {
    /// An executable or script written to C$/ADMIN$ (tool transfer, service binary).
    AdminShareExecutable,
    /// Another file written to an administrative share.
    AdminShareWrite,
    /// svcctl CreateService / ChangeServiceConfig.
    ServiceCreated,
    /// svcctl StartService of an existing service.
    ServiceStarted,
    /// atsvc NetrJobAdd.
    AtJob,
    /// ITaskSchedulerService SchRpcRegisterTask / SchRpcRun.
    ScheduledTask,
    /// IWbemServices ExecMethod (Win32_Process.Create and friends).
    WmiExec,
    /// DCOM remote activation (IRemoteSCMActivator, IActivation).
    DcomActivation,
    /// DRSUAPI DRSGetNCChanges from a host that is not a domain controller.
    DcSync,
    /// winreg BaseRegSaveKey: a hive (SAM, SECURITY, SYSTEM) saved remotely.
    RegistryHiveSave,
}

impl ExecKind {
    fn as_str(self) -> &'static str {
        match self {
            ExecKind::AdminShareExecutable => "executable written to admin share",
            ExecKind::AdminShareWrite => "file written to admin share",
            ExecKind::ServiceCreated => "remote service created",
            ExecKind::ServiceStarted => "remote service started",
            ExecKind::AtJob => "AT job scheduled",
            ExecKind::ScheduledTask => "scheduled task registered",
            ExecKind::WmiExec => "WMI method executed",
            ExecKind::DcomActivation => "DCOM remote activation",
            ExecKind::DcSync => "directory replication requested by a non-DC (DCSync)",
            ExecKind::RegistryHiveSave => "registry hive saved remotely",
        }
    }
    /// Score added by the strongest signal of a source. ≥ 0.3 reports even one target.
    fn weight(self) -> f64 {
        match self {
            ExecKind::DcSync => 0.6,
            ExecKind::ServiceCreated | ExecKind::AtJob | ExecKind::ScheduledTask | ExecKind::WmiExec => 0.45,
            ExecKind::AdminShareExecutable | ExecKind::RegistryHiveSave => 0.4,
            ExecKind::ServiceStarted => 0.2,
            ExecKind::DcomActivation | ExecKind::AdminShareWrite => 0.1,
        }
    }
    fn attack(self) -> &'static [&'static str] {
        match self {
            ExecKind::AdminShareExecutable => &["T1021.002", "T1570"],
            ExecKind::AdminShareWrite => &["T1021.002"],
            ExecKind::ServiceCreated => &["T1569.002", "T1543.003"],
            ExecKind::ServiceStarted => &["T1569.002"],
            ExecKind::AtJob => &["T1053.002"],
            ExecKind::ScheduledTask => &["T1053.005"],
            ExecKind::WmiExec => &["T1047"],
            ExecKind::DcomActivation => &["T1021.003"],
            ExecKind::DcSync => &["T1003.006"],
            ExecKind::RegistryHiveSave => &["T1003.002"],
        }
    }
}

/// Remote-execution signals in a dissected session.
fn content_signals(c: &Conn, out: &mut PairContent) {
    let push = |out: &mut PairContent, kind: ExecKind, detail: String| {
        if out.signals.len() < MAX_SIGNALS && !out.signals.iter().any(|s| s.kind == kind && s.detail == detail) {
            out.signals.push(ExecSignal { ts: c.ts, kind, detail });
        }
    };
    if let Some(smb) = c.app.smb.as_deref() {
        out.dissected_smb = true;
        out.admin_share |= smb.trees.iter().any(|t| t.ok != Some(false) && is_admin_share(&t.share()));
        for f in smb.files.iter().filter(|f| !f.pipe) {
            let Some(tree) = f.tree.as_deref() else { continue };
            if !is_admin_share(&share_of(tree)) {
                continue;
            }
            let created = matches!(f.action.as_deref(), Some("created" | "overwritten" | "superseded"));
            if f.bytes_written == 0 && !created {
                continue;
            }
            out.admin_share_bytes = out.admin_share_bytes.saturating_add(f.bytes_written);
            let kind = if f.is_executable() { ExecKind::AdminShareExecutable } else { ExecKind::AdminShareWrite };
            let name = f.renamed_to.as_deref().unwrap_or(&f.name);
            push(out, kind, format!("{}\\{} ({} bytes written)", tree.trim_end_matches('\\'), name, f.bytes_written));
        }
    }
    if let Some(rpc) = c.app.dce_rpc.as_deref() {
        for call in &rpc.calls {
            let kind = match (call.interface.as_str(), call.opnum) {
                ("svcctl", 11 | 12 | 23 | 24 | 44 | 45 | 60) => ExecKind::ServiceCreated,
                ("svcctl", 19 | 31) => ExecKind::ServiceStarted,
                ("atsvc", 0) => ExecKind::AtJob,
                ("ITaskSchedulerService", 1 | 12) => ExecKind::ScheduledTask,
                ("IWbemServices", 24 | 25) => ExecKind::WmiExec,
                ("IRemoteSCMActivator", 3 | 4) | ("IActivation", 0) => ExecKind::DcomActivation,
                ("drsuapi", 3) => ExecKind::DcSync,
                ("winreg", 20 | 31) => ExecKind::RegistryHiveSave,
                _ => continue,
            };
            let op = call.operation.clone().unwrap_or_else(|| format!("opnum {}", call.opnum));
            let detail = match call.named_pipe.as_deref() {
                Some(p) => format!("{} {op} over \\pipe\\{p}", call.interface),
                None => format!("{} {op} (port {})", call.interface, c.resp_p),
            };
            push(out, kind, detail);
        }
    }
}

impl Default for LateralDetector {
    fn default() -> Self {
        LateralDetector::new(LateralConfig::default())
    }
}

impl LateralDetector {
    pub fn new(cfg: LateralConfig) -> Self {
        LateralDetector {
            cfg,
            by_src: HashMap::new(),
            epmap: HashSet::new(),
            admin_pairs: HashSet::new(),
            callbacks: HashMap::new(),
            exec: HashMap::new(),
            users: HashMap::new(),
            kdcs: HashSet::new(),
            dropped: 0,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Callback {
    ts: Timestamp,
    port: u16,
    bytes_to_admin: u64,
}

/// Ports on which a host normally calls a peer that administers it (name service, Kerberos,
/// time, directory, file sharing): a session back on these is not a callback.
fn infrastructure_port(p: u16) -> bool {
    matches!(p, 53 | 88 | 123 | 135 | 137..=139 | 389 | 445 | 464 | 636 | 3268 | 3269)
}

#[derive(Default)]
struct DestStat {
    services: BTreeSet<AdminService>,
    ports: BTreeSet<u16>,
    ok: u32,
    failed: u32,
    first: Option<Timestamp>,
    starts: BTreeMap<u16, Vec<f64>>,
    upload: u64,
    pulled_big: u32,
    psexec: bool,
    dce_rpc_on_smb: bool,
    /// The target connected back to the source soon after being administered (a reverse
    /// shell or stager after remote execution): port of the first such session.
    callback: Option<Callback>,
}

impl Detector for LateralDetector {
    fn name(&self) -> &'static str {
        "lateral_movement"
    }

    fn observe(&mut self, c: &Conn, ctx: &Context) {
        if c.proto != PROTO_TCP || c.orig_h == c.resp_h || !ctx.is_internal(c.orig_h) || !ctx.is_internal(c.resp_h) {
            return;
        }
        let mut e = Edge::from_conn(c, ctx);
        // A member server checking a logon with its domain controller (Netlogon pass-through,
        // LSA domain queries) is infrastructure, not administration: not an edge.
        let infra_rpc = c.app.smb.is_none()
            && c.app.dce_rpc.as_deref().is_some_and(|r| {
                !r.binds.is_empty() && r.binds.iter().all(|b| matches!(b.interface.as_deref(), Some("netlogon" | "lsa_ds")))
            });
        if infra_rpc {
            e.service = None;
        }
        if c.resp_p == 88 && e.ok && self.kdcs.len() < 10_000 {
            self.kdcs.insert(c.resp_h);
        }
        if (c.app.smb.is_some() || c.app.dce_rpc.is_some())
            && (self.exec.len() < 1_000_000 || self.exec.contains_key(&(c.orig_h, c.resp_h)))
        {
            content_signals(c, self.exec.entry((c.orig_h, c.resp_h)).or_default());
        }
        if e.ok && e.service.is_none() && !infrastructure_port(c.resp_p) && self.admin_pairs.contains(&(c.resp_h, c.orig_h)) {
            let v = self.callbacks.entry((c.resp_h, c.orig_h)).or_default();
            if v.len() < 64 {
                v.push(Callback { ts: c.ts, port: c.resp_p, bytes_to_admin: c.resp_bytes() });
            }
        }
        if e.service == Some(AdminService::Rpc) && c.resp_p == 135 {
            if self.epmap.len() < 1_000_000 {
                self.epmap.insert((c.orig_h, c.resp_h));
            }
        } else if e.service.is_none() && !infra_rpc && c.resp_p >= 49152 && self.epmap.contains(&(c.orig_h, c.resp_h)) {
            // The endpoint mapper handed out a dynamic port: DCOM/RPC proper.
            e.service = Some(AdminService::Rpc);
        }
        if e.service.is_none() {
            return;
        }
        if self.by_src.len() >= self.cfg.max_sources && !self.by_src.contains_key(&e.src) {
            self.dropped += 1;
            return;
        }
        if e.ok && self.admin_pairs.len() < 1_000_000 {
            self.admin_pairs.insert((e.src, e.dst));
        }
        if e.ok && (self.users.len() < 2_000_000 || self.users.contains_key(&e.dst)) {
            let u = self.users.entry(e.dst).or_default();
            if u.len() < MAX_USERS && !u.contains(&e.src) {
                u.push(e.src);
            }
        }
        let v = self.by_src.entry(e.src).or_default();
        if v.len() >= self.cfg.max_edges_per_source {
            self.dropped += 1;
            return;
        }
        v.push(e);
    }

    fn finish(&mut self, ctx: &Context) -> Vec<Finding> {
        for v in self.by_src.values_mut() {
            v.sort_by_key(|e| e.ts);
        }
        let mut srcs: Vec<IpAddr> = self.by_src.keys().copied().collect();
        srcs.sort();
        srcs.into_iter().filter_map(|s| self.judge(s, ctx)).collect()
    }
}

/// A CMDB role naming an administration host: "admin workstation", "jump host", "bastion",
/// "PAW" (privileged access workstation). Matched on whole words, case-insensitively.
fn cmdb_admin_role(role: Option<&str>) -> bool {
    role.is_some_and(|r| {
        r.to_ascii_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|t| matches!(t, "admin" | "administration" | "jump" | "jumphost" | "bastion" | "paw"))
    })
}

fn cv(xs: &[f64]) -> Option<f64> {
    if xs.len() < 3 {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    Some(var.sqrt() / mean)
}

impl LateralDetector {
    fn judge(&self, src: IpAddr, ctx: &Context) -> Option<Finding> {
        let asset = ctx.asset(src);
        let edges = self.by_src.get(&src)?;
        let mut dests: BTreeMap<IpAddr, DestStat> = BTreeMap::new();
        for e in edges {
            let d = dests.entry(e.dst).or_default();
            if let Some(s) = e.service {
                d.services.insert(s);
            }
            d.ports.insert(e.port);
            d.first = Some(d.first.map_or(e.ts, |f| f.min(e.ts)));
            let st = d.starts.entry(e.port).or_default();
            if st.len() < 10_000 {
                st.push(e.ts.as_secs_f64());
            }
            if e.ok {
                d.ok += 1;
                if e.resp_bytes >= 1_000_000 {
                    d.pulled_big += 1;
                }
            } else if e.failed {
                d.failed += 1;
            }
            if e.service == Some(AdminService::Smb) && e.ok {
                d.upload = d.upload.saturating_add(e.orig_bytes);
                // Zeek-style input (no dissected content): DCE-RPC on an SMB session that
                // uploaded is the PsExec pattern. With the content, the signals below decide.
                let dissected = self.exec.get(&(src, e.dst)).is_some_and(|p| p.dissected_smb);
                if !dissected
                    && e.app.as_deref().is_some_and(|a| a.contains("dce_rpc") || a.contains("dcerpc"))
                    && e.orig_bytes >= self.cfg.upload_bytes
                {
                    d.dce_rpc_on_smb = true;
                }
            }
        }
        // Content signals per target; DCSync only counts from a host that is not a domain
        // controller (DCs replicate from each other all day).
        let src_is_dc = self.kdcs.contains(&src)
            || asset.and_then(|a| a.cmdb.as_ref()).and_then(|c| c.role.as_deref()).is_some_and(|r| {
                let r = r.to_ascii_lowercase();
                r.contains("domain controller") || r.split(|c: char| !c.is_ascii_alphanumeric()).any(|t| t == "dc")
            });
        let mut exec: BTreeMap<IpAddr, Vec<&ExecSignal>> = BTreeMap::new();
        for ip in dests.keys() {
            if let Some(p) = self.exec.get(&(src, *ip)) {
                let v: Vec<&ExecSignal> = p.signals.iter().filter(|s| s.kind != ExecKind::DcSync || !src_is_dc).collect();
                if !v.is_empty() {
                    exec.insert(*ip, v);
                }
            }
        }
        let exec_kinds: BTreeSet<ExecKind> = exec.values().flatten().map(|s| s.kind).collect();
        let strong_kinds = exec_kinds.iter().filter(|k| k.weight() >= 0.3).count();
        let exec_weight = exec_kinds.iter().map(|k| k.weight()).fold(0.0, f64::max) + if strong_kinds >= 2 { 0.1 } else { 0.0 };
        // Routine destinations: servers other hosts reach too (peers of the source's zone, or
        // more hosts of any zone), with no administrative share and no content signal.
        let src_zone = ctx.zone(src).map(|z| z.name.as_str());
        let shared = |dst: IpAddr| {
            self.users.get(&dst).is_some_and(|u| {
                // Other clients that reached it make it a server: those of the source's own
                // zone (its peers) count from `peer_users`, others from twice that.
                let others = u.iter().filter(|p| **p != src);
                let peers = others.clone().filter(|p| ctx.zone(**p).map(|z| z.name.as_str()) == src_zone).count();
                peers >= self.cfg.peer_users || others.count() >= 2 * self.cfg.peer_users
            })
        };
        // A refusal from a server its other clients reach is an outage or a busy server, not a
        // probe — unless the source was refused by several of them (a sweep).
        let candidates: Vec<(IpAddr, bool)> = dests
            .iter()
            .filter(|(ip, _)| !exec.contains_key(*ip) && !self.exec.get(&(src, **ip)).is_some_and(|p| p.admin_share) && shared(**ip))
            .map(|(ip, d)| (*ip, d.failed > 0))
            .collect();
        let refused_by_servers = candidates.iter().filter(|(_, f)| *f).count();
        let sweep = refused_by_servers >= self.cfg.min_fanout && refused_by_servers * 5 >= candidates.len();
        let routine: BTreeSet<IpAddr> = candidates.into_iter().filter(|(_, f)| !(sweep && *f)).map(|(ip, _)| ip).collect();
        // PsExec-like: an SMB upload to a host, then RPC to it (svcctl through the endpoint
        // mapper or a named pipe) within the window.
        let mut rpc_at: HashMap<IpAddr, Vec<Timestamp>> = HashMap::new();
        for r in edges.iter().filter(|r| r.service == Some(AdminService::Rpc) && r.ok) {
            rpc_at.entry(r.dst).or_default().push(r.ts);
        }
        for e in edges
            .iter()
            .filter(|e| e.service == Some(AdminService::Smb) && e.ok && e.orig_bytes >= self.cfg.upload_bytes && !routine.contains(&e.dst))
        {
            // Sorted by time (edges are): a binary search finds the nearest RPC session.
            let rpc_follows = rpc_at.get(&e.dst).is_some_and(|ts| {
                let i = ts.partition_point(|t| t.since(e.ts) < -self.cfg.psexec_secs);
                ts.get(i).is_some_and(|t| t.since(e.ts).abs() <= self.cfg.psexec_secs)
            });
            if rpc_follows && let Some(d) = dests.get_mut(&e.dst) {
                d.psexec = true;
            }
        }
        // Callbacks: the target started a session to this source on a non-infrastructure port
        // while the admin session lasted or within the PsExec window after it.
        for e in edges.iter().filter(|e| e.ok && e.service.is_some_and(AdminService::is_control)) {
            let Some(cbs) = self.callbacks.get(&(src, e.dst)) else { continue };
            let hit = cbs.iter().find(|cb| cb.ts >= e.ts && cb.ts.since(e.end) <= self.cfg.psexec_secs);
            if let (Some(cb), Some(d)) = (hit, dests.get_mut(&e.dst)) {
                d.callback.get_or_insert(*cb);
            }
        }
        let callbacks: Vec<(IpAddr, Callback)> = dests.iter().filter_map(|(ip, d)| d.callback.map(|c| (*ip, c))).collect();
        let fanout = dests.len();
        // Fan-out that means something: destinations that are not routine.
        let unusual_fanout = fanout - routine.len();
        let psexec: Vec<IpAddr> = dests.iter().filter(|(_, d)| d.psexec || d.dce_rpc_on_smb).map(|(ip, _)| *ip).collect();
        // Saving files to a server everyone uses is not a tool transfer: routine destinations
        // count for nothing below but the evidence.
        let uploads: Vec<IpAddr> =
            dests.iter().filter(|(ip, d)| d.upload >= 5 * self.cfg.upload_bytes && !routine.contains(*ip)).map(|(ip, _)| *ip).collect();
        let failed_dests = dests.iter().filter(|(ip, d)| d.ok == 0 && d.failed > 0 && !routine.contains(*ip)).count();
        let ok_dests = dests.values().filter(|d| d.ok > 0).count();
        let services: BTreeSet<AdminService> =
            dests.iter().filter(|(ip, _)| !routine.contains(*ip)).flat_map(|(_, d)| d.services.iter().copied()).collect();
        let zone = ctx.zone(src);
        let unusual = zone.is_some_and(|z| z.is_test() || z.is_edge() || z.is_device_net())
            || asset.is_some_and(|a| ["printer", "camera", "ics", "voip", "embedded"].iter().any(|h| a.has_device_hint(h)))
            || asset.and_then(|a| a.cmdb.as_ref()).is_some_and(|c| c.is_test());
        let critical_targets = dests.keys().filter(|d| !routine.contains(*d) && ctx.is_critical(**d)).count();
        let critical_ok = dests.iter().filter(|(ip, d)| d.ok > 0 && !routine.contains(*ip) && ctx.is_critical(**ip)).count();
        let remote_exec = exec_weight >= 0.3;
        if unusual_fanout < self.cfg.min_fanout
            && psexec.is_empty()
            && callbacks.is_empty()
            && !remote_exec
            && !(unusual && critical_ok > 0)
        {
            return None;
        }

        // Newness against history (None: no history to judge by).
        let mut known_n = 0;
        let mut new_n = 0;
        for e in edges.iter().filter(|e| e.ok) {
            match edge_known(ctx, e.src, e.dst, e.port) {
                Some(true) => known_n += 1,
                Some(false) => new_n += 1,
                None => {}
            }
        }
        let judged = known_n + new_n;
        let new_ratio = if judged > 0 { new_n as f64 / judged as f64 } else { 0.0 };
        // Monitoring: most destinations polled at a steady interval.
        let periodic = dests
            .values()
            .filter(|d| {
                d.starts.values().any(|s| {
                    let gaps: Vec<f64> = s.windows(2).map(|w| w[1] - w[0]).filter(|g| *g > 0.0).collect();
                    gaps.len() >= 3 && cv(&gaps).is_some_and(|c| c < 0.25)
                })
            })
            .count();
        // One destination counts too: an application server querying its database every hour
        // is as steady as a monitoring server polling many hosts.
        let monitoring = periodic > 0 && periodic * 10 >= fanout * 6;
        let ok_sessions = edges.iter().filter(|e| e.ok).count();
        let big_pulls: u32 = dests.values().map(|d| d.pulled_big).sum();
        let backup_like = ok_sessions > 0
            && (big_pulls as usize) * 10 >= ok_sessions * 8
            && failed_dests * 10 <= fanout
            && psexec.is_empty()
            && services.len() == 1;
        let off_n = edges.iter().filter(|e| !routine.contains(&e.dst) && ctx.is_off_hours(e.ts)).count();
        let off_hours = off_n * 2 > edges.iter().filter(|e| !routine.contains(&e.dst)).count();
        // Declared in the site file, in an admin zone, or recorded in the CMDB as an
        // administration host (admin workstation, jump host, bastion): administering many
        // hosts in work hours is its job.
        let admin_src = ctx.is_admin_source(src) || asset.and_then(|a| a.cmdb.as_ref()).is_some_and(|c| cmdb_admin_role(c.role.as_deref()));
        let rpc_dcom = services.contains(&AdminService::Rpc);

        let mut score = 0.15 + 0.3 * ramp(unusual_fanout as f64, 1.0, 8.0);
        let mut why: Vec<String> = Vec::new();
        let fail_ratio = failed_dests as f64 / fanout.max(1) as f64;
        if failed_dests >= 2 {
            score += 0.2 * fail_ratio + 0.05;
            why.push(format!("{failed_dests} of {fanout} hosts refused or did not answer"));
        }
        if judged > 0 && new_n > 0 {
            score += 0.15 * new_ratio;
            why.push(format!("{new_n} of {judged} sessions on edges never seen before"));
        }
        if !routine.is_empty() {
            why.push(format!("{} of {fanout} destinations are services the source's peers use too (not counted)", routine.len()));
        }
        let timing: f64 = if psexec.is_empty() { 0.0 } else { 0.3 };
        if !psexec.is_empty() {
            why.push("file upload over SMB followed by remote service control (PsExec pattern)".into());
        }
        for k in &exec_kinds {
            let n = exec.values().filter(|v| v.iter().any(|s| s.kind == *k)).count();
            why.push(format!("{} on {n} host{}", k.as_str(), if n == 1 { "" } else { "s" }));
        }
        if timing > 0.0 || exec_weight > 0.0 {
            score += timing.max(exec_weight);
        } else if !uploads.is_empty() {
            score += 0.1;
            why.push("files copied over SMB".into());
        }
        if !callbacks.is_empty() {
            score += 0.35;
            why.push(format!(
                "{} administered host(s) connected back to the source on port {} (reverse shell or stager)",
                callbacks.len(),
                callbacks[0].1.port
            ));
        }
        if rpc_dcom {
            score += 0.05;
        }
        if services.len() >= 2 {
            score += 0.05;
        }
        if unusual {
            score += 0.15;
            why.push("source should not administer other hosts".into());
        }
        if critical_targets > 0 && !admin_src {
            score += 0.1;
            why.push(format!("{critical_targets} targets in critical zones"));
        }
        if off_hours {
            score += 0.1;
            why.push("off hours".into());
        }
        if admin_src {
            score -= 0.3;
            why.push("declared admin source".into());
        }
        if monitoring {
            score -= 0.25;
            why.push("steady polling (monitoring)".into());
        }
        if backup_like {
            score -= 0.15;
            why.push("bulk pulls without failures (backup-like)".into());
        }
        if judged > 0 && new_n == 0 {
            score -= 0.15;
            why.push("every edge seen before".into());
        }
        if !off_hours && failed_dests == 0 && !unusual && psexec.is_empty() && callbacks.is_empty() && !remote_exec {
            score -= 0.05;
        }
        let score = r3(score.clamp(0.0, 1.0));
        if score < self.cfg.min_score {
            return None;
        }

        // Path: the source, then onward movement from a destination it reached (a chain), or
        // the destinations in order of first contact.
        let mut order: Vec<(Timestamp, IpAddr)> = dests.iter().filter_map(|(ip, d)| d.first.map(|f| (f, *ip))).collect();
        order.sort();
        let mut path = vec![src];
        let mut cur = src;
        let mut since = edges.first().map(|e| e.ts).unwrap_or_default();
        while path.len() < 6 {
            let next = self.by_src.get(&cur).and_then(|v| {
                // Bounded: the first few hundred sessions after `since` are enough to find
                // the hop; a host with thousands is fan-out, reported as such.
                let start = v.partition_point(|e| e.ts < since);
                v.get(start..).unwrap_or(&[]).iter().take(500).find(|e| {
                    e.ok && !path.contains(&e.dst)
                        && self.by_src.get(&e.dst).is_some_and(|n| {
                            let i = n.partition_point(|x| x.ts < e.ts);
                            n.get(i..).unwrap_or(&[]).iter().take_while(|x| x.ts.since(e.ts) <= 3600.0).any(|x| x.ok)
                        })
                })
            });
            match next {
                Some(e) => {
                    path.push(e.dst);
                    cur = e.dst;
                    since = e.ts;
                }
                None => break,
            }
        }
        if path.len() > 1 {
            // Close the chain with the last host's first onward destination.
            if let Some(e) = self.by_src.get(&cur).and_then(|v| v.iter().find(|e| e.ok && e.ts >= since && !path.contains(&e.dst))) {
                path.push(e.dst);
            }
        } else {
            path.extend(order.iter().map(|(_, ip)| *ip).take(20));
        }

        let first = edges.first()?.ts;
        let last = edges.iter().map(|e| e.end).max()?;
        let mut attack: Vec<String> = services.iter().map(|s| s.attack().to_string()).collect();
        if !psexec.is_empty() {
            attack.push("T1569.002".into());
            attack.push("T1570".into());
        } else if !uploads.is_empty() {
            attack.push("T1570".into());
        }
        for k in &exec_kinds {
            attack.extend(k.attack().iter().map(|a| a.to_string()));
        }
        if ok_dests > 0 {
            attack.push("T1078".into());
        }
        if !callbacks.is_empty() {
            // Remote execution that started a program calling home.
            attack.push(if services.contains(&AdminService::Smb) || rpc_dcom { "T1569.002" } else { "T1059" }.into());
        }
        if failed_dests >= 3 {
            attack.push("T1046".into());
        }
        let svc_names: Vec<&str> = services.iter().map(|s| s.as_str()).collect();
        let summary = format!(
            "{} ({}) used {} against {} internal host{} ({} reached, {} refused){}{}",
            host_label(src, ctx),
            zone_label(src, ctx),
            svc_names.join("/"),
            fanout,
            if fanout == 1 { "" } else { "s" },
            ok_dests,
            failed_dests,
            if exec_kinds.contains(&ExecKind::DcSync) {
                ", requesting directory replication (DCSync)"
            } else if exec_kinds.contains(&ExecKind::ServiceCreated) {
                ", creating a remote service"
            } else if exec_kinds.contains(&ExecKind::AtJob) || exec_kinds.contains(&ExecKind::ScheduledTask) {
                ", scheduling a remote task"
            } else if exec_kinds.contains(&ExecKind::WmiExec) {
                ", executing through WMI"
            } else if exec_kinds.contains(&ExecKind::AdminShareExecutable) {
                ", copying an executable to an administrative share"
            } else if exec_kinds.contains(&ExecKind::RegistryHiveSave) {
                ", saving registry hives remotely"
            } else if !psexec.is_empty() {
                ", copying a file and starting a remote service"
            } else if !callbacks.is_empty() {
                ", and a target connected back to it"
            } else {
                ""
            },
            if off_hours { ", mostly outside work hours" } else { "" }
        );
        let dst: Vec<String> = order.iter().take(50).map(|(_, ip)| host_label(*ip, ctx)).collect();
        let per_dest: Vec<_> = dests
            .iter()
            .take(50)
            .map(|(ip, d)| {
                json!({"host": ip.to_string(), "zone": zone_label(*ip, ctx), "services": d.services.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                       "ports": d.ports, "ok": d.ok, "failed": d.failed, "smb_upload_bytes": d.upload, "psexec_pattern": d.psexec || d.dce_rpc_on_smb,
                       "routine": routine.contains(ip)})
            })
            .collect();
        Some(Finding {
            id: Finding::stable_id(FindingKind::LateralMovement, &[&src.to_string()]),
            kind: FindingKind::LateralMovement,
            severity: Severity::from_score(score),
            score,
            src: src.to_string(),
            dst,
            path: path.iter().map(|p| p.to_string()).collect(),
            first_seen: first.to_offset(ctx.offset_at(first)),
            last_seen: last.to_offset(ctx.offset_at(last)),
            attack: attack_ids(attack),
            summary,
            evidence: json!({
                "fanout": fanout,
                "unusual_fanout": unusual_fanout,
                "remote_execution": exec.iter().map(|(ip, v)| json!({
                    "host": ip.to_string(),
                    "signals": v.iter().map(|s| json!({"kind": s.kind.as_str(), "detail": s.detail, "attack": s.kind.attack(), "start": s.ts.to_offset(ctx.offset_at(s.ts)).to_rfc3339()})).collect::<Vec<_>>(),
                    "admin_share_bytes_written": self.exec.get(&(src, *ip)).map_or(0, |p| p.admin_share_bytes),
                })).collect::<Vec<_>>(),
                "reached": ok_dests,
                "failed_hosts": failed_dests,
                "sessions": edges.len(),
                "services": svc_names,
                "new_edge_ratio": if judged > 0 { Some(r3(new_ratio)) } else { None },
                "psexec_targets": psexec.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                "callbacks": callbacks.iter().map(|(ip, c)| json!({"from": ip.to_string(), "port": c.port, "start": c.ts.to_offset(ctx.offset_at(c.ts)).to_rfc3339(), "bytes_sent_back": c.bytes_to_admin})).collect::<Vec<_>>(),
                "smb_upload_targets": uploads.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                "critical_targets": critical_targets,
                "source_zone": zone_label(src, ctx),
                "unusual_source": unusual,
                "admin_source": admin_src,
                "periodic_targets": periodic,
                "backup_like": backup_like,
                "off_hours_sessions": off_n,
                "destinations": per_dest,
                "reasons": why,
            }),
        })
    }
}

fn ramp(x: f64, lo: f64, hi: f64) -> f64 {
    if x <= lo {
        0.0
    } else if x >= hi {
        1.0
    } else {
        (x - lo) / (hi - lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::testutil::*;

    fn site() -> Context {
        ctx_from(
            r#"[site]
internal = ["10.0.0.0/8"]
timezone = "Asia/Shanghai"
[[site.zone]]
name = "office"
networks = ["10.2.0.0/16"]
[[site.zone]]
name = "test-lab"
networks = ["10.7.0.0/16"]
[[site.zone]]
name = "core"
networks = ["10.3.0.0/16"]
critical = true
[allow]
admin_sources = ["10.2.9.9"]
"#,
        )
    }

    fn run(ctx: &Context, conns: &[Conn]) -> Vec<Finding> {
        let mut d = LateralDetector::default();
        for c in conns {
            d.observe(c, ctx);
        }
        d.finish(ctx)
    }

    #[test]
    fn psexec_sweep_from_a_workstation_at_night_is_high() {
        let ctx = site();
        let mut conns = Vec::new();
        let t = NIGHT;
        for i in 0..8 {
            let dst = format!("10.3.0.{}", 10 + i);
            if i % 3 == 2 {
                conns.push(failed_tcp(t + i * 5, "10.2.0.44", &dst, 445));
                continue;
            }
            let mut smb = tcp(t + i * 5, "10.2.0.44", &dst, 445, 4.0);
            smb.orig_bytes = Some(350_000); // the service binary
            conns.push(smb);
            conns.push(tcp(t + i * 5 + 2, "10.2.0.44", &dst, 135, 0.5));
            conns.push(tcp(t + i * 5 + 3, "10.2.0.44", &dst, 49_700, 1.0));
        }
        let f = run(&ctx, &conns);
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!(f.src, "10.2.0.44");
        assert!(f.score >= 0.75, "{}", f.score);
        assert_eq!(f.evidence["fanout"], 8);
        assert_eq!(f.evidence["failed_hosts"], 2);
        assert_eq!(f.evidence["psexec_targets"].as_array().unwrap().len(), 6);
        for id in ["T1021.002", "T1021.003", "T1569.002", "T1570"] {
            assert!(f.attack.contains(&id.to_string()), "{id} in {:?}", f.attack);
        }
        assert_eq!(f.path[0], "10.2.0.44");
    }

    #[test]
    fn a_target_calling_back_after_smb_is_reported() {
        let ctx = site();
        // PsExec-style: SMB into the target, which then connects back to the attacker's
        // listener on 4444 and pulls a payload.
        let mut back = tcp(NIGHT + 3, "10.2.0.31", "10.2.0.50", 4444, 120.0);
        back.resp_bytes = Some(400_000);
        let conns = vec![tcp(NIGHT, "10.2.0.50", "10.2.0.31", 445, 5.0), back.clone()];
        let f = run(&ctx, &conns);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].src, "10.2.0.50");
        assert!(f[0].severity >= Severity::Medium, "{}", f[0].score);
        assert_eq!(f[0].evidence["callbacks"][0]["port"], 4444);
        assert!(f[0].attack.contains(&"T1569.002".to_string()));
        // A session back to the administrator's file share or DNS is not a callback; nor is
        // one long after.
        let mut dns = back.clone();
        dns.resp_p = 445;
        let mut late = back;
        late.ts = vigil_model::Timestamp::from_secs(NIGHT + 3600);
        for other in [dns, late] {
            assert!(run(&ctx, &[tcp(NIGHT, "10.2.0.50", "10.2.0.31", 445, 5.0), other]).is_empty());
        }
    }

    #[test]
    fn dce_rpc_on_smb_is_remote_execution_whatever_the_order_zeek_lists_them() {
        let ctx = site();
        // One SMB session (Zeek-imported) that uploaded a service binary and carried DCE-RPC:
        // PsExec even with a single target.
        for svc in ["smb,dce_rpc", "dce_rpc,smb", "gssapi,dce_rpc,ntlm,smb"] {
            let mut c = tcp(NIGHT, "10.2.0.44", "10.2.0.77", 445, 6.0);
            c.service = Some(svc.into());
            c.orig_bytes = Some(180_000);
            let f = run(&ctx, &[c]);
            assert_eq!(f.len(), 1, "{svc}: {f:#?}");
            assert_eq!(f[0].evidence["psexec_targets"], serde_json::json!(["10.2.0.77"]), "{svc}");
            assert!(f[0].severity >= Severity::Medium, "{svc}: {}", f[0].score);
        }
        // The same session with only SMB named: a file saved to a share, not reported.
        let mut c = tcp(NIGHT, "10.2.0.44", "10.2.0.77", 445, 6.0);
        c.service = Some("smb".into());
        c.orig_bytes = Some(180_000);
        assert!(run(&ctx, &[c]).iter().all(|f| f.severity < Severity::Medium));
    }

    #[test]
    fn a_chain_of_hops_is_reported_in_order() {
        let ctx = site();
        let t = NIGHT;
        let conns = vec![
            tcp(t, "10.2.0.5", "10.2.0.6", 3389, 600.0),
            tcp(t + 120, "10.2.0.6", "10.2.0.7", 5985, 60.0),
            tcp(t + 200, "10.2.0.7", "10.3.0.1", 22, 60.0),
            tcp(t + 10, "10.2.0.5", "10.2.0.8", 3389, 10.0),
            tcp(t + 20, "10.2.0.5", "10.2.0.9", 3389, 10.0),
        ];
        let f = run(&ctx, &conns);
        let f = f.iter().find(|f| f.src == "10.2.0.5").expect("finding for the first host");
        assert_eq!(f.path, vec!["10.2.0.5", "10.2.0.6", "10.2.0.7", "10.3.0.1"]);
    }

    #[test]
    fn a_test_device_reaching_the_core_is_reported_even_alone() {
        let ctx = site();
        let f = run(&ctx, &[tcp(NIGHT, "10.7.0.3", "10.3.0.5", 1433, 30.0)]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].evidence["unusual_source"], true);
        // The same single session from an office host is not lateral movement.
        assert!(run(&ctx, &[tcp(NIGHT, "10.2.0.3", "10.3.0.5", 1433, 30.0)]).is_empty());
    }

    #[test]
    fn backup_server_fan_out_at_night_stays_below_medium() {
        let ctx = site();
        let mut conns = Vec::new();
        for i in 0..25 {
            let mut c = tcp(NIGHT + i * 300, "10.3.0.200", &format!("10.2.1.{}", i + 1), 445, 240.0);
            c.resp_bytes = Some(80_000_000);
            conns.push(c);
        }
        let f = run(&ctx, &conns);
        assert!(f.iter().all(|f| f.severity < Severity::Medium), "{f:#?}");
    }

    #[test]
    fn monitoring_polls_stay_below_medium() {
        let ctx = site();
        let mut conns = Vec::new();
        for round in 0..12 {
            for h in 0..15 {
                conns.push(tcp(NIGHT + round * 300 + h, "10.3.0.250", &format!("10.2.2.{}", h + 1), 135, 0.2));
                conns.push(tcp(NIGHT + round * 300 + h + 1, "10.3.0.250", &format!("10.2.2.{}", h + 1), 22, 0.5));
            }
        }
        let f = run(&ctx, &conns);
        assert!(f.iter().all(|f| f.severity < Severity::Medium), "{f:#?}");
    }

    #[test]
    fn admin_workstation_in_work_hours_stays_below_medium() {
        let ctx = site();
        let conns: Vec<Conn> = (0..6).map(|i| tcp(WORK + i * 600, "10.2.9.9", &format!("10.3.0.{}", i + 1), 3389, 500.0)).collect();
        let f = run(&ctx, &conns);
        assert!(f.iter().all(|f| f.severity < Severity::Medium), "{f:#?}");
        // The same fan-out from an ordinary office host at night is reported at medium or more.
        let conns: Vec<Conn> = (0..6).map(|i| tcp(NIGHT + i * 60, "10.2.0.77", &format!("10.3.0.{}", i + 1), 3389, 500.0)).collect();
        let f = run(&ctx, &conns);
        assert!(f.iter().any(|f| f.severity >= Severity::Medium), "{f:#?}");
    }

    #[test]
    fn cmdb_admin_workstations_and_steady_app_to_database_queries_stay_below_medium() {
        assert!(
            cmdb_admin_role(Some("admin-workstation"))
                && cmdb_admin_role(Some("Jump Host"))
                && !cmdb_admin_role(Some("administrative assistant"))
        );
        let ctx = site();
        let (rows, _) = vigil_enrich::inventory::read_cmdb_csv(
            "ip,name,owner,role,environment,decommission,privileged\n10.2.0.50,adm-ws01,it-ops,admin-workstation,production,,true\n"
                .as_bytes(),
            std::path::Path::new("cmdb.csv"),
        )
        .unwrap();
        let mut inv = vigil_enrich::Inventory::for_site(&ctx.site);
        inv.import_cmdb(rows);
        let ctx = ctx.with_inventory(inv);
        let conns: Vec<Conn> = (0..10).map(|i| tcp(WORK + i * 600, "10.2.0.50", &format!("10.3.0.{}", i + 1), 22, 300.0)).collect();
        let f = run(&ctx, &conns);
        assert!(f.iter().all(|f| f.severity < Severity::Medium), "{f:#?}");
        // A lab application server querying one critical database every hour,
        // day and night.
        let conns: Vec<Conn> = (0..72).map(|i| tcp(NIGHT + i * 3600, "10.7.0.31", "10.3.0.1", 5432, 2.0)).collect();
        let f = run(&ctx, &conns);
        assert!(f.iter().all(|f| f.severity < Severity::Medium), "{f:#?}");
    }

    fn smb_session(t: i64, o: &str, r: &str, share: &str, files: &[(&str, u64)], calls: &[(&str, u16)]) -> Conn {
        use vigil_model::{DceRpcCall, DceRpcMeta, SmbFile, SmbMeta, SmbTree};
        let mut c = tcp(t, o, r, 445, 5.0);
        c.service = Some(if calls.is_empty() { "smb" } else { "smb,dce_rpc" }.into());
        let tree = format!("\\\\{r}\\{share}");
        c.app.smb = Some(Box::new(SmbMeta {
            version: 2,
            trees: vec![SmbTree { path: tree.clone(), share_type: Some("disk".into()), ok: Some(true) }],
            files: files
                .iter()
                .map(|(n, w)| SmbFile {
                    tree: Some(tree.clone()),
                    name: n.to_string(),
                    action: Some("created".into()),
                    bytes_written: *w,
                    opens: 1,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }));
        if !calls.is_empty() {
            c.app.dce_rpc = Some(Box::new(DceRpcMeta {
                calls: calls
                    .iter()
                    .map(|(i, op)| DceRpcCall {
                        interface: i.to_string(),
                        opnum: *op,
                        named_pipe: Some(i.to_string()),
                        count: 1,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }));
        }
        c
    }

    #[test]
    fn remote_execution_inside_one_session_is_reported() {
        let ctx = site();
        for (what, c, attack) in [
            ("tool copied to C$", smb_session(WORK, "10.2.0.31", "10.2.0.30", "C$", &[("temp\\mimikatz.exe", 804_352)], &[]), "T1570"),
            (
                "service created",
                smb_session(WORK, "10.2.0.31", "10.2.0.30", "IPC$", &[], &[("svcctl", 15), ("svcctl", 12), ("svcctl", 19)]),
                "T1569.002",
            ),
            ("AT job", smb_session(WORK, "10.2.0.31", "10.2.0.30", "IPC$", &[], &[("atsvc", 0)]), "T1053.002"),
            ("scheduled task", smb_session(WORK, "10.2.0.31", "10.2.0.30", "IPC$", &[], &[("ITaskSchedulerService", 1)]), "T1053.005"),
            ("WMI", smb_session(WORK, "10.2.0.31", "10.2.0.30", "IPC$", &[], &[("IWbemServices", 24)]), "T1047"),
            ("DCSync", smb_session(WORK, "10.2.0.31", "10.3.0.10", "IPC$", &[], &[("drsuapi", 0), ("drsuapi", 3)]), "T1003.006"),
        ] {
            let f = run(&ctx, &[c]);
            assert_eq!(f.len(), 1, "{what}: {f:#?}");
            assert!(f[0].severity >= Severity::Medium, "{what}: {}", f[0].score);
            assert!(f[0].attack.contains(&attack.to_string()), "{what}: {:?}", f[0].attack);
            assert!(!f[0].evidence["remote_execution"][0]["signals"].as_array().unwrap().is_empty(), "{what}");
        }
        // Replication from a domain controller (it answers Kerberos) is not DCSync.
        let mut kdc = tcp(WORK - 60, "10.2.0.50", "10.3.0.11", 88, 0.1);
        kdc.resp_bytes = Some(1_500);
        let f = run(
            &ctx,
            &[
                tcp(WORK - 120, "10.2.0.70", "10.3.0.11", 88, 0.1),
                smb_session(WORK, "10.3.0.11", "10.3.0.10", "IPC$", &[], &[("drsuapi", 3)]),
                kdc,
            ],
        );
        assert!(f.iter().all(|f| f.severity < Severity::Medium), "{f:#?}");
    }

    #[test]
    fn share_browsing_and_user_share_files_stay_quiet() {
        let ctx = site();
        let conns = vec![
            smb_session(WORK, "10.2.0.31", "10.2.0.30", "IPC$", &[], &[("srvsvc", 15), ("srvsvc", 16), ("samr", 64), ("lsarpc", 44)]),
            smb_session(WORK + 60, "10.2.0.31", "10.2.0.30", "Projects", &[("setup.exe", 2_000_000), ("report.docx", 300_000)], &[]),
            // A document (not a program) on C$: a weak sign, not remote execution.
            smb_session(WORK + 90, "10.2.0.31", "10.2.0.30", "C$", &[("notes.txt", 2_000)], &[]),
        ];
        let f = run(&ctx, &conns);
        assert!(f.iter().all(|f| f.severity < Severity::Medium), "{f:#?}");
        // An admin source pushing a service binary (software deployment) stays below medium.
        let f = run(&ctx, &[smb_session(WORK, "10.2.9.9", "10.2.0.30", "ADMIN$", &[("ccmsetup.exe", 5_000_000)], &[("svcctl", 12)])]);
        assert!(f.iter().all(|f| f.severity < Severity::Medium), "{f:#?}");
    }

    #[test]
    fn servers_the_peers_use_are_not_fan_out() {
        let ctx = site();
        // Thirty office hosts each use the same six file/database servers, at night too, with
        // an occasional refusal: no finding.
        let mut conns = Vec::new();
        for h in 0..30 {
            for s in 0..6 {
                let src = format!("10.2.1.{}", h + 1);
                let dst = format!("10.3.0.{}", s + 1);
                let t = NIGHT + h * 97 + s * 13;
                conns.push(if (h + s) % 17 == 0 {
                    failed_tcp(t, &src, &dst, 445)
                } else {
                    tcp(t, &src, &dst, [445, 135, 1433][s as usize % 3], 20.0)
                });
            }
        }
        let quiet = run(&ctx, &conns);
        assert!(quiet.is_empty(), "{quiet:#?}");
        // One of them sweeping those servers and ten workstations nobody else reaches, mostly
        // refused, is reported.
        for k in 0..10 {
            conns.push(failed_tcp(NIGHT + 5_000 + k, "10.2.1.7", &format!("10.2.5.{}", k + 1), 445));
        }
        for s in 0..6 {
            conns.push(failed_tcp(NIGHT + 5_100 + s, "10.2.1.7", &format!("10.3.0.{}", s + 1), 5985));
        }
        let f = run(&ctx, &conns);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].src, "10.2.1.7");
        assert!(f[0].severity >= Severity::Medium, "{}", f[0].score);
    }

    #[test]
    fn known_edges_lower_the_score() {
        let conns: Vec<Conn> = (0..5).map(|i| tcp(NIGHT + i * 60, "10.2.0.77", &format!("10.3.0.{}", i + 1), 22, 50.0)).collect();
        let mut hist = vigil_enrich::EdgeHistory::default();
        for i in 0..5 {
            hist.record(ip("10.2.0.77"), ip(&format!("10.3.0.{}", i + 1)), 22, vigil_model::Timestamp::from_secs(NIGHT - 86_400 * 7));
        }
        let known = run(&site().with_history(hist), &conns);
        let unjudged = run(&site(), &conns);
        let ks = known.first().map_or(0.0, |f| f.score);
        assert!(ks < unjudged[0].score, "{ks} vs {}", unjudged[0].score);
    }
}
