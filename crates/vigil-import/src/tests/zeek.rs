use crate::stats::ImportStats;
use crate::zeek::{Joiner, LogKind, read_log};
use crate::{Format, ImportOptions, import_path, sniff};
use std::io::Write;
use vigil_model::{Conn, ConnState};

const CONN_HDR: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n";

fn write(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn gz(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    let mut e = flate2::write::GzEncoder::new(std::fs::File::create(&p).unwrap(), flate2::Compression::fast());
    e.write_all(body.as_bytes()).unwrap();
    e.finish().unwrap();
    p
}

fn all(p: &std::path::Path) -> (ImportStats, Vec<Conn>) {
    let mut v = vec![];
    let s = import_path(p, &mut |c| v.push(c), &mut |_| {}).unwrap();
    (s, v)
}

#[test]
fn columns_are_read_by_name_in_any_order_with_extra_columns() {
    let d = tempfile::tempdir().unwrap();
    // Reordered columns, an unknown one, Stratosphere labels, unset and empty values.
    let body = format!(
        "{CONN_HDR}#fields\tid.resp_p\tlabel\tuid\tts\tid.orig_h\tid.orig_p\tid.resp_h\tproto\tconn_state\torig_bytes\ttunnel_parents\tservice\tfoo\n\
         443\tMalicious\tCabc\t1600000000.5\t10.0.0.1\t5555\t1.2.3.4\ttcp\tSF\t-\t(empty)\t-\tbar\n"
    );
    let p = write(d.path(), "whatever.txt", &body);
    assert_eq!(sniff(&p), Some(Format::ZeekTsv));
    let (s, v) = all(&p);
    assert_eq!(v.len(), 1, "{s}");
    let c = &v[0];
    assert_eq!((c.uid.as_str(), c.orig_p, c.resp_p, c.proto), ("Cabc", 5555, 443, 6));
    assert_eq!(c.conn_state, ConnState::SF);
    assert_eq!(c.orig_bytes, None);
    assert!(c.tunnel_parents.is_empty());
    assert_eq!(c.service, None);
    assert_eq!(c.ts.0, 1_600_000_000_500_000_000);
    assert!(c.community_id.starts_with("1:"));
}

#[test]
fn custom_separators_and_escapes() {
    let d = tempfile::tempdir().unwrap();
    let body = "#separator |\n#set_separator|;\n#empty_field|EMPTY\n#unset_field|NONE\n#path|conn\n\
                #fields|ts|uid|id.orig_h|id.orig_p|id.resp_h|id.resp_p|proto|tunnel_parents|history\n\
                1.0|C1|10.0.0.1|1|10.0.0.2|2|udp|Ca;Cb|D\\x7cd\n";
    let p = write(d.path(), "c.log", body);
    let (_, v) = all(&p);
    assert_eq!(v[0].tunnel_parents, vec!["Ca", "Cb"]);
    assert_eq!(v[0].history, "D|d");
}

#[test]
fn json_lines_with_iso_time_and_wrong_types() {
    let d = tempfile::tempdir().unwrap();
    let body = r#"{"_path":"conn","ts":"2018-03-24T17:15:20.615923Z","uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":80,"proto":"tcp","orig_bytes":"12","resp_bytes":[1],"duration":-3}
{"_path":"conn","ts":1.0,"uid":"C2","id.orig_h":"not-an-ip","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":80,"proto":"tcp"}
{"_path":"conn","ts":1.0,"uid":"C3","id.orig_h":"10.0.0.1","id.orig_p":70000,"id.resp_h":"10.0.0.2","id.resp_p":80,"proto":"tcp"}
[1,2,3]
"#;
    let p = write(d.path(), "conn.json", body);
    assert_eq!(sniff(&p), Some(Format::ZeekJson));
    let (s, v) = all(&p);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].ts.0, 1_521_911_720_615_923_000);
    assert_eq!(v[0].orig_bytes, Some(12));
    assert_eq!(v[0].resp_bytes, None);
    assert_eq!(v[0].duration, None);
    assert_eq!(s.skipped.get("zeek conn: missing ts or five-tuple"), Some(&2));
    assert_eq!(s.skipped.get("zeek json: not a JSON object"), Some(&1));
}

#[test]
fn nested_json_and_zoneless_iso_time() {
    let d = tempfile::tempdir().unwrap();
    let body = r#"{"_path":"conn","ts":"2024-01-01T00:00:01.5","uid":"C1","id":{"orig_h":"10.0.0.1","orig_p":1,"resp_h":"10.0.0.2","resp_p":80},"proto":"tcp"}
"#;
    let p = write(d.path(), "conn.json", body);
    let (_, v) = all(&p);
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].orig_p, v[0].resp_p, v[0].ts.0), (1, 80, 1_704_067_201_500_000_000));
}

#[test]
fn directory_join_with_rotated_gz_logs() {
    let d = tempfile::tempdir().unwrap();
    let conn_fields = "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\n";
    gz(d.path(), "conn.2024-01-01-00-00-00.log.gz", &format!("{CONN_HDR}{conn_fields}1.0\tC1\t10.0.0.1\t1000\t1.1.1.1\t443\ttcp\tssl\n"));
    write(
        d.path(),
        "conn.log",
        &format!("{CONN_HDR}{conn_fields}2.0\tC2\t10.0.0.1\t1001\t8.8.8.8\t53\tudp\tdns\n3.0\tC4\t10.0.0.1\t22\t10.0.0.9\t22\ttcp\t-\n"),
    );
    write(
        d.path(),
        "ssl.log",
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tssl\n\
         #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tversion\tcipher\tcurve\tserver_name\testablished\tja3\tja4\tcert_chain_fps\n\
         1.1\tC1\t10.0.0.1\t1000\t1.1.1.1\t443\tTLSv13\tTLS_AES_128_GCM_SHA256\tx25519\texample.com\tT\tabc\tt13d1516h2_8daaf6152771_e5627efa2ab1\taaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n\
         9.0\tC3\t10.0.0.7\t999\t1.1.1.1\t443\tTLSv12\t-\t-\torphan.example\tF\t-\t-\t(empty)\n",
    );
    write(
        d.path(),
        "x509.log",
        r#"{"_path":"x509","ts":1.0,"fingerprint":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","certificate.subject":"CN=example.com","certificate.issuer":"CN=example.com","san.dns":["example.com"]}
"#,
    );
    write(
        d.path(),
        "dns.log",
        r#"{"_path":"dns","ts":2.0,"uid":"C2","id.orig_h":"10.0.0.1","id.orig_p":1001,"id.resp_h":"8.8.8.8","id.resp_p":53,"proto":"udp","trans_id":7,"query":"example.com","qtype":1,"rcode":0,"answers":["1.2.3.4"],"TTLs":[60.0],"RD":true}
"#,
    );
    write(
        d.path(),
        "ssh.log",
        "#separator \\x09\n#path\tssh\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tclient\tserver\tauth_success\thassh\thasshServer\n3.1\tC4\t10.0.0.1\t22\t10.0.0.9\t22\tSSH-2.0-OpenSSH_9.0\tSSH-2.0-dropbear\tT\tec7378c1a92f5a8dde7e8b7a1ddf33d1\tb12d2871a1189eff20364cf5333619ee\n",
    );
    let (s, v) = all(d.path());
    assert_eq!(v.len(), 4, "{s}");
    assert_eq!((s.app_joined, s.app_orphans), (3, 1));
    let by = |uid: &str| v.iter().find(|c| c.uid == uid).unwrap();
    let t = by("C1").app.tls.as_ref().unwrap();
    assert_eq!(t.server_name.as_deref(), Some("example.com"));
    assert_eq!((t.version, t.cipher, t.curve), (Some(0x0304), Some(0x1301), Some(29)));
    assert!(t.ja4.as_deref().unwrap().starts_with("t13"));
    assert!(t.cert.as_ref().unwrap().self_signed);
    assert_eq!(t.cert.as_ref().unwrap().san_dns, vec!["example.com"]);
    let dns = &by("C2").app.dns[0];
    assert_eq!((dns.query.as_deref(), dns.trans_id, dns.rd), (Some("example.com"), 7, true));
    let ssh = by("C4").app.ssh.as_ref().unwrap();
    assert_eq!(ssh.auth_success, Some(true));
    assert_eq!(ssh.hassh_server.as_deref(), Some("b12d2871a1189eff20364cf5333619ee"));
    // The orphan ssl record is its own connection, not lost.
    let o = by("C3");
    assert_eq!(o.app.tls.as_ref().unwrap().server_name.as_deref(), Some("orphan.example"));
    assert_eq!(o.service.as_deref(), Some("ssl"));
    // Its handshake did not complete (established F): nothing says the server answered.
    assert_eq!(o.conn_state, ConnState::OTH);
}

#[test]
fn join_map_is_bounded() {
    let opts = ImportOptions { max_pending_app: 10, ..Default::default() };
    let d = tempfile::tempdir().unwrap();
    let mut body = String::from("#separator \\x09\n#path\thttp\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\thost\n");
    for i in 0..100 {
        body.push_str(&format!("{i}.0\tC{i}\t10.0.0.1\t{}\t1.1.1.1\t80\th{i}\n", 1000 + i));
    }
    let p = write(d.path(), "http.log", &body);
    let mut j = Joiner::new(&opts);
    let mut stats = ImportStats::default();
    let mut n = 0;
    read_log(&p, &mut stats, |k, r, st| j.row(k, r, st, &mut |_| n += 1)).unwrap();
    // 90 emitted at once when the map was full, 10 held.
    assert_eq!(n, 90);
    j.finish(&mut stats, &mut |_| n += 1);
    assert_eq!(n, 100);
    assert_eq!(stats.skipped.get("zeek join map full: app record emitted unjoined"), Some(&90));
}

#[test]
fn hostile_lines_never_panic() {
    let d = tempfile::tempdir().unwrap();
    let mut body = String::from(CONN_HDR);
    body.push_str("#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n");
    for junk in
        ["\\x", "\\xZZ", "\t\t\t\t\t\t\t\t\t\t", "1e400\tC\t::1\t1\t::2\t2\ttcp", "-1\tC\t1.1.1.1\t-5\t2.2.2.2\t2\ttcp", "\u{fffd}\u{0}"]
    {
        body.push_str(junk);
        body.push('\n');
    }
    body.push_str("#fields\n1\t2\n");
    let p = write(d.path(), "conn.log", &body);
    let (s, v) = all(&p);
    assert!(v.is_empty(), "{v:?}");
    assert_eq!(s.records, 7);
    assert!(LogKind::Conn < LogKind::OpenConn);
}

#[test]
fn fast_parsers_agree_with_the_general_ones() {
    use crate::zeek::{fast_epoch, fast_f64, fast_ipv4, fast_ipv6, fast_u64, split_spans};
    use std::net::IpAddr;
    // Addresses: every form the fast paths accept must parse to what std parses; forms they
    // refuse must be left to std (None), never mis-parsed.
    let addrs = [
        "0.0.0.0",
        "255.255.255.255",
        "10.0.0.1",
        "192.168.1.114",
        "256.1.1.1",
        "1.2.3",
        "1.2.3.4.5",
        "01.2.3.4",
        "1..2.3",
        "1.2.3.4 ",
        "::",
        "::1",
        "1::",
        "fe80::5dd3:6bb3:7720:1e83",
        "ff02::1:3",
        "fd2d:ab8c:225:0:81d3:fd3e:7f62:aec8",
        "2001:DB8::A:b",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7",
        "1::2::3",
        ":1:2",
        "1:2:",
        "12345::1",
        "::ffff:1.2.3.4",
        "fe80::1%eth0",
        "1:2:3:4:5:6:7::",
        "::1:2:3:4:5:6:7",
        "1:2:3:4::5:6:7:8",
        "g::1",
        "",
        ":",
        ":::",
    ];
    for a in addrs {
        let std: Option<IpAddr> = a.parse().ok();
        for fast in [fast_ipv4(a.as_bytes()), fast_ipv6(a.as_bytes())].into_iter().flatten() {
            assert_eq!(Some(fast), std, "{a}");
        }
    }
    assert!(fast_ipv6(b"fe80::5dd3:6bb3:7720:1e83").is_some() && fast_ipv4(b"192.168.1.114").is_some());
    // Numbers and times.
    for n in ["0", "7", "1234567890123456789"] {
        assert_eq!(fast_u64(n.as_bytes()), n.parse().ok(), "{n}");
    }
    // 20 digits may overflow: left to the general parse.
    assert_eq!(fast_u64(b"18446744073709551615"), None);
    for n in ["", "-1", "+1", "1.0", "99999999999999999999", " 1"] {
        assert_eq!(fast_u64(n.as_bytes()), None, "{n}");
    }
    assert_eq!(fast_epoch(b"1700000000.123456").map(|t| t.0), Some(1_700_000_000_123_456_000));
    assert_eq!(fast_epoch(b"1700000000").map(|t| t.0), Some(1_700_000_000_000_000_000));
    assert_eq!(fast_epoch(b"0.5").map(|t| t.0), Some(500_000_000));
    for t in ["1e9", "-1.0", "1.2.3", ".", "1.1234567891", "100000000000.0", "abc"] {
        assert_eq!(fast_epoch(t.as_bytes()), None, "{t}");
    }
    // The last instant whose nanoseconds fit an i64 (2262-04-11), and past it: left to the
    // float path, which saturates (a damaged log once overflowed the multiplication here).
    assert_eq!(fast_epoch(b"9223372036.854775807").map(|t| t.0), Some(i64::MAX));
    for t in ["9223372036.854775808", "9223372037", "99999999999.999999999"] {
        assert_eq!(fast_epoch(t.as_bytes()), None, "{t}");
    }
    // Decimals: bit-for-bit what the float parser gives, for Zeek's forms and random ones;
    // everything else left to it.
    let mut y: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut decimals: Vec<String> =
        ["0", "0.0", "3.000001", "0.003512", "123456789.012345", "999999999999999", "0.1", "2.675"].iter().map(|s| s.to_string()).collect();
    for _ in 0..20_000 {
        y ^= y << 13;
        y ^= y >> 7;
        y ^= y << 17;
        let digits = (y % 15 + 1) as usize;
        let point = ((y >> 8) % digits as u64) as usize;
        let num = format!("{:015}", y >> 12);
        let num = num.get(num.len() - digits..).unwrap_or("1");
        decimals.push(if point == 0 { num.to_string() } else { format!("{}.{}", &num[..point], &num[point..]) });
    }
    for d in &decimals {
        assert_eq!(fast_f64(d.as_bytes()).map(f64::to_bits), d.parse::<f64>().ok().map(f64::to_bits), "{d}");
    }
    for d in ["", ".5", "5.", "-1.0", "1e5", "1.2.3", "1234567890.1234567", " 1.0", "inf", "NaN"] {
        assert_eq!(fast_f64(d.as_bytes()), None, "{d}");
    }
    // Field splitting: the word-at-a-time scan finds what a byte scan finds, at every offset.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for len in 0..80 {
        let line: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                [b'\t', b'a', 0x89, 0x09 ^ 0x80, 0x08, b'\n'][(x % 6) as usize]
            })
            .collect();
        let mut got = Vec::new();
        split_spans(&line, b'\t', &mut got);
        let mut want = Vec::new();
        let mut start = 0;
        for (i, &b) in line.iter().enumerate() {
            if b == b'\t' {
                want.push((start, i));
                start = i + 1;
            }
        }
        want.push((start, line.len()));
        assert_eq!(got, want, "{line:?}");
    }
}

fn hdr(path: &str, fields: &str) -> String {
    format!("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t{path}\n#fields\t{fields}\n")
}

#[test]
fn smb_and_dce_rpc_logs_fill_the_dissected_metadata_of_their_conn() {
    let d = tempfile::tempdir().unwrap();
    let id = "10.0.0.5\t50000\t10.0.0.9\t445";
    write(
        d.path(),
        "conn.log",
        &format!(
            "{}1.0\tCsmb\t{id}\ttcp\tsmb,dce_rpc\tSF\n",
            hdr("conn", "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tconn_state")
        ),
    );
    write(
        d.path(),
        "smb_mapping.log",
        &format!(
            "{}1.1\tCsmb\t{id}\t\\\\\\\\FS1\\\\ADMIN$\t-\t-\tDISK\n1.2\tCsmb\t{id}\t\\\\\\\\FS1\\\\IPC$\tIPC\t-\tPIPE\n1.3\tCsmb\t{id}\t\\\\\\\\FS1\\\\ADMIN$\t-\t-\tDISK\n",
            hdr("smb_mapping", "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tpath\tservice\tnative_file_system\tshare_type")
        ),
    );
    let files = "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tfuid\taction\tpath\tname\tsize\tprev_name\ttimes.modified\ttimes.accessed\ttimes.created\ttimes.changed";
    write(
        d.path(),
        "smb_files.log",
        &format!(
            "{}1.4\tCsmb\t{id}\t-\tSMB::FILE_OPEN\t\\\\\\\\FS1\\\\ADMIN$\tTemp\\\\x.exe\t0\t-\t-\t-\t-\t-\n\
             1.5\tCsmb\t{id}\t-\tSMB::FILE_WRITE\t\\\\\\\\FS1\\\\ADMIN$\tTemp\\\\x.exe\t73802\t-\t-\t-\t-\t-\n\
             1.6\tCsmb\t{id}\t-\tSMB::FILE_OPEN\t-\t\\\\svcctl\t0\t-\t-\t-\t-\t-\n",
            hdr("smb_files", files)
        ),
    );
    write(
        d.path(),
        "dce_rpc.log",
        &format!(
            "{}1.7\tCsmb\t{id}\t0.001\t\\\\pipe\\\\ntsvcs\tsvcctl\tOpenSCManagerW\n\
             1.8\tCsmb\t{id}\t0.05\t\\\\pipe\\\\ntsvcs\tsvcctl\tCreateServiceW\n\
             1.9\tCsmb\t{id}\t0.05\t\\\\pipe\\\\ntsvcs\tsvcctl\tCreateServiceW\n\
             2.0\tCsmb\t{id}\t0.01\t\\\\pipe\\\\ntsvcs\tsvcctl\tSomethingNew\n\
             2.1\tCsmb\t{id}\t0.01\t135\tIRemoteSCMActivator\topnum_4\n",
            hdr("dce_rpc", "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\trtt\tnamed_pipe\tendpoint\toperation")
        ),
    );
    let (s, v) = all(d.path());
    assert_eq!(v.len(), 1, "{s}");
    let c = &v[0];
    let smb = c.app.smb.as_deref().expect("smb metadata");
    // The repeated mapping is one tree; the share types are Vigil's lower-case names.
    assert_eq!(smb.trees.len(), 2);
    assert_eq!(smb.trees[0].share(), "ADMIN$");
    assert_eq!(smb.trees[0].share_type.as_deref(), Some("disk"));
    assert_eq!(smb.trees[1].share_type.as_deref(), Some("pipe"));
    // The open and the write of one file are one entry; the pipe has no tree.
    assert_eq!(smb.files.len(), 2, "{:?}", smb.files);
    let exe = &smb.files[0];
    assert_eq!(
        (exe.name.as_str(), exe.tree.as_deref(), exe.opens, exe.bytes_written, exe.pipe),
        ("Temp\\x.exe", Some("\\\\FS1\\ADMIN$"), 2, 73802, false)
    );
    assert!(exe.is_executable());
    assert!(smb.files[1].pipe && smb.files[1].name == "svcctl");
    let rpc = c.app.dce_rpc.as_deref().expect("dce_rpc metadata");
    let call = |op: &str| rpc.calls.iter().find(|k| k.operation.as_deref() == Some(op));
    // Named operations get their numbers from the interface tables; repeats are counted.
    assert_eq!(call("CreateServiceW").map(|k| (k.opnum, k.count, k.named_pipe.as_deref())), Some((12, 2, Some("ntsvcs"))));
    assert_eq!(call("OpenSCManagerW").map(|k| k.opnum), Some(15));
    // An operation outside the tables keeps its name; a numbered one its number; TCP has no pipe.
    assert_eq!(call("SomethingNew").map(|k| k.opnum), Some(u16::MAX));
    let dcom = rpc.calls.iter().find(|k| k.interface == "IRemoteSCMActivator").unwrap();
    assert_eq!((dcom.opnum, dcom.operation.as_deref(), dcom.named_pipe.as_deref()), (4, None, None));
    assert_eq!(s.app_joined, 11, "{s}");
}

#[test]
fn smb_and_dce_rpc_logs_are_recognised_by_their_columns_and_bounded() {
    let d = tempfile::tempdir().unwrap();
    // JSON without _path: the columns say which log it is. One uid repeated far beyond the caps.
    let mut body = String::new();
    for k in 0..500 {
        body.push_str(&format!(
            "{{\"ts\":1.0,\"uid\":\"Cx\",\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":1,\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":445,\"rtt\":0.1,\"named_pipe\":\"\\\\pipe\\\\p{k}\",\"endpoint\":\"svcctl\",\"operation\":\"CreateServiceW\"}}\n"
        ));
    }
    write(d.path(), "a.json", &body);
    let mut files = String::new();
    for k in 0..500 {
        files.push_str(&format!(
            "{{\"ts\":1.0,\"uid\":\"Cx\",\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":1,\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":445,\"action\":\"SMB::FILE_WRITE\",\"path\":\"\\\\\\\\h\\\\C$\",\"name\":\"f{k}.exe\",\"size\":10,\"prev_name\":null}}\n"
        ));
    }
    write(d.path(), "b.json", &files);
    let (s, v) = all(d.path());
    assert_eq!(v.len(), 1, "{s}");
    let rpc = v[0].app.dce_rpc.as_deref().unwrap();
    let smb = v[0].app.smb.as_deref().unwrap();
    assert!(rpc.calls.len() <= 64 && rpc.dropped as usize == 500 - rpc.calls.len(), "{} {}", rpc.calls.len(), rpc.dropped);
    assert!(smb.files.len() <= 64 && smb.dropped as usize == 500 - smb.files.len());
    assert!(rpc.calls.iter().all(|c| c.opnum == 12));
}

/// A dns.log or http.log read without its conn.log: a logged response proves the responder
/// answered, so the connection is established (SF for UDP, S1 for TCP, as Zeek reports such
/// exchanges); a query with no response stays OTH.
#[test]
fn orphan_app_records_with_a_response_are_established() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "dns.log",
        "#separator \\x09\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\tqtype\trcode\tanswers\n\
         1.0\tD1\t10.0.0.2\t5000\t192.0.2.1\t53\tudp\t1\texample.com\t1\t0\t93.184.216.34\n\
         2.0\tD2\t10.0.0.2\t5001\t192.0.2.2\t53\tudp\t2\texample.org\t1\t-\t-\n\
         3.0\tD3\t10.0.0.2\t5002\t192.0.2.3\t53\ttcp\t3\texample.net\t1\t3\t-\n",
    );
    let (s, v) = all(&p);
    assert_eq!(v.len(), 3, "{s}");
    let by = |uid: &str| v.iter().find(|c| c.uid == uid).unwrap();
    assert_eq!(by("D1").conn_state, ConnState::SF);
    assert_eq!(by("D2").conn_state, ConnState::OTH, "no response: not answered");
    assert_eq!(by("D3").conn_state, ConnState::S1, "NXDOMAIN is an answer too");
    let h = write(
        d.path(),
        "http.log",
        "#separator \\x09\n#path\thttp\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tmethod\thost\turi\tstatus_code\n\
         1.0\tH1\t10.0.0.2\t6000\t192.0.2.9\t80\tGET\texample.com\t/\t200\n\
         2.0\tH2\t10.0.0.2\t6001\t192.0.2.9\t80\tGET\texample.com\t/\t-\n",
    );
    let (s, v) = all(&h);
    assert_eq!(v.len(), 2, "{s}");
    let by = |uid: &str| v.iter().find(|c| c.uid == uid).unwrap();
    assert_eq!(by("H1").conn_state, ConnState::S1);
    assert_eq!(by("H2").conn_state, ConnState::OTH);
    let t = write(
        d.path(),
        "ssl.log",
        "#separator \\x09\n#path\tssl\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tserver_name\testablished\n\
         1.0\tT1\t10.0.0.2\t7000\t192.0.2.9\t443\ta.example\tT\n",
    );
    let (s, v) = all(&t);
    assert_eq!(v.len(), 1, "{s}");
    assert_eq!(v[0].conn_state, ConnState::S1, "a completed handshake is an answer");
}
