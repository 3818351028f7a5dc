//! Context for detectors: the site file (internal networks, zones and their criticality, home
//! countries, time zone, work hours, allowlists), GeoIP/ASN, and the asset inventory.
//! Detectors see only [`Context`]; everything here is loaded once and read-only afterwards.

mod context;
pub mod export;
pub mod geo;
pub mod inventory;
pub mod nets;
pub mod rir;
pub mod site;

pub use context::{Context, is_builtin_admin_port};
pub use geo::{Geo, GeoInfo};
pub use inventory::{Asset, CmdbRecord, EdgeHistory, Inventory};
pub use site::{Site, SiteError, SiteFile, Zone};

use std::path::PathBuf;

/// Errors from loading context: databases, tables and the inventory file.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a usable MaxMind DB: {msg}")]
    Mmdb { path: PathBuf, msg: String },
    #[error("range table: {0}")]
    Table(String),
    #[error("inventory {path}: {msg}")]
    Inventory { path: PathBuf, msg: String },
}
