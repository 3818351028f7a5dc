//! The seam between the flow table and the protocol parsers: [`AppSession`] detects the
//! application protocol from content (ports only break ties for DNS), buffers the first bytes of
//! each direction until it can decide (bounded), then replays them into the chosen parser.

use crate::dcerpc::{DceRpcConn, looks_like_dcerpc};
use crate::dns::{DnsMessage, DnsTracker, dns_candidate, looks_like_dns};
use crate::entropy::EntropyMeter;
use crate::http::{HttpConn, detect_request};
use crate::quic::{QuicConn, looks_like_quic_initial};
use crate::smb::{SmbConn, find_frame, looks_like_smb};
use crate::socks::{Socks, detect_greeting};
use crate::ssh::SshConn;
use crate::tls::{TlsConn, looks_like_sslv2_hello, looks_like_tls_record};
use crate::tunnel::{Prefix, RdpPrefix, StartTls, TextProto, detect_rdp, detect_starttls};
use vigil_model::{AppMeta, DceRpcMeta, PROTO_TCP, PROTO_UDP, Timestamp};

/// Bytes of each side examined for entropy.
const ENTROPY_BYTES: u32 = 4096;
/// Bytes per direction buffered while the protocol is undecided.
const DETECT_BYTES: usize = 16 * 1024;
/// UDP datagrams examined before giving up on detection.
const DETECT_DATAGRAMS: u32 = 8;
/// Ports where DNS-format messages are expected (DNS, mDNS, LLMNR, NetBIOS name service), so
/// detection can be less strict.
const DNS_PORTS: [u16; 4] = [53, 5353, 5355, 137];
/// NetBIOS name service: DNS message format with encoded names (Zeek logs it in dns.log).
const NBNS_PORT: u16 = 137;
/// Ports where SMB is expected: a capture that starts in the middle of a session is searched
/// for the next SMB frame there.
const SMB_PORTS: [u16; 2] = [445, 139];
/// Bytes per direction parsed on SMB connections: enough for a service binary or a tool of a
/// few megabytes copied before the service is created in the same session. SMB parsing skips
/// message payloads by count, so the cost is a header parse per message.
pub const SMB_BUDGET: u32 = 8 << 20;
/// Bytes per direction parsed on direct DCE-RPC connections (stubs are skipped likewise).
pub const DCE_RPC_BUDGET: u32 = 1 << 20;

#[derive(Debug)]
enum Parser {
    Undecided,
    /// Nothing recognised; only entropy is measured.
    Unknown,
    Tls(Box<TlsConn>),
    Dns(Box<DnsTracker>),
    /// HTTP, and the session inside a tunnel opened by CONNECT.
    Http(Box<HttpConn>, Option<Box<AppSession>>),
    Ssh(Box<SshConn>),
    Quic(Box<QuicConn>),
    /// A cleartext prefix (SOCKS, RDP negotiation, STARTTLS), then a session for the
    /// tunnelled stream.
    Tunnel(Box<Prefix>, Box<AppSession>),
    Smb(Box<SmbConn>),
    /// DCE-RPC straight over TCP (endpoint mapper, dynamic ports).
    DceRpc(Box<DceRpcConn>, Box<DceRpcMeta>),
}

/// What detection concluded for a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Tls,
    Ssh,
    Http,
    DnsTcp,
    Socks(u8),
    Rdp,
    StartTls(TextProto),
    Smb,
    DceRpc,
    NeedMore,
    No,
}

/// Per-connection application parser state.
///
/// The flow table calls [`AppSession::on_data`] with each side's payload: for TCP, contiguous
/// in-order stream bytes (gaps reported with [`AppSession::on_gap`]); for UDP, one datagram per
/// call. It stops calling once [`AppSession::done`] is true, and calls [`AppSession::finish`]
/// when the connection is reported.
#[derive(Debug)]
pub struct AppSession {
    proto: u8,
    orig_p: u16,
    resp_p: u16,
    orig_entropy: EntropyMeter,
    resp_entropy: EntropyMeter,
    meta: AppMeta,
    parser: Parser,
    /// Bytes of each direction seen while undecided (TCP), for detection and replay.
    pending: [Vec<u8>; 2],
    /// Arrival order of the pending bytes: (from_orig, ts, length).
    pending_order: Vec<(bool, Timestamp, usize)>,
    gapped: [bool; 2],
    datagrams: u32,
    /// This session parses the stream inside a SOCKS tunnel (no further nesting).
    tunnelled: bool,
}

impl AppSession {
    pub fn new(proto: u8, orig_p: u16, resp_p: u16) -> Self {
        AppSession {
            proto,
            orig_p,
            resp_p,
            orig_entropy: EntropyMeter::new(ENTROPY_BYTES),
            resp_entropy: EntropyMeter::new(ENTROPY_BYTES),
            meta: AppMeta::default(),
            parser: if proto == PROTO_TCP || proto == PROTO_UDP { Parser::Undecided } else { Parser::Unknown },
            pending: [Vec::new(), Vec::new()],
            pending_order: Vec::new(),
            gapped: [false; 2],
            datagrams: 0,
            tunnelled: false,
        }
    }

    fn dns_port(&self) -> bool {
        DNS_PORTS.contains(&self.orig_p) || DNS_PORTS.contains(&self.resp_p)
    }

    pub fn on_data(&mut self, from_orig: bool, ts: Timestamp, data: &[u8]) {
        if !self.entropy_settled() {
            if from_orig {
                self.orig_entropy.feed(data);
            } else {
                self.resp_entropy.feed(data);
            }
        }
        if data.is_empty() {
            return;
        }
        if matches!(self.parser, Parser::Undecided) {
            if self.proto == PROTO_UDP {
                if let Some(m) = self.detect_udp(from_orig, data) {
                    // Detection parsed the datagram already; the tracker takes it as it is.
                    if let Parser::Dns(d) = &mut self.parser {
                        d.on_parsed(ts, m);
                    }
                    return;
                }
            } else {
                self.detect_tcp(from_orig, ts, data);
                return; // detect_tcp replays the data into the chosen parser
            }
        }
        self.dispatch(from_orig, ts, data);
    }

    fn dispatch(&mut self, from_orig: bool, ts: Timestamp, data: &[u8]) {
        let udp = self.proto == PROTO_UDP;
        match &mut self.parser {
            Parser::Undecided | Parser::Unknown => {}
            Parser::Tls(t) => t.feed(from_orig, data),
            Parser::Dns(d) => {
                if udp {
                    d.on_message(ts, data);
                } else {
                    d.on_tcp(from_orig, ts, data);
                }
            }
            Parser::Http(h, inner) => {
                let rest = h.feed(from_orig, ts, data);
                if h.tunnel && !rest.is_empty() {
                    let (proto, o, r) = (self.proto, self.orig_p, self.resp_p);
                    inner
                        .get_or_insert_with(|| {
                            let mut s = AppSession::new(proto, o, r);
                            s.tunnelled = true;
                            Box::new(s)
                        })
                        .on_data(from_orig, ts, rest);
                }
            }
            Parser::Ssh(s) => s.feed(from_orig, data),
            Parser::Quic(q) => q.on_datagram(from_orig, data),
            Parser::Smb(s) => s.feed(from_orig, ts, data),
            Parser::DceRpc(c, m) => c.feed(from_orig, ts, data, m),
            Parser::Tunnel(prefix, inner) => {
                for (dir, bytes) in prefix.feed(from_orig, data).unwrap_or_default() {
                    if !bytes.is_empty() {
                        inner.on_data(dir, ts, &bytes);
                    }
                }
            }
        }
    }

    /// Returns the parsed message when the datagram made the session DNS.
    fn detect_udp(&mut self, from_orig: bool, data: &[u8]) -> Option<DnsMessage> {
        self.datagrams += 1;
        if looks_like_quic_initial(data) {
            self.parser = Parser::Quic(Box::default());
        } else if let Some(m) = dns_candidate(data, !self.dns_port()) {
            let nbns = self.orig_p == NBNS_PORT || self.resp_p == NBNS_PORT;
            self.parser = Parser::Dns(Box::new(if nbns { DnsTracker::netbios() } else { DnsTracker::new() }));
            return Some(m);
        } else if self.datagrams >= DETECT_DATAGRAMS || (!from_orig && self.datagrams >= 2) {
            // Responses that are neither give no hope that later datagrams will be.
            self.parser = Parser::Unknown;
        }
        None
    }

    /// A tunnel whose inner session parses what follows the prefix.
    fn tunnel(&self, prefix: Prefix) -> Parser {
        let mut inner = AppSession::new(self.proto, self.orig_p, self.resp_p);
        inner.tunnelled = true;
        Parser::Tunnel(Box::new(prefix), Box::new(inner))
    }

    fn verdict(&self) -> Verdict {
        let [o, r] = &self.pending;
        self.verdict_of(o, r)
    }

    /// The verdict on the first bytes `o` of the originator and `r` of the responder.
    fn verdict_of(&self, o: &[u8], r: &[u8]) -> Verdict {
        // The server speaks first in SSH; either side's banner decides.
        for side in [o, r] {
            if side.len() >= 4 && side.starts_with(b"SSH-") {
                return Verdict::Ssh;
            }
        }
        if (o.len() >= 3 && looks_like_tls_record(o)) || looks_like_sslv2_hello(o) {
            return Verdict::Tls;
        }
        // SMB and DCE-RPC by their framing and signatures, from either side (a capture that
        // starts mid-session may show the server first).
        let smb = looks_like_smb(o);
        let dce = looks_like_dcerpc(o, true);
        if smb == Some(true) || (o.is_empty() && looks_like_smb(r) == Some(true)) {
            return Verdict::Smb;
        }
        if dce == Some(true) || (o.is_empty() && looks_like_dcerpc(r, false) == Some(true)) {
            return Verdict::DceRpc;
        }
        let smb_port = SMB_PORTS.contains(&self.resp_p) || SMB_PORTS.contains(&self.orig_p);
        // Searched in the first 4 KB only: this runs for every segment while undecided.
        let head = |b: &'_ [u8]| -> bool { find_frame(b.get(..b.len().min(4096)).unwrap_or(&[])).is_some() };
        if smb_port && (head(o) || head(r)) {
            return Verdict::Smb;
        }
        let undecided_binary = smb.is_none() || dce.is_none();
        if o.len() < 5 && !o.is_empty() && (b"SSH-".starts_with(o) || o.len() < 3 || o[0] & 0x80 != 0) {
            return Verdict::NeedMore;
        }
        if !self.tunnelled
            && let Some(p) = detect_starttls(o, r)
        {
            return Verdict::StartTls(p);
        }
        if o.is_empty() {
            // Only the responder has talked. A ServerHello or an HTTP response first means the
            // originator's direction is missing from the capture (asymmetric routing), since
            // in both protocols the client speaks first: parse what the server says.
            if matches!(r, [0x16, 3, 0..=4, _, _, 2, ..]) {
                return Verdict::Tls;
            }
            if r.len() >= 12 && r.starts_with(b"HTTP/1.") && r.get(8) == Some(&b' ') {
                return Verdict::Http;
            }
            // Otherwise wait for the originator unless it is hopeless.
            return if r.len() >= DETECT_BYTES || self.gapped[0] { Verdict::No } else { Verdict::NeedMore };
        }
        let http = detect_request(o);
        if http == Some(true) {
            return Verdict::Http;
        }
        let dns = self.detect_dns_tcp(o);
        if dns == Some(true) {
            return Verdict::DnsTcp;
        }
        let socks = if self.tunnelled { Some(false) } else { detect_greeting(o) };
        if socks == Some(true) {
            return Verdict::Socks(o[0]);
        }
        let rdp = if self.tunnelled { Some(false) } else { detect_rdp(o) };
        if rdp == Some(true) {
            return Verdict::Rdp;
        }
        // Server-first text protocols: a line from each side decides STARTTLS.
        let greeting = [&b"220"[..], b"* OK", b"* PREAUTH", b"+OK"].iter().any(|g| r.starts_with(g));
        let text = !self.tunnelled && greeting && !o.contains(&b'\n');
        if http == Some(false) && dns == Some(false) && socks == Some(false) && rdp == Some(false) && !text && !undecided_binary {
            return Verdict::No;
        }
        if o.len() >= DETECT_BYTES || self.gapped[0] {
            return Verdict::No;
        }
        Verdict::NeedMore
    }

    /// DNS over TCP: a two-byte length, then a whole plausible DNS message.
    fn detect_dns_tcp(&self, o: &[u8]) -> Option<bool> {
        let [a, b, ..] = o[..] else { return None };
        let len = usize::from(u16::from_be_bytes([a, b]));
        if len < 17 {
            return Some(false);
        }
        match o.get(2..2 + len) {
            Some(msg) => Some(looks_like_dns(msg, !self.dns_port())),
            None => {
                if o.len() >= 14 && !looks_like_dns_header_prefix(&o[2..]) {
                    Some(false)
                } else {
                    None
                }
            }
        }
    }

    fn detect_tcp(&mut self, from_orig: bool, ts: Timestamp, data: &[u8]) {
        let i = usize::from(!from_orig);
        if self.pending_order.is_empty() {
            // The first bytes usually decide on their own (a ClientHello, a request line, a
            // banner): judge them where they lie and copy them only if more must be awaited.
            // What is dispatched is what the replay below would have dispatched.
            let take = data.len().min(DETECT_BYTES);
            let head = data.get(..take).unwrap_or(data);
            let v = if from_orig { self.verdict_of(head, &[]) } else { self.verdict_of(&[], head) };
            if v != Verdict::NeedMore {
                self.parser = self.parser_for(v);
                self.dispatch(from_orig, ts, head);
                if take < data.len() {
                    self.dispatch(from_orig, ts, data.get(take..).unwrap_or(&[]));
                }
                return;
            }
        }
        let room = DETECT_BYTES.saturating_sub(self.pending[i].len());
        let take = data.len().min(room);
        self.pending[i].extend_from_slice(&data[..take]);
        // Consecutive segments of one direction replay as one (bounds the order list).
        match self.pending_order.last_mut() {
            Some((dir, _, len)) if *dir == from_orig => *len += take,
            _ => self.pending_order.push((from_orig, ts, take)),
        }
        let v = self.verdict();
        self.parser = match v {
            Verdict::NeedMore => {
                // A direction whose buffer is full cannot hold the rest; it is replayed only
                // up to what was kept, so give up rather than parse a truncated stream.
                if take < data.len() {
                    Parser::Unknown
                } else {
                    return;
                }
            }
            v => self.parser_for(v),
        };
        // Replay the buffered bytes in arrival order, then whatever did not fit.
        let pending = std::mem::take(&mut self.pending);
        let order = std::mem::take(&mut self.pending_order);
        let mut pos = [0usize; 2];
        for (fo, t, len) in order {
            let k = usize::from(!fo);
            let chunk = pending[k].get(pos[k]..pos[k] + len).unwrap_or(&[]);
            pos[k] += len;
            self.dispatch(fo, t, chunk);
        }
        if take < data.len() {
            self.dispatch(from_orig, ts, &data[take..]);
        }
    }

    /// The parser a decided verdict calls for.
    fn parser_for(&self, v: Verdict) -> Parser {
        match v {
            Verdict::NeedMore | Verdict::No => Parser::Unknown,
            Verdict::Tls => Parser::Tls(Box::new(TlsConn::new())),
            Verdict::Ssh => Parser::Ssh(Box::new(SshConn::new())),
            Verdict::Http => Parser::Http(Box::new(HttpConn::new()), None),
            Verdict::DnsTcp => Parser::Dns(Box::new(DnsTracker::new())),
            Verdict::Socks(version) => self.tunnel(Prefix::Socks(Socks::new(version))),
            Verdict::Rdp => self.tunnel(Prefix::Rdp(RdpPrefix::default())),
            Verdict::StartTls(p) => self.tunnel(Prefix::StartTls(StartTls::new(p))),
            Verdict::Smb => Parser::Smb(Box::default()),
            Verdict::DceRpc => Parser::DceRpc(Box::new(DceRpcConn::new(None)), Box::default()),
        }
    }

    pub fn on_gap(&mut self, from_orig: bool, len: u64) {
        let i = usize::from(!from_orig);
        match &mut self.parser {
            Parser::Undecided => {
                self.gapped[i] = true;
                // The stream cannot be parsed past the gap; decide now on what is buffered.
                if self.verdict() == Verdict::NeedMore || !self.pending[i].is_empty() {
                    self.parser = Parser::Unknown;
                }
            }
            Parser::Tls(t) => t.feed_gap(from_orig),
            Parser::Dns(d) => d.on_gap(from_orig),
            Parser::Http(h, inner) => match inner {
                Some(i) => i.on_gap(from_orig, len),
                None => h.on_gap(from_orig, len),
            },
            Parser::Ssh(s) => s.on_gap(from_orig),
            Parser::Smb(s) => s.gap(from_orig),
            Parser::DceRpc(c, _) => c.gap(from_orig),
            Parser::Tunnel(prefix, inner) => {
                if prefix.through() {
                    inner.on_gap(from_orig, len);
                } else {
                    self.parser = Parser::Unknown;
                }
            }
            Parser::Quic(_) | Parser::Unknown => {}
        }
    }

    /// Bytes per direction this session wants parsed when its protocol needs more than the
    /// flow table's default (SMB and DCE-RPC: remote execution often follows a file copy).
    pub fn budget(&self) -> Option<u32> {
        match &self.parser {
            Parser::Smb(_) => Some(SMB_BUDGET),
            Parser::DceRpc(..) => Some(DCE_RPC_BUDGET),
            Parser::Tunnel(_, inner) => inner.budget(),
            _ => None,
        }
    }

    pub fn done(&self) -> bool {
        let parsed = match &self.parser {
            Parser::Undecided => false,
            Parser::Unknown => true,
            Parser::Tls(t) => t.done(),
            Parser::Dns(_) => false,
            Parser::Http(h, inner) => h.done() || inner.as_ref().is_some_and(|i| i.done()),
            Parser::Ssh(s) => s.done(),
            Parser::Quic(q) => q.done(),
            Parser::Tunnel(prefix, inner) => prefix.broken() || inner.done(),
            // Remote execution may come late in the session: read up to the budget.
            Parser::Smb(_) | Parser::DceRpc(..) => false,
        };
        parsed && (self.entropy_settled() || (self.orig_entropy.full() && self.resp_entropy.full()))
    }

    /// The payload is encrypted by a protocol recognised by its handshake (TLS with a hello,
    /// SSH with a banner, QUIC with a client Initial) or parses as DNS: its byte entropy tells
    /// the detectors nothing more ([`vigil_model::Conn::is_encrypted`] answers from the
    /// protocol), so the meters stop counting and report none. Counting every byte of the
    /// first 4 KiB each way of every TLS session was ≈ 11 % of the engine's CPU time.
    fn entropy_settled(&self) -> bool {
        match &self.parser {
            Parser::Tls(t) => t.recognised(),
            Parser::Ssh(s) => s.recognised(),
            Parser::Quic(q) => q.has_client_hello(),
            Parser::Dns(d) => !d.txns.is_empty(),
            _ => false,
        }
    }

    /// Zeek's `service` value for what was recognised ("ssl", "dns", "http", "ssh", "quic,ssl").
    pub fn service(&self) -> Option<String> {
        let s = match &self.parser {
            Parser::Tls(t) if t.recognised() => "ssl",
            Parser::Dns(d) if !d.txns.is_empty() => "dns",
            Parser::Http(h, inner) if h.recognised() => {
                return Some(match inner.as_ref().and_then(|i| i.service()) {
                    Some(s) => format!("http,{s}"),
                    None => "http".to_string(),
                });
            }
            Parser::Ssh(s) if s.recognised() => "ssh",
            Parser::Quic(q) if q.has_client_hello() => "quic,ssl",
            Parser::Quic(q) if q.version.is_some() => "quic",
            Parser::Smb(s) => return s.service(),
            Parser::DceRpc(c, _) if c.pdus > 0 => "dce_rpc",
            Parser::Tunnel(prefix, inner) => {
                let outer = prefix.name();
                return Some(match inner.service() {
                    Some(s) => format!("{outer},{s}"),
                    None => outer.to_string(),
                });
            }
            _ => return None,
        };
        Some(s.to_string())
    }

    pub fn finish(mut self) -> AppMeta {
        if !self.entropy_settled() {
            self.meta.orig_entropy = self.orig_entropy.entropy();
            self.meta.resp_entropy = self.resp_entropy.entropy();
        }
        match self.parser {
            Parser::Tls(t) if t.recognised() => self.meta.tls = Some(Box::new(t.meta)),
            Parser::Quic(q) if q.tls.recognised() => {
                self.meta.tls = Some(Box::new(q.tls.meta));
            }
            Parser::Dns(d) => self.meta.dns = d.txns,
            Parser::Http(h, inner) => {
                self.meta.http = h.txns;
                if let Some(i) = inner {
                    let m = i.finish();
                    self.meta.tls = m.tls;
                    self.meta.ssh = m.ssh;
                    self.meta.http.extend(m.http);
                }
            }
            Parser::Ssh(s) if s.recognised() => self.meta.ssh = Some(Box::new(s.meta())),
            Parser::Tunnel(_, inner) => {
                let m = inner.finish();
                self.meta.tls = m.tls;
                self.meta.dns = m.dns;
                self.meta.http = m.http;
                self.meta.ssh = m.ssh;
                self.meta.smb = m.smb;
                self.meta.dce_rpc = m.dce_rpc;
            }
            Parser::Smb(s) => (self.meta.smb, self.meta.dce_rpc) = s.finish(),
            Parser::DceRpc(_, m) if !m.binds.is_empty() || !m.calls.is_empty() => self.meta.dce_rpc = Some(m),
            _ => {}
        }
        self.meta
    }
}

/// A DNS header prefix (before the whole message arrived) that could still be a query.
fn looks_like_dns_header_prefix(h: &[u8]) -> bool {
    let [_, _, f1, _, q0, q1, ..] = h[..] else { return true };
    let opcode = (f1 >> 3) & 0xf;
    let qd = u16::from_be_bytes([q0, q1]);
    opcode <= 6 && opcode != 3 && (1..=16).contains(&qd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::tests::{handshake, record, sample_client_hello, server_hello_body};

    fn ts() -> Timestamp {
        Timestamp::from_secs(1_700_000_000)
    }

    #[test]
    fn tls_on_an_unusual_port_split_into_tiny_segments() {
        let mut s = AppSession::new(PROTO_TCP, 50000, 8443);
        let ch = record(22, &handshake(1, &sample_client_hello(Some("odd.example"), &[b"h2"])));
        for c in ch.chunks(2) {
            s.on_data(true, ts(), c);
        }
        s.on_data(false, ts(), &record(22, &handshake(2, &server_hello_body(Some(0x0304), &[]))));
        assert_eq!(s.service().as_deref(), Some("ssl"));
        let m = s.finish();
        let t = m.tls.unwrap();
        assert_eq!(t.server_name.as_deref(), Some("odd.example"));
        assert_eq!(t.version, Some(0x0304));
        assert!(t.ja4.unwrap().starts_with("t13d"));
        assert_eq!(t.alpn_offered, vec!["h2"]);
    }

    #[test]
    fn ssh_server_first_on_port_2222() {
        let mut s = AppSession::new(PROTO_TCP, 40000, 2222);
        s.on_data(false, ts(), b"SSH-2.0-OpenSSH_8.9\r\n");
        s.on_data(true, ts(), b"SSH-2.0-PuTTY\r\n");
        assert_eq!(s.service().as_deref(), Some("ssh"));
        let m = s.finish();
        assert_eq!(m.ssh.unwrap().client.as_deref(), Some("SSH-2.0-PuTTY"));
    }

    #[test]
    fn http_on_port_8080_with_pipelining() {
        let mut s = AppSession::new(PROTO_TCP, 40000, 8080);
        s.on_data(true, ts(), b"GET /a HTTP/1.1\r\nHo");
        s.on_data(true, ts(), b"st: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
        s.on_data(false, ts(), b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(s.service().as_deref(), Some("http"));
        let m = s.finish();
        assert_eq!(m.http.len(), 2);
        assert_eq!(m.http[1].status_code, Some(404));
        assert_eq!(m.http[0].response_body_len, 2);
    }

    #[test]
    fn dns_udp_and_tcp_framed() {
        use crate::dns::tests::{query, response};
        let mut s = AppSession::new(PROTO_UDP, 33333, 53);
        s.on_data(true, Timestamp::from_secs(1), &query(5, "example.org", 1));
        s.on_data(false, Timestamp(1_250_000_000), &response(5, "example.org"));
        assert_eq!(s.service().as_deref(), Some("dns"));
        let m = s.finish();
        assert_eq!(m.dns.len(), 1);
        assert_eq!(m.dns[0].rtt, Some(0.25));
        let mut t = AppSession::new(PROTO_TCP, 33333, 5300);
        let q = query(6, "tcp.example.org", 1);
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        t.on_data(true, ts(), &framed[..5]);
        t.on_data(true, ts(), &framed[5..]);
        assert_eq!(t.service().as_deref(), Some("dns"));
    }

    #[test]
    fn random_bytes_are_unknown_with_entropy() {
        let mut s = AppSession::new(PROTO_TCP, 1, 2);
        let noise: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        s.on_data(true, ts(), &noise);
        s.on_data(false, ts(), &noise);
        assert_eq!(s.service(), None);
        assert!(s.done());
        let m = s.finish();
        assert!(m.tls.is_none() && m.http.is_empty());
        assert!(m.orig_entropy.unwrap() > 7.0);
    }

    /// Recognised TLS is judged encrypted from its handshake: the meters stop counting
    /// (high-entropy application data after the hello is not counted) and report none, while
    /// the same bytes unrecognised still get their estimate.
    #[test]
    fn recognised_tls_reports_no_entropy_and_unrecognised_bytes_do() {
        let noise: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let mut s = AppSession::new(PROTO_TCP, 40000, 443);
        s.on_data(true, ts(), &record(22, &handshake(1, &sample_client_hello(Some("a.example"), &[]))));
        s.on_data(false, ts(), &record(22, &handshake(2, &server_hello_body(None, &[]))));
        s.on_data(true, ts(), &record(23, &noise));
        s.on_data(false, ts(), &record(23, &noise));
        assert_eq!(s.service().as_deref(), Some("ssl"));
        // Only the handshake records were counted, not the 5,000 bytes after each.
        assert!(s.orig_entropy.bytes() < 1000 && s.resp_entropy.bytes() < 1000);
        let m = s.finish();
        assert!(m.tls.is_some());
        assert_eq!((m.orig_entropy, m.resp_entropy), (None, None));
        let mut u = AppSession::new(PROTO_TCP, 40000, 443);
        u.on_data(true, ts(), &noise);
        u.on_data(false, ts(), &noise);
        let m = u.finish();
        assert!(m.tls.is_none());
        assert!(m.orig_entropy.is_some_and(|e| e > 7.0) && m.resp_entropy.is_some_and(|e| e > 7.0));
    }

    #[test]
    fn tls_behind_a_socks5_proxy() {
        let mut s = AppSession::new(PROTO_TCP, 40000, 1080);
        s.on_data(true, ts(), &[5, 1, 0]);
        s.on_data(false, ts(), &[5, 0]);
        let mut req = vec![5, 1, 0, 1, 10, 0, 0, 1, 1, 187];
        req.extend(record(22, &handshake(1, &sample_client_hello(Some("inner.example"), &[]))));
        s.on_data(true, ts(), &req);
        s.on_data(false, ts(), &[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(s.service().as_deref(), Some("socks,ssl"));
        s.on_data(false, ts(), &record(22, &handshake(2, &server_hello_body(None, &[]))));
        assert_eq!(s.service().as_deref(), Some("socks,ssl"));
        let m = s.finish();
        assert_eq!(m.tls.unwrap().server_name.as_deref(), Some("inner.example"));
    }

    #[test]
    fn tls_through_an_http_connect_proxy() {
        let mut s = AppSession::new(PROTO_TCP, 40000, 3128);
        s.on_data(true, ts(), b"CONNECT inner.example:443 HTTP/1.1\r\nHost: inner.example:443\r\n\r\n");
        s.on_data(false, ts(), b"HTTP/1.1 200 Connection established\r\n\r\n");
        s.on_data(true, ts(), &record(22, &handshake(1, &sample_client_hello(Some("inner.example"), &[b"h2"]))));
        assert_eq!(s.service().as_deref(), Some("http,ssl"));
        let m = s.finish();
        assert_eq!(m.http.len(), 1);
        assert_eq!(m.tls.unwrap().server_name.as_deref(), Some("inner.example"));
    }

    #[test]
    fn server_side_only_capture() {
        let mut s = AppSession::new(PROTO_TCP, 40000, 443);
        s.on_data(false, ts(), &record(22, &handshake(2, &server_hello_body(Some(0x0304), &[]))));
        assert_eq!(s.service().as_deref(), Some("ssl"));
        let t = s.finish().tls.unwrap();
        assert_eq!(t.version, Some(0x0304));
        assert!(t.ja3s.is_some() && t.ja4.is_none());
        let mut h = AppSession::new(PROTO_TCP, 40000, 80);
        h.on_data(false, ts(), b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 2\r\n\r\nok");
        assert_eq!(h.service().as_deref(), Some("http"));
        assert_eq!(h.finish().http[0].server.as_deref(), Some("x"));
    }

    #[test]
    fn smb_and_dce_rpc_are_detected_by_content_and_raise_the_budget() {
        use crate::dcerpc::tests::{bind, bind_ack, request};
        // SMB on an unusual port, and on 445 in a capture that starts mid-message.
        for (port, junk) in [(8445u16, 0usize), (445, 37)] {
            let mut s = AppSession::new(PROTO_TCP, 50000, port);
            let mut first = true;
            for (client, msg) in crate::smb::tests::psexec_conversation() {
                let mut m = msg.clone();
                if first && client {
                    m = [vec![0x42; junk], m].concat();
                    first = false;
                }
                s.on_data(client, ts(), &m);
            }
            assert_eq!(s.service().as_deref(), Some("smb,dce_rpc"), "port {port}");
            assert_eq!(s.budget(), Some(SMB_BUDGET));
            assert!(!s.done());
            let m = s.finish();
            assert!(m.smb.unwrap().files.iter().any(|f| f.name == "PSEXESVC.exe"), "port {port}");
            assert!(m.dce_rpc.unwrap().calls.iter().any(|c| c.operation.as_deref() == Some("CreateServiceW")));
        }
        // DCE-RPC straight over TCP, the bind split across segments.
        let mut s = AppSession::new(PROTO_TCP, 50000, 49155);
        let b = bind(2, &[(0, "1ff70682-0a51-30e8-076d-740be8cee98b", 1)]);
        s.on_data(true, ts(), &b[..7]);
        assert_eq!(s.service(), None);
        s.on_data(true, ts(), &b[7..]);
        s.on_data(false, ts(), &bind_ack(2, &[0]));
        s.on_data(true, ts(), &request(3, 0, 0, 80));
        assert_eq!(s.service().as_deref(), Some("dce_rpc"));
        assert_eq!(s.budget(), Some(DCE_RPC_BUDGET));
        let m = s.finish();
        assert!(m.smb.is_none());
        assert_eq!(m.dce_rpc.unwrap().calls[0].operation.as_deref(), Some("NetrJobAdd"));
        // Other protocols keep the flow table's budget.
        let mut h = AppSession::new(PROTO_TCP, 40000, 445);
        h.on_data(true, ts(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(h.budget(), None);
    }

    #[test]
    fn udp_noise_gives_up() {
        let mut s = AppSession::new(PROTO_UDP, 5000, 6000);
        for _ in 0..10 {
            s.on_data(true, ts(), b"hello there, not dns");
        }
        assert!(matches!(s.parser, Parser::Unknown));
    }

    /// Deterministic xorshift generator, so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Mutated versions of valid streams of every protocol, cut into random segments with
    /// random gaps, must never panic and must keep the session's state bounded.
    #[test]
    fn mutated_streams_never_panic() {
        use crate::dns::tests::{query, response};
        let mut ch_srv = record(22, &handshake(2, &server_hello_body(Some(0x0304), &[1; 32])));
        ch_srv.extend(record(20, &[1]));
        let seeds: Vec<(u8, u16, Vec<u8>, Vec<u8>)> = vec![
            (PROTO_TCP, 443, record(22, &handshake(1, &sample_client_hello(Some("a.example"), &[b"h2"]))), ch_srv),
            (PROTO_UDP, 53, query(1, "x.example", 1), response(1, "x.example")),
            (
                PROTO_TCP,
                80,
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_vec(),
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc".to_vec(),
            ),
            (PROTO_TCP, 22, b"SSH-2.0-a\r\n\x00\x00\x00\x0c\x04\x14abcdefghij".to_vec(), b"SSH-2.0-b\r\n".to_vec()),
            (PROTO_TCP, 1080, vec![5, 1, 0, 5, 1, 0, 3, 1, b'h', 0, 80], vec![5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
            (
                PROTO_UDP,
                443,
                {
                    let mut q = vec![0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x44, 0x9e];
                    q.extend(std::iter::repeat_n(0x5a, 1200));
                    q
                },
                vec![0xc0, 0, 0, 0, 1, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0x40, 0x20, 1, 2, 3],
            ),
            {
                let conv = crate::smb::tests::psexec_conversation();
                let side = |client: bool| {
                    conv.iter().filter(|(c, _)| *c == client).flat_map(|(_, m)| m.iter().copied().take(3000)).collect::<Vec<u8>>()
                };
                (PROTO_TCP, 445, side(true), side(false))
            },
            (
                PROTO_TCP,
                49155,
                [
                    crate::dcerpc::tests::bind(2, &[(0, "367abb81-9844-35f1-ad32-98f038001003", 2)]),
                    crate::dcerpc::tests::request(3, 0, 12, 64),
                ]
                .concat(),
                crate::dcerpc::tests::bind_ack(2, &[0]),
            ),
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..3000 {
            let (proto, port, o, r) = &seeds[round % seeds.len()];
            let mut streams = [o.clone(), r.clone()];
            for st in &mut streams {
                for _ in 0..rng.below(4) {
                    if st.is_empty() {
                        break;
                    }
                    let i = rng.below(st.len());
                    match rng.below(4) {
                        0 => st[i] = rng.next() as u8,
                        1 => st.truncate(i),
                        2 => st.insert(i, rng.next() as u8),
                        _ => st[i] ^= 0x80,
                    }
                }
            }
            let mut s = AppSession::new(*proto, 40000, *port);
            for (dir, st) in streams.iter().enumerate() {
                let mut pos = 0;
                while pos < st.len() {
                    let n = 1 + rng.below(64);
                    let end = (pos + n).min(st.len());
                    if rng.below(50) == 0 && *proto == PROTO_TCP {
                        s.on_gap(dir == 0, n as u64);
                    }
                    s.on_data(dir == 0, ts(), &st[pos..end]);
                    pos = end;
                }
            }
            let _ = s.done();
            let _ = s.service();
            let m = s.finish();
            assert!(m.dns.len() <= 256 && m.http.len() <= 256);
        }
    }
}
