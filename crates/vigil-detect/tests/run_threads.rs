//! `run_all` splits the detectors over threads: the findings must be exactly those of one
//! thread, whatever the thread count (each group has its own front end and sees every record
//! in order).

#[path = "../benches/common/synth.rs"]
mod synth;

use synth::{Synth, SynthConfig};
use vigil_detect::{all_detectors, run_detectors};
use vigil_enrich::Context;
use vigil_model::{Conn, Finding};

/// The benchmark's site with `n` records of a small site (300 hosts, 2,000 outside addresses),
/// so that the planted storylines reach their thresholds in a short stream.
fn small_stream(n: usize) -> (Context, Vec<Conn>) {
    let ctx = Context::load(synth::site()).expect("bench context");
    let mut cfg = SynthConfig::new(n);
    cfg.hosts = 300;
    cfg.external = 2_000;
    (ctx, Synth::new(cfg).collect())
}

/// Findings as JSON lines, to compare every field.
fn json(findings: &[Finding]) -> Vec<String> {
    findings.iter().map(|f| serde_json::to_string(f).unwrap()).collect()
}

#[test]
fn findings_are_the_same_on_one_thread_and_on_several() {
    let (ctx, conns) = small_stream(40_000);
    let refs: Vec<&Conn> = conns.iter().collect();
    let run = |threads: usize| json(&run_detectors(all_detectors(), &refs, &ctx, threads));
    let one = run(1);
    let kinds: std::collections::BTreeSet<String> = one
        .iter()
        .map(|f| serde_json::from_str::<serde_json::Value>(f).unwrap()["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(kinds.len() >= 4, "the stream should give findings of several detectors: {kinds:?}");
    for threads in [2, 3, 16] {
        assert_eq!(run(threads), one, "{threads} threads");
    }
    assert_eq!(vigil_detect::run_all(&conns, &ctx).len(), one.len());
}

/// `run_stream` (records arriving in chunks, as `vigil hunt` merges a spilled sort) gives the
/// findings of `run_detectors` over the whole slice, for any chunking and thread count; the
/// producer's result comes back beside them.
#[test]
fn a_streamed_pass_finds_what_the_whole_slice_does() {
    let (ctx, conns) = small_stream(30_000);
    let refs: Vec<&Conn> = conns.iter().collect();
    let whole = json(&run_detectors(all_detectors(), &refs, &ctx, 1));
    assert!(whole.len() >= 4, "the stream should give findings: {}", whole.len());
    // Uneven chunks: 1, then 777, then the rest in 4,099s (neither a multiple of the batch).
    for threads in [1, 3] {
        let (found, fed) = vigil_detect::run_stream(all_detectors(), &ctx, threads, |feed| {
            let mut at = 0;
            let mut n = 0;
            for size in std::iter::once(1).chain(std::iter::once(777)).chain(std::iter::repeat(4_099)) {
                if at >= conns.len() {
                    break;
                }
                let end = (at + size).min(conns.len());
                feed(std::sync::Arc::new(conns[at..end].to_vec()));
                n += end - at;
                at = end;
            }
            n
        });
        assert_eq!(fed, conns.len());
        assert_eq!(json(&found), whole, "{threads} thread(s)");
    }
    // Nothing fed: no findings, no hang.
    let (none, ()) = vigil_detect::run_stream(all_detectors(), &ctx, 2, |_| ());
    assert!(none.is_empty());
}
