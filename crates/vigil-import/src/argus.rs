//! Argus `.binetflow` CSV (as in CTU-13 and Stratosphere datasets) → `Conn`. Columns are read by
//! header name (comma or tab separated). Argus flows are bidirectional already: `SrcPkts` /
//! `SrcBytes` are the originator's share of `TotPkts` / `TotBytes`. The TCP `State` column
//! (`FSPA_FSA`: source flags `_` destination flags) maps to Zeek's conn_state through the same
//! flag logic as NetFlow. Times carry no zone in the file and are read as UTC.

use crate::input;
use crate::stats::ImportStats;
use crate::util::{ACK, FIN, RST, SYN, community_id, conn_state_from_flags, history_from_flags, stable_uid};
use crate::{ImportError, ImportOptions};
use chrono::NaiveDateTime;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use vigil_model::{Conn, ConnState, PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP, PROTO_TCP, PROTO_UDP, Source, Timestamp};

/// A binetflow header line.
pub fn is_header(line: &str) -> bool {
    let l = line.trim();
    l.starts_with("StartTime") && l.contains("SrcAddr") && l.contains("DstAddr")
}

fn flags_of(s: &str) -> u8 {
    s.bytes().fold(0, |f, c| {
        f | match c {
            b'S' => SYN,
            b'F' => FIN,
            b'R' => RST,
            b'A' => ACK,
            b'P' => 0x08,
            b'U' => 0x20,
            _ => 0,
        }
    })
}

fn proto_of(s: &str) -> Option<u8> {
    Some(match s {
        "tcp" => PROTO_TCP,
        "udp" => PROTO_UDP,
        "icmp" => PROTO_ICMP,
        "ipv6-icmp" | "icmp6" => PROTO_ICMPV6,
        "sctp" => PROTO_SCTP,
        other => other.parse().ok()?,
    })
}

/// Ports are decimal, or hex (`0x0303`) for ICMP type/code.
fn port_of(s: &str) -> Option<u16> {
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    match s.strip_prefix("0x") {
        Some(h) => u16::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parses one data line given the header's column positions.
pub fn conn_from_line(cols: &HashMap<String, usize>, line: &str, sep: char, opts: &ImportOptions) -> Result<Conn, &'static str> {
    let v: Vec<&str> = line.split(sep).collect();
    let get = |name: &str| cols.get(name).and_then(|i| v.get(*i)).map(|x| x.trim());
    let proto = get("Proto").and_then(proto_of).ok_or("argus: not an IP flow (management or L2 record)")?;
    let src: IpAddr = get("SrcAddr").and_then(|a| a.parse().ok()).ok_or("argus: not an IP flow (management or L2 record)")?;
    let dst: IpAddr = get("DstAddr").and_then(|a| a.parse().ok()).ok_or("argus: not an IP flow (management or L2 record)")?;
    let ts = get("StartTime")
        .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y/%m/%d %H:%M:%S%.f").ok())
        .map(|d| Timestamp::from(d.and_utc()))
        .ok_or("argus: bad StartTime")?;
    let mut sport = get("Sport").and_then(port_of).ok_or("argus: bad port")?;
    let mut dport = get("Dport").and_then(port_of).ok_or("argus: bad port")?;
    if proto == PROTO_ICMP || proto == PROTO_ICMPV6 {
        // Argus puts type in Sport and code in Dport, as Zeek does (in hex).
        sport &= 0xff;
        dport &= 0xff;
    }
    let num = |name: &str| get(name).and_then(|x| x.parse::<u64>().ok());
    let tot_pkts = num("TotPkts").unwrap_or(0);
    let tot_bytes = num("TotBytes").unwrap_or(0);
    let src_bytes = num("SrcBytes").unwrap_or(tot_bytes).min(tot_bytes);
    // Without SrcPkts, split the packets in proportion to bytes (rounding up the originator's).
    let src_pkts = num("SrcPkts")
        .unwrap_or_else(
            || if tot_bytes == 0 { tot_pkts } else { (tot_pkts as u128 * src_bytes as u128).div_ceil(tot_bytes as u128) as u64 },
        )
        .min(tot_pkts);
    let mut c = Conn::new(ts, src, sport, dst, dport, proto);
    c.source = Source::Netflow;
    c.duration = get("Dur").and_then(|d| d.parse::<f64>().ok()).filter(|d| d.is_finite() && *d >= 0.0);
    c.orig_pkts = src_pkts;
    c.resp_pkts = tot_pkts - src_pkts;
    c.orig_ip_bytes = src_bytes;
    c.resp_ip_bytes = tot_bytes - src_bytes;
    let state = get("State").unwrap_or("");
    c.conn_state = match state.split_once('_') {
        Some((o, r)) if proto == PROTO_TCP => {
            let (of, rf) = (flags_of(o), flags_of(r));
            c.history = history_from_flags(of, rf, c.orig_pkts, c.resp_pkts);
            conn_state_from_flags(proto, of, rf, c.resp_pkts)
        }
        _ => match state {
            "RST" => ConnState::RSTO,
            "INT" | "REQ" => ConnState::S0,
            "CON" | "ECO" | "ECR" => {
                if c.resp_pkts > 0 {
                    ConnState::SF
                } else {
                    ConnState::S0
                }
            }
            _ => conn_state_from_flags(proto, 0, 0, c.resp_pkts),
        },
    };
    c.local_orig = Some(opts.is_internal(src));
    c.local_resp = Some(opts.is_internal(dst));
    c.community_id = community_id(src, sport, dst, dport, proto);
    c.uid = stable_uid(&[b"argus", line.as_bytes()]);
    Ok(c)
}

/// Imports one binetflow file.
pub fn import_file(path: &Path, opts: &ImportOptions, stats: &mut ImportStats, out: &mut dyn FnMut(Conn)) -> Result<(), ImportError> {
    let reader = input::open(path)?;
    let mut cols: Option<(HashMap<String, usize>, char)> = None;
    input::for_each_line(path, reader, |line| {
        let Some(line) = line else {
            stats.skip("argus: line too long");
            return;
        };
        if line.trim().is_empty() {
            return;
        }
        if is_header(line) {
            let sep = if line.contains('\t') { '\t' } else { ',' };
            cols = Some((line.split(sep).enumerate().map(|(i, n)| (n.trim().to_string(), i)).collect(), sep));
            return;
        }
        stats.records += 1;
        let Some((c, sep)) = &cols else {
            stats.skip("argus: record before header");
            return;
        };
        match conn_from_line(c, line, *sep, opts) {
            Ok(conn) => {
                stats.conns += 1;
                out(conn);
            }
            Err(reason) => stats.skip(reason),
        }
    })?;
    stats.file("argus_binetflow");
    Ok(())
}
