//! Dashboard accounts, sessions, API tokens and the audit log. The store keeps only what it is
//! given: password hashes (argon2id, computed by the caller) and hashes of session and API
//! tokens, so a copy of `vigil.db` does not hand out live credentials.

use crate::{Store, StoreError, now};
use rusqlite::{OptionalExtension, params};

/// Roles, least to most privileged: viewers read, analysts triage, admins also read the audit log.
pub const ROLES: [&str; 3] = ["viewer", "analyst", "admin"];

/// A dashboard account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub pw_hash: String,
    pub disabled: bool,
}

/// A live session: who, its CSRF token, and when it ends (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    pub csrf: String,
    pub expires_at: i64,
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub ts: String,
    pub user: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User { id: r.get(0)?, name: r.get(1)?, role: r.get(2)?, pw_hash: r.get(3)?, disabled: r.get::<_, i64>(4)? != 0 })
}

const USER_COLS: &str = "u.id, u.name, u.role, u.pw_hash, u.disabled";

impl Store {
    /// Creates an account, or replaces the role and password of an existing one (so `vigil user
    /// add` also resets a forgotten password). Returns the account id; `None` for an unknown role.
    pub fn upsert_user(&mut self, name: &str, role: &str, pw_hash: &str) -> Result<Option<i64>, StoreError> {
        if !ROLES.contains(&role) {
            return Ok(None);
        }
        self.conn
            .execute(
                "INSERT INTO app_user (name, role, pw_hash, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(name) DO UPDATE SET role = excluded.role, pw_hash = excluded.pw_hash, disabled = 0",
                params![name, role, pw_hash, now()],
            )
            .map_err(self.err())?;
        let id: i64 = self.conn.query_row("SELECT id FROM app_user WHERE name = ?1", [name], |r| r.get(0)).map_err(self.err())?;
        // A password change ends every session of the account.
        self.conn.execute("DELETE FROM session WHERE user_id = ?1", [id]).map_err(self.err())?;
        Ok(Some(id))
    }

    pub fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
        self.conn
            .query_row(&format!("SELECT {USER_COLS} FROM app_user u WHERE u.name = ?1"), [name], user_row)
            .optional()
            .map_err(self.err())
    }

    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        let mut st = self.conn.prepare(&format!("SELECT {USER_COLS} FROM app_user u ORDER BY u.name")).map_err(self.err())?;
        let rows = st.query_map([], user_row).map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Disables an account and ends its sessions; its API tokens stop working too.
    pub fn disable_user(&mut self, name: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute("UPDATE app_user SET disabled = 1 WHERE name = ?1", [name]).map_err(self.err())?;
        self.conn.execute("DELETE FROM session WHERE user_id IN (SELECT id FROM app_user WHERE name = ?1)", [name]).map_err(self.err())?;
        Ok(n == 1)
    }

    /// Records a new session under the hash of its cookie token.
    pub fn create_session(&mut self, token_hash: &str, user_id: i64, csrf: &str, now_s: i64, expires_at: i64) -> Result<(), StoreError> {
        // Expired sessions are swept whenever a new one starts, so the table stays small.
        self.conn.execute("DELETE FROM session WHERE expires_at <= ?1", [now_s]).map_err(self.err())?;
        self.conn
            .execute(
                "INSERT INTO session (token_hash, user_id, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![token_hash, user_id, csrf, now_s, expires_at],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// The live session under this token hash at `now_s`, if any (expired or disabled: none).
    pub fn session(&self, token_hash: &str, now_s: i64) -> Result<Option<Session>, StoreError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {USER_COLS}, s.csrf, s.expires_at FROM session s JOIN app_user u ON u.id = s.user_id
                     WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0"
                ),
                params![token_hash, now_s],
                |r| Ok(Session { user: user_row(r)?, csrf: r.get(5)?, expires_at: r.get(6)? }),
            )
            .optional()
            .map_err(self.err())
    }

    /// Ends a session (logout). Returns whether it existed.
    pub fn delete_session(&mut self, token_hash: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute("DELETE FROM session WHERE token_hash = ?1", [token_hash]).map_err(self.err())?;
        Ok(n == 1)
    }

    /// Records a new API token (its hash) for an account.
    pub fn create_api_token(&mut self, user_id: i64, token_hash: &str, label: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO api_token (token_hash, user_id, label, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![token_hash, user_id, label, now()],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// The account behind an API token hash (none when unknown or the account is disabled).
    pub fn api_token_user(&mut self, token_hash: &str) -> Result<Option<User>, StoreError> {
        let u = self
            .conn
            .query_row(
                &format!(
                    "SELECT {USER_COLS} FROM api_token t JOIN app_user u ON u.id = t.user_id WHERE t.token_hash = ?1 AND u.disabled = 0"
                ),
                [token_hash],
                user_row,
            )
            .optional()
            .map_err(self.err())?;
        if u.is_some() {
            self.conn
                .execute("UPDATE api_token SET last_used = ?2 WHERE token_hash = ?1", params![token_hash, now()])
                .map_err(self.err())?;
        }
        Ok(u)
    }

    /// Appends to the audit log.
    pub fn audit(&mut self, user: &str, action: &str, target: &str, detail: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO audit (ts, user_name, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![now(), user, action, target, detail],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// The newest audit entries first, optionally only those about one target.
    pub fn audit_log(&self, target: Option<&str>, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, ts, user_name, action, target, detail FROM audit WHERE (?1 IS NULL OR target = ?1) ORDER BY id DESC LIMIT ?2",
            )
            .map_err(self.err())?;
        let rows = st
            .query_map(params![target, limit as i64], |r| {
                Ok(AuditEntry { id: r.get(0)?, ts: r.get(1)?, user: r.get(2)?, action: r.get(3)?, target: r.get(4)?, detail: r.get(5)? })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_end_on_logout_and_on_password_change() {
        let mut s = Store::in_memory().unwrap();
        assert_eq!(s.upsert_user("eve", "root", "h").unwrap(), None, "unknown role refused");
        let id = s.upsert_user("ana", "analyst", "h1").unwrap().unwrap();
        s.create_session("t1", id, "c1", 100, 200).unwrap();
        assert_eq!(s.session("t1", 150).unwrap().unwrap().user.name, "ana");
        assert!(s.session("t1", 200).unwrap().is_none(), "expired");
        assert!(s.session("nope", 150).unwrap().is_none());
        assert!(s.delete_session("t1").unwrap());
        assert!(s.session("t1", 150).unwrap().is_none(), "logged out");
        s.create_session("t2", id, "c2", 100, 200).unwrap();
        assert_eq!(s.upsert_user("ana", "viewer", "h2").unwrap(), Some(id));
        assert!(s.session("t2", 150).unwrap().is_none(), "password change ends sessions");
        assert_eq!(s.user_by_name("ana").unwrap().unwrap().role, "viewer");
    }

    #[test]
    fn api_tokens_follow_the_account_and_the_audit_log_is_newest_first() {
        let mut s = Store::in_memory().unwrap();
        let id = s.upsert_user("bot", "viewer", "h").unwrap().unwrap();
        s.create_api_token(id, "th", "ci").unwrap();
        assert_eq!(s.api_token_user("th").unwrap().unwrap().name, "bot");
        assert!(s.api_token_user("other").unwrap().is_none());
        assert!(s.disable_user("bot").unwrap());
        assert!(s.api_token_user("th").unwrap().is_none(), "disabled account");
        s.audit("ana", "triage", "f1", "status=acknowledged").unwrap();
        s.audit("ana", "triage", "f2", "status=resolved").unwrap();
        let log = s.audit_log(None, 10).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].target, "f2");
        assert_eq!(s.audit_log(Some("f1"), 10).unwrap().len(), 1);
    }
}
