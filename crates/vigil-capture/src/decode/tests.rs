//! Hand-built frames for every encapsulation the decoder knows.

use super::*;
use crate::linktype;
use std::net::{Ipv4Addr, Ipv6Addr};

const A4: [u8; 4] = [10, 0, 0, 1];
const B4: [u8; 4] = [192, 168, 1, 2];
const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

fn a6() -> [u8; 16] {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).octets()
}
fn b6() -> [u8; 16] {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).octets()
}

pub(crate) fn tcp(sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(sport.to_be_bytes());
    v.extend(dport.to_be_bytes());
    v.extend(1000u32.to_be_bytes());
    v.extend(2000u32.to_be_bytes());
    v.push(6 << 4); // 24-byte header: one option word
    v.push(flags);
    v.extend(512u16.to_be_bytes());
    v.extend([0, 0, 0, 0]);
    v.extend([1, 1, 1, 0]); // NOP NOP NOP EOL
    v.extend_from_slice(payload);
    v
}

pub(crate) fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(sport.to_be_bytes());
    v.extend(dport.to_be_bytes());
    v.extend(((payload.len() + 8) as u16).to_be_bytes());
    v.extend([0, 0]);
    v.extend_from_slice(payload);
    v
}

pub(crate) fn ipv4_frag(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, ff: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x45, 0];
    v.extend(((20 + payload.len()) as u16).to_be_bytes());
    v.extend(id.to_be_bytes());
    v.extend(ff.to_be_bytes());
    v.push(64);
    v.push(proto);
    v.extend([0, 0]);
    v.extend(src);
    v.extend(dst);
    v.extend_from_slice(payload);
    v
}

pub(crate) fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_frag(src, dst, proto, 7, 0x4000, payload)
}

pub(crate) fn ipv6(src: [u8; 16], dst: [u8; 16], nh: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend((payload.len() as u16).to_be_bytes());
    v.push(nh);
    v.push(33);
    v.extend(src);
    v.extend(dst);
    v.extend_from_slice(payload);
    v
}

pub(crate) fn eth(et: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(MAC_B);
    v.extend(MAC_A);
    v.extend(et.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn frame(lt: u32, data: &[u8]) -> RawFrame<'_> {
    RawFrame { ts: Timestamp(1_000_000_000), linktype: lt, data, orig_len: data.len() as u32, interface: 0 }
}

/// Owned summary of a packet: addresses, protocol, ports, payload, tunnel.
type Summary = (IpAddr, IpAddr, u8, u16, u16, Vec<u8>, Option<Tunnel>);

/// Decodes and returns an owned summary for assertions.
fn dec(lt: u32, data: &[u8]) -> Result<Option<Summary>, DecodeError> {
    let mut d = Decoder::new();
    let f = frame(lt, data);
    Ok(d.decode(&f)?.map(|p| (p.src, p.dst, p.proto, p.sport, p.dport, p.payload.to_vec(), p.tunnel)))
}

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}
fn v6(a: [u8; 16]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(a))
}

#[test]
fn ethernet_ipv4_tcp() {
    let pkt = eth(0x0800, &ipv4(A4, B4, 6, &tcp(1234, 80, TcpHdr::SYN | TcpHdr::ACK, b"GET /")));
    let mut d = Decoder::new();
    let f = frame(linktype::ETHERNET, &pkt);
    let p = d.decode(&f).unwrap().unwrap();
    assert_eq!((p.src, p.dst, p.proto, p.sport, p.dport), (v4(A4), v4(B4), 6, 1234, 80));
    assert_eq!(p.l2_src, Some(MAC_A));
    assert_eq!(p.l2_dst, Some(MAC_B));
    assert_eq!(p.ip_len, 20 + 24 + 5);
    assert_eq!(p.ttl, 64);
    assert_eq!(p.payload, b"GET /");
    assert_eq!(p.payload_len, 5);
    let t = p.tcp.unwrap();
    assert_eq!((t.flags, t.seq, t.ack, t.window, t.header_len), (0x12, 1000, 2000, 512, 24));
    assert_eq!(p.tunnel, None);
    let owned = OwnedPacket::from(&p);
    assert_eq!(owned.as_packet(), p);
    assert_eq!(d.stats().packets, 1);
}

#[test]
fn ethernet_padding_is_not_payload() {
    let mut pkt = eth(0x0800, &ipv4(A4, B4, 17, &udp(53, 5353, b"x")));
    pkt.extend([0u8; 12]);
    let (_, _, proto, sp, dp, payload, _) = dec(linktype::ETHERNET, &pkt).unwrap().unwrap();
    assert_eq!((proto, sp, dp, payload), (17, 53, 5353, b"x".to_vec()));
}

#[test]
fn ipv6_with_extension_headers() {
    // Hop-by-hop (8 bytes) → destination options (16 bytes) → UDP.
    let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0];
    ext.extend([17, 1, 1, 12]);
    ext.extend([0u8; 12]);
    ext.extend(udp(5000, 53, b"query"));
    let pkt = eth(0x86dd, &ipv6(a6(), b6(), 0, &ext));
    let mut d = Decoder::new();
    let f = frame(linktype::ETHERNET, &pkt);
    let p = d.decode(&f).unwrap().unwrap();
    assert_eq!((p.src, p.dst, p.proto, p.sport, p.dport), (v6(a6()), v6(b6()), 17, 5000, 53));
    assert_eq!(p.ip_len as usize, pkt.len() - 14);
    assert_eq!(p.payload_len, 5);
    assert_eq!(p.ttl, 33);
}

#[test]
fn icmp_type_and_code_become_ports() {
    let pkt = ipv4(A4, B4, 1, &[8, 0, 0, 0, 0, 1, 0, 1, b'p', b'i']);
    let (_, _, proto, sp, dp, payload, _) = dec(linktype::RAW, &pkt).unwrap().unwrap();
    assert_eq!((proto, sp, dp, payload), (1, 8, 0, b"pi".to_vec()));
    let pkt6 = ipv6(a6(), b6(), 58, &[128, 0, 0, 0, 0, 1, 0, 1]);
    let r = dec(linktype::IPV6, &pkt6).unwrap().unwrap();
    assert_eq!((r.2, r.3, r.4), (58, 128, 0));
}

#[test]
fn sctp_ports() {
    let mut sctp = vec![0x0b, 0xb8, 0x0b, 0xb9];
    sctp.extend([0u8; 8]);
    let r = dec(linktype::RAW, &ipv4(A4, B4, 132, &sctp)).unwrap().unwrap();
    assert_eq!((r.2, r.3, r.4), (132, 3000, 3001));
}

#[test]
fn vlan_qinq_any_depth() {
    let inner = ipv4(A4, B4, 17, &udp(1, 2, b""));
    let mut l = vec![];
    l.extend([0x20, 0x64]); // PCP 1, VLAN 100
    l.extend(0x8100u16.to_be_bytes());
    l.extend([0x00, 0xc8]); // VLAN 200
    l.extend(0x8100u16.to_be_bytes());
    l.extend([0x01, 0x2c]); // VLAN 300
    l.extend(0x0800u16.to_be_bytes());
    l.extend(&inner);
    let pkt = eth(0x88a8, &l);
    let mut d = Decoder::new();
    let f = frame(linktype::ETHERNET, &pkt);
    let p = d.decode(&f).unwrap().unwrap();
    assert_eq!((p.vlan, p.inner_vlan), (Some(100), Some(200)));
    assert_eq!((p.sport, p.dport), (1, 2));
}

#[test]
fn llc_snap_and_non_ip() {
    let inner = ipv4(A4, B4, 17, &udp(1, 2, b""));
    let mut l = vec![0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00];
    l.extend(&inner);
    let pkt = eth((l.len()) as u16, &l);
    assert!(dec(linktype::ETHERNET, &pkt).unwrap().is_some());
    // STP over LLC and ARP are not IP.
    let stp = eth(38, &[0x42, 0x42, 0x03, 0, 0, 0]);
    assert_eq!(dec(linktype::ETHERNET, &stp).unwrap(), None);
    let arp = eth(0x0806, &[0u8; 28]);
    let mut d = Decoder::new();
    let f = frame(linktype::ETHERNET, &arp);
    assert!(d.decode(&f).unwrap().is_none());
    assert_eq!(d.stats().non_ip, 1);
}

#[test]
fn mpls_stack_and_pseudowire() {
    let inner = ipv4(A4, B4, 6, &tcp(1, 2, 0x10, b""));
    // Two labels, then IPv4 guessed by nibble.
    let mut l = vec![0, 0x01, 0x00, 0x40, 0, 0x02, 0x01, 0x40];
    l.extend(&inner);
    let r = dec(linktype::ETHERNET, &eth(0x8847, &l)).unwrap().unwrap();
    assert_eq!((r.0, r.2), (v4(A4), 6));
    // One label, control word, Ethernet with a VLAN tag, IPv6.
    let mut pw = vec![0, 0x01, 0x01, 0x40, 0, 0, 0, 0];
    let mut tagged = vec![0x00, 0x0a];
    tagged.extend(0x86ddu16.to_be_bytes());
    tagged.extend(ipv6(a6(), b6(), 17, &udp(7, 8, b"z")));
    pw.extend(eth(0x8100, &tagged));
    let r = dec(linktype::ETHERNET, &eth(0x8847, &pw)).unwrap().unwrap();
    assert_eq!((r.0, r.3, r.4), (v6(a6()), 7, 8));
}

#[test]
fn pppoe_session() {
    let inner = ipv4(A4, B4, 17, &udp(1, 2, b"a"));
    let mut l = vec![0x11, 0x00, 0x12, 0x34];
    l.extend(((inner.len() + 2) as u16).to_be_bytes());
    l.extend(0x0021u16.to_be_bytes());
    l.extend(&inner);
    let r = dec(linktype::ETHERNET, &eth(0x8864, &l)).unwrap().unwrap();
    assert_eq!((r.3, r.4), (1, 2));
}

#[test]
fn sll_sll2_null_loop_nflog_ppp_chdlc() {
    let inner = ipv4(A4, B4, 17, &udp(1, 2, b"a"));
    let mut sll = vec![0, 0, 0, 1, 0, 6];
    sll.extend(MAC_A);
    sll.extend([0, 0]);
    sll.extend(0x0800u16.to_be_bytes());
    sll.extend(&inner);
    let mut d = Decoder::new();
    let f = frame(linktype::LINUX_SLL, &sll);
    assert_eq!(d.decode(&f).unwrap().unwrap().l2_src, Some(MAC_A));

    let mut sll2 = 0x0800u16.to_be_bytes().to_vec();
    sll2.extend([0, 0, 0, 0, 0, 2, 0, 1, 0, 6]);
    sll2.extend(MAC_A);
    sll2.extend([0, 0]);
    sll2.extend(&inner);
    assert!(dec(linktype::LINUX_SLL2, &sll2).unwrap().is_some());

    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend(&inner);
    assert!(dec(linktype::NULL, &null).unwrap().is_some());
    let mut lp = 30u32.to_be_bytes().to_vec();
    lp.extend(ipv6(a6(), b6(), 17, &udp(1, 2, b"")));
    assert_eq!(dec(linktype::LOOP, &lp).unwrap().unwrap().0, v6(a6()));

    let mut nflog = vec![2, 0, 0, 0];
    nflog.extend(8u16.to_le_bytes());
    nflog.extend(1u16.to_le_bytes());
    nflog.extend([0, 0x08, 0, 0]);
    nflog.extend(((inner.len() + 4) as u16).to_le_bytes());
    nflog.extend(9u16.to_le_bytes());
    nflog.extend(&inner);
    assert_eq!(dec(linktype::NFLOG, &nflog).unwrap().unwrap().1, v4(B4));

    let mut ppp = vec![0xff, 0x03, 0x00, 0x21];
    ppp.extend(&inner);
    assert!(dec(linktype::PPP, &ppp).unwrap().is_some());
    let mut chdlc = vec![0x0f, 0x00, 0x08, 0x00];
    chdlc.extend(&inner);
    assert!(dec(linktype::C_HDLC, &chdlc).unwrap().is_some());
    for lt in [12, 14, 228] {
        assert!(dec(lt, &inner).unwrap().is_some());
    }
}

#[test]
fn unsupported_linktype_and_garbage_are_errors() {
    assert_eq!(dec(147, b"xx"), Err(DecodeError::UnsupportedLinktype(147)));
    assert!(matches!(dec(linktype::ETHERNET, &[0u8; 5]), Err(DecodeError::Truncated(_))));
    assert!(matches!(dec(linktype::RAW, &[0x45, 0, 0]), Err(DecodeError::Truncated(_))));
    assert!(matches!(dec(linktype::RAW, &[0x75; 40]), Err(DecodeError::BadHeader(_))));
    // IHL below 5.
    let mut bad = ipv4(A4, B4, 6, &tcp(1, 2, 2, b""));
    bad[0] = 0x44;
    assert!(matches!(dec(linktype::RAW, &bad), Err(DecodeError::BadHeader(_))));
    // TCP header cut short.
    let cut = ipv4(A4, B4, 6, &[0u8; 10]);
    assert!(matches!(dec(linktype::RAW, &cut), Err(DecodeError::Truncated("tcp"))));
    let mut d = Decoder::new();
    for f in [frame(1, &[0u8; 3]), frame(300, b"")] {
        assert!(d.decode(&f).is_err());
    }
    assert_eq!((d.stats().truncated, d.stats().unsupported_linktype, d.stats().frames), (1, 1, 2));
}

#[test]
fn snaplen_cut_payload_keeps_header_length() {
    let full = eth(0x0800, &ipv4(A4, B4, 6, &tcp(1, 2, 0x18, &[7u8; 100])));
    let cut = &full[..14 + 20 + 24 + 10];
    let mut d = Decoder::new();
    let f = frame(linktype::ETHERNET, cut);
    let p = d.decode(&f).unwrap().unwrap();
    assert_eq!(p.payload.len(), 10);
    assert_eq!(p.payload_len, 100);
    assert_eq!(p.ip_len, 144);
}

#[test]
fn ip_in_ip_6in4_4in6() {
    let inner4 = ipv4(B4, A4, 17, &udp(9, 10, b"in"));
    let outer = ipv4(A4, B4, 4, &inner4);
    let r = dec(linktype::RAW, &outer).unwrap().unwrap();
    assert_eq!((r.0, r.3), (v4(B4), 9));
    let mut d = Decoder::new();
    let f = frame(linktype::RAW, &outer);
    let full = d.decode_full(&f).unwrap().unwrap();
    assert_eq!((full.tunnel_ip_len, full.tunnel_depth), (Some(outer.len() as u32), 1));
    assert_eq!(full.packet.ip_len as usize, inner4.len());
    let t = r.6.unwrap();
    assert_eq!((t.kind, t.src, t.dst, t.proto), (TunnelKind::IpInIp, v4(A4), v4(B4), 4));

    let inner6 = ipv6(a6(), b6(), 6, &tcp(80, 81, 2, b""));
    let r = dec(linktype::RAW, &ipv4(A4, B4, 41, &inner6)).unwrap().unwrap();
    assert_eq!((r.0, r.6.unwrap().kind), (v6(a6()), TunnelKind::Ip6In4));

    let r = dec(linktype::RAW, &ipv6(a6(), b6(), 4, &inner4)).unwrap().unwrap();
    assert_eq!((r.0, r.6.unwrap().kind), (v4(B4), TunnelKind::Ip4In6));
}

#[test]
fn gre_variants() {
    let inner = ipv4(B4, A4, 17, &udp(9, 10, b"gre"));
    // Plain GRE with key and sequence number.
    let mut g = vec![0x30, 0x00, 0x08, 0x00, 0, 0, 0, 1, 0, 0, 0, 2];
    g.extend(&inner);
    let r = dec(linktype::RAW, &ipv4(A4, B4, 47, &g)).unwrap().unwrap();
    assert_eq!((r.0, r.5.as_slice(), r.6.unwrap().kind), (v4(B4), &b"gre"[..], TunnelKind::Gre));
    // Checksum present, transparent Ethernet bridging.
    let mut g = vec![0x80, 0x00, 0x65, 0x58, 0, 0, 0, 0];
    g.extend(eth(0x0800, &inner));
    assert_eq!(dec(linktype::RAW, &ipv4(A4, B4, 47, &g)).unwrap().unwrap().3, 9);
    // ERSPAN type II (sequence bit set, 8-byte ERSPAN header).
    let mut g = vec![0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 5];
    g.extend([0x10, 0, 0, 1, 0, 0, 0, 0]);
    g.extend(eth(0x0800, &inner));
    assert_eq!(dec(linktype::RAW, &ipv4(A4, B4, 47, &g)).unwrap().unwrap().3, 9);
    // ERSPAN type III with the platform subheader.
    let mut g = vec![0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 5];
    g.extend([0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    g.extend([0u8; 8]);
    g.extend(eth(0x0800, &inner));
    assert_eq!(dec(linktype::RAW, &ipv4(A4, B4, 47, &g)).unwrap().unwrap().3, 9);
    // PPTP enhanced GRE carrying PPP with address/control, with sequence and ack numbers.
    let mut g = vec![0x30, 0x81, 0x88, 0x0b, 0, 20, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0x03, 0x00, 0x21];
    g.extend(&inner);
    assert_eq!(dec(linktype::RAW, &ipv4(A4, B4, 47, &g)).unwrap().unwrap().3, 9);
    // PPTP with protocol-field compression and no address/control.
    let mut g = vec![0x20, 0x01, 0x88, 0x0b, 0, 20, 0, 1, 0x21];
    g.extend(&inner);
    assert_eq!(dec(linktype::RAW, &ipv4(A4, B4, 47, &g)).unwrap().unwrap().3, 9);
    // GRE carrying something unknown: the outer packet is the innermost IP packet.
    let g = vec![0x00, 0x00, 0x88, 0x09, 1, 2, 3];
    let r = dec(linktype::RAW, &ipv4(A4, B4, 47, &g)).unwrap().unwrap();
    assert_eq!((r.0, r.2, r.6), (v4(A4), 47, None));
}

#[test]
fn udp_tunnels() {
    let inner = ipv4(B4, A4, 6, &tcp(443, 5555, 0x10, b"tls"));
    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 0x64, 0];
    vx.extend(eth(0x0800, &inner));
    let r = dec(linktype::RAW, &ipv4(A4, B4, 17, &udp(40000, 4789, &vx))).unwrap().unwrap();
    let t = r.6.unwrap();
    assert_eq!((r.3, t.kind, t.sport, t.dport, t.proto), (443, TunnelKind::Vxlan, 40000, 4789, 17));

    let mut gn = vec![0x01, 0, 0x65, 0x58, 0, 0, 0x64, 0, 0, 0, 0, 0];
    gn.extend(eth(0x0800, &inner));
    let r = dec(linktype::RAW, &ipv4(A4, B4, 17, &udp(40000, 6081, &gn))).unwrap().unwrap();
    assert_eq!((r.3, r.6.unwrap().kind), (443, TunnelKind::Geneve));

    let mut gtp = vec![0x32, 0xff];
    gtp.extend(((inner.len() + 4) as u16).to_be_bytes());
    gtp.extend([0, 0, 0, 1, 0, 1, 0, 0]);
    gtp.extend(&inner);
    let r = dec(linktype::RAW, &ipv4(A4, B4, 17, &udp(2152, 2152, &gtp))).unwrap().unwrap();
    assert_eq!((r.3, r.6.unwrap().kind), (443, TunnelKind::Gtp));

    let inner6 = ipv6(a6(), b6(), 17, &udp(1, 2, b"teredo"));
    let mut ter = vec![0, 0, 0x0d, 0x84, 1, 2, 3, 4]; // origin indication
    ter.extend(&inner6);
    let r = dec(linktype::RAW, &ipv4(A4, B4, 17, &udp(3544, 50000, &ter))).unwrap().unwrap();
    assert_eq!((r.0, r.6.unwrap().kind), (v6(a6()), TunnelKind::Teredo));

    // Plain UDP on a tunnel port that is not a tunnel stays the outer packet.
    let r = dec(linktype::RAW, &ipv4(A4, B4, 17, &udp(50000, 3544, b"hello world"))).unwrap().unwrap();
    assert_eq!((r.0, r.4, r.6), (v4(A4), 3544, None));
    // VXLAN carrying ARP: the outer UDP packet is reported.
    let mut vx_arp = vec![0x08, 0, 0, 0, 0, 0, 0x64, 0];
    vx_arp.extend(eth(0x0806, &[0u8; 28]));
    let r = dec(linktype::RAW, &ipv4(A4, B4, 17, &udp(40000, 4789, &vx_arp))).unwrap().unwrap();
    assert_eq!((r.2, r.4, r.6), (17, 4789, None));
}

#[test]
fn tunnel_depth_is_bounded() {
    let mut p = ipv4(B4, A4, 17, &udp(1, 2, b"deep"));
    for _ in 0..50 {
        p = ipv4(A4, B4, 4, &p);
    }
    let mut d = Decoder::new();
    let f = frame(linktype::RAW, &p);
    let pk = d.decode(&f).unwrap().unwrap();
    assert_eq!(pk.proto, 4);
    assert_eq!(d.stats().tunnel_too_deep, 1);
}

fn frags_v4(payload: &[u8], chunk: usize, id: u16) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < payload.len() {
        let end = (off + chunk).min(payload.len());
        let mf = if end < payload.len() { 0x2000 } else { 0 };
        out.push(ipv4_frag(A4, B4, 17, id, mf | (off / 8) as u16, &payload[off..end]));
        off = end;
    }
    out
}

#[test]
fn ipv4_reassembly_in_any_order() {
    let body: Vec<u8> = (0..200u8).collect();
    let dgram = udp(5000, 6000, &body);
    let mut frs = frags_v4(&dgram, 64, 42);
    frs.reverse();
    let mut d = Decoder::new();
    let n = frs.len();
    for (i, fr) in frs.iter().enumerate() {
        let f = frame(linktype::RAW, fr);
        let r = d.decode(&f).unwrap();
        if i + 1 < n {
            assert!(r.is_none());
        } else {
            let p = r.unwrap();
            assert_eq!((p.sport, p.dport, p.proto), (5000, 6000, 17));
            assert_eq!(p.payload, &body[..]);
            assert_eq!(p.ip_len as usize, 20 + dgram.len());
        }
    }
    let s = d.stats();
    assert_eq!((s.fragments, s.reassembled, s.fragments_pending), (n as u64, 1, n as u64 - 1));
    assert_eq!(d.fragments_in_flight(), 0);
    assert_eq!(d.fragment_bytes(), 0);
}

#[test]
fn ipv4_overlap_keeps_first_bytes() {
    let dgram = udp(1, 2, &[b'a'; 24]);
    let first = ipv4_frag(A4, B4, 17, 9, 0x2000, &dgram[..16]);
    // Overlapping second fragment rewrites bytes 8..16 with 'X' and adds 16..32.
    let mut second_data = vec![b'X'; 8];
    second_data.extend(&dgram[16..]);
    let second = ipv4_frag(A4, B4, 17, 9, 1, &second_data);
    let mut d = Decoder::new();
    assert!(d.decode(&frame(linktype::RAW, &first)).unwrap().is_none());
    let f2 = frame(linktype::RAW, &second);
    let p = d.decode(&f2).unwrap().unwrap();
    assert_eq!(p.payload, &[b'a'; 24][..]);
    assert_eq!(d.stats().frag_overlaps, 1);
}

#[test]
fn ipv6_reassembly_keeps_unfragmentable_headers() {
    let dgram = udp(7000, 53, &[5u8; 100]);
    let mk = |off: u16, more: bool, data: &[u8]| {
        // Hop-by-hop, then the fragment header.
        let mut p = vec![44, 0, 1, 4, 0, 0, 0, 0];
        p.extend([17, 0]);
        p.extend((off | more as u16).to_be_bytes());
        p.extend(0xdead_beefu32.to_be_bytes());
        p.extend_from_slice(data);
        ipv6(a6(), b6(), 0, &p)
    };
    let f1 = mk(0, true, &dgram[..56]);
    let f2 = mk(56, false, &dgram[56..]);
    let mut d = Decoder::new();
    assert!(d.decode(&frame(linktype::IPV6, &f1)).unwrap().is_none());
    let fr2 = frame(linktype::IPV6, &f2);
    let p = d.decode(&fr2).unwrap().unwrap();
    assert_eq!((p.proto, p.sport, p.dport, p.payload_len), (17, 7000, 53, 100));
    assert_eq!(p.ip_len as usize, 40 + 8 + dgram.len());
}

#[test]
fn ipv6_atomic_fragment_is_whole() {
    let mut p = vec![6, 0, 0, 0, 0, 0, 0, 1];
    p.extend(tcp(80, 1025, 0x10, b"hi"));
    let r = dec(linktype::IPV6, &ipv6(a6(), b6(), 44, &p)).unwrap().unwrap();
    assert_eq!((r.2, r.3, r.5.as_slice()), (6, 80, &b"hi"[..]));
}

#[test]
fn fragmented_tunnel_payload_is_reassembled_then_decapsulated() {
    let inner = ipv4(B4, A4, 6, &tcp(22, 2222, 0x18, &[1u8; 64]));
    let frs = [ipv4_frag(A4, B4, 4, 77, 0x2000, &inner[..48]), ipv4_frag(A4, B4, 4, 77, 6, &inner[48..])];
    let mut d = Decoder::new();
    assert!(d.decode(&frame(linktype::RAW, &frs[0])).unwrap().is_none());
    let f = frame(linktype::RAW, &frs[1]);
    let p = d.decode(&f).unwrap().unwrap();
    assert_eq!((p.src, p.sport, p.payload.len()), (v4(B4), 22, 64));
    assert_eq!(p.tunnel.unwrap().kind, TunnelKind::IpInIp);
}

#[test]
fn fragment_flood_stays_bounded() {
    let cfg =
        DecoderConfig { frag: FragConfig { max_datagrams: 64, max_bytes: 64 * 1024, ..FragConfig::default() }, ..DecoderConfig::default() };
    let mut d = Decoder::with_config(cfg);
    // 10,000 first fragments that never complete, plus far-offset fragments that try to make the
    // table allocate 64 KiB each.
    for i in 0..10_000u32 {
        let off = if i % 2 == 0 { 0x2000 } else { 0x2000 | 8000 };
        let p = ipv4_frag(A4, [10, 1, (i >> 8) as u8, i as u8], 17, i as u16, off, &[0u8; 16]);
        let f = RawFrame { ts: Timestamp(i as i64), linktype: linktype::RAW, data: &p, orig_len: 36, interface: 0 };
        assert!(d.decode(&f).unwrap().is_none());
        assert!(d.fragments_in_flight() <= 64);
        assert!(d.fragment_bytes() <= 64 * 1024);
    }
    assert!(d.stats().frag_evicted > 0);
}

#[test]
fn fragments_time_out_in_event_time() {
    let mut d = Decoder::new();
    let p = ipv4_frag(A4, B4, 17, 1, 0x2000, &[0u8; 16]);
    let f = RawFrame { ts: Timestamp(0), linktype: linktype::RAW, data: &p, orig_len: 36, interface: 0 };
    assert!(d.decode(&f).unwrap().is_none());
    let q = ipv4_frag(A4, B4, 17, 2, 0x2000, &[0u8; 16]);
    let g = RawFrame { ts: Timestamp::from_secs(120), linktype: linktype::RAW, data: &q, orig_len: 36, interface: 0 };
    assert!(d.decode(&g).unwrap().is_none());
    assert_eq!(d.stats().frag_timeouts, 1);
    assert_eq!(d.fragments_in_flight(), 1);
}

#[test]
fn inconsistent_fragments_are_dropped() {
    let mut d = Decoder::new();
    // Two different "last" fragments for the same datagram.
    let a = ipv4_frag(A4, B4, 17, 5, 2, &[0u8; 16]);
    let b = ipv4_frag(A4, B4, 17, 5, 4, &[0u8; 16]);
    // Fragment past the 64 KiB limit.
    let c = ipv4_frag(A4, B4, 17, 6, 0x1fff, &[0u8; 16]);
    for p in [&a, &b, &c] {
        assert!(d.decode(&frame(linktype::RAW, p)).unwrap().is_none());
    }
    assert_eq!(d.stats().frag_dropped, 2);
    assert_eq!(d.fragments_in_flight(), 0);
}

/// A small deterministic PRNG (xorshift64*) so the mutation test is reproducible.
pub(crate) struct Rng(pub u64);
impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One frame per encapsulation, for mutation.
fn sample_frames() -> Vec<(u32, Vec<u8>)> {
    let inner = ipv4(B4, A4, 6, &tcp(443, 5555, 0x18, b"payload"));
    let inner6 = ipv6(a6(), b6(), 17, &udp(1, 2, b"six"));
    let mut v = vec![
        (linktype::ETHERNET, eth(0x0800, &inner)),
        (linktype::ETHERNET, eth(0x86dd, &inner6)),
        (linktype::RAW, ipv4(A4, B4, 4, &inner)),
        (linktype::RAW, ipv4(A4, B4, 41, &inner6)),
    ];
    let mut g = vec![0x30, 0x81, 0x88, 0x0b, 0, 20, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0x03, 0x00, 0x21];
    g.extend(&inner);
    v.push((linktype::RAW, ipv4(A4, B4, 47, &g)));
    let mut e3 = vec![0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 5, 0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    e3.extend([0u8; 8]);
    e3.extend(eth(0x0800, &inner));
    v.push((linktype::RAW, ipv4(A4, B4, 47, &e3)));
    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 0x64, 0];
    vx.extend(eth(0x8100, &[&[0u8, 5, 0x08, 0x00][..], &inner].concat()));
    v.push((linktype::ETHERNET, eth(0x0800, &ipv4(A4, B4, 17, &udp(1, 4789, &vx)))));
    let mut gtp = vec![0x34, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0, 0, 0];
    gtp.extend(&inner);
    v.push((linktype::RAW, ipv4(A4, B4, 17, &udp(2152, 2152, &gtp))));
    let mut ter = vec![0, 1, 2, 2, 9, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    ter.extend(&inner6);
    v.push((linktype::RAW, ipv4(A4, B4, 17, &udp(3544, 9, &ter))));
    let mut gn = vec![0x02, 0, 0x65, 0x58, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    gn.extend(eth(0x0800, &inner));
    v.push((linktype::RAW, ipv6(a6(), b6(), 17, &udp(1, 6081, &gn))));
    let mut mp = vec![0, 0x01, 0x01, 0x40, 0, 0, 0, 0];
    mp.extend(eth(0x8864, &[&[0x11u8, 0, 0, 1, 0, 20, 0x00, 0x57][..], &inner6].concat()));
    v.push((linktype::ETHERNET, eth(0x8847, &mp)));
    let mut ext = vec![43, 0, 1, 4, 0, 0, 0, 0, 51, 0, 0, 0, 0, 0, 0, 0, 44, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    ext.extend([6, 0, 0, 1, 0, 0, 0, 9]);
    ext.extend(tcp(1, 2, 2, b"x"));
    v.push((linktype::IPV6, ipv6(a6(), b6(), 0, &ext)));
    for (i, f) in frags_v4(&udp(7, 8, &[3u8; 300]), 96, 99).into_iter().enumerate() {
        v.push((if i % 2 == 0 { linktype::RAW } else { linktype::IPV4 }, f));
    }
    let mut nflog = vec![2, 0, 0, 0];
    nflog.extend(((inner.len() + 4) as u16).to_le_bytes());
    nflog.extend(9u16.to_le_bytes());
    nflog.extend(&inner);
    v.push((linktype::NFLOG, nflog));
    let mut sll2 = 0x86ddu16.to_be_bytes().to_vec();
    sll2.extend([0u8; 18]);
    sll2.extend(&inner6);
    v.push((linktype::LINUX_SLL2, sll2));
    v
}

#[test]
fn mutated_frames_never_panic() {
    let samples = sample_frames();
    let lts = [0, 1, 9, 12, 50, 101, 104, 105, 108, 113, 127, 192, 228, 229, 239, 258, 276];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut d = Decoder::with_config(DecoderConfig {
        frag: FragConfig { max_datagrams: 8, max_bytes: 4096, ..FragConfig::default() },
        ..DecoderConfig::default()
    });
    let mut decoded = 0u64;
    let mut cut_missed = 0u64;
    for round in 0..40_000u64 {
        let (lt, base) = &samples[rng.below(samples.len())];
        let mut data = base.clone();
        for _ in 0..1 + rng.below(6) {
            match rng.below(4) {
                0 | 1 => {
                    let i = rng.below(data.len());
                    if let Some(b) = data.get_mut(i) {
                        *b = rng.next() as u8;
                    }
                }
                2 => data.truncate(rng.below(data.len() + 1)),
                _ => {
                    let i = rng.below(data.len());
                    if let Some(b) = data.get_mut(i) {
                        *b = [0, 0xff, 0x40, 0x60, 0x08, 0x2c, 0x2f][rng.below(7)];
                    }
                }
            }
        }
        let lt = if rng.below(8) == 0 { lts[rng.below(lts.len())] } else { *lt };
        let f = RawFrame { ts: Timestamp(round as i64 * 1000), linktype: lt, data: &data, orig_len: 0, interface: 0 };
        // The stateless reader never reads past the cut, and reads every header the decoder
        // reads (it asks less of the bytes).
        let cut = decode_cut(&data, CutStart::Link(lt), 4);
        if let Ok(Some(h)) = cut {
            assert!(h.ip_off < data.len());
        }
        let _ = decode_cut(&data, CutStart::Mpls, 4);
        if let Ok(Some(p)) = d.decode(&f) {
            decoded += 1;
            assert!(p.payload.len() <= 65_535);
            if p.tunnel.is_none() && !matches!(cut, Ok(Some(_))) {
                cut_missed += 1;
            }
        }
        assert!(d.fragments_in_flight() <= 8 && d.fragment_bytes() <= 4096);
    }
    let s = d.stats();
    assert_eq!(s.frames, 40_000);
    assert_eq!(s.frames, s.packets + s.non_ip + s.fragments_pending + s.truncated + s.bad_header + s.unsupported_linktype);
    // Mutations leave many frames intact enough to decode: the test exercises deep paths.
    assert!(decoded > 10_000, "{s:?}");
    assert_eq!(cut_missed, 0);
}

#[test]
fn ipv6_empty_payload_ignores_ethernet_padding() {
    // A Teredo-style bubble (next header 59, payload length 0) padded to the Ethernet minimum.
    let mut p = ipv6(a6(), b6(), 59, &[]);
    p.extend([0u8; 6]);
    let pkt = eth(0x86dd, &p);
    let mut d = Decoder::new();
    let f = frame(linktype::ETHERNET, &pkt);
    let out = d.decode(&f).unwrap().unwrap();
    assert_eq!((out.proto, out.ip_len, out.payload_len, out.payload.len()), (59, 40, 0, 0));
}

#[test]
fn wifi_radiotap_ppi_pktap() {
    let inner = ipv4(A4, B4, 17, &udp(1, 2, b"air"));
    let mut snap = vec![0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00];
    snap.extend(&inner);
    // QoS data frame, from the distribution system (to a station).
    let mut wlan = vec![0x88, 0x02, 0, 0];
    wlan.extend(MAC_B); // addr1: receiver = destination
    wlan.extend([2, 0, 0, 0, 0, 0x99]); // addr2: the access point
    wlan.extend(MAC_A); // addr3: source
    wlan.extend([0, 0, 0, 0]); // sequence, QoS
    wlan.extend(&snap);
    let mut d = Decoder::new();
    let f = frame(linktype::IEEE802_11, &wlan);
    let p = d.decode(&f).unwrap().unwrap();
    assert_eq!((p.l2_src, p.l2_dst, p.sport, p.payload), (Some(MAC_A), Some(MAC_B), 1, &b"air"[..]));

    let mut rt = vec![0, 0, 8, 0, 0, 0, 0, 0];
    rt.extend(&wlan);
    assert!(dec(linktype::IEEE802_11_RADIOTAP, &rt).unwrap().is_some());
    let mut ppi = vec![0, 0, 8, 0, 105, 0, 0, 0];
    ppi.extend(&wlan);
    assert!(dec(linktype::PPI, &ppi).unwrap().is_some());
    let mut pktap = 12u32.to_le_bytes().to_vec();
    pktap.extend(1u32.to_le_bytes());
    pktap.extend([0u8; 4]);
    pktap.extend(eth(0x0800, &inner));
    assert!(dec(linktype::PKTAP, &pktap).unwrap().is_some());

    // Protected data and beacons are not IP.
    let mut protected = wlan.clone();
    protected[1] |= 0x40;
    assert_eq!(dec(linktype::IEEE802_11, &protected).unwrap(), None);
    let mut beacon = wlan.clone();
    beacon[0] = 0x80;
    assert_eq!(dec(linktype::IEEE802_11, &beacon).unwrap(), None);
}

#[test]
fn ipv4_authentication_header_is_skipped_esp_is_not() {
    // AH: next header TCP, length field 4 → (4 + 2) * 4 = 24 bytes.
    let mut ah = vec![6, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    ah.extend([0u8; 12]);
    ah.extend(tcp(22, 40000, 0x10, b"ssh"));
    let r = dec(linktype::RAW, &ipv4(A4, B4, 51, &ah)).unwrap().unwrap();
    assert_eq!((r.2, r.3, r.4, r.5.as_slice()), (6, 22, 40000, &b"ssh"[..]));
    let esp = [0u8, 0, 1, 0, 0, 0, 0, 7, 0xde, 0xad];
    let r = dec(linktype::RAW, &ipv4(A4, B4, 50, &esp)).unwrap().unwrap();
    assert_eq!((r.2, r.3, r.4, r.5.len()), (50, 0, 0, esp.len()));
}

/// `decode_cut` of `data` cut to its first `n` bytes, from an Ethernet start.
fn cut(data: &[u8], n: usize) -> Result<Option<CutHeader>, DecodeError> {
    decode_cut(&data[..n.min(data.len())], CutStart::Link(linktype::ETHERNET), 4)
}

#[test]
fn a_cut_header_gives_what_the_cut_left() {
    let f = eth(0x0800, &ipv4(A4, B4, 6, &tcp(40000, 443, 0x18, &[0u8; 1400])));
    // 14 Ethernet + 20 IPv4 + 14 TCP: ports and flags.
    let h = cut(&f, 48).unwrap().unwrap();
    assert_eq!((h.src, h.dst, h.proto, h.sport, h.dport, h.tcp_flags), (v4(A4), v4(B4), 6, 40000, 443, Some(0x18)));
    assert_eq!((h.ip_len, h.ip_off, h.l2_src, h.later_fragment), (20 + 24 + 1400, 14, Some(MAC_A), false));
    // Cut after the ports: ports, no flags. The capture decoder refuses this frame.
    let h = cut(&f, 38).unwrap().unwrap();
    assert_eq!((h.sport, h.dport, h.tcp_flags), (40000, 443, None));
    assert!(dec(linktype::ETHERNET, &f[..38]).is_err());
    // Cut before the ports: addresses only.
    let h = cut(&f, 35).unwrap().unwrap();
    assert_eq!((h.src, h.sport, h.dport), (v4(A4), 0, 0));
    // Cut inside the IP header: nothing to report.
    assert!(cut(&f, 30).is_err());
    // Not IP.
    assert_eq!(cut(&eth(0x0806, &[0u8; 28]), 64).unwrap(), None);
}

#[test]
fn a_cut_header_is_read_through_link_layers_and_tunnels() {
    let inner = ipv4(B4, A4, 17, &udp(5353, 53, &[0u8; 300]));
    // MPLS on Ethernet, and a bare label stack (sFlow's header protocol 13).
    let mut l = vec![0, 0x01, 0x00, 0x40, 0, 0x02, 0x01, 0x40];
    l.extend(&inner);
    let h = cut(&eth(0x8847, &l), 128).unwrap().unwrap();
    assert_eq!((h.src, h.sport, h.dport, h.ip_off), (v4(B4), 5353, 53, 22));
    let h = decode_cut(&l[..64], CutStart::Mpls, 4).unwrap().unwrap();
    assert_eq!((h.src, h.dst, h.proto, h.dport), (v4(B4), v4(A4), 17, 53));
    // PPPoE with a VLAN tag.
    let mut p = vec![0x11, 0x00, 0x12, 0x34];
    p.extend(((inner.len() + 2) as u16).to_be_bytes());
    p.extend(0x0021u16.to_be_bytes());
    p.extend(&inner);
    let mut tagged = vec![0x00, 0x2a];
    tagged.extend(0x8864u16.to_be_bytes());
    tagged.extend(&p);
    let h = cut(&eth(0x8100, &tagged), 80).unwrap().unwrap();
    assert_eq!((h.vlan, h.src, h.sport), (Some(42), v4(B4), 5353));
    // VXLAN: the inner flow, with the tunnel beside it.
    let inner_tcp = ipv4(B4, A4, 6, &tcp(443, 5555, 0x10, &[0u8; 1000]));
    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 0x64, 0];
    vx.extend(eth(0x0800, &inner_tcp));
    let outer = eth(0x0800, &ipv4([172, 16, 0, 1], [172, 16, 0, 2], 17, &udp(40000, 4789, &vx)));
    let h = cut(&outer, 128).unwrap().unwrap();
    let t = h.tunnel.unwrap();
    assert_eq!((h.src, h.sport, h.dport, h.tcp_flags, h.ip_len), (v4(B4), 443, 5555, Some(0x10), 20 + 24 + 1000));
    assert_eq!((t.kind, t.src, t.dport), (TunnelKind::Vxlan, v4([172, 16, 0, 1]), 4789));
    // Cut inside the inner IP header: the outer packet.
    let h = cut(&outer, 14 + 20 + 8 + 8 + 14 + 10).unwrap().unwrap();
    assert_eq!((h.src, h.dport, h.tunnel), (v4([172, 16, 0, 1]), 4789, None));
}

#[test]
fn a_cut_fragment_is_read_as_it_stands() {
    let payload = udp(1000, 2000, &[7u8; 3000]);
    let frags = frags_v4(&payload, 1480, 9);
    let first = cut(&eth(0x0800, &frags[0]), 64).unwrap().unwrap();
    assert_eq!((first.sport, first.dport, first.later_fragment), (1000, 2000, false));
    let later = cut(&eth(0x0800, &frags[1]), 64).unwrap().unwrap();
    assert_eq!((later.src, later.proto, later.sport, later.dport, later.later_fragment), (v4(A4), 17, 0, 0, true));
    // Segmentation offload: an IPv4 total length of 0 is reported as unknown.
    let mut tso = ipv4(A4, B4, 6, &tcp(1, 2, 0x10, &[0u8; 100]));
    tso[2] = 0;
    tso[3] = 0;
    assert_eq!(cut(&eth(0x0800, &tso), 64).unwrap().unwrap().ip_len, 0);
}
