//! Rendering the inventory for people and spreadsheets: one flat row per asset, written as an
//! aligned table, JSON or CSV. Every text field may come from an attacker (host names, banners,
//! CMDB cells), so CSV cells that a spreadsheet would run as a formula are defused and
//! terminal output carries no control characters.

use crate::Context;
use crate::inventory::{Asset, Inventory};
use serde::Serialize;
use std::io::{self, Write};

/// One asset, flattened.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AssetRow {
    pub ip: String,
    pub name: String,
    pub names: Vec<String>,
    pub macs: Vec<String>,
    /// "tcp/22 ssh ×3"-style entries, most used first.
    pub services: Vec<String>,
    pub os: Vec<String>,
    pub device: Vec<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub last_initiated: Option<String>,
    pub sessions_started: u64,
    pub sessions_served: u64,
    /// Local hours (site time zone) in which the asset started sessions, busiest first.
    pub active_hours: Vec<u32>,
    pub observed: bool,
    pub in_cmdb: bool,
    pub owner: String,
    pub role: String,
    pub environment: String,
    pub decommission: String,
    pub privileged: bool,
}

/// Rows for every asset, in address order.
pub fn asset_rows(inv: &Inventory, ctx: &Context) -> Vec<AssetRow> {
    inv.assets().map(|a| asset_row(a, ctx)).collect()
}

pub fn asset_row(a: &Asset, ctx: &Context) -> AssetRow {
    let fmt = |t: Option<vigil_model::Timestamp>| t.map(|t| t.to_offset(ctx.offset_at(t)).to_rfc3339());
    let mut svcs: Vec<_> = a.services.iter().collect();
    svcs.sort_by(|x, y| y.sessions.cmp(&x.sessions).then(x.port.cmp(&y.port)));
    // The histogram is kept in UTC; shift it by the site's offset now (at the last sighting).
    let shift = a.last_seen.map(|t| ctx.offset_at(t).local_minus_utc()).unwrap_or(0).div_euclid(3600);
    let mut hours: Vec<(u32, u32)> =
        a.hours_utc.iter().enumerate().filter(|(_, n)| **n > 0).map(|(h, n)| ((h as i32 + shift).rem_euclid(24) as u32, *n)).collect();
    hours.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    let c = a.cmdb.as_ref();
    AssetRow {
        ip: a.ip.to_string(),
        name: a.name().unwrap_or_default().to_string(),
        names: a.names.iter().map(|n| n.name.clone()).collect(),
        macs: a.macs.clone(),
        services: svcs
            .iter()
            .map(|s| match &s.app {
                Some(app) => format!("{}/{} {} ×{}", s.proto, s.port, app, s.sessions),
                None => format!("{}/{} ×{}", s.proto, s.port, s.sessions),
            })
            .collect(),
        os: a.os_hints.clone(),
        device: a.device_hints.clone(),
        first_seen: fmt(a.first_seen),
        last_seen: fmt(a.last_seen),
        last_initiated: fmt(a.last_initiated),
        sessions_started: a.initiated,
        sessions_served: a.served,
        active_hours: hours.into_iter().map(|(h, _)| h).collect(),
        observed: a.is_observed(),
        in_cmdb: c.is_some(),
        owner: c.and_then(|c| c.owner.clone()).unwrap_or_default(),
        role: c.and_then(|c| c.role.clone()).unwrap_or_default(),
        environment: c.and_then(|c| c.environment.clone()).unwrap_or_default(),
        decommission: c.and_then(|c| c.decommission).map(|d| d.to_string()).unwrap_or_default(),
        privileged: c.is_some_and(|c| c.privileged),
    }
}

/// A cell a spreadsheet will not execute: text starting with `=`, `+`, `-`, `@`, tab or carriage
/// return (OWASP's CSV-injection list) gets a leading apostrophe; control characters go.
pub fn csv_safe(s: &str) -> String {
    let clean: String = s.chars().filter(|c| !crate::inventory::is_invisible(*c) || *c == '\t').collect();
    match clean.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{clean}"),
        _ => clean,
    }
}

const CSV_HEADER: [&str; 20] = [
    "ip",
    "name",
    "names",
    "macs",
    "services",
    "os",
    "device",
    "first_seen",
    "last_seen",
    "last_initiated",
    "sessions_started",
    "sessions_served",
    "active_hours",
    "observed",
    "in_cmdb",
    "owner",
    "role",
    "environment",
    "decommission",
    "privileged",
];

pub fn write_csv<W: Write>(w: W, rows: &[AssetRow]) -> io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    let e = |x: csv::Error| io::Error::other(x.to_string());
    out.write_record(CSV_HEADER).map_err(e)?;
    for r in rows {
        let hours: Vec<String> = r.active_hours.iter().map(u32::to_string).collect();
        let rec = [
            r.ip.clone(),
            r.name.clone(),
            r.names.join(" "),
            r.macs.join(" "),
            r.services.join("; "),
            r.os.join("; "),
            r.device.join("; "),
            r.first_seen.clone().unwrap_or_default(),
            r.last_seen.clone().unwrap_or_default(),
            r.last_initiated.clone().unwrap_or_default(),
            r.sessions_started.to_string(),
            r.sessions_served.to_string(),
            hours.join(" "),
            r.observed.to_string(),
            r.in_cmdb.to_string(),
            r.owner.clone(),
            r.role.clone(),
            r.environment.clone(),
            r.decommission.clone(),
            r.privileged.to_string(),
        ];
        out.write_record(rec.iter().map(|c| csv_safe(c))).map_err(e)?;
    }
    out.flush()
}

/// An aligned plain-text table with the columns an analyst scans first.
pub fn write_table<W: Write>(mut w: W, rows: &[AssetRow]) -> io::Result<()> {
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            let clip = |s: String, n: usize| -> String {
                let s: String = s.chars().filter(|c| !crate::inventory::is_invisible(*c)).collect();
                if s.chars().count() > n { format!("{}…", s.chars().take(n.saturating_sub(1)).collect::<String>()) } else { s }
            };
            let hints: Vec<String> = r.os.iter().chain(r.device.iter()).cloned().collect();
            let cmdb = if r.in_cmdb {
                let mut v = vec![r.environment.clone(), r.owner.clone()];
                if !r.decommission.is_empty() {
                    v.push(format!("decom {}", r.decommission));
                }
                v.retain(|s| !s.is_empty());
                if v.is_empty() { "yes".into() } else { v.join(", ") }
            } else {
                "-".into()
            };
            [
                clip(r.ip.clone(), 39),
                clip(r.name.clone(), 32),
                clip(r.macs.first().cloned().unwrap_or_default(), 17),
                clip(r.services.iter().take(4).cloned().collect::<Vec<_>>().join(", "), 48),
                clip(hints.join(", "), 28),
                clip(r.last_seen.clone().unwrap_or_else(|| "never".into()), 25),
                clip(cmdb, 32),
            ]
        })
        .collect();
    let head = ["IP", "NAME", "MAC", "SERVICES", "OS/DEVICE", "LAST SEEN", "CMDB"];
    let mut width = head.map(|h| h.chars().count());
    for c in &cells {
        for (i, s) in c.iter().enumerate() {
            width[i] = width[i].max(s.chars().count());
        }
    }
    let line = |w: &mut W, c: &[String]| -> io::Result<()> {
        let parts: Vec<String> = c.iter().enumerate().map(|(i, s)| format!("{s:<width$}", width = width[i])).collect();
        writeln!(w, "{}", parts.join("  ").trim_end())
    };
    line(&mut w, &head.map(String::from))?;
    for c in &cells {
        line(&mut w, c)?;
    }
    writeln!(
        w,
        "{} assets ({} observed, {} in the CMDB)",
        rows.len(),
        rows.iter().filter(|r| r.observed).count(),
        rows.iter().filter(|r| r.in_cmdb).count()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Site;
    use crate::inventory::read_cmdb_csv;
    use std::path::Path;
    use vigil_model::{Conn, ConnState, HttpTxn, PROTO_TCP, Timestamp};

    #[test]
    fn formula_and_control_characters_are_defused() {
        assert_eq!(csv_safe("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(csv_safe("+1"), "'+1");
        assert_eq!(csv_safe("-2+3"), "'-2+3");
        assert_eq!(csv_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_safe("\tx"), "'\tx");
        assert_eq!(csv_safe("ok\u{1b}[31m"), "ok[31m");
        assert_eq!(csv_safe("10.0.0.1"), "10.0.0.1");
        assert_eq!(csv_safe("\u{202e}=1"), "'=1", "a bidi override cannot hide a formula");
    }

    #[test]
    fn csv_export_escapes_hostile_cmdb_and_traffic_text() {
        let site = Site::parse("[site]\ntimezone=\"Asia/Shanghai\"", Path::new("s.toml")).unwrap();
        let ctx = Context::new(site);
        let mut inv = Inventory::for_site(&ctx.site);
        let cmdb = "ip,name,owner,environment\n10.0.0.9,host9,\"=cmd|' /C calc'!A0\",\"prod, \"\"eu\"\"\"\n";
        inv.import_cmdb(read_cmdb_csv(cmdb.as_bytes(), Path::new("c.csv")).unwrap().0);
        let mut c =
            Conn::new(Timestamp::from_secs(1_704_074_400), "10.0.0.5".parse().unwrap(), 5000, "10.0.0.9".parse().unwrap(), 80, PROTO_TCP);
        c.conn_state = ConnState::SF;
        c.app.http.push(HttpTxn { user_agent: Some("@evil Windows".into()), ..Default::default() });
        inv.observe(&c);
        let rows = asset_rows(&inv, &ctx);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].active_hours, vec![10], "02:00 UTC is 10:00 in Shanghai");
        let mut buf = Vec::new();
        write_csv(&mut buf, &rows).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let mut rd = csv::Reader::from_reader(text.as_bytes());
        let recs: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 2);
        let owner = recs[1].get(15).unwrap();
        assert!(owner.starts_with('\''), "{owner}");
        assert_eq!(recs[1].get(17).unwrap(), "prod, \"eu\"");
        assert_eq!(recs[1].get(4).unwrap(), "tcp/80 ×1");
        let mut t = Vec::new();
        write_table(&mut t, &rows).unwrap();
        let t = String::from_utf8(t).unwrap();
        assert!(t.contains("host9") && t.contains("2 assets (2 observed, 1 in the CMDB)"), "{t}");
    }
}
