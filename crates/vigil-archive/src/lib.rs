//! The connection archive: every Conn record Vigil has seen, as plain Parquet files (zstd) under
//! `DATA/archive/conn/date=YYYY-MM-DD/hour=HH/part-*.parquet` — Hive-style partitions that
//! DuckDB, pandas, Spark and DataFusion open directly.
//!
//! Writes are append-only and atomic: a part file is written under a temporary name, synced, and
//! renamed into place, so a crash leaves either the whole part or nothing (stray temporary files
//! are removed on open). Appends are idempotent by content: a record whose key (event time and
//! five-tuple) is already in its hour partition is not written again, so re-reading the same input
//! never duplicates records.
//!
//! [`spill`] is the other way Conn records go to disk: the temporary, sorted runs of `vigil
//! hunt`'s external sort.

mod schema;
pub mod spill;

pub use schema::{SCHEMA_VERSION, SCHEMA_VERSION_KEY, conn_schema, conns_to_batch, file_schema, key_of};

use arrow_array::{Array, RecordBatch, StringArray, TimestampNanosecondArray, UInt8Array, UInt16Array};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use vigil_model::Conn;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("archive {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("archive file {path}: {msg}")]
    Parquet { path: PathBuf, msg: String },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io { path: path.to_path_buf(), source }
}

fn pq(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> ArchiveError + '_ {
    move |e| ArchiveError::Parquet { path: path.to_path_buf(), msg: e.to_string() }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AppendStats {
    pub written: u64,
    pub duplicates: u64,
    pub files: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetainStats {
    pub files_removed: u64,
    pub bytes_removed: u64,
}

pub struct Archive {
    root: PathBuf,
}

impl Archive {
    /// Opens (creating) the archive under `data_dir/archive/conn`.
    pub fn open(data_dir: &Path) -> Result<Archive, ArchiveError> {
        let root = data_dir.join("archive").join("conn");
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        let a = Archive { root };
        // A crash between write and rename leaves a temporary file: it was never committed.
        for f in a.files_matching(|n| n.starts_with(".tmp-"))? {
            let _ = std::fs::remove_file(f);
        }
        Ok(a)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn partition_dir(&self, hour_start_secs: i64) -> PathBuf {
        let t = chrono::DateTime::from_timestamp(hour_start_secs, 0).unwrap_or_default();
        self.root.join(format!("date={}", t.format("%Y-%m-%d"))).join(format!("hour={}", t.format("%H")))
    }

    /// Appends records, skipping those already archived. Each hour partition gets one new part
    /// file per call (none when everything was already there).
    pub fn append(&self, conns: &[Conn]) -> Result<AppendStats, ArchiveError> {
        let refs: Vec<&Conn> = conns.iter().collect();
        self.append_refs(&refs)
    }

    /// [`Archive::append`] of borrowed records (a streamed pass hands over an hour at a time
    /// from the chunks it shares with the detectors): the same part files for the same records.
    pub fn append_refs(&self, conns: &[&Conn]) -> Result<AppendStats, ArchiveError> {
        let mut by_hour: BTreeMap<i64, Vec<&Conn>> = BTreeMap::new();
        for &c in conns {
            by_hour.entry(c.ts.secs().div_euclid(3600) * 3600).or_default().push(c);
        }
        let mut stats = AppendStats::default();
        for (hour, mut recs) in by_hour {
            let dir = self.partition_dir(hour);
            let mut seen = if dir.exists() { self.keys_in(&dir)? } else { HashSet::new() };
            recs.retain(|c| {
                let fresh = seen.insert(key_of(c));
                if !fresh {
                    stats.duplicates += 1;
                }
                fresh
            });
            if recs.is_empty() {
                continue;
            }
            recs.sort_by_key(|c| c.ts);
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            let batch = conns_to_batch(&recs);
            // The part name is derived from its content, so the same records always land in the
            // same file name (and a retried write after a crash replaces, never duplicates).
            let first = key_of(recs[0]);
            let last = key_of(recs[recs.len() - 1]);
            let name = format!("part-{:016x}-{:016x}-{}.parquet", first, last, recs.len());
            self.write_atomic(&dir, &name, &batch)?;
            stats.written += recs.len() as u64;
            stats.files += 1;
        }
        Ok(stats)
    }

    fn write_atomic(&self, dir: &Path, name: &str, batch: &RecordBatch) -> Result<(), ArchiveError> {
        // Not ending in `.parquet`: a reader listing the partition (DataFusion, DuckDB) must
        // never pick up a part that is still being written.
        let tmp = dir.join(format!(".tmp-{name}.partial"));
        let dst = dir.join(name);
        let written = write_part(&tmp, batch);
        if written.is_err() {
            // A full disk or an I/O error: give the space back now, not at the next open.
            let _ = std::fs::remove_file(&tmp);
        }
        written?;
        std::fs::rename(&tmp, &dst).map_err(io(&dst))?;
        // Make the rename itself durable.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Keys of every record already in a partition (reads only the key columns).
    fn keys_in(&self, dir: &Path) -> Result<HashSet<u64>, ArchiveError> {
        let mut keys = HashSet::new();
        for f in list_parts(dir)? {
            for batch in read_columns(&f, &["ts", "orig_h", "orig_p", "resp_h", "resp_p", "proto"])? {
                let ts = col::<TimestampNanosecondArray>(&batch, 0, &f)?;
                let oh = col::<StringArray>(&batch, 1, &f)?;
                let op = col::<UInt16Array>(&batch, 2, &f)?;
                let rh = col::<StringArray>(&batch, 3, &f)?;
                let rp = col::<UInt16Array>(&batch, 4, &f)?;
                let pr = col::<UInt8Array>(&batch, 5, &f)?;
                for i in 0..batch.num_rows() {
                    keys.insert(schema::key_parts(ts.value(i), oh.value(i), op.value(i), rh.value(i), rp.value(i), pr.value(i)));
                }
            }
        }
        Ok(keys)
    }

    fn files_matching(&self, pred: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, ArchiveError> {
        let mut out = Vec::new();
        walk(&self.root, &mut out, 0).map_err(io(&self.root))?;
        out.retain(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&pred));
        out.sort();
        Ok(out)
    }

    /// Every committed part file, oldest partition first.
    pub fn parts(&self) -> Result<Vec<PathBuf>, ArchiveError> {
        self.files_matching(|n| n.starts_with("part-") && n.ends_with(".parquet"))
    }

    /// Records whose event time is at or after `since`, rebuilt as `Conn`s with the fields the
    /// archive keeps (used by `vigil watch` to restore its detector window after a restart).
    pub fn read_since(&self, since: vigil_model::Timestamp) -> Result<Vec<Conn>, ArchiveError> {
        let first_hour = since.secs().div_euclid(3600) * 3600;
        let mut out = Vec::new();
        for f in self.parts()? {
            if partition_hour(&f).is_some_and(|h| h < first_hour) {
                continue;
            }
            let file = File::open(&f).map_err(io(&f))?;
            decode_into(file, since, &mut out).map_err(|msg| ArchiveError::Parquet { path: f.clone(), msg })?;
        }
        out.sort_by_key(|c| c.ts);
        Ok(out)
    }

    /// The latest event time archived (reads the `ts` column of the newest partition only).
    pub fn newest(&self) -> Result<Option<vigil_model::Timestamp>, ArchiveError> {
        let parts = self.parts()?;
        let Some(last_hour) = parts.iter().filter_map(|p| partition_hour(p)).max() else {
            return Ok(None);
        };
        let mut best: Option<i64> = None;
        for p in parts.iter().filter(|p| partition_hour(p) == Some(last_hour)) {
            for b in read_columns(p, &["ts"])? {
                let ts = col::<TimestampNanosecondArray>(&b, 0, p)?;
                best = ts.iter().flatten().chain(best).max();
            }
        }
        Ok(best.map(vigil_model::Timestamp))
    }

    /// Number of archived records (from Parquet footers, no data read).
    pub fn count(&self) -> Result<u64, ArchiveError> {
        let mut n = 0u64;
        for f in self.parts()? {
            let file = File::open(&f).map_err(io(&f))?;
            let b = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq(&f))?;
            n += b.metadata().file_metadata().num_rows().max(0) as u64;
        }
        Ok(n)
    }

    pub fn size_bytes(&self) -> Result<u64, ArchiveError> {
        let mut n = 0;
        for f in self.parts()? {
            n += std::fs::metadata(&f).map_err(io(&f))?.len();
        }
        Ok(n)
    }

    /// Retention: drops whole hour partitions older than `max_age_s` before `now_s` (event
    /// time), then the oldest partitions until the archive is at most `max_bytes`.
    pub fn retain(&self, now_s: i64, max_age_s: Option<i64>, max_bytes: Option<u64>) -> Result<RetainStats, ArchiveError> {
        let mut st = RetainStats::default();
        let parts = self.parts()?;
        let mut sized: Vec<(PathBuf, u64, i64)> = Vec::new();
        for p in parts {
            let len = std::fs::metadata(&p).map_err(io(&p))?.len();
            let hour = partition_hour(&p).unwrap_or(i64::MAX);
            sized.push((p, len, hour));
        }
        sized.sort_by_key(|(p, _, h)| (*h, p.clone()));
        let mut total: u64 = sized.iter().map(|(_, l, _)| l).sum();
        for (p, len, hour) in &sized {
            let too_old = max_age_s.is_some_and(|a| *hour + 3600 <= now_s - a);
            let too_big = max_bytes.is_some_and(|m| total > m);
            if !(too_old || too_big) {
                continue;
            }
            std::fs::remove_file(p).map_err(io(p))?;
            total -= len;
            st.files_removed += 1;
            st.bytes_removed += len;
            if let Some(d) = p.parent() {
                let _ = std::fs::remove_dir(d);
                if let Some(dd) = d.parent() {
                    let _ = std::fs::remove_dir(dd);
                }
            }
        }
        Ok(st)
    }
}

/// Writer settings, chosen column by column on the benchmark's realistic records (bytes per
/// record and the alternatives tried: docs/PERFORMANCE.md, "Store"). Only encodings every
/// common Parquet reader decodes (DuckDB, pandas/pyarrow, Spark, DataFusion): plain,
/// dictionary, DELTA_BINARY_PACKED, and BYTE_STREAM_SPLIT for floats only (DuckDB and older
/// Spark reject it on integers).
///
/// * `ts`: records are sorted by time within a part, so deltas are small: DELTA_BINARY_PACKED.
/// * `orig_p` (ephemeral ports, close to uniform): DELTA_BINARY_PACKED beats a dictionary of
///   tens of thousands of ports.
/// * `duration` (decimal microseconds) and the responder byte counts (heavy-tailed, mostly
///   distinct): plain, left to zstd.
/// * every other column (addresses, names, states, small counts): dictionary, with room for an
///   hour's distinct addresses; text at a higher zstd level, which shrinks the dictionary pages.
/// * entropy floats: BYTE_STREAM_SPLIT.
/// * one row group per part; statistics and the page index kept (they let queries skip data).
pub fn writer_properties() -> Result<WriterProperties, parquet::errors::ParquetError> {
    let numbers = Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL)?);
    let text = Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL_TEXT)?);
    let mut b = WriterProperties::builder()
        .set_compression(numbers)
        .set_max_row_group_row_count(Some(1024 * 1024))
        .set_dictionary_page_size_limit(4 * 1024 * 1024)
        .set_key_value_metadata(Some(vec![KeyValue::new(SCHEMA_VERSION_KEY.to_string(), SCHEMA_VERSION.to_string())]));
    let col = ColumnPath::from;
    for f in ["ts", "orig_p"] {
        b = b.set_column_dictionary_enabled(col(f), false).set_column_encoding(col(f), Encoding::DELTA_BINARY_PACKED);
    }
    for f in ["duration", "resp_bytes", "resp_ip_bytes"] {
        b = b.set_column_dictionary_enabled(col(f), false).set_column_encoding(col(f), Encoding::PLAIN);
    }
    for f in ["orig_entropy", "resp_entropy"] {
        b = b.set_column_dictionary_enabled(col(f), false).set_column_encoding(col(f), Encoding::BYTE_STREAM_SPLIT);
    }
    for f in conn_schema().fields().iter().filter(|f| f.data_type() == &arrow_schema::DataType::Utf8) {
        b = b.set_column_compression(col(f.name()), text);
    }
    Ok(b.build())
}

/// zstd levels of the part files (written once, read many times): beyond these, bytes saved
/// fall below 1 % while write time doubles.
const ZSTD_LEVEL: i32 = 9;
const ZSTD_LEVEL_TEXT: i32 = 12;

fn write_part(tmp: &Path, batch: &RecordBatch) -> Result<(), ArchiveError> {
    let file = File::create(tmp).map_err(io(tmp))?;
    let props = writer_properties().map_err(pq(tmp))?;
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(pq(tmp))?;
    w.write(batch).map_err(pq(tmp))?;
    let file = w.into_inner().map_err(pq(tmp))?;
    file.sync_all().map_err(io(tmp))
}

fn col<'a, T: 'static>(b: &'a RecordBatch, i: usize, f: &Path) -> Result<&'a T, ArchiveError> {
    b.column(i)
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| ArchiveError::Parquet { path: f.to_path_buf(), msg: format!("column {i} has an unexpected type") })
}

/// The records of one part file held in memory, from `since` on: what [`Archive::read_since`]
/// does per file. Parts are the archive's own files, but a data directory can be damaged or
/// tampered with, so every byte is hostile here: a malformed part is an error, never a panic.
pub fn decode_part(data: bytes::Bytes, since: vigil_model::Timestamp) -> Result<Vec<Conn>, String> {
    let mut out = Vec::new();
    decode_into(data, since, &mut out)?;
    Ok(out)
}

/// Appends the records of one part (a file or bytes) from `since` on to `out`.
fn decode_into<R: parquet::file::reader::ChunkReader + 'static>(
    part: R,
    since: vigil_model::Timestamp,
    out: &mut Vec<Conn>,
) -> Result<(), String> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(part).and_then(|b| b.build()).map_err(|e| e.to_string())?;
    for batch in reader {
        schema::batch_to_conns(&batch.map_err(|e| e.to_string())?, since, out)?;
    }
    Ok(())
}

/// Reads the named columns of one part file.
pub fn read_columns(f: &Path, names: &[&str]) -> Result<Vec<RecordBatch>, ArchiveError> {
    let file = File::open(f).map_err(io(f))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq(f))?;
    let schema = b.parquet_schema();
    let mut idx = Vec::new();
    for n in names {
        let i = (0..schema.num_columns())
            .find(|&i| schema.column(i).name() == *n)
            .ok_or_else(|| ArchiveError::Parquet { path: f.to_path_buf(), msg: format!("no column {n}") })?;
        idx.push(i);
    }
    let mask = ProjectionMask::leaves(schema, idx.clone());
    let reader = b.with_projection(mask).build().map_err(pq(f))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| ArchiveError::Parquet { path: f.to_path_buf(), msg: e.to_string() })?;
        // Projection keeps file order; put the columns in the order asked for.
        let fields: Vec<usize> = names.iter().map(|n| batch.schema().index_of(n).unwrap_or(0)).collect();
        let b2 = batch.project(&fields).map_err(|e| ArchiveError::Parquet { path: f.to_path_buf(), msg: e.to_string() })?;
        out.push(b2);
    }
    Ok(out)
}

fn list_parts(dir: &Path) -> Result<Vec<PathBuf>, ArchiveError> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let p = e.map_err(io(dir))?.path();
        if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("part-") && n.ends_with(".parquet")) {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: u32) -> std::io::Result<()> {
    if depth > 4 {
        return Ok(());
    }
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let ft = e.file_type()?;
        if ft.is_dir() {
            walk(&e.path(), out, depth + 1)?;
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
    Ok(())
}

/// Start of the hour a part file's partition covers, from its `date=`/`hour=` directories.
fn partition_hour(p: &Path) -> Option<i64> {
    let hour = p.parent()?.file_name()?.to_str()?.strip_prefix("hour=")?.parse::<u32>().ok()?;
    let date = p.parent()?.parent()?.file_name()?.to_str()?.strip_prefix("date=")?;
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(hour, 0, 0)?.and_utc().timestamp())
}

#[cfg(test)]
mod tests;
