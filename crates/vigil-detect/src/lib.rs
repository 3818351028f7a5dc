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
        Box::new(exfil::ExfilDetector::new(exfil::ExfilConfig::default(), t())),
        Box::new(exfil::RotatingDetector::new(exfil::ExfilConfig::default(), t())),
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

/// Runs every detector over `conns` and returns the findings ranked by score.
pub fn run_all<'a>(conns: impl IntoIterator<Item = &'a Conn>, ctx: &Context) -> Vec<Finding> {
    let mut dets = all_detectors();
    let mut fe = front::FrontEnd::new();
    let mut batch: Vec<&Conn> = Vec::with_capacity(BATCH);
    for c in conns {
        batch.push(c);
        if batch.len() == BATCH {
            observe_batch(&mut dets, &mut fe, &batch, ctx);
            batch.clear();
        }
    }
    observe_batch(&mut dets, &mut fe, &batch, ctx);
    let mut out: Vec<Finding> = dets.iter_mut().flat_map(|d| d.finish(ctx)).collect();
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
    let recs: Vec<front::Rec<'_>> = conns.iter().map(|c| fe.rec(c, ctx)).collect();
    for d in dets.iter_mut() {
        for r in &recs {
            d.observe_rec(r);
        }
    }
}
