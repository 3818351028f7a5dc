//! What a detector reports: a [`Hit`] inside one text, before it is tied to a file and turned
//! into a contract [`vigil_model::Finding`].

use serde::Serialize;

/// What kind of secret was found; drives the summary wording and the base risk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A table (spreadsheet, CSV, document table) of hosts/accounts with their passwords.
    PasswordTable,
    /// A browser or password-manager export (url, username, password …).
    PasswordExport,
    /// An admin tool's saved session whose password protection is trivially reversible.
    AdminToolStore,
    /// A password written next to a keyword (`password=`, `密码：`), or on a command line.
    Password,
    /// A connection string or URL carrying a user name and password.
    ConnectionString,
    /// An unencrypted private key (PEM, OpenSSH, PuTTY).
    PrivateKey,
    /// Cloud access keys (AWS, Azure, Alibaba, Tencent, Huawei, GCP).
    CloudKey,
    /// API tokens with a recognisable shape (GitHub, GitLab, Slack, Stripe, JWT …).
    ApiToken,
    /// A secret or key assigned to a keyword, shape unknown.
    GenericSecret,
    /// A password hash (crypt, bcrypt, Kerberos AS-REP): crackable offline.
    PasswordHash,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::PasswordTable => "password_table",
            Category::PasswordExport => "password_export",
            Category::AdminToolStore => "admin_tool_store",
            Category::Password => "password",
            Category::ConnectionString => "connection_string",
            Category::PrivateKey => "private_key",
            Category::CloudKey => "cloud_key",
            Category::ApiToken => "api_token",
            Category::GenericSecret => "generic_secret",
            Category::PasswordHash => "password_hash",
        }
    }
    /// The base risk (0–1) before table size and admin accounts raise it.
    pub fn base_risk(self) -> f64 {
        match self {
            Category::PasswordTable => 0.75,
            Category::PasswordExport => 0.8,
            Category::AdminToolStore => 0.75,
            Category::PrivateKey => 0.75,
            Category::CloudKey => 0.75,
            Category::ConnectionString => 0.65,
            Category::Password => 0.6,
            Category::ApiToken => 0.6,
            Category::GenericSecret => 0.45,
            Category::PasswordHash => 0.4,
        }
    }
}

/// Figures for a password table.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TableStats {
    pub rows: usize,
    pub rows_with_password: usize,
    pub hosts: usize,
    pub admin_accounts: usize,
    /// Column headers as found (attacker text; escaped on display).
    pub columns: Vec<String>,
}

/// One detection inside one text.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// Stable detector name, e.g. `aws_access_key`, `password_assignment`, `winscp_ini`.
    pub detector: &'static str,
    pub category: Category,
    /// 0–1: how sure the detector is that this is a live secret.
    pub confidence: f64,
    /// The secret itself; only ever shown through [`crate::secret::redact`].
    pub secret: String,
    /// Byte offset of the secret (or the table header) in the scanned text.
    pub offset: usize,
    /// Byte offset where the finding ends (for multi-line keys and tables).
    pub end_offset: usize,
    /// The account the secret belongs to, when known.
    pub account: Option<String>,
    /// The host or service it opens, when known.
    pub host: Option<String>,
    pub table: Option<TableStats>,
    /// A short note (e.g. "WinSCP obfuscation decoded").
    pub note: Option<String>,
}

impl Hit {
    pub fn new(detector: &'static str, category: Category, confidence: f64, secret: &str, offset: usize, end_offset: usize) -> Self {
        Hit {
            detector,
            category,
            confidence: confidence.clamp(0.0, 1.0),
            secret: secret.to_string(),
            offset,
            end_offset: end_offset.max(offset),
            account: None,
            host: None,
            table: None,
            note: None,
        }
    }
    pub fn with_account(mut self, a: Option<&str>) -> Self {
        self.account = a.filter(|s| !s.is_empty()).map(str::to_string);
        self
    }
    pub fn with_host(mut self, h: Option<&str>) -> Self {
        self.host = h.filter(|s| !s.is_empty()).map(str::to_string);
        self
    }
    pub fn with_note(mut self, n: &str) -> Self {
        self.note = Some(n.to_string());
        self
    }
}

/// Accounts whose compromise gives a whole machine or service.
pub fn is_admin_account(user: &str) -> bool {
    let u = user.trim().to_ascii_lowercase();
    let u = u.rsplit(['\\', '/']).next().unwrap_or(&u);
    let u = u.split('@').next().unwrap_or(u);
    matches!(
        u,
        "root"
            | "administrator"
            | "admin"
            | "sa"
            | "postmaster"
            | "sysadmin"
            | "system"
            | "sys"
            | "superuser"
            | "postgres"
            | "oracle"
            | "enable"
            | "domain admin"
            | "domainadmin"
            | "supervisor"
            | "manager"
            | "mysql"
            | "admin1"
            | "webadmin"
            | "dba"
            | "sysdba"
            | "ubnt"
            | "cisco"
            | "管理员"
            | "超级管理员"
            | "系统管理员"
    )
}
