//! Frame builders: Ethernet, ARP, IPv4, TCP, UDP and ICMP with correct lengths and checksums.
//!
//! Everything here is byte assembly for the simulator's own packets; nothing is parsed.

use std::net::Ipv4Addr;

pub const ETH_HDR: usize = 14;
pub const IP_HDR: usize = 20;
pub const TCP_HDR: usize = 20;
pub const UDP_HDR: usize = 8;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const BROADCAST: [u8; 6] = [0xff; 6];

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_ACK: u8 = 0x10;

/// One end of a conversation at layers 2–4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub mac: [u8; 6],
    pub ip: Ipv4Addr,
    pub port: u16,
    /// The TTL packets from this end carry when the sensor sees them.
    pub ttl: u8,
}

/// The ones' complement sum of `data` (RFC 1071), folded and not yet inverted.
fn sum16(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc = acc.wrapping_add(u16::from_be_bytes([c[0], c[1]]) as u32);
    }
    if let [b] = chunks.remainder() {
        acc = acc.wrapping_add((*b as u32) << 8);
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum16(0, data))
}

/// The TCP/UDP checksum over the IPv4 pseudo-header and the segment (`seg` with a zero checksum
/// field).
pub fn l4_checksum(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, seg: &[u8]) -> u16 {
    let mut acc = sum16(0, &src.octets());
    acc = sum16(acc, &dst.octets());
    acc = acc.wrapping_add(proto as u32);
    acc = acc.wrapping_add(seg.len() as u32);
    acc = sum16(acc, seg);
    !fold(acc)
}

fn eth(out: &mut Vec<u8>, dst: [u8; 6], src: [u8; 6], ethertype: u16) {
    out.extend_from_slice(&dst);
    out.extend_from_slice(&src);
    out.extend_from_slice(&ethertype.to_be_bytes());
}

/// Appends an IPv4 header for a payload of `payload_len` bytes.
#[allow(clippy::too_many_arguments)]
fn ipv4(out: &mut Vec<u8>, src: Ipv4Addr, dst: Ipv4Addr, proto: u8, ttl: u8, id: u16, df: bool, payload_len: usize) {
    let start = out.len();
    let total = (IP_HDR + payload_len) as u16;
    out.push(0x45);
    out.push(0);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&(if df { 0x4000u16 } else { 0 }).to_be_bytes());
    out.push(ttl);
    out.push(proto);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    let c = checksum(&out[start..start + IP_HDR]);
    out[start + 10..start + 12].copy_from_slice(&c.to_be_bytes());
}

/// A TCP segment in an Ethernet frame. `options` must be a multiple of 4 bytes long.
#[allow(clippy::too_many_arguments)]
pub fn tcp_frame(
    from: &Endpoint,
    to: &Endpoint,
    ip_id: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    tcp_frame_snapped(from, to, ip_id, seq, ack, flags, window, options, payload, payload.len())
}

/// Like [`tcp_frame`], for a segment that carried `wire_len` payload bytes of which only the
/// first `payload.len()` are stored (a short snap length). Lengths describe the wire; the
/// checksum is that of the segment with the unstored bytes taken as zero.
#[allow(clippy::too_many_arguments)]
pub fn tcp_frame_snapped(
    from: &Endpoint,
    to: &Endpoint,
    ip_id: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[u8],
    payload: &[u8],
    wire_len: usize,
) -> Vec<u8> {
    debug_assert!(options.len().is_multiple_of(4) && options.len() <= 40);
    debug_assert!(wire_len >= payload.len());
    let tcp_len = TCP_HDR + options.len() + wire_len;
    // Room for what is stored, not for the segment on the wire: a bulk segment is up to 43
    // MSS long and its payload is not stored, and thousands of them wait in the generator's
    // heap at once (sizing by the wire length held 430 MB for the default demo).
    let mut out = Vec::with_capacity(ETH_HDR + IP_HDR + TCP_HDR + options.len() + payload.len());
    eth(&mut out, to.mac, from.mac, ETHERTYPE_IPV4);
    ipv4(&mut out, from.ip, to.ip, 6, from.ttl, ip_id, true, tcp_len);
    let s = out.len();
    out.extend_from_slice(&from.port.to_be_bytes());
    out.extend_from_slice(&to.port.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&(if flags & TCP_ACK != 0 { ack } else { 0 }).to_be_bytes());
    out.push((((TCP_HDR + options.len()) / 4) as u8) << 4);
    out.push(flags);
    out.extend_from_slice(&window.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(options);
    out.extend_from_slice(payload);
    let mut acc = sum16(0, &from.ip.octets());
    acc = sum16(acc, &to.ip.octets());
    acc = acc.wrapping_add(6).wrapping_add(tcp_len as u32);
    let c = !fold(sum16(acc, &out[s..]));
    out[s + 16..s + 18].copy_from_slice(&c.to_be_bytes());
    out
}

/// A UDP datagram in an Ethernet frame.
pub fn udp_frame(from: &Endpoint, to: &Endpoint, ip_id: u16, payload: &[u8]) -> Vec<u8> {
    let udp_len = UDP_HDR + payload.len();
    let mut out = Vec::with_capacity(ETH_HDR + IP_HDR + udp_len);
    eth(&mut out, to.mac, from.mac, ETHERTYPE_IPV4);
    ipv4(&mut out, from.ip, to.ip, 17, from.ttl, ip_id, false, udp_len);
    let s = out.len();
    out.extend_from_slice(&from.port.to_be_bytes());
    out.extend_from_slice(&to.port.to_be_bytes());
    out.extend_from_slice(&(udp_len as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    let mut c = l4_checksum(from.ip, to.ip, 17, &out[s..]);
    if c == 0 {
        // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
        c = 0xffff;
    }
    out[s + 6..s + 8].copy_from_slice(&c.to_be_bytes());
    out
}

/// An ICMP echo request (`reply == false`) or reply carrying `data`.
pub fn icmp_echo_frame(from: &Endpoint, to: &Endpoint, ip_id: u16, reply: bool, ident: u16, seqno: u16, data: &[u8]) -> Vec<u8> {
    let len = 8 + data.len();
    let mut out = Vec::with_capacity(ETH_HDR + IP_HDR + len);
    eth(&mut out, to.mac, from.mac, ETHERTYPE_IPV4);
    ipv4(&mut out, from.ip, to.ip, 1, from.ttl, ip_id, false, len);
    let s = out.len();
    out.push(if reply { 0 } else { 8 });
    out.push(0);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&ident.to_be_bytes());
    out.extend_from_slice(&seqno.to_be_bytes());
    out.extend_from_slice(data);
    let c = checksum(&out[s..]);
    out[s + 2..s + 4].copy_from_slice(&c.to_be_bytes());
    out
}

/// An ARP request (who-has `target` tell `sender`) or reply (`target_mac` known).
pub fn arp_frame(sender_mac: [u8; 6], sender_ip: Ipv4Addr, target_mac: Option<[u8; 6]>, target_ip: Ipv4Addr) -> Vec<u8> {
    let mut out = Vec::with_capacity(60);
    let (dst, op, tmac) = match target_mac {
        Some(m) => (m, 2u16, m),
        None => (BROADCAST, 1u16, [0u8; 6]),
    };
    eth(&mut out, dst, sender_mac, ETHERTYPE_ARP);
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    out.push(6);
    out.push(4);
    out.extend_from_slice(&op.to_be_bytes());
    out.extend_from_slice(&sender_mac);
    out.extend_from_slice(&sender_ip.octets());
    out.extend_from_slice(&tmac);
    out.extend_from_slice(&target_ip.octets());
    // Pad to the Ethernet minimum (60 bytes without FCS), as a NIC does.
    out.resize(60, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ip: [u8; 4], port: u16) -> Endpoint {
        Endpoint { mac: [2, 0, ip[0], ip[1], ip[2], ip[3]], ip: Ipv4Addr::from(ip), port, ttl: 64 }
    }

    #[test]
    fn rfc1071_example() {
        // The example of RFC 1071 section 3: sum 0xddf2, checksum 0x220d.
        assert_eq!(checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0x220d);
    }

    #[test]
    fn checksums_verify_to_zero() {
        let a = ep([10, 0, 0, 1], 40000);
        let b = ep([93, 184, 216, 34], 443);
        let f = tcp_frame(&a, &b, 7, 1000, 2000, TCP_ACK | TCP_PSH, 1024, &[], b"hello world");
        // Re-summing a header that includes its checksum gives zero.
        assert_eq!(checksum(&f[ETH_HDR..ETH_HDR + IP_HDR]), 0);
        assert_eq!(l4_checksum(a.ip, b.ip, 6, &f[ETH_HDR + IP_HDR..]), 0);
        let u = udp_frame(&a, &b, 9, b"odd");
        assert_eq!(l4_checksum(a.ip, b.ip, 17, &u[ETH_HDR + IP_HDR..]), 0);
        let i = icmp_echo_frame(&a, &b, 3, false, 1, 2, b"abcdefgh");
        assert_eq!(checksum(&i[ETH_HDR + IP_HDR..]), 0);
        assert_eq!(u16::from_be_bytes([f[16], f[17]]) as usize, f.len() - ETH_HDR);
    }

    #[test]
    fn a_snapped_bulk_segment_holds_only_its_headers() {
        let a = ep([10, 0, 0, 1], 40000);
        let b = ep([93, 184, 216, 34], 443);
        // A 43-MSS segment whose payload is not stored: the IP length says 62,780 bytes of
        // payload, the frame holds the 54 bytes of headers, and no room for the rest.
        let f = tcp_frame_snapped(&a, &b, 7, 1000, 2000, TCP_ACK, 1024, &[], &[], 43 * 1460);
        assert_eq!(f.len(), ETH_HDR + IP_HDR + TCP_HDR);
        assert_eq!(usize::from(u16::from_be_bytes([f[16], f[17]])), IP_HDR + TCP_HDR + 43 * 1460);
        assert!(f.capacity() <= ETH_HDR + IP_HDR + TCP_HDR + 40, "capacity {}", f.capacity());
    }

    #[test]
    fn arp_is_padded_and_addressed() {
        let r = arp_frame([1; 6], Ipv4Addr::new(10, 0, 0, 1), None, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(r.len(), 60);
        assert_eq!(&r[0..6], &BROADCAST);
        assert_eq!(u16::from_be_bytes([r[20], r[21]]), 1);
    }
}
