//! The dashboard and API end to end through the real router: authentication on every route,
//! CSRF, logout, roles, hostile text rendered inert on every page, in reports and in the API, and
//! the OpenAPI document against the server's actual routes and responses.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::{FixedOffset, TimeZone};
use serde_json::{Value, json};
use std::net::IpAddr;
use tower::ServiceExt as _;
use vigil_model::{Conn, Finding, FindingKind, HttpTxn, Severity, Timestamp, TlsMeta};
use vigil_store::Store;
use vigil_web::{Access, AppState, ROUTES, app, auth};

const XSS: &str = "<script>alert(1)</script>";
const ATTR: &str = "\"><img src=x onerror=alert(2)>";
const QUOTE: &str = "'onmouseover='alert(3)";
const CTRL: &str = "\u{1b}[2J\u{0}\u{7}\u{202e}gnp.exe";

fn hostile(tag: &str) -> String {
    format!("{tag}{XSS}{ATTR}{QUOTE}{CTRL}")
}

struct World {
    app: Router,
    _dir: tempfile::TempDir,
    beacon_id: String,
    hostile_id: String,
    host: String,
    token_viewer: String,
    token_analyst: String,
    token_admin: String,
}

fn t(day: u32, h: u32) -> chrono::DateTime<FixedOffset> {
    FixedOffset::east_opt(3600).unwrap().with_ymd_and_hms(2026, 3, day, h, 5, 0).unwrap()
}

/// A beacon produced by the real detector from connection records whose TLS SNI, HTTP host and
/// user agent are hostile.
fn detector_findings() -> Vec<Finding> {
    let src: IpAddr = "10.0.0.5".parse().unwrap();
    let dst: IpAddr = "198.51.100.7".parse().unwrap();
    let start = 1_772_000_000i64;
    let mut conns = Vec::new();
    for i in 0..400i64 {
        let ts = Timestamp((start + i * 300 + (i % 3)) * 1_000_000_000);
        let mut c = Conn::new(ts, src, 40000 + (i % 1000) as u16, dst, 443, 6);
        c.duration = Some(1.5);
        c.orig_bytes = Some(900);
        c.resp_bytes = Some(4200);
        c.orig_pkts = 6;
        c.resp_pkts = 6;
        c.history = "ShADadFf".into();
        c.conn_state = vigil_model::ConnState::SF;
        c.service = Some("ssl".into());
        c.app.tls = Some(Box::new(TlsMeta { server_name: Some(format!("{}.evil.example", hostile("sni"))), ..Default::default() }));
        c.app.http.push(HttpTxn { ts, host: Some(hostile("host")), user_agent: Some(hostile("ua")), ..Default::default() });
        conns.push(c);
    }
    let site =
        vigil_enrich::Site::parse("[site]\nname = \"test\"\ninternal = [\"10.0.0.0/8\"]\n", std::path::Path::new("site.toml")).unwrap();
    let ctx = vigil_enrich::Context::new(site);
    vigil_detect::run_all(&conns, &ctx)
}

fn hand_findings() -> Vec<Finding> {
    let big = format!("{}{}", hostile("big"), "A".repeat(100_000));
    let mk = |kind: FindingKind, key: &str, src: &str, summary: String, evidence: Value, path: Vec<String>| Finding {
        id: Finding::stable_id(kind, &[key]),
        kind,
        severity: Severity::High,
        score: 0.8,
        src: src.into(),
        dst: vec![hostile("dst"), "203.0.113.9".into(), "c2.example.net".into()],
        path,
        first_seen: t(2, 2),
        last_seen: t(4, 3),
        attack: vec!["T1071.001".into()],
        summary,
        evidence,
    };
    vec![
        mk(
            FindingKind::Exfiltration,
            "x",
            &hostile("src"),
            format!("summary {}", hostile("sum")),
            json!({"names": [hostile("dns")], "dns_query": hostile("q"), "http_host": hostile("hh"), "user_agent": hostile("ua2"), "big": big, "country": "KP",
                   "destinations": [{"dst": "203.0.113.9", "first_seen": "2026-03-02T02:10:00+01:00", "name": hostile("dname")}]}),
            vec![],
        ),
        mk(
            FindingKind::Phishing,
            "p",
            "admin@example.org",
            "phishing mail".into(),
            json!({"subject": hostile("subj"), "from": hostile("from"), "file": hostile("file")}),
            vec![],
        ),
        mk(
            FindingKind::Springboard,
            "s",
            "10.0.0.9",
            "chain".into(),
            json!({"origin": "203.0.113.9", "origin_zone": hostile("zone"), "hops": [{"from": "203.0.113.9", "to": "10.0.0.9", "from_zone": "outside", "to_zone": hostile("z2"), "service": hostile("svc"), "delay_s": 30.0}]}),
            vec!["203.0.113.9".into(), "10.0.0.9".into(), hostile("hop")],
        ),
    ]
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let det = detector_findings();
    let beacon = det.iter().find(|f| f.kind == FindingKind::Beacon).expect("the beacon detector fires on a 300 s timer").clone();
    s.upsert_findings(&det).unwrap();
    let hand = hand_findings();
    s.upsert_findings(&hand).unwrap();
    let mut tokens = Vec::new();
    for (name, role) in [("vera", "viewer"), ("anna", "analyst"), ("adam", "admin")] {
        let id = s.upsert_user(name, role, &auth::hash_password_with("pw-of-".to_string().as_str(), 256, 1).unwrap()).unwrap().unwrap();
        let tok = auth::new_api_token();
        s.create_api_token(id, &auth::token_hash(&tok), "test").unwrap();
        tokens.push(tok);
    }
    s.upsert_user("evil", "analyst", &auth::hash_password_with(&hostile("pw"), 256, 1).unwrap()).unwrap();
    // The inventory as `vigil hunt` saves it, with a hostile name.
    s.put_state(
        "inventory",
        &json!({"internal": ["10.0.0.0/8"], "assets": [{"ip": "10.0.0.5", "names": [{"name": hostile("asset"), "source": "dns"}], "first_seen": 1772000000000000000i64, "last_seen": 1772100000000000000i64, "initiated": 400, "hours_utc": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24]}]}),
    )
    .unwrap();
    let state = AppState::new(s, false);
    World {
        app: app(state),
        _dir: dir,
        beacon_id: beacon.id.clone(),
        hostile_id: hand[0].id.clone(),
        host: beacon.src.clone(),
        token_viewer: tokens[0].clone(),
        token_analyst: tokens[1].clone(),
        token_admin: tokens[2].clone(),
    }
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn send(app: &Router, method: Method, uri: &str, headers: &[(&str, &str)], body: Option<(&str, String)>) -> Resp {
    let mut b = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = match body {
        Some((ct, data)) => b.header(header::CONTENT_TYPE, ct).body(Body::from(data)).unwrap(),
        None => b.body(Body::empty()).unwrap(),
    };
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 50 << 20).await.unwrap();
    Resp { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

fn set_cookie(r: &Resp, name: &str) -> Option<String> {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').next().and_then(|kv| kv.strip_prefix(&format!("{name}="))).map(str::to_string))
}

fn hidden_csrf(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    html[i..].split('"').next().unwrap().to_string()
}

/// Logs in through the form; returns (session cookie header, CSRF token).
async fn login(app: &Router, user: &str, pw: &str) -> (String, String) {
    let form = send(app, Method::GET, "/login", &[], None).await;
    let lt = set_cookie(&form, "vigil_login").expect("login cookie");
    assert_eq!(hidden_csrf(&form.body), lt);
    let body = format!("username={}&password={}&csrf={}", user, pw, lt);
    let r =
        send(app, Method::POST, "/login", &[("cookie", &format!("vigil_login={lt}"))], Some(("application/x-www-form-urlencoded", body)))
            .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let raw = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("vigil_session="))
        .unwrap();
    assert!(raw.contains("HttpOnly") && raw.contains("SameSite=Strict"), "{raw}");
    let sess = set_cookie(&r, "vigil_session").unwrap();
    let cookie = format!("vigil_session={sess}");
    let page = send(app, Method::GET, "/", &[("cookie", &cookie)], None).await;
    assert_eq!(page.status, StatusCode::OK);
    (cookie, hidden_csrf(&page.body))
}

fn concrete(path: &str, w: &World) -> String {
    path.replace("{id}", &pages_enc(&w.beacon_id)).replace("{ip}", &pages_enc(&w.host))
}

fn pages_enc(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).unwrap()
}

#[tokio::test]
async fn every_route_refuses_an_unauthenticated_request() {
    let w = world();
    let mut checked = 0;
    for r in ROUTES.iter().filter(|r| r.access != Access::Public) {
        let uri = concrete(r.path, &w);
        for creds in [vec![], vec![("cookie", "vigil_session=forged")], vec![("authorization", "Bearer vigil_forged")]] {
            let body = (r.method == "POST").then(|| ("application/x-www-form-urlencoded", "status=resolved&csrf=x".to_string()));
            let resp = send(&w.app, method(r.method), &uri, &creds, body).await;
            if r.path.starts_with("/api/") {
                assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{} {} with {:?}", r.method, uri, creds);
            } else {
                assert_eq!(resp.status, StatusCode::SEE_OTHER, "{} {} with {:?}", r.method, uri, creds);
                assert_eq!(resp.headers.get(header::LOCATION).unwrap(), "/login");
            }
            assert!(!resp.body.contains(&w.beacon_id) && !resp.body.contains("evil.example"), "{} leaks data", r.path);
            checked += 1;
        }
    }
    assert!(checked >= 60, "{checked}");
    // Nothing was changed by the refused POSTs.
    let r = send(
        &w.app,
        Method::GET,
        &format!("/api/findings/{}", w.beacon_id),
        &[("authorization", &format!("Bearer {}", w.token_viewer))],
        None,
    )
    .await;
    assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap()["triage"]["status"], "new");
    // The public routes really are only the login form and the static assets.
    let public: Vec<&str> = ROUTES.iter().filter(|r| r.access == Access::Public).map(|r| r.path).collect();
    assert_eq!(public, vec!["/login", "/login", "/static/app.css", "/static/app.js"]);
}

#[tokio::test]
async fn wrong_password_and_login_csrf_are_refused() {
    let w = world();
    let form = send(&w.app, Method::GET, "/login", &[], None).await;
    let lt = set_cookie(&form, "vigil_login").unwrap();
    let post = |pw: &str, csrf: &str, cookie: &str| {
        let body = format!("username=anna&password={pw}&csrf={csrf}");
        let app = w.app.clone();
        let cookie = cookie.to_string();
        async move { send(&app, Method::POST, "/login", &[("cookie", &cookie)], Some(("application/x-www-form-urlencoded", body))).await }
    };
    let r = post("wrong", &lt, &format!("vigil_login={lt}")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&r, "vigil_session").is_none());
    let r = post("pw-of-", "forged", &format!("vigil_login={lt}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "login CSRF");
    let r = post("pw-of-", &lt, "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no login cookie");
    let r = post("pw-of-", &lt, &format!("vigil_login={lt}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn csrf_token_is_required_and_checked_on_state_changes() {
    let w = world();
    let (cookie, csrf) = login(&w.app, "anna", "pw-of-").await;
    let uri = format!("/findings/{}/triage", w.beacon_id);
    let form = |tok: Option<&str>| {
        let mut s = "status=acknowledged&assignee=anna&notes=checked".to_string();
        if let Some(t) = tok {
            s.push_str(&format!("&csrf={t}"));
        }
        ("application/x-www-form-urlencoded", s)
    };
    let r = send(&w.app, Method::POST, &uri, &[("cookie", &cookie)], Some(form(None))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(&w.app, Method::POST, &uri, &[("cookie", &cookie)], Some(form(Some("wrong")))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(&w.app, Method::POST, &uri, &[("cookie", &cookie)], Some(form(Some(&csrf[..csrf.len() - 1])))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let api = format!("/api/findings/{}", w.beacon_id);
    let r = send(&w.app, Method::GET, &api, &[("cookie", &cookie)], None).await;
    assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap()["triage"]["status"], "new", "refused requests changed nothing");

    let r = send(&w.app, Method::POST, &uri, &[("cookie", &cookie)], Some(form(Some(&csrf)))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let v: Value = serde_json::from_str(&send(&w.app, Method::GET, &api, &[("cookie", &cookie)], None).await.body).unwrap();
    assert_eq!(v["triage"]["status"], "acknowledged");
    assert_eq!(v["triage"]["assignee"], "anna");
    assert_eq!(v["audit"][0]["user"], "anna");
    assert!(v["audit"][0]["detail"].as_str().unwrap().contains("status=acknowledged"));

    // JSON API with a session: the token goes in X-CSRF-Token.
    let body = ("application/json", json!({"status": "resolved"}).to_string());
    let r = send(&w.app, Method::POST, &format!("{api}/triage"), &[("cookie", &cookie)], Some(body.clone())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(&w.app, Method::POST, &format!("{api}/triage"), &[("cookie", &cookie), ("x-csrf-token", &csrf)], Some(body.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // An API token is not sent by browsers on their own, so it needs no CSRF token.
    let body = ("application/json", json!({"status": "false_positive", "notes": "lab host"}).to_string());
    let r = send(&w.app, Method::POST, &format!("{api}/triage"), &[("authorization", &format!("Bearer {}", w.token_analyst))], Some(body))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap()["triage"]["status"], "false_positive");
    let r = send(
        &w.app,
        Method::POST,
        &format!("{api}/triage"),
        &[("authorization", &format!("Bearer {}", w.token_analyst))],
        Some(("application/json", json!({"status": "deleted"}).to_string())),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn logout_invalidates_the_session_on_the_server() {
    let w = world();
    let (cookie, csrf) = login(&w.app, "vera", "pw-of-").await;
    assert_eq!(send(&w.app, Method::GET, "/api/me", &[("cookie", &cookie)], None).await.status, StatusCode::OK);
    // Logout needs the CSRF token too (a foreign page must not log users out).
    let r = send(&w.app, Method::POST, "/logout", &[("cookie", &cookie)], Some(("application/x-www-form-urlencoded", String::new()))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r =
        send(&w.app, Method::POST, "/logout", &[("cookie", &cookie)], Some(("application/x-www-form-urlencoded", format!("csrf={csrf}"))))
            .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.headers.get_all(header::SET_COOKIE).iter().any(|v| v.to_str().unwrap().contains("Max-Age=0")));
    // The old cookie, replayed, is dead.
    assert_eq!(send(&w.app, Method::GET, "/api/me", &[("cookie", &cookie)], None).await.status, StatusCode::UNAUTHORIZED);
    let r = send(&w.app, Method::GET, "/", &[("cookie", &cookie)], None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn roles_are_enforced() {
    let w = world();
    let (cookie, csrf) = login(&w.app, "vera", "pw-of-").await;
    let detail = send(&w.app, Method::GET, &format!("/findings/{}", w.beacon_id), &[("cookie", &cookie)], None).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(!detail.body.contains("triage-save"), "no triage form for a viewer");
    let r = send(
        &w.app,
        Method::POST,
        &format!("/findings/{}/triage", w.beacon_id),
        &[("cookie", &cookie)],
        Some(("application/x-www-form-urlencoded", format!("status=resolved&csrf={csrf}"))),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let bearer = |t: &str| format!("Bearer {t}");
    let r = send(
        &w.app,
        Method::POST,
        &format!("/api/findings/{}/triage", w.beacon_id),
        &[("authorization", &bearer(&w.token_viewer))],
        Some(("application/json", "{\"status\":\"resolved\"}".into())),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for tok in [&w.token_viewer, &w.token_analyst] {
        assert_eq!(send(&w.app, Method::GET, "/api/audit", &[("authorization", &bearer(tok))], None).await.status, StatusCode::FORBIDDEN);
        assert_eq!(send(&w.app, Method::GET, "/audit", &[("authorization", &bearer(tok))], None).await.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(send(&w.app, Method::GET, "/api/audit", &[("authorization", &bearer(&w.token_admin))], None).await.status, StatusCode::OK);
    let r = send(&w.app, Method::GET, "/api/findings", &[("authorization", &bearer(&w.token_viewer))], None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap()["findings"][0]["triage"]["status"], "new", "nothing changed");
}

/// Every `<script` in a page is our own script tag, and no hostile markup survived.
fn assert_inert(page: &str, what: &str) {
    for (i, _) in page.match_indices("<script") {
        assert!(page[i..].starts_with("<script src=\"/static/app.js\" defer></script>"), "{what}: foreign script at {i}");
    }
    for bad in ["<img", "onerror=alert(2)>", "'onmouseover='", "\u{1b}", "\u{0}", "\u{7}", "\u{202e}", "<script>alert"] {
        assert!(!page.contains(bad), "{what}: contains {bad:?}");
    }
}

#[tokio::test]
async fn hostile_strings_render_inert_everywhere() {
    let w = world();
    let (cookie, _) = login(&w.app, "adam", "pw-of-").await;
    let auth = [("cookie", cookie.as_str())];
    let mut pages: Vec<String> =
        vec!["/".into(), "/findings".into(), "/findings?q=%3Cscript%3E".into(), "/hosts".into(), "/exposure".into(), "/audit".into()];
    let all: Value = serde_json::from_str(
        &send(&w.app, Method::GET, "/api/findings?limit=1000", &[("authorization", &format!("Bearer {}", w.token_admin))], None).await.body,
    )
    .unwrap();
    let items = all["findings"].as_array().unwrap();
    assert!(items.len() >= 4);
    for it in items {
        let id = it["finding"]["id"].as_str().unwrap();
        let src = it["finding"]["src"].as_str().unwrap();
        pages.push(format!("/findings/{}", pages_enc(id)));
        pages.push(format!("/hosts/{}", pages_enc(src)));
    }
    // Hostile search text, reflected back into the form.
    pages.push(format!("/findings?q={}", pages_enc(&hostile("q"))));
    pages.push(format!("/findings?kind={}&src={}", pages_enc(ATTR), pages_enc(&hostile("s"))));
    let mut saw_escaped = false;
    for p in &pages {
        let r = send(&w.app, Method::GET, p, &auth, None).await;
        assert!(r.status == StatusCode::OK || r.status == StatusCode::NOT_FOUND, "{p}: {}", r.status);
        assert_inert(&r.body, p);
        saw_escaped |= r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;");
        if r.status == StatusCode::OK {
            assert_eq!(r.headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
            assert!(r.headers.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap().contains("script-src 'self'"));
        }
    }
    assert!(saw_escaped, "the hostile text is shown, as text");
    // The detector's own finding carries the hostile SNI into its evidence and summary, inert.
    let d = send(&w.app, Method::GET, &format!("/findings/{}", pages_enc(&w.beacon_id)), &auth, None).await;
    assert!(d.body.contains("sni&lt;script&gt;"), "hostile SNI shown escaped");
    assert!(d.body.contains("<svg"), "evidence drawn");

    for it in items {
        let id = it["finding"]["id"].as_str().unwrap();
        let rep = send(&w.app, Method::GET, &format!("/findings/{}/report.html", pages_enc(id)), &auth, None).await;
        assert_eq!(rep.status, StatusCode::OK);
        assert!(!rep.body.contains("<script"), "the report has no script at all");
        assert_inert(&rep.body, "report");
        assert_no_external_refs(&rep.body);
        let stix = send(&w.app, Method::GET, &format!("/findings/{}/stix", pages_enc(id)), &auth, None).await;
        let b: Value = serde_json::from_str(&stix.body).expect("STIX is JSON");
        for o in b["objects"].as_array().unwrap() {
            if let Some(p) = o.get("pattern").and_then(Value::as_str) {
                assert!(!p.contains('<') && !p.contains('"'), "hostile text never becomes a pattern: {p}");
            }
        }
    }
    // The API returns the hostile text as data, exactly, in JSON with nosniff.
    let r = send(
        &w.app,
        Method::GET,
        &format!("/api/findings/{}", pages_enc(&w.hostile_id)),
        &[("authorization", &format!("Bearer {}", w.token_admin))],
        None,
    )
    .await;
    assert!(r.headers.get(header::CONTENT_TYPE).unwrap().to_str().unwrap().starts_with("application/json"));
    assert_eq!(r.headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["finding"]["evidence"]["user_agent"], hostile("ua2"));
    assert!(v["finding"]["evidence"]["big"].as_str().unwrap().len() > 100_000);
    assert!(!r.body.contains('\u{1b}'), "control characters are JSON-escaped");
}

fn assert_no_external_refs(doc: &str) {
    for attr in ["src=", "href=", "url(", "@import"] {
        for (i, _) in doc.match_indices(attr) {
            let rest = doc[i + attr.len()..].trim_start_matches(['"', '\'', '(']);
            assert!(
                !rest.starts_with("http") && !rest.starts_with("//"),
                "external reference at {i}: {}",
                &doc[i..(i + 60).min(doc.len())]
            );
        }
    }
    assert!(!doc.contains("<link") && !doc.contains("<iframe") && !doc.contains("<object"));
}

#[tokio::test]
async fn beacon_report_and_stix_carry_the_evidence() {
    let w = world();
    let h = [("authorization", format!("Bearer {}", w.token_viewer))];
    let h: Vec<(&str, &str)> = h.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let rep = send(&w.app, Method::GET, &format!("/findings/{}/report.html", w.beacon_id), &h, None).await;
    assert!(rep.headers.get(header::CONTENT_DISPOSITION).unwrap().to_str().unwrap().starts_with("attachment"));
    assert!(rep.body.contains("Call intervals") && rep.body.contains("Connection timeline"), "beacon charts");
    assert!(rep.body.contains("<style>") && rep.body.contains("<svg"));
    assert!(rep.headers.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap().starts_with("default-src 'none'"));
    let stix: Value =
        serde_json::from_str(&send(&w.app, Method::GET, &format!("/api/findings/{}/stix", w.beacon_id), &h, None).await.body).unwrap();
    assert_eq!(stix["type"], "bundle");
    let objs = stix["objects"].as_array().unwrap();
    let types: Vec<&str> = objs.iter().map(|o| o["type"].as_str().unwrap()).collect();
    for t in ["identity", "indicator", "observed-data", "sighting", "report", "ipv4-addr"] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    let patterns: Vec<&str> = objs.iter().filter_map(|o| o["pattern"].as_str()).collect();
    assert!(patterns.contains(&"[ipv4-addr:value = '198.51.100.7']"), "{patterns:?}");
    assert!(!patterns.iter().any(|p| p.contains("10.0.0.5")), "our own host is not an indicator");
    for o in objs {
        assert_eq!(o["spec_version"], "2.1");
        let id = o["id"].as_str().unwrap();
        assert!(id.starts_with(&format!("{}--", o["type"].as_str().unwrap())) && id.len() == o["type"].as_str().unwrap().len() + 2 + 36);
    }
    // Springboard: the chain is drawn across zones.
    let all: Value = serde_json::from_str(&send(&w.app, Method::GET, "/api/findings?kind=springboard", &h, None).await.body).unwrap();
    let sid = all["findings"][0]["finding"]["id"].as_str().unwrap().to_string();
    let page = send(&w.app, Method::GET, &format!("/findings/{sid}"), &h, None).await;
    assert!(page.body.contains("Chain across zones") && page.body.contains("marker-end"));
    let x: Value = serde_json::from_str(&send(&w.app, Method::GET, "/api/findings?kind=exfiltration", &h, None).await.body).unwrap();
    let xid = x["findings"][0]["finding"]["id"].as_str().unwrap().to_string();
    let page = send(&w.app, Method::GET, &format!("/findings/{xid}"), &h, None).await;
    assert!(page.body.contains("Hour-of-day × day"));
}

/// A small OpenAPI 3 schema check: types, required fields, enums, `$ref`, nullable.
fn validate(v: &Value, schema: &Value, root: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        return validate(v, &root["components"]["schemas"][name], root, at);
    }
    if v.is_null() {
        return if schema.get("nullable") == Some(&Value::Bool(true)) { Ok(()) } else { Err(format!("{at}: null")) };
    }
    let ty = schema.get("type").and_then(Value::as_str).unwrap_or("");
    let ok = match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        _ => true,
    };
    if !ok {
        return Err(format!("{at}: expected {ty}, got {v}"));
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Err(format!("{at}: {v} not in enum"));
    }
    if let Some(req) = schema.get("required").and_then(Value::as_array) {
        for k in req {
            if v.get(k.as_str().unwrap()).is_none() {
                return Err(format!("{at}: missing {k}"));
            }
        }
    }
    if let (Some(props), Some(obj)) = (schema.get("properties").and_then(Value::as_object), v.as_object()) {
        for (k, s) in props {
            if let Some(x) = obj.get(k) {
                validate(x, s, root, &format!("{at}.{k}"))?;
            }
        }
    }
    if let (Some(ap), Some(obj)) = (schema.get("additionalProperties"), v.as_object()) {
        for (k, x) in obj {
            validate(x, ap, root, &format!("{at}.{k}"))?;
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            validate(x, items, root, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn openapi_lists_every_route_and_the_server_answers_as_documented() {
    let w = world();
    let h = [("authorization", format!("Bearer {}", w.token_admin))];
    let h: Vec<(&str, &str)> = h.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let r = send(&w.app, Method::GET, "/api/openapi.json", &h, None).await;
    let spec: Value = serde_json::from_str(&r.body).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let paths = spec["paths"].as_object().unwrap();
    for route in ROUTES {
        let op = paths
            .get(route.path)
            .and_then(|p| p.get(route.method.to_ascii_lowercase()))
            .unwrap_or_else(|| panic!("{} {} not in openapi.json", route.method, route.path));
        assert_eq!(op["security"].as_array().unwrap().is_empty(), route.access == Access::Public, "{} security", route.path);
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, ROUTES.len(), "nothing documented that the server does not have");

    let mut validated = 0;
    for route in ROUTES.iter().filter(|r| r.method == "GET" && r.path.starts_with("/api/")) {
        let uri = concrete(route.path, &w);
        let resp = send(&w.app, Method::GET, &uri, &h, None).await;
        let code = resp.status.as_u16().to_string();
        let op = &paths[route.path]["get"];
        let doc = op["responses"].get(&code).unwrap_or_else(|| panic!("{uri}: status {code} undocumented"));
        let ct = resp.headers.get(header::CONTENT_TYPE).unwrap().to_str().unwrap().to_string();
        let (_, media) = doc["content"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| ct.starts_with(k.as_str()))
            .unwrap_or_else(|| panic!("{uri}: content type {ct} undocumented"));
        let body: Value = serde_json::from_str(&resp.body).unwrap();
        validate(&body, &media["schema"], &spec, &uri).unwrap();
        validated += 1;
    }
    assert_eq!(validated, ROUTES.iter().filter(|r| r.method == "GET" && r.path.starts_with("/api/")).count());
    // Error responses too.
    let resp = send(&w.app, Method::GET, "/api/findings/nope", &h, None).await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    validate(
        &serde_json::from_str(&resp.body).unwrap(),
        &paths["/api/findings/{id}"]["get"]["responses"]["404"]["content"]["application/json"]["schema"],
        &spec,
        "404",
    )
    .unwrap();
    // The validator itself rejects a wrong shape.
    assert!(validate(&json!({"total": 1}), &json!({"$ref": "#/components/schemas/FindingList"}), &spec, "x").is_err());
}

#[tokio::test]
async fn filters_and_search_narrow_the_list() {
    let w = world();
    let h = [("authorization", format!("Bearer {}", w.token_viewer))];
    let h: Vec<(&str, &str)> = h.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let get = |q: String| {
        let app = w.app.clone();
        let h: Vec<(String, String)> = h.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        async move {
            let hr: Vec<(&str, &str)> = h.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            serde_json::from_str::<Value>(&send(&app, Method::GET, &q, &hr, None).await.body).unwrap()
        }
    };
    let all = get("/api/findings".into()).await;
    let n = all["total"].as_i64().unwrap();
    assert!(n >= 4);
    assert_eq!(get("/api/findings?kind=phishing".into()).await["total"], 1);
    assert_eq!(get("/api/findings?q=subj%3Cscript".into()).await["total"], 1, "full-text search reaches the evidence");
    assert_eq!(get("/api/findings?status=resolved".into()).await["total"], 0);
    let page = get("/api/findings?limit=1&page=2".into()).await;
    assert_eq!(page["findings"].as_array().unwrap().len(), 1);
    assert_eq!(page["offset"], 1);
    let ov = get("/api/overview".into()).await;
    assert_eq!(ov["total"].as_i64().unwrap(), n);
    let hosts = get("/api/hosts".into()).await;
    let h5 = hosts["hosts"].as_array().unwrap().iter().find(|x| x["ip"] == "10.0.0.5").unwrap().clone();
    assert_eq!(h5["in_inventory"], true);
    assert!(h5["findings"].as_i64().unwrap() >= 1);
}

#[test]
fn the_real_server_answers_over_tcp() {
    use std::io::{Read as _, Write as _};
    let w = world();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let app = w.app.clone();
    rt.spawn(async move { axum::serve(listener, app).await });
    let ask = |req: String| {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let out =
        ask(format!("GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n", w.token_analyst));
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("\"role\":\"analyst\""));
    let out = ask("GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".into());
    assert!(out.starts_with("HTTP/1.1 401"), "{out}");
}

#[test]
fn https_with_a_certificate_serves_secure_cookies() {
    // `openssl` takes `version`, not `--version`.
    let have = |c: &str, arg: &str| std::process::Command::new(c).arg(arg).output().is_ok_and(|o| o.status.success());
    if !have("openssl", "version") || !have("curl", "--version") {
        if std::env::var("VIGIL_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
            panic!("openssl and curl are needed (VIGIL_REQUIRE_TOOLS=1)");
        }
        println!("openssl or curl not found; skipping the TLS test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let mut s = Store::in_memory().unwrap();
    s.upsert_user("tess", "viewer", &auth::hash_password_with("pw-of-tess", 256, 1).unwrap()).unwrap();
    let state = AppState::new(s, true);
    let acc = vigil_web::tls_acceptor(&cert, &key).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(vigil_web::run_server(listener, state, Some(acc), std::future::pending()));
    let out = std::process::Command::new("curl")
        .args(["-s", "-i", "--max-time", "20", "--cacert"])
        .arg(&cert)
        .arg(format!("https://{addr}/login"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let csrf = hidden_csrf(&text);
    // Log in over HTTPS: the session cookie is Secure and __Host- prefixed.
    let out = std::process::Command::new("curl")
        .args(["-s", "-i", "--max-time", "20", "--cacert"])
        .arg(&cert)
        .args(["-H", &format!("Cookie: vigil_login={csrf}"), "--data", &format!("username=tess&password=pw-of-tess&csrf={csrf}")])
        .arg(format!("https://{addr}/login"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line =
        text.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie: __host-vigil_session=")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("; Secure") && line.contains("HttpOnly") && line.contains("SameSite=Strict"), "{line}");
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", "--cacert"])
        .arg(&cert)
        .arg(format!("https://{addr}/api/me"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "401");
    // Plain HTTP to the TLS port gets no page.
    let out = std::process::Command::new("curl").args(["-s", "--max-time", "5"]).arg(format!("http://{addr}/login")).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("csrf"));
}
