//! File-level behaviour: content sniffing, directory walks, compressed files on disk, errors
//! that name the file.

use std::io::Write;
use std::path::Path;
use vigil_capture::{CaptureError, CaptureFile, Decoder, capture_files, is_capture};

/// A classic little-endian pcap with one raw-IP UDP frame.
fn tiny_pcap() -> Vec<u8> {
    let mut ip = vec![0x45, 0, 0, 29, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    ip.extend([0x04, 0xd2, 0x00, 0x35, 0, 9, 0, 0, b'q']);
    let mut out = Vec::new();
    out.extend(0xa1b2_c3d4u32.to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(4u16.to_le_bytes());
    out.extend([0u8; 8]);
    out.extend(65535u32.to_le_bytes());
    out.extend(101u32.to_le_bytes());
    out.extend(1_700_000_000u32.to_le_bytes());
    out.extend(250_000u32.to_le_bytes());
    out.extend((ip.len() as u32).to_le_bytes());
    out.extend((ip.len() as u32).to_le_bytes());
    out.extend(&ip);
    out
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn sniffing_and_directory_walk() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let pcap = tiny_pcap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&pcap).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::stream::encode_all(&pcap[..], 3).unwrap();
    let mut text_gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    text_gz.write_all(b"#separator \\x09\n#fields\tts\n").unwrap();
    let text_gz = text_gz.finish().unwrap();

    // Names deliberately lie: content decides.
    write(&root.join("b/trace.log"), &pcap);
    write(&root.join("a/deep/er/x.bin"), &gz);
    write(&root.join("c.txt.zst"), &zst);
    write(&root.join("conn.log.gz"), &text_gz);
    write(&root.join("notes.pcap"), b"just text, not a capture");
    write(&root.join("empty.pcap"), b"");

    assert!(is_capture(&root.join("b/trace.log")));
    assert!(is_capture(&root.join("a/deep/er/x.bin")));
    assert!(is_capture(&root.join("c.txt.zst")));
    assert!(!is_capture(&root.join("conn.log.gz")));
    assert!(!is_capture(&root.join("notes.pcap")));
    assert!(!is_capture(&root.join("empty.pcap")));
    assert!(!is_capture(root));
    assert!(!is_capture(&root.join("missing")));

    let found = capture_files(root).unwrap();
    assert_eq!(found, vec![root.join("a/deep/er/x.bin"), root.join("b/trace.log"), root.join("c.txt.zst")]);
    // A file is itself, whatever it holds (opening it then says why it is not a capture).
    assert_eq!(capture_files(&root.join("notes.pcap")).unwrap(), vec![root.join("notes.pcap")]);
    assert!(matches!(capture_files(&root.join("missing")), Err(CaptureError::Io { .. })));

    for p in &found {
        let mut cf = CaptureFile::open(p).unwrap();
        let mut dec = Decoder::new();
        let f = cf.next_frame().unwrap().unwrap();
        assert_eq!(f.ts.0, 1_700_000_000_250_000_000);
        let pkt = dec.decode(&f).unwrap().unwrap();
        assert_eq!((pkt.sport, pkt.dport, pkt.payload), (1234, 53, &b"q"[..]));
        assert!(cf.next_frame().unwrap().is_none());
    }
    for name in ["conn.log.gz", "notes.pcap", "empty.pcap", "missing"] {
        let p = root.join(name);
        let err = CaptureFile::open(&p).unwrap_err();
        assert!(err.to_string().contains(&*p.to_string_lossy()), "{err}");
    }
    assert!(CaptureFile::open(root).is_err());
}

#[test]
fn corrupt_gzip_stream_is_counted_not_fatal() {
    let mut pcap = tiny_pcap();
    let frame = pcap[24..].to_vec();
    for _ in 0..2000 {
        pcap.extend(&frame);
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&pcap).unwrap();
    let mut gz = gz.finish().unwrap();
    // Damage the compressed stream past its start, then cut it short.
    let n = gz.len();
    for b in &mut gz[n / 2..n / 2 + 16] {
        *b ^= 0x5a;
    }
    gz.truncate(n * 3 / 4);
    let mut cf = CaptureFile::from_reader(Box::new(std::io::Cursor::new(gz)), "damaged.pcap.gz").unwrap();
    let mut frames = 0;
    while let Some(_f) = cf.next_frame().unwrap() {
        frames += 1;
    }
    assert!(frames < 2001);
    assert_eq!(cf.stats().truncated_records, 1);
}

#[test]
fn readers_and_decoders_move_between_threads() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<CaptureFile>();
    assert_send::<Decoder>();
    assert_send::<vigil_capture::OwnedFrame>();
    assert_send::<vigil_capture::OwnedPacket>();
    let mut cf = CaptureFile::from_reader(Box::new(std::io::Cursor::new(tiny_pcap())), "t").unwrap();
    let frames: Vec<_> = std::thread::spawn(move || (&mut cf).map(|f| f.unwrap()).collect::<Vec<_>>()).join().unwrap();
    assert_eq!(frames.len(), 1);
    let mut dec = Decoder::new();
    let raw = frames[0].as_raw();
    let pkt = dec.decode(&raw).unwrap().unwrap();
    assert_eq!(pkt.payload, b"q");
}
