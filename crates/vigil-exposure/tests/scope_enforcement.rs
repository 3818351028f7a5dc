//! Out-of-scope targets, host names resolving outside scope and broken scope files are refused
//! with a clear message, and no connection attempt is made.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use vigil_exposure::probe::{Connector, Stream, TcpConnector};
use vigil_exposure::recog::Recog;
use vigil_exposure::scan::{ScanConfig, ScanError, ScopedConnector, scan};
use vigil_exposure::scope::{Scope, ScopeError, SystemResolver};

/// Counts connection attempts and refuses them all.
#[derive(Default)]
struct Counting(AtomicUsize);
impl Connector for Counting {
    fn connect(&self, _: SocketAddr, _: Duration, _: Duration) -> io::Result<Box<dyn Stream>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(io::Error::new(io::ErrorKind::ConnectionRefused, "mock"))
    }
}

fn cfg() -> ScanConfig {
    ScanConfig { concurrency: 4, rate: 0.0, retries: 0, ..Default::default() }
}

#[test]
fn out_of_scope_target_is_refused_before_any_connection() {
    let scope = Scope::parse("127.0.0.2 ports=22\n", &[22], &SystemResolver).unwrap();
    let c = Counting::default();
    let targets: Vec<SocketAddr> = vec!["127.0.0.2:22".parse().unwrap(), "127.0.0.3:22".parse().unwrap()];
    let err = scan(&scope, &targets, &HashMap::new(), &c, &Recog::default(), &cfg(), &|_, _| {}).unwrap_err();
    assert!(matches!(&err, ScanError::Scope(ScopeError::OutOfScope { target }) if target == "127.0.0.3:22"), "{err}");
    assert!(err.to_string().contains("outside the scope"));
    assert_eq!(c.0.load(Ordering::SeqCst), 0, "no connection attempt at all");
    // A port not listed for the address is out of scope too.
    let err = scan(&scope, &["127.0.0.2:23".parse().unwrap()], &HashMap::new(), &c, &Recog::default(), &cfg(), &|_, _| {}).unwrap_err();
    assert!(matches!(err, ScanError::Scope(ScopeError::OutOfScope { .. })));
    assert_eq!(c.0.load(Ordering::SeqCst), 0);
    // In scope: exactly one attempt per pair (retries 0), refused → closed.
    let out = scan(&scope, &scope.targets(), &HashMap::new(), &c, &Recog::default(), &cfg(), &|_, _| {}).unwrap();
    assert_eq!((out.closed, c.0.load(Ordering::SeqCst)), (1, 1));
}

#[test]
fn a_real_listener_outside_scope_sees_no_connection() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let outside = l.local_addr().unwrap();
    let scope = Scope::parse(&format!("127.0.0.9 ports={}\n", outside.port()), &[], &SystemResolver).unwrap();
    assert!(scan(&scope, &[outside], &HashMap::new(), &TcpConnector, &Recog::default(), &cfg(), &|_, _| {}).is_err());
    // The second guard: the connector itself refuses.
    let guarded = ScopedConnector::new(&TcpConnector, &scope, 0.0);
    let e = guarded.connect(outside, Duration::from_millis(200), Duration::from_millis(200)).err().unwrap();
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(l.accept().err().map(|e| e.kind()), Some(io::ErrorKind::WouldBlock), "the listener saw a connection");
}

#[test]
fn host_names_resolving_outside_scope_are_refused() {
    // localhost resolves to 127.0.0.1 (and maybe ::1): neither lies inside 127.0.0.2/32.
    let err = Scope::parse("127.0.0.2\nlocalhost ports=22\n", &[22], &SystemResolver).unwrap_err();
    match &err {
        ScopeError::Line { line, reason, .. } => {
            assert_eq!(*line, 2);
            assert!(reason.contains("outside"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("scope line 2"));
    // Inside when the file lists every address it resolves to.
    let ok = Scope::parse("127.0.0.0/24\n::1\nlocalhost ports=22\n", &[22], &SystemResolver).unwrap();
    assert!(ok.entries.iter().any(|e| e.name.as_deref() == Some("localhost")));
}

#[test]
fn broken_scope_files_are_refused_naming_the_line() {
    for (text, line) in [
        ("127.0.0.1\n300.1.1.1\n", 2),
        ("# c\n\n127.0.0.1 ports=99999\n", 3),
        ("127.0.0.1 ports=\n", 1),
        ("127.0.0.1/8 \n", 1),
        ("-bad-.example\n", 1),
    ] {
        let e = Scope::parse(text, &[22], &SystemResolver).unwrap_err();
        match e {
            ScopeError::Line { line: l, .. } => assert_eq!(l, line, "{text:?}: {e}"),
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

#[test]
fn resume_skips_done_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.jsonl");
    let scope = Scope::parse("127.0.0.2 ports=1-4\n", &[], &SystemResolver).unwrap();
    let targets = scope.targets();
    let c = Counting::default();
    let mut config = cfg();
    config.state_file = Some(state.clone());
    let first = scan(&scope, &targets[..2], &HashMap::new(), &c, &Recog::default(), &config, &|_, _| {}).unwrap();
    assert_eq!(first.closed, 2);
    config.resume = true;
    let second = scan(&scope, &targets, &HashMap::new(), &c, &Recog::default(), &config, &|_, _| {}).unwrap();
    assert_eq!((second.resumed, second.closed), (2, 4));
    assert_eq!(c.0.load(Ordering::SeqCst), 4, "two pairs on the first run, two more on the resumed one");
}
