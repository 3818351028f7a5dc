//! SQL threat hunting over what Vigil keeps: the Parquet connection archive as table `conn` and
//! the stored findings as table `findings`, queried with DataFusion.
//!
//! `conn` is the archive directory itself, read in place (Hive-style `date=`/`hour=` partitions
//! become the columns `date` and `hour`, so `WHERE date = '2024-05-01'` skips every other day
//! without opening it). `findings` is loaded from the SQLite store into memory: the store is
//! small next to the archive, and one engine then joins both.
//!
//! Site-aware functions let an analyst ask the questions the detectors ask: `country(ip)`,
//! `asn(ip)`, `is_internal(ip)`, `is_foreign(ip)` and `local_hour(ts)` use the same site file,
//! country/ASN databases and time zone as `vigil hunt`.
//!
//! Results are rendered by [`render`]: every value may be attacker text (SNI, DNS names, user
//! agents), so each format escapes for its medium.

pub mod render;
mod udf;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use datafusion::arrow;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Sql(String),
    #[error("database {path}: {msg}")]
    Store { path: PathBuf, msg: String },
    #[error("archive {path}: {msg}")]
    Archive { path: PathBuf, msg: String },
    #[error("cannot start the query runtime: {0}")]
    Runtime(std::io::Error),
}

impl From<datafusion::error::DataFusionError> for QueryError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        // DataFusion wraps errors in context layers; the innermost message is what the analyst
        // needs (a misspelt column, a type mismatch), not the planner's internals.
        QueryError::Sql(e.find_root().to_string())
    }
}

/// A query's result: its schema (kept even when no row matched) and its rows.
#[derive(Debug, Clone)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl QueryResult {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

/// The tables and functions of one data directory, ready for queries.
pub struct Hunt {
    ctx: SessionContext,
    rt: tokio::runtime::Runtime,
}

/// Schema of the `findings` table.
pub fn findings_schema() -> SchemaRef {
    let ts = || DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        // 0 info … 4 critical, so `ORDER BY severity_rank DESC` and `>= 3` work.
        Field::new("severity_rank", DataType::Int64, false),
        Field::new("score", DataType::Float64, false),
        Field::new("src", DataType::Utf8, false),
        Field::new("dst", DataType::Utf8, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("first_seen", ts(), false),
        Field::new("last_seen", ts(), false),
        Field::new("attack", DataType::Utf8, false),
        Field::new("summary", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("assignee", DataType::Utf8, true),
        Field::new("notes", DataType::Utf8, true),
        Field::new("times_seen", DataType::Int64, false),
        Field::new("evidence", DataType::Utf8, false),
    ]))
}

/// Builds the `findings` batch from stored findings.
pub fn findings_batch(rows: &[vigil_store::StoredFinding]) -> Result<RecordBatch, QueryError> {
    let s = |f: &dyn Fn(&vigil_store::StoredFinding) -> String| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let o = |f: &dyn Fn(&vigil_store::StoredFinding) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let t = |f: &dyn Fn(&vigil_store::StoredFinding) -> i64| -> ArrayRef {
        Arc::new(TimestampNanosecondArray::from(rows.iter().map(f).collect::<Vec<_>>()).with_timezone("UTC"))
    };
    let nanos = |d: &chrono::DateTime<chrono::FixedOffset>| d.timestamp_nanos_opt().unwrap_or(d.timestamp().saturating_mul(1_000_000_000));
    let cols: Vec<ArrayRef> = vec![
        s(&|r| r.finding.id.clone()),
        s(&|r| r.finding.kind.as_str().to_string()),
        s(&|r| r.finding.severity.as_str().to_string()),
        Arc::new(Int64Array::from(rows.iter().map(|r| r.finding.severity as i64).collect::<Vec<_>>())),
        Arc::new(Float64Array::from(rows.iter().map(|r| r.finding.score).collect::<Vec<_>>())),
        s(&|r| r.finding.src.clone()),
        s(&|r| r.finding.dst.join(",")),
        s(&|r| r.finding.path.join(",")),
        t(&|r| nanos(&r.finding.first_seen)),
        t(&|r| nanos(&r.finding.last_seen)),
        s(&|r| r.finding.attack.join(",")),
        s(&|r| r.finding.summary.clone()),
        s(&|r| r.status.clone()),
        o(&|r| r.assignee.clone()),
        o(&|r| r.notes.clone()),
        Arc::new(Int64Array::from(rows.iter().map(|r| r.times_seen).collect::<Vec<_>>())),
        s(&|r| r.finding.evidence.to_string()),
    ];
    RecordBatch::try_new(findings_schema(), cols).map_err(|e| QueryError::Sql(e.to_string()))
}

/// Schema of the `conn` table: the archive's columns, then the partition columns. Part files of
/// every archive version are read into it (version 2 stores `duration` as a decimal, cast here
/// to the float64 seconds of version 1).
pub fn conn_table_schema() -> SchemaRef {
    let mut fields: Vec<Field> = vigil_archive::conn_schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("date", DataType::Utf8, false));
    fields.push(Field::new("hour", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

impl Hunt {
    /// Opens the archive and the store of `data_dir` (either may be absent: its table is then
    /// empty). Nothing is created or written, so a read-only data directory, or one a running
    /// `vigil watch` is writing to, can be queried. `context` supplies the site for
    /// `country()`, `is_internal()`, `local_hour()`…
    pub fn open(data_dir: &Path, context: Arc<vigil_enrich::Context>) -> Result<Hunt, QueryError> {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("vigil-query")
            .build()
            .map_err(QueryError::Runtime)?;
        let config = SessionConfig::new()
            .with_target_partitions(threads)
            .with_information_schema(true)
            // Parquet strings as plain Utf8: every function (ours included) takes them directly.
            .set_bool("datafusion.execution.parquet.schema_force_view_types", false)
            // Late materialisation: filters run while decoding, cheapest first, and the rest of a
            // row is decoded only where they pass; row groups and pages whose statistics (time,
            // ports, addresses) rule a filter out are skipped unread.
            .set_bool("datafusion.execution.parquet.pushdown_filters", true)
            .set_bool("datafusion.execution.parquet.reorder_filters", true)
            .set_bool("datafusion.execution.parquet.enable_page_index", true)
            .set_bool("datafusion.execution.parquet.pruning", true);
        let ctx = SessionContext::new_with_config(config);
        udf::register(&ctx, context);

        let root = data_dir.join("archive").join("conn");
        if root.is_dir() {
            let root = std::fs::canonicalize(&root).map_err(|e| QueryError::Archive { path: root.clone(), msg: e.to_string() })?;
            let url = format!("file://{}/", root.display());
            let opts = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet")
                .with_table_partition_cols(vec![("date".to_string(), DataType::Utf8), ("hour".to_string(), DataType::Utf8)]);
            rt.block_on(ctx.register_listing_table("conn", &url, opts, Some(vigil_archive::conn_schema()), None))?;
        } else {
            let empty = MemTable::try_new(conn_table_schema(), vec![vec![]])?;
            ctx.register_table("conn", Arc::new(empty))?;
        }

        let db = data_dir.join("vigil.db");
        let rows = if db.is_file() { read_findings(&db)? } else { Vec::new() };
        let batch = findings_batch(&rows)?;
        let table = MemTable::try_new(findings_schema(), vec![vec![batch]])?;
        ctx.register_table("findings", Arc::new(table))?;
        Ok(Hunt { ctx, rt })
    }

    /// Runs one SQL statement. Only queries: DDL and DML (CREATE, INSERT, COPY TO, SET) are
    /// refused, so a hunt never writes files or changes the session.
    pub fn sql(&self, sql: &str) -> Result<QueryResult, QueryError> {
        use datafusion::execution::context::SQLOptions;
        let opts = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
        self.rt.block_on(async {
            let df = self.ctx.sql_with_options(sql, opts).await?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await?;
            Ok::<_, QueryError>(QueryResult { schema, batches })
        })
    }

    /// The underlying DataFusion session (for callers that want to register more tables).
    pub fn session(&self) -> &SessionContext {
        &self.ctx
    }
}

/// The stored findings, read without writing anything: read-only SQLite (WAL readers do not
/// block the writer), and on read-only media, where SQLite cannot create its shared-memory
/// file, as an immutable file.
fn read_findings(db: &Path) -> Result<Vec<vigil_store::StoredFinding>, QueryError> {
    use rusqlite::{Connection, OpenFlags};
    let err = |e: rusqlite::Error| QueryError::Store { path: db.to_path_buf(), msg: e.to_string() };
    let ro = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let read = |conn: Connection| -> Result<Vec<vigil_store::StoredFinding>, rusqlite::Error> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let mut stmt = conn.prepare("SELECT id, body, status, assignee, notes, times_seen FROM finding ORDER BY score DESC, id")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get(4)?, r.get::<_, i64>(5)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, body, status, assignee, notes, times_seen) = row?;
            let finding = serde_json::from_str(&body).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, format!("finding {id}: {e}").into())
            })?;
            out.push(vigil_store::StoredFinding { finding, status, assignee, notes, times_seen });
        }
        Ok(out)
    };
    match Connection::open_with_flags(db, ro).and_then(read) {
        Ok(v) => Ok(v),
        Err(first) => {
            let path = db.display().to_string().replace('%', "%25").replace('?', "%3f").replace('#', "%23");
            let uri = format!("file:{path}?immutable=1");
            Connection::open_with_flags(&uri, ro).and_then(read).map_err(|_| err(first))
        }
    }
}
