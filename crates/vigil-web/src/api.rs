//! The REST API (JSON): what the pages show, for scripts and other tools. Documented in
//! `openapi.json` (served at `/api/openapi.json`); a test checks the two agree.

use crate::pages::{HostRow, ListParams, TriageForm, apply_triage, host_rows, load_finding};
use crate::{AppError, AppState, Principal};
use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use vigil_store::StoredFinding;
use vigil_store::auth::AuditEntry;

pub const OPENAPI: &str = include_str!("../openapi.json");

#[derive(Serialize)]
struct Triage<'a> {
    status: &'a str,
    assignee: Option<&'a str>,
    notes: Option<&'a str>,
    times_seen: i64,
}

fn item(sf: &StoredFinding) -> Value {
    json!({
        "finding": sf.finding,
        "triage": Triage { status: &sf.status, assignee: sf.assignee.as_deref(), notes: sf.notes.as_deref(), times_seen: sf.times_seen },
    })
}

pub async fn me(Extension(p): Extension<Principal>) -> Json<Value> {
    Json(json!({"name": p.user.name, "role": p.user.role, "csrf": p.csrf}))
}

pub async fn overview(State(st): State<AppState>) -> Result<Json<Value>, AppError> {
    let o = st.overview().await?;
    let pairs = |v: &[(String, i64)]| v.iter().map(|(k, n)| (k.clone(), json!(n))).collect::<serde_json::Map<_, _>>();
    Ok(Json(json!({
        "total": o.total,
        "by_severity": pairs(&o.by_severity),
        "by_kind": pairs(&o.by_kind),
        "by_status": pairs(&o.by_status),
        "daily": o.daily.iter().map(|(d, s, n)| json!({"day": d, "severity": s, "count": n})).collect::<Vec<_>>(),
        "daily_kind": o.daily_kind.iter().map(|(d, k, n)| json!({"day": d, "kind": k, "count": n})).collect::<Vec<_>>(),
        "top_hosts": o.top_hosts,
        "country_hours": o.country_hours.iter().map(|(c, h, n)| json!({"country": c, "hour": h, "count": n})).collect::<Vec<_>>(),
    })))
}

pub async fn findings(State(st): State<AppState>, Query(p): Query<ListParams>) -> Result<Json<Value>, AppError> {
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let q = p.query(limit);
    let offset = q.offset;
    let (total, rows) = st.db(move |s| s.query_findings(&q)).await?;
    Ok(Json(json!({"total": total, "limit": limit, "offset": offset, "findings": rows.iter().map(item).collect::<Vec<_>>()})))
}

fn audit_json(a: &[AuditEntry]) -> Value {
    json!(a)
}

pub async fn finding(State(st): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, AppError> {
    let (sf, _, audit) = load_finding(&st, id).await?;
    let mut v = item(&sf);
    v["audit"] = audit_json(&audit);
    Ok(Json(v))
}

pub async fn triage(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    Json(t): Json<TriageForm>,
) -> Result<Json<Value>, AppError> {
    apply_triage(&st, &p, id.clone(), t).await?;
    finding(State(st), Path(id)).await
}

pub async fn stix(State(st): State<AppState>, Extension(p): Extension<Principal>, Path(id): Path<String>) -> Result<Response, AppError> {
    let (sf, _, _) = load_finding(&st, id).await?;
    let (name, fid) = (p.user.name.clone(), sf.finding.id.clone());
    st.db(move |s| s.audit(&name, "export.stix", &fid, "stix 2.1")).await?;
    let b = crate::stix::bundle(&sf.finding, "Vigil");
    let fname: String = sf.finding.id.chars().filter(char::is_ascii_alphanumeric).take(64).collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/stix+json;version=2.1".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"vigil-stix-{fname}.json\"")),
        ],
        b.to_string(),
    )
        .into_response())
}

pub async fn hosts(State(st): State<AppState>) -> Result<Json<Value>, AppError> {
    let rows = host_rows(&st).await?;
    let rows: &[HostRow] = &rows;
    Ok(Json(json!({"total": rows.len(), "hosts": rows})))
}

pub async fn host(State(st): State<AppState>, Path(ip): Path<String>) -> Result<Json<Value>, AppError> {
    let rows = host_rows(&st).await?;
    let h = rows.iter().find(|h| h.ip == ip).cloned().ok_or_else(|| AppError(StatusCode::NOT_FOUND, "no such host".into()))?;
    let q = vigil_store::query::FindingQuery { src: Some(ip), limit: 1000, ..Default::default() };
    let (_, fs) = st.db(move |s| s.query_findings(&q)).await?;
    Ok(Json(json!({"host": h, "findings": fs.iter().map(item).collect::<Vec<_>>()})))
}

pub async fn audit(State(st): State<AppState>) -> Result<Json<Value>, AppError> {
    let log = st.db(|s| s.audit_log(None, 1000)).await?;
    Ok(Json(json!({"entries": audit_json(&log)})))
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
