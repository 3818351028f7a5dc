//! `vigil demo`: the main job on a fresh machine in one command. Simulates a week of an
//! enterprise network with an espionage operation in it, hunts the capture with every detector,
//! keeps the findings in the embedded store, prints them ranked, and scores them against the
//! simulator's ground truth.

use crate::cmd::hunt::{self, StoreArgs};
use crate::output::{self, Format};
use anyhow::{Context as _, Result};
use std::path::PathBuf;
use vigil_model::{Finding, Severity};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Scenario seed: hosts, storyline variants and traffic all follow from it.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Days of simulated event time.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Size of the site (1.0 = 200 hosts).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Where the scenario files go (default: a `vigil-demo-SEED` directory in the temp dir).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Output format of the findings (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Show findings of every severity (default: medium and above).
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn run(mut args: Args) -> Result<()> {
    let dir = args.output.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("vigil-demo-{}", args.seed)));
    if args.store.data.is_none() {
        // The demo keeps its own store beside its files, so it never mixes with real data.
        args.store.data = Some(dir.join("data"));
    }
    let format = args.format.unwrap_or_else(Format::default_for_stdout);
    let chatty = format == Format::Table;
    let say = |s: String| {
        if chatty {
            eprintln!("{s}");
        }
    };

    let bar = crate::progress::spinner("simulating");
    bar.set_message(format!("{} days, seed {}", args.days, args.seed));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let cfg = vigil_sim::SimConfig::scaled(args.seed, args.days, args.scale);
    let scenario = vigil_sim::Scenario::generate(&cfg, &dir).with_context(|| format!("simulating into {}", dir.display()))?;
    bar.finish_and_clear();
    say(format!(
        "Simulated {} hosts over {} days: {} packets ({:.1} MB) in {}",
        scenario.truth.hosts,
        args.days,
        scenario.packets,
        scenario.bytes as f64 / 1e6,
        scenario.pcap.display()
    ));

    let ctx = hunt::load_context(Some(&scenario.site_file))?;
    let progress = chatty && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (conns, mut findings, stats) = hunt::read_inputs(std::slice::from_ref(&scenario.pcap), &ctx.site, progress)?;
    say(format!("Hunting {} connection records with every detector…", conns.len()));
    let (ctx, newer) = crate::cmd::restore_history(&args.store, ctx, conns.first().map(|c| c.ts))?;
    findings.extend(vigil_detect::run_all(&conns, &ctx));
    if newer {
        crate::cmd::save_history(&args.store, &ctx, &conns)?;
    }
    Finding::rank(&mut findings);
    let inputs = vec![scenario.pcap.display().to_string()];
    crate::cmd::store_findings(&args.store, "demo", &inputs, &findings, &serde_json::to_value(&stats)?)?;

    let shown: Vec<Finding> =
        if args.all { findings.clone() } else { findings.iter().filter(|f| f.severity >= Severity::Medium).cloned().collect() };
    if chatty {
        eprintln!();
    }
    crate::cmd::emit(&shown, Some(format), None, "Vigil demo")?;
    if chatty {
        let report = vigil_sim::score(&scenario.truth.items, &findings);
        eprintln!("\nAgainst the simulator's ground truth ({}):", scenario.truth_file.display());
        eprint!("{}", report.to_table());
        eprintln!(
            "\nFindings are in the store at {} ({} in all, {} shown at medium or above; --all shows the rest).",
            args.store.dir().display(),
            findings.len(),
            shown.len()
        );
        eprintln!(
            "Next: vigil hunt --site {} {}",
            output::terminal_safe(&scenario.site_file.display().to_string()),
            output::terminal_safe(&scenario.pcap.display().to_string())
        );
    }
    Ok(())
}
