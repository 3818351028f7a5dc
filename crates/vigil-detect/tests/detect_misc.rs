//! Long connections, DNS tunnels, inbound scans and foreign admin access on synthetic streams:
//! true positives and benign look-alikes (push-notification sessions on many hosts, domestic
//! admin SSH in hours, web browsing with follow-up connections, a resolver forwarding its
//! clients' queries, ordinary inbound web sessions) staying below medium.

mod common;
use common::*;
use vigil_detect::Detector;
use vigil_detect::dns_tunnel::{DnsTunnelConfig, DnsTunnelDetector};
use vigil_detect::foreign_admin::{ForeignAdminConfig, ForeignAdminDetector};
use vigil_detect::long_conn::{LongConnConfig, LongConnDetector};
use vigil_detect::scan::{ScanConfig, ScanDetector};
use vigil_detect::util::Tuning;
use vigil_enrich::Context;
use vigil_model::{Conn, ConnState, Finding, FindingKind, SshMeta};

fn run(det: &mut dyn Detector, conns: &[Conn], ctx: &Context) -> Vec<Finding> {
    for c in conns {
        det.observe(c, ctx);
    }
    let mut f = det.finish(ctx);
    Finding::rank(&mut f);
    f
}

#[test]
fn long_sessions_abroad_versus_shared_push_services() {
    let ctx = geo_ctx();
    let mut conns = Vec::new();
    let mut c = tcp(MON as f64, "10.1.0.5", "185.10.4.4", 4444, 300_000, 900_000);
    c.duration = Some(10.0 * 3600.0);
    c.open = true;
    c.conn_state = ConnState::S1;
    conns.push(c);
    for h in 0..10u8 {
        let mut c = with_tls(tcp(MON as f64, &format!("10.1.0.{}", 20 + h), "45.33.1.1", 5223, 50_000, 80_000), "push.example", None);
        c.duration = Some(8.0 * 3600.0);
        conns.push(c);
    }
    // Two hours of SSH to a domestic server.
    let mut c = tcp(MON as f64 + 3600.0, "10.1.0.6", "1.192.9.9", 22, 200_000, 3_000_000);
    c.duration = Some(7200.0);
    conns.push(c);
    let f = run(&mut LongConnDetector::new(LongConnConfig::default(), Tuning::default()), &conns, &ctx);
    let top = &f[0];
    assert_eq!((top.kind, top.src.as_str()), (FindingKind::LongConnection, "10.1.0.5"));
    assert!(top.score >= 0.65, "{}", top.score);
    assert_eq!(top.evidence["still_open"], true);
    assert!(top.summary.contains("still open"), "{}", top.summary);
    for x in f.iter().skip(1) {
        assert!(x.score < 0.5, "benign long session at {}: {}", x.score, x.summary);
    }
}

fn b32(rng: &mut Rng, n: usize) -> String {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..n).map(|_| A[rng.below(32) as usize] as char).collect()
}

#[test]
fn dns_tunnel_is_blamed_on_the_client_not_the_forwarding_resolver() {
    let ctx = shanghai();
    let mut rng = Rng(9);
    let mut conns = Vec::new();
    for i in 0..400 {
        let q = format!("{}.{}.t.tun-evil.com", b32(&mut rng, 50), b32(&mut rng, 12));
        let t = (MON + i * 20) as f64;
        conns.push(dns(t, "10.1.0.7", "10.0.0.53", &q, 16, &[]));
        // The resolver forwards the same question to the outside.
        conns.push(dns(t + 0.01, "10.0.0.53", "8.8.8.8", &q, 16, &[]));
    }
    // Browsing: many names under one news site, each resolved and then visited.
    for i in 0..60 {
        let q = format!("img{i}.cdn.news.example");
        let a = format!("93.184.216.{}", i + 1);
        conns.push(dns((MON + i * 60) as f64, "10.1.0.8", "10.0.0.53", &q, 1, &[a.as_str()]));
        conns.push(tcp((MON + i * 60) as f64 + 0.2, "10.1.0.8", &a, 443, 800, 90_000));
    }
    // Only the resolver's leg is visible for another domain.
    for i in 0..200 {
        let q = format!("{}.x.badtun.net", b32(&mut rng, 40));
        conns.push(dns((MON + 10_000 + i * 7) as f64, "10.0.0.53", "8.8.4.4", &q, 10, &[]));
    }
    // A mail server checking senders against a DNS blocklist: reversed addresses, no follow-up.
    for i in 0..150u64 {
        let q = format!("{}.{}.{}.{}.zen.spamhaus.org", rng.below(250), rng.below(250), i % 250, 1 + rng.below(250));
        conns.push(dns((MON + 20_000 + i as i64 * 9) as f64, "10.1.0.25", "10.0.0.53", &q, 1, &["127.0.0.2"]));
    }
    let f = run(&mut DnsTunnelDetector::new(DnsTunnelConfig::default(), Tuning::default()), &shuffle_sort(conns), &ctx);
    assert!(f.iter().all(|x| x.evidence["registered_domain"] != "spamhaus.org" || x.score < 0.5), "{f:#?}");
    let client = f.iter().find(|x| x.evidence["registered_domain"] == "tun-evil.com").expect("tunnel found");
    assert_eq!(client.src, "10.1.0.7", "blamed on the client");
    assert!(client.score >= 0.75, "{}", client.score);
    assert_eq!(client.evidence["unique_subdomains"], 400);
    assert!(client.attack.contains(&"T1071.004".to_string()));
    assert_eq!(f.iter().filter(|x| x.evidence["registered_domain"] == "tun-evil.com").count(), 1, "no second finding on the resolver");
    let leg = f.iter().find(|x| x.evidence["registered_domain"] == "badtun.net").expect("resolver-only leg reported");
    assert_eq!(leg.src, "10.0.0.53");
    assert_eq!(leg.evidence["resolver_leg_only"], true);
    assert!(leg.summary.contains("resolver"), "{}", leg.summary);
    assert!(f.iter().all(|x| x.evidence["registered_domain"] != "news.example" || x.score < 0.5), "{f:#?}");
}

fn probe(ts: f64, src: &str, dst: &str, port: u16) -> Conn {
    let mut c = tcp(ts, src, dst, port, 0, 0);
    c.conn_state = ConnState::REJ;
    c.duration = Some(0.0);
    c.history = "Sr".into();
    c
}

#[test]
fn horizontal_scan_then_use_from_the_same_network_escalates() {
    let ctx = shanghai();
    let mut conns: Vec<Conn> = (0..200).map(|i| probe((MON + i) as f64, "46.166.151.160", &format!("10.0.1.{}", i + 1), 3389)).collect();
    // Ordinary inbound web sessions from many clients.
    for i in 0..300 {
        conns.push(tcp((MON + i * 10) as f64, &format!("93.184.{}.{}", i % 7, i % 200 + 1), "10.0.0.80", 443, 900, 40_000));
    }
    let base = run(&mut ScanDetector::new(ScanConfig::default(), Tuning::default()), &conns, &ctx);
    assert_eq!(base.len(), 1, "{base:#?}");
    let s = &base[0];
    assert_eq!((s.kind, s.src.as_str()), (FindingKind::InboundScan, "46.166.151.160"));
    assert_eq!(s.evidence["port_most_swept"], "3389/tcp");
    assert_eq!(s.evidence["max_hosts_on_one_port"], 200);
    assert!(s.score < 0.75);
    // Later, a neighbour address logs into one of the scanned hosts.
    let mut follow = tcp((MON + 4000) as f64, "46.166.151.99", "10.0.1.77", 3389, 50_000, 900_000);
    follow.duration = Some(900.0);
    conns.push(follow);
    let esc = run(&mut ScanDetector::new(ScanConfig::default(), Tuning::default()), &conns, &ctx);
    assert_eq!(esc.len(), 1);
    // An RDP sweep (admin service) is already medium; the follow-up adds 0.3, capped at 1.
    assert!(s.severity >= vigil_model::Severity::Medium, "{}", s.score);
    assert!(esc[0].score >= (s.score + 0.29).min(1.0), "{} vs {}", esc[0].score, s.score);
    assert!(esc[0].severity > s.severity);
    assert!(esc[0].summary.contains("10.0.1.77:3389/tcp"), "{}", esc[0].summary);
    assert_eq!(esc[0].id, s.id, "same scanner, same finding id");
}

#[test]
fn vertical_scan_and_quiet_internal_browsing() {
    let ctx = shanghai();
    let mut conns: Vec<Conn> = (1..=1000).map(|p| probe((MON + p as i64) as f64, "185.10.5.5", "10.0.0.9", p)).collect();
    // A browser opening idle connections to 80 web servers (established, no payload).
    for i in 0..80 {
        let mut c = tcp((MON + i) as f64, "10.1.0.4", &format!("45.33.9.{}", i + 1), 443, 0, 0);
        c.conn_state = ConnState::RSTO;
        conns.push(c);
    }
    let f = run(&mut ScanDetector::new(ScanConfig::default(), Tuning::default()), &conns, &ctx);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].evidence["scan_type"], "vertical");
    assert_eq!(f[0].evidence["max_ports_on_one_host"], 1000);
    assert!(f[0].score >= 0.6);
}

#[test]
fn internal_host_sweeping_the_lan_is_reported() {
    let ctx = shanghai();
    let conns: Vec<Conn> = (0..60).map(|i| probe((MON + i) as f64, "10.1.0.66", &format!("10.0.2.{}", i + 1), 445)).collect();
    let f = run(&mut ScanDetector::new(ScanConfig::default(), Tuning::default()), &conns, &ctx);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].evidence["internal_source"], true);
    assert!(f[0].attack.contains(&"T1046".to_string()));
    assert!(f[0].summary.starts_with("Internal host 10.1.0.66"));
}

#[test]
fn dhcp_replies_and_monitoring_pings_are_not_scans() {
    let ctx = shanghai();
    let mut conns = Vec::new();
    // The DHCP server answers 80 clients (67 -> 68/udp, one-way datagrams).
    for i in 0..80 {
        let mut c = udp((MON + i * 30) as f64, "10.0.0.2", &format!("10.0.3.{}", i + 1), 68, 300, 0);
        c.orig_p = 67;
        c.conn_state = ConnState::S0;
        conns.push(c);
    }
    // A monitoring server pings 20 servers every 5 minutes for a day.
    for k in 0..288 {
        for i in 0..20 {
            let mut c = udp((MON + k * 300 + i) as f64, "10.0.0.70", &format!("10.0.4.{}", i + 1), 0, 0, 0);
            c.proto = vigil_model::PROTO_ICMP;
            c.orig_p = 8;
            c.conn_state = ConnState::OTH;
            conns.push(c);
        }
    }
    let f = run(&mut ScanDetector::new(ScanConfig::default(), Tuning::default()), &conns, &ctx);
    assert!(f.is_empty(), "{f:#?}");
    // One ping sweep over 60 addresses by the same host is still a sweep.
    let sweep: Vec<Conn> = (0..60)
        .map(|i| {
            let mut c = udp((MON + i) as f64, "10.0.0.70", &format!("10.0.5.{}", i + 1), 0, 0, 0);
            c.proto = vigil_model::PROTO_ICMP;
            c.orig_p = 8;
            c.conn_state = ConnState::OTH;
            c
        })
        .collect();
    let f = run(&mut ScanDetector::new(ScanConfig::default(), Tuning::default()), &sweep, &ctx);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].evidence["port_most_swept"], "icmp-echo");
}

#[test]
fn foreign_rdp_at_night_versus_domestic_and_failed_ssh() {
    let ctx = geo_ctx();
    let mut conns = Vec::new();
    // 03:00 Shanghai = 19:00 UTC the previous day.
    let mut rdp = tcp((MON - 5 * 3600) as f64, "185.10.2.2", "10.20.1.5", 3389, 2_000_000, 6_000_000);
    rdp.duration = Some(7200.0);
    conns.push(rdp);
    // Domestic administrator over SSH in working hours.
    let mut ssh = tcp((MON + 2 * 3600) as f64, "1.192.3.3", "10.0.0.22", 22, 40_000, 200_000);
    ssh.duration = Some(1800.0);
    conns.push(ssh);
    // Failed SSH logins from abroad are not access.
    let mut bad = tcp((MON + 2 * 3600) as f64, "45.33.3.3", "10.0.0.22", 22, 3000, 3000);
    bad.app.ssh = Some(Box::new(SshMeta { auth_success: Some(false), ..Default::default() }));
    conns.push(bad);
    let f = run(&mut ForeignAdminDetector::new(ForeignAdminConfig::default(), Tuning::default()), &conns, &ctx);
    assert_eq!(f.len(), 1, "{f:#?}");
    let x = &f[0];
    assert_eq!((x.kind, x.src.as_str()), (FindingKind::ForeignAdminAccess, "10.20.1.5"));
    assert!(x.score >= 0.9, "{}", x.score);
    assert_eq!(x.evidence["countries"], serde_json::json!(["RU"]));
    assert!(x.attack.contains(&"T1021.001".to_string()));
    assert!(x.summary.contains("abroad (RU)") && x.summary.contains("outside working hours"), "{}", x.summary);

    // Without home countries: SSH from the internet in hours stays below medium.
    let plain = shanghai();
    let mut ssh = tcp((MON + 2 * 3600) as f64, "45.33.3.4", "10.0.0.22", 22, 40_000, 200_000);
    ssh.duration = Some(1800.0);
    let f = run(&mut ForeignAdminDetector::new(ForeignAdminConfig::default(), Tuning::default()), &[ssh], &plain);
    assert!(f.iter().all(|x| x.score < 0.5), "{f:#?}");
}

#[test]
fn an_iterative_resolver_is_recognised_without_seeing_its_clients_ask_it() {
    let ctx = shanghai();
    let mut rng = Rng(21);
    let mut conns = Vec::new();
    for i in 0..120 {
        let q = format!("{}.exf.tunnel-co.net", b32(&mut rng, 45));
        // The resolver 10.0.0.9 walks authoritative servers without recursion.
        let mut c = dns((MON + i * 30) as f64, "10.0.0.9", &format!("198.41.0.{}", 1 + i % 5), &q, 16, &[]);
        c.app.dns[0].rd = false;
        conns.push(c);
        // A laptop asks the same names of some other resolver path we see.
        conns.push(dns((MON + i * 30) as f64 - 0.01, "10.1.0.44", "8.8.8.8", &q, 16, &[]));
    }
    let f = run(&mut DnsTunnelDetector::new(DnsTunnelConfig::default(), Tuning::default()), &shuffle_sort(conns), &ctx);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].src, "10.1.0.44", "blamed on the client, not the iterative resolver");
}

/// Names looked up and then connected to, several times each: the front end's path (pair ids,
/// each pair's later records skipping the contact set) and the plain path agree on which
/// lookups were followed, and so on every finding.
#[test]
fn followed_lookups_are_seen_alike_through_the_front_end_and_alone() {
    let ctx = shanghai();
    let mut rng = Rng(4);
    let mut conns = Vec::new();
    for i in 0..300i64 {
        let t = (MON + i * 30) as f64;
        // Random names under one domain, each answered with an outside address ...
        let a = format!("45.33.{}.{}", i / 200, 1 + i % 200);
        let q = format!("{}.sync.followed.example", b32(&mut rng, 30));
        conns.push(dns(t, "10.1.0.9", "10.0.0.53", &q, 1, &[a.as_str()]));
        // ... which the client then uses, three times (one pair, three records).
        for k in 0..3 {
            conns.push(tcp(t + 0.5 + f64::from(k), "10.1.0.9", &a, 443, 900, 4_000));
        }
        // The same shape from another client that never connects anywhere.
        let q = format!("{}.sync.unfollowed.example", b32(&mut rng, 30));
        conns.push(dns(t + 1.0, "10.1.0.10", "10.0.0.53", &q, 1, &[a.as_str()]));
    }
    let conns = shuffle_sort(conns);
    let refs: Vec<&Conn> = conns.iter().collect();
    let through_front =
        vigil_detect::run_detectors(vec![Box::new(DnsTunnelDetector::new(DnsTunnelConfig::default(), Tuning::default()))], &refs, &ctx, 1);
    let alone = run(&mut DnsTunnelDetector::new(DnsTunnelConfig::default(), Tuning::default()), &conns, &ctx);
    let json = |f: &[Finding]| serde_json::to_string(f).unwrap();
    assert_eq!(json(&through_front), json(&alone));
    let by_domain =
        |d: &str| through_front.iter().find(|x| x.evidence["registered_domain"] == d).unwrap_or_else(|| panic!("{d}: {through_front:#?}"));
    assert_eq!(by_domain("followed.example").evidence["connected_to_resolved"], true);
    assert_eq!(by_domain("unfollowed.example").evidence["connected_to_resolved"], false);
    assert!(by_domain("unfollowed.example").score > by_domain("followed.example").score);
}

/// A lookup that came back NXDOMAIN.
fn nx(ts: f64, client: &str, resolver: &str, query: &str, qtype: u16) -> Conn {
    let mut c = dns(ts, client, resolver, query, qtype, &[]);
    if let Some(t) = c.app.dns.first_mut() {
        t.rcode = Some(3);
    }
    c
}

/// A pronounceable generated name (consonant, vowel, ...), as Simda's `vocyzit.com`.
fn generated(rng: &mut Rng, len: usize) -> String {
    const C: &[u8] = b"bcdfghjklmnpqrstvwxz";
    const V: &[u8] = b"aeiouy";
    (0..len)
        .map(|i| if i % 2 == 0 { C[rng.below(C.len() as u64) as usize] } else { V[rng.below(V.len() as u64) as usize] } as char)
        .collect()
}

fn dga(f: &[Finding]) -> Vec<&Finding> {
    f.iter().filter(|x| x.evidence["method"] == "dga").collect()
}

#[test]
fn a_domain_generation_algorithm_is_found_and_ordinary_lookup_failures_are_not() {
    let ctx = shanghai();
    let mut rng = Rng(77);
    let mut conns = Vec::new();
    let t0 = MON as f64;
    // Thirty hosts resolving the same popular names all day.
    for h in 0..30u8 {
        for i in 0..20 {
            conns.push(dns(
                t0 + f64::from(h) * 7.0 + f64::from(i) * 600.0,
                &format!("10.1.0.{}", 10 + h),
                "10.0.0.53",
                &format!("site{i}.example.com"),
                1,
                &["45.33.1.1"],
            ));
        }
        // Twenty of them ask for the same 25 tracker domains (alike: `trk` and four letters
        // under .com), which the resolver blocks: common, so not one host's algorithm.
        if h < 20 {
            for i in 0..25u8 {
                let d = format!(
                    "trk{}{}{}{}.com",
                    char::from(b'a' + i % 5),
                    char::from(b'a' + i / 5),
                    char::from(b'k' + i % 3),
                    char::from(b'p' + i % 7)
                );
                conns.push(nx(t0 + 3000.0 + f64::from(h) + f64::from(i), &format!("10.1.0.{}", 10 + h), "10.0.0.53", &d, 1));
            }
        }
    }
    // The infected host: bursts of 15 generated names every 90 s, 90 names, three of which
    // resolve; it connects to one of the addresses.
    let bad = "10.1.0.66";
    let mut resolved = Vec::new();
    for b in 0..6 {
        for i in 0..15 {
            let name = format!("{}.com", generated(&mut rng, 7));
            conns.push(nx(t0 + 5000.0 + f64::from(b) * 90.0 + f64::from(i) * 0.05, bad, "10.0.0.53", &name, 1));
        }
        if b % 2 == 0 {
            let name = format!("{}.com", generated(&mut rng, 7));
            let addr = format!("185.10.7.{}", 10 + b);
            conns.push(dns(t0 + 5000.0 + f64::from(b) * 90.0 + 1.0, bad, "10.0.0.53", &name, 1, &[&addr]));
            resolved.push((name, addr));
        }
    }
    let (cc_name, cc_addr) = resolved.first().cloned().expect("a resolved name");
    conns.push(tcp(t0 + 5002.0, bad, &cc_addr, 80, 300, 2_000));
    // Another address of the same machine (dual stack) connects to a second resolved name's
    // address; a third host connects nowhere near.
    let sibling_addr = resolved.get(1).map(|r| r.1.clone()).expect("a second resolved name");
    conns.push(dns(t0 + 10.0, "10.1.0.67", "10.0.0.53", "site1.example.com", 1, &["45.33.1.1"]));
    conns.push(tcp(t0 + 5185.0, "10.1.0.67", &sibling_addr, 443, 500, 1_000));
    conns.push(tcp(t0 + 5185.0, "10.1.0.68", "45.33.1.1", 443, 500, 1_000));
    // A host whose typos and dead links fail now and then, under many suffixes and lengths.
    for i in 0..40 {
        let len = 4 + (i % 9);
        let tld = ["com", "net", "org", "de", "cn", "io"][i % 6];
        conns.push(nx(t0 + i as f64 * 1800.0, "10.1.0.20", "10.0.0.53", &format!("{}.{tld}", generated(&mut rng, len)), 1));
    }
    // A browser's random single-label probes, internal names, and a mail server checking
    // senders' domains (MX and TXT).
    for i in 0..60 {
        conns.push(nx(t0 + 6000.0 + f64::from(i), "10.1.0.21", "10.0.0.53", &generated(&mut rng, 10), 1));
        conns.push(nx(t0 + 6000.0 + f64::from(i), "10.1.0.22", "10.0.0.53", &format!("host{i}.lan"), 1));
        let sender = format!("{}.com", generated(&mut rng, 7));
        conns.push(nx(t0 + 6000.0 + f64::from(i), "10.1.0.23", "10.0.0.53", &sender, if i % 2 == 0 { 15 } else { 16 }));
    }
    let f = run(&mut DnsTunnelDetector::new(DnsTunnelConfig::default(), Tuning::default()), &shuffle_sort(conns), &ctx);
    let found = dga(&f);
    assert_eq!(found.len(), 1, "{found:#?}");
    let x = found[0];
    assert_eq!(x.src, bad);
    assert_eq!(x.kind, FindingKind::DnsTunnel);
    assert!(x.score >= 0.9, "{}", x.score);
    let e = &x.evidence;
    assert_eq!(e["nxdomain_domains"], 90);
    assert_eq!(e["max_in_window"], 90);
    assert_eq!((e["modal_suffix"].as_str(), e["modal_label_length"].as_u64()), (Some("com"), Some(7)));
    assert_eq!(e["shape_share"], 1.0);
    assert_eq!(e["resolved_family"].as_array().map(Vec::len), Some(3));
    assert_eq!(e["connected_to_resolved"], true);
    assert!(x.dst.contains(&cc_name) && x.dst.contains(&cc_addr), "{:?}", x.dst);
    assert!(x.attack.first().is_some_and(|a| a == "T1568.002"));
    assert!(x.summary.contains("domain-generation") && x.summary.contains(&cc_name), "{}", x.summary);
    assert_eq!(e["other_hosts_connected"], serde_json::json!(["10.1.0.67"]));
    assert!(x.summary.ends_with("10.1.0.67 connected to those addresses."), "{}", x.summary);
}

/// An algorithm whose names vary in length and suffix is still found by its burst, at medium.
#[test]
fn a_burst_of_failed_names_of_varied_shapes_is_still_medium() {
    let ctx = shanghai();
    let mut rng = Rng(78);
    let mut conns = Vec::new();
    for i in 0..100 {
        let tld = ["com", "net", "org", "info", "biz"][i % 5];
        let name = format!("{}.{tld}", generated(&mut rng, 5 + (i * 7) % 7));
        conns.push(nx(MON as f64 + i as f64 * 2.0, "10.1.0.9", "10.0.0.53", &name, 1));
    }
    let f = run(&mut DnsTunnelDetector::new(DnsTunnelConfig::default(), Tuning::default()), &shuffle_sort(conns), &ctx);
    let found = dga(&f);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!((0.5..0.75).contains(&found[0].score), "{}", found[0].score);
    assert!(found[0].evidence["shape_share"].as_f64().is_some_and(|s| s < 0.5));
}
