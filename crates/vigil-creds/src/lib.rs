//! vigil-creds: finds credential stores before attackers do — plaintext password tables
//! (spreadsheets, CSV, documents, in English and Chinese), `password=` secrets and connection
//! strings, unencrypted private keys, cloud keys and API tokens, and admin-tool stores whose
//! protection is no protection (WinSCP, FileZilla, mRemoteNG, PuTTY/KiTTY, RDP, Xshell,
//! SecureCRT, MobaXterm, Navicat, .netrc, .pgpass …), inside archives and e-mail too.
//!
//! Flow: [`scan_paths`] walks directories in parallel ([`walk`]) → each file's bytes go to
//! [`scan_bytes`] ([`container`] opens zip/tar/gz/office/PDF/RTF/mail with bomb limits) →
//! text reaches the detectors ([`text`]: [`tools`], [`pem`], [`rules`], [`keyword`],
//! [`table`]) → [`CredFinding`]s, which [`report`] turns into contract findings of kind
//! `credential_exposure`, tables and SARIF. Secrets are only ever shown redacted.

pub mod container;
pub mod doc;
pub mod hit;
pub mod keyword;
pub mod pem;
pub mod report;
pub mod rules;
pub mod secret;
pub mod table;
pub mod text;
pub mod tools;
pub mod walk;

pub use hit::{Category, Hit, TableStats};
pub use report::{to_findings, to_sarif};
pub use walk::scan_paths;

use serde::Serialize;

/// Limits and knobs of a scan. The defaults bound memory per file to a few hundred MiB even
/// for hostile archives.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Files larger than this are scanned only up to this many bytes (reported as truncated).
    pub max_file_bytes: u64,
    /// Largest single archive member or decompressed stream that is opened.
    pub max_entry_bytes: u64,
    /// Total decompressed bytes for one top-level file and everything nested in it.
    pub max_total_bytes: u64,
    /// Archive members expanding more than this many times (and over 1 MiB) are bombs.
    pub max_ratio: u64,
    /// Containers nested deeper than this are not opened.
    pub max_depth: u32,
    /// Archive members opened per top-level file.
    pub max_entries: u64,
    /// Worker threads (0 = rayon's default).
    pub threads: usize,
    /// Minimum confidence of a finding to be reported.
    pub min_confidence: f64,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            max_file_bytes: 64 << 20,
            max_entry_bytes: 32 << 20,
            max_total_bytes: 256 << 20,
            max_ratio: 100,
            max_depth: 5,
            max_entries: 20_000,
            threads: 0,
            min_confidence: 0.4,
        }
    }
}

/// One detection tied to where it was found.
#[derive(Clone, Debug, PartialEq)]
pub struct CredFinding {
    /// The path as given, with `!member` for each archive level (`share/a.zip!b/c.xlsx`).
    pub file: String,
    pub line: Option<usize>,
    pub end_line: Option<usize>,
    pub sheet: Option<String>,
    pub cell: Option<String>,
    pub hit: Hit,
}

/// Why a file (or part of one) was not scanned, or was scanned only in part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    Unreadable,
    PermissionDenied,
    SymlinkLoop,
    Truncated,
    TooLarge,
    Bomb,
    Corrupt,
    Unsupported,
    TooDeep,
    LimitReached,
    Binary,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScanIssue {
    pub file: String,
    pub kind: IssueKind,
    pub detail: String,
}

/// Everything one scan produced.
#[derive(Clone, Debug, Default)]
pub struct ScanReport {
    pub findings: Vec<CredFinding>,
    pub issues: Vec<ScanIssue>,
    pub files_scanned: u64,
    pub bytes_scanned: u64,
}

impl ScanReport {
    /// Issues other than "binary file skipped", which is routine.
    pub fn problems(&self) -> impl Iterator<Item = &ScanIssue> {
        self.issues.iter().filter(|i| i.kind != IssueKind::Binary)
    }
}

/// Scans one item held in memory (a file's bytes, or anything else with a name). Pure: no
/// I/O. The name decides nothing that the content does not (extensions only break ties).
pub fn scan_bytes(name: &str, data: &[u8], opts: &ScanOptions) -> (Vec<CredFinding>, Vec<ScanIssue>) {
    let mut ctx = container::Ctx::new(opts);
    container::scan_item(&mut ctx, name, data, 0);
    let mut findings: Vec<CredFinding> = ctx.findings.into_iter().filter(|f| f.hit.confidence >= opts.min_confidence).collect();
    dedupe(&mut findings);
    (findings, ctx.issues)
}

/// The same secret at the same place found through two routes (raw mail text and its
/// decoded part) is one finding.
fn dedupe(f: &mut Vec<CredFinding>) {
    let mut seen = std::collections::HashSet::new();
    f.retain(|x| seen.insert((x.file.clone(), x.line, x.cell.clone(), x.hit.secret.clone(), x.hit.detector)));
}

/// Errors of the library entry points that take paths.
#[derive(Debug, thiserror::Error)]
pub enum CredsError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}: no such file or directory")]
    NotFound(String),
}
