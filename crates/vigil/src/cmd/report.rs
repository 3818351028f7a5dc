//! `vigil report`: one finding's incident report (self-contained HTML) or STIX 2.1 bundle,
//! straight from the store, for sharing without running the server.

use crate::cmd::hunt::StoreArgs;
use anyhow::{Context as _, Result, bail};
use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Html,
    Stix,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Id of the finding (as in `--format jsonl` output and the dashboard).
    #[arg(long)]
    pub finding: String,
    #[arg(long, value_enum, default_value = "html")]
    pub format: ReportFormat,
    /// Data directory of the embedded store (default: $VIGIL_DATA, else the user's data dir).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Write here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let dir = StoreArgs { data: args.data.clone(), no_store: false }.dir();
    let s = vigil_store::Store::open(&dir).with_context(|| format!("opening the store in {}", dir.display()))?;
    let text = match args.format {
        ReportFormat::Html => vigil_web::report::report_for(&s, &args.finding, "vigil report")?,
        ReportFormat::Stix => vigil_web::report::stix_for(&s, &args.finding)?,
    };
    let Some(text) = text else { bail!("no finding {} in {}", crate::output::terminal_safe(&args.finding), dir.display()) };
    match args.output {
        Some(p) => std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?,
        None => {
            use std::io::Write as _;
            std::io::stdout().lock().write_all(text.as_bytes())?;
        }
    }
    Ok(())
}
