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
    /// Indicator file for `ioc_match` (repeatable): CSV or one value a line (addresses, CIDRs,
    /// domains, JA4/JA3, certificate SHA-1/SHA-256), STIX 2.1 bundle or MISP JSON. Added to
    /// the site file's `[ioc] files`.
    #[arg(long = "ioc", value_name = "FILE")]
    pub ioc: Vec<PathBuf>,
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

/// The indicator files named in the site file's `[ioc] files` (relative to the site file) and
/// on the command line, merged into one set; `None` when there are none. A file that cannot be
/// read or parsed is an error naming it: a silently empty watch list would hide every match.
pub fn load_iocs(site: Option<&Path>, extra: &[PathBuf]) -> Result<Option<std::sync::Arc<vigil_detect::ioc::IocSet>>> {
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(site) = site {
        let text = std::fs::read_to_string(site).with_context(|| format!("cannot read site file {}", site.display()))?;
        let file: vigil_enrich::SiteFile = toml::from_str(&text).with_context(|| format!("site file {}", site.display()))?;
        if let Some(t) = file.ioc {
            let base = site.parent().unwrap_or(Path::new("."));
            for (k, v) in &t {
                match (k.as_str(), v) {
                    ("files", toml::Value::Array(a)) => {
                        for f in a {
                            let Some(f) = f.as_str() else { bail!("site file {}: [ioc] files must be a list of paths", site.display()) };
                            files.push(base.join(f));
                        }
                    }
                    _ => bail!("site file {}: unknown key {k:?} in [ioc] (expected files = [...])", site.display()),
                }
            }
        }
    }
    files.extend(extra.iter().cloned());
    if files.is_empty() {
        return Ok(None);
    }
    let mut set = vigil_detect::ioc::IocSet::new();
    for f in &files {
        let s = vigil_detect::ioc::IocSet::load(f).with_context(|| format!("indicator file {}", f.display()))?;
        eprintln!("indicators: {} from {} ({} entries skipped)", s.len(), output::terminal_safe(&f.display().to_string()), s.skipped);
        set.merge(&s);
    }
    Ok(Some(std::sync::Arc::new(set)))
}

/// Runs `ioc_match` over the records in the site's context (internal networks decide which
/// side of a connection is blamed).
pub fn match_iocs(iocs: std::sync::Arc<vigil_detect::ioc::IocSet>, conns: &[Conn], ctx: &Context) -> Vec<Finding> {
    use vigil_detect::Detector as _;
    let mut d = vigil_detect::ioc::IocDetector::new(iocs, vigil_detect::util::Tuning::default());
    for c in conns {
        d.observe(c, ctx);
    }
    d.finish(ctx)
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
    // Indicator files first: a bad one fails the hunt before the (long) read of the inputs.
    let iocs = load_iocs(args.site.as_deref(), &args.ioc)?;
    // The store too: a locked, corrupt or read-only data directory fails before the input is read,
    // not after minutes of work that could then not be kept.
    if !args.store.no_store {
        let dir = args.store.dir();
        vigil_store::Store::open(&dir).with_context(|| format!("opening the store in {}", dir.display()))?;
    }
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
    if let Some(iocs) = iocs {
        findings.extend(match_iocs(iocs, &conns, &ctx));
    }
    if newer {
        crate::cmd::save_history(&args.store, &ctx, &conns)?;
    }
    Finding::rank(&mut findings);
    for f in &stats.skipped_files {
        eprintln!("skipped (not a capture or known log): {}", output::terminal_safe(f));
    }
    let inputs: Vec<String> = args.inputs.iter().map(|p| p.display().to_string()).collect();
    crate::cmd::archive_conns(&args.store, &conns)?;
    crate::cmd::store_findings(&args.store, "hunt", &inputs, &findings, &serde_json::to_value(&stats)?)?;
    crate::cmd::emit(&findings, args.format, args.output.as_deref(), "Vigil hunt")
}
