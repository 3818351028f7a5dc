//! Application-layer message builders: what clients and servers put inside TCP and UDP.

pub mod dns;
pub mod misc;
pub mod smb;
pub mod ssh;
pub mod text;
pub mod tls;
pub mod x509;
