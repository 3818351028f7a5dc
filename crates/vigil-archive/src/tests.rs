use super::*;
use std::net::IpAddr;
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
    c.app.tls = Some(Box::new(TlsMeta { server_name: Some("c2.example".into()), ja4: Some("t13d1516h2_8daaf6152771_e5627efa2ab1".into()), ..Default::default() }));
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
