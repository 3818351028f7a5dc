//! Agreement with Zeek's baselines in the shared corpus: for every Zeek test whose `conn.log`
//! has packet and IP-byte counts, the decoded packets of its trace, grouped by TCP/UDP 5-tuple,
//! must give the same orig/resp packet counts and IP bytes (`*_ip_bytes` is the sum of the IP
//! total lengths, i.e. [`Packet::ip_len`]). This checks link layers, tunnels, reassembly and
//! length accounting against an independent implementation.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use vigil_capture::{CaptureFile, Decoder};

fn shared_data() -> Option<PathBuf> {
    let p = match std::env::var_os("VIGIL_SHARED_DATA") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("VIGIL_REQUIRE_CORPUS").as_deref() == Ok("1") {
        panic!("shared data not found at {}", p.display());
    }
    println!("shared data not found at {}; skipping corpus check", p.display());
    None
}

type Key = (IpAddr, u16, IpAddr, u16, u8);

#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
struct Counts {
    orig_pkts: u64,
    orig_ip_bytes: u64,
    resp_pkts: u64,
    resp_ip_bytes: u64,
}

/// TCP/UDP rows of a Zeek conn.log: key → counts; 5-tuples that appear twice are left out
/// (Zeek split them in time, which packet sums cannot reproduce).
fn read_conn_log(path: &Path) -> HashMap<Key, Counts> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut fields: Vec<&str> = Vec::new();
    let mut rows: HashMap<Key, Option<Counts>> = HashMap::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = f.split('\t').collect();
            continue;
        }
        if line.starts_with('#') || fields.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let get = |name: &str| fields.iter().position(|f| *f == name).and_then(|i| cols.get(i).copied());
        let proto = match get("proto") {
            Some("tcp") => 6,
            Some("udp") => 17,
            _ => continue,
        };
        let parse_n = |name: &str| get(name).and_then(|v| v.parse::<u64>().ok());
        let (Some(oh), Some(op), Some(rh), Some(rp)) = (
            get("id.orig_h").and_then(|v| v.parse().ok()),
            get("id.orig_p").and_then(|v| v.parse().ok()),
            get("id.resp_h").and_then(|v| v.parse().ok()),
            get("id.resp_p").and_then(|v| v.parse().ok()),
        ) else {
            continue;
        };
        let (Some(a), Some(b), Some(c), Some(d)) =
            (parse_n("orig_pkts"), parse_n("orig_ip_bytes"), parse_n("resp_pkts"), parse_n("resp_ip_bytes"))
        else {
            continue;
        };
        let counts = Counts { orig_pkts: a, orig_ip_bytes: b, resp_pkts: c, resp_ip_bytes: d };
        rows.entry((oh, op, rh, rp, proto)).and_modify(|e| *e = None).or_insert(Some(counts));
    }
    rows.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect()
}

#[test]
fn packet_and_ip_byte_counts_agree_with_zeek() {
    let Some(root) = shared_data() else { return };
    let zeek = root.join("pcaps/zeek");
    let index = std::fs::read_to_string(zeek.join("expected/INDEX.tsv")).unwrap();
    let (mut compared, mut agreed, mut logs) = (0usize, 0usize, 0usize);
    let mut disagreements = Vec::new();
    for line in index.lines().filter(|l| !l.starts_with('#')) {
        let mut cols = line.split('\t');
        let (Some(test), Some(traces)) = (cols.next(), cols.next()) else {
            continue;
        };
        let conn_log = zeek.join("expected").join(test).join("conn.log");
        if !conn_log.exists() || traces.contains(' ') || traces.contains(',') {
            continue;
        }
        let expected = read_conn_log(&conn_log);
        if expected.is_empty() {
            continue;
        }
        logs += 1;
        let mut ours: HashMap<Key, Counts> = HashMap::new();
        let mut cf = CaptureFile::open(&zeek.join(traces)).unwrap();
        let mut dec = Decoder::new();
        while let Some(f) = cf.next_frame().unwrap() {
            let Ok(Some(d)) = dec.decode_full(&f) else {
                continue;
            };
            let p = d.packet;
            // Zeek also logs the tunnel itself (e.g. UDP 6081) as a connection of outer packets.
            let mut views = vec![(p.src, p.sport, p.dst, p.dport, p.proto, p.ip_len)];
            if let (Some(t), Some(len)) = (p.tunnel, d.tunnel_ip_len) {
                views.push((t.src, t.sport, t.dst, t.dport, t.proto, len));
            }
            for (src, sport, dst, dport, proto, ip_len) in views {
                if proto != 6 && proto != 17 {
                    continue;
                }
                let fwd = (src, sport, dst, dport, proto);
                let rev = (dst, dport, src, sport, proto);
                if expected.contains_key(&fwd) {
                    let c = ours.entry(fwd).or_default();
                    c.orig_pkts += 1;
                    c.orig_ip_bytes += ip_len as u64;
                } else if expected.contains_key(&rev) {
                    let c = ours.entry(rev).or_default();
                    c.resp_pkts += 1;
                    c.resp_ip_bytes += ip_len as u64;
                }
            }
        }
        for (k, want) in &expected {
            compared += 1;
            let got = ours.get(k).copied().unwrap_or_default();
            if got == *want {
                agreed += 1;
            } else {
                disagreements.push(format!("{test} {k:?}: zeek {want:?}, ours {got:?}"));
            }
        }
    }
    println!("{agreed}/{compared} TCP/UDP connections agree with Zeek across {logs} conn.logs");
    for d in &disagreements {
        println!("  {d}");
    }
    assert!(logs >= 5, "only {logs} Zeek conn.logs found");
    assert!(compared >= 10);
    assert!(agreed * 100 >= compared * 95, "{} of {compared} disagree", compared - agreed);
}
