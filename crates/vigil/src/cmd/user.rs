//! `vigil user`: dashboard accounts and API tokens. Passwords never go on the command line
//! (where `ps` and shell history would show them): they are read from standard input.

use crate::cmd::hunt::StoreArgs;
use anyhow::{Context as _, Result, bail};
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
    /// Data directory of the embedded store (default: $VIGIL_DATA, else the user's data dir).
    #[arg(long, global = true)]
    pub data: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Create an account, or reset its role and password (its sessions end).
    Add {
        name: String,
        /// viewer (read), analyst (also triage), admin (also the audit log).
        #[arg(long, value_parser = ["viewer", "analyst", "admin"])]
        role: String,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Issue a new API token for an account; it is printed once and only its hash is kept.
    Token {
        name: String,
        /// A label to recognise the token by (e.g. the script that uses it).
        #[arg(long, default_value = "cli")]
        label: String,
    },
    /// List accounts.
    List,
    /// Disable an account: its sessions and API tokens stop working.
    Disable { name: String },
}

fn read_password(from_stdin: bool) -> Result<String> {
    let stdin = std::io::stdin();
    let interactive = !from_stdin && stdin.is_terminal();
    if interactive {
        eprint!("Password: ");
        std::io::stderr().flush()?;
        // Echo off while typing, where a terminal allows it.
        let _ = std::process::Command::new("stty").arg("-echo").stdin(std::process::Stdio::inherit()).status();
    }
    let mut line = String::new();
    let r = stdin.lock().read_line(&mut line);
    if interactive {
        let _ = std::process::Command::new("stty").arg("echo").stdin(std::process::Stdio::inherit()).status();
        eprintln!();
    }
    r.context("reading the password")?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    if pw.chars().count() < 8 {
        bail!("the password must have at least 8 characters");
    }
    if pw.len() > 1024 {
        bail!("the password is longer than 1024 bytes");
    }
    Ok(pw)
}

pub fn run(args: Args) -> Result<()> {
    let dir = StoreArgs { data: args.data.clone(), no_store: false }.dir();
    match args.action {
        Action::Add { name, role, password_stdin } => {
            if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
                bail!("the user name must be 1-128 printable characters");
            }
            let pw = read_password(password_stdin)?;
            if !vigil_web::add_user(&dir, &name, &role, &pw)? {
                bail!("unknown role {role}");
            }
            eprintln!("vigil: user {} is {role} in {}", crate::output::terminal_safe(&name), dir.display());
        }
        Action::Token { name, label } => match vigil_web::issue_token(&dir, &name, &label)? {
            Some(t) => println!("{t}"),
            None => bail!("no user named {}", crate::output::terminal_safe(&name)),
        },
        Action::List => {
            let s = vigil_store::Store::open(&dir)?;
            for u in s.users()? {
                println!("{}\t{}\t{}", crate::output::terminal_safe(&u.name), u.role, if u.disabled { "disabled" } else { "active" });
            }
        }
        Action::Disable { name } => {
            let mut s = vigil_store::Store::open(&dir)?;
            if !s.disable_user(&name)? {
                bail!("no user named {}", crate::output::terminal_safe(&name));
            }
            s.audit("cli", "user.disable", &name, "")?;
        }
    }
    Ok(())
}
