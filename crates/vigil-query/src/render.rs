//! Query results for people and programs: an aligned text table, CSV and JSON. Every value may
//! be attacker text (an SNI, a DNS name, a user agent), so each format escapes for its medium:
//! the table through the caller's terminal escaper, CSV with RFC 4180 quoting and with cells that
//! a spreadsheet would run as a formula neutralised, JSON through a JSON encoder.

use crate::QueryResult;
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use std::io::{self, Write};

/// Widest a table cell may be before it is cut (with `…`); CSV and JSON are never cut.
pub const MAX_CELL: usize = 80;

fn fmt_opts() -> FormatOptions<'static> {
    FormatOptions::new().with_null("").with_display_error(true)
}

fn to_io(e: datafusion::arrow::error::ArrowError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Every row as display strings (NULL as `None`).
fn rows(r: &QueryResult) -> io::Result<Vec<Vec<Option<String>>>> {
    let opts = fmt_opts();
    let mut out = Vec::with_capacity(r.num_rows());
    for b in &r.batches {
        let fmts: Vec<ArrayFormatter> =
            b.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &opts)).collect::<Result<_, _>>().map_err(to_io)?;
        for i in 0..b.num_rows() {
            out.push(b.columns().iter().zip(&fmts).map(|(c, f)| if c.is_null(i) { None } else { Some(f.value(i).to_string()) }).collect());
        }
    }
    Ok(out)
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// An aligned text table. `escape` makes text safe for the terminal (the CLI passes its
/// `terminal_safe`); it is applied before widths are measured so escapes cannot misalign.
pub fn write_table(out: &mut dyn Write, r: &QueryResult, escape: &dyn Fn(&str) -> String) -> io::Result<()> {
    let headers: Vec<String> = r.schema.fields().iter().map(|f| cut(&escape(f.name()), MAX_CELL)).collect();
    let numeric: Vec<bool> = r.schema.fields().iter().map(|f| f.data_type().is_numeric()).collect();
    let body: Vec<Vec<String>> =
        rows(r)?.into_iter().map(|row| row.into_iter().map(|v| cut(&escape(v.as_deref().unwrap_or("")), MAX_CELL)).collect()).collect();
    let mut width: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &body {
        for (w, v) in width.iter_mut().zip(row) {
            *w = (*w).max(v.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: &[String], header: bool| -> io::Result<()> {
        let mut s = String::new();
        for (i, (v, w)) in cells.iter().zip(&width).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            let pad = w.saturating_sub(v.chars().count());
            if numeric.get(i).copied().unwrap_or(false) && !header {
                s.extend(std::iter::repeat_n(' ', pad));
                s.push_str(v);
            } else {
                s.push_str(v);
                if i + 1 < cells.len() {
                    s.extend(std::iter::repeat_n(' ', pad));
                }
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(out, &headers, true)?;
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    line(out, &rule, true)?;
    for row in &body {
        line(out, row, false)?;
    }
    writeln!(out, "({} row{})", body.len(), if body.len() == 1 { "" } else { "s" })
}

/// A CSV field: quoted when it holds a separator, quote or line break; text that a spreadsheet
/// would evaluate (`=`, `+`, `-`, `@`, tab or CR first) gets a leading `'`. Numbers are written
/// as they are (a negative number is not a formula).
pub fn csv_field(v: &str, is_text: bool) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    if is_text && v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        s.push('\'');
    }
    s.push_str(v);
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

pub fn write_csv(out: &mut dyn Write, r: &QueryResult) -> io::Result<()> {
    let text: Vec<bool> = r.schema.fields().iter().map(|f| !(f.data_type().is_numeric() || *f.data_type() == DataType::Boolean)).collect();
    let header: Vec<String> = r.schema.fields().iter().map(|f| csv_field(f.name(), true)).collect();
    write!(out, "{}\r\n", header.join(","))?;
    for row in rows(r)? {
        let cells: Vec<String> = row.iter().zip(&text).map(|(v, t)| v.as_deref().map(|v| csv_field(v, *t)).unwrap_or_default()).collect();
        write!(out, "{}\r\n", cells.join(","))?;
    }
    Ok(())
}

/// One value as JSON: numbers and booleans as themselves (non-finite floats as null), the rest
/// as strings in their display form (timestamps RFC 3339).
fn json_value(col: &ArrayRef, i: usize, f: &ArrayFormatter) -> serde_json::Value {
    use serde_json::Value;
    if col.is_null(i) {
        return Value::Null;
    }
    macro_rules! int {
        ($t:ty) => {
            Value::from(col.as_primitive::<$t>().value(i))
        };
    }
    match col.data_type() {
        DataType::Boolean => Value::Bool(col.as_boolean().value(i)),
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::Float32 => {
            serde_json::Number::from_f64(f64::from(col.as_primitive::<Float32Type>().value(i))).map_or(Value::Null, Value::Number)
        }
        DataType::Float64 => serde_json::Number::from_f64(col.as_primitive::<Float64Type>().value(i)).map_or(Value::Null, Value::Number),
        _ => Value::String(f.value(i).to_string()),
    }
}

fn json_rows(r: &QueryResult, each: &mut dyn FnMut(serde_json::Value) -> io::Result<()>) -> io::Result<()> {
    let opts = fmt_opts();
    for b in &r.batches {
        let fmts: Vec<ArrayFormatter> =
            b.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &opts)).collect::<Result<_, _>>().map_err(to_io)?;
        for i in 0..b.num_rows() {
            let mut obj = serde_json::Map::new();
            for ((field, col), f) in b.schema().fields().iter().zip(b.columns()).zip(&fmts) {
                obj.insert(field.name().clone(), json_value(col, i, f));
            }
            each(serde_json::Value::Object(obj))?;
        }
    }
    Ok(())
}

/// A JSON array of row objects.
pub fn write_json(out: &mut dyn Write, r: &QueryResult) -> io::Result<()> {
    write!(out, "[")?;
    let mut first = true;
    json_rows(r, &mut |v| {
        if !first {
            write!(out, ",")?;
        }
        first = false;
        write!(out, "\n{v}")
    })?;
    writeln!(out, "{}]", if first { "" } else { "\n" })
}

/// One JSON object per line.
pub fn write_jsonl(out: &mut dyn Write, r: &QueryResult) -> io::Result<()> {
    json_rows(r, &mut |v| writeln!(out, "{v}"))
}
