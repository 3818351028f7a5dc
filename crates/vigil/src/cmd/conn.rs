//! `vigil conn [--json] [--output DIR] INPUT...`: captures in, Zeek-compatible conn/ssl/dns/
//! http/ssh logs out. Counters go to stderr at the end; a progress bar is drawn only when
//! stderr is a terminal.

use anyhow::{Context as _, Result, bail};
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Instant;
use vigil_flow::zeeklog::{ConnLogs, Format};
use vigil_flow::{Engine, EngineConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Write JSON lines (Zeek's JSON format) instead of TSV.
    #[arg(long)]
    pub json: bool,
    /// Directory the logs are written into (created if missing).
    #[arg(long, short = 'o', value_name = "DIR", default_value = ".")]
    pub output: PathBuf,
    /// Most flows held in memory at once (older idle flows are evicted and still logged).
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub max_flows: usize,
    /// pcap/pcapng files (gzip/zstd too) or directories of them.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    for input in &args.inputs {
        if !input.exists() {
            bail!("{}: no such file or directory", input.display());
        }
        if input.is_dir() && vigil_capture::capture_files(input).map(|f| f.is_empty()).unwrap_or(false) {
            bail!("{}: no pcap or pcapng files in this directory", input.display());
        }
    }
    let format = if args.json { Format::Json } else { Format::Tsv };
    let mut logs = ConnLogs::create(&args.output, format).with_context(|| format!("cannot write logs to {}", args.output.display()))?;
    let mut engine = Engine::new(EngineConfig::default().max_flows(args.max_flows));
    let bar = std::io::stderr().is_terminal().then(progress_bar);
    if let Some(bar) = bar.clone() {
        let started = Instant::now();
        engine.set_progress(Box::new(move |p: &vigil_flow::Progress| {
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{} | {} packets | {} flows open | {} conns | {:.0} pkt/s",
                p.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                p.packets,
                p.active_flows,
                p.conns,
                p.packets as f64 / secs
            ));
            bar.set_position(p.bytes);
        }));
    }
    let mut write_err: Option<std::io::Error> = None;
    let mut sink = |c: vigil_model::Conn| {
        if write_err.is_none()
            && let Err(e) = logs.write(&c)
        {
            write_err = Some(e);
        }
    };
    for input in &args.inputs {
        // The engine's errors already name the file.
        engine.ingest_path(input, &mut sink)?;
    }
    let stats = engine.finish(&mut sink);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(e) = write_err {
        return Err(e).with_context(|| format!("writing logs to {}", args.output.display()));
    }
    let files = logs.finish().with_context(|| format!("writing logs to {}", args.output.display()))?;
    eprintln!("{stats}");
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    eprintln!("wrote {}", if names.is_empty() { "no logs (no connections)".to_string() } else { names.join(", ") });
    Ok(())
}

fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    let style = indicatif::ProgressStyle::with_template("{spinner} {binary_bytes} read ({binary_bytes_per_sec}) {msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
