//! DNS messages (RFC 1035): queries and responses with A, AAAA, CNAME, TXT and NULL answers.

use std::net::Ipv4Addr;

pub const TYPE_A: u16 = 1;
pub const TYPE_NULL: u16 = 10;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;

#[derive(Clone, Debug)]
pub enum Answer {
    A(Ipv4Addr),
    Aaaa([u8; 16]),
    Cname(String),
    Txt(Vec<u8>),
    Null(Vec<u8>),
}

fn name(out: &mut Vec<u8>, n: &str) {
    for label in n.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        let l = &label.as_bytes()[..label.len().min(63)];
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
}

fn header(id: u16, flags: u16, qd: u16, an: u16) -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    for x in [id, flags, qd, an, 0, 0] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v
}

/// A recursive query (RD set).
pub fn query(id: u16, qname: &str, qtype: u16) -> Vec<u8> {
    let mut v = header(id, 0x0100, 1, 0);
    name(&mut v, qname);
    v.extend_from_slice(&qtype.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    v
}

/// A response from a recursive resolver. The first answer's owner is the question name (a
/// compression pointer); after a CNAME, later answers are owned by the CNAME target.
pub fn response(id: u16, qname: &str, qtype: u16, rcode: u8, answers: &[Answer], ttl: u32) -> Vec<u8> {
    let flags = 0x8180 | (rcode as u16 & 0x000f);
    let mut v = header(id, flags, 1, answers.len() as u16);
    name(&mut v, qname);
    v.extend_from_slice(&qtype.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    let mut owner: Option<String> = None;
    for a in answers {
        match &owner {
            None => v.extend_from_slice(&[0xc0, 0x0c]),
            Some(o) => name(&mut v, o),
        }
        let (t, rdata): (u16, Vec<u8>) = match a {
            Answer::A(ip) => (TYPE_A, ip.octets().to_vec()),
            Answer::Aaaa(b) => (TYPE_AAAA, b.to_vec()),
            Answer::Cname(c) => {
                let mut r = Vec::new();
                name(&mut r, c);
                (TYPE_CNAME, r)
            }
            Answer::Txt(t) => {
                // TXT rdata is a sequence of <length><string> chunks of ≤ 255 bytes.
                let mut r = Vec::new();
                for c in t.chunks(255) {
                    r.push(c.len() as u8);
                    r.extend_from_slice(c);
                }
                if t.is_empty() {
                    r.push(0);
                }
                (TYPE_TXT, r)
            }
            Answer::Null(n) => (TYPE_NULL, n.clone()),
        };
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(&1u16.to_be_bytes());
        v.extend_from_slice(&ttl.to_be_bytes());
        v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        v.extend(rdata);
        if let Answer::Cname(c) = a {
            owner = Some(c.clone());
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_layout() {
        let q = query(0x1234, "www.example.com", TYPE_A);
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(&q[12..17], &[3, b'w', b'w', b'w', 7]);
        assert_eq!(q.len(), 12 + 17 + 4);
    }

    #[test]
    fn response_with_cname_chain() {
        let r =
            response(1, "a.example.com", TYPE_A, 0, &[Answer::Cname("b.cdn.example.net".into()), Answer::A(Ipv4Addr::new(1, 2, 3, 4))], 60);
        assert_eq!(u16::from_be_bytes([r[6], r[7]]), 2);
        assert_eq!(&r[r.len() - 4..], &[1, 2, 3, 4]);
        let nx = response(2, "x.example.com", TYPE_A, 3, &[], 60);
        assert_eq!(nx[3] & 0x0f, 3);
    }
}
