//! Live NetFlow/IPFIX collection: a UDP socket listener that decodes export datagrams from any
//! number of exporters (templates keyed by exporter address and domain), stitches flows and
//! hands out `Conn`s. Plain threads and bounded queues: the socket thread never blocks on the
//! decoder — when the datagram queue is full the datagram is dropped and counted — and the
//! decoder blocks on the consumer, so a slow consumer shows up as counted drops, never as
//! unbounded memory.

use crate::netflow::{Decoder, DecoderConfig, FlowRecord, Stitcher};
use crate::stats::ImportStats;
use crate::ImportOptions;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use vigil_model::{Conn, Timestamp};

/// Collector knobs.
#[derive(Clone, Debug)]
pub struct CollectorConfig {
    /// Datagrams waiting for the decoder.
    pub datagram_queue: usize,
    /// Conns waiting for the consumer.
    pub conn_queue: usize,
    pub decoder: DecoderConfig,
    pub stitch_window_secs: f64,
    pub max_pending_flows: usize,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            datagram_queue: 8192,
            conn_queue: 65536,
            decoder: DecoderConfig::default(),
            stitch_window_secs: 120.0,
            max_pending_flows: 500_000,
        }
    }
}

/// Counters of a running collector (a snapshot).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CollectorStats {
    pub datagrams: u64,
    /// Datagrams dropped because the decoder queue was full.
    pub datagrams_dropped: u64,
    pub flow_records: u64,
    pub templates: u64,
    pub template_misses: u64,
    pub malformed: u64,
    pub conns: u64,
}

#[derive(Default)]
struct Counters {
    datagrams: AtomicU64,
    dropped: AtomicU64,
    conns: AtomicU64,
}

/// A running UDP collector. Dropping it stops the threads.
pub struct Collector {
    addr: SocketAddr,
    conns: Receiver<Conn>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    decoder_stats: Arc<Mutex<crate::netflow::DecoderStats>>,
    threads: Vec<JoinHandle<()>>,
}

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65535;

impl Collector {
    /// Binds `addr` and starts collecting.
    pub fn bind(addr: SocketAddr, cfg: CollectorConfig) -> std::io::Result<Collector> {
        let sock = UdpSocket::bind(addr)?;
        // The socket thread wakes up periodically to notice a stop request.
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let addr = sock.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let decoder_stats = Arc::new(Mutex::new(Default::default()));
        let (dtx, drx) = sync_channel::<(IpAddr, Vec<u8>)>(cfg.datagram_queue.max(1));
        let (ctx, crx) = sync_channel::<Conn>(cfg.conn_queue.max(1));

        let (stop1, c1) = (stop.clone(), counters.clone());
        let rx_thread = std::thread::Builder::new().name("vigil-netflow-rx".into()).spawn(move || {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            while !stop1.load(Ordering::Relaxed) {
                let (n, from) = match sock.recv_from(&mut buf) {
                    Ok(x) => x,
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted) => continue,
                    Err(_) => continue,
                };
                c1.datagrams.fetch_add(1, Ordering::Relaxed);
                let data = buf.get(..n).unwrap_or(&[]).to_vec();
                match dtx.try_send((from.ip(), data)) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        c1.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TrySendError::Disconnected(_)) => break,
                }
            }
        })?;

        let (stop2, c2, ds) = (stop.clone(), counters.clone(), decoder_stats.clone());
        let dec_thread = std::thread::Builder::new().name("vigil-netflow-decode".into()).spawn(move || {
            let opts = ImportOptions { netflow: cfg.decoder.clone(), ..Default::default() };
            let mut dec = Decoder::new(cfg.decoder);
            let mut st = Stitcher::new(cfg.stitch_window_secs, cfg.max_pending_flows);
            let mut stats = ImportStats::default();
            let mut recs: Vec<FlowRecord> = Vec::new();
            let mut send = |c: Conn| {
                c2.conns.fetch_add(1, Ordering::Relaxed);
                // The consumer went away: nothing more to do with it.
                let _ = ctx.send(c);
            };
            loop {
                match drx.recv_timeout(Duration::from_millis(200)) {
                    Ok((from, data)) => {
                        dec.decode(from, &data, &mut recs);
                        recs.append(&mut dec.take_replayed());
                        for r in recs.drain(..) {
                            st.push(r, &opts, &mut stats, &mut send);
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        // Idle: release one-sided flows older than the window by the wall clock,
                        // which is the data's clock on a live feed.
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| Timestamp(d.as_nanos().min(i64::MAX as u128) as i64))
                            .unwrap_or_default();
                        st.advance(now, &opts, &mut stats, &mut send);
                        if stop2.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                if let Ok(mut g) = ds.lock() {
                    *g = dec.stats.clone();
                }
            }
            dec.finish();
            st.finish(&opts, &mut stats, &mut send);
            if let Ok(mut g) = ds.lock() {
                *g = dec.stats.clone();
            }
        })?;

        Ok(Collector { addr, conns: crx, stop, counters, decoder_stats, threads: vec![rx_thread, dec_thread] })
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next connection, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Conn> {
        self.conns.recv_timeout(timeout).ok()
    }

    /// Current counters.
    pub fn stats(&self) -> CollectorStats {
        let d = self.decoder_stats.lock().map(|g| g.clone()).unwrap_or_default();
        CollectorStats {
            datagrams: self.counters.datagrams.load(Ordering::Relaxed),
            datagrams_dropped: self.counters.dropped.load(Ordering::Relaxed),
            flow_records: d.records,
            templates: d.templates,
            template_misses: d.template_misses,
            malformed: d.malformed_packets + d.malformed_sets + d.malformed_templates,
            conns: self.counters.conns.load(Ordering::Relaxed),
        }
    }

    /// Stops listening, flushes every pending flow, and returns the remaining conns and the
    /// final counters.
    pub fn shutdown(mut self) -> (Vec<Conn>, CollectorStats) {
        self.stop.store(true, Ordering::Relaxed);
        let mut rest = Vec::new();
        // Drain while the decoder finishes so it never blocks on a full conn queue.
        let threads = std::mem::take(&mut self.threads);
        for t in threads {
            while !t.is_finished() {
                while let Ok(c) = self.conns.try_recv() {
                    rest.push(c);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = t.join();
        }
        rest.extend(self.conns.try_iter());
        let s = self.stats();
        (rest, s)
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
