//! Syslog over TLS (RFC 5425) to a real receiver: Debian's rsyslogd with its GnuTLS driver
//! (package rsyslog-gnutls), started by the test on loopback with a CA and server certificate
//! made at test time by `openssl`. A collector whose certificate our CA does not vouch for
//! receives nothing.

use chrono::{FixedOffset, TimeZone};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use vigil_alert::{Sink, SyslogSink, SyslogTransport};
use vigil_model::{Finding, FindingKind, Severity};

fn require(what: &str, hint: &str) {
    assert!(std::env::var("VIGIL_REQUIRE_TOOLS").as_deref() != Ok("1"), "{what} is required (VIGIL_REQUIRE_TOOLS=1)");
    eprintln!("{what} not available; skipping ({hint})");
}

fn gtls_driver() -> bool {
    [
        "/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so",
        "/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_gtls.so",
        "/usr/lib/rsyslog/lmnsd_gtls.so",
    ]
    .iter()
    .any(|p| Path::new(p).exists())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA and a server certificate for `localhost` / 127.0.0.1 signed by it; returns the CA file.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let key = format!("{name}-ca.key");
    let ca = format!("{name}-ca.pem");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &ca,
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} test CA"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(ca)
}

fn make_server_cert(dir: &Path, ca_name: &str) -> (PathBuf, PathBuf) {
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            &format!("{ca_name}-ca.pem"),
            "-CAkey",
            &format!("{ca_name}-ca.key"),
            "-CAcreateserial",
            "-out",
            "srv.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    (dir.join("srv.pem"), dir.join("srv.key"))
}

fn finding(key: &str, summary: &str) -> Finding {
    let t = FixedOffset::east_opt(8 * 3600).unwrap().with_ymd_and_hms(2026, 1, 1, 3, 0, 0).unwrap();
    Finding {
        id: Finding::stable_id(FindingKind::Beacon, &[key]),
        kind: FindingKind::Beacon,
        severity: Severity::High,
        score: 0.8,
        src: "10.0.0.5".into(),
        dst: vec!["203.0.113.9".into()],
        path: vec![],
        first_seen: t,
        last_seen: t,
        attack: vec!["T1071.001".into()],
        summary: summary.into(),
        evidence: serde_json::json!({}),
    }
}

#[test]
fn rsyslog_receives_findings_over_tls_and_an_unknown_ca_gets_nothing() {
    let Some(bin) = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"].iter().map(PathBuf::from).find(|p| p.exists()) else {
        return require("rsyslogd", "apt-get install rsyslog");
    };
    if !gtls_driver() {
        return require("rsyslog's GnuTLS driver", "apt-get install rsyslog-gnutls");
    }
    if Command::new("openssl").arg("version").output().is_err() {
        return require("openssl", "apt-get install openssl");
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca(dir.path(), "site");
    let other_ca = make_ca(dir.path(), "other");
    let (cert, key) = make_server_cert(dir.path(), "site");
    let out = dir.path().join("out.log");
    let port = free_port();
    let conf = dir.path().join("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{work}" DefaultNetstreamDriver="gtls"
       DefaultNetstreamDriverCAFile="{ca}" DefaultNetstreamDriverCertFile="{cert}" DefaultNetstreamDriverKeyFile="{key}")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
input(type="imtcp" address="127.0.0.1" port="{port}")
template(name="fields" type="string" string="app=%app-name% msgid=%msgid% sd=%structured-data% msg=%msg%\n")
*.* action(type="omfile" file="{out}" template="fields")
"#,
            work = dir.path().display(),
            ca = ca.display(),
            cert = cert.display(),
            key = key.display(),
            out = out.display()
        ),
    )
    .unwrap();
    let _d = Kill(Command::new(bin).args(["-n", "-f"]).arg(&conf).arg("-i").arg(dir.path().join("pid")).spawn().expect("rsyslogd starts"));
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(15), "rsyslogd did not start listening");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Our CA, the collector's name: delivered, two findings over one connection.
    let mut tls = SyslogSink::new(format!("127.0.0.1:{port}"), SyslogTransport::Tls, false, "vigil".into())
        .unwrap()
        .with_tls(Some(&ca), Some("localhost"))
        .unwrap();
    tls.send(&finding("a", "tls beacon one"), false).unwrap();
    tls.send(&finding("b", "tls beacon \"two\" <x>"), false).unwrap();

    // Another CA: the handshake fails, nothing is sent in clear.
    let mut wrong = SyslogSink::new(format!("127.0.0.1:{port}"), SyslogTransport::Tls, false, "vigil".into())
        .unwrap()
        .with_tls(Some(&other_ca), Some("localhost"))
        .unwrap();
    let e = wrong.send(&finding("c", "must not arrive"), false).expect_err("unknown issuer");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    // The right CA but a name the certificate does not carry: refused too.
    let mut misnamed = SyslogSink::new(format!("127.0.0.1:{port}"), SyslogTransport::Tls, false, "vigil".into())
        .unwrap()
        .with_tls(Some(&ca), Some("collector.example"))
        .unwrap();
    assert!(misnamed.send(&finding("d", "must not arrive either"), false).is_err());
    drop(tls);

    let start = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if text.lines().count() >= 2 || start.elapsed() > Duration::from_secs(15) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(300));
    let text = std::fs::read_to_string(&out).unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "rsyslog wrote: {text}");
    for l in &lines {
        assert!(l.starts_with("app=vigil msgid=beacon sd=[vigil@32473 "), "{l}");
    }
    assert!(text.contains("msg=tls beacon one"), "{text}");
    assert!(text.contains("msg=tls beacon \"two\" <x>"), "{text}");
    assert!(!text.contains("must not arrive"), "{text}");
}

#[test]
fn tls_configuration_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-ca.pem");
    let s = SyslogSink::new("127.0.0.1:6514".into(), SyslogTransport::Tls, false, "vigil".into()).unwrap();
    let e = s.with_tls(Some(&missing), None).err().expect("missing CA file");
    assert!(e.to_string().contains("no-such-ca.pem"), "{e}");
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let s = SyslogSink::new("127.0.0.1:6514".into(), SyslogTransport::Tls, false, "vigil".into()).unwrap();
    let e = s.with_tls(Some(&junk), None).err().expect("no certificate in it");
    assert!(e.to_string().contains("no usable certificate"), "{e}");
}
