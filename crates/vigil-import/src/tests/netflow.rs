use super::mutations;
use crate::ImportOptions;
use crate::netflow::{Decoder, DecoderConfig, FlowRecord, Stitcher, looks_like_export_packet};
use crate::stats::ImportStats;
use std::net::{IpAddr, Ipv4Addr};
use vigil_model::{ConnState, Timestamp};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A v5 packet: uptime 10 000 ms at unix 1 700 000 000 s; records (src, dst, sport, dport, proto, pkts, bytes, first, last, flags).
/// (src, dst, sport, dport, proto, pkts, bytes, first, last, flags)
type V5Rec<'a> = (&'a str, &'a str, u16, u16, u8, u32, u32, u32, u32, u8);

fn v5(recs: &[V5Rec], sampling: u16) -> Vec<u8> {
    let mut b = vec![];
    b.extend_from_slice(&5u16.to_be_bytes());
    b.extend_from_slice(&(recs.len() as u16).to_be_bytes());
    b.extend_from_slice(&10_000u32.to_be_bytes());
    b.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    b.extend_from_slice(&0u32.to_be_bytes());
    b.extend_from_slice(&7u32.to_be_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&sampling.to_be_bytes());
    for &(s, d, sp, dp, pr, pk, by, f, l, fl) in recs {
        let (s, d): (Ipv4Addr, Ipv4Addr) = (s.parse().unwrap(), d.parse().unwrap());
        b.extend_from_slice(&s.octets());
        b.extend_from_slice(&d.octets());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&pk.to_be_bytes());
        b.extend_from_slice(&by.to_be_bytes());
        b.extend_from_slice(&f.to_be_bytes());
        b.extend_from_slice(&l.to_be_bytes());
        b.extend_from_slice(&sp.to_be_bytes());
        b.extend_from_slice(&dp.to_be_bytes());
        b.extend_from_slice(&[0, fl, pr, 0]);
        b.extend_from_slice(&[0; 8]);
    }
    b
}

fn be(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}

/// A v9 packet from flowsets.
fn v9(source_id: u32, sets: &[Vec<u8>]) -> Vec<u8> {
    let mut b = be(&[9, sets.len() as u16]);
    b.extend_from_slice(&5_000u32.to_be_bytes());
    b.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    b.extend_from_slice(&1u32.to_be_bytes());
    b.extend_from_slice(&source_id.to_be_bytes());
    for s in sets {
        b.extend_from_slice(s);
    }
    b
}

fn set(id: u16, body: &[u8]) -> Vec<u8> {
    let mut b = be(&[id, (body.len() + 4) as u16]);
    b.extend_from_slice(body);
    b
}

/// v9 template 256: src4, dst4, sport, dport, proto, pkts(4), bytes(4), first(4), last(4), flags(1).
fn v9_template() -> Vec<u8> {
    let mut t = be(&[256, 10]);
    t.extend(be(&[8, 4, 12, 4, 7, 2, 11, 2, 4, 1, 2, 4, 1, 4, 22, 4, 21, 4, 6, 1]));
    set(0, &t)
}

#[allow(clippy::too_many_arguments)]
fn v9_record(s: [u8; 4], d: [u8; 4], sp: u16, dp: u16, pkts: u32, bytes: u32, first: u32, last: u32, flags: u8) -> Vec<u8> {
    let mut r = vec![];
    r.extend_from_slice(&s);
    r.extend_from_slice(&d);
    r.extend(be(&[sp, dp]));
    r.push(6);
    r.extend_from_slice(&pkts.to_be_bytes());
    r.extend_from_slice(&bytes.to_be_bytes());
    r.extend_from_slice(&first.to_be_bytes());
    r.extend_from_slice(&last.to_be_bytes());
    r.push(flags);
    r
}

fn ipfix(domain: u32, export: u32, sets: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = sets.concat();
    let mut b = be(&[10, (16 + body.len()) as u16]);
    b.extend_from_slice(&export.to_be_bytes());
    b.extend_from_slice(&1u32.to_be_bytes());
    b.extend_from_slice(&domain.to_be_bytes());
    b.extend(body);
    b
}

#[test]
fn v5_times_sampling_and_icmp() {
    // Record started 4 s before export (uptime 10 000, first 6 000), lasted 2 s; 1-in-10 sampling.
    let p = v5(
        &[("10.0.0.1", "8.8.8.8", 40000, 53, 17, 2, 150, 6000, 8000, 0), ("10.0.0.1", "8.8.8.8", 0, 0x0800, 1, 1, 84, 9000, 9000, 0)],
        10,
    );
    assert!(looks_like_export_packet(&p));
    let mut d = Decoder::new(DecoderConfig::default());
    let mut out = vec![];
    d.decode(ip("192.0.2.9"), &p, &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].start, Timestamp::from_secs(1_699_999_996));
    assert_eq!(out[0].end, Timestamp::from_secs(1_699_999_998));
    assert_eq!((out[0].packets, out[0].bytes, out[0].sampling), (20, 1500, 10));
    // ICMP echo request: type 8 code 0 from the destination port.
    assert_eq!((out[1].sport, out[1].dport), (8, 0));
}

#[test]
fn v5_count_beyond_packet_is_counted_not_trusted() {
    let mut p = v5(&[("10.0.0.1", "10.0.0.2", 1, 2, 6, 1, 40, 1, 1, 2)], 0);
    p[3] = 3; // claims 3 records, holds 1
    let mut d = Decoder::new(DecoderConfig::default());
    let mut out = vec![];
    d.decode(ip("192.0.2.9"), &p, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(d.stats.malformed_packets, 1);
}

#[test]
fn v9_templates_are_per_exporter_and_domain() {
    let rec = v9_record([10, 0, 0, 1], [1, 1, 1, 1], 5000, 443, 3, 180, 4000, 4500, 0x1b);
    let mut d = Decoder::new(DecoderConfig::default());
    let mut out = vec![];
    d.decode(ip("192.0.2.1"), &v9(1, &[v9_template()]), &mut out);
    // Same template id from another exporter / another source id: unknown there.
    d.decode(ip("192.0.2.2"), &v9(1, &[set(256, &rec)]), &mut out);
    d.decode(ip("192.0.2.1"), &v9(2, &[set(256, &rec)]), &mut out);
    assert!(out.is_empty());
    d.decode(ip("192.0.2.1"), &v9(1, &[set(256, &rec)]), &mut out);
    assert_eq!(out.len(), 1);
    let r = &out[0];
    assert_eq!((r.src, r.dport, r.packets, r.bytes, r.tcp_flags), (ip("10.0.0.1"), 443, 3, 180, 0x1b));
    // sysUptime 5000 at export 1 700 000 000: first 4000 is 1 s before.
    assert_eq!(r.start, Timestamp::from_secs(1_699_999_999));
    d.finish();
    assert_eq!(d.stats.template_misses, 2);
}

#[test]
fn data_before_template_is_buffered_then_decoded() {
    let rec = v9_record([10, 0, 0, 1], [1, 1, 1, 1], 5000, 443, 3, 180, 4000, 4500, 0x1b);
    let mut d = Decoder::new(DecoderConfig::default());
    let mut out = vec![];
    d.decode(ip("192.0.2.1"), &v9(0, &[set(256, &rec), v9_template()]), &mut out);
    out.extend(d.take_replayed());
    assert_eq!(out.len(), 1);
    d.finish();
    assert_eq!(d.stats.template_misses, 0);
    // Without the buffer, the same packet loses the record.
    let mut d = Decoder::new(DecoderConfig { max_buffered_sets: 0, ..Default::default() });
    let mut out = vec![];
    d.decode(ip("192.0.2.1"), &v9(0, &[set(256, &rec), v9_template()]), &mut out);
    out.extend(d.take_replayed());
    assert!(out.is_empty());
    assert_eq!(d.stats.template_misses, 1);
}

#[test]
fn template_flood_is_capped() {
    let mut d = Decoder::new(DecoderConfig { max_templates_per_domain: 16, ..Default::default() });
    let mut out = vec![];
    for id in 256..1256u16 {
        let mut t = be(&[id, 1, 8, 4]);
        t = set(2, &t);
        d.decode(ip("192.0.2.1"), &ipfix(0, 1_700_000_000, &[t]), &mut out);
    }
    assert_eq!(d.stats.templates, 16);
    assert_eq!(d.stats.templates_dropped, 1000 - 16);
}

#[test]
fn templates_expire() {
    let mut d = Decoder::new(DecoderConfig { template_ttl_secs: 60, ..Default::default() });
    let mut out = vec![];
    let t = set(2, &be(&[300, 2, 8, 4, 12, 4]));
    let data = set(300, &[10, 0, 0, 1, 10, 0, 0, 2]);
    d.decode(ip("192.0.2.1"), &ipfix(0, 1000, &[t]), &mut out);
    d.decode(ip("192.0.2.1"), &ipfix(0, 1050, std::slice::from_ref(&data)), &mut out);
    assert_eq!(out.len(), 1);
    d.decode(ip("192.0.2.1"), &ipfix(0, 1100, &[data]), &mut out);
    d.finish();
    assert_eq!(out.len(), 1);
    assert_eq!(d.stats.templates_expired, 1);
    assert_eq!(d.stats.template_misses, 1);
}

#[test]
fn ipfix_biflow_options_sampling_and_varlen() {
    let mut d = Decoder::new(DecoderConfig::default());
    let mut out = vec![];
    // Options template 400: scope observationDomainId(149), samplingPacketInterval 305, space 306.
    let opt_t = set(3, &be(&[400, 3, 1, 149, 4, 305, 4, 306, 4]));
    let mut opt_d = vec![];
    opt_d.extend_from_slice(&7u32.to_be_bytes());
    opt_d.extend_from_slice(&1u32.to_be_bytes());
    opt_d.extend_from_slice(&99u32.to_be_bytes());
    // Template 500: src4, dst4, sport, dport, proto, octets(8), reverse octets (PEN 29305),
    // flowStartMilliseconds, flowEndMilliseconds, a variable-length string (applicationName 96).
    let mut t = be(&[500, 10, 8, 4, 12, 4, 7, 2, 11, 2, 4, 1, 1, 8, 0x8001, 8]);
    t.extend_from_slice(&29305u32.to_be_bytes());
    t.extend(be(&[152, 8, 153, 8, 96, 0xffff]));
    let mut rec = vec![192, 168, 1, 5, 93, 184, 216, 34];
    rec.extend(be(&[50000, 443]));
    rec.push(6);
    rec.extend_from_slice(&1000u64.to_be_bytes());
    rec.extend_from_slice(&50_000u64.to_be_bytes());
    rec.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
    rec.extend_from_slice(&1_700_000_002_500u64.to_be_bytes());
    rec.push(5);
    rec.extend_from_slice(b"https");
    let pkt = ipfix(7, 1_700_000_010, &[opt_t, set(400, &opt_d), set(2, &t), set(500, &rec)]);
    assert!(looks_like_export_packet(&pkt));
    d.decode(ip("192.0.2.1"), &pkt, &mut out);
    assert_eq!(out.len(), 1, "{:?}", d.stats);
    let r = &out[0];
    assert!(r.biflow);
    // 1 packet in 100 sampled: counts scaled.
    assert_eq!((r.sampling, r.bytes, r.rev_bytes), (100, 100_000, 5_000_000));
    assert_eq!(r.start, Timestamp(1_700_000_000_000 * 1_000_000));
    assert_eq!(r.end, Timestamp(1_700_000_002_500 * 1_000_000));
    assert_eq!(d.stats.options_records, 1);
}

#[test]
fn hostile_sets_never_panic_and_are_counted() {
    let mut d = Decoder::new(DecoderConfig::default());
    let mut out = vec![];
    // Set length shorter than its header, longer than the packet, zero-length template fields.
    d.decode(ip("192.0.2.1"), &ipfix(0, 1, &[be(&[2, 2])]), &mut out);
    let mut long = be(&[256, 400]);
    long.extend_from_slice(&[1, 2, 3]);
    d.decode(ip("192.0.2.1"), &ipfix(0, 1, &[long]), &mut out);
    d.decode(ip("192.0.2.1"), &ipfix(0, 1, &[set(2, &be(&[600, 2, 8, 0, 12, 0]))]), &mut out);
    // A template with a huge field count and nothing behind it.
    d.decode(ip("192.0.2.1"), &ipfix(0, 1, &[set(2, &be(&[601, 65535]))]), &mut out);
    // Unknown version, empty packet.
    d.decode(ip("192.0.2.1"), &[0, 7, 0, 0], &mut out);
    d.decode(ip("192.0.2.1"), &[], &mut out);
    assert!(out.is_empty());
    let s = &d.stats;
    assert!(s.malformed_sets >= 2 && s.malformed_templates >= 2 && s.malformed_packets >= 2, "{s:?}");
}

#[test]
fn mutated_packets_never_panic() {
    let rec = v9_record([10, 0, 0, 1], [1, 1, 1, 1], 5000, 443, 3, 180, 4000, 4500, 0x1b);
    let seeds = [
        v5(&[("10.0.0.1", "8.8.8.8", 1, 2, 6, 1, 40, 1, 1, 2)], 3),
        v9(0, &[v9_template(), set(256, &rec)]),
        ipfix(0, 5, &[set(2, &be(&[300, 3, 8, 4, 12, 4, 96, 0xffff])), set(300, &[10, 0, 0, 1, 10, 0, 0, 2, 255, 0, 3, b'a', b'b', b'c'])]),
    ];
    let mut d = Decoder::new(DecoderConfig { max_templates_per_domain: 64, max_buffered_sets: 64, ..Default::default() });
    let mut out = vec![];
    for s in &seeds {
        for m in mutations(s) {
            d.decode(ip("192.0.2.1"), &m, &mut out);
            d.decode_stream(ip("192.0.2.2"), &m, &mut out);
            let _ = looks_like_export_packet(&m);
            out.clear();
        }
    }
    assert!(d.stats.packets > 6000);
}

fn rec(src: &str, sp: u16, dst: &str, dp: u16, start_s: i64, pkts: u64, flags: u8) -> FlowRecord {
    let mut r = FlowRecord::new(ip(src), ip(dst), sp, dp, 6);
    r.start = Timestamp::from_secs(start_s);
    r.end = Timestamp::from_secs(start_s + 1);
    r.packets = pkts;
    r.bytes = pkts * 100;
    r.tcp_flags = flags;
    r
}

#[test]
fn stitcher_pairs_directions_and_orients_by_start() {
    let opts = ImportOptions::default();
    let mut st = Stitcher::new(60.0, 1000);
    let mut stats = ImportStats::default();
    let mut out = vec![];
    // The response record arrives first but started later: the client is still the originator.
    st.push(rec("1.1.1.1", 443, "10.0.0.5", 50000, 101, 4, 0x12 | 0x01), &opts, &mut stats, &mut |c| out.push(c));
    st.push(rec("10.0.0.5", 50000, "1.1.1.1", 443, 100, 5, 0x02 | 0x10 | 0x01), &opts, &mut stats, &mut |c| out.push(c));
    // Unrelated one-sided SYN, far later: flushed at the end.
    st.push(rec("10.0.0.6", 1234, "1.1.1.1", 22, 5000, 1, 0x02), &opts, &mut stats, &mut |c| out.push(c));
    st.finish(&opts, &mut stats, &mut |c| out.push(c));
    assert_eq!(out.len(), 2);
    let c = &out[0];
    assert_eq!((c.orig_h, c.orig_p, c.resp_p), (ip("10.0.0.5"), 50000, 443));
    assert_eq!((c.orig_pkts, c.resp_pkts, c.orig_ip_bytes), (5, 4, 500));
    assert_eq!(c.conn_state, ConnState::SF);
    assert_eq!(c.local_orig, Some(true));
    assert_eq!(out[1].conn_state, ConnState::S0);
    assert_eq!(stats.flows_stitched, 2);
}

#[test]
fn stitcher_memory_is_bounded() {
    let opts = ImportOptions::default();
    let mut st = Stitcher::new(60.0, 100);
    let mut stats = ImportStats::default();
    let mut n = 0;
    for i in 0..10_000u32 {
        let src = Ipv4Addr::from(0x0a00_0000 + i).to_string();
        st.push(rec(&src, 1000, "1.1.1.1", 80, 100, 1, 0x02), &opts, &mut stats, &mut |_| n += 1);
        assert!(st_pending(&st) <= 101);
    }
    st.finish(&opts, &mut stats, &mut |_| n += 1);
    assert_eq!(n, 10_000);
}

fn st_pending(st: &Stitcher) -> usize {
    st.pending_len()
}

#[test]
fn dual_family_templates_pick_the_family_in_use() {
    // Template 700: src4, dst4, src6, dst6 (as Procera exports).
    let t = set(2, &be(&[700, 4, 8, 4, 12, 4, 27, 16, 28, 16]));
    let mut v6_flow = vec![0; 8];
    v6_flow.extend_from_slice(&"2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
    v6_flow.extend_from_slice(&"2001:db8::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
    let mut v4_flow = vec![10, 0, 0, 1, 10, 0, 0, 2];
    v4_flow.extend_from_slice(&[0; 32]);
    let mut d = Decoder::new(DecoderConfig::default());
    let mut out = vec![];
    d.decode(ip("192.0.2.1"), &ipfix(0, 1, &[t, set(700, &[v6_flow, v4_flow].concat())]), &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!((out[0].src, out[0].dst), (ip("2001:db8::1"), ip("2001:db8::2")));
    assert_eq!((out[1].src, out[1].dst), (ip("10.0.0.1"), ip("10.0.0.2")));
}

#[test]
fn icmp_echo_request_and_reply_are_one_conn() {
    let opts = ImportOptions::default();
    let mut st = Stitcher::new(60.0, 100);
    let mut stats = ImportStats::default();
    let mut out = vec![];
    let mut req = FlowRecord::new(ip("10.0.0.1"), ip("8.8.8.8"), 8, 0, 1);
    req.start = Timestamp::from_secs(100);
    req.end = req.start;
    req.packets = 3;
    let mut rep = FlowRecord::new(ip("8.8.8.8"), ip("10.0.0.1"), 0, 0, 1);
    rep.start = Timestamp::from_secs(100).add_secs_f64(0.01);
    rep.end = rep.start;
    rep.packets = 3;
    // An unreachable from the same host is not the echo's reply.
    let mut unreach = FlowRecord::new(ip("8.8.8.8"), ip("10.0.0.1"), 3, 1, 1);
    unreach.start = Timestamp::from_secs(101);
    unreach.end = unreach.start;
    for r in [rep, unreach, req] {
        st.push(r, &opts, &mut stats, &mut |c| out.push(c));
    }
    st.finish(&opts, &mut stats, &mut |c| out.push(c));
    assert_eq!(out.len(), 2);
    let echo = out.iter().find(|c| c.resp_pkts > 0).unwrap();
    assert_eq!((echo.orig_h, echo.orig_p, echo.resp_p, echo.orig_pkts, echo.resp_pkts), (ip("10.0.0.1"), 8, 0, 3, 3));
}

#[test]
fn exporter_and_domain_flood_is_bounded() {
    let mut d = Decoder::new(DecoderConfig { max_domains: 8, ..Default::default() });
    let mut out = vec![];
    let t = set(2, &be(&[300, 2, 8, 4, 12, 4]));
    // 100 observation domains of one exporter, then 100 exporters: only 8 pairs are tracked.
    for dom in 0..100u32 {
        d.decode(ip("192.0.2.1"), &ipfix(dom, 1, std::slice::from_ref(&t)), &mut out);
    }
    for last in 0..100u8 {
        d.decode(IpAddr::V4(Ipv4Addr::new(198, 51, 100, last)), &ipfix(0, 1, std::slice::from_ref(&t)), &mut out);
    }
    assert_eq!(d.stats.templates, 8);
    assert_eq!(d.stats.dropped_packets, 192);
}

#[test]
fn template_memory_has_one_budget_across_domains() {
    let mut d = Decoder::new(DecoderConfig { max_template_fields_total: 100, ..Default::default() });
    let mut out = vec![];
    // Templates of 30 fields each, spread over domains: 3 fit the 100-field budget.
    let wide = |id: u16| {
        let mut t = be(&[id, 30]);
        for i in 0..30u16 {
            t.extend(be(&[1000 + i, 4]));
        }
        set(2, &t)
    };
    for dom in 0..10u32 {
        d.decode(ip("192.0.2.1"), &ipfix(dom, 1, &[wide(300)]), &mut out);
    }
    assert_eq!((d.stats.templates, d.stats.templates_dropped), (3, 7));
    // Refreshing a held template costs nothing more; a withdrawal (field count 0) frees room.
    d.decode(ip("192.0.2.1"), &ipfix(0, 2, &[wide(300)]), &mut out);
    assert_eq!((d.stats.templates, d.stats.templates_dropped), (4, 7));
    d.decode(ip("192.0.2.1"), &ipfix(1, 2, &[set(2, &be(&[300, 0]))]), &mut out);
    d.decode(ip("192.0.2.1"), &ipfix(9, 2, &[wide(300)]), &mut out);
    assert_eq!((d.stats.templates, d.stats.templates_dropped), (5, 7));
    // Unknown IEs are counted once per template learnt.
    assert_eq!(d.stats.unknown_fields, 5 * 30);
}

#[test]
fn unknown_and_enterprise_fields_are_skipped_and_counted() {
    let mut d = Decoder::new(DecoderConfig::default());
    let mut out = vec![];
    // src4, an enterprise field (PEN 9, 4 bytes), unknown IE 999 (variable length), dst4, dport.
    let mut t = be(&[310, 5, 8, 4, 0x8000 | 77, 4]);
    t.extend_from_slice(&9u32.to_be_bytes());
    t.extend(be(&[999, 0xffff, 12, 4, 11, 2]));
    let mut rec = vec![10, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef, 3, b'x', b'y', b'z', 10, 0, 0, 2];
    rec.extend(be(&[443]));
    d.decode(ip("192.0.2.1"), &ipfix(0, 1_700_000_000, &[set(2, &t), set(310, &rec)]), &mut out);
    assert_eq!(out.len(), 1, "{:?}", d.stats);
    assert_eq!((out[0].src, out[0].dst, out[0].dport), (ip("10.0.0.1"), ip("10.0.0.2"), 443));
    assert_eq!(d.stats.unknown_fields, 2);
    assert_eq!(d.stats.malformed_sets, 0);
}

#[test]
fn record_longer_than_its_set_is_counted_not_read() {
    let mut d = Decoder::new(DecoderConfig::default());
    let mut out = vec![];
    // One good record, then one whose variable-length field claims 300 bytes of a 9-byte rest.
    let t = set(2, &be(&[320, 3, 8, 4, 12, 4, 96, 0xffff]));
    let mut data = vec![10, 0, 0, 1, 10, 0, 0, 2, 1, b'a'];
    data.extend_from_slice(&[10, 0, 0, 3, 10, 0, 0, 4, 255, 0x01, 0x2c]);
    d.decode(ip("192.0.2.1"), &ipfix(0, 1, &[t, set(320, &data)]), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(d.stats.records, 1);
    assert_eq!(d.stats.malformed_sets, 1);
    // v9: a data flowset whose length runs past the datagram.
    let mut d = Decoder::new(DecoderConfig::default());
    let rec = v9_record([10, 0, 0, 1], [1, 1, 1, 1], 5000, 443, 3, 180, 4000, 4500, 0x1b);
    let mut pkt = v9(0, &[v9_template(), set(256, &rec)]);
    let n = pkt.len();
    pkt[n - rec.len() - 2..n - rec.len()].copy_from_slice(&500u16.to_be_bytes());
    d.decode(ip("192.0.2.1"), &pkt, &mut out);
    assert_eq!(d.stats.malformed_sets, 1);
    assert_eq!(d.stats.records, 1, "the whole record inside the datagram is still read");
}
