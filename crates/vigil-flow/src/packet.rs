//! The packet facts the flow table needs, independent of where the packet came from (the
//! capture decoder, a live source, or a hand-built test sequence).

use std::net::IpAddr;
use vigil_model::Timestamp;

/// TCP header fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFields {
    /// Flag byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20).
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
}

/// The outer header of a tunnelled packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunnelInfo {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Outer transport protocol (17 for VXLAN/Geneve/GTP/Teredo; 47 for GRE; 4/41 for IP-in-IP).
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    /// Outer IP total length (header included), for the outer connection's `*_ip_bytes`.
    pub outer_ip_len: u32,
    /// Outer transport payload length (UDP payload for UDP tunnels).
    pub outer_payload_len: u32,
    /// Zeek's service name for the tunnel ("vxlan", "geneve", "gtpv1", "teredo", "ayiya"), if any.
    pub service: Option<&'static str>,
}

/// One decoded IP packet.
#[derive(Clone, Copy, Debug)]
pub struct FlowPacket<'a> {
    pub ts: Timestamp,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    /// Transport ports; for ICMP the type (`sport`) and code (`dport`).
    pub sport: u16,
    pub dport: u16,
    /// IP total length (header included), as Zeek's `*_ip_bytes` count it.
    pub ip_len: u32,
    pub tcp: Option<TcpFields>,
    /// Captured transport payload (may be truncated by the snap length).
    pub payload: &'a [u8],
    /// Transport payload length according to the headers.
    pub payload_len: u32,
    pub l2_src: Option<[u8; 6]>,
    pub l2_dst: Option<[u8; 6]>,
    pub vlan: Option<u16>,
    pub inner_vlan: Option<u16>,
    pub tunnel: Option<TunnelInfo>,
}

impl<'a> FlowPacket<'a> {
    /// A packet with everything but the addressing empty (tests and synthetic sources).
    pub fn new(ts: Timestamp, src: IpAddr, sport: u16, dst: IpAddr, dport: u16, proto: u8) -> Self {
        FlowPacket {
            ts,
            src,
            dst,
            proto,
            sport,
            dport,
            ip_len: 0,
            tcp: None,
            payload: &[],
            payload_len: 0,
            l2_src: None,
            l2_dst: None,
            vlan: None,
            inner_vlan: None,
            tunnel: None,
        }
    }
}
