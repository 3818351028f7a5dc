//! Application protocol parsers. Pure functions over byte slices: no I/O, no logging, no panics,
//! every loop bounded. The flow table feeds each connection's first payload bytes into an
//! [`AppSession`], which detects the protocol by content (not port) and fills [`AppMeta`].

pub mod entropy;
mod session;

pub use session::AppSession;
