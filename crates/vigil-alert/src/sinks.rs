//! The sinks. Network sinks use blocking sockets with timeouts: alerting runs on its own thread,
//! never on the packet path.

use crate::format::{cef_line, json_line, rfc5424_line};
use crate::{AlertError, Sink};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;
use vigil_model::Finding;

const TIMEOUT: Duration = Duration::from_secs(5);

/// JSON lines file, rotated by size: `path` → `path.1` → … → `path.keep`.
pub struct JsonlFileSink {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    file: Option<File>,
    size: u64,
}

impl JsonlFileSink {
    pub fn new(path: PathBuf, max_bytes: u64, keep: u32) -> Self {
        JsonlFileSink { path, max_bytes: max_bytes.max(1), keep, file: None, size: 0 }
    }

    fn io(&self, source: std::io::Error) -> AlertError {
        AlertError::Io { sink: self.name(), source }
    }

    fn rotate(&mut self) -> Result<(), AlertError> {
        self.file = None;
        for i in (1..self.keep).rev() {
            let from = self.rotated(i);
            if from.exists() {
                std::fs::rename(&from, self.rotated(i + 1)).map_err(|e| self.io(e))?;
            }
        }
        if self.keep == 0 {
            std::fs::remove_file(&self.path).map_err(|e| self.io(e))?;
        } else {
            std::fs::rename(&self.path, self.rotated(1)).map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    fn rotated(&self, i: u32) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{i}"));
        p.into()
    }
}

impl Sink for JsonlFileSink {
    fn name(&self) -> String {
        format!("jsonl {}", self.path.display())
    }
    fn send(&mut self, f: &Finding, update: bool) -> Result<(), AlertError> {
        if self.file.is_none() {
            let file = OpenOptions::new().create(true).append(true).open(&self.path).map_err(|e| self.io(e))?;
            self.size = file.metadata().map(|m| m.len()).unwrap_or(0);
            self.file = Some(file);
        }
        let mut line = json_line(f, update);
        line.push('\n');
        if self.size > 0 && self.size + line.len() as u64 > self.max_bytes {
            self.rotate()?;
            return self.send(f, update);
        }
        let r = self.file.as_mut().map(|file| file.write_all(line.as_bytes()));
        if let Some(Err(e)) = r {
            return Err(self.io(e));
        }
        self.size += line.len() as u64;
        Ok(())
    }
    fn flush(&mut self) -> Result<(), AlertError> {
        let r = self.file.as_mut().map(|f| f.sync_data());
        match r {
            Some(Err(e)) => Err(self.io(e)),
            _ => Ok(()),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyslogTransport {
    #[default]
    Udp,
    /// RFC 6587 octet counting.
    Tcp,
    /// RFC 5425: TLS, octet counting. The collector's certificate is checked against the CA
    /// file (default: the system bundle) for the configured server name.
    Tls,
}

/// The system CA bundle on Debian and derivatives (ca-certificates).
pub const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// TLS client settings of a syslog sink.
struct TlsClient {
    config: std::sync::Arc<rustls::ClientConfig>,
    server_name: rustls::pki_types::ServerName<'static>,
}

impl TlsClient {
    fn new(address: &str, ca_file: Option<&std::path::Path>, server_name: Option<&str>) -> Result<TlsClient, AlertError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, ServerName};
        let ca = ca_file.unwrap_or(std::path::Path::new(SYSTEM_CA_FILE));
        let bad = |msg: String| AlertError::Config(format!("syslog {address}"), msg);
        let mut roots = rustls::RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(ca).map_err(|e| bad(format!("CA file {}: {e}", ca.display())))?;
        for c in certs {
            let c = c.map_err(|e| bad(format!("CA file {}: {e}", ca.display())))?;
            // One unusable certificate in a bundle is skipped, as every TLS client does.
            let _ = roots.add(c);
        }
        if roots.is_empty() {
            return Err(bad(format!("CA file {}: no usable certificate", ca.display())));
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        // The name the certificate must carry: as configured, else the host part of the address.
        let host = match server_name {
            Some(n) => n.to_string(),
            None => {
                let h = address.rsplit_once(':').map(|(h, _)| h).unwrap_or(address);
                h.trim_start_matches('[').trim_end_matches(']').to_string()
            }
        };
        let server_name = ServerName::try_from(host.clone()).map_err(|_| bad(format!("{host:?} is not a valid TLS server name")))?;
        Ok(TlsClient { config: std::sync::Arc::new(config), server_name })
    }

    fn connect(&self, tcp: TcpStream) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
        let conn = rustls::ClientConnection::new(self.config.clone(), self.server_name.clone()).map_err(std::io::Error::other)?;
        let mut s = rustls::StreamOwned::new(conn, tcp);
        // Handshake now, so a certificate the CA does not vouch for fails here, before any
        // finding is written.
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock)?;
        }
        Ok(s)
    }
}

pub struct SyslogSink {
    address: String,
    transport: SyslogTransport,
    cef: bool,
    app_name: String,
    hostname: String,
    udp: Option<UdpSocket>,
    /// The TCP or TLS connection, kept open between findings.
    stream: Option<Box<dyn Write + Send>>,
    tls: Option<TlsClient>,
}

impl SyslogSink {
    pub fn new(address: String, transport: SyslogTransport, cef: bool, app_name: String) -> Result<Self, AlertError> {
        if address.to_socket_addrs().map(|mut a| a.next().is_none()).unwrap_or(true) {
            return Err(AlertError::Config(format!("syslog {address}"), "not a host:port that resolves".into()));
        }
        let hostname =
            std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_else(|_| "vigil".into());
        // The system bundle by default; `with_tls` sets another CA file.
        let tls = if transport == SyslogTransport::Tls { TlsClient::new(&address, None, None).ok() } else { None };
        Ok(SyslogSink { address, transport, cef, app_name, hostname, udp: None, stream: None, tls })
    }

    /// TLS settings (for [`SyslogTransport::Tls`]): the CA file that vouches for the collector
    /// (PEM; default the system bundle) and the name its certificate carries (default the host
    /// of the address).
    pub fn with_tls(mut self, ca_file: Option<&std::path::Path>, server_name: Option<&str>) -> Result<Self, AlertError> {
        self.tls = Some(TlsClient::new(&self.address, ca_file, server_name)?);
        Ok(self)
    }

    fn message(&self, f: &Finding, update: bool) -> String {
        if self.cef {
            // CEF travels as the MSG part of an RFC 5424 message.
            let base = rfc5424_line(f, &self.hostname, &self.app_name, update);
            let head = base.split_once("] ").map(|(h, _)| h).unwrap_or(&base);
            format!("{head}] {}", cef_line(f, update))
        } else {
            rfc5424_line(f, &self.hostname, &self.app_name, update)
        }
    }

    fn deliver(&mut self, msg: &str) -> std::io::Result<()> {
        match self.transport {
            SyslogTransport::Udp => {
                if self.udp.is_none() {
                    let target = self.address.to_socket_addrs()?.next().ok_or(std::io::ErrorKind::NotFound)?;
                    let bind = if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
                    let s = UdpSocket::bind(bind)?;
                    s.connect(target)?;
                    self.udp = Some(s);
                }
                let s = self.udp.as_ref().ok_or(std::io::ErrorKind::NotConnected)?;
                s.send(msg.as_bytes()).map(|_| ())
            }
            SyslogTransport::Tcp | SyslogTransport::Tls => {
                // RFC 6587 / RFC 5425 octet counting: "LEN SP MSG".
                let framed = format!("{} {}", msg.len(), msg);
                for attempt in 0..2 {
                    if self.stream.is_none() {
                        let target = self.address.to_socket_addrs()?.next().ok_or(std::io::ErrorKind::NotFound)?;
                        let s = TcpStream::connect_timeout(&target, TIMEOUT)?;
                        s.set_write_timeout(Some(TIMEOUT))?;
                        s.set_read_timeout(Some(TIMEOUT))?;
                        self.stream = Some(match (self.transport, &self.tls) {
                            (SyslogTransport::Tls, Some(t)) => Box::new(t.connect(s)?),
                            // Never fall back to plain text when TLS was asked for.
                            (SyslogTransport::Tls, None) => {
                                return Err(std::io::Error::other(format!(
                                    "no usable CA file (the system bundle {SYSTEM_CA_FILE} is unreadable): set ca_file"
                                )));
                            }
                            _ => Box::new(s),
                        });
                    }
                    let w = self.stream.as_mut().ok_or(std::io::ErrorKind::NotConnected)?;
                    match w.write_all(framed.as_bytes()).and_then(|_| w.flush()) {
                        Ok(()) => return Ok(()),
                        // The collector restarted: reconnect once.
                        Err(_) if attempt == 0 => self.stream = None,
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
        }
    }
}

impl Sink for SyslogSink {
    fn name(&self) -> String {
        format!("syslog {}", self.address)
    }
    fn send(&mut self, f: &Finding, update: bool) -> Result<(), AlertError> {
        let msg = self.message(f, update);
        self.deliver(&msg).map_err(|source| AlertError::Io { sink: self.name(), source })
    }
}

/// HTTP POST of each finding, retried with exponential backoff; what still fails goes to the
/// dead-letter file so nothing is lost.
pub struct WebhookSink {
    url: String,
    host_port: String,
    path: String,
    retries: u32,
    backoff: Duration,
    dead_letter: PathBuf,
}

impl WebhookSink {
    pub fn new(url: &str, retries: u32, backoff_ms: u64, dead_letter: PathBuf) -> Result<Self, AlertError> {
        let bad = |m: &str| AlertError::Config(format!("webhook {url}"), m.into());
        let rest = url.strip_prefix("http://").ok_or_else(|| bad("only http:// URLs are supported"))?;
        let (host_port, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let host_port = if host_port.contains(':') { host_port.to_string() } else { format!("{host_port}:80") };
        if host_port.to_socket_addrs().map(|mut a| a.next().is_none()).unwrap_or(true) {
            return Err(bad("host does not resolve"));
        }
        if path.chars().any(|c| c.is_control() || c == ' ') {
            return Err(bad("path has spaces or control characters"));
        }
        Ok(WebhookSink {
            url: url.to_string(),
            host_port,
            path: path.to_string(),
            retries,
            backoff: Duration::from_millis(backoff_ms),
            dead_letter,
        })
    }

    fn post(&self, body: &str) -> Result<u16, std::io::Error> {
        let target = self.host_port.to_socket_addrs()?.next().ok_or(std::io::ErrorKind::NotFound)?;
        let mut s = TcpStream::connect_timeout(&target, TIMEOUT)?;
        s.set_write_timeout(Some(TIMEOUT))?;
        s.set_read_timeout(Some(TIMEOUT))?;
        write!(
            s,
            "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: vigil/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            self.path,
            self.host_port,
            env!("CARGO_PKG_VERSION"),
            body.len(),
            body
        )?;
        let mut status = String::new();
        BufReader::new(s).take_line(&mut status)?;
        status
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no HTTP status line"))
    }
}

trait TakeLine {
    fn take_line(self, out: &mut String) -> std::io::Result<()>;
}

impl<R: std::io::Read> TakeLine for BufReader<R> {
    /// Reads the status line only, at most 1 KiB: the receiver is not trusted either.
    fn take_line(self, out: &mut String) -> std::io::Result<()> {
        let mut limited = std::io::Read::take(self, 1024);
        let mut buf = Vec::new();
        BufReader::new(&mut limited).read_until(b'\n', &mut buf)?;
        out.push_str(&String::from_utf8_lossy(&buf));
        Ok(())
    }
}

impl Sink for WebhookSink {
    fn name(&self) -> String {
        format!("webhook {}", self.url)
    }
    fn send(&mut self, f: &Finding, update: bool) -> Result<(), AlertError> {
        let body = json_line(f, update);
        let mut last = String::new();
        for attempt in 0..=self.retries {
            if attempt > 0 {
                let factor = 1u32 << (attempt - 1).min(6);
                std::thread::sleep(self.backoff.saturating_mul(factor).min(Duration::from_secs(60)));
            }
            match self.post(&body) {
                Ok(code) if (200..300).contains(&code) => return Ok(()),
                // 4xx other than 408/429 will not get better by retrying.
                Ok(code) if (400..500).contains(&code) && code != 408 && code != 429 => {
                    last = format!("HTTP {code}");
                    break;
                }
                Ok(code) => last = format!("HTTP {code}"),
                Err(e) => last = e.to_string(),
            }
        }
        let mut dl = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.dead_letter)
            .map_err(|source| AlertError::Io { sink: self.name(), source })?;
        writeln!(dl, "{body}").map_err(|source| AlertError::Io { sink: self.name(), source })?;
        Err(AlertError::Delivery {
            sink: self.name(),
            msg: format!("gave up after {} tries ({last}); kept in {}", self.retries + 1, self.dead_letter.display()),
        })
    }
}

pub struct StdoutSink;

impl Sink for StdoutSink {
    fn name(&self) -> String {
        "stdout".into()
    }
    fn send(&mut self, f: &Finding, update: bool) -> Result<(), AlertError> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", json_line(f, update)).map_err(|source| AlertError::Io { sink: self.name(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::finding;
    use std::io::Read;
    use std::net::TcpListener;
    use vigil_model::Severity;

    #[test]
    fn jsonl_file_rotates_and_keeps_n() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alerts.jsonl");
        let mut s = JsonlFileSink::new(p.clone(), 600, 2);
        for i in 0..10 {
            s.send(&finding(&format!("f{i}"), Severity::High, 1), false).unwrap();
        }
        s.flush().unwrap();
        assert!(p.exists() && dir.path().join("alerts.jsonl.1").exists() && dir.path().join("alerts.jsonl.2").exists());
        assert!(!dir.path().join("alerts.jsonl.3").exists());
        for f in [p.clone(), dir.path().join("alerts.jsonl.1")] {
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(text.len() as u64 <= 600);
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(v["kind"], "beacon");
            }
        }
    }

    #[test]
    fn syslog_udp_and_tcp_reach_a_local_receiver() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut s = SyslogSink::new(udp.local_addr().unwrap().to_string(), SyslogTransport::Udp, false, "vigil".into()).unwrap();
        s.send(&finding("a", Severity::High, 1), false).unwrap();
        let mut buf = [0u8; 4096];
        let n = udp.recv(&mut buf).unwrap();
        let msg = String::from_utf8_lossy(&buf[..n]);
        assert!(msg.starts_with("<107>1 ") && msg.contains("kind=\"beacon\""), "{msg}");

        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = tcp.local_addr().unwrap().to_string();
        let reader = std::thread::spawn(move || {
            let (mut c, _) = tcp.accept().unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut all = String::new();
            let _ = c.read_to_string(&mut all);
            all
        });
        let mut s = SyslogSink::new(addr, SyslogTransport::Tcp, true, "vigil".into()).unwrap();
        s.send(&finding("a", Severity::Critical, 1), false).unwrap();
        s.send(&finding("b", Severity::Critical, 1), true).unwrap();
        drop(s);
        let got = reader.join().unwrap();
        // Octet-counted frames: "LEN SP MSG", twice.
        let (len, rest) = got.split_once(' ').unwrap();
        let len: usize = len.parse().unwrap();
        assert!(rest[..len].contains("CEF:0|Vigil|Vigil|"), "{got}");
        assert!(rest[len..].contains("CEF:0|Vigil|Vigil|"), "{got}");
    }

    /// A receiver that fails `fail_first` times with 503, then accepts; returns the bodies it took.
    fn flaky_server(fail_first: usize, total: usize) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let mut bodies = Vec::new();
            for i in 0..total {
                let (mut c, _) = l.accept().unwrap();
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = c.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    req.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&req);
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let cl: usize =
                            head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).and_then(|v| v.parse().ok()).unwrap_or(0);
                        if body.len() >= cl {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&req).to_string();
                let status = if i < fail_first { "503 Service Unavailable" } else { "200 OK" };
                let _ = write!(c, "HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                if i >= fail_first {
                    bodies.push(text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default());
                }
            }
            bodies
        });
        (url, h)
    }

    #[test]
    fn webhook_retries_until_the_receiver_recovers() {
        let (url, h) = flaky_server(2, 3);
        let dir = tempfile::tempdir().unwrap();
        let mut s = WebhookSink::new(&url, 4, 10, dir.path().join("dead.jsonl")).unwrap();
        s.send(&finding("a", Severity::High, 1), false).unwrap();
        let bodies = h.join().unwrap();
        assert_eq!(bodies.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
        assert_eq!(v["kind"], "beacon");
        assert!(!dir.path().join("dead.jsonl").exists());
    }

    #[test]
    fn webhook_that_never_recovers_goes_to_the_dead_letter_file() {
        let (url, h) = flaky_server(3, 3);
        let dir = tempfile::tempdir().unwrap();
        let dl = dir.path().join("dead.jsonl");
        let mut s = WebhookSink::new(&url, 2, 10, dl.clone()).unwrap();
        let e = s.send(&finding("a", Severity::High, 1), false).unwrap_err().to_string();
        assert!(e.contains("gave up after 3 tries"), "{e}");
        assert!(h.join().unwrap().is_empty());
        let kept = std::fs::read_to_string(dl).unwrap();
        assert_eq!(kept.lines().count(), 1);
        assert!(kept.contains("\"kind\":\"beacon\""));
    }

    #[test]
    fn bad_configuration_is_refused() {
        assert!(WebhookSink::new("https://x/", 1, 1, "d".into()).is_err());
        assert!(SyslogSink::new("not an address".into(), SyslogTransport::Udp, false, "v".into()).is_err());
    }
}
