//! Import counters: what was read, what became a `Conn`, and every skip with its reason, so a
//! corrupt record is visible in the summary instead of silently lost.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Counters of one import run (one file or a whole directory tree).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ImportStats {
    /// Files read, by detected format name.
    pub files: BTreeMap<String, u64>,
    /// Files not imported, with the reason (unknown format, unreadable...). Path → reason.
    pub files_skipped: BTreeMap<String, String>,
    /// Lines (text formats) or records (binary formats) read.
    pub records: u64,
    /// `Conn` records emitted.
    pub conns: u64,
    /// Findings emitted (Suricata alerts).
    pub findings: u64,
    /// Application records (ssl/dns/http/ssh, EVE tls/dns/http/ssh) attached to their connection.
    pub app_joined: u64,
    /// Application records whose connection never appeared: emitted as their own `Conn`.
    pub app_orphans: u64,
    /// Records skipped, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Records used despite a defect (missing columns, wrong JSON types...), by defect.
    pub warnings: BTreeMap<String, u64>,
    /// NetFlow/IPFIX export packets (datagrams) read.
    pub export_packets: u64,
    /// NetFlow/IPFIX flow data records decoded.
    pub flow_records: u64,
    /// NetFlow v9/IPFIX options data records (sampling, system init time...).
    pub options_records: u64,
    /// Templates and options templates learnt.
    pub templates: u64,
    /// Data sets whose template was never seen (after buffering).
    pub template_misses: u64,
    /// Unidirectional flow records paired with their reverse direction into one `Conn`.
    pub flows_stitched: u64,
    /// Records or datagrams dropped because a bound was reached (queues, maps, template caps).
    pub dropped: u64,
}

impl ImportStats {
    /// Counts one skipped record under `reason`.
    pub fn skip(&mut self, reason: &str) {
        self.skip_n(reason, 1);
    }
    /// Counts one record that was used despite `defect`.
    pub fn warn(&mut self, defect: &str) {
        *self.warnings.entry(defect.to_string()).or_insert(0) += 1;
    }
    pub fn skip_n(&mut self, reason: &str, n: u64) {
        if n == 0 {
            return;
        }
        // Reasons are a fixed vocabulary from this crate, never input bytes, so the map stays small.
        *self.skipped.entry(reason.to_string()).or_insert(0) += n;
    }
    pub fn file(&mut self, format: &str) {
        *self.files.entry(format.to_string()).or_insert(0) += 1;
    }
    /// Total records skipped, all reasons.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
    /// Total files imported.
    pub fn files_total(&self) -> u64 {
        self.files.values().sum()
    }
    /// Adds another run's counters into this one.
    pub fn merge(&mut self, o: &ImportStats) {
        for (k, v) in &o.files {
            *self.files.entry(k.clone()).or_insert(0) += v;
        }
        for (k, v) in &o.files_skipped {
            self.files_skipped.insert(k.clone(), v.clone());
        }
        for (k, v) in &o.warnings {
            *self.warnings.entry(k.clone()).or_insert(0) += v;
        }
        for (k, v) in &o.skipped {
            *self.skipped.entry(k.clone()).or_insert(0) += v;
        }
        self.records += o.records;
        self.conns += o.conns;
        self.findings += o.findings;
        self.app_joined += o.app_joined;
        self.app_orphans += o.app_orphans;
        self.export_packets += o.export_packets;
        self.flow_records += o.flow_records;
        self.templates += o.templates;
        self.options_records += o.options_records;
        self.template_misses += o.template_misses;
        self.flows_stitched += o.flows_stitched;
        self.dropped += o.dropped;
    }
}

impl fmt::Display for ImportStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: Vec<String> = self.files.iter().map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(f, "files: {} ({})", self.files_total(), files.join(", "))?;
        writeln!(f, "records: {}  conns: {}  findings: {}", self.records, self.conns, self.findings)?;
        if self.app_joined + self.app_orphans > 0 {
            writeln!(f, "app records: {} joined, {} without conn", self.app_joined, self.app_orphans)?;
        }
        if self.export_packets > 0 {
            writeln!(
                f,
                "netflow: {} packets, {} flow records, {} options records, {} templates, {} template misses, {} stitched",
                self.export_packets, self.flow_records, self.options_records, self.templates, self.template_misses, self.flows_stitched
            )?;
        }
        if self.dropped > 0 {
            writeln!(f, "dropped at bounds: {}", self.dropped)?;
        }
        for (k, v) in &self.skipped {
            writeln!(f, "skipped {v}: {k}")?;
        }
        for (k, v) in &self.warnings {
            writeln!(f, "used with defect {v}: {k}")?;
        }
        for (k, v) in &self.files_skipped {
            writeln!(f, "file not imported: {k}: {v}")?;
        }
        Ok(())
    }
}
