//! Real Debian servers on loopback addresses (127.55.0.x, random non-standard ports, configs in a
//! temp dir): openssh-server, nginx (plain and TLS-1.3-only HTTPS), apache2, vsftpd, postfix,
//! redis-server and mariadb-server. Vigil must name each product and the upstream version that
//! `dpkg-query -W` reports for its package (falling back to the binary's own `-v` output where
//! dpkg is absent), read page titles (also over HTTPS, and in the charset the page declares),
//! and report TLS certificate details.
//!
//! Each server is skipped with a printed reason when its binary is absent, unless
//! `VIGIL_REQUIRE_TOOLS=1` (CI), where an absent server is a failure.
//!
//! With `VIGIL_BENCH_NMAP=1` (set by `bench/exposure_vs_nmap.sh`) the same run also scans the
//! same targets with `nmap -sV` and prints identification agreement and both scan times (a
//! measurement, so nothing is asserted about time).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vigil_exposure::Service;
use vigil_exposure::probe::{ProbeConfig, TcpConnector};
use vigil_exposure::recog::Recog;
use vigil_exposure::scan::{ScanConfig, scan};
use vigil_exposure::scope::{Scope, SystemResolver};

fn find(bin: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':').chain(["/usr/sbin", "/usr/bin", "/sbin"]).map(|d| Path::new(d).join(bin)).find(|p| p.is_file())
}

fn require(bin: &str, pkg: &str) -> Option<PathBuf> {
    let p = find(bin);
    if p.is_none() {
        if std::env::var("VIGIL_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{bin} not found and VIGIL_REQUIRE_TOOLS=1 (apt-get install {pkg})");
        }
        println!("{bin} not found; skipping its live check (apt-get install {pkg})");
    }
    p
}

fn free_port(ip: &str) -> u16 {
    TcpListener::bind((ip, 0)).unwrap().local_addr().unwrap().port()
}

fn wait_up(addr: SocketAddr, secs: u64) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// A server process, stopped on drop (by `stop` when given — postfix's master — else killed).
struct Proc {
    child: Child,
    stop: Option<Command>,
}
impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.stop.take() {
            let _ = c.stdout(Stdio::null()).stderr(Stdio::null()).status();
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

fn output_text(bin: &Path, args: &[&str]) -> String {
    let o = Command::new(bin).args(args).output().unwrap();
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The upstream version of an installed Debian package: `1:9.2p1-2+deb12u3` → `9.2p1`
/// (epoch and Debian revision dropped).
fn dpkg_upstream(pkg: &str) -> Option<String> {
    let o = Command::new("dpkg-query").args(["-W", "-f=${Version}", pkg]).output().ok()?;
    if !o.status.success() {
        return None;
    }
    let v = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let v = v.split_once(':').map_or(v.as_str(), |(_, r)| r);
    let up = v.rsplit_once('-').map_or(v, |(u, _)| u);
    // Repacks keep the upstream number before `+dfsg`/`~`.
    let up = up.split(['+', '~']).next().unwrap_or(up).to_string();
    (!up.is_empty()).then_some(up)
}

/// The token after `prefix` up to a space or comma.
fn after(text: &str, prefix: &str) -> String {
    let i = text.find(prefix).unwrap_or_else(|| panic!("{prefix:?} not in {text:?}")) + prefix.len();
    text[i..].chars().take_while(|c| !c.is_whitespace() && *c != ',').collect()
}

/// What a server must be identified as.
struct Expect {
    addr: SocketAddr,
    product: &'static str,
    /// None: the service does not disclose a version, and Vigil must not invent one.
    version: Option<String>,
    title: Option<&'static str>,
    check: fn(&Service),
}

fn no_check(_: &Service) {}

/// Starts every available server; the processes live as long as the returned guards.
fn start_servers(d: &Path) -> (Vec<Proc>, Vec<Expect>) {
    // Servers that drop privileges (apache, postfix, mariadb) must read their files.
    let _ = Command::new("chmod").arg("755").arg(d).status();
    let mut procs = Vec::new();
    let mut expect = Vec::new();

    if let (Some(sshd), Some(keygen)) = (require("sshd", "openssh-server"), require("ssh-keygen", "openssh-client")) {
        let ip = "127.55.0.1";
        let port = free_port(ip);
        let key = d.join("hostkey");
        assert!(Command::new(keygen).args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap().success());
        let _ = std::fs::create_dir_all("/run/sshd");
        let conf = d.join("sshd_config");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListenAddress {ip}\nHostKey {}\nPidFile {}\nUsePAM no\nStrictModes no\n",
                key.display(),
                d.join("sshd.pid").display()
            ),
        )
        .unwrap();
        procs.push(Proc { child: spawn(Command::new(&sshd).arg("-D").arg("-e").arg("-f").arg(&conf)), stop: None });
        // `sshd -V` prints the upstream release ("OpenSSH_9.2"); the portable patch level is in
        // the package version ("1:9.2p1-2+deb12u3"), which is the exact truth.
        let v = dpkg_upstream("openssh-server").unwrap_or_else(|| after(&output_text(&sshd, &["-V"]), "OpenSSH_"));
        expect.push(Expect {
            addr: format!("{ip}:{port}").parse().unwrap(),
            product: "OpenSSH",
            version: Some(v),
            title: None,
            check: no_check,
        });
    }
    if let (Some(nginx), Some(openssl)) = (require("nginx", "nginx"), require("openssl", "openssl")) {
        let ip = "127.55.0.2";
        let (port, tls_port) = (free_port(ip), free_port(ip));
        // A self-signed certificate with a SAN, served TLS-1.3-only: its certificate is
        // encrypted on the wire, so only a full handshake can report it.
        let ok = Command::new(openssl)
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "30",
                "-subj",
                "/CN=portal.vigil.test/O=Vigil Test",
            ])
            .args(["-addext", "subjectAltName=DNS:portal.vigil.test,DNS:vpn.vigil.test", "-keyout"])
            .arg(d.join("tls.key"))
            .arg("-out")
            .arg(d.join("tls.crt"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "openssl req failed");
        std::fs::create_dir_all(d.join("logs")).unwrap();
        let conf = d.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "daemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\nevents {{}}\nhttp {{\n access_log off;\n client_body_temp_path {p}/cb; proxy_temp_path {p}/px; fastcgi_temp_path {p}/fc; uwsgi_temp_path {p}/uw; scgi_temp_path {p}/sc;\n server {{ listen {ip}:{port}; location / {{ default_type text/html; return 200 \"<html><head><title>Vigil live test</title></head></html>\"; }} }}\n server {{ listen {ip}:{tls_port} ssl; ssl_certificate {p}/tls.crt; ssl_certificate_key {p}/tls.key; ssl_protocols TLSv1.3; location / {{ default_type text/html; return 200 \"<html><head><title>Vigil &amp; HTTPS</title></head></html>\"; }} }}\n}}\n",
                p = d.display()
            ),
        )
        .unwrap();
        procs.push(Proc {
            child: spawn(Command::new(&nginx).arg("-p").arg(d).arg("-c").arg(&conf).arg("-e").arg(d.join("logs/error.log"))),
            stop: None,
        });
        let v = dpkg_upstream("nginx").unwrap_or_else(|| after(&output_text(&nginx, &["-v"]), "nginx/"));
        expect.push(Expect {
            addr: format!("{ip}:{port}").parse().unwrap(),
            product: "nginx",
            version: Some(v.clone()),
            title: Some("Vigil live test"),
            check: no_check,
        });
        expect.push(Expect {
            addr: format!("{ip}:{tls_port}").parse().unwrap(),
            product: "nginx",
            version: Some(v),
            title: Some("Vigil & HTTPS"),
            check: |s| {
                assert_eq!(s.service.as_deref(), Some("https"), "{s:#?}");
                assert!(s.tls);
                assert_eq!(s.tls_version.as_deref(), Some("TLS 1.3"), "{s:#?}");
                assert!(s.tls_cipher.as_deref().is_some_and(|c| c.starts_with("TLS13_")), "{s:#?}");
                assert!(s.cert_subject.as_deref().is_some_and(|c| c.contains("CN=portal.vigil.test")), "{s:#?}");
                assert_eq!(s.cert_san, vec!["portal.vigil.test".to_string(), "vpn.vigil.test".to_string()]);
                assert!(s.cert_self_signed && !s.cert_expired, "{s:#?}");
                assert!(s.cert_key.as_deref().is_some_and(|k| k.ends_with(" 256")), "{s:#?}");
                assert_eq!(s.cert_sha256.as_deref().map(str::len), Some(64));
                assert!(s.cert_not_before.is_some() && s.cert_not_after.is_some());
            },
        });
    }
    if let Some(apache) = require("apache2", "apache2") {
        let ip = "127.55.0.4";
        let port = free_port(ip);
        let www = d.join("www");
        std::fs::create_dir_all(&www).unwrap();
        // A GBK page (as many Chinese institutions' sites are) whose title also carries an
        // escape sequence: decoded by its declared charset, and the ESC escaped.
        let mut page = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gbk\"><title>".to_vec();
        page.extend_from_slice(&[0xd6, 0xd0, 0xce, 0xc4]); // 中文 in GBK
        page.extend_from_slice(b" \x1b[31m</title></head></html>");
        std::fs::write(www.join("index.html"), page).unwrap();
        let m = "/usr/lib/apache2/modules";
        let conf = d.join("httpd.conf");
        std::fs::write(
            &conf,
            format!(
                "ServerRoot {p}\nLoadModule mpm_event_module {m}/mod_mpm_event.so\nLoadModule authz_core_module {m}/mod_authz_core.so\nLoadModule dir_module {m}/mod_dir.so\nListen {ip}:{port}\nServerName www.vigil.test\nPidFile {p}/apache.pid\nDefaultRuntimeDir {p}\nErrorLog {p}/apache-error.log\nDocumentRoot {w}\nDirectoryIndex index.html\nUser www-data\nGroup www-data\n",
                p = d.display(),
                w = www.display()
            ),
        )
        .unwrap();
        procs.push(Proc { child: spawn(Command::new(&apache).arg("-X").arg("-f").arg(&conf)), stop: None });
        let v = dpkg_upstream("apache2").unwrap_or_else(|| after(&output_text(&apache, &["-v"]), "Apache/"));
        expect.push(Expect {
            addr: format!("{ip}:{port}").parse().unwrap(),
            product: "Apache HTTPD",
            version: Some(v),
            title: Some("中文 \\u{1b}[31m"),
            check: |s| assert!(s.distro.as_deref() == Some("Debian"), "{s:#?}"),
        });
    }
    if let Some(vsftpd) = require("vsftpd", "vsftpd") {
        let ip = "127.55.0.5";
        let port = free_port(ip);
        let _ = std::fs::create_dir_all("/var/run/vsftpd/empty");
        let conf = d.join("vsftpd.conf");
        std::fs::write(
            &conf,
            format!(
                "listen=YES\nlisten_ipv6=NO\nlisten_address={ip}\nlisten_port={port}\nbackground=NO\nanonymous_enable=YES\nanon_root=/var/run/vsftpd/empty\nlocal_enable=NO\nwrite_enable=NO\nseccomp_sandbox=NO\nsecure_chroot_dir=/var/run/vsftpd/empty\nxferlog_enable=NO\n"
            ),
        )
        .unwrap();
        procs.push(Proc { child: spawn(Command::new(&vsftpd).arg(&conf)), stop: None });
        let v = dpkg_upstream("vsftpd").unwrap_or_else(|| after(&output_text(&vsftpd, &["-v"]), "version "));
        expect.push(Expect {
            addr: format!("{ip}:{port}").parse().unwrap(),
            product: "vsftpd",
            version: Some(v),
            title: None,
            check: no_check,
        });
    }
    if let Some(postfix) = require("postfix", "postfix") {
        let ip = "127.55.0.6";
        let (port, port_v) = (free_port(ip), free_port(ip));
        let conf = d.join("postfix");
        for sub in ["postfix", "pfqueue", "pfdata"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let _ = Command::new("chown").arg("postfix").arg(d.join("pfdata")).status();
        // Debian's own banner, and a site that configured the version into it.
        let banner = std::fs::read_to_string("/etc/postfix/main.cf")
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| l.strip_prefix("smtpd_banner").map(|r| r.trim_start_matches([' ', '=']).trim().to_string()))
            })
            .unwrap_or_else(|| "$myhostname ESMTP $mail_name (Debian/GNU)".into());
        // No reverse-DNS lookup of the client: on a machine without a resolver it delays the
        // banner by seconds, for every scanner alike (nmap scans the same server).
        std::fs::write(
            conf.join("main.cf"),
            format!(
                "compatibility_level = 3.6\nqueue_directory = {p}/pfqueue\ndata_directory = {p}/pfdata\ninet_interfaces = loopback-only\ninet_protocols = ipv4\nmyhostname = mx.vigil.test\nmydestination =\nsmtpd_banner = {banner}\nsmtpd_peername_lookup = no\nmaillog_file_prefixes = {p}\nmaillog_file = {p}/maillog\n",
                p = d.display()
            ),
        )
        .unwrap();
        let master = std::fs::read_to_string("/etc/postfix/master.cf").unwrap_or_default();
        let mut m: String =
            master.lines().filter(|l| !l.starts_with("smtp ") && !l.starts_with("smtp\t")).map(|l| format!("{l}\n")).collect();
        m.push_str(&format!("{ip}:{port} inet n - n - - smtpd\n{ip}:{port_v} inet n - n - - smtpd -o {{ smtpd_banner = $myhostname ESMTP $mail_name $mail_version }}\n"));
        std::fs::write(conf.join("master.cf"), m).unwrap();
        let child = spawn(Command::new(&postfix).arg("-c").arg(&conf).arg("start-fg"));
        let mut stop = Command::new(&postfix);
        stop.arg("-c").arg(&conf).arg("stop");
        procs.push(Proc { child, stop: Some(stop) });
        let v = dpkg_upstream("postfix")
            .unwrap_or_else(|| output_text(Path::new("/usr/sbin/postconf"), &["-h", "mail_version"]).trim().to_string());
        // The default banner names no version: Vigil must not make one up.
        expect.push(Expect {
            addr: format!("{ip}:{port}").parse().unwrap(),
            product: "Postfix",
            version: None,
            title: None,
            check: no_check,
        });
        expect.push(Expect {
            addr: format!("{ip}:{port_v}").parse().unwrap(),
            product: "Postfix",
            version: Some(v),
            title: None,
            check: no_check,
        });
    }
    if let Some(redis) = require("redis-server", "redis-server") {
        let ip = "127.55.0.3";
        let port = free_port(ip);
        procs.push(Proc {
            child: spawn(
                Command::new(&redis)
                    .args([
                        "--port",
                        &port.to_string(),
                        "--bind",
                        ip,
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--protected-mode",
                        "no",
                        "--dir",
                    ])
                    .arg(d),
            ),
            stop: None,
        });
        let v = dpkg_upstream("redis-server").unwrap_or_else(|| after(&output_text(&redis, &["--version"]), "v="));
        expect.push(Expect {
            addr: format!("{ip}:{port}").parse().unwrap(),
            product: "Redis",
            version: Some(v),
            title: None,
            check: |s| assert!(s.no_auth, "redis without a password: {s:#?}"),
        });
    }
    if let (Some(install), Some(mariadbd)) = (require("mariadb-install-db", "mariadb-server"), require("mariadbd", "mariadb-server")) {
        let ip = "127.55.0.7";
        let port = free_port(ip);
        let data = d.join("mariadb");
        let st = Command::new(install)
            .args(["--no-defaults", "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db"])
            .arg(format!("--datadir={}", data.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "mariadb-install-db failed");
        procs.push(Proc {
            child: spawn(
                Command::new(&mariadbd)
                    .args(["--no-defaults", "--user=root", "--skip-log-bin", "--innodb-buffer-pool-size=16M"])
                    .arg(format!("--datadir={}", data.display()))
                    .arg(format!("--socket={}", d.join("mariadb.sock").display()))
                    .arg(format!("--pid-file={}", d.join("mariadb.pid").display()))
                    .arg(format!("--log-error={}", d.join("mariadb.err").display()))
                    .arg(format!("--port={port}"))
                    .arg(format!("--bind-address={ip}")),
            ),
            stop: None,
        });
        let v = dpkg_upstream("mariadb-server").unwrap_or_else(|| after(&output_text(&mariadbd, &["--version"]), "Ver "));
        expect.push(Expect {
            addr: format!("{ip}:{port}").parse().unwrap(),
            product: "MariaDB",
            version: Some(v),
            title: None,
            check: |s| assert!(s.distro.is_some(), "{s:#?}"),
        });
    }
    for e in &expect {
        assert!(wait_up(e.addr, 30), "{} ({}) did not start", e.addr, e.product);
    }
    (procs, expect)
}

#[test]
fn names_real_servers_and_their_versions() {
    let dir = tempfile::tempdir().unwrap();
    let (_procs, expect) = start_servers(dir.path());
    if expect.is_empty() {
        return;
    }
    let scope_text: String = expect.iter().map(|e| format!("{} ports={}\n", e.addr.ip(), e.addr.port())).collect();
    let scope = Scope::parse(&scope_text, &[], &SystemResolver).unwrap();
    // The CLI's defaults, except no rate limit (loopback).
    let cfg = ScanConfig { rate: 0.0, probe: ProbeConfig::default(), ..Default::default() };
    let out = scan(&scope, &scope.targets(), &Default::default(), &TcpConnector, &Recog::bundled(), &cfg, &|_, _| {}).unwrap();
    println!("scan: {} open in {:.2}s, {} connections", out.open, out.elapsed.as_secs_f64(), out.connections);
    if std::env::var("VIGIL_BENCH_NMAP").as_deref() == Ok("1") {
        // Per target, each in its own scan at once: where the time goes.
        std::thread::scope(|sc| {
            for e in &expect {
                let (scope, cfg) = (&scope, &cfg);
                sc.spawn(move || {
                    let one = scan(scope, &[e.addr], &Default::default(), &TcpConnector, &Recog::bundled(), cfg, &|_, _| {}).unwrap();
                    println!("per-target: {} {} {:.2}s", e.addr, e.product, one.elapsed.as_secs_f64());
                });
            }
        });
        compare_with_nmap(&expect, &out.services, out.elapsed.as_secs_f64());
    }
    for e in &expect {
        let s = out
            .services
            .iter()
            .find(|s| s.ip == Some(e.addr.ip()) && s.port == e.addr.port())
            .unwrap_or_else(|| panic!("{} not found: {:#?}", e.addr, out.services));
        println!(
            "{}: {:?} {:?} {:?} cpe={:?} distro={:?} title={:?}",
            e.addr, s.service, s.product, s.version, s.cpe, s.distro, s.http_title
        );
        assert_eq!(s.product.as_deref(), Some(e.product), "{}: {s:#?}", e.addr);
        let got = s.version.as_deref();
        match &e.version {
            Some(v) => {
                let got = got.unwrap_or("");
                // Without dpkg, `sshd -V` lacks the portable suffix: 9.2 vs 9.2p1 is the same release.
                let same = got == v || (e.product == "OpenSSH" && vigil_exposure::version::split_update(got).0 == *v);
                assert!(same, "{}: got {got:?}, the package says {v:?}: {s:#?}", e.addr);
                assert!(
                    s.cpe.as_deref().is_some_and(|c| c.contains(&format!(":{}:", vigil_exposure::version::split_update(got).0))),
                    "{}: a versioned CPE: {:?}",
                    e.addr,
                    s.cpe
                );
            }
            None => assert_eq!(got, None, "{}: no version is disclosed, none may be claimed", e.addr),
        }
        assert!(s.cpe.is_some(), "{}: a CPE name", e.addr);
        assert_eq!(s.http_title.as_deref(), e.title, "{}", e.addr);
        (e.check)(s);
    }
}

/// The CPE product part (`cpe:2.3:a:apache:http_server:…` → `http_server`), for comparing
/// names across tools that spell vendors differently (nginx: f5 / igor_sysoev).
fn cpe_product(s: &Service) -> String {
    s.cpe.as_deref().and_then(vigil_exposure::cpe::Cpe::parse).map(|c| c.product).unwrap_or_default()
}

fn same_product(a: &Service, b: &Service) -> bool {
    let (pa, pb) = (cpe_product(a), cpe_product(b));
    let (na, nb) = (a.product.as_deref().unwrap_or("").to_ascii_lowercase(), b.product.as_deref().unwrap_or("").to_ascii_lowercase());
    (!pa.is_empty() && pa == pb)
        || (!na.is_empty() && !nb.is_empty() && (na.contains(&nb) || nb.contains(&na) || na.split(' ').next() == nb.split(' ').next()))
}

/// `nmap -sV` on the same targets, one nmap per host, all at once (Vigil scans every host in
/// one run); prints a table and the agreement.
fn compare_with_nmap(expect: &[Expect], ours: &[Service], vigil_secs: f64) {
    let Some(nmap) = require("nmap", "nmap") else { return };
    let mut hosts: std::collections::BTreeMap<String, Vec<u16>> = Default::default();
    for e in expect {
        hosts.entry(e.addr.ip().to_string()).or_default().push(e.addr.port());
    }
    let start = Instant::now();
    let children: Vec<_> = hosts
        .iter()
        .map(|(ip, ports)| {
            let list = ports.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
            Command::new(&nmap)
                .args(["-sV", "-Pn", "-n", "-p", &list, ip, "-oX", "-"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut theirs = Vec::new();
    for c in children {
        let o = c.wait_with_output().unwrap();
        theirs.extend(vigil_exposure::import::import_scan(&o.stdout).map(|i| i.services).unwrap_or_default());
    }
    let nmap_secs = start.elapsed().as_secs_f64();
    let (mut agree, mut ver_ours, mut ver_nmap) = (0, 0, 0);
    println!("| target | truth (dpkg) | Vigil | nmap -sV |\n| --- | --- | --- | --- |");
    for e in expect {
        let o = ours.iter().find(|s| s.ip == Some(e.addr.ip()) && s.port == e.addr.port());
        let t = theirs.iter().find(|s| s.ip == Some(e.addr.ip()) && s.port == e.addr.port());
        let show = |s: Option<&Service>| {
            s.map_or("-".to_string(), |s| {
                format!("{} {}", s.product.as_deref().unwrap_or("?"), s.version.as_deref().unwrap_or("")).trim().to_string()
            })
        };
        let truth = e.version.as_deref().unwrap_or("(not disclosed)");
        println!("| {} | {} {} | {} | {} |", e.addr, e.product, truth, show(o), show(t));
        if let (Some(o), Some(t)) = (o, t)
            && same_product(o, t)
        {
            agree += 1;
        }
        let exact = |s: Option<&Service>| {
            e.version
                .as_deref()
                .is_some_and(|v| s.and_then(|s| s.version.as_deref()).is_some_and(|got| got == v || got.starts_with(&format!("{v} "))))
        };
        ver_ours += usize::from(exact(o));
        ver_nmap += usize::from(exact(t));
    }
    let versioned = expect.iter().filter(|e| e.version.is_some()).count();
    println!(
        "agreement: same product on {agree}/{n} targets; exact upstream version: Vigil {ver_ours}/{versioned}, nmap {ver_nmap}/{versioned}; time: Vigil {vigil_secs:.2}s, nmap -sV {nmap_secs:.2}s (nmap/Vigil = {:.1}x); load {}",
        nmap_secs / vigil_secs.max(1e-3),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').take(3).collect::<Vec<_>>().join(" "),
        n = expect.len(),
    );
}
