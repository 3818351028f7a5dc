//! Detectors. Each consumes the [`Conn`] stream plus the read-only [`Context`] and reports
//! [`Finding`]s that explain themselves (figures in `evidence`, a plain `summary`, ATT&CK ids).
//! State is kept per internal host, so the work partitions by host.

use vigil_enrich::Context;
use vigil_model::{Conn, Finding};

/// One detector. `observe` sees every record once, in any order within a window; `finish`
/// reports what the window showed.
pub trait Detector: Send {
    fn name(&self) -> &'static str;
    fn observe(&mut self, conn: &Conn, ctx: &Context);
    fn finish(&mut self, ctx: &Context) -> Vec<Finding>;
}

/// Every detector with its default settings.
pub fn all_detectors() -> Vec<Box<dyn Detector>> {
    Vec::new()
}

/// Runs every detector over `conns` and returns the findings ranked by score.
pub fn run_all<'a>(conns: impl IntoIterator<Item = &'a Conn>, ctx: &Context) -> Vec<Finding> {
    let mut dets = all_detectors();
    for c in conns {
        for d in dets.iter_mut() {
            d.observe(c, ctx);
        }
    }
    let mut out: Vec<Finding> = dets.iter_mut().flat_map(|d| d.finish(ctx)).collect();
    Finding::rank(&mut out);
    out
}
