//! TLS handshake parsing: ClientHello, ServerHello (incl. HelloRetryRequest), Certificate and
//! ServerKeyExchange messages, plus a per-connection record-layer state machine
//! ([`TlsConn`]) that reassembles handshake messages split across records and TCP segments with
//! bounded buffers and fills [`TlsMeta`].

use crate::cert::parse_certificate_cached;
use crate::fingerprint::{TlsTransport, ja3, ja3s, ja4};
use crate::reader::{Reader, u16_list};
use sha2::{Digest, Sha256};
use vigil_model::TlsMeta;

/// Largest TLS record payload accepted (2^14 plus the 2048 bytes of expansion RFC 5246 allows).
const MAX_RECORD: usize = 16384 + 2048;
/// Largest handshake message reassembled (certificate chains can exceed one record).
const MAX_HANDSHAKE: usize = 64 * 1024;
/// Certificates hashed per chain.
const MAX_CHAIN: usize = 10;
/// Handshake messages examined per direction before giving up.
const MAX_MESSAGES: u32 = 64;

/// The ServerHello.random value that marks a HelloRetryRequest (RFC 8446 §4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
    0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Pseudo record type for an SSLv2-format ClientHello.
const SSLV2_HELLO: u8 = 0x80;

pub const HS_CLIENT_HELLO: u8 = 1;
pub const HS_SERVER_HELLO: u8 = 2;
pub const HS_CERTIFICATE: u8 = 11;
pub const HS_SERVER_KEY_EXCHANGE: u8 = 12;

pub const EXT_SERVER_NAME: u16 = 0;
pub const EXT_SUPPORTED_GROUPS: u16 = 10;
pub const EXT_EC_POINT_FORMATS: u16 = 11;
pub const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
pub const EXT_ALPN: u16 = 16;
pub const EXT_SESSION_TICKET: u16 = 35;
pub const EXT_PRE_SHARED_KEY: u16 = 41;
pub const EXT_SUPPORTED_VERSIONS: u16 = 43;
pub const EXT_KEY_SHARE: u16 = 51;

/// Why a handshake message could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("not a TLS record")]
    NotTls,
    #[error("handshake message too large ({0} bytes)")]
    TooLarge(usize),
}

/// GREASE values (RFC 8701): 0x?a?a with both bytes equal. Fingerprints ignore them.
pub fn is_grease(v: u16) -> bool {
    (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// A parsed ClientHello, keeping everything the fingerprints need in wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub legacy_version: u16,
    pub session_id: Vec<u8>,
    pub cipher_suites: Vec<u16>,
    pub compression: Vec<u8>,
    /// Extension types in the order sent (GREASE included).
    pub extensions: Vec<u16>,
    pub server_name: Option<String>,
    /// ALPN protocol names as raw bytes (they need not be text).
    pub alpn: Vec<Vec<u8>>,
    pub supported_groups: Vec<u16>,
    pub ec_point_formats: Vec<u8>,
    pub signature_algorithms: Vec<u16>,
    pub supported_versions: Vec<u16>,
    pub key_share_groups: Vec<u16>,
    /// A non-empty session ticket was offered (resumption attempt).
    pub session_ticket: bool,
    /// A pre-shared key was offered (TLS 1.3 resumption attempt).
    pub psk: bool,
}

impl ClientHello {
    /// Highest version offered: supported_versions (ignoring GREASE), else the legacy field.
    pub fn max_version(&self) -> u16 {
        self.supported_versions.iter().copied().filter(|v| !is_grease(*v)).max().unwrap_or(self.legacy_version)
    }
}

/// A parsed ServerHello (or HelloRetryRequest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHello {
    pub legacy_version: u16,
    pub session_id: Vec<u8>,
    pub cipher: u16,
    pub compression: u8,
    pub extensions: Vec<u16>,
    /// supported_versions extension (TLS 1.3).
    pub selected_version: Option<u16>,
    /// key_share group (TLS 1.3; in a HelloRetryRequest, the group the server wants).
    pub key_share_group: Option<u16>,
    pub alpn: Option<Vec<u8>>,
    /// The server accepted a pre-shared key (TLS 1.3 resumption).
    pub psk_selected: bool,
    pub hello_retry_request: bool,
}

impl ServerHello {
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// Parses a ClientHello body (the handshake message without its 4-byte header).
pub fn parse_client_hello(body: &[u8]) -> Result<ClientHello, TlsError> {
    let mut r = Reader::new(body);
    let t = TlsError::Truncated;
    let mut ch = ClientHello { legacy_version: r.u16().ok_or(t("client version"))?, ..Default::default() };
    r.skip(32).ok_or(t("client random"))?;
    ch.session_id = r.vec8().ok_or(t("session id"))?.to_vec();
    ch.cipher_suites = u16_list(r.vec16().ok_or(t("cipher suites"))?);
    ch.compression = r.vec8().ok_or(t("compression methods"))?.to_vec();
    if r.is_empty() {
        return Ok(ch); // SSLv3-era hellos carry no extensions block
    }
    // A truncated extensions block still yields the extensions that were complete.
    let exts = r.vec16().unwrap_or_else(|| r.rest().get(2..).unwrap_or(&[]));
    let mut e = Reader::new(exts);
    while let (Some(ty), Some(data)) = (e.u16(), e.vec16()) {
        ch.extensions.push(ty);
        parse_client_extension(&mut ch, ty, data);
    }
    Ok(ch)
}

fn parse_client_extension(ch: &mut ClientHello, ty: u16, data: &[u8]) {
    let mut r = Reader::new(data);
    match ty {
        EXT_SERVER_NAME => {
            let list = r.vec16().unwrap_or(&[]);
            let mut l = Reader::new(list);
            while let (Some(kind), Some(name)) = (l.u8(), l.vec16()) {
                if kind == 0 && ch.server_name.is_none() && !name.is_empty() {
                    ch.server_name = Some(String::from_utf8_lossy(name).into_owned());
                }
            }
        }
        EXT_ALPN => {
            let list = r.vec16().unwrap_or(&[]);
            let mut l = Reader::new(list);
            while let Some(p) = l.vec8() {
                ch.alpn.push(p.to_vec());
            }
        }
        EXT_SUPPORTED_GROUPS => ch.supported_groups = u16_list(r.vec16().unwrap_or(&[])),
        EXT_EC_POINT_FORMATS => ch.ec_point_formats = r.vec8().unwrap_or(&[]).to_vec(),
        EXT_SIGNATURE_ALGORITHMS => ch.signature_algorithms = u16_list(r.vec16().unwrap_or(&[])),
        EXT_SUPPORTED_VERSIONS => ch.supported_versions = u16_list(r.vec8().unwrap_or(&[])),
        EXT_KEY_SHARE => {
            let list = r.vec16().unwrap_or(&[]);
            let mut l = Reader::new(list);
            while let (Some(g), Some(_key)) = (l.u16(), l.vec16()) {
                ch.key_share_groups.push(g);
            }
        }
        EXT_SESSION_TICKET => ch.session_ticket = !data.is_empty(),
        EXT_PRE_SHARED_KEY => ch.psk = true,
        _ => {}
    }
}

/// Parses an SSLv2-format CLIENT-HELLO body (after the 2-byte record header, message type
/// first), which old clients send to offer SSLv3/TLS (RFC 6101 appendix E.1). Only the cipher
/// specs that map to TLS suites (first byte 0) are kept.
pub fn parse_sslv2_client_hello(body: &[u8]) -> Result<ClientHello, TlsError> {
    let mut r = Reader::new(body);
    let t = TlsError::Truncated;
    if r.u8().ok_or(t("message type"))? != HS_CLIENT_HELLO {
        return Err(TlsError::NotTls);
    }
    let version = r.u16().ok_or(t("version"))?;
    let cs_len = usize::from(r.u16().ok_or(t("cipher spec length"))?);
    let sid_len = usize::from(r.u16().ok_or(t("session id length"))?);
    let _challenge_len = r.u16().ok_or(t("challenge length"))?;
    let specs = r.bytes(cs_len).ok_or(t("cipher specs"))?;
    let sid = r.bytes(sid_len).ok_or(t("session id"))?;
    Ok(ClientHello {
        legacy_version: version,
        session_id: sid.to_vec(),
        cipher_suites: specs.chunks_exact(3).filter(|c| c[0] == 0).map(|c| u16::from_be_bytes([c[1], c[2]])).collect(),
        compression: vec![0],
        ..Default::default()
    })
}

/// Whether a stream starts with an SSLv2-format ClientHello offering SSLv2, SSLv3 or TLS.
pub fn looks_like_sslv2_hello(data: &[u8]) -> bool {
    match data {
        [a, b, 1, major, minor, ..] if a & 0x80 != 0 => {
            let len = (usize::from(a & 0x7f) << 8) | usize::from(*b);
            len >= 9 && ((*major == 0 && *minor == 2) || (*major == 3 && *minor <= 4))
        }
        _ => false,
    }
}

/// Parses a ServerHello body (the handshake message without its 4-byte header).
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, TlsError> {
    let mut r = Reader::new(body);
    let t = TlsError::Truncated;
    let mut sh = ServerHello { legacy_version: r.u16().ok_or(t("server version"))?, ..Default::default() };
    let random = r.bytes(32).ok_or(t("server random"))?;
    sh.hello_retry_request = random == HRR_RANDOM;
    // TLS 1.3 drafts before 22 (version 0x7fNN) had no session id or compression method.
    let draft = (0x7f00..=0x7fff).contains(&sh.legacy_version);
    if !draft {
        sh.session_id = r.vec8().ok_or(t("session id"))?.to_vec();
    }
    sh.cipher = r.u16().ok_or(t("cipher suite"))?;
    if !draft {
        sh.compression = r.u8().ok_or(t("compression method"))?;
    }
    if r.is_empty() {
        return Ok(sh);
    }
    let exts = r.vec16().unwrap_or_else(|| r.rest().get(2..).unwrap_or(&[]));
    let mut e = Reader::new(exts);
    while let (Some(ty), Some(data)) = (e.u16(), e.vec16()) {
        sh.extensions.push(ty);
        let mut d = Reader::new(data);
        match ty {
            EXT_SUPPORTED_VERSIONS => sh.selected_version = d.u16(),
            EXT_KEY_SHARE => sh.key_share_group = d.u16(),
            EXT_PRE_SHARED_KEY => sh.psk_selected = true,
            EXT_ALPN => {
                let mut l = Reader::new(d.vec16().unwrap_or(&[]));
                sh.alpn = l.vec8().map(<[u8]>::to_vec);
            }
            _ => {}
        }
    }
    Ok(sh)
}

/// Splits a TLS ≤ 1.2 Certificate message body into its DER certificates (at most `max`).
pub fn parse_certificate_list(body: &[u8], max: usize) -> Result<Vec<&[u8]>, TlsError> {
    let mut r = Reader::new(body);
    let list = r.vec24().ok_or(TlsError::Truncated("certificate list"))?;
    let mut l = Reader::new(list);
    let mut out = Vec::new();
    while out.len() < max {
        match l.vec24() {
            Some(c) => out.push(c),
            None => break,
        }
    }
    Ok(out)
}

/// The named curve of an ECDHE ServerKeyExchange (TLS ≤ 1.2), if it uses one.
pub fn server_key_exchange_curve(body: &[u8]) -> Option<u16> {
    let mut r = Reader::new(body);
    // ECParameters: curve_type 3 = named_curve. DHE key exchanges start with a length instead,
    // so only accept this when the ECPoint length that follows is consistent.
    if r.u8()? != 3 {
        return None;
    }
    let curve = r.u16()?;
    let point = r.vec8()?;
    (!point.is_empty()).then_some(curve)
}

/// One handshake message taken out of the reassembly buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeMsg {
    pub msg_type: u8,
    pub body: Vec<u8>,
}

/// Reassembles handshake messages from handshake-record payloads (or QUIC CRYPTO data), bounded.
#[derive(Debug, Default, Clone)]
pub struct HandshakeBuffer {
    buf: Vec<u8>,
    broken: bool,
    messages: u32,
}

impl HandshakeBuffer {
    /// Appends bytes and returns every message completed by them.
    pub fn push(&mut self, data: &[u8]) -> Vec<HandshakeMsg> {
        let mut out = Vec::new();
        if self.broken {
            return out;
        }
        if self.buf.len().saturating_add(data.len()) > MAX_HANDSHAKE + 4 {
            // Keep only what fits: the message under construction is too large to finish.
            self.broken = true;
            return out;
        }
        self.buf.extend_from_slice(data);
        while self.buf.len() >= 4 && self.messages < MAX_MESSAGES {
            let len = u32::from_be_bytes([0, self.buf[1], self.buf[2], self.buf[3]]) as usize;
            if len > MAX_HANDSHAKE {
                self.broken = true;
                self.buf.clear();
                break;
            }
            let total = len + 4;
            if self.buf.len() < total {
                break;
            }
            let body = self.buf.get(4..total).unwrap_or(&[]).to_vec();
            out.push(HandshakeMsg { msg_type: self.buf[0], body });
            self.buf.drain(..total);
            self.messages += 1;
        }
        out
    }
    pub fn is_broken(&self) -> bool {
        self.broken
    }
}

/// Per-direction record-layer state.
#[derive(Debug, Default)]
struct Direction {
    header: Vec<u8>,
    body: Vec<u8>,
    /// Current record length and type (valid once `header` holds 5 bytes).
    rec_len: usize,
    rec_type: u8,
    /// Bytes of a non-handshake record still to skip.
    skip: usize,
    hs: HandshakeBuffer,
    ccs: bool,
    app_data: bool,
    broken: bool,
    records: u64,
}

/// What the record layer of one direction looks like, judged from its first bytes.
pub fn looks_like_tls_record(data: &[u8]) -> bool {
    matches!(data, [0x16, 0x03, 0x00..=0x04, ..])
}

/// Per-connection TLS state over both directions of a TCP stream.
#[derive(Debug, Default)]
pub struct TlsConn {
    dirs: [Direction; 2],
    pub meta: TlsMeta,
    pub client_hello: Option<ClientHello>,
    pub server_hello: Option<ServerHello>,
    certificate_seen: bool,
    server_kex_seen: bool,
    transport: TlsTransport,
}

impl TlsConn {
    pub fn new() -> Self {
        TlsConn::default()
    }

    /// A TLS state for a handshake carried by QUIC or DTLS (changes the JA4 prefix).
    pub fn with_transport(transport: TlsTransport) -> Self {
        TlsConn { transport, ..TlsConn::default() }
    }

    /// Feeds contiguous stream bytes of one direction.
    pub fn feed(&mut self, from_orig: bool, mut data: &[u8]) {
        let idx = usize::from(!from_orig);
        // Every iteration consumes at least one byte or returns, so the loop is bounded.
        while !data.is_empty() {
            let d = &mut self.dirs[idx];
            if d.broken {
                return;
            }
            if d.skip > 0 {
                let n = d.skip.min(data.len());
                d.skip -= n;
                data = data.get(n..).unwrap_or(&[]);
                continue;
            }
            if d.header.len() < 5 {
                let n = (5 - d.header.len()).min(data.len());
                d.header.extend_from_slice(data.get(..n).unwrap_or(&[]));
                data = data.get(n..).unwrap_or(&[]);
                if d.header.len() < 5 {
                    return;
                }
                let h = &d.header;
                if from_orig && d.records == 0 && looks_like_sslv2_hello(h) {
                    // SSLv2 record: 2-byte header; the 3 bytes after it already belong to the body.
                    d.records = 1;
                    d.rec_type = SSLV2_HELLO;
                    d.rec_len = (usize::from(h[0] & 0x7f) << 8) | usize::from(h[1]);
                    d.body = h[2..5].to_vec();
                    continue;
                }
                let (ty, major, len) = (h[0], h[1], usize::from(u16::from_be_bytes([h[3], h[4]])));
                if !(20..=24).contains(&ty) || major != 3 || len > MAX_RECORD {
                    d.broken = true;
                    return;
                }
                d.records += 1;
                d.rec_type = ty;
                d.rec_len = len;
                d.body.clear();
                match ty {
                    20 => d.ccs = true,
                    23 => d.app_data = true,
                    _ => {}
                }
                // Handshake records after ChangeCipherSpec are encrypted (Finished): skip them.
                if ty != 22 || d.ccs {
                    d.skip = len;
                    d.header.clear();
                    continue;
                }
                if len == 0 {
                    d.header.clear();
                }
                continue;
            }
            // Inside a handshake record: collect its body.
            let need = d.rec_len.saturating_sub(d.body.len());
            let n = need.min(data.len());
            d.body.extend_from_slice(data.get(..n).unwrap_or(&[]));
            data = data.get(n..).unwrap_or(&[]);
            if d.body.len() >= d.rec_len {
                let body = std::mem::take(&mut d.body);
                d.header.clear();
                if d.rec_type == SSLV2_HELLO {
                    if let Ok(ch) = parse_sslv2_client_hello(&body)
                        && self.client_hello.is_none()
                    {
                        self.apply_client_hello(ch);
                    }
                    continue;
                }
                let msgs = d.hs.push(&body);
                for m in msgs {
                    self.on_message(from_orig, &m);
                }
            }
        }
        self.update_established();
    }

    fn update_established(&mut self) {
        let [o, r] = &self.dirs;
        if self.server_hello.is_some() && (o.ccs || o.app_data) && (r.ccs || r.app_data) {
            self.meta.established = true;
        }
        // TLS ≤ 1.2 abbreviated handshake: the server changes cipher spec straight after its
        // hello, with no certificate or key exchange, so the session was resumed.
        if let Some(sh) = &self.server_hello
            && sh.version() <= 0x0303
            && r.ccs
            && !self.certificate_seen
            && !self.server_kex_seen
        {
            self.meta.resumed = true;
        }
    }

    /// A gap in one direction: record framing is lost, so that side stops parsing.
    pub fn feed_gap(&mut self, from_orig: bool) {
        self.dirs[usize::from(!from_orig)].broken = true;
    }

    /// Handles one complete handshake message.
    pub fn on_message(&mut self, from_orig: bool, m: &HandshakeMsg) {
        match (from_orig, m.msg_type) {
            (true, HS_CLIENT_HELLO) if self.client_hello.is_none() => {
                if let Ok(ch) = parse_client_hello(&m.body) {
                    self.apply_client_hello(ch);
                }
            }
            (false, HS_SERVER_HELLO) => {
                if let Ok(sh) = parse_server_hello(&m.body) {
                    self.apply_server_hello(sh);
                }
            }
            (false, HS_CERTIFICATE) if !self.certificate_seen => {
                self.certificate_seen = true;
                if let Ok(chain) = parse_certificate_list(&m.body, MAX_CHAIN) {
                    self.apply_chain(&chain);
                }
            }
            (false, HS_SERVER_KEY_EXCHANGE) => {
                self.server_kex_seen = true;
                if let Some(c) = server_key_exchange_curve(&m.body) {
                    self.meta.curve = Some(c);
                }
            }
            _ => {}
        }
    }

    /// Records a ClientHello's fields and fingerprints.
    pub fn apply_client_hello(&mut self, ch: ClientHello) {
        let m = &mut self.meta;
        m.client_version = Some(ch.max_version());
        m.server_name = ch.server_name.clone();
        m.alpn_offered = ch.alpn.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        m.supported_groups = ch.supported_groups.iter().copied().filter(|g| !is_grease(*g)).collect();
        m.ja4 = Some(ja4(&ch, self.transport));
        m.ja3 = Some(ja3(&ch).1);
        self.client_hello = Some(ch);
    }

    /// Records a ServerHello's negotiated values, JA3S and resumption.
    pub fn apply_server_hello(&mut self, sh: ServerHello) {
        let m = &mut self.meta;
        m.version = Some(sh.version());
        m.cipher = Some(sh.cipher);
        if let Some(g) = sh.key_share_group {
            m.curve = Some(g);
        }
        if let Some(a) = &sh.alpn {
            m.alpn = Some(String::from_utf8_lossy(a).into_owned());
        }
        m.ja3s = Some(ja3s(&sh).1);
        // Zeek's rule: the server echoing the client's (non-empty) session id resumes it
        // (TLS ≤ 1.2; TLS 1.3 echoes it for middlebox compatibility); a selected PSK resumes
        // TLS 1.3.
        if let Some(ch) = &self.client_hello
            && sh.version() <= 0x0303
            && !ch.session_id.is_empty()
            && ch.session_id == sh.session_id
        {
            m.resumed = true;
        }
        if sh.psk_selected {
            m.resumed = true;
        }
        self.server_hello = Some(sh);
    }

    fn apply_chain(&mut self, chain: &[&[u8]]) {
        let digests: Vec<[u8; 32]> = chain.iter().map(|c| Sha256::digest(c).into()).collect();
        self.meta.cert_chain_sha256 = digests.iter().map(hex::encode).collect();
        if let (Some(leaf), Some(d)) = (chain.first(), digests.first()) {
            self.meta.cert = parse_certificate_cached(leaf, d);
        }
    }

    /// A ClientHello was parsed (the connection is TLS).
    pub fn has_client_hello(&self) -> bool {
        self.client_hello.is_some()
    }

    /// A hello from either side was parsed: the session is TLS (reported as "ssl").
    pub fn recognised(&self) -> bool {
        self.has_client_hello() || self.server_hello.is_some()
    }

    /// Nothing more to learn: the handshake is over (or a side stopped parsing).
    pub fn done(&self) -> bool {
        let [o, r] = &self.dirs;
        let side_done = |d: &Direction| d.broken || d.ccs || d.app_data || d.hs.is_broken();
        side_done(o) && side_done(r)
    }

    /// Either direction has produced a record that was not TLS.
    pub fn broken(&self, from_orig: bool) -> bool {
        self.dirs[usize::from(!from_orig)].broken
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ClientHello built by hand: GREASE cipher and extension, SNI, ALPN h2/http1.1,
    /// groups, point formats, signature algorithms, supported_versions and key_share.
    pub(crate) fn sample_client_hello(sni: Option<&str>, alpn: &[&[u8]]) -> Vec<u8> {
        let mut exts: Vec<(u16, Vec<u8>)> = vec![(0x0a0a, vec![])];
        if let Some(s) = sni {
            let mut e = Vec::new();
            let n = s.len() as u16;
            e.extend_from_slice(&(n + 3).to_be_bytes());
            e.push(0);
            e.extend_from_slice(&n.to_be_bytes());
            e.extend_from_slice(s.as_bytes());
            exts.push((0, e));
        }
        exts.push((23, vec![]));
        exts.push((0xff01, vec![0]));
        exts.push((10, vec![0, 8, 0x1a, 0x1a, 0, 0x1d, 0, 0x17, 0, 0x18]));
        exts.push((11, vec![1, 0]));
        exts.push((35, vec![]));
        if !alpn.is_empty() {
            let mut l = Vec::new();
            for a in alpn {
                l.push(a.len() as u8);
                l.extend_from_slice(a);
            }
            let mut e = (l.len() as u16).to_be_bytes().to_vec();
            e.extend_from_slice(&l);
            exts.push((16, e));
        }
        exts.push((13, vec![0, 8, 4, 3, 8, 4, 4, 1, 5, 3]));
        exts.push((51, vec![0, 9, 0, 0x1d, 0, 5, 1, 2, 3, 4, 5]));
        exts.push((43, vec![6, 0x3a, 0x3a, 3, 4, 3, 3]));
        exts.push((45, vec![1, 1]));
        let mut ext_bytes = Vec::new();
        for (t, d) in &exts {
            ext_bytes.extend_from_slice(&t.to_be_bytes());
            ext_bytes.extend_from_slice(&(d.len() as u16).to_be_bytes());
            ext_bytes.extend_from_slice(d);
        }
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7u8; 32]);
        body.push(32);
        body.extend_from_slice(&[9u8; 32]);
        let ciphers: [u16; 5] = [0x2a2a, 0x1301, 0x1302, 0xc02b, 0x002f];
        body.extend_from_slice(&((ciphers.len() * 2) as u16).to_be_bytes());
        for c in ciphers {
            body.extend_from_slice(&c.to_be_bytes());
        }
        body.extend_from_slice(&[1, 0]);
        body.extend_from_slice(&(ext_bytes.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext_bytes);
        body
    }

    pub(crate) fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![ty];
        m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend_from_slice(body);
        m
    }

    pub(crate) fn record(ty: u8, payload: &[u8]) -> Vec<u8> {
        let mut r = vec![ty, 3, 1];
        r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        r.extend_from_slice(payload);
        r
    }

    pub(crate) fn server_hello_body(version_ext: Option<u16>, session_id: &[u8]) -> Vec<u8> {
        let mut b = vec![3, 3];
        b.extend_from_slice(&[5u8; 32]);
        b.push(session_id.len() as u8);
        b.extend_from_slice(session_id);
        b.extend_from_slice(&[0xc0, 0x2f, 0]);
        let mut exts = vec![0xff, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0x0b, 0, 2, 1, 0];
        if let Some(v) = version_ext {
            exts.extend_from_slice(&[0, 43, 0, 2]);
            exts.extend_from_slice(&v.to_be_bytes());
            exts.extend_from_slice(&[0, 51, 0, 2, 0, 0x1d]);
        }
        b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        b.extend_from_slice(&exts);
        b
    }

    #[test]
    fn client_hello_fields_in_wire_order() {
        let ch = parse_client_hello(&sample_client_hello(Some("example.com"), &[b"h2", b"http/1.1"])).unwrap();
        assert_eq!(ch.legacy_version, 0x0303);
        assert_eq!(ch.session_id.len(), 32);
        assert_eq!(ch.cipher_suites, vec![0x2a2a, 0x1301, 0x1302, 0xc02b, 0x002f]);
        assert_eq!(ch.extensions, vec![0x0a0a, 0, 23, 0xff01, 10, 11, 35, 16, 13, 51, 43, 45]);
        assert_eq!(ch.server_name.as_deref(), Some("example.com"));
        assert_eq!(ch.alpn, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert_eq!(ch.supported_groups, vec![0x1a1a, 0x1d, 0x17, 0x18]);
        assert_eq!(ch.ec_point_formats, vec![0]);
        assert_eq!(ch.signature_algorithms, vec![0x0403, 0x0804, 0x0401, 0x0503]);
        assert_eq!(ch.supported_versions, vec![0x3a3a, 0x0304, 0x0303]);
        assert_eq!(ch.key_share_groups, vec![0x1d]);
        assert_eq!(ch.max_version(), 0x0304);
        assert!(!ch.session_ticket);
    }

    #[test]
    fn every_truncation_of_a_client_hello_is_handled() {
        let body = sample_client_hello(Some("example.com"), &[b"h2"]);
        for n in 0..body.len() {
            let _ = parse_client_hello(&body[..n]);
        }
        assert!(parse_client_hello(&body[..10]).is_err());
    }

    #[test]
    fn grease_detection() {
        for g in [0x0a0a, 0x1a1a, 0xfafa, 0x3a3a] {
            assert!(is_grease(g));
        }
        for v in [0x0a1a, 0x0000, 0x1301, 0xabab] {
            assert!(!is_grease(v));
        }
    }

    #[test]
    fn server_hello_and_hello_retry_request() {
        let sh = parse_server_hello(&server_hello_body(Some(0x0304), &[1; 32])).unwrap();
        assert_eq!(sh.version(), 0x0304);
        assert_eq!(sh.cipher, 0xc02f);
        assert_eq!(sh.key_share_group, Some(0x1d));
        assert_eq!(sh.extensions, vec![0xff01, 0, 11, 43, 51]);
        assert!(!sh.hello_retry_request);
        let mut hrr = server_hello_body(Some(0x0304), &[]);
        hrr[2..34].copy_from_slice(&HRR_RANDOM);
        assert!(parse_server_hello(&hrr).unwrap().hello_retry_request);
    }

    #[test]
    fn client_hello_split_across_records_and_segments() {
        let hs = handshake(1, &sample_client_hello(Some("split.example"), &[b"h2"]));
        // Three records, then delivered one byte at a time.
        let (a, rest) = hs.split_at(7);
        let (b, c) = rest.split_at(50);
        let mut stream = record(22, a);
        stream.extend(record(22, b));
        stream.extend(record(22, c));
        let mut t = TlsConn::new();
        for byte in &stream {
            t.feed(true, std::slice::from_ref(byte));
        }
        assert_eq!(t.meta.server_name.as_deref(), Some("split.example"));
        assert!(t.meta.ja4.as_deref().unwrap().starts_with("t13d0411h2_"));
    }

    #[test]
    fn resumption_established_and_curve() {
        let sid = [4u8; 32];
        let mut ch = sample_client_hello(None, &[]);
        ch[35..67].copy_from_slice(&sid);
        let mut t = TlsConn::new();
        t.feed(true, &record(22, &handshake(1, &ch)));
        let sh = server_hello_body(None, &sid);
        let mut srv = record(22, &handshake(2, &sh));
        srv.extend(record(20, &[1]));
        srv.extend(record(22, &[0u8; 40]));
        t.feed(false, &srv);
        assert!(t.meta.resumed);
        assert!(!t.meta.established);
        let mut cli = record(20, &[1]);
        cli.extend(record(22, &[0u8; 40]));
        t.feed(true, &cli);
        assert!(t.meta.established);
        assert_eq!(t.meta.version, Some(0x0303));
        assert_eq!(t.meta.cipher, Some(0xc02f));
        assert!(t.done());
    }

    #[test]
    fn non_tls_bytes_stop_the_parser() {
        let mut t = TlsConn::new();
        t.feed(true, b"GET / HTTP/1.1\r\n\r\n");
        assert!(t.broken(true));
        assert!(t.client_hello.is_none());
    }

    #[test]
    fn sslv2_format_client_hello() {
        // msg 1, version 3.1, 6 bytes of specs (one SSLv2-only, one TLS), no session id,
        // 16-byte challenge.
        let mut body = vec![1, 3, 1, 0, 6, 0, 0, 0, 16, 0x07, 0x00, 0xc0, 0x00, 0x00, 0x2f];
        body.extend_from_slice(&[0xab; 16]);
        let mut rec = vec![0x80 | (body.len() >> 8) as u8, body.len() as u8];
        rec.extend_from_slice(&body);
        assert!(looks_like_sslv2_hello(&rec));
        let mut t = TlsConn::new();
        t.feed(true, &rec[..4]);
        t.feed(true, &rec[4..]);
        let ch = t.client_hello.as_ref().unwrap();
        assert_eq!(ch.legacy_version, 0x0301);
        assert_eq!(ch.cipher_suites, vec![0x002f]);
        assert_eq!(t.meta.client_version, Some(0x0301));
        // The server answers in TLS format.
        t.feed(false, &record(22, &handshake(2, &server_hello_body(None, &[]))));
        assert_eq!(t.meta.version, Some(0x0303));
    }

    #[test]
    fn ecdhe_server_key_exchange_curve() {
        assert_eq!(server_key_exchange_curve(&[3, 0, 0x17, 4, 1, 2, 3, 4]), Some(0x17));
        assert_eq!(server_key_exchange_curve(&[0, 1, 2]), None);
    }
}
