//! Subcommands, one module each.

pub mod assets;
pub mod conn;
pub mod creds;
pub mod eval;
pub mod demo;
pub mod exposure;
pub mod hunt;
pub mod mail;
pub mod query;
pub mod report;
pub mod serve;
pub mod simulate;
pub mod user;
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

/// Appends the connection records to the data directory's Parquet archive (for `vigil query`),
/// unless `--no-store`. Idempotent by content: re-reading an input adds nothing.
pub fn archive_conns(store: &hunt::StoreArgs, conns: &[vigil_model::Conn]) -> Result<()> {
    if store.no_store || conns.is_empty() {
        return Ok(());
    }
    let dir = store.dir();
    let archive = vigil_archive::Archive::open(&dir).with_context(|| format!("opening the archive in {}", dir.display()))?;
    archive.append(conns).with_context(|| format!("archiving connection records in {}", dir.display()))?;
    Ok(())
}

const INVENTORY_KEY: &str = "inventory";
const HISTORY_KEY: &str = "edge_history";

/// Gives the detectors what earlier runs learnt (the asset inventory and who talked to whom),
/// so they can say "new edge" or "silent for 41 days". History counts only when it ends before
/// this input begins: re-reading the same input must give the same findings, not judge them
/// against themselves. Returns whether the input is newer than the history (then it is saved).
pub fn restore_history(
    store: &hunt::StoreArgs,
    ctx: vigil_enrich::Context,
    first_ts: Option<vigil_model::Timestamp>,
) -> Result<(vigil_enrich::Context, bool)> {
    if store.no_store || first_ts.is_none() {
        return Ok((ctx, false));
    }
    let dir = store.dir();
    if !dir.join("vigil.db").exists() {
        return Ok((ctx, true));
    }
    let s = vigil_store::Store::open(&dir).with_context(|| format!("opening the store in {}", dir.display()))?;
    let hist: Option<vigil_enrich::EdgeHistory> = s.get_state(HISTORY_KEY)?.and_then(|v| serde_json::from_value(v).ok());
    let inv: Option<vigil_enrich::Inventory> = s.get_state(INVENTORY_KEY)?.and_then(|v| serde_json::from_value(v).ok());
    match hist {
        None => Ok((ctx, true)),
        Some(h) if h.span().is_some_and(|(_, end)| Some(end) < first_ts) => {
            let ctx = match inv {
                Some(i) => ctx.with_inventory(i),
                None => ctx,
            };
            Ok((ctx.with_history(h), true))
        }
        Some(_) => Ok((ctx, false)),
    }
}

/// Saves the inventory and edge history grown by this input's records.
pub fn save_history(store: &hunt::StoreArgs, ctx: &vigil_enrich::Context, conns: &[vigil_model::Conn]) -> Result<()> {
    if store.no_store {
        return Ok(());
    }
    let mut inv = ctx.inventory.clone();
    let mut hist = ctx.history.clone();
    for c in conns {
        inv.observe(c);
        hist.observe(c);
    }
    let dir = store.dir();
    let mut s = vigil_store::Store::open(&dir).with_context(|| format!("opening the store in {}", dir.display()))?;
    s.put_state(INVENTORY_KEY, &serde_json::to_value(&inv)?)?;
    s.put_state(HISTORY_KEY, &serde_json::to_value(&hist)?)?;
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
    // Error chains carry file names and input text: escaped so they cannot drive the terminal,
    // and kept on one line.
    eprintln!("vigil: {}", output::terminal_safe(&format!("{e:#}")));
    ExitCode::from(2)
}
