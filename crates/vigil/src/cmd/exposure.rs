//! `vigil exposure scan|import`: the institution's own exposure, as internet mapping platforms
//! see it, with a patch list ordered by real risk (see `docs/EXPOSURE.md`).
//!
//! `scan` probes only what the scope file lists (checked before any packet is sent); `import`
//! reads nmap/masscan outputs and captures/logs (services seen passively). Both match the
//! services against offline CVE/KEV/EPSS data given with `--vulns`.

use crate::output::Format;
use anyhow::{Context as _, Result, bail};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use vigil_exposure::Service;
use vigil_exposure::probe::{ProbeConfig, TcpConnector};
use vigil_exposure::recog::Recog;
use vigil_exposure::report::{self, Placement};
use vigil_exposure::scan::{self, ScanConfig, ScanMethod};
use vigil_exposure::scope::{DEFAULT_PORTS, IpNet, Scope, SystemResolver};
use vigil_exposure::vulndb::VulnDb;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: ExposureCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ExposureCommand {
    /// Scan the institution's own ranges (scope file only), identify services, match CVEs.
    Scan(ScanArgs),
    /// Import nmap XML / masscan outputs, or captures and logs (services seen passively), and match CVEs.
    Import(ImportArgs),
}

#[derive(clap::Args, Debug)]
pub struct Common {
    /// Vulnerability data: NVD CVE 2.0 JSON (feeds, API pages, records), CVE 5 records, CISA KEV
    /// JSON, EPSS CSV, OSV JSON; files or directories, `.gz` accepted. Repeatable.
    #[arg(long = "vulns", value_name = "PATH")]
    pub vulns: Vec<PathBuf>,
    /// Recog fingerprint directory (default: the copy bundled in the binary).
    #[arg(long, value_name = "DIR")]
    pub recog: Option<PathBuf>,
    /// Site file: zones (edge/dmz/critical) and internal networks set each asset's placement.
    #[arg(long)]
    pub site: Option<PathBuf>,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the findings to this file instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Also write the prioritised patch list (JSON) to this file.
    #[arg(long, value_name = "PATH")]
    pub patch_list: Option<PathBuf>,
    /// Also write the identified services (JSON) to this file.
    #[arg(long, value_name = "PATH")]
    pub services: Option<PathBuf>,
    #[command(flatten)]
    pub store: super::hunt::StoreArgs,
}

/// How open ports are discovered.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanType {
    /// SYN scan when the process has CAP_NET_RAW, TCP connect otherwise.
    Auto,
    /// Raw-socket SYN scan (half-open); falls back to connect, with a note, without CAP_NET_RAW.
    Syn,
    /// Full TCP connect (no privileges needed).
    Connect,
}

#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// Scope file: one address, CIDR or host name a line, optional `ports=`; nothing else is probed.
    #[arg(long)]
    pub scope: PathBuf,
    /// Narrow the scan to these addresses/CIDRs (each must lie inside the scope). Repeatable.
    #[arg(long = "only", value_name = "TARGET")]
    pub only: Vec<String>,
    /// Ports for scope lines without `ports=` (list or ranges, e.g. 22,80,8000-8100).
    #[arg(long)]
    pub ports: Option<String>,
    /// Port discovery: SYN (needs CAP_NET_RAW) or TCP connect.
    #[arg(long, value_enum, default_value_t = ScanType::Auto)]
    pub scan_type: ScanType,
    /// Find open ports only; do not probe or identify services.
    #[arg(long)]
    pub no_identify: bool,
    /// New connections (and SYN packets) per second (0 = unlimited).
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Worker threads.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Connect timeout in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
    /// How long to wait for a server-first banner, in milliseconds.
    #[arg(long, default_value_t = 1500)]
    pub banner_wait_ms: u64,
    /// Read timeout for probe answers, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    pub read_timeout_ms: u64,
    /// Extra connect attempts after a timeout.
    #[arg(long, default_value_t = 1)]
    pub retries: u32,
    /// State file of done (address, port) pairs (JSON lines), for `--resume`.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Continue an interrupted scan from `--state`.
    #[arg(long, requires = "state")]
    pub resume: bool,
    /// Do not request VPN/mail portal paths on HTTP services.
    #[arg(long)]
    pub no_portal_paths: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// nmap XML, masscan (xml/json/ndjson/list/binary) files; captures and logs are read as
    /// traffic and their passively seen services used.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        ExposureCommand::Scan(a) => run_scan(a),
        ExposureCommand::Import(a) => run_import(a),
    }
}

fn parse_port_list(s: &str) -> Result<Vec<u16>> {
    let scope = Scope::parse(&format!("127.0.0.1 ports={s}"), &[], &SystemResolver).map_err(|e| anyhow::anyhow!("--ports: {e}"))?;
    Ok(scope.entries.first().map(|e| e.ports.clone()).unwrap_or_default())
}

fn load_recog(dir: Option<&Path>) -> Result<Recog> {
    match dir {
        Some(d) => Recog::load_dir(d).with_context(|| format!("loading Recog fingerprints from {}", d.display())),
        None => Ok(Recog::bundled()),
    }
}

fn load_db(paths: &[PathBuf]) -> Result<VulnDb> {
    let mut db = VulnDb::new();
    for p in paths {
        if !p.exists() {
            bail!("{}: no such file or directory", p.display());
        }
        db.load_path(p)?;
    }
    if paths.is_empty() {
        eprintln!("note: no --vulns data given; reporting exposed services only (no CVE matching)");
    }
    Ok(db)
}

fn placement_fn(site: Option<&Path>) -> Result<Box<dyn Fn(IpAddr) -> Placement>> {
    let Some(site) = site else { return Ok(Box::new(report::default_placement)) };
    let ctx = super::hunt::load_context(Some(site))?;
    Ok(Box::new(move |ip: IpAddr| {
        let zone = ctx.zone(ip);
        let kind = zone.map(|z| z.kind.clone()).unwrap_or_default();
        let edge = matches!(kind.as_str(), "edge" | "dmz" | "perimeter" | "internet" | "vpn");
        Placement {
            internet_facing: !ctx.is_internal(ip) && report::is_public(ip) || edge,
            edge,
            critical: ctx.is_critical(ip),
            zone: zone.map(|z| z.name.clone()),
        }
    }))
}

fn finish(services: Vec<Service>, common: &Common, command: &str, inputs: &[String], mut stats: serde_json::Value) -> Result<()> {
    let db = load_db(&common.vulns)?;
    let placement = placement_fn(common.site.as_deref())?;
    let assessments = report::assess(&services, &db, &*placement);
    let findings = report::findings(&assessments, chrono::Local::now().fixed_offset());
    if let Some(p) = &common.patch_list {
        let list = report::patch_list(&assessments);
        std::fs::write(p, serde_json::to_vec_pretty(&list)?).with_context(|| format!("cannot write {}", p.display()))?;
    }
    if let Some(p) = &common.services {
        std::fs::write(p, serde_json::to_vec_pretty(&services)?).with_context(|| format!("cannot write {}", p.display()))?;
    }
    stats["services"] = serde_json::json!(services.len());
    stats["vulndb"] = serde_json::to_value(&db.stats)?;
    super::store_findings(&common.store, command, inputs, &findings, &stats)?;
    super::emit(&findings, common.format, common.output.as_deref(), "Vigil exposure")
}

fn run_scan(a: ScanArgs) -> Result<()> {
    let default_ports = match &a.ports {
        Some(p) => parse_port_list(p)?,
        None => DEFAULT_PORTS.to_vec(),
    };
    let text = std::fs::read_to_string(&a.scope).with_context(|| format!("cannot read scope file {}", a.scope.display()))?;
    // Any error refuses the whole scope before a packet is sent.
    let scope =
        Scope::parse(&text, &default_ports, &SystemResolver).with_context(|| format!("scope file {} refused", a.scope.display()))?;
    let mut targets = scope.targets();
    if !a.only.is_empty() {
        let mut nets = Vec::new();
        for o in &a.only {
            let net: IpNet = o
                .parse()
                .or_else(|_| o.parse::<IpAddr>().map(IpNet::from))
                .with_context(|| format!("--only {o}: not an address or CIDR"))?;
            if !scope.contains(net.network()) || !scope.contains(net.broadcast()) {
                bail!("--only {o} is outside the scope file {}; refusing to scan it", a.scope.display());
            }
            nets.push(net);
        }
        targets.retain(|t| nets.iter().any(|n| n.contains(&t.ip())));
    }
    let recog = load_recog(a.common.recog.as_deref())?;
    let names: HashMap<IpAddr, String> = scope.names().into_iter().collect();
    let cfg = ScanConfig {
        method: match a.scan_type {
            ScanType::Auto => ScanMethod::Auto,
            ScanType::Syn => ScanMethod::Syn,
            ScanType::Connect => ScanMethod::Connect,
        },
        identify: !a.no_identify,
        concurrency: a.concurrency,
        rate: a.rate,
        retries: a.retries,
        probe: ProbeConfig {
            connect_timeout: Duration::from_millis(a.timeout_ms.max(1)),
            banner_wait: Duration::from_millis(a.banner_wait_ms.max(1)),
            read_timeout: Duration::from_millis(a.read_timeout_ms.max(1)),
            portal_paths: !a.no_portal_paths,
        },
        state_file: a.state.clone(),
        resume: a.resume,
    };
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let b = indicatif::ProgressBar::new(targets.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("scanning [{elapsed_precise}] {bar:40} {pos}/{len} ({per_sec}, eta {eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let progress = |done: u64, _total: u64| bar.set_position(done);
    let out = scan::scan(&scope, &targets, &names, &TcpConnector, &recog, &cfg, &progress)?;
    bar.finish_and_clear();
    if let Some(note) = &out.note {
        eprintln!("note: {note}");
    }
    eprintln!(
        "{} scan of {} address/port pairs in {:.1}s: {} open, {} closed, {} filtered ({} resumed), {} connections, {} SYN/RST packets",
        out.method,
        targets.len(),
        out.elapsed.as_secs_f64(),
        out.open,
        out.closed,
        out.filtered,
        out.resumed,
        out.connections,
        out.syn_packets
    );
    let stats = serde_json::json!({
        "targets": targets.len(), "open": out.open, "closed": out.closed, "filtered": out.filtered,
        "resumed": out.resumed, "connections": out.connections, "seconds": out.elapsed.as_secs_f64(),
        "method": out.method, "syn_packets": out.syn_packets, "note": out.note,
    });
    finish(out.services, &a.common, "exposure scan", &[a.scope.display().to_string()], stats)
}

fn run_import(a: ImportArgs) -> Result<()> {
    let mut services = Vec::new();
    let mut traffic = Vec::new();
    let mut skipped = 0usize;
    for p in &a.inputs {
        if p.is_file() {
            let data = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            if let Ok(imp) = vigil_exposure::import::import_scan(&data) {
                skipped += imp.skipped;
                services.extend(imp.services);
                continue;
            }
        }
        traffic.push(p.clone());
    }
    if !traffic.is_empty() {
        let ctx = super::hunt::load_context(a.common.site.as_deref())?;
        let (conns, _, _) = super::hunt::read_inputs(&traffic, &ctx.site, false)?;
        let recog = load_recog(a.common.recog.as_deref())?;
        services.extend(vigil_exposure::import::services_from_conns_with(&conns, Some(&recog)));
    }
    let inputs: Vec<String> = a.inputs.iter().map(|p| p.display().to_string()).collect();
    let stats = serde_json::json!({ "skipped_records": skipped });
    finish(services, &a.common, "exposure import", &inputs, stats)
}
