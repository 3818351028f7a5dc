#![no_main]
//! Server answers to Vigil's probes: banners, HTTP, MySQL, Redis, SMB, RDP, LDAP, TLS.
use libfuzzer_sys::fuzz_target;
use vigil_exposure::probe;

fuzz_target!(|data: &[u8]| {
    let _ = probe::classify_banner(data);
    let _ = probe::parse_http_response(data);
    let _ = probe::parse_title(data);
    let _ = probe::parse_mysql_handshake(data);
    let _ = probe::parse_redis_info(data);
    let _ = probe::parse_rdp(data);
    let _ = probe::parse_smb(data);
    let _ = probe::ldap_attr(data, "vendorVersion");
    let _ = probe::parse_tls_server(&probe::client_hello(Some("a.example")), data);
});
