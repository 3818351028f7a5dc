//! Zeek log import throughput: conn.log records per second on one core (TSV and JSON), the
//! figure `docs/PERFORMANCE.md` quotes. The input is synthetic but shaped like real logs
//! (Zeek 6 conn.log columns, varied addresses, ports, states and services).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_import::{ImportOptions, ImportStats};

const N: usize = 100_000;

fn tsv() -> Vec<u8> {
    let mut s = String::from(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t2024-01-01-00-00-00\n\
         #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n\
         #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n",
    );
    for i in 0..N {
        let svc = ["ssl", "dns", "-", "http"][i % 4];
        let state = ["SF", "S0", "REJ", "RSTO"][i % 4];
        s.push_str(&format!(
            "{}.{:06}\tC{:017x}\t10.{}.{}.{}\t{}\t{}.{}.{}.{}\t{}\ttcp\t{svc}\t{}.{:06}\t{}\t{}\t{state}\tT\tF\t0\tShADadFf\t{}\t{}\t{}\t{}\t(empty)\n",
            1_700_000_000 + i / 10,
            i % 1_000_000,
            i as u64 * 2_654_435_761,
            i % 7,
            i % 251,
            i % 253,
            1024 + i % 60000,
            (i * 7) % 223 + 1,
            i % 255,
            (i * 3) % 255,
            (i * 5) % 255,
            [443, 53, 80, 22][i % 4],
            i % 100,
            i % 1_000_000,
            i % 5000,
            i % 90000,
            i % 50,
            i % 7000,
            i % 40,
            i % 95000,
        ));
    }
    s.into_bytes()
}

fn json(tsv: &[u8]) -> Vec<u8> {
    // The same records as Zeek JSON lines.
    let mut stats = ImportStats::default();
    let mut out = String::new();
    vigil_import::zeek::import_bytes(tsv, &ImportOptions::default(), &mut stats, &mut |c| {
        let v = serde_json::json!({
            "_path": "conn", "ts": c.ts.as_secs_f64(), "uid": c.uid, "id.orig_h": c.orig_h, "id.orig_p": c.orig_p,
            "id.resp_h": c.resp_h, "id.resp_p": c.resp_p, "proto": "tcp", "service": c.service, "duration": c.duration,
            "orig_bytes": c.orig_bytes, "resp_bytes": c.resp_bytes, "conn_state": c.conn_state.as_str(),
            "local_orig": c.local_orig, "local_resp": c.local_resp, "missed_bytes": 0, "history": c.history,
            "orig_pkts": c.orig_pkts, "orig_ip_bytes": c.orig_ip_bytes, "resp_pkts": c.resp_pkts, "resp_ip_bytes": c.resp_ip_bytes,
        });
        out.push_str(&v.to_string());
        out.push('\n');
    });
    out.into_bytes()
}

fn bench(c: &mut Criterion) {
    let t = tsv();
    let j = json(&t);
    let opts = ImportOptions::default();
    let mut g = c.benchmark_group("zeek_conn_import");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    g.bench_function("tsv", |b| {
        b.iter(|| {
            let mut stats = ImportStats::default();
            let mut n = 0u64;
            vigil_import::zeek::import_bytes(&t, &opts, &mut stats, &mut |_| n += 1);
            assert_eq!(n, N as u64);
        })
    });
    g.bench_function("json", |b| {
        b.iter(|| {
            let mut stats = ImportStats::default();
            let mut n = 0u64;
            vigil_import::zeek::import_bytes(&j, &opts, &mut stats, &mut |_| n += 1);
            assert_eq!(n, N as u64);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
