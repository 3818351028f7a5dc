//! sFlow version 5 (sflow.org, "sFlow Version 5", 2004): what most switches export instead of
//! NetFlow. An sFlow agent does not report flows. It reports one packet in every N: the first
//! bytes of the sampled frame, its length and the sampling rate N. Here each sampled packet
//! becomes an estimate of N packets of its length, and the samples of one 5-tuple are summed
//! into a [`FlowRecord`] until the tuple has been idle for the idle time. The records then go
//! through the same [`super::Stitcher`] as NetFlow's, which pairs the two directions into one
//! `Conn`.
//!
//! The datagram carries no wall-clock time, only the agent's uptime, so the sample times are
//! the capture's (pcap) or the collector's receive time.
//!
//! Handled: flow samples and expanded flow samples (standard formats 1 and 3). Their flow
//! records are the sampled header (format 1: Ethernet, PPP, IPv4, IPv6, MPLS or 802.11 bytes,
//! read by the capture decoder's stateless [`vigil_capture::decode_cut`], so VLAN and QinQ
//! tags, MPLS, PPPoE and tunnels are walked as in a capture and a tunnelled packet counts for
//! its inner flow), or "sampled IPv4" and "sampled IPv6" (formats 3 and 4) when there is no
//! header. Counter samples, enterprise formats and the extended records (switch, router,
//! gateway, user, URL) are counted and stepped over. All input is untrusted: every length is
//! checked against what is left, the sample and record counts are bounded by the bytes that
//! would hold them, and the table of open flows is capped.

use super::FlowRecord;
use std::collections::HashMap;
use std::net::IpAddr;
use vigil_capture::{CutStart, decode_cut, linktype};
use vigil_model::Timestamp;

/// Whether `b` looks like an sFlow v5 datagram: version 5 as a 32-bit word (NetFlow v5 has it
/// in 16 bits, followed by a non-zero count), an IPv4 or IPv6 agent address, and a sample count
/// that the datagram can hold.
pub fn looks_like_sflow(b: &[u8]) -> bool {
    let mut r = Rd(b);
    let (Some(5), Some(kind)) = (r.u32(), r.u32()) else { return false };
    let addr = match kind {
        1 => 4,
        2 => 16,
        _ => return false,
    };
    if r.take(addr + 12).is_none() {
        return false;
    }
    // Each sample is at least its 8-byte header.
    r.u32().is_some_and(|n| (n as usize).saturating_mul(8) <= r.0.len())
}

/// Counts of what the decoder saw and why it skipped what it did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SflowStats {
    pub datagrams: u64,
    /// Flow samples (standard and expanded).
    pub flow_samples: u64,
    pub counter_samples: u64,
    /// Samples of another format or enterprise, stepped over.
    pub other_samples: u64,
    /// Flow samples that gave no addresses (a non-IP frame: ARP, LLDP, or an unknown header
    /// protocol).
    pub samples_without_ip: u64,
    /// Datagrams or samples cut short or with lengths past their end.
    pub malformed: u64,
    /// Flow records handed out.
    pub records: u64,
    /// Open flows handed out early because the table was full.
    pub flushed_at_cap: u64,
}

/// Decodes sFlow v5 datagrams and sums their samples into flow records.
#[derive(Debug)]
pub struct SflowDecoder {
    open: HashMap<Key, FlowRecord>,
    idle_ns: i64,
    max_open: usize,
    /// Latest sample time seen, and when the open flows were last swept.
    now: Timestamp,
    swept: Timestamp,
    pub stats: SflowStats,
}

/// A flow: addresses, ports, protocol.
type Key = (IpAddr, IpAddr, u16, u16, u8);

/// What one sampled packet said: its flow (addresses, ports, protocol, TCP flags, MACs,
/// VLANs; no times or counts yet) and its bytes at the IP layer (what `Conn`'s `*_ip_bytes`
/// count).
type Sampled = (FlowRecord, u64);

fn key(f: &FlowRecord) -> Key {
    (f.src, f.dst, f.sport, f.dport, f.proto)
}

impl SflowDecoder {
    /// Samples of one flow at most `idle_secs` apart are summed into one record; at most
    /// `max_open` flows are open at once (beyond, the oldest are handed out early).
    pub fn new(idle_secs: f64, max_open: usize) -> Self {
        let idle_ns = if idle_secs.is_finite() && idle_secs > 0.0 { (idle_secs * 1e9) as i64 } else { 0 };
        SflowDecoder {
            open: HashMap::new(),
            idle_ns,
            max_open: max_open.max(1),
            now: Timestamp::default(),
            swept: Timestamp::default(),
            stats: SflowStats::default(),
        }
    }

    /// Decodes one datagram received (or captured) at `ts`; flows that went idle are appended
    /// to `out`.
    pub fn decode(&mut self, ts: Timestamp, data: &[u8], out: &mut Vec<FlowRecord>) {
        self.stats.datagrams += 1;
        if self.decode_datagram(ts, data, out).is_none() {
            self.stats.malformed += 1;
        }
        self.tick(ts, out);
    }

    /// Advances the clock to `now` without a datagram (a live collector with a quiet socket)
    /// and hands out the flows idle since.
    pub fn tick(&mut self, now: Timestamp, out: &mut Vec<FlowRecord>) {
        if now > self.now {
            self.now = now;
        }
        if self.now.0.saturating_sub(self.swept.0) > self.idle_ns {
            self.sweep(self.now.0.saturating_sub(self.idle_ns), out);
            self.swept = self.now;
        }
    }

    /// Hands out every open flow.
    pub fn finish(&mut self, out: &mut Vec<FlowRecord>) {
        self.sweep(i64::MAX, out);
    }

    /// Hands out the open flows whose last sample is before `before`, oldest first.
    fn sweep(&mut self, before: i64, out: &mut Vec<FlowRecord>) {
        let mut done: Vec<FlowRecord> = self.open.extract_if(|_, f| f.end.0 < before).map(|(_, f)| f).collect();
        done.sort_by_key(|f| (f.start, f.src, f.dst, f.sport, f.dport, f.proto));
        self.stats.records += done.len() as u64;
        out.append(&mut done);
    }

    fn decode_datagram(&mut self, ts: Timestamp, data: &[u8], out: &mut Vec<FlowRecord>) -> Option<()> {
        let mut r = Rd(data);
        if r.u32()? != 5 {
            return None;
        }
        let addr = match r.u32()? {
            1 => 4,
            2 => 16,
            _ => return None,
        };
        // Agent address, sub-agent id, sequence number, uptime.
        r.take(addr + 12)?;
        let n = r.u32()?;
        for _ in 0..n {
            let format = r.u32()?;
            let body = r.opaque()?;
            let (enterprise, kind) = (format >> 12, format & 0xfff);
            match (enterprise, kind) {
                (0, 1) => self.flow_sample(ts, body, false, out),
                (0, 3) => self.flow_sample(ts, body, true, out),
                (0, 2 | 4) => self.stats.counter_samples += 1,
                _ => self.stats.other_samples += 1,
            }
        }
        Some(())
    }

    fn flow_sample(&mut self, ts: Timestamp, body: &[u8], expanded: bool, out: &mut Vec<FlowRecord>) {
        self.stats.flow_samples += 1;
        match parse_flow_sample(body, expanded) {
            Some((rate, Some(s))) => self.add(ts, rate, s, out),
            Some((_, None)) => self.stats.samples_without_ip += 1,
            None => self.stats.malformed += 1,
        }
    }

    fn add(&mut self, ts: Timestamp, rate: u32, (mut s, ip_len): Sampled, out: &mut Vec<FlowRecord>) {
        let rate = rate.max(1);
        let (packets, bytes) = (u64::from(rate), ip_len.saturating_mul(u64::from(rate)));
        let k = key(&s);
        if let Some(f) = self.open.get_mut(&k) {
            if ts.0.saturating_sub(f.end.0) <= self.idle_ns && f.start.0.saturating_sub(ts.0) <= self.idle_ns {
                f.start = f.start.min(ts);
                f.end = f.end.max(ts);
                f.packets = f.packets.saturating_add(packets);
                f.bytes = f.bytes.saturating_add(bytes);
                f.tcp_flags |= s.tcp_flags;
                f.sampling = f.sampling.max(rate);
                return;
            }
            // The flow went quiet and started again: its first part is done.
            if let Some(done) = self.open.remove(&k) {
                self.stats.records += 1;
                out.push(done);
            }
        }
        if self.open.len() >= self.max_open {
            // Full: hand out the flows idle longest (a sweep of the older half of the window),
            // or all of them when every flow is recent.
            let before = self.open.values().map(|f| f.end.0).min().unwrap_or(i64::MAX).saturating_add(self.idle_ns / 2 + 1);
            let was = self.open.len();
            self.sweep(before, out);
            if self.open.len() >= self.max_open {
                self.sweep(i64::MAX, out);
            }
            self.stats.flushed_at_cap += (was - self.open.len()) as u64;
        }
        s.start = ts;
        s.end = ts;
        s.packets = packets;
        s.bytes = bytes;
        s.sampling = rate;
        self.open.insert(k, s);
    }
}

/// A flow sample's sampling rate and what its flow records say about the sampled packet
/// (`None` inside when none gave IP addresses); `None` when the sample is malformed.
fn parse_flow_sample(body: &[u8], expanded: bool) -> Option<(u32, Option<Sampled>)> {
    let mut r = Rd(body);
    // Sequence number, source id (expanded: type and index).
    r.take(if expanded { 12 } else { 8 })?;
    let rate = r.u32()?;
    // Sample pool, drops, input and output interfaces (expanded: format and value of each).
    r.take(if expanded { 24 } else { 16 })?;
    let n = r.u32()?;
    let (mut header, mut ip_data) = (None, None);
    for _ in 0..n {
        let format = r.u32()?;
        let rec = r.opaque()?;
        let mut d = Rd(rec);
        match format {
            1 => {
                let protocol = d.u32()?;
                let frame_len = d.u32()?;
                let _stripped = d.u32()?;
                let hdr = d.opaque()?;
                if header.is_none() {
                    header = parse_header(protocol, hdr, u64::from(frame_len));
                }
            }
            3 | 4 => ip_data = Some(sampled_ip(format == 4, &mut d)?),
            _ => {}
        }
    }
    Some((rate, header.or(ip_data)))
}

/// A "sampled IPv4" (format 3) or "sampled IPv6" (format 4) record: IP length, protocol,
/// addresses, ports and TCP flags.
fn sampled_ip(v6: bool, d: &mut Rd<'_>) -> Option<Sampled> {
    let (len, proto) = (d.u32()?, d.u32()?);
    let (src, dst) = if v6 {
        (IpAddr::from(d.array::<16>()?), IpAddr::from(d.array::<16>()?))
    } else {
        (IpAddr::from(d.array::<4>()?), IpAddr::from(d.array::<4>()?))
    };
    let (sport, dport, flags) = (d.u32()?, d.u32()?, d.u32()?);
    let proto = u8::try_from(proto).ok()?;
    // The ports as given (the format defines them for TCP and UDP only, 0 otherwise).
    let mut f = FlowRecord::new(src, dst, u16::try_from(sport).unwrap_or(0), u16::try_from(dport).unwrap_or(0), proto);
    f.tcp_flags = flags as u8;
    Some((f, u64::from(len)))
}

/// The sampled header, read by `vigil-capture`'s stateless [`decode_cut`] through the same
/// link layers and tunnels as a capture: header protocol 1 (Ethernet, with VLAN tags, MPLS,
/// PPPoE), 7 (PPP), 11 (IPv4), 12 (IPv6), 13 (MPLS) or 15 (IEEE 802.11 MAC, from wireless
/// access points). The header is cut where the agent cut it, so only what is there is read;
/// a tunnelled packet is reported as its inner flow, as the capture path does. The IP length
/// is the IP header's own; `frame_len` (the whole frame, with its link headers and the
/// Ethernet FCS) stands in when the header says 0 (segmentation offload).
fn parse_header(protocol: u32, h: &[u8], frame_len: u64) -> Option<Sampled> {
    let start = match protocol {
        1 => CutStart::Link(linktype::ETHERNET),
        7 => CutStart::Link(linktype::PPP),
        11 => CutStart::Link(linktype::IPV4),
        12 => CutStart::Link(linktype::IPV6),
        13 => CutStart::Mpls,
        15 => CutStart::Link(linktype::IEEE802_11),
        _ => return None,
    };
    let c = decode_cut(h, start, MAX_TUNNEL_DEPTH).ok()??;
    let mut s = FlowRecord::new(c.src, c.dst, c.sport, c.dport, c.proto);
    (s.src_mac, s.dst_mac, s.vlan, s.inner_vlan) = (c.l2_src, c.l2_dst, c.vlan, c.inner_vlan);
    s.tcp_flags = c.tcp_flags.unwrap_or(0);
    let l2 = c.ip_off as u64 + if protocol == 1 { 4 } else { 0 };
    let ip_len = if c.ip_len > 0 { u64::from(c.ip_len) } else { frame_len.saturating_sub(l2) };
    Some((s, ip_len))
}

/// Encapsulations followed inside a sampled header (as the capture decoder's default).
const MAX_TUNNEL_DEPTH: u8 = 4;

/// An XDR reader: big-endian 32-bit words, opaque data padded to four bytes.
struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (a, b) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = b;
        Some(a)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.array::<4>()?))
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// A length-prefixed opaque, its padding stepped over (a final one may lack it).
    fn opaque(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        let body = self.take(n)?;
        let pad = (4 - n % 4) % 4;
        self.0 = self.0.get(pad..).unwrap_or(&[]);
        Some(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;
    use vigil_model::{PROTO_ICMP, PROTO_TCP, PROTO_UDP};

    /// XDR writer for building datagrams.
    #[derive(Default)]
    struct W(Vec<u8>);

    impl W {
        fn u32(mut self, v: u32) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn bytes(mut self, b: &[u8]) -> Self {
            self.0.extend_from_slice(b);
            self
        }
        fn opaque(self, b: &[u8]) -> Self {
            let pad = (4 - b.len() % 4) % 4;
            self.u32(b.len() as u32).bytes(b).bytes(&[0; 3][..pad])
        }
    }

    fn datagram(samples: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut w = W::default().u32(5).u32(1).bytes(&[192, 0, 2, 1]).u32(0).u32(7).u32(1000).u32(samples.len() as u32);
        for (fmt, body) in samples {
            w = w.u32(*fmt).opaque(body);
        }
        w.0
    }

    /// Ethernet + one VLAN tag + IPv4 + TCP (ports, flags), cut at 64 bytes as agents do.
    fn eth_tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8) -> Vec<u8> {
        let mut h = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 42, 0x08, 0x00];
        let mut ip = vec![0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 6, 0, 0];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        h.extend_from_slice(&ip);
        let mut tcp = vec![0; 20];
        tcp[..2].copy_from_slice(&sport.to_be_bytes());
        tcp[2..4].copy_from_slice(&dport.to_be_bytes());
        tcp[12] = 0x50;
        tcp[13] = flags;
        h.extend_from_slice(&tcp);
        h.resize(64, 0);
        h
    }

    fn flow_sample(rate: u32, records: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut w = W::default().u32(1).u32(3).u32(rate).u32(100_000).u32(0).u32(1).u32(2).u32(records.len() as u32);
        for (fmt, body) in records {
            w = w.u32(*fmt).opaque(body);
        }
        w.0
    }

    /// An Ethernet sampled header in a flow sample.
    fn header_record(frame_len: u32, header: &[u8]) -> (u32, Vec<u8>) {
        header_of(1, frame_len, header)
    }

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_secs(1_700_000_000 + s)
    }

    #[test]
    fn samples_of_one_flow_add_up_until_it_goes_idle() {
        let mut d = SflowDecoder::new(60.0, 1000);
        let mut out = Vec::new();
        let a = [10, 0, 0, 5];
        let b = [203, 0, 113, 9];
        let s = |flags| datagram(&[(1, flow_sample(512, &[header_record(1500, &eth_tcp(a, b, 50_000, 443, flags))]))]);
        d.decode(ts(0), &s(0x02), &mut out);
        d.decode(ts(10), &s(0x10), &mut out);
        // A counter sample and an enterprise sample are stepped over.
        d.decode(ts(20), &datagram(&[(2, vec![0; 12]), ((9 << 12) | 1, vec![1, 2, 3, 4])]), &mut out);
        assert!(out.is_empty(), "{out:?}");
        // 100 s later the first part has been idle past 60 s.
        d.decode(ts(110), &s(0x11), &mut out);
        assert_eq!(out.len(), 1);
        let f = &out[0];
        assert_eq!(
            (f.src, f.dst, f.sport, f.dport, f.proto),
            ("10.0.0.5".parse().unwrap(), "203.0.113.9".parse().unwrap(), 50_000, 443, PROTO_TCP)
        );
        // Bytes at the IP layer: the sampled header's total length (60), not the frame's.
        assert_eq!((f.packets, f.bytes, f.tcp_flags, f.sampling), (1024, 2 * 512 * 60, 0x12, 512));
        assert_eq!((f.start, f.end, f.vlan, f.src_mac), (ts(0), ts(10), Some(42), Some([2, 0, 0, 0, 0, 1])));
        d.finish(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!((out[1].start, out[1].packets, out[1].tcp_flags), (ts(110), 512, 0x11));
        assert_eq!(
            (d.stats.datagrams, d.stats.flow_samples, d.stats.counter_samples, d.stats.other_samples, d.stats.records, d.stats.malformed),
            (4, 3, 1, 1, 2, 0)
        );
    }

    #[test]
    fn sampled_ip_records_stand_in_for_a_missing_header() {
        let mut v6 = W::default().u32(80).u32(u32::from(PROTO_UDP));
        v6 = v6.bytes(&Ipv6Addr::LOCALHOST.octets()).bytes(&"2001:db8::7".parse::<Ipv6Addr>().unwrap().octets());
        let v6 = v6.u32(5353).u32(53).u32(0).u32(0).0;
        // An ARP frame's header gives no addresses; the IPv6 record does.
        let arp = vec![0xff; 12].into_iter().chain([0x08, 0x06]).chain([0; 28]).collect::<Vec<u8>>();
        let mut d = SflowDecoder::new(60.0, 1000);
        let mut out = Vec::new();
        d.decode(ts(0), &datagram(&[(1, flow_sample(0, &[header_record(64, &arp), (4, v6)]))]), &mut out);
        // Only an ARP header: no IP.
        d.decode(ts(1), &datagram(&[(1, flow_sample(10, &[header_record(64, &arp)]))]), &mut out);
        d.finish(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].dst, out[0].sport, out[0].dport, out[0].proto), ("2001:db8::7".parse().unwrap(), 5353, 53, PROTO_UDP));
        assert_eq!((out[0].packets, out[0].bytes), (1, 80), "a rate of 0 counts as 1");
        assert_eq!(d.stats.samples_without_ip, 1);
    }

    /// A sampled header of `protocol` (sFlow's header protocol number) in a flow sample.
    fn header_of(protocol: u32, frame_len: u32, header: &[u8]) -> (u32, Vec<u8>) {
        (1, W::default().u32(protocol).u32(frame_len).u32(4).opaque(header).0)
    }

    #[test]
    fn headers_in_mpls_pppoe_tunnels_and_wifi_give_their_flows() {
        // IPv4 + UDP 5353 -> 53 with a 300-byte payload.
        let mut ip = vec![0x45, 0, 0x01, 0x48, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 7, 203, 0, 113, 5];
        ip.extend_from_slice(&[0x14, 0xe9, 0x00, 0x35, 0x01, 0x34, 0, 0]);
        ip.resize(64, 0);
        // Header protocol 13: a bare MPLS label stack (two labels).
        let mut mpls = vec![0, 0x01, 0x00, 0x40, 0, 0x02, 0x01, 0x40];
        mpls.extend_from_slice(&ip);
        // Header protocol 1: Ethernet, PPPoE session, PPP IPv4.
        let mut pppoe = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x88, 0x64, 0x11, 0, 0x12, 0x34, 0x01, 0x4a, 0x00, 0x21];
        pppoe.extend_from_slice(&ip);
        // Header protocol 1: VXLAN between two tunnel endpoints around an Ethernet frame.
        let mut vx = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
        vx.extend_from_slice(&[0x45, 0, 0x01, 0x7a, 0, 0, 0x40, 0, 64, 17, 0, 0, 172, 16, 0, 1, 172, 16, 0, 2]);
        vx.extend_from_slice(&[0x9c, 0x40, 0x12, 0xb5, 0x01, 0x66, 0, 0, 0x08, 0, 0, 0, 0, 0, 0x64, 0]);
        vx.extend_from_slice(&[0x02, 0, 0, 0, 0, 4, 0x02, 0, 0, 0, 0, 3, 0x08, 0x00]);
        vx.extend_from_slice(&ip);
        vx.truncate(128);
        // Header protocol 15: an 802.11 QoS data frame with LLC/SNAP.
        let mut wlan = vec![0x88, 0x02, 0, 0, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0x99, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        wlan.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        wlan.extend_from_slice(&ip);
        for (i, (protocol, header)) in [(13, mpls), (1, pppoe), (1, vx), (15, wlan)].into_iter().enumerate() {
            let mut d = SflowDecoder::new(60.0, 1000);
            let mut out = Vec::new();
            d.decode(ts(0), &datagram(&[(1, flow_sample(100, &[header_of(protocol, 400, &header)]))]), &mut out);
            d.finish(&mut out);
            assert_eq!(out.len(), 1, "case {i}: {:?}", d.stats);
            let f = &out[0];
            assert_eq!(
                (f.src, f.dst, f.sport, f.dport, f.proto),
                ("10.0.0.7".parse().unwrap(), "203.0.113.5".parse().unwrap(), 5353, 53, PROTO_UDP),
                "case {i}"
            );
            // The inner IP packet's length (328) times the rate.
            assert_eq!((f.packets, f.bytes), (100, 32_800), "case {i}");
        }
    }

    #[test]
    fn icmp_type_and_code_go_where_zeek_puts_them() {
        let mut ip = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        ip.extend_from_slice(&[3, 13, 0, 0, 0, 0, 0, 0]);
        let (s, s_len) = parse_header(11, &ip, 28).unwrap();
        assert_eq!((s.sport, s.dport, s.proto), (3, 13, PROTO_ICMP));
        // An echo reply (type 0) with a code still reads as (type, code).
        let mut reply = ip.clone();
        reply[20..22].copy_from_slice(&[0, 5]);
        let (r, _) = parse_header(11, &reply, 28).unwrap();
        assert_eq!((r.sport, r.dport), (0, 5));
        // A later IPv4 fragment: no ports.
        let mut frag = eth_tcp([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, 0);
        frag[18 + 6] = 0x00;
        frag[18 + 7] = 0x10;
        let (f, f_len) = parse_header(1, &frag, 100).unwrap();
        assert_eq!(f.sport, 0);
        // The IP length is the header's; without one, the frame's less Ethernet and FCS.
        assert_eq!((s_len, f_len), (28, 60));
        let mut no_len = frag.clone();
        no_len[18 + 2] = 0;
        no_len[18 + 3] = 0;
        assert_eq!(parse_header(1, &no_len, 100).unwrap().1, 100 - 18 - 4);
        assert_eq!(parse_header(1, &frag[..20], 100), None);
        let mut v6 = vec![0x60, 0, 0, 0, 0, 0x10, 17, 64];
        v6.extend_from_slice(&[0; 32]);
        assert_eq!(parse_header(12, &v6, 999).unwrap().1, 56);
    }

    #[test]
    fn the_open_flows_are_capped() {
        let mut d = SflowDecoder::new(600.0, 8);
        let mut out = Vec::new();
        for i in 0..100u16 {
            let h = eth_tcp([10, 0, 0, 1], [10, 0, 1, 1], 1000 + i, 80, 0);
            d.decode(ts(i64::from(i)), &datagram(&[(1, flow_sample(1, &[header_record(60, &h)]))]), &mut out);
            assert!(d.open.len() <= 8);
        }
        d.finish(&mut out);
        assert_eq!(out.len(), 100, "every flow handed out once");
        assert!(d.stats.flushed_at_cap >= 90);
    }

    #[test]
    fn hostile_datagrams_are_counted_never_trusted() {
        let good = datagram(&[(1, flow_sample(512, &[header_record(1500, &eth_tcp([10, 0, 0, 5], [1, 1, 1, 1], 1, 2, 0))]))]);
        assert!(looks_like_sflow(&good));
        for n in 0..good.len() {
            let mut d = SflowDecoder::new(60.0, 10);
            let mut out = Vec::new();
            d.decode(ts(0), &good[..n], &mut out);
            d.finish(&mut out);
            assert!(out.len() <= 1);
        }
        // Every byte altered: decodes or is counted, never panics.
        for i in 0..good.len() {
            for x in [0x00, 0xff, 0x7f] {
                let mut b = good.clone();
                b[i] = x;
                let mut d = SflowDecoder::new(60.0, 10);
                let mut out = Vec::new();
                d.decode(ts(0), &b, &mut out);
                d.finish(&mut out);
            }
        }
        // Counts claiming more than the datagram holds.
        let huge = W::default().u32(5).u32(1).bytes(&[1; 4]).u32(0).u32(0).u32(0).u32(u32::MAX).0;
        assert!(!looks_like_sflow(&huge));
        let mut d = SflowDecoder::new(60.0, 10);
        d.decode(ts(0), &huge, &mut Vec::new());
        assert_eq!(d.stats.malformed, 1);
        // NetFlow v5 is not sFlow (version 5 in 16 bits, then the record count).
        assert!(!looks_like_sflow(&[0, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    }
}
