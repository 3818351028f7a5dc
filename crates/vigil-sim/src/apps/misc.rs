//! Small binary protocols: RDP connection start (TPKT / X.224), DHCP, NTP and ICMP payloads.

use std::net::Ipv4Addr;

/// RDP: the client's X.224 Connection Request with a mstshash cookie and an RDP negotiation
/// request for TLS + CredSSP.
pub fn rdp_connection_request(user: &str) -> Vec<u8> {
    let cookie = format!("Cookie: mstshash={user}\r\n");
    let mut x224 = vec![0u8, 0xe0, 0, 0, 0, 0, 0];
    x224.extend_from_slice(cookie.as_bytes());
    x224.extend_from_slice(&[0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00]);
    x224[0] = (x224.len() - 1) as u8;
    tpkt(x224)
}

/// RDP: the server's X.224 Connection Confirm selecting CredSSP (HYBRID).
pub fn rdp_connection_confirm() -> Vec<u8> {
    let mut x224 = vec![0u8, 0xd0, 0, 0, 0x12, 0x34, 0];
    x224.extend_from_slice(&[0x02, 0x1f, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00]);
    x224[0] = (x224.len() - 1) as u8;
    tpkt(x224)
}

fn tpkt(body: Vec<u8>) -> Vec<u8> {
    let n = body.len() + 4;
    let mut v = vec![3, 0, (n >> 8) as u8, n as u8];
    v.extend(body);
    v
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DhcpType {
    Discover = 1,
    Offer = 2,
    Request = 3,
    Ack = 5,
}

/// A DHCP message (BOOTP with options), padded to the 300-byte BOOTP minimum.
#[allow(clippy::too_many_arguments)]
pub fn dhcp(
    kind: DhcpType,
    xid: u32,
    mac: [u8; 6],
    ciaddr: Ipv4Addr,
    yiaddr: Ipv4Addr,
    server: Ipv4Addr,
    hostname: &str,
    router: Ipv4Addr,
    dns: Ipv4Addr,
) -> Vec<u8> {
    let reply = matches!(kind, DhcpType::Offer | DhcpType::Ack);
    let mut v = vec![if reply { 2 } else { 1 }, 1, 6, 0];
    v.extend_from_slice(&xid.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&(if ciaddr.is_unspecified() && !reply { 0x8000u16 } else { 0 }).to_be_bytes());
    v.extend_from_slice(&ciaddr.octets());
    v.extend_from_slice(&yiaddr.octets());
    v.extend_from_slice(&(if reply { server } else { Ipv4Addr::UNSPECIFIED }).octets());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(&mac);
    v.extend_from_slice(&[0u8; 10]);
    v.extend_from_slice(&[0u8; 64 + 128]);
    v.extend_from_slice(&[0x63, 0x82, 0x53, 0x63]);
    v.extend_from_slice(&[53, 1, kind as u8]);
    if reply {
        v.extend_from_slice(&[54, 4]);
        v.extend_from_slice(&server.octets());
        v.extend_from_slice(&[51, 4, 0, 1, 0x51, 0x80]); // 86400 s
        v.extend_from_slice(&[1, 4, 255, 255, 255, 0]);
        v.extend_from_slice(&[3, 4]);
        v.extend_from_slice(&router.octets());
        v.extend_from_slice(&[6, 4]);
        v.extend_from_slice(&dns.octets());
    } else {
        v.extend_from_slice(&[61, 7, 1]);
        v.extend_from_slice(&mac);
        if kind == DhcpType::Request && ciaddr.is_unspecified() {
            v.extend_from_slice(&[50, 4]);
            v.extend_from_slice(&yiaddr.octets());
            v.extend_from_slice(&[54, 4]);
            v.extend_from_slice(&server.octets());
        }
        let h = &hostname.as_bytes()[..hostname.len().min(60)];
        v.extend_from_slice(&[12, h.len() as u8]);
        v.extend_from_slice(h);
        v.extend_from_slice(&[55, 4, 1, 3, 6, 15]);
    }
    v.push(255);
    if v.len() < 300 {
        v.resize(300, 0);
    }
    v
}

const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

fn ntp_ts(us: i64) -> [u8; 8] {
    let secs = (us.div_euclid(1_000_000) as u64).wrapping_add(NTP_UNIX_OFFSET) as u32;
    let frac = ((us.rem_euclid(1_000_000) as u64) << 32) / 1_000_000;
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&secs.to_be_bytes());
    b[4..].copy_from_slice(&(frac as u32).to_be_bytes());
    b
}

/// NTPv4 client request (mode 3) sent at `us`.
pub fn ntp_request(us: i64) -> Vec<u8> {
    let mut v = vec![0x23, 0, 10, 0xe9];
    v.extend_from_slice(&[0u8; 36]);
    v.extend_from_slice(&ntp_ts(us));
    v
}

/// NTPv4 server reply (mode 4, stratum 2) to a request sent at `req_us`, answered at `us`.
pub fn ntp_reply(req_us: i64, us: i64, refid: [u8; 4]) -> Vec<u8> {
    let mut v = vec![0x24, 2, 10, 0xe7];
    v.extend_from_slice(&[0, 0, 0, 0x20, 0, 0, 0, 0x40]);
    v.extend_from_slice(&refid);
    v.extend_from_slice(&ntp_ts(us - 30_000_000));
    v.extend_from_slice(&ntp_ts(req_us));
    v.extend_from_slice(&ntp_ts(us - 20));
    v.extend_from_slice(&ntp_ts(us));
    v
}

/// The 32-byte payload Windows `ping` sends.
pub const WINDOWS_PING: &[u8; 32] = b"abcdefghijklmnopqrstuvwabcdefghi";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpkt_lengths() {
        let cr = rdp_connection_request("admin");
        assert_eq!(u16::from_be_bytes([cr[2], cr[3]]) as usize, cr.len());
        assert_eq!(cr[4] as usize, cr.len() - 5);
        let cc = rdp_connection_confirm();
        assert_eq!(u16::from_be_bytes([cc[2], cc[3]]) as usize, cc.len());
    }

    #[test]
    fn dhcp_and_ntp_shapes() {
        let d = dhcp(
            DhcpType::Discover,
            7,
            [1; 6],
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            "ws-1",
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
        );
        assert!(d.len() >= 300);
        assert_eq!(&d[236..240], &[0x63, 0x82, 0x53, 0x63]);
        assert_eq!(ntp_request(0).len(), 48);
        assert_eq!(ntp_reply(0, 1_000_000, *b"GPS\0").len(), 48);
        assert_eq!(&ntp_request(0)[40..44], &(NTP_UNIX_OFFSET as u32).to_be_bytes());
    }
}
