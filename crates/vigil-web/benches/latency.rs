//! Page and API latency over a store of 10 000 findings and a 2 000-host inventory: each main
//! route is requested through the full router (guard, store, rendering) many times and the
//! p50/p95/max are printed. `cargo bench -p vigil-web --bench latency` (set VIGIL_BENCH_FINDINGS
//! to change the size). The pages read only findings and the inventory, never the connection
//! archive, so their latency does not grow with the number of Conn records.

use axum::body::Body;
use axum::http::{Method, Request};
use chrono::{FixedOffset, TimeZone};
use rand::{Rng as _, SeedableRng as _};
use std::time::{Duration, Instant};
use tower::ServiceExt as _;
use vigil_model::{Finding, FindingKind, Severity};

fn findings(n: usize) -> Vec<Finding> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let t0 = FixedOffset::east_opt(8 * 3600).unwrap().with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            let kind = FindingKind::ALL[i % FindingKind::ALL.len()];
            let score: f64 = rng.r#gen::<f64>();
            let first = t0 + chrono::Duration::seconds(rng.gen_range(0..90 * 86_400));
            let host = format!("10.{}.{}.{}", rng.gen_range(0..4), rng.gen_range(0..8), rng.gen_range(1..250));
            let dst = format!("198.51.{}.{}", rng.gen_range(0..255), rng.gen_range(1..255));
            Finding {
                id: Finding::stable_id(kind, &[&i.to_string()]),
                kind,
                severity: Severity::from_score(score),
                score,
                src: host.clone(),
                dst: vec![dst.clone(), format!("c{i}.example.net")],
                path: if matches!(kind, FindingKind::Springboard | FindingKind::LateralMovement) {
                    vec![dst.clone(), host.clone(), "10.9.9.9".into()]
                } else {
                    vec![]
                },
                first_seen: first,
                last_seen: first + chrono::Duration::seconds(rng.gen_range(60..7 * 86_400)),
                attack: vec!["T1071.001".into()],
                summary: format!("{host} talks to {dst} on a schedule that looks like a timer; finding {i}"),
                evidence: serde_json::json!({
                    "connections": rng.gen_range(10..5000), "interval_mode_s": 300, "interval_median_s": 301.5, "interval_mad_s": 4.2,
                    "interval_mode_count": 800, "active_local_hours": [0, 1, 2, 3, 22, 23], "active_days": 6, "span_days": 7,
                    "names": [format!("c{i}.example.net")], "countries": ["RU", "US"], "dst_ips": [dst],
                    "bytes_sent": rng.gen_range(1000..10_000_000), "ja4": ["t13d1516h2_8daaf6152771_02713d6af862"],
                }),
            }
        })
        .collect()
}

fn inventory(n: usize) -> serde_json::Value {
    let assets: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({"ip": format!("10.{}.{}.{}", i / 2000, (i / 250) % 8, i % 250 + 1), "names": [{"name": format!("host{i}.corp"), "source": "dns"}],
                "services": [{"proto": "tcp", "port": 443, "app": "ssl", "sessions": 10, "first_seen": 1, "last_seen": 2}],
                "os_hints": ["Windows"], "first_seen": 1_767_000_000_000_000_000i64, "last_seen": 1_768_000_000_000_000_000i64, "initiated": 1000, "served": 10})
        })
        .collect();
    serde_json::json!({"internal": ["10.0.0.0/8"], "assets": assets})
}

fn main() {
    let n: usize = std::env::var("VIGIL_BENCH_FINDINGS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let mut s = vigil_store::Store::open(dir.path()).unwrap();
    let fs = findings(n);
    let t = Instant::now();
    s.upsert_findings(&fs).unwrap();
    s.put_state("inventory", &inventory(2000)).unwrap();
    let id = s.upsert_user("bench", "admin", &vigil_web::auth::hash_password_with("x", 256, 1).unwrap()).unwrap().unwrap();
    let token = vigil_web::auth::new_api_token();
    s.create_api_token(id, &vigil_web::auth::token_hash(&token), "bench").unwrap();
    eprintln!("seeded {n} findings in {:?}", t.elapsed());
    let app = vigil_web::app(vigil_web::AppState::new(s, false));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let beacon = fs.iter().find(|f| f.kind == FindingKind::Beacon).unwrap().id.clone();
    let host = fs[0].src.clone();
    let routes = [
        "/".to_string(),
        "/findings".into(),
        "/findings?kind=beacon&severity=high".into(),
        "/findings?q=example.net".into(),
        format!("/findings/{beacon}"),
        format!("/findings/{beacon}/report.html"),
        "/hosts".into(),
        format!("/hosts/{host}"),
        "/api/overview".into(),
        "/api/findings?limit=100".into(),
        format!("/api/findings/{beacon}"),
    ];
    let reps = 60;
    println!("| route | p50 ms | p95 ms | max ms |");
    println!("| --- | --- | --- | --- |");
    for r in &routes {
        let mut times: Vec<Duration> = Vec::with_capacity(reps);
        for _ in 0..reps {
            let req = Request::builder()
                .method(Method::GET)
                .uri(r)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            let t = Instant::now();
            let status = rt.block_on(async {
                let resp = app.clone().oneshot(req).await.unwrap();
                let st = resp.status();
                let _ = axum::body::to_bytes(resp.into_body(), 64 << 20).await.unwrap();
                st
            });
            times.push(t.elapsed());
            assert!(status.is_success(), "{r}: {status}");
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let p = |q: f64| times[((times.len() as f64 * q).ceil() as usize).saturating_sub(1).min(times.len() - 1)];
        println!(
            "| `{}` | {:.1} | {:.1} | {:.1} |",
            r.replace(&beacon, "{id}").replace(&host, "{ip}"),
            ms(p(0.5)),
            ms(p(0.95)),
            ms(*times.last().unwrap())
        );
    }
}
