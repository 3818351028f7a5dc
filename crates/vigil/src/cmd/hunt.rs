//! `vigil hunt`: read every input (captures, Zeek logs, Suricata EVE, NetFlow/IPFIX — detected by
//! content), build the Conn stream, run every detector, store and print the findings.

use crate::output::{self, Format};
use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};
use vigil_enrich::{Context, Site};
use vigil_model::{Conn, Finding};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Site file (TOML): internal networks, zones, home countries, work hours, allowlists.
    #[arg(long)]
    pub site: Option<PathBuf>,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the findings here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Also write Zeek-compatible logs of the connection records into this directory.
    #[arg(long)]
    pub emit_conn: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Captures (pcap/pcapng, gzip/zstd), Zeek logs, Suricata EVE, NetFlow/IPFIX files, or directories of them.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct StoreArgs {
    /// Data directory of the embedded store (default: $VIGIL_DATA, else the user's data dir).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Do not write to the store.
    #[arg(long)]
    pub no_store: bool,
}

impl StoreArgs {
    pub fn dir(&self) -> PathBuf {
        if let Some(d) = &self.data {
            return d.clone();
        }
        if let Some(d) = std::env::var_os("VIGIL_DATA") {
            return PathBuf::from(d);
        }
        if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
            return PathBuf::from(d).join("vigil");
        }
        match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".local/share/vigil"),
            None => PathBuf::from(".vigil"),
        }
    }
}

/// Counters of one hunt, printed at the end and kept with the run in the store.
#[derive(Debug, Default, serde::Serialize)]
pub struct HuntStats {
    pub conns: u64,
    pub capture_files: u64,
    pub log_files: u64,
    pub skipped_files: Vec<String>,
    pub engine: Option<serde_json::Value>,
    pub import: Vec<serde_json::Value>,
}

pub fn load_context(site: Option<&Path>) -> Result<Context> {
    let site = match site {
        Some(p) => Site::load(p)?,
        None => Site::default(),
    };
    Ok(Context::load(site)?)
}

/// Reads every input into Conn records (sorted by start time) and any findings the inputs carry
/// themselves (Suricata alerts). A named file that is neither a capture nor a known log is an
/// error naming it. A directory is read as a whole: its captures through the packet engine, its
/// logs through the importers (which join Zeek logs of one directory by uid); other files in it
/// are listed as skipped.
pub fn read_inputs(inputs: &[PathBuf], site: &Site, progress: bool) -> Result<(Vec<Conn>, Vec<Finding>, HuntStats)> {
    let mut stats = HuntStats::default();
    let internal = site.internal.clone();
    let opts = vigil_import::ImportOptions {
        internal: Some(Box::new(move |ip| internal.iter().any(|n| n.contains(&ip)))),
        ..Default::default()
    };
    let mut conns = Vec::new();
    let mut findings = Vec::new();
    let mut engine = vigil_flow::Engine::new(vigil_flow::EngineConfig::default());
    if progress {
        crate::progress::attach(&mut engine);
    }
    for input in inputs {
        let meta = std::fs::metadata(input).with_context(|| format!("cannot read {}", input.display()))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(input, &mut files, 0)?;
            files.sort();
            let mut has_logs = false;
            for f in &files {
                // A capture of NetFlow/IPFIX export packets is evidence of the flows it carries,
                // not of the export traffic itself: the importer reads it.
                if vigil_import::sniff(f).is_some() {
                    has_logs = true;
                    stats.log_files += 1;
                } else if vigil_capture::is_capture(f) {
                    stats.capture_files += 1;
                    engine.ingest_path(f, &mut |c| conns.push(c)).with_context(|| format!("{}", f.display()))?;
                } else {
                    stats.skipped_files.push(f.display().to_string());
                }
            }
            if has_logs {
                let s = vigil_import::import_path_with(input, &opts, &mut |c| conns.push(c), &mut |f| findings.push(f))
                    .with_context(|| format!("{}", input.display()))?;
                stats.import.push(serde_json::to_value(&s).unwrap_or_default());
            }
        } else if vigil_capture::is_capture(input) && vigil_import::sniff(input).is_none() {
            stats.capture_files += 1;
            engine.ingest_path(input, &mut |c| conns.push(c)).with_context(|| format!("{}", input.display()))?;
        } else if vigil_import::sniff(input).is_some() {
            stats.log_files += 1;
            let s = vigil_import::import_path_with(input, &opts, &mut |c| conns.push(c), &mut |f| findings.push(f))
                .with_context(|| format!("{}", input.display()))?;
            stats.import.push(serde_json::to_value(&s).unwrap_or_default());
        } else {
            bail!("{}: not a capture (pcap/pcapng), Zeek log, Suricata EVE or NetFlow/IPFIX file", input.display());
        }
    }
    let es = engine.finish(&mut |c| conns.push(c));
    if stats.capture_files > 0 {
        eprintln!("{es}");
        stats.engine = serde_json::to_value(&es).ok();
    }
    conns.sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.uid.cmp(&b.uid)));
    stats.conns = conns.len() as u64;
    Ok((conns, findings, stats))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> Result<()> {
    // Bounded depth: a symlink loop must not recurse forever.
    if depth > 32 {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read directory {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot read directory {}", dir.display()))?;
        let ft = entry.file_type()?;
        let p = entry.path();
        if ft.is_dir() {
            walk(&p, out, depth + 1)?;
        } else if ft.is_file() {
            out.push(p);
        }
    }
    Ok(())
}

pub fn run(args: Args) -> Result<()> {
    let ctx = load_context(args.site.as_deref())?;
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (conns, mut findings, stats) = read_inputs(&args.inputs, &ctx.site, progress)?;
    if ctx.site.home_countries.is_empty() {
        eprintln!("note: no home country configured (site file), so no traffic is judged foreign");
    }
    if let Some(dir) = &args.emit_conn {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        vigil_flow::zeeklog::write_all(dir, &conns, false).with_context(|| format!("writing logs to {}", dir.display()))?;
    }
    let (ctx, newer) = crate::cmd::restore_history(&args.store, ctx, conns.first().map(|c| c.ts))?;
    findings.extend(vigil_detect::run_all(&conns, &ctx));
    if newer {
        crate::cmd::save_history(&args.store, &ctx, &conns)?;
    }
    Finding::rank(&mut findings);
    for f in &stats.skipped_files {
        eprintln!("skipped (not a capture or known log): {}", output::terminal_safe(f));
    }
    let inputs: Vec<String> = args.inputs.iter().map(|p| p.display().to_string()).collect();
    crate::cmd::store_findings(&args.store, "hunt", &inputs, &findings, &serde_json::to_value(&stats)?)?;
    crate::cmd::emit(&findings, args.format, args.output.as_deref(), "Vigil hunt")
}
