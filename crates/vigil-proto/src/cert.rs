//! X.509 certificate summary (Zeek's x509.log essentials) from a DER certificate sent in a TLS
//! Certificate message. Parsing is delegated to `x509-parser`; names are rendered the way
//! OpenSSL's RFC 2253 printer (and so Zeek) renders them: most specific attribute first,
//! comma separated.

use sha2::{Digest, Sha256};
use vigil_model::{CertMeta, Timestamp};
use x509_parser::der_parser::oid::Oid;
use x509_parser::extensions::GeneralName;
use x509_parser::objects::{oid_registry, oid2abbrev, oid2sn};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::X509Name;

/// SAN DNS names kept per certificate.
const MAX_SAN: usize = 256;

/// OpenSSL's short names for attributes x509-parser names differently.
fn attr_name(oid: &Oid) -> String {
    match oid.to_id_string().as_str() {
        "2.5.4.9" => "street".into(),
        "2.5.4.17" => "postalCode".into(),
        "2.5.4.5" => "serialNumber".into(),
        "2.5.4.15" => "businessCategory".into(),
        "1.2.840.113549.1.9.1" => "emailAddress".into(),
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC".into(),
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST".into(),
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL".into(),
        id => oid2abbrev(oid, oid_registry()).map(str::to_string).unwrap_or_else(|_| id.to_string()),
    }
}

/// RFC 2253 escaping of an attribute value.
fn escape_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i + 1 == v.chars().count() && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Renders a distinguished name as OpenSSL's `XN_FLAG_RFC2253` does.
pub fn render_name(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let value = match atv.as_str() {
                        Ok(s) => s.to_string(),
                        Err(_) => String::from_utf8_lossy(atv.attr_value().data).into_owned(),
                    };
                    format!("{}={}", attr_name(atv.attr_type()), escape_value(&value))
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// Bits in a big-endian unsigned integer (leading zero bytes and bits ignored).
fn int_bits(b: &[u8]) -> u32 {
    let Some(start) = b.iter().position(|&x| x != 0) else { return 0 };
    let rest = (b.len() - start - 1) as u32;
    rest.saturating_mul(8).saturating_add(8 - b[start].leading_zeros())
}

/// The serial as Zeek prints it: upper-case hex without the DER sign byte.
fn serial_hex(raw: &[u8]) -> String {
    let start = raw.iter().position(|&b| b != 0).unwrap_or(raw.len().saturating_sub(1));
    hex::encode_upper(raw.get(start..).unwrap_or(raw))
}

/// Summarises one DER certificate; `None` if it does not parse.
pub fn parse_certificate(der: &[u8]) -> Option<CertMeta> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let tbs = &cert.tbs_certificate;
    let mut meta = CertMeta {
        subject: render_name(tbs.subject()),
        issuer: render_name(tbs.issuer()),
        serial: serial_hex(tbs.raw_serial()),
        not_before: Some(Timestamp::from_secs(tbs.validity().not_before.timestamp())),
        not_after: Some(Timestamp::from_secs(tbs.validity().not_after.timestamp())),
        sha256: hex::encode(Sha256::digest(der)),
        // Blocklists such as abuse.ch SSLBL still name certificates by SHA-1.
        sha1: hex::encode(sha1::Sha1::digest(der)),
        ..Default::default()
    };
    // Self-signed: same issuer and subject, and the signature checks out where the key type
    // lets us tell without a crypto backend, i.e. the authority key id (if present) names the
    // certificate's own key.
    let same_name = tbs.subject().as_raw() == tbs.issuer().as_raw();
    let aki = tbs.extensions().iter().find_map(|e| match e.parsed_extension() {
        x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(a) => a.key_identifier.as_ref().map(|k| k.0),
        _ => None,
    });
    let ski = tbs.extensions().iter().find_map(|e| match e.parsed_extension() {
        x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0),
        _ => None,
    });
    meta.self_signed = same_name && !matches!((aki, ski), (Some(a), Some(s)) if a != s);
    if let Ok(Some(san)) = tbs.subject_alternative_name() {
        meta.san_dns = san
            .value
            .general_names
            .iter()
            .filter_map(|g| match g {
                GeneralName::DNSName(d) => Some(d.to_string()),
                _ => None,
            })
            .take(MAX_SAN)
            .collect();
    }
    let spki = tbs.subject_pki.clone();
    meta.key_alg = oid2sn(&spki.algorithm.algorithm, oid_registry()).ok().map(str::to_string);
    meta.key_length = match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => Some(int_bits(rsa.modulus)),
        Ok(PublicKey::DSA(y)) => Some(int_bits(y)),
        Ok(k @ PublicKey::EC(_)) => u32::try_from(k.key_size()).ok(),
        _ => None,
    }
    .filter(|&n| n > 0);
    Some(meta)
}

/// Certificates remembered per thread by [`parse_certificate_cached`]. Servers send the same
/// leaf on every connection, so most handshakes hit; when full the cache starts over, which
/// bounds memory against a flood of distinct certificates.
const CERT_CACHE_MAX: usize = 4096;

thread_local! {
    static CERT_CACHE: std::cell::RefCell<std::collections::HashMap<[u8; 32], Option<CertMeta>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// [`parse_certificate`] with a per-thread cache keyed by the certificate's SHA-256 (which the
/// caller has already computed for the chain). The same answer as parsing, without the X.509
/// parse for a certificate seen before, as Zeek's certificate cache does.
pub fn parse_certificate_cached(der: &[u8], sha256: &[u8; 32]) -> Option<CertMeta> {
    if let Some(hit) = CERT_CACHE.with(|c| c.borrow().get(sha256).cloned()) {
        return hit;
    }
    let meta = parse_certificate(der);
    CERT_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CERT_CACHE_MAX {
            c.clear();
        }
        c.insert(*sha256, meta.clone());
    });
    meta
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_parse_equals_direct_parse() {
        let der = include_bytes!("../testdata/cert-selfsigned.der");
        let digest: [u8; 32] = Sha256::digest(der).into();
        let direct = parse_certificate(der);
        assert!(direct.is_some());
        let m = direct.as_ref().unwrap();
        assert_eq!(m.sha256, hex::encode(digest));
        assert_eq!(m.sha1.len(), 40);
        assert_eq!(m.sha1, hex::encode(sha1::Sha1::digest(der)));
        assert_eq!(parse_certificate_cached(der, &digest), direct);
        // Second call is served from the cache, same answer.
        assert_eq!(parse_certificate_cached(der, &digest), direct);
        // Garbage is remembered as unparseable, never as someone else's certificate.
        let junk = [0x30u8, 0x03, 0x02, 0x01, 0x05];
        let jd: [u8; 32] = Sha256::digest(junk).into();
        assert_eq!(parse_certificate_cached(&junk, &jd), None);
        assert_eq!(parse_certificate_cached(&junk, &jd), None);
    }

    #[test]
    fn integer_bit_lengths() {
        assert_eq!(int_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(int_bits(&[0x01]), 1);
        assert_eq!(int_bits(&[]), 0);
        assert_eq!(int_bits(&[0, 0]), 0);
    }

    #[test]
    fn serial_rendering() {
        assert_eq!(serial_hex(&[0x00, 0x99, 0xfa]), "99FA");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[0x55]), "55");
        assert_eq!(serial_hex(&[]), "");
    }

    #[test]
    fn rfc2253_escaping() {
        assert_eq!(escape_value("a,b"), "a\\,b");
        assert_eq!(escape_value("#x "), "\\#x\\ ");
        assert_eq!(escape_value("plain"), "plain");
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(parse_certificate(&[0x30, 0x82, 0x01]).is_none());
        assert!(parse_certificate(&[]).is_none());
    }
}
