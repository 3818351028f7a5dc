//! Agreement with Suricata-verify expectations (`pcaps/suricata-verify/*/test.yaml`): every
//! `tls.sni`, `tls.ja4`, `tls.ja3.hash`, `tls.ja3s.hash`, `quic.ja4`, `quic.sni` and DNS query
//! name that a test expects to be logged must be produced here, and none that a test expects
//! absent (`count: 0`).

mod common;

use common::Flow;

/// One `- filter:` block: its count and the `match:` fields we know how to check.
#[derive(Debug)]
struct Check {
    test: String,
    count: u64,
    event: String,
    fields: Vec<(String, String)>,
}

/// Field names (or prefixes, ending in '[') this test knows how to check.
const SUPPORTED: [&str; 31] = [
    "tls.sni",
    "tls.ja4",
    "tls.ja3.hash",
    "tls.ja3s.hash",
    "tls.version",
    "tls.subject",
    "tls.issuerdn",
    "tls.serial",
    "tls.notbefore",
    "tls.notafter",
    "tls.subjectaltname[",
    "quic.ja4",
    "quic.sni",
    "dns.rrname",
    "dns.queries[0].rrname",
    "dns.query[0].rrname",
    "http.hostname",
    "http.url",
    "http.http_method",
    "http.status",
    "http.http_user_agent",
    "http.http_content_type",
    "http.http_refer",
    "http.length",
    "http.protocol",
    "ssh.client.software_version",
    "ssh.server.software_version",
    "ssh.client.proto_version",
    "ssh.server.proto_version",
    "ssh.client.hassh.hash",
    "ssh.server.hassh.hash",
];

/// Disagreements we side against, with the reason (documented in docs/JA4.md).
/// A test name of "*" applies to every test.
const KNOWN: [(&str, &str, &str); 3] = [
    (
        "bug-5713-02-ja4",
        "tls.ja4",
        "Suricata appends '_' to the extension string of a hello without signature algorithms; the JA4 specification does not",
    ),
    ("dns-over-http2-post", "dns.queries[0].rrname", "DNS over HTTP/2 needs an HTTP/2 parser, which Vigil does not have"),
    ("*", "http.protocol", "Suricata logs the request's HTTP version; Vigil follows Zeek's http.log, which keeps the response's"),
];

fn unquote(s: &str) -> String {
    s.trim().trim_matches('"').trim_matches('\'').to_string()
}

/// A deliberately small reader for the regular layout of these files.
fn checks(test: &str, yaml: &str) -> Vec<Check> {
    let mut out = Vec::new();
    let mut cur: Option<Check> = None;
    // Whether the previous key line was a field we keep (only those can be continued).
    let mut last_kept = false;
    for line in yaml.lines() {
        let t = line.trim();
        if t.starts_with("- filter:") {
            out.extend(cur.take());
            cur = Some(Check { test: test.to_string(), count: 1, event: String::new(), fields: Vec::new() });
            continue;
        }
        let Some(c) = cur.as_mut() else { continue };
        if t.starts_with("- ") && !t.starts_with("- filter") {
            out.extend(cur.take());
            continue;
        }
        let Some((k, v)) = t.split_once(": ") else {
            // A folded plain scalar continues the previous value on the next line.
            if last_kept
                && !t.is_empty()
                && !t.ends_with(':')
                && !t.starts_with('#')
                && let Some(last) = c.fields.last_mut()
            {
                last.1.push(' ');
                last.1.push_str(&unquote(t));
            }
            continue;
        };
        last_kept = false;
        match k {
            "count" => c.count = v.trim().parse().unwrap_or(1),
            "event_type" => c.event = unquote(v),
            _ if SUPPORTED.iter().any(|f| k == *f || (f.ends_with('[') && k.starts_with(f))) => {
                c.fields.push((k.to_string(), unquote(v)));
                last_kept = true;
            }
            _ => {}
        }
    }
    out.extend(cur);
    out.into_iter().filter(|c| !c.fields.is_empty()).collect()
}

/// Suricata's name for a TLS version.
fn tls_version_name(v: u16) -> String {
    match v {
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv1".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        0x7f00..=0x7fff => format!("TLS 1.3 draft-{}", v & 0xff),
        _ => format!("{v:#06x}"),
    }
}

/// Our RFC 2253 name ("CN=a,O=b\\,c,C=US") in Suricata's order and spelling
/// ("C=US, O=b, c, CN=a").
fn suricata_dn(ours: &str) -> String {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut esc = false;
    for ch in ours.chars() {
        match (esc, ch) {
            (true, _) => {
                cur.push(ch);
                esc = false;
            }
            (false, '\\') => esc = true,
            (false, ',') => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    parts.push(cur);
    parts.reverse();
    parts.iter().map(|p| p.replacen("emailAddress=", "Email=", 1)).collect::<Vec<_>>().join(", ")
}

/// Every value the flow offers for a Suricata field.
fn values(f: &Flow, event: &str, field: &str) -> Vec<String> {
    // Suricata logs HTTP fields in both "http" and "fileinfo" events.
    let event = if event == "fileinfo" { "http" } else { event };
    let tls = f.meta.tls.as_deref().filter(|t| t.quic == (event == "quic"));
    let cert = tls.and_then(|t| t.cert.as_ref());
    let fmt_ts = |t: Option<vigil_model::Timestamp>| t.map(|t| t.to_utc().format("%Y-%m-%dT%H:%M:%S").to_string());
    let ssh = f.meta.ssh.as_deref();
    let proto_version = |b: Option<&String>| b.and_then(|b| b.strip_prefix("SSH-")).and_then(|v| v.split('-').next()).map(str::to_string);
    let software = |b: Option<&String>| {
        b.and_then(|b| b.strip_prefix("SSH-")).and_then(|v| v.split_once('-')).map(|(_, s)| s.split(' ').next().unwrap_or("").to_string())
    };
    let http = |g: &dyn Fn(&vigil_model::HttpTxn) -> Option<String>| f.meta.http.iter().filter_map(g).collect::<Vec<_>>();
    let v: Vec<Option<String>> = match (event, field) {
        ("tls" | "quic", "tls.sni" | "quic.sni") => vec![tls.and_then(|t| t.server_name.clone())],
        ("tls" | "quic", "tls.ja4" | "quic.ja4") => vec![tls.and_then(|t| t.ja4.clone())],
        ("tls", "tls.ja3.hash") => vec![tls.and_then(|t| t.ja3.clone())],
        ("tls", "tls.ja3s.hash") => vec![tls.and_then(|t| t.ja3s.clone())],
        ("tls", "tls.version") => vec![tls.and_then(|t| t.version.or(t.client_version)).map(tls_version_name)],
        ("tls", "tls.subject") => vec![cert.map(|c| suricata_dn(&c.subject))],
        ("tls", "tls.issuerdn") => vec![cert.map(|c| suricata_dn(&c.issuer))],
        ("tls", "tls.serial") => vec![cert.map(|c| c.serial.clone())],
        ("tls", "tls.notbefore") => vec![cert.and_then(|c| fmt_ts(c.not_before))],
        ("tls", "tls.notafter") => vec![cert.and_then(|c| fmt_ts(c.not_after))],
        ("tls", f) if f.starts_with("tls.subjectaltname[") => {
            let i: usize = f.trim_start_matches("tls.subjectaltname[").trim_end_matches(']').parse().unwrap_or(usize::MAX);
            vec![cert.and_then(|c| c.san_dns.get(i).cloned())]
        }
        ("dns", _) => f.meta.dns.iter().map(|d| d.query.clone()).collect(),
        ("http", "http.hostname") => http(&|h| h.host.clone()).into_iter().map(Some).collect(),
        ("http", "http.url") => http(&|h| h.uri.clone()).into_iter().map(Some).collect(),
        ("http", "http.http_method") => http(&|h| h.method.clone()).into_iter().map(Some).collect(),
        ("http", "http.status") => http(&|h| h.status_code.map(|s| s.to_string())).into_iter().map(Some).collect(),
        ("http", "http.http_user_agent") => http(&|h| h.user_agent.clone()).into_iter().map(Some).collect(),
        ("http", "http.http_content_type") => http(&|h| h.resp_content_type.clone()).into_iter().map(Some).collect(),
        ("http", "http.http_refer") => http(&|h| h.referrer.clone()).into_iter().map(Some).collect(),
        ("http", "http.length") => http(&|h| Some(h.response_body_len.to_string())).into_iter().map(Some).collect(),
        ("http", "http.protocol") => http(&|h| h.version.as_ref().map(|v| format!("HTTP/{v}"))).into_iter().map(Some).collect(),
        ("ssh", "ssh.client.software_version") => vec![software(ssh.and_then(|s| s.client.as_ref()))],
        ("ssh", "ssh.server.software_version") => vec![software(ssh.and_then(|s| s.server.as_ref()))],
        ("ssh", "ssh.client.proto_version") => vec![proto_version(ssh.and_then(|s| s.client.as_ref()))],
        ("ssh", "ssh.server.proto_version") => vec![proto_version(ssh.and_then(|s| s.server.as_ref()))],
        ("ssh", "ssh.client.hassh.hash") => vec![ssh.and_then(|s| s.hassh.clone())],
        ("ssh", "ssh.server.hassh.hash") => vec![ssh.and_then(|s| s.hassh_server.clone())],
        _ => vec![],
    };
    v.into_iter().flatten().collect()
}

/// Suricata prints serials with colons; certificate names are compared as Suricata renders.
fn same(field: &str, want: &str, got: &str) -> bool {
    if field == "tls.serial" {
        // Suricata keeps the DER sign byte ("00:C7:..."); Vigil prints the value as Zeek does.
        let norm = |s: &str| {
            let mut h = s.replace(':', "").to_ascii_uppercase();
            while h.len() > 2 && h.starts_with("00") {
                h.drain(..2);
            }
            h
        };
        return norm(want) == norm(got);
    }
    // Suricata drops the port from the host and the parameters from the content type.
    if field == "http.hostname" {
        let host = match got.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && (!h.contains(':') || h.ends_with(']')) => h,
            _ => got,
        };
        return want == host;
    }
    if field == "http.http_content_type" {
        return want == got.split(';').next().unwrap_or(got).trim();
    }
    want == got
}

#[test]
fn suricata_verify_expectations() {
    let Some(data) = common::shared_data() else { return };
    let root = data.join("pcaps/suricata-verify");
    let mut dirs: Vec<_> = std::fs::read_dir(&root).unwrap().flatten().map(|e| e.path()).collect();
    dirs.sort();
    let (mut total, mut ok) = (0, 0);
    let mut failures = Vec::new();
    let mut known_seen = Vec::new();
    for dir in dirs {
        let Ok(yaml) = std::fs::read_to_string(dir.join("test.yaml")) else { continue };
        let test = dir.file_name().unwrap().to_string_lossy().into_owned();
        let cs = checks(&test, &yaml);
        if cs.is_empty() {
            continue;
        }
        let mut pcaps: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
            .collect();
        pcaps.sort();
        let flows: Vec<Flow> = pcaps.iter().flat_map(|p| common::analyse(p)).collect();
        for c in cs {
            for (field, want) in &c.fields {
                total += 1;
                let found = flows.iter().any(|f| values(f, &c.event, field).iter().any(|g| same(field, want, g)));
                let known = KNOWN.iter().find(|(t, k, _)| (*t == c.test || *t == "*") && k == field);
                if found == (c.count > 0) {
                    ok += 1;
                } else if let Some((_, _, why)) = known {
                    // A JA4 disagreement must still agree on the parts the dispute is not about.
                    let ab = want.get(..23).unwrap_or(want);
                    let partial =
                        field != "tls.ja4" || flows.iter().any(|f| values(f, &c.event, field).iter().any(|g| g.get(..23) == Some(ab)));
                    if partial {
                        known_seen.push(format!("{}: {field} = {want}: {why}", c.test));
                    } else {
                        failures.push(format!("{}: {field} = {want}: even the a_b parts differ", c.test));
                    }
                } else {
                    failures.push(format!("{}: {} {field} = {want} (count {}) found={found}", c.test, c.event, c.count));
                }
            }
        }
    }
    println!("Suricata-verify fields: {ok}/{total} agree, {} known disagreements", known_seen.len());
    for k in &known_seen {
        println!("  known: {k}");
    }
    for f in &failures {
        println!("  disagree: {f}");
    }
    assert!(total >= 20, "expected at least 20 checkable fields, found {total}");
    assert_eq!(failures, Vec::<String>::new(), "{ok}/{total}");
}
