//! QUIC Initial packets (RFC 9000/9001, v2 RFC 9369, draft-29): long-header parsing, Initial key
//! derivation from the client's Destination Connection ID, header-protection removal,
//! AES-128-GCM decryption, CRYPTO frame reassembly (out of order, across packets and coalesced
//! datagrams, bounded) and the TLS ClientHello/ServerHello inside, fingerprinted with JA4 'q'.

use crate::fingerprint::TlsTransport;
use crate::reader::Reader;
use crate::tls::{HandshakeBuffer, TlsConn};
use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use aes_gcm::Aes128Gcm;
use aes_gcm::aead::{Aead, Payload};
use hkdf::Hkdf;
use sha2::Sha256;

pub const VERSION_1: u32 = 0x0000_0001;
pub const VERSION_2: u32 = 0x6b33_43cf;

/// Initial salts (RFC 9001 §5.2, RFC 9369 §3.3.1, draft-ietf-quic-tls-29 §5.2).
const SALT_V1: [u8; 20] =
    [0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a];
const SALT_V2: [u8; 20] =
    [0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9];
const SALT_DRAFT29: [u8; 20] =
    [0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99];

/// Bytes of CRYPTO data reassembled per direction.
const MAX_CRYPTO: u64 = 64 * 1024;
/// Out-of-order CRYPTO fragments held per direction.
const MAX_FRAGMENTS: usize = 64;
/// Packets coalesced in one datagram that are examined.
const MAX_COALESCED: usize = 8;
/// Datagrams per direction examined for Initial packets.
const MAX_DATAGRAMS: u32 = 32;
/// Frames parsed per packet.
const MAX_FRAMES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuicError {
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("not a QUIC long-header packet")]
    NotLongHeader,
    #[error("unsupported QUIC version {0:#010x}")]
    UnsupportedVersion(u32),
    #[error("not an Initial packet")]
    NotInitial,
    #[error("decryption failed")]
    Decrypt,
}

fn salt(version: u32) -> Option<&'static [u8; 20]> {
    match version {
        VERSION_1 => Some(&SALT_V1),
        VERSION_2 => Some(&SALT_V2),
        0xff00_001d..=0xff00_0020 => Some(&SALT_DRAFT29),
        _ => None,
    }
}

/// Whether the long-header type bits mean Initial for this version (v2 renumbered them).
fn is_initial_type(version: u32, first: u8) -> bool {
    let ty = (first >> 4) & 0x3;
    if version == VERSION_2 { ty == 1 } else { ty == 0 }
}

/// Packet protection keys for one direction's Initial packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialKeys {
    pub key: [u8; 16],
    pub iv: [u8; 12],
    pub hp: [u8; 16],
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
fn expand_label(hk: &Hkdf<Sha256>, label: &str, out: &mut [u8]) -> Option<()> {
    let full_len = 6 + label.len();
    let mut info = Vec::with_capacity(4 + full_len);
    info.extend_from_slice(&u16::try_from(out.len()).ok()?.to_be_bytes());
    info.push(u8::try_from(full_len).ok()?);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label.as_bytes());
    info.push(0);
    hk.expand(&info, out).ok()
}

/// Derives the Initial keys of the client (`server = false`) or server from the client's
/// original Destination Connection ID.
pub fn initial_keys(version: u32, dcid: &[u8], server: bool) -> Option<InitialKeys> {
    let (_, hk) = Hkdf::<Sha256>::extract(Some(salt(version)?), dcid);
    let mut secret = [0u8; 32];
    expand_label(&hk, if server { "server in" } else { "client in" }, &mut secret)?;
    let hk = Hkdf::<Sha256>::from_prk(&secret).ok()?;
    let (lk, li, lh) = if version == VERSION_2 { ("quicv2 key", "quicv2 iv", "quicv2 hp") } else { ("quic key", "quic iv", "quic hp") };
    let mut k = InitialKeys { key: [0; 16], iv: [0; 12], hp: [0; 16] };
    expand_label(&hk, lk, &mut k.key)?;
    expand_label(&hk, li, &mut k.iv)?;
    expand_label(&hk, lh, &mut k.hp)?;
    Some(k)
}

/// The cleartext parts of a long header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongHeader<'a> {
    pub first: u8,
    pub version: u32,
    pub dcid: &'a [u8],
    pub scid: &'a [u8],
    /// Offset of the packet number (Initial) or of the payload (others) in the packet.
    pub pn_offset: usize,
    /// Bytes of packet number plus payload (the Length field); 0 when the type has none.
    pub length: usize,
    pub initial: bool,
}

/// Parses a long header at the start of `pkt`.
pub fn parse_long_header(pkt: &[u8]) -> Result<LongHeader<'_>, QuicError> {
    let mut r = Reader::new(pkt);
    let first = r.u8().ok_or(QuicError::Truncated("first byte"))?;
    if first & 0x80 == 0 {
        return Err(QuicError::NotLongHeader);
    }
    let version = r.u32().ok_or(QuicError::Truncated("version"))?;
    let dcid = r.vec8().ok_or(QuicError::Truncated("dcid"))?;
    let scid = r.vec8().ok_or(QuicError::Truncated("scid"))?;
    if dcid.len() > 20 || scid.len() > 20 {
        return Err(QuicError::NotLongHeader);
    }
    if version == 0 {
        // Version negotiation: no length, the datagram ends here.
        return Ok(LongHeader { first, version, dcid, scid, pn_offset: r.pos(), length: r.remaining(), initial: false });
    }
    let initial = is_initial_type(version, first);
    let retry = (first >> 4) & 0x3 == if version == VERSION_2 { 0 } else { 3 };
    if retry {
        return Ok(LongHeader { first, version, dcid, scid, pn_offset: r.pos(), length: r.remaining(), initial: false });
    }
    if initial {
        let tlen = r.varint().ok_or(QuicError::Truncated("token length"))?;
        r.skip(usize::try_from(tlen).map_err(|_| QuicError::Truncated("token"))?).ok_or(QuicError::Truncated("token"))?;
    }
    let length = r.varint().ok_or(QuicError::Truncated("length"))?;
    let length = usize::try_from(length).map_err(|_| QuicError::Truncated("length"))?;
    if length > r.remaining() {
        return Err(QuicError::Truncated("payload"));
    }
    Ok(LongHeader { first, version, dcid, scid, pn_offset: r.pos(), length, initial })
}

/// Whether a UDP payload starts with a QUIC Initial packet of a version we can decrypt.
pub fn looks_like_quic_initial(pkt: &[u8]) -> bool {
    match parse_long_header(pkt) {
        Ok(h) => h.initial && salt(h.version).is_some() && pkt.first().is_some_and(|b| b & 0x40 != 0),
        Err(_) => false,
    }
}

/// Removes header protection and decrypts one Initial packet (`pkt` starts at its first byte
/// and may be followed by coalesced packets). Returns the plaintext frames.
pub fn decrypt_initial(pkt: &[u8], h: &LongHeader<'_>, keys: &InitialKeys) -> Result<Vec<u8>, QuicError> {
    let end = h.pn_offset.checked_add(h.length).ok_or(QuicError::Truncated("payload"))?;
    let sample = pkt.get(h.pn_offset + 4..h.pn_offset + 20).ok_or(QuicError::Truncated("sample"))?;
    let hp = Aes128::new(GenericArray::from_slice(&keys.hp));
    let mut mask = GenericArray::clone_from_slice(sample);
    hp.encrypt_block(&mut mask);
    let first = h.first ^ (mask[0] & 0x0f);
    let pn_len = usize::from(first & 0x3) + 1;
    let mut header = pkt.get(..h.pn_offset + pn_len).ok_or(QuicError::Truncated("packet number"))?.to_vec();
    header[0] = first;
    let mut pn: u64 = 0;
    for i in 0..pn_len {
        let b = header[h.pn_offset + i] ^ mask[1 + i];
        header[h.pn_offset + i] = b;
        pn = (pn << 8) | u64::from(b);
    }
    let ct = pkt.get(h.pn_offset + pn_len..end).ok_or(QuicError::Truncated("payload"))?;
    let mut nonce = keys.iv;
    for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let aead = Aes128Gcm::new(GenericArray::from_slice(&keys.key));
    aead.decrypt(GenericArray::from_slice(&nonce), Payload { msg: ct, aad: &header }).map_err(|_| QuicError::Decrypt)
}

/// Extracts the CRYPTO frames (offset, data) of a decrypted Initial payload.
pub fn crypto_frames(plain: &[u8]) -> Vec<(u64, &[u8])> {
    let mut r = Reader::new(plain);
    let mut out = Vec::new();
    for _ in 0..MAX_FRAMES {
        let Some(ty) = r.varint() else { break };
        match ty {
            0x00 | 0x01 => {}
            0x02 | 0x03 => {
                let ok = (|| {
                    r.varint()?;
                    r.varint()?;
                    let ranges = r.varint()?;
                    r.varint()?;
                    for _ in 0..ranges.min(plain.len() as u64) {
                        r.varint()?;
                        r.varint()?;
                    }
                    if ty == 0x03 {
                        r.varint()?;
                        r.varint()?;
                        r.varint()?;
                    }
                    Some(())
                })();
                if ok.is_none() {
                    break;
                }
            }
            0x06 => {
                let (Some(off), Some(len)) = (r.varint(), r.varint()) else { break };
                let Some(data) = usize::try_from(len).ok().and_then(|l| r.bytes(l)) else { break };
                out.push((off, data));
            }
            // CONNECTION_CLOSE or anything not allowed in Initial packets ends the parse.
            _ => break,
        }
    }
    out
}

/// In-order reassembly of one direction's CRYPTO stream.
#[derive(Debug, Default)]
struct CryptoStream {
    /// Bytes delivered so far (the next expected offset).
    next: u64,
    pending: Vec<(u64, Vec<u8>)>,
    hs: HandshakeBuffer,
}

impl CryptoStream {
    /// Adds a fragment; returns the handshake messages it completes.
    fn add(&mut self, off: u64, data: &[u8]) -> Vec<crate::tls::HandshakeMsg> {
        let end = off.saturating_add(data.len() as u64);
        if end > MAX_CRYPTO || end <= self.next {
            return Vec::new();
        }
        let held: usize = self.pending.iter().map(|(_, d)| d.len()).sum();
        if self.pending.len() < MAX_FRAGMENTS && held.saturating_add(data.len()) as u64 <= MAX_CRYPTO {
            self.pending.push((off, data.to_vec()));
        }
        let mut msgs = Vec::new();
        // Each pass delivers at least one fragment or stops.
        while let Some(i) = self.pending.iter().position(|(o, d)| *o <= self.next && o + d.len() as u64 > self.next) {
            let (o, d) = self.pending.swap_remove(i);
            let skip = usize::try_from(self.next - o).unwrap_or(usize::MAX);
            let fresh = d.get(skip..).unwrap_or(&[]);
            self.next += fresh.len() as u64;
            msgs.extend(self.hs.push(fresh));
        }
        let next = self.next;
        self.pending.retain(|(o, d)| o + d.len() as u64 > next);
        msgs
    }
}

/// QUIC connection state: both directions' Initial packets and the TLS handshake inside.
#[derive(Debug)]
pub struct QuicConn {
    pub tls: TlsConn,
    pub version: Option<u32>,
    orig_dcid: Option<Vec<u8>>,
    /// DCID chosen by a Retry, which replaces the original for key derivation.
    retry_dcid: Option<Vec<u8>>,
    crypto: [CryptoStream; 2],
    datagrams: [u32; 2],
    short_header: [bool; 2],
    /// Initial packets decrypted per direction.
    pub decrypted: [u32; 2],
    pub errors: u32,
}

impl Default for QuicConn {
    fn default() -> Self {
        QuicConn::new()
    }
}

impl QuicConn {
    pub fn new() -> Self {
        let mut tls = TlsConn::with_transport(TlsTransport::Quic);
        tls.meta.quic = true;
        QuicConn {
            tls,
            version: None,
            orig_dcid: None,
            retry_dcid: None,
            crypto: Default::default(),
            datagrams: [0; 2],
            short_header: [false; 2],
            decrypted: [0; 2],
            errors: 0,
        }
    }

    /// The ClientHello was decrypted and parsed.
    pub fn has_client_hello(&self) -> bool {
        self.tls.client_hello.is_some()
    }

    pub fn done(&self) -> bool {
        self.tls.client_hello.is_some() && self.tls.server_hello.is_some() && self.short_header.iter().all(|&s| s)
    }

    /// One UDP datagram.
    pub fn on_datagram(&mut self, from_orig: bool, data: &[u8]) {
        let i = usize::from(!from_orig);
        if data.first().is_some_and(|b| b & 0x80 == 0) {
            // Short header: 1-RTT data, so the handshake got that far on this side.
            self.short_header[i] = true;
            if self.short_header.iter().all(|&s| s) && self.tls.server_hello.is_some() {
                self.tls.meta.established = true;
            }
            return;
        }
        if self.datagrams[i] >= MAX_DATAGRAMS {
            return;
        }
        self.datagrams[i] += 1;
        let mut rest = data;
        for _ in 0..MAX_COALESCED {
            if rest.first().is_none_or(|b| b & 0x80 == 0) {
                break;
            }
            let Ok(h) = parse_long_header(rest) else {
                self.errors = self.errors.saturating_add(1);
                break;
            };
            let pkt_end = h.pn_offset.saturating_add(h.length).min(rest.len());
            if h.initial && salt(h.version).is_some() {
                self.version.get_or_insert(h.version);
                if from_orig && self.orig_dcid.is_none() {
                    self.orig_dcid = Some(h.dcid.to_vec());
                }
                self.initial(from_orig, rest, &h);
            } else if !from_orig && h.version != 0 && (h.first >> 4) & 0x3 == if h.version == VERSION_2 { 0 } else { 3 } {
                // Retry: the client's next Initial keys derive from the new server SCID.
                self.retry_dcid = Some(h.scid.to_vec());
            }
            if pkt_end == 0 || pkt_end >= rest.len() {
                break;
            }
            rest = &rest[pkt_end..];
        }
    }

    fn initial(&mut self, from_orig: bool, pkt: &[u8], h: &LongHeader<'_>) {
        let mut candidates: Vec<Vec<u8>> = Vec::new();
        candidates.extend(self.retry_dcid.clone());
        candidates.extend(self.orig_dcid.clone());
        if from_orig {
            candidates.push(h.dcid.to_vec());
        }
        let mut plain = None;
        for dcid in &candidates {
            if let Some(keys) = initial_keys(h.version, dcid, !from_orig)
                && let Ok(p) = decrypt_initial(pkt, h, &keys)
            {
                plain = Some(p);
                break;
            }
        }
        let Some(plain) = plain else {
            self.errors = self.errors.saturating_add(1);
            return;
        };
        let i = usize::from(!from_orig);
        self.decrypted[i] = self.decrypted[i].saturating_add(1);
        for (off, data) in crypto_frames(&plain) {
            let msgs = self.crypto[i].add(off, data);
            for m in msgs {
                self.tls.on_message(from_orig, &m);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 9001 Appendix A.1 keys for DCID 0x8394c8f03e515708.
    #[test]
    fn rfc9001_initial_keys() {
        let dcid = h("8394c8f03e515708");
        let c = initial_keys(VERSION_1, &dcid, false).unwrap();
        assert_eq!(c.key.to_vec(), h("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(c.iv.to_vec(), h("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(c.hp.to_vec(), h("9f50449e04a0e810283a1e9933adedd2"));
        let s = initial_keys(VERSION_1, &dcid, true).unwrap();
        assert_eq!(s.key.to_vec(), h("cf3a5331653c364c88f0f379b6067e37"));
        assert_eq!(s.iv.to_vec(), h("0ac1493ca1905853b0bba03e"));
        assert_eq!(s.hp.to_vec(), h("c206b8d9b9f0f37644430b490eeaa314"));
        assert!(initial_keys(0x1234_5678, &dcid, false).is_none());
    }

    /// RFC 9369 Appendix A.1 keys for the same DCID.
    #[test]
    fn rfc9369_v2_initial_keys() {
        let c = initial_keys(VERSION_2, &h("8394c8f03e515708"), false).unwrap();
        assert_eq!(c.key.to_vec(), h("8b1a0bc121284290a29e0971b5cd045d"));
        assert_eq!(c.iv.to_vec(), h("91f73e2351d8fa91660e909f"));
        assert_eq!(c.hp.to_vec(), h("45b95e15235d6f45a6b19cbcb0294ba9"));
    }

    fn vector(name: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/");
        let text = std::fs::read_to_string(format!("{path}{name}")).unwrap();
        h(&text.split_whitespace().collect::<String>())
    }

    /// The protected client Initial packets of RFC 9001 A.2 (v1) and RFC 9369 A.2 (v2) decrypt
    /// to the appendix's ClientHello: SNI example.com, ALPN "alpn", TLS 1.3.
    #[test]
    fn rfc_client_initial_packets_decrypt() {
        for (file, version) in [("rfc9001-a2-client-initial.hex", VERSION_1), ("rfc9369-a2-client-initial.hex", VERSION_2)] {
            let pkt = vector(file);
            assert_eq!(pkt.len(), 1200);
            assert!(looks_like_quic_initial(&pkt), "{file}");
            let hdr = parse_long_header(&pkt).unwrap();
            assert_eq!((hdr.version, hdr.pn_offset, hdr.pn_offset + hdr.length), (version, 18, 1200));
            let plain = decrypt_initial(&pkt, &hdr, &initial_keys(version, hdr.dcid, false).unwrap()).unwrap();
            assert_eq!(plain.len(), 1162);
            let frames = crypto_frames(&plain);
            assert_eq!(frames.len(), 1);
            assert_eq!((frames[0].0, frames[0].1.len()), (0, 241));
            let mut q = QuicConn::new();
            q.on_datagram(true, &pkt);
            assert_eq!(q.decrypted, [1, 0]);
            let m = &q.tls.meta;
            assert!(m.quic);
            assert_eq!(m.server_name.as_deref(), Some("example.com"));
            assert_eq!(m.alpn_offered, vec!["alpn"]);
            assert_eq!(m.client_version, Some(0x0304));
            assert!(m.ja4.as_deref().unwrap().starts_with("q13d0211an_"), "{:?}", m.ja4);
            // Any flipped bit breaks the AEAD tag: nothing is parsed from a forged packet.
            let mut forged = pkt.clone();
            forged[600] ^= 1;
            let mut f = QuicConn::new();
            f.on_datagram(true, &forged);
            assert!(f.tls.client_hello.is_none());
            assert_eq!(f.errors, 1);
        }
    }

    #[test]
    fn crypto_reassembly_out_of_order() {
        let mut c = CryptoStream::default();
        let msg = [1u8, 0, 0, 4, 9, 9, 9, 9];
        assert!(c.add(4, &msg[4..]).is_empty());
        assert!(c.add(0, &msg[..2]).is_empty());
        let m = c.add(1, &msg[1..5]);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].body, vec![9, 9, 9, 9]);
        assert!(c.add(0, &msg).is_empty(), "duplicates are ignored");
        assert!(c.add(MAX_CRYPTO, &[1]).is_empty());
    }

    #[test]
    fn frames_padding_ack_crypto() {
        let plain = [0u8, 0, 0x02, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x02, 0xaa, 0xbb, 0x01, 0x00, 0x1c, 0x00];
        assert_eq!(crypto_frames(&plain), vec![(0, &[0xaa, 0xbb][..])]);
    }

    #[test]
    fn header_parsing_rejects_garbage() {
        assert_eq!(parse_long_header(&[0x40, 1, 2]), Err(QuicError::NotLongHeader));
        assert!(parse_long_header(&[0xc0, 0, 0, 0, 1, 30]).is_err());
        assert!(!looks_like_quic_initial(&[0xc0, 0, 0, 0, 1, 0, 0, 0, 1]));
    }
}
