//! Unencrypted private keys: PEM (RSA, EC, DSA, PKCS#8, PGP), OpenSSH (cipher `none`) and
//! PuTTY `.ppk` (`Encryption: none`). Encrypted keys are not reported: they need their
//! passphrase first.

use crate::hit::{Category, Hit};
use base64::Engine;

const MAX_BLOCK: usize = 64 * 1024;

/// Finds private-key blocks in `text`.
pub fn scan_private_keys(text: &str, out: &mut Vec<Hit>) {
    let mut from = 0;
    let mut guard = 0;
    while let Some(rel) = text.get(from..).and_then(|t| t.find("-----BEGIN ")) {
        guard += 1;
        if guard > 10_000 {
            break;
        }
        let start = from + rel;
        let after = start + "-----BEGIN ".len();
        let Some(label_end) = text[after..].find("-----").map(|i| after + i) else { break };
        let label = &text[after..label_end];
        from = label_end + 5;
        if label.len() > 40 || !label.ends_with("PRIVATE KEY") && !label.ends_with("PRIVATE KEY BLOCK") {
            continue;
        }
        let kind = label.trim_end_matches(" BLOCK").trim_end_matches("PRIVATE KEY").trim();
        if !matches!(kind, "" | "RSA" | "EC" | "DSA" | "OPENSSH" | "ENCRYPTED" | "PGP" | "ED25519" | "SSH2") {
            continue;
        }
        let body_start = label_end + 5;
        let limit = (body_start + MAX_BLOCK).min(text.len());
        let limit = floor_char_boundary(text, limit);
        let end_marker = text[body_start..limit].find("-----END").map(|i| body_start + i);
        let block_end = match end_marker {
            Some(e) => text[e + 8..limit].find("-----").map_or(limit, |i| e + 8 + i + 5),
            None => limit,
        };
        let body = &text[body_start..end_marker.unwrap_or(limit)];
        from = block_end.max(from);
        if label.contains("ENCRYPTED") || body.contains("Proc-Type: 4,ENCRYPTED") || body.contains("DEK-Info:") {
            continue;
        }
        // Documentation elisions are not keys.
        if body.contains("...") || body.contains('…') {
            continue;
        }
        let b64 = base64_body(body);
        if b64.len() < 64 || crate::secret::entropy(&b64) < 4.0 {
            // Too short or a mask (`MIIE...`, `xxxx`): a template, not a key.
            continue;
        }
        let mut confidence = if end_marker.is_some() { 0.9 } else { 0.7 };
        let mut note = None;
        if label.contains("OPENSSH") {
            match openssh_cipher(&b64) {
                Some(c) if c == "none" => note = Some("OpenSSH key, cipher none"),
                Some(_) => continue,
                None => confidence -= 0.2,
            }
        }
        let secret = format!("-----BEGIN {label}-----{}", &b64[..b64.len().min(64)]);
        let mut h = Hit::new("private_key", Category::PrivateKey, confidence, &secret, start, block_end);
        if let Some(n) = note {
            h = h.with_note(n);
        } else {
            h = h.with_note(&format!("{} not encrypted", label.trim()));
        }
        out.push(h);
    }
    scan_ppk(text, out);
    scan_jwk(text, out);
}

/// JSON Web Keys with private parts: `"d"` (RSA/EC/OKP private exponent) or `"k"` (a
/// symmetric `oct` key) next to a `"kty"`.
fn scan_jwk(text: &str, out: &mut Vec<Hit>) {
    let mut from = 0;
    let mut guard = 0;
    while let Some(rel) = text.get(from..).and_then(|t| t.find("\"kty\"")) {
        guard += 1;
        if guard > 10_000 {
            break;
        }
        let start = from + rel;
        from = start + 5;
        let obj_end = text[start..].find('}').map_or(text.len().min(start + 8192), |i| start + i);
        let obj = &text[start..obj_end];
        for field in ["\"d\"", "\"k\""] {
            let Some(fp) = obj.find(field) else { continue };
            let rest = obj[fp + 3..].trim_start();
            let Some(rest) = rest.strip_prefix(':') else { continue };
            let rest = rest.trim_start();
            let Some(body) = rest.strip_prefix('"') else { continue };
            let Some(end) = body.find('"') else { continue };
            let v = &body[..end];
            if v.len() >= 16 && crate::secret::entropy(v) >= 3.5 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                let vend = obj_end - obj.len() + fp + 3 + (obj[fp + 3..].len() - body.len()) + end;
                out.push(
                    Hit::new("jwk_private_key", Category::PrivateKey, 0.85, v, start, vend.max(start))
                        .with_note("JSON Web Key with its private part"),
                );
                break;
            }
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The base64 characters of a key body, with literal `\n` escapes and string-concatenation
/// noise of source code removed.
fn base64_body(body: &str) -> String {
    let cleaned = body.replace("\\r", "\n").replace("\\n", "\n");
    let mut out = String::new();
    for l in cleaned.lines() {
        if l.contains("Proc-Type:") || l.contains("DEK-Info:") || l.contains("Comment:") {
            continue;
        }
        // The longest base64 run of the line: drops log timestamps, quotes, `+`-joins.
        let best =
            l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=')).max_by_key(|r| r.len()).unwrap_or("");
        if best.len() >= 16 || (!out.is_empty() && best.len() >= 4 && best.ends_with('=')) {
            out.push_str(best);
        }
    }
    out
}

/// The cipher name of an `openssh-key-v1` blob, if it decodes.
fn openssh_cipher(b64: &str) -> Option<String> {
    let trimmed = b64.trim_end_matches('=');
    let n = trimmed.len() / 4 * 4;
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed.get(..n)?).ok()?;
    let magic = b"openssh-key-v1\0";
    let rest = bytes.strip_prefix(magic.as_slice())?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let name = rest.get(4..4usize.checked_add(len)?)?;
    Some(String::from_utf8_lossy(name).into_owned())
}

/// PuTTY private key files with `Encryption: none`.
fn scan_ppk(text: &str, out: &mut Vec<Hit>) {
    let mut from = 0;
    while let Some(rel) = text.get(from..).and_then(|t| t.find("PuTTY-User-Key-File-")) {
        let start = from + rel;
        from = start + 20;
        let window_end = floor_char_boundary(text, (start + MAX_BLOCK).min(text.len()));
        let window = &text[start..window_end];
        let enc = window.lines().find_map(|l| l.strip_prefix("Encryption:")).map(str::trim);
        if enc != Some("none") {
            continue;
        }
        let Some(pl) = window.find("Private-Lines:") else { continue };
        let end = window[pl..].find("Private-MAC:").map_or(window.len(), |i| pl + i);
        let body: String = window[pl..end].lines().skip(1).collect();
        if body.len() < 32 {
            continue;
        }
        out.push(
            Hit::new("putty_private_key", Category::PrivateKey, 0.9, &body.chars().take(64).collect::<String>(), start, start + end)
                .with_note("PuTTY key, Encryption: none"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENSSH_NONE: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBqIPMG94HL7zedFzsvi45mHS8ZdF9UaGVLZXlZb3VBcmVMb29raW5nRm9S8wb3Mj0t\n-----END OPENSSH PRIVATE KEY-----\n";

    #[test]
    fn openssh_cipher_none_is_found() {
        let mut v = Vec::new();
        scan_private_keys(OPENSSH_NONE, &mut v);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].note.as_deref(), Some("OpenSSH key, cipher none"));
    }

    #[test]
    fn encrypted_and_template_keys_are_not() {
        let enc = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,ABC\n\nMIIEpAIBAAKCAQEAqL0kJ3m1KqJ3Q8y1zL0b7xV9sY2dQ4nK8fR5tW1eG6hU3jI9oP2aS7dF4gH1jK5lZ8xC0vB3nM6qW9eR2tY\n-----END RSA PRIVATE KEY-----";
        let tpl = "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----";
        let mut v = Vec::new();
        scan_private_keys(enc, &mut v);
        scan_private_keys(tpl, &mut v);
        assert!(v.is_empty());
    }
}
