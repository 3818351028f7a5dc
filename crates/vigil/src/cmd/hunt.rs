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
    /// Memory for holding records before the time sort spills them to temporary files (an
    /// estimate of the records' size; bytes, or with a K, M or G suffix; default: a quarter of
    /// the machine's memory, between 256M and 16G). Larger inputs are sorted through run files
    /// and merged back, so a hunt's memory is this plus the detectors' state, not the input's
    /// size.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub sort_buffer: Option<usize>,
    /// Directory for the sort's temporary run files (default: the system's temporary directory,
    /// $TMPDIR or /tmp; where that is memory-backed, name a directory on disk).
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,
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
    /// Whether the records exceeded `--sort-buffer` and were sorted through temporary files.
    pub spilled: bool,
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
    let mut conns = Vec::new();
    let (findings, mut stats) = read_into(inputs, site, progress, &mut |c| conns.push(c))?;
    conns.sort_by(vigil_archive::spill::cmp_key);
    stats.conns = conns.len() as u64;
    Ok((conns, findings, stats))
}

/// [`read_inputs`] for inputs of any size: records beyond `sort_buffer` bytes (estimated) are
/// sorted into temporary run files under `spill_dir` and merged back in order, so memory holds
/// the budget, not the input. The order is exactly `read_inputs`'s.
pub fn read_inputs_sorted(
    inputs: &[PathBuf],
    site: &Site,
    progress: bool,
    sort_buffer: usize,
    spill_dir: &Path,
) -> Result<(vigil_archive::spill::Sorted, Vec<Finding>, HuntStats)> {
    let mut sorter = vigil_archive::spill::ConnSorter::new(sort_buffer, spill_dir);
    let (findings, mut stats) = read_into(inputs, site, progress, &mut |c| sorter.push(c))?;
    let sorted = sorter.finish()?;
    stats.conns = sorted.len();
    stats.spilled = sorted.spilled();
    Ok((sorted, findings, stats))
}

/// Reads every input, handing each record to `sink` in the order the readers produce them.
fn read_into(inputs: &[PathBuf], site: &Site, progress: bool, sink: &mut dyn FnMut(Conn)) -> Result<(Vec<Finding>, HuntStats)> {
    let mut stats = HuntStats::default();
    let internal = site.internal_index().clone();
    let opts = vigil_import::ImportOptions { internal: Some(Box::new(move |ip| internal.contains(ip))), ..Default::default() };
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
                    engine.ingest_path(f, &mut *sink).with_context(|| format!("{}", f.display()))?;
                } else {
                    stats.skipped_files.push(f.display().to_string());
                }
            }
            if has_logs {
                let s = vigil_import::import_path_with(input, &opts, &mut *sink, &mut |f| findings.push(f))
                    .with_context(|| format!("{}", input.display()))?;
                stats.import.push(serde_json::to_value(&s).unwrap_or_default());
            }
        } else if vigil_capture::is_capture(input) && vigil_import::sniff(input).is_none() {
            stats.capture_files += 1;
            engine.ingest_path(input, &mut *sink).with_context(|| format!("{}", input.display()))?;
        } else if vigil_import::sniff(input).is_some() {
            stats.log_files += 1;
            let s = vigil_import::import_path_with(input, &opts, &mut *sink, &mut |f| findings.push(f))
                .with_context(|| format!("{}", input.display()))?;
            stats.import.push(serde_json::to_value(&s).unwrap_or_default());
        } else {
            bail!("{}: not a capture (pcap/pcapng), Zeek log, Suricata EVE or NetFlow/IPFIX file", input.display());
        }
    }
    let es = engine.finish(&mut *sink);
    if stats.capture_files > 0 {
        eprintln!("{es}");
        stats.engine = serde_json::to_value(&es).ok();
    }
    Ok((findings, stats))
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

/// A size in bytes: digits with an optional K, M or G suffix (binary multiples; KiB, MB and
/// the like are read the same way).
pub fn parse_size(s: &str) -> std::result::Result<usize, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: usize = num.parse().map_err(|_| format!("{s:?}: expected a size such as 512M or 2G"))?;
    let mult: usize = match unit.trim().to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("{s:?}: unknown unit (use K, M or G)")),
    };
    n.checked_mul(mult).filter(|&b| b > 0).ok_or_else(|| format!("{s:?}: out of range"))
}

/// A quarter of the machine's memory (`MemTotal` in /proc/meminfo), between 256 MiB and
/// 16 GiB; 1 GiB where the total is unknown.
fn default_sort_buffer() -> usize {
    let total_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines().find_map(|l| l.strip_prefix("MemTotal:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
    });
    match total_kib {
        Some(k) => (k.saturating_mul(1024) / 4).clamp(256 << 20, 16 << 30),
        None => 1 << 30,
    }
}

/// A size as `parse_size` reads it back: "64M", "1G", or bytes.
fn show_size(b: usize) -> String {
    match b {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{}G", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}M", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{}K", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// Records per chunk of the streamed pass.
const CHUNK: usize = 1 << 16;

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
    let spill_dir = args.spill_dir.clone().unwrap_or_else(std::env::temp_dir);
    let sort_buffer = args.sort_buffer.unwrap_or_else(default_sort_buffer);
    let (mut sorted, mut findings, stats) = read_inputs_sorted(&args.inputs, &ctx.site, progress, sort_buffer, &spill_dir)?;
    if sorted.spilled() {
        eprintln!(
            "{} records exceeded the sort buffer ({}): sorted through {} temporary files in {}",
            sorted.len(),
            show_size(sort_buffer),
            sorted.runs(),
            output::terminal_safe(&spill_dir.display().to_string())
        );
        if sorted.swept() > 0 {
            eprintln!("removed {} temporary sort directories left there by killed runs", sorted.swept());
        }
    }
    if ctx.site.home_countries.is_empty() {
        eprintln!("note: no home country configured (site file), so no traffic is judged foreign");
    }
    let mut logs = match &args.emit_conn {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let logs = vigil_flow::zeeklog::ConnLogs::create(dir, vigil_flow::zeeklog::Format::Tsv)
                .with_context(|| format!("writing logs to {}", dir.display()))?;
            Some((dir.clone(), logs))
        }
        None => None,
    };
    let (ctx, newer) = crate::cmd::restore_history(&args.store, ctx, sorted.first_ts())?;
    let keep_history = newer && !args.store.no_store;
    let mut inv = ctx.inventory.clone();
    let mut hist = ctx.history.clone();
    let mut archive = crate::cmd::HourlyArchive::open(&args.store)?;
    let mut dets = vigil_detect::all_detectors();
    if let Some(set) = iocs {
        dets.push(Box::new(vigil_detect::ioc::IocDetector::new(set, vigil_detect::util::Tuning::default())));
    }
    // One pass over the sorted records: the detectors (on their threads) and, on this thread,
    // the Zeek logs, the history and the archive, a chunk at a time.
    let (found, produced) = vigil_detect::run_stream(dets, &ctx, vigil_detect::default_threads(), |feed| -> Result<()> {
        while let Some(chunk) = sorted.next_chunk(CHUNK)? {
            if let Some((dir, logs)) = logs.as_mut() {
                for c in &chunk {
                    logs.write(c).with_context(|| format!("writing logs to {}", dir.display()))?;
                }
            }
            if keep_history {
                for c in &chunk {
                    inv.observe(c);
                    hist.observe(c);
                }
            }
            let chunk = std::sync::Arc::new(chunk);
            if let Some(a) = archive.as_mut() {
                a.push(&chunk)?;
            }
            feed(chunk);
        }
        Ok(())
    });
    produced?;
    drop(sorted);
    if let Some((dir, logs)) = logs {
        logs.finish().with_context(|| format!("writing logs to {}", dir.display()))?;
    }
    if let Some(a) = archive.as_mut() {
        a.flush()?;
    }
    findings.extend(found);
    if keep_history {
        crate::cmd::save_state(&args.store, &inv, &hist)?;
    }
    Finding::rank(&mut findings);
    for f in &stats.skipped_files {
        eprintln!("skipped (not a capture or known log): {}", output::terminal_safe(f));
    }
    let inputs: Vec<String> = args.inputs.iter().map(|p| p.display().to_string()).collect();
    crate::cmd::store_findings(&args.store, "hunt", &inputs, &findings, &serde_json::to_value(&stats)?)?;
    crate::cmd::emit(&findings, args.format, args.output.as_deref(), "Vigil hunt")
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_read_with_and_without_units() {
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("2gb"), Ok(2 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        for s in ["64M", "1G", "3K", "1000 bytes"] {
            assert_eq!(super::show_size(parse_size(s.trim_end_matches(" bytes")).unwrap()), s);
        }
        for bad in ["", "G", "0", "1X", "-1M", "99999999999999999999G", "1.5G"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        let d = super::default_sort_buffer();
        assert!((256 << 20..=16 << 30).contains(&d), "{d}");
    }
}
