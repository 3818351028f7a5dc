//! The live collector stitches exactly what the offline path stitches: the same NetFlow v9
//! datagrams sent over 127.0.0.1 to a [`Collector`] with one stitching thread and with several
//! give the same connections, field for field (uid, Community ID, counters, state, history,
//! duration), as decoding them with [`Decoder`] and pairing them with one [`Stitcher`]. The
//! stream mixes the cases the stitcher distinguishes: both directions in one datagram, the
//! reverse direction a few datagrams later, one-sided flows, a direction exported twice, ICMP
//! echo request and reply, UDP, IPv6 and IPv4 addresses (so flows spread over every stitcher).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vigil_import::netflow::{Decoder, DecoderConfig, Stitcher};
use vigil_import::{Collector, CollectorConfig, ImportOptions, ImportStats};
use vigil_model::Conn;

/// One exported direction: (src, dst, sport, dport, proto, packets, bytes, start and end as
/// milliseconds before the export, tcp flags).
type Rec = (IpAddr, IpAddr, u16, u16, u8, u32, u32, u32, u32, u8);

const UPTIME_MS: u32 = 3_600_000;

fn template() -> Vec<u8> {
    // Template 256: IPv4 and IPv6 addresses both (a dual-family template, as some routers
    // send), ports, protocol, flags, packets, octets, first and last switched.
    let fields: [(u16, u16); 12] = [(8, 4), (12, 4), (27, 16), (28, 16), (7, 2), (11, 2), (4, 1), (6, 1), (2, 4), (1, 4), (22, 4), (21, 4)];
    let mut t = Vec::new();
    t.extend_from_slice(&0u16.to_be_bytes());
    t.extend_from_slice(&((8 + 4 * fields.len()) as u16).to_be_bytes());
    t.extend_from_slice(&256u16.to_be_bytes());
    t.extend_from_slice(&(fields.len() as u16).to_be_bytes());
    for (id, len) in fields {
        t.extend_from_slice(&id.to_be_bytes());
        t.extend_from_slice(&len.to_be_bytes());
    }
    t
}

fn datagram(seq: u32, export_secs: u32, with_template: bool, recs: &[Rec]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&9u16.to_be_bytes());
    p.extend_from_slice(&((recs.len() + usize::from(with_template)) as u16).to_be_bytes());
    p.extend_from_slice(&UPTIME_MS.to_be_bytes());
    p.extend_from_slice(&export_secs.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&7u32.to_be_bytes());
    if with_template {
        p.extend(template());
    }
    let at = p.len();
    p.extend_from_slice(&256u16.to_be_bytes());
    p.extend_from_slice(&0u16.to_be_bytes());
    for &(s, d, sp, dp, proto, pkts, bytes, first, last, flags) in recs {
        let (s4, d4, s6, d6) = match (s, d) {
            (IpAddr::V4(s), IpAddr::V4(d)) => (s, d, Ipv6Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED),
            (IpAddr::V6(s), IpAddr::V6(d)) => (Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, s, d),
            _ => unreachable!("one family per record"),
        };
        p.extend_from_slice(&s4.octets());
        p.extend_from_slice(&d4.octets());
        p.extend_from_slice(&s6.octets());
        p.extend_from_slice(&d6.octets());
        p.extend_from_slice(&sp.to_be_bytes());
        p.extend_from_slice(&dp.to_be_bytes());
        p.extend_from_slice(&[proto, flags]);
        p.extend_from_slice(&pkts.to_be_bytes());
        p.extend_from_slice(&bytes.to_be_bytes());
        p.extend_from_slice(&(UPTIME_MS - first).to_be_bytes());
        p.extend_from_slice(&(UPTIME_MS - last).to_be_bytes());
    }
    while (p.len() - at) % 4 != 0 {
        p.push(0);
    }
    let len = (p.len() - at) as u16;
    p[at + 2..at + 4].copy_from_slice(&len.to_be_bytes());
    p
}

/// The export stream: 400 datagrams of 10 records each.
fn stream(export_secs: u32) -> Vec<Vec<u8>> {
    let mut recs: Vec<Rec> = Vec::new();
    // Reverse directions held back for a later datagram.
    let mut later: Vec<(usize, Rec)> = Vec::new();
    for i in 0..2000u32 {
        let c = IpAddr::V4(Ipv4Addr::new(10, (i >> 8) as u8, i as u8, 1));
        let s = IpAddr::V4(Ipv4Addr::new(198, 51, 100, (i % 200) as u8 + 1));
        let c6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 1, i as u16));
        let s6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, (i % 7) as u16 + 1));
        let cp = 20_000 + i as u16;
        let (t0, t1) = (5_000 + i % 900, 1_000 + i % 700);
        match i % 8 {
            // Both directions next to each other; the reply started 1 ms later.
            0 => {
                recs.push((c, s, cp, 443, 6, 12, 2_400, t0, t1, 0x1b));
                recs.push((s, c, 443, cp, 6, 10, 9_000, t0 - 1, t1, 0x1b));
            }
            // Reply first in the stream but started later: the client is still the originator.
            1 => {
                recs.push((s, c, 80, cp, 6, 4, 800, t0 - 3, t1, 0x12));
                recs.push((c, s, cp, 80, 6, 5, 400, t0, t1, 0x02));
            }
            // Reverse direction 2..11 datagrams later.
            2 => {
                recs.push((c, s, cp, 22, 6, 30, 4_000, t0, t1, 0x1f));
                later.push((recs.len() / 10 + 2 + (i as usize % 10), (s, c, 22, cp, 6, 28, 6_000, t0 - 2, t1, 0x1b)));
            }
            // One-sided: a SYN nobody answered, and a UDP probe.
            3 => {
                recs.push((c, s, cp, 8080, 6, 1, 60, t0, t0, 0x02));
                recs.push((c, s, cp, 161, 17, 1, 80, t0, t0, 0));
            }
            // UDP both ways (DNS).
            4 => {
                recs.push((c, s, cp, 53, 17, 1, 70, t0, t0, 0));
                recs.push((s, c, 53, cp, 17, 1, 150, t0 - 1, t0 - 1, 0));
            }
            // ICMP echo request and reply (type 8 / 0 in the destination port, Cisco style).
            5 => {
                recs.push((c, s, 0, 8 << 8, 1, 3, 252, t0, t1, 0));
                recs.push((s, c, 0, 0, 1, 3, 252, t0 - 1, t1, 0));
            }
            // IPv6 both ways.
            6 => {
                recs.push((c6, s6, cp, 443, 6, 8, 1_600, t0, t1, 0x1b));
                recs.push((s6, c6, 443, cp, 6, 9, 7_700, t0 - 1, t1, 0x1b));
            }
            // The same direction exported twice (an active timeout), then its reverse.
            _ => {
                recs.push((c, s, cp, 3389, 6, 100, 9_000, t0, t1 + 300, 0x1a));
                recs.push((c, s, cp, 3389, 6, 50, 4_000, t1 + 250, t1, 0x19));
                recs.push((s, c, 3389, cp, 6, 120, 70_000, t0 - 1, t1, 0x1b));
            }
        }
        // Held-back records whose datagram has come.
        let due = recs.len() / 10;
        let (now, rest): (Vec<_>, Vec<_>) = later.into_iter().partition(|(d, _)| *d <= due);
        recs.extend(now.into_iter().map(|(_, r)| r));
        later = rest;
    }
    recs.extend(later.into_iter().map(|(_, r)| r));
    recs.chunks(10).enumerate().map(|(i, c)| datagram(i as u32, export_secs, i % 20 == 0, c)).collect()
}

fn by_uid(mut v: Vec<Conn>) -> Vec<Conn> {
    v.sort_by(|a, b| a.uid.cmp(&b.uid).then(a.ts.cmp(&b.ts)).then(a.orig_pkts.cmp(&b.orig_pkts)));
    v
}

fn offline(dgrams: &[Vec<u8>]) -> Vec<Conn> {
    let exporter: IpAddr = Ipv4Addr::LOCALHOST.into();
    let opts = ImportOptions::default();
    let mut stats = ImportStats::default();
    let mut dec = Decoder::new(DecoderConfig::default());
    let mut st = Stitcher::new(CollectorConfig::default().stitch_window_secs, CollectorConfig::default().max_pending_flows);
    let mut out = Vec::new();
    let mut recs = Vec::new();
    for d in dgrams {
        dec.decode(exporter, d, &mut recs);
        for r in recs.drain(..) {
            st.push(r, &opts, &mut stats, &mut |c| out.push(c));
        }
    }
    st.finish(&opts, &mut stats, &mut |c| out.push(c));
    out
}

fn live(dgrams: &[Vec<u8>], stitch_threads: usize) -> Vec<Conn> {
    let cfg = CollectorConfig { stitch_threads, ..CollectorConfig::default() };
    let c = Collector::bind("127.0.0.1:0".parse().unwrap(), cfg).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut got = Vec::new();
    // Taken with `recv_into` through a reused buffer (swapped with the collector's batches).
    let mut buf = Vec::new();
    for (i, d) in dgrams.iter().enumerate() {
        tx.send_to(d, c.local_addr()).unwrap();
        // Small bursts, so even the kernel's default receive buffer loses nothing.
        if i % 25 == 24 {
            let deadline = Instant::now() + Duration::from_secs(20);
            while c.stats().datagrams <= i as u64 && Instant::now() < deadline {
                let n = c.recv_into(&mut buf, Duration::from_millis(1));
                assert_eq!(n, buf.len());
                got.append(&mut buf);
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.stats().datagrams < dgrams.len() as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let (rest, s) = c.shutdown();
    got.extend(rest);
    assert_eq!((s.datagrams, s.datagrams_dropped, s.kernel_drops, s.malformed), (dgrams.len() as u64, 0, 0, 0));
    assert_eq!(s.conns, got.len() as u64);
    got
}

#[test]
fn live_collector_stitches_like_the_offline_path_with_any_thread_count() {
    // Record times around now: the collector's idle tick (flow time = wall clock) must not
    // release a held-back direction early.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as u32;
    let dgrams = stream(now);
    let want = by_uid(offline(&dgrams));
    // Every kind of flow was built: pairs, one-sided flows, ICMP, IPv6.
    assert!(want.len() > 2000 && want.len() < 4000, "{} conns", want.len());
    assert!(want.iter().any(|c| c.proto == 1 && c.resp_pkts > 0));
    assert!(want.iter().any(|c| c.orig_h.is_ipv6() && c.resp_pkts > 0));
    assert!(want.iter().any(|c| c.resp_pkts == 0));
    // The reply came first in the stream but started later: the client is the originator.
    assert!(want.iter().any(|c| c.resp_p == 80 && c.orig_pkts == 5 && c.resp_pkts == 4));
    for threads in [1, 3] {
        let got = by_uid(live(&dgrams, threads));
        assert_eq!(got.len(), want.len(), "{threads} stitching threads");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{threads} stitching threads");
        }
    }
}

fn flow(src: &str, sport: u16, dst: &str, dport: u16, proto: u8) -> vigil_import::netflow::FlowRecord {
    vigil_import::netflow::FlowRecord::new(src.parse().unwrap(), dst.parse().unwrap(), sport, dport, proto)
}

#[test]
fn flow_hash_is_direction_free_and_keyed() {
    use vigil_import::netflow::FlowHasher;
    let (h1, h2) = (FlowHasher::new(), FlowHasher::new());
    let pairs = [
        (flow("10.0.0.1", 40000, "192.0.2.7", 443, 6), flow("192.0.2.7", 443, "10.0.0.1", 40000, 6)),
        (flow("2001:db8::1", 5353, "2001:db8::2", 53, 17), flow("2001:db8::2", 53, "2001:db8::1", 5353, 17)),
        // ICMP echo request (type 8) and reply (type 0) are one flow.
        (flow("10.0.0.1", 8, "10.0.0.2", 0, 1), flow("10.0.0.2", 0, "10.0.0.1", 0, 1)),
    ];
    for (a, b) in &pairs {
        assert_eq!(h1.flow_hash(a), h1.flow_hash(b));
        // Another process's keys: another hash (attackers cannot precompute collisions).
        assert_ne!(h1.flow_hash(a), h2.flow_hash(a));
    }
    // Different flows, different hashes (ports, addresses, protocol each count).
    let base = flow("10.0.0.1", 40000, "192.0.2.7", 443, 6);
    for other in [
        flow("10.0.0.1", 40001, "192.0.2.7", 443, 6),
        flow("10.0.0.3", 40000, "192.0.2.7", 443, 6),
        flow("10.0.0.1", 40000, "192.0.2.7", 443, 17),
    ] {
        assert_ne!(h1.flow_hash(&base), h1.flow_hash(&other));
    }
}

#[test]
fn stitched_conn_texts_are_the_shared_helpers_texts() {
    // The stitcher fills uid, Community ID and history from fixed-size texts; they must be the
    // very strings the shared helpers give every other importer.
    use vigil_import::util::{community_id, history_from_flags, stable_uid};
    let mut a = flow("10.1.2.3", 51000, "203.0.113.9", 22, 6);
    a.start = vigil_model::Timestamp(1_700_000_000_000_000_000);
    a.end = vigil_model::Timestamp(1_700_000_002_500_000_000);
    (a.packets, a.bytes, a.tcp_flags) = (20, 3_000, 0x1b);
    let mut b = flow("203.0.113.9", 22, "10.1.2.3", 51000, 6);
    b.start = vigil_model::Timestamp(1_700_000_000_001_000_000);
    b.end = a.end;
    (b.packets, b.bytes, b.tcp_flags) = (18, 40_000, 0x1f);
    let mut u = flow("10.1.2.3", 123, "203.0.113.9", 123, 17);
    u.start = a.start;
    u.end = a.start;
    let opts = ImportOptions::default();
    let mut stats = ImportStats::default();
    let mut out = Vec::new();
    let mut st = Stitcher::new(60.0, 100);
    for r in [a.clone(), b, u.clone()] {
        st.push(r, &opts, &mut stats, &mut |c| out.push(c));
    }
    st.finish(&opts, &mut stats, &mut |c| out.push(c));
    assert_eq!(out.len(), 2);
    for (c, r) in out.iter().zip([&a, &u]) {
        let src = match r.src {
            IpAddr::V4(v) => v.octets().to_vec(),
            IpAddr::V6(v) => v.octets().to_vec(),
        };
        let dst = match r.dst {
            IpAddr::V4(v) => v.octets().to_vec(),
            IpAddr::V6(v) => v.octets().to_vec(),
        };
        let uid =
            stable_uid(&[b"netflow", &r.start.0.to_le_bytes(), &src, &r.sport.to_le_bytes(), &dst, &r.dport.to_le_bytes(), &[r.proto]]);
        assert_eq!(c.uid, uid);
        assert_eq!(c.community_id, community_id(r.src, r.sport, r.dst, r.dport, r.proto));
    }
    assert_eq!(out[0].history, history_from_flags(0x1b, 0x1f, 20, 18));
    assert_eq!(out[0].history, "ShADdFfr");
    assert_eq!(out[0].duration, Some(2.5));
    assert_eq!(out[1].history, "");
}
