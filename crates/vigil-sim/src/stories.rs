//! The espionage storylines. Each draws its variant (hosts, periods, hours, volumes, countries)
//! from the seed, plants its conversations, and records what a detector should report.

use crate::apps::{dns, tls::ClientProfile};
use crate::background::Quiet;
use crate::geo;
use crate::planner::{Planner, US};
use crate::spec::{App, Flow, Prelude};
use crate::tcp::Outcome;
use crate::wire::Endpoint;
use crate::world::{Role, Zone};
use rand::Rng;
use rand::seq::SliceRandom;
use std::net::Ipv4Addr;
use vigil_model::FindingKind;

/// A truth item before its times are known (they come from the rendered packets).
#[derive(Clone, Debug)]
pub struct Draft {
    pub storyline: &'static str,
    pub kind: FindingKind,
    pub key_host: String,
    pub dst: Vec<String>,
    pub path: Vec<String>,
    pub description: String,
}

/// All storyline names, in planting order.
pub const STORYLINES: [&str; 10] = [
    "beacon",
    "inbound_scan",
    "springboard",
    "exfiltration",
    "dormant_device",
    "lateral_movement",
    "dns_tunnel",
    "foreign_admin_access",
    "unmanaged_device",
    "dga",
];

struct Stage<'p, 'a> {
    p: &'p mut Planner<'a>,
    drafts: Vec<Draft>,
    quiet: Quiet,
    /// Workstations not yet given a role in a storyline.
    spare_ws: Vec<usize>,
}

impl Stage<'_, '_> {
    /// Registers truth items and makes the following pushes carry their tag.
    fn begin(&mut self, items: Vec<Draft>) {
        let mut tag = 0u32;
        for d in items {
            tag |= 1 << self.drafts.len();
            self.drafts.push(d);
        }
        self.p.tag = tag;
    }
    fn end(&mut self) {
        self.p.tag = 0;
    }
    fn take_ws(&mut self) -> usize {
        self.spare_ws.pop().unwrap_or(0)
    }
    fn ip(&self, h: usize) -> String {
        self.p.host(h).ip.to_string()
    }
}

fn c2_name(p: &mut Planner<'_>) -> String {
    let a = ["update", "cdn", "static", "api", "sync", "telemetry", "img", "assets"];
    let b = ["msoft", "officecloud", "edgesvc", "secure-dl", "cloudfront-cache", "winsvc", "netcheck"];
    let tld = ["com", "net", "org", "info", "top", "xyz"];
    format!(
        "{}.{}{}.{}",
        a[p.rng.gen_range(0..a.len())],
        b[p.rng.gen_range(0..b.len())],
        p.rng.gen_range(2..99),
        tld[p.rng.gen_range(0..tld.len())]
    )
}

fn hostile(p: &mut Planner<'_>) -> &'static str {
    geo::HOSTILE_COUNTRIES[p.rng.gen_range(0..geo::HOSTILE_COUNTRIES.len())]
}

fn ext_at(ip: Ipv4Addr, cc: &'static str, name: &str, p: &mut Planner<'_>) -> crate::world::Ext {
    crate::world::Ext {
        ip,
        name: name.to_string(),
        country: cc,
        tls13: false,
        issuer: ("R11", "Let's Encrypt"),
        rtt_us: crate::world::rtt_for(cc, &mut p.rng),
    }
}

/// Plants every storyline that fits in the capture's length; returns the truth drafts, the
/// per-spec tags are in the planner.
pub fn plan(p: &mut Planner<'_>) -> (Vec<Draft>, Quiet) {
    let mut spare_ws = p.site.workstations();
    spare_ws.shuffle(&mut p.rng);
    let mut st = Stage { p, drafts: Vec::new(), quiet: Quiet::default(), spare_ws };
    let mut tests = st.p.site.by_role(Role::TestDevice);
    tests.shuffle(&mut st.p.rng);
    // Two distinct test devices: the forgotten (decommissioned) one and the springboard.
    let unmanaged_test = tests[0];
    let spring_test = tests[1];
    st.quiet.idle.insert(unmanaged_test);
    st.quiet.idle.insert(spring_test);

    beacon(&mut st);
    inbound_scan(&mut st);
    springboard(&mut st, spring_test);
    exfiltration(&mut st);
    dormant(&mut st);
    lateral(&mut st);
    dns_tunnel(&mut st);
    foreign_admin(&mut st);
    unmanaged(&mut st, unmanaged_test);
    // On its own random stream (the main one's state, another stream): planting it left the
    // other storylines and the background traffic of every seed as they were.
    let mut own = st.p.rng.clone();
    own.set_stream(9);
    let main = std::mem::replace(&mut st.p.rng, own);
    dga(&mut st);
    st.p.rng = main;
    (st.drafts, st.quiet)
}

fn beacon(st: &mut Stage<'_, '_>) {
    let p = &mut *st.p;
    let cands = ["oa01", "portal01", "www02"];
    let host = p.site.find(cands[p.rng.gen_range(0..cands.len())]);
    let cc = hostile(p);
    let c2 = geo::random_ip(cc, &mut p.rng);
    let name = c2_name(p);
    let use_sni = p.rng.gen_bool(0.7);
    let period = p.rng.gen_range(30..=300) as f64;
    let jitter = p.rng.gen_range(0.0..0.3);
    let (up, down) = (p.rng.gen_range(150..900u64), p.rng.gen_range(80..700u64));
    let sleeps_at_night = p.rng.gen_bool(0.3);
    let self_signed = p.rng.gen_bool(0.5);
    let total_s = p.days as f64 * 86_400.0;
    let max_beacons = 1_500.0;
    let span = (period * max_beacons).min(total_s * 0.8);
    let start = p.start_us + p.rng.gen_range(0.0..(total_s - span).max(1.0)) as i64 * US;
    let desc = format!(
        "{} beacons to {c2} ({cc}{}) every {period:.0} s ±{:.0}%, {up}/{down} bytes, {}",
        p.host(host).name,
        if use_sni { format!(", SNI {name}") } else { String::new() },
        jitter * 100.0,
        if sleeps_at_night { "quiet 00:00–07:00" } else { "day and night" }
    );
    let d = Draft {
        storyline: "beacon",
        kind: FindingKind::Beacon,
        key_host: st.ip(host),
        dst: vec![c2.to_string()],
        path: vec![],
        description: desc,
    };
    st.begin(vec![d]);
    let p = &mut *st.p;
    let e = ext_at(c2, cc, &name, p);
    let server = p.server_spec(&name, false, ("R11", "Let's Encrypt"), self_signed, None, Some(cc));
    let mut t = start;
    let mut last_lookup = i64::MIN / 2;
    while t < start + (span * US as f64) as i64 {
        let local_h = ((t - p.start_us) / US).rem_euclid(86_400) as f64 / 3600.0;
        if !(sleeps_at_night && local_h < 7.0) {
            let mut at = t;
            if use_sni && t - last_lookup > 3_600 * US {
                at = p.lookup(t, host, &name, dns::TYPE_A, vec![dns::Answer::A(c2)], true);
                last_lookup = t;
            }
            let f = p.flow_out(host, &e, 443);
            let u = (up as f64 * p.rng.gen_range(0.85..1.15)) as u64;
            let dn = (down as f64 * p.rng.gen_range(0.85..1.15)) as u64;
            let sni = if use_sni { name.clone() } else { String::new() };
            p.push(
                at,
                f,
                Outcome::Closed,
                App::Tls {
                    profile: ClientProfile::Implant,
                    sni,
                    server: server.clone(),
                    exchanges: vec![(u, dn, 0)],
                    prelude: Prelude::None,
                    rate: 1e6,
                },
            );
        }
        let j = p.rng.gen_range(-jitter..=jitter);
        t += (period * (1.0 + j) * US as f64) as i64;
    }
    st.end();
}

/// Ports a mapping platform probes.
const SCAN_PORTS: [u16; 24] =
    [21, 22, 23, 25, 53, 80, 110, 143, 443, 445, 993, 1433, 1521, 3306, 3389, 5432, 5900, 6379, 7001, 7071, 8080, 8443, 9200, 27017];

fn open_ports(role: Role, windows: bool) -> &'static [u16] {
    match role {
        Role::WebServer => &[80, 443],
        Role::MailServer => &[25, 443, 993, 7071],
        Role::VpnGateway => &[443],
        Role::OaServer => &[80, 443, 445],
        Role::AppServer => &[443, 8080],
        Role::DbServer => &[22, 5432],
        Role::Resolver => &[22, 53],
        _ if windows => &[445, 3389],
        _ => &[22],
    }
}

fn inbound_scan(st: &mut Stage<'_, '_>) {
    let p = &mut *st.p;
    let cc = ["US", "NL", "DE", "SG", "RU", "GB"][p.rng.gen_range(0..6)];
    let net = u32::from(geo::random_net24(cc, &mut p.rng));
    let scanner = Ipv4Addr::from(net + p.rng.gen_range(2..120));
    let follower = Ipv4Addr::from(net + p.rng.gen_range(121..250));
    let day = p.rng.gen_range(0..p.days.max(1));
    let start = p.at_rand(day, 0.0, 20.0);
    let dur = p.rng.gen_range(10..40) as i64 * 60 * US;
    let all_ports = p.rng.gen_bool(0.5);
    let ports: Vec<u16> = if all_ports { SCAN_PORTS.to_vec() } else { vec![22, 80, 443, 445, 3389, 8080, 8443, 7071, 3306, 1433] };
    let mut targets: Vec<(Ipv4Addr, Option<usize>)> = Vec::new();
    for z in [Zone::Edge, Zone::Dmz] {
        for h in p.site.by_zone(z) {
            targets.push((p.host(h).ip, Some(h)));
        }
    }
    // Unused addresses in the DMZ and some core servers.
    for i in 0..p.rng.gen_range(20..60) {
        let ip = Ipv4Addr::new(10, 1, 0, 40 + i as u8);
        targets.push((ip, None));
    }
    let core = p.site.by_zone(Zone::Core);
    for _ in 0..p.rng.gen_range(3..8) {
        let h = core[p.rng.gen_range(0..core.len())];
        targets.push((p.host(h).ip, Some(h)));
    }
    targets.sort();
    targets.dedup();
    let vpn = p.site.find("vpn-gw01");
    let delay = p.rng.gen_range(1.0..20.0);
    let session_len = p.rng.gen_range(5..30);
    let desc = format!(
        "{scanner} ({cc}) probes {} addresses on {} ports over {} min; {:.0} h later {follower} from the same /24 holds a {session_len}-minute session with vpn-gw01:443",
        targets.len(),
        ports.len(),
        dur / 60 / US,
        delay
    );
    let mut dst: Vec<String> = vec![p.host(vpn).ip.to_string()];
    dst.extend(targets.iter().filter(|t| t.1.is_some()).map(|t| t.0.to_string()));
    dst.dedup();
    st.begin(vec![Draft {
        storyline: "inbound_scan",
        kind: FindingKind::InboundScan,
        key_host: scanner.to_string(),
        dst,
        path: vec![],
        description: desc,
    }]);
    let p = &mut *st.p;
    let n = (targets.len() * ports.len()) as i64;
    let mut probes: Vec<(Ipv4Addr, Option<usize>, u16)> =
        targets.iter().flat_map(|&(ip, h)| ports.iter().map(move |&pt| (ip, h, pt))).collect();
    probes.shuffle(&mut p.rng);
    let sport = p.rng.gen_range(40_000..60_000);
    for (i, (ip, h, port)) in probes.into_iter().enumerate() {
        let t = start + dur * i as i64 / n.max(1);
        let (dst_ep, outcome) = match h {
            Some(h) => {
                let host = p.host(h);
                let open = open_ports(host.role, host.windows).contains(&port);
                let o = if open {
                    Outcome::HalfOpen
                } else if p.rng.gen_bool(0.3) {
                    Outcome::Refused
                } else {
                    Outcome::Unanswered
                };
                (host.ep(port), o)
            }
            None => (Endpoint { mac: crate::world::ROUTER_MAC, ip, port, ttl: 64 }, Outcome::Unanswered),
        };
        let src = Endpoint { mac: crate::world::ROUTER_MAC, ip: scanner, port: sport, ttl: 52 };
        let f = Flow { c: src, s: dst_ep, rtt_us: 180_000, near_client: false };
        p.push(t, f, outcome, App::Probe);
    }
    // The follow-up: a session to the VPN appliance from the same network.
    let t = start + dur + (delay * 3600.0) as i64 * US;
    let f = p.flow_from_outside(follower, cc, vpn, 443);
    let server = p.server_spec("vpn.jhri.example.cn", false, ("GeoTrust CN RSA CA G1", "DigiCert Inc"), false, None, None);
    let rounds = session_len.max(2);
    let ex = p.rounds(rounds, (1_000, 30_000), (5_000, 300_000), (30 * US, 90 * US));
    p.push(
        t,
        f,
        Outcome::Closed,
        App::Tls { profile: ClientProfile::OpenSsl, sni: String::new(), server, exchanges: ex, prelude: Prelude::None, rate: 1e6 },
    );
    st.end();
}

fn springboard(st: &mut Stage<'_, '_>, test: usize) {
    let p = &mut *st.p;
    let cc = hostile(p);
    let outside = geo::random_ip(cc, &mut p.rng);
    let edge = p.site.find("vpn-gw01");
    let core_names = ["db01", "db02", "fs01", "fs02", "hrdb01", "rnd-git01"];
    let core = p.site.find(core_names[p.rng.gen_range(0..core_names.len())]);
    let outer_ssh = p.rng.gen_bool(0.5);
    let episodes = p.rng.gen_range(1..=3).min(p.days.max(1));
    let mut days: Vec<u32> = (0..p.days).collect();
    days.shuffle(&mut p.rng);
    days.truncate(episodes as usize);
    days.sort();
    let test_windows = p.host(test).windows;
    let desc = format!(
        "{outside} ({cc}) → vpn-gw01 ({}) → {} ({}) → {} in {} episode(s)",
        if outer_ssh { "SSH" } else { "SSL VPN" },
        p.host(test).name,
        if test_windows { "RDP" } else { "SSH" },
        p.host(core).name,
        days.len()
    );
    let path = vec![outside.to_string(), st.ip(edge), st.ip(test), st.ip(core)];
    st.begin(vec![Draft {
        storyline: "springboard",
        kind: FindingKind::Springboard,
        key_host: st.ip(test),
        dst: vec![st.ip(core)],
        path,
        description: desc,
    }]);
    let p = &mut *st.p;
    for day in days {
        let evening = p.rng.gen_bool(0.6);
        let t0 = if evening { p.at_rand(day, 20.0, 23.0) } else { p.at_rand(day, 10.0, 16.0) };
        let d1 = p.rng.gen_range(2..10) as i64 * 60 * US;
        let inner1 = p.rng.gen_range(10..30) as i64 * 60 * US;
        let d2 = p.rng.gen_range(2..10) as i64 * 60 * US;
        let inner2 = p.rng.gen_range(3..10) as i64 * 60 * US;
        let total = d1 + d2 + inner1 + 5 * 60 * US;
        // Outer session: long enough to cover the hops inside it.
        let n_outer = (total / (60 * US)) as usize + 2;
        let port = if outer_ssh { 22 } else { 443 };
        let f = p.flow_from_outside(outside, cc, edge, port);
        let ex = p.rounds(n_outer, (200, 4_000), (500, 40_000), (50 * US, 70 * US));
        if outer_ssh {
            p.ssh(t0, f, ex);
        } else {
            let server = p.server_spec("vpn.jhri.example.cn", false, ("GeoTrust CN RSA CA G1", "DigiCert Inc"), false, None, None);
            p.push(
                t0,
                f,
                Outcome::Closed,
                App::Tls {
                    profile: ClientProfile::OpenSsl,
                    sni: "vpn.jhri.example.cn".into(),
                    server,
                    exchanges: ex,
                    prelude: Prelude::None,
                    rate: 1e6,
                },
            );
        }
        // Edge → test device.
        let t1 = t0 + d1;
        let n1 = (inner1 / (40 * US)) as usize + 1;
        let ex = p.rounds(n1, (100, 3_000), (300, 60_000), (30 * US, 50 * US));
        if test_windows {
            p.tls_in(t1, edge, test, 3389, ClientProfile::Schannel, ex, Prelude::Rdp);
        } else {
            let f = p.flow_in(edge, test, 22);
            p.ssh(t1, f, ex);
        }
        // Test device → core.
        let t2 = t1 + d2;
        let n2 = (inner2 / (30 * US)) as usize + 1;
        match p.host(core).role {
            Role::DbServer => {
                let ex = p.rounds(n2, (200, 2_000), (20_000, 3_000_000), (20 * US, 40 * US));
                p.tls_in(t2, test, core, 5432, ClientProfile::OpenSsl, ex, Prelude::Postgres);
            }
            Role::FileServer => {
                let f = p.flow_in(test, core, 445);
                let sn = p.host(core).name.to_uppercase();
                let ws = p.host(test).name.to_uppercase();
                p.push(
                    t2,
                    f,
                    Outcome::Closed,
                    App::Smb { server_name: sn, share: "C$", user: "administrator".into(), workstation: ws, auth_ok: true },
                );
            }
            _ => {
                let f = p.flow_in(test, core, 22);
                let ex = p.rounds(n2, (100, 2_000), (1_000, 500_000), (20 * US, 40 * US));
                p.ssh(t2, f, ex);
            }
        }
    }
    st.end();
}

fn exfiltration(st: &mut Stage<'_, '_>) {
    let p = &mut *st.p;
    if p.days < 2 {
        return;
    }
    let names = ["db02", "fs02", "rnd-git01", "hrdb01"];
    let host = p.site.find(names[p.rng.gen_range(0..names.len())]);
    let nights = p.rng.gen_range(3..=5).min(p.days - 1);
    let mut days: Vec<u32> = (1..p.days).collect();
    if p.rng.gen_bool(0.5) {
        let first = p.rng.gen_range(1..=p.days - nights);
        days = (first..first + nights).collect();
    } else {
        days.shuffle(&mut p.rng);
        days.truncate(nights as usize);
        days.sort();
    }
    let one_country = p.rng.gen_bool(0.4);
    let cc0 = hostile(p);
    let mut plan = Vec::new();
    for &d in &days {
        let cc = if one_country { cc0 } else { hostile(p) };
        let ip = geo::random_ip(cc, &mut p.rng);
        let mb = p.rng.gen_range(30..=300u64);
        plan.push((d, cc, ip, mb));
    }
    let dst: Vec<String> = plan.iter().map(|x| x.2.to_string()).collect();
    let list: Vec<String> = plan.iter().map(|(_, cc, ip, mb)| format!("{mb} MB to {ip} ({cc})")).collect();
    let desc = format!("{} uploads at 02:00–05:00 on {} nights: {}", p.host(host).name, plan.len(), list.join(", "));
    let mut items = vec![Draft {
        storyline: "exfiltration",
        kind: FindingKind::Exfiltration,
        key_host: st.ip(host),
        dst: dst.clone(),
        path: vec![],
        description: desc.clone(),
    }];
    // Rotation needs at least three destinations (as `rotating_destinations` documents): a
    // second address on a second night is a change of server, not a pattern.
    if plan.len() >= 3 {
        items.push(Draft {
            storyline: "exfiltration",
            kind: FindingKind::RotatingDestinations,
            key_host: st.ip(host),
            dst,
            path: vec![],
            description: desc,
        });
    }
    st.begin(items);
    let p = &mut *st.p;
    let sni_mode = p.rng.gen_range(0..3);
    for (d, cc, ip, mb) in plan {
        let t = p.at_rand(d, 2.0, 4.5);
        let name = match sni_mode {
            0 => String::new(),
            _ => {
                format!("s{}.{}", p.rng.gen_range(10..99), ["storage-sync.net", "cloud-drive.info", "fileshare.top"][p.rng.gen_range(0..3)])
            }
        };
        let e = ext_at(ip, cc, &name, p);
        let f = p.flow_out(host, &e, 443);
        let server = p.server_spec(
            if name.is_empty() { "localhost" } else { &name },
            true,
            ("R11", "Let's Encrypt"),
            name.is_empty(),
            None,
            Some(cc),
        );
        let rate = p.rng.gen_range(6e5..2e6);
        let profile = if p.rng.gen_bool(0.5) { ClientProfile::OpenSsl } else { ClientProfile::Implant };
        p.push(
            t,
            f,
            Outcome::Closed,
            App::Tls { profile, sni: name, server, exchanges: vec![(mb * 1_000_000, 4_000, 0)], prelude: Prelude::None, rate },
        );
    }
    st.end();
}

/// First day a dormant device may wake on (see `dormant`).
const MIN_DORMANT_WAKE_DAY: u32 = 5;

fn dormant(st: &mut Stage<'_, '_>) {
    let p = &mut *st.p;
    // Seen at work on day 0, silent from day 1: a wake on day 5 (from 09:00) is at least 4 days
    // 15 hours after the last workday, past `dormant_device`'s 4 days (a long weekend is not
    // dormancy). A shorter run cannot plant it; it is left out rather than planted as a silence
    // the detector documents it will not report.
    if p.days <= MIN_DORMANT_WAKE_DAY {
        return;
    }
    let host = st.take_ws();
    let p = &mut *st.p;
    let wake = (p.days - p.rng.gen_range(1..=2)).max(MIN_DORMANT_WAKE_DAY);
    let wake_t = p.at_rand(wake, 9.0, 22.0);
    let n = p.rng.gen_range(6..20);
    let servers = ["fs01", "fs02", "dc01", "erp01", "db01", "rnd-git01", "lims01"];
    let mut touched: Vec<usize> = Vec::new();
    for _ in 0..n {
        touched.push(p.site.find(servers[p.rng.gen_range(0..servers.len())]));
    }
    touched.sort();
    touched.dedup();
    let desc = format!(
        "{} is silent (ARP/DHCP only) from day 1 for {} days, then from day {wake} initiates sessions to {} servers and the Internet",
        p.host(host).name,
        wake - 1,
        touched.len()
    );
    st.quiet.dormant.push((host, 1, p.days));
    let dst = touched.iter().map(|&h| st.ip(h)).collect();
    st.begin(vec![Draft {
        storyline: "dormant_device",
        kind: FindingKind::DormantDevice,
        key_host: st.ip(host),
        dst,
        path: vec![],
        description: desc,
    }]);
    let p = &mut *st.p;
    let span = (p.end_us - wake_t).max(US);
    for (i, &s) in touched.iter().enumerate() {
        let t = wake_t + if i == 0 { 0 } else { p.rng.gen_range(0..span) };
        let srv = p.host(s);
        if srv.windows {
            let f = p.flow_in(host, s, 445);
            let (sn, ws) = (srv.name.to_uppercase(), p.host(host).name.to_uppercase());
            p.push(
                t,
                f,
                Outcome::Closed,
                App::Smb { server_name: sn, share: "IPC$", user: "svc_backup".into(), workstation: ws, auth_ok: true },
            );
        } else {
            let ex = p.rounds(3, (300, 3_000), (2_000, 200_000), (US, 10 * US));
            p.tls_in(t, host, s, 443, ClientProfile::OpenSsl, ex, Prelude::None);
        }
    }
    let cc = hostile(p);
    let ip = geo::random_ip(cc, &mut p.rng);
    let e = ext_at(ip, cc, "", p);
    for _ in 0..p.rng.gen_range(2..6) {
        let t = wake_t + p.rng.gen_range(0..span);
        let f = p.flow_out(host, &e, 443);
        let server = p.server_spec("localhost", false, ("", ""), true, None, Some(cc));
        p.push(
            t,
            f,
            Outcome::Closed,
            App::Tls {
                profile: ClientProfile::Implant,
                sni: String::new(),
                server,
                exchanges: vec![(2_000, 30_000, 0)],
                prelude: Prelude::None,
                rate: 1e6,
            },
        );
    }
    st.end();
}

fn lateral(st: &mut Stage<'_, '_>) {
    let ws = st.take_ws();
    let p = &mut *st.p;
    let day = {
        let work: Vec<u32> = (0..p.days).filter(|&d| p.is_workday(d)).collect();
        if work.is_empty() { 0 } else { work[p.rng.gen_range(0..work.len())] }
    };
    let evening = p.rng.gen_bool(0.3);
    let t0 = if evening { p.at_rand(day, 19.0, 22.0) } else { p.at_rand(day, 10.0, 15.5) };
    let dur = p.rng.gen_range(15..90) as i64 * 60 * US;
    let n = p.rng.gen_range(10..40);
    let dormant: Vec<usize> = st.quiet.dormant.iter().map(|d| d.0).collect();
    let mut pool: Vec<usize> = p
        .site
        .workstations()
        .into_iter()
        .chain(p.site.servers())
        .filter(|&h| h != ws && p.host(h).zone != Zone::Edge && !dormant.contains(&h))
        .collect();
    pool.shuffle(&mut p.rng);
    pool.truncate(n);
    let fail_rate = p.rng.gen_range(0.15..0.35);
    let desc = format!(
        "{} fans out to {} hosts over {} min (SMB/WinRM/RDP/SSH, ~{:.0}% failing)",
        p.host(ws).name,
        pool.len(),
        dur / 60 / US,
        fail_rate * 100.0
    );
    let dst = pool.iter().map(|&h| st.ip(h)).collect();
    let path = vec![st.ip(ws)];
    st.begin(vec![Draft {
        storyline: "lateral_movement",
        kind: FindingKind::LateralMovement,
        key_host: st.ip(ws),
        dst,
        path,
        description: desc,
    }]);
    let p = &mut *st.p;
    let k = pool.len() as i64;
    for (i, &h) in pool.iter().enumerate() {
        let t = t0 + dur * i as i64 / k.max(1) + p.rng.gen_range(0..30) * US;
        let target = p.host(h);
        let fail = p.rng.gen_bool(fail_rate);
        let (sn, wsn) = (target.name.to_uppercase(), p.host(ws).name.to_uppercase());
        if target.windows {
            match p.rng.gen_range(0..3) {
                0 => {
                    let f = p.flow_in(ws, h, 445);
                    let outcome = if fail && p.rng.gen_bool(0.5) { Outcome::Refused } else { Outcome::Closed };
                    p.push(
                        t,
                        f,
                        outcome,
                        App::Smb { server_name: sn, share: "ADMIN$", user: "administrator".into(), workstation: wsn, auth_ok: !fail },
                    );
                }
                1 => {
                    let f = p.flow_in(ws, h, 5985);
                    let outcome = if fail { Outcome::Refused } else { Outcome::Closed };
                    p.push(t, f, outcome, App::WinRm { host: sn, workstation: wsn, user: "administrator".into() });
                }
                _ => {
                    if fail {
                        let f = p.flow_in(ws, h, 3389);
                        p.push(t, f, Outcome::Unanswered, App::Probe);
                    } else {
                        let ex = p.rounds(4, (300, 3_000), (3_000, 80_000), (5 * US, 30 * US));
                        p.tls_in(t, ws, h, 3389, ClientProfile::Schannel, ex, Prelude::Rdp);
                    }
                }
            }
        } else {
            let f = p.flow_in(ws, h, 22);
            if fail {
                p.push(t, f, Outcome::Refused, App::Probe);
            } else {
                let ex = p.rounds(3, (100, 1_500), (200, 20_000), (2 * US, 20 * US));
                p.ssh(t, f, ex);
            }
        }
    }
    st.end();
}

fn base32(bytes: &[u8]) -> String {
    const A: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut s = String::new();
    let (mut acc, mut bits) = (0u32, 0);
    for &b in bytes {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            s.push(A[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        s.push(A[((acc << (5 - bits)) & 31) as usize] as char);
    }
    s
}

fn dns_tunnel(st: &mut Stage<'_, '_>) {
    let ws = st.take_ws();
    let p = &mut *st.p;
    let words = ["cdnsync", "mailcheck", "netupd", "dnsapi", "statcount", "cloudlog"];
    let tlds = ["net", "xyz", "top", "info", "org"];
    let domain = format!("{}{}.{}", words[p.rng.gen_range(0..words.len())], p.rng.gen_range(10..999), tlds[p.rng.gen_range(0..tlds.len())]);
    let null = p.rng.gen_bool(0.4);
    let n = p.rng.gen_range(400..1_500);
    let day = p.rng.gen_range(0..p.days.max(1));
    let t0 = p.at_rand(day, 0.0, 20.0);
    let hours = p.rng.gen_range(1.0..4.0);
    let resolver = p.site.find("dns01");
    let desc = format!(
        "{} sends {n} {} queries with encoded subdomains of {domain} over {hours:.1} h via dns01",
        p.host(ws).name,
        if null { "NULL" } else { "TXT" }
    );
    let dst = vec![domain.clone(), st.ip(resolver)];
    st.begin(vec![Draft {
        storyline: "dns_tunnel",
        kind: FindingKind::DnsTunnel,
        key_host: st.ip(ws),
        dst,
        path: vec![],
        description: desc,
    }]);
    let p = &mut *st.p;
    let span = (hours * 3600.0) as i64 * US;
    for i in 0..n {
        let t = t0 + span * i as i64 / n as i64 + p.rng.gen_range(0..500_000);
        let mut raw = vec![0u8; p.rng.gen_range(25..90)];
        rand::RngCore::fill_bytes(&mut p.rng, &mut raw);
        let enc = base32(&raw);
        let labels: Vec<&str> = enc.as_bytes().chunks(57).map(|c| std::str::from_utf8(c).unwrap_or("x")).collect();
        let qname = format!("{}.{domain}", labels.join("."));
        let mut payload = vec![0u8; p.rng.gen_range(20..180)];
        rand::RngCore::fill_bytes(&mut p.rng, &mut payload);
        let (qtype, ans) = if null {
            (dns::TYPE_NULL, dns::Answer::Null(payload))
        } else {
            (dns::TYPE_TXT, dns::Answer::Txt(base32(&payload).into_bytes()))
        };
        p.lookup(t, ws, &qname, qtype, vec![ans], true);
    }
    st.end();
}

/// A pronounceable generated label (consonant, vowel, ...), as Simda's `vocyzit`.
fn pronounceable(rng: &mut impl Rng, len: usize) -> String {
    const C: &[u8] = b"bcdfghjklmnpqrstvwxz";
    const V: &[u8] = b"aeiouy";
    (0..len).map(|i| char::from(if i % 2 == 0 { C[rng.gen_range(0..C.len())] } else { V[rng.gen_range(0..V.len())] })).collect()
}

/// A trojan's domain-generation algorithm: bursts of lookups of generated names through dns01,
/// all failing (NXDOMAIN) but the last, which resolves to the controller; the host then
/// connects to it once.
fn dga(st: &mut Stage<'_, '_>) {
    let ws = st.take_ws();
    let p = &mut *st.p;
    let len = p.rng.gen_range(6..=11);
    let tlds = ["com", "net", "org", "info", "biz", "ru"];
    let tld = tlds[p.rng.gen_range(0..tlds.len())];
    let day = p.rng.gen_range(0..p.days.max(1));
    let t0 = p.at_rand(day, 0.0, 22.0);
    let bursts = p.rng.gen_range(3..=8);
    let per = p.rng.gen_range(10..=25);
    let gap = p.rng.gen_range(60..=300) * US;
    let cc = hostile(p);
    let c2 = geo::random_ip(cc, &mut p.rng);
    let desc = format!(
        "{} runs a domain-generation algorithm: {bursts} bursts of {per} lookups of {len}-letter .{tld} names every {} s through dns01, all NXDOMAIN but the last, which resolves to {c2} ({cc}); one HTTPS session follows",
        p.host(ws).name,
        gap / US
    );
    st.begin(vec![Draft {
        storyline: "dga",
        kind: FindingKind::DnsTunnel,
        key_host: st.ip(ws),
        dst: vec![c2.to_string()],
        path: vec![],
        description: desc,
    }]);
    let p = &mut *st.p;
    for b in 0..bursts {
        let mut t = t0 + b * gap;
        for i in 0..per {
            let name = format!("{}.{tld}", pronounceable(&mut p.rng, len));
            t += p.rng.gen_range(20_000..80_000);
            if b + 1 == bursts && i + 1 == per {
                let done = p.lookup(t, ws, &name, dns::TYPE_A, vec![dns::Answer::A(c2)], true);
                let e = ext_at(c2, cc, &name, p);
                let f = p.flow_out(ws, &e, 443);
                let server = p.server_spec(&name, true, ("R11", "Let's Encrypt"), false, None, Some(cc));
                p.push(
                    done + 5_000,
                    f,
                    Outcome::Closed,
                    App::Tls {
                        profile: ClientProfile::Implant,
                        sni: name,
                        server,
                        exchanges: vec![(2_000, 15_000, 0)],
                        prelude: Prelude::None,
                        rate: 1e6,
                    },
                );
            } else {
                p.lookup(t, ws, &name, dns::TYPE_A, Vec::new(), true);
            }
        }
    }
    st.end();
}

fn foreign_admin(st: &mut Stage<'_, '_>) {
    let p = &mut *st.p;
    let mail = p.site.find("mail01");
    let cc = hostile(p);
    let ip = geo::random_ip(cc, &mut p.rng);
    let sessions = p.rng.gen_range(1..=4);
    let weekend: Vec<u32> = (0..p.days).filter(|&d| !p.is_workday(d)).collect();
    let desc = format!("stolen admin credentials: {ip} ({cc}) logs in to mail01's admin console (7071/tcp) {sessions} time(s) off-hours");
    st.begin(vec![Draft {
        storyline: "foreign_admin_access",
        kind: FindingKind::ForeignAdminAccess,
        key_host: st.ip(mail),
        dst: vec![ip.to_string()],
        path: vec![],
        description: desc,
    }]);
    let p = &mut *st.p;
    for _ in 0..sessions {
        let t = if !weekend.is_empty() && p.rng.gen_bool(0.3) {
            let d = weekend[p.rng.gen_range(0..weekend.len())];
            p.at_rand(d, 9.0, 20.0)
        } else {
            let d = p.rng.gen_range(0..p.days.max(1));
            p.at_rand(d, 0.5, 5.5)
        };
        let f = p.flow_from_outside(ip, cc, mail, 7071);
        let server =
            p.server_spec("mail.jhri.example.cn", false, ("JHRI Internal CA", "Jinghai Research Institute"), false, Some("http/1.1"), None);
        let nr = p.rng.gen_range(4..15);
        let ex = p.rounds(nr, (400, 4_000), (2_000, 120_000), (2 * US, 40 * US));
        p.push(
            t,
            f,
            Outcome::Closed,
            App::Tls {
                profile: ClientProfile::Chrome,
                sni: "mail.jhri.example.cn".into(),
                server,
                exchanges: ex,
                prelude: Prelude::None,
                rate: 1e6,
            },
        );
    }
    st.end();
}

fn unmanaged(st: &mut Stage<'_, '_>, test: usize) {
    let p = &mut *st.p;
    let ago = p.rng.gen_range(30..300);
    let date = crate::world::date_plus(p.site.start_unix, -ago);
    let first_day = p.rng.gen_range(0..p.days.max(1));
    let targets = [p.site.find("fs01"), p.site.find("db01"), p.site.find("rnd-git01"), p.site.find("hrdb01")];
    let n = p.rng.gen_range(5..16);
    let desc = format!(
        "{} was due for decommissioning on {date} yet from day {first_day} reaches {n} times into the core zone",
        p.host(test).name
    );
    let dst = targets.iter().map(|&h| st.ip(h)).collect();
    st.begin(vec![Draft {
        storyline: "unmanaged_device",
        kind: FindingKind::UnmanagedDevice,
        key_host: st.ip(test),
        dst,
        path: vec![],
        description: desc,
    }]);
    st.p.decommission.push((test, date));
    let p = &mut *st.p;
    let from = p.at(first_day, 0.0);
    let span = (p.end_us - from).max(US);
    for i in 0..n {
        let t = if i == 0 { p.at_rand(first_day, 9.0, 20.0) } else { from + p.rng.gen_range(0..span) };
        let s = targets[p.rng.gen_range(0..targets.len())];
        let srv = p.host(s);
        match srv.role {
            Role::FileServer => {
                let f = p.flow_in(test, s, 445);
                let (sn, ws) = (srv.name.to_uppercase(), p.host(test).name.to_uppercase());
                p.push(
                    t,
                    f,
                    Outcome::Closed,
                    App::Smb { server_name: sn, share: "IPC$", user: "qa_test".into(), workstation: ws, auth_ok: true },
                );
            }
            Role::DbServer => {
                let ex = p.rounds(3, (200, 2_000), (2_000, 300_000), (US, 5 * US));
                p.tls_in(t, test, s, 5432, ClientProfile::OpenSsl, ex, Prelude::Postgres);
            }
            _ => {
                let f = p.flow_in(test, s, 22);
                let ex = p.rounds(3, (200, 2_000), (500, 50_000), (US, 10 * US));
                p.ssh(t, f, ex);
            }
        }
    }
    st.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_is_rfc4648_lowercase_unpadded() {
        assert_eq!(base32(b"foobar"), "mzxw6ytboi");
        assert_eq!(base32(b"f"), "my");
    }
}
