//! What a finding's evidence looks like drawn (shared by the detail page and the report) and
//! the self-contained HTML incident report: inline CSS and SVG, no script, no external reference.

use crate::charts;
use crate::html::{Markup, clip};
use chrono::{DateTime, FixedOffset, Timelike as _};
use serde_json::Value;
use vigil_model::{Finding, FindingKind};
use vigil_store::StoredFinding;
use vigil_store::auth::AuditEntry;

/// Every RFC 3339 time found in the evidence (bounded walk), for timelines and heatmaps.
fn evidence_times(v: &Value, out: &mut Vec<DateTime<FixedOffset>>, budget: &mut usize) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    match v {
        Value::String(s) if s.len() >= 20 && s.len() <= 40 => {
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                out.push(t);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| evidence_times(x, out, budget)),
        Value::Object(o) => o.values().for_each(|x| evidence_times(x, out, budget)),
        _ => {}
    }
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64).filter(|x| x.is_finite())
}

/// Numeric arrays under keys naming intervals (`intervals_s`, ...), if a detector kept them.
fn interval_series(ev: &Value) -> Vec<f64> {
    ev.as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.contains("interval"))
        .filter_map(|(_, v)| v.as_array())
        .flat_map(|a| a.iter().take(100_000).filter_map(Value::as_f64))
        .collect()
}

/// Hour-of-day × day heatmap of local times.
fn hour_day_heatmap(title: &str, times: &[DateTime<FixedOffset>]) -> Markup {
    let mut days: Vec<String> = times.iter().map(|t| t.format("%Y-%m-%d %a").to_string()).collect();
    days.sort();
    days.dedup();
    days.truncate(60);
    let cols: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    let mut values = vec![vec![0.0; 24]; days.len()];
    for t in times {
        let d = t.format("%Y-%m-%d %a").to_string();
        if let Ok(i) = days.binary_search(&d)
            && let Some(row) = values.get_mut(i)
            && let Some(c) = row.get_mut(t.hour() as usize)
        {
            *c += 1.0;
        }
    }
    charts::heatmap(title, &days, &cols, &values)
}

/// The evidence drawn for one finding. `history` holds earlier findings of the same host and
/// kind (their sightings are part of the picture: when does this host upload?).
pub fn evidence_visuals(f: &Finding, history: &[Finding]) -> Markup {
    let ev = &f.evidence;
    let mut m = Markup::new();
    let mut times = Vec::new();
    let mut budget = 20_000;
    evidence_times(ev, &mut times, &mut budget);
    match f.kind {
        FindingKind::Beacon | FindingKind::LongConnection | FindingKind::DnsTunnel | FindingKind::RotatingDestinations
            if num(ev, "interval_median_s").is_some() || num(ev, "interval_mode_s").is_some() || !interval_series(ev).is_empty() =>
        {
            m.push_lit("<h3>Call intervals</h3>");
            let series = interval_series(ev);
            if series.len() >= 2 {
                m.push(charts::histogram("Interval histogram (s)", &series, 24));
            }
            let share = match (num(ev, "interval_mode_count"), num(ev, "connections")) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            };
            m.push(charts::interval_profile(num(ev, "interval_mode_s"), num(ev, "interval_median_s"), num(ev, "interval_mad_s"), share));
            m.push(html!(
                "<p class=\"muted\">Mode {} s ({} of {} connections), median {} s, MAD {} s: a steady timer has a tall mode and a narrow band.</p>",
                num(ev, "interval_mode_s").map(|x| format!("{x:.1}")).unwrap_or_else(|| "?".into()),
                num(ev, "interval_mode_count").unwrap_or(0.0),
                num(ev, "connections").unwrap_or(0.0),
                num(ev, "interval_median_s").map(|x| format!("{x:.1}")).unwrap_or_else(|| "?".into()),
                num(ev, "interval_mad_s").map(|x| format!("{x:.1}")).unwrap_or_else(|| "?".into())
            ));
        }
        _ => {}
    }
    if let Some(hours) = ev.get("active_local_hours").and_then(Value::as_array) {
        let mut v = vec![0.0; 24];
        for h in hours.iter().filter_map(Value::as_u64) {
            if let Some(x) = v.get_mut(h as usize) {
                *x = 1.0;
            }
        }
        let labels: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
        m.push_lit("<h3>Active hours (site time)</h3>");
        m.push(charts::columns("active hour", &labels, &v, "#e0531f"));
    }
    if matches!(f.kind, FindingKind::Beacon | FindingKind::LongConnection | FindingKind::DnsTunnel | FindingKind::IocMatch) {
        let start = f.first_seen.timestamp();
        let end = f.last_seen.timestamp();
        let mut events: Vec<i64> = times.iter().map(DateTime::timestamp).collect();
        let mut spans = vec![(start, end)];
        for h in history {
            spans.push((h.first_seen.timestamp(), h.last_seen.timestamp()));
        }
        let lo = spans.iter().map(|s| s.0).min().unwrap_or(start);
        let hi = spans.iter().map(|s| s.1).max().unwrap_or(end);
        events.retain(|t| (lo..=hi).contains(t));
        let (a, b) = (fmt_ts(lo), fmt_ts(hi));
        m.push_lit("<h3>Connection timeline</h3>");
        m.push(charts::timeline("Connection timeline", lo, hi, &events, &spans, (&a, &b)));
        m.push(html!(
            "<p class=\"muted\">Shaded: periods this host was seen doing this ({} sighting(s)); active on {} of {} days.</p>",
            spans.len(),
            num(ev, "active_days").unwrap_or(0.0),
            num(ev, "span_days").unwrap_or(0.0)
        ));
    }
    if matches!(f.kind, FindingKind::Exfiltration | FindingKind::RotatingDestinations) {
        let mut all = times.clone();
        all.push(f.first_seen);
        all.push(f.last_seen);
        for h in history {
            all.push(h.first_seen);
            all.push(h.last_seen);
        }
        m.push_lit("<h3>Uploads by hour of day and day (site time)</h3>");
        m.push(hour_day_heatmap("Hour-of-day × day", &all));
    }
    if matches!(f.kind, FindingKind::Springboard | FindingKind::LateralMovement) || !f.path.is_empty() {
        let (nodes, hops) = chain_of(f);
        m.push_lit("<h3>Chain across zones</h3>");
        m.push(charts::chain(&nodes, &hops));
    }
    m
}

/// Nodes (host, zone) and hop labels of a chain, from `path` and the evidence's hops.
fn chain_of(f: &Finding) -> (Vec<(String, String)>, Vec<String>) {
    let ev = &f.evidence;
    let hops: Vec<&Value> = ev.get("hops").and_then(Value::as_array).map(|a| a.iter().take(50).collect()).unwrap_or_default();
    let zone_of = |host: &str| -> String {
        for h in &hops {
            if h.get("from").and_then(Value::as_str) == Some(host)
                && let Some(z) = h.get("from_zone").and_then(Value::as_str)
            {
                return z.to_string();
            }
            if h.get("to").and_then(Value::as_str) == Some(host)
                && let Some(z) = h.get("to_zone").and_then(Value::as_str)
            {
                return z.to_string();
            }
        }
        if ev.get("origin").and_then(Value::as_str) == Some(host) {
            return ev.get("origin_zone").and_then(Value::as_str).unwrap_or("outside").to_string();
        }
        String::new()
    };
    let path: Vec<String> = if f.path.is_empty() {
        let mut p = vec![f.src.clone()];
        p.extend(f.dst.iter().take(10).cloned());
        p
    } else {
        f.path.iter().take(12).cloned().collect()
    };
    let nodes = path.iter().map(|h| (h.clone(), zone_of(h))).collect();
    let labels = path
        .windows(2)
        .map(|w| {
            let hop = hops.iter().find(|h| h.get("from").and_then(Value::as_str) == w.first().map(String::as_str));
            match hop {
                Some(h) => {
                    let svc = h
                        .get("service")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .or_else(|| h.get("port").map(|p| p.to_string()))
                        .unwrap_or_default();
                    match h.get("delay_s").and_then(Value::as_f64) {
                        Some(d) if d > 0.0 => format!("{svc} +{d:.0}s"),
                        _ => svc,
                    }
                }
                None => String::new(),
            }
        })
        .collect();
    (nodes, labels)
}

pub fn fmt_ts(t: i64) -> String {
    DateTime::from_timestamp(t, 0).map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
}

/// Evidence as rows of (dotted key, value), bounded.
pub fn evidence_rows(v: &Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, String)>, depth: usize) {
        if out.len() >= 400 {
            return;
        }
        match v {
            Value::Object(o) if depth < 4 => {
                for (k, x) in o {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, x, out, depth + 1);
                }
            }
            Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
                let s: Vec<String> = a.iter().take(200).map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string())).collect();
                let more = if a.len() > 200 { format!(" … (+{})", a.len() - 200) } else { String::new() };
                out.push((prefix.to_string(), format!("{}{more}", s.join(", "))));
            }
            Value::String(s) => out.push((prefix.to_string(), s.clone())),
            other => out.push((prefix.to_string(), clip(&other.to_string(), 4000))),
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out, 0);
    out
}

pub fn evidence_table(v: &Value) -> Markup {
    let mut m = Markup::lit("<table class=\"kv\"><tbody>");
    for (k, val) in evidence_rows(v) {
        m.push(html!("<tr><th>{}</th><td class=\"wrap\">{}</td></tr>", clip(&k, 120), clip(&val, 4000)));
    }
    m.push_lit("</tbody></table>");
    m
}

/// The self-contained incident report of one finding.
pub fn report_html(sf: &StoredFinding, history: &[Finding], audit: &[AuditEntry], generated_by: &str) -> String {
    let f = &sf.finding;
    let mut b = Markup::new();
    b.push(html!(
        "<header><h1>Incident report: {} on {}</h1><p class=\"muted\">Finding {} · generated {} by {} · Vigil</p></header>",
        f.kind.as_str(),
        clip(&f.src, 200),
        f.id,
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        generated_by
    ));
    b.push(html!("<section><h2>Summary</h2><p class=\"summary wrap\">{}</p>", f.summary));
    b.push(html!(
        "<table class=\"kv\"><tbody><tr><th>Severity</th><td><span class=\"sev sev-{}\">{}</span> (score {:.2})</td></tr>\
         <tr><th>Host</th><td class=\"wrap\">{}</td></tr><tr><th>Other side</th><td class=\"wrap\">{}</td></tr>\
         <tr><th>Path</th><td class=\"wrap\">{}</td></tr><tr><th>First seen</th><td>{}</td></tr><tr><th>Last seen</th><td>{}</td></tr>\
         <tr><th>ATT&amp;CK</th><td>{}</td></tr><tr><th>Triage</th><td>{} · assignee {} · seen {} time(s)</td></tr>\
         <tr><th>Notes</th><td class=\"wrap\">{}</td></tr></tbody></table></section>",
        f.severity.as_str(),
        f.severity.as_str(),
        f.score,
        f.src,
        f.dst.join(", "),
        f.path.join(" → "),
        f.first_seen.to_rfc3339(),
        f.last_seen.to_rfc3339(),
        f.attack.join(", "),
        sf.status,
        sf.assignee.as_deref().unwrap_or("—"),
        sf.times_seen,
        sf.notes.as_deref().unwrap_or("—")
    ));
    let ind = crate::stix::indicators(f);
    if !ind.is_empty() {
        b.push_lit("<section><h2>Indicators</h2><table><thead><tr><th>Type</th><th>Value</th></tr></thead><tbody>");
        for (t, v) in &ind {
            b.push(html!("<tr><td>{}</td><td class=\"wrap\">{}</td></tr>", t, v));
        }
        b.push_lit("</tbody></table></section>");
    }
    b.push_lit("<section><h2>Evidence</h2>");
    b.push(evidence_visuals(f, history));
    b.push(evidence_table(&f.evidence));
    b.push_lit("</section>");
    if !audit.is_empty() {
        b.push_lit(
            "<section><h2>Triage history</h2><table><thead><tr><th>When</th><th>Who</th><th>Action</th><th>Detail</th></tr></thead><tbody>",
        );
        for a in audit {
            b.push(html!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"wrap\">{}</td></tr>",
                a.ts,
                a.user,
                a.action,
                clip(&a.detail, 2000)
            ));
        }
        b.push_lit("</tbody></table></section>");
    }
    b.push(html!(
        "<section><h2>Raw finding</h2><pre class=\"wrap\">{}</pre></section>",
        clip(&serde_json::to_string_pretty(f).unwrap_or_default(), 300_000)
    ));
    let mut doc = Markup::lit(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>",
    );
    doc.push(html!("Vigil incident report {}", f.id));
    doc.push_lit("</title><style>");
    doc.push_lit(include_str!("../assets/app.css"));
    doc.push_lit("</style></head><body class=\"report\"><main>");
    doc.push(b);
    doc.push_lit("</main></body></html>");
    doc.into_string()
}

/// The HTML report of a finding straight from a store (for `vigil report`); `None` if unknown.
pub fn report_for(s: &vigil_store::Store, id: &str, by: &str) -> Result<Option<String>, vigil_store::StoreError> {
    let Some(sf) = s.finding(id)? else { return Ok(None) };
    let q = vigil_store::query::FindingQuery {
        kind: Some(sf.finding.kind.as_str().to_string()),
        src: Some(sf.finding.src.clone()),
        limit: 200,
        ..Default::default()
    };
    let hist: Vec<Finding> = s.query_findings(&q)?.1.into_iter().map(|x| x.finding).filter(|f| f.id != id).collect();
    let audit = s.audit_log(Some(id), 200)?;
    Ok(Some(report_html(&sf, &hist, &audit, by)))
}

/// The STIX 2.1 bundle of a finding straight from a store; `None` if unknown.
pub fn stix_for(s: &vigil_store::Store, id: &str) -> Result<Option<String>, vigil_store::StoreError> {
    Ok(s.finding(id)?.map(|sf| serde_json::to_string_pretty(&crate::stix::bundle(&sf.finding, "Vigil")).unwrap_or_default()))
}
