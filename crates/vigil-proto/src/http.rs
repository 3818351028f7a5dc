//! HTTP/1.x request and response parsing over TCP streams: request/status lines, the headers
//! http.log keeps, and body lengths from Content-Length or chunked framing (bodies are
//! counted, never stored). Pipelined requests pair with responses in order.

use vigil_model::{HttpTxn, Timestamp};

/// Largest header block buffered per message.
const MAX_HEAD: usize = 16 * 1024;
/// Longest chunk-size or trailer line.
const MAX_LINE: usize = 1024;
/// Transactions kept per connection.
const MAX_TXNS: usize = 256;
/// Longest header value kept (URIs and user agents can be very long; http.log keeps them).
const MAX_VALUE: usize = 4096;

/// Why a message head was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("bad request line")]
    BadRequestLine,
    #[error("bad status line")]
    BadStatusLine,
}

/// A parsed request head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    pub uri: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
}

/// A parsed response head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseHead {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn clip(s: &str) -> String {
    let mut end = s.len().min(MAX_VALUE);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn split_lines(head: &[u8]) -> Vec<&[u8]> {
    head.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect()
}

fn parse_headers(lines: &[&[u8]]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        // Obsolete line folding: continuation of the previous value.
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(String::from_utf8_lossy(line).trim());
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let name = String::from_utf8_lossy(&line[..colon]).trim().to_string();
        let value = String::from_utf8_lossy(&line[colon + 1..]).trim().to_string();
        out.push((name, clip(&value)));
    }
    out
}

/// Decodes `%XX` escapes (invalid ones are kept as they are), as Zeek's http.log `uri` does.
pub fn unescape_uri(uri: &[u8]) -> String {
    let mut out = Vec::with_capacity(uri.len());
    let mut i = 0;
    while i < uri.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if uri[i] == b'%'
            && let (Some(h), Some(l)) = (uri.get(i + 1).and_then(|&b| hex(b)), uri.get(i + 2).and_then(|&b| hex(b)))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(uri[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `line` (without line ending) is an HTTP/1.x request line.
pub fn parse_request_line(line: &[u8]) -> Option<(String, String, String)> {
    let sp1 = line.iter().position(|&b| b == b' ')?;
    let method = &line[..sp1];
    if method.is_empty() || method.len() > 32 || !method.iter().all(|&b| is_token_byte(b)) {
        return None;
    }
    let rest = &line[sp1 + 1..];
    // HTTP/0.9 simple request: "GET /path" with no version.
    if method == b"GET" && rest.first() == Some(&b'/') && !rest.contains(&b' ') {
        return Some(("GET".to_string(), clip(&unescape_uri(rest)), "0.9".to_string()));
    }
    let sp2 = rest.iter().rposition(|&b| b == b' ')?;
    let uri = &rest[..sp2];
    let version = rest.get(sp2 + 1..)?;
    let v = version.strip_prefix(b"HTTP/")?;
    if !(v.starts_with(b"1.") || v == b"0.9") || uri.is_empty() || uri.contains(&b' ') {
        return None;
    }
    Some((String::from_utf8_lossy(method).into_owned(), clip(&unescape_uri(uri)), String::from_utf8_lossy(v).into_owned()))
}

/// Parses a complete request head (request line and headers, up to the blank line).
pub fn parse_request_head(head: &[u8]) -> Result<RequestHead, HttpError> {
    let lines = split_lines(head);
    let first = lines.first().ok_or(HttpError::BadRequestLine)?;
    let (method, uri, version) = parse_request_line(first).ok_or(HttpError::BadRequestLine)?;
    Ok(RequestHead { method, uri, version, headers: parse_headers(lines.get(1..).unwrap_or(&[])) })
}

/// Parses a complete response head (status line and headers).
pub fn parse_response_head(head: &[u8]) -> Result<ResponseHead, HttpError> {
    let lines = split_lines(head);
    let first = lines.first().ok_or(HttpError::BadStatusLine)?;
    let v = first.strip_prefix(b"HTTP/").ok_or(HttpError::BadStatusLine)?;
    let mut parts = v.splitn(3, |&b| b == b' ');
    let version = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let code = parts.next().ok_or(HttpError::BadStatusLine)?;
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Err(HttpError::BadStatusLine);
    }
    let status = code.iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
    let reason = String::from_utf8_lossy(parts.next().unwrap_or_default()).trim().to_string();
    Ok(ResponseHead { version, status, reason, headers: parse_headers(lines.get(1..).unwrap_or(&[])) })
}

/// How a message body is delimited.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Body {
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailer,
    UntilClose,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum State {
    #[default]
    Head,
    Body(Body),
    /// After a successful CONNECT: the bytes belong to the tunnelled protocol.
    Tunnel,
    Broken,
}

#[derive(Debug, Default)]
struct Direction {
    state: State,
    buf: Vec<u8>,
    /// Index of the transaction whose body is being counted.
    txn: Option<usize>,
}

/// Both directions of one HTTP/1.x connection.
#[derive(Debug, Default)]
pub struct HttpConn {
    pub txns: Vec<HttpTxn>,
    dirs: [Direction; 2],
    /// Next transaction awaiting a response.
    next_resp: usize,
    /// Requests or responses that did not parse.
    pub errors: u32,
    /// Transactions dropped at the per-connection cap.
    pub dropped: u32,
    /// A CONNECT succeeded: the rest of the connection is a tunnel.
    pub tunnel: bool,
}

fn framing(headers: &[(String, String)]) -> Option<Body> {
    if header(headers, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        return Some(Body::ChunkSize);
    }
    header(headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok()).map(Body::Length)
}

impl HttpConn {
    pub fn new() -> Self {
        HttpConn::default()
    }

    /// At least one request or response head parsed.
    pub fn recognised(&self) -> bool {
        !self.txns.is_empty()
    }

    /// Nothing more can be parsed (both directions broken, or the transaction cap reached).
    pub fn done(&self) -> bool {
        self.dirs.iter().all(|d| d.state == State::Broken)
    }

    /// A gap: skip it inside a counted body, otherwise the direction is lost.
    pub fn on_gap(&mut self, from_orig: bool, len: u64) {
        let i = usize::from(!from_orig);
        let d = &mut self.dirs[i];
        match &mut d.state {
            State::Body(Body::Length(n)) if *n >= len => *n -= len,
            State::Body(Body::ChunkData(n)) if *n >= len => *n -= len,
            State::Body(Body::UntilClose) => {}
            _ => d.state = State::Broken,
        }
    }

    /// Feeds contiguous stream bytes of one direction.
    ///
    /// Returns the bytes that follow a successful CONNECT (the tunnelled stream), if any.
    pub fn feed<'a>(&mut self, from_orig: bool, ts: Timestamp, mut data: &'a [u8]) -> &'a [u8] {
        let i = usize::from(!from_orig);
        // Each pass consumes bytes or changes state towards consuming them; the pass count is
        // still capped for safety.
        let mut passes = 0u32;
        while !data.is_empty() && passes < 100_000 {
            passes += 1;
            let state = self.dirs[i].state.clone();
            match state {
                State::Broken => return &[],
                State::Tunnel => return data,
                State::Head => {
                    let d = &mut self.dirs[i];
                    // Skip blank lines between messages (RFC 9112 §2.2).
                    if d.buf.is_empty() {
                        let skip = data.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
                        data = &data[skip..];
                        if data.is_empty() {
                            return &[];
                        }
                    }
                    let before = d.buf.len();
                    let take = data.len().min(MAX_HEAD + 4 - before.min(MAX_HEAD + 4));
                    d.buf.extend_from_slice(&data[..take]);
                    let mut end = find_head_end(&d.buf, before.saturating_sub(3));
                    // An HTTP/0.9 request is a single line with no headers.
                    if from_orig && end.is_none() {
                        end = simple_request_end(&d.buf);
                    }
                    match end {
                        Some(end) => {
                            let head: Vec<u8> = d.buf[..end].to_vec();
                            let consumed_new = end.saturating_sub(before);
                            d.buf.clear();
                            data = data.get(consumed_new..).unwrap_or(&[]);
                            self.on_head(from_orig, ts, &head);
                        }
                        None => {
                            data = &data[take..];
                            if d.buf.len() >= MAX_HEAD {
                                d.state = State::Broken;
                                d.buf.clear();
                                self.errors = self.errors.saturating_add(1);
                            }
                        }
                    }
                }
                State::Body(b) => {
                    data = self.body(i, b, data);
                }
            }
        }
        &[]
    }

    fn count(&mut self, i: usize, n: u64) {
        if let Some(t) = self.dirs[i].txn.and_then(|t| self.txns.get_mut(t)) {
            if i == 0 {
                t.request_body_len = t.request_body_len.saturating_add(n);
            } else {
                t.response_body_len = t.response_body_len.saturating_add(n);
            }
        }
    }

    /// Consumes body bytes in state `b`; returns what is left.
    fn body<'a>(&mut self, i: usize, b: Body, data: &'a [u8]) -> &'a [u8] {
        let set = |s: &mut Self, st: State| s.dirs[i].state = st;
        match b {
            Body::Length(n) => {
                let k = (data.len() as u64).min(n);
                self.count(i, k);
                let left = n - k;
                set(self, if left == 0 { State::Head } else { State::Body(Body::Length(left)) });
                &data[k as usize..]
            }
            Body::UntilClose => {
                self.count(i, data.len() as u64);
                &[]
            }
            Body::ChunkData(n) => {
                let k = (data.len() as u64).min(n);
                self.count(i, k);
                let left = n - k;
                set(self, State::Body(if left == 0 { Body::ChunkEnd } else { Body::ChunkData(left) }));
                &data[k as usize..]
            }
            Body::ChunkSize | Body::ChunkEnd | Body::Trailer => {
                let d = &mut self.dirs[i];
                let nl = data.iter().position(|&b| b == b'\n');
                let (part, rest) = match nl {
                    Some(p) => (&data[..=p], &data[p + 1..]),
                    None => (data, &[][..]),
                };
                d.buf.extend_from_slice(part);
                if nl.is_none() {
                    if d.buf.len() > MAX_LINE {
                        d.state = State::Broken;
                        d.buf.clear();
                    }
                    return rest;
                }
                let line = std::mem::take(&mut d.buf);
                let line = line.strip_suffix(b"\n").unwrap_or(&line);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                d.state = match b {
                    Body::ChunkEnd => State::Body(Body::ChunkSize),
                    Body::Trailer => {
                        if line.is_empty() {
                            State::Head
                        } else {
                            State::Body(Body::Trailer)
                        }
                    }
                    _ => {
                        let hex_part = line.split(|&c| c == b';').next().unwrap_or_default();
                        let hex_str = String::from_utf8_lossy(hex_part);
                        match u64::from_str_radix(hex_str.trim(), 16) {
                            Ok(0) => State::Body(Body::Trailer),
                            Ok(n) => State::Body(Body::ChunkData(n)),
                            Err(_) => State::Broken,
                        }
                    }
                };
                rest
            }
        }
    }

    fn on_head(&mut self, from_orig: bool, ts: Timestamp, head: &[u8]) {
        let i = usize::from(!from_orig);
        if from_orig {
            let Ok(req) = parse_request_head(head) else {
                self.errors = self.errors.saturating_add(1);
                self.dirs[i].state = State::Broken;
                return;
            };
            let body = framing(&req.headers).unwrap_or(Body::Length(0));
            if self.txns.len() >= MAX_TXNS {
                self.dropped = self.dropped.saturating_add(1);
                self.dirs[i].txn = None;
            } else {
                let h = &req.headers;
                // Most connections carry one request: room for exactly one first (a block of
                // four records took the allocator's slower path for large requests).
                if self.txns.capacity() == 0 {
                    self.txns.reserve_exact(1);
                }
                self.txns.push(HttpTxn {
                    ts,
                    method: Some(req.method),
                    host: header(h, "host").map(str::to_string),
                    uri: Some(req.uri),
                    referrer: header(h, "referer").map(str::to_string),
                    version: Some(req.version),
                    user_agent: header(h, "user-agent").map(str::to_string),
                    req_content_type: header(h, "content-type").map(str::to_string),
                    ..Default::default()
                });
                self.dirs[i].txn = Some(self.txns.len() - 1);
            }
            self.dirs[i].state = match body {
                Body::Length(0) => State::Head,
                b => State::Body(b),
            };
            // An HTTP/0.9 response is the bare body, up to the end of the connection.
            let is_09 = self.txns.last().is_some_and(|t| t.version.as_deref() == Some("0.9"));
            let r = &mut self.dirs[1];
            if is_09 && r.state == State::Head && r.buf.is_empty() && self.next_resp + 1 == self.txns.len() {
                r.state = State::Body(Body::UntilClose);
                r.txn = Some(self.next_resp);
                self.next_resp += 1;
            }
        } else {
            let Ok(resp) = parse_response_head(head) else {
                self.errors = self.errors.saturating_add(1);
                self.dirs[i].state = State::Broken;
                return;
            };
            // Interim 1xx responses precede the real one and carry no body (except 101,
            // after which the connection is another protocol).
            if (100..200).contains(&resp.status) && resp.status != 101 {
                return;
            }
            let idx = if self.next_resp < self.txns.len() {
                self.next_resp += 1;
                Some(self.next_resp - 1)
            } else if self.txns.len() < MAX_TXNS {
                // A response without a request we saw (capture started mid-stream).
                self.txns.push(HttpTxn { ts, ..Default::default() });
                self.next_resp = self.txns.len();
                Some(self.txns.len() - 1)
            } else {
                self.dropped = self.dropped.saturating_add(1);
                None
            };
            let mut is_head = false;
            if let Some(t) = idx.and_then(|k| self.txns.get_mut(k)) {
                let h = &resp.headers;
                t.status_code = Some(resp.status);
                t.status_msg = Some(resp.reason);
                t.server = header(h, "server").map(str::to_string);
                t.resp_content_type = header(h, "content-type").map(str::to_string);
                // Zeek's http.log keeps the last version seen: the response's.
                t.version = Some(resp.version);
                is_head = t.method.as_deref() == Some("HEAD");
            }
            self.dirs[i].txn = idx;
            let no_body = is_head || resp.status == 204 || resp.status == 304;
            let connect_ok = (200..300).contains(&resp.status)
                && idx.and_then(|k| self.txns.get(k)).is_some_and(|t| t.method.as_deref() == Some("CONNECT"));
            if connect_ok {
                // RFC 9110 §9.3.6: both directions become a tunnel after a 2xx to CONNECT.
                self.dirs[0].state = State::Tunnel;
                self.dirs[1].state = State::Tunnel;
                self.tunnel = true;
                return;
            }
            self.dirs[i].state = if resp.status == 101 {
                State::Broken
            } else if no_body {
                State::Head
            } else {
                match framing(&resp.headers) {
                    Some(Body::Length(0)) => State::Head,
                    Some(b) => State::Body(b),
                    None => State::Body(Body::UntilClose),
                }
            };
        }
    }
}

/// End of an HTTP/0.9 request line, if the buffer starts with one.
fn simple_request_end(buf: &[u8]) -> Option<usize> {
    let nl = buf.iter().position(|&b| b == b'\n')?;
    let line = &buf[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    parse_request_line(line).filter(|(_, _, v)| v == "0.9").map(|_| nl + 1)
}

/// End of the header block ("\r\n\r\n" or "\n\n"), searching from `from`; returns the index
/// just past it.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

/// Whether the start of a stream is (or, while incomplete, could still be) an HTTP/1.x
/// request: `Some(true)` yes, `Some(false)` no, `None` not enough bytes yet.
pub fn detect_request(prefix: &[u8]) -> Option<bool> {
    let line_end = prefix.iter().position(|&b| b == b'\n');
    let Some(end) = line_end else {
        // Rule out early: the method must be a token followed by a space.
        let method_len = prefix.iter().take_while(|&&b| is_token_byte(b)).count();
        if method_len > 32 || (method_len < prefix.len() && prefix.get(method_len) != Some(&b' ')) {
            return Some(false);
        }
        if prefix.len() > MAX_VALUE + 64 {
            return Some(false);
        }
        return None;
    };
    let line = &prefix[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some(parse_request_line(line).is_some_and(|(_, _, v)| v.starts_with("1.") || v == "0.9"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_response_heads() {
        let r =
            parse_request_head(b"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\nReferer: http://x/\r\n\r\n").unwrap();
        assert_eq!((r.method.as_str(), r.uri.as_str(), r.version.as_str()), ("GET", "/a?b=c", "1.1"));
        assert_eq!(header(&r.headers, "HOST"), Some("example.com"));
        let s = parse_response_head(b"HTTP/1.1 404 Not Found\r\nServer: nginx\r\n\r\n").unwrap();
        assert_eq!((s.status, s.reason.as_str()), (404, "Not Found"));
        assert!(parse_response_head(b"HTTP/1.1 4x4 Oops\r\n\r\n").is_err());
        assert!(parse_request_head(b"GET/HTTP/1.1\r\n\r\n").is_err());
    }

    #[test]
    fn connect_tunnel_hands_back_the_tunnelled_bytes() {
        let mut c = HttpConn::new();
        assert!(c.feed(true, Timestamp(0), b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n").is_empty());
        let rest = c.feed(false, Timestamp(0), b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01");
        assert_eq!(rest, b"\x16\x03\x01");
        assert!(c.tunnel);
        assert_eq!(c.feed(true, Timestamp(0), b"\x16\x03\x01\x00"), b"\x16\x03\x01\x00");
        assert_eq!(c.txns[0].method.as_deref(), Some("CONNECT"));
        assert_eq!(c.txns[0].status_code, Some(200));
    }

    #[test]
    fn http_09_simple_request() {
        let mut c = HttpConn::new();
        c.feed(true, Timestamp(0), b"GET /\r\n\r\n");
        c.feed(false, Timestamp(0), b"<html>hello</html>");
        assert_eq!(c.txns.len(), 1);
        assert_eq!(c.txns[0].version.as_deref(), Some("0.9"));
        assert_eq!(c.txns[0].response_body_len, 18);
        assert_eq!(detect_request(b"GET /index.html\r\n"), Some(true));
        assert_eq!(detect_request(b"POST /index.html\r\n"), Some(false));
    }

    #[test]
    fn uri_unescaping_like_zeek() {
        assert_eq!(unescape_uri(b"/a%2Cb%2c%zz%4"), "/a,b,%zz%4");
        assert_eq!(unescape_uri(b"/%e2%9c%93"), "/\u{2713}");
    }

    #[test]
    fn detection_prefix_rules() {
        assert_eq!(detect_request(b"GE"), None);
        assert_eq!(detect_request(b"GET /x HTT"), None);
        assert_eq!(detect_request(b"GET /x HTTP/1.0\r\n"), Some(true));
        assert_eq!(detect_request(b"\x16\x03\x01"), Some(false));
        assert_eq!(detect_request(b"GET /x FOO/1.0\r\n"), Some(false));
    }

    #[test]
    fn pipelined_requests_chunked_and_length_bodies() {
        let mut c = HttpConn::new();
        let reqs = b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhelloGET /two HTTP/1.1\r\nHost: h\r\n\r\nHEAD /three HTTP/1.1\r\nHost: h\r\n\r\n";
        for chunk in reqs.chunks(7) {
            c.feed(true, Timestamp(1), chunk);
        }
        let resps = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n4;x=y\r\nabcd\r\n3\r\nefg\r\n0\r\nX-T: 1\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n";
        for chunk in resps.chunks(3) {
            c.feed(false, Timestamp(2), chunk);
        }
        assert_eq!(c.txns.len(), 3);
        assert_eq!(c.txns[0].request_body_len, 5);
        assert_eq!(c.txns[0].req_content_type.as_deref(), Some("text/plain"));
        assert_eq!(c.txns[0].status_code, Some(200));
        assert_eq!(c.txns[0].response_body_len, 7);
        assert_eq!(c.txns[0].resp_content_type.as_deref(), Some("text/html"));
        assert_eq!(c.txns[1].uri.as_deref(), Some("/two"));
        assert_eq!(c.txns[1].status_code, Some(304));
        assert_eq!(c.txns[2].method.as_deref(), Some("HEAD"));
        assert_eq!(c.txns[2].status_code, Some(200));
        assert_eq!(c.txns[2].response_body_len, 0, "a HEAD response has no body");
    }

    #[test]
    fn body_until_close_and_gap_inside_body() {
        let mut c = HttpConn::new();
        c.feed(true, Timestamp(0), b"GET / HTTP/1.0\r\n\r\n");
        c.feed(false, Timestamp(0), b"HTTP/1.0 200 OK\r\n\r\n0123456789");
        c.on_gap(false, 100);
        c.feed(false, Timestamp(0), b"abc");
        assert_eq!(c.txns[0].response_body_len, 13);
        let mut d = HttpConn::new();
        d.feed(true, Timestamp(0), b"NOT HTTP AT ALL\r\n\r\n");
        assert!(d.txns.is_empty());
        assert_eq!(d.errors, 1);
    }
}
