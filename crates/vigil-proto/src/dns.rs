//! DNS messages (RFC 1035 and successors): header, questions and answer records with name
//! compression (loop-safe), rendered as Zeek's dns.log renders them, and [`DnsTracker`], which
//! pairs queries with responses into [`DnsTxn`]s over UDP datagrams or TCP-framed streams.

use crate::reader::Reader;
use std::net::{Ipv4Addr, Ipv6Addr};
use vigil_model::{DnsTxn, Timestamp};

/// Compression pointers followed per name: more means a loop or an attack.
const MAX_POINTERS: usize = 32;
/// Labels per name (RFC 1035 names hold at most 127).
const MAX_LABELS: usize = 128;
/// Longest rendered name kept (escaped bytes can make a name longer than 255 characters).
const MAX_NAME_CHARS: usize = 1025;
/// Records parsed per section.
const MAX_RECORDS: usize = 256;
/// Questions parsed per message.
const MAX_QUESTIONS: usize = 16;
/// Transactions kept per connection.
const MAX_TXNS: usize = 256;
/// Largest TCP-framed message buffered.
const MAX_TCP_MSG: usize = 65535;

/// Why a DNS message was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("bad name: {0}")]
    BadName(&'static str),
    #[error("implausible header")]
    Implausible,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

/// One resource record, with its data rendered as Zeek renders it (`None` for types Zeek
/// does not put in `answers`).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub name: String,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rendered: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DnsMessage {
    pub id: u16,
    pub qr: bool,
    pub opcode: u8,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub z: u8,
    pub rcode: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    /// Records of the authority and additional sections that parsed.
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
}

/// Reads a possibly compressed name starting at `pos` in `msg`; returns the name and the
/// position just after it (after the first pointer, if any).
pub fn read_name(msg: &[u8], pos: usize) -> Result<(String, usize), DnsError> {
    // Most names fit: one allocation instead of a doubling series per name.
    let mut out = String::with_capacity(64);
    let mut p = pos;
    let mut end = None;
    let mut jumps = 0;
    let mut labels = 0;
    loop {
        let len = *msg.get(p).ok_or(DnsError::Truncated("name"))?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    let after = end.unwrap_or(p + 1);
                    return Ok((out, after));
                }
                labels += 1;
                if labels > MAX_LABELS {
                    return Err(DnsError::BadName("too many labels"));
                }
                let label = msg.get(p + 1..p + 1 + usize::from(len)).ok_or(DnsError::Truncated("label"))?;
                if out.len() < MAX_NAME_CHARS {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    for &b in label {
                        // Zeek lower-cases names (case carries no meaning, and DNS 0x20
                        // randomisation varies it) and escapes bytes that are not printable.
                        if (0x21..0x7f).contains(&b) {
                            out.push(b.to_ascii_lowercase() as char);
                        } else {
                            const HEX: &[u8; 16] = b"0123456789abcdef";
                            out.push_str("\\x");
                            out.push(HEX[usize::from(b >> 4)] as char);
                            out.push(HEX[usize::from(b & 15)] as char);
                        }
                    }
                    if out.len() > MAX_NAME_CHARS {
                        let mut cut = MAX_NAME_CHARS;
                        while !out.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        out.truncate(cut);
                    }
                }
                p += 1 + usize::from(len);
            }
            0xc0 => {
                let lo = *msg.get(p + 1).ok_or(DnsError::Truncated("pointer"))?;
                jumps += 1;
                if jumps > MAX_POINTERS {
                    return Err(DnsError::BadName("compression loop"));
                }
                if end.is_none() {
                    end = Some(p + 2);
                }
                let target = usize::from(u16::from_be_bytes([len & 0x3f, lo]));
                // Pointers must go backwards; anything else can only loop or point at garbage.
                if target >= p {
                    return Err(DnsError::BadName("forward pointer"));
                }
                p = target;
            }
            _ => return Err(DnsError::BadName("reserved label type")),
        }
    }
}

fn render_txt(tag: &str, data: &[u8]) -> String {
    let mut r = Reader::new(data);
    let mut parts = Vec::new();
    while let Some(s) = r.vec8() {
        parts.push(format!("{tag} {} {}", s.len(), String::from_utf8_lossy(s)));
    }
    parts.join(" ")
}

/// Zeek's rendering of one record's data.
fn render_rdata(msg: &[u8], rtype: u16, start: usize, data: &[u8]) -> Option<String> {
    let name_at = |off: usize| read_name(msg, start + off).ok().map(|(n, _)| n);
    match rtype {
        1 => <[u8; 4]>::try_from(data).ok().map(|a| Ipv4Addr::from(a).to_string()),
        28 => <[u8; 16]>::try_from(data).ok().map(|a| Ipv6Addr::from(a).to_string()),
        2 | 5 | 12 | 39 => name_at(0),
        // SOA: the primary name server. MX: the exchange. SRV: the target.
        6 => name_at(0),
        15 => name_at(2),
        33 => name_at(6),
        16 => Some(render_txt("TXT", data)),
        99 => Some(render_txt("SPF", data)),
        10 => Some(format!("NULL {}", data.len())),
        // SVCB/HTTPS: priority and target name (parameters are not rendered).
        64 | 65 => {
            let prio = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
            let target = name_at(2)?;
            Some(format!("{} {prio} {}", if rtype == 64 { "SVCB" } else { "HTTPS" }, if target.is_empty() { "." } else { &target }))
        }
        46 => {
            // RRSIG: type covered, then the signer's name after 18 fixed bytes.
            let covered = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
            Some(format!("RRSIG {covered} {}", name_at(18)?))
        }
        48 => Some(format!("DNSKEY {}", data.get(3)?)),
        43 => Some(format!("DS {} {}", data.get(2)?, data.get(3)?)),
        _ => None,
    }
}

fn read_record(msg: &[u8], r: &mut Reader<'_>) -> Result<Record, DnsError> {
    let (name, next) = read_name(msg, r.pos())?;
    r.skip(next - r.pos()).ok_or(DnsError::Truncated("record"))?;
    let t = DnsError::Truncated("record header");
    let rtype = r.u16().ok_or(t.clone())?;
    let class = r.u16().ok_or(t.clone())?;
    let ttl = r.u32().ok_or(t.clone())?;
    let start = r.pos() + 2;
    let data = r.vec16().ok_or(DnsError::Truncated("rdata"))?;
    let rendered = render_rdata(msg, rtype, start, data);
    Ok(Record { name, rtype, class, ttl, rendered })
}

/// Parses one DNS message. Sections after the questions are parsed as far as they go: a
/// truncated answer section keeps the records before the damage.
pub fn parse_message(msg: &[u8]) -> Result<DnsMessage, DnsError> {
    parse_sections(msg, true)
}

/// What dns.log and detection need: header, questions and answers. The authority and
/// additional sections (name servers, EDNS options, glue: most of a response's records) are
/// not read. They come last, and a damaged record only ends the parse, so the header,
/// questions, answers and the success of the parse are the same as [`parse_message`]'s.
fn parse_answers(msg: &[u8]) -> Result<DnsMessage, DnsError> {
    parse_sections(msg, false)
}

fn parse_sections(msg: &[u8], all_sections: bool) -> Result<DnsMessage, DnsError> {
    let mut r = Reader::new(msg);
    let t = DnsError::Truncated("header");
    let id = r.u16().ok_or(t.clone())?;
    let flags = r.u16().ok_or(t.clone())?;
    let mut m = DnsMessage {
        id,
        qr: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0xf) as u8,
        aa: flags & 0x0400 != 0,
        tc: flags & 0x0200 != 0,
        rd: flags & 0x0100 != 0,
        ra: flags & 0x0080 != 0,
        z: ((flags >> 4) & 0x7) as u8,
        rcode: flags & 0xf,
        qdcount: r.u16().ok_or(t.clone())?,
        ancount: r.u16().ok_or(t.clone())?,
        nscount: r.u16().ok_or(t.clone())?,
        arcount: r.u16().ok_or(t)?,
        ..Default::default()
    };
    if usize::from(m.qdcount) > MAX_QUESTIONS {
        return Err(DnsError::Implausible);
    }
    for _ in 0..m.qdcount {
        let (name, next) = read_name(msg, r.pos())?;
        r.skip(next - r.pos()).ok_or(DnsError::Truncated("question"))?;
        let qtype = r.u16().ok_or(DnsError::Truncated("question"))?;
        let qclass = r.u16().ok_or(DnsError::Truncated("question"))?;
        m.questions.push(Question { name, qtype, qclass });
    }
    let sections = [(m.ancount, 0usize), (m.nscount, 1), (m.arcount, 2)];
    let read = if all_sections { sections.len() } else { 1 };
    'sections: for &(count, which) in sections.iter().take(read) {
        for _ in 0..usize::from(count).min(MAX_RECORDS) {
            match read_record(msg, &mut r) {
                Ok(rec) => match which {
                    0 => m.answers.push(rec),
                    1 => m.authorities.push(rec),
                    _ => m.additionals.push(rec),
                },
                Err(_) => break 'sections,
            }
        }
    }
    Ok(m)
}

/// Whether `data` is plausibly a DNS message: a sane header and parseable questions.
/// `strict` (used off the well-known ports) also wants exactly one question and a standard
/// opcode, which is what real clients send.
pub fn looks_like_dns(data: &[u8], strict: bool) -> bool {
    dns_candidate(data, strict).is_some()
}

/// The parsed message (header, questions, answers) when `data` passes [`looks_like_dns`]: the
/// session hands it to its tracker instead of parsing the datagram a second time.
pub(crate) fn dns_candidate(data: &[u8], strict: bool) -> Option<DnsMessage> {
    let m = parse_answers(data).ok()?;
    plausible(&m, strict).then_some(m)
}

fn plausible(m: &DnsMessage, strict: bool) -> bool {
    if m.opcode > 6 || m.opcode == 3 {
        return false;
    }
    let records = usize::from(m.ancount) + usize::from(m.nscount) + usize::from(m.arcount);
    if strict {
        m.qdcount == 1 && m.opcode == 0 && m.z == 0 && records <= 64 && (!m.qr || m.answers.len() == usize::from(m.ancount))
    } else {
        m.qdcount >= 1 || (m.qr && !m.answers.is_empty())
    }
}

/// Decodes a NetBIOS first-level encoded name (RFC 1001 §14.1: each byte as two letters
/// 'A'+nibble) to the 15-character NetBIOS name without padding, as Zeek logs NBNS queries;
/// names that are not so encoded are returned unchanged.
pub fn decode_netbios_name(name: &str) -> String {
    let (first, scope) = match name.split_once('.') {
        Some((f, s)) => (f, Some(s)),
        None => (name, None),
    };
    let b = first.as_bytes();
    if b.len() != 32 || !b.iter().all(|c| (b'a'..=b'p').contains(&c.to_ascii_lowercase())) {
        return name.to_string();
    }
    let bytes: Vec<u8> =
        b.chunks_exact(2).map(|p| ((p[0].to_ascii_lowercase() - b'a') << 4) | (p[1].to_ascii_lowercase() - b'a')).collect();
    // The 16th byte is the service suffix; the name is space padded.
    let base: String = bytes[..15].iter().map(|&c| if c.is_ascii_graphic() || c == b' ' { c as char } else { '?' }).collect();
    let base = base.trim_end().to_string();
    match scope {
        Some(s) => format!("{base}.{s}"),
        None => base,
    }
}

/// Pairs queries and responses of one connection into transactions.
#[derive(Debug, Default)]
pub struct DnsTracker {
    pub txns: Vec<DnsTxn>,
    /// Index into `txns` of queries still waiting for a response.
    pending: Vec<usize>,
    bufs: [Vec<u8>; 2],
    tcp_broken: [bool; 2],
    /// Messages that failed to parse.
    pub errors: u32,
    /// Transactions dropped because the per-connection cap was reached.
    pub dropped: u32,
    /// NetBIOS name service (port 137): names are first-level encoded.
    pub netbios: bool,
}

impl DnsTracker {
    pub fn new() -> Self {
        DnsTracker::default()
    }

    /// A tracker for NetBIOS name service traffic, which uses the DNS message format.
    pub fn netbios() -> Self {
        DnsTracker { netbios: true, ..DnsTracker::default() }
    }

    /// One UDP datagram (or one de-framed TCP message).
    pub fn on_message(&mut self, ts: Timestamp, data: &[u8]) {
        match parse_answers(data) {
            Ok(m) => self.on_parsed(ts, m),
            Err(_) => self.errors = self.errors.saturating_add(1),
        }
    }

    /// A message already parsed (by detection).
    pub(crate) fn on_parsed(&mut self, ts: Timestamp, mut m: DnsMessage) {
        if self.netbios {
            for q in &mut m.questions {
                q.name = decode_netbios_name(&q.name);
            }
            for a in &mut m.answers {
                a.name = decode_netbios_name(&a.name);
            }
        }
        self.add(ts, &m)
    }

    /// TCP stream bytes: messages carry a two-byte length prefix (RFC 1035 §4.2.2).
    pub fn on_tcp(&mut self, from_orig: bool, ts: Timestamp, data: &[u8]) {
        let i = usize::from(!from_orig);
        if self.tcp_broken[i] {
            return;
        }
        self.bufs[i].extend_from_slice(data);
        // Each iteration removes one message, so at most len/2 iterations.
        loop {
            let buf = &self.bufs[i];
            let [a, b, ..] = buf[..] else { break };
            let len = usize::from(u16::from_be_bytes([a, b]));
            if len < 12 {
                self.tcp_broken[i] = true;
                self.bufs[i].clear();
                return;
            }
            if buf.len() < len + 2 {
                if buf.len() > MAX_TCP_MSG + 2 {
                    self.tcp_broken[i] = true;
                    self.bufs[i].clear();
                }
                return;
            }
            let msg: Vec<u8> = buf[2..len + 2].to_vec();
            self.bufs[i].drain(..len + 2);
            self.on_message(ts, &msg);
        }
    }

    /// A gap in a TCP direction: framing is lost for good.
    pub fn on_gap(&mut self, from_orig: bool) {
        let i = usize::from(!from_orig);
        self.tcp_broken[i] = true;
        self.bufs[i].clear();
    }

    fn add(&mut self, ts: Timestamp, m: &DnsMessage) {
        let q = m.questions.first();
        if m.qr {
            let found = self.pending.iter().position(|&i| {
                let t = &self.txns[i];
                t.trans_id == m.id
                    && match (q, &t.query) {
                        (Some(q), Some(tq)) => q.name.eq_ignore_ascii_case(tq),
                        _ => true,
                    }
            });
            let idx = match found {
                Some(p) => self.pending.remove(p),
                None => match self.push(ts, m) {
                    Some(i) => i,
                    None => return,
                },
            };
            let t = &mut self.txns[idx];
            if found.is_some() {
                // Saturating: capture timestamps are input too.
                t.rtt = Some((ts.0.saturating_sub(t.ts.0) as f64 / 1e9).max(0.0));
            }
            // As in Zeek's dns.log: the header flags are those of the query, updated from a
            // response only when it carries answers; the response adds rcode and answers.
            t.rcode = Some(m.rcode);
            if !m.answers.is_empty() {
                t.aa = m.aa;
                t.tc = m.tc;
                t.ra = m.ra;
            }
            for a in &m.answers {
                if let Some(s) = &a.rendered {
                    t.answers.push(s.clone());
                    t.ttls.push(f64::from(a.ttl));
                }
            }
            t.rejected = m.rcode != 0 && m.ancount == 0 && m.nscount == 0 && m.arcount == 0;
        } else if let Some(i) = self.push(ts, m) {
            self.pending.push(i);
        }
    }

    fn push(&mut self, ts: Timestamp, m: &DnsMessage) -> Option<usize> {
        if self.txns.len() >= MAX_TXNS {
            self.dropped = self.dropped.saturating_add(1);
            return None;
        }
        let q = m.questions.first();
        // A response seen without its query names the transaction like Zeek does: by its
        // question, else its first answer; the query type is only known from a query.
        let query = q.map(|q| q.name.clone()).or_else(|| m.answers.first().map(|a| a.name.clone()));
        let from_query = !m.qr;
        // Most flows carry one transaction: room for exactly one first (a block of four
        // records took the allocator's slower path for large requests on every flow).
        if self.txns.capacity() == 0 {
            self.txns.reserve_exact(1);
        }
        self.txns.push(DnsTxn {
            ts,
            trans_id: m.id,
            query,
            qclass: q.filter(|_| from_query).map(|q| q.qclass),
            qtype: q.filter(|_| from_query).map(|q| q.qtype),
            aa: m.aa,
            tc: m.tc,
            rd: m.rd,
            ra: m.ra,
            z: m.z,
            ..Default::default()
        });
        Some(self.txns.len() - 1)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A query for www.example.com A, id 0x1234, RD set.
    pub(crate) fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        for l in name.split('.') {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m
    }

    /// The response to `query`: a CNAME (compressed) then an A record, TTL 300.
    pub(crate) fn response(id: u16, name: &str) -> Vec<u8> {
        let mut m = query(id, name, 1);
        m[2] = 0x81;
        m[3] = 0x80;
        m[7] = 2;
        // CNAME: name = pointer to question (offset 12), rdata = "cdn" + pointer to offset 12.
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 1, 44, 0, 6, 3, b'c', b'd', b'n', 0xc0, 12]);
        let cname_at = m.len() - 6;
        m.extend_from_slice(&[0xc0, cname_at as u8, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]);
        m
    }

    /// Reading only the answer section gives the same header, questions, answers and
    /// success as the full parse, for a response with authority and additional records and
    /// for every truncation of it.
    #[test]
    fn answers_only_parse_agrees_with_the_full_parse() {
        let mut m = response(7, "www.example.com");
        m[9] = 1; // one authority record: NS pointing at the question name
        m.extend_from_slice(&[0xc0, 12, 0, 2, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12]);
        m[11] = 1; // one additional record: EDNS OPT
        m.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        let full = parse_message(&m).unwrap();
        assert_eq!((full.authorities.len(), full.additionals.len()), (1, 1));
        for cut in 0..=m.len() {
            let (a, b) = (parse_message(&m[..cut]), parse_answers(&m[..cut]));
            assert_eq!(a.is_ok(), b.is_ok(), "cut {cut}");
            if let (Ok(a), Ok(b)) = (a, b) {
                assert_eq!((a.id, a.qr, a.rcode, a.ancount, a.nscount, a.arcount), (b.id, b.qr, b.rcode, b.ancount, b.nscount, b.arcount));
                assert_eq!(a.questions, b.questions, "cut {cut}");
                assert_eq!(a.answers, b.answers, "cut {cut}");
                assert!(b.authorities.is_empty() && b.additionals.is_empty());
                assert_eq!(plausible(&a, true), plausible(&b, true));
                assert_eq!(plausible(&a, false), plausible(&b, false));
            }
        }
    }

    #[test]
    fn parses_query_and_compressed_response() {
        let q = parse_message(&query(0x1234, "www.example.com", 1)).unwrap();
        assert!(!q.qr && q.rd);
        assert_eq!(q.questions, vec![Question { name: "www.example.com".into(), qtype: 1, qclass: 1 }]);
        let r = parse_message(&response(0x1234, "www.example.com")).unwrap();
        assert!(r.qr && r.ra);
        let rendered: Vec<_> = r.answers.iter().map(|a| a.rendered.clone().unwrap()).collect();
        assert_eq!(rendered, vec!["cdn.www.example.com", "93.184.216.34"]);
        assert_eq!(r.answers[1].name, "cdn.www.example.com");
        assert_eq!(r.answers[0].ttl, 300);
    }

    #[test]
    fn compression_loops_and_forward_pointers_are_errors() {
        // Name at 12 points to itself.
        let mut m = query(1, "a", 1);
        m.truncate(12);
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(parse_message(&m), Err(DnsError::BadName("forward pointer")));
        // Two pointers pointing at each other backwards is impossible; a long chain of
        // backward pointers is bounded.
        let mut chain = vec![0u8; 12];
        chain[5] = 1;
        chain.extend_from_slice(&[1, b'x', 0]);
        for i in 0..40u8 {
            let target = if i == 0 { 12 } else { 15 + 2 * (i - 1) };
            chain.extend_from_slice(&[0xc0, target]);
        }
        assert!(read_name(&chain, chain.len() - 2).is_err());
        assert_eq!(read_name(&chain, 15).unwrap().0, "x");
    }

    #[test]
    fn txt_srv_mx_rendering_and_escapes() {
        let msg = [0u8; 12];
        assert_eq!(render_rdata(&msg, 16, 0, &[3, b'a', b'b', b'c', 1, b'd']).unwrap(), "TXT 3 abc TXT 1 d");
        let mut m = vec![0u8; 12];
        m.extend_from_slice(&[0, 10, 2, b'm', b'x', 0]);
        assert_eq!(render_rdata(&m, 15, 12, &m[12..]).unwrap(), "mx");
        let mut s = vec![0u8; 12];
        s.extend_from_slice(&[0, 1, 0, 2, 1, 0xbb, 3, b's', b'r', b'v', 0]);
        assert_eq!(render_rdata(&s, 33, 12, &s[12..]).unwrap(), "srv");
        let mut e = vec![0u8; 12];
        e.extend_from_slice(&[2, b'a', 0x01, 0]);
        assert_eq!(read_name(&e, 12).unwrap().0, "a\\x01");
        assert_eq!(render_rdata(&msg, 28, 0, &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]).unwrap(), "2001:db8::1");
    }

    #[test]
    fn tracker_pairs_by_id_and_name_with_rtt() {
        let mut t = DnsTracker::new();
        t.on_message(Timestamp::from_secs(10), &query(7, "a.example", 1));
        t.on_message(Timestamp::from_secs(10), &query(8, "b.example", 1));
        t.on_message(Timestamp(10_500_000_000), &response(8, "b.example"));
        t.on_message(Timestamp(11_000_000_000), &response(7, "other.example"));
        assert_eq!(t.txns.len(), 3);
        assert_eq!(t.txns[1].query.as_deref(), Some("b.example"));
        assert_eq!(t.txns[1].rtt, Some(0.5));
        assert_eq!(t.txns[1].answers, vec!["cdn.b.example", "93.184.216.34"]);
        assert_eq!(t.txns[1].ttls, vec![300.0, 60.0]);
        assert_eq!(t.txns[0].rtt, None, "unanswered: the response for id 7 asked another name");
        assert_eq!(t.txns[2].query.as_deref(), Some("other.example"));
    }

    #[test]
    fn tcp_framing_across_segments() {
        let mut t = DnsTracker::new();
        let q = query(9, "tcp.example", 16);
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        framed.extend_from_slice(&framed.clone());
        for c in framed.chunks(5) {
            t.on_tcp(true, Timestamp(0), c);
        }
        assert_eq!(t.txns.len(), 2);
        assert_eq!(t.txns[0].qtype, Some(16));
    }

    #[test]
    fn netbios_names() {
        // "FRED" padded with spaces, suffix 0x00 (RFC 1001 §14.1 example encoding).
        let enc = "EGFCEFEECACACACACACACACACACACAAA";
        assert_eq!(decode_netbios_name(enc), "FRED");
        assert_eq!(decode_netbios_name(&format!("{}.network.net", enc.to_lowercase())), "FRED.network.net");
        assert_eq!(decode_netbios_name("www.example.com"), "www.example.com");
    }

    #[test]
    fn detection() {
        assert!(looks_like_dns(&query(1, "example.com", 1), true));
        assert!(looks_like_dns(&response(1, "example.com"), true));
        assert!(!looks_like_dns(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false));
        assert!(!looks_like_dns(&[0u8; 12], false));
        let r = response(1, "example.com");
        for n in 0..r.len() {
            let _ = parse_message(&r[..n]);
        }
    }
}
