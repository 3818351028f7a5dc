//! Progress bars on a terminal (stderr), none when piped: bytes, packets, flows and rate while
//! the engine reads captures.

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use std::time::Instant;

/// Draws the engine's progress on stderr.
pub fn attach(engine: &mut vigil_flow::Engine) {
    let bar = spinner("reading");
    let start = Instant::now();
    engine.set_progress(Box::new(move |p: &vigil_flow::engine::Progress| {
        let secs = start.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(format!(
            "{} read, {} packets, {} active flows, {} connections, {:.1} Gbit/s  {}",
            HumanBytes(p.bytes),
            p.packets,
            p.active_flows,
            p.conns,
            p.bytes as f64 * 8.0 / secs / 1e9,
            crate::output::terminal_safe(&p.file.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default()),
        ));
        bar.tick();
    }));
}

/// A spinner with a message, hidden unless stderr is a terminal.
pub fn spinner(prefix: &'static str) -> ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} [{elapsed_precise}] {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_prefix(prefix);
    bar
}
