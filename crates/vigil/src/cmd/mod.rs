//! Subcommands, one module each.

pub mod assets;
pub mod conn;
pub mod creds;
pub mod demo;
pub mod eval;
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

/// Archives a time-ordered stream of record chunks an hour at a time: an hour's records are
/// appended once a record of a later hour arrives (or at the end), so the archive gets the
/// same part files as one `Archive::append` over the whole input (idempotent by content: re-reading an input adds nothing), while only the current hour's
/// chunks are held (and at most [`HourlyArchive::MAX_PENDING`] records of it: a busier hour is
/// written in several parts, still without duplicates).
pub struct HourlyArchive {
    archive: vigil_archive::Archive,
    dir: std::path::PathBuf,
    /// The current hour's records: (chunk, start, end).
    pending: Vec<(vigil_detect::Chunk, usize, usize)>,
    pending_len: usize,
    hour: Option<i64>,
}

impl HourlyArchive {
    /// About 0.6 GiB of records: a busier hour goes into more than one part file.
    pub const MAX_PENDING: usize = 1_000_000;

    /// None with `--no-store`.
    pub fn open(store: &hunt::StoreArgs) -> Result<Option<HourlyArchive>> {
        if store.no_store {
            return Ok(None);
        }
        let dir = store.dir();
        let archive = vigil_archive::Archive::open(&dir).with_context(|| format!("opening the archive in {}", dir.display()))?;
        Ok(Some(HourlyArchive { archive, dir, pending: Vec::new(), pending_len: 0, hour: None }))
    }

    /// Takes the next chunk of the time-ordered stream.
    pub fn push(&mut self, chunk: &vigil_detect::Chunk) -> Result<()> {
        let mut start = 0;
        for (i, c) in chunk.iter().enumerate() {
            let h = c.ts.secs().div_euclid(3600);
            if self.hour != Some(h) || self.pending_len + (i - start) >= Self::MAX_PENDING {
                if i > start {
                    self.pending.push((chunk.clone(), start, i));
                    self.pending_len += i - start;
                }
                self.flush()?;
                self.hour = Some(h);
                start = i;
            }
        }
        if start < chunk.len() {
            self.pending.push((chunk.clone(), start, chunk.len()));
            self.pending_len += chunk.len() - start;
        }
        Ok(())
    }

    /// Appends the held records.
    pub fn flush(&mut self) -> Result<()> {
        if self.pending_len == 0 {
            self.pending.clear();
            return Ok(());
        }
        let refs: Vec<&vigil_model::Conn> = self.pending.iter().flat_map(|(c, a, b)| c.get(*a..*b).unwrap_or_default()).collect();
        self.archive.append_refs(&refs).with_context(|| format!("archiving connection records in {}", self.dir.display()))?;
        self.pending.clear();
        self.pending_len = 0;
        Ok(())
    }
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
    save_state(store, &inv, &hist)
}

/// Saves an inventory and edge history grown elsewhere (a streamed pass observes its chunks).
pub fn save_state(store: &hunt::StoreArgs, inv: &vigil_enrich::Inventory, hist: &vigil_enrich::EdgeHistory) -> Result<()> {
    if store.no_store {
        return Ok(());
    }
    let dir = store.dir();
    let mut s = vigil_store::Store::open(&dir).with_context(|| format!("opening the store in {}", dir.display()))?;
    s.put_state(INVENTORY_KEY, &serde_json::to_value(inv)?)?;
    s.put_state(HISTORY_KEY, &serde_json::to_value(hist)?)?;
    Ok(())
}

/// Writes findings in the chosen format to `--output` or standard output.
pub fn emit(findings: &[Finding], format: Option<Format>, output: Option<&Path>, title: &str) -> Result<()> {
    match output {
        Some(p) => {
            let fmt = format.unwrap_or(Format::Jsonl);
            let mut f = std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?);
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
