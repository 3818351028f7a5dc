//! Throughput of the protocol parsers through `AppSession`, on real traffic from the shared
//! corpus (each flow's payload replayed from memory), and of the JA4 computation alone.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::path::{Path, PathBuf};
use vigil_capture::{CaptureFile, Decoder};
use vigil_model::{PROTO_TCP, PROTO_UDP, Timestamp};
use vigil_proto::AppSession;

/// (proto, orig_p, resp_p, [(from_orig, payload)]) for every flow of a capture, in order.
type Replay = Vec<(u8, u16, u16, Vec<(bool, Vec<u8>)>)>;

fn data_dir() -> Option<PathBuf> {
    let p = std::env::var_os("VIGIL_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    p.is_dir().then_some(p)
}

fn load(path: &Path) -> Replay {
    let mut out: Replay = Vec::new();
    let mut keys = Vec::new();
    let Ok(mut cap) = CaptureFile::open(path) else { return out };
    let mut dec = Decoder::new();
    while let Ok(Some(frame)) = cap.next_frame() {
        let Ok(Some(p)) = dec.decode(&frame) else { continue };
        if (p.proto != PROTO_TCP && p.proto != PROTO_UDP) || p.payload.is_empty() {
            continue;
        }
        let fwd = (p.src, p.sport, p.dst, p.dport, p.proto);
        let rev = (p.dst, p.dport, p.src, p.sport, p.proto);
        let (i, from_orig) = match keys.iter().position(|k| *k == fwd) {
            Some(i) => (i, true),
            None => match keys.iter().position(|k| *k == rev) {
                Some(i) => (i, false),
                None => {
                    keys.push(fwd);
                    out.push((p.proto, p.sport, p.dport, Vec::new()));
                    (keys.len() - 1, true)
                }
            },
        };
        out[i].3.push((from_orig, p.payload.to_vec()));
    }
    out
}

fn run(replay: &Replay) -> usize {
    let mut n = 0;
    for (proto, o, r, segs) in replay {
        let mut s = AppSession::new(*proto, *o, *r);
        for (from_orig, d) in segs {
            s.on_data(*from_orig, Timestamp(0), d);
        }
        n += usize::from(s.service().is_some());
        std::hint::black_box(s.finish());
    }
    n
}

fn bench(c: &mut Criterion) {
    let Some(dir) = data_dir() else {
        eprintln!("shared data not found; skipping benchmarks");
        return;
    };
    for (name, file) in [
        ("tls_handshakes", "pcaps/ja4/tls-handshake.pcapng"),
        ("dns_http_mix", "pcaps/zeek/wikipedia.pcap"),
        ("quic_initials", "pcaps/ja4/latest.pcapng"),
        // SMB2: an 800 kB tool copied to C$ (payload skipped by count).
        ("smb_file_copy", "pcaps/lateral-movement/401trg/20171220_smb_mimikatz_copy.pcap"),
        // SMB2 + DCE-RPC on named pipes: PsExec.
        ("smb_psexec", "pcaps/suricata-verify/smb2-07/20171220_smb_psexec_add_user.pcap"),
    ] {
        let replay = load(&dir.join(file));
        let bytes: usize = replay.iter().flat_map(|f| f.3.iter()).map(|(_, d)| d.len()).sum();
        let mut g = c.benchmark_group("app_session");
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function(name, |b| b.iter(|| run(&replay)));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
