//! `vigil query "SQL"`: threat hunting in SQL over the connection archive (table `conn`) and the
//! stored findings (table `findings`) of a data directory; see `docs/QUERY.md`.

use crate::output;
use anyhow::{Context as _, Result};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum QueryFormat {
    Table,
    Csv,
    Json,
    Jsonl,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The SQL query (tables `conn` and `findings`; `SHOW TABLES`, `DESCRIBE conn` list them).
    pub sql: String,
    /// Site file (TOML): the site for `country()`, `is_internal()`, `is_foreign()`, `local_hour()`.
    #[arg(long)]
    pub site: Option<PathBuf>,
    /// Output format (default: table on a terminal, jsonl otherwise). jsonl and json write one
    /// object per result row.
    #[arg(long, value_enum)]
    pub format: Option<QueryFormat>,
    /// Write the result to this file instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Data directory (default: $VIGIL_DATA, else the user's data dir).
    #[arg(long)]
    pub data: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let ctx = crate::cmd::hunt::load_context(args.site.as_deref())?;
    let dir = crate::cmd::hunt::StoreArgs { data: args.data.clone(), no_store: false }.dir();
    let hunt = vigil_query::Hunt::open(&dir, Arc::new(ctx)).with_context(|| format!("opening the data directory {}", dir.display()))?;
    let result = hunt.sql(&args.sql)?;
    let write = |out: &mut dyn Write, fmt: QueryFormat| -> std::io::Result<()> {
        match fmt {
            QueryFormat::Table => vigil_query::render::write_table(out, &result, &output::terminal_safe),
            QueryFormat::Csv => vigil_query::render::write_csv(out, &result),
            QueryFormat::Json => vigil_query::render::write_json(out, &result),
            QueryFormat::Jsonl => vigil_query::render::write_jsonl(out, &result),
        }
    };
    match &args.output {
        Some(p) => {
            let fmt = args.format.unwrap_or(QueryFormat::Jsonl);
            let mut f = std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?);
            write(&mut f, fmt).and_then(|_| f.flush()).with_context(|| format!("writing {}", p.display()))
        }
        None => {
            let fmt = args.format.unwrap_or(if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                QueryFormat::Table
            } else {
                QueryFormat::Jsonl
            });
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            write(&mut lock, fmt)?;
            Ok(lock.flush()?)
        }
    }
}
