//! Site-aware SQL functions: `country(ip)`, `asn(ip)`, `is_internal(ip)`, `is_foreign(ip)`,
//! `local_hour(ts)`. They answer exactly as the detectors do, from the same `Context`.
//!
//! The functions run over whole columns, as DataFusion hands them over, without a heap allocation
//! per row. An archive hour holds few distinct addresses next to its many records, so each batch
//! keeps its own small answer cache: one parse and lookup per distinct address per batch, and no
//! lock shared between the query's threads.

use datafusion::arrow::array::builder::{BooleanBuilder, Int64Builder, StringBuilder};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampNanosecondType};
use datafusion::common::{DataFusionError, HashMap, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use std::net::IpAddr;
use std::sync::Arc;
use vigil_enrich::Context;

type DfResult<T> = Result<T, DataFusionError>;

/// Applies an array function to the arguments, keeping scalars scalar (DataFusion expects a
/// scalar answer for a constant argument, e.g. `country('8.8.8.8')`).
fn apply(args: &[ColumnarValue], f: &dyn Fn(&ArrayRef) -> DfResult<ArrayRef>) -> DfResult<ColumnarValue> {
    let all_scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let arrays = ColumnarValue::values_to_arrays(args)?;
    let first = arrays.first().ok_or_else(|| DataFusionError::Plan("function needs one argument".into()))?;
    let out = f(first)?;
    if all_scalar { Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)) } else { Ok(ColumnarValue::Array(out)) }
}

/// Feeds `emit` the answer of `lookup` for each address string of the column, in row order,
/// with a per-batch cache (and a shortcut for a run of the same address); unparsable text and
/// NULL give NULL.
fn per_ip<T: Copy>(a: &ArrayRef, lookup: &dyn Fn(IpAddr) -> Option<T>, mut emit: impl FnMut(Option<T>)) -> DfResult<()> {
    let strings =
        a.as_string_opt::<i32>().ok_or_else(|| DataFusionError::Plan(format!("expected an address as text, got {}", a.data_type())))?;
    let mut cache: HashMap<&str, Option<T>> = HashMap::with_capacity(strings.len().min(4096));
    let mut last: Option<(&str, Option<T>)> = None;
    for v in strings.iter() {
        let Some(s) = v else {
            emit(None);
            continue;
        };
        let ans = match last {
            Some((l, x)) if l == s => x,
            _ => {
                let x = *cache.entry(s).or_insert_with(|| s.parse::<IpAddr>().ok().and_then(lookup));
                last = Some((s, x));
                x
            }
        };
        emit(ans);
    }
    Ok(())
}

/// Registers a function of one address given as text; `f` answers a whole column.
fn ip_function(ctx: &SessionContext, name: &str, ret: DataType, f: impl Fn(&ArrayRef) -> DfResult<ArrayRef> + Send + Sync + 'static) {
    ctx.register_udf(create_udf(
        name,
        vec![DataType::Utf8],
        ret,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| apply(args, &f)),
    ));
}

pub fn register(ctx: &SessionContext, site: Arc<Context>) {
    let c = site.clone();
    ip_function(ctx, "country", DataType::Utf8, move |a| {
        let mut out = StringBuilder::with_capacity(a.len(), a.len() * 2);
        per_ip(a, &|ip| c.geo(ip).country, |cc| out.append_option(cc.as_ref().and_then(|cc| std::str::from_utf8(cc).ok())))?;
        Ok(Arc::new(out.finish()) as ArrayRef)
    });
    let c = site.clone();
    ip_function(ctx, "asn", DataType::Int64, move |a| {
        let mut out = Int64Builder::with_capacity(a.len());
        per_ip(a, &|ip| c.geo(ip).asn.map(i64::from), |v| out.append_option(v))?;
        Ok(Arc::new(out.finish()) as ArrayRef)
    });
    let c = site.clone();
    ip_function(ctx, "is_internal", DataType::Boolean, move |a| {
        let mut out = BooleanBuilder::with_capacity(a.len());
        per_ip(a, &|ip| Some(c.is_internal(ip)), |v| out.append_option(v))?;
        Ok(Arc::new(out.finish()) as ArrayRef)
    });
    let c = site.clone();
    ip_function(ctx, "is_foreign", DataType::Boolean, move |a| {
        let mut out = BooleanBuilder::with_capacity(a.len());
        per_ip(a, &|ip| c.is_foreign(ip), |v| out.append_option(v))?;
        Ok(Arc::new(out.finish()) as ArrayRef)
    });
    let c = site;
    ctx.register_udf(create_udf(
        "local_hour",
        vec![DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            apply(args, &|a| {
                let ts = a
                    .as_primitive_opt::<TimestampNanosecondType>()
                    .ok_or_else(|| DataFusionError::Plan(format!("local_hour expects a timestamp, got {}", a.data_type())))?;
                // Every zone offset is a whole number of quarter hours, so the local hour is
                // constant over a UTC quarter hour; an archive part is sorted by time, so
                // remembering the last quarter hour answers almost every row.
                const SLOT: i64 = 900_000_000_000;
                let last = std::cell::Cell::new((i64::MIN, 0i64));
                let v: Int64Array = ts.unary(|t| {
                    let slot = t.div_euclid(SLOT);
                    let (s, h) = last.get();
                    if s == slot {
                        return h;
                    }
                    let h = i64::from(c.local_hour(vigil_model::Timestamp(slot.saturating_mul(SLOT))));
                    last.set((slot, h));
                    h
                });
                Ok(Arc::new(v) as ArrayRef)
            })
        }),
    ));
}
