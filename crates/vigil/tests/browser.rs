//! Browser test of the dashboard: a simulated site hunted by `vigil demo` into a fresh store, an
//! admin account made with `vigil user add`, `vigil serve` on a loopback port, then headless
//! Chromium (Debian's, driven by playwright-core from `crates/vigil-web/e2e`) logs in, opens a
//! beacon finding, acknowledges it, exports its report, takes the screenshots under
//! `docs/screenshots/` and logs out. Skips with a reason when node, Chromium or the e2e
//! packages are absent, unless VIGIL_REQUIRE_TOOLS=1.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn require_tools() -> bool {
    std::env::var("VIGIL_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

fn missing(what: &str) {
    if require_tools() {
        panic!("{what} (VIGIL_REQUIRE_TOOLS=1)");
    }
    println!("{what}; skipping the browser test");
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn browser_logs_in_acknowledges_a_beacon_and_exports_its_report() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let e2e = root().join("crates/vigil-web/e2e");
    if !Path::new(&chromium).exists() {
        return missing(&format!("chromium not found at {chromium}"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return missing("node not found");
    }
    if !e2e.join("node_modules/playwright-core").exists() {
        return missing(&format!("playwright-core not installed (run `npm ci` in {})", e2e.display()));
    }
    let vigil = env!("CARGO_BIN_EXE_vigil");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");

    // Findings from the real pipeline: simulate, hunt, store.
    let demo = Command::new(vigil)
        .args(["demo", "--days", "3", "--scale", "0.3", "--format", "jsonl", "--data"])
        .arg(&data)
        .arg("--output")
        .arg(tmp.path().join("demo"))
        .output()
        .unwrap();
    assert!(demo.status.success(), "demo: {}", String::from_utf8_lossy(&demo.stderr));
    let findings = String::from_utf8_lossy(&demo.stdout);
    assert!(findings.lines().any(|l| l.contains("\"kind\":\"beacon\"")), "the demo finds a beacon");

    // The password goes through standard input, never the command line.
    let password = "browser-test-password";
    let mut add = Command::new(vigil)
        .args(["user", "add", "duty", "--role", "analyst", "--password-stdin", "--data"])
        .arg(&data)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    assert!(add.wait().unwrap().success());

    let mut child =
        Command::new(vigil).args(["serve", "--listen", "127.0.0.1:0", "--data"]).arg(&data).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stderr).read_line(&mut line).unwrap();
    let url = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .map(|hp| format!("http://{hp}"))
        .unwrap_or_else(|| panic!("no address in {line:?}"));

    let shots = root().join("docs/screenshots");
    let started = Instant::now();
    let out = Command::new("node")
        .arg("e2e.mjs")
        .current_dir(&e2e)
        .env("VIGIL_URL", &url)
        .env("VIGIL_USER", "duty")
        .env("VIGIL_PASSWORD", password)
        .env("VIGIL_SCREENSHOTS", &shots)
        .env("VIGIL_OUT", tmp.path())
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "e2e failed after {:?}:\n{stdout}\n{}", started.elapsed(), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("\"status\":\"acknowledged\""), "{stdout}");
    assert!(started.elapsed() < Duration::from_secs(600));

    // The triage the browser made is in the store, with its audit entry.
    drop(server);
    let s = vigil_store::Store::open(&data).unwrap();
    let acked: Vec<_> = s.findings(None, None).unwrap().into_iter().filter(|f| f.status == "acknowledged").collect();
    assert_eq!(acked.len(), 1);
    assert_eq!(acked[0].finding.kind, vigil_model::FindingKind::Beacon);
    let log = s.audit_log(Some(&acked[0].finding.id), 10).unwrap();
    assert!(log.iter().any(|a| a.user == "duty" && a.action == "triage"), "{log:?}");
    assert!(log.iter().any(|a| a.action == "export.report"));
    for shot in ["login.png", "overview.png", "findings.png", "finding.png", "report.png", "hosts.png", "exposure.png"] {
        assert!(std::fs::metadata(shots.join(shot)).is_ok_and(|m| m.len() > 1000), "{shot}");
    }
}
