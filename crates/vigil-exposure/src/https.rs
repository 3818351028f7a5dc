//! A real TLS client (rustls) for the probes: completes the handshake with TLS 1.2 or 1.3,
//! reports the negotiated version, cipher suite and leaf certificate (also from TLS-1.3-only
//! servers, whose certificates are encrypted on the wire), and sends one HTTP request so that
//! HTTPS services give their `Server` header and page title like plain HTTP ones.
//!
//! The certificate is deliberately NOT verified: the probe's job is to report what a server
//! presents (self-signed, expired, wrong name — all findings in themselves), not to trust it.
//! Nothing sent over this connection is secret. Connections come from the caller's
//! [`Connector`], so the scope guard applies as to every other probe.

use crate::probe::{Connector, ProbeConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use vigil_model::CertMeta;

/// What one TLS session told us.
#[derive(Debug, Clone, Default)]
pub struct TlsSession {
    /// `TLS 1.3` or `TLS 1.2`.
    pub version: Option<String>,
    /// IANA-style suite name, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: Option<String>,
    pub cert: Option<CertMeta>,
    /// The answer to the request (empty when none was sent), at most [`crate::probe::MAX_READ`].
    pub response: Vec<u8>,
}

/// Accepts any certificate but still checks the handshake signatures (so the session is a
/// real one with the holder of that certificate's key).
#[derive(Debug)]
struct ReportAny(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for ReportAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

fn config() -> Option<Arc<ClientConfig>> {
    static CFG: OnceLock<Option<Arc<ClientConfig>>> = OnceLock::new();
    CFG.get_or_init(|| {
        let provider: CryptoProvider = rustls::crypto::ring::default_provider();
        let algs = provider.signature_verification_algorithms;
        let cfg = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .ok()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ReportAny(algs)))
            .with_no_client_auth();
        Some(Arc::new(cfg))
    })
    .clone()
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".into(),
        other => format!("{other:?}"),
    }
}

/// Handshakes with `addr` (SNI = `host` unless it is an address) and, when `request` is
/// given, sends it and reads the answer until `done` says so (bounded like every probe read).
pub fn session(
    c: &dyn Connector,
    addr: SocketAddr,
    host: &str,
    cfg: &ProbeConfig,
    request: Option<&[u8]>,
    done: impl Fn(&[u8]) -> bool,
) -> io::Result<TlsSession> {
    let tls_cfg = config().ok_or_else(|| io::Error::other("TLS client configuration unavailable"))?;
    let name = ServerName::try_from(host.to_string()).unwrap_or_else(|_| ServerName::IpAddress(addr.ip().into()));
    let conn = ClientConnection::new(tls_cfg, name).map_err(io::Error::other)?;
    let sock = c.connect(addr, cfg.connect_timeout, cfg.read_timeout)?;
    let mut tls = StreamOwned::new(conn, sock);
    // Drive the handshake to its end (bounded: each step either progresses or errors/times out).
    for _ in 0..32 {
        if !tls.conn.is_handshaking() {
            break;
        }
        tls.conn.complete_io(&mut tls.sock)?;
    }
    if tls.conn.is_handshaking() {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "TLS handshake did not finish"));
    }
    let mut out = TlsSession {
        version: tls.conn.protocol_version().map(version_name),
        cipher: tls.conn.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())),
        cert: tls
            .conn
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(|der| vigil_proto::cert::parse_certificate(der.as_ref())),
        response: Vec::new(),
    };
    if let Some(req) = request {
        tls.write_all(req)?;
        tls.flush()?;
        out.response = crate::probe::read_until(&mut tls, done);
    }
    Ok(out)
}
