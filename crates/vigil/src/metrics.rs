//! Prometheus metrics for `vigil watch`: counters the pipeline bumps (packets, records, drops,
//! queue depths, findings by kind) and a tiny HTTP endpoint serving them in the text exposition
//! format. Served from its own thread with plain blocking sockets; only GET /metrics answers.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
pub struct Metrics {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    pub records: AtomicU64,
    pub drops: AtomicU64,
    pub decode_errors: AtomicU64,
    pub queue_depth: AtomicU64,
    pub files: AtomicU64,
    pub windows: AtomicU64,
    pub alerts_failed: AtomicU64,
    pub findings: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    pub fn add_findings(&self, kind: &str, n: u64) {
        if let Ok(mut m) = self.findings.lock() {
            *m.entry(kind.to_string()).or_default() += n;
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, v: u64, kind: &str| {
            out.push_str(&format!("# HELP vigil_{name} {help}\n# TYPE vigil_{name} {kind}\nvigil_{name} {v}\n"));
        };
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter("packets_total", "Packets read from captures and interfaces.", g(&self.packets), "counter");
        counter("bytes_total", "Bytes of packets read.", g(&self.bytes), "counter");
        counter("records_total", "Connection records produced.", g(&self.records), "counter");
        counter("drops_total", "Packets or records dropped (kernel, queues, collectors).", g(&self.drops), "counter");
        counter("decode_errors_total", "Corrupt packets or records skipped.", g(&self.decode_errors), "counter");
        counter("queue_depth", "Records waiting for the detectors.", g(&self.queue_depth), "gauge");
        counter("files_total", "Input files ingested.", g(&self.files), "counter");
        counter("windows_total", "Detector windows evaluated.", g(&self.windows), "counter");
        counter("alerts_failed_total", "Alert deliveries that failed.", g(&self.alerts_failed), "counter");
        out.push_str("# HELP vigil_findings_total Findings reported, by kind.\n# TYPE vigil_findings_total counter\n");
        if let Ok(m) = self.findings.lock() {
            for (k, v) in m.iter() {
                // Kinds are Vigil's own identifiers, never input text; still, keep label values safe.
                let k: String = k.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                out.push_str(&format!("vigil_findings_total{{kind=\"{k}\"}} {v}\n"));
            }
        }
        out
    }
}

/// Serves `/metrics` on `addr` from a background thread; returns the bound address.
pub fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    let l = TcpListener::bind(addr)?;
    let bound = l.local_addr()?;
    std::thread::Builder::new().name("metrics".into()).spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = c.set_write_timeout(Some(Duration::from_secs(5)));
            let mut line = String::new();
            {
                let mut r = BufReader::new(std::io::Read::take(&mut c, 8192));
                if r.read_line(&mut line).is_err() {
                    continue;
                }
                // Drain the headers (bounded by the take above).
                let mut h = String::new();
                while r.read_line(&mut h).map(|n| n > 2).unwrap_or(false) {
                    h.clear();
                }
            }
            let mut parts = line.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let (status, body, ctype) = if method == "GET" && path == "/metrics" {
                ("200 OK", metrics.render(), "text/plain; version=0.0.4")
            } else {
                ("404 Not Found", "not found\n".to_string(), "text/plain")
            };
            let _ = write!(
                c,
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    })?;
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn metrics_endpoint_serves_the_text_format() {
        let m = Arc::new(Metrics::default());
        m.packets.fetch_add(42, Ordering::Relaxed);
        m.add_findings("beacon", 2);
        let addr = serve("127.0.0.1:0".parse().unwrap(), m.clone()).unwrap();
        let get = |path: &str| {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        let body = get("/metrics");
        assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
        assert!(body.contains("\nvigil_packets_total 42\n"), "{body}");
        assert!(body.contains("vigil_findings_total{kind=\"beacon\"} 2"), "{body}");
        assert!(get("/other").starts_with("HTTP/1.1 404"));
    }
}
