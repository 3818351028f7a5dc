//! Storage and query benchmark of the connection archive (see `bench/storage.sh` and
//! `docs/PERFORMANCE.md`): generates realistic Conn records, archives them hour by hour as
//! `vigil watch` does, and reports archive bytes per record (with the largest columns), ingest
//! records/s, and the time of typical hunting queries.
//!
//! `cargo run --release -p vigil-query --example storage_bench -- [RECORDS] [DIR]`

#[path = "../benches/common/gen.rs"]
mod generator;

use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use vigil_enrich::{Context, Site};

const START: i64 = 1_714_521_600; // 2024-05-01T00:00:00Z

/// CPU seconds (user + system) this process has used, from `/proc/self/stat` (Linux; 0 elsewhere).
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest.split_whitespace().skip(11).take(2).filter_map(|v| v.parse().ok()).collect();
    // Clock ticks are 100 per second on every Linux this runs on (USER_HZ).
    f.iter().sum::<f64>() / 100.0
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10_000_000);
    let dir = args.next().map(PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("vigil-storage-bench"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let days = 7;
    let hosts = 5000;
    println!("records: {n}, internal hosts: {hosts}, days: {days}, dir: {}", dir.display());

    let archive = vigil_archive::Archive::open(&dir)?;
    let mut g = generator::Gen::new(42, hosts, START, days, n);
    let mut chunk = Vec::new();
    let mut ingest = std::time::Duration::ZERO;
    let mut sample_host = None;
    let mut ingest_cpu = 0.0;
    let mut flush = |chunk: &mut Vec<vigil_model::Conn>| -> Result<(), Box<dyn std::error::Error>> {
        let (t, c) = (Instant::now(), cpu_secs());
        archive.append(chunk)?;
        ingest += t.elapsed();
        ingest_cpu += cpu_secs() - c;
        chunk.clear();
        Ok(())
    };
    for i in 0..n {
        let c = g.next();
        if i == n / 3 {
            sample_host = Some(c.orig_h.to_string());
        }
        if chunk.last().is_some_and(|l: &vigil_model::Conn| l.ts.secs() / 3600 != c.ts.secs() / 3600) {
            flush(&mut chunk)?;
        }
        chunk.push(c);
    }
    flush(&mut chunk)?;
    let count = archive.count()?;
    let bytes = archive.size_bytes()?;
    let files = archive.parts()?.len();
    println!(
        "archived {count} records in {files} files: {bytes} bytes, {:.2} bytes/record; ingest {:.0} records/s ({:.1} s wall, {:.1} s CPU; load average {})",
        bytes as f64 / count.max(1) as f64,
        count as f64 / ingest.as_secs_f64(),
        ingest.as_secs_f64(),
        ingest_cpu,
        loadavg()
    );

    // Where the bytes go, per column.
    let mut per_col: BTreeMap<String, i64> = BTreeMap::new();
    for f in archive.parts()? {
        let r = SerializedFileReader::new(std::fs::File::open(&f)?)?;
        for rg in r.metadata().row_groups() {
            for c in rg.columns() {
                *per_col.entry(c.column_path().string()).or_default() += c.compressed_size();
            }
        }
    }
    let mut cols: Vec<(String, i64)> = per_col.into_iter().collect();
    cols.sort_by_key(|c| std::cmp::Reverse(c.1));
    let shown: Vec<String> = cols.iter().map(|(c, b)| format!("{c} {:.2}", *b as f64 / count.max(1) as f64)).collect();
    println!("bytes/record by column: {}", shown.join(", "));

    let site = Site::parse(
        "[site]\nname = \"Bench\"\nhome_countries = [\"CN\"]\ninternal = [\"10.0.0.0/8\"]\ntimezone = \"Asia/Shanghai\"\n",
        std::path::Path::new("site.toml"),
    )?;
    let ctx = Arc::new(Context::load(site)?);
    let host = sample_host.unwrap_or_else(|| "10.1.0.1".into());
    let queries = [
        (
            "top talkers to foreign countries at night",
            "SELECT orig_h, country(resp_h) AS cc, sum(orig_bytes) AS sent, count(*) AS n FROM conn \
             WHERE (local_hour(ts) >= 22 OR local_hour(ts) < 6) AND is_foreign(resp_h) \
             GROUP BY orig_h, cc ORDER BY sent DESC LIMIT 20"
                .to_string(),
        ),
        (
            "all connections of one host",
            format!(
                "SELECT ts, orig_h, orig_p, resp_h, resp_p, service, orig_bytes, resp_bytes, server_name FROM conn \
                 WHERE orig_h = '{host}' OR resp_h = '{host}' ORDER BY ts"
            ),
        ),
        (
            "one host, one day (partition pruning)",
            format!("SELECT count(*), sum(resp_bytes) FROM conn WHERE date = '2024-05-03' AND orig_h = '{host}'"),
        ),
        ("count(*)", "SELECT count(*) FROM conn".to_string()),
    ];
    let h = vigil_query::Hunt::open(&dir, ctx)?;
    for (name, sql) in &queries {
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..3 {
            let (t, c) = (Instant::now(), cpu_secs());
            let r = h.sql(sql)?;
            times.push((t.elapsed().as_secs_f64(), cpu_secs() - c));
            rows = r.num_rows();
        }
        let best = times.iter().cloned().fold((f64::INFINITY, 0.0), |a, b| if b.0 < a.0 { b } else { a });
        println!(
            "query {name:?}: first {:.3} s, best of 3 {:.3} s wall / {:.2} s CPU, {rows} rows; load average {}",
            times[0].0,
            best.0,
            best.1,
            loadavg()
        );
    }
    Ok(())
}
