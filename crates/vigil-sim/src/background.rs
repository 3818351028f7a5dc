//! Benign background traffic, including everything that fools naive detectors: periodic
//! NTP and update checks from many hosts to the same destinations, monitoring polls, nightly
//! backups to a domestic cloud, big software downloads from foreign CDNs, admin SSH fan-out in
//! work hours, mail flow, remote staff on the VPN and foreign visitors on the web site.

use crate::apps::{dns, tls::ClientProfile};
use crate::planner::{Planner, US};
use crate::spec::{App, Prelude};
use crate::tcp::Outcome;
use crate::world::{Role, Zone};
use rand::Rng;
use std::collections::BTreeSet;

/// Hosts the storylines control; the background leaves them alone (or nearly so).
#[derive(Clone, Debug, Default)]
pub struct Quiet {
    /// Host index → (first quiet day, first active-again day): only ARP/DHCP in between.
    pub dormant: Vec<(usize, u32, u32)>,
    /// Hosts that are idle all along (only ARP/DHCP).
    pub idle: BTreeSet<usize>,
}

impl Quiet {
    fn silent(&self, h: usize, day: u32) -> bool {
        self.idle.contains(&h) || self.dormant.iter().any(|&(x, a, b)| x == h && day >= a && day < b)
    }
}

/// A staff account name (pinyin surname.given) for host `h`'s regular user.
fn staff_user(h: usize) -> String {
    const SURNAMES: [&str; 12] = ["wang", "li", "zhang", "liu", "chen", "yang", "zhao", "huang", "zhou", "wu", "xu", "sun"];
    const GIVEN: [&str; 12] = ["wei", "fang", "na", "min", "jing", "lei", "qiang", "yan", "jun", "hua", "tao", "ying"];
    format!("{}.{}{}", SURNAMES[h % 12], GIVEN[(h / 12) % 12], if h >= 144 { (h / 144).to_string() } else { String::new() })
}

const CHROME_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

pub fn plan(p: &mut Planner<'_>, quiet: &Quiet) {
    let days = p.days;
    let dc = p.site.find("dc01");
    for day in 0..days {
        let work = p.is_workday(day);
        // People and their machines.
        for h in 0..p.site.hosts.len() {
            let role = p.host(h).role;
            if quiet.silent(h, day) {
                link_layer_only(p, h, day, dc);
                continue;
            }
            match role {
                Role::Workstation | Role::AdminWorkstation => {
                    // A device about to go dormant is seen at work the day before, so that its
                    // silence is a change.
                    let before_dormancy = quiet.dormant.iter().any(|&(x, a, _)| x == h && day + 1 == a);
                    let present = before_dormancy || if work { p.rng.gen_bool(0.93) } else { p.rng.gen_bool(0.04) };
                    if present {
                        workday(p, h, day, role == Role::AdminWorkstation);
                    }
                }
                Role::TestDevice => test_device(p, h, day, dc),
                _ => server_day(p, h, day),
            }
        }
        monitoring(p, day);
        web_visitors(p, day, work);
        mail_flow(p, day, work);
        vpn_users(p, day, work);
        backups(p, day);
    }
}

/// A powered-on device nobody uses: a DHCP renewal and an ARP for the gateway now and then.
fn link_layer_only(p: &mut Planner<'_>, h: usize, day: u32, dc: usize) {
    let t = p.at_rand(day, 0.0, 24.0);
    dhcp(p, h, t, true, dc);
    for _ in 0..p.rng.gen_range(1..4) {
        let t = p.at_rand(day, 0.0, 24.0);
        let f = crate::spec::Flow { c: p.host(h).ep(0), s: p.gateway_ep(h), rtt_us: 300, near_client: true };
        p.push(t, f, Outcome::Closed, App::Arp);
    }
}

fn dhcp(p: &mut Planner<'_>, h: usize, t: i64, renew: bool, dc: usize) {
    let host = p.host(h);
    let f = crate::spec::Flow { c: host.ep(68), s: p.host(dc).ep(67), rtt_us: 500, near_client: true };
    let router = host.zone.gateway();
    let dns_ip = p.host(p.site.find("dns01")).ip;
    let hostname = host.name.clone();
    p.push(t, f, Outcome::Closed, App::Dhcp { renew, hostname, router, dns: dns_ip });
}

/// Periodic events at `period` seconds with a fixed per-host phase and ±`jitter` seconds,
/// within [from, to) µs.
fn periodic(p: &mut Planner<'_>, from: i64, to: i64, period: i64, jitter: i64) -> Vec<i64> {
    let phase = p.rng.gen_range(0..period) * US;
    let mut v = Vec::new();
    let mut t = from - from.rem_euclid(period * US) + phase;
    while t < to {
        if t >= from {
            let j = if jitter > 0 { p.rng.gen_range(-jitter * 1000..=jitter * 1000) } else { 0 };
            v.push(t + j * 1000);
        }
        t += period * US;
    }
    v
}

fn ntp(p: &mut Planner<'_>, h: usize, from: i64, to: i64, period: i64) {
    let windows = p.host(h).windows;
    let e = p.svc.ntp[if windows { 1 } else { 0 }].clone();
    for t in periodic(p, from, to, period, 0) {
        let mut f = p.flow_out(h, &e, 123);
        f.c.port = 123;
        p.push(t, f, Outcome::Closed, App::Ntp);
    }
}

fn update_checks(p: &mut Planner<'_>, h: usize, from: i64, to: i64) {
    let av = p.svc.av_update.clone();
    for t in periodic(p, from, to, 8 * 3600, 2) {
        let ex = vec![(p.rng.gen_range(400..700), p.rng.gen_range(300..1_200), 5_000)];
        p.tls_out(t, h, &av, ClientProfile::OpenSsl, ex, 5e6, true);
    }
    if p.host(h).windows {
        let wu = p.svc.windows_update.clone();
        for t in periodic(p, from, to, 8 * 3600, 1) {
            let miss = p.rng.gen_bool(0.2);
            let t = p.lookup(
                t,
                h,
                &wu.name,
                dns::TYPE_A,
                vec![dns::Answer::Cname("ctldl.windowsupdate.com.delivery.microsoft.com".into()), dns::Answer::A(wu.ip)],
                miss,
            );
            let f = p.flow_out(h, &wu, 80);
            let status = if p.rng.gen_bool(0.8) { 304 } else { 200 };
            let resp_body = if status == 200 { 6_184 } else { 0 };
            p.push(
                t,
                f,
                Outcome::Closed,
                App::Http {
                    method: "GET",
                    path: "/msdownload/update/v3/static/trustedr/en/authrootstl.cab".into(),
                    host: wu.name.clone(),
                    ua: "Microsoft-CryptoAPI/10.0",
                    req_body: 0,
                    status,
                    resp_body,
                    ctype: "application/vnd.ms-cab-compressed",
                    server_sw: "Microsoft-IIS/10.0",
                    rate: 5e6,
                },
            );
        }
    }
}

fn workday(p: &mut Planner<'_>, h: usize, day: u32, admin: bool) {
    let arrive = p.at_rand(day, 8.0, 9.6);
    let leave = p.at_rand(day, 17.4, 19.5);
    let dc = p.site.find("dc01");
    dhcp(p, h, arrive, false, dc);
    let f = crate::spec::Flow { c: p.host(h).ep(0), s: p.gateway_ep(h), rtt_us: 300, near_client: true };
    p.push(arrive + 5 * US, f, Outcome::Closed, App::Arp);
    ntp(p, h, arrive, leave, 7200);
    update_checks(p, h, arrive, leave);
    let span = (leave - arrive).max(US);
    let when = |p: &mut Planner<'_>| arrive + p.rng.gen_range(0..span);

    // Browsing: domestic mostly, foreign sometimes; the name is looked up first.
    for _ in 0..p.rng.gen_range(2..6) {
        let t = when(p);
        let foreign = p.rng.gen_bool(0.25);
        let svc = p.svc;
        let list = if foreign { &svc.foreign_web } else { &svc.domestic_web };
        let e = list[p.rng.gen_range(0..list.len())].clone();
        let profile = if p.rng.gen_bool(0.7) { ClientProfile::Chrome } else { ClientProfile::Firefox };
        let n = p.rng.gen_range(1..5);
        let ex = p.rounds(n, (300, 2_000), (4_000, 250_000), (200_000, 20_000_000));
        p.tls_out(t, h, &e, profile, ex, 3e6, true);
    }
    // Webmail, the OA system, the ERP / LIMS, the file server.
    let mail = p.site.find("mail01");
    for _ in 0..p.rng.gen_range(0..3) {
        let t = when(p);
        let ex = p.rounds(2, (400, 3_000), (2_000, 80_000), (500_000, 5_000_000));
        p.tls_in(t, h, mail, 443, ClientProfile::Chrome, ex, Prelude::None);
    }
    let oa = p.site.find("oa01");
    for _ in 0..p.rng.gen_range(0..3) {
        let t = when(p);
        let f = p.flow_in(h, oa, 80);
        let resp_body = p.rng.gen_range(3_000..40_000);
        p.push(
            t,
            f,
            Outcome::Closed,
            App::Http {
                method: "GET",
                path: "/oa/index.jsp".into(),
                host: "oa01.jhri.example.cn".into(),
                ua: CHROME_UA,
                req_body: 0,
                status: 200,
                resp_body,
                ctype: "text/html; charset=utf-8",
                server_sw: "Apache-Coyote/1.1",
                rate: 20e6,
            },
        );
    }
    let apps = [p.site.find("erp01"), p.site.find("lims01"), p.site.find("rnd-git01")];
    for _ in 0..p.rng.gen_range(0..3) {
        let t = when(p);
        let a = apps[p.rng.gen_range(0..apps.len())];
        let ex = p.rounds(2, (300, 4_000), (1_000, 60_000), (1_000_000, 30_000_000));
        p.tls_in(t, h, a, 443, ClientProfile::Chrome, ex, Prelude::None);
    }
    if p.host(h).windows {
        let fss = [p.site.find("fs01"), p.site.find("fs02")];
        for _ in 0..p.rng.gen_range(0..3) {
            let t = when(p);
            let fs = fss[p.rng.gen_range(0..2)];
            let f = p.flow_in(h, fs, 445);
            let (sn, ws) = (p.host(fs).name.to_uppercase(), p.host(h).name.to_uppercase());
            let user = staff_user(h);
            p.push(t, f, Outcome::Closed, App::Smb { server_name: sn, share: "Public", user, workstation: ws, auth_ok: true });
        }
    }
    // Now and then a big download from a foreign CDN (installers, datasets).
    if p.rng.gen_bool(0.01) {
        let svc = p.svc;
        let e = svc.foreign_cdn[p.rng.gen_range(0..svc.foreign_cdn.len())].clone();
        let t = when(p);
        let down = p.rng.gen_range(20_000_000..200_000_000);
        let rate = p.rng.gen_range(2e6..8e6);
        p.tls_out(t, h, &e, ClientProfile::Chrome, vec![(600, down, 0)], rate, true);
    }
    if admin {
        admin_work(p, h, arrive, span);
    }
}

/// Admins: SSH to several Linux servers, RDP to a Windows server, the mail admin console.
fn admin_work(p: &mut Planner<'_>, h: usize, arrive: i64, span: i64) {
    let linux: Vec<usize> = p.site.servers().into_iter().filter(|&s| !p.host(s).windows && p.host(s).role != Role::Firewall).collect();
    for _ in 0..p.rng.gen_range(2..7) {
        let t = arrive + p.rng.gen_range(0..span);
        let s = {
            let i = p.rng.gen_range(0..linux.len());
            linux[i]
        };
        let f = p.flow_in(h, s, 22);
        let nr = p.rng.gen_range(3..12);
        let ex = p.rounds(nr, (100, 2_000), (200, 30_000), (1_000_000, 60_000_000));
        p.ssh(t, f, ex);
    }
    if p.rng.gen_bool(0.3) {
        let wins: Vec<usize> = p.site.servers().into_iter().filter(|&s| p.host(s).windows).collect();
        let s = {
            let i = p.rng.gen_range(0..wins.len());
            wins[i]
        };
        let t = arrive + p.rng.gen_range(0..span);
        let ex = p.rounds(6, (500, 5_000), (5_000, 200_000), (1_000_000, 30_000_000));
        p.tls_in(t, h, s, 3389, ClientProfile::Schannel, ex, Prelude::Rdp);
    }
    if p.rng.gen_bool(0.5) {
        let mail = p.site.find("mail01");
        let t = arrive + p.rng.gen_range(0..span);
        let ex = p.rounds(4, (500, 3_000), (3_000, 60_000), (2_000_000, 20_000_000));
        p.tls_in(t, h, mail, 7071, ClientProfile::Chrome, ex, Prelude::None);
    }
}

fn test_device(p: &mut Planner<'_>, h: usize, day: u32, dc: usize) {
    link_layer_only(p, h, day, dc);
    // CI jobs pull from the code server on work days.
    if p.is_workday(day) && p.rng.gen_bool(0.6) {
        let git = p.site.find("rnd-git01");
        for _ in 0..p.rng.gen_range(1..4) {
            let t = p.at_rand(day, 9.0, 21.0);
            let ex = p.rounds(2, (500, 2_000), (20_000, 2_000_000), (100_000, 2_000_000));
            p.tls_in(t, h, git, 443, ClientProfile::OpenSsl, ex, Prelude::None);
        }
    }
}

fn server_day(p: &mut Planner<'_>, h: usize, day: u32) {
    let (from, to) = (p.at(day, 0.0), p.at(day + 1, 0.0));
    let host = p.host(h);
    if host.role == Role::Firewall || host.role == Role::VpnGateway {
        // Appliances keep time and ship their logs to the monitoring server.
        ntp(p, h, from, to, 1024);
        let mon = p.site.find("mon01");
        let name = host.name.clone();
        for t in periodic(p, from, to, 300, 5) {
            let mut f = p.flow_in(h, mon, 514);
            f.c.port = 514;
            let stamp = chrono::DateTime::from_timestamp(t / US + crate::world::UTC_OFFSET_S, 0)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%S+08:00");
            let payload = format!(
                "<134>1 {stamp} {name} system - - - heartbeat: sessions={} cpu={}%",
                p.rng.gen_range(0..40),
                p.rng.gen_range(2..30)
            )
            .into_bytes();
            p.push(t, f, Outcome::Closed, App::Datagram { payload });
        }
        return;
    }
    ntp(p, h, from, to, 1024);
    if host.windows || host.zone == Zone::Dmz {
        update_checks(p, h, from, to);
    }
    match host.role {
        Role::AppServer if host.zone == Zone::Core || host.name == "portal01" => {
            let db = if host.name == "lims01" { p.site.find("db02") } else { p.site.find("db01") };
            for t in periodic(p, from, to, 3600, 20) {
                let ex = p.rounds(1, (200, 2_000), (500, 40_000), (10_000, 200_000));
                p.tls_in(t, h, db, 5432, ClientProfile::OpenSsl, ex, Prelude::Postgres);
            }
        }
        Role::MailServer => {
            // The mail server resolves external MX hosts through the resolver.
            for _ in 0..p.rng.gen_range(10..30) {
                let t = p.at_rand(day, 0.0, 24.0);
                let svc = p.svc;
                let peer = svc.mail_peers[p.rng.gen_range(0..svc.mail_peers.len())].clone();
                p.lookup(t, h, &peer.name, dns::TYPE_A, vec![dns::Answer::A(peer.ip)], true);
            }
        }
        _ => {}
    }
}

fn monitoring(p: &mut Planner<'_>, day: u32) {
    let mon = p.site.find("mon01");
    let (from, to) = (p.at(day, 0.0), p.at(day + 1, 0.0));
    for s in p.site.servers() {
        if s == mon {
            continue;
        }
        for t in periodic(p, from, to, 1800, 0) {
            let f = p.flow_in(mon, s, 0);
            p.push(t, f, Outcome::Closed, App::Ping { count: 1 });
        }
    }
    for name in ["www01", "www02", "portal01", "erp01"] {
        let s = p.site.find(name);
        for t in periodic(p, from, to, 1800, 0) {
            let f = p.flow_in(mon, s, 80);
            let host = format!("{name}.jhri.example.cn");
            p.push(
                t,
                f,
                Outcome::Closed,
                App::Http {
                    method: "GET",
                    path: "/healthz".into(),
                    host,
                    ua: "Zabbix",
                    req_body: 0,
                    status: 200,
                    resp_body: 15,
                    ctype: "application/json",
                    server_sw: "nginx",
                    rate: 20e6,
                },
            );
        }
    }
}

fn web_visitors(p: &mut Planner<'_>, day: u32, work: bool) {
    let webs = [p.site.find("www01"), p.site.find("www02")];
    let n = if work { p.rng.gen_range(30..60) } else { p.rng.gen_range(10..25) };
    for _ in 0..n {
        let foreign = p.rng.gen_bool(0.2);
        let svc = p.svc;
        let list = if foreign { &svc.visitors_foreign } else { &svc.visitors_cn };
        let ip = list[p.rng.gen_range(0..list.len())];
        let cc = crate::geo::country_of(ip).unwrap_or("US");
        let hour = if p.rng.gen_bool(0.8) { p.rng.gen_range(8.0..22.0) } else { p.rng.gen_range(0.0..24.0) };
        let t = p.at(day, hour);
        let s = webs[p.rng.gen_range(0..2)];
        let f = p.flow_from_outside(ip, cc, s, 443);
        let name = "www.jhri.example.cn".to_string();
        let server = p.server_spec(&name, true, ("GeoTrust CN RSA CA G1", "DigiCert Inc"), false, Some("h2"), None);
        let nr = p.rng.gen_range(1..6);
        let ex = p.rounds(nr, (300, 1_500), (3_000, 300_000), (300_000, 30_000_000));
        let profile = if p.rng.gen_bool(0.7) { ClientProfile::Chrome } else { ClientProfile::Firefox };
        p.push(t, f, Outcome::Closed, App::Tls { profile, sni: name, server, exchanges: ex, prelude: Prelude::None, rate: 2e6 });
    }
}

fn mail_flow(p: &mut Planner<'_>, day: u32, work: bool) {
    let mail = p.site.find("mail01");
    let n_in = if work { p.rng.gen_range(30..60) } else { p.rng.gen_range(5..15) };
    for i in 0..n_in + n_in / 2 {
        let svc = p.svc;
        let peer = svc.mail_peers[p.rng.gen_range(0..svc.mail_peers.len())].clone();
        let t = p.at_rand(day, 7.0, 23.0);
        let body_len = p.rng.gen_range(800..9_000);
        let user = format!("staff{:03}@jhri.example.cn", p.rng.gen_range(1..400));
        let ext_user = format!("contact@{}", peer.name.trim_start_matches("mx1.").trim_start_matches("mx2."));
        if i < n_in {
            let f = p.flow_from_outside(peer.ip, peer.country, mail, 25);
            p.push(
                t,
                f,
                Outcome::Closed,
                App::Smtp {
                    server_name: "mail01.jhri.example.cn".into(),
                    client_name: peer.name.clone(),
                    from: ext_user,
                    to: user,
                    subject: "Project update",
                    body_len,
                },
            );
        } else {
            let mut f = p.flow_out(mail, &peer, 25);
            f.near_client = true;
            p.push(
                t,
                f,
                Outcome::Closed,
                App::Smtp {
                    server_name: peer.name.clone(),
                    client_name: "mail01.jhri.example.cn".into(),
                    from: user,
                    to: ext_user,
                    subject: "Re: Project update",
                    body_len,
                },
            );
        }
    }
}

/// Staff working from home: domestic addresses on the SSL VPN in the evening.
fn vpn_users(p: &mut Planner<'_>, day: u32, work: bool) {
    let vpn = p.site.find("vpn-gw01");
    let n = if work { p.rng.gen_range(3..9) } else { p.rng.gen_range(0..3) };
    for _ in 0..n {
        let svc = p.svc;
        let ip = svc.visitors_cn[p.rng.gen_range(0..svc.visitors_cn.len())];
        let t = p.at_rand(day, 18.5, 23.0);
        let f = p.flow_from_outside(ip, "CN", vpn, 443);
        // The appliance checks the user's credentials against the directory (LDAPS).
        let dc = p.site.find("dc01");
        let ex = p.rounds(2, (200, 800), (200, 2_000), (1_000, 20_000));
        p.tls_in(t + 600_000, vpn, dc, 636, ClientProfile::OpenSsl, ex, Prelude::None);
        let name = "vpn.jhri.example.cn".to_string();
        let server = p.server_spec(&name, false, ("GeoTrust CN RSA CA G1", "DigiCert Inc"), false, None, None);
        let nr = p.rng.gen_range(10..40);
        let ex = p.rounds(nr, (500, 40_000), (2_000, 400_000), (5_000_000, 60_000_000));
        p.push(
            t,
            f,
            Outcome::Closed,
            App::Tls { profile: ClientProfile::Schannel, sni: name, server, exchanges: ex, prelude: Prelude::None, rate: 2e6 },
        );
    }
}

/// 00:30 the backup server pulls from the core servers over SSH; 01:00–03:00 it uploads the
/// night's archive to the domestic cloud (allow-listed domain).
fn backups(p: &mut Planner<'_>, day: u32) {
    let b = p.site.find("backup01");
    for name in ["fs01", "fs02", "db01", "db02", "erp01"] {
        let s = p.site.find(name);
        let t = p.at_rand(day, 0.4, 0.9);
        let f = p.flow_in(b, s, 22);
        let down = p.rng.gen_range(10_000_000..80_000_000);
        p.ssh(t, f, vec![(2_000, 1_000, 0), (10_000, down, 100_000)]);
    }
    let e = p.svc.backup.clone();
    let t = p.at_rand(day, 1.0, 1.5);
    let up = p.rng.gen_range(150_000_000..400_000_000u64);
    let rate = p.rng.gen_range(4e5..6e5);
    p.tls_out(t, b, &e, ClientProfile::OpenSsl, vec![(up, 2_000, 0)], rate, true);
}
