//! Fuzzes the TLS handshake parsers and the record-layer state machine: ClientHello (with
//! JA4/JA3), ServerHello (JA3S), Certificate lists with X.509 parsing, SSLv2 hellos.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_proto::fingerprint::{TlsTransport, ja3, ja3s, ja4};
use vigil_proto::tls::{TlsConn, parse_certificate_list, parse_client_hello, parse_server_hello, parse_sslv2_client_hello};

fuzz_target!(|data: &[u8]| {
    if let Ok(ch) = parse_client_hello(data) {
        let _ = ja4(&ch, TlsTransport::Tcp);
        let _ = ja3(&ch);
    }
    if let Ok(sh) = parse_server_hello(data) {
        let _ = ja3s(&sh);
    }
    let _ = parse_sslv2_client_hello(data);
    if let Ok(certs) = parse_certificate_list(data, 4) {
        for c in certs {
            let _ = vigil_proto::cert::parse_certificate(c);
        }
    }
    // The same bytes as both directions of a stream, split at a data-derived point.
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let mut t = TlsConn::new();
    t.feed(true, &data[..split]);
    t.feed(true, &data[split..]);
    t.feed(false, data);
});
