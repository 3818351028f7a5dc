//! TLS client and server fingerprints: JA4 (client, FoxIO's BSD-licensed specification), JA3
//! and JA3S (Salesforce). GREASE values are ignored everywhere, as both specifications say.

use crate::tls::{is_grease, ClientHello, ServerHello, EXT_ALPN, EXT_SERVER_NAME};
use md5::Md5;
use sha2::{Digest, Sha256};

/// What carries the handshake: the first character of JA4.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TlsTransport {
    #[default]
    Tcp,
    Quic,
    Dtls,
}

/// JA4's two-character version code.
fn ja4_version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// First 12 hex characters of SHA-256, or twelve zeros for an empty input list (the
/// reference implementation's convention for a hello without ciphers or extensions).
fn hash12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".to_string();
    }
    let mut h = hex::encode(Sha256::digest(s.as_bytes()));
    h.truncate(12);
    h
}

/// JA4's ALPN characters: first and last character of the first ALPN value, or, when either
/// is not an ASCII letter or digit, the first and last hex digits of that value; "00" if
/// there is no ALPN value.
fn ja4_alpn(alpn: &[Vec<u8>]) -> String {
    let Some(first) = alpn.first() else { return "00".to_string() };
    let (Some(&a), Some(&z)) = (first.first(), first.last()) else { return "00".to_string() };
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        format!("{}{}", a as char, z as char)
    } else {
        let ha = format!("{a:02x}");
        let hz = format!("{z:02x}");
        format!("{}{}", &ha[..1], &hz[1..])
    }
}

/// `0a0b,1301,...`: four lower-case hex digits per value, written into one buffer (this runs
/// for every ClientHello, so no per-element strings).
fn hex4_list(v: impl Iterator<Item = u16>) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(128);
    for (i, x) in v.enumerate() {
        if i > 0 {
            out.push(',');
        }
        for shift in [12u16, 8, 4, 0] {
            out.push(HEX[usize::from((x >> shift) & 15)] as char);
        }
    }
    out
}

/// The JA4 raw (sorted, unhashed) parts: prefix, ciphers, extensions[_sigalgs].
pub fn ja4_parts(ch: &ClientHello, transport: TlsTransport) -> (String, String, String) {
    let proto = match transport {
        TlsTransport::Tcp => 't',
        TlsTransport::Quic => 'q',
        TlsTransport::Dtls => 'd',
    };
    let ciphers: Vec<u16> = ch.cipher_suites.iter().copied().filter(|c| !is_grease(*c)).collect();
    let exts: Vec<u16> = ch.extensions.iter().copied().filter(|e| !is_grease(*e)).collect();
    let sni = if ch.extensions.contains(&EXT_SERVER_NAME) { 'd' } else { 'i' };
    let a = format!(
        "{proto}{}{sni}{:02}{:02}{}",
        ja4_version(ch.max_version()),
        ciphers.len().min(99),
        exts.len().min(99),
        ja4_alpn(&ch.alpn)
    );
    let mut sorted_c = ciphers;
    sorted_c.sort_unstable();
    let b = hex4_list(sorted_c.into_iter());
    let mut sorted_e: Vec<u16> = exts.into_iter().filter(|e| *e != EXT_SERVER_NAME && *e != EXT_ALPN).collect();
    sorted_e.sort_unstable();
    let mut c = hex4_list(sorted_e.into_iter());
    let sigs: Vec<u16> = ch.signature_algorithms.iter().copied().filter(|s| !is_grease(*s)).collect();
    if !sigs.is_empty() {
        c.push('_');
        c.push_str(&hex4_list(sigs.into_iter()));
    }
    (a, b, c)
}

/// The JA4 fingerprint of a ClientHello.
pub fn ja4(ch: &ClientHello, transport: TlsTransport) -> String {
    let (a, b, c) = ja4_parts(ch, transport);
    format!("{a}_{}_{}", hash12(&b), hash12(&c))
}

/// JA4_r: the raw, unhashed form (for analysts and for debugging mismatches).
pub fn ja4_raw(ch: &ClientHello, transport: TlsTransport) -> String {
    let (a, b, c) = ja4_parts(ch, transport);
    format!("{a}_{b}_{c}")
}

fn dec_list<T: std::fmt::Display>(v: impl Iterator<Item = T>) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(128);
    for (i, x) in v.enumerate() {
        if i > 0 {
            out.push('-');
        }
        let _ = write!(out, "{x}");
    }
    out
}

/// JA3: the string "version,ciphers,extensions,groups,point_formats" and its MD5.
pub fn ja3(ch: &ClientHello) -> (String, String) {
    let s = format!(
        "{},{},{},{},{}",
        ch.legacy_version,
        dec_list(ch.cipher_suites.iter().filter(|c| !is_grease(**c))),
        dec_list(ch.extensions.iter().filter(|e| !is_grease(**e))),
        dec_list(ch.supported_groups.iter().filter(|g| !is_grease(**g))),
        dec_list(ch.ec_point_formats.iter()),
    );
    let h = hex::encode(Md5::digest(s.as_bytes()));
    (s, h)
}

/// JA3S: the string "version,cipher,extensions" and its MD5.
pub fn ja3s(sh: &ServerHello) -> (String, String) {
    let s = format!(
        "{},{},{}",
        sh.legacy_version,
        sh.cipher,
        dec_list(sh.extensions.iter().filter(|e| !is_grease(**e)))
    );
    let h = hex::encode(Md5::digest(s.as_bytes()));
    (s, h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{parse_client_hello, tests::sample_client_hello};

    /// The worked example of the JA4 specification (Chrome): cipher and extension lists as
    /// given there must produce t13d1516h2_8daaf6152771_e5627efa2ab1.
    #[test]
    fn ja4_specification_example() {
        let ch = ClientHello {
            legacy_version: 0x0303,
            cipher_suites: vec![
                0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d,
                0x002f, 0x0035,
            ],
            extensions: vec![
                0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01,
                0x000b, 0x000a, 0x0015,
            ],
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            signature_algorithms: vec![0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601],
            supported_versions: vec![0x2a2a, 0x0304, 0x0303],
            ..Default::default()
        };
        assert_eq!(ja4(&ch, TlsTransport::Tcp), "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert!(ja4(&ch, TlsTransport::Quic).starts_with("q13d1516h2_"));
        // Without signature algorithms the extension string has no trailing underscore.
        let mut no_sigs = ch.clone();
        no_sigs.signature_algorithms.clear();
        assert!(ja4(&no_sigs, TlsTransport::Tcp).ends_with("_6d807ffa2a79"));
    }

    #[test]
    fn ja4_alpn_rules() {
        assert_eq!(ja4_alpn(&[]), "00");
        assert_eq!(ja4_alpn(&[b"http/1.1".to_vec()]), "h1");
        assert_eq!(ja4_alpn(&[b"h".to_vec()]), "hh");
        assert_eq!(ja4_alpn(&[vec![]]), "00");
        // Non-alphanumeric: first hex digit of the first byte, last hex digit of the last.
        assert_eq!(ja4_alpn(&[vec![0xab, 0x01, 0xcd]]), "ad");
        assert_eq!(ja4_alpn(&[b"h2/".to_vec()]), "6f");
    }

    #[test]
    fn ja3_removes_grease_and_ja4_counts() {
        let ch = parse_client_hello(&sample_client_hello(None, &[])).unwrap();
        let (s, h) = ja3(&ch);
        assert_eq!(s, "771,4865-4866-49195-47,23-65281-10-11-35-13-51-43-45,29-23-24,0");
        assert_eq!(h.len(), 32);
        let j = ja4(&ch, TlsTransport::Tcp);
        assert!(j.starts_with("t13i040900_"), "{j}");
    }

    #[test]
    fn ja3s_string_matches_suricata_example() {
        // Suricata-verify tls-ja3s expects "771,49199,65281-0-11-16-23" → 5d79edf64e03689ff559a54e9d9487bc.
        let sh = ServerHello {
            legacy_version: 771,
            cipher: 49199,
            extensions: vec![65281, 0, 11, 16, 23],
            ..Default::default()
        };
        assert_eq!(ja3s(&sh), ("771,49199,65281-0-11-16-23".to_string(), "5d79edf64e03689ff559a54e9d9487bc".to_string()));
    }
}
