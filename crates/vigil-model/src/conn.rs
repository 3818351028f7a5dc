//! The connection record (`Conn`): Zeek's conn.log fields, the Community ID, and the application
//! metadata parsed from the first packets. Every source (pcap, live capture, NetFlow/IPFIX, Zeek
//! logs, Suricata EVE) produces this one type, so detectors are written and tested once.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// IANA protocol numbers Vigil names.
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;
pub const PROTO_SCTP: u8 = 132;

/// Zeek's `proto` column: "tcp", "udp", "icmp", or "unknown_transport".
pub fn proto_name(proto: u8) -> &'static str {
    match proto {
        PROTO_TCP => "tcp",
        PROTO_UDP => "udp",
        PROTO_ICMP | PROTO_ICMPV6 => "icmp",
        _ => "unknown_transport",
    }
}

/// Zeek's connection states (`conn_state`), with Zeek's meanings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConnState {
    /// Connection attempt seen, no reply.
    S0,
    /// Connection established, not terminated.
    S1,
    /// Normal establishment and termination.
    SF,
    /// Connection attempt rejected.
    REJ,
    /// Established, close attempt by originator seen (but no reply from responder).
    S2,
    /// Established, close attempt by responder seen (but no reply from originator).
    S3,
    /// Established, originator aborted (sent a RST).
    RSTO,
    /// Responder sent a RST.
    RSTR,
    /// Originator sent a SYN followed by a RST, never saw a SYN-ACK from the responder.
    RSTOS0,
    /// Responder sent a SYN ACK followed by a RST, never saw a SYN from the (purported) originator.
    RSTRH,
    /// Originator sent a SYN followed by a FIN, never saw a SYN ACK from the responder.
    SH,
    /// Responder sent a SYN ACK followed by a FIN, never saw a SYN from the originator.
    SHR,
    /// No SYN seen, just midstream traffic (one example: a partial connection not later closed).
    #[default]
    OTH,
}

impl ConnState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::REJ => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::RSTO => "RSTO",
            ConnState::RSTR => "RSTR",
            ConnState::RSTOS0 => "RSTOS0",
            ConnState::RSTRH => "RSTRH",
            ConnState::SH => "SH",
            ConnState::SHR => "SHR",
            ConnState::OTH => "OTH",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "S0" => ConnState::S0,
            "S1" => ConnState::S1,
            "SF" => ConnState::SF,
            "REJ" => ConnState::REJ,
            "S2" => ConnState::S2,
            "S3" => ConnState::S3,
            "RSTO" => ConnState::RSTO,
            "RSTR" => ConnState::RSTR,
            "RSTOS0" => ConnState::RSTOS0,
            "RSTRH" => ConnState::RSTRH,
            "SH" => ConnState::SH,
            "SHR" => ConnState::SHR,
            "OTH" => ConnState::OTH,
            _ => return None,
        })
    }
    /// The responder answered: a session existed at the application level (not a probe).
    pub fn established(self) -> bool {
        matches!(self, ConnState::S1 | ConnState::SF | ConnState::S2 | ConnState::S3 | ConnState::RSTO | ConnState::RSTR)
    }
}

/// Where the record came from (for counters and for judging which fields are trustworthy:
/// NetFlow has no payload, so no application metadata).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    #[default]
    Pcap,
    Live,
    Zeek,
    Suricata,
    Netflow,
    Simulated,
}

/// One bidirectional connection, as Zeek's conn.log defines it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conn {
    /// Time of the first packet.
    pub ts: Timestamp,
    /// Zeek-style unique id ("C" + base62), stable for the same input.
    pub uid: String,
    pub orig_h: IpAddr,
    pub orig_p: u16,
    pub resp_h: IpAddr,
    pub resp_p: u16,
    /// IANA protocol number (6 tcp, 17 udp, 1 icmp, 58 icmpv6). For ICMP, `orig_p` is the
    /// type and `resp_p` the code, as in Zeek.
    pub proto: u8,
    /// Zeek's `service`: application protocols detected, comma-joined ("ssl", "dns", "http"...).
    pub service: Option<String>,
    /// Seconds between first and last packet.
    pub duration: Option<f64>,
    /// Payload bytes from the originator (from TCP sequence numbers where TCP).
    pub orig_bytes: Option<u64>,
    pub resp_bytes: Option<u64>,
    pub conn_state: ConnState,
    pub local_orig: Option<bool>,
    pub local_resp: Option<bool>,
    pub missed_bytes: u64,
    /// Zeek's history letters (ShADadFfRr...; upper case originator, lower case responder).
    pub history: String,
    pub orig_pkts: u64,
    pub orig_ip_bytes: u64,
    pub resp_pkts: u64,
    pub resp_ip_bytes: u64,
    /// uids of enclosing tunnel connections (GRE, VXLAN, Geneve, IP-in-IP...).
    pub tunnel_parents: Vec<String>,
    /// Community ID v1 ("1:base64").
    pub community_id: String,
    pub orig_l2_addr: Option<[u8; 6]>,
    pub resp_l2_addr: Option<[u8; 6]>,
    pub vlan: Option<u16>,
    pub inner_vlan: Option<u16>,
    /// Still open when the input ended (live capture or end of file without teardown).
    pub open: bool,
    pub source: Source,
    /// Application metadata parsed from the first packets.
    pub app: AppMeta,
}

impl Conn {
    /// A record with the five-tuple set and everything else empty: for importers and tests.
    pub fn new(ts: Timestamp, orig_h: IpAddr, orig_p: u16, resp_h: IpAddr, resp_p: u16, proto: u8) -> Self {
        Conn {
            ts,
            uid: String::new(),
            orig_h,
            orig_p,
            resp_h,
            resp_p,
            proto,
            service: None,
            duration: None,
            orig_bytes: None,
            resp_bytes: None,
            conn_state: ConnState::OTH,
            local_orig: None,
            local_resp: None,
            missed_bytes: 0,
            history: String::new(),
            orig_pkts: 0,
            orig_ip_bytes: 0,
            resp_pkts: 0,
            resp_ip_bytes: 0,
            tunnel_parents: Vec::new(),
            community_id: String::new(),
            orig_l2_addr: None,
            resp_l2_addr: None,
            vlan: None,
            inner_vlan: None,
            open: false,
            source: Source::Pcap,
            app: AppMeta::default(),
        }
    }
    /// Time of the last packet.
    pub fn end(&self) -> Timestamp {
        self.ts.add_secs_f64(self.duration.unwrap_or(0.0))
    }
    pub fn orig_bytes(&self) -> u64 {
        self.orig_bytes.unwrap_or(0)
    }
    pub fn resp_bytes(&self) -> u64 {
        self.resp_bytes.unwrap_or(0)
    }
    /// The name the client asked for: TLS SNI, else HTTP Host, else QUIC SNI.
    pub fn server_name(&self) -> Option<&str> {
        if let Some(s) = self.app.tls.as_ref().and_then(|t| t.server_name.as_deref()) {
            return Some(s);
        }
        self.app.http.iter().find_map(|h| h.host.as_deref())
    }
    /// Encrypted by a recognised protocol (TLS, QUIC, SSH) or, failing that, payload that looks
    /// random (entropy close to 8 bits per byte).
    pub fn is_encrypted(&self) -> bool {
        self.app.tls.is_some()
            || self.app.ssh.is_some()
            || self.app.orig_entropy.is_some_and(|e| e >= 7.2)
            || self.app.resp_entropy.is_some_and(|e| e >= 7.2)
    }
}

/// Application metadata from the first packets of a connection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AppMeta {
    pub tls: Option<Box<TlsMeta>>,
    /// DNS transactions carried by the connection (one per query/response pair, as dns.log).
    pub dns: Vec<DnsTxn>,
    /// HTTP/1.x request/response pairs, as http.log.
    pub http: Vec<HttpTxn>,
    pub ssh: Option<Box<SshMeta>>,
    /// Shannon entropy (bits per byte) of the first payload bytes of each side, for telling
    /// "encrypted but not a known protocol" apart from plain text. None below 16 bytes, and
    /// for sessions recognised as TLS, SSH, QUIC or DNS, whose protocol already says it.
    pub orig_entropy: Option<f32>,
    pub resp_entropy: Option<f32>,
    /// SMB session metadata (dialect, trees, files, pipes), as smb_mapping.log / smb_files.log.
    /// Always serialized (null when absent), so formats without field names (the sort's
    /// spill runs) can hold a record; `default` still reads records written without it.
    #[serde(default)]
    pub smb: Option<Box<SmbMeta>>,
    /// DCE-RPC interfaces bound and operations called, over TCP directly or on SMB named
    /// pipes, as dce_rpc.log. Always serialized, as `smb`.
    #[serde(default)]
    pub dce_rpc: Option<Box<DceRpcMeta>>,
}

/// TLS (and QUIC, which carries a TLS handshake) metadata: ssl.log plus fingerprints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TlsMeta {
    /// Negotiated version (ServerHello / supported_versions), e.g. 0x0304.
    pub version: Option<u16>,
    /// Highest version the client offered.
    pub client_version: Option<u16>,
    /// Negotiated cipher suite.
    pub cipher: Option<u16>,
    /// Negotiated group (key_share in TLS 1.3).
    pub curve: Option<u16>,
    pub server_name: Option<String>,
    /// Protocols the client offered (ALPN).
    pub alpn_offered: Vec<String>,
    /// Protocol the server selected.
    pub alpn: Option<String>,
    pub supported_groups: Vec<u16>,
    pub resumed: bool,
    pub established: bool,
    /// Carried by QUIC rather than TCP.
    pub quic: bool,
    pub ja4: Option<String>,
    pub ja3: Option<String>,
    pub ja3s: Option<String>,
    /// The server's leaf certificate, when sent in clear (TLS ≤ 1.2).
    pub cert: Option<CertMeta>,
    /// SHA-256 of every certificate in the chain, leaf first.
    pub cert_chain_sha256: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CertMeta {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: Option<Timestamp>,
    pub not_after: Option<Timestamp>,
    pub san_dns: Vec<String>,
    pub self_signed: bool,
    pub sha256: String,
    /// SHA-1 of the DER certificate (lower-case hex): many blocklists (abuse.ch SSLBL, older
    /// Zeek x509 logs) still name certificates by it. Empty when unknown.
    #[serde(default)]
    pub sha1: String,
    pub key_alg: Option<String>,
    pub key_length: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsTxn {
    pub ts: Timestamp,
    pub trans_id: u16,
    /// Round-trip time in seconds, when the response was seen.
    pub rtt: Option<f64>,
    pub query: Option<String>,
    pub qclass: Option<u16>,
    pub qtype: Option<u16>,
    pub rcode: Option<u16>,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub z: u8,
    /// Answer data rendered as Zeek does (addresses, names, TXT strings).
    pub answers: Vec<String>,
    pub ttls: Vec<f64>,
    pub rejected: bool,
}

/// Names of the DNS record types Zeek prints in `qtype_name`.
pub fn dns_qtype_name(t: u16) -> String {
    let s = match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        10 => "NULL",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        39 => "DNAME",
        41 => "OPT",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        50 => "NSEC3",
        52 => "TLSA",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        255 => "*",
        257 => "CAA",
        _ => return format!("query-{t}"),
    };
    s.to_string()
}

pub fn dns_rcode_name(r: u16) -> String {
    let s = match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => return format!("rcode-{r}"),
    };
    s.to_string()
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpTxn {
    pub ts: Timestamp,
    pub method: Option<String>,
    pub host: Option<String>,
    pub uri: Option<String>,
    pub referrer: Option<String>,
    pub version: Option<String>,
    pub user_agent: Option<String>,
    pub request_body_len: u64,
    pub response_body_len: u64,
    pub status_code: Option<u16>,
    pub status_msg: Option<String>,
    pub server: Option<String>,
    pub req_content_type: Option<String>,
    pub resp_content_type: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SshMeta {
    /// Protocol version (2 or 1).
    pub version: Option<u8>,
    pub client: Option<String>,
    pub server: Option<String>,
    pub hassh: Option<String>,
    pub hassh_server: Option<String>,
    /// The algorithm lists HASSH is computed from (kex;enc;mac;cmp), for analysts.
    pub hassh_algorithms: Option<String>,
    pub hassh_server_algorithms: Option<String>,
    pub cipher_alg: Option<String>,
    pub mac_alg: Option<String>,
    pub kex_alg: Option<String>,
    pub host_key_alg: Option<String>,
    /// Zeek's heuristic authentication verdict, when it can be inferred.
    pub auth_success: Option<bool>,
    pub auth_attempts: u32,
}

/// What an SMB session did: the dialect, the shares it connected to and the files and named
/// pipes it opened. Lists are bounded by the parser (`dropped` counts what did not fit).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmbMeta {
    /// Highest major version seen: 1, 2 or 3 (0 when only NetBIOS framing was seen).
    pub version: u8,
    /// Negotiated dialect: "NT LM 0.12" for SMB1, else "2.02", "2.10", "3.00", "3.02", "3.1.1".
    pub dialect: Option<String>,
    /// SMB3 transform headers (encrypted messages) were seen: their contents are not visible.
    pub encrypted: bool,
    /// Messages that were encrypted (transform header), counted.
    pub encrypted_messages: u32,
    /// Authentication seen in SESSION_SETUP: "ntlm" or "kerberos".
    pub auth: Option<String>,
    /// NTLM account (`DOMAIN\user`) from the AUTHENTICATE message, when sent.
    pub ntlm_user: Option<String>,
    /// NTLM client workstation name.
    pub ntlm_host: Option<String>,
    /// Shares connected to (TREE_CONNECT), in order.
    pub trees: Vec<SmbTree>,
    /// Files and named pipes opened or created (CREATE / NT_CREATE_ANDX), merged by tree and name.
    pub files: Vec<SmbFile>,
    /// Trees or files beyond the caps, counted.
    pub dropped: u32,
}

impl SmbMeta {
    /// The tree a path names, if it was seen.
    pub fn tree(&self, path: &str) -> Option<&SmbTree> {
        self.trees.iter().find(|t| t.path.eq_ignore_ascii_case(path))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmbTree {
    /// UNC path as sent, e.g. `\\host\C$`.
    pub path: String,
    /// "disk", "pipe" or "print" from the server's answer, when seen.
    pub share_type: Option<String>,
    /// The server accepted the connection (None: no answer seen).
    pub ok: Option<bool>,
}

impl SmbTree {
    /// The share name: the last component of the path, upper-cased (`C$`, `ADMIN$`, `IPC$`).
    pub fn share(&self) -> String {
        share_of(&self.path)
    }
}

/// The share name of a UNC path: its last component, upper-cased.
pub fn share_of(path: &str) -> String {
    path.trim_end_matches('\\').rsplit('\\').next().unwrap_or("").to_ascii_uppercase()
}

/// Administrative shares: `ADMIN$` (the Windows directory) and the drive roots `C$`, `D$`...
/// (hidden shares only administrators can reach).
pub fn is_admin_share(share: &str) -> bool {
    let s = share.to_ascii_uppercase();
    s == "ADMIN$" || (s.len() == 2 && s.ends_with('$') && s.as_bytes().first().is_some_and(u8::is_ascii_alphabetic))
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmbFile {
    /// First open.
    pub ts: Timestamp,
    /// The tree's UNC path, when the TREE_CONNECT was seen.
    pub tree: Option<String>,
    /// Path relative to the share, as sent (`temp\mimikatz.exe`, `svcctl`).
    pub name: String,
    /// Requested create disposition ("FILE_OPEN", "FILE_CREATE", "FILE_OVERWRITE_IF"...).
    pub disposition: Option<String>,
    /// What the server did ("opened", "created", "overwritten", "superseded"), when answered.
    pub action: Option<String>,
    /// A named pipe (IPC$ tree, or DCE-RPC seen on it).
    pub pipe: bool,
    /// Opens merged into this entry.
    pub opens: u32,
    /// Bytes written (WRITE lengths; for pipes, the RPC requests).
    pub bytes_written: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Marked for deletion (delete-on-close or a disposition set).
    pub deleted: bool,
    /// New name given by a rename (SET_INFO FileRenameInformation).
    pub renamed_to: Option<String>,
}

impl SmbFile {
    /// Executable or script by extension (of the name or the rename target): what a tool
    /// transfer or a service binary looks like.
    pub fn is_executable(&self) -> bool {
        let ext = |n: &str| {
            let base = n.rsplit(['\\', '/']).next().unwrap_or(n);
            base.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())
        };
        [Some(self.name.as_str()), self.renamed_to.as_deref()].into_iter().flatten().filter_map(ext).any(|e| {
            matches!(
                e.as_str(),
                "exe"
                    | "dll"
                    | "sys"
                    | "scr"
                    | "com"
                    | "cpl"
                    | "ocx"
                    | "msi"
                    | "bat"
                    | "cmd"
                    | "ps1"
                    | "psm1"
                    | "vbs"
                    | "vbe"
                    | "js"
                    | "jse"
                    | "wsf"
                    | "wsh"
                    | "hta"
                    | "lnk"
            )
        })
    }
}

/// DCE-RPC activity of a connection (direct TCP, or every named pipe of an SMB session).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DceRpcMeta {
    /// Interfaces bound (BIND / ALTER_CONTEXT), de-duplicated by pipe, UUID and version.
    pub binds: Vec<DceRpcBind>,
    /// Operations called, one entry per pipe, interface and operation, with a count.
    pub calls: Vec<DceRpcCall>,
    /// Requests whose stub was sealed (authentication level privacy): the operation number is
    /// still visible, the arguments are not.
    pub sealed_requests: u32,
    /// Entries beyond the caps, counted.
    pub dropped: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DceRpcBind {
    pub ts: Timestamp,
    /// Named pipe the bind went over (None: direct TCP).
    pub named_pipe: Option<String>,
    /// Interface UUID, lower-case.
    pub uuid: String,
    /// "major.minor".
    pub version: String,
    /// Well-known name of the interface (Zeek's `endpoint`: "svcctl", "atsvc", "drsuapi"...).
    pub interface: Option<String>,
    /// Accepted by the server (None: no BIND_ACK seen).
    pub accepted: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DceRpcCall {
    /// First call.
    pub ts: Timestamp,
    pub named_pipe: Option<String>,
    /// Interface name when known, else its UUID (empty when the bind was not seen).
    pub interface: String,
    pub opnum: u16,
    /// Operation name when known ("CreateServiceW", "NetrJobAdd", "DRSGetNCChanges").
    pub operation: Option<String>,
    pub count: u32,
}
