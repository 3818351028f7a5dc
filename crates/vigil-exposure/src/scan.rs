//! The self-scan: port discovery (TCP connect on worker threads, or a raw-socket SYN scan when
//! the process has CAP_NET_RAW — see [`crate::syn`]), then probes on the open ports,
//! rate-limited, with retries and a resumable state file. Every target is checked against the
//! [`Scope`] before the first packet, and every connection (probes included) goes through
//! [`ScopedConnector`], which refuses anything outside the scope — two independent guards, so a
//! bug in one cannot probe someone else's network (the SYN scanner re-checks every packet too).

use crate::ident::{Service, identify};
use crate::probe::{Connector, ProbeConfig, Stream, probe_port};
use crate::recog::Recog;
use crate::scope::{Scope, ScopeError};
use crate::syn::{SynConfig, SynScanner};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Scope(#[from] ScopeError),
    #[error("state file {path}: {source}")]
    State { path: String, source: io::Error },
}

/// How open ports are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScanMethod {
    /// Full TCP connect (no privileges needed).
    #[default]
    Connect,
    /// Raw-socket SYN scan; falls back to connect, with a note, without CAP_NET_RAW.
    Syn,
    /// SYN when the capability is there, connect otherwise (the fallback note is still given).
    Auto,
}

/// Scanner knobs (all set by CLI flags).
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub method: ScanMethod,
    /// Probe and identify open ports (false: port discovery only).
    pub identify: bool,
    /// Worker threads.
    pub concurrency: usize,
    /// New connections per second across all workers (0 = unlimited).
    pub rate: f64,
    /// Extra connect attempts after a timeout (a refusal is an answer and is not retried).
    pub retries: u32,
    pub probe: ProbeConfig,
    /// Where done (address, port) pairs are appended, one JSON line each.
    pub state_file: Option<PathBuf>,
    /// Skip pairs already in the state file and keep their results.
    pub resume: bool,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            method: ScanMethod::Connect,
            identify: true,
            concurrency: 32,
            rate: 200.0,
            retries: 1,
            probe: ProbeConfig::default(),
            state_file: None,
            resume: false,
        }
    }
}

/// Port state, as scanners say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortState {
    Open,
    Closed,
    Filtered,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StateLine {
    addr: SocketAddr,
    state: PortState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service: Option<Service>,
}

/// What a scan found, with counters.
#[derive(Debug, Default)]
pub struct ScanOutcome {
    pub services: Vec<Service>,
    pub open: usize,
    pub closed: usize,
    pub filtered: usize,
    /// Pairs skipped because the state file had them.
    pub resumed: usize,
    /// Connection attempts made (connects and probe connections).
    pub connections: u64,
    /// SYN and RST packets sent by the SYN scanner.
    pub syn_packets: u64,
    /// `syn` or `connect`: what discovery actually used (IPv6 targets always use connect).
    pub method: &'static str,
    /// Why the scan used a different method than asked (no CAP_NET_RAW, IPv6 targets).
    pub note: Option<String>,
    /// Every (address, port) scanned in this run (resumed pairs excluded) and its state.
    pub ports: Vec<(SocketAddr, PortState)>,
    pub elapsed: Duration,
}

/// A connector that refuses out-of-scope addresses and paces new connections.
pub struct ScopedConnector<'a> {
    inner: &'a dyn Connector,
    scope: &'a Scope,
    min_gap: Option<Duration>,
    next: Mutex<Instant>,
    pub attempts: AtomicU64,
}

impl<'a> ScopedConnector<'a> {
    pub fn new(inner: &'a dyn Connector, scope: &'a Scope, rate: f64) -> Self {
        let min_gap = (rate > 0.0 && rate.is_finite()).then(|| Duration::from_secs_f64(1.0 / rate));
        ScopedConnector { inner, scope, min_gap, next: Mutex::new(Instant::now()), attempts: AtomicU64::new(0) }
    }

    fn pace(&self) {
        let Some(gap) = self.min_gap else { return };
        let wait = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + gap;
            slot.saturating_duration_since(now)
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}

impl Connector for ScopedConnector<'_> {
    fn connect(&self, addr: SocketAddr, connect_timeout: Duration, read_timeout: Duration) -> io::Result<Box<dyn Stream>> {
        if !self.scope.allows(addr) {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("{addr} is outside the scope")));
        }
        self.pace();
        self.attempts.fetch_add(1, Ordering::Relaxed);
        self.inner.connect(addr, connect_timeout, read_timeout)
    }
}

fn read_state(path: &PathBuf) -> Result<Vec<StateLine>, ScanError> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ScanError::State { path: path.display().to_string(), source: e }),
    };
    // A torn last line (the run was killed mid-write) is skipped, not fatal.
    Ok(io::BufReader::new(f).lines().map_while(Result::ok).filter_map(|l| serde_json::from_str(&l).ok()).collect())
}

/// Scans `targets` (every one must be inside `scope`, or nothing is sent at all), probing and
/// identifying open ports. `names` gives host names for HTTP Host / TLS SNI. `progress` is called
/// with (done, total) after each pair.
pub fn scan(
    scope: &Scope,
    targets: &[SocketAddr],
    names: &HashMap<IpAddr, String>,
    connector: &dyn Connector,
    recog: &Recog,
    cfg: &ScanConfig,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<ScanOutcome, ScanError> {
    // Guard 1: the whole target list, before any packet.
    if let Some(bad) = targets.iter().find(|a| !scope.allows(**a)) {
        return Err(ScopeError::OutOfScope { target: bad.to_string() }.into());
    }
    let start = Instant::now();
    let mut out = ScanOutcome::default();
    let mut done: HashSet<SocketAddr> = HashSet::new();
    if cfg.resume
        && let Some(p) = &cfg.state_file
    {
        for l in read_state(p)? {
            if !scope.allows(l.addr) || !done.insert(l.addr) {
                continue;
            }
            out.resumed += 1;
            match l.state {
                PortState::Open => {
                    out.open += 1;
                    out.services.extend(l.service);
                }
                PortState::Closed => out.closed += 1,
                PortState::Filtered => out.filtered += 1,
            }
        }
    }
    let state = match &cfg.state_file {
        Some(p) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .truncate(false)
                .open(p)
                .map_err(|e| ScanError::State { path: p.display().to_string(), source: e })?;
            if !cfg.resume {
                f.set_len(0).map_err(|e| ScanError::State { path: p.display().to_string(), source: e })?;
            }
            Some(Mutex::new(io::BufWriter::new(f)))
        }
        None => None,
    };
    let todo: Vec<SocketAddr> = targets.iter().copied().filter(|a| !done.contains(a)).collect();
    out.method = "connect";
    let mut known: HashMap<SocketAddr, PortState> = HashMap::new();
    if cfg.method != ScanMethod::Connect && !todo.is_empty() {
        match SynScanner::open() {
            Ok(syn) => {
                let sc = SynConfig { rate: cfg.rate, retries: cfg.retries, wait: cfg.probe.connect_timeout };
                known = syn.discover(scope, &todo, &sc)?;
                out.syn_packets = syn.sent.load(Ordering::Relaxed);
                out.method = "syn";
                if known.len() < todo.len() {
                    out.note = Some(format!("{} IPv6 or unroutable targets checked by TCP connect", todo.len() - known.len()));
                }
            }
            Err(e) => out.note = Some(format!("{e}; falling back to TCP connect scan")),
        }
    }
    let total = targets.len() as u64;
    let finished = AtomicU64::new(out.resumed as u64);
    let next = AtomicUsize::new(0);
    let guarded = ScopedConnector::new(connector, scope, cfg.rate);
    let results: Mutex<Vec<StateLine>> = Mutex::new(Vec::new());
    let workers = cfg.concurrency.clamp(1, 1024).min(todo.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&addr) = todo.get(i) else { break };
                    let line = scan_one(&guarded, addr, known.get(&addr).copied(), names, recog, cfg);
                    if let Some(st) = &state {
                        let mut w = st.lock().unwrap_or_else(|e| e.into_inner());
                        if let Ok(j) = serde_json::to_string(&line) {
                            let _ = writeln!(w, "{j}");
                            let _ = w.flush();
                        }
                    }
                    results.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                    progress(finished.fetch_add(1, Ordering::Relaxed) + 1, total);
                }
            });
        }
    });
    for l in results.into_inner().unwrap_or_else(|e| e.into_inner()) {
        out.ports.push((l.addr, l.state));
        match l.state {
            PortState::Open => {
                out.open += 1;
                out.services.extend(l.service);
            }
            PortState::Closed => out.closed += 1,
            PortState::Filtered => out.filtered += 1,
        }
    }
    out.services.sort_by_key(|s| (s.ip, s.port));
    out.ports.sort();
    out.connections = guarded.attempts.load(Ordering::Relaxed);
    out.elapsed = start.elapsed();
    Ok(out)
}

fn scan_one(
    c: &ScopedConnector<'_>,
    addr: SocketAddr,
    known: Option<PortState>,
    names: &HashMap<IpAddr, String>,
    recog: &Recog,
    cfg: &ScanConfig,
) -> StateLine {
    let mut state = known.unwrap_or(PortState::Filtered);
    for _ in 0..=cfg.retries.min(10) {
        if known.is_some() {
            break;
        }
        match c.connect(addr, cfg.probe.connect_timeout, cfg.probe.read_timeout) {
            Ok(_) => {
                state = PortState::Open;
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                state = PortState::Closed;
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => break,
            Err(_) => continue,
        }
    }
    let service = (state == PortState::Open && cfg.identify).then(|| {
        let host = names.get(&addr.ip()).cloned().unwrap_or_else(|| addr.ip().to_string());
        let obs = probe_port(c, addr, &host, &cfg.probe);
        let mut s = identify(Some(addr.ip()), addr.port(), &obs, recog);
        s.hostname = names.get(&addr.ip()).cloned();
        s
    });
    StateLine { addr, state, service }
}
