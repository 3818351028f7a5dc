//! SQL over a real archive (written by `vigil_archive::Archive::append`, as `vigil hunt` and
//! `vigil watch` write it) and a real store, with every figure checked against the same numbers
//! computed directly from the records in Rust.

#[path = "../benches/common/gen.rs"]
mod generator;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use vigil_enrich::{Context, Site};
use vigil_model::Conn;
use vigil_query::arrow::array::{Array, AsArray};
use vigil_query::arrow::datatypes::{Int64Type, UInt64Type};
use vigil_query::{Hunt, QueryError, QueryResult};

const START: i64 = 1_714_521_600; // 2024-05-01T00:00:00Z

fn site() -> Arc<Context> {
    let text = r#"
[site]
name = "Test"
home_countries = ["CN"]
internal = ["10.0.0.0/8"]
timezone = "Asia/Shanghai"
work_hours = "08:30-18:00"
"#;
    Arc::new(Context::load(Site::parse(text, Path::new("site.toml")).expect("site parses")).expect("context"))
}

/// Archive of `n` generated records, appended hour by hour as `vigil watch` does.
fn archive(dir: &Path, n: u64) -> Vec<Conn> {
    let mut g = generator::Gen::new(7, 400, START, 2, n);
    let conns: Vec<Conn> = (0..n).map(|_| g.next()).collect();
    let a = vigil_archive::Archive::open(dir).expect("archive");
    for chunk in conns.chunk_by(|a, b| a.ts.secs() / 3600 == b.ts.secs() / 3600) {
        a.append(chunk).expect("append");
    }
    conns
}

fn strings(r: &QueryResult, col: usize) -> Vec<String> {
    let mut out = Vec::new();
    for b in &r.batches {
        let c = vigil_query::arrow::compute::cast(b.column(col), &vigil_query::arrow::datatypes::DataType::Utf8).expect("cast");
        let s = c.as_string::<i32>();
        out.extend((0..s.len()).map(|i| s.value(i).to_string()));
    }
    out
}

fn ints(r: &QueryResult, col: usize) -> Vec<i64> {
    let mut out = Vec::new();
    for b in &r.batches {
        let c = b.column(col);
        if let Some(a) = c.as_primitive_opt::<Int64Type>() {
            out.extend(a.values().iter().copied());
        } else if let Some(a) = c.as_primitive_opt::<UInt64Type>() {
            out.extend(a.values().iter().map(|v| *v as i64));
        } else {
            panic!("column {col} is {}, not an integer", c.data_type());
        }
    }
    out
}

fn one(h: &Hunt, sql: &str) -> i64 {
    let r = h.sql(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let v = ints(&r, 0);
    assert_eq!(v.len(), 1, "{sql}");
    v[0]
}

#[test]
fn counts_partitions_and_filters_agree_with_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let conns = archive(dir.path(), 30_000);
    let h = Hunt::open(dir.path(), site()).expect("open");
    assert_eq!(one(&h, "SELECT count(*) FROM conn"), conns.len() as i64);

    // Hive partitions: one hour of one day.
    let in_hour = conns.iter().filter(|c| c.ts.secs() >= START + 27 * 3600 && c.ts.secs() < START + 28 * 3600).count();
    assert!(in_hour > 0);
    assert_eq!(one(&h, "SELECT count(*) FROM conn WHERE date = '2024-05-02' AND hour = '03'"), in_hour as i64);

    // Column filters and string functions.
    let https_out = conns.iter().filter(|c| c.resp_p == 443 && !c.resp_h.to_string().starts_with("10.")).count();
    assert_eq!(one(&h, "SELECT count(*) FROM conn WHERE resp_p = 443 AND resp_h NOT LIKE '10.%'"), https_out as i64);
    let re = conns.iter().filter(|c| c.server_name().is_some_and(|s| s.starts_with("api") && s.ends_with(".cn"))).count();
    assert!(re > 0);
    assert_eq!(one(&h, r"SELECT count(*) FROM conn WHERE regexp_like(server_name, '^api[0-9]+\.cn$')"), re as i64);
    let bytes: u64 = conns.iter().filter_map(|c| c.resp_bytes).sum();
    assert_eq!(one(&h, "SELECT CAST(sum(resp_bytes) AS BIGINT) FROM conn"), bytes as i64);
}

#[test]
fn top_talkers_to_foreign_countries_at_night() {
    let dir = tempfile::tempdir().unwrap();
    let conns = archive(dir.path(), 20_000);
    let ctx = site();
    let h = Hunt::open(dir.path(), ctx.clone()).expect("open");
    let sql = "SELECT orig_h, country(resp_h) AS cc, CAST(sum(orig_bytes) AS BIGINT) AS sent, count(*) AS n
               FROM conn
               WHERE is_foreign(resp_h) AND (local_hour(ts) >= 22 OR local_hour(ts) < 6)
               GROUP BY orig_h, cc ORDER BY sent DESC, orig_h, cc LIMIT 10";
    let r = h.sql(sql).expect("query");

    let mut expect: HashMap<(String, String), (i64, i64)> = HashMap::new();
    for c in &conns {
        let hr = ctx.local_hour(c.ts);
        if ctx.is_foreign(c.resp_h) == Some(true) && !(6..22).contains(&hr) {
            let cc = ctx.geo(c.resp_h).country.map(|x| String::from_utf8_lossy(&x).into_owned()).unwrap_or_default();
            let e = expect.entry((c.orig_h.to_string(), cc)).or_default();
            e.0 += c.orig_bytes.unwrap_or(0) as i64;
            e.1 += 1;
        }
    }
    let mut want: Vec<((String, String), (i64, i64))> = expect.into_iter().collect();
    want.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(&b.0)));
    want.truncate(10);
    assert_eq!(want.len(), 10, "the generated night traffic reaches foreign countries");
    let got: Vec<((String, String), (i64, i64))> =
        strings(&r, 0).into_iter().zip(strings(&r, 1)).zip(ints(&r, 2).into_iter().zip(ints(&r, 3))).collect();
    assert_eq!(got, want);
    assert!(got.iter().all(|((_, cc), _)| cc != "CN"), "home country is not foreign");
}

#[test]
fn all_connections_of_one_host_and_findings_join() {
    let dir = tempfile::tempdir().unwrap();
    let conns = archive(dir.path(), 10_000);
    let host = conns[conns.len() / 2].orig_h.to_string();
    let mine: Vec<&Conn> = conns.iter().filter(|c| c.orig_h.to_string() == host || c.resp_h.to_string() == host).collect();

    // A stored finding about that host.
    let mut store = vigil_store::Store::open(dir.path()).expect("store");
    let f = vigil_model::Finding {
        id: "beacon-test".into(),
        kind: vigil_model::FindingKind::Beacon,
        severity: vigil_model::Severity::High,
        score: 0.8,
        src: host.clone(),
        dst: vec!["203.0.113.9".into()],
        path: vec![],
        first_seen: chrono::DateTime::parse_from_rfc3339("2024-05-01T01:00:00+08:00").unwrap(),
        last_seen: chrono::DateTime::parse_from_rfc3339("2024-05-02T01:00:00+08:00").unwrap(),
        attack: vec!["T1071".into()],
        summary: "=cmd|' /C calc'!A0 \u{1b}[2J".into(),
        evidence: serde_json::json!({"n": 3}),
    };
    store.upsert_findings(&[f]).expect("upsert");
    drop(store);

    let h = Hunt::open(dir.path(), site()).expect("open");
    let r = h.sql(&format!("SELECT ts, resp_h, resp_p FROM conn WHERE orig_h = '{host}' OR resp_h = '{host}' ORDER BY ts")).expect("query");
    assert_eq!(r.num_rows(), mine.len());
    let got = strings(&r, 1);
    let want: Vec<String> = mine.iter().map(|c| c.resp_h.to_string()).collect();
    assert_eq!(got, want);

    let r = h
        .sql(
            "SELECT f.kind, f.severity_rank, f.first_seen, count(c.ts) AS n FROM findings f JOIN conn c ON c.orig_h = f.src
              WHERE c.ts BETWEEN f.first_seen AND f.last_seen GROUP BY f.kind, f.severity_rank, f.first_seen",
        )
        .expect("join");
    let in_window = conns
        .iter()
        .filter(|c| {
            c.orig_h.to_string() == host && c.ts.0 >= (START - 7 * 3600) * 1_000_000_000 && c.ts.0 <= (START + 17 * 3600) * 1_000_000_000
        })
        .count();
    assert_eq!(strings(&r, 0), vec!["beacon".to_string()]);
    assert_eq!(ints(&r, 1), vec![vigil_model::Severity::High as i64]);
    assert_eq!(strings(&r, 2), vec!["2024-04-30T17:00:00Z".to_string()]);
    assert_eq!(ints(&r, 3), vec![in_window as i64]);

    // The attacker-controlled summary comes out escaped in every format.
    let r = h.sql("SELECT summary FROM findings").expect("summary");
    let mut csv = Vec::new();
    vigil_query::render::write_csv(&mut csv, &r).unwrap();
    assert_eq!(String::from_utf8(csv).unwrap(), "summary\r\n'=cmd|' /C calc'!A0 \u{1b}[2J\r\n");
    let mut table = Vec::new();
    vigil_query::render::write_table(&mut table, &r, &|s| s.replace('\u{1b}', "\\x1b")).unwrap();
    let table = String::from_utf8(table).unwrap();
    assert!(!table.contains('\u{1b}') && table.contains("\\x1b[2J"), "{table}");
    let mut json = Vec::new();
    vigil_query::render::write_json(&mut json, &r).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v[0]["summary"], "=cmd|' /C calc'!A0 \u{1b}[2J");
}

#[test]
fn writes_are_refused_and_errors_are_plain() {
    let dir = tempfile::tempdir().unwrap();
    archive(dir.path(), 500);
    let h = Hunt::open(dir.path(), site()).expect("open");
    let out = dir.path().join("copy.csv");
    for sql in [
        "CREATE TABLE x AS SELECT 1".to_string(),
        format!("COPY (SELECT * FROM conn) TO '{}'", out.display()),
        "INSERT INTO findings SELECT * FROM findings".to_string(),
        "SET datafusion.execution.batch_size = 1".to_string(),
    ] {
        let e = h.sql(&sql).expect_err(&sql);
        assert!(matches!(e, QueryError::Sql(_)), "{sql}: {e:?}");
    }
    assert!(!out.exists());
    let e = h.sql("SELECT no_such_column FROM conn").expect_err("bad column").to_string();
    assert!(e.contains("no_such_column"), "{e}");
    assert!(h.sql("SELEKT 1").is_err());
}

#[test]
fn an_empty_data_directory_has_empty_tables() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hunt::open(dir.path(), site()).expect("open");
    assert_eq!(one(&h, "SELECT count(*) FROM conn"), 0);
    assert_eq!(one(&h, "SELECT count(*) FROM findings"), 0);
    let r = h.sql("SELECT orig_h, date FROM conn").expect("columns exist");
    assert_eq!(r.schema.fields().len(), 2);
    assert!(!dir.path().join("vigil.db").exists(), "a query creates nothing");
    let tables = strings(&h.sql("SHOW TABLES").expect("show tables"), 2);
    assert!(tables.contains(&"conn".to_string()) && tables.contains(&"findings".to_string()), "{tables:?}");
    let cols = strings(&h.sql("DESCRIBE conn").expect("describe"), 0);
    assert!(cols.contains(&"server_name".to_string()) && cols.contains(&"hour".to_string()), "{cols:?}");
}

#[test]
fn a_part_being_written_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let conns = archive(dir.path(), 1000);
    // A writer's unfinished part: garbage under the temporary name it uses.
    let part = vigil_archive::Archive::open(dir.path()).unwrap().parts().unwrap().remove(0);
    std::fs::write(part.parent().unwrap().join(".tmp-part-0-0-1.parquet.partial"), b"PAR1 half written").unwrap();
    let h = Hunt::open(dir.path(), site()).expect("open");
    assert_eq!(one(&h, "SELECT count(*) FROM conn"), conns.len() as i64);
}

#[test]
fn csv_quoting_and_formula_neutralising() {
    use vigil_query::render::csv_field;
    assert_eq!(csv_field("plain", true), "plain");
    assert_eq!(csv_field("a,b", true), "\"a,b\"");
    assert_eq!(csv_field("say \"hi\"", true), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_field("line\nbreak", true), "\"line\nbreak\"");
    assert_eq!(csv_field("=1+1", true), "'=1+1");
    assert_eq!(csv_field("+1", true), "'+1");
    assert_eq!(csv_field("@SUM(A1)", true), "'@SUM(A1)");
    assert_eq!(csv_field("-2+3,x", true), "\"'-2+3,x\"");
    assert_eq!(csv_field("\t=1", true), "'\t=1");
    assert_eq!(csv_field("-5", false), "-5", "a negative number stays a number");
}

#[test]
fn parts_of_both_archive_versions_read_as_one_table() {
    use vigil_query::arrow::datatypes::{DataType, Float64Type};
    let dir = tempfile::tempdir().unwrap();
    // A part written by version 1 of the archive (duration as float64 seconds)…
    let hour = "archive/conn/date=2023-11-14/hour=22";
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vigil-archive/testdata/v1").join(hour);
    std::fs::create_dir_all(dir.path().join(hour)).unwrap();
    for f in std::fs::read_dir(&from).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.path().join(hour).join(f.file_name())).unwrap();
    }
    let a = vigil_archive::Archive::open(dir.path()).unwrap();
    let old = a.read_since(vigil_model::Timestamp(0)).unwrap();
    assert_eq!(old.len(), 12);
    // …and version-2 parts (duration as DECIMAL(18,6)) in the same hour and the next.
    let mut fresh = Vec::new();
    for (shift, extra) in [(7, 0.25), (3_600_000_000_000, 10.000001)] {
        fresh.extend(old.iter().map(|c| {
            let mut c = c.clone();
            c.ts = vigil_model::Timestamp(c.ts.0 + shift);
            c.duration = c.duration.map(|d| d + extra);
            c
        }));
    }
    assert_eq!(a.append(&fresh).unwrap().files, 2);
    let all: Vec<&Conn> = old.iter().chain(&fresh).collect();

    let h = Hunt::open(dir.path(), site()).expect("open");
    assert_eq!(one(&h, "SELECT count(*) FROM conn"), 36);
    let r = h.sql("SELECT sum(duration), min(duration), max(duration), count(duration) FROM conn").expect("sum");
    assert_eq!(r.schema.field(0).data_type(), &DataType::Float64, "duration reads as float64 seconds from every version");
    let b = &r.batches[0];
    let f = |i: usize| b.column(i).as_primitive::<Float64Type>().value(0);
    // The archive keeps microseconds (DECIMAL(18,6)): 3600.123456 + 10.000001 is stored as
    // 3610.123457, not as the float sum 3610.1234569999997.
    let micro = |d: f64| (d * 1e6).round() / 1e6;
    let durations: Vec<f64> = all.iter().filter_map(|c| c.duration.map(micro)).collect();
    assert!((f(0) - durations.iter().sum::<f64>()).abs() < 1e-6, "{} vs {}", f(0), durations.iter().sum::<f64>());
    assert_eq!(f(1), durations.iter().cloned().fold(f64::INFINITY, f64::min));
    assert_eq!(f(2), durations.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
    assert_eq!(ints(&r, 3), vec![durations.len() as i64]);
    // Exact decimal values compare equal across versions: 3600.123456 (v1), +0.25 and
    // +10.000001 (v2).
    for v in [3600.123456, 3600.373456, 3610.123457] {
        let want = all.iter().filter(|c| c.duration.map(micro) == Some(v)).count() as i64;
        assert!(want > 0, "{v}");
        assert_eq!(one(&h, &format!("SELECT count(*) FROM conn WHERE duration = {v}")), want, "{v}");
    }
    // A filter on duration and another column is pushed into both kinds of file.
    let want = all.iter().filter(|c| c.duration.is_some_and(|d| d > 1.0) && c.orig_h.to_string() == "10.0.0.5").count() as i64;
    assert_eq!(one(&h, "SELECT count(*) FROM conn WHERE duration > 1.0 AND orig_h = '10.0.0.5'"), want);
}
