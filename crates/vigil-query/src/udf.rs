//! Site-aware SQL functions: `country(ip)`, `asn(ip)`, `is_internal(ip)`, `is_foreign(ip)`,
//! `local_hour(ts)`. They answer exactly as the detectors do, from the same `Context`.
//!
//! An archive hour holds few distinct addresses next to its many records, so each batch keeps
//! its own small answer cache: one lookup per distinct address per batch, and no lock shared
//! between the query's threads.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampNanosecondType};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use std::collections::HashMap;
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
    if all_scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
    } else {
        Ok(ColumnarValue::Array(out))
    }
}

/// Maps each address string through `lookup` with a per-batch cache; unparsable text and
/// NULL give NULL.
fn per_ip<T: Clone>(a: &ArrayRef, lookup: &dyn Fn(IpAddr) -> Option<T>) -> DfResult<Vec<Option<T>>> {
    let strings = a
        .as_string_opt::<i32>()
        .ok_or_else(|| DataFusionError::Plan(format!("expected an address as text, got {}", a.data_type())))?;
    let mut cache: HashMap<&str, Option<T>> = HashMap::new();
    let mut out = Vec::with_capacity(strings.len());
    for v in strings.iter() {
        let ans = match v {
            None => None,
            Some(s) => match cache.get(s) {
                Some(x) => x.clone(),
                None => {
                    let x = s.parse::<IpAddr>().ok().and_then(lookup);
                    cache.insert(s, x.clone());
                    x
                }
            },
        };
        out.push(ans);
    }
    Ok(out)
}

pub fn register(ctx: &SessionContext, site: Arc<Context>) {
    let c = site.clone();
    ctx.register_udf(create_udf(
        "country",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            apply(args, &|a| {
                let v = per_ip(a, &|ip| c.geo(ip).country.map(|cc| String::from_utf8_lossy(&cc).into_owned()))?;
                Ok(Arc::new(StringArray::from(v)) as ArrayRef)
            })
        }),
    ));
    let c = site.clone();
    ctx.register_udf(create_udf(
        "asn",
        vec![DataType::Utf8],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            apply(args, &|a| {
                let v = per_ip(a, &|ip| c.geo(ip).asn.map(i64::from))?;
                Ok(Arc::new(Int64Array::from(v)) as ArrayRef)
            })
        }),
    ));
    let c = site.clone();
    ctx.register_udf(create_udf(
        "is_internal",
        vec![DataType::Utf8],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            apply(args, &|a| {
                let v = per_ip(a, &|ip| Some(c.is_internal(ip)))?;
                Ok(Arc::new(BooleanArray::from(v)) as ArrayRef)
            })
        }),
    ));
    let c = site.clone();
    ctx.register_udf(create_udf(
        "is_foreign",
        vec![DataType::Utf8],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            apply(args, &|a| {
                let v = per_ip(a, &|ip| c.is_foreign(ip))?;
                Ok(Arc::new(BooleanArray::from(v)) as ArrayRef)
            })
        }),
    ));
    let c = site;
    ctx.register_udf(create_udf(
        "local_hour",
        vec![DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            apply(args, &|a| {
                let ts = a.as_primitive_opt::<TimestampNanosecondType>().ok_or_else(|| {
                    DataFusionError::Plan(format!("local_hour expects a timestamp, got {}", a.data_type()))
                })?;
                // Every zone offset is a whole number of quarter hours, so the local hour is
                // constant over a UTC quarter hour: cache by it.
                const SLOT: i64 = 900_000_000_000;
                let mut cache: HashMap<i64, i64> = HashMap::new();
                let v: Vec<Option<i64>> = ts
                    .iter()
                    .map(|t| {
                        t.map(|t| {
                            let slot = t.div_euclid(SLOT);
                            *cache
                                .entry(slot)
                                .or_insert_with(|| i64::from(c.local_hour(vigil_model::Timestamp(slot.saturating_mul(SLOT)))))
                        })
                    })
                    .collect();
                Ok(Arc::new(Int64Array::from(v)) as ArrayRef)
            })
        }),
    ));
}
