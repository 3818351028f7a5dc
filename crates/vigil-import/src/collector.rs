//! Live NetFlow/IPFIX collection: a UDP socket listener that decodes export datagrams from any
//! number of exporters (templates keyed by exporter address and domain), stitches flows and
//! hands out `Conn`s. Plain threads and bounded queues: when the datagram queue is full the
//! socket thread waits a little (the kernel's receive buffer then absorbs the burst, and counts
//! what it drops) before it drops and counts a batch itself, and the decoder blocks on the
//! consumer, so a slow consumer shows up as counted drops, never as unbounded memory.
//!
//! Three threads: socket → decoder → stitcher, so decoding and stitching (with `Conn`
//! construction) of even one exporter's stream run in parallel. Throughput: the socket asks for
//! a large kernel receive buffer (`SO_RCVBUFFORCE` when privileged, so bursts are absorbed by
//! the kernel instead of lost), the socket thread takes every queued datagram with one
//! `recvmmsg` call and hands them on as one batch (one wake-up of the decoder per batch, not
//! per datagram), batch buffers are recycled instead of allocated, and flow records and `Conn`s
//! cross threads in batches, so the per-record cost is the decode and the stitch, not
//! system-call, scheduler, channel or allocator traffic. Kernel drops (`SO_RXQ_OVFL`, and the
//! socket's `/proc/net/udp` drops column at shutdown) are counted beside the collector's own.

use crate::netflow::{Decoder, DecoderConfig, FlowRecord, Stitcher};
use crate::stats::ImportStats;
use crate::ImportOptions;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use vigil_model::{Conn, Timestamp};

/// Collector knobs.
#[derive(Clone, Debug)]
pub struct CollectorConfig {
    /// Batches of datagrams (one `recvmmsg` call each) waiting for the decoder; their bytes are
    /// bounded by `queue_bytes`.
    pub datagram_queue: usize,
    /// Conns waiting for the consumer.
    pub conn_queue: usize,
    pub decoder: DecoderConfig,
    pub stitch_window_secs: f64,
    pub max_pending_flows: usize,
    /// Kernel receive buffer requested for the socket: `SO_RCVBUFFORCE` when the process may
    /// (CAP_NET_ADMIN), else `SO_RCVBUF`, which the kernel caps at `net.core.rmem_max`; the
    /// kernel reports double the value it sets. 0 keeps the system default.
    pub recv_buffer_bytes: usize,
    /// Try `SO_RCVBUFFORCE` first (false: plain `SO_RCVBUF` only, capped like any process's).
    pub force_recv_buffer: bool,
    /// Bytes of received datagrams waiting for the decoder, at most: past this, datagrams are
    /// dropped and counted (bounded memory whatever the exporters send).
    pub queue_bytes: usize,
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
            force_recv_buffer: true,
            queue_bytes: 64 << 20,
        }
    }
}

/// Counters of a running collector (a snapshot).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CollectorStats {
    pub datagrams: u64,
    /// Datagrams dropped because the decoder queue stayed full (see `kernel_drops` for the ones
    /// the kernel dropped while the socket thread waited for room).
    pub datagrams_dropped: u64,
    pub flow_records: u64,
    pub templates: u64,
    pub template_misses: u64,
    pub malformed: u64,
    pub conns: u64,
    /// Receive buffer the kernel granted the socket (bytes, as `getsockopt(SO_RCVBUF)` reports).
    pub recv_buffer_bytes: u64,
    /// Whether that buffer was set with `SO_RCVBUFFORCE` (past `net.core.rmem_max`); false when
    /// the process lacks the privilege and the capped `SO_RCVBUF` applied.
    pub recv_buffer_forced: bool,
    /// Datagrams the kernel dropped because the socket buffer was full (`SO_RXQ_OVFL` while
    /// running; the socket's `/proc/net/udp` drops column at shutdown when readable).
    pub kernel_drops: u64,
}

#[derive(Default)]
struct Counters {
    datagrams: AtomicU64,
    dropped: AtomicU64,
    conns: AtomicU64,
    kernel_drops: AtomicU64,
    /// Bytes of datagrams handed to the decoder and not yet decoded.
    queued_bytes: AtomicUsize,
}

/// Datagrams taken by one `recvmmsg` call, back to back in one buffer.
#[derive(Default)]
struct Datagrams {
    bytes: Vec<u8>,
    /// Exporter address and end offset in `bytes` of each datagram.
    ends: Vec<(IpAddr, usize)>,
}

/// A running UDP collector. Dropping it stops the threads.
pub struct Collector {
    addr: SocketAddr,
    conns: Receiver<Vec<Conn>>,
    /// Conns of a received batch not yet handed out by [`Collector::recv_timeout`].
    ready: Mutex<VecDeque<Conn>>,
    recv_buffer: u64,
    recv_buffer_forced: bool,
    sock: Arc<UdpSocket>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    decoder_stats: Arc<Mutex<crate::netflow::DecoderStats>>,
    threads: Vec<JoinHandle<()>>,
}

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65535;

/// Datagrams taken per `recvmmsg` call.
const RX_BATCH: usize = 64;

/// After a partial batch the socket thread waits this long before the next call, so datagrams
/// arriving meanwhile are taken together (the kernel buffer holds far more than arrives in this
/// time at any rate): about a thousand wake-ups a second under load instead of one per
/// datagram. An idle socket still blocks in the kernel, without polling.
const RX_COALESCE: Duration = Duration::from_millis(1);

/// Longest the socket thread waits for room in the decoder queue before it drops a batch: a
/// decoder stuck for this long is not coming back soon, and the socket must keep draining.
const RX_STALL: Duration = Duration::from_secs(2);

/// Emptied datagram batches kept for reuse, and the capacity each keeps: enough for a full
/// batch of ordinary (≤ 1,500-byte) export datagrams.
const RECYCLED_BATCHES: usize = 16;
const RECYCLED_BATCH_BYTES: usize = RX_BATCH * 1500;

/// Conns per batch handed to the consumer.
const CONN_BATCH: usize = 256;

/// Flow records per batch from the decoder to the stitcher, and batches in flight (bounded
/// memory: at most `FLOW_BATCHES` × `FLOW_BATCH` records wait between the two threads).
const FLOW_BATCH: usize = 1024;
const FLOW_BATCHES: usize = 64;

/// A UDP socket with the requested receive buffer and the kernel drop counter enabled; returns
/// it, the size the kernel granted and whether `SO_RCVBUFFORCE` was allowed.
fn udp_socket(addr: SocketAddr, recv_buffer: usize, force: bool) -> std::io::Result<(UdpSocket, u64, bool)> {
    use nix::sys::socket::{setsockopt, sockopt};
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let mut forced = false;
    if recv_buffer > 0 {
        // SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it, SO_RCVBUF (capped by rmem_max). Either
        // way the collector works with what it gets.
        forced = force && setsockopt(&s, sockopt::RcvBufForce, &recv_buffer).is_ok();
        if !forced {
            let _ = s.set_recv_buffer_size(recv_buffer);
        }
    }
    // Best effort: without it, kernel drops are still read from /proc at shutdown.
    let _ = setsockopt(&s, sockopt::RxqOvfl, &1);
    let granted = s.recv_buffer_size().map(|n| n as u64).unwrap_or(0);
    s.bind(&addr.into())?;
    Ok((s.into(), granted, forced))
}

/// The socket's `drops` column in `/proc/net/udp{,6}` (found by the socket's inode): every
/// datagram the kernel dropped for it, including any after the last one received.
pub(crate) fn proc_udp_drops(fd: RawFd) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    let inode = link.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.to_string();
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
            if cols.get(9) == Some(&inode.as_str()) {
                return cols.last()?.parse().ok();
            }
        }
    }
    None
}

/// The socket thread: takes every queued datagram with one `recvmmsg` call, hands them to the
/// decoder as one batch and counts what it has to drop. Returns when `stop` is set or the
/// decoder is gone.
fn receive_loop(
    sock: &UdpSocket,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    queue_bytes: usize,
    to_decoder: SyncSender<Datagrams>,
    recycled: Receiver<Datagrams>,
) {
    use nix::sys::socket::{recvmmsg, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrLike, SockaddrStorage};
    use std::io::IoSliceMut;
    let fd = sock.as_raw_fd();
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(RX_BATCH, Some(nix::cmsg_space!(u32)));
    let mut bufs: Vec<Vec<u8>> = (0..RX_BATCH).map(|_| vec![0u8; MAX_DATAGRAM]).collect();
    // (exporter, length) of each datagram of the current call.
    let mut got: Vec<(Option<IpAddr>, usize)> = Vec::with_capacity(RX_BATCH);
    while !stop.load(Ordering::Relaxed) {
        got.clear();
        let mut kernel_drops = None;
        {
            let mut iovs: Vec<[IoSliceMut; 1]> = bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
            // MSG_WAITFORONE: block (up to the socket's read timeout) for the first datagram,
            // then take whatever else is queued without waiting.
            match recvmmsg(fd, &mut headers, iovs.iter_mut(), MsgFlags::MSG_WAITFORONE, None) {
                Ok(msgs) => {
                    for m in msgs {
                        let from = m.address.and_then(|a| match a.family() {
                            Some(nix::sys::socket::AddressFamily::Inet) => a.as_sockaddr_in().map(|v| IpAddr::V4(v.ip())),
                            Some(nix::sys::socket::AddressFamily::Inet6) => a.as_sockaddr_in6().map(|v| IpAddr::V6(v.ip())),
                            _ => None,
                        });
                        if let Ok(cmsgs) = m.cmsgs() {
                            for c in cmsgs {
                                if let ControlMessageOwned::RxqOvfl(n) = c {
                                    kernel_drops = Some(u64::from(n));
                                }
                            }
                        }
                        // A datagram longer than the buffer arrives cut: the decoder sees a short
                        // packet and counts it malformed.
                        got.push((from, m.bytes.min(MAX_DATAGRAM)));
                    }
                }
                // Timeout (to look at `stop`) or signal: try again at once.
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
                // Anything else (out of memory...): try again, without spinning.
                Err(_) => {
                    std::thread::sleep(RX_COALESCE);
                    continue;
                }
            }
        }
        if let Some(n) = kernel_drops {
            // A running total kept by the kernel.
            counters.kernel_drops.fetch_max(n, Ordering::Relaxed);
        }
        let n = got.len();
        if n == 0 {
            continue;
        }
        counters.datagrams.fetch_add(n as u64, Ordering::Relaxed);
        let mut batch = recycled.try_recv().unwrap_or_default();
        batch.bytes.clear();
        batch.ends.clear();
        for (&(from, len), buf) in got.iter().zip(&bufs) {
            let Some(from) = from else { continue };
            batch.bytes.extend_from_slice(buf.get(..len).unwrap_or(&[]));
            batch.ends.push((from, batch.bytes.len()));
        }
        let size = batch.bytes.len();
        // Queue full: wait for the decoder rather than drop, so the kernel's receive buffer
        // (which counts its drops) absorbs the burst on top of this queue. Only a decoder that
        // stays behind for `RX_STALL` makes this batch a counted drop.
        let mut batch = Some(batch);
        let mut waited = Duration::ZERO;
        while let Some(b) = batch.take() {
            let fits = counters.queued_bytes.load(Ordering::Relaxed).saturating_add(size) <= queue_bytes;
            let sent = if fits {
                counters.queued_bytes.fetch_add(size, Ordering::Relaxed);
                match to_decoder.try_send(b) {
                    Ok(()) => None,
                    Err(TrySendError::Full(b)) => {
                        counters.queued_bytes.fetch_sub(size, Ordering::Relaxed);
                        Some(b)
                    }
                    Err(TrySendError::Disconnected(_)) => return,
                }
            } else {
                Some(b)
            };
            let Some(b) = sent else { break };
            if waited >= RX_STALL || size > queue_bytes || stop.load(Ordering::Relaxed) {
                counters.dropped.fetch_add(n as u64, Ordering::Relaxed);
                break;
            }
            std::thread::sleep(RX_COALESCE);
            waited += RX_COALESCE;
            batch = Some(b);
        }
        if n < RX_BATCH {
            std::thread::sleep(RX_COALESCE);
        }
    }
}

impl Collector {
    /// Binds `addr` and starts collecting.
    pub fn bind(addr: SocketAddr, cfg: CollectorConfig) -> std::io::Result<Collector> {
        let (sock, recv_buffer, recv_buffer_forced) = udp_socket(addr, cfg.recv_buffer_bytes, cfg.force_recv_buffer)?;
        // The socket thread wakes up periodically to notice a stop request.
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let addr = sock.local_addr()?;
        // Shared so the socket (and its /proc entry) outlives the socket thread until shutdown.
        let sock = Arc::new(sock);
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let decoder_stats = Arc::new(Mutex::new(Default::default()));
        let (dtx, drx) = sync_channel::<Datagrams>(cfg.datagram_queue.max(1));
        // Emptied batch buffers go back to the socket thread for reuse.
        let (ptx, prx) = sync_channel::<Datagrams>(RECYCLED_BATCHES);
        let (ctx, crx) = sync_channel::<Vec<Conn>>((cfg.conn_queue / CONN_BATCH).max(1));

        let (stop1, c1, sock1, queue_bytes) = (stop.clone(), counters.clone(), sock.clone(), cfg.queue_bytes);
        let rx_thread = std::thread::Builder::new()
            .name("vigil-netflow-rx".into())
            .spawn(move || receive_loop(&sock1, stop1, c1, queue_bytes, dtx, prx))?;

        // Decoded flow records go to the stitching thread in batches: decoding and stitching
        // (with `Conn` construction) run in parallel, so one exporter's stream can use two cores.
        let (ftx, frx) = sync_channel::<Vec<FlowRecord>>(FLOW_BATCHES);
        let (stop2, ds, c2) = (stop.clone(), decoder_stats.clone(), counters.clone());
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
                    Ok(mut batch) => {
                        let mut start = 0;
                        let mut gone = false;
                        for &(from, end) in &batch.ends {
                            dec.decode(from, batch.bytes.get(start..end).unwrap_or(&[]), &mut recs);
                            start = end;
                            if dec.has_replayed() {
                                recs.append(&mut dec.take_replayed());
                            }
                            if recs.len() >= FLOW_BATCH && !pass(&mut recs) {
                                gone = true;
                                break;
                            }
                        }
                        c2.queued_bytes.fetch_sub(batch.bytes.len(), Ordering::Relaxed);
                        // Recycling is best effort: a full pool just frees the buffers. Batches
                        // grown by unusually large datagrams give the excess back first.
                        batch.bytes.clear();
                        batch.bytes.shrink_to(RECYCLED_BATCH_BYTES);
                        let _ = ptx.try_send(batch);
                        if gone {
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
            recv_buffer_forced,
            sock,
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
            recv_buffer_forced: self.recv_buffer_forced,
            kernel_drops: self.counters.kernel_drops.load(Ordering::Relaxed),
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
        // The kernel's own count, which also covers drops after the last datagram received.
        if let Some(n) = proc_udp_drops(self.sock.as_raw_fd()) {
            self.counters.kernel_drops.fetch_max(n, Ordering::Relaxed);
        }
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
