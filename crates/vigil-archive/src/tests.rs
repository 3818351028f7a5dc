use super::*;
use std::net::IpAddr;
use std::path::Path;
use vigil_model::{Timestamp, TlsMeta};

fn conn(i: i64, host: u8) -> Conn {
    let mut c = Conn::new(
        Timestamp::from_secs(1_700_000_000 + i * 60),
        IpAddr::from([10, 0, 0, host]),
        40000 + (i % 1000) as u16,
        IpAddr::from([203, 0, 113, 9]),
        443,
        6,
    );
    c.orig_bytes = Some(1000 + i as u64);
    c.resp_bytes = Some(5000);
    c.duration = Some(1.5);
    c.history = "ShADadFf".into();
    c.conn_state = vigil_model::ConnState::SF;
    c.app.tls = Some(Box::new(TlsMeta {
        server_name: Some("c2.example".into()),
        ja4: Some("t13d1516h2_8daaf6152771_e5627efa2ab1".into()),
        ..Default::default()
    }));
    c
}

#[test]
fn appends_are_partitioned_by_hour_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let a = Archive::open(dir.path()).unwrap();
    let conns: Vec<Conn> = (0..180).map(|i| conn(i, 5)).collect();
    let s = a.append(&conns).unwrap();
    assert_eq!(s.written, 180);
    assert_eq!(s.files, 4, "three hours of minute records span four hour partitions (start mid-hour)");
    // Same input again: nothing new.
    let s2 = a.append(&conns).unwrap();
    assert_eq!((s2.written, s2.duplicates, s2.files), (0, 180, 0));
    // Overlapping input: only the new part is written.
    let more: Vec<Conn> = (150..200).map(|i| conn(i, 5)).collect();
    let s3 = a.append(&more).unwrap();
    assert_eq!((s3.written, s3.duplicates), (20, 30));
    assert_eq!(a.count().unwrap(), 200);
    let p = &a.parts().unwrap()[0];
    let rel = p.strip_prefix(a.root()).unwrap().to_string_lossy().to_string();
    assert!(rel.starts_with("date=2023-11-14/hour=22/part-"), "{rel}");
}

#[test]
fn archived_columns_read_back_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let a = Archive::open(dir.path()).unwrap();
    a.append(&[conn(0, 7)]).unwrap();
    let f = &a.parts().unwrap()[0];
    let b = &read_columns(f, &["orig_h", "server_name", "ja4", "history"]).unwrap()[0];
    let s = |i: usize| b.column(i).as_any().downcast_ref::<StringArray>().unwrap().value(0).to_string();
    assert_eq!(s(0), "10.0.0.7");
    assert_eq!(s(1), "c2.example");
    assert!(s(2).starts_with("t13d"));
    assert_eq!(s(3), "ShADadFf");
}

/// The first DNS transaction's answer code, recursion flag and answers come back (a window
/// restored after a restart must judge lookups as the fresh records were judged); a record
/// without DNS gets none, a failed lookup no answers.
#[test]
fn dns_outcomes_read_back_as_written() {
    use vigil_model::DnsTxn;
    let dir = tempfile::tempdir().unwrap();
    let a = Archive::open(dir.path()).unwrap();
    let mut ok = conn(0, 7);
    ok.app.tls = None;
    ok.app.dns.push(DnsTxn {
        ts: ok.ts,
        query: Some("c2.example".into()),
        qtype: Some(1),
        rcode: Some(0),
        rd: true,
        answers: vec!["203.0.113.9".into(), "c2-alias.example".into()],
        ..Default::default()
    });
    let mut nx = conn(1, 8);
    nx.app.tls = None;
    nx.app.dns.push(DnsTxn {
        ts: nx.ts,
        query: Some("vocyzit.com".into()),
        qtype: Some(1),
        rcode: Some(3),
        rd: false,
        ..Default::default()
    });
    let plain = conn(2, 9);
    a.append(&[ok, nx, plain]).unwrap();
    let back = a.read_since(Timestamp(0)).unwrap();
    let dns = |host: u8| back.iter().find(|c| c.orig_h == IpAddr::from([10, 0, 0, host])).map(|c| c.app.dns.clone()).unwrap();
    let d = dns(7);
    assert_eq!(
        (d[0].rcode, d[0].rd, d[0].answers.clone()),
        (Some(0), true, vec!["203.0.113.9".to_string(), "c2-alias.example".to_string()])
    );
    let d = dns(8);
    assert_eq!((d[0].query.as_deref(), d[0].rcode, d[0].rd, d[0].answers.len()), (Some("vocyzit.com"), Some(3), false, 0));
    assert!(dns(9).is_empty());
}

/// What the detectors match or score beyond the first columns comes back: JA3, certificate
/// and chain hashes, the HTTP request line and status, SSH authentication, SMB and DCE-RPC.
#[test]
fn matched_and_scored_metadata_reads_back_as_written() {
    use vigil_model::{CertMeta, DceRpcMeta, HttpTxn, SmbMeta, SshMeta};
    let dir = tempfile::tempdir().unwrap();
    let a = Archive::open(dir.path()).unwrap();
    let mut tls = conn(0, 7);
    if let Some(t) = tls.app.tls.as_mut() {
        t.ja3 = Some("e7d705a3286e19ea42f587b344ee6865".into());
        t.cert = Some(CertMeta { sha256: "aa".repeat(32), sha1: "bb".repeat(20), subject: "CN=c2.example".into(), ..Default::default() });
        t.cert_chain_sha256 = vec!["cc".repeat(32), "dd".repeat(32)];
    }
    let mut web = conn(1, 8);
    web.app.tls = None;
    web.app.http.push(HttpTxn {
        ts: web.ts,
        method: Some("POST".into()),
        host: Some("mail.example".into()),
        uri: Some("/zimbraAdmin/".into()),
        status_code: Some(200),
        ..Default::default()
    });
    let mut ssh = conn(2, 9);
    ssh.app.tls = None;
    ssh.app.ssh = Some(Box::new(SshMeta { client: Some("SSH-2.0-OpenSSH_9.6".into()), auth_success: Some(true), ..Default::default() }));
    let mut smb = conn(3, 10);
    smb.app.tls = None;
    smb.app.smb =
        Some(Box::new(SmbMeta { version: 2, dialect: Some("3.1.1".into()), ntlm_user: Some("CORP\\admin".into()), ..Default::default() }));
    smb.app.dce_rpc = Some(Box::new(DceRpcMeta::default()));
    a.append(&[tls.clone(), web.clone(), ssh.clone(), smb.clone()]).unwrap();
    let back = a.read_since(Timestamp(0)).unwrap();
    let get = |host: u8| back.iter().find(|c| c.orig_h == IpAddr::from([10, 0, 0, host])).cloned().unwrap();
    let t = get(7).app.tls.unwrap();
    let want = tls.app.tls.unwrap();
    assert_eq!((t.ja3, t.cert_chain_sha256), (want.ja3, want.cert_chain_sha256));
    let (c, w) = (t.cert.unwrap(), want.cert.unwrap());
    assert_eq!((c.sha256, c.sha1), (w.sha256, w.sha1));
    let h = &get(8).app.http[0];
    assert_eq!(
        (h.method.as_deref(), h.host.as_deref(), h.uri.as_deref(), h.status_code),
        (Some("POST"), Some("mail.example"), Some("/zimbraAdmin/"), Some(200))
    );
    assert!(get(8).app.tls.is_none(), "an HTTP host in server_name does not become TLS");
    assert_eq!(get(9).app.ssh.and_then(|s| s.auth_success), Some(true));
    let s = get(10);
    assert_eq!((s.app.smb, s.app.dce_rpc), (smb.app.smb, smb.app.dce_rpc));
}

/// A part read from bytes gives the records `read_since` gives; truncated or flipped bytes are
/// errors or fewer records, never a panic (the fuzz target `archive_part` goes further).
#[test]
fn a_part_decodes_from_bytes_and_damage_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let a = Archive::open(dir.path()).unwrap();
    let mut web = conn(1, 8);
    web.app.smb = Some(Box::new(vigil_model::SmbMeta { version: 2, ..Default::default() }));
    a.append(&[conn(0, 7), web]).unwrap();
    let part = std::fs::read(&a.parts().unwrap()[0]).unwrap();
    let got = crate::decode_part(bytes::Bytes::from(part.clone()), Timestamp(0)).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got.iter().filter(|c| c.app.smb.is_some()).count(), 1);
    for cut in [0, 4, part.len() / 2, part.len() - 9, part.len() - 1] {
        assert!(crate::decode_part(bytes::Bytes::copy_from_slice(&part[..cut]), Timestamp(0)).is_err(), "cut at {cut}");
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..200 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut bad = part.clone();
        let i = (x as usize) % bad.len();
        bad[i] ^= (x >> 32) as u8 | 1;
        let _ = crate::decode_part(bytes::Bytes::from(bad), Timestamp(0));
    }
}

#[test]
fn a_crash_before_rename_leaves_nothing_committed() {
    let dir = tempfile::tempdir().unwrap();
    let a = Archive::open(dir.path()).unwrap();
    a.append(&[conn(0, 7)]).unwrap();
    let part_dir = a.parts().unwrap()[0].parent().unwrap().to_path_buf();
    std::fs::write(part_dir.join(".tmp-part-half-written.parquet"), b"PAR1 torn").unwrap();
    let a = Archive::open(dir.path()).unwrap();
    assert_eq!(a.count().unwrap(), 1);
    assert!(!part_dir.join(".tmp-part-half-written.parquet").exists());
}

#[test]
fn retention_drops_old_partitions_then_oldest_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let a = Archive::open(dir.path()).unwrap();
    let conns: Vec<Conn> = (0..(24 * 60)).step_by(30).map(|i| conn(i, 5)).collect();
    a.append(&conns).unwrap();
    let before = a.parts().unwrap().len();
    assert!(before >= 24);
    let newest = conns.last().unwrap().ts.secs();
    let st = a.retain(newest, Some(6 * 3600), None).unwrap();
    assert!(st.files_removed as usize >= before - 8, "{st:?}");
    let left = a.parts().unwrap();
    assert!(left.len() <= 8);
    let size = a.size_bytes().unwrap();
    let st = a.retain(newest, None, Some(size / 2)).unwrap();
    assert!(st.files_removed > 0);
    assert!(a.size_bytes().unwrap() <= size / 2);
    // The newest data survives size-based retention.
    let last_hour = newest.div_euclid(3600) * 3600;
    assert!(a.parts().unwrap().iter().any(|p| partition_hour(p) == Some(last_hour)));
}

#[test]
fn records_read_back_as_conns_since_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let a = Archive::open(dir.path()).unwrap();
    let conns: Vec<Conn> = (0..180).map(|i| conn(i, 5)).collect();
    a.append(&conns).unwrap();
    assert_eq!(a.newest().unwrap(), Some(conns[179].ts));
    let since = conns[100].ts;
    let back = a.read_since(since).unwrap();
    assert_eq!(back.len(), 80);
    let (orig, got) = (&conns[100], &back[0]);
    assert_eq!((got.ts, got.orig_h, got.orig_p, got.resp_h, got.resp_p), (orig.ts, orig.orig_h, orig.orig_p, orig.resp_h, orig.resp_p));
    assert_eq!(got.orig_bytes, orig.orig_bytes);
    assert_eq!(got.history, orig.history);
    assert_eq!(got.conn_state, orig.conn_state);
    assert_eq!(got.server_name(), Some("c2.example"));
    assert_eq!(got.app.tls.as_ref().unwrap().ja4, orig.app.tls.as_ref().unwrap().ja4);
}

/// The records in `testdata/v1` (written by version 1 of the archive: duration as float64).
fn v1_records() -> Vec<Conn> {
    use vigil_model::{ConnState, DnsTxn, HttpTxn, SshMeta};
    let base = 1_700_000_000i64;
    (0..12i64)
        .map(|i| {
            let mut c = Conn::new(
                Timestamp(base * 1_000_000_000 + i * 61_123_456_789),
                IpAddr::from([10, 0, 0, 5 + (i % 3) as u8]),
                40000 + i as u16,
                IpAddr::from([203, 0, 113, 9]),
                443,
                6,
            );
            c.duration = match i % 4 {
                0 => Some(1.5),
                1 => Some(0.000123),
                2 => None,
                _ => Some(3600.123456),
            };
            c.orig_bytes = Some(1000 + i as u64);
            c.resp_bytes = Some(5000 * i as u64);
            c.orig_pkts = 3 + i as u64;
            c.resp_pkts = 4;
            c.orig_ip_bytes = 1200;
            c.resp_ip_bytes = 5300;
            c.history = "ShADadFf".into();
            c.conn_state = ConnState::SF;
            match i % 4 {
                0 => {
                    c.app.tls = Some(Box::new(TlsMeta {
                        server_name: Some("c2.example".into()),
                        version: Some(0x0304),
                        ja4: Some("t13d1516h2_8daaf6152771_e5627efa2ab1".into()),
                        ..Default::default()
                    }))
                }
                1 => c.app.dns.push(DnsTxn { ts: c.ts, query: Some("x.example".into()), qtype: Some(16), ..Default::default() }),
                2 => c.app.http.push(HttpTxn {
                    ts: c.ts,
                    host: Some("h.example".into()),
                    user_agent: Some("curl/8.5.0".into()),
                    ..Default::default()
                }),
                _ => {
                    c.app.ssh = Some(Box::new(SshMeta {
                        client: Some("SSH-2.0-OpenSSH_9.6".into()),
                        server: Some("SSH-2.0-dropbear".into()),
                        ..Default::default()
                    }))
                }
            }
            c.app.orig_entropy = Some(7.5);
            c
        })
        .collect()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn file_meta(p: &Path) -> parquet::file::metadata::ParquetMetaData {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    SerializedFileReader::new(File::open(p).unwrap()).unwrap().metadata().clone()
}

fn version_of(p: &Path) -> Option<String> {
    let m = file_meta(p);
    let kv = m.file_metadata().key_value_metadata()?;
    kv.iter().find(|k| k.key == SCHEMA_VERSION_KEY).and_then(|k| k.value.clone())
}

/// The fields the archive keeps, for comparing records read back with the records written.
fn kept(c: &Conn) -> String {
    format!(
        "{} {} {} {} {} {} {:?} {:?} {:?} {:?} {} {} {} {} {} {} {:?} {:?} {:?} {:?} {:?} {:?}",
        c.ts.0,
        c.orig_h,
        c.orig_p,
        c.resp_h,
        c.resp_p,
        c.proto,
        c.duration,
        c.orig_bytes,
        c.resp_bytes,
        c.conn_state,
        c.history,
        c.orig_pkts,
        c.resp_pkts,
        c.orig_ip_bytes,
        c.resp_ip_bytes,
        c.open,
        c.server_name(),
        c.app.tls.as_ref().map(|t| (&t.ja4, t.version)),
        c.app.dns.first().map(|d| (&d.query, d.qtype)),
        c.app.http.first().map(|h| (&h.host, &h.user_agent)),
        c.app.ssh.as_ref().map(|s| (&s.client, &s.server)),
        (c.app.orig_entropy, c.app.resp_entropy),
    )
}

#[test]
fn parts_written_by_version_1_still_read_deduplicate_and_mix_with_version_2() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/v1"), dir.path());
    let a = Archive::open(dir.path()).unwrap();
    let old = a.parts().unwrap();
    assert_eq!(old.len(), 1);
    assert_eq!(version_of(&old[0]), None, "the fixture is a version-1 file");
    let expected = v1_records();
    assert_eq!(a.count().unwrap(), 12);
    assert_eq!(a.newest().unwrap(), Some(expected[11].ts));
    let back = a.read_since(Timestamp(0)).unwrap();
    assert_eq!(back.iter().map(kept).collect::<Vec<_>>(), expected.iter().map(kept).collect::<Vec<_>>());

    // The same records again are recognised as archived (keys read from the old file).
    let s = a.append(&expected).unwrap();
    assert_eq!((s.written, s.duplicates, s.files), (0, 12, 0));

    // New records in the same hour go to a version-2 part beside the old one.
    let mut fresh = v1_records();
    for c in &mut fresh {
        c.ts = Timestamp(c.ts.0 + 7);
        c.duration = c.duration.map(|d| d + 0.25);
    }
    let s = a.append(&fresh).unwrap();
    assert_eq!((s.written, s.files), (12, 1));
    let parts = a.parts().unwrap();
    let new_part = parts.iter().find(|p| **p != old[0]).unwrap();
    assert_eq!(version_of(new_part).as_deref(), Some(SCHEMA_VERSION.to_string().as_str()));
    let meta = file_meta(new_part);
    let col = |name: &str| {
        let s = meta.file_metadata().schema_descr();
        (0..s.num_columns()).find(|&i| s.column(i).name() == name).map(|i| s.column(i)).unwrap()
    };
    assert_eq!(col("duration").physical_type(), parquet::basic::Type::INT64);
    assert!(matches!(
        col("duration").logical_type_ref(),
        Some(parquet::basic::LogicalType::Decimal(parquet::basic::DecimalType { scale: 6, precision: 18 }))
    ));

    let mut all = expected.clone();
    all.extend(fresh);
    all.sort_by_key(|c| c.ts);
    let back = a.read_since(Timestamp(0)).unwrap();
    assert_eq!(back.iter().map(kept).collect::<Vec<_>>(), all.iter().map(kept).collect::<Vec<_>>());
}

#[test]
fn durations_keep_microseconds_and_drop_what_a_decimal_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let a = Archive::open(dir.path()).unwrap();
    let cases: [(f64, Option<f64>); 10] = [
        (0.0, Some(0.0)),
        (0.000001, Some(0.000001)),
        (1.234567, Some(1.234567)),
        (86_399.999999, Some(86_399.999999)),
        (0.0000004, Some(0.0)),
        (2.0000006, Some(2.000001)),
        (8_000_000_000.5, Some(8_000_000_000.5)),
        (f64::NAN, None),
        (f64::INFINITY, None),
        (2e12, None),
    ];
    let conns: Vec<Conn> = cases
        .iter()
        .enumerate()
        .map(|(i, (d, _))| {
            let mut c = conn(i as i64, 9);
            c.duration = Some(*d);
            c
        })
        .collect();
    a.append(&conns).unwrap();
    let back = a.read_since(Timestamp(0)).unwrap();
    let got: Vec<Option<f64>> = back.iter().map(|c| c.duration).collect();
    let want: Vec<Option<f64>> = cases.iter().map(|(_, w)| *w).collect();
    assert_eq!(got, want);
}

#[test]
fn keys_and_address_columns_use_the_addresses_display_text() {
    let long: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".parse().unwrap();
    for ip in [IpAddr::from([10, 0, 0, 7]), "2001:db8::1".parse().unwrap(), long] {
        let mut c = conn(1, 7);
        c.orig_h = ip;
        let text = ip.to_string();
        assert_eq!(key_of(&c), schema::key_parts(c.ts.0, &text, c.orig_p, "203.0.113.9", c.resp_p, c.proto), "{ip}");
        let b = conns_to_batch(&[&c]);
        let col = b.column_by_name("orig_h").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(col.value(0), text);
    }
}
