//! Vigil's exposure view: see the institution as internet mapping platforms see it, and patch
//! what matters first.
//!
//! Flow: a [`scope::Scope`] (checked before any packet) → [`scan`] (TCP connect on worker
//! threads, or a raw-socket [`syn`] scan with CAP_NET_RAW; rate-limited, resumable) → [`probe`]
//! (banners, TLS certificates, HTTP(S) headers and titles via [`https`]) →
//! [`ident`] (own rules + Rapid7 [`recog`] fingerprints → vendor/product/version/CPE) →
//! [`vulndb`] (NVD/CVE5/KEV/EPSS/OSV, CPE range matching) → [`report`] (prioritised patch list and
//! `exposed_service` / `vulnerable_service` findings). [`import`] brings nmap/masscan results and
//! passively seen services into the same [`Service`] shape.

pub mod cpe;
pub mod https;
pub mod ident;
pub mod import;
pub mod probe;
pub mod recog;
pub mod report;
pub mod scan;
pub mod scope;
pub mod syn;
pub mod version;
pub mod vulndb;

pub use ident::Service;
