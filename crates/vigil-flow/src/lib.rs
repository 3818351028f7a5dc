//! The traffic engine's core: packets in, Zeek-compatible connection records out.
//!
//! Decoded packets ([`FlowPacket`], or `vigil_capture::Packet` through [`Engine`]) are looked up
//! in a bounded [`FlowTable`] keyed by the canonical 5-tuple. Each TCP connection runs Zeek's
//! endpoint state machine ([`tcp`]), which yields `conn_state`, `history`, sequence-based byte
//! counts and content gaps; UDP/ICMP follow Zeek's simpler rules. The first bytes of every
//! connection are reassembled and fed to `vigil_proto::AppSession` for application metadata.
//! Flows leave the table on close, on Zeek's inactivity timeouts (event time), on 5-tuple reuse,
//! under memory pressure (eviction, counted) or at the end of input — always as a
//! [`vigil_model::Conn`] with its Community ID. [`zeeklog`] writes Zeek's logs from them.

mod app;
pub mod community_id;
pub mod engine;
pub mod history;
pub mod packet;
pub mod ports;
pub mod script;
pub mod table;
pub mod tcp;
pub mod uid;
pub mod zeeklog;

pub use community_id::{community_id_v1, icmp_ports};
pub use engine::{Engine, EngineConfig, EngineError, EngineStats, Progress, flow_packet};
pub use packet::{FlowPacket, TcpFields, TunnelInfo};
pub use table::{FlowConfig, FlowKey, FlowTable, TableStats};
