//! Live capture end to end: two network namespaces made by the test, joined by a veth pair,
//! `tcpreplay` sending a real pcap from one end and Vigil's AF_PACKET ring capturing on the
//! other. The connections built live must equal what the offline engine builds from the same
//! file (per 5-tuple: connection count, packets and IP bytes each way, payload bytes).
//!
//! Needs root, `ip` and `tcpreplay`; otherwise it says why and skips, unless
//! `VIGIL_REQUIRE_TOOLS=1` makes the absence a failure. Nothing on the host's own interfaces is
//! touched: the veth ends live only inside the test's namespaces, without addresses, and IPv6
//! is off there so the kernel sends nothing of its own onto the link.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vigil_capture::Decoder;
use vigil_capture::live::{LiveCapture, LiveConfig};
use vigil_flow::{Engine, EngineConfig};
use vigil_model::Conn;

fn require_tools() -> bool {
    std::env::var("VIGIL_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

fn skip(reason: &str) {
    assert!(!require_tools(), "VIGIL_REQUIRE_TOOLS=1 but {reason}");
    println!("skipping live capture test: {reason}");
}

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

fn data_dir() -> PathBuf {
    match std::env::var_os("VIGIL_SHARED_DATA") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    }
}

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0]).args(&args[1..]).stdin(Stdio::null()).output().map_err(|e| format!("{}: {e}", args[0]))?;
    if out.status.success() { Ok(()) } else { Err(format!("{} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())) }
}

/// Two namespaces joined by a veth pair; both go away on drop (deleting a namespace deletes
/// the veth end inside it, and with it the other end).
struct Link {
    tx_ns: String,
    rx_ns: String,
}

impl Link {
    fn create() -> Result<Link, String> {
        let tag = format!("{}{}", std::process::id(), Instant::now().elapsed().subsec_nanos() % 1000);
        let link = Link { tx_ns: format!("vigil-tx-{tag}"), rx_ns: format!("vigil-rx-{tag}") };
        run(&["ip", "netns", "add", &link.tx_ns])?;
        run(&["ip", "netns", "add", &link.rx_ns])?;
        for ns in [&link.tx_ns, &link.rx_ns] {
            for key in ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"] {
                run(&["ip", "netns", "exec", ns, "sysctl", "-q", "-w", key])?;
            }
        }
        // Created inside the sender's namespace, the peer moved to the receiver's: the host's
        // namespace never holds either end.
        run(&["ip", "-n", &link.tx_ns, "link", "add", "vtx", "type", "veth", "peer", "name", "vrx", "netns", &link.rx_ns])?;
        run(&["ip", "-n", &link.tx_ns, "link", "set", "vtx", "up"])?;
        run(&["ip", "-n", &link.rx_ns, "link", "set", "vrx", "up"])?;
        Ok(link)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for ns in [&self.tx_ns, &self.rx_ns] {
            let _ = run(&["ip", "netns", "del", ns]);
        }
    }
}

/// Per 5-tuple: connections, originator packets/IP bytes, responder packets/IP bytes, payload
/// bytes each way.
type Summary = BTreeMap<(IpAddr, u16, IpAddr, u16, u8), [u64; 7]>;

fn summarise(conns: &[Conn]) -> Summary {
    let mut m = Summary::new();
    for c in conns {
        let e = m.entry((c.orig_h, c.orig_p, c.resp_h, c.resp_p, c.proto)).or_default();
        e[0] += 1;
        e[1] += c.orig_pkts;
        e[2] += c.orig_ip_bytes;
        e[3] += c.resp_pkts;
        e[4] += c.resp_ip_bytes;
        e[5] += c.orig_bytes.unwrap_or(0);
        e[6] += c.resp_bytes.unwrap_or(0);
    }
    m
}

fn offline(pcap: &Path) -> (Vec<Conn>, u64) {
    let mut conns = Vec::new();
    let mut engine = Engine::new(EngineConfig::default());
    engine.ingest_path(pcap, &mut |c| conns.push(c)).unwrap();
    let st = engine.finish(&mut |c| conns.push(c));
    (conns, st.frames)
}

/// Captures on the receiving end while tcpreplay sends `pcap`, until `frames` frames came in
/// (or a deadline passed), and returns the connections and the frames seen.
fn live(link: &Link, pcap: &Path, frames: u64) -> (Vec<Conn>, u64, vigil_capture::live::LiveStats) {
    let cfg = LiveConfig {
        netns: Some(PathBuf::from(format!("/var/run/netns/{}", link.rx_ns))),
        block_size: 1 << 16,
        block_count: 16,
        block_timeout_ms: 10,
        ..LiveConfig::default()
    };
    let mut cap = LiveCapture::open("vrx", &cfg).expect("open the capture ring");
    let sender = Command::new("ip")
        .args(["netns", "exec", &link.tx_ns, "tcpreplay", "-q", "--topspeed", "-i", "vtx"])
        .arg(pcap)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tcpreplay");
    let mut dec = Decoder::new();
    let mut engine = Engine::new(EngineConfig::default());
    let mut conns = Vec::new();
    let mut seen = 0u64;
    let deadline = Instant::now() + Duration::from_secs(8);
    while seen < frames && Instant::now() < deadline {
        if let Some(frame) = cap.next_frame(Duration::from_millis(50)).expect("read the ring") {
            seen += 1;
            if let Ok(Some(pkt)) = dec.decode(&frame) {
                engine.process_packet(&pkt, &mut |c| conns.push(c));
            }
        }
    }
    let out = sender.wait_with_output().expect("tcpreplay ran");
    assert!(out.status.success(), "tcpreplay: {}", String::from_utf8_lossy(&out.stderr));
    // Anything after the last expected frame would be traffic the test did not send.
    let extra = cap.next_frame(Duration::from_millis(300)).expect("read the ring").is_some();
    assert!(!extra, "unexpected frame on the test link");
    engine.finish(&mut |c| conns.push(c));
    let st = cap.stats();
    (conns, seen, st)
}

#[test]
fn live_capture_matches_offline_engine() {
    if !is_root() {
        return skip("needs root (AF_PACKET sockets and network namespaces)");
    }
    for tool in ["ip", "tcpreplay"] {
        if !have(tool) {
            return skip(&format!("{tool} not installed"));
        }
    }
    let data = data_dir().join("pcaps");
    if !data.is_dir() {
        assert!(std::env::var("VIGIL_REQUIRE_CORPUS").as_deref() != Ok("1"), "shared data missing at {}", data.display());
        println!("shared data not found at {}; skipping corpus check", data.display());
        return;
    }
    let link = match Link::create() {
        Ok(l) => l,
        Err(e) => return skip(&format!("cannot create network namespaces: {e}")),
    };
    // Ethernet captures with whole frames that fit the link's MTU (tcpreplay cannot send more):
    // a version scan (hundreds of short TCP connections, closed and refused ports), and a web
    // visit (DNS over UDP, HTTP over TCP).
    for name in ["zeek/nmap-vsn.pcap", "zeek/wikipedia.pcap", "zeek/ssh/reverse-ssh.pcap"] {
        let pcap = data.join(name);
        let (want, frames) = offline(&pcap);
        assert!(frames > 0 && !want.is_empty(), "{name}: offline engine saw nothing");
        let (got, seen, st) = live(&link, &pcap, frames);
        assert_eq!(seen, frames, "{name}: frames captured live vs in the file ({st:?})");
        assert_eq!(st.kernel_drops, 0, "{name}: kernel dropped frames");
        assert_eq!(st.frames, frames, "{name}: ring counter");
        assert_eq!(got.len(), want.len(), "{name}: number of connections");
        let (w, g) = (summarise(&want), summarise(&got));
        for (k, v) in &w {
            assert_eq!(
                g.get(k),
                Some(v),
                "{name}: {k:?} [conns, orig pkts, orig IP bytes, resp pkts, resp IP bytes, orig bytes, resp bytes]"
            );
        }
        assert_eq!(w.len(), g.len(), "{name}: 5-tuples");
        println!("{name}: {frames} frames, {} connections, {} 5-tuples: live equals offline", got.len(), w.len());
    }
}

/// `vigil watch --interface` names the interface it could not open and exits 2, before any
/// privilege is needed; a filter expression without tcpdump to compile it is refused with the
/// way out (the numeric program) in the message.
#[test]
fn watch_reports_capture_errors_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("vigil")
        .unwrap()
        .args(["watch", "--interface", "vigil-no-such-if0", "--data"])
        .arg(dir.path())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("vigil-no-such-if0") && err.contains("no such interface"), "{err}");

    if !have("tcpdump") {
        let out = assert_cmd::Command::cargo_bin("vigil")
            .unwrap()
            .args(["watch", "--interface", "lo", "--bpf", "tcp port 80", "--data"])
            .arg(dir.path())
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("needs tcpdump") && err.contains("tcpdump -ddd"), "{err}");
    }
}
