//! The `vigil` binary: argument parsing and wiring only; the work happens in the library crates.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "vigil", version, about = "Counter-espionage network defence: find beacons, exfiltration, springboards and exposed credentials")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    // One variant per subcommand; each lives in its own module under cmd/.
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {};
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => cmd::report_error(&e),
    }
}
