//! TLS client and server fingerprints: JA4 (client, FoxIO's BSD-licensed specification), JA3
//! and JA3S (Salesforce). GREASE values are ignored everywhere, as both specifications say.

use crate::tls::{ClientHello, EXT_ALPN, EXT_SERVER_NAME, ServerHello, is_grease};
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
    let h = memo_hex(&SHA256_MEMO, s, |b| Sha256::digest(b).to_vec());
    h.iter().take(12).map(|&c| c as char).collect()
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

/// `0a0b,1301,...`: four lower-case hex digits per value, written into one buffer of the
/// final size (this runs for every ClientHello, so no per-element strings and no regrowth).
fn hex4_list(v: &[u16]) -> String {
    let mut out = String::with_capacity(v.len() * 5);
    push_hex4_list(&mut out, v);
    out
}

fn push_hex4_list(out: &mut String, v: &[u16]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, &x) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for shift in [12u16, 8, 4, 0] {
            out.push(HEX[usize::from((x >> shift) & 15)] as char);
        }
    }
}

/// Two decimal digits of `n` (at most 99).
fn push_two_digits(out: &mut String, n: usize) {
    let n = n.min(99) as u8;
    out.push((b'0' + n / 10) as char);
    out.push((b'0' + n % 10) as char);
}

/// The JA4 raw (sorted, unhashed) parts: prefix, ciphers, extensions[_sigalgs].
pub fn ja4_parts(ch: &ClientHello, transport: TlsTransport) -> (String, String, String) {
    let proto = match transport {
        TlsTransport::Tcp => 't',
        TlsTransport::Quic => 'q',
        TlsTransport::Dtls => 'd',
    };
    let mut ciphers: Vec<u16> = Vec::with_capacity(ch.cipher_suites.len());
    ciphers.extend(ch.cipher_suites.iter().copied().filter(|c| !is_grease(*c)));
    let mut exts: Vec<u16> = Vec::with_capacity(ch.extensions.len());
    exts.extend(ch.extensions.iter().copied().filter(|e| !is_grease(*e)));
    let sni = if ch.extensions.contains(&EXT_SERVER_NAME) { 'd' } else { 'i' };
    let mut a = String::with_capacity(10);
    a.push(proto);
    a.push_str(ja4_version(ch.max_version()));
    a.push(sni);
    push_two_digits(&mut a, ciphers.len());
    push_two_digits(&mut a, exts.len());
    a.push_str(&ja4_alpn(&ch.alpn));
    ciphers.sort_unstable();
    let b = hex4_list(&ciphers);
    // The extension list without SNI and ALPN, sorted, reusing its own buffer.
    exts.retain(|e| *e != EXT_SERVER_NAME && *e != EXT_ALPN);
    exts.sort_unstable();
    let sigs = || ch.signature_algorithms.iter().copied().filter(|s| !is_grease(*s));
    let mut c = String::with_capacity((exts.len() + ch.signature_algorithms.len()) * 5 + 1);
    push_hex4_list(&mut c, &exts);
    exts.clear();
    exts.extend(sigs());
    if !exts.is_empty() {
        c.push('_');
        push_hex4_list(&mut c, &exts);
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

/// `771-4865-4866`: decimal values joined by dashes, appended digit by digit to `out` (this
/// runs for every ClientHello; the formatting machinery per element cost more than the
/// digest).
fn push_dec_list(out: &mut String, v: impl Iterator<Item = u16>) {
    for (i, x) in v.enumerate() {
        if i > 0 {
            out.push('-');
        }
        push_dec(out, x);
    }
}

fn push_dec(out: &mut String, x: u16) {
    let mut digits = [0u8; 5];
    let mut n = x;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(d as char);
    }
}

/// Digests remembered per thread by [`md5_hex`] and [`hash12`]; when full a memo starts over.
/// With [`DIGEST_MEMO_MAX_INPUT`] this bounds each memo to about 2 MiB however hostile the
/// inputs; a network's distinct client fingerprints are far fewer.
const DIGEST_MEMO_MAX: usize = 512;
/// Longer inputs are digested every time rather than remembered (real JA3/JA4/HASSH inputs are
/// a few hundred bytes to about 1.5 KiB).
const DIGEST_MEMO_MAX_INPUT: usize = 4096;

type DigestMemo = std::cell::RefCell<std::collections::HashMap<Box<str>, [u8; 32]>>;

thread_local! {
    static MD5_MEMO: DigestMemo = DigestMemo::default();
    static SHA256_MEMO: DigestMemo = DigestMemo::default();
}

/// The first 32 lower-case hex digits of `digest(s)`, remembered per thread: the same client
/// software sends the same JA3, JA4 and HASSH inputs on every connection, and a HASSH input
/// (a KEXINIT's algorithm lists, a kilobyte or more) costs far more to digest than to look
/// up. The maps are keyed with std's randomly seeded SipHash, as the inputs are
/// attacker-chosen.
fn memo_hex(memo: &'static std::thread::LocalKey<DigestMemo>, s: &str, digest: impl FnOnce(&[u8]) -> Vec<u8>) -> [u8; 32] {
    let remember = s.len() <= DIGEST_MEMO_MAX_INPUT;
    if remember && let Some(hit) = memo.with(|m| m.borrow().get(s).copied()) {
        return hit;
    }
    let d = digest(s.as_bytes());
    let mut h = [b'0'; 32];
    // Cannot fail: the digests used here have at least 16 bytes, and only 16 are encoded.
    let _ = hex::encode_to_slice(d.get(..16).unwrap_or(&[0; 16]), &mut h);
    if !remember {
        return h;
    }
    memo.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= DIGEST_MEMO_MAX {
            m.clear();
        }
        m.insert(s.into(), h);
    });
    h
}

/// Lower-case hex MD5 of `s` (JA3, JA3S, HASSH), through the per-thread memo.
pub(crate) fn md5_hex(s: &str) -> String {
    let h = memo_hex(&MD5_MEMO, s, |b| Md5::digest(b).to_vec());
    h.iter().map(|&c| c as char).collect()
}

/// JA3: the string "version,ciphers,extensions,groups,point_formats" and its MD5.
pub fn ja3(ch: &ClientHello) -> (String, String) {
    let mut s = String::with_capacity(256);
    push_dec(&mut s, ch.legacy_version);
    s.push(',');
    push_dec_list(&mut s, ch.cipher_suites.iter().copied().filter(|c| !is_grease(*c)));
    s.push(',');
    push_dec_list(&mut s, ch.extensions.iter().copied().filter(|e| !is_grease(*e)));
    s.push(',');
    push_dec_list(&mut s, ch.supported_groups.iter().copied().filter(|g| !is_grease(*g)));
    s.push(',');
    push_dec_list(&mut s, ch.ec_point_formats.iter().map(|&f| u16::from(f)));
    let h = md5_hex(&s);
    (s, h)
}

/// JA3S: the string "version,cipher,extensions" and its MD5.
pub fn ja3s(sh: &ServerHello) -> (String, String) {
    let mut s = String::with_capacity(128);
    push_dec(&mut s, sh.legacy_version);
    s.push(',');
    push_dec(&mut s, sh.cipher);
    s.push(',');
    push_dec_list(&mut s, sh.extensions.iter().copied().filter(|e| !is_grease(*e)));
    let h = md5_hex(&s);
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
                0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ],
            extensions: vec![
                0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a,
                0x0015,
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

    /// The memoised digests equal the direct ones, on first sight, on a hit, and after the
    /// memo started over.
    #[test]
    fn memoised_digests_equal_direct_ones() {
        assert_eq!(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(hash12("abc"), "ba7816bf8f01");
        assert_eq!(hash12("abc"), "ba7816bf8f01");
        for i in 0..(DIGEST_MEMO_MAX as u32 + 50) {
            let s = format!("input-{i}");
            assert_eq!(md5_hex(&s), hex::encode(Md5::digest(s.as_bytes())), "{s}");
            assert_eq!(hash12(&s), hex::encode(Sha256::digest(s.as_bytes()))[..12], "{s}");
        }
        assert_eq!(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
        let long = "x".repeat(DIGEST_MEMO_MAX_INPUT + 1);
        assert_eq!(md5_hex(&long), hex::encode(Md5::digest(long.as_bytes())));
        assert!(MD5_MEMO.with(|m| !m.borrow().contains_key(long.as_str())));
        let mut d = String::new();
        for x in [0u16, 7, 10, 99, 771, 4865, 65535] {
            push_dec(&mut d, x);
            d.push(' ');
        }
        assert_eq!(d, "0 7 10 99 771 4865 65535 ");
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
        let sh = ServerHello { legacy_version: 771, cipher: 49199, extensions: vec![65281, 0, 11, 16, 23], ..Default::default() };
        assert_eq!(ja3s(&sh), ("771,49199,65281-0-11-16-23".to_string(), "5d79edf64e03689ff559a54e9d9487bc".to_string()));
    }
}
