//! Admin-tool credential stores whose "protection" is no protection: WinSCP (fixed XOR
//! obfuscation, decoded here to confirm), FileZilla (base64), mRemoteNG (AES with the default
//! key `mR3m`, decrypted here to confirm), PuTTY/KiTTY sessions (proxy passwords in clear),
//! RDP files (saved `password 51:b:`), Xshell/Xftp, SecureCRT, MobaXterm, Navicat exports,
//! `.netrc`, `.pgpass`. Recognised by content, so a store inside a zip is found as well.

use crate::hit::{Category, Hit};
use crate::secret;
use base64::Engine;
use regex::Regex;
use std::sync::OnceLock;

/// Markers of the stores, found in one pass over the text (bit i = `MARKERS[i]` occurs).
const MARKERS: &[&str] = &[
    "[Sessions\\",
    "\\WinSCP 2\\Sessions\\",
    "SimonTatham\\PuTTY\\Sessions",
    "9bis.com\\KiTTY",
    "ProxyPassword\\",
    "<FileZilla",
    "mrng:Connections",
    "<Connections",
    "ConfVersion",
    "password 51:b:",
    "[CONNECTION:AUTHENTICATION]",
    "S:\"Password",
    "[Passwords]",
    "[Credentials]",
    "<Connections Ver=",
    "\nmachine ",
    "Ver=",
];

fn markers(text: &str) -> u32 {
    static AC: OnceLock<aho_corasick::AhoCorasick> = OnceLock::new();
    #[allow(clippy::expect_used)]
    let ac = AC.get_or_init(|| {
        aho_corasick::AhoCorasickBuilder::new()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(MARKERS)
            .expect("marker automaton builds")
    });
    // A leftmost search (fast: SIMD prefilter) restarted one byte after each match start
    // sees every marker that starts elsewhere; markers extending the one found at the same
    // start (`<Connections` → `<Connections Ver=`) are checked directly.
    let mut bits = 0u32;
    let mut at = 0;
    while at < text.len() {
        let Some(m) = ac.find(aho_corasick::Input::new(text).span(at..text.len())) else { break };
        at = m.start() + 1;
        let found = MARKERS[m.pattern().as_usize()];
        bits |= 1 << m.pattern().as_usize();
        for (j, longer) in MARKERS.iter().enumerate() {
            if longer.len() > found.len() && longer.starts_with(found) && text[m.start()..].starts_with(longer) {
                bits |= 1 << j;
            }
        }
    }
    bits
}

fn has(bits: u32, marker: &str) -> bool {
    MARKERS.iter().position(|m| *m == marker).is_some_and(|i| bits & (1 << i) != 0)
}

/// Scans `text` (from a file named `name`) for admin-tool stores.
pub fn scan_admin_tools(name: &str, text: &str, out: &mut Vec<Hit>) {
    let bits = markers(text);
    let lname = name.rsplit(['/', '\\', '!']).next().unwrap_or(name).to_ascii_lowercase();
    let h = |m: &str| has(bits, m);
    if h("[Sessions\\") || h("\\WinSCP 2\\Sessions\\") || lname == "winscp.ini" {
        scan_winscp(text, out);
    }
    if h("SimonTatham\\PuTTY\\Sessions") || h("9bis.com\\KiTTY") || h("ProxyPassword\\") {
        scan_putty(text, out);
    }
    if h("<FileZilla") || lname == "sitemanager.xml" || lname == "recentservers.xml" || lname == "filezilla.xml" {
        scan_filezilla(text, out);
    }
    if h("mrng:Connections") || (h("<Connections") && h("ConfVersion")) || lname == "confcons.xml" {
        scan_mremoteng(text, out);
    }
    if lname.ends_with(".rdp") || h("password 51:b:") {
        scan_rdp(text, out);
    }
    if lname.ends_with(".xsh") || lname.ends_with(".xfp") || h("[CONNECTION:AUTHENTICATION]") {
        scan_xshell(text, out);
    }
    if h("S:\"Password") {
        scan_securecrt(text, out);
    }
    if lname == "mobaxterm.ini" || h("[Passwords]") || h("[Credentials]") {
        scan_mobaxterm(text, out);
    }
    if lname.ends_with(".ncx") || h("<Connections Ver=") {
        scan_navicat(text, out);
    }
    if lname == ".netrc" || lname == "_netrc" || lname.ends_with(".netrc") || text.starts_with("machine ") || h("\nmachine ") {
        scan_netrc(text, out);
    }
    if lname == ".pgpass" || lname == "pgpass.conf" {
        scan_pgpass(text, out);
    }
}

/// Is this text an encrypting admin-tool store (mRemoteNG, Navicat, WinSCP, FileZilla,
/// Xshell, SecureCRT, MobaXterm)? Its `Password=` values are ciphertexts that only the
/// store-specific scanner can judge.
pub fn is_encrypting_store(name: &str, text: &str) -> bool {
    let bits = markers(text);
    let h = |m: &str| has(bits, m);
    let lname = name.rsplit(['/', '\\', '!']).next().unwrap_or(name).to_ascii_lowercase();
    h("mrng:Connections")
        || (h("<Connections") && (h("ConfVersion") || h("Ver=")))
        || h("[Sessions\\")
        || h("<FileZilla")
        || h("S:\"Password")
        || h("[CONNECTION:AUTHENTICATION]")
        || lname.ends_with(".ncx")
        || lname == "mobaxterm.ini"
        || lname.ends_with(".xsh")
        || lname.ends_with(".xfp")
        || lname.ends_with(".rdp")
}

/// `key=value` and `"key"="value"` lines with the `[section]` they are in.
fn ini_entries(text: &str) -> impl Iterator<Item = (&str, &str, &str, usize)> {
    let mut section = "";
    let mut off = 0usize;
    text.split('\n').filter_map(move |raw| {
        let line_off = off;
        off = off.saturating_add(raw.len() + 1);
        let line = raw.trim_end_matches('\r');
        let t = line.trim();
        if t.starts_with('[') && t.ends_with(']') {
            section = &t[1..t.len() - 1];
            return None;
        }
        let eq = t.find('=')?;
        let k = t[..eq].trim().trim_matches('"');
        let v = t[eq + 1..].trim().trim_matches('"');
        let voff = line_off + line.find(v).unwrap_or(0);
        Some((section, k, v, voff))
    })
}

// ---------------------------------------------------------------- WinSCP

const PWALG_SIMPLE_MAGIC: u8 = 0xA3;
const PWALG_SIMPLE_FLAG: u8 = 0xFF;

/// Decodes WinSCP's stored password obfuscation (no master password). `key` is user+host.
pub fn winscp_decode(hex_pw: &str, user: &str, host: &str) -> Option<String> {
    let nibbles: Vec<u8> = hex_pw.chars().map(|c| c.to_digit(16).map(|d| d as u8)).collect::<Option<_>>()?;
    let mut it = nibbles.chunks_exact(2).map(|p| !(((p[0] << 4) + p[1]) ^ PWALG_SIMPLE_MAGIC));
    let flag = it.next()?;
    let len = if flag == PWALG_SIMPLE_FLAG {
        it.next()?;
        it.next()?
    } else {
        flag
    };
    let skip = it.next()? as usize;
    for _ in 0..skip {
        it.next()?;
    }
    let bytes: Vec<u8> = (0..len).map(|_| it.next()).collect::<Option<_>>()?;
    let s = String::from_utf8(bytes).ok()?;
    if flag == PWALG_SIMPLE_FLAG {
        let key = format!("{user}{host}");
        s.strip_prefix(&key).map(str::to_string)
    } else {
        Some(s)
    }
}

/// The inverse of [`winscp_decode`], as WinSCP writes it (used to build test fixtures).
pub fn winscp_encode(password: &str, user: &str, host: &str) -> String {
    let full = format!("{user}{host}{password}");
    let enc = |b: u8| {
        let v = !(b ^ PWALG_SIMPLE_MAGIC);
        format!("{:X}{:X}", v >> 4, v & 0x0f)
    };
    let mut s = String::new();
    s.push_str(&enc(PWALG_SIMPLE_FLAG));
    s.push_str(&enc(0));
    s.push_str(&enc(full.len().min(255) as u8));
    s.push_str(&enc(0));
    for b in full.bytes().take(255) {
        s.push_str(&enc(b));
    }
    s
}

fn scan_winscp(text: &str, out: &mut Vec<Hit>) {
    let mut cur_section = String::new();
    let mut host = String::new();
    let mut user = String::new();
    let mut pending: Vec<(String, usize)> = Vec::new();
    let flush = |host: &str, user: &str, pending: &mut Vec<(String, usize)>, out: &mut Vec<Hit>| {
        for (pw, off) in pending.drain(..) {
            let decoded = winscp_decode(&pw, user, host);
            let (conf, note, secret) = match &decoded {
                Some(p) if !p.is_empty() => (0.95, "WinSCP password obfuscation decoded", p.clone()),
                _ => (0.6, "WinSCP stored password (not decoded: master password set?)", pw.clone()),
            };
            out.push(
                Hit::new("winscp_ini", Category::AdminToolStore, conf, &secret, off, off + pw.len())
                    .with_account(Some(user))
                    .with_host(Some(host))
                    .with_note(note),
            );
        }
    };
    for (section, k, v, off) in ini_entries(text) {
        if section != cur_section {
            flush(&host, &user, &mut pending, out);
            cur_section = section.to_string();
            host.clear();
            user.clear();
        }
        if !(section.contains("Sessions\\") || section.contains("Sessions/")) {
            continue;
        }
        match k {
            "HostName" => host = v.to_string(),
            "UserName" => user = v.to_string(),
            "Password" | "ProxyPassword" | "TunnelPassword" if !v.is_empty() && v.chars().all(|c| c.is_ascii_hexdigit()) => {
                pending.push((v.to_string(), off));
            }
            _ => {}
        }
    }
    flush(&host, &user, &mut pending, out);
}

// ---------------------------------------------------------------- PuTTY / KiTTY

fn scan_putty(text: &str, out: &mut Vec<Hit>) {
    let mut host = String::new();
    let mut user = String::new();
    let mut section = String::new();
    let mut off = 0usize;
    for raw in text.split('\n') {
        let line_off = off;
        off = off.saturating_add(raw.len() + 1);
        let t = raw.trim_end_matches('\r').trim();
        if t.starts_with('[') {
            section = t.to_string();
            host.clear();
            user.clear();
            continue;
        }
        // .reg: "Key"="Value"; KiTTY portable session files: Key\Value\
        let (k, v) = if let Some(eq) = t.find("\"=\"") {
            (t[..eq].trim_matches('"'), t[eq + 3..].trim_end_matches('"'))
        } else if let Some(bs) = t.find('\\') {
            (&t[..bs], t[bs + 1..].trim_end_matches('\\'))
        } else {
            continue;
        };
        match k {
            "HostName" => host = v.to_string(),
            "UserName" | "ProxyUsername" if user.is_empty() => user = v.to_string(),
            "ProxyPassword" | "Password" if !v.is_empty() && !secret::is_placeholder(v) => {
                // KiTTY's portable session files have no registry sections at all.
                let kitty = section.contains("KiTTY") || section.is_empty() || k == "Password";
                let voff = line_off + raw.find(v).unwrap_or(0);
                let note = if k == "ProxyPassword" { "proxy password stored in clear" } else { "KiTTY saved session password" };
                out.push(
                    Hit::new(
                        if kitty { "kitty_session" } else { "putty_session" },
                        Category::AdminToolStore,
                        0.85,
                        v,
                        voff,
                        voff + v.len(),
                    )
                    .with_account(Some(&user))
                    .with_host(Some(&host))
                    .with_note(note),
                );
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------- FileZilla

fn xml_tag<'a>(block: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}");
    let s = block.find(&open)?;
    let gt = s + block[s..].find('>')?;
    if block[s..gt].ends_with('/') {
        return None;
    }
    let close = format!("</{tag}>");
    let e = gt + block[gt..].find(&close)?;
    Some(&block[gt + 1..e])
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

fn scan_filezilla(text: &str, out: &mut Vec<Hit>) {
    let mut from = 0;
    let mut guard = 0;
    while let Some(rel) = text.get(from..).and_then(|t| t.find("<Pass")) {
        guard += 1;
        if guard > 100_000 {
            break;
        }
        let s = from + rel;
        from = s + 5;
        let Some(gt) = text[s..].find('>').map(|i| s + i) else { break };
        let attrs = &text[s..gt];
        let Some(e) = text[gt..].find("</Pass>").map(|i| gt + i) else { continue };
        let raw = text[gt + 1..e].trim();
        if raw.is_empty() {
            continue;
        }
        let pw = if attrs.contains("base64") {
            match base64::engine::general_purpose::STANDARD.decode(raw) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(_) => continue,
            }
        } else {
            xml_unescape(raw)
        };
        if pw.is_empty() || secret::is_placeholder(&pw) {
            continue;
        }
        // The <Server> block around this password, for host and user.
        let bs = text[..s].rfind("<Server").unwrap_or(s);
        let be = text[e..].find("</Server>").map_or(e, |i| e + i);
        let block = &text[bs..be];
        let host = xml_tag(block, "Host").map(xml_unescape);
        let user = xml_tag(block, "User").map(xml_unescape);
        out.push(
            Hit::new("filezilla_sitemanager", Category::AdminToolStore, 0.95, &pw, gt + 1, e)
                .with_account(user.as_deref())
                .with_host(host.as_deref())
                .with_note("FileZilla password (base64, no encryption)"),
        );
    }
}

// ---------------------------------------------------------------- mRemoteNG

/// mRemoteNG's default encryption password, used whenever the user set none.
pub const MREMOTENG_DEFAULT_KEY: &str = "mR3m";

type Aes256Gcm16 = aes_gcm::AesGcm<aes::Aes256, aes_gcm::aead::consts::U16>;

/// Decrypts an mRemoteNG AES-GCM value: base64(salt16 ‖ nonce16 ‖ ciphertext ‖ tag16), key =
/// PBKDF2-HMAC-SHA1(password, salt, iterations, 32), associated data = salt.
pub fn mremoteng_decrypt_gcm(b64: &str, password: &str, iterations: u32) -> Option<String> {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    let data = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    if data.len() < 48 || !(1..=1_000_000).contains(&iterations) {
        return None;
    }
    let (salt, rest) = data.split_at(16);
    let (nonce, ct) = rest.split_at(16);
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password.as_bytes(), salt, iterations, &mut key);
    let cipher = Aes256Gcm16::new_from_slice(&key).ok()?;
    let plain = cipher.decrypt(aes_gcm::aead::generic_array::GenericArray::from_slice(nonce), Payload { msg: ct, aad: salt }).ok()?;
    String::from_utf8(plain).ok()
}

/// Encrypts as mRemoteNG does (for fixtures and round-trip tests).
pub fn mremoteng_encrypt_gcm(plain: &str, password: &str, salt: [u8; 16], nonce: [u8; 16], iterations: u32) -> String {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password.as_bytes(), &salt, iterations.max(1), &mut key);
    let mut out = salt.to_vec();
    out.extend_from_slice(&nonce);
    if let Ok(cipher) = Aes256Gcm16::new_from_slice(&key)
        && let Ok(ct) =
            cipher.encrypt(aes_gcm::aead::generic_array::GenericArray::from_slice(&nonce), Payload { msg: plain.as_bytes(), aad: &salt })
    {
        out.extend_from_slice(&ct);
    }
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// Legacy mRemoteNG (before 1.76): AES-128-CBC, key = MD5(password), IV = first block.
pub fn mremoteng_decrypt_cbc(b64: &str, password: &str) -> Option<String> {
    use aes::cipher::{BlockDecrypt, KeyInit};
    use md5::Digest;
    let data = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    if data.len() < 32 || data.len() % 16 != 0 || data.len() > 1 << 20 {
        return None;
    }
    let key = md5::Md5::digest(password.as_bytes());
    let cipher = aes::Aes128::new_from_slice(&key).ok()?;
    let mut prev = [0u8; 16];
    prev.copy_from_slice(data.get(..16)?);
    let mut plain = Vec::with_capacity(data.len());
    for chunk in data.get(16..)?.chunks_exact(16) {
        let mut block = aes::Block::clone_from_slice(chunk);
        cipher.decrypt_block(&mut block);
        for (b, p) in block.iter_mut().zip(prev.iter()) {
            *b ^= p;
        }
        plain.extend_from_slice(&block);
        prev.copy_from_slice(chunk);
    }
    let pad = *plain.last()? as usize;
    if pad == 0 || pad > 16 || pad > plain.len() || !plain[plain.len() - pad..].iter().all(|&b| b as usize == pad) {
        return None;
    }
    plain.truncate(plain.len() - pad);
    String::from_utf8(plain).ok()
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let pat = format!(" {name}=\"");
    let s = tag.find(&pat)? + pat.len();
    let e = s + tag[s..].find('"')?;
    Some(&tag[s..e])
}

fn scan_mremoteng(text: &str, out: &mut Vec<Hit>) {
    let root_start = text.find("<mrng:Connections").or_else(|| text.find("<Connections"));
    let root = root_start.and_then(|s| text[s..].find('>').map(|e| &text[s..s + e]));
    let iterations = root.and_then(|r| attr(r, "KdfIterations")).and_then(|v| v.parse().ok()).unwrap_or(1000u32);
    let gcm = root.and_then(|r| attr(r, "BlockCipherMode")).is_none_or(|m| m.eq_ignore_ascii_case("GCM"));
    let legacy = root.and_then(|r| attr(r, "ConfVersion")).and_then(|v| v.parse::<f64>().ok()).is_some_and(|v| v < 2.6);
    let decrypt = |v: &str| -> Option<String> {
        if gcm && !legacy {
            mremoteng_decrypt_gcm(v, MREMOTENG_DEFAULT_KEY, iterations).or_else(|| mremoteng_decrypt_cbc(v, MREMOTENG_DEFAULT_KEY))
        } else {
            mremoteng_decrypt_cbc(v, MREMOTENG_DEFAULT_KEY).or_else(|| mremoteng_decrypt_gcm(v, MREMOTENG_DEFAULT_KEY, iterations))
        }
    };
    // Does the default key open the file at all? `Protected` holds a known plaintext.
    let default_key = root.and_then(|r| attr(r, "Protected")).and_then(&decrypt).is_some();
    let mut from = 0;
    let mut guard = 0;
    while let Some(rel) = text.get(from..).and_then(|t| t.find("<Node ")) {
        guard += 1;
        if guard > 100_000 {
            break;
        }
        let s = from + rel;
        let Some(e) = text[s..].find('>').map(|i| s + i) else { break };
        from = e;
        let tag = &text[s..e];
        let Some(pw) = attr(tag, "Password").filter(|p| !p.is_empty()) else { continue };
        let host = attr(tag, "Hostname");
        let user = attr(tag, "Username");
        let off = s + tag.find(pw).unwrap_or(0);
        match decrypt(pw) {
            Some(p) if !p.is_empty() => out.push(
                Hit::new("mremoteng_confcons", Category::AdminToolStore, 0.95, &p, off, off + pw.len())
                    .with_account(user)
                    .with_host(host)
                    .with_note("decrypted with mRemoteNG's default key"),
            ),
            Some(_) => {}
            None if default_key => out.push(
                Hit::new("mremoteng_confcons", Category::AdminToolStore, 0.7, pw, off, off + pw.len())
                    .with_account(user)
                    .with_host(host)
                    .with_note("file opens with mRemoteNG's default key"),
            ),
            None => {}
        }
    }
}

// ---------------------------------------------------------------- RDP, Xshell, SecureCRT, MobaXterm, Navicat

fn rdp_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.trim_start_matches('\u{feff}').strip_prefix(key)).map(|v| v.trim())
}

fn scan_rdp(text: &str, out: &mut Vec<Hit>) {
    let Some(pos) = text.find("password 51:b:") else { return };
    let vs = pos + "password 51:b:".len();
    let ve = text[vs..].find(['\r', '\n']).map_or(text.len(), |i| vs + i);
    let blob = text[vs..ve].trim();
    if blob.len() < 16 || !blob.chars().all(|c| c.is_ascii_hexdigit()) {
        return;
    }
    out.push(
        Hit::new("rdp_saved_password", Category::AdminToolStore, 0.8, blob, vs, ve)
            .with_account(rdp_field(text, "username:s:"))
            .with_host(rdp_field(text, "full address:s:"))
            .with_note("RDP file with a saved (DPAPI) password"),
    );
}

fn scan_xshell(text: &str, out: &mut Vec<Hit>) {
    let mut host = None;
    let mut user = None;
    let mut found = Vec::new();
    for (section, k, v, off) in ini_entries(text) {
        match (section, k) {
            (_, "Host") => host = Some(v),
            (_, "UserName") => user = Some(v),
            (s, "Password") if !v.is_empty() && (s.contains("AUTHENTICATION") || s.contains("CONNECTION")) => found.push((v, off)),
            _ => {}
        }
    }
    for (v, off) in found {
        out.push(
            Hit::new("xshell_session", Category::AdminToolStore, 0.8, v, off, off + v.len())
                .with_account(user)
                .with_host(host)
                .with_note("Xshell/Xftp saved password (reversible without a master password)"),
        );
    }
}

fn scan_securecrt(text: &str, out: &mut Vec<Hit>) {
    static RE: OnceLock<Regex> = OnceLock::new();
    #[allow(clippy::expect_used)]
    let re = RE.get_or_init(|| Regex::new(r#"(?m)^S:"Password(?: V2)?"=(0[0-2]:)?([0-9a-fA-Fu]{16,})\s*$"#).expect("regex"));
    let host = text.lines().find_map(|l| l.strip_prefix("S:\"Hostname\"=")).map(str::trim);
    let user = text.lines().find_map(|l| l.strip_prefix("S:\"Username\"=")).map(str::trim);
    for c in re.captures_iter(text) {
        let Some(m) = c.get(2) else { continue };
        out.push(
            Hit::new("securecrt_session", Category::AdminToolStore, 0.8, m.as_str(), m.start(), m.end())
                .with_account(user)
                .with_host(host)
                .with_note("SecureCRT password encrypted with the built-in key"),
        );
    }
}

fn scan_mobaxterm(text: &str, out: &mut Vec<Hit>) {
    for (section, k, v, off) in ini_entries(text) {
        if !(section == "Passwords" || section == "Credentials") || v.len() < 8 {
            continue;
        }
        let (account, value) =
            if section == "Credentials" { v.split_once(':').map_or((None, v), |(u, p)| (Some(u), p)) } else { (k.split('@').next(), v) };
        if value.len() < 8 || secret::is_placeholder(value) {
            continue;
        }
        let host = k.rsplit('@').next();
        out.push(
            Hit::new("mobaxterm_ini", Category::AdminToolStore, 0.75, value, off, off + v.len())
                .with_account(account)
                .with_host(host)
                .with_note("MobaXterm stored password"),
        );
    }
}

fn scan_navicat(text: &str, out: &mut Vec<Hit>) {
    let mut from = 0;
    let mut guard = 0;
    while let Some(rel) = text.get(from..).and_then(|t| t.find("<Connection ")) {
        guard += 1;
        if guard > 100_000 {
            break;
        }
        let s = from + rel;
        let Some(e) = text[s..].find('>').map(|i| s + i) else { break };
        from = e;
        let tag = &text[s..e];
        let Some(pw) = attr(tag, "Password").filter(|p| p.len() >= 8 && p.chars().all(|c| c.is_ascii_hexdigit())) else { continue };
        let off = s + tag.find(pw).unwrap_or(0);
        out.push(
            Hit::new("navicat_ncx", Category::AdminToolStore, 0.85, pw, off, off + pw.len())
                .with_account(attr(tag, "UserName"))
                .with_host(attr(tag, "Host"))
                .with_note("Navicat export: password encrypted with Navicat's fixed key"),
        );
    }
}

// ---------------------------------------------------------------- .netrc, .pgpass

fn scan_netrc(text: &str, out: &mut Vec<Hit>) {
    let mut machine = None;
    let mut login = None;
    let mut tokens = Vec::new();
    let mut off = 0usize;
    for (i, ch) in text.char_indices() {
        if ch.is_whitespace() {
            if off < i {
                tokens.push((off, &text[off..i]));
            }
            off = i + ch.len_utf8();
        }
        if tokens.len() > 100_000 {
            break;
        }
    }
    if off < text.len() {
        tokens.push((off, &text[off..]));
    }
    let mut it = tokens.into_iter();
    while let Some((_, t)) = it.next() {
        match t {
            "machine" => machine = it.next().map(|x| x.1),
            "default" => machine = Some("default"),
            "login" => login = it.next().map(|x| x.1),
            "password" => {
                let Some((po, pw)) = it.next() else { break };
                if secret::is_placeholder(pw) || machine.is_none() {
                    continue;
                }
                out.push(
                    Hit::new("netrc", Category::Password, 0.9, pw, po, po + pw.len())
                        .with_account(login)
                        .with_host(machine)
                        .with_note(".netrc password"),
                );
            }
            _ => {}
        }
    }
}

fn scan_pgpass(text: &str, out: &mut Vec<Hit>) {
    let mut off = 0usize;
    for raw in text.split('\n') {
        let line_off = off;
        off = off.saturating_add(raw.len() + 1);
        let l = raw.trim_end_matches('\r');
        if l.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = l.splitn(5, ':').collect();
        if parts.len() == 5 && !parts[4].is_empty() && !secret::is_placeholder(parts[4]) {
            let po = line_off + l.len() - parts[4].len();
            out.push(
                Hit::new("pgpass", Category::Password, 0.9, parts[4], po, po + parts[4].len())
                    .with_account(Some(parts[3]))
                    .with_host(Some(parts[0]))
                    .with_note(".pgpass password"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winscp_round_trip() {
        let enc = winscp_encode("S3cr3t!pw", "root", "10.0.0.5");
        assert_eq!(winscp_decode(&enc, "root", "10.0.0.5").as_deref(), Some("S3cr3t!pw"));
        let ini = format!("[Sessions\\root@10.0.0.5]\nHostName=10.0.0.5\nUserName=root\nPassword={enc}\n");
        let mut v = Vec::new();
        scan_admin_tools("WinSCP.ini", &ini, &mut v);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].secret, "S3cr3t!pw");
        assert_eq!(v[0].confidence, 0.95);
    }

    #[test]
    fn mremoteng_default_key_gcm_and_custom_key() {
        let enc = mremoteng_encrypt_gcm("Adm1n!pass", MREMOTENG_DEFAULT_KEY, [7; 16], [9; 16], 1000);
        assert_eq!(mremoteng_decrypt_gcm(&enc, MREMOTENG_DEFAULT_KEY, 1000).as_deref(), Some("Adm1n!pass"));
        let custom = mremoteng_encrypt_gcm("Adm1n!pass", "my own key", [7; 16], [9; 16], 1000);
        assert!(mremoteng_decrypt_gcm(&custom, MREMOTENG_DEFAULT_KEY, 1000).is_none());
        let xml = format!(
            "<mrng:Connections xmlns:mrng=\"http://mremoteng.org\" Name=\"Connections\" Export=\"false\" EncryptionEngine=\"AES\" BlockCipherMode=\"GCM\" KdfIterations=\"1000\" ConfVersion=\"2.6\">\n<Node Name=\"dc01\" Type=\"Connection\" Username=\"administrator\" Hostname=\"10.1.1.1\" Password=\"{enc}\" />\n<Node Name=\"x\" Username=\"u\" Hostname=\"h\" Password=\"{custom}\" />\n</mrng:Connections>"
        );
        let mut v = Vec::new();
        scan_admin_tools("confCons.xml", &xml, &mut v);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].secret, "Adm1n!pass");
    }

    #[test]
    fn filezilla_base64() {
        let xml = "<FileZilla3><Servers><Server><Host>ftp.x.cn</Host><User>admin</User><Pass encoding=\"base64\">RnRwIzIwMjQh</Pass></Server></Servers></FileZilla3>";
        let mut v = Vec::new();
        scan_admin_tools("sitemanager.xml", xml, &mut v);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].secret, "Ftp#2024!");
        assert_eq!(v[0].account.as_deref(), Some("admin"));
    }
}
