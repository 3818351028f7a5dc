//! Cleartext prefixes after which a connection switches to another protocol (usually TLS):
//! SOCKS handshakes, RDP's X.224 connection negotiation, and STARTTLS in SMTP, IMAP, POP3 and
//! FTP. Each prefix consumes its own messages and then hands the rest of each direction to an
//! inner session.

use crate::socks::Socks;

/// Longest text line kept while looking for STARTTLS.
const MAX_LINE: usize = 2048;
/// Text lines examined per direction before giving up.
const MAX_LINES: u32 = 200;

/// Whether a stream starts with an RDP X.224 Connection Request inside a TPKT header
/// (`Some(true)`), cannot (`Some(false)`), or needs more bytes (`None`).
pub fn detect_rdp(o: &[u8]) -> Option<bool> {
    match o {
        [3, 0, hi, lo, _li, code, ..] => {
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            Some((11..=4096).contains(&len) && code & 0xf0 == 0xe0)
        }
        [3] | [3, 0] | [3, 0, _] | [3, 0, _, _] | [3, 0, _, _, _] => None,
        _ => Some(false),
    }
}

/// One TPKT message per direction (X.224 Connection Request / Confirm), then the tunnel.
#[derive(Debug, Default)]
pub struct RdpPrefix {
    buf: [Vec<u8>; 2],
    through: [bool; 2],
    broken: bool,
}

impl RdpPrefix {
    fn feed(&mut self, from_orig: bool, data: &[u8]) -> Option<Vec<u8>> {
        let i = usize::from(!from_orig);
        if self.through[i] {
            return Some(data.to_vec());
        }
        if self.broken {
            return None;
        }
        let b = &mut self.buf[i];
        b.extend_from_slice(data);
        let [3, 0, hi, lo, ..] = b[..] else {
            if b.len() >= 4 {
                self.broken = true;
                return None;
            }
            return Some(Vec::new());
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if !(7..=4096).contains(&len) {
            self.broken = true;
            return None;
        }
        if b.len() < len {
            return Some(Vec::new());
        }
        self.through[i] = true;
        Some(b.split_off(len))
    }
}

/// Mail and file-transfer protocols that upgrade to TLS in-band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextProto {
    Smtp,
    Imap,
    Pop3,
    Ftp,
}

impl TextProto {
    pub fn name(self) -> &'static str {
        match self {
            TextProto::Smtp => "smtp",
            TextProto::Imap => "imap",
            TextProto::Pop3 => "pop3",
            TextProto::Ftp => "ftp",
        }
    }
}

/// Recognises a server greeting and a client command line of a protocol with STARTTLS.
pub fn detect_starttls(o: &[u8], r: &[u8]) -> Option<TextProto> {
    let first_line = |b: &[u8]| b.iter().position(|&c| c == b'\n').map(|p| b[..p].to_ascii_uppercase());
    let (Some(greet), Some(cmd)) = (first_line(r), first_line(o)) else { return None };
    let word = cmd.split(|&c| c == b' ' || c == b'\r').next().unwrap_or_default().to_vec();
    if greet.starts_with(b"220") {
        if [&b"EHLO"[..], b"HELO", b"STARTTLS"].contains(&word.as_slice()) {
            return Some(TextProto::Smtp);
        }
        if [&b"USER"[..], b"AUTH", b"FEAT", b"SYST", b"OPTS"].contains(&word.as_slice()) {
            return Some(TextProto::Ftp);
        }
    }
    if greet.starts_with(b"* OK") || greet.starts_with(b"* PREAUTH") {
        return Some(TextProto::Imap);
    }
    if greet.starts_with(b"+OK") {
        return Some(TextProto::Pop3);
    }
    None
}

/// Follows text lines until the client asks for TLS and the server agrees.
#[derive(Debug)]
pub struct StartTls {
    pub proto: TextProto,
    line: [Vec<u8>; 2],
    lines: [u32; 2],
    /// The IMAP tag of the STARTTLS command, or empty for the other protocols.
    requested: Option<Vec<u8>>,
    /// Client bytes after its STARTTLS line, held until the server answers.
    held: Vec<u8>,
    through: bool,
    broken: bool,
}

impl StartTls {
    pub fn new(proto: TextProto) -> Self {
        StartTls { proto, line: Default::default(), lines: [0; 2], requested: None, held: Vec::new(), through: false, broken: false }
    }

    fn is_request(&self, line: &[u8]) -> Option<Vec<u8>> {
        let up = line.trim_ascii().to_ascii_uppercase();
        match self.proto {
            TextProto::Smtp => (up == b"STARTTLS").then(Vec::new),
            TextProto::Pop3 => (up == b"STLS").then(Vec::new),
            TextProto::Ftp => (up == b"AUTH TLS" || up == b"AUTH SSL").then(Vec::new),
            TextProto::Imap => {
                let (tag, rest) = up.split_at(up.iter().position(|&c| c == b' ')?);
                (rest.trim_ascii() == b"STARTTLS").then(|| tag.to_vec())
            }
        }
    }

    fn is_acceptance(&self, line: &[u8], tag: &[u8]) -> bool {
        let up = line.to_ascii_uppercase();
        match self.proto {
            TextProto::Smtp => up.starts_with(b"220"),
            TextProto::Ftp => up.starts_with(b"234"),
            TextProto::Pop3 => up.starts_with(b"+OK"),
            TextProto::Imap => up.starts_with(tag) && up.get(tag.len()..).is_some_and(|r| r.trim_ascii_start().starts_with(b"OK")),
        }
    }

    /// Returns the (direction, bytes) to hand to the inner session.
    fn feed(&mut self, from_orig: bool, data: &[u8]) -> Option<Vec<(bool, Vec<u8>)>> {
        if self.through {
            return Some(vec![(from_orig, data.to_vec())]);
        }
        if self.broken {
            return None;
        }
        if from_orig && self.requested.is_some() {
            if self.held.len() + data.len() > 64 * 1024 {
                self.broken = true;
                return None;
            }
            self.held.extend_from_slice(data);
            return Some(Vec::new());
        }
        let i = usize::from(!from_orig);
        let mut rest = data;
        while let Some(nl) = rest.iter().position(|&c| c == b'\n') {
            let mut line = std::mem::take(&mut self.line[i]);
            line.extend_from_slice(&rest[..nl]);
            rest = &rest[nl + 1..];
            self.lines[i] += 1;
            if self.lines[i] > MAX_LINES || line.len() > MAX_LINE {
                self.broken = true;
                return None;
            }
            if from_orig {
                if let Some(tag) = self.is_request(&line) {
                    self.requested = Some(tag);
                    self.held.extend_from_slice(rest);
                    return Some(Vec::new());
                }
            } else if let Some(tag) = self.requested.clone() {
                // Multi-line SMTP/FTP replies ("220-...") continue until "220 ...".
                let continued = matches!(self.proto, TextProto::Smtp | TextProto::Ftp) && line.get(3) == Some(&b'-');
                if continued {
                    continue;
                }
                if self.is_acceptance(&line, &tag) {
                    self.through = true;
                    let mut out = Vec::new();
                    if !rest.is_empty() {
                        out.push((false, rest.to_vec()));
                    }
                    let held = std::mem::take(&mut self.held);
                    if !held.is_empty() {
                        out.push((true, held));
                    }
                    return Some(out);
                }
                // Refused: the client carries on in clear text; re-read what it sent.
                self.requested = None;
                let held = std::mem::take(&mut self.held);
                if !held.is_empty() {
                    self.feed(true, &held)?;
                }
            }
        }
        if self.line[i].len() + rest.len() > MAX_LINE {
            self.broken = true;
            return None;
        }
        self.line[i].extend_from_slice(rest);
        Some(Vec::new())
    }
}

/// A cleartext prefix being consumed before the tunnelled protocol.
#[derive(Debug)]
pub enum Prefix {
    Socks(Socks),
    Rdp(RdpPrefix),
    StartTls(StartTls),
}

impl Prefix {
    /// Zeek's service name of the outer protocol.
    pub fn name(&self) -> &'static str {
        match self {
            Prefix::Socks(_) => "socks",
            Prefix::Rdp(_) => "rdp",
            Prefix::StartTls(s) => s.proto.name(),
        }
    }

    /// Feeds one direction's bytes; returns what the inner session should see, or `None`
    /// once the prefix turned out not to be what it seemed.
    pub fn feed(&mut self, from_orig: bool, data: &[u8]) -> Option<Vec<(bool, Vec<u8>)>> {
        match self {
            Prefix::Socks(s) => s.feed(from_orig, data).map(|b| vec![(from_orig, b)]),
            Prefix::Rdp(r) => r.feed(from_orig, data).map(|b| vec![(from_orig, b)]),
            Prefix::StartTls(t) => t.feed(from_orig, data),
        }
    }

    /// Both directions are past the prefix.
    pub fn through(&self) -> bool {
        match self {
            Prefix::Socks(s) => s.sides.iter().all(|d| d.through),
            Prefix::Rdp(r) => r.through.iter().all(|&t| t),
            Prefix::StartTls(t) => t.through,
        }
    }

    pub fn broken(&self) -> bool {
        match self {
            Prefix::Socks(s) => s.sides.iter().any(|d| d.broken),
            Prefix::Rdp(r) => r.broken,
            Prefix::StartTls(t) => t.broken,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdp_negotiation_then_tunnel() {
        assert_eq!(detect_rdp(&[3, 0, 0, 19, 14, 0xe0, 0, 0]), Some(true));
        assert_eq!(detect_rdp(&[3, 0]), None);
        assert_eq!(detect_rdp(&[3, 0, 0, 19, 14, 0xd0]), Some(false));
        let mut p = Prefix::Rdp(RdpPrefix::default());
        let cr = [3, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 3, 0, 0, 0, 0x16, 3, 1];
        assert_eq!(p.feed(true, &cr[..10]), Some(vec![(true, vec![])]));
        assert_eq!(p.feed(true, &cr[10..]), Some(vec![(true, vec![0x16, 3, 1])]));
        assert!(!p.through());
        assert_eq!(p.feed(false, &[3, 0, 0, 8, 2, 0xd0, 0, 0, 0x16]), Some(vec![(false, vec![0x16])]));
        assert!(p.through());
    }

    #[test]
    fn smtp_starttls_accepted_and_refused() {
        assert_eq!(detect_starttls(b"EHLO me\r\n", b"220 mx ESMTP\r\n"), Some(TextProto::Smtp));
        assert_eq!(detect_starttls(b"a1 CAPABILITY\r\n", b"* OK ready\r\n"), Some(TextProto::Imap));
        assert_eq!(detect_starttls(b"GET / HTTP/1.1\r\n", b"220 x\r\n"), None);
        let mut p = Prefix::StartTls(StartTls::new(TextProto::Smtp));
        p.feed(false, b"220 mx ESMTP\r\n");
        p.feed(true, b"EHLO me\r\n");
        p.feed(false, b"250-mx\r\n250 STARTTLS\r\n");
        assert_eq!(p.feed(true, b"STARTTLS\r\n"), Some(vec![]));
        assert_eq!(p.feed(true, &[0x16, 3, 1]), Some(vec![]), "held until the server agrees");
        assert_eq!(p.feed(false, b"220 go ahead\r\n"), Some(vec![(true, vec![0x16, 3, 1])]));
        assert!(p.through());
        let mut r = Prefix::StartTls(StartTls::new(TextProto::Imap));
        r.feed(true, b"a1 STARTTLS\r\n");
        r.feed(true, b"a2 LOGIN x y\r\n");
        assert_eq!(r.feed(false, b"a1 NO not now\r\n"), Some(vec![]));
        assert!(!r.through());
    }
}
