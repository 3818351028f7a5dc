//! Subcommands, one module each.

use std::process::ExitCode;

/// Exit code 2 with a one-line reason, as the contract asks for unusable arguments or unreadable
/// input. A closed stdout (`vigil … | head`) is not an error.
pub fn report_error(e: &anyhow::Error) -> ExitCode {
    if e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)) {
        return ExitCode::SUCCESS;
    }
    eprintln!("vigil: {e:#}");
    ExitCode::from(2)
}
