//! Alert delivery to a real syslog receiver: Debian's rsyslogd, started by the test on loopback,
//! must parse our RFC 5424 messages (app name, msgid, structured data) over UDP and TCP.

use chrono::{FixedOffset, TimeZone};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use vigil_alert::{Sink, SyslogSink, SyslogTransport};
use vigil_model::{Finding, FindingKind, Severity};

fn rsyslogd() -> Option<std::path::PathBuf> {
    ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"].iter().map(std::path::PathBuf::from).find(|p| p.exists())
}

fn free_port() -> u16 {
    // Bind both a TCP and a UDP socket on the same port to be sure both are free.
    loop {
        let t = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = t.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
fn rsyslog_receives_and_parses_rfc5424_over_udp_and_tcp() {
    let Some(bin) = rsyslogd() else {
        assert!(std::env::var("VIGIL_REQUIRE_TOOLS").as_deref() != Ok("1"), "rsyslogd is required (VIGIL_REQUIRE_TOOLS=1)");
        eprintln!("rsyslogd not installed; skipping (apt-get install rsyslog)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.log");
    let (pu, pt) = (free_port(), free_port());
    let conf = dir.path().join("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{work}")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="{pu}")
input(type="imtcp" address="127.0.0.1" port="{pt}")
template(name="fields" type="string" string="app=%app-name% msgid=%msgid% sev=%syslogseverity-text% sd=%structured-data% msg=%msg%\n")
*.* action(type="omfile" file="{out}" template="fields")
"#,
            work = dir.path().display(),
            out = out.display()
        ),
    )
    .unwrap();
    let _d = Kill(Command::new(bin).args(["-n", "-f"]).arg(&conf).arg("-i").arg(dir.path().join("pid")).spawn().expect("rsyslogd starts"));
    // Wait until the TCP input listens.
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", pt)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(15), "rsyslogd did not start listening");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut udp = SyslogSink::new(format!("127.0.0.1:{pu}"), SyslogTransport::Udp, false, "vigil".into()).unwrap();
    let mut tcp = SyslogSink::new(format!("127.0.0.1:{pt}"), SyslogTransport::Tcp, false, "vigil".into()).unwrap();
    udp.send(&finding("u", "udp beacon <script>"), false).unwrap();
    tcp.send(&finding("t", "tcp beacon \"quoted\""), false).unwrap();
    drop(tcp);
    let start = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if text.lines().count() >= 2 || start.elapsed() > Duration::from_secs(15) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "rsyslog wrote: {text}");
    for l in &lines {
        assert!(l.starts_with("app=vigil msgid=beacon sev=err sd=[vigil@32473 "), "{l}");
        assert!(l.contains("kind=\"beacon\"") && l.contains("src=\"10.0.0.5\""), "{l}");
    }
    assert!(text.contains("msg=udp beacon <script>"), "{text}");
    assert!(text.contains("msg=tcp beacon \"quoted\""), "{text}");
}
