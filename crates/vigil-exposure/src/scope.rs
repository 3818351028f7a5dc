//! The scan scope: the institution's own authorised ranges, and nothing else.
//!
//! Format (CONTRACT.md, "Scope file"): one target a line — an address, a CIDR or a host name —
//! optionally followed by `ports=` (a list or ranges); `#` starts a comment. A host name is
//! resolved and accepted only if EVERY address it resolves to lies inside the addresses and
//! CIDRs the file itself lists: DNS is not trusted to widen the scope. Any error refuses the
//! whole file with the line number, so a typo never turns into a scan of someone else.

pub use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// Ports probed when a line has no `ports=`: remote access, mail, web, databases, admin and VPN
/// portals — what mapping platforms index.
pub const DEFAULT_PORTS: &[u16] = &[
    21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 389, 443, 445, 465, 587, 636, 993, 995, 1433, 1521, 1723, 2049, 2375, 3306, 3389,
    4443, 5432, 5900, 5985, 6379, 8000, 8008, 8080, 8081, 8443, 8888, 9000, 9200, 10443, 11211, 27017,
];

/// A scope may expand to at most this many (address, port) pairs; beyond it the file is refused
/// rather than silently truncated.
pub const MAX_TARGETS: usize = 4_000_000;
/// Longest line accepted.
const MAX_LINE: usize = 4096;
/// Most lines accepted.
const MAX_LINES: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope line {line}: {reason}: {text:?}")]
    Line { line: usize, text: String, reason: String },
    #[error("scope is empty: no target lines")]
    Empty,
    #[error("scope expands to more than {max} address/port pairs")]
    TooLarge { max: usize },
    #[error("{target} is outside the scope; refusing to probe it")]
    OutOfScope { target: String },
}

/// Resolves host names (a seam so tests can pin answers).
pub trait Resolver {
    fn resolve(&self, name: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// The system resolver (getaddrinfo).
pub struct SystemResolver;
impl Resolver for SystemResolver {
    fn resolve(&self, name: &str) -> std::io::Result<Vec<IpAddr>> {
        Ok((name, 0u16).to_socket_addrs()?.map(|a| a.ip()).collect())
    }
}

/// One accepted line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeEntry {
    pub line: usize,
    /// The networks this line covers (a host name line: its resolved addresses as /32 or /128).
    pub nets: Vec<IpNet>,
    pub name: Option<String>,
    pub ports: Vec<u16>,
}

/// A parsed, validated scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub entries: Vec<ScopeEntry>,
}

fn parse_ports(spec: &str) -> Result<Vec<u16>, String> {
    let mut out = Vec::new();
    for part in spec.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err("empty port in ports= list".into());
        }
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let a: u16 = a.parse().map_err(|_| format!("bad port {a:?}"))?;
        let b: u16 = b.parse().map_err(|_| format!("bad port {b:?}"))?;
        if a == 0 || b < a {
            return Err(format!("bad port range {part:?}"));
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

impl Scope {
    /// Parses and validates a scope file. `default_ports` applies to lines without `ports=`.
    pub fn parse(text: &str, default_ports: &[u16], resolver: &dyn Resolver) -> Result<Scope, ScopeError> {
        struct Pending {
            line: usize,
            text: String,
            name: String,
            ports: Vec<u16>,
        }
        let mut entries = Vec::new();
        let mut names = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            if line > MAX_LINES {
                return Err(ScopeError::Line { line, text: String::new(), reason: format!("more than {MAX_LINES} lines") });
            }
            let err = |reason: String| ScopeError::Line { line, text: raw.chars().take(200).collect(), reason };
            if raw.len() > MAX_LINE {
                return Err(err("line too long".into()));
            }
            let body = raw.split('#').next().unwrap_or("").trim();
            if body.is_empty() {
                continue;
            }
            let mut words = body.split_whitespace();
            let target = words.next().unwrap_or("");
            let mut ports: Option<Vec<u16>> = None;
            for w in words {
                match w.strip_prefix("ports=") {
                    Some(spec) if ports.is_none() => ports = Some(parse_ports(spec).map_err(err)?),
                    Some(_) => return Err(err("ports= given twice".into())),
                    None => return Err(err(format!("unexpected {w:?} (expected ports=LIST)"))),
                }
            }
            let ports = ports.unwrap_or_else(|| default_ports.to_vec());
            if ports.is_empty() {
                return Err(err("no ports".into()));
            }
            if let Ok(net) = target.parse::<IpNet>() {
                if net.trunc() != net {
                    return Err(err(format!("CIDR has host bits set (did you mean {}?)", net.trunc())));
                }
                entries.push(ScopeEntry { line, nets: vec![net], name: None, ports });
            } else if let Ok(ip) = target.parse::<IpAddr>() {
                entries.push(ScopeEntry { line, nets: vec![IpNet::from(ip)], name: None, ports });
            } else if is_host_name(target) {
                names.push(Pending { line, text: raw.chars().take(200).collect(), name: target.to_ascii_lowercase(), ports });
            } else {
                return Err(err("not an address, CIDR or host name".into()));
            }
        }
        // Host names last: they must fall inside what the file lists by address.
        let listed: Vec<IpNet> = entries.iter().flat_map(|e| e.nets.iter().copied()).collect();
        for p in names {
            let addrs = resolver.resolve(&p.name).map_err(|e| ScopeError::Line {
                line: p.line,
                text: p.text.clone(),
                reason: format!("cannot resolve {}: {e}", p.name),
            })?;
            if addrs.is_empty() {
                return Err(ScopeError::Line { line: p.line, text: p.text, reason: format!("{} resolves to no address", p.name) });
            }
            if let Some(out) = addrs.iter().find(|a| !listed.iter().any(|n| n.contains(*a))) {
                return Err(ScopeError::Line {
                    line: p.line,
                    text: p.text,
                    reason: format!("{} resolves to {out}, which is outside the addresses and CIDRs listed in this scope", p.name),
                });
            }
            entries.push(ScopeEntry {
                line: p.line,
                nets: addrs.into_iter().map(IpNet::from).collect(),
                name: Some(p.name),
                ports: p.ports,
            });
        }
        if entries.is_empty() {
            return Err(ScopeError::Empty);
        }
        let scope = Scope { entries };
        let total = scope.entries.iter().try_fold(0usize, |acc, e| {
            let hosts: u128 = e.nets.iter().map(net_size).sum();
            let n = hosts.saturating_mul(e.ports.len() as u128);
            acc.checked_add(usize::try_from(n).ok()?).filter(|t| *t <= MAX_TARGETS)
        });
        if total.is_none() {
            return Err(ScopeError::TooLarge { max: MAX_TARGETS });
        }
        Ok(scope)
    }

    /// Is this address inside the scope at all?
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.entries.iter().any(|e| e.nets.iter().any(|n| n.contains(&ip)))
    }

    /// Is this address and port inside the scope (the port is listed for a line covering it)?
    pub fn allows(&self, addr: SocketAddr) -> bool {
        self.entries.iter().any(|e| e.nets.iter().any(|n| n.contains(&addr.ip())) && e.ports.binary_search(&addr.port()).is_ok())
    }

    /// Refuses an address outside the scope.
    pub fn check(&self, addr: SocketAddr) -> Result<(), ScopeError> {
        if self.allows(addr) { Ok(()) } else { Err(ScopeError::OutOfScope { target: addr.to_string() }) }
    }

    /// Every (address, port) pair in scope, de-duplicated, in a stable order. For IPv4 networks
    /// wider than /31 the network and broadcast addresses are skipped.
    pub fn targets(&self) -> Vec<SocketAddr> {
        let mut out = Vec::new();
        for e in &self.entries {
            for n in &e.nets {
                for ip in hosts(n) {
                    for &p in &e.ports {
                        out.push(SocketAddr::new(ip, p));
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The host names given in the scope, by address (for reporting).
    pub fn names(&self) -> Vec<(IpAddr, String)> {
        self.entries
            .iter()
            .filter_map(|e| e.name.as_ref().map(|n| (e, n)))
            .flat_map(|(e, n)| e.nets.iter().map(move |net| (net.addr(), n.clone())))
            .collect()
    }
}

fn net_size(n: &IpNet) -> u128 {
    let bits = u32::from(n.max_prefix_len().saturating_sub(n.prefix_len()));
    1u128.checked_shl(bits).unwrap_or(u128::MAX)
}

fn hosts(n: &IpNet) -> Vec<IpAddr> {
    match n {
        IpNet::V4(v4) if v4.prefix_len() < 31 => v4.hosts().map(IpAddr::V4).take(MAX_TARGETS).collect(),
        IpNet::V4(v4) => {
            let a = u32::from(v4.network());
            let size = 1u64 << (32 - u32::from(v4.prefix_len()));
            (0..size).map(|i| IpAddr::V4(std::net::Ipv4Addr::from(a.wrapping_add(i as u32)))).collect()
        }
        IpNet::V6(v6) => v6.hosts().map(IpAddr::V6).take(MAX_TARGETS).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fixed(HashMap<&'static str, Vec<IpAddr>>);
    impl Resolver for Fixed {
        fn resolve(&self, name: &str) -> std::io::Result<Vec<IpAddr>> {
            self.0.get(name).cloned().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such host"))
        }
    }
    fn res() -> Fixed {
        Fixed(HashMap::from([
            ("www.example.cn", vec!["10.1.2.7".parse().unwrap()]),
            ("split.example.cn", vec!["10.1.2.8".parse().unwrap(), "203.0.113.9".parse().unwrap()]),
        ]))
    }

    #[test]
    fn parses_cidrs_ports_comments_and_names() {
        let s =
            Scope::parse("# ours\n127.0.0.0/30\n10.1.2.0/24 ports=22,80,443,8000-8002  # dmz\nwww.example.cn ports=443\n", &[22], &res())
                .unwrap();
        assert_eq!(s.entries.len(), 3);
        assert_eq!(s.entries[1].ports, vec![22, 80, 443, 8000, 8001, 8002]);
        assert!(s.allows("10.1.2.9:8001".parse().unwrap()));
        assert!(!s.allows("10.1.2.9:8003".parse().unwrap()));
        assert!(!s.contains("10.1.3.1".parse().unwrap()));
        // /30: two usable hosts, one port each.
        assert_eq!(s.targets().iter().filter(|a| a.ip().to_string().starts_with("127.")).count(), 2);
    }

    #[test]
    fn errors_name_the_line() {
        for (text, line, needle) in [
            ("127.0.0.1\n10.0.0.0/33\n", 2, "not an address"),
            ("127.0.0.1 ports=22,0\n", 1, "bad port"),
            ("127.0.0.1 ports=80-22\n", 1, "bad port range"),
            ("127.0.0.1 bogus\n", 1, "unexpected"),
            ("10.0.0.1/8\n", 1, "host bits"),
            ("10.1.2.0/24\nsplit.example.cn\n", 2, "203.0.113.9"),
            ("10.1.2.0/24\nnowhere.example.cn\n", 2, "cannot resolve"),
            ("www.example.cn\n", 1, "outside"),
        ] {
            match Scope::parse(text, &[22], &res()) {
                Err(ScopeError::Line { line: l, reason, .. }) => {
                    assert_eq!(l, line, "{text}");
                    assert!(reason.contains(needle), "{text}: {reason}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        assert_eq!(Scope::parse("# nothing\n\n", &[22], &res()), Err(ScopeError::Empty));
        assert!(matches!(Scope::parse("10.0.0.0/8 ports=1-65535\n", &[22], &res()), Err(ScopeError::TooLarge { .. })));
    }
}
