//! Real Debian servers on loopback (openssh-server, nginx, redis-server): Vigil must name each
//! product and version as the binary itself reports it (`sshd -V`, `nginx -v`,
//! `redis-server --version`). Skips with a reason when a binary is absent, unless
//! VIGIL_REQUIRE_TOOLS=1.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vigil_exposure::probe::{ProbeConfig, TcpConnector};
use vigil_exposure::recog::Recog;
use vigil_exposure::scan::{ScanConfig, scan};
use vigil_exposure::scope::{Scope, SystemResolver};

fn find(bin: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':').chain(["/usr/sbin", "/usr/bin", "/sbin"]).map(|d| Path::new(d).join(bin)).find(|p| p.is_file())
}

fn require(bin: &str) -> Option<PathBuf> {
    let p = find(bin);
    if p.is_none() {
        if std::env::var("VIGIL_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{bin} not found and VIGIL_REQUIRE_TOOLS=1");
        }
        println!("{bin} not found; skipping its live check (apt-get install openssh-server nginx redis-server)");
    }
    p
}

fn free_port(ip: &str) -> u16 {
    TcpListener::bind((ip, 0)).unwrap().local_addr().unwrap().port()
}

fn wait_up(addr: SocketAddr) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(15) {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn output_text(bin: &Path, args: &[&str]) -> String {
    let o = Command::new(bin).args(args).output().unwrap();
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// OpenSSH's full upstream version: from dpkg when present, else `sshd -V`.
fn upstream_openssh(sshd: &Path) -> String {
    if let Ok(o) = Command::new("dpkg-query").args(["-W", "-f=${Version}", "openssh-server"]).output()
        && o.status.success()
    {
        let v = String::from_utf8_lossy(&o.stdout).to_string();
        let v = v.split_once(':').map_or(v.as_str(), |(_, r)| r);
        let up = v.split('-').next().unwrap_or(v).to_string();
        if !up.is_empty() {
            return up;
        }
    }
    after(&output_text(sshd, &["-V"]), "OpenSSH_")
}

/// The token after `prefix` up to a space or comma.
fn after(text: &str, prefix: &str) -> String {
    let i = text.find(prefix).unwrap_or_else(|| panic!("{prefix:?} not in {text:?}")) + prefix.len();
    text[i..].chars().take_while(|c| !c.is_whitespace() && *c != ',').collect()
}

#[test]
fn names_real_servers_and_their_versions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut children = Vec::new();
    // (address, expected product, expected version, expected distro present)
    let mut expect: Vec<(SocketAddr, &str, String)> = Vec::new();

    if let (Some(sshd), Some(keygen)) = (require("sshd"), require("ssh-keygen")) {
        let ip = "127.55.0.1";
        let port = free_port(ip);
        let key = d.join("hostkey");
        assert!(Command::new(keygen).args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap().success());
        let _ = std::fs::create_dir_all("/run/sshd");
        let conf = d.join("sshd_config");
        std::fs::write(&conf, format!("Port {port}\nListenAddress {ip}\nHostKey {}\nPidFile {}\nUsePAM no\nStrictModes no\n", key.display(), d.join("sshd.pid").display())).unwrap();
        let child = Command::new(&sshd).arg("-D").arg("-e").arg("-f").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        children.push(Kill(child));
        // `sshd -V` prints the upstream release ("OpenSSH_9.2, OpenSSL …"); the portable patch
        // level is in the package version ("1:9.2p1-2+deb12u3"), which is the exact truth.
        let v = upstream_openssh(&sshd);
        let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
        assert!(wait_up(addr), "sshd did not start");
        expect.push((addr, "OpenSSH", v));
    }
    if let Some(nginx) = require("nginx") {
        let ip = "127.55.0.2";
        let port = free_port(ip);
        std::fs::create_dir_all(d.join("logs")).unwrap();
        let conf = d.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "daemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\nevents {{}}\nhttp {{\n access_log off;\n client_body_temp_path {p}/cb; proxy_temp_path {p}/px; fastcgi_temp_path {p}/fc; uwsgi_temp_path {p}/uw; scgi_temp_path {p}/sc;\n server {{ listen {ip}:{port}; location / {{ default_type text/html; return 200 \"<html><head><title>Vigil live test</title></head></html>\"; }} }}\n}}\n",
                p = d.display()
            ),
        )
        .unwrap();
        let child = Command::new(&nginx).arg("-p").arg(d).arg("-c").arg(&conf).arg("-e").arg(d.join("logs/error.log")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        children.push(Kill(child));
        let v = after(&output_text(&nginx, &["-v"]), "nginx/");
        let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
        assert!(wait_up(addr), "nginx did not start");
        expect.push((addr, "nginx", v));
    }
    if let Some(redis) = require("redis-server") {
        let ip = "127.55.0.3";
        let port = free_port(ip);
        let child = Command::new(&redis)
            .args(["--port", &port.to_string(), "--bind", ip, "--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir"])
            .arg(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        children.push(Kill(child));
        let v = after(&output_text(&redis, &["--version"]), "v=");
        let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
        assert!(wait_up(addr), "redis did not start");
        expect.push((addr, "Redis", v));
    }
    if expect.is_empty() {
        return;
    }
    let scope_text: String = expect.iter().map(|(a, _, _)| format!("{} ports={}\n", a.ip(), a.port())).collect();
    let scope = Scope::parse(&scope_text, &[], &SystemResolver).unwrap();
    let cfg = ScanConfig {
        concurrency: 4,
        rate: 0.0,
        retries: 1,
        probe: ProbeConfig { banner_wait: Duration::from_millis(1500), read_timeout: Duration::from_secs(3), ..Default::default() },
        ..Default::default()
    };
    let out = scan(&scope, &scope.targets(), &HashMap::new(), &TcpConnector, &Recog::bundled(), &cfg, &|_, _| {}).unwrap();
    println!("scan: {} open in {:.2}s, {} connections", out.open, out.elapsed.as_secs_f64(), out.connections);
    for (addr, product, version) in &expect {
        let s = out.services.iter().find(|s| s.ip == Some(addr.ip()) && s.port == addr.port()).unwrap_or_else(|| panic!("{addr} not found: {:#?}", out.services));
        println!("{addr}: {:?} {:?} {:?} cpe={:?} distro={:?}", s.service, s.product, s.version, s.cpe, s.distro);
        assert_eq!(s.product.as_deref(), Some(*product), "{addr}: {s:#?}");
        let got = s.version.as_deref().unwrap_or("");
        // Without dpkg, `sshd -V` lacks the portable suffix: 9.2 vs 9.2p1 is the same release.
        let same = got == version || (*product == "OpenSSH" && vigil_exposure::version::split_update(got).0 == *version);
        assert!(same, "{addr}: got {got:?}, the binary says {version:?}: {s:#?}");
        assert!(s.cpe.is_some(), "{addr}: a CPE name");
        if *product == "nginx" {
            assert_eq!(s.http_title.as_deref(), Some("Vigil live test"));
        }
        if *product == "Redis" {
            assert!(s.no_auth, "redis without a password must be reported as such");
        }
    }
}
