//! Context for detectors: the site file (internal networks, zones and their criticality, home
//! countries, time zone, work hours, allowlists), GeoIP/ASN, and the asset inventory.
//! Detectors see only [`Context`]; everything here is loaded once and read-only afterwards.

pub mod site;
mod context;

pub use context::{Context, GeoInfo};
pub use site::{Site, SiteError, SiteFile, Zone};
