//! vigil-import: every non-packet source of network evidence becomes the same stream of
//! [`vigil_model::Conn`] records a pcap produces, so detectors run unchanged over it.
//!
//! Sources: Zeek logs (TSV and JSON lines; conn joined by uid with ssl/dns/http/ssh/x509),
//! Suricata EVE JSON (flow/netflow joined by flow_id with tls/dns/http/ssh; alerts become
//! `ioc_match` findings), NetFlow v5/v9 and IPFIX (raw export datagrams, pcaps of export
//! traffic, or a live UDP [`Collector`]), sFlow v5 (pcaps of export traffic, or the same
//! collector), nfdump binary files and Argus binetflow CSV.
//!
//! Inputs are recognised by content ([`sniff`]), never by file name; gzip'd files are opened
//! transparently. Everything is streamed; every map that input can grow is bounded, and every
//! record that cannot be used is counted in [`ImportStats`] with its reason.

pub mod argus;
pub mod collector;
pub mod decompress;
pub mod eve;
mod input;
pub mod netflow;
pub mod nfdump;
pub mod pcap;
mod stats;
pub mod util;
pub mod zeek;

pub use collector::{Collector, CollectorConfig, CollectorStats};
pub use stats::ImportStats;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use vigil_model::{Conn, Finding};

/// Input formats recognised by [`sniff`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// Zeek TSV log (`#separator` header).
    ZeekTsv,
    /// Zeek JSON lines.
    ZeekJson,
    /// Suricata EVE JSON lines.
    SuricataEve,
    /// Raw NetFlow v5/v9 or IPFIX export datagrams (one or more, back to back).
    NetflowPacket,
    /// pcap/pcapng holding UDP NetFlow/IPFIX export traffic.
    NetflowPcap,
    /// pcap/pcapng holding UDP sFlow v5 export traffic (packet samples).
    SflowPcap,
    /// nfdump binary file (layout 1).
    Nfdump,
    /// Argus `.binetflow` CSV (comma or tab separated).
    ArgusBinetflow,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::ZeekTsv => "zeek_tsv",
            Format::ZeekJson => "zeek_json",
            Format::SuricataEve => "suricata_eve",
            Format::NetflowPacket => "netflow_packet",
            Format::NetflowPcap => "netflow_pcap",
            Format::SflowPcap => "sflow_pcap",
            Format::Nfdump => "nfdump",
            Format::ArgusBinetflow => "argus_binetflow",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors that stop the import of a whole file. Bad records inside a readable file are never
/// errors: they are counted in [`ImportStats::skipped`].
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a recognised evidence format (Zeek, Suricata EVE, NetFlow/IPFIX, nfdump, Argus)")]
    UnknownFormat { path: String },
    #[error("{path}: larger than the {limit}-byte limit for whole-file formats")]
    TooLarge { path: String, limit: u64 },
    #[error("{path}: {reason}")]
    Corrupt { path: String, reason: String },
}

/// Decides whether an address belongs to the monitored site (for choosing the `src` of alerts
/// and Zeek's `local_orig`/`local_resp` on sources that lack them).
pub type InternalPredicate = dyn Fn(IpAddr) -> bool + Send + Sync;

/// Knobs for an import run. `Default` is what `vigil hunt` uses without a site file.
pub struct ImportOptions {
    /// Internal address predicate; `None` uses RFC 1918/4193 ([`util::is_internal`]).
    pub internal: Option<Box<InternalPredicate>>,
    /// Pending application records waiting for their connection (Zeek uid / EVE flow_id join).
    pub max_pending_app: usize,
    /// Flow records waiting for their reverse direction (NetFlow stitching).
    pub max_pending_flows: usize,
    /// Seconds within which A→B and B→A flow records are stitched into one connection.
    pub stitch_window_secs: f64,
    /// NetFlow/IPFIX decoder settings.
    pub netflow: netflow::DecoderConfig,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            internal: None,
            max_pending_app: 500_000,
            max_pending_flows: 500_000,
            stitch_window_secs: 120.0,
            netflow: netflow::DecoderConfig::default(),
        }
    }
}

impl ImportOptions {
    pub fn is_internal(&self, ip: IpAddr) -> bool {
        match &self.internal {
            Some(f) => f(ip),
            None => util::is_internal(ip),
        }
    }
}

/// Recognises the format of a file by its content (magic bytes, header lines, first JSON
/// object), looking through gzip. `None` when it is none of the supported formats or unreadable.
pub fn sniff(path: &Path) -> Option<Format> {
    let head = input::head(path, 64 * 1024).ok()?;
    sniff_bytes(&head).or_else(|| {
        // A pcap is only ours when it carries NetFlow/IPFIX or sFlow export traffic.
        if !pcap::is_capture(&head) {
            None
        } else if pcap::has_netflow(path) {
            Some(Format::NetflowPcap)
        } else if pcap::has_sflow(path) {
            Some(Format::SflowPcap)
        } else {
            None
        }
    })
}

/// Content sniffing over the first bytes of a (decompressed) file. Capture files are not
/// decided here (that needs a look at the packets, see [`sniff`]).
pub fn sniff_bytes(head: &[u8]) -> Option<Format> {
    if head.is_empty() || pcap::is_capture(head) {
        return None;
    }
    if nfdump::is_nfdump(head) {
        return Some(Format::Nfdump);
    }
    if netflow::looks_like_export_packet(head) {
        return Some(Format::NetflowPacket);
    }
    let text = match std::str::from_utf8(head) {
        Ok(s) => s,
        // The sample may end inside a multi-byte character.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok()?,
        Err(_) => return None,
    };
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    if first.starts_with("#separator") || first.starts_with("#fields") {
        return Some(Format::ZeekTsv);
    }
    if first.starts_with('{') {
        // The first line may be cut by the sample size; try whole lines only.
        for line in text.lines().map(str::trim).filter(|l| l.starts_with('{')).take(8) {
            let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if m.contains_key("event_type") {
                return Some(Format::SuricataEve);
            }
            if m.contains_key("_path")
                || m.contains_key("uid")
                || m.contains_key("uids")
                || m.contains_key("id.orig_h")
                || m.contains_key("ts")
            {
                return Some(Format::ZeekJson);
            }
        }
        return None;
    }
    if argus::is_header(first) {
        return Some(Format::ArgusBinetflow);
    }
    None
}

/// Imports a file or a directory tree (recursively; rotated and gzip'd logs included). Zeek
/// logs of one directory are joined together (ssl/dns/http/ssh to conn by uid). Conns and
/// findings are streamed to the callbacks as they are built.
pub fn import_path(path: &Path, conns: &mut dyn FnMut(Conn), findings: &mut dyn FnMut(Finding)) -> Result<ImportStats, ImportError> {
    import_path_with(path, &ImportOptions::default(), conns, findings)
}

/// [`import_path`] with explicit options.
pub fn import_path_with(
    path: &Path,
    opts: &ImportOptions,
    conns: &mut dyn FnMut(Conn),
    findings: &mut dyn FnMut(Finding),
) -> Result<ImportStats, ImportError> {
    let meta = std::fs::metadata(path).map_err(|e| ImportError::Io { path: path.display().to_string(), source: e })?;
    let mut stats = ImportStats::default();
    if meta.is_dir() {
        let mut dirs = Vec::new();
        collect_dirs(path, 0, &mut dirs);
        for dir in dirs {
            import_dir_files(&dir, opts, &mut stats, conns, findings);
        }
        return Ok(stats);
    }
    let fmt = sniff(path).ok_or_else(|| ImportError::UnknownFormat { path: path.display().to_string() })?;
    import_files(fmt, &[path.to_path_buf()], opts, &mut stats, conns, findings)?;
    Ok(stats)
}

/// Directory nesting followed at most; deeper trees are almost certainly a symlink loop.
const MAX_DEPTH: usize = 32;

fn collect_dirs(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut subs: Vec<PathBuf> =
        rd.filter_map(|e| e.ok()).filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false)).map(|e| e.path()).collect();
    subs.sort();
    for s in subs {
        collect_dirs(&s, depth + 1, out);
    }
}

/// Imports the regular files directly inside `dir`, grouped by format so that one directory's
/// Zeek logs are joined together and its NetFlow templates are shared.
fn import_dir_files(
    dir: &Path,
    opts: &ImportOptions,
    stats: &mut ImportStats,
    conns: &mut dyn FnMut(Conn),
    findings: &mut dyn FnMut(Finding),
) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    // Symlinked files are followed (log directories often link the current logs); symlinked
    // directories are not (loops).
    let mut files: Vec<PathBuf> =
        rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| std::fs::metadata(p).map(|m| m.is_file()).unwrap_or(false)).collect();
    files.sort();
    let mut groups: std::collections::BTreeMap<Format, Vec<PathBuf>> = Default::default();
    for f in files {
        match sniff(&f) {
            // TSV and JSON logs of one directory join together.
            Some(Format::ZeekJson) => groups.entry(Format::ZeekTsv).or_default().push(f),
            Some(fmt) => groups.entry(fmt).or_default().push(f),
            None => {
                stats.files_skipped.insert(f.display().to_string(), "not a recognised evidence format".into());
            }
        }
    }
    for (fmt, files) in groups {
        if let Err(e) = import_files(fmt, &files, opts, stats, conns, findings) {
            stats.files_skipped.insert(dir.display().to_string(), e.to_string());
        }
    }
}

fn import_files(
    fmt: Format,
    files: &[PathBuf],
    opts: &ImportOptions,
    stats: &mut ImportStats,
    conns: &mut dyn FnMut(Conn),
    findings: &mut dyn FnMut(Finding),
) -> Result<(), ImportError> {
    match fmt {
        Format::ZeekTsv | Format::ZeekJson => {
            // TSV and JSON of the same directory join together; zeek::import_logs sniffs each.
            zeek::import_logs(files, opts, stats, conns)
        }
        Format::SuricataEve => {
            for f in files {
                eve::import_file(f, opts, stats, conns, findings)?;
            }
            Ok(())
        }
        Format::NetflowPacket | Format::NetflowPcap => netflow::import_files(fmt, files, opts, stats, conns),
        Format::SflowPcap => netflow::import_sflow_pcaps(files, opts, stats, conns),
        Format::Nfdump => {
            for f in files {
                nfdump::import_file(f, opts, stats, conns)?;
            }
            Ok(())
        }
        Format::ArgusBinetflow => {
            for f in files {
                argus::import_file(f, opts, stats, conns)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
