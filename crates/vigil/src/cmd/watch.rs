//! `vigil watch`: continuous operation. Sources (a spool directory that sensors rotate capture
//! files and logs into, and a NetFlow/IPFIX and sFlow collector) feed the same Conn stream as
//! `hunt`; the records go to the archive, the detectors run over a sliding window of event
//! time, findings go to the store and the alert outputs.
//!
//! Crash safety: a spool file is marked done in the store only after its records are committed
//! to the archive, and the archive and the findings are both idempotent by content. A kill at any
//! point therefore re-reads at most the file in progress, and re-reading it adds nothing twice.

use crate::cmd::hunt::{self, StoreArgs};
use crate::metrics::{self, Metrics};
use anyhow::{Context as _, Result};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use vigil_alert::{AlertPolicy, Alerter, Sink, SinkConfig, SyslogTransport};
use vigil_model::{Conn, Finding, Severity};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Site file (TOML).
    #[arg(long)]
    pub site: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Directory that sensors rotate capture files, Zeek logs or EVE files into (repeatable).
    #[arg(long)]
    pub spool: Vec<PathBuf>,
    /// Listen for NetFlow v5/v9/IPFIX and sFlow v5 export packets on this UDP address (e.g.
    /// 0.0.0.0:2055; sFlow agents send to 6343 by default).
    #[arg(long)]
    pub netflow: Option<SocketAddr>,
    /// Run the detectors every this many seconds of event time.
    #[arg(long, default_value_t = 600)]
    pub window: i64,
    /// Detectors look back this many seconds of event time.
    #[arg(long, default_value_t = 7 * 86_400)]
    pub lookback: i64,
    /// Most records kept in the detector window (oldest dropped first, and counted).
    #[arg(long, default_value_t = 5_000_000)]
    pub max_records: usize,
    /// Seconds between looks at the spool directories.
    #[arg(long, default_value_t = 2.0)]
    pub poll: f64,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9184).
    #[arg(long)]
    pub metrics: Option<SocketAddr>,
    /// Append alerts as JSON lines to this file (rotated at 64 MiB).
    #[arg(long)]
    pub alert_jsonl: Option<PathBuf>,
    /// Send alerts to this syslog collector (host:port, UDP; `tcp://host:port` for TCP,
    /// `tls://host:port` for TLS checked against the system CA bundle; other CAs in the site file).
    #[arg(long)]
    pub alert_syslog: Option<String>,
    /// Use CEF inside the syslog messages.
    #[arg(long)]
    pub alert_cef: bool,
    /// POST alerts to this http:// URL.
    #[arg(long)]
    pub alert_webhook: Option<String>,
    /// Print alerts on standard output as JSON lines.
    #[arg(long)]
    pub alert_stdout: bool,
    /// Lowest severity that raises an alert.
    #[arg(long, default_value = "medium")]
    pub alert_min_severity: String,
    /// Process what the spool directories hold now, run the detectors once, and exit.
    #[arg(long)]
    pub once: bool,
    /// Capture live from this network interface (Linux AF_PACKET ring; needs CAP_NET_RAW).
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
    /// Capture filter for --interface: a tcpdump expression (compiled with `tcpdump -ddd`, which
    /// must be installed) or the numeric program `tcpdump -ddd EXPR` prints.
    #[arg(long, value_name = "EXPR", requires = "interface")]
    pub bpf: Option<String>,
    /// Share --interface with other `vigil watch` processes of this AF_PACKET fanout group.
    #[arg(long, value_name = "ID", requires = "interface")]
    pub fanout_group: Option<u16>,
    /// When started as root, stay root after the capture socket is open (by default Vigil
    /// switches to --user, handing it the store directory first).
    #[arg(long)]
    pub keep_privileges: bool,
    /// Unprivileged user to switch to once the capture socket is open.
    #[arg(long, default_value = "nobody")]
    pub user: String,
}

const CHECKPOINT: &str = "watch.files";
const ALERT_STATE: &str = "watch.alerts";

/// A spool file already ingested: its size and modification time when it was.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Done {
    size: u64,
    mtime: i64,
}

fn file_sig(p: &Path) -> Option<Done> {
    let m = std::fs::metadata(p).ok()?;
    let mtime = m.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(Done { size: m.len(), mtime })
}

fn sinks(args: &Args) -> Result<Vec<SinkConfig>> {
    let mut v = Vec::new();
    // [[alert]] tables of the site file first, then the command-line ones.
    if let Some(site) = &args.site {
        let text = std::fs::read_to_string(site).with_context(|| format!("cannot read site file {}", site.display()))?;
        let file: vigil_enrich::SiteFile = toml::from_str(&text).with_context(|| format!("site file {}", site.display()))?;
        for (i, t) in file.alert.into_iter().enumerate() {
            let cfg: SinkConfig =
                toml::Value::Table(t).try_into().with_context(|| format!("site file {}: [[alert]] number {}", site.display(), i + 1))?;
            v.push(cfg);
        }
    }
    if let Some(p) = &args.alert_jsonl {
        v.push(SinkConfig::Jsonl { path: p.clone(), max_bytes: 64 << 20, keep: 5 });
    }
    if let Some(a) = &args.alert_syslog {
        let (transport, address) = match (a.strip_prefix("tcp://"), a.strip_prefix("tls://")) {
            (Some(rest), _) => (SyslogTransport::Tcp, rest.to_string()),
            (_, Some(rest)) => (SyslogTransport::Tls, rest.to_string()),
            _ => (SyslogTransport::Udp, a.strip_prefix("udp://").unwrap_or(a).to_string()),
        };
        v.push(SinkConfig::Syslog { address, transport, cef: args.alert_cef, app_name: "vigil".into(), ca_file: None, server_name: None });
    }
    if let Some(u) = &args.alert_webhook {
        let dl = args.store.dir().join("webhook-dead-letter.jsonl");
        v.push(SinkConfig::Webhook { url: u.clone(), retries: 5, backoff_ms: 500, dead_letter: dl });
    }
    if args.alert_stdout {
        v.push(SinkConfig::Stdout);
    }
    Ok(v)
}

pub fn run(args: Args) -> Result<()> {
    anyhow::ensure!(
        !args.spool.is_empty() || args.netflow.is_some() || args.interface.is_some(),
        "vigil watch needs a source: --spool DIR, --netflow ADDR or --interface IF"
    );
    anyhow::ensure!(args.window > 0 && args.lookback > 0, "--window and --lookback must be positive");
    let min_sev = Severity::parse(&args.alert_min_severity)
        .with_context(|| format!("--alert-min-severity {:?}: use info, low, medium, high or critical", args.alert_min_severity))?;
    let ctx = hunt::load_context(args.site.as_deref())?;
    let dir = args.store.dir();
    let mut store = vigil_store::Store::open(&dir).with_context(|| format!("opening the store in {}", dir.display()))?;
    let archive = vigil_archive::Archive::open(&dir).with_context(|| format!("opening the archive in {}", dir.display()))?;
    let m = Arc::new(Metrics::default());
    if let Some(addr) = args.metrics {
        let bound = metrics::serve(addr, m.clone()).with_context(|| format!("metrics endpoint on {addr}"))?;
        eprintln!("metrics on http://{bound}/metrics");
    }
    let sink_list: Vec<Box<dyn Sink>> = sinks(&args)?.iter().map(vigil_alert::build_sink).collect::<Result<_, _>>()?;
    let saved = store.get_state(ALERT_STATE)?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
    let mut alerter = Alerter::new(AlertPolicy { min_severity: min_sev, ..AlertPolicy::default() }, sink_list).with_state(saved);

    let mut done: BTreeMap<String, Done> = store.get_state(CHECKPOINT)?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();

    // Restore the detector window from the archive, so a restart resumes where it stopped.
    let mut window: VecDeque<Conn> = VecDeque::new();
    let newest = archive.newest()?;
    if let Some(newest) = newest {
        let restored = archive.read_since(newest.add_secs_f64(-(args.lookback as f64)))?;
        eprintln!("resumed: {} records in the detector window, {} spool files already done", restored.len(), done.len());
        window.extend(restored);
    }
    let mut next_run: Option<i64> = window.back().map(|c| c.ts.secs().div_euclid(args.window) * args.window + args.window);

    let collector = match args.netflow {
        Some(addr) => Some(
            vigil_import::Collector::bind(addr, vigil_import::collector::CollectorConfig::default())
                .with_context(|| format!("NetFlow collector on {addr}"))?,
        ),
        None => None,
    };
    let mut live = match &args.interface {
        Some(iface) => Some(live::start(iface, &args, &dir)?),
        None => None,
    };
    let mut pending_sizes: BTreeMap<PathBuf, u64> = BTreeMap::new();
    loop {
        let mut fresh: Vec<Conn> = Vec::new();
        let mut alerts_from_inputs: Vec<Finding> = Vec::new();
        // 1. Spool files that are complete (size unchanged since the last look, or --once).
        for spool in &args.spool {
            let mut files = Vec::new();
            list(spool, &mut files, 0);
            files.sort();
            for f in files {
                let key = f.display().to_string();
                let Some(sig) = file_sig(&f) else { continue };
                if done.get(&key) == Some(&sig) {
                    continue;
                }
                if !args.once && pending_sizes.get(&f) != Some(&sig.size) {
                    pending_sizes.insert(f.clone(), sig.size);
                    continue;
                }
                pending_sizes.remove(&f);
                let mut conns = Vec::new();
                match ingest_file(&f, &mut conns, &mut alerts_from_inputs, &m) {
                    Ok(true) => {}
                    Ok(false) => {
                        done.insert(key, sig);
                        continue;
                    }
                    Err(e) => {
                        eprintln!("vigil watch: {e:#}");
                        m.decode_errors.fetch_add(1, Ordering::Relaxed);
                        done.insert(key, sig);
                        store.put_state(CHECKPOINT, &serde_json::to_value(&done)?)?;
                        continue;
                    }
                }
                // Commit order matters: archive first, then the checkpoint.
                archive.append(&conns).with_context(|| format!("archiving records of {}", f.display()))?;
                m.records.fetch_add(conns.len() as u64, Ordering::Relaxed);
                m.files.fetch_add(1, Ordering::Relaxed);
                done.insert(key, sig);
                store.put_state(CHECKPOINT, &serde_json::to_value(&done)?)?;
                fresh.extend(conns);
            }
        }
        // 2. NetFlow records received since the last look.
        if let Some(c) = &collector {
            let mut got = Vec::new();
            while let Some(conn) = c.recv_timeout(Duration::ZERO) {
                got.push(conn);
                if got.len() >= 1_000_000 {
                    break;
                }
            }
            if !got.is_empty() {
                archive.append(&got)?;
                m.records.fetch_add(got.len() as u64, Ordering::Relaxed);
                fresh.extend(got);
            }
            let cs = c.stats();
            // Datagrams lost either way: by the collector's queue or by the kernel's socket buffer.
            m.drops.store(cs.datagrams_dropped.saturating_add(cs.kernel_drops), Ordering::Relaxed);
            m.packets.store(cs.datagrams, Ordering::Relaxed);
        }
        // 2b. Connections finished by the live capture since the last look.
        if let Some(l) = live.as_mut() {
            let got = l.drain(&m)?;
            if !got.is_empty() {
                archive.append(&got)?;
                m.records.fetch_add(got.len() as u64, Ordering::Relaxed);
                fresh.extend(got);
            }
        }
        fresh.sort_by_key(|c| c.ts);
        let newest = fresh.last().map(|c| c.ts.secs());
        window.extend(fresh);
        // Keep the window bounded by event time and by count.
        if let Some(last) = window.back().map(|c| c.ts) {
            let horizon = last.add_secs_f64(-(args.lookback as f64));
            while window.front().is_some_and(|c| c.ts < horizon) {
                window.pop_front();
            }
        }
        while window.len() > args.max_records {
            window.pop_front();
            m.drops.fetch_add(1, Ordering::Relaxed);
        }
        m.queue_depth.store(window.len() as u64, Ordering::Relaxed);
        // 3. Detectors, when event time crossed a window boundary (and always at the end of --once).
        let due = match (newest, next_run) {
            (Some(n), Some(t)) => n >= t,
            (Some(_), None) => true,
            _ => false,
        };
        if due || args.once || !alerts_from_inputs.is_empty() {
            let (slice_a, slice_b) = window.as_slices();
            let mut findings = vigil_detect::run_all(slice_a.iter().chain(slice_b.iter()), &ctx);
            findings.extend(alerts_from_inputs);
            Finding::rank(&mut findings);
            // Keep each finding's strongest view: evidence that slid out of the lookback was
            // still seen (a re-evaluation over the tail of a beacon scores it lower).
            let kept = store.upsert_findings_keeping(&findings, vigil_store::Keep::Strongest)?;
            for f in &findings {
                m.add_findings(f.kind.as_str(), 1);
            }
            let st = alerter.offer(&findings);
            m.alerts_failed.store(alerter.failures.values().sum(), Ordering::Relaxed);
            store.put_state(ALERT_STATE, &serde_json::to_value(alerter.state())?)?;
            m.windows.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "window: {} records, {} findings ({} new alerts, {} updated, {} repeats held back; {} kept at a stronger earlier view)",
                window.len(),
                findings.len(),
                st.new,
                st.updated,
                st.suppressed,
                kept.held
            );
            if let Some(n) = newest.or_else(|| window.back().map(|c| c.ts.secs())) {
                next_run = Some(n.div_euclid(args.window) * args.window + args.window);
            }
        }
        if args.once {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs_f64(args.poll.clamp(0.05, 3600.0)));
    }
}

/// Reads one spool file. Ok(false) when it is neither a capture nor a known log (skipped).
fn ingest_file(f: &Path, conns: &mut Vec<Conn>, findings: &mut Vec<Finding>, m: &Metrics) -> Result<bool> {
    if vigil_capture::is_capture(f) && vigil_import::sniff(f).is_none() {
        let mut engine = vigil_flow::Engine::new(vigil_flow::EngineConfig::default());
        engine.ingest_path(f, &mut |c| conns.push(c)).with_context(|| format!("{}", f.display()))?;
        let st = engine.finish(&mut |c| conns.push(c));
        m.packets.fetch_add(st.packets, Ordering::Relaxed);
        m.bytes.fetch_add(st.bytes, Ordering::Relaxed);
        m.decode_errors.fetch_add(st.decode_errors + st.truncated_records, Ordering::Relaxed);
        Ok(true)
    } else if vigil_import::sniff(f).is_some() {
        vigil_import::import_path(f, &mut |c| conns.push(c), &mut |x| findings.push(x)).with_context(|| format!("{}", f.display()))?;
        Ok(true)
    } else {
        Ok(false)
    }
}

fn list(dir: &Path, out: &mut Vec<PathBuf>, depth: u32) {
    if depth > 8 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let p = e.path();
        // Sensors write into temporary names and rename when done; skip those in progress.
        let hidden =
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.') || n.ends_with(".tmp") || n.ends_with(".part"));
        if hidden {
            continue;
        }
        if ft.is_dir() {
            list(&p, out, depth + 1);
        } else if ft.is_file() {
            out.push(p);
        }
    }
}

/// Live capture for `--interface`: a thread reads the AF_PACKET ring, decodes and runs its own
/// flow engine, and hands finished connections to the main loop through a bounded queue (a slow
/// main loop makes the ring fill up, and the kernel counts the drops).
mod live {
    use super::Args;
    use crate::metrics::Metrics;
    use anyhow::{Context as _, Result};
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::mpsc::{Receiver, TryRecvError, sync_channel};
    use std::time::Duration;
    use vigil_capture::live::{LiveCapture, LiveConfig, drop_privileges};
    use vigil_model::Conn;

    #[derive(Default)]
    struct Counters {
        packets: AtomicU64,
        bytes: AtomicU64,
        decode_errors: AtomicU64,
        kernel_drops: AtomicU64,
    }

    pub(super) struct Live {
        rx: Receiver<Conn>,
        counters: Arc<Counters>,
        reported: [u64; 4],
        stop: Arc<AtomicBool>,
    }

    pub(super) fn start(iface: &str, args: &Args, store_dir: &Path) -> Result<Live> {
        let cfg = LiveConfig { bpf: args.bpf.clone(), fanout_group: args.fanout_group, ..LiveConfig::default() };
        let mut cap = LiveCapture::open(iface, &cfg).with_context(|| format!("live capture on {iface}"))?;
        if !args.keep_privileges && is_root() {
            hand_over(store_dir, &args.user).with_context(|| format!("handing {} to user {}", store_dir.display(), args.user))?;
            drop_privileges(&args.user).with_context(|| format!("dropping privileges to {} (or use --keep-privileges)", args.user))?;
            eprintln!("capturing on {iface}; now running as {}", args.user);
        }
        let (tx, rx) = sync_channel::<Conn>(65_536);
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (c, st) = (counters.clone(), stop.clone());
        std::thread::Builder::new().name("vigil-capture".into()).spawn(move || {
            let mut dec = vigil_capture::Decoder::new();
            let mut engine = vigil_flow::Engine::new(vigil_flow::EngineConfig::default());
            let mut send = |conn: Conn| {
                // The main loop went away: nothing more to do with it.
                let _ = tx.send(conn);
            };
            let mut n: u64 = 0;
            while !st.load(Ordering::Relaxed) {
                match cap.next_frame(Duration::from_millis(200)) {
                    Ok(Some(frame)) => {
                        c.bytes.fetch_add(frame.data.len() as u64, Ordering::Relaxed);
                        match dec.decode(&frame) {
                            Ok(Some(pkt)) => {
                                c.packets.fetch_add(1, Ordering::Relaxed);
                                engine.process_packet(&pkt, &mut send);
                            }
                            Ok(None) => {}
                            Err(_) => {
                                c.decode_errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        eprintln!("vigil watch: {e}");
                        break;
                    }
                }
                n += 1;
                if n.is_multiple_of(4096) {
                    c.kernel_drops.store(cap.stats().kernel_drops, Ordering::Relaxed);
                }
            }
            c.kernel_drops.store(cap.stats().kernel_drops, Ordering::Relaxed);
            engine.finish(&mut send);
        })?;
        Ok(Live { rx, counters, reported: [0; 4], stop })
    }

    impl Live {
        /// Connections finished since the last call; the capture counters go into the metrics.
        pub(super) fn drain(&mut self, m: &Metrics) -> Result<Vec<Conn>> {
            let mut got = Vec::new();
            loop {
                match self.rx.try_recv() {
                    Ok(c) => {
                        got.push(c);
                        if got.len() >= 1_000_000 {
                            break;
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    // What it finished is still returned; the next call reports the stop.
                    Err(TryRecvError::Disconnected) if got.is_empty() => anyhow::bail!("the live capture stopped"),
                    Err(TryRecvError::Disconnected) => break,
                }
            }
            // The shared metrics are sums over every source: add what grew since the last call.
            let c = &self.counters;
            let now = [&c.packets, &c.bytes, &c.decode_errors, &c.kernel_drops].map(|a| a.load(Ordering::Relaxed));
            let dest = [&m.packets, &m.bytes, &m.decode_errors, &m.drops];
            for ((d, n), r) in dest.iter().zip(now).zip(self.reported.iter_mut()) {
                d.fetch_add(n.saturating_sub(*r), Ordering::Relaxed);
                *r = n;
            }
            Ok(got)
        }
    }

    impl Drop for Live {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
        }
    }

    fn is_root() -> bool {
        std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
    }

    /// Gives the store directory to `user`, as tcpdump -Z does with its output files: after the
    /// switch Vigil must still append to the archive and the store.
    fn hand_over(dir: &Path, user: &str) -> Result<()> {
        let (uid, gid) = lookup(user)?;
        chown_tree(dir, uid, gid, 0)
    }

    fn lookup(user: &str) -> Result<(u32, u32)> {
        let text = std::fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
        for line in text.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() >= 4 && f[0] == user {
                return Ok((f[2].parse().context("uid")?, f[3].parse().context("gid")?));
            }
        }
        anyhow::bail!("no user named {user} in /etc/passwd")
    }

    fn chown_tree(p: &Path, uid: u32, gid: u32, depth: u32) -> Result<()> {
        anyhow::ensure!(depth <= 16, "{}: directory tree too deep", p.display());
        std::os::unix::fs::lchown(p, Some(uid), Some(gid)).with_context(|| format!("chown {}", p.display()))?;
        if std::fs::symlink_metadata(p)?.is_dir() {
            for e in std::fs::read_dir(p)?.flatten() {
                chown_tree(&e.path(), uid, gid, depth + 1)?;
            }
        }
        Ok(())
    }
}
