//! SYN scanning on loopback, as root: the open/closed port sets equal the connect scan's on the
//! same targets, no connection is ever completed (listeners accept nothing), out-of-scope
//! targets send no packet, and without CAP_NET_RAW the scan falls back to connect with a note.
//!
//! Needs CAP_NET_RAW; otherwise it says why and skips, unless `VIGIL_REQUIRE_TOOLS=1`.

use std::collections::{BTreeSet, HashMap};
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;
use vigil_exposure::probe::{ProbeConfig, TcpConnector};
use vigil_exposure::recog::Recog;
use vigil_exposure::scan::{PortState, ScanConfig, ScanMethod, scan};
use vigil_exposure::scope::{Scope, ScopeError, SystemResolver};
use vigil_exposure::syn::{SynConfig, SynError, SynScanner};

fn require_tools() -> bool {
    std::env::var("VIGIL_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// The raw socket, or None after printing why the test is skipped.
fn scanner() -> Option<SynScanner> {
    match SynScanner::open() {
        Ok(s) => Some(s),
        Err(e) => {
            assert!(!require_tools(), "VIGIL_REQUIRE_TOOLS=1 but {e}");
            println!("skipping SYN scan test: {e}");
            None
        }
    }
}

fn cfg(method: ScanMethod) -> ScanConfig {
    ScanConfig {
        method,
        identify: false,
        concurrency: 8,
        rate: 0.0,
        retries: 1,
        probe: ProbeConfig { connect_timeout: Duration::from_millis(500), ..Default::default() },
        ..Default::default()
    }
}

/// Three listeners and three closed ports on `ip`; the listeners are non-blocking so the test
/// can check that nothing completed a handshake with them.
fn targets(ip: &str) -> (Vec<TcpListener>, Vec<SocketAddr>, Vec<SocketAddr>) {
    let open: Vec<TcpListener> = (0..3).map(|_| TcpListener::bind((ip, 0)).unwrap()).collect();
    for l in &open {
        l.set_nonblocking(true).unwrap();
    }
    let open_addrs = open.iter().map(|l| l.local_addr().unwrap()).collect();
    let closed = (0..3).map(|_| TcpListener::bind((ip, 0)).unwrap().local_addr().unwrap()).collect();
    (open, open_addrs, closed)
}

fn scope_for(addrs: &[SocketAddr]) -> Scope {
    let text: String = addrs.iter().map(|a| format!("{} ports={}\n", a.ip(), a.port())).collect();
    Scope::parse(&text, &[], &SystemResolver).unwrap()
}

fn open_set(ports: &[(SocketAddr, PortState)], state: PortState) -> BTreeSet<SocketAddr> {
    ports.iter().filter(|(_, s)| *s == state).map(|(a, _)| *a).collect()
}

#[test]
fn syn_scan_agrees_with_connect_scan_and_completes_no_connection() {
    if scanner().is_none() {
        return;
    }
    let (listeners, open, closed) = targets("127.58.0.1");
    let all: Vec<SocketAddr> = open.iter().chain(&closed).copied().collect();
    let scope = scope_for(&all);
    let syn = scan(&scope, &scope.targets(), &HashMap::new(), &TcpConnector, &Recog::default(), &cfg(ScanMethod::Syn), &|_, _| {}).unwrap();
    assert_eq!(syn.method, "syn", "note: {:?}", syn.note);
    assert_eq!(syn.connections, 0, "SYN discovery opens no connection");
    assert!(syn.syn_packets >= all.len() as u64 + open.len() as u64, "a SYN per target and a RST per open port: {}", syn.syn_packets);
    // Half-open only: no listener has a completed connection waiting.
    for l in &listeners {
        assert_eq!(l.accept().err().map(|e| e.kind()), Some(std::io::ErrorKind::WouldBlock), "a SYN scan completed a handshake");
    }
    let conn =
        scan(&scope, &scope.targets(), &HashMap::new(), &TcpConnector, &Recog::default(), &cfg(ScanMethod::Connect), &|_, _| {}).unwrap();
    assert_eq!(conn.method, "connect");
    let expect_open: BTreeSet<SocketAddr> = open.iter().copied().collect();
    let expect_closed: BTreeSet<SocketAddr> = closed.iter().copied().collect();
    assert_eq!(open_set(&syn.ports, PortState::Open), expect_open);
    assert_eq!(open_set(&syn.ports, PortState::Closed), expect_closed);
    assert_eq!(open_set(&conn.ports, PortState::Open), open_set(&syn.ports, PortState::Open), "same open ports as the connect scan");
    assert_eq!(open_set(&conn.ports, PortState::Closed), open_set(&syn.ports, PortState::Closed));
    assert_eq!((syn.open, syn.closed, syn.filtered), (3, 3, 0));
}

#[test]
fn syn_discovery_then_probes_identify_a_service() {
    if scanner().is_none() {
        return;
    }
    // A server-first banner: SYN finds the port, the probe (a real connection) reads it.
    let l = TcpListener::bind("127.58.0.2:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        use std::io::Write;
        if let Ok((mut s, _)) = l.accept() {
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n");
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let scope = scope_for(&[addr]);
    let mut c = cfg(ScanMethod::Syn);
    c.identify = true;
    let out = scan(&scope, &[addr], &HashMap::new(), &TcpConnector, &Recog::bundled(), &c, &|_, _| {}).unwrap();
    server.join().unwrap();
    assert_eq!(out.method, "syn");
    let s = out.services.first().expect("the open port is probed");
    assert_eq!((s.product.as_deref(), s.version.as_deref()), (Some("OpenSSH"), Some("9.6p1")));
    assert_eq!(out.connections, 1, "one probe connection, no connect-scan connection");
}

#[test]
fn out_of_scope_targets_send_no_syn() {
    let Some(syn) = scanner() else { return };
    let scope = Scope::parse("127.58.0.3 ports=22\n", &[], &SystemResolver).unwrap();
    let cfg = SynConfig { rate: 0.0, retries: 0, wait: Duration::from_millis(100) };
    let bad: Vec<SocketAddr> = vec!["127.58.0.3:22".parse().unwrap(), "127.58.0.4:22".parse().unwrap()];
    let err = syn.discover(&scope, &bad, &cfg).unwrap_err();
    assert!(matches!(&err, ScopeError::OutOfScope { target } if target == "127.58.0.4:22"), "{err}");
    assert_eq!(syn.sent.load(Ordering::Relaxed), 0, "no packet before the whole list passed the scope");
    let err = scan(&scope, &bad, &HashMap::new(), &TcpConnector, &Recog::default(), &cfg_syn(), &|_, _| {}).unwrap_err();
    assert!(err.to_string().contains("outside the scope"), "{err}");
}

fn cfg_syn() -> ScanConfig {
    cfg(ScanMethod::Syn)
}

/// Runs in a child process whose capability bounding set lacks CAP_NET_RAW.
#[test]
fn without_cap_net_raw_it_falls_back_to_connect_with_a_note() {
    if std::env::var_os("VIGIL_SYN_CHILD").is_some() {
        let l = TcpListener::bind("127.58.0.5:0").unwrap();
        let addr = l.local_addr().unwrap();
        assert!(matches!(SynScanner::open(), Err(SynError::NoCapability(_))), "the child must lack CAP_NET_RAW");
        let scope = scope_for(&[addr]);
        let out = scan(&scope, &[addr], &HashMap::new(), &TcpConnector, &Recog::default(), &cfg_syn(), &|_, _| {}).unwrap();
        assert_eq!(out.method, "connect");
        let note = out.note.unwrap_or_default();
        assert!(note.contains("CAP_NET_RAW") && note.contains("falling back to TCP connect"), "{note}");
        assert_eq!(out.open, 1);
        println!("child: fallback ok");
        return;
    }
    if scanner().is_none() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].into_iter().find(|p| std::path::Path::new(p).is_file());
    let Some(setpriv) = setpriv else {
        assert!(!require_tools(), "VIGIL_REQUIRE_TOOLS=1 but setpriv (util-linux) is missing");
        println!("skipping the fallback check: setpriv not found");
        return;
    };
    let out = Command::new(setpriv)
        .args(["--bounding-set=-net_raw", "--inh-caps=-net_raw"])
        .arg(&exe)
        .args(["--exact", "without_cap_net_raw_it_falls_back_to_connect_with_a_note", "--nocapture", "--test-threads=1"])
        .env("VIGIL_SYN_CHILD", "1")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("child: fallback ok"), "{text}");
}
