//! Live NetFlow/IPFIX collection: a UDP socket listener that decodes export datagrams from any
//! number of exporters (templates keyed by exporter address and domain), stitches flows and
//! hands out `Conn`s. Plain threads and bounded queues: the socket thread never blocks on the
//! decoder — when the datagram queue is full the datagram is dropped and counted — and the
//! decoder blocks on the consumer, so a slow consumer shows up as counted drops, never as
//! unbounded memory.
//!
//! Three threads: socket → decoder → stitcher, so decoding and stitching (with `Conn`
//! construction) of even one exporter's stream run in parallel. Throughput: the socket asks for
//! a large kernel receive buffer (bursts are absorbed by the kernel instead of lost), datagram
//! buffers are recycled instead of allocated per datagram, and flow records and `Conn`s cross
//! threads in batches, so the per-record cost is the decode and the stitch, not channel or
//! allocator traffic.

use crate::netflow::{Decoder, DecoderConfig, FlowRecord, Stitcher};
use crate::stats::ImportStats;
use crate::ImportOptions;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
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
    /// Kernel receive buffer (SO_RCVBUF) requested for the socket; the kernel caps it at
    /// `net.core.rmem_max` (and reports double the value it sets). 0 keeps the system default.
    pub recv_buffer_bytes: usize,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            datagram_queue: 8192,
            conn_queue: 65536,
            decoder: DecoderConfig::default(),
            stitch_window_secs: 120.0,
            max_pending_flows: 500_000,
            recv_buffer_bytes: 32 << 20,
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
    /// Receive buffer the kernel granted the socket (bytes, as `getsockopt(SO_RCVBUF)` reports).
    pub recv_buffer_bytes: u64,
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
    conns: Receiver<Vec<Conn>>,
    /// Conns of a received batch not yet handed out by [`Collector::recv_timeout`].
    ready: Mutex<VecDeque<Conn>>,
    recv_buffer: u64,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    decoder_stats: Arc<Mutex<crate::netflow::DecoderStats>>,
    threads: Vec<JoinHandle<()>>,
}

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65535;

/// Conns per batch handed to the consumer.
const CONN_BATCH: usize = 256;

/// Flow records per batch from the decoder to the stitcher, and batches in flight (bounded
/// memory: at most `FLOW_BATCHES` × `FLOW_BATCH` records wait between the two threads).
const FLOW_BATCH: usize = 1024;
const FLOW_BATCHES: usize = 64;

/// A UDP socket with the requested receive buffer; returns it and the size the kernel granted.
fn udp_socket(addr: SocketAddr, recv_buffer: usize) -> std::io::Result<(UdpSocket, u64)> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if recv_buffer > 0 {
        // Refused or capped by the kernel: the collector still works with what it gets.
        let _ = s.set_recv_buffer_size(recv_buffer);
    }
    let granted = s.recv_buffer_size().map(|n| n as u64).unwrap_or(0);
    s.bind(&addr.into())?;
    Ok((s.into(), granted))
}

impl Collector {
    /// Binds `addr` and starts collecting.
    pub fn bind(addr: SocketAddr, cfg: CollectorConfig) -> std::io::Result<Collector> {
        let (sock, recv_buffer) = udp_socket(addr, cfg.recv_buffer_bytes)?;
        // The socket thread wakes up periodically to notice a stop request.
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let addr = sock.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let decoder_stats = Arc::new(Mutex::new(Default::default()));
        let (dtx, drx) = sync_channel::<(IpAddr, Vec<u8>)>(cfg.datagram_queue.max(1));
        // Emptied datagram buffers go back to the socket thread for reuse.
        let (ptx, prx) = sync_channel::<Vec<u8>>(cfg.datagram_queue.max(1));
        let (ctx, crx) = sync_channel::<Vec<Conn>>((cfg.conn_queue / CONN_BATCH).max(1));

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
                let mut data = prx.try_recv().unwrap_or_default();
                data.clear();
                data.extend_from_slice(buf.get(..n).unwrap_or(&[]));
                match dtx.try_send((from.ip(), data)) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        c1.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TrySendError::Disconnected(_)) => break,
                }
            }
        })?;

        // Decoded flow records go to the stitching thread in batches: decoding and stitching
        // (with `Conn` construction) run in parallel, so one exporter's stream can use two cores.
        let (ftx, frx) = sync_channel::<Vec<FlowRecord>>(FLOW_BATCHES);
        let (stop2, ds) = (stop.clone(), decoder_stats.clone());
        let dec_cfg = cfg.decoder.clone();
        let dec_thread = std::thread::Builder::new().name("vigil-netflow-decode".into()).spawn(move || {
            let mut dec = Decoder::new(dec_cfg);
            let mut recs: Vec<FlowRecord> = Vec::with_capacity(FLOW_BATCH);
            let publish = |dec: &Decoder| {
                if let Ok(mut g) = ds.lock() {
                    *g = dec.stats.clone();
                }
            };
            // A full batch, or whatever is there when the datagram queue runs dry, goes on; the
            // send blocks when the stitcher is behind, which backs up into counted drops.
            let pass = |recs: &mut Vec<FlowRecord>| {
                if recs.is_empty() {
                    return true;
                }
                let b = std::mem::replace(recs, Vec::with_capacity(FLOW_BATCH));
                ftx.send(b).is_ok()
            };
            loop {
                let next = match drx.try_recv() {
                    Ok(x) => Ok(x),
                    Err(_) => {
                        if !pass(&mut recs) {
                            break;
                        }
                        publish(&dec);
                        drx.recv_timeout(Duration::from_millis(200))
                    }
                };
                match next {
                    Ok((from, data)) => {
                        dec.decode(from, &data, &mut recs);
                        if dec.has_replayed() {
                            recs.append(&mut dec.take_replayed());
                        }
                        // Recycling is best effort: a full pool just frees the buffer.
                        let _ = ptx.try_send(data);
                        if recs.len() >= FLOW_BATCH && !pass(&mut recs) {
                            break;
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        if stop2.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            dec.finish();
            pass(&mut recs);
            publish(&dec);
        })?;

        let stitch_cfg = (cfg.decoder.clone(), cfg.stitch_window_secs, cfg.max_pending_flows);
        let c3 = counters.clone();
        let stitch_thread = std::thread::Builder::new().name("vigil-netflow-stitch".into()).spawn(move || {
            let (decoder, window, max_pending) = stitch_cfg;
            let opts = ImportOptions { netflow: decoder, ..Default::default() };
            let mut st = Stitcher::new(window, max_pending);
            let mut stats = ImportStats::default();
            let mut out = Batcher { tx: ctx, batch: Vec::with_capacity(CONN_BATCH), counters: c3 };
            loop {
                // Conn batches go out when full, and whenever the record queue runs dry, so the
                // consumer never waits on a half-filled batch while the stitcher idles.
                let next = match frx.try_recv() {
                    Ok(x) => Ok(x),
                    Err(_) => {
                        out.flush();
                        frx.recv_timeout(Duration::from_millis(200))
                    }
                };
                match next {
                    Ok(batch) => {
                        for r in batch {
                            st.push(r, &opts, &mut stats, &mut |c| out.push(c));
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        // Idle: release one-sided flows older than the window by the wall clock,
                        // which is the data's clock on a live feed.
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| Timestamp(d.as_nanos().min(i64::MAX as u128) as i64))
                            .unwrap_or_default();
                        st.advance(now, &opts, &mut stats, &mut |c| out.push(c));
                    }
                    // The decoder has finished (stop requested): flush everything.
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            st.finish(&opts, &mut stats, &mut |c| out.push(c));
            out.flush();
        })?;

        Ok(Collector {
            addr,
            conns: crx,
            ready: Mutex::new(VecDeque::new()),
            recv_buffer,
            stop,
            counters,
            decoder_stats,
            threads: vec![rx_thread, dec_thread, stitch_thread],
        })
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next connection, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Conn> {
        let mut ready = self.ready.lock().ok()?;
        if let Some(c) = ready.pop_front() {
            return Some(c);
        }
        let batch = match self.conns.try_recv() {
            Ok(b) => b,
            Err(_) if timeout.is_zero() => return None,
            Err(_) => self.conns.recv_timeout(timeout).ok()?,
        };
        ready.extend(batch);
        ready.pop_front()
    }

    /// The next batch of connections (at least one), waiting at most `timeout`: cheaper than
    /// [`Collector::recv_timeout`] per record for a consumer that takes everything.
    pub fn recv_batch(&self, timeout: Duration) -> Option<Vec<Conn>> {
        if let Ok(mut ready) = self.ready.lock()
            && !ready.is_empty()
        {
            return Some(ready.drain(..).collect());
        }
        let batch = match self.conns.try_recv() {
            Ok(b) => b,
            Err(_) if timeout.is_zero() => return None,
            Err(_) => self.conns.recv_timeout(timeout).ok()?,
        };
        (!batch.is_empty()).then_some(batch)
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
            recv_buffer_bytes: self.recv_buffer,
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
                while let Ok(b) = self.conns.try_recv() {
                    rest.extend(b);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = t.join();
        }
        if let Ok(mut ready) = self.ready.lock() {
            let early: Vec<Conn> = ready.drain(..).collect();
            rest.splice(0..0, early);
        }
        rest.extend(self.conns.try_iter().flatten());
        let s = self.stats();
        (rest, s)
    }
}

/// Collects `Conn`s into batches for the consumer channel.
struct Batcher {
    tx: SyncSender<Vec<Conn>>,
    batch: Vec<Conn>,
    counters: Arc<Counters>,
}

impl Batcher {
    fn push(&mut self, c: Conn) {
        self.batch.push(c);
        if self.batch.len() >= CONN_BATCH {
            self.flush();
        }
    }
    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let b = std::mem::replace(&mut self.batch, Vec::with_capacity(CONN_BATCH));
        self.counters.conns.fetch_add(b.len() as u64, Ordering::Relaxed);
        // The consumer went away: nothing more to do with these.
        let _ = self.tx.send(b);
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
