//! Synthesised DER X.509 certificates (RSA 2048, sha256WithRSAEncryption, a subjectAltName).
//!
//! The structure is real DER that any X.509 parser accepts; the key and signature are random
//! bytes of the right shape (no private key exists, nothing is signed), which is all a passive
//! sensor can ever see of them.

use rand::RngCore;
use rand_chacha::ChaCha8Rng;

const OID_SHA256_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_O: &[u8] = &[0x55, 0x04, 0x0a];
const OID_C: &[u8] = &[0x55, 0x04, 0x06];
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];
const OID_BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];

/// A DER TLV with a definite length.
pub fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 4);
    v.push(tag);
    let n = body.len();
    if n < 0x80 {
        v.push(n as u8);
    } else if n < 0x100 {
        v.extend_from_slice(&[0x81, n as u8]);
    } else {
        v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    v.extend_from_slice(body);
    v
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A positive INTEGER from big-endian magnitude bytes.
fn uint(mag: &[u8]) -> Vec<u8> {
    let mut m: &[u8] = mag;
    while m.len() > 1 && m[0] == 0 {
        m = &m[1..];
    }
    if m.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v = vec![0u8];
        v.extend_from_slice(m);
        tlv(0x02, &v)
    } else {
        tlv(0x02, m)
    }
}

fn alg(oid: &[u8]) -> Vec<u8> {
    seq(&[&tlv(0x06, oid), &[0x05, 0x00]])
}

/// A distinguished name; `country` and `org` are optional.
fn name(country: Option<&str>, org: Option<&str>, cn: &str) -> Vec<u8> {
    let mut rdns = Vec::new();
    if let Some(c) = country {
        rdns.extend(tlv(0x31, &seq(&[&tlv(0x06, OID_C), &tlv(0x13, c.as_bytes())])));
    }
    if let Some(o) = org {
        rdns.extend(tlv(0x31, &seq(&[&tlv(0x06, OID_O), &tlv(0x0c, o.as_bytes())])));
    }
    rdns.extend(tlv(0x31, &seq(&[&tlv(0x06, OID_CN), &tlv(0x0c, cn.as_bytes())])));
    tlv(0x30, &rdns)
}

/// UTCTime "YYMMDDHHMMSSZ" for a Unix time (valid 1950–2049, which is all the simulator uses).
fn utc_time(unix: i64) -> Vec<u8> {
    let dt = chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default();
    tlv(0x17, dt.format("%y%m%d%H%M%SZ").to_string().as_bytes())
}

/// What a certificate says.
#[derive(Clone, Debug)]
pub struct CertSpec<'a> {
    pub subject_cn: &'a str,
    pub subject_org: Option<&'a str>,
    pub issuer_cn: &'a str,
    pub issuer_org: Option<&'a str>,
    pub country: Option<&'a str>,
    pub not_before: i64,
    pub not_after: i64,
    /// Names for the subjectAltName extension (none: no extension block entry for SAN).
    pub dns_names: &'a [&'a str],
    pub ca: bool,
}

/// Builds a certificate. Randomness (serial, key, signature) comes from `rng`.
pub fn certificate(spec: &CertSpec<'_>, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut serial = [0u8; 16];
    rng.fill_bytes(&mut serial);
    serial[0] = (serial[0] & 0x7f) | 0x10;
    let mut modulus = [0u8; 256];
    rng.fill_bytes(&mut modulus);
    modulus[0] |= 0x80;
    modulus[255] |= 1;
    let rsa_key = seq(&[&uint(&modulus), &uint(&[0x01, 0x00, 0x01])]);
    let mut bits = vec![0u8];
    bits.extend_from_slice(&rsa_key);
    let spki = seq(&[&alg(OID_RSA), &tlv(0x03, &bits)]);

    let mut exts = Vec::new();
    if spec.ca {
        let bc = seq(&[&[0x01, 0x01, 0xff]]);
        exts.extend(seq(&[&tlv(0x06, OID_BASIC_CONSTRAINTS), &[0x01, 0x01, 0xff], &tlv(0x04, &bc)]));
    }
    if !spec.dns_names.is_empty() {
        let names: Vec<u8> = spec.dns_names.iter().flat_map(|n| tlv(0x82, n.as_bytes())).collect();
        exts.extend(seq(&[&tlv(0x06, OID_SAN), &tlv(0x04, &tlv(0x30, &names))]));
    }
    let version = tlv(0xa0, &tlv(0x02, &[2]));
    let issuer = name(spec.country, spec.issuer_org, spec.issuer_cn);
    let subject = name(spec.country, spec.subject_org, spec.subject_cn);
    let validity = seq(&[&utc_time(spec.not_before), &utc_time(spec.not_after)]);
    let mut tbs_parts: Vec<Vec<u8>> = vec![version, uint(&serial), alg(OID_SHA256_RSA), issuer, validity, subject, spki];
    if !exts.is_empty() {
        tbs_parts.push(tlv(0xa3, &tlv(0x30, &exts)));
    }
    let tbs = tlv(0x30, &tbs_parts.concat());
    let mut sig = vec![0u8; 257];
    rng.fill_bytes(&mut sig[1..]);
    seq(&[&tbs, &alg(OID_SHA256_RSA), &tlv(0x03, &sig)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Walks DER TLVs recursively and checks every length adds up exactly.
    fn walk(mut b: &[u8], depth: usize) -> usize {
        let mut n = 0;
        while !b.is_empty() {
            let tag = b[0];
            let (len, hl) = match b[1] {
                l if l < 0x80 => (l as usize, 2),
                0x81 => (b[2] as usize, 3),
                0x82 => (((b[2] as usize) << 8) | b[3] as usize, 4),
                _ => panic!("unexpected length form"),
            };
            let body = &b[hl..hl + len];
            // Constructed tags (and the BIT STRING/OCTET STRING we know hold DER) recurse.
            if tag & 0x20 != 0 && depth < 12 {
                walk(body, depth + 1);
            }
            n += 1;
            b = &b[hl + len..];
        }
        n
    }

    #[test]
    fn certificate_is_well_formed_der() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let spec = CertSpec {
            subject_cn: "www.example.com",
            subject_org: None,
            issuer_cn: "Example CA",
            issuer_org: Some("Example"),
            country: Some("US"),
            not_before: 1_700_000_000,
            not_after: 1_731_536_000,
            dns_names: &["www.example.com", "example.com"],
            ca: false,
        };
        let der = certificate(&spec, &mut rng);
        assert_eq!(walk(&der, 0), 1, "one top-level SEQUENCE spanning the whole buffer");
        assert!(der.windows(15).any(|w| w == b"www.example.com"));
        assert!(der.windows(13).any(|w| w == b"231114221320Z"));
    }
}
