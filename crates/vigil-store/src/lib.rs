//! The embedded store: one data directory holding `vigil.db`, a SQLite database in WAL mode with
//! versioned migrations. Findings are keyed by their content-derived id, so re-reading the same
//! input updates a finding instead of duplicating it; each write is one transaction, so a crash
//! or kill never loses what was committed before it.

use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use vigil_model::{Finding, FindingKind, Severity};

pub mod auth;
pub mod query;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create data directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("database {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("database {path} is on a read-only file system or not writable: {source}")]
    ReadOnly { path: PathBuf, source: rusqlite::Error },
    #[error("database {path} has schema version {found}, newer than this vigil understands ({known}); upgrade vigil")]
    TooNew { path: PathBuf, found: i64, known: i64 },
    #[error("database {path}: stored finding {id} is unreadable: {msg}")]
    Corrupt { path: PathBuf, id: String, msg: String },
}

/// The schema, one step per version. Never edit a step once released: add a new one.
const MIGRATIONS: &[&str] = &[
    // v1: findings with triage state, ingest runs, key/value detector state.
    "CREATE TABLE finding (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        score REAL NOT NULL,
        src TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        summary TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'new',
        assignee TEXT,
        notes TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        times_seen INTEGER NOT NULL DEFAULT 1
     );
     CREATE INDEX finding_kind ON finding(kind);
     CREATE INDEX finding_src ON finding(src);
     CREATE INDEX finding_score ON finding(score DESC);
     CREATE TABLE run (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        command TEXT NOT NULL,
        inputs TEXT NOT NULL,
        stats TEXT
     );
     CREATE TABLE state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
     );",
    // v2: dashboard accounts, server-side sessions, API tokens (only hashes of secrets are
    // kept), the audit log of triage actions, and indexes for the dashboard's filters.
    "CREATE TABLE app_user (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        pw_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
     );
     CREATE TABLE session (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
     );
     CREATE INDEX session_user ON session(user_id);
     CREATE TABLE api_token (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_used TEXT
     );
     CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts TEXT NOT NULL,
        user_name TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL
     );
     CREATE INDEX finding_status ON finding(status);
     CREATE INDEX finding_severity ON finding(severity);
     CREATE INDEX finding_first_seen ON finding(first_seen);",
];

/// Triage states an analyst moves a finding through.
pub const STATUSES: [&str; 4] = ["new", "acknowledged", "false_positive", "resolved"];

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// What happened to a finding on [`Store::upsert_findings`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UpsertStats {
    pub inserted: usize,
    /// Known findings given the new view.
    pub updated: usize,
    /// Known findings whose stronger stored view was kept ([`Keep::Strongest`]); their
    /// sighting times and count still advance.
    pub held: usize,
}

/// Which view of a known finding [`Store::upsert_findings_keeping`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The newest: each run replaces the last (`vigil hunt`, where the analyst chooses the
    /// inputs and may have tuned the site file since).
    Latest,
    /// The strongest: a lower-scored re-evaluation does not replace a stored view (`vigil
    /// watch`, whose sliding window lets a beacon's early nights or an upload's first hours
    /// fall out of the lookback; what was seen stays seen, with the evidence that showed it).
    /// An equal or higher score replaces it. First and last sightings cover both.
    Strongest,
}

/// A stored finding with its triage state.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFinding {
    pub finding: Finding,
    pub status: String,
    pub assignee: Option<String>,
    pub notes: Option<String>,
    pub times_seen: i64,
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

impl Store {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
        let path = dir.join("vigil.db");
        let conn = Connection::open(&path).map_err(|source| StoreError::Sqlite { path: path.clone(), source })?;
        let mut s = Store { conn, path };
        s.init().map_err(|e| match e {
            // SQLite only says "unable to open database file": name the cause when it is a
            // read-only directory or file system (opening for write, without writing, tells).
            StoreError::Sqlite { path, source }
                if std::fs::OpenOptions::new().append(true).open(&path).is_err_and(|io| {
                    matches!(io.kind(), std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied)
                }) =>
            {
                StoreError::ReadOnly { path, source }
            }
            e => e,
        })?;
        Ok(s)
    }

    /// An in-memory store (tests, `--no-store`).
    pub fn in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Sqlite { path: path.clone(), source })?;
        let mut s = Store { conn, path };
        s.init()?;
        Ok(s)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How long a write waits for another process's lock before failing with "database is
    /// locked" (10 s by default).
    pub fn set_busy_timeout(&self, d: std::time::Duration) -> Result<(), StoreError> {
        self.conn.busy_timeout(d).map_err(self.err())
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite { path: self.path.clone(), source }
    }

    fn init(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let e = |source| StoreError::Sqlite { path: path.clone(), source };
        // WAL: readers (dashboard, queries) never block the writer; synchronous=NORMAL in WAL
        // mode keeps every committed transaction across a process crash.
        self.conn.pragma_update(None, "journal_mode", "WAL").map_err(e)?;
        self.conn.pragma_update(None, "synchronous", "NORMAL").map_err(e)?;
        self.conn.pragma_update(None, "foreign_keys", "ON").map_err(e)?;
        self.conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(e)?;
        let version: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(e)?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew { path: self.path.clone(), found: version, known });
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction().map_err(e)?;
            tx.execute_batch(step).map_err(e)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(e)?;
            tx.commit().map_err(e)?;
        }
        Ok(())
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(self.err())
    }

    /// Inserts new findings and updates known ones (same id): score, severity, times and
    /// evidence follow the newest sighting; triage state is kept. One transaction.
    /// (`vigil hunt`: the analyst's latest run over the inputs given, so a tuned site file
    /// takes effect.)
    pub fn upsert_findings(&mut self, findings: &[Finding]) -> Result<UpsertStats, StoreError> {
        self.upsert_findings_keeping(findings, Keep::Latest)
    }

    /// [`Store::upsert_findings`] with the choice of which view of a known finding is kept.
    pub fn upsert_findings_keeping(&mut self, findings: &[Finding], keep: Keep) -> Result<UpsertStats, StoreError> {
        let path = self.path.clone();
        let e = |source| StoreError::Sqlite { path: path.clone(), source };
        // IMMEDIATE: take the write lock first, waiting up to the busy timeout for another
        // writer. A deferred transaction that reads and then writes fails at once instead.
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(e)?;
        let mut stats = UpsertStats::default();
        {
            let mut exists = tx.prepare_cached("SELECT score, body FROM finding WHERE id = ?1").map_err(e)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO finding (id, kind, severity, score, src, first_seen, last_seen, summary, body, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                )
                .map_err(e)?;
            let mut update = tx
                .prepare_cached(
                    "UPDATE finding SET severity = ?2, score = ?3, last_seen = ?4, summary = ?5, body = ?6,
                     updated_at = ?7, times_seen = times_seen + 1 WHERE id = ?1",
                )
                .map_err(e)?;
            let ts = now();
            for f in findings {
                let known: Option<(f64, String)> = exists.query_row([&f.id], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(e)?;
                let Some((stored_score, stored_body)) = known else {
                    let body = serde_json::to_string(f).expect("a Finding always serialises");
                    insert
                        .execute(params![
                            f.id,
                            f.kind.as_str(),
                            f.severity.as_str(),
                            f.score,
                            f.src,
                            f.first_seen.to_rfc3339(),
                            f.last_seen.to_rfc3339(),
                            f.summary,
                            body,
                            ts
                        ])
                        .map_err(e)?;
                    stats.inserted += 1;
                    continue;
                };
                // The stored view, when it is the one to keep: its score, severity, summary and
                // evidence, over the sightings of both.
                let stored = match keep {
                    Keep::Strongest if f.score < stored_score => serde_json::from_str::<Finding>(&stored_body).ok(),
                    _ => None,
                };
                let kept = match stored {
                    Some(mut old) => {
                        stats.held += 1;
                        old.first_seen = old.first_seen.min(f.first_seen);
                        old.last_seen = old.last_seen.max(f.last_seen);
                        old
                    }
                    None => {
                        stats.updated += 1;
                        let mut new = f.clone();
                        if keep == Keep::Strongest
                            && let Ok(old) = serde_json::from_str::<Finding>(&stored_body)
                        {
                            new.first_seen = new.first_seen.min(old.first_seen);
                            new.last_seen = new.last_seen.max(old.last_seen);
                        }
                        new
                    }
                };
                let body = serde_json::to_string(&kept).expect("a Finding always serialises");
                update
                    .execute(params![kept.id, kept.severity.as_str(), kept.score, kept.last_seen.to_rfc3339(), kept.summary, body, ts])
                    .map_err(e)?;
            }
        }
        tx.commit().map_err(e)?;
        Ok(stats)
    }

    /// Findings ranked by score, optionally only those at or above `min_severity` or of one kind.
    pub fn findings(&self, kind: Option<FindingKind>, min_severity: Option<Severity>) -> Result<Vec<StoredFinding>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, body, status, assignee, notes, times_seen FROM finding
                 WHERE (?1 IS NULL OR kind = ?1) ORDER BY score DESC, id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([kind.map(|k| k.as_str())], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .map_err(self.err())?;
        let mut out = Vec::new();
        for row in rows {
            let (id, body, status, assignee, notes, times_seen) = row.map_err(self.err())?;
            let finding: Finding = serde_json::from_str(&body).map_err(|err| StoreError::Corrupt {
                path: self.path.clone(),
                id: id.clone(),
                msg: err.to_string(),
            })?;
            if min_severity.is_some_and(|m| finding.severity < m) {
                continue;
            }
            out.push(StoredFinding { finding, status, assignee, notes, times_seen });
        }
        Ok(out)
    }

    /// Moves a finding through triage. Returns false when no finding has that id.
    pub fn set_status(&mut self, id: &str, status: &str, assignee: Option<&str>, notes: Option<&str>) -> Result<bool, StoreError> {
        if !STATUSES.contains(&status) {
            return Ok(false);
        }
        let n = self
            .conn
            .execute(
                "UPDATE finding SET status = ?2, assignee = COALESCE(?3, assignee), notes = COALESCE(?4, notes), updated_at = ?5 WHERE id = ?1",
                params![id, status, assignee, notes, now()],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// Records one ingest run (command, inputs, counters) for the audit trail.
    pub fn record_run(&mut self, command: &str, inputs: &[String], stats: &serde_json::Value) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO run (started_at, command, inputs, stats) VALUES (?1, ?2, ?3, ?4)",
                params![now(), command, serde_json::to_string(inputs).unwrap_or_default(), stats.to_string()],
            )
            .map_err(self.err())?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Detector state and history, as JSON under a key (baselines, inventory, first-seen sets).
    pub fn put_state(&mut self, key: &str, value: &serde_json::Value) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO state (key, value, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![key, value.to_string(), now()],
            )
            .map_err(self.err())?;
        Ok(())
    }

    pub fn get_state(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let v: Option<String> =
            self.conn.query_row("SELECT value FROM state WHERE key = ?1", [key], |r| r.get(0)).optional().map_err(self.err())?;
        Ok(v.and_then(|s| serde_json::from_str(&s).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone};

    fn finding(id_key: &str, score: f64) -> Finding {
        let t = FixedOffset::east_opt(8 * 3600).unwrap().with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        Finding {
            id: Finding::stable_id(FindingKind::Beacon, &[id_key]),
            kind: FindingKind::Beacon,
            severity: Severity::from_score(score),
            score,
            src: "10.0.0.5".into(),
            dst: vec!["203.0.113.9".into()],
            path: vec![],
            first_seen: t,
            last_seen: t,
            attack: vec!["T1071.001".into()],
            summary: "10.0.0.5 calls 203.0.113.9 every 60 s".into(),
            evidence: serde_json::json!({"interval_s": 60}),
        }
    }

    #[test]
    fn rereading_the_same_findings_updates_instead_of_duplicating() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let a = finding("a", 0.8);
        let b = finding("b", 0.6);
        assert_eq!(s.upsert_findings(&[a.clone(), b.clone()]).unwrap(), UpsertStats { inserted: 2, updated: 0, held: 0 });
        assert!(s.set_status(&a.id, "acknowledged", Some("duty"), None).unwrap());
        let mut a2 = a.clone();
        a2.score = 0.95;
        a2.severity = Severity::Critical;
        assert_eq!(s.upsert_findings(&[a2, b]).unwrap(), UpsertStats { inserted: 0, updated: 2, held: 0 });
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        let all = s.findings(None, None).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].finding.id, a.id, "ranked by the newest score");
        assert_eq!(all[0].finding.score, 0.95);
        assert_eq!(all[0].status, "acknowledged", "triage survives an update");
        assert_eq!(all[0].assignee.as_deref(), Some("duty"));
        assert_eq!(all[0].times_seen, 2);
        assert_eq!(s.findings(None, Some(Severity::High)).unwrap().len(), 1);
        assert_eq!(s.findings(Some(FindingKind::Exfiltration), None).unwrap().len(), 0);
    }

    #[test]
    fn a_sliding_window_keeps_the_strongest_view_and_a_hunt_the_latest() {
        let mut s = Store::in_memory().unwrap();
        let hour = chrono::Duration::hours(1);
        let strong = finding("a", 0.9);
        s.upsert_findings_keeping(std::slice::from_ref(&strong), Keep::Strongest).unwrap();
        // The next window sees only the tail of the series: weaker, later.
        let mut weak = finding("a", 0.45);
        weak.summary = "10.0.0.5 calls 203.0.113.9 now and then".into();
        weak.evidence = serde_json::json!({"interval_s": 60, "connections": 4});
        weak.first_seen = strong.first_seen + hour;
        weak.last_seen = strong.last_seen + hour + hour;
        let st = s.upsert_findings_keeping(std::slice::from_ref(&weak), Keep::Strongest).unwrap();
        assert_eq!(st, UpsertStats { inserted: 0, updated: 0, held: 1 });
        let got = &s.findings(None, None).unwrap()[0];
        assert_eq!(got.finding.score, 0.9, "a weaker re-evaluation does not replace the stored view");
        assert_eq!(got.finding.severity, strong.severity);
        assert_eq!(got.finding.summary, strong.summary);
        assert_eq!(got.finding.evidence, strong.evidence);
        assert_eq!(got.finding.first_seen, strong.first_seen);
        assert_eq!(got.finding.last_seen, weak.last_seen, "the sighting still advances");
        assert_eq!(got.times_seen, 2);
        assert_eq!(s.findings(None, Some(Severity::High)).unwrap().len(), 1, "still found at its peak severity");
        // A stronger one replaces it, and keeps the earliest sighting.
        let mut stronger = finding("a", 0.97);
        stronger.severity = Severity::Critical;
        stronger.first_seen = strong.first_seen + hour;
        stronger.last_seen = strong.last_seen + hour;
        let st = s.upsert_findings_keeping(std::slice::from_ref(&stronger), Keep::Strongest).unwrap();
        assert_eq!(st, UpsertStats { inserted: 0, updated: 1, held: 0 });
        let got = &s.findings(None, None).unwrap()[0];
        assert_eq!((got.finding.score, got.finding.severity), (0.97, Severity::Critical));
        assert_eq!(got.finding.first_seen, strong.first_seen);
        assert_eq!(got.finding.last_seen, weak.last_seen);
        // A hunt takes the latest view as it is (a tuned site file takes effect).
        let st = s.upsert_findings(std::slice::from_ref(&weak)).unwrap();
        assert_eq!(st, UpsertStats { inserted: 0, updated: 1, held: 0 });
        let got = &s.findings(None, None).unwrap()[0];
        assert_eq!((got.finding.score, got.finding.summary.as_str()), (0.45, weak.summary.as_str()));
        assert_eq!(got.times_seen, 4);
    }

    #[test]
    fn migrations_are_versioned_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
        s.conn.pragma_update(None, "user_version", 999).unwrap();
        drop(s);
        let e = Store::open(dir.path()).err().expect("a newer schema must be refused").to_string();
        assert!(e.contains("999"), "{e}");
    }

    #[test]
    fn unknown_status_is_refused_and_state_round_trips() {
        let mut s = Store::in_memory().unwrap();
        let a = finding("a", 0.8);
        s.upsert_findings(std::slice::from_ref(&a)).unwrap();
        assert!(!s.set_status(&a.id, "deleted", None, None).unwrap());
        assert!(!s.set_status("nope", "resolved", None, None).unwrap());
        s.put_state("history", &serde_json::json!({"hosts": 3})).unwrap();
        s.put_state("history", &serde_json::json!({"hosts": 4})).unwrap();
        assert_eq!(s.get_state("history").unwrap(), Some(serde_json::json!({"hosts": 4})));
        assert_eq!(s.get_state("missing").unwrap(), None);
    }

    #[test]
    fn a_corrupt_database_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("vigil.db"),
            b"this is not sqlite, it is garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage",
        )
        .unwrap();
        let e = Store::open(dir.path()).err().expect("garbage must be refused").to_string();
        assert!(e.contains("vigil.db"), "{e}");
    }
}
