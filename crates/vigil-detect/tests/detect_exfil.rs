//! Exfiltration and rotating-destination detectors on synthetic streams: true positives and
//! the benign look-alikes (domestic nightly backup, allow-listed backup, CDN downloads, cloud
//! uploads through many addresses of one service) staying below medium.

mod common;
use common::*;
use vigil_detect::Detector;
use vigil_detect::exfil::{ExfilConfig, ExfilDetector, RotatingDetector};
use vigil_detect::util::Tuning;
use vigil_enrich::Context;
use vigil_model::{Conn, Finding, FindingKind};

fn run(det: &mut dyn Detector, conns: &[Conn], ctx: &Context) -> Vec<Finding> {
    for c in conns {
        det.observe(c, ctx);
    }
    let mut f = det.finish(ctx);
    Finding::rank(&mut f);
    f
}

fn exfil(conns: &[Conn], ctx: &Context, t: Tuning) -> Vec<Finding> {
    run(&mut ExfilDetector::new(ExfilConfig::default(), t), conns, ctx)
}

/// Office life for `n` hosts over `days` days: small uploads, bigger downloads, in hours.
fn office(rng: &mut Rng, days: i64, n: u8) -> Vec<Conn> {
    let mut v = Vec::new();
    for d in 0..days {
        // 09:00–17:00 Shanghai is 01:00–09:00 UTC.
        let start = MON + d * 86_400 + 3600;
        for h in 0..n {
            let host = format!("10.1.0.{}", 10 + h);
            for _ in 0..60 {
                let t = start as f64 + rng.below(8 * 3600) as f64;
                let dst = format!("45.33.{}.{}", rng.below(250), 1 + rng.below(250));
                v.push(with_tls(
                    tcp(t, &host, &dst, 443, 2000 + rng.below(20_000), 50_000 + rng.below(2_000_000)),
                    &format!("s{}.example", rng.below(300)),
                    None,
                ));
            }
        }
    }
    v
}

fn tls_upload(ts: f64, src: &str, dst: &str, bytes: u64, sni: Option<&str>) -> Conn {
    let mut c = with_tls(tcp(ts, src, dst, 443, bytes, bytes / 200), sni.unwrap_or(""), None);
    c.duration = Some(600.0);
    if sni.is_none()
        && let Some(t) = c.app.tls.as_mut()
    {
        t.server_name = None;
    }
    c
}

/// 02:00 Shanghai on day `d` (18:00 UTC the day before).
fn night(d: i64, hour: i64) -> f64 {
    (MON + d * 86_400 - 8 * 3600 + hour * 3600) as f64
}

#[test]
fn a_foreign_night_upload_is_high_and_explained() {
    let ctx = geo_ctx();
    let mut rng = Rng(1);
    let mut conns = office(&mut rng, 3, 8);
    for i in 0..8 {
        conns.push(tls_upload(night(2, 2) + i as f64 * 400.0, "10.1.0.12", "185.10.3.4", 100_000_000, None));
    }
    let f = exfil(&shuffle_sort(conns), &ctx, Tuning::default());
    let x = f.iter().find(|x| x.src == "10.1.0.12" && x.dst.contains(&"185.10.3.4".to_string())).expect("exfiltration found");
    assert_eq!(x.kind, FindingKind::Exfiltration);
    assert!(x.score >= 0.75, "{}", x.score);
    let e = &x.evidence;
    assert_eq!(e["foreign"], true);
    assert_eq!(e["country"], "RU");
    assert_eq!(e["bytes_sent"], 800_000_000u64);
    assert!(e["off_hours_share"].as_f64().unwrap() > 0.99);
    assert!(e["encrypted_share"].as_f64().unwrap() > 0.99);
    assert_eq!(e["hosts_using_destination"], 1);
    assert!(x.summary.contains("800.0 MB") && x.summary.contains("RU"), "{}", x.summary);
    assert!(x.attack.contains(&"T1041".to_string()));
    // Office traffic raises nothing.
    assert!(f.iter().all(|y| y.src == "10.1.0.12" || y.score < 0.5), "{f:#?}");
}

#[test]
fn critical_zone_raises_the_same_upload() {
    let ctx = geo_ctx();
    let mut rng = Rng(2);
    let mut conns = office(&mut rng, 2, 6);
    conns.push(tls_upload(night(1, 3), "10.1.0.13", "185.10.9.9", 30_000_000, None));
    conns.push(tls_upload(night(1, 3), "10.20.1.5", "185.10.9.10", 30_000_000, None));
    let f = exfil(&shuffle_sort(conns), &ctx, Tuning::default());
    let office_host = f.iter().find(|x| x.src == "10.1.0.13").expect("office upload");
    let core_host = f.iter().find(|x| x.src == "10.20.1.5").expect("core upload");
    assert!(core_host.score > office_host.score);
    assert_eq!(core_host.evidence["critical_zone"], true);
}

/// A destination's hosts are counted once each, whether or not a host had room for the
/// destination's aggregate (the per-host cap): here one host past its cap and three within it.
#[test]
fn hosts_of_a_destination_are_counted_once_each_across_the_per_host_cap() {
    let ctx = geo_ctx();
    let mut conns = office(&mut Rng(11), 2, 20);
    let x = "185.10.3.4";
    // 10.1.0.200 fills its two tracked destinations first, then sends to X three times.
    conns.push(tls_upload(night(0, 1), "10.1.0.200", "185.10.50.1", 1_000, None));
    conns.push(tls_upload(night(0, 1) + 10.0, "10.1.0.200", "185.10.50.2", 1_000, None));
    for i in 0..3 {
        conns.push(tls_upload(night(1, 1) + f64::from(i) * 60.0, "10.1.0.200", x, 1_000, None));
    }
    for (i, h) in ["10.1.0.201", "10.1.0.202"].iter().enumerate() {
        conns.push(tls_upload(night(1, 2) + i as f64 * 60.0, h, x, 1_000, None));
        conns.push(tls_upload(night(1, 2) + i as f64 * 60.0 + 30.0, h, x, 1_000, None));
    }
    for i in 0..8 {
        conns.push(tls_upload(night(1, 3) + f64::from(i) * 400.0, "10.1.0.203", x, 100_000_000, None));
    }
    let cfg = ExfilConfig { max_dsts_per_host: 2, ..ExfilConfig::default() };
    let f = run(&mut ExfilDetector::new(cfg, Tuning::default()), &shuffle_sort(conns), &ctx);
    let found = f.iter().find(|y| y.src == "10.1.0.203").expect("the large upload is reported");
    assert_eq!(found.evidence["hosts_using_destination"], 4, "{}", found.evidence);
}

#[test]
fn domestic_allowed_and_download_traffic_stay_below_medium() {
    let ctx = geo_ctx();
    let mut rng = Rng(3);
    let mut conns = office(&mut rng, 5, 6);
    for d in 0..5 {
        // Domestic nightly backup, 500 MB at 01:00.
        conns.push(tls_upload(night(d, 1), "10.1.0.30", "116.62.5.5", 500_000_000, Some("backup.example.cn")));
        // Backup to a foreign provider that the site allow-lists by domain.
        conns.push(tls_upload(night(d, 1), "10.1.0.31", "45.33.7.7", 500_000_000, Some("vault.backup-provider.example")));
        // CDN download of 2 GB.
        conns.push(with_tls(tcp(night(d, 11), "10.1.0.32", "45.33.8.8", 443, 30_000, 2_000_000_000), "cdn.example", None));
    }
    let f = exfil(&shuffle_sort(conns), &ctx, Tuning::new().allow_domain("backup-provider.example"));
    for x in &f {
        assert!(x.score < 0.5, "benign transfer at {}: {}", x.score, x.summary);
    }
    assert!(f.iter().all(|x| x.src != "10.1.0.31" && x.src != "10.1.0.32"));
    // Without home countries (no geo judgement) a regular nightly backup is still damped.
    let plain = shanghai();
    let mut v = office(&mut Rng(4), 5, 6);
    for d in 0..5 {
        v.push(tls_upload(night(d, 1), "10.1.0.30", "116.62.5.5", 500_000_000, Some("backup.example.cn")));
    }
    let f = exfil(&shuffle_sort(v), &plain, Tuning::default());
    for x in &f {
        assert!(x.score < 0.5, "unknown-country scheduled backup at {}: {}", x.score, x.summary);
        assert_eq!(x.evidence["scheduled"], true);
    }
}

#[test]
fn rotating_encrypted_uploads_to_new_foreign_addresses() {
    let ctx = geo_ctx();
    let mut rng = Rng(5);
    let mut conns = office(&mut rng, 5, 6);
    let dsts = ["185.10.1.1", "45.33.200.2", "185.10.77.3", "45.33.201.4", "185.10.90.5"];
    for (d, dst) in dsts.iter().enumerate() {
        let bytes = (30_000_000.0 * (1.0 + 0.2 * rng.sym())) as u64;
        conns.push(tls_upload(night(d as i64, 1) + rng.below(3600) as f64, "10.1.0.40", dst, bytes, None));
    }
    let mut det = RotatingDetector::new(ExfilConfig::default(), Tuning::default());
    let f = run(&mut det, &shuffle_sort(conns), &ctx);
    assert_eq!(f.len(), 1, "{f:#?}");
    let x = &f[0];
    assert_eq!(x.kind, FindingKind::RotatingDestinations);
    assert_eq!(x.src, "10.1.0.40");
    assert!(x.score >= 0.75, "{}", x.score);
    assert_eq!(x.evidence["destinations"].as_array().unwrap().len(), 5);
    assert_eq!(x.evidence["all_foreign"], true);
    assert!(x.summary.contains("5 different"), "{}", x.summary);
}

#[test]
fn rotation_with_uneven_nightly_volumes_is_found_but_not_a_small_post_among_them() {
    // What a tool stages varies from night to night: 31, 222 and 296 MB (a factor 7 between
    // the smallest and the median) is still one habit.
    let ctx = geo_ctx();
    let mut rng = Rng(9);
    let mut conns = office(&mut rng, 5, 6);
    for (d, (dst, mb)) in [("185.10.1.1", 31u64), ("45.33.200.2", 222), ("185.10.77.3", 296)].iter().enumerate() {
        conns.push(tls_upload(night(d as i64, 2) + rng.below(3600) as f64, "10.1.0.40", dst, mb * 1_000_000, None));
    }
    // Another host: two large uploads and a 150 KB post to a third address, more than an order
    // of magnitude apart: two similar sessions are not a rotation.
    for (d, (dst, bytes)) in [("185.10.90.5", 150_000u64), ("45.33.201.4", 180_000_000), ("185.10.91.6", 160_000_000)].iter().enumerate() {
        conns.push(tls_upload(night(d as i64, 3) + rng.below(3600) as f64, "10.1.0.41", dst, *bytes, None));
    }
    let mut det = RotatingDetector::new(ExfilConfig::default(), Tuning::default());
    let f = run(&mut det, &shuffle_sort(conns), &ctx);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].src, "10.1.0.40");
    assert_eq!(f[0].evidence["destinations"].as_array().unwrap().len(), 3);
}

#[test]
fn one_cloud_service_behind_many_addresses_is_not_rotation() {
    let ctx = geo_ctx();
    let mut rng = Rng(6);
    let mut conns = office(&mut rng, 5, 6);
    for d in 0..5 {
        let dst = format!("45.33.{}.{}", 100 + d, 9);
        conns.push(tls_upload(night(d, 1), "10.1.0.41", &dst, 20_000_000, Some("upload.cloud-drive.example")));
        // Downloads from new CDN addresses every night.
        let cdn = format!("45.33.{}.{}", 150 + d, 10);
        conns.push(with_tls(tcp(night(d, 2), "10.1.0.42", &cdn, 443, 20_000, 300_000_000), "cdn.example", None));
    }
    let mut det = RotatingDetector::new(ExfilConfig::default(), Tuning::default());
    let f = run(&mut det, &shuffle_sort(conns), &ctx);
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn one_pass_reports_both_kinds_as_the_two_detectors_do_alone() {
    // run_all's detector keeps exfiltration's uploads and rotation's sessions in one pass and
    // counts each address's hosts once; its findings are those of the two detectors apart.
    let ctx = geo_ctx();
    let mut rng = Rng(11);
    let mut conns = office(&mut rng, 5, 6);
    for (d, dst) in ["185.10.1.1", "45.33.200.2", "185.10.77.3", "45.33.201.4"].iter().enumerate() {
        conns.push(tls_upload(night(d as i64, 1) + rng.below(3600) as f64, "10.1.0.40", dst, 40_000_000, None));
    }
    // A large night upload to one foreign address, and sessions to an address another host
    // also uses (not "unseen").
    for d in 0..3 {
        conns.push(tls_upload(night(d, 3), "10.1.0.41", "185.10.5.5", 900_000_000, Some("drop.example")));
        conns.push(tls_upload(night(d, 2) + 60.0, "10.1.0.42", &format!("45.33.210.{}", d + 1), 30_000_000, None));
    }
    conns.push(tls_upload(night(1, 4), "10.1.0.43", "45.33.210.2", 20_000_000, None));
    let conns = shuffle_sort(conns);
    let both = run(&mut ExfilDetector::with_rotation(ExfilConfig::default(), Tuning::default()), &conns, &ctx);
    let mut apart = exfil(&conns, &ctx, Tuning::default());
    apart.extend(run(&mut RotatingDetector::new(ExfilConfig::default(), Tuning::default()), &conns, &ctx));
    Finding::rank(&mut apart);
    let kinds = |f: &[Finding]| f.iter().map(|x| (x.kind, x.src.clone())).collect::<Vec<_>>();
    assert!(kinds(&both).contains(&(FindingKind::RotatingDestinations, "10.1.0.40".into())), "{:?}", kinds(&both));
    assert!(kinds(&both).contains(&(FindingKind::Exfiltration, "10.1.0.41".into())), "{:?}", kinds(&both));
    // 10.1.0.42's second address is shared with 10.1.0.43: two unseen ones are too few.
    assert!(!kinds(&both).contains(&(FindingKind::RotatingDestinations, "10.1.0.42".into())), "{:?}", kinds(&both));
    let json = |f: &[Finding]| serde_json::to_string(f).unwrap();
    assert_eq!(json(&both), json(&apart));
}

#[test]
fn the_default_detectors_report_their_kinds() {
    let ctx = geo_ctx();
    let mut rng = Rng(5);
    let mut conns = office(&mut rng, 5, 6);
    for (d, dst) in ["185.10.1.1", "45.33.200.2", "185.10.77.3"].iter().enumerate() {
        conns.push(tls_upload(night(d as i64, 1) + rng.below(3600) as f64, "10.1.0.40", dst, 60_000_000, None));
    }
    let conns = shuffle_sort(conns);
    let rot = run(&mut RotatingDetector::default(), &conns, &ctx);
    assert!(!rot.is_empty() && rot.iter().all(|f| f.kind == FindingKind::RotatingDestinations), "{rot:#?}");
    let ex = run(&mut ExfilDetector::default(), &conns, &ctx);
    assert_eq!(ex, exfil(&conns, &ctx, Tuning::default()));
    assert!(ex.iter().all(|f| f.kind == FindingKind::Exfiltration));
}
