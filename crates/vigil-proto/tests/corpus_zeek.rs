//! Agreement with Zeek's baseline logs (`pcaps/zeek/expected/<btest>/*.log`, traces listed in
//! `INDEX.tsv`): conn.log `service`, dns.log, ssl.log, ssh.log and http.log fields that
//! `AppSession` produces are compared row by row (rows are joined on the connection 4-tuple,
//! plus trans_id and query for DNS, plus order for HTTP).

mod common;

use common::Flow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

/// A Zeek TSV log as rows of column name → value.
fn read_log(path: &Path) -> Vec<HashMap<String, String>> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let mut fields: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = f.split('\t').map(str::to_string).collect();
            continue;
        }
        if line.starts_with('#') || fields.is_empty() {
            continue;
        }
        rows.push(fields.iter().cloned().zip(line.split('\t').map(str::to_string)).collect());
    }
    rows
}

fn tuple(r: &HashMap<String, String>) -> Option<(IpAddr, u16, IpAddr, u16)> {
    Some((
        r.get("id.orig_h")?.parse().ok()?,
        r.get("id.orig_p")?.parse().ok()?,
        r.get("id.resp_h")?.parse().ok()?,
        r.get("id.resp_p")?.parse().ok()?,
    ))
}

fn find(flows: &[Flow], t: (IpAddr, u16, IpAddr, u16)) -> Option<&Flow> {
    flows.iter().find(|f| f.orig == (t.0, t.1) && f.resp == (t.2, t.3))
}

fn opt(v: Option<impl ToString>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

fn list(v: &[String]) -> String {
    if v.is_empty() { "-".into() } else { v.join(",") }
}

fn tf(b: bool) -> String {
    if b { "T".into() } else { "F".into() }
}

fn tls_version(v: u16) -> String {
    match v {
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv10".into(),
        0x0302 => "TLSv11".into(),
        0x0303 => "TLSv12".into(),
        0x0304 => "TLSv13".into(),
        0x7f00..=0x7fff => format!("TLSv13-draft{}", v & 0xff),
        _ => format!("unknown-{v}"),
    }
}

fn curve(c: u16) -> String {
    match c {
        0x17 => "secp256r1".into(),
        0x18 => "secp384r1".into(),
        0x19 => "secp521r1".into(),
        0x1d => "x25519".into(),
        0x1e => "x448".into(),
        0x6399 => "X25519Kyber768Draft00".into(),
        0x11ec => "X25519MLKEM768".into(),
        _ => format!("unknown-{c}"),
    }
}

#[derive(Default)]
struct Tally {
    compared: usize,
    agreed: usize,
    diffs: Vec<String>,
}

impl Tally {
    fn cmp(&mut self, what: &str, want: &str, got: &str) {
        self.compared += 1;
        if want == got {
            self.agreed += 1;
        } else {
            self.diffs.push(format!("{what}: zeek {want:?} vigil {got:?}"));
        }
    }
}

#[test]
fn zeek_baselines_agree() {
    let Some(data) = common::shared_data() else { return };
    let root = data.join("pcaps/zeek");
    let index = std::fs::read_to_string(root.join("expected/INDEX.tsv")).unwrap();
    let mut t = Tally::default();
    let mut rows_without_flow = 0;
    for line in index.lines().filter(|l| !l.starts_with('#')) {
        let mut cols = line.split('\t');
        let (Some(dir), Some(traces)) = (cols.next(), cols.next()) else { continue };
        let exp = root.join("expected").join(dir);
        let flows: Vec<Flow> = traces.split(',').map(|tr| root.join(tr)).filter(|p| p.exists()).flat_map(|p| common::analyse(&p)).collect();
        if flows.is_empty() {
            continue;
        }
        let ours = ["dns", "http", "ssl", "ssh", "quic,ssl"];
        for r in read_log(&exp.join("conn.log")) {
            let (Some(tp), Some(svc)) = (tuple(&r), r.get("service")) else { continue };
            if !ours.contains(&svc.as_str()) {
                continue;
            }
            match find(&flows, tp) {
                Some(f) => t.cmp(&format!("{dir} conn {tp:?} service"), svc, &opt(f.service.clone())),
                None => rows_without_flow += 1,
            }
        }
        for r in read_log(&exp.join("dns.log")) {
            let Some(tp) = tuple(&r) else { continue };
            let Some(f) = find(&flows, tp) else {
                rows_without_flow += 1;
                continue;
            };
            let g = |k: &str| r.get(k).cloned().unwrap_or_default();
            let txn = f.meta.dns.iter().find(|d| d.trans_id.to_string() == g("trans_id") && opt(d.query.clone()) == g("query"));
            let Some(d) = txn else {
                t.cmp(&format!("{dir} dns {tp:?} txn {}", g("trans_id")), &g("query"), "<no such transaction>");
                continue;
            };
            let w = format!("{dir} dns {tp:?} {}", g("query"));
            t.cmp(&format!("{w} qtype"), &g("qtype"), &opt(d.qtype));
            t.cmp(&format!("{w} rcode"), &g("rcode"), &opt(d.rcode));
            t.cmp(
                &format!("{w} flags"),
                &format!("{}{}{}{}", g("AA"), g("TC"), g("RD"), g("RA")),
                &format!("{}{}{}{}", tf(d.aa), tf(d.tc), tf(d.rd), tf(d.ra)),
            );
            t.cmp(&format!("{w} Z"), &g("Z"), &d.z.to_string());
            t.cmp(&format!("{w} answers"), &g("answers"), &list(&d.answers));
            t.cmp(&format!("{w} rejected"), &g("rejected"), &tf(d.rejected));
        }
        for name in ["ssl.log", "ssl-out.log"] {
            for r in read_log(&exp.join(name)) {
                let Some(tp) = tuple(&r) else { continue };
                let Some(f) = find(&flows, tp) else {
                    rows_without_flow += 1;
                    continue;
                };
                let g = |k: &str| r.get(k).cloned().unwrap_or_default();
                let w = format!("{dir} ssl {tp:?}");
                let Some(tls) = f.meta.tls.as_deref() else {
                    t.cmp(&w, "ssl", "<no tls>");
                    continue;
                };
                t.cmp(&format!("{w} version"), &g("version"), &opt(tls.version.map(tls_version)));
                t.cmp(&format!("{w} curve"), &g("curve"), &opt(tls.curve.map(curve)));
                t.cmp(&format!("{w} server_name"), &g("server_name"), &opt(tls.server_name.clone()));
                t.cmp(&format!("{w} resumed"), &g("resumed"), &tf(tls.resumed));
                // Zeek's SSL analyzer never sees QUIC's 1-RTT packets, so it never marks a QUIC
                // handshake established; Vigil does once both sides send short-header packets.
                if !tls.quic {
                    t.cmp(&format!("{w} established"), &g("established"), &tf(tls.established));
                }
                if let Some(fps) = r.get("cert_chain_fps") {
                    let want = if fps == "(empty)" { "-".to_string() } else { fps.clone() };
                    t.cmp(&format!("{w} cert_chain_fps"), &want, &list(&tls.cert_chain_sha256));
                }
            }
        }
        // x509.log rows for the leaf certificates Vigil parsed (joined on the SHA-256).
        for r in read_log(&exp.join("x509.log")) {
            let g = |k: &str| r.get(k).cloned().unwrap_or_default();
            let fp = g("fingerprint");
            let Some(c) = flows.iter().filter_map(|f| f.meta.tls.as_ref()?.cert.as_ref()).find(|c| c.sha256 == fp) else {
                continue;
            };
            let w = format!("{dir} x509 {}", &fp[..fp.len().min(12)]);
            let secs = |t: Option<vigil_model::Timestamp>| t.map(|t| format!("{}.000000", t.secs())).unwrap_or_default();
            t.cmp(&format!("{w} serial"), &g("certificate.serial"), &c.serial);
            t.cmp(&format!("{w} subject"), &g("certificate.subject"), &c.subject);
            t.cmp(&format!("{w} issuer"), &g("certificate.issuer"), &c.issuer);
            t.cmp(&format!("{w} not_valid_before"), &g("certificate.not_valid_before"), &secs(c.not_before));
            t.cmp(&format!("{w} not_valid_after"), &g("certificate.not_valid_after"), &secs(c.not_after));
            t.cmp(&format!("{w} key_alg"), &g("certificate.key_alg"), &opt(c.key_alg.clone()));
            t.cmp(&format!("{w} key_length"), &g("certificate.key_length"), &opt(c.key_length));
            if let Some(san) = r.get("san.dns") {
                let want = if san == "(empty)" { "-".to_string() } else { san.clone() };
                t.cmp(&format!("{w} san.dns"), &want, &list(&c.san_dns));
            }
        }
        for r in read_log(&exp.join("ssh.log")) {
            let Some(tp) = tuple(&r) else { continue };
            let Some(f) = find(&flows, tp) else {
                rows_without_flow += 1;
                continue;
            };
            let g = |k: &str| r.get(k).cloned().unwrap_or_default();
            let w = format!("{dir} ssh {tp:?}");
            let Some(s) = f.meta.ssh.as_deref() else {
                t.cmp(&w, "ssh", "<no ssh>");
                continue;
            };
            t.cmp(&format!("{w} version"), &g("version"), &opt(s.version));
            t.cmp(&format!("{w} client"), &g("client"), &opt(s.client.clone()));
            t.cmp(&format!("{w} server"), &g("server"), &opt(s.server.clone()));
            t.cmp(&format!("{w} cipher_alg"), &g("cipher_alg"), &opt(s.cipher_alg.clone()));
            t.cmp(&format!("{w} mac_alg"), &g("mac_alg"), &opt(s.mac_alg.clone()));
            t.cmp(&format!("{w} kex_alg"), &g("kex_alg"), &opt(s.kex_alg.clone()));
            t.cmp(&format!("{w} host_key_alg"), &g("host_key_alg"), &opt(s.host_key_alg.clone()));
            t.cmp(&format!("{w} auth_success"), &g("auth_success"), &opt(s.auth_success.map(tf)));
            t.cmp(&format!("{w} auth_attempts"), &g("auth_attempts"), &s.auth_attempts.to_string());
        }
        for name in ["http.log", "http.log.cut"] {
            for r in read_log(&exp.join(name)) {
                let Some(tp) = tuple(&r) else { continue };
                let Some(f) = find(&flows, tp) else {
                    rows_without_flow += 1;
                    continue;
                };
                let g = |k: &str| r.get(k).cloned().unwrap_or_default();
                let depth: usize = g("trans_depth").parse().unwrap_or(1);
                let w = format!("{dir} http {tp:?} #{depth}");
                let Some(h) = f.meta.http.get(depth.saturating_sub(1)) else {
                    t.cmp(&w, "http", "<no such transaction>");
                    continue;
                };
                for (k, v) in [
                    ("method", opt(h.method.clone())),
                    ("host", opt(h.host.clone())),
                    ("uri", opt(h.uri.clone())),
                    ("referrer", opt(h.referrer.clone())),
                    ("version", opt(h.version.clone())),
                    ("user_agent", opt(h.user_agent.clone())),
                    ("request_body_len", h.request_body_len.to_string()),
                    ("response_body_len", h.response_body_len.to_string()),
                    ("status_code", opt(h.status_code)),
                    ("status_msg", opt(h.status_msg.clone())),
                ] {
                    if let Some(want) = r.get(k) {
                        t.cmp(&format!("{w} {k}"), want, &v);
                    }
                }
            }
        }
    }
    println!(
        "Zeek baselines: {}/{} fields agree ({} rows for connections not in the shipped traces)",
        t.agreed, t.compared, rows_without_flow
    );
    for d in &t.diffs {
        println!("  differs: {d}");
    }
    assert!(t.compared >= 100, "expected at least 100 comparable fields, found {}", t.compared);
    let rate = t.agreed as f64 / t.compared as f64;
    assert!(rate >= 0.97, "agreement {:.3} below 0.97", rate);
}
