//! `vigil mail scan PATH…`: phishing triage for mail aimed at administrators (see
//! `docs/MAIL.md`). Reads `.eml`, mbox, Maildir and directories of them and prints one
//! `phishing` finding per message judged phishing, each with its score and reasons.

use crate::output::{self, Format};
use anyhow::{Context as _, Result, bail};
use std::io::Write;
use std::path::PathBuf;
use vigil_mail::{Analyzer, MailConfig, Scanned};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: MailCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum MailCommand {
    /// Triage messages (.eml, mbox, Maildir, directories) and report the ones judged phishing.
    Scan(ScanArgs),
}

#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// Site file (TOML); its `[mail]` table gives own/partner domains, trusted authserv-ids,
    /// the staff directory and DKIM keys. Flags below add to it.
    #[arg(long)]
    pub site: Option<PathBuf>,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the findings here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// One of the institution's own mail domains (repeatable).
    #[arg(long = "own-domain")]
    pub own_domains: Vec<String>,
    /// A supplier's or customer's domain (repeatable).
    #[arg(long = "partner-domain")]
    pub partner_domains: Vec<String>,
    /// authserv-id of one of the site's own receiving servers, whose Authentication-Results are trusted (repeatable).
    #[arg(long = "trusted-authserv")]
    pub trusted_authserv: Vec<String>,
    /// Staff directory CSV (name,email,role).
    #[arg(long)]
    pub directory: Option<PathBuf>,
    /// DKIM/ARC public keys for offline verification: lines `selector._domainkey.domain TXT-VALUE`.
    #[arg(long)]
    pub dkim_keys: Option<PathBuf>,
    /// Verify SPF, DKIM, ARC and DMARC live against this DNS resolver (`IP` or `IP:PORT`);
    /// without it (and without `[mail] resolver` in the site file) triage stays offline.
    #[arg(long)]
    pub resolver: Option<String>,
    /// Report messages scoring at or above this (0–1).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Also print a line per message (score, verdict, file) to standard error.
    #[arg(long)]
    pub verbose: bool,
    #[command(flatten)]
    pub store: super::hunt::StoreArgs,
    /// Files and directories to scan.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        MailCommand::Scan(a) => scan(a),
    }
}

fn config(a: &ScanArgs) -> Result<MailConfig> {
    let mut c = match &a.site {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
            let base = p.parent().map(PathBuf::from).unwrap_or_default();
            MailConfig::from_site_toml(&text, &base).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
        }
        None => MailConfig::default(),
    };
    c.own_domains.extend(a.own_domains.iter().cloned());
    c.partner_domains.extend(a.partner_domains.iter().cloned());
    c.trusted_authserv_ids.extend(a.trusted_authserv.iter().cloned());
    if a.directory.is_some() {
        c.directory = a.directory.clone();
    }
    if a.dkim_keys.is_some() {
        c.dkim_keys = a.dkim_keys.clone();
    }
    if a.resolver.is_some() {
        c.resolver = a.resolver.clone();
    }
    if let Some(t) = a.threshold {
        if !(0.0..=1.0).contains(&t) {
            bail!("--threshold must be between 0 and 1");
        }
        c.threshold = Some(t);
    }
    Ok(c)
}

fn scan(a: ScanArgs) -> Result<()> {
    for p in &a.paths {
        let Ok(meta) = std::fs::metadata(p) else {
            bail!("{}: no such file or directory", output::terminal_safe(&p.display().to_string()));
        };
        // A file named on the command line must be mail; inside directories, other files are skipped.
        if meta.is_file() && !vigil_mail::source::file_looks_like_mail(p)? {
            bail!("{}: not a mail message, mbox or Maildir", output::terminal_safe(&p.display().to_string()));
        }
    }
    let analyzer = Analyzer::new(config(&a)?)?;
    let mut findings = Vec::new();
    let (mut messages, mut flagged, mut skipped) = (0u64, 0u64, 0u64);
    let mut err = std::io::stderr().lock();
    vigil_mail::scan_paths(&analyzer, &a.paths, &mut |s| match s {
        Scanned::Verdict { file, index, verdict } => {
            messages += 1;
            if a.verbose {
                let _ = writeln!(
                    err,
                    "{:.3} {} {}{}",
                    verdict.score,
                    if verdict.phishing { "PHISHING" } else { "ok" },
                    output::terminal_safe(&file),
                    index.map(|i| format!("#{i}")).unwrap_or_default()
                );
            }
            if verdict.phishing {
                flagged += 1;
                findings.push(verdict.to_finding(&file, index));
            }
        }
        Scanned::Skipped { file, index, reason } => {
            skipped += 1;
            let _ = writeln!(
                err,
                "vigil: skipped {}{}: {}",
                output::terminal_safe(&file),
                index.map(|i| format!("#{i}")).unwrap_or_default(),
                output::terminal_safe(&reason)
            );
        }
    })?;
    let _ = writeln!(err, "vigil: {messages} messages read, {flagged} judged phishing, {skipped} skipped");
    drop(err);
    vigil_model::Finding::rank(&mut findings);
    let inputs: Vec<String> = a.paths.iter().map(|p| p.display().to_string()).collect();
    let stats = serde_json::json!({"messages": messages, "phishing": flagged, "skipped": skipped});
    super::store_findings(&a.store, "mail scan", &inputs, &findings, &stats)?;
    super::emit(&findings, a.format, a.output.as_deref(), "vigil mail scan")
}
