//! The `vigil` binary: argument parsing and wiring only; the work happens in the library crates.

mod alloc;
mod cmd;
mod metrics;
mod output;
mod progress;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "Counter-espionage network defence: find beacons, exfiltration, springboards and exposed credentials"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    // One variant per subcommand; each lives in its own module under cmd/.
    /// Offline analysis: read every input, run every detector, print the findings ranked by score.
    Hunt(cmd::hunt::Args),
    /// Simulate a site with an espionage operation in it, hunt it, and show the findings.
    Demo(cmd::demo::Args),
    /// Continuous operation: spool directories and a NetFlow collector, detectors over a sliding window, alerts.
    Watch(cmd::watch::Args),
    /// Zeek-compatible logs (conn, ssl, dns, http, ssh) from captures, into a directory.
    Conn(cmd::conn::Args),
    /// The asset inventory learnt from traffic, merged with the CMDB: list or export (table, JSON, CSV).
    Assets(cmd::assets::Args),
    /// Credential hygiene: find plaintext password tables and admin-tool secrets in files.
    Creds(cmd::creds::Args),
    /// Phishing triage: judge mail (.eml, mbox, Maildir) aimed at administrators and explain each verdict.
    Mail(cmd::mail::Args),
    /// Simulate a site: realistic capture with planted espionage storylines, site file, inventory, ground truth.
    Simulate(cmd::simulate::Args),
    /// Score findings (JSON lines) against a simulation's ground truth: recall per kind, precision.
    Eval(cmd::eval::Args),
    /// Our own exposure as mapping platforms see it: scope-checked scan or nmap/masscan import, CVE/KEV/EPSS patch list.
    Exposure(cmd::exposure::Args),
    /// Web dashboard, REST API and incident reports over the embedded store (127.0.0.1:8080).
    Serve(cmd::serve::Args),
    /// Dashboard accounts (argon2id) and API tokens.
    User(cmd::user::Args),
    /// One finding's self-contained HTML incident report or STIX 2.1 bundle, from the store.
    Report(cmd::report::Args),
    /// Threat hunting in SQL over the connection archive (`conn`) and the findings (`findings`).
    Query(cmd::query::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The commands that run the detectors (a long-lived dashboard hands memory back instead).
    if matches!(cli.command, Command::Hunt(_) | Command::Demo(_) | Command::Watch(_)) {
        alloc::keep_freed_memory();
    }
    let result: anyhow::Result<()> = match cli.command {
        Command::Hunt(a) => cmd::hunt::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Watch(a) => cmd::watch::run(a),
        Command::Conn(a) => cmd::conn::run(a),
        Command::Assets(a) => cmd::assets::run(a),
        Command::Creds(a) => cmd::creds::run(a),
        Command::Mail(a) => cmd::mail::run(a),
        Command::Simulate(a) => cmd::simulate::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Exposure(a) => cmd::exposure::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::User(a) => cmd::user::run(a),
        Command::Report(a) => cmd::report::run(a),
        Command::Query(a) => cmd::query::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => cmd::report_error(&e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn freed_memory_is_kept_unless_the_environment_says_otherwise() {
        crate::alloc::keep_freed_memory();
        // SAFETY: reads an option value.
        let delay = unsafe { libmimalloc_sys::mi_option_get(crate::alloc::MI_OPTION_PURGE_DELAY) };
        match std::env::var("MIMALLOC_PURGE_DELAY") {
            Ok(v) => assert_eq!(delay.to_string(), v.trim()),
            Err(_) => assert_eq!(delay, -1, "the option numbering of the bundled mimalloc changed"),
        }
    }
}
