//! SSH: identification banners ("SSH-2.0-software comment"), the first binary packet of each
//! side (SSH_MSG_KEXINIT, RFC 4253 §7.1), HASSH / HASSH-server fingerprints and the algorithms
//! the two sides will agree on (the first client choice the server also offers).

use crate::fingerprint::md5_hex;
use crate::reader::Reader;
use vigil_model::SshMeta;

/// Longest banner line accepted (RFC 4253 allows 255 bytes).
const MAX_LINE: usize = 512;
/// Lines a server may send before its banner (RFC 4253 §4.2).
const MAX_PRE_LINES: u32 = 32;
/// Largest binary packet accepted (RFC 4253 §6.1 requires support for 35000).
const MAX_PACKET: usize = 35000;
const MSG_KEXINIT: u8 = 20;
const MSG_NEWKEYS: u8 = 21;
/// Cleartext packets (key exchange) examined per direction before NEWKEYS.
const MAX_CLEAR_PACKETS: u32 = 32;
/// Encrypted server segments examined for the authentication heuristic.
const MAX_AUTH_SEGMENTS: u32 = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshError {
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("not a KEXINIT message")]
    NotKexinit,
}

/// The name-lists of a KEXINIT message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KexInit {
    pub kex: String,
    pub host_key: String,
    pub enc_c2s: String,
    pub enc_s2c: String,
    pub mac_c2s: String,
    pub mac_s2c: String,
    pub comp_c2s: String,
    pub comp_s2c: String,
}

impl KexInit {
    /// HASSH input (client: the client-to-server lists).
    pub fn hassh_string(&self) -> String {
        join_lists([&self.kex, &self.enc_c2s, &self.mac_c2s, &self.comp_c2s])
    }
    /// HASSH-server input (server: the server-to-client lists).
    pub fn hassh_server_string(&self) -> String {
        join_lists([&self.kex, &self.enc_s2c, &self.mac_s2c, &self.comp_s2c])
    }
}

/// The lists joined by `;` in one allocation of the final size (`format!` grew its buffer
/// several times over these kilobyte-long inputs, on every SSH connection).
fn join_lists(lists: [&str; 4]) -> String {
    let mut out = String::with_capacity(lists.iter().map(|l| l.len() + 1).sum());
    for (i, l) in lists.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(l);
    }
    out
}

/// Parses a KEXINIT payload (message type byte first).
pub fn parse_kexinit(payload: &[u8]) -> Result<KexInit, SshError> {
    let mut r = Reader::new(payload);
    if r.u8().ok_or(SshError::Truncated("message type"))? != MSG_KEXINIT {
        return Err(SshError::NotKexinit);
    }
    r.skip(16).ok_or(SshError::Truncated("cookie"))?;
    let mut lists: Vec<String> = Vec::with_capacity(8);
    for _ in 0..8 {
        let n = r.u32().ok_or(SshError::Truncated("name-list"))? as usize;
        let b = r.bytes(n).ok_or(SshError::Truncated("name-list"))?;
        // Name-lists are ASCII in practice: std's word-at-a-time check first, the lossy
        // conversion (byte by byte) only for the rest.
        lists.push(match std::str::from_utf8(b) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(b).into_owned(),
        });
    }
    let mut it = lists.into_iter();
    let mut next = || it.next().unwrap_or_default();
    Ok(KexInit {
        kex: next(),
        host_key: next(),
        enc_c2s: next(),
        enc_s2c: next(),
        mac_c2s: next(),
        mac_s2c: next(),
        comp_c2s: next(),
        comp_s2c: next(),
    })
}

/// The negotiated algorithm: the first client entry the server also lists (RFC 4253 §7.1).
pub fn first_mutual(client: &str, server: &str) -> Option<String> {
    client.split(',').find(|c| !c.is_empty() && server.split(',').any(|s| s == *c)).map(str::to_string)
}

#[derive(Debug, Default)]
struct Direction {
    line: Vec<u8>,
    banner: Option<String>,
    pre_lines: u32,
    packet: Vec<u8>,
    kexinit: Option<KexInit>,
    /// Cleartext binary packets seen.
    packets: u32,
    /// NEWKEYS seen: everything after it is encrypted.
    newkeys: bool,
    broken: bool,
}

/// Zeek's authentication heuristic over the sizes of the server's encrypted packets (one per
/// TCP segment in practice): the first is SSH_MSG_SERVICE_ACCEPT, the next is taken as the size
/// of SSH_MSG_USERAUTH_FAILURE; each later packet of that size is a failed attempt, and one 16
/// bytes smaller than SERVICE_ACCEPT is SSH_MSG_USERAUTH_SUCCESS (1-byte payload against 17).
#[derive(Debug, Default)]
struct AuthGuess {
    service_accept: Option<usize>,
    failure: Option<usize>,
    segments: u32,
    attempts: u32,
    success: bool,
}

impl AuthGuess {
    fn on_server_segment(&mut self, len: usize) {
        if self.success || self.segments >= MAX_AUTH_SEGMENTS || len == 0 {
            return;
        }
        self.segments += 1;
        let Some(accept) = self.service_accept else {
            self.service_accept = Some(len);
            return;
        };
        let Some(failure) = self.failure else {
            self.failure = Some(len);
            return;
        };
        if len == failure {
            self.attempts += 1;
        } else if len.checked_add(16) == Some(accept) {
            self.attempts += 1;
            self.success = true;
        }
    }
}

/// Both directions of one SSH connection.
#[derive(Debug, Default)]
pub struct SshConn {
    dirs: [Direction; 2],
    auth: AuthGuess,
}

impl SshConn {
    pub fn new() -> Self {
        SshConn::default()
    }

    /// A banner was seen from either side.
    pub fn recognised(&self) -> bool {
        self.dirs.iter().any(|d| d.banner.is_some())
    }

    /// Both sides reached NEWKEYS (or stopped parsing) and the authentication outcome is
    /// decided (or cannot be).
    pub fn done(&self) -> bool {
        let keyed = self.dirs.iter().all(|d| d.broken || d.newkeys);
        let auth = self.auth.success || self.auth.segments >= MAX_AUTH_SEGMENTS || self.dirs[1].broken;
        keyed && auth
    }

    pub fn on_gap(&mut self, from_orig: bool) {
        self.dirs[usize::from(!from_orig)].broken = true;
    }

    /// Feeds contiguous stream bytes of one direction.
    pub fn feed(&mut self, from_orig: bool, mut data: &[u8]) {
        let d = &mut self.dirs[usize::from(!from_orig)];
        if d.newkeys {
            if !from_orig {
                self.auth.on_server_segment(data.len());
            }
            return;
        }
        while !data.is_empty() && !d.broken && !d.newkeys {
            if d.banner.is_none() {
                let nl = data.iter().position(|&b| b == b'\n');
                let (part, rest) = match nl {
                    Some(p) => (&data[..=p], &data[p + 1..]),
                    None => (data, &[][..]),
                };
                data = rest;
                d.line.extend_from_slice(part);
                if d.line.len() > MAX_LINE {
                    d.broken = true;
                    return;
                }
                if nl.is_none() {
                    return;
                }
                let line = std::mem::take(&mut d.line);
                let line = line.strip_suffix(b"\n").unwrap_or(&line);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.starts_with(b"SSH-") {
                    d.banner = Some(String::from_utf8_lossy(line).into_owned());
                    // SSH-1 packets are framed differently; nothing more to parse.
                    if !is_v2(line) {
                        d.broken = true;
                    }
                } else {
                    d.pre_lines += 1;
                    if d.pre_lines > MAX_PRE_LINES {
                        d.broken = true;
                    }
                }
                continue;
            }
            // Binary packet: uint32 packet_length, byte padding_length, payload, padding.
            let need = if d.packet.len() < 4 {
                4 - d.packet.len()
            } else {
                let len = u32::from_be_bytes([d.packet[0], d.packet[1], d.packet[2], d.packet[3]]) as usize;
                if !(5..=MAX_PACKET).contains(&len) {
                    d.broken = true;
                    return;
                }
                (len + 4).saturating_sub(d.packet.len())
            };
            let k = need.min(data.len());
            d.packet.extend_from_slice(&data[..k]);
            data = &data[k..];
            if let [a, b, c, e, ..] = d.packet[..] {
                let len = u32::from_be_bytes([a, b, c, e]) as usize;
                if !(5..=MAX_PACKET).contains(&len) {
                    d.broken = true;
                    return;
                }
            }
            if d.packet.len() >= 4 && k == need && d.packet.len() > 4 {
                let pad = usize::from(d.packet[4]);
                let end = d.packet.len().saturating_sub(pad);
                let payload = d.packet.get(5..end).unwrap_or(&[]);
                d.packets += 1;
                match payload.first() {
                    Some(&MSG_KEXINIT) if d.kexinit.is_none() => match parse_kexinit(payload) {
                        Ok(k) => d.kexinit = Some(k),
                        Err(_) => d.broken = true,
                    },
                    Some(&MSG_NEWKEYS) => d.newkeys = true,
                    // Other key-exchange messages: skipped. A first packet that is not a
                    // KEXINIT means this is not SSH binary framing after all.
                    _ if d.kexinit.is_none() => d.broken = true,
                    _ => {}
                }
                if d.packets >= MAX_CLEAR_PACKETS && !d.newkeys {
                    d.broken = true;
                }
                d.packet.clear();
            }
        }
        // Encrypted bytes sharing a segment with NEWKEYS are not counted (as in Zeek, whose
        // heuristic starts with the first fully encrypted segment).
    }

    /// SshMeta from what was seen.
    pub fn meta(&self) -> SshMeta {
        let [c, s] = &self.dirs;
        let mut m = SshMeta {
            client: c.banner.clone(),
            server: s.banner.clone(),
            version: s.banner.as_deref().or(c.banner.as_deref()).and_then(|b| {
                // "SSH-1.99" means a server speaking both; Zeek reports 2 when both sides can.
                let v = b.get(4..)?;
                if v.starts_with("2.0") || v.starts_with("1.99") {
                    Some(2)
                } else if v.starts_with('1') {
                    Some(1)
                } else {
                    None
                }
            }),
            ..Default::default()
        };
        if let (Some(cb), Some(sb)) = (&c.banner, &s.banner)
            && (!is_v2(cb.as_bytes()) || !is_v2(sb.as_bytes()))
        {
            m.version = Some(1);
        }
        if let Some(k) = &c.kexinit {
            let s = k.hassh_string();
            m.hassh = Some(md5_hex(&s));
            m.hassh_algorithms = Some(s);
        }
        if let Some(k) = &s.kexinit {
            let st = k.hassh_server_string();
            m.hassh_server = Some(md5_hex(&st));
            m.hassh_server_algorithms = Some(st);
        }
        m.auth_attempts = self.auth.attempts;
        m.auth_success = if self.auth.success {
            Some(true)
        } else if self.auth.attempts > 0 {
            Some(false)
        } else {
            None
        };
        if let (Some(ck), Some(sk)) = (&c.kexinit, &s.kexinit) {
            m.kex_alg = first_mutual(&ck.kex, &sk.kex);
            m.host_key_alg = first_mutual(&ck.host_key, &sk.host_key);
            m.cipher_alg = first_mutual(&ck.enc_c2s, &sk.enc_c2s);
            m.mac_alg = first_mutual(&ck.mac_c2s, &sk.mac_c2s);
        }
        m
    }
}

fn is_v2(banner: &[u8]) -> bool {
    banner.starts_with(b"SSH-2.0") || banner.starts_with(b"SSH-1.99")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kexinit_packet(lists: [&str; 8]) -> Vec<u8> {
        let mut p = vec![MSG_KEXINIT];
        p.extend_from_slice(&[0x11; 16]);
        for l in lists.iter().chain(["", ""].iter()) {
            p.extend_from_slice(&(l.len() as u32).to_be_bytes());
            p.extend_from_slice(l.as_bytes());
        }
        p.extend_from_slice(&[0, 0, 0, 0, 0]);
        let pad = 8 - ((p.len() + 5) % 8) + 4;
        let mut pkt = ((p.len() + pad + 1) as u32).to_be_bytes().to_vec();
        pkt.push(pad as u8);
        pkt.extend_from_slice(&p);
        pkt.extend(std::iter::repeat_n(0, pad));
        pkt
    }

    #[test]
    fn banners_kexinit_hassh_and_negotiation() {
        let client = [
            "curve25519-sha256,diffie-hellman-group14-sha256",
            "ssh-ed25519,rsa-sha2-512",
            "chacha20-poly1305@openssh.com,aes128-ctr",
            "chacha20-poly1305@openssh.com,aes128-ctr",
            "umac-64-etm@openssh.com,hmac-sha2-256",
            "umac-64-etm@openssh.com,hmac-sha2-256",
            "none,zlib@openssh.com",
            "none,zlib@openssh.com",
        ];
        let server = [
            "diffie-hellman-group14-sha256,curve25519-sha256",
            "rsa-sha2-512",
            "aes128-ctr",
            "aes128-ctr,aes256-ctr",
            "hmac-sha2-256",
            "hmac-sha2-256",
            "none",
            "none",
        ];
        let mut s = SshConn::new();
        let mut c_stream = b"SSH-2.0-OpenSSH_9.6\r\n".to_vec();
        c_stream.extend(kexinit_packet(client));
        let mut s_stream = b"Welcome\r\nSSH-2.0-OpenSSH_8.0 Debian\r\n".to_vec();
        s_stream.extend(kexinit_packet(server));
        for ch in c_stream.chunks(3) {
            s.feed(true, ch);
        }
        s.feed(false, &s_stream);
        assert!(!s.done(), "no NEWKEYS yet");
        let newkeys = [0, 0, 0, 12, 10, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        s.feed(true, &newkeys);
        s.feed(false, &newkeys);
        // Encrypted server packets: SERVICE_ACCEPT (52 bytes), the first failure (68, which
        // sets the failure size), another failure, a banner (100), then success (52 - 16).
        for len in [52, 68, 68, 100] {
            s.feed(false, &vec![0u8; len]);
        }
        assert!(!s.done());
        assert_eq!((s.meta().auth_success, s.meta().auth_attempts), (Some(false), 1));
        s.feed(false, &[0u8; 36]);
        assert!(s.done());
        let m = s.meta();
        assert_eq!((m.auth_success, m.auth_attempts), (Some(true), 2));
        assert_eq!(m.client.as_deref(), Some("SSH-2.0-OpenSSH_9.6"));
        assert_eq!(m.server.as_deref(), Some("SSH-2.0-OpenSSH_8.0 Debian"));
        assert_eq!(m.version, Some(2));
        let hs = "curve25519-sha256,diffie-hellman-group14-sha256;chacha20-poly1305@openssh.com,aes128-ctr;umac-64-etm@openssh.com,hmac-sha2-256;none,zlib@openssh.com";
        assert_eq!(m.hassh_algorithms.as_deref(), Some(hs));
        assert_eq!(m.hassh.as_deref(), Some(md5_hex(hs).as_str()));
        assert_eq!(
            m.hassh_server_algorithms.as_deref(),
            Some("diffie-hellman-group14-sha256,curve25519-sha256;aes128-ctr,aes256-ctr;hmac-sha2-256;none")
        );
        assert_eq!(m.kex_alg.as_deref(), Some("curve25519-sha256"));
        assert_eq!(m.cipher_alg.as_deref(), Some("aes128-ctr"));
        assert_eq!(m.mac_alg.as_deref(), Some("hmac-sha2-256"));
        assert_eq!(m.host_key_alg.as_deref(), Some("rsa-sha2-512"));
    }

    #[test]
    fn ssh1_and_garbage() {
        let mut s = SshConn::new();
        s.feed(false, b"SSH-1.5-old\n");
        s.feed(true, b"SSH-1.5-client\n\x00\x00\x00\x10garbage");
        assert_eq!(s.meta().version, Some(1));
        assert!(s.done());
        let mut g = SshConn::new();
        g.feed(true, b"SSH-2.0-x\r\n\xff\xff\xff\xff");
        assert!(!g.done(), "the server side has not finished");
        g.feed(false, &[b'x'; 600]);
        assert!(g.done(), "an overlong banner line and an impossible packet length stop parsing");
        assert_eq!(g.meta().hassh, None);
        assert!(parse_kexinit(&[20, 1, 2]).is_err());
    }
}
