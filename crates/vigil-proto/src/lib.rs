//! Application protocol parsers. Pure functions over byte slices: no I/O, no logging, no panics,
//! every loop bounded. The flow table feeds each connection's first payload bytes into an
//! [`AppSession`], which detects the protocol by content (not port) and fills [`AppMeta`].
//!
//! | protocol | detection | module |
//! |---|---|---|
//! | TLS (incl. SSLv2-format hellos) | record header `16 03 0x` from the originator | [`tls`], [`cert`], [`fingerprint`] |
//! | QUIC v1/v2/draft-29 Initial | long header with a known version (UDP) | [`quic`] |
//! | DNS, mDNS, LLMNR, NetBIOS-NS | a parseable message (strict off the usual ports); TCP with a length prefix | [`dns`] |
//! | HTTP/1.x (and 0.9) | request line `METHOD SP URI SP HTTP/1.x` | [`http`] |
//! | SSH | `SSH-` banner from either side | [`ssh`] |
//! | SMB1/2/3 (NetBIOS session framing, 445/139 or any port) | a session message carrying `\xfeSMB` / `\xffSMB` / `\xfdSMB`, or a NetBIOS session request | [`smb`] |
//! | DCE-RPC (connection-oriented), on TCP or SMB named pipes | a version 5 BIND/REQUEST header | [`dcerpc`] |
//! | SOCKS 4/5, RDP negotiation, STARTTLS (SMTP, IMAP, POP3, FTP), HTTP CONNECT | their handshakes, then the tunnelled protocol is detected again | [`socks`], [`tunnel`] |
//!
//! Anything else only gets the byte entropy of each side ([`entropy`]).
//!
//! [`AppMeta`]: vigil_model::AppMeta

pub mod cert;
pub mod dcerpc;
pub mod dns;
pub mod entropy;
pub mod fingerprint;
pub mod http;
pub mod quic;
mod reader;
mod session;
pub mod smb;
pub mod socks;
pub mod ssh;
pub mod tls;
pub mod tunnel;

pub use fingerprint::{TlsTransport, ja3, ja3s, ja4};
pub use session::AppSession;
