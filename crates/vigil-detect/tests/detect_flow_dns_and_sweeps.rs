//! The flow-only DNS judgement (`dns_tunnel::flow`) and the service and pace weights of
//! `inbound_scan`, on synthetic streams: the behaviour each is meant to find, and the benign
//! look-alikes that must stay below medium (a page load's lookups, a cache-less program asking
//! one name in a loop, a forwarding resolver, names visible to the name-based detector; an
//! uplink outage, broken IPv6, blocked egress retrying the same servers, a sweep of an
//! ordinary port).

mod common;
use common::*;
use vigil_detect::Detector;
use vigil_detect::dns_tunnel::flow::{DnsFlowConfig, DnsFlowDetector};
use vigil_detect::scan::{ScanConfig, ScanDetector};
use vigil_detect::util::Tuning;
use vigil_enrich::Context;
use vigil_model::{Conn, ConnState, DnsTxn, Finding, FindingKind, Severity};

fn run(det: &mut dyn Detector, conns: &[Conn], ctx: &Context) -> Vec<Finding> {
    for c in conns {
        det.observe(c, ctx);
    }
    let mut f = det.finish(ctx);
    Finding::rank(&mut f);
    f
}

fn flows(conns: &[Conn], ctx: &Context) -> Vec<Finding> {
    run(&mut DnsFlowDetector::new(DnsFlowConfig::default(), Tuning::default()), conns, ctx)
}

fn scans(conns: &[Conn], ctx: &Context) -> Vec<Finding> {
    run(&mut ScanDetector::new(ScanConfig::default(), Tuning::default()), conns, ctx)
}

/// One DNS query flow as NetFlow/Argus shows it: one packet each way, sizes only.
fn dns_flow(ts: f64, client: &str, server: &str, query_bytes: u64, answer_bytes: u64) -> Conn {
    let mut c = udp(ts, client, server, 53, query_bytes, answer_bytes);
    c.orig_pkts = 1;
    c.resp_pkts = 1;
    c
}

/// A DGA's storm: `n` lookups over `secs` seconds, all names of one length, then web requests
/// to the few that resolved, each in a different network.
fn dga(client: &str, server: &str, n: u32, secs: f64, contacts: u32) -> Vec<Conn> {
    let mut v: Vec<Conn> =
        (0..n).map(|i| dns_flow(MON as f64 + f64::from(i) * secs / f64::from(n), client, server, 29, 90 + u64::from(i % 3) * 16)).collect();
    for i in 0..contacts {
        v.push(tcp(MON as f64 + secs * 0.5 + f64::from(i), client, &format!("{}.{}.7.9", 23 + i * 17, 40 + i), 80, 500, 3_000));
    }
    v.sort_by_key(|c| c.ts);
    v
}

#[test]
fn dga_storm_seen_only_as_flows_is_found_with_the_servers_it_reached() {
    let ctx = shanghai();
    let f = flows(&dga("10.1.0.5", "8.8.8.8", 200, 70.0, 8), &ctx);
    assert_eq!(f.len(), 1, "{f:#?}");
    let x = &f[0];
    assert_eq!((x.kind, x.src.as_str()), (FindingKind::DnsTunnel, "10.1.0.5"));
    assert!(x.severity >= Severity::Medium, "{}: {}", x.score, x.summary);
    assert_eq!(x.evidence["method"], "flows");
    assert_eq!(x.evidence["resolver"], "8.8.8.8");
    assert_eq!(x.evidence["modal_share"], 1.0);
    assert_eq!(x.evidence["contacted_networks"], 8);
    assert_eq!(x.dst.first().map(String::as_str), Some("8.8.8.8"));
    assert!(x.dst.iter().any(|d| d == "23.40.7.9") && x.dst.iter().any(|d| d == "142.47.7.9"), "{:?}", x.dst);
    assert!(x.attack.contains(&"T1568.002".to_string()));

    // The same storm where the names are visible (a capture, or Zeek with dns.log) is left to
    // the name-based detector.
    let mut named = dga("10.1.0.5", "8.8.8.8", 200, 70.0, 8);
    for (i, c) in named.iter_mut().filter(|c| c.resp_p == 53).enumerate() {
        c.app.dns.push(DnsTxn { query: Some(format!("q{i:06}x.com")), ..Default::default() });
    }
    assert!(flows(&named, &ctx).is_empty());

    // Fewer than the storm threshold: a page load's worth of lookups is not judged.
    assert!(flows(&dga("10.1.0.5", "8.8.8.8", 80, 70.0, 8), &ctx).is_empty());
}

#[test]
fn the_storm_sent_past_the_sites_resolvers_weighs_more() {
    let ctx = shanghai();
    let alone = flows(&dga("10.1.0.5", "8.8.8.8", 200, 70.0, 4), &ctx);
    let mut site = dga("10.1.0.5", "8.8.8.8", 200, 70.0, 4);
    // The other clients ask the site's resolver.
    for i in 0..30u32 {
        site.push(dns_flow(MON as f64 + f64::from(i), &format!("10.1.0.{}", 50 + i), "10.0.0.53", 30 + u64::from(i), 120));
    }
    site.sort_by_key(|c| c.ts);
    let past = flows(&site, &ctx);
    assert_eq!((alone.len(), past.len()), (1, 1), "{alone:#?} {past:#?}");
    assert_eq!(past[0].evidence["bypasses_site_resolvers"], true);
    assert!(past[0].score >= alone[0].score + 0.049, "{} vs {}", past[0].score, alone[0].score);
}

#[test]
fn busy_but_ordinary_dns_stays_below_medium() {
    let ctx = shanghai();
    let mut rng = Rng(7);
    // Browsing: 300 lookups in five minutes, names of every length, and connections to the
    // many sites and CDNs they named.
    let mut browse: Vec<Conn> =
        (0..300).map(|i| dns_flow((MON + i) as f64, "10.1.0.6", "8.8.8.8", 20 + rng.below(45), 60 + rng.below(300))).collect();
    for i in 0..40u32 {
        browse.push(tcp((MON + 2 + i64::from(i) * 7) as f64, "10.1.0.6", &format!("{}.{}.1.1", 30 + i * 5, i + 1), 443, 900, 40_000));
    }
    browse.sort_by_key(|c| c.ts);
    let f = flows(&browse, &ctx);
    assert!(f.iter().all(|x| x.score < 0.5), "{f:#?}");

    // A program without a DNS cache asking one name 600 times in five minutes (same size every
    // time) and talking to the one address it gets.
    let mut lp: Vec<Conn> = (0..600).map(|i| dns_flow(MON as f64 + f64::from(i) * 0.5, "10.1.0.7", "8.8.8.8", 33, 49)).collect();
    lp.extend((0..600).map(|i| tcp(MON as f64 + f64::from(i) * 0.5 + 0.1, "10.1.0.7", "52.1.2.3", 443, 400, 900)));
    lp.sort_by_key(|c| c.ts);
    let f = flows(&lp, &ctx);
    assert!(f.iter().all(|x| x.score < 0.5), "{f:#?}");
    // It is odd enough to be listed (low), not to be raised.
    assert_eq!(f.len(), 1, "{f:#?}");

    // The site's forwarding resolver: its clients ask it, it asks 8.8.8.8 hundreds of times.
    let mut fwd: Vec<Conn> = (0..600).map(|i| dns_flow(MON as f64 + f64::from(i) * 0.3, "10.0.0.53", "8.8.8.8", 31, 90)).collect();
    fwd.extend((0..50).map(|i| dns_flow((MON + i) as f64, &format!("10.1.1.{}", i + 1), "10.0.0.53", 31, 90)));
    fwd.sort_by_key(|c| c.ts);
    assert!(flows(&fwd, &ctx).iter().all(|x| x.src != "10.0.0.53"));
}

fn syn(ts: f64, src: &str, dst: &str, port: u16) -> Conn {
    let mut c = tcp(ts, src, dst, port, 0, 0);
    c.conn_state = ConnState::S0;
    c.history = "S".into();
    c.duration = None;
    c
}

/// An internal host's twelve unanswered port-80 attempts to outside servers within ten
/// seconds, amid its ordinary web sessions.
fn outbound_burst(v6: bool) -> Vec<Conn> {
    let t = MON as f64;
    let mut v = vec![syn(t, "10.1.0.9", "203.0.113.1", 6898)];
    for i in 0..12u32 {
        let dst = if v6 { format!("2001:db8:{i:x}::1") } else { format!("{}.{}.2.3", 60 + i * 9, i + 10) };
        v.push(syn(t + 30.0 + f64::from(i) * 0.8, "10.1.0.9", &dst, 80));
    }
    for i in 0..15u32 {
        v.push(tcp(t + 29.0 + f64::from(i), "10.1.0.9", &format!("93.184.{i}.10"), 80, 800, 9_000));
    }
    v.sort_by_key(|c| c.ts);
    v
}

#[test]
fn outbound_burst_while_the_network_works_is_medium() {
    let ctx = shanghai();
    let f = scans(&outbound_burst(false), &ctx);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].severity >= Severity::Medium, "{}: {}", f[0].score, f[0].summary);
    assert_eq!(f[0].evidence["burst"]["hosts"], 12);
    assert_eq!(f[0].evidence["burst"]["other_sessions_answered"], true);

    // Uplink down: the same attempts, and nothing else answered either.
    let outage: Vec<Conn> = outbound_burst(false).into_iter().filter(|c| c.conn_state == ConnState::S0).collect();
    let f = scans(&outage, &ctx);
    assert_eq!(f.len(), 1);
    assert!(f[0].score < 0.5, "{}", f[0].score);

    // Broken IPv6: the failures are IPv6, the sessions that worked were IPv4.
    let f = scans(&outbound_burst(true), &ctx);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].evidence["burst"]["other_sessions_answered"], false);
    assert!(f[0].score < 0.5, "{}", f[0].score);

    // Blocked egress: one host retrying the same two servers all day is no sweep at all.
    let mut blocked: Vec<Conn> =
        (0..500).map(|i| syn((MON + i * 60) as f64, "10.1.0.9", if i % 2 == 0 { "198.51.100.7" } else { "198.51.100.8" }, 443)).collect();
    blocked.extend((0..500).map(|i| tcp((MON + i * 60 + 5) as f64, "10.1.0.9", "93.184.0.10", 443, 800, 9_000)));
    blocked.sort_by_key(|c| c.ts);
    assert!(scans(&blocked, &ctx).is_empty());
}

#[test]
fn sweeps_of_remote_access_services_weigh_more_than_other_ports() {
    let ctx = shanghai();
    let sweep =
        |port: u16| -> Vec<Conn> { (0..25).map(|i| syn((MON + i) as f64, "185.220.1.9", &format!("10.0.1.{}", i + 1), port)).collect() };
    let rdp = scans(&sweep(3389), &ctx);
    let web = scans(&sweep(8081), &ctx);
    assert_eq!((rdp.len(), web.len()), (1, 1));
    assert!(rdp[0].severity >= Severity::Medium, "{}", rdp[0].score);
    assert!(web[0].severity < Severity::Medium, "{}", web[0].score);
    assert_eq!(rdp[0].evidence["admin_service"], true);
    assert!(rdp[0].summary.contains("administration/remote-access"), "{}", rdp[0].summary);
    // The site's own admin ports count too.
    let site = ctx_with_admin_port(8081);
    assert!(scans(&sweep(8081), &site)[0].severity >= Severity::Medium);
}

fn ctx_with_admin_port(port: u16) -> Context {
    common::ctx(&format!("[site]\ninternal = [\"10.0.0.0/8\"]\nadmin_ports = [{port}]\n"))
}

/// A recursive resolver's dns.log read alone (no conn.log beside it): its lookups to a hundred
/// authoritative servers were answered, which the log's rcode says, so they are not probes;
/// the same lookups without responses are a 53/udp sweep.
#[test]
fn a_resolvers_answered_lookups_from_dns_log_alone_are_not_a_sweep() {
    let log = |answered: bool| {
        let mut s = String::from(
            "#separator \\x09\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\tqtype\trcode\tanswers\tRD\n",
        );
        for i in 0..100u32 {
            let rcode = if answered { "0" } else { "-" };
            let answer = if answered { "198.51.100.7" } else { "-" };
            s.push_str(&format!(
                "{}.0\tD{i}\t10.0.0.53\t{}\t{}.{}.{}.{}\t53\tudp\t{i}\tname{i}.example.com\t1\t{rcode}\t{answer}\tF\n",
                MON + i64::from(i),
                30000 + i,
                11 + i % 150,
                20 + i / 7,
                3 + i % 5,
                1 + i
            ));
        }
        s
    };
    let ctx = shanghai();
    let sweeps = |answered: bool| {
        let mut conns = Vec::new();
        let mut stats = vigil_import::ImportStats::default();
        vigil_import::zeek::import_bytes(log(answered).as_bytes(), &Default::default(), &mut stats, &mut |c| conns.push(c));
        assert_eq!(conns.len(), 100);
        scans(&conns, &ctx).into_iter().filter(|f| f.kind == FindingKind::InboundScan && f.severity >= Severity::Medium).count()
    };
    assert_eq!(sweeps(true), 0, "answered lookups are resolution, not probing");
    assert_eq!(sweeps(false), 1, "the same lookups unanswered are a sweep");
}
