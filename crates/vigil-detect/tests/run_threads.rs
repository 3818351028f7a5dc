//! `run_all` splits the detectors over threads: the findings must be exactly those of one
//! thread, whatever the thread count (each group has its own front end and sees every record
//! in order).

#[path = "../benches/common/synth.rs"]
mod synth;

use synth::{Synth, SynthConfig};
use vigil_detect::{all_detectors, run_detectors};
use vigil_enrich::Context;
use vigil_model::Conn;

#[test]
fn findings_are_the_same_on_one_thread_and_on_several() {
    let ctx = Context::load(synth::site()).expect("bench context");
    // A small site so that the planted storylines reach their thresholds in a short stream.
    let mut cfg = SynthConfig::new(40_000);
    cfg.hosts = 300;
    cfg.external = 2_000;
    let conns: Vec<Conn> = Synth::new(cfg).collect();
    let refs: Vec<&Conn> = conns.iter().collect();
    let json = |threads: usize| -> Vec<String> {
        run_detectors(all_detectors(), &refs, &ctx, threads).iter().map(|f| serde_json::to_string(f).unwrap()).collect()
    };
    let one = json(1);
    let kinds: std::collections::BTreeSet<String> =
        one.iter().map(|f| serde_json::from_str::<serde_json::Value>(f).unwrap()["kind"].as_str().unwrap_or_default().to_string()).collect();
    assert!(kinds.len() >= 4, "the stream should give findings of several detectors: {kinds:?}");
    for threads in [2, 3, 16] {
        assert_eq!(json(threads), one, "{threads} threads");
    }
    assert_eq!(vigil_detect::run_all(&conns, &ctx).len(), one.len());
}
