//! `vigil eval TRUTH FINDINGS`: score findings (JSON lines or a JSON array) against the ground
//! truth a simulation wrote.

use anyhow::{Context as _, Result};
use std::io::Write as _;
use std::path::PathBuf;
use vigil_model::Finding;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// truth.json written by `vigil simulate`.
    pub truth: PathBuf,
    /// Findings: `vigil hunt --format jsonl` output (or a JSON array).
    pub findings: PathBuf,
    /// table or json.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Time slack, in seconds, on both sides of every window when matching.
    #[arg(long, default_value_t = vigil_sim::eval::DEFAULT_SLACK_S)]
    pub slack: i64,
    /// Write the report here instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Reads findings as JSON lines (blank lines skipped) or as one JSON array.
pub fn read_findings(path: &std::path::Path) -> Result<Vec<Finding>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(&text).with_context(|| format!("{} is not a JSON array of findings", path.display()));
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{} line {}: not a finding", path.display(), i + 1)))
        .collect()
}

pub fn run(a: Args) -> Result<()> {
    if !matches!(a.format.as_str(), "table" | "json") {
        anyhow::bail!("--format must be table or json, not {:?}", a.format);
    }
    let truth = vigil_sim::truth::Truth::load(&a.truth)?;
    let findings = read_findings(&a.findings)?;
    let report = vigil_sim::eval::score_with_slack(&truth, &findings, chrono::Duration::seconds(a.slack.max(0)));
    let text = if a.format == "json" { serde_json::to_string_pretty(&report)? + "\n" } else { report.to_table() };
    match &a.output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}
