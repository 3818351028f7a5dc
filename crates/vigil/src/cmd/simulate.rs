//! `vigil simulate`: write a simulated site (site file, inventory, capture, ground truth).

use anyhow::{Context as _, Result};
use chrono::NaiveDate;
use std::io::Write as _;
use std::path::PathBuf;
use vigil_sim::{Scenario, SimConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Seed: the same seed always gives byte-identical output.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Days of event time in the capture.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Size relative to the default site (1.0 = 200 hosts).
    #[arg(long, default_value_t = 1.0, conflicts_with = "hosts")]
    pub scale: f64,
    /// Number of internal hosts (instead of --scale).
    #[arg(long)]
    pub hosts: Option<usize>,
    /// First day of the capture (YYYY-MM-DD, local midnight in Asia/Shanghai).
    #[arg(long)]
    pub start: Option<NaiveDate>,
    /// Directory to write site.toml, assets.csv, truth.json and capture.pcap into.
    #[arg(long, short, default_value = "vigil-simulation")]
    pub output: PathBuf,
    /// Summary format on standard output: table or json.
    #[arg(long, default_value = "table")]
    pub format: String,
}

pub fn run(a: Args) -> Result<()> {
    if !(a.scale.is_finite() && a.scale > 0.0) {
        anyhow::bail!("--scale must be a positive number, not {}", a.scale);
    }
    if a.days == 0 || a.days > 366 {
        anyhow::bail!("--days must be between 1 and 366, not {}", a.days);
    }
    if !matches!(a.format.as_str(), "table" | "json") {
        anyhow::bail!("--format must be table or json, not {:?}", a.format);
    }
    let mut cfg = SimConfig::scaled(a.seed, a.days, a.scale);
    if let Some(h) = a.hosts {
        cfg.hosts = h;
    }
    if let Some(s) = a.start {
        cfg.start = s;
    }
    let s = Scenario::generate(&cfg, &a.output).with_context(|| format!("simulating into {}", a.output.display()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if a.format == "json" {
        let v = serde_json::json!({
            "site": s.site_file, "assets": s.assets_file, "truth": s.truth_file, "pcap": s.pcap,
            "packets": s.packets, "bytes": s.bytes, "hosts": s.truth.hosts, "items": s.truth.items,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "simulated {} hosts over {} days (seed {}): {} packets, {:.1} MB",
        s.truth.hosts,
        s.truth.days,
        s.truth.seed,
        s.packets,
        s.bytes as f64 / 1e6
    )?;
    for (what, p) in [("capture", &s.pcap), ("site", &s.site_file), ("inventory", &s.assets_file), ("truth", &s.truth_file)] {
        writeln!(out, "  {what:<10} {}", p.display())?;
    }
    writeln!(out, "\nplanted storylines:")?;
    for t in &s.truth.items {
        writeln!(out, "  {:<22} {:<16} {}  {}", t.kind.as_str(), t.key_host, t.first_seen.format("%m-%d %H:%M"), t.description)?;
    }
    Ok(())
}
