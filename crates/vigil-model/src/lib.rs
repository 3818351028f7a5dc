//! Plain shared types: every source of network evidence becomes a stream of [`Conn`] records,
//! and every detector, scanner and triage pass emits [`Finding`]s. No I/O lives here.

pub mod community_id;
pub mod conn;
pub mod finding;
pub mod time;

pub use conn::*;
pub use finding::*;
pub use time::Timestamp;
