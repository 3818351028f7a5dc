//! SOCKS 4/4a/5 handshakes (RFC 1928, RFC 1929), so the protocol tunnelled through a SOCKS
//! proxy (TLS, HTTP, SSH...) can be detected and parsed behind it.

use crate::reader::Reader;

/// Whether the start of an originator stream is (`Some(true)`), is not (`Some(false)`), or may
/// still become (`None`) a SOCKS greeting.
pub fn detect_greeting(o: &[u8]) -> Option<bool> {
    match o.first()? {
        5 => {
            let n = usize::from(*o.get(1)?);
            if n == 0 || n > 16 {
                return Some(false);
            }
            let methods = o.get(2..2 + n)?;
            // Methods: no auth, GSSAPI, user/password, IANA-assigned, private (0x80–0xfe).
            let ok = methods.iter().all(|&m| m <= 0x09 || (0x80..=0xfe).contains(&m));
            // Clients wait for the method choice, so anything after the greeting must be the
            // start of a sub-negotiation (1) or request (5).
            let next_ok = o.get(2 + n).is_none_or(|&b| b == 1 || b == 5);
            Some(ok && next_ok)
        }
        4 => {
            let cmd = *o.get(1)?;
            if cmd != 1 && cmd != 2 {
                return Some(false);
            }
            let user = o.get(8..)?;
            let end = user.iter().position(|&b| b == 0);
            match end {
                None if user.len() > 255 => Some(false),
                None => None,
                Some(e) => Some(user[..e].iter().all(|b| b.is_ascii_graphic())),
            }
        }
        _ => Some(false),
    }
}

/// Consumes one direction's SOCKS handshake; once through, the rest is the tunnelled stream.
#[derive(Debug, Default)]
pub struct SocksSide {
    buf: Vec<u8>,
    /// Handshake messages consumed so far.
    step: u8,
    pub through: bool,
    pub broken: bool,
}

/// Length of a SOCKS5 request/reply (`05 cmd 00 atyp addr port`) at the start of `b`; `None`
/// if more bytes are needed, `Some(usize::MAX)` if it is not one.
fn socks5_addr_msg_len(b: &[u8]) -> Option<usize> {
    let mut r = Reader::new(b);
    r.skip(3)?;
    let addr = match r.u8()? {
        1 => 4,
        4 => 16,
        3 => usize::from(r.u8()?) + 1,
        _ => return Some(usize::MAX),
    };
    Some(4 + addr + 2)
}

/// Both directions of a SOCKS handshake.
#[derive(Debug, Default)]
pub struct Socks {
    pub sides: [SocksSide; 2],
    version: u8,
}

/// Longest handshake message accepted.
const MAX_MSG: usize = 600;

impl Socks {
    pub fn new(version: u8) -> Self {
        Socks { version, ..Default::default() }
    }

    /// Feeds bytes of one direction; returns the tunnelled bytes they contain (empty while
    /// the handshake is still going on), or `None` once the handshake is not SOCKS after all.
    pub fn feed(&mut self, from_orig: bool, data: &[u8]) -> Option<Vec<u8>> {
        let side = &mut self.sides[usize::from(!from_orig)];
        if side.through {
            return Some(data.to_vec());
        }
        if side.broken {
            return None;
        }
        side.buf.extend_from_slice(data);
        // Each pass consumes one handshake message or returns.
        for _ in 0..4 {
            let b = &side.buf;
            let Some(&first) = b.first() else { return Some(Vec::new()) };
            // (message length if known, whether it ends the handshake)
            let (need, last): (Option<usize>, bool) = match (self.version, from_orig, side.step) {
                (5, true, 0) => (b.get(1).map(|n| 2 + usize::from(*n)), false),
                (5, false, 0) => (Some(2), false),
                // RFC 1929 sub-negotiation: 01 ulen user plen pass; status: 01 status.
                (5, true, _) if first == 1 => {
                    let u = b.get(1).map(|&u| usize::from(u));
                    (u.and_then(|u| b.get(2 + u).map(|&p| 3 + u + usize::from(p))), false)
                }
                (5, false, _) if first == 1 => (Some(2), false),
                (5, _, _) if first == 5 => (socks5_addr_msg_len(b), true),
                (4, true, _) => {
                    let n = b.get(8..).and_then(|u| u.iter().position(|&x| x == 0)).map(|e| {
                        let base = 9 + e;
                        // SOCKS4a: address 0.0.0.x (x ≠ 0) is followed by a host name.
                        let a4 = b.get(4..7) == Some(&[0u8, 0, 0][..]) && b.get(7).is_some_and(|&x| x != 0);
                        if !a4 { Some(base) } else { b.get(base..).and_then(|h| h.iter().position(|&x| x == 0)).map(|h| base + h + 1) }
                    });
                    (n.flatten(), true)
                }
                (4, false, _) => (Some(8), true),
                _ => (Some(usize::MAX), true),
            };
            let Some(need) = need else {
                if side.buf.len() > MAX_MSG {
                    side.broken = true;
                    return None;
                }
                return Some(Vec::new());
            };
            if need > MAX_MSG {
                side.broken = true;
                return None;
            }
            if side.buf.len() < need {
                return Some(Vec::new());
            }
            let rest = side.buf.split_off(need);
            side.buf = rest;
            side.step += 1;
            if last {
                side.through = true;
                return Some(std::mem::take(&mut side.buf));
            }
        }
        side.broken = true;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_detection() {
        assert_eq!(detect_greeting(&[5, 1, 0]), Some(true));
        assert_eq!(detect_greeting(&[5, 2, 0, 2, 5]), Some(true));
        assert_eq!(detect_greeting(&[5, 1]), None);
        assert_eq!(detect_greeting(&[5, 1, 0x50]), Some(false));
        assert_eq!(detect_greeting(&[4, 1, 0, 80, 1, 2, 3, 4, b'u', 0]), Some(true));
        assert_eq!(detect_greeting(b"GET /"), Some(false));
    }

    #[test]
    fn socks5_with_password_then_tunnel() {
        let mut s = Socks::new(5);
        assert_eq!(s.feed(true, &[5, 1, 2]), Some(vec![]));
        assert_eq!(s.feed(false, &[5, 2]), Some(vec![]));
        assert_eq!(s.feed(true, &[1, 1, b'u', 2, b'p', b'w']), Some(vec![]));
        assert_eq!(s.feed(false, &[1, 0]), Some(vec![]));
        let mut req = vec![5, 1, 0, 3, 11];
        req.extend_from_slice(b"example.com");
        req.extend_from_slice(&[1, 187, 0x16, 3, 1]);
        assert_eq!(s.feed(true, &req[..7]), Some(vec![]));
        assert_eq!(s.feed(true, &req[7..]), Some(vec![0x16, 3, 1]));
        assert_eq!(s.feed(false, &[5, 0, 0, 1, 10, 0, 0, 1, 0, 80, b'x']), Some(vec![b'x']));
        assert_eq!(s.feed(true, b"more"), Some(b"more".to_vec()));
    }

    #[test]
    fn socks4a_and_garbage() {
        let mut s = Socks::new(4);
        let mut req = vec![4, 1, 0, 80, 0, 0, 0, 1, b'u', 0];
        req.extend_from_slice(b"host.example\0");
        req.extend_from_slice(b"GET");
        assert_eq!(s.feed(true, &req), Some(b"GET".to_vec()));
        let mut g = Socks::new(5);
        assert_eq!(g.feed(true, &[5, 1, 0, 9, 9, 9, 9]), None);
    }
}
