//! A real exporter against Vigil's collector: Debian's `softflowd` reads a pcap and exports its
//! flows as NetFlow v5, v9 and IPFIX to a [`vigil_import::Collector`] on 127.0.0.1; the
//! connections the collector stitches must carry the same packets and bytes as the connections
//! the offline engine builds from the same pcap.
//!
//! How the two count, and so how they are compared:
//! - softflowd's octets are IP bytes (IP header included, link header excluded), compared with
//!   the engine's `orig_ip_bytes`/`resp_ip_bytes`, not its payload bytes. One difference stays:
//!   softflowd takes the length of what follows the link header, so the padding of a minimum
//!   size Ethernet frame counts too (a 40-byte SYN or RST in a 60-byte frame is 46 octets to
//!   softflowd, 40 to Vigil, which reads the IP total length). Packets must agree exactly;
//!   bytes must be at least the engine's and at most 26 more per packet (46 bytes of minimum
//!   Ethernet payload less the 20-byte minimum IP header).
//! - softflowd tracks a flow per unordered address/port pair and exports one record per
//!   direction; which side Vigil's stitcher calls the originator depends on record timestamps
//!   of millisecond (v5/v9) resolution. So both sides are keyed by the unordered endpoint pair
//!   and compared per endpoint: packets and IP bytes sent by each.
//! - softflowd ends a flow on its own timers and on TCP FIN/RST, Vigil on its own state machine:
//!   the number of connections per pair may differ (a reused port is one flow or two), the sums
//!   per pair may not.
//! - NetFlow v5 carries only IPv4, so for v5 the engine's IPv6 connections are left out.
//! - ICMP type and code travel in the port fields in ways that differ between exporters; ICMP is
//!   keyed by addresses only.
//!
//! Needs `softflowd`; otherwise it says why and skips, unless `VIGIL_REQUIRE_TOOLS=1`.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vigil_flow::{Engine, EngineConfig};
use vigil_import::Collector;
use vigil_import::collector::CollectorConfig;
use vigil_model::Conn;

fn softflowd() -> Option<PathBuf> {
    ["/usr/sbin/softflowd", "/usr/bin/softflowd", "/usr/local/sbin/softflowd"].iter().map(PathBuf::from).find(|p| p.exists())
}

fn data_dir() -> PathBuf {
    match std::env::var_os("VIGIL_SHARED_DATA") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    }
}

/// Unordered endpoint pair: (lower endpoint, higher endpoint, protocol).
type Key = ((IpAddr, u16), (IpAddr, u16), u8);
/// [packets from lower, IP bytes from lower, packets from higher, IP bytes from higher].
type Summary = BTreeMap<Key, [u64; 4]>;

fn summarise(conns: &[Conn], ipv4_only: bool) -> Summary {
    let mut m = Summary::new();
    for c in conns {
        if ipv4_only && !c.orig_h.is_ipv4() {
            continue;
        }
        let icmp = c.proto == 1 || c.proto == 58;
        let a = (c.orig_h, if icmp { 0 } else { c.orig_p });
        let b = (c.resp_h, if icmp { 0 } else { c.resp_p });
        let (lo, hi, flip) = if a <= b { (a, b, false) } else { (b, a, true) };
        let e = m.entry((lo, hi, c.proto)).or_default();
        let (o, r) = ([c.orig_pkts, c.orig_ip_bytes], [c.resp_pkts, c.resp_ip_bytes]);
        let (l, h) = if flip { (r, o) } else { (o, r) };
        e[0] += l[0];
        e[1] += l[1];
        e[2] += h[0];
        e[3] += h[1];
    }
    m
}

fn offline(pcap: &Path) -> Vec<Conn> {
    let mut conns = Vec::new();
    let mut engine = Engine::new(EngineConfig::default());
    engine.ingest_path(pcap, &mut |c| conns.push(c)).unwrap();
    engine.finish(&mut |c| conns.push(c));
    conns
}

/// Runs softflowd over `pcap` towards a fresh collector and returns what the collector built.
fn exported(tool: &Path, pcap: &Path, version: &str) -> (Vec<Conn>, vigil_import::collector::CollectorStats) {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let col = Collector::bind(addr, CollectorConfig::default()).expect("bind the collector on loopback");
    let port = col.local_addr().port();
    let out = Command::new(tool)
        .args(["-d", "-r"])
        .arg(pcap)
        .args(["-n", &format!("127.0.0.1:{port}"), "-v", version])
        .stdin(Stdio::null())
        .output()
        .expect("run softflowd");
    assert!(out.status.success(), "softflowd -v {version}: {}", String::from_utf8_lossy(&out.stderr));
    // softflowd exits once it has sent; wait until the collector has taken everything in.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = (u64::MAX, Instant::now());
    while Instant::now() < deadline {
        let n = col.stats().flow_records;
        if n != last.0 {
            last = (n, Instant::now());
        } else if n > 0 && last.1.elapsed() > Duration::from_millis(400) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    col.shutdown()
}

#[test]
fn softflowd_exports_match_offline_engine() {
    let Some(tool) = softflowd() else {
        assert!(std::env::var("VIGIL_REQUIRE_TOOLS").as_deref() != Ok("1"), "VIGIL_REQUIRE_TOOLS=1 but softflowd is not installed");
        println!("softflowd not installed; skipping the real-exporter test");
        return;
    };
    let data = data_dir().join("pcaps");
    if !data.is_dir() {
        assert!(std::env::var("VIGIL_REQUIRE_CORPUS").as_deref() != Ok("1"), "shared data missing at {}", data.display());
        println!("shared data not found at {}; skipping corpus check", data.display());
        return;
    }
    for name in ["zeek/wikipedia.pcap", "zeek/nmap-vsn.pcap", "zeek/ssh/reverse-ssh.pcap"] {
        let pcap = data.join(name);
        let want_conns = offline(&pcap);
        for version in ["5", "9", "10"] {
            let (got_conns, st) = exported(&tool, &pcap, version);
            assert_eq!(st.datagrams_dropped, 0, "{name} v{version}: datagrams dropped");
            assert_eq!(st.malformed, 0, "{name} v{version}: malformed export packets");
            let v5 = version == "5";
            let (want, got) = (summarise(&want_conns, v5), summarise(&got_conns, v5));
            let mut differ = Vec::new();
            let mut padded = 0;
            for (k, w) in &want {
                let Some(g) = got.get(k) else {
                    differ.push(format!("{k:?}: engine {w:?}, nothing from softflowd"));
                    continue;
                };
                let fits = |pkts: u64, engine: u64, sf: u64| sf >= engine && sf - engine <= 26 * pkts;
                if g[0] != w[0] || g[2] != w[2] || !fits(w[0], w[1], g[1]) || !fits(w[2], w[3], g[3]) {
                    differ.push(format!("{k:?}: engine {w:?}, softflowd {g:?}"));
                } else if g != w {
                    padded += 1;
                }
            }
            for k in got.keys().filter(|k| !want.contains_key(k)) {
                differ.push(format!("{k:?}: only from softflowd {:?}", got[k]));
            }
            assert!(
                differ.is_empty(),
                "{name} v{version}: {} of {} endpoint pairs differ:\n{}",
                differ.len(),
                want.len(),
                differ.join("\n")
            );
            println!(
                "{name} v{version}: {} endpoint pairs ({padded} with Ethernet padding counted by softflowd), {} records -> {} conns (engine {}): packets and IP bytes agree",
                want.len(),
                st.flow_records,
                got_conns.len(),
                want_conns.len()
            );
        }
    }
}
