use super::mutations;
use crate::stats::ImportStats;
use crate::{Collector, CollectorConfig, Format, ImportOptions, argus, nfdump, pcap, sniff_bytes, util};
use std::collections::HashMap;
use std::time::Duration;
use vigil_model::ConnState;

#[test]
fn sniff_recognises_by_content() {
    assert_eq!(sniff_bytes(b"#separator \\x09\n#fields\tts\n"), Some(Format::ZeekTsv));
    assert_eq!(sniff_bytes(b"\n{\"event_type\":\"flow\"}\n"), Some(Format::SuricataEve));
    assert_eq!(sniff_bytes(b"{\"_path\":\"conn\"}\n"), Some(Format::ZeekJson));
    assert_eq!(sniff_bytes(b"StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport\n"), Some(Format::ArgusBinetflow));
    assert_eq!(sniff_bytes(&[0x0c, 0xa5, 1, 0]), Some(Format::Nfdump));
    assert_eq!(sniff_bytes(b"hello world"), None);
    assert_eq!(sniff_bytes(b"{\"a\":1}"), None);
    assert_eq!(sniff_bytes(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]), None, "captures are decided by their packets");
}

#[test]
fn argus_rows() {
    let hdr = "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,SrcPkts,Label";
    let cols: HashMap<String, usize> = hdr.split(',').enumerate().map(|(i, n)| (n.to_string(), i)).collect();
    let o = ImportOptions::default();
    let c = argus::conn_from_line(
        &cols,
        "2018/12/18 14:00:00.527012,0.699716,tcp,216.73.23.146,52798,   ->,147.32.81.58,445,S_RA,0,0,2,134,70,1,",
        ',',
        &o,
    )
    .unwrap();
    assert_eq!(c.conn_state, ConnState::REJ);
    assert_eq!((c.orig_pkts, c.resp_pkts, c.orig_ip_bytes, c.resp_ip_bytes), (1, 1, 70, 64));
    assert_eq!(c.ts.secs(), 1545141600);
    let c = argus::conn_from_line(&cols, "2018/12/18 14:00:00,1,icmp,10.0.0.1,0x0008,  ->,10.0.0.2,0x0000,ECO,0,0,2,196,98,1,", ',', &o)
        .unwrap();
    assert_eq!((c.orig_p, c.resp_p, c.conn_state), (8, 0, ConnState::SF));
    assert!(argus::conn_from_line(&cols, "2018/05/10 10:52:47,0,man,0,0,,0,0,STA,,,0,0,0,0,", ',', &o).is_err());
    assert!(argus::conn_from_line(&cols, "garbage", ',', &o).is_err());
    // Hostile: SrcBytes above TotBytes, missing columns.
    let c = argus::conn_from_line(&cols, "2018/12/18 14:00:00,1,udp,10.0.0.1,1,->,10.0.0.2,2,CON,0,0,1,10,99999", ',', &o).unwrap();
    assert_eq!((c.orig_ip_bytes, c.resp_ip_bytes), (10, 0));
}

/// An nfdump layout-1 file with one IPv4 TCP record (32-bit counters) and one junk block.
fn nfdump_file() -> Vec<u8> {
    let mut b = vec![];
    b.extend_from_slice(&0xA50Cu16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&[0; 128]);
    b.extend_from_slice(&[0; 136]);
    let mut rec = vec![];
    rec.extend_from_slice(&10u16.to_le_bytes());
    rec.extend_from_slice(&48u16.to_le_bytes());
    rec.extend_from_slice(&0u16.to_le_bytes()); // flags: v4, 32-bit counters
    rec.extend_from_slice(&0u16.to_le_bytes());
    rec.extend_from_slice(&100u16.to_le_bytes());
    rec.extend_from_slice(&200u16.to_le_bytes());
    rec.extend_from_slice(&1_600_000_000u32.to_le_bytes());
    rec.extend_from_slice(&1_600_000_001u32.to_le_bytes());
    rec.extend_from_slice(&[0, 0x12, 6, 0]);
    rec.extend_from_slice(&443u16.to_le_bytes());
    rec.extend_from_slice(&50000u16.to_le_bytes());
    rec.extend_from_slice(&[0; 4]);
    rec.extend_from_slice(&u32::from(std::net::Ipv4Addr::new(1, 1, 1, 1)).to_le_bytes());
    rec.extend_from_slice(&u32::from(std::net::Ipv4Addr::new(10, 0, 0, 1)).to_le_bytes());
    rec.extend_from_slice(&3u32.to_le_bytes());
    rec.extend_from_slice(&180u32.to_le_bytes());
    rec.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&(rec.len() as u32).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&rec);
    b.extend_from_slice(&5u32.to_le_bytes());
    b.extend_from_slice(&1000u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b
}

#[test]
fn nfdump_records_and_hostile_files() {
    let f = nfdump_file();
    let mut s = ImportStats::default();
    let mut out = vec![];
    nfdump::parse(&f, &mut s, &mut out).unwrap();
    assert_eq!(out.len(), 1);
    let r = &out[0];
    assert_eq!((r.src.to_string().as_str(), r.sport, r.dport, r.packets, r.bytes, r.tcp_flags), ("1.1.1.1", 443, 50000, 3, 180, 0x12));
    assert_eq!(r.start.0, 1_600_000_000_100_000_000);
    assert_eq!(s.skipped.get("nfdump: block longer than the file"), Some(&1));
    let mut bz2 = f.clone();
    bz2[4] = 8;
    assert!(matches!(nfdump::parse(&bz2, &mut s, &mut out), Err(nfdump::NfdumpError::Compressed(8))));
    // Flagged LZO but not compressed: every block is counted as undecompressable, no panic.
    let mut lzo = f.clone();
    lzo[4] = 1;
    let mut s2 = ImportStats::default();
    nfdump::parse(&lzo, &mut s2, &mut Vec::new()).unwrap();
    assert!(s2.skipped.contains_key("nfdump: block does not decompress"), "{s2}");
    for m in mutations(&f) {
        let _ = nfdump::parse(&m, &mut s, &mut out);
    }
}

#[test]
fn udp_frames_of_each_link_type() {
    let payload = b"xyz";
    let ip = |proto: u8, frag: u16| {
        let mut v = vec![0x45, 0, 0, 31, 0, 0, (frag >> 8) as u8, frag as u8, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        v.extend_from_slice(&[0x13, 0x88, 0x08, 0x07, 0, 11, 0, 0]);
        v.extend_from_slice(payload);
        v
    };
    let mut eth = vec![0; 12];
    eth.extend_from_slice(&[0x81, 0x00, 0, 5, 0x08, 0x00]);
    eth.extend(ip(17, 0));
    let u = pcap::udp_of_frame(1, &eth).unwrap();
    assert_eq!((u.sport, u.dport, u.payload), (5000, 2055, &payload[..]));
    assert_eq!(pcap::udp_of_frame(101, &ip(17, 0)).unwrap().payload, payload);
    assert_eq!(pcap::udp_of_frame(101, &ip(6, 0)).unwrap_err(), pcap::NotUdp::OtherProtocol);
    assert_eq!(pcap::udp_of_frame(101, &ip(17, 0x2000)).unwrap_err(), pcap::NotUdp::Fragment);
    assert_eq!(pcap::udp_of_frame(999, &eth).unwrap_err(), pcap::NotUdp::UnknownLinkType);
    for m in mutations(&eth) {
        let _ = pcap::udp_of_frame(1, &m);
        let _ = pcap::udp_of_frame(113, &m);
        let _ = pcap::udp_of_frame(276, &m);
        let _ = pcap::udp_of_frame(0, &m);
    }
}

#[test]
fn community_id_for_icmp_is_direction_free() {
    let a = "10.0.0.1".parse().unwrap();
    let b = "10.0.0.2".parse().unwrap();
    assert_eq!(util::community_id(a, 8, b, 0, 1), util::community_id(b, 0, a, 0, 1));
}

#[test]
fn collector_receives_over_loopback() {
    let c = Collector::bind("127.0.0.1:0".parse().unwrap(), CollectorConfig::default()).unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // One v5 datagram: a TCP exchange in both directions → one stitched Conn.
    let p = v5_pair(40000);
    sock.send_to(&p, c.local_addr()).unwrap();
    sock.send_to(b"garbage", c.local_addr()).unwrap();
    let conn = c.recv_timeout(Duration::from_secs(10)).expect("a stitched conn");
    assert_eq!((conn.orig_p, conn.resp_p, conn.orig_pkts, conn.resp_pkts), (40000, 22, 5, 5));
    assert_eq!(conn.conn_state, ConnState::SF);
    assert_eq!(conn.source, vigil_model::Source::Netflow);
    // Wait for the garbage datagram to be counted, then stop.
    for _ in 0..100 {
        if c.stats().malformed > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (rest, s) = c.shutdown();
    assert!(rest.is_empty());
    assert_eq!((s.datagrams, s.flow_records, s.conns, s.datagrams_dropped), (2, 2, 1, 0));
    assert_eq!(s.malformed, 1);
}

#[test]
fn collector_takes_sflow_on_the_same_socket() {
    // Two sFlow v5 datagrams, one sampled packet each way of one TCP session (1 in 100), and a
    // NetFlow v5 datagram on the same socket.
    let c = Collector::bind("127.0.0.1:0".parse().unwrap(), CollectorConfig::default()).unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for (src, dst, sp, dp) in [([10, 0, 0, 7], [10, 0, 0, 8], 41000u16, 443u16), ([10, 0, 0, 8], [10, 0, 0, 7], 443, 41000)] {
        sock.send_to(&sflow_datagram(src, dst, sp, dp), c.local_addr()).unwrap();
    }
    sock.send_to(&v5_pair(40001), c.local_addr()).unwrap();
    for _ in 0..250 {
        if c.stats().datagrams >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (mut rest, s) = c.shutdown();
    while let Some(x) = rest.iter().position(|x| x.orig_p == 40001) {
        rest.remove(x);
    }
    assert_eq!(rest.len(), 1, "{rest:?}");
    let conn = &rest[0];
    assert_eq!((conn.orig_p, conn.resp_p, conn.orig_pkts, conn.resp_pkts, conn.orig_ip_bytes), (41000, 443, 100, 100, 100 * 1400));
    assert_eq!((s.sflow_datagrams, s.sflow_samples, s.datagrams, s.malformed), (2, 2, 3, 0));
}

/// An sFlow v5 datagram with one flow sample (1 in 100): a sampled IPv4/TCP header of a
/// 1,400-byte packet.
fn sflow_datagram(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let w = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_be_bytes());
    let mut hdr = vec![0x45, 0, 0x05, 0x78, 0, 0, 0x40, 0, 64, 6, 0, 0];
    hdr.extend_from_slice(&src);
    hdr.extend_from_slice(&dst);
    hdr.extend_from_slice(&sport.to_be_bytes());
    hdr.extend_from_slice(&dport.to_be_bytes());
    hdr.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0, 0, 0, 0, 0, 0]);
    let mut rec = Vec::new();
    for x in [11, 1400, 0, hdr.len() as u32] {
        w(&mut rec, x);
    }
    rec.extend_from_slice(&hdr);
    let mut sample = Vec::new();
    for x in [1, 7, 100, 1000, 0, 1, 2, 1, 1, rec.len() as u32] {
        w(&mut sample, x);
    }
    sample.extend_from_slice(&rec);
    let mut d = Vec::new();
    for x in [5, 1] {
        w(&mut d, x);
    }
    d.extend_from_slice(&[192, 0, 2, 9]);
    for x in [0, 1, 1000, 1, 1, sample.len() as u32] {
        w(&mut d, x);
    }
    d.extend_from_slice(&sample);
    d
}

/// A NetFlow v5 datagram holding one TCP exchange (both directions) on client port `sport`.
fn v5_pair(sport: u16) -> Vec<u8> {
    let mut p = vec![0, 5, 0, 2];
    p.extend_from_slice(&10_000u32.to_be_bytes());
    p.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    p.extend_from_slice(&[0; 12]);
    for (s, d, sp, dp) in [([10, 0, 0, 1], [10, 0, 0, 2], sport, 22u16), ([10, 0, 0, 2], [10, 0, 0, 1], 22, sport)] {
        p.extend_from_slice(&s);
        p.extend_from_slice(&d);
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&5u32.to_be_bytes());
        p.extend_from_slice(&500u32.to_be_bytes());
        p.extend_from_slice(&9000u32.to_be_bytes());
        p.extend_from_slice(&9500u32.to_be_bytes());
        p.extend_from_slice(&sp.to_be_bytes());
        p.extend_from_slice(&dp.to_be_bytes());
        p.extend_from_slice(&[0, 0x1b, 6, 0]);
        p.extend_from_slice(&[0; 8]);
    }
    p
}

#[test]
fn collector_takes_bursts_in_batches() {
    // Bursts from two exporters, faster than one wake-up per datagram: every datagram is taken
    // (several per recvmmsg call when they queue up), decoded and stitched. Bursts of 50 fit
    // even the kernel's default buffer, where SO_RCVBUFFORCE is not allowed.
    let c = Collector::bind("127.0.0.1:0".parse().unwrap(), CollectorConfig::default()).unwrap();
    let senders = [std::net::UdpSocket::bind("127.0.0.1:0").unwrap(), std::net::UdpSocket::bind("127.0.0.1:0").unwrap()];
    const N: u16 = 2000;
    for i in 0..N {
        senders[usize::from(i % 2)].send_to(&v5_pair(10_000 + i), c.local_addr()).unwrap();
        if i % 50 == 49 {
            for _ in 0..1000 {
                if c.stats().datagrams > u64::from(i) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    let mut ports = std::collections::BTreeSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while ports.len() < usize::from(N) && std::time::Instant::now() < deadline {
        for conn in c.recv_batch(Duration::from_millis(100)).unwrap_or_default() {
            assert_eq!((conn.resp_p, conn.orig_pkts, conn.resp_pkts), (22, 5, 5));
            ports.insert(conn.orig_p);
        }
    }
    let (rest, s) = c.shutdown();
    ports.extend(rest.iter().map(|c| c.orig_p));
    assert_eq!(ports, (10_000..10_000 + N).collect());
    assert_eq!((s.datagrams, s.flow_records, s.conns), (u64::from(N), 2 * u64::from(N), u64::from(N)));
    assert_eq!((s.datagrams_dropped, s.kernel_drops, s.malformed), (0, 0, 0));
    assert!(s.recv_buffer_bytes > 0);
}

#[test]
fn collector_counts_datagrams_it_cannot_queue() {
    // A queue too small for any datagram: each one is received, counted and dropped, and the
    // counters add up.
    let cfg = CollectorConfig { queue_bytes: 1, ..CollectorConfig::default() };
    let c = Collector::bind("127.0.0.1:0".parse().unwrap(), cfg).unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..50 {
        sock.send_to(&v5_pair(20_000 + i), c.local_addr()).unwrap();
    }
    for _ in 0..500 {
        if c.stats().datagrams >= 50 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let (rest, s) = c.shutdown();
    assert!(rest.is_empty());
    assert_eq!((s.datagrams, s.datagrams_dropped, s.flow_records, s.conns, s.kernel_drops), (50, 50, 0, 0, 0));
}

#[test]
fn kernel_drops_are_read_from_proc() {
    use std::os::fd::AsRawFd;
    // A socket nobody reads, with the smallest buffer the kernel allows: most of a burst is
    // dropped by the kernel, and its /proc/net/udp drops column says how many.
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    s.set_recv_buffer_size(1).unwrap();
    s.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
    let rx: std::net::UdpSocket = s.into();
    if crate::collector::proc_udp_drops(rx.as_raw_fd()).is_none() {
        eprintln!("/proc/net/udp not readable; skipping the kernel drop check");
        return;
    }
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..200 {
        tx.send_to(&[0u8; 1000], rx.local_addr().unwrap()).unwrap();
    }
    let drops = crate::collector::proc_udp_drops(rx.as_raw_fd()).unwrap();
    let mut buf = [0u8; 2000];
    rx.set_nonblocking(true).unwrap();
    let mut queued = 0;
    while rx.recv(&mut buf).is_ok() {
        queued += 1;
    }
    assert!(drops > 0, "a full buffer drops");
    assert_eq!(drops + queued, 200, "every datagram was either queued or counted as dropped");
}

#[test]
fn line_reader_matches_a_plain_split_across_buffer_edges() {
    use std::io::BufReader;
    // CRLF, empty lines, invalid UTF-8, no final newline; read through buffers of every small
    // size so lines straddle buffer edges in every way.
    let mut data = Vec::new();
    for i in 0..40 {
        match i % 5 {
            0 => data.extend_from_slice(format!("line {i}\r\n").as_bytes()),
            1 => data.extend_from_slice(b"\n"),
            2 => data.extend_from_slice(b"bad \xff\xfe bytes\n"),
            3 => data.extend_from_slice("caf\u{e9} \u{1F600}\n".as_bytes()),
            _ => data.extend_from_slice(b"a\tb\tc\n"),
        }
    }
    data.extend_from_slice(b"tail");
    let want: Vec<String> = data.split(|&b| b == b'\n').map(|l| String::from_utf8_lossy(l).trim_end_matches('\r').to_string()).collect();
    for cap in [1usize, 2, 3, 7, 16, 64, 4096] {
        let r: Box<dyn std::io::BufRead + Send> = Box::new(BufReader::with_capacity(cap, std::io::Cursor::new(data.clone())));
        let mut got = Vec::new();
        crate::input::for_each_line(std::path::Path::new("-"), r, |l| got.push(l.map(str::to_string))).unwrap();
        let got: Vec<String> = got.into_iter().map(|l| l.expect("no line is too long")).collect();
        assert_eq!(got, want, "buffer capacity {cap}");
    }
}
