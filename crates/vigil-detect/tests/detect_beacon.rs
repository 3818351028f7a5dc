//! Beacon detector on synthetic streams: true positives (classic, proxied, night-only) and the
//! benign look-alikes (NTP on every host, update checks, browsing) staying below medium.

mod common;
use common::*;
use vigil_detect::Detector;
use vigil_detect::beacon::{BeaconConfig, BeaconDetector, score_series};
use vigil_detect::util::Tuning;
use vigil_enrich::Context;
use vigil_model::{Conn, Finding, FindingKind, Severity};

fn run(conns: &[Conn], ctx: &Context, tuning: Tuning) -> Vec<Finding> {
    let mut d = BeaconDetector::new(BeaconConfig::default(), tuning);
    for c in conns {
        d.observe(c, ctx);
    }
    let mut f = d.finish(ctx);
    Finding::rank(&mut f);
    f
}

/// Irregular browsing by `n` office hosts over `hours` hours from `start`.
fn browsing(rng: &mut Rng, start: i64, hours: i64, n: u8) -> Vec<Conn> {
    let mut v = Vec::new();
    for h in 0..n {
        let host = format!("10.1.0.{}", 10 + h);
        let mut t = start as f64;
        while t < (start + hours * 3600) as f64 {
            t += 30.0 + rng.below(1800) as f64;
            let dst = format!("93.184.{}.{}", rng.below(200), rng.below(250) + 1);
            v.push(with_tls(
                tcp(t, &host, &dst, 443, 500 + rng.below(5000), 2000 + rng.below(500_000)),
                &format!("site{}.example", rng.below(500)),
                Some("t13d1516h2_8daaf6152771_02713d6af862"),
            ));
        }
    }
    v
}

fn classic_beacon(rng: &mut Rng, start: i64, hours: i64) -> Vec<Conn> {
    let mut v = Vec::new();
    let mut t = start as f64;
    while t < (start + hours * 3600) as f64 {
        v.push(with_tls(
            tcp(t, "10.1.0.99", "203.0.113.7", 443, (1200.0 + 30.0 * rng.sym()) as u64, 4000),
            "cdn-update.evil.example",
            Some("t12d190800_d83cc789557e_7af1ed941c26"),
        ));
        t += 300.0 + 15.0 * rng.sym();
    }
    v
}

#[test]
fn a_jittered_https_beacon_is_one_high_finding() {
    let ctx = shanghai();
    let mut rng = Rng(7);
    let mut conns = browsing(&mut rng, MON, 24, 8);
    conns.extend(classic_beacon(&mut rng, MON, 24));
    let f = run(&shuffle_sort(conns), &ctx, Tuning::default());
    let b: Vec<&Finding> = f.iter().filter(|x| x.src == "10.1.0.99").collect();
    assert_eq!(b.len(), 1, "address and name groupings merge into one finding: {b:#?}");
    let b = b[0];
    assert_eq!(b.kind, FindingKind::Beacon);
    assert!(b.score >= 0.75, "score {}", b.score);
    assert!(b.severity >= Severity::High);
    assert!(b.dst.contains(&"203.0.113.7".to_string()) && b.dst.contains(&"cdn-update.evil.example".to_string()));
    let ev = &b.evidence;
    assert!(ev["also_grouped_by"].as_array().is_some_and(|a| !a.is_empty()), "{ev}");
    assert!((ev["interval_mode_s"].as_i64().unwrap() - 300).abs() <= 15);
    assert!(ev["scores"]["timestamp"].as_f64().unwrap() > 0.8);
    assert_eq!(b.first_seen.offset().local_minus_utc(), 8 * 3600, "rendered in the site zone");
    assert!(b.summary.contains("10.1.0.99") && b.summary.contains("cdn-update.evil.example"));
    assert!(b.attack.contains(&"T1071.001".to_string()) && b.attack.contains(&"T1573".to_string()));
    // Browsing hosts stay below medium.
    for x in f.iter().filter(|x| x.src != "10.1.0.99") {
        assert!(x.score < 0.5, "browsing flagged: {}", x.summary);
    }
    // Stable ids on the same input; suppression by id removes it.
    let again = run(
        &shuffle_sort(browsing(&mut Rng(7), MON, 24, 8).into_iter().chain(classic_beacon(&mut Rng(99), MON, 24)).collect()),
        &ctx,
        Tuning::default(),
    );
    assert!(again.iter().any(|x| x.id == b.id));
    let quiet = run(&shuffle_sort(classic_beacon(&mut Rng(7), MON, 24)), &ctx, Tuning::new().suppress(&b.id));
    assert!(quiet.iter().all(|x| x.id != b.id));
    // Allow-listing the domain silences it too.
    let allowed = run(&shuffle_sort(classic_beacon(&mut Rng(7), MON, 24)), &ctx, Tuning::new().allow_domain("evil.example"));
    assert!(allowed.is_empty(), "{allowed:#?}");
}

#[test]
fn a_long_beacon_is_thinned_not_dropped() {
    // A series cap of 32 points forces four halvings over 288 callbacks: the finding keeps the
    // exact count and bytes, and the thinned series (every 16th callback) is still a timer.
    let ctx = shanghai();
    let mut rng = Rng(11);
    let conns = classic_beacon(&mut rng, MON, 24);
    let total = conns.len();
    let sent: u64 = conns.iter().map(|c| c.orig_bytes.unwrap_or(0)).sum();
    let cfg = BeaconConfig { max_series: 32, ..BeaconConfig::default() };
    let mut d = BeaconDetector::new(cfg, Tuning::default());
    for c in &conns {
        d.observe(c, &ctx);
    }
    let f = d.finish(&ctx);
    assert_eq!(f.len(), 1, "{f:#?}");
    let e = &f[0].evidence;
    assert_eq!(e["connections"].as_u64(), Some(total as u64));
    assert_eq!(e["bytes_sent"].as_u64(), Some(sent));
    let mode = e["interval_mode_s"].as_i64().unwrap_or(0);
    assert!((16 * 290..=16 * 310).contains(&mode), "every 16th of a 300 s timer: {mode}");
    assert!(f[0].severity >= Severity::Medium, "{}", f[0].score);
    assert_eq!(d.dropped, 0);
}

#[test]
fn a_night_only_beacon_scores_high_where_rita_does_not() {
    let ctx = shanghai();
    let mut rng = Rng(42);
    // Three days of office traffic so the window spans 72 h.
    let mut conns = browsing(&mut rng, MON - 8 * 3600, 72, 4);
    // 02:00–05:00 Shanghai (18:00–21:00 UTC the day before) on three nights, every 60 s ± 8 s.
    for night in 0..3 {
        let start = MON - 8 * 3600 + night * 86_400 + 2 * 3600;
        let mut t = start as f64;
        while t < (start + 3 * 3600) as f64 {
            conns.push(tcp(t, "10.1.0.77", "198.51.100.66", 8443, (310.0 + 20.0 * rng.sym()) as u64, 90));
            t += 60.0 + 8.0 * rng.sym();
        }
    }
    // RITA scores each day's logs (24 hourly bins): one night of this beacon in its day.
    let day0 = MON - 8 * 3600;
    let night1: Vec<&Conn> = conns.iter().filter(|c| c.orig_h == ip("10.1.0.77") && c.ts.secs() < day0 + 86_400).collect();
    let ts: Vec<i64> = night1.iter().map(|c| c.ts.secs()).collect();
    let sizes: Vec<f64> = night1.iter().map(|c| c.orig_bytes.unwrap_or(0) as f64).collect();
    let daily = score_series(&ts, &sizes, day0, day0 + 86_400, &BeaconConfig::default(), &|_| 8 * 3600).expect("scored");
    let f = run(&shuffle_sort(conns), &ctx, Tuning::default());
    let b = f.iter().find(|x| x.src == "10.1.0.77").expect("night beacon found");
    let rita = b.evidence["scores"]["rita_total"].as_f64().unwrap();
    let tb = b.evidence["scores"]["timeboxed_total"].as_f64().unwrap();
    println!(
        "night-only beacon: RITA formula on one day {} (ts {}, ds {}, dur {}, hist {}); RITA formula over 72 h {rita}; time-boxed {tb}; final {}",
        daily.rita_total, daily.timestamp, daily.data_size, daily.duration, daily.histogram, b.score
    );
    assert!(daily.rita_total < 0.5, "RITA's daily formula gives it no duration or histogram credit: {}", daily.rita_total);
    assert_eq!((daily.duration, daily.histogram), (0.0, 0.0));
    assert!(tb > rita, "time-boxing helps over the whole-window formula");
    assert!(b.score >= 0.75, "time-boxed scoring keeps it high: {}", b.score);
    assert_eq!(b.evidence["active_days"], 3);
    assert_eq!(b.evidence["active_local_hours"], serde_json::json!([2, 3, 4]));
    assert!(b.summary.contains("02:00"), "{}", b.summary);
    assert!(b.evidence["off_hours_share"].as_f64().unwrap() > 0.99);
}

#[test]
fn ntp_and_update_checks_on_many_hosts_stay_below_medium() {
    let ctx = shanghai();
    let mut rng = Rng(3);
    let mut conns = browsing(&mut rng, MON, 12, 20);
    for h in 0..20u8 {
        let host = format!("10.1.0.{}", 10 + h);
        let mut t = MON as f64 + rng.below(64) as f64;
        while t < (MON + 12 * 3600) as f64 {
            conns.push(udp(t, &host, "203.0.113.123", 123, 48, 48));
            t += 64.0 + rng.sym();
        }
        if h < 12 {
            let mut t = MON as f64 + rng.below(3600) as f64;
            while t < (MON + 12 * 3600) as f64 {
                conns.push(with_http(tcp(t, &host, "198.51.100.10", 80, 350, 900), "update.vendor.example", "/check"));
                t += 3600.0 + 2.0 * rng.sym();
            }
        }
    }
    let f = run(&shuffle_sort(conns), &ctx, Tuning::default());
    for x in &f {
        assert!(x.score < 0.5, "benign periodic service raised to {}: {}", x.score, x.summary);
    }
    // The same NTP polling from a single host (no peers) is a regular beacon: prevalence is
    // what tells the service apart.
    let single: Vec<Conn> = (0..600).map(|i| udp((MON + i * 64) as f64, "10.1.0.5", "203.0.113.123", 123, 48, 48)).collect();
    let f1 = run(&single, &ctx, Tuning::default());
    assert!(f1.iter().any(|x| x.score >= 0.75));
}

#[test]
fn a_time_service_used_by_a_small_share_of_a_large_site_stays_below_medium() {
    let ctx = shanghai();
    let mut rng = Rng(5);
    // 80 hosts; only 8 of them (10 %) keep time with this server, all on its 1024 s schedule.
    let mut conns = browsing(&mut rng, MON, 24, 80);
    for h in 0..8u8 {
        let host = format!("10.1.0.{}", 10 + h);
        let mut t = MON as f64 + rng.below(1024) as f64;
        while t < (MON + 24 * 3600) as f64 {
            conns.push(udp(t, &host, "203.0.113.88", 123, 48, 48));
            t += 1024.0;
        }
    }
    let f = run(&shuffle_sort(conns), &ctx, Tuning::default());
    for x in &f {
        assert!(x.score < 0.5, "time service raised to {}: {}", x.score, x.summary);
    }
    let ntp: Vec<&Finding> = f.iter().filter(|x| x.dst.contains(&"203.0.113.88".to_string())).collect();
    assert!(ntp.iter().all(|x| x.evidence["same_period_hosts"].as_u64().unwrap_or(0) >= 5), "{ntp:#?}");
}

#[test]
fn mail_delivery_to_one_peer_at_random_hours_is_not_a_beacon() {
    let ctx = shanghai();
    let mut rng = Rng(21);
    let mut conns = Vec::new();
    for day in 0..4i64 {
        for _ in 0..4 {
            // 07:00-23:00 Shanghai = 23:00-15:00 UTC of the day before.
            let t = (MON + day * 86_400 - 3600) as f64 + rng.below(16 * 3600) as f64;
            conns.push(tcp(t, "10.0.0.25", "198.51.100.25", 25, 1000 + rng.below(8000), 300));
        }
    }
    let f = run(&shuffle_sort(conns), &ctx, Tuning::default());
    assert!(f.iter().all(|x| x.score < 0.5), "{f:#?}");
}

#[test]
fn a_monitoring_server_polling_internal_web_servers_is_not_a_beacon() {
    let ctx = shanghai();
    let mut conns = Vec::new();
    for (i, srv) in ["10.0.0.10", "10.0.0.11", "10.0.0.12"].iter().enumerate() {
        let name = format!("www{i}.corp.example");
        let mut t = MON as f64 + 60.0 * i as f64;
        while t < (MON + 72 * 3600) as f64 {
            conns.push(with_http(tcp(t, "10.1.0.70", srv, 80, 120, 300), &name, "/healthz"));
            t += 1800.0;
        }
    }
    let f = run(&shuffle_sort(conns), &ctx, Tuning::default());
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn a_proxied_beacon_is_grouped_by_http_host() {
    let ctx = shanghai();
    let mut rng = Rng(11);
    let mut conns = Vec::new();
    let mut t = MON as f64;
    while t < (MON + 20 * 3600) as f64 {
        conns.push(with_http(tcp(t, "10.1.0.50", "10.0.0.3", 3128, 980, 20_000), "c2.example.net", "/"));
        t += 120.0 + 5.0 * rng.sym();
    }
    // Other traffic through the same proxy to many names is not one group.
    for i in 0..300 {
        let n = format!("news{}.example.org", rng.below(50));
        conns.push(with_http(tcp((MON + i * 240) as f64 + rng.below(200) as f64, "10.1.0.50", "10.0.0.3", 3128, 500, 9000), &n, "/"));
    }
    let f = run(&shuffle_sort(conns), &ctx, Tuning::default());
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].evidence["grouped_by"], "name:c2.example.net");
    assert_eq!(f[0].evidence["via_proxy"], serde_json::json!(["10.0.0.3"]));
    assert!(f[0].summary.contains("through proxy 10.0.0.3"));
    assert!(f[0].score >= 0.75);
}

#[test]
fn a_beacon_rotating_addresses_is_grouped_by_ja4_and_asn() {
    let ctx = geo_ctx();
    let mut rng = Rng(5);
    let mut conns = Vec::new();
    let mut t = MON as f64;
    while t < (MON + 24 * 3600) as f64 {
        let dst = format!("185.10.{}.{}", rng.below(40), 1 + rng.below(200));
        let mut c = with_tls(
            tcp(t, "10.1.0.88", &dst, 443, (2100.0 + 50.0 * rng.sym()) as u64, 300),
            "",
            Some("t13d301000_c1ce1ea3ab34_0f4f3b1d0a0e"),
        );
        if let Some(tls) = c.app.tls.as_mut() {
            tls.server_name = None;
        }
        conns.push(c);
        t += 600.0 + 30.0 * rng.sym();
    }
    // The same host's browser (another JA4) to many US addresses: irregular, not a beacon.
    let mut t = MON as f64;
    while t < (MON + 24 * 3600) as f64 {
        t += 20.0 + rng.below(900) as f64;
        let dst = format!("45.33.{}.{}", rng.below(250), 1 + rng.below(250));
        conns.push(with_tls(
            tcp(t, "10.1.0.88", &dst, 443, 400 + rng.below(4000), 90_000),
            &format!("w{}.example", rng.below(900)),
            Some("t13d1516h2_8daaf6152771_02713d6af862"),
        ));
    }
    let conns = shuffle_sort(conns);
    // Allow-listing the client fingerprint removes it.
    let allowed = run(&conns, &ctx, Tuning::new().allow_ja4("t13d301000_c1ce1ea3ab34_0f4f3b1d0a0e"));
    assert!(allowed.iter().all(|x| x.score < 0.5), "{allowed:#?}");
    let f = run(&conns, &ctx, Tuning::default());
    let high: Vec<&Finding> = f.iter().filter(|x| x.score >= 0.5).collect();
    assert_eq!(high.len(), 1, "{high:#?}");
    let b = high[0];
    assert_eq!(b.evidence["grouped_by"], "ja4:t13d301000_c1ce1ea3ab34_0f4f3b1d0a0e|AS64500");
    assert!(b.score >= 0.75, "{}", b.score);
    assert!(b.evidence["dst_ips"].as_array().unwrap().len() > 20);
    assert_eq!(b.evidence["countries"], serde_json::json!(["RU"]));
    assert!(b.summary.contains("addresses sharing one TLS fingerprint"), "{}", b.summary);
}

/// A beacon to an IPv6 controller, from a host that also browses IPv6 and IPv4 sites: the
/// address grouping keys IPv6 destinations apart from each other and from the IPv4 ones.
#[test]
fn a_beacon_to_an_ipv6_controller_is_found_among_ipv6_browsing() {
    let ctx = shanghai();
    let mut rng = Rng(17);
    let mut conns = browsing(&mut rng, MON, 24, 4);
    let mut t = MON as f64;
    while t < (MON + 24 * 3600) as f64 {
        conns.push(tcp(t, "10.1.0.77", "2001:db8:66::7", 8443, (900.0 + 20.0 * rng.sym()) as u64, 3_000));
        // The same host's irregular IPv6 browsing, to many addresses.
        let other = format!("2001:db8:{:x}::{:x}", 1 + rng.below(40), 1 + rng.below(200));
        conns.push(tcp(t + 10.0 + rng.below(200) as f64, "10.1.0.77", &other, 443, 500 + rng.below(5000), 20_000));
        t += 600.0 + 20.0 * rng.sym();
    }
    let f = run(&shuffle_sort(conns), &ctx, Tuning::default());
    let b: Vec<&Finding> = f.iter().filter(|x| x.src == "10.1.0.77").collect();
    assert_eq!(b.len(), 1, "{b:#?}");
    assert!(b[0].score >= 0.6, "score {}", b[0].score);
    assert_eq!(b[0].dst, vec!["2001:db8:66::7".to_string()]);
    assert!(b[0].evidence["connections"].as_u64().unwrap_or(0) >= 140, "{}", b[0].evidence);
}
