//! Vigil's own probe set: what to send to an open port and how to read the answer.
//!
//! Response parsers (`parse_*`) are pure functions over the bytes a server sent (hostile
//! input: bounded, no panics). The I/O side ([`probe_port`]) opens connections only through a
//! [`Connector`], which the scanner hands out only for in-scope addresses.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use vigil_model::CertMeta;

/// Most bytes read from one probe answer.
pub const MAX_READ: usize = 64 * 1024;
/// Most read calls per probe (every loop is bounded even against a trickling server).
const MAX_READS: usize = 64;

/// A byte stream to a probed service.
pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// Opens connections. The scanner's only way to touch the network, so tests can prove that
/// out-of-scope targets never reach it.
pub trait Connector: Send + Sync {
    fn connect(&self, addr: SocketAddr, connect_timeout: Duration, read_timeout: Duration) -> io::Result<Box<dyn Stream>>;
}

/// Plain TCP connect (no privileges needed).
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpConnector;

impl Connector for TcpConnector {
    fn connect(&self, addr: SocketAddr, connect_timeout: Duration, read_timeout: Duration) -> io::Result<Box<dyn Stream>> {
        let s = std::net::TcpStream::connect_timeout(&addr, connect_timeout)?;
        s.set_read_timeout(Some(read_timeout.max(Duration::from_millis(1))))?;
        s.set_write_timeout(Some(connect_timeout.max(Duration::from_millis(1))))?;
        let _ = s.set_nodelay(true);
        Ok(Box::new(s))
    }
}

/// Everything the probes learnt about one port.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Observation {
    /// Detected protocol: `ssh`, `ftp`, `smtp`, `imap`, `pop3`, `http`, `tls`, `redis`, `mysql`,
    /// `postgresql`, `rdp`, `smb`, `ldap`, or `unknown`.
    pub protocol: Option<String>,
    /// The first line(s) the server sent on its own.
    pub banner: Option<String>,
    pub http: Option<HttpInfo>,
    pub tls: bool,
    pub cert: Option<CertMeta>,
    /// Negotiated TLS version (`TLS 1.3`), from a full handshake.
    #[serde(default)]
    pub tls_version: Option<String>,
    /// Negotiated cipher suite.
    #[serde(default)]
    pub tls_cipher: Option<String>,
    /// `redis_version` from `INFO server`, or `None` when it asked for a password.
    pub redis_version: Option<String>,
    /// Redis answered without authentication.
    pub redis_open: bool,
    /// The server version string in a MySQL/MariaDB handshake.
    pub mysql_version: Option<String>,
    pub smb_dialect: Option<String>,
    pub ldap_vendor: Option<String>,
    pub ldap_version: Option<String>,
    /// Portal paths that answered (for VPN/mail admin portals).
    pub portal_paths: Vec<(String, u16)>,
}

/// HTTP response facts used for identification.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HttpInfo {
    pub status: u16,
    pub server: Option<String>,
    pub powered_by: Option<String>,
    pub title: Option<String>,
    pub location: Option<String>,
    pub www_authenticate: Option<String>,
    pub owa_version: Option<String>,
    pub cookies: Vec<String>,
}

fn printable(b: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(max)]).chars().map(|c| if c.is_control() && c != '\n' { ' ' } else { c }).collect()
}

/// Parses an HTTP/1.x response (head and start of body).
pub fn parse_http_response(data: &[u8]) -> Option<HttpInfo> {
    if !data.starts_with(b"HTTP/") {
        return None;
    }
    let head_end = find(data, b"\r\n\r\n").map(|i| i + 4).or_else(|| find(data, b"\n\n").map(|i| i + 2)).unwrap_or(data.len());
    let head = data.get(..head_end)?;
    let body = data.get(head_end..).unwrap_or(&[]);
    let text = String::from_utf8_lossy(head);
    let mut lines = text.lines();
    let status_line = lines.next()?;
    let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut h = HttpInfo { status, ..Default::default() };
    let mut content_type = None;
    for line in lines.take(200) {
        let Some((k, v)) = line.split_once(':') else { continue };
        let v = v.trim().chars().take(512).collect::<String>();
        match k.trim().to_ascii_lowercase().as_str() {
            "server" => h.server = Some(v),
            "x-powered-by" => h.powered_by = Some(v),
            "location" => h.location = Some(v),
            "www-authenticate" => h.www_authenticate = Some(v),
            "x-owa-version" => h.owa_version = Some(v),
            "content-type" => content_type = Some(v),
            "set-cookie" if h.cookies.len() < 16 => {
                if let Some(name) = v.split('=').next() {
                    h.cookies.push(name.trim().to_string());
                }
            }
            _ => {}
        }
    }
    h.title = parse_title_in(body, content_type.as_deref().and_then(header_charset).as_deref());
    h.server = h.server.map(|v| sanitize_text(&v));
    h.powered_by = h.powered_by.map(|v| sanitize_text(&v));
    Some(h)
}

/// The text of the first `<title>` element, decoded in the page's charset (BOM, then the
/// `Content-Type` header's `charset=`, then a `<meta … charset>` in the page, else UTF-8 when
/// valid, else windows-1252), entities decoded, whitespace collapsed, control and bidi
/// characters escaped (see [`sanitize_text`]), at most 200 characters.
pub fn parse_title(body: &[u8]) -> Option<String> {
    parse_title_in(body, None)
}

/// [`parse_title`] with the `charset` of the HTTP `Content-Type` header.
pub fn parse_title_in(body: &[u8], header_charset: Option<&str>) -> Option<String> {
    let body = body.get(..body.len().min(MAX_READ)).unwrap_or(body);
    let enc = page_encoding(body, header_charset);
    let (text, _, _) = enc.decode(body);
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let gt = start + lower.get(start..)?.find('>')? + 1;
    let end = gt + lower.get(gt..)?.find("</title")?;
    let t = decode_entities(text.get(gt..end)?);
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    let t = sanitize_text(&t);
    (!t.is_empty()).then(|| t.chars().take(200).collect())
}

/// The page's encoding, as a browser would pick it (simplified).
fn page_encoding(body: &[u8], header_charset: Option<&str>) -> &'static encoding_rs::Encoding {
    if let Some((enc, _)) = encoding_rs::Encoding::for_bom(body) {
        return enc;
    }
    let label = header_charset.map(str::to_string).or_else(|| meta_charset(body.get(..body.len().min(4096)).unwrap_or(body)));
    if let Some(enc) = label.and_then(|l| encoding_rs::Encoding::for_label(l.trim().as_bytes())) {
        // A page cannot declare itself UTF-16 in ASCII; browsers treat that as UTF-8.
        return if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE { encoding_rs::UTF_8 } else { enc };
    }
    if std::str::from_utf8(body).is_ok() || matches!(std::str::from_utf8(body), Err(e) if e.error_len().is_none()) {
        encoding_rs::UTF_8
    } else {
        encoding_rs::WINDOWS_1252
    }
}

/// `charset` from `<meta charset="gbk">` or `<meta http-equiv=… content="text/html; charset=gbk">`.
fn meta_charset(head: &[u8]) -> Option<String> {
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let mut from = 0;
    for _ in 0..32 {
        let m = from + find(lower.get(from..)?, b"<meta")?;
        let end = m + find(lower.get(m..)?, b">").unwrap_or(lower.len() - m);
        let tag = lower.get(m..end)?;
        if let Some(i) = find(tag, b"charset=") {
            let v: String = tag
                .get(i + 8..)?
                .iter()
                .skip_while(|b| **b == b'"' || **b == b'\'' || **b == b' ')
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'))
                .map(|b| char::from(*b))
                .collect();
            if !v.is_empty() {
                return Some(v);
            }
        }
        from = end;
    }
    None
}

/// The `charset=` parameter of a `Content-Type` header value.
pub fn header_charset(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("charset").then(|| v.trim().trim_matches('"').chars().take(40).collect())
    })
}

/// Decodes the common named entities and numeric references (`&#20013;`, `&#x4e2d;`).
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or(""));
        let tail = rest.get(i..).unwrap_or("");
        let semi = tail.get(..tail.len().min(12)).and_then(|t| t.find(';'));
        let decoded = semi.and_then(|j| {
            let ent = tail.get(1..j)?;
            let c = match ent {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => ' ',
                _ => {
                    let n = match ent.strip_prefix("#x").or_else(|| ent.strip_prefix("#X")) {
                        Some(h) => u32::from_str_radix(h, 16).ok(),
                        None => ent.strip_prefix('#').and_then(|d| d.parse::<u32>().ok()),
                    };
                    char::from_u32(n?)?
                }
            };
            Some((c, j + 1))
        });
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = tail.get(used..).unwrap_or("");
            }
            None => {
                out.push('&');
                rest = tail.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

/// Makes server-chosen text safe to store and show: control characters (ESC sequences, CR,
/// BEL, C1) and bidi/format overrides that could disguise text are written as `\u{…}` escapes.
pub fn sanitize_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
        if c.is_control() || bidi {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Classifies a server-first banner.
pub fn classify_banner(data: &[u8]) -> Option<(&'static str, String)> {
    if data.is_empty() {
        return None;
    }
    if let Some(v) = parse_mysql_handshake(data) {
        return Some(("mysql", v));
    }
    let first = printable(data, 1024);
    let line = first.lines().next().unwrap_or("").trim_end().to_string();
    let lower = first.to_ascii_lowercase();
    let proto = if line.starts_with("SSH-") {
        "ssh"
    } else if line.starts_with("220") && (lower.contains("ftp") || lower.contains("filezilla")) {
        "ftp"
    } else if line.starts_with("220")
        && (lower.contains("smtp") || lower.contains("mail") || lower.contains("postfix") || lower.contains("exim"))
    {
        "smtp"
    } else if line.starts_with("220") {
        // A 220 greeting without a product word: FTP and SMTP both use it; SMTP says ESMTP
        // almost always, so default to FTP.
        "ftp"
    } else if line.starts_with("* OK") || line.starts_with("* PREAUTH") {
        "imap"
    } else if line.starts_with("+OK") {
        "pop3"
    } else if line.starts_with("-NOAUTH") || line.starts_with("-DENIED") || line.starts_with("-ERR") {
        "redis"
    } else {
        "unknown"
    };
    Some((proto, line.chars().take(512).collect()))
}

/// The server version of a MySQL/MariaDB initial handshake (protocol 10), or of an error packet
/// sent instead (`Host … is not allowed`), which carries no version.
pub fn parse_mysql_handshake(data: &[u8]) -> Option<String> {
    let len = usize::from(*data.first()?) | usize::from(*data.get(1)?) << 8 | usize::from(*data.get(2)?) << 16;
    if !(2..=0xffff).contains(&len) || *data.get(3)? != 0 {
        return None;
    }
    let payload = data.get(4..)?;
    match *payload.first()? {
        10 => {
            let rest = payload.get(1..)?;
            let nul = rest.iter().take(128).position(|&b| b == 0)?;
            let v = rest.get(..nul)?;
            (v.first().is_some_and(u8::is_ascii_digit) && v.iter().all(|b| b.is_ascii_graphic()))
                .then(|| String::from_utf8_lossy(v).into_owned())
        }
        0xff if payload.len() >= 3 => Some(String::new()),
        _ => None,
    }
}

/// `redis_version` from an `INFO server` answer; `Err(())` when Redis refused (auth / protected).
pub fn parse_redis_info(data: &[u8]) -> Option<Result<String, ()>> {
    let text = printable(data, 16 * 1024);
    if text.starts_with("-NOAUTH") || text.starts_with("-DENIED") || text.starts_with("-ERR") || text.starts_with("-WRONGPASS") {
        return Some(Err(()));
    }
    if !text.starts_with('$') && !text.starts_with("+PONG") {
        return None;
    }
    for line in text.lines().take(200) {
        if let Some(v) = line.trim().strip_prefix("redis_version:") {
            return Some(Ok(v.trim().chars().take(64).collect()));
        }
    }
    text.starts_with('$').then(|| Ok(String::new()))
}

/// An X.224 Connection Confirm (RDP).
pub fn parse_rdp(data: &[u8]) -> bool {
    data.len() >= 11 && data.first() == Some(&3) && data.get(1) == Some(&0) && data.get(5).is_some_and(|b| b & 0xf0 == 0xd0)
}

/// The dialect an SMB server picked (`SMB 3.1.1`, …, or `SMB1`).
pub fn parse_smb(data: &[u8]) -> Option<String> {
    let smb = data.get(4..)?;
    if smb.starts_with(b"\xffSMB") {
        return Some("SMB1".into());
    }
    if !smb.starts_with(b"\xfeSMB") {
        return None;
    }
    let d = smb.get(64 + 4..64 + 6)?;
    let dialect = u16::from_le_bytes([d[0], d[1]]);
    Some(
        match dialect {
            0x0202 => "SMB 2.0.2",
            0x0210 => "SMB 2.1",
            0x0300 => "SMB 3.0",
            0x0302 => "SMB 3.0.2",
            0x0311 => "SMB 3.1.1",
            _ => "SMB2",
        }
        .into(),
    )
}

/// The first OCTET STRING value following an attribute name in an LDAP search result.
pub fn ldap_attr(data: &[u8], name: &str) -> Option<String> {
    let at = find(data, name.as_bytes())? + name.len();
    let rest = data.get(at..)?;
    // SET { OCTET STRING value }
    let i = rest.iter().take(8).position(|&b| b == 0x04)?;
    let len = usize::from(*rest.get(i + 1)?);
    if len >= 0x80 {
        return None;
    }
    let v = rest.get(i + 2..i + 2 + len)?;
    Some(printable(v, 128))
}

/// A TLS 1.2 ClientHello (no `supported_versions`, so the server's certificate comes in clear).
pub fn client_hello(server_name: Option<&str>) -> Vec<u8> {
    let mut ext = Vec::new();
    let mut push_ext = |ty: u16, body: &[u8]| {
        ext.extend_from_slice(&ty.to_be_bytes());
        ext.extend_from_slice(&(body.len() as u16).to_be_bytes());
        ext.extend_from_slice(body);
    };
    if let Some(n) = server_name.filter(|n| n.len() < 256 && n.parse::<std::net::IpAddr>().is_err()) {
        let mut b = Vec::new();
        b.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
        b.push(0);
        b.extend_from_slice(&(n.len() as u16).to_be_bytes());
        b.extend_from_slice(n.as_bytes());
        push_ext(0, &b);
    }
    push_ext(10, &[0, 6, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18]);
    push_ext(11, &[1, 0]);
    push_ext(13, &[0, 16, 4, 3, 8, 4, 4, 1, 5, 3, 8, 5, 5, 1, 8, 6, 6, 1]);
    push_ext(23, &[]);
    push_ext(0xff01, &[0]);
    let ciphers: [u16; 12] = [0xc02f, 0xc02b, 0xc030, 0xc02c, 0xcca8, 0xcca9, 0x009e, 0x009f, 0xc013, 0xc014, 0x009c, 0x002f];
    let mut body = vec![3, 3];
    // A fixed "random": the probe is not a key exchange, and fixed bytes keep runs reproducible.
    body.extend((0u8..32).map(|i| i.wrapping_mul(37).wrapping_add(11)));
    body.push(0);
    body.extend_from_slice(&((ciphers.len() * 2) as u16).to_be_bytes());
    for c in ciphers {
        body.extend_from_slice(&c.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// Runs server-side TLS bytes through `vigil-proto`'s handshake parser; the leaf certificate.
pub fn parse_tls_server(hello: &[u8], data: &[u8]) -> (bool, Option<CertMeta>) {
    let mut tc = vigil_proto::tls::TlsConn::new();
    tc.feed(true, hello);
    tc.feed(false, data);
    let is_tls = tc.server_hello.is_some() || (data.first() == Some(&0x15) && data.get(1) == Some(&3));
    (is_tls, tc.meta.cert.clone())
}

const SMB_NEGOTIATE: &[u8] = &[
    0x00, 0x00, 0x00, 0x6c, // NetBIOS session length 108
    0xfe, b'S', b'M', b'B', 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // SMB2 header (negotiate, msg id 0)
    36, 0, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0, b'V', b'i', b'g', b'i', b'l', b'-', b'e', b'x', b'p', b'o', b's', b'u', b'r', b'e', 0, 0, 0, 0, 0,
    0, 0, 0, // negotiate: 5 dialects, signing enabled, client guid, no contexts
    0x02, 0x02, 0x10, 0x02, 0x00, 0x03, 0x02, 0x03, 0x11, 0x03,
];
const RDP_CR: &[u8] = &[3, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 3, 0, 0, 0];
const PG_SSLREQUEST: &[u8] = &[0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f];
const LDAP_ROOTDSE: &[u8] = &[
    0x30, 0x3b, 0x02, 0x01, 0x01, 0x63, 0x36, 0x04, 0x00, 0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01,
    0x01, 0x00, 0x87, 0x0b, b'o', b'b', b'j', b'e', b'c', b't', b'C', b'l', b'a', b's', b's', 0x30, 0x1b, 0x04, 0x0d, b'v', b'e', b'n',
    b'd', b'o', b'r', b'V', b'e', b'r', b's', b'i', b'o', b'n', 0x04, 0x0a, b'v', b'e', b'n', b'd', b'o', b'r', b'N', b'a', b'm', b'e',
];

/// Paths that name VPN and mail admin portals by answering (checked on plain HTTP).
pub const PORTAL_PATHS: &[&str] = &[
    "/remote/login",
    "/dana-na/auth/url_default/welcome.cgi",
    "/global-protect/login.esp",
    "/vpn/index.html",
    "/owa/auth/logon.aspx",
    "/zimbra/",
    "/coremail/",
];

/// Probe timing knobs.
#[derive(Debug, Clone, Copy)]
pub struct ProbeConfig {
    pub connect_timeout: Duration,
    /// How long to wait for a server-first banner before trying client-first probes.
    pub banner_wait: Duration,
    /// Read timeout for answers to client-first probes.
    pub read_timeout: Duration,
    /// Also request the portal paths on HTTP services.
    pub portal_paths: bool,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            connect_timeout: Duration::from_secs(2),
            banner_wait: Duration::from_millis(1500),
            read_timeout: Duration::from_secs(3),
            portal_paths: true,
        }
    }
}

/// Reads until `done(buf)` says so, EOF, a timeout, or the bounds.
pub(crate) fn read_until(s: &mut dyn Stream, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    for _ in 0..MAX_READS {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
                if buf.len() >= MAX_READ || done(&buf) {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    buf.truncate(MAX_READ);
    buf
}

/// The socket read timeout of probe connections: a waiting probe looks this often whether a
/// concurrent probe has already identified the port (and then gives up at once).
const TICK: Duration = Duration::from_millis(20);

/// [`read_until`] where `wait` is the longest silence accepted (as a plain read timeout would
/// be), read in [`TICK`] steps so that `cancel` stops it within a tick. The stream's read
/// timeout must be at most `TICK`-ish; a stream that fails at once is polled a bounded number
/// of times.
fn read_until_cancel(s: &mut dyn Stream, wait: Duration, cancel: &AtomicBool, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let ticks_per_wait = usize::try_from(wait.as_millis() / TICK.as_millis().max(1)).unwrap_or(usize::MAX).saturating_add(2);
    let max_polls = ticks_per_wait.saturating_mul(MAX_READS + 1);
    let (mut reads, mut silent_since) = (0usize, Instant::now());
    for _ in 0..max_polls {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
                reads += 1;
                if buf.len() >= MAX_READ || reads >= MAX_READS || done(&buf) {
                    break;
                }
                silent_since = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                if silent_since.elapsed() >= wait {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    buf.truncate(MAX_READ);
    buf
}

/// One connection: send `send` (nothing: wait for the server to speak), read the answer.
fn exchange(
    c: &dyn Connector,
    addr: SocketAddr,
    cfg: &ProbeConfig,
    send: &[u8],
    wait: Duration,
    cancel: &AtomicBool,
    done: impl Fn(&[u8]) -> bool,
) -> io::Result<Vec<u8>> {
    if cancel.load(Ordering::Relaxed) {
        return Err(io::Error::new(io::ErrorKind::Interrupted, "another probe already answered"));
    }
    let mut s = c.connect(addr, cfg.connect_timeout, wait.min(TICK))?;
    if !send.is_empty() {
        s.write_all(send)?;
        s.flush()?;
    }
    Ok(read_until_cancel(s.as_mut(), wait, cancel, done))
}

fn line_done(b: &[u8]) -> bool {
    b.contains(&b'\n') || parse_mysql_handshake(b).is_some()
}

fn http_done(b: &[u8]) -> bool {
    // Head plus the title, or enough body.
    find(b, b"\r\n\r\n").is_some_and(|h| {
        let body = &b[h..];
        let lower: Vec<u8> = body.iter().map(u8::to_ascii_lowercase).collect();
        find(&lower, b"</title").is_some() || body.len() > 16 * 1024
    })
}

fn tls_done(b: &[u8]) -> bool {
    // ServerHelloDone (type 14) or an alert.
    b.first() == Some(&0x15) || find(b, &[0x0e, 0, 0, 0]).is_some()
}

fn http_request(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Vigil-exposure/0.1 (self-assessment)\r\nAccept: */*\r\nConnection: close\r\n\r\n").into_bytes()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    Banner,
    Http,
    Tls,
    Redis,
    Postgres,
    Rdp,
    Smb,
    Ldap,
}

fn hint(port: u16) -> Hint {
    match port {
        80 | 8000 | 8008 | 8080 | 8081 | 8888 | 9000 | 9200 | 2375 | 5985 => Hint::Http,
        443 | 4443 | 8443 | 10443 | 465 | 636 | 993 | 995 | 9443 => Hint::Tls,
        6379 => Hint::Redis,
        5432 => Hint::Postgres,
        3389 => Hint::Rdp,
        445 | 139 => Hint::Smb,
        389 => Hint::Ldap,
        _ => Hint::Banner,
    }
}

/// How long the server-first banner wait runs alone on a port of unknown service before the
/// client-first probes (HTTP, TLS) start beside it on their own connections. Servers that
/// speak first (SSH, FTP, SMTP, MySQL) mostly answer within it, so they see one connection;
/// slower ones answer on every connection, so the race still ends at their banner.
const BANNER_HEAD_START: Duration = Duration::from_millis(200);

/// Probes one open port and reports what it is. `host` is the name used in HTTP `Host` and TLS
/// SNI (the address when no name is known).
pub fn probe_port(c: &dyn Connector, addr: SocketAddr, host: &str, cfg: &ProbeConfig) -> Observation {
    let never = AtomicBool::new(false);
    let order: &[Hint] = match hint(addr.port()) {
        Hint::Http => &[Hint::Http, Hint::Banner, Hint::Tls],
        Hint::Tls => &[Hint::Tls, Hint::Banner, Hint::Http],
        Hint::Redis => &[Hint::Redis, Hint::Banner],
        Hint::Postgres => &[Hint::Postgres, Hint::Banner],
        Hint::Rdp => &[Hint::Rdp],
        Hint::Smb => &[Hint::Smb],
        Hint::Ldap => &[Hint::Ldap, Hint::Tls],
        Hint::Banner => &[],
    };
    let mut obs = if order.is_empty() { race_unknown(c, addr, host, cfg) } else { Observation::default() };
    for h in order {
        if run_probe(*h, c, addr, host, cfg, &mut obs, &never) {
            // A 400 to plain HTTP is what HTTPS servers answer on their TLS port ("The plain
            // HTTP request was sent to HTTPS port"): try TLS before settling for it.
            if *h == Hint::Http && is_plain_400(&obs) {
                let mut tls_obs = Observation::default();
                if run_probe(Hint::Tls, c, addr, host, cfg, &mut tls_obs, &never) {
                    obs = tls_obs;
                }
            }
            break;
        }
    }
    if obs.protocol.as_deref() == Some("http") && cfg.portal_paths {
        obs.portal_paths = portal_paths(c, addr, host, cfg);
    }
    if obs.protocol.is_none() {
        obs.protocol = Some("unknown".into());
    }
    obs
}

fn is_plain_400(o: &Observation) -> bool {
    o.protocol.as_deref() == Some("http") && o.http.as_ref().is_some_and(|x| x.status == 400)
}

/// A port whose number says nothing: the order of preference is banner, HTTP, TLS, Redis, but
/// the banner wait and the HTTP, TLS and Redis probes run at once, each on its own connection
/// (after the banner's head start), and the first answer that settles the order wins; the
/// others are cancelled. An answer to a request (HTTP, a ServerHello, a Redis reply) settles it
/// without waiting out the banner: a server that speaks first would have put its greeting
/// before that answer on the same connection.
fn race_unknown(c: &dyn Connector, addr: SocketAddr, host: &str, cfg: &ProbeConfig) -> Observation {
    let cancel = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(Hint, bool, Observation)>();
    let mut slots = Slots::default();
    let decided = std::thread::scope(|s| {
        let start = |h: Hint, tx: mpsc::Sender<(Hint, bool, Observation)>| {
            let cancel = &cancel;
            s.spawn(move || {
                let mut o = Observation::default();
                let ok = run_probe(h, c, addr, host, cfg, &mut o, cancel);
                let _ = tx.send((h, ok, o));
            });
        };
        start(Hint::Banner, tx.clone());
        if let Ok(m) = rx.recv_timeout(BANNER_HEAD_START.min(cfg.banner_wait)) {
            slots.put(m);
        }
        if let Some(o) = slots.decide() {
            return Some(o);
        }
        start(Hint::Http, tx.clone());
        start(Hint::Tls, tx.clone());
        start(Hint::Redis, tx);
        // Ends when a result settles it or every probe has reported (a panicking probe drops
        // its sender, so `recv` cannot wait forever).
        while let Ok(m) = rx.recv() {
            slots.put(m);
            if let Some(o) = slots.decide() {
                cancel.store(true, Ordering::Relaxed);
                return Some(o);
            }
        }
        None
    });
    // Nothing answered: what the banner probe saw, if anything.
    decided.unwrap_or_else(|| slots.banner.map(|(_, o)| o).unwrap_or_default())
}

/// The winner's observation, keeping an unclassified banner seen first (as the sequential
/// order would).
fn with_banner(mut winner: Observation, banner: Observation) -> Observation {
    if winner.banner.is_none() {
        winner.banner = banner.banner;
    }
    winner
}

/// Results of the concurrent probes of [`race_unknown`] so far: (answered, observation).
#[derive(Default)]
struct Slots {
    banner: Option<(bool, Observation)>,
    http: Option<(bool, Observation)>,
    tls: Option<(bool, Observation)>,
    redis: Option<(bool, Observation)>,
}

impl Slots {
    fn put(&mut self, (h, ok, o): (Hint, bool, Observation)) {
        match h {
            Hint::Banner => self.banner = Some((ok, o)),
            Hint::Http => self.http = Some((ok, o)),
            Hint::Tls => self.tls = Some((ok, o)),
            Hint::Redis => self.redis = Some((ok, o)),
            _ => {}
        }
    }

    /// The answer, when what is known settles it (see [`race_unknown`]).
    fn decide(&self) -> Option<Observation> {
        let banner = match &self.banner {
            Some((true, o)) => return Some(o.clone()),
            Some((false, o)) => Some(o),
            None => None,
        };
        let banner_obs = || banner.cloned().unwrap_or_default();
        if let Some((true, h)) = &self.http {
            if is_plain_400(h) {
                // As sequentially: TLS before settling for the 400 (the banner cannot matter:
                // a server that speaks first would have put its banner before any HTTP answer).
                return match &self.tls {
                    Some((true, t)) => Some(t.clone()),
                    Some((false, _)) => Some(with_banner(h.clone(), banner_obs())),
                    None => None,
                };
            }
            // An answer to the request (HTTP, or Redis's error line): had the server spoken
            // first, its banner would have come before it on this connection too.
            if matches!(h.protocol.as_deref(), Some("http" | "redis")) {
                return Some(with_banner(h.clone(), banner_obs()));
            }
            // The GET was met by a greeting (SSH, FTP…): the banner probe, which reads exactly
            // the greeting, has it at the same moment (or has given up waiting).
            return banner.is_some().then(|| with_banner(h.clone(), banner_obs()));
        }
        // HTTP failed or is pending. TLS counts once HTTP has failed (a server answering both
        // plain HTTP and TLS on one port is named by its plain HTTP, as a sequential run would).
        if let (Some(_), Some((true, t))) = (&self.http, &self.tls) {
            return Some(with_banner(t.clone(), banner_obs()));
        }
        // A Redis reply: neither HTTP nor TLS is spoken there (their answers come at once).
        if let Some((true, r)) = &self.redis {
            return Some(with_banner(r.clone(), banner_obs()));
        }
        None
    }
}

/// Portal paths that answered, asked all at once. A catch-all web server answers every path,
/// so a portal path answering proves nothing there: a path no product uses is asked too, and
/// when it answers, no portal path counts.
fn portal_paths(c: &dyn Connector, addr: SocketAddr, host: &str, cfg: &ProbeConfig) -> Vec<(String, u16)> {
    let never = AtomicBool::new(false);
    let ask = |path: &str| -> Option<u16> {
        let resp = exchange(c, addr, cfg, &http_request(host, path), cfg.read_timeout, &never, http_done).ok()?;
        parse_http_response(&resp).map(|h| h.status)
    };
    let (control, answers) = std::thread::scope(|s| {
        let control =
            s.spawn(|| exchange(c, addr, cfg, &http_request(host, "/vigil-control-7f3a9c/none.html"), cfg.read_timeout, &never, http_done));
        let each: Vec<_> = PORTAL_PATHS.iter().map(|p| (*p, s.spawn(move || ask(p)))).collect();
        let control = control.join().ok();
        (control, each.into_iter().map(|(p, h)| (p, h.join().ok().flatten())).collect::<Vec<_>>())
    });
    // Unreachable or a success for the control path: a catch-all (or unknown), nothing counts.
    let catch_all = match control {
        Some(Ok(resp)) => parse_http_response(&resp).is_none_or(|h| (200..400).contains(&h.status)),
        _ => true,
    };
    if catch_all {
        return Vec::new();
    }
    answers.into_iter().filter_map(|(p, st)| st.filter(|s| (200..400).contains(s)).map(|s| (p.to_string(), s))).collect()
}

fn run_probe(
    h: Hint,
    c: &dyn Connector,
    addr: SocketAddr,
    host: &str,
    cfg: &ProbeConfig,
    obs: &mut Observation,
    cancel: &AtomicBool,
) -> bool {
    match h {
        Hint::Banner => {
            let Ok(b) = exchange(c, addr, cfg, &[], cfg.banner_wait, cancel, line_done) else { return false };
            if let Some((proto, line)) = classify_banner(&b) {
                if proto == "mysql" {
                    obs.mysql_version = Some(line).filter(|v| !v.is_empty());
                } else {
                    obs.banner = Some(line);
                }
                obs.protocol = Some(proto.into());
                if proto == "redis" {
                    // A refusal line is already an answer; INFO may add the version.
                    let _ = run_probe(Hint::Redis, c, addr, host, cfg, obs, cancel);
                    return true;
                }
                return proto != "unknown";
            }
            false
        }
        Hint::Http => {
            let Ok(b) = exchange(c, addr, cfg, &http_request(host, "/"), cfg.read_timeout, cancel, http_done) else { return false };
            match parse_http_response(&b) {
                Some(info) => {
                    obs.http = Some(info);
                    obs.protocol = Some("http".into());
                    true
                }
                None => {
                    if let Some((proto, line)) = classify_banner(&b)
                        && proto != "unknown"
                    {
                        // Redis answers an HTTP request with an error line: ask it properly.
                        if proto == "redis" && run_probe(Hint::Redis, c, addr, host, cfg, obs, cancel) {
                            return true;
                        }
                        obs.protocol = Some(proto.into());
                        obs.banner = Some(line);
                        return true;
                    }
                    false
                }
            }
        }
        Hint::Tls => {
            let hello = client_hello(Some(host));
            let Ok(b) = exchange(c, addr, cfg, &hello, cfg.read_timeout, cancel, tls_done) else { return false };
            let (is_tls, cert) = parse_tls_server(&hello, &b);
            if is_tls {
                obs.tls = true;
                obs.cert = cert;
                // A full handshake: version, cipher, the certificate even from TLS-1.3-only
                // servers, and on web ports the HTTP answer inside TLS.
                let web = !matches!(addr.port(), 25 | 110 | 143 | 465 | 587 | 636 | 989 | 990 | 993 | 995 | 5432 | 3306);
                let req = http_request(host, "/");
                if let Ok(sess) = crate::https::session(c, addr, host, cfg, web.then_some(req.as_slice()), http_done) {
                    obs.tls_version = sess.version;
                    obs.tls_cipher = sess.cipher;
                    if sess.cert.is_some() {
                        obs.cert = sess.cert;
                    }
                    if let Some(info) = parse_http_response(&sess.response) {
                        obs.http = Some(info);
                        obs.protocol = Some("https".into());
                    }
                }
                if obs.protocol.is_none() {
                    obs.protocol = Some(
                        match addr.port() {
                            443 | 4443 | 8443 | 10443 | 9443 => "https",
                            993 => "imaps",
                            995 => "pop3s",
                            465 => "smtps",
                            636 => "ldaps",
                            _ => "tls",
                        }
                        .into(),
                    );
                }
            }
            is_tls
        }
        Hint::Redis => {
            let Ok(b) = exchange(c, addr, cfg, b"INFO server\r\n", cfg.read_timeout, cancel, |b| {
                b.starts_with(b"-") && b.contains(&b'\n') || find(b, b"redis_version:").is_some_and(|i| b[i..].contains(&b'\n'))
            }) else {
                return false;
            };
            match parse_redis_info(&b) {
                Some(Ok(v)) => {
                    obs.protocol = Some("redis".into());
                    obs.redis_open = true;
                    obs.redis_version = Some(v).filter(|v| !v.is_empty());
                    true
                }
                Some(Err(())) => {
                    obs.protocol = Some("redis".into());
                    obs.banner = Some(printable(&b, 200).lines().next().unwrap_or("").to_string());
                    true
                }
                None => false,
            }
        }
        Hint::Postgres => {
            let Ok(b) = exchange(c, addr, cfg, PG_SSLREQUEST, cfg.read_timeout, cancel, |b| !b.is_empty()) else { return false };
            if b.len() == 1 && (b[0] == b'S' || b[0] == b'N') {
                obs.protocol = Some("postgresql".into());
                obs.tls = b[0] == b'S';
                return true;
            }
            false
        }
        Hint::Rdp => {
            let Ok(b) = exchange(c, addr, cfg, RDP_CR, cfg.read_timeout, cancel, |b| b.len() >= 11) else { return false };
            if parse_rdp(&b) {
                obs.protocol = Some("rdp".into());
                return true;
            }
            false
        }
        Hint::Smb => {
            let Ok(b) = exchange(c, addr, cfg, SMB_NEGOTIATE, cfg.read_timeout, cancel, |b| b.len() >= 4 + 64 + 8) else { return false };
            if let Some(d) = parse_smb(&b) {
                obs.protocol = Some("smb".into());
                obs.smb_dialect = Some(d);
                return true;
            }
            false
        }
        Hint::Ldap => {
            let Ok(b) = exchange(c, addr, cfg, LDAP_ROOTDSE, cfg.read_timeout, cancel, |b| find(b, &[0x65]).is_some() && b.len() > 12)
            else {
                return false;
            };
            if b.first() == Some(&0x30) && b.len() > 6 {
                obs.protocol = Some("ldap".into());
                obs.ldap_vendor = ldap_attr(&b, "vendorName");
                obs.ldap_version = ldap_attr(&b, "vendorVersion");
                return true;
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_head_and_title() {
        let h = parse_http_response(b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nX-Powered-By: PHP/8.2\r\nSet-Cookie: SVPNCOOKIE=; path=/\r\n\r\n<html><head><TITLE> Zimbra &amp; Web\n Client </title>").unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(h.server.as_deref(), Some("nginx/1.22.1"));
        assert_eq!(h.powered_by.as_deref(), Some("PHP/8.2"));
        assert_eq!(h.title.as_deref(), Some("Zimbra & Web Client"));
        assert_eq!(h.cookies, vec!["SVPNCOOKIE"]);
        assert!(parse_http_response(b"SSH-2.0-x").is_none());
    }

    #[test]
    fn titles_follow_the_declared_charset() {
        // 中文 in GBK, declared by the header, by a meta tag, and not at all.
        let gbk = b"<html><title>\xd6\xd0\xce\xc4 Portal</title>";
        assert_eq!(parse_title_in(gbk, Some("GBK")).as_deref(), Some("中文 Portal"));
        let mut meta = b"<meta charset=\"gb2312\">".to_vec();
        meta.extend_from_slice(gbk);
        assert_eq!(parse_title(&meta).as_deref(), Some("中文 Portal"));
        let mut equiv = b"<META HTTP-EQUIV='Content-Type' CONTENT='text/html; charset=gbk'>".to_vec();
        equiv.extend_from_slice(gbk);
        assert_eq!(parse_title(&equiv).as_deref(), Some("中文 Portal"));
        // Undeclared and not UTF-8: windows-1252, never a panic or a replacement soup.
        assert_eq!(parse_title(b"<title>Caf\xe9</title>").as_deref(), Some("Café"));
        // Shift_JIS by header; a UTF-8 BOM beats a wrong header.
        assert_eq!(parse_title_in(b"<title>\x93\xfa\x96\x7b</title>", Some("shift_jis")).as_deref(), Some("日本"));
        assert_eq!(parse_title_in("\u{feff}<title>Ünïcode</title>".as_bytes(), Some("iso-8859-1")).as_deref(), Some("Ünïcode"));
        assert_eq!(header_charset("text/html; Charset=\"UTF-8\""), Some("UTF-8".into()));
        assert_eq!(header_charset("text/html"), None);
        // A full response: the header's charset reaches the title.
        let h = parse_http_response(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=gbk\r\n\r\n<title>\xd6\xd0</title>").unwrap();
        assert_eq!(h.title.as_deref(), Some("中"));
    }

    #[test]
    fn titles_and_headers_cannot_carry_terminal_controls() {
        let t = parse_title(b"<title>a\x1b[2J\x07b &#x202e;evil&#8238; &#27;</title>").unwrap();
        assert!(!t.chars().any(|c| c.is_control() || c == '\u{202e}'), "{t:?}");
        assert_eq!(t, "a\\u{1b}[2J\\u{7}b \\u{202e}evil\\u{202e} \\u{1b}");
        let h = parse_http_response(b"HTTP/1.1 200 OK\r\nServer: nginx\x1b]0;pwned\x07\r\n\r\n").unwrap();
        assert!(!h.server.unwrap().chars().any(char::is_control));
        assert_eq!(decode_entities("&lt;b&gt; &amp;amp; &#20013;&#x6587; &bogus; &#xffffffff; &"), "<b> &amp; 中文 &bogus; &#xffffffff; &");
        // Bounded: no title end within the read, no title.
        assert_eq!(parse_title(b"<title>never closed"), None);
        let long = format!("<title>{}</title>", "x".repeat(5000));
        assert_eq!(parse_title(long.as_bytes()).map(|t| t.chars().count()), Some(200));
    }

    #[test]
    fn banners_classify() {
        assert_eq!(classify_banner(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n").unwrap().0, "ssh");
        assert_eq!(classify_banner(b"220 (vsFTPd 3.0.3)\r\n").unwrap().0, "ftp");
        assert_eq!(classify_banner(b"220 mx.example.cn ESMTP Postfix (Debian/GNU)\r\n").unwrap().0, "smtp");
        assert_eq!(classify_banner(b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n").unwrap().0, "imap");
        let mut my = vec![0x4a, 0, 0, 0, 10];
        my.extend_from_slice(b"10.11.6-MariaDB-0+deb12u1\0rest");
        assert_eq!(classify_banner(&my).unwrap(), ("mysql", "10.11.6-MariaDB-0+deb12u1".to_string()));
        assert!(classify_banner(b"").is_none());
    }

    #[test]
    fn redis_rdp_smb_parsers() {
        assert_eq!(parse_redis_info(b"$100\r\n# Server\r\nredis_version:7.0.15\r\n"), Some(Ok("7.0.15".into())));
        assert_eq!(parse_redis_info(b"-NOAUTH Authentication required.\r\n"), Some(Err(())));
        assert!(parse_rdp(&[3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0, 8, 0, 2, 0, 0, 0]));
        let mut smb = vec![0, 0, 0, 0x80, 0xfe, b'S', b'M', b'B'];
        smb.resize(4 + 64, 0);
        smb.extend_from_slice(&[65, 0, 1, 0, 0x11, 0x03]);
        assert_eq!(parse_smb(&smb).as_deref(), Some("SMB 3.1.1"));
        assert_eq!(parse_smb(&[0, 0]), None);
    }

    /// A loopback server that runs `serve` on every connection it accepts (for `conns`
    /// connections at most), counting them.
    fn serve_each(conns: usize, serve: fn(std::net::TcpStream)) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let n = seen.clone();
        std::thread::spawn(move || {
            for s in l.incoming().take(conns).flatten() {
                n.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || serve(s));
            }
        });
        (addr, seen)
    }

    fn read_request(s: &mut std::net::TcpStream) -> String {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while find(&buf, b"\r\n\r\n").is_none() {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    }

    #[test]
    fn a_slow_banner_beyond_the_head_start_still_wins_over_the_concurrent_probes() {
        // Speaks first, late, on every connection (as sshd does): the HTTP and TLS probes that
        // start meanwhile read the same banner, and the banner probe's reading is the answer.
        let (addr, _) = serve_each(16, |mut s| {
            std::thread::sleep(BANNER_HEAD_START * 2);
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
            let _ = read_request(&mut s);
        });
        assert_eq!(hint(addr.port()), Hint::Banner, "an ephemeral port has no hint");
        let o = probe_port(&TcpConnector, addr, "127.0.0.1", &ProbeConfig::default());
        assert_eq!(o.protocol.as_deref(), Some("ssh"), "{o:#?}");
        assert_eq!(o.banner.as_deref(), Some("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"));
        assert!(o.http.is_none() && !o.tls);
    }

    #[test]
    fn http_on_an_unknown_port_is_named_without_the_banner_wait_and_portals_are_checked() {
        let (addr, seen) = serve_each(64, |mut s| {
            let req = read_request(&mut s);
            let resp: &[u8] = if req.starts_with("GET / ") {
                b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nConnection: close\r\n\r\n<title>Home</title>"
            } else if req.starts_with("GET /zimbra/ ") {
                b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n<title>Zimbra</title>"
            } else if req.starts_with("GET ") {
                b"HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n"
            } else {
                b""
            };
            let _ = s.write_all(resp);
        });
        let o = probe_port(&TcpConnector, addr, "127.0.0.1", &ProbeConfig::default());
        assert_eq!(o.protocol.as_deref(), Some("http"), "{o:#?}");
        let h = o.http.as_ref().unwrap();
        assert_eq!((h.status, h.server.as_deref(), h.title.as_deref()), (200, Some("nginx/1.22.1"), Some("Home")));
        // Only the portal that exists; the control path got a 404, so answers count.
        assert_eq!(o.portal_paths, vec![("/zimbra/".to_string(), 200)]);
        // banner, GET /, ClientHello, Redis INFO, control path, every portal path.
        assert!(seen.load(Ordering::SeqCst) <= 4 + 1 + PORTAL_PATHS.len());
    }

    #[test]
    fn a_catch_all_web_server_claims_no_portal() {
        let (addr, _) = serve_each(64, |mut s| {
            let _ = read_request(&mut s);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n<title>Anything</title>");
        });
        let o = probe_port(&TcpConnector, addr, "127.0.0.1", &ProbeConfig::default());
        assert_eq!(o.protocol.as_deref(), Some("http"));
        assert!(o.portal_paths.is_empty(), "{:?}", o.portal_paths);
    }

    #[test]
    fn a_silent_port_stays_unknown_and_a_cancelled_read_stops_at_once() {
        let (addr, _) = serve_each(16, |mut s| {
            let _ = read_request(&mut s);
        });
        let cfg = ProbeConfig { banner_wait: Duration::from_millis(300), read_timeout: Duration::from_millis(300), ..Default::default() };
        let o = probe_port(&TcpConnector, addr, "127.0.0.1", &cfg);
        assert_eq!(o.protocol.as_deref(), Some("unknown"), "{o:#?}");
        // A stream with data waiting is not read at all once the race is decided.
        let cancelled = AtomicBool::new(true);
        let mut data = io::Cursor::new(b"SSH-2.0-x\r\n".to_vec());
        struct Rw<'a>(&'a mut io::Cursor<Vec<u8>>);
        impl Read for Rw<'_> {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                self.0.read(b)
            }
        }
        impl Write for Rw<'_> {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        assert!(read_until_cancel(&mut Rw(&mut data), Duration::from_secs(1), &cancelled, line_done).is_empty());
        let live = AtomicBool::new(false);
        assert_eq!(read_until_cancel(&mut Rw(&mut data), Duration::from_secs(1), &live, line_done), b"SSH-2.0-x\r\n");
    }

    #[test]
    fn client_hello_parses_with_vigil_proto() {
        let ch = client_hello(Some("vpn.example.cn"));
        let body = &ch[9..];
        let parsed = vigil_proto::tls::parse_client_hello(body).unwrap();
        assert_eq!(parsed.server_name.as_deref(), Some("vpn.example.cn"));
        assert!(parsed.supported_versions.is_empty());
    }
}
