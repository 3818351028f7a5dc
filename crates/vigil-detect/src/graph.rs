//! Helpers shared by the movement detectors (springboard, lateral movement, dormant and
//! unmanaged devices): which sessions are administration, whether a session succeeded, and a
//! compact, bounded record of host-to-host edges that the detectors build chains from.

use foldhash::HashMap;
use std::net::IpAddr;
use vigil_enrich::Context;
use vigil_model::{Conn, ConnState, PROTO_TCP, Timestamp};

/// The administration and data-access protocols the movement detectors follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdminService {
    Ssh,
    Telnet,
    Rdp,
    Smb,
    /// MS-RPC endpoint mapper (135) and the DCOM/RPC dynamic ports it hands out.
    Rpc,
    WinRm,
    Vnc,
    Database,
    /// A port the site declared as administrative.
    SiteAdmin,
}

impl AdminService {
    pub fn as_str(self) -> &'static str {
        match self {
            AdminService::Ssh => "ssh",
            AdminService::Telnet => "telnet",
            AdminService::Rdp => "rdp",
            AdminService::Smb => "smb",
            AdminService::Rpc => "rpc",
            AdminService::WinRm => "winrm",
            AdminService::Vnc => "vnc",
            AdminService::Database => "database",
            AdminService::SiteAdmin => "site-admin",
        }
    }

    /// The MITRE ATT&CK technique for remote use of this service.
    pub fn attack(self) -> &'static str {
        match self {
            AdminService::Rdp => "T1021.001",
            AdminService::Smb => "T1021.002",
            AdminService::Rpc => "T1021.003",
            AdminService::Ssh => "T1021.004",
            AdminService::Vnc => "T1021.005",
            AdminService::WinRm => "T1021.006",
            AdminService::Telnet | AdminService::SiteAdmin => "T1021",
            // Data from an information repository.
            AdminService::Database => "T1213",
        }
    }

    /// Interactive control of the remote host (rather than data access).
    pub fn is_control(self) -> bool {
        !matches!(self, AdminService::Database)
    }
}

/// The admin service a TCP session uses, judged by the application protocol detected where
/// there is one (SSH on port 443 is still SSH) and by the responder port otherwise.
pub fn admin_service(c: &Conn, ctx: &Context) -> Option<AdminService> {
    if c.proto != PROTO_TCP {
        return None;
    }
    if c.app.ssh.is_some() {
        return Some(AdminService::Ssh);
    }
    if let Some(s) = c.service.as_deref() {
        // Zeek lists analysers in the order they confirmed ("dce_rpc,smb" as often as
        // "smb,dce_rpc"): SMB carrying DCE-RPC is an SMB session (the PsExec pattern looks for
        // DCE-RPC on SMB), so the order of precedence is fixed here, not taken from the list.
        // One pass over the first 8 names, without collecting them (this runs per record):
        // the best-ranked protocol named wins.
        let rank = |p: &str| match p {
            "ssh" => Some((0, AdminService::Ssh)),
            "rdp" => Some((1, AdminService::Rdp)),
            "smb" | "smb2" | "smb3" => Some((2, AdminService::Smb)),
            "dce_rpc" | "dcerpc" => Some((3, AdminService::Rpc)),
            "vnc" | "rfb" => Some((4, AdminService::Vnc)),
            "telnet" => Some((5, AdminService::Telnet)),
            _ => None,
        };
        // One name (nearly every record: "ssl", "dns", "http") needs no list walk.
        let best =
            if s.contains(',') { s.split(',').map(str::trim).take(8).filter_map(rank).min_by_key(|(r, _)| *r) } else { rank(s.trim()) };
        if let Some((_, svc)) = best {
            return Some(svc);
        }
    }
    match c.resp_p {
        22 => Some(AdminService::Ssh),
        23 => Some(AdminService::Telnet),
        3389 => Some(AdminService::Rdp),
        445 | 139 => Some(AdminService::Smb),
        135 => Some(AdminService::Rpc),
        5985 | 5986 => Some(AdminService::WinRm),
        5900..=5903 => Some(AdminService::Vnc),
        1433 | 3306 | 5432 | 1521 | 27017 | 6379 => Some(AdminService::Database),
        p if ctx.site.admin_ports.contains(&p) => Some(AdminService::SiteAdmin),
        _ => None,
    }
}

/// The session reached the application: a handshake completed and data or a clean close
/// followed. Flow sources without TCP state count when both sides sent packets.
pub fn succeeded(c: &Conn) -> bool {
    match c.conn_state {
        ConnState::S1 | ConnState::SF | ConnState::S2 | ConnState::S3 | ConnState::RSTO => true,
        // A reset by the responder after data is a session; straight after the handshake it
        // is a refusal at the application level.
        ConnState::RSTR => c.resp_bytes() > 0 && c.orig_bytes() > 0,
        ConnState::OTH => c.history.is_empty() && c.orig_pkts > 0 && c.resp_pkts > 0 && c.resp_bytes() > 0,
        _ => false,
    }
}

/// The attempt failed: refused, unanswered or reset before any exchange.
pub fn failed(c: &Conn) -> bool {
    match c.conn_state {
        ConnState::REJ | ConnState::S0 | ConnState::RSTOS0 | ConnState::SH => true,
        ConnState::RSTR => !(c.resp_bytes() > 0 && c.orig_bytes() > 0),
        _ => false,
    }
}

/// One host-to-host session, reduced to what chain building needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Edge {
    pub ts: Timestamp,
    pub end: Timestamp,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub port: u16,
    pub service: Option<AdminService>,
    pub ok: bool,
    pub failed: bool,
    pub orig_bytes: u64,
    pub resp_bytes: u64,
    /// Zeek's service field, truncated (for evidence).
    pub app: Option<String>,
}

impl Edge {
    pub fn from_conn(c: &Conn, ctx: &Context) -> Edge {
        Edge::with(c, admin_service(c, ctx), succeeded(c))
    }

    /// [`Edge::from_conn`] with the front end's answers.
    pub fn from_rec(r: &crate::front::Rec<'_>) -> Edge {
        Edge::with(r.conn, r.admin, r.ok)
    }

    fn with(c: &Conn, service: Option<AdminService>, ok: bool) -> Edge {
        Edge {
            ts: c.ts,
            end: c.end(),
            src: c.orig_h,
            dst: c.resp_h,
            port: c.resp_p,
            service,
            ok,
            failed: failed(c),
            orig_bytes: c.orig_bytes(),
            resp_bytes: c.resp_bytes(),
            app: c.service.as_deref().map(|s| s.chars().take(32).collect()),
        }
    }
}

/// Renders a host for findings: the address, with the inventory's name when it has one.
pub fn host_label(ip: IpAddr, ctx: &Context) -> String {
    match ctx.asset(ip).and_then(|a| a.name()) {
        Some(n) => format!("{ip} ({n})"),
        None => ip.to_string(),
    }
}

/// The zone name of an address for evidence: its zone, "internal" or "external".
pub fn zone_label(ip: IpAddr, ctx: &Context) -> String {
    match ctx.zone(ip) {
        Some(z) => z.name.clone(),
        None if ctx.is_internal(ip) => "internal".into(),
        None => "external".into(),
    }
}

/// How often an edge recurs inside the window: number of sessions and distinct hours, which
/// tells routine (a service calling its database all day) from a one-off.
#[derive(Default)]
pub struct Recurrence {
    map: HashMap<(IpAddr, IpAddr, u16), (u32, Vec<i64>)>,
}

impl Recurrence {
    pub fn add(&mut self, e: &Edge) {
        let v = self.map.entry((e.src, e.dst, e.port)).or_default();
        v.0 = v.0.saturating_add(1);
        let hour = e.ts.secs().div_euclid(3600);
        if !v.1.contains(&hour) && v.1.len() < 1000 {
            v.1.push(hour);
        }
    }

    /// (sessions, distinct hours) of an edge.
    pub fn get(&self, src: IpAddr, dst: IpAddr, port: u16) -> (u32, usize) {
        self.map.get(&(src, dst, port)).map(|(n, h)| (*n, h.len())).unwrap_or((0, 0))
    }
}

/// Whether history knows the edge. None when there is no history to judge by.
pub fn edge_known(ctx: &Context, src: IpAddr, dst: IpAddr, port: u16) -> Option<bool> {
    if ctx.history.is_empty() {
        return None;
    }
    Some(ctx.history.get(src, dst, port).is_some() || ctx.history.knows_pair(src, dst))
}

/// Sorted, de-duplicated ATT&CK ids.
pub fn attack_ids(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids.dedup();
    ids
}

/// Rounds a score or ratio for evidence.
pub fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Builders for the detectors' unit tests: a site from TOML, sessions in one line.
#[cfg(test)]
pub mod testutil {
    use std::net::IpAddr;
    use vigil_enrich::{Context, Site};
    use vigil_model::{Conn, ConnState, PROTO_TCP, Timestamp};

    /// Monday 2024-01-01 10:00 in Asia/Shanghai (02:00 UTC): work hours.
    pub const WORK: i64 = 1_704_074_400;
    /// Tuesday 2024-01-02 03:00 in Asia/Shanghai (Monday 19:00 UTC): off hours.
    pub const NIGHT: i64 = 1_704_135_600;

    pub fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    pub fn ctx_from(toml: &str) -> Context {
        Context::new(Site::parse(toml, std::path::Path::new("site.toml")).expect("test site"))
    }

    /// A completed TCP session with a little data each way.
    pub fn tcp(t: i64, o: &str, r: &str, port: u16, dur: f64) -> Conn {
        let mut c = Conn::new(Timestamp::from_secs(t), ip(o), 40000 + (t.rem_euclid(20000)) as u16, ip(r), port, PROTO_TCP);
        c.conn_state = ConnState::SF;
        c.history = "ShADadFf".into();
        c.duration = Some(dur);
        c.orig_bytes = Some(2_000);
        c.resp_bytes = Some(5_000);
        c.orig_pkts = 10;
        c.resp_pkts = 10;
        c
    }

    /// A refused attempt.
    pub fn failed_tcp(t: i64, o: &str, r: &str, port: u16) -> Conn {
        let mut c = tcp(t, o, r, port, 0.0);
        c.conn_state = ConnState::REJ;
        c.history = "Sr".into();
        c.orig_bytes = Some(0);
        c.resp_bytes = Some(0);
        c.resp_pkts = 1;
        c.orig_pkts = 1;
        c
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{ctx_from, tcp};
    use super::*;

    #[test]
    fn admin_service_ranks_zeek_service_lists_then_falls_back_to_the_port() {
        let ctx = ctx_from("[site]\ninternal=[\"10.0.0.0/8\"]\nadmin_ports=[8443]\n");
        let svc = |service: Option<&str>, port: u16| {
            let mut c = tcp(0, "10.0.0.1", "10.0.0.2", port, 1.0);
            c.service = service.map(str::to_string);
            admin_service(&c, &ctx)
        };
        use AdminService::*;
        // One name: the name decides, else the port.
        assert_eq!(svc(Some("ssh"), 2222), Some(Ssh));
        assert_eq!(svc(Some(" rdp "), 50000), Some(Rdp));
        assert_eq!(svc(Some("ssl"), 443), None);
        assert_eq!(svc(Some("ssl"), 3389), Some(Rdp));
        assert_eq!(svc(Some("smb3"), 1), Some(Smb));
        assert_eq!(svc(None, 22), Some(Ssh));
        assert_eq!(svc(Some(""), 5986), Some(WinRm));
        assert_eq!(svc(None, 8443), Some(SiteAdmin));
        // Lists: the best-ranked name wins whatever the order Zeek confirmed them in.
        assert_eq!(svc(Some("dce_rpc,smb"), 1), Some(Smb));
        assert_eq!(svc(Some("smb,dce_rpc"), 1), Some(Smb));
        assert_eq!(svc(Some("ssl, rdp"), 443), Some(Rdp));
        assert_eq!(svc(Some("vnc,telnet,dcerpc"), 1), Some(Rpc));
        assert_eq!(svc(Some("ssl,http"), 22), Some(Ssh));
        // Only the first eight names are read.
        assert_eq!(svc(Some("a,b,c,d,e,f,g,h,ssh"), 80), None);
        assert_eq!(svc(Some("a,b,c,d,e,f,g,ssh"), 80), Some(Ssh));
        // Not TCP: never an admin session.
        let mut u = tcp(0, "10.0.0.1", "10.0.0.2", 22, 1.0);
        u.proto = 17;
        assert_eq!(admin_service(&u, &ctx), None);
    }
}
