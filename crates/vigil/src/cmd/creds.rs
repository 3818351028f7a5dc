//! `vigil creds scan PATH…`: finds plaintext password tables, secrets and admin-tool
//! credential stores on workstations and file shares (see `docs/CREDS.md`), and reports them
//! as `credential_exposure` findings, or as SARIF 2.1.0 for CI systems.

use crate::output::{self, Format};
use anyhow::{Context as _, Result, bail};
use std::io::Write;
use std::path::{Path, PathBuf};
use vigil_creds::{ScanOptions, report};
use vigil_model::Severity;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: CredsCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum CredsCommand {
    /// Scan files and directories (archives, office documents, PDFs and mail included).
    Scan(ScanArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CredsFormat {
    Table,
    Jsonl,
    Json,
    Html,
    Sarif,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SeverityArg {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl From<SeverityArg> for Severity {
    fn from(s: SeverityArg) -> Self {
        match s {
            SeverityArg::Info => Severity::Info,
            SeverityArg::Low => Severity::Low,
            SeverityArg::Medium => Severity::Medium,
            SeverityArg::High => Severity::High,
            SeverityArg::Critical => Severity::Critical,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<CredsFormat>,
    /// Write the findings to this file instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Exit with code 1 when a finding at or above this severity exists.
    #[arg(long, value_enum)]
    pub fail_on: Option<SeverityArg>,
    /// The `src` of the findings (default: this machine's host name, or the share path when
    /// scanning a UNC path).
    #[arg(long)]
    pub src: Option<String>,
    /// Follow symbolic links (loops are detected and reported).
    #[arg(long)]
    pub follow_links: bool,
    /// Report findings at or above this detector confidence (0–1).
    #[arg(long, default_value_t = 0.4)]
    pub min_confidence: f64,
    /// Scan at most this many bytes of each file.
    #[arg(long, default_value_t = 64 << 20)]
    pub max_file_bytes: u64,
    /// Worker threads (default: one per CPU).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    #[command(flatten)]
    pub store: crate::cmd::hunt::StoreArgs,
    /// Files and directories to scan.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        CredsCommand::Scan(a) => scan(a),
    }
}

fn host_name() -> String {
    for var in ["HOSTNAME", "COMPUTERNAME"] {
        if let Ok(h) = std::env::var(var)
            && !h.trim().is_empty()
        {
            return h.trim().to_string();
        }
    }
    for f in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(h) = std::fs::read_to_string(f)
            && !h.trim().is_empty()
        {
            return h.trim().to_string();
        }
    }
    "localhost".into()
}

/// The share (`\\server\share` or `//server/share`) a path lives on, if it is a UNC path.
fn share_of(p: &Path) -> Option<String> {
    let s = p.to_string_lossy();
    let sep = if s.starts_with("\\\\") {
        '\\'
    } else if s.starts_with("//") {
        '/'
    } else {
        return None;
    };
    let parts: Vec<&str> = s.trim_start_matches(sep).split(sep).take(2).collect();
    (parts.len() == 2).then(|| format!("{sep}{sep}{}{sep}{}", parts[0], parts[1]))
}

fn mtime_of(file: &str) -> Option<i64> {
    let outer = file.split('!').next().unwrap_or(file);
    let m = std::fs::metadata(outer).ok()?.modified().ok()?;
    m.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs() as i64)
}

fn scan(a: ScanArgs) -> Result<()> {
    for p in &a.paths {
        if std::fs::symlink_metadata(p).is_err() {
            bail!("{}: no such file or directory", output::terminal_safe(&p.display().to_string()));
        }
    }
    if !(0.0..=1.0).contains(&a.min_confidence) {
        bail!("--min-confidence must be between 0 and 1");
    }
    let opts =
        ScanOptions { max_file_bytes: a.max_file_bytes, threads: a.threads, min_confidence: a.min_confidence, ..ScanOptions::default() };
    let wopts = vigil_creds::walk::WalkOptions { follow_links: a.follow_links };
    let rep = vigil_creds::walk::scan_paths_with(&a.paths, &opts, &wopts);
    let src = a.src.clone().or_else(|| a.paths.first().and_then(|p| share_of(p))).unwrap_or_else(host_name);
    let findings = report::to_findings(&rep.findings, &src, &mtime_of);
    // Into the same store as every other finding (triage, dashboard, reports).
    let inputs: Vec<String> = a.paths.iter().map(|p| p.display().to_string()).collect();
    let stats = serde_json::json!({"files_scanned": rep.files_scanned, "bytes_scanned": rep.bytes_scanned, "findings": findings.len()});
    crate::cmd::store_findings(&a.store, "creds scan", &inputs, &findings, &stats)?;

    let mut err = std::io::stderr().lock();
    for i in rep.problems() {
        let _ = writeln!(err, "vigil: skipped {}: {:?}: {}", output::terminal_safe(&i.file), i.kind, output::terminal_safe(&i.detail));
    }
    let binaries = rep.issues.len() - rep.problems().count();
    let _ = writeln!(
        err,
        "vigil: scanned {} files ({} bytes), {} binary files skipped, {} findings",
        rep.files_scanned,
        rep.bytes_scanned,
        binaries,
        findings.len()
    );
    drop(err);

    let fmt = a.format.unwrap_or(if a.output.is_some() || !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        CredsFormat::Jsonl
    } else {
        CredsFormat::Table
    });
    let write = |w: &mut dyn Write| -> std::io::Result<()> {
        match fmt {
            CredsFormat::Sarif => {
                serde_json::to_writer_pretty(&mut *w, &report::to_sarif(&rep.findings, &findings))?;
                w.write_all(b"\n")
            }
            CredsFormat::Table => output::write_findings(w, &findings, Format::Table, "vigil creds scan"),
            CredsFormat::Jsonl => output::write_findings(w, &findings, Format::Jsonl, "vigil creds scan"),
            CredsFormat::Json => output::write_findings(w, &findings, Format::Json, "vigil creds scan"),
            CredsFormat::Html => output::write_findings(w, &findings, Format::Html, "vigil creds scan"),
        }
    };
    match &a.output {
        Some(p) => {
            let mut f = std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?);
            write(&mut f).and_then(|_| f.flush()).with_context(|| format!("writing {}", p.display()))?;
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            write(&mut out).and_then(|_| out.flush())?;
        }
    }
    if let Some(level) = a.fail_on {
        let level: Severity = level.into();
        if findings.iter().any(|f| f.severity >= level) {
            // Exit code 1: findings at or above the threshold (output already flushed).
            std::process::exit(1);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_paths_name_the_share() {
        assert_eq!(share_of(Path::new("\\\\fs01\\ops\\it\\pw.xlsx")).as_deref(), Some("\\\\fs01\\ops"));
        assert_eq!(share_of(Path::new("//fs01/ops/it")).as_deref(), Some("//fs01/ops"));
        assert_eq!(share_of(Path::new("/home/x")), None);
        assert!(!host_name().is_empty());
    }
}
