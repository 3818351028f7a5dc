//! The HTML pages: login, overview, findings list and detail with triage, hosts, exposure and
//! credential/phishing results, audit log. Every value from the store goes through `html!`.

use crate::html::{Markup, clip};
use crate::{AppError, AppState, Principal, auth, charts, cookie, now_s, report};
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use vigil_model::{Finding, FindingKind};
use vigil_store::StoredFinding;
use vigil_store::query::FindingQuery;

pub const PAGE_SIZE: usize = 50;
const LOGIN_COOKIE: &str = "vigil_login";

pub fn url_enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn layout(title: &str, p: Option<&Principal>, active: &str, body: Markup) -> Html<String> {
    let mut m = Markup::lit(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">",
    );
    m.push(html!("<title>{} · Vigil</title>", title));
    m.push_lit("<link rel=\"icon\" href=\"data:,\"><link rel=\"stylesheet\" href=\"/static/app.css\"><script src=\"/static/app.js\" defer></script></head><body>");
    if let Some(p) = p {
        m.push_lit("<nav class=\"top\"><span class=\"brand\">Vigil</span>");
        let mut items: Vec<(&str, &'static str, &'static str)> = vec![
            ("overview", "/", "Overview"),
            ("findings", "/findings", "Findings"),
            ("hosts", "/hosts", "Hosts"),
            ("exposure", "/exposure", "Exposure &amp; creds"),
        ];
        if p.can(crate::Access::Admin) {
            items.push(("audit", "/audit", "Audit"));
        }
        for (key, href, label) in items {
            m.push_lit("<a href=\"");
            m.push(Markup::text(href));
            m.push_lit(if key == active { "\" class=\"active\">" } else { "\">" });
            m.push(Markup::lit(label));
            m.push_lit("</a>");
        }
        m.push(html!(
            "<span class=\"who\">{} ({})</span><form method=\"post\" action=\"/logout\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\" id=\"logout\">Log out</button></form></nav>",
            p.user.name,
            p.user.role,
            p.csrf.as_deref().unwrap_or("")
        ));
    }
    m.push_lit("<main>");
    m.push(body);
    m.push_lit("</main></body></html>");
    Html(m.into_string())
}

pub async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], include_str!("../assets/app.css"))
        .into_response()
}

pub async fn js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], include_str!("../assets/app.js"))
        .into_response()
}

fn login_page(error: Option<&str>, status: StatusCode) -> Response {
    let token = auth::new_token();
    let mut body = Markup::lit("<section class=\"login\"><h1>Vigil</h1><p class=\"muted\">Counter-espionage network defence</p>");
    if let Some(e) = error {
        body.push(html!("<p class=\"error\" role=\"alert\">{}</p>", e));
    }
    body.push(html!(
        "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label>User <input name=\"username\" id=\"username\" autocomplete=\"username\" required maxlength=\"128\"></label>\
         <label>Password <input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required maxlength=\"1024\"></label>\
         <button type=\"submit\" id=\"login\">Log in</button></form></section>",
        token
    ));
    let cookie = format!("{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600");
    (status, [(header::SET_COOKIE, cookie)], layout("Log in", None, "", body)).into_response()
}

pub async fn login_form() -> Response {
    login_page(None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

pub async fn login(State(st): State<AppState>, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    // Login CSRF: the form's token must match the cookie set with the form (double submit).
    let cookie_tok = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if cookie_tok.is_empty() || !auth::ct_eq(cookie_tok, &f.csrf) {
        return login_page(Some("The form expired; please try again."), StatusCode::FORBIDDEN);
    }
    let now = now_s();
    if f.username.len() > 128 || f.password.len() > 1024 || st.0.throttle.blocked(&f.username, now) {
        return login_page(Some("Wrong user name or password, or too many attempts; wait and retry."), StatusCode::UNAUTHORIZED);
    }
    let name = f.username.clone();
    let user = match st.db(move |s| s.user_by_name(&name)).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let password = f.password;
    // An unknown user costs the same hash as a known one, so timing does not reveal names.
    let stored = user.as_ref().filter(|u| !u.disabled).map(|u| u.pw_hash.clone());
    let ok = tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let ok = auth::verify_password(&password, stored.as_deref().unwrap_or_else(|| dummy_hash()));
        ok && known
    })
    .await
    .unwrap_or(false);
    let user = match user {
        Some(u) if ok && !u.disabled => u,
        _ => {
            st.0.throttle.fail(&f.username, now);
            return login_page(Some("Wrong user name or password, or too many attempts; wait and retry."), StatusCode::UNAUTHORIZED);
        }
    };
    st.0.throttle.succeed(&f.username);
    let token = auth::new_token();
    let csrf = auth::new_token();
    let (h, uid, ttl, uname) = (auth::token_hash(&token), user.id, st.0.session_ttl_s, user.name.clone());
    if let Err(e) = st
        .db(move |s| {
            s.create_session(&h, uid, &csrf, now, now + ttl)?;
            s.audit(&uname, "login", &uname, "")
        })
        .await
    {
        return e.into_response();
    }
    let c = format!("{}={}{}; Max-Age={}", st.session_cookie_name(), token, st.cookie_attrs(), st.0.session_ttl_s);
    let clear = format!("{LOGIN_COOKIE}=; Path=/login; Max-Age=0");
    let mut r = Redirect::to("/").into_response();
    r.headers_mut().append(header::SET_COOKIE, c.parse().expect("cookie is ASCII"));
    r.headers_mut().append(header::SET_COOKIE, clear.parse().expect("cookie is ASCII"));
    r
}

/// A hash of a random password at the default cost, verified against when the user does not
/// exist.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| auth::hash_password(&auth::new_token()).unwrap_or_default())
}

pub async fn logout(State(st): State<AppState>, Extension(p): Extension<Principal>) -> Response {
    if let Some(h) = p.session_hash.clone() {
        let name = p.user.name.clone();
        if let Err(e) = st
            .db(move |s| {
                s.delete_session(&h)?;
                s.audit(&name, "logout", &name, "")
            })
            .await
        {
            return e.into_response();
        }
    }
    let clear = format!("{}=; Max-Age=0{}", st.session_cookie_name(), st.cookie_attrs());
    ([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response()
}

fn sev_badge(s: &str) -> Markup {
    html!("<span class=\"sev sev-{}\">{}</span>", s, s)
}

pub fn kind_label(k: &str) -> String {
    k.replace('_', " ")
}

pub async fn overview(State(st): State<AppState>, Extension(p): Extension<Principal>) -> Result<Html<String>, AppError> {
    let o = st.overview().await?;
    let mut b = html!("<h1>Overview</h1><p class=\"muted\">{} findings in the store.</p><div class=\"cards\">", o.total);
    for sev in charts::SEVERITIES {
        let n = o.by_severity.iter().find(|x| x.0 == sev).map(|x| x.1).unwrap_or(0);
        b.push(html!("<a class=\"card sev-{}\" href=\"/findings?severity={}\"><b>{}</b><span>{}</span></a>", sev, sev, n, sev));
    }
    b.push_lit("</div>");
    let mut days: Vec<String> = o.daily.iter().map(|d| d.0.clone()).collect();
    days.dedup();
    let series: Vec<(String, &'static str)> = charts::SEVERITIES.iter().map(|s| (s.to_string(), charts::severity_colour(s))).collect();
    let values: Vec<Vec<f64>> = charts::SEVERITIES
        .iter()
        .map(|sev| days.iter().map(|d| o.daily.iter().filter(|x| &x.0 == d && x.1 == *sev).map(|x| x.2 as f64).sum()).collect())
        .collect();
    b.push_lit("<div class=\"grid\"><section><h2>Findings by day and severity</h2>");
    b.push(charts::stacked("Findings by day and severity", &days, &series, &values));
    let kinds: Vec<String> = o.by_kind.iter().map(|k| k.0.clone()).take(8).collect();
    let kseries: Vec<(String, &'static str)> = kinds.iter().map(|k| (kind_label(k), charts::palette(k))).collect();
    let kvalues: Vec<Vec<f64>> = kinds
        .iter()
        .map(|k| days.iter().map(|d| o.daily_kind.iter().filter(|x| &x.0 == d && &x.1 == k).map(|x| x.2 as f64).sum()).collect())
        .collect();
    b.push_lit("</section><section><h2>Findings by day and kind</h2>");
    b.push(charts::stacked("Findings by day and kind", &days, &kseries, &kvalues));
    b.push_lit("</section><section><h2>By kind</h2>");
    let rows: Vec<(String, f64, &'static str)> = o.by_kind.iter().map(|k| (k.0.clone(), k.1 as f64, charts::palette(&k.0))).collect();
    b.push(charts::hbars("Findings by kind", &rows, Some(&|k: &str| format!("/findings?kind={}", url_enc(k)))));
    b.push_lit("</section><section><h2>Top hosts</h2>");
    let rows: Vec<(String, f64, &'static str)> =
        o.top_hosts.iter().map(|h| (h.host.clone(), h.findings as f64, charts::severity_colour(&h.max_severity))).collect();
    b.push(charts::hbars("Top hosts (bar colour: worst severity)", &rows, Some(&|h: &str| format!("/hosts/{}", url_enc(h)))));
    b.push_lit("</section><section><h2>Foreign destinations by hour (site time)</h2>");
    let mut countries: Vec<String> = o.country_hours.iter().map(|c| c.0.clone()).collect();
    countries.dedup();
    countries.truncate(30);
    let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    let cvalues: Vec<Vec<f64>> = countries
        .iter()
        .map(|c| hours.iter().map(|h| o.country_hours.iter().filter(|x| &x.0 == c && &x.1 == h).map(|x| x.2 as f64).sum()).collect())
        .collect();
    b.push(charts::heatmap("Findings naming a country, by local hour of first sighting", &countries, &hours, &cvalues));
    b.push_lit("</section><section><h2>Triage</h2><table><tbody>");
    for (s, n) in &o.by_status {
        b.push(html!("<tr><th><a href=\"/findings?status={}\">{}</a></th><td>{}</td></tr>", url_enc(s), s, n));
    }
    b.push_lit("</tbody></table></section></div>");
    Ok(layout("Overview", Some(&p), "overview", b))
}

#[derive(Deserialize, Default, Debug)]
pub struct ListParams {
    pub kind: Option<String>,
    pub severity: Option<String>,
    pub status: Option<String>,
    pub src: Option<String>,
    pub q: Option<String>,
    pub page: Option<usize>,
    /// API only: page size.
    pub limit: Option<usize>,
}

impl ListParams {
    pub fn query(&self, limit: usize) -> FindingQuery {
        let page = self.page.unwrap_or(1).clamp(1, 100_000);
        FindingQuery {
            kind: self.kind.clone(),
            severity: self.severity.clone(),
            status: self.status.clone(),
            src: self.src.clone(),
            text: self.q.as_ref().map(|q| q.chars().take(200).collect()),
            limit,
            offset: (page - 1) * limit,
        }
    }
    fn link(&self, page: usize) -> String {
        let mut parts = Vec::new();
        for (k, v) in [("kind", &self.kind), ("severity", &self.severity), ("status", &self.status), ("src", &self.src), ("q", &self.q)] {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                parts.push(format!("{k}={}", url_enc(v)));
            }
        }
        parts.push(format!("page={page}"));
        format!("/findings?{}", parts.join("&"))
    }
}

fn select(name: &str, options: &[&str], current: Option<&str>) -> Markup {
    let mut m = html!("<select name=\"{}\" id=\"f-{}\"><option value=\"\">any {}</option>", name, name, name);
    for o in options {
        let sel = if current == Some(*o) { " selected" } else { "" };
        m.push(html!("<option value=\"{}\"{}>{}</option>", o, sel, kind_label(o)));
    }
    m.push_lit("</select>");
    m
}

pub fn findings_table(rows: &[StoredFinding]) -> Markup {
    let mut b = Markup::lit(
        "<table class=\"findings\"><thead><tr><th>Severity</th><th>Score</th><th>Kind</th><th>Host</th><th>Summary</th><th>First seen</th><th>Status</th><th>Assignee</th></tr></thead><tbody>",
    );
    for sf in rows {
        let f = &sf.finding;
        b.push_lit("<tr><td>");
        b.push(sev_badge(f.severity.as_str()));
        b.push(html!(
            "</td><td>{:.2}</td><td>{}</td><td><a href=\"/hosts/{}\">{}</a></td><td class=\"wrap\"><a href=\"/findings/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            f.score,
            kind_label(f.kind.as_str()),
            url_enc(&f.src),
            clip(&f.src, 60),
            url_enc(&f.id),
            clip(&f.summary, 240),
            f.first_seen.format("%Y-%m-%d %H:%M").to_string(),
            sf.status.replace('_', " "),
            clip(sf.assignee.as_deref().unwrap_or(""), 40)
        ));
    }
    b.push_lit("</tbody></table>");
    b
}

pub async fn findings(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(lp): Query<ListParams>,
) -> Result<Html<String>, AppError> {
    let q = lp.query(PAGE_SIZE);
    let (total, rows) = st.db(move |s| s.query_findings(&q)).await?;
    let kinds: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
    let mut b = html!(
        "<h1>Findings</h1><form method=\"get\" action=\"/findings\" class=\"filters\"><input type=\"search\" name=\"q\" id=\"f-q\" placeholder=\"search text, hosts, names\" value=\"{}\">",
        lp.q.as_deref().unwrap_or("")
    );
    b.push(select("kind", &kinds, lp.kind.as_deref()));
    b.push(select("severity", &charts::SEVERITIES, lp.severity.as_deref()));
    b.push(select("status", &vigil_store::STATUSES, lp.status.as_deref()));
    if let Some(src) = lp.src.as_deref().filter(|s| !s.is_empty()) {
        b.push(html!("<input type=\"hidden\" name=\"src\" value=\"{}\"><span class=\"chip\">host {}</span>", src, src));
    }
    b.push_lit("<button type=\"submit\">Filter</button></form>");
    let page = lp.page.unwrap_or(1).max(1);
    b.push(html!("<p class=\"muted\">{} matching; page {} of {}.</p>", total, page, (total as usize).div_ceil(PAGE_SIZE).max(1)));
    b.push(findings_table(&rows));
    b.push_lit("<p class=\"pager\">");
    if page > 1 {
        b.push(html!("<a href=\"{}\">← previous</a> ", lp.link(page - 1)));
    }
    if page * PAGE_SIZE < total as usize {
        b.push(html!("<a href=\"{}\">next →</a>", lp.link(page + 1)));
    }
    b.push_lit("</p>");
    Ok(layout("Findings", Some(&p), "findings", b))
}

/// A finding, earlier findings of the same host and kind, and its audit trail.
pub(crate) async fn load_finding(
    st: &AppState,
    id: String,
) -> Result<(StoredFinding, Vec<Finding>, Vec<vigil_store::auth::AuditEntry>), AppError> {
    st.db(move |s| {
        let Some(sf) = s.finding(&id)? else { return Ok(None) };
        let q = FindingQuery {
            kind: Some(sf.finding.kind.as_str().to_string()),
            src: Some(sf.finding.src.clone()),
            limit: 200,
            ..Default::default()
        };
        let hist: Vec<Finding> = s.query_findings(&q)?.1.into_iter().map(|x| x.finding).filter(|f| f.id != id).collect();
        let audit = s.audit_log(Some(&id), 200)?;
        Ok(Some((sf, hist, audit)))
    })
    .await?
    .ok_or_else(|| AppError(StatusCode::NOT_FOUND, "no such finding".into()))
}

pub async fn finding(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Html<String>, AppError> {
    let (sf, hist, audit) = load_finding(&st, id).await?;
    let f = &sf.finding;
    let mut b =
        html!("<p class=\"crumbs\"><a href=\"/findings?kind={}\">{}</a> › {}</p><h1>", f.kind.as_str(), kind_label(f.kind.as_str()), f.id);
    b.push(sev_badge(f.severity.as_str()));
    b.push(html!(
        " {} on {}</h1><p class=\"summary wrap\" id=\"summary\">{}</p>",
        kind_label(f.kind.as_str()),
        clip(&f.src, 200),
        f.summary
    ));
    b.push(html!(
        "<p class=\"actions\"><a class=\"button\" id=\"export-report\" href=\"/findings/{}/report.html\">Export HTML report</a> <a class=\"button\" id=\"export-stix\" href=\"/findings/{}/stix\">Export STIX 2.1</a></p>",
        url_enc(&f.id),
        url_enc(&f.id)
    ));
    b.push(html!(
        "<div class=\"grid\"><section><h2>Facts</h2><table class=\"kv\"><tbody><tr><th>Score</th><td>{:.3}</td></tr><tr><th>Host</th><td class=\"wrap\"><a href=\"/hosts/{}\">{}</a></td></tr>\
         <tr><th>Other side</th><td class=\"wrap\">{}</td></tr><tr><th>Path</th><td class=\"wrap\">{}</td></tr><tr><th>First seen</th><td>{}</td></tr><tr><th>Last seen</th><td>{}</td></tr>\
         <tr><th>ATT&amp;CK</th><td>{}</td></tr><tr><th>Seen</th><td>{} time(s)</td></tr><tr><th>Status</th><td id=\"status\">{}</td></tr><tr><th>Assignee</th><td>{}</td></tr><tr><th>Notes</th><td class=\"wrap\">{}</td></tr></tbody></table></section>",
        f.score,
        url_enc(&f.src),
        f.src,
        f.dst.join(", "),
        f.path.join(" → "),
        f.first_seen.to_rfc3339(),
        f.last_seen.to_rfc3339(),
        f.attack.join(", "),
        sf.times_seen,
        sf.status,
        sf.assignee.as_deref().unwrap_or("—"),
        sf.notes.as_deref().unwrap_or("—")
    ));
    if p.can(crate::Access::Analyst) {
        b.push(html!("<section><h2>Triage</h2><form method=\"post\" action=\"/findings/{}/triage\" class=\"triage\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><label>Status <select name=\"status\" id=\"triage-status\">", url_enc(&f.id), p.csrf.as_deref().unwrap_or("")));
        for s in vigil_store::STATUSES {
            let sel = if sf.status == s { " selected" } else { "" };
            b.push(html!("<option value=\"{}\"{}>{}</option>", s, sel, s.replace('_', " ")));
        }
        b.push(html!(
            "</select></label><label>Assignee <input name=\"assignee\" id=\"triage-assignee\" maxlength=\"128\" value=\"{}\"></label><label>Notes <textarea name=\"notes\" id=\"triage-notes\" rows=\"4\" maxlength=\"20000\">{}</textarea></label><button type=\"submit\" id=\"triage-save\">Save</button></form></section>",
            sf.assignee.as_deref().unwrap_or(""),
            sf.notes.as_deref().unwrap_or("")
        ));
    }
    b.push_lit("</div><section><h2>Evidence</h2>");
    b.push(report::evidence_visuals(f, &hist));
    b.push(report::evidence_table(&f.evidence));
    b.push_lit("</section><section><h2>Triage history</h2>");
    if audit.is_empty() {
        b.push_lit("<p class=\"muted\">No triage yet.</p>");
    } else {
        b.push_lit("<table><thead><tr><th>When</th><th>Who</th><th>Action</th><th>Detail</th></tr></thead><tbody>");
        for a in &audit {
            b.push(html!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"wrap\">{}</td></tr>",
                a.ts,
                a.user,
                a.action,
                clip(&a.detail, 2000)
            ));
        }
        b.push_lit("</tbody></table>");
    }
    b.push_lit("</section>");
    if !hist.is_empty() {
        b.push_lit("<section><h2>Same host, same kind</h2>");
        let rows: Vec<StoredFinding> = hist
            .iter()
            .take(20)
            .map(|f| StoredFinding { finding: f.clone(), status: String::new(), assignee: None, notes: None, times_seen: 1 })
            .collect();
        b.push(findings_table(&rows));
        b.push_lit("</section>");
    }
    Ok(layout(&format!("{} {}", kind_label(f.kind.as_str()), f.src), Some(&p), "findings", b))
}

#[derive(Deserialize, Serialize, Debug, Clone)]
pub struct TriageForm {
    pub status: String,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// Applies a triage change and records it in the audit log.
pub(crate) async fn apply_triage(st: &AppState, p: &Principal, id: String, t: TriageForm) -> Result<(), AppError> {
    if !vigil_store::STATUSES.contains(&t.status.as_str()) {
        return Err(AppError(StatusCode::UNPROCESSABLE_ENTITY, "unknown status".into()));
    }
    if t.assignee.as_ref().is_some_and(|a| a.chars().count() > 128) || t.notes.as_ref().is_some_and(|n| n.chars().count() > 20_000) {
        return Err(AppError(StatusCode::UNPROCESSABLE_ENTITY, "assignee or notes too long".into()));
    }
    let user = p.user.name.clone();
    let found = st
        .db(move |s| {
            let assignee = t.assignee.as_deref().map(str::trim);
            let ok = s.set_status(&id, &t.status, assignee, t.notes.as_deref())?;
            if ok {
                let detail = format!(
                    "status={}{}{}",
                    t.status,
                    assignee.map(|a| format!("; assignee={a}")).unwrap_or_default(),
                    t.notes.as_ref().map(|n| format!("; notes={}", clip(n, 500))).unwrap_or_default()
                );
                s.audit(&user, "triage", &id, &detail)?;
            }
            Ok(ok)
        })
        .await?;
    if found { Ok(()) } else { Err(AppError(StatusCode::NOT_FOUND, "no such finding".into())) }
}

pub async fn triage(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    Form(t): Form<TriageForm>,
) -> Result<Response, AppError> {
    apply_triage(&st, &p, id.clone(), t).await?;
    Ok(Redirect::to(&format!("/findings/{}", url_enc(&id))).into_response())
}

pub async fn report_html(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let (sf, hist, audit) = load_finding(&st, id).await?;
    let name = p.user.name.clone();
    let fid = sf.finding.id.clone();
    st.db(move |s| s.audit(&name, "export.report", &fid, "html")).await?;
    let doc = report::report_html(&sf, &hist, &audit, &p.user.name);
    let fname: String = sf.finding.id.chars().filter(char::is_ascii_alphanumeric).take(64).collect();
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"vigil-report-{fname}.html\"")),
        ],
        doc,
    )
        .into_response())
}

/// One host as the hosts page and API show it: the inventory's asset joined with its findings.
#[derive(Serialize, Debug, Clone, Default)]
pub struct HostRow {
    pub ip: String,
    pub names: Vec<String>,
    pub os_hints: Vec<String>,
    pub device_hints: Vec<String>,
    pub services: Vec<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub initiated: u64,
    pub served: u64,
    pub hours_utc: Vec<u32>,
    pub owner: Option<String>,
    pub role: Option<String>,
    pub findings: i64,
    pub max_severity: Option<String>,
    pub in_inventory: bool,
}

fn ts_string(t: vigil_model::Timestamp) -> String {
    let secs = t.0.div_euclid(1_000_000_000);
    chrono::DateTime::from_timestamp(secs, 0).map(|d| d.to_rfc3339()).unwrap_or_default()
}

/// Every host known to the inventory or named by a finding, most serious first.
pub(crate) async fn host_rows(st: &AppState) -> Result<std::sync::Arc<Vec<HostRow>>, AppError> {
    let mark = st.db(|s| s.change_mark()).await?;
    if let Some(rows) = st.hosts_cached(&mark) {
        return Ok(rows);
    }
    let rows = std::sync::Arc::new(compute_host_rows(st).await?);
    st.hosts_store(mark, rows.clone());
    Ok(rows)
}

async fn compute_host_rows(st: &AppState) -> Result<Vec<HostRow>, AppError> {
    let (inv, hosts) = st.db(|s| Ok((s.get_state("inventory")?, s.top_hosts(100_000)?))).await?;
    let assets: Vec<vigil_enrich::Asset> =
        inv.and_then(|v| v.get("assets").cloned()).and_then(|a| serde_json::from_value(a).ok()).unwrap_or_default();
    let mut rows: std::collections::BTreeMap<String, HostRow> = std::collections::BTreeMap::new();
    for a in assets {
        let ip = a.ip.to_string();
        rows.insert(
            ip.clone(),
            HostRow {
                ip,
                names: a.names.iter().take(20).map(|n| n.name.clone()).collect(),
                os_hints: a.os_hints.iter().take(10).cloned().collect(),
                device_hints: a.device_hints.iter().take(10).cloned().collect(),
                services: a
                    .services
                    .iter()
                    .take(50)
                    .map(|s| format!("{}/{}{}", s.port, s.proto, s.app.as_ref().map(|x| format!(" {x}")).unwrap_or_default()))
                    .collect(),
                first_seen: a.first_seen.map(ts_string),
                last_seen: a.last_seen.map(ts_string),
                initiated: a.initiated,
                served: a.served,
                hours_utc: a.hours_utc.to_vec(),
                owner: a.cmdb.as_ref().and_then(|c| c.owner.clone()),
                role: a.cmdb.as_ref().and_then(|c| c.role.clone()),
                in_inventory: true,
                ..Default::default()
            },
        );
    }
    for h in hosts {
        let e = rows.entry(h.host.clone()).or_insert_with(|| HostRow { ip: h.host.clone(), ..Default::default() });
        e.findings = h.findings;
        e.max_severity = Some(h.max_severity);
    }
    let rank = |s: &Option<String>| match s.as_deref() {
        Some("critical") => 0,
        Some("high") => 1,
        Some("medium") => 2,
        Some("low") => 3,
        Some(_) => 4,
        None => 5,
    };
    let mut v: Vec<HostRow> = rows.into_values().collect();
    v.sort_by(|a, b| rank(&a.max_severity).cmp(&rank(&b.max_severity)).then(b.findings.cmp(&a.findings)).then(a.ip.cmp(&b.ip)));
    Ok(v)
}

pub async fn hosts(State(st): State<AppState>, Extension(p): Extension<Principal>) -> Result<Html<String>, AppError> {
    let rows = host_rows(&st).await?;
    let mut b = html!(
        "<h1>Hosts and assets</h1><p class=\"muted\">{} hosts: the inventory learnt from traffic (and the CMDB), joined with findings.</p>",
        rows.len()
    );
    b.push_lit("<table class=\"hosts\"><thead><tr><th>Address</th><th>Names</th><th>OS / device</th><th>Services</th><th>First seen</th><th>Last seen</th><th>Owner</th><th>Findings</th></tr></thead><tbody>");
    for h in rows.iter().take(2000) {
        b.push(html!(
            "<tr><td><a href=\"/hosts/{}\">{}</a></td><td class=\"wrap\">{}</td><td>{}</td><td class=\"wrap\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>",
            url_enc(&h.ip),
            clip(&h.ip, 60),
            clip(&h.names.join(", "), 200),
            clip(&[h.os_hints.join(", "), h.device_hints.join(", ")].join(" "), 120),
            clip(&h.services.join(", "), 160),
            h.first_seen.as_deref().unwrap_or("").get(..16).unwrap_or(""),
            h.last_seen.as_deref().unwrap_or("").get(..16).unwrap_or(""),
            clip(h.owner.as_deref().unwrap_or(""), 60)
        ));
        if let Some(s) = &h.max_severity {
            b.push(sev_badge(s));
            b.push(html!(" <a href=\"/findings?src={}\">{}</a>", url_enc(&h.ip), h.findings));
        }
        b.push_lit("</td></tr>");
    }
    b.push_lit("</tbody></table>");
    if rows.len() > 2000 {
        b.push(html!("<p class=\"muted\">First 2000 of {} shown; the API lists all.</p>", rows.len()));
    }
    Ok(layout("Hosts", Some(&p), "hosts", b))
}

pub async fn host(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(ip): Path<String>,
) -> Result<Html<String>, AppError> {
    let rows = host_rows(&st).await?;
    let h = rows.iter().find(|h| h.ip == ip).cloned().ok_or_else(|| AppError(StatusCode::NOT_FOUND, "no such host".into()))?;
    let q = FindingQuery { src: Some(ip.clone()), limit: 500, ..Default::default() };
    let (_, fs) = st.db(move |s| s.query_findings(&q)).await?;
    let mut b = html!(
        "<p class=\"crumbs\"><a href=\"/hosts\">Hosts</a></p><h1>{}</h1><table class=\"kv\"><tbody><tr><th>Names</th><td class=\"wrap\">{}</td></tr><tr><th>OS</th><td>{}</td></tr><tr><th>Device</th><td>{}</td></tr>\
         <tr><th>Services</th><td class=\"wrap\">{}</td></tr><tr><th>First seen</th><td>{}</td></tr><tr><th>Last seen</th><td>{}</td></tr><tr><th>Sessions started / served</th><td>{} / {}</td></tr><tr><th>Owner / role</th><td>{} / {}</td></tr></tbody></table>",
        h.ip,
        h.names.join(", "),
        h.os_hints.join(", "),
        h.device_hints.join(", "),
        h.services.join(", "),
        h.first_seen.as_deref().unwrap_or("—"),
        h.last_seen.as_deref().unwrap_or("—"),
        h.initiated,
        h.served,
        h.owner.as_deref().unwrap_or("—"),
        h.role.as_deref().unwrap_or("—")
    );
    if h.hours_utc.iter().any(|&x| x > 0) {
        let labels: Vec<String> = (0..24).map(|x| format!("{x:02}")).collect();
        let vals: Vec<f64> = h.hours_utc.iter().map(|&x| x as f64).collect();
        b.push_lit("<h2>Sessions started by hour (UTC)</h2>");
        b.push(charts::columns("sessions", &labels, &vals, "#3b7dd8"));
    }
    b.push_lit("<h2>Findings</h2>");
    b.push(findings_table(&fs));
    Ok(layout(&h.ip, Some(&p), "hosts", b))
}

/// Kinds shown on the exposure page: our attack surface, credential hygiene and phishing.
pub const EXPOSURE_KINDS: [FindingKind; 4] =
    [FindingKind::VulnerableService, FindingKind::ExposedService, FindingKind::CredentialExposure, FindingKind::Phishing];

pub async fn exposure(State(st): State<AppState>, Extension(p): Extension<Principal>) -> Result<Html<String>, AppError> {
    let mut b = Markup::lit("<h1>Exposure, credentials and phishing</h1>");
    for k in EXPOSURE_KINDS {
        let q = FindingQuery { kind: Some(k.as_str().to_string()), limit: 500, ..Default::default() };
        let (total, rows) = st.db(move |s| s.query_findings(&q)).await?;
        b.push(html!("<section><h2>{} ({})</h2>", kind_label(k.as_str()), total));
        if rows.is_empty() {
            b.push_lit("<p class=\"muted\">None recorded.</p>");
        } else {
            b.push_lit(
                "<table><thead><tr><th>Severity</th><th>Subject</th><th>Where</th><th>Summary</th><th>Status</th></tr></thead><tbody>",
            );
            for sf in &rows {
                let f = &sf.finding;
                let ev = &f.evidence;
                let mut place = Vec::new();
                for key in ["file", "line", "sheet", "cell", "port", "service", "cve", "subject", "from"] {
                    if let Some(v) = ev.get(key) {
                        place.push(format!("{key} {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())));
                    }
                }
                b.push_lit("<tr><td>");
                b.push(sev_badge(f.severity.as_str()));
                b.push(html!(
                    "</td><td class=\"wrap\">{}</td><td class=\"wrap\">{}</td><td class=\"wrap\"><a href=\"/findings/{}\">{}</a></td><td>{}</td></tr>",
                    clip(&f.src, 80),
                    clip(&place.join("; "), 300),
                    url_enc(&f.id),
                    clip(&f.summary, 300),
                    sf.status
                ));
            }
            b.push_lit("</tbody></table>");
        }
        b.push_lit("</section>");
    }
    Ok(layout("Exposure", Some(&p), "exposure", b))
}

pub async fn audit(State(st): State<AppState>, Extension(p): Extension<Principal>) -> Result<Html<String>, AppError> {
    let (log, users) = st.db(|s| Ok((s.audit_log(None, 500)?, s.users()?))).await?;
    let mut b =
        Markup::lit("<h1>Audit log</h1><h2>Accounts</h2><table><thead><tr><th>User</th><th>Role</th><th>State</th></tr></thead><tbody>");
    for u in &users {
        b.push(html!("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", u.name, u.role, if u.disabled { "disabled" } else { "active" }));
    }
    b.push_lit("</tbody></table><h2>Actions (newest first)</h2><table><thead><tr><th>When</th><th>Who</th><th>Action</th><th>Target</th><th>Detail</th></tr></thead><tbody>");
    for a in &log {
        b.push(html!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"wrap\"><a href=\"/findings/{}\">{}</a></td><td class=\"wrap\">{}</td></tr>",
            a.ts,
            a.user,
            a.action,
            url_enc(&a.target),
            clip(&a.target, 80),
            clip(&a.detail, 500)
        ));
    }
    b.push_lit("</tbody></table>");
    Ok(layout("Audit", Some(&p), "audit", b))
}
