//! SYN ("half-open") port discovery over a raw IPv4 TCP socket, for processes with
//! CAP_NET_RAW: send a SYN, read the SYN-ACK (open) or RST (closed), answer a SYN-ACK with a
//! RST so no connection is ever completed, retry the silent ones, and call the rest filtered.
//!
//! Safety of the target: every packet is built only for an address the [`Scope`] allows — the
//! caller's whole-list check is repeated here per packet. Stateless matching: the initial
//! sequence number is a keyed hash of (target, our source port), so a reply is ours only if its
//! acknowledgement number is that hash + 1 (other scans and stray traffic are ignored).
//!
//! Source ports come from [`SRC_PORT_BASE`]`..+`[`SRC_PORT_SPAN`], above Linux's default
//! ephemeral range (32768–60999), so the kernel's own connections do not collide with ours.
//! The kernel answers the SYN-ACKs for these ports with its own RST as well (no socket owns
//! them); the explicit RST makes that independent of local firewall rules.
//!
//! [`build_syn`] / [`build_rst`] / [`parse_reply`] are pure functions over byte slices
//! (the reply parser sees attacker bytes: bounded, no panics).

use crate::scope::Scope;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// First source port used for SYN probes.
pub const SRC_PORT_BASE: u16 = 61_000;
/// How many source ports are used (61000–64999).
pub const SRC_PORT_SPAN: u16 = 4_000;

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

/// Why a SYN scan could not start.
#[derive(Debug, thiserror::Error)]
pub enum SynError {
    #[error("SYN scanning needs CAP_NET_RAW (run as root or `setcap cap_net_raw+ep` on the binary): {0}")]
    NoCapability(io::Error),
    #[error("cannot open a raw TCP socket: {0}")]
    Socket(io::Error),
}

/// A TCP segment seen on the raw socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
}

impl Reply {
    pub fn is_syn_ack(&self) -> bool {
        self.flags & (TCP_SYN | TCP_ACK) == (TCP_SYN | TCP_ACK) && self.flags & (TCP_RST | TCP_FIN) == 0
    }
    pub fn is_rst(&self) -> bool {
        self.flags & TCP_RST != 0
    }
}

/// Parses an IPv4 datagram carrying TCP (what a raw `IPPROTO_TCP` socket reads). `None` for
/// anything else, truncated or fragmented (a non-first fragment has no TCP header).
pub fn parse_reply(pkt: &[u8]) -> Option<Reply> {
    let vihl = *pkt.first()?;
    if vihl >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(vihl & 0x0f) * 4;
    if ihl < 20 || *pkt.get(9)? != 6 {
        return None;
    }
    let frag = u16::from_be_bytes([*pkt.get(6)?, *pkt.get(7)?]);
    if frag & 0x1fff != 0 {
        return None;
    }
    let ip4 = |at: usize| -> Option<Ipv4Addr> {
        let b = pkt.get(at..at + 4)?;
        Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    };
    let (src, dst) = (ip4(12)?, ip4(16)?);
    let tcp = pkt.get(ihl..)?;
    let h = tcp.get(..20)?;
    let be16 = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    Some(Reply { src: SocketAddrV4::new(src, be16(0)), dst: SocketAddrV4::new(dst, be16(2)), seq: be32(4), ack: be32(8), flags: h[13] })
}

fn checksum(src: Ipv4Addr, dst: Ipv4Addr, seg: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            let w = u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]);
            sum = sum.wrapping_add(u32::from(w));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&[0, 6]);
    add(&(seg.len() as u16).to_be_bytes());
    add(seg);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn segment(src: SocketAddrV4, dst: SocketAddrV4, seq: u32, flags: u8, options: &[u8]) -> Vec<u8> {
    let len = 20 + options.len();
    let mut s = Vec::with_capacity(len);
    s.extend_from_slice(&src.port().to_be_bytes());
    s.extend_from_slice(&dst.port().to_be_bytes());
    s.extend_from_slice(&seq.to_be_bytes());
    s.extend_from_slice(&0u32.to_be_bytes());
    s.push(((len / 4) as u8) << 4);
    s.push(flags);
    s.extend_from_slice(&1024u16.to_be_bytes()); // window
    s.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    s.extend_from_slice(options);
    let c = checksum(*src.ip(), *dst.ip(), &s);
    s[16..18].copy_from_slice(&c.to_be_bytes());
    s
}

/// A TCP SYN segment (header + MSS option, checksum filled) from `src` to `dst`.
pub fn build_syn(src: SocketAddrV4, dst: SocketAddrV4, seq: u32) -> Vec<u8> {
    segment(src, dst, seq, TCP_SYN, &[2, 4, 0x05, 0xb4])
}

/// The RST that tears down a half-open connection after a SYN-ACK (`seq` = our ISN + 1).
pub fn build_rst(src: SocketAddrV4, dst: SocketAddrV4, seq: u32) -> Vec<u8> {
    segment(src, dst, seq, TCP_RST, &[])
}

/// SYN scan knobs.
#[derive(Debug, Clone, Copy)]
pub struct SynConfig {
    /// SYN packets per second (0 = unlimited).
    pub rate: f64,
    /// Extra rounds for targets that stayed silent.
    pub retries: u32,
    /// How long to wait for answers after each round's last SYN.
    pub wait: Duration,
}

/// What discovery found per target.
pub type Discovery = HashMap<SocketAddr, crate::scan::PortState>;

/// An open raw socket plus the key of its sequence-number cookies.
pub struct SynScanner {
    sock: Socket,
    key: std::hash::RandomState,
    /// SYN and RST packets sent (tests read it to prove nothing went out).
    pub sent: AtomicU64,
}

impl SynScanner {
    /// Opens the raw socket; [`SynError::NoCapability`] without CAP_NET_RAW.
    pub fn open() -> Result<SynScanner, SynError> {
        let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::TCP)).map_err(|e| {
            if matches!(e.kind(), io::ErrorKind::PermissionDenied) || e.raw_os_error() == Some(1) {
                SynError::NoCapability(e)
            } else {
                SynError::Socket(e)
            }
        })?;
        sock.set_read_timeout(Some(Duration::from_millis(50))).map_err(SynError::Socket)?;
        // Big enough that a burst of answers is not dropped while the reader is busy.
        let _ = sock.set_recv_buffer_size(4 << 20);
        Ok(SynScanner { sock, key: std::hash::RandomState::new(), sent: AtomicU64::new(0) })
    }

    fn cookie(&self, target: SocketAddrV4, sport: u16) -> u32 {
        self.key.hash_one((target, sport)) as u32
    }

    fn send(&self, scope: &Scope, seg: &[u8], dst: SocketAddrV4) -> io::Result<()> {
        // The second guard: nothing leaves for an address the scope does not allow.
        if !scope.allows(SocketAddr::V4(dst)) {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("{dst} is outside the scope")));
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.sock.send_to(seg, &SockAddr::from(SocketAddrV4::new(*dst.ip(), 0))).map(|_| ())
    }

    /// Discovers the state of every IPv4 target (IPv6 ones are left out of the result; the
    /// caller checks them by connect). Every target must be in `scope`, else nothing is sent.
    pub fn discover(&self, scope: &Scope, targets: &[SocketAddr], cfg: &SynConfig) -> Result<Discovery, crate::scope::ScopeError> {
        use crate::scan::PortState;
        if let Some(bad) = targets.iter().find(|a| !scope.allows(**a)) {
            return Err(crate::scope::ScopeError::OutOfScope { target: bad.to_string() });
        }
        // Per target: our source address (the kernel's route choice) and source port.
        let mut plan: Vec<(SocketAddrV4, SocketAddrV4)> = Vec::new();
        let mut src_of: HashMap<Ipv4Addr, Option<Ipv4Addr>> = HashMap::new();
        for (i, t) in targets.iter().enumerate() {
            let SocketAddr::V4(t) = *t else { continue };
            let src = *src_of.entry(*t.ip()).or_insert_with(|| route_source(*t.ip()));
            let Some(src) = src else { continue };
            let sport = SRC_PORT_BASE + (i % usize::from(SRC_PORT_SPAN)) as u16;
            plan.push((SocketAddrV4::new(src, sport), t));
        }
        let wanted: HashMap<(SocketAddrV4, u16), SocketAddrV4> = plan.iter().map(|(s, t)| ((*t, s.port()), *s)).collect();
        let found: Mutex<HashMap<SocketAddrV4, PortState>> = Mutex::new(HashMap::new());
        let stop = AtomicBool::new(false);
        let gap = (cfg.rate > 0.0 && cfg.rate.is_finite()).then(|| Duration::from_secs_f64(1.0 / cfg.rate));
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut buf = [0u8; 1600];
                while !stop.load(Ordering::Relaxed) {
                    let n = match (&self.sock).read(&mut buf) {
                        Ok(n) => n,
                        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => {
                            continue;
                        }
                        Err(_) => break,
                    };
                    let Some(r) = parse_reply(buf.get(..n).unwrap_or(&[])) else { continue };
                    let Some(ours) = wanted.get(&(r.src, r.dst.port())) else { continue };
                    if r.dst.ip() != ours.ip() || r.ack != self.cookie(r.src, r.dst.port()).wrapping_add(1) {
                        continue;
                    }
                    let state = if r.is_syn_ack() {
                        // Tear the half-open connection down at once.
                        let _ = self.send(scope, &build_rst(*ours, r.src, r.ack), r.src);
                        PortState::Open
                    } else if r.is_rst() {
                        PortState::Closed
                    } else {
                        continue;
                    };
                    found.lock().unwrap_or_else(|e| e.into_inner()).entry(r.src).or_insert(state);
                }
            });
            let mut next = Instant::now();
            for _round in 0..=cfg.retries.min(10) {
                let pending: Vec<(SocketAddrV4, SocketAddrV4)> = {
                    let f = found.lock().unwrap_or_else(|e| e.into_inner());
                    plan.iter().copied().filter(|(_, t)| !f.contains_key(t)).collect()
                };
                if pending.is_empty() {
                    break;
                }
                for (src, t) in &pending {
                    if let Some(g) = gap {
                        let now = Instant::now();
                        if next > now {
                            std::thread::sleep(next - now);
                        }
                        next = next.max(now) + g;
                    }
                    let _ = self.send(scope, &build_syn(*src, *t, self.cookie(*t, src.port())), *t);
                }
                let deadline = Instant::now() + cfg.wait;
                while Instant::now() < deadline {
                    let all = {
                        let f = found.lock().unwrap_or_else(|e| e.into_inner());
                        pending.iter().all(|(_, t)| f.contains_key(t))
                    };
                    if all {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            stop.store(true, Ordering::Relaxed);
        });
        let found = found.into_inner().unwrap_or_else(|e| e.into_inner());
        Ok(plan.iter().map(|(_, t)| (SocketAddr::V4(*t), found.get(t).copied().unwrap_or(PortState::Filtered))).collect())
    }
}

/// The source address the kernel would use towards `dst` (connecting a UDP socket sends
/// nothing; it only runs the route lookup).
fn route_source(dst: Ipv4Addr) -> Option<Ipv4Addr> {
    let u = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    u.connect((dst, 9)).ok()?;
    match u.local_addr().ok()?.ip() {
        IpAddr::V4(v) if !v.is_unspecified() => Some(v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_round_trips_through_the_parser_with_a_valid_checksum() {
        let src: SocketAddrV4 = "127.0.0.1:61000".parse().unwrap();
        let dst: SocketAddrV4 = "127.55.0.1:22".parse().unwrap();
        let seg = build_syn(src, dst, 0xdead_beef);
        assert_eq!(seg.len(), 24);
        // A correct checksum makes the sum over pseudo-header + segment 0.
        assert_eq!(checksum(*src.ip(), *dst.ip(), &seg), 0);
        let mut ip = vec![0x45, 0, 0, 44, 0, 0, 0x40, 0, 64, 6, 0, 0];
        ip.extend_from_slice(&src.ip().octets());
        ip.extend_from_slice(&dst.ip().octets());
        ip.extend_from_slice(&seg);
        let r = parse_reply(&ip).unwrap();
        assert_eq!((r.src, r.dst, r.seq, r.flags), (src, dst, 0xdead_beef, TCP_SYN));
        assert!(!r.is_syn_ack() && !r.is_rst());
        let rst = build_rst(src, dst, 1);
        assert_eq!(checksum(*src.ip(), *dst.ip(), &rst), 0);
        assert_eq!(rst[13], TCP_RST);
    }

    #[test]
    fn parser_rejects_what_is_not_a_first_tcp_fragment() {
        assert!(parse_reply(&[]).is_none());
        assert!(parse_reply(&[0x60; 40]).is_none(), "IPv6");
        let mut udp = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1];
        udp.extend_from_slice(&[0; 8]);
        assert!(parse_reply(&udp).is_none(), "UDP");
        let mut frag = vec![0x45, 0, 0, 40, 0, 0, 0x00, 0x10, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1];
        frag.extend_from_slice(&[0; 20]);
        assert!(parse_reply(&frag).is_none(), "non-first fragment");
        let short = [0x45, 0, 0, 30, 0, 0, 0, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1, 0, 22];
        assert!(parse_reply(&short).is_none(), "truncated TCP header");
        let bad_ihl = [0x41, 0, 0, 30, 0, 0, 0, 0, 64, 6, 0, 0];
        assert!(parse_reply(&bad_ihl).is_none());
    }
}
