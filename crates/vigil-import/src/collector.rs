//! Live NetFlow/IPFIX collection: a UDP socket listener that decodes export datagrams from any
//! number of exporters (templates keyed by exporter address and domain), stitches flows and
//! hands out `Conn`s. Plain threads and bounded queues: when the datagram queue is full the
//! socket thread waits a little (the kernel's receive buffer then absorbs the burst, and counts
//! what it drops) before it drops and counts a batch itself, and the decoder blocks on the
//! consumer, so a slow consumer shows up as counted drops, never as unbounded memory.
//!
//! Threads: socket → decoder → stitchers (one per core by default) → consumer. The decoder
//! hashes each flow record once by its direction-free 5-tuple and hands it to the stitcher
//! that hash picks, so both directions of a flow meet in one stitcher and stitching (pairing,
//! Community ID, uid, state) of even one exporter's stream runs on every core. Stitchers hand
//! on heap-free connection records ([`ConnRec`]); the `Conn`s (and their strings) are built on
//! the consumer's thread, which is the thread that frees them. Throughput: the socket asks for
//! a large kernel receive buffer (`SO_RCVBUFFORCE` when privileged and allowed, so bursts are
//! absorbed by the kernel instead of lost), the socket thread takes every queued datagram with
//! one `recvmmsg` call and hands them on as one batch, every stage passes batches (a partial
//! one only after its input has stayed empty for a couple of milliseconds) and recycles their
//! buffers, so the per-record cost is the decode and the stitch, not system-call, scheduler,
//! channel, page-fault or allocator traffic. Kernel drops (`SO_RXQ_OVFL`, and the socket's
//! `/proc/net/udp` drops column at shutdown) are counted beside the collector's own.

use crate::ImportOptions;
use crate::netflow::sflow::{SflowDecoder, SflowStats, looks_like_sflow};
use crate::netflow::{ConnRec, Decoder, DecoderConfig, FlowHasher, FlowRecord, Stitcher};
use crate::stats::ImportStats;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
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
    /// Records waiting for their reverse direction, over all stitching threads.
    pub max_pending_flows: usize,
    /// Stitching threads (0: one per core, at most four). Records are spread over them by a
    /// direction-free hash of the flow, so each flow is stitched by one thread and the
    /// connections are the same for any count; only their order across flows differs.
    pub stitch_threads: usize,
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
            stitch_threads: 0,
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
    /// sFlow v5 datagrams among `datagrams`, and their flow samples (each an estimate of
    /// sampling-rate packets; summed per flow into `flow_records`).
    pub sflow_datagrams: u64,
    pub sflow_samples: u64,
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
    conns: Receiver<Vec<ConnRec>>,
    /// Conns of a received batch not yet handed out by [`Collector::recv_timeout`].
    ready: Mutex<VecDeque<ConnRec>>,
    recv_buffer: u64,
    recv_buffer_forced: bool,
    sock: Arc<UdpSocket>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    decoder_stats: Arc<Mutex<(crate::netflow::DecoderStats, SflowStats)>>,
    pool: Arc<ConnPool>,
    threads: Vec<JoinHandle<()>>,
}

/// The wall clock as a [`Timestamp`] (the epoch if the clock is before it).
fn wall_now() -> Timestamp {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
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

/// Conns per batch handed to the consumer (a wake-up of the consumer per batch).
const CONN_BATCH: usize = 1024;

/// Flow records per batch from the decoder to a stitcher, and batches in flight over all
/// stitchers (bounded memory: at most about `FLOW_BATCHES` × `FLOW_BATCH` records wait between
/// the decoder and the stitchers).
const FLOW_BATCH: usize = 1024;
const FLOW_BATCHES: usize = 64;

/// How long the decoder and the stitchers wait for more input before handing on a partial
/// batch: under load batches fill first (one wake-up of the next thread per batch, not per few
/// records); a quiet feed still sees its connections within milliseconds.
const FLUSH_AFTER: Duration = Duration::from_millis(2);

/// How long an idle decoder or stitcher sleeps before it looks at the stop flag and the clock.
const IDLE_TICK: Duration = Duration::from_millis(200);

/// Stitching threads when the configuration leaves it to the machine: one per core, at most
/// this many (the decoder and the socket thread need cores too).
const MAX_AUTO_STITCH_THREADS: usize = 4;

fn stitch_threads(configured: usize) -> usize {
    match configured {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_AUTO_STITCH_THREADS),
        n => n.min(64),
    }
}

/// Emptied connection batch buffers, handed back by the consumer side to the stitchers: a fresh
/// buffer per batch of 1,024 was fresh memory from the kernel each time (a page fault per
/// 4 KiB written, and the pages given back again when the consumer freed it).
#[derive(Default)]
struct ConnPool(Mutex<Vec<Vec<ConnRec>>>);

/// Spare batch buffers kept, at most.
const POOLED_CONN_BATCHES: usize = 16;

impl ConnPool {
    fn get(&self) -> Vec<ConnRec> {
        self.0.lock().ok().and_then(|mut p| p.pop()).unwrap_or_else(|| Vec::with_capacity(CONN_BATCH))
    }
    fn put(&self, mut v: Vec<ConnRec>) {
        v.clear();
        if let Ok(mut p) = self.0.lock()
            && p.len() < POOLED_CONN_BATCHES
        {
            p.push(v);
        }
    }
}

/// Flow records for one stitcher, each with its flow hash, and the feed's flow time so far.
struct FlowBatch {
    recs: Vec<(u64, FlowRecord)>,
    watermark: Timestamp,
}

/// The decoder side of the stitchers: hashes each record once, picks its stitcher by the hash
/// (both directions of a flow hash alike) and sends per-stitcher batches.
struct Dispatch {
    hasher: FlowHasher,
    txs: Vec<SyncSender<FlowBatch>>,
    outs: Vec<Vec<(u64, FlowRecord)>>,
    recycled: Receiver<Vec<(u64, FlowRecord)>>,
    watermark: Timestamp,
}

impl Dispatch {
    /// Queues a record; false when its stitcher is gone.
    fn push(&mut self, r: FlowRecord) -> bool {
        if r.end > self.watermark {
            self.watermark = r.end;
        }
        let h = self.hasher.flow_hash(&r);
        // Bits the stitcher's map uses least (it indexes with the low bits, tags with the top
        // seven), mapped onto 0..n by a multiply instead of a division.
        let i = ((((h >> 24) as u32) as u64 * self.outs.len() as u64) >> 32) as usize;
        let Some(out) = self.outs.get_mut(i) else { return true };
        out.push((h, r));
        if out.len() >= FLOW_BATCH {
            return self.send(i);
        }
        true
    }

    /// Sends stitcher `i` its pending records (blocking while it is behind); false when it is
    /// gone.
    fn send(&mut self, i: usize) -> bool {
        if self.outs.get(i).is_none_or(|o| o.is_empty()) {
            return true;
        }
        let fresh = self.recycled.try_recv().unwrap_or_else(|_| Vec::with_capacity(FLOW_BATCH));
        let (Some(out), Some(tx)) = (self.outs.get_mut(i), self.txs.get(i)) else { return true };
        let recs = std::mem::replace(out, fresh);
        tx.send(FlowBatch { recs, watermark: self.watermark }).is_ok()
    }

    /// Sends every stitcher its pending records; false when one is gone.
    fn flush(&mut self) -> bool {
        let mut ok = true;
        for i in 0..self.outs.len() {
            ok &= self.send(i);
        }
        ok
    }
}

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
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrLike, SockaddrStorage, recvmmsg};
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
        let (ctx, crx) = sync_channel::<Vec<ConnRec>>((cfg.conn_queue / CONN_BATCH).max(1));

        let (stop1, c1, sock1, queue_bytes) = (stop.clone(), counters.clone(), sock.clone(), cfg.queue_bytes);
        let rx_thread = std::thread::Builder::new()
            .name("vigil-netflow-rx".into())
            .spawn(move || receive_loop(&sock1, stop1, c1, queue_bytes, dtx, prx))?;

        // Decoded flow records go to the stitching threads in batches: decoding and stitching
        // (with `Conn` construction) run in parallel, so one exporter's stream can use every
        // core. Each record goes to the stitcher its direction-free flow hash picks, so both
        // directions of a flow meet in the same stitcher; the hash is computed once, here.
        let shards = stitch_threads(cfg.stitch_threads);
        let hasher = FlowHasher::new();
        let mut shard_txs = Vec::with_capacity(shards);
        let mut shard_rxs = Vec::with_capacity(shards);
        for _ in 0..shards {
            let (tx, rx) = sync_channel::<FlowBatch>((FLOW_BATCHES / shards).max(2));
            shard_txs.push(tx);
            shard_rxs.push(rx);
        }
        // Emptied record batches go back to the decoder for reuse.
        let (btx, brx) = sync_channel::<Vec<(u64, FlowRecord)>>(FLOW_BATCHES + shards);
        let (stop2, ds, c2) = (stop.clone(), decoder_stats.clone(), counters.clone());
        let dec_cfg = cfg.decoder.clone();
        let (window, max_open) = (cfg.stitch_window_secs, cfg.max_pending_flows);
        let dec_thread = std::thread::Builder::new().name("vigil-netflow-decode".into()).spawn(move || {
            let mut dec = Decoder::new(dec_cfg);
            // sFlow datagrams carry no wall time: samples are timed on arrival, and the open
            // flows are summed over the stitch window.
            let mut sdec = SflowDecoder::new(window, max_open);
            let mut recs: Vec<FlowRecord> = Vec::with_capacity(64);
            let mut disp = Dispatch {
                hasher,
                outs: (0..shard_txs.len()).map(|_| Vec::with_capacity(FLOW_BATCH)).collect(),
                txs: shard_txs,
                recycled: brx,
                watermark: Timestamp::default(),
            };
            let publish = |dec: &Decoder, sdec: &SflowDecoder| {
                if let Ok(mut g) = ds.lock() {
                    *g = (dec.stats.clone(), sdec.stats.clone());
                }
            };
            loop {
                // Partial record batches go on only once the datagram queue has stayed empty for
                // `FLUSH_AFTER` (under load batches fill first: fewer wake-ups of the
                // stitchers); the sends block when a stitcher is behind, which backs up into
                // counted drops.
                let next = match drx.try_recv() {
                    Ok(x) => Ok(x),
                    Err(_) => {
                        publish(&dec, &sdec);
                        match drx.recv_timeout(FLUSH_AFTER) {
                            Err(RecvTimeoutError::Timeout) => {
                                // Quiet: sFlow flows idle past the window are done.
                                sdec.tick(wall_now(), &mut recs);
                                for r in recs.drain(..) {
                                    disp.push(r);
                                }
                                if !disp.flush() {
                                    break;
                                }
                                drx.recv_timeout(IDLE_TICK)
                            }
                            other => other,
                        }
                    }
                };
                match next {
                    Ok(mut batch) => {
                        let mut start = 0;
                        let mut gone = false;
                        for &(from, end) in &batch.ends {
                            let dg = batch.bytes.get(start..end).unwrap_or(&[]);
                            if looks_like_sflow(dg) {
                                sdec.decode(wall_now(), dg, &mut recs);
                            } else {
                                dec.decode(from, dg, &mut recs);
                            }
                            start = end;
                            if dec.has_replayed() {
                                recs.append(&mut dec.take_replayed());
                            }
                            for r in recs.drain(..) {
                                gone |= !disp.push(r);
                            }
                            if gone {
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
            recs.append(&mut dec.take_replayed());
            sdec.finish(&mut recs);
            for r in recs.drain(..) {
                disp.push(r);
            }
            disp.flush();
            publish(&dec, &sdec);
        })?;

        let pool = Arc::new(ConnPool::default());
        let mut threads = vec![rx_thread, dec_thread];
        // The pending-flow bound is shared out, so all stitchers together hold at most
        // `max_pending_flows` records.
        let per_shard = cfg.max_pending_flows.div_ceil(shards);
        for (i, frx) in shard_rxs.into_iter().enumerate() {
            let (decoder, window) = (cfg.decoder.clone(), cfg.stitch_window_secs);
            let (c3, ctx, btx, pool) = (counters.clone(), ctx.clone(), btx.clone(), pool.clone());
            let t = std::thread::Builder::new().name(format!("vigil-netflow-stitch{i}")).spawn(move || {
                let opts = ImportOptions { netflow: decoder, ..Default::default() };
                let mut st = Stitcher::with_hasher(window, per_shard, hasher);
                let mut stats = ImportStats::default();
                let mut out = Batcher { tx: ctx, batch: pool.get(), counters: c3, pool };
                loop {
                    // Conn batches go out when full, and once the record queue has stayed empty
                    // for `FLUSH_AFTER`, so the consumer never waits long on a half-filled batch
                    // while the stitcher idles, nor is woken for every few records under load.
                    let next = match frx.try_recv() {
                        Ok(x) => Ok(x),
                        Err(_) if out.batch.is_empty() => frx.recv_timeout(IDLE_TICK),
                        Err(_) => match frx.recv_timeout(FLUSH_AFTER) {
                            Err(RecvTimeoutError::Timeout) => {
                                out.flush();
                                frx.recv_timeout(IDLE_TICK)
                            }
                            other => other,
                        },
                    };
                    match next {
                        Ok(FlowBatch { mut recs, watermark }) => {
                            for (h, r) in recs.drain(..) {
                                st.push_pair(h, r, &mut stats, &mut |a, b| out.push(ConnRec::from_pair(a, b, &opts)));
                            }
                            // Flow time of the whole feed (the other stitchers' records too),
                            // so a stitcher that gets few records still expires on time.
                            st.advance_pair(watermark, &mut stats, &mut |a, b| out.push(ConnRec::from_pair(a, b, &opts)));
                            let _ = btx.try_send(recs);
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            // Idle: release one-sided flows older than the window by the wall
                            // clock, which is the data's clock on a live feed.
                            st.advance_pair(wall_now(), &mut stats, &mut |a, b| out.push(ConnRec::from_pair(a, b, &opts)));
                        }
                        // The decoder has finished (stop requested): flush everything.
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                st.finish_pair(&mut stats, &mut |a, b| out.push(ConnRec::from_pair(a, b, &opts)));
                out.flush();
            })?;
            threads.push(t);
        }
        drop(ctx);

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
            pool,
            threads,
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
            return Some(c.into_conn());
        }
        let mut batch = self.next_batch(timeout)?;
        ready.extend(batch.drain(..));
        self.pool.put(batch);
        ready.pop_front().map(ConnRec::into_conn)
    }

    /// The next batch of connections (at least one), waiting at most `timeout`: cheaper than
    /// [`Collector::recv_timeout`] per record for a consumer that takes everything.
    pub fn recv_batch(&self, timeout: Duration) -> Option<Vec<Conn>> {
        let mut out = Vec::new();
        (self.recv_into(&mut out, timeout) > 0).then_some(out)
    }

    /// Appends the next batch of connections to `out`, waiting at most `timeout`; returns how
    /// many were added (0: none arrived in time). For a consumer that takes everything and
    /// reuses `out`. The `Conn`s are built here, on the caller's thread, which is also the
    /// thread that will free their strings.
    pub fn recv_into(&self, out: &mut Vec<Conn>, timeout: Duration) -> usize {
        if let Ok(mut ready) = self.ready.lock()
            && !ready.is_empty()
        {
            let n = ready.len();
            out.extend(ready.drain(..).map(ConnRec::into_conn));
            return n;
        }
        let Some(mut batch) = self.next_batch(timeout) else { return 0 };
        let n = batch.len();
        out.extend(batch.drain(..).map(ConnRec::into_conn));
        self.pool.put(batch);
        n
    }

    /// A batch from the stitchers, waiting at most `timeout`.
    fn next_batch(&self, timeout: Duration) -> Option<Vec<ConnRec>> {
        match self.conns.try_recv() {
            Ok(b) => Some(b),
            Err(_) if timeout.is_zero() => None,
            Err(_) => self.conns.recv_timeout(timeout).ok(),
        }
    }

    /// Current counters.
    pub fn stats(&self) -> CollectorStats {
        let (d, sf) = self.decoder_stats.lock().map(|g| g.clone()).unwrap_or_default();
        CollectorStats {
            datagrams: self.counters.datagrams.load(Ordering::Relaxed),
            datagrams_dropped: self.counters.dropped.load(Ordering::Relaxed),
            flow_records: d.records + sf.records,
            templates: d.templates,
            template_misses: d.template_misses,
            malformed: d.malformed_packets + d.malformed_sets + d.malformed_templates + sf.malformed,
            conns: self.counters.conns.load(Ordering::Relaxed),
            recv_buffer_bytes: self.recv_buffer,
            recv_buffer_forced: self.recv_buffer_forced,
            kernel_drops: self.counters.kernel_drops.load(Ordering::Relaxed),
            sflow_datagrams: sf.datagrams,
            sflow_samples: sf.flow_samples,
        }
    }

    /// Stops listening, flushes every pending flow, and returns the remaining conns and the
    /// final counters.
    pub fn shutdown(mut self) -> (Vec<Conn>, CollectorStats) {
        self.stop.store(true, Ordering::Relaxed);
        let mut rest: Vec<Conn> = Vec::new();
        if let Ok(mut ready) = self.ready.lock() {
            rest.extend(ready.drain(..).map(ConnRec::into_conn));
        }
        // Drain while the decoder finishes so it never blocks on a full conn queue.
        let threads = std::mem::take(&mut self.threads);
        for t in threads {
            while !t.is_finished() {
                while let Ok(b) = self.conns.try_recv() {
                    rest.extend(b.into_iter().map(ConnRec::into_conn));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = t.join();
        }
        rest.extend(self.conns.try_iter().flatten().map(ConnRec::into_conn));
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
    tx: SyncSender<Vec<ConnRec>>,
    batch: Vec<ConnRec>,
    counters: Arc<Counters>,
    pool: Arc<ConnPool>,
}

impl Batcher {
    fn push(&mut self, c: ConnRec) {
        self.batch.push(c);
        if self.batch.len() >= CONN_BATCH {
            self.flush();
        }
    }
    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let b = std::mem::replace(&mut self.batch, self.pool.get());
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
