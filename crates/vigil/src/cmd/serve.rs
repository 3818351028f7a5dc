//! `vigil serve`: the web dashboard, REST API and reports over the embedded store.

use crate::cmd::hunt::StoreArgs;
use anyhow::{Context as _, Result};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on (loopback by default; put a TLS certificate in front of anything wider).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Data directory of the embedded store (default: $VIGIL_DATA, else the user's data dir).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// TLS certificate chain (PEM); serves HTTPS with Secure cookies. Needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM). Needs --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let data_dir = StoreArgs { data: args.data.clone(), no_store: false }.dir();
    let cfg = vigil_web::ServeConfig { listen: args.listen, data_dir: data_dir.clone(), tls_cert: args.tls_cert, tls_key: args.tls_key };
    vigil_web::serve(&cfg, |addr, tls| {
        let scheme = if tls { "https" } else { "http" };
        eprintln!("vigil: serving {} on {scheme}://{addr}/ (Ctrl-C to stop)", data_dir.display());
        if !addr.ip().is_loopback() && !tls {
            eprintln!("vigil: warning: listening beyond loopback without TLS; passwords and sessions cross the network in clear");
        }
    })
    .with_context(|| format!("serving {}", cfg.data_dir.display()))
}
