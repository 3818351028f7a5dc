//! Detectors. Each consumes the [`Conn`] stream plus the read-only [`Context`] and reports
//! [`Finding`]s that explain themselves (figures in `evidence`, a plain `summary`, ATT&CK ids).
//! State is kept per internal host, so the work partitions by host.

pub mod beacon;
pub mod dns_tunnel;
pub mod dormant;
pub mod exfil;
pub mod foreign_admin;
pub mod front;
pub mod graph;
pub mod ioc;
pub mod lateral;
pub mod long_conn;
pub mod prevalence;
pub mod scan;
pub mod springboard;
pub mod unmanaged;
pub mod util;

use vigil_enrich::Context;
use vigil_model::{Conn, Finding};

/// One detector. `observe` sees every record once, in any order within a window; `finish`
/// reports what the window showed.
pub trait Detector: Send {
    fn name(&self) -> &'static str;
    fn observe(&mut self, conn: &Conn, ctx: &Context);
    /// `observe` with the shared per-record answers of a [`front::FrontEnd`]: how
    /// [`run_all`] feeds the detectors, so that each record is judged against the site once,
    /// not once per detector. Every detector is fed by one front end (host ids are its own).
    fn observe_rec(&mut self, rec: &front::Rec<'_>) {
        self.observe(rec.conn, rec.ctx);
    }
    /// [`Detector::observe_rec`] over a batch of records, in order. A detector whose state is
    /// too large for the caches overrides it to start loading the state of records a few
    /// ahead ([`util::prefetch`]) while it works on the current one.
    fn observe_recs(&mut self, recs: &[front::Rec<'_>]) {
        for r in recs {
            self.observe_rec(r);
        }
    }
    fn finish(&mut self, ctx: &Context) -> Vec<Finding>;
}

/// Every detector with its default settings.
pub fn all_detectors() -> Vec<Box<dyn Detector>> {
    let mut v: Vec<Box<dyn Detector>> = Vec::new();
    v.extend(espionage_detectors(&util::Tuning::default(), None));
    v.extend(movement_detectors());
    v
}

/// The movement detectors (springboard chains, lateral movement, dormant and unmanaged
/// devices) with their default settings.
pub fn movement_detectors() -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(springboard::SpringboardDetector::default()),
        Box::new(lateral::LateralDetector::default()),
        Box::new(dormant::DormantDetector::default()),
        Box::new(unmanaged::UnmanagedDetector::default()),
    ]
}

/// The espionage detectors (beacon, exfiltration, rotating destinations, long connection, DNS
/// tunnel, inbound scan, foreign admin access, and IOC matching when a set is given) with the
/// site's noise-control settings.
pub fn espionage_detectors(tuning: &util::Tuning, iocs: Option<std::sync::Arc<ioc::IocSet>>) -> Vec<Box<dyn Detector>> {
    let t = || tuning.clone();
    let mut v: Vec<Box<dyn Detector>> = vec![
        Box::new(beacon::BeaconDetector::new(beacon::BeaconConfig::default(), t())),
        // Exfiltration and rotating destinations judge the same uploads: one pass, both kinds.
        Box::new(exfil::ExfilDetector::with_rotation(exfil::ExfilConfig::default(), t())),
        Box::new(long_conn::LongConnDetector::new(long_conn::LongConnConfig::default(), t())),
        Box::new(dns_tunnel::DnsTunnelDetector::new(dns_tunnel::DnsTunnelConfig::default(), t())),
        Box::new(dns_tunnel::flow::DnsFlowDetector::new(dns_tunnel::flow::DnsFlowConfig::default(), t())),
        Box::new(scan::ScanDetector::new(scan::ScanConfig::default(), t())),
        Box::new(foreign_admin::ForeignAdminDetector::new(foreign_admin::ForeignAdminConfig::default(), t())),
    ];
    if let Some(set) = iocs {
        v.push(Box::new(ioc::IocDetector::new(set, t())));
    }
    v
}

/// Runs every detector over `conns` and returns the findings ranked by score. The detectors
/// run in groups on up to [`MAX_THREADS`] threads (as many as the machine has cores): each
/// group has its own front end and sees every record in order, so the findings are those of
/// one thread ([`run_detectors`] with `threads = 1`), only sooner.
pub fn run_all<'a>(conns: impl IntoIterator<Item = &'a Conn>, ctx: &Context) -> Vec<Finding> {
    let conns: Vec<&Conn> = conns.into_iter().collect();
    run_detectors(all_detectors(), &conns, ctx, default_threads())
}

/// Threads [`run_all`] uses: the machine's cores (as the process may use them), at most
/// [`MAX_THREADS`].
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_THREADS)
}

/// Most threads [`run_all`] uses. Every thread repeats the front end's work (about a fifth of
/// the pass) and holds its own id tables, so beyond a few the gain shrinks while memory grows.
pub const MAX_THREADS: usize = 4;

/// Relative cost of a detector's pass, for splitting detectors into groups of about equal
/// work: observe and finish over 3 M records of the `detect_scale` stream, in hundredths of a
/// CPU second (PERFORMANCE.md, "Detectors"). Only the split depends on it, never a finding.
fn cost(name: &str) -> u32 {
    match name {
        "beacon" => 275,
        "exfiltration" => 290,
        "dns_tunnel" => 95,
        "springboard" => 68,
        "unmanaged_device" => 58,
        "lateral_movement" => 49,
        "inbound_scan" => 43,
        "dormant_device" => 27,
        "dns_flow" => 19,
        _ => 10,
    }
}

/// Runs `dets` over `conns` on up to `threads` threads (groups of detectors of about equal
/// cost, each group with its own front end, every detector seeing every record in order) and
/// returns their findings ranked by score: the same findings for any thread count.
pub fn run_detectors(dets: Vec<Box<dyn Detector>>, conns: &[&Conn], ctx: &Context, threads: usize) -> Vec<Finding> {
    run_groups::<&[&Conn], ()>(dets, ctx, threads, |feed| feed(conns)).0
}

/// A detector group: its summed cost and its detectors with their positions in the list given.
type Group = (u32, Vec<(usize, Box<dyn Detector>)>);

/// Splits `dets` into at most `threads` groups of about equal cost: longest first onto the
/// least loaded group, ties by position, so the split is fixed.
fn split_groups(dets: Vec<Box<dyn Detector>>, threads: usize) -> Vec<Group> {
    let mut order: Vec<(usize, Box<dyn Detector>)> = dets.into_iter().enumerate().collect();
    order.sort_by_key(|(i, d)| (std::cmp::Reverse(cost(d.name())), *i));
    let n = threads.clamp(1, order.len().max(1));
    let mut groups: Vec<Group> = (0..n).map(|_| (0, Vec::new())).collect();
    for (i, d) in order {
        if let Some(g) = groups.iter_mut().min_by_key(|g| g.0) {
            g.0 += cost(d.name());
            g.1.push((i, d));
        }
    }
    groups
}

/// Records handed to a streamed pass ([`run_stream`]) at once, shared by every detector group.
pub type Chunk = std::sync::Arc<Vec<Conn>>;

/// Chunks a streamed pass lets wait for each detector group: the producer (reading and
/// merging the input) stays ahead of the detectors without holding more than a few chunks.
const STREAM_QUEUE: usize = 2;

/// [`run_detectors`] over records that arrive in chunks instead of one slice, so a pass over
/// more records than fit in memory holds only a few chunks at a time. `produce` is called once
/// with a `feed` function and hands it the chunks in order (the records in the order
/// `run_detectors` would see them); its result is returned beside the ranked findings, which
/// are those of `run_detectors` over the concatenated chunks, for any thread count and any
/// chunk sizes. With more than one group each group runs on its own thread and `produce` on
/// the caller's, overlapping the reading with the detectors.
pub fn run_stream<R>(
    dets: Vec<Box<dyn Detector>>,
    ctx: &Context,
    threads: usize,
    produce: impl FnOnce(&mut dyn FnMut(Chunk)) -> R,
) -> (Vec<Finding>, R) {
    run_groups(dets, ctx, threads, produce)
}

/// What the detector groups are fed: a borrowed slice of records, or a shared chunk.
trait Records: Clone + Send {
    /// Hands the records to `f` in order, [`BATCH`] at a time.
    fn batches(&self, f: &mut dyn FnMut(&[&Conn]));
}

impl Records for &[&Conn] {
    fn batches(&self, f: &mut dyn FnMut(&[&Conn])) {
        for b in self.chunks(BATCH) {
            f(b);
        }
    }
}

impl Records for Chunk {
    fn batches(&self, f: &mut dyn FnMut(&[&Conn])) {
        let mut refs: Vec<&Conn> = Vec::with_capacity(BATCH);
        for b in self.chunks(BATCH) {
            refs.clear();
            refs.extend(b.iter());
            f(&refs);
        }
    }
}

/// The pass behind [`run_detectors`] and [`run_stream`]: groups of detectors of about equal
/// cost, each with its own front end and seeing every record in order (one group inline, more
/// on threads fed through bounded channels while `produce` runs on the caller's thread), and
/// their findings ranked: the same findings for any thread count.
fn run_groups<C: Records, R>(
    dets: Vec<Box<dyn Detector>>,
    ctx: &Context,
    threads: usize,
    produce: impl FnOnce(&mut dyn FnMut(C)) -> R,
) -> (Vec<Finding>, R) {
    let groups = split_groups(dets, threads);
    let observe = |dets: &mut [Box<dyn Detector>], fe: &mut front::FrontEnd, recs: &C| {
        recs.batches(&mut |batch| observe_batch(dets, fe, batch, ctx));
    };
    let finish = |idx: Vec<usize>, mut dets: Vec<Box<dyn Detector>>| -> Vec<(usize, Vec<Finding>)> {
        idx.into_iter().zip(dets.iter_mut().map(|d| d.finish(ctx))).collect()
    };
    if groups.len() == 1 {
        let Some((_, group)) = groups.into_iter().next() else { return (Vec::new(), produce(&mut |_| {})) };
        let (idx, mut dets): (Vec<usize>, Vec<Box<dyn Detector>>) = group.into_iter().unzip();
        let mut fe = front::FrontEnd::new();
        let r = produce(&mut |recs: C| observe(&mut dets, &mut fe, &recs));
        return (merge_ranked(finish(idx, dets)), r);
    }
    std::thread::scope(|s| {
        let mut senders = Vec::with_capacity(groups.len());
        let mut handles = Vec::with_capacity(groups.len());
        for (_, group) in groups {
            let (tx, rx) = std::sync::mpsc::sync_channel::<C>(STREAM_QUEUE);
            senders.push(tx);
            let (observe, finish) = (&observe, &finish);
            handles.push(s.spawn(move || {
                let (idx, mut dets): (Vec<usize>, Vec<Box<dyn Detector>>) = group.into_iter().unzip();
                let mut fe = front::FrontEnd::new();
                while let Ok(recs) = rx.recv() {
                    observe(&mut dets, &mut fe, &recs);
                }
                finish(idx, dets)
            }));
        }
        // A group whose thread ended (a detector panicked) no longer receives; its join below
        // ends the pass as it would on one thread.
        let r = produce(&mut |recs: C| {
            for tx in &senders {
                let _ = tx.send(recs.clone());
            }
        });
        drop(senders);
        let per: Vec<(usize, Vec<Finding>)> =
            handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect();
        (merge_ranked(per), r)
    })
}

/// The groups' findings in detector order, ranked.
fn merge_ranked(mut per: Vec<(usize, Vec<Finding>)>) -> Vec<Finding> {
    per.sort_by_key(|(i, _)| *i);
    let mut out: Vec<Finding> = per.into_iter().flat_map(|(_, f)| f).collect();
    Finding::rank(&mut out);
    out
}

/// Records per [`observe_batch`] call in [`run_all`]: the batch's answers stay in cache while
/// every detector goes over them.
pub const BATCH: usize = 512;

/// Feeds one record to every detector: the front end answers the per-record questions once,
/// then each detector sees the answers.
pub fn observe_all(dets: &mut [Box<dyn Detector>], fe: &mut front::FrontEnd, c: &Conn, ctx: &Context) {
    let rec = fe.rec(c, ctx);
    for d in dets.iter_mut() {
        d.observe_rec(&rec);
    }
}

/// [`observe_all`] over a batch of records, detector by detector: each detector then runs its
/// own code and state over many records in a row instead of all eleven taking turns per
/// record, which evicted each other's code and state from the caches (a few per cent of CPU).
/// Every detector still sees the records in order, so the findings are the same.
pub fn observe_batch(dets: &mut [Box<dyn Detector>], fe: &mut front::FrontEnd, conns: &[&Conn], ctx: &Context) {
    let mut recs: Vec<front::Rec<'_>> = Vec::with_capacity(conns.len());
    fe.recs(conns, ctx, &mut recs);
    for d in dets.iter_mut() {
        d.observe_recs(&recs);
    }
}
