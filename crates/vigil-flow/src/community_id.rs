//! Community ID v1 lives in `vigil-model` so that every source (this flow table, the NetFlow,
//! Argus and EVE importers) computes it with the same code; re-exported here for callers.

pub use vigil_model::community_id::{community_id_digest, community_id_v1, icmp_ports};
