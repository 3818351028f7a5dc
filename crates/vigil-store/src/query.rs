//! Read queries for the dashboard and its API: one finding, a filtered and paged list, and the
//! aggregates of the overview, computed in SQL so a store of many findings is not parsed whole.

use crate::{Store, StoreError, StoredFinding};
use rusqlite::{OptionalExtension, params};
use vigil_model::Finding;

/// Filters of the findings list; `None` or empty means "any".
#[derive(Debug, Clone, Default)]
pub struct FindingQuery {
    pub kind: Option<String>,
    pub severity: Option<String>,
    pub status: Option<String>,
    pub src: Option<String>,
    /// Case-insensitive substring of the finding's JSON (summary, hosts, names, evidence).
    pub text: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

/// Counts for the overview.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Overview {
    pub total: i64,
    pub by_severity: Vec<(String, i64)>,
    pub by_kind: Vec<(String, i64)>,
    pub by_status: Vec<(String, i64)>,
    /// (day of first sighting in site time, severity, count), oldest day first.
    pub daily: Vec<(String, String, i64)>,
    /// (day, kind, count).
    pub daily_kind: Vec<(String, String, i64)>,
    pub top_hosts: Vec<HostCount>,
    /// (country, local hour "00".."23", findings) for findings naming foreign countries.
    pub country_hours: Vec<(String, String, i64)>,
}

#[derive(Debug, Clone, Default, serde::Serialize, PartialEq)]
pub struct HostCount {
    pub host: String,
    pub findings: i64,
    pub max_score: f64,
    pub max_severity: String,
}

/// Escapes `%`, `_` and the escape character itself for a LIKE pattern.
fn like_pattern(s: &str) -> String {
    let mut p = String::with_capacity(s.len() + 2);
    p.push('%');
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

fn none_if_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Store {
    fn stored(
        &self,
        id: String,
        body: String,
        status: String,
        assignee: Option<String>,
        notes: Option<String>,
        times_seen: i64,
    ) -> Result<StoredFinding, StoreError> {
        let finding: Finding =
            serde_json::from_str(&body).map_err(|err| StoreError::Corrupt { path: self.path.clone(), id, msg: err.to_string() })?;
        Ok(StoredFinding { finding, status, assignee, notes, times_seen })
    }

    /// One finding by id.
    pub fn finding(&self, id: &str) -> Result<Option<StoredFinding>, StoreError> {
        let row = self
            .conn
            .query_row("SELECT id, body, status, assignee, notes, times_seen FROM finding WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .optional()
            .map_err(self.err())?;
        match row {
            None => Ok(None),
            Some((id, body, st, a, n, t)) => self.stored(id, body, st, a, n, t).map(Some),
        }
    }

    /// A page of findings matching the filters, ranked by score, and the number matching.
    pub fn query_findings(&self, q: &FindingQuery) -> Result<(i64, Vec<StoredFinding>), StoreError> {
        const WHERE: &str = "WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR severity = ?2) AND (?3 IS NULL OR status = ?3)
             AND (?4 IS NULL OR src = ?4) AND (?5 IS NULL OR body LIKE ?5 ESCAPE '\\' OR notes LIKE ?5 ESCAPE '\\' OR assignee LIKE ?5 ESCAPE '\\')";
        let text = none_if_empty(&q.text).map(like_pattern);
        let args = params![none_if_empty(&q.kind), none_if_empty(&q.severity), none_if_empty(&q.status), none_if_empty(&q.src), text];
        let total: i64 = self
            .conn
            .prepare_cached(&format!("SELECT count(*) FROM finding {WHERE}"))
            .and_then(|mut s| s.query_row(args, |r| r.get(0)))
            .map_err(self.err())?;
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT id, body, status, assignee, notes, times_seen FROM finding {WHERE} ORDER BY score DESC, id LIMIT ?6 OFFSET ?7"
            ))
            .map_err(self.err())?;
        let rows = st
            .query_map(
                params![
                    none_if_empty(&q.kind),
                    none_if_empty(&q.severity),
                    none_if_empty(&q.status),
                    none_if_empty(&q.src),
                    none_if_empty(&q.text).map(like_pattern),
                    q.limit.min(10_000) as i64,
                    q.offset.min(i64::MAX as usize) as i64
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .map_err(self.err())?;
        let mut out = Vec::new();
        for row in rows {
            let (id, body, st, a, n, t) = row.map_err(self.err())?;
            out.push(self.stored(id, body, st, a, n, t)?);
        }
        Ok((total, out))
    }

    fn pairs(&self, sql: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let mut st = self.conn.prepare_cached(sql).map_err(self.err())?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    fn triples(&self, sql: &str) -> Result<Vec<(String, String, i64)>, StoreError> {
        let mut st = self.conn.prepare_cached(sql).map_err(self.err())?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Hosts with findings, most serious first.
    pub fn top_hosts(&self, limit: usize) -> Result<Vec<HostCount>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT src, count(*), max(score) FROM finding GROUP BY src ORDER BY max(score) DESC, count(*) DESC, src LIMIT ?1",
            )
            .map_err(self.err())?;
        let rows = st
            .query_map([limit as i64], |r| {
                let score: f64 = r.get(2)?;
                Ok(HostCount {
                    host: r.get(0)?,
                    findings: r.get(1)?,
                    max_score: score,
                    max_severity: vigil_model::Severity::from_score(score).as_str().to_string(),
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Changes whenever a finding is added, updated or triaged, or the inventory is saved (by
    /// this process or another one): the key of the dashboard's caches.
    pub fn change_mark(&self) -> Result<String, StoreError> {
        self.conn
            .query_row(
                "SELECT (SELECT count(*) FROM finding) || '|' || (SELECT COALESCE(max(updated_at), '') FROM finding) || '|' ||
                        (SELECT COALESCE(max(updated_at), '') FROM state WHERE key = 'inventory')",
                [],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Everything the overview page draws.
    pub fn overview(&self, top_hosts: usize) -> Result<Overview, StoreError> {
        let total: i64 = self.conn.query_row("SELECT count(*) FROM finding", [], |r| r.get(0)).map_err(self.err())?;
        Ok(Overview {
            total,
            by_severity: self.pairs("SELECT severity, count(*) FROM finding GROUP BY severity")?,
            by_kind: self.pairs("SELECT kind, count(*) FROM finding GROUP BY kind ORDER BY count(*) DESC, kind")?,
            by_status: self.pairs("SELECT status, count(*) FROM finding GROUP BY status")?,
            daily: self.triples("SELECT substr(first_seen, 1, 10) d, severity, count(*) FROM finding GROUP BY d, severity ORDER BY d")?,
            daily_kind: self.triples("SELECT substr(first_seen, 1, 10) d, kind, count(*) FROM finding GROUP BY d, kind ORDER BY d")?,
            top_hosts: self.top_hosts(top_hosts)?,
            country_hours: self.triples(
                "SELECT country, hour, count(*) FROM (
                    SELECT json_extract(body, '$.evidence.country') AS country, substr(first_seen, 12, 2) AS hour FROM finding
                    UNION ALL
                    SELECT c.value, substr(f.first_seen, 12, 2) FROM finding f, json_each(f.body, '$.evidence.countries') c
                 ) WHERE typeof(country) = 'text' AND country <> '' GROUP BY country, hour ORDER BY country, hour",
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone};
    use vigil_model::{FindingKind, Severity};

    fn finding(key: &str, kind: FindingKind, score: f64, src: &str, summary: &str, evidence: serde_json::Value) -> Finding {
        let t = FixedOffset::east_opt(8 * 3600).unwrap().with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        Finding {
            id: Finding::stable_id(kind, &[key]),
            kind,
            severity: Severity::from_score(score),
            score,
            src: src.into(),
            dst: vec![],
            path: vec![],
            first_seen: t,
            last_seen: t,
            attack: vec![],
            summary: summary.into(),
            evidence,
        }
    }

    #[test]
    fn filters_search_paging_and_overview() {
        let mut s = Store::in_memory().unwrap();
        let fs = vec![
            finding("a", FindingKind::Beacon, 0.9, "10.0.0.1", "calls home 100% of nights", serde_json::json!({"countries": ["RU", "US"]})),
            finding("b", FindingKind::Exfiltration, 0.5, "10.0.0.2", "uploads", serde_json::json!({"country": "KP"})),
            finding("c", FindingKind::Beacon, 0.3, "10.0.0.1", "calls_home", serde_json::json!({})),
        ];
        s.upsert_findings(&fs).unwrap();
        fn all_of(s: &Store, q: FindingQuery) -> (i64, Vec<StoredFinding>) {
            s.query_findings(&FindingQuery { limit: 50, ..q }).unwrap()
        }
        assert_eq!(all_of(&s, FindingQuery::default()).0, 3);
        let (n, page) = all_of(&s, FindingQuery { kind: Some("beacon".into()), ..Default::default() });
        assert_eq!((n, page[0].finding.id.clone()), (2, fs[0].id.clone()));
        // `%` and `_` are literal in a search, not wildcards.
        assert_eq!(all_of(&s, FindingQuery { text: Some("100%".into()), ..Default::default() }).0, 1);
        assert_eq!(all_of(&s, FindingQuery { text: Some("calls_home".into()), ..Default::default() }).0, 1);
        assert_eq!(all_of(&s, FindingQuery { text: Some("CALLS".into()), ..Default::default() }).0, 2, "case-insensitive");
        assert_eq!(all_of(&s, FindingQuery { severity: Some("critical".into()), ..Default::default() }).0, 1);
        let (n, page) = s.query_findings(&FindingQuery { limit: 1, offset: 1, ..Default::default() }).unwrap();
        assert_eq!((n, page.len(), page[0].finding.id.clone()), (3, 1, fs[1].id.clone()));
        s.set_status(&fs[1].id, "resolved", None, None).unwrap();
        assert_eq!(all_of(&s, FindingQuery { status: Some("resolved".into()), ..Default::default() }).0, 1);
        assert_eq!(s.finding(&fs[2].id).unwrap().unwrap().finding.summary, "calls_home");
        assert!(s.finding("missing").unwrap().is_none());

        let mark = s.change_mark().unwrap();
        s.set_status(&fs[0].id, "acknowledged", None, None).unwrap();
        let mark2 = s.change_mark().unwrap();
        assert_ne!(mark, mark2, "triage changes the mark");
        s.put_state("inventory", &serde_json::json!({})).unwrap();
        assert_ne!(mark2, s.change_mark().unwrap(), "a new inventory changes the mark");
        let o = s.overview(10).unwrap();
        assert_eq!(o.total, 3);
        assert_eq!(o.by_kind[0], ("beacon".to_string(), 2));
        assert_eq!(o.daily.iter().map(|d| d.2).sum::<i64>(), 3);
        assert_eq!(o.top_hosts[0].host, "10.0.0.1");
        assert_eq!(o.top_hosts[0].findings, 2);
        let countries: Vec<&str> = o.country_hours.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(countries, vec!["KP", "RU", "US"]);
        assert!(o.country_hours.iter().all(|c| c.1 == "03"));
    }
}
