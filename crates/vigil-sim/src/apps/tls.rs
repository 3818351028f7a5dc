//! TLS 1.2 and 1.3 handshake records as real clients and servers send them, and encrypted
//! application data records of given sizes.
//!
//! Client profiles differ the way real software does (cipher lists, extension order, GREASE,
//! ALPN), so fingerprints (JA3/JA4) separate browsers, system services and implants.

use super::x509::{self, CertSpec};
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

pub const CT_CCS: u8 = 20;
pub const CT_HANDSHAKE: u8 = 22;
pub const CT_APPDATA: u8 = 23;

/// Which software is talking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientProfile {
    /// Chromium-based browser: GREASE, TLS 1.3, h2.
    Chrome,
    /// Firefox: no GREASE, TLS 1.3, different order.
    Firefox,
    /// Windows system services (schannel), TLS 1.2 only.
    Schannel,
    /// OpenSSL-based command-line tools and updaters: TLS 1.3, no ALPN.
    OpenSsl,
    /// A small implant's hand-rolled TLS 1.2 stack.
    Implant,
}

impl ClientProfile {
    pub fn offers_tls13(self) -> bool {
        !matches!(self, ClientProfile::Schannel | ClientProfile::Implant)
    }
}

const GREASE: [u16; 16] =
    [0x0a0a, 0x1a1a, 0x2a2a, 0x3a3a, 0x4a4a, 0x5a5a, 0x6a6a, 0x7a7a, 0x8a8a, 0x9a9a, 0xaaaa, 0xbaba, 0xcaca, 0xdada, 0xeaea, 0xfafa];

fn u16be(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_be_bytes());
}
fn u24be(v: &mut Vec<u8>, x: usize) {
    v.extend_from_slice(&[(x >> 16) as u8, (x >> 8) as u8, x as u8]);
}

/// A record of `ctype` around `body` (body ≤ 2^14 + 256 by construction of the callers).
pub fn record(ctype: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 5);
    v.push(ctype);
    u16be(&mut v, version);
    u16be(&mut v, body.len() as u16);
    v.extend_from_slice(body);
    v
}

fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 4);
    v.push(msg_type);
    u24be(&mut v, body.len());
    v.extend_from_slice(body);
    v
}

fn ext(v: &mut Vec<u8>, typ: u16, body: &[u8]) {
    u16be(v, typ);
    u16be(v, body.len() as u16);
    v.extend_from_slice(body);
}

fn list16(items: &[u16]) -> Vec<u8> {
    let mut v = Vec::new();
    u16be(&mut v, (items.len() * 2) as u16);
    for i in items {
        u16be(&mut v, *i);
    }
    v
}

fn random32(rng: &mut ChaCha8Rng) -> [u8; 32] {
    let mut r = [0u8; 32];
    rng.fill_bytes(&mut r);
    r
}

/// A ClientHello record. `sni` may be empty (no server_name extension).
pub fn client_hello(profile: ClientProfile, sni: &str, rng: &mut ChaCha8Rng) -> Vec<u8> {
    use ClientProfile::*;
    let grease = |rng: &mut ChaCha8Rng| GREASE[rng.gen_range(0..GREASE.len())];
    let (g1, g2, g3, g4) = (grease(rng), grease(rng), grease(rng), grease(rng));
    let ciphers: Vec<u16> = match profile {
        Chrome => {
            vec![g1, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035]
        }
        Firefox => vec![
            0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc00a, 0xc009, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f,
            0x0035,
        ],
        Schannel => vec![
            0xc02c, 0xc02b, 0xc030, 0xc02f, 0xc024, 0xc023, 0xc028, 0xc027, 0xc00a, 0xc009, 0xc014, 0xc013, 0x009d, 0x009c, 0x003d, 0x003c,
            0x0035, 0x002f, 0x000a,
        ],
        OpenSsl => vec![
            0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0x009f, 0xcca9, 0xcca8, 0xccaa, 0xc02b, 0xc02f, 0x009e, 0xc024, 0xc028, 0x006b, 0xc023,
            0xc027, 0x0067, 0xc00a, 0xc014, 0x0039, 0xc009, 0xc013, 0x0033, 0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f, 0x00ff,
        ],
        Implant => vec![0xc02f, 0xc030, 0xc013, 0xc014, 0x009c, 0x002f, 0x0035],
    };
    let sigalgs: Vec<u16> = match profile {
        Chrome => vec![0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601],
        Firefox => vec![0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201],
        Schannel => vec![0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0201, 0x0403, 0x0503, 0x0203, 0x0202, 0x0601, 0x0603],
        OpenSsl => vec![0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0809, 0x080a, 0x080b, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601],
        Implant => vec![0x0401, 0x0501, 0x0201],
    };
    let groups: Vec<u16> = match profile {
        Chrome => vec![g2, 0x001d, 0x0017, 0x0018],
        Firefox => vec![0x001d, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101],
        Schannel => vec![0x001d, 0x0017, 0x0018],
        OpenSsl => vec![0x001d, 0x0017, 0x001e, 0x0019, 0x0018],
        Implant => vec![0x0017, 0x0018],
    };
    let alpn: &[&str] = match profile {
        Chrome | Firefox => &["h2", "http/1.1"],
        Schannel => &["http/1.1"],
        OpenSsl | Implant => &[],
    };

    let mut exts = Vec::new();
    if profile == Chrome {
        ext(&mut exts, g3, &[]);
    }
    if !sni.is_empty() {
        let mut b = Vec::new();
        u16be(&mut b, (sni.len() + 3) as u16);
        b.push(0);
        u16be(&mut b, sni.len() as u16);
        b.extend_from_slice(sni.as_bytes());
        ext(&mut exts, 0x0000, &b);
    }
    if profile != Implant {
        ext(&mut exts, 0x0017, &[]); // extended_master_secret
        ext(&mut exts, 0xff01, &[0]); // renegotiation_info
    }
    ext(&mut exts, 0x000a, &list16(&groups));
    ext(&mut exts, 0x000b, &[1, 0]); // ec_point_formats: uncompressed
    if profile != Implant {
        ext(&mut exts, 0x0023, &[]); // session_ticket
    }
    if !alpn.is_empty() {
        let mut l = Vec::new();
        for p in alpn {
            l.push(p.len() as u8);
            l.extend_from_slice(p.as_bytes());
        }
        let mut b = Vec::new();
        u16be(&mut b, l.len() as u16);
        b.extend(l);
        ext(&mut exts, 0x0010, &b);
    }
    if matches!(profile, Chrome | Firefox | Schannel) {
        ext(&mut exts, 0x0005, &[1, 0, 0, 0, 0]); // status_request (OCSP)
    }
    ext(&mut exts, 0x000d, &list16(&sigalgs));
    if profile.offers_tls13() {
        if profile == Chrome {
            ext(&mut exts, 0x0012, &[]); // signed_certificate_timestamp
        }
        // key_share: (GREASE, 1 byte) for Chrome, then x25519.
        let mut ks = Vec::new();
        if profile == Chrome {
            u16be(&mut ks, g2);
            u16be(&mut ks, 1);
            ks.push(0);
        }
        u16be(&mut ks, 0x001d);
        u16be(&mut ks, 32);
        ks.extend_from_slice(&random32(rng));
        let mut b = Vec::new();
        u16be(&mut b, ks.len() as u16);
        b.extend(ks);
        ext(&mut exts, 0x0033, &b);
        ext(&mut exts, 0x002d, &[1, 1]); // psk_key_exchange_modes: psk_dhe_ke
        let versions: Vec<u16> = if profile == Chrome { vec![g4, 0x0304, 0x0303] } else { vec![0x0304, 0x0303] };
        let mut b = vec![(versions.len() * 2) as u8];
        for v in versions {
            u16be(&mut b, v);
        }
        ext(&mut exts, 0x002b, &b);
        if profile == Chrome {
            ext(&mut exts, 0x001b, &[2, 0, 2]); // compress_certificate: brotli
            ext(&mut exts, g1 ^ 0x1010, &[0]); // trailing GREASE extension
        }
        if profile == Firefox {
            ext(&mut exts, 0x001c, &[0x40, 0x01]); // record_size_limit
        }
    }

    let mut body = Vec::new();
    u16be(&mut body, 0x0303);
    body.extend_from_slice(&random32(rng));
    // TLS 1.3 clients send a random legacy session id for middlebox compatibility.
    if profile.offers_tls13() || profile == Schannel {
        body.push(32);
        body.extend_from_slice(&random32(rng));
    } else {
        body.push(0);
    }
    u16be(&mut body, (ciphers.len() * 2) as u16);
    for c in &ciphers {
        u16be(&mut body, *c);
    }
    body.extend_from_slice(&[1, 0]);
    u16be(&mut body, exts.len() as u16);
    body.extend(exts);
    record(CT_HANDSHAKE, 0x0301, &handshake(1, &body))
}

/// What the server side of a TLS session looks like.
#[derive(Clone, Debug)]
pub struct ServerSpec {
    pub name: String,
    /// The server speaks TLS 1.3 when the client offers it.
    pub tls13: bool,
    /// Self-signed leaf only (typical of C2 servers and appliances) instead of leaf + issuer.
    pub self_signed: bool,
    /// Issuer common name and organisation for CA-issued chains.
    pub issuer: (String, String),
    pub country: Option<String>,
    /// ALPN the server selects, if the client offered it.
    pub alpn: Option<String>,
    /// Certificate validity start (Unix seconds).
    pub not_before: i64,
}

/// The handshake flights of one session and whether TLS 1.3 was negotiated.
pub struct Handshake {
    pub tls13: bool,
    /// Client: ClientHello.
    pub client_hello: Vec<u8>,
    /// Server: ServerHello (and for 1.2 Certificate, ServerKeyExchange, ServerHelloDone; for
    /// 1.3 a compatibility ChangeCipherSpec and the encrypted rest of the flight).
    pub server_flight: Vec<u8>,
    /// How many bytes of `server_flight` are worth storing: all of it for TLS 1.2 (the
    /// certificates are in clear), the clear part plus a slice of ciphertext for TLS 1.3.
    pub server_flight_stored: usize,
    /// Client: (1.2) ClientKeyExchange + ChangeCipherSpec + Finished; (1.3) ChangeCipherSpec + Finished.
    pub client_finish: Vec<u8>,
    /// Server: (1.2) ChangeCipherSpec + Finished; (1.3) session tickets (encrypted), may be empty.
    pub server_finish: Vec<u8>,
}

/// Builds a full handshake for `profile` talking to `server`.
pub fn handshake_flights(profile: ClientProfile, sni: &str, server: &ServerSpec, rng: &mut ChaCha8Rng) -> Handshake {
    let client_hello = client_hello(profile, sni, rng);
    let tls13 = server.tls13 && profile.offers_tls13();
    let alpn = match profile {
        ClientProfile::Chrome | ClientProfile::Firefox | ClientProfile::Schannel => server.alpn.clone(),
        _ => None,
    };
    let mut sh = Vec::new();
    u16be(&mut sh, 0x0303);
    sh.extend_from_slice(&random32(rng));
    if profile.offers_tls13() || profile == ClientProfile::Schannel {
        // Echo the client's legacy session id (TLS 1.3) or issue one (1.2 resumption).
        sh.push(32);
        if tls13 {
            let sid_off = 5 + 4 + 2 + 32 + 1;
            sh.extend_from_slice(&client_hello[sid_off..sid_off + 32]);
        } else {
            sh.extend_from_slice(&random32(rng));
        }
    } else {
        sh.push(0);
    }
    let suite: u16 = if tls13 {
        0x1301
    } else {
        match profile {
            ClientProfile::Schannel => 0xc030,
            _ => 0xc02f,
        }
    };
    u16be(&mut sh, suite);
    sh.push(0);
    let mut exts = Vec::new();
    if tls13 {
        let mut ks = Vec::new();
        u16be(&mut ks, 0x001d);
        u16be(&mut ks, 32);
        ks.extend_from_slice(&random32(rng));
        ext(&mut exts, 0x0033, &ks);
        ext(&mut exts, 0x002b, &[0x03, 0x04]);
    } else {
        if profile != ClientProfile::Implant {
            ext(&mut exts, 0xff01, &[0]);
            ext(&mut exts, 0x0017, &[]);
        }
        ext(&mut exts, 0x000b, &[1, 0]);
        if let Some(a) = &alpn {
            let mut b = Vec::new();
            u16be(&mut b, (a.len() + 1) as u16);
            b.push(a.len() as u8);
            b.extend_from_slice(a.as_bytes());
            ext(&mut exts, 0x0010, &b);
        }
    }
    u16be(&mut sh, exts.len() as u16);
    sh.extend(exts);

    let mut server_flight = record(CT_HANDSHAKE, 0x0303, &handshake(2, &sh));
    let (client_finish, server_finish);
    let server_flight_stored;
    if tls13 {
        server_flight.extend(record(CT_CCS, 0x0303, &[1]));
        server_flight_stored = server_flight.len() + 512;
        // EncryptedExtensions + Certificate + CertificateVerify + Finished, encrypted.
        let n = rng.gen_range(2200..4600);
        server_flight.extend(encrypted_record(n, rng));
        let mut cf = record(CT_CCS, 0x0303, &[1]);
        cf.extend(encrypted_record(53, rng));
        client_finish = cf;
        // Two NewSessionTicket messages, encrypted.
        let mut sf = encrypted_record(rng.gen_range(200..260), rng);
        sf.extend(encrypted_record(rng.gen_range(200..260), rng));
        server_finish = sf;
    } else {
        let chain = certificate_chain(sni, server, rng);
        let mut certs = Vec::new();
        for c in &chain {
            u24be(&mut certs, c.len());
            certs.extend_from_slice(c);
        }
        let mut cm = Vec::new();
        u24be(&mut cm, certs.len());
        cm.extend(certs);
        push_handshake_records(&mut server_flight, &handshake(11, &cm));
        // ServerKeyExchange: named curve x25519, public key, rsa_pkcs1_sha256 signature.
        let mut ske = vec![3];
        u16be(&mut ske, 0x001d);
        ske.push(32);
        ske.extend_from_slice(&random32(rng));
        u16be(&mut ske, 0x0401);
        u16be(&mut ske, 256);
        let mut sig = [0u8; 256];
        rng.fill_bytes(&mut sig);
        ske.extend_from_slice(&sig);
        server_flight.extend(record(CT_HANDSHAKE, 0x0303, &handshake(12, &ske)));
        server_flight.extend(record(CT_HANDSHAKE, 0x0303, &handshake(14, &[])));
        let mut cke = vec![32];
        cke.extend_from_slice(&random32(rng));
        let mut cf = record(CT_HANDSHAKE, 0x0303, &handshake(16, &cke));
        cf.extend(record(CT_CCS, 0x0303, &[1]));
        cf.extend(encrypted_finished(rng));
        client_finish = cf;
        let mut sf = record(CT_CCS, 0x0303, &[1]);
        sf.extend(encrypted_finished(rng));
        server_finish = sf;
        server_flight_stored = server_flight.len();
    }
    Handshake { tls13, client_hello, server_flight, server_flight_stored, client_finish, server_finish }
}

/// Splits a handshake message over records of at most 2^14 bytes.
fn push_handshake_records(out: &mut Vec<u8>, msg: &[u8]) {
    for chunk in msg.chunks(16384) {
        out.extend(record(CT_HANDSHAKE, 0x0303, chunk));
    }
}

/// A TLS 1.2 AES-GCM Finished: 8-byte explicit nonce, 16 bytes, 16-byte tag.
fn encrypted_finished(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut b = [0u8; 40];
    rng.fill_bytes(&mut b);
    record(CT_HANDSHAKE, 0x0303, &b)
}

/// One application-data record of `n` ciphertext bytes.
pub fn encrypted_record(n: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut b = vec![0u8; n.min(16384 + 256)];
    rng.fill_bytes(&mut b);
    record(CT_APPDATA, 0x0303, &b)
}

/// AEAD overhead per record: TLS 1.3 (content type + 16-byte tag) or TLS 1.2 GCM (8-byte
/// explicit nonce + tag).
fn overhead(tls13: bool) -> usize {
    if tls13 { 17 } else { 24 }
}

/// Application data carrying `plain` bytes of plaintext: returns (materialised head of at most
/// `head_max` bytes, total length on the wire).
pub fn app_data(plain: u64, tls13: bool, head_max: usize, rng: &mut ChaCha8Rng) -> (Vec<u8>, u64) {
    let plain = plain.max(1);
    let nrec = plain.div_ceil(16384);
    let total = plain + nrec * (5 + overhead(tls13) as u64);
    let mut head = Vec::with_capacity(head_max.min(total as usize));
    let mut left = plain;
    while left > 0 && head.len() < head_max {
        let p = left.min(16384);
        head.extend(encrypted_record(p as usize + overhead(tls13), rng));
        left -= p;
    }
    head.truncate(head_max);
    (head, total)
}

/// Leaf (and issuer, for CA-issued chains) certificates in DER.
fn certificate_chain(sni: &str, server: &ServerSpec, rng: &mut ChaCha8Rng) -> Vec<Vec<u8>> {
    let cn = if sni.is_empty() { server.name.as_str() } else { sni };
    let year = 365 * 86_400;
    let nb = server.not_before;
    if server.self_signed {
        let spec = CertSpec {
            subject_cn: cn,
            subject_org: None,
            issuer_cn: cn,
            issuer_org: None,
            country: server.country.as_deref(),
            not_before: nb,
            not_after: nb + 10 * year,
            dns_names: &[],
            ca: false,
        };
        return vec![x509::certificate(&spec, rng)];
    }
    let wildcard = cn.split_once('.').map(|(_, rest)| format!("*.{rest}"));
    let mut names: Vec<&str> = vec![cn];
    if let Some(w) = wildcard.as_deref().filter(|w| w.matches('.').count() >= 2) {
        names.push(w);
    }
    let leaf = CertSpec {
        subject_cn: cn,
        subject_org: None,
        issuer_cn: &server.issuer.0,
        issuer_org: Some(&server.issuer.1),
        country: None,
        not_before: nb,
        not_after: nb + year,
        dns_names: &names,
        ca: false,
    };
    let ca = CertSpec {
        subject_cn: &server.issuer.0,
        subject_org: Some(&server.issuer.1),
        issuer_cn: &server.issuer.0,
        issuer_org: Some(&server.issuer.1),
        country: None,
        not_before: nb - 3 * year,
        not_after: nb + 7 * year,
        dns_names: &[],
        ca: true,
    };
    vec![x509::certificate(&leaf, rng), x509::certificate(&ca, rng)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn records(mut b: &[u8]) -> Vec<(u8, usize)> {
        let mut v = Vec::new();
        while b.len() >= 5 {
            let len = u16::from_be_bytes([b[3], b[4]]) as usize;
            v.push((b[0], len));
            b = &b[5 + len..];
        }
        assert!(b.is_empty(), "records tile the buffer exactly");
        v
    }

    #[test]
    fn hello_lengths_are_consistent() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for p in [ClientProfile::Chrome, ClientProfile::Firefox, ClientProfile::Schannel, ClientProfile::OpenSsl, ClientProfile::Implant] {
            let ch = client_hello(p, "www.example.org", &mut rng);
            let r = records(&ch);
            assert_eq!(r.len(), 1);
            let hs_len = ((ch[6] as usize) << 16) | ((ch[7] as usize) << 8) | ch[8] as usize;
            assert_eq!(hs_len + 4, r[0].1);
            assert!(ch.windows(15).any(|w| w == b"www.example.org"));
        }
    }

    #[test]
    fn flights_are_whole_records() {
        let mut rng = ChaCha8Rng::seed_from_u64(10);
        let spec = ServerSpec {
            name: "srv".into(),
            tls13: false,
            self_signed: false,
            issuer: ("R3".into(), "Let's Encrypt".into()),
            country: None,
            alpn: Some("h2".into()),
            not_before: 1_700_000_000,
        };
        let h = handshake_flights(ClientProfile::Schannel, "a.example.net", &spec, &mut rng);
        assert!(!h.tls13);
        let kinds: Vec<u8> = records(&h.server_flight).iter().map(|r| r.0).collect();
        assert_eq!(kinds, vec![22, 22, 22, 22]);
        assert_eq!(records(&h.client_finish).iter().map(|r| r.0).collect::<Vec<_>>(), vec![22, 20, 22]);
        let h13 = handshake_flights(ClientProfile::Chrome, "a.example.net", &ServerSpec { tls13: true, ..spec }, &mut rng);
        assert!(h13.tls13);
        assert_eq!(records(&h13.server_flight).iter().map(|r| r.0).collect::<Vec<_>>(), vec![22, 20, 23]);
        let (head, total) = app_data(40_000, true, 1_000_000, &mut rng);
        assert_eq!(head.len() as u64, total);
        assert_eq!(records(&head).len(), 3);
    }
}
