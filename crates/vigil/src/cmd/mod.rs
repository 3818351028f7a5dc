//! Subcommands, one module each.

pub mod assets;
pub mod conn;
pub mod creds;
pub mod eval;
pub mod demo;
pub mod exposure;
pub mod hunt;
pub mod mail;
pub mod simulate;
pub mod watch;

use crate::output::{self, Format};
use anyhow::{Context as _, Result};
use std::path::Path;
use std::process::ExitCode;
use vigil_model::Finding;

/// Keeps the findings (and a record of the run) in the embedded store, unless `--no-store`.
pub fn store_findings(
    store: &hunt::StoreArgs,
    command: &str,
    inputs: &[String],
    findings: &[Finding],
    stats: &serde_json::Value,
) -> Result<()> {
    if store.no_store {
        return Ok(());
    }
    let dir = store.dir();
    let mut s = vigil_store::Store::open(&dir).with_context(|| format!("opening the store in {}", dir.display()))?;
    s.upsert_findings(findings)?;
    s.record_run(command, inputs, stats)?;
    Ok(())
}

/// Writes findings in the chosen format to `--output` or standard output.
pub fn emit(findings: &[Finding], format: Option<Format>, output: Option<&Path>, title: &str) -> Result<()> {
    match output {
        Some(p) => {
            let fmt = format.unwrap_or(Format::Jsonl);
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
            );
            output::write_findings(&mut f, findings, fmt, title).with_context(|| format!("writing {}", p.display()))
        }
        None => {
            let fmt = format.unwrap_or_else(Format::default_for_stdout);
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            Ok(output::write_findings(&mut lock, findings, fmt, title)?)
        }
    }
}

/// Exit code 2 with a one-line reason, as the contract asks for unusable arguments or unreadable
/// input. A closed stdout (`vigil … | head`) is not an error.
pub fn report_error(e: &anyhow::Error) -> ExitCode {
    if e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)) {
        return ExitCode::SUCCESS;
    }
    eprintln!("vigil: {e:#}");
    ExitCode::from(2)
}
