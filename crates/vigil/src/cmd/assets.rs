//! `vigil assets`: the asset inventory. Reads the inputs like `hunt` (captures, Zeek logs, EVE,
//! flows), learns every internal host passively (addresses, MACs, names from DNS/TLS/HTTP,
//! services, OS and device hints, first/last seen, active hours), merges the site's CMDB export,
//! and lists or exports the result as a table, JSON or CSV (spreadsheet-safe).

use anyhow::{Context as _, Result};
use std::io::Write;
use std::path::PathBuf;
use vigil_enrich::export::{asset_rows, write_csv, write_table};
use vigil_enrich::{Context, Site};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AssetFormat {
    Table,
    Json,
    Csv,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Site file (TOML): internal networks, zones, the CMDB export under [inventory].
    #[arg(long)]
    pub site: Option<PathBuf>,
    /// Output format (default: table).
    #[arg(long, value_enum)]
    pub format: Option<AssetFormat>,
    /// Write here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Only assets seen in the traffic (leave out CMDB entries never observed).
    #[arg(long)]
    pub observed_only: bool,
    /// Captures, Zeek logs, Suricata EVE, NetFlow/IPFIX files, or directories of them. With
    /// none, the CMDB alone is listed.
    pub inputs: Vec<PathBuf>,
}

pub fn run(a: Args) -> Result<()> {
    let site = match &a.site {
        Some(p) => Site::load(p)?,
        None => Site::default(),
    };
    let ctx = Context::load(site).context("loading the site's databases and inventory")?;
    let mut inv = ctx.inventory.clone();
    if !a.inputs.is_empty() {
        let (conns, _findings, _stats) = super::hunt::read_inputs(&a.inputs, &ctx.site, false)?;
        for c in &conns {
            inv.observe(c);
        }
    }
    let mut rows = asset_rows(&inv, &ctx);
    if a.observed_only {
        rows.retain(|r| r.observed);
    }
    let fmt = a.format.unwrap_or(AssetFormat::Table);
    let write = |w: &mut dyn Write| -> std::io::Result<()> {
        match fmt {
            AssetFormat::Table => write_table(&mut *w, &rows),
            AssetFormat::Csv => write_csv(&mut *w, &rows),
            AssetFormat::Json => {
                serde_json::to_writer_pretty(&mut *w, &rows).map_err(std::io::Error::other)?;
                writeln!(w)
            }
        }
    };
    match &a.output {
        Some(p) => {
            let mut f = std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?);
            write(&mut f).with_context(|| format!("writing {}", p.display()))?;
            f.flush()?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            write(&mut lock)?;
            lock.flush()?;
        }
    }
    if inv.dropped > 0 {
        eprintln!("vigil: inventory full: {} observations of further hosts dropped", inv.dropped);
    }
    if ctx.inventory_bad_rows > 0 {
        eprintln!("vigil: {} CMDB rows had unusable fields (address or date)", ctx.inventory_bad_rows);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdb_only_export_is_spreadsheet_safe_and_json_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("assets.csv"),
            "ip,name,owner,environment,decommission,privileged\n10.1.2.3,=cmd|' /C calc'!A0,@ops,test,2024-01-31,yes\n",
        )
        .unwrap();
        let site = dir.path().join("site.toml");
        std::fs::write(&site, "[inventory]\nfile = \"assets.csv\"\n").unwrap();
        let out = dir.path().join("out.csv");
        run(Args {
            site: Some(site.clone()),
            format: Some(AssetFormat::Csv),
            output: Some(out.clone()),
            observed_only: false,
            inputs: vec![],
        })
        .unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let row = text.lines().nth(1).unwrap();
        assert!(row.starts_with("10.1.2.3,'=cmd|"), "name cell defused: {row}");
        assert!(row.contains(",'@ops,,test,2024-01-31,"), "owner cell defused (role empty): {row}");
        assert!(!text.lines().any(|l| l.starts_with('=') || l.contains(",=") || l.contains(",@")), "{text}");
        let js = dir.path().join("out.json");
        run(Args { site: Some(site), format: Some(AssetFormat::Json), output: Some(js.clone()), observed_only: false, inputs: vec![] })
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(js).unwrap()).unwrap();
        assert_eq!(v[0]["environment"], "test");
        assert_eq!(v[0]["privileged"], true);
        assert_eq!(v[0]["observed"], false);
    }
}
