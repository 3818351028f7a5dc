//! Walking paths: directories with the `ignore` crate's walker (hidden files included,
//! ignore files NOT honoured: a secret in a hidden or git-ignored file still counts), then
//! files scanned in parallel with rayon. Unreadable files, permission errors and symlink
//! loops become [`ScanIssue`]s; nothing here panics on what the file system hands back.

use crate::{IssueKind, ScanIssue, ScanOptions, ScanReport, scan_bytes};
use rayon::prelude::*;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Options for walking, on top of [`ScanOptions`].
#[derive(Clone, Debug, Default)]
pub struct WalkOptions {
    /// Follow symbolic links (loops are detected and reported).
    pub follow_links: bool,
}

fn io_issue(path: &str, e: &std::io::Error) -> ScanIssue {
    let kind = match e.kind() {
        std::io::ErrorKind::PermissionDenied => IssueKind::PermissionDenied,
        _ => IssueKind::Unreadable,
    };
    ScanIssue { file: path.to_string(), kind, detail: e.to_string() }
}

/// Lists the files under `paths` (files given directly are taken as they are).
pub fn collect_files(paths: &[PathBuf], wopts: &WalkOptions, issues: &mut Vec<ScanIssue>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for root in paths {
        let mut wb = ignore::WalkBuilder::new(root);
        wb.hidden(false)
            .ignore(false)
            .git_ignore(false)
            .git_global(false)
            .git_exclude(false)
            .parents(false)
            .require_git(false)
            .follow_links(wopts.follow_links);
        for entry in wb.build() {
            match entry {
                Ok(e) => {
                    if e.file_type().is_some_and(|t| t.is_file()) {
                        files.push(e.into_path());
                    }
                }
                Err(err) => {
                    let text = err.to_string();
                    let kind = if text.contains("loop") {
                        IssueKind::SymlinkLoop
                    } else if err.io_error().is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied) {
                        IssueKind::PermissionDenied
                    } else {
                        IssueKind::Unreadable
                    };
                    let file = error_path(&err).unwrap_or_else(|| root.display().to_string());
                    issues.push(ScanIssue { file, kind, detail: text });
                }
            }
        }
    }
    files
}

fn error_path(err: &ignore::Error) -> Option<String> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.display().to_string()),
        ignore::Error::WithDepth { err, .. } => error_path(err),
        ignore::Error::WithLineNumber { err, .. } => error_path(err),
        ignore::Error::Loop { child, .. } => Some(child.display().to_string()),
        _ => None,
    }
}

/// Reads at most `limit` bytes of a file: memory stays bounded whatever the file's size.
pub fn read_file_bounded(path: &Path, limit: u64) -> std::io::Result<(Vec<u8>, bool)> {
    let f = std::fs::File::open(path)?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut v = Vec::with_capacity(len.min(limit) as usize);
    f.take(limit).read_to_end(&mut v)?;
    Ok((v, len > limit))
}

fn scan_file(path: &Path, opts: &ScanOptions) -> ScanReport {
    let name = path.display().to_string();
    let mut rep = ScanReport::default();
    match read_file_bounded(path, opts.max_file_bytes) {
        Ok((data, truncated)) => {
            if truncated {
                rep.issues.push(ScanIssue {
                    file: name.clone(),
                    kind: IssueKind::Truncated,
                    detail: format!("larger than {} bytes; only the first part was scanned", opts.max_file_bytes),
                });
            }
            rep.files_scanned = 1;
            rep.bytes_scanned = data.len() as u64;
            let (f, i) = scan_bytes(&name, &data, opts);
            rep.findings = f;
            rep.issues.extend(i);
        }
        Err(e) => rep.issues.push(io_issue(&name, &e)),
    }
    rep
}

/// Scans files and directories. Paths that do not exist are reported as issues.
pub fn scan_paths(paths: &[PathBuf], opts: &ScanOptions) -> ScanReport {
    scan_paths_with(paths, opts, &WalkOptions::default())
}

pub fn scan_paths_with(paths: &[PathBuf], opts: &ScanOptions, wopts: &WalkOptions) -> ScanReport {
    let mut issues = Vec::new();
    let files = collect_files(paths, wopts, &mut issues);
    let work = || {
        files.par_iter().map(|p| scan_file(p, opts)).reduce(ScanReport::default, |mut a, b| {
            a.findings.extend(b.findings);
            a.issues.extend(b.issues);
            a.files_scanned += b.files_scanned;
            a.bytes_scanned += b.bytes_scanned;
            a
        })
    };
    let mut rep = if opts.threads > 0 {
        match rayon::ThreadPoolBuilder::new().num_threads(opts.threads).build() {
            Ok(pool) => pool.install(work),
            Err(_) => work(),
        }
    } else {
        work()
    };
    rep.issues.extend(issues);
    rep.findings.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)).then(a.cell.cmp(&b.cell)));
    rep.issues.sort_by(|a, b| a.file.cmp(&b.file));
    rep
}
