//! Corpus check: every NetFlow v5/v9/IPFIX file under `shared/data/flows` (raw export payloads
//! from ~20 vendors' exporters, and pcaps of export traffic) decodes, and the number of data
//! records equals what Wireshark's `tshark` decodes from the same packets in the same order
//! (template files first). Raw payload files are wrapped into a pcap for tshark (and that pcap
//! is also imported, exercising the capture path).

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use vigil_import::netflow::{Decoder, DecoderConfig};
use vigil_import::{Format, ImportOptions, ImportStats};

/// Raw files that are not NetFlow at all by design, with the reason.
const UNRECOGNISED: &[(&str, &str)] = &[
    ("netflow5_test_invalid01.dat", "v5 header count 55582 (max 30): logstash's invalid-input test"),
    ("netflow5_test_invalid02.dat", "v5 header count 163 (max 30): logstash's invalid-input test"),
];

/// Groups whose record count legitimately differs from tshark's, with the reason.
/// (group key, ours, tshark's, why)
const COUNT_DIFFERS: &[(&str, u64, u64, &str)] = &[(
    "netflow9_test_invalid01",
    3,
    0,
    "v9 header says count=2 but the packet holds 3 templates and 3 data records; tshark stops at the \
     count, Vigil reads every set the datagram holds (a low count must not hide flows)",
)];

/// Groups with data sets whose template is not in the corpus: (group, sets, why).
const TEMPLATE_MISSING: &[(&str, u64, &str)] = &[(
    "netflow9_test_iptnetflow_reduced_size_encoding",
    6,
    "data sets of templates 259 and 262, announced before the capture began (only 260 is in the file)",
)];

/// Raw payload files of one exporter: the file name up to `_tpl`/`_data`/`_opttpl`.
fn group_key(name: &str) -> String {
    let stem = name.trim_end_matches(".dat");
    let cut = ["_tpl", "_data", "_opttpl"].iter().filter_map(|m| stem.find(m)).min().unwrap_or(stem.len());
    stem[..cut].to_string()
}

/// Template-bearing files first, then the rest, each part sorted.
fn ordered(mut files: Vec<PathBuf>) -> Vec<PathBuf> {
    files.sort_by_key(|f| {
        let n = f.file_name().unwrap().to_string_lossy().to_string();
        (!(n.contains("tpl") || n.contains("template")) || n.contains("tpldata"), n)
    });
    files
}

/// Writes `payloads` as UDP datagrams `src`:50000 → 192.0.2.200:2055 in a classic pcap.
fn write_pcap(path: &Path, payloads: &[([u8; 4], Vec<u8>)]) {
    let mut f = std::fs::File::create(path).unwrap();
    let mut hdr = vec![];
    hdr.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&[0; 8]);
    hdr.extend_from_slice(&262144u32.to_le_bytes());
    hdr.extend_from_slice(&1u32.to_le_bytes());
    f.write_all(&hdr).unwrap();
    for (i, (src, p)) in payloads.iter().enumerate() {
        let mut frame = vec![0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00];
        let ip_len = (20 + 8 + p.len()) as u16;
        frame.extend_from_slice(&[0x45, 0, (ip_len >> 8) as u8, ip_len as u8, 0, 1, 0, 0, 64, 17, 0, 0]);
        frame.extend_from_slice(src);
        frame.extend_from_slice(&[192, 0, 2, 200]);
        let udp_len = (8 + p.len()) as u16;
        frame.extend_from_slice(&50000u16.to_be_bytes());
        frame.extend_from_slice(&2055u16.to_be_bytes());
        frame.extend_from_slice(&udp_len.to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(p);
        let mut rec = vec![];
        rec.extend_from_slice(&(1_600_000_000u32 + i as u32).to_le_bytes());
        rec.extend_from_slice(&0u32.to_le_bytes());
        rec.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        rec.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        f.write_all(&rec).unwrap();
        f.write_all(&frame).unwrap();
    }
}

/// Data records (flow and options) tshark decodes from each frame of a capture: one
/// "pdu N/M" or "Flow N" subtree per record in its verbose output. Index 0 is frame 1.
fn tshark_records_per_frame(pcap: &Path, port: u16) -> Vec<u64> {
    let out = Command::new("tshark")
        .args(["-r", pcap.to_str().unwrap(), "-V", "-d", &format!("udp.port=={port},cflow")])
        .output()
        .expect("run tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut frames: Vec<u64> = Vec::new();
    for l in text.lines() {
        if l.starts_with("Frame ") {
            frames.push(0);
            continue;
        }
        let w: Vec<&str> = l.trim_start().splitn(3, ' ').collect();
        let is_record = w.len() >= 2
            && (w[0] == "pdu" || w[0] == "Flow")
            && !w[1].is_empty()
            && w[1].split('/').next().unwrap_or("").chars().all(|c| c.is_ascii_digit());
        if let (true, Some(n)) = (is_record, frames.last_mut()) {
            *n += 1;
        }
    }
    frames
}

/// Source and destination addresses tshark decodes in each frame (IEs 8/12 and 27/28).
fn tshark_addresses_per_frame(pcap: &Path, port: u16) -> Vec<(Vec<String>, Vec<String>)> {
    let out = Command::new("tshark")
        .args(["-r", pcap.to_str().unwrap(), "-d", &format!("udp.port=={port},cflow"), "-T", "fields", "-E", "occurrence=a"])
        .args(["-E", "aggregator=;", "-e", "cflow.srcaddr", "-e", "cflow.srcaddrv6", "-e", "cflow.dstaddr", "-e", "cflow.dstaddrv6"])
        .output()
        .expect("run tshark");
    let split = |s: &str| s.split(';').filter(|x| !x.is_empty() && *x != "0.0.0.0" && *x != "::").map(str::to_string).collect::<Vec<_>>();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or("");
            let mut src = split(get(0));
            src.extend(split(get(1)));
            let mut dst = split(get(2));
            dst.extend(split(get(3)));
            (src, dst)
        })
        .collect()
}

fn tshark_records(pcap: &Path, port: u16) -> u64 {
    tshark_records_per_frame(pcap, port).iter().sum()
}

/// Imports a path; `buffering` false decodes only data sets whose template came first, as
/// tshark does (it has no buffer), so counts compare exactly.
fn import_counting(p: &Path, buffering: bool) -> ImportStats {
    let mut opts = ImportOptions::default();
    if !buffering {
        opts.netflow.max_buffered_sets = 0;
    }
    let mut n = 0u64;
    let s = vigil_import::import_path_with(p, &opts, &mut |_| n += 1, &mut |_| {}).unwrap();
    assert_eq!(n, s.conns);
    s
}

/// Splits a raw payload file into datagrams (IPFIX by message length, v5 by count; a v9 file
/// is one datagram), as they travelled.
fn datagrams(mut b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let ver = u16::from_be_bytes([b[0], b[1]]);
        let n = u16::from_be_bytes([b[2], b[3]]) as usize;
        let len = match ver {
            10 => n,
            5 => 24 + 48 * n,
            _ => b.len(),
        }
        .clamp(4, b.len());
        out.push(b[..len].to_vec());
        b = &b[len..];
    }
    out
}

#[test]
fn raw_export_payloads_decode_and_match_tshark() {
    let Some(data) = common::shared_data() else { return };
    let dir = data.join("flows/netflow-raw/logstash-codec-netflow");
    let have_tshark = common::tool("tshark");
    let tmp = tempfile::tempdir().unwrap();
    let mut groups: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for f in common::files_under(&dir) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if let Some((_, why)) = UNRECOGNISED.iter().find(|(n, _)| *n == name) {
            assert_eq!(vigil_import::sniff(&f), None, "{name}: {why}");
            continue;
        }
        assert_eq!(vigil_import::sniff(&f), Some(Format::NetflowPacket), "{name}");
        groups.entry(group_key(&name)).or_default().push(f);
    }
    let (mut total, mut files) = (0u64, 0usize);
    // All groups in one capture, each group from its own exporter address, so one tshark run
    // (which keeps templates per exporter, as Vigil does) covers every group.
    let mut frames: Vec<([u8; 4], Vec<u8>)> = Vec::new();
    let mut frame_group: Vec<String> = Vec::new();
    let mut unbuffered: BTreeMap<String, u64> = BTreeMap::new();
    let mut addresses: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for (gi, (key, files_of)) in groups.iter().enumerate() {
        let exporter = [198, 51, 100, gi as u8 + 1];
        let files_of = ordered(files_of.clone());
        files += files_of.len();
        let payloads: Vec<Vec<u8>> = files_of.iter().flat_map(|f| datagrams(&std::fs::read(f).unwrap())).collect();
        // The decoder over the raw files, as one exporter.
        let mut dec = Decoder::new(DecoderConfig::default());
        let mut recs = Vec::new();
        for f in &files_of {
            dec.decode_stream(IpAddr::V4(Ipv4Addr::UNSPECIFIED), &std::fs::read(f).unwrap(), &mut recs);
        }
        recs.extend(dec.take_replayed());
        dec.finish();
        let missing = TEMPLATE_MISSING.iter().find(|t| t.0 == key).map_or(0, |t| t.1);
        assert_eq!(dec.stats.template_misses, missing, "{key}: {:?}", dec.stats);
        assert_eq!(dec.stats.malformed_packets + dec.stats.malformed_templates, 0, "{key}: {:?}", dec.stats);
        assert_eq!(recs.len() as u64 + dec.stats.records_without_addresses, dec.stats.records, "{key}");
        total += dec.stats.records + dec.stats.options_records;
        // Without the template-wait buffer (tshark has none), datagram by datagram.
        let mut plain = Decoder::new(DecoderConfig { max_buffered_sets: 0, ..Default::default() });
        let mut plain_recs = Vec::new();
        for p in &payloads {
            plain.decode(IpAddr::V4(Ipv4Addr::from(exporter)), p, &mut plain_recs);
        }
        unbuffered.insert(key.clone(), plain.stats.records + plain.stats.options_records);
        // Unspecified addresses are left out on both sides: templates with both families carry
        // zeros in the family a record does not use, and tshark lists those too.
        let mut src: Vec<String> = plain_recs.iter().filter(|r| !r.src.is_unspecified()).map(|r| r.src.to_string()).collect();
        let mut dst: Vec<String> = plain_recs.iter().filter(|r| !r.dst.is_unspecified()).map(|r| r.dst.to_string()).collect();
        src.sort();
        dst.sort();
        addresses.insert(key.clone(), (src, dst));
        for p in payloads {
            frames.push((exporter, p));
            frame_group.push(key.clone());
        }
    }
    // The same datagrams as a capture through import_path: the same records.
    let pcap = tmp.path().join("all-exporters.pcap");
    write_pcap(&pcap, &frames);
    assert_eq!(vigil_import::sniff(&pcap), Some(Format::NetflowPcap));
    let s = import_counting(&pcap, true);
    assert_eq!(s.flow_records + s.options_records, total, "pcap path\n{s}");
    let mut agreed = 0;
    if have_tshark {
        let per_frame = tshark_records_per_frame(&pcap, 2055);
        assert_eq!(per_frame.len(), frame_group.len(), "tshark saw every frame");
        let mut theirs: BTreeMap<String, u64> = BTreeMap::new();
        for (g, n) in frame_group.iter().zip(&per_frame) {
            *theirs.entry(g.clone()).or_default() += n;
        }
        // Field-level agreement: the addresses of every decoded record.
        let per_frame_addr = tshark_addresses_per_frame(&pcap, 2055);
        assert_eq!(per_frame_addr.len(), frame_group.len());
        let mut their_addr: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for (g, (s, d)) in frame_group.iter().zip(per_frame_addr) {
            let e = their_addr.entry(g.clone()).or_default();
            e.0.extend(s);
            e.1.extend(d);
        }
        for (key, (s, d)) in &addresses {
            let (mut ts, mut td) = their_addr.get(key).cloned().unwrap_or_default();
            ts.sort();
            td.sort();
            if COUNT_DIFFERS.iter().any(|c| c.0 == key) {
                continue;
            }
            assert_eq!((s, d), (&ts, &td), "{key}: record addresses vs tshark");
        }
        for (key, ours) in &unbuffered {
            let t = theirs.get(key).copied().unwrap_or(0);
            match COUNT_DIFFERS.iter().find(|c| c.0 == key) {
                Some(&(_, o, tt, why)) => assert_eq!((*ours, t), (o, tt), "{key}: {why}"),
                None => assert_eq!(*ours, t, "{key}: records vs tshark"),
            }
            agreed += 1;
        }
    }
    println!(
        "netflow raw corpus: {files} files in {} exporter groups, {total} data records; {agreed} groups compared with tshark",
        groups.len()
    );
    assert!(files >= 60);
}

#[test]
fn export_pcaps_decode_and_match_tshark() {
    let Some(data) = common::shared_data() else { return };
    let dir = data.join("flows/netflow-pcap/akvorado");
    let have_tshark = common::tool("tshark") && common::tool("mergecap");
    let tmp = tempfile::tempdir().unwrap();
    // Template captures paired with their data captures (same exporter, captured apart).
    let pairs: &[(&[&str], u16)] = &[
        (&["template.pcap", "data.pcap"], 2055),
        (&["data+templates.pcap"], 2055),
        (&["icmp-template.pcap", "icmp-data.pcap"], 2100),
        (&["ipfixprobe-templates.pcap", "ipfixprobe-data.pcap"], 4739),
        (&["juniper-cpid-template.pcap", "juniper-cpid-data.pcap"], 2055),
        (&["options-template.pcap", "options-data.pcap"], 2055),
        (&["nat.pcap"], 2055),
        (&["nfv5.pcap"], 9990),
    ];
    let mut covered = 0;
    let mut total = 0;
    for (names, port) in pairs {
        let paths: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
        for p in &paths {
            assert_eq!(vigil_import::sniff(p), Some(Format::NetflowPcap), "{}", p.display());
        }
        covered += paths.len();
        // Our count: the files imported together (one directory's worth).
        let pair_dir = tmp.path().join(names[0]);
        std::fs::create_dir_all(&pair_dir).unwrap();
        for p in &paths {
            std::fs::copy(p, pair_dir.join(p.file_name().unwrap())).unwrap();
        }
        let s = import_counting(&pair_dir, true);
        assert_eq!(s.template_misses, 0, "{names:?}\n{s}");
        assert!(s.skipped.keys().all(|k| k.contains("without addresses")), "{names:?}\n{s}");
        if names[0].starts_with("juniper-cpid") {
            // Juniper exports only dataLinkFrameSection (a sampled frame's header bytes): no
            // address IEs, so the record is counted and skipped, not turned into a Conn.
            assert_eq!(s.skipped.get("netflow: data record without addresses"), Some(&1), "{s}");
        } else {
            assert!(s.conns > 0 || s.options_records > 0, "{names:?}\n{s}");
        }
        total += s.flow_records + s.options_records;
        if have_tshark {
            let merged = tmp.path().join(format!("{}.merged.pcap", names[0]));
            let mut args = vec!["-a".to_string(), "-F".into(), "pcap".into(), "-w".into(), merged.display().to_string()];
            args.extend(paths.iter().map(|p| p.display().to_string()));
            assert!(Command::new("mergecap").args(&args).status().unwrap().success());
            let theirs = tshark_records(&merged, *port);
            // The same packets in the same order, without the template-wait buffer tshark lacks.
            let unbuffered = import_counting(&merged, false);
            let ours = unbuffered.flow_records + unbuffered.options_records;
            assert!(ours <= s.flow_records + s.options_records);
            // Field-level: the addresses of every record, as tshark decodes them.
            let mut dec = Decoder::new(DecoderConfig { max_buffered_sets: 0, ..Default::default() });
            let mut recs = Vec::new();
            let rd = std::io::BufReader::new(std::fs::File::open(&merged).unwrap());
            vigil_import::pcap::for_each_udp(&merged, rd, &mut ImportStats::default(), false, |u, _| {
                dec.decode(u.src, u.payload, &mut recs)
            })
            .unwrap();
            let mut ours_addr: (Vec<String>, Vec<String>) = (
                recs.iter().filter(|r| !r.src.is_unspecified()).map(|r| r.src.to_string()).collect(),
                recs.iter().filter(|r| !r.dst.is_unspecified()).map(|r| r.dst.to_string()).collect(),
            );
            let mut theirs_addr = (Vec::new(), Vec::new());
            for (a, b) in tshark_addresses_per_frame(&merged, *port) {
                theirs_addr.0.extend(a);
                theirs_addr.1.extend(b);
            }
            for v in [&mut ours_addr.0, &mut ours_addr.1, &mut theirs_addr.0, &mut theirs_addr.1] {
                v.sort();
            }
            assert_eq!(ours_addr, theirs_addr, "{names:?}: record addresses vs tshark");
            assert_eq!(ours, theirs, "{names:?}: records vs tshark\n{s}");
        }
    }
    let all = common::files_under(&dir).len();
    assert_eq!(covered, all, "every capture in {} is in a pair above", dir.display());
    println!("netflow pcap corpus: {covered} captures, {total} data records (tshark compared: {have_tshark})");
}

#[test]
fn sflow_captures_are_read_as_sflow_and_match_tshark() {
    let Some(data) = common::shared_data() else { return };
    let dir = data.join("flows/sflow-pcap/akvorado");
    // Facts of the two captures (as tshark dissects them): one expanded flow sample each.
    //   data-qinq: 49.49.49.2:32017 → 49.49.49.109:443/tcp, ACK, VLANs 1062 and 1493, an IP
    //     packet of 80 bytes (106-byte frame) sampled 1 in 4,096, captured 2024-10-29
    //     09:11:37.448816 UTC.
    //   data-sflow-ipv4-data: 50.50.50.50:46622 → 51.51.51.51:58631/udp, an IP packet of 1,344
    //     bytes (1,390-byte frame) sampled 1 in 256. pmacct's sfacctd (renormalised) counts the
    //     same 1,344 bytes per sample.
    type Expect<'a> = (&'a str, &'a str, &'a str, u16, u16, u8, u64, u64);
    let expect: [Expect<'_>; 2] = [
        ("data-qinq.pcap", "49.49.49.2", "49.49.49.109", 32017, 443, 6, 4096, 80 * 4096),
        ("data-sflow-ipv4-data.pcap", "50.50.50.50", "51.51.51.51", 46622, 58631, 17, 256, 1344 * 256),
    ];
    for (file, src, dst, sport, dport, proto, packets, bytes) in expect {
        let f = dir.join(file);
        assert_eq!(vigil_import::sniff(&f), Some(vigil_import::Format::SflowPcap), "{}", f.display());
        let mut conns = Vec::new();
        let stats = vigil_import::import_path(&f, &mut |c| conns.push(c), &mut |_| {}).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(conns.len(), 1, "{file}: {conns:?}");
        let c = &conns[0];
        assert_eq!(
            (c.orig_h.to_string().as_str(), c.resp_h.to_string().as_str(), c.orig_p, c.resp_p, c.proto),
            (src, dst, sport, dport, proto),
            "{file}"
        );
        assert_eq!((c.orig_pkts, c.orig_ip_bytes), (packets, bytes), "{file}");
        assert_eq!((stats.export_packets, stats.flow_records), (1, 1), "{file}");
        if file == "data-qinq.pcap" {
            assert_eq!(c.ts, vigil_model::Timestamp(1_730_193_097_448_816_000));
            assert_eq!((c.vlan, c.inner_vlan), (Some(1062), Some(1493)));
        }
    }
}
