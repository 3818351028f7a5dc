use crate::ImportOptions;
use crate::eve::EveReader;
use crate::stats::ImportStats;
use vigil_model::{Conn, Finding, FindingKind, Severity};

fn run(lines: &[&str], opts: &ImportOptions) -> (ImportStats, Vec<Conn>, Vec<Finding>) {
    let mut r = EveReader::new(opts);
    let mut s = ImportStats::default();
    let (mut c, mut f) = (vec![], vec![]);
    for l in lines {
        r.line(l, &mut s, &mut |x| c.push(x), &mut |x| f.push(x));
    }
    r.finish(&mut s, &mut |x| c.push(x));
    (s, c, f)
}

const TLS: &str = r#"{"timestamp":"2024-01-01T10:00:00.100000+0000","flow_id":42,"event_type":"tls","src_ip":"10.0.0.5","src_port":50000,"dest_ip":"93.184.216.34","dest_port":443,"proto":"TCP","tls":{"sni":"example.com","version":"TLS 1.3","ja3":{"hash":"aaa"},"ja4":"t13d1516h2_8daaf6152771_e5627efa2ab1","subject":"CN=example.com","issuerdn":"CN=CA","notafter":"2030-01-01T00:00:00"}}"#;
const DNS_V3_Q: &str = r#"{"timestamp":"2024-01-01T10:00:00.000000+0000","flow_id":43,"event_type":"dns","src_ip":"10.0.0.5","src_port":40000,"dest_ip":"10.0.0.1","dest_port":53,"proto":"UDP","dns":{"version":3,"type":"request","id":9,"queries":[{"rrname":"example.com","rrtype":"AAAA"}]}}"#;
const DNS_V3_A: &str = r#"{"timestamp":"2024-01-01T10:00:00.020000+0000","flow_id":43,"event_type":"dns","src_ip":"10.0.0.1","src_port":53,"dest_ip":"10.0.0.5","dest_port":40000,"proto":"UDP","dns":{"version":3,"type":"response","id":9,"rcode":"NXDOMAIN","queries":[{"rrname":"example.com","rrtype":"AAAA"}],"answers":[]}}"#;
const FLOW: &str = r#"{"timestamp":"2024-01-01T10:01:00.000000+0000","flow_id":42,"event_type":"flow","src_ip":"10.0.0.5","src_port":50000,"dest_ip":"93.184.216.34","dest_port":443,"proto":"TCP","app_proto":"tls","flow":{"pkts_toserver":10,"pkts_toclient":8,"bytes_toserver":1200,"bytes_toclient":9000,"start":"2024-01-01T10:00:00.000000+0000","end":"2024-01-01T10:00:30.000000+0000","state":"closed"},"tcp":{"tcp_flags_ts":"1b","tcp_flags_tc":"1b"},"community_id":"1:abc","ether":{"src_mac":"00:11:22:33:44:55","dest_mac":"zz"}}"#;
const ALERT: &str = r#"{"timestamp":"2024-01-01T10:00:01.000000+0100","flow_id":42,"event_type":"alert","src_ip":"93.184.216.34","src_port":443,"dest_ip":"10.0.0.5","dest_port":50000,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2000001,"rev":3,"signature":"ET MALWARE test","category":"A Network Trojan was detected","severity":1,"metadata":{"mitre_technique_id":["T1071"]}}}"#;

#[test]
fn flow_joins_tls_and_alert_becomes_finding() {
    let (s, c, f) = run(&[TLS, ALERT, FLOW], &ImportOptions::default());
    assert_eq!((c.len(), f.len(), s.app_joined), (1, 1, 1));
    let conn = &c[0];
    assert_eq!(conn.service.as_deref(), Some("ssl"));
    assert_eq!(conn.duration, Some(30.0));
    assert_eq!((conn.orig_pkts, conn.resp_ip_bytes), (10, 9000));
    assert_eq!(conn.conn_state, vigil_model::ConnState::SF);
    assert_eq!(conn.community_id, "1:abc");
    assert_eq!(conn.orig_l2_addr, Some([0, 0x11, 0x22, 0x33, 0x44, 0x55]));
    assert_eq!(conn.resp_l2_addr, None);
    let t = conn.app.tls.as_ref().unwrap();
    assert_eq!((t.server_name.as_deref(), t.version, t.ja3.as_deref()), (Some("example.com"), Some(0x0304), Some("aaa")));
    assert!(t.ja4.is_some() && t.cert.as_ref().unwrap().not_after.is_some());
    let a = &f[0];
    assert_eq!((a.kind, a.severity), (FindingKind::IocMatch, Severity::High));
    // The internal host is the subject even though the alert's source is the outside server.
    assert_eq!(a.src, "10.0.0.5");
    assert_eq!(a.dst, vec!["93.184.216.34"]);
    assert_eq!(a.evidence["signature_id"], 2000001);
    assert_eq!(a.evidence["rev"], 3);
    assert_eq!(a.attack, vec!["T1071"]);
    assert_eq!(a.first_seen.to_rfc3339(), "2024-01-01T10:00:01+01:00");
}

#[test]
fn internal_predicate_decides_the_subject() {
    let opts = ImportOptions { internal: Some(Box::new(|ip| ip.to_string() == "93.184.216.34")), ..Default::default() };
    let (_, _, f) = run(&[ALERT], &opts);
    assert_eq!(f[0].src, "93.184.216.34");
}

#[test]
fn dns_v3_request_and_response_without_flow_become_one_orphan_conn() {
    let (s, c, _) = run(&[DNS_V3_Q, DNS_V3_A], &ImportOptions::default());
    assert_eq!((c.len(), s.app_orphans), (1, 2));
    let conn = &c[0];
    assert_eq!((conn.orig_p, conn.resp_p), (40000, 53));
    let d = &conn.app.dns[0];
    assert_eq!((d.query.as_deref(), d.qtype, d.rcode, d.trans_id), (Some("example.com"), Some(28), Some(3), 9));
    assert!((d.rtt.unwrap() - 0.02).abs() < 1e-9);
    // The response (rcode NXDOMAIN) proves the server answered; the query alone does not.
    assert_eq!(conn.conn_state, vigil_model::ConnState::SF);
    let (_, q, _) = run(&[DNS_V3_Q], &ImportOptions::default());
    assert_eq!(q[0].conn_state, vigil_model::ConnState::OTH);
    // A tls event is logged for a handshake: without its flow the session is still established.
    let (_, t, _) = run(&[TLS], &ImportOptions::default());
    assert_eq!((t.len(), t[0].conn_state), (1, vigil_model::ConnState::S1));
}

#[test]
fn netflow_halves_are_paired() {
    let a = r#"{"timestamp":"2024-01-01T10:00:00+0000","flow_id":7,"event_type":"netflow","src_ip":"10.0.0.5","src_port":1,"dest_ip":"10.0.0.6","dest_port":2,"proto":"UDP","netflow":{"pkts":3,"bytes":300,"start":"2024-01-01T10:00:00.000000+0000","end":"2024-01-01T10:00:01.000000+0000"}}"#;
    let b = r#"{"timestamp":"2024-01-01T10:00:00+0000","flow_id":7,"event_type":"netflow","src_ip":"10.0.0.6","src_port":2,"dest_ip":"10.0.0.5","dest_port":1,"proto":"UDP","netflow":{"pkts":2,"bytes":200,"start":"2024-01-01T10:00:00.500000+0000","end":"2024-01-01T10:00:02.000000+0000"}}"#;
    let (_, c, _) = run(&[a, b], &ImportOptions::default());
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].orig_pkts, c[0].resp_pkts, c[0].resp_ip_bytes), (3, 2, 200));
    assert_eq!(c[0].duration, Some(2.0));
}

#[test]
fn wrong_types_and_junk_are_counted() {
    let lines = [
        "not json",
        r#"{"event_type":"flow","src_ip":"10.0.0.1","dest_ip":"x","proto":"TCP"}"#,
        r#"{"event_type":"flow","src_ip":"10.0.0.1","src_port":"80","dest_ip":"10.0.0.2","dest_port":1,"proto":"TCP","flow":{"start":12}}"#,
        r#"{"event_type":"tls","flow_id":"x","src_ip":"10.0.0.1","src_port":1,"dest_ip":"10.0.0.2","dest_port":1,"proto":"TCP","timestamp":"2024-01-01T10:00:00+0000","tls":5}"#,
        r#"{"event_type":"alert","src_ip":"10.0.0.1","src_port":1,"dest_ip":"10.0.0.2","dest_port":1,"proto":"TCP","timestamp":"garbage","alert":{}}"#,
        r#"{"event_type":"dns","flow_id":1,"src_ip":"10.0.0.1","src_port":1,"dest_ip":"10.0.0.2","dest_port":53,"proto":17,"timestamp":"2024-01-01T10:00:00+0000","dns":{"type":"answer","id":99999,"answers":[1,{"rdata":7}]}}"#,
        r#"{"event_type":"stats","stats":{}}"#,
    ];
    let (s, c, f) = run(&lines, &ImportOptions::default());
    assert!(f.is_empty());
    assert_eq!(c.len(), 1, "{s}");
    assert_eq!(s.records, 7);
    assert_eq!(s.skipped_total(), 5, "{s}");
}

#[test]
fn app_map_is_bounded() {
    let opts = ImportOptions { max_pending_app: 5, ..Default::default() };
    let lines: Vec<String> = (0..50).map(|i| TLS.replace("\"flow_id\":42", &format!("\"flow_id\":{i}"))).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (s, c, _) = run(&refs, &opts);
    assert_eq!(c.len(), 5);
    assert_eq!(s.dropped, 45);
}
