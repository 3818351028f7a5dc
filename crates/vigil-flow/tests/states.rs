//! Hand-built packet sequences for every Zeek `conn_state` and history letter Vigil derives,
//! with the values Zeek's TCP/UDP/ICMP analyzers produce for the same packets.

use std::net::IpAddr;
use vigil_flow::{FlowConfig, FlowPacket, FlowTable, TcpFields};
use vigil_model::{Conn, ConnState, Timestamp};

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

const A_ISN: u32 = 1000;
const B_ISN: u32 = 5000;

struct Sim {
    table: FlowTable,
    out: Vec<Conn>,
    t: i64,
    a: (IpAddr, u16),
    b: (IpAddr, u16),
}

impl Sim {
    /// Client 10.0.0.1:40000, server 10.0.0.2:`bport`.
    fn new(bport: u16) -> Self {
        Sim {
            table: FlowTable::new(FlowConfig::default()),
            out: Vec::new(),
            t: 1_700_000_000_000_000_000,
            a: ("10.0.0.1".parse().unwrap(), 40000),
            b: ("10.0.0.2".parse().unwrap(), bport),
        }
    }

    fn step(&mut self, ms: i64) {
        self.t += ms * 1_000_000;
    }

    fn tcp_w(&mut self, from_a: bool, flags: u8, seq: u32, ack: u32, data: &[u8], window: u16) {
        self.step(10);
        let (s, d) = if from_a { (self.a, self.b) } else { (self.b, self.a) };
        let mut p = FlowPacket::new(Timestamp(self.t), s.0, s.1, d.0, d.1, 6);
        p.tcp = Some(TcpFields { flags, seq, ack, window });
        p.payload = data;
        p.payload_len = data.len() as u32;
        p.ip_len = 40 + data.len() as u32;
        let out = &mut self.out;
        self.table.process(&p, &mut |c| out.push(c));
    }

    fn tcp(&mut self, from_a: bool, flags: u8, seq: u32, ack: u32, data: &[u8]) {
        self.tcp_w(from_a, flags, seq, ack, data, 1024);
    }

    fn udp(&mut self, from_a: bool, len: usize) {
        self.step(10);
        let (s, d) = if from_a { (self.a, self.b) } else { (self.b, self.a) };
        let data = vec![0u8; len];
        let mut p = FlowPacket::new(Timestamp(self.t), s.0, s.1, d.0, d.1, 17);
        p.payload = &data;
        p.payload_len = len as u32;
        p.ip_len = 28 + len as u32;
        let out = &mut self.out;
        self.table.process(&p, &mut |c| out.push(c));
    }

    fn handshake(&mut self) {
        self.tcp(true, SYN, A_ISN, 0, b"");
        self.tcp(false, SYN | ACK, B_ISN, A_ISN + 1, b"");
        self.tcp(true, ACK, A_ISN + 1, B_ISN + 1, b"");
    }

    /// One request (10 bytes) and response (20 bytes), acknowledged.
    fn exchange(&mut self) {
        self.tcp(true, PSH | ACK, A_ISN + 1, B_ISN + 1, b"0123456789");
        self.tcp(false, PSH | ACK, B_ISN + 1, A_ISN + 11, b"abcdefghijklmnopqrst");
        self.tcp(true, ACK, A_ISN + 11, B_ISN + 21, b"");
    }

    fn finish(mut self) -> Vec<Conn> {
        let out = &mut self.out;
        self.table.flush(&mut |c| out.push(c));
        self.out
    }

    fn one(self) -> Conn {
        let mut v = self.finish();
        assert_eq!(v.len(), 1, "{v:#?}");
        v.remove(0)
    }
}

#[test]
fn s0_attempt_without_reply() {
    let mut s = Sim::new(7000);
    s.tcp(true, SYN, A_ISN, 0, b"");
    let c = s.one();
    assert_eq!(c.conn_state, ConnState::S0);
    assert_eq!(c.history, "S");
    assert_eq!((c.orig_pkts, c.resp_pkts, c.orig_ip_bytes), (1, 0, 40));
    // One packet: Zeek leaves duration and sizes unset.
    assert_eq!((c.duration, c.orig_bytes), (None, None));
    assert!(c.open);
}

#[test]
fn rej_syn_answered_by_rst() {
    let mut s = Sim::new(7000);
    s.tcp(true, SYN, A_ISN, 0, b"");
    s.tcp(false, RST | ACK, 0, A_ISN + 1, b"");
    let c = s.one();
    assert_eq!(c.conn_state, ConnState::REJ);
    assert_eq!(c.history, "Sr");
    assert!(!c.open);
}

#[test]
fn sf_normal_establishment_and_termination() {
    let mut s = Sim::new(7000);
    s.handshake();
    s.exchange();
    s.tcp(true, FIN | ACK, A_ISN + 11, B_ISN + 21, b"");
    s.tcp(false, FIN | ACK, B_ISN + 21, A_ISN + 12, b"");
    s.tcp(true, ACK, A_ISN + 12, B_ISN + 22, b"");
    let c = s.one();
    assert_eq!(c.conn_state, ConnState::SF);
    assert_eq!(c.history, "ShADdFf");
    assert_eq!((c.orig_bytes, c.resp_bytes), (Some(10), Some(20)));
    assert_eq!((c.orig_pkts, c.resp_pkts), (6, 3));
    assert_eq!(c.missed_bytes, 0);
    // The final ACK after both FINs does not extend the duration (Zeek stops the clock once
    // both sides closed): 7 packets 10 ms apart after the first.
    assert_eq!(c.duration, Some(0.07));
    assert!(!c.open);
    assert!(c.community_id.starts_with("1:"));
}

#[test]
fn s1_established_not_closed_is_open() {
    let mut s = Sim::new(7000);
    s.handshake();
    s.exchange();
    let c = s.one();
    assert_eq!(c.conn_state, ConnState::S1);
    assert_eq!(c.history, "ShADd");
    assert!(c.open);
}

#[test]
fn s2_and_s3_half_closed() {
    let mut s = Sim::new(7000);
    s.handshake();
    s.exchange();
    s.tcp(true, FIN | ACK, A_ISN + 11, B_ISN + 21, b"");
    let c = s.one();
    assert_eq!((c.conn_state, c.history.as_str()), (ConnState::S2, "ShADdF"));

    let mut s = Sim::new(7000);
    s.handshake();
    s.exchange();
    s.tcp(false, FIN | ACK, B_ISN + 21, A_ISN + 11, b"");
    let c = s.one();
    assert_eq!((c.conn_state, c.history.as_str()), (ConnState::S3, "ShADdf"));
}

#[test]
fn rsto_and_rstr_aborts() {
    let mut s = Sim::new(7000);
    s.handshake();
    s.exchange();
    s.tcp(true, RST | ACK, A_ISN + 11, B_ISN + 21, b"");
    let c = s.one();
    assert_eq!((c.conn_state, c.history.as_str()), (ConnState::RSTO, "ShADdR"));
    assert_eq!((c.orig_bytes, c.resp_bytes), (Some(10), Some(20)));

    let mut s = Sim::new(7000);
    s.handshake();
    s.exchange();
    s.tcp(false, RST, B_ISN + 21, 0, b"");
    let c = s.one();
    assert_eq!((c.conn_state, c.history.as_str()), (ConnState::RSTR, "ShADdr"));
}

#[test]
fn rstos0_syn_then_rst_from_originator() {
    let mut s = Sim::new(7000);
    s.tcp(true, SYN, A_ISN, 0, b"");
    s.tcp(true, RST, A_ISN + 1, 0, b"");
    let c = s.one();
    assert_eq!((c.conn_state, c.history.as_str()), (ConnState::RSTOS0, "SR"));
}

#[test]
fn sh_syn_then_fin_from_originator() {
    let mut s = Sim::new(7000);
    s.tcp(true, SYN, A_ISN, 0, b"");
    s.tcp(true, FIN, A_ISN + 1, 0, b"");
    let c = s.one();
    assert_eq!((c.conn_state, c.history.as_str()), (ConnState::SH, "SF"));
}

#[test]
fn syn_ack_first_from_server_port_flips_rstrh_and_shr() {
    // The SYN-ACK comes from port 80 (a likely server port), so Zeek flips the roles: the
    // client is the originator, '^' records the flip, 'h' is the responder's SYN-ACK.
    let mut s = Sim::new(80);
    s.tcp(false, SYN | ACK, B_ISN, A_ISN + 1, b"");
    s.tcp(false, RST, B_ISN + 1, 0, b"");
    let c = s.one();
    assert_eq!((c.orig_p, c.resp_p), (40000, 80));
    assert_eq!((c.conn_state, c.history.as_str()), (ConnState::RSTRH, "^hr"));

    let mut s = Sim::new(80);
    s.tcp(false, SYN | ACK, B_ISN, A_ISN + 1, b"");
    s.tcp(false, FIN | ACK, B_ISN + 1, A_ISN + 1, b"");
    let c = s.one();
    assert_eq!((c.conn_state, c.history.as_str()), (ConnState::SHR, "^hf"));
    assert_eq!((c.orig_pkts, c.resp_pkts), (0, 2));
}

#[test]
fn oth_midstream_and_no_flip_for_client_port() {
    let mut s = Sim::new(7000);
    s.tcp(true, PSH | ACK, A_ISN + 100, B_ISN + 100, b"midstream");
    s.tcp(false, ACK, B_ISN + 100, A_ISN + 109, b"");
    let c = s.one();
    assert_eq!((c.orig_p, c.resp_p), (40000, 7000));
    assert_eq!((c.conn_state, c.history.as_str()), (ConnState::OTH, "Da"));
    assert_eq!(c.orig_bytes, Some(9));
}

#[test]
fn midstream_from_server_port_flips() {
    let mut s = Sim::new(443);
    s.tcp(false, PSH | ACK, B_ISN + 100, A_ISN + 100, b"serverdata");
    let c = s.one();
    assert_eq!((c.orig_p, c.resp_p), (40000, 443));
    assert_eq!(c.history, "^d");
}

#[test]
fn retransmissions_scale_logarithmically() {
    let mut s = Sim::new(7000);
    s.handshake();
    for _ in 0..11 {
        s.tcp(true, PSH | ACK, A_ISN + 1, B_ISN + 1, b"0123456789");
    }
    s.tcp(false, PSH | ACK, B_ISN + 1, A_ISN + 11, b"abc");
    s.tcp(false, PSH | ACK, B_ISN + 1, A_ISN + 11, b"abc");
    let c = s.one();
    // First copy is data (D); retransmission #1 and #10 add T; the responder's repeat adds t.
    assert_eq!(c.history, "ShADTTdt");
    assert_eq!(c.orig_bytes, Some(10));
}

#[test]
fn zero_window_letters() {
    let mut s = Sim::new(7000);
    s.handshake();
    s.tcp_w(true, ACK, A_ISN + 1, B_ISN + 1, b"", 0);
    s.tcp_w(false, ACK, B_ISN + 1, A_ISN + 1, b"", 0);
    let c = s.one();
    assert_eq!(c.history, "ShAWaw");
}

#[test]
fn content_gap_counts_missed_bytes() {
    let mut s = Sim::new(7000);
    s.handshake();
    s.tcp(true, PSH | ACK, A_ISN + 1, B_ISN + 1, &[b'x'; 100]);
    // Bytes 101..200 never captured.
    s.tcp(true, PSH | ACK, A_ISN + 201, B_ISN + 1, &[b'y'; 100]);
    s.tcp(false, ACK, B_ISN + 1, A_ISN + 301, b"");
    let c = s.one();
    assert_eq!(c.missed_bytes, 100);
    assert_eq!(c.history, "ShADaG");
    // Sizes come from sequence numbers, so the unseen bytes still count.
    assert_eq!(c.orig_bytes, Some(300));
}

#[test]
fn acked_but_unseen_data_counts_in_size() {
    let mut s = Sim::new(7000);
    s.handshake();
    // The responder acknowledges 500 bytes none of which were captured.
    s.tcp(false, ACK, B_ISN + 1, A_ISN + 501, b"");
    let c = s.one();
    assert_eq!(c.orig_bytes, Some(500));
    assert_eq!(c.missed_bytes, 500);
}

#[test]
fn out_of_order_segments_are_reassembled_without_gap() {
    let mut s = Sim::new(7000);
    s.handshake();
    s.tcp(true, PSH | ACK, A_ISN + 11, B_ISN + 1, b"abcdefghij");
    s.tcp(true, PSH | ACK, A_ISN + 1, B_ISN + 1, b"0123456789");
    s.tcp(false, ACK, B_ISN + 1, A_ISN + 21, b"");
    let c = s.one();
    assert_eq!(c.missed_bytes, 0);
    assert_eq!(c.orig_bytes, Some(20));
    assert!(!c.history.contains('G'), "{}", c.history);
}

#[test]
fn fin_rst_and_multi_flag_letters() {
    let mut s = Sim::new(7000);
    s.handshake();
    s.tcp(true, FIN | RST | ACK, A_ISN + 1, B_ISN + 1, b"");
    let c = s.one();
    assert_eq!(c.history, "ShAI");

    let mut s = Sim::new(7000);
    s.tcp(true, SYN | FIN, A_ISN, 0, b"");
    let c = s.one();
    assert_eq!(c.history, "Q");
}

#[test]
fn repeated_fin_at_new_sequence_repeats_letter() {
    let mut s = Sim::new(7000);
    s.handshake();
    s.tcp(true, FIN | ACK, A_ISN + 1, B_ISN + 1, b"");
    s.tcp(true, FIN | ACK, A_ISN + 1, B_ISN + 1, b"");
    s.tcp(true, FIN | ACK, A_ISN + 5, B_ISN + 1, b"");
    let c = s.one();
    assert_eq!(c.history, "ShAFF");
}

#[test]
fn syn_retransmitted_after_attempt_delay_is_a_new_connection() {
    let mut s = Sim::new(7000);
    s.tcp(true, SYN, A_ISN, 0, b"");
    s.step(1000);
    s.tcp(true, SYN, A_ISN, 0, b"");
    s.step(6000);
    s.tcp(true, SYN, A_ISN, 0, b"");
    let v = s.finish();
    assert_eq!(v.len(), 2);
    assert_eq!((v[0].orig_pkts, v[0].history.as_str(), v[0].open), (2, "S", false));
    assert_eq!(v[1].orig_pkts, 1);
}

#[test]
fn new_syn_after_close_reuses_the_tuple_as_a_new_connection() {
    let mut s = Sim::new(7000);
    s.handshake();
    s.tcp(true, FIN | ACK, A_ISN + 1, B_ISN + 1, b"");
    s.tcp(false, FIN | ACK, B_ISN + 1, A_ISN + 2, b"");
    s.tcp(true, ACK, A_ISN + 2, B_ISN + 2, b"");
    s.tcp(true, SYN, A_ISN + 77_777, 0, b"");
    let v = s.finish();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].conn_state, ConnState::SF);
    assert_eq!(v[1].conn_state, ConnState::S0);
    assert_ne!(v[0].uid, v[1].uid);
}

#[test]
fn tcp_idle_timeout_splits_flows() {
    let mut s = Sim::new(7000);
    s.handshake();
    s.step(301_000);
    s.tcp(true, PSH | ACK, A_ISN + 1, B_ISN + 1, b"late");
    let v = s.finish();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].conn_state, ConnState::S1);
    assert!(!v[0].open);
    assert_eq!(v[1].conn_state, ConnState::OTH);
}

#[test]
fn udp_states_history_and_timeout() {
    let mut s = Sim::new(7000);
    s.udp(true, 30);
    s.udp(false, 50);
    s.udp(true, 10);
    let c = s.one();
    assert_eq!((c.conn_state, c.history.as_str()), (ConnState::SF, "Dd"));
    assert_eq!((c.orig_bytes, c.resp_bytes), (Some(40), Some(50)));
    assert_eq!((c.orig_ip_bytes, c.resp_ip_bytes), (96, 78));

    let mut s = Sim::new(7000);
    s.udp(true, 30);
    let c = s.one();
    assert_eq!((c.conn_state, c.history.as_str(), c.duration), (ConnState::S0, "D", None));

    // First packet from a DNS server port to a client port: Zeek flips, the originator never
    // spoke, so SHR with history ^d.
    let mut s = Sim::new(53);
    s.udp(false, 60);
    let c = s.one();
    assert_eq!((c.orig_p, c.resp_p), (40000, 53));
    assert_eq!((c.conn_state, c.history.as_str()), (ConnState::SHR, "^d"));

    let mut s = Sim::new(7000);
    s.udp(true, 30);
    s.step(61_000);
    s.udp(true, 30);
    assert_eq!(s.finish().len(), 2);
}

#[test]
fn icmp_echo_pairs_and_one_way_messages() {
    let mut table = FlowTable::new(FlowConfig::default());
    let mut out = Vec::new();
    let a: IpAddr = "192.168.0.89".parse().unwrap();
    let b: IpAddr = "192.168.0.1".parse().unwrap();
    let mut req = FlowPacket::new(Timestamp::from_secs(10), a, 8, b, 0, 1);
    req.payload_len = 56;
    req.ip_len = 84;
    let mut rep = FlowPacket::new(Timestamp::from_secs(11), b, 0, a, 0, 1);
    rep.payload_len = 56;
    rep.ip_len = 84;
    let mut unreach = FlowPacket::new(Timestamp::from_secs(12), b, 3, a, 3, 1);
    unreach.payload_len = 28;
    unreach.ip_len = 56;
    for p in [&req, &rep, &unreach] {
        table.process(p, &mut |c| out.push(c));
    }
    table.flush(&mut |c| out.push(c));
    assert_eq!(out.len(), 2);
    let echo = &out[0];
    assert_eq!((echo.orig_p, echo.resp_p, echo.conn_state), (8, 0, ConnState::OTH));
    assert_eq!((echo.orig_pkts, echo.resp_pkts, echo.orig_bytes, echo.resp_bytes), (1, 1, Some(56), Some(56)));
    assert_eq!(echo.history, "");
    assert_eq!(echo.community_id, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
    let un = &out[1];
    assert_eq!((un.orig_h, un.orig_p, un.resp_p), (b, 3, 3));
}

#[test]
fn uids_are_deterministic_across_runs() {
    let run = || {
        let mut s = Sim::new(7000);
        s.handshake();
        s.udp(true, 5);
        s.finish().into_iter().map(|c| c.uid).collect::<Vec<_>>()
    };
    let a = run();
    assert_eq!(a, run());
    assert_eq!(a.len(), 2);
    assert_ne!(a[0], a[1]);
}

#[test]
fn local_flags_follow_configured_networks() {
    let cfg = FlowConfig { local_nets: vec![("10.0.0.0".parse().unwrap(), 8)], ..FlowConfig::default() };
    let mut table = FlowTable::new(cfg);
    let mut out = Vec::new();
    let p = FlowPacket::new(Timestamp::from_secs(1), "10.1.2.3".parse().unwrap(), 5000, "8.8.8.8".parse().unwrap(), 53, 17);
    table.process(&p, &mut |c| out.push(c));
    table.flush(&mut |c| out.push(c));
    assert_eq!((out[0].local_orig, out[0].local_resp), (Some(true), Some(false)));
    // Unconfigured: unset.
    let mut s = Sim::new(7000);
    s.udp(true, 1);
    assert_eq!(s.one().local_orig, None);
}
